"""Every environment variable Scaling Lab reads, with its default, its check and what it is for.

Read when asked, not at import, so that a host (or a test) can set one before the call that uses it.

    SCALING_DB           the run database (default: paths.DEFAULT_DB)
    SCALING_MAX_RUNS     the most runs one request may ask for (default 2000)
    SCALING_MAX_QUEUE    the most runs the queue may hold, all users together (default 10,000)
    SCALING_NATIVE       0: the PyTorch ops on the CPU; 1: the C kernels; auto: the faster, timed here
    SCALING_NATIVE_ISA   the C kernels' build (portable, avx2, avx512); default: the widest this CPU runs
    SCALING_WORKER_NICE  the app's worker's niceness, 0..19 (default 10)
    SCALING_RAY_ADDRESS  the Ray cluster the app's worker trains on ("auto": the one on this host)
    SCALING_PASSWORD     the shared password of a hosted app (else `password` in Streamlit's secrets)
    SCALING_APP_BOOT     the pages' bootstrap resamples (default 100)
    CC                   the C compiler for the kernels (default: cc, else gcc, else clang)
"""
from __future__ import annotations

import os

DB = "SCALING_DB"
MAX_RUNS = "SCALING_MAX_RUNS"
MAX_QUEUE = "SCALING_MAX_QUEUE"
NATIVE = "SCALING_NATIVE"
NATIVE_ISA = "SCALING_NATIVE_ISA"
WORKER_NICE = "SCALING_WORKER_NICE"
RAY_ADDRESS = "SCALING_RAY_ADDRESS"
PASSWORD = "SCALING_PASSWORD"  # noqa: S105  (the variable's name, not a password)
APP_BOOT = "SCALING_APP_BOOT"


def _raw(name: str) -> str:
    return os.environ.get(name, "").strip()


def positive(name: str, default: int, what: str, error: type[Exception] = ValueError) -> int:
    """A positive integer from $name, else `default`; anything else raises `error` naming the variable."""
    raw = _raw(name)
    if not raw:
        return default
    value = int(raw) if raw.isdigit() else 0
    if value < 1:
        raise error(f"{name}={raw!r} must be a positive integer ({what}; default {default})")
    return value


def db() -> str | None:
    return _raw(DB) or None


def native_mode() -> str:
    """'0', '1' or 'auto'."""
    mode = _raw(NATIVE).lower() or "auto"
    if mode not in ("0", "1", "auto"):
        raise ValueError(f"{NATIVE}={mode!r}: want 0 (the PyTorch ops), 1 (the C kernels) or auto (the faster, timed here)")
    return mode


def native_isa() -> str | None:
    return _raw(NATIVE_ISA).lower() or None


def worker_nice(default: int) -> int:
    raw = _raw(WORKER_NICE)
    if not raw:
        return default
    if not raw.isdigit() or int(raw) > 19:
        raise ValueError(f"{WORKER_NICE}={raw!r} must be an integer in 0..19 (default {default})")
    return int(raw)


def ray_address() -> str | None:
    return _raw(RAY_ADDRESS) or None


def password() -> str | None:
    return os.environ.get(PASSWORD) or None  # as given: spaces may be part of a password


def app_boot(default: int = 100) -> int:
    raw = _raw(APP_BOOT)
    if not raw:
        return default
    if not raw.isdigit():
        raise ValueError(f"{APP_BOOT}={raw!r} must be a non-negative integer (default {default})")
    return int(raw)


def compiler_name() -> str:
    return os.environ.get("CC") or "cc"
