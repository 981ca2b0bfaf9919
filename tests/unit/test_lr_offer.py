"""The learning-rate offer counts its runs and their FLOPs without building them, and its button
queues exactly the runs next_lr_configs builds for the selection."""
from __future__ import annotations

import os
import shutil
import signal

import pytest
from apptest import APP, _ok

from scaling import services
from scaling.fit import aggregate, lr_tuning, synthetic_sweep
from scaling.store import Store
from scaling.workers import jobs


def _built(tuning, seeds):
    configs = services.next_lr_configs(tuning, seeds)
    return configs, sum(c.flops for c in configs)


def test_the_count_and_flops_are_those_of_the_runs_it_would_build():
    for lr_mults in ((1,), (1, 4, 16), (0.25, 1, 4)):  # one multiplier, an edge, tuned
        runs, _ = synthetic_sweep(width_steps=range(4), fractions=(1 / 4, 1 / 8, 1 / 16), lr_mults=lr_mults, seeds=3)
        t = lr_tuning(aggregate(runs))
        for seeds in ([0], [0, 1, 2], []):
            configs, flops = _built(t, seeds)
            n, f = services.next_lr_cost(t, seeds)
            assert n == len(configs) and f == pytest.approx(flops, rel=1e-12, abs=0)


def test_the_button_queues_exactly_the_runs_next_lr_configs_builds(small_cache, tmp_path, monkeypatch):
    db = tmp_path / "runs.duckdb"
    shutil.copy(small_cache, db)  # the session's cache stays as the other tests know it
    monkeypatch.setenv("SCALING_DB", str(db))
    from streamlit.testing.v1 import AppTest

    store = Store(db)
    runs = store.snapshot().runs
    sel, _ = services.fit_to_options(services.Selection(), services.options(runs, "mnist"))
    an = services.point_estimates(runs, store.curves(), sel)
    seeds = sorted(services.select(runs, sel)["seed"].unique())
    expected, flops = _built(services.lr_tuning(an.aggregate), seeds)
    assert expected  # the small cache trains one multiplier: not tuned

    at = AppTest.from_file(APP, default_timeout=120).run()
    _ok(at)
    button = at.button(key="queue_lr")
    assert button.label == f"Queue those {len(expected)} runs"
    assert any(f"{len(expected)} more runs, {services.fmt_flops(flops)}" in c.value for c in at.caption)
    button.click().run()
    try:
        _ok(at)
        sweep_id = at.session_state["my_sweeps"][0][0]
        assert sorted(store.sweep_run_ids(sweep_id)) == sorted(c.run_id for c in expected)
    finally:
        pid = jobs.worker_alive(store)
        if pid:
            os.kill(pid, signal.SIGTERM)  # the worker the click started: these runs need not train
