"""The planner: its batches, its simulation and its choice on a known law; `scaling plan`; predictions
written down when a plan is queued and scored as its runs land."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from scaling import charts, fit, services
from scaling.core import arch
from scaling.core.config import PROTOCOL, RunConfig
from scaling.fit.planner import Target, parse_target, plan
from scaling.fit.planner.fisher import sd_ratios
from scaling.fit.planner.moves import moves
from scaling.store import Store
from scaling.training import train

H100 = dict(E=0.0303, A=10.25, B=195.5, alpha=0.556, beta=0.843)


def _law_runs(cfgs, rng, noise=0.2):
    rows = []
    for c in cfgs:
        L = (H100["E"] + H100["A"] * c.params ** -H100["alpha"] + H100["B"] * c.examples ** -H100["beta"]) \
            * math.exp(noise * rng.standard_normal())
        rows.append({**c.to_dict(), "run_id": c.run_id, "width": c.width, "params": c.params, "examples": c.examples,
                     "flops": c.flops, "val_loss": L, "status": "ok", "protocol": PROTOCOL, "precision": "fp32"})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def small_law():
    cfgs = [RunConfig(width_step=w, data_fraction=2.0 ** -k, seed=s) for w in arch.width_steps(-2, 3)
            for k in range(3, 7) for s in range(3)]
    runs = _law_runs(cfgs, np.random.default_rng(0))
    return runs, fit.analyze(runs, None, n_boot=20)


def test_budget_and_target_are_read_or_refused_in_a_line():
    assert services.planner.parse_budget("2e13") == (2e13, "FLOP")
    assert services.planner.parse_budget("10m") == (600.0, "s")
    assert services.planner.parse_budget("1.5h") == (5400.0, "s")
    for bad in ("", "-1", "ten", "10x", "0", "nan"):
        with pytest.raises(ValueError, match="budget"):
            services.planner.parse_budget(bad)
    assert parse_target("loss@1e14") == Target("loss", 1e14)
    assert parse_target("alpha_C").name == "alpha_C"
    for bad in ("gamma", "loss@", "loss@-3"):
        with pytest.raises(ValueError, match="target"):
            parse_target(bad)


def test_the_batches_extend_the_grid_and_add_seeds_never_repeat_a_run():
    design = {(w, f, s, 1.0) for w in (0, 1, 2) for f in (1 / 64, 1 / 32) for s in (0, 1)}
    ms = moves(design, 1.0, worst_width=1, worst_fraction=1 / 64)
    assert all(not set(m.runs) & design for m in ms)
    assert {m.kind for m in ms} == {"bracket", "residual", "seeds", "frontier"} - {"frontier"}
    widths = {r[0] for m in ms if m.kind == "bracket" for r in m.runs}
    assert {-1, -2, 3, 4} <= widths  # two steps beyond each side
    fracs = {r[1] for m in ms if m.kind == "bracket" for r in m.runs}
    assert {1 / 128, 1 / 256, 1 / 16, 1 / 8} <= fracs
    assert any(m.kind == "residual" and "width 6" in m.why for m in ms)  # step 1 is width 6
    triple = moves(design, 1.0, repeat=3)
    assert any(len({r[2] for r in m.runs}) == 3 and m.why.startswith("3 more seeds") for m in triple)


def test_more_runs_never_widen_a_parametric_exponent(small_law):
    _, an = small_law
    N, D = an.aggregate.points["params"].to_numpy(float), an.aggregate.points["examples"].to_numpy(float)
    r = sd_ratios([an.parametric], "a", (N, D), [(N[:0], D[:0]), (N, D), (N * 4, D * 4)], 0.2)
    assert r[0] == pytest.approx(1.0)
    assert r[1] == pytest.approx(1 / math.sqrt(2), rel=1e-6)  # the same runs again: half the variance
    assert r[2] < 1


def test_a_plan_spends_within_its_budget_and_expects_a_narrower_interval(small_law):
    runs, an = small_law
    budget = 0.5 * float(runs["flops"].sum())
    p = plan(an, runs, budget=budget, seed=1)
    assert p.configs and p.spent == pytest.approx(p.flops) and p.flops <= budget
    assert "parametric" in p.estimator or "form-free" in p.estimator
    assert p.expected[2] - p.expected[1] < p.now[2] - p.now[1]
    assert p.steps[0].kind in ("bracket", "residual")  # the form is tested first
    have = set(runs["run_id"])
    assert not {c.run_id for c in p.configs} & have and len({c.run_id for c in p.configs}) == len(p.configs)
    pr = p.predictions
    assert len(pr) == len(p.configs) and (pr["lo"] < pr["loss"]).all() and (pr["loss"] < pr["hi"]).all()
    j = services.planner.plan_json(p)
    assert {"runs", "interval_now", "interval_expected"} <= set(j) and all("flops" in r for r in j["runs"])
    json.dumps(j, allow_nan=False)
    # the same plan for the other targets: a narrower interval of what was asked
    for tgt, n_sim in (("alpha_C", 4), ("beta", 4)):
        q = plan(an, runs, budget=budget, target=parse_target(tgt), seed=1, n_sim=n_sim, max_steps=3)
        assert q.flops <= budget and q.expected[2] - q.expected[1] <= q.now[2] - q.now[1]
    h = plan(an, runs, budget=budget, seed=1, n_sim=4, max_steps=2, hedge=True)  # weighs the form-free pair too
    assert h.configs and h.flops <= budget and h.estimator == p.estimator
    # the chance that the plan's runs show a misfit: stated where the form-free pair could take over
    assert math.isnan(p.p_misfit) or 0 <= p.p_misfit <= 1
    assert ("chance that these runs show the form misfit" in services.planner.describe(p)) == math.isfinite(p.p_misfit)


def test_a_plan_without_a_measured_noise_says_why(small_law):
    runs, _ = small_law
    one = runs[runs["seed"] == 0]
    with pytest.raises(ValueError, match="seed"):
        plan(fit.analyze(one, None, n_boot=0), one, budget=1e12)


def test_predictions_are_written_down_then_scored_as_runs_land(tmp_path, small_law):
    store = Store(tmp_path / "runs.duckdb")
    cfgs = [RunConfig(width_step=0, data_fraction=1 / 512, seed=s) for s in range(3)]
    store.record_predictions([dict(plan_id="p1", run_id=c.run_id, quantity="val_loss", estimate=0.5, lo=0.4, hi=0.6,
                                   level=0.95) for c in cfgs]
                             + [dict(plan_id="p1", run_id="", quantity="a", estimate=0.6, lo=0.5, hi=0.7, level=0.95,
                                     now_lo=0.4, now_hi=0.8)])
    sc = services.planner.scores(store)
    assert (sc.n, sc.landed) == (3, 0) and "none of their runs has landed" in sc.describe()
    store.add_results([train.RunResult(cfgs[0], 0.55, 0.9, 0.5, 0.1, "cpu", "ok"),
                       train.RunResult(cfgs[1], 0.8, 0.8, 0.7, 0.1, "cpu", "ok")])
    sc = services.planner.scores(store)
    assert (sc.n, sc.landed) == (3, 2) and sc.coverage == 0.5
    row = sc.table.set_index("run_id").loc[cfgs[1].run_id]
    assert not row["inside"] and row["log_error"] == pytest.approx(math.log(0.8 / 0.5))
    assert sc.running["coverage"].tolist() in ([1.0, 0.5], [0.0, 0.5])
    assert sc.targets.iloc[0][["now_lo", "now_hi", "lo", "hi"]].tolist() == [0.4, 0.8, 0.5, 0.7]
    assert "2 of 3 predicted runs have landed: 50% inside" in sc.describe()
    charts.predicted_vs_observed(sc.table).validate()  # what Fit lab draws: valid Vega-Lite


def test_scaling_plan_refuses_a_bad_budget_in_one_line(capsys, db):
    from scaling.cli import main

    assert main(["plan", "--budget", "10x"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("scaling plan: error: budget '10x'") and "\n" not in err
    assert main(["plan", "--budget", "1e12", "--sims", "2"]) == 2
    assert "--sims 2: at least 3" in capsys.readouterr().err
    assert not db.exists()  # refused before any file is opened


@pytest.mark.slow
def test_scaling_plan_on_the_shipped_grid_proposes_runs_within_the_budget(capsys, tmp_path):
    from scaling.cli import main

    path = str(tmp_path / "runs.duckdb")
    from scaling.store.exchange import SHIPPED

    assert main(["import", str(SHIPPED), "--db", path]) == 0
    capsys.readouterr()
    assert main(["plan", "--budget", "2e13", "--dropout", "0", "--json", "--db", path]) == 0
    out = json.loads(capsys.readouterr().out)
    have = set(Store(path).runs()["run_id"])
    assert out["runs"] and sum(r["flops"] for r in out["runs"]) <= 2e13
    assert not {r["run_id"] for r in out["runs"]} & have
    assert out["interval_expected"]["width"] < out["interval_now"]["width"]
    assert "verdict" in out["estimator"]


def _keys(runs):
    return {(int(r.width_step), float(r.data_fraction), int(r.seed), float(r.lr_mult)) for r in runs.itertuples()}


def test_more_seeds_make_a_misfit_the_verdict_cannot_see_yet_likely_to_show():
    from scaling.fit.planner.misfit import MisfitOdds

    cfgs = [RunConfig(width_step=w, data_fraction=2.0 ** -k, seed=s) for w in arch.width_steps(-2, 3)
            for k in range(3, 7) for s in range(3)]
    runs = _law_runs(cfgs, np.random.default_rng(3), noise=0.1)
    # 10% off the form, one sign on even widths at large fractions and odd widths at small ones
    sign = np.where(runs["width_step"] % 2 == 0, 1, -1) * np.where(runs["data_fraction"] > 0.05, 1, -1)
    bent = runs.assign(val_loss=runs["val_loss"] * np.exp(0.1 * sign))
    more = {(w, f, s + 3, m) for (w, f, s, m) in _keys(runs) for s in (s, s + 1, s + 2, s + 3) if s < 3}
    odds = {}
    for name, r in (("right", runs), ("bent", bent)):
        an = fit.analyze(r, None, n_boot=0)
        o = MisfitOdds(an)
        assert not fit.verdict(an).misfit and o(_keys(r)) == 0.0  # the verdict sees no misfit now
        odds[name] = o(_keys(r) | more)
    assert odds["right"] < 0.05 and odds["bent"] > 0.5  # four more seeds of each: likely to show it


def test_a_run_the_form_expects_above_chance_is_expected_at_chance(small_law):
    from scaling.fit.planner.world import world

    runs, an = small_law
    w = world(an, runs, n_surfaces=2)
    c = RunConfig(width_step=-2, data_fraction=1 / 64, seed=9)
    free = w.predict([c.width_step], [c.data_fraction], [c.params], [c.examples]).iloc[0]
    capped = w.predict([c.width_step], [c.data_fraction], [c.params], [c.examples], chance=free["loss"] / 2).iloc[0]
    assert capped["loss"] == pytest.approx(free["loss"] / 2)  # chance, not the form
    assert capped["lo"] == pytest.approx(free["lo"] / 2) and capped["hi"] == pytest.approx(free["hi"])  # either
    same = w.predict([c.width_step], [c.data_fraction], [c.params], [c.examples], chance=free["loss"] * 2).iloc[0]
    assert same["loss"] == pytest.approx(free["loss"]) and same["hi"] == pytest.approx(free["hi"])
