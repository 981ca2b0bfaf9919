"""Fits the two power laws: L = A x^-alpha (closed form) and L = E + A x^-alpha (bounded least
squares on log L from a grid of starts), both with positive parameters kept as logs.

x is centred in log space while fitting (x / x_0, x_0 the geometric mean of the fitted x): the
same model, but log A and alpha are then nearly uncorrelated. Parameters come back in the data's
own x units.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

from scaling.fit.curves.solve import fit_bounded

ALPHA_MAX = 10.0     # exponents above this are not a learning curve but a cliff
E_FLOOR = 0.1        # E >= E_FLOOR x min(L); see fit_offset_power


def fit_power(x: np.ndarray, loss: np.ndarray) -> dict:
    """L = A x^-alpha by ordinary least squares of log L on log x (Alabdulmohsin et al.'s M1).

    alpha is kept in [0, ALPHA_MAX]: a loss that rises with x gives the flat line alpha = 0.
    """
    lx, ly = np.log(x), np.log(loss)
    m = lx.mean()
    u = lx - m
    alpha = -float(u @ (ly - ly.mean()) / (u @ u))
    alpha = min(max(alpha, 0.0), ALPHA_MAX)
    log_a = float(ly.mean() + alpha * u.mean())
    return dict(A=float(np.exp(log_a + alpha * m)), alpha=alpha)


def _offset_residuals(p, u, ly):
    a, al, e = p
    t = a - al * u
    s = np.logaddexp(t, e)
    w = np.exp(t - s)                    # share of the power term in the prediction
    r = s - ly
    jac = np.column_stack([w, -u * w, 1.0 - w])
    return r, jac


def fit_offset_power(x: np.ndarray, loss: np.ndarray, e_floor: float = E_FLOOR) -> dict:
    """L = E + A x^-alpha by least squares on log L, E in [e_floor min(L), min(L)].

    Least squares on log L is what the benchmark scores (squared log error), and fits the curve
    where it is measured rather than log(L - E), which Alabdulmohsin et al.'s M2 fits and which
    blows up the points nearest E. The floor on E: without one, a curve still falling steeply at
    its end sends E to 1e-11 and the form becomes a pure power law, the one form that fails the
    benchmark worst (M1: mean 0.066). benchmarks/extrapolation.py --e-floor measures the choice.

    Starts: for fixed alpha the model is linear in (E, A); non-negative least squares on relative
    errors over a grid of alpha gives the three best starts for bounded Levenberg-Marquardt.
    """
    lx, ly = np.log(x), np.log(loss)
    m = lx.mean()
    u = lx - m
    y_min = float(loss.min())
    e_lo, e_hi = np.log(max(e_floor, 1e-9) * y_min), np.log(y_min)
    starts = []
    for al in np.geomspace(1e-3, ALPHA_MAX / 2, 40):
        M = np.column_stack([np.exp(-al * u), np.ones_like(u)]) / loss[:, None]
        if not np.isfinite(M).all():
            continue
        (a0, e0), _ = nnls(M, np.ones_like(loss))
        a0 = max(a0, 1e-6 * y_min)
        e0 = float(np.clip(np.log(max(e0, 1e-300)), e_lo, e_hi - 1e-9))
        r = np.logaddexp(np.log(a0) - al * u, e0) - ly
        starts.append((float(r @ r), [np.log(a0), al, e0]))
    starts.sort(key=lambda s: s[0])
    lower, upper = [-np.inf, 0.0, e_lo], [np.inf, ALPHA_MAX, e_hi]
    best = None
    for _, p0 in starts[:3]:
        p, cost = fit_bounded(lambda p: _offset_residuals(p, u, ly), p0, lower, upper)
        if best is None or cost < best[1]:
            best = (p, cost)
    a, al, e = best[0]
    return dict(E=float(np.exp(e)), A=float(np.exp(a + al * m)), alpha=float(al))
