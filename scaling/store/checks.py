"""An export's values, checked before anything is written: each run's identity, ranges and the
arithmetic of N, D and C, and each curve point against its run. The types were checked from the
file's schema first (exchange.read); a problem is a ValueError naming the row and the value."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from scaling.core.config import PROTOCOL, STUDY_DEFAULTS, RunConfig, identity

STATUSES = ("ok", "diverged")  # results; failed runs hold none and are not exported
REQUIRED = ["run_id", "protocol", "dataset", "width_step", "width", "dropout", "data_fraction", "seed", "lr_rule",
            "lr_mult", "epochs", "batch_size", "params", "examples", "flops", "status", "created_at"]


def _row(runs: pd.DataFrame, bad: pd.Series) -> str:
    i = int(np.flatnonzero(bad.to_numpy())[0])
    return f"row {i + 1} (run {runs['run_id'].iloc[i]})"


def check_runs(runs: pd.DataFrame) -> dict[str, tuple[str, RunConfig]]:
    """Types were checked from the schema; here the values: identities, ranges, the arithmetic of N,
    D and C, and that each run_id is the hash of its own configuration under its protocol. Returns
    the rows an older version exported under a second id (-0.0, say): {their id: (canonical id, config)}."""
    for c in REQUIRED:
        if runs[c].isna().any():
            raise ValueError(f"{_row(runs, runs[c].isna())}: {c} is missing")
    if runs["run_id"].duplicated().any():
        raise ValueError(f"{_row(runs, runs['run_id'].duplicated())}: the run_id appears twice")
    if not runs["status"].isin(STATUSES).all():
        bad = ~runs["status"].isin(STATUSES)
        raise ValueError(f"{_row(runs, bad)}: status {str(runs['status'][bad].iloc[0])!r} is not one of "
                         f"{', '.join(STATUSES)}")
    newer = runs["protocol"] > PROTOCOL
    if newer.any():
        raise ValueError(f"{_row(runs, newer)} follows protocol {int(runs['protocol'][newer].iloc[0])}, newer than "
                         f"this Scaling Lab's ({PROTOCOL}): upgrade the code to import it")
    if (runs["protocol"] < 1).any():
        bad = runs["protocol"] < 1
        raise ValueError(f"{_row(runs, bad)}: protocol {int(runs['protocol'][bad].iloc[0])} is not one (1 to {PROTOCOL})")
    for col, allowed in (("precision", ("fp32", "bf16")), ("device_type", ("cpu", "cuda"))):  # a run's family
        bad = runs[col].notna() & ~runs[col].isin(allowed)
        if bad.any():
            raise ValueError(f"{_row(runs, bad)}: {col} {str(runs[col][bad].iloc[0])!r} is not one of "
                             f"{', '.join(allowed)}")
    ok = runs["status"] == "ok"
    checks = [
        ("val_loss", ok & ~(runs["val_loss"] >= 0) | (runs["val_loss"] < 0), "a loss >= 0"),
        ("val_acc", ok & ~runs["val_acc"].between(0, 1) | (runs["val_acc"] < 0) | (runs["val_acc"] > 1), "in [0, 1]"),
        ("train_loss", runs["train_loss"] < 0, "a loss >= 0"),
        ("val_loss_even", runs["val_loss_even"] < 0, "a loss >= 0"),
        ("val_loss_odd", runs["val_loss_odd"] < 0, "a loss >= 0"),
        ("wall_s", runs["wall_s"] < 0, "seconds >= 0"),
    ]
    for col in ("dropout", "data_fraction", "lr_mult", "flops", "val_loss", "val_acc", "train_loss", "wall_s",
                "val_loss_even", "val_loss_odd"):  # unknown is NULL, never inf (the store's convention)
        x = runs[col].astype("float64")
        checks.append((col, x.notna() & ~np.isfinite(x), "finite"))
    for col, bad, what in checks:
        bad = bad.fillna(False).astype(bool)
        if bad.any():
            value = runs[col][bad].iloc[0]
            raise ValueError(f"{_row(runs, bad)}: {col} {value.item() if hasattr(value, 'item') else value!r} "
                             f"is not {what}")
    for col, default in STUDY_DEFAULTS.items():  # a study axis is never unknown: absent means its default
        if runs[col].isna().any():
            raise ValueError(f"{_row(runs, runs[col].isna())}: {col} is missing (its default is {default!r})")
    renamed = {}
    for rec in runs[REQUIRED + list(STUDY_DEFAULTS)].to_dict("records"):
        where = f"run {rec['run_id']}"
        try:
            cfg = RunConfig(width_step=int(rec["width_step"]), data_fraction=float(rec["data_fraction"]),
                            seed=int(rec["seed"]), dropout=float(rec["dropout"]), lr_mult=float(rec["lr_mult"]),
                            lr_rule=rec["lr_rule"], dataset=rec["dataset"], epochs=int(rec["epochs"]),
                            batch_size=int(rec["batch_size"]), label_noise=float(rec["label_noise"]),
                            arch=rec["arch"], classes=rec["classes"], pretrain_classes=rec["pretrain_classes"],
                            pretrain_fraction=float(rec["pretrain_fraction"]),
                            pretrain_epochs=int(rec["pretrain_epochs"]), lr_schedule=rec["lr_schedule"])
        except ValueError as e:
            raise ValueError(f"{where}: {e}") from None
        for col, want in (("width", cfg.width), ("params", cfg.params), ("examples", cfg.examples)):
            if int(rec[col]) != want:
                raise ValueError(f"{where}: {col} {rec[col]} does not match its configuration ({want})")
        if not math.isclose(float(rec["flops"]), cfg.flops, rel_tol=1e-9):
            raise ValueError(f"{where}: flops {rec['flops']:.6g} does not match its configuration ({cfg.flops:.6g})")
        # every protocol's id is checked: a stale row under any id could mark an untrained run cached
        protocol, want = int(rec["protocol"]), cfg.id_under(int(rec["protocol"]))
        if want != rec["run_id"]:
            if rec["run_id"] != identity(rec, protocol, canonical=False):
                raise ValueError(f"{where}: the run_id is not its configuration's ({want}, protocol {protocol}): the "
                                 "file was edited or written by another program")
            renamed[rec["run_id"]] = (want, cfg)  # an older version's id of the same configuration
    return renamed


def check_curves(runs: pd.DataFrame, curves: pd.DataFrame) -> None:
    if curves.empty:
        return
    per_run = runs.set_index("run_id")[["examples", "flops"]].add_suffix("_run")
    d = curves.join(per_run, on="run_id")
    checks = [
        ((d["examples"] < 1) | (d["examples"] > d["examples_run"]), "examples outside 1..the run's D"),
        (pd.Series(~np.isclose(d["flops"], d["flops_run"] / d["examples_run"] * d["examples"], rtol=1e-9), index=d.index),
         "flops that do not match its examples"),
        (d["val_loss"] < 0, "a negative loss"),
        ((d["val_acc"] < 0) | (d["val_acc"] > 1), "an accuracy outside [0, 1]"),
        (d.duplicated(["run_id", "examples"]), "the same point twice"),
    ]
    for bad, what in checks:
        bad = bad.fillna(False).astype(bool)
        if bad.any():
            rid = d["run_id"][bad].iloc[0]
            raise ValueError(f"run {rid}: a curve point has {what} (examples {int(d['examples'][bad].iloc[0])})")
