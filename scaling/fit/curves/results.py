"""The results: one form fitted to one curve (FormFit), one form's backtest score (BacktestRow)
and the curve's answer (CurveResult: the chosen form or average, why, and every form's fit).
Frozen dataclasses with .predict(x) and .to_dict() (JSON-ready, NaN -> None)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from scaling.fit.curves.forms import FORMS, limit, log_predict
from scaling.fit.curves.inputs import check_x
from scaling.fit.serialize import jsonable


@dataclass(frozen=True, eq=False)
class FormFit:
    """One form fitted to one curve.

    Attributes
    ----------
    form : str
        The form's name (a key of ``FORMS``).
    params : dict
        Its parameters, in the data's own x units.
    n_points : int
        Points it was fitted to.
    x_range : tuple of float
        Smallest and largest fitted x.
    rmse_log : float
        In-sample sqrt(mean((log predicted - log observed)^2)).
    """
    form: str
    params: dict
    n_points: int
    x_range: tuple[float, float]
    rmse_log: float

    @property
    def formula(self) -> str:
        return FORMS[self.form].formula

    @property
    def limit(self) -> float:
        """L as x -> infinity under this fit."""
        return limit(self.form, self.params)

    def log_predict(self, x) -> np.ndarray:
        return log_predict(self.form, self.params, check_x(x))

    def predict(self, x) -> np.ndarray:
        """Predicted loss at x (positive, finite x)."""
        return np.exp(self.log_predict(x))

    def to_dict(self) -> dict:
        return jsonable(dict(form=self.form, formula=self.formula, params=self.params,
                           n_points=self.n_points, x_range=self.x_range, rmse_log=self.rmse_log,
                           limit=self.limit))


@dataclass(frozen=True)
class BacktestRow:
    """One form's backtest on one curve: fitted below the cut-off, scored above it.

    Attributes
    ----------
    form : str
        The form (or ``"average"``, the backtest-weighted average of the forms).
    n_fit : int
        Points below the cut-off, used to fit.
    n_heldout : int
        Points above it, predicted.
    cutoff_x : float
        Largest x used to fit.
    rmse_log : float
        sqrt(mean((log predicted - log observed)^2)) on the held-out points; NaN if the form
        could not be fitted (``note`` says why).
    weight : float
        The form's weight in the average (0 for forms left out of it).
    note : str
        Empty, or why the form has no score.
    """
    form: str
    n_fit: int
    n_heldout: int
    cutoff_x: float
    rmse_log: float
    weight: float = 0.0
    note: str = ""

    def to_dict(self) -> dict:
        return jsonable(dict(form=self.form, n_fit=self.n_fit, n_heldout=self.n_heldout,
                           cutoff_x=self.cutoff_x, rmse_log=self.rmse_log, weight=self.weight,
                           note=self.note))


@dataclass(frozen=True, eq=False)
class CurveResult:
    """One learning curve's answer: the form its own backtest chose (or the backtest-weighted
    average of forms), refitted on all of the curve's points.

    Attributes
    ----------
    form : str
        The chosen form's name, or ``"average"``.
    params : dict
        The chosen form's parameters (data's x units); for ``"average"``, the weight of each
        averaged form (the forms' own parameters are in ``fits``).
    fits : dict of str to FormFit
        Every form that could be fitted to all the points, by name.
    backtest : tuple of BacktestRow
        Each form's score above the backtest cut-off (and the average's).
    reason : str
        Why this form, in words.
    n_points : int
        Points fitted.
    x_range : tuple of float
        Smallest and largest fitted x.
    rmse_log : float
        In-sample log-RMSE of the chosen prediction.
    weights : dict of str to float
        Weight of each form in the prediction (1 for the chosen form when one form is chosen).
    group : dict
        The curve's group keys when it came from a table (``fit_table``), else empty.
    predictions : tuple of dict
        From a table: each of the group's rows as {x, loss, predicted, fitted} (fitted: the row
        was among the points fitted); else empty.
    rmse_log_heldout : float
        From a table with a training column: log-RMSE on the rows not fitted; else NaN.
    """
    form: str
    params: dict
    fits: dict
    backtest: tuple
    reason: str
    n_points: int
    x_range: tuple[float, float]
    rmse_log: float
    weights: dict
    group: dict = field(default_factory=dict)
    predictions: tuple = ()
    rmse_log_heldout: float = math.nan

    def log_predict(self, x) -> np.ndarray:
        x = check_x(x)
        out = np.zeros(x.shape)
        for name, w in self.weights.items():
            if w > 0:
                out = out + w * self.fits[name].log_predict(x)
        return out

    def predict(self, x) -> np.ndarray:
        """Predicted loss at x: the chosen form's, or the weighted geometric mean of the forms'."""
        return np.exp(self.log_predict(x))

    @property
    def formula(self) -> str:
        if self.form == "average":
            return " + ".join(f"{w:.2f} log[{FORMS[k].formula}]" for k, w in self.weights.items() if w > 0)
        return FORMS[self.form].formula

    def backtest_table(self) -> list[dict]:
        return [r.to_dict() for r in self.backtest]

    def to_dict(self, x=None, loss=None) -> dict:
        """JSON-ready; with x (and loss), also the predictions there and their log-RMSE."""
        d = dict(group=self.group, form=self.form, formula=self.formula, params=self.params,
                 weights=self.weights, reason=self.reason, n_points=self.n_points, x_range=self.x_range,
                 rmse_log_fit=self.rmse_log, backtest=self.backtest_table(),
                 fits={k: f.to_dict() for k, f in self.fits.items()})
        if self.predictions:
            d["predictions"] = list(self.predictions)
            d["rmse_log_heldout"] = self.rmse_log_heldout
        if x is not None:
            x = check_x(x)
            pred = self.predict(x)
            rows = [dict(x=xi, predicted=pi) for xi, pi in zip(x, pred)]
            if loss is not None:
                loss = np.asarray(loss, dtype=float)
                for r, li in zip(rows, loss):
                    r["loss"] = li
                d["rmse_log"] = float(np.sqrt(np.mean((np.log(pred) - np.log(loss)) ** 2)))
            d["predictions"] = rows
        return jsonable(d)
