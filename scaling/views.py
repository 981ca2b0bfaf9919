"""What the app's pages ask of the core, with no Streamlit in it: a selection of runs (parsed
from and written to the URL), the runs it picks, its fits, a training plan, sweep progress.

A page reads its widgets into a `Selection`, calls these functions (caching them per selection
and data version), and draws. Everything here is plain Python on DataFrames, so it is tested
and benchmarked without a browser.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from fractions import Fraction

import numpy as np
import pandas as pd

from . import grid
from .config import RunConfig
from .store import Store

LR_TUNED = "tuned"
FORMS = {"power": "pure power law  L = A·C^-α", "irreducible": "with irreducible loss  L = E + A·C^-α"}
ESTIMATORS = {"envelope": "lower envelope", "isoflop": "IsoFLOP profiles", "parametric": "parametric L(N, D)"}
MIN_POINTS = 3  # a power law through fewer configurations says nothing


class SelectionError(ValueError):
    """The selection leaves nothing to fit; the message says what to change."""


# ---------------------------------------------------------------- formatting


def frac_label(f: float) -> str:
    """1/256 for powers of two (how the protocol names them), else the number."""
    fr = Fraction(f).limit_denominator(1 << 20)
    return f"1/{fr.denominator}" if fr.numerator == 1 and fr.denominator > 1 else f"{f:g}"


def fmt_flops(x: float) -> str:
    for unit, scale in (("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6)):
        if x >= scale:
            return f"{x / scale:.3g} {unit}"
    return f"{x:.3g} FLOP"


def fmt_s(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    if s < 120:
        return f"{s:.0f} s"
    return f"{s / 60:.0f} min {s % 60:02.0f} s" if s < 3600 else f"{s / 3600:.1f} h"


# ---------------------------------------------------------------- the selection and the URL


@dataclass(frozen=True)
class Selection:
    """Which cached runs a view uses and how it fits them. Hashable: it keys the fit caches."""
    dataset: str = "mnist"
    dropout: float = 0.0
    widths: tuple[int, int] = (0, 12)         # width steps, inclusive
    fractions: tuple[float, float] = (2.0**-16, 1.0)  # inclusive
    seeds: tuple[int, ...] = ()               # () = every cached seed
    lr: str | float = LR_TUNED
    form: str = "power"
    # parametric by default: it answers on the smallest grids (the CPU quick sweep), where no
    # width range is wide enough for the envelope and IsoFLOP estimators to find a minimum
    estimator: str = "parametric"

    @property
    def irreducible(self) -> bool:
        return self.form == "irreducible"

    def to_params(self, prefix: str = "") -> dict[str, str]:
        """URL query parameters, in the grid syntax of the CLI (a:b excludes b for widths)."""
        p = {
            "ds": self.dataset,
            "dropout": f"{self.dropout:g}",
            "w": f"{self.widths[0]}:{self.widths[1] + 1}",
            "f": f"{frac_label(self.fractions[0])}:{frac_label(self.fractions[1])}",
            "lr": self.lr if self.lr == LR_TUNED else f"{self.lr:g}",
            "fit": self.form,
            "nopt": self.estimator,
        }
        if self.seeds:
            p["seeds"] = ",".join(map(str, self.seeds))
        return {prefix + k: v for k, v in p.items()}


PARAM_KEYS = ("ds", "dropout", "w", "f", "seeds", "lr", "fit", "nopt")


def parse_params(params: dict, default: Selection, prefix: str = "") -> tuple[Selection, list[str]]:
    """A selection from URL query parameters; a malformed one falls back to its default with a
    note saying which and why (the page shows the notes)."""
    sel, notes = default, []

    def get(key):
        v = params.get(prefix + key)
        if isinstance(v, (list, tuple)):
            v = v[-1] if v else None
        return None if v is None else str(v)

    def take(key, parse):
        nonlocal sel
        raw = get(key)
        if raw is None:
            return
        try:
            sel = replace(sel, **parse(raw))
        except (ValueError, ZeroDivisionError, grid.GridError) as e:
            notes.append(f"ignored ?{prefix}{key}={raw[:40]!r}: {e}")

    def ds(v):
        from .data import DATASETS

        if v not in DATASETS:
            raise ValueError(f"unknown dataset (one of {', '.join(DATASETS)})")
        return {"dataset": v}

    def dropout(v):
        return {"dropout": grid.floats("dropout", v, 0, 1, hi_open=True)[0]}

    def widths(v):
        ws = grid.int_steps("w", v, 0, 12)
        return {"widths": (ws[0], ws[-1])}

    def fracs(v):
        fs = grid.fractions("f", v)
        return {"fractions": (fs[0], fs[-1])}

    def seeds(v):
        return {"seeds": tuple(grid.int_steps("seeds", v, 0, 2**31 - 1))}

    def lr(v):
        return {"lr": LR_TUNED if v == LR_TUNED else grid.floats("lr", v, 1e-6, 1e6)[0]}

    def choice(name, options):
        def parse(v):
            if v not in options:
                raise ValueError(f"must be one of {', '.join(options)}")
            return {name: v}
        return parse

    for key, parse in [("ds", ds), ("dropout", dropout), ("w", widths), ("f", fracs), ("seeds", seeds),
                       ("lr", lr), ("fit", choice("form", FORMS)), ("nopt", choice("estimator", ESTIMATORS))]:
        take(key, parse)
    return sel, notes


# ---------------------------------------------------------------- what is cached


@dataclass(frozen=True)
class Options:
    """The values the cache holds, for the widgets' choices."""
    datasets: tuple[str, ...]
    dropouts: tuple[float, ...]
    width_steps: tuple[int, ...]
    fractions: tuple[float, ...]
    seeds: tuple[int, ...]
    lr_mults: tuple[float, ...]

    @property
    def empty(self) -> bool:
        return not self.datasets


