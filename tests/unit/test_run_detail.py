"""Every run inspectable: a click on a chart's point names its run(s); the run view shows its
configuration, where it trained and its curves; the Runs page overlays ticked runs."""
from __future__ import annotations

import pandas as pd
import pytest
from apptest import _ok

from scaling import charts, services
from scaling.charts import run_curves, select
from scaling.services import run_detail as rd
from scaling.store import Store


@pytest.fixture(scope="module")
def cache(small_cache):
    s = Store(small_cache)
    return s.runs(None), s.curves()


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """The shipped exercise grid (real runs with their stored validation curves)."""
    from scaling.services import imports

    s = Store(tmp_path_factory.mktemp("grid") / "runs.duckdb")
    imports.import_file(s, imports.exchange.SHIPPED)
    return s.runs(None), s.curves()


def test_pickable_adds_one_named_point_selection_per_pointed_layer_carrying_run_id(cache):
    runs, _ = cache
    sel = services.Selection(dropout=0.0)
    an = services.analysis(runs, None, sel)
    ok = services.chart_runs(runs, sel)
    fig = select.pickable(charts.loss_vs_compute(ok, an.aggregate.points, an.frontier))
    names = select.params(fig)
    assert len(names) == 3 and len(set(names)) == 3  # runs, seed means, frontier points; not the lines
    spec = fig.spec()
    layer = next(u for u in spec["layer"] if u["data"]["name"] == "runs")
    pick = next(p for p in layer["params"] if p["name"].startswith(select.PICK))
    assert pick["select"]["fields"] == ["run_id"] and "run_id" in spec["datasets"]["runs"].columns
    means = next(u for u in spec["layer"] if u["data"]["name"] == "points")
    fields = next(p for p in means["params"] if p["name"].startswith(select.PICK))["select"]["fields"]
    assert "run_id" not in fields and {"width", "data_fraction"} <= set(fields)
    assert {"width", "data_fraction"} <= set(spec["datasets"]["points"].columns)  # kept for the click
    fig.validate()


def test_a_clicked_run_and_a_clicked_configuration_map_to_their_runs(grid):
    runs, curves = grid
    ok = runs[(runs["dropout"] == 0) & (runs["data_fraction"] == 1 / 16)]
    one = ok.iloc[0]
    assert rd.runs_at(ok, {"run_id": one["run_id"]})["run_id"].tolist() == [one["run_id"]]
    # a seed mean carries the configuration, no run_id: every seed of it
    seeds = rd.runs_at(ok, {"width": int(one["width"]), "data_fraction": float(one["data_fraction"]),
                            "selection": "A: dropout 0"})
    assert len(seeds) == 3 and set(seeds["seed"]) == {0, 1, 2}
    assert rd.runs_at(ok, {"width": 10**6}).empty and rd.runs_at(ok, {"selection": "A"}).empty
    d = rd.run_detail(seeds, curves)
    assert d.title == "width 1 · fraction 1/16 · dropout 0: 3 runs"
    assert set(d.curves["run"]) == {"seed 0", "seed 1", "seed 2"} and len(d.curves) > 6  # the stored curve, not one point
    assert d.train["train_loss"].notna().all() and "only its final value is stored" in d.notes[0]
    assert {"host", "device", "precision", "wall_s"} <= set(d.runs.columns)
    fields = dict(zip(d.config["field"], d.config["value"]))
    assert fields["seed"] == "0, 1, 2" and fields["data fraction"] == "1/16"
    assert len(d.notes) == 1  # every run has its curve
    assert charts.Figure is not None and len(run_curves.run_curves(d.curves, d.train).data["curves"]) == len(d.curves)


def test_picked_reads_streamlits_selection_state():
    state = {"selection": {"pick_width": [], f"{select.PICK}_1": [{"run_id": "abc", "vgsid_": 3}]}}
    assert select.picked(state) == {"run_id": "abc"}
    assert select.picked({"selection": {f"{select.PICK}_0": []}}) is None
    # what Chromium sent for a click on a seed mean: the runs layer's param empty, the others the configuration
    cfg = {"width": 1, "data_fraction": 0.0078125, "params": 476}
    clicked = {"selection": {f"{select.PICK}_0": [{}], f"{select.PICK}_1": [cfg], f"{select.PICK}_2": [cfg]}}
    assert select.picked(clicked) == cfg


def test_a_click_on_explore_opens_the_run_view(app, cache):
    runs, _ = cache
    app.run()
    _ok(app)
    rid = runs[runs["dropout"] == 0]["run_id"].iloc[0]
    app.session_state["_run_pick"] = ("explore_loss", {"run_id": rid})  # what the click's callback leaves
    app.run()
    _ok(app)
    text = " ".join(m.value for m in app.markdown)
    assert ": seed " in text
    frames = [d.value for d in app.dataframe]
    assert any("host" in f.columns and rid in set(f["run_id"]) for f in frames if isinstance(f, pd.DataFrame))
    assert any("only its final value is stored" in c.value for c in app.caption)
    assert "_run_pick" not in app.session_state  # read once: the next rerun does not open it again


def test_runs_page_overlays_ticked_runs_and_a_delete_leaves_no_tick(tmp_path, monkeypatch, grid):
    """Ticked rows draw their curves together; after a delete no row is ticked (the ticks do not
    move to the runs that took the deleted rows' places)."""
    from apptest import APP
    from streamlit.testing.v1 import AppTest

    from scaling.services import imports

    db = tmp_path / "runs.duckdb"
    imports.import_file(Store(db), imports.exchange.SHIPPED)
    monkeypatch.setenv("SCALING_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("app_pages/runs.py").run()
    _ok(at)
    at.session_state["r_table_0"] = {"selection": {"rows": [0, 1], "columns": [], "cells": []}}
    at.run()
    _ok(at)
    assert any(m.value.startswith("**Curves of the 2 ticked runs") for m in at.markdown)
    assert len(at.get("vega_lite_chart")) == 1
    at.checkbox(key="r_confirm").check().run()
    next(b for b in at.button if b.label == "Delete").click().run()
    _ok(at)
    assert len(Store(db).runs(None)) == len(grid[0]) - 2
    assert not any(m.value.startswith("**Curves of the") for m in at.markdown)  # nothing ticked now
    assert not any(w.value.startswith("Delete ") for w in at.warning)


def test_overlaid_runs_are_labelled_by_what_tells_them_apart(grid):
    runs, curves = grid
    two = runs[(runs["width_step"] == 0) & (runs["data_fraction"] == 1 / 16) & (runs["seed"] == 2)]
    d = rd.run_detail(two, curves)
    assert set(d.curves["run"]) == {"dropout 0", "dropout 0.2"}  # the seed is the same: not named


def test_points_that_name_no_configuration_are_not_pickable():
    """An exponent per setting, a budget's optimum: a click would stand for every run of a side."""
    from scaling.charts import compare as compare_charts

    t = pd.DataFrame({"name": ["α"] * 2, "selection": ["A", "B"], "value": [0.3, 0.4], "lo": 0.2, "hi": 0.5})
    fig = compare_charts.exponents(t)
    assert select.params(select.pickable(fig)) == []
