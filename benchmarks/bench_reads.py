"""What a page reads from the database after a run lands: before, the runs (and the sweeps in flight)
in one connection and every run's curve in a second one; now `Store.snapshot()`, the three in one
connection (DuckDB spends more opening the file than on these reads).

On the shipped grid's runs and curves, plus `--more` runs with 8-point curves to stand for a cache
grown over weeks; each sample writes one run with its curve (as a worker does), then times both
reads of the changed file.

Run: .venv/bin/python benchmarks/bench_reads.py [--more 0] [--samples 15]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import pandas as pd  # noqa: E402
from browser_harness import processor  # noqa: E402

from scaling import services  # noqa: E402
from scaling.core.config import RunConfig  # noqa: E402
from scaling.store import Store  # noqa: E402
from scaling.training import train  # noqa: E402


def more_runs(store: Store, n: int) -> None:
    """n more finished runs with 8-point curves, written as a worker writes them (the numbers made up)."""
    cfgs = [RunConfig(width_step=i % 8, data_fraction=1 / 2 ** (1 + i // 8 % 8), seed=100 + i // 64) for i in range(n)]
    store.add_results([train.RunResult(c, 1.0, 0.7, 1.0, 0.1, "cpu", "ok", "",
                                       tuple((int(c.examples * f), 1.0, 0.7) for f in (1 / 128, 1 / 64, 1 / 32, 1 / 16,
                                                                                      1 / 8, 1 / 4, 1 / 2, 1)))
                       for c in cfgs])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--more", type=int, default=0, help="runs with curves added to the shipped ones")
    ap.add_argument("--samples", type=int, default=15)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "runs.duckdb")
        services.import_file(store, services.shipped().path)
        more_runs(store, args.more)
        snap = store.snapshot()
        print(f"database: {len(snap.runs)} runs, {len(snap.curves)} curve points")
        before, after = [], []
        for i in range(args.samples):
            c = RunConfig(width_step=0, data_fraction=1 / 256, seed=1000 + i)
            store.add_results([train.RunResult(c, 2.0, 0.5, 1.0, 0.1, "cpu", "ok", "",
                                               tuple((e, 2.0, 0.5) for e in (64, 256, c.examples)))])
            t0 = time.perf_counter()
            with store.connect() as con:  # what the page read before: the runs and the sweeps...
                runs = store.runs(None, con)
                store.active_sweeps(con)
            curves = store.curves()  # ...and, in a second connection, every curve
            t1 = time.perf_counter()
            snap = store.snapshot()
            t2 = time.perf_counter()
            pd.testing.assert_frame_equal(snap.curves, curves)
            pd.testing.assert_frame_equal(snap.runs, runs)
            before.append((t1 - t0) * 1e3)
            after.append((t2 - t1) * 1e3)
        for label, v in (("two connections", before), ("one snapshot", after)):
            print(f"{label:16s} median {statistics.median(v):6.1f} ms (min {min(v):.1f}, max {max(v):.1f})")
    print(f"processor: {processor()}")


if __name__ == "__main__":
    main()
