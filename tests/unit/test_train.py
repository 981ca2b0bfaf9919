import math
import statistics

import pytest
import torch
import torch.nn.functional as F

from scaling.core.config import RunConfig, lr_per_layer
from scaling.training import data, devices, model, train

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
    order, weight = train._schedule([c], c.batch_size, "cpu")
    order = order[0][weight[0] > 0]
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
    # the two halves of the test set (even and odd images, 5,000 each) average to the full loss
    even, odd = r.val_loss_halves
    assert math.isclose((even + odd) / 2, r.val_loss, rel_tol=1e-5) and even != odd


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


def test_plan_stacks_groups_by_width_longest_first():
    cfgs = [cfg(width_step=w, data_fraction=f, seed=s) for w in (0, 1) for f in (TINY, 1 / 128) for s in range(5)]
    stacks = train.plan_stacks(cfgs, max_models=3)
    assert sorted(len(s) for s in stacks) == [1, 1, 3, 3, 3, 3, 3, 3]
    assert all(len({c.stack_key for c in s}) == 1 for s in stacks)
    assert all([c.examples for c in s] == sorted((c.examples for c in s), reverse=True) for s in stacks)
    assert stacks[0][0].width_step == 1 and stacks[0][0].data_fraction == 1 / 128


def test_runs_of_different_lengths_in_one_stack_get_their_solo_results():
    """A stack mixes data fractions: each model trains for its own number of steps (its last
    batch partial), is frozen after, and gets what it gets when trained alone."""
    cfgs = [cfg(data_fraction=TINY, seed=1, dropout=0.2), cfg(data_fraction=1 / 128, seed=0),
            cfg(data_fraction=1 / 100, seed=2), cfg(data_fraction=TINY, seed=0)]  # 4, 8, 10, 4 steps
    together = train.train_stack(cfgs, curve=True)
    assert [r.config for r in together] == cfgs
    for c, r in zip(cfgs, together):
        alone = train.train_stack([c], curve=True)[0]
        assert r.status == alone.status == "ok"
        assert math.isclose(r.val_loss, alone.val_loss, rel_tol=1e-4), c
        assert math.isclose(r.train_loss, alone.train_loss, rel_tol=1e-4), c
        assert [p[0] for p in r.curve] == [p[0] for p in alone.curve] and r.curve[-1][0] == c.examples
    assert together[0].wall_s < together[1].wall_s  # the stack's time is shared by compute


def test_bad_device_is_refused():
    with pytest.raises(ValueError, match="--device"):
        devices.resolve_device("tpu")


def _exact_fp32_on_cuda(monkeypatch):
    """fp32 all through on CUDA: no bf16 autocast, no TF32 convolutions (cuDNN's default)."""
    monkeypatch.setitem(devices.BF16, "cuda", False)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)


@pytest.mark.cuda
def test_cuda_matches_cpu(monkeypatch):
    _exact_fp32_on_cuda(monkeypatch)
    c = cfg(seed=1, dropout=0.2)
    cpu, gpu = train.train_stack([c], "cpu")[0], train.train_stack([c], "cuda")[0]
    assert math.isclose(cpu.val_loss, gpu.val_loss, rel_tol=1e-3)


def test_a_stack_split_to_fit_memory_gives_the_same_results(monkeypatch):
    cfgs = [cfg(seed=s, dropout=d) for s in (0, 1) for d in (0.0, 0.2)]
    whole = train.train_stack(cfgs)
    monkeypatch.setattr(train, "max_fit", lambda *a: 3)  # as if the device held 3 models of this width
    parts = train.train_stack(cfgs)
    assert [r.config for r in parts] == cfgs
    for a, b in zip(whole, parts):
        assert math.isclose(a.val_loss, b.val_loss, rel_tol=1e-5)


def test_max_fit_is_unbounded_on_cpu():
    assert train.max_fit(model.width(12), 64, "cpu") >= 1 << 20


def _agree(a, b):
    """Two precisions agree if their seed means differ by less than half the seed-to-seed spread.
    One run is chaotic: a 1e-7 relative nudge of its init moves val loss by ~7% after 60 steps
    (width 23), so bf16 cannot match fp32 run by run. Measured on the CPU's bf16 kernels, 6 seeds:
    bf16/fp32 - 1 per seed = +3.7% +- 5.6 (width 11, 1/64), +4.7% +- 11.7 (11, 1/16), -8.6% +- 6.3
    (23, 1/16), against a seed-to-seed spread of 16%, 22% and 13% of the mean."""
    va, vb = [r.val_loss for r in a], [r.val_loss for r in b]
    assert all(r.status == "ok" for r in a + b)
    assert abs(statistics.mean(va) - statistics.mean(vb)) < 0.5 * statistics.stdev(va), (va, vb)
    assert all(0.75 < y / x < 1.33 for x, y in zip(va, vb)), (va, vb)


