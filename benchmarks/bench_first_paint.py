"""Explore's first paint in headless Chromium, on a server just started and in a second session,
server after server: what a first visitor waits for.

Each round starts a fresh `streamlit run` on bench_app.fill's 1,000 synthetic runs, opens Explore as
soon as the server answers its health check and a browser is up (the worst case: a visitor there at
once; --arrive-after S: S seconds after the server answers), waits until
that page has settled (its intervals drawn), then opens Explore again in a second browser session (which
finds the default selection's intervals done), and stops the server. With --before DIR (another checkout, e.g.
`git worktree add --detach /tmp/before <commit>`) the rounds alternate between DIR and this version.
Each figure is navigation -> the first chart drawn, and -> α_C's card shown, timed in the page.

Run: .venv/bin/python benchmarks/bench_first_paint.py [--before DIR] [--rounds 5] [--arrive-after S]
Needs Debian's chromium and the python playwright package (the `[browser]` extra).
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

from bench_app import fill  # noqa: E402
from browser_harness import browser, first_paint, load, processor, settle, streamlit_server  # noqa: E402

from scaling.store import Store  # noqa: E402


def one_round(root: Path, db: Path, tmp: Path, arrive_s: float) -> tuple[dict, dict]:
    """(the fresh server's first paint, a second session's) of the app in `root`."""
    tmp.mkdir()
    with streamlit_server(db, tmp / "server.log", root=root) as (url, up_s):
        healthy = time.perf_counter()
        with browser(tmp / "fresh") as page:  # a browser takes about a second to start
            time.sleep(max(0.0, arrive_s - (time.perf_counter() - healthy)))
            nav_s = time.perf_counter() - healthy
            fresh = first_paint(page, url) | {"up_s": up_s, "nav_after_s": nav_s}
            settle(page)  # its intervals drawn: the second visitor comes to an idle server
        with browser(tmp / "second") as page:
            second = first_paint(page, url)
    return fresh, second


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, help="another checkout, measured alternately with this one")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--arrive-after", type=float, default=0.0, metavar="S",
                    help="open the first page S seconds after the server answers (default: as soon as a browser is up)")
    args = ap.parse_args()
    apps = [("after", ROOT)] + ([("before", args.before.resolve())] if args.before else [])
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        db = tmp / "runs.duckdb"
        print(f"processor: {processor()}; {load()}")
        print(f"database: {fill(Store(db))} synthetic runs")
        got = {label: [] for label, _ in apps}
        for i in range(args.rounds):
            for label, root in (apps if i % 2 == 0 else apps[::-1]):
                fresh, second = one_round(root, db, tmp / f"{label}{i}", args.arrive_after)
                got[label].append((fresh, second))
                print(f"round {i} {label}: server healthy after {fresh['up_s']:.1f} s, opened {fresh['nav_after_s']:.1f} s later; fresh server: first chart {fresh['first_chart_s']:.2f} s, "
                      f"α_C {fresh['alpha_shown_by_s']:.2f} s; second session: first chart "
                      f"{second['first_chart_s']:.2f} s, α_C {second['alpha_shown_by_s']:.2f} s", flush=True)
        print(f"\nprocessor: {processor()}; {load()} at the end")
        for label, rows in got.items():
            med = {f"{w} {k}": statistics.median(r[j][f"{k}_s"] for r in rows)
                   for j, w in enumerate(("fresh", "second")) for k in ("first_chart", "alpha_shown_by")}
            print(f"{label}: median of {len(rows)}: " + ", ".join(f"{k} {v:.2f} s" for k, v in med.items()))


if __name__ == "__main__":
    main()
