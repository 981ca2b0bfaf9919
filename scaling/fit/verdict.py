"""Which of the three N_opt estimates to believe: do they agree, and if not, the likely reason.

Measured on the data, not assumed: an estimator that cannot answer says why (the optimum at an
edge of the grid, too few budgets); the parametric form's residuals per width and per data
fraction show whether it misfits. Why it matters: with the right form the parametric estimate is
the most precise, and with a wrong one its interval undercovers while the envelope and IsoFLOP
estimates, which assume no form, keep their coverage (benchmarks/calibration.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scaling.fit.serialize import jsonable

MISFIT = 0.05  # a mean log residual of 5% over a whole width or data fraction: the form bends elsewhere
FEW_BUDGETS = 4  # an estimate from fewer usable budgets leans on few points


@dataclass(frozen=True)
class Verdict:
    """Which N_opt estimate to believe.

    Attributes
    ----------
    choice : str or None
        The estimator to believe (a key of ESTIMATORS); None when none answers.
    agree : bool
        Whether every answering estimate's interval overlaps every other's.
    reason : str
        Why this one, in a line.
    misfit : str
        Where the parametric form misfits its points (residual_misfit), or ''.
    """
    choice: str | None
    agree: bool
    reason: str
    misfit: str

    def to_dict(self) -> dict:
        return jsonable(dict(choice=self.choice, agree=self.agree, reason=self.reason, misfit=self.misfit))


def residual_misfit(points: pd.DataFrame, parametric) -> str:
    """'' or where the parametric fit's residuals are systematic: the largest mean |log L - log L_hat|
    over a whole width or a whole data fraction, when it passes MISFIT."""
    if parametric is None or points.empty:
        return ""
    r = np.log(points["val_loss"].to_numpy(float)) - np.log(parametric.predict(points["params"], points["examples"]))
    worst = []
    for col, name in (("width", "width"), ("data_fraction", "fraction")):
        m = pd.Series(r).groupby(points[col].to_numpy()).mean()
        k = m.abs().idxmax()
        worst.append((abs(m[k]), f"{name} {k:g}", m[k]))
    size, where, signed = max(worst)
    if size <= MISFIT:
        return ""
    return f"the parametric form misfits: its loss is {'under' if signed > 0 else 'over'}estimated by {size:.0%} on average at {where}"


def verdict(an) -> Verdict:
    """The three N_opt estimates of an analysis, judged (intervals where it has them)."""
    ok = {m: nf for m, nf in an.nopt.items() if nf.ok}
    misfit = residual_misfit(an.aggregate.points, an.parametric) if "parametric" in ok else ""
    if not ok:
        return Verdict(None, False, "no estimator can answer on this selection", misfit)
    iv = {m: nf.interval for m, nf in ok.items() if nf.interval is not None and math.isfinite(nf.interval.lo)}
    agree = len(iv) == len(ok) and all(iv[a].lo <= iv[b].hi and iv[b].lo <= iv[a].hi for a in iv for b in iv)
    free = [m for m in ("envelope", "isoflop") if m in ok]
    if not free:
        return Verdict("parametric", agree, "only the parametric form answers: the envelope and IsoFLOP estimators "
                       "need a grid whose optimum lies inside it, so this answer rests on the form"
                       + (f"; and {misfit}" if misfit else ""), misfit)
    if getattr(an, "no_interval", ""):  # no intervals to compare (one seed): never "they disagree"
        pick = "parametric" if "parametric" in ok and not misfit else free[0]
        why = ("the parametric estimate, the most precise when its form fits" if pick == "parametric"
               else "a form-free estimate" + (f", as {misfit}" if misfit else ""))
        return Verdict(pick, False, f"{an.no_interval}, so whether the estimates agree cannot be told: {why}", misfit)
    narrowest = min(free, key=lambda m: (iv[m].hi - iv[m].lo) if m in iv else math.inf)
    if "parametric" not in ok:
        return Verdict(narrowest, agree, "the parametric fit does not answer; of the form-free estimates, the one "
                       "with the narrowest interval", misfit)
    if agree:
        return Verdict("parametric", True, "the three intervals overlap: the parametric estimate, the most "
                       "precise when its form fits, agrees with the form-free ones", misfit)
    if misfit:
        return Verdict(narrowest, False, f"the estimates disagree and {misfit}: believe the form-free estimate",
                       misfit)
    few = [m for m in free if len(ok[m].points) < FEW_BUDGETS]
    if len(few) == len(free):
        return Verdict("parametric", False, "the estimates disagree, and the form-free ones rest on fewer than "
                       f"{FEW_BUDGETS} budgets each: add bracketing runs before believing either", misfit)
    return Verdict(narrowest, False, "the estimates disagree with no misfit visible in the residuals: the "
                   "form-free estimate assumes less (train more seeds to tell them apart)", misfit)
