"""Fitting core: cached runs in, the study's answers out (numpy, scipy and pandas only).

    runs.py        runs to fit-ready points: exclusions, lr choice, seed means (Prepared, aggregate), frontier
    tuning.py      whether the learning rate per configuration is really tuned, and what would tune it
    power_law.py   fit_power_law: L(x) = A x^-alpha or E + A x^-alpha
    parametric.py  fit_parametric (Chinchilla's L(N, D)) and fit_kaplan (Kaplan's L(N, D))
    power_mean.py  L(N, D) with its two terms joined by a power mean instead of a sum
    optim.py       what the law fitters share: input checks, Huber loss, L-BFGS settings, one BLAS thread
    nopt.py        N_opt(C) three ways: nopt_envelope, nopt_isoflop, nopt_parametric; isoflop_profiles
    real_compute.py  the parametric N_opt minimised along the family's own N(width) and C/D(width), budget by budget
    convention.py  the two compute counts, 3FD (this project's) and 6ND (Kaplan's, Chinchilla's), applied to the runs
    estimate.py    every point estimate of one selection or resample; ESTIMATORS, QUANTITIES
    resample.py    what a bootstrap resample draws, and when its intervals cannot (or do not) say the seed noise
    intervals.py   Interval and bootstrap_interval: an interval read off a statistic's resamples
    analysis.py    analyze and bootstrap: the whole answer for one selection, with intervals
    report.py      format_analysis: an analysis as the text `scaling fit` prints
    frontier_law.py  alpha_C fitted four ways (pure or irreducible, Huber or least squares), scored by a backtest; local slopes
    backtest.py    backtest: fit below a compute cut-off, score the prediction of the held-out frontier
    compare.py     compare and comparison_table: two selections' exponents side by side
    table_fit.py   fit_table: the parametric fit on any table (the CLI's --csv)
    verdict.py     which of the three N_opt estimates to believe, and why
    reporting.py   how optimistic a choice made on the reported test images is
    seed_noise.py  the seed noise of a selection, measured from its seeds
    debias.py      each N_opt estimator's bias at the measured noise, from sweeps simulated from the fit
    synthetic.py   synthetic sweeps with the runs/curves data contract
    time_model.py  what a run costs on one device, fitted to the runs trained there
    serialize.py   jsonable: results as plain Python for json.dumps
    studies/       the studies beyond the exercise: label noise, architecture, transfer, the data bottleneck
    curves/        bring your own curves: one learning curve fitted with several forms, extrapolated by backtest

Conventions: N = parameters, D = examples seen, C = 3 x forward FLOPs x D. This CNN family
is not C = 6 N D: the compute law is measured from the runs (ComputeLaw: c_per = median
C/(N D), and the fit C = kappa N^gamma D that N_opt from L(N, D) uses). Fits are in log space
with Huber losses and positive parameters. Results are frozen dataclasses with
.to_dict() (JSON-ready, NaN -> None). Invalid input (NaN, non-positive, too few points)
raises ValueError; an estimator that cannot answer returns ok=False and a reason.
"""
from scaling.core import lazy

# Imported on first use (scaling.core.lazy): the planner, the studies and Your curves wait until a page asks.
__getattr__, __dir__, __all__ = lazy.attach(__name__, {
    ".analysis": "Analysis BootstrapResult analyze bootstrap",
    ".backtest": "BACKTEST_MODELS MIN_HELDOUT Backtest HoldOut backtest hold_out",
    ".compare": "COMPARED Comparison compare comparison_table",
    ".estimate": "ESTIMATORS NOPT_NAMES QUANTITIES",
    ".intervals": "Interval bootstrap_interval",
    ".nopt": "NoptFit isoflop_profiles nopt_envelope nopt_isoflop nopt_parametric",
    ".parametric": "KaplanFit ParametricFit fit_kaplan fit_parametric",
    ".power_law": "PowerLawFit fit_power_law",
    ".report": "format_analysis",
    ".reporting": "ReportingBias reporting_bias",
    ".runs": "CONFIG_KEYS STUDY_KEYS TUNE_KEYS Aggregate ComputeLaw aggregate frontier",
    ".synthetic": "synthetic_sweep",
    ".table_fit": "fit_table",
    ".tuning": "Tuning lr_tuning",
    ".verdict": "Verdict verdict",
}, submodules=("studies",))  # fit.studies.study(key, runs) and one function per study
