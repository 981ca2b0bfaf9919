"""Fits cached per database, selection and the version of its runs, shared by every session; those that take
seconds (a bootstrap, a study, a backtest's resamples) run in the worker process (services.background),
so the server stays free to draw every other page.

Held as objects (st.cache_resource), not pickled: the results are frozen dataclasses never mutated,
so a hit costs nothing (st.cache_data would unpickle a copy every rerun). The DataFrames ride along
unhashed (a leading underscore). st.cache_resource computes a key once for every session: a second
session asking for it meanwhile waits for the first, and a run stopped mid-way caches nothing.
"""
from __future__ import annotations

import contextvars
import functools
import time
import weakref
from dataclasses import dataclass

import streamlit as st

from scaling import services
from scaling.core import settings
from scaling.services import background, nearby
from scaling.store import Store

from .reads import snapshot, time_model

# Bootstrap resamples on the pages. 0 switches the intervals off (benchmarks/bench_app.py times the
# point estimates alone that way).
BOOT = settings.app_boot()
MAX_SHARED = 128  # selections whose fits are kept
REDRAW_S = 0.3  # how long a browser on 2 cores goes on drawing after a move's last chart message, with room


def after_redraw() -> None:
    """Waits while a browser on this machine draws what this run sent, before a page starts work in the
    worker process: started at once, it takes a core from the redraw (docs/performance.md, "The worker
    waits for the redraw"). A browser elsewhere draws on its own cores, and AppTest has none (no
    headers): no wait. An empty element written every 0.1 s is where a slider moved meanwhile stops
    this run (a write is Streamlit's only yield point), so a move waits at most that for it."""
    if st.context.ip_address is not None or not st.context.headers:
        return
    tick = st.empty()
    end = time.monotonic() + REDRAW_S
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(0.1, left))
        tick.empty()


def analysis(s: Store, version, sel, runs, curves, n_boot: int = 0, slot=None):
    """fit.analyze for a selection, or a SelectionError explaining why there is nothing to fit;
    computed once per database, selection, version of its runs and n_boot, and shared by every session.

    With `slot` (a placeholder), a bootstrap not cached yet says how far it is there, a few times a
    second while the worker computes it (services.background). Each of those writes is where
    Streamlit stops a script run whose user has moved a slider meanwhile, and the worker's job is
    then cancelled: without them, the bootstrap would hold back the redraw of the new selection."""
    fv = _fit_version(s, version, sel, runs)
    if slot is None:
        return _analysis(str(s.path), fv, sel, n_boot, runs, curves, None)
    # written in the page's context, not the cached function's: st.cache_resource would record the
    # notes and replay them on every hit, into a placeholder of a run long gone
    page = contextvars.copy_context()

    def progress(i, n):  # called every fraction of a second: each call is where a moved slider stops this run
        page.run(slot.caption, f"95% intervals: {i} of {n} bootstrap resamples…" if n else "95% intervals: computing…")

    slot.caption("95% intervals: computing…")  # what a session waiting for another's bootstrap shows
    result = _analysis(str(s.path), fv, sel, n_boot, runs, curves, progress)
    slot.empty()
    return result


def cached_analysis(s: Store, version, sel, n_boot: int, runs):
    """analysis() already computed for these arguments and still cached, else None (never computes)."""
    return _FINISHED.get((str(s.path), _fit_version(s, version, sel, runs), sel, n_boot))


def point_estimates(s: Store, version, sel, runs, curves):
    """Explore's first draw: seed means, frontier, the loss law and one N_opt estimator (found ready
    where a page fitted it ahead: fit_ahead)."""
    return _point_estimates(str(s.path), _fit_version(s, version, sel, runs), sel, runs, curves)


