"""How fast the Explore page answers a slider move with 1,000 cached runs.

Fills a fresh database with 1,000 synthetic runs written through the store (10 widths x 10 data
fractions x 5 seeds x dropout 0 and 0.2; loss from L = E + A/N^alpha + B/D^beta with seed
noise), then drives the real Explore page with streamlit's AppTest:

  point estimates: a slider change -> the page rerun that redraws every chart and the exponent
                   cards with point estimates (bootstrap switched off with SCALING_APP_BOOT=0,
                   which is exactly the part of the run before the intervals start).
  intervals:       the bootstrap that follows on the page (fit.analyze with n_boot resamples and
                   the band of the fitted law), timed on its own for the same selections.

Target: point estimates < 300 ms, intervals < 5 s. Run: .venv/bin/python benchmarks/bench_app.py
"""
from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scaling import services  # noqa: E402
from scaling.core.config import RunConfig  # noqa: E402
from scaling.store import Store  # noqa: E402
from scaling.training.train import RunResult  # noqa: E402


def fill(store: Store, widths=range(10), fractions=tuple(2.0**-k for k in range(9, -1, -1)), seeds=5,
         dropouts=(0.0, 0.2), seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    results = []
    for d in dropouts:
        E, A, B, a, b = 0.05, 60.0 * (1 + d), 40.0, 0.45 - 0.1 * d, 0.35
        for w in widths:
            for f in fractions:
                for s in range(seeds):
                    c = RunConfig(width_step=w, data_fraction=f, seed=s, dropout=d)
                    loss = (E + A * c.params ** -a + B * c.examples ** -b) * np.exp(0.03 * rng.standard_normal())
                    results.append(RunResult(c, float(loss), float(np.exp(-2 * loss)), float(loss * 0.9),
                                             1e-9 * c.flops, "synthetic", "ok"))
    store.add_results(results)
    return len(results)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench_app_"))
    try:
        run(tmp / "runs.duckdb")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(db: Path) -> None:
    store = Store(db)
    t = time.perf_counter()
    n = fill(store)
    print(f"database: {n} synthetic runs written through the store in {time.perf_counter() - t:.2f} s ({db})")
    os.environ["SCALING_DB"] = str(db)
    os.environ["SCALING_APP_BOOT"] = "0"

    from streamlit.testing.v1 import AppTest

    t = time.perf_counter()
    runs = store.runs(status=None)
    print(f"store.runs(): {1e3 * (time.perf_counter() - t):.1f} ms for {len(runs)} rows")

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    t = time.perf_counter()
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    print(f"first page load (imports, cold caches): {time.perf_counter() - t:.2f} s")

    def widget(seq, label):
        return next(w for w in seq if w.label == label)

    def alpha():
        return next(m.value for m in at.metric if m.label.startswith("α_C"))

    # every width range of at least 3 steps, each a new selection: nothing cached
    moves = [(lo, hi) for lo in range(0, 4) for hi in range(lo + 4, 10)]
    times, seen = [], set()
    for lo, hi in moves:
        widget(at.select_slider, "Width steps").set_value((lo, hi))
        t = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t)
        assert not at.exception, [e.message for e in at.exception]
        seen.add(alpha())
    ms = sorted(1e3 * x for x in times)
    print(f"slider change -> charts and point estimates redrawn (uncached selection, {len(ms)} moves): "
          f"median {statistics.median(ms):.0f} ms, p90 {ms[int(0.9 * len(ms))]:.0f} ms, max {ms[-1]:.0f} ms "
          f"({len(seen)} distinct alpha_C shown)")
    times = []
    for lo, hi in moves[:8]:
        widget(at.select_slider, "Width steps").set_value((lo, hi))
        t = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t)
    print(f"slider back to a selection seen before (cached fit): median {1e3 * statistics.median(times):.0f} ms")

    # the intervals that follow, per selection, as the page computes them
    from app_pages import ui  # noqa: F401  (BOOT: the page's resample count)

    boot = int(os.environ.get("SCALING_APP_BOOT_BENCH", "100"))
    curves = store.curves()
    bt = []
    for lo, hi in moves[:6]:
        sel = services.Selection(dropout=0.0, widths=(lo, hi))
        t = time.perf_counter()
        an = services.analysis(runs, curves, sel, n_boot=boot)
        services.law_band(an)
        bt.append(time.perf_counter() - t)
    print(f"intervals ({boot} bootstrap resamples + band), computed after the charts are drawn: "
          f"median {statistics.median(bt):.2f} s, max {max(bt):.2f} s (per selection, then cached)")
    print(f"alpha_C of the last selection: {an.loss_vs_compute.alpha:.3f} "
          f"[{an.loss_vs_compute.alpha_interval.lo:.3f}, {an.loss_vs_compute.alpha_interval.hi:.3f}], {an.n_runs} runs")


if __name__ == "__main__":
    main()
