"""Rows that hold from 1024 px up: side by side where each cell has room, one column where not.

Why a grid and not st.columns: columns keep their share of the row at any width until the viewport
is a phone's, so a narrow page squeezes a chart until it cuts its titles and legends. st.grid drops
a column as soon as a cell would be narrower than its minimum, and a lone cell takes the whole width.
"""
from __future__ import annotations

import streamlit as st

CHART_MIN_PX = 420  # a chart's plot, axis and legend
CARD_MIN_PX = 220   # a card's label and its value in the metric's font


def chart_row(n: int = 2, min_px: int = CHART_MIN_PX, container=None) -> list:
    """n cells for charts (and what goes under them), side by side only where each gets min_px."""
    return _cells(n, min_px, container)


def card_row(n: int, min_px: int = CARD_MIN_PX, container=None) -> list:
    """n cells for cards (metrics and their captions), as many to a row as keep min_px each."""
    return _cells(n, min_px, container)


def _cells(n: int, min_px: int, container) -> list:
    grid = (container or st).grid(max(n, 1), min_column_width=min_px)  # 1 rem between cells, as columns
    return [grid.cell() for _ in range(n)]
