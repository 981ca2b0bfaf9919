"""Explore's first draw without the browser: services.point_estimates on nine width ranges of a
1,000-run database, split into its parts, the learning-rate offer the page computes before its charts,
and the bracketing offer it computes after them (its plan: which runs are cached or queued, their time).

    python benchmarks/bench_point_estimates.py [--db PATH] [--reps 5]

Without --db it builds bench_app.py's `fill` database (1,000 synthetic runs) in a temporary
folder. The parts are timed inside real calls (each wrapped where analyze calls it), so the same
script times any version of the code: run it on two checkouts, one after the other, on the same
machine, to compare. Prints the median and minimum over the selections and repetitions, in ms.
"""
from __future__ import annotations

import argparse
import inspect
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scaling import services  # noqa: E402
from scaling.fit import analysis as AN  # noqa: E402
from scaling.services import answers  # noqa: E402
from scaling.store import Store  # noqa: E402

PARTS = [(answers, "_check_fittable"), (AN, "Prepared"), (AN, "_aggregate_prepared"), (AN, "frontier"),
         (AN, "frontier_laws"), (AN, "point_estimates"), (AN, "selection_noise")]


CLOCK = time.perf_counter


def _timed(acc, name, fn):
    def run(*a, **k):
        t = CLOCK()
        try:
            return fn(*a, **k)
        finally:
            acc[name] += CLOCK() - t
    return run


def _database(path: str | None) -> Path:
    if path:
        return Path(path)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_app import fill  # the 1,000-run database bench_app.py's browser figures use

    db = Path(tempfile.mkdtemp()) / "runs.duckdb"
    fill(Store(db))
    return db


def _lr_offer(runs, an, sel):
    """What app_pages/ui/fits._lr_offer computes before a click, in whichever form this checkout has."""
    tuning = services.lr_tuning(an.aggregate)
    seeds = sorted(services.select(runs, sel)["seed"].unique())
    if getattr(services, "next_lr_cost", None) is not None:
        return services.next_lr_cost(tuning, seeds)
    extra = services.next_lr_configs(tuning, seeds)
    return len(extra), sum(c.flops for c in extra)


def _bracketing(s, snap, runs, an, sel, model):
    """What app_pages/ui/fits._bracketing computes on a move, in whichever form this checkout has. The
    runs' device ("synthetic") stands for this machine's: a database trained here, whose time model is fitted."""
    edge = {m: an.nopt[m] for m in ("envelope", "isoflop") if m in an.nopt and not an.nopt[m].ok}
    b = services.bracket(runs, sel, edge) if edge else None
    if b is None or b.empty:
        return None
    if hasattr(snap, "known_ids"):  # from the page's snapshot and its time model, fitted when runs land
        return services.plan(snap, b.configs, runs, "synthetic", model)
    return services.plan(s, b.configs, runs, "synthetic")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", help="a database (default: bench_app.py's fill database, built here)")
    ap.add_argument("--reps", type=int, default=5, help="passes over the nine selections")
    ap.add_argument("--cpu", action="store_true",
                    help="time this process's CPU time, not the wall clock (steadier on a shared, loaded machine)")
    args = ap.parse_args(argv)
    global CLOCK
    CLOCK = time.process_time if args.cpu else time.perf_counter
    s = Store(_database(args.db))
    snap = s.snapshot()
    runs, curves = snap.runs, s.curves()
    model = services.time_model(runs, "synthetic")
    base = services.Selection()
    base, _ = services.fit_to_options(base, services.options(runs, base.dataset))
    sels = ([replace(base, widths=(0, hi)) for hi in (9, 8, 7, 6, 5, 4)]
            + [replace(base, widths=(lo, 9)) for lo in (1, 2, 3)])
    times = defaultdict(list)
    acc = defaultdict(float)
    originals = {(mod, name): getattr(mod, name) for mod, name in PARTS}
    for (mod, name), fn in originals.items():
        setattr(mod, name, _timed(acc, name, fn))
    try:
        for sel in sels:  # warm-up: imports, caches
            services.point_estimates(runs, curves, sel)
        for _ in range(args.reps):
            for sel in sels:
                acc.clear()
                t = CLOCK()
                an = services.point_estimates(runs, curves, sel)
                times["point_estimates (all)"].append(CLOCK() - t)
                for name, v in acc.items():
                    times["  " + name].append(v)
                t = CLOCK()
                _lr_offer(runs, an, sel)
                times["lr offer (before a click)"].append(CLOCK() - t)
                t = CLOCK()
                _bracketing(s, snap, runs, an, sel, model)
                times["bracketing offer (after the charts)"].append(CLOCK() - t)
    finally:
        for (mod, name), fn in originals.items():
            setattr(mod, name, fn)
    law_kw = "law" in inspect.signature(AN.point_estimates).parameters
    print(f"{len(runs)} runs, {len(sels)} selections x {args.reps}, {'CPU' if args.cpu else 'wall'} time; "
          f"point_estimates reuses frontier_laws' law: {law_kw}")
    print(f"{'part':32s} {'median ms':>10s} {'min ms':>8s}")
    for name, v in times.items():
        print(f"{name:32s} {1e3 * statistics.median(v):10.1f} {1e3 * min(v):8.1f}")


if __name__ == "__main__":
    main()
