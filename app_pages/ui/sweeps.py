"""Sweeps in flight: the live progress panel with Resume and Cancel, and which sweeps to show."""
from __future__ import annotations

import time

import streamlit as st

from scaling import views
from scaling.store import Store, StoreError

from .reads import snapshot


def sweep_panel(s: Store, sweep_id: str, label: str = "", timing: tuple[float, float] | None = None) -> None:
    """Live progress of one sweep, refreshed every 2 s without rerunning the page; when runs land
    the whole page reruns so its charts include them."""

    @st.fragment(run_every=2.0)
    def panel():
        try:
            stt = views.sweep_status(s, sweep_id, label)
        except StoreError as e:
            st.error(f"Database error: {e}")
            return
        total = max(stt.total, 1)
        st.progress(stt.done / total, text=f"**Sweep** {label or sweep_id}: {stt.done}/{stt.total} runs done"
                    + (f", {stt.running} training, {stt.queued} queued" if stt.active else "")
                    + (f", {stt.failed} failed" if stt.failed else ""))
        if len(stt.current):
            cur = stt.current.iloc[0]
            el = float(cur["running_s"] or 0.0)
            t0, rate = timing or (0.0, 0.0)
            est_s_per_run = sum(t0 + c / rate for c in stt.current["flops"]) if rate else None
            frac = min(el / est_s_per_run, 0.99) if est_s_per_run else 0.0
            st.progress(frac, text=f"current stack ({len(stt.current)} models): width step {int(cur['width_step'])}, "
                        f"fraction {views.frac_label(cur['data_fraction'])}, {views.fmt_s(el)} elapsed"
                        + (f" of ~{views.fmt_s(est_s_per_run)}" if est_s_per_run else ""))
        started = st.session_state.get("sweep_started", {}).get(sweep_id, 0.0)
        if stt.active and stt.worker_pid is None and time.time() - started < 20:
            st.caption("starting the worker process…")  # it writes its pid once torch is imported
        elif stt.active and stt.worker_pid is None:
            st.warning("No worker is running for this database: the queue waits. Press *Resume* to start one.")
            if st.button("Resume", key=f"resume_{sweep_id}"):
                views.start_worker(s)
                st.session_state.setdefault("sweep_started", {})[sweep_id] = time.time()
        if stt.active and st.button("Cancel the queued runs", key=f"cancel_{sweep_id}", icon=":material/cancel:"):
            n = s.cancel(s.sweep_run_ids(sweep_id))
            st.toast(f"cancelled {n} queued runs; the stack being trained finishes")
        # rerun the whole page when new results landed, so charts and tables include them
        seen_key = f"seen_{sweep_id}"
        if st.session_state.get(seen_key) != stt.done:
            first = seen_key not in st.session_state
            st.session_state[seen_key] = stt.done
            if not first:
                st.rerun(scope="app")
        if not stt.active:
            failed = f", {stt.failed} failed (see Runs, status 'failed')" if stt.failed else ""
            if stt.cancelled:
                st.info(f"Sweep stopped: {stt.done} of {stt.total} runs done, {stt.cancelled} cancelled{failed}. "
                        "Queue the same grid again to train the rest.", icon=":material/cancel:")
            else:
                st.success(f"Sweep finished: all {stt.done} runs done{failed}.", icon=":material/check_circle:")
            # shown once: the next rerun of the page drops the panel
            st.session_state.setdefault("finished_shown", set()).add(sweep_id)

    panel()


def running_sweeps(s: Store) -> list[tuple[str, str]]:
    """Sweeps started from this session plus any other still running (a reopened tab sees them)."""
    found = snapshot(s)[1]
    mine = st.session_state.get("my_sweeps", [])
    shown = st.session_state.get("finished_shown", set())
    ids = {sid for sid, _ in found}
    # a sweep of this session that has finished is shown once more (its final line), then dropped
    return found + [(sid, lab) for sid, lab in mine if sid not in ids and sid not in shown]


def remember_sweep(sweep_id: str, label: str) -> None:
    st.session_state.setdefault("sweep_started", {})[sweep_id] = time.time()
    st.session_state.setdefault("my_sweeps", [])
    st.session_state["my_sweeps"] = [(sweep_id, label)] + [x for x in st.session_state["my_sweeps"] if x[0] != sweep_id][:4]


def sweep_active(s: Store, sweep_id: str) -> bool:
    """Whether a sweep still has runs queued or running (from the cached snapshot: no query)."""
    return any(sid == sweep_id for sid, _ in snapshot(s)[1])