def options(runs: pd.DataFrame, dataset: str | None = None) -> Options:
    ok = runs[runs["status"] == "ok"] if len(runs) else runs
    datasets = tuple(sorted(ok["dataset"].unique())) if len(ok) else ()
    if dataset is not None and dataset in datasets:
        ok = ok[ok["dataset"] == dataset]

    def vals(col, cast):
        return tuple(sorted({cast(v) for v in ok[col].unique()})) if len(ok) else ()

    return Options(datasets, vals("dropout", float), vals("width_step", int), vals("data_fraction", float),
                   vals("seed", int), vals("lr_mult", float))


def fit_to_options(sel: Selection, opts: Options) -> tuple[Selection, list[str]]:
    """Clamp a selection to what is cached (a link made on another machine, a deleted sweep)."""
    notes = []
    if opts.empty:
        return sel, notes
    if sel.dataset not in opts.datasets:
        notes.append(f"no cached {sel.dataset} runs: showing {opts.datasets[0]}")
        sel = replace(sel, dataset=opts.datasets[0])
    if not any(math.isclose(sel.dropout, d) for d in opts.dropouts):
        notes.append(f"no cached runs with dropout {sel.dropout:g}: showing {opts.dropouts[0]:g}")
        sel = replace(sel, dropout=opts.dropouts[0])
    ws, fs = opts.width_steps, opts.fractions
    lo = min(max(sel.widths[0], ws[0]), ws[-1])
    hi = max(min(sel.widths[1], ws[-1]), lo)
    flo = min((f for f in fs if f >= sel.fractions[0] * (1 - 1e-9)), default=fs[-1])
    fhi = max((f for f in fs if f <= sel.fractions[1] * (1 + 1e-9)), default=fs[0])
    if fhi < flo:
        flo, fhi = fs[0], fs[-1]
    seeds = tuple(s for s in sel.seeds if s in opts.seeds)
    if sel.seeds and not seeds:
        notes.append("none of the selected seeds is cached: using every seed")
    lr = sel.lr
    if lr != LR_TUNED and not any(math.isclose(lr, m) for m in opts.lr_mults):
        notes.append(f"no cached runs with lr multiplier {lr:g}: using the best cached one per configuration")
        lr = LR_TUNED
    return replace(sel, widths=(lo, hi), fractions=(flo, fhi), seeds=seeds, lr=lr), notes


