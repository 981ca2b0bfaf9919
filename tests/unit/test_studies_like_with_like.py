"""Studies compare like with like: both sides on their common range, each side resampled as Compare
resamples it (the same interval for the same runs), an effect whose interval includes none worded as
'no measurable difference', provisional until the preset is cached, each side in its own colour."""
from __future__ import annotations

import math

import numpy as np
from test_studies import BOOT, FRACTIONS, arch_runs, runs_of

from scaling import fit, services
from scaling.charts import studies as study_charts
from scaling.fit import studies
from scaling.fit.studies.common import common_range


def _wider_cnn(ratio=3.0):
    """The arch preset's shape of trouble: the CNN cached at more widths and fractions than the MLP."""
    runs = arch_runs(ratio)
    extra = runs_of([dict(width_step=k, data_fraction=f, arch="cnn") for k in (4, 5) for f in FRACTIONS[2:]]
                    + [dict(width_step=k, data_fraction=1.0, arch="cnn") for k in (0, 1, 2, 3)],
                    lambda c, N, D, C: 5 * C ** -0.25, rng_seed=1)
    mlp = runs["arch"] == "mlp"
    runs = runs[~(mlp & (runs["data_fraction"] == 1.0))]  # the MLP to 1/2, as on a CPU
    extra["run_id"] = "x" + extra["run_id"]
    import pandas as pd

    return pd.concat([runs, extra], ignore_index=True)


def test_common_range_keeps_what_every_side_has_and_says_what_it_left_out():
    runs = _wider_cnn()
    kept, note = common_range(runs, "arch")
    assert kept["width_step"].max() == 3 and kept["data_fraction"].max() == 0.5
    assert set(kept["arch"]) == {"cnn", "mlp"}
    assert "width steps 0–3 and data fractions 1/64–1/2" in note and "runs outside it left out" in note
    assert common_range(arch_runs(), "arch")[1] == ""  # the same ranges: nothing to say


def test_the_study_answers_on_the_common_range_through_the_services():
    r = services.studies.answer("arch", _wider_cnn(), n_boot=BOOT)
    assert r.ok and r.answer.startswith("Compared on the range every side has")
    assert r.points["width_step"].max() == 3 and r.points["data_fraction"].max() == 0.5


def test_a_sides_interval_is_the_one_compare_gives_the_same_runs():
    """The MLP's α_C read 0.30 [0.29, 0.38] on Studies and 0.301 [0.285, 0.318] on Compare for the same
    runs: the study drew the seeds of every side together. Now each side is drawn as Compare draws it."""
    runs = arch_runs(3.0)
    r = studies.study_arch(runs, n_boot=BOOT, seed=0)
    for a in ("cnn", "mlp"):
        an = fit.analyze(runs[runs["arch"] == a], None, n_boot=BOOT, seed=0, extras=False, estimators=(),
                         irreducible=False)  # the studies compare the pure law (docs/intervals.md)
        row = r.exponents.set_index("arch").loc[a]
        iv = an.intervals["alpha_C"]
        assert math.isclose(row["value"], an.loss_vs_compute.alpha, rel_tol=1e-6)
        assert math.isclose(row["lo"], iv.lo, rel_tol=1e-4) and math.isclose(row["hi"], iv.hi, rel_tol=1e-4), (row, iv)


def test_an_effect_whose_interval_includes_none_is_no_measurable_difference():
    runs = arch_runs(1.0)  # the same constant and exponent: the ratio's interval includes 1
    r = studies.study_arch(runs, n_boot=BOOT)
    assert "No measurable difference in the exponent" in r.answer
    assert "no measurable difference in the compute to reach loss" in r.answer and "includes 1" in r.answer


def test_provisional_until_the_preset_is_cached():
    preset = services.studies.preset("arch", "cpu")
    import pandas as pd

    have = pd.DataFrame({"run_id": [c.run_id for c in preset[:10]], "status": "ok"})
    words = services.studies.provisional("arch", "cpu", have)
    assert words.startswith(f"Provisional: 10 of {len(preset)} runs of this study's preset are cached")
    full = pd.DataFrame({"run_id": [c.run_id for c in preset], "status": "ok"})
    assert services.studies.provisional("arch", "cpu", full) == ""


def test_exponents_side_by_side_colours_each_side_as_its_own_chart_does():
    r = studies.study_arch(arch_runs(3.0), n_boot=BOOT)
    figs = study_charts.study_charts(r)
    own = figs[0].spec()["layer"][0]["encoding"]["color"]["scale"]
    side = figs[-1].spec()["layer"][0]["encoding"]["color"]
    assert side["field"] == "setting" and side["scale"]["range"] == own["range"]
    assert len(set(side["scale"]["range"])) == 2
    n = studies.study_noise(runs_of([dict(width_step=3, data_fraction=f, label_noise=lv) for lv in (0.0, 0.2)
                                      for f in FRACTIONS], lambda c, N, D, C: 40 * D ** -0.5), n_boot=10)
    spec = study_charts.study_charts(n)[-1].spec()
    assert len(set(spec["layer"][0]["encoding"]["color"]["scale"]["range"])) == 2
    assert np.all([lab.startswith("label noise") for lab in spec["layer"][0]["encoding"]["color"]["scale"]["domain"]])
