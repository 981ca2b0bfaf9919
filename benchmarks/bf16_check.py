"""bf16 autocast against fp32 on one device: validation loss per seed, both precisions, and the
difference of the seed means against the seed-to-seed spread (the tolerance the tests use).

    python benchmarks/bf16_check.py [--device cuda] [--widths 3,6] [--fraction 1/8] [--seeds 6]
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scaling.core import grid
from scaling.training import devices, train  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="auto")
    ap.add_argument("--widths", default="3,6")
    ap.add_argument("--fraction", default="1/8")
    ap.add_argument("--seeds", type=int, default=6)
    args = ap.parse_args(argv)
    device = devices.resolve_device(args.device)
    kind = "cuda" if device.startswith("cuda") else "cpu"
    torch.backends.cudnn.allow_tf32 = False  # fp32 means fp32
    print(f"{'width':>5} {'fp32 mean':>10} {'bf16 mean':>10} {'diff':>8} {'seed sd':>8} {'ratio per seed (bf16/fp32 - 1)'}")
    for w in grid.int_steps("widths", args.widths, 0, 12):
        cfgs = grid.expand([w], grid.fractions("fraction", args.fraction), list(range(args.seeds)), [0.0])
        out = {}
        for bf16 in (False, True):
            devices.BF16[kind] = bf16
            out[bf16] = [r.val_loss for r in train.train_stack(cfgs, device, curve=False)]
        a, b = out[False], out[True]
        ratios = " ".join(f"{y / x - 1:+.1%}" for x, y in zip(a, b))
        print(f"{cfgs[0].width:>5} {statistics.mean(a):>10.4f} {statistics.mean(b):>10.4f} "
              f"{statistics.mean(b) - statistics.mean(a):>+8.4f} {statistics.stdev(a):>8.4f} {ratios}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
