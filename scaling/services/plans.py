"""Training plans: grids in the CLI's syntax, the quick sweep per device, what a plan costs here, and the runs
that would bracket the optimum or tune the learning rate."""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from scaling import fit
from scaling.core import arch, grid
from scaling.core.config import CURVE_POINTS, RunConfig, with_pretraining
from scaling.core.fmt import frac_label
from scaling.store import Store


@dataclass(frozen=True)
class GridSpec:
    """A training grid in the CLI's syntax (the Train page and the quick sweep)."""
    widths: str = "0:4"
    fractions: str = "1/64:1/8"
    seeds: str = "0:2"
    dropouts: str = "0,0.2"
    lr_mults: str = "1"
    dataset: str = "mnist"
    archs: str = "cnn"             # the study axes, in the CLI's syntax too (config.STUDY_DEFAULTS)
    label_noise: str = "0"
    classes: str = ""
    pretrain_classes: str = ""
    pretrain_fraction: str = "1"

    def configs(self) -> list[RunConfig]:
        """The grid's configs, with the pre-training runs its fine-tuning runs start from."""
        return with_pretraining(grid.expand(
            grid.width_steps("widths", self.widths), grid.fractions("fractions", self.fractions),
            grid.int_steps("seeds", self.seeds, 0, 2**31 - 1), grid.floats("dropout", self.dropouts, 0, 1, hi_open=True),
            grid.floats("lr multiplier", self.lr_mults, 1e-6, 1e6), dataset=self.dataset,
            archs=grid.strings("architecture", self.archs, arch.ARCHS),
            label_noises=grid.floats("label noise", self.label_noise, 0, 1, hi_open=True),
            classes=grid.digits("digits", self.classes),
            pretrain_classes=grid.digits("pre-training digits", self.pretrain_classes),
            pretrain_fraction=grid.fractions("pre-training fraction", self.pretrain_fraction)[0]))

    def label(self) -> str:
        """In words, ranges inclusive (the CLI's a:b excludes b; a caption beside a slider must not)."""
        w = grid.width_steps("widths", self.widths)
        sd = grid.int_steps("seeds", self.seeds, 0, 2**31 - 1)
        fr = grid.fractions("fractions", self.fractions)

        def span(v, fmt=str):
            return fmt(v[0]) if len(v) == 1 else f"{fmt(min(v))}–{fmt(max(v))}" if len(v) > 2 else \
                f"{fmt(v[0])}, {fmt(v[1])}"
        return (f"width steps {span(w)} · fractions {span(fr, frac_label)} · {len(sd)} seed{'s' * (len(sd) != 1)} "
                f"({span(sd)}) · dropout {self.dropouts.replace(',', ', ')} · lr ×{self.lr_mults.replace(',', ', ×')}"
                f" · {self.dataset}" + "".join(f" · {x}" for x in self._study_words()))

    def _study_words(self) -> list[str]:
        out = []
        if self.archs != "cnn":
            out.append(self.archs.upper().replace(",", ", "))
        if self.label_noise != "0":
            out.append(f"label noise {self.label_noise.replace(',', ', ')}")
        if self.classes:
            out.append(f"digits {self.classes}")
        if self.pretrain_classes:
            out.append(f"pre-trained on {self.pretrain_classes} ({self.pretrain_fraction} of them)")
        return out


LR_SCAN = (0.5, 1.0, 2.0)  # the multipliers a tuned learning rate needs at the least (the CLI's --lr-scan)

# Chosen so that the envelope and IsoFLOP estimators can answer on MNIST at dropout 0 and 0.2:
# widths 1..3 bracket the optimum at small budgets (where width 4 was the best of widths >= 4),
# and fractions up to all of MNIST give the budgets where larger widths win. The CPU grid (288
# runs, 6.8 TFLOP) trains in ~100 s from the CLI on a 2-core AMD EPYC with AVX-512, and both
# estimators answer at both dropouts (README, Definitions). The GPU grid is the exercise's (widths
# to 45, 3 seeds) with the same widths below 4 added.
QUICK_CPU = GridSpec(widths="-4:5", fractions="1/256:1", seeds="0:2", dropouts="0,0.2")
QUICK_GPU = GridSpec(widths="-4:8", fractions="1/128:1", seeds="0:3", dropouts="0,0.2")


