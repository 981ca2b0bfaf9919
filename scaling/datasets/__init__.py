"""The data sets this package knows, on disk: names, sizes, files and checksums, decoded arrays.

No torch here (data.py puts the arrays on a device): the config, the grids and the app's checks
need only the names, the sizes and whether the files are intact. MNIST ships with the package
(checksummed); Fashion-MNIST and KMNIST load through torchvision when their files are present or
the machine is online.
"""
from __future__ import annotations

import gzip
import hashlib
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

TRAIN_SIZE = 60_000  # every registered dataset has MNIST's 60k/10k split
FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


class DataError(RuntimeError):
    """A data set is missing or corrupt; the message says which file and what to do."""


def _read_idx(path: Path) -> np.ndarray:
    """Parse one gzip IDX file (the format MNIST is distributed in) into a uint8 array."""
    raw = gzip.decompress(path.read_bytes())
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if raw[2] != 0x08:  # 0x08 = unsigned byte; the only type these data sets use
        raise DataError(f"{path}: unexpected IDX element type {raw[2]:#x}")
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _verify(folder: Path) -> None:
    sums = folder / "SHA256SUMS"
    try:
        lines = [ln.split() for ln in sums.read_text().splitlines() if ln.strip()]
    except OSError as e:
        raise DataError(f"cannot read {sums} ({e.strerror}): restore it from the repository (git checkout -- {sums.name})") from None
    if any(len(ln) != 2 for ln in lines) or not set(FILES.values()) <= {name for _, name in lines}:
        raise DataError(f"{sums} is malformed (want 'sha256  filename' for each of the four files): "
                        "restore it from the repository")
    for digest, name in lines:
        path = folder / name
        if not path.exists():
            raise DataError(f"missing data file {path}: restore it from the repository (git checkout -- {path.name})")
        if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise DataError(f"corrupt data file {path}: its SHA-256 does not match {sums}; restore it from the repository")


def _mnist_folder() -> Path:
    return Path(str(resources.files(__name__) / "mnist"))


def _torchvision_arrays(name: str, root: Path) -> dict[str, np.ndarray]:
    import torchvision

    cls = {"fashion-mnist": torchvision.datasets.FashionMNIST, "kmnist": torchvision.datasets.KMNIST}[name]
    try:
        train = cls(str(root), train=True, download=True)
        test = cls(str(root), train=False, download=True)
    except Exception as e:  # offline: torchvision raises a variety of URL/IO errors
        raise DataError(
            f"{name} is not on this machine and could not be downloaded ({type(e).__name__}). "
            f"Put the four IDX files ({', '.join(FILES.values())}) in {root / cls.__name__ / 'raw'} and retry."
        ) from None
    return {
        "train_images": train.data.numpy(), "train_labels": train.targets.numpy(),
        "test_images": test.data.numpy(), "test_labels": test.targets.numpy(),
    }


DATASETS = ("mnist", "fashion-mnist", "kmnist")


@lru_cache(maxsize=None)
def arrays(name: str, root: str | None) -> dict[str, np.ndarray]:
    """Decoded once per process: parsing 47 MB of IDX is the slowest thing a small run does."""
    if name == "mnist":
        folder = _mnist_folder()
        _verify(folder)
        return {key: _read_idx(folder / f) for key, f in FILES.items()}
    if name in DATASETS:
        return _torchvision_arrays(name, Path(root or Path.home() / ".cache" / "scaling-lab"))
    raise DataError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")


def check(name: str = "mnist", root: str | None = None) -> None:
    """Raise DataError (naming the file and what to do) unless `name` is present and intact; the
    decoded arrays stay cached for the training that follows."""
    arrays(name, root)


def n_examples(fraction: float, name: str = "mnist", classes: str = "") -> int:
    """D for one epoch over `fraction` of the training set: floor(f * 60,000), or of the examples
    of `classes` (digits, "" for all ten) when the run has a subset of them."""
    return int(fraction * (class_size(name, classes) if classes else TRAIN_SIZE))


@lru_cache(maxsize=None)
def class_size(name: str, classes: str) -> int:
    """Training examples whose label is one of `classes` (e.g. 30,596 of MNIST's are 0-4)."""
    labels = arrays(name, None)["train_labels"]
    return int(np.isin(labels, [int(d) for d in classes]).sum())
