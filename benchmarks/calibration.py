"""Do the 95% intervals cover 95% at the noise real runs have? Synthetic sweeps from known laws,
the whole analysis on each.

The noise is measured, not assumed: by default the shipped grid's (fit.seed_noise at dropout 0:
SD of ln L 0.231 per run, ~4% of its variance shared by one seed's widths), or any database's or
export's (--noise-from), and the benchmark runs at that noise and at twice it. Each case draws
--sweeps sweeps on the exercise's grid (the real CNN's N and FLOPs, widths 1..45, fractions
1/128..1, 3 seeds), runs analyze() with its bootstrap, and reports for every exponent the app
shows how often it answers, its bias and spread against the truth, and how often its widened
percentile interval (what the app shows) covers the truth; and the same for the verdict's answer
(its estimate and interval: the parametric one, or the form-free ones' hull).

Cases: two well-specified laws (the H100 grid's own fit, and the shipped grid's dropout-0 fit) and
misspecified forms of different kinds: the sum of the two terms raised to a power (a frontier that
bends), and a power mean of the two terms, with a sharper corner where one term takes over (p = 2)
or a softer one (p = 0.5, as the shipped grid's own power-mean fit has).
Truths: alpha and beta are the law's where it has that form; every N_opt exponent's truth is the
slope of the true loss surface's N_opt(C), minimised along the CNN's own N(width) and C/D(width)
over the grid's budgets (fit.real_compute), so the envelope, IsoFLOP and parametric estimators are
all judged against the same number; alpha_C's truth is its estimate on the noiseless sweep under the
law (form and fitting loss) that the sweep's backtest chose.

Rows: a_parametric is the interval the app shows (the sum form's, widened to cover a power mean's
answer: fit.form_uncertainty), a_parametric_sum_only the sum form's own, a_power_mean the power-mean
refit's point estimate. --debias N_SIM also shifts the envelope and IsoFLOP estimates and intervals by
their bias at the measured noise, read off N_SIM sweeps simulated from the power-mean fit (fit.debias;
the app's default with 30), and reports those rows and the verdict's answer with the shift
(verdict_debiased: what the app leads with). --alpha-c measures alpha_C alone: the law the backtest
chooses (fit.frontier_law) against the pure Huber law (fast). --raw keeps every sweep's numbers.

    python benchmarks/calibration.py [--sweeps 100] [--boot 100] [--jobs 2] [--noise-from DB] [--debias 30] [--json]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scaling.core import arch  # noqa: E402
from scaling.fit import analyze, synthetic_sweep, verdict  # noqa: E402
from scaling.fit.analysis import _debiased  # noqa: E402
from scaling.fit.intervals import bootstrap_interval  # noqa: E402
from scaling.fit.real_compute import compute_path, nopt_along  # noqa: E402
from scaling.fit.resample import SCHEMES  # noqa: E402
from scaling.fit.runs import CONFIG_KEYS  # noqa: E402
from scaling.fit.seed_noise import seed_noise as measure_noise  # noqa: E402

# The parametric fit of the H100 exercise grid at dropout 0 (benchmarks/results/)
H100 = dict(E=0.0303, A=10.25, B=195.5, alpha=0.556, beta=0.843)
# The parametric fit of the shipped CPU grid at dropout 0 (scaling fit on exercise_grid.parquet)
SHIPPED_FIT = dict(E=0.0374, A=120.1, B=245.2, alpha=0.807, beta=0.869)
CASES = {
    "h100 law": dict(truth=H100),
    "shipped-grid law": dict(truth=SHIPPED_FIT),
    "sum to a power (bends)": dict(truth=H100, bend=0.3),
    "power mean (p = 2)": dict(truth=H100, power_mean=2.0),
    # a softer corner, as the shipped grid's own power-mean fit has (q = 0.36 to 0.38)
    "power mean (p = 0.5)": dict(truth=H100, power_mean=0.5),
    "flatter data term": dict(truth={**H100, "beta": 0.55, "B": 60.0}),
}
DEFAULT_CASES = ("h100 law", "shipped-grid law", "sum to a power (bends)", "power mean (p = 2)", "power mean (p = 0.5)")
GRIDS = {
    "exercise": dict(width_steps=arch.width_steps(-4, 7), fractions=tuple(2.0 ** -k for k in range(8)), seeds=3),
    "small": dict(width_steps=arch.width_steps(-4, 4), fractions=tuple(2.0 ** -k for k in range(7)), seeds=3),
}
NAMES = ("alpha_C", "a_envelope", "a_isoflop", "a_parametric", "alpha", "beta")
WELL_SPECIFIED = ("alpha", "beta")  # exponents whose truth exists only when the law has the fitted form


def measured_noise(source=None, dropout: float = 0.0) -> tuple[float, float]:
    """(per-run SD, shared SD) of ln L, from a database or an export (default: the shipped grid)."""
    from scaling.store.exchange import SHIPPED, read
    path = Path(source or SHIPPED)
    if path.suffix == ".parquet":
        runs = read(path).runs
    else:
        from scaling.store import Store
        runs = Store(path).runs()
    runs = runs[np.isclose(runs["dropout"].astype(float), dropout)]
    n = measure_noise(runs, [k for k in CONFIG_KEYS if k in runs.columns])
    shared = n.sd_shared if math.isfinite(n.sd_shared) else 0.0
    return math.sqrt(max(n.sd ** 2 - shared ** 2, 0.0)), shared


def _true_slope(case: dict, pts) -> float:
    """Slope of the true surface's N_opt(C) along the CNN's own compute over the grid's budgets."""
    t, p = case["truth"], case.get("power_mean", 1.0)
    path = compute_path(pts["width"], pts["params"], pts["flops"], pts["examples"])
    budgets = np.geomspace(pts["flops"].min(), pts["flops"].max(), 16)
    n = nopt_along(path, t["A"], t["alpha"], t["B"], t["beta"], budgets, p)  # a power of it has the same argmin
    ok = np.isfinite(n)
    lnB = np.log(budgets)[ok]
    return float(np.polyfit(lnB, np.log(n[ok]), 1)[0])


