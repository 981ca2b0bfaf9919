"""Compute-optimal model size N_opt(C) = k C^a, three ways (Hoffmann et al. 2022).

1. envelope:   per width, the lower envelope of loss against compute (end points of the
               data-fraction runs plus validation curves recorded during training); at each
               log-spaced budget, the width with the lowest loss. Widths come in steps of ~2x
               in N, so the argmin is refined by a parabola through it and its two neighbours.
2. isoflop:    at each budget, every width's end-of-run loss interpolated (log-log) between
               its two runs that bracket the budget; a parabola of loss in log N through the
               widths around the minimum; its vertex.
3. parametric: L(N, D) = E + A/N^alpha + B/D^beta, minimised at each budget along the family's
               own N(width) and C/D(width) (real_compute: this CNN is not C = 6 N D, nor
               quite C proportional to N D), and a the slope of ln N_opt over those budgets;
               Chinchilla's beta/(alpha+beta) is the asymptotic figure beside it.
A budget where fewer than 3 widths reach it, or whose minimum is the smallest or largest width
there, is skipped with its reason; an estimator with fewer than 3 usable budgets returns
ok=False and a reason instead of a number. Invalid input (NaN, non-positive) raises ValueError.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from scaling.fit.intervals import Interval
from scaling.fit.parametric import ParametricFit, fit_parametric
from scaling.fit.real_compute import ComputePath, compute_path, slope_along
from scaling.fit.runs import ComputeLaw, Prepared
from scaling.fit.serialize import jsonable


@dataclass(frozen=True, eq=False)
class NoptFit:
    """Compute-optimal model size N_opt(C) = k C^a, by one estimator.

    Attributes
    ----------
    method : str
        The estimator: 'envelope', 'isoflop' or 'parametric' (a key of ESTIMATORS).
    ok : bool
        Whether it could answer; when False, a and k are NaN and reason says why.
    reason : str
        Why it cannot answer ('' when ok).
    a : float
        Exponent of N_opt in C.
    k : float
        Coefficient: N_opt in parameters at C = 1 FLOP.
    n_runs : int
        Runs behind the estimate.
    points : DataFrame or None
        C (FLOPs), N_opt (parameters): the budgets used, for charts (None in the bootstrap's refits).
    skipped : DataFrame or None
        C, reason: the budgets that could not be used, and why.
    interval : Interval or None
        Bootstrap interval of a.
    """
    method: str
    ok: bool
    reason: str
    a: float
    k: float
    n_runs: int
    points: pd.DataFrame
    skipped: pd.DataFrame
    interval: Interval | None = None

    def predict(self, C) -> np.ndarray:
        return self.k * np.asarray(C, dtype=float) ** self.a

    def to_dict(self) -> dict:
        return jsonable(dict(method=self.method, ok=self.ok, reason=self.reason, a=self.a,
                             k=self.k, n_runs=self.n_runs,
                             n_budgets=None if self.points is None else len(self.points),
                             points=self.points, skipped=self.skipped, interval=self.interval))


def _result(method, C, Nopt, skipped, n_runs, light=False, min_budgets=3) -> NoptFit:
    """Fit log N_opt = log k + a log C over the usable budgets, or say why not.

    light: skip the chart tables (the bootstrap only needs a).
    """
    C, Nopt = np.asarray(C, float), np.asarray(Nopt, float)
    if len(C) < min_budgets or np.ptp(np.log(Nopt)) < 1e-9:
        if light:
            return NoptFit(method, False, "too few budgets", np.nan, np.nan, n_runs, None, None)
        skip = pd.DataFrame(skipped, columns=["C", "reason"])
        why = "; ".join(f"{r} ({c})" for r, c in skip["reason"].value_counts().items())
        reason = (f"only {len(C)} usable compute budgets (need {min_budgets})"
                  if len(C) < min_budgets else "N_opt is the same at every usable budget")
        reason += f": skipped {why}" if why else ""
        pts = pd.DataFrame({"C": C, "N_opt": Nopt})
        return NoptFit(method, False, reason, np.nan, np.nan, n_runs, pts, skip)
    a, lnk = np.polyfit(np.log(C), np.log(Nopt), 1)
    if light:
        return NoptFit(method, True, "", float(a), float(np.exp(lnk)), n_runs, None, None)
    return NoptFit(method, True, "", float(a), float(np.exp(lnk)), n_runs,
                   pd.DataFrame({"C": C, "N_opt": Nopt}),
                   pd.DataFrame(skipped, columns=["C", "reason"]))


def _per_width_at(lnC_w, lnL_w, lnB):
    """Loss of one width at budgets lnB by log-log interpolation; NaN outside its range."""
    out = np.full(lnB.size, np.nan)
    inside = (lnB >= lnC_w[0]) & (lnB <= lnC_w[-1])
    out[inside] = np.interp(lnB[inside], lnC_w, lnL_w)
    return out


def _dedupe(lnC, lnL):
    """Sorted unique compute values, keeping the lowest loss at each."""
    o = np.lexsort((lnL, lnC))
    lnC, lnL = lnC[o], lnL[o]
    keep = np.r_[True, np.diff(lnC) > 0]
    return lnC[keep], lnL[keep]


def _profiles(model, N, lnC, lnL, lnB, envelope):
    """(widths by N, matrix width x budget of loss) from each width's points."""
    models = np.unique(model)
    lnN = np.array([np.log(N[model == m][0]) for m in models])
    prof = np.empty((models.size, lnB.size))
    for i, m in enumerate(models):
        c, l = _dedupe(lnC[model == m], lnL[model == m])
        if envelope:
            l = np.minimum.accumulate(l)   # stopping earlier is always allowed
        prof[i] = _per_width_at(c, l, lnB)
    o = np.argsort(lnN)
    return lnN[o], prof[o]


def _vertex(x, y):
    """Minimum of the least-squares parabola through (x, y), or None when it opens downwards."""
    x0 = x.mean()                      # centred: a well-conditioned 3x3 normal system
    X = np.vander(x - x0, 3)
    try:
        c2, c1, _ = np.linalg.solve(X.T @ X, X.T @ y)
    except np.linalg.LinAlgError:
        return None
    return None if c2 <= 0 else x0 - c1 / (2 * c2)


def _argmin_budgets(lnN, prof, lnB, window):
    C, Nopt, skipped = [], [], []
    for j in range(lnB.size):
        have = np.flatnonzero(np.isfinite(prof[:, j]))
        budget = float(np.exp(lnB[j]))
        if have.size < 3:
            skipped.append((budget, "fewer than 3 widths reach it"))
            continue
        y = prof[have, j]
        i = int(np.argmin(y))
        if i == 0 or i == have.size - 1:
            side = "smallest" if i == 0 else "largest"
            skipped.append((budget, f"minimum at the {side} width"))
            continue
        h = window // 2
        lo, hi = max(0, i - h), min(have.size, i + h + 1)
        x = lnN[have[lo:hi]]
        v = _vertex(x, y[lo:hi])
        if v is None or not (x[0] <= v <= x[-1]):
            skipped.append((budget, "no minimum inside the widths"))
            continue
        C.append(budget)
        Nopt.append(float(np.exp(v)))
    return C, Nopt, skipped


def envelope_arrays(model, N, C, L, n_runs, n_budgets=24, light=False) -> NoptFit:
    lnC, lnL = np.log(C), np.log(L)
    lnB = np.linspace(lnC.min(), lnC.max(), n_budgets)
    lnN, prof = _profiles(model, N, lnC, lnL, lnB, envelope=True)
    return _result("envelope", *_argmin_budgets(lnN, np.exp(prof), lnB, window=3), n_runs, light)


def isoflop_arrays(model, N, C, L, n_runs, n_budgets=16, window=5, light=False) -> NoptFit:
    lnC, lnL = np.log(C), np.log(L)
    lnB = np.linspace(lnC.min(), lnC.max(), n_budgets)
    lnN, prof = _profiles(model, N, lnC, lnL, lnB, envelope=False)
    return _result("isoflop", *_argmin_budgets(lnN, np.exp(prof), lnB, window=window), n_runs,
                   light)


def isoflop_profiles(points: pd.DataFrame, n_budgets: int = 6) -> pd.DataFrame:
    """For a few budgets inside the compute range, every width's loss interpolated (log-log) at
    that compute, as the isoflop estimator sees it: one row per (budget, width) that reaches it."""
    cols = ["budget", "width_step", "width", "params", "val_loss"]
    if points.empty:
        return pd.DataFrame(columns=cols)
    C, L = points["flops"].to_numpy(float), points["val_loss"].to_numpy(float)
    lnB = np.linspace(np.log(C.min()), np.log(C.max()), n_budgets + 2)[1:-1]
    step = points["width_step"].to_numpy()
    lnN, prof = _profiles(step, points["params"].to_numpy(float), np.log(C), np.log(L), lnB, envelope=False)
    by_step = points.drop_duplicates("width_step").set_index("width_step")
    steps = by_step.index.to_numpy()[np.argsort(np.log(by_step["params"].to_numpy(float)))]
    rows = [dict(budget=float(np.exp(b)), width_step=int(w), width=int(by_step.at[w, "width"]),
                 params=float(by_step.at[w, "params"]), val_loss=float(np.exp(prof[i, j])))
            for j, b in enumerate(lnB) for i, w in enumerate(steps) if np.isfinite(prof[i, j])]
    return pd.DataFrame(rows, columns=cols)


def nopt_from_fit(fit: ParametricFit, law: ComputeLaw) -> tuple[float, float]:
    """(a, G) of N_opt = G C^a: minimise A N^-alpha + B D^-beta subject to C = kappa N^gamma D."""
    al, be, g = fit.alpha, fit.beta, law.gamma
    a = be / (al + g * be)
    G = (al * fit.A / (g * be * fit.B * law.kappa ** be)) ** (1 / (al + g * be))
    return float(a), float(G)


def parametric_arrays(N, D, C, L, law: ComputeLaw, n_runs, n_budgets=16, *, delta=1e-3,
                      init=None, n_starts=8, light=False, path: ComputePath | None = None
                      ) -> tuple[NoptFit, ParametricFit | None]:
    """The parametric estimator. With a path (real_compute.compute_path), N_opt is minimised along
    the family's own compute at each of n_budgets budgets over the data's range and a is the slope
    over them; without one, a = beta/(alpha + gamma beta) from the fitted compute law."""
    empty = None if light else pd.DataFrame(columns=["C", "reason"])
    none = None if light else pd.DataFrame(columns=["C", "N_opt"])
    try:
        fit = fit_parametric(N, D, L, delta, init=init, n_starts=n_starts)
    except ValueError as e:
        return NoptFit("parametric", False, str(e), np.nan, np.nan, n_runs, none, empty), None
    for name, v in [("alpha", fit.alpha), ("beta", fit.beta)]:
        if v < 1e-3 or v > 4.99:
            why = f"{name} = {v:.3g} at its bound: loss does not follow a power law in " + \
                  ("N" if name == "alpha" else "D") + " here"
            return NoptFit("parametric", False, why, np.nan, np.nan, n_runs, none, empty), fit
    B = np.geomspace(C.min(), C.max(), n_budgets)
    if path is None:
        a, k = nopt_from_fit(fit, law)
        nb = k * B ** a
    else:
        a, k, nb = slope_along(path, fit, B)
        if not np.isfinite(a):
            why = "N_opt lies beyond the widths searched at almost every budget"
            return NoptFit("parametric", False, why, np.nan, np.nan, n_runs, none, empty), fit
    if light:
        return NoptFit("parametric", True, "", a, k, n_runs, None, None), fit
    # chart points only where N_opt lies within the widths tested: elsewhere it is extrapolated
    inside = np.isfinite(nb) & (nb >= N.min()) & (nb <= N.max())
    pts = pd.DataFrame({"C": B[inside], "N_opt": nb[inside]})
    skipped = pd.DataFrame({"C": B[~inside], "reason": "N_opt outside the widths tested"})
    return NoptFit("parametric", True, "", a, k, n_runs, pts, skipped), fit


# ---------------------------------------------------------------- public wrappers

def _used(runs, curves, lr):
    p = Prepared(runs, curves, lr)
    p.check_single_family()
    w = np.ones(len(p.runs))
    mean, use, cnt = p.select(w)
    if not use.any():
        raise ValueError("no usable runs: every run is excluded or none was given")
    return p, w, mean, use, int(cnt[use].sum())


def nopt_envelope(runs: pd.DataFrame, curves: pd.DataFrame | None = None, *, lr="tuned",
                  n_budgets: int = 24) -> NoptFit:
    """Estimator 1: lower envelope of per-width loss-vs-compute curves."""
    p, w, mean, use, n = _used(runs, curves, lr)
    cc, cC, cL = p.curve_points(w, use)
    model = np.r_[p.model[use], p.model[cc]]
    return envelope_arrays(model, np.r_[p.N[use], p.N[cc]], np.r_[p.C[use], cC],
                           np.r_[mean[use], cL], n, n_budgets)


def nopt_isoflop(runs: pd.DataFrame, *, lr="tuned", n_budgets: int = 16,
                 window: int = 5) -> NoptFit:
    """Estimator 2: IsoFLOP profiles, a parabola in log N per budget."""
    p, w, mean, use, n = _used(runs, None, lr)
    return isoflop_arrays(p.model[use], p.N[use], p.C[use], mean[use], n, n_budgets, window)


def nopt_parametric(runs: pd.DataFrame, *, lr="tuned", delta: float = 1e-3) -> NoptFit:
    """Estimator 3: the parametric L(N, D) fit, minimised along the data's compute law."""
    p, w, mean, use, n = _used(runs, None, lr)
    path = compute_path(p.cfg["width"].to_numpy(float)[use], p.N[use], p.C[use], p.D[use])
    return parametric_arrays(p.N[use], p.D[use], p.C[use], mean[use], p.compute, n,
                             delta=delta, path=path)[0]
