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
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # finite_fit says so below
                fit = PowerLawFit(E=0.0, A=float(np.exp(a + al * m)), alpha=float(al),
                                  irreducible=False, n_points=n, residuals=np.zeros(0),
                                  x_range=(float(x.min()), float(x.max())))
                fit = dataclasses.replace(fit, residuals=ly - np.log(fit.predict(x)))
            return finite_fit(fit, "a power law", "A", "alpha")
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
                       **LBFGS)
        if best is None or sol.fun < best.fun:
            best = sol
    a, al = best.x[:2]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # finite_fit says so below
        E = float(np.exp(best.x[2])) if irreducible else 0.0
        fit = PowerLawFit(E=E, A=float(np.exp(a + al * m)), alpha=float(al), irreducible=irreducible,
                          n_points=n, residuals=np.zeros(0), x_range=(float(x.min()), float(x.max())))
        fit = dataclasses.replace(fit, residuals=ly - np.log(fit.predict(x)))
    return finite_fit(fit, "a power law", "A", "alpha", *(["E"] if irreducible else []))


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
