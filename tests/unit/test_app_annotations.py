"""The pages' annotations under AppTest, on the shipped grid imported into a fresh database: runs
excluded from fits and included again on Runs, notes, past sweeps queued again on Train, the shipped
grid loaded at any time, Fit lab's notebook download."""
import json
import os
import signal

import pytest
from apptest import APP, _ok

from scaling import services
from scaling.core.config import RunConfig
from scaling.store import EXCLUDED, Store
from scaling.workers import jobs


@pytest.fixture
def grid_app(grid_db, monkeypatch):
    path = grid_db
    monkeypatch.setenv("SCALING_DB", str(path))
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(APP, default_timeout=120), Store(path)


def _button(at, label: str):
    return next(b for b in at.button if b.label.startswith(label))


def _select_rows(at, key: str, rows: list[int]):
    """What a click on the table's row boxes sends (AppTest has no browser to click with)."""
    at.session_state[key] = {"selection": {"rows": rows, "columns": [], "cells": []}}
    return at.run()


def test_runs_excludes_selected_runs_with_a_reason_and_includes_them_again_in_one_click(grid_app):
    at, store = grid_app
    at.switch_page("app_pages/runs.py").run()
    _ok(at)
    table = at.dataframe[0].value
    assert {"excluded", "note"} <= set(table.columns)
    _select_rows(at, "r_table_0", [0, 1])
    _ok(at)
    assert _button(at, "Exclude from fits").disabled  # no reason yet
    at.text_input(key="ann_reason").input("loss spike: bad node").run()
    _button(at, "Exclude from fits").click().run()
    _ok(at)
    ids = table["run_id"].iloc[[0, 1]].tolist()
    rows = store.runs(status=None).set_index("run_id").loc[ids]
    assert (rows.status == EXCLUDED).all() and (rows.excluded == "loss spike: bad node").all()
    shown = at.dataframe[0].value.set_index("run_id").loc[ids]
    assert (shown.status == EXCLUDED).all() and (shown.excluded == "loss spike: bad node").all()
    assert any("2 runs are excluded from every fit by hand" in e.label for e in at.expander)
    next(b for b in at.button if b.key == f"include_{ids[0]}").click().run()  # one click includes one
    _ok(at)
    assert store.runs(status=None).set_index("run_id").loc[ids].status.tolist() == ["ok", EXCLUDED]
    _button(at, "Include 1 excluded run again").click().run()  # the selected ones that are excluded
    _ok(at)
    assert (store.runs(status=None).set_index("run_id").loc[ids].status == "ok").all()
    assert store.run_notes().empty


def test_runs_notes_selected_runs(grid_app):
    at, store = grid_app
    at.switch_page("app_pages/runs.py").run()
    rid = at.dataframe[0].value["run_id"].iloc[3]
    _select_rows(at, "r_table_0", [3])
    note = next(t for t in at.text_input if t.label == "Note")
    note.input("the *first* width-45 run").run()
    _button(at, "Save the note").click().run()
    _ok(at)
    assert store.run_notes().set_index("run_id").loc[rid, "note"] == "the *first* width-45 run"
    assert at.dataframe[0].value.set_index("run_id").loc[rid, "note"] == "the *first* width-45 run"


def test_the_shipped_grid_loads_from_runs_and_train_at_any_time(grid_app):
    at, store = grid_app
    store.delete_runs(store.runs().run_id.iloc[:5].tolist())  # a cache that lacks some of it
    at.switch_page("app_pages/runs.py").run()
    _button(at, "Load the shipped exercise grid").click().run()
    _ok(at)
    assert len(store.runs(status=None)) == 528
    at.switch_page("app_pages/train.py").run()
    _ok(at)
    _button(at, "Load the shipped exercise grid").click().run()  # all cached: nothing added, nothing replaced
    _ok(at)
    assert len(store.runs(status=None)) == 528


def test_train_lists_past_sweeps_to_queue_again_or_note(grid_app):
    at, store = grid_app
    cfgs = [RunConfig(width_step=0, data_fraction=1 / 512, seed=s, dropout=0.5) for s in range(2)]
    sid, _, _ = store.enqueue(cfgs, label="two seeds")
    store.cancel()
    at.switch_page("app_pages/train.py").run()
    _ok(at)
    past = at.dataframe[-1].value
    assert past["label"].tolist() == ["two seeds"] and past["left"].tolist() == [2]
    _select_rows(at, "past_sweeps", [0])
    _ok(at)
    note = next(t for t in at.text_input if t.label == "Note on this sweep")
    note.input("stopped for the GPU").run()
    _button(at, "Save the note").click().run()
    assert services.past_sweeps(store).set_index("sweep_id").loc[sid, "note"] == "stopped for the GPU"
    try:
        _button(at, "Queue again (2 left to train)").click().run()
        _ok(at)
        past = services.past_sweeps(store)
        assert past.loc[0, "label"] == "two seeds (again)" and past.loc[0, "runs"] == 2
    finally:
        store.cancel()
        if pid := jobs.worker_alive(store):
            os.kill(pid, signal.SIGTERM)


def test_fit_lab_downloads_the_selection_as_a_notebook(grid_app, monkeypatch):
    monkeypatch.setenv("SCALING_APP_BOOT", "0")  # the point estimates alone: the notebook, not the bootstrap, is tested
    at, store = grid_app
    at.switch_page("app_pages/fit_lab.py")
    at.query_params.update({"dropout": "0", "w": "0:3", "f": "1/32:1"})  # a small selection: a quick page
    at.run()
    _ok(at)
    button = next(e for e in at.get("download_button") if "notebook" in e.proto.label)
    assert button.proto.label == "Download as notebook"
    from scaling.services import notebook

    sel = services.Selection()
    ids = services.select(store.runs(status=None), sel)["run_id"].tolist()
    nb = json.loads(notebook.for_selection(store, ids, sel, 0, origin="the Fit lab page"))
    src = "\n".join("".join(c["source"]) for c in nb["cells"])
    assert "load_embedded(DATA)" in src and "plot_isoflop(an)" in src and "n_boot=0" in src


def test_a_stopped_sweeps_panel_queues_the_same_grid_again_or_is_dismissed(grid_app):
    at, store = grid_app
    cfgs = [RunConfig(width_step=0, data_fraction=1 / 512, seed=s, dropout=0.5) for s in range(2)]
    sid, _, _ = store.enqueue(cfgs, label="two seeds")
    store.cancel()
    at.switch_page("app_pages/train.py")
    at.session_state["my_sweeps"] = [(sid, "two seeds")]  # this session queued it and follows it
    at.run()
    _ok(at)
    assert any("Sweep stopped: 0 of 2 runs done, 2 cancelled" in e.value for e in at.info)
    _button(at, "Dismiss").click().run()
    _ok(at)
    assert not any("Sweep stopped" in e.value for e in at.info)
    at.session_state["my_sweeps"] = [(sid, "two seeds")]
    at.session_state["finished_shown"] = set()
    at.run()
    try:
        _button(at, "Queue the same grid again (2 runs to train)").click().run()
        _ok(at)
        past = services.past_sweeps(store)
        assert past.loc[0, "label"] == "two seeds (again)" and past.loc[0, "queued"] + past.loc[0, "done"] == 2
    finally:
        store.cancel()
        if pid := jobs.worker_alive(store):
            os.kill(pid, signal.SIGTERM)
