"""C kernels for the CPU forward and backward of model.forward_stack, and for Adam.

Why: the models are narrow, so a step in plain torch ops is memory traffic more than arithmetic
(full-resolution conv outputs written and read back, bias, ReLU, pooling and ~20 hashing passes
per dropout mask, ten foreach passes of Adam, a dense conv2 gradient that is mostly zeros). Here
(Convs): conv1 -> max-pool -> bias -> ReLU is one kernel that never stores conv1's full-resolution
output (one input channel, 9 taps: recomputing in registers beats a round trip to memory); conv2
-> max-pool -> bias -> ReLU is one kernel writing fc1's input layout (or conv2 on oneDNN, then the
rest in C, where oneDNN's conv2 was faster); the backward of both blocks is one kernel that stores
no conv gradient and walks only the conv2 outputs that pooling and ReLU let a gradient through; a
dropout mask is one pass; Adam is one pass per tensor. What this bought, on which processor, is in
the README's performance section.

The kernels are plain C (scaling/native.c) built for the instruction set they run on (AVX-512,
AVX2 + FMA, or a portable build: V floats a vector, register blocks sized to the ISA's registers),
compiled on first use with the system's C compiler into a per-user cache (half a second) and
called through ctypes. Compiling here rather than at install time: the build is chosen and tuned
on the machine that trains (a wheel built elsewhere, or a shared virtualenv on a cluster of mixed
processors, would fix one ISA for all), and an install-time build would need the same compiler.
They run on OpenMP, i.e. on torch's own libgomp thread team: a second pool of threads would fight
torch's spinning workers for the cores. A model's sums run in an order that does not depend on the
other models of its stack, so a stack reproduces each model's solo run to ~1e-7.

Never slower than the ops: on first use, cpu_path() times the kernels against the torch ops on
this machine (cached with the build) and each phase and width runs on whichever was faster.
`scaling doctor` prints the choice and its timings. Without a working compiler, on CUDA, under
bf16 autocast, or with SCALING_NATIVE=0, the callers use plain torch ops; tests/test_native.py
checks every build this processor can run against them.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import json
import math
import os
import platform
import shutil
import subprocess
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from . import paths

SOURCE = Path(__file__).with_name("native.c")
# One build per instruction set, V floats a vector (native.c reads V). The widest the processor
# runs is chosen (as torch's own dispatch detects it); SCALING_NATIVE_ISA names another one, and a
# machine can build and test the narrower ones (an AVX-512 processor runs AVX2 code).
ISAS = {
    "avx512": (16, ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx2", "-mfma", "-mprefer-vector-width=512"]),
    "avx2": (8, ["-mavx2", "-mfma"]),
    "portable": (4, []),  # SSE2 on x86-64, NEON on 64-bit ARM: the compiler's baseline
}
# Tried in order after the ISA's flags until one compiles: tuned for this CPU with OpenMP (gcc);
# untuned (compilers without -mtune=native); no OpenMP (Apple's clang: the kernels then run on one core).
FLAG_SETS = [["-mtune=native", "-fopenmp"], ["-fopenmp"], []]
COMMON = ["-O3", "-fno-math-errno", "-shared", "-fPIC"]
_P, _I, _I64 = ctypes.c_void_p, ctypes.c_int, ctypes.c_int64
SIGNATURES = {
    "stage1_forward": ([_P, _I64, _P, _P, _P, _P, _I, _I, _I], None),
    "stage2_forward": ([_P, _P, _P, _P, _I, _I, _I], None),
    "stage2_conv": ([_P, _P, _P, _P, _P, _I, _I, _I, _I, _I], None),
    "conv_backward": ([_P, _I64, _P, _P, _P, _P, _P, _P, _P, _P, _P, _P, _I, _I, _I, _I], None),
    "dropout_scale": ([_P, _P, _P, _I, _I64], None),
    "adam": ([_P, _P, _P, _P, _P, _I64, *[ctypes.c_float] * 6], None),
    "vector_width": ([], _I),
}


def _cpu_id() -> str:
    """What -mtune=native tunes for, so that a cache shared between machines (a network home)
    never hands one CPU another's build: the CPU's feature lines (x86 "flags", ARM "Features"),
    and the host's name where the system does not list them (macOS)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    features = sorted({ln for ln in lines if ln.split(":")[0].strip() in ("flags", "Features", "CPU part", "model name")})
    return " ".join([platform.machine(), platform.processor(), *(features or [platform.node()])])


