"""The parametric fit by variable projection (a 2-D search over the exponents, then one L-BFGS
polish per basin) lands where the multi-start L-BFGS from the grid's best eight points does."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scaling.fit import aggregate, fit_parametric, synthetic_sweep
from scaling.fit import parametric as P
from scaling.fit.optim import one_blas_thread

CHINCHILLA = Path(__file__).resolve().parents[1] / "data" / "chinchilla_fig4_extracted.csv"


def eight_starts(N, D, L, delta=1e-3):
    """The fit as it was: L-BFGS from the best eight points of the coarse grid."""
    N, D, L = (np.asarray(x, float) for x in (N, D, L))
    mN, mD = np.log(N).mean(), np.log(D).mean()
    u, v, lnL = np.log(N) - mN, np.log(D) - mD, np.log(L)
    with one_blas_thread():
        best = P._polish(P._vp_starts_chinchilla(u, v, L, delta, 8), u, v, lnL, delta)
    return P._result(best, N, D, lnL, mN, mD, len(N), delta)


def same(a, b):
    assert b.objective <= a.objective * (1 + 1e-9) + 1e-15
    for k in ("E", "A", "B", "alpha", "beta"):
        assert getattr(b, k) == pytest.approx(getattr(a, k), rel=1e-4), k


def test_chinchilla_matches_eight_starts():
    df = pd.read_csv(CHINCHILLA).sort_values("loss").iloc[:-5]
    N = df["Model Size"].to_numpy()
    D, L = df["Training FLOP"].to_numpy() / (6 * N), df["loss"].to_numpy()
    same(eight_starts(N, D, L), fit_parametric(N, D, L))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noisy_synthetic_resamples_match_eight_starts(seed):
    pts = aggregate(synthetic_sweep(seeds=2, seed=seed, noise=0.03)[0]).points
    rng = np.random.default_rng(seed)
    for idx in (np.arange(len(pts)), rng.choice(len(pts), len(pts))):
        p = pts.iloc[idx]
        args = p["params"].to_numpy(), p["examples"].to_numpy(), p["val_loss"].to_numpy()
        same(eight_starts(*args), fit_parametric(*args))


def test_one_basin_one_polish():
    # a synthetic law's profile has a single basin: one start, refined close to the optimum
    pts = aggregate(synthetic_sweep(seeds=1, noise=0.0)[0]).points
    N, D, L = (pts[c].to_numpy(float) for c in ("params", "examples", "val_loss"))
    u, v = np.log(N) - np.log(N).mean(), np.log(D) - np.log(D).mean()
    starts = P._vp_basins(u, v, L, 1e-3, 8)
    assert len(starts) == 1
    assert starts[0][3:] == pytest.approx([0.4, 0.3], abs=0.01)
