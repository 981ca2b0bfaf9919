"""Chart builders: DataFrames and fit results in, a Vega-Lite chart out (no Streamlit, no fitting).

Conventions: compute and loss on log axes (a power law is a straight line there); colour is the
width, shape the data fraction; a click on the width legend highlights that width (a point
selection bound to the legend, applied to every layer that has a width).

The specs are written as plain Vega-Lite dicts, not through Altair's object model: Altair
deep-copies, merges and validates its objects on every layer, encode and to_dict, which took
~150 ms of a slider move's ~300 ms of script on Explore (1,000 runs, 2-core EPYC); the dicts
take ~10. Tests validate every chart against Altair's Vega-Lite schema (Figure.validate).
"""
from __future__ import annotations

import functools
import math
import re
import textwrap
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scaling.fit import BACKTEST_MODELS
from scaling.core.fmt import fmt_num, frac_label

LOG = {"type": "log", "nice": False}  # a log scale has no zero: `zero: false` only made Vega warn
WIDTH_SCHEME = "viridis"
FIT_COLOR = "#d62728"
FRONTIER_COLOR = "#111111"
HEIGHT = 340
FACET_WIDTH = 340  # plus the selection names on the y axis: < 560 px
# categorical colours for a few named series (Streamlit's own palette starts with two blues)
PAIR = ["#1f77b4", "#ff7f0e", "#2ca02c"]


# ---------------------------------------------------------------- Vega-Lite in a few words
_TYPES = {"Q": "quantitative", "O": "ordinal", "N": "nominal", "T": "temporal"}


def enc(shorthand: str, **kw) -> dict:
    """An encoding channel or tooltip: enc("width:O", title="width") is
    {"field": "width", "type": "ordinal", "title": "width"}. A keyword set to None is JSON null
    (no title, no legend); leave it out to let Vega-Lite choose."""
    name, _, t = shorthand.partition(":")
    return {"field": name, **({"type": _TYPES[t]} if t else {}), **kw}


def mark(kind: str, **kw) -> dict:
    return {"type": kind, **kw}


def unit(data: dict, mark_: dict, params: list | None = None, **encoding) -> dict:
    """One layer: a data set (by name, see _Data), a mark and its encoding."""
    u = {"data": data, "mark": mark_, "encoding": encoding}
    if params:
        u["params"] = params
    return u


def when(param: str, yes, no) -> dict:
    """A value that depends on a selection: `yes` where the point is selected (or none is)."""
    return {"condition": {"param": param, "value": yes}, "value": no}


def layered(*layers: dict, **props) -> dict:
    return {"layer": list(layers), **props}


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


def log_enc(field: str, title, values, label_expr: str | None = None, fmt: str = "~g", pad: float = 1.12, **kw) -> dict:
    """An x or y channel on a log scale with a padded domain and round ticks, from the values it must show."""
    dom = log_domain(values, pad)
    axis = {"values": log_ticks(dom)} if dom else {}
    axis.update({"format": fmt} if label_expr is None else {"labelExpr": label_expr})
    axis["grid"] = True
    return enc(field, scale={**LOG, "domain": dom} if dom else LOG, axis=axis, title=title, **kw)


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


def _title(text: str, *subtitle: str, **kw) -> dict:
    sub = _lines(*subtitle)
    return {"text": _lines(text), **({"subtitle": sub} if sub else {}), **kw}


def _legend(n_values: int, **kw) -> dict:
    """A legend beside a plot: two columns when one would run past the plot's height (Vega
    clips it: a loss chart with ten widths showed two of its ten data fractions)."""
    return {"orient": "right", "columns": 2 if n_values > 6 else 1, **kw}


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


# Altair's default view size (the charts' own sizes override it), and no ARIA description per mark:
# Vega writes one for every point by formatting each encoded field through its expression
# interpreter, which was most of the browser's time to draw a chart of a few hundred runs (the
# chart itself, its axes and legends keep theirs). Streamlit does the same above 5,000 marks.
_CONFIG = {"view": {"continuousWidth": 300, "continuousHeight": 300}, "mark": {"aria": False}}


