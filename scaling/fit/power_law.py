"""The one-variable scaling law L(x) = A x^-alpha, or E + A x^-alpha (Hestness et al.'s extra
constant), fitted by Huber regression on log L with the coefficients as logs and alpha bounded positive.

Starting points come from variable projection: with alpha fixed the model is linear in (E, A), so
non-negative least squares over a grid of alphas gives good starts cheaply. x is centred in log
space before fitting (x/x0 with x0 the geometric mean): the same model, far better conditioned,
since log A and alpha are otherwise almost collinear.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize, nnls

from scaling.fit import power_newton
from scaling.fit.intervals import Interval
from scaling.fit.optim import LBFGS, check_distinct, check_points, finite_fit, huber, one_blas_thread, positive_array
from scaling.fit.serialize import jsonable


@dataclass(frozen=True, eq=False)
class PowerLawFit:
    """A fitted power law y = E + A x^-alpha (E = 0 without the irreducible term).

    Attributes
    ----------
    E : float
        Irreducible part of y, in y's units (the loss's); 0.0 when irreducible is False.
    A : float
        Coefficient, in y's units at x = 1.
    alpha : float
        Exponent of x: y falls as x^-alpha (x in FLOPs, parameters or examples, as fitted).
    irreducible : bool
        Whether E was fitted.
    n_points : int
        Points fitted.
    residuals : ndarray
        ln y - ln prediction, one per point.
    x_range : tuple of float
        Smallest and largest x fitted: the law is an extrapolation outside.
    alpha_interval : Interval or None
        Bootstrap interval of alpha, where the fit came with one (analyze with n_boot > 0).
    """
    E: float
    A: float
    alpha: float
    irreducible: bool
    n_points: int
    residuals: np.ndarray
    x_range: tuple[float, float]
    alpha_interval: Interval | None = None

    def predict(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return self.E + self.A * x ** -self.alpha

    @property
    def rmse_log(self) -> float:
        """RMS of the residuals (natural log): 0.01 is about 1% off on average."""
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
    Without E the problem is convex and solved directly; with E, Newton's method from n_starts
    grid starts, or L-BFGS-B from those and init, a previous fit to warm-start from, as the
    bootstrap does.
    """
    job = _Job(x, y, irreducible, delta, n_starts, init)
    if job.fit is None:
        job.solve(*(power_newton.minimise(*job.problem, BOUNDS) if job.newton else (None, None)))
    return job.fit


@one_blas_thread()
def fit_power_laws(problems) -> list[PowerLawFit | str]:
    """fit_power_law(x, y, irreducible, delta=delta) for each (x, y, irreducible, delta), the
    irreducible ones' Newton iterations in one batch; the message of its ValueError where a fit
    refuses its points."""
    jobs = []
    for x, y, irreducible, delta in problems:
        try:
            jobs.append(_Job(x, y, irreducible, delta, 4, None))
        except ValueError as e:
            jobs.append(str(e))
    newton = [j for j in jobs if not isinstance(j, str) and j.fit is None and j.newton]
    optima = dict(zip(map(id, newton), power_newton.minimise_many([j.problem for j in newton], BOUNDS)
                      if newton else []))
    out = []
    for j in jobs:
        if not isinstance(j, str) and j.fit is None:
            try:
                j.solve(*optima.get(id(j), (None, None)))
            except ValueError as e:
                j = str(e)
        out.append(j if isinstance(j, str) else j.fit)
    return out


BOUNDS = (1e-6, 10.0)  # of alpha
DEGENERATE = 1e-4  # an irreducible term below this fraction of the smallest y is no term: E -> 0


