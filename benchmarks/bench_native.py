"""The CPU trainer with its C kernels (scaling/native.py) against the same trainer on plain PyTorch
ops, width by width: training GFLOP/s of one stack (4 models: 2 seeds x dropout {0, 0.2}, 1/64 of
MNIST) and the time to evaluate 4 models on the 10k test images. Three variants, measured side by
side: every kernel in C (conv2 included), the C kernels with conv2 on oneDNN, and the torch ops;
and the variant native.cpu_path() chose for each phase at that width on this machine.

    python benchmarks/bench_native.py [--widths 0,3,5,7] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scaling.core import grid  # noqa: E402
from scaling.training import data, model, native, train


def measure(width_step: int) -> dict:
    ds = data.load("mnist", "cpu")
    cfgs = grid.expand([width_step], [1 / 64], [0, 1], [0.0, 0.2])
    evaluate = train.evaluate
    train.evaluate = lambda p, ds, *_: (torch.zeros(len(p["conv1.bias"])),) * 2 + (torch.zeros(2, len(p["conv1.bias"])),)  # training alone
    try:
        train.train_stack(cfgs, "cpu", curve=False)  # warm-up: oneDNN builds its kernels per shape
        t = time.perf_counter()
        train.train_stack(cfgs, "cpu", curve=False)
        train_s = time.perf_counter() - t
    finally:
        train.evaluate = evaluate
    p = {n: t.detach() for n, t in model.init_stack(cfgs[0].width, list(range(len(cfgs)))).items()}
    train.evaluate(p, ds)
    t = time.perf_counter()
    train.evaluate(p, ds)
    eval_s = time.perf_counter() - t
    return {"train_gflops": sum(c.flops for c in cfgs) / train_s / 1e9, "train_s": train_s, "eval_s": eval_s}


def with_kernels(variant: str, fn):
    with native.forcing(variant):
        return fn()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--widths", default="0,3,5,7", help="width steps (9: width 91 adds ~30 s, 11: width 181 ~3 min)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if native.lib() is None:
        print("the C kernels cannot be built here: nothing to compare", file=sys.stderr)
        return 1
    rows = []
    names = {"c": "c_kernels", "onednn": "c_onednn_conv2", "ops": "torch_ops"}
    path = native.cpu_path()
    for w in grid.int_steps("widths", args.widths, 0, model.MAX_WIDTH_STEP):
        c = model.width(w)
        row = {"width": c, **{names[v]: with_kernels(v, lambda: measure(w)) for v in native.VARIANTS},
               "chosen": {phase: path.variant(phase, c) for phase in ("train", "eval")}}
        rows.append(row)
        if not args.json:
            k, o, t = (row[names[v]] for v in native.VARIANTS)
            ct, ce = (row[names[row["chosen"][p]]] for p in ("train", "eval"))
            print(f"width {c:4d}: training {k['train_gflops']:6.1f} | {o['train_gflops']:6.1f} | {t['train_gflops']:6.1f} GFLOP/s, "
                  f"chosen {row['chosen']['train']:6s} {ct['train_gflops'] / t['train_gflops']:.1f}x the ops | evaluating 4 models "
                  f"{k['eval_s']:5.2f} | {o['eval_s']:5.2f} | {t['eval_s']:5.2f} s, chosen {row['chosen']['eval']:6s} "
                  f"{t['eval_s'] / ce['eval_s']:.1f}x  (all C | conv2 on oneDNN | torch ops, {torch.get_num_threads()} threads)", flush=True)
    if args.json:
        print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