@dataclass(frozen=True, eq=False)
class Figure:
    """A Vega-Lite spec whose data sets are referenced by name, plus those data sets.

    Named data keeps the spec small; the frames go straight into its `datasets`, which Streamlit
    ships as Arrow, each cut to the columns the spec reads (a runs frame has ~35, a chart reads
    ~10: the rest was most of the bytes sent and decoded in the browser)."""
    chart: dict
    data: dict

    def spec(self) -> dict:
        d = {**self.chart, "config": _CONFIG}
        if "facet" not in d:
            # Streamlit's default autosize ("fit") squeezes the plot to make room for the title,
            # legends and axes inside `height` (the loss plot was ~120 px tall); fit-x keeps the
            # plot's height and fits only the width to the column
            d.setdefault("autosize", {"type": "fit-x", "contains": "padding"})
        used = _fields(self.chart)
        d["datasets"] = {k: v[[c for c in v.columns if c in used]] for k, v in self.data.items()}
        return d

    def validate(self) -> None:
        """Raise if the spec is not plain JSON (Streamlit sends it as such) or, with its data
        inline, not valid Vega-Lite by the schema Altair ships."""
        import json

        import jsonschema

        json.dumps({k: v for k, v in self.spec().items() if k != "datasets"}, allow_nan=False)
        if err := jsonschema.exceptions.best_match(_validator().iter_errors(self._inline())):
            raise err

    def svg(self) -> bytes:
        return _vl_convert().vegalite_to_svg(self._standalone()).encode()

    def png(self, scale: float = 2.0) -> bytes:
        return _vl_convert().vegalite_to_png(self._standalone(), scale=scale)

    def _inline(self) -> dict:
        d = self.spec()
        d["datasets"] = {k: _records(v) for k, v in d["datasets"].items()}
        return d

    def _standalone(self, width: int = 720) -> dict:
        """The spec with its data inline and a fixed plot width (no Streamlit column to fit)."""
        d = self._inline()
        if "facet" not in d:
            d["width"], d["autosize"] = width, {"type": "pad", "contains": "padding"}
        return d


@functools.cache
def _validator():
    import altair as alt
    import jsonschema

    schema = alt.vegalite.v6.schema.core.load_schema()
    return jsonschema.validators.validator_for(schema)(schema)


def _fields(spec) -> set[str]:
    """Every data field a spec reads: encodings' fields, selections' fields, `datum.x` in expressions."""
    out, todo = set(), [spec]
    while todo:
        x = todo.pop()
        if isinstance(x, dict):
            if isinstance(x.get("field"), str):
                out.add(x["field"])
            if isinstance(x.get("fields"), list):
                out.update(x["fields"])
            todo.extend(x.values())
        elif isinstance(x, list):
            todo.extend(x)
        elif isinstance(x, str) and "datum." in x:
            out.update(re.findall(r"datum\.(\w+)", x))
    return out


def _records(df: pd.DataFrame) -> list[dict]:
    import json

    return json.loads(df.to_json(orient="records", double_precision=15, date_format="iso"))


class _Data:
    """Collects a builder's frames; src(name, df) is the layer's data: the frame by name."""

    def __init__(self):
        self.frames = {}

    def __call__(self, name: str, df: pd.DataFrame) -> dict:
        self.frames[name] = df
        return {"name": name}


def _figure(builder):
    """The builder gets a `src` to name its frames with; the result is a Figure (spec + named data sets)."""
    @functools.wraps(builder)
    def wrapped(*args, **kw):
        src = _Data()
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


PICK = "pick_width"


def _width_param() -> dict:
    return {"name": PICK, "select": {"type": "point", "fields": ["width"]}, "bind": "legend"}


def _tooltip() -> list[dict]:
    return [enc("width:O", title="width"), enc("params:Q", title="N (params)", format=","),
            enc("fraction:N", title="data fraction"), enc("examples:Q", title="D (examples)", format=","),
            enc("flops:Q", title="C (FLOPs)", format=".3s")]


def _compute_x(values, field: str = "flops:Q") -> dict:
    return log_enc(field, "training compute C (FLOPs)", values, label_expr=SCI)


