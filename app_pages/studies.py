"""Studies: five questions beyond the exercise, one card each: the question and its paper, the
preset grid that answers it here (its plan and one button), the charts, and the answer in one
sentence. Every number comes from scaling.services.studies (and scaling.fit.studies behind it)."""
import streamlit as st

from app_pages import ui
from scaling import services
from scaling.charts import studies as study_charts
from scaling.datasets import DataError

ui.through_app()
st.title("Studies")
s = ui.store()
runs = ui.load_runs(s)
curves = ui.load_curves(s)
dev = ui.device()
st.markdown("Questions the scaling-law papers ask beyond the exercise, each answered on this instrument from the "
            "cached runs, with 95% intervals (seeds resampled). Each card's preset grid is sized for this device; "
            "runs already cached are not trained again, and training happens in a worker process.")
ui.sweeps_section(s, runs)  # one fragment owns the panels: see app_pages/ui/sweeps.py

for key, study in services.studies.STUDIES.items():
    with st.container(border=True, key=f"study_{key}"):
        st.subheader(study.title)
        st.markdown(f"**{study.question}**")
        st.caption(f"Source: {study.paper}.")
        try:
            configs = services.studies.preset(key, dev.device)
            p = services.plan(s, configs, runs, dev.label)
        except DataError as e:  # a data set missing here: this card cannot plan, the others still can
            st.error(f"Data set error: {services.md_text(e)}")
            continue
        m1, m2, m3, m4 = ui.card_row(4)
        m1.metric("runs in the preset", len(p.configs))
        m2.metric("cached", p.cached, help=f"{p.queued} more already queued" if p.queued else None)
        m3.metric("to train", p.new, help=f"{services.fmt_flops(p.flops)} of training compute (C = 3 × forward FLOPs × D)")
        m4.metric("estimated time", services.fmt_s(p.est_s) if p.new else "—", help=f"on {services.md_text(dev.label)}: {p.basis}")
        spend = f" Training compute to spend: {services.fmt_flops(p.flops)}." if p.new else ""
        st.caption(f"Preset: {study.preset_note}.{spend}")
        if p.queued:
            st.caption(f":material/hourglass_top: {p.queued} run{'s' * (p.queued != 1)} of this preset "
                       f"{'are' if p.queued != 1 else 'is'} queued or training: the panel at the top of the page "
                       "follows them, and this card's answer is refitted as they land.")
        label = f"Queue {p.new} run{'s' * (p.new != 1)}" if p.new else "Everything in this preset is cached or queued"
        if st.button(label, key=f"s_queue_{key}", type="primary", disabled=p.new == 0, icon=":material/play_arrow:"):
            name = services.studies.preset_label(key, dev.device)
            sid, n_cached, n_new = ui.guarded(services.queue_runs, s, configs, name, dev.device)
            ui.remember_sweep(sid, name)
            st.session_state["s_toast"] = f"{study.title}: queued {n_new} runs ({n_cached} cached)"
            st.rerun()  # the plan above now counts them as queued
        r = ui.guarded(ui.study_answer, s, key, runs, ui.BOOT)
        # an answer before the preset is all cached can still change as runs land: it says so
        prov = services.studies.provisional(key, dev.device, runs) if r.ok else ""
        (st.success if r.ok and not prov else st.info)(f"{prov} {r.answer}" if prov else r.answer,
                                                       icon=":material/lightbulb:" if r.ok else ":material/hourglass:")
        figs = study_charts.study_charts(r)
        mine = services.run_detail.family_runs(runs, getattr(r, "family", {}))  # a click opens these runs
        for i, (cell, fig) in enumerate(zip(ui.chart_row(len(figs)), figs)):
            ui.pick_chart(cell, fig, f"study_{key}_chart{i}", mine, curves)

if msg := st.session_state.pop("s_toast", None):
    st.toast(msg, icon=":material/play_arrow:")
