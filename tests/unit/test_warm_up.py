"""The server's start (streamlit_app.py's st.App, runtime.lifespan) does Explore's first draw ahead:
a first visitor's page run finds the default selection fitted."""
import logging
import shutil
from pathlib import Path

from apptest import APP, _ok
from streamlit.web.server.app_discovery import discover_asgi_app

from app_pages.ui import runtime
from scaling import services


def _charts(node) -> list:
    kids = getattr(node, "children", {}).values()
    return [node] * (getattr(node, "type", "") == "vega_lite_chart") + [c for k in kids for c in _charts(k)]


def test_streamlit_run_serves_the_app_with_its_start():
    found = discover_asgi_app(Path(APP))  # what `streamlit run streamlit_app.py` looks for
    assert found.is_asgi_app and found.import_string == "streamlit_app:app"


def _visited(monkeypatch, already: bool) -> None:
    """A flag of the test's own: with `already`, the start stops after the first draw (no worker, no torch)."""
    monkeypatch.setattr(runtime, "_visited", runtime.threading.Event())
    if already:
        runtime._visited.set()


def test_after_the_start_explores_first_run_fits_nothing(small_cache, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    _visited(monkeypatch, already=True)
    db = tmp_path / "runs.duckdb"  # a file of its own: the caches are keyed by its path
    shutil.copy(small_cache, db)
    monkeypatch.setenv("SCALING_DB", str(db))
    calls = []
    real = services.point_estimates
    monkeypatch.setattr(services, "point_estimates", lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    runtime.warm()
    assert len(calls) == 1
    at = AppTest.from_file(APP, default_timeout=120).run()
    _ok(at)
    assert len(calls) == 1, calls  # the page's selection is the one fitted at the start
    assert len(_charts(at.main)) >= 3  # and the page drew its charts from it


def test_a_start_on_a_file_that_is_no_database_logs_and_goes_on(tmp_path, monkeypatch, caplog):
    from scaling.store import StoreError

    _visited(monkeypatch, already=True)
    bad = tmp_path / "runs.duckdb"
    bad.write_text("not a database")
    monkeypatch.setenv("SCALING_DB", str(bad))
    with caplog.at_level(logging.WARNING, logger=runtime.__name__):
        runtime.warm()
    [record] = [r for r in caplog.records if "warm-up" in r.getMessage()]
    assert record.exc_info[0] is StoreError  # the database's own error, not what a missing store would cause
    assert bad.read_text() == "not a database"  # nothing written over it


def test_a_start_on_an_empty_cache_fits_nothing(tmp_path, monkeypatch):
    _visited(monkeypatch, already=True)
    monkeypatch.setenv("SCALING_DB", str(tmp_path / "runs.duckdb"))
    calls = []
    monkeypatch.setattr(services, "point_estimates", lambda *a, **k: calls.append(a))
    runtime.warm()
    assert calls == []


def test_the_start_leaves_the_worker_and_torch_to_a_visitor_already_there(small_cache, tmp_path, monkeypatch):
    """What the page itself starts after its charts (the fit worker, the device's torch) is started at the
    start only while no browser has asked for a page: a visitor's run would share the cores with it."""
    from app_pages.ui import reads

    db = tmp_path / "runs.duckdb"
    shutil.copy(small_cache, db)
    monkeypatch.setenv("SCALING_DB", str(db))
    asked = []
    monkeypatch.setattr(services.background, "ahead", lambda fn, *a, **k: asked.append(fn.__name__))
    monkeypatch.setattr(reads, "device", lambda: asked.append("device"))
    _visited(monkeypatch, already=False)
    runtime.warm()
    assert asked == ["analysis", "device"]

    asked.clear()
    runtime._visited.set()  # a browser has asked for a page
    runtime.warm()
    assert asked == []


def test_any_request_but_the_health_check_counts_as_a_visit(monkeypatch):
    import asyncio

    _visited(monkeypatch, already=False)
    passed = []

    async def server(scope, receive, send):
        passed.append(scope["path"])

    visits = runtime.Visits(server)
    asyncio.run(visits({"type": "http", "path": "/_stcore/health"}, None, None))
    assert not runtime._visited.is_set()
    asyncio.run(visits({"type": "http", "path": "/"}, None, None))
    assert runtime._visited.is_set() and passed == ["/_stcore/health", "/"]  # every request goes on to the server
