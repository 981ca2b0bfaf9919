"""The optional shared password of a hosted app: where it comes from, how it is checked, and the
signed token that keeps a login across reloads of one browser."""
from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

from scaling.core import settings

ENV = settings.PASSWORD
COOKIE = "scaling_lab_login"  # the browser cookie that holds a login token
LOGIN_TTL = 12 * 3600  # seconds a login lasts in one browser: a working day


def expected_password(secrets: Mapping | None = None) -> str | None:
    """The password set for this host: $SCALING_PASSWORD, else `password` in Streamlit's secrets.toml.
    None means the app is open to whoever can reach its address (localhost by default)."""
    value = settings.password() or (secrets or {}).get("password")
    return str(value) if value else None


def password_ok(given: str | None, expected: str) -> bool:
    """Constant-time comparison, so response timing does not leak how much of a guess was right."""
    return hmac.compare_digest((given or "").encode(), expected.encode())


def _signature(expires: int, password: str, server_secret: str) -> bytes:
    """HMAC of the expiry time under a key derived from the password and the server's secret: a
    changed password (or secret) invalidates every token signed before, and neither can be read
    back from a token."""
    key = hmac.new(server_secret.encode(), b"scaling-lab login\0" + password.encode(), hashlib.sha256).digest()
    return hmac.new(key, str(expires).encode(), hashlib.sha256).hexdigest().encode()


def login_token(password: str, server_secret: str, now: float | None = None, ttl: int = LOGIN_TTL) -> str:
    """A token that proves a login until `now + ttl`: "<expiry, unix seconds>.<hex signature>".
    It holds no part of the password, and only digits, a dot and hex (safe in a cookie)."""
    expires = int((time.time() if now is None else now) + ttl)
    return f"{expires}.{_signature(expires, password, server_secret).decode()}"


def token_ok(token: str | None, password: str, server_secret: str, now: float | None = None,
             ttl: int = LOGIN_TTL) -> bool:
    """Whether `token` (a cookie's value: anything a browser sends) is a login_token for this password
    and secret that has not expired. An expiry further ahead than `ttl` is refused too."""
    if not isinstance(token, str):  # no cookie (None), or not a browser's cookie at all
        return False
    expires, _, signature = token.partition(".")
    if not (expires.isascii() and expires.isdigit() and len(expires) < 16 and signature.isascii()):
        return False
    now = time.time() if now is None else now
    if not now < int(expires) <= now + ttl:
        return False
    # constant time, like the password: the timing does not say how much of a forgery was right
    return hmac.compare_digest(signature.encode(), _signature(int(expires), password, server_secret))
