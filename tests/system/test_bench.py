"""The sweep benchmark runs end to end (its 2-run tiny grid) and prints the JSON it promises.
No timing is asserted here: speed targets belong to the benchmark, not to tests."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import bench_sweep  # noqa: E402


def test_bench_sweep_tiny_prints_its_json(capsys):
    assert bench_sweep.main(["--tiny", "--json", "--device", "cpu"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("baseline_examples_per_s", "project_examples_per_s", "speedup", "peak_fraction", "device"):
        assert key in out
    assert out["runs"] == out["baseline_runs"] == 2
    assert out["baseline_examples_per_s"] > 0 and out["project_examples_per_s"] > 0 and out["peak_fraction"] > 0
    assert out["device"].startswith("cpu")


def test_the_grids_are_the_ones_documented():
    widths, fractions, seeds, dropouts, every = bench_sweep.GRIDS["full"]
    assert len(widths) * len(fractions) * len(seeds) * len(dropouts) == 384
    assert min(fractions) == 1 / 128 and max(fractions) == 1 and dropouts == [0.0, 0.2]
    assert every == len(seeds) * len(dropouts)  # the baseline keeps one run of every width and fraction


def test_bench_native_compares_both_paths(capsys):
    import bench_native

    from scaling.training import native

    if native.lib() is None:
        assert bench_native.main(["--widths", "0", "--json"]) == 1  # says it has nothing to compare
        return
    assert bench_native.main(["--widths", "0", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["width"] == 4
    for path in ("c_kernels", "c_onednn_conv2", "torch_ops"):
        assert row[path]["train_gflops"] > 0 and row[path]["eval_s"] > 0
    assert set(row["chosen"].values()) <= set(native.VARIANTS)
    assert native.lib() is not None  # the kernels are back on afterwards


def test_lr_scan_tiny_reports_the_best_multiplier_per_width(tmp_path, capsys):
    import lr_scan

    db = str(tmp_path / "scan.duckdb")
    args = ["--db", db, "--widths=-4,-2", "--fractions", "1/1024", "--seeds", "0:2", "--mults", "0.5,1,2", "--schedules", "constant",
            "--device", "cpu", "--json"]
    assert lr_scan.main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["trained"] == 12 and [r["width"] for r in out["rows"]] == [1, 2]
    for r in out["rows"]:
        assert r["seeds"] == 2 and r["best_mult"] in (0.5, 1.0, 2.0) and set(r["losses"]) == {"0.5", "1", "2"}
        assert r["interior"] == (r["best_mult"] == 1.0)
    assert lr_scan.main(args) == 0 and json.loads(capsys.readouterr().out)["trained"] == 0  # all cached


def test_bench_first_imports_prints_its_json(capsys):
    """The first-chart import benchmark runs (one fresh process) and finds none of the later modules."""
    import bench_first_imports

    assert bench_first_imports.main(["--repeats", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    (v,) = out["versions"].values()
    assert v["later_modules"] == [] and v["app_modules"] > 0
    assert v["wall_s"] > 0 and v["cpu_s"] > 0 and v["imports_cpu_s"] > 0


def test_the_cpu_meter_counts_a_server_and_the_process_it_started(tmp_path):
    """bench_browser's CPU per move: a stand-in `streamlit run` (its command line names the port) that
    starts a child, both spinning; the meter gives the parent to "server", the child to "worker", and
    nothing to a Chromium that is not there."""
    import subprocess
    import time

    from browser_harness import cpu_meter

    spin = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.6: pass\n"
    parent = ("import subprocess, sys\n"
              f"c = subprocess.Popen([sys.executable, '-c', {spin!r}])\n{spin}c.wait()\n")
    port = "54321"
    meter = cpu_meter(f"http://127.0.0.1:{port}", tmp_path / "no-profile")
    before = meter()
    proc = subprocess.Popen([sys.executable, "-c", parent, "run", "--server.port", port, "--x"])
    time.sleep(0.5)  # both spinning: read while they are alive (a process gone is no longer read)
    during = meter() - before
    proc.wait(30)
    assert during["server"] > 0 and during["worker"] > 0, during
    assert not {"renderer", "gpu", "chromium", "trainer"} & set(during), during
