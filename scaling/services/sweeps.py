"""Sweeps in flight: queue one and make sure a worker serves it, its progress, the worker."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import pandas as pd

from scaling import datasets
from scaling.core.fmt import fmt_s
from scaling.fit.time_model import TimeModel
from scaling.services.grids import GridSpec
from scaling.store import Store


@dataclass(frozen=True)
class SweepStatus:
    """Where a sweep stands.

    Attributes
    ----------
    sweep_id : str
        The sweep's id in the store.
    label : str
        Its name, in words.
    total : int
        Runs in the sweep.
    done : int
        Runs trained (ok, diverged or failed) or cached.
    queued, running, failed : int
        Runs waiting, training now, and failed.
    current : pd.DataFrame
        The runs being trained now: width_step, data_fraction, seed, dropout, flops, running_s.
    worker_pid : int or None
        The worker serving the database, if one runs.
    stack_s : float
        Estimated seconds of the stack(s) training now (nan: no time model).
    queued_s : float
        Estimated seconds of the runs still queued (nan: no time model).
    basis : str
        Where the estimates come from, in words.
    """
    sweep_id: str
    label: str
    total: int
    done: int
    queued: int
    running: int
    failed: int
    current: pd.DataFrame
    worker_pid: int | None
    stack_s: float = math.nan
    queued_s: float = math.nan
    basis: str = ""

    @property
    def active(self) -> bool:
        return self.queued + self.running > 0

    @property
    def cancelled(self) -> int:
        """Runs of the sweep neither done nor waiting: taken off the queue by a cancel."""
        return max(self.total - self.done - self.queued - self.running, 0)

    @property
    def elapsed_s(self) -> float:
        """Seconds since the stack training now was claimed (0 when none is)."""
        return float(self.current["running_s"].fillna(0).max()) if len(self.current) else 0.0

    @property
    def over(self) -> bool:
        """The current stack has run past its estimate: what is left is then a lower bound."""
        return len(self.current) > 0 and self.elapsed_s > self.stack_s

    @property
    def left_s(self) -> float:
        """Estimated seconds until the sweep is done: the queued runs plus the rest of the current stack."""
        return self.queued_s + max(self.stack_s - self.elapsed_s, 0.0) if len(self.current) else self.queued_s

    def stack_line(self) -> str:
        """The stack training now, in words: what it is, how long it has run, against its estimate."""
        if not len(self.current):
            return ""
        cur = self.current.iloc[0]
        head = (f"Training now: {len(self.current)} model{'s' * (len(self.current) != 1)} of width step "
                f"{int(cur['width_step'])}, {fmt_s(self.elapsed_s)} elapsed")
        if not math.isfinite(self.stack_s):
            return head
        if self.over:
            return head + f", past its estimate of ~{fmt_s(self.stack_s)}"
        return head + f" of ~{fmt_s(self.stack_s)}"

    def eta_line(self) -> str:
        """How long the sweep has left, or '' when nothing is left or no estimate exists."""
        if not self.active or not math.isfinite(self.left_s):
            return ""
        if self.over:
            return (f"At least {fmt_s(self.left_s)} left (the stack training now runs longer than "
                    "estimated, so the rest may too)" if self.queued else
                    "The last stack runs longer than estimated: it ends when it ends")
        return f"About {fmt_s(self.left_s)} left"


def sweep_status(store: Store, sweep_id: str, label: str = "", model: TimeModel | None = None) -> SweepStatus:
    """Where a sweep stands; with a time model, how long its current stack and the rest should take."""
    from scaling.workers import jobs  # torch loads with the trainer: only once a worker is asked about

    ids, rows = store.sweep_state(sweep_id)
    cur = pd.DataFrame([dict(width_step=c.width_step, data_fraction=c.data_fraction, seed=c.seed, dropout=c.dropout,
                             flops=c.flops, running_s=s) for c, s in rows.running],
                       columns=["width_step", "data_fraction", "seed", "dropout", "flops", "running_s"])
    est = {} if model is None else dict(stack_s=model.seconds(c for c, _ in rows.running),
                                        queued_s=model.seconds(rows.waiting), basis=model.describe())
    return SweepStatus(sweep_id, label, len(ids), sum(rows.done.values()), rows.queued, len(cur),
                       rows.done.get("failed", 0), cur, jobs.worker_alive(store), **est)


def start_sweep(store: Store, spec: GridSpec, device: str = "auto") -> tuple[str, int, int]:
    """Queue a grid and make sure a worker process serves it (it outlives the page)."""
    return queue_runs(store, spec.configs(), spec.label(), device)


def queue_runs(store: Store, configs: list, label: str, device: str = "auto") -> tuple[str, int, int]:
    """Queue these configs (those not cached nor queued) and make sure a worker serves them. A
    missing or corrupt data set is refused here (DataError), not discovered run by run by the worker."""
    from scaling.workers import jobs

    for name in sorted({c.dataset for c in configs}):
        datasets.check(name)
    sweep_id, n_cached, n_new = store.enqueue(configs, label=label)
    if n_new:
        jobs.ensure_worker(store, device)
    return sweep_id, n_cached, n_new


def stale_configs(runs: pd.DataFrame) -> list:
    """The configs of the stale runs (an older protocol), as the current protocol identifies them:
    queueing them trains them again; the stale rows stay until deleted."""
    from scaling.core.config import PROTOCOL, RunConfig

    stale = runs[runs["protocol"] != PROTOCOL] if len(runs) else runs
    rows = ({k: v.item() if hasattr(v, "item") else v for k, v in r.items()} for r in stale.to_dict("records"))
    return list({c.run_id: c for c in map(RunConfig.from_dict, rows)}.values())


def past_sweeps(store: Store, limit: int = 50) -> pd.DataFrame:
    """The newest sweeps, for a list to queue again: sweep_id, label, created_at, runs, done, queued,
    left (neither done nor waiting: cancelled or failed), note, has_grid."""
    df = store.past_sweeps(limit)
    return df.assign(left=(df["runs"] - df["done"] - df["queued"]).clip(lower=0))


def requeue_sweep(store: Store, sweep_id: str, device: str = "auto") -> tuple[str, int, int, str]:
    """Queue a sweep's grid again: what it lacks (cancelled, failed, deleted) is trained, the rest is
    cached. Returns (new sweep id, cached, newly queued, label). A sweep queued before its grid was
    recorded gives back the configurations of its runs in the cache (its failed ones are retried)."""
    from scaling.core.config import RunConfig

    known = store.sweeps().set_index("sweep_id")["label"]
    if sweep_id not in known.index:
        raise ValueError(f"no sweep {sweep_id!r} in {store.path}")
    label = known[sweep_id]
    configs = store.sweep_configs(sweep_id)
    if configs is None:
        ids = set(store.sweep_run_ids(sweep_id))
        rows = store.runs(status=None)
        rows = rows[rows["run_id"].isin(ids)]
        configs = [RunConfig.from_dict({k: v.item() if hasattr(v, "item") else v for k, v in r.items()})
                   for r in rows.to_dict("records")]
    label = label or sweep_id
    again = label if label.endswith("(again)") else f"{label} (again)"
    sid, n_cached, n_new = queue_runs(store, configs, again, device)
    return sid, n_cached, n_new, again


def bootstrap_waits(device: str) -> bool:
    """Whether a page's bootstrap waits for a sweep training on this device ('cpu' or 'cuda') to end:
    on a CPU the sweep needs every core."""
    return device == "cpu"


def wait_sweep(store: Store, sweep_id: str, timeout: float = 600.0, poll: float = 0.5) -> SweepStatus:
    """Block until a sweep has nothing queued or running (tests and scripts; pages poll instead)."""
    deadline = time.monotonic() + timeout
    while True:
        s = sweep_status(store, sweep_id)
        if not s.active or time.monotonic() > deadline:
            return s
        time.sleep(poll)


def start_worker(store: Store, device: str = "auto") -> int:
    from scaling.workers import jobs

    return jobs.ensure_worker(store, device)


def worker_pid(store: Store) -> int | None:
    """The pid of the worker process serving this database, if one runs."""
    from scaling.workers import jobs

    return jobs.worker_alive(store)
