"""The selections one widget step from a selection: what a page can fit ahead, while its user reads it,
so that the next slider step is drawn without waiting for a fit."""
from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from scaling.services.answers import backtest as run_backtest
from scaling.services.answers import hold_out, point_estimates
from scaling.services.selection import Options, Selection


def neighbours(sel: Selection, opts: Options) -> list[Selection]:
    """The selections a single step of one widget makes from `sel`: either end of the width and the
    fraction ranges one cached value in or out (never past the other end), and the other cached
    dropouts. Nearest first: a range's steps before a change of dropout."""
    out = []
    for field, values in (("widths", opts.width_steps), ("fractions", opts.fractions)):
        lo, hi = getattr(sel, field)
        i, j = _at(values, lo), _at(values, hi)
        if i is None or j is None:
            continue
        for a, b in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1)):
            if 0 <= a <= b < len(values) and (a, b) != (i, j):
                out.append(replace(sel, **{field: (values[a], values[b])}))
    out += [replace(sel, dropout=d) for d in opts.dropouts if d != sel.dropout]
    return out


def _at(values, v):
    """Where `v` is among the cached values (a range end outside them, as the default's, is not a step)."""
    for k, x in enumerate(values):
        if x == v:
            return k
    return None


@dataclass(frozen=True)
class FirstDraw:
    """What a page computes for a selection before its charts, computed ahead.

    Attributes
    ----------
    points : fit.Analysis
        The point estimates (services.point_estimates).
    hold : fit.HoldOut or None
        The backtest's default cut-off (services.hold_out); None unless asked for.
    backtest : fit.Backtest, ValueError or None
        The backtest at that cut-off without bands, or why it cannot be done; None unless asked for.
    """
    points: object
    hold: object = None
    backtest: object = None


def first_draw(runs: pd.DataFrame, curves, sel: Selection, backtest: bool = False) -> FirstDraw:
    """The point estimates of `sel` and, with `backtest` (Fit lab), its default backtest without bands."""
    points = point_estimates(runs, curves, sel)
    if not backtest:
        return FirstDraw(points)
    hold = hold_out(runs, sel)
    try:
        bt = run_backtest(runs, sel, hold.octaves)
    except ValueError as e:
        bt = e
    return FirstDraw(points, hold, bt)
