"""Explore: scaling curves of the cached runs; every control refits from the cache, never trains."""
import math

import streamlit as st

from app_pages import ui
from scaling import charts, services

ui.through_app()
st.title("Explore scaling curves")
s = ui.store()
runs = ui.load_runs(s)
version = services.data_version(runs)

ui.sweeps_section(s, runs)  # always emitted here, sweeps or not: nothing below it moves when one ends
training = any(ui.sweep_active(s, sid) for sid, _ in ui.running_sweeps(s))
# On a CPU box a sweep in flight needs both cores: the intervals wait until it is done, and say so.
defer = training and ui.device().device == "cpu"
interval_wait = "waits for the training in progress to finish (it needs the CPU)" if defer else "computing…"

if services.options(runs).empty and training:
    st.info("Training has started: the charts appear here as soon as the first runs land.",
            icon=":material/hourglass_top:")
    st.stop()
if services.options(runs).empty:
    dev = ui.device()
    spec = services.quick_grid(dev.device)
    st.info("**The cache is empty.** Every chart here is drawn from trained runs kept in "
            f"`{s.path}`. Train a first grid: the quick sweep below is sized to this device "
            f"({dev.name}); or choose your own grid on the **Train** page, or run `scaling sweep` in a terminal.",
            icon=":material/science:")
    p = ui.guarded(services.plan, s, spec, runs, dev.label)
    st.caption(f"Quick sweep: {spec.label()} → {p.new} runs, {services.fmt_flops(p.flops)}, "
               f"about {services.fmt_s(p.est_s)} on {services.md_text(dev.label)}.")
    if st.button("Train the quick sweep", type="primary", icon=":material/play_arrow:"):
        sid, n_cached, n_new = ui.guarded(services.start_sweep, s, spec, dev.device)
        ui.remember_sweep(sid, "quick sweep")
        st.rerun()
    shipped = services.shipped()  # the exercise grid trained by this project: real data at once, even on a laptop
    if shipped is not None:
        st.caption(shipped.caption())
        if st.button(shipped.button(), icon=":material/download:", key="load_shipped"):
            try:
                ui.guarded(services.import_file, s, shipped.path)
            except ValueError as e:  # a damaged file is refused whole: nothing was written
                st.error(f"The shipped grid cannot be loaded: {services.md_text(e)}")
                st.stop()
            st.rerun()
    st.stop()

sel = ui.selection_controls(runs, "explore")
ui.write_url((sel, ""))
curves = ui.load_curves(s, version)

# a selection whose intervals are done (in any session) is drawn once, with them, not twice
done = ui.cached_analysis(s, version, sel, ui.BOOT) if ui.BOOT and not defer else None
an = done if done is not None else ui.point_estimates(s, version, sel, runs, curves)
if isinstance(an, services.SelectionError):
    st.warning(f"Nothing to fit: {services.md_text(an)}", icon=":material/filter_alt_off:")
    st.stop()

more = ui.lr_offer(s, version, sel, runs, an)  # cached; the bracketing offer waits for the charts

# Cards first with the point estimates; the intervals fill in once the bootstrap is done.
cards = st.empty()


def draw_cards(a, pending: bool, why_pending: str = interval_wait):
    with cards.container():
        c1, c2, c3 = ui.card_row(3)
        law = a.loss_vs_compute
        m, why = services.shown_nopt(a, sel)
        nf = a.nopt[m]
        ui.exponent_card(c1, "α_C  (loss ∝ C^-α_C on the frontier)", law.alpha if law else math.nan,
                         None if pending else (law.alpha_interval if law else None), a.n_runs, pending=why_pending,
                         help="exponent of the fitted loss-vs-compute law on the compute-efficient frontier",
                         none=a.no_interval, off=a.off_interval("alpha_C"))
        ui.exponent_card(c2, f"a  (N_opt ∝ C^a, {services.ESTIMATORS[m]})", nf.a if nf.ok else math.nan,
                         None if pending else nf.interval, nf.n_runs, pending=why_pending,
                         help="how fast the compute-optimal parameter count grows with compute",
                         none=a.no_interval, off=a.off_interval(f"a_{m}"))
        c2.caption(("Provisional verdict (before the intervals): " if pending and sel.estimator == services.VERDICT
                    else "Verdict: " if sel.estimator == services.VERDICT else "") + why[0].upper() + why[1:] + ".")
        c3.metric("runs · configurations · frontier", f"{a.n_runs} · {len(a.aggregate.points)} · {len(a.frontier)}")
        excl = services.md_text(", ".join(f"{k}: {v}" for k, v in a.excluded.items()))
        # the family's values come from the runs, and runs can be imported: its words are escaped
        c3.caption(f"{services.md_text(services.describe_family(sel.family))}; seeds averaged per configuration; learning rate "
                   f"{more.tuning.label() if sel.lr == services.LR_TUNED else f'×{sel.lr:g} (fixed)'}"
                   + (f"; excluded {excl}" if excl else ""))


