import math

import pytest
import torch
import torch.nn.functional as F

from scaling import data, model, train
from scaling.config import RunConfig, lr_per_layer

TINY = 1 / 256  # 234 examples: 4 steps of 64


def cfg(**kw):
    return RunConfig(**{"width_step": 1, "data_fraction": TINY, **kw})


def test_same_seed_same_result_on_cpu():
    a = train.train_stack([cfg(seed=3, dropout=0.2)])[0]
    b = train.train_stack([cfg(seed=3, dropout=0.2)])[0]
    assert a.val_loss == b.val_loss and a.status == "ok"
    c = train.train_stack([cfg(seed=4, dropout=0.2)])[0]
    assert c.val_loss != a.val_loss


def test_a_stack_gives_each_model_its_solo_result():
    cfgs = [cfg(seed=0), cfg(seed=1, dropout=0.2), cfg(seed=0, lr_mult=2.0), cfg(seed=2, lr_rule="constant")]
    together = train.train_stack(cfgs)
    for c, r in zip(cfgs, together):
        alone = train.train_stack([c])[0]
        assert math.isclose(r.val_loss, alone.val_loss, rel_tol=1e-5), c
        assert math.isclose(r.val_acc, alone.val_acc, abs_tol=1e-4), c


def test_matches_a_plain_module_trained_with_torch_adam():
    """The stacked trainer is the textbook loop: same init, same batches, torch.optim.Adam."""
    c = cfg(seed=5, width_step=2, data_fraction=1 / 128)
    ours = train.train_stack([c])[0]

    ds = data.load("mnist", "cpu")
    net = model.to_module(model.init_stack(c.width, [c.seed]), 0)
    opt = torch.optim.Adam([{"params": [p], "lr": lr_per_layer(c, name)} for name, p in net.named_parameters()])
    order = train._schedule([c], "cpu")[0]
    for i in range(0, len(order), c.batch_size):
        idx = order[i : i + c.batch_size]
        loss = F.cross_entropy(net(ds.x_train[idx].unsqueeze(1)), ds.y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        ref = F.cross_entropy(net(ds.x_test.unsqueeze(1)), ds.y_test).item()
    assert math.isclose(ours.val_loss, ref, rel_tol=1e-4)


def test_training_learns():
    r = train.train_stack([cfg(width_step=3, data_fraction=1 / 32)])[0]
    assert r.val_acc > 0.8 and r.val_loss < 0.7 and r.train_loss < 1.0


def test_divergence_is_a_status_not_a_crash():
    good, bad = train.train_stack([cfg(seed=0), cfg(seed=0, lr_mult=1e30)])
    assert bad.status == "diverged" and "non-finite" in bad.error
    assert good.status == "ok" and math.isfinite(good.val_loss)


def test_validation_curve_is_log_spaced_and_ends_at_the_result():
    c = cfg(data_fraction=1 / 16)  # 3750 examples, 59 steps
    r = train.train_stack([c], curve=True)[0]
    examples = [p[0] for p in r.curve]
    assert examples == sorted(set(examples)) and examples[-1] == c.examples and examples[0] == c.batch_size
    assert 5 <= len(r.curve) <= train.CURVE_POINTS + 1
    assert r.curve[-1][1] == r.val_loss
    assert train.train_stack([c], curve=False)[0].curve == ()


def test_plan_stacks_groups_by_width_and_fraction():
    cfgs = [cfg(width_step=w, data_fraction=f, seed=s) for w in (0, 1) for f in (TINY, 1 / 128) for s in range(5)]
    stacks = train.plan_stacks(cfgs, max_models=3)
    assert sorted(len(s) for s in stacks) == [2, 2, 2, 2, 3, 3, 3, 3]
    assert all(len({c.stack_key for c in s}) == 1 for s in stacks)
    assert stacks[0][0].flops == max(c.flops for c in cfgs)


def test_bad_device_is_refused():
    with pytest.raises(ValueError, match="--device"):
        train.resolve_device("tpu")


@pytest.mark.cuda
def test_cuda_matches_cpu():
    c = cfg(seed=1, dropout=0.2)
    cpu, gpu = train.train_stack([c], "cpu")[0], train.train_stack([c], "cuda")[0]
    assert math.isclose(cpu.val_loss, gpu.val_loss, rel_tol=1e-3)
