"""The model families' arithmetic: widths, layer shapes, N and forward FLOPs (no torch).

Width c = round(4 * sqrt(2)**k) for width step k = -4, -2, -1, 0, 1, ... (widths 1, 2, 3, 4, 6, ...).
"cnn", the exercise's family:
    conv3x3(1 -> c) relu maxpool2 | conv3x3(c -> 2c) relu maxpool2 | dropout
    linear(2c*7*7 -> 4c) relu dropout | linear(4c -> 10)
The c^2 terms (conv2, fc1) dominate, so forward compute doubles per width step.
"mlp", the second family on the same knob (hidden width h = 16c, so a width-4 MLP costs about what
a width-4 CNN does):
    flatten | linear(784 -> h) relu dropout | linear(h -> h) relu dropout | linear(h -> 10)
Its h^2 term dominates only from h ~ 800 (c ~ 45) up: below that compute grows ~1.5x per step,
not 2x, and the fits use the measured N and C, not the step.
model.py builds these layers in torch; the config, the fits' synthetic sweeps and the pages only
need the numbers.
"""
from __future__ import annotations

import math

C0 = 4  # width at step 0
# Steps below 0 (widths 1, 2, 3) let a grid bracket the compute-optimal size at small budgets,
# where the best model is smaller than 4 channels.
MIN_WIDTH_STEP = -4  # width 1
MAX_WIDTH_STEP = 12  # width 256: ~0.5 GFLOPs/example forward, far past where MNIST saturates
ARCHS = ("cnn", "mlp")
MLP_HIDDEN = 16  # the MLP's hidden width per unit of c


def width(step: int) -> int:
    return round(C0 * math.sqrt(2) ** step)


def same_width_as(step: int) -> int | None:
    """The smaller step that rounds to the same width (-3 -> -4: both are width 1), or None.
    Only the smallest step of each width is a valid step, so that a width has one identity."""
    below = [k for k in range(MIN_WIDTH_STEP, step) if width(k) == width(step)]
    return below[0] if below else None


def width_steps(lo: int = MIN_WIDTH_STEP, hi: int = MAX_WIDTH_STEP) -> list[int]:
    """The valid steps lo..hi: each width once (see same_width_as)."""
    return [k for k in range(lo, hi + 1) if same_width_as(k) is None]


def layer_shapes(c: int, arch: str = "cnn") -> dict[str, tuple[int, ...]]:
    """Weight and bias shapes of one model, in the order of the forward pass."""
    if arch == "mlp":
        h = MLP_HIDDEN * c
        return {"fc1.weight": (h, 784), "fc1.bias": (h,), "fc2.weight": (h, h), "fc2.bias": (h,),
                "fc3.weight": (10, h), "fc3.bias": (10,)}
    if arch != "cnn":
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")
    return {
        "conv1.weight": (c, 1, 3, 3), "conv1.bias": (c,),
        "conv2.weight": (2 * c, c, 3, 3), "conv2.bias": (2 * c,),
        "fc1.weight": (4 * c, 2 * c * 49), "fc1.bias": (4 * c,),
        "fc2.weight": (10, 4 * c), "fc2.bias": (10,),
    }


def fan_in(name: str, c: int, arch: str = "cnn") -> int:
    """Inputs feeding one output unit of the layer that owns parameter `name` (biases share it)."""
    w = layer_shapes(c, arch)[name.split(".")[0] + ".weight"]
    return math.prod(w[1:])


def n_params(c: int, arch: str = "cnn") -> int:
    """N: trainable parameters (weights and biases of every layer)."""
    return sum(math.prod(s) for s in layer_shapes(c, arch).values())


def forward_flops(c: int, arch: str = "cnn") -> int:
    """Forward FLOPs per example: 2 x multiply-adds of the convs and linears (torch.utils.flop_counter's
    convention). Biases, ReLU, pooling and dropout are not counted."""
    if arch == "mlp":
        h = MLP_HIDDEN * c
        return 2 * (784 * h + h * h + h * 10)
    conv1 = 28 * 28 * c * 1 * 9
    conv2 = 14 * 14 * (2 * c) * c * 9
    fc1 = (2 * c * 49) * (4 * c)
    fc2 = (4 * c) * 10
    return 2 * (conv1 + conv2 + fc1 + fc2)
