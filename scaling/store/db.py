"""Opening the DuckDB file: locking, the schema and its migrations, integrity checks.

DuckDB lets one process hold a database file at a time (a second cannot even open it read-only),
so nothing here keeps a connection: every call opens the file, does one short transaction and
closes it, retrying while another process holds the lock. The app, its worker and terminal sweeps
can then share one file, and a crash loses nothing that was committed.
"""
from __future__ import annotations

import os
import random
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import duckdb

from scaling.core import settings
from scaling.core.paths import default_db
from scaling.store.identity import canonical_ids

SCHEMA_VERSION = 9


def add_lr_schedule(con) -> None:
    """Migration 9's column, added only where missing: DuckDB has no ADD COLUMN IF NOT EXISTS for a NOT
    NULL column, and a file whose version row was set back runs the migration again."""
    cols = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'runs'").fetchall()}
    if "lr_schedule" not in cols:
        con.execute("ALTER TABLE runs ADD COLUMN lr_schedule VARCHAR NOT NULL DEFAULT 'constant'")

DEFAULT_DB = default_db()

# Ordered migrations: MIGRATIONS[i] takes the schema from version i to i + 1: SQL, or a function of
# the connection. Never edit one that has shipped; append a new one.
MIGRATIONS = [
    """
    CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
    CREATE TABLE runs (
        run_id VARCHAR PRIMARY KEY, protocol INTEGER NOT NULL,
        dataset VARCHAR NOT NULL, width_step INTEGER NOT NULL, width INTEGER NOT NULL,
        dropout DOUBLE NOT NULL, data_fraction DOUBLE NOT NULL, seed INTEGER NOT NULL,
        lr_rule VARCHAR NOT NULL, lr_mult DOUBLE NOT NULL, epochs INTEGER NOT NULL, batch_size INTEGER NOT NULL,
        params BIGINT NOT NULL, examples BIGINT NOT NULL, flops DOUBLE NOT NULL,
        val_loss DOUBLE, val_acc DOUBLE, train_loss DOUBLE, wall_s DOUBLE,
        device VARCHAR, status VARCHAR NOT NULL, error VARCHAR, created_at TIMESTAMP NOT NULL
    );
    CREATE TABLE curves (
        run_id VARCHAR NOT NULL, examples BIGINT NOT NULL, flops DOUBLE NOT NULL,
        val_loss DOUBLE, val_acc DOUBLE, PRIMARY KEY (run_id, examples)
    );
    CREATE TABLE queue (
        run_id VARCHAR PRIMARY KEY, config VARCHAR NOT NULL, stack VARCHAR NOT NULL,
        status VARCHAR NOT NULL, owner VARCHAR, heartbeat TIMESTAMP, enqueued_at TIMESTAMP NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE sweeps (
        sweep_id VARCHAR PRIMARY KEY, label VARCHAR, created_at TIMESTAMP NOT NULL, run_ids VARCHAR[] NOT NULL
    );
    """,
    # 2: the precision and the device type a run trained in, which fix its family. Runs written
    # before were fp32 on the CPU and bf16 autocast on CUDA (the device column names the GPU).
    """
    ALTER TABLE runs ADD COLUMN device_type VARCHAR;
    ALTER TABLE runs ADD COLUMN precision VARCHAR;
    UPDATE runs SET device_type = CASE WHEN device IS NULL OR device LIKE 'cpu%' THEN 'cpu' ELSE 'cuda' END;
    UPDATE runs SET precision = CASE WHEN device_type = 'cuda' THEN 'bf16' ELSE 'fp32' END;
    """,
    # 3: the loss on the even- and odd-numbered test images (NULL for runs written before), to
    # measure how optimistic a choice made on the reported set is; when a queued run was claimed
    # (its heartbeat is renewed while it trains, so it cannot say how long it has run)
    """
    ALTER TABLE runs ADD COLUMN val_loss_even DOUBLE;
    ALTER TABLE runs ADD COLUMN val_loss_odd DOUBLE;
    ALTER TABLE queue ADD COLUMN claimed_at TIMESTAMP;
    """,
    # 4: where a run came from when it was not trained here (`scaling import`, the shipped grid):
    # NULL for runs trained by this cache's workers, so every run written before reads unchanged;
    # and the host that trained it (a Ray node, say): NULL for the runs written before
    """
    ALTER TABLE runs ADD COLUMN imported_from VARCHAR;
    ALTER TABLE runs ADD COLUMN host VARCHAR;
    """,
    # 5: the study axes (config.STUDY_DEFAULTS: every run written before has the defaults, and its
    # run_id, which leaves defaults out, is unchanged); and the final weights of the runs a
    # fine-tuning run starts from (config.RunConfig.keeps_weights), as train.save_weights' bytes
    """
    ALTER TABLE runs ADD COLUMN label_noise DOUBLE NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN arch VARCHAR NOT NULL DEFAULT 'cnn';
    ALTER TABLE runs ADD COLUMN classes VARCHAR NOT NULL DEFAULT '';
    ALTER TABLE runs ADD COLUMN pretrain_classes VARCHAR NOT NULL DEFAULT '';
    ALTER TABLE runs ADD COLUMN pretrain_fraction DOUBLE NOT NULL DEFAULT 1;
    ALTER TABLE runs ADD COLUMN pretrain_epochs INTEGER NOT NULL DEFAULT 1;
    CREATE TABLE weights (run_id VARCHAR PRIMARY KEY, weights BLOB NOT NULL);
    """,
    # 6: one row per configuration: the rows an older version stored under a second run_id (-0.0,
    # digits of another script) move to their canonical id, merged with the row there (identity.py)
    canonical_ids,
    # 7: what a researcher writes (annotations.py): a run's exclusion from every fit (its reason; NULL:
    # included) and note, a sweep's note; and the configurations a sweep asked for, as JSON (none for
    # the sweeps queued before: only their cached runs are known). IF NOT EXISTS: a file whose version
    # row was set back (an older file rebuilt by the tests) runs it again
    """
    CREATE TABLE IF NOT EXISTS run_notes (run_id VARCHAR PRIMARY KEY, excluded VARCHAR, note VARCHAR, updated_at TIMESTAMP NOT NULL);
    CREATE TABLE IF NOT EXISTS sweep_notes (sweep_id VARCHAR PRIMARY KEY, note VARCHAR NOT NULL, updated_at TIMESTAMP NOT NULL);
    CREATE TABLE IF NOT EXISTS sweep_grids (sweep_id VARCHAR PRIMARY KEY, configs VARCHAR NOT NULL);
    """,
    # 8: predictions written down before the runs train (the planner): each planned run's loss with its
    # interval (quantity 'val_loss'), and the plan's target after the batch (run_id '', quantity its name)
    """
    CREATE TABLE IF NOT EXISTS predictions (
        plan_id VARCHAR NOT NULL, run_id VARCHAR NOT NULL, quantity VARCHAR NOT NULL,
        estimate DOUBLE, lo DOUBLE, hi DOUBLE, level DOUBLE NOT NULL, basis VARCHAR,
        now_estimate DOUBLE, now_lo DOUBLE, now_hi DOUBLE, created_at TIMESTAMP NOT NULL,
        PRIMARY KEY (plan_id, run_id, quantity)
    );
    """,
    # 9: the lr schedule, a study axis (config.LR_SCHEDULES): every run written before was 'constant'
    add_lr_schedule,
]
# the tables every version from 1 on has (weights from 5 on): a file without one was damaged by hand
TABLES = ("meta", "runs", "curves", "queue", "sweeps")

