"""Does the planner pin a down for less compute? Synthetic laws at the measured seed noise, from a
small seed grid, four ways of spending compute, each scored by the verdict's 95% interval for a.

Each replicate draws a seed grid (widths 2..11, fractions 1/128..1/16, 3 seeds) from a known law
L = E + A/N^alpha + B/D^beta (the real CNN's N and FLOPs) with the shipped grid's seed noise (a run's
own part and the part one seed's widths share at a fraction, one draw per run), then spends compute:

- exercise: the exercise's whole grid (widths 1..45, fractions 1/128..1, 3 seeds), C_ex: the yardstick;
- planner: the seed grid, then the planner's batches in ROUNDS rounds (each planned on everything
  landed so far, the runs "trained" by drawing them from the law) up to C_ex / 2 in all;
- bracket: services.bracket's suggestion, taken again while it has one, then random batches, to C_ex / 2;
- random: the seed grid, then batches drawn at random from the planner's own candidates, to C_ex / 2.

Scored: the verdict's 95% interval for a (its width, and whether it holds the truth: the slope of the
true surface's N_opt along the CNN's own compute over the design's budgets, as benchmarks/calibration.py
scores it). No validation curves are drawn (the envelope reads the final points only).

    nice -n 10 python benchmarks/planner.py [--reps 4] [--laws h100,shipped] [--boot 100] [--jobs 2] [--json]
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
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from calibration import H100, SHIPPED_FIT, _true_slope, measured_noise  # noqa: E402

from scaling import services  # noqa: E402
from scaling.core import arch  # noqa: E402
from scaling.core.config import PROTOCOL, RunConfig  # noqa: E402
from scaling.fit import analyze, verdict  # noqa: E402
from scaling.fit.planner import plan  # noqa: E402
from scaling.fit.planner.moves import moves  # noqa: E402
from scaling.fit.planner.world import cell_key  # noqa: E402

LAWS = {"h100": dict(truth=H100), "shipped": dict(truth=SHIPPED_FIT), "bends": dict(truth=H100, bend=0.3)}
EXERCISE = dict(widths=arch.width_steps(-4, 7), fractions=[2.0 ** -k for k in range(8)], seeds=3)
SEED = dict(widths=arch.width_steps(-2, 3), fractions=[2.0 ** -k for k in range(4, 8)], seeds=3)
ROUNDS = 2
P_MISFIT = []  # each round's chance that its plan reveals a misfit (greedy.PlanResult.p_misfit)
HEDGE = False  # --hedge: plan a parametric answer for the form-free pair too (greedy.plan's hedge)
STRATEGIES = ("exercise", "planner", "bracket", "random")


def configs(grid: dict) -> list:
    return [RunConfig(width_step=w, data_fraction=f, seed=s) for w in grid["widths"] for f in grid["fractions"]
            for s in range(grid["seeds"])]


class Law:
    """A known surface and the seed noise: runs drawn from it, one draw per run, shared parts kept."""

    def __init__(self, case: dict, own: float, shared: float, rng):
        self.case, self.own, self.shared, self.rng, self.u = case, own, shared, rng, {}

    def loss(self, N, D) -> float:
        t, b = self.case["truth"], self.case.get("bend", 0.0)
        return t["E"] + (t["A"] * N ** -t["alpha"] + t["B"] * D ** -t["beta"]) ** (1 + b)

    def runs(self, cs: list) -> pd.DataFrame:
        rows = []
        for c in cs:
            key = (c.seed, cell_key(0, c.data_fraction)[1])
            if key not in self.u:
                self.u[key] = self.shared * self.rng.standard_normal()
            L = self.loss(c.params, c.examples) * math.exp(self.u[key] + self.own * self.rng.standard_normal())
            rows.append({**c.to_dict(), "run_id": c.run_id, "width": c.width, "params": c.params,
                         "examples": c.examples, "flops": c.flops, "val_loss": L, "status": "ok",
                         "protocol": PROTOCOL, "precision": "fp32", "device": "cpu", "created_at": 0})
        return pd.DataFrame(rows)


def _keys(runs: pd.DataFrame) -> set:
    return {(int(r.width_step), cell_key(0, r.data_fraction)[1], int(r.seed), float(r.lr_mult))
            for r in runs.itertuples()}


def _random_fill(law: Law, runs: pd.DataFrame, left: float, rng) -> pd.DataFrame:
    """Batches drawn at random from the planner's candidates until none fits what is left."""
    while True:
        cands = [m for m in moves(_keys(runs), 1.0) if sum(_cfg(k).flops for k in m.runs) <= left]
        if not cands:
            return runs
        m = cands[rng.integers(len(cands))]
        cs = [_cfg(k) for k in m.runs]
        left -= sum(c.flops for c in cs)
        runs = pd.concat([runs, law.runs(cs)], ignore_index=True)


def _cfg(k) -> RunConfig:
    return RunConfig(width_step=int(k[0]), data_fraction=float(k[1]), seed=int(k[2]), lr_mult=float(k[3]))


