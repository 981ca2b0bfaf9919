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


@pytest.fixture
def grid_db(tmp_path):
    """A fresh database holding the shipped exercise grid (528 real runs), imported as `scaling import` does."""
    from scaling import services
    from scaling.store import Store, exchange

    path = tmp_path / "runs.duckdb"
    services.import_file(Store(path), exchange.SHIPPED)
    return path


@pytest.fixture(scope="session")
def small_cache(tmp_path_factory):
    """A database of 36 real runs, trained once per session (tests/apptest.py)."""
    from apptest import build_small_cache

    return build_small_cache(tmp_path_factory)


@pytest.fixture
def app(small_cache, monkeypatch):
    """The app under AppTest, on the small cache."""
    from apptest import APP
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("SCALING_DB", str(small_cache))
    return AppTest.from_file(APP, default_timeout=120)
