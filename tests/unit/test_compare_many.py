"""Compare more than two: up to five selections on one chart, each labelled by what differs, each with
its exponents and its test against A, and the common-range check for all of them."""
from __future__ import annotations

from apptest import _ok

from scaling import services
from scaling.charts import compare as compare_charts
from scaling.services import background


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

    t = pd.DataFrame({"name": ["α"] * 3, "selection": ["A: x", "B: y", "C: z"], "value": [0.3, 0.31, 0.2],
                      "lo": [0.2] * 3, "hi": [0.4] * 3})
    spec = compare_charts.exponents(t).spec()
    color = spec["spec"]["layer"][0]["encoding"]["color"]
    assert color["field"] == "side" and color["scale"]["domain"] == list("ABCDE")  # the letter's colour, not the words'
    assert len(set(color["scale"]["range"])) == 5 and set(spec["datasets"]["t"]["side"]) == {"A", "B", "C"}
    fr = compare_charts.frontiers({lab: pd.DataFrame({"flops": [1e9], "val_loss": [0.5], "width": [8],
                                                      "data_fraction": [0.5]}) for lab in t["selection"]}, {})
    from scaling.charts import select

    pick = select.pickable(fr).chart["layer"][0]["params"][0]["select"]["fields"]
    assert "selection" in pick and "width" in pick  # a click names the selection and its configuration
    assert fr.spec()["layer"][0]["encoding"]["color"]["scale"]["range"] == color["scale"]["range"]
    assert "A: x" not in str({k: v for k, v in fr.spec().items() if k != "datasets"})  # the words are data


def test_three_selections_draw_their_point_estimates_first_and_the_intervals_after_a_rerun(app, monkeypatch):
    """A move draws every chart and card from the point estimates, then runs the bootstraps (after the
    charts) and reruns: the rerun finds them cached and draws the intervals in the same places."""
    import streamlit

    from app_pages.ui import fits

    fits._analysis.clear()  # none of the three fitted already (by another test)
    fits._point_estimates.clear()
    fits._FINISHED.clear()
    background.drop_ahead()  # nor fitted ahead: what another test's page asked the worker for has landed
    background.run(abs, 0)
    fits._AHEAD.clear()
    calls, reruns = [], []
    real, real_points = background.run, services.point_estimates  # the intervals' fits run in the worker
    monkeypatch.setattr(background, "run", lambda *a, **k: calls.append("intervals") or real(*a, **k))
    monkeypatch.setattr(services, "point_estimates", lambda *a, **k: calls.append("points") or real_points(*a, **k))
    monkeypatch.setattr(streamlit, "rerun", lambda *a, **k: reruns.append(1))  # the first pass, as drawn
    app.switch_page("app_pages/compare.py")
    app.query_params["c_dropout"] = "0"
    app.query_params["c_w"] = "0:2"
    app.run()
    _ok(app)
    assert reruns == [1] and calls[:3] == ["points"] * 3 and calls[3:] == ["intervals"] * 3, calls
    captions = [c.value for c in app.caption]
    assert sum("95% interval: computing…" in c for c in captions) >= 3 and not any("95% [" in c for c in captions)
    assert any("C vs A: P(A > C) computing…" in c for c in captions)
    specs = _chart_specs(app)
    assert len(specs) == 2  # the frontiers and the exponents, each once
    n_metrics = len(app.metric)

    calls.clear()
    app.run()  # the rerun: every selection's intervals are cached
    _ok(app)
    captions = [c.value for c in app.caption]
    assert calls == [] and reruns == [1], calls
    assert not any("computing…" in c for c in captions) and any("95% [" in c for c in captions)
    assert any(c.startswith("C vs A: P(A > C) ") and "at 5%" in c for c in captions)
    assert _chart_specs(app) == specs and len(app.metric) <= n_metrics  # the same specs: updated in place


def _walk(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)


def _chart_specs(at) -> list[str]:
    """The charts' specs as sent (their data goes apart): equal specs are redrawn in place."""
    return [e.proto.spec for e in _walk(at.main) if getattr(e, "type", "") in ("arrow_vega_lite_chart", "vega_lite_chart")]
