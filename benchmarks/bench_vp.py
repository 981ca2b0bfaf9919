"""The parametric L(N, D) fit: variable projection (fit_parametric: a 2-D search over the exponents,
one L-BFGS polish per basin) against the multi-start fit it replaced (L-BFGS from the best 8 points
of the exponents' grid), on Chinchilla's points and 54 synthetic sweeps and bootstrap resamples of
them: time per fit, and whether both land on the same optimum.

Run: .venv/bin/python benchmarks/bench_vp.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scaling.fit import aggregate, fit_parametric, synthetic_sweep  # noqa: E402
from scaling.fit import parametric as P  # noqa: E402
from scaling.fit.optim import one_blas_thread  # noqa: E402


def eight_starts(N, D, L, delta=1e-3):
    mN, mD = np.log(N).mean(), np.log(D).mean()
    u, v, lnL = np.log(N) - mN, np.log(D) - mD, np.log(L)
    with one_blas_thread():
        best = P._polish(P._vp_starts_chinchilla(u, v, L, delta, 8), u, v, lnL, delta)
    return P._result(best, N, D, lnL, mN, mD, len(N), delta)


def cases():
    ch = pd.read_csv(ROOT / "tests" / "data" / "chinchilla_fig4_extracted.csv").sort_values("loss").iloc[:-5]
    N = ch["Model Size"].to_numpy(float)
    yield "chinchilla", N, ch["Training FLOP"].to_numpy(float) / (6 * N), ch["loss"].to_numpy(float)
    for seed in range(6):
        for noise in (0.0, 0.01, 0.03):
            runs = synthetic_sweep(seeds=2, seed=seed, noise=noise)[0] if noise else \
                synthetic_sweep(seeds=1, noise=0.0, seed=seed)[0]
            pts = aggregate(runs).points
            rng = np.random.default_rng(seed)
            for k in range(3):
                p = pts.iloc[rng.choice(len(pts), len(pts)) if k else np.arange(len(pts))]
                yield f"synthetic {seed}/{noise}/{k}", *(p[c].to_numpy(float) for c in ("params", "examples", "val_loss"))


def main() -> None:
    t_old = t_new = 0.0
    n = same = 0
    for name, N, D, L in cases():
        t0 = time.perf_counter()
        a = eight_starts(N, D, L)
        t1 = time.perf_counter()
        b = fit_parametric(N, D, L)
        t2 = time.perf_counter()
        t_old, t_new, n = t_old + t1 - t0, t_new + t2 - t1, n + 1
        ok = b.objective <= a.objective * (1 + 1e-9) + 1e-15 and all(
            np.isclose(getattr(a, k), getattr(b, k), rtol=1e-4) for k in ("E", "A", "B", "alpha", "beta"))
        same += ok
        if not ok:
            print(f"  {name}: differ: objective {a.objective:.6g} -> {b.objective:.6g}")
    print(f"{n} fits: 8 L-BFGS starts {1e3 * t_old / n:.1f} ms per fit; variable projection {1e3 * t_new / n:.1f} ms "
          f"({t_old / t_new:.1f}x); same optimum in {same} of {n}")


if __name__ == "__main__":
    main()
