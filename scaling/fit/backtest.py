"""Backtest: fit below a compute cut-off, predict the held-out frontier above it, score the error."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scaling.fit.estimate import ESTIMATORS, SLICES, point_estimates, try_fit
from scaling.fit.optim import one_blas_thread
from scaling.fit.power_law import PowerLawFit, fit_power_law
from scaling.fit.resample import Resampler
from scaling.fit.runs import Prepared, frontier_mask
from scaling.fit.serialize import jsonable


@dataclass(frozen=True, eq=False)
class Backtest:
    """Each law and N_opt estimator fitted below a compute cut-off, scored on the held-out frontier
    above it.

    Attributes
    ----------
    cutoff_flops : float
        The cut-off: configurations with C up to it (FLOPs) are fitted.
    octaves : float
        What is held out: the top `octaves` factors of 2 of compute.
    table : DataFrame
        One row per model of BACKTEST_MODELS: model, predicts ('loss' or 'N_opt'), n_fit, n_heldout,
        rms_log_error (RMS of ln prediction - ln observed), mape (mean |prediction/observed - 1|), and
        reason (why it cannot predict, else '').
    heldout : DataFrame
        The held-out frontier configurations (params, examples, flops, val_loss), with each model's
        prediction pred_<key>, and its band lo_<key>, hi_<key> with n_boot.
    n_boot : int
        Resamples behind the bands (0: none).
    """
    cutoff_flops: float
    octaves: float
    table: pd.DataFrame
    heldout: pd.DataFrame
    n_boot: int = 0

    def to_dict(self) -> dict:
        return jsonable(dict(cutoff_flops=self.cutoff_flops, octaves=self.octaves, table=self.table,
                             heldout=self.heldout, n_boot=self.n_boot))

    def format(self) -> str:
        lines = [f"backtest: fitted on compute <= {self.cutoff_flops:.3g} FLOP, predicting the frontier in the top "
                 f"{self.octaves:g} octaves of compute ({len(self.heldout)} held-out frontier configurations)"]
        for r in self.table.itertuples():
            lines.append(f"  {r.model:<28} " + (f"RMS log error {r.rms_log_error:.4f}, mean |error| {r.mape:.1%}"
                                                if math.isfinite(r.rms_log_error) else f"cannot predict: {r.reason}"))
        return "\n".join(lines)


# what each model predicts at a held-out frontier point: its loss, or N_opt at its compute
BACKTEST_MODELS = {"power": ("frontier law A·C^-α", "loss"), "irreducible": ("frontier law E + A·C^-α", "loss"),
                   "parametric": ("parametric L(N, D)", "loss"),
                   **{f"nopt_{m}": (f"N_opt by {ESTIMATORS[m]}", "N_opt") for m in ESTIMATORS}}


def _config_points(runs: pd.DataFrame, lr) -> tuple[np.ndarray, ...]:
    """N, D, C and seed-mean loss of the configurations a fit uses (one family, lr chosen)."""
    p = Prepared(runs, None, lr)
    p.check_single_family()
    mean, use, _ = p.select(np.ones(len(p.runs)))
    if not use.any():
        raise ValueError("no usable runs")
    return p.N[use], p.D[use], p.C[use], mean[use]


MIN_HELDOUT = 3  # a score from fewer held-out frontier configurations says little
OCTAVE_STEPS = tuple(np.arange(1.0, 8.01, 0.5).tolist())  # what the Fit lab's slider offers


@dataclass(frozen=True)
class HoldOut:
    """How many octaves of compute a backtest holds out by default, and what that leaves.

    Attributes
    ----------
    octaves : float
        The fewest of OCTAVE_STEPS that hold out MIN_HELDOUT frontier configurations and leave 3 to fit;
        where none does, the one that holds out the most while leaving 3.
    n_heldout, n_fit : int
        Frontier configurations held out; configurations fitted.
    why : str
        '' when n_heldout reaches MIN_HELDOUT, else why it cannot, in words.
    """
    octaves: float
    n_heldout: int
    n_fit: int
    why: str


def hold_out(runs: pd.DataFrame, lr="tuned") -> HoldOut:
    """The default hold-out of a backtest on these runs (HoldOut)."""
    N, D, C, L = _config_points(runs, lr)
    front = frontier_mask(C, L)
    counts = [(o, int((front & (C > C.max() / 2 ** o)).sum()), int((C <= C.max() / 2 ** o).sum())) for o in OCTAVE_STEPS]
    fits = [c for c in counts if c[2] >= 3]
    enough = [c for c in fits if c[1] >= MIN_HELDOUT]
    if enough:
        return HoldOut(*enough[0], "")
    if not fits:
        return HoldOut(OCTAVE_STEPS[0], counts[0][1], counts[0][2],
                       "every hold-out leaves fewer than 3 configurations to fit: the compute range is too narrow")
    o, h, f = max(fits, key=lambda c: (c[1], -c[0]))
    return HoldOut(o, h, f, f"the frontier has {int(front.sum())} configurations, and at most {h} of them lie above a "
                            f"cut-off that leaves 3 configurations to fit: {MIN_HELDOUT} need a wider compute range")


def _predictions(p: Prepared, r: dict, held: pd.DataFrame, init: PowerLawFit | None) -> tuple[dict, PowerLawFit | None]:
    """Each model's prediction at the held-out points from one estimate (_estimate's dict), or its
    reason for not predicting; and the irreducible frontier law it fitted (init warm-starts it)."""
    C, N, D = (held[k].to_numpy(float) for k in ("flops", "params", "examples"))
    use, fm = r["use"], r["frontier"]
    out = {"power": (r["loss_vs_compute"].predict(C) if r["loss_vs_compute"] is not None
                     else r["loss_vs_compute_reason"])}
    kw = dict(n_starts=0, init=init) if init is not None else {}
    irr, why = try_fit(fit_power_law, p.C[use][fm], r["mean"][use][fm], True, **kw)
    out["irreducible"] = irr.predict(C) if irr is not None else why
    # an estimator that failed on the full data is skipped in the resamples (absent from r)
    nf = r.get("parametric")
    out["parametric"] = r["parametric_fit"].predict(N, D) if nf is not None and nf.ok else (nf.reason if nf else "skipped")
    for m in ESTIMATORS:
        out[f"nopt_{m}"] = r[m].predict(C) if m in r and r[m].ok else (r[m].reason if m in r else "skipped")
    return out, irr


@one_blas_thread()
def backtest(runs: pd.DataFrame, *, octaves: float = 2.0, lr="tuned", n_boot: int = 0, seed: int = 0,
             scheme: str | None = None, level: float = 0.95) -> Backtest:
    """Fit each law form and each N_opt estimator on the runs with compute at most C_max / 2^octaves
    and predict the held-out compute-efficient frontier above it (the frontier of all
    configurations): the loss at each held-out point, and N_opt at its compute against the N of the
    configuration that is on the frontier there (the grid's steps in N bound that error from
    below). The extrapolation error a researcher would have made, as RMS log error and mean
    absolute percentage error (the metrics of extrapolation benchmarks, e.g. Alabdulmohsin et al.
    2022); with n_boot, a pointwise band per prediction from the same resampling as the
    intervals (Resampler)."""
    if not (math.isfinite(octaves) and octaves > 0):
        raise ValueError(f"octaves must be a positive number, got {octaves!r}")
    N, D, C, L = _config_points(runs, lr)
    cut = float(C.max()) / 2 ** octaves
    below, front = C <= cut, frontier_mask(C, L)
    held = front & ~below
    if held.sum() < 1 or below.sum() < 3:
        raise ValueError(f"holding out the top {octaves:g} octaves of compute leaves {int(below.sum())} configurations "
                         f"to fit and {int(held.sum())} frontier points to predict (need 3 and 1): train a wider "
                         "compute range, or hold out fewer octaves")
    out = pd.DataFrame({"params": N[held], "examples": D[held], "flops": C[held], "val_loss": L[held]})
    ok = runs[runs["status"].astype(str) == "ok"]
    p = Prepared(ok[pd.to_numeric(ok["flops"]).to_numpy(float) <= cut * (1 + 1e-9)], None, lr)
    point = point_estimates(p, np.ones(len(p.runs)), irreducible=False, skip=frozenset(SLICES))
    pred, irr = _predictions(p, point, out, None)
    good = [k for k, v in pred.items() if not isinstance(v, str)]
    if n_boot > 0:
        rng, draw = np.random.default_rng(seed), Resampler(p, scheme)
        skip = frozenset([m for m in ESTIMATORS if not point[m].ok] + list(SLICES))
        samples = {k: np.full((n_boot, len(out)), np.nan) for k in good}
        for i in range(n_boot):
            try:
                r = point_estimates(p, draw.weights(rng), irreducible=False, init=point, skip=skip)
            except ValueError:
                continue
            for k, v in _predictions(p, r, out, irr)[0].items():
                if k in samples and not isinstance(v, str):
                    samples[k][i] = v
        q = [(1 - level) / 2, (1 + level) / 2]
        for k, s in samples.items():
            fin = np.isfinite(s).all(axis=1)
            if fin.any():
                out[f"lo_{k}"], out[f"hi_{k}"] = np.quantile(s[fin], q, axis=0)
    obs = {"loss": out["val_loss"].to_numpy(float), "N_opt": out["params"].to_numpy(float)}
    rows = []
    for key, (what, quantity) in BACKTEST_MODELS.items():
        row = dict(model=what, predicts=quantity, n_fit=int(below.sum()), n_heldout=len(out),
                   rms_log_error=math.nan, mape=math.nan, reason="")
        v = pred[key]
        if isinstance(v, str):
            rows.append({**row, "reason": v})
            continue
        v = np.asarray(v, float)
        out[f"pred_{key}"] = v
        err = np.log(v) - np.log(obs[quantity])
        rows.append({**row, "rms_log_error": float(np.sqrt(np.mean(err ** 2))),
                     "mape": float(np.mean(np.abs(v / obs[quantity] - 1)))})
    return Backtest(cut, float(octaves), pd.DataFrame(rows), out, int(n_boot))
