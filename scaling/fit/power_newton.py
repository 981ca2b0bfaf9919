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
MAX_HALVINGS = 40  # a line search that cannot lower the loss in this many cuts is at an optimum
ARMIJO = 1e-4


def objective(P: np.ndarray, u: np.ndarray, ly: np.ndarray, delta: float, hessian: bool = True):
    """Summed Huber of ln(E + A e^(-alpha u)) - ln y over delta, for each row (a, alpha, e) of P,
    with its gradient and Hessian (the loss alone where hessian is False: a line search's need)."""
    t0 = P[:, :1] - P[:, 1:2] * u
    e = P[:, 2:3]
    mx = np.maximum(t0, e)
    w0, w1 = np.exp(t0 - mx), np.exp(e - mx)
    s = w0 + w1
    r = mx + np.log(s) - ly
    c = np.clip(r, -delta, delta)  # Huber(r) = c (r - c/2); its derivative is c
    f = (c * (r - 0.5 * c)).sum(axis=1) / delta
    if not hessian:
        return f
    psi = c / delta
    s0, s1 = w0 / s, w1 / s  # dr/da = s0, dr/dalpha = -s0 u, dr/de = s1
    U = np.column_stack([np.ones_like(u), u, u * u])
    ps0 = psi * s0
    g0, g1 = (ps0 @ U[:, :2]).T
    g = np.column_stack([g0, -g1, (psi * s1).sum(axis=1)])
    # Gauss-Newton part (1/delta inside the quadratic zone) plus psi times ln-sum-exp's curvature,
    # s0 s1 (1, -u, -1)(1, -u, -1)'
    inside = (np.abs(r) <= delta) / delta
    curv = psi * s0 * s1
    k = np.stack([inside * s0 * s0 + curv, inside * s0 * s1 - curv, inside * s1 * s1 + curv], axis=1) @ U
    H = np.empty((len(P), 3, 3))
    H[:, 0, 0], H[:, 0, 1], H[:, 1, 1] = k[:, 0, 0], -k[:, 0, 1], k[:, 0, 2]
    H[:, 0, 2], H[:, 1, 2], H[:, 2, 2] = k[:, 1, 0], -k[:, 1, 1], k[:, 2, 0]
    H[:, 1, 0], H[:, 2, 0], H[:, 2, 1] = H[:, 0, 1], H[:, 0, 2], H[:, 1, 2]
    return f, g, H


def minimise(P0, u, ly, delta: float, bounds: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """(optima, losses) of the objective from each start (rows of P0), alpha kept within bounds.

    Each step is Newton's on the free parameters (alpha is held where it sits at a bound and the
    gradient pushes outward), with the Hessian's eigenvalues taken in absolute value and floored,
    so every step descends, then halved until the loss falls enough (Armijo)."""
    lo, hi = bounds
    P = np.array(P0, float, ndmin=2)
    P[:, 1] = np.clip(P[:, 1], lo, hi)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        f, g, H = objective(P, u, ly, delta)
        live = np.isfinite(f) & np.isfinite(g).all(axis=1)
        for _ in range(MAX_ITER):
            held = ((P[:, 1] <= lo) & (g[:, 1] > 0)) | ((P[:, 1] >= hi) & (g[:, 1] < 0))
            gp = g.copy()
            gp[held, 1] = 0.0
            live &= np.abs(gp).max(axis=1) > GTOL
            if not live.any():
                break
            idx = np.flatnonzero(live)
            Hm = H[idx].copy()
            h = held[idx]
            Hm[h, 1, :] = 0.0
            Hm[h, :, 1] = 0.0
            Hm[h, 1, 1] = 1.0
            if not np.isfinite(Hm).all():
                live[idx[~np.isfinite(Hm).all(axis=(1, 2))]] = False
                continue
            lam, vec = np.linalg.eigh(Hm)
            lam = np.abs(lam)
            lam = np.maximum(lam, 1e-12 * np.maximum(lam.max(axis=1, keepdims=True), 1e-300))
            step = -np.einsum("skl,sl->sk", vec, np.einsum("slk,sl->sk", vec, gp[idx]) / lam)
            # a predicted fall below the loss's rounding cannot be confirmed by a line search: done
            small = -np.einsum("sk,sk->s", gp[idx], step) <= ROUNDING * np.abs(f[idx])
            if small.any():
                live[idx[small]] = False
                idx, step, = idx[~small], step[~small]
                if not idx.size:
                    break
            t = np.ones(idx.size)
            slope = np.einsum("sk,sk->s", g[idx], step)
            todo = np.ones(idx.size, bool)
            for _ in range(MAX_HALVINGS):
                j = np.flatnonzero(todo)
                Q = P[idx[j]] + t[j, None] * step[j]
                Q[:, 1] = np.clip(Q[:, 1], lo, hi)
                fq = objective(Q, u, ly, delta, hessian=False)
                dP = Q - P[idx[j]]
                # a step too small to move P is no progress: the optimum, as far as floating point sees
                ok = (np.isfinite(fq) & (dP != 0).any(axis=1)
                      & (fq <= f[idx[j]] + ARMIJO * np.einsum("sk,sk->s", g[idx[j]], dP)))
                P[idx[j[ok]]] = Q[ok]
                todo[j[ok]] = False
                if not todo.any():
                    break
                # backtrack to the minimum of the quadratic through f, the slope and fq, within [t/10, t/2]
                bad = j[~ok]
                tb, fb = t[bad], fq[~ok]
                with np.errstate(all="ignore"):
                    tq = -slope[bad] * tb * tb / (2 * (fb - f[idx[bad]] - slope[bad] * tb))
                t[bad] = np.where(np.isfinite(tq), np.clip(tq, 0.1 * tb, 0.5 * tb), 0.5 * tb)
            live[idx[todo]] = False  # no descent left in floating point: an optimum
            moved = idx[~todo]
            if moved.size:
                f[moved], g[moved], H[moved] = objective(P[moved], u, ly, delta)
    return P, f
