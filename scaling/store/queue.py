"""The run queue and the sweeps that fill it: enqueue, claim, heartbeat, cancel, progress.

A claim is a transaction, so each queued config is trained by one worker; a claim whose owner
died (a pid gone or a zombie on this host, or no heartbeat for STALE_S) goes back to the queue.
"""
from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field

import pandas as pd

from scaling.core import settings
from scaling.core.config import RunConfig, with_pretraining
from scaling.store.annotations import record_grid
from scaling.store.db import Database, StoreError, insert_rows

MAX_QUEUE = 10_000  # runs waiting at once, all users together; $SCALING_MAX_QUEUE overrides it
STALE_S = 3600  # a running claim with no heartbeat for this long is retried, whoever held it


class QueueFull(StoreError):
    """The queue is at its cap; nothing was queued."""


@dataclass(frozen=True)
class QueueCounts:
    """How many runs the queue holds (Queue.queue_counts).

    Attributes
    ----------
    queued : int
        Runs waiting for a worker.
    running : int
        Runs a worker has claimed and is training.
    """

    queued: int
    running: int


@dataclass(frozen=True)
class SweepRows:
    """Where one sweep's runs stand (Queue.sweep_rows): what its progress and ETA are built from.

    Attributes
    ----------
    queued : int
        The sweep's runs still waiting for a worker.
    running : list of (RunConfig, float)
        Each run training now, with the seconds since it was claimed.
    done : dict of str to int
        Status ("ok", "diverged", "failed") to the count of the sweep's runs already in the runs table.
    waiting : list of RunConfig
        The config of each queued run (what an ETA sums).
    """

    queued: int
    running: list
    done: dict
    waiting: list = field(default_factory=list)


def queue_cap() -> int:
    """The most runs the queue may hold: $SCALING_MAX_QUEUE, else MAX_QUEUE."""
    return settings.positive(settings.MAX_QUEUE, MAX_QUEUE, "the queue cap", StoreError)


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie. A worker killed while its parent (the
    app's server) lives on, or whose parent died too under an init that does not reap (PID 1 of
    many containers), stays a zombie that os.kill(pid, 0) still finds: it is dead all the same."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rpartition(b")")[2].split()[0]  # the field after the (command name)
        return state not in (b"Z", b"X")
    except (OSError, IndexError):  # no /proc (macOS), or the process went away meanwhile
        return True


def _alive(owner: str) -> bool:
    """Whether a queue owner may still be working: always true for another host (the heartbeat
    decides there), else whether its pid is still a live process."""
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    return pid_alive(int(pid))


