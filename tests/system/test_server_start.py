"""The server's start and end (streamlit_app.py's st.App, app_pages/ui/runtime.py): with no visitor
yet, its start begins the fit worker; stopped by SIGTERM, as a service manager stops it, it leaves
no process behind (uvicorn exits by the signal itself, so no atexit hook runs)."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _descendants(pid: int) -> set[int]:
    parent = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                parent[int(p)] = int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):  # gone meanwhile
                continue
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out.update(kids)
        todo += kids
    return out


def _alive(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except OSError:
        return False


def _wait(cond, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (got := cond()):
        assert time.monotonic() < deadline, what
        time.sleep(0.2)
    return got


def test_a_server_stopped_by_sigterm_leaves_no_worker_behind(small_cache, tmp_path):
    db = tmp_path / "runs.duckdb"
    shutil.copy(small_cache, db)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=dict(os.environ, SCALING_DB=str(db)), stdout=log, stderr=subprocess.STDOUT)
    try:
        def healthy():
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok"
            except OSError:
                return proc.poll() is not None  # ends the wait; the assert below says why
        _wait(healthy, 60, "the server never answered")
        assert proc.poll() is None, (tmp_path / "server.log").read_text()[-2000:]
        # a health check is no visit: the start goes on to the fit worker (its fork server, the worker)
        kids = _wait(lambda: _descendants(proc.pid) if len(_descendants(proc.pid)) >= 2 else None, 90,
                     "the server's start began no fit worker")
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        left = lambda: {k for k in kids if _alive(k)}  # noqa: E731
        deadline = time.monotonic() + 15
        while left() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not left(), f"left running after SIGTERM: {left()}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for k in _descendants(proc.pid) | {k for k in locals().get("kids", ()) if _alive(k)}:
            os.kill(k, signal.SIGKILL)