def fit_ahead(s: Store, version, sel, runs, curves, backtests: bool = False, training: bool = False) -> None:
    """Fit what a page draws first (services.nearby.first_draw: the point estimates; with `backtests`,
    Fit lab's default backtest too) for the selections one widget step from `sel`, in the worker while
    the page is read: the next slider step finds them done. Those asked for by an earlier page run and
    not started yet are dropped. A page asks for this once its own fits are done.

    `training`: a sweep trains on this machine. Runs landing in the selection's own family would make
    its neighbours' fits stale at once, so while they land (its version changed since the last call)
    nothing is fitted ahead: the training keeps the cores."""
    path = str(s.path)
    background.drop_ahead()
    fv = _fit_version(s, version, sel, runs)
    last, _LAST_AHEAD[(path, sel)] = _LAST_AHEAD.get((path, sel)), fv
    if training and last not in (None, fv):
        return
    todo = []
    for n in nearby.neighbours(sel, services.options(runs, sel.dataset)):
        key = (path, _fit_version(s, version, n, runs), n)
        have_points = key in _POINTS or ("points", *key) in _AHEAD
        have_hold = key in _HOLDS or ("hold", *key) in _AHEAD
        if not have_points or (backtests and not have_hold):
            todo.append((n, key))
    if todo:
        after_redraw()
    for n, key in todo:
        background.ahead(nearby.first_draw, runs, curves, n, backtests, done=functools.partial(_landed, key))


def _landed(key, first) -> None:
    """A neighbour's first draw, kept until a page asks for it (the oldest go first)."""
    _AHEAD[("points", *key)] = first.points
    if first.hold is not None:
        _AHEAD[("hold", *key)] = first.hold
        _AHEAD[("backtest", *key, first.hold.octaves)] = first.backtest
    while len(_AHEAD) > 3 * MAX_SHARED:
        _AHEAD.pop(next(iter(_AHEAD)), None)


def _fit_version(s: Store, version, sel, runs) -> tuple:
    """What keys a selection's fits: the version of its own runs (services.selection_version), not of the
    whole cache, so runs landing in another family (a sweep training meanwhile) keep them. Found once
    per data version."""
    key = (str(s.path), version, sel)
    fv = _VERSIONS.get(key)
    if fv is None:
        if len(_VERSIONS) > 8 * MAX_SHARED:
            _VERSIONS.clear()
            _LAST_AHEAD.clear()
        fv = _VERSIONS[key] = services.selection_version(runs, sel)
    return fv


_VERSIONS: dict = {}  # (path, data version, selection) -> the selection's own version
_LAST_AHEAD: dict = {}  # (path, selection) -> its version when its neighbours were last asked for
_AHEAD: dict = {}  # what fit_ahead computed, by (kind, the cache's key), until a page asks for it
_POINTS: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # those st.cache_resource holds


# The analyses st.cache_resource holds, by key, for cached_analysis to look at: weak, so an entry
# goes when the cache lets its result go. A SelectionError is not kept (an exception cannot be
# referred to weakly): asking again costs a cached point estimate that fails the same way.
_FINISHED: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


@st.cache_resource(max_entries=MAX_SHARED, show_spinner=False)
def _analysis(path: str, version: tuple, sel: services.Selection, n_boot: int, _runs, _curves, _progress):
    try:
        result = (background.run(services.analysis, _runs, _curves, sel, n_boot=n_boot, progress=_progress)
                  if n_boot else services.analysis(_runs, _curves, sel))
    except services.SelectionError as e:
        return e.with_traceback(None)  # a result too; its frames would keep the fit's arrays alive
    _FINISHED[(path, version, sel, n_boot)] = result
    return result


@st.cache_resource(max_entries=MAX_SHARED, show_spinner=False)
def _point_estimates(path: str, version: tuple, sel: services.Selection, _runs, _curves):
    key = (path, version, sel)
    try:
        result = _AHEAD.pop(("points", *key), None) or services.point_estimates(_runs, _curves, sel)
    except services.SelectionError as e:
        return e.with_traceback(None)
    _POINTS[key] = result
    return result


@dataclass(frozen=True)
class LrOffer:
    """How well the selection's learning rates are tuned, and the runs that would tune the rest.

    Attributes
    ----------
    tuning : fit.Tuning
        The selection's tuning (services.lr_tuning).
    seeds : tuple of int
        The selection's seeds: each run that would tune it is trained at every one.
    n_runs : int
        How many runs would tune the configurations not tuned yet (0 at a fixed multiplier).
    lr_flops : float
        Their training compute.
    """
    tuning: object
    seeds: tuple
    n_runs: int
    lr_flops: float

    def lr_runs(self) -> list:
        """The n_runs runs (RunConfigs), built only when they are queued: a page draws their count."""
        return services.next_lr_configs(self.tuning, self.seeds) if self.n_runs else []


def lr_offer(s: Store, version, sel, runs, an) -> LrOffer:
    """Cached per selection and its runs. Needs no training device (no torch): the cards use it."""
    return _lr_offer(str(s.path), _fit_version(s, version, sel, runs), sel, runs, an)


