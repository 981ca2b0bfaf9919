"""The lr schedule and a tuned lr: how much do they move a (N_opt's exponent), alpha_C and the seed noise?

Kaplan et al. 2020 read every budget off runs at one schedule; Hoffmann et al. 2022 (Chinchilla)
decayed a cosine over each run's own length and tuned the lr per budget, and a moved from 0.73 to
0.50. Here the same contrast on MNIST: constant/untuned (the lr rule alone, x1) against cosine/tuned
(the best of x1/2, x1, x2 around the rule per configuration), with the two mixed arms beside them
where their runs are cached (they split the move into the schedule's part and the tuning's).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scaling.core.fmt import fmt_estimate
from scaling.fit.nopt import parametric_arrays
from scaling.fit.runs import compute_law
from scaling.fit.studies.arch import _frontier_law
from scaling.fit.studies.common import MIN_FRACTIONS, N_BOOT, _Cells, _defaults, _one_family, _resample, _usable
from scaling.fit.studies.result import EXP_COLUMNS, _exp_row, _Result

ARMS = ("constant/untuned", "constant/tuned", "cosine/untuned", "cosine/tuned")
BASE, TUNED = ARMS[0], ARMS[-1]  # Kaplan-like and Chinchilla-like
TUNE_MULTS = (0.5, 1.0, 2.0)  # around the rule: a best inside them is an interior optimum
QUANTITIES = {"a": "a (N_opt ∝ C^a)", "alpha_C": "α_C (frontier L ∝ C^-α_C)", "sd": "seed noise (SD of ln L)"}


@dataclass(frozen=True, eq=False)
class ScheduleStudy(_Result):
    """The lr schedule and a tuned lr: how much do they move a, alpha_C and the seed noise?

    Attributes
    ----------
    ok : bool
        Whether the runs answer the question; when False, answer names the runs that are missing.
    answer : str
        The answer in one sentence, with 95% intervals.
    n_runs : int
        Runs used (a run of x1 counts once per arm it is in).
    family : dict
        The run family used: FAMILY field and epochs -> value (the schedule is the study's axis).
    exponents : DataFrame
        Per arm and quantity (EXP_COLUMNS, arm, quantity): a of N_opt = k C^a from the parametric
        L(N, D) (C = 3 x forward FLOPs x D), alpha_C of the frontier law L = A C^-alpha_C, and sd, the
        pooled SD of ln L between seeds at the chosen multiplier; then the moves from BASE to TUNED
        (arm 'move': a and alpha_C as differences, sd as a ratio).
    points : DataFrame
        Seed means per cell: arm, width_step, data_fraction, width, params, examples, flops, epochs,
        val_loss, val_loss_std, n_seeds, lr_mult (the multiplier chosen) and frontier.
    lines : DataFrame
        arm, flops, fit: each arm's frontier law, for charts.
    edge_share : dict
        Per tuned arm, the share of its configurations whose best multiplier is at an end of those
        cached (x1/2 or x2): where it is, the lr is not tuned to an interior optimum.
    """
    ok: bool
    answer: str
    n_runs: int
    family: dict
    exponents: pd.DataFrame
    points: pd.DataFrame
    lines: pd.DataFrame
    edge_share: dict
    key = "schedule"
    title = "The lr schedule and a tuned lr: how much do they move a, α_C and the seed noise?"

    def _details(self):
        return [f"{arm}: the best multiplier is at an end of x1/2..x2 in {s:.0%} of its configurations"
                for arm, s in self.edge_share.items()]


def _arms(df: pd.DataFrame) -> pd.DataFrame:
    """The runs of each arm, a run of x1 in both arms of its schedule; tuned arms only where more than
    one multiplier of TUNE_MULTS is cached."""
    parts = []
    mult = df["lr_mult"].to_numpy(float)
    on_scan = np.isclose(mult[:, None], TUNE_MULTS).any(1)
    for arm in ARMS:
        sched, how = arm.split("/")
        keep = (df["lr_schedule"] == sched).to_numpy() & (np.isclose(mult, 1.0) if how == "untuned" else on_scan)
        sub = df[keep]
        if how == "tuned" and sub["lr_mult"].nunique() < 2:
            continue
        if len(sub):
            parts.append(sub.assign(arm=arm))
    return pd.concat(parts, ignore_index=True) if parts else df.iloc[:0].assign(arm="")


def _common_cells(df: pd.DataFrame) -> pd.DataFrame:
    """Only the (width, fraction) cells every arm has: the arms are compared on one grid."""
    key = df["width_step"].astype(str) + "|" + df["data_fraction"].astype(str)
    sets = [set(key[df["arm"] == a]) for a in df["arm"].unique()]
    common = set.intersection(*sets) if sets else set()
    return df[key.isin(common)].reset_index(drop=True)


class _WeightCells(_Cells):
    """_Cells whose resample hands the estimate the run weights themselves (the seed noise needs the
    runs, not only the cell means)."""

    def means(self, w: np.ndarray) -> np.ndarray:
        return w


def study_schedule(runs: pd.DataFrame, *, n_boot: int = N_BOOT, seed: int = 0) -> ScheduleStudy:
    """a, alpha_C and the seed noise per arm, and how they move from constant/untuned to cosine/tuned,
    with seed-resampled intervals (paired: one draw of seeds for every arm)."""
    df, fam = _one_family(_defaults(_usable(runs), "lr_schedule"), ("epochs",), axis="lr_schedule")
    empty = dict(n_runs=0, family=fam, exponents=pd.DataFrame(columns=EXP_COLUMNS + ["arm", "quantity"]),
                 points=pd.DataFrame(), lines=pd.DataFrame(), edge_share={})
    df = _common_cells(_arms(df))
    arms = [a for a in ARMS if (df["arm"] == a).any()]
    if BASE not in arms or TUNED not in arms:
        want = [w for w, a in (("constant runs at the rule's lr (x1)", BASE),
                               ("cosine runs at lr x1/2, x1 and x2", TUNED)) if a not in arms]
        return ScheduleStudy(False, f"Needs {' and '.join(want)} on the same widths and data fractions "
                             "(scaling sweep --study schedule trains them).", **empty)
    cells = _WeightCells(df, ["arm", "width_step", "data_fraction"], "tuned")
    c = cells.cells
    arm_of = c["arm"].to_numpy()
    N, D, C = (c[k].to_numpy(float) for k in ("params", "examples", "flops"))
    n_widths = c.loc[arm_of == BASE, "width_step"].nunique()
    n_fracs = c.loc[arm_of == BASE, "data_fraction"].nunique()
    if n_widths < MIN_FRACTIONS or n_fracs < MIN_FRACTIONS:
        return ScheduleStudy(False, f"Needs runs at {MIN_FRACTIONS} or more widths and data fractions under both "
                             f"schedules (cached on a common grid: {n_widths} widths, {n_fracs} fractions).",
                             **{**empty, "n_runs": len(df)})
    loss = cells.loss
    lnL = np.log(loss)
    run_cell = cells.cfg_cell[cells.run_cfg]
    init: dict = {}

    def estimate(w: np.ndarray, keep_fit: bool = False) -> dict:
        m, chosen = cells._means(w)
        out = {}
        on = chosen[cells.run_cfg] & (w > 0)  # seeds drawn at least once, each counted once
        for arm in arms:
            sel = (arm_of == arm) & np.isfinite(m)  # a cell none of whose seeds was drawn has no mean
            f, _ = _frontier_law(C[sel], m[sel])
            out[("alpha_C", arm)] = f.alpha if f is not None else math.nan
            kw = dict(n_starts=0, init=init[arm]) if init.get(arm) is not None else {}
            nopt, pf = parametric_arrays(N[sel], D[sel], C[sel], m[sel], compute_law(N[sel], D[sel], C[sel]),
                                         int(sel.sum()), light=True, **kw)
            out[("a", arm)] = nopt.a if nopt.ok else math.nan
            if keep_fit:
                init[arm] = pf if nopt.ok else None
            out[("sd", arm)] = _pooled_sd(lnL, run_cell, on & (arm_of == arm)[run_cell])
        out["d_a"] = out[("a", TUNED)] - out[("a", BASE)]
        out["d_alpha_C"] = out[("alpha_C", TUNED)] - out[("alpha_C", BASE)]
        out["p"] = out[("sd", TUNED)] / out[("sd", BASE)]  # a ratio: its interval is made in log space
        return out

    point = estimate(np.ones(len(cells.runs)), keep_fit=True)
    iv, _ = _resample(cells, estimate, point, n_boot, seed)
    m, chosen = cells._means(np.ones(len(cells.runs)))
    rows, lines = [], []
    for arm in arms:
        n = int((df["arm"] == arm).sum())
        rows += [_exp_row(f"{q} · {arm}", point[(q, arm)], iv.get((q, arm)), n, arm=arm, quantity=q)
                 for q in QUANTITIES]
        sel = arm_of == arm
        f, fm = _frontier_law(C[sel], m[sel])
        if f is not None:
            xs = np.geomspace(C[sel][fm].min(), C[sel][fm].max(), 40)
            lines.append(pd.DataFrame({"arm": arm, "flops": xs, "fit": f.predict(xs)}))
    n_both = int(df["arm"].isin([BASE, TUNED]).sum())
    rows += [_exp_row(f"{q} · move", point[k], iv.get(k), n_both, arm="move", quantity=q)
             for q, k in (("a", "d_a"), ("alpha_C", "d_alpha_C"), ("sd", "p"))]
    pts = c.assign(lr_mult=_chosen_mult(cells, chosen), frontier=_fronts(arm_of, arms, C, m))
    edge = {arm: _edge_share(cells, chosen, arm_of == arm) for arm in arms if arm.endswith("/tuned")}
    exps = pd.DataFrame(rows)
    return ScheduleStudy(True, _answer(point, iv), len(df), fam, exps, pts,
                         pd.concat(lines, ignore_index=True) if lines else pd.DataFrame(columns=["arm", "flops", "fit"]),
                         edge)


def _pooled_sd(lnL: np.ndarray, cell: np.ndarray, on: np.ndarray) -> float:
    """sqrt(sum r^2 / sum (n - 1)) over the cells' runs `on`, r about each cell's mean of them."""
    x, g = lnL[on], cell[on]
    if x.size < 2:
        return math.nan
    n = np.bincount(g)
    mean = np.bincount(g, weights=x) / np.maximum(n, 1)
    dof = float((n[n > 0] - 1).sum())
    return math.sqrt(float(((x - mean[g]) ** 2).sum()) / dof) if dof > 0 else math.nan


def _chosen_mult(cells: _Cells, chosen: np.ndarray) -> np.ndarray:
    mult = np.full(cells.n_cells, np.nan)
    cfg_mult = cells.runs["lr_mult"].to_numpy(float)[_first_of(cells.run_cfg, cells.n_cfg)]
    mult[cells.cfg_cell[chosen]] = cfg_mult[chosen]
    return mult


def _first_of(codes: np.ndarray, n: int) -> np.ndarray:
    """A run of each configuration (any: they share their multiplier)."""
    first = np.zeros(n, int)
    first[codes] = np.arange(codes.size)
    return first


def _edge_share(cells: _Cells, chosen: np.ndarray, sel_cell: np.ndarray) -> float:
    """The share of the arm's cells whose chosen multiplier is the lowest or highest cached there."""
    cfg_mult = cells.runs["lr_mult"].to_numpy(float)[_first_of(cells.run_cfg, cells.n_cfg)]
    lo = np.full(cells.n_cells, np.inf)
    hi = np.full(cells.n_cells, -np.inf)
    np.minimum.at(lo, cells.cfg_cell, cfg_mult)
    np.maximum.at(hi, cells.cfg_cell, cfg_mult)
    pick = _chosen_mult(cells, chosen)
    edge = np.isclose(pick, lo) | np.isclose(pick, hi)
    return float(edge[sel_cell].mean()) if sel_cell.any() else math.nan


def _fronts(arm_of, arms, C, m) -> np.ndarray:
    out = np.zeros(C.size, bool)
    for arm in arms:
        sel = arm_of == arm
        _, fm = _frontier_law(C[sel], m[sel])
        out[np.flatnonzero(sel)[fm]] = True
    return out


def _answer(point: dict, iv: dict) -> str:
    def est(k, digits=2):
        return fmt_estimate(point[k], iv.get(k), digits)

    def moved(k, null):
        i = iv.get(k)
        if i is None or not math.isfinite(i.lo):
            return "no interval yet"
        return "moved" if not (i.lo <= null <= i.hi) else "within the noise"

    p = iv.get("p")
    ratio = f"×{point['p']:.2f}" + (f" [{p.lo:.2f}, {p.hi:.2f}]" if p is not None and math.isfinite(p.lo) else "")
    return (f"From constant/untuned (Kaplan-like) to cosine/tuned (Chinchilla-like), a goes from "
            f"{est(('a', BASE))} to {est(('a', TUNED))} (Δ {est('d_a')}: {moved('d_a', 0.0)}), α_C from "
            f"{est(('alpha_C', BASE))} to {est(('alpha_C', TUNED))} (Δ {est('d_alpha_C')}: {moved('d_alpha_C', 0.0)}), "
            f"and the seed noise (SD of ln L) from {est(('sd', BASE), 3)} to {est(('sd', TUNED), 3)} "
            f"({ratio}: {moved('p', 1.0)}).")


