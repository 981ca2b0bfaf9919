"""The study axes of a run: label noise, the MLP family, digit subsets and transfer. Each is part of
a run's identity, trains in the stacked trainer, and leaves every run from before it unchanged."""
from __future__ import annotations

import duckdb
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from scaling.cli import main
from scaling.core import arch, config
from scaling.core.config import RunConfig
from scaling.store import Store
from scaling.store.db import MIGRATIONS
from scaling.training import data, model, train
from scaling.workers import jobs

# ---------------------------------------------------------------- label noise


@pytest.mark.parametrize("fraction,noise,classes", [(1 / 4, 0.2, ""), (1 / 128, 0.4, ""), (1 / 2, 0.2, "56789")])
def test_label_noise_is_exact_seeded_and_leaves_the_rest_alone(fraction, noise, classes):
    clean = data._train_labels("mnist")
    noisy = data.noisy_labels(3, fraction, noise, classes)
    idx = data.subset(3, fraction, classes)
    changed = noisy != clean
    assert int(changed.sum()) == int(changed[idx].sum()) == round(noise * len(idx))  # only inside the subset, exactly
    assert set(noisy[idx].tolist()) <= {int(d) for d in classes or "0123456789"}  # another of the run's digits
    assert torch.equal(noisy, data.noisy_labels(3, fraction, noise, classes))  # seeded
    assert not torch.equal(noisy, data.noisy_labels(4, fraction, noise, classes))
    # a seed's 20% are among its 40%: a noise sweep adds wrong labels, it does not draw new ones
    more = data.noisy_labels(3, fraction, min(0.99, 2 * noise), classes)
    assert bool((more[changed] == noisy[changed]).all())


def test_the_test_set_is_never_corrupted_and_noise_costs_loss():
    before = data.load("mnist").y_test.clone()
    cfgs = [RunConfig(0, 1 / 64, seed=0, label_noise=q) for q in (0.0, 0.6)]
    clean, noisy = train.train_stack(cfgs, "cpu")
    assert torch.equal(data.load("mnist").y_test, before)
    assert noisy.val_loss > clean.val_loss and noisy.train_loss > clean.train_loss


# ---------------------------------------------------------------- the MLP family


@pytest.mark.parametrize("step", [-4, 0, 3, 6, 9])
def test_mlp_params_and_flops_match_torch(step):
    c = arch.width(step)
    net = model.MLP(c)
    assert arch.n_params(c, "mlp") == sum(p.numel() for p in net.parameters())
    with FlopCounterMode(display=False) as counter:
        net(torch.zeros(1, 1, 28, 28))
    assert abs(arch.forward_flops(c, "mlp") - counter.get_total_flops()) <= 0.01 * counter.get_total_flops()


