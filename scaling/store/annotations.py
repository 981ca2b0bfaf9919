"""What a researcher writes about runs and sweeps: a run excluded from every fit (with the reason),
a note on a run or a sweep, and the grid a sweep asked for (so a stopped sweep can be queued again).

An excluded run keeps its row and its real status in the runs table; every read of runs
(Runs.runs) reports it with status 'excluded' and the reason in the column `excluded`, so every
fit, which keeps status 'ok' only, leaves it out, and every table that lists it says why.
"""
from __future__ import annotations

import json

import pandas as pd

from scaling.core.config import RunConfig
from scaling.store.db import Database

EXCLUDED = "excluded"   # the status an excluded ok run is read with
NOTE_COLUMNS = ["excluded", "note"]
MAX_TEXT = 2000         # a reason or a note: a few sentences, not a file


def runs_sql(columns: list[str], status: str | None) -> tuple[str, list]:
    """The SELECT of every run's `columns` with its annotations: status 'excluded' for an excluded ok
    run, then the columns `excluded` (the reason) and `note`; only `status` (as read) when given."""
    cols = ", ".join(f"CASE WHEN a.excluded IS NOT NULL AND r.status = 'ok' THEN '{EXCLUDED}' ELSE r.status END AS status"
                     if c == "status" else f"r.{c}" for c in columns)
    sql = f"SELECT {cols}, a.excluded, a.note FROM runs r LEFT JOIN run_notes a USING (run_id)"
    return (f"SELECT * FROM ({sql}) WHERE status = ? ORDER BY flops, run_id", [status]) if status else \
        (f"{sql} ORDER BY r.flops, r.run_id", [])


def clean_text(text, what: str, required: bool = False) -> str | None:
    """A reason or a note as stored: stripped, None when empty (an error when `required`), at most MAX_TEXT."""
    text = "" if text is None else str(text).strip()
    if not text:
        if required:
            raise ValueError(f"{what}: give a reason in a few words (it is shown wherever the run appears)")
        return None
    if len(text) > MAX_TEXT:
        raise ValueError(f"{what}: {len(text)} characters, at most {MAX_TEXT}")
    return text


