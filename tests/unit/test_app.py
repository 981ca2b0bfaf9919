"""The app's pages under AppTest, on a small cache of real runs trained once per test session."""
from __future__ import annotations

import os
import signal

import pytest
from apptest import APP, ROOT, SMALL, _ok, _w, build_small_cache  # noqa: F401  (shared with the browser tests)

from scaling import services
from scaling.core import grid
from scaling.services import background
from scaling.store import Store
from scaling.workers import jobs


def _metric(at, prefix: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(prefix))


@pytest.mark.parametrize("page", ["app_pages/train.py", "app_pages/runs.py", "app_pages/compare.py", "app_pages/fit_lab.py"])
def test_every_page_renders(app, page):
    app.run()
    _ok(app)
    app.switch_page(page).run()
    _ok(app)


def test_explore_shows_exponents_with_intervals(app):
    app.run()
    _ok(app)
    assert float(_metric(app, "α_C")) > 0
    captions = " ".join(c.value for c in app.caption)
    assert "95% interval [" in captions and "36 runs" not in captions  # one dropout: 18 runs
    assert "18 runs" in captions
    assert app.query_params["dropout"] == "0"
    assert float(_metric(app, "a  (N_opt")) > 0  # the default estimator answers on a small grid
    assert captions.count("95% interval [") == 2


def test_a_selection_with_its_intervals_done_is_drawn_once_and_shared(app, small_cache, monkeypatch):
    """A second session (or a slider back to a selection seen) draws the intervals at once: no
    point-estimate draw first, no bootstrap again; two sessions asking together compute it once."""
    import threading

    from app_pages.ui import fits

    app.run()
    _ok(app)
    calls = []
    real, real_points = background.run, services.point_estimates  # the intervals' fits run in the worker
    monkeypatch.setattr(background, "run", lambda *a, **k: calls.append("intervals") or real(*a, **k))
    monkeypatch.setattr(services, "point_estimates", lambda *a, **k: calls.append("points") or real_points(*a, **k))
    from streamlit.testing.v1 import AppTest

    again = AppTest.from_file(APP, default_timeout=120).run()
    _ok(again)
    assert calls == [], calls  # neither point estimates' nor intervals' fits ran again
    assert " ".join(c.value for c in again.caption).count("95% interval [") == 2

    store, sel = Store(small_cache), services.Selection(widths=(0, 1))
    runs = store.runs(status=None)
    version = services.data_version(runs)
    gate = threading.Event()
    calls.clear()
    monkeypatch.setattr(background, "run", lambda *a, **k: gate.wait(10) and calls.append("fit") or real(*a, **k))
    out = []
    threads = [threading.Thread(target=lambda: out.append(fits.analysis(store, version, sel, runs, None, n_boot=4)))
               for _ in range(2)]
    for t in threads:
        t.start()
    threads[1].join(0.3)  # both are asking by now: one computes, the other waits for it
    gate.set()
    for t in threads:
        t.join(30)
    assert calls.count("fit") == 1 and len(out) == 2 and out[0] is out[1]
    assert fits.cached_analysis(store, version, sel, 4, runs) is out[0]


def test_slider_change_refits(app):
    app.run()
    before = _metric(app, "α_C")
    _w(app.select_slider, "Width steps").set_value((0, 1)).run()
    _ok(app)
    after = _metric(app, "α_C")
    assert after != before
    assert app.query_params["w"] == "0:2"


