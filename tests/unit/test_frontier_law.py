"""alpha_C under each fitting loss and form, chosen by a backtest, and the bending (issue 27, item 7)."""
import numpy as np
import pandas as pd
import pytest

from scaling.fit import analyze, format_analysis
from scaling.fit.frontier_law import frontier_laws
from scaling.store.exchange import SHIPPED, read


def test_a_frontier_with_a_floor_is_scored_best_by_the_irreducible_form_and_bends():
    C = np.geomspace(1e9, 1e15, 24)
    front = pd.DataFrame({"flops": C, "val_loss": 0.05 + 30 * C ** -0.3})
    fl = frontier_laws(front)
    assert fl.best.startswith("irreducible")
    t = fl.table.set_index(["form", "loss"])
    assert t.loc[("irreducible", "huber"), "alpha_C"] == pytest.approx(0.3, abs=1e-3)
    assert t.loc[("pure", "huber"), "alpha_C"] < 0.25  # the floor flattens a pure power law
    assert fl.local_slope["slope"].iloc[0] > fl.local_slope["slope"].iloc[-1] + 0.05


def test_the_shipped_grid_states_how_far_alpha_c_moves_with_the_choice():
    ex = read(SHIPPED)
    runs = ex.runs[ex.runs["dropout"] == 0.0]
    an = analyze(runs, ex.curves[ex.curves["run_id"].isin(runs["run_id"])], n_boot=0)
    t = an.frontier_laws.table
    assert len(t) == 4 and t["alpha_C"].max() - t["alpha_C"].min() > 0.1
    assert an.frontier_laws.best and "alpha_C by fitting loss and form" in format_analysis(an)
    assert an.to_dict()["frontier_laws"]["best"] == an.frontier_laws.best
    # the default alpha_C is the backtest's form, fitted with Huber, and every output says so
    form = an.frontier_laws.chosen.split(", ")[0]
    assert an.frontier_laws.chosen.endswith(", huber") and an.law_choice == f"the backtest's choice: {form} form, Huber"
    assert an.loss_vs_compute.alpha == pytest.approx(t.set_index(["form", "loss"]).loc[(form, "huber"), "alpha_C"])
    assert an.loss_vs_compute.irreducible == (form == "irreducible")
    assert an.to_dict()["law_choice"] == an.law_choice and an.law_choice in format_analysis(an)
    pure = analyze(runs, ex.curves[ex.curves["run_id"].isin(runs["run_id"])], n_boot=0, irreducible=False,
                   estimators=(), extras=False)
    assert pure.law_choice == "asked for: pure form, Huber" and not pure.loss_vs_compute.irreducible
