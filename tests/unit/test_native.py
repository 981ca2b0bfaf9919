"""The C kernels (scaling/native.py) against the plain torch ops they replace."""
import warnings

import pytest
import torch
import torch.nn.functional as F

from scaling.training import cpu_check, cpu_timing, model, native, native_build, optim, train

pytestmark = pytest.mark.skipif(native.lib() is None, reason="no C compiler here")


@pytest.fixture
def torch_ops(monkeypatch):
    """Run a callable with the C kernels switched off."""

    def run(fn):
        with native.forcing(False):
            return fn()

    return run


def _batch(m, b, shared):
    g = torch.Generator().manual_seed(m * 100 + b)
    x = torch.randn(b, 28, 28, generator=g) if shared else torch.randn(m, b, 28, 28, generator=g)
    x[..., :6, :] = -0.4242  # MNIST's normalised background: exact ties in the pooling windows
    return x


@pytest.fixture(params=list(native_build.ISAS))
def build(request, monkeypatch):
    """Each build this processor can run (an AVX-512 machine runs all three), not only the one it
    would choose."""
    if request.param not in native_build.runnable_isas():
        pytest.skip(f"this processor cannot run the {request.param} build")
    monkeypatch.setenv("SCALING_NATIVE_ISA", request.param)
    native.reset()
    assert native.lib().vector_width() == native_build.ISAS[request.param][0]
    yield request.param
    monkeypatch.delenv("SCALING_NATIVE_ISA")
    native.reset()


@pytest.mark.parametrize("m, c, shared", [(2, 1, False), (3, 2, True), (1, 3, False), (1, 4, False), (3, 6, False),
                                         (8, 11, False), (2, 23, True), (2, 45, False)])
@pytest.mark.parametrize("variant", ["c", "onednn"])
def test_forward_and_gradients_match_torch_ops(build, torch_ops, variant, m, c, shared):
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

    with native.forcing(variant):  # conv2 in C, or on oneDNN
        ours, g_ours = run()
        with torch.no_grad():  # evaluation's forward, which writes no pooling slots
            plain = model.forward_stack(p, x, keep, keys, step)
    ref, g_ref = torch_ops(run)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(plain, ref, rtol=1e-5, atol=1e-5)
    for name, a, b in zip(p, g_ours, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)


def _both_paths(torch_ops, p, x):
    """Logits and every gradient, with the C kernels and with the torch ops."""
    def run():
        logits = model.forward_stack(p, x)
        return logits, torch.autograd.grad(logits.nansum(), list(p.values()))

    with native.forcing(True):
        ours = run()
    return ours, torch_ops(run)


def test_pooling_keeps_the_first_maximum_as_torch_does(build, torch_ops):
    """A constant image makes every inner pooling window a four-way tie, in both conv blocks: the
    gradient must go to the first position in (0,0) (0,1) (1,0) (1,1) order, as in torch."""
    p = {n: t.detach().requires_grad_() for n, t in model.init_stack(6, [0, 1]).items()}
    (ours, g_ours), (ref, g_ref) = _both_paths(torch_ops, p, torch.full((2, 3, 28, 28), -0.4242))
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-6)
    for name, a, b in zip(p, g_ours, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=name)


def test_a_nan_wins_its_pooling_window_as_in_torch(build):
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


def test_dropout_masks_are_the_hash_bit_for_bit(build):
    keys, keep = torch.tensor([0, 1, 12345, 2**31 - 1]), torch.tensor([0.8, 0.5, 1.0, 0.9])
    for step, layer in [(1, 0), (977, 1), (torch.tensor(40), 0)]:
        scale = native.dropout_scale(model._hash_base(keys, step, layer), keep, (64, 300))
        kept = model.dropout_uniform(keys, step, layer, (64, 300)) < keep.view(-1, 1, 1)
        assert torch.equal(scale > 0, kept)
        assert torch.equal(scale[kept], (1 / keep).view(-1, 1, 1).expand_as(scale)[kept])


