"""The charts of Explore, Compare and Fit lab: DataFrames and fit results in, a Figure out (no
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
    FACET_WIDTH,
    FIT_COLOR,
    FRONTIER_COLOR,
    HEIGHT,
    LOG,
    PAIR,
    SCI,
    SI,
    WIDTH_SCHEME,
    _figure,
    _legend,
    _title,
    _vals,
    enc,
    layered,
    log_domain,
    log_enc,
    log_ticks,
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
