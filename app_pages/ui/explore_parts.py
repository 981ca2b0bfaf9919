"""Explore's parts: the cards, the charts with their captions, the offers."""
from __future__ import annotations

import math

import streamlit as st

from scaling import charts, services

from .cards import chart, exponent_card
from .fits import cached_analysis
from .layout import card_row
from .reads import device, guarded
from .run_detail import pick_chart
from .selection import set_estimator
from .sweeps import remember_sweep


def pending_words(wait: bool) -> str:
    """What an interval not drawn yet is doing."""
    return "waits for the training in progress to finish (it needs the CPU)" if wait else "computing…"


def cards(box, a, sel, tuning, pending: str | None) -> None:
    """α_C, a and the counts; `pending` (what the intervals are doing) until they are in, then None."""
    with box:
        c1, c2, c3 = card_row(3)
        law = a.loss_vs_compute
        m, why = services.shown_nopt(a, sel)
        nf = a.nopt[m]
        waiting = pending is not None
        exponent_card(c1, "α_C  (loss ∝ C^-α_C on the frontier)", law.alpha if law else math.nan,
                      None if waiting else (law.alpha_interval if law else None), a.n_runs, pending=pending or pending_words(False),
                      help="exponent of the fitted loss-vs-compute law on the compute-efficient frontier"
                           + (f"; {a.law_choice}" if a.law_choice else ""),
                      none=a.no_interval, off=a.off_interval("alpha_C"))
        exponent_card(c2, f"a  (N_opt ∝ C^a, {services.ESTIMATORS[m]})", nf.a if nf.ok else math.nan,
                      None if waiting else nf.interval, nf.n_runs, pending=pending or pending_words(False),
                      help="how fast the compute-optimal parameter count grows with compute",
                      none=a.no_interval, off=a.off_interval(f"a_{m}"))
        verdict = sel.estimator == services.VERDICT
        c2.caption(("Provisional verdict (before the intervals): " if waiting and verdict else "Verdict: " if verdict
                    else "") + why[0].upper() + why[1:] + ".")
        head = services.headline(a, sel) if not waiting else ""
        if head:
            c2.caption(f"**Answer:** {services.md_text(head)}")
        if verdict and (ff := services.explain_form_free(why, head)):
            c2.caption(services.md_text(ff))  # said where the words first appear
        c3.metric("runs · configurations · frontier", f"{a.n_runs} · {len(a.aggregate.points)} · {len(a.frontier)}")
        excl = services.md_text(", ".join(f"{k}: {v}" for k, v in a.excluded.items()))
        # the family's values come from the runs, and runs can be imported: its words are escaped
        c3.caption(f"{services.md_text(services.describe_family(sel.family))}; seeds averaged per configuration; "
                   f"learning rate {tuning.label() if sel.lr == services.LR_TUNED else f'×{sel.lr:g} (fixed)'}"
                   + (f"; excluded {excl}" if excl else "")
                   + (f". {services.md_text(services.sentence(a.seed_noise.describe()))}" if a.seed_noise else ""))


def loss_figure(a, ok_runs):
    """Loss against compute: runs, seed means, frontier, the law (with its 95% band once `a` has its bootstrap)."""
    law = a.loss_vs_compute
    eq = services.equation(law) if law else "the frontier has too few points for a fit"
    return charts.loss_vs_compute(ok_runs, a.aggregate.points, a.frontier, law, services.law_line(law) if law else None,
                                  services.law_band(a), eq)


def figure(slot, note, fig, pick: tuple | None = None) -> None:
    """A chart into `slot` and its caption (the words that change with the numbers) into `note`, emitted
    either way (an empty one without words), so that the elements below keep their places. `pick`:
    (key, runs, curves) where a click on a point opens its run (the chart is drawn once a script run)."""
    pick_chart(slot, fig, *pick) if pick else chart(slot, fig)
    note.caption(services.md_text(fig.caption)) if fig.caption else note.empty()


