"""Speed of the fitting core on 1,000 synthetic cached runs (plus their validation curves).

Targets on a 2-core CPU: frontier + loss-vs-compute fit < 100 ms; the three N_opt estimators
< 1 s; 200 bootstrap resamples of everything < 5 s.

    python benchmarks/bench_fit.py [--json] [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scaling.fit import (
    aggregate,
    analyze,
    bootstrap,
    fit_power_law,
    frontier,
    nopt_envelope,
    nopt_isoflop,
    nopt_parametric,
    synthetic_sweep,
)


def thousand_runs(seed: int = 0):
    """8 widths x 8 data fractions x 3 lr multipliers x 5 seeds = 960 ok runs + 40 bad ones."""
    runs, curves = synthetic_sweep(seeds=5, lr_mults=(0.5, 1.0, 2.0), seed=seed)
    rng = np.random.default_rng(seed)
    bad = runs.iloc[rng.choice(len(runs), 40, replace=False)].copy()
    bad["run_id"] = [f"bad-{i}" for i in range(len(bad))]
    bad["status"] = ["diverged", "failed"] * 20
    bad["val_loss"] = np.nan
    return pd.concat([runs, bad], ignore_index=True), curves


def timed(fn, repeat):
    """Median wall and CPU seconds. CPU time is reported too because on a shared 2-core
    machine other processes inflate wall time; this code is single-threaded."""
    wall, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu), out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--n-boot", type=int, default=200)
    args = ap.parse_args(argv)

    runs, curves = thousand_runs()

    def frontier_fit():
        pts = frontier(aggregate(runs).points)
        return fit_power_law(pts["flops"], pts["val_loss"])

    def estimators():
        return [nopt_envelope(runs, curves), nopt_isoflop(runs), nopt_parametric(runs)]

    t_front, c_front, law = timed(frontier_fit, args.repeat)
    t_nopt, c_nopt, ests = timed(estimators, args.repeat)
    t_point, c_point, _ = timed(lambda: analyze(runs, curves, n_boot=0), args.repeat)
    t_boot, c_boot, boot = timed(lambda: bootstrap(runs, curves, n_boot=args.n_boot, seed=0), 1)

    result = dict(
        n_runs=len(runs), n_curve_points=len(curves), cpu_count=os.cpu_count(),
        load_average_1min=os.getloadavg()[0],
        frontier_and_loss_fit_ms=1e3 * t_front, frontier_and_loss_fit_cpu_ms=1e3 * c_front,
        three_nopt_estimators_ms=1e3 * t_nopt, three_nopt_estimators_cpu_ms=1e3 * c_nopt,
        analyze_point_estimates_ms=1e3 * t_point, analyze_point_estimates_cpu_ms=1e3 * c_point,
        n_boot=args.n_boot, bootstrap_everything_s=t_boot, bootstrap_everything_cpu_s=c_boot,
        alpha_C=law.alpha, a={e.method: e.a for e in ests},
        intervals={k: [v.lo, v.hi] for k, v in boot.intervals.items()},
    )
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{len(runs)} runs, {len(curves)} curve points, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'':34s}{'wall':>10s}{'cpu':>10s}")
    print(f"frontier + loss-vs-compute fit    {1e3 * t_front:7.1f} ms {1e3 * c_front:7.1f} ms"
          f"   (target < 100 ms)")
    print(f"three N_opt estimators            {1e3 * t_nopt:7.1f} ms {1e3 * c_nopt:7.1f} ms"
          f"   (target < 1000 ms)")
    print(f"analyze, point estimates only     {1e3 * t_point:7.1f} ms {1e3 * c_point:7.1f} ms"
          f"   (app target < 300 ms)")
    print(f"{args.n_boot} bootstrap resamples, all    {t_boot:7.2f} s  {c_boot:7.2f} s "
          f"   (target < 5 s)")
    print(f"alpha_C = {law.alpha:.4f}; a: " + ", ".join(f"{e.method} {e.a:.3f}" for e in ests))


if __name__ == "__main__":
    main()
