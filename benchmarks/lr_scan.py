"""Is lr = 0.1 / sqrt(fan_in) the best rule at every width, under each lr schedule? A scan of its multiplier.

Trains, through the project's own queue and trainer (so every run lands in the database and is
never trained twice), widths 1 to 45 x two data fractions x 3 seeds x multipliers 1/4 .. 4 of the
rule x the constant and cosine schedules, then reports per schedule, width and fraction the
multiplier with the lowest seed-mean validation loss, its loss against the rule's (x1), and whether
the best is interior to the scan. A drifting optimum (best multiplier moving with width) would mean
the fan-in exponent or a per-layer rule must change; one that differs between schedules, that the
rule's constant should be set per schedule. With --png it draws the optimum per width.

    python benchmarks/lr_scan.py --db artifacts/lr_scan.duckdb [--json] [--png docs/lr_scan.png]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scaling.core import grid
from scaling.core.config import LR_SCHEDULES
from scaling.store import Store  # noqa: E402
from scaling.training import devices  # noqa: E402
from scaling.workers import jobs

WIDTHS = "-4:8"          # widths 1, 2, 3, 4, 6, 8, 11, 16, 23, 32, 45
FRACTIONS = "1/64,1/16"  # 937 and 3,750 examples: one epoch of 15 and 59 steps
SEEDS = "0:3"
MULTS = "0.25,0.5,1,2,4"
SCHEDULES = "constant,cosine"


def scan_table(runs):
    """Per schedule, width and fraction: seed-mean loss at each multiplier, the best one, and its margin."""
    ok = runs[(runs["status"] == "ok") & (runs["lr_rule"] == "fan_in") & (runs["dropout"] == 0)]
    keys = ["lr_schedule", "width_step", "width", "data_fraction"]
    mean = ok.groupby([*keys, "lr_mult"])["val_loss"].agg(["mean", "std", "count"])
    rows = []
    for (sched, k, w, f), g in mean.groupby(level=[0, 1, 2, 3]):
        g = g.droplevel([0, 1, 2, 3])
        best = float(g["mean"].idxmin())
        mults = sorted(g.index)
        rows.append(dict(lr_schedule=sched, width_step=int(k), width=int(w), data_fraction=float(f), best_mult=best,
                         best_loss=float(g["mean"].min()), rule_loss=float(g["mean"].get(1.0, math.nan)),
                         interior=mults[0] < best < mults[-1], seeds=int(g["count"].min()),
                         losses={f"{m:g}": round(float(v), 4) for m, v in g["mean"].items()}))
    return rows


def chart(rows, path: Path) -> None:
    import altair as alt
    import pandas as pd
    import vl_convert as vlc

    df = pd.DataFrame(rows).assign(fraction=lambda d: d["data_fraction"].map(lambda f: f"1/{round(1 / f)}"))
    c = alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("width:Q", scale=alt.Scale(type="log", domain=[0.9, 50]), title="width (channels of conv1)",
                axis=alt.Axis(values=sorted(df["width"].unique().tolist()))),
        y=alt.Y("best_mult:Q", scale=alt.Scale(type="log", domain=[0.25, 4]),
                axis=alt.Axis(values=[0.25, 0.5, 1, 2, 4]), title="best multiplier of 0.1/√fan_in (seed mean)"),
        color=alt.Color("fraction:N", title="data fraction")).properties(width=380, height=240).facet(
        column=alt.Column("lr_schedule:N", title="lr schedule")).properties(
        title="The learning-rate rule's best multiplier per width (Adam, one epoch)")
    path.write_bytes(vlc.vegalite_to_png(c.to_json(), scale=2))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="artifacts/lr_scan.duckdb")
    ap.add_argument("--widths", default=WIDTHS)
    ap.add_argument("--fractions", default=FRACTIONS)
    ap.add_argument("--seeds", default=SEEDS)
    ap.add_argument("--mults", default=MULTS)
    ap.add_argument("--schedules", default=SCHEDULES)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--png", help="write the chart of the best multiplier per width here")
    args = ap.parse_args(argv)
    Path(args.db).parent.mkdir(parents=True, exist_ok=True)
    store = Store(args.db)
    configs = grid.expand(grid.width_steps("--widths", args.widths), grid.fractions("--fractions", args.fractions),
                          grid.int_steps("--seeds", args.seeds), [0.0], grid.floats("--mults", args.mults, 1e-6, 1e6),
                          lr_schedules=grid.strings("--schedules", args.schedules, LR_SCHEDULES), max_runs=10**5)
    device = devices.resolve_device(args.device)
    t0 = time.perf_counter()
    store.enqueue(configs, label="lr scan")
    p = jobs.work(store, device, [c.run_id for c in configs])
    wall = time.perf_counter() - t0
    ids = {c.run_id for c in configs}
    runs = store.runs(status=None)
    rows = scan_table(runs[runs["run_id"].isin(ids)])
    if args.png:
        chart(rows, Path(args.png))
    if args.json:
        print(json.dumps(dict(device=devices.device_name(device), trained=p.trained, wall_s=round(wall, 1), rows=rows),
                         indent=1))
        return 0
    print(f"{len(configs)} runs ({p.trained} trained now, {wall:.0f} s) on {devices.device_name(device)}")
    print(f"{'schedule':>8} {'width':>5} {'fraction':>8} {'best x':>6} {'loss':>7} {'at x1':>7} interior  "
          "seed-mean loss per multiplier")
    for r in rows:
        print(f"{r['lr_schedule']:>8} {r['width']:>5} {'1/' + str(round(1 / r['data_fraction'])):>8} {r['best_mult']:>6g} {r['best_loss']:>7.4f} "
              f"{r['rule_loss']:>7.4f} {'yes' if r['interior'] else 'NO ':>8}  {r['losses']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
