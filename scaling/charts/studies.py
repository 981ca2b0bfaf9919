"""Charts of the studies beyond the exercise: a study's result (scaling.fit.studies) in, a
Vega-Lite chart out, in scaling.charts' style (log axes with round ticks, named data sets, the same
colours).

    exponents   each setting's exponent with its 95% interval, side by side (every study)
    noise       loss against D per label-noise level, with each level's fitted L(D)
    arch        loss against compute per architecture: every cell, the frontier, its fitted law
    transfer    D_T against D_F per width, with the fitted D_T = k D_F^alpha N^beta
    bottleneck  loss against N per data size with the plateau's start; N_p against D with its law
    schedule    loss against compute per schedule and tuning: every cell, each frontier, its fitted law
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from scaling.charts.figures import _loss_y
from scaling.charts.vega import (
    FIT_COLOR,
    FRONTIER_COLOR,
    HEIGHT,
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
    log_enc,
    mark,
    unit,
)
from scaling.core.fmt import frac_label

# darker = more noise, from ColorBrewer's Oranges without its palest classes, which are barely
# visible on white and hard to tell apart (Vega's own schemes start from them)
NOISE_RAMP = ["#fd8d3c", "#f16913", "#d94801", "#a63603", "#7f2704"]


def _noise_scale(order: list[str]) -> dict:
    """The noise levels' colours spread over NOISE_RAMP, palest first; more levels than it holds
    sample Vega's "oranges" from the same shade on."""
    n, m = len(order), len(NOISE_RAMP) - 1
    if n > len(NOISE_RAMP):
        return {"domain": order, "scheme": {"name": "oranges", "extent": [0.45, 1], "count": n}}
    return {"domain": order, "range": [NOISE_RAMP[round(i * m / max(n - 1, 1))] for i in range(n)]}


def _pct(x: float) -> str:
    return f"{x:.0%}"


@_figure
def exponents(src, result, title: str = "") -> dict | None:
    """Each setting's exponent (result.exponents: setting, value, lo, hi) as a dot on its 95%
    interval: settings whose bars do not overlap differ."""
    t = result.exponents.dropna(subset=["value"]) if len(result.exponents) else result.exponents
    if not len(t):
        return None
    data = src("exponents", t)
    settings = list(t["setting"])
    y = enc("setting:N", sort=settings, title=None, axis={"labelLimit": 220})
    # each side in the colour its own chart gives it (noise: the oranges, by level; else PAIR by order)
    scale = (_noise_scale(settings) if result.key == "noise" else
             {"domain": settings, "range": (PAIR + ["#9467bd", "#8c564b", "#e377c2"])[:len(settings)]})
    color = enc("setting:N", sort=settings, scale=scale, legend=None)
    rule = unit(data, mark("rule", strokeWidth=3),
                y=y, x=enc("lo:Q", title="exponent (95% interval)", scale={"zero": False}), x2=enc("hi"), color=color)
    dot = unit(data, mark("point", size=90, filled=True),
               y=y, x=enc("value:Q"), color=color,
               tooltip=[enc("setting:N"), enc("value:Q", format=".3f"), enc("lo:Q", format=".3f", title="95% low"),
                        enc("hi:Q", format=".3f", title="95% high"), enc("n_runs:Q", title="runs"),
                        enc("answered:N", title="resamples")])
    return layered(rule, dot, height=max(60 * len(t), 120),
                   title=_title(title or "Exponents side by side", "dot: estimate, bar: 95% interval (seeds resampled)",
                                subtitleColor="gray"))


@_figure
def noise(src, result) -> dict | None:
    """Seed-mean loss against D at one width, one colour per label-noise level, and each level's law."""
    p = result.points
    if not len(p):
        return None
    p = p.assign(noise=p["label_noise"].map(_pct))
    order = [_pct(x) for x in sorted(p["label_noise"].unique())]
    ln = result.lines.assign(noise=result.lines["label_noise"].map(_pct)) if len(result.lines) else result.lines
    x = log_enc("examples:Q", "training examples D", p["examples"], label_expr=SI)
    y = _loss_y(_vals(p["val_loss"], ln["fit"] if len(ln) else None), title="validation loss (clean test set)")
    color = enc("noise:N", sort=order, title="label noise", scale=_noise_scale(order), legend=_legend(len(order)))
    layers = [unit(src("points", p), mark("point", size=70, filled=True),
                   x=x, y=y, color=color, tooltip=[enc("noise:N"), enc("examples:Q", format=",", title="D"),
                                                   enc("val_loss:Q", format=".4f", title="mean val loss"),
                                                   enc("n_seeds:Q", title="seeds")])]
    if len(ln):
        layers.append(unit(src("lines", ln), mark("line", strokeDash=[6, 4], strokeWidth=2),
                           x=x, y=enc("fit:Q", scale=y["scale"]), color=color))
    return layered(*layers, height=HEIGHT,
                   title=_title(f"Loss against data at width {result.width}", "dashed: L(D) = A·D^−α_D per noise level",
                                subtitleColor="gray"))