def truths(case: dict, grid: dict) -> tuple[dict, dict]:
    """Each exponent's truth, and the noiseless sweep's estimates (what the grid alone gives)."""
    clean = analyze(*synthetic_sweep(**grid, truth=case["truth"], bend=case.get("bend", 0.0),
                                     power_mean=case.get("power_mean", 1.0), cnn=True, noise=0.0, n_curve=10),
                    n_boot=0)
    a = _true_slope(case, clean.aggregate.points)
    wrong = case.get("bend", 0.0) != 0 or case.get("power_mean", 1.0) != 1
    t = case["truth"]
    out = dict(alpha_C=clean.loss_vs_compute.alpha, a_envelope=a, a_isoflop=a, a_parametric=a, verdict=a,
               alpha=math.nan if wrong else t["alpha"], beta=math.nan if wrong else t["beta"],
               # alpha_C of each law the backtest may choose: a sweep is judged against the one it chose
               alpha_C_laws={f"{r.form}, {r.loss}": r.alpha_C for r in clean.frontier_laws.table.itertuples()})
    target = {k: v for k, v in clean.scalars().items() if k in NAMES}
    return out, target


def _one(job):
    """One sweep: each exponent's estimate and whether its interval covers the truth."""
    case, grid, r, boot, noise, seed_noise, scheme, truth, n_sim = job
    runs, curves = synthetic_sweep(**grid, truth=case["truth"], bend=case.get("bend", 0.0),
                                   power_mean=case.get("power_mean", 1.0), cnn=True,
                                   noise=noise, seed_noise=seed_noise, seed=1000 + r, n_curve=10)
    an = analyze(runs, curves, n_boot=boot, seed=r, scheme=scheme, debias=0)
    point, out = an.scalars(), {}
    for k in NAMES:
        v = point.get(k, math.nan)
        if not math.isfinite(v) or k not in an.boot.samples:
            continue
        wide = bootstrap_interval(an.boot.samples[k], v, method="percentile", inflate=an.boot.inflate)
        # the parametric interval the app shows also covers the power-mean form's answer (fit.form_uncertainty)
        shown = an.intervals.get(k, wide) if k == "a_parametric" else wide
        t = truth["alpha_C_laws"][_law_key(an.law_choice)] if k == "alpha_C" else truth[k]
        ok = math.isfinite(t)
        # alpha_C's error is against its own law's truth; kept on the scale of the default law's
        out[k] = (v - t + truth[k] if ok else v, shown.contains(t) if ok else math.nan)
        if k == "a_parametric":
            out["a_parametric_sum_only"] = (v, wide.contains(truth[k]) if ok else math.nan)
    if an.form is not None:
        out["a_power_mean"] = (an.form.a_power_mean, math.nan)
    _verdict(out, "verdict", an, truth)
    if n_sim:  # each form-free estimate and its interval shifted by its bias simulated from the fit
        d = _debiased(an, n_sim, r)
        for k in ("a_envelope", "a_isoflop"):
            nf = d.nopt[k[2:]]
            if d.bias is not None and nf.ok and nf.interval is not None:
                out[k + "_debiased"] = (nf.a, nf.interval.contains(truth[k]))
        _verdict(out, "verdict_debiased", d, truth)
    return out


