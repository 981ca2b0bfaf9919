"""Training plans: a grid in the CLI's syntax, the quick sweep per device, what it costs here."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import arch, grid
from ..config import RunConfig
from ..store import Store


@dataclass(frozen=True)
class GridSpec:
    """A training grid in the CLI's syntax (the Train page and the quick sweep)."""
    widths: str = "0:4"
    fractions: str = "1/64:1/8"
    seeds: str = "0:2"
    dropouts: str = "0,0.2"
    lr_mults: str = "1"
    dataset: str = "mnist"

    def configs(self) -> list[RunConfig]:
        return grid.expand(
            grid.int_steps("widths", self.widths, 0, arch.MAX_WIDTH_STEP), grid.fractions("fractions", self.fractions),
            grid.int_steps("seeds", self.seeds, 0, 2**31 - 1), grid.floats("dropout", self.dropouts, 0, 1, hi_open=True),
            grid.floats("lr multiplier", self.lr_mults, 1e-6, 1e6), dataset=self.dataset)

    def label(self) -> str:
        return (f"widths {self.widths} · fractions {self.fractions} · seeds {self.seeds} · dropout {self.dropouts}"
                f" · lr ×{self.lr_mults} · {self.dataset}")


LR_SCAN = (0.5, 1.0, 2.0)  # the multipliers a tuned learning rate needs at the least (the CLI's --lr-scan)


# Sized by measurement: on this project's 2-core VM this grid (80 runs, 186 GFLOP) trains in
# about two minutes from the app (the browser and the page's reruns share the cores). On a GPU,
# the exercise's whole grid: widths 4..45, 1/128 to all of MNIST, 3 seeds, both dropouts.


LR_SCAN = (0.5, 1.0, 2.0)  # the multipliers a tuned learning rate needs at the least (the CLI's --lr-scan)


# Sized by measurement: on this project's 2-core VM this grid (80 runs, 186 GFLOP) trains in
# about two minutes from the app (the browser and the page's reruns share the cores). On a GPU,
# the exercise's whole grid: widths 4..45, 1/128 to all of MNIST, 3 seeds, both dropouts.
QUICK_CPU = GridSpec(widths="0:5", fractions="1/256:1/32", seeds="0:2", dropouts="0,0.2")
QUICK_GPU = GridSpec(widths="0:8", fractions="1/128:1", seeds="0:3", dropouts="0,0.2")


def quick_grid(device: str) -> GridSpec:
    return QUICK_CPU if device == "cpu" else QUICK_GPU


# Per-run cost on a device with no history: a fixed part (evaluation on the 10k validation
# images, data slicing) plus training FLOPs at a throughput, measured on this project's 2-core VM.


# Per-run cost on a device with no history: a fixed part (evaluation on the 10k validation
# images, data slicing) plus training FLOPs at a throughput, measured on this project's 2-core VM.
CPU_FIXED_S, CPU_FLOPS_PER_S = 0.1, 3e9
GPU_FIXED_S, GPU_FLOPS_PER_S = 0.05, 2e12


def time_model(runs: pd.DataFrame, device_label: str) -> tuple[float, float]:
    """(fixed seconds per run, FLOP/s) for this device: a least-squares fit of wall_s = t0 + C/r on
    the cached runs trained here, or the defaults when there are too few."""
    gpu = not device_label.startswith("cpu")
    t0, rate = (GPU_FIXED_S, GPU_FLOPS_PER_S) if gpu else (CPU_FIXED_S, CPU_FLOPS_PER_S)
    if runs.empty:
        return t0, rate
    here = runs[(runs["device"] == device_label) & runs["wall_s"].notna() & (runs["wall_s"] > 0)]
    if len(here) < 4 or here["flops"].nunique() < 2:
        return t0, rate
    C, W = here["flops"].to_numpy(float), here["wall_s"].to_numpy(float)
    (a, b), *_ = np.linalg.lstsq(np.c_[np.ones(len(here)), C], W, rcond=None)
    if a < 0 or b <= 0:  # noisy small runs: no fixed part, the average throughput
        return 0.0, float(C.sum() / W.sum())
    return float(a), float(1 / b)


@dataclass(frozen=True)
class Plan:
    configs: list
    cached: int
    new: int               # neither cached nor queued: what queueing the grid adds
    flops: float           # training compute of the runs to train
    est_s: float           # estimated wall time on this device
    todo: list = field(default_factory=list)
    queued: int = 0        # already waiting in the queue (or training), by this or another sweep


def plan(store: Store, spec: GridSpec, runs: pd.DataFrame, device_label: str) -> Plan:
    configs = spec.configs()
    ids = [c.run_id for c in configs]
    cached = store.cached_ids(ids)
    waiting = store.queued_ids(ids) - cached
    todo = [c for c in configs if c.run_id not in cached and c.run_id not in waiting]
    t0, rate = time_model(runs, device_label)
    est = sum(t0 + c.flops / rate for c in todo)
    return Plan(configs, len(cached), len(todo), float(sum(c.flops for c in todo)), est, todo, len(waiting))


def next_lr_configs(tuning, seeds) -> list[RunConfig]:
    """The runs that would tune the configurations not tuned yet (tuning.todo: the next learning-rate
    multiplier out on each side of the best one not tried), for every seed given."""
    keys = ("dataset", "width_step", "dropout", "data_fraction", "lr_rule", "epochs", "batch_size")
    out = []
    for r in tuning.todo.to_dict("records"):
        fixed = {k: r[k].item() if hasattr(r[k], "item") else r[k] for k in keys}
        out += [RunConfig(seed=int(s), lr_mult=float(r["next_mult"]), **fixed) for s in seeds]
    return out
