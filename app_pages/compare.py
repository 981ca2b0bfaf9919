"""Compare: two to five selections along any axis (default dropout 0 vs 0.2): frontiers, exponents,
the common-range check, and P(each differs from A)."""
import math

import pandas as pd
import streamlit as st

from app_pages import ui
from app_pages.ui import compare_parts as part
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
curves = ui.load_curves(s)

# how many: from the link's prefixes (?c_dropout=... asks for three), then the widget
linked = max([i + 1 for i, p in enumerate(PREFIXES) if any(k.startswith(p) for k in st.query_params)] + [2])
n = st.number_input("Selections to compare", 2, MOST, min(linked, MOST), key="cmp_n", width=240,
                    help="up to five, each with its own settings; the first (A) is the one the others are tested against")
second = 0.2 if any(math.isclose(d, 0.2) for d in opts.dropouts) else opts.dropouts[-1]
spare = [d for d in opts.dropouts if not any(math.isclose(d, x) for x in (0.0, second))]
defaults = [0.0, second, *spare] + [0.0] * MOST
sels, covs = [], []
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
ranges = st.container()  # emitted either way: a warning that comes or goes leaves the charts below in place
if len(have) == n and len({(c.width_steps, c.fractions) for c in have}) > 1:
    common = services.common_range_all(have)
    ranges.warning("**The selections cover different ranges** ("
                   + "; ".join(f"{LETTERS[i]}: {c.describe()}" for i, c in enumerate(covs))
                   + "): their exponents are fitted over different compute, so a difference may be the range, not "
                     "the setting.", icon=":material/warning:")
    if common is not None:
        def restrict(w=common[0], f=common[1]):
            for prefix in PREFIXES[:n]:
                ui.set_selection(prefix, widths=w, fractions=f)
        ranges.button(f"Restrict {'both' if n == 2 else f'all {n}'} to the common range (width steps {common[0][0]}–"
                      f"{common[0][1]}, fractions {services.frac_label(common[1][0])}–{services.frac_label(common[1][1])})",
                      on_click=restrict, icon=":material/compare_arrows:")
    else:
        ranges.caption("They share no range of widths and fractions: no common range to restrict them to.")
ui.write_url(*zip(sels, PREFIXES))
labels = [f"{k}: {words}" for k, words in zip(LETTERS, services.contrast_labels(*sels))]  # named by what differs

# The point estimates first (shared with Explore; the slices come with the intervals), a selection whose
# intervals are done (in any session) with them; the bootstraps after every chart, stopped by the next move;
# then a rerun that finds them cached draws the intervals in the same places (each chart drawn once a run).
done = [ui.cached_analysis(s, version, sel, ui.BOOT, runs) for sel in sels]
fulls = [d if d is not None else ui.point_estimates(s, version, sel, runs, curves) for d, sel in zip(done, sels)]
bad = [(lab, a) for lab, a in zip(labels, fulls) if isinstance(a, services.SelectionError)]
for lab, e in bad:
    st.warning(f"{part.md_label(lab)}: nothing to fit: {services.md_text(e)}")
if bad:
    st.stop()

lines = {lab: services.law_line(a.loss_vs_compute) for lab, a in zip(labels, fulls) if a.loss_vs_compute}
by_label = dict(zip(labels, sels))
ui.pick_chart(st, compare_charts.frontiers({lab: a.frontier for lab, a in zip(labels, fulls)}, lines), "compare_frontiers",
              lambda point: services.select(runs, by_label.get(point.get("selection"), sels[0])), curves)
progress = st.empty()  # the bootstraps say how far they are; a change meanwhile stops them there
table = part.exponents(st.container(), st, fulls, sels, labels, [d is None for d in done])
st.caption("Intervals: 95% bootstrap percentile intervals, widened for few seeds (seeds resampled with all their runs where a selection "
           "has at least 5 seeds, else each configuration's runs within it; everything refitted; an interval from "
           "under 80% answering resamples is unreliable). Two-sided bootstrap p-value for 'no difference' = "
           "2·min(P, 1−P)" + (", each selection against A" if n > 2 else "") + "."
           + "".join(f" α_C's law, {part.md_label(lab)}: {services.md_text(a.law_choice)}." for lab, a in zip(labels, fulls)
                     if a.law_choice))
d1, d2 = st.columns(2)
ui.download(d1, "Exponents (CSV)", table, "compare_exponents.csv")
ui.download(d2, "Frontiers (CSV)", pd.concat([a.frontier.assign(selection=lab) for lab, a in zip(labels, fulls)]),
            "compare_frontiers.csv")
if None in done:
    ui.after_redraw()
    for d, sel in zip(done, sels):
        if d is None:
            ui.analysis(s, version, sel, runs, curves, n_boot=ui.BOOT, slot=progress)
    if None not in [ui.cached_analysis(s, version, sel, ui.BOOT, runs) for sel in sels]:
        st.rerun()
