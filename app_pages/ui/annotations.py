"""What a researcher writes on the Runs and Train pages: selected runs excluded from every fit (with
a reason) or included again in one click, a note on runs; the past sweeps, queued again or noted;
the shipped exercise grid, loaded at any time (what the cache holds already is skipped)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from scaling import services
from scaling.store import Store

from .reads import guarded
from .sweeps import requeue


def _toast_later(text: str) -> None:
    st.session_state["ann_toast"] = text


def show_toast() -> None:
    """A message left by the last action (shown after the rerun it asked for)."""
    if msg := st.session_state.pop("ann_toast", None):
        st.toast(msg)


def annotate_runs(s: Store, chosen: pd.DataFrame) -> None:
    """For the selected runs: exclude them from every fit with a reason, include them again, note them."""
    n = len(chosen)
    excluded = services.annotations.is_excluded(chosen)
    with st.container(border=True, key="annotate"):
        st.markdown(f"**{n} selected run{'s' * (n != 1)}**: leave {'it' if n == 1 else 'them'} out of every fit "
                    "(Explore, Fit lab, Compare, Studies, `scaling fit`), or write a note.")
        a1, a2 = st.columns(2)
        reason = a1.text_input("Reason for excluding", key="ann_reason", placeholder="e.g. diverged late; bad node",
                               max_chars=services.annotations.MAX_TEXT)
        if a1.button("Exclude from fits", key="ann_exclude", icon=":material/block:", disabled=not reason.strip()):
            ids = chosen["run_id"].tolist()
            k = guarded(services.annotations.exclude, s, ids, reason)
            _toast_later(f"excluded {k} run{'s' * (k != 1)} from every fit")
            st.rerun()
        if excluded.any():
            m = int(excluded.sum())
            if a1.button(f"Include {m} excluded run{'s' * (m != 1)} again", key="ann_include",
                         icon=":material/undo:"):
                k = guarded(services.annotations.include, s, chosen.loc[excluded, "run_id"].tolist())
                _toast_later(f"{k} run{'s' * (k != 1)} counted in fits again")
                st.rerun()
        old = chosen["note"].dropna().unique() if "note" in chosen else []
        note = a2.text_input("Note", value=old[0] if len(old) == 1 else "", key=f"ann_note_{hash(tuple(chosen['run_id']))}",
                             max_chars=services.annotations.MAX_TEXT, help="empty: the note is removed")
        if a2.button("Save the note", key="ann_save_note", icon=":material/edit_note:"):
            k = guarded(services.annotations.note_runs, s, chosen["run_id"].tolist(), note)
            _toast_later(f"note {'saved on' if note.strip() else 'removed from'} {k} run{'s' * (k != 1)}")
            st.rerun()


SHOWN_EXCLUDED = 20  # runs listed with their own Include button; more are included by selecting them


def excluded_caption(s: Store, runs: pd.DataFrame) -> None:
    """How many of `runs` are excluded and why; each of the first few with its own Include button."""
    line = services.annotations.excluded_note(runs)
    if not line:
        return
    ex = runs[services.annotations.is_excluded(runs)]
    with st.expander(line, icon=":material/block:"):
        for r in ex.head(SHOWN_EXCLUDED).itertuples():
            c1, c2 = st.columns([3, 1], vertical_alignment="center")  # room for the button's word at 1024 px
            c1.markdown(f"width {r.width} · {services.frac_label(r.data_fraction)} · seed {r.seed} · dropout "
                        f"{r.dropout:g}: “{services.md_text(r.excluded)}”", help=f"run {r.run_id}")
            if c2.button("Include", key=f"include_{r.run_id}", icon=":material/undo:"):
                guarded(services.annotations.include, s, [r.run_id])
                _toast_later("1 run counted in fits again")
                st.rerun()
        if len(ex) > SHOWN_EXCLUDED:
            st.caption(f"… and {len(ex) - SHOWN_EXCLUDED} more: filter the table by status *excluded*, select them "
                       "and include them again.")


def shipped_offer(s: Store, key: str) -> None:
    """The shipped exercise grid, loadable at any time: its runs the cache holds already are skipped."""
    shipped = services.shipped()
    if shipped is None:
        return
    if st.button(shipped.button(), icon=":material/download:", key=key,
                 help="the runs this cache holds already are skipped, and nothing cached is replaced"):
        try:
            res = guarded(services.import_file, s, shipped.path)
        except ValueError as e:  # a damaged file is refused whole: nothing was written
            st.error(f"The shipped grid cannot be loaded: {services.md_text(e)}")
            return
        _toast_later(f"loaded {res.added} runs of the shipped grid ({res.duplicates} already cached)")
        st.rerun()


def past_sweeps(s: Store) -> None:
    """The newest sweeps: pick one to queue its grid again (what it lacks is trained) or to note it."""
    df = guarded(services.past_sweeps, s)
    st.subheader("Past sweeps")
    if df.empty:
        st.caption("No sweep has been queued in this database yet.")
        return
    shown = df.assign(label=df["label"].where(df["label"] != "", df["sweep_id"]))
    event = st.dataframe(
        shown[["label", "created_at", "runs", "done", "queued", "left", "note"]], key="past_sweeps",
        on_select="rerun", selection_mode="single-row", hide_index=True, width="stretch",
        height=min(300, 38 + 35 * len(df)),
        column_config={"label": st.column_config.TextColumn("sweep"),
                       "created_at": st.column_config.DatetimeColumn("queued at", format="YYYY-MM-DD HH:mm"),
                       "done": st.column_config.NumberColumn("done", help="cached (ok or diverged)"),
                       "queued": st.column_config.NumberColumn("waiting", help="queued or training now"),
                       "left": st.column_config.NumberColumn("left", help="cancelled, failed or deleted: queued "
                                                             "again by *Queue again*")})
    rows = event.selection.rows if event is not None else []
    if not rows:
        st.caption("Select a sweep (the box at the left edge) to queue its grid again or to note it.")
        return
    row = df.iloc[rows[0]]
    sid = row["sweep_id"]
    c1, c2 = st.columns(2)
    left = int(row["left"])
    if c1.button(f"Queue again ({left} left to train)" if left else "Queue again (nothing left to train)",
                 key="past_requeue", icon=":material/replay:", disabled=left == 0 or int(row["queued"]) > 0,
                 help="the same grid: what is cached is skipped" + ("" if row["has_grid"] else
                      "; queued before grids were recorded: its failed runs are retried")):
        requeue(s, sid)
    note = c2.text_input("Note on this sweep", value=row["note"] if isinstance(row["note"], str) else "",
                         key=f"past_note_{sid}", max_chars=services.annotations.MAX_TEXT)
    if c2.button("Save the note", key="past_save_note", icon=":material/edit_note:"):
        guarded(services.annotations.note_sweep, s, sid, note)
        _toast_later("note saved" if note.strip() else "note removed")
        st.rerun()