def data_version(runs: pd.DataFrame) -> tuple:
    """Cheap fingerprint of the cache: changes when runs land or are deleted."""
    if runs.empty:
        return (0, None)
    return (len(runs), str(runs["created_at"].max()), float(runs["flops"].sum()))


def select(runs: pd.DataFrame, sel: Selection) -> pd.DataFrame:
    """The runs of a selection (every status: the fit counts the excluded ones)."""
    if runs.empty:
        return runs
    m = (runs["dataset"] == sel.dataset) & np.isclose(runs["dropout"], sel.dropout)
    m &= runs["width_step"].between(sel.widths[0], sel.widths[1])
    f = runs["data_fraction"].to_numpy(float)
    m &= (f >= sel.fractions[0] * (1 - 1e-9)) & (f <= sel.fractions[1] * (1 + 1e-9))
    if sel.seeds:
        m &= runs["seed"].isin(sel.seeds)
    return runs[m].reset_index(drop=True)


# ---------------------------------------------------------------- fits


def analysis(runs: pd.DataFrame, curves: pd.DataFrame | None, sel: Selection, n_boot: int = 0, seed: int = 0):
    """fit.analyze on a selection; SelectionError when fewer than MIN_POINTS configurations remain."""
    from . import fit

    sub = _check_fittable(runs, sel)
    cv = None
    if curves is not None and len(curves):
        cv = curves[curves["run_id"].isin(sub["run_id"])]
    try:
        return fit.analyze(sub, cv, lr=sel.lr, irreducible=sel.irreducible, n_boot=n_boot, seed=seed)
    except ValueError as e:
        raise SelectionError(str(e)) from None


@dataclass(frozen=True, eq=False)
class PointEstimates:
    """What Explore draws before the bootstrap: the same attribute names as fit.Analysis, so a
    page can draw either."""
    aggregate: object
    frontier: pd.DataFrame
    loss_vs_compute: object
    nopt: dict
    n_runs: int
    excluded: dict
    notes: tuple = ()
    intervals: dict = field(default_factory=dict)


def point_estimates(runs: pd.DataFrame, curves: pd.DataFrame | None, sel: Selection) -> PointEstimates:
    """Only what Explore shows first (seed means, frontier, the loss law, the chosen N_opt
    estimator), through the fit package's pieces: fit.analyze also fits L(N, D) twice, which
    would double the time from a slider move to the redrawn charts."""
    from . import fit

    sub = _check_fittable(runs, sel)
    agg = fit.aggregate(sub, lr=sel.lr)
    fr = fit.frontier(agg.points)
    notes = []
    try:
        law = fit.fit_power_law(fr["flops"].to_numpy(float), fr["val_loss"].to_numpy(float), sel.irreducible)
    except ValueError as e:
        law = None
        notes.append(f"loss_vs_compute: {e}")
    cv = curves[curves["run_id"].isin(sub["run_id"])] if curves is not None and len(curves) else None
    est = {"envelope": lambda: fit.nopt_envelope(sub, cv, lr=sel.lr),
           "isoflop": lambda: fit.nopt_isoflop(sub, lr=sel.lr),
           "parametric": lambda: fit.nopt_parametric(sub, lr=sel.lr)}[sel.estimator]
    try:
        nf = est()
    except ValueError as e:
        raise SelectionError(str(e)) from None
    return PointEstimates(agg, fr, law, {sel.estimator: nf}, agg.n_runs, dict(agg.excluded), tuple(notes))


def _check_fittable(runs: pd.DataFrame, sel: Selection) -> pd.DataFrame:
    sub = select(runs, sel)
    ok = sub[sub["status"] == "ok"] if len(sub) else sub
    if sel.lr != LR_TUNED and len(ok):
        ok = ok[np.isclose(ok["lr_mult"], sel.lr)]
    n_cfg = len(ok.drop_duplicates(["width_step", "data_fraction", "lr_mult"])) if len(ok) else 0
    if n_cfg < MIN_POINTS:
        raise SelectionError(f"this selection leaves {n_cfg} configuration{'s' * (n_cfg != 1)} "
                             f"({len(ok)} runs); a fit needs at least {MIN_POINTS}: widen the width or "
                             "data-fraction range, or train more runs")
    return sub


