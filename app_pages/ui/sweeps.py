"""Sweeps in flight: one fragment owns every sweep panel (progress, time left, Resume, Cancel), and
which sweeps to show.

Why a fragment in a fixed container: Streamlit places an element by its position on the page, and
keeps an element of the last run that this run has not (yet) redrawn, faded, until the run ends. A
panel that appeared or vanished at the top of a page would shift every element below it and leave
faded duplicates of them for the whole next run. So the container is emitted on every run, sweeps
or not; each panel always emits the same slots; and a finished sweep's last line is dropped by a
rerun of the fragment alone, which clears its own leftovers at once.
"""
from __future__ import annotations

import time

import streamlit as st

from scaling import services
from scaling.store import Store, StoreError

from .reads import device, guarded, snapshot, time_model

POLL_S = 2.0          # the panels refresh this often while a sweep is in flight
IDLE_POLL_S = 10.0    # and this often while none is (to notice one queued from another tab or the CLI)
FINISHED_SHOWN_S = 8.0  # a finished sweep's last line stays this long
REUSE_S = 1.0         # a page run this soon after a panel's last read shows that read (a slider moved mid-sweep)


def sweeps_section(s: Store, runs, heading: str = "") -> None:
    """Every sweep in flight, drawn by one fragment into a container that this page emits on every
    run at this place (see the module's note). The time model is refitted when runs land, not on every
    refresh."""
    if msg := st.session_state.pop("ann_toast", None):  # left by a sweep queued again, before its rerun
        st.toast(msg, icon=":material/replay:")
    active = bool(running_sweeps(s))
    # the device is asked for only with a sweep to time: its first look imports torch (seconds)
    model = time_model(s, runs, device().label) if active else None
    with st.container(key="sweeps"):
        st.fragment(_sweeps, run_every=POLL_S if active else IDLE_POLL_S)(s, model, heading)


def _sweeps(s: Store, model, heading: str) -> None:
    sweeps = running_sweeps(s)
    _watch(sweeps)
    if heading:
        st.subheader(heading)
        if not sweeps:
            st.caption("No sweep is running.")
    if sweeps and model is None:  # a sweep found by an idle refresh (queued from elsewhere): time it now
        model = time_model(s, snapshot(s).runs, device().label)
    for sid, label in sweeps:
        _panel(s, sid, label, model)


def _status(s: Store, sweep_id: str, label: str, model) -> services.SweepStatus:
    """services.sweep_status, or the one this session read under REUSE_S ago: the panel refreshes itself
    every POLL_S, and a slider moved meanwhile should not wait for the database (a file opened anew)."""
    recent = st.session_state.setdefault("sweep_recent", {})
    at, stt = recent.get(sweep_id, (None, None))
    if at is None or time.monotonic() - at >= REUSE_S:
        stt = services.sweep_status(s, sweep_id, label, model)
        recent[sweep_id] = (time.monotonic(), stt)
    return stt


