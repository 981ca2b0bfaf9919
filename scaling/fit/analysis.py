"""The study's answers for a selection of runs, with bootstrap intervals.

analyze        frontier, loss-vs-compute law, L(N) and L(D) slices, N_opt three ways, intervals
bootstrap      resample runs with replacement, refit everything, percentile intervals
backtest       fit below a compute cut-off, predict the held-out frontier, report the error
compare        two selections side by side, with P(first exponent > second)
fit_table      the parametric L(N, D) fit on any table (the CLI's --csv path)
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scaling.fit import resample
from scaling.fit._util import Interval, bootstrap_interval, jsonable, one_blas_thread
from scaling.fit.laws import KaplanFit, ParametricFit, PowerLawFit, fit_kaplan, fit_parametric, fit_power_law
from scaling.fit.nopt import NoptFit, envelope_arrays, isoflop_arrays, parametric_arrays
from scaling.fit.resample import CLUSTER_MIN_SEEDS, SCHEMES, Resampler  # noqa: F401  (their home before resample.py)
from scaling.fit.runs import Aggregate, ComputeLaw, Prepared, _aggregate_prepared, frontier, frontier_mask, lr_tuning
from scaling.fit.verdict import verdict

ESTIMATORS = ("envelope", "isoflop", "parametric")
NOPT_NAMES = {"envelope": "lower envelope", "isoflop": "IsoFLOP profiles", "parametric": "parametric L(N, D)"}
SLICES = ("loss_vs_params", "loss_vs_data")  # L(N) at the largest D, L(D) at the largest N
# bootstrap sample name -> what it is (all are reported with an interval)
QUANTITIES = {
    "alpha_C": "loss vs compute exponent, L = (E +) A C^-alpha_C (frontier)",
    "E_C": "irreducible loss of the loss-vs-compute law",
    "alpha_N": "slice: L(N) exponent at the largest data size only (biased low by the B/D^beta term; "
               "not the parametric alpha)",
    "alpha_D": "slice: L(D) exponent at the largest width only (biased low by the A/N^alpha term; "
               "not the parametric beta)",
    "a_envelope": "N_opt exponent, lower envelope",
    "a_isoflop": "N_opt exponent, IsoFLOP profiles",
    "a_parametric": "N_opt exponent, parametric L(N, D)",
    "alpha": "parametric L(N, D): N exponent",
    "beta": "parametric L(N, D): D exponent",
    "E": "parametric L(N, D): irreducible loss",
    "a": "parametric L(N, D): beta/(alpha+beta), the N_opt exponent if C were proportional to N D",
}


def _try(fn, *args, **kw):
    """(result, '') or (None, reason) when the fit refuses its input."""
    try:
        return fn(*args, **kw), ""
    except ValueError as e:
        return None, str(e)


def _estimate(p: Prepared, w: np.ndarray, *, irreducible: bool, init: dict | None = None,
              skip: frozenset = frozenset()) -> dict:
    """Every point estimate for one resample (w = times each run is drawn).

    With init (the full-data estimates) the fits start from it instead of a grid, and the
    chart tables are skipped: that keeps 200 bootstrap refits of everything to a few seconds.
    """
    mean, use, cnt = p.select(w)
    if not use.any():
        excl = ", ".join(f"{k} {v}" for k, v in sorted(p.excluded.items())) or "none"
        raise ValueError(f"no usable runs in this selection ({len(w)} ok; excluded: {excl})")
    N, D, C, L, model = p.N[use], p.D[use], p.C[use], mean[use], p.model[use]
    fm = frontier_mask(C, L)
    warm = init is not None

    def pl(x, y, key):
        if key in skip:
            return None, "skipped"
        kw = dict(n_starts=0, init=init[key]) if warm and init[key] is not None else {}
        return _try(fit_power_law, x, y, irreducible, **kw)

    r = dict(n_runs=int(cnt[use].sum()), use=use, mean=mean, frontier=fm)
    r["loss_vs_compute"], r["loss_vs_compute_reason"] = pl(C[fm], L[fm], "loss_vs_compute")
    big_d, big_n = D == D.max(), N == N.max()
    r["loss_vs_params"], r["loss_vs_params_reason"] = pl(N[big_d], L[big_d], "loss_vs_params")
    r["loss_vs_data"], r["loss_vs_data_reason"] = pl(D[big_n], L[big_n], "loss_vs_data")
    n = r["n_runs"]
    if "envelope" not in skip:
        cc, cC, cL = p.curve_points(w, use)
        r["envelope"] = envelope_arrays(np.r_[model, p.model[cc]], np.r_[N, p.N[cc]],
                                        np.r_[C, cC], np.r_[L, cL], n, light=warm)
    if "isoflop" not in skip:
        r["isoflop"] = isoflop_arrays(model, N, C, L, n, light=warm)
    if "parametric" not in skip:
        pinit = init.get("parametric_fit") if warm else None
        r["parametric"], r["parametric_fit"] = parametric_arrays(
            N, D, C, L, p.compute, n, init=pinit, n_starts=0 if pinit is not None else 8,
            light=warm)
    return r


def _scalars(r: dict) -> dict:
    def ex(key, attr):
        f = r.get(key)
        return getattr(f, attr) if f is not None else math.nan

    out = dict(alpha_C=ex("loss_vs_compute", "alpha"), alpha_N=ex("loss_vs_params", "alpha"),
               alpha_D=ex("loss_vs_data", "alpha"))
    f = r.get("loss_vs_compute")
    out["E_C"] = f.E if f is not None and f.irreducible else math.nan
    for m in ESTIMATORS:
        out[f"a_{m}"] = r[m].a if m in r and r[m].ok else math.nan
    pf = r.get("parametric_fit")
    ok = "parametric" in r and r["parametric"].ok
    for k in ("alpha", "beta", "E", "a"):
        out[k] = getattr(pf, k) if pf is not None and ok else math.nan
    return out


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    samples: dict                 # name -> array of n_boot values (NaN where the refit failed)
    intervals: dict               # name -> Interval
    n_boot: int
    seed: int
    scheme: str = "runs"          # what was resampled (see Resampler)
    laws: np.ndarray | None = None  # [n_boot, 3]: A, alpha, E of the loss-vs-compute law per resample
    inflate: float = 1.0          # the small-sample widening the intervals were given (Resampler.inflate)
    reason: str = ""              # why there are no intervals at all (resample.no_interval; none drawn then)
    note: str = ""                # what the intervals are on partial data (resample.partial_note)

    def band(self, C, level: float = 0.95) -> tuple[np.ndarray, np.ndarray] | None:
        """Pointwise interval of the loss-vs-compute law at compute C, from the same resamples as
        alpha_C's interval; None without resampled laws."""
        if self.laws is None or not np.isfinite(self.laws[:, 0]).any():
            return None
        A, al, E = self.laws[np.isfinite(self.laws[:, 0])].T
        pred = E[:, None] + A[:, None] * np.asarray(C, float)[None, :] ** -al[:, None]
        return tuple(np.quantile(pred, [(1 - level) / 2, (1 + level) / 2], axis=0))

    def prob_greater(self, other: "BootstrapResult", name: str) -> float:
        """P(this selection's `name` > other's), from independent resamples paired by index; a tie
        counts half (two identical selections share their resamples: P = 1/2, not 0)."""
        a, b = self.samples[name], other.samples[name]
        m = min(a.size, b.size)
        ok = np.isfinite(a[:m]) & np.isfinite(b[:m])
        if not ok.any():
            return math.nan
        a, b = a[:m][ok], b[:m][ok]
        return float(np.mean(a > b) + 0.5 * np.mean(a == b))

    def to_dict(self) -> dict:
        return jsonable(dict(intervals=self.intervals, n_boot=self.n_boot, seed=self.seed, scheme=self.scheme,
                             no_interval=self.reason, note=self.note))


