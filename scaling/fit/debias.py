"""Each form-free N_opt estimator's bias at the selection's own noise, read off sweeps simulated
from its fit.

At the seed noise real runs have (SD of ln L ~0.2), the envelope and IsoFLOP estimators read an
argmin off noisy curves and come out high (benchmarks/calibration.py). A parametric bootstrap
measures that: simulate sweeps on the selection's own configurations and seeds from the fitted
surface L(N, D) with the measured noise structure (a part shared by one seed's widths at one
fraction, the rest the run's own, one draw per run shared by its whole curve), re-run each
estimator, and read its mean error against the surface's own N_opt slope (fit.real_compute).
The surface is the power-mean fit where there is one (fit.form_uncertainty): it nests the sum, so
where the sum is the right form nothing changes, and where the terms join more sharply the
simulation has the right corner. (Simulated from the sum's fit on a power-mean law, the shift
overcorrected by 0.05.) The parametric estimate is not simulated: it is within 0.01 of its
truth on every law calibrated. correct() shifts an estimate and its interval by the bias.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scaling.fit.estimate import point_estimates, quantities
from scaling.fit.intervals import Interval
from scaling.fit.optim import one_blas_thread
from scaling.fit.runs import Prepared

CURVE_POINTS = 10  # per simulated run, log-spaced from D/64 to D, as the trainer records them


@dataclass(frozen=True)
class Bias:
    """Each N_opt estimator's bias at the measured noise, from sweeps simulated from the fit.

    Attributes
    ----------
    bias : dict
        'a_envelope', 'a_isoflop' -> mean simulated estimate minus the surface's truth.
    spread : dict
        The same names -> SD of the simulated estimates.
    answered : dict
        The same names -> simulations in which the estimator answered.
    truth : float
        The fitted surface's own N_opt slope over the grid's budgets.
    n_sim : int
        Sweeps simulated.
    surface : str
        What they were simulated from: 'power mean' or 'sum'.
    """
    bias: dict
    spread: dict
    answered: dict
    truth: float
    n_sim: int
    surface: str = "sum"

    def correct(self, name: str, value: float, interval: Interval | None):
        """(value, interval) shifted by the bias of `name`; unchanged where it was not measured."""
        b = self.bias.get(name, math.nan)
        if not math.isfinite(b):
            return value, interval
        if interval is not None:
            interval = Interval(interval.lo - b, interval.hi - b, interval.n_boot, interval.n_failed,
                                interval.level, interval.method + " - bias", interval.scheme)
        return value - b, interval


def _simulated(points: pd.DataFrame, fit, sd: float, sd_shared: float, rng) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, curves = [], []
    shared = {}
    for i, p in enumerate(points.itertuples(index=False)):
        N, D, C = float(p.params), float(p.examples), float(p.flops)
        for s in range(max(int(getattr(p, "n_seeds", 3)), 1)):
            key = (s, p.data_fraction)
            if key not in shared:
                shared[key] = rng.normal(0, sd_shared)
            eps = math.exp(shared[key] + rng.normal(0, sd))
            run_id = f"sim-{i}-{s}"
            rows.append({**p._asdict(), "seed": s, "run_id": run_id, "status": "ok",
                         "val_loss": float(fit.predict(N, D)) * eps})
            e = np.unique(np.geomspace(max(D / 64, 32), D, CURVE_POINTS).round())
            curves.append(pd.DataFrame({"run_id": run_id, "examples": e, "flops": C * e / D,
                                        "val_loss": fit.predict(N, e) * eps}))
    return pd.DataFrame(rows), pd.concat(curves, ignore_index=True)


FORM_FREE = ("envelope", "isoflop")


@one_blas_thread()
def estimator_bias(an, n_sim: int = 30, seed: int = 0) -> Bias | None:
    """The bias of the envelope and IsoFLOP estimators of analysis `an` at its measured seed noise;
    None without a parametric fit or a measured noise."""
    noise, fit = an.seed_noise, an.parametric
    if fit is None or noise is None or not noise.measured or not an.nopt.get("parametric", None) \
            or not an.nopt["parametric"].ok:
        return None
    form = getattr(an, "form", None)
    truth, surface = an.nopt["parametric"].a, "sum"
    if form is not None:
        fit, truth, surface = form.fit, form.a_power_mean, "power mean"
    sd_shared = noise.sd_shared if math.isfinite(noise.sd_shared) else 0.0
    sd = math.sqrt(max(noise.sd ** 2 - sd_shared ** 2, 0.0))
    points = an.aggregate.points.drop(columns=[c for c in an.aggregate.points.columns
                                               if c.endswith("_std") or c in ("val_acc", "train_loss")])
    rng = np.random.default_rng(seed)
    names = [f"a_{m}" for m in FORM_FREE]
    got = {k: [] for k in names}
    for _ in range(n_sim):
        runs, curves = _simulated(points, fit, sd, sd_shared, rng)
        p = Prepared(runs, curves)
        try:
            r = point_estimates(p, np.ones(len(p.runs)), irreducible=False,
                                skip=frozenset(("loss_vs_params", "loss_vs_data", "parametric")))
        except ValueError:
            continue
        q = quantities(r)
        for k in names:
            if math.isfinite(q[k]):
                got[k].append(q[k])
    bias = {k: float(np.mean(v) - truth) if v else math.nan for k, v in got.items()}
    spread = {k: float(np.std(v)) if v else math.nan for k, v in got.items()}
    return Bias(bias, spread, {k: len(v) for k, v in got.items()}, float(truth), n_sim, surface)
