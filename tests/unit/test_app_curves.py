"""Your curves under AppTest: a pasted CSV of two groups fitted and drawn, bad tables refused with
one message naming the column or the row, and Markdown or HTML in the table shown as text."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "streamlit_app.py")
PAGE = "app_pages/curves.py"


def _ok(at):
    assert not at.exception, [e.message for e in at.exception]


def _walk(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)


def _charts(at):
    return [e for e in _walk(at.main) if getattr(e, "type", "") in ("arrow_vega_lite_chart", "vega_lite_chart")]


def _csv(groups=("a", "b"), group_col="run", n=12) -> str:
    """Two power laws with a constant, the last two points of each held out."""
    rows = [f"{group_col},step,loss,train"]
    for k, g in enumerate(groups):
        for i, x in enumerate(np.geomspace(1e3, 1e6, n)):
            loss = (1.5 + k * 0.3) + 40 * x ** -0.35 * (1 + 0.003 * np.sin(7 * i + k))
            rows.append(f"{g},{x:.6g},{loss:.6g},{int(i < n - 2)}")
    return "\n".join(rows)


@pytest.fixture
def page(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALING_DB", str(tmp_path / "empty.duckdb"))
    monkeypatch.setenv("SCALING_APP_BOOT", "30")  # fewer resamples, where this test is the first to load the pages
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=120).run()
    _ok(at)
    at.switch_page(PAGE).run()
    _ok(at)
    assert any("Paste a CSV" in i.value for i in at.info)  # nothing pasted yet: what to do
    return at


def _paste(at, text):
    at.text_area(key="yc_paste").set_value(text).run()
    _ok(at)
    return at


def test_two_groups_pasted_give_two_curves_with_form_reason_and_backtest(page):
    at = _paste(page, _csv())
    assert not at.error, [e.value for e in at.error]
    assert [h.value for h in at.subheader] == ["run\\=a", "run\\=b"]  # md_text escapes the '='
    assert len(_charts(at)) == 2
    md = [m.value for m in at.markdown]
    assert sum(v.startswith("**Form: ") for v in md) == 2
    captions = [c.value for c in at.caption]
    assert sum(c.startswith("Why: best backtest") for c in captions) == 2
    # the bands have a time budget: on a loaded machine fewer of the 30 resamples may answer
    assert sum(bool(re.search(r"95\\% band from \d+ of \d+ resamples", c)) for c in captions) == 2
    assert any("2 of 2 curves fitted" in c for c in captions)
    frames = [d.value for d in at.dataframe]
    backtests = [f for f in frames if "rmse_log" in f.columns]
    assert len(backtests) == 2 and all(len(f) == 5 for f in backtests)  # every form's score
    assert at.get("download_button")


def test_a_chosen_form_and_columns_are_used(page):
    at = _paste(page, _csv())
    key = [s.key for s in at.selectbox if s.key.startswith("yc_form_")][0]
    at.selectbox(key=key).set_value("power")
    at.button[0].click().run()  # the form's submit button
    _ok(at)
    assert sum(m.value.startswith("**Form: power**") for m in at.markdown) == 2
    assert not [d for d in at.dataframe if "rmse_log" in d.value.columns]  # a form asked for: no backtest


@pytest.mark.parametrize("text, words", [
    ("step\n1\n2\n3", "needs a header row and at least two columns (x and loss); read 1 column"),  # no loss column
    (_csv().replace("a,1000,", "a,lots,", 1),
     "row 1 (line 2 of the file): the x column 'step' has 'lots', not a number"),
    (_csv().replace(",1\nb", ",yes\nb", 1), "the train column 'train' has 'yes'"),
    ("x;loss\n1;2\n2;-1\n3;0.5", "row 2 (line 3 of the file): the loss column 'loss' has -1"),
    ("", "Paste a CSV"),
    ('a,b\n1,"2\n', "cannot read the table as CSV"),
])
def test_a_bad_table_is_one_message_and_the_page_stays_up(page, text, words):
    at = _paste(page, text)
    msgs = [e.value for e in at.error] + [i.value for i in at.info]
    assert len(msgs) == 1 and words.replace("'", "") in msgs[0].replace("\\", "").replace("'", ""), msgs
    assert not _charts(at)


def test_a_missing_column_names_it(page):
    at = _paste(page, "step,loss,note\n1,3,x\n2,2,y\n3,1.5,z\n4,1.3,w")
    key = [s.key for s in at.selectbox if s.key.startswith("yc_loss_")][0]
    at.selectbox(key=key).set_value("note")
    at.multiselect[0].set_value([])  # (note, a text column, was the guessed group)
    at.button[0].click().run()
    _ok(at)
    assert len(at.error) == 1 and "note" in at.error[0].value and "not a number" in at.error[0].value


def test_markdown_and_html_in_names_and_values_are_text(page):
    evil_col, evil_val = "**bold** <b>x</b>", "[link](http://example.com) <img src=x onerror=alert(1)> :red[hi]"
    text = _csv(groups=(f'"{evil_val}"', "plain"), group_col=f'"{evil_col}"')
    at = _paste(page, text)
    assert not at.error, [e.value for e in at.error]
    heads = [h.value for h in at.subheader]
    assert len(heads) == 2 and len(_charts(at)) == 2
    for h in heads:  # every Markdown and HTML character escaped
        assert not re.search(r"(?<!\\)[*<>\[\]():]", h), h
        assert "\\*\\*bold\\*\\*" in h
    # in the chart the name and value are a title's plain text (Vega draws text, never HTML), never a field
    spec = json.loads(_charts(at)[0].proto.spec)
    assert evil_val in " ".join(spec["title"]["text"]) and evil_col in " ".join(spec["title"]["text"])
    fields = set(re.findall(r'"field": "([^"]*)"', json.dumps(spec["layer"])))
    assert fields <= {"x", "loss", "predicted", "lo", "hi", "role", "part"}, fields
    frames = [d.value for d in at.dataframe]
    assert any(evil_col in f.columns for f in frames)  # the table as read: names shown as data
