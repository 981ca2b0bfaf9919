"""What every law fitter shares: input checks, the Huber loss, L-BFGS settings, one BLAS thread,
and the refusal of an optimum at infinity."""
from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

# Tight tolerances: with delta = 1e-3 the Huber loss is nearly L1 and its gradients are small,
# so scipy's defaults stop early (the trap behind Hoffmann et al.'s published fit).
LBFGS = dict(method="L-BFGS-B", jac=True, options=dict(maxiter=2000, ftol=1e-13, gtol=1e-10))


def one_blas_thread():
    """A context manager and decorator that limits BLAS to one thread inside: L-BFGS-B calls BLAS
    on 5-vectors, where waking a multi-threaded BLAS's pool costs far more than the arithmetic."""
    return threadpool_limits.wrap(limits=1, user_api="blas")


def huber(r: np.ndarray, delta: float) -> np.ndarray:
    """The Huber loss of residuals r: quadratic within delta, linear beyond."""
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


def positive_array(name: str, x) -> np.ndarray:
    """1-D float array of finite positive values, or a ValueError naming the input."""
    try:
        a = np.asarray(x, dtype=float).ravel()
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric") from None
    if np.isnan(a).any():
        raise ValueError(f"{name} contains NaN ({int(np.isnan(a).sum())} of {a.size} values)")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains infinite values")
    if (a <= 0).any():
        raise ValueError(f"{name} must be positive: {int((a <= 0).sum())} of {a.size} values are <= 0")
    return a


def check_points(min_points: int, what: str, **arrays) -> int:
    """The common length of `arrays`, or a ValueError when they differ or hold fewer than min_points."""
    sizes = {k: v.size for k, v in arrays.items()}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"inputs differ in length: {sizes}")
    n = next(iter(sizes.values()))
    if n < min_points:
        raise ValueError(f"{what} needs at least {min_points} points, got {n}")
    return n


def check_distinct(name: str, x: np.ndarray, k: int, what: str) -> None:
    """A ValueError when x holds fewer than k distinct values: the form cannot be identified."""
    m = np.unique(x).size
    if m < k:
        raise ValueError(f"{what} needs at least {k} distinct values of {name}, got {m}")


def finite_fit(fit, what: str, *names: str):
    """The fit, or a ValueError when its optimum lies at infinity: a coefficient that overflows
    (or underflows to 0) or a prediction that does, on points spanning more orders of magnitude
    than the model can bend to (the loss jumping by 1e200 between neighbouring x, say)."""
    bad = [k for k in names if not (np.isfinite(getattr(fit, k)) and getattr(fit, k) > 0)]
    if bad or not np.isfinite(fit.residuals).all():
        raise ValueError(f"{what}: no finite fit to these points ({', '.join(bad) or 'predictions'} "
                         "overflow); the values span too many orders of magnitude for this form")
    return fit
