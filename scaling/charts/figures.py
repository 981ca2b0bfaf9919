"""The charts of Explore and Fit lab: DataFrames and fit results in, a Figure out (no
Streamlit, no fitting).

Conventions: compute and loss on log axes (a power law is a straight line there); colour is the
width, shape the data fraction; a click on the width legend highlights that width (a point
selection bound to the legend, applied to every layer that has a width).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from scaling.charts.vega import (
    COUNT_DECADES,
    FIT_COLOR,
    FRONTIER_COLOR,
    HEIGHT,
    LOSS_DECADES,
    PAIR,
    SCI,
    SI,
    WIDTH_SCHEME,
    _figure,
    _title,
    _vals,
    clip_to,
    enc,
    layered,
    log_axis,
    log_enc,
    mark,
    unit,
    when,
)
from scaling.core.fmt import fmt_num, frac_label
from scaling.fit import BACKTEST_MODELS


def _with_labels(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    if "data_fraction" in df.columns:
        labels = {f: frac_label(f) for f in df["data_fraction"].unique()}  # a few values, many rows
        df["fraction"] = df["data_fraction"].map(labels)
    return df


# The live charts' specs depend on the page and the kind of selection, never on its numbers (see
# vega.log_axis): categories sorted by a field of the data, not by a list of the values; legends of
# a fixed shape; every layer present, empty where there is nothing to draw.
BY_FRACTION = {"field": "data_fraction", "op": "min"}
LEGEND = {"orient": "right", "columns": 2}  # ten widths and ten fractions fit the plot's height in two columns


def _cx(field: str = "flops:Q") -> dict:
    return log_axis(field, "training compute C (FLOPs)", "x", label_expr=SCI)


def _ly(field: str = "val_loss:Q", title: str = "validation loss") -> dict:
    return log_axis(field, title, "y", LOSS_DECADES)


def _fraction_shape() -> dict:
    return enc("fraction:N", sort=BY_FRACTION, title="data fraction", legend=LEGEND)


def _width_colour(**legend) -> dict:
    return enc("width:O", scale={"scheme": WIDTH_SCHEME}, title="width", legend={**LEGEND, **legend})


def _frame(df, *cols: str) -> pd.DataFrame:
    """df, or an empty frame with its columns: a layer that is always in the spec, drawn when it has rows."""
    return df if df is not None and len(df) else pd.DataFrame({c: pd.Series(dtype=float) for c in cols})


PICK = "pick_width"


def _width_param() -> dict:
    return {"name": PICK, "select": {"type": "point", "fields": ["width"]}, "bind": "legend"}


def _tooltip() -> list[dict]:
    return [enc("width:O", title="width"), enc("params:Q", title="N (params)", format=","),
            enc("fraction:N", title="data fraction"), enc("examples:Q", title="D (examples)", format=","),
            enc("flops:Q", title="C (FLOPs)", format=".3s")]


def _loss_y(values, field: str = "val_loss:Q", title: str = "validation loss") -> dict:
    """A loss axis with its domain and ticks from `values` (the studies' charts, which no slider moves)."""
    return log_enc(field, title, values)


@_figure
def loss_vs_compute(src, runs: pd.DataFrame, points: pd.DataFrame, frontier: pd.DataFrame, law=None,
                    line: pd.DataFrame | None = None, band: pd.DataFrame | None = None,
                    equation: str = "", y: str = "val_loss", y_title: str = "validation loss"):
    """Every run a small point, seed means a larger one, the frontier a black line through its
    configurations, the fitted law a dashed red line with its band (when given). The equation is
    the caption (Figure.caption), not the title: the spec stays the same from one selection to the next."""
    runs, points, frontier = _with_labels(runs), _with_labels(points), _with_labels(frontier)
    x, yy = _cx(), _ly(f"{y}:Q", y_title)
    color, shape = _width_colour(symbolType="circle"), _fraction_shape()
    tip = _tooltip() + [enc("seed:Q"), enc("val_loss:Q", title="val loss", format=".4f"),
                        enc("val_acc:Q", title="val accuracy", format=".2%")]
    # the axes span the runs (and the fitted line): a wide band is clipped to them, not allowed to squash them
    ys = _vals(runs[y], points[y], line["fit"] if line is not None and len(line) else None)
    lo, hi = (float(ys.min()) / 1.12, float(ys.max()) * 1.12) if len(ys) else (np.nan, np.nan)
    band = clip_to(_frame(band, "flops", "lo", "hi"), lo, hi, "lo", "hi")
    layers = [unit(src("band", band), mark("area", color=FIT_COLOR, opacity=0.15),
                   x=x, y=enc("lo:Q", scale=yy["scale"]), y2=enc("hi")),
              unit(src("runs", runs), mark("point", size=22, filled=True), [_width_param()],
                   x=x, y=yy, color=color, shape=shape, opacity=when(PICK, 0.45, 0.05), tooltip=tip)]
    mean_tip = _tooltip() + [enc("n_seeds:Q", title="seeds"), enc(f"{y}:Q", title=f"mean {y_title}", format=".4f")]
    layers.append(unit(src("points", points), mark("point", size=90, filled=False, strokeWidth=2),
                       x=x, y=yy, color=color, shape=shape, opacity=when(PICK, 0.9, 0.08), tooltip=mean_tip))
    if y == "val_loss":
        fr = src("frontier", frontier)
        layers.append(unit(fr, mark("line", color=FRONTIER_COLOR, strokeWidth=1.5, opacity=0.7),
                           x=x, y=yy, order=enc("flops:Q")))
        layers.append(unit(fr, mark("point", size=160, color=FRONTIER_COLOR, filled=False, strokeWidth=1.5),
                           x=x, y=yy, tooltip=mean_tip))
    layers.append(unit(src("line", _frame(line, "flops", "fit")),
                       mark("line", color=FIT_COLOR, strokeDash=[6, 4], strokeWidth=2.5),
                       x=x, y=enc("fit:Q", scale=yy["scale"]),
                       tooltip=[enc("flops:Q", format=".3s", title="C"), enc("fit:Q", format=".4f", title="fit")]))
    title = _title(f"{y_title.capitalize()} against training compute")
    return layered(*layers, resolve={"scale": {"shape": "shared"}}, title=title, height=HEIGHT), equation


@_figure
def accuracy_vs_compute(src, points: pd.DataFrame) -> dict:
    """Seed-mean accuracy against compute. Not every run: the loss chart beside it shows the seeds' spread,
    and a point per run costs a move ~25 ms per chart to draw (docs/performance.md)."""
    points = _with_labels(points)
    # error rate on a log axis would straighten it, but accuracy is what people read
    yy = enc("val_acc:Q", title="validation accuracy", scale={"zero": False}, axis={"format": "%"})
    tip = _tooltip() + [enc("n_seeds:Q", title="seeds"), enc("val_acc:Q", format=".2%", title="mean accuracy")]
    return layered(
        unit(src("points", points), mark("point", size=60, filled=True, strokeWidth=1.5), [_width_param()],
             x=_cx(), y=yy, color=_width_colour(symbolType="circle"), shape=_fraction_shape(),
             opacity=when(PICK, 0.85, 0.08), tooltip=tip),
        title=_title("Validation accuracy against training compute"), height=HEIGHT)


NOPT_NAMES = {"envelope": "lower envelope", "isoflop": "IsoFLOP profiles", "parametric": "parametric L(N, D)"}


@_figure
def nopt_vs_compute(src, nopt, band: pd.DataFrame | None = None, title: str | None = None,
                    data: pd.DataFrame | None = None):
    """The fitted N_opt = k C^a with its exponent's band, and dots for what the data says: the
    estimator's own per-budget optima, or for the parametric estimator (whose per-budget points
    are read off its fitted surface, not measured) the form-free optima in `data` (C, N_opt,
    source), where some estimator finds them. The fitted law and what the dots are: the caption."""
    derived = nopt.method == "parametric"
    pts = (data if data is not None else pd.DataFrame(columns=["C", "N_opt", "source"])) if derived \
        else nopt.points.assign(source=nopt.method)
    # rings where the dots are not the estimator's own (drawn from the data, not the spec: the spec
    # is the same whichever estimator is shown)
    pts = _frame(pts, "C", "N_opt", "source").assign(fill=0.0 if derived else 1.0)
    band = _frame(band, "C", "N_opt", "lo", "hi")
    band_line = band
    if len(band) and "lo" in band:
        yv = _vals(pts["N_opt"], band["N_opt"])
        band = clip_to(band, float(yv.min()) / 1.12, float(yv.max()) * 1.12, "lo", "hi")
    else:
        band = _frame(None, "C", "lo", "hi")
    x = log_axis("C:Q", "training compute C (FLOPs)", "x", label_expr=SCI)
    y = log_axis("N_opt:Q", "compute-optimal parameters N_opt", "y", label_expr=SI)
    layers = [unit(src("band", band), mark("area", color=FIT_COLOR, opacity=0.15),
                   x=x, y=enc("lo:Q", scale=y["scale"]), y2=enc("hi")),
              unit(src("line", band_line), mark("line", color=FIT_COLOR, strokeDash=[6, 4], strokeWidth=2.5), x=x, y=y),
              unit(src("pts", pts), mark("point", size=70, filled=False, color=FRONTIER_COLOR, fill=FRONTIER_COLOR),
                   x=x, y=y, fillOpacity=enc("fill:Q", scale=None, legend=None),
                   tooltip=[enc("C:Q", format=".3s", title="C (FLOPs)"), enc("N_opt:Q", format=",.0f"),
                            enc("source:N", title="optimum found by")])]
    iv = nopt.interval
    sub = f"N_opt = {fmt_num(nopt.k)} · C^{nopt.a:.3f}" if nopt.ok else nopt.reason
    if nopt.ok and iv is not None and math.isfinite(iv.lo):
        sub += f", a ∈ [{iv.lo:.3f}, {iv.hi:.3f}] (95%)"
    if derived:
        note = (f"rings: per-budget optima in the data ({NOPT_NAMES.get(pts['source'].iloc[0], '')}); dashed: the fit"
                if len(pts) else "no budget has its optimum inside the grid: the line is the fit alone")
    else:
        note = "dots: the per-budget optima found in the data; dashed: the estimator's fit"
    head = _title(title or "Compute-optimal model size N_opt")
    by = f"By the {NOPT_NAMES.get(nopt.method, nopt.method)} estimator: "
    return layered(*layers, height=HEIGHT, title=head), f"{by}{sub}. {note[0].upper()}{note[1:]}."


@_figure
def bottleneck(src, points: pd.DataFrame, by: str) -> dict:
    """The data bottleneck: loss against N, one line per D (by='examples'), or against D per N
    (by='params'). With D fixed, growing N plateaus."""
    points = _with_labels(points)
    if by == "examples":
        x = log_axis("params:Q", "parameters N", "x", label_expr=SI)
        color = enc("fraction:N", sort=BY_FRACTION, title="data fraction", scale={"scheme": "plasma"}, legend=LEGEND)
        detail, title = enc("fraction:N"), "Loss against N, one line per data size D"
    else:
        x = log_axis("examples:Q", "training examples D", "x", label_expr=SI)
        color = enc("width:O", scale={"scheme": WIDTH_SCHEME}, title="width", legend=LEGEND)
        detail, title = enc("width:O"), "Loss against D, one line per width N"
    tip = _tooltip() + [enc("val_loss:Q", format=".4f", title="mean val loss")]
    return {**unit(src("points", points), mark("line", point=True), x=x, y=_ly(), color=color,
                   detail=detail, tooltip=tip), "title": _title(title), "height": 280}


@_figure
def isoflop_curves(src, profiles: pd.DataFrame, nopt=None) -> dict:
    """Loss against N at fixed compute budgets (one curve per budget), with each budget's optimum."""
    color = enc("budget_label:N", sort={"field": "budget", "op": "min"}, title="compute budget",
                scale={"scheme": "turbo"}, legend=LEGEND)
    x = log_axis("params:Q", "parameters N", "x", label_expr=SI)
    ok = nopt is not None and nopt.ok and len(nopt.points)
    layers = [unit(src("profiles", profiles), mark("line", point=True),
                   x=x, y=_ly(title="validation loss (interpolated at the budget)"), color=color,
                   tooltip=[enc("budget_label:N", title="budget"), enc("width:O"), enc("params:Q", format=","),
                            enc("val_loss:Q", format=".4f")]),
              unit(src("nopt_points", _frame(nopt.points if ok else None, "C", "N_opt")),
                   mark("rule", color="gray", strokeDash=[2, 2]), x=enc("N_opt:Q", scale=x["scale"]),
                   tooltip=[enc("C:Q", format=".3s"), enc("N_opt:Q", format=",.0f")])]
    sub = ["dotted: the IsoFLOP estimator's N_opt at each budget" if nopt is None or nopt.ok else
           "no budget has its minimum inside the widths: the IsoFLOP estimator cannot answer"]
    return layered(*layers, title=_title("IsoFLOP profiles: loss against N at fixed compute", *sub, subtitleColor="gray"),
                   height=HEIGHT)


@_figure
def nopt_estimators(src, nopts: dict) -> dict | None:
    """The three N_opt estimators on one chart: their budget points and fitted lines (each estimator's
    exponent in its legend entry: data, not spec)."""
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
    x = log_axis("C:Q", "training compute C (FLOPs)", "x", label_expr=SCI)
    y = log_axis("N_opt:Q", "compute-optimal parameters N_opt", "y", label_expr=SI)
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
    the prediction's 95% band where the backtest was resampled. The diagonal is perfect: it spans
    every value, so Vega fits both axes to the same range."""
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
    decades = LOSS_DECADES if quantity == "loss" else COUNT_DECADES
    fmt = "~g" if quantity == "loss" else "~s"
    label = "validation loss" if quantity == "loss" else "parameters (N_opt)"
    x = log_axis("obs:Q", f"observed {label}" if quantity == "loss" else "N of the held-out frontier configuration",
                 "x", decades, fmt=fmt, pad_px=0)
    y = log_axis("pred:Q", "predicted from the smaller runs", "y", decades, fmt=fmt, pad_px=0)
    color = enc("model:N", title="fit", scale={"range": PAIR},
                legend={"orient": "bottom", "direction": "vertical", "labelLimit": 500})
    bars = clip_to(d.dropna(subset=["lo"]), lo / 1.05, hi * 1.05, "lo", "hi")
    layers = [unit(src("diag", diag), mark("line", color="gray", strokeDash=[3, 3]),
                   x=enc("v:Q", scale=x["scale"]), y=enc("v:Q", scale=y["scale"])),
              unit(src("bars", bars), mark("rule", strokeWidth=2, opacity=0.5),
                   x=x, y=enc("lo:Q", scale=y["scale"]), y2=enc("hi"), color=color),
              unit(src("d", d), mark("point", size=70, filled=True), x=x, y=y, color=color,
                   tooltip=[enc("model:N"), enc("params:Q", format=","), enc("examples:Q", format=","),
                            enc("flops:Q", format=".3s"), enc("obs:Q", format=".4~g", title="observed"),
                            enc("pred:Q", format=".4~g", title="predicted"),
                            enc("lo:Q", format=".4~g", title="95% low"), enc("hi:Q", format=".4~g", title="95% high")])]
    title = "frontier loss" if quantity == "loss" else "N_opt"
    return layered(*layers, height=HEIGHT, title=_title(f"Held-out {title}: predicted against observed",
                                                       "on the diagonal: perfect; bars: 95% bands", subtitleColor="gray"))


@_figure
def residuals(src, points: pd.DataFrame) -> dict:
    """log L - log prediction of the parametric fit (column residual), against N, coloured by D."""
    d = _with_labels(points)
    zero = unit(src("zero", pd.DataFrame({"r": [0.0]})), mark("rule", color="gray", strokeDash=[3, 3]), y=enc("r:Q"))
    pts = unit(src("d", d), mark("point", size=50, filled=True),
               x=log_axis("params:Q", "parameters N", "x", label_expr=SI),
               y=enc("residual:Q", title="log L − log L̂ (parametric fit)"),
               color=enc("fraction:N", sort=BY_FRACTION, title="data fraction", scale={"scheme": "plasma"},
                         legend=LEGEND),
               tooltip=[enc("width:O"), enc("fraction:N"), enc("val_loss:Q", format=".4f"),
                        enc("residual:Q", format="+.4f")])
    return layered(zero, pts, title=_title("Residuals of the parametric fit"), height=280)
