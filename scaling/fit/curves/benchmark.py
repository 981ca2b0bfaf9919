"""Scores the package on the learning-curve extrapolation benchmark of Alabdulmohsin, Neyshabur
and Zhai 2022 (columns Domain, Task, Model, "Seen Examples", Loss, Training): each (Domain, Task,
Model) curve fitted on its Training == 1 rows, scored by sqrt(mean((log predicted - log
observed)^2)) on its Training == 0 rows, averaged over curves (the paper's notebook's metric)."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scaling.fit.curves.table import fit_table
from scaling.fit.optim import one_blas_thread

GROUP = ["Domain", "Task", "Model"]
# The paper's methods as run from its own repository on the language file (mean / median over
# the 20 curves; /work/shared/reference/README.md).
PAPER_LANG = {"M1 power law": (0.066, 0.017), "M2 power law + constant": (0.016, 0.011),
              "M3": (0.017, 0.0062), "M4 (the paper's)": (0.0116, 0.008)}


@dataclass(frozen=True, eq=False)
class BenchmarkRun:
    """One pass over a benchmark file.

    Attributes
    ----------
    curves : pandas.DataFrame
        One row per curve: domain, task, model, form (chosen), rmse_log (held out), n_fit,
        n_heldout, reason.
    seconds : float
        Wall time of the fits (reading the file excluded).
    results : list
        The CurveResult of each curve, in the order of ``curves``.
    """
    curves: pd.DataFrame
    seconds: float
    results: list

    def summary(self) -> pd.DataFrame:
        """Mean and median log-RMSE and the number of curves, per domain and overall."""
        c = self.curves
        by = c.groupby("domain")["rmse_log"].agg(["mean", "median", "count"])
        by.loc["all"] = [c["rmse_log"].mean(), c["rmse_log"].median(), len(c)]
        return by.rename(columns={"count": "curves"})

    @property
    def answered(self) -> int:
        """Curves with a finite score."""
        return int(np.isfinite(self.curves["rmse_log"]).sum())


def load(path) -> pd.DataFrame:
    df = pd.read_csv(path)
    missing = [c for c in [*GROUP, "Seen Examples", "Loss", "Training"] if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: not a benchmark file (no column {missing[0]!r})")
    return df.drop_duplicates()


def run(path_or_frame, **options) -> BenchmarkRun:
    """Fit and score every curve of a benchmark file (options go to fit_curve: form, holdout,
    combine, forms)."""
    df = load(path_or_frame) if not isinstance(path_or_frame, pd.DataFrame) else path_or_frame
    t0 = time.perf_counter()
    with one_blas_thread():
        results = fit_table(df, "Seen Examples", "Loss", GROUP, train_col="Training", **options)
    seconds = time.perf_counter() - t0
    rows = [dict(domain=r.group["Domain"], task=r.group["Task"], model=r.group["Model"], form=r.form,
                 rmse_log=r.rmse_log_heldout, n_fit=sum(p["fitted"] for p in r.predictions),
                 n_heldout=sum(not p["fitted"] for p in r.predictions), reason=r.reason) for r in results]
    return BenchmarkRun(curves=pd.DataFrame(rows), seconds=seconds, results=results)
