"""Altair chart builders: DataFrames and fit results in, a chart out (no Streamlit, no fitting).

Conventions: compute and loss on log axes (a power law is a straight line there); colour is the
width, shape the data fraction; a click on the width legend highlights that width (a
selection_point bound to the legend, applied to every layer that has a width).
"""
from __future__ import annotations

import functools
import math
import re
import textwrap

import altair as alt
import numpy as np
import pandas as pd
from dataclasses import dataclass
from altair.utils.schemapi import debug_mode

from .fit import BACKTEST_MODELS
from .views import fmt_num, frac_label

LOG = alt.Scale(type="log", nice=False)
LOG_Y = LOG  # (a log scale has no zero: `zero=False` only made Vega warn)
WIDTH_SCHEME = "viridis"
FIT_COLOR = "#d62728"
FRONTIER_COLOR = "#111111"
HEIGHT = 340
FACET_WIDTH = 340  # plus the selection names on the y axis: < 560 px
# categorical colours for a few named series (Streamlit's own palette starts with two blues)
PAIR = ["#1f77b4", "#ff7f0e", "#2ca02c"]


# ---------------------------------------------------------------- log axes
# Vega's own ticks on a log axis spanning less than two decades label only one or two values
# (a loss axis read "0.4 ... 2"). The axes here get explicit ticks from the densest of these
# mantissa sets that gives at most ~8 of them, and a domain padded to the data, so no point sits
# on the frame and a wide bootstrap band cannot stretch the axis (the band is clipped instead).
_MANTISSAS = [(1, 1.2, 1.4, 1.6, 1.8, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9), (1, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8),
              (1, 1.5, 2, 3, 4, 5, 6, 8), (1, 2, 3, 5), (1, 2, 5), (1, 3), (1,)]
# compute as 2e9, not 2e+9; parameter and example counts as 20k, 1.5M
SCI = "replace(format(datum.value, '.2~e'), 'e+', 'e')"
SI = "replace(format(datum.value, '.3~s'), 'G', 'B')"


