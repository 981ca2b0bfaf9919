"""What a plan narrows: the N_opt exponent a as the verdict answers it, alpha_C, the parametric alpha
or beta, or the frontier's loss at a budget; which estimators that reads, their estimate and
interval now, and how to read it off one simulated data set."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scaling.fit.estimate import ESTIMATORS, SLICES, quantities
from scaling.fit.verdict import FREE, verdict

TARGETS = ("a", "alpha_C", "alpha", "beta", "loss@C")


@dataclass(frozen=True)
class Target:
    """A plan's target.

    Attributes
    ----------
    name : str
        'a', 'alpha_C', 'alpha', 'beta' or 'loss' (the frontier's loss at compute `at`).
    at : float
        The budget C (FLOPs) of 'loss'; NaN otherwise.
    """
    name: str = "a"
    at: float = math.nan

    @property
    def label(self) -> str:
        return f"loss@{self.at:.3g}" if self.name == "loss" else self.name


def parse_target(text: str) -> Target:
    """'a', 'alpha_C', 'alpha', 'beta' or 'loss@C' (C in FLOPs, e.g. loss@1e14): ValueError otherwise."""
    t = (text or "a").strip()
    if t.startswith("loss@"):
        try:
            c = float(t[5:])
        except ValueError:
            c = math.nan
        if not (math.isfinite(c) and c > 0):
            raise ValueError(f"target {text!r}: loss@C needs a positive compute C in FLOPs, e.g. loss@1e14")
        return Target("loss", c)
    if t not in TARGETS[:-1]:
        raise ValueError(f"target {text!r}: one of a, alpha_C, alpha, beta, loss@C (C in FLOPs)")
    return Target(t)


@dataclass(frozen=True)
class Reading:
    """The target on the data now, and how a simulation reads it.

    Attributes
    ----------
    names : tuple of str
        The estimates combined (QUANTITIES names, or 'loss'): two form-free ones are joined by the
        hull of their intervals, as the verdict joins them.
    estimates : dict
        name -> (estimate, lo, hi) on the data now (lo, hi NaN without an interval).
    now : tuple
        (estimate, lo, hi) of the target as the app states it.
    estimator : str
        Which estimator the plan serves, in words.
    skip : frozenset
        What point_estimates may leave out in a simulation.
    """
    names: tuple
    estimates: dict
    now: tuple
    estimator: str
    skip: frozenset

    def values(self, r: dict, target: Target) -> list:
        """The names' values on one simulated data set (point_estimates' dict), NaN where none."""
        if target.name == "loss":
            f = r.get("loss_vs_compute")
            return [float(f.predict(np.array([target.at]))[0]) if f is not None else math.nan]
        q = quantities(r)
        return [q.get(n, math.nan) for n in self.names]


def _iv(value, interval) -> tuple:
    if interval is None or not math.isfinite(interval.lo):
        return float(value), math.nan, math.nan
    return float(value), float(interval.lo), float(interval.hi)


def reading(an, target: Target) -> Reading:
    """How target is read on analysis `an` (with intervals where it was bootstrapped)."""
    every = frozenset(ESTIMATORS) | frozenset(SLICES)
    if target.name == "a":
        v = verdict(an)
        if v.basis == "parametric":
            names, words = ("a_parametric",), "the parametric estimate (the verdict's choice)"
        elif v.basis == "form-free":
            names = tuple(f"a_{m}" for m in FREE if an.nopt[m].ok)
            words = "the form-free estimates, " + " and ".join(ESTIMATORS[n[2:]] for n in names) + " (the verdict's answer)"
        else:
            names = tuple(f"a_{m}" for m in FREE)
            words = ("the form-free estimates, which cannot answer yet (the verdict believes none): the plan makes "
                     "them answer")
        est = {n: _iv(an.nopt[n[2:]].a, an.nopt[n[2:]].interval) for n in names if n[2:] in an.nopt}
        skip = every - {n[2:] for n in names} | {"loss_vs_compute"}
        return Reading(names, est, (v.a, v.lo, v.hi), words, frozenset(skip))
    if target.name in ("alpha", "beta"):
        pf = an.parametric
        now = _iv(getattr(pf, target.name), an.intervals.get(target.name)) if pf is not None else (math.nan,) * 3
        return Reading((target.name,), {target.name: now}, now, "the parametric fit L(N, D)",
                       frozenset(every - {"parametric"} | {"loss_vs_compute"}))
    law = an.loss_vs_compute
    if target.name == "alpha_C":
        now = _iv(law.alpha, an.intervals.get("alpha_C")) if law is not None else (math.nan,) * 3
        return Reading(("alpha_C",), {"alpha_C": now}, now, "the frontier's law L(C)", frozenset(every))
    pt = float(law.predict(np.array([target.at]))[0]) if law is not None else math.nan
    band = an.boot.band(np.array([target.at])) if an.boot is not None else None
    now = (pt, float(band[0][0]), float(band[1][0])) if band is not None else (pt, math.nan, math.nan)
    return Reading(("loss",), {"loss": now}, now, "the frontier's law L(C), at that compute", frozenset(every))


def form_free(an) -> Reading | None:
    """The form-free pair as a Reading (the answer the verdict turns to if it comes to see the form
    misfit), or None when neither answers."""
    names = tuple(f"a_{m}" for m in FREE if m in an.nopt and an.nopt[m].ok)
    if not names:
        return None
    est = {n: _iv(an.nopt[n[2:]].a, an.nopt[n[2:]].interval) for n in names}
    every = frozenset(ESTIMATORS) | frozenset(SLICES)
    return Reading(names, est, (math.nan,) * 3, "the form-free estimates",
                   frozenset(every - {n[2:] for n in names} | {"loss_vs_compute"}))
