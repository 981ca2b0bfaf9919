"""From cached runs to fit-ready points: exclusions, learning-rate choice, seed means, frontier.

A configuration is (dataset, width_step, dropout, data_fraction, lr_rule, lr_mult, epochs,
batch_size); its seeds are averaged. The bootstrap needs the same aggregation hundreds of times,
so `Prepared` turns the runs into integer codes once and then aggregates any resample (given as
per-run counts) with np.bincount; `aggregate` uses the same path with counts 1.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scaling.core.config import FAMILY_FIELDS, RECORDED_FAMILY_FIELDS, STUDY_DEFAULTS
from scaling.fit.serialize import jsonable

# The study axes (label noise, architecture, digits, pre-training) are part of a configuration and
# of its family; a table without them (an older CSV, a synthetic sweep) has their defaults.
STUDY_KEYS = list(STUDY_DEFAULTS)
# A configuration: one family (config.FAMILY_FIELDS) at one width, data fraction and lr multiplier;
# its seeds are averaged. TUNE_KEYS: the configurations among which the lr multiplier is chosen.
CONFIG_KEYS = ["dataset", "width_step", "dropout", "data_fraction", "lr_rule", "lr_mult",
               "epochs", "batch_size", *STUDY_KEYS]
TUNE_KEYS = [k for k in CONFIG_KEYS if k != "lr_mult"]
REQUIRED = ["run_id", *[k for k in CONFIG_KEYS if k not in STUDY_KEYS], "width", "params", "examples", "flops",
            "val_loss", "status"]


def with_study_defaults(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs with every study axis they lack added at its default (the table itself untouched)."""
    missing = {k: v for k, v in STUDY_DEFAULTS.items() if k not in runs.columns}
    return runs.assign(**missing) if missing else runs


@dataclass(frozen=True)
class ComputeLaw:
    """How training compute relates to N and D in this data, measured rather than assumed.

    C = 3 x forward FLOPs x D, and forward FLOPs of this CNN family are not 2N per example:
    c_per = median C/(N D) is the constant of C = c_per N D, and the fit C = kappa N^gamma D
    captures the drift of FLOPs per parameter with width (gamma = 1 when C is proportional
    to N D). N_opt from L(N, D) uses the fitted law.

    Attributes
    ----------
    c_per : float
        Median C/(N D) over the configurations: FLOPs per parameter per example seen (C = 6 N D
        would make it 6).
    kappa : float
        Coefficient of the fit C = kappa N^gamma D (least squares of ln(C/D) on ln N).
    gamma : float
        Exponent of N in that fit (1 with a single width).
    """
    c_per: float
    kappa: float
    gamma: float

    def to_dict(self) -> dict:
        return jsonable(dataclasses.asdict(self))


def compute_law(N: np.ndarray, D: np.ndarray, C: np.ndarray) -> ComputeLaw:
    if N.size == 0:
        return ComputeLaw(math.nan, math.nan, math.nan)
    c_per = float(np.median(C / (N * D)))
    if np.unique(N).size < 2:
        return ComputeLaw(c_per, c_per, 1.0)
    gamma, ln_kappa = np.polyfit(np.log(N), np.log(C / D), 1)
    return ComputeLaw(c_per, float(np.exp(ln_kappa)), float(gamma))


def _check_columns(df: pd.DataFrame, needed, what: str) -> None:
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"{what} is missing columns: {', '.join(missing)}")


def _group_codes(df: pd.DataFrame, keys) -> tuple[np.ndarray, np.ndarray]:
    """Group number of each row (groups sorted by key) and the first row of each group.

    Same as groupby(keys).ngroup(), without its overhead: factorize each column, combine the codes.
    """
    code = np.zeros(len(df), np.int64)
    for k in keys:
        if constant(df[k]):  # one value splits nothing: most keys within one family
            continue
        c, u = pd.factorize(df[k], sort=True)
        code = code * (len(u) + 1) + (c + 1)      # +1: missing values (-1) get their own code
    _, first, inv = np.unique(code, return_index=True, return_inverse=True)
    return inv.ravel(), first


def constant(col: pd.Series) -> bool:
    """Whether every value of col equals its first, which is not missing (cheaper than factorizing)."""
    v = col.to_numpy()
    if not len(v):
        return True
    first = v[0]
    try:
        return not pd.isna(first) and bool((v == first).all())
    except TypeError:  # a missing value further on (pd.NA) has no truth value: not constant
        return False


