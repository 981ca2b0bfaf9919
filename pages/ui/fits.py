"""Fits cached per database, data version and selection.

cache_resource, not cache_data: the results are frozen dataclasses never mutated, and a hit then
costs nothing (cache_data would unpickle a copy every rerun). The DataFrames ride along unhashed
(leading underscore).
"""
from __future__ import annotations

import os

import streamlit as st

from scaling import views
from scaling.store import Store

# Bootstrap resamples on the pages (~2-3 s for a few hundred runs on 2 cores). 0 switches the
# intervals off (benchmarks/bench_app.py times the point estimates alone that way).
BOOT = int(os.environ.get("SCALING_APP_BOOT", "100"))


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
def _points(path: str, version: tuple, sel: views.Selection, _runs, _curves):
    try:
        return views.point_estimates(_runs, _curves, sel)
    except views.SelectionError as e:
        return e


def point_estimates(s: Store, version, sel, runs, curves):
    """Explore's first draw: seed means, frontier, the loss law and one N_opt estimator."""
    return _points(str(s.path), version, sel, runs, curves)