def test_stacked_mlp_equals_each_plain_mlp():
    p = model.init_stack(4, seeds=[0, 1, 2], arch="mlp")
    x = torch.randn(3, 5, 28, 28)
    out, shared = model.forward_mlp_stack(p, x), model.forward_mlp_stack(p, x[0])
    for i in range(3):
        plain = model.to_module(p, i, arch="mlp")
        torch.testing.assert_close(out[i], plain(x[i].unsqueeze(1)), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(shared[i], plain(x[0].unsqueeze(1)), rtol=1e-4, atol=1e-5)


def test_an_mlp_stack_trains_with_dropout_and_each_model_as_alone():
    cfgs = [RunConfig(-2, 1 / 256, seed=s, arch="mlp", dropout=d) for s in (0, 1) for d in (0.0, 0.2)]
    together = train.train_stack(cfgs, "cpu")
    alone = train.train_stack([cfgs[3]], "cpu")[0]
    assert all(r.status == "ok" and r.val_loss < 2.3 for r in together)
    assert alone.val_loss == pytest.approx(together[3].val_loss, rel=1e-3)


# ---------------------------------------------------------------- digits and transfer


def test_a_digit_subset_trains_and_is_scored_on_those_digits_only():
    cfg = RunConfig(0, 1 / 8, classes="01234")
    assert cfg.examples == int(datasets_size("01234") / 8)
    r = train.train_stack([cfg], "cpu")[0]
    assert r.val_acc > 0.9 and r.weights is not None  # a pre-training candidate keeps its weights
    assert len(data.restricted(data.load("mnist"), "01234").y_test) == int(sum((data.load("mnist").y_test == d).sum()
                                                                              for d in range(5)))


def datasets_size(classes):
    from scaling import datasets

    return datasets.class_size("mnist", classes)


def test_a_fine_tuning_run_reuses_the_cached_pretrained_weights(db, monkeypatch):
    store = Store(db)
    tuned = [RunConfig(0, f, seed=0, classes="56789", pretrain_classes="01234", pretrain_fraction=1 / 16)
             for f in (1 / 64, 1 / 32)]
    pre = tuned[0].pretraining
    assert pre == tuned[1].pretraining and pre.classes == "01234" and pre.data_fraction == 1 / 16
    store.enqueue(tuned)
    trained = []
    real = train.train_stack
    monkeypatch.setattr(train, "train_stack", lambda cfgs, *a, **k: trained.append([c.run_id for c in cfgs]) or
                        real(cfgs, *a, **k))
    assert jobs.work(store, "cpu").trained == 3
    assert trained[0] == [pre.run_id]  # queued first, trained once
    assert store.cached_ids([pre.run_id, *(c.run_id for c in tuned)]) == {pre.run_id, *(c.run_id for c in tuned)}
    assert set(store.weights([pre.run_id])) == {pre.run_id}
    # a new fine-tuning run of the same pre-training starts from the stored weights: nothing trains it again
    more = RunConfig(0, 1 / 16, seed=0, classes="56789", pretrain_classes="01234", pretrain_fraction=1 / 16)
    store.enqueue([more])
    trained.clear()
    jobs.work(store, "cpu")
    assert trained == [[more.run_id]]
    scratch = train.train_stack([RunConfig(0, 1 / 64, seed=0, classes="56789")], "cpu")[0]
    fine = store.runs().set_index("run_id").loc[tuned[0].run_id]
    assert fine.val_loss < scratch.val_loss  # pre-training on 0-4 helps 5-9 at 1/64 of the data
    assert fine.flops == tuned[0].flops < pre.flops  # its own compute only


def test_a_fine_tuning_run_without_its_weights_fails_with_the_reason():
    cfg = RunConfig(0, 1 / 64, classes="56789", pretrain_classes="01234")
    with pytest.raises(ValueError, match="pre-trained weights"):
        train.train_stack([cfg], "cpu")


# ---------------------------------------------------------------- identity and old databases


def test_every_axis_at_its_default_keeps_the_old_identity():
    assert RunConfig(3, 0.25, seed=2, dropout=0.2).run_id == "7eeaa6cccb1086de94c47dee"  # as before the axes
    ids = {RunConfig(3, 0.25, **kw).run_id for kw in ({}, {"label_noise": 0.2}, {"arch": "mlp"}, {"classes": "56789"},
                                                       {"classes": "56789", "pretrain_classes": "01234"})}
    assert len(ids) == 5


def test_a_database_from_before_the_axes_reads_unchanged(tmp_path):
    path = tmp_path / "v4.duckdb"
    cfg = RunConfig(1, 1 / 64, seed=1, dropout=0.2)
    with duckdb.connect(str(path)) as con:
        for m in MIGRATIONS[:4]:
            con.execute(m)
        con.execute("INSERT INTO meta VALUES ('schema_version', '4')")
        con.execute("INSERT INTO runs (run_id, protocol, dataset, width_step, width, dropout, data_fraction, seed, "
                    "lr_rule, lr_mult, epochs, batch_size, params, examples, flops, val_loss, status, created_at) "
                    "VALUES (?, ?, 'mnist', 1, ?, 0.2, ?, 1, 'fan_in', 1.0, 1, 64, ?, ?, ?, 0.5, 'ok', now())",
                    [cfg.run_id, config.PROTOCOL, cfg.width, 1 / 64, cfg.params, cfg.examples, cfg.flops])
    row = Store(path).runs().iloc[0]
    assert row.run_id == cfg.run_id and row.val_loss == 0.5
    assert {k: row[k] for k in config.STUDY_DEFAULTS} == config.STUDY_DEFAULTS
    assert RunConfig.from_dict({k: row[k].item() if hasattr(row[k], "item") else row[k]
                                for k in RunConfig.__dataclass_fields__}).run_id == cfg.run_id


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("flags,field", [
    (["--label-noise", "1"], "--label-noise"), (["--label-noise", "-0.1"], "--label-noise"),
    (["--arch", "rnn"], "--arch"), (["--classes", "5x"], "--classes"),
    (["--classes", "56789", "--pretrain-classes", "34567"], "pretrain_classes"),
    (["--pretrain-fraction", "1/2"], "--pretrain-fraction"),
])
def test_bad_study_input_is_one_line_naming_the_field(flags, field, db, capsys):
    assert main(["sweep", *flags, "--dry-run", "--db", str(db), "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and field in err[0], err
