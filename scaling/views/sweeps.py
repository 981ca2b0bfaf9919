"""Sweeps in flight: queue one and make sure a worker serves it, its progress, the worker."""
from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from .. import datasets
from ..store import Store
from .plans import GridSpec


@dataclass(frozen=True)
class SweepStatus:
    sweep_id: str
    label: str
    total: int
    done: int            # trained (ok, diverged or failed) or cached
    queued: int
    running: int
    failed: int
    current: pd.DataFrame  # the runs being trained now: width, fraction, seed, dropout, running_s
    worker_pid: int | None

    @property
    def active(self) -> bool:
        return self.queued + self.running > 0

    @property
    def cancelled(self) -> int:
        """Runs of the sweep neither done nor waiting: taken off the queue by a cancel."""
        return max(self.total - self.done - self.queued - self.running, 0)


def sweep_status(store: Store, sweep_id: str, label: str = "") -> SweepStatus:
    from .. import jobs  # torch loads with the trainer: only once a worker is asked about

    ids = store.sweep_run_ids(sweep_id)
    rows = store.sweep_rows(ids)
    cur = pd.DataFrame([dict(width_step=c.width_step, data_fraction=c.data_fraction, seed=c.seed, dropout=c.dropout,
                             flops=c.flops, running_s=s) for c, s in rows.running],
                       columns=["width_step", "data_fraction", "seed", "dropout", "flops", "running_s"])
    return SweepStatus(sweep_id, label, len(ids), sum(rows.done.values()), rows.queued, len(cur),
                       rows.done.get("failed", 0), cur, jobs.worker_alive(store))


def start_sweep(store: Store, spec: GridSpec, device: str = "auto") -> tuple[str, int, int]:
    """Queue a grid and make sure a worker process serves it (it outlives the page). A missing or
    corrupt data set is refused here (DataError), not discovered run by run by the worker."""
    from .. import jobs

    datasets.check(spec.dataset)
    sweep_id, n_cached, n_new = store.enqueue(spec.configs(), label=spec.label())
    if n_new:
        jobs.ensure_worker(store, device)
    return sweep_id, n_cached, n_new


def wait_sweep(store: Store, sweep_id: str, timeout: float = 600.0, poll: float = 0.5) -> SweepStatus:
    """Block until a sweep has nothing queued or running (tests and scripts; pages poll instead)."""
    deadline = time.monotonic() + timeout
    while True:
        s = sweep_status(store, sweep_id)
        if not s.active or time.monotonic() > deadline:
            return s
        time.sleep(poll)


def start_worker(store: Store, device: str = "auto") -> int:
    from .. import jobs

    return jobs.ensure_worker(store, device)


def worker_pid(store: Store) -> int | None:
    """The pid of the worker process serving this database, if one runs."""
    from .. import jobs

    return jobs.worker_alive(store)