def law_band(law, frontier: pd.DataFrame, n_boot: int = 200, seed: int = 0, level: float = 0.95,
             n_grid: int = 60) -> pd.DataFrame:
    """Pointwise band of the loss-vs-compute law: refit on resampled frontier points.

    fit.analyze's bootstrap gives the exponent's interval but not the prefactor, so the band
    is drawn from its own resamples of the frontier (warm-started, ~ms each).
    """
    from .fit import fit_power_law

    C = frontier["flops"].to_numpy(float)
    L = frontier["val_loss"].to_numpy(float)
    grid_c = np.geomspace(C.min(), C.max(), n_grid)
    rng = np.random.default_rng(seed)
    curves = []
    for _ in range(n_boot):
        idx = rng.integers(0, C.size, C.size)
        if np.unique(C[idx]).size < MIN_POINTS:
            continue
        try:
            f = fit_power_law(C[idx], L[idx], law.irreducible, n_starts=0, init=law)
        except ValueError:
            continue
        curves.append(f.predict(grid_c))
    q = 100 * (1 - level) / 2
    if not curves:
        return pd.DataFrame(columns=["flops", "lo", "hi"])
    lo, hi = np.percentile(np.array(curves), [q, 100 - q], axis=0)
    return pd.DataFrame({"flops": grid_c, "lo": lo, "hi": hi})


def law_line(law, n_grid: int = 60) -> pd.DataFrame:
    c = np.geomspace(*law.x_range, n_grid)
    return pd.DataFrame({"flops": c, "fit": law.predict(c)})


def fmt_num(x: float, digits: int = 3) -> str:
    """3 significant digits: 0.958, 42.1, 9020, 1.17e4, 3.2e-5 (never 9.02e+03)."""
    if not math.isfinite(x):
        return "?"
    if x != 0 and not 1e-3 <= abs(x) < 1e4:
        m, e = f"{x:.{digits - 1}e}".split("e")
        return f"{m}e{int(e)}"
    if abs(x) >= 10 ** digits:
        return f"{x:.0f}"
    return f"{x:#.{digits}g}".rstrip(".")  # 1.00, not 1


def floor_negligible(E: float, lowest_loss: float) -> bool:
    """An irreducible loss E fitted to (almost) nothing, at its lower bound: the data show no
    floor in their range, and E's value (1e-13, say) means nothing."""
    return not E > 1e-3 * lowest_loss


def equation(law) -> str:
    a = f"{fmt_num(law.A)} · C^−{law.alpha:.3f}"
    if law.irreducible:
        eq = f"L = {fmt_num(law.E)} + {a}"
        if floor_negligible(law.E, float(law.predict(np.array([law.x_range[1]]))[0])):
            eq = f"L = E + {a} with E ≈ 0 (no floor visible in this range)"
    else:
        eq = f"L = {a}"
    iv = law.alpha_interval
    if iv is not None and math.isfinite(iv.lo):
        eq += f"  —  α_C ∈ [{iv.lo:.3f}, {iv.hi:.3f}] (95%)"
    return eq


def nopt_band(nf, n_grid: int = 40) -> pd.DataFrame:
    """N_opt = k C^a with the exponent at its interval ends, pivoting at the budgets' geometric mean
    (where the fit is best pinned down)."""
    if not nf.ok or nf.points.empty:
        return pd.DataFrame(columns=["C", "N_opt", "lo", "hi"])
    c = np.geomspace(nf.points["C"].min(), nf.points["C"].max(), n_grid)
    mid = math.exp(np.log(nf.points["C"]).mean())
    n_mid = nf.k * mid ** nf.a
    out = pd.DataFrame({"C": c, "N_opt": nf.predict(c)})
    if nf.interval is not None and math.isfinite(nf.interval.lo):
        ends = np.array([n_mid * (c / mid) ** nf.interval.lo, n_mid * (c / mid) ** nf.interval.hi])
        out["lo"], out["hi"] = ends.min(axis=0), ends.max(axis=0)
    return out


