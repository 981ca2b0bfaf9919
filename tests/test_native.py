"""The C kernels (scaling/native.py) against the plain torch ops they replace."""
import warnings

import pytest
import torch
import torch.nn.functional as F

from scaling import model, native, train

pytestmark = pytest.mark.skipif(native.lib() is None, reason="no C compiler here")


@pytest.fixture
def torch_ops(monkeypatch):
    """Run a callable with the C kernels switched off."""

    def run(fn):
        with monkeypatch.context() as m:
            m.setattr(native, "usable", lambda x: False)
            return fn()

    return run


def _batch(m, b, shared):
    g = torch.Generator().manual_seed(m * 100 + b)
    x = torch.randn(b, 28, 28, generator=g) if shared else torch.randn(m, b, 28, 28, generator=g)
    x[..., :6, :] = -0.4242  # MNIST's normalised background: exact ties in the pooling windows
    return x


@pytest.mark.parametrize("m, c, shared", [(2, 1, False), (3, 2, True), (1, 3, False), (1, 4, False), (3, 6, False),
                                         (8, 11, False), (2, 23, True), (2, 45, False)])
def test_forward_and_gradients_match_torch_ops(torch_ops, m, c, shared):
    """Widths from 1 (the smallest step) to above one 16-lane vector (c2 = 2c up to 90: several chunks and a tail),
    a batch per model and one shared batch, with and without dropout."""
    p = {n: t.detach().requires_grad_() for n, t in model.init_stack(c, list(range(m))).items()}
    x, y = _batch(m, 13, shared), torch.randint(0, 10, (m, 13))
    keep = torch.tensor([0.8, 1.0, 0.5] * 3)[:m]
    keys, step = torch.arange(m) + 7, torch.tensor(5)

    def run():
        logits = model.forward_stack(p, x, keep, keys, step)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum")
        return logits, torch.autograd.grad(loss, list(p.values()))

    (ours, g_ours), (ref, g_ref) = run(), torch_ops(run)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    for name, a, b in zip(p, g_ours, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)


def _both_paths(torch_ops, p, x):
    """Logits and every gradient, with the C kernels and with the torch ops."""
    def run():
        logits = model.forward_stack(p, x)
        return logits, torch.autograd.grad(logits.nansum(), list(p.values()))

    return run(), torch_ops(run)


def test_pooling_keeps_the_first_maximum_as_torch_does(torch_ops):
    """A constant image makes every inner pooling window a four-way tie, in both conv blocks: the
    gradient must go to the first position in (0,0) (0,1) (1,0) (1,1) order, as in torch."""
    p = {n: t.detach().requires_grad_() for n, t in model.init_stack(6, [0, 1]).items()}
    (ours, g_ours), (ref, g_ref) = _both_paths(torch_ops, p, torch.full((2, 3, 28, 28), -0.4242))
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)
    for name, a, b in zip(p, g_ours, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=name)


def test_a_nan_wins_its_pooling_window_as_in_torch():
    """Non-finite activations must reach the loss, where training reports the run as diverged: an
    inf pixel gives conv outputs of inf, -inf and (in conv2, adding both) nan."""
    p = model.init_stack(6, [0])
    w1, b1, w2, b2 = (p[k].detach() for k in ("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"))
    for bad in (float("inf"), float("nan")):
        x = torch.zeros(4, 28, 28)
        x[1, 9, 9] = bad
        ours = native.Convs.apply(x, w1, b1, w2, b2).view(4, 12, 7, 7)
        h = F.relu(F.max_pool2d(F.conv2d(x.unsqueeze(1), w1[0], padding=1), 2) + b1.view(1, -1, 1, 1))
        ref = F.relu(F.max_pool2d(F.conv2d(h, w2[0], padding=1), 2) + b2.view(1, -1, 1, 1))
        assert ours.isnan().any() and torch.equal(ours.isnan(), ref.isnan()), bad
        assert torch.equal(ours.isinf(), ref.isinf()), bad


