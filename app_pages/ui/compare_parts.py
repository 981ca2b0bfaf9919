"""Compare's exponents (cards and chart): from the point estimates on a move, so that it redraws both
charts before the bootstraps run, and with their intervals once they are cached."""
from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from scaling import charts, services

from .cards import chart
from .layout import card_row


def md_label(lab: str) -> str:
    """For Markdown: "A: " is ours, the words after it name values of (imported) runs."""
    return lab[:3] + services.md_text(lab[3:])


def exponents(cards_box, chart_slot, an_a, an_b, A, B, la: str, lb: str, pending: bool) -> pd.DataFrame:
    """The cards and the side-by-side chart of each exponent (`pending`: the intervals are still being
    computed); returns the whole table (for its CSV)."""
    # each side's shown N_opt estimator (the verdict's, by default), and the parametric one, which
    # answers on the smallest grids
    shown = dict.fromkeys([services.shown_nopt(an_a, A)[0], services.shown_nopt(an_b, B)[0], "parametric"])
    names = {"alpha_C": "α_C (loss vs compute)",
             **{f"a_{m}": f"a (N_opt, {services.ESTIMATORS[m]})" for m in shown},
             "alpha_N": "α_N slice (L(N) at the largest D only)", "alpha_D": "α_D slice (L(D) at the largest N only)"}
    t_all = services.comparison_table(an_a, an_b, names)
    # an exponent neither selection can estimate is a column of dashes: name it once instead
    missing = t_all[~(t_all["first"].map(math.isfinite) | t_all["second"].map(math.isfinite))] if not pending \
        else t_all.iloc[:0]  # the point estimates leave out the slices: they come with the intervals
    t = t_all.drop(missing.index).reset_index(drop=True)
    with cards_box:
        _cards(t, an_a, an_b, la, lb, pending)
        if len(missing):
            st.caption("Not estimable on either selection: " + ", ".join(missing["what"]) + ".")
    side = pd.concat([t.assign(selection=la, value=t["first"], lo=t["first_lo"], hi=t["first_hi"]),
                      t.assign(selection=lb, value=t["second"], lo=t["second_lo"], hi=t["second_hi"])])[
        ["what", "selection", "value", "lo", "hi"]].rename(columns={"what": "name"})
    chart(chart_slot, charts.exponents_side_by_side(side))
    return t_all


def _cards(t, full_a, full_b, la, lb, pending: bool) -> None:
    cols = card_row(max(len(t), 1))
    for col, r in zip(cols, t.itertuples()):
        col.markdown(f"**{r.what}**")
        col.metric(md_label(la), f"{r.first:.3f}" if math.isfinite(r.first) else "—")
        col.caption(f"95% [{r.first_lo:.3f}, {r.first_hi:.3f}] · {r.n_runs_first} runs · {r.first_answered}"
                    + ("" if r.first_reliable else " · :orange[unreliable]") if math.isfinite(r.first_lo)
                    else f"{r.n_runs_first} runs" + (" · 95% interval: computing…" if pending else
                                                     f" · {full_a.no_interval}" if full_a.no_interval else ""))
        col.metric(md_label(lb), f"{r.second:.3f}" if math.isfinite(r.second) else "—")
        col.caption(f"95% [{r.second_lo:.3f}, {r.second_hi:.3f}] · {r.n_runs_second} runs · {r.second_answered}"
                    + ("" if r.second_reliable else " · :orange[unreliable]") if math.isfinite(r.second_lo)
                    else f"{r.n_runs_second} runs" + (" · 95% interval: computing…" if pending else
                                                      f" · {full_b.no_interval}" if full_b.no_interval else ""))
        p = r.p_first_greater
        col.metric("P(A > B)", "—" if not math.isfinite(p) else f"< {r.p_floor:.2g}" if p < r.p_floor
                   else f"> {1 - r.p_floor:.2g}" if p > 1 - r.p_floor else f"{p:.2f}",
                   help="share of paired bootstrap resamples where A's exponent exceeds B's; near 0 or 1 the "
                        "selections differ, near 0.5 they cannot be told apart")
        if math.isfinite(p):
            verdict = "differ" if r.p_two_sided < 0.05 else "cannot be told apart"
            p_txt = f"p < {r.p_floor:.2g}" if r.p_two_sided < r.p_floor else f"p = {r.p_two_sided:.2f}"
            col.caption(f"two-sided {p_txt}: {verdict} at 5%")
