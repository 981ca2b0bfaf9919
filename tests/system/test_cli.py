import json

import pandas as pd
import pytest

from scaling.cli import main

SWEEP = ["sweep", "--widths", "0:2", "--fractions", "1/256", "--seeds", "0:1"]
COLUMNS = {"width_step", "width", "dropout", "data_fraction", "seed", "lr_mult", "params", "examples", "flops",
           "val_loss", "val_acc", "status"}


def test_sweep_then_rerun_trains_nothing(db, capsys):
    assert main(SWEEP + ["--dry-run"]) == 0
    assert "2 runs, 0 cached, 2 to train" in capsys.readouterr().out
    assert main(SWEEP) == 0
    out, err = capsys.readouterr()
    assert "trained 2 runs, 0 cached" in out
    from scaling.training import native

    assert f"CPU path: {native.cpu_path().describe()}" in err  # which kernels trained them, and why
    assert main(SWEEP) == 0
    assert "trained 0 runs, 2 cached" in capsys.readouterr().out
    assert main(SWEEP + ["--dry-run"]) == 0
    assert "2 runs, 2 cached, 0 to train" in capsys.readouterr().out


def test_runs_json_and_export_round_trip(db, tmp_path, capsys):
    assert main(SWEEP) == 0
    capsys.readouterr()
    assert main(["runs", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 and COLUMNS <= set(rows[0])
    assert {r["width"] for r in rows} == {4, 6} and all(r["status"] == "ok" for r in rows)
    for fmt, read in (("csv", pd.read_csv), ("parquet", pd.read_parquet)):
        out = tmp_path / f"runs.{fmt}"
        assert main(["export", "--format", fmt, "-o", str(out)]) == 0
        df = read(out)
        assert COLUMNS <= set(df.columns) and len(df) == 2
        by_id = {r["run_id"]: r for r in rows}
        for rec in df.to_dict("records"):
            assert rec["val_loss"] == pytest.approx(by_id[rec["run_id"]]["val_loss"], rel=1e-12)
            assert rec["flops"] == by_id[rec["run_id"]]["flops"]


@pytest.mark.parametrize("args, message", [
    (["--fractions", "0"], "--fractions: fraction 0 must be in (0, 1]"),
    (["--fractions", "1.5"], "--fractions: fraction 1.5 must be in (0, 1]"),
    (["--fractions=-1/4"], "--fractions: fraction -0.25 must be in (0, 1]"),
    (["--fractions", "1/3:1"], "--fractions: range ends must be powers of two"),
    (["--fractions", "abc"], "--fractions: 'abc' is not a number"),
    (["--widths", "1.5"], "--widths: '1.5' is not an integer"),
    (["--widths", "3:3"], "--widths: '3:3' is an empty range"),
    (["--widths", "0:40"], "--widths: 13 is outside -4..12"),
    (["--seeds", "2:1"], "--seeds: '2:1' is an empty range"),
    (["--dropout", "1"], "--dropout: 1 is outside [0, 1)"),
    (["--lr-mult", "nan"], "--lr-mult: nan is outside"),
    (["--widths", "0:12", "--fractions", "1/128:1", "--seeds", "0:30"], "over the limit of 2000"),
])
def test_bad_input_is_one_clear_line(db, capsys, args, message):
    assert main(["sweep", *args, "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not db.exists()  # nothing was written


def test_not_a_database_is_named_and_left_alone(tmp_path, capsys):
    bad = tmp_path / "results.csv"
    bad.write_text("a,b\n1,2\n")
    assert main(["runs", "--db", str(bad)]) == 2
    assert f"{bad} is not a DuckDB database file" in capsys.readouterr().err
    assert bad.read_text() == "a,b\n1,2\n"
    assert main(SWEEP + ["--db", str(bad)]) == 2
    assert bad.read_text() == "a,b\n1,2\n"


CHINCHILLA = ["fit", "--csv", "tests/data/chinchilla_fig4_extracted.csv", "--n-col", "Model Size",
              "--c-col", "Training FLOP", "--loss-col", "loss", "--drop-highest", "5"]


def test_fit_csv_reproduces_epochs_chinchilla_replication(capsys, monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    assert main(CHINCHILLA + ["--bootstrap", "0", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert set(got) >= {"E", "A", "B", "alpha", "beta", "a"} and "intervals" not in got
    assert abs(got["E"] - 1.817) < 0.01 and abs(got["alpha"] - 0.348) < 0.005
    assert abs(got["beta"] - 0.366) < 0.005 and abs(got["a"] - 0.513) < 0.01
    assert main(CHINCHILLA + ["--bootstrap", "30", "--json"]) == 0
    iv = json.loads(capsys.readouterr().out)["intervals"]
    for name in ("E", "alpha", "beta", "a"):
        assert iv[name]["lo"] < got[name] < iv[name]["hi"] and iv[name]["n_boot"] == 30


@pytest.mark.parametrize("args, message", [
    (["--csv", "nope.csv", "--n-col", "N", "--d-col", "D", "--loss-col", "L"], "--csv nope.csv"),
    (["--csv", "tests/data/chinchilla_fig4_extracted.csv", "--n-col", "params", "--c-col", "Training FLOP",
      "--loss-col", "loss"], "params"),
])
def test_fit_bad_input(capsys, monkeypatch, args, message):
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    assert main(["fit", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_fit_on_an_empty_cache_says_what_to_do(db, capsys):
    assert main(["fit"]) == 2
    assert "no cached mnist runs" in capsys.readouterr().err


def test_fit_on_too_few_configurations_says_so(db, capsys):
    assert main(SWEEP) == 0  # 2 widths x 1 fraction: 2 configurations
    capsys.readouterr()
    assert main(["fit", "--bootstrap", "0"]) == 0
    out = capsys.readouterr().out
    assert "loss vs compute: cannot fit: a power law needs at least 3 points, got " in out
    assert out.count("cannot answer") == 3  # each N_opt estimator says why


def test_newer_schema_is_named_and_left_byte_for_byte(db, capsys):
    import duckdb

    from scaling.store import SCHEMA_VERSION, Store

    Store(db).runs()
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION + 1)])
    before = db.read_bytes()
    for cmd in (SWEEP, ["runs"], ["fit"], ["export", "-o", str(db.with_suffix(".csv"))]):
        assert main(cmd) == 2
        err = capsys.readouterr().err.strip()
        assert f"{db} has schema version {SCHEMA_VERSION + 1}, newer than this Scaling Lab" in err
        assert "upgrade the code or pass another --db path" in err and len(err.splitlines()) == 1
    assert db.read_bytes() == before and not db.with_suffix(".csv").exists()


def test_grid_and_queue_caps_from_the_environment(db, capsys, monkeypatch):
    monkeypatch.setenv("SCALING_MAX_RUNS", "3")
    big = ["sweep", "--widths", "0:2", "--fractions", "1/256,1/128", "--dry-run"]  # 4 runs
    assert main(big) == 2
    assert "the grid has 4 runs, over the limit of 3 per request" in capsys.readouterr().err
    assert main(big + ["--max-runs", "4"]) == 0  # the terminal user may ask for more, explicitly
    assert main(["sweep", "--widths", "0", "--seeds", "0:5", "--dry-run"]) == 2
    assert "--seeds: '0:5' has 5 values, more than a grid may hold (3)" in capsys.readouterr().err
    monkeypatch.setenv("SCALING_MAX_RUNS", "lots")
    assert main(big) == 2
    assert "SCALING_MAX_RUNS='lots' must be a positive integer" in capsys.readouterr().err
    monkeypatch.delenv("SCALING_MAX_RUNS")
    monkeypatch.setenv("SCALING_MAX_QUEUE", "3")
    assert main(big[:-1]) == 2
    err = capsys.readouterr().err.strip()
    assert "the queue holds 0 runs; 4 more would pass its cap of 3" in err and len(err.splitlines()) == 1
    from scaling.store import Store

    assert Store(db).queue_counts().queued == 0 and Store(db).runs(status=None).empty


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_bad_data_files_stop_a_sweep_before_anything_is_queued(db, tmp_path, capsys, monkeypatch, damage):
    import shutil

    from scaling import datasets
    from scaling.store import Store
    from scaling.training import data

    folder = tmp_path / "mnist"
    shutil.copytree(datasets._mnist_folder(), folder)
    target = folder / "train-images-idx3-ubyte.gz"
    if damage == "corrupt":
        raw = bytearray(target.read_bytes())
        raw[5000] ^= 0xFF  # one flipped byte
        target.write_bytes(bytes(raw))
    else:
        target.unlink()
    monkeypatch.setattr(datasets, "_mnist_folder", lambda: folder)
    datasets.arrays.cache_clear(), data.load.cache_clear()
    try:
        assert main(SWEEP) == 2
    finally:
        datasets.arrays.cache_clear(), data.load.cache_clear()
    err = capsys.readouterr().err.strip()
    assert f"{damage} data file {target}" in err and "restore it from the repository" in err
    assert len(err.splitlines()) == 1
    assert Store(db).queue_counts().queued == 0 and Store(db).runs(status=None).empty  # nothing queued, no failed runs


@pytest.mark.parametrize("widths, message", [
    ("-5:2", "--widths: -5 is outside -4..12"),
    ("-3", "--widths: step -3 rounds to width 1, as step -4 does: use -4"),
    ("-3:-2", "--widths: '-3:-2' holds no width of its own"),
])
def test_width_steps_below_zero_and_their_bad_input(db, capsys, widths, message):
    assert main(["sweep", "--widths", widths, "--fractions", "1/256", "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_a_range_from_minus_four_skips_the_twin_step(db, capsys):
    assert main(["sweep", "--widths", "-4:1", "--fractions", "1/1024", "--dry-run"]) == 0
    assert "plan: 4 runs" in capsys.readouterr().out  # widths 1, 2, 3, 4: step -3 (width 1 again) is skipped


def test_doctor_says_which_path_trains_here_and_why(capsys):
    from scaling.training import native, native_build

    assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    path = native.cpu_path()
    assert report["cpu_path"]["line"] == path.describe() and report["cpu_path"]["isa"] == path.isa
    assert report["builds"].keys() == native_build.ISAS.keys()
    for isa, build in report["builds"].items():
        assert build["vector_width"] == native_build.ISAS[isa][0] and build["runnable"] == (isa in native_build.runnable_isas())
    assert main(["doctor"]) == 0
    text = capsys.readouterr().out
    assert f"CPU path       {path.describe()}" in text and "processor" in text
    if path.how == "checked":  # one line per timed phase and width, with the variant chosen
        assert text.count(" ms on the ops: ") == len(path.timings)


# ---------------------------------------------------------------- export --format parquet, import


def _fake_runs(path, widths=(0, 1), val_loss=0.5):
    """Finished runs with curves written through the store (made-up numbers, real writes)."""
    from scaling.core import grid
    from scaling.store import Store
    from scaling.training import train

    cfgs = grid.expand(list(widths), [1 / 256, 1 / 128], [0, 1], [0.0, 0.2])
    store = Store(path)
    store.enqueue(cfgs, label="sweep --widths 0:2 (test)")
    store.add_results([train.RunResult(c, val_loss, 0.9, 0.6, 0.1, "cpu (2 threads)", "ok", "",
                                       tuple((e, 1 / e**0.1, 0.5) for e in (10, 50, c.examples))) for c in cfgs])
    return store


def test_export_and_import_merge_two_caches(tmp_path, capsys):
    import pyarrow.parquet as pq

    from scaling.core.config import PROTOCOL
    from scaling.store import SCHEMA_VERSION, Store

    a = _fake_runs(tmp_path / "a.duckdb")
    out = tmp_path / "a.parquet"
    assert main(["export", "--format", "parquet", "-o", str(out), "--db", str(a.path), "--label", "lab A"]) == 0
    assert "wrote 16 runs with 48 curve points" in capsys.readouterr().err
    meta = {k.decode(): v.decode() for k, v in pq.read_schema(out).metadata.items() if k.startswith(b"scaling_lab.")}
    assert meta["scaling_lab.protocol"] == str(PROTOCOL) and meta["scaling_lab.schema_version"] == str(SCHEMA_VERSION)
    assert meta["scaling_lab.command"].startswith("scaling export --format parquet")
    for key in ("processor", "cpu", "torch", "git_commit", "created", "sweeps"):
        assert meta[f"scaling_lab.{key}"], key
    b = tmp_path / "b.duckdb"
    assert main(["import", str(out), "--db", str(b)]) == 0
    assert "imported 16 runs with 48 curve points" in capsys.readouterr().out
    assert main(["import", str(out), "--db", str(b)]) == 0
    assert "imported 0 runs with 0 curve points" in (o := capsys.readouterr().out) and "16 already cached (duplicates" in o
    ra, rb = a.runs(status=None), Store(b).runs(status=None)
    pd.testing.assert_frame_equal(ra.drop(columns="imported_from"), rb.drop(columns="imported_from"))
    pd.testing.assert_frame_equal(a.curves(), Store(b).curves())
    assert main(["runs", "--db", str(b)]) == 0
    assert "16 of them imported, not trained here: lab A · " in capsys.readouterr().out
    # a third cache that trained two of them with other results: reported, its own results kept
    c = _fake_runs(tmp_path / "c.duckdb", widths=(0,), val_loss=0.3)
    assert main(["import", str(out), "--db", str(c.path)]) == 1
    o, err = capsys.readouterr()
    assert "imported 8 runs" in o and "8 conflicts: cached here with other results; the cached runs kept" in err
    assert "val_loss 0.3 here, 0.5 in the file" in err and "... and 3 more" in err
    assert (c.runs().query("width == 4").val_loss == 0.3).all()


def _rewrite(src, dst, meta=None, table=None):
    import pyarrow.parquet as pq

    t = pq.read_table(src) if table is None else table
    t = t.replace_schema_metadata({**t.schema.metadata, **(meta or {})})
    pq.write_table(t, dst)


def _edit_column(src, dst, name, fn):
    import pyarrow as pa
    import pyarrow.parquet as pq

    t = pq.read_table(src)
    col = t.column(name).to_pylist()
    t = t.set_column(t.schema.get_field_index(name), t.schema.field(name), pa.array(fn(col), t.schema.field(name).type))
    _rewrite(src, dst, table=t)


BAD_FILES = {
    "garbage bytes": (lambda src, dst: dst.write_bytes(bytes(range(256)) * 40), "not a Parquet file"),
    "a CSV of other columns": (lambda src, dst: dst.write_text("a,b\n1,2\n"), "not a Parquet file"),
    "a CSV export": (lambda src, dst: main(["export", "-o", str(dst)]), "not a Parquet file"),
    "a random Parquet file": (lambda src, dst: pd.DataFrame({"x": [1, 2]}).to_parquet(dst),
                              "without its scaling_lab.format metadata"),
    "a Runs page download": (lambda src, dst: pd.read_parquet(src).drop(columns="curve").to_parquet(dst),
                             "without its scaling_lab.format metadata"),
    "a newer protocol": (lambda src, dst: _rewrite(src, dst, {b"scaling_lab.protocol": b"99"}),
                         "written by a newer Scaling Lab (protocol 99"),
    "a newer format": (lambda src, dst: _rewrite(src, dst, {b"scaling_lab.format_version": b"2"}),
                       "written by a newer Scaling Lab (export format 2"),
    "a run of a newer protocol": (lambda src, dst: _edit_column(src, dst, "protocol", lambda v: [99] + v[1:]),
                                  "follows protocol 99, newer than"),
    "an edited run_id": (lambda src, dst: _edit_column(src, dst, "run_id", lambda v: ["0" * 24] + v[1:]),
                         "the run_id is not its configuration's"),
    "an accuracy over 1": (lambda src, dst: _edit_column(src, dst, "val_acc", lambda v: v[:-1] + [1.5]),
                           "val_acc 1.5 is not in [0, 1]"),
    "a loss that is inf": (lambda src, dst: _edit_column(src, dst, "val_loss", lambda v: [float("inf")] + v[1:]),
                           "val_loss inf is not finite"),
    "a wrong FLOP count": (lambda src, dst: _edit_column(src, dst, "flops", lambda v: [v[0] * 2] + v[1:]),
                           "does not match its configuration"),
    "a width step out of range": (lambda src, dst: _edit_column(src, dst, "width_step", lambda v: [40] + v[1:]),
                                  "width_step must be an integer in -4..12"),
    "a run twice": (lambda src, dst: _edit_column(src, dst, "run_id", lambda v: v[:-1] + v[:1]), "appears twice"),
    "a curve point past the run": (lambda src, dst: _edit_column(
        src, dst, "curve", lambda v: [[{**p, "examples": 10**9} for p in v[0]]] + v[1:]), "examples outside"),
    "no file": (lambda src, dst: None, "no such file"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_a_file_that_is_not_a_valid_export_is_refused_with_nothing_written(db, tmp_path, capsys, case):
    make, message = BAD_FILES[case]
    src = tmp_path / "good.parquet"
    _fake_runs(tmp_path / "other.duckdb")
    assert main(["export", "--format", "parquet", "-o", str(src), "--db", str(tmp_path / "other.duckdb")]) == 0
    _fake_runs(db, widths=(2,))  # the cache it would go into: 8 runs
    bad = tmp_path / "bad.parquet"
    make(src, bad)
    capsys.readouterr()
    before = db.read_bytes()
    assert main(["import", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"scaling import: error: {bad}") and message in err and len(err.splitlines()) == 1, err
    assert db.read_bytes() == before


def test_the_shipped_grid_is_a_valid_export_of_this_code(tmp_path, capsys):
    """The exercise grid shipped in the package: small, current, with its provenance, and it loads."""
    from scaling import services
    from scaling.core.config import PROTOCOL
    from scaling.store import Store, exchange

    path = exchange.SHIPPED
    assert path.stat().st_size < 5e6
    exp = exchange.read(path)
    m = exp.meta
    assert m["protocol"] == str(PROTOCOL) and int(m["runs"]) == len(exp.runs)
    for key in ("processor", "cpu", "torch", "git_commit", "created", "command", "sweeps", "training_s"):
        assert m[key], key
    assert (exp.runs.protocol == PROTOCOL).all() and exp.runs.status.eq("ok").all()
    assert exp.runs.precision.eq("fp32").all() and exp.runs.device_type.eq("cpu").all()
    # the GPU quick sweep's grid (the exercise's with widths 1-3 added) or a part of it that holds, per dropout,
    # every fraction and seed of each width it holds: no holes for a fit to fall into
    assert set(exp.runs.run_id) <= {c.run_id for c in services.QUICK_GPU.configs()}
    for _, family in exp.runs.groupby("dropout"):
        assert len(family) == family.width.nunique() * 8 * 3
    assert set(exp.curves.run_id) == set(exp.runs.run_id)  # every run with its validation curve
    assert main(["import", str(path), "--db", str(tmp_path / "fresh.duckdb")]) == 0
    assert f"imported {len(exp.runs)} runs" in capsys.readouterr().out
    runs = Store(tmp_path / "fresh.duckdb").runs()
    assert len(runs) == len(exp.runs) and runs.imported_from.notna().all()
    info = services.shipped()
    assert info.runs == len(exp.runs) and info.processor in info.button()


def test_durations_read_in_whole_minutes_and_seconds():
    from scaling.core.fmt import fmt_s

    assert [fmt_s(s) for s in (59.4, 161, 179.6, 221, 7200)] == ["59 s", "2 min 41 s", "3 min 00 s", "3 min 41 s", "2.0 h"]
