"""Run families never mix: protocol versions, precisions and epoch counts each fit on their own."""
from __future__ import annotations

import json

import duckdb
import pytest

from scaling import services
from scaling.cli import main
from scaling.core import config, grid
from scaling.store import Store
from scaling.store.db import MIGRATIONS
from scaling.training import train


def law_results(configs, precision="fp32", scale=1.0):
    """Made-up results that follow a known law (no training: the writes are real)."""
    out = []
    for c in configs:
        loss = scale * (0.05 + 8.0 * c.params ** -0.35 + 30.0 * c.examples ** -0.35) * (1 + 0.01 * c.seed)
        dev = ("cpu (2 threads)", "cpu") if precision == "fp32" else ("NVIDIA H100 80GB HBM3", "cuda")
        out.append(train.RunResult(c, loss, 0.9, loss, 0.1, dev[0], "ok", device_type=dev[1], precision=precision))
    return out


def grid_of(epochs=1, seeds=(0, 1)):
    return grid.expand(list(range(4)), [1 / 256, 1 / 128, 1 / 64, 1 / 32], list(seeds), [0.0], epochs=epochs)


@pytest.fixture
def mixed(db):
    """fp32 runs (1 epoch), bf16 runs of other seeds, 2-epoch runs, and runs of an older protocol."""
    store = Store(db)
    store.add_results(law_results(grid_of()))
    store.add_results(law_results(grid_of(seeds=(2, 3)), precision="bf16", scale=1.1))
    store.add_results(law_results(grid_of(epochs=2), scale=0.8))
    old = grid_of(seeds=(4,))
    store.add_results(law_results(old, scale=3.0))  # a different answer: averaging it in would show
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE runs SET protocol = protocol - 1 WHERE list_contains(?, run_id)", [[c.run_id for c in old]])
    return store


def test_no_selection_mixes_families_and_each_can_be_chosen(mixed):
    runs = mixed.runs(status=None)
    assert services.n_stale(runs) == 16
    sel = services.Selection()
    picked = services.select(runs, sel)
    assert len(picked) == 32 and set(picked.precision) == {"fp32"} and set(picked.epochs) == {1}
    assert (picked.protocol == config.PROTOCOL).all()
    opts = services.options(runs)
    assert opts.precisions == ("bf16", "fp32") and opts.epochs == (1, 2)
    for family, n in [(dict(precision="bf16"), 32), (dict(epochs=2), 32)]:
        sub = services.select(runs, services.Selection(**family))
        assert len(sub) == n and all((sub[k] == v).all() for k, v in family.items())
        an = services.analysis(runs, None, services.Selection(**family))
        assert an.n_runs == n and an.loss_vs_compute is not None
    # a link to a family that is not cached falls back to one that is, with a note
    sel, notes = services.fit_to_options(services.Selection(batch_size=128), opts)
    assert sel.batch_size == 64 and any("batch size 128" in n for n in notes)
    # the family is part of the URL only where it is not the default
    assert "prec" not in services.Selection().to_params() and services.Selection(precision="bf16").to_params()["prec"] == "bf16"
    linked = services.Selection(precision="bf16", epochs=2, fractions=(1 / 256, 1 / 32))
    back, notes = services.parse_params(linked.to_params(), services.Selection())
    assert (back.precision, back.epochs, notes) == ("bf16", 2, [])


