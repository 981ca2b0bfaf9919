"""Fits a broken power law with one break (Caballero, Gupta, Rish and Krueger 2022, "Broken
Neural Scaling Laws"): L = E + A x^-c0 (1 + (x/d)^(1/f))^(-c1 f), by least squares on log L
(their MSLE) from a grid of starts.

Below the break d the curve falls as x^-c0, above it as x^-(c0 + c1); f is how gradual the
bend is, in units of log x. Kept in range: E in [E_FLOOR min L, min L] and A > 0 as logs, both
slopes c0 and c0 + c1 in [0, C_MAX] (the loss never rises), the break inside the fitted x range
(a break beyond the data is not identified by it) and f in [F_MIN, F_MAX].
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

from scaling.fit.curves.power import E_FLOOR
from scaling.fit.curves.solve import fit_bounded

C_MAX = 10.0
F_MIN, F_MAX = 0.1, 5.0
N_STARTS = 3
N_EVALS = 200


def _softplus(v):
    return np.logaddexp(0.0, v)


def _sigmoid(v):
    return np.exp(-np.logaddexp(0.0, -v))


def _residuals(p, u, ly):
    """log-prediction minus log L, and the Jacobian, at p = (log A, log E, c0, c_end, log d, log f)."""
    a, e, c0, ce, ld, lf = p
    f = np.exp(lf)
    v = (u - ld) / f
    sp, sg = _softplus(v), _sigmoid(v)
    t = a - c0 * u - (ce - c0) * f * sp
    s = np.logaddexp(e, t)
    w = np.exp(t - s)
    jac = np.column_stack([w, 1.0 - w, w * (-u + f * sp), -w * f * sp, w * (ce - c0) * sg,
                           -w * (ce - c0) * f * (sp - v * sg)])
    return s - ly, jac


def fit_broken(x: np.ndarray, loss: np.ndarray, e_floor: float = E_FLOOR) -> dict:
    """L = E + A x^-c0 (1 + (x/d)^(1/f))^(-c1 f) by bounded least squares on log L.

    Starts: for fixed (c0, c0 + c1, d, f) the model is linear in (E, A); non-negative least
    squares on relative errors over a grid of those four gives the N_STARTS best starts.
    """
    lx, ly = np.log(x), np.log(loss)
    m = lx.mean()
    u = lx - m
    y_min = float(loss.min())
    e_lo, e_hi = np.log(max(e_floor, 1e-9) * y_min), np.log(y_min)
    u_lo, u_hi = float(u.min()), float(u.max())
    starts = []
    for ld in np.quantile(u, [0.25, 0.5, 0.75]):
        for f in (0.3, 1.0):
            spv = f * _softplus((u - ld) / f)
            for c0 in (0.0, 0.1, 0.3, 1.0):
                for ce in (0.05, 0.2, 0.5, 1.0, 2.0):
                    g = np.exp(-c0 * u - (ce - c0) * spv)
                    M = np.column_stack([g, np.ones_like(u)]) / loss[:, None]
                    if not np.isfinite(M).all():
                        continue
                    (a0, e0), _ = nnls(M, np.ones_like(loss))
                    a0 = max(a0, 1e-6 * y_min)
                    e0 = float(np.clip(np.log(max(e0, 1e-300)), e_lo, e_hi - 1e-9))
                    r = np.logaddexp(e0, np.log(a0) + np.log(g)) - ly
                    starts.append((float(r @ r), [np.log(a0), e0, c0, ce, ld, np.log(f)]))
    starts.sort(key=lambda s: s[0])
    lower = np.array([-np.inf, e_lo, 0.0, 0.0, u_lo, np.log(F_MIN)])
    upper = np.array([np.inf, e_hi, C_MAX, C_MAX, u_hi, np.log(F_MAX)])
    best = None
    for _, p0 in starts[:N_STARTS]:
        p, cost = fit_bounded(lambda p: _residuals(p, u, ly), p0, lower, upper, N_EVALS)
        if best is None or cost < best[1]:
            best = (p, cost)
    a, e, c0, ce, ld, lf = best[0]
    return dict(E=float(np.exp(e)), A=float(np.exp(a + c0 * m)), c0=float(c0), c1=float(ce - c0),
                d=float(np.exp(ld + m)), f=float(np.exp(lf)))
