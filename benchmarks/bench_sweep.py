"""Sweep benchmark: the training loop a user would write vs the project's trainer, on one grid.

(a) baseline: torchvision's MNIST with ToTensor + Normalize, a DataLoader (batch 64, shuffled),
    one model at a time, the loop of pytorch/examples' mnist/main.py (model.train(), zero_grad,
    loss, backward, step), Adam with the project's per-layer lr, then a test-set pass through a
    DataLoader of batch 1000. Same CNN class (scaling.training.model.CNN), same grid.
(b) project: train.plan_stacks + train.train_stack, exactly as the worker runs a sweep.

Both include evaluating every run on the full 10k test set. Printed: training examples/s and wall
time of both, their ratio, and the project's achieved FLOP/s (C = 3 x forward FLOPs x D, as
RunConfig.flops) at the middle width as a fraction of this device's measured dense matmul peak
(fp32 on CPU, bf16 on GPU), with and without its evaluation time.

    python benchmarks/bench_sweep.py --quick [--json]   # 2 CPU cores: under a minute
    python benchmarks/bench_sweep.py [--json]            # the exercise grid: 384 runs, for a GPU

The baseline is slow (its evaluation alone, 10k images through a DataLoader and an NCHW model,
takes 1-3 s per run at width 11 on 2 CPU cores), so it trains every K-th run of the grid: the grid is
ordered width, fraction, seed, dropout, so K = seeds x dropouts keeps one run of every width and
fraction, whose cost seeds and dropout do not change. Its examples/s over those runs is compared
with the project's over the whole grid; its wall time for the whole grid is projected from it.
--baseline-every 1 trains it all.
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scaling import datasets
from scaling.core import grid
from scaling.core.config import lr_per_layer  # noqa: E402
from scaling.training import data, devices, model, native, train
from scaling.workers import jobs  # noqa: E402

GRIDS = {  # widths (steps), fractions, seeds, dropouts; and which runs the baseline trains
    "quick": ([2, 3, 4], [1 / 64, 1 / 32], [0, 1], [0.0, 0.2], 4),  # 24 runs, baseline on 6
    "full": (list(range(8)), [2.0**-k for k in range(8)], [0, 1, 2], [0.0, 0.2], 6),  # 384 runs, baseline on 64
    "tiny": ([1], [1 / 256], [0], [0.0, 0.2], 1),  # 2 runs: for the test that checks the output
}


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def matmul_peak(device: str) -> float:
    """Dense matmul FLOP/s: best of a few big square products (fp32 on CPU, bf16 on GPU)."""
    n, dtype = (2048, torch.float32) if device == "cpu" else (8192, torch.bfloat16)
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    out = torch.empty(n, n, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(8):
        sync(device)
        t = time.perf_counter()
        torch.mm(a, b, out=out)
        sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


# ------------------------------------------------------------------- (a) the baseline


def torchvision_mnist(root: Path):
    """torchvision.datasets.MNIST over the project's vendored IDX files (no download)."""
    import torchvision
    from torchvision import transforms

    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for f in datasets.FILES.values():  # torchvision reads the decompressed files
        (raw / f.removesuffix(".gz")).write_bytes(gzip.decompress((datasets._mnist_folder() / f).read_bytes()))
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    train_set = torchvision.datasets.MNIST(str(root), train=True, download=False, transform=tf)
    test_set = torchvision.datasets.MNIST(str(root), train=False, download=False, transform=tf)
    return train_set, test_set


def baseline_run(cfg, train_set, test_set, device) -> float:
    """One run the usual way; returns its validation loss."""
    torch.manual_seed(cfg.seed)
    subset = torch.utils.data.Subset(train_set, data.subset(cfg.seed, cfg.data_fraction).tolist())
    loader_kw = {"num_workers": 1, "pin_memory": True} if device.startswith("cuda") else {}
    train_loader = torch.utils.data.DataLoader(subset, batch_size=cfg.batch_size, shuffle=True, **loader_kw)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=1000, **loader_kw)
    net = model.CNN(cfg.width, cfg.dropout).to(device)
    opt = torch.optim.Adam([{"params": [p], "lr": lr_per_layer(cfg, name)} for name, p in net.named_parameters()])
    for _ in range(cfg.epochs):
        net.train()
        for x, y in train_loader:
            x, y = x.to(device), y.to(device)
            opt.zero_grad()
            loss = F.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
    net.eval()
    total = 0.0
    with torch.no_grad():
        for x, y in test_loader:
            x, y = x.to(device), y.to(device)
            total += F.cross_entropy(net(x), y, reduction="sum").item()
    return total / len(test_set)


def run_baseline(cfgs, device) -> float:
    with tempfile.TemporaryDirectory() as root:
        train_set, test_set = torchvision_mnist(Path(root))
        sync(device)
        t = time.perf_counter()
        for cfg in cfgs:
            baseline_run(cfg, train_set, test_set, device)
        sync(device)
        return time.perf_counter() - t


