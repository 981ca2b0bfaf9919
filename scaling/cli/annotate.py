"""`scaling runs exclude|include|note`: leave runs out of every fit (with a reason), count them again,
note a run or a sweep."""
from __future__ import annotations

import argparse
import sys

from scaling.core.text import printable
from scaling.services import annotations
from scaling.store import Store


class _Ids(argparse.Action):
    """Ids kept as a tuple: the command refuses list values (argparse's reading of `--flag=--`)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, tuple(values))


def add_parsers(runs_parser) -> None:
    """The subcommands of `scaling runs` (without one it lists the cache)."""
    sub = runs_parser.add_subparsers(dest="action", metavar="{exclude,include,note}")
    x = sub.add_parser("exclude", help="leave runs out of every fit (CLI, app, studies, compare), with a reason")
    x.add_argument("run_ids", nargs="+", metavar="RUN_ID", action=_Ids)
    x.add_argument("--reason", required=True, help="why, in a few words (shown wherever the run appears)")
    i = sub.add_parser("include", help="count excluded runs in fits again")
    i.add_argument("run_ids", nargs="+", metavar="RUN_ID", action=_Ids)
    n = sub.add_parser("note", help="a note on runs, or on a sweep with --sweep ('' removes it)")
    n.add_argument("ids", nargs="+", metavar="ID", action=_Ids, help="run ids (or one sweep id with --sweep)")
    n.add_argument("--text", required=True, help="the note")
    n.add_argument("--sweep", action="store_true", help="the id is a sweep's (see the Train page's list)")
    for p in (x, i, n):  # SUPPRESS: a --db given before the subcommand is not reset by these
        p.add_argument("--db", default=argparse.SUPPRESS, help="DuckDB file (default: $SCALING_DB or data/runs.duckdb)")


def annotate(args) -> int:
    store = Store(args.db)
    if args.action == "exclude":
        n = annotations.exclude(store, args.run_ids, args.reason)
        print(printable(f"excluded {n} run{'s' * (n != 1)} from every fit: {args.reason.strip()}"), file=sys.stderr)
    elif args.action == "include":
        n = annotations.include(store, args.run_ids)
        print(f"{n} run{'s' * (n != 1)} counted in fits again", file=sys.stderr)
    elif args.sweep:
        if len(args.ids) != 1:
            raise ValueError("--sweep takes one sweep id")
        annotations.note_sweep(store, args.ids[0], args.text)
        print(printable(f"sweep {args.ids[0]}: note {'saved' if args.text.strip() else 'removed'}"), file=sys.stderr)
    else:
        n = annotations.note_runs(store, args.ids, args.text)
        print(f"{n} run{'s' * (n != 1)}: note {'saved' if args.text.strip() else 'removed'}", file=sys.stderr)
    return 0
