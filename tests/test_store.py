import hashlib
import socket
import subprocess
import sys

import duckdb
import pytest

from scaling import jobs, train
from scaling.config import RunConfig
from scaling.store import SCHEMA_VERSION, Store, StoreError

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


def test_failed_runs_are_retried(db):
    store = Store(db)
    c = configs(1)[0]
    store.add_results([jobs._failed(c, "cpu", "out of memory: test")])
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
