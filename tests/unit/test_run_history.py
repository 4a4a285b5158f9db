"""The refresh's run history: Dagster's SQLite files written without a flush per event, and
complete (checkpointed into the file) when the run ends."""

import sqlite3

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from dagster_project.cli.run_history import history_without_flushes


def _wal_database(path):
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE events (n INTEGER)")
    con.commit()
    con.close()
    return path


def _store(path, n) -> int:
    """As Dagster's SQLite storage stores an event: a new engine and connection, one commit."""
    engine = sa.create_engine(f"sqlite:///{path}", poolclass=NullPool)
    with engine.connect() as conn, conn.begin():
        conn.execute(sa.text("INSERT INTO events VALUES (:n)"), {"n": n})
        synchronous = conn.execute(sa.text("PRAGMA synchronous")).scalar()
    engine.dispose()
    return synchronous


def test_history_is_kept_in_the_log_during_the_run_and_checkpointed_at_its_end(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    database = _wal_database(home / "index.db")
    wal = database.with_name("index.db-wal")
    with history_without_flushes(home):
        synchronous = {_store(database, n) for n in range(5)}
        # no connection's close was the last: the log was not checkpointed and removed
        assert wal.exists()
    assert synchronous == {1}  # NORMAL: no flush at each commit
    assert not wal.exists()  # checkpointed once, when the run ended
    con = sqlite3.connect(database)
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == 5
    con.close()


def test_other_sqlite_files_and_later_connections_are_left_as_they_were(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    elsewhere = _wal_database(tmp_path / "other.db")
    inside = _wal_database(home / "runs.db")
    with history_without_flushes(home):
        assert _store(elsewhere, 1) == 2  # FULL, SQLite's default
        assert not elsewhere.with_name("other.db-wal").exists()
    assert _store(inside, 1) == 2
    assert not inside.with_name("runs.db-wal").exists()
