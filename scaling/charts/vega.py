"""Vega-Lite in a few words: encodings, marks, layers, log axes, titles, and Figure (a spec with its
named data sets, validated against Altair's schema and exported to SVG/PNG).

Specs are plain dicts, not Altair objects: Altair deep-copies, merges and validates its objects on
every layer and encode, which costs more than drawing the chart (docs/performance.md).
"""
from __future__ import annotations

import functools
import math
import re
import textwrap
from dataclasses import dataclass

import numpy as np
import pandas as pd

LOG = {"type": "log", "nice": False}  # no `zero: false`: a log scale has no zero, and Vega warns at it
WIDTH_SCHEME = "viridis"
FIT_COLOR = "#d62728"
FRONTIER_COLOR = "#111111"
HEIGHT = 340
FACET_WIDTH = 340  # plus the selection names on the y axis: < 560 px
# categorical colours for a few named series (Streamlit's own palette starts with two blues)
PAIR = ["#1f77b4", "#ff7f0e", "#2ca02c"]


# ---------------------------------------------------------------- Vega-Lite in a few words
_TYPES = {"Q": "quantitative", "O": "ordinal", "N": "nominal", "T": "temporal"}


def enc(shorthand: str, **kw) -> dict:
    """An encoding channel or tooltip: enc("width:O", title="width") is
    {"field": "width", "type": "ordinal", "title": "width"}. A keyword set to None is JSON null
    (no title, no legend); leave it out to let Vega-Lite choose."""
    name, _, t = shorthand.partition(":")
    return {"field": name, **({"type": _TYPES[t]} if t else {}), **kw}


def mark(kind: str, **kw) -> dict:
    return {"type": kind, **kw}


def unit(data: dict, mark_: dict, params: list | None = None, **encoding) -> dict:
    """One layer: a data set (by name, see _Data), a mark and its encoding."""
    u = {"data": data, "mark": mark_, "encoding": encoding}
    if params:
        u["params"] = params
    return u


def when(param: str, yes, no) -> dict:
    """A value that depends on a selection: `yes` where the point is selected (or none is)."""
    return {"condition": {"param": param, "value": yes}, "value": no}


def layered(*layers: dict, **props) -> dict:
    return {"layer": list(layers), **props}


# ---------------------------------------------------------------- log axes
# Vega's own ticks on a log axis spanning less than two decades label only one or two values.
# The axes here get explicit ticks from the densest of these
# mantissa sets that gives at most ~8 of them, and a domain padded to the data, so no point sits
# on the frame and a wide bootstrap band cannot stretch the axis (the band is clipped instead).
_MANTISSAS = [(1, 1.2, 1.4, 1.6, 1.8, 2, 2.5, 3, 3.5, 4, 4.5, 5, 6, 7, 8, 9), (1, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8),
              (1, 1.5, 2, 3, 4, 5, 6, 8), (1, 2, 3, 5), (1, 2, 5), (1, 3), (1,)]
# compute as 2e9, not 2e+9; parameter and example counts as 20k, 1.5M
SCI = "replace(format(datum.value, '.2~e'), 'e+', 'e')"
SI = "replace(format(datum.value, '.3~s'), 'G', 'B')"