class Prepared:
    """Runs of one selection as arrays, ready to aggregate any bootstrap resample quickly.

    Attributes
    ----------
    runs : DataFrame
        The ok runs with a positive loss (and with lr a number, only that multiplier's), renumbered.
    lr : str or float
        'tuned' or the multiplier kept.
    excluded : dict
        Status (or 'bad_loss') -> number of runs left out.
    n_total : int
        Runs given, excluded ones included.
    cfg : DataFrame
        One row per configuration (CONFIG_KEYS and the recorded family fields present): width, and
        params, examples and flops averaged over its runs.
    run_cfg : ndarray
        Configuration index of each run.
    n_cfg : int
        Configurations.
    cfg_tune : ndarray
        Tuning group of each configuration: the configurations that differ only in lr_mult share one.
    family_keys : list of str
        The fields that split runs into families (config.FAMILY_FIELDS and the recorded ones present).
    fixed_keys : frozenset of str
        The configuration keys with one value in all these runs (most of a family's): they split nothing.
    n_families : int
        Families among the configurations (fits need one: check_single_family).
    loss : ndarray
        Validation loss of each run.
    N, D, C : ndarray
        Parameters, examples seen and training FLOPs of each configuration.
    model : ndarray
        Width step of each configuration.
    compute : ComputeLaw
        How C relates to N and D over the configurations.
    has_curves : bool
        Whether validation curves were given for these runs (then curve_points draws on them).
    """

    def __init__(self, runs: pd.DataFrame, curves: pd.DataFrame | None = None, lr="tuned"):
        _check_columns(runs, REQUIRED, "runs")
        runs = with_study_defaults(runs)
        status = runs["status"].astype(str)
        self.excluded = {str(k): int(v) for k, v in status[status != "ok"].value_counts().items()}
        is_ok = (status == "ok").to_numpy()
        ok = runs if is_ok.all() else runs[is_ok]  # a copy of every column only where some are left out
        for col in ["params", "examples", "flops"]:
            v = pd.to_numeric(ok[col], errors="coerce").to_numpy(dtype=float)
            if not (np.isfinite(v) & (v > 0)).all():
                raise ValueError(f"runs column '{col}' has missing, non-numeric or non-positive "
                                 f"values in runs with status ok")
        # A run marked ok whose loss is not a positive number cannot be fitted in log space;
        # it is excluded and counted rather than allowed to poison every mean.
        loss = pd.to_numeric(ok["val_loss"], errors="coerce").to_numpy(dtype=float)
        bad = ~(np.isfinite(loss) & (loss > 0))
        if bad.any():
            self.excluded["bad_loss"] = int(bad.sum())
            ok = ok[~bad]
        if lr != "tuned":
            try:
                lr = float(lr)
            except (TypeError, ValueError):
                raise ValueError(f"lr must be 'tuned' or a number, got {lr!r}") from None
            keep = np.isclose(ok["lr_mult"].to_numpy(dtype=float), lr)
            if not keep.any() and len(ok):
                have = sorted(set(ok["lr_mult"].astype(float)))
                raise ValueError(f"no runs with lr_mult={lr:g}; cached multipliers: {have}")
            ok = ok[keep]
        self.lr = lr
        self.runs = ok.reset_index(drop=True)
        self.n_total = len(runs)
        n = len(ok)
        # a family's recorded fields (precision, protocol) split configurations too, where the runs have them
        keys = CONFIG_KEYS + [k for k in RECORDED_FAMILY_FIELDS if k in ok.columns]
        self.family_keys = list(FAMILY_FIELDS) + keys[len(CONFIG_KEYS):]
        # keys of one value split nothing: found once here, left out of every grouping below
        self.fixed_keys = frozenset(k for k in keys if n and constant(ok[k]))
        vary = [k for k in keys if k not in self.fixed_keys]
        if n == 0:
            self.run_cfg = np.zeros(0, int)
            self.cfg = pd.DataFrame(columns=keys + ["width", "params", "examples", "flops"])
        else:
            self.run_cfg, first = _group_codes(ok, vary)
            self.cfg = ok[keys + ["width"]].iloc[first].reset_index(drop=True)
            cnt = np.bincount(self.run_cfg)
            for col in ["params", "examples", "flops"]:
                v = ok[col].to_numpy(dtype=float)
                self.cfg[col] = np.bincount(self.run_cfg, weights=v) / cnt
        self.n_cfg = len(self.cfg)
        tune_keys = [k for k in vary if k != "lr_mult"]
        self.cfg_tune = _group_codes(self.cfg, tune_keys)[0] if self.n_cfg else np.zeros(0, int)
        fam = [k for k in self.family_keys if k not in self.fixed_keys]
        self.n_families = len(_group_codes(self.cfg, fam)[1]) if self.n_cfg else 0
        self.loss = ok["val_loss"].to_numpy(dtype=float)
        self.N = self.cfg["params"].to_numpy(dtype=float)
        self.D = self.cfg["examples"].to_numpy(dtype=float)
        self.C = self.cfg["flops"].to_numpy(dtype=float)
        self.model = self.cfg["width_step"].to_numpy()
        self.compute = compute_law(self.N, self.D, self.C)
        self._prepare_curves(curves)

    def _prepare_curves(self, curves):
        self.has_curves = curves is not None and len(curves) > 0 and self.n_cfg > 0
        if not self.has_curves:
            return
        _check_columns(curves, ["run_id", "examples", "flops", "val_loss"], "curves")
        pos = pd.Series(np.arange(len(self.runs)), index=self.runs["run_id"].astype(str))
        cv = curves[curves["run_id"].astype(str).isin(pos.index)]
        lv = pd.to_numeric(cv["val_loss"], errors="coerce").to_numpy(dtype=float)
        fl = pd.to_numeric(cv["flops"], errors="coerce").to_numpy(dtype=float)
        cv = cv[np.isfinite(lv) & (lv > 0) & np.isfinite(fl) & (fl > 0)]
        self.curve_run = pos[cv["run_id"].astype(str)].to_numpy()
        cfg = self.run_cfg[self.curve_run]
        # seeds of a configuration record their curves at the same moments: average per moment
        key = pd.DataFrame({"c": cfg, "e": cv["examples"].to_numpy()})
        self.curve_grp = key.groupby(["c", "e"], sort=True).ngroup().to_numpy()
        g = pd.DataFrame({"g": self.curve_grp, "c": cfg, "f": cv["flops"].to_numpy(float)})
        g = g.groupby("g", sort=True).agg(c=("c", "first"), f=("f", "mean"))
        self.grp_cfg, self.grp_C = g["c"].to_numpy(), g["f"].to_numpy()
        self.curve_loss = cv["val_loss"].to_numpy(dtype=float)
        self.has_curves = len(self.curve_loss) > 0

    # -- aggregation of one resample (w = how many times each run is drawn) -----------------

    def select(self, w: np.ndarray):
        """Per-configuration mean loss and the mask of configurations used (lr tuned or fixed)."""
        cnt = np.bincount(self.run_cfg, weights=w, minlength=self.n_cfg)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.bincount(self.run_cfg, weights=w * self.loss, minlength=self.n_cfg) / cnt
        use = cnt > 0
        if self.lr == "tuned" and use.any():
            # per tuning group, keep the multiplier with the lowest mean loss among those drawn
            idx = np.flatnonzero(use)
            order = idx[np.lexsort((mean[idx], self.cfg_tune[idx]))]
            first = np.r_[True, np.diff(self.cfg_tune[order]) != 0]
            use = np.zeros(self.n_cfg, bool)
            use[order[first]] = True
        return mean, use, cnt

    def curve_points(self, w: np.ndarray, use: np.ndarray):
        """(config index, C, mean loss) of recorded curve points for the used configurations."""
        if not self.has_curves:
            return np.zeros(0, int), np.zeros(0), np.zeros(0)
        cw = w[self.curve_run]
        cnt = np.bincount(self.curve_grp, weights=cw, minlength=len(self.grp_cfg))
        with np.errstate(invalid="ignore", divide="ignore"):
            m = np.bincount(self.curve_grp, weights=cw * self.curve_loss,
                            minlength=len(self.grp_cfg)) / cnt
        keep = (cnt > 0) & use[self.grp_cfg]
        return self.grp_cfg[keep], self.grp_C[keep], m[keep]


    def check_single_family(self) -> None:
        if self.n_families > 1:
            fam = self.cfg.drop_duplicates(self.family_keys)[self.family_keys]
            desc = "; ".join(", ".join(f"{k}={v}" for k, v in r.items())
                             for r in fam.head(4).to_dict("records"))
            raise ValueError(f"runs mix {self.n_families} sweeps ({desc}); "
                             f"select one (e.g. one dropout) before fitting N_opt")


