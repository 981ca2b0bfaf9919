"""Streamlit glue shared by the pages; the numbers come from scaling/, this package only caches
them and draws widgets.

    gate.py           the optional password gate, and the cookie that keeps a login
    runtime.py        the server process: its start (a first visitor's Explore done ahead), its heap frozen
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
from scaling.core import lazy

# Imported on first use: the app's script imports gate and runtime from here, and a page's first
# chart then needs only the modules it calls (scaling.core.lazy).
__getattr__, __dir__, __all__ = lazy.attach(__name__, {
    ".annotations": "annotate_runs excluded_caption past_sweeps shipped_offer show_toast",
    ".cards": "chart download exponent_card interval_note",
    ".fits": "BOOT after_redraw analysis backtest bracketing cached_analysis cached_backtest fit_ahead hold_out lr_offer point_estimates "
             "study_answer",
    ".layout": "card_row chart_row",
    ".notebook": "notebook_button",
    ".planner": "plan_panel prediction_scores",
    ".reads": "device guarded load_curves load_runs snapshot store",
    ".routing": "through_app",
    ".run_detail": "overlay as run_overlay pick_chart",
    ".selection": "selection_controls set_estimator set_selection write_url",
    ".start": "first_runs",
    ".sweeps": "intervals_wait remember_sweep running_sweeps sweep_active sweeps_section training_now",
})
