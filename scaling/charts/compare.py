"""The charts of Compare for two to five selections: their frontiers and fitted laws on one chart, and
each exponent side by side, every selection in its own colour (the same in both charts)."""
from __future__ import annotations

import pandas as pd

from scaling.charts.vega import FACET_WIDTH, HEIGHT, SCI, _figure, _title, _vals, enc, layered, log_enc, mark, unit
from scaling.core.fmt import frac_label

# five categorical colours apart from one another and from the fit's red (Tableau 10, red left out)
SIDES = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"]


def side_color(labels: list[str], **kw) -> dict:
    """The `selection` channel: each label its colour, in the order given."""
    return enc("selection:N", sort=list(labels), scale={"domain": list(labels), "range": SIDES[:len(labels)]}, **kw)


@_figure
def frontiers(src, frames: dict[str, pd.DataFrame], lines: dict[str, pd.DataFrame]) -> dict:
    """Every selection's frontier (solid, its configurations as points) and fitted law (dashed)."""
    labels = list(frames)
    fr = pd.concat([f.assign(selection=k) for k, f in frames.items()], ignore_index=True)
    if "data_fraction" in fr:
        fr["fraction"] = fr["data_fraction"].map({f: frac_label(f) for f in fr["data_fraction"].unique()})
    ln = pd.concat([f.assign(selection=k) for k, f in lines.items()], ignore_index=True) if lines else pd.DataFrame()
    x = log_enc("flops:Q", "training compute C (FLOPs)", fr["flops"], label_expr=SCI)
    y = log_enc("val_loss:Q", "validation loss (frontier)", _vals(fr["val_loss"], ln["fit"] if len(ln) else None))
    color = side_color(labels, title="selection", legend={"orient": "top", "direction": "vertical", "labelLimit": 600})
    layers = [unit(src("fr", fr), mark("line", point=True), x=x, y=y, color=color,
                   tooltip=[enc("selection:N"), enc("width:O"), enc("fraction:N", title="data fraction"),
                            enc("flops:Q", format=".3s", title="C (FLOPs)"), enc("val_loss:Q", format=".4f")])]
    if len(ln):
        layers.append(unit(src("ln", ln), mark("line", strokeDash=[6, 4], strokeWidth=2, clip=True),
                           x=x, y={**y, "field": "fit"}, color=color))
    return layered(*layers, height=HEIGHT, title=_title(
        "Compute-efficient frontiers (solid)", "dashed: their fitted laws", "click a point to open its runs",
        subtitleColor="gray"))


@_figure
def exponents(src, table: pd.DataFrame, labels: list[str]) -> dict:
    """Each exponent (one row of plots) of every selection: a dot at the estimate, a bar over its 95%
    interval (table: name, selection, value, lo, hi)."""
    t = table.dropna(subset=["value"])
    y = enc("selection:N", title=None, sort=list(labels), axis={"labelLimit": 200})
    color = side_color(labels, legend=None)
    rule = {"mark": mark("rule", strokeWidth=3), "encoding": dict(
        y=y, color=color, x=enc("lo:Q", title="value (95% interval)", scale={"zero": False}), x2=enc("hi"))}
    dot = {"mark": mark("point", size=80, filled=True), "encoding": dict(
        y=y, color=color, x=enc("value:Q"),
        tooltip=[enc("name:N"), enc("selection:N"), enc("value:Q", format=".3f"), enc("lo:Q", format=".3f"),
                 enc("hi:Q", format=".3f")])}
    header = {"labelAngle": 0, "labelOrient": "top", "labelAnchor": "start", "labelLimit": FACET_WIDTH + 100,
              "labelFontSize": 12}
    return {"data": src("t", t), "facet": {"row": enc("name:N", title=None, header=header)},
            "spec": {"layer": [rule, dot], "width": FACET_WIDTH}, "resolve": {"scale": {"x": "independent"}},
            "title": _title("Exponents side by side", "dot: estimate, bar: 95% interval")}
