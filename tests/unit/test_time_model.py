"""What a run costs here (scaling.fit.time_model) and a sweep's time left.

The real timings in tests/data/cpu_timings_epyc_2core.csv were recorded with the CLI on a 2-core
AMD EPYC (Zen 3, AVX2, no AVX-512) shared with other jobs (load average 6-19 on 2 cores), on
2026-12-03: grid A is the issue's `scaling sweep --widths 0:3 --fractions 1/256:1/32 --seeds 0:2`
(24 runs, 3 stacks, trained in 27 s back to back); grid Q the first 3 stacks (widths 1, 11, 16) of
the CPU quick sweep; grid B `--widths 0:4 --fractions 1/128:1/16 --seeds 2:4`, trained while the
load was at its worst (kept for the record, not asserted on: the same work ran 3-14x slower)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scaling import services
from scaling.core.config import RunConfig
from scaling.fit import time_model as tm
from scaling.store import Store

TIMINGS = Path(__file__).parents[1] / "data" / "cpu_timings_epyc_2core.csv"
CPU = "cpu (2 threads)"


def _runs(grid: str | None = None) -> pd.DataFrame:
    df = pd.read_csv(TIMINGS, parse_dates=["created_at"])
    return df if grid is None else df[df["grid"] == grid].reset_index(drop=True)


def _configs(df: pd.DataFrame) -> list[RunConfig]:
    keys = list(RunConfig.__dataclass_fields__)
    return [RunConfig.from_dict({k: (v.item() if hasattr(v, "item") else v) for k, v in r.items() if k in keys})
            for r in df.to_dict("records")]


def _old_estimate(train: pd.DataFrame, test: pd.DataFrame) -> float:
    """The model before issue 14: wall_s = t0 + C/r over the runs, compute alone."""
    C, W = train["flops"].to_numpy(float), train["wall_s"].to_numpy(float)
    (a, b), *_ = np.linalg.lstsq(np.c_[np.ones(len(train)), C], W, rcond=None)
    a, r = (0.0, C.sum() / W.sum()) if a < 0 or b <= 0 else (a, 1 / b)
    return float(sum(a + c.flops / r for c in _configs(test)))


def test_an_empty_cache_gives_the_defaults_and_says_so():
    m = services.time_model(pd.DataFrame(), CPU)
    assert (m.fixed_s, m.step_s, m.train_flops_per_s, m.eval_flops_per_s) == tm.CPU_DEFAULT
    assert m.n_runs == 0 and "no runs trained" in m.describe()
    # the defaults put the CPU quick sweep at the 427 s issue 14 measured, not at 71 s
    assert 380 < m.seconds(services.QUICK_CPU.configs()) < 480
    assert services.time_model(pd.DataFrame(), "NVIDIA H100 80GB HBM3").curves


def test_evaluation_costs_every_run_the_same_whatever_its_fraction():
    m = services.time_model(pd.DataFrame(), CPU)
    small, large = (RunConfig(width_step=0, data_fraction=f, seed=0) for f in (1 / 256, 1 / 128))
    # twice the data is twice the training, but the same 10k test images: far less than twice the time
    assert m.run_s(large) < 1.6 * m.run_s(small)
    # curves (CUDA's default) evaluate at every curve point
    assert tm.eval_passes(large, curves=True) > tm.eval_passes(large, curves=False) == 1


def test_only_runs_timed_here_count():
    runs = _runs("A")
    other = runs.assign(device="NVIDIA H100", wall_s=runs["wall_s"] * 100)
    imported = runs.assign(imported_from="colleague.parquet", wall_s=runs["wall_s"] * 100,
                           created_at=runs["created_at"] + pd.Timedelta(hours=1))
    failed = runs.assign(status="failed", wall_s=runs["wall_s"] * 100, created_at=runs["created_at"] + pd.Timedelta(hours=2))
    base = services.time_model(runs.assign(imported_from=None), CPU)
    mixed = services.time_model(pd.concat([runs.assign(imported_from=None), other, imported, failed]), CPU)
    assert mixed.n_runs == base.n_runs == 24 and mixed.n_stacks == 3
    assert mixed.seconds(_configs(runs)) == pytest.approx(base.seconds(_configs(runs)))


def test_a_stack_is_fitted_from_its_total_and_the_rates_come_back():
    """Synthetic stacks timed by a known model, their time shared by compute as train.py shares it:
    the fit recovers every run's cost."""
    truth = tm.TimeModel(CPU, 0.1, 3e-3, 5e10, 2e10)
    rows, t = [], pd.Timestamp("2026-01-01")
    for i, (k, fr) in enumerate([(k, fr) for k in (-4, 0, 2, 4) for fr in ((1 / 256, 1 / 8), (1 / 64, 1 / 2), (1 / 32, 1))]):
        cfgs = [RunConfig(width_step=k, data_fraction=f, seed=s) for f in fr for s in (0, 1)]
        total = sum(truth.base_s(c) for c in cfgs)
        flops = sum(c.flops for c in cfgs)
        rows += [dict(run_id=c.run_id, width_step=k, examples=c.examples, batch_size=c.batch_size, flops=c.flops,
                      wall_s=total * c.flops / flops, device=CPU, status="ok", created_at=t + pd.Timedelta(minutes=i))
                 for c in cfgs]
    m = services.time_model(pd.DataFrame(rows), CPU)
    assert m.rates_fitted and m.n_stacks == 12
    probe = [RunConfig(width_step=k, data_fraction=f, seed=3) for k in (-2, 1, 3) for f in (1 / 128, 1 / 4)]
    for c in probe:
        assert m.run_s(c) == pytest.approx(truth.base_s(c), rel=1e-3)