PROGRESS_EVERY = 5  # resamples between two calls of analyze's progress callback
# Percentile intervals widened by Resampler.inflate: chosen by benchmarks/calibration.py (README)
INTERVAL_METHOD = "percentile"


@one_blas_thread()
def _bootstrap(p: Prepared, point: dict, *, irreducible, n_boot, seed, level, scheme=None,
               progress=None) -> BootstrapResult:
    rng = np.random.default_rng(seed)
    draw = Resampler(p, scheme)
    if why := resample.no_interval(draw):  # every resample would be the data itself: a point, not an interval
        return BootstrapResult({}, {}, n_boot, seed, draw.scheme, None, draw.inflate, reason=why)
    est = _scalars(point)
    names = [k for k, v in est.items() if np.isfinite(v)]
    skip = frozenset([m for m in ESTIMATORS if not (m in point and point[m].ok)]
                     + [k for k in SLICES if point[k] is None])
    samples = {k: np.full(n_boot, np.nan) for k in names}
    laws = np.full((n_boot, 3), np.nan)  # A, alpha, E of each resample's loss-vs-compute law (the band)
    for i in range(n_boot):
        if progress is not None and i % PROGRESS_EVERY == 0:
            progress(i, n_boot)  # a page's yield point: a slider moved meanwhile stops this run here
        try:
            r = _estimate(p, draw.weights(rng), irreducible=irreducible, init=point, skip=skip)
        except ValueError:
            continue
        vals = _scalars(r)
        for k in names:
            samples[k][i] = vals[k]
        f = r.get("loss_vs_compute")
        if f is not None:
            laws[i] = f.A, f.alpha, f.E
    intervals = {k: bootstrap_interval(v, est[k], level, INTERVAL_METHOD, draw.scheme, draw.inflate)
                 for k, v in samples.items()}
    return BootstrapResult(samples, intervals, n_boot, seed, draw.scheme, laws, draw.inflate,
                           note=resample.partial_note(p, draw))


