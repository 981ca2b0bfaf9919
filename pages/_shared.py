"""Streamlit glue shared by the pages: the store, cached reads and fits, the selection widgets
(kept in the URL), and the sweep-progress panel. The numbers come from scaling/; this file only
caches them and draws widgets."""
from __future__ import annotations

import math
import os
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import streamlit as st

from scaling import charts, views
from scaling.data import DataError
from scaling.model import width
from scaling.store import DEFAULT_DB, Store, StoreError

# Bootstrap resamples on the pages (~2-3 s for a few hundred runs on 2 cores). 0 switches the
# intervals off (benchmarks/bench_app.py times the point estimates alone that way).
BOOT = int(os.environ.get("SCALING_APP_BOOT", "100"))


# ---------------------------------------------------------------- run through the app


APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"


def through_app() -> None:
    """Call first in every page: make sure the page runs inside streamlit_app.py (its navigation,
    password gate and sidebar), never alone.

    Why: a directory named pages/ puts a freshly started Streamlit server in its legacy multipage
    mode until the first session runs st.navigation. Until then a direct link (a shared Compare
    URL, a bookmark) ran the page script by itself: no password gate, a narrow layout and a
    sidebar listing every file of pages/. streamlit_app.py marks each run it hands to a page; a
    page run without the mark runs the app instead, which picks the same page by its URL (query
    parameters kept) and switches the server out of the legacy mode for good."""
    if st.session_state.pop("_via_app", False):
        return
    import runpy

    runpy.run_path(str(APP), run_name="__main__")
    st.stop()


# ---------------------------------------------------------------- the store, guarded


@st.cache_resource(max_entries=8, show_spinner=False)
def _store(path: str) -> Store:
    # one Store per file: it holds no connection, only whether the schema was checked, which
    # spares a query on every rerun
    return Store(path)


def store() -> Store:
    """The database, or a visible error and a stopped page (the app itself stays up)."""
    try:
        return _store(os.environ.get("SCALING_DB") or str(DEFAULT_DB))
    except StoreError as e:
        st.error(f"The run database cannot be used: {e}")
        st.stop()


def guarded(fn, *args, **kw):
    """Call a store/fit function; a database or data-set error becomes an st.error and stops this
    page run (the app stays up)."""
    try:
        return fn(*args, **kw)
    except StoreError as e:
        st.error(f"Database error: {e}")
        st.stop()
    except DataError as e:
        st.error(f"Data set error: {e}")
        st.stop()


@st.cache_resource(max_entries=4, show_spinner=False)
def _snapshot(path: str, signature: tuple):
    return views.snapshot(Store(path))


def _snap(s: Store):
    # keyed by the file's (mtime, size): no connection at all while nothing was written, and the
    # next rerun after a worker commits reads the new runs
    return guarded(_snapshot, str(s.path), views.db_signature(s))


def load_runs(s: Store) -> pd.DataFrame:
    """Every cached run (all statuses). Shared and cached: never mutate it."""
    return _snap(s)[0]


@st.cache_resource(max_entries=4, show_spinner=False)
def _curves(path: str, version: tuple) -> pd.DataFrame:
    return Store(path).curves()


def load_curves(s: Store, version: tuple) -> pd.DataFrame:
    return guarded(_curves, str(s.path), version)


# ---------------------------------------------------------------- cached fits
# cache_resource, not cache_data: the results are frozen dataclasses never mutated, and a hit
# then costs nothing (cache_data would unpickle a copy every rerun). Keyed by the database, its
# data version and the selection; the DataFrames ride along unhashed (leading underscore).


@st.cache_resource(max_entries=64, show_spinner=False)
def _analysis(path: str, version: tuple, sel: views.Selection, n_boot: int, _runs, _curves):
    try:
        return views.analysis(_runs, _curves, sel, n_boot=n_boot)
    except views.SelectionError as e:
        return e


def analysis(s: Store, version, sel, runs, curves, n_boot: int = 0):
    """fit.analyze for a selection, or a SelectionError explaining why there is nothing to fit."""
    return _analysis(str(s.path), version, sel, n_boot, runs, curves)


@st.cache_resource(max_entries=64, show_spinner=False)
def _band(path: str, version: tuple, sel: views.Selection, _law, _frontier):
    return views.law_band(_law, _frontier, n_boot=BOOT * 2)


