"""Explore in a real headless Chromium with 1,000 cached runs: the first paint, and a slider move
to the redrawn charts, idle and while a worker trains a sweep.

The figure that counts is the browser's, not AppTest's (benchmarks/bench_app.py): it adds the
websocket, Arrow decoding, Vega parsing and drawing, and a 2-core machine shared with the worker.

  first paint   navigation -> the first chart drawn (an <svg> or <canvas> inside a Vega chart),
                timed in the page from navigation start: on a server just started (its first script
                run imports everything and fills the caches) and in a second browser session (warm).
  slider move   a keyboard step of a width-range thumb in the sidebar -> every chart on screen drawn
                again (the latest of the charts' first DOM changes after the key; Vega draws SVG,
                so a redraw changes the DOM). Every move is a selection not seen before.
                Idle, then while the app's worker process trains a small CPU sweep queued in the
                same database (the runs landing rerun the page, as they do for a user).

Database: bench_app.fill's 1,000 synthetic runs (10 widths x 10 fractions x 5 seeds x dropout 0
and 0.2). The sweep trained meanwhile is dropout 0.1 (not cached), so the moves measured while it
trains compete with real training.

--floor adds the same measures on benchmarks/browser_floor_app.py: one slider and the same four
charts drawn from the same rows with no fit, the cost of Streamlit and Vega alone on this machine.

Run: .venv/bin/python benchmarks/bench_browser.py [--moves N] [--no-training] [--floor] [--keep DIR]
Needs Debian's chromium and the python playwright package (the `[browser]` extra).
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from bench_app import fill  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"]
# the sweep trained during the second half: dropout 0.1 is not in the synthetic cache
TRAINING_SWEEP = dict(widths="0:6", fractions="1/64:1/2", seeds="0:3", dropouts="0.1")

# Installed before any page script: records, in page time (ms from navigation start), when the
# first chart appears, and per chart the first DOM change inside its drawing after the last key
# press (charts are numbered in page order as they are seen).
PROBE = """
(() => {
  const b = window.__bench = {firstChart: null, key: null, since: {}, ids: new WeakMap(), n: 0};
  const id = (el) => { if (!b.ids.has(el)) b.ids.set(el, ++b.n); return b.ids.get(el); };
  document.addEventListener('keydown', () => { b.key = performance.now(); b.since = {}; }, true);
  new MutationObserver((muts) => {
    const t = performance.now();
    for (const m of muts) {
      const el = m.target.nodeType === 1 ? m.target : m.target.parentElement;
      const chart = el && el.closest && el.closest('[data-testid="stVegaLiteChart"]');
      if (!chart || !(el.closest('svg') || el.querySelector('svg, canvas') || el.tagName === 'CANVAS')) continue;
      if (b.firstChart === null) b.firstChart = t;
      const k = id(chart);
      if (b.key !== null && !(k in b.since)) b.since[k] = t;
    }
  }).observe(document, {childList: true, subtree: true, attributes: true, characterData: true});
})();
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(db: Path, log: Path, root: Path = ROOT, script: str = "streamlit_app.py"):
    """`streamlit run` headless against `db` (the app in `root`, its config too); yields (base URL,
    seconds until healthy)."""
    port = free_port()
    env = dict(os.environ, SCALING_DB=str(db))
    t0 = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(root / script), "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.perf_counter() - t0 > 90:
                raise RuntimeError(f"streamlit did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield url, time.perf_counter() - t0
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:  # a script run stuck in C code (a fit, an import) ignores SIGTERM
            proc.kill()
            proc.wait(10)


@contextmanager
def browser(profile: Path, width: int = 1440, height: int = 1000):
    from playwright.sync_api import sync_playwright

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        raise SystemExit("no chromium found: apt-get install chromium")
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(profile), executable_path=exe, args=CHROMIUM_ARGS,
                                                   headless=True, viewport={"width": width, "height": height})
        try:
            ctx.add_init_script(PROBE)
            page = ctx.new_page()
            page.set_default_timeout(120_000)
            yield page
        finally:
            ctx.close()


def alpha_locator(page):
    return page.locator('[data-testid="stMetric"]').filter(has_text="α_C").locator('[data-testid="stMetricValue"]')