def quick_grid(device: str) -> GridSpec:
    return QUICK_CPU if device == "cpu" else QUICK_GPU


# ---------------------------------------------------------------- what a run costs here
#
# A run's wall time on one device: wall ≈ k_w · (a + s·S + C/r_train + E/r_eval), with S its
# training steps (D / batch size), C its training FLOPs (3 × forward × D) and E its evaluation
# FLOPs (forward FLOPs per example × the 10,000 test images × the evaluation passes: 1, or every
# point of a validation curve). E is the same for every data fraction, so at the small fractions
# of a quick sweep it is most of the cost; s is what a step costs besides its arithmetic (kernel
# calls, gathering the batch, the threads meeting), which is most of the cost of the narrow widths
# (a width-1 model does ~1/100 of the FLOPs of a width-11 one, but takes ~1/3 of its time). A
# model of C alone (the one before) put a 288-run CPU sweep at 71 s that took 427 s. a is what a
# run costs besides (its share of loading the data, initialising and scheduling its stack). k_w
# corrects each width that has history here.

VAL_EXAMPLES = 10_000  # every run is scored on the whole test set (10k images in every data set here)
MIN_STACKS_FOR_RATES = 8  # stacks of this device needed to fit a, s, r_train and r_eval (fewer: defaults × k)
MIN_WIDTH_RUNS = 4        # runs of one width needed for its own correction k_w
# The machine as it is now: a shared box runs 2-4x slower while other jobs run (measured: the same
# grid's stacks took 3-14x longer at a load average of 15-19 than at 6 on 2 cores), so the model
# is scaled by how the last few stacks went against it.
RECENT_STACKS = 3

# No history on a device: a guess, replaced by a fit (or scaled) as soon as one stack lands here.
# CPU: training and evaluation at 60 GFLOP/s (the README measured 70 at width 11 on a 2-core AMD
# EPYC Zen 3, AVX2), the per-step cost set so that the CPU quick sweep comes to 427 s, the one
# end-to-end measurement of it on such a machine (issue 14: from the app's button, a browser on the
# same cores). CUDA: one stack holds up to 256 models, so a step's overhead is shared and small;
# the throughputs are set so that the exercise's 384-run grid comes to the 44 s an H100 took.
CPU_DEFAULT = (0.05, 4.5e-3, 6e10, 6e10)   # a (s), s (s per step), r_train, r_eval (FLOP/s)
GPU_DEFAULT = (0.02, 1e-5, 4e12, 8e12)


def eval_passes(cfg, curves: bool) -> int:
    """Passes over the test set a run makes: once at its end, or at each point of its validation
    curve (train._curve_steps: log-spaced steps, fewer when a run has few steps)."""
    if not curves:
        return 1
    n = max(math.ceil(cfg.examples / cfg.batch_size), 1)
    return len({round(float(x)) for x in np.logspace(0, math.log10(n), CURVE_POINTS)} | {n})


