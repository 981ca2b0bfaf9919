"""How the studies' sentences compare intervals: whether two overlap, in words, and a table row as an
Interval (the numbers themselves are written by scaling.core.fmt)."""
from __future__ import annotations

import math

import pandas as pd

from scaling.fit.intervals import Interval


def _overlap(a: Interval | None, b: Interval | None) -> bool | None:
    if a is None or b is None or not (math.isfinite(a.lo) and math.isfinite(b.lo)):
        return None
    return bool(a.lo <= b.hi and b.lo <= a.hi)


def _overlap_words(o: bool | None) -> str:
    return {True: "the intervals overlap", False: "the intervals do not overlap", None: "no intervals yet"}[o]


def _as_iv(r) -> Interval | None:
    """A table row's lo and hi (a row, a record or a named tuple) as an Interval, None where there is none."""
    lo, hi = (r["lo"], r["hi"]) if isinstance(r, (dict, pd.Series)) else (r.lo, r.hi)
    return Interval(lo, hi, 1) if math.isfinite(lo) else None


def _includes(iv: Interval | None, null: float) -> bool | None:
    """Whether an effect's interval includes no effect (`null`: 0 for a difference, 1 for a ratio); None
    without an interval."""
    if iv is None or not (math.isfinite(iv.lo) and math.isfinite(iv.hi)):
        return None
    return bool(iv.lo <= null <= iv.hi)
