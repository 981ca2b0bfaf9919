"""How optimistic are the reported exponents when the learning rate and the frontier are chosen
on the same 10k test images they are scored on?

Trains (through the project's queue and trainer, into its own database) the CPU quick grid at
dropout 0 with learning-rate multipliers x1/2, x1 and x2, then measures with
fit.reporting_bias: choose on the even-numbered test images and score on the odd ones (and the
other way round), against choosing and scoring on the same half. The difference is set beside the
width of alpha_C's 95% interval, the scale at which it would matter.

    python benchmarks/reporting_bias.py [--db artifacts/reporting_bias.duckdb] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scaling.core import grid
from scaling.fit import analyze, reporting_bias  # noqa: E402
from scaling.store import Store  # noqa: E402
from scaling.training import devices  # noqa: E402
from scaling.workers import jobs

WIDTHS, FRACTIONS, SEEDS, MULTS = "-4:5", "1/256:1", "0:3", "0.5,1,2"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="artifacts/reporting_bias.duckdb")
    ap.add_argument("--widths", default=WIDTHS)
    ap.add_argument("--fractions", default=FRACTIONS)
    ap.add_argument("--seeds", default=SEEDS)
    ap.add_argument("--mults", default=MULTS)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--boot", type=int, default=200)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    Path(args.db).parent.mkdir(parents=True, exist_ok=True)
    store = Store(args.db)
    configs = grid.expand(grid.width_steps("--widths", args.widths), grid.fractions("--fractions", args.fractions),
                          grid.int_steps("--seeds", args.seeds), [0.0], grid.floats("--mults", args.mults, 1e-6, 1e6))
    device = devices.resolve_device(args.device)
    t0 = time.perf_counter()
    store.enqueue(configs, label="reporting bias")
    p = jobs.work(store, device, [c.run_id for c in configs])
    wall = time.perf_counter() - t0
    runs = store.runs()
    runs = runs[runs["run_id"].isin({c.run_id for c in configs})]
    out = dict(device=devices.device_name(device), runs=len(runs), trained=p.trained, wall_s=round(wall, 1))
    for lr in ("tuned", 1.0):
        sub = runs if lr == "tuned" else runs[runs["lr_mult"] == 1.0]
        rb = reporting_bias(sub, lr=lr)
        iv = analyze(sub, lr=lr, n_boot=args.boot, extras=False, estimators=()).loss_vs_compute.alpha_interval
        out[f"lr {lr}"] = dict(**rb.to_dict(), alpha_interval=[iv.lo, iv.hi], interval_width=iv.hi - iv.lo,
                               text=rb.format())
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    print(f"{out['runs']} runs ({p.trained} trained now, {wall:.0f} s) on {out['device']}")
    for lr in ("tuned", 1.0):
        r = out[f"lr {lr}"]
        print(f"lr {lr}: {r['text']}\n  alpha_C's 95% interval on the full test set: "
              f"[{r['alpha_interval'][0]:.4f}, {r['alpha_interval'][1]:.4f}] (width {r['interval_width']:.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
