"""Scaling-law fitters, in log space, with a Huber loss; coefficients fitted as logs, exponents
bounded positive.

- fit_power_law: L(x) = A x^-alpha, or E + A x^-alpha (Hestness et al.'s extra constant).
- fit_parametric: Chinchilla's L(N, D) = E + A/N^alpha + B/D^beta (Hoffmann et al. 2022).
- fit_kaplan: L(N, D) = [(Nc/N)^(alphaN/alphaD) + Dc/D]^alphaD (Kaplan et al. 2020).

Starting points come from variable projection: with the exponents fixed, each model is linear
in its coefficients, so non-negative least squares over a grid of exponents gives good starts
in milliseconds (a plain grid of thousands of L-BFGS starts takes minutes on 2 cores).
Inputs are centred in log space before fitting (N/N0 with N0 the geometric mean): the same
model, but far better conditioned, since log A and alpha are otherwise almost collinear.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize, nnls

from scaling.fit._util import Interval, check_distinct, check_points, huber, jsonable, one_blas_thread, positive_array

# Tight tolerances: with delta = 1e-3 the Huber loss is nearly L1 and its gradients are small,
# so scipy's defaults stop early (the trap behind Hoffmann et al.'s published fit).
_LBFGS = dict(method="L-BFGS-B", jac=True, options=dict(maxiter=2000, ftol=1e-13, gtol=1e-10))


def _finite(fit, what: str, *names: str):
    """The fit, or a ValueError when its optimum lies at infinity: a coefficient that overflows
    (or underflows to 0) or a prediction that does, on points spanning more orders of magnitude
    than the model can bend to (the loss jumping by 1e200 between neighbouring x, say)."""
    bad = [k for k in names if not (np.isfinite(getattr(fit, k)) and getattr(fit, k) > 0)]
    if bad or not np.isfinite(fit.residuals).all():
        raise ValueError(f"{what}: no finite fit to these points ({', '.join(bad) or 'predictions'} "
                         "overflow); the values span too many orders of magnitude for this form")
    return fit


# ---------------------------------------------------------------- L(x) = E + A x^-alpha

@dataclass(frozen=True, eq=False)
class PowerLawFit:
    E: float
    A: float
    alpha: float
    irreducible: bool
    n_points: int
    residuals: np.ndarray            # log(y) - log(prediction), one per point
    x_range: tuple[float, float]
    alpha_interval: Interval | None = None

    def predict(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return self.E + self.A * x ** -self.alpha

    @property
    def rmse_log(self) -> float:
        return float(np.sqrt(np.mean(self.residuals ** 2)))

    def to_dict(self) -> dict:
        return jsonable(dict(E=self.E, A=self.A, alpha=self.alpha, irreducible=self.irreducible,
                             n_points=self.n_points, rmse_log=self.rmse_log,
                             residuals=self.residuals, x_range=self.x_range,
                             alpha_interval=self.alpha_interval))


@one_blas_thread()
def fit_power_law(x, y, irreducible: bool = False, *, delta: float = 1e-2, n_starts: int = 4,
                  init: PowerLawFit | None = None) -> PowerLawFit:
    """Fit y = A x^-alpha (+ E) by Huber regression on log y.

    delta is the Huber scale on log residuals (1e-2: points more than ~1% off count linearly).
    Without E the problem is convex and solved directly; with E, L-BFGS-B from n_starts
    grid starts (and init, a previous fit to warm-start from, as the bootstrap does).
    """
    x, y = positive_array("x", x), positive_array("y", y)
    n = check_points(4 if irreducible else 3, "a power law" + (" with E" if irreducible else ""),
                     x=x, y=y)
    check_distinct("x", x, 3 if irreducible else 2, "a power law")
    m = np.log(x).mean()
    u, ly = np.log(x) - m, np.log(y)
    if not irreducible:
        # Without E this is Huber regression of log y on log x: convex, so no starts needed.
        b0 = None if init is None else np.array([np.log(init.A) - init.alpha * m, init.alpha])
        a, al = _huber_line(u, ly, delta, b0)
        if al > 0:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # _finite says so below
                fit = PowerLawFit(E=0.0, A=float(np.exp(a + al * m)), alpha=float(al),
                                  irreducible=False, n_points=n, residuals=np.zeros(0),
                                  x_range=(float(x.min()), float(x.max())))
                fit = dataclasses.replace(fit, residuals=ly - np.log(fit.predict(x)))
            return _finite(fit, "a power law", "A", "alpha")
        # loss does not fall with x: the bounded fit below pins alpha at its lower bound

    # Starts: for fixed alpha the model is linear in (E, A); NNLS on relative errors.
    # Parameters: (a, alpha) or (a, alpha, e), with A = exp(a) at the centre, E = exp(e).
    starts = []
    for al in np.geomspace(1e-3, 4.0, 48) if n_starts > 0 else []:
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            cols = [np.exp(-al * u)] + ([np.ones_like(u)] if irreducible else [])
            M = np.column_stack(cols) / y[:, None]
        if not np.isfinite(M).all():  # x spans so many decades that x^-alpha overflows: not a start
            continue
        coef, _ = nnls(M, np.ones_like(y))
        A0 = max(coef[0], 1e-12 * y.min())
        E0 = max(coef[1], 1e-3 * y.min()) if irreducible else 0.0
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            r = np.log(E0 + A0 * np.exp(-al * u)) - ly
            p0 = [np.log(A0), al] + ([np.log(E0)] if irreducible else [])
        if np.isfinite(p0).all():  # y values near the float minimum: A0 underflows, not a start
            starts.append((huber(r, delta).sum(), p0))
    starts.sort(key=lambda s: s[0])
    starts = [p for _, p in starts[:n_starts]]
    if init is not None:
        E0 = [np.log(max(init.E, 1e-3 * y.min()))] if irreducible else []
        starts.append([np.log(init.A) - init.alpha * m, max(init.alpha, 1e-3)] + E0)
    if not starts:
        raise ValueError("a power law: no usable start (x spans too many orders of magnitude)" if n_starts > 0
                         else "need n_starts > 0 or an init fit")
    bounds = [(None, None), (1e-6, 10.0)] + [(None, None)] * irreducible
    best = None
    for p0 in starts:
        sol = minimize(_power_objective, np.array(p0, float), args=(u, ly, delta), bounds=bounds,
                       **_LBFGS)
        if best is None or sol.fun < best.fun:
            best = sol
    a, al = best.x[:2]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # _finite says so below
        E = float(np.exp(best.x[2])) if irreducible else 0.0
        fit = PowerLawFit(E=E, A=float(np.exp(a + al * m)), alpha=float(al), irreducible=irreducible,
                          n_points=n, residuals=np.zeros(0), x_range=(float(x.min()), float(x.max())))
        fit = dataclasses.replace(fit, residuals=ly - np.log(fit.predict(x)))
    return _finite(fit, "a power law", "A", "alpha", *(["E"] if irreducible else []))


def _huber_line(u, ly, delta, b0=None, iters=200):
    """(a, alpha) minimising sum Huber(a - alpha u - ly) by iteratively reweighted least squares.

    Each step solves a weighted 2x2 system; the weights (1 inside delta, delta/|r| outside)
    make it a majorise-minimise scheme, so the Huber loss never increases.
    """
    X = np.column_stack([np.ones_like(u), -u])
    b = np.linalg.lstsq(X, ly, rcond=None)[0] if b0 is None else b0
    for _ in range(iters):
        r = np.abs(X @ b - ly)
        w = np.where(r <= delta, 1.0, delta / np.maximum(r, 1e-300))
        Xw = X * w[:, None]
        b_new = np.linalg.solve(Xw.T @ X, Xw.T @ ly)
        if np.max(np.abs(b_new - b)) < 1e-11:
            return b_new
        b = b_new
    return b


def _power_objective(p, u, ly, delta):
    """Summed Huber of log(E + A e^(-alpha u)) - log y, over delta, and its gradient."""
    a, al = p[0], p[1]
    t0 = a - al * u
    if p.size == 2:
        g = np.clip(t0 - ly, -delta, delta) / delta
        return huber(t0 - ly, delta).sum() / delta, np.array([g.sum(), -(g @ u)])
    e = p[2]
    mx = np.maximum(t0, e)
    w0, w1 = np.exp(t0 - mx), np.exp(e - mx)
    s = w0 + w1
    r = mx + np.log(s) - ly
    g = np.clip(r, -delta, delta) / (delta * s)
    g0 = g * w0
    return huber(r, delta).sum() / delta, np.array([g0.sum(), -(g0 @ u), (g * w1).sum()])


# ---------------------------------------------------------------- Chinchilla L(N, D)

@dataclass(frozen=True, eq=False)
class ParametricFit:
    """L(N, D) = E + A/N^alpha + B/D^beta; a = beta/(alpha+beta) is the N_opt exponent."""
    E: float
    A: float
    B: float
    alpha: float
    beta: float
    n_points: int
    delta: float
    objective: float                 # summed Huber loss at the optimum
    residuals: np.ndarray            # log L - log prediction
    intervals: dict | None = None    # name -> Interval, when bootstrapped

    @property
    def a(self) -> float:
        return self.beta / (self.alpha + self.beta)

    @property
    def b(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    @property
    def G(self) -> float:
        return (self.alpha * self.A / (self.beta * self.B)) ** (1 / (self.alpha + self.beta))

    def predict(self, N, D) -> np.ndarray:
        N, D = np.asarray(N, dtype=float), np.asarray(D, dtype=float)
        return self.E + self.A * N ** -self.alpha + self.B * D ** -self.beta

    def nopt(self, C, c_per: float) -> np.ndarray:
        """Compute-optimal N for budget C under the convention C = c_per * N * D."""
        return self.G * (np.asarray(C, dtype=float) / c_per) ** self.a

    def dopt(self, C, c_per: float) -> np.ndarray:
        return np.asarray(C, dtype=float) / c_per / self.nopt(C, c_per)

    def format(self) -> str:
        """Plain text for the CLI: one parameter a line, with its interval when bootstrapped."""
        iv = self.intervals or {}
        lines = [f"L(N, D) = E + A/N^alpha + B/D^beta, summed Huber (delta {self.delta:g}) on "
                 f"log L, {self.n_points} points"]
        for k in ("E", "A", "B", "alpha", "beta", "a"):
            i = iv.get(k)
            ci = f"  [{i.lo:.4g}, {i.hi:.4g}] ({i.level:.0%}, {i.n_boot} resamples)" if i else ""
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


def _vp_starts_chinchilla(u, v, L, delta, n_best):
    """Best (a, b, e, alpha, beta) on a grid of exponents (centred logs).

    For each (alpha, beta) on a 24 x 24 grid, (E, A, B) solve a weighted least-squares
    problem on relative errors; all 576 3x3 normal systems are solved at once. The best
    n_best by Huber objective are re-solved with NNLS where a coefficient came out negative.
    """
    lnL = np.log(L)
    grid = np.linspace(0.02, 1.5, 24)
    g = grid.size
    XN = np.exp(-np.outer(grid, u))          # (g, n): (N/N0)^-alpha for each alpha
    XD = np.exp(-np.outer(grid, v))
    w, r = 1 / L ** 2, 1 / L                 # rows scaled by 1/L: relative errors
    G = np.empty((g, g, 3, 3))
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
    starts = []
    for flat in np.argsort(obj, axis=None)[:n_best]:
        i, j = divmod(int(flat), g)
        e, a, b = coef[i, j]
        if min(e, a, b) < 0:                 # the unconstrained solution left the feasible set
            M = np.column_stack([np.ones_like(L), XN[i], XD[j]]) * r[:, None]
            e, a, b = np.maximum(nnls(M, np.ones_like(L))[0], floor)
        starts.append(np.array([np.log(a), np.log(b), np.log(e), grid[i], grid[j]]))
    return starts


@one_blas_thread()
def fit_parametric(N, D, L, delta: float = 1e-3, *, n_starts: int = 8,
                   init: ParametricFit | None = None) -> ParametricFit:
    """Chinchilla's parametric fit: summed Huber(delta) on log L, L-BFGS from several starts.

    n_starts: how many of the best variable-projection grid points to start L-BFGS from.
    init: a previous fit to warm-start from (the bootstrap uses it); with n_starts=0 it is
    the only start.
    """
    N, D, L = positive_array("N", N), positive_array("D", D), positive_array("L", L)
    n = check_points(6, "L(N, D) (5 parameters)", N=N, D=D, L=L)
    check_distinct("N", N, 3, "L(N, D)")
    check_distinct("D", D, 3, "L(N, D)")
    mN, mD = np.log(N).mean(), np.log(D).mean()
    u, v, lnL = np.log(N) - mN, np.log(D) - mD, np.log(L)

    starts = _vp_starts_chinchilla(u, v, L, delta, n_starts) if n_starts > 0 else []
    if init is not None:
        starts.append(np.array([np.log(init.A) - init.alpha * mN, np.log(init.B) - init.beta * mD,
                                np.log(init.E), init.alpha, init.beta]))
    if not starts:
        raise ValueError("need n_starts > 0 or an init fit")
    bounds = [(None, None)] * 3 + [(1e-4, 5.0)] * 2
    best = None
    for p0 in starts:
        sol = minimize(_chinchilla_objective, p0, args=(u, v, lnL, delta), bounds=bounds, **_LBFGS)
        if best is None or sol.fun < best.fun:
            best = sol
    a, b, e, al, be = best.x
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # _finite says so below
        fit = ParametricFit(E=float(np.exp(e)), A=float(np.exp(a + al * mN)),
                            B=float(np.exp(b + be * mD)), alpha=float(al), beta=float(be),
                            n_points=n, delta=delta, objective=float(best.fun * delta),
                            residuals=np.zeros(0))
        fit = dataclasses.replace(fit, residuals=lnL - np.log(fit.predict(N, D)))
    return _finite(fit, "L(N, D)", "E", "A", "B", "alpha", "beta")


# ---------------------------------------------------------------- Kaplan L(N, D)

@dataclass(frozen=True, eq=False)
class KaplanFit:
    """L(N, D) = [(Nc/N)^(alpha_N/alpha_D) + Dc/D]^alpha_D: with D fixed, growing N plateaus."""
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
        sol = minimize(_kaplan_objective, p0, args=(lnN, lnD, lnL, delta), bounds=bounds, **_LBFGS)
        if best is None or sol.fun < best.fun:
            best = sol
    lnNc, lnDc, aN, aD = best.x
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # _finite says so below
        fit = KaplanFit(Nc=float(np.exp(lnNc)), Dc=float(np.exp(lnDc)), alpha_N=float(aN),
                        alpha_D=float(aD), n_points=n, objective=float(best.fun * delta),
                        residuals=np.zeros(0))
        fit = dataclasses.replace(fit, residuals=lnL - np.log(fit.predict(N, D)))
    return _finite(fit, "Kaplan's L(N, D)", "Nc", "Dc", "alpha_N", "alpha_D")
