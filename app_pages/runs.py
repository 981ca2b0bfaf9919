"""Runs: the cache as a filterable table; download it; delete selected runs after confirming."""
import streamlit as st

from app_pages import ui
from scaling import services
from scaling.core.config import PROTOCOL

ui.through_app()
st.title("Cached runs")
s = ui.store()
runs = ui.load_runs(s)
if runs.empty:
    st.info("No runs cached yet: start on **Explore** (quick sweep) or **Train**.")
    ui.shipped_offer(s, "runs_load_shipped")
    st.stop()

f1, f2, f3, f4 = st.columns(4)
ds = f1.multiselect("Dataset", sorted(runs["dataset"].unique()), key="r_ds", placeholder="all")
dr = f2.multiselect("Dropout", sorted(runs["dropout"].unique()), key="r_dropout", placeholder="all",
                    format_func=lambda d: f"{d:g}")
ws = f3.multiselect("Width step", sorted(runs["width_step"].unique()), key="r_width", placeholder="all")
stt = f4.multiselect("Status", sorted(runs["status"].unique()), key="r_status", placeholder="all")
view = runs
for col, chosen in [("dataset", ds), ("dropout", dr), ("width_step", ws), ("status", stt)]:
    if chosen:
        view = view[view[col].isin(chosen)]
view = view.reset_index(drop=True)

study = [k for k in services.STUDY_AXES if runs[k].nunique() > 1]  # shown where the cache holds more than one value
cols = ["width_step", "width", "dropout", *study, "fraction", "seed", "lr_mult", "params", "examples", "flops",
        "val_loss", "val_acc", "wall_s", "status", "excluded", "note", "precision", "device", "imported_from", "protocol", "created_at",
        "error", "run_id"]
labels = {f: services.frac_label(f) for f in view["data_fraction"].unique()}  # 1/256, as everywhere else
shown = view.assign(fraction=view["data_fraction"].map(labels))
Num = st.column_config.NumberColumn
# a delete gives the table a new key: the ticks go with the deleted rows instead of moving to the next ones
event = st.dataframe(
    shown[cols], key=f"r_table_{st.session_state.get('r_table_gen', 0)}", on_select="rerun",
    selection_mode="multi-row", hide_index=True, width="stretch",
    height=min(460, 38 + 35 * max(len(view), 1)),
    column_config={"width_step": Num("width step", format="%d"), "width": Num("width", format="%d"),
                   "dropout": Num("dropout", format="%g"), "fraction": st.column_config.TextColumn("data fraction"),
                   "lr_mult": Num("lr ×", format="%g"), "params": Num("N (params)", format="localized"),
                   "examples": Num("D (examples)", format="localized"), "flops": Num("C (FLOPs)", format="%.3e"),
                   "val_loss": Num("val loss", format="%.4f"), "val_acc": Num("val acc", format="percent"),
                   "wall_s": Num("train s", format="%.1f", help="this run's share of its stack's training time"),
                   "created_at": st.column_config.DatetimeColumn("trained at", format="YYYY-MM-DD HH:mm"),
                   "protocol": Num("protocol", format="%d", help=f"runs of a protocol other than {PROTOCOL} are stale"),
                   "imported_from": st.column_config.TextColumn(
                       "imported from", help="empty: trained here; else the export it was imported from "
                       "(`scaling import`, the shipped grid)"),
                   "excluded": st.column_config.TextColumn("excluded because", help="why the run is left out of "
                                                           "every fit (status 'excluded'); empty: it counts"),
                   "note": st.column_config.TextColumn("note"),
                   "run_id": st.column_config.TextColumn("run id")})
stale = services.n_stale(runs)
if stale:
    with st.container(border=True):
        st.markdown(f"**{stale} stale run{'s' * (stale != 1)}**: trained under an older protocol (the code that "
                    f"produced them has changed since; the current one is {PROTOCOL}). They are kept and listed "
                    "here, and never fitted or averaged with current runs. Delete them, or train their "
                    "configurations again under the current protocol:")
        if st.button("Queue their configurations again", icon=":material/replay:"):
            sid, n_cached, n_new = ui.guarded(services.queue_runs, s, services.stale_configs(runs), "retrain stale runs")
            ui.remember_sweep(sid, "retrain stale runs")
            st.toast(f"queued {n_new} run{'s' * (n_new != 1)} ({n_cached} already cached under protocol {PROTOCOL})")
if note := services.imported_note(view, "The column *imported from* says which."):
    st.caption(note)
ui.excluded_caption(s, view)  # each excluded run with why, and an Include button
st.caption(f"{len(view)} of {len(runs)} runs. Tick rows (the boxes at the left edge) to draw their curves together, "
           "to exclude them from fits, note them or delete them. "
           "The CSV holds the rows shown, every column; the export, those of them that finished, with their curves.")

# one row of buttons at their own widths: columns of a fixed share cut the export's label at 1440 px
d1 = d2 = st.container(horizontal=True)
export = view  # every column, created_at (UTC) included
ui.download(d1, "Download CSV", export, "runs.csv")


def parquet() -> bytes:  # written only when the button is clicked
    return services.export_bytes(s, view["run_id"], label=f"{len(view)} runs from the Runs page").data


d2.download_button("Download export (Parquet)", parquet, file_name="runs.parquet", mime="application/octet-stream",
                   on_click="ignore", icon=":material/download:",
                   help="the finished runs shown (ok, diverged) with their validation curves, the code version and "
                        "the machine: the file `scaling import` (and the Explore page of another Scaling Lab) reads")

chosen = event.selection.rows if event is not None else []
if chosen:
    ui.annotate_runs(s, view.loc[chosen])  # exclude from fits with a reason, include again, a note
    ui.run_overlay(st, view.loc[chosen], ui.load_curves(s))
    ids = view.loc[chosen, "run_id"].tolist()
    with st.container(border=True):
        st.warning(f"Delete {len(ids)} selected run{'s' * (len(ids) != 1)}? Their results and curves are removed "
                   "from the cache; asking for them again trains them again.")
        ok = st.checkbox("Yes, delete them", key="r_confirm")
        if st.button("Delete", type="primary", disabled=not ok, icon=":material/delete:"):
            n = ui.guarded(s.delete_runs, ids)
            st.session_state.pop("r_confirm", None)
            st.session_state["r_table_gen"] = st.session_state.get("r_table_gen", 0) + 1
            st.toast(f"deleted {n} run{'s' * (n != 1)}")
            st.rerun()
ui.shipped_offer(s, "runs_load_shipped")  # at any time: what the cache holds already is skipped
ui.show_toast()
