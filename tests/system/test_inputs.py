"""Bad input that would lose, duplicate or garble data, and input that gave a traceback: each one is
refused with one line on stderr naming the flag or the file, and every cached run is left as it was."""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scaling.cli import main
from scaling.core import grid
from scaling.core.config import STUDY_DEFAULTS, RunConfig
from scaling.core.text import printable
from scaling.store import Store, exchange
from scaling.training import train

ROOT = Path(__file__).resolve().parents[2]


def fake_runs(path, widths=(0, 1), dropouts=(0.0, 0.2), **fixed):
    """Finished runs with curves written through the store (made-up numbers, real writes)."""
    cfgs = grid.expand(list(widths), [1 / 256, 1 / 128], [0, 1], list(dropouts), **fixed)
    store = Store(path)
    store.enqueue(cfgs, label="test")
    store.add_results([train.RunResult(c, 0.5, 0.9, 0.6, 0.1, "cpu (2 threads)", "ok", "",
                                       tuple((e, 1 / e**0.1, 0.5) for e in (10, 50, c.examples))) for c in cfgs])
    return store


def one_line(capsys, *needles):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in err, (n, err)
    return err


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def old_run_id(fields: dict, protocol: int) -> str:
    """The run_id as every version before this one computed it: the values as they were, unnormalised."""
    d = {k: v for k, v in fields.items() if STUDY_DEFAULTS.get(k, object()) != v}
    return hashlib.sha256(json.dumps({"protocol": protocol, **d}, sort_keys=True).encode()).hexdigest()[:24]


def limited(limit_bytes: int, *args: str) -> subprocess.CompletedProcess:
    """`scaling ARGS` in a process that may not write a file past `limit_bytes` (RLIMIT_FSIZE): a write
    that would fails with EFBIG, as on a full disk (SIGXFSZ ignored, as a shell's `ulimit -f` does not)."""
    code = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit_bytes}, {limit_bytes})); "
            "from scaling.cli import main; sys.exit(main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


# ---------------------------------------------------------------- exports


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_export_onto_its_own_database_is_refused(tmp_path, capsys, fmt):
    db = tmp_path / "runs.duckdb"
    fake_runs(db)
    before = digest(db)
    link = tmp_path / "link.duckdb"
    link.symlink_to(db)
    for out in (db, link, Path(os.path.relpath(db)), db.with_name(db.name + ".wal")):
        assert main(["export", "--format", fmt, "-o", str(out), "--db", str(db)]) == 2
        one_line(capsys, f"-o {out}", "the database this export reads")
        assert digest(db) == before
    assert not db.with_name(db.name + ".wal").exists()
    assert main(["export", "--format", fmt, "-o", str(db), "--db", str(link)]) == 2  # the other way round
    one_line(capsys, "the database this export reads")
    assert len(Store(db).runs()) == 16


def test_a_failed_export_leaves_the_old_export_untouched(tmp_path):
    db = tmp_path / "runs.duckdb"
    fake_runs(db, widths=(0, 1, 2))
    out = tmp_path / "runs.parquet"
    fake_runs(tmp_path / "small.duckdb", widths=(0,), dropouts=(0.0,))
    assert main(["export", "--format", "parquet", "-o", str(out), "--db", str(tmp_path / "small.duckdb")]) == 0
    old = out.read_bytes()
    files = sorted(tmp_path.iterdir())
    p = limited(len(old), "export", "--format", "parquet", "-o", str(out), "--db", str(db))  # the new one is bigger
    err = p.stderr.strip()
    assert p.returncode == 2 and len(err.splitlines()) == 1 and f"-o {out}" in err and "File too large" in err, err
    assert out.read_bytes() == old and sorted(tmp_path.iterdir()) == files  # no stub, no temporary file left
    assert main(["export", "--format", "parquet", "-o", str(out), "--db", str(db)]) == 0  # without the limit
    assert len(pd.read_parquet(out)) == 24 and out.stat().st_size > len(old) and sorted(tmp_path.iterdir()) == files


# ---------------------------------------------------------------- one configuration, one identity


