"""Exports of the run cache as one self-describing Parquet file, and reading them back, checked.

An export is one row per run (every column of the runs table) with the run's validation curve as a
list column, and Parquet key-value metadata under `scaling_lab.*`: the format and its version, the
protocol and schema the runs follow, the code (package version, git commit) and the machine (the
processor as lscpu names it, its cores and vector ISA) that wrote it, when, and the sweeps that
trained it. A file is read whole and checked before anything is written: a random Parquet file, a
CSV, garbage, a newer format or protocol, a wrong type or a value out of range is refused with one
line naming the file and the first problem. Writing the checked runs is the store's job
(Store.import_runs: one transaction).

No torch here: `scaling export` and `scaling import` stay fast, and the app reads the shipped
file's metadata on a cold start.
"""
from __future__ import annotations

import io
import json
import math
import os
import platform
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata as pkg_metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from scaling.core.config import PROTOCOL, STUDY_DEFAULTS
from scaling.store import RUN_COLUMNS, SCHEMA_VERSION
from scaling.store.checks import REQUIRED, check_curves, check_runs
from scaling.store.identity import canonical_rows

FORMAT = "scaling-lab-runs"
FORMAT_VERSION = 1  # bump when a column changes meaning; a reader refuses versions above its own
KEY = "scaling_lab."
SHIPPED = Path(__file__).resolve().parents[1] / "shipped" / "exercise_grid.parquet"

CURVE = pa.struct([("examples", pa.int64()), ("flops", pa.float64()), ("val_loss", pa.float64()),
                   ("val_acc", pa.float64())])
# the Arrow type of every column; reading accepts any integer width for the integer columns
SCHEMA = pa.schema([
    ("run_id", pa.string()), ("protocol", pa.int32()), ("dataset", pa.string()), ("width_step", pa.int32()),
    ("width", pa.int32()), ("dropout", pa.float64()), ("data_fraction", pa.float64()), ("seed", pa.int32()),
    ("lr_rule", pa.string()), ("lr_mult", pa.float64()), ("epochs", pa.int32()), ("batch_size", pa.int32()),
    ("label_noise", pa.float64()), ("arch", pa.string()), ("classes", pa.string()), ("pretrain_classes", pa.string()),
    ("pretrain_fraction", pa.float64()), ("pretrain_epochs", pa.int32()),
    ("lr_schedule", pa.string()), ("params", pa.int64()), ("examples", pa.int64()), ("flops", pa.float64()), ("val_loss", pa.float64()),
    ("val_acc", pa.float64()), ("train_loss", pa.float64()), ("wall_s", pa.float64()), ("device", pa.string()),
    ("device_type", pa.string()), ("precision", pa.string()), ("status", pa.string()), ("error", pa.string()),
    ("created_at", pa.timestamp("us")), ("val_loss_even", pa.float64()), ("val_loss_odd", pa.float64()),
    ("host", pa.string()), ("imported_from", pa.string()), ("curve", pa.list_(CURVE)),
])
assert SCHEMA.names[:-1] == RUN_COLUMNS, "the export's columns follow the runs table"
# optional, after the curve: a run's exclusion from fits (the reason) and its note (annotations.py)
NOTES = pa.schema([("excluded", pa.string()), ("note", pa.string())])
CURVE_COLUMNS = ["run_id", "examples", "flops", "val_loss", "val_acc"]


class ExportError(ValueError):
    """A file that is not a valid export; the message names it and the first problem."""


@dataclass(frozen=True)
class Export:
    """A checked export, read whole: what an import writes and what the app shows before it does.

    Attributes
    ----------
    runs : pandas.DataFrame
        One row per run, columns RUN_COLUMNS, every value checked.
    curves : pandas.DataFrame
        The runs' validation-curve points, columns CURVE_COLUMNS.
    meta : dict of str to str
        The file's scaling_lab.* metadata without the prefix: format, protocol, schema, the code
        and machine that wrote it, when, and the sweeps that trained it.
    notes : pandas.DataFrame
        The runs it annotates: run_id, excluded (the reason it is left out of fits, or None), note.
    """

    runs: pd.DataFrame
    curves: pd.DataFrame
    meta: dict
    notes: pd.DataFrame = None

    @property
    def processor(self) -> str:
        return self.meta.get("processor", "an unknown processor")

    def source(self, path) -> str:
        """What an imported run says it came from (Runs page, `scaling runs`): the file's label or
        name, the processor that wrote it, the day."""
        return " · ".join(x for x in (self.meta.get("label") or Path(path).name, self.processor,
                                      self.meta.get("created", "")[:10]) if x)


# ---------------------------------------------------------------- writing


