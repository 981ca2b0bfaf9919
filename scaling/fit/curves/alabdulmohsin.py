"""Fits Alabdulmohsin, Neyshabur and Zhai's (NeurIPS 2022) M3 and M4 the paper's own way:
least squares on log L for M3, least squares on the log of M4's two sides for M4; each by
variable projection (the linear parameters solved exactly inside a search over the others).

    M3: L = beta (1/x + gamma)^c                       c >= 0, gamma >= 0
    M4: (L - E_inf) / (E_0 - L)^alpha = beta x^-c      c, alpha >= 0, E_inf < min L, E_0 > max L
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize, minimize_scalar

from scaling.fit.curves.power import E_FLOOR

C_MAX = 10.0
M4_MARGIN = 1e-3    # the paper's ERR_MARGIN: E_inf <= min L - margin, E_0 >= max L + margin
M4_FLOOR = E_FLOOR  # E_inf >= M4_FLOOR x min L (the paper's bound is 0; see power.E_FLOOR)


def _line(z: np.ndarray, ly: np.ndarray) -> tuple[float, float, float]:
    """(intercept, slope >= 0, SSE) of ly on z by least squares."""
    zc, yc = z - z.mean(), ly - ly.mean()
    zz = zc @ zc
    c = min(max(float(zc @ yc / zz), 0.0), C_MAX) if zz > 0 else 0.0
    r = yc - c * zc
    return float(ly.mean() - c * z.mean()), c, float(r @ r)


def fit_m3(x: np.ndarray, loss: np.ndarray) -> dict:
    """M3: log L = log beta + c log(1/x + gamma), least squares on log L.

    For fixed gamma the model is a line in log(1/x + gamma); the search is over log gamma,
    across the range where gamma changes the curve (about 1/x_max to 1/x_min, widened by e^8
    on both sides; beyond it M3 is a pure power law or a constant).
    """
    lx, ly = np.log(x), np.log(loss)
    m = lx.mean()
    u = lx - m

    def sse(q):
        return _line(np.logaddexp(-u, q), ly)[2]

    qs = np.linspace(-u.max() - 8.0, -u.min() + 8.0, 48)
    vals = np.array([sse(q) for q in qs])
    i = int(np.argmin(vals))
    q = qs[i]
    if 0 < i < qs.size - 1:
        q = minimize_scalar(sse, bounds=(qs[i - 1], qs[i + 1]), method="bounded",
                            options=dict(xatol=1e-7)).x
    lb, c, _ = _line(np.logaddexp(-u, q), ly)
    if i == 0 and _line(-u, ly)[2] <= vals[0]:   # gamma -> 0: the pure power law
        lb, c, _ = _line(-u, ly)
        return dict(beta=float(np.exp(lb + c * m)), gamma=0.0, c=c)
    return dict(beta=float(np.exp(lb + c * m)), gamma=float(np.exp(q - m)), c=c)


def _nn2(t: np.ndarray, a1: np.ndarray, a2: np.ndarray) -> tuple[float, float, float]:
    """min ||t - c a1 - alpha a2||^2 over c, alpha >= 0 (columns already centred): c, alpha, SSE."""
    g11, g12, g22 = a1 @ a1, a1 @ a2, a2 @ a2
    b1, b2 = a1 @ t, a2 @ t
    det = g11 * g22 - g12 * g12
    cands = [(0.0, 0.0)]
    if det > 1e-14 * max(g11 * g22, 1e-300):
        c, al = (g22 * b1 - g12 * b2) / det, (g11 * b2 - g12 * b1) / det
        if c >= 0 and al >= 0:
            cands = [(c, al)]
    if len(cands) == 1 and cands[0] == (0.0, 0.0):
        if g11 > 0:
            cands.append((max(b1 / g11, 0.0), 0.0))
        if g22 > 0:
            cands.append((0.0, max(b2 / g22, 0.0)))
    best = None
    for c, al in cands:
        r = t - c * a1 - al * a2
        s = float(r @ r)
        if best is None or s < best[2]:
            best = (float(c), float(al), s)
    return best


def fit_m4(x: np.ndarray, loss: np.ndarray, upper: float | None = None, floor: float = M4_FLOOR) -> dict:
    """M4: (L - E_inf)/(E_0 - L)^alpha = beta x^-c, least squares on
    log(L - E_inf) - alpha log(E_0 - L) - log beta + c log x, the paper's objective.

    For fixed (E_inf, E_0) that is a linear regression with c, alpha >= 0, solved exactly. The
    objective is not convex in (E_inf, E_0), and its global minimum often sits at E_inf -> 0
    (a pure power law, which extrapolates worst); the paper's estimate is the local minimum its
    projected descent reaches from E_inf = min L - margin, E_0 at max L + margin. So is this one:
    bounded L-BFGS-B from that start, E_inf in [floor min L, min L - margin], E_0 in
    [max L + margin, upper + margin] (upper: a known bound on the loss, 1 for an error rate).
    """
    lx = np.log(x)
    m = lx.mean()
    u = lx - m
    scale = float(loss.max())
    y = loss / scale                      # fitted on losses scaled to max 1, as the paper's data are
    y_min = float(y.min())
    e_lo, e_hi = floor * y_min, y_min - M4_MARGIN
    if e_hi <= e_lo:                      # losses below the margin: shrink it
        e_hi = e_lo + 0.5 * (y_min - e_lo)
    o_lo = 1.0 + M4_MARGIN
    o_hi = None if upper is None else max(upper / scale + M4_MARGIN, o_lo)
    a1 = -(u - u.mean())

    def solve(p):
        e, o = p
        t = np.log(y - e)
        a2 = np.log(o - y)
        c, al, _ = _nn2(t - t.mean(), a1, a2 - a2.mean())
        lb = t.mean() - al * a2.mean() + c * u.mean()
        r = t - lb + c * u - al * a2
        return al, lb, c, r

    def objective(p):
        e, o = p
        al, _, _, r = solve(p)
        # envelope theorem: the inner parameters are optimal, so only the explicit terms count
        return float(r @ r), np.array([-2.0 * np.sum(r / (y - e)), -2.0 * al * np.sum(r / (o - y))])

    sol = minimize(objective, np.array([e_hi, o_lo]), jac=True, method="L-BFGS-B",
                   bounds=[(e_lo, e_hi), (o_lo, o_hi)], options=dict(maxiter=500, ftol=1e-15, gtol=1e-10))
    e, o = sol.x
    al, lb, c, _ = solve(sol.x)
    # (y - e)/(o - y)^al = exp(lb) u^-c in scaled units; back to the data's units
    beta = np.exp(lb + c * m + (1.0 - al) * np.log(scale))
    return dict(E_inf=float(e * scale), E_0=float(o * scale), alpha=float(al), beta=float(beta), c=float(c))