_SKIP_WHY = {
    "fewer than 3 widths reach it": "fewer than 3 widths reach that compute",
    "minimum at the smallest width": "the smallest width trained has the lowest loss (the optimum is smaller "
                                     "than the widths trained; larger data fractions reach budgets where it "
                                     "moves up into range)",
    "minimum at the largest width": "the largest width trained has the lowest loss (the optimum lies beyond "
                                    "the widths trained: larger widths would show it)",
    "no minimum inside the widths": "the loss has no clear minimum across the widths",
    "N_opt outside the widths tested": "N_opt falls outside the widths trained",
}


def explain_nopt(nf) -> str:
    """Why an N_opt estimator cannot answer, in words: what it needed and what the budgets showed."""
    skipped = getattr(nf, "skipped", None)
    if skipped is None or not len(skipped):
        return nf.reason
    counts = skipped["reason"].value_counts()
    parts = [f"at {n} of them {_SKIP_WHY.get(r, r)}" for r, n in counts.items()]
    n_ok = len(nf.points) if nf.points is not None else 0
    return (f"it needs at least 3 compute budgets where several widths compete and one in the middle wins; "
            f"of the {len(skipped) + n_ok} budgets tried, {n_ok} qualif{'y' if n_ok != 1 else 'ies'}: "
            + "; ".join(parts))


def isoflop_profiles(points: pd.DataFrame, n_budgets: int = 6) -> pd.DataFrame:
    """For a few budgets, every width's loss interpolated (log-log) at that compute: the IsoFLOP
    curves the isoflop estimator fits its parabolas to (drawn, not refitted, here)."""
    budgets = np.geomspace(points["flops"].min(), points["flops"].max(), n_budgets + 2)[1:-1]
    rows = []
    for w, g in points.groupby("width_step"):
        g = g.sort_values("flops")
        c, l = np.log(g["flops"].to_numpy(float)), np.log(g["val_loss"].to_numpy(float))
        for b in budgets:
            if c[0] <= math.log(b) <= c[-1] and len(c) >= 2:
                rows.append(dict(budget=b, width_step=int(w), width=int(g["width"].iloc[0]),
                                 params=float(g["params"].iloc[0]), val_loss=float(np.exp(np.interp(math.log(b), c, l)))))
    out = pd.DataFrame(rows, columns=["budget", "width_step", "width", "params", "val_loss"])
    out["budget_label"] = out["budget"].map(fmt_flops)
    return out


def exponent_table(an) -> pd.DataFrame:
    """One row per exponent with its interval and the runs behind it (cards and downloads)."""
    rows = []

    def add(name, what, value, iv, n):
        rows.append(dict(name=name, what=what, value=value,
                         lo=iv.lo if iv is not None else math.nan, hi=iv.hi if iv is not None else math.nan,
                         n_boot=iv.n_boot if iv is not None else 0, n_runs=n))

    if an.loss_vs_compute is not None:
        add("alpha_C", "loss vs compute", an.loss_vs_compute.alpha, an.loss_vs_compute.alpha_interval, an.n_runs)
    for m, nf in an.nopt.items():
        add(f"a_{m}", f"N_opt exponent ({ESTIMATORS[m]})", nf.a if nf.ok else math.nan, nf.interval, nf.n_runs)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- training plans


@dataclass(frozen=True)
class GridSpec:
    """A training grid in the CLI's syntax (the Train page and the quick sweep)."""
    widths: str = "0:4"
    fractions: str = "1/64:1/8"
    seeds: str = "0:2"
    dropouts: str = "0,0.2"
    lr_mults: str = "1"
    dataset: str = "mnist"

    def configs(self) -> list[RunConfig]:
        return grid.expand(
            grid.int_steps("widths", self.widths, 0, 12), grid.fractions("fractions", self.fractions),
            grid.int_steps("seeds", self.seeds, 0, 2**31 - 1), grid.floats("dropout", self.dropouts, 0, 1, hi_open=True),
            grid.floats("lr multiplier", self.lr_mults, 1e-6, 1e6), dataset=self.dataset)

    def label(self) -> str:
        return (f"widths {self.widths} · fractions {self.fractions} · seeds {self.seeds} · dropout {self.dropouts}"
                f" · lr ×{self.lr_mults} · {self.dataset}")