def hardware() -> dict:
    """The machine writing the file, as lscpu names it: model name, cores, the widest vector ISA."""
    info = {}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        info = {k.strip(): v.strip() for k, _, v in (ln.partition(":") for ln in out.splitlines()) if v}
    except (OSError, subprocess.SubprocessError):
        pass
    name = info.get("Model name") or _cpuinfo("model name") or platform.processor() or platform.machine()
    flags = set((info.get("Flags") or _cpuinfo("flags") or "").split())
    isa = "AVX-512" if "avx512f" in flags else "AVX2+FMA" if {"avx2", "fma"} <= flags else "no AVX2"
    family = f"family {info['CPU family']} model {info['Model']}" if "CPU family" in info and "Model" in info else ""
    return {"processor": name, "cores": str(os.cpu_count() or 0), "isa": isa if flags else "",
            "cpu": ", ".join(x for x in (f"{os.cpu_count()} cores", isa if flags else "", family) if x)}


def _cpuinfo(field: str) -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return ""
    return next((ln.split(":", 1)[1].strip() for ln in lines if ln.split(":")[0].strip() == field), "")


def code_version() -> dict:
    """The package version and, in a checkout, the git commit (`+dirty` when the tree has changes)."""
    out = {"package": _version("scaling-lab")}
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
        if commit.returncode == 0:
            out["git_commit"] = commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def _version(dist: str) -> str:
    try:
        return pkg_metadata.version(dist)
    except pkg_metadata.PackageNotFoundError:
        return ""


