"""Charts: results in, Vega-Lite out, with no Streamlit and no fitting.

    vega.py     Vega-Lite in a few words (encodings, marks, layers, log axes) and Figure
    figures.py  the charts of Explore and Fit lab
    compare.py  the charts of Compare: two to five selections, one colour each
    studies.py  the charts of the studies beyond the exercise
    curves.py   the chart of Your curves: one learning curve, its fitted form, its band
    planner.py  the planner's predictions against what the runs gave
"""
from scaling.charts.curves import curve_fit
from scaling.charts.figures import (
    accuracy_vs_compute,
    bottleneck,
    isoflop_curves,
    loss_vs_compute,
    nopt_estimators,
    nopt_vs_compute,
    prediction,
    residuals,
)
from scaling.charts.planner import predicted_vs_observed
from scaling.charts.vega import HEIGHT, Figure, can_export, log_ticks
