"""The planner: the batch of new runs expected to narrow a target's 95% interval most per unit of cost.

Each candidate batch (moves.py) is judged by how much it would shrink the spread of the estimator the
target is read with (target.py: for a, the verdict's). For an argmin estimator (envelope, IsoFLOP) or
the frontier's law, by simulation: N_SIM data sets are drawn from plausible surfaces (world.py) at the
measured seed noise, on the runs held now and on those plus the batch, with the same draws for both,
and the estimator is re-run on each. For a parametric exponent (a, alpha, beta of L(N, D)), whose fit
is smooth in the data, from the fit's Fisher information instead (fisher.py: no simulation noise to
mislead the choice). The interval expected is the interval now scaled about its estimate by the ratio
of spreads (a width an estimator answers in only a share r of the simulations counts as width / r, so
batches that let it answer come first). Greedy: take the batch with the largest expected narrowing per
unit of cost that fits the budget, repeat (MAX_STEPS batches at most; a batch cheaper than an even share
of what is left counts as that share, so a large budget is not left unspent). Before that, up to
FORM_SHARE of the budget goes to the best batch that tests the form (a width or fraction beyond the
grid, or seeds where the residuals are largest): the simulation assumes the form, so it cannot see
what such runs are worth.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scaling.core.config import RECORDED_FAMILY_FIELDS, RunConfig
from scaling.fit.estimate import point_estimates
from scaling.fit.optim import one_blas_thread
from scaling.fit.planner.fisher import EXPONENTS, sd_ratios
from scaling.fit.planner.misfit import MisfitOdds
from scaling.fit.planner.moves import FORM_KINDS, moves
from scaling.fit.planner.target import Reading, Target, form_free, reading
from scaling.fit.planner.world import World, cell_key, world
from scaling.fit.runs import REQUIRED, STUDY_KEYS, Prepared

N_SIM = 10  # simulated data sets per design: ~1.5 s of CPU a greedy step on the shipped grid (docs/planner.md)
FORM_SHARE = 0.25  # of the budget, at most, for the batch that tests the form
MAX_STEPS = 8  # batches per plan
MAX_REPEAT = 4  # seeds one batch may add to each of its configurations
MIN_RATE = 0.05
NO_ANSWER = 1.0  # the width an estimator that (almost) never answers counts as: an exponent's whole range


@dataclass(frozen=True)
class Step:
    """One batch of a plan.

    Attributes
    ----------
    kind, why : str
        What it is (moves.Move).
    configs : tuple of RunConfig
        Its runs.
    cost : float
        In the budget's unit.
    flops : float
        Its training compute.
    width_after : float
        The target's expected interval width once it and the batches before it have landed.
    """
    kind: str
    why: str
    configs: tuple
    cost: float
    flops: float
    width_after: float


@dataclass(frozen=True, eq=False)
class PlanResult:
    """A plan: the runs to train next, their predicted losses, and the target's interval now and expected.

    Attributes
    ----------
    target : Target
        What the plan narrows.
    estimator : str
        Which estimator it serves, in words.
    steps : tuple of Step
        The batches, in the order chosen.
    budget, spent : float
        The budget and what the plan spends of it, in `unit`.
    unit : str
        'FLOP' or 's' (seconds on the device the cost function times).
    now, expected : tuple
        (estimate, lo, hi) of the target now, and its interval expected once the plan's runs land.
    predictions : DataFrame
        One row per planned run: run_id, width_step, data_fraction, seed, lr_mult, flops, loss, lo, hi
        (the loss expected and its 95% interval).
    n_sim : int
        Simulated data sets per design.
    n_surfaces : int
        Loss surfaces they are drawn from.
    seconds : float
        Wall time of the planning.
    p_misfit : float
        Where a is the parametric estimate: the chance that the verdict sees the form misfit once the
        plan's runs land (misfit.py), which the plan states but does not act on (docs/planner.md);
        NaN otherwise.
    """
    target: Target
    estimator: str
    steps: tuple
    budget: float
    spent: float
    unit: str
    now: tuple
    expected: tuple
    predictions: pd.DataFrame
    n_sim: int
    n_surfaces: int
    seconds: float
    p_misfit: float = math.nan

    @property
    def configs(self) -> list:
        return [c for s in self.steps for c in s.configs]

    @property
    def flops(self) -> float:
        return float(sum(s.flops for s in self.steps))


class _Sims:
    """The simulated losses of any run, drawn once per (simulation, run), and the estimates on designs."""

    def __init__(self, w: World, runs: pd.DataFrame, template: dict, n_sim: int, lr):
        self.w, self.n_sim, self.lr, self.template = w, n_sim, lr, template
        self.cols = [c for c in dict.fromkeys([*REQUIRED, "seed", *STUDY_KEYS, *RECORDED_FAMILY_FIELDS])
                     if c in runs.columns or c in template]
        self.rows = {}
        for r in runs.to_dict("records"):
            self.rows[(int(r["width_step"]), cell_key(0, r["data_fraction"])[1], int(r["seed"]), float(r["lr_mult"]))] = r
        self.existing = set(self.rows)
        self.noise = {}

    def config(self, key) -> RunConfig:
        w, f, s, m = key
        fam = {k: self.template[k] for k in RunConfig.__dataclass_fields__ if k in self.template}
        return RunConfig(**{**fam, "width_step": int(w), "data_fraction": float(f), "seed": int(s), "lr_mult": float(m)})

    def _row(self, key) -> dict:
        if key not in self.rows:
            c = self.config(key)
            self.rows[key] = {**self.template, "run_id": c.run_id, "width_step": c.width_step, "width": c.width,
                              "data_fraction": c.data_fraction, "seed": c.seed, "lr_mult": c.lr_mult,
                              "params": c.params, "examples": c.examples, "flops": c.flops, "status": "ok"}
        return self.rows[key]

    def geometry(self, keys) -> tuple:
        """(N, D) arrays of these runs."""
        rows = [self._row(k) for k in keys]
        return (np.array([r["params"] for r in rows], float), np.array([r["examples"] for r in rows], float))

    def prepared(self, keys: list) -> tuple[Prepared, list, np.ndarray]:
        """One Prepared over these runs (any losses) and each run's simulated log-loss per simulation."""
        df = pd.DataFrame([{c: self._row(k).get(c) for c in self.cols} for k in keys])
        df["val_loss"] = 1.0
        p = Prepared(df, None, self.lr)
        pos = {k: i for i, k in enumerate(keys)}
        order = [pos[(int(r.width_step), cell_key(0, r.data_fraction)[1], int(r.seed), float(r.lr_mult))]
                 for r in p.runs.itertuples()]
        ks = [keys[i] for i in order]
        for k in ks:
            if k not in self.noise:
                self.noise[k] = np.array([self.w.noise(s, [k[0]], [k[1]], [k[2]], [k[3]])[0] for s in range(self.n_sim)])
        eps = np.array([self.noise[k] for k in ks]).T  # (n_sim, runs)
        N, D = p.runs["params"].to_numpy(float), p.runs["examples"].to_numpy(float)
        wsteps, fr = [k[0] for k in ks], [k[1] for k in ks]
        mu = {k: self.w.log_mu(k, wsteps, fr, N, D) for k in range(min(self.n_sim, len(self.w.fits)))}
        lnL = np.array([mu[s % len(mu)] for s in range(self.n_sim)]) + eps
        return p, ks, lnL


