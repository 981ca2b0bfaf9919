"""Every point estimate of one selection, on the data or on one resample of it: the frontier, the
loss-vs-compute law, the L(N) and L(D) slices and the three N_opt estimators, and their exponents
by name (QUANTITIES).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from scaling.fit.nopt import envelope_arrays, isoflop_arrays, parametric_arrays
from scaling.fit.power_law import DEGENERATE, PowerLawFit, fit_power_law
from scaling.fit.real_compute import compute_path
from scaling.fit.runs import Prepared, frontier_mask

# The N_opt estimators, in the order every table lists them: key -> what to call it
ESTIMATORS = {"envelope": "lower envelope", "isoflop": "IsoFLOP profiles", "parametric": "parametric L(N, D)"}
NOPT_NAMES = ESTIMATORS  # its former name, while services.selection imports it
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
    "a_parametric": "N_opt exponent, parametric L(N, D): the slope of N_opt minimised along the family's own "
                    "compute at each budget of the grid",
    "alpha": "parametric L(N, D): N exponent",
    "beta": "parametric L(N, D): D exponent",
    "E": "parametric L(N, D): irreducible loss",
    "a": "parametric L(N, D): beta/(alpha+beta), the asymptotic N_opt exponent (C proportional to N D)",
}


def try_fit(fn, *args, **kw):
    """(result, '') or (None, reason) when the fit refuses its input."""
    try:
        return fn(*args, **kw), ""
    except ValueError as e:
        return None, str(e)


def point_estimates(p: Prepared, w: np.ndarray, *, irreducible: bool, init: dict | None = None,
                    skip: frozenset = frozenset(), law_delta: float = 1e-2, law: PowerLawFit | None = None) -> dict:
    """Every point estimate for one resample (w = times each run is drawn). law_delta: the Huber
    scale of the loss-vs-compute law's fit (1e3 is least squares; fit.frontier_law). law: that law
    already fitted to this resample's frontier with this form and scale (FrontierLaws.fits), taken
    as it is instead of fitted again.

    With init (the full-data estimates) the fits start from it instead of a grid, and the
    chart tables are skipped: what makes refitting everything in every resample affordable.
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
        if key == "loss_vs_compute":
            kw["delta"] = law_delta
        return try_fit(fit_power_law, x, y, irreducible, **kw)

    r = dict(n_runs=int(cnt[use].sum()), use=use, mean=mean, frontier=fm)
    if (law is not None and "loss_vs_compute" not in skip and law.n_points == fm.sum()
            and not (law.irreducible and law.E < DEGENERATE * L[fm].min())):
        # the same points in the frontier's order: the residuals in this order, as a fit here gives them.
        # Not a law with E ~ 0, whose E (any tiny value) depends on the order of the points: fitted again
        r["loss_vs_compute"] = dataclasses.replace(law, residuals=np.log(L[fm]) - np.log(law.predict(C[fm])))
        r["loss_vs_compute_reason"] = ""
    else:
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
        # N and C/D of a width are the same in every resample: the full data's path serves them all
        path = init.get("compute_path") if warm else None
        if path is None:
            path = compute_path(p.cfg["width"].to_numpy(float)[use], N, C, D)
        r["compute_path"] = path
        r["parametric"], r["parametric_fit"] = parametric_arrays(
            N, D, C, L, p.compute, n, init=pinit, n_starts=0 if pinit is not None else 8,
            light=warm, path=path)
    return r


def quantities(r: dict) -> dict:
    """Every QUANTITIES value of one estimate (point_estimates' dict), NaN where it has none."""
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
