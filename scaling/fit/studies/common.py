"""What the studies share: cached runs cleaned to one family, seed means per cell, and seed resamples for intervals."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd

from scaling.core.config import FAMILY_FIELDS, RECORDED_FAMILY_FIELDS, STUDY_DEFAULTS
from scaling.core.fmt import frac_label
from scaling.fit.intervals import Interval, bootstrap_interval
from scaling.fit.optim import one_blas_thread
from scaling.fit.power_law import fit_power_law
from scaling.fit.resample import Resampler
from scaling.fit.runs import _group_codes

# A study's family is the run family (config.FAMILY_FIELDS and the recorded ones) less what the study
# settles otherwise: its own axis varies and the other study axes are pinned to their defaults
# (_defaults), only the newest protocol is kept (_usable), and epochs joins as `extra` where the study
# does not vary it (every study but the bottleneck's).
FAMILY = tuple(k for k in (*FAMILY_FIELDS, *RECORDED_FAMILY_FIELDS)
               if k not in STUDY_DEFAULTS and k not in ("epochs", "protocol"))
MIN_FRACTIONS = 3   # a power law in D from fewer data sizes has no check on its form
N_BOOT = 200
LEVEL = 0.95


def _usable(runs: pd.DataFrame) -> pd.DataFrame:
    """ok runs of the newest protocol with a positive loss; the study axes filled with their defaults."""
    need = ["status", "val_loss", "params", "examples", "flops", "seed", "data_fraction", "width_step"]
    if runs is None or len(runs) == 0 or any(c not in runs.columns for c in need):
        return pd.DataFrame(columns=need + list(STUDY_DEFAULTS) + ["lr_mult", "epochs", "width"])
    df = runs[runs["status"].astype(str) == "ok"].copy()
    for k, v in STUDY_DEFAULTS.items():
        df[k] = df[k].fillna(v) if k in df.columns else v
    for k in ("classes", "pretrain_classes", "arch"):
        df[k] = df[k].astype(str)
    for k in ("val_loss", "params", "examples", "flops"):
        df[k] = pd.to_numeric(df[k], errors="coerce")
    good = np.isfinite(df[["val_loss", "params", "examples", "flops"]].to_numpy(float)).all(1)
    df = df[good & (df["val_loss"] > 0) & (df["params"] > 0) & (df["examples"] > 0)]
    if "protocol" in df.columns and len(df):
        df = df[df["protocol"] == df["protocol"].max()]  # older protocols are stale: never mixed in
    if "lr_mult" not in df.columns:
        df["lr_mult"] = 1.0
    if "epochs" not in df.columns:
        df["epochs"] = 1
    if "width" not in df.columns:
        df["width"] = df["width_step"]
    return df.reset_index(drop=True)


def _one_family(df: pd.DataFrame, extra: tuple = (), axis: str | None = None) -> tuple[pd.DataFrame, dict]:
    """The runs of one family (a study never averages across two): of the families cached, the one
    where the study's `axis` takes the most values (it is the family the study's sweep trained:
    another family with more runs, the exercise's grid or another study's, holds one setting of
    it at most), then the one with the most runs."""
    keys = [k for k in (*FAMILY, *extra) if k in df.columns]
    if not len(df) or not keys:
        return df.reset_index(drop=True), {}
    key_df = df[keys].astype(str)  # NaN-safe grouping
    groups = df.groupby([key_df[k] for k in keys], sort=False)
    score = {g: (idx[axis].nunique() if axis else 0, len(idx)) for g, idx in groups}
    best = max(score, key=score.get)
    pick = df.loc[groups.groups[best]]
    fam = {k: (lambda v: v.item() if hasattr(v, "item") else v)(pick[k].iloc[0]) for k in keys}
    return pick.reset_index(drop=True), fam


def _defaults(df: pd.DataFrame, *free: str) -> pd.DataFrame:
    """The runs at the default of every study axis except `free`."""
    keep = np.ones(len(df), bool)
    for k, v in STUDY_DEFAULTS.items():
        if k not in free:
            keep &= (df[k] == v).to_numpy()
    return df[keep].reset_index(drop=True)


class _Cells:
    """Seed means per cell (the study's configuration: a setting, a width, a data fraction), for the
    full data and for any resample (w: how many times each run is drawn). lr 'tuned' keeps in each
    cell the multiplier with the lowest mean among those drawn (fit.runs.Prepared does the same);
    a number keeps only that multiplier."""

    def __init__(self, df: pd.DataFrame, keys: list[str], lr="tuned"):
        if lr != "tuned":
            df = df[np.isclose(df["lr_mult"].to_numpy(float), float(lr))]
        self.runs = df.reset_index(drop=True)
        self.keys = list(keys)
        if len(self.runs) == 0:
            self.cells = pd.DataFrame(columns=self.keys + ["val_loss", "val_loss_std", "n_seeds"])
            self.n_cells = 0
            return
        cell, first = _group_codes(self.runs, self.keys)
        self.run_cfg, cfirst = _group_codes(self.runs, self.keys + ["lr_mult"])
        self.cfg_cell = cell[cfirst]
        self.n_cfg, self.n_cells = len(cfirst), len(first)
        self.loss = self.runs["val_loss"].to_numpy(float)
        cols = list(dict.fromkeys(self.keys + ["width", "params", "examples", "flops", "epochs"]))
        self.cells = self.runs.iloc[first][cols].reset_index(drop=True)
        mean, chosen = self._means(np.ones(len(self.runs)))
        self.cells["val_loss"] = mean
        # the spread of the chosen multiplier's seeds (NaN with one seed)
        on = chosen[self.run_cfg]
        g = pd.DataFrame({"c": cell[on], "l": self.loss[on]}).groupby("c")["l"]
        self.cells["val_loss_std"] = g.std().reindex(range(self.n_cells)).to_numpy()
        self.cells["n_seeds"] = g.size().reindex(range(self.n_cells)).fillna(0).astype(int).to_numpy()

    def _means(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cnt = np.bincount(self.run_cfg, weights=w, minlength=self.n_cfg)
        with np.errstate(invalid="ignore", divide="ignore"):
            m = np.bincount(self.run_cfg, weights=w * self.loss, minlength=self.n_cfg) / cnt
        best = np.full(self.n_cells, np.inf)
        drawn = cnt > 0
        np.minimum.at(best, self.cfg_cell[drawn], m[drawn])
        chosen = drawn & (m == best[self.cfg_cell])
        best[~np.isfinite(best)] = np.nan
        return best, chosen

    def means(self, w: np.ndarray) -> np.ndarray:
        return self._means(w)[0]


class _SideDraws:
    """One resample of a study whose sides (the values of its axis) are each resampled on their own, as
    fit.analysis resamples one selection (Compare's path): a Resampler per side, each from its own
    generator seeded alike. Sides with the same seeds and data fractions (the common range) draw the
    same seeds, so they are compared on paired draws; a side's draws, and so its interval, are those
    Compare gives that side's runs alone."""

    def __init__(self, runs: pd.DataFrame, side: str | None, seed: int):
        values = list(dict.fromkeys(runs[side])) if side else [None]
        self.rows = {v: (np.flatnonzero((runs[side] == v).to_numpy()) if side else np.arange(len(runs))) for v in values}
        self.draws = {v: Resampler(SimpleNamespace(runs=runs.iloc[i].reset_index(drop=True)))
                      for v, i in self.rows.items()}
        self.rngs = {v: np.random.default_rng(seed) for v in values}
        self.n = len(runs)

    def weights(self) -> np.ndarray:
        w = np.zeros(self.n)
        for v, i in self.rows.items():
            w[i] = self.draws[v].weights(self.rngs[v])
        return w

    def of(self, name) -> Resampler:
        """The draw an estimate's interval is read with: its side's (a name ending in a side's value),
        else the one that widens least (an estimate of several sides: a ratio, a difference)."""
        if isinstance(name, tuple) and len(name) > 1 and any(_same(name[-1], v) for v in self.draws):
            return next(d for v, d in self.draws.items() if _same(name[-1], v))
        return min(self.draws.values(), key=lambda d: d.inflate)


def _same(a, b) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


@one_blas_thread()
def _resample(cells: _Cells, estimate, point: dict, n_boot: int, seed: int, side: str | None = None) -> tuple[dict, dict]:
    """Intervals (name -> Interval) and samples of every finite scalar of `point`, re-estimated on
    n_boot seed resamples; a resample whose estimate refuses (ValueError) or lacks a name is NaN there.
    `side`: the study's axis, each of whose values is resampled on its own (_SideDraws)."""
    names = [k for k, v in point.items() if isinstance(v, (int, float)) and math.isfinite(v)]
    samples = {k: np.full(n_boot, np.nan) for k in names}
    if n_boot <= 0 or not names or len(cells.runs) == 0:
        return {}, samples
    draws = _SideDraws(cells.runs, side, seed)
    for i in range(n_boot):
        try:
            r = estimate(cells.means(draws.weights()))
        except ValueError:
            continue
        for k in names:
            samples[k][i] = r.get(k, np.nan)
    intervals = {}
    for k in names:
        draw = draws.of(k)
        intervals[k] = (_scale_interval(samples[k], point[k], draw) if _is_scale(k) else
                        bootstrap_interval(samples[k], point[k], LEVEL, "percentile", draw.scheme, draw.inflate))
    return intervals, samples


def common_range(runs: pd.DataFrame, axis: str) -> tuple[pd.DataFrame, str]:
    """The runs inside the width steps and data fractions that every value of `axis` has (in the family
    a study of that axis picks: _one_family), so that a study compares like with like; and what was
    left out, in words ('' when nothing was)."""
    use, _ = _one_family(_defaults(_usable(runs), axis), ("epochs",), axis=axis)
    if axis not in use.columns or use[axis].nunique() < 2:
        return runs, ""
    g = use.groupby(use[axis].astype(str))
    w = (int(g["width_step"].min().max()), int(g["width_step"].max().min()))
    f = (float(g["data_fraction"].min().max()), float(g["data_fraction"].max().min()))
    if w[0] > w[1] or f[0] > f[1]:
        return runs, "its sides share no range of widths and data fractions: each is fitted on its own runs"
    ws = pd.to_numeric(runs["width_step"], errors="coerce")
    fr = pd.to_numeric(runs["data_fraction"], errors="coerce")
    inside = ws.between(*w) & fr.between(f[0] * (1 - 1e-9), f[1] * (1 + 1e-9))
    out = use[~(use["width_step"].between(*w) & use["data_fraction"].between(f[0] * (1 - 1e-9), f[1] * (1 + 1e-9)))]
    if not len(out):
        return runs, ""
    return runs[inside.to_numpy()], (f"compared on the range every side has, width steps {w[0]}–{w[1]} and data "
                                     f"fractions {frac_label(f[0])}–{frac_label(f[1])} ({len(out)} runs outside it "
                                     "left out)")


def _is_scale(name) -> bool:
    """A positive scale (the transfer law's k, a plateau's N_p, the ratio p of two exponents): its
    interval is made, and widened, in log space, where its resamples are near symmetric and a
    widening cannot cross zero."""
    return name in ("k", "p") or (isinstance(name, tuple) and name[0] == "N_p")


def _scale_interval(s: np.ndarray, estimate: float, draw) -> Interval:
    with np.errstate(invalid="ignore", divide="ignore"):
        logs = np.where(s > 0, np.log(s), np.nan)
    iv = bootstrap_interval(logs, math.log(estimate) if estimate > 0 else math.nan, LEVEL, "percentile",
                            draw.scheme, draw.inflate)
    return Interval(math.exp(iv.lo), math.exp(iv.hi), iv.n_boot, iv.n_failed, iv.level, f"{iv.method} (log)", iv.scheme)


def _law(x: np.ndarray, y: np.ndarray):
    """A = x^-alpha fitted to the finite points, or None when they cannot give one."""
    ok = np.isfinite(x) & np.isfinite(y) & (y > 0)
    if ok.sum() < MIN_FRACTIONS or np.unique(x[ok]).size < MIN_FRACTIONS:
        return None
    try:
        return fit_power_law(x[ok], y[ok])
    except ValueError:
        return None