# ---------------------------------------------------------------- public API

@dataclass(frozen=True, eq=False)
class Aggregate:
    """Seed means per configuration, after exclusions and the learning-rate choice.

    Attributes
    ----------
    points : DataFrame
        One row per configuration kept, by compute: CONFIG_KEYS, width, params (N), examples (D),
        flops (C), val_loss (mean over seeds) and val_loss_std (their SD, NaN with one seed),
        val_acc and train_loss with their SDs where the runs record them, and n_seeds.
    excluded : dict
        Status (or 'bad_loss') -> number of runs left out.
    n_runs : int
        Ok runs behind the points.
    n_runs_total : int
        Runs given, excluded ones included.
    lr : str or float
        'tuned' or the multiplier kept.
    lr_choice : DataFrame or None
        With lr 'tuned': per configuration (TUNE_KEYS) the lr_mult chosen and its val_loss, and
        candidates and candidate_losses, every multiplier tried with its mean loss; None otherwise.
    """
    points: pd.DataFrame
    excluded: dict
    n_runs: int
    n_runs_total: int
    lr: object
    lr_choice: pd.DataFrame | None

    def to_dict(self) -> dict:
        return jsonable(dict(points=self.points, excluded=self.excluded, n_runs=self.n_runs,
                             n_runs_total=self.n_runs_total, lr=self.lr,
                             lr_choice=self.lr_choice))