def _verdict(out, key, an, truth):
    v = verdict(an)
    if v.choice is not None:
        out[key] = (v.a, (v.lo <= truth["verdict"] <= v.hi) if math.isfinite(v.lo) else math.nan, v.basis)


def run_case(name: str, case: dict, grid: dict, sweeps: int, boot: int, noise: float, seed_noise: float,
             scheme: str | None = None, jobs: int = 1, n_sim: int = 0) -> dict:
    truth, target = truths(case, grid)
    t0 = time.perf_counter()
    truth.update({f"{k}_debiased": truth[k] for k in ("a_envelope", "a_isoflop")},
                 a_parametric_sum_only=truth["a_parametric"], a_power_mean=truth["a_parametric"],
                 verdict_debiased=truth["verdict"])
    work = [(case, grid, r, boot, noise, seed_noise, scheme, truth, n_sim) for r in range(sweeps)]
    if jobs > 1:
        with Pool(jobs) as pool:
            res = pool.map(_one, work)
    else:
        res = [_one(w) for w in work]
    rows = []
    debiased = ("a_envelope_debiased", "a_isoflop_debiased", "verdict_debiased") if n_sim else ()
    for k in (*NAMES, "a_parametric_sum_only", "a_power_mean", "verdict", *debiased):
        got = [x[k] for x in res if k in x]
        est = np.array([g[0] for g in got])
        cov = [g[1] for g in got if not (isinstance(g[1], float) and math.isnan(g[1]))]
        ok = math.isfinite(truth[k])
        row = dict(case=name, name=k, truth=round(truth[k], 4) if ok else None, answered=len(got), sweeps=sweeps,
                   bias=round(float(est.mean() - truth[k]), 4) if est.size and ok else None,
                   spread=round(float(est.std()), 4) if est.size else None,
                   coverage=round(float(np.mean(cov)), 3) if cov else None,
                   noiseless=round(target[k], 4) if k in target and math.isfinite(target[k]) else None)
        if k.startswith("verdict"):
            row["form_free"] = sum(g[2] == "form-free" for g in got)
        rows.append(row)
    return dict(rows=rows, seconds=round(time.perf_counter() - t0, 1), noise=noise, seed_noise=seed_noise,
                sweeps=res)


def _alpha_c_one(job):
    """One sweep's alpha_C under the backtest's choice of form and loss, and under the pure Huber law."""
    case, grid, r, boot, noise, seed_noise, truth = job
    runs, curves = synthetic_sweep(**grid, truth=case["truth"], bend=case.get("bend", 0.0),
                                   power_mean=case.get("power_mean", 1.0), cnn=True,
                                   noise=noise, seed_noise=seed_noise, seed=1000 + r, n_curve=10)
    out = {}
    for key, irr in (("alpha_C, backtest's law", None), ("alpha_C, pure Huber", False)):
        an = analyze(runs, curves, n_boot=boot, seed=r, estimators=(), extras=False, debias=0, irreducible=irr)
        f, choice = an.loss_vs_compute, _law_key(an.law_choice)
        if f is not None and f.alpha_interval is not None and math.isfinite(f.alpha_interval.lo):
            out[key] = (f.alpha, f.alpha_interval.contains(truth[choice]), choice)
    return out


def _law_key(law_choice: str) -> str:
    """'irreducible, huber' from Analysis.law_choice, as frontier_laws' table names it."""
    form, loss = law_choice.split(": ", 1)[1].split(", ")
    return f"{form.split()[0]}, {loss.lower()}"


