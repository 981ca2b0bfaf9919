"""Where a GPU sweep's time goes: per-stack wall time of the trainer across widths and fractions,
and the per-step cost, to tell launch overhead from arithmetic. For the device machine.

    python benchmarks/gpu_profile.py [--widths 0,3,7] [--fractions 1,1/16]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scaling.core import grid  # noqa: E402
from scaling.training import data, train


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--widths", default="0,3,5,7")
    ap.add_argument("--fractions", default="1,1/8")
    ap.add_argument("--models", type=int, default=6, help="seeds x dropouts per stack (3 x {0, 0.2} = 6)")
    args = ap.parse_args(argv)
    device = "cuda"
    data.load("mnist", device)
    seeds = list(range(args.models // 2))
    print(f"{'width':>5} {'frac':>6} {'models':>6} {'steps':>6} {'wall_s':>8} {'ms/step':>8} {'GFLOP/s':>9}")
    for w in grid.int_steps("widths", args.widths, 0, 12):
        for f in grid.fractions("fractions", args.fractions):
            cfgs = grid.expand([w], [f], seeds, [0.0, 0.2])
            train.train_stack(cfgs, device, curve=False)  # warm-up: allocator, cuDNN plans
            torch.cuda.synchronize()
            t = time.perf_counter()
            train.train_stack(cfgs, device, curve=False)
            torch.cuda.synchronize()
            wall = time.perf_counter() - t
            steps = -(-cfgs[0].examples // cfgs[0].batch_size)
            flops = sum(c.flops for c in cfgs)
            print(f"{cfgs[0].width:>5} {f:>6.4g} {len(cfgs):>6} {steps:>6} {wall:>8.3f} {1e3 * wall / steps:>8.3f} "
                  f"{flops / wall / 1e9:>9.1f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