def _bracket(law: Law, runs: pd.DataFrame, left: float, rng) -> pd.DataFrame:
    sel = services.Selection()
    for _ in range(6):
        an = analyze(runs, None, n_boot=0)
        edge = {m: an.nopt[m] for m in ("envelope", "isoflop") if not an.nopt[m].ok}
        b = services.bracket(runs, sel, edge) if edge else None
        todo = sorted((c for c in (b.configs if b else []) if c.run_id not in set(runs["run_id"])),
                      key=lambda c: c.flops)
        take = []
        for c in todo:
            if c.flops <= left:
                take.append(c)
                left -= c.flops
        if not take:
            break
        runs = pd.concat([runs, law.runs(take)], ignore_index=True)
    return _random_fill(law, runs, left, rng)


def _planner(law: Law, runs: pd.DataFrame, left: float, boot: int, rep: int) -> tuple[pd.DataFrame, float, list]:
    """The runs after ROUNDS rounds of planning, the width the last plan expected, and whether each planned
    run's loss fell inside the 95% interval predicted for it."""
    expected, inside = math.nan, []
    global P_MISFIT
    P_MISFIT = []
    for r in range(ROUNDS):
        an = analyze(runs, None, n_boot=boot // 2, seed=rep)
        p = plan(an, runs, budget=left / (ROUNDS - r), seed=rep * 10 + r, hedge=HEDGE)
        if not p.configs:
            break
        expected = p.expected[2] - p.expected[1]
        P_MISFIT.append(round(p.p_misfit, 3))
        left -= p.flops
        new = law.runs(p.configs)
        inside += ((new["val_loss"] >= p.predictions["lo"]) & (new["val_loss"] <= p.predictions["hi"])).tolist()
        runs = pd.concat([runs, new], ignore_index=True)
    return runs, expected, inside


def _score(runs: pd.DataFrame, case: dict, boot: int, rep: int) -> dict:
    an = analyze(runs, None, n_boot=boot, seed=rep)
    v = verdict(an)
    truth = _true_slope(case, an.aggregate.points)
    ok = v.choice is not None and math.isfinite(v.lo)
    return dict(width=v.hi - v.lo if ok else math.inf, covers=bool(ok and v.lo <= truth <= v.hi) if ok else None,
                a=v.a, truth=truth, basis=v.basis or "none", flops=float(runs["flops"].sum()), runs=len(runs))


def replicate(job) -> list:
    law_name, rep, boot, own, shared, strategies = job
    case = LAWS[law_name]
    c_ex = sum(c.flops for c in configs(EXERCISE))
    out = []
    for name in strategies:
        t0 = time.perf_counter()
        rng = np.random.default_rng([rep, 99])
        law = Law(case, own, shared, np.random.default_rng([rep, 1]))  # the same seed grid for every strategy
        expected, inside = math.nan, []
        if name == "exercise":
            runs = law.runs(configs(EXERCISE))
        else:
            runs = law.runs(configs(SEED))
            left = c_ex / 2 - runs["flops"].sum()
            if name == "planner":
                runs, expected, inside = _planner(law, runs, left, boot, rep)
            elif name == "bracket":
                runs = _bracket(law, runs, left, rng)
            else:
                runs = _random_fill(law, runs, left, rng)
        out.append(dict(law=law_name, rep=rep, strategy=name, **_score(runs, case, boot, rep), expected=expected,
                        predicted_inside=float(np.mean(inside)) if inside else math.nan,
                        p_misfit=list(P_MISFIT) if name == "planner" else [],
                        seconds=round(time.perf_counter() - t0, 1)))
    print(f"  {law_name} replicate {rep}: " + ", ".join(f"{r['strategy']} {r['width']:.3f}" for r in out),
          file=sys.stderr, flush=True)
    return out


def summary(rows: list) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    g = df.groupby(["law", "strategy"], sort=False)
    ci = g["covers"].apply(lambda s: _binomial(int(s.dropna().astype(bool).sum()), int(s.notna().sum())))
    return pd.DataFrame({
        "replicates": g.size(),
        "compute (x C_ex)": g["flops"].mean() / sum(c.flops for c in configs(EXERCISE)),
        "median width of a": g["width"].median(),
        "planner expected": g["expected"].median(),
        "runs in predicted 95%": g["predicted_inside"].mean() if "predicted_inside" in df else math.nan,
        "answered": g["covers"].apply(lambda s: int(s.notna().sum())),
        "coverage": g["covers"].apply(lambda s: float(s.dropna().astype(bool).mean()) if s.notna().any() else math.nan),
        "coverage 95% CI": ci.map(lambda t: f"{t[0]:.2f}-{t[1]:.2f}"),
        "runs": g["runs"].mean().round(0),
        "seconds": g["seconds"].mean().round(1),
    }).dropna(axis=1, how="all").reset_index()


def _binomial(k: int, n: int) -> tuple:
    """The exact (Clopper-Pearson) 95% interval of a proportion k/n."""
    from scipy.stats import beta

    if n == 0:
        return math.nan, math.nan
    return (float(beta.ppf(0.025, k, n - k + 1)) if k > 0 else 0.0,
            float(beta.ppf(0.975, k + 1, n - k)) if k < n else 1.0)


def figure(rows: list):
    """Each replicate's interval width for a, by strategy, one panel per law (a Figure: .png(), .svg())."""
    from scaling.charts.vega import Figure

    c_ex = sum(c.flops for c in configs(EXERCISE))
    d = pd.DataFrame(rows)
    d = d[np.isfinite(d["width"])].assign(compute=lambda x: (x["flops"] / c_ex).round(2),
                                          holds=lambda x: np.where(x["covers"] == True, "holds the truth", "misses it"))  # noqa: E712
    d["strategy"] = d["strategy"].map({"exercise": "exercise grid (C_ex)", "planner": "planner (C_ex/2)",
                                       "bracket": "bracketing + random (C_ex/2)", "random": "random (C_ex/2)"})
    order = ["exercise grid (C_ex)", "planner (C_ex/2)", "bracketing + random (C_ex/2)", "random (C_ex/2)"]
    x = {"field": "strategy", "type": "nominal", "sort": order, "title": None, "axis": {"labelAngle": -30}}
    y = {"field": "width", "type": "quantitative", "title": "width of the verdict's 95% interval for a"}
    color = {"field": "strategy", "type": "nominal", "sort": order, "legend": None}
    spec = {"data": {"name": "d"}, "facet": {"column": {"field": "law", "title": "true law"}},
            "spec": {"width": 220, "height": 260, "layer": [
                {"mark": {"type": "point", "filled": True, "size": 70, "opacity": 0.7},
                 "encoding": {"x": x, "y": y, "color": color,
                              "shape": {"field": "holds", "type": "nominal", "title": None,
                                        "scale": {"domain": ["holds the truth", "misses it"],
                                                  "range": ["circle", "cross"]}, "legend": {"orient": "bottom"}},
                              "tooltip": [{"field": "rep"}, {"field": "width"}, {"field": "covers"},
                                          {"field": "compute"}]}},
                {"mark": {"type": "tick", "thickness": 3, "size": 30},
                 "encoding": {"x": x, "y": {**y, "aggregate": "median"}, "color": color}}]},
            "title": {"text": "Interval width for a reached, per replicate (tick: median)",
                      "subtitle": ["synthetic laws at the shipped grid's seed noise; lower is better; a cross: the interval misses "
                                   "the true a", "AMD EPYC, 2 cores shared with five other jobs"]}}
    return Figure(spec, {"d": d[["law", "strategy", "width", "rep", "covers", "compute", "holds"]]})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=4)
    ap.add_argument("--first-rep", type=int, default=0, help="replicates first-rep .. first-rep + reps - 1")
    ap.add_argument("--laws", default="h100,shipped")
    ap.add_argument("--boot", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--hedge", action="store_true", help="the planner hedges a parametric answer (greedy.plan)")
    ap.add_argument("--strategies", default=",".join(STRATEGIES), help="comma list of: " + ", ".join(STRATEGIES))
    ap.add_argument("--json", help="write every replicate's rows here (as each lands)")
    ap.add_argument("--table", help="print the table of the --json files (comma list) written before, and exit")
    ap.add_argument("--png", help="with --table: also draw its chart into this PNG file")
    args = ap.parse_args(argv)
    global HEDGE
    HEDGE = args.hedge
    if args.table:
        rows = [r for f in args.table.split(",") for r in json.loads(Path(f).read_text())]
        print(summary(rows).to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        if args.png:
            tmp = Path(args.png).with_suffix(".tmp")
            tmp.write_bytes(figure(rows).png())
            tmp.replace(args.png)
        return 0
    own, shared = measured_noise()
    # replicate-major: an interrupted run has every law at (nearly) the same number of replicates
    work = [(law, rep, args.boot, own, shared, args.strategies.split(","))
            for rep in range(args.first_rep, args.first_rep + args.reps) for law in args.laws.split(",")]
    t0 = time.perf_counter()
    rows = []

    def keep(rs):  # every replicate written as it lands: an interrupted run keeps what it did
        rows.extend(rs)
        if args.json:
            tmp = Path(args.json).with_suffix(".tmp")
            tmp.write_text(json.dumps(rows, default=float, indent=1))
            tmp.replace(args.json)

    if args.jobs > 1:
        with Pool(args.jobs) as pool:
            for rs in pool.imap_unordered(replicate, work):
                keep(rs)
    else:
        for w in work:
            keep(replicate(w))
    print(f"noise SD {own:.3f} per run + {shared:.3f} shared; {args.reps} replicates per law, {args.boot} resamples; "
          f"{time.perf_counter() - t0:.0f} s")
    print(summary(rows).to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
