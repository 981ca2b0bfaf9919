"""The planner's panel (a budget slider, the runs it would train, a button that queues them with their
predictions written down first) and Fit lab's scores of those predictions as the runs land."""
from __future__ import annotations

import streamlit as st

from scaling import charts, services
from scaling.services import background
from scaling.store import Store

from .cards import chart
from .reads import guarded
from .sweeps import remember_sweep

SHARES = (0.1, 0.25, 0.5, 1.0, 2.0)  # the budget, as a share of the compute of the runs selected
TARGETS = {"a": "a, the N_opt exponent (the verdict's answer)", "alpha_C": "α_C, the loss-vs-compute exponent",
           "alpha": "α of L(N, D)", "beta": "β of L(N, D)"}


@st.cache_resource(max_entries=16, show_spinner=False)
def _plan(path: str, version: tuple, sel, share: float, target: str, _runs, _curves, _an):
    total = float(services.chart_runs(_runs, sel)["flops"].sum())
    try:
        # seconds of simulation: in the worker process, so the server keeps drawing other pages
        return background.run(services.planner.plan_runs, _runs, _curves, sel, (share * total, "FLOP"), target, an=_an)
    except ValueError as e:
        return e


def plan_panel(s: Store, version, sel, runs, curves, an, key: str) -> None:
    """The planner for this selection: asked for with a button (it simulates for seconds), then shown with a
    button that queues its runs. an: the page's analysis (reused when it has intervals)."""
    total = float(services.chart_runs(runs, sel)["flops"].sum())
    with st.expander("Plan the next runs: where a budget narrows the answer most", icon=":material/route:"):
        c1, c2 = st.columns(2)
        share = c1.select_slider("Budget (a share of the compute of the runs selected)", SHARES, value=0.5,
                                 format_func=lambda x: f"×{x:g}: {services.fmt_flops(x * total)}", key=f"{key}_budget")
        target = c2.selectbox("Narrow the 95% interval of", list(TARGETS), format_func=TARGETS.get, key=f"{key}_target")
        if st.button("Plan", key=f"{key}_plan", icon=":material/route:"):
            st.session_state[f"{key}_planned"] = True
        if not st.session_state.get(f"{key}_planned"):
            st.caption("Simulates each candidate batch from the fit at the measured seed noise and takes, greedily, "
                       "the one that narrows the interval most per FLOP (docs/planner.md). It takes seconds.")
            return
        with st.spinner("simulating the candidate batches…"):
            p = _plan(str(s.path), version, sel, share, target, runs, curves, an if an.intervals else None)
        if isinstance(p, ValueError):
            st.warning(f"No plan: {services.md_text(p)}")
            return
        j = services.planner.plan_json(p)
        now, exp = j["interval_now"], j["interval_expected"]

        def iv(d):
            return f"[{d['lo']:.3f}, {d['hi']:.3f}] (width {d['width']:.3f})" if d["width"] is not None else "none"

        st.caption(f"Serves {services.md_text(p.estimator)}. 95% interval of {p.target.label} now {iv(now)}; expected "
                   f"once these land: {iv(exp)}. {len(p.configs)} runs, {services.fmt_flops(p.flops)} of "
                   f"{services.fmt_flops(p.budget)}; {p.n_sim} simulations per batch weighed.")
        st.dataframe(services.planner.plan_table(p), hide_index=True, width="stretch")
        if st.button(f"Queue these runs ({len(p.configs)})", key=f"{key}_queue", disabled=not p.configs,
                     icon=":material/play_arrow:"):
            sid, _ = guarded(services.planner.queue_plan, s, p, sel)
            remember_sweep(sid, f"plan: {p.target.label}")
            st.session_state[f"{key}_planned"] = False
            st.rerun()


@st.cache_resource(max_entries=4, show_spinner=False)
def _scores(path: str, signature: tuple):
    return services.planner.scores(Store(path))


def prediction_scores(s: Store) -> None:
    """Predicted against observed for every planned run that has landed, and the running coverage."""
    sc = guarded(_scores, str(s.path), s.signature())
    st.subheader("Predictions written down first")
    st.caption(services.md_text(services.sentence(sc.describe())))
    if not sc.landed:
        return
    left, right = st.columns(2)
    chart(left, charts.predicted_vs_observed(sc.table))
    right.line_chart(sc.running, x="landed", y="coverage", height=260)
    right.caption("Running coverage: the share of the landed runs whose loss fell inside the 95% interval written "
                  "down before they trained (0.95 if the predictions are calibrated).")
    with st.expander("Every prediction"):
        st.dataframe(sc.table, hide_index=True, width="stretch")
