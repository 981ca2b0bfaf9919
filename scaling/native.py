"""C kernels for the CPU forward and backward of model.forward_stack, and for Adam.

Why: the models are narrow, so a step in plain torch ops is memory traffic more than arithmetic
(full-resolution conv outputs written and read back, bias, ReLU, pooling and ~20 hashing passes
per dropout mask, ten foreach passes of Adam, a dense conv2 gradient that is mostly zeros). Here
(Convs): conv1 -> max-pool -> bias -> ReLU is one kernel that never stores conv1's full-resolution
output (one input channel, 9 taps: recomputing in registers beats a round trip to memory); conv2
runs on oneDNN, then max-pool -> bias -> ReLU is one kernel writing fc1's input layout; the
backward of both blocks is one kernel that stores no conv gradient and walks only the conv2
outputs that pooling and ReLU let a gradient through; a dropout mask is one pass; Adam is one
pass per tensor. What this bought, on which processor, is in the README's performance section.

The kernels are plain C (scaling/native.c), built on first use with the system's C compiler into a
per-user cache (half a second), and called through ctypes. They run on OpenMP, i.e. on torch's own
libgomp thread team: a second pool of threads would fight torch's spinning workers for the cores.
A model's gradients are summed in an order that does not depend on the other models of its stack,
so a stack reproduces each model's solo run to ~1e-7 (oneDNN's conv2 forward is the one kernel
that differs by stack size). Without a working compiler, on CUDA, under bf16 autocast, or with
SCALING_NATIVE=0, the callers use plain torch ops; tests/test_native.py checks the two agree.
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from . import paths

SOURCE = Path(__file__).with_name("native.c")
# Tried in order until one compiles: full vectors and OpenMP (gcc, x86); OpenMP elsewhere (gcc on
# ARM); neither (Apple's clang has no OpenMP: the kernels then run on one core).
FLAG_SETS = [
    ["-march=native", "-mprefer-vector-width=512", "-fopenmp"],
    ["-march=native", "-fopenmp"],
    ["-march=native"],
    [],
]
COMMON = ["-O3", "-fno-math-errno", "-shared", "-fPIC"]
_P, _I, _I64 = ctypes.c_void_p, ctypes.c_int, ctypes.c_int64
SIGNATURES = {
    "stage1_forward": [_P, _I64, _P, _P, _P, _P, _I, _I, _I],
    "stage2_forward": [_P, _P, _P, _P, _I, _I, _I],
    "conv_backward": [_P, _I64, _P, _P, _P, _P, _P, _P, _P, _P, _P, _P, _I, _I, _I, _I],
    "dropout_scale": [_P, _P, _P, _I, _I64],
    "adam": [_P, _P, _P, _P, _P, _I64, *[ctypes.c_float] * 6],
}


def _cpu_id() -> str:
    """What -march=native compiles for, so that a cache shared between machines (a network home)
    never hands one CPU another's build: the CPU's feature lines (x86 "flags", ARM "Features"),
    and the host's name where the system does not list them (macOS)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    features = sorted({ln for ln in lines if ln.split(":")[0].strip() in ("flags", "Features", "CPU part", "model name")})
    return " ".join([platform.machine(), platform.processor(), *(features or [platform.node()])])


@functools.cache
def lib() -> ctypes.CDLL | None:
    """The compiled kernels, or None where they cannot be built (the callers then use torch ops)."""
    if os.environ.get("SCALING_NATIVE", "1") == "0":
        return None
    cc = _compiler()
    if cc is None:
        warnings.warn("scaling: no C compiler (cc, gcc or clang) found; training on the CPU uses plain "
                      "torch ops, about 2x slower", RuntimeWarning, stacklevel=2)
        return None
    so = _cached(cc)
    try:
        if not so.exists():
            _build(cc, so)
        try:
            dll = ctypes.CDLL(str(so))
        except OSError:  # a damaged cached build (another process's disk filled up, say): build it again, once
            so.unlink(missing_ok=True)
            _build(cc, so)
            dll = ctypes.CDLL(str(so))
    except (OSError, subprocess.SubprocessError) as e:  # no working compiler, an unwritable cache
        warnings.warn(f"scaling: the C kernels could not be built ({e}); training on the CPU uses plain "
                      f"torch ops, about 2x slower", RuntimeWarning, stacklevel=2)
        return None
    for name, args in SIGNATURES.items():
        fn = getattr(dll, name)
        fn.argtypes, fn.restype = args, None
    return dll


def _compiler() -> str | None:
    return shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc") or shutil.which("clang")


def _cached(cc: str) -> Path:
    """Where the build for this source, compiler and CPU lives."""
    key = hashlib.sha256(SOURCE.read_bytes() + repr([cc, FLAG_SETS, COMMON, _cpu_id()]).encode()).hexdigest()[:16]
    return paths.kernel_cache() / f"native-{key}.so"


