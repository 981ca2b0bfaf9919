"""The optional password gate: nothing of the app is drawn before the password, and a login is kept in a cookie."""
from __future__ import annotations

import streamlit as st

from scaling.services import access


def require_login(pages: list) -> None:
    """Stop this run at a password form unless this session, or a cookie of this browser, holds a
    login. The password is $SCALING_PASSWORD or `password` in .streamlit/secrets.toml; none set, the
    app is open. The pages are registered hidden, so not even their list shows before the password."""
    expected = access.expected_password(_secrets())
    if not expected or st.session_state.get("authenticated"):
        return
    if access.token_ok(st.context.cookies.get(access.COOKIE), expected, _server_secret()):
        st.session_state["authenticated"] = True
        return
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


def remember_login() -> None:
    """Keep this session's login for its browser, in a signed, expiring cookie: session_state is per
    websocket, and a reload opens a new one. Call on every run, not once: the sidebar's elements keep
    their places, and a run cut short by a click cannot lose the cookie."""
    token = st.session_state.get("_login_token")
    if not token:
        return
    # Python cannot set a cookie in Streamlit; a script in the page can (st.html runs it in the page,
    # not in an iframe). The token is digits, a dot and hex (access.login_token): safe inside the string.
    secure = "(location.protocol === 'https:' ? '; Secure' : '')"
    st.sidebar.html(f"<script>document.cookie = '{access.COOKIE}={token}; Max-Age={access.LOGIN_TTL}; "
                    f"Path=/; SameSite=Strict' + {secure};</script>", unsafe_allow_javascript=True)


def _secrets() -> dict:
    try:  # no secrets.toml is the normal case
        return dict(st.secrets)
    except Exception:
        return {}


def _server_secret() -> str:
    # Streamlit's own cookie-signing secret: random per server process unless the host pins
    # server.cookieSecret, so a restart of the app asks everyone for the password again
    return st.get_option("server.cookieSecret")