def test_minus_zero_and_digits_of_another_script_are_the_same_configuration(db, capsys):
    assert RunConfig(0, 1 / 256, dropout=-0.0).run_id == RunConfig(0, 1 / 256).run_id
    assert RunConfig(0, 1 / 256, dropout=-0.0).dropout == 0.0 and str(RunConfig(0, 1 / 256, dropout=-0.0).dropout) == "0.0"
    assert RunConfig(0, 1 / 256, seed=np.int64(1), lr_mult=np.float32(1)).run_id == RunConfig(0, 1 / 256, seed=1).run_id
    arabic = "\u0665\u0666\u0667\u0668\u0669"  # 56789 in Arabic-Indic digits
    assert grid.digits("--classes", arabic) == "56789"
    assert RunConfig(0, 1 / 256, classes=arabic).run_id == RunConfig(0, 1 / 256, classes="56789").run_id
    fake_runs(db, widths=(0,), dropouts=(0.0,))
    fake_runs(db, widths=(0,), dropouts=(0.0,), classes="56789")
    capsys.readouterr()
    for args in (["--dropout=-0"], ["--dropout", "-0.0,0"], ["--classes", arabic], ["--classes", "\uff15\uff16\uff17\uff18\uff19"]):
        assert main(["sweep", "--widths", "0", "--fractions", "1/256", "--seeds", "0", *args, "--dry-run"]) == 0
        assert "plan: 1 runs, 1 cached, 0 to train" in capsys.readouterr().out, args


def _insert_copy(con, run_id, new_id, val_loss, **fields):
    """A copy of a run under another id, as an older version wrote it (dropout -0.0, say), with its curves."""
    sets = ", ".join([f"? AS {k}" for k in fields] + ["? AS run_id", "? AS val_loss"])
    con.execute(f"INSERT INTO runs SELECT * REPLACE ({sets}) FROM runs WHERE run_id = ?",
                [*fields.values(), new_id, val_loss, run_id])
    con.execute("INSERT INTO curves SELECT * REPLACE (? AS run_id, val_loss + 5 AS val_loss) FROM curves "
                "WHERE run_id = ?", [new_id, run_id])


def test_rows_an_older_version_stored_twice_are_merged_into_one(tmp_path):
    db = tmp_path / "runs.duckdb"
    store = fake_runs(db, widths=(0,), dropouts=(0.0,))  # 4 runs: 2 fractions x 2 seeds
    runs = store.runs().set_index("run_id")
    twin, alone = (runs[(runs.seed == s) & (runs.data_fraction == 1 / 256)].index[0] for s in (0, 1))
    cfg = {rid: RunConfig.from_dict(runs.loc[rid].to_dict()) for rid in (twin, alone)}
    old = {rid: old_run_id({**cfg[rid].to_dict(), "dropout": -0.0}, 2) for rid in (twin, alone)}
    arabic = old_run_id({**cfg[twin].to_dict(), "classes": "\u0665\u0666\u0667\u0668\u0669"}, 2)
    assert len({twin, alone, *old.values(), arabic}) == 5  # five ids, three configurations
    ascii_id = RunConfig.from_dict({**cfg[twin].to_dict(), "classes": "56789"}).run_id
    with duckdb.connect(str(db)) as con:
        _insert_copy(con, twin, old[twin], 9.0, dropout=-0.0)  # trained twice: under both ids
        _insert_copy(con, twin, arabic, 0.7, classes="\u0665\u0666\u0667\u0668\u0669")  # a configuration of its own
        con.execute("UPDATE runs SET run_id = ?, dropout = ? WHERE run_id = ?", [old[alone], -0.0, alone])  # only there
        con.execute("UPDATE curves SET run_id = ? WHERE run_id = ?", [old[alone], alone])
        con.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")  # as the version before wrote it
        con.execute("INSERT INTO queue VALUES (?, ?, 'x', 'queued', NULL, NULL, now(), 0, NULL)",
                    [old[twin], json.dumps({**cfg[twin].to_dict(), "dropout": -0.0})])
        con.execute("INSERT INTO sweeps VALUES ('s1', 'old sweep', now(), ?)", [[old[twin], old[alone], twin]])
    store = Store(db)
    after = store.runs(status=None).set_index("run_id")
    assert len(after) == 5 and set(after.index) == {*runs.index, ascii_id}  # one row per configuration, its id
    assert after.loc[twin, "val_loss"] == 0.5  # the row already under its canonical id is the one kept
    assert after.loc[ascii_id, ["classes", "val_loss"]].tolist() == ["56789", 0.7]
    assert (after.dropout == 0.0).all() and not np.signbit(after.dropout).any()
    curves = store.curves()
    assert set(curves.run_id) == {*runs.index, ascii_id} and len(curves) == 15
    assert (curves[curves.run_id != ascii_id].val_loss < 1).all()  # the dropped copy's curve went with it
    assert store.queue_counts().queued == 0  # the queued copy of a cached run left the queue
    with duckdb.connect(str(db)) as con:
        ids = con.execute("SELECT run_ids FROM sweeps WHERE sweep_id = 's1'").fetchone()[0]
    assert sorted(ids) == sorted({twin, alone})
    assert store.cached_ids(list(runs.index)) == set(runs.index)