@_figure
def arch(src, result) -> dict | None:
    """Every cell (seed means) faint, each architecture's frontier solid, its fitted law dashed."""
    p = result.points
    if not len(p):
        return None
    order = list(result.exponents["arch"]) if "arch" in result.exponents else sorted(p["arch"].unique())
    x = log_enc("flops:Q", "training compute C (FLOPs)", p["flops"], label_expr=SCI)
    y = _loss_y(_vals(p["val_loss"], result.lines["fit"] if len(result.lines) else None))
    # the legend's symbols opaque: the first layer (every cell) is faint, and would make them faint too
    color = enc("arch:N", sort=order, title="architecture", scale={"domain": order, "range": PAIR[:len(order)]},
                legend=_legend(len(order), symbolOpacity=1))
    tip = [enc("arch:N"), enc("width:O"), enc("params:Q", format=",", title="N"),
           enc("examples:Q", format=",", title="D"), enc("flops:Q", format=".3s", title="C"),
           enc("val_loss:Q", format=".4f", title="mean val loss")]
    front = p[p["frontier"]].sort_values("flops")
    layers = [unit(src("cells", p), mark("point", size=30, opacity=0.35), x=x, y=y, color=color, tooltip=tip),
              unit(src("frontier", front), mark("line", point=True, strokeWidth=2),
                   x=x, y=y, color=color, order=enc("flops:Q"), tooltip=tip)]
    if len(result.lines):
        layers.append(unit(src("lines", result.lines), mark("line", strokeDash=[6, 4], strokeWidth=2, clip=True),
                           x=x, y=enc("fit:Q", scale=y["scale"]), color=color))
    if math.isfinite(result.target_loss):
        layers.append(unit(src("target", pd.DataFrame({"loss": [result.target_loss]})),
                           mark("rule", color="gray", strokeDash=[2, 2]),
                           y=enc("loss:Q", scale=y["scale"]), tooltip=[enc("loss:Q", format=".4f", title="common loss")]))
    return layered(*layers, height=HEIGHT,
                   title=_title("Compute-efficient frontiers per architecture",
                                "solid: frontier, dashed: L = A·C^−α_C; dotted: the loss both reach", subtitleColor="gray"))


@_figure
def transfer(src, result) -> dict | None:
    """D_T against D_F per width on log axes: filled where D_E lies inside the from-scratch runs,
    hollow where it is extrapolated; bars: 95% intervals; dashed: the fitted law per width."""
    p = result.points
    if not len(p):
        return None
    p = p[p["used"]].assign(how=lambda d: np.where(d["extrapolated"], "extrapolated D_E", "inside the scratch runs"))
    if not len(p):
        return None
    fl = result.fit_line
    x = log_enc("D_F:Q", "fine-tuning examples D_F", p["D_F"], label_expr=SI)
    y = log_enc("D_T:Q", "effective data transferred D_T", _vals(p["D_T"], fl["D_T"] if len(fl) else None), label_expr=SI)
    widths = sorted(p["width"].unique().tolist())
    color = enc("width:O", sort=widths, scale={"scheme": WIDTH_SCHEME}, title="width", legend=_legend(len(widths)))
    tip = [enc("width:O"), enc("params:Q", format=",", title="N"), enc("D_F:Q", format=",.0f"),
           enc("D_E:Q", format=",.0f", title="D_E (from scratch)"), enc("D_T:Q", format=",.0f"),
           enc("lo:Q", format=",.0f", title="95% low"), enc("hi:Q", format=",.0f", title="95% high"),
           enc("how:N", title="D_E")]
    layers = []
    bars = p.dropna(subset=["lo", "hi"])
    bars = bars[(bars["lo"] > 0) & (bars["hi"] > 0)]
    if len(bars):
        layers.append(unit(src("bars", bars), mark("rule", strokeWidth=2, opacity=0.5, clip=True),
                           x=x, y=enc("lo:Q", scale=y["scale"]), y2=enc("hi"), color=color))
    fill = {"condition": {"test": "datum.extrapolated", "value": "white"}, **enc("width:O", sort=widths, legend=None)}
    layers.append(unit(src("points", p), mark("point", size=80, strokeWidth=2), x=x, y=y, color=color, tooltip=tip,
                       fill=fill))
    sub = "dashed: D_T = k·D_F^α·N^β"
    if len(fl):
        layers.append(unit(src("fit", fl), mark("line", strokeDash=[6, 4], strokeWidth=2, clip=True),
                           x=x, y=enc("D_T:Q", scale=y["scale"]), color=color))
        k = f"{result.k:,.0f}" if abs(result.k) >= 100 else f"{result.k:.3g}"  # as the answer writes it, not 3.76e+04
        sub = f"dashed: D_T = {k}·D_F^{result.alpha:.2f}·N^{result.beta:.2f}"
    return layered(*layers, height=HEIGHT,
                   title=_title("Effective data transferred against fine-tuning data", sub,
                                "hollow: D_E extrapolated beyond the from-scratch runs", subtitleColor="gray"))


