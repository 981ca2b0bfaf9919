"""Checks one learning curve's points: a ValueError with one line naming the problem, or the
points as float arrays sorted by x."""
from __future__ import annotations

import numpy as np

MIN_POINTS = 3  # two parameters (the pure power law) and one point to tell them apart


def _array(name: str, values) -> np.ndarray:
    try:
        a = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric") from None
    n_nan = int(np.isnan(a).sum())
    if n_nan:
        raise ValueError(f"{name} contains NaN ({n_nan} of {a.size} values)")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains infinite values ({int((~np.isfinite(a)).sum())} of {a.size})")
    n_bad = int((a <= 0).sum())
    if n_bad:
        raise ValueError(f"{name} must be positive: {n_bad} of {a.size} values are <= 0 "
                         f"(smallest {a.min():.4g})")
    return a


def check_curve(x, loss, min_points: int = MIN_POINTS, what: str = "a learning curve"
                ) -> tuple[np.ndarray, np.ndarray]:
    """(x, loss) as float arrays sorted by x, or a one-line ValueError.

    Both must be finite and positive (every form is fitted in log space), of equal length,
    with at least min_points points at two or more distinct x.
    """
    x, loss = _array("x", x), _array("loss", loss)
    if x.size != loss.size:
        raise ValueError(f"x and loss differ in length ({x.size} and {loss.size})")
    if x.size < min_points:
        raise ValueError(f"{what} needs at least {min_points} points, got {x.size}")
    if np.unique(x).size < 2:
        raise ValueError(f"{what} needs at least 2 distinct x values, got {np.unique(x).size}")
    order = np.argsort(x, kind="stable")
    return x[order], loss[order]


def check_x(x) -> np.ndarray:
    """x values to predict at: finite and positive (a 1-D float array)."""
    return _array("x", x)
