"""The study's answers for one selection, with bootstrap intervals.

analyze     frontier, loss-vs-compute law, L(N) and L(D) slices, N_opt three ways, Kaplan's form, intervals
bootstrap   resample (seeds, see Resampler), refit everything, read an interval off each exponent
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scaling.fit import resample
from scaling.fit.convention import DEFAULT as DEFAULT_COMPUTE
from scaling.fit.convention import recount
from scaling.fit.debias import Bias, estimator_bias
from scaling.fit.estimate import ESTIMATORS, SLICES, point_estimates, quantities, try_fit
from scaling.fit.form_uncertainty import FormUncertainty, form_uncertainty
from scaling.fit.frontier_law import FrontierLaws, frontier_laws
from scaling.fit.intervals import bootstrap_interval
from scaling.fit.nopt import NoptFit
from scaling.fit.optim import one_blas_thread
from scaling.fit.parametric import KaplanFit, ParametricFit, fit_kaplan
from scaling.fit.power_law import PowerLawFit
from scaling.fit.resample import Resampler
from scaling.fit.runs import CONFIG_KEYS, Aggregate, ComputeLaw, Prepared, _aggregate_prepared, frontier
from scaling.fit.seed_noise import SeedNoise, seed_noise
from scaling.fit.serialize import jsonable
from scaling.fit.tuning import lr_tuning
from scaling.fit.verdict import verdict


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """The resamples of one selection, and the intervals read off them.

    Attributes
    ----------
    samples : dict
        QUANTITIES name -> array of n_boot values, one per resample (NaN where its refit failed).
    intervals : dict
        QUANTITIES name -> Interval.
    n_boot : int
        Resamples drawn.
    seed : int
        Seed of the random generator that drew them.
    scheme : str
        What was resampled (a Resampler scheme).
    laws : ndarray or None
        [n_boot, 3]: A, alpha and E of each resample's loss-vs-compute law, for band().
    inflate : float
        The small-sample widening the intervals were given (Resampler.inflate; 1 for none).
    reason : str
        Why there are no intervals at all (resample.no_interval; nothing is drawn then), else ''.
    note : str
        What the intervals are on partial data (resample.partial_note), else ''.
    """
    samples: dict
    intervals: dict
    n_boot: int
    seed: int
    scheme: str = "runs"
    laws: np.ndarray | None = None
    inflate: float = 1.0
    reason: str = ""
    note: str = ""

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
# Sweeps simulated to read the form-free estimators' bias, by default with every interval (fit.debias;
# the coverage it buys is in docs/intervals.md)
DEBIAS_SIMS = 30


@one_blas_thread()
def _bootstrap(p: Prepared, point: dict, *, irreducible, n_boot, seed, level, scheme=None,
               progress=None, law_delta: float = 1e-2) -> BootstrapResult:
    rng = np.random.default_rng(seed)
    draw = Resampler(p, scheme)
    if why := resample.no_interval(draw):  # every resample would be the data itself: a point, not an interval
        return BootstrapResult({}, {}, n_boot, seed, draw.scheme, None, draw.inflate, reason=why)
    est = quantities(point)
    names = [k for k, v in est.items() if np.isfinite(v)]
    skip = frozenset([m for m in ESTIMATORS if not (m in point and point[m].ok)]
                     + [k for k in SLICES if point[k] is None])
    samples = {k: np.full(n_boot, np.nan) for k in names}
    laws = np.full((n_boot, 3), np.nan)  # A, alpha, E of each resample's loss-vs-compute law (the band)
    for i in range(n_boot):
        if progress is not None and i % PROGRESS_EVERY == 0:
            progress(i, n_boot)  # a page's yield point: a slider moved meanwhile stops this run here
        try:
            r = point_estimates(p, draw.weights(rng), irreducible=irreducible, init=point, skip=skip,
                                law_delta=law_delta)
        except ValueError:
            continue
        vals = quantities(r)
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
              level: float = 0.95, compute: str = DEFAULT_COMPUTE) -> BootstrapResult:
    """Resample (seeds, or runs within configurations: see Resampler) and redo everything: seed
    means, lr choice, frontier, fits. compute: how C is counted (convention.CONVENTIONS)."""
    p = Prepared(*recount(runs, curves, compute), lr)
    p.check_single_family()
    point = point_estimates(p, np.ones(len(p.runs)), irreducible=irreducible)
    return _bootstrap(p, point, irreducible=irreducible, n_boot=n_boot, seed=seed, level=level)


@dataclass(frozen=True, eq=False)
class Analysis:
    """The study's answer for one selection: its points, laws and N_opt estimates, with intervals.

    Attributes
    ----------
    aggregate : Aggregate
        The seed means per configuration that the fits use, and the learning-rate choice.
    frontier : DataFrame
        The rows of aggregate.points on the compute-efficient frontier, by compute.
    loss_vs_compute : PowerLawFit or None
        The frontier's law L(C), C in FLOPs; None where it cannot be fitted (notes say why).
    loss_vs_params : PowerLawFit or None
        Slice: L(N) at the largest data size only, N in parameters.
    loss_vs_data : PowerLawFit or None
        Slice: L(D) at the largest width only, D in examples seen.
    nopt : dict
        Estimator key (ESTIMATORS) -> NoptFit, for the estimators asked for.
    parametric : ParametricFit or None
        The L(N, D) fit behind the parametric N_opt, with intervals of E, alpha, beta and a when bootstrapped.
    kaplan : KaplanFit or None
        Kaplan's L(N, D), a point estimate only.
    compute : ComputeLaw
        How C relates to N and D in these runs.
    n_runs : int
        Runs behind the estimates.
    excluded : dict
        Status (or 'bad_loss') -> number of runs left out.
    intervals : dict
        QUANTITIES name -> Interval (empty when n_boot = 0).
    notes : tuple of str
        'name: reason' for each fit or estimator that could not answer.
    boot : BootstrapResult or None
        The resamples behind the intervals (None when n_boot = 0).
    convention : str
        How compute was counted before everything was fitted: '3fd' (C = 3 x forward FLOPs x D) or
        '6nd' (C = 6 N D); see convention.CONVENTIONS.
    bias : Bias or None
        Each N_opt estimator's bias at the measured noise, simulated from the fit (analyze's debias > 0:
        then nopt's estimates and intervals are shifted by it); None when not asked for.
    frontier_laws : FrontierLaws or None
        alpha_C under each fitting loss and form, the one a backtest favours, and the frontier's local
        slopes (None where the frontier is empty).
    law_choice : str
        How loss_vs_compute was fitted: "the backtest's choice: irreducible form, Huber" (the
        default) or "asked for: pure form, Huber" (or irreducible).
    seed_noise : SeedNoise or None
        The seed noise of the selection's runs, measured from their seeds (shown with every answer:
        the intervals and the verdict's misfit threshold are only as good as it).
    """
    aggregate: Aggregate
    frontier: pd.DataFrame
    loss_vs_compute: PowerLawFit | None
    loss_vs_params: PowerLawFit | None
    loss_vs_data: PowerLawFit | None
    nopt: dict[str, NoptFit]
    parametric: ParametricFit | None
    kaplan: KaplanFit | None
    compute: ComputeLaw
    n_runs: int
    excluded: dict
    intervals: dict
    notes: tuple = ()
    boot: BootstrapResult | None = None
    seed_noise: SeedNoise | None = None
    convention: str = DEFAULT_COMPUTE
    frontier_laws: FrontierLaws | None = None
    bias: Bias | None = None
    form: FormUncertainty | None = None
    law_choice: str = ""

    def scalars(self) -> dict:
        """Every exponent by its QUANTITIES name (NaN where it could not be estimated)."""
        return quantities(dict(loss_vs_compute=self.loss_vs_compute, loss_vs_params=self.loss_vs_params,
                                loss_vs_data=self.loss_vs_data, parametric_fit=self.parametric, **self.nopt))

    @property
    def no_interval(self) -> str:
        """'' or why this selection has no intervals though they were asked for (one seed, ...)."""
        return self.boot.reason if self.boot is not None else ""

    def accounted(self) -> list[str]:
        """What the answers account for, a line each: how alpha_C's law was chosen, the form's
        uncertainty in the parametric interval, the form-free estimators' bias."""
        out = [f"alpha_C's law is {self.law_choice}"] if self.law_choice else []
        if self.form is not None:
            out.append(self.form.describe())
        if self.bias is not None:
            b = self.bias.bias
            out.append(f"bias at the measured noise ({self.bias.n_sim} sweeps simulated from the {self.bias.surface} "
                       f"fit): envelope {b.get('a_envelope', math.nan):+.3f}, IsoFLOP {b.get('a_isoflop', math.nan):+.3f}, "
                       "taken off their estimates and intervals")
        return out

    def off_interval(self, name: str) -> str:
        """'' or why the estimate `name` (a QUANTITIES name) lies at an end of its interval or outside it."""
        return resample.off_interval(self.scalars().get(name, math.nan), self.intervals.get(name),
                                     self.boot.note if self.boot is not None else "")

    def to_dict(self) -> dict:
        return jsonable(dict(
            n_runs=self.n_runs, excluded=self.excluded, lr=self.aggregate.lr,
            compute=self.compute, convention=self.convention, law_choice=self.law_choice,
            points=self.aggregate.points, frontier=self.frontier,
            loss_vs_compute=self.loss_vs_compute,
            loss_vs_params=self.loss_vs_params, loss_vs_data=self.loss_vs_data,
            nopt=self.nopt, parametric=(self.parametric.to_dict(full=True)
                                        if self.parametric else None),
            kaplan=self.kaplan,
            intervals=self.intervals, notes=list(self.notes), no_interval=self.no_interval,
            interval_note=self.boot.note if self.boot is not None else "",
            off_interval={k: w for k in self.intervals if (w := self.off_interval(k))},
            lr_choice=self.aggregate.lr_choice, lr_tuning=lr_tuning(self.aggregate), verdict=verdict(self),
            seed_noise=self.seed_noise.to_dict() if self.seed_noise is not None else None,
            frontier_laws=self.frontier_laws.to_dict() if self.frontier_laws is not None else None,
            form=self.form.to_dict() if self.form is not None else None,
            bias=dataclasses.asdict(self.bias) if self.bias is not None else None))


