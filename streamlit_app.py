"""Scaling Lab: `streamlit run streamlit_app.py`. Navigation, the optional password gate and the
shared sidebar; the pages live in app_pages/ and every number comes from scaling/.

The folder is not named pages/ on purpose: Streamlit runs an app with a pages/ folder in its legacy
multipage mode until st.navigation first runs, so a direct link to a freshly started server showed
every file of that folder (and no password gate) for the first seconds."""
import gc
import sys
from pathlib import Path

import streamlit as st

from scaling.services import access

# a file, not a Material icon: the browser would fetch that favicon from the internet (offline, none)
st.set_page_config(page_title="Scaling Lab", page_icon=str(Path(__file__).parent / "docs" / "favicon.png"),
                   layout="wide")

pages = [
    st.Page("app_pages/explore.py", title="Explore", icon=":material/ssid_chart:", default=True),
    st.Page("app_pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("app_pages/runs.py", title="Runs", icon=":material/table:"),
    st.Page("app_pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("app_pages/fit_lab.py", title="Fit lab", icon=":material/functions:"),
    st.Page("app_pages/studies.py", title="Studies", icon=":material/science:"),
]


def _secrets() -> dict:
    try:  # no secrets.toml is the normal case
        return dict(st.secrets)
    except Exception:
        return {}


def _server_secret() -> str:
    # Streamlit's own cookie-signing secret: random per server process unless the host pins
    # server.cookieSecret, so a restart of the app asks everyone for the password again.
    return st.get_option("server.cookieSecret")


def _remember_login(token: str) -> None:
    """Keep a login for this browser: Python cannot set a cookie in Streamlit, a script in the page
    can (st.html runs it in the page itself, not in an iframe). The token is digits, a dot and hex
    (access.login_token), so it is safe inside the string."""
    secure = "(location.protocol === 'https:' ? '; Secure' : '')"
    st.sidebar.html(f"<script>document.cookie = '{access.COOKIE}={token}; Max-Age={access.LOGIN_TTL}; "
                    f"Path=/; SameSite=Strict' + {secure};</script>", unsafe_allow_javascript=True)


# A shared host may set a password ($SCALING_PASSWORD or `password` in .streamlit/secrets.toml);
# nothing of the app is drawn before it is given, not even the list of pages. A login is kept in a
# signed, expiring cookie, so a reload of the same browser does not ask again (session_state is
# per websocket, and a reload opens a new one).
expected = access.expected_password(_secrets())
if expected and not st.session_state.get("authenticated"):
    if access.token_ok(st.context.cookies.get(access.COOKIE), expected, _server_secret()):
        st.session_state["authenticated"] = True
    else:
        st.navigation(pages, position="hidden")
        st.title("Scaling Lab")
        with st.form("login"):
            given = st.text_input("Password", type="password")
            if st.form_submit_button("Enter"):
                if access.password_ok(given, expected):
                    st.session_state["authenticated"] = True
                    st.session_state["_login_token"] = access.login_token(expected, _server_secret())
                    st.rerun()
                st.error("Wrong password.")
        st.stop()

page = st.navigation(pages)
st.sidebar.caption("Scaling Lab: small CNNs on MNIST, one epoch each; every run is cached in DuckDB, "
                   "so nothing is trained twice. N = parameters, D = examples seen, C = 3 × forward FLOPs × D.")
# Drawn on every run of the session that gave the password, not once: the sidebar's elements keep
# their places, and a run cut short by a click cannot lose the cookie.
if token := st.session_state.get("_login_token"):
    _remember_login(token)
st.session_state["_via_app"] = True  # the page checks it: see app_pages/ui/routing.py


@st.cache_resource(show_spinner=False)
def _freeze_heap(n_modules: int) -> None:
    """Move every object alive now out of the garbage collector's sight, once per set of loaded
    modules. Streamlit collects all generations after each script run (runner.postScriptGC), and a
    full collection walks the whole heap: ~300k objects once torch, scipy and Altair are loaded,
    180 ms a time on a 2-core EPYC. The modules' objects live as long as the process anyway."""
    gc.collect()
    gc.freeze()


try:
    page.run()
finally:
    _freeze_heap(len(sys.modules))
