"""A selection's fit as a Jupyter notebook: it loads the selection's runs (an export beside it, or
embedded as base64 text), selects the run family, analyzes it and draws the pages' charts with the
package's own API (scaling.api), top to bottom, with no app running.

The notebook is nbformat 4 JSON written here as plain dicts (`scaling notebook` needs no Jupyter
package; the tests validate it with nbformat and execute it with nbclient).
"""
from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from scaling.core.fmt import frac_label
from scaling.services.imports import export_bytes
from scaling.services.selection import LR_TUNED, Selection, describe_family
from scaling.store import Store

NBFORMAT = 4
NBFORMAT_MINOR = 5


@dataclass(frozen=True)
class NotebookSpec:
    """What a notebook selects and fits.

    Attributes
    ----------
    choices : dict
        The fields of services.Selection the notebook passes to scaling.select (the run family,
        widths and fractions as (low, high), seeds).
    lr : str or float
        'tuned' or one multiplier.
    irreducible : bool or None
        The frontier's law: E + A C^-alpha (True), A C^-alpha (False), the backtest's choice (None).
    n_boot, seed : int
        Bootstrap resamples and their seed.
    compute : str
        '3fd' or '6nd'.
    origin : str
        Where it comes from, in words (the command, or the page).
    """
    choices: dict = field(default_factory=dict)
    lr: object = LR_TUNED
    irreducible: bool | None = None
    n_boot: int = 200
    seed: int = 0
    compute: str = "3fd"
    origin: str = ""


def from_selection(sel: Selection, n_boot: int, origin: str) -> NotebookSpec:
    """A page's selection as a notebook spec: the same runs, the same fit, the same resamples."""
    choices = {k: v for k, v in asdict(sel).items() if k not in ("lr", "form", "estimator", "compute")}
    return NotebookSpec(choices=choices, lr=sel.lr, irreducible=sel.irreducible, n_boot=n_boot,
                        compute=sel.compute, origin=origin)


def _md(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _code(text: str) -> dict:
    return {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": text}


def _args(d: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in d.items())


def build(spec: NotebookSpec, data_file: str | None = None, data: bytes | None = None) -> dict:
    """The notebook (nbformat 4 JSON as a dict) of `spec`, reading the export `data_file` (a path
    relative to the notebook) or the export `data` embedded in it."""
    if (data_file is None) == (data is None):
        raise ValueError("a notebook reads its runs from a file beside it or from data embedded in it: give one")
    family = {k: spec.choices.get(k, getattr(Selection(), k)) for k in Selection().family}
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    ranges = []
    if "widths" in spec.choices:
        ranges.append(f"width steps {spec.choices['widths'][0]}–{spec.choices['widths'][1]}")
    if "fractions" in spec.choices:
        lo, hi = spec.choices["fractions"]
        ranges.append(f"data fractions {frac_label(lo)}–{frac_label(hi)}")
    if spec.choices.get("seeds"):
        ranges.append("seeds " + ", ".join(map(str, spec.choices["seeds"])))
    fit_args = _args(dict(lr=spec.lr, irreducible=spec.irreducible, n_boot=spec.n_boot, seed=spec.seed,
                          compute=spec.compute))
    load = f"data = load_runs({data_file!r})" if data_file else "data = load_embedded(DATA)"
    cells = [
        _md(f"# Scaling Lab: {describe_family(family)}\n\n"
            f"Written {when} from {spec.origin or 'Scaling Lab'}. It reproduces that fit and its charts with the "
            "package's own Python API (`docs/python-api.md`), top to bottom, with no app running: run it with the "
            "interpreter Scaling Lab is installed in." + (f" Selection: {', '.join(ranges)}." if ranges else "")),
        _code("from scaling import (analyze, load_embedded, load_runs, plot_accuracy, plot_estimators, plot_isoflop,\n"
              "                     plot_loss, plot_nopt, plot_residuals, report, select)"),
        _md("## The runs\n\n" + ("The export beside this notebook (`scaling export --format parquet` writes the same "
                                 "file): every run of the family with its validation curve, checked as `scaling "
                                 "import` checks it. A run excluded from fits is read with status `excluded`."
                                 if data_file else "The export is embedded below as base64 text (a Parquet file, "
                                 "checked as `scaling import` checks it).")),
    ]
    if data is not None:
        cells.append(_code(f"DATA = {base64.b64encode(data).decode()!r}"))
    cells += [
        _code(f"{load}\ndata = select(data, {_args(spec.choices)})\n"
              "print(len(data.runs), 'runs,', len(data.curves), 'curve points')\n"
              "data.runs.groupby('status').size()"),
        _md("## The fit\n\n`analyze` is `scaling.fit.analyze`, what `scaling fit` and the app compute; `report` "
            "prints `scaling fit`'s text."),
        _code(f"an = analyze(data, {fit_args})\nprint(report(an))"),
        _code("law = an.loss_vs_compute\n"
              "print(f'alpha_C = {law.alpha:.4f}', '' if law.alpha_interval is None else "
              "f'95% [{law.alpha_interval.lo:.4f}, {law.alpha_interval.hi:.4f}]')\n"
              "{m: round(nf.a, 4) for m, nf in an.nopt.items() if nf.ok}"),
        _md("## Explore's charts\n\nLoss against compute (runs, seed means, the frontier, the law and its band), "
            "accuracy, and N_opt against compute by the estimator the verdict supports."),
        _code("plot_loss(an, data)"), _code("plot_accuracy(an)"), _code("plot_nopt(an)"),
        _md("## Fit lab's charts\n\nIsoFLOP profiles, the three N_opt estimators, the residuals of the parametric "
            "L(N, D)."),
        _code("plot_isoflop(an)"), _code("plot_estimators(an)"), _code("plot_residuals(an)"),
    ]
    return {"nbformat": NBFORMAT, "nbformat_minor": NBFORMAT_MINOR, "cells": _ids(cells),
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                         "language_info": {"name": "python"}}}


def _ids(cells: list[dict]) -> list[dict]:
    """Cell ids (nbformat 4.5 requires them): stable, by position."""
    return [{"id": f"cell-{i}", **c} for i, c in enumerate(cells)]


def to_bytes(nb: dict) -> bytes:
    return (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode()


def for_selection(store: Store, run_ids, sel: Selection, n_boot: int, origin: str) -> bytes:
    """A page's download: the notebook with the selection's runs embedded (one file to carry)."""
    exported = export_bytes(store, list(run_ids), label=f"{len(run_ids)} runs for a notebook", command=origin)
    return to_bytes(build(from_selection(sel, n_boot, origin), data=exported.data))
