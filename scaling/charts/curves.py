"""The chart of Your curves: one learning curve on log-log axes, its points (fitted and held out
marked apart), the fitted form's line extended past the data (dashed there) and its 95% band.

Takes a services.curves.CurveView's frames (fixed column names: the user's column names and
group values are only titles, never field names or expressions), gives a Figure.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from scaling.charts.vega import FIT_COLOR, HEIGHT, PAIR, SCI, _figure, _title, _vals, enc, layered, log_enc, mark, unit

ROLES = ["fitted", "held out"]
PARTS = ["fitted range", "extrapolation"]


def _x_labels(values) -> str | None:
    v = _vals(values)
    return SCI if v.size and (v.max() >= 1e5 or v.min() < 1e-3) else None


def _pad(values) -> float:
    """The axis' margin past the data: the charts' usual 12%, less where the data span a narrow range
    (a loss from 0.92 to 1.0 would otherwise fill a third of the plot)."""
    v = _vals(values)
    v = v[v > 0]
    return float(np.clip((v.max() / v.min()) ** 0.08, 1.02, 1.12)) if v.size else 1.12


@_figure
def curve_fit(src, points: pd.DataFrame, line: pd.DataFrame, title: str, subtitle: str = "",
              x_title: str = "x", loss_title: str = "loss") -> dict:
    """points: x, loss, predicted, role; line: x, predicted, lo, hi, part. The y axis spans the
    points and the line; the band is clipped to it rather than stretching it."""
    xs = _vals(points["x"], line["x"])
    ys = _vals(points["loss"], line["predicted"])
    x = log_enc("x:Q", x_title, xs, label_expr=_x_labels(xs), pad=_pad(xs))
    y = log_enc("loss:Q", loss_title, ys, pad=_pad(ys))
    y_line = {**y, "field": "predicted"}
    layers = []
    b = line.dropna(subset=["lo", "hi"])
    if len(b):
        layers.append(unit(src("band", b), mark("area", color=FIT_COLOR, opacity=0.15, clip=True),
                           x=x, y={**y, "field": "lo"}, y2=enc("hi"),
                           tooltip=[enc("x:Q", format=".4~g", title=x_title),
                                    enc("lo:Q", format=".4~g", title="95% low"),
                                    enc("hi:Q", format=".4~g", title="95% high")]))
    layers.append(unit(src("line", line), mark("line", color=FIT_COLOR, strokeWidth=2, clip=True),
                       x=x, y=y_line,
                       strokeDash=enc("part:N", title="line", sort=PARTS,
                                      scale={"domain": PARTS, "range": [[1, 0], [6, 4]]},
                                      legend={"orient": "bottom", "symbolStrokeColor": FIT_COLOR})))
    layers.append(unit(src("points", points), mark("point", size=60, filled=True, opacity=0.9),
                       x=x, y=y,
                       color=enc("role:N", title="points", sort=ROLES,
                                 scale={"domain": ROLES, "range": [PAIR[0], PAIR[1]]}, legend={"orient": "bottom"}),
                       shape=enc("role:N", sort=ROLES, scale={"domain": ROLES, "range": ["circle", "diamond"]},
                                 legend=None),
                       tooltip=[enc("role:N", title="point"), enc("x:Q", format=".4~g", title=x_title),
                                enc("loss:Q", format=".4~g", title=loss_title),
                                enc("predicted:Q", format=".4~g", title="fitted form")]))
    shaded = "shaded: 95% band (residuals resampled)" if len(b) else ""
    return layered(*layers, height=HEIGHT, title=_title(title, subtitle, shaded, subtitleColor="gray"))
