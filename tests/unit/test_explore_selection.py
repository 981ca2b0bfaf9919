"""Explore's width range while the cached widths change under an open page (runs deleted, imported
back, landing from a sweep): no exception, and the range follows the cache instead of collapsing."""
from __future__ import annotations

import pytest
from apptest import APP, _ok, _w

from scaling.core import grid
from scaling.store import Store
from scaling.training import train

FRACTIONS = [1 / 256, 1 / 128, 1 / 64]


def _results(widths: list[int]) -> list[train.RunResult]:
    """Made-up runs (no training): loss falls with width and data, so every fit has a slope."""
    return [train.RunResult(c, 2.0 / (1 + c.width_step + c.data_fraction * 64), 0.5, 1.0, 0.1, "cpu (2 threads)", "ok")
            for c in grid.expand(widths, FRACTIONS, [0], [0.0])]


def _delete_width(store: Store, step: int) -> None:
    runs = store.runs()
    store.delete_runs(runs.loc[runs["width_step"] == step, "run_id"].tolist())


def _widths(at) -> tuple:
    return _w(at.select_slider, "Width steps").value


@pytest.fixture
def explore(tmp_path, monkeypatch):
    """Explore open on widths 0-2, with the bootstrap off (these tests are about the widgets)."""
    from streamlit.testing.v1 import AppTest

    from app_pages import ui

    monkeypatch.setattr(ui, "BOOT", 0)
    db = tmp_path / "runs.duckdb"
    store = Store(db)
    store.add_results(_results([0, 1, 2]))
    monkeypatch.setenv("SCALING_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=60).run()
    _ok(at)
    assert _widths(at) == (0, 2)
    return at, store


def _move_fractions(at) -> None:
    """The user moves the other slider (a rerun in which the cached choices did not change)."""
    s = _w(at.select_slider, "Data fractions")
    s.set_value((FRACTIONS[1], FRACTIONS[2]) if s.value[0] == FRACTIONS[0] else (FRACTIONS[0], FRACTIONS[2])).run()
    _ok(at)


def test_widths_landing_one_after_another_keep_the_full_range(tmp_path, monkeypatch):
    """A sweep on an empty cache: its widths land one by one, the page rerunning at each landing."""
    from streamlit.testing.v1 import AppTest

    from app_pages import ui

    monkeypatch.setattr(ui, "BOOT", 0)
    store = Store(tmp_path / "runs.duckdb")
    store.add_results(_results([0]))
    monkeypatch.setenv("SCALING_DB", str(store.path))
    at = AppTest.from_file(APP, default_timeout=60).run()
    _ok(at)
    for step in (1, 2, 3):
        store.add_results(_results([step]))
        at.run()
        _ok(at)
        assert _widths(at) == (0, step)
    _move_fractions(at)
    assert _widths(at) == (0, 3) and at.query_params["w"] == "0:4"


def test_the_width_range_follows_widths_deleted_and_imported_back(explore):
    at, store = explore
    _delete_width(store, 2)  # the full range shrinks with the cache...
    at.run()
    _ok(at)
    assert _widths(at) == (0, 1)
    _move_fractions(at)
    assert _widths(at) == (0, 1), "the range collapsed by itself"
    store.add_results(_results([2]))  # ...and grows back with it
    _move_fractions(at)
    assert _widths(at) == (0, 2)
    _move_fractions(at)
    assert _widths(at) == (0, 2) and at.query_params["w"] == "0:3"


def test_the_width_range_survives_the_cache_shrinking_to_one_width(explore):
    at, store = explore
    for step in (2, 1):
        _delete_width(store, step)
        at.run()
        _ok(at)
    assert not [s for s in at.select_slider if s.label == "Width steps"]  # one width: no slider
    _move_fractions(at)
    assert at.query_params["w"] == "0:1"
    for step, full in ((1, (0, 1)), (2, (0, 2))):  # the sweep's widths land one by one
        store.add_results(_results([step]))
        _move_fractions(at)
        assert _widths(at) == full
        _move_fractions(at)
        assert _widths(at) == full


def test_a_narrowed_range_stays_narrowed_as_widths_land(explore):
    at, store = explore
    _w(at.select_slider, "Width steps").set_value((0, 1)).run()
    _ok(at)
    store.add_results(_results([3]))
    at.run()
    _ok(at)
    assert _widths(at) == (0, 1)
    _move_fractions(at)
    assert _widths(at) == (0, 1) and at.query_params["w"] == "0:2"
