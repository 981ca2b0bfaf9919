"""Scaling Lab: `streamlit run streamlit_app.py`. Navigation, the optional password gate and the
shared sidebar; the pages live in pages/ and every number comes from scaling/."""
from pathlib import Path

import streamlit as st

from scaling import access

# a file, not a Material icon: the browser would fetch that favicon from the internet (offline, none)
st.set_page_config(page_title="Scaling Lab", page_icon=str(Path(__file__).parent / "docs" / "favicon.png"),
                   layout="wide")

pages = [
    st.Page("pages/explore.py", title="Explore", icon=":material/ssid_chart:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/table:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("pages/fit_lab.py", title="Fit lab", icon=":material/functions:"),
]


def _secrets() -> dict:
    try:  # no secrets.toml is the normal case
        return dict(st.secrets)
    except Exception:
        return {}


# A shared host may set a password ($SCALING_PASSWORD or `password` in .streamlit/secrets.toml);
# nothing of the app is drawn before it is given, not even the list of pages.
expected = access.expected_password(_secrets())
if expected and not st.session_state.get("authenticated"):
    st.navigation(pages, position="hidden")
    st.title("Scaling Lab")
    with st.form("login"):
        given = st.text_input("Password", type="password")
        if st.form_submit_button("Enter"):
            if access.password_ok(given, expected):
                st.session_state["authenticated"] = True
                st.rerun()
            st.error("Wrong password.")
    st.stop()

page = st.navigation(pages)
st.sidebar.caption("Scaling Lab: small CNNs on MNIST, one epoch each; every run is cached in DuckDB, "
                   "so nothing is trained twice. N = parameters, D = examples seen, C = 3 × forward FLOPs × D.")
st.session_state["_via_app"] = True  # the page checks it: see pages/ui/routing.py
page.run()
