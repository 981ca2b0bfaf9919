import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from scaling.training import model


@pytest.mark.parametrize("step", [-4, -2, -1, 0, 2, 4, 7, 9])
def test_analytic_flops_and_params_match_torch(step):
    c = model.width(step)
    net = model.CNN(c)
    assert model.n_params(c) == sum(p.numel() for p in net.parameters())
    with FlopCounterMode(display=False) as counter:
        net(torch.zeros(1, 1, 28, 28))
    assert abs(model.forward_flops(c) - counter.get_total_flops()) <= 0.01 * counter.get_total_flops()


def test_steps_below_zero_are_widths_1_2_3_each_once():
    from scaling.core import arch

    assert [arch.width(k) for k in range(-4, 1)] == [1, 1, 2, 3, 4]
    assert arch.width_steps(-4, 1) == [-4, -2, -1, 0, 1] and arch.same_width_as(-3) == -4


def test_compute_doubles_per_width_step():
    widths = [model.width(k) for k in range(model.MAX_WIDTH_STEP + 1)]
    assert widths[:8] == [4, 6, 8, 11, 16, 23, 32, 45] and widths == sorted(set(widths))
    upper = range(model.MAX_WIDTH_STEP // 2, model.MAX_WIDTH_STEP)
    for k in list(upper) + [4, 5, 6]:  # the upper half of both the full and the default (0:8) range
        ratio = model.forward_flops(model.width(k + 1)) / model.forward_flops(model.width(k))
        assert 1.6 <= ratio <= 2.4, (k, ratio)


def test_stacked_forward_equals_each_plain_model():
    p = model.init_stack(6, seeds=[0, 1, 2])
    x = torch.randn(3, 5, 28, 28)
    out = model.forward_stack(p, x)
    shared = model.forward_stack(p, x[0])
    for i in range(3):
        ref = model.to_module(p, i)(x[i].unsqueeze(1))
        torch.testing.assert_close(out[i], ref, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(shared[i], model.to_module(p, i)(x[0].unsqueeze(1)), rtol=1e-4, atol=1e-5)


def test_init_depends_on_the_seed_alone():
    a = model.init_stack(8, seeds=[5, 6])
    b = model.init_stack(8, seeds=[6])
    for name in a:
        assert torch.equal(a[name][1], b[name][0])
        assert not torch.equal(a[name][0], a[name][1])
        bound = 1 / model.fan_in(name, 8) ** 0.5
        assert a[name].abs().max() <= bound


def test_dropout_masks_are_per_model_and_uniform():
    keys = torch.tensor([0, 1, 0])
    u = model.dropout_uniform(keys, step=3, layer=0, shape=(64, 100))
    assert torch.equal(u[0], u[2]) and not torch.equal(u[0], u[1])
    assert not torch.equal(u[0], model.dropout_uniform(keys, 4, 0, (64, 100))[0])
    assert 0 <= u.min() and u.max() < 1 and abs(u.mean().item() - 0.5) < 0.01
    assert abs((u < 0.8).float().mean().item() - 0.8) < 0.01


def _lowbias32(x: int) -> int:
    """The reference hash in plain Python uint32 arithmetic."""
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    return x ^ (x >> 16)


def test_dropout_hash_is_uint32_lowbias32_in_int32_arithmetic():
    """The int32 tensor code must equal the uint32 hash bit for bit (wrapping products, logical
    shifts), else CPU and CUDA, or two torch versions, could draw different masks."""
    keys = torch.tensor([0, 7, 2**31 - 1])
    u = model.dropout_uniform(keys, step=123_457, layer=1, shape=(3, 5))
    for i, k in enumerate(keys.tolist()):
        for pos in range(15):
            h = (k * 0x9E3779B1 + (123_457 * 4 + 1) * 0x85EBCA77 + pos) & 0xFFFFFFFF
            assert u[i].flatten()[pos].item() == (_lowbias32(h) >> 8) / 2**24


def test_stacked_gradients_equal_each_plain_model():
    p = model.init_stack(5, seeds=[3, 4])
    x = torch.randn(2, 7, 28, 28)
    y = torch.randint(0, 10, (2, 7))
    loss = torch.nn.functional.cross_entropy(model.forward_stack(p, x).flatten(0, 1), y.flatten(), reduction="sum")
    grads = torch.autograd.grad(loss, list(p.values()))
    for i in range(2):
        net = model.to_module(p, i)
        torch.nn.functional.cross_entropy(net(x[i].unsqueeze(1)), y[i], reduction="sum").backward()
        for g, (name, q) in zip(grads, net.named_parameters()):
            torch.testing.assert_close(g[i], q.grad, rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.cuda
def test_cuda_forward_and_dropout_match_cpu():
    keys = torch.tensor([0, 1, 5])
    assert torch.equal(model.dropout_uniform(keys, 9, 0, (64, 300)),
                       model.dropout_uniform(keys.cuda(), 9, 0, (64, 300)).cpu())
    p = model.init_stack(8, seeds=[0, 1, 2])
    x = torch.randn(3, 16, 28, 28)
    keep, keys = torch.tensor([1.0, 0.8, 0.8]), torch.tensor([0, 1, 2])
    cpu = model.forward_stack(p, x, keep, keys, step=4)
    gpu = model.forward_stack({k: v.cuda() for k, v in p.items()}, x.cuda(), keep.cuda(), keys.cuda(), step=4)
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-3, atol=1e-4)
