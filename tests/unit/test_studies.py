"""The studies beyond the exercise, on synthetic runs whose answers are known (no training)."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from scaling.core import arch
from scaling.fit import studies

BOOT = 60  # resamples per study in these tests: enough for an interval, fast on 2 cores
CLASS_SIZE = {"": 60_000, "56789": 29_404, "01234": 30_596}
AXES = dict(label_noise=0.0, arch="cnn", classes="", pretrain_classes="", pretrain_fraction=1.0, pretrain_epochs=1,
            epochs=1, dropout=0.0, lr_mult=1.0, lr_rule="fan_in", dataset="mnist", batch_size=64)


def runs_of(cells, loss, seeds=(0, 1, 2), noise=0.01, rng_seed=0) -> pd.DataFrame:
    """A runs table (the store's columns) for each cell (a dict of RunConfig fields) and seed, with
    val_loss = loss(cell, N, D, C) times (1 + noise * a standard normal)."""
    rng = np.random.default_rng(rng_seed)
    rows = []
    for cell in cells:
        for s in seeds:
            c = {**AXES, **cell, "seed": s}
            w = arch.width(c["width_step"])
            D = int(c["data_fraction"] * CLASS_SIZE[c["classes"]]) * c["epochs"]
            N, C = arch.n_params(w, c["arch"]), 3.0 * arch.forward_flops(w, c["arch"]) * D
            L = loss(c, N, D, C) * (1 + noise * rng.standard_normal())
            rows.append({**c, "run_id": f"r{len(rows)}", "width": w, "params": N, "examples": D, "flops": C,
                         "val_loss": L, "val_acc": 0.9, "train_loss": L, "status": "ok", "protocol": 2,
                         "precision": "fp32"})
    return pd.DataFrame(rows)


FRACTIONS = [2.0 ** -k for k in range(8, -1, -1)]  # 1/256 .. 1


def noise_runs(alpha_noisy: float, scale_noisy: float = 1.0, levels=(0.0, 0.2), fractions=FRACTIONS):
    def loss(c, N, D, C):
        if c["label_noise"] == 0:
            return 40 * D ** -0.5
        return scale_noisy * 40 * 100 ** (alpha_noisy - 0.5) * D ** -alpha_noisy  # equal at D = 100, higher above
    cells = [dict(width_step=3, data_fraction=f, label_noise=lv) for lv in levels for f in fractions]
    return runs_of(cells, loss)


def test_noise_that_changes_the_exponent_is_found():
    r = studies.study_noise(noise_runs(0.25), n_boot=BOOT)
    assert r.ok and r.width == 11
    e = r.exponents.set_index("label_noise")
    assert abs(e.loc[0.0, "value"] - 0.5) < 0.01 and e.loc[0.0, "lo"] < e.loc[0.0, "value"] < e.loc[0.0, "hi"]
    assert abs(e.loc[0.2, "value"] - 0.25) < 0.01 and e.loc[0.2, "lo"] < e.loc[0.2, "value"] < e.loc[0.2, "hi"]
    assert "do not overlap" in r.answer and "changes the data exponent" in r.answer
    assert "[" in r.answer  # intervals in the sentence
    gaps = r.gaps.set_index("where")
    assert gaps.loc["largest", "gap"] > gaps.loc["smallest", "gap"]  # noise costs more as D grows here
    json.dumps(r.to_dict())
    assert "Label noise" in r.format()
    assert set(r.lines["label_noise"]) == {0.0, 0.2}


def test_noise_that_only_shifts_the_loss_keeps_the_exponent():
    r = studies.study_noise(noise_runs(0.5, scale_noisy=1.3), n_boot=BOOT)
    assert r.ok
    assert "the intervals overlap" in r.answer and "shifts the loss" in r.answer
    g = r.gaps.set_index("where")
    assert g.loc["smallest", "gap"] == pytest.approx(0.3 * 40 * 234 ** -0.5, rel=0.05)  # 30% higher
    assert g.loc["smallest", "lo"] > 0 and "higher" in r.answer


def test_noise_says_what_is_missing():
    clean = noise_runs(0.5, levels=(0.0,))
    r = studies.study_noise(clean, n_boot=BOOT)
    assert not r.ok and "label noise above 0" in r.answer
    few = pd.concat([clean, noise_runs(0.3, levels=(0.2,), fractions=[1 / 8, 1 / 4])])
    r = studies.study_noise(few, n_boot=BOOT)
    assert not r.ok
    assert r.answer == "Needs runs at 3 or more data fractions at width 11 with 20% label noise."
    assert not studies.study_noise(pd.DataFrame(), n_boot=BOOT).ok


def arch_runs(ratio: float = 3.0, alpha_mlp: float = 0.3):
    def loss(c, N, D, C):
        return 5 * C ** -0.3 if c["arch"] == "cnn" else 5 * ratio ** alpha_mlp * C ** -alpha_mlp
    cells = [dict(width_step=k, data_fraction=f, arch=a) for a in ("cnn", "mlp") for k in (0, 1, 2, 3)
             for f in FRACTIONS[2:]]
    return runs_of(cells, loss)


def test_arch_constant_without_exponent():
    r = studies.study_arch(arch_runs(3.0), n_boot=BOOT)
    assert r.ok
    e = r.exponents.set_index("arch")
    assert e.loc["cnn", "lo"] <= 0.3 <= e.loc["cnn", "hi"] and e.loc["mlp", "lo"] <= 0.3 <= e.loc["mlp", "hi"]
    comp = r.compute.set_index("arch")
    assert comp.loc["mlp", "lo"] <= 3.0 <= comp.loc["mlp", "hi"]
    assert "the intervals overlap" in r.answer and "No measurable difference in the exponent" in r.answer
    assert "the MLP needs 2.9" in r.answer  # the constant: a ratio whose interval excludes 1
    assert r.points["frontier"].any() and set(r.lines["arch"]) == {"cnn", "mlp"}
    json.dumps(r.to_dict())


def test_arch_exponent_change_is_found():
    r = studies.study_arch(arch_runs(1.0, alpha_mlp=0.15), n_boot=BOOT)
    assert r.ok and "do not overlap" in r.answer and "changes the exponent" in r.answer


def test_arch_says_what_is_missing():
    only_cnn = arch_runs()
    r = studies.study_arch(only_cnn[only_cnn["arch"] == "cnn"], n_boot=BOOT)
    assert not r.ok and "an MLP" in r.answer
    # runs written before the study axes existed have no arch column: they are the cnn
    r = studies.study_arch(only_cnn[only_cnn["arch"] == "cnn"].drop(columns=["arch"]), n_boot=BOOT)
    assert not r.ok and "only cnn runs" in r.answer


K, ALPHA, BETA = 5.0, 0.4, 0.3


def transfer_runs(k=K, alpha=ALPHA, beta=BETA, widths=(0, 2, 4), noise=0.005):
    """From scratch on 5-9: L = A_N D^-0.4; fine-tuned from 0-4: the loss of D_F + D_T from-scratch
    examples, D_T = k D_F^alpha N^beta."""
    def scratch(N, D):
        return 20 * (N / 1e4) ** -0.1 * D ** -0.4

    def loss(c, N, D, C):
        if not c["pretrain_classes"]:
            return scratch(N, D)
        return scratch(N, D + k * D ** alpha * N ** beta)
    cells = [dict(width_step=w, data_fraction=f, classes="56789") for w in widths for f in FRACTIONS[:7]]
    cells += [dict(width_step=w, data_fraction=f, classes="56789", pretrain_classes="01234")
              for w in widths for f in FRACTIONS[:4]]
    return runs_of(cells, loss, noise=noise)


def test_transfer_recovers_k_alpha_beta():
    r = studies.study_transfer(transfer_runs(), n_boot=BOOT)
    assert r.ok, r.answer
    assert r.target == "56789" and r.source == "01234"
    assert r.intervals["alpha"].contains(ALPHA) and abs(r.alpha - ALPHA) < 0.05
    assert r.intervals["beta"].contains(BETA) and abs(r.beta - BETA) < 0.05
    assert r.intervals["k"].contains(K)
    assert r.points["used"].all() and (r.points["D_T"] > 0).all()
    assert set(r.fit_line["width"]) == {4, 8, 16}
    assert "digits 0-4" in r.answer and "5-9" in r.answer and "α = 0.4" in r.answer
    json.dumps(r.to_dict())


def test_transfer_flags_extrapolated_points():
    # a huge transfer: fine-tuned runs beat from-scratch at its largest D, so D_E is extrapolated
    r = studies.study_transfer(transfer_runs(k=400.0), n_boot=0)
    assert r.ok and r.points["extrapolated"].any()
    assert "extrapolated" in r.answer


def test_transfer_says_what_is_missing():
    runs = transfer_runs()
    assert "no fine-tuned runs" in studies.study_transfer(runs[runs["pretrain_classes"] == ""], n_boot=0).answer
    no_scratch = runs[(runs["pretrain_classes"] != "") | (runs["width_step"] == 0)]
    r = studies.study_transfer(no_scratch, n_boot=0)
    assert not r.ok and "from-scratch runs on digits 5-9" in r.answer and "width 8, 16" in r.answer
    hurt = transfer_runs(k=-0.3, alpha=1.0, beta=0.0)  # pre-training hurts: worth -30% of the fine-tuning data
    r = studies.study_transfer(hurt, n_boot=0)
    assert not r.ok and "where pre-training helps" in r.answer


def bottleneck_runs(overfit: float = 0.0, fractions=FRACTIONS[:5]):
    """Kaplan's form L = [(Nc/N)^(aN/aD) + Dc/D]^aD with aN = 0.4, aD = 0.6 (+ overfitting): its terms
    are equal at N_p = Nc (D/Dc)^(aD/aN), so N_p ~ D^1.5."""
    def loss(c, N, D, C):
        d = D / c["epochs"]
        return ((300 / N) ** (0.4 / 0.6) + 50 / d) ** 0.6 + overfit * N / d * 1e-5
    cells = [dict(width_step=k, data_fraction=f, epochs=8) for k in arch.width_steps(-4, 9) for f in fractions]
    return runs_of(cells, loss, noise=0.002)


def test_bottleneck_plateau_grows_with_data():
    r = studies.study_bottleneck(bottleneck_runs(), n_boot=BOOT)
    assert r.ok, r.answer
    assert r.epochs == 8 and len(r.plateaus) == 5
    assert abs(r.p - 1.5) < 0.03 and r.interval.lo < 1.51 and r.interval.hi > 1.49  # within 1% of the truth
    assert not r.plateaus["overfits"].any()
    assert (np.diff(r.plateaus.sort_values("distinct")["N_p"]) > 0).all()
    assert "N_p ∝ D^" in r.answer and "no overfitting" in r.answer
    json.dumps(r.to_dict())


def test_bottleneck_sees_overfitting():
    r = studies.study_bottleneck(bottleneck_runs(overfit=1.0), n_boot=0)
    assert r.plateaus["overfits"].any() and "overfitting" in r.answer and "rises" in r.answer


def test_bottleneck_says_what_is_missing():
    one_epoch = bottleneck_runs().assign(epochs=1)
    r = studies.study_bottleneck(one_epoch, n_boot=0)
    assert not r.ok and "no runs of more than one epoch" in r.answer
    two = bottleneck_runs(fractions=FRACTIONS[:2])
    assert "3 or more data fractions" in studies.study_bottleneck(two, n_boot=0).answer


def test_plateau_start_interpolates_and_censors():
    N = np.array([1e3, 2e3, 4e3, 8e3])
    n_p, why = studies.plateau_start(N, np.array([2.0, 1.5, 1.01, 1.0]), 0.02)
    assert 2e3 < n_p < 4e3 and why == ""
    assert studies.plateau_start(N, np.array([1.0, 1.0, 1.0, 1.0]), 0.02) == (1e3, "at the smallest width")
    assert studies.plateau_start(N, np.array([4.0, 3.0, 2.0, 1.0]), 0.02)[1] == "at the largest width"


def test_failed_and_stale_runs_are_left_out():
    runs = noise_runs(0.25)
    bad = runs.iloc[:5].assign(status="failed", val_loss=math.nan, run_id=lambda d: d["run_id"] + "f")
    old = runs.assign(protocol=1, val_loss=runs["val_loss"] * 3, run_id=runs["run_id"] + "o")
    r = studies.study_noise(pd.concat([runs, bad, old]), n_boot=0)
    assert r.n_runs == len(runs)
    assert r.exponents.set_index("label_noise").loc[0.0, "value"] == pytest.approx(0.5, abs=0.02)


def test_study_dispatch():
    assert set(studies.STUDIES) == {"noise", "arch", "transfer", "bottleneck", "schedule"}
    with pytest.raises(ValueError, match="unknown study"):
        studies.study("cubic", pd.DataFrame())
    for key in studies.STUDIES:
        r = studies.study(key, pd.DataFrame(), n_boot=0)
        assert not r.ok and r.answer.startswith("Needs")
        json.dumps(r.to_dict())
        assert r.format()


def test_each_study_reads_the_family_its_sweep_trained_not_the_biggest_one():
    """Another study's runs (8 epochs, more of them) share the cache: each study still answers on its own."""
    both = pd.concat([noise_runs(0.25), arch_runs(), transfer_runs(), bottleneck_runs()], ignore_index=True)
    # the bottleneck's 195 eight-epoch runs outnumber the noise study's 54 and the CNN's 84 of the arch study
    for key in ("noise", "arch", "transfer", "bottleneck"):
        r = studies.study(key, both, n_boot=0)
        assert r.ok, (key, r.answer)


def test_every_study_chart_is_valid_vega_lite():
    """The charts are plain Vega-Lite dicts (scaling.charts): each must be JSON and pass the schema."""
    from scaling.charts import studies as study_charts

    for key, runs in [("noise", noise_runs(0.3)), ("arch", arch_runs()), ("transfer", transfer_runs()),
                      ("bottleneck", bottleneck_runs())]:
        figs = study_charts.study_charts(studies.study(key, runs, n_boot=10))
        assert len(figs) == len(study_charts.CHARTS[key]) + 1, key
        for fig in figs:
            fig.validate()
