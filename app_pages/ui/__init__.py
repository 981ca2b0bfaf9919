"""Streamlit glue shared by the pages; the numbers come from scaling/, this package only caches
them and draws widgets.

    routing.py    through_app: a page always runs inside streamlit_app.py
    reads.py      the store, the device and the cache's runs and curves, guarded and cached
    fits.py       fits cached per selection (BOOT: the pages' bootstrap resamples)
    selection.py  the selection widgets and the URL that keeps them
    cards.py      an exponent with its interval, a chart, a download
    layout.py     rows of charts and cards that stack where the page is narrow
    sweeps.py     the sweep panels (one fragment owns them), and which sweeps to show
"""
from .cards import chart, download, exponent_card, interval_note
from .fits import BOOT, analysis, backtest, bracketing, cached_analysis, lr_offer, point_estimates
from .layout import card_row, chart_row
from .reads import device, guarded, load_curves, load_runs, snapshot, store
from .routing import through_app
from .selection import selection_controls, set_estimator, set_selection, write_url
from .sweeps import remember_sweep, running_sweeps, sweep_active, sweeps_section

__all__ = ["BOOT", "analysis", "backtest", "bracketing", "cached_analysis", "card_row", "chart", "chart_row", "device", "download", "exponent_card", "guarded", "interval_note", "load_curves",
           "load_runs", "lr_offer", "point_estimates", "remember_sweep", "running_sweeps", "selection_controls",
           "set_estimator", "set_selection", "snapshot", "store", "sweep_active", "sweeps_section", "through_app", "write_url"]