@_figure
def bottleneck(src, result) -> dict | None:
    """Loss against N, one line per data size D (distinct examples), and a ring where each plateau starts."""
    p = result.points
    if not len(p):
        return None
    p = p.assign(fraction=p["data_fraction"].map(frac_label))
    order = [frac_label(f) for f in sorted(p["data_fraction"].unique())]
    x = log_enc("params:Q", "parameters N", p["params"], label_expr=SI)
    y = _loss_y(p["val_loss"])
    color = enc("fraction:N", sort=order, title="data fraction", scale={"scheme": "plasma", "domain": order},
                legend=_legend(len(order)))
    tip = [enc("fraction:N"), enc("distinct:Q", format=",", title="distinct examples"), enc("width:O"),
           enc("params:Q", format=","), enc("val_loss:Q", format=".4f", title="mean val loss")]
    layers = [unit(src("points", p), mark("line", point=True), x=x, y=y, color=color, detail=enc("fraction:N"),
                   tooltip=tip)]
    pl = result.plateaus
    if len(pl):
        # the ring sits on the curve: the loss at N_p is the threshold the plateau starts at
        pl = pl.assign(fraction=pl["data_fraction"].map(frac_label), at=pl["L_best"] * (1 + pl["tolerance"]))
        layers.append(unit(src("plateaus", pl), mark("point", size=220, filled=False, strokeWidth=2.5),
                           x=enc("N_p:Q", scale=x["scale"]), y=enc("at:Q", scale=y["scale"]), color=color,
                           tooltip=[enc("fraction:N"), enc("N_p:Q", format=",.0f", title="plateau from N"),
                                    enc("overfits:N"), enc("censored:N")]))
    return layered(*layers, height=HEIGHT,
                   title=_title(f"Loss against N at fixed data, {result.epochs} epochs",
                                "rings: where the loss comes within tolerance of its best at that D (the points of "
                                "the plateau chart)", subtitleColor="gray"))


