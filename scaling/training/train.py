"""Training: one epoch (or a few) of many models of one width at once, with Adam.

Models that share a width, epochs and batch size train as one stack (see model.forward_stack and
train_stack), whatever their data fraction, seed, dropout, learning rate or lr schedule: each keeps its own
seed-determined init, data order and dropout masks, so its result does not depend on which models
it was batched with (beyond float rounding, which kernels that differ by stack size introduce and
one epoch of Adam amplifies: tests compare over few steps). Everything lives on the device and a
batch is an index gather; on CUDA each step is a captured graph, because the step is bound by
kernel launches, not arithmetic; on the CPU in fp32 the conv blocks, dropout and Adam run in
native.py's C kernels. What each of these buys: docs/performance.md.

What the loop uses lives beside it: devices.py (the device, its name and precision), optim.py
(Adam), evaluation.py (evaluate), weights.py (a run's weights as bytes), cpu_timing.py (the CPU
check's harness, handed to native at the bottom of this file).
"""
from __future__ import annotations

import math
import socket
import time
from dataclasses import dataclass, field
from itertools import groupby

import torch
import torch.nn.functional as F

from scaling.core.config import CURVE_POINTS, WARMUP, RunConfig, lr_per_layer
from scaling.training import cpu_timing, data, model, native
from scaling.training.devices import (
    autocast,
    device_name,
    device_type,
    keep_freed_memory,
    precision,
)
from scaling.training.evaluation import (
    evaluate,  # looked up here by train_stack: bench_native/bench_sweep replace train.evaluate
)
from scaling.training.optim import BETAS, adam
from scaling.training.weights import load_weights, save_weights

# Training memory per model, per example of its batch, per unit of width: activations kept for
# the backward pass plus their gradients (conv1's output dominates); the peak RSS growth of fp32 CPU
# steps, rounded up (docs/performance.md).
TRAIN_BYTES = 24 * 1024
MEMORY_SHARE = 0.5  # of the device's free memory a stack may plan to use
# CUDA graphs for each phase of a stack (a stretch of steps with a fixed set of models training)
# of at least GRAPH_MIN_STEPS steps (capture costs a few steps' time), after GRAPH_WARMUP eager
# steps. GRAPHS = False is the plain eager loop (tests compare both).
GRAPHS = True
GRAPH_MIN_STEPS = 16
GRAPH_WARMUP = 3
TAIL_STEPS = 20  # the reported train loss is the mean over a run's last TAIL_STEPS steps
# The MLP's training memory per model and example, in units of TRAIN_BYTES x width: its
# activations (2 x 16c floats and their gradients) are far below the CNN's, its weights (784 x 16c
# + (16c)^2, with Adam's state) far above; 4 keeps max_fit on the safe side up to c = 256.
MLP_MEMORY = 4


@dataclass(frozen=True)
class RunResult:
    """What training one configuration produced: the row the store writes for it.

    Attributes
    ----------
    config : RunConfig
        The configuration trained.
    val_loss, val_acc : float
        Loss and accuracy on the full test set after the last step (NaN for a failed run).
    train_loss : float
        Mean training loss over the run's last TAIL_STEPS steps.
    wall_s : float
        The run's share of its stack's wall time, shared among the stack's runs by compute: what
        this run cost.
    device : str
        The device's name (device_name: the GPU's model, or the CPU and its threads).
    status : str
        "ok", "diverged" (a non-finite loss) or "failed" (an error, in `error`).
    error : str
        Why the run diverged or failed; empty when ok.
    curve : tuple of (int, float, float)
        (examples seen, val loss, val acc) at log-spaced steps; empty when curves were off.
    device_type : str
        "cpu" or "cuda": part of the run's family.
    precision : str
        "fp32" or "bf16" (autocast: weights, Adam and the loss stay fp32): part of the run's family.
    val_loss_halves : tuple of (float, float)
        The loss on the even- and odd-numbered test images, to measure how optimistic a choice
        made on the reported set is.
    host : str
        The machine that trained it (a Ray node, say).
    weights : bytes or None
        Its final weights (save_weights) where a fine-tuning run will start from them, else None.
    """

    config: RunConfig
    val_loss: float
    val_acc: float
    train_loss: float
    wall_s: float
    device: str
    status: str
    error: str = ""
    curve: tuple[tuple[int, float, float], ...] = field(default=())
    device_type: str = "cpu"
    precision: str = "fp32"
    val_loss_halves: tuple[float, float] = (math.nan, math.nan)
    host: str = field(default_factory=socket.gethostname)
    weights: bytes | None = field(default=None, repr=False)


