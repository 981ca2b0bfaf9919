"""Architecture: does it change the compute exponent, or only the constant?"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scaling.core.config import STUDY_DEFAULTS
from scaling.core.fmt import fmt_count_estimate, fmt_estimate
from scaling.fit.runs import frontier_mask
from scaling.fit.studies.common import MIN_FRACTIONS, N_BOOT, _Cells, _defaults, _law, _one_family, _resample, _usable
from scaling.fit.studies.prose import _as_iv, _includes, _overlap, _overlap_words
from scaling.fit.studies.result import EXP_COLUMNS, _exp_row, _Result


@dataclass(frozen=True, eq=False)
class ArchStudy(_Result):
    """Architecture: does it change the compute exponent, or only the constant?

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
    exponents : DataFrame
        Per architecture (EXP_COLUMNS and arch): alpha_C of its frontier law L = A C^-alpha_C, C in
        FLOPs, with its interval.
    points : DataFrame
        Seed means per cell: arch, width_step, data_fraction, width, params, examples, flops, epochs,
        val_loss (mean over seeds), val_loss_std, n_seeds, and frontier (on its architecture's frontier).
    lines : DataFrame
        arch, flops, fit: each architecture's frontier law, for charts.
    target_loss : float
        The loss every architecture's frontier reaches: the largest of their lowest losses.
    compute : DataFrame
        arch, flops (to reach target_loss, by its law inverted), ratio (to the first architecture's,
        the CNN), lo, hi (the ratio's interval).
    """
    ok: bool
    answer: str
    n_runs: int
    family: dict
    exponents: pd.DataFrame
    points: pd.DataFrame
    lines: pd.DataFrame
    target_loss: float
    compute: pd.DataFrame
    key = "arch"
    title = "Architecture: does it change the compute exponent, or only the constant?"

    def _details(self):
        return [f"compute to reach loss {self.target_loss:.4g}: {r.arch} {r.flops:.3g} FLOP, "
                f"{fmt_count_estimate(r.ratio, _as_iv(r))}x the {self.compute['arch'].iloc[0]}'s"
                for r in self.compute.iloc[1:].itertuples()]


def _frontier_law(C: np.ndarray, L: np.ndarray):
    ok = np.isfinite(L)
    if ok.sum() < MIN_FRACTIONS:
        return None, np.zeros(C.size, bool)
    fm = np.zeros(C.size, bool)
    fm[np.flatnonzero(ok)] = frontier_mask(C[ok], L[ok])
    return _law(C[fm], L[fm]), fm


def study_arch(runs: pd.DataFrame, *, n_boot: int = N_BOOT, seed: int = 0, lr="tuned") -> ArchStudy:
    """Per architecture, the exponent of its compute-efficient frontier L(C) = A C^-alpha_C, and the
    constant as the compute each needs to reach a loss all of them reach (the largest of their
    frontiers' lowest losses), as a ratio to the first (cnn)."""
    df, fam = _one_family(_defaults(_usable(runs), "arch"), ("epochs",), axis="arch")
    archs = sorted(df["arch"].unique(), key=lambda a: (a != STUDY_DEFAULTS["arch"], a))
    empty = dict(n_runs=0, family=fam, exponents=pd.DataFrame(columns=EXP_COLUMNS + ["arch"]), points=pd.DataFrame(),
                 lines=pd.DataFrame(), target_loss=math.nan, compute=pd.DataFrame())
    if len(archs) < 2:
        have = f"only {archs[0]} runs" if archs else "no runs at all"
        other = "an MLP" if not archs or archs[0] == "cnn" else "the CNN"
        return ArchStudy(False, f"Needs runs of two architectures (the CNN and {other}) on the same widths and "
                                f"data fractions ({have} cached).", **empty)
    cells = _Cells(df, ["arch", "width_step", "data_fraction"], lr)
    c = cells.cells
    arch_of, C = c["arch"].to_numpy(), c["flops"].to_numpy(float)
    m0 = c["val_loss"].to_numpy(float)
    laws, fronts = {}, np.zeros(len(c), bool)
    for a in archs:
        sel = arch_of == a
        f, fm = _frontier_law(C[sel], m0[sel])
        laws[a] = f
        fronts[np.flatnonzero(sel)[fm]] = True
    short = [a for a in archs if laws[a] is None]
    if short:
        n = {a: int(fronts[arch_of == a].sum()) for a in short}
        return ArchStudy(False, "Needs runs at more widths and data fractions for " + " and ".join(
            f"the {a} (its compute-efficient frontier has {n[a]} configuration{'s' * (n[a] != 1)}; a law needs "
            f"{MIN_FRACTIONS})" for a in short) + ".", **{**empty, "n_runs": len(df)})
    # the loss every architecture's frontier reaches within its own runs: the law is inverted inside its data
    target = max(float(m0[(arch_of == a) & fronts].min()) for a in archs)

    def estimate(m: np.ndarray) -> dict:
        out = {}
        for a in archs:
            sel = arch_of == a
            f, _ = _frontier_law(C[sel], m[sel])
            out[("alpha", a)] = f.alpha if f is not None else math.nan
            out[("C", a)] = (f.A / target) ** (1 / f.alpha) if f is not None else math.nan
        for a in archs[1:]:
            out[("ratio", a)] = out[("C", a)] / out[("C", archs[0])]
            out[("dalpha", a)] = out[("alpha", a)] - out[("alpha", archs[0])]  # the effect on the exponent
        return out

    point = estimate(m0)
    iv, _ = _resample(cells, estimate, point, n_boot, seed, side="arch")  # each architecture as Compare resamples it
    rows, lines, comp = [], [], []
    for a in archs:
        sel = arch_of == a
        rows.append(_exp_row(a, point[("alpha", a)], iv.get(("alpha", a)), int((df["arch"] == a).sum()), arch=a))
        xs = np.geomspace(C[sel & fronts].min(), C[sel & fronts].max(), 40)
        lines.append(pd.DataFrame({"arch": a, "flops": xs, "fit": laws[a].predict(xs)}))
        r = iv.get(("ratio", a))
        comp.append(dict(arch=a, flops=point[("C", a)], ratio=point.get(("ratio", a), 1.0),
                         lo=r.lo if r else (1.0 if a == archs[0] else math.nan),
                         hi=r.hi if r else (1.0 if a == archs[0] else math.nan)))
    pts = c.assign(frontier=fronts)
    exps, compute = pd.DataFrame(rows), pd.DataFrame(comp)
    return ArchStudy(True, _arch_answer(archs, exps, compute, iv, target), len(df), fam, exps, pts,
                     pd.concat(lines, ignore_index=True), target, compute)


def _arch_answer(archs, exps, compute, iv, target) -> str:
    """The exponents, then the effects: the difference of exponents and the compute ratio, each read off
    its own interval; one that includes no effect (0, 1) is 'no measurable difference'."""
    base = archs[0]
    parts, moved, same = [], False, True
    for a in archs[1:]:
        o = _overlap(iv.get(("alpha", base)), iv.get(("alpha", a)))
        d = _includes(iv.get(("dalpha", a)), 0.0)
        moved |= d is False
        same &= d is True
        parts.append(f"{fmt_estimate(exps.set_index('arch').loc[a, 'value'], iv.get(('alpha', a)))} for the {a.upper()} "
                     f"({_overlap_words(o)})")
    head = (f"The compute exponent α_C is {fmt_estimate(exps.iloc[0]['value'], iv.get(('alpha', base)))} for the "
            f"{base.upper()} and " + "; ".join(parts) + ".")
    if moved:
        what = "The architecture changes the exponent"
    elif same:
        what = "No measurable difference in the exponent (the difference's 95% interval includes 0)"
    else:
        what = "No interval for the difference in the exponent yet"
    cmp = []
    for r in compute.iloc[1:].itertuples():
        ratio = f"{fmt_count_estimate(r.ratio, _as_iv(r))}×"
        if _includes(_as_iv(r), 1.0):
            cmp.append(f"no measurable difference in the compute to reach loss {target:.3g} ({r.arch.upper()} / "
                       f"{base.upper()}: {ratio}, an interval that includes 1)")
        else:
            cmp.append(f"to reach loss {target:.3g} the {r.arch.upper()} needs {ratio} the {base.upper()}'s compute")
    return f"{head} {what}; " + "; ".join(cmp) + "."