def bootstrap(runs: pd.DataFrame, curves: pd.DataFrame | None = None, *, n_boot: int = 200,
              seed: int = 0, lr="tuned", irreducible: bool = False,
              level: float = 0.95) -> BootstrapResult:
    """Resample (seeds, or runs within configurations: see Resampler) and redo everything: seed
    means, lr choice, frontier, fits."""
    p = Prepared(runs, curves, lr)
    p.check_single_family()
    point = _estimate(p, np.ones(len(p.runs)), irreducible=irreducible)
    return _bootstrap(p, point, irreducible=irreducible, n_boot=n_boot, seed=seed, level=level)


# ---------------------------------------------------------------- analyze

@dataclass(frozen=True, eq=False)
class Analysis:
    aggregate: Aggregate
    frontier: pd.DataFrame
    loss_vs_compute: PowerLawFit | None   # None with a reason in notes when it cannot be fitted
    loss_vs_params: PowerLawFit | None    # L(N) at the largest data size
    loss_vs_data: PowerLawFit | None      # L(D) at the largest width
    nopt: dict[str, NoptFit]              # envelope, isoflop, parametric
    parametric: ParametricFit | None
    kaplan: KaplanFit | None              # Kaplan's joint L(N, D), point estimate only
    compute: ComputeLaw                   # C = c_per N D (median); C = kappa N^gamma D (fit)
    n_runs: int
    excluded: dict
    intervals: dict                       # name -> Interval (empty when n_boot = 0)
    notes: tuple = ()
    boot: BootstrapResult | None = None

    def scalars(self) -> dict:
        """Every exponent by its QUANTITIES name (NaN where it could not be estimated)."""
        return _scalars(dict(loss_vs_compute=self.loss_vs_compute, loss_vs_params=self.loss_vs_params,
                             loss_vs_data=self.loss_vs_data, parametric_fit=self.parametric, **self.nopt))

    @property
    def no_interval(self) -> str:
        """'' or why this selection has no intervals though they were asked for (one seed, ...)."""
        return self.boot.reason if self.boot is not None else ""

    def off_interval(self, name: str) -> str:
        """'' or why the estimate `name` (a QUANTITIES name) lies at an end of its interval or outside it."""
        return resample.off_interval(self.scalars().get(name, math.nan), self.intervals.get(name),
                                     self.boot.note if self.boot is not None else "")

    def to_dict(self) -> dict:
        return jsonable(dict(
            n_runs=self.n_runs, excluded=self.excluded, lr=self.aggregate.lr,
            compute=self.compute,
            points=self.aggregate.points, frontier=self.frontier,
            loss_vs_compute=self.loss_vs_compute,
            loss_vs_params=self.loss_vs_params, loss_vs_data=self.loss_vs_data,
            nopt=self.nopt, parametric=(self.parametric.to_dict(full=True)
                                        if self.parametric else None),
            kaplan=self.kaplan,
            intervals=self.intervals, notes=list(self.notes), no_interval=self.no_interval,
            interval_note=self.boot.note if self.boot is not None else "",
            off_interval={k: w for k in self.intervals if (w := self.off_interval(k))},
            lr_choice=self.aggregate.lr_choice, lr_tuning=lr_tuning(self.aggregate), verdict=verdict(self)))


