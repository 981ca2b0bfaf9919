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
from scaling.core.fmt import (
    compute_note,
    equation,
    explain_nopt,
    floor_negligible,
    fmt_flops,
    fmt_num,
    fmt_s,
    frac_label,
    md_text,
    sentence,
)
from scaling.fit.time_model import TimeModel, time_model  # what a run costs here: the pages and the CLI ask
from scaling.services import (  # services.studies.preset: the modules
    annotations,
    curves,
    notebook,
    planner,
    run_detail,
    studies,
)
from scaling.services.answers import (
    MIN_HELDOUT,
    Coverage,
    analysis,
    backtest,
    chart_runs,
    common_range,
    common_range_all,
    comparison_table,
    coverage,
    explain_form_free,
    headline,
    hold_out,
    isoflop_profiles,
    law_band,
    law_line,
    lr_tuning,
    nopt_band,
    nopt_data_points,
    parametric_residuals,
    point_estimates,
    shown_nopt,
    verdict,
)
from scaling.services.bracket import Bracket, bracket, next_lr_configs, next_lr_cost
from scaling.services.device import DeviceInfo, cluster_line, cpu_path_line, device_info
from scaling.services.grids import LR_SCAN, QUICK_CPU, QUICK_GPU, GridSpec, parse_count, quick_grid
from scaling.services.imports import Shipped, export_bytes, import_file, imported_note, shipped
from scaling.services.links import parse_params
from scaling.services.plans import Plan, plan
from scaling.services.selection import (
    COMPUTE,
    ESTIMATORS,
    FAMILY,
    FORMS,
    LR_TUNED,
    MIN_POINTS,
    PARAM_KEYS,
    PRECISIONS,
    STUDY_AXES,
    VERDICT,
    Options,
    Selection,
    SelectionError,
    contrast_labels,
    current,
    data_version,
    describe,
    describe_family,
    fit_to_options,
    follow_growth,
    n_stale,
    options,
    select,
    study_words,
)
from scaling.services.sweeps import (
    SweepStatus,
    bootstrap_waits,
    past_sweeps,
    queue_runs,
    requeue_sweep,
    stale_configs,
    start_sweep,
    start_worker,
    sweep_status,
    wait_sweep,
    worker_pid,
)

__all__ = [
    "COMPUTE", "ESTIMATORS", "FAMILY", "STUDY_AXES", "study_words", "FORMS", "LR_SCAN", "LR_TUNED", "MIN_POINTS", "PARAM_KEYS", "PRECISIONS", "VERDICT", "QUICK_CPU", "QUICK_GPU", "Bracket", "Coverage", "DeviceInfo", "GridSpec",
    "Options", "Plan", "Selection", "SelectionError", "SweepStatus", "analysis", "backtest", "bootstrap_waits", "explain_form_free", "headline", "hold_out", "MIN_HELDOUT", "sentence", "bracket", "chart_runs", "common_range", "common_range_all", "coverage", "comparison_table", "compute_note", "current",
    "cluster_line", "contrast_labels", "cpu_path_line", "data_version", "describe", "describe_family", "device_info", "equation", "explain_nopt",
    "fit_to_options", "floor_negligible", "fmt_flops", "fmt_num", "fmt_s", "follow_growth", "frac_label",
    "isoflop_profiles", "law_band", "law_line", "lr_tuning", "md_text", "n_stale", "next_lr_configs", "next_lr_cost", "nopt_band", "nopt_data_points", "options", "parametric_residuals", "parse_count", "parse_params", "plan",
    "point_estimates", "queue_runs", "quick_grid", "select", "shown_nopt", "stale_configs", "start_sweep", "start_worker", "sweep_status",
    "TimeModel", "time_model", "verdict", "wait_sweep", "worker_pid",
    "Shipped", "export_bytes", "import_file", "imported_note", "shipped", "studies", "curves",
    "annotations", "notebook", "past_sweeps", "requeue_sweep", "run_detail",
]
