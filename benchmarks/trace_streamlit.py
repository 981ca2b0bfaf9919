"""`streamlit run` with a timeline of every script run written to $TRACE_LOG: when the browser's
message arrived (epoch), when the run started and ended, and each element it sent (ms into the run,
its kind, the app_pages line that sent it). What a slider move spends before its first chart, and
between its charts, read off one line per run.

Run: SCALING_DB=runs.duckdb TRACE_LOG=/tmp/trace.log .venv/bin/python benchmarks/trace_streamlit.py run streamlit_app.py
then move a slider in a browser (or under benchmarks/bench_browser.py's harness); every line of the
log is one run: `RUN <epoch> <ms> ms: <ms> <element>@<file:line> | ...`, after the `MSG <epoch> <kind>`
of the message that started it.
"""
from __future__ import annotations

import os
import sys
import threading
import time
import traceback

from streamlit import delta_generator
from streamlit.runtime import app_session
from streamlit.runtime.scriptrunner import script_runner

_log = open(os.environ["TRACE_LOG"], "a", buffering=1)
_run = threading.local()


def _caller() -> str:
    for f in reversed(traceback.extract_stack(limit=25)):
        if "app_pages" in f.filename:
            return f"{os.path.basename(f.filename)}:{f.lineno}"
    return "?"


def _patch(cls, name, wrap):
    orig = getattr(cls, name)
    setattr(cls, name, lambda self, *a, **k: wrap(orig, self, *a, **k))


def _backmsg(orig, self, msg):
    _log.write(f"MSG {time.time():.4f} {msg.WhichOneof('type')}\n")
    return orig(self, msg)


def _script(orig, self, rerun_data):
    _run.t0, _run.epoch, _run.events = time.perf_counter(), time.time(), []
    try:
        return orig(self, rerun_data)
    finally:
        ms = 1e3 * (time.perf_counter() - _run.t0)
        _log.write(f"RUN {_run.epoch:.4f} {ms:.0f} ms: " + " | ".join(_run.events) + "\n")


def _element(orig, self, delta_type, *a, **k):
    if hasattr(_run, "t0"):
        _run.events.append(f"{1e3 * (time.perf_counter() - _run.t0):.0f} {delta_type}@{_caller()}")
    return orig(self, delta_type, *a, **k)


_patch(app_session.AppSession, "handle_backmsg", _backmsg)
_patch(script_runner.ScriptRunner, "_run_script", _script)
_patch(delta_generator.DeltaGenerator, "_enqueue", _element)

if __name__ == "__main__":
    from streamlit.web.cli import main

    sys.argv = ["streamlit", *sys.argv[1:]]
    main()
