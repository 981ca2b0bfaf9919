"""What a run is: the fields that decide its result, and the identity the cache keys it by."""
from __future__ import annotations

import hashlib
import json
import math
import numbers
import unicodedata
from dataclasses import dataclass, fields

from scaling import datasets
from scaling.core import arch

# Bump when a change to data, model or trainer changes what a config produces: old runs then stop
# matching and are trained again, instead of being mixed with new ones.
PROTOCOL = 2  # 2: dropout draws 24-bit uniforms (int32 hash); masks differ from 1 in ~1e-7 of elements
CURVE_POINTS = 8  # validation-curve points per run, log-spaced in examples seen (and the last step)

LR_RULES = ("fan_in", "constant")
# Per-layer Adam lr = LR_BASE / sqrt(fan_in) * lr_mult: proportional to the init scale, so one
# multiplier suits every width (fc1's fan_in grows ~50x across the family): 0.033 for conv1
# (fan_in 9) down to 1.5e-3 for fc1 at width 45. benchmarks/lr_scan.py scans the multiplier per
# width (README, Definitions).
LR_BASE = 0.1
LR_CONSTANT = 1e-3  # the "constant" rule: the same Adam lr for every layer, times lr_mult
# The rule's constant per schedule (part of the family): benchmarks/lr_scan.py put the cosine schedule's
# best at x2 of 0.1/sqrt(fan_in) at most widths (its warm-up and decay lower the mean lr), constant's at x1.
LR_SCHEDULE_SCALE = {"constant": 1.0, "cosine": 2.0}
# The study axes (label noise, architecture, class subsets, transfer). A field at its default is
# left out of the identity, so every run written before these axes existed keeps its run_id.
STUDY_DEFAULTS = {"label_noise": 0.0, "arch": "cnn", "classes": "", "pretrain_classes": "",
                  "pretrain_fraction": 1.0, "pretrain_epochs": 1, "lr_schedule": "constant"}
# How the lr moves over a run's own steps: "constant" (every run before the axis), or "cosine": down to
# zero after the last step (Hoffmann et al. 2022's protocol), ramped up linearly over its first
# WARMUP of steps (benchmarks/lr_warmup.py: at each side's best multiplier, 17-27% lower loss in 5 of 6 cells).
LR_SCHEDULES = ("constant", "cosine")
WARMUP = 0.1  # of a cosine run's steps, rounded up: 1 step (none) up to 10 steps


