"""What training a grid (or a list of configs) would add here: runs cached, queued and new, their
compute, and their time on this device (scaling.fit.time_model)."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from scaling.core.config import with_pretraining
from scaling.fit.time_model import TimeModel, time_model
from scaling.services.grids import GridSpec
from scaling.store import Snapshot, Store


@dataclass(frozen=True)
class Plan:
    """What training a grid would add here, and what it would cost.

    Attributes
    ----------
    configs : list of RunConfig
        Every run of the grid, pre-training runs included.
    cached : int
        Runs already trained.
    new : int
        Runs neither cached nor queued: what queueing the grid adds.
    flops : float
        Training compute of the new runs.
    est_s : float
        Estimated wall time of the new runs on this device.
    todo : list of RunConfig
        The new runs themselves.
    queued : int
        Runs already waiting in the queue (or training), by this or another sweep.
    basis : str
        Where est_s comes from, in words (TimeModel.describe).
    """
    configs: list
    cached: int
    new: int
    flops: float
    est_s: float
    todo: list = field(default_factory=list)
    queued: int = 0
    basis: str = ""


def plan(store: Store | Snapshot, spec: GridSpec | list, runs: pd.DataFrame, device_label: str,
         model: TimeModel | None = None) -> Plan:
    """What training a grid (or a list of configs) would add here: cached, queued, new, cost.
    `store` may be the Snapshot a page read (no connection), and `model` the time model it fitted
    to `runs` (a page asks for plans on every move)."""
    configs = with_pretraining(spec.configs() if isinstance(spec, GridSpec) else list(spec))
    ids = [c.run_id for c in configs]  # a sha256 each: once
    cached, waiting = store.known_ids(ids)
    todo = [c for c, i in zip(configs, ids) if i not in cached and i not in waiting]
    model = model if model is not None else time_model(runs, device_label)
    return Plan(configs, len(cached), len(todo), float(sum(c.flops for c in todo)), model.seconds(todo), todo,
                len(waiting), model.describe())
