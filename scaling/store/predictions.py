"""Predictions written down before the runs train, and scored against them as they land."""
from __future__ import annotations

import pandas as pd

from scaling.store.db import Database, insert_rows

LOSS = "val_loss"  # the quantity of a run's own prediction; a plan's target row has run_id ''
COLUMNS = ["plan_id", "run_id", "quantity", "estimate", "lo", "hi", "level", "basis", "now_estimate", "now_lo",
           "now_hi"]


class Predictions(Database):
    """The predictions table: one row per planned run (its loss) and one per plan (its target)."""

    def record_predictions(self, rows: list[dict]) -> int:
        """Write rows (COLUMNS; missing ones NULL) stamped now; a (plan, run, quantity) already written is kept."""
        values = [[r.get(c) for c in COLUMNS] for r in rows]

        def tx(con):
            insert_rows(con, f"INSERT OR IGNORE INTO predictions ({', '.join(COLUMNS)}, created_at) VALUES",
                        f"({', '.join('?' * len(COLUMNS))}, now())", values)
            return len(values)

        return self.transact(tx) if values else 0

    def scored_predictions(self) -> pd.DataFrame:
        """Every prediction, oldest first, with its run's result where it has landed: observed (the
        run's loss, status ok), inside (within [lo, hi]) and log_error (ln observed/estimate)."""
        with self.connect() as con:
            return con.execute(
                "SELECT p.plan_id, p.run_id, p.quantity, p.estimate, p.lo, p.hi, p.level, p.basis, p.now_estimate, "
                "p.now_lo, p.now_hi, p.created_at, r.status AS run_status, r.created_at AS landed_at, "
                "CASE WHEN r.status = 'ok' THEN r.val_loss END AS observed, "
                "CASE WHEN r.status = 'ok' THEN r.val_loss BETWEEN p.lo AND p.hi END AS inside, "
                "CASE WHEN r.status = 'ok' AND r.val_loss > 0 THEN ln(r.val_loss / p.estimate) END AS log_error "
                "FROM predictions p LEFT JOIN runs r ON r.run_id = p.run_id AND p.quantity = ? "
                "ORDER BY p.created_at, p.plan_id, p.run_id", [LOSS]).df()
