"""`scaling notebook -o fit.ipynb [scaling fit's selection flags]`: the fit `scaling fit` makes, as a
notebook that reproduces it with the package's Python API, its runs in an export beside it."""
from __future__ import annotations

import sys
from pathlib import Path

from scaling.cli.files import check_not_the_database, read_store, write_file
from scaling.core.text import printable

# the flags of `scaling fit` that choose the runs and the fit; shared with it, so the two cannot drift
SELECTION = ("dataset", "dropout", "lr_rule", "epochs", "batch_size", "precision", "arch", "label_noise", "classes",
             "pretrain_classes", "pretrain_fraction", "pretrain_epochs", "lr_schedule", "lr", "compute", "irreducible", "pure", "bootstrap",
             "seed", "db")


def add_parser(sub, like) -> None:
    """The `notebook` subcommand, with `like`'s (the fit parser's) selection flags: the same actions,
    as argparse's own `parents` shares them."""
    n = sub.add_parser("notebook", help="write a Jupyter notebook that reproduces `scaling fit`'s fit and the pages' "
                       "charts with the Python API (the runs in an export beside it)")
    n.add_argument("-o", "--output", required=True, help="the notebook, e.g. fit.ipynb")
    n.add_argument("--embed", action="store_true", help="embed the runs in the notebook (one file) instead of "
                   "writing them to an export beside it (OUTPUT with .parquet)")
    for action in like._actions:
        if action.dest in SELECTION:
            n._add_action(action)


def notebook(args) -> int:
    from scaling import services
    from scaling.cli.fit import family_runs
    from scaling.services import notebook as nb

    out = Path(args.output)
    if out.suffix != ".ipynb":
        raise ValueError(f"-o {args.output}: a notebook's name ends in .ipynb")
    store = read_store(args.db, f"no cached {args.dataset} runs: ")
    check_not_the_database(str(out), store.path)
    runs, family = family_runs(args, store.runs(status=None), store.path)
    spec = nb.NotebookSpec(choices={"dataset": args.dataset, **family},
                           lr="tuned" if args.lr == "tuned" else float(args.lr), irreducible=True if args.irreducible else False if args.pure else None,
                           n_boot=args.bootstrap, seed=args.seed, compute=args.compute, origin=f"`{args.command}`")
    exported = services.export_bytes(store, runs["run_id"], label=f"the runs of {out.name}", command=args.command)
    if args.embed:
        write_file(str(out), nb.to_bytes(nb.build(spec, data=exported.data)))
        where = "embedded"
    else:
        data = out.with_suffix(".parquet")
        check_not_the_database(str(data), store.path)
        write_file(str(data), exported.data)  # the data first: a notebook never points at a missing file
        write_file(str(out), nb.to_bytes(nb.build(spec, data_file=data.name)))
        where = f"in {data}"
    print(printable(f"wrote {out}: {exported.runs} runs of {services.describe_family({'dataset': args.dataset, **family})} "
                    f"({where}); open it in Jupyter, or run it top to bottom in place with "
                    f"`jupyter-execute --inplace {out.name}` (nbclient; the dev extra)"), file=sys.stderr)
    return 0
