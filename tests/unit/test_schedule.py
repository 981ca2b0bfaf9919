"""The lr schedule as a run axis: identity, the trainer's lr per step, the store and its exchange, the
CLI, and the schedule study (on synthetic runs with known answers, and on a fresh database trained here)."""
from __future__ import annotations

import json
import math

import duckdb
import numpy as np
import pandas as pd
import pytest
import torch
from test_studies import runs_of

from scaling.cli import main
from scaling.core import config, grid
from scaling.core.config import RunConfig
from scaling.fit import studies
from scaling.fit.runs import compute_law
from scaling.services import links, selection
from scaling.services import studies as study_services
from scaling.store import MIGRATIONS, SCHEMA_VERSION, Store
from scaling.store.exchange import SHIPPED
from scaling.training import optim, train

# ---------------------------------------------------------------- identity


def test_the_default_schedule_keeps_every_shipped_run_id():
    shipped = pd.read_parquet(SHIPPED)
    fields = [f for f in RunConfig.__dataclass_fields__ if f in shipped.columns]
    assert "lr_schedule" not in shipped.columns  # written before the axis: every run is constant
    ids = [RunConfig.from_dict(r).run_id for r in shipped[fields].to_dict("records")]
    assert ids == shipped["run_id"].tolist()
    cos = RunConfig(0, 1 / 64, lr_schedule="cosine")
    assert cos.run_id != RunConfig(0, 1 / 64).run_id == RunConfig(0, 1 / 64, lr_schedule="constant").run_id
    assert "lr_schedule" in config.FAMILY_FIELDS  # never averaged with another schedule
    # the rule's constant is the schedule's (the lr scan: cosine's best is x2 of constant's)
    assert config.lr_per_layer(cos, "fc1.weight") == pytest.approx(2 * config.lr_per_layer(RunConfig(0, 1 / 64), "fc1.weight"))
    with pytest.raises(ValueError, match="lr_schedule must be one of constant, cosine"):
        RunConfig(0, 1 / 64, lr_schedule="linear")


# ---------------------------------------------------------------- the trainer


def test_the_cosine_lr_at_each_step_is_the_formula(monkeypatch):
    """What reaches Adam at step t (the CPU path) is the rule's lr times (1 + cos(pi (t-1)/T)) / 2."""
    seen = []

    def spy(params, grads, exp_avg, exp_avg_sq, lr, step, *rest):
        seen.append((int(step), [t.flatten(1)[:, 0].clone() for t in lr]))  # one element per model: all are equal
        return optim.adam(params, grads, exp_avg, exp_avg_sq, lr, step, *rest)

    monkeypatch.setattr(train, "adam", spy)
    long, short = RunConfig(0, 1 / 256, lr_schedule="cosine"), RunConfig(0, 1 / 512, lr_mult=2.0)
    cos_short = RunConfig(0, 1 / 512, seed=1, lr_schedule="cosine")
    cfgs = [long, short, cos_short]
    train.train_stack(cfgs)
    steps = [math.ceil(c.examples / c.batch_size) for c in cfgs]  # 4, 2, 2: the stack runs longest first
    assert [s for s, _ in seen] == list(range(1, steps[0] + 1))
    names = list(train.model.init_stack(long.width, [0], "cpu", long.arch))
    for t, lrs in seen:
        for name, got in zip(names, lrs):  # the models still training at step t, longest first
            want = [config.lr_per_layer(c, name) * config.lr_factor(c.lr_schedule, t, n)
                    for c, n in zip(cfgs, steps) if n >= t]
            assert got.tolist() == pytest.approx(want, rel=1e-6), (t, name)
    assert config.lr_factor("cosine", 1, 4) == 1.0 and config.lr_factor("cosine", 3, 4) == pytest.approx(0.5)
    assert config.lr_factor("constant", 3, 4) == 1.0
    # the warm-up: ceil(0.1 T) steps ramped linearly, then the cosine alone
    assert config.WARMUP == 0.1
    assert [config.lr_factor("cosine", t, 59) for t in (1, 3, 6, 7)] == pytest.approx(
        [1 / 6, 3 / 6 * 0.5 * (1 + math.cos(math.pi * 2 / 59)), 0.5 * (1 + math.cos(math.pi * 5 / 59)),
         0.5 * (1 + math.cos(math.pi * 6 / 59))])


