"""Fits every curve of a table: one curve per group of rows, fitted on its training rows and
predicted on all of them (what a `scaling curve` command calls), and the table's JSON."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from scaling.fit.curves.results import CurveResult
from scaling.fit.curves.select import fit_curve
from scaling.fit.serialize import jsonable


def fit_table(df: pd.DataFrame, x_col: str, loss_col: str, group_cols=(), train_col: str | None = None,
              form: str = "auto", **options) -> list[CurveResult]:
    """One CurveResult per group of rows (group_cols; none: the whole table is one curve).

    train_col: rows where it is 1 (true) are fitted and the others held out, their log-RMSE in
    rmse_log_heldout; without it every row is fitted. form: "auto" (the backtest's choice) or
    a form's name; options go to fit_curve (holdout, combine, forms, upper).
    Raises ValueError (one line, naming the group) for a missing column or a curve that cannot
    be fitted: fewer than 3 training points, NaN, x or loss <= 0.
    """
    group_cols = [group_cols] if isinstance(group_cols, str) else list(group_cols or [])
    missing = [c for c in [x_col, loss_col, *group_cols, *([train_col] if train_col else [])] if c not in df.columns]
    if missing:
        raise ValueError(f"no column {missing[0]!r} in the table (columns: {', '.join(map(str, df.columns))})")
    groups = df.groupby(group_cols, sort=True, dropna=False) if group_cols else [((), df)]
    results = []
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        group = dict(zip(group_cols, key))
        label = ", ".join(f"{k}={v}" for k, v in group.items()) or "the table"
        if train_col:
            try:
                train = g[train_col].astype(float).to_numpy() != 0
            except (TypeError, ValueError):
                raise ValueError(f"{label}: column {train_col!r} must be 1 (fit) or 0 (held out)") from None
        else:
            train = np.ones(len(g), dtype=bool)
        try:
            x_all = g[x_col].to_numpy(dtype=float)
            l_all = g[loss_col].to_numpy(dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"{label}: columns {x_col!r} and {loss_col!r} must be numeric") from None
        try:
            res = fit_curve(x_all[train], l_all[train], form=form, **options)
            pred = res.predict(x_all)
        except ValueError as e:
            raise ValueError(f"{label}: {e}") from None
        rows = tuple(dict(x=float(xi), loss=float(li), predicted=float(pi), fitted=bool(ti))
                     for xi, li, pi, ti in zip(x_all, l_all, pred, train))
        held = ~train
        rmse = (float(np.sqrt(np.mean((np.log(pred[held]) - np.log(l_all[held])) ** 2))) if held.any()
                and (l_all[held] > 0).all() else math.nan)
        results.append(dataclasses.replace(res, group=group, predictions=rows, rmse_log_heldout=rmse))
    return results


def table_json(results: list[CurveResult]) -> dict:
    """{"curves": [{group, form, params, predictions: [{x, loss, predicted, fitted}], rmse_log,
    rmse_log_fit, reason, backtest}]}; rmse_log is on the held-out rows when there were any,
    else in-sample."""
    curves = []
    for r in results:
        held = math.isfinite(r.rmse_log_heldout)
        curves.append(dict(group=r.group, form=r.form, params=r.params, weights=r.weights,
                           predictions=list(r.predictions),
                           rmse_log=r.rmse_log_heldout if held else r.rmse_log,
                           rmse_log_on="held-out rows" if held else "fitted rows",
                           rmse_log_fit=r.rmse_log, reason=r.reason, backtest=r.backtest_table()))
    return jsonable(dict(curves=curves))
