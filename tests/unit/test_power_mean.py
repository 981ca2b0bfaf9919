"""The power-mean L(N, D): recovers laws of its own form, contains the sum, and fits Chinchilla's points."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scaling.fit.parametric import fit_parametric
from scaling.fit.power_mean import fit_power_mean

CHINCHILLA = Path(__file__).resolve().parents[1] / "data" / "chinchilla_fig4_extracted.csv"


def _law(q, noise=0.0, seed=0):
    N, D = (g.ravel() for g in np.meshgrid(np.geomspace(1e4, 1e7, 8), np.geomspace(1e4, 1e7, 8)))
    x, y = 400 * N ** -0.35, 800 * D ** -0.3
    L = 1.5 + (x ** q + y ** q) ** (1 / q)
    return N, D, L * np.exp(noise * np.random.default_rng(seed).standard_normal(L.size))


@pytest.mark.parametrize("q", [0.6, 1.0, 2.5])
def test_a_law_of_its_own_form_is_recovered(q):
    f = fit_power_mean(*_law(q, noise=0.002))
    assert f.q == pytest.approx(q, rel=0.15)
    assert f.alpha == pytest.approx(0.35, abs=0.03) and f.beta == pytest.approx(0.3, abs=0.03)
    assert f.a == pytest.approx(0.3 / 0.65, abs=0.03)


def test_it_contains_the_sum_and_fits_chinchillas_points_at_least_as_well():
    df = pd.read_csv(CHINCHILLA).sort_values("loss").iloc[:-5]  # Epoch AI drop the 5 highest losses
    N, C, L = df["Model Size"].to_numpy(), df["Training FLOP"].to_numpy(), df["loss"].to_numpy()
    D = C / (6 * N)
    s, p = fit_parametric(N, D, L), fit_power_mean(N, D, L)
    assert p.objective <= s.objective * (1 + 1e-6)
    assert 0.2 <= p.q <= 10 and 0.3 < p.a < 0.7


def test_too_few_points_is_one_line():
    with pytest.raises(ValueError, match="6 parameters"):
        fit_power_mean([1e4, 1e5, 1e6], [1e4, 1e5, 1e6], [3.0, 2.5, 2.2])
