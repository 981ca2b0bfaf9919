"""Studies beyond the exercise: one question each, answered from the cached runs with 95% intervals.

    study_noise       does label noise change the data exponent, or only the loss at small D?
    study_arch        does the architecture change the compute exponent, or only the constant?
    study_transfer    how much data does pre-training on other digits buy? (Hernandez et al. 2021)
    study_bottleneck  with D fixed and several epochs, where does growing N stop helping, and does
                      it overfit past there? (Kaplan et al. 2020, section 4)

Each takes every cached run (any status, any axis), keeps what its question needs (status ok, the
newest protocol, one family: the most common dataset, dropout, lr rule, batch size and precision),
averages seeds per cell with the learning rate chosen as fit.runs chooses it (lr 'tuned': the best
cached multiplier of each cell, chosen again in every resample), fits, and resamples seeds for the
intervals exactly as fit.analysis does (Resampler: whole seeds with 5 or more, else seeds within
each data fraction; widened by sqrt(n/(n-1))). Seeds are drawn jointly for every setting of a study:
a seed fixes the data subset that every setting of it shares, so the settings are compared on
paired draws.

Not enough data is an answer too, not an exception: `ok` is False and `answer` names the runs that
are missing ("needs runs at 3 or more data fractions at width 23 with 20% label noise").
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from types import SimpleNamespace

import numpy as np
import pandas as pd

from ..config import STUDY_DEFAULTS
from ._util import Interval, bootstrap_interval, jsonable, one_blas_thread
from .analysis import Resampler
from .laws import fit_kaplan, fit_power_law
from .runs import _group_codes

FAMILY = ("dataset", "dropout", "lr_rule", "batch_size", "precision")
MIN_FRACTIONS = 3   # a power law in D from fewer data sizes has no check on its form
MIN_WIDTHS = 3      # a plateau in N needs a rise, a bend and a flat part
KAPLAN_BOUND = 4.9  # fit_kaplan bounds its exponents at 5: a fit that reaches it describes nothing
PLATEAU_TOL = 0.02  # the plateau starts within 2% of the best loss at that D (or the seed noise, if larger)
N_BOOT = 200
LEVEL = 0.95


# ---------------------------------------------------------------- shared pieces

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


@one_blas_thread()
def _resample(cells: _Cells, estimate, point: dict, n_boot: int, seed: int) -> tuple[dict, dict]:
    """Intervals (name -> Interval) and samples of every finite scalar of `point`, re-estimated on
    n_boot seed resamples; a resample whose estimate refuses (ValueError) or lacks a name is NaN there."""
    names = [k for k, v in point.items() if isinstance(v, (int, float)) and math.isfinite(v)]
    samples = {k: np.full(n_boot, np.nan) for k in names}
    if n_boot <= 0 or not names or len(cells.runs) == 0:
        return {}, samples
    draw = Resampler(SimpleNamespace(runs=cells.runs))
    rng = np.random.default_rng(seed)
    for i in range(n_boot):
        try:
            r = estimate(cells.means(draw.weights(rng)))
        except ValueError:
            continue
        for k in names:
            samples[k][i] = r.get(k, np.nan)
    intervals = {k: _scale_interval(samples[k], point[k], draw) if _is_scale(k) else
                 bootstrap_interval(samples[k], point[k], LEVEL, "percentile", draw.scheme, draw.inflate)
                 for k in names}
    return intervals, samples


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


def _iv_text(v: float, iv: Interval | None, digits: int = 2) -> str:
    """'0.66 [0.60, 0.69]' (or the value alone where no interval could be made); a digit more where
    the interval is too narrow for two to tell its ends apart."""
    if iv is None or not math.isfinite(iv.lo):
        return f"{v:.{digits}f}"
    if iv.hi - iv.lo < 2 * 10.0 ** -digits:
        digits += 1
    f = f"{{:.{digits}f}}"
    return f"{f.format(v)} [{f.format(iv.lo)}, {f.format(iv.hi)}]"


def _num(x: float) -> str:
    """Counts and ratios as people read them: 3.2, 42, 1,300, 2.1e+06."""
    if not math.isfinite(x):
        return "?"
    a = abs(x)
    return f"{x:.2f}" if a < 10 else f"{x:,.0f}" if a < 1e6 else f"{x:.2g}"


def _iv_num(v: float, iv: Interval | None) -> str:
    if iv is None or not math.isfinite(iv.lo):
        return _num(v)
    return f"{_num(v)} [{_num(iv.lo)}, {_num(iv.hi)}]"


def _overlap(a: Interval | None, b: Interval | None) -> bool | None:
    if a is None or b is None or not (math.isfinite(a.lo) and math.isfinite(b.lo)):
        return None
    return bool(a.lo <= b.hi and b.lo <= a.hi)


def _overlap_words(o: bool | None) -> str:
    return {True: "the intervals overlap", False: "the intervals do not overlap", None: "no intervals yet"}[o]


def _exp_row(setting: str, value: float, iv: Interval | None, n_runs: int, **extra) -> dict:
    return dict(setting=setting, value=value, lo=iv.lo if iv else math.nan, hi=iv.hi if iv else math.nan,
                answered=iv.answered() if iv else "", reliable=bool(iv and iv.reliable), n_runs=n_runs, **extra)


EXP_COLUMNS = ["setting", "value", "lo", "hi", "answered", "reliable", "n_runs"]


class _Result:
    """to_dict and format shared by the study results (frozen dataclasses)."""
    key = ""
    title = ""

    def to_dict(self) -> dict:
        return jsonable({"study": self.key, **{f.name: getattr(self, f.name) for f in fields(self)}})

    def format(self) -> str:
        lines = [f"{self.title}", f"  {self.answer}"]
        if self.ok or len(self.exponents):
            lines.append(f"  runs used: {self.n_runs}; family: "
                         + ", ".join(f"{k} {v}" for k, v in self.family.items()))
            for r in self.exponents.itertuples():
                iv = f" [{r.lo:.3f}, {r.hi:.3f}] ({r.answered})" if math.isfinite(r.lo) else ""
                lines.append(f"  {r.setting:<28} {r.value:.3f}{iv}" if math.isfinite(r.value)
                             else f"  {r.setting:<28} cannot be estimated")
        lines += [f"  {x}" for x in self._details()]
        return "\n".join(lines)

    def _details(self) -> list[str]:
        return []


def _pct(x: float) -> str:
    return f"{x:.0%}" if abs(x * 100 - round(x * 100)) < 1e-9 else f"{x:.1%}"


# ---------------------------------------------------------------- label noise

@dataclass(frozen=True, eq=False)
class NoiseStudy(_Result):
    ok: bool
    answer: str
    n_runs: int
    family: dict
    width: int | None                # the width the L(D) laws are fitted at
    exponents: pd.DataFrame          # per label-noise level: the data exponent of L(D) = A D^-alpha_D
    points: pd.DataFrame             # label_noise, data_fraction, examples, val_loss (seed mean), std, n_seeds
    lines: pd.DataFrame              # label_noise, examples, fit
    gaps: pd.DataFrame               # label_noise, where (smallest/largest D), examples, gap, lo, hi
    key = "noise"
    title = "Label noise: does it change the data exponent, or only the loss at small D?"

    def _details(self):
        return [f"loss with {_pct(r.label_noise)} noise at the {r.where} D ({r.examples:,.0f}): "
                f"{_gap_text(r._asdict())} than without" for r in self.gaps.itertuples()]


def _as_iv(r) -> Interval | None:
    """A table row's lo and hi (a row, a record or a named tuple) as an Interval, None where there is none."""
    lo, hi = (r["lo"], r["hi"]) if isinstance(r, (dict, pd.Series)) else (r.lo, r.hi)
    return Interval(lo, hi, 1) if math.isfinite(lo) else None