def first_paint(page, url: str) -> dict:
    """Navigate; the page's own clock gives navigation -> first chart drawn and -> α_C shown."""
    from playwright.sync_api import expect

    page.goto(url, wait_until="commit")
    page.wait_for_function("window.__bench && window.__bench.firstChart !== null", timeout=120_000, polling=50)
    first = page.evaluate("window.__bench.firstChart")
    expect(alpha_locator(page)).to_have_text(__import__("re").compile(r"^\d\.\d{3}$"), timeout=120_000)
    cards = page.evaluate("performance.now()")  # an upper bound: polled
    return {"first_chart_s": first / 1e3, "alpha_shown_by_s": cards / 1e3}


def visible_charts(page) -> int:
    return page.evaluate("""[...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
        .filter(c => c.offsetParent !== null && c.getBoundingClientRect().width > 0).length""")


def settle(page, quiet_ms: int = 1500, timeout_s: float = 60) -> None:
    """Wait until no chart has changed for quiet_ms (the intervals' redraw included)."""
    page.evaluate("window.__bench.key = performance.now(); window.__bench.since = {}")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        page.wait_for_timeout(quiet_ms)
        if not page.evaluate("Object.keys(window.__bench.since).length"):
            return
        page.evaluate("window.__bench.key = performance.now(); window.__bench.since = {}")


def slider_move(page, thumb: str, key: str, n_charts: int, timeout_s: float = 60) -> float | None:
    """Press `key` on a width-range thumb; seconds until all n_charts charts have changed."""
    before = alpha_locator(page).inner_text()
    page.get_by_role("slider", name=f"Width steps — {thumb}").focus()
    page.keyboard.press(key)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        since = page.evaluate("[window.__bench.key, Object.values(window.__bench.since)]")
        if len(since[1]) >= n_charts:
            dt = (max(since[1]) - since[0]) / 1e3
            if alpha_locator(page).inner_text() == before:
                print(f"    (alpha unchanged after {thumb} {key}: {before})")
            return dt
        page.wait_for_timeout(20)
    print(f"    move {thumb} {key}: only {len(page.evaluate('Object.keys(window.__bench.since)'))} of "
          f"{n_charts} charts redrawn in {timeout_s:g} s")
    return None


