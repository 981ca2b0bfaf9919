"""Compare: two selections along any axis (default dropout 0 vs 0.2): frontiers, exponents, P(they differ)."""
import math

import pandas as pd
import streamlit as st

from app_pages import ui
from app_pages.ui import compare_parts as part
from scaling import charts, services

ui.through_app()
st.title("Compare two selections")
s = ui.store()
runs = ui.load_runs(s)
opts = services.options(runs)
if opts.empty:
    st.info("No runs cached yet: start on **Explore** (quick sweep) or **Train**.")
    st.stop()
version = services.data_version(runs)
curves = ui.load_curves(s, version)

second = 0.2 if any(math.isclose(d, 0.2) for d in opts.dropouts) else opts.dropouts[-1]
ca, cb = st.columns(2)
with ca.expander("Selection A", expanded=False):
    A = ui.selection_controls(runs, "compare", "a_", services.Selection(dropout=0.0), container=st.container())
with cb.expander("Selection B", expanded=False):
    B = ui.selection_controls(runs, "compare", "b_", services.Selection(dropout=second), container=st.container())
ca.caption(f"**A**: {services.md_text(services.describe(A))}")  # a selection's values can come from imported runs
cb.caption(f"**B**: {services.md_text(services.describe(B))}")
cov_a, cov_b = services.coverage(runs, A), services.coverage(runs, B)
for col, cov in ((ca, cov_a), (cb, cov_b)):
    col.caption(f"Runs fitted: {cov.describe()}." if cov else "No runs fitted.")
ranges = st.container()  # emitted either way: a warning that comes or goes leaves the charts below in place
if cov_a and cov_b and (cov_a.width_steps, cov_a.fractions) != (cov_b.width_steps, cov_b.fractions):
    common = services.common_range(cov_a, cov_b)
    ranges.warning("**The two selections cover different ranges** (A: " + cov_a.describe() + "; B: " + cov_b.describe()
               + "): their exponents are fitted over different compute, so a difference may be the range, not the "
                 "setting.", icon=":material/warning:")
    if common is not None:
        def restrict(w=common[0], f=common[1]):
            for prefix in ("a_", "b_"):
                ui.set_selection(prefix, widths=w, fractions=f)
        ranges.button(f"Restrict both to the common range (width steps {common[0][0]}–{common[0][1]}, fractions "
                  f"{services.frac_label(common[1][0])}–{services.frac_label(common[1][1])})", on_click=restrict,
                  icon=":material/compare_arrows:")
ui.write_url((A, "a_"), (B, "b_"))
la, lb = (f"{k}: {words}" for k, words in zip("AB", services.contrast_labels(A, B)))  # named by what differs
if la[3:] == lb[3:]:
    lb += " "  # two legend entries even when the selections match

md_label = part.md_label
an_a = ui.point_estimates(s, version, A, runs, curves)  # shared with Explore; the slices come with the intervals
an_b = ui.point_estimates(s, version, B, runs, curves)
bad = [(lab, a) for lab, a in ((la, an_a), (lb, an_b)) if isinstance(a, services.SelectionError)]
for lab, e in bad:
    st.warning(f"{md_label(lab)}: nothing to fit: {services.md_text(e)}")
if bad:
    st.stop()

lines = {lab: services.law_line(a.loss_vs_compute) for lab, a in ((la, an_a), (lb, an_b)) if a.loss_vs_compute}
ui.chart(st, charts.compare_frontiers({la: an_a.frontier, lb: an_b.frontier}, lines))

# The exponents from the point estimates first; the bootstraps (seconds) after every chart, stopped by the next
# move, then a rerun that finds them cached draws the intervals in the same places.
progress = st.empty()
done = [ui.cached_analysis(s, version, X, ui.BOOT) for X in (A, B)]
full_a, full_b = (d if d is not None else a for d, a in zip(done, (an_a, an_b)))
t_all = part.exponents(st.container(), st, full_a, full_b, A, B, la, lb, pending=None in done)
st.caption("Intervals: 95% bias-corrected bootstrap intervals (seeds resampled with all their runs where a selection "
           "has at least 5 seeds, else each configuration's runs within it; everything refitted; an interval from "
           "under 80% answering resamples is unreliable). Two-sided bootstrap p-value for 'no difference' = "
           "2·min(P, 1−P).")
d1, d2 = st.columns(2)
ui.download(d1, "Exponents (CSV)", t_all, "compare_exponents.csv")
ui.download(d2, "Both frontiers (CSV)", pd.concat([an_a.frontier.assign(selection=la), an_b.frontier.assign(selection=lb)]),
            "compare_frontiers.csv")
if None in done:
    for d, X in zip(done, (A, B)):
        if d is None:
            ui.analysis(s, version, X, runs, curves, n_boot=ui.BOOT, slot=progress)
    if None not in [ui.cached_analysis(s, version, X, ui.BOOT) for X in (A, B)]:
        st.rerun()
