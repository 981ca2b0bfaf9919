"""Data sets as tensors on the training device, and the nested seeded training fractions.

Everything a run touches lives on the device as one tensor: no Dataset/DataLoader in the hot path,
a batch is an index gather. Which data sets exist and how their files are read is datasets/.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from .datasets import DATASETS, TRAIN_SIZE, DataError, arrays, check, n_examples  # noqa: F401  (the data API in one place)


@dataclass(frozen=True)
class Dataset:
    """A data set on one device: images normalised with the train mean/std, labels int64."""

    name: str
    x_train: torch.Tensor  # [60000, 28, 28] float32
    y_train: torch.Tensor  # [60000]
    x_test: torch.Tensor  # [10000, 28, 28]
    y_test: torch.Tensor
    mean: float
    std: float


@lru_cache(maxsize=8)
def load(name: str = "mnist", device: str = "cpu", root: str | None = None) -> Dataset:
    """The data set on `device`, normalised with its train-set mean and std (computed, not hard-coded)."""
    a = arrays(name, root)
    x_train = torch.from_numpy(a["train_images"].copy()).to(device)
    x_test = torch.from_numpy(a["test_images"].copy()).to(device)
    scaled = x_train.float() / 255
    mean, std = scaled.mean().item(), scaled.std().item()
    norm = lambda x: ((x.float() / 255 - mean) / std).contiguous()  # noqa: E731
    return Dataset(
        name=name,
        x_train=norm(x_train), y_train=torch.from_numpy(a["train_labels"].astype(np.int64)).to(device),
        x_test=norm(x_test), y_test=torch.from_numpy(a["test_labels"].astype(np.int64)).to(device),
        mean=mean, std=std,
    )


def subset(seed: int, fraction: float) -> torch.Tensor:
    """Indices of the training subset of `fraction` for `seed` (on the CPU).

    A prefix of one seeded permutation, so the subsets of one seed are nested (1/4 inside 1/2
    inside 1) and identical across widths, dropouts and learning rates: differences between runs
    of one seed come from the model, not from which examples it saw. Classes are not balanced
    exactly; at 1/128 (468 examples) each class still has ~47 +- 7 examples.
    """
    g = torch.Generator().manual_seed(1_000_003 * seed + 17)
    return torch.randperm(TRAIN_SIZE, generator=g)[: n_examples(fraction)]
