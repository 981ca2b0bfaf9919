"""Every run inspectable, in a real headless Chromium: a click on a point of Explore's loss chart opens
the run view (Streamlit's chart selection, the click's callback, the dialog). Skipped, saying so,
only when no Chromium is found."""
from __future__ import annotations

import pytest
from apptest import build_small_cache
from test_browser import ARTIFACTS, CHROMIUM_ARGS, _chromium, _streamlit


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = build_small_cache(tmp_path_factory)
    with _streamlit(db, tmp_path_factory.mktemp("streamlit_runs")) as url:
        yield url


def _click_a_point(page, chart, want: str) -> bool:
    """Hover over the chart until Vega's tooltip shows a point naming `want`, then click there."""
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    for fy in [i / 24 for i in range(3, 22)]:
        for fx in [i / 30 for i in range(3, 27)]:
            x, y = box["x"] + fx * box["width"], box["y"] + fy * box["height"]
            page.mouse.move(x, y)
            page.wait_for_timeout(20)
            tip = page.locator("#vg-tooltip-element")
            if tip.count() and tip.is_visible() and want in tip.inner_text():
                page.mouse.click(x, y)
                return True
    return False


@pytest.mark.browser
@pytest.mark.parametrize("width", [1024, 1440])
def test_a_click_on_a_point_opens_its_run(server, tmp_path, width):
    exe = _chromium()
    if exe is None:
        pytest.skip("no Chromium found (apt-get install chromium, or `make browser`): browser test skipped")
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=exe, args=CHROMIUM_ARGS,
                                                   headless=True, viewport={"width": width, "height": 1000})
        try:
            page = ctx.new_page()
            page.set_default_timeout(60_000)
            page.goto(server + "/?dropout=0")
            expect(page.get_by_text("95% interval [").first).to_be_visible(timeout=120_000)
            page.wait_for_timeout(2000)  # the chart is drawn again with its band once the intervals are in
            chart = page.locator('[data-testid="stVegaLiteChart"]').first
            assert _click_a_point(page, chart, "seed"), "no point of the loss chart found under the mouse"
            dialog = page.locator('[role="dialog"]')
            expect(dialog).to_be_visible(timeout=60_000)
            expect(dialog.get_by_text("The run behind the point")).to_be_visible()
            expect(dialog.get_by_text("only its final value is stored", exact=False)).to_be_visible()
            page.wait_for_timeout(1500)
            page.screenshot(path=str(ARTIFACTS / f"run_view_{width}.png"))
            page.keyboard.press("Escape")
            expect(dialog).to_have_count(0)
            page.mouse.click(width - 20, 990)  # a blank corner: the focus leaves the chart
            page.keyboard.press("r")  # Streamlit's rerun key: the click was read once, a rerun opens nothing
            page.wait_for_timeout(4000)
            expect(page.get_by_text("95% interval [").first).to_be_visible(timeout=120_000)
            assert page.locator('[role="dialog"]').count() == 0
        finally:
            ctx.close()