def analyze(runs: pd.DataFrame, curves: pd.DataFrame | None = None, *, lr="tuned",
            irreducible: bool = False, n_boot: int = 200, seed: int = 0,
            level: float = 0.95, estimators: tuple = ESTIMATORS, extras: bool = True,
            scheme: str | None = None, progress=None) -> Analysis:
    """The whole answer for one selection (one sweep: a dataset, a dropout, ...).

    n_boot=0 gives the point estimates alone, fast enough to draw at once; intervals can be
    added by calling again with n_boot > 0. `estimators` (a subset of ESTIMATORS) and
    extras=False (no L(N) and L(D) slices, no Kaplan form) leave out what a first draw does not
    show: the parametric fit is most of the time of a point estimate. progress(i, n_boot), if
    given, is called every PROGRESS_EVERY resamples.
    """
    unknown = set(estimators) - set(ESTIMATORS)
    if unknown:
        raise ValueError(f"unknown N_opt estimator {sorted(unknown)} (one of {', '.join(ESTIMATORS)})")
    estimators = tuple(m for m in ESTIMATORS if m in estimators)
    skip = frozenset(set(ESTIMATORS) - set(estimators)) | (frozenset() if extras else frozenset(SLICES))
    p = Prepared(runs, curves, lr)
    p.check_single_family()
    with one_blas_thread():
        point = _estimate(p, np.ones(len(p.runs)), irreducible=irreducible, skip=skip)
        use, mean = point["use"], point["mean"]
        kaplan, kaplan_why = (_try(fit_kaplan, p.N[use], p.D[use], mean[use]) if extras
                              else (None, "skipped"))
    boot = (_bootstrap(p, point, irreducible=irreducible, n_boot=n_boot, seed=seed, level=level, scheme=scheme,
                       progress=progress) if n_boot > 0 else None)
    iv = boot.intervals if boot else {}
    agg = _aggregate_prepared(p)

    def with_iv(fit, name):
        return dataclasses.replace(fit, alpha_interval=iv.get(name)) if fit else fit

    nopt = {m: dataclasses.replace(point[m], interval=iv.get(f"a_{m}")) for m in estimators}
    pfit = point.get("parametric_fit")
    if pfit is not None and nopt["parametric"].ok and iv:
        pfit = dataclasses.replace(pfit, intervals={k: iv[k] for k in ("E", "alpha", "beta", "a")
                                                     if k in iv})
    notes = [f"{k}: {point[k + '_reason']}" for k in ("loss_vs_compute", *SLICES)
             if point[k] is None and k not in skip]
    notes += [f"{m}: {nopt[m].reason}" for m in estimators if not nopt[m].ok]
    notes += [f"kaplan: {kaplan_why}"] if kaplan is None and extras else []
    return Analysis(aggregate=agg, frontier=frontier(agg.points),
                    loss_vs_compute=with_iv(point["loss_vs_compute"], "alpha_C"),
                    loss_vs_params=with_iv(point["loss_vs_params"], "alpha_N"),
                    loss_vs_data=with_iv(point["loss_vs_data"], "alpha_D"),
                    nopt=nopt, parametric=pfit, kaplan=kaplan, compute=p.compute,
                    n_runs=point["n_runs"],
                    excluded=dict(p.excluded), intervals=iv, notes=tuple(notes), boot=boot)


def _fmt_iv(iv: Interval | None, off: str = "") -> str:
    if iv is None or iv.n_boot == 0:
        return ""
    return (f"  [{iv.lo:.3f}, {iv.hi:.3f}] ({iv.level:.0%}, {iv.answered()}"
            + ("" if iv.reliable else "; UNRELIABLE: under 80% answered") + (f"; {off}" if off else "") + ")")


