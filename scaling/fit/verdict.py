"""Which of the three N_opt estimates to believe: do they agree, and if not, the likely reason.

Measured on the data, not assumed: an estimator that cannot answer says why (the optimum at an
edge of the grid, too few budgets); the parametric form's residuals per width and per data
fraction show whether it misfits. A form that misfits is left out of the verdict whatever its
interval says: with a wrong form the parametric interval undercovers (benchmarks/calibration.py),
so an overlap with the form-free intervals proves nothing. Then the form-free estimates are the
answer, shown together: their range, and the hull of their intervals (they are read off the same
runs, so their errors are correlated and an average would claim a precision they do not have;
the hull covers whenever either interval does).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scaling.core.fmt import frac_label
from scaling.fit.serialize import jsonable

MISFIT = 0.05  # a mean log residual of 5% over a whole width or data fraction: the form bends elsewhere
# ...and beyond what the seed noise alone would give that mean: 3 standard errors, about a 5%
# family-wise false alarm over the ~20 widths and fractions of a grid
MISFIT_Z = 3.0
FEW_BUDGETS = 4  # an estimate from fewer usable budgets leans on few points
FREE = ("envelope", "isoflop")  # the estimators that assume no form
NAMES = {"envelope": "envelope", "isoflop": "IsoFLOP", "parametric": "parametric"}


@dataclass(frozen=True)
class Verdict:
    """Which N_opt estimate to believe.

    Attributes
    ----------
    choice : str or None
        The estimator to believe (a key of ESTIMATORS); None when none answers. When the form-free
        estimates are the answer, the one of them with the narrowest interval (headline shows both).
    agree : bool
        Whether every answering estimate's interval overlaps every other's.
    reason : str
        Why this one, in a line.
    misfit : str
        Where the parametric form misfits its points (residual_misfit), or ''.
    basis : str
        'parametric', 'form-free' (the envelope and IsoFLOP estimates together, or the one that
        answers) or '' when nothing answers.
    a : float
        The exponent the verdict supports: the chosen estimate, or the mean of the form-free ones.
    lo, hi : float
        Its interval: the chosen estimate's, or the hull of the form-free intervals (NaN without).
    headline : str
        The answer in one line, as a page or the CLI leads with it.
    """
    choice: str | None
    agree: bool
    reason: str
    misfit: str
    basis: str = ""
    a: float = math.nan
    lo: float = math.nan
    hi: float = math.nan
    headline: str = ""

    def to_dict(self) -> dict:
        return jsonable(dict(choice=self.choice, agree=self.agree, reason=self.reason, misfit=self.misfit,
                             basis=self.basis, a=self.a, lo=self.lo, hi=self.hi, headline=self.headline))


def _misfit_limit(n: int, shared: bool, noise, seeds: float) -> float:
    """The mean residual of n points that seed noise alone stays under (MISFIT at least). The points
    of one fraction share their seeds' data subsets, so that part of the noise does not average out."""
    if noise is None or not getattr(noise, "measured", False):
        return MISFIT
    su2 = noise.sd_shared ** 2 if math.isfinite(noise.sd_shared) else 0.0
    se2 = max(noise.sd ** 2 - su2, 0.0)
    var = (se2 / n + (su2 if shared else su2 / n)) / max(seeds, 1.0)
    return max(MISFIT, MISFIT_Z * math.sqrt(var))


def residual_misfit(points: pd.DataFrame, parametric, noise=None) -> str:
    """'' or where the parametric fit's residuals are systematic: the largest mean log L - log L_hat
    over a whole width or a whole data fraction, when it passes MISFIT and (given the selection's
    SeedNoise) what seed noise alone would give."""
    if parametric is None or points.empty:
        return ""
    r = np.log(points["val_loss"].to_numpy(float)) - np.log(parametric.predict(points["params"], points["examples"]))
    seeds = float(np.mean(points["n_seeds"])) if "n_seeds" in points else 1.0
    worst = []
    for col, name in (("width", "width"), ("data_fraction", "fraction")):
        g = pd.Series(r).groupby(points[col].to_numpy())
        m, n = g.mean(), g.size()
        excess = m.abs() / np.array([_misfit_limit(int(k), col == "data_fraction", noise, seeds) for k in n])
        k = excess.idxmax()
        worst.append((excess[k], abs(m[k]), f"{name} {frac_label(k) if col == 'data_fraction' else f'{k:g}'}", m[k]))
    beyond, size, where, signed = max(worst)
    if beyond <= 1:
        return ""
    return f"the parametric form misfits: its loss is {'under' if signed > 0 else 'over'}estimated by {size:.0%} on average at {where}"