class Queue(Database):
    """The run queue and the sweeps that fill it: enqueue, claim, heartbeat, cancel, progress."""

    def enqueue(self, configs: list[RunConfig], label: str = "", max_queue: int | None = None) -> tuple[str, int, int]:
        """Queue the configs not cached nor queued yet; record the sweep. Returns (sweep id,
        cached, newly queued). A config already queued by someone else is trained once, for both.
        Refuses (queues nothing) when the queue would grow past `max_queue` (default: queue_cap())."""
        from uuid import uuid4

        max_queue = queue_cap() if max_queue is None else max_queue
        configs = with_pretraining(configs)  # deduplicated, the pre-training runs first
        ids = [c.run_id for c in configs]
        sweep = uuid4().hex[:12]

        def tx(con):
            cached = {r[0] for r in con.execute(
                "SELECT run_id FROM runs WHERE status <> 'failed' AND list_contains(?, run_id)", [ids]).fetchall()}
            queued = {r[0] for r in con.execute("SELECT run_id FROM queue WHERE list_contains(?, run_id)", [ids]).fetchall()}
            new = [c for c in configs if c.run_id not in cached and c.run_id not in queued]
            waiting = con.execute("SELECT count(*) FROM queue").fetchone()[0]
            if new and waiting + len(new) > max_queue:
                raise QueueFull(f"the queue holds {waiting} runs; {len(new)} more would pass its cap of {max_queue}: "
                                "wait for it to drain or cancel a sweep")
            # a fine-tuning run's pre-training is queued a second earlier: claims take the oldest first
            pre = {c.pretraining.run_id for c in configs if c.pretraining}
            for first, when in ((True, "now() - INTERVAL 1 SECOND"), (False, "now()")):
                part = [c for c in new if (c.run_id in pre) == first]
                insert_rows(con, "INSERT OR IGNORE INTO queue (run_id, config, stack, status, owner, heartbeat, "
                            "enqueued_at, attempts) VALUES", f"(?, ?, ?, 'queued', NULL, NULL, {when}, 0)",
                            [[c.run_id, json.dumps(c.to_dict()), repr(c.stack_key)] for c in part])
            con.execute("INSERT INTO sweeps VALUES (?, ?, now(), ?)", [sweep, label, ids])
            record_grid(con, sweep, configs)
            return sweep, len(cached), len(new)

        return self.transact(tx)

    def claim(self, owner: str, max_models: int, run_ids: list[str] | None = None) -> list[RunConfig]:
        """Take a stack of queued runs (one width: see RunConfig.stack_key; oldest first; only `run_ids` if
        given) for `owner`. Claims whose owner died go back to the queue first, so a killed
        worker's runs are trained again."""
        only, args = ("AND list_contains(?, run_id)", [list(run_ids)]) if run_ids is not None else ("", [])

        def tx(con):
            for run_id, who, beat in con.execute("SELECT run_id, owner, heartbeat FROM queue WHERE status = 'running'").fetchall():
                stale = beat is None or (time.time() - beat.timestamp()) > STALE_S
                if stale or not _alive(who):
                    con.execute("UPDATE queue SET status = 'queued', owner = NULL WHERE run_id = ?", [run_id])
            first = con.execute(
                f"SELECT stack FROM queue WHERE status = 'queued' {only} ORDER BY enqueued_at, run_id LIMIT 1", args).fetchone()
            if not first:
                return []
            rows = con.execute(
                f"SELECT run_id, config FROM queue WHERE status = 'queued' AND stack = ? {only} "
                "ORDER BY enqueued_at, run_id LIMIT ?", [first[0], *args, max_models],
            ).fetchall()
            con.execute(
                "UPDATE queue SET status = 'running', owner = ?, heartbeat = now(), claimed_at = now(), "
                "attempts = attempts + 1 "
                "WHERE list_contains(?, run_id)", [owner, [r[0] for r in rows]],
            )
            return [RunConfig.from_dict(json.loads(r[1])) for r in rows]

        return self.transact(tx)

    def heartbeat(self, owner: str) -> None:
        self.transact(lambda con: con.execute("UPDATE queue SET heartbeat = now() WHERE owner = ?", [owner]))

    def unclaim(self, run_ids: list[str]) -> None:
        """Put claimed runs back (a worker stopping cleanly, or splitting a stack)."""
        self.transact(lambda con: con.execute(
            "UPDATE queue SET status = 'queued', owner = NULL WHERE list_contains(?, run_id)", [list(run_ids)]))

    def cancel(self, run_ids: list[str] | None = None) -> int:
        """Drop queued (not running) runs: those given, or all."""
        where = "status = 'queued'" + (" AND list_contains(?, run_id)" if run_ids is not None else "")
        args = [list(run_ids)] if run_ids is not None else []

        def tx(con):
            n = con.execute(f"SELECT count(*) FROM queue WHERE {where}", args).fetchone()[0]
            con.execute(f"DELETE FROM queue WHERE {where}", args)
            return n

        return self.transact(tx)

    def queue_counts(self, run_ids: list[str] | None = None) -> QueueCounts:
        with self.connect() as con:
            where, args = ("WHERE list_contains(?, run_id)", [list(run_ids)]) if run_ids is not None else ("", [])
            rows = dict(con.execute(f"SELECT status, count(*) FROM queue {where} GROUP BY status", args).fetchall())
        return QueueCounts(queued=rows.get("queued", 0), running=rows.get("running", 0))

    def queued_ids(self, run_ids: list[str], con=None) -> set[str]:
        """Those of `run_ids` waiting in the queue or being trained now, by anyone."""
        if con is None:
            with self.connect() as con:
                return self.queued_ids(run_ids, con)
        rows = con.execute("SELECT run_id FROM queue WHERE list_contains(?, run_id)", [list(run_ids)]).fetchall()
        return {r[0] for r in rows}

    def waiting_ids(self, con) -> frozenset[str]:
        """Every run waiting in the queue or being trained now, by anyone (read with the runs: Store.snapshot)."""
        return frozenset(r[0] for r in con.execute("SELECT run_id FROM queue").fetchall())

    def sweep_rows(self, run_ids: list[str], con=None) -> SweepRows:
        """Where a sweep's runs are, in one short read: the queue's rows and the finished counts."""
        ids = list(run_ids)
        if con is None:
            with self.connect() as con:
                return self.sweep_rows(ids, con)
        # elapsed from the claim: the heartbeat is renewed every minute while a stack trains
        q = con.execute("SELECT status, config, epoch(now()) - epoch(coalesce(claimed_at, heartbeat)) FROM queue "
                        "WHERE list_contains(?, run_id)", [ids]).fetchall()
        done = con.execute("SELECT status, count(*) FROM runs WHERE list_contains(?, run_id) GROUP BY status",
                           [ids]).fetchall()
        running = [(RunConfig.from_dict(json.loads(c)), s) for st, c, s in q if st == "running"]
        waiting = [RunConfig.from_dict(json.loads(c)) for st, c, _ in q if st == "queued"]
        return SweepRows(queued=len(waiting), running=running, done=dict(done), waiting=waiting)

    def active_sweeps(self, con=None, limit: int = 20) -> list[tuple[str, str]]:
        """(sweep id, label) of the sweeps with runs still queued or training, newest first. A sweep
        whose waiting runs all belong to a newer one (a cancelled grid queued again) is that newer
        sweep: it is listed once."""
        sql = ("SELECT s.sweep_id, any_value(s.label), list(s.r) FROM "
               "(SELECT sweep_id, label, created_at, unnest(run_ids) AS r FROM sweeps) s JOIN queue q ON q.run_id = s.r "
               "GROUP BY s.sweep_id ORDER BY max(s.created_at) DESC LIMIT ?")
        if con is None:
            with self.connect() as con:
                return self.active_sweeps(con, limit)
        out, covered = [], set()
        for sid, label, waiting in con.execute(sql, [limit]).fetchall():
            if not set(waiting) <= covered:
                out.append((sid, label or ""))
            covered |= set(waiting)
        return out

    def sweeps(self) -> pd.DataFrame:
        with self.connect() as con:
            return con.execute("SELECT sweep_id, label, created_at, len(run_ids) AS runs FROM sweeps ORDER BY created_at DESC").df()

    def sweep_run_ids(self, sweep_id: str, con=None) -> list[str]:
        if con is None:
            with self.connect() as con:
                return self.sweep_run_ids(sweep_id, con)
        row = con.execute("SELECT run_ids FROM sweeps WHERE sweep_id = ?", [sweep_id]).fetchone()
        if row is None:
            raise StoreError(f"no sweep {sweep_id!r} in {self.path}")
        return list(row[0])

    def sweep_state(self, sweep_id: str) -> tuple[list[str], SweepRows]:
        """A sweep's run ids and where they are (sweep_rows), in one connection: a page asks for it
        on every run while a sweep trains, and opening the file costs more than the two reads."""
        with self.connect() as con:
            ids = self.sweep_run_ids(sweep_id, con)
            return ids, self.sweep_rows(ids, con)
