"""The seed noise of a selection's runs, measured from their seeds: how much ln L moves between
seeds of one configuration, and how much of that one seed's widths share.

A seed fixes the training subset that every width of that seed and fraction sees, so a run's
log-loss is modelled as ln L = mu(config) + u(seed, fraction) + e(run): u is shared by the widths
of one seed and fraction, e is the run's own. Both are estimated from the residuals about each
configuration's seed mean, r = ln L - mean over seeds, corrected for the mean's own share
(E[r^2] = (1 - 1/S)(su^2 + se^2); E[r r'] = (1 - 1/S) su^2 for two widths of one seed and fraction).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scaling.fit.runs import constant

# Where a run's seed shares its data subset: same seed and fraction; the rest of a configuration
# (dropout, lr, the study axes) must match too, so only the width differs between the two runs.
SHARED_BY = ("seed", "data_fraction")


@dataclass(frozen=True)
class SeedNoise:
    """Seed noise of log validation loss, measured from the runs' own seeds.

    Attributes
    ----------
    sd : float
        Standard deviation of ln L between seeds of one configuration (per run; NaN below 2 seeds).
    sd_shared : float
        The part of it shared by the widths of one seed and fraction (its data subset), as an SD.
    shared_share : float
        sd_shared**2 / sd**2: the share of the variance that one seed's widths have in common.
    n_configs : int
        Configurations with at least two seeds, the ones measured.
    n_runs : int
        Runs in those configurations.
    n_pairs : int
        Pairs of runs of one seed and fraction at two widths, the ones the shared part is read from.
    """

    sd: float
    sd_shared: float
    shared_share: float
    n_configs: int
    n_runs: int
    n_pairs: int

    @property
    def measured(self) -> bool:
        return self.n_configs > 0 and math.isfinite(self.sd)

    def describe(self) -> str:
        if not self.measured:
            return "seed noise: not measured (no configuration has two seeds)"
        shared = f", {self.shared_share:.0%} of it shared by one seed's widths" if math.isfinite(self.shared_share) else ""
        return (f"seed noise: SD of ln L {self.sd:.3f} between seeds{shared} "
                f"({self.n_configs} configurations, {self.n_runs} runs)")

    def to_dict(self) -> dict:
        def num(x):
            return None if not math.isfinite(x) else round(float(x), 6)
        return {"sd": num(self.sd), "sd_shared": num(self.sd_shared), "shared_share": num(self.shared_share),
                "n_configs": self.n_configs, "n_runs": self.n_runs, "n_pairs": self.n_pairs}


def seed_noise(runs: pd.DataFrame, config_keys: list[str]) -> SeedNoise:
    """The seed noise of `runs` (one family's finished runs: val_loss, seed and `config_keys`, which
    name a configuration without its seed and include width_step and data_fraction).

    In integer codes and numpy sums, not pandas groupbys on a dozen key columns: a selection's first
    draw waits for it."""
    ok = runs[np.isfinite(runs["val_loss"].to_numpy(float)) & (runs["val_loss"].to_numpy(float) > 0)]
    if "status" in ok:
        ok = ok[ok["status"] == "ok"]
    keys = [k for k in config_keys if k in ok.columns]  # a file from before a study axis existed has its default
    nan = float("nan")
    if ok.empty:
        return SeedNoise(nan, nan, nan, 0, 0, 0)
    # one value per run (configuration and seed): the mean of its rows' ln L
    run_of_row, first = _codes(ok, keys + ["seed"])
    n_run = int(run_of_row.max()) + 1
    lnL = np.bincount(run_of_row, np.log(ok["val_loss"].to_numpy(float)), n_run) / np.bincount(run_of_row, None, n_run)
    per_run = ok.iloc[first]
    cfg, _ = _codes(per_run, keys)
    S = np.bincount(cfg)[cfg]  # seeds of each run's configuration
    keep = S >= 2
    if not keep.any():
        return SeedNoise(nan, nan, nan, 0, 0, 0)
    cfg, S, lnL, per_run = cfg[keep], S[keep], lnL[keep], per_run.iloc[np.flatnonzero(keep)]
    n_cfg = int(cfg.max()) + 1
    r = lnL - (np.bincount(cfg, lnL, n_cfg) / np.maximum(np.bincount(cfg, None, n_cfg), 1))[cfg]
    used = np.unique(cfg)
    S_cfg = np.bincount(cfg, S, n_cfg) / np.maximum(np.bincount(cfg, None, n_cfg), 1)
    total = float((r ** 2).sum() / (S_cfg[used] - 1).sum())  # pooled within-configuration variance
    shared, pairs = _shared_variance(per_run, keys, r, S)
    sd = math.sqrt(total) if total >= 0 else nan
    shared = max(shared, 0.0) if math.isfinite(shared) else shared
    share = shared / total if total > 0 and math.isfinite(shared) else nan
    return SeedNoise(sd, math.sqrt(shared) if math.isfinite(shared) else shared, share, len(used), len(r), pairs)


def _codes(df: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(code of each row's combination of `cols`, 0..k-1; the first row of each code). NaN is a value."""
    if not cols:
        return np.zeros(len(df), np.int64), np.zeros(1 if len(df) else 0, np.int64)
    # a column of one value splits nothing: most of a family's keys
    each = np.stack([pd.factorize(df[c], use_na_sentinel=False)[0] for c in cols if not constant(df[c])]
                    or [np.zeros(len(df), np.int64)], 1)
    _, first, inverse = np.unique(each, axis=0, return_index=True, return_inverse=True)
    return inverse.ravel(), first


def _shared_variance(per_run: pd.DataFrame, keys: list[str], r: np.ndarray, S: np.ndarray) -> tuple[float, int]:
    """Mean of r r' over pairs of widths of one seed, fraction and rest of the configuration,
    each scaled by S/(S-1); NaN where there is no pair. Only pairs whose configurations have the
    same number of seeds, for which that scaling is exact."""
    rest = [k for k in keys if k not in ("width_step",) and k not in SHARED_BY]
    g, _ = _codes(per_run.assign(_S=S), rest + list(SHARED_BY) + ["_S"])
    n = np.bincount(g)
    s, s2, Sg = np.bincount(g, r), np.bincount(g, r ** 2), np.bincount(g, S) / np.maximum(n, 1)
    two = n >= 2
    count = int((n[two] * (n[two] - 1) // 2).sum())
    pair_sum = (s[two] ** 2 - s2[two]) / 2  # sum over i < j of r_i r_j
    total = float((pair_sum * Sg[two] / (Sg[two] - 1)).sum())
    return (total / count if count else float("nan")), count
