"""The model families in torch: one model the usual way, and M models of one width as one stack.

`CNN` is the plain nn.Module a user would write (the benchmark's baseline and the FLOP-counter
check use it). `init_stack`/`forward_stack` are the same network for M models at once, each with
its own weights and its own batch: convolutions become grouped convolutions and linear layers
batched matmuls, so one kernel launch serves every model of a width. Training one model alone is
the M = 1 case of the same code. The MLP family (`MLP`, `forward_mlp_stack`) is the same idea with
batched matmuls only. The architectures' numbers (widths, N, FLOPs) are in arch.py.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from scaling.core.arch import C0, MAX_WIDTH_STEP, MLP_HIDDEN, fan_in, forward_flops, layer_shapes, n_params, width  # noqa: F401
from scaling.training import native


class CNN(nn.Module):
    """One model of the family, written the usual way."""

    def __init__(self, c: int, dropout: float = 0.0):
        super().__init__()
        self.conv1 = nn.Conv2d(1, c, 3, padding=1)
        self.conv2 = nn.Conv2d(c, 2 * c, 3, padding=1)
        self.fc1 = nn.Linear(2 * c * 49, 4 * c)
        self.fc2 = nn.Linear(4 * c, 10)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):  # x: [B, 1, 28, 28]
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.dropout(torch.flatten(x, 1))
        x = self.dropout(F.relu(self.fc1(x)))
        return self.fc2(x)


class MLP(nn.Module):
    """One model of the MLP family (arch.py), written the usual way."""

    def __init__(self, c: int, dropout: float = 0.0):
        super().__init__()
        h = MLP_HIDDEN * c
        self.fc1, self.fc2, self.fc3 = nn.Linear(784, h), nn.Linear(h, h), nn.Linear(h, 10)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):  # x: [B, 1, 28, 28]
        x = self.dropout(F.relu(self.fc1(torch.flatten(x, 1))))
        x = self.dropout(F.relu(self.fc2(x)))
        return self.fc3(x)


MODULES = {"cnn": CNN, "mlp": MLP}


# ---------------------------------------------------------------- M models at once


def init_stack(c: int, seeds: list[int], device="cpu", arch: str = "cnn") -> dict[str, torch.Tensor]:
    """Weights for len(seeds) models, each drawn U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's default
    scale) from its own seed on the CPU, so a model's init depends on its seed alone: not on the
    device, nor on which other models share its batch."""
    shapes = layer_shapes(c, arch)
    out = {name: [] for name in shapes}
    for seed in seeds:
        g = torch.Generator().manual_seed(7_919 * seed + 1)
        for name, shape in shapes.items():
            bound = 1 / math.sqrt(fan_in(name, c, arch))
            out[name].append((torch.rand(shape, generator=g) * 2 - 1) * bound)
    return {name: torch.stack(ws).to(device).requires_grad_() for name, ws in out.items()}


def _int32(v: int) -> int:
    """v mod 2^32 as a signed int32, so int32 tensors can do uint32 arithmetic (both wrap the same)."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


def _hash_base(keys: torch.Tensor, step, layer: int) -> torch.Tensor:
    """Each model's hash offset for one layer at one step, in [0, 2^32) as int64."""
    return (keys.to(torch.int64) * 0x9E3779B1 + (step * 4 + layer) * 0x85EBCA77) & 0xFFFFFFFF


def dropout_uniform(keys: torch.Tensor, step: int, layer: int, shape: tuple[int, int]) -> torch.Tensor:
    """Uniform [0, 1) numbers (multiples of 2^-24), one [B, F] block per model, from a counter-based
    hash of (model key, step, layer, position). A model's dropout masks depend on its seed alone
    and are the same on CPU and CUDA, and drawing them for M models is a few elementwise kernels.

    The lowbias32 hash (Wellons) in int32, in place (int64 would move twice the bytes):
    products wrap mod 2^32 as in uint32, and each right shift is masked so it is a logical one."""
    b, f = shape
    base = _hash_base(keys, step, layer)
    base = torch.where(base >= 1 << 31, base - (1 << 32), base).to(torch.int32)  # on the device: no sync
    h = base.view(-1, 1, 1) + torch.arange(b * f, dtype=torch.int32, device=keys.device).view(1, b, f)
    h ^= (h >> 16) & 0xFFFF
    h *= _int32(0x7FEB352D)
    h ^= (h >> 15) & 0x1FFFF
    h *= _int32(0x846CA68B)
    h ^= (h >> 16) & 0xFFFF
    return ((h >> 8) & 0xFFFFFF).to(torch.float32).mul_(1.0 / 16777216)  # top 24 bits: exact in float32


def _dropout(h, keep, keys, step, layer, fast: bool = False):
    """Inverted dropout with a per-model keep probability `keep` [M] (1 = no dropout); `fast`: in
    native.py's C kernel."""
    if fast:
        return h * native.dropout_scale(_hash_base(keys, step, layer), keep, tuple(h.shape[1:]))
    u = dropout_uniform(keys, step, layer, tuple(h.shape[1:]))
    k = keep.view(-1, 1, 1)
    return h * (u < k).to(h.dtype) / k