@st.fragment
def bottleneck(points, runs, curves) -> None:
    """The data bottleneck in two tabs; only the open tab's chart is drawn (a hidden one still costs the
    browser every redraw). A fragment: switching the tab reruns it alone, not the page. The open tab
    is in the URL (?bottleneck=...): a copied link opens the same one."""
    st.markdown("**The data bottleneck**")
    for tab, by in zip(st.tabs(["loss vs N per D", "loss vs D per N"], key="bottleneck", on_change="rerun",
                               bind="query-params"), ("examples", "params")):
        if tab.open:
            pick_chart(tab, charts.bottleneck(points, by), f"explore_bottleneck_{by}", runs, curves)


def nopt(slot, note, a, sel, offer: bool = False) -> None:
    """N_opt against compute (its law in `note`); where the shown estimator cannot answer, why, and
    (`offer`) those that can."""
    nf = a.nopt[services.shown_nopt(a, sel)[0]]
    if nf.ok:
        figure(slot, note, charts.nopt_vs_compute(nf, services.nopt_band(nf), data=services.nopt_data_points(a)))
        return
    with slot.container():
        st.info(f"**Compute-optimal model size ({services.ESTIMATORS[nf.method]})** cannot be estimated on this "
                f"selection: {services.explain_nopt(nf)}.", icon=":material/info:")
        for m, o in (a.nopt if offer else {}).items():
            if o.ok and m != nf.method:
                iv = f" [{o.interval.lo:.3f}, {o.interval.hi:.3f}]" if o.interval is not None and math.isfinite(o.interval.lo) else ""
                st.button(f"Show {services.ESTIMATORS[m]} instead (a = {o.a:.3f}{iv})", key=f"use_{m}",
                          on_click=set_estimator, args=(m,), icon=":material/swap_horiz:")
    note.empty()


def lr_offer(box, s, more) -> None:
    """The runs that would tune the learning rate, and a button that queues them (nothing when tuned)."""
    if not more.n_runs:
        return
    with box.expander(f"The learning rate is not tuned here: {more.tuning.label()}", icon=":material/tune:"):
        st.caption("Tuned means, per configuration, an interior best of at least three learning-rate multipliers. "
                   "Training ×1/2 and ×2 around each configuration's best where not tried yet would tune them, or "
                   f"show that the best lies further out: {more.n_runs} more runs, {services.fmt_flops(more.lr_flops)}.")
        if st.button(f"Queue those {more.n_runs} runs", icon=":material/play_arrow:", key="queue_lr"):
            sid, _, _ = guarded(services.queue_runs, s, more.lr_runs(), "lr multipliers around the best")
            remember_sweep(sid, "lr multipliers around the best")
            st.rerun()


def bracket_offer(box, s, sel, brk, shown: str) -> None:
    """Where the envelope or IsoFLOP estimator cannot answer: why, and a button that queues the runs that would
    bracket the optimum (nothing when both answer)."""
    if not brk.edge:
        return
    b, p = brk.bracket, brk.plan
    names = " and ".join(services.ESTIMATORS[m] for m in brk.edge)
    with box.expander(f"{names[0].upper() + names[1:]}: the grid does not bracket the optimum",
                      expanded=shown in brk.edge, icon=":material/open_in_full:"):
        for why in b.why + b.limit:
            st.caption(why[0].upper() + why[1:] + ".")
        dev = device()
        if not b.empty and sel.precision != dev.precision:
            st.caption(f"This device trains in {dev.precision}, not {services.md_text(sel.precision)}: runs trained "
                       "here would start another family.")
        elif p is not None:
            st.caption(f"Adding {b.describe()}: {p.new} runs to train ({p.cached} cached, {p.queued} queued), "
                       f"{services.fmt_flops(p.flops)}, about {services.fmt_s(p.est_s)} on {services.md_text(dev.label)}.")
            if st.button(f"Queue the {p.new} bracketing runs", disabled=p.new == 0, key="bracket",
                         icon=":material/play_arrow:"):
                sid, _, _ = guarded(services.queue_runs, s, b.configs, f"bracket: {b.describe()}")
                remember_sweep(sid, f"bracket: {b.describe()}")
                st.rerun()


def latest_svg(s, version, sel, runs, an, ok_runs, boot: int):
    """The loss chart as an SVG, rendered on click (vl-convert) from the analysis the page shows last:
    with its `boot` resamples once they are cached, else `an`."""
    def render() -> bytes:
        full = cached_analysis(s, version, sel, boot, runs) if boot else None
        return loss_figure(full if full is not None else an, ok_runs).svg()
    return render
