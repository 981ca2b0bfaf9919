"""Training: one epoch (or a few) of many models of one width at once, with Adam.

Models that share width, data fraction, epochs and batch size take the same number of steps, so
they train as one stack (see model.forward_stack): each keeps its own seed-determined init, data
order and dropout masks, so its result does not depend on which models it was batched with
(beyond float rounding: kernels differ by stack size, and training is chaotic enough that a 1e-7
nudge to the init moves val loss by a few percent after ~60 steps; tests compare over few steps).

Speed, in order of what it bought (width 23, 6 models, one CPU core; benchmarks/bench_sweep.py for
whole sweeps): the data set lives on the device and a batch is an index gather; channels_last
grouped convs (2x, model.forward_stack); glibc told to keep freed memory (page faults were up to a
quarter of the wall time at 2 threads); dropout masks hashed in int32 (2.7x cheaper than int64);
cache-sized evaluation chunks. Not done, for lack of a GPU to measure on: torch.compile, CUDA
graphs, cudnn.benchmark; bf16 autocast is on for CUDA, checked against fp32 on the CPU's bf16.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import math
import time
from dataclasses import dataclass, field
from itertools import groupby

import torch
import torch.nn.functional as F

from . import data, model
from .config import RunConfig, lr_per_layer

BETAS, EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults
CURVE_POINTS = 8  # validation-curve points per run, log-spaced in examples seen
# Evaluation chunks are sized by their conv1 activations (examples x models x width x 784 floats).
# CPU: cache-sized; 8 MB ran at 44 GFLOP/s vs 35 at 32 MB (width 23, 6 models, one core).
# CUDA: big, so few launches (unmeasured: no GPU was at hand), and at most a quarter of free memory.
EVAL_BYTES = {"cpu": 8 << 20, "cuda": 1 << 30}
# bf16 autocast for the forward pass (weights, Adam and the loss stay fp32). On by default on CUDA
# only; tests switch it on for the CPU too, to check bf16 against fp32 where no GPU is at hand.
BF16 = {"cpu": False, "cuda": True}
# Training memory per model, per example of its batch, per unit of width: activations kept for
# the backward pass plus their gradients (conv1's output dominates). Measured as the peak RSS growth
# of fp32 CPU steps: 16.5 kB (width 32, 4 models), 19.6 kB (32, 8), 16.1 kB (64, 4); rounded up.
TRAIN_BYTES = 24 * 1024
MEMORY_SHARE = 0.5  # of the device's free memory a stack may plan to use


@dataclass(frozen=True)
class RunResult:
    config: RunConfig
    val_loss: float
    val_acc: float
    train_loss: float
    wall_s: float  # the stack's wall time divided by its size: what this run cost
    device: str
    status: str  # ok | diverged | failed
    error: str = ""
    curve: tuple[tuple[int, float, float], ...] = field(default=())  # (examples seen, val loss, val acc)


def resolve_device(name: str = "auto") -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise ValueError(f"--device must be auto, cpu or cuda, got {name!r}")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but torch sees no CUDA device here")
    return name


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"cpu ({torch.get_num_threads()} threads)"


def plan_stacks(configs: list[RunConfig], max_models: int) -> list[list[RunConfig]]:
    """Split configs into stacks of at most `max_models`, biggest compute first (so an ETA built
    from the first stacks errs on the long side)."""
    configs = sorted(configs, key=lambda c: (c.stack_key, c.seed, c.dropout, c.lr_mult, c.lr_rule))
    stacks = []
    for _, group in groupby(configs, key=lambda c: c.stack_key):
        group = list(group)
        stacks += [group[i : i + max_models] for i in range(0, len(group), max_models)]
    return sorted(stacks, key=lambda s: -s[0].flops)


def _schedule(cfgs: list[RunConfig], device) -> torch.Tensor:
    """Example indices [M, steps * batch] per model: its nested subset, reshuffled every epoch by its seed."""
    rows = []
    for cfg in cfgs:
        idx = data.subset(cfg.seed, cfg.data_fraction)
        g = torch.Generator().manual_seed(104_729 * cfg.seed + 3)
        rows.append(torch.cat([idx[torch.randperm(len(idx), generator=g)] for _ in range(cfg.epochs)]))
    return torch.stack(rows).to(device)


def _curve_steps(n_steps: int) -> set[int]:
    """Steps after which to evaluate: log-spaced from the first step to the last."""
    return {round(s) for s in torch.logspace(0, math.log10(n_steps), CURVE_POINTS).tolist()} | {n_steps}


def _kind(device) -> str:
    return "cuda" if str(device).startswith("cuda") else "cpu"


def _autocast(device):
    """bf16 autocast where BF16 says so, else nothing."""
    kind = _kind(device)
    return torch.autocast(kind, dtype=torch.bfloat16) if BF16[kind] else contextlib.nullcontext()


def _eval_chunk(m: int, c: int, device) -> int:
    budget = EVAL_BYTES[_kind(device)]
    if _kind(device) == "cuda":
        budget = min(budget, torch.cuda.mem_get_info(torch.device(device))[0] // 4)
    return max(8, budget // (784 * m * c * 4))


@torch.no_grad()
def evaluate(p: dict[str, torch.Tensor], ds: data.Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """Validation loss and accuracy [M] of every model on the full test set."""
    m, c = p["conv1.weight"].shape[:2]
    device = ds.x_test.device
    chunk = _eval_chunk(m, c, device)
    loss = torch.zeros(m, device=device)
    correct = torch.zeros(m, device=device)
    for i in range(0, len(ds.x_test), chunk):
        x, y = ds.x_test[i : i + chunk], ds.y_test[i : i + chunk]
        with _autocast(device):
            logits = model.forward_stack(p, x)
        loss += F.cross_entropy(logits.float().flatten(0, 1), y.repeat(m), reduction="none").view(m, -1).sum(1)
        correct += (logits.argmax(-1) == y).sum(1)
    n = len(ds.x_test)
    return loss / n, correct / n


@functools.cache
def _keep_freed_memory() -> None:
    """Have glibc serve big blocks from its heap and keep them when freed. By default it maps each
    block over ~32 MB fresh and unmaps it on free, so every step page-faults its activations back
    in: 7,500 faults and 12-20 ms of system time per step at width 23 x 6 models, 0 after this."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return  # not glibc (macOS, musl): nothing to tune
    libc.mallopt(-4, 0)  # M_MMAP_MAX = 0: big blocks come from the heap
    libc.mallopt(-1, 2**31 - 1)  # M_TRIM_THRESHOLD: freed heap is kept for the next step


