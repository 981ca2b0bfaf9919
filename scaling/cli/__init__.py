"""The `scaling` command: sweep, runs, export, import, fit, plan, worker, doctor.

    parser.py  every subcommand, its flags and their types
    args.py    the flags' types, checked as they are parsed, and argparse's errors in one line
    sweep.py   sweep and worker: queue a grid, train it here or on a Ray cluster
    runs.py    runs, export and import
    fit.py     fit: exponents with intervals, backtests, a study's answer, a CSV's fit
    notebook.py  notebook: a fit as a Jupyter notebook that reproduces it with the Python API
    annotate.py  runs exclude|include|note: runs left out of every fit, notes on runs and sweeps
    curve.py   curve: any learning curve from a CSV, fitted and extrapolated
    plan.py    plan: the runs that narrow an answer most for a budget, queued with their predictions
    doctor.py  what this machine trains on and why
    files.py   opening the store for reading, writing an export beside its target, OS errors in a line
"""
from __future__ import annotations

import sys

from scaling.cli import args as types
from scaling.cli.curve import curve
from scaling.cli.doctor import doctor
from scaling.cli.files import os_error
from scaling.cli.fit import fit
from scaling.cli.notebook import notebook
from scaling.cli.parser import parser
from scaling.cli.plan import plan
from scaling.cli.runs import export, import_, runs
from scaling.cli.sweep import sweep, worker
from scaling.core import grid
from scaling.core.text import printable
from scaling.store import StoreError


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser().parse_args(types.negative_values(argv))
    except SystemExit as e:  # a usage error (one line, see args.Parser) or --help: its exit code
        return e.code
    for name, value in vars(args).items():  # argparse reads `--flag=--` as an empty list
        if isinstance(value, list):
            print(f"scaling {args.cmd}: error: --{name.replace('_', '-')}: {value!r} is not a value", file=sys.stderr)
            return 2
    args.command = " ".join(["scaling", *argv])  # recorded by an export, as it was typed
    from scaling.datasets import DataError

    try:
        return {"sweep": sweep, "runs": runs, "export": export, "import": import_, "fit": fit, "worker": worker,
                "doctor": doctor, "curve": curve, "notebook": notebook,
                "plan": plan}[args.cmd](args)
    except (grid.GridError, StoreError, DataError, ValueError) as e:
        print(f"scaling {args.cmd}: error: {printable(e)}", file=sys.stderr)
        return 2
    except OSError as e:  # a full disk, a file name too long: the file and the OS's words
        print(f"scaling {args.cmd}: error: {printable(os_error(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nscaling {args.cmd}: interrupted; finished runs are saved, rerun to resume", file=sys.stderr)
        return 130