def study_noise(runs: pd.DataFrame, *, n_boot: int = N_BOOT, seed: int = 0, lr="tuned") -> NoiseStudy:
    """Per label-noise level, the data exponent of L(D) = A D^-alpha_D (seed means at the widest
    width every level has at MIN_FRACTIONS data fractions), and the loss gap to no noise at the
    smallest and largest D they share."""
    df, fam = _one_family(_defaults(_usable(runs), "label_noise"), ("epochs",), axis="label_noise")
    empty = dict(n_runs=0, family=fam, width=None, exponents=pd.DataFrame(columns=EXP_COLUMNS + ["label_noise"]),
                 points=pd.DataFrame(), lines=pd.DataFrame(), gaps=pd.DataFrame())
    levels = sorted(float(x) for x in df["label_noise"].unique())
    if 0.0 not in levels or len(levels) < 2:
        have = "no runs at all" if not levels else "only label noise " + ", ".join(_pct(x) for x in levels)
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
        short = [_pct(lv) for lv in levels if nfrac.get((lv, w), 0) < MIN_FRACTIONS]
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
        for where, d in ends:
            base = m[(lv == 0.0) & (D == d)][0]
            for x in levels[1:]:
                out[("gap", x, where)] = m[(lv == x) & (D == d)][0] - base
        return out

    m0 = c["val_loss"].to_numpy(float)
    point = estimate(m0)
    iv, _ = _resample(cells, estimate, point, n_boot, seed)
    lines, rows = [], []
    for x in levels:
        f = _law(D[lv == x], m0[lv == x])
        n = int(sub.loc[sub["label_noise"] == x].shape[0])
        rows.append(_exp_row(f"label noise {_pct(x)}", point[("alpha", x)], iv.get(("alpha", x)), n, label_noise=x))
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
    iv = iv if sign > 0 or iv is None else Interval(-iv.hi, -iv.lo, 1)
    return f"{_iv_text(sign * r['gap'], iv, 3)} {'higher' if sign > 0 else 'lower'}"