CL = torch.channels_last  # NHWC: oneDNN's native layout for grouped convs (forward_stack)


def forward_stack(p: dict[str, torch.Tensor], x: torch.Tensor, keep=None, keys=None, step: int = 0):
    """Logits [M, B, 10] of M models. x is [M, B, 28, 28] (a batch per model) or [B, 28, 28] (one
    batch for all, as in evaluation). Dropout applies when `keep` and `keys` are given.

    The convs of all M models are one grouped conv in channels_last (oneDNN's native layout:
    faster than NCHW and than a loop of per-model convs; docs/performance.md). Max-pooling comes
    before bias and ReLU: both are monotone, so the result is the same, and they then touch a
    quarter of the elements. On the CPU in fp32 the two conv blocks and dropout run in native.py's
    C kernels (same numbers) where native.cpu_path() found them faster; the torch ops below are
    the reference."""
    m, c = p["conv1.weight"].shape[:2]
    training = torch.is_grad_enabled()
    fast = native.usable(x, "train" if training else "eval", c) and not x.requires_grad
    if fast:  # CPU fp32 where the kernels are faster here: both conv blocks in native.py's C kernels
        convs = native.Convs.apply if training else native.conv_features  # evaluation keeps no pooling slots
        h = convs(x, p["conv1.weight"], p["conv1.bias"], p["conv2.weight"], p["conv2.bias"])
    else:
        # [B, M, 28, 28]: model i's images are group i's input channel. A shared batch is copied M
        # times rather than fed to one ungrouped conv: that conv's output comes out NCHW (a 1-channel
        # input is ambiguous), and pooling it then costs more than the whole grouped conv.
        x = x.unsqueeze(1).expand(-1, m, -1, -1) if x.dim() == 3 else x.transpose(0, 1)
        w1 = p["conv1.weight"].flatten(0, 1).contiguous(memory_format=CL)
        h = F.conv2d(x.contiguous(memory_format=CL), w1, padding=1, groups=m)
        h = F.relu(F.max_pool2d(h, 2) + p["conv1.bias"].view(1, -1, 1, 1))
        w2 = p["conv2.weight"].flatten(0, 1).contiguous(memory_format=CL)
        h = F.conv2d(h, w2, padding=1, groups=m)
        h = F.relu(F.max_pool2d(h, 2) + p["conv2.bias"].view(1, -1, 1, 1))  # [B, M*2c, 7, 7]
        b = h.shape[0]
        h = h.unflatten(1, (m, 2 * c)).transpose(0, 1).reshape(m, b, 2 * c * 49)  # each model's features in nn.Flatten order
    if keep is not None:
        h = _dropout(h, keep, keys, step, 0, fast)
    h = F.relu(torch.baddbmm(p["fc1.bias"].unsqueeze(1), h, p["fc1.weight"].transpose(1, 2)))
    if keep is not None:
        h = _dropout(h, keep, keys, step, 1, fast)
    return torch.baddbmm(p["fc2.bias"].unsqueeze(1), h, p["fc2.weight"].transpose(1, 2))


def forward_mlp_stack(p: dict[str, torch.Tensor], x: torch.Tensor, keep=None, keys=None, step: int = 0):
    """Logits [M, B, 10] of M MLPs, as forward_stack: x is [M, B, 28, 28] or [B, 28, 28] (shared).
    Batched matmuls in torch on every device (the C kernels are the CNN's convolutions)."""
    h = x.flatten(-2)  # [M, B, 784] or [B, 784]: a shared batch broadcasts over the models
    h = F.relu(torch.matmul(h, p["fc1.weight"].transpose(1, 2)) + p["fc1.bias"].unsqueeze(1))
    if keep is not None:
        h = _dropout(h, keep, keys, step, 0)
    h = F.relu(torch.baddbmm(p["fc2.bias"].unsqueeze(1), h, p["fc2.weight"].transpose(1, 2)))
    if keep is not None:
        h = _dropout(h, keep, keys, step, 1)
    return torch.baddbmm(p["fc3.bias"].unsqueeze(1), h, p["fc3.weight"].transpose(1, 2))


FORWARD = {"cnn": forward_stack, "mlp": forward_mlp_stack}


def to_module(p: dict[str, torch.Tensor], i: int, dropout: float = 0.0, arch: str = "cnn") -> nn.Module:
    """Model i of a stack as a plain module (to export it, or to check the stacked forward against)."""
    c = p["fc1.weight"].shape[1] // MLP_HIDDEN if arch == "mlp" else p["conv1.weight"].shape[1]
    model = MODULES[arch](c, dropout)
    model.load_state_dict({name: t[i].detach().clone().cpu() for name, t in p.items()})
    return model
