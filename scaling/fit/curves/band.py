"""A 95% band around a curve's fitted form: the form refitted on resamples of the curve, its
predictions' percentiles at each x (inside the data and past it).

A residual bootstrap, not a bootstrap of the points: resampling points draws duplicates, so a
10-point curve often keeps fewer distinct x than the broken law's 6 parameters need, and a
resample that loses the top of the curve changes the extrapolation most; resampling the log
residuals keeps every x and varies only the noise.

Each resample: log L* = the fit's log prediction + residuals drawn with replacement (centred, and
scaled by sqrt(n / (n - p)) for the p parameters the fit spent), the chosen form (or each form of
an average) refitted on it. A fixed number of resamples, stopped early at a time budget so a page
stays responsive; fewer than MIN_ANSWERED answered resamples give no band. Where the resamples'
percentiles leave out the point prediction (the bias of a non-linear fit), the band is widened to
include it: a band is drawn around the line it belongs to.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from scaling.fit.curves.forms import FORMS
from scaling.fit.curves.inputs import check_curve, check_x
from scaling.fit.curves.results import CurveResult
from scaling.fit.curves.select import fit_form

N_RESAMPLES = 200
SECONDS = 2.0        # per curve; a broken-law refit costs ~5-20 ms on one core
MIN_ANSWERED = 20    # fewer answered resamples: no band (2.5% tails of 20 draws are their extremes)
LEVEL = 0.95


@dataclass(frozen=True, eq=False)
class Band:
    """Percentile band of a fitted curve's prediction over resamples of its residuals.

    Attributes
    ----------
    x : numpy.ndarray
        Where the band is given.
    lo, hi : numpy.ndarray
        Its lower and upper edges at x (NaN where there is no band).
    level : float
        Its coverage, 0.95.
    asked : int
        Resamples asked for.
    answered : int
        Resamples refitted (the others failed to fit, or the time budget ran out first).
    failed : int
        Resamples whose refit had no finite answer.
    seconds : float
        Time spent.
    scheme : str
        How the curve was resampled ("residuals").
    """
    x: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    level: float
    asked: int
    answered: int
    failed: int
    seconds: float
    scheme: str = "residuals"

    @property
    def ok(self) -> bool:
        return self.answered >= MIN_ANSWERED

    def note(self) -> str:
        """How the band was made, in words."""
        left = self.asked - self.answered - self.failed
        extra = (f"; {self.failed} failed to fit" if self.failed else "") + \
                (f"; {left} left out by the {self.seconds:.1f} s time budget" if left > 0 else "")
        if not self.ok:
            return f"no band: only {self.answered} of {self.asked} resamples answered{extra}"
        return f"{self.level:.0%} band from {self.answered} of {self.asked} resamples of the residuals{extra}"

    def to_dict(self) -> dict:
        from scaling.fit.serialize import jsonable

        return jsonable(dict(level=self.level, scheme=self.scheme, asked=self.asked, answered=self.answered,
                             failed=self.failed, x=self.x, lo=self.lo, hi=self.hi))


def band(result: CurveResult, x, loss, at, n: int = N_RESAMPLES, seconds: float = SECONDS, seed: int = 0,
         level: float = LEVEL, upper: float | None = None) -> Band:
    """The band of `result` (fitted to the points x, loss) at the x values `at`.

    Refits the chosen form, or for an average each averaged form with its weight kept, on up to
    `n` residual resamples, stopping once `seconds` have passed. Deterministic for a seed: the
    k-th resample is the same whatever the budget (a shorter budget keeps a prefix of them).
    """
    x, loss = check_curve(x, loss)
    at = check_x(at)
    forms = {f: w for f, w in result.weights.items() if w > 0}
    p = max(len(FORMS[f].params) for f in forms)
    m = result.log_predict(x)
    r = np.log(loss) - m
    r = (r - r.mean()) * math.sqrt(x.size / max(x.size - p, 1))
    centre = result.log_predict(at)
    draws, failed, t0 = [], 0, time.perf_counter()
    for k in range(n):
        if time.perf_counter() - t0 > seconds:
            break
        rng = np.random.default_rng([seed, k])
        y = np.exp(m + rng.choice(r, x.size, replace=True))
        try:
            pred = sum(w * fit_form(f, x, y, upper=upper).log_predict(at) for f, w in forms.items())
        except ValueError:
            failed += 1
            continue
        if np.isfinite(pred).all():
            draws.append(pred)
        else:
            failed += 1
    elapsed = time.perf_counter() - t0
    if len(draws) >= MIN_ANSWERED:
        d = np.array(draws)
        q = 100 * (1 - level) / 2
        lo = np.exp(np.minimum(np.percentile(d, q, axis=0), centre))
        hi = np.exp(np.maximum(np.percentile(d, 100 - q, axis=0), centre))
    else:
        lo = hi = np.full(at.shape, np.nan)
    return Band(x=at, lo=lo, hi=hi, level=level, asked=n, answered=len(draws), failed=failed, seconds=elapsed)