# Sized by measurement: on this project's 2-core VM this grid (80 runs, 186 GFLOP) trains in
# about two minutes from the app (the browser and the page's reruns share the cores). On a GPU,
# the exercise's whole grid: widths 4..45, 1/128 to all of MNIST, 3 seeds, both dropouts.
QUICK_CPU = GridSpec(widths="0:5", fractions="1/256:1/32", seeds="0:2", dropouts="0,0.2")
QUICK_GPU = GridSpec(widths="0:8", fractions="1/128:1", seeds="0:3", dropouts="0,0.2")


def quick_grid(device: str) -> GridSpec:
    return QUICK_CPU if device == "cpu" else QUICK_GPU


# Per-run cost on a device with no history: a fixed part (evaluation on the 10k validation
# images, data slicing) plus training FLOPs at a throughput, measured on this project's 2-core VM.
CPU_FIXED_S, CPU_FLOPS_PER_S = 0.1, 3e9
GPU_FIXED_S, GPU_FLOPS_PER_S = 0.05, 2e12


def time_model(runs: pd.DataFrame, device_label: str) -> tuple[float, float]:
    """(fixed seconds per run, FLOP/s) for this device: a least-squares fit of wall_s = t0 + C/r on
    the cached runs trained here, or the defaults when there are too few."""
    gpu = not device_label.startswith("cpu")
    t0, rate = (GPU_FIXED_S, GPU_FLOPS_PER_S) if gpu else (CPU_FIXED_S, CPU_FLOPS_PER_S)
    if runs.empty:
        return t0, rate
    here = runs[(runs["device"] == device_label) & runs["wall_s"].notna() & (runs["wall_s"] > 0)]
    if len(here) < 4 or here["flops"].nunique() < 2:
        return t0, rate
    C, W = here["flops"].to_numpy(float), here["wall_s"].to_numpy(float)
    (a, b), *_ = np.linalg.lstsq(np.c_[np.ones(len(here)), C], W, rcond=None)
    if a < 0 or b <= 0:  # noisy small runs: no fixed part, the average throughput
        return 0.0, float(C.sum() / W.sum())
    return float(a), float(1 / b)


@dataclass(frozen=True)
class Plan:
    configs: list
    cached: int
    new: int               # neither cached nor queued: what queueing the grid adds
    flops: float           # training compute of the runs to train
    est_s: float           # estimated wall time on this device
    todo: list = field(default_factory=list)
    queued: int = 0        # already waiting in the queue (or training), by this or another sweep


def plan(store: Store, spec: GridSpec, runs: pd.DataFrame, device_label: str) -> Plan:
    configs = spec.configs()
    ids = [c.run_id for c in configs]
    cached = store.cached_ids(ids)
    with store.connect() as con:
        waiting = {r[0] for r in con.execute("SELECT run_id FROM queue WHERE list_contains(?, run_id)", [ids]).fetchall()}
    waiting -= cached
    todo = [c for c in configs if c.run_id not in cached and c.run_id not in waiting]
    t0, rate = time_model(runs, device_label)
    est = sum(t0 + c.flops / rate for c in todo)
    return Plan(configs, len(cached), len(todo), float(sum(c.flops for c in todo)), est, todo, len(waiting))


# ---------------------------------------------------------------- the device


@dataclass(frozen=True)
class DeviceInfo:
    device: str          # 'cuda' or 'cpu'
    label: str           # what the store records as `device` for runs trained here
    name: str
    memory_gb: float | None
    threads: int


def device_info() -> DeviceInfo:
    import os

    import torch

    from . import train

    dev = train.resolve_device("auto")
    if dev == "cuda":
        p = torch.cuda.get_device_properties(0)
        return DeviceInfo(dev, train.device_name(dev), p.name, p.total_memory / 2**30, torch.get_num_threads())
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return DeviceInfo(dev, train.device_name(dev), f"{cpu} ({os.cpu_count()} cores)", None, torch.get_num_threads())


# ---------------------------------------------------------------- sweeps in flight


