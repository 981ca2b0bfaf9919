"""Learning-curve extrapolation benchmark (Alabdulmohsin, Neyshabur and Zhai 2022, "Revisiting
Neural Scaling Laws in Language and Vision"): scaling.fit.curves on each curve, beside the
paper's own methods.

Each (Domain, Task, Model) curve is fitted on its Training == 1 rows and scored on its
Training == 0 rows by sqrt(mean((log predicted - log observed)^2)); the figures are the mean and
median of that over curves, per domain and overall. Targets on the language set: mean <= 0.0116
(M4's) and median <= 0.0062 (M3's), every curve answered, the whole set in <= 10 s on 2 cores.

The vision set (72 curves) runs too when given with --vision, or when a benchmark.vision.csv
lies beside the language file. It is the paper's data/benchmark.vision.csv (public repository
google-research/google-research, folder revisiting_neural_scaling_laws/); it is not shipped here.

Run:  .venv/bin/python benchmarks/extrapolation.py [--json] [--compare] [--vision PATH]
      --compare adds each form alone, the choice without each form, and the choice and the
      average at several backtest hold-outs.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scaling.fit.curves import AUTO_FORMS, COMBINE, HOLDOUT, benchmark  # noqa: E402
from scaling.fit.curves.results import jsonable  # noqa: E402

LANG = Path(__file__).resolve().parents[1] / "tests" / "data" / "extrapolation_benchmark_lang.csv"
TARGET_MEAN, TARGET_MEDIAN, TARGET_SECONDS = 0.0116, 0.0062, 10.0


def processor() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return platform.processor() or "unknown processor"


def measure(path: Path, **options) -> dict:
    run = benchmark.run(path, **options)
    s = run.summary()
    return dict(file=str(path), options=options, seconds=run.seconds, answered=run.answered,
                n_curves=len(run.curves),
                summary={d: dict(mean=r["mean"], median=r["median"], curves=int(r["curves"]))
                         for d, r in s.iterrows()},
                curves=run.curves.to_dict(orient="records"))


def print_set(name: str, m: dict, paper: dict | None) -> None:
    print(f"\n{name}: {m['n_curves']} curves, {m['answered']} answered, {m['seconds']:.2f} s "
          f"(backtest hold-out {HOLDOUT:g} of the log-x range, {COMBINE})")
    print(f"  {'domain':<8}{'curves':>7}{'mean':>9}{'median':>9}")
    for d, r in m["summary"].items():
        print(f"  {d:<8}{r['curves']:>7}{r['mean']:>9.4f}{r['median']:>9.4f}")
    if paper:
        print("  the paper's methods, its own code, all curves (mean / median):")
        for k, (mean, med) in paper.items():
            print(f"    {k:<26}{mean:.4f} / {med:.4f}")
    else:
        print("  the paper's methods: not run here with the paper's code on this set; this package's")
        print("  implementations of its forms, each alone: --compare")
    print(f"  {'domain':<7}{'task':<22}{'model':<16}{'form':<14}{'log-RMSE':>9}")
    for c in m["curves"]:
        print(f"  {c['domain']:<7}{str(c['task'])[:21]:<22}{str(c['model'])[:15]:<16}{c['form']:<14}"
              f"{c['rmse_log']:>9.4f}")


def compare(path: Path) -> list[dict]:
    """Each form alone, the backtest's choice without each form, and the choice and the average
    at several hold-outs."""
    rows = []
    for form in AUTO_FORMS:
        m = measure(path, form=form)
        rows.append(dict(config=f"{form} alone", seconds=m["seconds"], summary=m["summary"]))
    for form in AUTO_FORMS:
        m = measure(path, forms=tuple(f for f in AUTO_FORMS if f != form))
        rows.append(dict(config=f"auto without {form}", seconds=m["seconds"], summary=m["summary"]))
    for combine in ("select", "average"):
        for h in (0.15, 0.2, 0.25, 0.3):
            m = measure(path, holdout=h, combine=combine)
            rows.append(dict(config=f"auto {combine}, hold-out {h:g}", seconds=m["seconds"], summary=m["summary"]))
    return rows


def print_compare(rows: list[dict]) -> None:
    domains = list(rows[0]["summary"])
    print("\n  " + f"{'configuration':<30}" + "".join(f"{d + ' mean/median':>22}" for d in domains) + f"{'s':>7}")
    for r in rows:
        cells = "".join(f"{r['summary'][d]['mean']:>12.4f} /{r['summary'][d]['median']:>7.4f}" for d in domains)
        print(f"  {r['config']:<30}{cells}{r['seconds']:>7.2f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lang", type=Path, default=LANG, help="the language benchmark CSV")
    ap.add_argument("--vision", type=Path, default=None,
                    help="the vision benchmark CSV (default: benchmark.vision.csv beside --lang, if there)")
    ap.add_argument("--compare", action="store_true", help="also each form alone and the average")
    ap.add_argument("--json", action="store_true", help="machine-readable output")
    args = ap.parse_args(argv)
    vision = args.vision or (args.lang.parent / "benchmark.vision.csv")
    cpu = processor()
    out = dict(processor=cpu, holdout=HOLDOUT, combine=COMBINE, sets={})
    out["sets"]["lang"] = measure(args.lang)
    out["sets"]["lang"]["paper"] = {k: dict(mean=a, median=b) for k, (a, b) in benchmark.PAPER_LANG.items()}
    if vision.exists():
        out["sets"]["vision"] = measure(vision)
    elif args.vision:
        ap.error(f"no file {vision}")
    if args.compare:
        out["compare"] = {name: compare(Path(s["file"])) for name, s in out["sets"].items()}
    lang = out["sets"]["lang"]["summary"]["all"]
    out["targets"] = dict(mean=TARGET_MEAN, median=TARGET_MEDIAN, seconds=TARGET_SECONDS,
                          met=bool(lang["mean"] <= TARGET_MEAN and lang["median"] <= TARGET_MEDIAN
                                   and out["sets"]["lang"]["answered"] == out["sets"]["lang"]["n_curves"]
                                   and out["sets"]["lang"]["seconds"] <= TARGET_SECONDS))
    if args.json:
        print(json.dumps(jsonable(out), indent=1))
        return 0
    print(f"Learning-curve extrapolation benchmark: scaling.fit.curves on {cpu}")
    print_set("language (NMT, LM, BB)", out["sets"]["lang"], benchmark.PAPER_LANG)
    if "vision" in out["sets"]:
        print_set("vision (IC)", out["sets"]["vision"], None)
    for name, rows in out.get("compare", {}).items():
        print(f"\n{name}: each form alone, and the backtest's choice / average by hold-out")
        print_compare(rows)
    print(f"\ntargets on the language set: mean <= {TARGET_MEAN}, median <= {TARGET_MEDIAN}, every curve "
          f"answered, <= {TARGET_SECONDS:g} s: {'met' if out['targets']['met'] else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
