import hashlib
import math
import socket
import subprocess
import sys
import time

import duckdb
import pandas as pd
import pytest

from scaling.core import grid
from scaling.core.config import RunConfig
from scaling.store import SCHEMA_VERSION, QueueFull, Store, StoreError
from scaling.training import train
from scaling.workers import jobs, stacks

TINY = 1 / 256


def configs(n=2):
    return [RunConfig(width_step=0, data_fraction=TINY, seed=s) for s in range(n)]


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_results_round_trip_and_cache(db):
    store = Store(db)
    cfgs = configs(3)
    _, cached, new = store.enqueue(cfgs)
    assert (cached, new) == (0, 3)
    progress = jobs.work(store, "cpu", curve=True)
    assert progress.trained == 3
    df = store.runs()
    assert sorted(df.run_id) == sorted(c.run_id for c in cfgs)
    assert (df.params == cfgs[0].params).all() and (df.examples == 234).all()
    assert set(store.curves().run_id) == set(df.run_id)
    assert store.queue_counts().queued == 0
    _, cached, new = store.enqueue(cfgs)  # nothing is trained twice
    assert (cached, new) == (3, 0) and store.claim("me:1", 10) == []


def test_run_id_covers_every_field_and_the_protocol():
    base = RunConfig(width_step=1, data_fraction=0.5)
    ids = {base.run_id}
    for change in [dict(width_step=2), dict(data_fraction=0.25), dict(seed=1), dict(dropout=0.2), dict(lr_mult=2.0),
                   dict(lr_rule="constant"), dict(epochs=2), dict(batch_size=32), dict(dataset="kmnist")]:
        ids.add(RunConfig(**{**base.to_dict(), **change}).run_id)
    assert len(ids) == 10
    assert RunConfig(width_step=1, data_fraction=1 / 2).run_id == base.run_id


def test_claims_of_a_dead_worker_return_to_the_queue(db):
    store = Store(db)
    store.enqueue(configs(2))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    owner = f"{socket.gethostname()}:{dead.stdout.strip()}"
    assert len(store.claim(owner, 10)) == 2
    assert store.queue_counts().running == 2
    assert len(store.claim("someone-alive:1", 10)) == 2  # the dead pid's claim was released


def test_a_running_stack_counts_its_time_from_the_claim_not_the_heartbeat(db):
    import os
    store = Store(db)
    sweep, _, _ = store.enqueue(configs(2))
    owner = f"{socket.gethostname()}:{os.getpid()}"
    assert len(store.claim(owner, 10)) == 2
    time.sleep(1.2)
    store.heartbeat(owner)  # the worker renews it every minute while the stack trains
    running = store.sweep_rows(store.sweep_run_ids(sweep)).running
    assert len(running) == 2 and all(s >= 1.0 for _, s in running)


def test_failed_runs_are_retried(db):
    store = Store(db)
    c = configs(1)[0]
    store.add_results([stacks.failed_result(c, "cpu", "out of memory: test")])
    assert store.runs(status="failed").error.tolist() == ["out of memory: test"]
    _, cached, new = store.enqueue([c])
    assert (cached, new) == (0, 1)
    jobs.work(store, "cpu")
    assert store.runs(status=None).status.tolist() == ["ok"]


def test_not_a_duckdb_file_is_refused_untouched(tmp_path):
    bad = tmp_path / "notes.duckdb"
    bad.write_text("my thesis notes\n" * 100)
    before = digest(bad)
    with pytest.raises(StoreError, match="notes.duckdb is not a DuckDB database file"):
        Store(bad).runs()
    assert digest(bad) == before


def test_newer_schema_is_refused_untouched(db):
    Store(db).runs()
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION + 1)])
    before = digest(db)
    with pytest.raises(StoreError, match="newer than this Scaling Lab"):
        Store(db).runs()
    assert digest(db) == before


def test_another_programs_duckdb_is_refused(tmp_path):
    other = tmp_path / "other.duckdb"
    with duckdb.connect(str(other)) as con:
        con.execute("CREATE TABLE t (x INT)")
    with pytest.raises(StoreError, match="another program"):
        Store(other).runs()