class Annotations(Database):
    """Exclusions and notes of runs, notes of sweeps, the grids of sweeps."""

    def _known(self, con, run_ids: list[str]) -> None:
        have = {r[0] for r in con.execute("SELECT run_id FROM runs WHERE list_contains(?, run_id)", [run_ids]).fetchall()}
        missing = [r for r in run_ids if r not in have]
        if missing:
            raise ValueError(f"no cached run {missing[0]!r} in {self.path}" +
                             (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "") + "; nothing was changed")

    def _set(self, run_ids, field: str, value) -> int:
        ids = list(dict.fromkeys(run_ids))

        def tx(con):
            self._known(con, ids)
            con.execute("INSERT OR IGNORE INTO run_notes (run_id, updated_at) SELECT unnest(?::VARCHAR[]), now()", [ids])
            con.execute(f"UPDATE run_notes SET {field} = ?, updated_at = now() WHERE list_contains(?, run_id)", [value, ids])
            con.execute("DELETE FROM run_notes WHERE excluded IS NULL AND note IS NULL")
            return len(ids)

        return self.transact(tx)

    def exclude(self, run_ids, reason: str) -> int:
        """Leave these runs out of every fit, for `reason` (required); returns how many."""
        return self._set(run_ids, "excluded", clean_text(reason, "the reason", required=True))

    def include(self, run_ids) -> int:
        """Undo exclude: the runs count in fits again (their notes stay)."""
        return self._set(run_ids, "excluded", None)

    def note_runs(self, run_ids, note: str) -> int:
        """A note on these runs (empty: removed)."""
        return self._set(run_ids, "note", clean_text(note, "the note"))

    def run_notes(self) -> pd.DataFrame:
        """Every annotated run: run_id, excluded (the reason, or None), note, updated_at."""
        with self.connect() as con:
            return con.execute("SELECT run_id, excluded, note, updated_at FROM run_notes ORDER BY run_id").df()

    def note_sweep(self, sweep_id: str, note: str) -> None:
        """A note on a sweep (empty: removed)."""
        text = clean_text(note, "the note")

        def tx(con):
            if not con.execute("SELECT 1 FROM sweeps WHERE sweep_id = ?", [sweep_id]).fetchone():
                raise ValueError(f"no sweep {sweep_id!r} in {self.path}; nothing was changed")
            con.execute("DELETE FROM sweep_notes WHERE sweep_id = ?", [sweep_id])
            if text:
                con.execute("INSERT INTO sweep_notes VALUES (?, ?, now())", [sweep_id, text])

        self.transact(tx)

    def past_sweeps(self, limit: int = 50) -> pd.DataFrame:
        """The newest sweeps: sweep_id, label, created_at, runs (in the grid), done (cached and not
        failed), queued (waiting or training), note, has_grid (its configurations were recorded)."""
        with self.connect() as con:
            return con.execute(
                "SELECT s.sweep_id, s.label, s.created_at, len(s.run_ids) AS runs, "
                "(SELECT count(*) FROM runs r WHERE r.status <> 'failed' AND list_contains(s.run_ids, r.run_id)) AS done, "
                "(SELECT count(*) FROM queue q WHERE list_contains(s.run_ids, q.run_id)) AS queued, "
                "n.note, g.sweep_id IS NOT NULL AS has_grid "
                "FROM sweeps s LEFT JOIN sweep_notes n USING (sweep_id) LEFT JOIN sweep_grids g USING (sweep_id) "
                "ORDER BY s.created_at DESC LIMIT ?", [limit]).df()

    def sweep_configs(self, sweep_id: str) -> list[RunConfig] | None:
        """The configurations a sweep asked for (None: it was queued before they were recorded)."""
        with self.connect() as con:
            row = con.execute("SELECT configs FROM sweep_grids WHERE sweep_id = ?", [sweep_id]).fetchone()
        return None if row is None else [RunConfig.from_dict(d) for d in json.loads(row[0])]


def with_exclusions(runs: pd.DataFrame, notes: pd.DataFrame | None) -> pd.DataFrame:
    """Runs read from a file with its annotations (run_id, excluded, note) joined as a database read
    joins them (runs_sql): the columns `excluded` and `note`, and status 'excluded' for an excluded ok run."""
    out = runs.drop(columns=[c for c in NOTE_COLUMNS if c in runs.columns])
    notes = notes if notes is not None and len(notes) else pd.DataFrame(columns=["run_id", *NOTE_COLUMNS])
    out = out.merge(notes[["run_id", *NOTE_COLUMNS]].astype(object), on="run_id", how="left")
    out.loc[out["excluded"].notna() & (out["status"] == "ok"), "status"] = EXCLUDED
    return out


def record_grid(con, sweep_id: str, configs: list[RunConfig]) -> None:
    """Keep the configurations of a sweep being queued (in its transaction)."""
    con.execute("INSERT INTO sweep_grids VALUES (?, ?)", [sweep_id, json.dumps([c.to_dict() for c in configs])])


def import_notes(con, notes: pd.DataFrame | None, run_ids: list[str]) -> int:
    """An export's annotations of `run_ids` (run_id, excluded, note), written where this cache has none
    of its own for that field (in the import's transaction); returns the runs annotated."""
    if notes is None or not len(notes):
        return 0
    notes = notes[notes["run_id"].isin(set(run_ids))]
    n = 0
    for rid, excluded, note in notes[["run_id", *NOTE_COLUMNS]].itertuples(index=False):
        excluded, note = (None if pd.isna(v) or not str(v).strip() else str(v)[:MAX_TEXT] for v in (excluded, note))
        if excluded is None and note is None:
            continue
        con.execute("INSERT INTO run_notes (run_id, excluded, note, updated_at) VALUES (?, ?, ?, now()) "
                    "ON CONFLICT (run_id) DO UPDATE SET excluded = coalesce(run_notes.excluded, EXCLUDED.excluded), "
                    "note = coalesce(run_notes.note, EXCLUDED.note)", [rid, excluded, note])
        n += 1
    return n
