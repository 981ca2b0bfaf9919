"""Fits cached per database, data version and selection.

Held as objects, not pickled: the results are frozen dataclasses never mutated, and a hit then
costs nothing (cache_data would unpickle a copy every rerun). The DataFrames ride along unhashed
(leading underscore in the cache_resource functions). The analyses share one store of their
own (_shared), which also keeps two sessions from computing one bootstrap twice.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import streamlit as st

from scaling import services
from scaling.core import settings
from scaling.store import Store

# Bootstrap resamples on the pages (~2-3 s for a few hundred runs on 2 cores). 0 switches the
# intervals off (benchmarks/bench_app.py times the point estimates alone that way).
BOOT = settings.app_boot()


def analysis(s: Store, version, sel, runs, curves, n_boot: int = 0, slot=None):
    """fit.analyze for a selection, or a SelectionError explaining why there is nothing to fit;
    computed once per database, data version, selection and n_boot, and shared by every session.

    With `slot` (a placeholder), a bootstrap not cached yet says how far it is there, every few
    resamples. Each of those writes is where Streamlit stops a script run whose user has moved a
    slider meanwhile: without them, the bootstrap (seconds of numpy, no Streamlit call) would hold
    back the redraw of the new selection until it finished. A stopped bootstrap caches nothing."""
    def progress(i, n):
        slot.caption(f"95% intervals: {i} of {n} bootstrap resamples…")

    return _shared(("analysis", str(s.path), version, sel, n_boot), slot,
                   lambda: services.analysis(runs, curves, sel, n_boot=n_boot,
                                          progress=progress if slot is not None else None))


def cached_analysis(s: Store, version, sel, n_boot: int):
    """analysis() already computed for these arguments, else None (never computes)."""
    with _LOCK:
        return _DONE.get(("analysis", str(s.path), version, sel, n_boot))


def point_estimates(s: Store, version, sel, runs, curves):
    """Explore's first draw: seed means, frontier, the loss law and one N_opt estimator."""
    return _shared(("points", str(s.path), version, sel), None, lambda: services.point_estimates(runs, curves, sel))


def _shared(key: tuple, slot, compute):
    """compute() once per key for every session (a SelectionError is a result too), the last
    MAX_SHARED kept. A session asking for a key in progress waits for it, saying so in its slot,
    instead of computing it again beside it on the same cores; a run stopped mid-way caches nothing
    and leaves the key to the next asker."""
    waited = False
    while True:
        with _LOCK:
            if key in _DONE:
                _DONE.move_to_end(key)
                if waited and slot is not None:
                    slot.empty()
                return _DONE[key]
            busy = _BUSY.get(key)
            if busy is None:
                _BUSY[key] = threading.Event()
                break
        if slot is not None and not waited:
            slot.caption("95% intervals: being computed for another session…")
        waited = True
        busy.wait(0.25)
    result = None
    try:
        result = compute()
    except services.SelectionError as e:
        result = e
    finally:
        with _LOCK:
            if result is not None:
                _DONE[key] = result
                while len(_DONE) > MAX_SHARED:
                    _DONE.popitem(last=False)
            _BUSY.pop(key).set()
    if slot is not None:
        slot.empty()
    return result


# results shared by every session (as st.cache_resource would), and the keys being computed now
MAX_SHARED = 128
_DONE: OrderedDict = OrderedDict()
_BUSY: dict = {}
_LOCK = threading.Lock()


@st.cache_resource(max_entries=32, show_spinner=False)
def _lr_offer(path: str, version: tuple, sel: services.Selection, _runs, _an):
    tuning = services.lr_tuning(_an.aggregate)
    seeds = sorted(services.select(_runs, sel)["seed"].unique())
    extra = services.next_lr_configs(tuning, seeds) if sel.lr == services.LR_TUNED and not tuning.tuned else []
    return LrOffer(tuning, extra, sum(c.flops for c in extra))


@dataclass(frozen=True)
class LrOffer:
    """How well the selection's learning rates are tuned, and the runs that would tune the rest."""
    tuning: object
    lr_runs: list
    lr_flops: float


def lr_offer(s: Store, version, sel, runs, an) -> LrOffer:
    """Cached per data version and selection. Needs no training device (no torch): the cards use it."""
    return _lr_offer(str(s.path), version, sel, runs, an)


@st.cache_resource(max_entries=32, show_spinner=False)
def _bracketing(path: str, signature: tuple, sel: services.Selection, device_label: str, _s: Store, _runs, _an):
    edge = {m: _an.nopt[m] for m in ("envelope", "isoflop") if m in _an.nopt and not _an.nopt[m].ok}
    b = services.bracket(_runs, sel, edge) if edge else None
    plan = services.plan(_s, b.configs, _runs, device_label) if b is not None and not b.empty else None
    return Bracketing(edge, b, plan)


@dataclass(frozen=True)
class Bracketing:
    """The estimators the grid leaves without an answer, the runs that would bracket the optimum, their plan."""
    edge: dict
    bracket: object
    plan: object


def bracketing(s: Store, sel, runs, an, device_label: str) -> Bracketing:
    """Cached per database state (queueing changes it) and selection: no query on a plain rerun.
    Its plan is timed for the training device, so a page asks for it after its charts (the device
    imports torch: seconds on a server's first run)."""
    return _bracketing(str(s.path), s.signature(), sel, device_label, s, runs, an)


@st.cache_resource(max_entries=32, show_spinner=False)
def _backtest(path: str, version: tuple, sel: services.Selection, octaves: float, n_boot: int, _runs):
    try:
        return services.backtest(_runs, sel, octaves, n_boot)
    except ValueError as e:
        return e


def backtest(s: Store, version, sel, runs, octaves: float, n_boot: int = 0):
    """services.backtest cached per selection and cut-off, or the ValueError that says why not."""
    return _backtest(str(s.path), version, sel, octaves, n_boot, runs)
