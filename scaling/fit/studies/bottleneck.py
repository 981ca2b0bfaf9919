"""The data bottleneck: with D fixed and several epochs, where does growing N stop helping? (Kaplan et al. 2020, §4)"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scaling.core.fmt import fmt_estimate
from scaling.fit.intervals import Interval
from scaling.fit.parametric import fit_kaplan
from scaling.fit.studies.common import MIN_FRACTIONS, N_BOOT, _Cells, _defaults, _one_family, _resample, _usable
from scaling.fit.studies.result import EXP_COLUMNS, _exp_row, _Result

MIN_WIDTHS = 3      # a plateau in N needs a rise, a bend and a flat part
KAPLAN_BOUND = 4.9  # fit_kaplan bounds its exponents at 5: a fit that reaches it describes nothing
PLATEAU_TOL = 0.02  # the plateau starts within 2% of the best loss at that D (or the seed noise, if larger)


@dataclass(frozen=True, eq=False)
class BottleneckStudy(_Result):
    """The data bottleneck: with D fixed, where does growing N plateau? (Kaplan et al. 2020, section 4)

    Attributes
    ----------
    ok : bool
        Whether the runs answer the question; when False, answer names the runs that are missing.
    answer : str
        The answer in sentences, with 95% intervals.
    n_runs : int
        Runs used.
    family : dict
        The run family used: FAMILY field (and epochs where the study does not vary it) -> value.
    epochs : int or None
        The epochs of the runs used (the most common count above one); None without such runs.
    exponents : DataFrame
        One EXP_COLUMNS row: p of N_p ∝ D^p, with its interval.
    points : DataFrame
        Seed means per cell: data_fraction, distinct (examples / epochs: distinct examples), width_step,
        width, params, examples, flops, val_loss, val_loss_std, n_seeds.
    plateaus : DataFrame
        Per data size: data_fraction, distinct, N_p (parameters where the loss comes within tolerance
        of its best, plateau_start) with lo and hi, N_best and L_best (the best width's N and loss),
        tolerance (relative), overfits (the largest width's loss above the best beyond tolerance), rise
        (its relative excess), censored ('' or at which end of the widths N_p lies), and N_p_law (where
        the fitted law's model and data terms are equal) when the law fits.
    p : float
        alpha_D / alpha_N of Kaplan's L(N, D): the exponent of D in N_p (NaN when it does not fit).
    interval : Interval or None
        Bootstrap interval of p.
    line : DataFrame
        distinct, N_p: the law's plateau against data, for charts.
    """
    ok: bool
    answer: str
    n_runs: int
    family: dict
    epochs: int | None
    exponents: pd.DataFrame
    points: pd.DataFrame
    plateaus: pd.DataFrame
    p: float
    interval: Interval | None
    line: pd.DataFrame
    key = "bottleneck"
    title = "The data bottleneck: with D fixed, where does growing N plateau? (Kaplan et al. 2020, §4)"

    def _details(self):
        return [f"D = {r.distinct:,.0f} distinct examples: the law's plateau at N = "
                + (f"{r.N_p_law:,.0f}; " if "N_p_law" in self.plateaus else "?; ")
                + f"the data within {r.tolerance:.0%} of its best loss from N = {r.N_p:,.0f}"
                + (f" ({r.censored})" if r.censored else "")
                + (f", best at N = {r.N_best:,.0f}, then loss rises {r.rise:.1%} (overfits)" if r.overfits else "")
                for r in self.plateaus.itertuples()]


def plateau_start(N: np.ndarray, L: np.ndarray, tol: float) -> tuple[float, str]:
    """The smallest N whose loss is within tol (relative) of the best loss, interpolated in log N
    between the grid's widths where the curve crosses that level; and '' or why it is censored
    ('at the smallest width': it may start below; 'at the largest width': the loss may still fall)."""
    o = np.argsort(N)
    N, L = N[o], L[o]
    thr = np.nanmin(L) * (1 + tol)
    i = int(np.flatnonzero(L <= thr)[0])
    if i == 0:
        return float(N[0]), "at the smallest width"
    t = (L[i - 1] - thr) / (L[i - 1] - L[i])
    n_p = float(np.exp(np.log(N[i - 1]) + t * (np.log(N[i]) - np.log(N[i - 1]))))
    return n_p, "at the largest width" if i == N.size - 1 else ""


def study_bottleneck(runs: pd.DataFrame, *, n_boot: int = N_BOOT, seed: int = 0, lr="tuned",
                     tol: float = PLATEAU_TOL) -> BottleneckStudy:
    """Runs of several epochs at fixed data fractions, growing N. Per D (distinct examples =
    examples / epochs): loss against N (seed means), the plateau start N_p(D) (plateau_start, with
    tol = max(tol, the seed means' relative standard error there)), and whether the loss rises past
    the best beyond that tolerance (overfitting). N_p = c D^p is fitted by least squares in log
    space over the data sizes whose plateau is not censored."""
    df = _defaults(_usable(runs))
    df = df[df["epochs"].astype(int) > 1]
    epochs = int(df["epochs"].value_counts().index[0]) if len(df) else None
    df, fam = _one_family(df[df["epochs"] == epochs] if epochs else df, axis="width_step")
    empty = dict(n_runs=0, family=fam, epochs=epochs, exponents=pd.DataFrame(columns=EXP_COLUMNS),
                 points=pd.DataFrame(), plateaus=pd.DataFrame(), p=math.nan, interval=None, line=pd.DataFrame())
    nw = df.groupby("data_fraction")["width_step"].nunique()
    fracs = sorted(f for f, n in nw.items() if n >= MIN_WIDTHS)
    if len(fracs) < MIN_FRACTIONS:
        have = "no runs of more than one epoch" if df.empty else \
            f"{len(fracs)} data fraction{'s' * (len(fracs) != 1)} with {MIN_WIDTHS}+ widths at {epochs} epochs"
        return BottleneckStudy(False, f"Needs runs of several epochs (e.g. 8) at {MIN_FRACTIONS} or more data "
                                      f"fractions, each at {MIN_WIDTHS} or more widths ({have} cached).",
                               **{**empty, "n_runs": len(df)})
    df = df[df["data_fraction"].isin(fracs)].reset_index(drop=True)
    cells = _Cells(df, ["data_fraction", "width_step"], lr)
    c = cells.cells.assign(distinct=lambda t: t["examples"] / t["epochs"])
    fr, N = c["data_fraction"].to_numpy(float), c["params"].to_numpy(float)
    m0 = c["val_loss"].to_numpy(float)
    rel_se = (c["val_loss_std"] / c["val_loss"] / np.sqrt(c["n_seeds"].clip(lower=1))).to_numpy(float)
    tols = {f: max(tol, float(np.nanmedian(rel_se[fr == f])) if np.isfinite(rel_se[fr == f]).any() else tol)
            for f in fracs}
    dist = {f: float(c.loc[fr == f, "distinct"].iloc[0]) for f in fracs}

    def plateaus(m: np.ndarray) -> dict:
        out = {}
        for f in fracs:
            sel = (fr == f) & np.isfinite(m)
            if sel.sum() < MIN_WIDTHS:
                continue
            out[f] = plateau_start(N[sel], m[sel], tols[f])
        return out

    D = c["distinct"].to_numpy(float)

    def kaplan(m: np.ndarray):
        """Kaplan's L(N, D) on these seed means, or None where it cannot be fitted or runs into a
        bound of its exponents (then it does not describe the data)."""
        ok = np.isfinite(m)
        try:
            kf = fit_kaplan(N[ok], D[ok], m[ok])
        except ValueError:
            return None
        return kf if max(kf.alpha_N, kf.alpha_D) < KAPLAN_BOUND else None

    def estimate(m: np.ndarray) -> dict:
        out = {("N_p", f): v[0] for f, v in plateaus(m).items()}
        kf = kaplan(m)
        if kf is not None:
            out.update(p=kf.alpha_D / kf.alpha_N, alpha_N=kf.alpha_N, alpha_D=kf.alpha_D)
        return out

    point = estimate(m0)
    iv, _ = _resample(cells, estimate, point, n_boot, seed)
    ps = plateaus(m0)
    rows = []
    for f in fracs:
        sel = fr == f
        k = np.flatnonzero(sel)[np.nanargmin(m0[sel])]
        L_last = m0[sel][np.argmax(N[sel])]
        best = m0[k]
        n_p, cens = ps[f]
        piv = iv.get(("N_p", f))
        rows.append(dict(data_fraction=f, distinct=dist[f], N_p=n_p, lo=piv.lo if piv else math.nan,
                         hi=piv.hi if piv else math.nan, N_best=N[k], L_best=best, tolerance=tols[f],
                         overfits=bool(L_last > best * (1 + tols[f])), rise=float(L_last / best - 1), censored=cens))
    pl = pd.DataFrame(rows)
    p = point.get("p", math.nan)
    pts = c[["data_fraction", "distinct", "width_step", "width", "params", "examples", "flops", "val_loss",
             "val_loss_std", "n_seeds"]]
    if not math.isfinite(p):
        return BottleneckStudy(False, f"Needs more widths or data sizes at {epochs} epochs: Kaplan's L(N, D) does "
                                      "not fit these runs (no fit, or an exponent at its bound), so where growing N "
                                      "stops helping cannot be read off them.",
                               **{**empty, "n_runs": len(df), "points": pts, "plateaus": pl})
    kf = kaplan(m0)
    # N_p(D): where the fitted law's model and data terms are equal, (Nc/N)^(aN/aD) = Dc/D; past it a
    # bigger model can lower the loss by at most a factor 2^aD, and the data term dominates
    n_p = lambda d: kf.Nc * (d / kf.Dc) ** (kf.alpha_D / kf.alpha_N)  # noqa: E731
    pl = pl.assign(N_p_law=n_p(pl["distinct"].to_numpy(float)))
    xs = np.geomspace(pl["distinct"].min(), pl["distinct"].max(), 30)
    line = pd.DataFrame({"distinct": xs, "N_p": n_p(xs)})
    exps = pd.DataFrame([_exp_row("p (N_p ∝ D^p)", p, iv.get("p"), len(df))])
    n_over = int(pl["overfits"].sum())
    over = (f"Past the plateau the final loss rises again (overfitting) at {n_over} of {len(pl)} data sizes, by up "
            f"to {pl['rise'].max():.0%}" if n_over else "Past the plateau the final loss stays flat at every data "
            "size (no overfitting within the widths trained)")
    d0, d1 = pl["distinct"].iloc[0], pl["distinct"].iloc[-1]
    answer = (f"With D fixed and {epochs} epochs, growing N stops helping at N_p ∝ D^{fmt_estimate(p, iv.get('p'))}: "
              f"Kaplan's L(N, D) fitted to the seed means (final loss, no early stopping; RMS log error "
              f"{np.sqrt(np.mean(kf.residuals ** 2)):.2f}) puts the plateau, where its model and data terms are "
              f"equal, at N = {n_p(d0):,.0f} parameters for D = {d0:,.0f} and {n_p(d1):,.0f} for D = {d1:,.0f} "
              f"(Kaplan et al.'s language models: D ∝ N^0.74, i.e. p = 1.35). {over}.")
    return BottleneckStudy(True, answer, len(df), fam, epochs, exps, pts, pl, p, iv.get("p"), line)
