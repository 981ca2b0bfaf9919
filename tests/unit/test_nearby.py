"""Fits done ahead: the selections one widget step away, fitted in the worker while a page is read, and
a slider step that finds its fit done."""
import time
from dataclasses import replace

from apptest import _ok, _w

from scaling import services
from scaling.services import nearby
from scaling.store import Store


def _opts(**kw):
    base = dict(datasets=("mnist",), dropouts=(0.0, 0.2), width_steps=tuple(range(5)), fractions=(0.25, 0.5, 1.0),
                seeds=(0,), lr_mults=(1.0,))
    return services.Options(**{**base, **kw})


def test_the_neighbours_are_one_step_of_one_widget():
    sel = services.Selection(widths=(0, 4), fractions=(0.25, 1.0))
    got = nearby.neighbours(sel, _opts())
    assert {n.widths for n in got if n.fractions == sel.fractions and n.dropout == 0} == {(1, 4), (0, 3)}
    assert {n.fractions for n in got if n.widths == sel.widths and n.dropout == 0} == {(0.5, 1.0), (0.25, 0.5)}
    assert [n.dropout for n in got if n.dropout != 0] == [0.2]
    assert sel not in got and len(got) == len(set(got)) == 5
    one = nearby.neighbours(replace(sel, widths=(2, 2)), _opts())  # a single width: never lo > hi
    assert {n.widths for n in one if n.fractions == sel.fractions and n.dropout == 0} == {(1, 2), (2, 3)}
    assert nearby.neighbours(replace(sel, widths=(0, 9)), _opts())  # an end off the cached values: no width steps
    assert all(n.widths == (0, 9) for n in nearby.neighbours(replace(sel, widths=(0, 9)), _opts()))


def test_a_first_draw_done_ahead_is_what_the_page_would_compute(small_cache):
    runs = Store(small_cache).runs(status=None)
    sel = services.Selection(widths=(0, 1))
    first = nearby.first_draw(runs, None, sel, backtest=True)
    here = services.point_estimates(runs, None, sel)
    assert first.points.loss_vs_compute.alpha == here.loss_vs_compute.alpha
    assert first.hold == services.hold_out(runs, sel)
    bt = first.backtest
    assert isinstance(bt, ValueError) or bt.table.equals(services.backtest(runs, sel, first.hold.octaves).table)


def test_a_slider_step_finds_its_fit_done_ahead(app, small_cache, monkeypatch):
    from app_pages.ui import fits

    app.run()
    _ok(app)
    lo, hi = _w(app.select_slider, "Width steps").value
    store = Store(small_cache)
    runs = store.runs(status=None)
    step = replace(app.session_state["selection"], widths=(lo, hi - 1))  # the page's selection, one step in
    key = (str(store.path), services.selection_version(runs, step), step)  # a fit is keyed by its own runs
    deadline = time.monotonic() + 60
    while ("points", *key) not in fits._AHEAD and key not in fits._POINTS and time.monotonic() < deadline:
        time.sleep(0.2)  # the worker fits the neighbours after the page's intervals
    assert ("points", *key) in fits._AHEAD or key in fits._POINTS, [k[3].widths for k in fits._AHEAD]
    calls = []
    real = services.point_estimates
    monkeypatch.setattr(services, "point_estimates", lambda *a, **k: calls.append(1) or real(*a, **k))
    _w(app.select_slider, "Width steps").set_value((lo, hi - 1)).run()
    _ok(app)
    assert calls == []  # drawn from the fit done ahead
    alpha = next(m.value for m in app.metric if m.label.startswith("α_C"))
    assert alpha == "—" or abs(float(alpha) - real(runs, None, step).loss_vs_compute.alpha) < 1e-3
