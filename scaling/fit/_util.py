"""Small shared pieces: input checks, the Interval type, JSON conversion."""
from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

RELIABLE_SHARE = 0.8  # an interval from fewer answering resamples than this is marked unreliable


@dataclass(frozen=True)
class Interval:
    """A bootstrap interval; n_boot counts the resamples that gave a value, n_failed those whose
    fit refused. method: how the interval was read off the resamples (percentile, or bias-corrected
    'bc'); scheme: what was resampled."""
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
    benchmarks/calibration.py measures the coverage of each choice."""
    from scipy.stats import norm

    s = np.asarray(samples, dtype=float)
    n_failed = int((~np.isfinite(s)).sum())
    s = s[np.isfinite(s)]
    if s.size == 0 or not math.isfinite(estimate):
        return Interval(math.nan, math.nan, int(s.size), n_failed, level, method, scheme)
    q = np.array([(1 - level) / 2, (1 + level) / 2])
    if method == "bc":
        share = (np.sum(s < estimate) + 0.5 * np.sum(s == estimate)) / s.size
        z0 = norm.ppf(np.clip(share, 1 / (2 * s.size), 1 - 1 / (2 * s.size)))
        q = norm.cdf(2 * z0 + norm.ppf(q))
    elif method != "percentile":
        raise ValueError(f"unknown interval method {method!r} (percentile or bc)")
    lo, hi = np.quantile(s, q)
    if inflate != 1.0:
        lo, hi = estimate - inflate * (estimate - lo), estimate + inflate * (hi - estimate)
        method = f"{method} x{inflate:.2f}"
    return Interval(float(lo), float(hi), int(s.size), n_failed, level, method, scheme)


def jsonable(obj):
    """Plain Python for json.dumps: NaN/inf -> None, numpy -> builtins, frames -> records."""
    if hasattr(obj, "to_dict") and dataclasses.is_dataclass(obj):
        return obj.to_dict()
    if isinstance(obj, pd.DataFrame):
        return [jsonable(r) for r in obj.to_dict(orient="records")]
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    return obj


def positive_array(name: str, x) -> np.ndarray:
    """1-D float array of finite positive values, or a ValueError naming the input."""
    try:
        a = np.asarray(x, dtype=float).ravel()
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric") from None
    if np.isnan(a).any():
        raise ValueError(f"{name} contains NaN ({int(np.isnan(a).sum())} of {a.size} values)")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains infinite values")
    if (a <= 0).any():
        raise ValueError(f"{name} must be positive: {int((a <= 0).sum())} of {a.size} values are <= 0")
    return a


def check_points(min_points: int, what: str, **arrays) -> int:
    sizes = {k: v.size for k, v in arrays.items()}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"inputs differ in length: {sizes}")
    n = next(iter(sizes.values()))
    if n < min_points:
        raise ValueError(f"{what} needs at least {min_points} points, got {n}")
    return n


def check_distinct(name: str, x: np.ndarray, k: int, what: str) -> None:
    m = np.unique(x).size
    if m < k:
        raise ValueError(f"{what} needs at least {k} distinct values of {name}, got {m}")


def huber(r: np.ndarray, delta: float) -> np.ndarray:
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


# ---------------------------------------------------------------- BLAS threads
# scipy's L-BFGS-B calls BLAS on 5-vectors; a multi-threaded BLAS then wakes its thread pool on
# every call, which on a busy 2-core machine makes one Chinchilla fit ~25x slower. These fits are
# tiny, so they run with one BLAS thread (OpenBLAS, MKL or BLIS, whichever numpy and scipy use).


@functools.cache
def _blas():
    import scipy.linalg  # noqa: F401  (loads scipy's BLAS, so the controller finds it)
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


class one_blas_thread:
    """Context manager and decorator: BLAS limited to one thread inside."""

    def __enter__(self):
        self._limit = _blas().limit(limits=1, user_api="blas")
        return self

    def __exit__(self, *exc):
        self._limit.restore_original_limits()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapped(*a, **k):
            with one_blas_thread():
                return fn(*a, **k)
        return wrapped