@functools.cache
def runnable_isas() -> list[str]:
    """The builds this processor can run, widest first."""
    x86 = platform.machine().lower() in ("x86_64", "amd64")
    cap = torch.backends.cpu.get_cpu_capability() if x86 else ""  # "AVX512", "AVX2", "DEFAULT", ...
    return {"AVX512": ["avx512", "avx2", "portable"], "AVX2": ["avx2", "portable"]}.get(cap, ["portable"])


def chosen_isa() -> str:
    """The build the kernels run from: SCALING_NATIVE_ISA where set, else the widest this CPU runs."""
    name = os.environ.get("SCALING_NATIVE_ISA", "").strip().lower()
    if not name:
        return runnable_isas()[0]
    if name not in ISAS:
        raise ValueError(f"SCALING_NATIVE_ISA={name!r}: not one of {', '.join(ISAS)}")
    if name not in runnable_isas():
        raise ValueError(f"SCALING_NATIVE_ISA={name!r}: this processor runs only {', '.join(runnable_isas())}")
    return name


def lib(isa: str | None = None) -> ctypes.CDLL | None:
    """The compiled kernels for `isa` (default: chosen_isa()), or None where they cannot be built
    (the callers then use torch ops)."""
    if os.environ.get("SCALING_NATIVE", "auto") == "0":
        return None
    return _lib(isa or chosen_isa())


@functools.cache
def _lib(isa: str) -> ctypes.CDLL | None:
    cc = _compiler()
    if cc is None:
        _why_not[isa] = "no C compiler (cc, gcc or clang) found"
        warnings.warn(f"scaling: {_why_not[isa]}; training on the CPU uses plain torch ops", RuntimeWarning, stacklevel=2)
        return None
    so = _cached(cc, isa)
    try:
        if not so.exists():
            _build(cc, so, isa)
        try:
            dll = ctypes.CDLL(str(so))
        except OSError:  # a damaged cached build (another process's disk filled up, say): build it again, once
            so.unlink(missing_ok=True)
            _build(cc, so, isa)
            dll = ctypes.CDLL(str(so))
    except (OSError, subprocess.SubprocessError) as e:  # no working compiler, an unwritable cache
        _why_not[isa] = f"the C kernels could not be built ({e})"
        warnings.warn(f"scaling: {_why_not[isa]}; training on the CPU uses plain torch ops", RuntimeWarning, stacklevel=2)
        return None
    for name, (args, res) in SIGNATURES.items():
        fn = getattr(dll, name)
        fn.argtypes, fn.restype = args, res
    dll.isa, dll.path = isa, so
    _check(dll.vector_width() == ISAS[isa][0], f"{so} holds {dll.vector_width()}-float vectors, not {isa}'s {ISAS[isa][0]}")
    return dll


_why_not: dict[str, str] = {}  # why lib(isa) is None, for doctor()


def compiler_version() -> str | None:
    """The compiler the kernels are built with, and its first version line."""
    cc = _compiler()
    if cc is None:
        return None
    try:
        out = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    return f"{cc}: {out.splitlines()[0]}" if out.strip() else cc