@dataclass(frozen=True)
class SweepStatus:
    sweep_id: str
    label: str
    total: int
    done: int            # trained (ok, diverged or failed) or cached
    queued: int
    running: int
    failed: int
    current: pd.DataFrame  # the runs being trained now: width, fraction, seed, dropout, running_s
    worker_pid: int | None

    @property
    def active(self) -> bool:
        return self.queued + self.running > 0

    @property
    def cancelled(self) -> int:
        """Runs of the sweep neither done nor waiting: taken off the queue by a cancel."""
        return max(self.total - self.done - self.queued - self.running, 0)


def sweep_status(store: Store, sweep_id: str, label: str = "") -> SweepStatus:
    from . import jobs

    ids = store.sweep_run_ids(sweep_id)
    with store.connect() as con:  # one short read of what the worker holds now
        q = con.execute(
            "SELECT q.status, q.config, epoch(now()) - epoch(q.heartbeat) FROM queue q WHERE list_contains(?, q.run_id)",
            [ids]).fetchall()
        done = con.execute(
            "SELECT status, count(*) FROM runs WHERE list_contains(?, run_id) GROUP BY status", [ids]).fetchall()
    import json

    cur = []
    for st_, c, s in q:
        if st_ == "running":
            cfg = RunConfig.from_dict(json.loads(c))
            cur.append(dict(width_step=cfg.width_step, data_fraction=cfg.data_fraction, seed=cfg.seed,
                            dropout=cfg.dropout, flops=cfg.flops, running_s=s))
    done = dict(done)
    return SweepStatus(
        sweep_id, label, len(ids), sum(done.values()), sum(st_ == "queued" for st_, _, _ in q),
        len(cur), done.get("failed", 0),
        pd.DataFrame(cur, columns=["width_step", "data_fraction", "seed", "dropout", "flops", "running_s"]),
        jobs.worker_alive(store))


def start_sweep(store: Store, spec: GridSpec, device: str = "auto") -> tuple[str, int, int]:
    """Queue a grid and make sure a worker process serves it (it outlives the page). A missing or
    corrupt data set is refused here (DataError), not discovered run by run by the worker."""
    from . import data, jobs

    data.check(spec.dataset)
    sweep_id, n_cached, n_new = store.enqueue(spec.configs(), label=spec.label())
    if n_new:
        jobs.ensure_worker(store, device)
    return sweep_id, n_cached, n_new


def wait_sweep(store: Store, sweep_id: str, timeout: float = 600.0, poll: float = 0.5) -> SweepStatus:
    """Block until a sweep has nothing queued or running (tests and scripts; pages poll instead)."""
    deadline = time.monotonic() + timeout
    while True:
        s = sweep_status(store, sweep_id)
        if not s.active or time.monotonic() > deadline:
            return s
        time.sleep(poll)


def start_worker(store: Store, device: str = "auto") -> int:
    from . import jobs

    return jobs.ensure_worker(store, device)


def worker_pid(store: Store) -> int | None:
    """The pid of the worker process serving this database, if one runs."""
    from . import jobs

    return jobs.worker_alive(store)


def parametric_residuals(an) -> pd.DataFrame:
    """The configurations the parametric fit saw, with log L - log L_hat (recomputed here in the
    order of the points, which is not the fit's internal order)."""
    pts = an.aggregate.points
    if an.parametric is None or pts.empty:
        return pts.assign(residual=np.nan)
    pred = an.parametric.predict(pts["params"], pts["examples"])
    return pts.assign(residual=np.log(pts["val_loss"].to_numpy(float)) - np.log(pred))


def scalar(an, name: str) -> float:
    """One named exponent of an analysis (the names of fit.QUANTITIES)."""
    if name == "alpha_C":
        f = an.loss_vs_compute
    elif name == "alpha_N":
        f = an.loss_vs_params
    elif name == "alpha_D":
        f = an.loss_vs_data
    elif name.startswith("a_"):
        nf = an.nopt.get(name[2:])
        return nf.a if nf is not None and nf.ok else math.nan
    else:
        p = an.parametric
        return getattr(p, name) if p is not None else math.nan
    return f.alpha if f is not None else math.nan