# ---------------------------------------------------------------- imports


def _export(tmp_path, label="lab A"):
    db = tmp_path / "src.duckdb"
    fake_runs(db)
    out = tmp_path / "export.parquet"
    assert main(["export", "--format", "parquet", "-o", str(out), "--db", str(db), "--label", label]) == 0
    return out


def _edit(path, dst, **columns):
    t = pq.read_table(path)
    for name, fn in columns.items():
        i = t.schema.get_field_index(name)
        t = t.set_column(i, t.schema.field(name), pa.array(fn(t.column(name).to_pylist()), t.schema.field(name).type))
    pq.write_table(t, dst)  # the schema's metadata travels with the table


def test_an_imported_row_of_an_older_protocol_must_hash_to_its_id(db, tmp_path, capsys):
    src = _export(tmp_path)
    fake_runs(db, widths=(3,))
    before = digest(db)
    row = pq.read_table(src).slice(0, 1).to_pylist()[0]
    fields = {k: row[k] for k in RunConfig.__dataclass_fields__}
    untrained = RunConfig(**fields).run_id  # the current id: this configuration is not cached here
    capsys.readouterr()
    bad = tmp_path / "bad.parquet"
    _edit(src, bad, protocol=lambda v: [1] + v[1:])  # an old protocol, the id of the current one
    assert main(["import", str(bad)]) == 2
    one_line(capsys, str(bad), "the run_id is not its configuration's")
    assert digest(db) == before and not Store(db).cached_ids([untrained])
    for protocol in (0, -3):
        _edit(src, bad, protocol=lambda v: [protocol] + v[1:])
        assert main(["import", str(bad)]) == 2
        one_line(capsys, str(bad), f"protocol {protocol}")
    good = tmp_path / "good.parquet"  # a stale run whose id is its own protocol's: imported, stale
    _edit(src, good, protocol=lambda v: [1] + v[1:], run_id=lambda v: [old_run_id(fields, 1)] + v[1:])
    assert main(["import", str(good)]) == 0
    assert Store(db).runs(status=None).protocol.eq(1).sum() == 1 and not Store(db).cached_ids([untrained])


def test_an_export_of_an_older_version_with_minus_zero_rows_imports_under_the_canonical_ids(db, tmp_path, capsys):
    src = _export(tmp_path)
    t = pq.read_table(src)
    zero = [i for i, d in enumerate(t.column("dropout").to_pylist()) if d == 0.0]
    renamed = {}

    def minus_zero_ids(ids):
        for i in zero:
            fields = {k: t.column(k)[i].as_py() for k in RunConfig.__dataclass_fields__}
            renamed[ids[i]] = old_run_id({**fields, "dropout": -0.0}, 2)
            ids[i] = renamed[ids[i]]
        return ids

    old = tmp_path / "old.parquet"
    _edit(src, old, run_id=minus_zero_ids, dropout=lambda v: [-0.0 if x == 0 else x for x in v])
    assert main(["import", str(old)]) == 0
    runs = Store(db).runs()
    assert set(runs.run_id) == set(pq.read_table(src).column("run_id").to_pylist()) and not np.signbit(runs.dropout).any()
    assert set(Store(db).curves().run_id) == set(runs.run_id)
    assert main(["import", str(src)]) == 0 and "16 already cached" in capsys.readouterr().out


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
@pytest.mark.parametrize("field", ["val_loss", "val_acc"])
def test_curve_points_with_an_infinite_or_nan_value_are_refused(db, tmp_path, capsys, field, value):
    src = _export(tmp_path)
    fake_runs(db, widths=(3,))
    before = digest(db)
    bad = tmp_path / "bad.parquet"
    _edit(src, bad, curve=lambda v: [[{**v[0][0], field: value}, *v[0][1:]], *v[1:]])
    capsys.readouterr()
    assert main(["import", str(bad)]) == 2
    one_line(capsys, str(bad), f"a curve point has a {field} that is not finite ({value})")
    assert digest(db) == before


def test_a_null_curve_loss_is_still_a_diverged_runs_unknown(db, tmp_path):
    src = _export(tmp_path)
    ok = tmp_path / "ok.parquet"
    _edit(src, ok, curve=lambda v: [[{**v[0][0], "val_loss": None}, *v[0][1:]], *v[1:]])
    assert main(["import", str(ok)]) == 0