def _loss_y(values, field: str = "val_loss:Q", title: str = "validation loss") -> dict:
    return log_enc(field, title, values)


def _width_color(n: int, **legend) -> dict:
    return enc("width:O", scale={"scheme": WIDTH_SCHEME}, title="width", legend=_legend(n, **legend))


@_figure
def loss_vs_compute(src, runs: pd.DataFrame, points: pd.DataFrame, frontier: pd.DataFrame, law=None,
                    line: pd.DataFrame | None = None, band: pd.DataFrame | None = None,
                    equation: str = "", y: str = "val_loss", y_title: str = "validation loss") -> dict:
    """Every run a small point, seed means a larger one, the frontier a black line through its
    configurations, the fitted law a dashed red line with its band (when given)."""
    runs, points, frontier = _with_labels(runs), _with_labels(points), _with_labels(frontier)
    fsort = _fraction_sort(points)
    # the axes span the runs (and the fitted line); a wide band is clipped, not allowed to squash them
    x = _compute_x(_vals(runs["flops"], points["flops"]))
    yy = _loss_y(_vals(runs[y], points[y], line["fit"] if line is not None and len(line) else None), f"{y}:Q", y_title)
    color = _width_color(runs["width"].nunique(), symbolType="circle")
    shape = enc("fraction:N", sort=fsort, title="data fraction", legend=_legend(len(fsort)))
    tip = _tooltip() + [enc("seed:Q"), enc("val_loss:Q", title="val loss", format=".4f"),
                        enc("val_acc:Q", title="val accuracy", format=".2%")]
    layers = []
    if band is not None and len(band):
        layers.append(unit(src("band", band), mark("area", color=FIT_COLOR, opacity=0.15, clip=True),
                           x=x, y=enc("lo:Q", scale=yy["scale"]), y2=enc("hi")))
    layers.append(unit(src("runs", runs), mark("point", size=22, filled=True), [_width_param()],
                       x=x, y=yy, color=color, shape=shape, opacity=when(PICK, 0.45, 0.05), tooltip=tip))
    mean_tip = _tooltip() + [enc("n_seeds:Q", title="seeds"), enc(f"{y}:Q", title=f"mean {y_title}", format=".4f")]
    layers.append(unit(src("points", points), mark("point", size=90, filled=False, strokeWidth=2),
                       x=x, y=yy, color=color, shape=shape, opacity=when(PICK, 0.9, 0.08), tooltip=mean_tip))
    if y == "val_loss" and len(frontier):
        fr = src("frontier", frontier)
        layers.append(unit(fr, mark("line", color=FRONTIER_COLOR, strokeWidth=1.5, opacity=0.7),
                           x=x, y=yy, order=enc("flops:Q")))
        layers.append(unit(fr, mark("point", size=160, color=FRONTIER_COLOR, filled=False, strokeWidth=1.5),
                           x=x, y=yy, tooltip=mean_tip))
    if line is not None and len(line):
        layers.append(unit(src("line", line), mark("line", color=FIT_COLOR, strokeDash=[6, 4], strokeWidth=2.5, clip=True),
                           x=x, y=enc("fit:Q", scale=yy["scale"]),
                           tooltip=[enc("flops:Q", format=".3s", title="C"), enc("fit:Q", format=".4f", title="fit")]))
    title = _title(f"{y_title.capitalize()} against training compute", equation, subtitleColor=FIT_COLOR,
                   subtitleFontSize=13)
    return layered(*layers, resolve={"scale": {"shape": "shared"}}, title=title, height=HEIGHT)