def test_a_slider_move_that_arrives_with_landing_runs_is_kept(small_cache, tmp_path, monkeypatch):
    """Runs of a new family landing changed the cached choices in the same run as a slider move; the
    selection's old range was written over the move, which was lost until the next landing (10-60 s
    of a page that ignored its slider, in a real browser while a sweep trained)."""
    import shutil

    from streamlit.testing.v1 import AppTest

    from scaling.core.config import RunConfig
    from scaling.training import train

    db = tmp_path / "copy.duckdb"
    shutil.copy(small_cache, db)
    monkeypatch.setenv("SCALING_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=120).run()
    _ok(at)
    before = _metric(at, "α_C")
    _w(at.select_slider, "Width steps").set_value((0, 1))
    c = RunConfig(width_step=0, data_fraction=1 / 256, seed=0, dropout=0.3)  # a dropout not cached yet
    Store(db).add_results([train.RunResult(c, 2.0, 0.5, 1.0, 0.1, "cpu (2 threads)", "ok")])
    at.run()
    _ok(at)
    assert 0.3 in _w(at.selectbox, "Dropout").options or "0.3" in _w(at.selectbox, "Dropout").options
    assert _w(at.select_slider, "Width steps").value == (0, 1) and at.query_params["w"] == "0:2"
    assert _metric(at, "α_C") != before


def test_seed_and_dropout_change_refit(app):
    app.run()
    a0 = _metric(app, "α_C")
    _w(app.selectbox, "Dropout").set_value(0.2).run()
    _ok(app)
    assert _metric(app, "α_C") != a0


def test_too_few_points_says_so(app):
    app.run()
    _w(app.select_slider, "Width steps").set_value((0, 0))
    _w(app.select_slider, "Data fractions").set_value((1 / 256, 1 / 128)).run()
    assert not app.exception
    assert any("Nothing to fit" in w.value for w in app.warning)


def test_malformed_url_falls_back_with_a_note(app):
    app.query_params["w"] = "banana"
    app.query_params["fit"] = "cubic"
    app.query_params["dropout"] = "0.2"
    app.run()
    _ok(app)
    notes = " ".join(w.value for w in app.warning)
    assert "?w=" in notes and "?fit=" in notes
    assert _w(app.selectbox, "Dropout").value == 0.2  # the valid parameter is kept


def test_link_reopens_the_same_view(app):
    app.query_params.update({"w": "1:3", "f": "1/128:1/64", "fit": "irreducible", "nopt": "isoflop"})
    app.run()
    _ok(app)
    assert _w(app.select_slider, "Width steps").value == (1, 2)
    assert _w(app.radio, "Fit form").value == "irreducible"
    assert _w(app.selectbox, "N_opt estimator").value == "isoflop"


def test_empty_cache_offers_the_quick_sweep(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALING_DB", str(tmp_path / "empty.duckdb"))
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=60).run()
    _ok(at)
    assert any("cache is empty" in i.value for i in at.info)
    assert any(b.label == "Train the quick sweep" for b in at.button)
    for page in ["app_pages/runs.py", "app_pages/compare.py", "app_pages/fit_lab.py"]:
        at.switch_page(page).run()
        _ok(at)
        assert any("No runs cached" in i.value for i in at.info)


def test_empty_cache_loads_the_shipped_grid_in_one_click(tmp_path, monkeypatch):
    from scaling.store import exchange

    monkeypatch.setenv("SCALING_DB", str(tmp_path / "empty.duckdb"))
    from streamlit.testing.v1 import AppTest

    shipped = services.shipped()
    at = AppTest.from_file(APP, default_timeout=120).run()
    _ok(at)
    button = next(b for b in at.button if b.label.startswith("Load the shipped exercise grid"))
    assert button.label == f"Load the shipped exercise grid ({shipped.runs} runs, trained on {shipped.processor})"
    assert any(shipped.processor in c.value and "imported" in c.value for c in at.caption)
    button.click().run()
    _ok(at)
    runs = Store(tmp_path / "empty.duckdb").runs()
    assert len(runs) == shipped.runs == len(exchange.read(exchange.SHIPPED).runs)
    assert not any(i.value.startswith("**The cache is empty.**") for i in at.info)
    shown = runs[runs.dropout == runs.dropout.min()]  # Explore opens on dropout 0: every run there imported
    assert any(f"{len(shown)} of these {len(shown)} runs were imported, not trained here" in c.value for c in at.caption)
    at.switch_page("app_pages/runs.py").run()
    _ok(at)
    table = at.dataframe[0].value
    assert len(table) == shipped.runs and table["imported_from"].notna().all()


def test_database_error_is_shown_not_raised(tmp_path, monkeypatch):
    bad = tmp_path / "not_a_db.duckdb"
    bad.write_text("this is not a DuckDB file, and the app must not crash on it\n" * 4)
    monkeypatch.setenv("SCALING_DB", str(bad))
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert any("not a DuckDB database" in e.value for e in at.error)


def test_train_queues_a_tiny_sweep_that_lands(tmp_path, monkeypatch):
    db = tmp_path / "train.duckdb"
    monkeypatch.setenv("SCALING_DB", str(db))
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("app_pages/train.py").run()
    _ok(at)
    at.select_slider(key="t_widths").set_value((0, 0))
    at.select_slider(key="t_fractions").set_value((1 / 512, 1 / 512))
    at.multiselect(key="t_dropout").set_value([0.0])
    for bad, why in (("11", "outside 1 to 10"), ("-3", "outside"), ("1e9", "not a whole number"),
                     ("2.5", "not a whole number"), ("1" * 21, "outside")):
        at.text_input(key="t_seeds").input(bad).run()
        assert not at.exception
        assert [e.value for e in at.error] == [next(e.value for e in at.error if why in e.value)], bad  # beside the field
        assert not [m for m in at.metric if m.label == "to train"]  # no plan from a refused value
    at.text_input(key="t_seeds").input("1").run()
    _ok(at)
    assert _metric(at, "to train") == "1"
    next(b for b in at.button if b.label.startswith("Queue 1 run")).click().run()
    _ok(at)
    store = Store(db)
    sweep_id = at.session_state["my_sweeps"][0][0]
    try:
        status = services.wait_sweep(store, sweep_id, timeout=180)
    finally:
        pid = jobs.worker_alive(store)
        if pid:
            os.kill(pid, signal.SIGTERM)  # the worker this test started; it would idle 30 s
    assert status.done == 1 and not status.active
    assert len(store.runs()) == 1
    at.switch_page("app_pages/runs.py").run()
    _ok(at)
    assert len(at.dataframe[0].value) == 1
    at.switch_page("app_pages/explore.py").run()
    _ok(at)  # one run: too few to fit, said so
    assert any("Nothing to fit" in w.value for w in at.warning)


def test_no_pages_folder_beside_the_app():
    """A folder named pages/ beside streamlit_app.py starts Streamlit's legacy multipage mode: on a
    fresh server, until st.navigation first runs, a direct link showed a sidebar listing every file
    in it. The pages live in app_pages/."""
    assert not (ROOT / "pages").exists() and (ROOT / "app_pages" / "explore.py").exists()


def test_a_direct_page_link_runs_inside_the_app(small_cache, monkeypatch):
    """A direct link to a page goes through streamlit_app.py, its password gate and its
    navigation, never runs the page script alone (as Streamlit's legacy pages/ mode did: the
    folder is app_pages/ so that mode never starts)."""
    monkeypatch.setenv("SCALING_DB", str(small_cache))
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("app_pages/runs.py").run()  # the first run of the session: a link to Runs
    _ok(at)
    assert at.title[0].value == "Cached runs" and len(at.dataframe) == 1
    assert any("Scaling Lab: small CNNs" in c.value for c in at.sidebar.caption)  # the app's sidebar

    monkeypatch.setenv("SCALING_PASSWORD", "s3cret")
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("app_pages/runs.py").run()
    assert not at.exception and not at.dataframe and not at.metric  # the gate holds
    at.text_input[0].input("s3cret")
    at.button[0].click().run()
    _ok(at)
    assert at.title[0].value == "Cached runs" and len(at.dataframe) == 1  # the page the link named


def test_an_estimator_that_cannot_answer_offers_one_that_can(app):
    app.query_params["nopt"] = "envelope"  # 3 widths: no budget has its optimum inside them
    app.run()
    _ok(app)
    assert _metric(app, "a  (N_opt") == "—"
    assert any("lower envelope" in i.value and "budgets" in i.value for i in app.info)
    switch = next(b for b in app.button if b.label.startswith("Show parametric"))
    switch.click().run()
    _ok(app)
    assert _w(app.selectbox, "N_opt estimator").value == "parametric"
    assert float(_metric(app, "a  (N_opt")) > 0
    assert app.query_params["nopt"] == "parametric"


def test_train_takes_the_study_axes_and_refuses_bad_digits_beside_the_field(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALING_DB", str(tmp_path / "axes.duckdb"))
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("app_pages/train.py").run()
    at.select_slider(key="t_widths").set_value((0, 0))
    at.select_slider(key="t_fractions").set_value((1 / 512, 1 / 512))
    at.multiselect(key="t_dropout").set_value([0.0])
    at.text_input(key="t_seeds").input("1").run()
    at.text_input(key="t_classes").input("5x").run()
    assert not at.exception and any("distinct digits" in e.value for e in at.error)
    assert not [m for m in at.metric if m.label == "to train"]  # no plan from a refused value
    at.text_input(key="t_classes").input("5,6,7,8,9").run()
    at.text_input(key="t_pretrain").input("56").run()  # overlaps the digits trained on
    assert any("pretrain_classes must be digits apart" in e.value for e in at.error)
    at.text_input(key="t_pretrain").input("01234").run()
    at.multiselect(key="t_arch").set_value(["cnn", "mlp"])
    at.multiselect(key="t_noise").set_value([0.0, 0.2]).run()
    _ok(at)
    assert _metric(at, "to train") == "6"  # 2 archs x 2 noise levels, and the 2 pre-training runs they start from


def test_train_plan_counts_queued_runs_once(tmp_path):
    store = Store(tmp_path / "plan.duckdb")
    spec = services.GridSpec(widths="0:2", fractions="1/512", seeds="0:1", dropouts="0")
    p = services.plan(store, spec, store.runs(status=None), "cpu (2 threads)")
    assert (p.cached, p.queued, p.new) == (0, 0, 2) and p.est_s > 0
    store.enqueue(spec.configs())  # no worker: they wait in the queue
    p = services.plan(store, spec, store.runs(status=None), "cpu (2 threads)")
    assert (p.cached, p.queued, p.new) == (0, 2, 0) and p.flops == 0
    snap = store.snapshot()  # what a page plans from: no connection, its fitted time model
    assert services.plan(snap, spec, snap.runs, "cpu (2 threads)", services.time_model(snap.runs, "cpu (2 threads)")) == p
    sid = store.sweeps()["sweep_id"].iloc[0]
    store.cancel()
    st_ = services.sweep_status(store, sid)
    assert not st_.active and st_.cancelled == 2 and st_.done == 0


def test_log_axes_get_round_ticks_and_charts_keep_their_height(small_cache):
    from scaling import charts

    assert charts.log_ticks([0.3, 2.2]) == [0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0]
    assert charts.log_ticks([1e8, 1.3e10]) == [1e8, 2e8, 5e8, 1e9, 2e9, 5e9, 1e10]
    assert 2 <= len(charts.log_ticks([0.5, 0.52])) <= 8
    assert len(charts.log_ticks([1e3, 1e12])) <= 8
    runs = Store(small_cache).runs(status=None)
    sel = services.Selection()
    an = services.point_estimates(runs, None, sel)
    fig = charts.loss_vs_compute(services.select(runs, sel), an.aggregate.points, an.frontier, an.loss_vs_compute,
                                 services.law_line(an.loss_vs_compute), None, services.equation(an.loss_vs_compute))
    spec = fig.spec()
    # Streamlit's default autosize "fit" squeezed the plot under its legends and title
    assert spec["autosize"] == {"type": "fit-x", "contains": "padding"} and spec["height"] == charts.HEIGHT
    y = spec["layer"][1]["encoding"]["y"]  # Vega fits the domain; the ticks are an expression on it (charts.vega.log_axis)
    assert y["scale"]["type"] == "log" and "domain" not in y["scale"] and "domain('y')" in y["axis"]["values"]["expr"]
    assert fig.png(1.0).startswith(b"\x89PNG")


def test_numbers_read_like_a_paper():
    assert services.fmt_num(9020.4) == "9020" and services.fmt_num(11700) == "1.17e4"
    assert services.fmt_num(0.958) == "0.958" and services.fmt_num(1.0003) == "1.00" and services.fmt_num(3.2e-5) == "3.20e-5"
    from types import SimpleNamespace

    import numpy as np

    law = SimpleNamespace(irreducible=True, E=1e-13, A=4.7e6, alpha=0.73, alpha_interval=None, x_range=(1e8, 1e10),
                          predict=lambda c: 4.7e6 * np.asarray(c, float) ** -0.73)
    assert "E ≈ 0" in services.equation(law) and "e+" not in services.equation(law)


def test_grid_spec_matches_the_cli_syntax():
    assert len(SMALL.configs()) == 36
    with pytest.raises(grid.GridError):
        services.GridSpec(widths="3:1").configs()


def test_password_gate(small_cache, monkeypatch):
    monkeypatch.setenv("SCALING_DB", str(small_cache))
    monkeypatch.setenv("SCALING_PASSWORD", "s3cret")
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.metric and not at.exception  # nothing of the app before the password
    at.text_input[0].input("wrong")
    at.button[0].click().run()
    assert any("Wrong password" in e.value for e in at.error) and not at.metric
    at.text_input[0].input("s3cret")
    at.button[0].click().run()
    _ok(at)
    assert float(_metric(at, "α_C")) > 0


def _browser_cookies(monkeypatch, cookies: dict) -> None:
    """What a browser's request would carry: AppTest has no client, so st.context.cookies is
    read from this instead."""
    from types import SimpleNamespace

    monkeypatch.setattr("streamlit.runtime.context._get_client_context",
                        lambda: SimpleNamespace(cookies=cookies, headers={}, remote_ip=None))


def _cookie_script(at) -> str:
    """The body of the st.html that sets the login cookie ("" when none is drawn)."""
    return "".join(h.value for h in at.sidebar.html if "document.cookie" in h.value)


def test_a_login_is_kept_in_a_signed_cookie(small_cache, monkeypatch):
    """The password is asked once per browser, not once per websocket session: a login sets a
    signed, expiring token in a cookie, and a reload that sends it back goes straight in. A
    forged, expired or other-password token is refused and the gate shows, with nothing drawn."""
    import streamlit as st

    from scaling.services import access

    monkeypatch.setenv("SCALING_DB", str(small_cache))
    monkeypatch.setenv("SCALING_PASSWORD", "s3cret")
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=60).run()
    at.text_input[0].input("s3cret")
    at.button[0].click().run()
    _ok(at)
    script = _cookie_script(at)
    token = script.split(f"{access.COOKIE}=")[1].split(";")[0]
    assert "s3cret" not in script and "Max-Age" in script and "SameSite=Strict" in script
    secret = st.get_option("server.cookieSecret")
    assert access.token_ok(token, "s3cret", secret)

    _browser_cookies(monkeypatch, {access.COOKIE: token})  # the reload: a new session, the cookie sent
    at = AppTest.from_file(APP, default_timeout=60).run()
    _ok(at)
    assert not at.text_input and float(_metric(at, "α_C")) > 0
    assert not _cookie_script(at)  # nothing new to remember

    expires, _, signature = token.partition(".")
    for bad in [f"{int(expires) + 60}.{signature}", access.login_token("other", secret),
                access.login_token("s3cret", secret, now=0), f"{expires}.{'0' * 64}"]:
        _browser_cookies(monkeypatch, {access.COOKIE: bad})
        at = AppTest.from_file(APP, default_timeout=60).run()
        assert not at.exception and not at.metric and not at.dataframe, bad  # the gate holds
        assert at.text_input[0].label == "Password"


def test_charts_are_valid_vega_lite(small_cache):
    """The app draws unvalidated specs for speed (scaling.charts.Figure): validate them here."""
    from scaling import charts
    from scaling.charts import compare as compare_charts

    store = Store(small_cache)
    runs = store.runs(status=None)
    an = services.analysis(runs, None, services.Selection(), n_boot=20)
    pts = an.aggregate.points
    figs = [charts.loss_vs_compute(services.select(runs, services.Selection()), pts, an.frontier, an.loss_vs_compute,
                                   services.law_line(an.loss_vs_compute),
                                   services.law_band(an), "eq"),
            charts.accuracy_vs_compute(pts),
            charts.bottleneck(pts, "examples"), charts.bottleneck(pts, "params"),
            charts.nopt_vs_compute(an.nopt["envelope"], services.nopt_band(an.nopt["envelope"])),
            compare_charts.frontiers({"A: a": an.frontier, "B: b": an.frontier},
                                     {"A: a": services.law_line(an.loss_vs_compute)}),
            charts.isoflop_curves(services.isoflop_profiles(pts), an.nopt["isoflop"]),
            charts.residuals(services.parametric_residuals(an)),
            charts.nopt_vs_compute(an.nopt["parametric"], services.nopt_band(an.nopt["parametric"]),
                                   data=services.nopt_data_points(an))]
    bt = services.backtest(runs, services.Selection(), 1.0, n_boot=4)
    figs += [charts.prediction(bt.heldout, "loss"), charts.prediction(bt.heldout, "N_opt")]
    # the parametric chart's dots are data, never points read off its own line
    par = figs[-3].spec()
    assert "per-budget optima in the data" in figs[-3].caption or "the line is the fit alone" in figs[-3].caption
    assert "parametric L(N, D)" in figs[-3].caption and par == figs[4].spec() | {"datasets": par["datasets"]}
    for fig in figs:
        fig.validate()  # raises on a spec that is not JSON or not valid Vega-Lite
    assert fig.svg().startswith(b"<svg")


def test_stale_runs_are_shown_on_runs_and_never_reach_explore(tmp_path, monkeypatch):
    """Runs of an older protocol: listed and counted on Runs, absent from Explore's fit."""
    from scaling.core import config
    from scaling.training import train

    db = tmp_path / "stale.duckdb"
    store = Store(db)

    def results(widths):
        return [train.RunResult(c, 2.0 / (1 + c.width_step + c.data_fraction * 64), 0.5, 1.0, 0.1, "cpu (2 threads)",
                                "ok") for c in grid.expand(widths, [1 / 256, 1 / 128], [0], [0.0])]

    with monkeypatch.context() as m:  # written by the code of the previous protocol: ids and rows say so
        m.setattr(config, "PROTOCOL", config.PROTOCOL - 1)
        store.add_results(results([0]))
    store.add_results(results([1, 2]))
    monkeypatch.setenv("SCALING_DB", str(db))
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=60).run()
    _ok(at)
    assert _metric(at, "runs · configurations") .startswith("4 ·")  # the 2 stale runs are not fitted
    at.switch_page("app_pages/runs.py").run()
    _ok(at)
    assert len(at.dataframe[0].value) == 6  # all listed
    assert any("2 stale runs" in m.value for m in at.markdown)
    next(b for b in at.button if b.label == "Queue their configurations again").click().run()
    _ok(at)
    try:
        q = store.queue_counts()
        assert q.queued + q.running + len(services.current(store.runs())) == 2 + 4  # queued, or trained already
    finally:
        store.cancel()
        pid = jobs.worker_alive(store)
        if pid:
            os.kill(pid, signal.SIGTERM)


