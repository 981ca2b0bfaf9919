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
    name a configuration without its seed and include width_step and data_fraction)."""
    ok = runs[np.isfinite(runs["val_loss"].to_numpy(float)) & (runs["val_loss"].to_numpy(float) > 0)]
    if "status" in ok:
        ok = ok[ok["status"] == "ok"]
    keys = list(config_keys)
    df = ok[keys + ["seed"]].copy()
    df["lnL"] = np.log(ok["val_loss"].to_numpy(float))
    df = df.groupby(keys + ["seed"], dropna=False, as_index=False)["lnL"].mean()  # one value per run
    g = df.groupby(keys, dropna=False)["lnL"]
    df["S"] = g.transform("size")
    df = df[df["S"] >= 2].copy()
    if df.empty:
        nan = float("nan")
        return SeedNoise(nan, nan, nan, 0, 0, 0)
    df["r"] = df["lnL"] - df.groupby(keys, dropna=False)["lnL"].transform("mean")
    n_configs = df.groupby(keys, dropna=False).ngroups
    total = _pooled_variance(df, keys)
    shared, pairs = _shared_variance(df, keys)
    sd = math.sqrt(total) if total >= 0 else float("nan")
    shared = max(shared, 0.0) if math.isfinite(shared) else shared
    share = shared / total if total > 0 and math.isfinite(shared) else float("nan")
    return SeedNoise(sd, math.sqrt(shared) if math.isfinite(shared) else shared, share, n_configs, len(df), pairs)


def _pooled_variance(df: pd.DataFrame, keys: list[str]) -> float:
    """sum r^2 over sum (S - 1): the pooled within-configuration variance (unbiased for any S)."""
    per = df.groupby(keys, dropna=False).agg(ss=("r", lambda r: float((r ** 2).sum())), S=("S", "first"))
    return float(per["ss"].sum() / (per["S"] - 1).sum())


def _shared_variance(df: pd.DataFrame, keys: list[str]) -> tuple[float, int]:
    """Mean of r r' over pairs of widths of one seed, fraction and rest of the configuration,
    each scaled by S/(S-1); NaN where there is no pair. Only pairs whose configurations have the
    same number of seeds, for which that scaling is exact."""
    rest = [k for k in keys if k not in ("width_step",) and k not in SHARED_BY]
    group = rest + list(SHARED_BY) + ["S"]
    total, count = 0.0, 0
    for _, g in df.groupby(group, dropna=False):
        r = g["r"].to_numpy(float)
        if len(r) < 2:
            continue
        S = float(g["S"].iloc[0])
        pair_sum = (r.sum() ** 2 - (r ** 2).sum()) / 2  # sum over i < j of r_i r_j
        n = len(r) * (len(r) - 1) // 2
        total += pair_sum * S / (S - 1)
        count += n
    return (total / count if count else float("nan")), count
