"""The worker process that runs the app's long fits: the same answers, progress, cancellation, and a
worker that died replaced."""
import math
import os
import signal
import time

import pytest

from scaling import services
from scaling.services import background
from scaling.store import Store


def test_a_job_returns_what_it_would_here_and_its_exception_comes_back():
    assert background.run(math.fsum, [0.1] * 10) == math.fsum([0.1] * 10)
    with pytest.raises(ValueError, match="invalid literal"):
        background.run(int, "ten")


def test_an_analysis_in_the_worker_reports_progress_and_equals_the_one_here(small_cache):
    runs = Store(small_cache).runs(status=None)
    sel = services.Selection(widths=(0, 1))
    seen = []
    there = background.run(services.analysis, runs, None, sel, n_boot=20, progress=lambda i, n: seen.append((i, n)))
    here = services.analysis(runs, None, sel, n_boot=20)
    assert there.intervals == here.intervals and there.loss_vs_compute.alpha == here.loss_vs_compute.alpha
    assert all(n in (0, 20) and i <= n for i, n in seen)  # reported while it ran (if it outlasted a poll)


class _Moved(Exception):
    pass


def _stop(i, n):
    raise _Moved  # a page whose user moved a slider: its next progress report stops it


def test_a_stopped_caller_cancels_its_running_job_and_the_next_one_is_not_held_up(small_cache):
    runs = Store(small_cache).runs(status=None)
    background.run(abs, -1)  # the worker is up
    t0 = time.monotonic()
    with pytest.raises(_Moved):  # minutes of resamples, interrupted in the worker by a signal
        background.run(services.analysis, runs, None, services.Selection(), n_boot=100_000, progress=_stop)
    assert background.run(abs, -3) == 3
    assert time.monotonic() - t0 < 30  # not after the minutes the cancelled job would have taken


def test_a_worker_that_died_is_replaced():
    background.run(abs, -1)
    pid = background._shared[0]
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    assert background.run(abs, -5) == 5
    assert background._shared[0] != pid


def test_a_shutdown_cancels_the_running_job_and_ends_the_worker(small_cache):
    """The server's end (runtime.lifespan): a bootstrap of minutes is not waited for; the next job starts a new worker."""
    import threading

    runs = Store(small_cache).runs(status=None)
    background.run(abs, -1)
    pid = background._shared[0]
    got = []
    job = threading.Thread(target=lambda: got.append(_outcome(runs)))
    job.start()
    while not background._shared[1]:  # running
        time.sleep(0.05)
    t0 = time.monotonic()
    background.shutdown()
    job.join(30)
    assert time.monotonic() - t0 < 30 and got and got[0] != "finished"
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}") and open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the worker outlived its shutdown"
        time.sleep(0.1)
    assert background.run(abs, -7) == 7  # a new worker for the next job


def _outcome(runs) -> str:
    try:
        background.run(services.analysis, runs, None, services.Selection(), n_boot=100_000)
        return "finished"
    except Exception as e:  # noqa: BLE001 - the cancelled job's exception, whatever the pool makes of it
        return type(e).__name__
