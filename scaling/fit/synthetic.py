"""Synthetic sweeps with the runs/curves data contract, for tests, benchmarks and demos.

Loss follows L = E + A/N^alpha + B/D^beta with multiplicative log-normal seed noise, so the
true exponents are known: loss-vs-compute on the frontier ~ alpha*beta/(alpha+beta) and
N_opt ~ C^(beta/(alpha+beta)). Forward FLOPs are taken proportional to N (flops_per_param
multiply-adds x 2), so C = 3 * F * D = c_per * N * D exactly, unless flops_gamma is set.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from scaling.core.arch import forward_flops, n_params
from scaling.core.arch import width as width_of

TRUTH = dict(E=0.05, A=11.0, B=5.0, alpha=0.4, beta=0.3)


def params_of(width: int) -> int:
    """A stand-in N with the CNN's shape (quadratic in width); its smaller constant keeps TRUTH's
    optimum inside widths 4..45, so every estimator can answer on the default grid."""
    return int(30 * width * width + 200 * width)


def synthetic_sweep(*, width_steps=range(8), fractions=tuple(2.0 ** -k for k in range(8)), seeds=3,
                    dropouts=(0.0,), lr_mults=(1.0,), truth: dict | None = None,
                    noise: float = 0.02, n_curve: int = 10, bad_runs: int = 0,
                    flops_per_param: float = 14.0, flops_gamma: float = 1.0, seed: int = 0,
                    dataset: str = "mnist", cnn: bool = False, seed_noise: float = 0.0, bend: float = 0.0,
                    power_mean: float = 1.0):
    """(runs, curves) DataFrames. truth: E, A, B, alpha, beta, or per dropout {dropout: dict}.

    flops_gamma != 1 makes forward FLOPs grow as N^gamma (a real CNN's FLOPs per parameter
    drift with width), so that C is no longer proportional to N D. cnn=True takes N and the
    forward FLOPs of the real CNN family (arch.py) instead. seed_noise adds a log-normal factor
    shared by every width of one seed and fraction (a seed fixes the data subset: its runs are
    not independent); noise is each run's own. bend > 0 raises the reducible loss to the power
    1 + bend: a frontier that bends more than L = E + A/N^alpha + B/D^beta allows (a wrong form).
    power_mean = p != 1 combines the two terms as (x^p + y^p)^(1/p) instead of their sum (another
    wrong form: the sharper corner of a bottleneck, p > 1, or a softer one, p < 1).
    """
    rng = np.random.default_rng(seed)
    shared_rng = np.random.default_rng([seed, 1])  # its own stream: seed_noise=0 leaves the runs as they were
    shared = {(d, s, f): np.exp(seed_noise * shared_rng.standard_normal())
              for d in dropouts for s in range(seeds) for f in fractions}
    rows, curve_rows = [], []
    for dropout in dropouts:
        t = dict(TRUTH)
        if truth:
            t.update(truth[dropout] if dropout in truth else truth)
        for k in width_steps:
            w = width_of(k)
            if cnn:
                N, F = n_params(w), forward_flops(w)
            else:
                N = params_of(w)
                N0 = params_of(width_of(0))
                F = 2 * flops_per_param * N0 * (N / N0) ** flops_gamma
            for f in fractions:
                D = int(round(f * 60000))
                for lr in lr_mults:
                    for s in range(seeds):
                        run_id = f"{dataset}-d{dropout}-k{k}-f{f:g}-lr{lr:g}-s{s}"
                        # lr_mult 1 is best; the seed noise is one draw per run
                        lr_pen = 1 + 0.05 * np.log(lr) ** 2
                        eps = np.exp(noise * rng.standard_normal()) * shared[(dropout, s, f)]

                        def law(d):
                            x, y = t["A"] * N ** -t["alpha"], t["B"] * d ** -t["beta"]
                            red = (x ** power_mean + y ** power_mean) ** (1 / power_mean)
                            return (t["E"] + red ** (1 + bend)) * lr_pen * eps

                        L = law(D)
                        rows.append(dict(run_id=run_id, dataset=dataset, width_step=k, width=w,
                                         dropout=dropout, data_fraction=f, seed=s,
                                         lr_rule="fan_in", lr_mult=lr, epochs=1, batch_size=128,
                                         params=N, examples=D, flops=3.0 * F * D, val_loss=L,
                                         val_acc=float(np.exp(-3 * L)), train_loss=L * 0.95,
                                         wall_s=1e-6 * F * D, device="cpu", status="ok"))
                        for e in np.unique(np.geomspace(max(D / 64, 32), D, n_curve).round()):
                            le = law(e) * np.exp(0.005 * rng.standard_normal()) if e < D else L
                            curve_rows.append(dict(run_id=run_id, examples=int(e),
                                                   flops=3.0 * F * e, val_loss=le,
                                                   val_acc=float(np.exp(-3 * le))))
    runs = pd.DataFrame(rows)
    if bad_runs:
        idx = rng.choice(len(runs), bad_runs, replace=False)
        runs.loc[idx, "status"] = np.where(np.arange(bad_runs) % 2 == 0, "diverged", "failed")
        runs.loc[idx[::2], "val_loss"] = np.nan
    return runs, pd.DataFrame(curve_rows)
