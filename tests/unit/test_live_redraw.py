"""A move draws every chart from the point estimates, and a rerun that finds the intervals cached
draws them in the same places: the laws' words are captions under their charts (the specs stay put),
and Compare's and Fit lab's intervals and bands arrive without a second move."""
from apptest import _ok


def test_explore_states_each_law_under_its_chart(app):
    app.run()
    _ok(app)
    words = [c.value.replace("\\", "") for c in app.caption]  # as shown (md_text escapes them)
    assert any(w.startswith("L = ") and "α_C ∈ [" in w for w in words), words  # with its interval
    assert any(w.startswith("By the ") and "estimator: N_opt = " in w for w in words), words
    assert " ".join(words).count("95% interval [") == 2  # the rerun drew the intervals


def test_compare_and_fit_lab_draw_their_intervals_after_the_charts(app):
    app.switch_page("app_pages/compare.py").run()
    _ok(app)
    assert any("95% [" in c.value for c in app.caption)  # the cards' intervals, from the rerun
    app.switch_page("app_pages/fit_lab.py").run()
    _ok(app)
    assert any("Bars: 95% bands from" in c.value for c in app.caption)
    assert any("variable projection" in c.value for c in app.caption)