def log_ticks(values, max_ticks: int = 8) -> list[float]:
    """Round tick values (1-2-5 style, denser when the range is narrow) inside [min, max]."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v) & (v > 0)]
    if not v.size:
        return []
    lo, hi = float(v.min()), float(v.max())
    e0, e1 = math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1
    best = []
    for mset in _MANTISSAS:
        ticks = [float(f"{m * 10.0 ** e:.6g}") for e in range(e0, e1 + 1) for m in mset]
        ticks = [t for t in ticks if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]
        if len(ticks) <= max_ticks:
            if len(ticks) >= 2 or best:
                return ticks if len(ticks) >= 2 else best
            # a range too narrow for any round mantissa: a few values rounded to what tells them apart
            for digits in (2, 3, 4):
                few = sorted({float(f"{t:.{digits}g}") for t in np.geomspace(lo, hi, 4)})
                few = [t for t in few if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]
                if len(few) >= 2:
                    return few
            return ticks
        best = ticks
    step = math.ceil(len(best) / max_ticks)  # many decades: every step-th power of ten
    return best[::step]


def log_domain(values, pad: float = 1.12) -> list[float] | None:
    v = np.asarray(values, float)
    v = v[np.isfinite(v) & (v > 0)]
    if not v.size:
        return None
    lo, hi = float(v.min()), float(v.max())
    if hi / lo < 1.05:  # one value: a band around it
        lo, hi = lo / 1.2, hi * 1.2
    return [lo / pad, hi * pad]


def log_enc(channel, field: str, title, values, label_expr: str | None = None, fmt: str = "~g", pad: float = 1.12,
            **kw):
    """alt.X / alt.Y on a log scale with a padded domain and round ticks, from the values it must show."""
    dom = log_domain(values, pad)
    scale = alt.Scale(type="log", nice=False, domain=dom) if dom else LOG
    axis = alt.Axis(values=log_ticks(dom) if dom else alt.Undefined, format=fmt if label_expr is None else alt.Undefined,
                    labelExpr=label_expr if label_expr is not None else alt.Undefined, grid=True)
    return channel(field, scale=scale, axis=axis, title=title, **kw)


# Titles and subtitles as lists of short lines: Vega cuts a line longer than the chart with "…",
# and a chart can be 420 px wide (app_pages/ui/layout.py): ~56 characters of 13 px text.
LINE_CHARS = 56


def _lines(*texts: str, width: int = LINE_CHARS) -> list[str]:
    """Each text split at its ' — ' and '; ' (where it changes subject), then wrapped to `width`
    in lines of even length (no word left alone on a last line)."""
    out = []
    for t in texts:
        for part in re.split(r"\s+—\s+|;\s+", t or ""):
            lines = textwrap.wrap(part, width, break_on_hyphens=False)
            for w in range(math.ceil(len(part) / max(len(lines), 1)), width) if len(lines) > 1 else ():
                if len(even := textwrap.wrap(part, w, break_on_hyphens=False)) == len(lines):
                    lines = even
                    break
            out += lines
    return out


def _title(text: str, *subtitle: str, **kw) -> alt.Title:
    sub = _lines(*subtitle)
    return alt.Title(_lines(text), subtitle=sub if sub else alt.Undefined, **kw)


def _legend(n_values: int, **kw) -> alt.Legend:
    """A legend beside a plot: two columns when one would run past the plot's height (Vega
    clips it: a loss chart with ten widths showed two of its ten data fractions)."""
    return alt.Legend(orient="right", columns=2 if n_values > 6 else 1, **kw)


def _vals(*cols):
    return np.concatenate([np.asarray(c, float).ravel() for c in cols if c is not None and len(c)] or [np.array([])])


def can_export() -> bool:
    """Whether charts can be written as SVG or PNG here (the optional vl-convert package)."""
    import importlib.util

    return importlib.util.find_spec("vl_convert") is not None


def _vl_convert():
    try:
        import vl_convert
    except ImportError:
        raise RuntimeError("SVG and PNG export need vl-convert-python: pip install 'scaling-lab[export]'") from None
    return vl_convert


@dataclass(frozen=True, eq=False)
class Figure:
    """An Altair chart whose data sets are referenced by name, plus those data sets.

    Why not plain alt.Chart(df): Altair deep-copies, hashes and validates inline data on every
    to_dict, which was 3/4 of the time to draw the Explore charts (~150 of 200 ms with 500 runs).
    Named data keeps the spec small; the frames go straight into its `datasets`, which Streamlit
    ships as Arrow. `chart_inline()` gives the ordinary self-contained chart (tests validate it
    against the Vega-Lite schema; it saves as PNG/SVG with vl-convert)."""
    chart: object
    data: dict

    def spec(self) -> dict:
        with debug_mode(False):
            d = self.chart.to_dict(validate=False)
        if "facet" not in d:
            # Streamlit's default autosize ("fit") squeezes the plot to make room for the title,
            # legends and axes inside `height` (the loss plot was ~120 px tall); fit-x keeps the
            # plot's height and fits only the width to the column
            d.setdefault("autosize", {"type": "fit-x", "contains": "padding"})
        d["datasets"] = dict(self.data)
        return d

    def chart_inline(self):
        d = self.spec()
        d["datasets"] = {k: _records(v) for k, v in self.data.items()}
        return alt.Chart.from_dict(d, validate=True) if "layer" not in d and "facet" not in d else \
            (alt.LayerChart if "layer" in d else alt.FacetChart).from_dict(d, validate=True)

    def svg(self) -> bytes:
        return _vl_convert().vegalite_to_svg(self._standalone()).encode()

    def png(self, scale: float = 2.0) -> bytes:
        return _vl_convert().vegalite_to_png(self._standalone(), scale=scale)

    def _standalone(self, width: int = 720) -> dict:
        """The spec with its data inline and a fixed plot width (no Streamlit column to fit)."""
        d = self.spec()
        d["datasets"] = {k: _records(v) for k, v in self.data.items()}
        if "facet" not in d:
            d["width"], d["autosize"] = width, {"type": "pad", "contains": "padding"}
        return d


def _records(df: pd.DataFrame) -> list[dict]:
    import json

    return json.loads(df.to_json(orient="records", double_precision=15, date_format="iso"))


def spec(fig: "Figure") -> dict:
    return fig.spec()


class _Data:
    """Collects a builder's frames; src(name, df) is what alt.Chart takes instead of df."""

    def __init__(self):
        self.frames = {}

    def __call__(self, name: str, df: pd.DataFrame):
        self.frames[name] = df
        return alt.Data(name=name)


