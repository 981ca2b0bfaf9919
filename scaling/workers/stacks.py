"""A claimed stack, trained as every worker trains it (local or on Ray): pre-training first, failures as results, a live claim."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from scaling.core.config import RunConfig
from scaling.store import Store
from scaling.training import train
from scaling.training.devices import device_name, device_type, precision

# On the CPU a stack beyond ~6 models only spills the caches: the time per model and step grows
# with the stack (docs/performance.md). On CUDA the cap is high; train.train_stack splits a stack
# further to fit the free device memory.
CPU_MAX_MODELS = 8
MAX_MODELS = 256


def max_models(device: str) -> int:
    return CPU_MAX_MODELS if device == "cpu" else MAX_MODELS


@dataclass
class Progress:
    """A worker's tally so far, handed to its on_stack callback after every stack.

    Attributes
    ----------
    trained : int
        Runs this worker trained to a result (ok or diverged), pre-training runs included.
    failed : int
        Runs this worker recorded as failed.
    last_stack : list of RunConfig or None
        The configs of the stack that finished last (None before the first).
    last_stack_s : float
        That stack's wall time in seconds, from its claim to its results written.
    """

    trained: int = 0
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
    return train.RunResult(cfg, nan, nan, nan, 0.0, device_name(device), "failed", msg[:500],
                           device_type=device_type(device), precision=precision(device))


@contextmanager
def heartbeat(store: Store, owner: str, every_s: float = 60.0):
    """Keep our claims fresh while a long stack trains, so no other host takes them as abandoned."""
    done = threading.Event()

    def beat():
        while not done.wait(every_s):
            try:
                store.heartbeat(owner)
            except Exception:  # noqa: S110  (a busy database: the next beat will do)
                pass

    t = threading.Thread(target=beat, daemon=True)
    t.start()
    try:
        yield
    finally:
        done.set()
