"""Scaling Lab: `streamlit run streamlit_app.py`. The navigation over app_pages/, behind the optional
password gate; every number comes from scaling/.

The folder is not named pages/: an app with a pages/ folder starts in Streamlit's legacy multipage
mode, which runs a linked page script alone, without the gate."""
from pathlib import Path

import streamlit as st

from app_pages.ui import gate, runtime

if __name__ != "__main__":  # `streamlit run` imports this file to find its server, st.App; a page run is __main__
    from starlette.middleware import Middleware

    app = st.App(__file__, lifespan=runtime.lifespan, middleware=[Middleware(runtime.Visits)])
else:
    # a file, not a Material icon: the browser would fetch that favicon from the internet
    st.set_page_config(page_title="Scaling Lab", page_icon=str(Path(__file__).parent / "docs" / "favicon.png"),
                       layout="wide")

    pages = [
        st.Page("app_pages/explore.py", title="Explore", icon=":material/ssid_chart:", default=True),
        st.Page("app_pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("app_pages/runs.py", title="Runs", icon=":material/table:"),
        st.Page("app_pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
        st.Page("app_pages/fit_lab.py", title="Fit lab", icon=":material/functions:"),
        st.Page("app_pages/studies.py", title="Studies", icon=":material/science:"),
        st.Page("app_pages/curves.py", title="Your curves", icon=":material/show_chart:"),
    ]
    gate.require_login(pages)  # stops here, at a password form, until the password is given

    page = st.navigation(pages)
    st.sidebar.caption("Scaling Lab: small CNNs on MNIST, one epoch each; every run is cached in DuckDB, "
                       "so nothing is trained twice. N = parameters, D = examples seen, C = 3 × forward FLOPs × D.")
    gate.remember_login()
    st.session_state["_via_app"] = True  # the page checks it: see app_pages/ui/routing.py
    try:
        page.run()
    finally:
        runtime.freeze_heap()
