from scaling.access import expected_password, password_ok


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
