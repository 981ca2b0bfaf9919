"""What the app's tests share (AppTest here, a real browser in tests/system): the app's script,
a small cache of real runs trained once per session, and widget helpers."""
from __future__ import annotations

import time
from pathlib import Path

from scaling import services
from scaling.store import Store
from scaling.workers import jobs

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "streamlit_app.py")
# The small real cache: 3 widths x 3 fractions x 2 seeds x 2 dropouts = 36 runs on tiny slices.
SMALL = services.GridSpec(widths="0:3", fractions="1/256:1/64", seeds="0:2", dropouts="0,0.2")
_built: dict[str, Path] = {}


def build_small_cache(tmp_path_factory) -> Path:
    """Train SMALL into a database once per session (through the store's queue and the worker
    loop, as the app does), shared by every test module that asks for it."""
    if "db" not in _built:
        path = tmp_path_factory.mktemp("app_cache") / "runs.duckdb"
        store = Store(path)
        store.enqueue(SMALL.configs(), label="test cache")
        t0 = time.perf_counter()
        jobs.work(store, "cpu")
        print(f"\nsmall cache: {len(store.runs())} runs trained in {time.perf_counter() - t0:.0f} s")
        _built["db"] = path
    return _built["db"]


def _ok(at):
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _w(widgets, label: str):
    """A widget by its label (the selection widgets' keys change with the cached choices)."""
    return next(w for w in widgets if w.label == label)