def format_analysis(an: Analysis) -> str:
    """Plain-text report for the CLI."""
    excl = ", ".join(f"{k} {v}" for k, v in sorted(an.excluded.items())) or "none"
    lr = lr_tuning(an.aggregate).label() if an.aggregate.lr == "tuned" else f"x{an.aggregate.lr:g}"
    lines = [f"runs used: {an.n_runs} ({len(an.aggregate.points)} configurations, "
             f"seeds averaged); excluded: {excl}; learning rate: {lr}",
             f"compute: C = 3 x forward FLOPs x D; here C = {an.compute.c_per:.4g} N D (median), "
             f"fitted C = {an.compute.kappa:.4g} N^{an.compute.gamma:.3f} D (used for N_opt from "
             f"L(N, D): a = beta/(alpha + {an.compute.gamma:.3f} beta))",
             f"frontier: {len(an.frontier)} configurations"]
    if an.boot is not None and an.no_interval:
        lines.append(an.no_interval)
    elif an.boot is not None:
        widen = f", widened x{an.boot.inflate:.2f} for the few seeds" if an.boot.inflate > 1 else ""
        lines.append(f"intervals: {an.boot.n_boot} bootstrap resamples of {an.boot.scheme}, {INTERVAL_METHOD}{widen}"
                     + (f"; {an.boot.note}" if an.boot.note else ""))
    f = an.loss_vs_compute
    if f is None:
        why = next((n.split(": ", 1)[1] for n in an.notes if n.startswith("loss_vs_compute:")), "")
        lines.append(f"loss vs compute: cannot fit: {why}")
    else:
        form = "E + A C^-alpha" if f.irreducible else "A C^-alpha"
        e = f", E = {f.E:.4g}" if f.irreducible else ""
        lines.append(f"loss vs compute: L = {form}, alpha_C = {f.alpha:.4f}{_fmt_iv(f.alpha_interval, an.off_interval('alpha_C'))}"
                     f"{e}, {f.n_points} frontier points")
    for name, g, what in [("slice L(N) at the largest D only", an.loss_vs_params, "alpha_N"),
                          ("slice L(D) at the largest N only", an.loss_vs_data, "alpha_D")]:
        if g is not None:
            lines.append(f"{name}: {what} = {g.alpha:.4f}{_fmt_iv(g.alpha_interval, an.off_interval(what))}, "
                         f"{g.n_points} points (biased low by the other term: not the parametric exponent)")
    lines.append("compute-optimal model size N_opt = k C^a:")
    for m, r in an.nopt.items():
        if r.ok:
            lines.append(f"  {m:<10} a = {r.a:.4f}{_fmt_iv(r.interval, an.off_interval('a_' + m))}, "
                         f"{len(r.points)} budgets, {r.n_runs} runs")
        else:
            lines.append(f"  {m:<10} cannot answer: {r.reason}")
    v = verdict(an)
    lines.append(f"  verdict: {'believe ' + v.choice if v.choice else 'nothing to believe'}: {v.reason}")
    if an.parametric is not None:
        q = an.parametric
        lines.append(f"parametric L(N, D) = E + A/N^alpha + B/D^beta: E = {q.E:.4g}, A = {q.A:.4g}, "
                     f"B = {q.B:.4g}, alpha = {q.alpha:.4f}, beta = {q.beta:.4f}")
    if an.kaplan is not None:
        k = an.kaplan
        lines.append(f"Kaplan L(N, D) = [(Nc/N)^(alpha_N/alpha_D) + Dc/D]^alpha_D: "
                     f"Nc = {k.Nc:.4g}, Dc = {k.Dc:.4g}, alpha_N = {k.alpha_N:.4f}, "
                     f"alpha_D = {k.alpha_D:.4f}")
    return "\n".join(lines)


# ---------------------------------------------------------------- backtest