def alpha_c_case(name: str, case: dict, grid: dict, sweeps: int, boot: int, noise: float, seed_noise: float,
                 jobs: int = 1) -> list[dict]:
    """alpha_C's coverage with the law the backtest chooses (fit.frontier_law), each sweep judged against
    the noiseless sweep's alpha_C under the same form and fitting loss."""
    clean = analyze(*synthetic_sweep(**grid, truth=case["truth"], bend=case.get("bend", 0.0),
                                     power_mean=case.get("power_mean", 1.0), cnn=True, noise=0.0, n_curve=10),
                    n_boot=0, estimators=(), extras=False)
    truth = {f"{r.form}, {r.loss}": r.alpha_C for r in clean.frontier_laws.table.itertuples()}
    work = [(case, grid, r, boot, noise, seed_noise, truth) for r in range(sweeps)]
    if jobs > 1:
        with Pool(jobs) as pool:
            res = pool.map(_alpha_c_one, work)
    else:
        res = [_alpha_c_one(w) for w in work]
    rows = []
    for key in ("alpha_C, backtest's law", "alpha_C, pure Huber"):
        got = [x[key] for x in res if key in x]
        err = np.array([g[0] - truth[g[2]] for g in got])
        chosen = {c: sum(g[2] == c for g in got) for c in truth}
        rows.append(dict(case=name, name=key, answered=len(got), sweeps=sweeps, bias=round(float(err.mean()), 4),
                         spread=round(float(err.std()), 4), coverage=round(float(np.mean([g[1] for g in got])), 3),
                         chosen={c: n for c, n in chosen.items() if n}, noiseless_choice=clean.law_choice))
    return rows


def _print(name, res, sweeps, boot):
    print(f"\n{name}: noise SD {res['noise']:.3f} per run + {res['seed_noise']:.3f} shared; {sweeps} sweeps, "
          f"{boot} resamples each, {res['seconds']:.0f} s")
    print(f"{'exponent':<23}{'truth':>8}{'answers':>9}{'bias':>9}{'spread':>8}{'coverage':>10}{'noiseless':>11}")
    f = lambda v, w=8, p=3: f"{v:>{w}.{p}f}" if v is not None else f"{'—':>{w}}"  # noqa: E731
    for r in res["rows"]:
        extra = f"   form-free {r['form_free']}/{r['answered']}" if "form_free" in r else ""
        print(f"{r['name']:<23}{f(r['truth'], 8, 4)}{r['answered']:>6}/{r['sweeps']:<3}{f(r['bias'], 9)}"
              f"{f(r['spread'])}{f(r['coverage'], 10)}{f(r['noiseless'], 11)}{extra}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweeps", type=int, default=100)
    ap.add_argument("--boot", type=int, default=100)
    ap.add_argument("--grid", choices=GRIDS, default="exercise")
    ap.add_argument("--cases", default=",".join(DEFAULT_CASES), help="comma list of: " + ", ".join(CASES))
    ap.add_argument("--noise-from", help="database or export whose seeds give the noise (default: the shipped grid)")
    ap.add_argument("--dropout", type=float, default=0.0, help="the family of --noise-from whose noise is measured")
    ap.add_argument("--scales", default="1,2", help="multiples of the measured noise to run at")
    ap.add_argument("--scheme", choices=SCHEMES, help="what to resample (default: the analysis' own choice)")
    ap.add_argument("--jobs", type=int, default=1, help="sweeps analysed in parallel")
    ap.add_argument("--debias", type=int, default=0, metavar="N_SIM",
                    help="also shift each N_opt estimate and interval by its bias simulated from the fit (fit.debias)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--raw", help="also write every sweep's estimates and coverage to this JSON file")
    ap.add_argument("--alpha-c", action="store_true",
                    help="only alpha_C, with the law the backtest chooses against the pure Huber law (fast)")
    args = ap.parse_args(argv)
    own, shared = measured_noise(args.noise_from, args.dropout)
    out, raw = [], []
    for scale in (float(s) for s in args.scales.split(",")):
        for name in args.cases.split(",") if args.alpha_c else ():
            for r in alpha_c_case(name, CASES[name], GRIDS[args.grid], args.sweeps, args.boot, scale * own,
                                  scale * shared, args.jobs):
                print(json.dumps(dict(r, noise_scale=scale)))
                sys.stdout.flush()
        for name in args.cases.split(",") if not args.alpha_c else ():
            res = run_case(name, CASES[name], GRIDS[args.grid], args.sweeps, args.boot, scale * own,
                           scale * shared, args.scheme, args.jobs, args.debias)
            out += [dict(r, noise_scale=scale) for r in res["rows"]]
            raw.append(dict(case=name, noise_scale=scale, sweeps=res["sweeps"]))
            if not args.json:
                _print(f"{name} at {scale:g}x the measured noise", res, args.sweeps, args.boot)
                sys.stdout.flush()
    if args.json:
        print(json.dumps(out, indent=1))
    if args.raw:
        tmp = Path(args.raw).with_suffix(".tmp")
        tmp.write_text(json.dumps(raw))
        tmp.replace(args.raw)
    return 0


if __name__ == "__main__":
    sys.exit(main())
