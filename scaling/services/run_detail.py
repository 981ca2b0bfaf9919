"""One run, or the seeds of one configuration, as the run view shows them: the point a chart click
names mapped to its runs, their configuration, where and how they trained, and their curves.

What the store keeps of a run's training: its validation curve (loss and accuracy at points through
the epoch, the curves table) and one training loss, the mean over its last TAIL_STEPS steps: no
training curve is stored, and the view says so."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scaling.core.fmt import frac_label

MAX_RUNS = 40  # a point stands for one configuration's seeds; more than this is a misread click
TRAIN_NOTE = ("Training loss: only its final value is stored (the mean over the run's last 20 steps), drawn as a "
              "cross at the end of the run's curve; the validation loss is measured on the whole test set at "
              "points through the epoch.")
# the configuration fields the view lists, in order
CONFIG_COLUMNS = ["width_step", "width", "dropout", "data_fraction", "seed", "lr_rule", "lr_mult", "epochs",
                  "batch_size", "arch", "label_noise", "classes", "pretrain_classes", "pretrain_fraction",
                  "pretrain_epochs", "params", "examples", "flops"]


def runs_at(candidates: pd.DataFrame, point: dict | None) -> pd.DataFrame:
    """The runs among `candidates` that a clicked point stands for: the run of its run_id, else
    those matching every configuration field the point carries (numbers to 1e-6, text exactly);
    fields that are not run columns (a chart's labels) are ignored. Empty when none match."""
    if not point or candidates is None or not len(candidates):
        return candidates.iloc[0:0] if candidates is not None else pd.DataFrame()
    if point.get("run_id") is not None and "run_id" in candidates:
        return candidates[candidates["run_id"] == point["run_id"]]
    keep = np.ones(len(candidates), bool)
    matched = 0
    for k, v in point.items():
        if k not in candidates.columns or v is None:
            continue
        col = candidates[k]
        if isinstance(v, (int, float)) and not isinstance(v, bool) and pd.api.types.is_numeric_dtype(col):
            keep &= np.isclose(col.to_numpy(float), float(v), rtol=1e-6, atol=1e-12)
        else:
            keep &= (col.astype(str) == str(v)).to_numpy()
        matched += 1
    return candidates[keep] if matched else candidates.iloc[0:0]


def family_runs(runs: pd.DataFrame, family: dict) -> pd.DataFrame:
    """The ok runs of one run family (a study's `family`: field -> value), the pool its charts' points are."""
    ok = runs[runs["status"] == "ok"] if "status" in runs else runs
    pick = {k: v for k, v in (family or {}).items() if k in ok.columns}
    return runs_at(ok, pick) if pick else ok


@dataclass(frozen=True, eq=False)
class RunDetail:
    """The runs behind one point, for the run view.

    Attributes
    ----------
    title : str
        What the point is, in words ('width 8 · fraction 1/8 · dropout 0: 3 seeds').
    config : DataFrame
        field, value: the configuration the runs share (varying fields list their values).
    runs : DataFrame
        One row per run, by seed: run_id, seed, where and how it trained (host, 'not recorded' where
        it was not; device, precision, wall_s, created_at), its results (val_loss, val_acc, train_loss,
        status), lr_mult, imported_from, protocol, device_type, error.
    curves : DataFrame
        run_id, run (a label), examples, flops, val_loss, val_acc: each run's stored validation curve,
        its final point included.
    train : DataFrame
        run_id, run, examples, train_loss: each run's one stored training loss, at its last example.
    notes : tuple of str
        What the view cannot show and why (no curve stored, runs of other statuses).
    """
    title: str
    config: pd.DataFrame
    runs: pd.DataFrame
    curves: pd.DataFrame
    train: pd.DataFrame
    notes: tuple


# what tells runs apart in a legend, in this order, and its words
_APART = {"arch": "", "dropout": "dropout ", "label_noise": "label noise ", "width": "width ", "data_fraction": "fraction ",
          "epochs": "epochs ", "lr_mult": "lr ×", "seed": "seed "}


def _labels(runs: pd.DataFrame) -> dict:
    """run_id -> the fields in which the runs differ ('dropout 0.2 · seed 2'); the seed alone for one
    configuration's seeds; the id where nothing else tells two apart."""
    apart = [k for k in _APART if k in runs and runs[k].astype(str).nunique() > 1] or ["seed"]
    labels = {r["run_id"]: " · ".join(_APART[k] + _value(k, r[k]) for k in apart) for _, r in runs.iterrows()}
    if len(set(labels.values())) < len(labels):
        labels = {k: f"{v} · {k[:6]}" for k, v in labels.items()}
    return labels


def _value(k: str, v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if k in ("data_fraction", "pretrain_fraction"):
        return frac_label(float(v))
    if k == "flops":
        return f"{float(v):.3e}"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):g}"
    return str(v) if str(v) != "" else "—"


