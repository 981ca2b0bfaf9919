"""Crash safety and sharing, for real: subprocesses killed with SIGKILL at random moments, the app's
worker and terminal sweeps on one database at once, damaged and foreign database files."""
import ctypes
import hashlib
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import duckdb
import pytest

from scaling import services
from scaling.cli import main
from scaling.core import grid
from scaling.store import SCHEMA_VERSION, Store, StoreError

ROOT = Path(__file__).resolve().parents[2]
GRID = ["--widths", "0:2", "--fractions", "1/256,1/128", "--seeds", "0:2"]  # 8 runs
CONFIGS = grid.expand([0, 1], [1 / 256, 1 / 128], [0, 1], [0.0])
# The crash tests' grid: widths 4 and 6 (validation on all 10,000 images costs width^2: wider
# ones would cost seconds a stack) on slivers of MNIST (14 to 58 examples), 4 seeds: 24 runs. The
# worker trains a width's runs in stacks of at most 8 on a CPU, so a kill can land before,
# between and inside several stacks.
KILL_GRID = ["--widths", "0:2", "--fractions", "1/4096:1/1024", "--seeds", "0:4"]
KILL_IDS = {c.run_id for c in grid.expand(range(2), [1 / 4096, 1 / 2048, 1 / 1024], range(4), [0.0])}
APP_SPEC = dict(widths="0:2", fractions="1/4096:1/1024", seeds="0:4", dropouts="0")  # the same runs
APP_GRID = KILL_GRID
APP_IDS = {c.run_id for c in services.GridSpec(**APP_SPEC).configs()}
assert APP_IDS == KILL_IDS