@one_blas_thread()
def plan(an, runs: pd.DataFrame, *, budget: float, cost=None, unit: str = "FLOP", target: Target = Target(),
         lr="tuned", n_sim: int = N_SIM, seed: int = 0, form_share: float = FORM_SHARE,
         max_steps: int = MAX_STEPS, w: World | None = None, hedge: bool = False) -> PlanResult:
    """The plan for analysis `an` of the family's runs `runs` (bootstrapped: its intervals are the
    'now'). cost(list of RunConfig) -> float in `unit` (default: their FLOPs). hedge: where a is the
    parametric estimate, weigh each batch by the mean of its width and the form-free pair's (the answer
    the verdict turns to if the runs reveal a misfit): docs/planner.md measures what that costs, and why
    weighing by each batch's own chance of revealing a misfit (misfit.py) is not the default."""
    t0 = time.perf_counter()
    if not (math.isfinite(budget) and budget > 0):
        raise ValueError(f"budget {budget!r}: a positive amount of compute or time")
    cost = cost or (lambda cs: float(sum(c.flops for c in cs)))
    ok = runs[runs["status"] == "ok"]
    w = w or world(an, ok, lr=lr, seed=seed)
    rd = reading(an, target)
    template = ok.iloc[0].to_dict()
    sims = _Sims(w, ok, template, n_sim, lr)
    lr_mult = float(ok["lr_mult"].mode().iloc[0]) if lr == "tuned" else float(lr)
    design = set(sims.rows)
    worst_w, worst_f = _worst_residuals(an)
    front = list(zip(an.frontier["width_step"], an.frontier["data_fraction"])) if len(an.frontier) else []
    original = set(design)
    smooth = len(rd.names) == 1 and rd.names[0] in EXPONENTS and target.name != "loss"
    # a parametric answer that the form-free pair replaces if the runs reveal a misfit
    free = form_free(an) if smooth and rd.names[0] == "a_parametric" else None
    # hedge: planned for both, half each
    sim_rd = (free if hedge else None) if smooth else rd
    sd0 = {}
    if sim_rd is not None:
        _, base = _estimate(sims, sim_rd, target, design, [])
        sd0 = {n: _sd(base[:, j]) for j, n in enumerate(sim_rd.names)}

    def judge(batches):
        """The target's expected (estimate, lo, hi) on the design now and with each batch, and the width
        the choice weighs (the same, or with a hedge the mean of it and the form-free pair's)."""
        sims_out = None
        if sim_rd is not None:
            vals, base = _estimate(sims, sim_rd, target, design, batches)
            sims_out = [_width(sim_rd, base, sd0)] + [_width(sim_rd, v, sd0) for v in vals]
        if not smooth:
            return sims_out, [t[2] - t[1] for t in sims_out]
        added = design - original
        sets = [added] + [added | set(b) for b in batches]
        r = sd_ratios(w.fits, rd.names[0], sims.geometry(original), [sims.geometry(x) for x in sets],
                      math.hypot(w.sd, w.sd_shared))
        out = [_scaled(rd, x) for x in r]
        widths = [t[2] - t[1] for t in out]
        if sims_out is not None:
            widths = [(a + (b[2] - b[1])) / 2 for a, b in zip(widths, sims_out)]
        return out, widths

    (now_w,), _ = judge([])
    after = now_w
    steps, left, reserve = [], budget, form_share * budget
    while len(steps) < max_steps:
        kw = dict(worst_width=worst_w, worst_fraction=worst_f, frontier=front)
        cands = [(m, cs, cost(cs)) for m in moves(design, lr_mult, **kw) for cs in [[sims.config(k) for k in m.runs]]]
        r = _repeat(cands, left, max_steps - len(steps))
        if r > 1:
            cands = [(m, cs, cost(cs)) for m in moves(design, lr_mult, repeat=r, **kw)
                     for cs in [[sims.config(k) for k in m.runs]]]
        form_turn = not steps and reserve > 0
        cands = [c for c in cands if c[2] <= (min(reserve, left) if form_turn else left)
                 and (c[0].kind in FORM_KINDS or not form_turn)]
        if not cands:
            if form_turn:
                reserve = 0.0
                continue
            break
        (_, *each), (cur, *widths) = judge([m.runs for m, _, _ in cands])
        gains = [cur - e for e in widths]
        # steps are scarce too: a batch cheaper than an even share of what is left counts as that share
        share = left / max(max_steps - len(steps), 1)
        score = [g / max(c, share, 1e-300) for g, (_, _, c) in zip(gains, cands)]
        i = int(np.nanargmax(score)) if np.isfinite(score).any() else -1
        if i < 0 or (not form_turn and not gains[i] > 0):
            break
        m, cs, c = cands[i]
        design |= set(m.runs)
        left -= c
        after = each[i]
        steps.append(Step(m.kind, m.why, tuple(cs), c, float(sum(x.flops for x in cs)), after[2] - after[1]))
        if form_turn:
            reserve = 0.0
    planned = [c for s in steps for c in s.configs]
    return PlanResult(target, rd.estimator, tuple(steps), float(budget), float(budget - left), unit,
                      rd.now if math.isfinite(rd.now[1]) else now_w, after, _predictions(w, sims, planned),
                      n_sim, len(w.fits), time.perf_counter() - t0,
                      MisfitOdds(an)(design) if free is not None else math.nan)


