"""The answers a page draws, from a selection: its fits, the lines and bands around them, tables."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scaling import fit
from scaling.core.fmt import fmt_flops, frac_label
from scaling.fit import MIN_HELDOUT, comparison_table, lr_tuning, verdict  # noqa: F401  (the pages ask here)
from scaling.services.selection import ESTIMATORS, LR_TUNED, MIN_POINTS, VERDICT, Selection, SelectionError, select


def analysis(runs: pd.DataFrame, curves: pd.DataFrame | None, sel: Selection, n_boot: int = 0, seed: int = 0,
             first_draw: bool = False, progress=None) -> fit.Analysis:
    """fit.analyze on a selection; SelectionError when fewer than MIN_POINTS configurations remain.

    first_draw: only what Explore shows before its intervals (the loss law, the selection's N_opt
    estimator and the two cheap ones, no L(N)/L(D) slices or Kaplan form), so a slider move
    redraws at once. progress: fit.analyze's callback during the bootstrap."""
    sub = _check_fittable(runs, sel)
    cv = None
    if curves is not None and len(curves):
        cv = curves[curves["run_id"].isin(sub["run_id"])]
    # the envelope and IsoFLOP estimators cost milliseconds: the page also says whether they can
    # answer; the verdict needs all three
    ests = fit.ESTIMATORS if sel.estimator == VERDICT else (sel.estimator, "envelope", "isoflop")
    only = dict(estimators=ests, extras=False) if first_draw else {}
    try:
        return fit.analyze(sub, cv, lr=sel.lr, irreducible=sel.irreducible, n_boot=n_boot, seed=seed,
                           progress=progress, compute=sel.compute, **only)
    except ValueError as e:
        raise SelectionError(str(e)) from None


def point_estimates(runs: pd.DataFrame, curves: pd.DataFrame | None, sel: Selection) -> fit.Analysis:
    """Explore's first draw: seed means, frontier, the loss law and the N_opt estimators (the
    parametric one only when chosen or when the verdict chooses)."""
    return analysis(runs, curves, sel, first_draw=True)


def shown_nopt(an: fit.Analysis, sel: Selection) -> tuple[str, str]:
    """(estimator, why) for the N_opt estimate a page shows: the one chosen, or with the
    selection's default the one the verdict supports, with its reason in a line."""
    v = fit.verdict(an)
    if sel.estimator != VERDICT:
        if v.choice is None or v.choice == sel.estimator or sel.estimator not in an.nopt:
            return sel.estimator, "chosen by hand"
        return sel.estimator, f"chosen by hand; the verdict would show the {ESTIMATORS[v.choice]} estimate"
    if v.choice is None:  # nothing to believe (or only a misfitting form answers): show it, with why
        return ("parametric" if "parametric" in an.nopt else sel.estimator), v.reason
    return v.choice, v.reason


def backtest(runs: pd.DataFrame, sel: Selection, octaves: float, n_boot: int = 0) -> fit.Backtest:
    """fit.backtest on a selection's runs (ValueError, in words, when it cannot be done)."""
    return fit.backtest(select(runs, sel), octaves=octaves, lr=sel.lr, n_boot=n_boot)


def hold_out(runs: pd.DataFrame, sel: Selection) -> fit.HoldOut:
    """How many octaves a backtest of the selection holds out by default (fit.hold_out), and why fewer
    than fit.MIN_HELDOUT frontier configurations where it cannot hold out more."""
    try:
        return fit.hold_out(select(runs, sel), lr=sel.lr)
    except ValueError as e:  # the backtest itself says why it cannot run
        return fit.HoldOut(2.0, 0, 0, str(e))


RUN_COLUMNS = ["width", "width_step", "params", "data_fraction", "examples", "flops", "seed", "val_loss", "val_acc",
               "lr_mult", "run_id"]  # run_id: a click on a chart's run opens it


def chart_runs(runs: pd.DataFrame, sel: Selection) -> pd.DataFrame:
    """A selection's ok runs, with the columns its charts draw and its CSV download gives."""
    ok = select(runs, sel)
    return ok[ok["status"] == "ok"][RUN_COLUMNS]


def _check_fittable(runs: pd.DataFrame, sel: Selection) -> pd.DataFrame:
    sub = select(runs, sel)
    ok = sub[sub["status"] == "ok"] if len(sub) else sub
    if sel.lr != LR_TUNED and len(ok):
        ok = ok[np.isclose(ok["lr_mult"], sel.lr)]
    # distinct (width_step, data_fraction, lr_mult), from each column's codes (a drop_duplicates costs ms)
    n_cfg = (np.unique(np.stack([pd.factorize(ok[k])[0] for k in ("width_step", "data_fraction", "lr_mult")]),
                       axis=1).shape[1] if len(ok) else 0)
    if n_cfg < MIN_POINTS:
        raise SelectionError(f"this selection leaves {n_cfg} configuration{'s' * (n_cfg != 1)} "
                             f"({len(ok)} runs); a fit needs at least {MIN_POINTS}: widen the width or "
                             "data-fraction range, or train more runs")
    return sub


def law_band(an, n_grid: int = 60) -> pd.DataFrame:
    """Pointwise 95% band of the loss-vs-compute law, from the same resamples as α_C's interval
    (empty without a bootstrap)."""
    law = an.loss_vs_compute
    band = an.boot.band(np.geomspace(*law.x_range, n_grid)) if an.boot is not None and law is not None else None
    if band is None:
        return pd.DataFrame(columns=["flops", "lo", "hi"])
    return pd.DataFrame({"flops": np.geomspace(*law.x_range, n_grid), "lo": band[0], "hi": band[1]})


