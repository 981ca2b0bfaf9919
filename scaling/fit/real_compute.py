"""N_opt(C) of a fitted L(N, D), minimised along the model family's own compute, budget by budget.

The shortcut a = beta/(alpha + gamma beta) assumes C = kappa N^gamma D holds exactly. For this CNN
N and the forward FLOPs are quadratics in width with linear terms (scaling/core/arch.py), so that
power law is only approximate and its exponent is not the slope of N_opt(C) over the grid's
budgets (issue 27 measured +0.015 of bias from it). Here, at each budget C, the loss
A/N(c)^alpha + B/D^beta with D = C / (C/D)(c) is minimised over a continuous width c, and the
slope of ln N_opt against ln C is fitted over the budgets.

The path (N(c), C/D(c)) is read off the runs themselves, so that either compute convention and
either family is followed: a quadratic in width fitted to each configuration's N and C/D when it
is exact (the CNN and the MLP of arch.py, under 3FD or 6ND), else the runs' own ln(C/D) against
ln N, interpolated linearly (a stand-in family whose FLOPs are a power of N follows it exactly).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EXACT = 1e-6  # relative residual under which the quadratic in width is the family's own formula
SPAN = 8.0  # search N_opt over widths down to 1/8 of the smallest and up to 8x the largest tested
GRID = 801  # widths tried per budget before the parabola refines the best one


@dataclass(frozen=True)
class ComputePath:
    """How N and C/D grow with width in one selection, as the minimisation follows them.

    Attributes
    ----------
    kind : str
        'quadratic' (N and C/D exact quadratics in width: the family's own formulas) or
        'interpolated' (ln C/D linear between the runs' widths, in ln N).
    ln_n : ndarray
        ln N along the searched widths.
    ln_cd : ndarray
        ln(C/D) at the same widths.
    n_lo, n_hi : float
        The smallest and largest N tested (N_opt outside them is extrapolated).
    """
    kind: str
    ln_n: np.ndarray
    ln_cd: np.ndarray
    n_lo: float
    n_hi: float


def _quadratic(w: np.ndarray, y: np.ndarray):
    if np.unique(w).size < 3:
        return None
    q = np.polyfit(w, y, 2)
    return q if np.max(np.abs(np.polyval(q, w) / y - 1)) < EXACT else None


def compute_path(width, N, C, D) -> ComputePath:
    """The selection's path from its configurations' width, N, C and D."""
    w, N, cd = (np.asarray(x, float) for x in (width, N, np.asarray(C, float) / np.asarray(D, float)))
    qn, qc = _quadratic(w, N), _quadratic(w, cd)
    if qn is not None and qc is not None:
        c = np.geomspace(w.min() / SPAN, w.max() * SPAN, GRID)
        n, f = np.polyval(qn, c), np.polyval(qc, c)
        ok = (n > 0) & (f > 0)
        return ComputePath("quadratic", np.log(n[ok]), np.log(f[ok]), float(N.min()), float(N.max()))
    lnN, lncd = np.log(N), np.log(cd)
    nodes, first = np.unique(lnN, return_index=True)
    vals = np.array([lncd[lnN == x].mean() for x in nodes])
    x = np.linspace(nodes[0] - 2 * np.log(SPAN), nodes[-1] + 2 * np.log(SPAN), GRID)
    if nodes.size == 1:
        y = vals[0] + (x - nodes[0])
    else:  # linear inside, continued with the end segments' slopes outside
        y = np.interp(x, nodes, vals)
        s0 = (vals[1] - vals[0]) / (nodes[1] - nodes[0])
        s1 = (vals[-1] - vals[-2]) / (nodes[-1] - nodes[-2])
        y = np.where(x < nodes[0], vals[0] + s0 * (x - nodes[0]), y)
        y = np.where(x > nodes[-1], vals[-1] + s1 * (x - nodes[-1]), y)
    return ComputePath("interpolated", x, y, float(N.min()), float(N.max()))


def nopt_along(path: ComputePath, A: float, alpha: float, B: float, beta: float, budgets, p: float = 1.0):
    """(N_opt at each budget, NaN where the minimum is at an end of the searched widths). p != 1
    minimises the power mean of the two terms instead of their sum (calibration's wrong forms)."""
    lnB = np.log(np.asarray(budgets, float))
    ln_d = lnB[:, None] - path.ln_cd[None, :]
    # the reducible loss; E does not move the argmin
    red = (A * np.exp(-alpha * path.ln_n)[None, :]) ** p + (B * np.exp(-beta * ln_d)) ** p
    i = np.argmin(red, axis=1)
    out = np.full(lnB.size, np.nan)
    inner = (i > 0) & (i < path.ln_n.size - 1)
    for j in np.flatnonzero(inner):  # a parabola through the best width and its neighbours
        k = i[j]
        x, y = path.ln_n[k - 1:k + 2], np.log(red[j, k - 1:k + 2])
        c2, c1, _ = np.polyfit(x - x[1], y, 2)
        out[j] = np.exp(x[1] - c1 / (2 * c2)) if c2 > 0 else np.exp(x[1])
    return out


def slope_along(path: ComputePath, fit, budgets) -> tuple[float, float, np.ndarray]:
    """(a, k, N_opt per budget) of N_opt = k C^a fitted over the budgets where the minimum is inside."""
    n = nopt_along(path, fit.A, fit.alpha, fit.B, fit.beta, budgets)
    ok = np.isfinite(n)
    if ok.sum() < 2:
        return np.nan, np.nan, n
    a, lnk = np.polyfit(np.log(np.asarray(budgets, float)[ok]), np.log(n[ok]), 1)
    return float(a), float(np.exp(lnk)), n
