"""Long fits (a bootstrap, a study, a backtest's resamples) in one worker process.

Why a process: numpy in a loop of small fits holds the GIL most of the time, so a bootstrap run in
the app's own process slows everything else the server does: its event loop (static files, the
websocket) and every other session's page. In the worker it costs the server only a poll.

One worker (a second core stays with the server) takes one job at a time; the caller waits,
polling, and a `progress(i, n)` that raises (a page whose user moved a slider meanwhile) cancels
the job: a signal interrupts the worker between two numpy calls, so a stale job does not hold up
the next one.
"""
from __future__ import annotations

import itertools
import logging
import multiprocessing as mp
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor, TimeoutError
from concurrent.futures.process import BrokenProcessPool

from scaling.core import settings

log = logging.getLogger(__name__)
NICE = 10  # the worker's niceness unless $SCALING_WORKER_NICE says: the training worker's default too
POLL_S = 0.2  # how often a waiting caller reports progress (each report is where a page run can stop)
_PID, _JOB, _DONE, _TOTAL, _CANCEL = range(5)  # slots of the shared array


class Cancelled(Exception):
    """Raised in the worker when its job was cancelled."""


_lock = threading.Lock()
_jobs = itertools.count(1)
_pool: ProcessPoolExecutor | None = None
_queued_ahead: list = []  # futures of ahead(): cancelled by anything asked for in earnest
_shared = None  # the shared array: worker pid, its job, resamples done and in all, the job to cancel


def run(fn, *args, progress=None, **kw):
    """fn(*args, **kw) in the worker process, its result (or its exception) here.

    fn and its arguments are pickled: fn must be a module-level function. With `progress`, fn is
    given a progress callback (fit.analyze's), and progress(i, n) is called here each time it has
    moved and at least every POLL_S seconds; if it raises, the job is cancelled and the exception
    goes on (progress(0, 0): not started yet). A worker that died (killed, out of memory) is replaced,
    and the job runs once more (then, if it dies again, here). A job without `progress` cannot be
    cancelled: the caller waits for it."""
    drop_ahead()  # what a caller waits for goes before the fits done ahead
    for _ in range(2):
        job = next(_jobs)
        pool, shared = _worker()
        try:
            fut = pool.submit(_call, job, fn, args, kw, progress is not None)
        except BrokenProcessPool:
            _reset(pool)
            continue
        try:
            while True:
                try:
                    return fut.result(timeout=POLL_S)
                except TimeoutError:
                    pass
                if progress is not None:
                    progress(*((shared[_DONE], shared[_TOTAL]) if shared[_JOB] == job else (0, 0)))
        except BrokenProcessPool:
            _reset(pool)
        except BaseException:
            _cancel(job, fut, shared)
            raise
    # no worker can be started here (or it dies at once): the job runs in this process, as it would
    # without one, rather than not at all
    log.warning("the worker process for long fits died twice: running %s in the server", fn.__name__)
    return fn(*args, **({**kw, "progress": progress} if progress is not None else kw))


def ahead(fn, *args, done, **kw) -> None:
    """fn(*args, **kw) in the worker when it has nothing else to do, then done(result) in a thread of
    this process (not called if fn raises). Dropped, if not started yet, by the next run() or drop_ahead().
    For fits computed ahead of need (a page's neighbouring selections)."""
    try:
        fut = _worker()[0].submit(_call, next(_jobs), fn, args, kw, False)
    except BrokenProcessPool:
        return
    fut.add_done_callback(lambda f: f.cancelled() or f.exception() is not None or done(f.result()))
    with _lock:
        _queued_ahead.append(fut)


def drop_ahead() -> None:
    """Drop the fits asked for ahead and not started yet (a page asking for new ones calls it first)."""
    with _lock:
        pending, _queued_ahead[:] = list(_queued_ahead), []
    for f in pending:
        f.cancel()


def shutdown() -> None:
    """Stop the worker, cancelling what waits (the server's end). A server stopped by SIGTERM under
    uvicorn exits by the signal itself, so no atexit hook would: the worker would wait for jobs forever."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        if _shared is not None and _shared[_JOB]:  # a job running (a bootstrap): cancelled, not waited for
            _cancel(_shared[_JOB], None, _shared)
        pool.shutdown(wait=True, cancel_futures=True)


def _worker():
    global _pool, _shared
    with _lock:
        if _pool is None:
            # not fork: the server has threads; not spawn: it would run the main module again (pytest, a CLI)
            ctx = mp.get_context("forkserver")
            # nothing imported in the fork server itself: the worker imports the fits on its first job,
            # at its own low priority (a fresh server's first page is still being drawn then)
            ctx.set_forkserver_preload([])
            _shared = ctx.Array("q", 5, lock=False)
            _pool = ProcessPoolExecutor(1, mp_context=ctx, initializer=_init, initargs=(_shared,))
        return _pool, _shared


def _reset(pool) -> None:
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


def _cancel(job: int, fut, shared) -> None:
    shared[_CANCEL] = job
    if not (fut is not None and fut.cancel()) and shared[_JOB] == job and shared[_PID]:
        try:
            os.kill(shared[_PID], signal.SIGUSR1)
        except ProcessLookupError:
            pass


# --- in the worker ---------------------------------------------------------------------------------

def _init(shared) -> None:
    global _shared
    _shared = shared
    shared[_PID] = os.getpid()
    os.nice(settings.worker_nice(NICE))  # the pages (the server, the user's browser on the same cores) come first
    signal.signal(signal.SIGUSR1, _on_cancel)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C in the server's terminal is the server's


def _on_cancel(signum, frame) -> None:
    if _shared[_JOB] and _shared[_CANCEL] == _shared[_JOB]:
        raise Cancelled(f"job {_shared[_JOB]} cancelled")


def _call(job: int, fn, args, kw, with_progress: bool):
    _shared[_DONE] = _shared[_TOTAL] = 0
    try:
        _shared[_JOB] = job
        if _shared[_CANCEL] == job:  # cancelled while it waited
            raise Cancelled(f"job {job} cancelled")
        return fn(*args, **({**kw, "progress": _progress} if with_progress else kw))
    finally:
        _shared[_JOB] = 0


def _progress(i: int, n: int) -> None:
    _shared[_DONE], _shared[_TOTAL] = i, n
