"""How much a batch narrows a parametric exponent, from the fit's information rather than simulation.

The parametric fit is smooth in its data, so its precision follows from the Fisher information of
ln L = ln(E + A/N^alpha + B/D^beta) at the measured seed noise: each run adds J^T J / sigma^2, with J
the gradient of ln L in (ln A, ln B, ln E, alpha, beta). An exponent's SD is sqrt(g^T I^-1 g) for its
gradient g; a batch's worth is the ratio of that SD after and before, averaged over the world's
surfaces. No simulation noise, so the greedy choice is not swayed by a lucky draw (for the argmin
estimators, whose answers are not smooth in the data, the planner simulates instead).
"""
from __future__ import annotations

import numpy as np

EXPONENTS = ("a_parametric", "a", "alpha", "beta")


def _rows(fit, N, D) -> np.ndarray:
    N, D = np.asarray(N, float), np.asarray(D, float)
    x, y = fit.A * N ** -fit.alpha, fit.B * D ** -fit.beta
    L = fit.E + x + y
    return np.column_stack([x / L, y / L, np.full_like(L, fit.E) / L, -x * np.log(N) / L, -y * np.log(D) / L])


def _gradient(fit, name: str) -> np.ndarray:
    al, be = fit.alpha, fit.beta
    if name == "alpha":
        return np.array([0, 0, 0, 1.0, 0])
    if name == "beta":
        return np.array([0, 0, 0, 0, 1.0])
    s = (al + be) ** 2
    return np.array([0, 0, 0, -be / s, al / s])


def sd_ratios(fits, name: str, base: tuple, batches: list, sigma: float) -> np.ndarray:
    """For each batch, the SD of exponent `name` with it over the SD without it, averaged over the fits.
    base and each batch: (N, D) arrays of their runs."""
    out = np.zeros(len(batches))
    for fit in fits:
        g = _gradient(fit, name)
        J0 = _rows(fit, *base)
        info0 = J0.T @ J0 / sigma ** 2
        v0 = g @ np.linalg.pinv(info0) @ g
        for i, b in enumerate(batches):
            J = _rows(fit, *b)
            v = g @ np.linalg.pinv(info0 + J.T @ J / sigma ** 2) @ g
            out[i] += np.sqrt(max(v, 0.0) / v0) if v0 > 0 else 1.0
    return out / max(len(fits), 1)