def test_the_shipped_grid_over_runs_that_differ_by_an_fp32_ulp_is_no_conflict(db, capsys):
    exp = exchange.read(exchange.SHIPPED)
    mine = exp.runs.head(20).copy()
    for col in ("val_loss", "val_acc", "train_loss", "val_loss_even", "val_loss_odd"):  # one fp32 step away
        mine[col] = mine[col].map(lambda x: x if pd.isna(x) else float(np.nextafter(np.float32(x), np.float32(1e9))))
    mine.loc[mine.index[:2], "val_loss"] *= 1.001  # two real conflicts
    Store(db).import_runs(mine, exp.curves, source="trained here (test)")
    assert main(["import", str(exchange.SHIPPED)]) == 1
    out, err = capsys.readouterr()
    assert "18 already cached (duplicates" in out and "2 conflicts" in err


# ---------------------------------------------------------------- imported text on the terminal


def test_escape_codes_from_a_file_never_reach_the_terminal(db, tmp_path, capsys):
    assert printable("a\x1b[31mred\x07\x9b\n\u202e.") == "a\\x1b[31mred\\x07\\x9b\\n\\u202e."
    assert printable("ok · 56789 é") == "ok · 56789 é"
    src = _export(tmp_path, label="\x1b[2J\x1b[31mlab A\x07")
    evil = tmp_path / "evil\x1b[1m.parquet"
    t = pq.read_table(src)
    meta = {**t.schema.metadata, b"scaling_lab.processor": b"\x1b]0;owned\x07CPU", b"scaling_lab.git_commit": b"\x1b[8mabc"}
    pq.write_table(t.replace_schema_metadata(meta), evil)
    capsys.readouterr()
    assert main(["import", str(evil)]) == 0
    assert main(["runs"]) == 0
    out, err = capsys.readouterr()
    assert "\\x1b]0;owned\\x07CPU" in out and "\\x1b[2J\\x1b[31mlab A\\x07" in out
    for text in (out, err):
        assert not any(ord(c) < 32 and c != "\n" or 0x7f <= ord(c) <= 0x9f for c in text), repr(text)


def test_metadata_that_is_not_utf8_is_refused_naming_the_file(db, tmp_path, capsys):
    src = _export(tmp_path)
    bad = tmp_path / "latin1.parquet"
    t = pq.read_table(src)
    pq.write_table(t.replace_schema_metadata({**t.schema.metadata, b"scaling_lab.label": b"caf\xe9"}), bad)
    capsys.readouterr()
    assert main(["import", str(bad)]) == 2
    one_line(capsys, str(bad), "scaling_lab.label is not UTF-8")
    assert not db.exists()


# ---------------------------------------------------------------- tracebacks that are one line now


def test_a_full_disk_during_an_import_is_one_line_and_loses_nothing(tmp_path):
    db = tmp_path / "runs.duckdb"
    store = fake_runs(db)
    runs, curves = store.runs(status=None), store.curves()
    p = limited(64 * 1024, "import", str(exchange.SHIPPED), "--db", str(db))  # the WAL cannot grow past 64 KiB
    err = p.stderr.strip()
    assert p.returncode == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert f"cannot write {db}" in err and "File too large" in err and "nothing was written" in err
    pd.testing.assert_frame_equal(Store(db).runs(status=None), runs)
    pd.testing.assert_frame_equal(Store(db).curves(), curves)


def test_a_full_disk_during_a_sweep_is_one_line_and_loses_nothing(tmp_path):
    db = tmp_path / "runs.duckdb"
    store = fake_runs(db)
    runs = store.runs(status=None)
    p = limited(2048, "sweep", "--widths", "0:12", "--fractions", "1/1024", "--seeds", "0:5", "--db", str(db))
    err = p.stderr.strip()
    assert p.returncode == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert f"cannot write {db}" in err
    pd.testing.assert_frame_equal(Store(db).runs(status=None), runs)
    assert Store(db).queue_counts().queued == 0


def test_a_db_path_with_a_name_too_long_is_one_line(tmp_path, capsys):
    long = tmp_path / ("r" * 300 + ".duckdb")
    for cmd in (["runs"], ["fit"], ["sweep", "--widths", "0", "--fractions", "1/256", "--dry-run"],
                ["import", str(exchange.SHIPPED)], ["export", "-o", str(tmp_path / "x.csv")]):
        assert main([*cmd, "--db", str(long)]) == 2
        one_line(capsys, "File name too long")
    assert list(tmp_path.iterdir()) == []


