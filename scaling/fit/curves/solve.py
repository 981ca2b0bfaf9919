"""The numerics the fits share: bounded Levenberg-Marquardt for the forms fitted by least squares
on log L (MINPACK's lmder through scipy.optimize.leastsq, the least Python in between, on free
parameters mapped into their bounds by scaled sigmoids), and BLAS held to one thread."""
from __future__ import annotations

import numpy as np
from scipy.optimize import leastsq


def _sigmoid(v):
    return np.exp(-np.logaddexp(0.0, -v))


def fit_bounded(fun, p0, lower, upper, max_evals: int = 200, tol: float = 1e-10) -> tuple[np.ndarray, float]:
    """(p, cost) minimising cost = sum(r^2)/2 over lower <= p <= upper, from p0.

    fun(p) -> (residuals, Jacobian). Parameters with infinite bounds are left free; the others
    are p = lower + (upper - lower) sigmoid(t), so the search in t is unbounded, and a start on a
    bound is moved 1e-4 of the interval inside it.
    """
    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    bounded = np.isfinite(lower) & np.isfinite(upper)
    span = np.where(bounded, upper - lower, 1.0)
    last = {}

    def to_p(t):
        s = _sigmoid(t)
        return np.where(bounded, lower + span * s, t), np.where(bounded, span * s * (1.0 - s), 1.0)

    def both(t):
        key = t.tobytes()
        if key not in last:
            p, dp = to_p(t)
            r, J = fun(p)
            last.clear()
            last[key] = (r, J * dp)
        return last[key]

    q = np.clip((np.asarray(p0, float) - lower) / span, 1e-4, 1 - 1e-4)
    t0 = np.where(bounded, np.log(q / (1.0 - q)), np.asarray(p0, float))
    t, *_ = leastsq(lambda t: both(t)[0], t0, Dfun=lambda t: both(t)[1], full_output=True,
                    ftol=tol, xtol=tol, gtol=tol, maxfev=max_evals)
    p = to_p(t)[0]
    r = fun(p)[0]
    return p, float(0.5 * r @ r)
