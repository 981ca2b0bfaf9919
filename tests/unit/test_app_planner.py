"""The planner's panel under AppTest: a plan asked for on Explore, queued with its predictions written down,
its runs trained by the worker the button starts, and Fit lab scoring the predictions as they land."""
from __future__ import annotations

import os
import shutil
import signal

import pytest
from apptest import APP, _ok

from scaling import services
from scaling.store import Store
from scaling.workers import jobs


@pytest.mark.slow
def test_a_planned_batch_queued_from_explore_is_predicted_then_scored_in_fit_lab(small_cache, tmp_path, monkeypatch):
    db = tmp_path / "runs.duckdb"
    shutil.copy(small_cache, db)  # the session's cache stays as the other tests know it
    monkeypatch.setenv("SCALING_DB", str(db))
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=240).run()
    _ok(at)
    at.select_slider(key="explore_budget").set_value(0.25)
    at.button(key="explore_plan").click().run()
    _ok(at)
    assert any(c.value.startswith("Serves ") and "expected once these land" in c.value for c in at.caption)
    table = next(d.value for d in at.dataframe if "predicted_loss" in d.value.columns)
    store = Store(db)
    before = set(store.runs()["run_id"])
    queue = next(b for b in at.button if b.label.startswith("Queue these runs"))
    assert queue.label == f"Queue these runs ({len(table)})"
    queue.click().run()
    _ok(at)
    sweep_id = at.session_state["my_sweeps"][0][0]
    pred = store.scored_predictions()
    loss = pred[pred["quantity"] == "val_loss"]
    assert len(loss) == len(table) and set(loss["plan_id"]) == {sweep_id}
    assert loss["observed"].isna().all()  # written down before any of them trained
    assert (pred["quantity"] == "a").sum() == 1
    try:
        status = services.wait_sweep(store, sweep_id, timeout=600)
    finally:
        pid = jobs.worker_alive(store)
        if pid:
            os.kill(pid, signal.SIGTERM)  # the worker this test started; it would idle 30 s
    assert status.done == len(table) and not status.active
    assert not before & set(loss["run_id"]) and set(loss["run_id"]) <= set(store.runs()["run_id"])
    at.switch_page("app_pages/fit_lab.py").run()
    _ok(at)
    assert any(f"{len(table)} of {len(table)} predicted runs have landed" in c.value for c in at.caption)
    assert any(c.value.startswith("Running coverage") for c in at.caption)