def analyze(runs: pd.DataFrame, curves: pd.DataFrame | None = None, *, lr="tuned",
            irreducible: bool | None = None, n_boot: int = 200, seed: int = 0,
            level: float = 0.95, estimators: tuple = ESTIMATORS, extras: bool = True,
            scheme: str | None = None, progress=None, compute: str = DEFAULT_COMPUTE,
            debias: int | None = None) -> Analysis:
    """The whole answer for one selection (one sweep: a dataset, a dropout, ...).

    n_boot=0 gives the point estimates alone, fast enough to draw at once; intervals can be
    added by calling again with n_boot > 0. `estimators` (a subset of ESTIMATORS) and
    extras=False (no L(N) and L(D) slices, no Kaplan form) leave out what a first draw does not
    show: the parametric fit is most of the time of a point estimate. progress(i, n_boot), if
    given, is called every PROGRESS_EVERY resamples. compute ('3fd' or '6nd': convention.CONVENTIONS)
    says how C is counted; it is applied to the runs first, so the frontier, every law and N_opt use it.
    irreducible: the loss-vs-compute law's form, True (E + A C^-alpha) or False (A C^-alpha), fitted
    with Huber; None (the default) takes the form and the fitting loss the backtest favours
    (fit.frontier_law), and the L(N) and L(D) slices take the same form.
    debias: simulate that many sweeps from the fitted surface at the measured seed noise and shift
    the envelope and IsoFLOP estimates and intervals by their bias there (fit.debias); None (the
    default) does so with DEBIAS_SIMS whenever intervals are asked for (docs/intervals.md has
    what it does to coverage), 0 never.
    """
    unknown = set(estimators) - set(ESTIMATORS)
    if unknown:
        raise ValueError(f"unknown N_opt estimator {sorted(unknown)} (one of {', '.join(ESTIMATORS)})")
    estimators = tuple(m for m in ESTIMATORS if m in estimators)
    skip = frozenset(set(ESTIMATORS) - set(estimators)) | (frozenset() if extras else frozenset(SLICES))
    p = Prepared(*recount(runs, curves, compute), lr)
    p.check_single_family()
    agg = _aggregate_prepared(p)
    front = frontier(agg.points)
    laws = frontier_laws(front) if len(front) else None
    if irreducible is None:
        irreducible, delta = laws.choice if laws is not None else (False, 1e-2)
        law_choice = f"the backtest's choice: {_law_words(irreducible, delta)}"
    else:
        delta, law_choice = 1e-2, f"asked for: {_law_words(irreducible, 1e-2)}"
    with one_blas_thread():
        point = point_estimates(p, np.ones(len(p.runs)), irreducible=irreducible, skip=skip, law_delta=delta,
                                law=laws.fits.get((irreducible, delta)) if laws is not None else None)
        use, mean = point["use"], point["mean"]
        kaplan, kaplan_why = (try_fit(fit_kaplan, p.N[use], p.D[use], mean[use]) if extras
                              else (None, "skipped"))
    boot = (_bootstrap(p, point, irreducible=irreducible, n_boot=n_boot, seed=seed, level=level, scheme=scheme,
                       progress=progress, law_delta=delta) if n_boot > 0 else None)
    iv = boot.intervals if boot else {}

    def with_iv(fit, name):
        return dataclasses.replace(fit, alpha_interval=iv.get(name)) if fit else fit

    form = None
    if "parametric" in estimators and point["parametric"].ok and (n_boot > 0 or extras):
        form = form_uncertainty(p.N[use], p.D[use], p.C[use], mean[use], point["compute_path"],
                                point["parametric"].a, start=point["parametric_fit"])
    if form is not None and "a_parametric" in iv:  # the interval covers the answer of either form
        iv = {**iv, "a_parametric": form.widen(iv["a_parametric"])}
    nopt = {m: dataclasses.replace(point[m], interval=iv.get(f"a_{m}")) for m in estimators}
    pfit = point.get("parametric_fit")
    if pfit is not None and nopt["parametric"].ok and iv:
        pfit = dataclasses.replace(pfit, intervals={k: iv[k] for k in ("E", "alpha", "beta", "a")
                                                     if k in iv})
    notes = [f"{k}: {point[k + '_reason']}" for k in ("loss_vs_compute", *SLICES)
             if point[k] is None and k not in skip]
    notes += [f"{m}: {nopt[m].reason}" for m in estimators if not nopt[m].ok]
    notes += [f"kaplan: {kaplan_why}"] if kaplan is None and extras else []
    an = Analysis(aggregate=agg, frontier=front,
                    loss_vs_compute=with_iv(point["loss_vs_compute"], "alpha_C"),
                    loss_vs_params=with_iv(point["loss_vs_params"], "alpha_N"),
                    loss_vs_data=with_iv(point["loss_vs_data"], "alpha_D"),
                    nopt=nopt, parametric=pfit, kaplan=kaplan, compute=p.compute,
                    n_runs=point["n_runs"],
                    excluded=dict(p.excluded), intervals=iv, notes=tuple(notes), boot=boot,
                    seed_noise=selection_noise(p), convention=compute,
                    frontier_laws=laws, form=form, law_choice=law_choice)
    n_sim = (DEBIAS_SIMS if n_boot > 0 else 0) if debias is None else debias
    return _debiased(an, n_sim, seed) if n_sim > 0 else an


