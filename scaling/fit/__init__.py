"""Fitting core: cached runs in, the study's answers out (numpy, scipy and pandas only).

    runs.py      aggregate (seed means, lr choice, exclusions), lr_tuning, frontier
    laws.py      fit_power_law, fit_parametric (Chinchilla), fit_kaplan
    nopt.py      N_opt(C) three ways: nopt_envelope, nopt_isoflop, nopt_parametric; isoflop_profiles
    analysis.py  analyze, bootstrap, backtest, compare, comparison_table, fit_table, format_analysis
    resample.py  what a bootstrap resample draws, and when its intervals cannot (or do not) say the seed noise
    synthetic.py synthetic sweeps with the runs/curves data contract
    reporting.py how optimistic a choice made on the reported test images is
    verdict.py   which of the three N_opt estimates to believe, and why
    studies.py   the studies beyond the exercise: label noise, architecture, transfer, the data bottleneck

Conventions: N = parameters, D = examples seen, C = 3 x forward FLOPs x D. This CNN family
is not C = 6 N D: the compute law is measured from the runs (ComputeLaw: c_per = median
C/(N D), and the fit C = kappa N^gamma D that N_opt from L(N, D) uses). Fits are in log space
with Huber losses and positive parameters. Results are frozen dataclasses with
.to_dict() (JSON-ready, NaN -> None). Invalid input (NaN, non-positive, too few points)
raises ValueError; an estimator that cannot answer returns ok=False and a reason.
"""
from scaling.fit import studies  # fit.studies.study(key, runs) and one function per study
from scaling.fit._util import Interval, bootstrap_interval
from scaling.fit.analysis import (
    BACKTEST_MODELS,
    COMPARED,
    ESTIMATORS,
    NOPT_NAMES,
    QUANTITIES,
    Analysis,
    Backtest,
    BootstrapResult,
    Comparison,
    analyze,
    backtest,
    bootstrap,
    compare,
    comparison_table,
    fit_table,
    format_analysis,
)
from scaling.fit.laws import KaplanFit, ParametricFit, PowerLawFit, fit_kaplan, fit_parametric, fit_power_law
from scaling.fit.nopt import NoptFit, isoflop_profiles, nopt_envelope, nopt_isoflop, nopt_parametric
from scaling.fit.reporting import ReportingBias, reporting_bias
from scaling.fit.runs import (
    CONFIG_KEYS,
    STUDY_KEYS,
    TUNE_KEYS,
    Aggregate,
    ComputeLaw,
    Tuning,
    aggregate,
    frontier,
    lr_tuning,
)
from scaling.fit.synthetic import synthetic_sweep
from scaling.fit.verdict import Verdict, verdict

__all__ = [
    "Aggregate", "Analysis", "BACKTEST_MODELS", "Backtest", "BootstrapResult", "COMPARED", "CONFIG_KEYS", "Comparison", "ComputeLaw",
    "ESTIMATORS", "Interval", "NOPT_NAMES", "STUDY_KEYS", "TUNE_KEYS",
    "KaplanFit", "NoptFit", "ParametricFit", "PowerLawFit", "QUANTITIES", "ReportingBias", "Tuning", "Verdict",
    "aggregate", "analyze", "backtest", "bootstrap", "compare", "comparison_table", "fit_kaplan", "fit_parametric",
    "fit_power_law", "fit_table", "format_analysis", "frontier", "isoflop_profiles", "lr_tuning", "nopt_envelope", "nopt_isoflop",
    "nopt_parametric", "bootstrap_interval", "reporting_bias", "synthetic_sweep", "studies", "verdict",
]
