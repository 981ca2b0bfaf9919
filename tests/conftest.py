import pytest
import torch

torch.set_num_threads(2)


def pytest_collection_modifyitems(config, items):
    if not torch.cuda.is_available():
        skip = pytest.mark.skip(reason="no CUDA device on this machine")
        for item in items:
            if "cuda" in item.keywords:
                item.add_marker(skip)


@pytest.fixture
def db(tmp_path, monkeypatch):
    """A fresh database path; SCALING_DB points at it so CLI calls in the test use it too."""
    path = tmp_path / "runs.duckdb"
    monkeypatch.setenv("SCALING_DB", str(path))
    return path
