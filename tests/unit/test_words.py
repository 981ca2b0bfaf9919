"""Words a researcher reads at once: fractions as 1/32, link parameters that are not cached named in
plain words (visible on Compare), the form-free estimate explained, a backtest that holds out three
frontier configurations or says why not, the open bottleneck tab in the URL."""
from __future__ import annotations

import numpy as np
import pandas as pd
from apptest import _ok

from scaling import services
from scaling.core.fmt import frac_label
from scaling.fit.verdict import residual_misfit


def test_the_verdicts_misfit_names_a_fraction_as_a_fraction():
    fr = [1 / 32, 1 / 16, 1 / 8, 1 / 4096] * 3
    pts = pd.DataFrame({"width": [4, 8, 16] * 4, "data_fraction": sorted(fr), "params": 1000.0, "examples": 100.0,
                        "val_loss": 1.0, "n_seeds": 3})
    pts.loc[pts["data_fraction"] == 1 / 4096, "val_loss"] = 3.0  # a whole fraction far off the form

    class Flat:
        def predict(self, n, d):
            return np.ones(len(n))

    words = residual_misfit(pts, Flat())
    assert "fraction 1/4096" in words and "0.000244" not in words
    assert frac_label(1 / 3) == "1/3" and frac_label(0.75) == "0.75" and frac_label(1.0) == "1"


def test_link_values_not_cached_are_named_in_plain_words():
    opts = services.Options(datasets=("mnist",), dropouts=(0.0, 0.2), width_steps=(0, 1, 2),
                            fractions=(1 / 4, 1 / 2, 1.0), seeds=(0, 1), lr_mults=(1.0,))
    sel, bad = services.parse_params({"dropout": "0.5", "f": "1/3"}, services.Selection())
    assert not bad  # well-formed: only not cached
    _, notes = services.fit_to_options(sel, opts)
    assert "no cached runs with dropout 0.5: showing dropout 0" in notes
    assert any(n.startswith("no cached runs at fraction 1/3 (1/3 is not a power of two") and n.endswith(
        "showing fractions 1/4–1") for n in notes), notes
    _, quiet = services.fit_to_options(services.Selection(), opts)  # the default ranges: clamped without a word
    assert quiet == []


def test_explore_names_a_link_value_that_is_not_cached(app):
    app.query_params["dropout"] = "0.5"
    app.query_params["f"] = "1/3"
    app.run()
    _ok(app)
    notes = [w.value for w in app.warning if "Link parameter" in w.value]
    assert any("no cached runs with dropout 0.5: showing dropout 0" in n for n in notes), notes
    assert any("1/3 is not a power of two" in n for n in notes), notes


def test_compares_link_notes_are_outside_its_collapsed_expanders(app):
    app.switch_page("app_pages/compare.py")
    app.query_params["a_dropout"] = "0.7"
    app.run()
    _ok(app)
    assert any("dropout 0.7" in w.value for w in app.warning)
    assert not any("dropout 0.7" in w.value for e in app.expander for w in e.warning)


def test_fit_lab_backtest_holds_out_three_or_says_why(app):
    app.switch_page("app_pages/fit_lab.py").run()
    _ok(app)
    slider = next(s for s in app.slider if s.label.startswith("Hold out the top octaves"))
    cap = next(c.value for c in app.caption if c.value.startswith("Fitted on the"))
    held = int(cap.split("predicting the ")[1].split(" ")[0])
    if held < services.MIN_HELDOUT:
        assert any("says little" in w.value for w in app.warning)
    assert slider.value >= 1.0


def test_the_default_hold_out_on_the_shipped_grid_scores_three(tmp_path):
    from scaling.services import imports

    grid = pd.read_parquet(imports.exchange.SHIPPED)
    h = services.hold_out(grid, services.Selection(dropout=0.0))
    assert h.n_heldout >= 3 and h.why == "" and h.octaves == 5.0
    bt = services.backtest(grid, services.Selection(dropout=0.0), h.octaves)
    assert len(bt.heldout) == h.n_heldout


def test_form_free_is_explained_where_it_appears():
    assert services.explain_form_free("the parametric fit does not answer: the form-free estimates").startswith(
        "Form-free: the lower-envelope and IsoFLOP estimates")
    assert services.explain_form_free("believe the parametric estimate") == ""


def test_the_open_bottleneck_tab_comes_from_the_url(app):
    app.query_params["bottleneck"] = "loss vs D per N"
    app.run()
    _ok(app)
    titles = [str(c.proto.spec) for c in app.get("vega_lite_chart")]
    assert any("Loss against D, one line per width N" in t for t in titles)
    assert not any("Loss against N, one line per data size D" in t for t in titles)
