"""Whether "the best cached learning-rate multiplier per configuration" is really tuned, and which
multipliers would tune the rest."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from scaling.fit.runs import TUNE_KEYS, Aggregate
from scaling.fit.serialize import jsonable


@dataclass(frozen=True, eq=False)
class Tuning:
    """Whether "the best cached learning-rate multiplier per configuration" is really tuned: a
    configuration is tuned when its best multiplier is an interior optimum of at least three
    tried; best at the smallest or largest one tried, the optimum may lie beyond (at the edge);
    with fewer than three, it is a rule of thumb.

    Attributes
    ----------
    n_configs : int
        Configurations (TUNE_KEYS: a configuration without its lr_mult) with a multiplier chosen.
    n_tuned : int
        Those whose best multiplier is an interior optimum of at least three tried.
    n_edge : int
        Those whose best multiplier is at an end of at least three tried.
    n_few : int
        Those with fewer than three multipliers tried.
    multipliers : tuple of float
        Every multiplier tried, sorted.
    todo : DataFrame
        TUNE_KEYS and next_mult: the multipliers whose runs would tune the rest.
    """
    n_configs: int
    n_tuned: int
    n_edge: int
    n_few: int
    multipliers: tuple
    todo: pd.DataFrame

    @property
    def tuned(self) -> bool:
        """Every configuration is tuned."""
        return self.n_configs > 0 and self.n_tuned == self.n_configs

    def label(self) -> str:
        if not self.n_configs:
            return "no configurations"
        if self.n_few == self.n_configs:
            mults = ", ".join(f"×{m:g}" for m in self.multipliers)
            return f"rule of thumb, not tuned (lr {mults} only)"
        if self.tuned:
            return f"tuned per size (interior best of ≥3 multipliers at all {self.n_configs} configurations)"
        parts = [f"{self.n_tuned} of {self.n_configs} configurations tuned"]
        if self.n_edge:
            parts.append(f"{self.n_edge} best at the edge of the multipliers tried")
        if self.n_few:
            parts.append(f"{self.n_few} with fewer than 3 multipliers")
        return "not fully tuned: " + ", ".join(parts)

    def to_dict(self) -> dict:
        return jsonable(dict(n_configs=self.n_configs, n_tuned=self.n_tuned, n_edge=self.n_edge,
                             n_few=self.n_few, multipliers=self.multipliers, label=self.label()))


def lr_tuning(agg: "Aggregate", step: float = 2.0) -> Tuning:
    """How well tuned an aggregate's learning rates are, and what would tune the rest: for a
    configuration whose best is at an edge, the next multiplier outwards (x or / step); with
    fewer than three tried, best / step and best x step where not tried yet."""
    cols = TUNE_KEYS + ["next_mult"]
    ch = agg.lr_choice
    if ch is None:  # one fixed multiplier was asked for: nothing was chosen
        n = len(agg.points)
        mults = tuple(sorted(set(agg.points["lr_mult"].astype(float)))) if n else ()
        return Tuning(n, 0, 0, n, mults, pd.DataFrame(columns=cols))
    cands = [sorted(float(x) for x in c) for c in ch["candidates"]]
    best = ch["lr_mult"].to_numpy(float)
    few = np.array([len(c) < 3 for c in cands], bool)
    lo = np.isclose(best, [c[0] for c in cands])
    edge = ~few & (lo | np.isclose(best, [c[-1] for c in cands]))
    need = np.flatnonzero(few | edge)
    # each row's keys as plain Python values, as to_dict("records") gives them, column by column (faster)
    keys = [dict(zip(TUNE_KEYS, v)) for v in zip(*(ch[k].iloc[need].tolist() for k in TUNE_KEYS))]
    rows = []
    for i, key in zip(need, keys):
        b = best[i]
        # at an edge, the next one outwards; with fewer than three tried, one on each side of the best
        for m in ((b / step,) if lo[i] else (b * step,)) if edge[i] else (b / step, b * step):
            if not any(abs(m - c) <= 1e-8 + 1e-5 * abs(c) for c in cands[i]):  # np.isclose, per value
                rows.append({**key, "next_mult": float(m)})
    mults = tuple(sorted({m for c in cands for m in c}))
    return Tuning(len(ch), int((~few & ~edge).sum()), int(edge.sum()), int(few.sum()), mults,
                  pd.DataFrame(rows, columns=cols))
