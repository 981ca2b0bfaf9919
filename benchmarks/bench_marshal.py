"""What a page's charts cost the server to send, per move: Explore's four figures for a width range
of the 1,000 bench runs, their data sets turned into the Arrow bytes Streamlit ships, from pandas
frames (what `st.vega_lite_chart(fig.spec())` does: pandas' Arrow metadata, column by column) and from
the Arrow tables `Figure.wire()` builds. Both give the same frames back (checked here).

Run: .venv/bin/python benchmarks/bench_marshal.py [--repeats 30]
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
import pyarrow as pa  # noqa: E402
from bench_app import fill  # noqa: E402
from browser_harness import processor  # noqa: E402
from streamlit import dataframe_util  # noqa: E402

from app_pages.ui import explore_parts  # noqa: E402
from scaling import charts, services  # noqa: E402
from scaling.store import Store  # noqa: E402


def figures(runs: pd.DataFrame, sel) -> list:
    an = services.point_estimates(runs, None, sel)
    pts, nf = an.aggregate.points, an.nopt[services.shown_nopt(an, sel)[0]]
    return [explore_parts.loss_figure(an, services.chart_runs(runs, sel)), charts.accuracy_vs_compute(pts),
            charts.nopt_vs_compute(nf, services.nopt_band(nf), data=services.nopt_data_points(an)),
            charts.bottleneck(pts, "examples")]


def shipped(spec: dict) -> list[bytes]:
    return [dataframe_util.convert_anything_to_arrow_bytes(d) for d in spec["datasets"].values()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "runs.duckdb")
        fill(store)
        runs = store.runs(status=None)
    opts = services.options(runs)
    w = opts.width_steps
    sels = [services.Selection(dropout=0.0, widths=(w[i], w[-1 - j]), fractions=(opts.fractions[0], opts.fractions[-1]))
            for i, j in ((0, 0), (1, 0), (1, 1), (2, 1), (2, 2))]
    figs = [f for sel in sels for f in figures(runs, sel) if f is not None]
    for f in figs:  # the same frames arrive either way
        for a, b in zip(shipped(f.spec()), shipped(f.wire())):
            pd.testing.assert_frame_equal(pa.ipc.open_stream(a).read_all().to_pandas().reset_index(drop=True),
                                          pa.ipc.open_stream(b).read_all().to_pandas())
    per_move = len(figs) / len(sels)
    for label, how in (("DataFrames (spec)", lambda f: shipped(f.spec())), ("Arrow tables (wire)", lambda f: shipped(f.wire()))):
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            for f in figs:
                how(f)
            times.append((time.perf_counter() - t0) / len(sels) * 1e3)
        print(f"{label:22s} {statistics.median(times):6.2f} ms a move (min {min(times):.2f}, max {max(times):.2f}), "
              f"{per_move:.0f} charts")
    print(f"processor: {processor()}")


if __name__ == "__main__":
    main()
