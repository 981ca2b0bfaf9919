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

  split         each move in two: server (the key -> the first websocket message that carries a chart,
                i.e. the script run up to its first chart) and browser (the last chart message before
                the charts were drawn -> drawn); `script` is the key -> that last chart message.
  kept          after each move has settled, how many of the charts' drawing elements (Vega's <svg> or
                <canvas>) are the ones drawn before it: a chart whose spec stays put is updated in place.
  cpu           what each part of the machine spent on a move, from the key press to the charts seen
                drawn (/proc, browser_harness.cpu_meter): the app's server, its worker process, a training
                worker, Chromium's renderer, GPU and other processes; and how many of the 2 cores were busy.
  Compare, Fit lab  the same moves on their width slider (Compare: selection A's), every chart redrawn;
                compare3: Compare with three selections.

--floor adds the same measures on benchmarks/browser_floor_app.py: one slider and the same four
charts drawn from the same rows with no fit, the cost of Streamlit and Vega alone on this machine;
its variants add what Explore adds, one at a time (pick: the click selections; page: Explore's other
elements), or draw another way (canvas, no-runs).
--before DIR measures the app in DIR (e.g. a worktree of an older commit) beside this one, move for
move on the same database, alternating between the two, so the ratio holds on a loaded machine.

Run: .venv/bin/python benchmarks/bench_browser.py [--moves N] [--no-training] [--floor [--floor-variants svg,canvas,no-runs,pick,page]]
     [--before DIR]
     [--pages explore,compare,fit_lab] [--keep DIR]
Needs Debian's chromium and the python playwright package (the `[browser]` extra).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from bench_app import fill  # noqa: E402
from browser_harness import (  # noqa: E402
    alpha_locator,
    browser,
    cpu_meter,
    first_paint,
    load,
    processor,
    settle,
    streamlit_server,
    visible_charts,
)

# the sweep trained during the second half: dropout 0.1 is not in the synthetic cache
TRAINING_SWEEP = dict(widths="0:6", fractions="1/64:1/2", seeds="0:3", dropouts="0.1")

@dataclass
class Move:
    """One slider move, in seconds from the key press: every chart drawn again (`total`), the first and
    the last websocket message carrying a chart before that, and (after the move settled) how many of
    the charts' drawing elements were kept of how many."""
    total: float
    first_msg: float
    last_msg: float
    kept: int = 0
    drawn: int = 0
    cpu: dict = field(default_factory=dict)  # CPU seconds spent meanwhile, by kind (browser_harness.cpu_meter)


@dataclass
class Session:
    """A page in a browser, and the slider it moves: `slider(thumb)` is the locator of the thumb."""
    label: str
    page: object
    slider: object
    check: object = None  # a locator whose text should change with a move (Explore's α_C)
    moves: list = field(default_factory=list)
    cpu: object = None  # browser_harness.cpu_meter of its server and its Chromium


PAGES = {  # URL, and how to reach the width range's thumbs
    "explore": ("/?dropout=0", lambda page, thumb: page.get_by_role("slider", name=f"Width steps — {thumb}")),
    "compare": ("/compare", lambda page, thumb: page.get_by_role("slider", name=f"Width steps — {thumb}").first),
    # three selections (C: dropout 0 over width steps 2-7), each move refits A and tests B and C against it
    "compare3": ("/compare?c_dropout=0&c_w=2:8",
                 lambda page, thumb: page.get_by_role("slider", name=f"Width steps — {thumb}").first),
    "fit_lab": ("/fit_lab?dropout=0", lambda page, thumb: page.get_by_role("slider", name=f"Width steps — {thumb}")),
}


def open_page(page, url: str, name: str, label: str, profile: Path | None = None) -> Session:
    from playwright.sync_api import expect

    path, thumb = PAGES[name]
    page.goto(url + path, wait_until="commit")
    page.wait_for_selector('[data-testid="stVegaLiteChart"] .marks', timeout=120_000)
    page.wait_for_selector('.stApp[data-test-script-state="notRunning"]', timeout=180_000)
    if name.startswith("compare"):  # selection A's widgets are in a closed expander
        page.get_by_text("Selection A", exact=True).click()
        expect(thumb(page, "end")).to_be_visible()
    settle(page)
    return Session(label, page, lambda t: thumb(page, t), alpha_locator(page) if name == "explore" else None,
                   cpu=cpu_meter(url, profile) if profile else None)


def slider_move(sess: Session, thumb: str, key: str, n_charts: int, timeout_s: float = 90) -> Move | None:
    """Press `key` on a width-range thumb; the time until all n_charts charts have changed, split."""
    page = sess.page
    before = sess.check.inner_text() if sess.check is not None else None
    sess.slider(thumb).focus()
    cpu0 = sess.cpu() if sess.cpu else None
    page.keyboard.press(key)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        key_t, since, msgs = page.evaluate("[window.__bench.key, Object.values(window.__bench.since), window.__bench.msgs]")
        if len(since) >= n_charts:
            done = max(since)
            msgs = [m for m in msgs if m <= done] or [done]
            if sess.check is not None and sess.check.inner_text() == before:
                print(f"    (α_C unchanged after {thumb} {key}: {before})")
            cpu = dict(sess.cpu() - cpu0) if cpu0 is not None else {}  # to when the move was seen drawn
            return Move((done - key_t) / 1e3, (msgs[0] - key_t) / 1e3, (msgs[-1] - key_t) / 1e3, cpu=cpu)
        page.wait_for_timeout(20)
    print(f"    {sess.label}: move {thumb} {key}: only {len(page.evaluate('Object.keys(window.__bench.since)'))} "
          f"of {n_charts} charts redrawn in {timeout_s:g} s")
    return None


def kept(page) -> tuple[int, int]:
    """(drawing elements seen at the last key still in the page, how many there were); says which were not."""
    flags = page.evaluate("window.__bench.els.map(e => e.isConnected)")
    if not all(flags):
        print(f"    drawn anew: chart{'s' if flags.count(False) > 1 else ''} "
              f"{', '.join(str(i + 1) for i, f in enumerate(flags) if not f)} of {len(flags)} (in page order)")
    return sum(flags), len(flags)


def moves(n: int) -> list[tuple[str, str]]:
    """Keyboard steps that visit a new width range each time, starting from the full range 0-9:
    end down to 4, start up to 2, end back up to 9, start down to 0, end down again..."""
    seq = [("end", "ArrowLeft")] * 5 + [("start", "ArrowRight")] * 2 + [("end", "ArrowRight")] * 5 \
        + [("start", "ArrowLeft")] * 1
    return (seq * (n // len(seq) + 1))[:n]


def measure_moves(sessions: list[Session], n: int, still_training=lambda: True) -> None:
    """n moves on each session, alternating between them move for move (the same load for each)."""
    n_charts = {id(x): visible_charts(x.page) for x in sessions}
    for thumb, key in moves(n):
        for x in sessions:
            for y in sessions:  # idle means every app measured here is idle, not only the one that moves
                settle(y.page)
            if x.moves and x.moves[-1] is not None:
                x.moves[-1].kept, x.moves[-1].drawn = kept(x.page)
            if not still_training():
                print(f"  {x.label}: the sweep finished: stopping after {len(x.moves)} moves")
                return
            m = slider_move(x, thumb, key, n_charts[id(x)])
            x.moves.append(m)
            if m is not None:
                print(f"  {x.label}: {thumb} {key}: {1e3 * m.total:.0f} ms (server {1e3 * m.first_msg:.0f}, "
                      f"script {1e3 * m.last_msg:.0f}, browser {1e3 * (m.total - m.last_msg):.0f})")
    for x in sessions:
        settle(x.page)
        if x.moves and x.moves[-1] is not None:
            x.moves[-1].kept, x.moves[-1].drawn = kept(x.page)


def _med(v) -> str:
    return f"{1e3 * statistics.median(v):.0f}"


def summary(ms: list) -> str:
    ms = [m for m in ms if m is not None]
    if not ms:
        return "no moves measured"
    tot = sorted(m.total for m in ms)
    return (f"median {_med(tot)} ms, min {1e3 * tot[0]:.0f}, max {1e3 * tot[-1]:.0f} ms over {len(ms)} moves; "
            f"server (key -> first chart message) {_med([m.first_msg for m in ms])} ms, script (-> last chart "
            f"message) {_med([m.last_msg for m in ms])} ms, browser (-> drawn) {_med([m.total - m.last_msg for m in ms])} "
            f"ms; drawing elements kept {sum(m.kept for m in ms)} of {sum(m.drawn for m in ms)}" + cpu_summary(ms))


def cpu_summary(ms: list) -> str:
    """The CPU a move took, by kind (medians; ticks of 10 ms), and the cores that kept busy meanwhile."""
    kinds = sorted({k for m in ms for k in m.cpu}, key=CPU_KINDS.index)
    if not kinds:
        return ""
    per = {k: [m.cpu.get(k, 0.0) for m in ms] for k in kinds}
    busy = statistics.median(sum(m.cpu.values()) / m.total for m in ms)
    return ("; CPU a move: " + ", ".join(f"{k} {_med(v)}" for k, v in per.items())
            + f" ms (median; {busy:.1f} cores busy meanwhile)")


CPU_KINDS = ["server", "worker", "trainer", "renderer", "gpu", "chromium"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--moves", type=int, default=12)
    ap.add_argument("--no-training", action="store_true", help="skip the moves measured while a sweep trains")
    ap.add_argument("--keep", type=Path, default=None, help="keep the database and logs in this folder")
    ap.add_argument("--floor", action="store_true",
                    help="also time benchmarks/browser_floor_app.py: the same four charts and rows, no fit")
    ap.add_argument("--floor-variants", default="svg",
                    help="the floor's variants, measured side by side: svg, canvas, no-runs, pick, page (comma-separated)")
    ap.add_argument("--before", type=Path, default=None,
                    help="an older checkout of the app, measured beside this one move for move")
    ap.add_argument("--pages", default="explore,compare,fit_lab",
                    help="the pages whose moves are timed (none: only the floor)")
    args = ap.parse_args()
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="bench_browser_"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        run(tmp, args)
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def servers(db: Path, tmp: Path, before: Path | None):
    """This app's server, and the older checkout's beside it (or None)."""
    with streamlit_server(db, tmp / "server.log") as (url, up_s):
        if before is None:
            yield (url, up_s), None
            return
        with streamlit_server(db, tmp / "server_before.log", root=before) as (url_b, up_b):
            yield (url, up_s), (url_b, up_b)


def run(tmp: Path, args) -> None:
    from scaling import services
    from scaling.store import Store
    from scaling.workers import jobs

    db = tmp / "runs.duckdb"
    store = Store(db)
    print(f"processor: {processor()}; {load()}")
    print(f"database: {fill(store)} synthetic runs ({db})")
    pages = [p for p in args.pages.split(",") if p and p != "none"]
    results, paints = {}, {}
    if not pages:  # --pages none: the floor alone
        return floor(db, tmp, args.moves, args.floor_variants.split(","))
    with servers(db, tmp, args.before) as ((url, up_s), old):
        print(f"server healthy after {up_s:.1f} s" + (f"; before's after {old[1]:.1f} s" if old else ""))
        apps = [("after", url)] + ([("before", old[0])] if old else [])
        for label, u in apps:  # fresh servers: each one's first paint
            with browser(tmp / f"paint1_{label}") as page:
                paints[label] = [first_paint(page, u + PAGES["explore"][0])]
            print(f"first paint, fresh server ({label}): first chart at {paints[label][0]['first_chart_s']:.2f} s, "
                  f"α_C shown by {paints[label][0]['alpha_shown_by_s']:.2f} s (from navigation start)")
        for label, u in apps:
            with browser(tmp / f"paint2_{label}") as page:
                paints[label].append(first_paint(page, u + PAGES["explore"][0]))
            print(f"first paint, second session ({label}): first chart at {paints[label][1]['first_chart_s']:.2f} s")
        for name in pages:
            with ExitStack() as stack:
                sessions = []
                for label, u in apps:
                    page = stack.enter_context(browser(tmp / f"{name}_{label}"))
                    sessions.append(open_page(page, u, name, f"{name} {label}", tmp / f"{name}_{label}"))
                measure_moves(sessions, args.moves)
                for x in sessions:
                    results[x.label] = x.moves
                    x.page.screenshot(path=str(tmp / f"{x.label.replace(' ', '_')}.png"), full_page=True)
        busy, trained = [], None
        if not args.no_training:
            with browser(tmp / "profile3") as page:
                # another family than the idle moves' (dropout 0.2): nothing of it is cached yet
                first_paint(page, url + "/?dropout=0.2")
                settle(page)
                sess = Session("training", page, lambda t: page.get_by_role("slider", name=f"Width steps — {t}"),
                               alpha_locator(page), cpu=cpu_meter(url, tmp / "profile3"))
                sid, _, n_new = services.start_sweep(store, services.GridSpec(**TRAINING_SWEEP), "cpu")
                t_start = time.monotonic()
                while services.sweep_status(store, sid).running == 0:  # the worker has claimed its first stack
                    time.sleep(0.2)
                print(f"training: {n_new} runs queued (dropout 0.1), worker pid {jobs.worker_alive(store)}, "
                      f"training after {time.monotonic() - t_start:.1f} s")
                measure_moves([sess], args.moves, lambda: services.sweep_status(store, sid).active)
                busy = sess.moves
                st = services.sweep_status(store, sid)
                trained = (st.done, time.monotonic() - t_start)
                store.cancel(store.sweep_run_ids(sid))
                page.screenshot(path=str(tmp / "explore_training.png"))
            wait_for_worker_exit(store)
    print()
    print(f"processor: {processor()}; {load()} at the end")
    for label, (fp, fp2) in paints.items():
        print(f"first paint ({label}; navigation -> first chart): fresh server {fp['first_chart_s']:.2f} s; "
              f"second session {fp2['first_chart_s']:.2f} s")
    for label, ms in results.items():
        print(f"slider move -> charts redrawn, {label}, idle: {summary(ms)}")
    if not args.no_training:
        print(f"slider move -> charts redrawn, explore, while training: {summary(busy)}"
              f" ({trained[0]} runs landed in {trained[1]:.0f} s meanwhile)")
    if args.floor:
        floor(db, tmp, args.moves, args.floor_variants.split(","))


def floor(db: Path, tmp: Path, n_moves: int, variants: list[str]) -> None:
    """The same measures on a page with one slider and Explore's four charts from the same rows,
    fitted by nothing: what Streamlit and Vega cost on this machine, the least Explore could; each
    variant (browser_floor_app.py: svg, canvas, no-runs) beside the others, move for move."""
    with ExitStack() as stack:
        sessions, paints = [], {}
        for v in variants:
            url, _ = stack.enter_context(streamlit_server(db, tmp / f"floor_{v}.log", script="benchmarks/browser_floor_app.py",
                                                          FLOOR_VARIANT=v))
            with browser(tmp / f"floor1_{v}") as page:
                paints[v] = [first_paint(page, url)]
            with browser(tmp / f"floor2_{v}") as page:
                paints[v].append(first_paint(page, url))
            page = stack.enter_context(browser(tmp / f"floor3_{v}"))
            meter = cpu_meter(url, tmp / f"floor3_{v}")
            page.goto(url, wait_until="commit")
            page.wait_for_selector('[data-testid="stVegaLiteChart"] .marks', timeout=120_000)
            settle(page)
            sessions.append(Session(f"floor {v}", page, lambda t, p=page: p.get_by_role("slider", name=f"Width steps — {t}"),
                                    cpu=meter))
        measure_moves(sessions, n_moves)
    for x, v in zip(sessions, variants):
        print(f"floor ({v}; benchmarks/browser_floor_app.py, the same four charts, no fit): first paint fresh server "
              f"{paints[v][0]['first_chart_s']:.2f} s, second session {paints[v][1]['first_chart_s']:.2f} s; "
              f"slider move: {summary(x.moves)}")


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
