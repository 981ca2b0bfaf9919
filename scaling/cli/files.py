"""The `scaling` command's files: the database a read opens (never created by it), the file an
export writes (all or nothing, never over the database it reads), and OS errors as one line."""
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from pathlib import Path

from scaling.store import Store, StoreError
from scaling.store.db import db_path


def read_store(db: str | None, what: str = "") -> Store:
    """The database a read command (runs, fit, export) reads, or StoreError naming the path: a read
    never creates one (a mistyped --db would leave an empty database and its folders behind)."""
    path = db_path(db)
    if not path.exists():
        raise StoreError(f"{what}{path}: no such database (a mistyped --db or $SCALING_DB?); nothing was created")
    return Store(path)


def check_not_the_database(output: str, db: Path) -> None:
    """An export written over the database it reads (or its WAL) would replace the whole cache: refused,
    through symlinks and relative paths too."""
    for target in (db, db.with_name(db.name + ".wal")):
        if _same_file(output, target):
            raise ValueError(f"-o {output}: that is the database this export reads ({db}); nothing was written: "
                             "export to another file")


def _same_file(a, b) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): where they would be
        return os.path.realpath(a) == os.path.realpath(b)


def write_file(output: str, data: bytes) -> None:
    """`data` at `output`, all or nothing: written to a temporary file beside it and renamed over it,
    so a failed write (a full disk) leaves the old file as it was and no stub; ValueError naming -o."""
    target = os.path.realpath(output)  # through a symlink, as open() writes: the link stays
    tmp = os.path.join(os.path.dirname(target), f".{os.path.basename(target)}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as with open()
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if os.path.isfile(target):
            shutil.copymode(target, tmp)  # an export written again keeps its permissions
        os.replace(tmp, target)
    except BaseException as e:  # interrupted too: no temporary file is left behind
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise ValueError(f"-o {output}: {e.strerror or e}") from None
        raise


def os_error(e: OSError) -> str:
    """An OSError as one line: the file and the OS's words (a full disk, a name too long)."""
    where = e.filename if e.filename is not None else ""
    return f"{where}: {e.strerror}" if where and e.strerror else (e.strerror or str(e))


def read_table(path: str, flag: str = "--csv"):
    """A CSV table for a fit, or one line naming the flag and the file: missing, unreadable, empty."""
    import pandas as pd

    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as e:
        raise ValueError(f"{flag} {path}: {e}") from None
    if table.empty:
        raise ValueError(f"{flag} {path}: no rows (a header only?)")
    return table