@dataclass(frozen=True, eq=False)
class Backtest:
    """Each law and N_opt estimator fitted below a compute cut-off, scored on the held-out frontier
    above it."""
    cutoff_flops: float
    octaves: float                 # held out: the top `octaves` factors of 2 of compute
    table: pd.DataFrame            # model, predicts, n_fit, n_heldout, rms_log_error, mape, reason
    heldout: pd.DataFrame          # held-out frontier points; per model pred_*, and lo_*/hi_* with n_boot
    n_boot: int = 0

    def to_dict(self) -> dict:
        return jsonable(dict(cutoff_flops=self.cutoff_flops, octaves=self.octaves, table=self.table,
                             heldout=self.heldout, n_boot=self.n_boot))

    def format(self) -> str:
        lines = [f"backtest: fitted on compute <= {self.cutoff_flops:.3g} FLOP, predicting the frontier in the top "
                 f"{self.octaves:g} octaves of compute ({len(self.heldout)} held-out frontier configurations)"]
        for r in self.table.itertuples():
            lines.append(f"  {r.model:<28} " + (f"RMS log error {r.rms_log_error:.4f}, mean |error| {r.mape:.1%}"
                                                if math.isfinite(r.rms_log_error) else f"cannot predict: {r.reason}"))
        return "\n".join(lines)


# what each model predicts at a held-out frontier point: its loss, or N_opt at its compute
BACKTEST_MODELS = {"power": ("frontier law A·C^-α", "loss"), "irreducible": ("frontier law E + A·C^-α", "loss"),
                   "parametric": ("parametric L(N, D)", "loss"),
                   **{f"nopt_{m}": (f"N_opt by {NOPT_NAMES[m]}", "N_opt") for m in ESTIMATORS}}


def _config_points(runs: pd.DataFrame, lr) -> tuple[np.ndarray, ...]:
    """N, D, C and seed-mean loss of the configurations a fit uses (one family, lr chosen)."""
    p = Prepared(runs, None, lr)
    p.check_single_family()
    mean, use, _ = p.select(np.ones(len(p.runs)))
    if not use.any():
        raise ValueError("no usable runs")
    return p.N[use], p.D[use], p.C[use], mean[use]


def _predictions(p: Prepared, r: dict, held: pd.DataFrame, init: PowerLawFit | None) -> tuple[dict, PowerLawFit | None]:
    """Each model's prediction at the held-out points from one estimate (_estimate's dict), or its
    reason for not predicting; and the irreducible frontier law it fitted (init warm-starts it)."""
    C, N, D = (held[k].to_numpy(float) for k in ("flops", "params", "examples"))
    use, fm = r["use"], r["frontier"]
    out = {"power": (r["loss_vs_compute"].predict(C) if r["loss_vs_compute"] is not None
                     else r["loss_vs_compute_reason"])}
    kw = dict(n_starts=0, init=init) if init is not None else {}
    irr, why = _try(fit_power_law, p.C[use][fm], r["mean"][use][fm], True, **kw)
    out["irreducible"] = irr.predict(C) if irr is not None else why
    # an estimator that failed on the full data is skipped in the resamples (absent from r)
    nf = r.get("parametric")
    out["parametric"] = r["parametric_fit"].predict(N, D) if nf is not None and nf.ok else (nf.reason if nf else "skipped")
    for m in ESTIMATORS:
        out[f"nopt_{m}"] = r[m].predict(C) if m in r and r[m].ok else (r[m].reason if m in r else "skipped")
    return out, irr


