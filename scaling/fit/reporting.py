"""How optimistic the reported numbers are when the choices behind them (the learning rate per
size, the frontier) are made on the same test images they are scored on.

Every run records its loss on the even- and odd-numbered halves of the test set. Choosing on one
half and scoring on the other is an honest score of a choice; choosing and scoring on the same
half is what the full analysis does (on twice the images, so its optimism is smaller than the
one measured here: this is an upper bound). Both directions are measured and averaged.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scaling.fit.power_law import fit_power_law
from scaling.fit.runs import CONFIG_KEYS, TUNE_KEYS, frontier_mask, with_study_defaults
from scaling.fit.serialize import jsonable

HALVES = ("val_loss_even", "val_loss_odd")


@dataclass(frozen=True)
class ReportingBias:
    """How much choosing on the reported test images flatters the reported numbers.

    Attributes
    ----------
    n_runs : int
        Runs with their loss recorded on both halves of the test set.
    n_configurations : int
        Configurations (CONFIG_KEYS) those runs make.
    alpha_same : float
        alpha_C with the choices (lr per size, frontier) made and scored on one half; mean of both halves.
    alpha_split : float
        alpha_C with the choices made on one half and scored on the other; mean of both directions.
    loss_optimism : float
        Mean ln(L_split / L_same) of the two frontier laws over their shared compute range (0.01: the
        same-half loss about 1% lower).
    lr_changed : float
        Share of sizes whose best lr differs between the halves (0 with a fixed lr).
    frontier_changed : float
        Share of frontier configurations that differ between the halves.
    """
    n_runs: int
    n_configurations: int
    alpha_same: float
    alpha_split: float
    loss_optimism: float
    lr_changed: float
    frontier_changed: float

    def to_dict(self) -> dict:
        return jsonable(self.__dict__)

    def format(self) -> str:
        return (f"choosing on the reported images: {self.n_runs} runs, {self.n_configurations} configurations; "
                f"alpha_C {self.alpha_same:.4f} chosen and scored on one half, {self.alpha_split:.4f} chosen on "
                f"the other (difference {self.alpha_same - self.alpha_split:+.4f}); frontier loss optimistic by "
                f"{self.loss_optimism:.2%}; best lr differs between halves at {self.lr_changed:.0%} of sizes, "
                f"frontier at {self.frontier_changed:.0%} of its configurations")


def _choose(cfg: pd.DataFrame, on: str, lr) -> tuple[pd.DataFrame, np.ndarray]:
    """The configurations kept (lr per size chosen on column `on`) and the frontier mask by `on`."""
    if lr == "tuned":
        cfg = cfg.loc[cfg.groupby(TUNE_KEYS, dropna=False)[on].idxmin()]
    else:
        cfg = cfg[np.isclose(cfg["lr_mult"], float(lr))]
    cfg = cfg.reset_index(drop=True)
    return cfg, frontier_mask(cfg["flops"].to_numpy(float), cfg[on].to_numpy(float))


def reporting_bias(runs: pd.DataFrame, lr="tuned") -> ReportingBias:
    """Measure the optimism of choosing on the reported set (see the module's note); ValueError
    when too few runs recorded both halves."""
    missing = [c for c in HALVES if c not in runs]
    runs = with_study_defaults(runs)
    ok = runs[(runs["status"] == "ok")] if not missing else runs.iloc[:0]
    ok = ok.dropna(subset=list(HALVES)) if len(ok) else ok
    if len(ok) == 0:
        raise ValueError("no run records its loss on each half of the test set (runs trained before schema 3 "
                         "do not): train a sweep with this version first")
    cfg = ok.groupby(CONFIG_KEYS, dropna=False).agg(flops=("flops", "mean"), **{h: (h, "mean") for h in HALVES})
    cfg = cfg.reset_index()
    alphas, optimism, lr_diff = {"same": [], "split": []}, [], []
    chosen = {h: _choose(cfg, h, lr) for h in HALVES}
    for pick, score in (HALVES, HALVES[::-1]):
        same_cfg, same_fm = chosen[score]
        split_cfg, split_fm = chosen[pick]
        same = fit_power_law(same_cfg["flops"][same_fm], same_cfg[score][same_fm])
        split = fit_power_law(split_cfg["flops"][split_fm], split_cfg[score][split_fm])
        alphas["same"].append(same.alpha)
        alphas["split"].append(split.alpha)
        lo, hi = max(same.x_range[0], split.x_range[0]), min(same.x_range[1], split.x_range[1])
        c = np.geomspace(lo, hi, 50) if hi > lo else np.array([lo])
        optimism.append(float(np.mean(np.log(split.predict(c) / same.predict(c)))))
    a, b = chosen[HALVES[0]][0], chosen[HALVES[1]][0]
    if lr == "tuned":
        ka, kb = a.set_index(TUNE_KEYS)["lr_mult"], b.set_index(TUNE_KEYS)["lr_mult"]
        lr_diff = float((ka != kb.reindex(ka.index)).mean())
    else:
        lr_diff = 0.0
    fa = set(map(tuple, a[chosen[HALVES[0]][1]][CONFIG_KEYS].astype(str).to_numpy()))
    fb = set(map(tuple, b[chosen[HALVES[1]][1]][CONFIG_KEYS].astype(str).to_numpy()))
    front = 1 - len(fa & fb) / max(len(fa | fb), 1)
    return ReportingBias(len(ok), len(cfg), float(np.mean(alphas["same"])), float(np.mean(alphas["split"])),
                         float(np.mean(optimism)), lr_diff, float(front) if math.isfinite(front) else math.nan)
