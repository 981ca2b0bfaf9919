"""Numbers and intervals as the studies' sentences print them: '0.66 [0.60, 0.69]', '1,300', '20%'."""
from __future__ import annotations

import math

import pandas as pd

from scaling.fit._util import Interval


def _iv_text(v: float, iv: Interval | None, digits: int = 2) -> str:
    """'0.66 [0.60, 0.69]' (or the value alone where no interval could be made); a digit more where
    the interval is too narrow for two to tell its ends apart."""
    if iv is None or not math.isfinite(iv.lo):
        return f"{v:.{digits}f}"
    if iv.hi - iv.lo < 2 * 10.0 ** -digits:
        digits += 1
    f = f"{{:.{digits}f}}"
    return f"{f.format(v)} [{f.format(iv.lo)}, {f.format(iv.hi)}]"


def _num(x: float) -> str:
    """Counts and ratios as people read them: 3.2, 42, 1,300, 2.1e+06."""
    if not math.isfinite(x):
        return "?"
    a = abs(x)
    return f"{x:.2f}" if a < 10 else f"{x:,.0f}" if a < 1e6 else f"{x:.2g}"


def _iv_num(v: float, iv: Interval | None) -> str:
    if iv is None or not math.isfinite(iv.lo):
        return _num(v)
    return f"{_num(v)} [{_num(iv.lo)}, {_num(iv.hi)}]"


def _overlap(a: Interval | None, b: Interval | None) -> bool | None:
    if a is None or b is None or not (math.isfinite(a.lo) and math.isfinite(b.lo)):
        return None
    return bool(a.lo <= b.hi and b.lo <= a.hi)


def _overlap_words(o: bool | None) -> str:
    return {True: "the intervals overlap", False: "the intervals do not overlap", None: "no intervals yet"}[o]


def _pct(x: float) -> str:
    return f"{x:.0%}" if abs(x * 100 - round(x * 100)) < 1e-9 else f"{x:.1%}"


def _as_iv(r) -> Interval | None:
    """A table row's lo and hi (a row, a record or a named tuple) as an Interval, None where there is none."""
    lo, hi = (r["lo"], r["hi"]) if isinstance(r, (dict, pd.Series)) else (r.lo, r.hi)
    return Interval(lo, hi, 1) if math.isfinite(lo) else None
