"""Your curves: a CSV of learning curves (pasted or uploaded), the columns chosen, and each curve
fitted with the form its own backtest picks, extrapolated with a 95% band, its backtest table,
and the fit as JSON. Every number comes from scaling.services.curves; the table is data only."""
import hashlib

import streamlit as st

from app_pages import ui
from scaling import charts, services

sc = services.curves
ui.through_app()
st.title("Your curves")
st.markdown("Bring a learning curve (loss against examples, tokens, steps, parameters or compute), one curve per "
            "group of rows. Each curve is fitted with five forms; the one that best predicts the top fifth of the "
            "curve from the rest is refitted on every point and extended past the data, with a 95% band. Rows "
            "marked 0 in a train column are held out and predicted.")
st.caption(f"Limits: {sc.LIMITS}.")

paste, upload = ui.chart_row(2)
text = paste.text_area("Paste a CSV (a header row, then one row per point)", height=180, key="yc_paste",
                       placeholder="run,step,loss\na,1000,3.21\na,2000,2.87\n…")
with upload:  # the one upload: this page exists to take a user's table, read as data by pandas, size-capped
    file = st.file_uploader(  # noqa: TID251
        f"…or upload one (CSV, up to {sc.MAX_MB} MB)", type=["csv", "tsv", "txt"], key="yc_upload",
        max_upload_size=sc.MAX_MB)
data = file.getvalue() if file is not None else (text or "").encode()
if file is not None and text.strip():
    st.caption("Both a pasted table and a file: the file is used.")
if not data.strip():
    st.info("Paste a CSV above or upload one: at least an x column and a loss column, with a header row.")
    st.stop()


@st.cache_resource(max_entries=8, show_spinner=False)
def _read(data: bytes):
    return sc.read_csv(data)


@st.cache_resource(max_entries=8, show_spinner=False)
def _fit(data: bytes, x: str, loss: str, groups: tuple, train: str | None, form: str):
    return sc.fit_curves(_read(data), x, loss, groups, train, form, n_boot=ui.BOOT)  # the app's resamples


try:
    df = _read(data)
except sc.CurveInputError as e:
    st.error(services.md_text(e), icon=":material/table:")
    st.stop()

cols = list(df.columns)
key = hashlib.sha256("\x00".join(cols).encode()).hexdigest()[:10]  # new columns: new widgets, new defaults
guess = sc.guess_columns(df)
with st.expander(f"The table as read: {len(df):,} rows, {len(cols)} columns"):
    st.dataframe(df.head(500), hide_index=True)

with st.form(f"yc_columns_{key}", border=True):
    c1, c2, c3, c4 = ui.card_row(4)
    x_col = c1.selectbox("x (examples, steps, compute…)", cols, index=cols.index(guess["x"]), key=f"yc_x_{key}")
    loss_col = c2.selectbox("loss", cols, index=cols.index(guess["loss"]), key=f"yc_loss_{key}")
    none = "(none: fit every row)"
    train_col = c3.selectbox("train column (1 fit, 0 held out)", [none, *cols],
                             index=1 + cols.index(guess["train"]) if guess["train"] else 0, key=f"yc_train_{key}")
    form = c4.selectbox("form", sc.FORM_CHOICES, key=f"yc_form_{key}",
                        format_func=lambda f: "auto: chosen by backtest" if f == "auto" else f)
    groups = st.multiselect("group columns (one curve per group)", cols, default=guess["groups"], key=f"yc_group_{key}")
    st.form_submit_button("Fit the curves", type="primary", icon=":material/functions:")

with st.spinner("Fitting each curve and resampling its band…"):
    try:
        ans = _fit(data, x_col, loss_col, tuple(groups), None if train_col == none else train_col, form)
    except sc.CurveInputError as e:
        st.error(services.md_text(e), icon=":material/table:")
        st.stop()

n_ok = sum(c.ok for c in ans.curves)
chosen = ", ".join(f"{f} × {n}" for f, n in sorted(ans.forms_chosen().items(), key=lambda kv: -kv[1]))
st.caption(f"{n_ok} of {len(ans.curves)} curves fitted" + (f"; forms: {chosen}" if chosen else "") + ".")
st.download_button("Download the fit (JSON)", ans.json, file_name="curves_fit.json", mime="application/json",
                   on_click="ignore", icon=":material/download:", disabled=n_ok == 0)

for i, c in enumerate(ans.curves):
    with st.container(border=True, key=f"yc_curve_{i}"):
        st.subheader(services.md_text(c.label))
        if not c.ok:
            st.warning(services.md_text(c.error))
            continue
        left, right = ui.chart_row(2)
        ui.chart(left, charts.curve_fit(c.points, c.line, c.label, c.summary(), ans.x_col, ans.loss_col))
        r = c.result
        right.markdown(f"**Form: {services.md_text(r.form)}**  ·  {services.md_text(r.formula)}")
        right.caption(f"Why: {services.md_text(r.reason)}.")
        right.caption(services.md_text(c.band.note()) + ".")
        right.dataframe(c.params, hide_index=True)
        if len(c.backtest):
            bt = c.backtest if c.backtest["note"].astype(bool).any() else c.backtest.drop(columns="note")
            right.dataframe(bt, hide_index=True, column_config={
                "rmse_log": st.column_config.NumberColumn("backtest log-RMSE", format="%.4f"),
                "note": st.column_config.TextColumn("why no score", width="large")})
