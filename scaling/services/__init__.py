"""What the app's pages ask of the core, with no Streamlit in it. A page reads its widgets into a
`Selection`, calls these functions (caching them per selection and data version), and draws.

    selection.py  the Selection, its URL form, the cached choices, the runs it picks
    links.py      link parameters read back into a Selection, each bad value named
    answers.py    its fits, the lines and bands drawn around them, the tables beside them
    grids.py      training grids in the CLI's syntax, the quick sweep per device, the lr scan
    plans.py      what a grid would add here: cached, queued, new, its compute and time (fit.time_model)
    bracket.py    the runs that would bracket the optimum or tune the learning rate
    device.py     the training device of this host
    sweeps.py     queueing a sweep, its progress, the worker, a past sweep queued again
    annotations.py  runs excluded from every fit (with the reason) and included again, notes
    notebook.py   a selection's fit as a Jupyter notebook that reproduces it with the package's API
    imports.py    the shipped exercise grid, importing an export, which runs were imported
    studies.py    the studies beyond the exercise: what each asks, its preset grid, its answer
    access.py     the optional password of a hosted app, and the signed token that keeps a login
    curves.py     Your curves: a user's CSV read as data, each curve fitted, extended, banded
    planner.py    the next runs for a budget, queued with their predictions written down first, scored as they land
    run_detail.py the runs behind a chart's clicked point: configuration, where they trained, their curves
"""
from scaling.core import lazy

# Imported on first use: a page's first chart needs the answers and the selection, not the planner,
# the studies or Your curves (scaling.core.lazy).
__getattr__, __dir__, __all__ = lazy.attach(__name__, {
    "scaling.core.fmt": "compute_note equation explain_nopt floor_negligible fmt_flops fmt_num fmt_s frac_label "
                        "md_text sentence",
    "scaling.fit.time_model": "TimeModel time_model",  # what a run costs here: the pages and the CLI ask
    ".answers": "MIN_HELDOUT Coverage analysis backtest chart_runs common_range common_range_all comparison_table "
                "coverage explain_form_free headline hold_out isoflop_profiles law_band law_line lr_tuning nopt_band "
                "nopt_data_points parametric_residuals point_estimates shown_nopt verdict",
    ".bracket": "Bracket bracket next_lr_configs next_lr_cost",
    ".device": "DeviceInfo cluster_line cpu_path_line device_info",
    ".grids": "LR_SCAN QUICK_CPU QUICK_GPU GridSpec parse_count quick_grid",
    ".imports": "Shipped export_bytes import_file imported_note shipped",
    ".links": "parse_params",
    ".plans": "Plan plan",
    ".selection": "COMPUTE ESTIMATORS FAMILY FORMS LR_TUNED MIN_POINTS PARAM_KEYS PRECISIONS STUDY_AXES VERDICT Options "
                  "Selection SelectionError contrast_labels current data_version describe describe_family "
                  "fit_to_options follow_growth n_stale options select selection_version study_words",
    ".sweeps": "SweepStatus bootstrap_waits past_sweeps queue_runs requeue_sweep stale_configs start_sweep "
               "start_worker sweep_status wait_sweep worker_pid",
}, submodules=("annotations", "curves", "notebook", "planner", "run_detail", "studies"))  # services.studies.preset