SCHEMA_DAMAGE = {
    "version -1": ("UPDATE meta SET value = '-1' WHERE key = 'schema_version'", "schema version '-1'"),
    "version abc": ("UPDATE meta SET value = 'abc' WHERE key = 'schema_version'", "schema version 'abc'"),
    "no version row": ("DELETE FROM meta WHERE key = 'schema_version'", "no schema version"),
    "runs table gone": ("DROP TABLE runs", "its runs table is missing"),
    "curves table gone": ("DROP TABLE curves", "its curves table is missing"),
}


@pytest.mark.parametrize("case", SCHEMA_DAMAGE)
def test_a_database_with_a_bad_schema_row_or_a_missing_table_is_named_and_left_alone(tmp_path, capsys, case):
    db = tmp_path / "runs.duckdb"
    fake_runs(db, widths=(0,))
    sql, message = SCHEMA_DAMAGE[case]
    with duckdb.connect(str(db)) as con:
        con.execute(sql)
    before = digest(db)
    capsys.readouterr()
    for cmd in (["runs"], ["fit"], ["sweep", "--widths", "1", "--fractions", "1/256", "--dry-run"],
                ["import", str(exchange.SHIPPED)], ["export", "-o", str(tmp_path / "x.csv")]):
        assert main([*cmd, "--db", str(db)]) == 2
        one_line(capsys, str(db), message, "left untouched")
        assert digest(db) == before
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize("args, message", [
    (["--backtest", "1e308"], "argument --backtest: 1e+308 is not a number of octaves in (0, 64]"),
    (["--backtest", "inf"], "argument --backtest: inf is not a number of octaves"),
    (["--bootstrap", "1000000000"], "argument --bootstrap: 1000000000 resamples: at most 10000"),
    (["--bootstrap=-1"], "argument --bootstrap: -1 resamples"),
    (["--lr", "abc"], "argument --lr: 'abc' is neither 'tuned' nor a positive multiplier"),
    (["--lr", "nan"], "argument --lr: 'nan' is neither"),
    (["--seed", "-1"], "argument --seed: -1 is not an integer in 0..4294967295"),
    (["--seed", "x"], "argument --seed: 'x' is not an integer"),
    (["--classes", "\u00b2"], "argument --classes: '\u00b2' is not a set of distinct digits"),
    (["--drop-highest=-2"], "argument --drop-highest: -2 is not an integer >= 0"),
])
def test_fit_flags_are_checked_before_anything_is_read_and_named(tmp_path, capsys, args, message):
    assert main(["fit", *args, "--db", str(tmp_path / "none.duckdb")]) == 2
    one_line(capsys, "scaling fit: error: ", message)
    assert list(tmp_path.iterdir()) == []


def test_a_superscript_digit_in_sweep_classes_is_one_line(db, capsys):
    assert main(["sweep", "--widths", "0", "--fractions", "1/256", "--classes", "5\u00b2", "--dry-run"]) == 2
    one_line(capsys, "--classes: '5\u00b2' is not a set of distinct digits")
    with pytest.raises(ValueError, match="classes must be distinct digits"):
        RunConfig(0, 1 / 256, classes="\u00b2")


def test_a_header_only_csv_to_fit_is_named(tmp_path, capsys):
    table = tmp_path / "t.csv"
    table.write_text("N,D,L\n")
    assert main(["fit", "--csv", str(table), "--n-col", "N", "--d-col", "D", "--loss-col", "L"]) == 2
    one_line(capsys, f"--csv {table}: no rows")
    table.write_text("N,D,L\n1,2,3\n2,3,4\n")
    assert main(["fit", "--csv", str(table), "--n-col", "N", "--d-col", "D", "--loss-col", "L", "--drop-highest", "2"]) == 2
    one_line(capsys, "--drop-highest 2: the table has 2 rows")


def test_read_commands_on_a_missing_database_create_nothing(tmp_path, capsys):
    missing = tmp_path / "typo" / "runs.duckdb"
    for cmd in (["runs"], ["runs", "--json"], ["fit"], ["export", "-o", str(tmp_path / "x.csv")]):
        assert main([*cmd, "--db", str(missing)]) == 2
        one_line(capsys, f"{missing}: no such database", "nothing was created")
    assert list(tmp_path.iterdir()) == []


def test_an_argparse_error_is_one_line_naming_the_flag(capsys):
    assert main(["fit", "--epochs", "two"]) == 2
    one_line(capsys, "scaling fit: error: argument --epochs: invalid int value: 'two'")
    assert main(["export"]) == 2
    one_line(capsys, "scaling export: error: the following arguments are required: -o/--output")
