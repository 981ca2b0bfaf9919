"""Fit lab: the parametric L(N, D) fit, IsoFLOP curves, the three N_opt estimators, predictions, the planner."""
import math

import pandas as pd
import streamlit as st

from app_pages import ui
from scaling import charts, services

ui.through_app()
st.title("Fit lab")
s = ui.store()
runs = ui.load_runs(s)
if services.options(runs).empty:
    st.info("No runs cached yet: start on **Explore** (quick sweep) or **Train**.")
    st.stop()
version = services.data_version(runs)
curves = ui.load_curves(s)
sel = ui.selection_controls(runs, "fit_lab")
ui.write_url((sel, ""))
sel_runs = services.select(runs, sel)  # a click on a chart's point opens these runs

progress = st.empty()  # says how far the bootstrap is
# A move draws every chart from the point estimates (shared with Explore) and a backtest without bands; the
# intervals and bands are computed after it, and a rerun then draws them in the same places.
done = ui.cached_analysis(s, version, sel, ui.BOOT, runs)
an = done if done is not None else ui.point_estimates(s, version, sel, runs, curves)
if isinstance(an, services.SelectionError):
    st.warning(f"Nothing to fit: {services.md_text(an)}")
    st.stop()

st.caption(f"Run family: {services.md_text(services.describe_family(sel.family))}; {an.n_runs} runs."
           + (f" {an.no_interval[0].upper()}{an.no_interval[1:]}." if an.no_interval else "")
           + (f" {services.md_text(services.sentence(an.seed_noise.describe()))}" if an.seed_noise else "")
           + (f" {services.md_text(services.sentence(an.frontier_laws.describe()))}" if an.frontier_laws else "")
           + (f" {services.md_text(services.sentence(an.accounted()[0]))}" if an.law_choice else ""))
pf = an.parametric
st.subheader("Parametric fit  L(N, D) = E + A/N^α + B/D^β")
if pf is None:
    st.warning("The parametric fit failed on this selection: " + services.md_text("; ".join(an.notes)))
else:
    iv = pf.intervals or {}
    npar = an.nopt["parametric"]
    floor = services.floor_negligible(pf.E, float(an.aggregate.points["val_loss"].min()))
    cols = ui.card_row(6, min_px=140)  # six short numbers: three to a row at 1024 px
    cards = [("E", "E", services.fmt_num), ("A", "A", services.fmt_num), ("B", "B", services.fmt_num),
             ("α", "alpha", lambda v: f"{v:.3f}"), ("β", "beta", lambda v: f"{v:.3f}")]
    for col, (label, k, fmt) in zip(cols, cards):
        v = getattr(pf, k)
        col.metric(label, "≈ 0" if k == "E" and floor else fmt(v))
        i = iv.get(k)
        if k == "E" and floor:
            col.caption("no irreducible loss visible in this range")
        elif i is not None and math.isfinite(i.lo):
            col.caption(f"95% [{fmt(i.lo)}, {fmt(i.hi)}] · {i.answered()}" + ("" if i.reliable else " · :orange[unreliable]"))
    a_iv = npar.interval
    cols[5].metric("a  (N_opt ∝ C^a)", f"{npar.a:.3f}" if npar.ok else "—",
                   help="β/(α + γβ): the compute-optimal split of C = κ·N^γ·D between N and D")
    if a_iv is not None and math.isfinite(a_iv.lo):
        cols[5].caption(f"95% [{a_iv.lo:.3f}, {a_iv.hi:.3f}] · {ui.interval_note(a_iv)}")
        if off := an.off_interval("a_parametric"):
            cols[5].caption(f":orange[{off[0].upper()}{off[1:]}.]")
    comp = getattr(an, "compute", None)
    gamma = f"{comp.gamma:.3f}" if comp is not None else "γ"
    st.caption(f"Summed Huber loss (δ = {pf.delta:g}) on log L over {pf.n_points} configurations: a search over "
               f"(α, β) by variable projection, then L-BFGS. {services.compute_note(an)} Minimising L at fixed C "
               f"gives N_opt ∝ C^a with "
               f"a = β/(α + γβ), γ = {gamma}; β/(α+β) = {pf.a:.3f} would be the exponent if C were ∝ N·D.")

st.subheader("Compute-optimal model size, three ways")
c1, c2 = ui.chart_row(2)
prof = services.isoflop_profiles(an.aggregate.points)
if len(prof):
    ui.chart(c1, charts.isoflop_curves(prof, an.nopt["isoflop"]))
ch = charts.nopt_estimators(an.nopt)
if ch is not None:
    ui.chart(c2, ch)
else:
    c2.info("No N_opt estimator can answer on this selection.")
est = pd.DataFrame([dict(estimator=services.ESTIMATORS[m], a=f"{nf.a:.3f}" if nf.ok else "—",
                         interval=f"[{nf.interval.lo:.3f}, {nf.interval.hi:.3f}]"
                         if nf.ok and nf.interval is not None and math.isfinite(nf.interval.lo) else "—",
                         resamples=nf.interval.answered() if nf.ok and nf.interval is not None else "—",
                         budgets=len(nf.points) if nf.points is not None else 0, runs=nf.n_runs)
                    for m, nf in an.nopt.items()])
