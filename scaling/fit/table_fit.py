"""The parametric L(N, D) fit on any table, rows resampled for intervals (the CLI's --csv)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from scaling.fit.intervals import bootstrap_interval
from scaling.fit.optim import one_blas_thread
from scaling.fit.parametric import ParametricFit, fit_parametric


def _column(df: pd.DataFrame, col: str) -> np.ndarray:
    if col not in df.columns:
        raise ValueError(f"column '{col}' not in table (columns: {', '.join(map(str, df.columns))})")
    v = pd.to_numeric(df[col], errors="coerce")
    if v.isna().any():
        bad = int(v.isna().sum())
        raise ValueError(f"column '{col}' has {bad} missing or non-numeric values")
    v = v.to_numpy(dtype=float)
    if (v <= 0).any() or not np.isfinite(v).all():
        raise ValueError(f"column '{col}' has {int((~(v > 0) | ~np.isfinite(v)).sum())} "
                         f"non-positive or infinite values")
    return v


@one_blas_thread()
def fit_table(df: pd.DataFrame, n_col: str, loss_col: str, d_col: str | None = None,
              c_col: str | None = None, drop_highest: int = 0, n_boot: int = 0, seed: int = 0,
              delta: float = 1e-3, level: float = 0.95) -> ParametricFit:
    """Parametric L(N, D) on any table; with c_col, D = C/(6N) (the language-model convention).

    drop_highest: drop the K highest-loss rows first (Epoch AI drop 5 on Chinchilla's Figure 4).
    n_boot > 0 resamples rows and attaches 95% intervals for E, A, B, alpha, beta and a.
    """
    for name, col in [("n_col", n_col), ("loss_col", loss_col)]:
        if not col:
            raise ValueError(f"{name} is required: the column holding "
                             f"{'model size N' if name == 'n_col' else 'the loss'}")
    if (d_col is None) == (c_col is None):
        raise ValueError("give exactly one of d_col (examples/tokens) or c_col (compute)")
    N, L = _column(df, n_col), _column(df, loss_col)
    D = _column(df, d_col) if d_col else _column(df, c_col) / (6 * N)
    if drop_highest < 0 or drop_highest >= len(L):
        raise ValueError(f"drop_highest must be in [0, {len(L) - 1}], got {drop_highest}")
    if drop_highest:
        keep = np.sort(np.argsort(L, kind="stable")[: len(L) - drop_highest])
        N, D, L = N[keep], D[keep], L[keep]
    fit = fit_parametric(N, D, L, delta)
    if n_boot <= 0:
        return fit
    rng = np.random.default_rng(seed)
    names = ("E", "A", "B", "alpha", "beta", "a")
    samples = {k: np.full(n_boot, np.nan) for k in names}
    for i in range(n_boot):
        idx = rng.integers(0, L.size, L.size)
        try:
            b = fit_parametric(N[idx], D[idx], L[idx], delta, init=fit, n_starts=0)
        except ValueError:
            continue
        for k in names:
            samples[k][i] = getattr(b, k)
    iv = {k: bootstrap_interval(s, getattr(fit, k), level, "percentile", "rows") for k, s in samples.items()}
    return dataclasses.replace(fit, intervals=iv)