def plan_stacks(configs: list[RunConfig], max_models: int) -> list[list[RunConfig]]:
    """Split configs into stacks of at most `max_models`, biggest compute first (so an ETA built
    from the first stacks errs on the long side). Within a width, the longest runs come first, so
    a stack split for size keeps runs of similar length together."""
    configs = sorted(configs, key=lambda c: (c.stack_key, -c.examples, c.seed, c.dropout, c.lr_mult, c.lr_rule,
                                            c.lr_schedule))
    stacks = []
    for _, group in groupby(configs, key=lambda c: c.stack_key):
        group = list(group)
        stacks += [group[i : i + max_models] for i in range(0, len(group), max_models)]
    return sorted(stacks, key=lambda s: -sum(c.flops for c in s))


def _schedule(cfgs: list[RunConfig], bs: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Example indices [M, steps * bs] per model (its nested subset, reshuffled every epoch by its
    seed) and their weights: 1, or 0 for the padding that fills a model's last batch and the steps
    after its end. Padding is example 0, which weight 0 keeps out of the loss and its gradient."""
    rows = []
    for cfg in cfgs:
        idx = data.subset(cfg.seed, cfg.data_fraction)
        g = torch.Generator().manual_seed(104_729 * cfg.seed + 3)
        rows.append(torch.cat([idx[torch.randperm(len(idx), generator=g)] for _ in range(cfg.epochs)]))
    width = max(math.ceil(len(r) / bs) for r in rows) * bs
    order = torch.zeros(len(rows), width, dtype=torch.int64)
    weight = torch.zeros(len(rows), width)
    for i, r in enumerate(rows):
        order[i, : len(r)], weight[i, : len(r)] = r, 1.0
    return order.to(device), weight.to(device)


def _curve_steps(n_steps: int) -> set[int]:
    """Steps after which to evaluate: log-spaced from the first step to the last."""
    return {round(s) for s in torch.logspace(0, math.log10(n_steps), CURVE_POINTS).tolist()} | {n_steps}


def lr_factors(done: torch.Tensor, n_steps: torch.Tensor, cosine: torch.Tensor) -> torch.Tensor:
    """Each model's schedule factor at step `done` (1-based, a 0-dim tensor on the device) of its
    `n_steps`: config.lr_factor, as tensor ops (cosine where `cosine`, else 1)."""
    t = done.float()
    ramp = torch.clamp(t / torch.clamp(torch.ceil(WARMUP * n_steps), min=1.0), max=1.0)
    return torch.where(cosine, ramp * 0.5 * (1 + torch.cos(math.pi * (t - 1) / n_steps)), 1.0)


def max_fit(width: int, batch_size: int, device) -> int:
    """How many models of this width one stack may hold on `device`: all of them on the CPU, on
    CUDA as many as fit in MEMORY_SHARE of the free memory."""
    if device_type(device) != "cuda":
        return 1 << 30
    free = torch.cuda.mem_get_info(torch.device(device))[0]
    return max(1, int(free * MEMORY_SHARE) // (TRAIN_BYTES * width * batch_size))


def train_stack(cfgs: list[RunConfig], device: str = "cpu", curve: bool | None = None,
                init: dict[str, bytes] | None = None) -> list[RunResult]:
    """Train the models of one stack (configs with one stack_key: one width) and evaluate them.
    A fine-tuning config starts from `init[cfg.pretraining.run_id]` (save_weights' bytes): its
    pre-trained run, which the caller trains first where it is not cached (stacks.pretrain).

    Models may differ in data fraction, hence in length: they are ordered longest first, so the
    models still training are always a prefix of the stack, and each step trains just that prefix
    (a model that has finished is frozen, evaluated when its last step is done). A model whose loss
    turns NaN/inf is reported `diverged`; its neighbours are unaffected (their weights never mix).
    Curves default to on for CUDA, off for CPU where each point costs a full pass over the 10k
    validation images per model.
    """
    assert len({c.stack_key for c in cfgs}) == 1, "a stack needs one dataset, model, width, epochs, batch size and digits"
    missing = [c.pretraining for c in cfgs if c.pretraining and c.pretraining.run_id not in (init or {})]
    if missing:
        raise ValueError(f"{len(missing)} fine-tuning runs need their pre-trained weights (run {missing[0].run_id}): "
                         "train the pre-training first (jobs.pretrained does)")
    fit = max_fit(cfgs[0].width * (MLP_MEMORY if cfgs[0].arch == "mlp" else 1), cfgs[0].batch_size, device)
    if len(cfgs) > fit:  # more than the device memory holds: train it in parts
        return [r for i in range(0, len(cfgs), fit) for r in train_stack(cfgs[i : i + fit], device, curve, init)]
    if device_type(device) == "cpu":
        keep_freed_memory()
    t0 = time.perf_counter()
    curve = device.startswith("cuda") if curve is None else curve
    rank = sorted(range(len(cfgs)), key=lambda i: -cfgs[i].examples)  # longest first; stable
    ranked = [cfgs[i] for i in rank]
    head = ranked[0]
    ds = data.restricted(data.load(head.dataset, device), head.classes)
    m, c, bs, arch = len(ranked), head.width, head.batch_size, head.arch
    forward = model.FORWARD[arch]
    steps = [math.ceil(cfg.examples / bs) for cfg in ranked]  # non-increasing
    p = {name: t.detach() for name, t in model.init_stack(c, [cfg.seed for cfg in ranked], device, arch).items()}
    for i, cfg in enumerate(ranked):
        if cfg.pretraining:
            for name, w in load_weights(init[cfg.pretraining.run_id]).items():
                p[name][i].copy_(w)
    fast_adam = arch == "cnn" and native.usable(p["conv1.weight"], "train", c)
    params = list(p.values())
    lr = [torch.tensor([lr_per_layer(cfg, name) for cfg in ranked], device=device).view(-1, *[1] * (t.dim() - 1)).expand_as(t)
          .contiguous() for name, t in p.items()]  # full shape: the foreach ops' fast path wants equal shapes
    # the lr schedule: a factor per model, computed on the device from the step count each step (so a
    # captured CUDA graph replays it without a capture per lr); none where every model is constant
    cosine = torch.tensor([cfg.lr_schedule == "cosine" for cfg in ranked], device=device)
    scheduled = bool(cosine.any())
    n_steps = torch.tensor(steps, dtype=torch.float32, device=device)
    exp_avg = [torch.zeros_like(t) for t in params]
    exp_avg_sq = [torch.zeros_like(t) for t in params]
    keep = torch.tensor([1 - cfg.dropout for cfg in ranked], device=device)
    keys = torch.tensor([cfg.seed for cfg in ranked], device=device, dtype=torch.int64)
    use_dropout = any(cfg.dropout > 0 for cfg in ranked)
    # per-model labels only where some model has label noise: otherwise one gather from the clean labels
    labels = torch.stack([data.noisy_labels(cfg.seed, cfg.data_fraction, cfg.label_noise, cfg.classes, cfg.dataset)
                          for cfg in ranked]).to(device) if any(cfg.label_noise for cfg in ranked) else None
    order, weight = _schedule(ranked, bs, device)
    batches, weights = order.view(m, -1, bs), weight.view(m, -1, bs)
    tail_from = torch.tensor([s - TAIL_STEPS for s in steps], device=device)
    tail_sum = torch.zeros(m, device=device)
    tail_n = torch.zeros(m, device=device)
    bad = torch.zeros(m, dtype=torch.bool, device=device)
    done = torch.zeros((), dtype=torch.int64, device=device)  # steps taken: a tensor, so a CUDA graph can count
    b1, b2 = (torch.tensor(b, dtype=torch.float64, device=device) for b in BETAS)
    amp = autocast(device)

    def step_of(k: int):
        """One training step of the first k models (views into the whole stack's tensors)."""
        pk = {name: t[:k].detach().requires_grad_() for name, t in p.items()}
        opt = [[t[:k] for t in ts] for ts in (exp_avg, exp_avg_sq, lr)]
        kcos, kn = cosine[:k], n_steps[:k]
        kk, kkeys, kbatch, kw, kbad = keep[:k], keys[:k], batches[:k], weights[:k], bad[:k]
        klabels = labels[:k] if labels is not None else None
        ktail_from, ktail_sum, ktail_n = tail_from[:k], tail_sum[:k], tail_n[:k]

        def step():
            i = done.view(1)
            idx, w = kbatch.index_select(1, i).squeeze(1), kw.index_select(1, i).squeeze(1)  # [k, B]
            done.add_(1)
            x = ds.x_train[idx]
            y = ds.y_train[idx] if klabels is None else klabels.gather(1, idx)
            with amp:
                logits = forward(pk, x, kk, kkeys, done) if use_dropout else forward(pk, x)
            ce = F.cross_entropy(logits.float().flatten(0, 1), y.flatten(), reduction="none").view(k, -1)
            losses = (ce * w).sum(1) / w.sum(1)
            grads = torch.autograd.grad(losses.sum(), list(pk.values()))
            losses = losses.detach()  # frees the autograd graph now (a graph kept alive trips CUDA-graph capture)
            kbad.logical_or_(~torch.isfinite(losses))
            in_tail = done > ktail_from
            ktail_sum.add_(torch.where(in_tail, losses, 0.0))
            ktail_n.add_(in_tail)
            klr = opt[2]
            if scheduled:
                f = lr_factors(done, kn, kcos)
                klr = [r * f.view(-1, *[1] * (r.dim() - 1)) for r in klr]  # one small op per tensor; replayed in a graph
            adam(list(pk.values()), grads, opt[0], opt[1], klr, done, b1, b2, fast_adam)

        return step

    # when to evaluate whom: each model after its last step, and along its curve if asked for
    evals: dict[int, list[int]] = {}
    for i, n_i in enumerate(steps):
        for s in (_curve_steps(n_i) if curve else {n_i}):
            evals.setdefault(s, []).append(i)
    points: list[list[tuple[int, float, float]]] = [[] for _ in range(m)]
    val = torch.full((4, m), math.nan)  # loss, accuracy, loss on each half
    s = 0
    for end in sorted(set(steps)):  # phases: between two models' ends, the active prefix is fixed
        k = sum(n_i >= end for n_i in steps)
        step = step_of(k)
        graphed = _StepGraph(step) if device_type(device) == "cuda" and GRAPHS and end - s >= GRAPH_MIN_STEPS else None
        while s < end:
            graphed() if graphed else step()
            s += 1
            if s in evals:
                who = evals[s]
                sub = torch.tensor(who, device=device)
                vl, va, vh = (t.cpu() for t in evaluate({n: t.index_select(0, sub) for n, t in p.items()}, ds, arch))
                for j, i in enumerate(who):
                    points[i].append((min(s * bs, ranked[i].examples), vl[j].item(), va[j].item()))
                    if s == steps[i]:
                        val[0, i], val[1, i], val[2:, i] = vl[j], va[j], vh[:, j]
        del graphed

    train_loss = (tail_sum / tail_n).tolist()
    bad = bad.tolist()
    wall = time.perf_counter() - t0
    total = sum(cfg.flops for cfg in ranked)
    dev = device_name(device)
    out: list[RunResult | None] = [None] * m
    for i, cfg in enumerate(ranked):
        vl, va = val[0, i].item(), val[1, i].item()
        diverged = bad[i] or not math.isfinite(vl)
        out[rank[i]] = RunResult(
            config=cfg, val_loss=vl, val_acc=va, train_loss=train_loss[i], device=dev,
            wall_s=wall * cfg.flops / total,  # the stack's time, shared by compute
            status="diverged" if diverged else "ok",
            error="non-finite loss during training" if diverged else "",
            curve=tuple(points[i]) if curve else (), device_type=device_type(device), precision=precision(device),
            val_loss_halves=(val[2, i].item(), val[3, i].item()),
            weights=save_weights(p, i) if cfg.keeps_weights and not diverged else None,
        )
    return out


class _StepGraph:
    """A training step captured once as a CUDA graph and replayed: one launch per step instead of
    one per kernel, whose CPU cost would otherwise be most of a GPU sweep's time, at every width.
    The first steps run eagerly on a side stream, as capture requires (they are real steps);
    the batch indices, the step count and everything that depends on them live on the device."""

    def __init__(self, fn):
        self.fn, self.graph, self.taken = fn, None, 0
        self.side = torch.cuda.Stream()

    def __call__(self) -> None:
        if self.taken < GRAPH_WARMUP:
            self.side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(self.side):
                self.fn()
            torch.cuda.current_stream().wait_stream(self.side)
        else:
            if self.graph is None:
                self.graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(self.graph):
                    self.fn()
            self.graph.replay()
        self.taken += 1


# native.cpu_path() times the kernels with cpu_timing's harness, which runs the model and Adam (both above native,
# so native cannot import it): the trainer hands it over, looked up at call time so a test can replace it.
native.set_timer(lambda widths: cpu_timing.time_cpu_paths(widths))