@_figure
def accuracy_vs_compute(src, runs: pd.DataFrame, points: pd.DataFrame) -> dict:
    runs, points = _with_labels(runs), _with_labels(points)
    x = _compute_x(_vals(runs["flops"], points["flops"]))
    # error rate on a log axis would straighten it, but accuracy is what people read
    yy = enc("val_acc:Q", title="validation accuracy", scale={"zero": False}, axis={"format": "%"})
    color = _width_color(runs["width"].nunique(), symbolType="circle")
    fsort = _fraction_sort(points)
    shape = enc("fraction:N", sort=fsort, title="data fraction", legend=_legend(len(fsort)))
    tip = _tooltip() + [enc("n_seeds:Q", title="seeds"), enc("val_acc:Q", format=".2%", title="mean accuracy")]
    return layered(
        unit(src("runs", runs), mark("point", size=22, filled=True), [_width_param()],
             x=x, y=yy, color=color, shape=shape, opacity=when(PICK, 0.45, 0.05)),
        unit(src("points", points), mark("point", size=90, filled=False, strokeWidth=2),
             x=x, y=yy, color=color, shape=shape, opacity=when(PICK, 0.9, 0.08), tooltip=tip),
        title=_title("Validation accuracy against training compute"), height=HEIGHT)


@_figure
def nopt_vs_compute(src, nopt, band: pd.DataFrame | None = None, title: str | None = None,
                    data: pd.DataFrame | None = None) -> dict:
    """The fitted N_opt = k C^a with its exponent's band, and dots for what the data says: the
    estimator's own per-budget optima, or for the parametric estimator (whose per-budget points
    are read off its fitted surface, not measured) the form-free optima in `data` (C, N_opt,
    source), where some estimator finds them."""
    derived = nopt.method == "parametric"
    pts = (data if data is not None else pd.DataFrame(columns=["C", "N_opt", "source"])) if derived \
        else nopt.points.assign(source=nopt.method)
    have_band = band is not None and "lo" in band and len(band)
    x = _compute_x(_vals(pts["C"], band["C"] if band is not None and len(band) else None), "C:Q")
    y = log_enc("N_opt:Q", "compute-optimal parameters N_opt",
                _vals(pts["N_opt"], band["N_opt"] if band is not None and len(band) else None), label_expr=SI)
    layers = []
    if have_band:
        layers.append(unit(src("band", band), mark("area", color=FIT_COLOR, opacity=0.15, clip=True),
                           x=x, y=enc("lo:Q", scale=y["scale"]), y2=enc("hi")))
    if band is not None and len(band):
        layers.append(unit(src("band", band), mark("line", color=FIT_COLOR, strokeDash=[6, 4], strokeWidth=2.5), x=x, y=y))
    if len(pts):
        layers.append(unit(src("pts", pts), mark("point", size=70, filled=not derived, color=FRONTIER_COLOR),
                           x=x, y=y, tooltip=[enc("C:Q", format=".3s", title="C (FLOPs)"), enc("N_opt:Q", format=",.0f"),
                                              enc("source:N", title="optimum found by")]))
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
    return layered(*layers, height=HEIGHT,
                   title=_title(title or f"Compute-optimal model size ({names.get(nopt.method, nopt.method)})", sub, note,
                                subtitleColor=FIT_COLOR if nopt.ok else "gray", subtitleFontSize=13))


@_figure
def bottleneck(src, points: pd.DataFrame, by: str) -> dict:
    """The data bottleneck: loss against N, one line per D (by='examples'), or against D per N
    (by='params'). With D fixed, growing N plateaus."""
    points = _with_labels(points)
    if by == "examples":
        x = log_enc("params:Q", "parameters N", points["params"], label_expr=SI)
        fsort = _fraction_sort(points)
        color = enc("fraction:N", sort=fsort, title="data fraction", scale={"scheme": "plasma"}, legend=_legend(len(fsort)))
        detail, title = enc("fraction:N"), "Loss against N, one line per data size D"
    else:
        x = log_enc("examples:Q", "training examples D", points["examples"], label_expr=SI)
        color = enc("width:O", scale={"scheme": WIDTH_SCHEME}, title="width", legend=_legend(points["width"].nunique()))
        detail, title = enc("width:O"), "Loss against D, one line per width N"
    tip = _tooltip() + [enc("val_loss:Q", format=".4f", title="mean val loss")]
    return {**unit(src("points", points), mark("line", point=True), x=x, y=_loss_y(points["val_loss"]), color=color,
                   detail=detail, tooltip=tip), "title": _title(title), "height": 280}