def _law_words(irreducible: bool, delta: float) -> str:
    return f"{'irreducible' if irreducible else 'pure'} form, {'least squares' if delta > 1 else 'Huber'}"


def _debiased(an: Analysis, n_sim: int, seed: int) -> Analysis:
    """an with each N_opt estimate and interval shifted by its simulated bias (unchanged without one)."""
    b = estimator_bias(an, n_sim, seed)
    if b is None:
        return an
    nopt, iv = dict(an.nopt), dict(an.intervals)
    for m, nf in an.nopt.items():
        if nf.ok:
            a, i = b.correct(f"a_{m}", nf.a, nf.interval)
            nopt[m] = dataclasses.replace(nf, a=a, k=_pivot(nf, a), interval=i)
            if i is not None:
                iv[f"a_{m}"] = i
    return dataclasses.replace(an, nopt=nopt, intervals=iv, bias=b)


def _pivot(nf, a: float) -> float:
    """k for slope `a` with the line kept where the data is: through the fit's own value at the
    geometric mean of its budgets (a slope shifted about C = 1 FLOP would leave the points far away)."""
    if nf.points is None or not len(nf.points) or not math.isfinite(a):
        return nf.k
    log_c = float(np.mean(np.log(nf.points["C"].to_numpy(float))))
    return float(nf.k * math.exp((nf.a - a) * log_c))


def selection_noise(p: Prepared) -> SeedNoise:
    """The seed noise of the runs a selection's fits use (each configuration's own seeds)."""
    keys = [k for k in p.family_keys if k in p.runs.columns] + [
        k for k in CONFIG_KEYS if k not in p.family_keys and k in p.runs.columns]
    return seed_noise(p.runs, [k for k in keys if k not in p.fixed_keys])  # one value splits nothing
