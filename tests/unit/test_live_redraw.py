"""A move draws every chart from the point estimates, and a rerun that finds the intervals cached
draws them in the same places: the laws' words are captions under their charts (the specs stay put),
and Compare's and Fit lab's intervals and bands arrive without a second move."""
import pytest
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


def test_work_in_the_worker_waits_while_a_browser_here_redraws(monkeypatch):
    """A browser on this machine (loopback, so no IP address; a real connection, so headers) gets
    REDRAW_S before the worker takes a core, in steps that each write an element (where a moved slider
    stops the run); a browser elsewhere, or AppTest's none, gets no wait."""
    from types import SimpleNamespace

    from app_pages.ui import fits

    clock, writes = [0.0], []
    monkeypatch.setattr(fits, "time", SimpleNamespace(monotonic=lambda: clock[0],
                                                      sleep=lambda s: clock.__setitem__(0, clock[0] + s)))
    tick = SimpleNamespace(empty=lambda: writes.append(clock[0]))
    for ip, headers, waits in ((None, {"Host": "localhost:8501"}, True), ("10.0.0.7", {"Host": "lab:8501"}, False),
                               (None, {}, False)):
        clock[0], writes[:] = 0.0, []
        monkeypatch.setattr(fits, "st", SimpleNamespace(context=SimpleNamespace(ip_address=ip, headers=headers),
                                                        empty=lambda: tick))
        fits.after_redraw()
        assert clock[0] == pytest.approx(fits.REDRAW_S if waits else 0.0)
        assert len(writes) == (3 if waits else 0) and all(b - a <= 0.1 + 1e-9 for a, b in zip([0.0] + writes, writes))
