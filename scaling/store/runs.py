"""Runs and their validation curves: what is cached, writing results, importing another cache's,
reading them back."""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from scaling.core import config
from scaling.store.annotations import import_notes, runs_sql
from scaling.store.db import Database, insert_rows

RUN_COLUMNS = [
    "run_id", "protocol", "dataset", "width_step", "width", "dropout", "data_fraction", "seed", "lr_rule", "lr_mult",
    "epochs", "batch_size", *config.STUDY_DEFAULTS, "params", "examples", "flops", "val_loss", "val_acc", "train_loss", "wall_s",
    "device", "device_type", "precision", "status", "error", "created_at", "val_loss_even", "val_loss_odd",
    "host", "imported_from",
]
# created_at is the database's now(); imported_from stays NULL for a run trained here; host names
# the machine that trained it (NULL for runs from before it was recorded)
_WRITTEN = [c for c in RUN_COLUMNS if c not in ("created_at", "imported_from")]
# what a run produced: an import with the same run_id and other values here is a conflict
RESULTS = ["status", "val_loss", "val_acc", "train_loss", "val_loss_even", "val_loss_odd"]
RESULT_RTOL = 1e-6  # fp32's epsilon is 1.2e-7: a few ulps apart is the same result


@dataclass(frozen=True)
class Conflict:
    """A run cached here and in an imported file with different results; the cached one is kept.

    Attributes
    ----------
    run_id : str
        The run's id, the same in both.
    field : str
        The first of RESULTS whose values differ.
    cached : object
        That field's value in this cache (kept).
    imported : object
        Its value in the imported file (skipped).
    """

    run_id: str
    field: str
    cached: object
    imported: object


@dataclass(frozen=True)
class Imported:
    """What an import wrote and skipped (Runs.import_runs).

    Attributes
    ----------
    added : int
        Runs written, with their curves.
    curve_points : int
        Curve points written with them.
    duplicates : int
        Runs cached here with the same results: skipped.
    conflicts : tuple of Conflict
        Runs cached here with other results: skipped, the cached run kept.
    dequeued : int
        Queued runs that the import made cached, taken off the queue.
    """

    added: int
    curve_points: int
    duplicates: int
    conflicts: tuple[Conflict, ...]
    dequeued: int


