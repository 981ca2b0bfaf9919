"""Compare more than two: up to five selections on one chart, each labelled by what differs, each with
its exponents and its test against A, and the common-range check for all of them."""
from __future__ import annotations

from apptest import _ok

from scaling import services
from scaling.charts import compare as compare_charts


def test_three_selections_from_a_link_are_compared_labelled_and_restricted_to_their_common_range(app):
    app.switch_page("app_pages/compare.py")
    app.query_params["c_dropout"] = "0"  # a third selection: the link's prefixes say how many
    app.query_params["c_w"] = "0:1"
    app.run()
    _ok(app)
    assert app.number_input(key="cmp_n").value == 3
    labels = [m.label for m in app.metric]
    assert any(lab.startswith("C: ") for lab in labels) and not any(lab.startswith("D: ") for lab in labels)
    assert {lab[:2] for lab in labels} == {"A:", "B:", "C:"}
    assert any("vs A: P(A > C)" in c.value for c in app.caption)
    warn = next(w.value for w in app.warning if "cover different ranges" in w.value)
    assert "A: " in warn and "C: " in warn
    next(b for b in app.button if b.label.startswith("Restrict all 3 to the common range")).click().run()
    _ok(app)
    assert not any("cover different ranges" in w.value for w in app.warning)
    assert app.query_params["a_w"] == app.query_params["b_w"] == app.query_params["c_w"] == "0:1"
    app.number_input(key="cmp_n").set_value(2).run()
    _ok(app)
    assert "c_w" not in app.query_params and not any(m.label.startswith("C: ") for m in app.metric)


def test_labels_name_what_differs_among_all_and_colours_are_one_per_selection():
    a, b, c = (services.Selection(dropout=0.0), services.Selection(dropout=0.2),
               services.Selection(dropout=0.0, widths=(0, 1)))
    assert services.contrast_labels(a, b, c) == ("dropout 0 · width steps -4–12", "dropout 0.2 · width steps -4–12",
                                                 "dropout 0 · width steps 0–1")
    import pandas as pd

    t = pd.DataFrame({"name": ["α"] * 3, "selection": ["A", "B", "C"], "value": [0.3, 0.31, 0.2], "lo": [0.2] * 3,
                      "hi": [0.4] * 3})
    spec = compare_charts.exponents(t, ["A", "B", "C"]).spec()
    scale = spec["spec"]["layer"][0]["encoding"]["color"]["scale"]
    assert scale["domain"] == ["A", "B", "C"] and len(set(scale["range"])) == 3