@one_blas_thread()
def backtest(runs: pd.DataFrame, *, octaves: float = 2.0, lr="tuned", n_boot: int = 0, seed: int = 0,
             scheme: str | None = None, level: float = 0.95) -> Backtest:
    """Fit each law form and each N_opt estimator on the runs with compute at most C_max / 2^octaves
    and predict the held-out compute-efficient frontier above it (the frontier of all
    configurations): the loss at each held-out point, and N_opt at its compute against the N of the
    configuration that is on the frontier there (the grid's steps in N bound that error from
    below). The extrapolation error a researcher would have made, as RMS log error and mean
    absolute percentage error (the metrics of extrapolation benchmarks, e.g. Alabdulmohsin et al.
    2022); with n_boot, a pointwise band per prediction from the same resampling as the
    intervals (Resampler)."""
    if not (math.isfinite(octaves) and octaves > 0):
        raise ValueError(f"octaves must be a positive number, got {octaves!r}")
    N, D, C, L = _config_points(runs, lr)
    cut = float(C.max()) / 2 ** octaves
    below, front = C <= cut, frontier_mask(C, L)
    held = front & ~below
    if held.sum() < 1 or below.sum() < 3:
        raise ValueError(f"holding out the top {octaves:g} octaves of compute leaves {int(below.sum())} configurations "
                         f"to fit and {int(held.sum())} frontier points to predict (need 3 and 1): train a wider "
                         "compute range, or hold out fewer octaves")
    out = pd.DataFrame({"params": N[held], "examples": D[held], "flops": C[held], "val_loss": L[held]})
    ok = runs[runs["status"].astype(str) == "ok"]
    p = Prepared(ok[pd.to_numeric(ok["flops"]).to_numpy(float) <= cut * (1 + 1e-9)], None, lr)
    point = _estimate(p, np.ones(len(p.runs)), irreducible=False, skip=frozenset(SLICES))
    pred, irr = _predictions(p, point, out, None)
    good = [k for k, v in pred.items() if not isinstance(v, str)]
    if n_boot > 0:
        rng, draw = np.random.default_rng(seed), Resampler(p, scheme)
        skip = frozenset([m for m in ESTIMATORS if not point[m].ok] + list(SLICES))
        samples = {k: np.full((n_boot, len(out)), np.nan) for k in good}
        for i in range(n_boot):
            try:
                r = _estimate(p, draw.weights(rng), irreducible=False, init=point, skip=skip)
            except ValueError:
                continue
            for k, v in _predictions(p, r, out, irr)[0].items():
                if k in samples and not isinstance(v, str):
                    samples[k][i] = v
        q = [(1 - level) / 2, (1 + level) / 2]
        for k, s in samples.items():
            fin = np.isfinite(s).all(axis=1)
            if fin.any():
                out[f"lo_{k}"], out[f"hi_{k}"] = np.quantile(s[fin], q, axis=0)
    obs = {"loss": out["val_loss"].to_numpy(float), "N_opt": out["params"].to_numpy(float)}
    rows = []
    for key, (what, quantity) in BACKTEST_MODELS.items():
        row = dict(model=what, predicts=quantity, n_fit=int(below.sum()), n_heldout=len(out),
                   rms_log_error=math.nan, mape=math.nan, reason="")
        v = pred[key]
        if isinstance(v, str):
            rows.append({**row, "reason": v})
            continue
        v = np.asarray(v, float)
        out[f"pred_{key}"] = v
        err = np.log(v) - np.log(obs[quantity])
        rows.append({**row, "rms_log_error": float(np.sqrt(np.mean(err ** 2))),
                     "mape": float(np.mean(np.abs(v / obs[quantity] - 1)))})
    return Backtest(cut, float(octaves), pd.DataFrame(rows), out, int(n_boot))


# ---------------------------------------------------------------- compare

@dataclass(frozen=True, eq=False)
class Comparison:
    labels: tuple
    table: pd.DataFrame            # one row per exponent: both values, intervals, P(first > second)
    first: Analysis
    second: Analysis

    def to_dict(self) -> dict:
        return jsonable(dict(labels=self.labels, table=self.table))


def compare(runs_a: pd.DataFrame, runs_b: pd.DataFrame, curves_a: pd.DataFrame | None = None,
            curves_b: pd.DataFrame | None = None, *, labels=("dropout 0", "dropout 0.2"),
            lr="tuned", irreducible: bool = False, n_boot: int = 200, seed: int = 0) -> Comparison:
    """Two selections' exponents side by side; P(first > second) from independent bootstraps."""
    sa, sb = np.random.SeedSequence(seed).spawn(2)
    A = analyze(runs_a, curves_a, lr=lr, irreducible=irreducible, n_boot=n_boot,
                seed=int(sa.generate_state(1)[0]))
    B = analyze(runs_b, curves_b, lr=lr, irreducible=irreducible, n_boot=n_boot,
                seed=int(sb.generate_state(1)[0]))
    return Comparison(tuple(labels), comparison_table(A, B), A, B)


COMPARED = ("alpha_C", "alpha_N", "alpha_D", "a_envelope", "a_isoflop", "a_parametric", "alpha", "beta")