def test_lr_factors_on_the_device_match_the_formula():
    n = torch.tensor([4.0, 59.0, 7.0])
    cos = torch.tensor([True, True, False])
    for t in range(1, 5):
        got = train.lr_factors(torch.tensor(t), n, cos).tolist()
        assert got == pytest.approx([config.lr_factor("cosine", t, 4), config.lr_factor("cosine", t, 59), 1.0])


@pytest.mark.cuda
def test_cuda_graph_replays_the_schedule_without_recapture(monkeypatch):
    """A captured step reads the step count on the device: the cosine run's lr moves on each replay,
    so its CUDA result matches the CPU's (fp32), and it differs from the constant run's."""
    from scaling.training import devices

    monkeypatch.setitem(devices.BF16, "cuda", False)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    cfgs = [RunConfig(2, 1 / 16, lr_schedule=s) for s in ("constant", "cosine")]  # 59 steps: graphed
    gpu, cpu = train.train_stack(cfgs, "cuda"), train.train_stack(cfgs, "cpu")
    for g, c in zip(gpu, cpu):
        assert math.isclose(g.val_loss, c.val_loss, rel_tol=2e-2)
    assert not math.isclose(gpu[0].val_loss, gpu[1].val_loss, rel_tol=1e-3)


# ---------------------------------------------------------------- the CLI and the store


def test_a_sweep_of_both_schedules_trains_two_runs_that_differ(db, capsys):
    assert main(["sweep", "--widths", "0", "--fractions", "1/256", "--lr-schedule", "constant,cosine",
                 "--device", "cpu", "--db", str(db)]) == 0
    runs = Store(db).runs()
    assert sorted(runs["lr_schedule"]) == ["constant", "cosine"] and runs["run_id"].nunique() == 2
    assert runs["val_loss"].nunique() == 2
    # the family split: fit reads one schedule at a time
    capsys.readouterr()
    assert main(["sweep", "--widths", "0", "--fractions", "1/256", "--lr-schedule", "cosine", "--dry-run",
                 "--device", "cpu", "--db", str(db)]) == 0
    assert "1 cached, 0 to train" in capsys.readouterr().out
    assert main(["sweep", "--lr-schedule", "linear", "--dry-run", "--device", "cpu", "--db", str(db)]) == 2
    assert "--lr-schedule: 'linear' is not one of constant, cosine" in capsys.readouterr().err


def test_sweep_help_names_the_schedule_study(capsys):
    assert main(["sweep", "--help"]) == 0
    out = capsys.readouterr().out
    assert "schedule" in out and "--lr-schedule" in out


def test_a_database_from_before_the_schedule_is_upgraded(tmp_path):
    path = tmp_path / "v6.duckdb"
    cfg = RunConfig(1, 1 / 64, seed=1)
    with duckdb.connect(str(path)) as con:
        for m in MIGRATIONS[:SCHEMA_VERSION - 1]:
            m(con) if callable(m) else con.execute(m)
        con.execute(f"INSERT INTO meta VALUES ('schema_version', '{SCHEMA_VERSION - 1}')")
        con.execute("INSERT INTO runs (run_id, protocol, dataset, width_step, width, dropout, data_fraction, seed, "
                    "lr_rule, lr_mult, epochs, batch_size, params, examples, flops, val_loss, status, created_at) "
                    "VALUES (?, ?, 'mnist', 1, ?, 0.0, ?, 1, 'fan_in', 1.0, 1, 64, ?, ?, ?, 0.5, 'ok', now())",
                    [cfg.run_id, config.PROTOCOL, cfg.width, 1 / 64, cfg.params, cfg.examples, cfg.flops])
    store = Store(path)
    row = store.runs().iloc[0]
    assert row.lr_schedule == "constant" and row.run_id == cfg.run_id
    assert store.cached_ids([cfg.run_id]) == {cfg.run_id}


def test_export_and_import_keep_the_schedule(tmp_path):
    from scaling.store import exchange

    a = Store(tmp_path / "a.duckdb")
    cfgs = [RunConfig(0, 1 / 256, seed=s, lr_schedule=sc) for s in (0, 1) for sc in config.LR_SCHEDULES]
    a.add_results([train.RunResult(c, 0.5 + 0.1 * i, 0.9, 0.6, 0.1, "cpu", "ok") for i, c in enumerate(cfgs)])
    runs, curves, sweeps = a.runs_and_curves()
    path = tmp_path / "e.parquet"
    path.write_bytes(exchange.to_parquet(runs, curves, exchange.provenance(runs, sweeps, "test", "schedules")))
    b = Store(tmp_path / "b.duckdb")
    exp = exchange.read(path)
    assert b.import_runs(exp.runs, exp.curves, source=exp.source(path)).added == 4
    got = b.runs().set_index("run_id")
    assert {c.run_id: c.lr_schedule for c in cfgs} == got["lr_schedule"].to_dict()


