"""The forms' formulas: what each one predicts from its parameters (in the data's own x units),
its parameter names and the fewest points that determine it. No fitting here.

    power         L = A x^-alpha                                   (M1 in Alabdulmohsin et al.)
    offset_power  L = E + A x^-alpha                               (M2; Hestness et al. 2017)
    m3            L = beta (1/x + gamma)^c                         (M3)
    m4            (L - E_inf) / (E_0 - L)^alpha = beta x^-c        (M4, the paper's estimator)
    broken        L = E + A x^-c0 (1 + (x/d)^(1/f))^(-c1 f)        (Caballero et al. 2022, one break)

Every prediction is computed in log space, so parameters like A = 1e30 for x ~ 1e11 are safe.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FormInfo:
    """What a form is, for tables and help text.

    Attributes
    ----------
    name : str
        Short name used in results and on the command line.
    formula : str
        The form in plain text.
    params : tuple of str
        Parameter names, in the order the formula uses them.
    fit_loss : str
        The loss it is fitted with, and whose choice that is.
    """
    name: str
    formula: str
    params: tuple[str, ...]
    fit_loss: str

    @property
    def min_points(self) -> int:
        """Fewest points that pin the form down with one point to spare."""
        return len(self.params) + 1


FORMS: dict[str, FormInfo] = {f.name: f for f in (
    FormInfo("power", "L = A x^-alpha", ("A", "alpha"),
             "least squares on log L (Alabdulmohsin et al.'s M1)"),
    FormInfo("offset_power", "L = E + A x^-alpha", ("E", "A", "alpha"),
             "least squares on log L (the squared log error that the benchmark scores)"),
    FormInfo("m3", "L = beta (1/x + gamma)^c", ("beta", "gamma", "c"),
             "least squares on log L (Alabdulmohsin et al.'s M3)"),
    FormInfo("m4", "(L - E_inf)/(E_0 - L)^alpha = beta x^-c", ("E_inf", "E_0", "alpha", "beta", "c"),
             "least squares on log(L - E_inf) - alpha log(E_0 - L) - log(beta x^-c), the paper's own"),
    FormInfo("broken", "L = E + A x^-c0 (1 + (x/d)^(1/f))^(-c1 f)", ("E", "A", "c0", "c1", "d", "f"),
             "least squares on log L (Caballero et al.'s MSLE)"),
)}


def _log_power(p: dict, lx: np.ndarray) -> np.ndarray:
    return np.log(p["A"]) - p["alpha"] * lx


def _log_offset_power(p: dict, lx: np.ndarray) -> np.ndarray:
    return np.logaddexp(np.log(p["E"]) if p["E"] > 0 else -np.inf, np.log(p["A"]) - p["alpha"] * lx)


def _log_m3(p: dict, lx: np.ndarray) -> np.ndarray:
    lg = np.log(p["gamma"]) if p["gamma"] > 0 else -np.inf
    return np.log(p["beta"]) + p["c"] * np.logaddexp(-lx, lg)


def m4_solve(log_f: np.ndarray, e_inf: float, e_0: float, alpha: float) -> np.ndarray:
    """L from (L - E_inf)/(E_0 - L)^alpha = f, with f = exp(log_f).

    With w = L - E_inf = b t, b = E_0 - E_inf and t = sigmoid(z), the equation reads
    log sigmoid(z) - alpha log sigmoid(-z) = log_f + (alpha - 1) log b, whose left side rises
    strictly with z: bisection on z finds the one root (t in (0, 1), so E_inf < L < E_0).
    alpha ~ 0 is the plain L = E_inf + f, as in the paper.
    """
    log_f = np.asarray(log_f, dtype=float)
    if alpha < 1e-5:
        return e_inf + np.exp(log_f)
    b = e_0 - e_inf
    k = log_f + (alpha - 1.0) * np.log(b)
    lo, hi = np.full_like(k, -800.0), np.full_like(k, 800.0)
    for _ in range(90):
        z = 0.5 * (lo + hi)
        h = -np.logaddexp(0.0, -z) + alpha * np.logaddexp(0.0, z)
        above = h > k
        hi = np.where(above, z, hi)
        lo = np.where(above, lo, z)
    z = 0.5 * (lo + hi)
    return e_inf + b * np.exp(-np.logaddexp(0.0, -z))


def _log_m4(p: dict, lx: np.ndarray) -> np.ndarray:
    return np.log(m4_solve(np.log(p["beta"]) - p["c"] * lx, p["E_inf"], p["E_0"], p["alpha"]))


def _log_broken(p: dict, lx: np.ndarray) -> np.ndarray:
    term = (np.log(p["A"]) - p["c0"] * lx
            - p["c1"] * p["f"] * np.logaddexp(0.0, (lx - np.log(p["d"])) / p["f"]))
    return np.logaddexp(np.log(p["E"]) if p["E"] > 0 else -np.inf, term)


_LOG_PREDICT = {"power": _log_power, "offset_power": _log_offset_power, "m3": _log_m3,
                "m4": _log_m4, "broken": _log_broken}


def log_predict(form: str, params: dict, x) -> np.ndarray:
    """log L(x) under a form with the given parameters (x in the data's own units)."""
    if form not in _LOG_PREDICT:
        raise ValueError(f"unknown form {form!r} (one of {', '.join(FORMS)})")
    with np.errstate(divide="ignore", over="ignore"):
        return _LOG_PREDICT[form](params, np.log(np.asarray(x, dtype=float)))


def limit(form: str, params: dict) -> float:
    """L as x -> infinity: the irreducible loss the form implies (0 for a pure power law)."""
    if form in ("offset_power", "broken"):
        return float(params["E"])
    if form == "m3":
        return float(params["beta"] * params["gamma"] ** params["c"])
    if form == "m4":
        return float(params["E_inf"])
    return 0.0