def _noise_answer(exps: pd.DataFrame, gaps: pd.DataFrame, iv: dict, width: int) -> str:
    base = exps.iloc[0]
    if not math.isfinite(base["value"]):
        return f"No data exponent could be fitted at width {width} without label noise."
    b_iv = iv.get(("alpha", 0.0))
    parts, moved = [], False
    for r in exps.iloc[1:].itertuples():
        if not math.isfinite(r.value):
            parts.append(f"at {_pct(r.label_noise)} label noise no law could be fitted")
            continue
        o = _overlap(b_iv, iv.get(("alpha", r.label_noise)))
        moved |= o is False
        parts.append(f"{_iv_text(r.value, iv.get(('alpha', r.label_noise)))} at {_pct(r.label_noise)} label noise "
                     f"({_overlap_words(o)})")
    head = (f"At width {width}, the data exponent moves from {_iv_text(base['value'], b_iv)} without label noise "
            f"to " + "; ".join(parts) + ".")
    verdict = ("Label noise changes the data exponent" if moved else
               "The exponent does not move beyond its intervals: label noise shifts the loss")
    if len(gaps):
        g = gaps[gaps["label_noise"] == gaps["label_noise"].max()].set_index("where")
        verdict += (f"; with {_pct(g['label_noise'].iloc[0])} noise the loss is {_gap_text(g.loc['smallest'])} at the "
                    f"smallest D ({g.loc['smallest', 'examples']:,.0f}) and {_gap_text(g.loc['largest'])} at the "
                    f"largest ({g.loc['largest', 'examples']:,.0f})")
    return head + " " + verdict + "."


# ---------------------------------------------------------------- architecture

@dataclass(frozen=True, eq=False)
class ArchStudy(_Result):
    ok: bool
    answer: str
    n_runs: int
    family: dict
    exponents: pd.DataFrame          # per arch: alpha_C of the frontier law L = A C^-alpha_C
    points: pd.DataFrame             # arch, width, data_fraction, params, examples, flops, val_loss, frontier
    lines: pd.DataFrame              # arch, flops, fit
    target_loss: float               # the loss every architecture's frontier reaches
    compute: pd.DataFrame            # arch, flops to reach target_loss (the law inverted), ratio to the baseline, lo, hi
    key = "arch"
    title = "Architecture: does it change the compute exponent, or only the constant?"

    def _details(self):
        return [f"compute to reach loss {self.target_loss:.4g}: {r.arch} {r.flops:.3g} FLOP, "
                f"{_iv_num(r.ratio, _as_iv(r))}x the {self.compute['arch'].iloc[0]}'s"
                for r in self.compute.iloc[1:].itertuples()]


def _frontier_law(C: np.ndarray, L: np.ndarray):
    from .runs import frontier_mask

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
        return out

    point = estimate(m0)
    iv, _ = _resample(cells, estimate, point, n_boot, seed)
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
    base = archs[0]
    parts, moved = [], False
    for a in archs[1:]:
        o = _overlap(iv.get(("alpha", base)), iv.get(("alpha", a)))
        moved |= o is False
        parts.append(f"{_iv_text(exps.set_index('arch').loc[a, 'value'], iv.get(('alpha', a)))} for the {a.upper()} "
                     f"({_overlap_words(o)})")
    head = (f"The compute exponent α_C is {_iv_text(exps.iloc[0]['value'], iv.get(('alpha', base)))} for the "
            f"{base.upper()} and " + "; ".join(parts) + ".")
    what = "The architecture changes the exponent" if moved else \
        "On these runs the architecture changes the constant, not the exponent"
    cmp = "; ".join(f"to reach loss {target:.3g} the {r.arch.upper()} needs {_iv_num(r.ratio, _as_iv(r))}× the {base.upper()}'s "
                    "compute" for r in compute.iloc[1:].itertuples())
    return f"{head} {what}; {cmp}."


