"""Data sets as tensors on the training device, and the nested seeded training fractions.

Everything a run touches lives on the device as one tensor: no Dataset/DataLoader in the hot path,
a batch is an index gather. Which data sets exist and how their files are read is datasets/.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import torch

from scaling.datasets import DATASETS, TRAIN_SIZE, DataError, arrays, check, n_examples  # noqa: F401  (the data API in one place)


@dataclass(frozen=True)
class Dataset:
    """A data set on one device: images normalised with the train mean/std, labels int64.

    Attributes
    ----------
    name : str
        The data set (a key of datasets.DATASETS).
    x_train : torch.Tensor
        [60000, 28, 28] float32 training images, normalised.
    y_train : torch.Tensor
        [60000] int64 training labels.
    x_test : torch.Tensor
        [N, 28, 28] float32 test images, normalised (N = 10000, fewer when restricted to some digits).
    y_test : torch.Tensor
        [N] int64 test labels.
    mean, std : float
        The training images' mean and standard deviation (pixels scaled to [0, 1]) used to normalise both sets.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
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


@lru_cache(maxsize=16)
def restricted(ds: Dataset, classes: str) -> Dataset:
    """The data set with its test set cut to the digits `classes` ("" : unchanged). The training set
    stays whole: runs index into it (subset), and every model of a stack shares its test set."""
    if not classes:
        return ds
    keep = torch.isin(ds.y_test, torch.tensor([int(d) for d in classes], device=ds.y_test.device))
    return replace(ds, x_test=ds.x_test[keep].contiguous(), y_test=ds.y_test[keep].contiguous())


def _train_labels(name: str) -> torch.Tensor:
    return torch.from_numpy(arrays(name, None)["train_labels"].astype(np.int64))


def subset(seed: int, fraction: float, classes: str = "", name: str = "mnist") -> torch.Tensor:
    """Indices of the training subset of `fraction` for `seed` (on the CPU).

    A prefix of one seeded permutation, so the subsets of one seed are nested (1/4 inside 1/2
    inside 1) and identical across widths, dropouts and learning rates: differences between runs
    of one seed come from the model, not from which examples it saw. Classes are not balanced
    exactly; at 1/128 (468 examples) each class still has ~47 +- 7 examples. With `classes`, the
    same permutation keeps only those digits' examples, and the fraction is of them.
    """
    g = torch.Generator().manual_seed(1_000_003 * seed + 17)
    perm = torch.randperm(TRAIN_SIZE, generator=g)
    if classes:
        digits = torch.tensor([int(d) for d in classes])
        perm = perm[torch.isin(_train_labels(name)[perm], digits)]
    return perm[: n_examples(fraction, name, classes)]


def noisy_labels(seed: int, fraction: float, noise: float, classes: str = "", name: str = "mnist") -> torch.Tensor:
    """The training labels [60000] (CPU) a run with label noise learns from: of its subset, exactly
    round(noise * D) examples get another label, drawn uniformly from the run's other digits; the
    rest, the examples outside the subset and the test set are untouched.

    Which examples are corrupted and the labels they get depend on the seed alone (a score and an
    offset per example): a seed's 20% are among its 40%, and a width or dropout sweep sees the
    same wrong labels. The subset is nested across fractions, the corrupted part exactly a fraction
    of each."""
    y = _train_labels(name)
    idx = subset(seed, fraction, classes, name)
    g = torch.Generator().manual_seed(2_000_029 * seed + 5)
    score = torch.rand(TRAIN_SIZE, generator=g)
    digits = torch.tensor([int(d) for d in (classes or "0123456789")])
    offset = torch.randint(1, len(digits), (TRAIN_SIZE,), generator=g)  # 1..K-1: never the true digit
    hit = idx[torch.argsort(score[idx])[: round(noise * len(idx))]]
    position = torch.searchsorted(digits, y[hit])  # the true digit's place among the run's digits
    y[hit] = digits[(position + offset[hit]) % len(digits)]
    return y
