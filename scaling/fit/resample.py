"""What one bootstrap resample draws, and what the resampling can say about a selection.

Resampler        the draws: whole seeds, seeds within each data fraction, or runs within configurations
no_interval      why a selection gets no interval at all (every resample would be the data itself)
partial_note     why its intervals are not the seed noise alone (seeds that hold different configurations)
off_interval     why an estimate lies at an end of its own interval, or outside it
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from scaling.fit.runs import _group_codes

CLUSTER_MIN_SEEDS = 5  # fewer seeds than this make too few distinct cluster resamples
SCHEMES = ("seeds", "seeds within each data fraction", "runs within configurations")
AT_END = 0.01  # an estimate within this share of its interval's width from an end is drawn on that end


class Resampler:
    """What one bootstrap resample draws. A seed fixes the data subset that every width of that
    seed shares, so runs of one seed are not independent. With at least CLUSTER_MIN_SEEDS seeds,
    the seeds are drawn with replacement, each with all its runs (a cluster bootstrap). With fewer
    (3 seeds give only 10 distinct cluster resamples), the seeds are drawn within each data
    fraction, each with its runs of every width there: the runs that share one subset move
    together, and the fractions vary independently. 'runs within configurations' draws each
    configuration's runs on their own (ignores that correlation: benchmarks/calibration.py
    measures what that costs)."""

    def __init__(self, p, scheme: str | None = None):
        self.n = len(p.runs)
        seeds = p.runs["seed"].to_numpy() if self.n else np.zeros(0, int)
        self.seed_code = pd.factorize(seeds, sort=True)[0]
        self.n_seeds = int(self.seed_code.max()) + 1 if self.n else 0
        if scheme is None:
            scheme = SCHEMES[0] if self.n_seeds >= CLUSTER_MIN_SEEDS else SCHEMES[1]
        if scheme not in SCHEMES:
            raise ValueError(f"unknown resampling scheme {scheme!r} (one of {', '.join(SCHEMES)})")
        self.scheme = scheme
        # the stratum of each run: the units (seeds, or runs) of one stratum are drawn among themselves
        self.stratum = np.zeros(self.n, int)
        if scheme == SCHEMES[1]:
            # blocks: (fraction, seed); within a fraction's stratum, its blocks are drawn with replacement
            frac = pd.factorize(p.runs["data_fraction"], sort=True)[0] if self.n else np.zeros(0, int)
            self.stratum = frac
            self.block, first = _group_codes(pd.DataFrame({"f": frac, "s": self.seed_code}), ["f", "s"])
            self.block_stratum = frac[first]
            order = np.argsort(self.block_stratum, kind="stable")
            counts = np.bincount(self.block_stratum)
            starts = np.r_[0, np.cumsum(counts)[:-1]]
            self._members, self._start, self._count = order, starts[self.block_stratum], counts[self.block_stratum]
        elif scheme == SCHEMES[2]:
            self.stratum = p.run_cfg
            order = np.argsort(p.run_cfg, kind="stable")
            counts = np.bincount(p.run_cfg, minlength=p.n_cfg)
            start = np.r_[0, np.cumsum(counts)[:-1]]
            self._members, self._start, self._count = order, start[p.run_cfg], counts[p.run_cfg]

    @property
    def inflate(self) -> float:
        """sqrt(n / (n - 1)) for n clusters drawn per stratum: undoes the bootstrap's small-sample
        shrinkage of the spread (1 for runs drawn one by one, which have no such n)."""
        if self.scheme == SCHEMES[2]:
            return 1.0
        n = self.n_seeds if self.scheme == SCHEMES[0] else float(np.median(self._count)) if self._count.size else 1
        return math.sqrt(n / (n - 1)) if n > 1 else 1.0

    def weights(self, rng) -> np.ndarray:
        """How many times each run is drawn in one resample."""
        if self.scheme == SCHEMES[0]:
            drawn = np.bincount(rng.integers(0, self.n_seeds, self.n_seeds), minlength=self.n_seeds)
            return drawn[self.seed_code].astype(float)
        m = self._members.size
        pick = self._members[self._start + (rng.random(m) * self._count).astype(int)]
        drawn = np.bincount(pick, minlength=m).astype(float)
        return drawn[self.block] if self.scheme == SCHEMES[1] else drawn

    def units(self) -> np.ndarray:
        """How many units (seeds, or runs) each stratum draws among: 1 everywhere means that every
        resample is the data itself."""
        unit = self.seed_code if self.scheme != SCHEMES[2] else np.arange(self.n)
        pairs = pd.DataFrame({"s": self.stratum, "u": unit}).drop_duplicates()
        return pairs.groupby("s").size().to_numpy()


def no_interval(draw: Resampler) -> str:
    """'' or why no interval can be given: with one seed (or one per data fraction, or one run per
    configuration) every resample is the data itself, and a percentile 'interval' is a point."""
    units = draw.units()
    if not units.size or units.max() > 1:
        return ""
    if draw.scheme == SCHEMES[2]:
        return "no interval: the bootstrap resamples runs within each configuration, and each configuration here has 1"
    if draw.n_seeds == 1:
        return "no interval: the bootstrap resamples seeds, and this selection has 1"
    return ("no interval: the bootstrap resamples seeds within each data fraction, and each fraction here has "
            "runs of only 1 seed")


def partial_note(p, draw: Resampler) -> str:
    """'' or what the intervals are when seeds hold different configurations (a sweep in progress,
    seeds trained on different grids): a resample of seeds then drops or repeats whole
    configurations, and the resampled estimates can all fall on one side of the estimate."""
    if draw.scheme == SCHEMES[2] or not draw.n:
        return ""
    per = pd.DataFrame({"s": draw.stratum, "c": p.run_cfg, "seed": draw.seed_code}).drop_duplicates()
    have = per.groupby("c")["seed"].size()
    stratum = per.groupby("c")["s"].first()
    need = per.drop_duplicates(["s", "seed"]).groupby("s").size()
    short = int((have.to_numpy() < need[stratum.to_numpy()].to_numpy()).sum())
    if not short:
        return ""
    return (f"{short} of {len(have)} configurations have runs of only some of the seeds (partial data): a "
            "resample of seeds drops or repeats them, so the intervals show how far the estimates move when "
            "configurations drop out, not the seed noise alone")


def off_interval(estimate: float, iv, partial: str = "") -> str:
    """'' or why an estimate lies at an end of its own interval or outside it (as a page draws them),
    in words: the partial-data note when there is one, else the bias of minima under resampling."""
    if iv is None or not (math.isfinite(estimate) and math.isfinite(iv.lo) and math.isfinite(iv.hi)):
        return ""
    margin = AT_END * (iv.hi - iv.lo)
    if iv.lo + margin < estimate < iv.hi - margin:
        return ""
    side = "lower" if estimate - iv.lo < iv.hi - estimate else "upper"
    where = f"at the {side} end of" if iv.lo <= estimate <= iv.hi else "outside"
    why = partial or ("it rests on minima (the frontier, each budget's best width, the tuned learning rate), which "
                      "move one way when seeds are resampled, so it is fragile here: more seeds per configuration "
                      "steady it")
    return f"the estimate lies {where} its interval: {why}"