def moves(n: int) -> list[tuple[str, str]]:
    """Keyboard steps that visit a new width range each time, starting from the full range 0-9:
    end down to 4, start up to 2, end back up to 9, start down to 0, end down again..."""
    seq = [("end", "ArrowLeft")] * 5 + [("start", "ArrowRight")] * 2 + [("end", "ArrowRight")] * 5 \
        + [("start", "ArrowLeft")] * 1
    return (seq * (n // len(seq) + 1))[:n]


def measure_moves(page, n: int, label: str, still_training=lambda: True) -> list[float]:
    n_charts = visible_charts(page)
    times = []
    for thumb, key in moves(n):
        settle(page)
        if not still_training():
            print(f"  {label}: the sweep finished: stopping after {len(times)} moves")
            break
        dt = slider_move(page, thumb, key, n_charts)
        if dt is not None:
            times.append(dt)
            print(f"  {label}: {thumb} {key}: {1e3 * dt:.0f} ms")
    return times


def summary(times: list[float]) -> str:
    if not times:
        return "no moves measured"
    ms = sorted(1e3 * t for t in times)
    return (f"median {statistics.median(ms):.0f} ms, min {ms[0]:.0f}, max {ms[-1]:.0f} ms over {len(ms)} moves")


def processor() -> str:
    name, flags = "unknown", set()
    with open("/proc/cpuinfo") as f:
        for ln in f:
            if ln.startswith("model name"):
                name = ln.split(":", 1)[1].strip()
            elif ln.startswith("flags"):
                flags = set(ln.split(":", 1)[1].split())
    isa = "AVX-512" if "avx512f" in flags else "AVX2, no AVX-512" if "avx2" in flags else "no AVX2"
    return f"{name} ({isa}), {os.cpu_count()} cores"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--moves", type=int, default=12)
    ap.add_argument("--no-training", action="store_true", help="skip the moves measured while a sweep trains")
    ap.add_argument("--keep", type=Path, default=None, help="keep the database and logs in this folder")
    ap.add_argument("--floor", action="store_true",
                    help="also time benchmarks/browser_floor_app.py: the same four charts and rows, no fit")
    args = ap.parse_args()
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="bench_browser_"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        run(tmp, args)
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


def run(tmp: Path, args) -> None:
    from scaling import services
    from scaling.store import Store
    from scaling.workers import jobs

    db = tmp / "runs.duckdb"
    store = Store(db)
    print(f"processor: {processor()}")
    print(f"database: {fill(store)} synthetic runs ({db})")
    url_explore = "/?dropout=0"
    with streamlit_server(db, tmp / "server.log") as (url, up_s):
        print(f"server healthy after {up_s:.1f} s")
        with browser(tmp / "profile1") as page:
            fp = first_paint(page, url + url_explore)
            print(f"first paint, fresh server: first chart at {fp['first_chart_s']:.2f} s, "
                  f"α_C shown by {fp['alpha_shown_by_s']:.2f} s (from navigation start)")
            settle(page)
            idle = measure_moves(page, args.moves, "idle")
        with browser(tmp / "profile2") as page:
            fp2 = first_paint(page, url + url_explore)
            print(f"first paint, second session: first chart at {fp2['first_chart_s']:.2f} s, "
                  f"α_C shown by {fp2['alpha_shown_by_s']:.2f} s")
        busy, trained = [], None
        if not args.no_training:
            with browser(tmp / "profile3") as page:
                # another family than the idle moves' (dropout 0.2): nothing of it is cached yet
                first_paint(page, url + "/?dropout=0.2")
                settle(page)
                sid, _, n_new = services.start_sweep(store, services.GridSpec(**TRAINING_SWEEP), "cpu")
                t_start = time.monotonic()
                while services.sweep_status(store, sid).running == 0:  # the worker has claimed its first stack
                    time.sleep(0.2)
                print(f"training: {n_new} runs queued (dropout 0.1), worker pid {jobs.worker_alive(store)}, "
                      f"training after {time.monotonic() - t_start:.1f} s")
                busy = measure_moves(page, args.moves, "training", lambda: services.sweep_status(store, sid).active)
                st = services.sweep_status(store, sid)
                trained = (st.done, time.monotonic() - t_start)
                store.cancel(store.sweep_run_ids(sid))
                page.screenshot(path=str(tmp / "explore_training.png"))
            wait_for_worker_exit(store)
    print()
    print(f"processor: {processor()}")
    print(f"first paint (navigation -> first chart): fresh server {fp['first_chart_s']:.2f} s; "
          f"second session {fp2['first_chart_s']:.2f} s")
    print(f"slider move -> charts redrawn, idle: {summary(idle)}")
    if not args.no_training:
        print(f"slider move -> charts redrawn, while training: {summary(busy)}"
              f" ({trained[0]} runs landed in {trained[1]:.0f} s meanwhile)")
    if args.floor:
        floor(db, tmp, args.moves)


def floor(db: Path, tmp: Path, n_moves: int) -> None:
    """The same measures on a page with one slider and Explore's four charts from the same rows,
    fitted by nothing: what Streamlit and Vega cost on this machine, the least Explore could."""
    with streamlit_server(db, tmp / "floor.log", script="benchmarks/browser_floor_app.py") as (url, _):
        with browser(tmp / "floor1") as page:
            fp = first_paint(page, url)
            settle(page)
            idle = measure_moves(page, n_moves, "floor")
        with browser(tmp / "floor2") as page:
            fp2 = first_paint(page, url)
    print(f"floor (benchmarks/browser_floor_app.py, the same four charts, no fit): first paint fresh server "
          f"{fp['first_chart_s']:.2f} s, second session {fp2['first_chart_s']:.2f} s; slider move: {summary(idle)}")


def wait_for_worker_exit(store, timeout_s: float = 120) -> None:
    """The cancelled sweep's last stack finishes, then the worker exits once idle: end it sooner
    by its own pid (this benchmark started it through the app's path)."""
    from scaling.workers import jobs

    pid = jobs.worker_alive(store)
    if pid:
        os.kill(pid, 15)
        deadline = time.monotonic() + timeout_s
        while jobs.pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)


if __name__ == "__main__":
    main()