@dataclass(frozen=True)
class TimeModel:
    """Seconds a run takes on one device (see above), fitted to the runs trained here."""
    device: str
    fixed_s: float                # a
    step_s: float                 # s
    train_flops_per_s: float      # r_train
    eval_flops_per_s: float       # r_eval
    scale: float = 1.0            # measured over predicted, this device's whole history (1: none)
    width_scale: tuple = ()       # ((width_step, k_w), ...) for the widths with MIN_WIDTH_RUNS runs here
    recent: float = 1.0           # how much slower (>1) the last RECENT_STACKS stacks ran than the model said
    n_runs: int = 0               # runs behind the fit (0: the defaults)
    n_stacks: int = 0
    rates_fitted: bool = False    # a, r_train, r_eval fitted here (else the defaults, scaled)

    @property
    def curves(self) -> bool:
        return not self.device.startswith("cpu")  # the worker's default: curves on CUDA only

    def base_s(self, cfg, passes: int | None = None) -> float:
        p = eval_passes(cfg, self.curves) if passes is None else passes
        fwd = cfg.flops / (3.0 * cfg.examples)
        steps = math.ceil(cfg.examples / cfg.batch_size)
        return (self.fixed_s + self.step_s * steps + cfg.flops / self.train_flops_per_s
                + fwd * VAL_EXAMPLES * p / self.eval_flops_per_s)

    def run_s(self, cfg) -> float:
        return self.base_s(cfg) * dict(self.width_scale).get(cfg.width_step, self.scale) * self.recent

    def seconds(self, configs) -> float:
        return float(sum(self.run_s(c) for c in configs))

    def describe(self) -> str:
        """Where the estimate comes from, in words (for a help text)."""
        if not self.n_runs:
            return f"no runs trained on {self.device} yet: a default guess until some are"
        how = "its costs per run and per step and its throughputs fitted" if self.rates_fitted else "a default model scaled"
        return (f"{how} to the {self.n_runs} runs ({self.n_stacks} stacks) trained on {self.device}"
                + (f", corrected per width for width steps {', '.join(str(k) for k, _ in self.width_scale)}"
                   if self.width_scale else "")
                + (f", and scaled ×{self.recent:.2g} to how its last stacks went" if abs(self.recent - 1) > 0.05 else ""))


def _stacks(here: pd.DataFrame, passes: np.ndarray) -> pd.DataFrame:
    """The runs of one device as the stacks that trained them. A run's wall_s is its stack's wall
    time shared by compute, so only a stack's total is a measurement; the runs of one stack were
    written in one transaction (one created_at) and share a width. A group that joins two stacks
    still sums to their total, which is all the fit needs."""
    fwd = here["flops"].to_numpy(float) / (3.0 * here["examples"].to_numpy(float))
    df = pd.DataFrame({
        "stack": here["created_at"].astype(str).where(here["created_at"].notna(), here["run_id"]).to_numpy(),
        "at": here["created_at"].to_numpy(),
        "width_step": here["width_step"].to_numpy(int), "n": 1.0,
        "S": np.ceil(here["examples"].to_numpy(float) / here["batch_size"].to_numpy(float)),
        "C": here["flops"].to_numpy(float), "E": fwd * VAL_EXAMPLES * passes, "W": here["wall_s"].to_numpy(float)})
    return df.groupby(["stack", "width_step"], as_index=False).agg(
        at=("at", "max"), n=("n", "sum"), S=("S", "sum"), C=("C", "sum"), E=("E", "sum"), W=("W", "sum"))


def _predict(g: pd.DataFrame, a: float, s: float, rt: float, re: float) -> np.ndarray:
    return (a * g["n"] + s * g["S"] + g["C"] / rt + g["E"] / re).to_numpy(float)


def _fit_rates(g: pd.DataFrame) -> tuple[float, float, float, float] | None:
    """a, s, r_train, r_eval by non-negative least squares on relative errors (a 1 s stack and a
    100 s one count alike), or None when the stacks cannot tell the four apart."""
    from scipy.optimize import nnls

    X = g[["n", "S", "C", "E"]].to_numpy(float) / g["W"].to_numpy(float)[:, None]
    if len(g) < MIN_STACKS_FOR_RATES or np.linalg.matrix_rank(X) < 4:
        return None
    col = X.max(0)  # columns scaled to ~1: FLOPs are ~1e9 times a count of runs
    coef, _ = nnls(X / col, np.ones(len(g)))
    a, s, it, ie = coef / col
    if it <= 0 or ie <= 0:  # a throughput the data cannot see (say, evaluation never dominates)
        return None
    return float(a), float(s), float(1 / it), float(1 / ie)


