"""The two ways to count training compute, applied to the runs before anything is fitted.

"3fd": this project's C = 3 x forward FLOPs x D, the forward FLOPs counted from every conv and
       linear layer's multiply-adds (about 69 N D for this CNN family: its convs reuse each weight
       at every pixel).
"6nd": C = 6 N D, as Kaplan et al. 2020 and Hoffmann et al. 2022 count it; what a reader comparing
       with a paper needs. Both are legitimate; they differ by a factor that drifts with width, so
       every compute-indexed exponent (frontier, alpha_C, N_opt) moves.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

CONVENTIONS = {
    "3fd": "C = 3 x forward FLOPs x D (this project's count)",
    "6nd": "C = 6 N D (Kaplan's and Chinchilla's count)",
}
DEFAULT = "3fd"


def check(compute: str) -> str:
    if compute not in CONVENTIONS:
        raise ValueError(f"compute must be one of {', '.join(CONVENTIONS)}, got {compute!r}")
    return compute


def recount(runs: pd.DataFrame, curves: pd.DataFrame | None, compute: str):
    """(runs, curves) with `flops` counted by `compute` (the tables themselves untouched)."""
    if check(compute) == "3fd":
        return runs, curves
    n = pd.to_numeric(runs["params"], errors="coerce").to_numpy(float)
    d = pd.to_numeric(runs["examples"], errors="coerce").to_numpy(float)
    runs = runs.assign(flops=6.0 * n * d)
    if curves is not None and len(curves):
        # a curve point's N is its run's
        per_run = pd.Series(n, index=runs["run_id"].astype(str).to_numpy())
        per_run = per_run[~per_run.index.duplicated()]
        cn = per_run.reindex(curves["run_id"].astype(str).to_numpy()).to_numpy(float)
        curves = curves.assign(flops=6.0 * cn * pd.to_numeric(curves["examples"], errors="coerce").to_numpy(float))
        curves = curves[np.isfinite(curves["flops"].to_numpy(float))]
    return runs, curves

