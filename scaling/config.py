"""What a run is: the fields that decide its result, and the identity the cache keys it by."""
from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, fields

from . import arch, datasets

# Bump when a change to data, model or trainer changes what a config produces: old runs then stop
# matching and are trained again, instead of being mixed with new ones.
PROTOCOL = 2  # 2: dropout draws 24-bit uniforms (int32 hash); masks differ from 1 in ~1e-7 of elements

LR_RULES = ("fan_in", "constant")
# Per-layer Adam lr = LR_BASE / sqrt(fan_in) * lr_mult: proportional to the init scale, so one
# multiplier suits every width (fc1's fan_in grows ~50x across the family): 0.033 for conv1
# (fan_in 9) down to 1.5e-3 for fc1 at width 45. benchmarks/lr_scan.py scans the multiplier per
# width (README, Definitions).
LR_BASE = 0.1
LR_CONSTANT = 1e-3  # the "constant" rule: the same Adam lr for every layer, times lr_mult


@dataclass(frozen=True)
class RunConfig:
    width_step: int
    data_fraction: float
    seed: int = 0
    dropout: float = 0.0
    lr_mult: float = 1.0
    lr_rule: str = "fan_in"
    dataset: str = "mnist"
    epochs: int = 1
    batch_size: int = 64

    def __post_init__(self):
        check(isinstance(self.width_step, int) and arch.MIN_WIDTH_STEP <= self.width_step <= arch.MAX_WIDTH_STEP,
              "width_step", f"an integer in {arch.MIN_WIDTH_STEP}..{arch.MAX_WIDTH_STEP}", self.width_step)
        twin = arch.same_width_as(self.width_step)
        check(twin is None, "width_step", f"step {twin} (step {self.width_step} rounds to the same width, "
              f"{arch.width(self.width_step)})", self.width_step)
        check(_finite(self.data_fraction) and 0 < self.data_fraction <= 1, "data_fraction", "in (0, 1]", self.data_fraction)
        check(datasets.n_examples(self.data_fraction) >= 1, "data_fraction", "at least one example (>= 1/60000)", self.data_fraction)
        check(isinstance(self.seed, int) and 0 <= self.seed < 2**31, "seed", "an integer in 0..2^31-1", self.seed)
        check(_finite(self.dropout) and 0 <= self.dropout < 1, "dropout", "in [0, 1)", self.dropout)
        check(_finite(self.lr_mult) and self.lr_mult > 0, "lr_mult", "a positive number", self.lr_mult)
        check(self.lr_rule in LR_RULES, "lr_rule", f"one of {', '.join(LR_RULES)}", self.lr_rule)
        check(self.dataset in datasets.DATASETS, "dataset", f"one of {', '.join(datasets.DATASETS)}", self.dataset)
        check(isinstance(self.epochs, int) and 1 <= self.epochs <= 100, "epochs", "an integer in 1..100", self.epochs)
        check(isinstance(self.batch_size, int) and 1 <= self.batch_size <= 4096, "batch_size", "an integer in 1..4096", self.batch_size)

    @property
    def width(self) -> int:
        return arch.width(self.width_step)

    @property
    def params(self) -> int:
        return arch.n_params(self.width)

    @property
    def examples(self) -> int:
        """D: training examples seen."""
        return datasets.n_examples(self.data_fraction) * self.epochs

    @property
    def flops(self) -> float:
        """C = 3 x forward FLOPs per example x D (backward ~ 2x forward)."""
        return 3.0 * arch.forward_flops(self.width) * self.examples

    @property
    def stack_key(self) -> tuple:
        """Configs with equal keys have one architecture and batch shape, so they can train as one
        stack (runs of different data fractions too: see train.train_stack)."""
        return (self.dataset, self.width_step, self.epochs, self.batch_size)

    @property
    def run_id(self) -> str:
        """sha256 of every field plus the protocol version; floats by repr so 0.2 == 0.2 exactly."""
        payload = json.dumps({"protocol": PROTOCOL, **self.to_dict()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:24]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["data_fraction"], d["dropout"], d["lr_mult"] = float(self.data_fraction), float(self.dropout), float(self.lr_mult)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def env_limit(name: str, default: int, what: str, error: type[Exception] = ValueError) -> int:
    """A host's positive integer setting from $name, else `default`; anything else raises `error`
    naming the variable."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise error(f"{name}={raw!r} must be a positive integer ({what}; default {default})")
    return value


def check(ok: bool, name: str, expected: str, got) -> None:
    if not ok:
        raise ValueError(f"{name} must be {expected}, got {got!r}")


def lr_per_layer(cfg: RunConfig, name: str) -> float:
    """The Adam learning rate of parameter `name` under the run's rule."""
    if cfg.lr_rule == "constant":
        return LR_CONSTANT * cfg.lr_mult
    return LR_BASE / math.sqrt(arch.fan_in(name, cfg.width)) * cfg.lr_mult
