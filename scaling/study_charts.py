"""Altair charts of the studies beyond the exercise: a study's result (scaling.fit.studies) in, a
chart out, in scaling.charts' style (log axes with round ticks, named data sets, the same colours).

    exponents   each setting's exponent with its 95% interval, side by side (every study)
    noise       loss against D per label-noise level, with each level's fitted L(D)
    arch        loss against compute per architecture: every cell, the frontier, its fitted law
    transfer    D_T against D_F per width, with the fitted D_T = k D_F^alpha N^beta
    bottleneck  loss against N per data size with the plateau's start; N_p against D with its law
"""
from __future__ import annotations

import math

import altair as alt
import numpy as np
import pandas as pd

from .charts import FIT_COLOR, FRONTIER_COLOR, HEIGHT, PAIR, SCI, SI, WIDTH_SCHEME, _fast, _legend, _loss_y, _title, \
    _vals, log_enc
from .views import frac_label

# darker = more noise, from ColorBrewer's Oranges without its palest classes: with Vega's own
# "orangered" three levels got its three-class palette, where 0% (the baseline) was a peach barely
# visible on white and 20% hard to tell from it
NOISE_RAMP = ["#fd8d3c", "#f16913", "#d94801", "#a63603", "#7f2704"]


def _noise_scale(order: list[str]) -> alt.Scale:
    """The noise levels' colours spread over NOISE_RAMP, palest first; more levels than it holds
    sample Vega's "oranges" from the same shade on."""
    n, m = len(order), len(NOISE_RAMP) - 1
    if n > len(NOISE_RAMP):
        return alt.Scale(domain=order, scheme={"name": "oranges", "extent": [0.45, 1], "count": n})
    return alt.Scale(domain=order, range=[NOISE_RAMP[round(i * m / max(n - 1, 1))] for i in range(n)])


def _pct(x: float) -> str:
    return f"{x:.0%}"


@_fast
def exponents(src, result, title: str = "") -> alt.LayerChart | None:
    """Each setting's exponent (result.exponents: setting, value, lo, hi) as a dot on its 95%
    interval: settings whose bars do not overlap differ."""
    t = result.exponents.dropna(subset=["value"]) if len(result.exponents) else result.exponents
    if not len(t):
        return None
    order = list(t["setting"])
    y = alt.Y("setting:N", sort=order, title=None, axis=alt.Axis(labelLimit=220))
    base = alt.Chart(src("exponents", t)).encode(y=y)
    rule = base.mark_rule(strokeWidth=3, color=PAIR[0]).encode(
        x=alt.X("lo:Q", title="exponent (95% interval)", scale=alt.Scale(zero=False)), x2="hi:Q")
    dot = base.mark_point(size=90, filled=True, color=PAIR[0]).encode(
        x="value:Q", tooltip=["setting:N", alt.Tooltip("value:Q", format=".3f"), alt.Tooltip("lo:Q", format=".3f", title="95% low"),
                              alt.Tooltip("hi:Q", format=".3f", title="95% high"), alt.Tooltip("n_runs:Q", title="runs"),
                              alt.Tooltip("answered:N", title="resamples")])
    return alt.layer(rule, dot).properties(
        title=_title(title or "Exponents side by side", "dot: estimate, bar: 95% interval (seeds resampled)",
                     subtitleColor="gray"), height=max(60 * len(t), 120))


@_fast
def noise(src, result) -> alt.LayerChart | None:
    """Seed-mean loss against D at one width, one colour per label-noise level, and each level's law."""
    p = result.points
    if not len(p):
        return None
    p = p.assign(noise=p["label_noise"].map(_pct))
    order = [_pct(x) for x in sorted(p["label_noise"].unique())]
    ln = result.lines.assign(noise=result.lines["label_noise"].map(_pct)) if len(result.lines) else result.lines
    x = log_enc(alt.X, "examples:Q", "training examples D", p["examples"], label_expr=SI)
    y = _loss_y(_vals(p["val_loss"], ln["fit"] if len(ln) else None), title="validation loss (clean test set)")
    color = alt.Color("noise:N", sort=order, title="label noise", scale=_noise_scale(order),
                      legend=_legend(len(order)))
    layers = [alt.Chart(src("points", p)).mark_point(size=70, filled=True).encode(
        x=x, y=y, color=color, tooltip=["noise:N", alt.Tooltip("examples:Q", format=",", title="D"),
                                        alt.Tooltip("val_loss:Q", format=".4f", title="mean val loss"),
                                        alt.Tooltip("n_seeds:Q", title="seeds")])]
    if len(ln):
        layers.append(alt.Chart(src("lines", ln)).mark_line(strokeDash=[6, 4], strokeWidth=2).encode(
            x=x, y=alt.Y("fit:Q", scale=y["scale"]), color=color))
    return alt.layer(*layers).properties(
        title=_title(f"Loss against data at width {result.width}", "dashed: L(D) = A·D^−α_D per noise level",
                     subtitleColor="gray"), height=HEIGHT)


