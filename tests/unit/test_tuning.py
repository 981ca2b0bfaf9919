""""Tuned" means an interior best of at least three learning-rate multipliers, never less."""
from __future__ import annotations

from scaling import services
from scaling.cli import main
from scaling.fit import aggregate, lr_tuning, synthetic_sweep


def test_one_multiplier_is_a_rule_of_thumb_and_says_what_would_tune_it():
    runs, _ = synthetic_sweep(width_steps=range(3), fractions=(1 / 4, 1 / 8), seeds=2)
    t = lr_tuning(aggregate(runs))
    assert not t.tuned and t.n_few == t.n_configs == 6
    assert t.label() == "rule of thumb, not tuned (lr ×1 only)"
    assert sorted(t.todo["next_mult"].unique()) == [0.5, 2.0] and len(t.todo) == 12
    configs = services.next_lr_configs(t, seeds=[0, 1])
    assert len(configs) == 24 and {c.lr_mult for c in configs} == {0.5, 2.0}


def test_an_interior_best_of_three_is_tuned_and_an_edge_is_not():
    runs, _ = synthetic_sweep(width_steps=range(3), fractions=(1 / 4, 1 / 8), lr_mults=(0.25, 1, 4), seeds=2)
    t = lr_tuning(aggregate(runs))  # the synthetic law's best multiplier is 1
    assert t.tuned and t.label().startswith("tuned per size") and t.todo.empty
    runs, _ = synthetic_sweep(width_steps=range(3), fractions=(1 / 4, 1 / 8), lr_mults=(1, 4, 16), seeds=2)
    t = lr_tuning(aggregate(runs))
    assert not t.tuned and t.n_edge == 6 and t.label().startswith("not fully tuned: 0 of 6 configurations tuned")
    assert (t.todo["next_mult"] == 0.5).all()  # the next one out, below the best (1) at the low edge


def test_the_lr_scan_preset_and_its_bad_input(db, capsys):
    assert main(["sweep", "--widths", "0:2", "--fractions", "1/256", "--lr-scan", "--dry-run"]) == 0
    assert "plan: 6 runs" in capsys.readouterr().out
    assert main(["sweep", "--lr-scan", "--lr-mult", "1", "--dry-run"]) == 2
    assert "--lr-scan: give it or --lr-mult, not both" in capsys.readouterr().err
    assert main(["sweep", "--lr-mult", "0", "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("scaling sweep: error: --lr-mult: 0 is outside") and len(err.splitlines()) == 1


def test_backtest_scores_each_law_on_the_held_out_frontier(db, capsys):

    import pytest

    from scaling.fit import backtest

    runs, _ = synthetic_sweep(seed=2)
    bt = backtest(runs, octaves=2)
    assert {"frontier law A·C^-α", "frontier law E + A·C^-α", "parametric L(N, D)", "N_opt by lower envelope",
            "N_opt by IsoFLOP profiles", "N_opt by parametric L(N, D)"} == set(bt.table["model"])
    assert (bt.heldout["flops"] > bt.cutoff_flops).all() and len(bt.heldout) >= 1
    t = bt.table.set_index("model")
    assert t.loc["parametric L(N, D)", "rms_log_error"] < 0.05  # the synthetic law is this form
    assert (t["rms_log_error"] >= 0).all() and "RMS log error" in bt.format()
    with pytest.raises(ValueError, match="holding out the top 30 octaves"):
        backtest(runs, octaves=30)
    with pytest.raises(ValueError, match="octaves must be a positive number"):
        backtest(runs, octaves=0)