def test_the_schedule_is_a_link_parameter_and_a_family_choice():
    sel = selection.Selection(lr_schedule="cosine")
    assert sel.to_params()["sched"] == "cosine" and "sched" not in selection.Selection().to_params()
    back, notes = links.parse_params(sel.to_params(), selection.Selection())
    assert back.lr_schedule == "cosine" and not notes
    _, notes = links.parse_params({"sched": "linear"}, selection.Selection())
    assert len(notes) == 1 and "sched" in notes[0] and "cosine" in notes[0]
    runs = pd.DataFrame([dict(run_id=str(i), protocol=config.PROTOCOL, status="ok", dataset="mnist", dropout=0.0,
                              width_step=0, data_fraction=1 / 64, seed=0, lr_mult=1.0, lr_schedule=s)
                         for i, s in enumerate(config.LR_SCHEDULES)])
    assert selection.options(runs).lr_schedules == ("constant", "cosine")
    assert len(selection.select(runs, sel)) == 1


def test_the_tuned_grid_is_counted_by_the_plan(tmp_path):
    from scaling.services.plans import plan

    store = Store(tmp_path / "p.duckdb")
    one = grid.expand([0, 1], [1 / 64], [0], [0.0])
    tuned = grid.expand([0, 1], [1 / 64], [0], [0.0], [0.5, 1, 2], lr_schedules=config.LR_SCHEDULES)
    p1, p6 = plan(store, one, pd.DataFrame(), "cpu"), plan(store, tuned, pd.DataFrame(), "cpu")
    assert (p1.new, p6.new) == (2, 12)
    assert p6.est_s == pytest.approx(6 * p1.est_s, rel=1e-9)  # tuning triples a grid, two schedules double it


# ---------------------------------------------------------------- the study


LAWS = {"constant": (1.0, 30.0, 0.35, 200.0, 0.30, 0.10), "cosine": (0.8, 30.0, 0.35, 300.0, 0.40, 0.05)}  # E A al B be sd


def schedule_runs(seeds=(0, 1, 2, 3, 4), schedules=("constant", "cosine"), mults=(0.5, 1.0, 2.0)):
    """Runs that follow E + A N^-alpha + B D^-beta per schedule, worse away from the best multiplier
    (x1 for constant; x1/2 at the wider widths for cosine), with seed noise of SD LAWS[...][5] in ln L."""
    def loss(c, N, D, C):
        E, A, al, B, be, _ = LAWS[c["lr_schedule"]]
        best = 0.5 if c["lr_schedule"] == "cosine" and c["width_step"] >= 2 else 1.0
        return (E + A * N ** -al + B * D ** -be) * (1 + 0.1 * math.log(c["lr_mult"] / best) ** 2)
    cells = [dict(width_step=w, data_fraction=2.0 ** -k, lr_schedule=s, lr_mult=m) for s in schedules for m in mults
             for w in (-4, -2, 0, 2, 4) for k in range(8, 2, -1)]
    runs = runs_of(cells, loss, seeds=seeds, noise=0.0)
    sd = runs["lr_schedule"].map({k: v[5] for k, v in LAWS.items()}).to_numpy()
    runs["val_loss"] *= np.exp(sd * np.random.default_rng(1).standard_normal(len(runs)))
    return runs


def test_the_schedule_study_recovers_known_moves():
    runs = schedule_runs()
    r = studies.study("schedule", runs, n_boot=30)
    assert r.ok, r.answer
    e = r.exponents.set_index("setting")
    base = r.points[r.points["arm"] == studies.schedule.BASE]
    gamma = compute_law(*(base[k].to_numpy(float) for k in ("params", "examples", "flops"))).gamma
    for arm, sched in ((studies.schedule.BASE, "constant"), (studies.schedule.TUNED, "cosine")):
        _, _, al, _, be, sd = LAWS[sched]
        assert e.loc[f"a · {arm}", "lo"] < be / (al + gamma * be) < e.loc[f"a · {arm}", "hi"]
        assert e.loc[f"sd · {arm}", "value"] == pytest.approx(sd, rel=0.2)
    assert e.loc["sd · move", "hi"] < 1 and "moved" in r.answer  # the noise halves: its ratio excludes 1
    assert r.answer.count("[") >= 6 and r.answer.startswith("From constant/untuned")
    tuned = r.points[r.points["arm"] == studies.schedule.TUNED]
    assert (tuned.loc[tuned["width_step"] >= 2, "lr_mult"] == 0.5).mean() > 0.8  # the tuning found x1/2 there
    json.dumps(r.to_dict())
    assert "at an end of x1/2..x2" in r.format()


