"""Bootstrap intervals: the Interval of one statistic, read off its resamples."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from scaling.fit.serialize import jsonable

RELIABLE_SHARE = 0.8  # an interval from fewer answering resamples than this is marked unreliable


@dataclass(frozen=True)
class Interval:
    """A bootstrap interval of one statistic.

    Attributes
    ----------
    lo, hi : float
        The interval's ends, in the statistic's own units (NaN when no resample answered).
    n_boot : int
        Resamples that gave a value.
    n_failed : int
        Resamples whose refit refused (ValueError) and gave none.
    level : float
        Coverage asked for, 0.95 for a 95% interval.
    method : str
        How the ends were read off the resamples: 'percentile' or bias-corrected 'bc', with
        ' x1.22' appended when widened about the estimate, ' (log)' when made in log space.
    scheme : str
        What was resampled: 'runs', 'rows', or a Resampler scheme ('seeds', ...).
    """
    lo: float
    hi: float
    n_boot: int
    n_failed: int = 0
    level: float = 0.95
    method: str = "percentile"
    scheme: str = "runs"

    def contains(self, x: float) -> bool:
        return bool(self.lo <= x <= self.hi)

    @property
    def reliable(self) -> bool:
        """At least RELIABLE_SHARE of the resamples answered."""
        total = self.n_boot + self.n_failed
        return total > 0 and self.n_boot >= RELIABLE_SHARE * total

    def answered(self) -> str:
        """'171 of 200 resamples answered' (or 'all 200 resamples answered')."""
        total = self.n_boot + self.n_failed
        return f"all {total} resamples answered" if not self.n_failed else f"{self.n_boot} of {total} resamples answered"

    def to_dict(self) -> dict:
        return jsonable({**dataclasses.asdict(self), "reliable": self.reliable})


def bootstrap_interval(samples, estimate: float, level: float = 0.95, method: str = "percentile",
                       scheme: str = "runs", inflate: float = 1.0) -> Interval:
    """The interval of one statistic from its bootstrap resamples (NaN: the refit failed).

    'bc' is the bias-corrected percentile interval (Efron 1981): the percentiles are shifted by
    z0 = Phi^-1(share of resamples below the estimate), which undoes the median bias of statistics
    built on minima (the frontier, the tuned lr, N_opt), where a plain percentile interval can miss
    its own estimate. inflate > 1 widens the interval about the estimate: with n clusters the
    bootstrap's spread is sqrt((n - 1)/n) of the sampling spread, and 3 seeds make that 0.82.
    benchmarks/calibration.py
    measures the coverage of each choice."""
    from scipy.special import ndtr, ndtri  # the normal CDF and quantile, as scipy.stats.norm's, without its import

    s = np.asarray(samples, dtype=float)
    n_failed = int((~np.isfinite(s)).sum())
    s = s[np.isfinite(s)]
    if s.size == 0 or not math.isfinite(estimate):
        return Interval(math.nan, math.nan, int(s.size), n_failed, level, method, scheme)
    q = np.array([(1 - level) / 2, (1 + level) / 2])
    if method == "bc":
        share = (np.sum(s < estimate) + 0.5 * np.sum(s == estimate)) / s.size
        z0 = ndtri(np.clip(share, 1 / (2 * s.size), 1 - 1 / (2 * s.size)))
        q = ndtr(2 * z0 + ndtri(q))
    elif method != "percentile":
        raise ValueError(f"unknown interval method {method!r} (percentile or bc)")
    lo, hi = np.quantile(s, q)
    if inflate != 1.0:
        lo, hi = estimate - inflate * (estimate - lo), estimate + inflate * (hi - estimate)
        method = f"{method} x{inflate:.2f}"
    return Interval(float(lo), float(hi), int(s.size), n_failed, level, method, scheme)
