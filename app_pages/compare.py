"""Compare: two selections along any axis (default dropout 0 vs 0.2): frontiers, exponents, P(they differ)."""
import math

import pandas as pd
import streamlit as st

from app_pages import ui
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
if cov_a and cov_b and (cov_a.width_steps, cov_a.fractions) != (cov_b.width_steps, cov_b.fractions):
    common = services.common_range(cov_a, cov_b)
    st.warning("**The two selections cover different ranges** (A: " + cov_a.describe() + "; B: " + cov_b.describe()
               + "): their exponents are fitted over different compute, so a difference may be the range, not the "
                 "setting.", icon=":material/warning:")
    if common is not None:
        def restrict(w=common[0], f=common[1]):
            for prefix in ("a_", "b_"):
                ui.set_selection(prefix, widths=w, fractions=f)
        st.button(f"Restrict both to the common range (width steps {common[0][0]}–{common[0][1]}, fractions "
                  f"{services.frac_label(common[1][0])}–{services.frac_label(common[1][1])})", on_click=restrict,
                  icon=":material/compare_arrows:")
ui.write_url((A, "a_"), (B, "b_"))
la, lb = (f"{k}: {words}" for k, words in zip("AB", services.contrast_labels(A, B)))  # named by what differs
if la[3:] == lb[3:]:
    lb += " "  # two legend entries even when the selections match


def md_label(lab: str) -> str:  # for Markdown: "A: " is ours, the words after it name values of (imported) runs
    return lab[:3] + services.md_text(lab[3:])


an_a = ui.analysis(s, version, A, runs, curves, n_boot=0)
an_b = ui.analysis(s, version, B, runs, curves, n_boot=0)
bad = [(lab, a) for lab, a in ((la, an_a), (lb, an_b)) if isinstance(a, services.SelectionError)]
for lab, e in bad:
    st.warning(f"{md_label(lab)}: nothing to fit: {services.md_text(e)}")
if bad:
    st.stop()

lines = {lab: services.law_line(a.loss_vs_compute) for lab, a in ((la, an_a), (lb, an_b)) if a.loss_vs_compute}
ui.chart(st, charts.compare_frontiers({la: an_a.frontier, lb: an_b.frontier}, lines))

progress = st.empty()  # the bootstraps say how far they are; a change meanwhile stops them there
full_a = ui.analysis(s, version, A, runs, curves, n_boot=ui.BOOT, slot=progress)
full_b = ui.analysis(s, version, B, runs, curves, n_boot=ui.BOOT, slot=progress)
# each side's shown N_opt estimator (the verdict's, by default), and the parametric one, which
# answers on the smallest grids
shown = dict.fromkeys([services.shown_nopt(full_a, A)[0], services.shown_nopt(full_b, B)[0], "parametric"])
names = {"alpha_C": "α_C (loss vs compute)",
         **{f"a_{m}": f"a (N_opt, {services.ESTIMATORS[m]})" for m in shown},
         "alpha_N": "α_N slice (L(N) at the largest D only)", "alpha_D": "α_D slice (L(D) at the largest N only)"}
t_all = services.comparison_table(full_a, full_b, names)
# an exponent neither selection can estimate is a column of dashes: name it once instead
missing = t_all[~(t_all["first"].map(math.isfinite) | t_all["second"].map(math.isfinite))]
t = t_all.drop(missing.index).reset_index(drop=True)

cols = ui.card_row(max(len(t), 1))
for col, r in zip(cols, t.itertuples()):
    col.markdown(f"**{r.what}**")
    col.metric(md_label(la), f"{r.first:.3f}" if math.isfinite(r.first) else "—")
    col.caption(f"95% [{r.first_lo:.3f}, {r.first_hi:.3f}] · {r.n_runs_first} runs · {r.first_answered}"
                + ("" if r.first_reliable else " · :orange[unreliable]") if math.isfinite(r.first_lo)
                else f"{r.n_runs_first} runs" + (f" · {full_a.no_interval}" if full_a.no_interval else ""))
    col.metric(md_label(lb), f"{r.second:.3f}" if math.isfinite(r.second) else "—")
    col.caption(f"95% [{r.second_lo:.3f}, {r.second_hi:.3f}] · {r.n_runs_second} runs · {r.second_answered}"
                + ("" if r.second_reliable else " · :orange[unreliable]") if math.isfinite(r.second_lo)
                else f"{r.n_runs_second} runs" + (f" · {full_b.no_interval}" if full_b.no_interval else ""))
    p = r.p_first_greater
    col.metric("P(A > B)", "—" if not math.isfinite(p) else f"< {r.p_floor:.2g}" if p < r.p_floor
               else f"> {1 - r.p_floor:.2g}" if p > 1 - r.p_floor else f"{p:.2f}",
               help="share of paired bootstrap resamples where A's exponent exceeds B's; near 0 or 1 the "
                    "selections differ, near 0.5 they cannot be told apart")
    if math.isfinite(p):
        verdict = "differ" if r.p_two_sided < 0.05 else "cannot be told apart"
        p_txt = f"p < {r.p_floor:.2g}" if r.p_two_sided < r.p_floor else f"p = {r.p_two_sided:.2f}"
        col.caption(f"two-sided {p_txt}: {verdict} at 5%")
if len(missing):
    st.caption("Not estimable on either selection: " + ", ".join(missing["what"]) + ".")

side = pd.concat([t.assign(selection=la, value=t["first"], lo=t["first_lo"], hi=t["first_hi"]),
                  t.assign(selection=lb, value=t["second"], lo=t["second_lo"], hi=t["second_hi"])])[
    ["what", "selection", "value", "lo", "hi"]].rename(columns={"what": "name"})
ui.chart(st, charts.exponents_side_by_side(side))
st.caption("Intervals: 95% bias-corrected bootstrap intervals (seeds resampled with all their runs where a selection "
           "has at least 5 seeds, else each configuration's runs within it; everything refitted; an interval from "
           "under 80% answering resamples is unreliable). Two-sided bootstrap p-value for 'no difference' = "
           "2·min(P, 1−P). α_C's law: " + "; ".join(f"{md_label(lab)}: {services.md_text(a.law_choice)}"
                                                  for lab, a in ((la, full_a), (lb, full_b))) + ".")
d1, d2 = st.columns(2)
ui.download(d1, "Exponents (CSV)", t_all, "compare_exponents.csv")
ui.download(d2, "Both frontiers (CSV)", pd.concat([an_a.frontier.assign(selection=la), an_b.frontier.assign(selection=lb)]),
            "compare_frontiers.csv")
