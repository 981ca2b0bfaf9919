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

from test_app import build_small_cache  # the same session-wide cache of real runs

ROOT = Path(__file__).resolve().parent.parent
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
def _streamlit(db: Path, log_dir: Path):
    """`streamlit run` headless on a free port against `db`; yields the base URL."""
    port = _free_port()
    env = dict(os.environ, SCALING_DB=str(db))
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


@pytest.mark.browser
def test_a_shared_link_opens_its_page_on_a_fresh_server(tmp_path_factory, tmp_path):
    """The first request a freshly started server gets is a copied Compare link: it must open
    Compare inside the app (its navigation, wide layout, the link's selections), not the page
    script alone in Streamlit's legacy pages/ mode (which also skipped the password gate)."""
    from playwright.sync_api import expect

    db = build_small_cache(tmp_path_factory)
    with _streamlit(db, tmp_path_factory.mktemp("fresh_server")) as url, _browser(tmp_path) as page:
        page.goto(url + "/compare?a_dropout=0&a_w=1:3&b_dropout=0.2")
        expect(page.get_by_role("heading", name="Compare two selections")).to_be_visible(timeout=90_000)
        nav = page.locator('[data-testid="stSidebarNav"]')
        expect(nav).to_contain_text("Explore")
        expect(nav).to_contain_text("Fit lab")
        expect(nav).not_to_contain_text("shared")  # the legacy mode listed every file of pages/
        expect(page.get_by_text("width steps 1–2").first).to_be_visible()  # the link's selection A
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "compare_from_link.png"))
