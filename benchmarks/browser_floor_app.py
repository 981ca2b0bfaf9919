"""The floor for benchmarks/bench_browser.py: a page with one slider and Explore's four charts drawn from
the same rows, with no fit at all (seed means and a running-minimum frontier in pandas). What a slider
move costs here is Streamlit, the websocket and Vega in the browser: the least Explore could cost.
The charts are Explore's own builders, so their specs stay put and a move updates them in place.

FLOOR_VARIANT (bench_browser.py --floor-variants) measures what drawing costs: "svg" (Vega's default
here), "canvas" (Vega draws on a canvas instead), "no-runs" (the loss chart's every-run points left empty:
the seed means, frontier and lines alone), "pick" (the charts sent as Explore sends them: Arrow tables and
a click selection on every point layer), "page" (svg plus as many other elements as Explore sends a run,
of the same kinds, with no fit: what Explore's sidebar, cards, buttons and captions cost).

Run by bench_browser.py --floor (SCALING_DB names the database)."""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit as st  # noqa: E402

from scaling import charts  # noqa: E402
from scaling.charts import select  # noqa: E402
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
if variant == "page":  # Explore's other elements, in its order: the sidebar's widgets, then the cards
    sb = st.sidebar
    for i in range(2):
        sb.selectbox(f"Family {i}", ["a", "b", "c"])
    sb.empty()
    sb.select_slider("Data fractions", options=list(range(10)), value=(0, 9))
    sb.empty()
    sb.multiselect("Seeds", [0, 1, 2, 3, 4], default=[0, 1, 2, 3, 4])
    sb.selectbox("Estimator", ["a", "b"])
    sb.radio("Law", ["a", "b"])
    sb.selectbox("Band", ["a", "b"])
    sb.radio("Axis", ["a", "b"])
    for i in range(4):
        if i < 2:
            st.metric(f"exponent {i}", f"{lo / 10 + i:.3f}")
        st.caption(f"95% interval [{lo / 100:.3f}, {hi / 100:.3f}] · {len(sub)} runs")
    st.button("Bracket this optimum")
every_run = sub.iloc[:0] if variant == "no-runs" else sub


def draw(col, fig, key):
    if variant == "pick":  # as run_detail.pick_chart sends it
        pf = select.pickable(fig)
        if names := select.params(pf):
            col.vega_lite_chart(pf.wire(), width="stretch", key=key, on_select="rerun", selection_mode=names)
        else:
            col.vega_lite_chart(fig.wire(), width="stretch")
        return
    spec = fig.spec()
    if variant == "canvas":
        spec["usermeta"] = {"embedOptions": {"renderer": "canvas"}}
    col.vega_lite_chart(spec, width="stretch")


a, b = st.columns(2)
draw(a, charts.loss_vs_compute(every_run, pts, front), "loss")
draw(b, charts.bottleneck(pts, "params"), "nopt")
c, d = st.columns(2)
draw(c, charts.accuracy_vs_compute(pts), "acc")
draw(d, charts.bottleneck(pts, "examples"), "data")
if variant == "page":  # and what Explore sends after its charts: the planner, the downloads, the notes
    st.caption("Small dots: runs; rings: seed means.")
    st.select_slider("Budget", options=list(range(10)), value=5)
    st.selectbox("Device", ["cpu", "cuda"])
    st.button("Queue these runs")
    st.caption("The plan.")
    with st.expander("Chart data and downloads"):
        for i, col in enumerate(st.columns(4)):
            col.download_button(f"data {i}", lambda: b"x", file_name=f"{i}.csv", on_click="ignore")
        st.caption("Fit notes.")
    st.empty()