def _repeat(cands: list, left: float, steps_left: int) -> int:
    """Seeds per batch of more seeds: enough that the steps left can spend what is left (at most MAX_REPEAT)."""
    costs = [c for m, _, c in cands if m.kind not in FORM_KINDS]
    if not costs or steps_left <= 0:
        return 1
    return int(np.clip(left / (steps_left * float(np.median(costs))), 1, MAX_REPEAT))


def _scaled(rd: Reading, ratio: float) -> tuple:
    """The interval now scaled about its estimate by ratio (one exponent of the parametric fit)."""
    pt, lo, hi = rd.estimates[rd.names[0]]
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return pt, pt - ratio * NO_ANSWER / 2, pt + ratio * NO_ANSWER / 2
    return pt, pt - (pt - lo) * ratio, pt + (hi - pt) * ratio


def _worst_residuals(an):
    """The width step and the fraction where the parametric fit's mean residual is largest."""
    if an.parametric is None:
        return None, None
    pts = an.aggregate.points
    r = np.log(pts["val_loss"].to_numpy(float)) - np.log(an.parametric.predict(pts["params"], pts["examples"]))
    by_w = pd.Series(r).groupby(pts["width_step"].to_numpy()).mean().abs()
    by_f = pd.Series(r).groupby(pts["data_fraction"].to_numpy()).mean().abs()
    return by_w.idxmax(), by_f.idxmax()


