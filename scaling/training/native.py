"""The C kernels as torch operations (the conv blocks, dropout masks, Adam), and the switch that says when they run.

Why: the models are narrow, so a step in plain torch ops is memory traffic more than arithmetic
(full-resolution conv outputs written and read back, bias, ReLU, pooling and ~20 hashing passes
per dropout mask, ten foreach passes of Adam, a dense conv2 gradient that is mostly zeros). Here
(Convs): conv1 -> max-pool -> bias -> ReLU is one kernel that never stores conv1's full-resolution
output (one input channel, 9 taps: recomputing in registers beats a round trip to memory); conv2
-> max-pool -> bias -> ReLU is one kernel writing fc1's input layout (or conv2 on oneDNN, then the
rest in C, where oneDNN's conv2 is faster); the backward of both blocks is one kernel that stores
no conv gradient and walks only the conv2 outputs that pooling and ReLU let a gradient through; a
dropout mask is one pass; Adam is one pass per tensor. What this buys, on which processor:
docs/performance.md.

The kernels are plain C (scaling/training/native.c), built for the processor's instruction set by
native_build.py. They run on OpenMP, i.e. on torch's own libgomp thread team: a second pool of
threads would fight torch's spinning workers for the cores. A model's sums run in an order that
does not depend on the other models of its stack, so a stack reproduces each model's solo run to ~1e-7.

Never slower than the ops: on first use, cpu_path() has cpu_check.py time the kernels against the
torch ops on this machine (cached with the build) and each phase and width runs on whichever was
faster. `scaling doctor` prints the choice and its timings. Without a working compiler, on CUDA, under
bf16 autocast, or with SCALING_NATIVE=0, the callers use plain torch ops; tests/test_native.py
checks every build this processor can run against them.

    native_build.py  the compiler build: ISAs, flags, the cached .so (lib, chosen_isa, runnable_isas)
    cpu_check.py     which path runs and why (CpuPath, Timing), timed once and cached with the build
    cpu_timing.py    the harness the check times with (a training step and an evaluation pass)
"""
from __future__ import annotations

import contextlib
import ctypes
import functools

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from scaling.training import cpu_check, native_build
from scaling.training.cpu_check import VARIANTS, CpuPath, Timer
from scaling.training.native_build import _check, lib

# ---------------------------------------------------------------- which path runs

CHECK_WIDTHS = (4, 11, 45)  # the widths the check times: the exercise's narrowest, middle and widest
_forced: str | None = None  # a variant, set while the check times it (and by benchmarks and tests)
# What times the variants for the check: cpu_timing.time_cpu_paths, handed over by train.py (the
# harness runs the model and Adam, which import this module: native cannot import it). None until
# then: the path is decided from a cached timing, or untimed (the C kernels), and asked again once set.
_timer: Timer | None = None


def set_timer(timer: Timer | None) -> None:
    global _timer
    _timer = timer
    _cpu_path.cache_clear()  # a path decided before there was a timer was not timed: decide again


def cpu_path(measure: bool = True) -> CpuPath:
    """Which path runs here and why; timed once per build, torch version and thread count, and
    cached beside the build. measure=False never times (a page that must not stall): where no
    timing is cached yet, the path says so, `how` "untimed" (and is asked again next time: the
    first training, in another process, may have timed it since)."""
    return _cpu_path() if measure else cpu_check.decide(False, CHECK_WIDTHS, _timer)


@functools.cache
def _cpu_path() -> CpuPath:
    return cpu_check.decide(True, CHECK_WIDTHS, _timer)


def reset() -> None:
    """Forget the loaded builds and the chosen path (after SCALING_NATIVE* or CC change)."""
    native_build._lib.cache_clear()
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
    """optim.adam's update in one pass per tensor (torch's foreach version makes ten). Writes
    through raw pointers, so it bumps the version counters itself: autograd then refuses a graph
    that saved the old values, as it would after torch's in-place ops."""
    bc1, bc2_sqrt = 1 - betas[0] ** step, (1 - betas[1] ** step) ** 0.5
    for p, g, m1, m2, r in zip(params, grads, exp_avg, exp_avg_sq, lr):
        _check(p.shape == g.shape == m1.shape == m2.shape == r.shape, f"Adam tensors of shapes {p.shape}, {g.shape}, {m1.shape}, {m2.shape}, {r.shape}")
        g = g.contiguous()  # conv2's weight gradient comes back channels_last
        lib().adam(_ptr(p), _ptr(g), _ptr(m1), _ptr(m2), _ptr(r), p.numel(), betas[1], 1 - betas[0], 1 - betas[1], bc1, bc2_sqrt, eps)
        torch.autograd.graph.increment_version([p, m1, m2])