def time_model(runs: pd.DataFrame, device_label: str, curves: pd.DataFrame | None = None) -> TimeModel:
    """What runs cost on this device, fitted to the runs trained here (imported runs were timed
    elsewhere and say nothing about this machine); the defaults when none were. `curves` (the
    store's) gives each run's evaluation passes; without it, the device's default is assumed."""
    gpu = not device_label.startswith("cpu")
    a, s, rt, re = GPU_DEFAULT if gpu else CPU_DEFAULT
    model = TimeModel(device_label, a, s, rt, re)
    if runs.empty:
        return model
    ok = (runs["device"] == device_label) & runs["wall_s"].notna() & (runs["wall_s"] > 0) & (runs["status"] != "failed")
    if "imported_from" in runs:
        ok &= runs["imported_from"].isna()
    here = runs[ok]
    if here.empty:
        return model
    if curves is not None and len(curves):
        counts = curves["run_id"].value_counts()
        passes = here["run_id"].map(counts).fillna(1).clip(lower=1).to_numpy(float)
    else:
        passes = np.array([eval_passes(_Shape(e, b), gpu) for e, b in zip(here["examples"], here["batch_size"])], float)
    g = _stacks(here, passes)
    rates = _fit_rates(g)
    if rates is not None:
        a, s, rt, re = rates
    pred = _predict(g, a, s, rt, re)
    scale = float(g["W"].sum() / pred.sum())
    by_w = g.assign(P=pred).groupby("width_step")[["n", "W", "P"]].sum()
    width_scale = tuple((int(k), float(r.W / r.P)) for k, r in by_w.iterrows() if r.n >= MIN_WIDTH_RUNS)
    k = g["width_step"].map(dict(width_scale)).fillna(scale).to_numpy(float)
    last = np.argsort(g["at"].to_numpy())[-RECENT_STACKS:] if g["at"].notna().all() else np.arange(len(g))
    recent = float(g["W"].to_numpy(float)[last].sum() / (pred * k)[last].sum())
    return TimeModel(device_label, a, s, rt, re, scale, width_scale, recent, len(here), len(g), rates is not None)


@dataclass(frozen=True)
class _Shape:  # what eval_passes reads of a run
    examples: int
    batch_size: int


@dataclass(frozen=True)
class Plan:
    configs: list
    cached: int
    new: int               # neither cached nor queued: what queueing the grid adds
    flops: float           # training compute of the runs to train
    est_s: float           # estimated wall time on this device
    todo: list = field(default_factory=list)
    queued: int = 0        # already waiting in the queue (or training), by this or another sweep
    basis: str = ""        # where est_s comes from, in words (TimeModel.describe)


def plan(store: Store, spec: GridSpec | list, runs: pd.DataFrame, device_label: str) -> Plan:
    """What training a grid (or a list of configs) would add here: cached, queued, new, cost."""
    configs = with_pretraining(spec.configs() if isinstance(spec, GridSpec) else list(spec))
    ids = [c.run_id for c in configs]
    cached, waiting = store.known_ids(ids)
    todo = [c for c in configs if c.run_id not in cached and c.run_id not in waiting]
    model = time_model(runs, device_label)
    return Plan(configs, len(cached), len(todo), float(sum(c.flops for c in todo)), model.seconds(todo), todo,
                len(waiting), model.describe())


def next_lr_configs(tuning, seeds) -> list[RunConfig]:
    """The runs that would tune the configurations not tuned yet (tuning.todo: the next learning-rate
    multiplier out on each side of the best one not tried), for every seed given."""
    out = []
    for r in tuning.todo.to_dict("records"):
        fixed = {k: r[k].item() if hasattr(r[k], "item") else r[k] for k in fit.TUNE_KEYS if k in r}
        out += [RunConfig(seed=int(s), lr_mult=float(r["next_mult"]), **fixed) for s in seeds]
    return out


# ---------------------------------------------------------------- runs that bracket the optimum

BRACKET_MIN_FRACTION = 1 / 1024  # 58 examples: below it a "run" is a handful of steps
BRACKET_STEPS = 2  # widths or fractions added per side: one alone rarely shows a minimum


@dataclass(frozen=True)
class Bracket:
    """The runs that would let the envelope and IsoFLOP estimators answer where the optimum sits
    on an edge of the grid, and why; `limit` says what no run inside the grid's bounds can fix."""
    configs: list
    widths: tuple          # width steps added
    fractions: tuple       # data fractions added
    why: tuple             # one line per edge found
    limit: tuple = ()

    @property
    def empty(self) -> bool:
        return not self.configs

    def describe(self) -> str:
        parts = []
        if self.widths:
            parts.append("widths " + ", ".join(str(arch.width(k)) for k in self.widths)
                         + f" (steps {', '.join(map(str, self.widths))})")
        if self.fractions:
            parts.append("fractions " + ", ".join(frac_label(f) for f in self.fractions))
        return " and ".join(parts)