def _group_mean(codes, v, n):
    ok = np.isfinite(v)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.bincount(codes[ok], weights=v[ok], minlength=n)
                / np.bincount(codes[ok], minlength=n))


def _group_std(codes, v, n):
    """Sample standard deviation per group (NaN for a single seed)."""
    ok = np.isfinite(v)
    c = np.bincount(codes[ok], minlength=n)
    m = _group_mean(codes, v, n)
    ss = np.bincount(codes[ok], weights=(v[ok] - m[codes[ok]]) ** 2, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(c > 1, np.sqrt(ss / (c - 1)), np.nan)


def _aggregate_prepared(p: Prepared) -> Aggregate:
    w = np.ones(len(p.runs))
    mean, use, cnt = p.select(w)
    pts = p.cfg.copy()
    pts["val_loss"] = mean
    pts["val_loss_std"] = _group_std(p.run_cfg, p.loss, p.n_cfg)
    for col in ["val_acc", "train_loss"]:
        if col in p.runs.columns:
            v = pd.to_numeric(p.runs[col], errors="coerce").to_numpy(dtype=float)
            pts[col] = _group_mean(p.run_cfg, v, p.n_cfg)
            pts[col + "_std"] = _group_std(p.run_cfg, v, p.n_cfg)
    pts["n_seeds"] = cnt.astype(int)
    lr_choice = None
    if p.lr == "tuned" and p.n_cfg:
        # every multiplier of each tuning group with its loss, by multiplier (in numpy: a groupby's
        # list aggregation costs milliseconds on a first draw)
        mult = p.cfg["lr_mult"].to_numpy(float)
        order = np.lexsort((mult, p.cfg_tune))
        cut = np.flatnonzero(np.diff(p.cfg_tune[order])) + 1
        groups = p.cfg_tune[order][np.r_[0, cut]]
        mults = dict(zip(groups, np.split(mult[order], cut)))
        losses = dict(zip(groups, np.split(mean[order], cut)))
        lr_choice = pts.loc[use, TUNE_KEYS + ["lr_mult", "val_loss"]].copy()
        t = p.cfg_tune[use]
        lr_choice["candidates"] = [mults[g].tolist() for g in t]
        lr_choice["candidate_losses"] = [losses[g].tolist() for g in t]
        lr_choice = lr_choice.reset_index(drop=True)
    pts = pts[use].sort_values(["flops", "val_loss"]).reset_index(drop=True)
    return Aggregate(points=pts, excluded=dict(p.excluded), n_runs=int(cnt[use].sum()),
                     n_runs_total=p.n_total, lr=p.lr, lr_choice=lr_choice)


def aggregate(runs: pd.DataFrame, lr="tuned") -> Aggregate:
    """Average seeds per configuration, after excluding runs whose status is not 'ok'.

    lr: 'tuned' keeps, per configuration, the lr_mult with the lowest mean validation loss
    among those cached (reported in lr_choice); a number keeps only that multiplier.
    """
    return _aggregate_prepared(Prepared(runs, None, lr))


def frontier_mask(C: np.ndarray, L: np.ndarray) -> np.ndarray:
    """True where no other point has lower loss with less or equal compute."""
    order = np.lexsort((L, C))
    Cs, Ls = C[order], L[order]
    best = np.minimum.accumulate(Ls)
    # points with equal compute compete with each other: use the best of the whole tie block
    last = np.searchsorted(Cs, Cs, side="right") - 1
    mask = np.zeros(C.size, bool)
    mask[order] = Ls <= best[last]
    return mask


def frontier(points: pd.DataFrame) -> pd.DataFrame:
    """Rows of points (flops, val_loss) on the compute-efficient frontier, sorted by compute."""
    _check_columns(points, ["flops", "val_loss"], "points")
    C = points["flops"].to_numpy(dtype=float)
    L = points["val_loss"].to_numpy(dtype=float)
    if np.isnan(C).any() or np.isnan(L).any():
        raise ValueError("points contain NaN in flops or val_loss")
    return points[frontier_mask(C, L)].sort_values("flops").reset_index(drop=True)
