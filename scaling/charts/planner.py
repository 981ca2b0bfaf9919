"""The chart of the planner's predictions: each planned run's predicted loss against what it gave."""
from __future__ import annotations

import pandas as pd

from scaling.charts.vega import HEIGHT, LOG, _figure, _title, enc, layered, log_domain, log_ticks, mark, unit


@_figure
def predicted_vs_observed(src, table: pd.DataFrame) -> dict | None:
    """Observed loss (x) against the loss written down before the run trained (y), with its 95% interval
    as a bar, coloured by whether the observation fell inside it (services.planner.Scores.table)."""
    d = table[table["observed"].notna()].copy()
    if d.empty:
        return None
    d["inside"] = d["inside"].map({True: "inside its interval", False: "outside"}).fillna("outside")
    vals = pd.concat([d["observed"], d["lo"], d["hi"]]).astype(float)
    dom = log_domain(vals.to_numpy(), 1.05)
    sc = {**LOG, "domain": dom}
    ax = {"values": log_ticks(dom), "format": "~g"}
    x = enc("observed:Q", scale=sc, axis=ax, title="observed validation loss")
    color = enc("inside:N", title="", scale={"domain": ["inside its interval", "outside"],
                                            "range": ["#4c78a8", "#e45756"]}, legend={"orient": "bottom"})
    diag = pd.DataFrame({"v": dom})
    return layered(
        unit(src("diag", diag), mark("line", color="gray", strokeDash=[3, 3]), x=enc("v:Q", scale=sc),
             y=enc("v:Q", scale=sc)),
        unit(src("bars", d), mark("rule", strokeWidth=2, opacity=0.5, clip=True), x=x, y=enc("lo:Q", scale=sc),
             y2=enc("hi"), color=color),
        unit(src("d", d), mark("point", size=60, filled=True), x=x,
             y=enc("estimate:Q", scale=sc, axis=ax, title="predicted before it trained"), color=color,
             tooltip=[enc("run_id:N"), enc("observed:Q", format=".4~g"), enc("estimate:Q", format=".4~g", title="predicted"),
                      enc("lo:Q", format=".4~g", title="95% low"), enc("hi:Q", format=".4~g", title="95% high")]),
        height=HEIGHT, title=_title("Planned runs: predicted against observed",
                                    "written down when queued; bars: 95% intervals; diagonal: perfect",
                                    subtitleColor="gray"))
