"""Compare's exponents (cards and chart) for two to five selections: from the point estimates on a move,
so that every chart is redrawn before the bootstraps run, and with their intervals once they are cached."""
from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from scaling import services
from scaling.charts import compare as compare_charts

from .cards import chart
from .layout import card_row


def md_label(lab: str) -> str:
    """For Markdown: "A: " is ours, the words after it name values of (imported) runs."""
    return lab[:3] + services.md_text(lab[3:])


def exponents(cards_box, chart_slot, fulls: list, sels: list, labels: list[str], pending: list[bool]) -> pd.DataFrame:
    """The cards and the side-by-side chart of each exponent of every selection, each tested against A
    (`pending[i]`: selection i's intervals are still being computed); returns the tests' table (its CSV)."""
    # each selection's shown N_opt estimator (the verdict's, by default), and the parametric one, which
    # answers on the smallest grids
    shown = dict.fromkeys([*(services.shown_nopt(f, sel)[0] for f, sel in zip(fulls, sels)), "parametric"])
    names = {"alpha_C": "α_C (loss vs compute)",
             **{f"a_{m}": f"a (N_opt, {services.ESTIMATORS[m]})" for m in shown},
             "alpha_N": "α_N slice (L(N) at the largest D only)", "alpha_D": "α_D slice (L(D) at the largest N only)"}
    # each selection against A: A's columns are "first", the other's "second"
    tables = [services.comparison_table(fulls[0], f, names) for f in fulls[1:]]
    t0 = tables[0]
    cols = [("first", "n_runs_first", "first_answered", "first_reliable")] + \
        [("second", "n_runs_second", "second_answered", "second_reliable")] * len(tables)
    est = [(t[v], t[f"{v}_lo"], t[f"{v}_hi"], t[nr], t[ans], t[rel], f.no_interval)
           for t, (v, nr, ans, rel), f in zip([t0, *tables], cols, fulls)]
    # an exponent no selection can estimate is a row of dashes: named once instead, when all are known
    # (the point estimates leave out the slices: they come with the intervals)
    finite = pd.concat([e[0].map(math.isfinite) for e in est], axis=1).any(axis=1)
    rows = list(t0.index if any(pending) else t0.index[finite])
    with cards_box:
        _cards(t0["what"], rows, tables, est, labels, pending)
        if len(missing := t0.drop(rows)):
            st.caption("Not estimable on any selection: " + ", ".join(missing["what"]) + ".")
    side = pd.concat([pd.DataFrame({"name": t0["what"], "selection": lab, "value": e[0], "lo": e[1], "hi": e[2]}).loc[rows]
                      for lab, e in zip(labels, est)])
    chart(chart_slot, compare_charts.exponents(side))
    return pd.concat([t.assign(first_selection=labels[0], second_selection=lab) for lab, t in zip(labels[1:], tables)])


def _cards(what, rows, tables, est, labels, pending) -> None:
    n = len(labels)
    for col, r in zip(card_row(max(len(rows), 1)), rows):
        col.markdown(f"**{what[r]}**")
        for j, (lab, (v, lo, hi, nr, ans, rel, none)) in enumerate(zip(labels, est)):
            col.metric(md_label(lab), f"{v[r]:.3f}" if math.isfinite(v[r]) else "—")
            col.caption(f"95% [{lo[r]:.3f}, {hi[r]:.3f}] · {nr[r]} runs · {ans[r]}" + ("" if rel[r] else " · :orange[unreliable]")
                        if math.isfinite(lo[r]) else f"{nr[r]} runs" + (" · 95% interval: computing…" if pending[j] else
                                                                        f" · {none}" if none else ""))
            if j == 0:
                continue
            # every test's elements are there either way: the intervals' arrival moves nothing below
            t, who = tables[j - 1], lab[0]
            p, floor, p2 = t.at[r, "p_first_greater"], t.at[r, "p_floor"], t.at[r, "p_two_sided"]
            share = ("computing…" if pending[0] or pending[j] else "—") if not math.isfinite(p) else \
                f"< {floor:.2g}" if p < floor else f"> {1 - floor:.2g}" if p > 1 - floor else f"{p:.2f}"
            test = "" if not math.isfinite(p) else \
                f"two-sided {f'p < {floor:.2g}' if p2 < floor else f'p = {p2:.2f}'}: " \
                f"{'differ' if p2 < 0.05 else 'cannot be told apart'} at 5%"
            if n == 2:
                col.metric("P(A > B)", share, help="share of paired bootstrap resamples where A's exponent exceeds B's; "
                                                    "near 0 or 1 the selections differ, near 0.5 they cannot be told apart")
                col.caption(test or "two-sided p: " + share)
            else:
                col.caption(f"{who} vs A: P(A > {who}) {share}" + (f", {test}" if test else ""))
