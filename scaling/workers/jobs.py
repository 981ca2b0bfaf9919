"""The worker: takes stacks of runs off the store's queue, trains them, writes the results.

Any number of workers (the app's, a terminal `scaling sweep`) can serve one database: a claim is
a transaction, so each queued config is trained once, and a worker that dies leaves its claim to
be taken again (store.claim checks whether the owner's pid still exists).

The stack itself trains in stacks.py (shared with the Ray worker, cluster.py); `serve` picks
which of the two serves the queue.
"""
from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

from scaling.core import settings
from scaling.store import Store, owner_id, pid_alive
from scaling.workers import cluster
from scaling.workers.stacks import Progress, heartbeat, max_models, pretrain, pretraining_ids, train_safely

WORKER_NICE = 10  # the app's worker process (worker_nice)


def work(store: Store, device: str, run_ids: list[str] | None = None, stop: Callable[[], bool] = lambda: False,
         on_stack: Callable[[Progress], None] = lambda p: None, curve: bool | None = None,
         wait: bool = False) -> Progress:
    """Train queued stacks (only `run_ids`, if given) until the queue has none left or stop().
    With `wait`, also wait for those of `run_ids` that another worker is training."""
    owner = owner_id()
    progress = Progress()
    while not stop():
        cfgs = store.claim(owner, max_models(device), run_ids)
        if not cfgs:
            if wait and store.queue_counts(run_ids).running:
                time.sleep(0.5)
                continue
            break
        t0 = time.perf_counter()
        with heartbeat(store, owner):
            before, init = pretrain(cfgs, store.weights(pretraining_ids(cfgs)), device, curve)
            store.add_results(before)
            results = train_safely(cfgs, device, curve, init)
        store.add_results(results)
        progress.trained += sum(r.status != "failed" for r in before + results)
        progress.failed += sum(r.status == "failed" for r in before + results)
        progress.last_stack, progress.last_stack_s = cfgs, time.perf_counter() - t0
        on_stack(progress)
    return progress


# ------------------------------------------------------------ the app's background worker process


def pidfile(store: Store) -> Path:
    return store.path.with_name(store.path.name + ".worker")


def worker_alive(store: Store) -> int | None:
    """The pid of the worker serving this database, if one is running."""
    try:
        pid = int(pidfile(store).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return pid if pid_alive(pid) else None  # a killed worker may linger as a zombie: dead all the same


def worker_nice() -> int:
    """The app's worker runs at this niceness ($SCALING_WORKER_NICE, else WORKER_NICE): on a machine
    whose cores it fills, the page's server, at 0, is scheduled first whenever it has work, so a
    slider moved while a sweep trains redraws without waiting behind it, and training still has
    every core while the page is idle (leaving a core free would halve a 2-core machine's sweeps)."""
    return settings.worker_nice(WORKER_NICE)


def lower_priority(nice: int) -> None:
    """Run this process at `nice`. The app starts its worker in a session of its own (it outlives the
    server), and Linux's autogroup weighs each session as a whole before any niceness inside it: the
    worker would take half the cores from the server and the browser whatever its niceness. So its
    session's group gets the same niceness (best effort: no /proc, or a write the kernel refuses)."""
    if not nice:
        return
    os.nice(nice)
    if os.getsid(0) != os.getpid():  # another's group (a terminal's) is not ours to lower
        return
    for _ in range(2):  # the kernel takes one such write in 0.1 s from an unprivileged process (EAGAIN)
        try:
            Path("/proc/self/autogroup").write_text(str(nice))
            return
        except BlockingIOError:
            time.sleep(0.1)
        except OSError:
            return


def ensure_worker(store: Store, device: str = "auto") -> int:
    """Start `scaling worker` for this database unless one runs. It is a separate process so
    training survives page reruns and closed tabs; it exits when the queue stays empty."""
    pid = worker_alive(store)
    if pid:
        return pid
    log = open(store.path.with_name(store.path.name + ".worker.log"), "a")
    proc = subprocess.Popen(
        [sys.executable, "-m", "scaling", "worker", "--db", str(store.path), "--device", device,
         "--nice", str(worker_nice())],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    log.close()  # the child holds its own copy
    # claim the pidfile now, not when the worker gets to it seconds later: a second session
    # queueing meanwhile then finds this worker instead of starting another
    pidfile(store).write_text(str(proc.pid))
    # reap it when it exits, or it lingers as a zombie of the app's process for the app's lifetime
    threading.Thread(target=proc.wait, daemon=True, name=f"reap-worker-{proc.pid}").start()
    return proc.pid


def serve(store: Store, device: str, idle_exit_s: float = 30.0, ray: dict | None = None) -> None:
    """The worker process's loop: train whatever is queued; exit after `idle_exit_s` of nothing.
    With `ray` (cluster.work's address and task_cpus), the stacks train on a Ray cluster."""
    serve_once = functools.partial(work, store, device)
    if ray is not None:  # the Ray worker, with the same loop around it
        serve_once = functools.partial(cluster.work, store, **ray)
    pf = pidfile(store)
    pf.write_text(str(os.getpid()))  # how the app finds a worker; more than one may serve a database
    try:
        idle_since = time.monotonic()
        trained = 0
        while time.monotonic() - idle_since < idle_exit_s:
            progress = serve_once()
            if progress.trained + progress.failed:
                trained += progress.trained
                idle_since = time.monotonic()
                print(f"{time.strftime('%H:%M:%S')} trained {progress.trained} runs ({progress.failed} failed)", flush=True)
            time.sleep(0.5)
        print(f"trained {trained} runs; idle for {idle_exit_s:g} s, exiting", flush=True)
    finally:
        if pf.exists() and pf.read_text() == str(os.getpid()):
            pf.unlink()
