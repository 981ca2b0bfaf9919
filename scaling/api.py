"""The Python API a script or a notebook uses: load runs, select a run family, analyze, plot.

`from scaling import load_runs, select, analyze, report, plot_loss` (scaling/__init__ resolves these
names here on first use, so `import scaling.core` stays light). The fits are those of `scaling fit`
and the app (scaling.fit.analyze), the charts those of the pages (scaling.charts); docs/python-api.md.
"""
from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from scaling import charts, fit, services
from scaling.store import Store, exchange
from scaling.store.annotations import with_exclusions


class RunSet(NamedTuple):
    """Runs and their validation curves, as every function here takes them.

    Attributes
    ----------
    runs : DataFrame
        One row per run (scaling.store.RUN_COLUMNS, then `excluded` and `note`); an excluded run has
        status 'excluded', so no fit uses it.
    curves : DataFrame
        Validation-curve points: run_id, examples, flops, val_loss, val_acc.
    """
    runs: pd.DataFrame
    curves: pd.DataFrame


def load_runs(source=None) -> RunSet:
    """Runs of the current protocol from an export (a Parquet path, its bytes, or a file object), or
    from a run database (a .duckdb path; None: $SCALING_DB or the default). Exports are checked
    whole (exchange.ExportError otherwise); their exclusions apply as the database's do."""
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    if source is not None and (not isinstance(source, (str, Path)) or Path(source).suffix == ".parquet"):
        exp = exchange.read(source)
        runs, curves = with_exclusions(exp.runs, exp.notes), exp.curves
    else:
        store = Store(source)
        runs, curves = store.runs(status=None), store.curves()
    runs = services.current(runs).reset_index(drop=True)
    return RunSet(runs, curves[curves["run_id"].isin(runs["run_id"])].reset_index(drop=True))


def load_embedded(data: str) -> RunSet:
    """load_runs of an export embedded in a notebook as base64 text."""
    return load_runs(base64.b64decode(data))


def select(data: RunSet, **choices) -> RunSet:
    """The runs of one run family and range: the fields of services.Selection (dataset, dropout,
    lr_rule, epochs, batch_size, precision, the study axes; widths and fractions as (low, high),
    seeds as a tuple, () for all), each defaulting as the app's does."""
    for k in ("widths", "fractions", "seeds"):
        if k in choices:
            choices[k] = tuple(choices[k])
    sel = services.Selection(**choices)
    runs = services.select(data.runs, sel)
    return RunSet(runs, data.curves[data.curves["run_id"].isin(runs["run_id"])].reset_index(drop=True))


def analyze(data: RunSet, *, lr="tuned", irreducible: bool | None = None, n_boot: int = 200, seed: int = 0,
            compute: str = "3fd") -> fit.Analysis:
    """scaling.fit.analyze on these runs: what `scaling fit` and the pages compute (fit.Analysis).
    `irreducible`: the frontier's law, E + A C^-alpha (True), A C^-alpha (False), the backtest's (None)."""
    return fit.analyze(data.runs, data.curves, lr=lr, irreducible=irreducible, n_boot=n_boot, seed=seed,
                       compute=compute)


def report(an: fit.Analysis) -> str:
    """`scaling fit`'s text for an analysis."""
    return fit.format_analysis(an)


def backtest(data: RunSet, octaves: float = 2.0, lr="tuned", n_boot: int = 0) -> fit.Backtest:
    """Fit below the top `octaves` of compute, predict the frontier above (Fit lab's backtest)."""
    return fit.backtest(data.runs, octaves=octaves, lr=lr, n_boot=n_boot)


class Chart:
    """A page's chart in a notebook: Jupyter draws it (Vega-Lite, and a PNG where vl-convert is
    installed); spec() is the Vega-Lite with its data inline, save(path) writes .svg, .png or .json.

    Attributes
    ----------
    figure : scaling.charts.Figure
        The chart as the pages draw it.
    """

    def __init__(self, figure):
        self.figure = figure

    def spec(self) -> dict:
        return self.figure._standalone()

    def _repr_mimebundle_(self, include=None, exclude=None):
        out = {"application/vnd.vegalite.v6+json": self.spec(), "text/plain": "<Scaling Lab chart>"}
        if charts.can_export():
            out["image/png"] = base64.b64encode(self.figure.png(scale=1.0)).decode()
        return out

    def save(self, path) -> None:
        import json

        path = Path(path)
        data = {".svg": self.figure.svg, ".png": self.figure.png}.get(path.suffix)
        path.write_bytes(data() if data else json.dumps(self.spec()).encode())


def _ok(data: RunSet) -> pd.DataFrame:
    r = data.runs
    return r[r["status"] == "ok"][services.answers.RUN_COLUMNS]


def plot_loss(an: fit.Analysis, data: RunSet) -> Chart:
    """Explore's chart: every run, seed means, the frontier, the law with its 95% band."""
    law = an.loss_vs_compute
    eq = services.equation(law) if law else "the frontier has too few points for a fit"
    return Chart(charts.loss_vs_compute(_ok(data), an.aggregate.points, an.frontier, law,
                                        services.law_line(law) if law else None, services.law_band(an), eq))


def plot_accuracy(an: fit.Analysis) -> Chart:
    """Explore's validation accuracy against compute (the seed means)."""
    return Chart(charts.accuracy_vs_compute(an.aggregate.points))


def plot_nopt(an: fit.Analysis, estimator: str | None = None) -> Chart | None:
    """N_opt against compute for `estimator` (envelope, isoflop, parametric; None: the verdict's
    choice, as Explore shows it); None where it cannot answer."""
    m = estimator or services.shown_nopt(an, services.Selection())[0]
    nf = an.nopt[m]
    if not nf.ok:
        return None
    return Chart(charts.nopt_vs_compute(nf, services.nopt_band(nf), data=services.nopt_data_points(an)))


def plot_isoflop(an: fit.Analysis) -> Chart | None:
    """Fit lab's IsoFLOP curves (None with too few budgets)."""
    prof = services.isoflop_profiles(an.aggregate.points)
    return Chart(charts.isoflop_curves(prof, an.nopt["isoflop"])) if len(prof) else None


def plot_estimators(an: fit.Analysis) -> Chart | None:
    """Fit lab's three N_opt estimators on one chart (None when none answers)."""
    fig = charts.nopt_estimators(an.nopt)
    return None if fig is None else Chart(fig)


def plot_residuals(an: fit.Analysis) -> Chart | None:
    """Fit lab's residuals of the parametric L(N, D) (None where it failed)."""
    return None if an.parametric is None else Chart(charts.residuals(services.parametric_residuals(an)))


__all__ = ["Chart", "RunSet", "analyze", "backtest", "load_embedded", "load_runs", "plot_accuracy", "plot_estimators",
           "plot_isoflop", "plot_loss", "plot_nopt", "plot_residuals", "report", "select"]
