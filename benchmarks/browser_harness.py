"""What benchmarks/bench_browser.py drives: a Streamlit server, a headless Chromium with a probe
installed before any page script, the first paint, and the processor and load it ran on."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter, defaultdict
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"]
# Installed before any page script: records, in page time (ms from navigation start), when the
# first chart appears; per chart the first DOM change inside its drawing after the last key press
# (charts are numbered in page order as they are seen); when websocket messages carrying a chart
# spec arrive after that key (the listener runs before Streamlit's); and, at the key, the charts'
# drawing elements, to count after the move how many are still in the page.
PROBE = r"""
(() => {
  const b = window.__bench = {firstChart: null, alpha: null, key: null, since: {}, ids: new WeakMap(), n: 0, msgs: [], els: []};
  const alphaShown = () => [...document.querySelectorAll('[data-testid="stMetric"]')].some(
    (m) => m.textContent.includes('α_C') && /^\d\.\d{3}$/.test((m.querySelector('[data-testid="stMetricValue"]') || {}).textContent || ''));
  const id = (el) => { if (!b.ids.has(el)) b.ids.set(el, ++b.n); return b.ids.get(el); };
  b.drawings = () => [...document.querySelectorAll('[data-testid="stVegaLiteChart"] .marks')];
  document.addEventListener('keydown', () => {
    b.key = performance.now(); b.since = {}; b.msgs = []; b.els = b.drawings();
  }, true);
  const NEEDLE = new TextEncoder().encode('"mark": ');
  const carriesChart = (u8) => {
    outer: for (let i = 0; i + NEEDLE.length <= u8.length; i++) {
      for (let j = 0; j < NEEDLE.length; j++) if (u8[i + j] !== NEEDLE[j]) continue outer;
      return true;
    }
    return false;
  };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (ev) => {
        if (b.key === null) return;
        const t = performance.now();
        if (ev.data instanceof ArrayBuffer && carriesChart(new Uint8Array(ev.data))) b.msgs.push(t);
      });
    }
  };
  // Vega drawing on a canvas changes no DOM: its clears and fills mark the chart as drawn instead
  const drawn = (canvas) => {
    const chart = canvas && canvas.closest && canvas.closest('[data-testid="stVegaLiteChart"]');
    if (!chart) return;
    const t = performance.now();
    if (b.firstChart === null) b.firstChart = t;
    const k = id(chart);
    if (b.key !== null && !(k in b.since)) b.since[k] = t;
  };
  for (const name of ['clearRect', 'fillRect']) {
    const orig = CanvasRenderingContext2D.prototype[name];
    CanvasRenderingContext2D.prototype[name] = function (...a) { drawn(this.canvas); return orig.apply(this, a); };
  }
  new MutationObserver((muts) => {
    const t = performance.now();
    if (b.alpha === null && alphaShown()) b.alpha = t;
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
def streamlit_server(db: Path, log: Path, root: Path = ROOT, script: str = "streamlit_app.py", **env_vars: str):
    """`streamlit run` headless against `db` (the app in `root`, its config too); yields (base URL,
    seconds until healthy)."""
    port = free_port()
    env = dict(os.environ, SCALING_DB=str(db), PYTHONPATH=str(root), **env_vars)  # `scaling` from `root`, not the caller's path
    t0 = time.perf_counter()
    with open(log, "w") as out:
        # with $TRACE_LOG, every script run's timeline is written there (benchmarks/trace_streamlit.py)
        launcher = [str(ROOT / "benchmarks" / "trace_streamlit.py")] if os.environ.get("TRACE_LOG") else ["-m", "streamlit"]
        proc = subprocess.Popen(
            [sys.executable, *launcher, "run", str(root / script), "--server.port", str(port),
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
    """A Chromium (its own profile) with PROBE installed; several may be open at once."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        raise SystemExit("no chromium found: apt-get install chromium")
    ctx = _playwright().chromium.launch_persistent_context(
        str(profile), executable_path=exe, args=CHROMIUM_ARGS, headless=True, viewport={"width": width, "height": height})
    try:
        ctx.add_init_script(PROBE)
        page = ctx.new_page()
        page.set_default_timeout(120_000)
        yield page
    finally:
        ctx.close()


_PW = []


def _playwright():
    """One Playwright for the process (its sync API cannot be nested), stopped at exit."""
    if not _PW:
        import atexit

        from playwright.sync_api import sync_playwright

        _PW.append(sync_playwright().start())
        atexit.register(_PW[0].stop)
    return _PW[0]


def alpha_locator(page):
    return page.locator('[data-testid="stMetric"]').filter(has_text="α_C").locator('[data-testid="stMetricValue"]')


def first_paint(page, url: str) -> dict:
    """Navigate; the page's own clock gives navigation -> first chart drawn and -> α_C shown (both seen
    by the probe's observer as they change, not polled)."""
    page.goto(url, wait_until="commit")
    page.wait_for_function("window.__bench && window.__bench.firstChart !== null", timeout=120_000, polling=50)
    first = page.evaluate("window.__bench.firstChart")
    page.wait_for_function("window.__bench.alpha !== null", timeout=120_000, polling=50)
    return {"first_chart_s": first / 1e3, "alpha_shown_by_s": page.evaluate("window.__bench.alpha") / 1e3}


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process now."""
    out = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                cmd = open(f"/proc/{p}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
                out[int(p)] = (int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1]), cmd)
            except (OSError, ValueError, IndexError):  # gone meanwhile
                continue
    return out


def cpu_meter(url: str, profile: Path):
    """A function giving the CPU seconds used so far (user + system), by kind, by the server at `url`
    ("server": its `streamlit run`; "worker": the processes it started), by any training worker
    ("trainer": `scaling worker`) and by the Chromium of `profile` ("renderer", "gpu", and
    "chromium": its browser, network and other processes).
    Read twice around a move: what each part of the machine spent on it, on the same cores."""
    port, prof = url.rsplit(":", 1)[1].split("/")[0], f"={profile} "
    tick = os.sysconf("SC_CLK_TCK")

    def read() -> Counter:
        procs, kinds, out = _processes(), {}, Counter()
        children = defaultdict(list)
        for pid, (ppid, _) in procs.items():
            children[ppid].append(pid)
        roots = [pid for pid, (_, cmd) in procs.items() if f"--server.port {port} " in cmd]
        stack = list(roots)
        while stack:
            pid = stack.pop()
            kinds[pid] = "server" if pid in roots else "worker"
            stack += children[pid]
        stack = [pid for pid, (_, cmd) in procs.items() if " -m scaling worker " in cmd]
        while stack:
            pid = stack.pop()
            kinds[pid] = "trainer"
            stack += children[pid]
        for pid, (_, cmd) in procs.items():
            if prof in cmd + " ":
                kind = cmd.split("--type=", 1)[1].split()[0] if "--type=" in cmd else ""
                kinds[pid] = {"renderer": "renderer", "gpu-process": "gpu"}.get(kind, "chromium")
        for pid, kind in kinds.items():
            try:
                f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[kind] += (int(f[11]) + int(f[12])) / tick
        return out
    return read


def visible_charts(page) -> int:
    return page.evaluate("""[...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
        .filter(c => c.offsetParent !== null && c.getBoundingClientRect().width > 0).length""")


def settle(page, quiet_ms: int = 1500, timeout_s: float = 180) -> None:
    """Wait until the page's script run is over (the intervals' bootstrap included: a move measured
    while it runs would time its interruption) and no chart has changed for quiet_ms."""
    page.wait_for_selector('.stApp[data-test-script-state="notRunning"]', timeout=timeout_s * 1e3)
    page.evaluate("window.__bench.key = performance.now(); window.__bench.since = {}")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        page.wait_for_timeout(quiet_ms)
        if not page.evaluate("Object.keys(window.__bench.since).length"):
            return
        page.evaluate("window.__bench.key = performance.now(); window.__bench.since = {}")


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


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