def compare_table(an_a, an_b, names: dict[str, str]) -> pd.DataFrame:
    """Exponents of two bootstrapped analyses side by side, with P(A > B) from their resamples
    (independent bootstraps paired by index, as fit.compare does)."""
    rows = []
    for key, title in names.items():
        ia, ib = an_a.intervals.get(key), an_b.intervals.get(key)
        p = math.nan
        if an_a.boot and an_b.boot and key in an_a.boot.samples and key in an_b.boot.samples:
            p = an_a.boot.prob_greater(an_b.boot, key)
        rows.append(dict(key=key, exponent=title, a=scalar(an_a, key), a_lo=ia.lo if ia else math.nan,
                         a_hi=ia.hi if ia else math.nan, b=scalar(an_b, key), b_lo=ib.lo if ib else math.nan,
                         b_hi=ib.hi if ib else math.nan, p_a_greater=p,
                         p_two_sided=2 * min(p, 1 - p) if math.isfinite(p) else math.nan,
                         n_runs_a=an_a.n_runs, n_runs_b=an_b.n_runs))
    return pd.DataFrame(rows)


def compute_note(an) -> str:
    """How C relates to N and D in this selection (the CNN family is not C = 6 N D)."""
    comp = getattr(an, "compute", None)
    if comp is not None:
        return (f"Compute here: C ≈ {comp.c_per:.3g}·N·D (median), fitted C = {comp.kappa:.3g}·N^{comp.gamma:.3f}·D.")
    c_per = getattr(an, "c_per", None)
    return f"Compute here: C ≈ {c_per:.3g}·N·D (median)." if c_per else ""


def db_signature(store: Store) -> tuple:
    """(mtime, size) of the database file and its WAL: every commit changes one of them and a
    read changes neither, so an unchanged signature means cached reads are still current."""
    out = []
    for p in (store.path, store.path.with_name(store.path.name + ".wal")):
        try:
            st_ = p.stat()
            out.append((st_.st_mtime_ns, st_.st_size))
        except FileNotFoundError:
            out.append(None)
    return tuple(out)


def snapshot(store: Store) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Every cached run (all statuses) and the sweeps still in flight, in one connection."""
    from .store import RUN_COLUMNS

    with store.connect() as con:
        runs = con.execute(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs ORDER BY flops, run_id").df()
        rows = con.execute(
            "SELECT s.sweep_id, s.label FROM sweeps s WHERE EXISTS "
            "(SELECT 1 FROM queue q WHERE list_contains(s.run_ids, q.run_id)) ORDER BY s.created_at DESC LIMIT 20"
        ).fetchall()
    return runs, [(sid, label or "") for sid, label in rows]


def follow_growth(sel: Selection, old: Options, new: Options) -> Selection:
    """When the cache gains widths or fractions, a range that spanned everything cached keeps
    spanning everything (runs landing from a sweep join the charts); a narrowed range stays."""
    if old.width_steps and sel.widths == (old.width_steps[0], old.width_steps[-1]) and new.width_steps:
        sel = replace(sel, widths=(new.width_steps[0], new.width_steps[-1]))
    if old.fractions and new.fractions and math.isclose(sel.fractions[0], old.fractions[0]) \
            and math.isclose(sel.fractions[1], old.fractions[-1]):
        sel = replace(sel, fractions=(new.fractions[0], new.fractions[-1]))
    return sel


def describe(sel: Selection) -> str:
    """One line for a selection (labels, captions)."""
    seeds = "every seed" if not sel.seeds else "seeds " + ",".join(map(str, sel.seeds))
    lr = "lr tuned per size" if sel.lr == LR_TUNED else f"lr ×{sel.lr:g}"
    return (f"{sel.dataset} · dropout {sel.dropout:g} · width steps {sel.widths[0]}–{sel.widths[1]} · "
            f"fractions {frac_label(sel.fractions[0])}–{frac_label(sel.fractions[1])} · {seeds} · {lr} · "
            f"{'E + A·C^-α' if sel.irreducible else 'A·C^-α'} · N_opt by {ESTIMATORS[sel.estimator]}")