def test_adam_matches_the_foreach_update(build, torch_ops):
    g = torch.Generator().manual_seed(0)
    shapes = [(3, 8, 1, 3, 3), (3, 16), (3, 44, 1078)]
    params = [torch.randn(s, generator=g) for s in shapes]
    lr = [torch.rand(s, generator=g) * 1e-2 for s in shapes]
    state = {k: [torch.rand(s, generator=g) for s in shapes] for k in ("m", "v")}
    grads = [torch.randn(s, generator=g) for s in shapes]
    b1, b2 = (torch.tensor(b, dtype=torch.float64) for b in optim.BETAS)
    ours = [t.clone() for t in params], [t.clone() for t in state["m"]], [t.clone() for t in state["v"]]
    ref = [t.clone() for t in params], [t.clone() for t in state["m"]], [t.clone() for t in state["v"]]
    for step in (1, 2, 50):
        optim.adam(ours[0], grads, ours[1], ours[2], lr, torch.tensor(step), b1, b2, True)
        optim.adam(ref[0], grads, ref[1], ref[2], lr, torch.tensor(step), b1, b2, False)
    for a, b in zip(ours, ref):
        for x, y in zip(a, b):
            torch.testing.assert_close(x, y, rtol=1e-6, atol=1e-7)  # the same float32 constants as torch


def test_no_compiler_means_torch_ops_and_a_warning(monkeypatch, tmp_path):
    monkeypatch.setenv("CC", "/bin/false")  # a "compiler" that always fails
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    native.reset()
    try:
        with pytest.warns(RuntimeWarning, match="plain torch ops"):
            assert native.lib() is None
        assert not native.usable(torch.zeros(1))
        p = model.init_stack(4, [0])
        assert model.forward_stack(p, torch.zeros(2, 28, 28)).shape == (1, 2, 10)  # torch ops
        assert not list(tmp_path.rglob("*.so"))  # nothing half-built left behind
    finally:
        native.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        monkeypatch.delenv("CC")
        monkeypatch.delenv("XDG_CACHE_HOME")
        assert native.lib() is not None


