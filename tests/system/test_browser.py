"""The app in a real headless Chromium: open Explore, move a slider, see the exponent and the chart
change, save screenshots to artifacts/. Skipped (and says so) only when no Chromium is found."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
from apptest import build_small_cache  # the same session-wide cache of real runs

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"]


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _streamlit(db: Path, log_dir: Path, **env_vars: str):
    """`streamlit run` headless on a free port against `db` (and `env_vars`); yields the base URL."""
    port = _free_port()
    env = dict(os.environ, SCALING_DB=str(db), **env_vars)
    log = open(log_dir / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail(f"streamlit did not become healthy: {Path(log.name).read_text()[-2000:]}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app against the small cache, shared by the tests of this module."""
    db = build_small_cache(tmp_path_factory)
    with _streamlit(db, tmp_path_factory.mktemp("streamlit")) as url:
        yield url


@contextmanager
def _browser(tmp_path, height: int = 1300):
    exe = _chromium()
    if exe is None:
        pytest.skip("no Chromium found (apt-get install chromium, or `make browser`): browser test skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=exe, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1600, "height": height})
        try:
            page = ctx.new_page()
            page.set_default_timeout(60_000)
            yield page
        finally:
            ctx.close()


@pytest.mark.browser
def test_explore_slider_refits_in_a_real_browser(server, tmp_path):
    exe = _chromium()
    if exe is None:
        pytest.skip("no Chromium found (apt-get install chromium, or `make browser`): browser test skipped")
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=exe, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1600, "height": 1300})
        try:
            page = ctx.new_page()
            page.set_default_timeout(60_000)
            page.goto(server + "/?dropout=0")
            alpha = page.locator('[data-testid="stMetric"]').filter(has_text="α_C").locator('[data-testid="stMetricValue"]')
            expect(alpha).to_have_text(re.compile(r"^\d\.\d{3}$"), timeout=90_000)
            # the intervals follow the point estimates
            expect(page.get_by_text("95% interval [").first).to_be_visible(timeout=60_000)
            chart = page.locator('[data-testid="stVegaLiteChart"]').first
            expect(chart.locator("svg, canvas").first).to_be_visible()
            page.wait_for_timeout(1000)
            before_text, before_png = alpha.inner_text(), chart.screenshot()
            page.screenshot(path=str(ARTIFACTS / "explore_before.png"), full_page=True)

            # move the upper end of the width range one step down with the keyboard
            thumb = page.get_by_role("slider", name="Width steps — end")
            thumb.focus()
            page.keyboard.press("ArrowLeft")
            expect(alpha).not_to_have_text(before_text, timeout=60_000)
            expect(page.get_by_text("95% interval [").first).to_be_visible(timeout=60_000)
            page.wait_for_timeout(1500)
            assert chart.screenshot() != before_png, "the loss chart did not redraw"
            assert "w=0%3A2" in page.url or "w=0:2" in page.url, page.url  # the view is in the URL
            page.screenshot(path=str(ARTIFACTS / "explore_after.png"), full_page=True)
        finally:
            ctx.close()


# Measured in the page: every chart on screen (a hidden tab's is 0 px wide) and whether its drawing
# cut any text (Vega ends a title too long for the chart with "…"); every card whose label or value
# is clipped (Streamlit's metric clips both with an ellipsis instead of wrapping).
LAYOUT_PROBE = """() => {
  const shown = (e) => e.offsetParent !== null && e.getBoundingClientRect().width > 0;
  const charts = [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')].filter(shown).map(c => ({
      width: Math.round(c.getBoundingClientRect().width),
      title: (c.querySelector('.role-title-text') || {}).textContent || '',
      cut: [...c.querySelectorAll('svg text')].map(t => t.textContent).filter(t => t.endsWith('…'))}));
  const clipped = [...document.querySelectorAll(
      '[data-testid="stMetricLabel"] [data-testid="stMarkdownContainer"], '
      + '[data-testid="stMetricValue"] [data-testid="stMarkdownContainer"], [data-testid="stMetricValue"] > div')]
    .filter(e => shown(e) && e.scrollWidth > e.clientWidth + 1).map(e => e.textContent);
  return {charts, clipped};
}"""
CHART_MIN_PX = 400  # a chart with its legend and title; app_pages/ui/layout.py stacks charts below 420


def _settled(page) -> None:
    """The script run is over (Explore's intervals included) and nothing is drawing."""
    page.wait_for_selector('[data-testid="stVegaLiteChart"] svg', timeout=120_000)
    page.wait_for_selector('.stApp[data-test-script-state="notRunning"]', timeout=120_000)
    page.wait_for_timeout(1500)


@pytest.mark.browser
def test_the_layout_holds_at_1024_px(server, tmp_path):
    """At 1024 px with the sidebar open (~560 px of page), charts stack instead of shrinking to a
    few dozen pixels, titles wrap instead of being cut, and no card's label or value is clipped."""
    ARTIFACTS.mkdir(exist_ok=True)
    with _browser(tmp_path) as page:
        page.set_viewport_size({"width": 1024, "height": 900})
        for path, name in [("/?dropout=0", "explore"), ("/fit_lab?dropout=0", "fit_lab"), ("/compare", "compare")]:
            page.goto(server + path)
            _settled(page)
            m = page.evaluate(LAYOUT_PROBE)
            page.screenshot(path=str(ARTIFACTS / f"layout_1024_{name}.png"), full_page=True)
            assert m["charts"], f"{name}: no chart drawn"
            narrow = [(c["title"], c["width"]) for c in m["charts"] if c["width"] < CHART_MIN_PX]
            assert not narrow, f"{name}: charts narrower than {CHART_MIN_PX} px at 1024: {narrow}"
            assert not [c for c in m["charts"] if c["cut"]], f"{name}: chart text cut: {m['charts']}"
            assert not m["clipped"], f"{name}: card labels or values clipped at 1024 px: {m['clipped']}"