def _fast(builder):
    """Build without Altair's validation of every encoding object at creation; the result is a
    Figure (chart + named data sets)."""
    @functools.wraps(builder)
    def wrapped(*args, **kw):
        src = _Data()
        with debug_mode(False):
            chart = builder(src, *args, **kw)
        return None if chart is None else Figure(chart, src.frames)
    return wrapped


def _with_labels(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    if "data_fraction" in df.columns:
        labels = {f: frac_label(f) for f in df["data_fraction"].unique()}  # a few values, many rows
        df["fraction"] = df["data_fraction"].map(labels)
    return df


def _fraction_sort(df: pd.DataFrame) -> list[str]:
    return [frac_label(f) for f in sorted(df["data_fraction"].unique())] if "data_fraction" in df else []


def _width_param():
    return alt.selection_point(fields=["width"], bind="legend", name="pick_width")


def _tooltip(acc: bool = True):
    t = [alt.Tooltip("width:O", title="width"), alt.Tooltip("params:Q", title="N (params)", format=","),
         alt.Tooltip("fraction:N", title="data fraction"), alt.Tooltip("examples:Q", title="D (examples)", format=","),
         alt.Tooltip("flops:Q", title="C (FLOPs)", format=".3s")]
    return t


def _compute_x(values, field: str = "flops:Q"):
    return log_enc(alt.X, field, "training compute C (FLOPs)", values, label_expr=SCI)


def _loss_y(values, field: str = "val_loss:Q", title: str = "validation loss"):
    return log_enc(alt.Y, field, title, values)


@_fast
def loss_vs_compute(src, runs: pd.DataFrame, points: pd.DataFrame, frontier: pd.DataFrame, law=None,
                    line: pd.DataFrame | None = None, band: pd.DataFrame | None = None,
                    equation: str = "", y: str = "val_loss", y_title: str = "validation loss") -> alt.LayerChart:
    """Every run a small point, seed means a larger one, the frontier a black line through its
    configurations, the fitted law a dashed red line with its band (when given)."""
    runs, points, frontier = _with_labels(runs), _with_labels(points), _with_labels(frontier)
    fsort = _fraction_sort(points)
    pick = _width_param()
    # the axes span the runs (and the fitted line); a wide band is clipped, not allowed to squash them
    x = _compute_x(_vals(runs["flops"], points["flops"]))
    yy = _loss_y(_vals(runs[y], points[y], line["fit"] if line is not None and len(line) else None), f"{y}:Q", y_title)
    color = alt.Color("width:O", scale=alt.Scale(scheme=WIDTH_SCHEME), title="width",
                      legend=_legend(runs["width"].nunique(), symbolType="circle"))
    shape = alt.Shape("fraction:N", sort=fsort, title="data fraction", legend=_legend(len(fsort)))
    fade = alt.condition(pick, alt.value(0.9), alt.value(0.08))
    tip = _tooltip() + [alt.Tooltip("seed:Q"), alt.Tooltip("val_loss:Q", title="val loss", format=".4f"),
                        alt.Tooltip("val_acc:Q", title="val accuracy", format=".2%")]
    layers = []
    if band is not None and len(band):
        layers.append(alt.Chart(src("band", band)).mark_area(color=FIT_COLOR, opacity=0.15, clip=True).encode(
            x=x, y=alt.Y("lo:Q", scale=yy["scale"]), y2="hi:Q"))
    pts_runs = alt.Chart(src("runs", runs)).mark_point(size=22, filled=True).encode(
        x=x, y=yy, color=color, shape=shape, opacity=alt.condition(pick, alt.value(0.45), alt.value(0.05)),
        tooltip=tip).add_params(pick)
    layers.append(pts_runs)
    mean_tip = _tooltip() + [alt.Tooltip("n_seeds:Q", title="seeds"),
                             alt.Tooltip(f"{y}:Q", title=f"mean {y_title}", format=".4f")]
    layers.append(alt.Chart(src("points", points)).mark_point(size=90, filled=False, strokeWidth=2).encode(
        x=x, y=yy, color=color, shape=shape, opacity=fade, tooltip=mean_tip))
    if y == "val_loss" and len(frontier):
        layers.append(alt.Chart(src("frontier", frontier)).mark_line(color=FRONTIER_COLOR, strokeWidth=1.5, opacity=0.7).encode(
            x=x, y=yy, order="flops:Q"))
        layers.append(alt.Chart(src("frontier", frontier)).mark_point(size=160, color=FRONTIER_COLOR, filled=False, strokeWidth=1.5)
                      .encode(x=x, y=yy, tooltip=mean_tip))
    if line is not None and len(line):
        layers.append(alt.Chart(src("line", line)).mark_line(color=FIT_COLOR, strokeDash=[6, 4], strokeWidth=2.5, clip=True).encode(
            x=x, y=alt.Y("fit:Q", scale=yy["scale"]),
            tooltip=[alt.Tooltip("flops:Q", format=".3s", title="C"), alt.Tooltip("fit:Q", format=".4f", title="fit")]))
    title = _title(f"{y_title.capitalize()} against training compute", equation, subtitleColor=FIT_COLOR,
                   subtitleFontSize=13)
    return alt.layer(*layers).resolve_scale(shape="shared").properties(title=title, height=HEIGHT)


@_fast
def accuracy_vs_compute(src, runs: pd.DataFrame, points: pd.DataFrame) -> alt.LayerChart:
    runs, points = _with_labels(runs), _with_labels(points)
    pick = _width_param()
    x = _compute_x(_vals(runs["flops"], points["flops"]))
    # error rate on a log axis would straighten it, but accuracy is what people read
    yy = alt.Y("val_acc:Q", title="validation accuracy", scale=alt.Scale(zero=False), axis=alt.Axis(format="%"))
    color = alt.Color("width:O", scale=alt.Scale(scheme=WIDTH_SCHEME), title="width",
                      legend=_legend(runs["width"].nunique(), symbolType="circle"))
    fsort = _fraction_sort(points)
    shape = alt.Shape("fraction:N", sort=fsort, title="data fraction", legend=_legend(len(fsort)))
    tip = _tooltip() + [alt.Tooltip("n_seeds:Q", title="seeds"), alt.Tooltip("val_acc:Q", format=".2%", title="mean accuracy")]
    a = alt.Chart(src("runs", runs)).mark_point(size=22, filled=True).encode(
        x=x, y=yy, color=color, shape=shape, opacity=alt.condition(pick, alt.value(0.45), alt.value(0.05))).add_params(pick)
    b = alt.Chart(src("points", points)).mark_point(size=90, filled=False, strokeWidth=2).encode(
        x=x, y=yy, color=color, shape=shape, opacity=alt.condition(pick, alt.value(0.9), alt.value(0.08)), tooltip=tip)
    return alt.layer(a, b).properties(title=_title("Validation accuracy against training compute"), height=HEIGHT)


@_fast
def nopt_vs_compute(src, nopt, band: pd.DataFrame | None = None, title: str | None = None,
                    data: pd.DataFrame | None = None) -> alt.LayerChart:
    """The fitted N_opt = k C^a with its exponent's band, and dots for what the data says: the
    estimator's own per-budget optima, or for the parametric estimator (whose per-budget points
    are read off its fitted surface, not measured) the form-free optima in `data` (C, N_opt,
    source), where some estimator finds them."""
    derived = nopt.method == "parametric"
    pts = (data if data is not None else pd.DataFrame(columns=["C", "N_opt", "source"])) if derived \
        else nopt.points.assign(source=nopt.method)
    have_band = band is not None and "lo" in band and len(band)
    x = _compute_x(_vals(pts["C"], band["C"] if band is not None and len(band) else None), "C:Q")
    y = log_enc(alt.Y, "N_opt:Q", "compute-optimal parameters N_opt",
                _vals(pts["N_opt"], band["N_opt"] if band is not None and len(band) else None), label_expr=SI)
    layers = []
    if have_band:
        layers.append(alt.Chart(src("band", band)).mark_area(color=FIT_COLOR, opacity=0.15, clip=True).encode(
            x=x, y=alt.Y("lo:Q", scale=y["scale"]), y2="hi:Q"))
    if band is not None and len(band):
        layers.append(alt.Chart(src("band", band)).mark_line(color=FIT_COLOR, strokeDash=[6, 4], strokeWidth=2.5).encode(x=x, y=y))
    if len(pts):
        layers.append(alt.Chart(src("pts", pts)).mark_point(size=70, filled=not derived, color=FRONTIER_COLOR).encode(
            x=x, y=y, tooltip=[alt.Tooltip("C:Q", format=".3s", title="C (FLOPs)"), alt.Tooltip("N_opt:Q", format=",.0f"),
                               alt.Tooltip("source:N", title="optimum found by")]))
    iv = nopt.interval
    sub = f"N_opt = {fmt_num(nopt.k)} · C^{nopt.a:.3f}" if nopt.ok else nopt.reason
    if nopt.ok and iv is not None and math.isfinite(iv.lo):
        sub += f", a ∈ [{iv.lo:.3f}, {iv.hi:.3f}] (95%)"
    names = {"envelope": "lower envelope", "isoflop": "IsoFLOP profiles", "parametric": "parametric L(N, D)"}
    if derived:
        note = (f"rings: per-budget optima in the data ({names.get(pts['source'].iloc[0], '')}); dashed: the fit"
                if len(pts) else "no budget has its optimum inside the grid: the line is the fit alone")
    else:
        note = "dots: the per-budget optima found in the data; dashed: the estimator's fit"
    return alt.layer(*layers).properties(
        title=_title(title or f"Compute-optimal model size ({names.get(nopt.method, nopt.method)})", sub, note,
                     subtitleColor=FIT_COLOR if nopt.ok else "gray", subtitleFontSize=13), height=HEIGHT)


@_fast
def bottleneck(src, points: pd.DataFrame, by: str) -> alt.Chart:
    """The data bottleneck: loss against N, one line per D (by='examples'), or against D per N
    (by='params'). With D fixed, growing N plateaus."""
    points = _with_labels(points)
    if by == "examples":
        x = log_enc(alt.X, "params:Q", "parameters N", points["params"], label_expr=SI)
        fsort = _fraction_sort(points)
        color = alt.Color("fraction:N", sort=fsort, title="data fraction", scale=alt.Scale(scheme="plasma"),
                          legend=_legend(len(fsort)))
        detail, title = "fraction:N", "Loss against N, one line per data size D"
    else:
        x = log_enc(alt.X, "examples:Q", "training examples D", points["examples"], label_expr=SI)
        color = alt.Color("width:O", scale=alt.Scale(scheme=WIDTH_SCHEME), title="width",
                          legend=_legend(points["width"].nunique()))
        detail, title = "width:O", "Loss against D, one line per width N"
    tip = _tooltip() + [alt.Tooltip("val_loss:Q", format=".4f", title="mean val loss")]
    base = alt.Chart(src("points", points)).encode(x=x, y=_loss_y(points["val_loss"]), color=color, detail=detail)
    return (base.mark_line(point=True).encode(tooltip=tip)).properties(title=_title(title), height=280)


@_fast
def compare_frontiers(src, frames: dict[str, pd.DataFrame], lines: dict[str, pd.DataFrame]) -> alt.LayerChart:
    """Both selections' frontiers and fitted laws on one chart, one colour each."""
    fr = pd.concat([f.assign(selection=k) for k, f in frames.items()], ignore_index=True)
    fr = _with_labels(fr)
    ln = pd.concat([f.assign(selection=k) for k, f in lines.items()], ignore_index=True) if lines else pd.DataFrame()
    x = _compute_x(fr["flops"])
    y = _loss_y(_vals(fr["val_loss"], ln["fit"] if len(ln) else None), title="validation loss (frontier)")
    color = alt.Color("selection:N", title="selection", scale=alt.Scale(range=PAIR[:2]),
                      legend=alt.Legend(orient="top", labelLimit=400))
    layers = [alt.Chart(src("fr", fr)).mark_line(point=True).encode(
        x=x, y=y, color=color,
        tooltip=["selection:N", alt.Tooltip("width:O"), alt.Tooltip("fraction:N", title="data fraction"),
                 alt.Tooltip("flops:Q", format=".3s", title="C (FLOPs)"), alt.Tooltip("val_loss:Q", format=".4f")])]
    if len(ln):
        layers.append(alt.Chart(src("ln", ln)).mark_line(strokeDash=[6, 4], strokeWidth=2, clip=True).encode(
            x=x, y=alt.Y("fit:Q", scale=y["scale"]), color=color))
    return alt.layer(*layers).properties(
        title=_title("Compute-efficient frontiers (solid)", "dashed: their fitted laws"), height=HEIGHT)


@_fast
def exponents_side_by_side(src, table: pd.DataFrame) -> alt.LayerChart:
    """Each exponent of two selections with its 95% interval (table: name, selection, value, lo, hi)."""
    t = table.dropna(subset=["value"])
    y = alt.Y("selection:N", title=None)
    base = alt.Chart().encode(y=y, color=alt.Color("selection:N", legend=None,
                                                       scale=alt.Scale(range=PAIR[:2])))
    rule = base.mark_rule(strokeWidth=3).encode(x=alt.X("lo:Q", title="value (95% interval)", scale=alt.Scale(zero=False)), x2="hi:Q")
    dot = base.mark_point(size=80, filled=True).encode(
        x="value:Q", tooltip=["name:N", "selection:N", alt.Tooltip("value:Q", format=".3f"),
                              alt.Tooltip("lo:Q", format=".3f"), alt.Tooltip("hi:Q", format=".3f")])
    # a facet cannot fit its width to the page: each exponent's name goes above its plot, not beside
    # it, and the plot is narrow enough for a 1024 px window with the sidebar open (~560 px of page)
    return alt.layer(rule, dot, data=src("t", t)).properties(width=FACET_WIDTH).facet(
        row=alt.Row("name:N", title=None, header=alt.Header(labelAngle=0, labelOrient="top", labelAnchor="start",
                                                            labelLimit=FACET_WIDTH + 100, labelFontSize=12))
    ).resolve_scale(x="independent").properties(title=_title("Exponents side by side", "dot: estimate, bar: 95% interval"))


@_fast
def isoflop_curves(src, profiles: pd.DataFrame, nopt=None) -> alt.LayerChart:
    """Loss against N at fixed compute budgets (one curve per budget), with each budget's optimum."""
    order = sorted(profiles["budget"].unique())
    labels = [profiles.loc[profiles["budget"] == b, "budget_label"].iloc[0] for b in order]
    color = alt.Color("budget_label:N", sort=labels, title="compute budget", scale=alt.Scale(scheme="turbo"),
                      legend=_legend(len(labels)))
    x = log_enc(alt.X, "params:Q", "parameters N", profiles["params"], label_expr=SI)
    layers = [alt.Chart(src("profiles", profiles)).mark_line(point=True).encode(
        x=x, y=_loss_y(profiles["val_loss"], title="validation loss (interpolated at the budget)"),
        color=color, tooltip=[alt.Tooltip("budget_label:N", title="budget"), "width:O", alt.Tooltip("params:Q", format=","),
                              alt.Tooltip("val_loss:Q", format=".4f")])]
    sub = []
    if nopt is not None and nopt.ok and len(nopt.points):
        layers.append(alt.Chart(src("nopt_points", nopt.points)).mark_rule(color="gray", strokeDash=[2, 2]).encode(
            x=alt.X("N_opt:Q", scale=x["scale"]), tooltip=[alt.Tooltip("C:Q", format=".3s"), alt.Tooltip("N_opt:Q", format=",.0f")]))
        sub = ["dotted: the IsoFLOP estimator's N_opt at each budget"]
    elif nopt is not None and not nopt.ok:
        sub = ["no budget has its minimum inside the widths: the IsoFLOP estimator cannot answer"]
    return alt.layer(*layers).properties(title=_title("IsoFLOP profiles: loss against N at fixed compute", *sub,
                                                      subtitleColor="gray"), height=HEIGHT)


@_fast
def nopt_estimators(src, nopts: dict) -> alt.LayerChart:
    """The three N_opt estimators on one chart: their budget points and fitted lines."""
    pts, lines = [], []
    for m, nf in nopts.items():
        if not nf.ok or nf.points.empty:
            continue
        label = f"{m}: a = {nf.a:.3f}" + (f" [{nf.interval.lo:.3f}, {nf.interval.hi:.3f}]"
                                          if nf.interval is not None and math.isfinite(nf.interval.lo) else "")
        pts.append(nf.points.assign(estimator=label))
        c = np.geomspace(nf.points["C"].min(), nf.points["C"].max(), 30)
        lines.append(pd.DataFrame({"C": c, "N_opt": nf.predict(c), "estimator": label}))
    if not pts:
        return None
    P, L = pd.concat(pts), pd.concat(lines)
    x = _compute_x(_vals(P["C"], L["C"]), "C:Q")
    y = log_enc(alt.Y, "N_opt:Q", "compute-optimal parameters N_opt", _vals(P["N_opt"], L["N_opt"]), label_expr=SI)
    color = alt.Color("estimator:N", title="estimator", scale=alt.Scale(range=PAIR),
                      legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=500))
    return alt.layer(alt.Chart(src("P", P)).mark_point(size=50).encode(x=x, y=y, color=color, tooltip=["estimator:N", alt.Tooltip("C:Q", format=".3s"), alt.Tooltip("N_opt:Q", format=",.0f")]),
                     alt.Chart(src("L", L)).mark_line().encode(x=x, y=y, color=color)).properties(
        title=_title("N_opt three ways"), height=HEIGHT)