@_figure
def compare_frontiers(src, frames: dict[str, pd.DataFrame], lines: dict[str, pd.DataFrame]) -> dict:
    """Both selections' frontiers and fitted laws on one chart, one colour each."""
    fr = pd.concat([f.assign(selection=k) for k, f in frames.items()], ignore_index=True)
    fr = _with_labels(fr)
    ln = pd.concat([f.assign(selection=k) for k, f in lines.items()], ignore_index=True) if lines else pd.DataFrame()
    x = _compute_x(fr["flops"])
    y = _loss_y(_vals(fr["val_loss"], ln["fit"] if len(ln) else None), title="validation loss (frontier)")
    color = enc("selection:N", title="selection", scale={"range": PAIR[:2]}, legend={"orient": "top", "labelLimit": 400})
    layers = [unit(src("fr", fr), mark("line", point=True), x=x, y=y, color=color,
                   tooltip=[enc("selection:N"), enc("width:O"), enc("fraction:N", title="data fraction"),
                            enc("flops:Q", format=".3s", title="C (FLOPs)"), enc("val_loss:Q", format=".4f")])]
    if len(ln):
        layers.append(unit(src("ln", ln), mark("line", strokeDash=[6, 4], strokeWidth=2, clip=True),
                           x=x, y=enc("fit:Q", scale=y["scale"]), color=color))
    return layered(*layers, title=_title("Compute-efficient frontiers (solid)", "dashed: their fitted laws"),
                   height=HEIGHT)


@_figure
def exponents_side_by_side(src, table: pd.DataFrame) -> dict:
    """Each exponent of two selections with its 95% interval (table: name, selection, value, lo, hi)."""
    t = table.dropna(subset=["value"])
    y = enc("selection:N", title=None)
    color = enc("selection:N", legend=None, scale={"range": PAIR[:2]})
    rule = {"mark": mark("rule", strokeWidth=3), "encoding": dict(
        y=y, color=color, x=enc("lo:Q", title="value (95% interval)", scale={"zero": False}), x2=enc("hi"))}
    dot = {"mark": mark("point", size=80, filled=True), "encoding": dict(
        y=y, color=color, x=enc("value:Q"),
        tooltip=[enc("name:N"), enc("selection:N"), enc("value:Q", format=".3f"), enc("lo:Q", format=".3f"),
                 enc("hi:Q", format=".3f")])}
    # a facet cannot fit its width to the page: each exponent's name goes above its plot, not beside
    # it, and the plot is narrow enough for a 1024 px window with the sidebar open (~560 px of page)
    header = {"labelAngle": 0, "labelOrient": "top", "labelAnchor": "start", "labelLimit": FACET_WIDTH + 100,
              "labelFontSize": 12}
    return {"data": src("t", t), "facet": {"row": enc("name:N", title=None, header=header)},
            "spec": {"layer": [rule, dot], "width": FACET_WIDTH}, "resolve": {"scale": {"x": "independent"}},
            "title": _title("Exponents side by side", "dot: estimate, bar: 95% interval")}


@_figure
def isoflop_curves(src, profiles: pd.DataFrame, nopt=None) -> dict:
    """Loss against N at fixed compute budgets (one curve per budget), with each budget's optimum."""
    order = sorted(profiles["budget"].unique())
    labels = [profiles.loc[profiles["budget"] == b, "budget_label"].iloc[0] for b in order]
    color = enc("budget_label:N", sort=labels, title="compute budget", scale={"scheme": "turbo"}, legend=_legend(len(labels)))
    x = log_enc("params:Q", "parameters N", profiles["params"], label_expr=SI)
    layers = [unit(src("profiles", profiles), mark("line", point=True),
                   x=x, y=_loss_y(profiles["val_loss"], title="validation loss (interpolated at the budget)"), color=color,
                   tooltip=[enc("budget_label:N", title="budget"), enc("width:O"), enc("params:Q", format=","),
                            enc("val_loss:Q", format=".4f")])]
    sub = []
    if nopt is not None and nopt.ok and len(nopt.points):
        layers.append(unit(src("nopt_points", nopt.points), mark("rule", color="gray", strokeDash=[2, 2]),
                           x=enc("N_opt:Q", scale=x["scale"]),
                           tooltip=[enc("C:Q", format=".3s"), enc("N_opt:Q", format=",.0f")]))
        sub = ["dotted: the IsoFLOP estimator's N_opt at each budget"]
    elif nopt is not None and not nopt.ok:
        sub = ["no budget has its minimum inside the widths: the IsoFLOP estimator cannot answer"]
    return layered(*layers, title=_title("IsoFLOP profiles: loss against N at fixed compute", *sub, subtitleColor="gray"),
                   height=HEIGHT)