draw_cards(an, pending=done is None)

lr_box = st.container()  # emitted either way: the elements below keep their places
if more.lr_runs:
    with lr_box.expander(f"The learning rate is not tuned here: {more.tuning.label()}", icon=":material/tune:"):
        st.caption("Tuned means, per configuration, an interior best of at least three learning-rate multipliers. "
                   "Training ×1/2 and ×2 around each configuration's best where not tried yet would tune them, or "
                   f"show that the best lies further out: {len(more.lr_runs)} more runs, {services.fmt_flops(more.lr_flops)}.")
        if st.button(f"Queue those {len(more.lr_runs)} runs", icon=":material/play_arrow:", key="queue_lr"):
            sid, _, n_new = ui.guarded(services.queue_runs, s, more.lr_runs, "lr multipliers around the best")
            ui.remember_sweep(sid, "lr multipliers around the best")
            st.rerun()

pts = an.aggregate.points
ok_runs = services.select(runs, sel)
ok_runs = ok_runs[ok_runs["status"] == "ok"][["width", "width_step", "params", "data_fraction", "examples",
                                               "flops", "seed", "val_loss", "val_acc", "lr_mult"]]
law = an.loss_vs_compute
line = services.law_line(law) if law else None


def loss_chart(a):  # with the law's 95% band (and its interval in the equation) once `a` has its bootstrap
    eq = services.equation(a.loss_vs_compute) if a.loss_vs_compute else "the frontier has too few points for a fit"
    return charts.loss_vs_compute(ok_runs, pts, a.frontier, a.loss_vs_compute, line, services.law_band(a), eq)


left, right = ui.chart_row(2)  # side by side where each chart has room, else stacked
loss_slot = left.empty()
loss_fig = {"fig": loss_chart(an)}  # the latest drawn
ui.chart(loss_slot, loss_fig["fig"])
nopt_slot = right.empty()
shown, _ = services.shown_nopt(an, sel)
nf = an.nopt[shown]


def draw_nopt(nf, a, offer=False):
    if nf.ok:
        ui.chart(nopt_slot, charts.nopt_vs_compute(nf, services.nopt_band(nf), data=services.nopt_data_points(a)))
        return
    # say why instead of an empty chart, and offer the estimators that do answer here
    with nopt_slot.container():
        st.info(f"**Compute-optimal model size ({services.ESTIMATORS[nf.method]})** cannot be estimated on this "
                f"selection: {services.explain_nopt(nf)}.", icon=":material/info:")
        for m, o in (a.nopt if offer else {}).items():
            if o.ok and m != nf.method:
                iv = f" [{o.interval.lo:.3f}, {o.interval.hi:.3f}]" if o.interval is not None and math.isfinite(o.interval.lo) else ""
                st.button(f"Show {services.ESTIMATORS[m]} instead (a = {o.a:.3f}{iv})", key=f"use_{m}",
                          on_click=ui.set_estimator, args=(m,), icon=":material/swap_horiz:")


draw_nopt(nf, an, offer=done is not None)

left.caption("Small dots: runs; rings: seed means; black: the compute-efficient frontier; dashed red: the fitted "
             "law and its 95% band. Click a width in the legend to highlight it (shift-click for more, "
             "double-click the chart to reset).")
if note := services.imported_note(services.select(runs, sel)):
    left.caption(note)

