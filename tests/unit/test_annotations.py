"""Annotations: a run excluded from every fit (the CLI's, the app's, a study's) with its reason and
included again, notes on runs and sweeps, both carried by an export; a stopped sweep queued again."""
import json
import os
import signal

import pandas as pd
import pytest

from scaling import services
from scaling.cli import main
from scaling.core.config import RunConfig
from scaling.store import EXCLUDED, SCHEMA_VERSION, Store, exchange
from scaling.workers import jobs


def _fit(db, capsys, *flags) -> dict:
    capsys.readouterr()
    assert main(["fit", "--db", str(db), "--dropout", "0", "--bootstrap", "0", "--json", *flags]) == 0
    return json.loads(capsys.readouterr().out)


def _frontier_top_runs(store) -> list[str]:
    """The runs of the highest-compute frontier configuration at dropout 0: excluding them moves the law."""
    runs = store.runs(status=None)
    top = services.analysis(runs, None, services.Selection()).frontier.iloc[-1]
    runs = runs[runs.dropout == 0]
    same = (runs.width_step == top.width_step) & (runs.data_fraction == top.data_fraction)
    return runs[same].run_id.tolist()


def test_an_excluded_run_changes_scaling_fit_and_including_it_restores_it(grid_db, capsys):
    store = Store(grid_db)
    before = _fit(grid_db, capsys)
    ids = _frontier_top_runs(store)
    assert main(["runs", "exclude", *ids, "--reason", "a bad node", "--db", str(grid_db)]) == 0
    excluded = _fit(grid_db, capsys)
    assert excluded["loss_vs_compute"]["alpha"] != pytest.approx(before["loss_vs_compute"]["alpha"], rel=1e-6)
    assert excluded["n_runs"] == before["n_runs"] - len(ids)
    assert excluded["excluded"] == {EXCLUDED: len(ids)}
    rows = store.runs(status=None).set_index("run_id").loc[ids]
    assert (rows.status == EXCLUDED).all() and (rows.excluded == "a bad node").all()
    capsys.readouterr()
    assert main(["runs", "--db", str(grid_db)]) == 0  # listed, with why
    assert f"excluded {ids[0]}: a bad node" in capsys.readouterr().out
    assert main(["runs", "include", *ids, "--db", str(grid_db)]) == 0
    assert _fit(grid_db, capsys) == before
    assert store.run_notes().empty  # nothing left behind


def test_an_exclusion_reaches_the_apps_fit_and_the_studies(grid_db):
    store = Store(grid_db)
    ids = _frontier_top_runs(store)
    sel = services.Selection()

    def with_an_mlp(runs):  # the architecture study needs a second architecture: the same runs, relabelled
        mlp = runs.assign(arch="mlp", run_id=runs.run_id + "m", status="ok", excluded=None, val_loss=runs.val_loss * 1.05)
        return pd.concat([runs, mlp], ignore_index=True)

    runs = store.runs(status=None)
    before, v0 = services.analysis(runs, None, sel), services.data_version(runs)
    study0, shown0 = services.studies.answer("arch", with_an_mlp(runs), n_boot=0), services.chart_runs(runs, sel)
    store.exclude(ids, "checking")
    runs = store.runs(status=None)
    assert services.data_version(runs) != v0  # the app's cached fits are keyed by it
    after = services.analysis(runs, None, sel)
    assert after.n_runs == before.n_runs - len(ids) and after.loss_vs_compute.alpha != before.loss_vs_compute.alpha
    assert len(services.chart_runs(runs, sel)) == len(shown0) - len(ids)
    study = services.studies.answer("arch", with_an_mlp(runs), n_boot=0)  # a study reads every run it is given
    assert study0.ok and study.ok and study.answer != study0.answer


def test_bad_annotations_are_refused_and_change_nothing(grid_db, capsys):
    store = Store(grid_db)
    rid = store.runs().run_id.iloc[0]
    assert main(["runs", "exclude", rid, "--reason", "  ", "--db", str(grid_db)]) == 2
    assert main(["runs", "exclude", rid, "nope", "--reason", "x", "--db", str(grid_db)]) == 2
    assert "no cached run 'nope'" in capsys.readouterr().err
    assert main(["runs", "note", "--sweep", "nope", "--text", "x", "--db", str(grid_db)]) == 2
    assert store.run_notes().empty


def test_notes_and_exclusions_travel_with_an_export(grid_db, tmp_path):
    a = Store(grid_db)
    ids = a.runs().run_id.tolist()
    a.exclude(ids[:3], "diverged late")
    a.note_runs(ids[2:5], "rerun on the GPU")
    path = tmp_path / "out.parquet"
    path.write_bytes(services.export_bytes(a).data)
    exp = exchange.read(path)
    assert len(exp.notes) == 5 and exp.notes.set_index("run_id").loc[ids[0], "excluded"] == "diverged late"
    b = Store(tmp_path / "b.duckdb")
    services.import_file(b, path)
    cols = ["run_id", "excluded", "note"]
    pd.testing.assert_frame_equal(a.run_notes()[cols], b.run_notes()[cols])
    assert (b.runs(status=None).set_index("run_id").loc[ids[:3], "status"] == EXCLUDED).all()
    # an import never overwrites what this cache says of its own runs
    c = Store(tmp_path / "c.duckdb")
    services.import_file(c, exchange.SHIPPED)
    c.exclude([ids[0]], "mine")
    services.import_file(c, path)
    assert c.run_notes().set_index("run_id").loc[ids[0], "excluded"] == "mine"
    assert c.run_notes().set_index("run_id").loc[ids[1], "excluded"] == "diverged late"
    # a file without annotations (the shipped grid) reads as before
    assert exchange.read(exchange.SHIPPED).notes.empty


def test_a_deleted_run_takes_its_annotations_with_it(grid_db):
    store = Store(grid_db)
    rid = store.runs().run_id.iloc[0]
    store.exclude([rid], "x")
    store.note_runs([rid], "y")
    store.delete_runs([rid])
    assert store.run_notes().empty


def test_a_stopped_sweep_is_queued_again_with_its_grid_and_noted(tmp_path):
    store = Store(tmp_path / "runs.duckdb")
    cfgs = [RunConfig(width_step=0, data_fraction=1 / 512, seed=s) for s in range(3)]
    sid, _, n = store.enqueue(cfgs, label="three seeds")
    assert n == 3 and store.sweep_configs(sid) == cfgs
    store.cancel()
    past = services.past_sweeps(store)
    assert past.loc[0, "left"] == 3 and past.loc[0, "has_grid"]
    store.note_sweep(sid, "stopped: the laptop was needed")
    assert services.past_sweeps(store).loc[0, "note"] == "stopped: the laptop was needed"
    try:
        new, cached, queued, label = services.requeue_sweep(store, sid, "cpu")
        assert (cached, queued, label) == (0, 3, "three seeds (again)")
        assert set(store.sweep_run_ids(new)) == {c.run_id for c in cfgs}
    finally:
        store.cancel()
        if pid := jobs.worker_alive(store):
            os.kill(pid, signal.SIGTERM)
    with pytest.raises(ValueError, match="no sweep"):
        services.requeue_sweep(store, "nope")


def test_the_schema_has_the_annotation_tables(tmp_path):
    import duckdb

    store = Store(tmp_path / "runs.duckdb")
    store.runs()
    con = duckdb.connect(str(store.path), read_only=True)
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    version = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    con.close()
    assert {"run_notes", "sweep_notes", "sweep_grids"} <= tables and int(version) == SCHEMA_VERSION