def band(s: Store, version, sel, law, frontier):
    return _band(str(s.path), version, sel, law, frontier)


@st.cache_resource(show_spinner=False)
def device():
    return views.device_info()


# ---------------------------------------------------------------- the selection, in the URL


def selection_controls(runs: pd.DataFrame, page: str, prefix: str = "", default: views.Selection | None = None,
                       container=None) -> views.Selection:
    """Widgets for a selection. On entering the page they take their values from the URL, else
    from this session's last selection, else defaults; afterwards the URL follows the widgets, so
    a copied link reopens the same view.

    Widget keys carry a generation (bumped on entering the page) and a fingerprint of the cached
    choices: a widget is created afresh, from the canonical selection, whenever either changes,
    and its value is only ever read from its return value (reading a widget's key before it is
    drawn in a run can give a stale, half-deserialised value)."""
    ss = st.session_state
    c = container or st.sidebar
    saved_key, gen_key, page_key = f"{prefix}selection", f"{prefix}gen", f"{prefix}page"
    if ss.get(page_key) != page or gen_key not in ss:
        url = st.query_params.to_dict()
        sel, notes = views.parse_params(url, ss.get(saved_key, default or views.Selection()), prefix)
        sel, more = views.fit_to_options(sel, views.options(runs, sel.dataset))
        if any(k.startswith(prefix) and k[len(prefix):] in views.PARAM_KEYS for k in url):
            notes += more  # the link asked for something not cached: say so
        ss[saved_key], ss[f"{prefix}url_notes"] = sel, notes
        ss[gen_key] = ss.get(gen_key, 0) + 1
        ss[page_key] = page
    for n in ss.get(f"{prefix}url_notes", []):
        c.warning(f"Link parameter {n}; using the default instead.", icon=":material/link_off:")
    base, g = ss[saved_key], ss[gen_key]

    all_opts = views.options(runs)
    ds = c.selectbox("Dataset", all_opts.datasets, index=_index(all_opts.datasets, base.dataset), key=f"{prefix}ds{g}")
    opts = views.options(runs, ds)
    prev = ss.get(f"{prefix}opts")
    if prev is not None and prev[0] == ds and prev[1] != opts:
        base = views.follow_growth(base, prev[1], opts)  # a full range stays full as runs land
    ss[f"{prefix}opts"] = (ds, opts)
    base, _ = views.fit_to_options(replace(base, dataset=ds), opts)
    k = f"{g}_{abs(hash(opts)) % 10**8}"  # new widgets when the cached choices change
    dropout = c.selectbox("Dropout", opts.dropouts, index=_index(opts.dropouts, base.dropout),
                          key=f"{prefix}dropout{k}", format_func=lambda d: f"{d:g}", help="the dropout values in the cache")
    widths = base.widths
    if len(opts.width_steps) > 1:
        widths = c.select_slider("Width steps", opts.width_steps, value=base.widths, key=f"{prefix}widths{k}",
                                 format_func=lambda s: f"{s} (w={width(s)})",
                                 help="width = round(4·√2^step): each step roughly doubles forward compute")
    fracs = base.fractions
    if len(opts.fractions) > 1:
        fracs = c.select_slider("Data fractions", opts.fractions, value=base.fractions, key=f"{prefix}fractions{k}",
                                format_func=views.frac_label,
                                help="fraction of the 60,000 training images, one epoch")
    seeds = c.multiselect("Seeds", opts.seeds, default=list(base.seeds), key=f"{prefix}seeds{k}",
                          placeholder="every cached seed", help="seeds are averaged per configuration; empty = all")
    lr_opts = [views.LR_TUNED, *opts.lr_mults]
    lr = c.selectbox("Learning-rate multiplier", lr_opts, index=_index(lr_opts, base.lr), key=f"{prefix}lr{k}",
                     format_func=lambda v: "tuned per size (best cached)" if v == views.LR_TUNED else f"×{v:g}")
    forms, ests = list(views.FORMS), list(views.ESTIMATORS)
    form = c.radio("Fit form", forms, index=forms.index(base.form), key=f"{prefix}form{g}", format_func=views.FORMS.get)
    est = c.selectbox("N_opt estimator", ests, index=ests.index(base.estimator), key=f"{prefix}estimator{g}",
                      format_func=views.ESTIMATORS.get)
    sel = views.Selection(dataset=ds, dropout=float(dropout), widths=tuple(int(x) for x in _pair(widths)),
                          fractions=tuple(float(x) for x in _pair(fracs)), seeds=tuple(sorted(seeds)), lr=lr,
                          form=form, estimator=est)
    ss[saved_key] = sel
    return sel