def law_line(law, n_grid: int = 60) -> pd.DataFrame:
    c = np.geomspace(*law.x_range, n_grid)
    return pd.DataFrame({"flops": c, "fit": law.predict(c)})


def nopt_band(nf, n_grid: int = 40) -> pd.DataFrame:
    """N_opt = k C^a with the exponent at its interval ends, pivoting at the budgets' geometric mean
    (where the fit is best pinned down)."""
    if not nf.ok or nf.points.empty:
        return pd.DataFrame(columns=["C", "N_opt", "lo", "hi"])
    c = np.geomspace(nf.points["C"].min(), nf.points["C"].max(), n_grid)
    mid = math.exp(np.log(nf.points["C"]).mean())
    n_mid = nf.k * mid ** nf.a
    out = pd.DataFrame({"C": c, "N_opt": nf.predict(c)})
    if nf.interval is not None and math.isfinite(nf.interval.lo):
        ends = np.array([n_mid * (c / mid) ** nf.interval.lo, n_mid * (c / mid) ** nf.interval.hi])
        out["lo"], out["hi"] = ends.min(axis=0), ends.max(axis=0)
    return out


def isoflop_profiles(points: pd.DataFrame, n_budgets: int = 6) -> pd.DataFrame:
    """The IsoFLOP curves of a few budgets (fit.isoflop_profiles), labelled for the chart's legend."""
    out = fit.isoflop_profiles(points, n_budgets)
    return out.assign(budget_label=out["budget"].map(fmt_flops))


def parametric_residuals(an) -> pd.DataFrame:
    """The configurations the parametric fit saw, with log L - log L_hat (recomputed here in the
    order of the points, which is not the fit's internal order)."""
    pts = an.aggregate.points
    if an.parametric is None or pts.empty:
        return pts.assign(residual=np.nan)
    pred = an.parametric.predict(pts["params"], pts["examples"])
    return pts.assign(residual=np.log(pts["val_loss"].to_numpy(float)) - np.log(pred))


@dataclass(frozen=True)
class Coverage:
    """What a selection's fittable runs span: comparing exponents over different spans compares
    different things.

    Attributes
    ----------
    width_steps : tuple of int
        Lowest and highest width step.
    fractions : tuple of float
        Lowest and highest data fraction.
    flops : tuple of float
        Lowest and highest training compute.
    n_runs : int
        The runs behind the span.
    """
    width_steps: tuple[int, int]
    fractions: tuple[float, float]
    flops: tuple[float, float]
    n_runs: int

    def describe(self) -> str:
        return (f"width steps {self.width_steps[0]}–{self.width_steps[1]}, fractions {frac_label(self.fractions[0])}–"
                f"{frac_label(self.fractions[1])}, {fmt_flops(self.flops[0])}–{fmt_flops(self.flops[1])}, "
                f"{self.n_runs} runs")


def coverage(runs: pd.DataFrame, sel: Selection) -> Coverage | None:
    """The span of a selection's ok runs (None when it has none)."""
    ok = select(runs, sel)
    ok = ok[ok["status"] == "ok"] if len(ok) else ok
    if sel.lr != LR_TUNED and len(ok):
        ok = ok[np.isclose(ok["lr_mult"], sel.lr)]
    if not len(ok):
        return None
    return Coverage((int(ok["width_step"].min()), int(ok["width_step"].max())),
                    (float(ok["data_fraction"].min()), float(ok["data_fraction"].max())),
                    (float(ok["flops"].min()), float(ok["flops"].max())), len(ok))


def common_range(a: Coverage, b: Coverage) -> tuple[tuple[int, int], tuple[float, float]] | None:
    """The width steps and fractions both spans share (None when they share none)."""
    w = (max(a.width_steps[0], b.width_steps[0]), min(a.width_steps[1], b.width_steps[1]))
    f = (max(a.fractions[0], b.fractions[0]), min(a.fractions[1], b.fractions[1]))
    return (w, f) if w[0] <= w[1] and f[0] <= f[1] else None


def common_range_all(covs: list[Coverage]) -> tuple[tuple[int, int], tuple[float, float]] | None:
    """The width steps and fractions every span shares (None when they share none)."""
    out = (covs[0].width_steps, covs[0].fractions) if covs else None
    for c in covs[1:]:
        if out is None:
            return None
        out = common_range(Coverage(out[0], out[1], c.flops, 0), c)
    return out


def nopt_data_points(an) -> pd.DataFrame:
    """The per-budget optima the data gives (C, N_opt, source): those of the lower envelope, else of
    the IsoFLOP profiles; empty where neither finds an optimum inside the grid. The parametric
    estimator's own points are read off its fitted surface and are not data."""
    for m in ("envelope", "isoflop"):
        nf = an.nopt.get(m)
        if nf is not None and nf.ok and len(nf.points):
            return nf.points[["C", "N_opt"]].assign(source=m)
    return pd.DataFrame(columns=["C", "N_opt", "source"])


FORM_FREE = ("form-free: the lower-envelope and IsoFLOP estimates, which read each budget's best size off the runs "
             "themselves, assuming no formula for the loss (the parametric estimate assumes L(N, D) = E + A/N^α + B/D^β)")


def explain_form_free(*texts: str) -> str:
    """FORM_FREE where one of `texts` (a verdict's words on a page) says 'form-free', else ''."""
    return FORM_FREE[0].upper() + FORM_FREE[1:] + "." if any("form-free" in (t or "") for t in texts) else ""


def headline(an: fit.Analysis, sel: Selection) -> str:
    """The verdict's answer in a line where the page shows the verdict's choice and it is not the
    parametric form alone (the form-free pair, or nothing to believe); "" otherwise."""
    if sel.estimator != VERDICT:
        return ""
    v = fit.verdict(an)
    return v.headline if v.basis != "parametric" else ""