def processor_name() -> str:
    """The CPU's model name, as lscpu and /proc/cpuinfo give it."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    return next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), platform.processor() or platform.machine())


def _compiler() -> str | None:
    return shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc") or shutil.which("clang")


def _cached(cc: str, isa: str) -> Path:
    """Where the build for this source, compiler, ISA and CPU lives."""
    key = hashlib.sha256(SOURCE.read_bytes() + repr([cc, isa, ISAS[isa], FLAG_SETS, COMMON, _cpu_id()]).encode()).hexdigest()[:16]
    return paths.kernel_cache() / f"native-{isa}-{key}.so"


def _is_gcc(cc: str) -> bool:
    try:
        out = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "Free Software Foundation" in out and "clang" not in out


def _build(cc: str, so: Path, isa: str) -> None:
    so.parent.mkdir(parents=True, exist_ok=True)
    # OpenMP only from gcc: its libgomp is the runtime torch runs on (Linux wheels), so both share
    # one team of threads; clang's libomp would be a second pool fighting torch's for the cores.
    flag_sets = FLAG_SETS if _is_gcc(cc) else [f for f in FLAG_SETS if "-fopenmp" not in f]
    width, isa_flags = ISAS[isa]
    # build beside the target and rename: concurrent workers never load a half-written file
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=so.parent)
    os.close(fd)
    try:
        for flags in flag_sets:
            done = subprocess.run([cc, *COMMON, *isa_flags, f"-DV={width}", *flags, str(SOURCE), "-o", tmp],
                                  capture_output=True, timeout=120)
            if done.returncode == 0:
                os.replace(tmp, so)
                _prune(so)
                return
        raise subprocess.SubprocessError(f"{cc} failed: {done.stderr.decode(errors='replace').strip()[-300:]}")
    finally:
        Path(tmp).unlink(missing_ok=True)


def _prune(keep: Path, days: float = 30) -> None:
    """Remove builds of other versions unused for a month (one is left per source edit)."""
    for old in keep.parent.glob("native-*"):
        try:
            if old != keep and old.suffix in (".so", ".json") and time.time() - old.stat().st_atime > days * 86400:
                old.unlink()
        except OSError:
            pass


# ---------------------------------------------------------------- which path runs, and why

# The kernels win by different margins at different widths and processors (and lost to the torch
# ops at small widths before they were built per ISA), and conv2 may run in C or on oneDNN, whose
# JIT is strong where the ISA is wide. So on first use the machine itself is asked: a training
# step and an evaluation pass at each of these widths, timed three ways. A width follows the
# verdict of the nearest of them (in log).
CHECK_WIDTHS = (4, 11, 45)  # the exercise's narrowest, middle and widest
VARIANTS = ("c", "onednn", "ops")  # all in C; C with conv2 on oneDNN; the PyTorch ops
ONEDNN_MARGIN = 0.05
_forced: str | None = None  # a variant, set while the check times it (and by benchmarks and tests)


@dataclass(frozen=True)
class Timing:
    """Seconds for the same work three ways, measured side by side: the C kernels with conv2 in C
    (kernels_s), the same with conv2 on oneDNN (onednn_s), and the PyTorch ops (ops_s)."""
    phase: str  # "train": a training step of 4 models; "eval": their forward pass over test images
    width: int
    kernels_s: float
    onednn_s: float
    ops_s: float

    @property
    def best(self) -> str:
        """The fastest variant; conv2 goes to oneDNN only when that is clearly faster (by more than
        ONEDNN_MARGIN: timings on a shared 2-core machine wander by 10% and more, and all in C
        stores less)."""
        kernels = "onednn" if self.onednn_s * (1 + ONEDNN_MARGIN) < self.kernels_s else "c"
        return "ops" if self.ops_s < min(self.kernels_s, self.onednn_s) else kernels

    @property
    def speedup(self) -> float:
        """The faster kernel variant against the ops."""
        return self.ops_s / min(self.kernels_s, self.onednn_s)


@dataclass(frozen=True)
class CpuPath:
    """What fp32 CPU training and evaluation run on: the C kernels of one build, or the torch ops."""
    isa: str | None  # the build in use; None: the torch ops everywhere
    how: str  # "checked" (timed here), "untimed" (not yet), "forced" (SCALING_NATIVE=1), "off" (SCALING_NATIVE=0), "unavailable"
    reason: str  # why, in words, where `how` alone does not say it
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


def cpu_path(measure: bool = True) -> CpuPath:
    """Which path runs here and why; timed once per build, torch version and thread count, and
    cached beside the build. measure=False never times (a page that must not stall): where no
    timing is cached yet, the path says so, `how` "untimed" (and is asked again next time: the
    first training, in another process, may have timed it since)."""
    return _cpu_path() if measure else _decide(measure=False)


@functools.cache
def _cpu_path() -> CpuPath:
    return _decide(measure=True)


def _decide(measure: bool) -> CpuPath:
    mode = os.environ.get("SCALING_NATIVE", "auto").strip().lower() or "auto"
    if mode == "0":
        return CpuPath(None, "off", "SCALING_NATIVE=0")
    if mode not in ("1", "auto"):
        raise ValueError(f"SCALING_NATIVE={mode!r}: want 0 (the PyTorch ops), 1 (the C kernels) or auto (the faster, timed here)")
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
    timings = _checked(dll, measure)
    if timings is None:
        return CpuPath(isa, "untimed", "not yet timed against the PyTorch ops on this machine (the first CPU training does it)")
    path = CpuPath(isa, "checked", "", timings)
    if measure and not all(path.kernels(t.phase, t.width) for t in path.timings):
        warnings.warn(f"scaling: on this CPU, {path.describe()}", RuntimeWarning, stacklevel=2)
    return path


def _checked(dll, measure: bool = True) -> tuple[Timing, ...] | None:
    """The check's timings for this build: from its cache file, else measured now and saved (None
    where none is cached and measure is False)."""
    key = {"torch": torch.__version__, "threads": torch.get_num_threads(), "widths": list(CHECK_WIDTHS), "variants": list(VARIANTS)}
    file = dll.path.with_name(f"{dll.path.stem}-check-{torch.get_num_threads()}t.json")
    try:
        saved = json.loads(file.read_text())
        if saved["key"] == key:
            return tuple(Timing(**t) for t in saved["timings"])
    except (OSError, ValueError, KeyError, TypeError):
        pass  # none yet, or from another torch: time it again
    if not measure:
        return None
    from . import train  # the check times the real training step, which lives above this module

    timings = tuple(train.time_cpu_paths(CHECK_WIDTHS))
    try:
        fd, tmp = tempfile.mkstemp(suffix=".json", dir=file.parent)
        with os.fdopen(fd, "w") as f:
            json.dump({"key": key, "timings": [asdict(t) for t in timings]}, f)
        os.replace(tmp, file)
    except OSError:
        pass  # an unwritable cache: time it again next process
    return timings


def reset() -> None:
    """Forget the loaded builds and the chosen path (after SCALING_NATIVE* or CC change)."""
    _lib.cache_clear()
    _cpu_path.cache_clear()


@contextlib.contextmanager
def forcing(on: bool | str):
    """Run on one variant whatever cpu_path() says (True: "c", False: "ops"): for the check itself,
    and for benchmarks and tests that compare them."""
    global _forced
    want = {True: "c", False: "ops"}.get(on, on)
    _check(want in VARIANTS, f"no variant {on!r}: want one of {VARIANTS}")
    old, _forced = _forced, want
    try:
        yield
    finally:
        _forced = old


def _variant(phase: str, width: int | None) -> str:
    return _forced if _forced is not None else cpu_path().variant(phase, width)


def usable(x: torch.Tensor, phase: str = "train", width: int | None = None) -> bool:
    """Whether this input goes through the kernels: fp32 on the CPU outside bf16 autocast, and the
    kernels faster here for this phase and width (cpu_path)."""
    if not (x.device.type == "cpu" and x.dtype == torch.float32 and not torch.is_autocast_enabled("cpu")):
        return False
    if _forced is not None:
        return _forced != "ops" and lib() is not None
    return cpu_path().kernels(phase, width)  # cached: no build lookup per step


def _ptr(t: torch.Tensor, dtype=torch.float32):
    """The address the C code reads or writes: only of a contiguous CPU tensor of the C type."""
    if not (t.is_contiguous() and t.device.type == "cpu" and t.dtype == dtype):
        raise ValueError(f"native kernels need a contiguous CPU {dtype} tensor, got {t.dtype} {tuple(t.shape)} "
                         f"on {t.device}{'' if t.is_contiguous() else ', not contiguous'}")
    return ctypes.c_void_p(t.data_ptr())


def _f32(*shape):
    return torch.empty(*shape, dtype=torch.float32, device="cpu")


def _zeros(*shape):
    return torch.zeros(*shape, dtype=torch.float32, device="cpu")


def _slots(*shape):
    return torch.empty(*shape, dtype=torch.uint8, device="cpu")


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise ValueError(f"native kernels: {what}")


def _conv_blocks(x, w1, b1, w2, b2, slots: bool):
    """Both conv blocks forward; with `slots`, also which window position won each max-pool (the
    backward needs them; evaluation does not, and skips writing them). conv2 runs in C or on
    oneDNN, whichever cpu_path() found faster for this phase and width."""
    x = x.contiguous()
    m, c = w1.shape[:2]
    c2, b = 2 * c, x.shape[-3]
    _check(tuple(w1.shape) == (m, c, 1, 3, 3) and tuple(b1.shape) == (m, c), f"conv1 weights {tuple(w1.shape)}, bias {tuple(b1.shape)}")
    _check(tuple(w2.shape) == (m, c2, c, 3, 3) and tuple(b2.shape) == (m, c2), f"conv2 weights {tuple(w2.shape)}, bias {tuple(b2.shape)}")
    _check(x.shape[-2:] == (28, 28) and (x.dim() == 3 or (x.dim() == 4 and x.shape[0] == m)),
           f"images {tuple(x.shape)} for {m} models: want [M, B, 28, 28] or [B, 28, 28]")
    mstride = 0 if x.dim() == 3 else b * 784
    w = w1.detach().reshape(m, c, 9).transpose(1, 2).contiguous()  # [M, 9, c]: tap-major
    y = _f32(b, 14, 14, m * c)
    slot1 = _slots(b, 14, 14, m * c) if slots else None
    lib().stage1_forward(_ptr(x), mstride, _ptr(w), _ptr(b1.detach().contiguous()), _ptr(y), _ptr_or_null(slot1), m, c, b)
    z = _f32(m, b, c2 * 49)
    slot2 = _slots(m, b, c2 * 49) if slots else None
    if _variant("train" if slots else "eval", c) != "onednn":
        v = lib().vector_width()
        c2p = -(-c2 // v) * v
        w2t = F.pad(w2.detach().permute(0, 3, 4, 2, 1), (0, c2p - c2)).contiguous()  # [M, 3, 3, c, c2p]
        lib().stage2_conv(_ptr(y), _ptr(w2t), _ptr(b2.detach().contiguous()), _ptr(z), _ptr_or_null(slot2), b, m, c, c2, c2p)
        return x, y, slot1, z, slot2, mstride
    w2cl = w2.detach().flatten(0, 1).contiguous(memory_format=torch.channels_last)
    h = F.conv2d(y.permute(0, 3, 1, 2), w2cl, padding=1, groups=m)
    h = h.permute(0, 2, 3, 1).contiguous()  # NHWC: a no-op, oneDNN answers channels_last
    lib().stage2_forward(_ptr(h), _ptr(b2.detach().contiguous()), _ptr(z), _ptr_or_null(slot2), b, m, c2)
    return x, y, slot1, z, slot2, mstride


def conv_features(x, w1, b1, w2, b2) -> torch.Tensor:
    """Convs' forward for evaluation (no gradient): the same numbers, no pooling slots written."""
    return _conv_blocks(x, w1, b1, w2, b2, slots=False)[3]