class _Job:
    """One fit_power_law: its checked points and starts, then its optimum (solve) and fit (a pure
    law's is found at once); a ValueError where the points cannot be fitted."""

    def __init__(self, x, y, irreducible, delta, n_starts, init):
        x, y = positive_array("x", x), positive_array("y", y)
        n = check_points(4 if irreducible else 3, "a power law" + (" with E" if irreducible else ""),
                         x=x, y=y)
        check_distinct("x", x, 3 if irreducible else 2, "a power law")
        m = np.log(x).mean()
        u, ly = np.log(x) - m, np.log(y)
        self.x, self.y, self.n, self.m, self.u, self.ly = x, y, n, m, u, ly
        self.irreducible, self.delta, self.fit = irreducible, delta, None
        if not irreducible:
            # Without E this is Huber regression of log y on log x: convex, so no starts needed.
            b0 = None if init is None else np.array([np.log(init.A) - init.alpha * m, init.alpha])
            a, al = _huber_line(u, ly, delta, b0)
            if al > 0:
                self._finish(a, al, None)
                return
            # loss does not fall with x: the bounded fit below pins alpha at its lower bound

        # Starts: for fixed alpha the model is linear in (E, A); NNLS on relative errors.
        # Parameters: (a, alpha) or (a, alpha, e), with A = exp(a) at the centre, E = exp(e).
        # Grid starts with E go to Newton's method (power_newton), all alphas' NNLS at once. A warm
        # start (the bootstrap's) keeps L-BFGS-B's short first steps, which stay in init's basin:
        # Newton's full steps can reach a neighbouring local minimum of the Huber loss instead (seen on
        # a resample of the shipped grid's L(N) slice). The pure law with alpha at its bound: rare.
        self.n_starts, self.init = n_starts, init
        self.newton = irreducible and init is None and n_starts > 0
        starts = (_grid_starts(u, y, ly, irreducible, delta, n_starts) if self.newton
                  else self._lbfgs_starts())
        if not starts:
            raise ValueError("a power law: no usable start (x spans too many orders of magnitude)" if n_starts > 0
                             else "need n_starts > 0 or an init fit")
        self.starts = starts
        self.problem = (np.array(starts, float), u, ly, delta)

    def _lbfgs_starts(self) -> list:
        starts = _nnls_starts(self.u, self.y, self.ly, self.irreducible, self.delta, self.n_starts)
        if self.init is not None:
            init, y, m = self.init, self.y, self.m
            E0 = [np.log(max(init.E, 1e-3 * y.min()))] if self.irreducible else []
            starts.append([np.log(init.A) - init.alpha * m, max(init.alpha, 1e-3)] + E0)
        return starts

    def solve(self, P=None, fs=None) -> None:
        """The fit from Newton's optima P (losses fs) of the starts, or else by L-BFGS-B."""
        ok = P is not None and np.isfinite(fs).any()  # else no start had a finite loss: as before Newton
        if ok:
            best = P[int(np.argmin(np.where(np.isfinite(fs), fs, np.inf)))]
        if not ok or best[2] < np.log(DEGENERATE * self.y.min()):
            # E ~ 0: the optimum lies at e = -inf, where any solver stops somewhere arbitrary, and there
            # the backtest's near-tie of this law and the pure one breaks on digits far below any answer.
            # L-BFGS-B from scipy's NNLS starts, as before Newton, stops where it always has.
            starts = (self._lbfgs_starts() if self.newton else []) or self.starts
            bounds = [(None, None), BOUNDS] + [(None, None)] * self.irreducible
            best = min((minimize(_power_objective, np.array(p0, float), args=(self.u, self.ly, self.delta),
                                 bounds=bounds, **LBFGS) for p0 in starts), key=lambda sol: sol.fun).x
        self._finish(best[0], best[1], best[2] if self.irreducible else None)

    def _finish(self, a, al, e) -> None:
        x, ly, m = self.x, self.ly, self.m
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # finite_fit says so below
            E = float(np.exp(e)) if e is not None else 0.0
            fit = PowerLawFit(E=E, A=float(np.exp(a + al * m)), alpha=float(al), irreducible=self.irreducible,
                              n_points=self.n, residuals=np.zeros(0), x_range=(float(x.min()), float(x.max())))
            fit = dataclasses.replace(fit, residuals=ly - np.log(fit.predict(x)))
        self.fit = finite_fit(fit, "a power law", "A", "alpha", *(["E"] if self.irreducible else []))


def _nnls_starts(u, y, ly, irreducible: bool, delta: float, n_starts: int) -> list[list[float]]:
    """_grid_starts one alpha at a time by scipy's NNLS (the L-BFGS-B paths' starts)."""
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
    return [p for _, p in starts[:n_starts]]


