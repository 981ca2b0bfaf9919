"""The Studies page under AppTest: an empty cache, and a cache of made-up runs that answer two studies
(written through the store, as a worker writes them; no training)."""
from __future__ import annotations

from pathlib import Path

from scaling.core.config import RunConfig
from scaling.store import Store
from scaling.training import train

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "streamlit_app.py")
PAGE = "app_pages/studies.py"
FRACTIONS = [2.0 ** -k for k in range(8, -1, -1)]


def _ok(at):
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _page(monkeypatch, db):
    monkeypatch.setenv("SCALING_DB", str(db))
    monkeypatch.setenv("SCALING_APP_BOOT", "30")  # a few resamples: the intervals exist, the test stays fast
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=120).run()
    _ok(at)
    at.switch_page(PAGE).run()
    _ok(at)
    return at


def _walk(node):
    """Every element under a node of AppTest's tree."""
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)


def _result(c: RunConfig, loss: float) -> train.RunResult:
    return train.RunResult(c, loss * (1 + 0.01 * ((c.seed * 7 + c.width_step) % 3 - 1)), 0.9, loss, 0.1,
                           "cpu (2 threads)", "ok")


def test_empty_cache_shows_every_study_with_its_plan(tmp_path, monkeypatch):
    at = _page(monkeypatch, tmp_path / "empty.duckdb")
    assert [h.value for h in at.subheader][:5] == ["Label noise", "Architecture", "Transfer", "The data bottleneck",
                                                   "The lr schedule"]
    queue = [b for b in at.button if b.label.startswith("Queue ")]
    assert len(queue) == 5 and not any(b.disabled for b in queue)
    assert sum("Needs" in i.value for i in at.info) == 5  # each answer says what is missing
    assert any(m.label == "estimated time" and m.value != "—" for m in at.metric)


def test_cached_runs_answer_their_studies(tmp_path, monkeypatch):
    db = tmp_path / "runs.duckdb"
    store = Store(db)
    noise = [RunConfig(width_step=3, data_fraction=f, seed=s, label_noise=n)
             for n in (0.0, 0.2) for f in FRACTIONS for s in range(3)]
    store.add_results([_result(c, 40 * c.examples ** -0.5 if c.label_noise == 0 else 4 * c.examples ** -0.25)
                       for c in noise])
    arch = [RunConfig(width_step=k, data_fraction=f, seed=s, arch=a)
            for a in ("cnn", "mlp") for k in (0, 1, 2, 3) for f in FRACTIONS[2:] for s in range(2)]
    store.add_results([_result(c, 5 * (c.flops / (3.0 if c.arch == "mlp" else 1.0)) ** -0.3) for c in arch])
    at = _page(monkeypatch, db)
    # neither preset is all cached (noise: no 40% level; arch: 2 of 3 seeds): each answer is given,
    # marked provisional, not as a success
    assert not at.success
    answers = [x.value for x in at.info if x.value.startswith("Provisional: ")]
    assert any("data exponent moves from 0.50" in a and "do not overlap" in a for a in answers), answers
    arch_answer = next(a for a in answers if "compute exponent α_C" in a)
    assert "No measurable difference in the exponent" in arch_answer
    assert sum("Needs" in i.value for i in at.info) == 3  # transfer, the bottleneck, the schedule: nothing cached
    # the runs written are part of the noise and architecture presets (on a CPU: all 54 noise runs, and
    # the 48 at widths 4 and 8 up to fraction 1/2): the plans count them as cached
    cached = [int(m.value) for m in at.metric if m.label == "cached"]
    # the schedule's preset shares its constant x1 runs with the exercise's grid (the CNN's here)
    assert cached[0] > 0 and cached[1] > 0 and cached[2:4] == [0, 0] and cached[4] > 0
    charts = [e for e in _walk(at.main) if getattr(e, "type", "") in ("arrow_vega_lite_chart", "vega_lite_chart")]
    assert len(charts) == 4, sorted({getattr(e, "type", "") for e in _walk(at.main)})  # noise: L(D) and exponents; arch: frontiers and exponents
