"""The power law with an irreducible term, E + A x^-alpha, minimised from several starts at once:
its Huber objective on log y and the bounded Newton iteration that minimises it.

Three parameters (a = ln A at the centre, alpha, e = ln E) have an exact Hessian that costs as
much as the gradient, so Newton's method with a line search reaches the optimum in a few steps
where L-BFGS-B takes dozens, and all starts advance together in one set of array operations.
"""
from __future__ import annotations

import numpy as np

GTOL = 1e-10  # as optim.LBFGS: the largest projected gradient component at an optimum
MAX_ITER = 500
ROUNDING = 1e-14  # relative: a fall in the loss smaller than this is lost in its rounding
MAX_CUTS = 40  # a line search that cannot lower the loss in this many cuts is at an optimum
ARMIJO = 1e-4


class Objective:
    """Summed Huber of ln(E + A e^(-alpha u)) - ln y over delta, for each row (a, alpha, e) of P,
    each row on its own problem (its own u, ln y and delta; problems of fewer points padded with
    points of weight 0)."""

    def __init__(self, u: np.ndarray, ly: np.ndarray, w: np.ndarray, delta: np.ndarray):
        self.u, self.ly, self.w, self.d = u, ly, w, delta[:, None]
        self.U = np.stack([np.ones_like(u), u, u * u], axis=2)

    def _residuals(self, P, rows):
        u, d = self.u[rows], self.d[rows]
        t0 = P[:, :1] - P[:, 1:2] * u
        e = P[:, 2:3]
        mx = np.maximum(t0, e)
        w0, w1 = np.exp(t0 - mx), np.exp(e - mx)
        s = w0 + w1
        r = mx + np.log(s) - self.ly[rows]
        c = np.clip(r, -d, d)  # Huber(r) = c (r - c/2); its derivative is c
        return r, c * self.w[rows], d, w0 / s, w1 / s

    def value(self, P: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The loss of each row (a line search's need)."""
        r, c, d, _, _ = self._residuals(P, rows)
        return (c * (r - 0.5 * c)).sum(axis=1) / d[:, 0]

    def __call__(self, P: np.ndarray, rows: np.ndarray):
        """(loss, gradient, Hessian) of each row."""
        r, c, d, s0, s1 = self._residuals(P, rows)
        f = (c * (r - 0.5 * c)).sum(axis=1) / d[:, 0]
        psi = c / d  # dr/da = s0, dr/dalpha = -s0 u, dr/de = s1
        U = self.U[rows]
        gg = np.stack([psi * s0, psi * s1], axis=1) @ U[:, :, :2]
        g = np.column_stack([gg[:, 0, 0], -gg[:, 0, 1], gg[:, 1, 0]])
        # Gauss-Newton part (1/delta inside the quadratic zone) plus psi times ln-sum-exp's curvature,
        # s0 s1 (1, -u, -1)(1, -u, -1)'
        inside = (np.abs(r) <= d) * self.w[rows] / d
        curv = psi * s0 * s1
        k = np.stack([inside * s0 * s0 + curv, inside * s0 * s1 - curv, inside * s1 * s1 + curv], axis=1) @ U
        H = np.stack([k[:, 0, 0], -k[:, 0, 1], k[:, 1, 0],
                      -k[:, 0, 1], k[:, 0, 2], -k[:, 1, 1],
                      k[:, 1, 0], -k[:, 1, 1], k[:, 2, 0]], axis=1).reshape(-1, 3, 3)
        return f, g, H


def minimise(P0, u, ly, delta: float, bounds: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """(optima, losses) of the objective on one problem from each start (rows of P0)."""
    P0 = np.array(P0, float, ndmin=2)
    return minimise_many([(P0, u, ly, delta)], bounds)[0]


def minimise_many(problems, bounds: tuple[float, float]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(optima, losses) from each start of each problem (starts, u, ln y, delta), alpha kept
    within bounds: every start of every problem advances in the same array operations.

    Each step is Newton's on the free parameters (alpha is held where it sits at a bound and the
    gradient pushes outward), with the Hessian's eigenvalues taken in absolute value and floored,
    so every step descends, then cut back until the loss falls enough (Armijo). A start stops
    where its projected gradient is below GTOL or no step lowers its loss in floating point."""
    lo, hi = bounds
    n = max(len(u) for _, u, _, _ in problems)
    counts = [len(np.atleast_2d(P0)) for P0, *_ in problems]
    data = [[], [], [], []]  # u, ln y, weight and delta of each start's problem, padded to n points
    for (_, u, ly, d), k in zip(problems, counts):
        for out, a in zip(data, (u, ly, np.ones(len(u)))):
            out.append(np.tile(np.pad(np.asarray(a, float), (0, n - len(u))), (k, 1)))
        data[3].append(np.full(k, float(d)))
    U, LY, W, D = (np.concatenate(a) for a in data)
    obj = Objective(U, LY, W, D)
    out = np.concatenate([np.array(P0, float, ndmin=2) for P0, *_ in problems])
    out[:, 1] = np.clip(out[:, 1], lo, hi)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        rows = np.arange(len(out))
        f_out, g, H = obj(out, rows)
        rows = np.flatnonzero(np.isfinite(f_out) & np.isfinite(g).all(axis=1) & np.isfinite(H).all(axis=(1, 2)))
        P, f, g, H = out[rows], f_out[rows], g[rows], H[rows]
        for _ in range(MAX_ITER):
            held = ((P[:, 1] <= lo) & (g[:, 1] > 0)) | ((P[:, 1] >= hi) & (g[:, 1] < 0))
            gp = g.copy()
            gp[held, 1] = 0.0
            if held.any():
                H = H.copy()
                H[held, 1, :] = 0.0
                H[held, :, 1] = 0.0
                H[held, 1, 1] = 1.0
            lam, vec = np.linalg.eigh(H)
            lam = np.abs(lam)
            lam = np.maximum(lam, 1e-12 * lam[:, -1:] + 1e-300)
            step = -(vec @ ((gp[:, None, :] @ vec)[:, 0] / lam)[:, :, None])[:, :, 0]
            slope = (gp * step).sum(axis=1)
            # converged: gradient at tolerance, or a predicted fall below the loss's rounding, which no
            # line search could confirm
            go = (np.abs(gp).max(axis=1) > GTOL) & (-slope > ROUNDING * np.abs(f))
            if not go.all():
                out[rows], f_out[rows] = P, f
                rows, P, f, g, step, slope = rows[go], P[go], f[go], g[go], step[go], slope[go]
                if not rows.size:
                    break
            P, moved = _line_search(obj, rows, P, f, g, step, slope, lo, hi)
            if not moved.all():  # no descent left in floating point: an optimum
                out[rows], f_out[rows] = P, f
                rows, P = rows[moved], P[moved]
                if not rows.size:
                    break
            f, g, H = obj(P, rows)
        out[rows], f_out[rows] = P, f
    ends = np.cumsum([0] + counts)
    return [(out[i:j], f_out[i:j]) for i, j in zip(ends[:-1], ends[1:])]


def _line_search(obj, rows, P, f, g, step, slope, lo, hi):
    """(new P, whether each row moved): the full step where it lowers the loss enough,
    else cut back to the minimum of the quadratic through f, the slope and the loss seen, within
    [t/10, t/2]."""
    t = np.ones(len(P))
    todo = np.ones(len(P), bool)
    new = P.copy()
    j = np.arange(len(P))
    for _ in range(MAX_CUTS):
        Q = P[j] + t[j, None] * step[j]
        Q[:, 1] = np.clip(Q[:, 1], lo, hi)
        fq = obj.value(Q, rows[j])
        dP = Q - P[j]
        # a step too small to move P is no progress: the optimum, as far as floating point sees
        ok = np.isfinite(fq) & (dP != 0).any(axis=1) & (fq <= f[j] + ARMIJO * (g[j] * dP).sum(axis=1))
        new[j[ok]] = Q[ok]
        todo[j[ok]] = False
        if ok.all():
            break
        bad, fb = j[~ok], fq[~ok]
        tb = t[bad]
        with np.errstate(all="ignore"):
            tq = -slope[bad] * tb * tb / (2 * (fb - f[bad] - slope[bad] * tb))
        t[bad] = np.where(np.isfinite(tq), np.clip(tq, 0.1 * tb, 0.5 * tb), 0.5 * tb)
        j = bad
    return new, ~todo