# ------------------------------------------------------------------- (b) the project


def run_project(cfgs, device) -> tuple[float, dict[int, float], dict[int, float]]:
    """Wall time of the whole grid; per width step, the wall time of its stacks and the part of it
    spent in train.evaluate (timed in place, so training time is the difference)."""
    data.load("mnist", device)  # the data set stays resident, as in the worker
    if device == "cpu":
        native.cpu_path()  # the kernels' one-time build and timing check, outside the timed sweep
    per_width: dict[int, float] = {}
    eval_s = {"now": 0.0}
    evaluate = train.evaluate

    def timed_evaluate(p, ds, *args):
        sync(device)
        t = time.perf_counter()
        out = evaluate(p, ds, *args)
        sync(device)
        eval_s["now"] += time.perf_counter() - t
        return out

    per_width_eval: dict[int, float] = {}
    train.evaluate = timed_evaluate  # train_stack looks it up at call time
    try:
        sync(device)
        t0 = time.perf_counter()
        for stack in train.plan_stacks(cfgs, jobs.max_models(device)):
            t, eval_s["now"] = time.perf_counter(), 0.0
            train.train_stack(stack, device, curve=False)
            sync(device)
            w = stack[0].width_step
            per_width[w] = per_width.get(w, 0.0) + time.perf_counter() - t
            per_width_eval[w] = per_width_eval.get(w, 0.0) + eval_s["now"]
        return time.perf_counter() - t0, per_width, per_width_eval
    finally:
        train.evaluate = evaluate


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the small grid: under a minute on 2 CPU cores")
    ap.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # 2 runs, for tests
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--baseline-every", type=int, default=None,
                    help="baseline on every K-th run only (default: 4 on --quick, 6 on the full grid; 0: no baseline)")
    args = ap.parse_args(argv)
    device = devices.resolve_device(args.device)
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    widths, fractions, seeds, dropouts, every = GRIDS[mode]
    cfgs = grid.expand(widths, fractions, seeds, dropouts)
    every = every if args.baseline_every is None else args.baseline_every
    sample = cfgs[::every] if every else []
    middle = widths[len(widths) // 2]

    peak = matmul_peak(device)
    project_s, per_width, per_width_eval = run_project(cfgs, device)
    mid = [c for c in cfgs if c.width_step == middle]
    mid_eval = per_width_eval[middle]
    if every == 0:  # profiling the project's trainer alone
        print(json.dumps({"device": devices.device_name(device), "runs": len(cfgs), "project_wall_s": round(project_s, 2),
                          "per_width_s": {model.width(w): round(t, 2) for w, t in per_width.items()},
                          "per_width_eval_s": {model.width(w): round(t, 3) for w, t in per_width_eval.items()}}))
        return 0
    baseline_s = run_baseline(sample, device)

    examples = sum(c.examples for c in cfgs)
    base_eps = sum(c.examples for c in sample) / baseline_s
    proj_eps = examples / project_s
    mid_flops = sum(c.flops for c in mid)
    out = {
        "device": devices.device_name(device),
        "grid": mode,
        "runs": len(cfgs),
        "baseline_runs": len(sample),
        "baseline_wall_s": round(baseline_s, 2),
        "baseline_wall_s_projected": round(examples / base_eps, 2),
        "project_wall_s": round(project_s, 2),
        "baseline_examples_per_s": round(base_eps, 1),
        "project_examples_per_s": round(proj_eps, 1),
        "speedup": round(proj_eps / base_eps, 2),
        "peak_flops": round(peak),
        "middle_width": model.width(middle),
        "middle_train_flops_per_s": round(mid_flops / max(per_width[middle] - mid_eval, 1e-9)),
        "peak_fraction": round(mid_flops / max(per_width[middle] - mid_eval, 1e-9) / peak, 3),
        "peak_fraction_with_eval": round(mid_flops / per_width[middle] / peak, 3),
    }
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"device: {out['device']}   grid: {mode}, {len(cfgs)} runs, {examples:,} training examples, "
          f"each run evaluated on 10,000 test images")
    print(f"dense matmul peak ({'fp32' if device == 'cpu' else 'bf16'}): {peak / 1e9:,.1f} GFLOP/s")
    note = "" if every == 1 else f"  (every {every}th run: {len(sample)} runs; projected wall {out['baseline_wall_s_projected']:.1f} s)"
    print(f"baseline (DataLoader, one model at a time): {baseline_s:8.2f} s  {base_eps:10,.0f} examples/s{note}")
    print(f"project  (stacked trainer):                 {project_s:8.2f} s  {proj_eps:10,.0f} examples/s")
    print(f"speedup: {out['speedup']:.2f}x")
    print(f"middle width {out['middle_width']}: {out['middle_train_flops_per_s'] / 1e9:,.1f} GFLOP/s training "
          f"= {out['peak_fraction']:.1%} of peak ({out['peak_fraction_with_eval']:.1%} counting its evaluation time)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
