"""Every page runs inside streamlit_app.py (navigation, password gate, sidebar), never alone."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

APP = Path(__file__).resolve().parents[2] / "streamlit_app.py"


def through_app() -> None:
    """Call first in every page: make sure the page runs inside streamlit_app.py (its navigation,
    password gate and sidebar), never alone: a page script must never run without the gate.

    streamlit_app.py marks each run it hands to a page; a page run without the mark runs the app
    instead, which picks the same page by its URL (query parameters kept)."""
    if st.session_state.pop("_via_app", False):
        return
    import runpy

    runpy.run_path(str(APP), run_name="__main__")
    st.stop()
