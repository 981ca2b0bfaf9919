"""Train: choose a grid, see the plan, queue it; a worker process trains it outside this page."""
import streamlit as st

from app_pages import ui
from scaling import datasets, services
from scaling.core import arch, grid

ui.through_app()
st.title("Train")
s = ui.store()
runs = ui.load_runs(s)
dev = ui.device()

with st.sidebar.container(border=True):
    st.markdown("**Device**")
    if where := services.cluster_line(s):  # the worker trains on Ray: say so before this machine's device
        st.write(where)
    if dev.memory_gb:
        st.write(f"GPU: {services.md_text(dev.name)}, {dev.memory_gb:.0f} GiB")  # the host's words: escaped
    else:
        st.write(f"CPU: {services.md_text(dev.name)}, {dev.threads} torch threads")
        st.caption(services.md_text(services.cpu_path_line()))  # the C kernels of which build, or the PyTorch ops, and why

    @st.fragment(run_every=3.0)
    def worker_line():  # refreshed on its own: the worker starts a few seconds after a sweep is queued
        pid = ui.guarded(services.worker_pid, s)
        st.write(f"Worker: running (pid {pid})" if pid else "Worker: none (one starts when runs are queued)")

    worker_line()
    st.caption(f"database: `{s.path}`")

FRACTIONS = [2.0**-k for k in range(12, -1, -1)]  # 1/4096 .. 1
LONG_PLAN_S = 3600  # a plan longer than this asks for confirmation
LR_MULTS = [0.25, 0.5, 1.0, 2.0, 4.0]
quick = services.quick_grid(dev.device)
st.markdown("Choose a grid. Runs already in the cache are not trained again; training happens in a "
            "separate worker process, so it goes on if you leave this page or close the tab.")
c1, c2, c3 = st.columns(3)
ds = c1.selectbox("Dataset", datasets.DATASETS, key="t_dataset")
w = c1.select_slider("Width steps", arch.width_steps(), value=(0, 2), key="t_widths",
                     format_func=lambda k: f"{k} (w={arch.width(k)})")
f = c2.select_slider("Data fractions", FRACTIONS, value=(1 / 256, 1 / 64), key="t_fractions", format_func=services.frac_label)
seeds_txt = c2.text_input("Seeds", "2", key="t_seeds", help="how many seeds, 1 to 10: seeds 0..n−1")
n_seeds = services.parse_count(seeds_txt, 1, 10)
if isinstance(n_seeds, str):
    c2.error(f"Seeds: {n_seeds}.", icon=":material/error:")
drop = c3.multiselect("Dropout", [0.0, 0.1, 0.2, 0.3, 0.5], default=[0.0, 0.2], key="t_dropout", format_func=lambda d: f"{d:g}")
scan = c3.toggle("lr scan ×½, ×1, ×2", key="t_lr_scan",
                 help="what a tuned learning rate needs: for each configuration, the best of three multipliers "
                      "around the rule, an interior optimum where the scan brackets it")
lrs = c3.multiselect("Learning-rate multipliers", LR_MULTS, default=[1.0], key="t_lr", disabled=scan,
                     format_func=lambda v: f"×{v:g}", help="several values let Explore tune the rate per size")
if scan:
    lrs = list(services.LR_SCAN)
with st.expander("Study axes: architecture, label noise, digits, transfer", icon=":material/science:"):
    a1, a2, a3 = st.columns(3)
    archs = a1.multiselect("Architecture", list(arch.ARCHS), default=["cnn"], key="t_arch",
                           format_func=lambda a: services.study_words("arch", a),
                           help="the CNN of the exercise, or an MLP (784 → 16c → 16c → 10) on the same width knob")
    noise = a1.multiselect("Label noise", [0.0, 0.1, 0.2, 0.4], default=[0.0], key="t_noise",
                           format_func=lambda q: f"{q:.0%}",
                           help="the fraction of each run's training labels replaced by another digit (seeded); "
                                "the test set is never corrupted")
    digits_txt = a2.text_input("Digits", "", key="t_classes", placeholder="all ten",
                               help="train and evaluate on these digits only, e.g. 56789")
    pre_txt = a3.text_input("Pre-train on digits", "", key="t_pretrain", placeholder="none (from scratch)",
                            help="fine-tune from a run pre-trained on these digits (a cached run of its own, trained "
                                 "once and reused), e.g. 01234")
    pre_f = a3.select_slider("Pre-training data", FRACTIONS, value=1.0, key="t_pretrain_f",
                             format_func=services.frac_label, disabled=not pre_txt.strip(),
                             help="the pre-training run's fraction of its digits' examples, one epoch")
