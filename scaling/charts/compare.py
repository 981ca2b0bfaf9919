"""The charts of Compare for two to five selections: their frontiers and fitted laws on one chart, and
each exponent side by side, every selection in its own colour (the same in both charts).

Their specs depend on nothing a selection holds (vega.log_axis): a selection's label names its values
("A: width steps 0–5"), so it goes to the data, never to a scale's domain or sort; each label starts
with its letter, so the default ascending order is A, B, C... and colours follow it."""
from __future__ import annotations

import pandas as pd

from scaling.charts.vega import (
    FACET_WIDTH,
    HEIGHT,
    LOSS_DECADES,
    SCI,
    _figure,
    _title,
    enc,
    layered,
    log_axis,
    mark,
    unit,
)
from scaling.core.fmt import frac_label

# five categorical colours apart from one another and from the fit's red (Tableau 10, red left out)
SIDES = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"]
LETTERS = "ABCDE"


def side_color(**kw) -> dict:
    """The `selection` channel: the labels in their letters' order, each its letter's colour."""
    return enc("selection:N", scale={"range": SIDES}, **kw)


@_figure
def frontiers(src, frames: dict[str, pd.DataFrame], lines: dict[str, pd.DataFrame]) -> dict:
    """Every selection's frontier (solid, its configurations as points) and fitted law (dashed); the
    labels (frames' keys) start with their letters "A: ", "B: "..."""
    fr = pd.concat([f.assign(selection=k) for k, f in frames.items()], ignore_index=True)
    if "data_fraction" in fr:
        fr["fraction"] = fr["data_fraction"].map({f: frac_label(f) for f in fr["data_fraction"].unique()})
    ln = pd.concat([f.assign(selection=k) for k, f in lines.items()], ignore_index=True) if lines else \
        pd.DataFrame({"flops": pd.Series(dtype=float), "fit": pd.Series(dtype=float), "selection": pd.Series(dtype=str)})
    x = log_axis("flops:Q", "training compute C (FLOPs)", "x", label_expr=SCI)
    y = log_axis("val_loss:Q", "validation loss (frontier)", "y", LOSS_DECADES)
    color = side_color(title="selection", legend={"orient": "top", "direction": "vertical", "labelLimit": 600})
    # every layer in the spec either way (empty where no law was fitted): the spec stays put
    return layered(
        unit(src("fr", fr), mark("line", point=True), x=x, y=y, color=color,
             tooltip=[enc("selection:N"), enc("width:O"), enc("fraction:N", title="data fraction"),
                      enc("flops:Q", format=".3s", title="C (FLOPs)"), enc("val_loss:Q", format=".4f")]),
        unit(src("ln", ln), mark("line", strokeDash=[6, 4], strokeWidth=2), x=x, y={**y, "field": "fit"}, color=color),
        height=HEIGHT, title=_title("Compute-efficient frontiers (solid)", "dashed: their fitted laws",
                                    "click a point to open its runs", subtitleColor="gray"))


@_figure
def exponents(src, table: pd.DataFrame) -> dict:
    """Each exponent (one row of plots) of every selection: a dot at the estimate, a bar over its 95%
    interval (table: name, selection, value, lo, hi; a selection's label starts with its letter). The
    colour goes by the letter over all five, so a selection with no exponent leaves the others' alone."""
    t = table.dropna(subset=["value"]).assign(side=lambda d: d["selection"].str[0])
    y = enc("selection:N", title=None, axis={"labelLimit": 200})
    color = enc("side:N", legend=None, scale={"domain": list(LETTERS), "range": SIDES})
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