def _panel(s: Store, sweep_id: str, label: str, model) -> None:
    """One sweep: the same five slots on every refresh (bar, stack, time left, worker, Cancel), so a
    line that comes and goes never moves another."""
    final = st.session_state.setdefault("sweep_final", {})
    try:  # a finished sweep is not asked about again: its refreshes (and the one that drops it) stay quick
        stt = final.get(sweep_id) or _status(s, sweep_id, label, model)
    except StoreError as e:
        st.error(f"Database error: {services.md_text(e)}")
        return
    with st.container(key=f"sweep_{sweep_id}"):
        bar, stack, eta, worker, cancel = (st.empty() for _ in range(5))
    total = max(stt.total, 1)
    # a label is anyone's words (the CLI's --label, another session's sweep): escaped
    bar.progress(stt.done / total, text=f"**Sweep** {services.md_text(label or sweep_id)}: {stt.done}/{stt.total} runs done"
                 + (f", {stt.running} training, {stt.queued} queued" if stt.active else "")
                 + (f", {stt.failed} failed" if stt.failed else ""))
    if line := stt.stack_line():
        stack.caption(line)
    if line := stt.eta_line():
        eta.caption(line, help=f"Estimated from {stt.basis}.")
    started = st.session_state.get("sweep_started", {}).get(sweep_id, 0.0)
    if stt.active and stt.worker_pid is None and time.time() - started < 20:
        worker.caption("starting the worker process…")  # it writes its pid once torch is imported
    elif stt.active and stt.worker_pid is None:
        with worker.container():
            st.warning("No worker is running for this database: the queue waits. Press *Resume* to start one.")
            if st.button("Resume", key=f"resume_{sweep_id}"):
                services.start_worker(s)
                st.session_state.setdefault("sweep_started", {})[sweep_id] = time.time()
    # drawn to the end, disabled once nothing waits: a keyed button that vanishes in a page rerun
    # stays on the page, faded, until the run ends
    if cancel.button("Cancel the queued runs", key=f"cancel_{sweep_id}", icon=":material/cancel:",
                     disabled=not stt.active) and stt.active:
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
        final[sweep_id] = stt
        failed = f", {stt.failed} failed (see Runs, status 'failed')" if stt.failed else ""
        if stt.cancelled:
            stack.info(f"Sweep stopped: {stt.done} of {stt.total} runs done, {stt.cancelled} cancelled{failed}.",
                       icon=":material/cancel:")
        else:
            stack.success(f"Sweep finished: all {stt.done} runs done{failed}.", icon=":material/check_circle:")
        left = stt.cancelled + stt.failed
        # a sweep with runs left stays until queued again or dismissed; a complete one goes after a few
        # seconds, by a refresh of this fragment (not of the page)
        if left:  # dropped by the rerun the click makes (of the fragment alone, in a browser)
            worker.button("Dismiss", key=f"dismiss_{sweep_id}", icon=":material/close:", on_click=_dismiss, args=(sweep_id,))
        if left and cancel.button(f"Queue the same grid again ({left} run{'s' * (left != 1)} to train)",
                                  key=f"again_{sweep_id}", icon=":material/replay:", type="primary"):
            st.session_state.setdefault("finished_shown", set()).add(sweep_id)
            requeue(s, sweep_id)
        ended = st.session_state.setdefault("sweep_ended", {}).setdefault(sweep_id, time.time())
        if not left and time.time() - ended > FINISHED_SHOWN_S:
            st.session_state.setdefault("finished_shown", set()).add(sweep_id)


def _dismiss(sweep_id: str) -> None:
    st.session_state.setdefault("finished_shown", set()).add(sweep_id)


def requeue(s: Store, sweep_id: str) -> None:
    """Queue a sweep's grid again (what it lacks is trained) and follow it in a panel of its own."""
    try:
        sid, n_cached, n_new, label = guarded(services.requeue_sweep, s, sweep_id, device().device)
    except ValueError as e:
        st.error(services.md_text(e))
        return
    remember_sweep(sid, label)
    st.session_state["ann_toast"] = f"queued {n_new} run{'s' * (n_new != 1)} ({n_cached} cached)"
    st.rerun(scope="app")


def running_sweeps(s: Store) -> list[tuple[str, str]]:
    """Sweeps still running (a reopened tab sees them, and so do sweeps queued from the CLI) plus
    those this session has shown, until their last line has been shown: a panel ends in its own
    fragment, never by vanishing in a page rerun. One panel per sweep: a grid cancelled and queued
    again is listed once, by the store under the newer sweep, and its older sweep (same label) is not."""
    found = snapshot(s).sweeps
    mine = st.session_state.get("my_sweeps", [])
    shown = st.session_state.get("finished_shown", set())
    ids, labels = {sid for sid, _ in found}, {lab for _, lab in found}
    return found + [(sid, lab) for sid, lab in mine if sid not in ids and sid not in shown and lab not in labels]


def _watch(sweeps: list[tuple[str, str]]) -> None:
    """Keep the sweeps shown now in this session's list, so that each ends in its panel."""
    mine = st.session_state.setdefault("my_sweeps", [])
    known = {sid for sid, _ in mine}
    mine += [x for x in sweeps if x[0] not in known]
    del mine[:-8]  # the newest few: an old session does not carry every sweep it ever saw


def remember_sweep(sweep_id: str, label: str) -> None:
    st.session_state.setdefault("sweep_started", {})[sweep_id] = time.time()
    st.session_state["my_sweeps"] = [x for x in st.session_state.get("my_sweeps", []) if x[0] != sweep_id][-7:] + [(sweep_id, label)]


def sweep_active(s: Store, sweep_id: str) -> bool:
    """Whether a sweep still has runs queued or running (from the cached snapshot: no query)."""
    return any(sid == sweep_id for sid, _ in snapshot(s).sweeps)


def training_now(s: Store) -> bool:
    """Whether a sweep shown on this page still has runs queued or training."""
    return any(sweep_active(s, sid) for sid, _ in running_sweeps(s))


def intervals_wait(training: bool) -> bool:
    """Whether a page's bootstrap waits for the training in progress (services.bootstrap_waits). The
    device is asked for only while training: its first look imports torch."""
    return training and services.bootstrap_waits(device().device)