def test_waits_for_a_lock_held_by_another_process(db):
    Store(db).runs()
    holder = subprocess.Popen([sys.executable, "-c",
                               f"import duckdb, time; c = duckdb.connect({str(db)!r}); print('held', flush=True); time.sleep(1.5)"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    assert Store(db, timeout=30).runs().empty  # waited for the lock instead of failing
    holder.wait()
    holder = subprocess.Popen([sys.executable, "-c",
                               f"import duckdb, time; c = duckdb.connect({str(db)!r}); print('held', flush=True); time.sleep(5)"],
                              stdout=subprocess.PIPE, text=True)
    holder.stdout.readline()
    with pytest.raises(StoreError, match="Could not set lock"):
        Store(db, timeout=0.5).runs()
    holder.kill()


# ---------------------------------------------------------------- damaged files, zombies, hostile strings

BLOCK = 262144  # DuckDB's block size; the file is a 12 KiB header then whole blocks


def filled_db(path, n_widths=4):
    """A database holding 48 finished runs with curves, written through the store (no training:
    the numbers are made up, the writes are real)."""
    store = Store(path)
    cfgs = grid.expand(list(range(n_widths)), [1 / 256, 1 / 128], [0, 1, 2], [0.0, 0.2])
    store.enqueue(cfgs)
    store.add_results([train.RunResult(c, 0.5, 0.9, 0.6, 0.1, "cpu", "ok", "",
                                       tuple((e, 1 / e**0.1, 0.5) for e in (10, 50, c.examples))) for c in cfgs])
    return cfgs


DAMAGE = {
    "header block checksum": lambda raw: raw[:4096 * 3 + 100] + b"\xab" * 64 + raw[4096 * 3 + 164:],
    "first data block checksum": lambda raw: raw[:12288 + BLOCK] + b"\xab" * 64 + raw[12288 + BLOCK + 64:],
    "truncated to its first block": lambda raw: raw[:12288 + BLOCK],
}


def _only_curves_block(db) -> int:
    """The offset of a block that the `curves` table uses and `runs` does not (found by trying:
    the layout is DuckDB's business)."""
    raw, probe = db.read_bytes(), db.with_name("probe.duckdb")
    for off in range(12288 + BLOCK, len(raw), BLOCK):
        probe.write_bytes(raw[:off] + b"\xab" * 64 + raw[off + 64:])
        with duckdb.connect(str(probe), read_only=True) as con:
            con.execute("SELECT max(hash(COLUMNS(*))) FROM runs").fetchall()
            try:
                con.execute("SELECT max(hash(COLUMNS(*))) FROM curves").fetchall()
            except duckdb.Error:
                probe.unlink()
                return off
    pytest.fail("no block holds curves alone")


DAMAGE["a block of the curves alone"] = None  # reads of `runs` never touch it: only a full read finds it


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_database_is_refused_untouched_by_reads_and_writes(tmp_path, damage):
    db = tmp_path / "runs.duckdb"
    cfgs = filled_db(db)
    assert db.stat().st_size > 12288 + 4 * BLOCK  # the damage lands inside the data
    if DAMAGE[damage] is None:
        off = _only_curves_block(db)
        raw = db.read_bytes()
        db.write_bytes(raw[:off] + b"\xab" * 64 + raw[off + 64:])
        assert len(Store(db).runs()) == 48  # the damage is invisible to what the pages read first
    else:
        db.write_bytes(DAMAGE[damage](db.read_bytes()))
    before = digest(db)
    writes = [lambda s: s.enqueue(configs(1)), lambda s: s.claim("me:1", 8), lambda s: s.cancel(),
              lambda s: s.add_results([stacks.failed_result(cfgs[0], "cpu", "x")]), lambda s: s.delete_runs([cfgs[0].run_id])]
    for write in writes:
        with pytest.raises(StoreError) as e:
            write(Store(db))
        msg = str(e.value)
        assert str(db) in msg and "damaged" in msg and "left untouched" in msg and "restore it from a backup" in msg
        assert digest(db) == before and not db.with_name(db.name + ".wal").exists()
    try:  # a read either fails the same way or, where it never touches the damage, answers
        assert len(Store(db).runs()) == 48
    except StoreError as e:
        assert "damaged" in str(e)
    assert digest(db) == before


def test_claims_of_a_zombie_worker_return_to_the_queue(db):
    """A worker killed while its parent lives on (the app's server never waits for it) stays a
    zombie: its pid still answers kill(pid, 0), but it trains nothing."""
    store = Store(db)
    store.enqueue(configs(2))
    zombie = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    zombie.kill()
    for _ in range(200):  # killed, not yet reaped: state Z
        with open(f"/proc/{zombie.pid}/stat") as f:
            if f.read().rpartition(")")[2].split()[0] == "Z":
                break
        time.sleep(0.01)
    else:
        pytest.fail("the killed process never became a zombie")
    try:
        assert len(store.claim(f"{socket.gethostname()}:{zombie.pid}", 10)) == 2
        assert len(store.claim("someone-alive:1", 10)) == 2  # the zombie's claim was released
    finally:
        zombie.wait()


def test_a_diverged_run_is_kept_as_such_and_not_trained_again(db):
    store = Store(db)
    good, bad = RunConfig(width_step=0, data_fraction=TINY), RunConfig(width_step=0, data_fraction=TINY, lr_mult=1e30)
    store.enqueue([good, bad])
    progress = jobs.work(store, "cpu")
    assert (progress.trained, progress.failed) == (2, 0)  # diverged is a result, not a failure
    df = store.runs(status=None).set_index("run_id")
    assert df.loc[bad.run_id, "status"] == "diverged" and "non-finite" in df.loc[bad.run_id, "error"]
    assert pd.isna(df.loc[bad.run_id, "val_loss"])  # NaN/inf are stored as unknown, not as a number
    assert df.loc[good.run_id, "status"] == "ok"
    assert store.enqueue([good, bad])[1:] == (2, 0)  # both cached: nothing is trained again


def test_hostile_strings_are_data_not_sql(db):
    store = Store(db)
    evil = "x'); DROP TABLE runs; --"
    sweep, _, _ = store.enqueue(configs(1), label=evil)
    assert store.sweeps().label.tolist() == [evil]
    with pytest.raises(StoreError, match="no sweep"):
        store.sweep_run_ids("' OR 1=1 --")
    assert store.cached_ids([evil, "' OR '1'='1"]) == set()
    assert store.delete_runs(["' OR '1'='1"]) == 0 and store.cancel(["' OR '1'='1"]) == 0
    assert store.queue_counts().queued == 1 and store.sweep_run_ids(sweep) == [configs(1)[0].run_id]


def test_queue_cap_comes_from_the_environment(db, monkeypatch):
    monkeypatch.setenv("SCALING_MAX_QUEUE", "3")
    store = Store(db)
    with pytest.raises(QueueFull, match="cap of 3"):
        store.enqueue(configs(4))
    assert store.queue_counts().queued == 0  # refused whole, not truncated
    store.enqueue(configs(3))
    monkeypatch.setenv("SCALING_MAX_QUEUE", "many")
    with pytest.raises(StoreError, match="SCALING_MAX_QUEUE='many' must be a positive integer"):
        store.enqueue(configs(4))


def test_a_cancelled_grid_queued_again_is_one_active_sweep(db):
    store = Store(db)
    first, _, _ = store.enqueue(configs(3), label="grid")
    store.cancel(store.sweep_run_ids(first))
    again, _, _ = store.enqueue(configs(3), label="grid")
    other, _, _ = store.enqueue(configs(4)[3:], label="another")
    assert store.active_sweeps() == [(other, "another"), (again, "grid")]


# ---------------------------------------------------------------- import and export (scaling.store.exchange)


def _export(store, tmp_path, name="export.parquet"):
    from scaling.store import exchange

    runs, curves, sweeps = store.runs_and_curves()
    path = tmp_path / name
    path.write_bytes(exchange.to_parquet(runs, curves, exchange.provenance(runs, sweeps, "test", "a test grid")))
    return path


def _import(store, path):
    from scaling.store import exchange

    exp = exchange.read(path)
    return store.import_runs(exp.runs, exp.curves, source=exp.source(path))


def test_an_export_imported_into_a_fresh_database_gives_the_same_runs_and_curves(tmp_path):
    a = Store(tmp_path / "a.duckdb")
    filled_db(a.path)
    path = _export(a, tmp_path)
    b = Store(tmp_path / "b.duckdb")
    res = _import(b, path)
    assert (res.added, res.duplicates, res.conflicts) == (48, 0, ())
    assert res.curve_points == len(a.curves()) == 3 * 48
    ra, rb = a.runs(status=None), b.runs(status=None)
    pd.testing.assert_frame_equal(ra.drop(columns="imported_from"), rb.drop(columns="imported_from"))
    assert ra.imported_from.isna().all() and rb.imported_from.str.startswith("a test grid · ").all()
    pd.testing.assert_frame_equal(a.curves(), b.curves())
    res = _import(b, path)  # twice: nothing added, every run a duplicate
    assert (res.added, res.duplicates, res.conflicts, res.curve_points) == (0, 48, (), 0)
    assert len(b.runs()) == 48 and len(b.curves()) == 3 * 48
    # exported again from b and imported into c, a run keeps where it was first trained
    c = Store(tmp_path / "c.duckdb")
    _import(c, _export(b, tmp_path, "again.parquet"))
    assert c.runs().imported_from.tolist() == b.runs().imported_from.tolist()


def test_a_conflict_is_reported_and_the_cached_run_kept(tmp_path):
    a = Store(tmp_path / "a.duckdb")
    cfgs = filled_db(a.path)
    b = Store(tmp_path / "b.duckdb")
    other = [train.RunResult(c, 0.25, 0.9, 0.6, 0.1, "cpu", "ok") for c in cfgs[:3]]  # val_loss 0.25, not 0.5
    b.add_results(other)
    res = _import(b, _export(a, tmp_path))
    assert (res.added, res.duplicates) == (45, 0) and len(res.conflicts) == 3
    assert {(c.field, c.cached, c.imported) for c in res.conflicts} == {("val_loss", 0.25, 0.5)}
    kept = b.runs().set_index("run_id")
    assert (kept.loc[[c.config.run_id for c in other], "val_loss"] == 0.25).all()
    assert kept.loc[[c.config.run_id for c in other], "imported_from"].isna().all()


def test_an_imported_run_counts_as_cached_and_leaves_the_queue(tmp_path):
    a = Store(tmp_path / "a.duckdb")
    cfgs = filled_db(a.path)
    b = Store(tmp_path / "b.duckdb")
    b.enqueue(cfgs[:4])
    b.add_results([train.RunResult(cfgs[4], math.nan, math.nan, math.nan, 0.1, "cpu", "failed", "boom")])
    res = _import(b, _export(a, tmp_path))
    assert res.added == 48 and res.dequeued == 4  # the failed attempt was replaced, not a conflict
    assert b.queue_counts().queued == 0 and b.cached_ids([c.run_id for c in cfgs]) == {c.run_id for c in cfgs}
    assert b.runs(status=None).status.eq("ok").all()
    _, cached, new = b.enqueue(cfgs)
    assert (cached, new) == (48, 0)  # nothing is trained again


def test_a_schema_3_database_migrates_and_reads_unchanged(tmp_path):
    """A database of the schema before imports: migrated on open, every run and curve as it was,
    each marked as trained here (imported_from NULL)."""
    from scaling.store.db import MIGRATIONS

    path = tmp_path / "v3.duckdb"
    with duckdb.connect(str(path)) as con:
        for m in MIGRATIONS[:3]:
            con.execute(m)
        con.execute("INSERT INTO meta VALUES ('schema_version', '3')")
        con.execute("INSERT INTO runs VALUES ('r0', 2, 'mnist', 0, 4, 0, 0.5, 0, 'fan_in', 1, 1, 64, 1, 1, 1, "
                    "0.5, 0.9, 0.5, 1, 'cpu (2 threads)', 'ok', '', TIMESTAMP '2026-12-01 10:00:00', 'cpu', 'fp32', "
                    "0.49, 0.51)")
        con.execute("INSERT INTO curves VALUES ('r0', 10, 1.0, 0.8, 0.7)")
        before = con.execute("SELECT * FROM runs").df()
    store = Store(path)
    runs = store.runs(status=None)
    assert runs.imported_from.isna().all()
    after = runs.drop(columns="imported_from")
    pd.testing.assert_frame_equal(after[before.columns], before)
    assert store.curves().values.tolist() == [["r0", 10, 1.0, 0.8, 0.7]]
    with duckdb.connect(str(path)) as con:
        assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)


def test_the_runs_pages_export_of_some_runs_imports_elsewhere_with_their_curves_and_axes(tmp_path):
    from scaling import services

    a = Store(tmp_path / "a.duckdb")
    filled_db(a.path)
    noisy = [RunConfig(0, 1 / 64, seed=s, label_noise=0.2, arch="mlp", classes="56789") for s in (0, 1)]
    a.add_results([train.RunResult(c, 0.7, 0.8, 0.9, 0.1, "cpu", "ok", curve=((10, 1.0, 0.5),)) for c in noisy])
    shown = a.runs()["run_id"].tolist()[:5] + [c.run_id for c in noisy]
    out = services.export_bytes(a, shown, label="five and two")
    assert out.runs == 7 and out.meta["label"] == "five and two"
    path = tmp_path / "some.parquet"
    path.write_bytes(out.data)
    b = Store(tmp_path / "b.duckdb")
    res = _import(b, path)
    assert (res.added, res.conflicts) == (7, ())
    got = b.runs().set_index("run_id")
    assert set(got.index) == set(shown)
    assert (got.loc[noisy[0].run_id, ["label_noise", "arch", "classes"]].tolist() == [0.2, "mlp", "56789"])
    assert len(b.curves()) == len(a.curves()[a.curves().run_id.isin(shown)])


def test_a_snapshot_reads_the_runs_the_sweeps_and_the_curves_at_once(db):
    store = Store(db)
    store.enqueue(configs(3), label="three")
    store.add_results([train.RunResult(c, 0.5, 0.9, 0.6, 0.1, "cpu", "ok", "", ((10, 1.0, 0.5), (50, 0.8, 0.6)))
                       for c in configs(2)])
    snap = store.snapshot()
    assert snap.runs.equals(store.runs(None)) and snap.curves.equals(store.curves())
    assert len(snap.curves) == 4 and [label for _, label in snap.sweeps] == ["three"]  # one run still queued
    ids = [c.run_id for c in configs(4)]  # two trained, one queued, one unknown
    assert snap.known_ids(ids) == store.known_ids(ids) == (set(ids[:2]), {ids[2]})