def max_fit(width: int, batch_size: int, device) -> int:
    """How many models of this width one stack may hold on `device`: all of them on the CPU, on
    CUDA as many as fit in MEMORY_SHARE of the free memory."""
    if _kind(device) != "cuda":
        return 1 << 30
    free = torch.cuda.mem_get_info(torch.device(device))[0]
    return max(1, int(free * MEMORY_SHARE) // (TRAIN_BYTES * width * batch_size))


def train_stack(cfgs: list[RunConfig], device: str = "cpu", curve: bool | None = None) -> list[RunResult]:
    """Train the models of one stack (configs with one stack_key) and evaluate them.

    A model whose loss turns NaN/inf is reported `diverged`; its neighbours are unaffected (their
    weights never mix). Curves default to on for CUDA, off for CPU where each point costs a full
    pass over the 10k validation images per model.
    """
    assert len({c.stack_key for c in cfgs}) == 1, "a stack needs one width, fraction, epochs and batch size"
    fit = max_fit(cfgs[0].width, cfgs[0].batch_size, device)
    if len(cfgs) > fit:  # more than the device memory holds: train it in parts
        return [r for i in range(0, len(cfgs), fit) for r in train_stack(cfgs[i : i + fit], device, curve)]
    if _kind(device) == "cpu":
        _keep_freed_memory()
    t0 = time.perf_counter()
    head = cfgs[0]
    curve = device.startswith("cuda") if curve is None else curve
    ds = data.load(head.dataset, device)
    m, c, bs = len(cfgs), head.width, head.batch_size
    p = model.init_stack(c, [cfg.seed for cfg in cfgs], device)
    lr = {name: torch.tensor([lr_per_layer(cfg, name) for cfg in cfgs], device=device).view(-1, *[1] * (t.dim() - 1))
          for name, t in p.items()}
    exp_avg = {name: torch.zeros_like(t) for name, t in p.items()}
    exp_avg_sq = {name: torch.zeros_like(t) for name, t in p.items()}
    keep = torch.tensor([1 - cfg.dropout for cfg in cfgs], device=device)
    keys = torch.tensor([cfg.seed for cfg in cfgs], device=device, dtype=torch.int64)
    use_dropout = any(cfg.dropout > 0 for cfg in cfgs)

    order = _schedule(cfgs, device)
    n = order.shape[1]
    n_steps = math.ceil(n / bs)
    want_curve = _curve_steps(n_steps) if curve else {n_steps}
    bad = torch.zeros(m, dtype=torch.bool, device=device)
    tail = []  # last steps' per-model train losses, for the final train loss
    points = []
    for step in range(1, n_steps + 1):
        idx = order[:, (step - 1) * bs : step * bs]  # [M, B]
        x, y = ds.x_train[idx], ds.y_train[idx]
        with _autocast(device):
            logits = model.forward_stack(p, x, keep, keys, step) if use_dropout else model.forward_stack(p, x)
        losses = F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), reduction="none").view(m, -1).mean(1)
        grads = torch.autograd.grad(losses.sum(), list(p.values()))
        bad |= ~torch.isfinite(losses)
        _adam(p, grads, exp_avg, exp_avg_sq, lr, step)
        if step > n_steps - 20:
            tail.append(losses.detach())
        if step in want_curve:
            vl, va = evaluate(p, ds)
            points.append((min(step * bs, n), vl, va))

    val_loss, val_acc = points[-1][1].tolist(), points[-1][2].tolist()
    train_loss = torch.stack(tail).mean(0).tolist()
    bad = bad.tolist()
    wall = (time.perf_counter() - t0) / m
    dev = device_name(device)
    results = []
    for i, cfg in enumerate(cfgs):
        diverged = bad[i] or not math.isfinite(val_loss[i])
        results.append(RunResult(
            config=cfg, val_loss=val_loss[i], val_acc=val_acc[i], train_loss=train_loss[i], wall_s=wall, device=dev,
            status="diverged" if diverged else "ok",
            error="non-finite loss during training" if diverged else "",
            curve=tuple((ex, vl[i].item(), va[i].item()) for ex, vl, va in points) if curve else (),
        ))
    return results


@torch.no_grad()
def _adam(p, grads, exp_avg, exp_avg_sq, lr, step):
    """torch.optim.Adam's update, with a learning rate per model (and per layer)."""
    b1, b2 = BETAS
    bc1, bc2_sqrt = 1 - b1**step, math.sqrt(1 - b2**step)
    for (name, w), g in zip(p.items(), grads):
        exp_avg[name].lerp_(g, 1 - b1)
        exp_avg_sq[name].mul_(b2).addcmul_(g, g, value=1 - b2)
        denom = (exp_avg_sq[name].sqrt() / bc2_sqrt).add_(EPS)
        w.sub_(lr[name] / bc1 * exp_avg[name] / denom)
