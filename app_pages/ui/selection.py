"""The selection widgets, kept in the URL so that a copied link reopens the same view."""
from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd
import streamlit as st

from scaling import services
from scaling.core.arch import width


def selection_controls(runs: pd.DataFrame, page: str, prefix: str = "", default: services.Selection | None = None,
                       container=None, notes=None) -> services.Selection:
    """Widgets for a selection. On entering the page they take their values from the URL, else
    from this session's last selection, else defaults; afterwards the URL follows the widgets, so
    a copied link reopens the same view.

    Widget keys carry a generation (bumped on entering the page or by set_selection): a widget is
    created afresh, from the canonical selection, whenever it changes, and its value is only ever
    read from its return value (reading a widget's key before it is drawn in a run can give a
    stale, half-deserialised value). When the cached choices change (runs land) the keys stay: a
    widget under a new key is a new element, and the old one would stay on the page, faded, for the
    whole run; the value the selection carries over is written to the key instead (see _carry).
    `notes`: where the link's notes go (default: with the widgets); somewhere visible where the widgets
    sit in a collapsed expander. Widgets shown only sometimes sit in slots emitted on every run, so that one appearing does not
    move the others."""
    ss = st.session_state
    c = container or st.sidebar
    saved_key, gen_key, page_key = f"{prefix}selection", f"{prefix}gen", f"{prefix}page"
    if ss.get(page_key) != page or gen_key not in ss:
        url = st.query_params.to_dict()
        sel, bad = services.parse_params(url, ss.get(saved_key, default or services.Selection()), prefix)
        said = [f"Link parameter {n}; using the default instead." for n in bad]
        sel, more = services.fit_to_options(sel, services.options(runs, sel.dataset))
        if any(k.startswith(prefix) and k[len(prefix):] in services.PARAM_KEYS for k in url):
            said += [f"Link parameter not cached here: {n}." for n in more]  # the link asked for it: say so
        ss[saved_key], ss[f"{prefix}url_notes"] = sel, said
        ss[gen_key] = ss.get(gen_key, 0) + 1
        ss[page_key] = page
    for n in ss.get(f"{prefix}url_notes", []):  # where `notes` says: visible, not in a collapsed expander
        (notes or c).warning(n, icon=":material/link_off:")
    base, g = ss[saved_key], ss[gen_key]
    last = base  # the selection of this session's last run

    all_opts = services.options(runs)
    ds = c.selectbox("Dataset", all_opts.datasets, index=_index(all_opts.datasets, base.dataset), key=f"{prefix}ds{g}")
    opts = services.options(runs, ds)
    prev = ss.get(f"{prefix}opts")
    if prev is not None and prev[0] == ds and prev[1] != opts:
        base = services.follow_growth(base, prev[1], opts)  # a full range stays full as runs land
    moved = prev is not None and prev != (ds, opts)  # the cached choices changed: carry values over
    ss[f"{prefix}opts"] = (ds, opts)
    base, _ = services.fit_to_options(replace(base, dataset=ds), opts)
    k = g  # stable while runs land: see the docstring
    kd = f"{prefix}dropout{k}"
    dropout = c.selectbox("Dropout", opts.dropouts, index=_carry(kd, opts.dropouts, base.dropout, moved),
                          key=kd, format_func=lambda d: f"{d:g}", help="the dropout values in the cache")
    family = {}
    fam = c.container()  # one element on every run, whichever family widgets it holds: nothing below moves
    for name, field, label, fmt in FAMILY_WIDGETS:  # shown only where the cache holds more than one
        have = getattr(opts, field)
        family[name] = have[0] if len(have) == 1 else getattr(base, name)
        if len(have) > 1:
            kf = f"{prefix}{name}{k}"
            family[name] = fam.selectbox(label, have, index=_carry(kf, have, getattr(base, name), moved), key=kf,
                                         format_func=fmt, help="runs of different families are never averaged")
    widths, slot = base.widths, c.empty()
    if len(opts.width_steps) > 1:
        kw = f"{prefix}widths{k}"
        widths = slot.select_slider("Width steps", opts.width_steps, value=_carry(kw, opts.width_steps, base.widths, moved, last.widths),
                                    key=kw, format_func=lambda s: f"{s} (w={width(s)})",
                                    help="width = round(4·√2^step): each step roughly doubles forward compute")
    fracs, slot = base.fractions, c.empty()
    if len(opts.fractions) > 1:
        kr = f"{prefix}fractions{k}"
        fracs = slot.select_slider("Data fractions", opts.fractions, value=_carry(kr, opts.fractions, base.fractions, moved, last.fractions),
                                   key=kr, format_func=services.frac_label,
                                   help="fraction of the 60,000 training images, one epoch")
    ks = f"{prefix}seeds{k}"
    seeds = c.multiselect("Seeds", opts.seeds, default=_carry(ks, opts.seeds, list(base.seeds), moved, list(last.seeds)), key=ks,
                          placeholder="every cached seed", help="seeds are averaged per configuration; empty = all")
    lr_opts = [services.LR_TUNED, *opts.lr_mults]
    kl = f"{prefix}lr{k}"
    lr = c.selectbox("Learning-rate multiplier", lr_opts, index=_carry(kl, lr_opts, base.lr, moved), key=kl,
                     format_func=lambda v: "tuned per size (best cached)" if v == services.LR_TUNED else f"×{v:g}")
    forms, ests = list(services.FORMS), list(services.ESTIMATORS)
    form = c.radio("Fit form", forms, index=forms.index(base.form), key=f"{prefix}form{g}", format_func=services.FORMS.get)
    est = c.selectbox("N_opt estimator", ests, index=ests.index(base.estimator), key=f"{prefix}estimator{g}",
                      format_func=services.ESTIMATORS.get)
    counts = list(services.COMPUTE)
    compute = c.radio("Compute counted as", counts, index=counts.index(base.compute), key=f"{prefix}compute{g}",
                      format_func=services.COMPUTE.get, horizontal=True,
                      help="C = 3 × forward FLOPs × D counts this CNN's layers; 6ND is how the papers count")
    sel = services.Selection(dataset=ds, dropout=float(dropout), widths=tuple(int(x) for x in _pair(widths)),
                          fractions=tuple(float(x) for x in _pair(fracs)), seeds=tuple(sorted(seeds)), lr=lr,
                          form=form, estimator=est, compute=compute, **family)
    ss[saved_key] = sel
    return sel