@dataclass(frozen=True)
class RunConfig:
    """One run: every field that decides its result, and nothing else. Its run_id (a hash of the
    canonical values, study axes at their defaults left out) is its key in the cache.

    Attributes
    ----------
    width_step : int
        k in width = round(4 * sqrt(2)^k), -4..12 (arch.width); each step roughly doubles forward FLOPs.
    data_fraction : float
        The fraction f of the training set seen, in (0, 1]; D = floor(f * examples) * epochs.
    seed : int
        Fixes the initialisation, the data subset (shared by every width and fraction of the seed),
        the order, dropout masks and label noise.
    dropout : float
        Dropout probability, in [0, 1) (where each family applies it: training/model.py).
    lr_mult : float
        Multiplier on the learning-rate rule's Adam learning rate.
    lr_rule : str
        "fan_in" (LR_BASE / sqrt(fan_in), per layer) or "constant" (LR_CONSTANT for every layer).
    dataset : str
        A data set this package knows (datasets.DATASETS).
    epochs : int
        Passes over the run's subset.
    batch_size : int
        Examples per Adam step.
    label_noise : float
        Fraction of the run's training labels replaced by another label, seeded; in [0, 1).
    arch : str
        The model family (arch.ARCHS): the CNN, or an MLP on the same width knob.
    classes : str
        The digits trained and evaluated on, e.g. "56789"; "" is all ten.
    pretrain_classes : str
        Transfer: start from a run pre-trained on these digits; "" is from scratch.
    pretrain_fraction : float
        That run's data fraction (of the pre-training digits' examples).
    pretrain_epochs : int
        And its epochs.
    lr_schedule : str
        "constant" or "cosine" (LR_SCHEDULES; lr_factor): how the lr moves over the run's steps.
    """

    width_step: int
    data_fraction: float
    seed: int = 0
    dropout: float = 0.0
    lr_mult: float = 1.0
    lr_rule: str = "fan_in"
    dataset: str = "mnist"
    epochs: int = 1
    batch_size: int = 64
    label_noise: float = 0.0
    arch: str = "cnn"
    classes: str = ""
    pretrain_classes: str = ""
    pretrain_fraction: float = 1.0
    pretrain_epochs: int = 1
    lr_schedule: str = "constant"

    def __post_init__(self):
        for name in _FIELDS:  # one spelling per value before anything is checked or hashed
            object.__setattr__(self, name, canonical_value(name, getattr(self, name)))
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
        check(self.lr_schedule in LR_SCHEDULES, "lr_schedule", f"one of {', '.join(LR_SCHEDULES)}", self.lr_schedule)
        check(self.dataset in datasets.DATASETS, "dataset", f"one of {', '.join(datasets.DATASETS)}", self.dataset)
        check(isinstance(self.epochs, int) and 1 <= self.epochs <= 100, "epochs", "an integer in 1..100", self.epochs)
        check(isinstance(self.batch_size, int) and 1 <= self.batch_size <= 4096, "batch_size", "an integer in 1..4096", self.batch_size)
        check(_finite(self.label_noise) and 0 <= self.label_noise < 1, "label_noise", "in [0, 1)", self.label_noise)
        check(self.arch in arch.ARCHS, "arch", f"one of {', '.join(arch.ARCHS)}", self.arch)
        for name in ("classes", "pretrain_classes"):
            value = getattr(self, name)
            check(isinstance(value, str) and set(value) <= set(DIGITS) and value == canonical_classes(value)
                  and len(value) != 10, name,
                  "distinct digits in increasing order, fewer than ten (e.g. '01234'), or '' for all ten", value)
        if self.pretrain_classes:
            check(not set(self.pretrain_classes) & set(self.classes or "0123456789"), "pretrain_classes",
                  f"digits apart from the fine-tuning classes ({self.classes or 'all ten'})", self.pretrain_classes)
        else:
            check(self.pretrain_fraction == 1.0 and self.pretrain_epochs == 1, "pretrain_fraction",
                  "1 with pretrain_epochs 1 when there is no pre-training (pretrain_classes '')",
                  (self.pretrain_fraction, self.pretrain_epochs))
        check(_finite(self.pretrain_fraction) and 0 < self.pretrain_fraction <= 1, "pretrain_fraction", "in (0, 1]",
              self.pretrain_fraction)
        check(isinstance(self.pretrain_epochs, int) and 1 <= self.pretrain_epochs <= 100, "pretrain_epochs",
              "an integer in 1..100", self.pretrain_epochs)
        check(self.examples >= 1, "data_fraction", f"at least one example of the digits {self.classes or '0-9'}",
              self.data_fraction)

    @property
    def width(self) -> int:
        return arch.width(self.width_step)

    @property
    def params(self) -> int:
        return arch.n_params(self.width, self.arch)

    @property
    def examples(self) -> int:
        """D: training examples seen (of the run's digits, when it has a subset of them)."""
        return datasets.n_examples(self.data_fraction, self.dataset, self.classes) * self.epochs

    @property
    def flops(self) -> float:
        """C = 3 x forward FLOPs per example x D (backward ~ 2x forward); a fine-tuning run counts
        only its own training, not its pre-training (a run of its own: `pretraining`)."""
        return 3.0 * arch.forward_flops(self.width, self.arch) * self.examples

    @property
    def pretraining(self) -> "RunConfig | None":
        """The run whose final weights this one starts from: a cached run of its own, on the
        pre-training digits, with this run's model, seed, dropout, learning rate (and schedule) and batch size."""
        if not self.pretrain_classes:
            return None
        return RunConfig(width_step=self.width_step, data_fraction=self.pretrain_fraction, seed=self.seed,
                         dropout=self.dropout, lr_mult=self.lr_mult, lr_rule=self.lr_rule, dataset=self.dataset,
                         epochs=self.pretrain_epochs, batch_size=self.batch_size, arch=self.arch,
                         classes=self.pretrain_classes, lr_schedule=self.lr_schedule)

    @property
    def keeps_weights(self) -> bool:
        """Whether the store keeps this run's final weights: a from-scratch run on a subset of the
        digits is what a fine-tuning run starts from, so its weights are kept (once, with it)."""
        return bool(self.classes) and not self.pretrain_classes

    @property
    def stack_key(self) -> tuple:
        """Configs with equal keys have one architecture, batch shape and test set, so they can
        train as one stack (runs of different data fractions too: see train.train_stack)."""
        return (self.dataset, self.arch, self.width_step, self.epochs, self.batch_size, self.classes)

    @property
    def run_id(self) -> str:
        """sha256 of every field plus the protocol version (see identity)."""
        return identity(self.to_dict())

    def id_under(self, protocol: int) -> str:
        """The run_id this configuration had under `protocol` (a stale run's, for an older one)."""
        return identity(self.to_dict(), protocol)

    def to_dict(self) -> dict:
        d = {name: getattr(self, name) for name in _FIELDS}  # every field is a scalar: no deep copy (asdict)
        for k in ("data_fraction", "dropout", "lr_mult", "label_noise", "pretrain_fraction"):
            d[k] = float(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


_FIELDS = tuple(f.name for f in fields(RunConfig))
# A run family: the fields that stay fixed along one sweep, so that its runs are comparable (seeds
# averaged, widths and data fractions fitted together). The other fields vary inside a family:
# width_step and data_fraction are the sweep's grid, seeds are averaged, lr_mult is tuned per size.
FAMILY_FIELDS = ("dataset", "dropout", "lr_rule", "epochs", "batch_size", *STUDY_DEFAULTS)
WITHIN_FAMILY = ("width_step", "data_fraction", "seed", "lr_mult")
assert set(FAMILY_FIELDS) | set(WITHIN_FAMILY) == set(_FIELDS), "a RunConfig field is neither family nor within it"
# Recorded with each run, not configured (so not in its run_id), and splitting families too: the
# precision it trained in, and the protocol version it was trained under.
RECORDED_FAMILY_FIELDS = ("precision", "protocol")
FLOAT_FIELDS = ("data_fraction", "dropout", "lr_mult", "label_noise", "pretrain_fraction")
INT_FIELDS = ("width_step", "seed", "epochs", "batch_size", "pretrain_epochs")
DIGIT_FIELDS = ("classes", "pretrain_classes")
DIGITS = "0123456789"


def canonical_value(name: str, value, respell: bool = True):
    """A field's value spelled one way, so that one configuration has one identity: -0.0 is 0.0,
    numpy scalars are Python's, digits of any script are ASCII. Anything else is left for the checks.
    respell=False only converts numpy scalars (what versions before this one hashed)."""
    if name in FLOAT_FIELDS and isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value) + 0.0 if respell else float(value)  # -0.0 + 0.0 is +0.0; other floats unchanged
    if name in INT_FIELDS and isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if name in DIGIT_FIELDS and isinstance(value, str) and respell:
        return ascii_digits(value)
    return value