def test_compare_warns_of_unequal_ranges_and_restricts_both_to_the_common_one(app):
    app.switch_page("app_pages/compare.py")
    app.query_params["a_w"] = "0:2"  # A: width steps 0-1; B: every cached width (0-2)
    app.run()
    _ok(app)
    assert any("cover different ranges" in w.value for w in app.warning)
    restrict = next(b for b in app.button if b.label.startswith("Restrict both to the common range"))
    restrict.click().run()
    _ok(app)
    assert not any("cover different ranges" in w.value for w in app.warning)
    assert app.query_params["a_w"] == app.query_params["b_w"] == "0:2"
    # a p-value from 100 resamples never reads 0.00
    assert not any("p = 0.00" in c.value for c in app.caption)


def test_compare_along_any_axis_is_labelled_by_what_differs(app):
    app.switch_page("app_pages/compare.py")
    app.query_params["b_dropout"] = "0"  # the same dropout on both sides: a comparison of width ranges
    app.query_params["a_w"] = "0:2"
    app.run()
    _ok(app)
    labels = {m.label for m in app.metric}
    assert "A: width steps 0–1" in labels and any(lab.startswith("B: width steps 0–") for lab in labels), labels
    assert not any("dropout" in lab for lab in labels)


def test_explore_shows_the_verdicts_estimate_with_its_reason(app):
    app.run()
    _ok(app)
    assert _w(app.selectbox, "N_opt estimator").value == "verdict"
    label = next(m.label for m in app.metric if m.label.startswith("a  (N_opt"))
    assert any(name in label for name in ("lower envelope", "IsoFLOP", "parametric"))
    assert any(c.value.startswith("Verdict: ") for c in app.caption)


