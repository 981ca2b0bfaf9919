"""Sweeps on a real Ray cluster (no mock): a head started by these tests, inside a network namespace
that has only loopback (tests here may talk to loopback alone; Ray binds the machine's address)."""
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

from scaling.store import Store, StoreError

ray = pytest.importorskip("ray")
PY = sys.executable
GRID = ["--widths", "0:2", "--fractions", "1/512:1/256", "--seeds", "0:2"]  # 8 runs, 2 stacks
LONG = ["--widths", "0:3", "--fractions", "1/256:1/64", "--seeds", "0:2"]  # 18 runs, 3 stacks of a few seconds


def _netns_works(name: str) -> bool:
    if shutil.which("ip") is None or os.geteuid() != 0:
        return False
    return subprocess.run(["ip", "netns", "add", name], capture_output=True).returncode == 0


def _auth_env(folder) -> dict:
    """The environment of a token-authenticated cluster, with a token of its own in `folder`: a head
    from `ray start` refuses to start without one, and a fresh machine has none in ~/.ray."""
    ray_cli = os.path.join(os.path.dirname(PY), "ray")
    home = {**os.environ, "HOME": str(folder), "RAY_AUTH_MODE": "token"}  # --generate writes $HOME/.ray/auth_token
    home.pop("RAY_AUTH_TOKEN", None), home.pop("RAY_AUTH_TOKEN_PATH", None)
    subprocess.run([ray_cli, "get-auth-token", "--generate"], check=True, capture_output=True, env=home)
    token = folder / ".ray" / "auth_token"
    assert token.is_file() and token.stat().st_size > 0
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_TOKEN"}
    return {**env, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A 2-CPU Ray head on 127.0.0.1 in a loopback-only namespace: (command prefix, address, env)."""
    name = f"scaling-test-{os.getpid()}"
    if not _netns_works(name):
        pytest.skip("needs root and `ip netns` for a loopback-only network namespace")
    inside = ["ip", "netns", "exec", name]
    env = _auth_env(tmp_path_factory.mktemp("ray-token"))
    try:
        subprocess.run([*inside, "ip", "link", "set", "lo", "up"], check=True)
        ray_cli = os.path.join(os.path.dirname(PY), "ray")
        started = subprocess.run([*inside, ray_cli, "start", "--head", "--num-cpus", "2", "--port", "6391",
                        "--include-dashboard=false", "--disable-usage-stats"], capture_output=True, text=True, env=env)
        assert started.returncode == 0, started.stderr[-2000:]
        yield inside, "127.0.0.1:6391", env
    finally:
        subprocess.run([*inside, os.path.join(os.path.dirname(PY), "ray"), "stop", "--force"], capture_output=True, env=env)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def _sweep(db, grid, *extra, prefix=(), env=None, wait=True):
    cmd = [*prefix, PY, "-m", "scaling", "sweep", *grid, "--db", str(db), *extra]
    if wait is None:  # run to its end, whatever it exits with
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if not wait:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def _written(db) -> int:
    try:
        return len(Store(db).runs()) if db.exists() else 0
    except StoreError:  # created but not yet initialised by the driver
        return 0


def _results(db):
    runs = Store(db).runs(None).set_index("run_id")
    return runs[["val_loss", "val_acc", "train_loss", "status"]].sort_index()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The long grid through the local worker, one torch thread (as a 1-CPU Ray task trains it)."""
    db = tmp_path_factory.mktemp("ref") / "ref.duckdb"
    _sweep(db, LONG, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return _results(db)


def test_a_ray_sweep_gives_the_local_results_run_for_run(cluster, tmp_path):
    inside, address, env = cluster
    _sweep(tmp_path / "local.duckdb", GRID)
    out = _sweep(tmp_path / "ray.duckdb", GRID, "--ray", address, "--ray-task-cpus", "2", prefix=inside, env=env)
    assert "trained 8 runs" in out.stdout
    local, on_ray = _results(tmp_path / "local.duckdb"), _results(tmp_path / "ray.duckdb")
    assert len(local) == 8 and local.equals(on_ray)  # the same numbers, bit for bit
    runs = Store(tmp_path / "ray.duckdb").runs()
    assert set(runs["host"]) == {os.uname().nodename}  # each run names the host that trained it


def test_killed_ray_workers_lose_nothing_and_write_nothing_twice(cluster, reference, tmp_path):
    """Three SIGKILLs of the process training a stack, at random moments: Ray runs the task again."""
    inside, address, env = cluster
    db = tmp_path / "ray.duckdb"
    proc = _sweep(db, LONG, "--ray", address, "--ray-task-cpus", "1", prefix=inside, env=env, wait=False)
    rng, kills, deadline = random.Random(0), 0, time.time() + 300
    def tasks():
        return subprocess.run(["pgrep", "-f", "ray::_train_task"], capture_output=True, text=True).stdout.split()

    while kills < 3 and proc.poll() is None and time.time() < deadline:
        if not tasks():  # Ray starting, or a killed task not yet restarted: the random wait starts with training
            time.sleep(0.1)
            continue
        time.sleep(rng.uniform(0.2, 1.0))  # a random moment of the stack's few seconds of training
        if pids := tasks():
            os.kill(int(rng.choice(pids)), signal.SIGKILL)
            kills += 1
    out, err = proc.communicate(timeout=600)
    assert kills == 3, "the sweep ended before three kills: make LONG longer"
    assert proc.returncode == 0, err[-2000:]
    got = _results(db)
    assert len(got) == len(reference) and got.equals(reference)  # every run once, as if never killed
    assert Store(db).queue_counts().queued == 0


def test_a_killed_driver_leaves_the_queue_to_the_next_ray_worker(cluster, reference, tmp_path):
    inside, address, env = cluster
    db = tmp_path / "ray.duckdb"
    proc = _sweep(db, LONG, "--ray", address, "--ray-task-cpus", "1", prefix=inside, env=env, wait=False)
    deadline = time.time() + 300
    while _written(db) == 0:  # kill it once the first stack is in
        assert proc.poll() is None and time.time() < deadline, "the sweep ended before it could be killed"
        time.sleep(0.3)
    proc.kill()
    proc.wait()
    assert 0 < len(Store(db).runs()) < len(reference)
    worker = subprocess.run([*inside, PY, "-m", "scaling", "worker", "--db", str(db), "--ray", address,
                             "--ray-task-cpus", "1", "--idle-exit", "1"], env=env, capture_output=True, text=True, timeout=600)
    assert worker.returncode == 0, worker.stderr[-2000:]
    got = _results(db)
    assert got.equals(reference) and Store(db).queue_counts().queued == 0


def test_two_drivers_on_one_database_train_each_configuration_once(cluster, tmp_path):
    """The app's driver and a terminal's: each claims stacks in a transaction, so no run is trained twice."""
    inside, address, env = cluster
    db = tmp_path / "ray.duckdb"
    a = _sweep(db, LONG, "--ray", address, "--ray-task-cpus", "1", prefix=inside, env=env, wait=False)
    b = _sweep(db, LONG, "--ray", address, "--ray-task-cpus", "1", prefix=inside, env=env, wait=False)
    outs = [p.communicate(timeout=600) for p in (a, b)]
    assert a.returncode == 0 and b.returncode == 0, [e[-1000:] for _, e in outs]
    trained = [int(o.split("trained ")[1].split()[0]) for o, _ in outs]
    assert sum(trained) == 18 and len(Store(db).runs()) == 18  # 18 runs, each trained by one of them


def test_without_ray_the_flag_says_what_to_install(db, monkeypatch, capsys):
    from scaling.cli import main
    from scaling.workers import cluster as backend

    monkeypatch.setitem(sys.modules, "ray", None)  # as on a machine without the extra
    assert main(["sweep", *GRID, "--ray"]) == 2
    assert backend.INSTALL in capsys.readouterr().err


def test_the_train_page_says_where_training_happens(db, monkeypatch):
    """The app never joins Ray itself: it reads what the worker last found there."""
    from scaling import services
    from scaling.workers import cluster as backend

    store = Store(db)
    assert services.cluster_line(store) is None  # no SCALING_RAY_ADDRESS: this machine
    monkeypatch.setenv(backend.ADDRESS_ENV, "127.0.0.1:6379")
    assert "once the worker has joined it" in services.cluster_line(store)
    backend.write_status(store, backend.ClusterInfo("127.0.0.1:6379", 2, 16.0, 4.0))
    shown = "the Ray cluster at 127.0.0.1:6379: 2 nodes, 16 CPUs, 4 GPUs"  # Markdown: the cluster's words escaped
    assert services.cluster_line(store) == f"Training on {services.md_text(shown)}"
    backend.write_status(store, None)
    assert backend.read_status(store) is None


def test_joining_without_the_clusters_token_is_one_line_and_writes_nothing(cluster, tmp_path):
    inside, address, env = cluster
    # RAY_AUTH_MODE without the token (without the mode too, Ray retries a silent head ~30 s first)
    lacking = {k: v for k, v in env.items() if k != "RAY_AUTH_TOKEN_PATH"}
    done = _sweep(tmp_path / "none.duckdb", GRID, "--ray", address, prefix=inside,
                  env={**lacking, "HOME": str(tmp_path)}, wait=None)
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "could not join the Ray cluster at 127.0.0.1:6391" in done.stderr and "token" in done.stderr
    assert _written(tmp_path / "none.duckdb") == 0