FAMILY_WIDGETS = [
    ("lr_rule", "lr_rules", "Learning-rate rule", lambda r: {"fan_in": "0.1/√fan_in per layer", "constant": "constant 1e-3"}.get(r, r)),
    ("lr_schedule", "lr_schedules", "Learning-rate schedule", lambda r: {"cosine": "cosine to zero"}.get(r, r)),
    ("epochs", "epochs", "Epochs", str),
    ("batch_size", "batch_sizes", "Batch size", str),
    ("precision", "precisions", "Precision", lambda p: {"bf16": "bf16 autocast (CUDA)", "fp32": "fp32"}.get(p, p)),
    ("arch", "archs", "Architecture", lambda a: services.study_words("arch", a)),
    ("label_noise", "label_noises", "Label noise", lambda q: services.study_words("label_noise", q)),
    ("classes", "classes", "Digits", lambda c: services.study_words("classes", c)),
    ("pretrain_classes", "pretrain_classes", "Pre-training", lambda c: services.study_words("pretrain_classes", c)),
    ("pretrain_fraction", "pretrain_fractions", "Pre-training data", services.frac_label),
    ("pretrain_epochs", "pretrain_epochs", "Pre-training epochs", str),
]


def set_estimator(estimator: str, prefix: str = "") -> None:
    """A button callback: switch the page's N_opt estimator (the widgets are created afresh)."""
    set_selection(prefix, estimator=estimator)


def set_selection(prefix: str = "", **changes) -> None:
    """A button callback: change fields of the page's selection (the widgets are created afresh)."""
    ss = st.session_state
    if f"{prefix}selection" in ss:
        ss[f"{prefix}selection"] = replace(ss[f"{prefix}selection"], **changes)
        ss[f"{prefix}gen"] = ss.get(f"{prefix}gen", 0) + 1


def _carry(key: str, options, value, moved: bool, last=None):
    """What a widget under a stable key is given. A selectbox gets the index of `value`: it keeps its
    own choice while that is still an option, and Streamlit resets it to this index otherwise. A
    range or a list (sliders, seeds) that the selection moved when the cached choices changed (a
    full range that grows as runs land: services.follow_growth) is written to its key, since a widget
    keeps its own state over what it is given; not where the widget no longer holds `last` (the
    last run's value): the user moved it, in the same run as the landing runs. The widget is given
    the value as well: given None, a select_slider is a single-value one, and the two ends the
    browser sends back next are read (by this function, before the slider is drawn) as one value."""
    if not isinstance(value, (list, tuple)):
        return _index(options, value)
    carried = type(value)(options[_index(options, v)] for v in value)  # the option objects themselves
    mine = st.session_state.get(key)
    if moved and mine is not None and not _same(mine, carried) and (last is None or _same(mine, last)):
        st.session_state[key] = carried
    return carried


def _same(a, b) -> bool:
    """Two values of one widget, as ranges or lists (a single value v is (v, v)); floats to rounding."""
    a, b = _pair(a), _pair(b)
    return len(a) == len(b) and all(x == y or (isinstance(x, float) and math.isclose(x, y)) for x, y in zip(a, b))


def _index(options, value) -> int:
    for i, o in enumerate(options):
        if o == value or (isinstance(o, float) and isinstance(value, float) and math.isclose(o, value)):
            return i
    return 0


def _pair(v):
    """A widget's value as a tuple: a range's (lo, hi), a list's items; a single value v is (v, v)."""
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def write_url(*sels_with_prefix) -> None:
    """Put the view state into the URL (only when it changed: every write is a browser history entry)."""
    params = {}
    for sel, prefix in sels_with_prefix:
        params.update(sel.to_params(prefix))
    now = {k: v for k, v in st.query_params.to_dict().items() if k not in BOUND}
    if now != params:
        for k in now.keys() - params.keys():
            del st.query_params[k]
        st.query_params.update({k: v for k, v in params.items() if now.get(k) != v})


BOUND = ("bottleneck",)  # widgets bound to the URL themselves (bind="query-params"): never written here
