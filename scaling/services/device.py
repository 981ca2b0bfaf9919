"""The training device of this host, as the Train page describes it."""
from __future__ import annotations

import os
import platform
from dataclasses import dataclass

from scaling.core import settings
from scaling.core.fmt import md_text


@dataclass(frozen=True)
class DeviceInfo:
    """The device runs trained here train on.

    Attributes
    ----------
    device : str
        'cuda' or 'cpu'.
    label : str
        What the store records as `device` for runs trained here.
    name : str
        The GPU's name, or the CPU's model and core count.
    memory_gb : float or None
        The GPU's memory in GiB (None on a CPU).
    threads : int
        torch's thread count.
    precision : str
        What runs trained here train in: fp32, or bf16 autocast on CUDA.
    """
    device: str
    label: str
    name: str
    memory_gb: float | None
    threads: int
    precision: str


def device_info() -> DeviceInfo:
    import torch

    from scaling.training import devices

    dev = devices.resolve_device("auto")
    if dev == "cuda":
        p = torch.cuda.get_device_properties(0)
        return DeviceInfo(dev, devices.device_name(dev), p.name, p.total_memory / 2**30, torch.get_num_threads(),
                          devices.precision(dev))
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return DeviceInfo(dev, devices.device_name(dev), f"{cpu} ({os.cpu_count()} cores)", None, torch.get_num_threads(),
                      devices.precision(dev))


def cpu_path_line() -> str:
    """What fp32 CPU training runs on here: the C kernels of which build, or the PyTorch ops, and
    why. Never times anything (native.cpu_path does that in the process that trains)."""
    from scaling.training import native

    try:
        return native.cpu_path(measure=False).describe()
    except ValueError as e:  # a bad SCALING_NATIVE setting: the worker will refuse it too
        return str(e)


def cluster_line(store) -> str | None:
    """Where the app's worker trains when that is a Ray cluster ($SCALING_RAY_ADDRESS set), with
    its CPUs and GPUs as Ray last reported them to the worker; None: on this machine. Markdown, with
    the address and the cluster's own words (host names) escaped."""
    from scaling.workers import cluster

    address = settings.ray_address()
    if not address:
        return None
    info = cluster.read_status(store)
    if info is None:
        return f"Training on the Ray cluster at {md_text(address)} (its CPUs and GPUs show once the worker has joined it)"
    return f"Training on {md_text(info.describe())}"
