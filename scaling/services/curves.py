"""Your curves: a CSV the user brings (pasted or uploaded) read as data, checked row by row, and
each curve of it fitted, extrapolated with a 95% band and tabled for the page to draw.

The bytes are parsed by pandas' CSV reader only: never run, never rendered. Every message names
the column or the row (a 1-based data row: line row + 1 of the file, after its header), and the
page shows it through md_text. Limits: MAX_BYTES (the server's maxUploadSize in
.streamlit/config.toml is the same), MAX_ROWS, MAX_CURVES.
"""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scaling.core.fmt import fmt_num
from scaling.fit.curves import FORMS, CurveResult, band, fit_table, table_json
from scaling.fit.curves.band import N_RESAMPLES, Band

MAX_MB = 5
MAX_BYTES = MAX_MB * 1024 * 1024
MAX_ROWS = 100_000
MAX_CURVES = 40
EXTEND = 0.5          # the line runs past the fitted x by half of their log range (or to the last held-out x)
GRID = 120            # x values of the line and its band
BAND_SECONDS = 12.0   # the bands of all the curves together; each curve gets 0.5-3 s of it
LIMITS = (f"CSV, up to {MAX_MB} MB, {MAX_ROWS:,} rows and {MAX_CURVES} curves; read as data by pandas "
          "(never run, never shown as Markdown)")
FORM_CHOICES = ("auto", *FORMS)


class CurveInputError(ValueError):
    """A table or a choice of columns that cannot be fitted: one line naming the column or the row."""


