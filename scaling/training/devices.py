"""The device runs train on, its name and precision, and how its memory is kept between steps."""
from __future__ import annotations

import contextlib
import ctypes
import functools

import torch

# bf16 autocast for the forward pass (weights, Adam and the loss stay fp32). On by default on CUDA
# only; tests switch it on for the CPU too, to check bf16 against fp32 where no GPU is at hand.
BF16 = {"cpu": False, "cuda": True}


def resolve_device(name: str = "auto") -> str:
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise ValueError(f"--device must be auto, cpu or cuda, got {name!r}")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but torch sees no CUDA device here")
    return name


def precision(device) -> str:
    """The numeric precision runs train in on `device`: part of a run family, never mixed in a fit."""
    return "bf16" if BF16[device_type(device)] else "fp32"


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"cpu ({torch.get_num_threads()} threads)"


def device_type(device) -> str:
    return "cuda" if str(device).startswith("cuda") else "cpu"


def autocast(device):
    """bf16 autocast where BF16 says so, else nothing. No cast cache: a CUDA graph must recompute
    the bf16 copies of the weights on every replay."""
    kind = device_type(device)
    return torch.autocast(kind, dtype=torch.bfloat16, cache_enabled=False) if BF16[kind] else contextlib.nullcontext()


@functools.cache
def keep_freed_memory() -> None:
    """Have glibc serve big blocks from its heap and keep them when freed. By default it maps each
    big block fresh and unmaps it on free, so every step page-faults its activations back in
    (docs/performance.md)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return  # not glibc (macOS, musl): nothing to tune
    libc.mallopt(-4, 0)  # M_MMAP_MAX = 0: big blocks come from the heap
    libc.mallopt(-1, 2**31 - 1)  # M_TRIM_THRESHOLD: freed heap is kept for the next step
