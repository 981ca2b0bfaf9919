"""Crash safety and sharing, for real: subprocesses killed with SIGKILL, concurrent sweeps and workers."""
import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
import time

import duckdb
import pytest

from scaling import grid
from scaling.store import Store, StoreError

GRID = ["--widths", "0:2", "--fractions", "1/256,1/128", "--seeds", "0:2"]  # 8 runs, 4 stacks of 2
CONFIGS = grid.expand([0, 1], [1 / 256, 1 / 128], [0, 1], [0.0])


def cli(db, *args, **kw):
    return subprocess.Popen([sys.executable, "-m", "scaling", *args, "--db", str(db)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def counts(db):
    with duckdb.connect(str(db), read_only=True) as con:
        runs, distinct = con.execute("SELECT count(*), count(DISTINCT run_id) FROM runs").fetchone()
        queued = con.execute("SELECT count(*) FROM queue").fetchone()[0]
    return runs, distinct, queued


def test_sigkill_during_sweeps_loses_and_duplicates_nothing(tmp_path):
    db = tmp_path / "runs.duckdb"
    rng = random.Random(1)
    for _ in range(5):
        p = cli(db, "sweep", *GRID, "--device", "cpu")
        time.sleep(rng.uniform(2.0, 6.0))  # start-up is ~3 s, each stack ~1 s: kills land all over
        p.send_signal(signal.SIGKILL)
        p.wait()
        if db.exists():
            runs, distinct, _ = counts(db)
            assert runs == distinct <= 8
    p = cli(db, "sweep", *GRID, "--device", "cpu")
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    runs, distinct, queued = counts(db)
    assert runs == distinct == 8 and queued == 0
    assert {r for r in Store(db).runs().run_id} == {c.run_id for c in CONFIGS}


def test_two_terminal_sweeps_at_once_both_finish_and_share_the_work(tmp_path):
    db = tmp_path / "runs.duckdb"
    a = cli(db, "sweep", *GRID, "--device", "cpu")
    b = cli(db, "sweep", "--widths", "0:2", "--fractions", "1/256,1/128", "--seeds", "1:3", "--device", "cpu")
    out_a, err_a = a.communicate(timeout=300)
    out_b, err_b = b.communicate(timeout=300)
    assert a.returncode == 0 and b.returncode == 0, (err_a, err_b)
    trained = [int(o.split("trained ")[1].split()[0]) for o in (out_a, out_b)]
    assert sum(trained) == 12  # 8 + 8 configs, 4 in common, each trained once
    runs, distinct, queued = counts(db)
    assert runs == distinct == 12 and queued == 0


def test_eight_sessions_queue_overlapping_sweeps_each_config_trained_once(tmp_path):
    db = tmp_path / "runs.duckdb"
    store = Store(db)
    sessions = [grid.expand([0, 1], [1 / 256], [s % 3, (s + 1) % 3], [0.0, 0.2]) for s in range(8)]
    errors = []

    def session(cfgs):
        try:
            Store(db).enqueue(cfgs, label="session")
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=session, args=(c,)) for c in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    union = {c.run_id for cfgs in sessions for c in cfgs}
    assert store.queue_counts().queued == len(union) == 12
    workers = [cli(db, "worker", "--device", "cpu", "--idle-exit", "2") for _ in range(2)]
    outs = [w.communicate(timeout=300)[0] for w in workers]
    assert sum(int(o.split("trained ")[1].split()[0]) for o in outs) == 12  # nobody trained a run twice
    cached = set(store.runs().run_id)
    for cfgs in sessions:  # every session sees every one of its results
        assert {c.run_id for c in cfgs} <= cached


def test_corrupt_database_is_named_and_left_byte_for_byte(tmp_path):
    db = tmp_path / "runs.duckdb"
    assert cli(db, "sweep", "--widths", "0", "--fractions", "1/256", "--device", "cpu").wait(timeout=120) == 0
    raw = bytearray(db.read_bytes())
    raw[4096 * 3 : 4096 * 3 + 2000] = b"\xab" * 2000  # the first data blocks: DuckDB's checksums catch it
    db.write_bytes(raw)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    p = cli(db, "runs")
    _, err = p.communicate(timeout=60)
    assert p.returncode == 2 and f"cannot open {db}" in err and "left untouched" in err
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_read_only_database_can_be_read_not_written(tmp_path):
    db = tmp_path / "runs.duckdb"
    assert cli(db, "sweep", "--widths", "0", "--fractions", "1/256", "--device", "cpu").wait(timeout=120) == 0
    os.chmod(db, 0o444)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    assert len(Store(db).runs()) == 1
    with pytest.raises(StoreError, match="is read-only"):
        Store(db).enqueue(grid.expand([1], [1 / 256], [0], [0.0]))
    p = cli(db, "sweep", "--widths", "1", "--fractions", "1/256", "--device", "cpu")
    _, err = p.communicate(timeout=60)
    assert p.returncode == 2 and "is read-only" in err
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
