"""L(N, D) with the two terms joined by a power mean instead of a sum:
L = E + [(A N^-alpha)^q + (B D^-beta)^q]^(1/q). q = 1 is Chinchilla's sum; q > 1 turns the corner
between the model-limited and the data-limited regimes more sharply (the bottleneck), q < 1 more
softly. Fitted as the sum is: summed Huber (delta 1e-3) on log L, L-BFGS, started from the sum's fit.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from scaling.fit.optim import check_distinct, check_points, finite_fit, huber, positive_array
from scaling.fit.parametric import fit_parametric

Q_BOUNDS = (0.2, 10.0)  # past these the mean is a max or a min to within the noise: q is not identified
STARTS_Q = (1.0, 0.5, 2.0)


@dataclass(frozen=True, eq=False)
class PowerMeanFit:
    """L(N, D) = E + [(A N^-alpha)^q + (B D^-beta)^q]^(1/q), fitted by summed Huber on log L.

    Attributes
    ----------
    E, A, B : float
        The irreducible loss and the two terms' coefficients (loss units).
    alpha, beta : float
        The exponents of N and of D.
    q : float
        The power of the mean joining the two terms; 1 is the sum.
    n_points : int
        Points fitted.
    objective : float
        The summed Huber loss at the optimum (log-loss units).
    residuals : ndarray
        log L - log predicted, per point.
    """

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    q: float
    n_points: int
    objective: float
    residuals: np.ndarray

    def predict(self, N, D) -> np.ndarray:
        N, D = np.asarray(N, float), np.asarray(D, float)
        x, y = self.A * N ** -self.alpha, self.B * D ** -self.beta
        return self.E + (x ** self.q + y ** self.q) ** (1 / self.q)

    @property
    def a(self) -> float:
        """beta / (alpha + beta): N_opt's exponent where C is proportional to N D, whatever q is
        (along the optimum both terms keep a fixed ratio)."""
        return self.beta / (self.alpha + self.beta)


def _objective(p, u, v, lnL, delta):
    a, b, e, al, be, lq = p
    q = np.exp(lq)
    reducible = np.logaddexp(q * (a - al * u), q * (b - be * v)) / q
    r = np.logaddexp(e, reducible) - lnL
    return float(huber(r, delta).sum() / delta)


def fit_power_mean(N, D, L, delta: float = 1e-3, start=None) -> PowerMeanFit:
    """The power-mean form's fit (ValueError, in one line, when the points cannot identify it).
    start: the sum form's fit of the same points, where one is at hand (else it is fitted here)."""
    N, D, L = positive_array("N", N), positive_array("D", D), positive_array("L", L)
    n = check_points(7, "the power-mean L(N, D) (6 parameters)", N=N, D=D, L=L)
    check_distinct("N", N, 3, "L(N, D)")
    check_distinct("D", D, 3, "L(N, D)")
    mN, mD = np.log(N).mean(), np.log(D).mean()
    u, v, lnL = np.log(N) - mN, np.log(D) - mD, np.log(L)
    s = start if start is not None else fit_parametric(N, D, L, delta)  # q = 1: the sum's optimum is a start the power mean contains
    base = [np.log(s.A) - s.alpha * mN, np.log(s.B) - s.beta * mD, np.log(s.E), s.alpha, s.beta]
    bounds = [(None, None)] * 3 + [(1e-4, 5.0)] * 2 + [tuple(np.log(Q_BOUNDS))]
    best = None
    for q in STARTS_Q:
        sol = minimize(_objective, np.array([*base, np.log(q)]), args=(u, v, lnL, delta), method="L-BFGS-B",
                       bounds=bounds, options=dict(maxiter=4000, ftol=1e-13, gtol=1e-10))
        if best is None or sol.fun < best.fun:
            best = sol
    a, b, e, al, be, lq = best.x
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # finite_fit says so below
        fit = PowerMeanFit(E=float(np.exp(e)), A=float(np.exp(a + al * mN)), B=float(np.exp(b + be * mD)),
                           alpha=float(al), beta=float(be), q=float(np.exp(lq)), n_points=n,
                           objective=float(best.fun * delta), residuals=np.zeros(0))
        fit = dataclasses.replace(fit, residuals=lnL - np.log(fit.predict(N, D)))
    return finite_fit(fit, "the power-mean L(N, D)", "E", "A", "B", "alpha", "beta", "q")