def log_ticks(values, max_ticks: int = 8) -> list[float]:
    """Round tick values (1-2-5 style, denser when the range is narrow) inside [min, max]."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v) & (v > 0)]
    if not v.size:
        return []
    lo, hi = float(v.min()), float(v.max())
    e0, e1 = math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1
    best = []
    for mset in _MANTISSAS:
        ticks = [float(f"{m * 10.0 ** e:.6g}") for e in range(e0, e1 + 1) for m in mset]
        ticks = [t for t in ticks if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]
        if len(ticks) <= max_ticks:
            if len(ticks) >= 2 or best:
                return ticks if len(ticks) >= 2 else best
            # a range too narrow for any round mantissa: a few values rounded to what tells them apart
            for digits in (2, 3, 4):
                few = sorted({float(f"{t:.{digits}g}") for t in np.geomspace(lo, hi, 4)})
                few = [t for t in few if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]
                if len(few) >= 2:
                    return few
            return ticks
        best = ticks
    step = math.ceil(len(best) / max_ticks)  # many decades: every step-th power of ten
    return best[::step]


def log_domain(values, pad: float = 1.12) -> list[float] | None:
    v = np.asarray(values, float)
    v = v[np.isfinite(v) & (v > 0)]
    if not v.size:
        return None
    lo, hi = float(v.min()), float(v.max())
    if hi / lo < 1.05:  # one value: a band around it
        lo, hi = lo / 1.2, hi * 1.2
    return [lo / pad, hi * pad]


def log_enc(field: str, title, values, label_expr: str | None = None, fmt: str = "~g", pad: float = 1.12, **kw) -> dict:
    """An x or y channel on a log scale with a padded domain and round ticks, from the values it must show."""
    dom = log_domain(values, pad)
    axis = {"values": log_ticks(dom)} if dom else {}
    axis.update({"format": fmt} if label_expr is None else {"labelExpr": label_expr})
    axis["grid"] = True
    return enc(field, scale={**LOG, "domain": dom} if dom else LOG, axis=axis, title=title, **kw)


# A chart whose spec stays put while its numbers change: Streamlit then updates the drawn view's
# data in place instead of compiling, parsing and drawing the chart anew (docs/performance.md). So
# the live charts' log axes carry no domain and no tick list computed from the data: Vega fits the
# domain to the data, with `padding` pixels each side so no point sits on the frame, and the ticks
# come from an expression on that domain: the densest mantissa set that gives ~8 of them over its
# span, of which Vega keeps those inside the domain (and every other one while over MAX_TICKS).
_SPANS = [(0.5, _MANTISSAS[0]), (1.0, _MANTISSAS[2]), (1.4, (1, 1.5, 2, 3, 5, 7)), (2.7, _MANTISSAS[4]),
          (4.0, _MANTISSAS[5]), (float("inf"), _MANTISSAS[6])]  # (most decades spanned, mantissas): ~8 ticks
MAX_TICKS = 9  # beyond it, Vega keeps every other tick (many decades of powers of ten)
LOSS_DECADES = (-4, 2)     # a loss, an accuracy, a residual
COUNT_DECADES = (0, 24)    # parameters, examples, FLOPs


def tick_expr(channel: str, decades: tuple[int, int]) -> dict:
    """Axis values as an expression on the `channel` scale's domain (see _SPANS)."""
    d = f"domain('{channel}')"
    span = f"log(peek({d}) / {d}[0]) / LN10"
    expr = ""
    for limit, mset in _SPANS:
        ticks = [float(f"{m * 10.0 ** e:.6g}") for e in range(decades[0], decades[1] + 1) for m in mset]
        lst = "[" + ",".join(f"{t:g}" for t in ticks) + "]"
        expr += lst if limit == float("inf") else f"{span} < {limit} ? {lst} : "
    return {"expr": expr}


def log_axis(field: str, title, channel: str, decades: tuple[int, int] = COUNT_DECADES,
             label_expr: str | None = None, fmt: str = "~g", pad_px: int = 12, **kw) -> dict:
    """An x or y channel on a log scale whose spec depends on nothing in the data: Vega fits its domain
    (padded by pad_px) and its ticks (tick_expr) to whatever data the chart holds now."""
    axis = {"values": tick_expr(channel, decades), "tickCount": MAX_TICKS, "grid": True}
    axis.update({"format": fmt} if label_expr is None else {"labelExpr": label_expr})
    return enc(field, scale={**LOG, "padding": pad_px}, axis=axis, title=title, **kw)


def clip_to(df: pd.DataFrame, lo: float, hi: float, *cols: str) -> pd.DataFrame:
    """`cols` clipped to [lo, hi]: a band or a line that must not stretch an axis Vega fits to the data."""
    if not len(df) or not (np.isfinite(lo) and np.isfinite(hi)):
        return df
    return df.assign(**{c: df[c].clip(lo, hi) for c in cols if c in df})


# Titles and subtitles as lists of short lines: Vega cuts a line longer than the chart with "…",
# and a chart can be 420 px wide (app_pages/ui/layout.py): ~56 characters of 13 px text.
LINE_CHARS = 56


def _lines(*texts: str, width: int = LINE_CHARS) -> list[str]:
    """Each text split at its ' — ' and '; ' (where it changes subject), then wrapped to `width`
    in lines of even length (no word left alone on a last line)."""
    out = []
    for t in texts:
        for part in re.split(r"\s+—\s+|;\s+", t or ""):
            lines = textwrap.wrap(part, width, break_on_hyphens=False)
            for w in range(math.ceil(len(part) / max(len(lines), 1)), width) if len(lines) > 1 else ():
                if len(even := textwrap.wrap(part, w, break_on_hyphens=False)) == len(lines):
                    lines = even
                    break
            out += lines
    return out


def _title(text: str, *subtitle: str, **kw) -> dict:
    sub = _lines(*subtitle)
    return {"text": _lines(text), **({"subtitle": sub} if sub else {}), **kw}


def _legend(n_values: int, **kw) -> dict:
    """A legend beside a plot: two columns when one would run past the plot's height (Vega
    clips a legend taller than the plot)."""
    return {"orient": "right", "columns": 2 if n_values > 6 else 1, **kw}


def _vals(*cols):
    return np.concatenate([np.asarray(c, float).ravel() for c in cols if c is not None and len(c)] or [np.array([])])


def can_export() -> bool:
    """Whether charts can be written as SVG or PNG here (the optional vl-convert package)."""
    import importlib.util

    return importlib.util.find_spec("vl_convert") is not None


def _vl_convert():
    try:
        import vl_convert
    except ImportError:
        raise RuntimeError("SVG and PNG export need vl-convert-python: pip install 'scaling-lab[export]'") from None
    return vl_convert