def test_the_issues_grid_held_out_width_is_predicted_within_a_third():
    """The brief's grid (A: widths 4, 6, 8 x fractions 1/256..1/32 x 2 seeds, one stack per width, timed
    back to back): fitted on two widths, each third one is predicted within 1.5x (measured: 1.34x,
    0.93x, 0.77x; the compute-only model: 1.86x, 0.92x, 0.51x). 1.5x is what a shared machine allows
    between stacks a few seconds apart: the same stacks' FLOP/s moved by 10-20% between runs."""
    runs = _runs("A")
    for k in sorted(runs["width_step"].unique()):
        fit, held = runs[runs["width_step"] != k], runs[runs["width_step"] == k]
        ratio = services.time_model(fit, CPU).seconds(_configs(held)) / held["wall_s"].sum()
        assert 1 / 1.5 < ratio < 1.5, (k, ratio)


def test_the_narrowest_width_is_not_priced_by_its_flops():
    """The quick sweep's width-1 stack (8 runs at fractions up to 1) from the width-11 and width-16
    stacks timed just before it: within 2.5x (measured 0.43x: its steps cost more under the load than
    the earlier stacks said). Compute alone put it at 1/100 of its time: it has 1/100 of their FLOPs
    but as many steps, and a step costs more than its arithmetic there."""
    runs = _runs("Q")
    fit, held = runs[runs["width_step"] != -4], runs[runs["width_step"] == -4]
    measured = held["wall_s"].sum()
    ratio = services.time_model(fit, CPU).seconds(_configs(held)) / measured
    assert 1 / 2.5 < ratio < 2.5, ratio
    assert _old_estimate(fit, held) / measured < 0.05  # the model this replaces


def test_a_sweeps_time_left_is_its_queued_runs_and_the_rest_of_its_stack(tmp_path):
    store = Store(tmp_path / "eta.duckdb")
    spec = services.GridSpec(widths="0:2", fractions="1/512,1/256", seeds="0:1", dropouts="0")
    sid, _, n = store.enqueue(spec.configs(), label="eta")
    m = services.time_model(pd.DataFrame(), CPU)
    st = services.sweep_status(store, sid, "eta", m)
    assert st.queued == n == 4 and st.queued_s == pytest.approx(m.seconds(spec.configs()))
    assert st.eta_line().startswith("About ") and st.stack_line() == ""
    claimed = store.claim("test-owner", 8)  # one width: a stack of 2 starts now
    st = services.sweep_status(store, sid, "eta", m)
    assert st.running == 2 and st.stack_s == pytest.approx(m.seconds(claimed))
    assert st.left_s == pytest.approx(st.queued_s + st.stack_s - st.elapsed_s, abs=1.0)
    # a stack past its estimate: no bar stuck at 99%, a line that says so, and a lower bound
    late = st.current.assign(running_s=st.stack_s * 3)
    over = services.SweepStatus(**{**st.__dict__, "current": late})
    assert over.over and "past its estimate" in over.stack_line() and over.eta_line().startswith("At least")
    assert over.left_s == pytest.approx(over.queued_s)
    assert math.isnan(services.sweep_status(store, sid).stack_s)  # no model, no estimate