@_figure
def plateau(src, result) -> dict | None:
    """N_p against D (distinct examples) with 95% bars: where each curve comes within tolerance of its
    best loss; and, dashed, where Kaplan's L(N, D) fitted to all the seed means puts it (its model and
    data terms equal), N_p ∝ D^p: the answer's p. Two readings of one question, labelled as such."""
    pl = result.plateaus
    if not len(pl):
        return None
    # no least-squares fit of these points: the dashed line is Kaplan's, so none is "fitted" or "left out";
    # the legend goes below the plot, where its longer labels do not narrow the plot to ~200 px
    pl = pl.assign(kind=np.where(pl["censored"] == "", "inside the widths trained",
                                 "at the edge of the widths trained (censored)"))
    x = log_enc("distinct:Q", "distinct training examples D", pl["distinct"], label_expr=SI)
    y = log_enc("N_p:Q", "plateau start N_p (parameters)",
                _vals(pl["N_p"], result.line["N_p"] if len(result.line) else None), label_expr=SI)
    layers = []
    bars = pl.dropna(subset=["lo", "hi"])
    if len(bars):
        layers.append(unit(src("bars", bars), mark("rule", strokeWidth=2, color=FRONTIER_COLOR, opacity=0.5, clip=True),
                           x=x, y=enc("lo:Q", scale=y["scale"]), y2=enc("hi")))
    layers.append(unit(src("plateaus", pl), mark("point", size=80, filled=True, color=FRONTIER_COLOR),
                       x=x, y=y, shape=enc("kind:N", title=None,
                                           legend={"orient": "bottom", "direction": "vertical", "labelLimit": 400}),
                       tooltip=[enc("distinct:Q", format=","), enc("N_p:Q", format=",.0f"),
                                enc("kind:N", title="plateau start"), enc("censored:N", title="censored"),
                                enc("lo:Q", format=",.0f", title="95% low"), enc("hi:Q", format=",.0f", title="95% high")]))
    pts = "points: the loss within tolerance of its best (95% bars)"
    sub = "no law: Kaplan's L(N, D) does not fit these runs"
    if len(result.line):
        layers.append(unit(src("line", result.line), mark("line", color=FIT_COLOR, strokeDash=[6, 4], strokeWidth=2.5),
                           x=x, y=enc("N_p:Q", scale=y["scale"])))
        iv = result.interval
        sub = ("dashed: Kaplan's L(N, D), model term = data term — "
               f"N_p ∝ D^{result.p:.2f}" + (f", p ∈ [{iv.lo:.2f}, {iv.hi:.2f}] (95%)"
                                            if iv is not None and math.isfinite(iv.lo) else ""))
    return layered(*layers, height=HEIGHT, title=_title("Where the plateau starts, against data", pts, sub,
                                                        subtitleColor="gray"))


# constant arms blue, cosine arms orange; untuned paler than tuned
ARM_COLORS = {"constant/untuned": "#9ecae1", "constant/tuned": "#1f77b4", "cosine/untuned": "#fdae6b",
              "cosine/tuned": "#e6550d"}


@_figure
def schedule(src, result) -> dict | None:
    """Each arm's frontier (seed means at its chosen lr) against compute, its fitted law dashed."""
    p = result.points
    if not len(p):
        return None
    order = [a for a in ARM_COLORS if a in set(p["arm"])]
    x = log_enc("flops:Q", "training compute C (FLOPs)", p["flops"], label_expr=SCI)
    y = _loss_y(_vals(p["val_loss"], result.lines["fit"] if len(result.lines) else None))
    color = enc("arm:N", sort=order, title="schedule / lr", legend=_legend(len(order), symbolOpacity=1),
                scale={"domain": order, "range": [ARM_COLORS[a] for a in order]})
    tip = [enc("arm:N", title="schedule / lr"), enc("width:O"), enc("examples:Q", format=",", title="D"),
           enc("flops:Q", format=".3s", title="C"), enc("lr_mult:Q", format="g", title="lr ×"),
           enc("val_loss:Q", format=".4f", title="mean val loss"), enc("n_seeds:Q", title="seeds")]
    front = p[p["frontier"]].sort_values("flops")
    layers = [unit(src("cells", p), mark("point", size=30, opacity=0.3), x=x, y=y, color=color, tooltip=tip),
              unit(src("frontier", front), mark("line", point=True, strokeWidth=2),
                   x=x, y=y, color=color, order=enc("flops:Q"), tooltip=tip)]
    if len(result.lines):
        layers.append(unit(src("lines", result.lines), mark("line", strokeDash=[6, 4], strokeWidth=2, clip=True),
                           x=x, y=enc("fit:Q", scale=y["scale"]), color=color))
    return layered(*layers, height=HEIGHT,
                   title=_title("Compute-efficient frontiers per lr schedule and tuning",
                                "solid: frontier, dashed: L = A·C^−α_C; tuned: the best of lr ×½, ×1, ×2 per configuration",
                                subtitleColor="gray"))


CHARTS = {"noise": (noise,), "arch": (arch,), "transfer": (transfer,), "bottleneck": (bottleneck, plateau),
          "schedule": (schedule,)}


def study_charts(result) -> list:
    """The charts that answer one study, in the order a card shows them: its own, then the
    exponents side by side (None where a chart has nothing to draw is left out)."""
    figs = [f(result) for f in CHARTS[result.key]] + [exponents(result)]
    return [f for f in figs if f is not None]
