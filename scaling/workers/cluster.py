"""The worker on a Ray cluster: the queue's stacks become Ray tasks, and this process, which holds
the database file, claims them and writes every result, so DuckDB stays the one record.

Why Ray and not a scheduler of our own: it is what this field's sweeps already run on (Ray Tune's
trials are Ray tasks), it places tasks by the resources they ask for, and it retries a task whose
worker process or node died. Only configs (small frozen dataclasses) go out and RunResults come
back; the data set is the package's own vendored files, loaded once per Ray worker process
(data.load caches it), so it never crosses the network. Each node needs this package installed.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from typing import Callable

from scaling.core import settings
from scaling.core.config import RunConfig
from scaling.store import Store, owner_id
from scaling.workers import stacks

ADDRESS_ENV = settings.RAY_ADDRESS  # a cluster's address ("auto": the one started on this host)
INSTALL = "Ray is not installed here: pip install 'scaling-lab[ray]' (or: pip install 'ray>=2.60')"
MAX_RETRIES = 5  # a task whose worker process dies is run again this often before its runs count as failed


@dataclass(frozen=True)
class ClusterInfo:
    """Where training happens, as Ray reports it.

    Attributes
    ----------
    address : str
        The cluster's address, or "local" for an instance this process started.
    nodes : int
        Live nodes.
    cpus, gpus : float
        The cluster's total CPUs and GPUs, as Ray counts its resources.
    """

    address: str
    nodes: int
    cpus: float
    gpus: float

    def describe(self) -> str:
        where = "a local Ray instance" if self.address == "local" else f"the Ray cluster at {self.address}"
        return f"{where}: {self.nodes} node{'s' * (self.nodes != 1)}, {self.cpus:g} CPUs, {self.gpus:g} GPUs"


class RayMissing(ValueError):
    """--ray without Ray installed: one line saying what to install."""


class ClusterUnreachable(ValueError):
    """--ray could not join the cluster (not there, or its token missing): one line saying which."""


def _unreachable(address: str | None, e: Exception) -> str:
    where = f"the Ray cluster at {address}" if address else "a local Ray instance"
    if "token" in str(e).lower() or os.environ.get("RAY_AUTH_MODE") != "token":
        # a token-authenticated head drops a client without a token: it looks like no cluster at all
        return (f"could not join {where}: a cluster started with `ray start` needs RAY_AUTH_MODE=token and its "
                "token here (~/.ray/auth_token, or RAY_AUTH_TOKEN_PATH; `ray get-auth-token --generate` makes one)")
    return f"could not join {where}: {str(e).splitlines()[0]}"


def _ray():
    try:
        import ray
    except ImportError:
        raise RayMissing(INSTALL) from None
    return ray


def address_from(arg: str | None) -> str | None:
    """The address to join: the flag's, else $SCALING_RAY_ADDRESS, else None (start a local instance)."""
    return arg or settings.ray_address()


def connect(address: str | None = None, num_cpus: int | None = None) -> ClusterInfo:
    """Join the cluster at `address`, or start a local instance with every CPU and GPU of this host
    (`num_cpus` caps its CPUs)."""
    ray = _ray()
    if not ray.is_initialized():
        kwargs = {} if address else {"num_cpus": num_cpus}
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="ERROR", **kwargs)
        except (ConnectionError, ray.exceptions.AuthenticationError) as e:
            raise ClusterUnreachable(_unreachable(address, e)) from None
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    res = ray.cluster_resources()
    return ClusterInfo(address or "local", len(nodes), float(res.get("CPU", 0)), float(res.get("GPU", 0)))


def _train_task(cfgs: list[RunConfig], device: str, curve: bool | None, threads: int, have: dict) -> list:
    """Runs inside a Ray worker: one stack, as the local worker trains it (each result names the
    host that trained it), after any pre-training it needs that the store had no weights of
    (`have`: those it had); those runs' results come back first."""
    import torch

    torch.set_num_threads(threads)  # the CPUs this task was given, not the node's
    before, init = stacks.pretrain(cfgs, have, device, curve)
    return before + stacks.train_safely(cfgs, device, curve, init)


