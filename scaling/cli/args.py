"""The `scaling` command's arguments: a parser whose errors are one line naming the flag, and the
types that check a value as it is parsed, before any file is opened."""
from __future__ import annotations

import argparse
import math
import re

from scaling.core import grid
from scaling.core.text import printable

MAX_BOOTSTRAP = 10_000  # resamples: each refits every law; time and memory grow with them
MAX_OCTAVES = 64.0  # held out by --backtest: wider than any grid's compute range (2 ** 1e308 overflows)
MAX_SEED = 2**32 - 1  # numpy's seeds are unsigned; 32 bits is plenty for a bootstrap


class Parser(argparse.ArgumentParser):
    """argparse with its errors on one line, without the usage block: `scaling fit: error: argument
    --lr: 'abc' is neither 'tuned' nor a positive multiplier (see scaling fit --help)`."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {printable(message)} (see {self.prog} --help)\n")


def add_db(p) -> None:
    p.add_argument("--db", help="DuckDB file (default: $SCALING_DB or data/runs.duckdb in the project)")


def add_ray(p) -> None:
    p.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="train on Ray: the cluster at ADDRESS, else at $SCALING_RAY_ADDRESS, else a local "
                        "instance with every CPU and GPU of this host; this process still writes the database")
    p.add_argument("--ray-task-cpus", type=int, default=None,
                   help="CPUs (and torch threads) per stack on a CPU cluster (default: a node's CPUs)")


def negative_values(argv: list[str]) -> list[str]:
    """`--widths -4:1` as `--widths=-4:1`: argparse takes a value that starts with '-' (and is not a
    plain number) for an option, and no option of this command looks like a number."""
    out = []
    for a in argv:
        if out and out[-1].startswith("--") and "=" not in out[-1] and re.match(r"-\d", a):
            out[-1] = f"{out[-1]}={a}"
        else:
            out.append(a)
    return out


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def count(text: str) -> int:
    """An integer >= 0 (--drop-highest)."""
    n = _int(text)
    if n < 0:
        raise argparse.ArgumentTypeError(f"{n} is not an integer >= 0")
    return n


def bootstrap(text: str) -> int:
    """Resamples: 0 (no intervals) to MAX_BOOTSTRAP."""
    n = _int(text)
    if not 0 <= n <= MAX_BOOTSTRAP:
        raise argparse.ArgumentTypeError(f"{n} resamples: at most {MAX_BOOTSTRAP} (0: no intervals)")
    return n


def seed(text: str) -> int:
    n = _int(text)
    if not 0 <= n <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{n} is not an integer in 0..{MAX_SEED}")
    return n


def octaves(text: str) -> float:
    """The octaves of compute --backtest holds out: a finite number in (0, MAX_OCTAVES]."""
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of octaves in (0, {MAX_OCTAVES:g}]") from None
    if not (math.isfinite(x) and 0 < x <= MAX_OCTAVES):
        raise argparse.ArgumentTypeError(f"{x:g} is not a number of octaves in (0, {MAX_OCTAVES:g}]")
    return x


def lr(text: str) -> str | float:
    """'tuned', or one learning-rate multiplier (a finite positive number)."""
    if text == "tuned":
        return text
    try:
        x = float(text)
    except ValueError:
        x = math.nan
    if not (math.isfinite(x) and x > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is neither 'tuned' nor a positive multiplier")
    return x


def digits(text: str) -> str:
    """A set of digits as a config holds them (grid.digits)."""
    try:
        return grid.digits("", text)
    except grid.GridError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix(": ")) from None
