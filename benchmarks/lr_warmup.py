"""Does a short linear warm-up help the cosine schedule? Cosine runs trained with and without one.

The cosine schedule without a warm-up starts at the rule's full lr. Here the same runs are trained
with the factor ramped linearly over the first WARMUP of each run's steps (at least one step) and
without, in this process (train.lr_factors replaced; nothing is written to a database), and the
seed-mean validation losses are compared per width, fraction and multiplier, and at each side's best
multiplier. The schedule took its warm-up (config.WARMUP) from this comparison.

    python benchmarks/lr_warmup.py [--widths 0,4,7] [--fractions 1/64,1/16] [--seeds 0:3] [--mults 0.5,1,2] [--json]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402
import torch  # noqa: E402

from scaling.core import config, grid  # noqa: E402
from scaling.training import devices, train  # noqa: E402
from scaling.workers.stacks import CPU_MAX_MODELS  # noqa: E402

WARMUP = config.WARMUP  # of a run's steps
WARM = train.lr_factors  # the schedule as it trains, warm-up included


def _plain(done, n_steps, cosine):
    """The cosine factor without the warm-up: WARM divided by its ramp."""
    ramp = torch.clamp(done.float() / torch.clamp(torch.ceil(WARMUP * n_steps), min=1.0), max=1.0)
    return WARM(done, n_steps, cosine) / torch.where(cosine, ramp, 1.0)


def run(configs, warm: bool) -> list:
    train.lr_factors = WARM if warm else _plain
    try:
        out = []
        for stack in train.plan_stacks(configs, CPU_MAX_MODELS):
            out += train.train_stack(stack)
        return out
    finally:
        train.lr_factors = WARM


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", default="0,4,7")
    ap.add_argument("--fractions", default="1/64,1/16")
    ap.add_argument("--seeds", default="0:3")
    ap.add_argument("--mults", default="0.5,1,2")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    configs = grid.expand(grid.width_steps("--widths", args.widths), grid.fractions("--fractions", args.fractions),
                          grid.int_steps("--seeds", args.seeds), [0.0], grid.floats("--mults", args.mults, 1e-6, 1e6),
                          lr_schedules=("cosine",))
    t0 = time.perf_counter()
    rows = [dict(warmup=w, width=r.config.width, data_fraction=r.config.data_fraction, lr_mult=r.config.lr_mult,
                 seed=r.config.seed, val_loss=r.val_loss) for w in (False, True) for r in run(configs, w)]
    df = pd.DataFrame(rows)
    # paired by seed: the same init, data and order with and without the warm-up
    wide = df.pivot_table(index=["width", "data_fraction", "lr_mult", "seed"], columns="warmup", values="val_loss")
    d = (wide[True] / wide[False]).apply(math.log)
    per = d.groupby(level=[0, 1, 2]).agg(["mean", "std", "count"])
    n = len(d)
    # tuned: each side at its own best multiplier (seed mean), per width and fraction
    mean = df.groupby(["width", "data_fraction", "warmup", "lr_mult"])["val_loss"].mean()
    best = mean.groupby(level=[0, 1, 2]).agg(["min", "idxmin"])
    tuned = [dict(width=int(w), data_fraction=f, log_ratio=round(math.log(best.loc[(w, f, True), "min"]
                                                                         / best.loc[(w, f, False), "min"]), 4),
                  best_mult_plain=best.loc[(w, f, False), "idxmin"][3], best_mult_warm=best.loc[(w, f, True), "idxmin"][3])
             for w, f in sorted({k[:2] for k in best.index})]
    out = dict(device=devices.device_name("cpu"), warmup_share=WARMUP, runs=len(df), wall_s=round(time.perf_counter() - t0, 1),
               mean_log_ratio=round(float(d.mean()), 4), se=round(float(d.std() / math.sqrt(n)), 4),
               better_with_warmup=int((d < 0).sum()), pairs=n,
               cells=[dict(width=int(k[0]), data_fraction=k[1], lr_mult=k[2], mean_log_ratio=round(r["mean"], 4))
                      for k, r in per.iterrows()], tuned=tuned)
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    print(f"{out['runs']} runs in {out['wall_s']} s on {out['device']}; warm-up over {WARMUP:.0%} of each run's steps")
    print(f"ln(L with warm-up / L without): mean {out['mean_log_ratio']:+.4f} (SE {out['se']:.4f}) over {n} pairs; "
          f"lower with warm-up in {out['better_with_warmup']}")
    for c in out["tuned"]:
        print(f"  tuned, width {c['width']:>3} fraction 1/{round(1 / c['data_fraction'])}: {c['log_ratio']:+.4f} "
              f"(best x{c['best_mult_warm']:g} with, x{c['best_mult_plain']:g} without)")
    for c in out["cells"]:
        print(f"  width {c['width']:>3} fraction 1/{round(1 / c['data_fraction'])} lr x{c['lr_mult']:g}: "
              f"{c['mean_log_ratio']:+.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
