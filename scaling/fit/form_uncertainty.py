"""How far the parametric N_opt exponent rests on the sum form: refit with a power mean of the two
terms (fit.power_mean; q = 1 is the sum) and widen the parametric interval to cover both answers.

At the seed noise real runs have, the residuals of one grid cannot reliably tell a sum from a power
mean (benchmarks/calibration.py: the misfit test catches about one power-mean sweep in five), yet the
power mean moves N_opt and the sum form's interval then covers 83%. The power-mean fit nests the sum
and reads a without that bias on every law calibrated (well-specified, bent, power mean), with the
same spread; where the two forms' answers differ, the data do not say which to believe, so the
interval becomes the hull of the sum form's interval and the same interval moved to the power
mean's answer. On a well-specified law q comes out near 1 and the hull hardly widens.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from scaling.fit.intervals import Interval
from scaling.fit.power_mean import PowerMeanFit, fit_power_mean
from scaling.fit.real_compute import ComputePath, nopt_along
from scaling.fit.serialize import jsonable

N_BUDGETS = 16  # as nopt.parametric_arrays: the same budgets, so the two slopes compare


@dataclass(frozen=True, eq=False)
class FormUncertainty:
    """The parametric N_opt exponent under the sum and under a power mean of the two terms.

    Attributes
    ----------
    q : float
        The fitted power of the mean (1 is the sum).
    a_sum : float
        The sum form's exponent (the parametric estimate).
    a_power_mean : float
        The power-mean form's exponent: the slope of its N_opt minimised along the same compute path
        over the same budgets.
    shift : float
        a_power_mean - a_sum: how far the answer moves with the form.
    fit : PowerMeanFit
        The power-mean fit (debias simulates from it: it nests the sum).
    """
    q: float
    a_sum: float
    a_power_mean: float
    shift: float
    fit: PowerMeanFit

    def widen(self, interval: Interval | None) -> Interval | None:
        """The hull of `interval` and the same interval moved by shift (unchanged without one)."""
        if interval is None or not math.isfinite(interval.lo) or not math.isfinite(self.shift):
            return interval
        lo, hi = min(interval.lo, interval.lo + self.shift), max(interval.hi, interval.hi + self.shift)
        return dataclasses.replace(interval, lo=lo, hi=hi, method=interval.method + " + form")

    def describe(self) -> str:
        return (f"form: a power mean of the two terms fits with q = {self.q:.2f} (1 is the sum) and "
                f"a = {self.a_power_mean:.3f} ({self.shift:+.3f}); the parametric interval covers both")

    def to_dict(self) -> dict:
        return jsonable(dict(q=self.q, a_sum=self.a_sum, a_power_mean=self.a_power_mean, shift=self.shift))


def power_mean_slope(fit: PowerMeanFit, path: ComputePath, C) -> float:
    """The slope of the power-mean surface's N_opt(C) along the compute path over the budgets of C."""
    budgets = np.geomspace(np.min(C), np.max(C), N_BUDGETS)
    n = nopt_along(path, fit.A, fit.alpha, fit.B, fit.beta, budgets, fit.q)
    ok = np.isfinite(n)
    if ok.sum() < 2:
        return math.nan
    return float(np.polyfit(np.log(budgets[ok]), np.log(n[ok]), 1)[0])


def form_uncertainty(N, D, C, L, path: ComputePath, a_sum: float, start=None) -> FormUncertainty | None:
    """The power-mean refit of the points the parametric estimate used (None where it cannot be
    fitted or its N_opt leaves the widths searched). start: the sum form's fit on the same points."""
    try:
        fit = fit_power_mean(N, D, L, start=start)
    except ValueError:
        return None
    a = power_mean_slope(fit, path, C)
    if not (math.isfinite(a) and math.isfinite(a_sum)):
        return None
    return FormUncertainty(fit.q, float(a_sum), a, a - float(a_sum), fit)
