"""The worker: takes stacks of runs off the store's queue, trains them, writes the results.

Any number of workers (the app's, a terminal `scaling sweep`) can serve one database: a claim is
a transaction, so each queued config is trained once, and a worker that dies leaves its claim to
be taken again (store.claim checks whether the owner's pid still exists).
"""
from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from . import train
from .config import RunConfig
from .store import Store, owner_id, pid_alive

# On the CPU a stack beyond ~6 models only spills the caches: per-model step time at width 23 was
# 20.5 ms with 6 models, 22.2 ms with 12 and 24.2 ms with 24 (one core). On CUDA the cap is high;
# train.train_stack splits a stack further to fit the free device memory.
CPU_MAX_MODELS = 8
MAX_MODELS = 256
WORKER_NICE = 10  # the app's worker process (worker_nice)


def max_models(device: str) -> int:
    return CPU_MAX_MODELS if device == "cpu" else MAX_MODELS


@dataclass
class Progress:
    trained: int = 0  # by this worker
    failed: int = 0
    last_stack: list[RunConfig] | None = None
    last_stack_s: float = 0.0


def train_safely(cfgs: list[RunConfig], device: str, curve: bool | None = None,
                 init: dict[str, bytes] | None = None) -> list[train.RunResult]:
    """train_stack, halving the stack on out-of-memory; a single model that still does not fit, or
    any other error, becomes a `failed` result carrying the message (the worker goes on)."""
    try:
        return train.train_stack(cfgs, device, curve, init)
    except torch.OutOfMemoryError as e:
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
        if len(cfgs) > 1:
            half = len(cfgs) // 2
            return train_safely(cfgs[:half], device, curve, init) + train_safely(cfgs[half:], device, curve, init)
        return [failed_result(cfgs[0], device, f"out of memory: {str(e).splitlines()[0]}")]
    except Exception as e:  # a bug or a device fault: record it, keep serving the queue
        return [failed_result(c, device, f"{type(e).__name__}: {e}") for c in cfgs]


def pretraining_ids(cfgs: list[RunConfig]) -> list[str]:
    """The runs whose weights these configs start from (fine-tuning runs), once each."""
    return list(dict.fromkeys(c.pretraining.run_id for c in cfgs if c.pretraining))


def pretrain(cfgs: list[RunConfig], have: dict[str, bytes], device: str, curve: bool | None = None
             ) -> tuple[list[train.RunResult], dict[str, bytes]]:
    """Train the pre-training runs of `cfgs` whose weights are not in `have` (the store's): their
    results (for the store: they are runs of their own) and the weights every config needs.

    A sweep queues its pre-training runs with it, first; a fine-tuning stack claimed before they
    are done (another worker has them, or they were imported without weights) trains them here. No
    store access, so a Ray task does the same as the local worker."""
    need = {c.pretraining.run_id: c.pretraining for c in cfgs if c.pretraining}
    todo = [c for rid, c in need.items() if rid not in have]
    results = [r for stack in train.plan_stacks(todo, max_models(device)) for r in train_safely(stack, device, curve)]
    init = {rid: have[rid] for rid in need if rid in have}
    init.update({r.config.run_id: r.weights for r in results if r.weights is not None})
    return results, init


def failed_result(cfg, device, msg) -> train.RunResult:
    nan = float("nan")
    return train.RunResult(cfg, nan, nan, nan, 0.0, train.device_name(device), "failed", msg[:500],
                           device_type=train.device_type(device), precision=train.precision(device))


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


@contextmanager
def heartbeat(store: Store, owner: str, every_s: float = 60.0):
    """Keep our claims fresh while a long stack trains, so no other host takes them as abandoned."""
    done = threading.Event()

    def beat():
        while not done.wait(every_s):
            try:
                store.heartbeat(owner)
            except Exception:  # a busy database: the next beat will do
                pass

    t = threading.Thread(target=beat, daemon=True)
    t.start()
    try:
        yield
    finally:
        done.set()


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
    raw = os.environ.get("SCALING_WORKER_NICE", "").strip()
    if not raw:
        return WORKER_NICE
    if not raw.isdigit() or int(raw) > 19:
        raise ValueError(f"SCALING_WORKER_NICE={raw!r} must be an integer in 0..19 (default {WORKER_NICE})")
    return int(raw)


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
    if ray is not None:
        from . import cluster

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
