"""The optional shared password of a hosted app: where it comes from and how it is checked."""
from __future__ import annotations

import hmac
import os
from collections.abc import Mapping

ENV = "SCALING_PASSWORD"


def expected_password(secrets: Mapping | None = None) -> str | None:
    """The password set for this host: $SCALING_PASSWORD, else `password` in Streamlit's secrets.toml.
    None means the app is open to whoever can reach its address (localhost by default)."""
    value = os.environ.get(ENV) or (secrets or {}).get("password")
    return str(value) if value else None


def password_ok(given: str | None, expected: str) -> bool:
    """Constant-time comparison, so response timing does not leak how much of a guess was right."""
    return hmac.compare_digest((given or "").encode(), expected.encode())