def test_bad_tensors_are_refused_before_any_c_code_runs():
    p = model.init_stack(4, [0, 1])
    w = [p[k] for k in ("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias")]
    with pytest.raises(ValueError, match="images"):
        native.Convs.apply(torch.zeros(3, 5, 28, 28), *w)  # 3 batches for 2 models
    with pytest.raises(ValueError, match="conv2 weights"):
        native.Convs.apply(torch.zeros(2, 5, 28, 28), *w[:2], w[2][:, :, :3], w[3])
    with pytest.raises(ValueError, match="float32"):
        native._ptr(torch.zeros(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="not contiguous"):
        native._ptr(torch.zeros(4, 4).t())
    with pytest.raises(ValueError, match="Adam"):
        native.adam([torch.zeros(3)], [torch.zeros(4)], [torch.zeros(3)], [torch.zeros(3)], [torch.zeros(3)], 1, (0.9, 0.999), 1e-8)
    x = torch.randn(2, 28, 28, requires_grad=True)  # the kernels give no gradient for the images: torch ops do
    (g,) = torch.autograd.grad(model.forward_stack({n: t.detach() for n, t in p.items()}, x).sum(), x)
    assert g.abs().sum() > 0


def test_dropout_masks_are_the_hash_bit_for_bit():
    keys, keep = torch.tensor([0, 1, 12345, 2**31 - 1]), torch.tensor([0.8, 0.5, 1.0, 0.9])
    for step, layer in [(1, 0), (977, 1), (torch.tensor(40), 0)]:
        scale = native.dropout_scale(model._hash_base(keys, step, layer), keep, (64, 300))
        kept = model.dropout_uniform(keys, step, layer, (64, 300)) < keep.view(-1, 1, 1)
        assert torch.equal(scale > 0, kept)
        assert torch.equal(scale[kept], (1 / keep).view(-1, 1, 1).expand_as(scale)[kept])


def test_adam_matches_the_foreach_update(torch_ops):
    g = torch.Generator().manual_seed(0)
    shapes = [(3, 8, 1, 3, 3), (3, 16), (3, 44, 1078)]
    params = [torch.randn(s, generator=g) for s in shapes]
    lr = [torch.rand(s, generator=g) * 1e-2 for s in shapes]
    state = {k: [torch.rand(s, generator=g) for s in shapes] for k in ("m", "v")}
    grads = [torch.randn(s, generator=g) for s in shapes]
    b1, b2 = (torch.tensor(b, dtype=torch.float64) for b in train.BETAS)
    ours = [t.clone() for t in params], [t.clone() for t in state["m"]], [t.clone() for t in state["v"]]
    ref = [t.clone() for t in params], [t.clone() for t in state["m"]], [t.clone() for t in state["v"]]
    for step in (1, 2, 50):
        train._adam(ours[0], grads, ours[1], ours[2], lr, torch.tensor(step), b1, b2)
        torch_ops(lambda: train._adam(ref[0], grads, ref[1], ref[2], lr, torch.tensor(step), b1, b2))
    for a, b in zip(ours, ref):
        for x, y in zip(a, b):
            torch.testing.assert_close(x, y, rtol=1e-6, atol=1e-7)  # the same float32 constants as torch


def test_no_compiler_means_torch_ops_and_a_warning(monkeypatch, tmp_path):
    monkeypatch.setenv("CC", "/bin/false")  # a "compiler" that always fails
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    native.lib.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="plain torch ops"):
            assert native.lib() is None
        assert not native.usable(torch.zeros(1))
        p = model.init_stack(4, [0])
        assert model.forward_stack(p, torch.zeros(2, 28, 28)).shape == (1, 2, 10)  # torch ops
        assert not list(tmp_path.rglob("*.so"))  # nothing half-built left behind
    finally:
        native.lib.cache_clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        monkeypatch.delenv("CC")
        monkeypatch.delenv("XDG_CACHE_HOME")
        assert native.lib() is not None


def test_a_damaged_cached_build_is_rebuilt(monkeypatch, tmp_path):
    """A cache file that is not a library (never loaded by this process: a loaded one is mapped)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    so = native._cached(native._compiler())
    so.parent.mkdir(parents=True)
    so.write_bytes(b"\x7fELF truncated")
    native.lib.cache_clear()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert native.lib() is not None
        assert so.stat().st_size > 100
    finally:
        native.lib.cache_clear()


def test_switched_off_by_environment(monkeypatch):
    monkeypatch.setenv("SCALING_NATIVE", "0")
    native.lib.cache_clear()
    try:
        assert native.lib() is None and not native.usable(torch.zeros(1))
    finally:
        monkeypatch.delenv("SCALING_NATIVE")
        native.lib.cache_clear()


def test_not_used_under_bf16_autocast():
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not native.usable(torch.zeros(1))
    assert native.usable(torch.zeros(1)) and not native.usable(torch.zeros(1, dtype=torch.float64))


def test_training_on_the_cpu_runs_every_kernel(monkeypatch):
    """Guards the fast path against a silent fallback to torch ops (a check that wrongly refuses)."""
    calls = {}

    def count(name, fn):
        def wrapped(*a, **k):
            calls[name] = calls.get(name, 0) + 1
            return fn(*a, **k)
        return wrapped

    monkeypatch.setattr(native, "adam", count("adam", native.adam))
    monkeypatch.setattr(native, "dropout_scale", count("dropout", native.dropout_scale))
    monkeypatch.setattr(native.Convs, "forward", staticmethod(count("convs", native.Convs.forward)))
    monkeypatch.setattr(native.Convs, "backward", staticmethod(count("convs backward", native.Convs.backward)))
    from scaling.config import RunConfig

    train.train_stack([RunConfig(width_step=1, data_fraction=1 / 256, dropout=0.2)])  # 4 steps
    assert calls.pop("convs") > 4  # 4 steps, then the evaluation's chunks
    assert calls == {"adam": 4, "dropout": 8, "convs backward": 4}, calls