def _fmt(x: float) -> str:
    return f"{x:.2f}"


def _form_free(ok: dict, iv: dict, free: list, agree: bool, misfit: str, reason: str) -> Verdict:
    """The form-free estimates as the answer: their range and the hull of their intervals."""
    pick = min(free, key=lambda m: (iv[m].hi - iv[m].lo) if m in iv else math.inf)
    a = [ok[m].a for m in free]
    los = [iv[m].lo for m in free if m in iv]
    his = [iv[m].hi for m in free if m in iv]
    lo, hi = (min(los), max(his)) if len(los) == len(free) else (math.nan, math.nan)
    each = ", ".join(f"{NAMES[m]} {ok[m].a:.3f}" for m in free)
    span = _fmt(a[0]) if len(a) == 1 else f"{_fmt(min(a))} to {_fmt(max(a))}"
    ivs = ("" if not math.isfinite(lo) else
           f"; 95% {_fmt(lo)} to {_fmt(hi)}" + (" (the hull of their intervals)" if len(free) > 1 else ""))
    head = f"a = {span} (form-free: {each}){ivs}"
    return Verdict(pick, agree, reason, misfit, "form-free", float(np.mean(a)), lo, hi, head)


def _one(choice: str, ok: dict, iv: dict, agree: bool, reason: str, misfit: str) -> Verdict:
    i = iv.get(choice)
    lo, hi = (i.lo, i.hi) if i is not None else (math.nan, math.nan)
    head = f"a = {ok[choice].a:.3f} ({NAMES[choice]})" + (f"; 95% {_fmt(lo)} to {_fmt(hi)}" if i is not None else "")
    basis = "parametric" if choice == "parametric" else "form-free"
    return Verdict(choice, agree, reason, misfit, basis, float(ok[choice].a), lo, hi, head)


def verdict(an) -> Verdict:
    """The three N_opt estimates of an analysis, judged (intervals where it has them)."""
    ok = {m: nf for m, nf in an.nopt.items() if nf.ok}
    misfit = (residual_misfit(an.aggregate.points, an.parametric, getattr(an, "seed_noise", None))
              if "parametric" in ok else "")
    if not ok:
        return Verdict(None, False, "no estimator can answer on this selection", misfit,
                       headline="no estimate: no estimator can answer on this selection")
    iv = {m: nf.interval for m, nf in ok.items() if nf.interval is not None and math.isfinite(nf.interval.lo)}
    agree = len(iv) == len(ok) and all(iv[a].lo <= iv[b].hi and iv[b].lo <= iv[a].hi for a in iv for b in iv)
    free = [m for m in FREE if m in ok]
    if not free:
        if misfit:
            why = (f"only the parametric form answers and {misfit}: nothing to believe (add widths and "
                   "fractions that bracket the optimum so that the envelope and IsoFLOP estimators can answer)")
            return Verdict(None, agree, why, misfit, headline=f"no estimate: {why}")
        return _one("parametric", ok, iv, agree, "only the parametric form answers: the envelope and IsoFLOP "
                    "estimators need a grid whose optimum lies inside it, so this answer rests on the form", misfit)
    if misfit:  # whatever the overlap: a misfitting form's interval undercovers
        return _form_free(ok, iv, free, agree, misfit, f"{misfit}, so the form-free estimates are the answer"
                          + (", though the intervals overlap" if agree else ""))
    if getattr(an, "no_interval", ""):  # no intervals to compare (one seed): never "they disagree"
        if "parametric" in ok:
            return _one("parametric", ok, iv, False, f"{an.no_interval}, so whether the estimates agree cannot be "
                        "told: the parametric estimate, the most precise when its form fits", misfit)
        return _form_free(ok, iv, free, False, misfit, f"{an.no_interval}, so whether the estimates agree cannot "
                          "be told: the form-free estimates")
    if "parametric" not in ok:
        return _form_free(ok, iv, free, agree, misfit, "the parametric fit does not answer: the form-free estimates")
    if agree:
        return _one("parametric", ok, iv, True, "the three intervals overlap: the parametric estimate, the most "
                    "precise when its form fits, agrees with the form-free ones", misfit)
    few = [m for m in free if len(ok[m].points) < FEW_BUDGETS]
    if len(few) == len(free):
        return _one("parametric", ok, iv, False, "the estimates disagree, and the form-free ones rest on fewer "
                    f"than {FEW_BUDGETS} budgets each: add bracketing runs before believing either", misfit)
    return _form_free(ok, iv, free, False, misfit, "the estimates disagree with no misfit visible in the residuals: "
                      "the form-free estimates assume less (train more seeds to tell them apart)")