class Runs(Database):
    """The runs and their validation curves: what is cached, results written, another cache's imported."""

    def cached_ids(self, run_ids: list[str], con=None) -> set[str]:
        """Runs already trained (ok or diverged); failed runs are not cached and will be retried."""
        if not run_ids:
            return set()
        if con is None:
            with self.connect() as con:
                return self.cached_ids(run_ids, con)
        rows = con.execute(
            "SELECT run_id FROM runs WHERE status <> 'failed' AND list_contains(?, run_id)", [list(run_ids)]
        ).fetchall()
        return {r[0] for r in rows}

    def add_results(self, results, owner: str | None = None) -> None:
        """Write finished runs (and their curves) and take them off the queue, in one transaction."""
        if not results:
            return
        rows, curve_rows, ids, weight_rows = [], [], [], []
        for r in results:
            c = r.config
            ids.append(c.run_id)
            rows.append([
                c.run_id, config.PROTOCOL, c.dataset, c.width_step, c.width, c.dropout, c.data_fraction, c.seed,
                c.lr_rule, c.lr_mult, c.epochs, c.batch_size, *(getattr(c, k) for k in config.STUDY_DEFAULTS), c.params, c.examples, c.flops, _num(r.val_loss),
                _num(r.val_acc), _num(r.train_loss), r.wall_s, r.device, r.device_type, r.precision, r.status, r.error,
                *map(_num, r.val_loss_halves), r.host,
            ])
            per_example = c.flops / c.examples
            curve_rows += [[c.run_id, ex, per_example * ex, _num(vl), _num(va)] for ex, vl, va in r.curve]
            if r.weights is not None:
                weight_rows.append([c.run_id, r.weights])

        def tx(con):
            # Replace a failed attempt; never overwrite a result: if two workers ever trained the
            # same config, the first result stays.
            con.execute("DELETE FROM curves WHERE run_id IN (SELECT run_id FROM runs WHERE status = 'failed' "
                        "AND list_contains(?, run_id))", [ids])
            con.execute("DELETE FROM runs WHERE status = 'failed' AND list_contains(?, run_id)", [ids])
            insert_rows(con, f"INSERT OR IGNORE INTO runs ({', '.join(_WRITTEN)}, created_at) VALUES",
                        f"({', '.join('?' * len(_WRITTEN))}, now())", rows)
            insert_rows(con, "INSERT OR IGNORE INTO curves VALUES", "(?, ?, ?, ?, ?)", curve_rows)
            # weights may come for a run cached without them (an imported pre-training, trained again)
            insert_rows(con, "INSERT OR IGNORE INTO weights VALUES", "(?, ?)", weight_rows, chunk=16)
            con.execute("DELETE FROM queue WHERE list_contains(?, run_id)", [ids])

        self.transact(tx)

    def weights(self, run_ids: list[str]) -> dict[str, bytes]:
        """The kept final weights of these runs (train.save_weights' bytes), where the store has them."""
        if not run_ids:
            return {}
        with self.connect() as con:
            rows = con.execute("SELECT run_id, weights FROM weights WHERE list_contains(?, run_id)",
                               [list(run_ids)]).fetchall()
        return {r[0]: bytes(r[1]) for r in rows}

    def import_runs(self, runs: pd.DataFrame, curves: pd.DataFrame, source: str,
                    notes: pd.DataFrame | None = None) -> Imported:
        """Write another cache's runs (RUN_COLUMNS, checked by scaling.store.exchange) and their curves in one
        transaction. A run_id cached here with the same results is a duplicate, with others a conflict:
        both are skipped (the cached run is kept); a failed run here is replaced. New runs are marked
        `imported_from` (the file's own mark where it has one: where the run was first trained) and
        leave the queue: an imported run counts as cached. Rows of other statuses are not results
        and are ignored. The file's `notes` (exclusions, notes) are kept where this cache has none of its own."""
        runs = runs[runs["status"].isin(["ok", "diverged"])]
        ids = runs["run_id"].tolist()

        def tx(con):
            here = con.execute(f"SELECT run_id, {', '.join(RESULTS)} FROM runs WHERE list_contains(?, run_id)",
                               [ids]).fetchall()
            cached = {r[0]: dict(zip(RESULTS, r[1:])) for r in here if r[1] != "failed"}
            failed = [r[0] for r in here if r[1] == "failed"]
            conflicts, duplicates, new = [], 0, []
            for rec in runs.to_dict("records"):
                old = cached.get(rec["run_id"])
                if old is None:
                    new.append(rec)
                    continue
                diff = next((f for f in RESULTS if not _same(old[f], rec[f])), None)
                if diff is None:
                    duplicates += 1
                else:
                    conflicts.append(Conflict(rec["run_id"], diff, old[diff], _py(rec[diff])))
            new_ids = [r["run_id"] for r in new]
            # a failed attempt here holds no result: the imported one replaces it, as a trained one would
            con.execute("DELETE FROM curves WHERE list_contains(?, run_id)", [failed])
            con.execute("DELETE FROM runs WHERE list_contains(?, run_id)", [failed])
            rows = [[_py(r[c]) for c in RUN_COLUMNS[:-1]] + [_py(r["imported_from"]) or source] for r in new]
            insert_rows(con, f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES",
                        f"({', '.join('?' * len(RUN_COLUMNS))})", rows)
            points = curves[curves["run_id"].isin(set(new_ids))]
            insert_rows(con, "INSERT INTO curves (run_id, examples, flops, val_loss, val_acc) VALUES", "(?, ?, ?, ?, ?)",
                        [[_py(v) for v in p] for p in points[["run_id", "examples", "flops", "val_loss", "val_acc"]]
                         .itertuples(index=False)])
            # a queued run is cached now; one a worker is training keeps its claim (its result, written
            # after this one, is then ignored: the first result stays)
            dequeued = con.execute("SELECT count(*) FROM queue WHERE status = 'queued' AND list_contains(?, run_id)",
                                   [new_ids]).fetchone()[0]
            con.execute("DELETE FROM queue WHERE status = 'queued' AND list_contains(?, run_id)", [new_ids])
            import_notes(con, notes, ids)
            return Imported(added=len(new), curve_points=len(points), duplicates=duplicates,
                            conflicts=tuple(conflicts), dequeued=dequeued)

        return self.transact(tx)

    def runs_and_curves(self, statuses: tuple[str, ...] = ("ok", "diverged")) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
        """The runs of these statuses, their curves and the command lines of the sweeps that asked for
        them, in one read (an export: no run without its curve, no curve without its run)."""
        with self.connect() as con:
            runs = con.execute(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs WHERE list_contains(?, status) "
                               "ORDER BY flops, run_id", [list(statuses)]).df()
            curves = con.execute("SELECT c.* FROM curves c JOIN runs r USING (run_id) WHERE list_contains(?, r.status) "
                                 "ORDER BY run_id, examples", [list(statuses)]).df()
            sweeps = [r[0] for r in con.execute(
                "SELECT label FROM sweeps s WHERE label <> '' AND EXISTS (SELECT 1 FROM runs r WHERE "
                "list_contains(s.run_ids, r.run_id) AND list_contains(?, r.status)) "
                "GROUP BY label ORDER BY min(created_at)", [list(statuses)]).fetchall()]
        return runs, curves, sweeps

    def runs(self, status: str | None = "ok", con=None) -> pd.DataFrame:
        """Cached runs as a DataFrame (status None: every run), one row each, columns RUN_COLUMNS and the
        annotations `excluded` (the reason a run is left out of fits; its status then reads 'excluded')
        and `note`; on `con` when given (a read that shares its transaction with another)."""
        if con is None:
            with self.connect() as con:
                return self.runs(status, con)
        return con.execute(*runs_sql(RUN_COLUMNS, status)).df()

    def curves(self, con=None) -> pd.DataFrame:
        if con is None:
            with self.connect() as con:
                return self.curves(con)
        return con.execute("SELECT * FROM curves ORDER BY run_id, examples").df()

    def delete_runs(self, run_ids: list[str]) -> int:
        ids = list(run_ids)

        def tx(con):
            n = con.execute("SELECT count(*) FROM runs WHERE list_contains(?, run_id)", [ids]).fetchone()[0]
            for table in ("curves", "weights", "run_notes", "runs"):
                con.execute(f"DELETE FROM {table} WHERE list_contains(?, run_id)", [ids])
            return n

        return self.transact(tx)


def _py(x):
    """A pandas/numpy value as DuckDB takes it: None for NaN/NaT/NA, plain Python scalars."""
    if x is None or (not isinstance(x, (list, tuple)) and pd.isna(x)):
        return None
    if isinstance(x, pd.Timestamp):
        return x.to_pydatetime()
    return x.item() if hasattr(x, "item") else x


def _same(a, b) -> bool:
    """Equal results: both unknown, equal strings, or numbers equal to a few fp32 ulps (rel 1e-6): the
    losses are computed in fp32, and the same run trained on another machine or kernel path differs
    in the last bit or two; a real conflict differs far more."""
    a, b = _py(a), _py(b)
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return math.isclose(float(a), float(b), rel_tol=RESULT_RTOL, abs_tol=1e-12)


def _num(x):
    """NaN/inf are stored as NULL: a diverged run's loss is unknown, not a number to average."""
    x = float(x)
    return x if x == x and abs(x) != float("inf") else None