def ascii_digits(text: str) -> str:
    """Decimal digits of any script as ASCII ("\u0665\u0666" -> "56"); other characters unchanged
    (a superscript two is not a decimal digit: the checks refuse it)."""
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)


def identity(config: dict, protocol: int | None = None, canonical: bool = True) -> str:
    """The run_id of a configuration's fields under `protocol` (None: the current one): sha256 of
    every field and the protocol, floats by repr (so 0.2 == 0.2 exactly), the study fields only where
    they differ from their defaults. canonical=False hashes the values as given, as every version before the
    canonical spelling did (an older cache's or export's id of -0.0, say)."""
    d = {k: canonical_value(k, config[k], respell=canonical) for k in _FIELDS}
    d = {k: v for k, v in d.items() if STUDY_DEFAULTS.get(k, object()) != v}
    payload = json.dumps({"protocol": PROTOCOL if protocol is None else protocol, **d}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def with_pretraining(configs: list[RunConfig]) -> list[RunConfig]:
    """The configs with the pre-training runs their fine-tuning runs start from, those first: what a
    sweep queues, plans and times (a pre-training run is a cached run of its own)."""
    pre = [c.pretraining for c in configs if c.pretraining]
    return list({c.run_id: c for c in pre + list(configs)}.values())


def canonical_classes(text: str) -> str:
    """Digits as a config holds them: distinct, in increasing order ("9, 5,6" -> "569")."""
    return "".join(sorted(set(text))) if isinstance(text, str) and set(text) <= set("0123456789") else text


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def check(ok: bool, name: str, expected: str, got) -> None:
    if not ok:
        raise ValueError(f"{name} must be {expected}, got {got!r}")


def lr_per_layer(cfg: RunConfig, name: str) -> float:
    """The Adam learning rate of parameter `name` under the run's rule (and its schedule's constant),
    before the schedule's factor at each step (lr_factor)."""
    scale = LR_SCHEDULE_SCALE[cfg.lr_schedule] * cfg.lr_mult
    if cfg.lr_rule == "constant":
        return LR_CONSTANT * scale
    return LR_BASE / math.sqrt(arch.fan_in(name, cfg.width, cfg.arch)) * scale


def lr_factor(schedule: str, step: int, steps: int) -> float:
    """The schedule's multiplier on the lr at `step` (1-based) of a run of `steps` steps: 1 for
    "constant"; for "cosine", min(1, step / W) (1 + cos(pi (step - 1) / steps)) / 2 with W =
    ceil(WARMUP steps): a linear ramp over the first W steps, near 0 at the last (training/train.py
    computes the same on the device, one step at a time)."""
    if schedule == "constant":
        return 1.0
    return min(1.0, step / max(1, math.ceil(WARMUP * steps))) * 0.5 * (1.0 + math.cos(math.pi * (step - 1) / steps))