def test_a_plan_over_an_hour_asks_for_confirmation(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALING_DB", str(tmp_path / "empty.duckdb"))
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("app_pages/train.py").run()
    at.select_slider(key="t_widths").set_value((0, 12))
    at.select_slider(key="t_fractions").set_value((1 / 4, 1.0))
    at.text_input(key="t_seeds").input("10").run()
    _ok(at)
    queue = next(b for b in at.button if b.label.startswith("Queue "))
    assert queue.disabled and at.checkbox(key="t_sure").value is False
    at.checkbox(key="t_sure").check().run()
    assert not next(b for b in at.button if b.label.startswith("Queue ")).disabled


def test_a_waiting_sweep_shows_one_panel_its_time_left_and_intervals_that_wait(small_cache, tmp_path, monkeypatch):
    """Issue 14: cards said "computing…" while the intervals waited for training to end; the panel
    gives the time left from the time model, and a sweep has one panel with one Cancel button."""
    import shutil

    from streamlit.testing.v1 import AppTest

    db = tmp_path / "runs.duckdb"
    shutil.copy(small_cache, db)
    monkeypatch.setenv("SCALING_DB", str(db))
    spec = services.GridSpec(widths="0:1", fractions="1/512", seeds="0:1", dropouts="0")
    Store(db).enqueue(spec.configs(), label="waiting")  # no worker: it waits in the queue
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, [e.message for e in at.exception]
    captions = [c.value for c in at.caption]
    assert any(c.startswith("About ") and c.endswith(" left") for c in captions), captions
    assert [b.label for b in at.button].count("Cancel the queued runs") == 1
    if services.device_info().device == "cpu":  # on a GPU the intervals do not wait
        assert any("waits for the training in progress" in c for c in captions), captions
        assert not any("computing…" in c for c in captions)


def test_fit_lab_states_the_selections_seed_noise(app):
    at = app.run()
    at.switch_page("app_pages/fit_lab.py").run()
    _ok(at)
    assert any("Seed noise" in c.value and "SD of ln L 0" in c.value for c in at.caption)
    assert any("lpha\\_C by fitting loss and form" in c.value for c in at.caption)  # the frontier law four ways
    # alpha_C's law is the backtest's choice by default, and Fit lab says so; the form's and the bias' lines
    assert _w(at.radio, "Fit form").value == "backtest"
    plain = [c.value.replace("\\", "") for c in at.caption]  # Markdown escapes off
    assert any("lpha_C's law is the backtest's choice: " in c for c in plain)
    assert any("power mean of the two terms fits with q = " in c for c in plain)


def test_the_compute_convention_is_a_choice_in_the_sidebar_and_the_link(app):
    app.run()
    alpha_3fd = _metric(app, "α_C")
    assert _w(app.radio, "Compute counted as").value == "3fd" and "c" not in app.query_params  # old links stay valid
    _w(app.radio, "Compute counted as").set_value("6nd").run()
    _ok(app)
    assert app.query_params["c"] in ("6nd", ["6nd"])
    assert _metric(app, "α_C") != alpha_3fd  # every fit recounted, not only a label


def test_fit_lab_settles_on_a_selection_that_cannot_be_backtested(app):
    """One width: the backtest has too few configurations. The page draws, says so, and its run ends (it
    reran itself forever, waiting for bands that never come)."""
    app.switch_page("app_pages/fit_lab.py")
    app.query_params["w"] = "0:1"
    app.run(timeout=60)
    _ok(app)
    assert any("Cannot backtest this selection" in w.value for w in app.warning)
