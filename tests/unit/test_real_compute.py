"""The parametric N_opt exponent along the family's real compute (issue 27, item 4)."""
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from scaling.core import arch
from scaling.fit import analyze, format_analysis, synthetic_sweep
from scaling.fit.nopt import nopt_from_fit
from scaling.fit.real_compute import _quadratic, compute_path, slope_along
from scaling.store.exchange import SHIPPED

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import calibration  # noqa: E402


def test_the_path_is_the_architectures_own_n_and_flops():
    runs = pd.read_parquet(SHIPPED)
    cfg = runs.drop_duplicates("width_step")
    w = cfg["width"].to_numpy(float)
    qn, qc = _quadratic(w, cfg["params"].to_numpy(float)), _quadratic(w, (cfg["flops"] / cfg["examples"]).to_numpy(float))
    for c in (1.5, 7.3, 100.0):  # between and beyond the widths tested, too
        assert np.polyval(qn, c) == pytest.approx(arch.n_params(c), rel=1e-9)
        assert np.polyval(qc, c) == pytest.approx(3 * arch.forward_flops(c), rel=1e-9)
    assert compute_path(w, cfg["params"], cfg["flops"], cfg["examples"]).kind == "quadratic"


def test_the_parametric_exponent_is_the_slope_along_the_real_compute():
    """Noiseless sweep of the real CNN: the estimate is the true law's N_opt slope over the grid's
    budgets, which the power-law shortcut beta/(alpha + gamma beta) misses by 0.004."""
    t = calibration.H100
    runs, curves = synthetic_sweep(**calibration.GRIDS["exercise"], cnn=True, truth=t, noise=0.0)
    an = analyze(runs, curves, n_boot=0, extras=False)
    pts = an.aggregate.points
    path = compute_path(pts["width"], pts["params"], pts["flops"], pts["examples"])
    budgets = np.geomspace(pts["flops"].min(), pts["flops"].max(), 16)
    truth = slope_along(path, SimpleNamespace(**t), budgets)[0]
    shortcut = nopt_from_fit(SimpleNamespace(**t), an.compute)[0]
    assert an.nopt["parametric"].a == pytest.approx(truth, abs=1e-6)
    assert abs(shortcut - truth) > 0.003
    # beta/(alpha+beta) stays beside it as the asymptotic figure
    assert an.parametric.a == pytest.approx(t["beta"] / (t["alpha"] + t["beta"]), abs=1e-4)
    assert "beta/(alpha+beta) = 0.6026" in format_analysis(an)


def test_under_6nd_the_slope_is_chinchillas_ratio():
    """With C = 6 N D exactly, minimising along the path is minimising along C = 6 N D."""
    runs, curves = synthetic_sweep(**calibration.GRIDS["exercise"], cnn=True, truth=calibration.H100, noise=0.0)
    an = analyze(runs, curves, n_boot=0, extras=False, compute="6nd")
    assert an.nopt["parametric"].a == pytest.approx(an.parametric.a, abs=1e-5)
