import shutil

import pytest
import torch

from scaling import datasets
from scaling.training import data


def test_mnist_loads_normalised_with_official_shapes():
    ds = data.load("mnist", "cpu")
    assert ds.x_train.shape == (60_000, 28, 28) and ds.x_test.shape == (10_000, 28, 28)
    assert ds.y_train.dtype == torch.int64 and set(ds.y_test.unique().tolist()) == set(range(10))
    assert abs(ds.mean - 0.1307) < 1e-3 and abs(ds.std - 0.3081) < 1e-3  # the published statistics
    assert abs(ds.x_train.mean().item()) < 1e-3 and abs(ds.x_train.std().item() - 1) < 1e-3


def test_fractions_are_nested_and_seeded():
    for seed in (0, 1):
        full = data.subset(seed, 1.0)
        assert sorted(full.tolist()) == list(range(60_000))
        half, quarter, tiny = (set(data.subset(seed, f).tolist()) for f in (1 / 2, 1 / 4, 1 / 256))
        assert tiny <= quarter <= half and len(quarter) == 15_000 and len(tiny) == 234
    assert not torch.equal(data.subset(0, 1 / 4), data.subset(1, 1 / 4))
    assert torch.equal(data.subset(3, 1 / 8), data.subset(3, 1 / 8))


def test_corrupt_or_missing_file_is_named(tmp_path, monkeypatch):
    folder = tmp_path / "mnist"
    shutil.copytree(datasets._mnist_folder(), folder)
    monkeypatch.setattr(datasets, "_mnist_folder", lambda: folder)
    datasets.arrays.cache_clear()
    try:
        (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not gzip")
        with pytest.raises(data.DataError, match="corrupt data file .*t10k-labels"):
            datasets.arrays("mnist", None)
        (folder / "t10k-labels-idx1-ubyte.gz").unlink()
        with pytest.raises(data.DataError, match="missing data file .*t10k-labels"):
            datasets.arrays("mnist", None)
    finally:
        datasets.arrays.cache_clear()


def test_unknown_dataset_and_offline_registry_give_clear_errors(tmp_path):
    with pytest.raises(data.DataError, match="unknown dataset 'cifar'"):
        datasets.arrays("cifar", None)
    with pytest.raises(data.DataError, match="Put the four IDX files"):  # this machine is offline
        datasets.arrays("kmnist", str(tmp_path))
