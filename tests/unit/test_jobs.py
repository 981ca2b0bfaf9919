"""The worker under device faults: out-of-memory splits the stack, other errors fail the run, the queue goes on."""
import time

import pytest
import torch

from scaling.core import grid
from scaling.store import QueueFull, Store
from scaling.training import train
from scaling.workers import jobs

CFGS = grid.expand([0], [1 / 256], [0, 1, 2, 3], [0.0])  # one stack of 4


@pytest.fixture
def fits_at_most(monkeypatch):
    """Fault injection: a device that runs out of memory for stacks larger than `n` models."""
    real = train.train_stack
    calls = []

    def install(n):
        def stack(cfgs, device="cpu", curve=None, init=None):
            calls.append(len(cfgs))
            if len(cfgs) > n:
                raise torch.OutOfMemoryError(f"CUDA out of memory. Tried to allocate {len(cfgs)} GiB")
            return real(cfgs, device, curve, init)

        monkeypatch.setattr(train, "train_stack", stack)
        return calls

    return install


def test_out_of_memory_halves_the_stack_and_same_results(db, fits_at_most):
    calls = fits_at_most(1)
    results = jobs.train_safely(CFGS, "cpu")
    assert calls == [4, 2, 1, 1, 2, 1, 1]
    assert [r.status for r in results] == ["ok"] * 4
    assert [r.config for r in results] == CFGS


def test_a_single_model_that_does_not_fit_fails_with_the_message(db, fits_at_most):
    fits_at_most(0)
    store = Store(db)
    store.enqueue(CFGS[:2])
    progress = jobs.work(store, "cpu")
    assert progress.failed == 2 and progress.trained == 0
    failed = store.runs(status="failed")
    assert len(failed) == 2 and failed.error.str.startswith("out of memory: CUDA out of memory").all()
    assert store.queue_counts().queued == 0


def test_any_other_error_fails_the_stack_and_the_worker_goes_on(db, monkeypatch):
    real = train.train_stack

    def flaky(cfgs, device="cpu", curve=None, init=None):
        if cfgs[0].width_step == 0:
            raise RuntimeError("device-side assert triggered")
        return real(cfgs, device, curve, init)

    monkeypatch.setattr(train, "train_stack", flaky)
    store = Store(db)
    store.enqueue(CFGS[:2] + grid.expand([1], [1 / 256], [0], [0.0]))
    progress = jobs.work(store, "cpu")
    assert (progress.trained, progress.failed) == (1, 2)
    assert set(store.runs(status=None).status) == {"ok", "failed"}
    assert "RuntimeError: device-side assert triggered" in store.runs(status="failed").error.iloc[0]


def test_queue_cap_refuses_the_whole_request(db):
    store = Store(db)
    store.enqueue(CFGS[:3], max_queue=5)
    with pytest.raises(QueueFull, match="3 runs; 4 more would pass its cap of 5"):
        store.enqueue(grid.expand([1], [1 / 256], [0, 1, 2, 3], [0.0]), max_queue=5)
    assert store.queue_counts().queued == 3
    store.enqueue(CFGS, max_queue=5)  # the 3 already queued don't count twice
    assert store.queue_counts().queued == 4


def test_a_killed_worker_that_is_still_a_zombie_is_not_alive(db):
    import subprocess
    import sys
    import time

    store = Store(db)
    zombie = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    jobs.pidfile(store).write_text(str(zombie.pid))
    zombie.kill()
    time.sleep(0.5)  # killed, not reaped: what the app's server leaves behind (it never waits for its worker)
    try:
        assert jobs.worker_alive(store) is None
    finally:
        zombie.wait()


def test_the_app_refuses_a_sweep_on_a_corrupt_data_set_before_queueing(db, tmp_path, monkeypatch):
    """Not one `failed` run per queued config: the page gets the error, nothing is queued."""
    import shutil

    from scaling import datasets, services
    from scaling.training import data

    folder = tmp_path / "mnist"
    shutil.copytree(datasets._mnist_folder(), folder)
    target = folder / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(target.read_bytes())
    raw[100] ^= 0xFF
    target.write_bytes(bytes(raw))
    monkeypatch.setattr(datasets, "_mnist_folder", lambda: folder)
    datasets.arrays.cache_clear(), data.load.cache_clear()
    store = Store(db)
    try:
        with pytest.raises(data.DataError, match="corrupt data file .*t10k-labels"):
            services.start_sweep(store, services.GridSpec(widths="0:1", fractions="1/256", seeds="0:1", dropouts="0"), "cpu")
    finally:
        datasets.arrays.cache_clear(), data.load.cache_clear()
    assert store.queue_counts().queued == 0 and jobs.worker_alive(store) is None


def test_the_apps_worker_yields_the_cpu_to_the_page(db, monkeypatch):
    """The worker the app starts runs at nice 10 (the page's server at 0 is scheduled first), and so does
    its session's autogroup where Linux has one: else the kernel weighs its session against the
    server's as equals, whatever its niceness. A bad setting is refused before anything starts."""
    import os
    from pathlib import Path

    store = Store(db)
    ours = Path("/proc/self/autogroup")
    before = ours.read_text() if ours.exists() else None
    pid = jobs.ensure_worker(store, "cpu")
    try:
        assert _settles(pid, jobs.WORKER_NICE)
        group = Path(f"/proc/{pid}/autogroup")
        if before is not None:
            deadline = time.monotonic() + 10
            while not group.read_text().strip().endswith(f"nice {jobs.WORKER_NICE}") and time.monotonic() < deadline:
                time.sleep(0.1)
            assert group.read_text().strip().endswith(f"nice {jobs.WORKER_NICE}"), group.read_text()
            assert ours.read_text() == before  # the test's own group is not lowered
    finally:
        os.kill(pid, 9)
    monkeypatch.setenv("SCALING_WORKER_NICE", "twenty")
    with pytest.raises(ValueError, match="SCALING_WORKER_NICE"):
        jobs.worker_nice()


def _settles(pid, nice, timeout=20.0):
    """The worker lowers its priority once its interpreter has started: wait for it."""
    import os

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.getpriority(os.PRIO_PROCESS, pid) >= os.getpriority(os.PRIO_PROCESS, 0) + nice:
            return True
        time.sleep(0.2)
    return False


def test_a_refused_autogroup_write_is_tried_again_once(monkeypatch):
    """An unprivileged process gets one autogroup write in 0.1 s (EAGAIN otherwise): a worker started just
    after another tries again, and any other refusal leaves it at its own niceness."""
    import os

    writes, refusals = [], [BlockingIOError(11, "try again")]

    class Group:
        def __init__(self, path):
            assert path == "/proc/self/autogroup"

        def write_text(self, text):
            if refusals:
                raise refusals.pop()
            writes.append(text)

    monkeypatch.setattr(jobs, "Path", Group)
    monkeypatch.setattr(jobs.os, "nice", lambda n: None)
    monkeypatch.setattr(jobs.os, "getsid", lambda pid: os.getpid())  # as the app's worker: its session's leader
    jobs.lower_priority(10)
    assert writes == ["10"]
    refusals[:] = [PermissionError(1, "no")]
    jobs.lower_priority(10)
    assert writes == ["10"]