@_fast
def arch(src, result) -> alt.LayerChart | None:
    """Every cell (seed means) faint, each architecture's frontier solid, its fitted law dashed."""
    p = result.points
    if not len(p):
        return None
    order = list(result.exponents["arch"]) if "arch" in result.exponents else sorted(p["arch"].unique())
    x = log_enc(alt.X, "flops:Q", "training compute C (FLOPs)", p["flops"], label_expr=SCI)
    y = _loss_y(_vals(p["val_loss"], result.lines["fit"] if len(result.lines) else None))
    # the legend's symbols opaque: the first layer (every cell) is faint, and its swatches were too
    color = alt.Color("arch:N", sort=order, title="architecture", scale=alt.Scale(domain=order, range=PAIR[:len(order)]),
                      legend=_legend(len(order), symbolOpacity=1))
    tip = ["arch:N", alt.Tooltip("width:O"), alt.Tooltip("params:Q", format=",", title="N"),
           alt.Tooltip("examples:Q", format=",", title="D"), alt.Tooltip("flops:Q", format=".3s", title="C"),
           alt.Tooltip("val_loss:Q", format=".4f", title="mean val loss")]
    front = p[p["frontier"]].sort_values("flops")
    layers = [alt.Chart(src("cells", p)).mark_point(size=30, opacity=0.35).encode(x=x, y=y, color=color, tooltip=tip),
              alt.Chart(src("frontier", front)).mark_line(point=True, strokeWidth=2).encode(
                  x=x, y=y, color=color, order="flops:Q", tooltip=tip)]
    if len(result.lines):
        layers.append(alt.Chart(src("lines", result.lines)).mark_line(strokeDash=[6, 4], strokeWidth=2, clip=True).encode(
            x=x, y=alt.Y("fit:Q", scale=y["scale"]), color=color))
    target = pd.DataFrame({"loss": [result.target_loss]})
    if math.isfinite(result.target_loss):
        layers.append(alt.Chart(src("target", target)).mark_rule(color="gray", strokeDash=[2, 2]).encode(
            y=alt.Y("loss:Q", scale=y["scale"]), tooltip=[alt.Tooltip("loss:Q", format=".4f", title="common loss")]))
    return alt.layer(*layers).properties(
        title=_title("Compute-efficient frontiers per architecture",
                     "solid: frontier, dashed: L = A·C^−α_C; dotted: the loss both reach", subtitleColor="gray"),
        height=HEIGHT)


@_fast
def transfer(src, result) -> alt.LayerChart | None:
    """D_T against D_F per width on log axes: filled where D_E lies inside the from-scratch runs,
    hollow where it is extrapolated; bars: 95% intervals; dashed: the fitted law per width."""
    p = result.points
    if not len(p):
        return None
    p = p[p["used"]].assign(how=lambda d: np.where(d["extrapolated"], "extrapolated D_E", "inside the scratch runs"))
    if not len(p):
        return None
    fl = result.fit_line
    x = log_enc(alt.X, "D_F:Q", "fine-tuning examples D_F", p["D_F"], label_expr=SI)
    y = log_enc(alt.Y, "D_T:Q", "effective data transferred D_T", _vals(p["D_T"], fl["D_T"] if len(fl) else None),
                label_expr=SI)
    widths = sorted(p["width"].unique())
    color = alt.Color("width:O", sort=widths, scale=alt.Scale(scheme=WIDTH_SCHEME), title="width",
                      legend=_legend(len(widths)))
    tip = [alt.Tooltip("width:O"), alt.Tooltip("params:Q", format=",", title="N"), alt.Tooltip("D_F:Q", format=",.0f"),
           alt.Tooltip("D_E:Q", format=",.0f", title="D_E (from scratch)"), alt.Tooltip("D_T:Q", format=",.0f"),
           alt.Tooltip("lo:Q", format=",.0f", title="95% low"), alt.Tooltip("hi:Q", format=",.0f", title="95% high"),
           alt.Tooltip("how:N", title="D_E")]
    layers = []
    bars = p.dropna(subset=["lo", "hi"])
    bars = bars[(bars["lo"] > 0) & (bars["hi"] > 0)]
    if len(bars):
        layers.append(alt.Chart(src("bars", bars)).mark_rule(strokeWidth=2, opacity=0.5, clip=True).encode(
            x=x, y=alt.Y("lo:Q", scale=y["scale"]), y2="hi:Q", color=color))
    layers.append(alt.Chart(src("points", p)).mark_point(size=80, strokeWidth=2).encode(
        x=x, y=y, color=color, tooltip=tip,
        fill=alt.condition("datum.extrapolated", alt.value("white"), alt.Color("width:O", sort=widths, legend=None))))
    sub = "dashed: D_T = k·D_F^α·N^β"
    if len(fl):
        layers.append(alt.Chart(src("fit", fl)).mark_line(strokeDash=[6, 4], strokeWidth=2, clip=True).encode(
            x=x, y=alt.Y("D_T:Q", scale=y["scale"]), color=color))
        k = f"{result.k:,.0f}" if abs(result.k) >= 100 else f"{result.k:.3g}"  # as the answer writes it, not 3.76e+04
        sub = f"dashed: D_T = {k}·D_F^{result.alpha:.2f}·N^{result.beta:.2f}"
    return alt.layer(*layers).properties(
        title=_title("Effective data transferred against fine-tuning data", sub, "hollow: D_E extrapolated beyond the "
                     "from-scratch runs", subtitleColor="gray"), height=HEIGHT)