@_figure
def nopt_estimators(src, nopts: dict) -> dict | None:
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
    y = log_enc("N_opt:Q", "compute-optimal parameters N_opt", _vals(P["N_opt"], L["N_opt"]), label_expr=SI)
    color = enc("estimator:N", title="estimator", scale={"range": PAIR},
                legend={"orient": "bottom", "direction": "vertical", "labelLimit": 500})
    return layered(unit(src("P", P), mark("point", size=50), x=x, y=y, color=color,
                        tooltip=[enc("estimator:N"), enc("C:Q", format=".3s"), enc("N_opt:Q", format=",.0f")]),
                   unit(src("L", L), mark("line"), x=x, y=y, color=color),
                   title=_title("N_opt three ways"), height=HEIGHT)


@_figure
def prediction(src, heldout: pd.DataFrame, quantity: str = "loss") -> dict:
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
    sc = {**LOG, "domain": dom}
    ax = {"values": log_ticks(dom), "format": "~g" if quantity == "loss" else "~s"}
    label = "validation loss" if quantity == "loss" else "parameters (N_opt)"
    x = enc("obs:Q", scale=sc, axis=ax, title=f"observed {label}" if quantity == "loss"
            else "N of the held-out frontier configuration")
    color = enc("model:N", title="fit", scale={"range": PAIR},
                legend={"orient": "bottom", "direction": "vertical", "labelLimit": 500})
    layers = [unit(src("diag", diag), mark("line", color="gray", strokeDash=[3, 3]),
                   x=enc("v:Q", scale=sc), y=enc("v:Q", scale=sc))]
    if d["lo"].notna().any():
        layers.append(unit(src("bars", d.dropna(subset=["lo"])), mark("rule", strokeWidth=2, opacity=0.5, clip=True),
                           x=x, y=enc("lo:Q", scale=sc), y2=enc("hi"), color=color))
    layers.append(unit(src("d", d), mark("point", size=70, filled=True),
                       x=x, y=enc("pred:Q", scale=sc, axis=ax, title="predicted from the smaller runs"), color=color,
                       tooltip=[enc("model:N"), enc("params:Q", format=","), enc("examples:Q", format=","),
                                enc("flops:Q", format=".3s"), enc("obs:Q", format=".4~g", title="observed"),
                                enc("pred:Q", format=".4~g", title="predicted"),
                                enc("lo:Q", format=".4~g", title="95% low"), enc("hi:Q", format=".4~g", title="95% high")]))
    title = "frontier loss" if quantity == "loss" else "N_opt"
    return layered(*layers, height=HEIGHT, title=_title(f"Held-out {title}: predicted against observed",
                                                       "on the diagonal: perfect; bars: 95% bands", subtitleColor="gray"))


@_figure
def residuals(src, points: pd.DataFrame) -> dict:
    """log L - log prediction of the parametric fit (column residual), against N, coloured by D."""
    d = _with_labels(points)
    zero = unit(src("zero", pd.DataFrame({"r": [0.0]})), mark("rule", color="gray", strokeDash=[3, 3]), y=enc("r:Q"))
    pts = unit(src("d", d), mark("point", size=50, filled=True),
               x=log_enc("params:Q", "parameters N", d["params"], label_expr=SI),
               y=enc("residual:Q", title="log L − log L̂ (parametric fit)"),
               color=enc("fraction:N", sort=_fraction_sort(d), title="data fraction", scale={"scheme": "plasma"},
                         legend=_legend(d["fraction"].nunique())),
               tooltip=[enc("width:O"), enc("fraction:N"), enc("val_loss:Q", format=".4f"),
                        enc("residual:Q", format="+.4f")])
    return layered(zero, pts, title=_title("Residuals of the parametric fit"), height=280)