def comparison_table(A: Analysis, B: Analysis, names: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per exponent of two analyses (`names`: name -> what to call it; default COMPARED
    with QUANTITIES' words): both values with their intervals, P(first > second) from their
    resamples and the two-sided p-value 2 min(P, 1 - P) for "no difference"."""
    names = names or {k: QUANTITIES[k] for k in COMPARED}
    pa, pb = A.scalars(), B.scalars()
    rows = []
    for name, what in names.items():
        ia, ib = A.intervals.get(name), B.intervals.get(name)
        prob = (A.boot.prob_greater(B.boot, name)
                if A.boot and B.boot and name in A.boot.samples and name in B.boot.samples
                else math.nan)
        rows.append(dict(name=name, what=what, first=pa.get(name, math.nan),
                         first_lo=ia.lo if ia else math.nan, first_hi=ia.hi if ia else math.nan,
                         second=pb.get(name, math.nan), second_lo=ib.lo if ib else math.nan,
                         second_hi=ib.hi if ib else math.nan, p_first_greater=prob,
                         first_answered=ia.answered() if ia else "", first_reliable=bool(ia and ia.reliable),
                         second_answered=ib.answered() if ib else "", second_reliable=bool(ib and ib.reliable),
                         p_two_sided=2 * min(prob, 1 - prob) if math.isfinite(prob) else math.nan,
                         # the smallest p the resamples can show: 0 of them means "below this"
                         p_floor=1 / min(A.boot.n_boot, B.boot.n_boot) if A.boot and B.boot else math.nan,
                         n_runs_first=A.n_runs, n_runs_second=B.n_runs))
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- any table (--csv)

def _column(df: pd.DataFrame, col: str) -> np.ndarray:
    if col not in df.columns:
        raise ValueError(f"column '{col}' not in table (columns: {', '.join(map(str, df.columns))})")
    v = pd.to_numeric(df[col], errors="coerce")
    if v.isna().any():
        bad = int(v.isna().sum())
        raise ValueError(f"column '{col}' has {bad} missing or non-numeric values")
    v = v.to_numpy(dtype=float)
    if (v <= 0).any() or not np.isfinite(v).all():
        raise ValueError(f"column '{col}' has {int((~(v > 0) | ~np.isfinite(v)).sum())} "
                         f"non-positive or infinite values")
    return v


@one_blas_thread()
def fit_table(df: pd.DataFrame, n_col: str, loss_col: str, d_col: str | None = None,
              c_col: str | None = None, drop_highest: int = 0, n_boot: int = 0, seed: int = 0,
              delta: float = 1e-3, level: float = 0.95) -> ParametricFit:
    """Parametric L(N, D) on any table; with c_col, D = C/(6N) (the language-model convention).

    drop_highest: drop the K highest-loss rows first (Epoch AI drop 5 on Chinchilla's Figure 4).
    n_boot > 0 resamples rows and attaches 95% intervals for E, A, B, alpha, beta and a.
    """
    for name, col in [("n_col", n_col), ("loss_col", loss_col)]:
        if not col:
            raise ValueError(f"{name} is required: the column holding "
                             f"{'model size N' if name == 'n_col' else 'the loss'}")
    if (d_col is None) == (c_col is None):
        raise ValueError("give exactly one of d_col (examples/tokens) or c_col (compute)")
    N, L = _column(df, n_col), _column(df, loss_col)
    D = _column(df, d_col) if d_col else _column(df, c_col) / (6 * N)
    if drop_highest < 0 or drop_highest >= len(L):
        raise ValueError(f"drop_highest must be in [0, {len(L) - 1}], got {drop_highest}")
    if drop_highest:
        keep = np.sort(np.argsort(L, kind="stable")[: len(L) - drop_highest])
        N, D, L = N[keep], D[keep], L[keep]
    fit = fit_parametric(N, D, L, delta)
    if n_boot <= 0:
        return fit
    rng = np.random.default_rng(seed)
    names = ("E", "A", "B", "alpha", "beta", "a")
    samples = {k: np.full(n_boot, np.nan) for k in names}
    for i in range(n_boot):
        idx = rng.integers(0, L.size, L.size)
        try:
            b = fit_parametric(N[idx], D[idx], L[idx], delta, init=fit, n_starts=0)
        except ValueError:
            continue
        for k in names:
            samples[k][i] = getattr(b, k)
    iv = {k: bootstrap_interval(s, getattr(fit, k), level, "percentile", "rows") for k, s in samples.items()}
    return dataclasses.replace(fit, intervals=iv)