def bracket(runs: pd.DataFrame, sel, nopts: dict) -> Bracket:
    """From the N_opt estimators that cannot answer on a selection (their skipped budgets), the
    configs to add: smaller widths where the smallest is best, larger where the largest is, and
    data fractions on both sides where too few widths reach a budget. Same family, seeds and
    learning-rate multipliers as the selection's runs."""
    from scaling.services.selection import LR_TUNED, select

    ok = select(runs, sel)
    ok = ok[ok["status"] == "ok"] if len(ok) else ok
    if ok.empty:
        return Bracket([], (), (), ())
    reasons = Counter()
    for nf in nopts.values():
        if not nf.ok and nf.skipped is not None:
            reasons.update(nf.skipped["reason"])
    have_w = sorted(int(k) for k in ok["width_step"].unique())
    have_f = sorted(float(f) for f in ok["data_fraction"].unique())
    valid = arch.width_steps()
    add_w, add_f, why, limit = [], [], [], []
    if reasons["minimum at the smallest width"]:
        below = [k for k in valid if k < have_w[0]][-BRACKET_STEPS:]
        add_w += below
        (why if below else limit).append(
            f"at {reasons['minimum at the smallest width']} budgets the smallest width ({arch.width(have_w[0])}) "
            "is best" + ("" if below else ", and no smaller width exists (1 is the smallest): the optimum lies "
                         "below this CNN family at those budgets"))
    if reasons["minimum at the largest width"]:
        above = [k for k in valid if k > have_w[-1]][:BRACKET_STEPS]
        add_w += above
        (why if above else limit).append(
            f"at {reasons['minimum at the largest width']} budgets the largest width ({arch.width(have_w[-1])}) is "
            "best" + ("" if above else f", and it is the largest the grid allows ({arch.width(valid[-1])})"))
    if reasons["fewer than 3 widths reach it"] or any(not nf.ok and nf.skipped is None for nf in nopts.values()):
        lo = [have_f[0] / 2 ** i for i in range(1, BRACKET_STEPS + 1) if have_f[0] / 2 ** i >= BRACKET_MIN_FRACTION]
        hi = [have_f[-1] * 2 ** i for i in range(1, BRACKET_STEPS + 1) if have_f[-1] * 2 ** i <= 1]
        add_f += lo + hi
        (why if lo or hi else limit).append(
            f"at {reasons['fewer than 3 widths reach it']} budgets fewer than 3 widths reach the compute"
            + ("" if lo or hi else f", and the fractions already span {frac_label(BRACKET_MIN_FRACTION)} to 1"))
    seeds = sorted(int(s) for s in ok["seed"].unique())
    lrs = sorted(float(m) for m in ok["lr_mult"].unique()) if sel.lr == LR_TUNED else [float(sel.lr)]
    widths, fractions = sorted(set(have_w + add_w)), sorted(set(have_f + add_f))
    family = dict(dataset=sel.dataset, dropout=sel.dropout, lr_rule=sel.lr_rule, epochs=sel.epochs,
                  batch_size=sel.batch_size)
    configs = [RunConfig(width_step=k, data_fraction=f, seed=s, lr_mult=m, **family)
               for k in widths for f in fractions for s in seeds for m in lrs
               if k in add_w or f in add_f]
    return Bracket(configs, tuple(sorted(set(add_w))), tuple(sorted(set(add_f))), tuple(why), tuple(limit))


def parse_count(text: str, lo: int, hi: int) -> int | str:
    """A whole number typed in a field, within [lo, hi]; otherwise the reason, in words (never
    rounded: '2.5' and '1e9' are refused, not read as 2 and 1)."""
    t = text.strip()
    if not t:
        return f"type a whole number from {lo} to {hi}"
    if not t.lstrip("+-").isdigit():
        return f"'{t}' is not a whole number (from {lo} to {hi})"
    n = int(t)
    if not lo <= n <= hi:
        return f"{n if len(t) <= 9 else t[:6] + '…'} is outside {lo} to {hi}"
    return n
