"""The one way a warehouse connection is opened: every one, whichever part of highneeds opens it
(the assets' resource, the dbt step's row counts, the CLI's summary, trace and report), has the
same memory cap, threads and spill folder. dbt opens its own in its process, from the same values
(Settings.dbt_vars → dbt/profiles.yml).

The settings are SET on the connection rather than passed as connection config: DuckDB refuses a
second connection to a file in the same process with a different config, and the warehouse is
opened both read-write and read-only."""

from __future__ import annotations

from pathlib import Path

import duckdb


def connect(
    database: Path | str,
    *,
    read_only: bool = False,
    memory_limit: str,
    threads: int | None = None,
    temp_directory: Path | str | None = None,
) -> duckdb.DuckDBPyConnection:
    """A connection to `database` whose DuckDB spills to `temp_directory` (default:
    <database>.tmp/) past `memory_limit` (validated by the settings: HIGHNEEDS_DUCKDB_MEMORY_LIMIT)
    and runs on `threads` (None: DuckDB's default, every CPU)."""
    database = Path(database)
    spill = Path(temp_directory) if temp_directory else database.with_name(database.name + ".tmp")
    con = duckdb.connect(str(database), read_only=read_only)
    try:
        con.execute(f"SET memory_limit = '{_quoted(memory_limit)}'")
        # DuckDB refuses to switch a spill folder it has used, even to itself: set it only when
        # another (DuckDB keeps it per database file, for every connection in the process)
        if con.execute("SELECT current_setting('temp_directory')").fetchone()[0] != str(spill):
            con.execute(f"SET temp_directory = '{_quoted(str(spill))}'")
        if threads is not None:
            con.execute(f"SET threads = {int(threads)}")
    except BaseException:
        con.close()
        raise
    return con


def _quoted(text: str) -> str:
    return text.replace("'", "''")