def _is_gcc(cc: str) -> bool:
    try:
        out = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "Free Software Foundation" in out and "clang" not in out


def _build(cc: str, so: Path) -> None:
    so.parent.mkdir(parents=True, exist_ok=True)
    # OpenMP only from gcc: its libgomp is the runtime torch runs on (Linux wheels), so both share
    # one team of threads; clang's libomp would be a second pool fighting torch's for the cores.
    flag_sets = FLAG_SETS if _is_gcc(cc) else [f for f in FLAG_SETS if "-fopenmp" not in f]
    # build beside the target and rename: concurrent workers never load a half-written file
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=so.parent)
    os.close(fd)
    try:
        for flags in flag_sets:
            done = subprocess.run([cc, *COMMON, *flags, str(SOURCE), "-o", tmp], capture_output=True, timeout=120)
            if done.returncode == 0:
                os.replace(tmp, so)
                _prune(so)
                return
        raise subprocess.SubprocessError(f"{cc} failed: {done.stderr.decode(errors='replace').strip()[-300:]}")
    finally:
        Path(tmp).unlink(missing_ok=True)


def _prune(keep: Path, days: float = 30) -> None:
    """Remove builds of other versions unused for a month (one is left per source edit)."""
    for old in keep.parent.glob("native-*.so"):
        try:
            if old != keep and time.time() - old.stat().st_atime > days * 86400:
                old.unlink()
        except OSError:
            pass


def usable(x: torch.Tensor) -> bool:
    """Whether the kernels can take this input: fp32 on the CPU, outside bf16 autocast."""
    return (x.device.type == "cpu" and x.dtype == torch.float32 and not torch.is_autocast_enabled("cpu")
            and lib() is not None)


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


class Convs(torch.autograd.Function):
    """The two conv blocks of model.forward_stack, from images to fc1's input:
        stage 1: relu(max_pool2d(conv2d(x, w1, padding=1, groups=M), 2) + b1)   in C, NHWC
        stage 2: relu(max_pool2d(conv2d(., w2, padding=1, groups=M), 2) + b2)   conv on oneDNN, the rest in C
    x is [M, B, 28, 28] (a batch per model) or [B, 28, 28] (one shared batch); out [M, B, 2c*49],
    each model's features in nn.Flatten order. The backward is one C kernel (see native.c)."""

    @staticmethod
    def forward(ctx, x, w1, b1, w2, b2):
        x = x.contiguous()
        m, c = w1.shape[:2]
        c2, b = 2 * c, x.shape[-3]
        _check(tuple(w1.shape) == (m, c, 1, 3, 3) and tuple(b1.shape) == (m, c), f"conv1 weights {tuple(w1.shape)}, bias {tuple(b1.shape)}")
        _check(tuple(w2.shape) == (m, c2, c, 3, 3) and tuple(b2.shape) == (m, c2), f"conv2 weights {tuple(w2.shape)}, bias {tuple(b2.shape)}")
        _check(x.shape[-2:] == (28, 28) and (x.dim() == 3 or (x.dim() == 4 and x.shape[0] == m)),
               f"images {tuple(x.shape)} for {m} models: want [M, B, 28, 28] or [B, 28, 28]")
        mstride = 0 if x.dim() == 3 else b * 784
        w = w1.detach().reshape(m, c, 9).transpose(1, 2).contiguous()  # [M, 9, c]: tap-major
        y, slot1 = _f32(b, 14, 14, m * c), _slots(b, 14, 14, m * c)
        lib().stage1_forward(_ptr(x), mstride, _ptr(w), _ptr(b1.detach().contiguous()), _ptr(y), _ptr(slot1, torch.uint8), m, c, b)
        w2cl = w2.detach().flatten(0, 1).contiguous(memory_format=torch.channels_last)
        h = F.conv2d(y.permute(0, 3, 1, 2), w2cl, padding=1, groups=m)
        h = h.permute(0, 2, 3, 1).contiguous()  # NHWC: a no-op, oneDNN answers channels_last
        z, slot2 = _f32(m, b, c2 * 49), _slots(m, b, c2 * 49)
        lib().stage2_forward(_ptr(h), _ptr(b2.detach().contiguous()), _ptr(z), _ptr(slot2, torch.uint8), b, m, c2)
        ctx.save_for_backward(x, y, slot1, w2, z, slot2)
        ctx.mstride = mstride
        return z

    @staticmethod
    @once_differentiable
    def backward(ctx, gz):
        x, y, slot1, w2, z, slot2 = ctx.saved_tensors
        m, c2, c = w2.shape[:3]
        b = y.shape[0]
        cp = -(-c // 16) * 16  # conv2's input channels padded to whole vectors
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
