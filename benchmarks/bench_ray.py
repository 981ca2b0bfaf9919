"""The same CPU grid through the local worker and through Ray (a local instance) with 1 and 2
workers: wall time, throughput, and Ray's overhead per stack, measured side by side.

Ray's overhead per stack = (Ray with 1 worker - local worker) / stacks: both train one stack at a
time on every core, so the difference is what Ray adds (a task's submission, its result crossing
the object store, the driver's wait). Ray's start and the first task of each worker process (it
imports torch and times the kernels once) are warmed up first and reported apart.

Ray binds the machine's network address; this script re-runs itself in a network namespace that
has only loopback (root, `unshare`), where Ray uses 127.0.0.1.

    python benchmarks/bench_ray.py [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scaling.core import grid
from scaling.store import Store  # noqa: E402
from scaling.training import train  # noqa: E402
from scaling.workers import cluster, jobs

# widths 4-11 x fractions 1/256-1/32 x 2 seeds x dropout {0, 0.2}: 64 runs, 8 stacks of 8 models
GRID = dict(widths=[0, 1, 2, 3], fractions=[1 / 256, 1 / 128, 1 / 64, 1 / 32], seeds=[0, 1], dropouts=[0.0, 0.2])


def _in_loopback_namespace() -> bool:
    return [name for _, name in socket.if_nameindex()] == ["lo"]  # this namespace's links (not /sys's)


def _run(store: Store, configs, backend) -> tuple[float, int]:
    store.enqueue(configs, label="bench_ray")
    t = time.perf_counter()
    progress = backend(store, [c.run_id for c in configs])
    return time.perf_counter() - t, progress.trained


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if not _in_loopback_namespace():
        inner = " ".join([sys.executable, str(Path(__file__).resolve()), *(["--json"] if args.json else [])])
        if os.environ.get("SCALING_BENCH_NETNS"):  # already re-run once: unshare gave no loopback-only namespace
            raise SystemExit("bench_ray: could not enter a loopback-only network namespace (needs root and unshare)")
        return subprocess.run(["unshare", "--net", "sh", "-c", f"ip link set lo up; SCALING_BENCH_NETNS=1 exec {inner}"]).returncode
    import ray
    import torch

    configs = grid.expand(GRID["widths"], GRID["fractions"], GRID["seeds"], GRID["dropouts"])
    stacks = len(train.plan_stacks(configs, jobs.max_models("cpu")))
    flops = sum(c.flops for c in configs)
    out = {"runs": len(configs), "stacks": stacks, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory() as tmp:
        def fresh(name):
            return Store(Path(tmp) / f"{name}.duckdb")

        wall, n = _run(fresh("local"), configs, lambda s, ids: jobs.work(s, "cpu", ids))
        out["local"] = {"wall_s": wall, "trained": n}
        t = time.perf_counter()
        cluster.connect(None, num_cpus=os.cpu_count())
        out["ray_start_s"] = time.perf_counter() - t
        warm = grid.expand([0], [1 / 1024], [0, 1, 2, 3], [0.0])  # every worker process imports torch and times the kernels
        t = time.perf_counter()
        for cpus in (os.cpu_count(), 1):
            _run(fresh(f"warm{cpus}"), warm, lambda s, ids, k=cpus: cluster.work(s, None, ids, task_cpus=k))
        out["ray_warmup_s"] = time.perf_counter() - t
        for workers, cpus in ((1, os.cpu_count()), (os.cpu_count(), 1)):
            wall, n = _run(fresh(f"ray{workers}"), configs, lambda s, ids, k=cpus: cluster.work(s, None, ids, task_cpus=k))
            out[f"ray_{workers}_workers"] = {"wall_s": wall, "trained": n, "task_cpus": cpus}
        ray.shutdown()
    local = out["local"]["wall_s"]
    out["overhead_per_stack_s"] = (out["ray_1_workers"]["wall_s"] - local) / stacks
    out["stack_train_s"] = local / stacks
    out["overhead_fraction"] = out["overhead_per_stack_s"] / out["stack_train_s"]
    for key in ("local", "ray_1_workers", f"ray_{os.cpu_count()}_workers"):
        out[key]["runs_per_s"] = len(configs) / out[key]["wall_s"]
        out[key]["gflops_per_s"] = flops / out[key]["wall_s"] / 1e9
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"{len(configs)} runs in {stacks} stacks, {os.cpu_count()} cores; Ray start {out['ray_start_s']:.1f} s, "
          f"warm-up {out['ray_warmup_s']:.1f} s (not counted)")
    for key, what in (("local", "local worker, 1 stack at a time"), ("ray_1_workers", "Ray, 1 worker of all cores"),
                      (f"ray_{os.cpu_count()}_workers", f"Ray, {os.cpu_count()} workers of 1 core")):
        r = out[key]
        print(f"{what:34s} {r['wall_s']:6.1f} s  {r['runs_per_s']:5.2f} runs/s  {r['gflops_per_s']:6.1f} GFLOP/s")
    print(f"Ray's overhead per stack: {out['overhead_per_stack_s'] * 1e3:.0f} ms = {out['overhead_fraction']:.1%} "
          f"of a stack's {out['stack_train_s']:.2f} s of training")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