# Altair's default view size (the charts' own sizes override it), and no ARIA description per mark:
# Vega writes one for every point by formatting each encoded field through its expression
# interpreter, which slows drawing a chart of a few hundred runs (the chart itself, its axes and
# legends keep theirs). Streamlit does the same above 5,000 marks.
_CONFIG = {"view": {"continuousWidth": 300, "continuousHeight": 300}, "mark": {"aria": False}}


@dataclass(frozen=True, eq=False)
class Figure:
    """A Vega-Lite spec whose data sets are referenced by name, plus those data sets.

    Named data keeps the spec small; the frames go straight into its `datasets`, which Streamlit
    ships as Arrow, each cut to the columns the spec reads (a runs frame has many more columns
    than a chart reads, and every byte is sent and decoded in the browser).

    Attributes
    ----------
    chart : dict
        The Vega-Lite spec, without `config` and `datasets` (spec() adds them); its layers name
        their data ({"name": ...}).
    data : dict of str to pandas.DataFrame
        The data sets by the names the spec uses.
    caption : str
        The words that change with the numbers (an equation, an interval): drawn by the page under
        the chart, outside the spec, so that the spec stays the same while they change.
    """

    chart: dict
    data: dict
    caption: str = ""

    def spec(self) -> dict:
        d = self._head()
        d["datasets"] = {k: v[cols] for k, (v, cols) in self._used().items()}
        return d

    def wire(self) -> dict:
        """spec() as a page sends it: each data set an Arrow table of the columns the spec reads.
        Streamlit would convert a DataFrame through pandas' Arrow metadata, at 2-3x the cost."""
        import pyarrow as pa

        d = self._head()
        d["datasets"] = {k: pa.table({c: pa.array(v[c], from_pandas=True) for c in cols})
                         for k, (v, cols) in self._used().items()}
        return d

    def _head(self) -> dict:
        d = {**self.chart, "config": _CONFIG}
        if "facet" not in d:
            # Streamlit's default autosize ("fit") squeezes the plot to make room for the title,
            # legends and axes inside `height`; fit-x keeps the plot's height and fits only the
            # width to the column
            d.setdefault("autosize", {"type": "fit-x", "contains": "padding"})
        return d

    def _used(self) -> dict:
        used = _fields(self.chart)
        return {k: (v, [c for c in v.columns if c in used]) for k, v in self.data.items()}

    def validate(self) -> None:
        """Raise if the spec is not plain JSON (Streamlit sends it as such) or, with its data
        inline, not valid Vega-Lite by the schema Altair ships."""
        import json

        import jsonschema

        json.dumps({k: v for k, v in self.spec().items() if k != "datasets"}, allow_nan=False)
        if err := jsonschema.exceptions.best_match(_validator().iter_errors(self._inline())):
            raise err

    def svg(self) -> bytes:
        return _vl_convert().vegalite_to_svg(self._standalone()).encode()

    def png(self, scale: float = 2.0) -> bytes:
        return _vl_convert().vegalite_to_png(self._standalone(), scale=scale)

    def _inline(self) -> dict:
        d = self.spec()
        d["datasets"] = {k: _records(v) for k, v in d["datasets"].items()}
        return d

    def _standalone(self, width: int = 720) -> dict:
        """The spec with its data inline and a fixed plot width (no Streamlit column to fit)."""
        d = self._inline()
        if "facet" not in d:
            d["width"], d["autosize"] = width, {"type": "pad", "contains": "padding"}
        return d


@functools.cache
def _validator():
    import altair as alt
    import jsonschema

    schema = alt.vegalite.v6.schema.core.load_schema()
    return jsonschema.validators.validator_for(schema)(schema)


def _fields(spec) -> set[str]:
    """Every data field a spec reads: encodings' fields, selections' fields, `datum.x` in expressions."""
    out, todo = set(), [spec]
    while todo:
        x = todo.pop()
        if isinstance(x, dict):
            if isinstance(x.get("field"), str):
                out.add(x["field"])
            if isinstance(x.get("fields"), list):
                out.update(x["fields"])
            todo.extend(x.values())
        elif isinstance(x, list):
            todo.extend(x)
        elif isinstance(x, str) and "datum." in x:
            out.update(re.findall(r"datum\.(\w+)", x))
    return out


def _records(df: pd.DataFrame) -> list[dict]:
    import json

    return json.loads(df.to_json(orient="records", double_precision=15, date_format="iso"))


class _Data:
    """Collects a builder's frames; src(name, df) is the layer's data: the frame by name."""

    def __init__(self):
        self.frames = {}

    def __call__(self, name: str, df: pd.DataFrame) -> dict:
        self.frames[name] = df
        return {"name": name}


def _figure(builder):
    """The builder gets a `src` to name its frames with; the result is a Figure (spec + named data sets).
    A builder may return (spec, caption)."""
    @functools.wraps(builder)
    def wrapped(*args, **kw):
        src = _Data()
        chart = builder(src, *args, **kw)
        chart, caption = chart if isinstance(chart, tuple) else (chart, "")
        return None if chart is None else Figure(chart, src.frames, caption)
    return wrapped
