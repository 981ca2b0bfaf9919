from scaling.services.access import LOGIN_TTL, expected_password, login_token, password_ok, token_ok


def test_password_from_env_then_secrets(monkeypatch):
    monkeypatch.delenv("SCALING_PASSWORD", raising=False)
    assert expected_password({}) is None and expected_password(None) is None
    assert expected_password({"password": "s3cret"}) == "s3cret"
    monkeypatch.setenv("SCALING_PASSWORD", "from-env")
    assert expected_password({"password": "s3cret"}) == "from-env"


def test_password_check():
    assert password_ok("s3cret", "s3cret")
    assert not password_ok("s3cre", "s3cret") and not password_ok("", "s3cret") and not password_ok(None, "s3cret")
    assert password_ok("pässwörd", "pässwörd")


NOW = 1_800_000_000.0


def test_a_login_token_is_accepted_until_it_expires():
    token = login_token("s3cret", "server-secret", now=NOW)
    assert token_ok(token, "s3cret", "server-secret", now=NOW)
    assert token_ok(token, "s3cret", "server-secret", now=NOW + LOGIN_TTL - 1)
    assert not token_ok(token, "s3cret", "server-secret", now=NOW + LOGIN_TTL)  # expired
    assert not token_ok(token, "s3cret", "server-secret", now=NOW - 10)  # further ahead than a login lasts


def test_a_token_holds_no_password_and_is_cookie_safe():
    token = login_token("pässwörd;=", "server-secret", now=NOW)
    assert "pässwörd" not in token and "s3cret" not in login_token("s3cret", "x", now=NOW)
    expires, dot, signature = token.partition(".")
    assert expires == str(int(NOW + LOGIN_TTL)) and dot and len(signature) == 64
    assert set(signature) <= set("0123456789abcdef")
    assert token_ok(token, "pässwörd;=", "server-secret", now=NOW)


def test_a_changed_password_or_server_secret_invalidates_old_tokens():
    token = login_token("s3cret", "server-secret", now=NOW)
    assert not token_ok(token, "n3w", "server-secret", now=NOW)
    assert not token_ok(token, "s3cret", "another-secret", now=NOW)  # another server, or a restart


def test_forged_and_malformed_tokens_are_refused():
    token = login_token("s3cret", "server-secret", now=NOW)
    expires, _, signature = token.partition(".")
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    later = str(int(expires) + 3600)
    forged = [
        f"{expires}.{flipped}",  # one hex digit changed
        f"{later}.{signature}",  # a later expiry under the old signature
        f"{expires}.",  # no signature
        f".{signature}",  # no expiry
        f"{expires}.{signature}x",
        f"-{expires}.{signature}",
        f"{expires}.{signature.upper()}",
        "²³.abc", f"{expires}.é{signature}",  # non-ASCII digits and characters
        "9" * 40 + "." + signature,  # an absurd expiry
        "", None, "s3cret", "garbage",
    ]
    for bad in forged:
        assert not token_ok(bad, "s3cret", "server-secret", now=NOW), bad