def cli(db, *args, **kw):
    return subprocess.Popen([sys.executable, "-m", "scaling", *args, "--db", str(db)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def read(db):
    """A read-only connection, waiting while a live app or worker holds the file's lock."""
    deadline = time.monotonic() + 60
    while True:
        try:
            return duckdb.connect(str(db), read_only=True)
        except duckdb.IOException as e:
            if "lock" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def counts(db):
    with read(db) as con:
        runs, distinct = con.execute("SELECT count(*), count(DISTINCT run_id) FROM runs").fetchone()
        queued = con.execute("SELECT count(*) FROM queue").fetchone()[0]
    return runs, distinct, queued


def check_consistent(db, grid_ids, curves=False):
    """What a crash must never leave: a run twice, a run both finished and queued, a result
    without its whole validation curve (`curves`: they were recorded) or a curve without its run,
    a config of the grid that is neither finished nor queued (lost). Returns the number of
    finished runs."""
    with read(db) as con:
        runs = con.execute("SELECT run_id FROM runs").fetchall()
        queue = {r[0] for r in con.execute("SELECT run_id FROM queue").fetchall()}
        sweeps = con.execute("SELECT count(*) FROM sweeps").fetchone()[0]
        orphans = con.execute("SELECT count(*) FROM curves WHERE run_id NOT IN (SELECT run_id FROM runs)").fetchone()[0]
        partial = con.execute(
            "SELECT count(*) FROM runs r WHERE r.status = 'ok' AND NOT EXISTS (SELECT 1 FROM curves c "
            "WHERE c.run_id = r.run_id AND c.examples = r.examples AND c.val_loss = r.val_loss)").fetchone()[0]
    done = {r[0] for r in runs}
    assert len(runs) == len(done), "a run was stored twice"
    assert not done & queue, "a run is both finished and still queued"
    assert done | queue <= grid_ids
    assert orphans == 0 and (partial == 0 or not curves), "a half-written result"
    if sweeps:  # once the grid was queued, every config is finished or still queued: nothing lost
        assert done | queue == grid_ids
    return len(done)


class Output:
    """Everything a child process writes to a pipe, read on a thread (the CLI redraws its progress
    bar with \\r, so there are no lines to wait for)."""

    def __init__(self, pipe):
        self.text = ""
        self._t = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self._t.start()

    def _read(self, pipe):
        for chunk in iter(lambda: pipe.read(1), ""):
            self.text += chunk

    def last_int(self, pattern: str, default: int = -1) -> int:
        found = re.findall(pattern, self.text)
        return int(found[-1]) if found else default


def wait_for(cond, timeout, proc=None):
    """Poll cond() until true (True), or until proc exits or the timeout passes (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.02)
    return False


def fresh(db):
    for f in (db, db.with_name(db.name + ".wal")):
        f.unlink(missing_ok=True)


@pytest.mark.slow
def test_sigkill_during_cli_sweeps_loses_and_duplicates_nothing(tmp_path):
    """SIGKILL `scaling sweep` (recording validation curves) at random moments, at least 5 times:
    during start-up, while a stack trains, while its results are written. After each kill the
    database is consistent; the rerun trains exactly what is missing."""
    db, rng = tmp_path / "runs.duckdb", random.Random(1)
    moments = ["start-up"] + ["training"] * 4  # when each of the 5 kills lands
    rng.shuffle(moments)
    rounds = done = 0
    while moments:
        rounds += 1
        assert rounds <= 15, "the kills kept missing the sweep"
        if moments[0] == "training" and len(KILL_IDS) - done <= 8:  # a stack or less to go: start over
            fresh(db)
            done = 0
        p = cli(db, "sweep", *KILL_GRID, "--device", "cpu", "--curves", "on")
        err = Output(p.stderr)
        if moments[0] == "start-up":
            time.sleep(rng.uniform(0.2, 2.5))  # imports, data, queueing
        else:  # once training began (and maybe a stack landed), a random moment later
            stacks = rng.randrange(2)
            wait_for(lambda: " to train on " in err.text and err.text.count("trained ") >= stacks, 120, p)
            time.sleep(rng.uniform(0.0, 1.0))
        if p.poll() is None and (moments[0] == "start-up" or " to train on " in err.text):
            p.send_signal(signal.SIGKILL)
            moments.pop(0)
        p.wait()
        if db.exists():
            done = check_consistent(db, KILL_IDS, curves=True)
    p = cli(db, "sweep", *KILL_GRID, "--device", "cpu", "--curves", "on")
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    assert f"trained {len(KILL_IDS) - done} runs, {done} cached" in out  # nothing trained twice
    assert check_consistent(db, KILL_IDS, curves=True) == len(KILL_IDS) and counts(db)[2] == 0


@pytest.fixture
def subreaper():
    """Make this process adopt orphaned descendants, as a real init does (and reap them): PID 1
    of this sandbox (and of many containers) never reaps, so a killed orphan would stay a zombie."""
    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_CHILD_SUBREAPER is Linux-only")
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    yield
    libc.prctl(36, 0, 0, 0, 0)


def reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:  # not ours (yet): its parent is alive and will see to it
        pass


def kill(pid: int, sig=signal.SIGKILL) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:  # gone already (its parent reaped it)
        pass


def workers_of(db) -> list[int]:
    """The pids of live `scaling worker` processes serving this database."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().split(b"\0")
                state = (d / "stat").read_text().rpartition(")")[2].split()[0]
            except OSError:
                continue
            if b"worker" in cmd and str(db).encode() in cmd and state != "Z":
                pids.append(int(d.name))
    return pids


# What the app's server does for one user, as a script: the Train page's "Queue" button
# (services.start_sweep: queue the grid, start a worker process), then its progress panel polling
# the sweep's status, and the user pressing "Resume" when it says no worker serves the queue
# (a worker takes ~2 s to start and say so: a user who waits 5 s between presses).
APP = """
import sys, time
from scaling import services
from scaling.store import Store

store = Store(sys.argv[1])
spec = services.GridSpec(**{spec})
sweep_id, _, new = services.start_sweep(store, spec, "cpu")  # starts a worker if it queued anything
pressed = time.monotonic() if new else float("-inf")
while True:
    st = services.sweep_status(store, sweep_id)
    print(st.done, st.worker_pid or 0, flush=True)
    if not st.active:
        break
    if st.worker_pid is None and time.monotonic() - pressed > 5:
        services.start_worker(store, "cpu")
        pressed = time.monotonic()
    time.sleep(0.5)
""".replace("{spec}", repr(APP_SPEC))


def start_app(db, apps):
    p = subprocess.Popen([sys.executable, "-c", APP, str(db)], cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    apps.append(p)
    return p, Output(p.stdout)


@pytest.mark.slow
def test_sigkill_of_the_apps_worker_and_of_the_whole_app(tmp_path, subreaper):
    """Five times, at random moments, SIGKILL the app's server process and its worker process (in
    a random order); reopen the app, which resumes the queue. Then kill the worker alone while
    the app lives on: the app starts another, which finishes. Nothing lost, nothing twice."""
    db, rng, apps = tmp_path / "runs.duckdb", random.Random(2), []
    try:
        _kill_the_app_five_times_then_its_worker(db, rng, apps)
    finally:  # never leave an app or a worker behind, even when an assertion failed
        for app in apps:
            app.kill()
            app.wait()
        for pid in workers_of(db):
            kill(pid)
            reap(pid)


def _kill_the_app_five_times_then_its_worker(db, rng, apps):
    moments = ["start-up"] + ["training"] * 4  # when each of the 5 kills lands
    rng.shuffle(moments)
    rounds = done = 0
    while moments:
        rounds += 1
        assert rounds <= 15, "the kills kept missing the worker"
        if moments[0] == "training" and len(APP_IDS) - done <= 8:  # a stack or less to go: start over
            fresh(db)
            done = 0
        app, out = start_app(db, apps)
        if moments[0] == "start-up":
            time.sleep(rng.uniform(0.5, 3.0))  # the app starting, queueing, starting its worker
        else:  # once the app sees its worker serving (and maybe a stack landed), a random moment later
            stacks = rng.randrange(2)
            wait_for(lambda: out.last_int(r"\d+ (\d+)\n", 0) > 0 and out.last_int(r"(\d+) \d+\n") >= done + stacks,
                     120, app)
            time.sleep(rng.uniform(0.0, 1.0))
        victims = [app.pid, *workers_of(db)]
        if app.poll() is None and (moments[0] == "start-up" or len(victims) > 1):
            moments.pop(0)
        rng.shuffle(victims)
        for pid in victims:
            kill(pid)
            time.sleep(rng.uniform(0, 0.2))
        app.wait()
        for pid in set(victims + workers_of(db)) - {app.pid}:  # and one spawned after the list was taken
            kill(pid)
            reap(pid)
        if db.exists():
            done = check_consistent(db, APP_IDS)
    if len(APP_IDS) - done <= 8:  # leave a stack or more for the last act
        fresh(db)
        done = 0

    # The worker alone dies (the OOM killer, say) while the app's server lives on: the app reaps it,
    # its progress panel sees no worker and offers Resume, and the new worker takes the dead one's
    # claim back from the queue and finishes.
    app, out = start_app(db, apps)
    assert wait_for(lambda: out.last_int(r"(\d+) \d+\n") > done and workers_of(db), 120, app)
    worker = workers_of(db)[0]
    kill(worker)
    assert wait_for(lambda: out.last_int(r"\d+ (\d+)\n", 0) not in (0, worker), 60, app), "no new worker"
    assert wait_for(lambda: app.poll() is not None, 300), "the app never saw its sweep finish"
    assert check_consistent(db, APP_IDS) == len(APP_IDS) and counts(db)[2] == 0
    assert out.last_int(r"(\d+) \d+\n") == len(APP_IDS)  # the app's panel shows every result


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


@pytest.mark.slow
def test_the_app_and_a_terminal_sweep_share_one_database(tmp_path):
    """The Train page queues a grid and starts its worker process; meanwhile a terminal sweep of
    an overlapping grid runs and the app's pages keep reading. Nobody fails on DuckDB's file lock,
    both sweeps complete, and each configuration is trained once, by one of the two."""
    db = tmp_path / "runs.duckdb"
    store = Store(db)
    app_spec = services.GridSpec(widths="0:2", fractions="1/4096:1/1024", seeds="0:3", dropouts="0")  # 18 runs
    term = ["--widths", "0:2", "--fractions", "1/4096:1/1024", "--seeds", "1:4"]  # 18 runs, 12 shared
    sweep_id, _, queued = services.start_sweep(store, app_spec, "cpu")
    assert queued == 18
    p = cli(db, "sweep", *term, "--device", "cpu")
    err_out = Output(p.stderr)
    log = db.with_name(db.name + ".worker.log")

    def by_worker():  # the worker logs how many runs it trained each time the queue ran dry
        return sum(int(n) for n in re.findall(r"\d\d:\d\d:\d\d trained (\d+) runs", log.read_text()))

    reads, deadline = 0, time.monotonic() + 300
    try:
        while p.poll() is None or services.sweep_status(store, sweep_id).active:  # the pages' reads
            assert time.monotonic() < deadline
            store.snapshot()
            services.sweep_status(store, sweep_id)
            reads += 1
            time.sleep(0.3)
        out = p.stdout.read()
        by_terminal = int(out.split("trained ")[1].split()[0])
        wait_for(lambda: by_worker() + by_terminal >= 24, 30)
    finally:
        pid = services.sweep_status(store, sweep_id).worker_pid
        if pid:
            os.kill(pid, signal.SIGTERM)  # it would idle 30 s before leaving
            reap(pid)
    assert p.returncode == 0, err_out.text
    assert reads > 5
    assert by_worker() + by_terminal == 24  # the union, each once
    st = services.sweep_status(store, sweep_id)
    assert st.done == st.total == 18 and not st.active
    runs, distinct, queued = counts(db)
    assert runs == distinct == 24 and queued == 0


def test_eight_sessions_queue_overlapping_sweeps_each_config_trained_once(tmp_path):
    db = tmp_path / "runs.duckdb"
    store = Store(db)
    sessions = [grid.expand([0, 1], [1 / 256], [s % 3, (s + 1) % 3], [0.0, 0.2]) for s in range(8)]
    errors, sweep_ids = [], {}

    def session(cfgs):
        try:
            sweep_ids[Store(db).enqueue(cfgs, label="session")[0]] = len(cfgs)
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
    assert sum(int(o.split("trained ")[-1].split()[0]) for o in outs) == 12  # nobody trained a run twice
    cached = set(store.runs().run_id)
    for cfgs in sessions:  # every session sees every one of its results
        assert {c.run_id for c in cfgs} <= cached
    assert len(sweep_ids) == 8
    for sid, n in sweep_ids.items():  # and each session's progress panel says it is done
        st = services.sweep_status(store, sid)
        assert st.done == st.total == n and not st.active


# ---------------------------------------------------------------- files that are not ours to rewrite


def test_corrupt_database_is_named_and_left_byte_for_byte(tmp_path, capsys):
    db = tmp_path / "runs.duckdb"
    assert cli(db, "sweep", "--widths", "0", "--fractions", "1/256", "--device", "cpu").wait(timeout=120) == 0
    raw = bytearray(db.read_bytes())
    raw[4096 * 3 : 4096 * 3 + 2000] = b"\xab" * 2000  # the first data blocks: DuckDB's checksums catch it
    db.write_bytes(raw)
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    p = cli(db, "runs")
    _, err = p.communicate(timeout=60)
    assert p.returncode == 2 and f"cannot open {db}" in err and "left untouched" in err
    assert "restore it from a backup" in err and "Traceback" not in err
    for cmd in (["sweep", "--widths", "1", "--fractions", "1/256", "--device", "cpu"], ["runs", "--json"], ["fit"],
                ["export", "-o", str(tmp_path / "out.csv")], ["sweep", "--widths", "1", "--dry-run"]):
        assert main([*cmd, "--db", str(db)]) == 2
        err = capsys.readouterr().err.strip()
        assert str(db) in err and "damaged" in err and len(err.splitlines()) == 1
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert not (tmp_path / "out.csv").exists() and not db.with_name(db.name + ".wal").exists()


def test_truncated_database_is_not_rewritten_by_a_sweep(tmp_path, capsys):
    """A copy cut short (a full disk, an interrupted scp): a sweep must refuse it, not rewrite it."""
    db = tmp_path / "runs.duckdb"
    assert main(["sweep", "--widths", "0", "--fractions", "1/256", "--seeds", "0:2", "--curves", "on",
                 "--db", str(db)]) == 0
    db.write_bytes(db.read_bytes()[: 12288 + 262144])  # the header and the first block only
    before = db.read_bytes()
    capsys.readouterr()
    assert main(["sweep", "--widths", "1", "--fractions", "1/256", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert re.search(f"cannot (open|use) {re.escape(str(db))}: it is damaged", err) and "restore it from a backup" in err
    assert db.read_bytes() == before


def test_newer_schema_is_named_and_left_byte_for_byte(tmp_path):
    db = tmp_path / "runs.duckdb"
    Store(db).runs()
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION + 1)])
    before = db.read_bytes()
    p = cli(db, "sweep", "--widths", "0", "--fractions", "1/256", "--device", "cpu")
    _, err = p.communicate(timeout=60)
    assert p.returncode == 2 and f"{db} has schema version {SCHEMA_VERSION + 1}, newer than this" in err
    assert "upgrade the code or pass another --db path" in err and "Traceback" not in err
    assert db.read_bytes() == before


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
    assert p.returncode == 2 and f"{db} is read-only" in err and "chmod u+w" in err
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    p = cli(db, "runs", "--json")  # reading still works
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0 and '"status":"ok"' in out


# ---------------------------------------------------------------- sharing safely


def test_the_app_listens_on_localhost_unless_told_otherwise():
    server = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]
    assert server["address"] == "127.0.0.1" and server["port"] == 8501
    assert server["enableXsrfProtection"] is True
    make = (ROOT / "Makefile").read_text()
    assert re.search(r"^HOST \?= 127\.0\.0\.1$", make, re.M) and "--server.address $(HOST)" in make
    assert ".streamlit/secrets.toml" in (ROOT / ".gitignore").read_text().split()  # a password is never committed
