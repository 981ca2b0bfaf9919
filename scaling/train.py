"""Training: one epoch (or a few) of many models of one width at once, with Adam.

Models that share width, data fraction, epochs and batch size take the same number of steps, so
they train as one stack (see model.forward_stack): each keeps its own seed-determined init, data
order and dropout masks, so its result does not depend on which models it was batched with.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from itertools import groupby

import torch
import torch.nn.functional as F

from . import data, model
from .config import RunConfig, lr_per_layer

BETAS, EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults
EVAL_BATCH = 2000
CURVE_POINTS = 8  # validation-curve points per run, log-spaced in examples seen


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


@torch.no_grad()
def evaluate(p: dict[str, torch.Tensor], ds: data.Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """Validation loss and accuracy [M] of every model on the full test set."""
    m = p["conv1.weight"].shape[0]
    loss = torch.zeros(m, device=ds.x_test.device)
    correct = torch.zeros(m, device=ds.x_test.device)
    for i in range(0, len(ds.x_test), EVAL_BATCH):
        x, y = ds.x_test[i : i + EVAL_BATCH], ds.y_test[i : i + EVAL_BATCH]
        logits = model.forward_stack(p, x)
        loss += F.cross_entropy(logits.flatten(0, 1), y.repeat(m), reduction="none").view(m, -1).sum(1)
        correct += (logits.argmax(-1) == y).sum(1)
    n = len(ds.x_test)
    return loss / n, correct / n


def train_stack(cfgs: list[RunConfig], device: str = "cpu", curve: bool | None = None) -> list[RunResult]:
    """Train the models of one stack (configs with one stack_key) and evaluate them.

    A model whose loss turns NaN/inf is reported `diverged`; its neighbours are unaffected (their
    weights never mix). Curves default to on for CUDA, off for CPU where each point costs a full
    pass over the 10k validation images per model.
    """
    assert len({c.stack_key for c in cfgs}) == 1, "a stack needs one width, fraction, epochs and batch size"
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
        logits = model.forward_stack(p, x, keep, keys, step) if use_dropout else model.forward_stack(p, x)
        losses = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none").view(m, -1).mean(1)
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
