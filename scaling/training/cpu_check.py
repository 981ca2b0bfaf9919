"""Which path CPU training runs on, the C kernels or the PyTorch ops, and why: the timed check, cached beside the build.

The kernels win by different margins at different widths and processors (and may lose to the torch
ops somewhere), and conv2 may run in C or on oneDNN, whose JIT is strong where the ISA is wide. So on first use the machine itself is asked: a training step
and an evaluation pass at each of a few widths (native.CHECK_WIDTHS), timed three ways by the
harness in cpu_timing.py. A width follows the verdict of the nearest of them (in log). This module
only decides and caches; native.cpu_path() asks it, with the harness that train.py hands native
(the harness runs the model and Adam, which sit above the kernels).
"""
from __future__ import annotations

import json
import math
import os
import tempfile
import warnings
from dataclasses import asdict, dataclass
from typing import Callable

import torch

from scaling.core import settings
from scaling.training.native_build import ISAS, _why_not, chosen_isa, lib

VARIANTS = ("c", "onednn", "ops")  # all in C; C with conv2 on oneDNN; the PyTorch ops
ONEDNN_MARGIN = 0.05
Timer = Callable[[tuple], list]  # widths -> a Timing per phase and width (cpu_timing.time_cpu_paths)


@dataclass(frozen=True)
class Timing:
    """Seconds for the same work three ways, measured side by side (best of a few, interleaved).

    Attributes
    ----------
    phase : str
        "train": a training step of a few models; "eval": their forward pass over test images.
    width : int
        The models' width c.
    kernels_s : float
        Seconds with the C kernels, conv2 in C too.
    onednn_s : float
        Seconds with the C kernels and conv2 on oneDNN.
    ops_s : float
        Seconds with the PyTorch ops.
    """

    phase: str
    width: int
    kernels_s: float
    onednn_s: float
    ops_s: float

    @property
    def best(self) -> str:
        """The fastest variant; conv2 goes to oneDNN only when that is clearly faster (by more than
        ONEDNN_MARGIN: timings on a shared machine wander, and all in C stores less)."""
        kernels = "onednn" if self.onednn_s * (1 + ONEDNN_MARGIN) < self.kernels_s else "c"
        return "ops" if self.ops_s < min(self.kernels_s, self.onednn_s) else kernels

    @property
    def speedup(self) -> float:
        """The faster kernel variant against the ops."""
        return self.ops_s / min(self.kernels_s, self.onednn_s)


@dataclass(frozen=True)
class CpuPath:
    """What fp32 CPU training and evaluation run on: the C kernels of one build, or the torch ops.

    Attributes
    ----------
    isa : str or None
        The build in use (a key of native_build.ISAS); None: the torch ops everywhere.
    how : str
        How the path was decided: "checked" (timed on this machine), "untimed" (not yet),
        "forced" (SCALING_NATIVE=1), "off" (SCALING_NATIVE=0) or "unavailable" (no build).
    reason : str
        Why, in words, where `how` alone does not say it.
    timings : tuple of Timing
        The check's timings per phase and width (empty unless `how` is "checked").
    """

    isa: str | None
    how: str
    reason: str
    timings: tuple[Timing, ...] = ()

    def variant(self, phase: str, width: int | None = None) -> str:
        """What `phase` ("train" or "eval") at this width runs on: one of VARIANTS."""
        if self.isa is None:
            return "ops"
        rows = [t for t in self.timings if t.phase == phase]
        if self.how != "checked" or width is None or not rows:
            return "c"
        return min(rows, key=lambda t: abs(math.log(t.width / width))).best

    def kernels(self, phase: str, width: int | None = None) -> bool:
        return self.variant(phase, width) != "ops"

    def describe(self) -> str:
        """One line for a sweep's header, the Train page and `scaling doctor`."""
        if self.isa is None:
            return f"PyTorch ops ({self.reason})"
        build = f"C kernels ({self.isa}, {ISAS[self.isa][0]} floats a vector)"
        if self.how in ("forced", "untimed"):
            return f"{build}: {self.reason}"
        parts = []
        for phase, word in (("train", "training"), ("eval", "evaluation")):
            rows = sorted((t for t in self.timings if t.phase == phase), key=lambda t: t.width)
            won = [t for t in rows if t.best != "ops"]
            span = f"{min(t.speedup for t in rows):.1f}-{max(t.speedup for t in rows):.1f}x the ops"
            onednn = [str(t.width) for t in won if t.best == "onednn"]
            conv2 = f", conv2 on oneDNN near width {', '.join(onednn)}" if onednn else ""
            if len(won) == len(rows):
                parts.append(f"{word} on the kernels ({span}{conv2})")
            elif not won:
                parts.append(f"{word} on the PyTorch ops (the kernels measured {span})")
            else:
                parts.append(f"{word} on the kernels near width {', '.join(str(t.width) for t in won)} only ({span}{conv2})")
        return f"{build}: " + "; ".join(parts) + " (timed on this machine)"


def decide(measure: bool, widths: tuple, timer: Timer | None) -> CpuPath:
    """The path, from SCALING_NATIVE, the build and the check's timings at `widths` (measured now
    with `timer` where none are cached, measure is True and a timer is given)."""
    mode = settings.native_mode()
    if mode == "0":
        return CpuPath(None, "off", "SCALING_NATIVE=0")
    try:
        isa = chosen_isa()
    except ValueError as e:
        if measure:
            warnings.warn(f"scaling: {e}; training on the CPU uses plain torch ops", RuntimeWarning, stacklevel=2)
        return CpuPath(None, "unavailable", str(e))
    dll = lib(isa)
    if dll is None:
        return CpuPath(None, "unavailable", _why_not.get(isa, "the C kernels could not be built"))
    if mode == "1":
        return CpuPath(isa, "forced", "SCALING_NATIVE=1, not timed against the ops")
    timings = _checked(dll, measure, widths, timer)
    if timings is None:
        return CpuPath(isa, "untimed", "not yet timed against the PyTorch ops on this machine (the first CPU training does it)")
    path = CpuPath(isa, "checked", "", timings)
    if measure and not all(path.kernels(t.phase, t.width) for t in path.timings):
        warnings.warn(f"scaling: on this CPU, {path.describe()}", RuntimeWarning, stacklevel=2)
    return path


def _checked(dll, measure: bool, widths: tuple, timer: Timer | None) -> tuple[Timing, ...] | None:
    """The check's timings for this build: from its cache file, else measured now and saved (None
    where none is cached and measure is False, or no timer was given: no trainer loaded yet)."""
    key = {"torch": torch.__version__, "threads": torch.get_num_threads(), "widths": list(widths), "variants": list(VARIANTS)}
    file = dll.path.with_name(f"{dll.path.stem}-check-{torch.get_num_threads()}t.json")
    try:
        saved = json.loads(file.read_text())
        if saved["key"] == key:
            return tuple(Timing(**t) for t in saved["timings"])
    except (OSError, ValueError, KeyError, TypeError):
        pass  # none yet, or from another torch: time it again
    if not measure or timer is None:
        return None
    timings = tuple(timer(widths))
    try:
        fd, tmp = tempfile.mkstemp(suffix=".json", dir=file.parent)
        with os.fdopen(fd, "w") as f:
            json.dump({"key": key, "timings": [asdict(t) for t in timings]}, f)
        os.replace(tmp, file)
    except OSError:
        pass  # an unwritable cache: time it again next process
    return timings