axis_errors = []
for label, text, col in (("Digits", digits_txt, a2), ("Pre-train on digits", pre_txt, a3)):
    try:
        grid.digits(label, text)
    except grid.GridError as e:
        col.error(str(e), icon=":material/error:")
        axis_errors.append(label)
st.caption(f"Quick sweep for this device: {quick.label()}")

if not drop or not lrs or not archs or not noise:
    st.warning("Choose at least one dropout value, learning-rate multiplier, architecture and label noise.")
    st.stop()
if isinstance(n_seeds, str) or axis_errors:
    st.stop()  # the message is beside the field
# a data set that is not on this machine is refused before a plan is drawn (asked once a session:
# an offline download attempt is slow)
missing = st.session_state.setdefault("t_missing_data", {})
if ds not in missing:
    try:
        datasets.check(ds)
        missing[ds] = ""
    except datasets.DataError as e:
        missing[ds] = str(e)
if missing[ds]:
    c1.error(services.md_text(missing[ds]), icon=":material/cloud_off:")
    st.stop()
spec = services.GridSpec(widths=f"{w[0]}:{w[1] + 1}", fractions=f"{services.frac_label(f[0])}:{services.frac_label(f[1])}",
                      seeds=f"0:{int(n_seeds)}", dropouts=",".join(f"{d:g}" for d in drop),
                      lr_mults=",".join(f"{v:g}" for v in lrs), dataset=ds, archs=",".join(archs),
                      label_noise=",".join(f"{q:g}" for q in noise), classes=digits_txt, pretrain_classes=pre_txt,
                      pretrain_fraction=services.frac_label(pre_f))
try:
    p = ui.guarded(services.plan, s, spec, runs, dev.label)
except (grid.GridError, ValueError) as e:  # e.g. pre-training digits that overlap the digits trained on
    st.error(str(e), icon=":material/error:")
    st.stop()

m1, m2, m3, m4, m5 = ui.card_row(5)  # one column each where the page is wide enough, else stacked
m1.metric("runs in the grid", len(p.configs))
m2.metric("cached", p.cached)
m3.metric("already queued", p.queued, help="waiting or training now (this sweep or another): not queued twice")
m4.metric("to train", p.new, help=f"{services.fmt_flops(p.flops)} of training compute (C = 3 × forward FLOPs × D)")
m5.metric("estimated time", services.fmt_s(p.est_s) if p.new else "—",
          help=f"on {services.md_text(dev.label)}: per run, a fixed cost, its training FLOPs at one throughput and its evaluation on "
               f"the 10,000 test images at another; {p.basis}")
st.caption(f"Training compute to spend: {services.fmt_flops(p.flops)}." if p.new else
           "Everything in this grid is cached or queued: change the grid to train more.")

long = p.new and p.est_s > LONG_PLAN_S
confirm = st.container()  # emitted either way: what follows keeps its place on the page
sure = confirm.checkbox(f"Yes, train for about {services.fmt_s(p.est_s)}", key="t_sure") if long else True
if long:
    confirm.caption(f"This plan takes over {services.fmt_s(LONG_PLAN_S)} on {services.md_text(dev.label)}: confirm it, or narrow the grid.")
label = f"Queue {p.new} run{'s' * (p.new != 1)}" if p.new else "Nothing new to queue: every run is cached or queued"
if st.button(label, type="primary", disabled=p.new == 0 or not sure, icon=":material/play_arrow:"):
    sid, n_cached, n_new = ui.guarded(services.start_sweep, s, spec, dev.device)
    ui.remember_sweep(sid, spec.label())
    st.session_state["t_toast"] = f"queued {n_new} runs ({n_cached} cached)"
    st.rerun()  # the plan above now counts them as queued
if msg := st.session_state.pop("t_toast", None):
    st.toast(msg, icon=":material/play_arrow:")

ui.sweeps_section(s, runs, heading="Progress")  # one fragment owns the panels: see app_pages/ui/sweeps.py
ui.past_sweeps(s)  # any grid, any time: queue a past sweep again, or note it
ui.shipped_offer(s, "train_load_shipped")
ui.show_toast()
