"""The parametric interval covers the answer of a power mean of the two terms (fit.form_uncertainty)."""
import math
import sys
from pathlib import Path

import pytest

from scaling.fit import analyze, synthetic_sweep
from scaling.fit.intervals import Interval

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import calibration  # noqa: E402


def test_on_a_noiseless_power_mean_law_the_refit_finds_q_and_the_true_slope_and_the_interval_covers_it():
    case = calibration.CASES["power mean (p = 2)"]
    grid = calibration.GRIDS["small"]
    truth, _ = calibration.truths(case, grid)
    runs, curves = synthetic_sweep(**grid, truth=case["truth"], power_mean=2.0, cnn=True, noise=0.0, n_curve=10)
    an = analyze(runs, curves, n_boot=0, debias=0)
    f = an.form
    assert f.q == pytest.approx(2.0, abs=0.05) and f.a_sum == an.nopt["parametric"].a
    assert f.a_power_mean == pytest.approx(truth["a_parametric"], abs=0.005)
    assert f.a_sum < truth["a_parametric"] - 0.02  # the sum form reads it low
    iv = f.widen(Interval(f.a_sum - 0.01, f.a_sum + 0.01, 100))
    assert iv.contains(f.a_power_mean) and iv.contains(f.a_sum) and iv.method.endswith("+ form")
    assert iv.hi - iv.lo == pytest.approx(0.02 + abs(f.shift))
    assert "q = 2.00" in f.describe() and an.to_dict()["form"]["shift"] == pytest.approx(f.shift)


def test_on_a_sum_law_the_refit_stays_at_the_sum_and_the_interval_hardly_widens():
    runs, curves = synthetic_sweep(**calibration.GRIDS["small"], truth=calibration.H100, cnn=True, noise=0.0,
                                   n_curve=10)
    f = analyze(runs, curves, n_boot=0, debias=0).form
    assert f.q == pytest.approx(1.0, abs=0.02) and abs(f.shift) < 0.003
    assert f.widen(None) is None and math.isnan(f.widen(Interval(math.nan, math.nan, 0)).lo)  # nothing to widen