def set_estimator(estimator: str, prefix: str = "") -> None:
    """A button callback: switch the page's N_opt estimator (the widgets are created afresh)."""
    ss = st.session_state
    if f"{prefix}selection" in ss:
        ss[f"{prefix}selection"] = replace(ss[f"{prefix}selection"], estimator=estimator)
        ss[f"{prefix}gen"] = ss.get(f"{prefix}gen", 0) + 1


def _index(options, value) -> int:
    for i, o in enumerate(options):
        if o == value or (isinstance(o, float) and isinstance(value, float) and math.isclose(o, value)):
            return i
    return 0


def _pair(v):
    """A range widget's value as (lo, hi): a single value (one cached option) is (v, v)."""
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def write_url(*sels_with_prefix) -> None:
    """Put the view state into the URL (only when it changed: every write is a browser history entry)."""
    params = {}
    for sel, prefix in sels_with_prefix:
        params.update(sel.to_params(prefix))
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)


# ---------------------------------------------------------------- cards


def exponent_card(col, label: str, value: float, iv, n_runs: int, help: str = "") -> None:
    if value is None or not math.isfinite(value):
        col.metric(label, "—", help=help)
        col.caption("cannot be estimated from this selection")
        return
    col.metric(label, f"{value:.3f}", help=help)
    if iv is None:
        col.caption(f"95% interval: computing… · {n_runs} runs")
    elif math.isfinite(iv.lo):
        col.caption(f"95% interval [{iv.lo:.3f}, {iv.hi:.3f}] · {n_runs} runs · {iv.n_boot} resamples")
        if not iv.lo <= value <= iv.hi:
            # a percentile interval that misses its own estimate: resampled seed means move the
            # frontier (a minimum, so biased under resampling); say so rather than look wrong
            col.caption(":orange[The estimate lies outside its interval: the frontier shifts when seeds are "
                        "resampled, so this exponent is fragile. More seeds per configuration steady it.]")
    else:
        col.caption(f"95% interval: no resample could be fitted · {n_runs} runs")


def download(col, label: str, df: pd.DataFrame, name: str) -> None:
    """A CSV download, written only when clicked (a callable: no cost on every rerun)."""
    col.download_button(label, lambda: df.to_csv(index=False).encode(), file_name=name, mime="text/csv",
                        on_click="ignore", icon=":material/download:")


# ---------------------------------------------------------------- sweeps in flight


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
    found = _snap(s)[1]
    mine = st.session_state.get("my_sweeps", [])
    shown = st.session_state.get("finished_shown", set())
    ids = {sid for sid, _ in found}
    # a sweep of this session that has finished is shown once more (its final line), then dropped
    return found + [(sid, lab) for sid, lab in mine if sid not in ids and sid not in shown]


def remember_sweep(sweep_id: str, label: str) -> None:
    st.session_state.setdefault("sweep_started", {})[sweep_id] = time.time()
    st.session_state.setdefault("my_sweeps", [])
    st.session_state["my_sweeps"] = [(sweep_id, label)] + [x for x in st.session_state["my_sweeps"] if x[0] != sweep_id][:4]


def chart(slot, c) -> None:
    """Draw an Altair chart from its unvalidated spec (see scaling.charts.spec). The chart's
    toolbar (on hover) saves it as PNG and shows its data."""
    slot.vega_lite_chart(c.spec(), width="stretch")


@st.cache_resource(max_entries=64, show_spinner=False)
def _points(path: str, version: tuple, sel: views.Selection, _runs, _curves):
    try:
        return views.point_estimates(_runs, _curves, sel)
    except views.SelectionError as e:
        return e


def point_estimates(s: Store, version, sel, runs, curves):
    """Explore's first draw: seed means, frontier, the loss law and one N_opt estimator."""
    return _points(str(s.path), version, sel, runs, curves)


def sweep_active(s: Store, sweep_id: str) -> bool:
    """Whether a sweep still has runs queued or running (from the cached snapshot: no query)."""
    return any(sid == sweep_id for sid, _ in _snap(s)[1])