# ---------------------------------------------------------------- transfer

@dataclass(frozen=True, eq=False)
class TransferStudy(_Result):
    ok: bool
    answer: str
    n_runs: int
    family: dict
    target: str                      # the digits fine-tuned on (and scratch-trained on)
    source: str                      # the digits pre-trained on
    exponents: pd.DataFrame          # alpha (of D_F) and beta (of N) of D_T = k D_F^alpha N^beta
    scratch: pd.DataFrame            # from-scratch cells: width, params, data_fraction, examples, val_loss
    scratch_lines: pd.DataFrame      # width, examples, fit (L(D) per width)
    points: pd.DataFrame             # fine-tuned cells: width, params, D_F, val_loss, D_E, D_T (lo, hi), extrapolated, used
    k: float
    alpha: float
    beta: float
    intervals: dict                  # k, alpha, beta -> Interval
    fit_line: pd.DataFrame           # width, params, D_F, D_T (the fitted law)
    key = "transfer"
    title = "Transfer: how much data does pre-training on other digits buy? (Hernandez et al. 2021)"

    def _details(self):
        if not len(self.points):
            return []
        out = [f"D_T = k · D_F^α · N^β: k = {_iv_num(self.k, self.intervals.get('k'))}"]
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
    return (f"Pre-training on digits {sname} is worth D_T = {_num(k)}·D_F^{a:.2f}·N^{b:.2f} examples of digits "
            f"{tname}, with α = {_iv_text(a, intervals.get('alpha'))} and β = {_iv_text(b, intervals.get('beta'))} "
            f"(fitted on {n_used} width and data-size cells{reading}): fine-tuning width {int(r.width)} on "
            f"{r.D_F:,.0f} examples reaches the loss that "
            f"{r.D_E:,.0f} examples from scratch reach, so pre-training bought {_iv_num(r.D_T, jiv)} examples "
            f"({r.D_T / r.D_F:.1f}× the fine-tuning data)." + (" " + "; ".join(tail) + "." if tail else ""))


# ---------------------------------------------------------------- the data bottleneck

@dataclass(frozen=True, eq=False)
class BottleneckStudy(_Result):
    ok: bool
    answer: str
    n_runs: int
    family: dict
    epochs: int | None
    exponents: pd.DataFrame          # p of N_p = c D^p
    points: pd.DataFrame             # data_fraction, distinct, width, params, val_loss (seed mean), std, n_seeds
    plateaus: pd.DataFrame           # per D: distinct, N_p (lo, hi), N_best, L_best, tolerance, overfits, rise, censored
    p: float
    interval: Interval | None
    line: pd.DataFrame               # distinct, N_p (the fitted law)
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
    answer = (f"With D fixed and {epochs} epochs, growing N stops helping at N_p ∝ D^{_iv_text(p, iv.get('p'))}: "
              f"Kaplan's L(N, D) fitted to the seed means (final loss, no early stopping; RMS log error "
              f"{np.sqrt(np.mean(kf.residuals ** 2)):.2f}) puts the plateau, where its model and data terms are "
              f"equal, at N = {n_p(d0):,.0f} parameters for D = {d0:,.0f} and {n_p(d1):,.0f} for D = {d1:,.0f} "
              f"(Kaplan et al.'s language models: D ∝ N^0.74, i.e. p = 1.35). {over}.")
    return BottleneckStudy(True, answer, len(df), fam, epochs, exps, pts, pl, p, iv.get("p"), line)


STUDIES = {"noise": study_noise, "arch": study_arch, "transfer": study_transfer, "bottleneck": study_bottleneck}


def study(key: str, runs: pd.DataFrame, **kw):
    """The answer of one study (a key of STUDIES) on these runs."""
    if key not in STUDIES:
        raise ValueError(f"unknown study {key!r} (one of {', '.join(STUDIES)})")
    return STUDIES[key](runs, **kw)