@st.cache_resource(max_entries=32, show_spinner=False)
def _lr_offer(path: str, version: tuple, sel: services.Selection, _runs, _an):
    tuning = services.lr_tuning(_an.aggregate)
    seeds = tuple(sorted(services.select(_runs, sel)["seed"].unique()))
    n, flops = (services.next_lr_cost(tuning, seeds) if sel.lr == services.LR_TUNED and not tuning.tuned
                else (0, 0.0))
    return LrOffer(tuning, seeds, n, flops)


@dataclass(frozen=True)
class Bracketing:
    """The estimators the grid leaves without an answer, the runs that would bracket the optimum, their plan.

    Attributes
    ----------
    edge : dict
        The envelope and IsoFLOP estimates (by name) that cannot answer on the selection.
    bracket : services.Bracket or None
        The runs that would let them answer (None when both answer).
    plan : services.Plan or None
        What training those runs would cost here (None when there are none).
    """
    edge: dict
    bracket: object
    plan: object


def bracketing(s: Store, sel, runs, an, device_label: str) -> Bracketing:
    """Cached per database state (queueing changes it) and selection: no query on a plain rerun.
    Its plan is timed for the training device, so a page asks for it after its charts (the device
    imports torch)."""
    return _bracketing(str(s.path), s.signature(), sel, device_label, s, snapshot(s), runs, an)


@st.cache_resource(max_entries=32, show_spinner=False)
def _bracketing(path: str, signature: tuple, sel: services.Selection, device_label: str, _s: Store, _snap, _runs, _an):
    edge = {m: _an.nopt[m] for m in ("envelope", "isoflop") if m in _an.nopt and not _an.nopt[m].ok}
    b = services.bracket(_runs, sel, edge) if edge else None
    if b is None or b.empty:
        return Bracketing(edge, b, None)
    # from the file's snapshot (this signature's) and the fitted time model: a move opens no connection
    plan = services.plan(_snap, b.configs, _runs, device_label, time_model(_s, _runs, device_label))
    return Bracketing(edge, b, plan)


def backtest(s: Store, version, sel, runs, octaves: float, n_boot: int = 0):
    """services.backtest cached per selection and cut-off, or the ValueError that says why not."""
    return _backtest(str(s.path), _fit_version(s, version, sel, runs), sel, octaves, n_boot, runs)


def hold_out(s: Store, version, sel, runs):
    """services.hold_out (the backtest's default cut-off), cached per selection."""
    return _hold_out(str(s.path), _fit_version(s, version, sel, runs), sel, runs)


@st.cache_resource(max_entries=MAX_SHARED, show_spinner=False)
def _hold_out(path: str, version: tuple, sel: services.Selection, _runs):
    hold = _AHEAD.pop(("hold", path, version, sel), None) or services.hold_out(_runs, sel)
    _HOLDS[(path, version, sel)] = hold
    return hold


_HOLDS: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # those st.cache_resource holds


def cached_backtest(s: Store, version, sel, octaves: float, n_boot: int, runs):
    """backtest() already computed for these arguments and still cached, else None (never computes)."""
    return _BACKTESTS.get((str(s.path), _fit_version(s, version, sel, runs), sel, octaves, n_boot))


_BACKTESTS: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # as _FINISHED


@st.cache_resource(max_entries=32, show_spinner=False)
def _backtest(path: str, version: tuple, sel: services.Selection, octaves: float, n_boot: int, _runs):
    ahead = None if n_boot else _AHEAD.pop(("backtest", path, version, sel, octaves), None)
    if isinstance(ahead, ValueError):  # why it cannot be backtested, found ahead
        return ahead
    try:
        result = ahead or (background.run(services.backtest, _runs, sel, octaves, n_boot) if n_boot
                           else services.backtest(_runs, sel, octaves))
    except ValueError as e:
        return e
    _BACKTESTS[(path, version, sel, octaves, n_boot)] = result
    return result


def study_answer(s: Store, key: str, runs, n_boot: int):
    """services.studies.answer, refitted when runs land (the file's signature), free on every other rerun."""
    return _study_answer(str(s.path), s.signature(), key, n_boot, runs)


@st.cache_resource(max_entries=16, show_spinner=False)
def _study_answer(path: str, signature: tuple, key: str, n_boot: int, _runs):
    return background.run(services.studies.answer, key, _runs, n_boot=n_boot)
