"""Scaling laws in two variables, L(N, D), fitted by a Huber loss on log L summed over the points,
coefficients as logs and exponents bounded positive:

- fit_parametric: Chinchilla's L(N, D) = E + A/N^alpha + B/D^beta (Hoffmann et al. 2022).
- fit_kaplan: L(N, D) = [(Nc/N)^(alphaN/alphaD) + Dc/D]^alphaD (Kaplan et al. 2020).

Starting points come from variable projection: with the exponents fixed each model is linear in
its coefficients, so the search is over the exponents alone (a grid, refined around each of its
basins), where a plain grid of L-BFGS starts would need thousands. N and D are centred in log space before fitting
(N/N0 with N0 the geometric mean): the same model, far better conditioned.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize, nnls

from scaling.core.fmt import fmt_interval
from scaling.fit.optim import LBFGS, check_distinct, check_points, finite_fit, huber, one_blas_thread, positive_array
from scaling.fit.serialize import jsonable

# ---------------------------------------------------------------- Chinchilla L(N, D)

@dataclass(frozen=True, eq=False)
class ParametricFit:
    """Chinchilla's L(N, D) = E + A/N^alpha + B/D^beta, fitted.

    Attributes
    ----------
    E : float
        Irreducible loss, in the loss's units.
    A, B : float
        Coefficients of the model term A/N^alpha and the data term B/D^beta (N in parameters, D in
        examples seen), in the loss's units at N = 1 and D = 1.
    alpha, beta : float
        Exponents of N and D.
    n_points : int
        Points fitted.
    delta : float
        Huber scale on the residuals of ln L.
    objective : float
        Summed Huber loss at the optimum.
    residuals : ndarray
        ln L - ln prediction, one per point.
    intervals : dict or None
        Name ('E', 'A', 'B', 'alpha', 'beta', 'a') -> Interval, when bootstrapped.
    """
    E: float
    A: float
    B: float
    alpha: float
    beta: float
    n_points: int
    delta: float
    objective: float
    residuals: np.ndarray
    intervals: dict | None = None

    @property
    def a(self) -> float:
        """beta/(alpha+beta): N_opt grows as C^a where C is proportional to N D."""
        return self.beta / (self.alpha + self.beta)

    @property
    def b(self) -> float:
        """alpha/(alpha+beta): D_opt grows as C^b where C is proportional to N D."""
        return self.alpha / (self.alpha + self.beta)

    @property
    def G(self) -> float:
        """N_opt = G (C/c_per)^a: the coefficient of the compute-optimal size."""
        return (self.alpha * self.A / (self.beta * self.B)) ** (1 / (self.alpha + self.beta))

    def predict(self, N, D) -> np.ndarray:
        N, D = np.asarray(N, dtype=float), np.asarray(D, dtype=float)
        return self.E + self.A * N ** -self.alpha + self.B * D ** -self.beta

    def nopt(self, C, c_per: float) -> np.ndarray:
        """Compute-optimal N for budget C under the convention C = c_per * N * D."""
        return self.G * (np.asarray(C, dtype=float) / c_per) ** self.a

    def dopt(self, C, c_per: float) -> np.ndarray:
        """Compute-optimal D (examples) for budget C under the convention C = c_per * N * D."""
        return np.asarray(C, dtype=float) / c_per / self.nopt(C, c_per)

    def format(self) -> str:
        """Plain text for the CLI: one parameter a line, with its interval when bootstrapped."""
        iv = self.intervals or {}
        lines = [f"L(N, D) = E + A/N^alpha + B/D^beta, summed Huber (delta {self.delta:g}) on "
                 f"log L, {self.n_points} points"]
        for k in ("E", "A", "B", "alpha", "beta", "a"):
            i = iv.get(k)
            ci = f"  {fmt_interval(i.lo, i.hi, '.4g')} ({i.level:.0%}, {i.n_boot} resamples)" if i else ""
            lines.append(f"  {k:<5} = {getattr(self, k):.4g}{ci}")
        lines.append("  (a = beta/(alpha+beta): N_opt grows as C^a)")
        return "\n".join(lines)

    def to_dict(self, full: bool = False) -> dict:
        d = dict(E=self.E, A=self.A, B=self.B, alpha=self.alpha, beta=self.beta, a=self.a)
        if full:
            d.update(b=self.b, G=self.G, n_points=self.n_points, delta=self.delta,
                     objective=self.objective,
                     rmse_log=float(np.sqrt(np.mean(self.residuals ** 2))))
        if self.intervals:
            d["intervals"] = {k: v.to_dict() for k, v in self.intervals.items()}
        return jsonable(d)


def _chinchilla_objective(p, lnN, lnD, lnL, delta):
    """Summed Huber of LSE(a - alpha lnN, b - beta lnD, e) - lnL, divided by delta, and its gradient.

    Dividing by the constant delta does not move the minimum; it only puts the objective on
    a scale where L-BFGS tolerances mean something.
    """
    a, b, e, al, be = p
    t0, t1 = a - al * lnN, b - be * lnD
    mx = np.maximum(np.maximum(t0, t1), e)
    w0, w1, w2 = np.exp(t0 - mx), np.exp(t1 - mx), np.exp(e - mx)
    s = w0 + w1 + w2
    r = mx + np.log(s) - lnL
    g = np.clip(r, -delta, delta) / (delta * s)
    g0, g1, g2 = g * w0, g * w1, g * w2
    grad = np.array([g0.sum(), g1.sum(), g2.sum(), -(g0 @ lnN), -(g1 @ lnD)])
    return huber(r, delta).sum() / delta, grad


def _vp_grid(u, v, L, delta, alphas, betas):
    """The variable-projection profile on a grid of exponents (centred logs): for each (alpha,
    beta), (E, A, B) from a least-squares problem on relative errors (all the 3x3 normal systems
    solved at once, coefficients floored at a tiny positive value), and the summed Huber loss on
    log L that they give. Returns (objective (ga, gb), coefficients (ga, gb, 3), XN, XD)."""
    lnL = np.log(L)
    XN = np.exp(-np.outer(alphas, u))        # (ga, n): (N/N0)^-alpha for each alpha
    XD = np.exp(-np.outer(betas, v))
    w, r = 1 / L ** 2, 1 / L                 # rows scaled by 1/L: relative errors
    G = np.empty((alphas.size, betas.size, 3, 3))
    G[..., 0, 0] = w.sum()
    G[..., 0, 1] = G[..., 1, 0] = (XN @ w)[:, None]
    G[..., 0, 2] = G[..., 2, 0] = (XD @ w)[None, :]
    G[..., 1, 1] = (XN ** 2 @ w)[:, None]
    G[..., 2, 2] = (XD ** 2 @ w)[None, :]
    G[..., 1, 2] = G[..., 2, 1] = (XN * w) @ XD.T
    rhs = np.stack(np.broadcast_arrays(r.sum(), (XN @ r)[:, None], (XD @ r)[None, :]), -1)
    with np.errstate(all="ignore"):
        coef = np.linalg.solve(G + 1e-12 * np.eye(3), rhs[..., None])[..., 0]
    coef = np.where(np.isfinite(coef), coef, 0.0)
    floor = 1e-6 * L.min()
    E0, A0, B0 = (np.maximum(coef[..., k], floor) for k in range(3))
    pred = E0[..., None] + A0[..., None] * XN[:, None, :] + B0[..., None] * XD[None, :, :]
    obj = huber(np.log(pred) - lnL, delta).sum(-1)
    return obj, coef, XN, XD


def _vp_start(u, v, L, coef, xn, xd, alpha, beta):
    """(a, b, e, alpha, beta) from one grid point's coefficients; NNLS where one came out negative
    (the unconstrained solution left the feasible set)."""
    floor = 1e-6 * L.min()
    e, a, b = coef
    if min(e, a, b) < 0:
        r = 1 / L
        M = np.column_stack([np.ones_like(L), xn, xd]) * r[:, None]
        e, a, b = np.maximum(nnls(M, np.ones_like(L))[0], floor)
    return np.array([np.log(a), np.log(b), np.log(e), alpha, beta])


COARSE = np.linspace(0.02, 1.5, 24)  # the exponents' grid; a step of 0.064


def _vp_starts_chinchilla(u, v, L, delta, n_best):
    """Best n_best (a, b, e, alpha, beta) of the coarse 24 x 24 grid of exponents by Huber
    objective: the starts of the multi-start search (kept as the reference fit_parametric is
    tested against)."""
    obj, coef, XN, XD = _vp_grid(u, v, L, delta, COARSE, COARSE)
    g = COARSE.size
    return [_vp_start(u, v, L, coef[i, j], XN[i], XD[j], COARSE[i], COARSE[j])
            for i, j in (divmod(int(f), g) for f in np.argsort(obj, axis=None)[:n_best])]


def _vp_basins(u, v, L, delta, n_best, levels: int = 3, k: int = 7):
    """Variable projection as a 2-D search: the coarse grid's local minima (one per basin of the
    profile, best first, at most n_best), each refined by zooming a k x k grid around it `levels`
    times (a factor k/2 finer each time). Returns their (a, b, e, alpha, beta)."""
    obj, _, _, _ = _vp_grid(u, v, L, delta, COARSE, COARSE)
    pad = np.pad(obj, 1, constant_values=np.inf)
    g = COARSE.size
    neighbours = np.stack([pad[1 + di:1 + di + g, 1 + dj:1 + dj + g]
                           for di in (-1, 0, 1) for dj in (-1, 0, 1) if di or dj])
    local = np.argwhere(obj <= neighbours.min(0))
    local = local[np.argsort(obj[tuple(local.T)])][:n_best]
    starts = []
    for i, j in local:
        al, be, step = COARSE[i], COARSE[j], COARSE[1] - COARSE[0]
        for _ in range(levels):
            alphas = np.clip(al + step * np.linspace(-1, 1, k), 1e-3, 5.0)
            betas = np.clip(be + step * np.linspace(-1, 1, k), 1e-3, 5.0)
            o, coef, XN, XD = _vp_grid(u, v, L, delta, alphas, betas)
            bi, bj = divmod(int(np.argmin(o)), k)
            al, be, step = alphas[bi], betas[bj], 2 * step / (k - 1)
        starts.append(_vp_start(u, v, L, coef[bi, bj], XN[bi], XD[bj], al, be))
    return starts


def _polish(starts, u, v, lnL, delta):
    """L-BFGS on the summed Huber from each start; the best optimum."""
    bounds = [(None, None)] * 3 + [(1e-4, 5.0)] * 2
    best = None
    for p0 in starts:
        sol = minimize(_chinchilla_objective, p0, args=(u, v, lnL, delta), bounds=bounds, **LBFGS)
        if best is None or sol.fun < best.fun:
            best = sol
    return best


@one_blas_thread()
def fit_parametric(N, D, L, delta: float = 1e-3, *, n_starts: int = 8,
                   init: ParametricFit | None = None) -> ParametricFit:
    """Chinchilla's parametric fit: summed Huber(delta) on log L, minimised by L-BFGS from the
    optimum of each basin that variable projection finds.

    For fixed exponents the model is linear in (E, A, B), so the search is over (alpha, beta)
    alone (_vp_basins): the coarse grid's local minima, each refined by zooming in. L-BFGS then
    polishes each in all five parameters (the Huber optimum, not the least-squares one). The
    profile has one basin on most data, so this costs one polish where starting from the grid's
    best eight points cost eight, and finds the same optimum (tests/unit/test_vp_fit.py).

    n_starts: at most this many basins are polished (0: none).
    init: a previous fit to warm-start from (the bootstrap uses it); with n_starts=0 it is
    the only start.
    """
    N, D, L = positive_array("N", N), positive_array("D", D), positive_array("L", L)
    n = check_points(6, "L(N, D) (5 parameters)", N=N, D=D, L=L)
    check_distinct("N", N, 3, "L(N, D)")
    check_distinct("D", D, 3, "L(N, D)")
    mN, mD = np.log(N).mean(), np.log(D).mean()
    u, v, lnL = np.log(N) - mN, np.log(D) - mD, np.log(L)

    starts = _vp_basins(u, v, L, delta, n_starts) if n_starts > 0 else []
    if init is not None:
        starts.append(np.array([np.log(init.A) - init.alpha * mN, np.log(init.B) - init.beta * mD,
                                np.log(init.E), init.alpha, init.beta]))
    if not starts:
        raise ValueError("need n_starts > 0 or an init fit")
    return _result(_polish(starts, u, v, lnL, delta), N, D, lnL, mN, mD, n, delta)


def _result(best, N, D, lnL, mN, mD, n, delta) -> ParametricFit:
    a, b, e, al, be = best.x
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # finite_fit says so below
        fit = ParametricFit(E=float(np.exp(e)), A=float(np.exp(a + al * mN)),
                            B=float(np.exp(b + be * mD)), alpha=float(al), beta=float(be),
                            n_points=n, delta=delta, objective=float(best.fun * delta),
                            residuals=np.zeros(0))
        fit = dataclasses.replace(fit, residuals=lnL - np.log(fit.predict(N, D)))
    return finite_fit(fit, "L(N, D)", "E", "A", "B", "alpha", "beta")


# ---------------------------------------------------------------- Kaplan L(N, D)

@dataclass(frozen=True, eq=False)
class KaplanFit:
    """Kaplan et al.'s L(N, D) = [(Nc/N)^(alpha_N/alpha_D) + Dc/D]^alpha_D, fitted: with D fixed,
    growing N plateaus.

    Attributes
    ----------
    Nc, Dc : float
        Scales of N (parameters) and D (examples seen) in the form.
    alpha_N, alpha_D : float
        Exponents: with D unlimited the loss falls as (Nc/N)^alpha_N, with N unlimited as (Dc/D)^alpha_D.
    n_points : int
        Points fitted.
    objective : float
        Summed Huber loss at the optimum.
    residuals : ndarray
        ln L - ln prediction, one per point.
    """
    Nc: float
    Dc: float
    alpha_N: float
    alpha_D: float
    n_points: int
    objective: float
    residuals: np.ndarray

    def predict(self, N, D) -> np.ndarray:
        # in log space, as the fit is: with alpha_D near its bound, (Nc/N)^(alpha_N/alpha_D)
        # overflows although the prediction itself is an ordinary number
        lnN, lnD = np.log(np.asarray(N, dtype=float)), np.log(np.asarray(D, dtype=float))
        q = self.alpha_N / self.alpha_D
        return np.exp(self.alpha_D * np.logaddexp(q * (np.log(self.Nc) - lnN), np.log(self.Dc) - lnD))

    def to_dict(self) -> dict:
        return jsonable(dict(Nc=self.Nc, Dc=self.Dc, alpha_N=self.alpha_N, alpha_D=self.alpha_D,
                             n_points=self.n_points, objective=self.objective,
                             rmse_log=float(np.sqrt(np.mean(self.residuals ** 2)))))


def _kaplan_objective(p, lnN, lnD, lnL, delta):
    lnNc, lnDc, aN, aD = p
    q = aN / aD
    t0, t1 = q * (lnNc - lnN), lnDc - lnD
    mx = np.maximum(t0, t1)
    w0, w1 = np.exp(t0 - mx), np.exp(t1 - mx)
    s = w0 + w1
    S = mx + np.log(s)
    w0, w1 = w0 / s, w1 / s
    r = aD * S - lnL
    g = np.clip(r, -delta, delta) / delta
    grad = np.array([aN * (g @ w0), aD * (g @ w1), g @ (w0 * (lnNc - lnN)),
                     g @ (S - w0 * q * (lnNc - lnN))])
    return huber(r, delta).sum() / delta, grad


@one_blas_thread()
def fit_kaplan(N, D, L, delta: float = 1e-3, *, n_starts: int = 6) -> KaplanFit:
    """Kaplan et al.'s joint form, same Huber-on-log-loss objective as fit_parametric."""
    N, D, L = positive_array("N", N), positive_array("D", D), positive_array("L", L)
    n = check_points(5, "Kaplan's L(N, D) (4 parameters)", N=N, D=D, L=L)
    check_distinct("N", N, 2, "Kaplan's L(N, D)")
    check_distinct("D", D, 2, "Kaplan's L(N, D)")
    lnN, lnD, lnL = np.log(N), np.log(D), np.log(L)
    mN, mD = lnN.mean(), lnD.mean()
    # For fixed exponents, L^(1/alpha_D) = Nc^q N^-q + Dc/D is linear in (Nc^q, Dc).
    cands = []
    grid = np.geomspace(0.02, 2.0, 16)
    for aN in grid:
        for aD in grid:
            q = aN / aD
            with np.errstate(over="ignore", divide="ignore", invalid="ignore", under="ignore"):
                y = L ** (1 / aD)
                M = np.column_stack([np.exp(-q * (lnN - mN)), np.exp(-(lnD - mD))]) / y[:, None]
            if not np.isfinite(M).all() or not (M > 0).any(axis=0).all():  # overflowed: not a start
                continue
            coef, _ = nnls(M, np.ones_like(y))
            if (coef <= 0).any():
                continue
            p = np.array([np.log(coef[0]) / q + mN, np.log(coef[1]) + mD, aN, aD])
            cands.append((_kaplan_objective(p, lnN, lnD, lnL, delta)[0], p))
    if not cands:
        raise ValueError("Kaplan's L(N, D) found no start with both terms positive")
    cands.sort(key=lambda c: c[0])
    bounds = [(None, None)] * 2 + [(1e-4, 5.0)] * 2
    best = None
    for _, p0 in cands[:n_starts]:
        sol = minimize(_kaplan_objective, p0, args=(lnN, lnD, lnL, delta), bounds=bounds, **LBFGS)
        if best is None or sol.fun < best.fun:
            best = sol
    lnNc, lnDc, aN, aD = best.x
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # finite_fit says so below
        fit = KaplanFit(Nc=float(np.exp(lnNc)), Dc=float(np.exp(lnDc)), alpha_N=float(aN),
                        alpha_D=float(aD), n_points=n, objective=float(best.fun * delta),
                        residuals=np.zeros(0))
        fit = dataclasses.replace(fit, residuals=lnL - np.log(fit.predict(N, D)))
    return finite_fit(fit, "Kaplan's L(N, D)", "Nc", "Dc", "alpha_N", "alpha_D")
