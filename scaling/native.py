"""C kernels for the CPU forward and backward of model.forward_stack, and for Adam.

Why: on 2 CPU cores at width 11 (8 models, batch 64), a training step took 28 ms, though the
grouped conv2 that holds ~80% of the FLOPs took ~9 of it. The rest was memory traffic on tensors
with few channels: conv1's full-resolution output (17.6 MB) written, max-pooled, then zero-filled
and scattered into again in the backward pass; bias, ReLU and their backward as passes of their
own; ~20 elementwise passes to hash each dropout mask; ten foreach passes of Adam. Here:
  - Stage1: conv1 -> max-pool -> bias -> ReLU in one kernel that never stores the full-resolution
    output (conv1 has one input channel and 9 taps: recomputing it in registers is cheaper than a
    round trip to memory); its backward reads only the pooled gradient.
  - Stage2: conv2 (oneDNN) then max-pool -> bias -> ReLU in one kernel writing fc1's input layout.
    Its backward is one C kernel from fc1's input gradient to conv2's input and weight gradients:
    pooling passes a gradient to one conv2 output in four, and ReLU to some of those (one in six
    at the first step, one in 20 to 100 by the end of an epoch), so it walks the nonzero ones
    instead of giving oneDNN a dense gradient that is mostly zeros.
  - A dropout mask is one pass; Adam is one pass per tensor.
Measured (benchmarks/bench_sweep.py --quick, the middle width): 28 -> 11 ms a step, 16% -> ~38% of
the fp32 matmul peak, counting C = 3 x forward FLOPs as everywhere in the project (the backward
now executes fewer FLOPs than that: the zeros it skips).

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
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

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
    "stage1_backward": [_P, _I64, _P, _P, _P, _P, _P, _I, _I, _I],
    "stage2_forward": [_P, _P, _P, _P, _I, _I, _I],
    "conv2_backward": [_P, _P, _P, _P, _P, _P, _P, _P, _I, _I, _I, _I],
    "dropout_scale": [_P, _P, _P, _I, _I64],
    "adam": [_P, _P, _P, _P, _P, _I64, ctypes.c_float, ctypes.c_float, ctypes.c_float, ctypes.c_float, ctypes.c_float],
}


def _cpu_id() -> str:
    """What -march=native compiles for: a cached build is reused only on the same kind of CPU."""
    try:
        flags = next(ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("flags"))
    except (OSError, StopIteration):
        flags = ""
    return f"{platform.machine()} {platform.processor()} {flags}"


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
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "scaling-lab" / f"native-{key}.so"


def _build(cc: str, so: Path) -> None:
    so.parent.mkdir(parents=True, exist_ok=True)
    # build beside the target and rename: concurrent workers never load a half-written file
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=so.parent)
    os.close(fd)
    try:
        for flags in FLAG_SETS:
            done = subprocess.run([cc, *COMMON, *flags, str(SOURCE), "-o", tmp], capture_output=True, timeout=120)
            if done.returncode == 0:
                os.replace(tmp, so)
                return
        raise subprocess.SubprocessError(f"{cc} failed: {done.stderr.decode(errors='replace').strip()[-300:]}")
    finally:
        Path(tmp).unlink(missing_ok=True)


def usable(x: torch.Tensor) -> bool:
    """Whether the kernels can take this input: fp32 on the CPU, outside bf16 autocast."""
    return (x.device.type == "cpu" and x.dtype == torch.float32 and not torch.is_autocast_enabled("cpu")
            and lib() is not None)


def _ptr(t: torch.Tensor):
    assert t.is_contiguous()
    return ctypes.c_void_p(t.data_ptr())


class Stage1(torch.autograd.Function):
    """relu(max_pool2d(conv2d(x, w1, padding=1, groups=M), 2) + b1): the first block of
    model.forward_stack, out [B, M*c, 14, 14] in channels_last. x: [M, B, 28, 28] or [B, 28, 28]."""

    @staticmethod
    def forward(ctx, x, w1, b1):
        x = x.contiguous()
        m, c = w1.shape[:2]
        b = x.shape[-3]
        assert x.shape[-2:] == (28, 28) and (x.dim() == 3 or x.shape[0] == m), (tuple(x.shape), m)
        w = w1.detach().reshape(m, c, 9).transpose(1, 2).contiguous()  # [M, 9, c]: tap-major
        bias = b1.detach().contiguous()
        y = torch.empty(b, 14, 14, m * c)
        slot = torch.empty(b, 14, 14, m * c, dtype=torch.uint8)
        mstride = 0 if x.dim() == 3 else b * 784
        lib().stage1_forward(_ptr(x), mstride, _ptr(w), _ptr(bias), _ptr(y), _ptr(slot), m, c, b)
        ctx.save_for_backward(x, y, slot)
        ctx.dims = (m, c, b, mstride)
        return y.permute(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, gy):
        x, y, slot = ctx.saved_tensors
        m, c, b, mstride = ctx.dims
        gy = gy.permute(0, 2, 3, 1).contiguous()  # a no-op for a channels_last gradient
        gw, gb = torch.zeros(m, 9, c), torch.zeros(m, c)
        lib().stage1_backward(_ptr(x), mstride, _ptr(y), _ptr(slot), _ptr(gy), _ptr(gw), _ptr(gb), m, c, b)
        return None, gw.transpose(1, 2).reshape(m, c, 1, 3, 3), gb


class Stage2(torch.autograd.Function):
    """relu(max_pool2d(conv2d(y, w2, padding=1, groups=M), 2) + b2): the second block of
    model.forward_stack, from stage 1's output y [B, M*c, 14, 14] (channels_last) to fc1's input
    [M, B, c2*49], each model's features in nn.Flatten order. The conv runs on oneDNN; its
    backward, in C, skips the seven in eight conv outputs that pooling and ReLU gave no gradient."""

    @staticmethod
    def forward(ctx, y, w2, b2):
        m, c2, c = w2.shape[:3]
        b = y.shape[0]
        assert y.shape[1:] == (m * c, 14, 14), (tuple(y.shape), m, c)
        h = F.conv2d(y, w2.detach().flatten(0, 1).contiguous(memory_format=torch.channels_last), padding=1, groups=m)
        h = h.permute(0, 2, 3, 1).contiguous()  # NHWC: a no-op, oneDNN answers channels_last
        bias = b2.detach().contiguous()
        z = torch.empty(m, b, c2 * 49)
        slot = torch.empty(m, b, c2 * 49, dtype=torch.uint8)
        lib().stage2_forward(_ptr(h), _ptr(bias), _ptr(z), _ptr(slot), b, m, c2)
        ctx.save_for_backward(y, w2, z, slot)
        return z

    @staticmethod
    def backward(ctx, gz):
        y, w2, z, slot = ctx.saved_tensors
        m, c2, c = w2.shape[:3]
        b = y.shape[0]
        y = y.permute(0, 2, 3, 1).contiguous()  # NHWC, as stage 1 wrote it: a no-op
        cp = -(-c // 16) * 16  # input channels padded to whole vectors
        w = F.pad(w2.detach().reshape(m, c2, c, 9).transpose(2, 3), (0, cp - c)).contiguous()  # [M, c2, 9, cp]
        gz = gz.contiguous()
        gy = torch.empty(b, 14, 14, m * c)
        gw, gb = torch.zeros(m, c2, 9, cp), torch.zeros(m, c2)
        lib().conv2_backward(_ptr(y), _ptr(w), _ptr(z), _ptr(slot), _ptr(gz), _ptr(gy), _ptr(gw), _ptr(gb), b, m, c, c2)
        return gy.permute(0, 3, 1, 2), gw[..., :c].transpose(2, 3).reshape(m, c2, c, 3, 3), gb


def dropout_scale(base: torch.Tensor, keep: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """[M, B, F] multipliers, 1/keep where model.dropout_uniform's number is below keep, else 0.
    base: [M] int64, each model's hash base (its low 32 bits are used)."""
    m = len(base)
    out = torch.empty(m, *shape)
    base, keep = base.to(torch.int64).contiguous(), keep.to(torch.float32).contiguous()
    lib().dropout_scale(_ptr(base), _ptr(keep), _ptr(out), m, shape[0] * shape[1])
    return out


def adam(params, grads, exp_avg, exp_avg_sq, lr, step: int, betas: tuple[float, float], eps: float) -> None:
    """train._adam's update in one pass per tensor (torch's foreach version makes ten)."""
    bc1, bc2_sqrt = 1 - betas[0] ** step, (1 - betas[1] ** step) ** 0.5
    for p, g, m1, m2, r in zip(params, grads, exp_avg, exp_avg_sq, lr):
        g = g.contiguous()  # conv2's weight gradient comes back channels_last
        lib().adam(_ptr(p), _ptr(g), _ptr(m1), _ptr(m2), _ptr(r), p.numel(), *betas, bc1, bc2_sqrt, eps)
