"""The 95% intervals are measured to cover: a small version of benchmarks/calibration.py."""
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import calibration  # noqa: E402


@pytest.mark.slow
def test_intervals_cover_at_least_80_percent_at_the_measured_noise():
    own, shared = calibration.measured_noise()
    res = calibration.run_case("h100 law", calibration.CASES["h100 law"], calibration.GRIDS["small"],
                               sweeps=20, boot=60, noise=own, seed_noise=shared)
    rows = {r["name"]: r for r in res["rows"]}
    answering = [k for k, r in rows.items() if r["answered"] >= 15 and r["coverage"] is not None]
    assert {"alpha_C", "a_parametric", "alpha", "beta", "verdict"} <= set(answering)
    for k in answering:
        assert rows[k]["coverage"] >= 0.8, rows[k]


def test_the_benchmark_takes_its_noise_from_the_shipped_grid_and_its_truths_from_the_real_compute():
    own, shared = calibration.measured_noise()
    assert math.hypot(own, shared) == pytest.approx(0.231, abs=0.003) and 0.02 < shared < 0.07
    t, _ = calibration.truths(calibration.CASES["h100 law"], calibration.GRIDS["small"])
    assert t["a_envelope"] == t["a_isoflop"] == t["a_parametric"] == t["verdict"]
    wrong, noiseless = calibration.truths(calibration.CASES["power mean (p = 2)"], calibration.GRIDS["small"])
    assert math.isnan(wrong["alpha"]) and math.isnan(wrong["beta"])  # no such exponents in that form
    assert wrong["a_parametric"] - t["a_parametric"] > 0.005  # the power mean moves the true optimum
    assert noiseless["a_parametric"] < wrong["a_parametric"] - 0.03  # and the sum form misses it


def test_seeds_are_resampled_with_their_runs():
    """A resample draws whole (seed, fraction) blocks with few seeds, whole seeds with many."""
    import numpy as np

    from scaling.fit import synthetic_sweep
    from scaling.fit.resample import Resampler
    from scaling.fit.runs import Prepared

    runs, _ = synthetic_sweep(width_steps=range(3), fractions=(1 / 4, 1 / 8), seeds=3)
    r = Resampler(Prepared(runs))
    assert r.scheme == "seeds within each data fraction" and r.inflate == pytest.approx((3 / 2) ** 0.5)
    w = r.weights(np.random.default_rng(0))
    for (f, s), g in runs.assign(w=w).groupby(["data_fraction", "seed"]):
        assert g["w"].nunique() == 1  # every width of one seed and fraction is drawn together
    assert all(g["w"].sum() == 3 * 3 for _, g in runs.assign(w=w).groupby("data_fraction"))
    many, _ = synthetic_sweep(width_steps=range(3), fractions=(1 / 4, 1 / 8), seeds=6)
    r = Resampler(Prepared(many))
    w = r.weights(np.random.default_rng(0))
    assert r.scheme == "seeds" and all(g.nunique() == 1 for _, g in many.assign(w=w).groupby("seed")["w"])


def test_the_verdict_names_the_estimate_to_believe_and_why():
    from scaling.core import arch
    from scaling.fit import analyze, synthetic_sweep, verdict

    grid = dict(width_steps=arch.width_steps(-4, 5), fractions=tuple(2.0 ** -k for k in range(7)), seeds=3,
                cnn=True, noise=0.03, seed_noise=0.03, seed=5)
    an = analyze(*synthetic_sweep(**grid, truth=calibration.H100), n_boot=40)
    v = verdict(an)
    assert all(nf.ok for nf in an.nopt.values())
    assert v.choice in an.nopt and v.reason and ("overlap" in v.reason) == v.agree
    # where only the parametric form answers, the verdict says its answer rests on the form
    small = analyze(*synthetic_sweep(**{**grid, "width_steps": [0, 1, 2, 3], "fractions": (1 / 16, 1 / 32, 1 / 64)},
                                     truth=calibration.H100), n_boot=0)
    v = verdict(small)
    assert v.choice == "parametric" and "rests on the form" in v.reason
    assert "verdict: believe parametric" in __import__("scaling.fit", fromlist=["format_analysis"]).format_analysis(small)


def test_reporting_bias_is_zero_without_noise_and_positive_with_it():
    import numpy as np
    import pytest

    from scaling.fit import reporting_bias, synthetic_sweep

    runs, _ = synthetic_sweep(seed=3, lr_mults=(0.5, 1.0, 2.0))
    with pytest.raises(ValueError, match="each half of the test set"):
        reporting_bias(runs)
    same = runs.assign(val_loss_even=runs["val_loss"], val_loss_odd=runs["val_loss"])
    rb = reporting_bias(same)
    assert rb.loss_optimism == 0 and rb.alpha_same == rb.alpha_split and rb.lr_changed == 0
    # independent noise per half: choosing on the half it is scored on picks its lucky draws
    rng = np.random.default_rng(0)
    noisy = runs.assign(val_loss_even=runs["val_loss"] * np.exp(rng.normal(0, 0.03, len(runs))),
                        val_loss_odd=runs["val_loss"] * np.exp(rng.normal(0, 0.03, len(runs))))
    rb = reporting_bias(noisy)
    assert rb.loss_optimism > 0.003 and rb.lr_changed > 0 and "chosen on the other" in rb.format()
