"""What Explore offers on an empty cache: the quick sweep sized to this device, and the shipped grid."""
from __future__ import annotations

import streamlit as st

from scaling import services
from scaling.store import Store

from .reads import device, guarded
from .sweeps import remember_sweep


def first_runs(s: Store, runs, training: bool) -> None:
    """Offer the first runs (or say that they are on their way), then stop the page: nothing to chart yet."""
    if training:
        st.info("Training has started: the charts appear here as soon as the first runs land.",
                icon=":material/hourglass_top:")
        st.stop()
    dev = device()
    spec = services.quick_grid(dev.device)
    st.info("**The cache is empty.** Every chart here is drawn from trained runs kept in "
            f"`{s.path}`. Train a first grid: the quick sweep below is sized to this device "
            f"({dev.name}); or choose your own grid on the **Train** page, or run `scaling sweep` in a terminal.",
            icon=":material/science:")
    p = guarded(services.plan, s, spec, runs, dev.label)
    st.caption(f"Quick sweep: {spec.label()} → {p.new} runs, {services.fmt_flops(p.flops)}, "
               f"about {services.fmt_s(p.est_s)} on {services.md_text(dev.label)}.")
    if st.button("Train the quick sweep", type="primary", icon=":material/play_arrow:"):
        sid, _, _ = guarded(services.start_sweep, s, spec, dev.device)
        remember_sweep(sid, "quick sweep")
        st.rerun()
    shipped = services.shipped()  # the exercise grid trained by this project: real data at once, even on a laptop
    if shipped is not None:
        st.caption(shipped.caption())
        if st.button(shipped.button(), icon=":material/download:", key="load_shipped"):
            try:
                guarded(services.import_file, s, shipped.path)
            except ValueError as e:  # a damaged file is refused whole: nothing was written
                st.error(f"The shipped grid cannot be loaded: {services.md_text(e)}")
                st.stop()
            st.rerun()
    st.stop()
