"""Chooses a curve's form by its own backtest: fit every form below a cut-off, score each one's
extrapolation above it, refit the winner (or the backtest-weighted average) on all the points.
fit_form fits one named form; fit_curve does the choosing."""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from scaling.fit.curves.alabdulmohsin import fit_m3, fit_m4
from scaling.fit.curves.broken import fit_broken
from scaling.fit.curves.forms import FORMS, log_predict
from scaling.fit.curves.inputs import MIN_POINTS, check_curve
from scaling.fit.curves.power import fit_offset_power, fit_power
from scaling.fit.curves.results import BacktestRow, CurveResult, FormFit
from scaling.fit.optim import one_blas_thread

FITTERS = {"power": fit_power, "offset_power": fit_offset_power, "m3": fit_m3, "m4": fit_m4,
           "broken": fit_broken}
AUTO_FORMS = ("power", "offset_power", "m3", "m4", "broken")
HOLDOUT = 0.2       # the backtest holds out the top fifth of the fitted log-x range
COMBINE = "select"  # "select": the backtest's winner; "average": weighted by backtest error


def fit_form(form: str, x, loss, upper: float | None = None) -> FormFit:
    """One named form fitted to (x, loss); ValueError for bad input, too few points for the form,
    or a fit that has no finite answer."""
    if form not in FITTERS:
        raise ValueError(f"unknown form {form!r} (one of {', '.join(FITTERS)})")
    info = FORMS[form]
    x, loss = check_curve(x, loss, max(MIN_POINTS, info.min_points), f"the {form} form")
    if np.unique(x).size < len(info.params):
        raise ValueError(f"the {form} form needs at least {len(info.params)} distinct x values, "
                         f"got {np.unique(x).size}")
    try:
        with one_blas_thread(), np.errstate(all="ignore"):
            params = FITTERS[form](x, loss, upper=upper) if form == "m4" else FITTERS[form](x, loss)
            r = log_predict(form, params, x) - np.log(loss)
    except ArithmeticError as e:   # a float overflow outside numpy: no finite fit
        raise ValueError(f"the {form} form has no finite fit to these points ({e})") from None
    if not (all(math.isfinite(v) for v in params.values()) and np.isfinite(r).all()):
        raise ValueError(f"the {form} form has no finite fit to these points")
    return FormFit(form=form, params=params, n_points=int(x.size),
                   x_range=(float(x[0]), float(x[-1])), rmse_log=float(np.sqrt(np.mean(r ** 2))))


def cutoff_index(x: np.ndarray, holdout: float = HOLDOUT) -> int:
    """How many of the sorted x fall below the backtest cut-off: the top `holdout` of the log-x
    range is held out, always at least one point, and never a point that shares its x with one
    below the cut-off."""
    lx = np.log(x)
    cut = lx[-1] - holdout * (lx[-1] - lx[0])
    k = int(np.searchsorted(lx, cut, side="right"))
    k = min(k, x.size - 1)
    while 0 < k < x.size and x[k] == x[k - 1]:
        k -= 1
    return k


def _weights(scores: dict) -> dict:
    """Backtest-error weights: inverse mean squared error, over the forms that scored."""
    inv = {k: 1.0 / max(s, 1e-6) ** 2 for k, s in scores.items() if math.isfinite(s)}
    total = sum(inv.values())
    return {k: v / total for k, v in inv.items()}


def backtest(x, loss, forms=AUTO_FORMS, holdout: float = HOLDOUT, upper: float | None = None
             ) -> tuple[list[BacktestRow], dict]:
    """Each form fitted below the cut-off and scored above it: the rows, and each scored form's
    log predictions at the held-out x (for the average)."""
    x, loss = check_curve(x, loss)
    k = cutoff_index(x, holdout)
    xf, lf, xh, lh = x[:k], loss[:k], x[k:], np.log(loss[k:])
    rows, preds = [], {}
    for form in forms:
        try:
            fit = fit_form(form, xf, lf, upper=upper)
        except ValueError as e:
            rows.append(BacktestRow(form, int(k), int(x.size - k), float(x[k - 1]) if k else math.nan,
                                    math.nan, note=str(e)))
            continue
        p = fit.log_predict(xh)
        preds[form] = p
        rows.append(BacktestRow(form, int(k), int(x.size - k), float(x[k - 1]),
                                float(np.sqrt(np.mean((p - lh) ** 2)))))
    return rows, preds


