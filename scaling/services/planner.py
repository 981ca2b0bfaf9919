"""The next runs: a plan for a budget (FLOPs or time here), queueing it with its predictions written
down first, and those predictions scored as the runs land."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scaling.core.fmt import fmt_flops, fmt_s
from scaling.fit.planner import N_SIM, PlanResult, parse_target, plan
from scaling.fit.time_model import time_model
from scaling.services.answers import analysis
from scaling.services.selection import LR_TUNED, Selection, select
from scaling.services.sweeps import queue_runs
from scaling.store import Store
from scaling.store.predictions import LOSS

PLAN_BOOT = 60  # resamples behind the interval now (the app's own analysis is reused where it has one)
UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_budget(text: str) -> tuple[float, str]:
    """'2e13' (FLOPs) or '10m', '90s', '1.5h' (time on this device): (amount, 'FLOP' or 's')."""
    t = str(text).strip().lower()
    m = re.fullmatch(r"([0-9.]+(?:e[+-]?[0-9]+)?)\s*([smh]?)", t)
    value = float(m.group(1)) if m and re.fullmatch(r"[0-9]*\.?[0-9]+(e[+-]?[0-9]+)?", m.group(1)) else math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"budget {text!r}: FLOPs (e.g. 2e13) or a time on this device (e.g. 10m, 90s, 1h)")
    return (value * UNITS[m.group(2)], "s") if m.group(2) else (value, "FLOP")


def plan_runs(runs: pd.DataFrame, curves: pd.DataFrame | None, sel: Selection, budget: str | tuple,
              target: str = "a", *, device_label: str | None = None, n_boot: int = PLAN_BOOT,
              n_sim: int = N_SIM, seed: int = 0, an=None, hedge: bool = False) -> PlanResult:
    """The plan for a selection: budget as parse_budget reads it (a time needs device_label, whose
    time model prices each run). an: the selection's bootstrapped analysis, where the caller has one.
    hedge: fit.planner.plan's (a parametric answer planned for the form-free pair too)."""
    value, unit = parse_budget(budget) if isinstance(budget, str) else budget
    tgt = parse_target(target)
    if an is None:
        an = analysis(runs, curves, sel, n_boot=n_boot, seed=seed)
    cost = None
    if unit == "s":
        if device_label is None:
            raise ValueError("a budget in time needs the training device")
        tm = time_model(runs, device_label, curves)
        cost = tm.seconds
    ok = select(runs, sel)
    ok = ok[ok["status"] == "ok"]
    if sel.lr != LR_TUNED:
        ok = ok[np.isclose(ok["lr_mult"].astype(float), float(sel.lr))]
    return plan(an, ok, budget=value, cost=cost, unit=unit, target=tgt, lr=sel.lr, n_sim=n_sim, seed=seed,
                hedge=hedge)


def _iv(t: tuple) -> dict:
    est, lo, hi = (float(x) for x in t)
    ok = math.isfinite(lo) and math.isfinite(hi)
    return {"estimate": est if math.isfinite(est) else None, "lo": lo if ok else None, "hi": hi if ok else None,
            "width": hi - lo if ok else None}


def plan_json(p: PlanResult) -> dict:
    """The plan as plain data: runs (each with its fields, flops and predicted loss), interval_now, interval_expected."""
    why = {c.run_id: s.why for s in p.steps for c in s.configs}
    runs = [{**c.to_dict(), "width": c.width, "run_id": c.run_id, "flops": c.flops, "why": why[c.run_id],
             "predicted_loss": float(r.loss), "predicted_lo": float(r.lo), "predicted_hi": float(r.hi)}
            for c, r in zip(p.configs, p.predictions.itertuples())]
    return {"target": p.target.label, "estimator": p.estimator, "budget": p.budget, "unit": p.unit, "spent": p.spent,
            "flops": p.flops, "runs": runs, "interval_now": _iv(p.now), "interval_expected": _iv(p.expected),
            "n_sim": p.n_sim, "n_surfaces": p.n_surfaces, "seconds": round(p.seconds, 2),
            "p_misfit": p.p_misfit if math.isfinite(p.p_misfit) else None}


def plan_table(p: PlanResult) -> pd.DataFrame:
    """The plan's runs as a table: width, fraction, seed, compute, why, and the loss predicted."""
    j = plan_json(p)["runs"]
    cols = ["width", "data_fraction", "seed", "lr_mult", "flops", "predicted_loss", "predicted_lo", "predicted_hi", "why"]
    return pd.DataFrame(j, columns=cols)