def test_scaling_fit_fits_one_family_and_says_which(mixed, capsys):
    assert main(["fit", "--bootstrap", "0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["family"] == dict(dataset="mnist", dropout=0.0, lr_rule="fan_in", epochs=1, batch_size=64,
                                 precision="fp32", **config.STUDY_DEFAULTS)
    assert out["n_runs"] == 32
    for flags, n in [(["--precision", "bf16"], 32), (["--epochs", "2"], 32)]:
        assert main(["fit", "--bootstrap", "0", "--json", *flags]) == 0
        assert json.loads(capsys.readouterr().out)["n_runs"] == n
    assert main(["fit", "--bootstrap", "0"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("family: mnist · dropout 0 · lr fan_in · 1 epoch · batch 64 · fp32")
    assert "2 other families cached" in text
    assert main(["fit", "--batch-size", "128"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--batch-size 128: no cached runs with it here (cached: 64)" in err and len(err.splitlines()) == 1


def test_a_new_protocol_makes_every_run_stale_and_retrains_nothing_by_mistake(mixed, capsys, monkeypatch):
    runs = mixed.runs(status=None)
    monkeypatch.setattr(config, "PROTOCOL", config.PROTOCOL + 1)
    assert services.n_stale(runs) == len(runs) and services.select(runs, services.Selection()).empty
    assert services.options(runs).empty
    with pytest.raises(services.SelectionError):
        services.analysis(runs, None, services.Selection())
    assert main(["fit"]) == 2
    assert f"({len(runs)} stale runs of an older one are never fitted)" in capsys.readouterr().err
    assert main(["runs"]) == 0
    assert f"{len(runs)} stale runs of an older protocol" in capsys.readouterr().out
    # their configurations, queued again, are new runs under the new protocol: none counts as cached
    again = services.stale_configs(runs)
    assert len(again) == len(runs) and not mixed.cached_ids([c.run_id for c in again])
    _, n_cached, n_new = mixed.enqueue(again)
    assert (n_cached, n_new) == (0, len(runs))


def test_a_version_1_database_learns_each_runs_precision(tmp_path):
    path = tmp_path / "v1.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(MIGRATIONS[0])
        con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
        for i, device in enumerate(["cpu (2 threads)", "NVIDIA H100 80GB HBM3"]):
            con.execute("INSERT INTO runs VALUES (?, 2, 'mnist', 0, 4, 0, 0.5, 0, 'fan_in', 1, 1, 64, 1, 1, 1, "
                        "0.5, 0.9, 0.5, 1, ?, 'ok', '', now())", [f"r{i}", device])
    runs = Store(path).runs(status=None).set_index("run_id")
    assert runs.loc["r0", ["device_type", "precision"]].tolist() == ["cpu", "fp32"]
    assert runs.loc["r1", ["device_type", "precision"]].tolist() == ["cuda", "bf16"]


def test_a_grid_that_misses_a_small_optimum_is_told_which_widths_bracket_it():
    """A hidden law whose optimum lies below width 4 at low budgets: widths 4..23 alone leave the
    envelope and IsoFLOP estimators without an answer; the widths the bracket names fix that."""
    from scaling.core import arch
    from scaling.fit import analyze, synthetic_sweep

    truth = dict(E=0.05, A=3.0, B=5.0, alpha=0.4, beta=0.3)  # N_opt ~ C^(0.3/0.7)
    fractions = tuple(2.0 ** -k for k in range(10))
    every, _ = synthetic_sweep(width_steps=arch.width_steps(-4, 5), fractions=fractions, truth=truth, seed=1)
    small = every[(every.width_step >= 0) & (every.data_fraction >= 1 / 128)]
    an = analyze(small, None, n_boot=0)
    assert not an.nopt["envelope"].ok and not an.nopt["isoflop"].ok
    sel = services.Selection(batch_size=128)  # the synthetic sweeps' batch size
    b = services.bracket(small, sel, an.nopt)
    assert b.widths == (-2, -1) and "smallest width (4) is best" in b.why[0]
    assert b.fractions == (1 / 512, 1 / 256) and len(b.configs) == len({c.run_id for c in b.configs})
    added = {(c.width_step, c.data_fraction, c.seed) for c in b.configs}
    key = list(zip(every.width_step, every.data_fraction, every.seed))
    grown = every[[k in added for k in key] | every.index.isin(small.index)]
    assert len(grown) == len(small) + len(b.configs)
    after = analyze(grown, None, n_boot=0)
    for m in ("envelope", "isoflop", "parametric"):  # the envelope without curves is the coarsest of the three
        assert after.nopt[m].ok and after.nopt[m].a == pytest.approx(0.3 / 0.7, abs=0.1), m


def test_scaling_fit_names_the_bracketing_runs_and_sweep_bracket_plans_them(db, capsys):
    store = Store(db)
    cfgs = grid.expand(list(range(0, 5)), [2.0 ** -k for k in range(1, 8)], [0, 1], [0.0])
    res = []
    for c in cfgs:  # an optimum below width 4 at every budget: the smallest width always wins
        loss = 0.05 + 0.5 * c.params ** -0.2 + 30.0 * c.examples ** -0.35 + 1e-6 * c.params
        res.append(train.RunResult(c, loss, 0.9, loss, 0.01 * c.flops / 1e9, "cpu (2 threads)", "ok"))
    store.add_results(res)
    assert main(["fit", "--bootstrap", "0"]) == 0
    out = capsys.readouterr().out
    assert "edge of the grid: at" in out and "the smallest width (4) is best" in out
    assert "to bracket the optimum: widths 2, 3 (steps -2, -1)" in out and "scaling sweep --bracket" in out
    assert main(["sweep", "--bracket", "--dropout", "0", "--device", "cpu", "--dry-run"]) == 0
    cap = capsys.readouterr()
    # 5 + 2 widths x 7 + 3 fractions, less the 5 x 7 cached, x 2 seeds
    assert "adding widths 2, 3 (steps -2, -1) and fractions 1/512, 1/256, 1: 70 runs" in cap.err
    assert "plan: 70 runs, 0 cached, 70 to train" in cap.out


def test_scaling_fit_backtest_prints_its_errors_or_one_line_why_not(db, capsys):
    store = Store(db)
    store.add_results(law_results(grid.expand(list(range(5)), [2.0 ** -k for k in range(1, 9)], [0, 1], [0.0])))
    assert main(["fit", "--bootstrap", "0", "--backtest"]) == 0
    out = capsys.readouterr().out
    assert "backtest: fitted on compute <=" in out and "top 2 octaves" in out
    bt = out[out.index("backtest: fitted"):].splitlines()[1:]
    # the three law forms predict the frontier loss; each N_opt estimator gives its error or why not
    assert sum("frontier law" in ln or "parametric L(N, D)  " in ln[:32] for ln in bt) >= 3
    assert sum(ln.strip().startswith("N_opt by") for ln in bt) == 3
    assert all("RMS log error" in ln or "cannot predict:" in ln for ln in bt)
    assert main(["fit", "--bootstrap", "0", "--backtest", "12"]) == 2
    err = capsys.readouterr().err.strip()
    assert "holding out the top 12 octaves of compute leaves" in err and len(err.splitlines()) == 1
