"""Transfer: how much data does pre-training on other digits buy? (Hernandez et al. 2021)"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scaling.core.fmt import fmt_count, fmt_count_estimate, fmt_estimate
from scaling.fit.studies.common import MIN_FRACTIONS, N_BOOT, _Cells, _defaults, _law, _one_family, _resample, _usable
from scaling.fit.studies.result import EXP_COLUMNS, _exp_row, _Result


@dataclass(frozen=True, eq=False)
class TransferStudy(_Result):
    """Transfer: how much data does pre-training on other digits buy? (Hernandez et al. 2021)

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
    target : str
        The digits fine-tuned on, and trained on from scratch for comparison ('56789').
    source : str
        The digits pre-trained on.
    exponents : DataFrame
        EXP_COLUMNS rows for alpha (exponent of D_F) and beta (of N) of D_T = k D_F^alpha N^beta.
    scratch : DataFrame
        From-scratch seed means per cell: width_step, data_fraction, width, params, examples, flops,
        epochs, val_loss, val_loss_std, n_seeds.
    scratch_lines : DataFrame
        width, examples, fit: L(D) per width from scratch, for charts.
    points : DataFrame
        Fine-tuned seed means per cell: width_step, width, params, data_fraction, D_F (examples
        fine-tuned on), val_loss, val_loss_std, n_seeds, D_E (examples from scratch that reach that
        loss), D_T = D_E - D_F with lo and hi, extrapolated (D_E beyond the from-scratch runs), used
        (D_T > 0: in the fit).
    k : float
        Coefficient of D_T = k D_F^alpha N^beta (examples at D_F = 1 and N = 1).
    alpha, beta : float
        Exponents of D_F (examples) and N (parameters) in that law.
    intervals : dict
        'k', 'alpha', 'beta' -> Interval.
    fit_line : DataFrame
        width, params, D_F, D_T: the fitted law per width, for charts.
    """
    ok: bool
    answer: str
    n_runs: int
    family: dict
    target: str
    source: str
    exponents: pd.DataFrame
    scratch: pd.DataFrame
    scratch_lines: pd.DataFrame
    points: pd.DataFrame
    k: float
    alpha: float
    beta: float
    intervals: dict
    fit_line: pd.DataFrame
    key = "transfer"
    title = "Transfer: how much data does pre-training on other digits buy? (Hernandez et al. 2021)"

    def _details(self):
        if not len(self.points):
            return []
        out = [f"D_T = k · D_F^α · N^β: k = {fmt_count_estimate(self.k, self.intervals.get('k'))}"]
        n_ex = int(self.points["extrapolated"].sum())
        if n_ex:
            out.append(f"{n_ex} fine-tuned cells reach a loss below what from-scratch reaches at its largest D: "
                       "their D_E is extrapolated")
        return out


def _transfer_empty(fam, target="", source="") -> dict:
    return dict(n_runs=0, family=fam, target=target, source=source, exponents=pd.DataFrame(columns=EXP_COLUMNS),
                scratch=pd.DataFrame(), scratch_lines=pd.DataFrame(), points=pd.DataFrame(), k=math.nan,
                alpha=math.nan, beta=math.nan, intervals={}, fit_line=pd.DataFrame())


def _digits(s: str) -> str:
    """'56789' -> '5-9', '0246' -> '0, 2, 4, 6'."""
    d = [int(x) for x in s]
    return f"{d[0]}-{d[-1]}" if len(d) > 2 and d == list(range(d[0], d[-1] + 1)) else ", ".join(map(str, d))


def _transfer_fit(DF: np.ndarray, N: np.ndarray, DT: np.ndarray) -> tuple[float, float, float]:
    """log D_T = log k + alpha log D_F + beta log N by least squares over the points with D_T > 0."""
    ok = np.isfinite(DT) & (DT > 0)
    if ok.sum() < 4 or np.unique(DF[ok]).size < 2 or np.unique(N[ok]).size < 2:
        raise ValueError("too few positive D_T")
    X = np.column_stack([np.ones(ok.sum()), np.log(DF[ok]), np.log(N[ok])])
    (lk, a, b), *_ = np.linalg.lstsq(X, np.log(DT[ok]), rcond=None)
    return float(np.exp(lk)), float(a), float(b)


def study_transfer(runs: pd.DataFrame, *, n_boot: int = N_BOOT, seed: int = 0, lr="tuned") -> TransferStudy:
    """Effective data transferred (Hernandez et al. 2021). From-scratch runs on the target digits
    give L(D) = A_N D^-alpha_N per width; inverted at a fine-tuned run's loss it gives D_E, the
    from-scratch data that reaches it, and D_T = D_E - D_F is what pre-training was worth. Fitted
    as D_T = k D_F^alpha N^beta by least squares in log space over the cells with D_T > 0; cells
    whose loss is below what from-scratch reaches at its largest D are extrapolated (flagged)."""
    df, fam = _one_family(_defaults(_usable(runs), "classes", "pretrain_classes", "pretrain_fraction",
                                    "pretrain_epochs"), ("epochs",), axis="pretrain_classes")
    ft = df[df["pretrain_classes"] != ""]
    if ft.empty:
        return TransferStudy(False, "Needs fine-tuned runs (pre-trained on some digits, e.g. 0-4, then trained on "
                                    "others, e.g. 5-9) at 2 or more widths and data fractions, and from-scratch runs "
                                    f"on the same digits at {MIN_FRACTIONS} or more data fractions per width "
                                    "(no fine-tuned runs cached).", **_transfer_empty(fam))
    # the most common (target, source, pre-training) of the fine-tuned runs
    pair = ft.groupby(["classes", "pretrain_classes", "pretrain_fraction", "pretrain_epochs"]).size().idxmax()
    target, source, pf, pe = pair
    ft = ft[(ft["classes"] == target) & (ft["pretrain_classes"] == source) & (ft["pretrain_fraction"] == pf)
            & (ft["pretrain_epochs"] == pe)].assign(role="finetune")
    sc = df[(df["classes"] == target) & (df["pretrain_classes"] == "")].assign(role="scratch")
    fam = {**fam, "pretrain_fraction": float(pf), "pretrain_epochs": int(pe)}
    tname, sname = _digits(target) if target else "all digits", _digits(source)
    nf = sc.groupby("width_step")["data_fraction"].nunique()
    widths = sorted(w for w in ft["width_step"].unique() if nf.get(w, 0) >= MIN_FRACTIONS)
    missing = sorted(set(ft["width_step"].unique()) - set(widths))
    if len(widths) < 2:
        wd = dict(zip(ft["width_step"], ft["width"]))
        need = ", ".join(str(int(wd[w])) for w in missing) or "those of the fine-tuned runs"
        return TransferStudy(False, f"Needs from-scratch runs on digits {tname} at {MIN_FRACTIONS} or more data "
                                    f"fractions at 2 or more of the fine-tuned runs' widths (missing at width "
                                    f"{need}).", **{**_transfer_empty(fam, target, source), "n_runs": len(ft)})
    both = pd.concat([sc[sc["width_step"].isin(widths)], ft[ft["width_step"].isin(widths)]], ignore_index=True)
    cells = _Cells(both, ["role", "width_step", "data_fraction"], lr)
    c = cells.cells
    role, wstep = c["role"].to_numpy(), c["width_step"].to_numpy()
    D, N = c["examples"].to_numpy(float), c["params"].to_numpy(float)
    fi = np.flatnonzero(role == "finetune")
    dmax = {w: D[(role == "scratch") & (wstep == w)].max() for w in widths}

    def effective(m: np.ndarray) -> tuple[np.ndarray, dict]:
        fits = {w: _law(D[(role == "scratch") & (wstep == w)], m[(role == "scratch") & (wstep == w)]) for w in widths}
        DE = np.array([(fits[wstep[i]].A / m[i]) ** (1 / fits[wstep[i]].alpha)
                       if fits[wstep[i]] is not None and math.isfinite(m[i]) else math.nan for i in fi])
        return DE, fits

    def estimate(m: np.ndarray) -> dict:
        DE, _ = effective(m)
        DT = DE - D[fi]
        out = {("D_T", j): DT[j] for j in range(fi.size)}
        try:
            k, a, b = _transfer_fit(D[fi], N[fi], DT)
            out.update(k=k, alpha=a, beta=b)
        except ValueError:
            pass
        return out

    m0 = c["val_loss"].to_numpy(float)
    DE, fits = effective(m0)
    point = estimate(m0)
    iv, _ = _resample(cells, estimate, point, n_boot, seed)
    DT = DE - D[fi]
    pts = c.iloc[fi][["width_step", "width", "params", "data_fraction", "examples", "val_loss", "val_loss_std",
                      "n_seeds"]].reset_index(drop=True).rename(columns={"examples": "D_F"})
    pts["D_E"], pts["D_T"] = DE, DT
    pts["lo"] = [iv[("D_T", j)].lo if ("D_T", j) in iv else math.nan for j in range(fi.size)]
    pts["hi"] = [iv[("D_T", j)].hi if ("D_T", j) in iv else math.nan for j in range(fi.size)]
    pts["extrapolated"] = DE > np.array([dmax[w] for w in wstep[fi]])
    pts["used"] = np.isfinite(DT) & (DT > 0)
    sc_cells = c[role == "scratch"].drop(columns=["role"]).reset_index(drop=True)
    lines = [pd.DataFrame({"width": int(c.loc[wstep == w, "width"].iloc[0]), "examples": xs, "fit": fits[w].predict(xs)})
             for w in widths if fits[w] is not None
             for xs in [np.geomspace(min(D[wstep == w].min(), np.nanmin(DE[wstep[fi] == w], initial=np.inf)),
                                     max(D[wstep == w].max(), np.nanmax(DE[wstep[fi] == w], initial=0)), 40)]]
    base = dict(n_runs=len(both), family=fam, target=target, source=source, scratch=sc_cells,
                scratch_lines=pd.concat(lines, ignore_index=True) if lines else pd.DataFrame(), points=pts)
    if "k" not in point:
        n_pos = int(pts["used"].sum())
        why = (f"only {n_pos} fine-tuned cells have D_T > 0 (pre-training helped)" if n_pos < 4 else
               "the cells with D_T > 0 span fewer than 2 widths or 2 data fractions")
        return TransferStudy(False, f"Needs fine-tuned runs on digits {tname} (from {sname}) at 2 or more widths and "
                                    f"2 or more data fractions where pre-training helps: {why}.",
                             exponents=pd.DataFrame(columns=EXP_COLUMNS), k=math.nan, alpha=math.nan, beta=math.nan,
                             intervals={}, fit_line=pd.DataFrame(), **base)
    k, a, b = point["k"], point["alpha"], point["beta"]
    n_used = int(pts["used"].sum())
    exps = pd.DataFrame([_exp_row("α (exponent of D_F)", a, iv.get("alpha"), len(both)),
                         _exp_row("β (exponent of N)", b, iv.get("beta"), len(both))])
    xs = np.geomspace(pts["D_F"].min(), pts["D_F"].max(), 30)
    fit_line = pd.concat([pd.DataFrame({"width": int(r.width), "params": r.params, "D_F": xs,
                                        "D_T": k * xs ** a * r.params ** b})
                          for r in pts.drop_duplicates("width_step").itertuples()], ignore_index=True)
    intervals = {n: iv[n] for n in ("k", "alpha", "beta") if n in iv}
    answer = _transfer_answer(pts, k, a, b, intervals, tname, sname, n_used, iv, fi)
    return TransferStudy(True, answer, exponents=exps, k=k, alpha=a, beta=b, intervals=intervals,
                         fit_line=fit_line, **base)


def _transfer_answer(pts, k, a, b, intervals, tname, sname, n_used, iv, fi) -> str:
    # the cell that says most: the smallest fine-tuning set at the widest width
    wmax = pts["width_step"].max()
    j = int(pts.index[(pts["width_step"] == wmax)][pts.loc[pts["width_step"] == wmax, "D_F"].argmin()])
    r = pts.loc[j]
    jiv = iv.get(("D_T", j))
    n_ex, n_neg = int(pts["extrapolated"].sum()), int((~pts["used"]).sum())
    tail = []
    if n_ex:
        tail.append(f"{n_ex} of {len(pts)} cells beat from-scratch at its largest D, so their D_E is extrapolated")
    if n_neg:
        tail.append(f"{n_neg} cells, where pre-training did not help (D_T ≤ 0), are left out of the fit")
    flat = [name for name, key in (("α", "alpha"), ("β", "beta"))
            if intervals.get(key) is not None and intervals[key].lo <= 0 <= intervals[key].hi]
    reading = (f"; {' and '.join(flat)} {'include' if len(flat) > 1 else 'includes'} 0, so what transfers hardly "
               f"depends on {' or '.join({'α': 'the fine-tuning data', 'β': 'the model size'}[f] for f in flat)} here"
               if flat else "")
    return (f"Pre-training on digits {sname} is worth D_T = {fmt_count(k)}·D_F^{a:.2f}·N^{b:.2f} examples of digits "
            f"{tname}, with α = {fmt_estimate(a, intervals.get('alpha'))} and β = {fmt_estimate(b, intervals.get('beta'))} "
            f"(fitted on {n_used} width and data-size cells{reading}): fine-tuning width {int(r.width)} on "
            f"{r.D_F:,.0f} examples reaches the loss that "
            f"{r.D_E:,.0f} examples from scratch reach, so pre-training bought {fmt_count_estimate(r.D_T, jiv)} examples "
            f"({r.D_T / r.D_F:.1f}× the fine-tuning data)." + (" " + "; ".join(tail) + "." if tail else ""))
