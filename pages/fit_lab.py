"""Fit lab: the parametric L(N, D) fit, IsoFLOP curves, the three N_opt estimators, predictions."""
import math

import pandas as pd
import streamlit as st

from pages import _shared as ui
from scaling import charts, fit, views

st.title("Fit lab")
s = ui.store()
runs = ui.load_runs(s)
if views.options(runs).empty:
    st.info("No runs cached yet: start on **Explore** (quick sweep) or **Train**.")
    st.stop()
version = views.data_version(runs)
curves = ui.load_curves(s, version)
sel = ui.selection_controls(runs, "fit_lab")
ui.write_url((sel, ""))

with st.spinner(f"fitting and bootstrapping ({ui.BOOT} resamples)…"):
    an = ui.analysis(s, version, sel, runs, curves, n_boot=ui.BOOT)
if isinstance(an, views.SelectionError):
    st.warning(f"Nothing to fit: {an}")
    st.stop()

pf = an.parametric
st.subheader("Parametric fit  L(N, D) = E + A/N^α + B/D^β")
if pf is None:
    st.warning("The parametric fit failed on this selection: " + "; ".join(an.notes))
else:
    iv = pf.intervals or {}
    cols = st.columns(6)
    for col, k in zip(cols, ["E", "A", "B", "alpha", "beta", "a"]):
        v = getattr(pf, k)
        col.metric(k if k not in ("alpha", "beta") else {"alpha": "α", "beta": "β"}[k], f"{v:.4g}")
        i = iv.get(k)
        if i is not None and math.isfinite(i.lo):
            col.caption(f"[{i.lo:.4g}, {i.hi:.4g}]")
    st.caption(f"Summed Huber loss (δ = {pf.delta:g}) on log L over {pf.n_points} configurations, L-BFGS from a "
               f"grid of starts; a = β/(α+β) is the N_opt exponent. {views.compute_note(an)}")

c1, c2 = st.columns(2)
prof = views.isoflop_profiles(an.aggregate.points)
if len(prof):
    ui.chart(c1, charts.isoflop_curves(prof, an.nopt["isoflop"]))
ch = charts.nopt_estimators(an.nopt)
if ch is not None:
    ui.chart(c2, ch)
else:
    c2.info("No N_opt estimator can answer on this selection.")
est = pd.DataFrame([dict(estimator=views.ESTIMATORS[m], a=nf.a, lo=nf.interval.lo if nf.interval else math.nan,
                         hi=nf.interval.hi if nf.interval else math.nan, budgets=len(nf.points), runs=nf.n_runs,
                         note=nf.reason) for m, nf in an.nopt.items()])
c2.dataframe(est, hide_index=True, width="stretch")

st.subheader("Predictability: fit the smaller runs, predict the largest")
q = st.slider("Fit on configurations up to this compute quantile", 0.5, 0.9, 0.75, 0.05, key="fl_cut")
try:
    pred = ui.guarded(fit.predictability, views.select(runs, sel), lr=sel.lr, irreducible=sel.irreducible,
                      cutoff_quantile=q)
except ValueError as e:
    st.warning(f"Cannot predict on this selection: {e}")
    pred = None
p1, p2 = st.columns(2)
if pred is not None:
    ui.chart(p1, charts.prediction(pred.heldout))
    p1.caption(f"Fitted on {pred.n_fit} configurations (C ≤ {views.fmt_flops(pred.cutoff_flops)}), "
               f"predicting {pred.n_heldout}. Mean |error|: frontier law {pred.frontier_error:.1%}, "
               f"parametric {pred.parametric_error:.1%}.")
res = views.parametric_residuals(an)
if pf is not None:
    ui.chart(p2, charts.residuals(res))
ui.download(st, "Residuals and points (CSV)", res, "fit_lab_points.csv")
