"""Compare: two to five selections along any axis (default dropout 0 vs 0.2): frontiers, exponents,
the common-range check, and P(each differs from A)."""
import math

import pandas as pd
import streamlit as st

from app_pages import ui
from scaling import services
from scaling.charts import compare as compare_charts

MOST = 5
LETTERS = "ABCDE"
PREFIXES = [f"{c.lower()}_" for c in LETTERS]

ui.through_app()
st.title("Compare selections")
s = ui.store()
runs = ui.load_runs(s)
opts = services.options(runs)
if opts.empty:
    st.info("No runs cached yet: start on **Explore** (quick sweep) or **Train**.")
    st.stop()
version = services.data_version(runs)
curves = ui.load_curves(s, version)

# how many: from the link's prefixes (?c_dropout=... asks for three), then the widget
linked = max([i + 1 for i, p in enumerate(PREFIXES) if any(k.startswith(p) for k in st.query_params)] + [2])
n = st.number_input("Selections to compare", 2, MOST, min(linked, MOST), key="cmp_n", width=240,
                    help="up to five, each with its own settings; the first (A) is the one the others are tested against")
second = 0.2 if any(math.isclose(d, 0.2) for d in opts.dropouts) else opts.dropouts[-1]
spare = [d for d in opts.dropouts if not any(math.isclose(d, x) for x in (0.0, second))]
defaults = [0.0, second, *spare] + [0.0] * MOST
sels, labels, covs = [], [], []
cells = ui.card_row(n, min_px=260)
for i, cell in enumerate(cells):
    notes = cell.container()  # a link's notes above the expander, where they are seen
    with cell.expander(f"Selection {LETTERS[i]}", expanded=False):
        sels.append(ui.selection_controls(runs, "compare", PREFIXES[i], services.Selection(dropout=defaults[i]),
                                          container=st.container(), notes=notes))
    cell.caption(f"**{LETTERS[i]}**: {services.md_text(services.describe(sels[i]))}")  # values can come from imports
    covs.append(services.coverage(runs, sels[i]))
    cell.caption(f"Runs fitted: {covs[i].describe()}." if covs[i] else "No runs fitted.")

have = [c for c in covs if c]
if len(have) == n and len({(c.width_steps, c.fractions) for c in have}) > 1:
    common = services.common_range_all(have)
    st.warning("**The selections cover different ranges** ("
               + "; ".join(f"{LETTERS[i]}: {c.describe()}" for i, c in enumerate(covs))
               + "): their exponents are fitted over different compute, so a difference may be the range, not the "
                 "setting.", icon=":material/warning:")
    if common is not None:
        def restrict(w=common[0], f=common[1]):
            for prefix in PREFIXES[:n]:
                ui.set_selection(prefix, widths=w, fractions=f)
        st.button(f"Restrict {'both' if n == 2 else f'all {n}'} to the common range (width steps {common[0][0]}–"
                  f"{common[0][1]}, fractions {services.frac_label(common[1][0])}–{services.frac_label(common[1][1])})",
                  on_click=restrict, icon=":material/compare_arrows:")
    else:
        st.caption("They share no range of widths and fractions: no common range to restrict them to.")
ui.write_url(*zip(sels, PREFIXES))
labels = [f"{k}: {words}" for k, words in zip(LETTERS, services.contrast_labels(*sels))]  # named by what differs
seen = set()
for i, lab in enumerate(labels):  # one legend entry each, even where selections match
    while lab[3:] in seen:
        lab += " "
    seen.add(lab[3:])
    labels[i] = lab


def md_label(lab: str) -> str:  # for Markdown: "A: " is ours, the words after it name values of (imported) runs
    return lab[:3] + services.md_text(lab[3:])


points = [ui.analysis(s, version, sel, runs, curves, n_boot=0) for sel in sels]
bad = [(lab, a) for lab, a in zip(labels, points) if isinstance(a, services.SelectionError)]
for lab, e in bad:
    st.warning(f"{md_label(lab)}: nothing to fit: {services.md_text(e)}")
if bad:
    st.stop()

lines = {lab: services.law_line(a.loss_vs_compute) for lab, a in zip(labels, points) if a.loss_vs_compute}
by_label = dict(zip(labels, sels))
ui.pick_chart(st, compare_charts.frontiers({lab: a.frontier for lab, a in zip(labels, points)}, lines), "compare_frontiers",
              lambda point: services.select(runs, by_label.get(point.get("selection"), sels[0])), curves)

