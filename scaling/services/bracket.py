"""Runs to add to a grid: those that would bracket the optimum, and those that would tune the learning rate."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pandas as pd

from scaling import fit
from scaling.core import arch
from scaling.core.config import RunConfig
from scaling.core.fmt import frac_label
from scaling.services.selection import LR_TUNED, select

BRACKET_MIN_FRACTION = 1 / 1024  # 58 examples: below it a "run" is a handful of steps
BRACKET_STEPS = 2  # widths or fractions added per side: one alone rarely shows a minimum


@dataclass(frozen=True)
class Bracket:
    """The runs that would let the envelope and IsoFLOP estimators answer where the optimum sits
    on an edge of the grid, and why.

    Attributes
    ----------
    configs : list of RunConfig
        The runs to add (empty: nothing to add, or nothing can be added).
    widths : tuple of int
        The width steps added.
    fractions : tuple of float
        The data fractions added.
    why : tuple of str
        One line per edge found that the added runs address.
    limit : tuple of str
        What no run inside the grid's bounds can fix, one line each.
    """
    configs: list
    widths: tuple
    fractions: tuple
    why: tuple
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
                  batch_size=sel.batch_size, lr_schedule=sel.lr_schedule)
    configs = [RunConfig(width_step=k, data_fraction=f, seed=s, lr_mult=m, **family)
               for k in widths for f in fractions for s in seeds for m in lrs
               if k in add_w or f in add_f]
    return Bracket(configs, tuple(sorted(set(add_w))), tuple(sorted(set(add_f))), tuple(why), tuple(limit))


def next_lr_cost(tuning, seeds) -> tuple[int, float]:
    """(runs, training FLOPs) of next_lr_configs(tuning, seeds), without building every run. A
    run's compute depends on neither its seed nor its multiplier, and it is FLOPs per example
    (the model's: everything but the data fraction) times examples (the data's: everything but
    the width), so a run per width and one per fraction price them all."""
    todo = tuning.todo
    keys = [k for k in fit.TUNE_KEYS if k in todo.columns]
    per_example, examples, total = {}, {}, 0.0
    for row in zip(*(todo[k].tolist() for k in keys)) if len(todo) else ():
        model = tuple(v for k, v in zip(keys, row) if k != "data_fraction")
        data = tuple(v for k, v in zip(keys, row) if k != "width_step")
        if model not in per_example or data not in examples:
            c = RunConfig(seed=0, lr_mult=1.0, **dict(zip(keys, row)))
            per_example.setdefault(model, c.flops / c.examples)
            examples.setdefault(data, c.examples)
        total += per_example[model] * examples[data]
    return len(todo) * len(seeds), total * len(seeds)


def next_lr_configs(tuning, seeds) -> list[RunConfig]:
    """The runs that would tune the configurations not tuned yet (tuning.todo: the next learning-rate
    multiplier out on each side of the best one not tried), for every seed given."""
    out = []
    for r in tuning.todo.to_dict("records"):
        fixed = {k: r[k].item() if hasattr(r[k], "item") else r[k] for k in fit.TUNE_KEYS if k in r}
        out += [RunConfig(seed=int(s), lr_mult=float(r["next_mult"]), **fixed) for s in seeds]
    return out