_WRITERS: dict[Path, threading.RLock] = defaultdict(threading.RLock)  # per database file, in this process


class StoreError(RuntimeError):
    """The database cannot be used; the message names the file and what to do."""



def db_path(path: str | os.PathLike | None = None) -> Path:
    """The database file a command uses: `path` (--db), else $SCALING_DB, else the default."""
    return Path(path or settings.db() or DEFAULT_DB)


class Database:
    """One database file: every call opens it, runs one transaction and closes it.

    Attributes
    ----------
    path : pathlib.Path
        The file (db_path: the argument, else $SCALING_DB, else the default).
    timeout : float
        Seconds to wait for another process's lock before giving up with a StoreError.
    """

    def __init__(self, path: str | os.PathLike | None = None, timeout: float = 120.0):
        self.path = db_path(path)
        self.timeout = timeout
        self._check_file()
        self._migrated = False
        self._verified = False  # every table read back once before this Store's first write

    def _check_file(self) -> None:
        p = self.path
        if p.is_dir():
            raise StoreError(f"{p} is a directory, not a database file: pass --db path/to/runs.duckdb")
        if p.exists() and p.stat().st_size > 0:
            with open(p, "rb") as f:
                head = f.read(12)
            if head[8:12] != b"DUCK":
                raise StoreError(f"{p} is not a DuckDB database file; it was left untouched: "
                                 "pass another --db path (or SCALING_DB)")
        elif not p.parent.exists():
            p.parent.mkdir(parents=True, exist_ok=True)

    def signature(self) -> tuple:
        """(mtime, size) of the database file and its WAL: every commit changes one of them and a
        read changes neither, so an unchanged signature means cached reads are still current."""
        out = []
        for p in (self.path, self.path.with_name(self.path.name + ".wal")):
            try:
                st = p.stat()
                out.append((st.st_mtime_ns, st.st_size))
            except FileNotFoundError:
                out.append(None)
        return tuple(out)

    @property
    def read_only(self) -> bool:
        """A file without write permission bits is opened read-only, even by root (who could
        write anyway): the owner's chmod is taken as intent."""
        return self.path.exists() and not (self.path.stat().st_mode & 0o222 and os.access(self.path, os.W_OK))

    def _open(self):
        """A connection, waiting (up to `timeout`) while another process holds the file's lock."""
        deadline = time.monotonic() + self.timeout
        delay = 0.01
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=self.read_only)
            except duckdb.IOException as e:
                if "lock" not in str(e).lower():
                    raise self._damaged(e, "cannot open") from None
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"cannot open {self.path}: {str(e).splitlines()[0]} (another process held it for "
                        f"{self.timeout:g} s: a long query in another program? close it and retry)") from None
            except duckdb.Error as e:
                raise self._damaged(e, "cannot open") from None
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 0.5)

    @contextmanager
    def connect(self):
        """One transaction on a fresh connection, closed at the end: nothing holds the file between calls."""
        con = self._open()
        try:
            if not self._migrated:
                self._migrate(con)
            con.execute("BEGIN TRANSACTION")
            yield con
            con.execute("COMMIT")
        except BaseException as e:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:  # no transaction open (the failure came before BEGIN)
                pass
            if self.read_only and isinstance(e, duckdb.Error) and "read-only" in str(e):
                raise StoreError(f"{self.path} is read-only: results cannot be saved; make it writable "
                                 "(chmod u+w) or pass another --db path") from None
            if isinstance(e, duckdb.IOException) or (isinstance(e, duckdb.Error) and (_damage(e) or _disk_full(e))):
                raise self._damaged(e, "cannot use") from None
            raise
        finally:
            con.close()

    def _damaged(self, e: Exception, what: str) -> StoreError:
        """A DuckDB error about the file itself, as one line that names it and says what to do."""
        first = str(e).splitlines()[0]
        if _disk_full(e):  # a failed commit is rolled back: the cache holds what it held before
            return StoreError(f"cannot write {self.path}: {first} (a full disk?); nothing was written by this "
                              "request: free some space and rerun")
        if _damage(e):
            return StoreError(
                f"{what} {self.path}: it is damaged ({first}). The file was left untouched: restore it from a "
                "backup, or move it aside and pass another --db path (or SCALING_DB) to start a new database")
        if what == "cannot open":
            return StoreError(f"{what} {self.path} (written by another DuckDB version, or not a database?): {first}. "
                              "The file was left untouched: pass another --db path (or SCALING_DB)")
        return StoreError(f"{what} {self.path}: {first} (nothing was written by this request)")

    def transact(self, fn):
        """fn(con) in one write transaction. Writers of one process take turns (the app's sessions
        write from many threads, and DuckDB's optimistic concurrency would make them conflict);
        other processes are kept out by the file lock."""
        with _WRITERS[self.path.resolve()]:
            with self.connect() as con:
                if not self._verified:
                    self._verify(con)
                return fn(con)

    def _verify(self, con) -> None:
        """Read every value of every table once, before this Store's first write: DuckDB checks
        each block's checksum as it reads it, so a damaged or truncated file is refused here
        (unchanged) instead of being partly rewritten by the write. Cheap for this app's tables,
        and once per Store (a worker process writes through one)."""
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()]
        for t in tables:
            con.execute(f'SELECT count(*), max(hash(COLUMNS(*))) FROM "{t}"').fetchall()  # names from the catalog
        self._verified = True

    def _migrate(self, con) -> None:
        with _WRITERS[self.path.resolve()]:
            self._migrate_locked(con)

    def _migrate_locked(self, con) -> None:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        version = self._version(con, tables)
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this Scaling Lab ({SCHEMA_VERSION}): "
                "upgrade the code or pass another --db path; the file was left untouched")
        if version < SCHEMA_VERSION and self.read_only:
            raise StoreError(f"{self.path} is read-only and needs a schema upgrade (v{version} -> v{SCHEMA_VERSION}): make it writable")
        for v in range(version, SCHEMA_VERSION):
            con.execute("BEGIN TRANSACTION")
            if callable(MIGRATIONS[v]):
                MIGRATIONS[v](con)
            else:
                con.execute(MIGRATIONS[v])
            con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(v + 1)])
            con.execute("COMMIT")
        self._migrated = True

    def _version(self, con, tables: set[str]) -> int:
        """The file's schema version (0: a new file), or StoreError where the file cannot be one of
        ours: another program's, or one whose version row or tables were removed or edited."""
        if "meta" not in tables:
            if tables:
                raise StoreError(f"{self.path} is a DuckDB file of another program (tables: {', '.join(sorted(tables))}); pass another --db path")
            return 0
        row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        try:
            version = int(row[0]) if row else 0
        except (TypeError, ValueError):
            version = 0
        untouched = "the file was left untouched: restore it from a backup or pass another --db path"
        if version < 1:  # the first migration writes version 1 with the meta table, in one transaction
            what = f"schema version {row[0]!r}" if row else "no schema version"
            raise StoreError(f"{self.path} has {what} (not one a Scaling Lab writes); {untouched}")
        missing = [t for t in TABLES + (("weights",) if version >= 5 else ()) if t not in tables]
        if missing and version <= SCHEMA_VERSION:
            raise StoreError(f"{self.path}: its {missing[0]} table is missing (schema version {version}); {untouched}")
        return version


def insert_rows(con, head: str, row: str, rows: list, chunk: int = 500) -> None:
    """`head row, row, ...` with every value a `?` parameter: one statement per `chunk` rows, not
    executemany's one per row (docs/performance.md)."""
    for i in range(0, len(rows), chunk):
        part = rows[i : i + chunk]
        con.execute(f"{head} {', '.join([row] * len(part))}", [v for r in part for v in r])


def _disk_full(e: Exception) -> bool:
    """Whether a DuckDB error is a write the file system refused (a full disk, a file size limit)."""
    msg = str(e).lower()
    return "could not write" in msg or "no space left" in msg or "file too large" in msg


def _damage(e: Exception) -> bool:
    """Whether a DuckDB error means the file itself is damaged (checksums, truncation, bad headers)."""
    msg = str(e).lower()
    return any(w in msg for w in ("corrupt", "checksum", "could not read enough bytes", "invalidated", "serializ"))