@_fast
def prediction(src, heldout: pd.DataFrame, quantity: str = "loss") -> alt.LayerChart:
    """Predicted against observed values at the held-out frontier points (fit.Backtest.heldout):
    the loss, or N_opt at each point's compute against the N of the configuration there. Bars:
    the prediction's 95% band where the backtest was resampled. The diagonal is perfect."""
    obs = "val_loss" if quantity == "loss" else "params"
    rows = []
    for key, (name, what) in BACKTEST_MODELS.items():
        if what != quantity or f"pred_{key}" not in heldout:
            continue
        d = heldout[["params", "examples", "flops", "val_loss"]].assign(
            obs=heldout[obs], pred=heldout[f"pred_{key}"], model=name.removeprefix("N_opt by "),
            lo=heldout.get(f"lo_{key}", np.nan), hi=heldout.get(f"hi_{key}", np.nan))
        rows.append(d.dropna(subset=["pred"]))
    d = pd.concat(rows) if rows else pd.DataFrame(columns=["obs", "pred", "lo", "hi", "model"])
    vals = np.r_[d["obs"], d["pred"]].astype(float)
    lo = float(np.nanmin(vals)) if len(d) else 0.1
    hi = float(np.nanmax(vals)) if len(d) else 1.0
    diag = pd.DataFrame({"v": [lo / 1.05, hi * 1.05]})
    dom = log_domain([lo, hi], 1.05)
    sc = alt.Scale(type="log", domain=dom, nice=False)
    fmt = "~g" if quantity == "loss" else "~s"
    ax = alt.Axis(values=log_ticks(dom), format=fmt)
    label = "validation loss" if quantity == "loss" else "parameters (N_opt)"
    x = alt.X("obs:Q", scale=sc, axis=ax, title=f"observed {label}" if quantity == "loss"
              else "N of the held-out frontier configuration")
    color = alt.Color("model:N", title="fit", scale=alt.Scale(range=PAIR),
                      legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=500))
    layers = [alt.Chart(src("diag", diag)).mark_line(color="gray", strokeDash=[3, 3]).encode(
        x=alt.X("v:Q", scale=sc), y=alt.Y("v:Q", scale=sc))]
    if d["lo"].notna().any():
        layers.append(alt.Chart(src("bars", d.dropna(subset=["lo"]))).mark_rule(strokeWidth=2, opacity=0.5, clip=True).encode(
            x=x, y=alt.Y("lo:Q", scale=sc), y2="hi:Q", color=color))
    layers.append(alt.Chart(src("d", d)).mark_point(size=70, filled=True).encode(
        x=x, y=alt.Y("pred:Q", scale=sc, axis=ax, title="predicted from the smaller runs"), color=color,
        tooltip=["model:N", alt.Tooltip("params:Q", format=","), alt.Tooltip("examples:Q", format=","),
                 alt.Tooltip("flops:Q", format=".3s"), alt.Tooltip("obs:Q", format=".4~g", title="observed"),
                 alt.Tooltip("pred:Q", format=".4~g", title="predicted"),
                 alt.Tooltip("lo:Q", format=".4~g", title="95% low"), alt.Tooltip("hi:Q", format=".4~g", title="95% high")]))
    title = "frontier loss" if quantity == "loss" else "N_opt"
    return alt.layer(*layers).properties(title=_title(f"Held-out {title}: predicted against observed",
                                                      "on the diagonal: perfect; bars: 95% bands", subtitleColor="gray"),
                                         height=HEIGHT)


@_fast
def residuals(src, points: pd.DataFrame) -> alt.Chart:
    """log L - log prediction of the parametric fit (column residual), against N, coloured by D."""
    d = _with_labels(points)
    zero = alt.Chart(src("zero", pd.DataFrame({"r": [0.0]}))).mark_rule(color="gray", strokeDash=[3, 3]).encode(y="r:Q")
    pts = alt.Chart(src("d", d)).mark_point(size=50, filled=True).encode(
        x=log_enc(alt.X, "params:Q", "parameters N", d["params"], label_expr=SI),
        y=alt.Y("residual:Q", title="log L − log L̂ (parametric fit)"),
        color=alt.Color("fraction:N", sort=_fraction_sort(d), title="data fraction", scale=alt.Scale(scheme="plasma"),
                        legend=_legend(d["fraction"].nunique())),
        tooltip=["width:O", "fraction:N", alt.Tooltip("val_loss:Q", format=".4f"), alt.Tooltip("residual:Q", format="+.4f")],
    )
    return alt.layer(zero, pts).properties(title=_title("Residuals of the parametric fit"), height=280)