# three rows to read, not to sort: a static table wraps its cells instead of hiding columns in a narrow cell
c2.table(est.rename(columns={"interval": "95% interval", "budgets": "budgets used"}).set_index("estimator"))
v = services.verdict(an)
(c2.success if v.agree else c2.warning)(
    f"**Verdict:** {'believe the ' + services.ESTIMATORS[v.choice] + ' estimate' if v.choice else 'no estimate'}: "
    f"{v.reason}.", icon=":material/gavel:")
if ff := services.explain_form_free(v.reason):
    c2.caption(services.md_text(ff))
for m, nf in an.nopt.items():
    if not nf.ok:
        c2.caption(f"**{services.ESTIMATORS[m]}** cannot answer: {services.explain_nopt(nf)}.")
for line in an.accounted()[1 if an.law_choice else 0:]:  # the form's uncertainty, the estimators' bias
    c2.caption(services.md_text(services.sentence(line)))

st.subheader("Backtest: fit below a compute cut-off, predict the frontier above it")
hold = ui.hold_out(s, version, sel, runs)
# the default holds out at least 3 frontier configurations where the grid allows; a new default is a new slider
octaves = st.slider("Hold out the top octaves of compute", 1.0, 8.0, hold.octaves, 0.5, key=f"fl_octaves_{hold.octaves:g}",
                    help="an octave is a factor of 2: 2 holds out the last factor of 4 of the compute range; the "
                         "default is the fewest that hold out 3 frontier configurations")
bt_done = ui.cached_backtest(s, version, sel, octaves, ui.BOOT // 2, runs)
bt = bt_done if bt_done is not None else ui.backtest(s, version, sel, runs, octaves, n_boot=0)
if isinstance(bt, ValueError):
    st.warning(f"Cannot backtest this selection: {services.md_text(bt)}")
else:
    st.caption(f"Fitted on the {int(bt.table['n_fit'].iloc[0])} configurations with C ≤ "
               f"{services.fmt_flops(bt.cutoff_flops)}, predicting the {len(bt.heldout)} frontier configurations above "
               f"it: their loss, and N_opt at their compute against the N of the configuration there. "
               + (f"Bars: 95% bands from {bt.n_boot} resamples of the fitted runs." if bt.n_boot else
                  "Bands: computing…"))
    if len(bt.heldout) < services.MIN_HELDOUT:
        st.warning(f"Only {len(bt.heldout)} held-out frontier configuration{'s' * (len(bt.heldout) != 1)}: a score "
                   f"from fewer than {services.MIN_HELDOUT} says little. "
                   + (f"{hold.why[0].upper()}{hold.why[1:]}." if hold.why and octaves == hold.octaves else
                      "Hold out more octaves."), icon=":material/warning:")
    b1, b2 = ui.chart_row(2)
    ui.pick_chart(b1, charts.prediction(bt.heldout, "loss"), "fit_lab_pred_loss", sel_runs, curves)
    ui.pick_chart(b2, charts.prediction(bt.heldout, "N_opt"), "fit_lab_pred_nopt", sel_runs, curves)
    st.dataframe(bt.table.rename(columns={"rms_log_error": "RMS log error", "mape": "mean |error|"})[
                     ["model", "predicts", "RMS log error", "mean |error|", "reason"]], hide_index=True,
                 width="stretch",
                 column_config={"mean |error|": st.column_config.NumberColumn(format="percent"),
                                "RMS log error": st.column_config.NumberColumn(format="%.4f")})
st.subheader("Residuals of the parametric fit")
res = services.parametric_residuals(an)
if pf is not None:
    ui.pick_chart(st, charts.residuals(res), "fit_lab_residuals", sel_runs, curves)
    st.caption("Click a point to open its configuration's runs.")
d1, d2 = st.columns(2)
ui.download(d1, "Residuals and points (CSV)", res, "fit_lab_points.csv")
ui.notebook_button(d2, s, runs, sel, ui.BOOT, "Fit lab")  # this fit and these charts, reproduced in Jupyter
ui.plan_panel(s, version, sel, runs, curves, an, "fit_lab")  # the next runs; their predictions scored below
ui.prediction_scores(s)

bands = bt_done is None and not isinstance(bt, ValueError)  # a selection that cannot be backtested has no bands
if done is None or bands:  # the intervals and bands, then a rerun that draws them
    ui.after_redraw()
    if done is None:
        ui.analysis(s, version, sel, runs, curves, n_boot=ui.BOOT, slot=progress)
    if bands:
        with progress, st.spinner("backtesting each law and estimator, with bands…"):
            ui.backtest(s, version, sel, runs, octaves, n_boot=ui.BOOT // 2)
    if ui.cached_analysis(s, version, sel, ui.BOOT, runs) is not None and (
            not bands or ui.cached_backtest(s, version, sel, octaves, ui.BOOT // 2, runs) is not None):
        st.rerun()
else:  # every fit of this view done: the next slider step's, while the user reads this one
    ui.fit_ahead(s, version, sel, runs, curves, backtests=True)