def test_a_damaged_cached_build_is_rebuilt(monkeypatch, tmp_path):
    """A cache file that is not a library (never loaded by this process: a loaded one is mapped)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    so = native_build._cached(native_build._compiler(), native_build.chosen_isa())
    so.parent.mkdir(parents=True)
    so.write_bytes(b"\x7fELF truncated")
    native.reset()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert native.lib() is not None
        assert so.stat().st_size > 100
    finally:
        native.reset()


def test_switched_off_by_environment(monkeypatch):
    monkeypatch.setenv("SCALING_NATIVE", "0")
    native.reset()
    try:
        assert native.lib() is None and not native.usable(torch.zeros(1))
        assert native.cpu_path().how == "off" and native.cpu_path().describe() == "PyTorch ops (SCALING_NATIVE=0)"
    finally:
        monkeypatch.delenv("SCALING_NATIVE")
        native.reset()


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
    monkeypatch.setattr(native, "conv_features", count("evaluation", native.conv_features))
    from scaling.core.config import RunConfig

    with native.forcing(True):
        train.train_stack([RunConfig(width_step=1, data_fraction=1 / 256, dropout=0.2)])  # 4 steps
    assert calls.pop("evaluation") >= 1  # the evaluation's chunks
    assert calls == {"adam": 4, "dropout": 8, "convs": 4, "convs backward": 4}, calls


def _path(onednn=(), **speedups):
    """A CpuPath whose timings say the kernels are `speedup` times the ops, per phase and width
    (with conv2 on oneDNN at the widths in `onednn`, in C elsewhere)."""
    rows = tuple(cpu_check.Timing(phase, w, 1.2 if w in onednn else 1.0, 1.0 if w in onednn else 1.2, s)
                 for phase, by_width in speedups.items() for w, s in by_width.items())
    return native.CpuPath("avx2", "checked", "", rows)


def test_each_width_follows_the_nearest_timed_width():
    path = _path(train={4: 0.7, 11: 1.4, 32: 1.8}, eval={4: 1.5, 11: 1.2, 32: 0.9})
    assert [path.kernels("train", w) for w in (1, 4, 6, 8, 11, 23, 45, 181)] == [False, False, False, True, True, True, True, True]
    assert [path.kernels("eval", w) for w in (1, 11, 16, 23, 45)] == [True, True, True, False, False]
    assert path.kernels("train") and not native.CpuPath(None, "off", "SCALING_NATIVE=0").kernels("train", 11)
    line = path.describe()
    assert "training on the kernels near width 11, 32 only (0.7-1.8x the ops)" in line
    assert "evaluation on the kernels near width 4, 11 only" in line
    everywhere = _path(train={4: 1.5, 32: 2.0}, eval={4: 1.4, 32: 1.3}).describe()
    assert everywhere.startswith("C kernels (avx2, 8 floats a vector): training on the kernels (1.5-2.0x the ops)")
    assert "evaluation on the PyTorch ops" in _path(train={4: 1.5}, eval={4: 0.5}).describe()
    close = cpu_check.Timing("eval", 32, kernels_s=1.03, onednn_s=1.0, ops_s=2.0)  # within the margin: all in C
    assert close.best == "c" and cpu_check.Timing("eval", 32, 1.2, 1.0, 2.0).best == "onednn"
    assert cpu_check.Timing("eval", 32, 1.2, 1.0, 0.99).best == "ops"  # the ops win by any margin
    mixed = _path(onednn=(32,), train={4: 1.5, 32: 2.0}, eval={4: 1.4, 32: 1.3})
    assert [mixed.variant("train", w) for w in (4, 11, 45)] == ["c", "c", "onednn"]
    assert "conv2 on oneDNN near width 32" in mixed.describe()


def test_a_width_where_the_ops_win_trains_on_the_ops(monkeypatch):
    """The choice reaches the trainer: no kernel runs where the check found the ops faster."""
    monkeypatch.setattr(native, "cpu_path", lambda: _path(train={4: 0.5, 32: 2.0}, eval={4: 0.5, 32: 2.0}))
    monkeypatch.setattr(native, "adam", lambda *a, **k: pytest.fail("the kernels ran where the ops won"))
    monkeypatch.setattr(native.Convs, "forward", staticmethod(lambda *a: pytest.fail("the kernels ran where the ops won")))
    monkeypatch.setattr(native, "conv_features", lambda *a: pytest.fail("the kernels ran where the ops won"))
    from scaling.core.config import RunConfig

    (r,) = train.train_stack([RunConfig(width_step=0, data_fraction=1 / 512, dropout=0.2)])  # width 4
    assert r.status == "ok"


def test_the_check_is_timed_once_and_kept_with_the_build(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(native, "CHECK_WIDTHS", (4,))
    native.reset()
    try:
        first = native.cpu_path()
        assert first.how == "checked" and {(t.phase, t.width) for t in first.timings} == {("train", 4), ("eval", 4)}
        assert all(t.kernels_s > 0 and t.onednn_s > 0 and t.ops_s > 0 for t in first.timings)
        (saved,) = tmp_path.rglob("*-check-*t.json")
        assert saved.name.startswith(native.lib().path.stem)
        native.reset()
        monkeypatch.setattr(cpu_timing, "time_cpu_paths", lambda *a, **k: pytest.fail("timed twice"))
        assert native.cpu_path() == first
    finally:
        native.reset()


def test_forced_and_bad_settings(monkeypatch):
    try:
        monkeypatch.setenv("SCALING_NATIVE", "1")
        native.reset()
        assert native.cpu_path().how == "forced" and native.cpu_path().kernels("eval", 4)
        monkeypatch.setenv("SCALING_NATIVE", "yes")
        native.reset()
        with pytest.raises(ValueError, match="SCALING_NATIVE='yes'"):
            native.cpu_path()
        monkeypatch.setenv("SCALING_NATIVE", "auto")
        monkeypatch.setenv("SCALING_NATIVE_ISA", "avx9")
        native.reset()
        with pytest.warns(RuntimeWarning, match="SCALING_NATIVE_ISA='avx9': not one of avx512, avx2, portable"):
            path = native.cpu_path()
        assert path.isa is None and not native.usable(torch.zeros(1))
    finally:
        native.reset()


def test_a_build_this_processor_cannot_run_is_refused(monkeypatch):
    beyond = [isa for isa in native_build.ISAS if isa not in native_build.runnable_isas()]
    if not beyond:
        pytest.skip("this processor runs every build")
    monkeypatch.setenv("SCALING_NATIVE_ISA", beyond[0])
    native.reset()
    try:
        with pytest.raises(ValueError, match="this processor runs only"):
            native_build.chosen_isa()
    finally:
        native.reset()
