"""Sweep grids: parse the range syntax of the CLI and the app, and expand it into run configs.

Widths and seeds: `a:b` is a..b-1, or a comma list (`0,2,5`); width steps run from -4 (width 1) up.
Fractions: `1/128:1` is every power of two from 1/128 to 1; or a list (`1,1/2,0.25`).
Floats (dropout, lr multipliers, label noise): a comma list (`0,0.2`). Digits: `56789` or `5,6,7,8,9`.
"""
from __future__ import annotations

import math
from fractions import Fraction
from itertools import product

from scaling.core import arch, settings
from scaling.core.config import DIGITS, RunConfig, ascii_digits
from scaling.core.fmt import frac_label

MAX_RUNS = 2000  # per request; a bigger grid is refused, not truncated. $SCALING_MAX_RUNS overrides it


class GridError(ValueError):
    """Bad grid input; the message starts with the flag it concerns."""


def run_limit() -> int:
    """The most runs one request may ask for: $SCALING_MAX_RUNS on this host, else MAX_RUNS."""
    return settings.positive(settings.MAX_RUNS, MAX_RUNS, "runs per request", GridError)


def _number(flag: str, text: str) -> float:
    try:
        return float(Fraction(text.strip())) if "/" in text else float(text)
    except (ValueError, ZeroDivisionError):
        raise GridError(f"{flag}: {text.strip()!r} is not a number") from None


def int_steps(flag: str, text: str, lo: int = 0, hi: int | None = None, max_len: int | None = None) -> list[int]:
    """`max_len` (default run_limit()) bounds a range before it is built: no grid could hold more."""
    text = text.strip()
    try:
        bounds = [int(t) for t in text.split(":")] if ":" in text else None
        values = None if bounds else [int(v) for v in text.split(",")]
    except ValueError:
        raise GridError(f"{flag}: {text!r} is not an integer range a:b or a list of integers") from None
    if bounds:
        if len(bounds) != 2:
            raise GridError(f"{flag}: {text!r} is not an integer range a:b")
        a, b = bounds
        limit = run_limit() if max_len is None else max_len
        if b - a > limit:  # checked before building the list: 0:2000000000 must not eat the memory
            raise GridError(f"{flag}: {text!r} has {b - a} values, more than a grid may hold ({limit})")
        values = list(range(a, b))
    if not values:
        raise GridError(f"{flag}: {text!r} is an empty range (a:b means a..b-1)")
    for v in values:
        if v < lo or (hi is not None and v > hi):
            raise GridError(f"{flag}: {v} is outside {lo}..{hi if hi is not None else 'inf'}")
    return sorted(set(values))


def width_steps(flag: str, text: str, max_len: int | None = None) -> list[int]:
    """Width steps MIN_WIDTH_STEP..MAX_WIDTH_STEP; a step that rounds to the width of a smaller one
    (-3: width 1, as -4) is left out of a range and refused in a list."""
    steps = int_steps(flag, text, arch.MIN_WIDTH_STEP, arch.MAX_WIDTH_STEP, max_len=max_len)
    twins = [k for k in steps if arch.same_width_as(k) is not None]
    if twins and ":" not in text:
        k = twins[0]
        raise GridError(f"{flag}: step {k} rounds to width {arch.width(k)}, as step {arch.same_width_as(k)} does: "
                        f"use {arch.same_width_as(k)}")
    steps = [k for k in steps if k not in twins]
    if not steps:
        raise GridError(f"{flag}: {text.strip()!r} holds no width of its own (step -3 is width 1, as -4)")
    return steps


def fractions(flag: str, text: str) -> list[float]:
    text = text.strip()
    if ":" in text:
        a, b = (_number(flag, t) for t in text.split(":", 1))
        _check_fraction(flag, a), _check_fraction(flag, b)
        if a > b:
            raise GridError(f"{flag}: {text!r} is an empty range (the smaller fraction comes first)")
        lo, hi = math.log2(a), math.log2(b)
        if lo != round(lo) or hi != round(hi):
            raise GridError(f"{flag}: range ends must be powers of two like 1/128:1, got {text!r}; use a list for others")
        values = [2.0**k for k in range(round(lo), round(hi) + 1)]
    else:
        values = [_number(flag, t) for t in text.split(",") if t.strip()]
        if not values:
            raise GridError(f"{flag}: empty list")
        for v in values:
            _check_fraction(flag, v)
    return sorted(set(values))


def _check_fraction(flag: str, v: float) -> None:
    if not (0 < v <= 1) or math.isnan(v):
        raise GridError(f"{flag}: fraction {frac_label(v)} must be in (0, 1]")
    if int(v * 60_000) < 1:
        raise GridError(f"{flag}: fraction {frac_label(v)} selects no training example (minimum 1/60000)")


def digits(flag: str, text: str) -> str:
    """A set of digits as a config holds them ("5,6,7" or "567" -> "567"; "" or "all" -> all ten);
    decimal digits of another script are read as their ASCII twins (one configuration, one identity)."""
    raw = ascii_digits(text.replace(",", "").replace(" ", "").strip())
    if raw in ("", "all"):
        return ""
    if not set(raw) <= set(DIGITS) or len(set(raw)) != len(raw):  # str.isdigit() takes a superscript two
        raise GridError(f"{flag}: {text.strip()!r} is not a set of distinct digits like 56789 (or 'all')")
    if len(raw) == 10:
        return ""
    return "".join(sorted(raw))


def strings(flag: str, text: str, allowed: tuple[str, ...]) -> list[str]:
    values = [t.strip() for t in text.split(",") if t.strip()]
    if not values:
        raise GridError(f"{flag}: empty list")
    for v in values:
        if v not in allowed:
            raise GridError(f"{flag}: {v!r} is not one of {', '.join(allowed)}")
    return list(dict.fromkeys(values))


def floats(flag: str, text: str, lo: float, hi: float, hi_open: bool = False) -> list[float]:
    values = [_number(flag, t) for t in text.split(",") if t.strip()]
    if not values:
        raise GridError(f"{flag}: empty list")
    for v in values:
        if not math.isfinite(v) or v < lo or v > hi or (hi_open and v == hi):
            raise GridError(f"{flag}: {v:g} is outside [{lo:g}, {hi:g}{')' if hi_open else ']'}")
    return sorted(set(values))


def expand(widths, fractions_, seeds, dropouts, lr_mults=(1.0,), max_runs: int | None = None, label_noises=(0.0,),
           archs=("cnn",), lr_schedules=("constant",), **fixed) -> list[RunConfig]:
    """Every combination, as configs. Refuses (never truncates) a grid over `max_runs` (default run_limit())."""
    max_runs = run_limit() if max_runs is None else max_runs
    n = (len(widths) * len(fractions_) * len(seeds) * len(dropouts) * len(lr_mults) * len(label_noises) * len(archs)
         * len(lr_schedules))
    if n > max_runs:
        raise GridError(f"the grid has {n} runs, over the limit of {max_runs} per request: narrow a range")
    try:
        return [
            RunConfig(width_step=w, data_fraction=f, seed=s, dropout=d, lr_mult=lr, label_noise=q, arch=a,
                      lr_schedule=sc, **fixed)
            for sc, a, w, f, s, d, lr, q in product(lr_schedules, archs, widths, fractions_, seeds, dropouts, lr_mults,
                                                    label_noises)
        ]
    except ValueError as e:
        raise GridError(str(e)) from None