@_fast
def bottleneck(src, result) -> alt.LayerChart | None:
    """Loss against N, one line per data size D (distinct examples), and a ring where each plateau starts."""
    p = result.points
    if not len(p):
        return None
    p = p.assign(fraction=p["data_fraction"].map(frac_label))
    order = [frac_label(f) for f in sorted(p["data_fraction"].unique())]
    x = log_enc(alt.X, "params:Q", "parameters N", p["params"], label_expr=SI)
    y = _loss_y(p["val_loss"])
    color = alt.Color("fraction:N", sort=order, title="data fraction", scale=alt.Scale(scheme="plasma", domain=order),
                      legend=_legend(len(order)))
    tip = ["fraction:N", alt.Tooltip("distinct:Q", format=",", title="distinct examples"), alt.Tooltip("width:O"),
           alt.Tooltip("params:Q", format=","), alt.Tooltip("val_loss:Q", format=".4f", title="mean val loss")]
    layers = [alt.Chart(src("points", p)).mark_line(point=True).encode(x=x, y=y, color=color, detail="fraction:N",
                                                                      tooltip=tip)]
    pl = result.plateaus
    if len(pl):
        # the ring sits on the curve: the loss at N_p is the threshold the plateau starts at
        pl = pl.assign(fraction=pl["data_fraction"].map(frac_label), at=pl["L_best"] * (1 + pl["tolerance"]))
        layers.append(alt.Chart(src("plateaus", pl)).mark_point(size=220, filled=False, strokeWidth=2.5).encode(
            x=alt.X("N_p:Q", scale=x["scale"]), y=alt.Y("at:Q", scale=y["scale"]), color=color,
            tooltip=["fraction:N", alt.Tooltip("N_p:Q", format=",.0f", title="plateau from N"),
                     alt.Tooltip("overfits:N"), alt.Tooltip("censored:N")]))
    return alt.layer(*layers).properties(
        title=_title(f"Loss against N at fixed data, {result.epochs} epochs",
                     "rings: where the loss comes within tolerance of its best at that D (the points of "
                     "the plateau chart)", subtitleColor="gray"),
        height=HEIGHT)


@_fast
def plateau(src, result) -> alt.LayerChart | None:
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
    x = log_enc(alt.X, "distinct:Q", "distinct training examples D", pl["distinct"], label_expr=SI)
    y = log_enc(alt.Y, "N_p:Q", "plateau start N_p (parameters)",
                _vals(pl["N_p"], result.line["N_p"] if len(result.line) else None), label_expr=SI)
    layers = []
    bars = pl.dropna(subset=["lo", "hi"])
    if len(bars):
        layers.append(alt.Chart(src("bars", bars)).mark_rule(strokeWidth=2, color=FRONTIER_COLOR, opacity=0.5,
                                                             clip=True).encode(
            x=x, y=alt.Y("lo:Q", scale=y["scale"]), y2="hi:Q"))
    layers.append(alt.Chart(src("plateaus", pl)).mark_point(size=80, filled=True, color=FRONTIER_COLOR).encode(
        x=x, y=y, shape=alt.Shape("kind:N", title=None,
                                  legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=400)),
        tooltip=[alt.Tooltip("distinct:Q", format=","), alt.Tooltip("N_p:Q", format=",.0f"),
                 alt.Tooltip("kind:N", title="plateau start"), alt.Tooltip("censored:N", title="censored"),
                 alt.Tooltip("lo:Q", format=",.0f", title="95% low"), alt.Tooltip("hi:Q", format=",.0f", title="95% high")]))
    pts = "points: the loss within tolerance of its best (95% bars)"
    sub = "no law: Kaplan's L(N, D) does not fit these runs"
    if len(result.line):
        layers.append(alt.Chart(src("line", result.line)).mark_line(color=FIT_COLOR, strokeDash=[6, 4], strokeWidth=2.5).encode(
            x=x, y=alt.Y("N_p:Q", scale=y["scale"])))
        iv = result.interval
        sub = ("dashed: Kaplan's L(N, D), model term = data term — "
               f"N_p ∝ D^{result.p:.2f}" + (f", p ∈ [{iv.lo:.2f}, {iv.hi:.2f}] (95%)"
                                            if iv is not None and math.isfinite(iv.lo) else ""))
    return alt.layer(*layers).properties(title=_title("Where the plateau starts, against data", pts, sub,
                                                      subtitleColor="gray"), height=HEIGHT)


CHARTS = {"noise": (noise,), "arch": (arch,), "transfer": (transfer,), "bottleneck": (bottleneck, plateau)}


def study_charts(result) -> list:
    """The charts that answer one study, in the order a card shows them: its own, then the
    exponents side by side (None where a chart has nothing to draw is left out)."""
    figs = [f(result) for f in CHARTS[result.key]] + [exponents(result)]
    return [f for f in figs if f is not None]
