"""The CPU check's harness: a training step and an evaluation pass, timed on the C kernels and on the torch ops."""
from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F

from scaling.training import data, model, native
from scaling.training.cpu_check import VARIANTS, Timing
from scaling.training.devices import keep_freed_memory
from scaling.training.optim import BETAS, adam


def time_cpu_paths(widths, models: int = 4, batch: int = 64, eval_images: int = 256, repeats: int = 5) -> list[Timing]:
    """What native.cpu_path() decides by: at each width, a training step of `models` models (half of
    them with dropout) on MNIST images, and their forward pass over `eval_images` test images, in
    each of VARIANTS, interleaved, the best of `repeats` each."""
    keep_freed_memory()
    ds = data.load("mnist", "cpu")
    b1, b2 = (torch.tensor(b, dtype=torch.float64) for b in BETAS)
    out = []
    for c in widths:
        p = {n: t.detach() for n, t in model.init_stack(c, list(range(models))).items()}
        state = [[torch.zeros_like(t) for t in p.values()] for _ in range(2)]
        lr = [torch.full_like(t, 1e-3) for t in p.values()]
        keep, keys = torch.tensor([1.0, 0.8] * models)[:models], torch.arange(models)
        x, y = ds.x_train[: models * batch].view(models, batch, 28, 28), ds.y_train[: models * batch].view(models, batch)
        x_eval = ds.x_test[:eval_images]

        @torch.enable_grad()  # the check may be first asked from inside a no-grad evaluation
        def step():
            pk = {n: t.requires_grad_() for n, t in p.items()}
            loss = F.cross_entropy(model.forward_stack(pk, x, keep, keys, 1).flatten(0, 1), y.flatten())
            grads = torch.autograd.grad(loss, list(pk.values()))
            adam([t.detach() for t in pk.values()], grads, *state, lr, torch.tensor(1), b1, b2,
                 native.usable(x, "train", c))

        @torch.no_grad()
        def evaluate_chunk():
            model.forward_stack(p, x_eval)

        for phase, fn in (("train", step), ("eval", evaluate_chunk)):
            best = dict.fromkeys(VARIANTS, math.inf)
            for r in range(repeats + 1):  # the first round warms oneDNN's kernels for these shapes
                for variant in VARIANTS:
                    with native.forcing(variant):
                        t = time.perf_counter()
                        fn()
                        if r:
                            best[variant] = min(best[variant], time.perf_counter() - t)
            out.append(Timing(phase, c, best["c"], best["onednn"], best["ops"]))
    return out