def test_bf16_autocast_agrees_with_fp32(monkeypatch):
    """bf16 autocast (the CUDA default), checked on the CPU's bf16 kernels where no GPU is at hand."""
    cfgs = [cfg(width_step=3, data_fraction=1 / 64, seed=s) for s in range(4)]
    fp32 = train.train_stack(cfgs)
    monkeypatch.setitem(devices.BF16, "cpu", True)
    _agree(fp32, train.train_stack(cfgs))


@pytest.mark.cuda
def test_cuda_stack_gives_each_model_its_solo_result(monkeypatch):
    _exact_fp32_on_cuda(monkeypatch)
    cfgs = [cfg(seed=0), cfg(seed=1, dropout=0.2), cfg(seed=0, lr_mult=2.0), cfg(seed=2, lr_rule="constant")]
    together = train.train_stack(cfgs, "cuda")
    for c, r in zip(cfgs, together):
        alone = train.train_stack([c], "cuda")[0]
        assert math.isclose(r.val_loss, alone.val_loss, rel_tol=1e-3), c


@pytest.mark.cuda
def test_cuda_seeds_reproduce():
    a, b = (train.train_stack([cfg(seed=3, dropout=0.2)], "cuda")[0] for _ in range(2))
    assert math.isclose(a.val_loss, b.val_loss, rel_tol=1e-3) and a.status == "ok"  # cuDNN may use atomics


@pytest.mark.cuda
def test_cuda_bf16_agrees_with_fp32_and_with_cpu(monkeypatch):
    cfgs = [cfg(width_step=3, data_fraction=1 / 64, seed=s) for s in range(4)]
    bf16 = train.train_stack(cfgs, "cuda", curve=True)
    monkeypatch.setitem(devices.BF16, "cuda", False)
    fp32 = train.train_stack(cfgs, "cuda")
    cpu = train.train_stack(cfgs, "cpu")
    assert all(len(r.curve) >= 5 for r in bf16)
    _agree(fp32, bf16)
    _agree(cpu, fp32)


@pytest.mark.cuda
def test_cuda_stack_is_split_to_fit_free_memory(monkeypatch):
    n = train.max_fit(model.width(12), 64, "cuda")
    assert 1 <= n and n * train.TRAIN_BYTES * model.width(12) * 64 <= torch.cuda.mem_get_info()[0]
    cfgs = [cfg(seed=s) for s in range(3)]
    whole = train.train_stack(cfgs, "cuda")
    monkeypatch.setattr(train, "MEMORY_SHARE", 1e-9)  # as if one model at a time fitted
    assert train.max_fit(cfgs[0].width, 64, "cuda") == 1
    parts = train.train_stack(cfgs, "cuda")
    assert [r.config for r in parts] == cfgs and all(r.status == "ok" for r in parts)
    for a, b in zip(whole, parts):
        assert math.isclose(a.val_loss, b.val_loss, rel_tol=1e-2)


@pytest.mark.cuda
def test_cuda_graph_replays_the_eager_step(monkeypatch):
    """The captured step is the eager step: same kernels, same numbers, curve points included."""
    _exact_fp32_on_cuda(monkeypatch)
    cfgs = [cfg(data_fraction=1 / 32, seed=s, dropout=d) for s in (0, 1) for d in (0.0, 0.2)]  # 29 steps, last partial
    assert cfgs[0].examples // cfgs[0].batch_size >= train.GRAPH_MIN_STEPS
    graphed = train.train_stack(cfgs, "cuda", curve=True)
    monkeypatch.setattr(train, "GRAPHS", False)
    eager = train.train_stack(cfgs, "cuda", curve=True)
    for a, b in zip(graphed, eager):
        assert a.status == b.status == "ok"
        assert math.isclose(a.val_loss, b.val_loss, rel_tol=1e-4) and math.isclose(a.train_loss, b.train_loss, rel_tol=1e-4)
        assert [p[0] for p in a.curve] == [p[0] for p in b.curve]
        assert all(math.isclose(x[1], y[1], rel_tol=1e-4) for x, y in zip(a.curve, b.curve))