def run_detail(runs: pd.DataFrame, curves: pd.DataFrame | None) -> RunDetail:
    """The view of `runs` (one run, or one configuration's seeds: runs_at's answer) with their curves
    from `curves` (the store's curves table: run_id, examples, flops, val_loss, val_acc)."""
    if not len(runs):
        raise ValueError("no cached run at that point")
    runs = runs.head(MAX_RUNS).sort_values(["seed", "lr_mult"] if "lr_mult" in runs else ["seed"])
    labels = _labels(runs)
    cfg = []
    for k in CONFIG_COLUMNS:
        if k not in runs:
            continue
        vals = list(dict.fromkeys(_value(k, v) for v in runs[k]))
        if k in ("classes", "pretrain_classes") and vals == ["—"]:
            continue
        cfg.append(dict(field=k.replace("_", " "), value=", ".join(vals)))
    one = runs.iloc[0]
    head = [f"width {one['width']}", f"fraction {frac_label(float(one['data_fraction']))}", f"dropout {one['dropout']:g}"]
    if "arch" in runs and str(one["arch"]) != "cnn":
        head.append(str(one["arch"]))
    title = " · ".join(head) + (f": seed {one['seed']}" if len(runs) == 1 else f": {len(runs)} runs")
    cv = curves[curves["run_id"].isin(labels)] if curves is not None and len(curves) else pd.DataFrame(
        columns=["run_id", "examples", "flops", "val_loss", "val_acc"])
    # the final evaluation is the run's own row; a curve that lacks it ends where its last point is
    finals = runs[["run_id", "examples", "flops", "val_loss", "val_acc"]]
    cv = (pd.concat([cv[finals.columns], finals], ignore_index=True)
          .drop_duplicates(["run_id", "examples"], keep="first").sort_values(["run_id", "examples"]))
    order = {k: i for i, k in enumerate(labels)}  # by seed, as the table lists them
    cv = cv.assign(run=cv["run_id"].map(labels), o=cv["run_id"].map(order)).sort_values(["o", "examples"]).drop(columns="o")
    train = runs[["run_id", "examples", "train_loss"]].dropna(subset=["train_loss"])
    train = train.assign(run=train["run_id"].map(labels))
    notes = [TRAIN_NOTE]
    bare = [labels[i] for i in labels if not (curves is not None and len(curves) and (curves["run_id"] == i).any())]
    if bare:
        notes.append(f"No validation curve stored for {', '.join(bare)}: only the final evaluation is drawn.")
    if (runs["status"] != "ok").any():
        notes.append("Runs that did not finish ok (" + ", ".join(sorted(set(runs["status"]) - {"ok"}))
                     + ") are listed but have no loss to draw.")
    # where and how first (a narrow window shows them without scrolling), then the results
    keep = ["run_id", "seed", "host", "device", "precision", "wall_s", "created_at", "val_loss", "val_acc", "train_loss",
            "status", "lr_mult", "imported_from", "protocol", "device_type", "error"]
    table = runs[[c for c in keep if c in runs]].reset_index(drop=True)
    if "host" in table:
        table["host"] = table["host"].fillna("not recorded")
    return RunDetail(title, pd.DataFrame(cfg), table, cv.reset_index(drop=True), train.reset_index(drop=True),
                     tuple(notes))
