"""What a fresh process's first Explore run imports before its first chart, and what that costs.

Each sample is a new Python process (as a freshly started server's first script run): it imports
streamlit, then runs the app's script under AppTest on 1,000 synthetic cached runs and notes, at the
first chart, the seconds since the script started (wall and the script thread's CPU) and sys.modules.
Then a second new process imports exactly those of the app's modules (`scaling`, `app_pages`) after
streamlit, timed (CPU), which is the import share of that first run. With --before DIR (another
checkout, e.g. `git worktree add /tmp/before <commit>`) both versions run, alternating.

Run: .venv/bin/python benchmarks/bench_first_imports.py [--before DIR] [--repeats 5] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from bench_app import fill  # noqa: E402
from browser_harness import load, processor  # noqa: E402

from scaling.store import Store  # noqa: E402

# Modules the first chart never calls: the planner, the studies, Your curves, the trainer.
LATER = ("scipy.stats", "scaling.fit.planner", "scaling.fit.studies", "scaling.fit.curves", "torch")

FIRST_RUN = """
    import json, os, sys, time
    from streamlit import delta_generator as dg
    from streamlit.runtime.scriptrunner import script_runner as sr
    from streamlit.testing.v1 import AppTest

    start, run = {}, sr.ScriptRunner._run_script
    def timed(self, *a, **k):
        start.update(wall=time.perf_counter(), cpu=time.thread_time())
        return run(self, *a, **k)
    enqueue = dg.DeltaGenerator._enqueue
    def first_chart(self, delta_type, *a, **k):
        if "vega" in delta_type:
            print(json.dumps({"wall_s": time.perf_counter() - start["wall"], "cpu_s": time.thread_time() - start["cpu"],
                              "modules": sorted(sys.modules)}), flush=True)
            os._exit(0)
        return enqueue(self, delta_type, *a, **k)
    sr.ScriptRunner._run_script, dg.DeltaGenerator._enqueue = timed, first_chart
    AppTest.from_file(os.path.join(os.environ["APP_ROOT"], "streamlit_app.py"), default_timeout=300).run()
    sys.exit("no chart drawn")
"""
IMPORTS = """
    import importlib, json, sys, time
    import streamlit, streamlit.testing.v1
    mods = json.load(sys.stdin)
    t = time.process_time()
    for m in mods:
        importlib.import_module(m)
    print(time.process_time() - t)
"""


def _python(code: str, root: Path, db: Path, stdin: str = "") -> str:
    env = dict(os.environ, PYTHONPATH=str(root), APP_ROOT=str(root), SCALING_DB=str(db), OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=root, env=env, input=stdin,
                         capture_output=True, text=True, timeout=600)
    if out.returncode:
        raise SystemExit(f"{root}: {out.stderr[-2000:]}")
    return out.stdout.strip().splitlines()[-1]


def sample(root: Path, db: Path) -> dict:
    first = json.loads(_python(FIRST_RUN, root, db))
    mods = first.pop("modules")
    app = [m for m in mods if m.split(".")[0] in ("scaling", "app_pages")]
    later = [p for p in LATER if p in mods]
    imports_cpu = float(_python(IMPORTS, root, db, json.dumps(app)))
    return {**first, "imports_cpu_s": imports_cpu, "app_modules": len(app), "later_modules": later}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, help="another checkout, run alternating with this one")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    roots = {"before": a.before.resolve(), "after": ROOT} if a.before else {"this": ROOT}
    with tempfile.TemporaryDirectory(prefix="bench_first_imports_") as tmp:
        db = Path(tmp) / "runs.duckdb"
        fill(Store(db))
        runs = {name: [] for name in roots}
        for _ in range(a.repeats):
            for name, root in roots.items():
                runs[name].append(sample(root, db))
    out = {"processor": processor(), "load": load(), "repeats": a.repeats, "versions": {}}
    for name, rows in runs.items():
        out["versions"][name] = {k: statistics.median(r[k] for r in rows) for k in ("wall_s", "cpu_s", "imports_cpu_s")}
        out["versions"][name].update(app_modules=rows[0]["app_modules"], later_modules=rows[0]["later_modules"])
    if a.json:
        print(json.dumps(out, indent=1))
        return 0
    print(f"{out['processor']}, {out['load']}; medians of {a.repeats} fresh processes")
    for name, v in out["versions"].items():
        print(f"{name:>6}: script start -> first chart {v['wall_s']:.2f} s wall, {v['cpu_s']:.2f} s CPU; importing its "
              f"{v['app_modules']} app modules {v['imports_cpu_s']:.2f} s CPU; later modules imported: "
              f"{', '.join(v['later_modules']) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
