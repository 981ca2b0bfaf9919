"""Every run inspectable: a chart whose points open their runs (a click opens a dialog with the run's
configuration, where and how it trained, and its curves), and the Runs page's overlay of the rows
ticked there. The numbers come from scaling.services.run_detail."""
from __future__ import annotations

import functools

import pandas as pd
import streamlit as st

from scaling import services
from scaling.charts import run_curves, select
from scaling.services import run_detail as rd

from .cards import chart

PENDING = "_run_pick"  # (chart key, clicked point): set by the click's callback, read once by the chart's page run


def _clicked(key: str) -> None:
    point = select.picked(st.session_state.get(key))
    if point:
        st.session_state[PENDING] = (key, point)


def pick_chart(slot, fig, key: str, candidates, curves: pd.DataFrame | None) -> None:
    """Draw `fig` so that a click on a point opens its run. `candidates`: the runs the chart shows (a
    frame), or a function of the clicked point giving them (Compare: the runs of the clicked selection).
    `key` is stable per chart: the selection survives redraws of new data."""
    if fig is None:
        return
    pf = select.pickable(fig)
    names = select.params(pf)
    if not names:
        chart(slot, fig)
        return
    slot.vega_lite_chart(pf.wire(), width="stretch", key=key, on_select=functools.partial(_clicked, key),
                         selection_mode=names)
    pending = st.session_state.get(PENDING)
    if pending and pending[0] == key:
        del st.session_state[PENDING]
        point = pending[1]
        pool = candidates(point) if callable(candidates) else candidates
        found = rd.runs_at(pool, point)
        if not len(found):
            st.toast("No cached run at that point.", icon=":material/search_off:")
            return
        _dialog(found, curves)


@st.dialog("The run behind the point", width="large")
def _dialog(found: pd.DataFrame, curves: pd.DataFrame | None) -> None:
    show(st.container(), rd.run_detail(found, curves))


def show(box, d: rd.RunDetail) -> None:
    """One run or configuration: what it is, where and how it trained, its curves, what is not stored."""
    with box:
        st.markdown(f"**{services.md_text(d.title)}**")  # values of (imported) runs: text, not Markdown
        st.dataframe(d.config, hide_index=True, width="stretch", height=min(36 + 35 * len(d.config), 300),
                     column_config={"field": "configuration", "value": "value"})
        st.dataframe(d.runs, hide_index=True, width="stretch", column_config=_RUN_COLUMNS)
        chart(st, run_curves.run_curves(d.curves, d.train))
        for note in d.notes:
            st.caption(services.md_text(note))


def overlay(box, runs: pd.DataFrame, curves: pd.DataFrame | None) -> None:
    """The Runs page: the ticked rows' curves on one chart, and their runs' details."""
    if not len(runs):
        return
    with box.container(border=True):
        st.markdown(f"**Curves of the {len(runs)} ticked run{'s' * (len(runs) != 1)}**")
        many = runs.head(rd.MAX_RUNS)
        d = rd.run_detail(many, curves)
        chart(st, run_curves.run_curves(d.curves, d.train, "Validation loss of the ticked runs"))
        if len(runs) > rd.MAX_RUNS:
            st.caption(f"The first {rd.MAX_RUNS} of them are drawn.")
        for note in d.notes:
            st.caption(services.md_text(note))


Num = st.column_config.NumberColumn
_RUN_COLUMNS = {
    "run_id": st.column_config.TextColumn("run id"), "seed": Num("seed", format="%d"), "lr_mult": Num("lr ×", format="%g"),
    "val_loss": Num("val loss", format="%.4f"), "val_acc": Num("val acc", format="percent"),
    "train_loss": Num("train loss", format="%.4f", help="mean over the run's last 20 steps: the only training loss stored"),
    "wall_s": Num("train s", format="%.1f", help="this run's share of its stack's training time"),
    "host": st.column_config.TextColumn("host", help="the machine that trained it; empty: not recorded (runs from "
                                                     "before hosts were, and imported ones)"),
    "device": st.column_config.TextColumn("device"), "device_type": st.column_config.TextColumn("device type"),
    "precision": st.column_config.TextColumn("precision"),
    "created_at": st.column_config.DatetimeColumn("trained at", format="YYYY-MM-DD HH:mm"),
    "imported_from": st.column_config.TextColumn("imported from"), "protocol": Num("protocol", format="%d"),
}