def _ptr_or_null(t):
    return None if t is None else _ptr(t, t.dtype)


class Convs(torch.autograd.Function):
    """The two conv blocks of model.forward_stack, from images to fc1's input:
        stage 1: relu(max_pool2d(conv2d(x, w1, padding=1, groups=M), 2) + b1)   in C, NHWC
        stage 2: relu(max_pool2d(conv2d(., w2, padding=1, groups=M), 2) + b2)   conv on oneDNN, the rest in C
    x is [M, B, 28, 28] (a batch per model) or [B, 28, 28] (one shared batch); out [M, B, 2c*49],
    each model's features in nn.Flatten order. The backward is one C kernel (see native.c)."""

    @staticmethod
    def forward(ctx, x, w1, b1, w2, b2):
        x, y, slot1, z, slot2, mstride = _conv_blocks(x, w1, b1, w2, b2, slots=True)
        ctx.save_for_backward(x, y, slot1, w2, z, slot2)
        ctx.mstride = mstride
        return z

    @staticmethod
    @once_differentiable
    def backward(ctx, gz):
        x, y, slot1, w2, z, slot2 = ctx.saved_tensors
        m, c2, c = w2.shape[:3]
        b = y.shape[0]
        v = lib().vector_width()
        cp = -(-c // v) * v  # conv2's input channels padded to whole vectors
        w = F.pad(w2.detach().reshape(m, c2, c, 9).transpose(2, 3), (0, cp - c)).contiguous()  # [M, c2, 9, cp]
        gw1, gb1, gw2, gb2 = _zeros(m, 9, cp), _zeros(m, cp), _zeros(m, c2, 9, cp), _zeros(m, c2)
        lib().conv_backward(_ptr(x), ctx.mstride, _ptr(y), _ptr(slot1, torch.uint8), _ptr(w), _ptr(z),
                            _ptr(slot2, torch.uint8), _ptr(gz.contiguous()), _ptr(gw1), _ptr(gb1), _ptr(gw2), _ptr(gb2), b, m, c, c2)
        return (None, gw1[..., :c].transpose(1, 2).reshape(m, c, 1, 3, 3), gb1[:, :c],
                gw2[..., :c].transpose(2, 3).reshape(m, c2, c, 3, 3), gb2)


def dropout_scale(base: torch.Tensor, keep: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """[M, B, F] multipliers, 1/keep where model.dropout_uniform's number is below keep, else 0.
    base: [M] int64, each model's hash base (its low 32 bits are used). The mask is the torch
    path's bit for bit; h * (1/keep) may differ from its h / keep in the last bit."""
    m = len(base)
    _check(len(keep) == m, f"{len(keep)} keep probabilities for {m} models")
    out = _f32(m, *shape)
    base, keep = base.to(torch.int64).contiguous(), keep.to(torch.float32).contiguous()
    lib().dropout_scale(_ptr(base, torch.int64), _ptr(keep), _ptr(out), m, shape[0] * shape[1])
    return out


def adam(params, grads, exp_avg, exp_avg_sq, lr, step: int, betas: tuple[float, float], eps: float) -> None:
    """train._adam's update in one pass per tensor (torch's foreach version makes ten). Writes
    through raw pointers, so it bumps the version counters itself: autograd then refuses a graph
    that saved the old values, as it would after torch's in-place ops."""
    bc1, bc2_sqrt = 1 - betas[0] ** step, (1 - betas[1] ** step) ** 0.5
    for p, g, m1, m2, r in zip(params, grads, exp_avg, exp_avg_sq, lr):
        _check(p.shape == g.shape == m1.shape == m2.shape == r.shape, f"Adam tensors of shapes {p.shape}, {g.shape}, {m1.shape}, {m2.shape}, {r.shape}")
        g = g.contiguous()  # conv2's weight gradient comes back channels_last
        lib().adam(_ptr(p), _ptr(g), _ptr(m1), _ptr(m2), _ptr(r), p.numel(), betas[1], 1 - betas[0], 1 - betas[1], bc1, bc2_sqrt, eps)
        torch.autograd.graph.increment_version([p, m1, m2])
