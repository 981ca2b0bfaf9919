"""Evaluation: every model of a stack on the whole test set, in chunks sized to the device."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from scaling.training import data, model
from scaling.training.devices import autocast, device_type

# Evaluation chunks are sized by their conv1 activations (examples x models x width x 784 floats),
# which the C kernels never store (they keep a quarter of it, after pooling). CPU: big chunks keep the
# threads busy between the small per-chunk steps (docs/performance.md). CUDA: big, so few launches
# (not tuned: evaluation is a small part of a GPU sweep), at most a quarter of free memory.
EVAL_BYTES = {"cpu": 256 << 20, "cuda": 1 << 30}


def _eval_chunk(m: int, c: int, device) -> int:
    budget = EVAL_BYTES[device_type(device)]
    if device_type(device) == "cuda":
        budget = min(budget, torch.cuda.mem_get_info(torch.device(device))[0] // 4)
    return max(8, budget // (784 * m * c * 4))


@torch.no_grad()
def evaluate(p: dict[str, torch.Tensor], ds: data.Dataset, arch: str = "cnn") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Validation loss and accuracy [M] of every model on the full test set, and the loss [2, M]
    on its even- and odd-numbered halves: choosing on one half and scoring on the other measures
    how optimistic a choice made on the reported set is (fit.reporting_bias)."""
    m = next(iter(p.values())).shape[0]
    device = ds.x_test.device
    # chunks are sized by the CNN's activations (784 c floats an image); the MLP's are 2h = 32 c
    c = p["conv1.weight"].shape[1] if arch == "cnn" else max(1, 2 * p["fc1.weight"].shape[1] // 784)
    chunk = _eval_chunk(m, c, device)
    forward = model.FORWARD[arch]
    halves = torch.zeros(2, m, device=device)
    correct = torch.zeros(m, device=device)
    for i in range(0, len(ds.x_test), chunk):
        x, y = ds.x_test[i : i + chunk], ds.y_test[i : i + chunk]
        with autocast(device):
            logits = forward(p, x)
        ce = F.cross_entropy(logits.float().flatten(0, 1), y.repeat(m), reduction="none").view(m, -1)
        first = i % 2  # the half of this chunk's first image
        halves[first] += ce[:, 0::2].sum(1)
        halves[1 - first] += ce[:, 1::2].sum(1)
        correct += (logits.argmax(-1) == y).sum(1)
    n = len(ds.x_test)
    return halves.sum(0) / n, correct / n, halves / torch.tensor([[(n + 1) // 2], [n // 2]], device=device)