def describe(p: PlanResult) -> str:
    """The plan in a few lines of plain text (the CLI's)."""
    cost = fmt_s(p.spent) if p.unit == "s" else fmt_flops(p.spent)
    budget = fmt_s(p.budget) if p.unit == "s" else fmt_flops(p.budget)
    now, exp = _iv(p.now), _iv(p.expected)

    def iv(d):
        return f"{d['lo']:.3f} to {d['hi']:.3f} (width {d['width']:.3f})" if d["width"] is not None else "none"

    lines = [f"target {p.target.label}, read with {p.estimator}",
             f"  95% interval now:      {iv(now)}", f"  expected after these:  {iv(exp)}",
             *([f"  chance that these runs show the form misfit (the verdict then turns to the form-free "
                f"pair): {p.p_misfit:.0%}"] if math.isfinite(p.p_misfit) else []),
             f"{len(p.configs)} runs, {fmt_flops(p.flops)} ({cost} of the budget {budget}); {p.n_sim} simulations "
             f"per design on {p.n_surfaces} surfaces, planned in {p.seconds:.1f} s"]
    for s in p.steps:
        lines.append(f"  {s.kind:<9} {len(s.configs):>3} runs {fmt_flops(s.flops):>10}  {s.why}")
    if p.configs:
        lines.append("  (--json lists every run with its fields, compute and predicted loss)")
    if p.spent < 0.9 * p.budget:
        lines.append("  (the rest of the budget buys no narrowing that the simulations can see)")
    return "\n".join(lines)


def queue_plan(store: Store, p: PlanResult, sel: Selection, device: str = "auto") -> tuple[str, int]:
    """Write the plan's predictions down, then queue its runs (a worker serves them): (sweep id, runs queued).
    The predictions are keyed by the sweep id, the plan's id."""
    label = f"plan: {p.target.label}, {len(p.configs)} runs"
    sweep_id, _, n_new = queue_runs(store, p.configs, label, device)
    rows = [dict(plan_id=sweep_id, run_id=r.run_id, quantity=LOSS, estimate=r.loss, lo=r.lo, hi=r.hi, level=0.95,
                 basis="the parametric fit and its resamples, at the measured seed noise")
            for r in p.predictions.itertuples()]
    rows.append(dict(plan_id=sweep_id, run_id="", quantity=p.target.label, estimate=p.expected[0], lo=p.expected[1],
                     hi=p.expected[2], level=0.95, basis=p.estimator, now_estimate=p.now[0], now_lo=p.now[1],
                     now_hi=p.now[2]))
    store.record_predictions([{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                               for k, v in r.items()} for r in rows])
    return sweep_id, n_new


@dataclass(frozen=True)
class Scores:
    """The planner's predictions of run losses, scored against the runs that landed.

    Attributes
    ----------
    table : DataFrame
        One row per predicted run: plan_id, run_id, estimate, lo, hi, observed, inside, log_error.
    n : int
        Predictions written down.
    landed : int
        Those whose run has landed (status ok).
    coverage : float
        Share of the landed whose loss fell inside its 95% interval (NaN before any lands).
    rms_log_error : float
        RMS of ln(observed / predicted) over the landed.
    targets : DataFrame
        One row per plan: its target, the interval then and the one expected after the plan.
    running : DataFrame
        The coverage as the runs landed: landed (1, 2, ...) and coverage over the first that many.
    """
    table: pd.DataFrame
    n: int
    landed: int
    coverage: float
    rms_log_error: float
    targets: pd.DataFrame
    running: pd.DataFrame

    def describe(self) -> str:
        if not self.n:
            return "no predictions written down yet: queue a plan's runs"
        if not self.landed:
            return f"{self.n} predictions written down; none of their runs has landed yet"
        return (f"{self.landed} of {self.n} predicted runs have landed: {self.coverage:.0%} inside their 95% "
                f"interval, RMS log error {self.rms_log_error:.3f}")


def scores(store: Store) -> Scores:
    """Every prediction written down here, scored where its run has landed."""
    df = store.scored_predictions()
    runs = df[df["quantity"] == LOSS].reset_index(drop=True)
    targets = df[df["quantity"] != LOSS].reset_index(drop=True)
    landed = runs[runs["observed"].notna()]
    cov = float(landed["inside"].astype(bool).mean()) if len(landed) else math.nan
    rms = float(np.sqrt(np.mean(landed["log_error"].astype(float) ** 2))) if len(landed) else math.nan
    cols = ["plan_id", "run_id", "estimate", "lo", "hi", "observed", "inside", "log_error", "created_at", "landed_at"]
    order = landed.sort_values(["landed_at", "run_id"])
    running = pd.DataFrame({"landed": np.arange(1, len(order) + 1),
                            "coverage": order["inside"].astype(float).expanding().mean().to_numpy()})
    return Scores(runs[cols], len(runs), len(landed), cov, rms,
                  targets[["plan_id", "quantity", "now_lo", "now_hi", "lo", "hi", "basis", "created_at"]], running)
