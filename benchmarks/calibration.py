"""Do the 95% intervals cover 95%? Synthetic sweeps from known laws, the whole analysis on each.

Each case draws --sweeps sweeps on a grid of the exercise (the real CNN's N and FLOPs, widths 1..45,
fractions 1/128..1, 3 seeds) from L(N, D) = E + A/N^alpha + B/D^beta at the scale of this project's
own fit of the H100 grid, with noise per run plus noise shared by every width of one seed and
fraction (a seed fixes the data subset), runs analyze() with its bootstrap on each, and reports
for every exponent the app shows: how often it answers, its bias and spread against the truth,
and the coverage of its interval, read off the same resamples two ways (percentile and
bias-corrected). The truth of alpha and beta is the law's; of the N_opt exponent, the law's
beta/(alpha + gamma beta) with the CNN's compute law C = kappa N^gamma D; of alpha_C, which a finite
grid's frontier only approximates, the estimate on the noiseless sweep (its "target"), as for the
envelope and IsoFLOP estimators, whose grid-bound bias is reported separately.

    python benchmarks/calibration.py [--sweeps 100] [--boot 200] [--json]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scaling.core import arch  # noqa: E402
from scaling.fit import analyze, synthetic_sweep  # noqa: E402
from scaling.fit.intervals import bootstrap_interval  # noqa: E402
from scaling.fit.resample import SCHEMES  # noqa: E402
from scaling.fit.runs import compute_law  # noqa: E402

# The parametric fit of the H100 exercise grid at dropout 0 (benchmarks/results/)
H100 = dict(E=0.0303, A=10.25, B=195.5, alpha=0.556, beta=0.843)
CASES = {
    "h100 law": dict(truth=H100),
    "flatter data term": dict(truth={**H100, "beta": 0.55, "B": 60.0}),
    "wrong form (bends)": dict(truth=H100, bend=0.3),
}
GRIDS = {
    "exercise": dict(width_steps=arch.width_steps(-4, 7), fractions=tuple(2.0 ** -k for k in range(8)), seeds=3),
    "small": dict(width_steps=arch.width_steps(-4, 4), fractions=tuple(2.0 ** -k for k in range(7)), seeds=3),
}
NAMES = ("alpha_C", "a_envelope", "a_isoflop", "a_parametric", "alpha", "beta")


def truths(case: dict, grid: dict) -> dict:
    """Each exponent's truth: the law's where it has one, else the noiseless sweep's estimate."""
    clean = analyze(*synthetic_sweep(**grid, truth=case["truth"], bend=case.get("bend", 0.0), cnn=True,
                                     noise=0.0, n_curve=10), n_boot=0)
    t = case["truth"]
    cfg = clean.aggregate.points
    law = compute_law(cfg["params"].to_numpy(float), cfg["examples"].to_numpy(float), cfg["flops"].to_numpy(float))
    a = t["beta"] / (t["alpha"] + law.gamma * t["beta"])
    out = dict(alpha_C=clean.loss_vs_compute.alpha, alpha=t["alpha"], beta=t["beta"], a_parametric=a,
               a_envelope=a, a_isoflop=a)
    target = {f"a_{m}": clean.nopt[m].a if clean.nopt[m].ok else math.nan for m in ("envelope", "isoflop")}
    return out, target


def run_case(name: str, case: dict, grid: dict, sweeps: int, boot: int, noise: float, seed_noise: float,
             scheme: str | None = None) -> dict:
    truth, target = truths(case, grid)
    rec = {k: dict(est=[], pct=[], bc=[], wide=[], tgt_wide=[], answered=0, reliable=0) for k in NAMES}
    t0 = time.perf_counter()
    for r in range(sweeps):
        runs, curves = synthetic_sweep(**grid, truth=case["truth"], bend=case.get("bend", 0.0), cnn=True,
                                       noise=noise, seed_noise=seed_noise, seed=1000 + r, n_curve=10)
        an = analyze(runs, curves, n_boot=boot, seed=r, scheme=scheme)
        point = an.scalars()
        for k in NAMES:
            v = point.get(k, math.nan)
            if not math.isfinite(v) or k not in an.boot.samples:
                continue
            s = an.boot.samples[k]
            pct = bootstrap_interval(s, v, method="percentile")
            bc = bootstrap_interval(s, v, method="bc")
            wide = bootstrap_interval(s, v, method="percentile", inflate=an.boot.inflate)
            x = rec[k]
            x["answered"] += 1
            x["reliable"] += wide.reliable
            x["est"].append(v)
            x["pct"].append(pct.contains(truth[k]))
            x["bc"].append(bc.contains(truth[k]))
            x["wide"].append(wide.contains(truth[k]))
            tg = target.get(k, truth[k])
            x["tgt_wide"].append(wide.contains(tg) if math.isfinite(tg) else math.nan)
    rows = []
    for k in NAMES:
        x = rec[k]
        est = np.array(x["est"])
        rows.append(dict(case=name, name=k, truth=round(truth[k], 4), answered=x["answered"], sweeps=sweeps,
                         bias=round(float(est.mean() - truth[k]), 4) if est.size else None,
                         spread=round(float(est.std()), 4) if est.size else None,
                         coverage_percentile=round(float(np.mean(x["pct"])), 3) if x["pct"] else None,
                         coverage_bc=round(float(np.mean(x["bc"])), 3) if x["bc"] else None,
                         coverage_widened=round(float(np.mean(x["wide"])), 3) if x["wide"] else None,
                         coverage_widened_of_grid_target=(round(float(np.nanmean(x["tgt_wide"])), 3)
                                                          if x["tgt_wide"] and np.isfinite(x["tgt_wide"]).any()
                                                          else None),
                         reliable=x["reliable"]))
    return dict(rows=rows, seconds=round(time.perf_counter() - t0, 1))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweeps", type=int, default=100)
    ap.add_argument("--boot", type=int, default=200)
    ap.add_argument("--grid", choices=GRIDS, default="exercise")
    ap.add_argument("--cases", default=",".join(CASES), help="comma list of: " + ", ".join(CASES))
    ap.add_argument("--noise", type=float, default=0.03, help="each run's own log-normal noise")
    ap.add_argument("--seed-noise", type=float, default=0.03, help="noise shared by a seed's runs of one fraction")
    ap.add_argument("--scheme", choices=SCHEMES, help="what to resample (default: the analysis' own choice)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    out = []
    for name in args.cases.split(","):
        res = run_case(name, CASES[name], GRIDS[args.grid], args.sweeps, args.boot, args.noise, args.seed_noise,
                       args.scheme)
        out += res["rows"]
        if not args.json:
            print(f"\n{name}: {args.sweeps} sweeps, {args.boot} resamples each of "
                  f"{args.scheme or 'the default scheme'}, {res['seconds']:.0f} s")
            print(f"{'exponent':<13}{'truth':>8}{'answers':>9}{'bias':>9}{'spread':>8}{'cov pct':>9}{'cov bc':>8}"
                  f"{'cov widened':>13}{'(grid target)':>15}")
            for r in res["rows"]:
                f = lambda v, w=8, p=3: f"{v:>{w}.{p}f}" if v is not None else f"{'—':>{w}}"  # noqa: E731
                print(f"{r['name']:<13}{r['truth']:>8.4f}{r['answered']:>6}/{r['sweeps']:<3}{f(r['bias'], 9)}"
                      f"{f(r['spread'])}{f(r['coverage_percentile'], 9)}{f(r['coverage_bc'])}"
                      f"{f(r['coverage_widened'], 13)}{f(r['coverage_widened_of_grid_target'], 15)}")
    if args.json:
        print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
