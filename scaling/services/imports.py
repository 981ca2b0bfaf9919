"""What the pages ask about imports and exports: the exercise grid shipped with the package, loading
it, which of the runs shown were not trained here, and an export another Scaling Lab can import."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from scaling.core.fmt import fmt_s, md_text
from scaling.store import Imported, Store, exchange


@dataclass(frozen=True)
class Shipped:
    """The shipped grid, described from its metadata alone (the file's footer: no run is read).
    button() and caption() are Markdown for the page, with the file's own words escaped.

    Attributes
    ----------
    path : Path
        The Parquet file.
    runs : int
        Runs in it.
    processor : str
        The processor that trained them.
    cpu : str
        Its cores, vector ISA and family/model.
    training_s : float
        The runs' summed training time on that machine.
    commit : str
        The git commit that trained them.
    torch : str
        The torch version that trained them.
    label : str
        The grid's name.
    """
    path: Path
    runs: int
    processor: str
    cpu: str
    training_s: float
    commit: str
    torch: str
    label: str

    def button(self) -> str:
        return f"Load the shipped exercise grid ({self.runs} runs, trained on {md_text(self.processor)})"

    def caption(self) -> str:
        return (f"Or, at once: {md_text(self.label)}, trained by this project with `scaling sweep` on "
                f"{md_text(self.processor)} ({md_text(self.cpu)}; torch {md_text(self.torch)}, commit "
                f"{md_text(self.commit[:10])}) in {fmt_s(self.training_s)} of training, "
                "with validation curves. Loaded into the cache marked as imported; the quick sweep and Train "
                "then only add what it lacks.")


def shipped(path: Path = exchange.SHIPPED) -> Shipped | None:
    """The shipped grid, or None where the file is absent or unreadable (an install without it)."""
    try:
        m = exchange.read_meta(path)
    except exchange.ExportError:
        return None
    return Shipped(path=path, runs=int(m.get("runs", 0)), processor=m.get("processor", "an unknown processor"),
                   cpu=m.get("cpu", ""), training_s=float(m.get("training_s") or 0), commit=m.get("git_commit", "?"),
                   torch=m.get("torch", "?"), label=m.get("label") or "the exercise grid")


def import_file(store: Store, path) -> Imported:
    """Check the export at `path` whole, then write its new runs in one transaction (ExportError: nothing written)."""
    exp = exchange.read(path)
    return store.import_runs(exp.runs, exp.curves, source=exp.source(path), notes=exp.notes)


@dataclass(frozen=True)
class Exported:
    """An export ready to download.

    Attributes
    ----------
    data : bytes
        The Parquet file.
    runs : int
        Runs in it.
    curve_points : int
        Validation-curve points in it.
    meta : dict
        Its provenance (exchange.provenance).
    """
    data: bytes
    runs: int
    curve_points: int
    meta: dict


def export_bytes(store: Store, run_ids=None, label: str = "", command: str = "") -> Exported:
    """A Parquet export of the finished runs among `run_ids` (None: all), with their curves and the
    provenance (exchange.provenance): what `scaling import` reads."""
    runs, curves, sweeps = store.runs_and_curves()
    if run_ids is not None:
        keep = set(run_ids)
        runs, curves = runs[runs["run_id"].isin(keep)], curves[curves["run_id"].isin(keep)]
    meta = exchange.provenance(runs, sweeps, command=command, label=label)
    return Exported(exchange.to_parquet(runs, curves, meta, store.run_notes()), len(runs), len(curves), meta)


def imported_note(runs: pd.DataFrame, pointer: str = "The Runs page marks each one.") -> str:
    """One line saying how many of `runs` were imported and from where ('' when none were), then `pointer`:
    Markdown, with where they came from (the files' own words) escaped."""
    if "imported_from" not in runs or runs["imported_from"].isna().all():
        return ""
    by = runs["imported_from"].dropna().value_counts()
    n = int(by.sum())
    where = "; ".join(f"{md_text(k)} ({v})" for k, v in by.items()) if len(by) > 1 else md_text(by.index[0])
    return f"{n} of these {len(runs)} runs {'was' if n == 1 else 'were'} imported, not trained here: {where}. " + pointer