def read_csv(data: bytes | str) -> pd.DataFrame:
    """The CSV as a DataFrame of strings and numbers, or CurveInputError (one line)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > MAX_BYTES:
        raise CurveInputError(f"the table is {len(data) / 2**20:.1f} MB, over the limit of {MAX_MB} MB")
    if not data.strip():
        raise CurveInputError("the table is empty: paste a CSV with a header row, or upload one")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise CurveInputError(f"the table is not UTF-8 text (byte {e.start}): save it as a UTF-8 CSV") from None
    header = text.lstrip().split("\n", 1)[0]
    sep = "," if "," in header else "\t" if "\t" in header else ";" if ";" in header else ","
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep, nrows=MAX_ROWS + 1, skip_blank_lines=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, csv.Error) as e:
        raise CurveInputError(f"cannot read the table as CSV: {str(e).strip().splitlines()[-1]}") from None
    if len(df) > MAX_ROWS:
        raise CurveInputError(f"the table has more than {MAX_ROWS:,} rows, the limit")
    if df.empty or len(df.columns) < 2:
        raise CurveInputError(f"the table needs a header row and at least two columns (x and loss); "
                              f"read {len(df.columns)} column(s) and {len(df)} row(s)")
    df.columns = [str(c) for c in df.columns]
    return df


_X_WORDS = ("x", "step", "steps", "examples", "seen examples", "tokens", "samples", "flops", "compute", "params",
            "n", "d", "epoch", "iteration", "iter")
_LOSS_WORDS = ("loss", "val_loss", "error", "perplexity", "log_perplexity", "err", "y")


def guess_columns(df: pd.DataFrame) -> dict:
    """Defaults for the column choices: x, loss and train by their names, else the first two
    numeric columns; group: the text columns (none if there are none)."""
    cols = list(df.columns)
    low = {c: c.strip().lower() for c in cols}
    numeric = [c for c in cols if pd.api.types.is_numeric_dtype(df[c])]

    def pick(words, exclude=()):
        for w in words:
            for c in cols:
                if c not in exclude and (low[c] == w or low[c].replace(" ", "_") == w):
                    return c
        return None
    train = next((c for c in cols if low[c] in ("train", "training", "fitted", "fit")), None)
    loss = pick(_LOSS_WORDS, (train,)) or next((c for c in numeric[1:] if c != train), None) or cols[1]
    x = pick(_X_WORDS, (train, loss)) or next((c for c in numeric if c not in (train, loss)), None) or cols[0]
    groups = [c for c in cols if c not in (x, loss, train) and not pd.api.types.is_numeric_dtype(df[c])]
    return dict(x=x, loss=loss, train=train, groups=groups)


def _row(i: int) -> str:
    return f"row {i + 1} (line {i + 2} of the file)"


def _numbers(df: pd.DataFrame, col: str, what: str) -> np.ndarray:
    v = pd.to_numeric(df[col], errors="coerce")
    bad = v.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raw = df[col].iloc[i]
        got = "no value (empty, NA or NaN)" if pd.isna(raw) else f"{str(raw)[:40]!r}, not a number"
        raise CurveInputError(f"{_row(i)}: {what} column {col!r} has {got}")
    a = v.to_numpy(dtype=float)
    bad = ~np.isfinite(a) | (a <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise CurveInputError(f"{_row(i)}: {what} column {col!r} has {a[i]:g}; it must be positive and finite "
                              "(the curves are fitted on log axes)")
    return a


def check_table(df: pd.DataFrame, x_col: str, loss_col: str, group_cols=(), train_col: str | None = None) -> None:
    """CurveInputError naming the column or the first bad row, or nothing."""
    group_cols = list(group_cols or [])
    for what, c in [("x", x_col), ("loss", loss_col), *(("group", g) for g in group_cols),
                    *((("train", train_col),) if train_col else ())]:
        if c not in df.columns:
            raise CurveInputError(f"no column {c!r} for {what} in the table")
    if x_col == loss_col:
        raise CurveInputError(f"x and loss are the same column {x_col!r}: choose two")
    roles = {x_col: "x", loss_col: "loss", **({train_col: "train"} if train_col else {})}
    for c in group_cols:
        if c in roles:
            raise CurveInputError(f"column {c!r} cannot be a group column and the {roles[c]} column too")
    if train_col in (x_col, loss_col):
        raise CurveInputError(f"column {train_col!r} cannot be the train column and the x or loss column too")
    _numbers(df, x_col, "the x")
    _numbers(df, loss_col, "the loss")
    if train_col:
        t = pd.to_numeric(df[train_col], errors="coerce")
        bad = ~t.isin([0, 1])
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise CurveInputError(f"{_row(i)}: the train column {train_col!r} has {str(df[train_col].iloc[i])[:40]!r}; "
                                  "it must be 1 (fit) or 0 (held out)")
    n = df.groupby(group_cols, dropna=False).ngroups if group_cols else 1
    if n > MAX_CURVES:
        raise CurveInputError(f"the groups ({', '.join(map(repr, group_cols))}) make {n} curves, over the limit of "
                              f"{MAX_CURVES}: group by fewer columns, or split the table")


@dataclass(frozen=True, eq=False)
class CurveView:
    """One curve, as the page draws it.

    Attributes
    ----------
    label : str
        Its group's values in words ("model=6 Enc, 6 Dec, task=...") or "the table"; raw text.
    result : CurveResult
        The fit (None if the curve could not be fitted: see error).
    points : pandas.DataFrame
        x, loss, predicted, role ("fitted" or "held out").
    line : pandas.DataFrame
        x, predicted, lo, hi (the band, NaN where none), part ("fitted range" or "extrapolation").
    band : Band
        How the band was made.
    params : pandas.DataFrame
        parameter, value (as text, 4 significant digits).
    backtest : pandas.DataFrame
        form, chosen, rmse_log (every form's backtest score, best first), note (why a form has
        none); empty when a form was asked for.
    error : str
        Why the curve has no fit, or empty.
    """
    label: str
    result: CurveResult | None
    points: pd.DataFrame
    line: pd.DataFrame
    band: Band | None
    params: pd.DataFrame
    backtest: pd.DataFrame
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.result is not None

    def summary(self) -> str:
        """The fit in one line: the form, its in-sample and held-out log-RMSE."""
        r = self.result
        held = (f"; log-RMSE {r.rmse_log_heldout:.4f} on the held-out points" if math.isfinite(r.rmse_log_heldout)
                else "")
        return f"{r.form}: {r.formula}; log-RMSE {r.rmse_log:.4f} on the fitted points{held}"


@dataclass(frozen=True, eq=False)
class CurvesAnswer:
    """Every curve of a table, and the fit's JSON (table_json, each curve with its band).

    Attributes
    ----------
    curves : list of CurveView
    json : bytes
        What the page offers as a download.
    x_col, loss_col : str
        The columns fitted (axis titles).
    """
    curves: list
    json: bytes
    x_col: str
    loss_col: str

    def forms_chosen(self) -> dict:
        out = {}
        for c in self.curves:
            if c.ok:
                out[c.result.form] = out.get(c.result.form, 0) + 1
        return out


def _label(group: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in group.items()) or "the table"


def _grid(x_fit: np.ndarray, x_all: np.ndarray, extend: float) -> np.ndarray:
    lo, hi = float(x_fit.min()), float(x_fit.max())
    end = max(float(x_all.max()), hi * (hi / lo) ** extend)
    return np.geomspace(min(lo, float(x_all.min())), end, GRID)


def _view(res: CurveResult, n_boot: int, seconds: float, extend: float) -> CurveView:
    pts = pd.DataFrame(list(res.predictions))
    pts["role"] = np.where(pts["fitted"], "fitted", "held out")
    fit = pts[pts["fitted"]]
    x_fit, l_fit = fit["x"].to_numpy(float), fit["loss"].to_numpy(float)
    at = _grid(x_fit, pts["x"].to_numpy(float), extend)
    b = band(res, x_fit, l_fit, at, n=n_boot, seconds=seconds)
    line = pd.DataFrame({"x": at, "predicted": res.predict(at), "lo": b.lo, "hi": b.hi,
                         "part": np.where(at <= x_fit.max() * (1 + 1e-12), "fitted range", "extrapolation")})
    params = pd.DataFrame({"parameter": list(res.params), "value": [fmt_num(float(v), 4) for v in res.params.values()]})
    # the cut-off and the points on each side are the same for every form: the reason says them
    bt = pd.DataFrame([dict(form=r.form, chosen="✓" if r.weight > 0 else "", rmse_log=r.rmse_log, note=r.note)
                       for r in res.backtest])
    if len(bt):
        bt = bt.sort_values("rmse_log", na_position="last").reset_index(drop=True)
    return CurveView(_label(res.group), res, pts[["x", "loss", "predicted", "role"]], line, b, params, bt)


def fit_curves(df: pd.DataFrame, x_col: str, loss_col: str, group_cols=(), train_col: str | None = None,
               form: str = "auto", n_boot: int = N_RESAMPLES, seconds: float = BAND_SECONDS,
               extend: float = EXTEND) -> CurvesAnswer:
    """Each curve of the table fitted (form "auto": the backtest's choice), its line extended past
    the data and its 95% band; CurveInputError for a table that cannot be read as curves. A
    curve that cannot be fitted (too few points, say) is a CurveView with its error; the others
    are still fitted. `seconds` is the bands' time budget for all the curves together."""
    group_cols = [group_cols] if isinstance(group_cols, str) else list(group_cols or [])
    if form not in FORM_CHOICES:
        raise CurveInputError(f"unknown form {form!r} (one of {', '.join(FORM_CHOICES)})")
    check_table(df, x_col, loss_col, group_cols, train_col)
    d = df.copy()
    d[x_col] = pd.to_numeric(d[x_col])
    d[loss_col] = pd.to_numeric(d[loss_col])
    if train_col:
        d[train_col] = pd.to_numeric(d[train_col])
    groups = list(d.groupby(group_cols, sort=True, dropna=False)) if group_cols else [((), d)]
    per_curve = min(3.0, max(0.5, seconds / max(len(groups), 1)))
    views, results, bands = [], [], []
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        group = dict(zip(group_cols, key))
        try:
            (res,) = fit_table(g, x_col, loss_col, group_cols, train_col, form)
        except ValueError as e:
            msg = str(e)
            label = _label(group)
            views.append(CurveView(label, None, pd.DataFrame(), pd.DataFrame(), None, pd.DataFrame(),
                                   pd.DataFrame(), msg if msg.startswith(label) else f"{label}: {msg}"))
            continue
        v = _view(res, n_boot, per_curve, extend)
        views.append(v)
        results.append(res)
        bands.append(v.band)
    out = table_json(results)
    for c, b in zip(out["curves"], bands):
        c["band"] = b.to_dict() if b.ok else None
    return CurvesAnswer(views, json.dumps(out, indent=1).encode(), x_col, loss_col)
