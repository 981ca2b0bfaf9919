"""What a training worker in a session of its own takes from the page while it fills the cores.

Linux's autogroup shares the CPU between sessions before niceness counts inside one, and the app
starts its worker in a session of its own (`workers/jobs.ensure_worker`). Here a stand-in for that
worker (as many spinning processes as cores, in a new session) runs at niceness 10, either as the
app used to leave it (its session's group at 0: `os.nice` alone) or as `jobs.lower_priority` leaves
it (the group lowered too), while this process times a stand-in for a slider move: two processes
(the page's server and the browser's renderer) that each need `--cpu-ms` of CPU, started together.

Run: .venv/bin/python benchmarks/bench_autogroup.py [--moves 15] [--cpu-ms 150]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from browser_harness import load, processor  # noqa: E402

# the trainer's stand-in: `how` is "os.nice" (before) or "lower_priority" (jobs.lower_priority)
TRAINER = """
import multiprocessing as mp, os, sys
from scaling.workers import jobs
os.nice(10) if sys.argv[1] == "os.nice" else jobs.lower_priority(10)
def spin():
    while True:
        pass
for _ in range(os.cpu_count() - 1):
    mp.Process(target=spin).start()
spin()
"""


def spin_for(cpu_s: float) -> None:
    start = time.process_time()
    while time.process_time() - start < cpu_s:
        pass


def move(cpu_s: float) -> float:
    """Wall seconds until two processes that each need `cpu_s` of CPU are done."""
    t = time.perf_counter()
    procs = [mp.Process(target=spin_for, args=(cpu_s,)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--moves", type=int, default=15)
    ap.add_argument("--cpu-ms", type=float, default=150)
    args = ap.parse_args()
    if not Path("/proc/self/autogroup").exists():
        sys.exit("this kernel has no autogroup (/proc/self/autogroup): nothing to measure")
    print(f"processor: {processor()}; {load()}; autogroup enabled: "
          f"{Path('/proc/sys/kernel/sched_autogroup_enabled').read_text().strip()}")
    cpu_s = args.cpu_ms / 1e3
    for label, how in (("no training", None), ("trainer at nice 10, its session's group at 0 (before)", "os.nice"),
                       ("trainer at nice 10, its session's group at 10 (jobs.lower_priority)", "lower_priority")):
        trainer = None
        if how:
            trainer = subprocess.Popen([sys.executable, "-c", TRAINER, how], start_new_session=True, cwd=ROOT,
                                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
            time.sleep(2.0)  # its interpreter up and spinning
        walls = [move(cpu_s) for _ in range(args.moves)]
        if trainer:
            os.killpg(trainer.pid, 9)
            trainer.wait()
        print(f"{label}: a move of 2 x {args.cpu_ms:g} ms of CPU takes {1e3 * statistics.median(walls):.0f} ms "
              f"(median of {args.moves}; min {1e3 * min(walls):.0f}, max {1e3 * max(walls):.0f})")


if __name__ == "__main__":
    main()
