"""Say plainly when a disk is full, whatever part of the stack noticed it first.

A full disk reaches us in many spellings: Python's `OSError` with errno ENOSPC (or EDQUOT, a
quota), DuckDB's `Could not write file "…": No space left on device` (an IO error, or a
transaction error when it happens at commit), `failed to offload data block …
max_temp_directory_size` when its spill folder fills, and after a failed commit `cannot
rollback - no transaction is active`, which hides the rest. A file-size limit (`ulimit -f`,
errno EFBIG) stops a write the same way. `reported_when_full` turns any of them into `DiskFull`,
whose message names the folder and its filesystem, the space left, what the step needed (at
least), and what to do.

Any step that writes can use it:

    with reported_when_full("publishing the serving file", serving.parent, needed_bytes=size):
        ...
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
# How DuckDB words a full disk: the system's own text (Linux and macOS; Windows says "There is
# not enough space on the disk"), a short write ('Could not write all bytes to file "…":
# wanted=… wrote=…'), or its spill folder filling up ("failed to offload data block").
DISK_FULL_TEXT = re.compile(
    r"no space left on device|disk quota exceeded|not enough space on the disk|"
    r"could not write all bytes|failed to offload data block",
    re.IGNORECASE,
)
FILE_SIZE_LIMIT_TEXT = re.compile(r"file too large", re.IGNORECASE)
# the file DuckDB was writing, when it says: Could not write file "/data/warehouse.duckdb.wal": …
WRITTEN_FILE = re.compile(r'file "([^"]+)"')
DEFAULT_ADVICE = (
    "Free space on that disk, or set HIGHNEEDS_WAREHOUSE to a folder on a larger one, "
    "then run the refresh again."
)


class DiskFull(OSError):
    """A step could not write because a disk (or a file-size limit) is full.

    `errno` is ENOSPC, or EFBIG for a file-size limit; `folder` is where the write failed,
    `free_bytes` the space left there, `needed_bytes` the step's own estimate of what it needed
    (None when it has none).
    """

    def __init__(
        self,
        message: str,
        code: int,
        folder: Path,
        free_bytes: int | None,
        needed_bytes: int | None,
    ):
        super().__init__(message)
        self.message = message
        self.errno = code
        self.strerror = os.strerror(code)
        self.folder = folder
        self.free_bytes = free_bytes
        self.needed_bytes = needed_bytes

    def __str__(self) -> str:
        return self.message  # not OSError's "[Errno 28] No space left on device"

    def __reduce__(self):  # so it crosses process boundaries (OSError's own takes only args)
        arguments = (self.message, self.errno, self.folder, self.free_bytes, self.needed_bytes)
        return type(self), arguments


def full_disk_errno(error: BaseException) -> int | None:
    """ENOSPC when `error` (or an error it was raised from) says a disk is full, EFBIG when a
    file-size limit stopped the write, else None."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in DISK_FULL_ERRNOS:
            return errno.ENOSPC
        if isinstance(current, OSError) and current.errno == errno.EFBIG:
            return errno.EFBIG
        if isinstance(current, duckdb.Error):
            if DISK_FULL_TEXT.search(str(current)):
                return errno.ENOSPC
            if FILE_SIZE_LIMIT_TEXT.search(str(current)):
                return errno.EFBIG
        current = current.__cause__ or current.__context__
    return None


def database_folder(con: duckdb.DuckDBPyConnection) -> Path:
    """The folder DuckDB writes into: the database file's, or for an in-memory database the
    folder its spill files go to."""
    row = con.execute(
        "SELECT path, current_setting('temp_directory') FROM duckdb_databases() "
        "WHERE database_name = current_database()"
    ).fetchone()
    assert row is not None
    path, temp_directory = row
    return Path(path).resolve().parent if path else Path(temp_directory).resolve().parent


def human_bytes(count: int) -> str:
    """`512 bytes`, `9.5 MiB`, `1.2 TiB`."""
    if count < 1024:
        return f"{count:,} bytes"
    size = count / 1024
    for unit in ("KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def _mount_point(folder: Path) -> Path:
    path = folder
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return path


def _failed_folder(error: BaseException, default: Path) -> Path:
    """Where the write failed: the file the error names, else `default`."""
    if isinstance(error, OSError) and error.filename:
        return Path(error.filename).resolve().parent
    written = WRITTEN_FILE.search(str(error))
    return Path(written.group(1)).resolve().parent if written else default


def disk_full_error(
    error: BaseException,
    step: str,
    folder: Path,
    needed_bytes: int | None = None,
    advice: str = DEFAULT_ADVICE,
) -> DiskFull | None:
    """The DiskFull that says what `error` means, when it is a full disk; else None.

    `step` says what was being done ("loading finance/ledger.csv"); `folder` is where the step
    writes, used when the error itself names no file; `needed_bytes` is the step's estimate.
    """
    code = full_disk_errno(error)
    if code is None:
        return None
    folder = _failed_folder(error, folder)
    needed = (
        f"it needed at least {human_bytes(needed_bytes)} more" if needed_bytes else "it needed more"
    )
    existing = next((p for p in (folder, *folder.parents) if p.exists()), folder)
    try:
        usage = shutil.disk_usage(existing)
        free: int | None = usage.free
        # measured after the failed step let go of its scratch files: it may look roomier than
        # it was at the moment of failure
        space = f"{human_bytes(usage.free)} free of {human_bytes(usage.total)} now"
    except OSError:
        free, space = None, "free space unknown"
    if code == errno.EFBIG:
        message = (
            f"{step} stopped: a file-size limit (`ulimit -f` of the user running the "
            f"refresh) stopped a write to {folder} ({space}); {needed}. Raise or remove "
            "that limit, then run the refresh again."
        )
    else:
        message = (
            f"{step} stopped: the disk holding {folder} (the filesystem mounted at "
            f"{_mount_point(existing)}) is full ({space}); {needed}. {advice}"
        )
    return DiskFull(message, code, folder, free, needed_bytes)


@contextmanager
def reported_when_full(
    step: str, folder: Path, needed_bytes: int | None = None, advice: str = DEFAULT_ADVICE
) -> Iterator[None]:
    """Raise DiskFull (from the original error) when the block fails because a disk is full;
    any other error passes unchanged."""
    try:
        yield
    except DiskFull:
        raise
    except Exception as error:
        full = disk_full_error(error, step, folder, needed_bytes, advice)
        if full is None:
            raise
        raise full from error