def _estimate(sims: _Sims, rd: Reading, target: Target, design: set, batches: list):
    """The names' values per simulation: ([n_batches] arrays (n_sim, names), base (n_sim, names))."""
    keys = sorted(design | {k for b in batches for k in b})
    p, ks, lnL = sims.prepared(keys)
    inside = np.array([k in design for k in ks], float)
    pos = {k: i for i, k in enumerate(ks)}
    masks = []
    for b in batches:
        m = inside.copy()
        m[[pos[k] for k in b]] = 1.0
        masks.append(m)
    base = np.full((sims.n_sim, len(rd.names)), np.nan)
    vals = [np.full((sims.n_sim, len(rd.names)), np.nan) for _ in batches]
    for s in range(sims.n_sim):
        p.loss = np.exp(lnL[s])
        try:
            r0 = point_estimates(p, inside, irreducible=False, skip=rd.skip)
        except ValueError:
            continue
        base[s] = rd.values(r0, target)
        init = {k: v for k, v in r0.items() if k != "compute_path"}
        for j, m in enumerate(masks):
            try:
                vals[j][s] = rd.values(point_estimates(p, m, irreducible=False, init=init, skip=rd.skip), target)
            except ValueError:
                continue
    return vals, base


def _sd(v: np.ndarray) -> float:
    """The spread of an estimator's simulated values as a normal SD read off their interquartile range:
    a fit that lands on a bound in one simulation would otherwise decide the plan."""
    v = v[np.isfinite(v)]
    if v.size <= 2:
        return math.nan
    q1, q3 = np.quantile(v, [0.25, 0.75])
    return float((q3 - q1) / 1.349)


def _width(rd: Reading, v: np.ndarray, sd0: dict) -> tuple:
    """(estimate, lo, hi) expected for the target from simulated values v (n_sim, names): each name's
    interval now scaled by the ratio of spreads, joined by their hull; divided by the answer rate."""
    los, his, pts = [], [], []
    for j, n in enumerate(rd.names):
        col = v[:, j]
        rate = float(np.isfinite(col).mean())
        sd = _sd(col)
        pt, lo, hi = rd.estimates.get(n, (math.nan,) * 3)
        if not math.isfinite(pt):
            pt = float(np.nanmean(col)) if np.isfinite(col).any() else 0.0
        if not math.isfinite(sd):  # answers in fewer than 3 simulations: no width to speak of
            los.append(pt - NO_ANSWER / 2)
            his.append(pt + NO_ANSWER / 2)
            pts.append(pt)
            continue
        ratio = sd / sd0[n] if math.isfinite(sd0.get(n, math.nan)) and sd0[n] > 0 else math.nan
        if math.isfinite(ratio) and math.isfinite(lo):
            lo, hi = pt - (pt - lo) * ratio, pt + (hi - pt) * ratio
        else:
            lo, hi = pt - 1.959964 * sd, pt + 1.959964 * sd
        stretch = 1 / max(rate, MIN_RATE) - 1  # widths that answer rarely count as wider
        los.append(lo - stretch * (hi - lo) / 2)
        his.append(hi + stretch * (hi - lo) / 2)
        pts.append(pt)
    est = rd.now[0] if math.isfinite(rd.now[0]) else float(np.mean(pts))
    return est, float(min(los)), float(max(his))


def _predictions(w: World, sims: _Sims, configs: list) -> pd.DataFrame:
    """Each planned run's loss expected, with its 95% interval."""
    cols = ["run_id", "width_step", "data_fraction", "seed", "lr_mult", "flops", "loss", "lo", "hi"]
    if not configs:
        return pd.DataFrame(columns=cols)
    seen = {}
    for k in sims.existing:
        seen[cell_key(k[0], k[1])] = seen.get(cell_key(k[0], k[1]), 0) + 1
    ws = [c.width_step for c in configs]
    fs = [c.data_fraction for c in configs]
    chance = math.log(len(configs[0].classes or "0123456789"))  # a uniform guess over the digits
    pr = w.predict(ws, fs, [c.params for c in configs], [c.examples for c in configs],
                   n_seen=[seen.get(cell_key(a, b), 0) for a, b in zip(ws, fs)], chance=chance)
    return pd.DataFrame({"run_id": [c.run_id for c in configs], "width_step": ws, "data_fraction": fs,
                         "seed": [c.seed for c in configs], "lr_mult": [c.lr_mult for c in configs],
                         "flops": [c.flops for c in configs], **{k: pr[k].to_numpy() for k in ("loss", "lo", "hi")}})