def fit_curve(x, loss, form: str = "auto", forms=AUTO_FORMS, holdout: float = HOLDOUT,
              combine: str = COMBINE, upper: float | None = None) -> CurveResult:
    """Fit one learning curve and say which form extrapolates it best.

    form: a form's name fits that form alone (no backtest); "auto" backtests `forms` and keeps
    the winner (combine="select") or the backtest-weighted average (combine="average").
    upper: a known upper bound on the loss (1 for an error rate), used by M4 only.
    Raises ValueError (one line) for bad input: fewer than 3 points, NaN, x or loss <= 0.
    """
    x, loss = check_curve(x, loss)
    if combine not in ("select", "average"):
        raise ValueError(f"combine must be 'select' or 'average', got {combine!r}")
    if form != "auto":
        fit = fit_form(form, x, loss, upper=upper)
        return CurveResult(form=form, params=fit.params, fits={form: fit}, backtest=(),
                           reason=f"the {form} form, as asked", n_points=fit.n_points,
                           x_range=fit.x_range, rmse_log=fit.rmse_log, weights={form: 1.0})
    unknown = [f for f in forms if f not in FITTERS]
    if unknown:
        raise ValueError(f"unknown form {unknown[0]!r} (one of {', '.join(FITTERS)})")
    fits, failed = {}, {}
    for f in forms:
        try:
            fits[f] = fit_form(f, x, loss, upper=upper)
        except ValueError as e:
            failed[f] = str(e)
    if not fits:
        raise ValueError(f"no form could be fitted to these {x.size} points: {next(iter(failed.values()))}")
    k = cutoff_index(x, holdout)
    rows, preds = backtest(x, loss, [f for f in forms if f in fits], holdout, upper) if k >= MIN_POINTS else ([], {})
    scores = {r.form: r.rmse_log for r in rows if math.isfinite(r.rmse_log)}
    if not scores:
        simplest = min(fits, key=lambda f: len(FORMS[f].params))
        why = (f"{x.size} points are too few to backtest (the fit below the cut-off needs {MIN_POINTS}); "
               f"the simplest form that fits, {simplest}") if k < MIN_POINTS else \
              f"no form could be fitted below the backtest cut-off; the simplest form that fits, {simplest}"
        return _result(simplest, fits, tuple(rows), why, {simplest: 1.0}, x, loss)
    best = min(scores, key=lambda f: (scores[f], len(FORMS[f].params)))  # exact ties: the simpler
    cut_txt = f"fitted to x <= {rows[0].cutoff_x:.4g} ({rows[0].n_fit} points), scored on the {rows[0].n_heldout} above"
    if combine == "average":
        w = _weights(scores)
        lh = np.log(loss[k:])
        avg = sum(w[f] * preds[f] for f in w)
        rows = [BacktestRow(r.form, r.n_fit, r.n_heldout, r.cutoff_x, r.rmse_log, w.get(r.form, 0.0), r.note)
                for r in rows]
        rows.append(BacktestRow("average", rows[0].n_fit, rows[0].n_heldout, rows[0].cutoff_x,
                                float(np.sqrt(np.mean((avg - lh) ** 2))), 1.0,
                                "weights in-sample: chosen on these same held-out points"))
        why = (f"backtest ({cut_txt}): average of {len(w)} forms weighted by 1/error^2; best single form "
               f"{best} (log-RMSE {scores[best]:.4f})")
        return _result("average", fits, tuple(rows), why, w, x, loss)
    others = sorted((s, f) for f, s in scores.items() if f != best)
    runner = f"; next {others[0][1]} ({others[0][0]:.4f})" if others else ""
    why = f"best backtest ({cut_txt}): {best} log-RMSE {scores[best]:.4f}{runner}"
    rows = [BacktestRow(r.form, r.n_fit, r.n_heldout, r.cutoff_x, r.rmse_log, float(r.form == best), r.note)
            for r in rows]
    return _result(best, fits, tuple(rows), why, {best: 1.0}, x, loss)


def _result(form: str, fits: dict, rows: tuple, reason: str, weights: dict, x, loss) -> CurveResult:
    res = CurveResult(form=form, params=fits[form].params if form in fits else dict(weights), fits=fits,
                      backtest=rows, reason=reason, n_points=int(x.size), x_range=(float(x[0]), float(x[-1])),
                      rmse_log=math.nan, weights={k: float(v) for k, v in weights.items()})
    r = res.log_predict(x) - np.log(loss)
    return dataclasses.replace(res, rmse_log=float(np.sqrt(np.mean(r ** 2))))