def _grid_starts(u, y, ly, irreducible: bool, delta: float, n_starts: int) -> list[list[float]]:
    """The n_starts best of 48 starts, alpha on a grid from 1e-3 to 4 and (A, E) for each by
    non-negative least squares on relative errors, all alphas at once (for one or two columns
    NNLS has a closed form: least squares where it is non-negative, else the best single column)."""
    al = np.geomspace(1e-3, 4.0, 48)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        m0 = np.exp(-al[:, None] * u) / y
        m1 = np.broadcast_to(1.0 / y, m0.shape)
        ok = np.isfinite(m0).all(axis=1) & np.isfinite(m1).all(axis=1)  # x^-alpha overflows: not a start
        one0 = np.maximum(m0.sum(axis=1) / (m0 * m0).sum(axis=1), 0.0)  # the A column alone
        if irreducible:
            one1 = np.maximum(m1.sum(axis=1) / (m1 * m1).sum(axis=1), 0.0)
            # least squares by Gram-Schmidt: stable where the columns are nearly parallel (small alpha)
            r00 = np.sqrt((m0 * m0).sum(axis=1))
            q0 = m0 / r00[:, None]
            r01 = (q0 * m1).sum(axis=1)
            v = m1 - r01[:, None] * q0
            r11 = np.sqrt((v * v).sum(axis=1))
            c1 = (v / r11[:, None]).sum(axis=1) / r11
            c0 = (q0.sum(axis=1) - r01 * c1) / r00
            both = (c0 >= 0) & (c1 >= 0) & np.isfinite(c0) & np.isfinite(c1)
            sq0 = ((m0 * one0[:, None] - 1) ** 2).sum(axis=1)
            sq1 = ((m1 * one1[:, None] - 1) ** 2).sum(axis=1)
            pick0 = sq0 <= sq1
            A0 = np.where(both, c0, np.where(pick0, one0, 0.0))
            E0 = np.where(both, c1, np.where(pick0, 0.0, one1))
            A0 = np.maximum(A0, 1e-12 * y.min())
            E0 = np.maximum(E0, 1e-3 * y.min())
            P = np.column_stack([np.log(A0), al, np.log(E0)])
        else:
            A0 = np.maximum(one0, 1e-12 * y.min())
            E0 = np.zeros_like(A0)
            P = np.column_stack([np.log(A0), al])
        r = np.log(E0[:, None] + A0[:, None] * np.exp(-al[:, None] * u)) - ly
        loss = huber(r, delta).sum(axis=1)
    ok &= np.isfinite(P).all(axis=1)  # y values near the float minimum: A0 underflows, not a start
    idx = np.flatnonzero(ok)
    idx = idx[np.argsort(loss[idx], kind="stable")][:n_starts]
    return [list(P[i]) for i in idx]


def _huber_line(u, ly, delta, b0=None, iters=200):
    """(a, alpha) minimising sum Huber(a - alpha u - ly) by iteratively reweighted least squares.

    Each step solves a weighted 2x2 system; the weights (1 inside delta, delta/|r| outside)
    make it a majorise-minimise scheme, so the Huber loss never increases. The system's five
    weighted sums come from one product, and it is solved in closed form (a step costs
    microseconds, and a first draw takes dozens).
    """
    X = np.column_stack([np.ones_like(u), -u])
    a, al = np.linalg.lstsq(X, ly, rcond=None)[0] if b0 is None else b0
    M = np.stack([np.ones_like(u), u, u * u, ly, u * ly])
    for _ in range(iters):
        r = np.abs(a - al * u - ly)
        w = np.where(r <= delta, 1.0, delta / np.maximum(r, 1e-300))
        sw, su, suu, sy, suy = M @ w
        det = sw * suu - su * su
        if det == 0:
            raise np.linalg.LinAlgError("Singular matrix")
        a_new, al_new = (suu * sy - su * suy) / det, (su * sy - sw * suy) / det
        if max(abs(a_new - a), abs(al_new - al)) < 1e-11:
            return np.array([a_new, al_new])
        a, al = a_new, al_new
    return np.array([a, al])


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
