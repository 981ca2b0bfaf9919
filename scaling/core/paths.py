"""Where Scaling Lab keeps its files by default: the run database and the built C kernels."""
from __future__ import annotations

from pathlib import Path

import platformdirs

APP = "scaling-lab"
_CHECKOUT = Path(__file__).resolve().parents[2]


def in_checkout() -> bool:
    """Whether this package runs from a source checkout (an editable install, `make app`) rather
    than from a wheel in site-packages."""
    return (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "scaling").is_dir()


def default_db() -> Path:
    """data/runs.duckdb in a checkout (beside the code a researcher is working on), else the
    user's data directory (~/.local/share/scaling-lab on Linux): never inside site-packages."""
    if in_checkout():
        return _CHECKOUT / "data" / "runs.duckdb"
    return platformdirs.user_data_path(APP) / "runs.duckdb"


def kernel_cache() -> Path:
    """The per-user cache of built C kernels ($XDG_CACHE_HOME/scaling-lab on Linux)."""
    return platformdirs.user_cache_path(APP)
