"""The DuckDB cache and its exports: the one place that speaks SQL.

    db.py        opening the file (lock retries), the schema and its migrations, integrity checks
    identity.py  one configuration, one row: the migration of older ids to canonical ones (schema 6)
    runs.py      runs and their curves: cached ids, writing results, importing, reading, deleting
    queue.py     the run queue and the sweeps: enqueue, claim, heartbeat, cancel, progress
    annotations.py  a run excluded from fits with its reason, notes on runs and sweeps, a sweep's grid
    predictions.py  predictions written down before planned runs train, scored as they land
    exchange.py  exports as one self-describing Parquet file, and reading them back, checked
    checks.py    an export's values checked: ids, ranges, N, D and C, curve points
"""
from __future__ import annotations

from typing import NamedTuple

import pandas as pd

from scaling.store.annotations import EXCLUDED, Annotations
from scaling.store.db import DEFAULT_DB, MIGRATIONS, SCHEMA_VERSION, Database, StoreError
from scaling.store.predictions import Predictions
from scaling.store.queue import (
    MAX_QUEUE,
    STALE_S,
    Queue,
    QueueCounts,
    QueueFull,
    SweepRows,
    owner_id,
    pid_alive,
    queue_cap,
)
from scaling.store.runs import RUN_COLUMNS, Conflict, Imported, Runs


class Snapshot(NamedTuple):
    """What a page reads of the file at once (Store.snapshot).

    Attributes
    ----------
    runs : pandas.DataFrame
        Every cached run, all statuses (Runs.runs(None)).
    sweeps : list of (str, str)
        The sweeps with runs queued or training: (sweep id, label), newest first.
    curves : pandas.DataFrame
        Every run's validation curve, by run_id and examples.
    waiting : frozenset of str
        The run ids queued or training.
    """
    runs: pd.DataFrame
    sweeps: list
    curves: pd.DataFrame
    waiting: frozenset

    def known_ids(self, run_ids: list[str]) -> tuple[set[str], set[str]]:
        """Store.known_ids as of this read, without a connection."""
        ids, r = set(run_ids), self.runs
        cached = ids & set(r.loc[r["status"] != "failed", "run_id"])
        return cached, (ids & self.waiting) - cached


class Store(Runs, Queue, Annotations, Predictions):
    """A database file of runs, curves, the queue, the sweeps, annotations and the planner's predictions. Holds no connection."""

    def snapshot(self) -> Snapshot:
        """Every cached run (all statuses), the sweeps still in flight, every run's curve and the runs
        waiting, in one connection: opening the file costs more than the reads (a page reads them
        again each time a run lands)."""
        with self.connect() as con:
            return Snapshot(self.runs(None, con), self.active_sweeps(con), self.curves(con), self.waiting_ids(con))

    def known_ids(self, run_ids: list[str]) -> tuple[set[str], set[str]]:
        """(cached, waiting) among run_ids, in one connection: waiting = queued or training, not cached."""
        with self.connect() as con:
            cached = self.cached_ids(run_ids, con)
            return cached, self.queued_ids(run_ids, con) - cached


__all__ = ["DEFAULT_DB", "EXCLUDED", "MAX_QUEUE", "MIGRATIONS", "RUN_COLUMNS", "SCHEMA_VERSION", "STALE_S", "Conflict", "Database", "Imported",
           "QueueCounts", "QueueFull", "Snapshot", "Store", "StoreError", "SweepRows", "owner_id", "pid_alive", "queue_cap"]
