"""A selection's fits are keyed by its own runs (services.selection_version): a sweep landing runs of
another family keeps them, the intervals included; and a page run soon after the sweep panel's last
read shows that read instead of opening the database again."""
import shutil

import pandas as pd
from apptest import APP, _ok

from scaling import services
from scaling.services import background
from scaling.store import Store
from scaling.workers import jobs


def test_the_version_changes_with_the_selections_runs_only(small_cache):
    runs = Store(small_cache).runs(status=None)
    sel = services.Selection(dropout=0.0)
    v = services.selection_version(runs, sel)
    assert services.selection_version(runs.sample(frac=1, random_state=0), sel) == v  # order is not data

    other = runs[runs["dropout"] == 0.2].iloc[:1].assign(run_id="another", dropout=0.1,
                                                         created_at=pd.Timestamp("2100-01-01"))
    assert services.selection_version(pd.concat([runs, other], ignore_index=True), sel) == v
    assert services.data_version(pd.concat([runs, other], ignore_index=True)) != services.data_version(runs)

    mine = runs[runs["dropout"] == 0.0].iloc[:1].assign(run_id="new", created_at=pd.Timestamp("2100-01-01"))
    assert services.selection_version(pd.concat([runs, mine], ignore_index=True), sel) != v
    excluded = runs.assign(excluded=runs["excluded"].astype(object))
    excluded.loc[excluded.index[excluded["dropout"] == 0.0][0], "excluded"] = "an outlier"
    assert services.selection_version(excluded, sel) != v
    assert services.selection_version(runs.iloc[:0], sel) == (0, None)


def test_runs_of_another_family_landing_keep_the_pages_fits(small_cache, tmp_path, monkeypatch):
    """Explore's point estimates and intervals are not refitted when a run of dropout 0.1 lands."""
    from streamlit.testing.v1 import AppTest

    db = tmp_path / "runs.duckdb"
    shutil.copy(small_cache, db)
    monkeypatch.setenv("SCALING_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=120).run()
    _ok(at)
    n_before = len(Store(db).runs(status=None))
    one = services.GridSpec(widths="0", fractions="1/256", seeds="0", dropouts="0.1")  # in the cached ranges
    Store(db).enqueue(one.configs(), label="another family")
    jobs.work(Store(db), "cpu")  # trained here: nothing waits in the queue after it
    assert len(Store(db).runs(status=None)) == n_before + 1

    calls = []
    real_points, real_run = services.point_estimates, background.run
    monkeypatch.setattr(services, "point_estimates", lambda *a, **k: calls.append("points") or real_points(*a, **k))
    monkeypatch.setattr(background, "run", lambda *a, **k: calls.append("intervals") or real_run(*a, **k))
    at.run()
    _ok(at)
    assert calls == [], calls
    assert " ".join(c.value for c in at.caption).count("95% interval [") == 2  # the intervals, kept


def test_a_page_run_soon_after_the_panels_read_shows_that_read(small_cache, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from app_pages.ui import sweeps

    db = tmp_path / "runs.duckdb"
    shutil.copy(small_cache, db)
    monkeypatch.setenv("SCALING_DB", str(db))
    spec = services.GridSpec(widths="0:1", fractions="1/512", seeds="0:1", dropouts="0")
    Store(db).enqueue(spec.configs(), label="waiting")  # no worker: it waits in the queue
    reads = []
    real = services.sweep_status
    monkeypatch.setattr(services, "sweep_status", lambda *a, **k: reads.append(1) or real(*a, **k))
    monkeypatch.setattr(sweeps, "REUSE_S", 600.0)
    at = AppTest.from_file(APP, default_timeout=120).run()
    _ok(at)
    assert len(reads) == 1
    at.run()  # a slider moved: the panel is drawn again from the last read
    _ok(at)
    assert len(reads) == 1 and [b.label for b in at.button].count("Cancel the queued runs") == 1
    monkeypatch.setattr(sweeps, "REUSE_S", 0.0)
    at.run()
    _ok(at)
    assert len(reads) == 2


def test_nothing_is_fitted_ahead_while_runs_land_in_the_selections_family(small_cache, monkeypatch):
    from app_pages.ui import fits

    asked = []
    monkeypatch.setattr(background, "ahead", lambda fn, *a, done, **k: asked.append(a[2]))
    store, sel = Store(small_cache), services.Selection(dropout=0.0, widths=(0, 2))
    runs = store.runs(status=None)
    fits.fit_ahead(store, services.data_version(runs), sel, runs, None, training=True)
    assert asked  # the first look at a selection while training: its neighbours
    landed = pd.concat([runs, runs[runs["dropout"] == 0.0].iloc[:1].assign(
        run_id="landed", created_at=pd.Timestamp("2100-01-01"))], ignore_index=True)
    asked.clear()
    fits.fit_ahead(store, services.data_version(landed), sel, landed, None, training=True)
    assert asked == []  # its own family is being trained: they would be stale at once
    fits.fit_ahead(store, services.data_version(landed), sel, landed, None, training=False)
    assert asked  # idle again
