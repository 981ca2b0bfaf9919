"""Process-wide settings of the app's server: the heap frozen out of the garbage collector's sight."""
from __future__ import annotations

import gc
import sys

import streamlit as st


def freeze_heap() -> None:
    """Call after each page run. Streamlit collects every generation after each script run, and a
    full collection walks the whole heap (torch, scipy and Altair's objects included), which lives
    as long as the process anyway: freeze it once per set of loaded modules."""
    _freeze(len(sys.modules))


@st.cache_resource(show_spinner=False)
def _freeze(n_modules: int) -> None:
    gc.collect()
    gc.freeze()
