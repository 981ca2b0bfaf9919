"""What a run costs on one device, fitted to the runs trained there.

A run's wall time: wall ≈ k_w · (a + s·S + C/r_train + E/r_eval), with S its training steps
(D / batch size), C its training FLOPs (3 × forward × D) and E its evaluation FLOPs (forward FLOPs
per example × the 10,000 test images × the evaluation passes: 1, or every point of a validation
curve). E is the same for every data fraction, so it dominates the small fractions; s is what a
step costs besides its arithmetic (kernel calls, gathering the batch, threads meeting), which
dominates the narrow widths; a is what a run costs besides (its share of loading the data,
initialising and scheduling its stack); k_w corrects each width that has history here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scaling.core.config import CURVE_POINTS

VAL_EXAMPLES = 10_000  # every run is scored on the whole test set (10k images in every data set here)
MIN_STACKS_FOR_RATES = 8  # stacks of this device needed to fit a, s, r_train and r_eval (fewer: defaults × k)
MIN_WIDTH_RUNS = 4        # runs of one width needed for its own correction k_w
# a shared machine runs slower while other jobs run: the model is scaled by how its last few stacks went
RECENT_STACKS = 3

# No history on a device: a guess, replaced by a fit (or scaled) as soon as one stack lands here.
# Set so that the CPU quick sweep and the exercise's grid on a GPU come to their measured times.
CPU_DEFAULT = (0.05, 4.5e-3, 6e10, 6e10)   # a (s), s (s per step), r_train, r_eval (FLOP/s)
GPU_DEFAULT = (0.02, 1e-5, 4e12, 8e12)     # one stack holds up to 256 models: a step's overhead is shared


def eval_passes(cfg, curves: bool) -> int:
    """Passes over the test set a run makes: once at its end, or at each point of its validation
    curve (log-spaced steps, fewer when a run has few steps)."""
    if not curves:
        return 1
    n = max(math.ceil(cfg.examples / cfg.batch_size), 1)
    return len({round(float(x)) for x in np.logspace(0, math.log10(n), CURVE_POINTS)} | {n})


@dataclass(frozen=True)
class TimeModel:
    """Seconds a run takes on one device, fitted to the runs trained there.

    Attributes
    ----------
    device : str
        The device label the store records for runs trained there.
    fixed_s : float
        a: seconds a run costs besides its steps and FLOPs.
    step_s : float
        s: seconds a training step costs besides its arithmetic.
    train_flops_per_s : float
        r_train: training throughput.
    eval_flops_per_s : float
        r_eval: evaluation throughput.
    scale : float
        Measured over predicted time over this device's whole history (1: no history).
    width_scale : tuple
        ``((width_step, k_w), ...)`` for the widths with MIN_WIDTH_RUNS runs here.
    recent : float
        How much slower (>1) the last RECENT_STACKS stacks ran than the model said.
    n_runs, n_stacks : int
        Runs and stacks behind the fit (0: the defaults).
    rates_fitted : bool
        Whether a, s, r_train and r_eval were fitted here (else the defaults, scaled).
    """
    device: str
    fixed_s: float
    step_s: float
    train_flops_per_s: float
    eval_flops_per_s: float
    scale: float = 1.0
    width_scale: tuple = ()
    recent: float = 1.0
    n_runs: int = 0
    n_stacks: int = 0
    rates_fitted: bool = False

    @property
    def curves(self) -> bool:
        return not self.device.startswith("cpu")  # the worker's default: curves on CUDA only

    def base_s(self, cfg, passes: int | None = None) -> float:
        p = eval_passes(cfg, self.curves) if passes is None else passes
        fwd = cfg.flops / (3.0 * cfg.examples)
        steps = math.ceil(cfg.examples / cfg.batch_size)
        return (self.fixed_s + self.step_s * steps + cfg.flops / self.train_flops_per_s
                + fwd * VAL_EXAMPLES * p / self.eval_flops_per_s)

    def run_s(self, cfg) -> float:
        return self.base_s(cfg) * dict(self.width_scale).get(cfg.width_step, self.scale) * self.recent

    def seconds(self, configs) -> float:
        return float(sum(self.run_s(c) for c in configs))

    def describe(self) -> str:
        """Where the estimate comes from, in words (for a help text)."""
        if not self.n_runs:
            return f"no runs trained on {self.device} yet: a default guess until some are"
        how = "its costs per run and per step and its throughputs fitted" if self.rates_fitted else "a default model scaled"
        return (f"{how} to the {self.n_runs} runs ({self.n_stacks} stacks) trained on {self.device}"
                + (f", corrected per width for width steps {', '.join(str(k) for k, _ in self.width_scale)}"
                   if self.width_scale else "")
                + (f", and scaled ×{self.recent:.2g} to how its last stacks went" if abs(self.recent - 1) > 0.05 else ""))


def _stacks(here: pd.DataFrame, passes: np.ndarray) -> pd.DataFrame:
    """The runs of one device as the stacks that trained them. A run's wall_s is its stack's wall
    time shared by compute, so only a stack's total is a measurement; the runs of one stack were
    written in one transaction (one created_at) and share a width. A group that joins two stacks
    still sums to their total, which is all the fit needs."""
    fwd = here["flops"].to_numpy(float) / (3.0 * here["examples"].to_numpy(float))
    df = pd.DataFrame({
        "stack": here["created_at"].astype(str).where(here["created_at"].notna(), here["run_id"]).to_numpy(),
        "at": here["created_at"].to_numpy(),
        "width_step": here["width_step"].to_numpy(int), "n": 1.0,
        "S": np.ceil(here["examples"].to_numpy(float) / here["batch_size"].to_numpy(float)),
        "C": here["flops"].to_numpy(float), "E": fwd * VAL_EXAMPLES * passes, "W": here["wall_s"].to_numpy(float)})
    return df.groupby(["stack", "width_step"], as_index=False).agg(
        at=("at", "max"), n=("n", "sum"), S=("S", "sum"), C=("C", "sum"), E=("E", "sum"), W=("W", "sum"))


def _predict(g: pd.DataFrame, a: float, s: float, rt: float, re: float) -> np.ndarray:
    return (a * g["n"] + s * g["S"] + g["C"] / rt + g["E"] / re).to_numpy(float)


def _fit_rates(g: pd.DataFrame) -> tuple[float, float, float, float] | None:
    """a, s, r_train, r_eval by non-negative least squares on relative errors (a 1 s stack and a
    100 s one count alike), or None when the stacks cannot tell the four apart."""
    from scipy.optimize import nnls

    X = g[["n", "S", "C", "E"]].to_numpy(float) / g["W"].to_numpy(float)[:, None]
    if len(g) < MIN_STACKS_FOR_RATES or np.linalg.matrix_rank(X) < 4:
        return None
    col = X.max(0)  # columns scaled to ~1: FLOPs are ~1e9 times a count of runs
    coef, _ = nnls(X / col, np.ones(len(g)))
    a, s, it, ie = coef / col
    if it <= 0 or ie <= 0:  # a throughput the data cannot see (say, evaluation never dominates)
        return None
    return float(a), float(s), float(1 / it), float(1 / ie)


def time_model(runs: pd.DataFrame, device_label: str, curves: pd.DataFrame | None = None) -> TimeModel:
    """What runs cost on this device, fitted to the runs trained here (imported runs were timed
    elsewhere and say nothing about this machine); the defaults when none were. `curves` (the
    store's) gives each run's evaluation passes; without it, the device's default is assumed."""
    gpu = not device_label.startswith("cpu")
    a, s, rt, re = GPU_DEFAULT if gpu else CPU_DEFAULT
    model = TimeModel(device_label, a, s, rt, re)
    if runs.empty:
        return model
    ok = (runs["device"] == device_label) & runs["wall_s"].notna() & (runs["wall_s"] > 0) & (runs["status"] != "failed")
    if "imported_from" in runs:
        ok &= runs["imported_from"].isna()
    here = runs[ok]
    if here.empty:
        return model
    if curves is not None and len(curves):
        counts = curves["run_id"].value_counts()
        passes = here["run_id"].map(counts).fillna(1).clip(lower=1).to_numpy(float)
    else:
        passes = np.array([eval_passes(_Shape(e, b), gpu) for e, b in zip(here["examples"], here["batch_size"])], float)
    g = _stacks(here, passes)
    rates = _fit_rates(g)
    if rates is not None:
        a, s, rt, re = rates
    pred = _predict(g, a, s, rt, re)
    scale = float(g["W"].sum() / pred.sum())
    by_w = g.assign(P=pred).groupby("width_step")[["n", "W", "P"]].sum()
    width_scale = tuple((int(k), float(r.W / r.P)) for k, r in by_w.iterrows() if r.n >= MIN_WIDTH_RUNS)
    k = g["width_step"].map(dict(width_scale)).fillna(scale).to_numpy(float)
    last = np.argsort(g["at"].to_numpy())[-RECENT_STACKS:] if g["at"].notna().all() else np.arange(len(g))
    recent = float(g["W"].to_numpy(float)[last].sum() / (pred * k)[last].sum())
    return TimeModel(device_label, a, s, rt, re, scale, width_scale, recent, len(here), len(g), rates is not None)


@dataclass(frozen=True)
class _Shape:  # what eval_passes reads of a run
    examples: int
    batch_size: int
