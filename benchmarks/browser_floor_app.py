"""The floor for benchmarks/bench_browser.py: a page with one slider and Explore's four charts drawn from
the same rows, with no fit at all (seed means and a running-minimum frontier in pandas). What a slider
move costs here is Streamlit, the websocket and Vega in the browser: the least Explore could cost.
The charts are Explore's own builders, so their specs stay put and a move updates them in place.

FLOOR_VARIANT (bench_browser.py --floor-variants) measures what drawing costs: "svg" (Vega's default
here), "canvas" (Vega draws on a canvas instead), "no-runs" (the loss chart's every-run points left empty:
the seed means, frontier and lines alone).

Run by bench_browser.py --floor (SCALING_DB names the database)."""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit as st  # noqa: E402

from scaling import charts  # noqa: E402
from scaling.store import Store  # noqa: E402

st.set_page_config(layout="wide")


@st.cache_resource
def rows():
    r = Store(os.environ["SCALING_DB"]).snapshot().runs
    return r[(r["dropout"] == 0) & (r["status"] == "ok")]


runs = rows()
lo, hi = st.sidebar.select_slider("Width steps", options=list(range(10)), value=(0, 9))
sub = runs[(runs["width_step"] >= lo) & (runs["width_step"] <= hi)]
keys = ["width_step", "data_fraction"]
pts = sub.groupby(keys, as_index=False).agg(width=("width", "first"), params=("params", "first"),
                                            examples=("examples", "first"), flops=("flops", "first"),
                                            val_loss=("val_loss", "mean"), val_acc=("val_acc", "mean"),
                                            n_seeds=("seed", "size"))
front = pts.sort_values("flops").assign(best=lambda d: d["val_loss"].cummin())
front = front[front["val_loss"] == front["best"]]
st.metric("α_C", f"{0.1 + lo / 100 + hi / 1000:.3f}")
variant = os.environ.get("FLOOR_VARIANT", "svg")
every_run = sub.iloc[:0] if variant == "no-runs" else sub


def draw(col, fig):
    spec = fig.spec()
    if variant == "canvas":
        spec["usermeta"] = {"embedOptions": {"renderer": "canvas"}}
    col.vega_lite_chart(spec, width="stretch")


a, b = st.columns(2)
draw(a, charts.loss_vs_compute(every_run, pts, front))
draw(b, charts.bottleneck(pts, "params"))
c, d = st.columns(2)
draw(c, charts.accuracy_vs_compute(pts))
draw(d, charts.bottleneck(pts, "examples"))
