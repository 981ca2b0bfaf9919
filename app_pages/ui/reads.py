"""The store and the device, guarded and cached: reads cost nothing while the file is unchanged."""
from __future__ import annotations

import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from scaling import services
from scaling.core import settings
from scaling.datasets import DataError
from scaling.store import DEFAULT_DB, Store, StoreError


@st.cache_resource(max_entries=8, show_spinner=False)
def _store(path: str) -> Store:
    # one Store per file: it holds no connection, only whether the schema was checked, which
    # spares a query on every rerun
    return Store(path)


def store() -> Store:
    """The database, or a visible error and a stopped page (the app itself stays up); outside a
    page run, the StoreError."""
    try:
        return _store(settings.db() or str(DEFAULT_DB))
    except StoreError as e:
        if get_script_run_ctx() is None:  # no page to say it on (the server's start): it goes on
            raise
        st.error(f"The run database cannot be used: {services.md_text(e)}")  # an error can quote a file's words
        st.stop()


def guarded(fn, *args, **kw):
    """Call a store/fit function; a database or data-set error becomes an st.error and stops this
    page run (the app stays up). Outside a page run the error is raised."""
    try:
        return fn(*args, **kw)
    except (StoreError, DataError) as e:
        if get_script_run_ctx() is None:  # no page to say it on (the server's start): it goes on
            raise
        st.error(f"{'Database' if isinstance(e, StoreError) else 'Data set'} error: {services.md_text(e)}")
        st.stop()


@st.cache_resource(max_entries=4, show_spinner=False)
def _snapshot(path: str, signature: tuple):
    return Store(path).snapshot()


def snapshot(s: Store):
    # keyed by the file's (mtime, size): no connection at all while nothing was written, and the
    # next rerun after a worker commits reads the new runs
    return guarded(_snapshot, str(s.path), s.signature())


def load_runs(s: Store) -> pd.DataFrame:
    """Every cached run (all statuses). Shared and cached: never mutate it."""
    return snapshot(s).runs


def load_curves(s: Store) -> pd.DataFrame:
    """Every run's curve, read with the runs. Shared and cached: never mutate it."""
    return snapshot(s).curves


def time_model(s: Store, runs: pd.DataFrame, device_label: str):
    """services.time_model, refitted when runs land (the sweep panels and every plan a page draws ask)."""
    return _time_model(str(s.path), services.data_version(runs), device_label, runs)


@st.cache_resource(max_entries=8, show_spinner=False)
def _time_model(path: str, version: tuple, device_label: str, _runs):
    return services.time_model(_runs, device_label)


@st.cache_resource(show_spinner=False)
def device():
    return services.device_info()