@pytest.mark.browser
def test_a_shared_link_opens_its_page_on_a_fresh_server(tmp_path_factory, tmp_path):
    """The first request a freshly started server gets is a copied Compare link: it must open
    Compare inside the app (its navigation, wide layout, the link's selections), not the page
    script alone in Streamlit's legacy pages/ mode (which also skipped the password gate: the
    folder is app_pages/ so that mode never starts)."""
    from playwright.sync_api import expect

    db = build_small_cache(tmp_path_factory)
    with _streamlit(db, tmp_path_factory.mktemp("fresh_server")) as url, _browser(tmp_path) as page:
        page.goto(url + "/compare?a_dropout=0&a_w=1:3&b_dropout=0.2")
        expect(page.get_by_role("heading", name="Compare selections")).to_be_visible(timeout=90_000)
        nav = page.locator('[data-testid="stSidebarNav"]')
        expect(nav).to_contain_text("Explore")
        expect(nav).to_contain_text("Fit lab")
        expect(nav).not_to_contain_text("shared")  # the legacy mode listed every file of its folder
        expect(page.get_by_text("width steps 1–2").first).to_be_visible()  # the link's selection A
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "compare_from_link.png"))


PAGES = ["Explore", "Train", "Runs", "Compare", "Fit lab", "Studies", "Your curves"]  # streamlit_app.py's navigation, in order


@pytest.mark.browser
def test_a_cold_start_lists_only_the_real_pages(tmp_path_factory, tmp_path):
    """A direct link to Train, opened the moment a fresh server answers: the sidebar is watched
    from the first paint until Train is drawn, and never lists anything but the five pages (with a
    pages/ folder, Streamlit's legacy mode listed every file of it, "ui" and "streamlit app" too,
    for the ~10 s the first run took)."""
    from playwright.sync_api import expect

    db = build_small_cache(tmp_path_factory)
    ARTIFACTS.mkdir(exist_ok=True)
    with _streamlit(db, tmp_path_factory.mktemp("cold_start")) as url, _browser(tmp_path) as page:
        page.goto(url + "/train", wait_until="commit")
        nav = page.locator('[data-testid="stSidebarNav"] a')
        heading = page.get_by_role("heading", name="Train")
        seen, shot = [], False
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            links = nav.all_inner_texts()
            if links and links not in seen:
                seen.append(links)
            if links and not shot:  # the first moment a navigation shows
                page.screenshot(path=str(ARTIFACTS / "cold_start_first_nav.png"))
                shot = True
            if heading.count() and heading.first.is_visible():
                break
            page.wait_for_timeout(100)
        expect(heading.first).to_be_visible()
        expect(nav.first).to_be_visible()  # it may be drawn just after the heading, between two looks
        final = nav.all_inner_texts()
        if final not in seen:
            seen.append(final)
        page.screenshot(path=str(ARTIFACTS / "cold_start_train.png"))
        for links in seen:
            assert [t.split("\n")[-1].strip() for t in links] == PAGES, seen  # (the icon's name first)
        assert "/train" in page.url


@pytest.mark.browser
def test_a_login_survives_a_reload_and_a_forged_cookie_does_not(tmp_path_factory, tmp_path):
    """With a password set: log in, reload (a new websocket session): still in, no password asked.
    The cookie holds a signed, expiring token, not the password; changed by one character, it is
    refused and the password is asked again, with nothing of the app (not even the pages) drawn."""
    from playwright.sync_api import expect

    from scaling.services.access import COOKIE

    db = build_small_cache(tmp_path_factory)
    ARTIFACTS.mkdir(exist_ok=True)
    with _streamlit(db, tmp_path_factory.mktemp("login"), SCALING_PASSWORD="s3cret") as url, \
            _browser(tmp_path) as page:
        password = page.get_by_label("Password", exact=True)
        nav = page.locator('[data-testid="stSidebarNav"]')
        page.goto(url + "/runs")
        expect(password).to_be_visible(timeout=90_000)
        expect(nav).to_have_count(0)
        password.fill("s3cret")
        page.get_by_role("button", name="Enter").click()
        expect(page.get_by_role("heading", name="Cached runs")).to_be_visible(timeout=90_000)
        expect(nav).to_contain_text("Fit lab")
        page.screenshot(path=str(ARTIFACTS / "login_done.png"))

        def login_cookie() -> dict | None:
            return next((c for c in page.context.cookies() if c["name"] == COOKIE), None)

        deadline = time.monotonic() + 10
        while login_cookie() is None and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        cookie = login_cookie()
        assert cookie is not None, page.context.cookies()
        assert "s3cret" not in cookie["value"] and cookie["sameSite"] == "Strict"
        assert cookie["expires"] > time.time() + 3600  # it outlives the browser session's tab

        page.reload()
        expect(page.get_by_role("heading", name="Cached runs")).to_be_visible(timeout=90_000)
        expect(nav).to_contain_text("Explore")
        expect(password).to_have_count(0)
        page.screenshot(path=str(ARTIFACTS / "login_after_reload.png"))

        forged = cookie["value"][:-1] + ("0" if cookie["value"][-1] != "0" else "1")
        page.context.add_cookies([{**cookie, "value": forged}])
        page.reload()
        expect(password).to_be_visible(timeout=90_000)
        expect(nav).to_have_count(0)
        expect(page.get_by_role("heading", name="Cached runs")).to_have_count(0)
        page.screenshot(path=str(ARTIFACTS / "login_forged_cookie.png"))