def test_the_schedule_study_says_what_is_missing():
    r = studies.study("schedule", schedule_runs(seeds=(0, 1), schedules=("constant",)), n_boot=0)
    assert not r.ok and "cosine runs at lr x1/2, x1 and x2" in r.answer
    r = studies.study("schedule", schedule_runs(seeds=(0, 1), mults=(1.0,)), n_boot=0)
    assert not r.ok and "cosine runs" in r.answer  # x1 alone is not tuned


def test_the_schedule_chart_is_valid_vega_lite():
    from scaling.charts import studies as study_charts

    figs = study_charts.study_charts(studies.study("schedule", schedule_runs(seeds=(0, 1, 2)), n_boot=0))
    assert len(figs) == 2
    for fig in figs:
        fig.validate()


@pytest.mark.slow
def test_the_study_answers_on_a_fresh_database(db, monkeypatch, capsys):
    """A tiny preset (its two arms only: constant at x1, cosine at x1/2, x1, x2), trained here end to
    end: the CPU preset is the same with both arms tuned, at more widths and fractions."""
    tiny = [RunConfig(w, f, seed=s, lr_schedule=sc, lr_mult=m)
            for sc, mults in (("constant", (1.0,)), ("cosine", (0.5, 1.0, 2.0))) for m in mults
            for w in (-4, -2, 0) for f in (1 / 512, 1 / 256, 1 / 128) for s in (0, 1)]
    monkeypatch.setattr(study_services, "preset", lambda key, device: tiny)
    assert main(["sweep", "--study", "schedule", "--device", "cpu", "--db", str(db)]) == 0
    r = study_services.answer("schedule", Store(db).runs(status=None), n_boot=10)
    assert r.ok, r.answer
    assert set(r.points["arm"]) == {studies.schedule.BASE, "cosine/untuned", studies.schedule.TUNED}
    assert r.n_runs == 18 + 18 + 54  # x1 of cosine is in both of its arms
    assert "From constant/untuned" in r.answer
    capsys.readouterr()
    assert main(["fit", "--study", "schedule", "--bootstrap", "0", "--db", str(db)]) == 0
    assert "From constant/untuned" in capsys.readouterr().out
    assert main(["fit", "--lr-schedule", "cosine", "--bootstrap", "0", "--db", str(db)]) == 0
    assert "cosine lr" in capsys.readouterr().out.splitlines()[0]  # the family line names the schedule


def test_explore_offers_the_schedule_and_reads_it_from_the_link(tmp_path, monkeypatch):
    """Made-up runs of both schedules (written through the store): Explore's sidebar offers the
    schedule, never averages the two, and ?sched=cosine opens the cosine family."""
    from apptest import APP, _ok, _w
    from streamlit.testing.v1 import AppTest

    db = tmp_path / "runs.duckdb"
    cfgs = [RunConfig(w, f, seed=s, lr_schedule=sc) for sc in config.LR_SCHEDULES for w in (0, 1, 2)
            for f in (1 / 256, 1 / 128, 1 / 64) for s in (0, 1)]
    Store(db).add_results([train.RunResult(c, (2.0 if c.lr_schedule == "cosine" else 1.0) * c.flops ** -0.1 * (1 + 0.01 * c.seed),
                                           0.9, 0.5, 0.1, "cpu (2 threads)", "ok") for c in cfgs])
    monkeypatch.setenv("SCALING_DB", str(db))
    monkeypatch.setenv("SCALING_APP_BOOT", "0")
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["sched"] = "cosine"
    at.run()
    _ok(at)
    box = _w(at.selectbox, "Learning-rate schedule")
    assert list(box.options) == ["constant", "cosine to zero"] and box.value == "cosine"
    assert at.query_params["sched"] == "cosine"
    assert "18 runs" in " ".join(c.value for c in at.caption)  # one schedule's runs, not both
    box.set_value("constant").run()
    _ok(at)
    assert "sched" not in at.query_params  # the default leaves the link as it was
