"""Runs and their validation curves: what is cached, writing results, reading them back."""
from __future__ import annotations

import pandas as pd

from .. import config
from .db import Database, insert_rows

RUN_COLUMNS = [
    "run_id", "protocol", "dataset", "width_step", "width", "dropout", "data_fraction", "seed", "lr_rule", "lr_mult",
    "epochs", "batch_size", "params", "examples", "flops", "val_loss", "val_acc", "train_loss", "wall_s",
    "device", "device_type", "precision", "status", "error", "created_at", "val_loss_even", "val_loss_odd",
]
_WRITTEN = [c for c in RUN_COLUMNS if c != "created_at"]  # created_at is the database's now()


class Runs(Database):
    def cached_ids(self, run_ids: list[str]) -> set[str]:
        """Runs already trained (ok or diverged); failed runs are not cached and will be retried."""
        if not run_ids:
            return set()
        with self.connect() as con:
            rows = con.execute(
                "SELECT run_id FROM runs WHERE status <> 'failed' AND list_contains(?, run_id)", [list(run_ids)]
            ).fetchall()
        return {r[0] for r in rows}

    def add_results(self, results, owner: str | None = None) -> None:
        """Write finished runs (and their curves) and take them off the queue, in one transaction."""
        if not results:
            return
        rows, curve_rows, ids = [], [], []
        for r in results:
            c = r.config
            ids.append(c.run_id)
            rows.append([
                c.run_id, config.PROTOCOL, c.dataset, c.width_step, c.width, c.dropout, c.data_fraction, c.seed,
                c.lr_rule, c.lr_mult, c.epochs, c.batch_size, c.params, c.examples, c.flops, _num(r.val_loss),
                _num(r.val_acc), _num(r.train_loss), r.wall_s, r.device, r.device_type, r.precision, r.status, r.error,
                *map(_num, r.val_loss_halves),
            ])
            per_example = c.flops / c.examples
            curve_rows += [[c.run_id, ex, per_example * ex, _num(vl), _num(va)] for ex, vl, va in r.curve]

        def tx(con):
            # Replace a failed attempt; never overwrite a result: if two workers ever trained the
            # same config, the first result stays.
            con.execute("DELETE FROM curves WHERE run_id IN (SELECT run_id FROM runs WHERE status = 'failed' "
                        "AND list_contains(?, run_id))", [ids])
            con.execute("DELETE FROM runs WHERE status = 'failed' AND list_contains(?, run_id)", [ids])
            insert_rows(con, f"INSERT OR IGNORE INTO runs ({', '.join(_WRITTEN)}, created_at) VALUES",
                        f"({', '.join('?' * len(_WRITTEN))}, now())", rows)
            insert_rows(con, "INSERT OR IGNORE INTO curves VALUES", "(?, ?, ?, ?, ?)", curve_rows)
            con.execute("DELETE FROM queue WHERE list_contains(?, run_id)", [ids])

        self.transact(tx)

    def runs(self, status: str | None = "ok", con=None) -> pd.DataFrame:
        """Cached runs as a DataFrame (status None: every run), one row each, columns RUN_COLUMNS;
        on `con` when given (a read that shares its transaction with another)."""
        if con is None:
            with self.connect() as con:
                return self.runs(status, con)
        where, args = ("WHERE status = ?", [status]) if status else ("", [])
        return con.execute(f"SELECT {', '.join(RUN_COLUMNS)} FROM runs {where} ORDER BY flops, run_id", args).df()

    def curves(self) -> pd.DataFrame:
        with self.connect() as con:
            return con.execute("SELECT * FROM curves ORDER BY run_id, examples").df()

    def delete_runs(self, run_ids: list[str]) -> int:
        ids = list(run_ids)

        def tx(con):
            n = con.execute("SELECT count(*) FROM runs WHERE list_contains(?, run_id)", [ids]).fetchone()[0]
            con.execute("DELETE FROM curves WHERE list_contains(?, run_id)", [ids])
            con.execute("DELETE FROM runs WHERE list_contains(?, run_id)", [ids])
            return n

        return self.transact(tx)


def _num(x):
    """NaN/inf are stored as NULL: a diverged run's loss is unknown, not a number to average."""
    x = float(x)
    return x if x == x and abs(x) != float("inf") else None
