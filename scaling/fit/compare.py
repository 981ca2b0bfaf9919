"""Two selections side by side: their exponents, intervals and P(first > second)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scaling.fit.analysis import Analysis, analyze
from scaling.fit.estimate import QUANTITIES
from scaling.fit.serialize import jsonable


@dataclass(frozen=True, eq=False)
class Comparison:
    """Two selections' exponents side by side.

    Attributes
    ----------
    labels : tuple of str
        What to call the first and the second selection.
    table : DataFrame
        comparison_table(first, second): one row per exponent, both values with their intervals,
        P(first > second) and the two-sided p-value.
    first, second : Analysis
        The two analyses.
    """
    labels: tuple
    table: pd.DataFrame
    first: Analysis
    second: Analysis

    def to_dict(self) -> dict:
        return jsonable(dict(labels=self.labels, table=self.table))


def compare(runs_a: pd.DataFrame, runs_b: pd.DataFrame, curves_a: pd.DataFrame | None = None,
            curves_b: pd.DataFrame | None = None, *, labels=("dropout 0", "dropout 0.2"),
            lr="tuned", irreducible: bool | None = None, n_boot: int = 200, seed: int = 0) -> Comparison:
    """Two selections' exponents side by side; P(first > second) from independent bootstraps."""
    sa, sb = np.random.SeedSequence(seed).spawn(2)
    A = analyze(runs_a, curves_a, lr=lr, irreducible=irreducible, n_boot=n_boot,
                seed=int(sa.generate_state(1)[0]))
    B = analyze(runs_b, curves_b, lr=lr, irreducible=irreducible, n_boot=n_boot,
                seed=int(sb.generate_state(1)[0]))
    return Comparison(tuple(labels), comparison_table(A, B), A, B)


COMPARED = ("alpha_C", "alpha_N", "alpha_D", "a_envelope", "a_isoflop", "a_parametric", "alpha", "beta")


def comparison_table(A: Analysis, B: Analysis, names: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per exponent of two analyses (`names`: name -> what to call it; default COMPARED
    with QUANTITIES' words): both values with their intervals, P(first > second) from their
    resamples and the two-sided p-value 2 min(P, 1 - P) for "no difference"."""
    names = names or {k: QUANTITIES[k] for k in COMPARED}
    pa, pb = A.scalars(), B.scalars()
    rows = []
    for name, what in names.items():
        ia, ib = A.intervals.get(name), B.intervals.get(name)
        prob = (A.boot.prob_greater(B.boot, name)
                if A.boot and B.boot and name in A.boot.samples and name in B.boot.samples
                else math.nan)
        rows.append(dict(name=name, what=what, first=pa.get(name, math.nan),
                         first_lo=ia.lo if ia else math.nan, first_hi=ia.hi if ia else math.nan,
                         second=pb.get(name, math.nan), second_lo=ib.lo if ib else math.nan,
                         second_hi=ib.hi if ib else math.nan, p_first_greater=prob,
                         first_answered=ia.answered() if ia else "", first_reliable=bool(ia and ia.reliable),
                         second_answered=ib.answered() if ib else "", second_reliable=bool(ib and ib.reliable),
                         p_two_sided=2 * min(prob, 1 - prob) if math.isfinite(prob) else math.nan,
                         # the smallest p the resamples can show: 0 of them means "below this"
                         p_floor=1 / min(A.boot.n_boot, B.boot.n_boot) if A.boot and B.boot else math.nan,
                         n_runs_first=A.n_runs, n_runs_second=B.n_runs))
    return pd.DataFrame(rows)
