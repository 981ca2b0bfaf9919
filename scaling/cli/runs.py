"""`scaling runs`, `export` and `import`: the cache as a table, and runs in and out of it."""
from __future__ import annotations

import io
import sys

from scaling import services
from scaling.cli.files import check_not_the_database, read_store, write_file
from scaling.core.text import printable
from scaling.store import EXCLUDED, RUN_COLUMNS, Store

EXPORT_COLUMNS = [c for c in RUN_COLUMNS if c != "created_at"] + ["excluded", "note"]

def _table(args, all_status=True):
    df = read_store(args.db).runs(status=None)[EXPORT_COLUMNS]
    return df if all_status else df[df["status"].isin(["ok", EXCLUDED])]  # an excluded run is listed, with why

def runs(args) -> int:
    if getattr(args, "action", None):  # scaling runs exclude|include|note
        from scaling.cli.annotate import annotate

        return annotate(args)
    df = _table(args, all_status=args.all or args.json)
    if args.json:
        print(df.to_json(orient="records", double_precision=15))
        return 0
    stale = services.n_stale(df)
    if not args.all:
        df = services.current(df)
    if df.empty and not stale:
        print("no cached runs: start with `scaling sweep --dry-run`")
        return 0
    cols = ["width_step", "width", "dropout", "data_fraction", "seed", "lr_mult", "params", "examples", "flops",
            "val_loss", "val_acc", "precision", "status"] + (["protocol"] if args.all else [])
    if len(df):
        table = df[cols].to_string(index=False, float_format=lambda x: f"{x:.4g}")
        print("\n".join(map(printable, table.splitlines())))
    imported = df["imported_from"].dropna().value_counts()
    for source, n in imported.items():  # a file's label: its escape codes are shown, never obeyed
        print(f"{n} of them imported, not trained here: {printable(source)}")
    for line in services.annotations.describe_excluded(df):  # the researcher's words, shown, never obeyed
        print(printable(line))
    if stale:
        from scaling.core.config import PROTOCOL

        print(f"{stale} stale run{'s' * (stale != 1)} of an older protocol (not {PROTOCOL}): kept, never fitted"
              + ("" if args.all else "; `scaling runs --all` lists them")
              + "; a sweep of the same grid trains them again under the current one")
    return 0

def export(args) -> int:
    store = read_store(args.db)
    check_not_the_database(args.output, store.path)
    if args.format == "csv":
        df = store.runs(status=None)[EXPORT_COLUMNS]
        buf = io.StringIO()
        df.to_csv(buf, index=False)
        data = buf.getvalue().encode()
        what = f"{len(df)} runs"
    else:
        out = services.export_bytes(store, label=args.label, command=args.command)
        data, meta = out.data, out.meta
        what = f"{out.runs} runs with {out.curve_points} curve points (written on {meta['processor']}, {meta['cpu']})"
    write_file(args.output, data)  # all or nothing: a failed write leaves the old file as it was
    print(printable(f"wrote {what} to {args.output}"), file=sys.stderr)
    return 0

def import_(args) -> int:
    """Checks the whole file first (a file that is not a valid export is refused, nothing written),
    then writes its new runs in one transaction; duplicates and conflicts keep the cached run."""
    from scaling.store import exchange

    exp = exchange.read(args.file)
    store = Store(args.db)
    res = store.import_runs(exp.runs, exp.curves, source=exp.source(args.file), notes=exp.notes)
    print(printable(f"imported {res.added} runs with {res.curve_points} curve points from {args.file} "
                    f"({exp.processor}; {exp.meta.get('git_commit') or 'commit unknown'}) into {store.path}; "
                    f"{res.duplicates} already cached (duplicates, skipped)"
                    + (f"; {res.dequeued} no longer queued" if res.dequeued else "")))  # the file's words, not obeyed
    if res.conflicts:
        n = len(res.conflicts)
        print(f"{n} conflict{'s' * (n != 1)}: cached here with other results; the cached run{'s' * (n != 1)} "
              "kept, the file's skipped:", file=sys.stderr)
        for c in res.conflicts[:5]:
            print(printable(f"  run {c.run_id}: {c.field} {c.cached!r} here, {c.imported!r} in the file"), file=sys.stderr)
        if n > 5:
            print(f"  ... and {n - 5} more", file=sys.stderr)
    return 1 if res.conflicts else 0
