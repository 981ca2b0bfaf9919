"""Drawing helpers: an exponent with its interval, a chart, a download."""
from __future__ import annotations

import math

import pandas as pd


def exponent_card(col, label: str, value: float, iv, n_runs: int, help: str = "", pending: str = "computing…",
                  none: str = "", off: str = "") -> None:
    """`pending`: what an interval not drawn yet (iv None) is doing: computing, or waiting for training.
    `none` and `off` come from the analysis, so that every page and the CLI say the same: why the
    selection has no interval (Analysis.no_interval), why the estimate sits at an end of its interval
    or outside it (Analysis.off_interval)."""
    if value is None or not math.isfinite(value):
        col.metric(label, "—", help=help)
        col.caption("cannot be estimated from this selection")
        return
    col.metric(label, f"{value:.3f}", help=help)
    if iv is None and none:
        col.caption(f"{none[0].upper()}{none[1:]} · {n_runs} runs")
    elif iv is None:
        col.caption(f"95% interval: {pending} · {n_runs} runs")
    elif math.isfinite(iv.lo):
        col.caption(f"95% interval [{iv.lo:.3f}, {iv.hi:.3f}] · {n_runs} runs · {interval_note(iv)}")
        if not iv.reliable:
            col.caption(f":orange[Unreliable: only {iv.answered()}; an interval needs at least 80%. The fit is "
                        "fragile on this selection: widen it, or add seeds.]")
        if off:
            col.caption(f":orange[{off[0].upper()}{off[1:]}.]")
    else:
        col.caption(f"95% interval: no resample could be fitted · {n_runs} runs")


def interval_note(iv) -> str:
    """How an interval was made, in words: '171 of 200 resamples answered (seeds resampled)'."""
    return f"{iv.answered()} ({iv.scheme} resampled)"


def chart(slot, c) -> None:
    """Draw a chart (scaling.charts.Figure) from its Vega-Lite spec, validated by the tests only. The chart's
    toolbar (on hover) saves it as PNG and shows its data."""
    slot.vega_lite_chart(c.wire(), width="stretch")


def download(col, label: str, df: pd.DataFrame, name: str) -> None:
    """A CSV download, written only when clicked (a callable: no cost on every rerun)."""
    col.download_button(label, lambda: df.to_csv(index=False).encode(), file_name=name, mime="text/csv",
                        on_click="ignore", icon=":material/download:")