progress = st.empty()  # the bootstraps say how far they are; a change meanwhile stops them there
full = [ui.analysis(s, version, sel, runs, curves, n_boot=ui.BOOT, slot=progress) for sel in sels]
# each side's shown N_opt estimator (the verdict's, by default), and the parametric one, which
# answers on the smallest grids
shown = dict.fromkeys([*(services.shown_nopt(f, sel)[0] for f, sel in zip(full, sels)), "parametric"])
names = {"alpha_C": "α_C (loss vs compute)",
         **{f"a_{m}": f"a (N_opt, {services.ESTIMATORS[m]})" for m in shown},
         "alpha_N": "α_N slice (L(N) at the largest D only)", "alpha_D": "α_D slice (L(D) at the largest N only)"}
# each selection against A: A's columns are "first", the other's "second"
tables = [services.comparison_table(full[0], f, names) for f in full[1:]]
t0 = tables[0]
est = {lab: (t0["first"], t0["first_lo"], t0["first_hi"], t0["n_runs_first"], t0["first_answered"], t0["first_reliable"],
             full[0].no_interval) for lab in labels[:1]}
for lab, t, f in zip(labels[1:], tables, full[1:]):
    est[lab] = (t["second"], t["second_lo"], t["second_hi"], t["n_runs_second"], t["second_answered"], t["second_reliable"],
                f.no_interval)
finite = pd.concat([v[0].map(math.isfinite) for v in est.values()], axis=1).any(axis=1)
missing = t0[~finite]
rows = list(t0.index[finite])

cols = ui.card_row(max(len(rows), 1))
for col, r in zip(cols, rows):
    col.markdown(f"**{t0.at[r, 'what']}**")
    for j, (lab, (v, lo, hi, nr, ans, rel, none)) in enumerate(est.items()):
        col.metric(md_label(lab), f"{v[r]:.3f}" if math.isfinite(v[r]) else "—")
        col.caption(f"95% [{lo[r]:.3f}, {hi[r]:.3f}] · {nr[r]} runs · {ans[r]}" + ("" if rel[r] else " · :orange[unreliable]")
                    if math.isfinite(lo[r]) else f"{nr[r]} runs" + (f" · {none}" if none else ""))
        if j == 0:
            continue
        t = tables[j - 1]
        p, floor, p2 = t.at[r, "p_first_greater"], t.at[r, "p_floor"], t.at[r, "p_two_sided"]
        if math.isfinite(p):
            who = LETTERS[j]
            p_txt = f"p < {floor:.2g}" if p2 < floor else f"p = {p2:.2f}"
            verdict = "differ" if p2 < 0.05 else "cannot be told apart"
            share = f"< {floor:.2g}" if p < floor else f"> {1 - floor:.2g}" if p > 1 - floor else f"{p:.2f}"
            if n == 2:
                col.metric("P(A > B)", share, help="share of paired bootstrap resamples where A's exponent exceeds B's; "
                                                    "near 0 or 1 the selections differ, near 0.5 they cannot be told apart")
                col.caption(f"two-sided {p_txt}: {verdict} at 5%")
            else:
                col.caption(f"{who} vs A: P(A > {who}) {share}, two-sided {p_txt}: {verdict} at 5%")
if len(missing):
    st.caption("Not estimable on any selection: " + ", ".join(missing["what"]) + ".")

side = pd.concat([pd.DataFrame({"name": t0["what"], "selection": lab, "value": v[0], "lo": v[1], "hi": v[2]}).loc[rows]
                  for lab, v in est.items()])
ui.chart(st, compare_charts.exponents(side, labels))
st.caption("Intervals: 95% bootstrap percentile intervals, widened for few seeds (seeds resampled with all their runs where a selection "
           "has at least 5 seeds, else each configuration's runs within it; everything refitted; an interval from "
           "under 80% answering resamples is unreliable). Two-sided bootstrap p-value for 'no difference' = "
           "2·min(P, 1−P)" + (", each selection against A" if n > 2 else "") + ". α_C's law: "
           + "; ".join(f"{md_label(lab)}: {services.md_text(a.law_choice)}" for lab, a in zip(labels, full)) + ".")
d1, d2 = st.columns(2)
ui.download(d1, "Exponents (CSV)", pd.concat([t.assign(first_selection=labels[0], second_selection=lab)
                                              for lab, t in zip(labels[1:], tables)]), "compare_exponents.csv")
ui.download(d2, "Frontiers (CSV)", pd.concat([a.frontier.assign(selection=lab) for lab, a in zip(labels, points)]),
            "compare_frontiers.csv")
