"""Explore: scaling curves of the cached runs; every control refits from the cache, never trains."""
import streamlit as st

from app_pages import ui
from app_pages.ui import explore_parts as part
from scaling import charts, services

ui.through_app()
st.title("Explore scaling curves")
s = ui.store()
runs = ui.load_runs(s)
version = services.data_version(runs)
ui.sweeps_section(s, runs)  # always emitted here, sweeps or not: nothing below it moves when one ends
training = ui.training_now(s)
if services.options(runs).empty:
    ui.first_runs(s, runs, training)  # the quick sweep and the shipped grid; stops the page

sel = ui.selection_controls(runs, "explore")
ui.write_url((sel, ""))
curves = ui.load_curves(s)
wait = ui.intervals_wait(training)
boot = 0 if wait else ui.BOOT  # the resamples drawn on this run

# a selection whose intervals are done (in any session) is drawn once, with them, not twice
done = ui.cached_analysis(s, version, sel, boot, runs) if boot else None
an = done if done is not None else ui.point_estimates(s, version, sel, runs, curves)
if isinstance(an, services.SelectionError):
    st.warning(f"Nothing to fit: {services.md_text(an)}", icon=":material/filter_alt_off:")
    st.stop()
more = ui.lr_offer(s, version, sel, runs, an)  # cached; the bracketing offer waits for the charts
ok_runs = services.chart_runs(runs, sel)
sel_runs = services.select(runs, sel)  # every column: a click on a chart opens these runs
shown, _ = services.shown_nopt(an, sel)

# The point estimates first; the intervals once the bootstrap is done, by a rerun that finds them cached and
# draws every element in the same place (a chart written twice in one run is drawn anew; a rerun updates it).
part.cards(st.container(), an, sel, more.tuning, pending=None if done is not None else part.pending_words(wait))
part.lr_offer(st.container(), s, more)  # emitted either way: the elements below keep their places

left, right = ui.chart_row(2)  # side by side where each chart has room, else stacked
part.figure(left, left, part.loss_figure(an, ok_runs), pick=("explore_loss", sel_runs, curves))
part.nopt(right, right, an, sel, offer=done is not None)
left.caption("Small dots: runs; rings: seed means; black: the compute-efficient frontier; dashed red: the fitted "
             "law and its 95% band. Click a point to open its run (a ring: its seeds); click a width in the legend "
             "to highlight it (shift-click for more, double-click the chart to reset).")
if note := services.imported_note(sel_runs):
    left.caption(note)

left2, right2 = ui.chart_row(2)
ui.pick_chart(left2, charts.accuracy_vs_compute(an.aggregate.points), "explore_acc", sel_runs, curves)
with right2:
    part.bottleneck(an.aggregate.points, sel_runs, curves)  # a fragment: switching its tab reruns it alone

# Asked after every chart is drawn: its plan is timed for the training device, whose first look imports torch.
brk = ui.guarded(ui.bracketing, s, sel, runs, an, ui.device().label)
part.bracket_offer(right.container(), s, sel, brk, shown)  # emitted either way: an offer that goes leaves no copy
ui.plan_panel(s, version, sel, runs, curves, an, "explore")  # the next runs for a budget, queued with predictions

with st.expander("Chart data and downloads"):
    st.caption("Each chart's toolbar (top right, on hover) saves it as PNG and shows its data; the buttons "
               "below give the data as CSV and the loss chart as SVG.")
    d1, d2, d3, d4 = st.columns(4)
    pts = an.aggregate.points
    ui.download(d1, "runs (CSV)", ok_runs, "runs.csv")
    ui.download(d2, "seed means and frontier (CSV)", pts.assign(on_frontier=pts["flops"].isin(an.frontier["flops"])),
                "points.csv")
    ui.download(d3, "N_opt budgets (CSV)", an.nopt[shown].points, f"nopt_{shown}.csv")
    if charts.can_export():
        d4.download_button("loss chart (SVG)", part.latest_svg(s, version, sel, runs, an, ok_runs, boot),
                           file_name="loss_vs_compute.svg", mime="image/svg+xml", on_click="ignore",
                           icon=":material/download:")
    else:
        d4.caption("SVG export needs vl-convert-python (`pip install 'scaling-lab[export]'`).")
    if an.notes:
        st.caption("Fit notes: " + " · ".join(map(services.md_text, an.notes)))

# The intervals, after everything above is on screen: a slider move meanwhile stops this run at the
# bootstrap's next progress note (a few a second), cancels the worker's job and starts the next run.
interval_note = st.empty()  # emitted either way (see the lr offer)
if wait:
    interval_note.caption("95% intervals are computed when the training in progress finishes (it needs the CPU).")
if boot and done is None:
    ui.after_redraw()
    ui.analysis(s, version, sel, runs, curves, n_boot=boot, slot=interval_note)
    if ui.cached_analysis(s, version, sel, boot, runs) is not None:
        st.rerun()
else:  # every fit of this view done: the next slider step's, while the user reads this one
    ui.fit_ahead(s, version, sel, runs, curves, training=wait)