def _placement(info: ClusterInfo, task_cpus: int | None) -> tuple[str, dict, int, int]:
    """(device, Ray resource request per task, threads per task, tasks that fit at once)."""
    ray = _ray()
    if info.gpus >= 1:  # one GPU per stack: a stack already fills a GPU's graph with every model of a width
        return "cuda", {"num_gpus": 1, "num_cpus": 1}, 1, int(info.gpus)
    node_cpus = [int(n["Resources"].get("CPU", 0)) for n in ray.nodes() if n.get("Alive") and n["Resources"].get("CPU")]
    per = min(node_cpus) if task_cpus is None else task_cpus  # default: a stack per node, on all its cores
    if per < 1 or per > max(node_cpus):
        raise ValueError(f"--ray-task-cpus {per}: the cluster's nodes have {sorted(set(node_cpus))} CPUs")
    return "cpu", {"num_cpus": per}, per, max(1, sum(c // per for c in node_cpus))


def write_status(store: Store, info: ClusterInfo | None) -> None:
    """What the Train page shows about the cluster (it never joins Ray itself)."""
    path = store.path.with_name(store.path.name + ".cluster.json")
    if info is None:
        path.unlink(missing_ok=True)
    else:
        path.write_text(json.dumps({**asdict(info), "at": time.time(), "pid": os.getpid()}))


def read_status(store: Store) -> ClusterInfo | None:
    try:
        d = json.loads(store.path.with_name(store.path.name + ".cluster.json").read_text())
        return ClusterInfo(d["address"], d["nodes"], d["cpus"], d["gpus"])
    except (OSError, ValueError, KeyError):
        return None


def work(store: Store, address: str | None = None, run_ids: list[str] | None = None,
         stop: Callable[[], bool] = lambda: False, on_stack: Callable[[stacks.Progress], None] = lambda p: None,
         curve: bool | None = None, wait: bool = False, task_cpus: int | None = None,
         num_cpus: int | None = None) -> stacks.Progress:
    """jobs.work on Ray: claim stacks while the cluster has room for them (one more than fits, so a
    task is ready when one finishes), write each task's results in one transaction as it returns."""
    ray = _ray()
    info = connect(address, num_cpus)
    write_status(store, info)
    device, request, threads, fit = _placement(info, task_cpus)
    task = ray.remote(max_retries=MAX_RETRIES)(_train_task).options(**request)
    owner = owner_id()
    progress = stacks.Progress()
    running: dict = {}  # ObjectRef -> (configs, start time)
    with stacks.heartbeat(store, owner):  # our claims stay fresh while tasks run elsewhere
        while True:
            while not stop() and len(running) <= fit:
                cfgs = store.claim(owner, stacks.max_models(device), run_ids)
                if not cfgs:
                    break
                have = store.weights(stacks.pretraining_ids(cfgs))
                running[task.remote(cfgs, device, curve, threads, have)] = (cfgs, time.perf_counter())
            if not running:
                if wait and not stop() and store.queue_counts(run_ids).running:
                    time.sleep(0.5)  # another worker trains some of ours
                    continue
                return progress
            done, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
            for ref in done:
                cfgs, t0 = running.pop(ref)
                try:
                    results = ray.get(ref)
                except ray.exceptions.RayError as e:  # retried MAX_RETRIES times and still died
                    results = [stacks.failed_result(c, device, f"Ray: {type(e).__name__}: {str(e).splitlines()[0]}") for c in cfgs]
                store.add_results(results)
                progress.trained += sum(r.status != "failed" for r in results)
                progress.failed += sum(r.status == "failed" for r in results)
                progress.last_stack, progress.last_stack_s = cfgs, time.perf_counter() - t0
                on_stack(progress)
