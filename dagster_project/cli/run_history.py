"""Dagster's SQLite run history written without a disk flush per event, for the refresh's run.

Dagster's SQLite storage (the default in DAGSTER_HOME) opens a new connection for every event it
stores and closes it after one commit. A refresh of a council stores about 2,000 events (the
run's, and their copies in the cross-run index), so on a busy disk each event cost two flushes:
one at its commit (SQLite's default `synchronous=FULL`) and one at the close (the last connection
to a WAL database checkpoints the log into the file and deletes it). In a council's profile that
was 14 s of 73, more than dbt's own build.

While the run lasts, `history_without_flushes` keeps one idle connection open on each of
DAGSTER_HOME's SQLite files, so the connection Dagster closes is never the last and the log is
checkpointed once, at the end; and Dagster's connections commit with `synchronous=NORMAL`, which
in WAL mode flushes at checkpoints rather than at every commit. SQLite's own guarantee for that
setting: the database is never corrupted; a power cut (not a crash of the process) may lose the
last events written before it. Readers in other processes (the UI following the run) see every
event as soon as it is committed, as before. Other storages (e.g. Postgres) are not touched.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def history_without_flushes(dagster_home: Path) -> Iterator[None]:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    home = Path(dagster_home).resolve()
    lock = threading.Lock()
    keepers: dict[str, sqlite3.Connection] = {}

    def on_connect(dbapi_connection, connection_record) -> None:
        if not isinstance(dbapi_connection, sqlite3.Connection):
            return
        path = _database_file(dbapi_connection)
        if path is None or home not in Path(path).resolve().parents:
            return
        dbapi_connection.execute("PRAGMA synchronous=NORMAL")
        with lock:
            if path not in keepers:
                _keep_open(path, keepers)

    event.listen(Engine, "connect", on_connect)
    try:
        yield
    finally:
        event.remove(Engine, "connect", on_connect)
        with lock:
            for keeper in keepers.values():
                with contextlib.suppress(sqlite3.Error):
                    keeper.close()  # the last connection: checkpoints the log into the file
            keepers.clear()


def _database_file(connection: sqlite3.Connection) -> str | None:
    rows = connection.execute("PRAGMA database_list").fetchall()
    return next((file for _, name, file in rows if name == "main" and file), None)


def _keep_open(path: str, keepers: dict[str, sqlite3.Connection]) -> None:
    """An idle connection that has read the file in WAL mode holds its shared lock, so no other
    connection's close checkpoints. A file not yet in WAL mode (a new run's shard, before Dagster
    sets it up) is tried again on the next connection."""
    keeper = sqlite3.connect(path, check_same_thread=False)
    try:
        (mode,) = keeper.execute("PRAGMA journal_mode").fetchone()
    except sqlite3.Error:
        mode = None
    if mode == "wal":
        keepers[path] = keeper
    else:
        keeper.close()
