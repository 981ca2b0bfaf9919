"""Text from outside (a link's parameters, an imported file's fields) is shown as text, never as Markdown:
no image fetched from the viewer's browser, no link inside the app's own messages (issue 25, item 4)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from scaling import services
from scaling.store import Store, exchange

APP = str(Path(__file__).resolve().parents[2] / "streamlit_app.py")
IMAGE = "![x](http://example.invalid/a.png)"
EVIL = '<img src="http://example.invalid/b.png"> [click](http://example.invalid) :material/home: $x$ :red[red]'


@pytest.fixture(scope="module")
def imported_db(tmp_path_factory) -> Path:
    """Part of the shipped grid, imported with a file mark made of Markdown and HTML (no training)."""
    exp = exchange.read(exchange.SHIPPED)
    runs = exp.runs[(exp.runs.dropout == 0) & exp.runs.width_step.between(-2, 3) & (exp.runs.data_fraction >= 1 / 32)]
    path = tmp_path_factory.mktemp("outside") / "runs.duckdb"
    Store(path).import_runs(runs.assign(imported_from=EVIL), exp.curves.iloc[:0], source="unused")
    return path


@pytest.fixture
def explore(imported_db, monkeypatch):
    monkeypatch.setenv("SCALING_DB", str(imported_db))
    monkeypatch.setenv("SCALING_APP_BOOT", "20")  # a few resamples: the intervals exist, the test stays quick
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(APP, default_timeout=120)


# Markdown that would act, in the source Streamlit gets: each starts with a character no backslash escapes
LIVE = {"image": r"(?<!\\)!\[", "link": r"(?<!\\)\]\(", "html": r"(?<!\\)<[a-z]", "math": r"(?<!\\)\$",
        "directive": r"(?<!\\):[a-z]+\[", "icon": r":material/"}


def _inert(body: str) -> None:
    """No image, link, HTML tag, math, directive or icon in `body`, nor a literal autolink (which GFM finds
    in the text after the escapes are resolved)."""
    for what, pattern in LIVE.items():
        assert not re.search(pattern, body), (what, body)
    parsed = re.sub(r"\\(.)", r"\1", body)
    assert not re.search(r"(?i)https?://|www\.", parsed), parsed


def test_md_text_escapes_markdown_html_directives_math_and_links():
    s = services.md_text(f"{IMAGE} {EVIL} www.example.invalid a@example.invalid :streamlit:\n# heading")
    _inert(s)
    assert s.startswith(r"\!\[x\]\(http\:") and "\n" not in s and r"\# heading" in s
    assert "www\u2060" in s and "@\u2060" in s and ":\u2060streamlit" in s  # GFM and Streamlit act after escapes
    assert services.md_text("AMD EPYC 7B13") == "AMD EPYC 7B13"  # plain words stay as they are


def test_link_parameters_and_imported_marks_are_shown_as_text(explore):
    explore.query_params["ds"] = IMAGE
    explore.query_params["dropout"] = "0"
    explore.run()
    assert not explore.exception, [e.message for e in explore.exception]
    notes = [w.value for w in explore.warning if "Link parameter" in w.value]
    assert len(notes) == 1 and r"\!\[x\]\(http\:" in notes[0], notes  # the literal text, escaped
    _inert(notes[0])
    note = next(c.value for c in explore.caption if "imported, not trained here" in c.value)
    assert r"\<img src\=" in note and r"\[click\]" in note and r"\:material\/home\:" in note and r"\$x\$" in note
    _inert(note)
    explore.switch_page("app_pages/runs.py").run()
    note = next(c.value for c in explore.caption if "imported, not trained here" in c.value)
    _inert(note)


def test_one_seed_shows_no_interval_and_says_why(explore):
    explore.query_params["seeds"] = "0"
    explore.run()
    assert not explore.exception, [e.message for e in explore.exception]
    captions = " ".join(c.value for c in explore.caption)
    assert "No interval: the bootstrap resamples seeds, and this selection has 1" in captions
    assert "95% interval [" not in captions and "outside its interval" not in captions
