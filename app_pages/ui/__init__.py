"""Streamlit glue shared by the pages; the numbers come from scaling/, this package only caches
them and draws widgets.

    gate.py           the optional password gate, and the cookie that keeps a login
    runtime.py        the server process's settings: the heap frozen out of the garbage collector's sight
    routing.py        through_app: a page always runs inside streamlit_app.py
    reads.py          the store, the device and the cache's runs and curves, guarded and cached
    fits.py           fits and study answers cached per selection, shared by every session (BOOT: resamples)
    selection.py      the selection widgets and the URL that keeps them
    cards.py          an exponent with its interval, a chart, a download
    layout.py         rows of charts and cards that stack where the page is narrow
    sweeps.py         the sweep panels (one fragment owns them), which sweeps to show, whether intervals wait
    annotations.py    runs excluded from fits or noted, past sweeps queued again or noted, the shipped grid
    notebook.py       the Download-as-notebook button
    start.py          Explore on an empty cache: the quick sweep and the shipped grid
    explore_parts.py  Explore's cards, charts and offers, drawn into slots the intervals redraw in place
    planner.py        the planner's panel (budget, runs, Queue these runs) and the scores of its predictions
    run_detail.py     a chart whose points open their runs (a dialog), and the Runs page's overlay of ticked runs
    compare_parts.py  Compare's exponent cards and chart (2 to 5 selections), from the point estimates, then with intervals
"""
from .annotations import annotate_runs, excluded_caption, past_sweeps, shipped_offer, show_toast
from .cards import chart, download, exponent_card, interval_note
from .fits import (
           BOOT,
           analysis,
           backtest,
           bracketing,
           cached_analysis,
           cached_backtest,
           fit_ahead,
           hold_out,
           lr_offer,
           point_estimates,
           study_answer,
)
from .layout import card_row, chart_row
from .notebook import notebook_button
from .planner import plan_panel, prediction_scores
from .reads import device, guarded, load_curves, load_runs, snapshot, store
from .routing import through_app
from .run_detail import overlay as run_overlay
from .run_detail import pick_chart
from .selection import selection_controls, set_estimator, set_selection, write_url
from .start import first_runs
from .sweeps import intervals_wait, remember_sweep, running_sweeps, sweep_active, sweeps_section, training_now

__all__ = ["annotate_runs", "excluded_caption", "notebook_button", "past_sweeps", "shipped_offer", "show_toast",
           "BOOT", "analysis", "backtest", "bracketing", "cached_analysis", "cached_backtest", "card_row", "fit_ahead", "hold_out", "chart", "chart_row", "device",
           "download", "exponent_card", "first_runs", "guarded", "interval_note", "intervals_wait", "load_curves",
           "load_runs", "lr_offer", "pick_chart", "plan_panel", "point_estimates", "run_overlay", "prediction_scores", "remember_sweep", "running_sweeps", "selection_controls",
           "set_estimator", "set_selection", "snapshot", "store", "study_answer", "sweep_active", "sweeps_section",
           "through_app", "training_now", "write_url"]