def provenance(runs: pd.DataFrame, sweeps: list[str], command: str, label: str = "") -> dict:
    """The metadata an export carries (values are strings, as Parquet stores them)."""
    wall = runs["wall_s"].dropna()
    first, last = runs["created_at"].min(), runs["created_at"].max()
    devices = runs["device"].dropna().value_counts()
    return {
        "format": FORMAT, "format_version": str(FORMAT_VERSION), "schema_version": str(SCHEMA_VERSION),
        "protocol": str(PROTOCOL), **code_version(), "torch": _version("torch"), **hardware(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "command": command, "label": label,
        "runs": str(len(runs)),
        # how it was trained: the devices named by the runs, their summed training time (each run's
        # share of its stack's wall time) and the sweeps' command lines, from the cache itself
        "devices": ", ".join(f"{d} ({n} runs)" for d, n in devices.items()),
        "training_s": f"{wall.sum():.1f}",
        "trained_from": "" if pd.isna(first) else f"{first:%Y-%m-%d %H:%M:%S} UTC",
        "trained_to": "" if pd.isna(last) else f"{last:%Y-%m-%d %H:%M:%S} UTC",
        "sweeps": json.dumps(sweeps),
    }


def to_parquet(runs: pd.DataFrame, curves: pd.DataFrame, meta: dict, notes: pd.DataFrame | None = None) -> bytes:
    """The export of `runs` (RUN_COLUMNS) with their `curves` (CURVE_COLUMNS) as Parquet bytes, and
    their `notes` (run_id, excluded, note) where given."""
    points = {rid: g for rid, g in curves.sort_values(["run_id", "examples"]).groupby("run_id", sort=False)}
    empty = pd.DataFrame(columns=CURVE_COLUMNS)
    curve = [[{"examples": int(e), "flops": float(f), "val_loss": _none(v), "val_acc": _none(a)}
              for e, f, v, a in points.get(rid, empty)[["examples", "flops", "val_loss", "val_acc"]].itertuples(index=False)]
             for rid in runs["run_id"]]
    table = pa.Table.from_pandas(runs[RUN_COLUMNS].assign(curve=curve), schema=SCHEMA, preserve_index=False)
    if notes is not None and len(notes):
        by = notes.set_index("run_id")
        for f in NOTES:
            col = runs["run_id"].map(by[f.name]) if f.name in by else pd.Series(None, index=runs.index)
            table = table.append_column(f, pa.array([None if pd.isna(v) else str(v) for v in col], f.type))
    table = table.replace_schema_metadata({f"{KEY}{k}": str(v) for k, v in meta.items()})
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def _none(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


# ---------------------------------------------------------------- reading


def read_meta(path) -> dict:
    """Only the file's scaling_lab.* metadata (its footer): what the app shows before importing."""
    return _meta(_open(path), path)


def read(path) -> Export:
    """The file as a checked export, or ExportError naming the file and the first problem."""
    pf = _open(path)
    meta = _meta(pf, path)
    schema = pf.schema_arrow
    missing = [c for c in REQUIRED + ["curve"] if c not in schema.names]
    if missing:
        raise ExportError(f"{path}: not a Scaling Lab export: columns missing: {', '.join(missing)}")
    for f in [*SCHEMA, *NOTES]:
        if f.name in schema.names and not _compatible(schema.field(f.name).type, f.type):
            raise ExportError(f"{path}: column {f.name} is {schema.field(f.name).type}, expected {f.type}")
    try:
        table = pf.read(columns=[c for c in SCHEMA.names + NOTES.names if c in schema.names])
    except (pa.ArrowException, OSError) as e:
        raise ExportError(f"{path}: cannot read it: {str(e).splitlines()[0]}") from None
    curve = table.column("curve")
    noted = [c for c in NOTES.names if c in table.column_names]
    notes = table.select(["run_id", *noted]).to_pandas()
    runs = table.drop_columns(["curve", *noted]).to_pandas()
    for f in SCHEMA:  # an optional column the file lacks: its default (a study axis), else unknown throughout
        if f.name in STUDY_DEFAULTS and f.name not in runs:
            runs[f.name] = STUDY_DEFAULTS[f.name]
        elif f.name in RUN_COLUMNS and f.name not in runs:
            runs[f.name] = pd.Series(np.nan if pa.types.is_floating(f.type) else None, index=runs.index,
                                     dtype="float64" if pa.types.is_floating(f.type) else object)
    runs = runs[RUN_COLUMNS]
    if isinstance(runs["created_at"].dtype, pd.DatetimeTZDtype):  # the store keeps naive UTC
        runs["created_at"] = runs["created_at"].dt.tz_convert("UTC").dt.tz_localize(None)
    try:
        curves = _curves(runs["run_id"], curve)
        renamed = check_runs(runs)
        check_curves(runs, curves)
    except ValueError as e:
        raise ExportError(f"{path}: {e}") from None
    if renamed:
        runs, curves = canonical_rows(runs, curves, renamed)
        notes["run_id"] = notes["run_id"].map(lambda r: renamed[r][0] if r in renamed else r)
    for c in NOTES.names:
        notes[c] = notes[c].astype(object).where(notes[c].notna(), None) if c in notes else None
    notes = notes[notes["excluded"].notna() | notes["note"].notna()].reset_index(drop=True)
    return Export(runs=runs, curves=curves, meta=meta, notes=notes)


def _open(path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except FileNotFoundError:
        raise ExportError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ExportError(f"{path} is a directory, not an export") from None
    except (pa.ArrowException, OSError) as e:
        raise ExportError(f"{path} is not a Scaling Lab export: not a Parquet file ({str(e).splitlines()[0]}); "
                          "write one with `scaling export --format parquet`") from None


def _meta(pf: pq.ParquetFile, path) -> dict:
    raw = pf.schema_arrow.metadata or {}
    meta = {}
    for k, v in raw.items():
        if k.startswith(KEY.encode()):
            try:
                meta[k.decode()[len(KEY):]] = v.decode()
            except UnicodeDecodeError:
                raise ExportError(f"{path}: its metadata {k.decode(errors='replace')} is not UTF-8 text "
                                  "(edited by another program?); nothing was written") from None
    if meta.get("format") != FORMAT:
        raise ExportError(f"{path} is not a Scaling Lab export: a Parquet file without its {KEY}format metadata "
                          "(a Runs page download or another program's table?); write one with "
                          "`scaling export --format parquet`")
    for key, ours, what in (("format_version", FORMAT_VERSION, "export format"), ("protocol", PROTOCOL, "protocol")):
        try:
            theirs = int(meta.get(key, ""))
        except ValueError:
            raise ExportError(f"{path}: {KEY}{key} is {meta.get(key)!r}, not an integer") from None
        if theirs > ours:
            raise ExportError(f"{path} was written by a newer Scaling Lab ({what} {theirs}; this one reads up to "
                              f"{ours}): upgrade the code to import it; nothing was written")
    return meta


def _compatible(got: pa.DataType, want: pa.DataType) -> bool:
    if pa.types.is_integer(want):
        return pa.types.is_integer(got)
    if pa.types.is_floating(want):
        return pa.types.is_floating(got) or pa.types.is_integer(got) or pa.types.is_null(got)
    if pa.types.is_string(want):
        return pa.types.is_string(got) or pa.types.is_large_string(got) or pa.types.is_null(got)
    if pa.types.is_timestamp(want):
        return pa.types.is_timestamp(got)
    if pa.types.is_list(want):  # the curve: a list of structs holding at least the four fields
        if not (pa.types.is_list(got) or pa.types.is_large_list(got)) or not pa.types.is_struct(got.value_type):
            return False
        have = {got.value_type.field(i).name: got.value_type.field(i).type for i in range(got.value_type.num_fields)}
        return all(f.name in have and _compatible(have[f.name], f.type) for f in want.value_type)
    return got == want


def _curves(run_ids: pd.Series, curve: pa.ChunkedArray) -> pd.DataFrame:
    lists = curve.combine_chunks() if curve.num_chunks else pa.array([], type=pa.list_(CURVE))
    lengths = lists.value_lengths().fill_null(0).to_numpy(zero_copy_only=False)
    points, owner = lists.flatten(), np.repeat(run_ids.to_numpy(dtype=object), lengths)
    for name in ("val_loss", "val_acc"):  # here, where a NaN is still told from a null (unknown: a diverged run's)
        col = points.field(name)
        bad = pc.fill_null(pc.invert(pc.is_finite(col)), False).to_numpy(zero_copy_only=False) \
            if pa.types.is_floating(col.type) else np.zeros(len(col), bool)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"run {owner[i]}: a curve point has a {name} that is not finite ({col[i].as_py()}) "
                             f"(examples {points.field('examples')[i].as_py()})")
    flat = pa.Table.from_struct_array(points).select(["examples", "flops", "val_loss", "val_acc"]).to_pandas()
    flat.insert(0, "run_id", owner)
    return flat.astype({"examples": "int64", "flops": "float64", "val_loss": "float64", "val_acc": "float64"})
