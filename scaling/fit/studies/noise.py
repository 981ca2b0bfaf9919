"""Label noise: does it change the data exponent, or only the loss at small D?"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scaling.core.fmt import fmt_estimate, fmt_pct
from scaling.fit.intervals import Interval
from scaling.fit.studies.common import MIN_FRACTIONS, N_BOOT, _Cells, _defaults, _law, _one_family, _resample, _usable
from scaling.fit.studies.prose import _as_iv, _includes, _overlap, _overlap_words
from scaling.fit.studies.result import EXP_COLUMNS, _exp_row, _Result


@dataclass(frozen=True, eq=False)
class NoiseStudy(_Result):
    """Label noise: does it change the data exponent, or only the loss at small D?

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
    width : int or None
        The width (channels, not the step) the L(D) laws are fitted at.
    exponents : DataFrame
        Per label-noise level (EXP_COLUMNS and label_noise): alpha_D of L(D) = A D^-alpha_D, D in
        examples seen, with its interval.
    points : DataFrame
        Seed means per cell: label_noise, width_step, data_fraction, width, params, examples, flops,
        epochs, val_loss (mean over seeds), val_loss_std, n_seeds.
    lines : DataFrame
        label_noise, examples, fit: each level's fitted L(D), for charts.
    gaps : DataFrame
        label_noise, where ('smallest' or 'largest' D shared), examples, gap (its loss minus the loss
        without noise, in loss units), lo, hi.
    """
    ok: bool
    answer: str
    n_runs: int
    family: dict
    width: int | None
    exponents: pd.DataFrame
    points: pd.DataFrame
    lines: pd.DataFrame
    gaps: pd.DataFrame
    key = "noise"
    title = "Label noise: does it change the data exponent, or only the loss at small D?"

    def _details(self):
        return [f"loss with {fmt_pct(r.label_noise)} noise at the {r.where} D ({r.examples:,.0f}): "
                f"{_gap_text(r._asdict())} than without" for r in self.gaps.itertuples()]


def study_noise(runs: pd.DataFrame, *, n_boot: int = N_BOOT, seed: int = 0, lr="tuned") -> NoiseStudy:
    """Per label-noise level, the data exponent of L(D) = A D^-alpha_D (seed means at the widest
    width every level has at MIN_FRACTIONS data fractions), and the loss gap to no noise at the
    smallest and largest D they share."""
    df, fam = _one_family(_defaults(_usable(runs), "label_noise"), ("epochs",), axis="label_noise")
    empty = dict(n_runs=0, family=fam, width=None, exponents=pd.DataFrame(columns=EXP_COLUMNS + ["label_noise"]),
                 points=pd.DataFrame(), lines=pd.DataFrame(), gaps=pd.DataFrame())
    levels = sorted(float(x) for x in df["label_noise"].unique())
    if 0.0 not in levels or len(levels) < 2:
        have = "no runs at all" if not levels else "only label noise " + ", ".join(fmt_pct(x) for x in levels)
        lacking = "label noise 0 and label noise above 0 (e.g. 20%)" if not levels else \
            ("label noise 0 (the baseline)" if 0.0 not in levels else "label noise above 0 (e.g. 20%)")
        return NoiseStudy(False, f"Needs runs with {lacking} at {MIN_FRACTIONS} or more data fractions at one "
                                 f"width ({have} cached).", **empty)
    nfrac = df.groupby(["label_noise", "width_step"])["data_fraction"].nunique()
    widths = [w for w in sorted(df["width_step"].unique(), reverse=True)
              if all(nfrac.get((lv, w), 0) >= MIN_FRACTIONS for lv in levels)]
    if not widths:
        w = int(df.loc[df["label_noise"] == 0.0, "width_step"].max())
        wd = int(df.loc[df["width_step"] == w, "width"].iloc[0])
        short = [fmt_pct(lv) for lv in levels if nfrac.get((lv, w), 0) < MIN_FRACTIONS]
        return NoiseStudy(False, f"Needs runs at {MIN_FRACTIONS} or more data fractions at width {wd} with "
                                 f"{' and '.join(short)} label noise.", **empty)
    w = int(widths[0])
    sub = df[df["width_step"] == w]
    cells = _Cells(sub, ["label_noise", "width_step", "data_fraction"], lr)
    c = cells.cells
    lv, D = c["label_noise"].to_numpy(float), c["examples"].to_numpy(float)
    shared = sorted(set.intersection(*(set(D[lv == x]) for x in levels)))
    ends = [("smallest", shared[0]), ("largest", shared[-1])] if shared else []

    def estimate(m: np.ndarray) -> dict:
        out = {}
        for x in levels:
            f = _law(D[lv == x], m[lv == x])
            out[("alpha", x)] = f.alpha if f is not None else math.nan
        for x in levels[1:]:
            out[("dalpha", x)] = out[("alpha", x)] - out[("alpha", 0.0)]  # the effect on the exponent
        for where, d in ends:
            base = m[(lv == 0.0) & (D == d)][0]
            for x in levels[1:]:
                out[("gap", x, where)] = m[(lv == x) & (D == d)][0] - base
        return out

    m0 = c["val_loss"].to_numpy(float)
    point = estimate(m0)
    iv, _ = _resample(cells, estimate, point, n_boot, seed, side="label_noise")  # each level as Compare resamples it
    lines, rows = [], []
    for x in levels:
        f = _law(D[lv == x], m0[lv == x])
        n = int(sub.loc[sub["label_noise"] == x].shape[0])
        rows.append(_exp_row(f"label noise {fmt_pct(x)}", point[("alpha", x)], iv.get(("alpha", x)), n, label_noise=x))
        if f is not None:
            xs = np.geomspace(D[lv == x].min(), D[lv == x].max(), 40)
            lines.append(pd.DataFrame({"label_noise": x, "examples": xs, "fit": f.predict(xs)}))
    gaps = pd.DataFrame([dict(label_noise=x, where=where, examples=d, gap=point[("gap", x, where)],
                              lo=iv[("gap", x, where)].lo if ("gap", x, where) in iv else math.nan,
                              hi=iv[("gap", x, where)].hi if ("gap", x, where) in iv else math.nan)
                         for x in levels[1:] for where, d in ends])
    exps = pd.DataFrame(rows)
    width = int(c["width"].iloc[0])
    return NoiseStudy(True, _noise_answer(exps, gaps, iv, width), len(sub), fam, width, exps, c,
                      pd.concat(lines, ignore_index=True) if lines else pd.DataFrame(columns=["label_noise", "examples", "fit"]),
                      gaps)


def _gap_text(r) -> str:
    """'0.12 [0.10, 0.14] higher' (or lower: a gap below zero, its interval mirrored)."""
    sign = 1 if r["gap"] >= 0 else -1
    iv = _as_iv(r)
    if _includes(iv, 0.0):
        return f"shows no measurable difference ({fmt_estimate(r['gap'], iv, 3)}, an interval that includes 0)"
    iv = iv if sign > 0 or iv is None else Interval(-iv.hi, -iv.lo, 1)
    return f"is {fmt_estimate(sign * r['gap'], iv, 3)} {'higher' if sign > 0 else 'lower'}"


def _noise_answer(exps: pd.DataFrame, gaps: pd.DataFrame, iv: dict, width: int) -> str:
    base = exps.iloc[0]
    if not math.isfinite(base["value"]):
        return f"No data exponent could be fitted at width {width} without label noise."
    b_iv = iv.get(("alpha", 0.0))
    parts, moved = [], False
    for r in exps.iloc[1:].itertuples():
        if not math.isfinite(r.value):
            parts.append(f"at {fmt_pct(r.label_noise)} label noise no law could be fitted")
            continue
        o = _overlap(b_iv, iv.get(("alpha", r.label_noise)))
        moved |= _includes(iv.get(("dalpha", r.label_noise)), 0.0) is False  # the difference's own interval
        parts.append(f"{fmt_estimate(r.value, iv.get(('alpha', r.label_noise)))} at {fmt_pct(r.label_noise)} label noise "
                     f"({_overlap_words(o)})")
    head = (f"At width {width}, the data exponent moves from {fmt_estimate(base['value'], b_iv)} without label noise "
            f"to " + "; ".join(parts) + ".")
    same = all(_includes(iv.get(("dalpha", x)), 0.0) for x in exps["label_noise"].iloc[1:])
    verdict = ("Label noise changes the data exponent" if moved else
               "No measurable difference in the exponent (each difference's 95% interval includes 0): label noise "
               "shifts the loss" if same else "The exponent does not move beyond its intervals: label noise shifts the loss")
    if len(gaps):
        g = gaps[gaps["label_noise"] == gaps["label_noise"].max()].set_index("where")
        verdict += (f"; with {fmt_pct(g['label_noise'].iloc[0])} noise the loss {_gap_text(g.loc['smallest'])} at the "
                    f"smallest D ({g.loc['smallest', 'examples']:,.0f}) and {_gap_text(g.loc['largest'])} at the "
                    f"largest ({g.loc['largest', 'examples']:,.0f})")
    return head + " " + verdict + "."
