"""Training plans: grids in the CLI's syntax, the quick sweep per device, what a plan costs here, and the runs
that would bracket the optimum or tune the learning rate."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import arch, grid
from ..config import RunConfig
from ..store import Store
from .fmt import frac_label


@dataclass(frozen=True)
class GridSpec:
    """A training grid in the CLI's syntax (the Train page and the quick sweep)."""
    widths: str = "0:4"
    fractions: str = "1/64:1/8"
    seeds: str = "0:2"
    dropouts: str = "0,0.2"
    lr_mults: str = "1"
    dataset: str = "mnist"

    def configs(self) -> list[RunConfig]:
        return grid.expand(
            grid.width_steps("widths", self.widths), grid.fractions("fractions", self.fractions),
            grid.int_steps("seeds", self.seeds, 0, 2**31 - 1), grid.floats("dropout", self.dropouts, 0, 1, hi_open=True),
            grid.floats("lr multiplier", self.lr_mults, 1e-6, 1e6), dataset=self.dataset)

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
                f" · {self.dataset}")


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


# Per-run cost on a device with no history (replaced by a fit once 4 runs are cached here): a
# fixed part (evaluation on the 10k validation images, data slicing) plus training FLOPs at a
# throughput. CPU: measured 0.16 s + 137 GFLOP/s on a 2-core AMD EPYC with AVX-512; the guess is
# half that speed, since AVX2-only processors run the C kernels about 2x slower.
CPU_FIXED_S, CPU_FLOPS_PER_S = 0.15, 7e10
GPU_FIXED_S, GPU_FLOPS_PER_S = 0.05, 2e12


def time_model(runs: pd.DataFrame, device_label: str) -> tuple[float, float]:
    """(fixed seconds per run, FLOP/s) for this device: a least-squares fit of wall_s = t0 + C/r on
    the cached runs trained here, or the defaults when there are too few."""
    gpu = not device_label.startswith("cpu")
    t0, rate = (GPU_FIXED_S, GPU_FLOPS_PER_S) if gpu else (CPU_FIXED_S, CPU_FLOPS_PER_S)
    if runs.empty:
        return t0, rate
    here = runs[(runs["device"] == device_label) & runs["wall_s"].notna() & (runs["wall_s"] > 0)]
    if len(here) < 4 or here["flops"].nunique() < 2:
        return t0, rate
    C, W = here["flops"].to_numpy(float), here["wall_s"].to_numpy(float)
    (a, b), *_ = np.linalg.lstsq(np.c_[np.ones(len(here)), C], W, rcond=None)
    if a < 0 or b <= 0:  # noisy small runs: no fixed part, the average throughput
        return 0.0, float(C.sum() / W.sum())
    return float(a), float(1 / b)


@dataclass(frozen=True)
class Plan:
    configs: list
    cached: int
    new: int               # neither cached nor queued: what queueing the grid adds
    flops: float           # training compute of the runs to train
    est_s: float           # estimated wall time on this device
    todo: list = field(default_factory=list)
    queued: int = 0        # already waiting in the queue (or training), by this or another sweep


def plan(store: Store, spec: GridSpec | list, runs: pd.DataFrame, device_label: str) -> Plan:
    """What training a grid (or a list of configs) would add here: cached, queued, new, cost."""
    configs = spec.configs() if isinstance(spec, GridSpec) else list(spec)
    ids = [c.run_id for c in configs]
    cached = store.cached_ids(ids)
    waiting = store.queued_ids(ids) - cached
    todo = [c for c in configs if c.run_id not in cached and c.run_id not in waiting]
    t0, rate = time_model(runs, device_label)
    est = sum(t0 + c.flops / rate for c in todo)
    return Plan(configs, len(cached), len(todo), float(sum(c.flops for c in todo)), est, todo, len(waiting))


def next_lr_configs(tuning, seeds) -> list[RunConfig]:
    """The runs that would tune the configurations not tuned yet (tuning.todo: the next learning-rate
    multiplier out on each side of the best one not tried), for every seed given."""
    keys = ("dataset", "width_step", "dropout", "data_fraction", "lr_rule", "epochs", "batch_size")
    out = []
    for r in tuning.todo.to_dict("records"):
        fixed = {k: r[k].item() if hasattr(r[k], "item") else r[k] for k in keys}
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
    from .selection import LR_TUNED, select

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
