"""Rows that hold from 1024 px up: side by side where each cell has room, one column where not.

Why a grid and not st.columns: columns keep their share of the row at any width (they stack only
below 640 px of viewport), so at 1024 px with the sidebar open (~560 px of page) a chart got
~220 px and cut its titles and legends, a card its label. st.grid drops a column as soon as a cell
would be narrower than its minimum, and a lone cell takes the whole width.
"""
from __future__ import annotations

import streamlit as st

# A chart with a legend needs ~420 px for its plot, axis and legend: two side by side from
# ~860 px of page (1440 px with the sidebar open, or 1024 px with it closed), stacked below.
CHART_MIN_PX = 420
# a card: a label of ~35 characters and a value in the metric's 36 px font
CARD_MIN_PX = 220


def chart_row(n: int = 2, min_px: int = CHART_MIN_PX, container=None) -> list:
    """n cells for charts (and what goes under them), side by side only where each gets min_px."""
    return _cells(n, min_px, container)


def card_row(n: int, min_px: int = CARD_MIN_PX, container=None) -> list:
    """n cells for cards (metrics and their captions), as many to a row as keep min_px each."""
    return _cells(n, min_px, container)


def _cells(n: int, min_px: int, container) -> list:
    grid = (container or st).grid(max(n, 1), min_column_width=min_px)  # 1 rem between cells, as columns
    return [grid.cell() for _ in range(n)]