left2, right2 = ui.chart_row(2)
ui.chart(left2, charts.accuracy_vs_compute(ok_runs, pts))
with right2:
    st.markdown("**The data bottleneck**")
    # only the open tab's chart is drawn: a hidden one cost the browser a fifth of every redraw
    for tab, by in zip(st.tabs(["loss vs N per D", "loss vs D per N"], key="bottleneck_tab", on_change="rerun"),
                       ("examples", "params")):
        if tab.open:
            ui.chart(tab, charts.bottleneck(pts, by))

# the envelope and IsoFLOP estimators need a grid whose optimum is inside it: say which runs would make it so.
# Asked after every chart is drawn: its plan is timed for the training device, whose first look
# imports torch (3-6 s on a server's first run, which used to hold back the first paint).
brk = ui.guarded(ui.bracketing, s, sel, runs, an, ui.device().label)
brk_box = right.container()  # emitted either way: an offer that goes leaves no faded copy behind
if brk.edge:
    b, p = brk.bracket, brk.plan
    names = " and ".join(services.ESTIMATORS[m] for m in brk.edge)
    with brk_box.expander(f"{names[0].upper() + names[1:]}: the grid does not bracket the optimum",
                        expanded=shown in brk.edge, icon=":material/open_in_full:"):
        for why in b.why + b.limit:
            st.caption(why[0].upper() + why[1:] + ".")
        dev = ui.device()
        if not b.empty and sel.precision != dev.precision:
            st.caption(f"This device trains in {dev.precision}, not {services.md_text(sel.precision)}: runs trained here would start "
                       "another family.")
        elif p is not None:
            st.caption(f"Adding {b.describe()}: {p.new} runs to train ({p.cached} cached, {p.queued} queued), "
                       f"{services.fmt_flops(p.flops)}, about {services.fmt_s(p.est_s)} on {services.md_text(dev.label)}.")
            if st.button(f"Queue the {p.new} bracketing runs", disabled=p.new == 0, key="bracket",
                         icon=":material/play_arrow:"):
                sid, _, _ = ui.guarded(services.queue_runs, s, b.configs, f"bracket: {b.describe()}")
                ui.remember_sweep(sid, f"bracket: {b.describe()}")
                st.rerun()

with st.expander("Chart data and downloads"):
    st.caption("Each chart's toolbar (top right, on hover) saves it as PNG and shows its data; the buttons "
               "below give the data as CSV and the loss chart as SVG.")
    d1, d2, d3, d4 = st.columns(4)
    ui.download(d1, "runs (CSV)", ok_runs, "runs.csv")
    ui.download(d2, "seed means and frontier (CSV)", pts.assign(on_frontier=pts["flops"].isin(an.frontier["flops"])),
                "points.csv")
    ui.download(d3, "N_opt budgets (CSV)", nf.points, f"nopt_{shown}.csv")
    # rendered by vl-convert on click, from the chart last drawn (with its band once the bootstrap is done)
    if charts.can_export():
        d4.download_button("loss chart (SVG)", lambda: loss_fig["fig"].svg(), file_name="loss_vs_compute.svg",
                           mime="image/svg+xml", on_click="ignore", icon=":material/download:")
    else:
        d4.caption("SVG export needs vl-convert-python (`pip install 'scaling-lab[export]'`).")
    if an.notes:
        st.caption("Fit notes: " + " · ".join(map(services.md_text, an.notes)))

# Intervals: the bootstrap runs after everything above is on screen, cached per selection; a
# slider move meanwhile stops this run at the bootstrap's next progress note and starts the next.
defer_note = st.empty()  # emitted either way (see lr_box)
if defer:
    defer_note.caption("95% intervals are computed when the training in progress finishes (it needs the CPU).")
full = ui.analysis(s, version, sel, runs, curves, n_boot=ui.BOOT, slot=defer_note) \
    if ui.BOOT and not defer and done is None else None
if full is not None and not isinstance(full, services.SelectionError):
    draw_cards(full, pending=False)
    loss_fig["fig"] = loss_chart(full)
    ui.chart(loss_slot, loss_fig["fig"])
    draw_nopt(full.nopt[services.shown_nopt(full, sel)[0]], full, offer=True)
