"""One refresh at a time: a lock file beside the warehouse (`<warehouse>.lock`).

DuckDB lets one process write a file; a second refresh would ingest in parallel with the first
and then die in dbt on DuckDB's own lock. So every refresh — `highneeds refresh`, the nightly
schedule, the landing sensor, a materialisation from the UI — takes this lock before it touches
the warehouse, and a second one is refused at once (or, with `--wait`, waits) with a message
that says who holds it.

The lock is an OS lock (`flock`) on the file, so the kernel frees it when its process dies,
however it dies. The file also holds, as JSON, who took it: `{"pid", "host", "started_at"}`
(UTC, ISO 8601); the holder empties it when it lets go. A file with a holder in it whose lock is
free was left by a process that died: it is taken over, and the caller is told whose it was.

The lock is re-entrant within a process: the CLI takes it, then runs the Dagster job in the same
process, whose warehouse resource takes it again.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

LOCK_SUFFIX = ".lock"
OWNER_ONLY = 0o600
# DuckDB's message when another process has the file open (tests/faults/test_one_refresh.py
# checks it against the installed DuckDB)
_DUCKDB_LOCK_ERROR = re.compile(
    r'Could not set lock on file "(?P<file>[^"]+)": Conflicting lock is held in '
    r"(?P<program>.+?) \(PID (?P<pid>\d+)\)"
)


@dataclass(frozen=True)
class LockHolder:
    pid: int
    host: str
    started_at: str  # UTC, ISO 8601
    run_id: str | None = None  # the Dagster run holding it, once it started (claim_run)

    @property
    def since(self) -> str:
        return f"{dt.datetime.fromisoformat(self.started_at):%Y-%m-%d %H:%M:%S} UTC"

    @property
    def process(self) -> str:
        return f"pid {self.pid} on host {self.host}"


class RefreshRunning(RuntimeError):
    """Another process holds the refresh lock."""

    def __init__(self, holder: LockHolder | None, path: Path):
        self.holder = holder
        # not yet written
        who = f"since {holder.since} ({holder.process})" if holder else f"(it holds {path})"
        super().__init__(f"another refresh is running {who}")


@dataclass
class _Held:
    descriptor: int
    count: int
    holder: LockHolder
    left_by_dead_process: LockHolder | None = None  # until claim_run hands it on


_held: dict[Path, _Held] = {}  # lock file → this process's hold on it
_guard = threading.Lock()


def lock_path(warehouse: Path) -> Path:
    warehouse = Path(warehouse).resolve()
    return warehouse.with_name(warehouse.name + LOCK_SUFFIX)


def acquire(
    warehouse: Path,
    *,
    wait: bool = False,
    waiting: Callable[[LockHolder | None], None] | None = None,
) -> LockHolder | None:
    """Take the refresh lock of `warehouse` (again, if this process holds it already).

    Raises RefreshRunning when another process holds it, unless `wait`: then calls
    `waiting(holder)` once and blocks until it is free. Returns the holder of a lock left by a
    process that died, which this call took over; otherwise None."""
    path = lock_path(warehouse)
    with _guard:
        if path in _held:
            _held[path].count += 1
            return None
    path.parent.mkdir(parents=True, exist_ok=True)  # a first refresh into a new folder
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, OWNER_ONLY)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(descriptor)
            if not wait:
                raise RefreshRunning(holder, path) from None
            if waiting is not None:
                waiting(holder)
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        left_by_dead_process = _read_holder(descriptor)
        me = LockHolder(
            os.getpid(), socket.gethostname(), dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        )
        _write(descriptor, json.dumps(asdict(me)).encode())
    except BaseException:
        os.close(descriptor)  # also frees the flock, if taken
        raise
    with _guard:
        _held[path] = _Held(descriptor, 1, me, left_by_dead_process)
    return left_by_dead_process


def claim_run(warehouse: Path, run_id: str) -> LockHolder | None:
    """Write the Dagster run this process's hold of the lock is for into the lock file; return
    the holder of a lock left by a process that died, which this process took over (once), so
    its run, which no one will end, can be marked failed. A refresh killed with -9 stayed
    STARTED in the run history for good."""
    path = lock_path(warehouse)
    with _guard:
        held = _held.get(path)
        if held is None:
            return None
        held.holder = replace(held.holder, run_id=run_id)
        _write(held.descriptor, json.dumps(asdict(held.holder)).encode())
        left, held.left_by_dead_process = held.left_by_dead_process, None
    return left


def is_held(warehouse: Path) -> bool:
    """Whether a refresh holds the lock of `warehouse` now (this process's own holds included),
    without taking it: for the landing sensor, which waits rather than start a run that would be
    refused."""
    path = lock_path(warehouse)
    with _guard:
        if path in _held:
            return True
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)  # also frees the shared lock, if taken
    return False


def release(warehouse: Path) -> None:
    """Let go of one hold of the lock; the last one empties the file and frees the lock."""
    path = lock_path(warehouse)
    with _guard:
        held = _held[path]
        held.count -= 1
        if held.count:
            return
        del _held[path]
    try:
        _write(held.descriptor, b"")  # emptied first: a holder in the file means it is held
    finally:
        os.close(held.descriptor)


def explain_duckdb_lock_error(message: str) -> str | None:
    """A plain reading of DuckDB's "Could not set lock on file" error, or None for other errors."""
    match = _DUCKDB_LOCK_ERROR.search(message)
    if match is None:
        return None
    # (BI opening the serving file to write, as DuckDB's own clients and DBeaver do by
    # default, holds it as surely as a stray process holds the warehouse: the advice differs)
    serving = "serving" in Path(match["file"]).name
    close = (
        "Close that program, or have it open the serving file read-only (`read_only=True` in "
        "Python, `access_mode=read_only` over ODBC or SQLAlchemy: the README's Connecting BI): "
        "a refresh swaps in a new serving file while readers keep the old one, but not while a "
        "program holds it to write"
        if serving
        else "Close that program (BI tools read the serving file, never the warehouse)"
    )
    return (
        f"{match['file']} is open in another program: {match['program']} (pid {match['pid']}). "
        "DuckDB lets one process write a file, or several read it, never both at once. "
        f"{close}; if it is a dbt or a refresh left running by a refresh that was killed, "
        f"stop it with `kill {match['pid']}`. Then run the refresh again."
    )


def _read_holder(descriptor: int) -> LockHolder | None:
    os.lseek(descriptor, 0, os.SEEK_SET)
    text = os.read(descriptor, 4096)
    try:
        return LockHolder(**json.loads(text)) if text.strip() else None
    except (ValueError, TypeError):  # not written by this module (or cut short): no one to name
        return None


def _write(descriptor: int, content: bytes) -> None:
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, content, 0)
    os.fsync(descriptor)
