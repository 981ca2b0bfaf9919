"""Seed noise measured from the runs' own seeds (fit.seed_noise), against laws whose noise is known
and against the shipped grid's figures."""
import math

import numpy as np
import pandas as pd
import pytest

from scaling.fit.runs import CONFIG_KEYS
from scaling.fit.seed_noise import seed_noise
from scaling.store.exchange import SHIPPED

KEYS = ["width_step", "data_fraction", "dropout"]


def _sweep(su: float, se: float, seeds: int = 3, fractions: int = 12, widths: int = 10, rng=None) -> pd.DataFrame:
    """ln L = a smooth law + u(seed, fraction) shared by that seed's widths + e(run)."""
    rng = rng or np.random.default_rng(0)
    rows = []
    for f in range(fractions):
        for s in range(seeds):
            u = rng.normal(0, su)
            for w in range(widths):
                lnL = 1 - 0.1 * w + 0.2 * f + u + rng.normal(0, se)
                rows.append(dict(width_step=w, data_fraction=2.0 ** -f, seed=s, dropout=0.0, val_loss=math.exp(lnL)))
    return pd.DataFrame(rows)


@pytest.mark.parametrize("su, se", [(0.0, 0.2), (0.1, 0.2), (0.15, 0.1)])
def test_the_per_run_and_the_shared_noise_of_a_known_law_are_recovered(su, se):
    rng = np.random.default_rng(1)
    found = [seed_noise(_sweep(su, se, rng=rng), KEYS) for _ in range(20)]
    sd = np.mean([n.sd for n in found])
    share = np.mean([n.shared_share for n in found])
    assert sd == pytest.approx(math.hypot(su, se), rel=0.05)
    assert share == pytest.approx(su ** 2 / (su ** 2 + se ** 2), abs=0.04)


def test_the_shipped_grids_seed_noise():
    """The figures the calibration must use: SD of ln L about 0.23 at dropout 0 and 0.16 at 0.2.
    One seed's widths share only ~5% of it: the mean residual of a seed over its widths (which
    reads 12-15%) also carries each run's own noise divided by the number of widths."""
    runs = pd.read_parquet(SHIPPED)
    d0, d2 = (seed_noise(runs[runs["dropout"] == d], CONFIG_KEYS) for d in (0.0, 0.2))
    assert d0.sd == pytest.approx(0.231, abs=0.005) and d2.sd == pytest.approx(0.163, abs=0.005)
    assert 0.0 <= d0.shared_share < 0.1 and 0.0 <= d2.shared_share < 0.1
    assert d0.n_configs == 88 and d0.n_runs == 264
    assert "SD of ln L 0.231" in d0.describe()


def test_one_seed_measures_nothing_and_says_so():
    one = _sweep(0.1, 0.2, seeds=1)
    n = seed_noise(one, KEYS)
    assert not n.measured and n.n_configs == 0 and "not measured" in n.describe()
    assert n.to_dict()["sd"] is None
