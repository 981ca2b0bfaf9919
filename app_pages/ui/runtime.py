"""The app's server process: its start, which does a first visitor's Explore ahead, and its heap,
frozen out of the garbage collector's sight."""
from __future__ import annotations

import gc
import logging
import sys
import threading
from contextlib import asynccontextmanager

import streamlit as st

log = logging.getLogger(__name__)
_visited = threading.Event()  # a browser has asked for a page: the cores are its, and so is what the warm-up has not begun


@asynccontextmanager
async def lifespan(app):
    """The server's start and end (st.App): warm() in a thread, while the server answers; at the end,
    the fit worker stopped (uvicorn exits a SIGTERM by the signal itself, so no atexit hook would, and
    the worker would wait for jobs forever, with its fork server)."""
    threading.Thread(target=warm, name="scaling-warm-up", daemon=True).start()
    try:
        yield
    finally:
        from scaling.services import background

        background.shutdown()


class Visits:
    """ASGI middleware (st.App's): any request but a health check means a visitor is here."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket") and not scope.get("path", "").endswith("/_stcore/health"):
            _visited.set()
        await self.app(scope, receive, send)


def warm() -> None:
    """What a fresh server's first Explore waited for, done as the server starts (a visitor 3 s later:
    first chart 3.64 -> 2.87 s; one there at once: 3.54 -> 3.21 s). Nothing is shown: whatever fails
    here fails again on the page, where it is said.

    First the page's own first draw (_first_draw). Then, unless a browser has asked for a page
    meanwhile (its page would share the two cores with them; a visitor at once: first chart 3.5 ->
    3.7-4.0 s with them), what the page starts once its charts are sent, while the browser draws them:
    the fit worker, with its modules, and the training device, whose first look imports torch."""
    try:
        from scaling import services

        from . import reads

        s = reads.store()
        runs, curves = reads.load_runs(s), reads.load_curves(s)
        sel = _first_draw(s, runs, curves)
        if sel is not None and not _visited.is_set():  # two resamples: the bootstrap's modules, in the worker
            services.background.ahead(services.analysis, runs, curves, sel, n_boot=2, done=lambda _: None)
        if not _visited.is_set():
            reads.device()
    except Exception:  # noqa: BLE001 - the page reports it to whoever opens it
        log.warning("the warm-up of Explore's first draw failed", exc_info=True)


def _first_draw(s, runs, curves):
    """Explore's first draw for the selection a first visit opens (the defaults, fitted to the cache):
    its modules imported, the point estimates cached for every session (a page run that needs a
    module being imported waits for that import, not for a second one). The selection, or None
    where there is nothing to fit."""
    from scaling import services

    from . import explore_parts, fits

    opts = services.options(runs)
    if opts.empty:
        return None
    sel, _ = services.fit_to_options(services.Selection(), opts)
    an = fits.point_estimates(s, services.data_version(runs), sel, runs, curves)
    if isinstance(an, services.SelectionError):
        return None
    explore_parts.loss_figure(an, services.chart_runs(runs, sel)).wire()
    return sel


def freeze_heap() -> None:
    """Call after each page run. Streamlit collects every generation after each script run, and a
    full collection walks the whole heap (torch, scipy and their objects included), which lives as
    long as the process anyway: freeze it once per set of loaded modules."""
    _freeze(len(sys.modules))


@st.cache_resource(show_spinner=False)
def _freeze(n_modules: int) -> None:
    gc.collect()
    gc.freeze()
