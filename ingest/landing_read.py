"""The landing files a refresh read, as it read them, checked again before it publishes.

A file still being copied into the landing folder when a refresh starts is read half: its first
rows load, every gate can pass on them (a ledger cut mid-month looks like a month in progress),
and the serving file would publish the half. The landing sensor waits for the folder to settle,
but only at its tick; a schedule, the CLI or a copy that starts just after the tick does not.
So ingest records each file it hashed — its path, size, modification and change times, and
SHA-256 — in `meta.landing_read` (the forecast its mitigation logs, a council's own
`mitigations.yml` in its landing folder among them), and publishing re-reads them: a file
changed or gone since holds the publish (BI and the report keep the last good version) with its
name, and the next refresh reads it whole. A file saved again with the same bytes is not a
change. And a file whose size or times moved between its hashing and the end of its read
(`changed_since_hashed`) was written over while it was read: its hash is not of what was read,
so ingest rejects it (read again at the next refresh) and the forecast stops.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb

from warehouse import table_exists

from .hashing import HashCache, change_signature, sha256_file, signature_bytes

TABLE = "meta.landing_read"
# the record's name for the mitigation logs the forecast read (a council's own mitigations.yml in
# its landing folder is copied in as any extract's file is)
MITIGATION_LOGS = "mitigations"


@dataclass(frozen=True)
class Changed:
    """A landing file that is no longer what the refresh read: `now_bytes` None when it is gone."""

    extract: str
    file: str
    read_at: dt.datetime
    read_bytes: int
    now_bytes: int | None

    def describe(self) -> str:
        when = f"read at {self.read_at:%H:%M:%S} UTC with {self.read_bytes:,} bytes"
        if self.now_bytes is None:
            return f"{self.file} ({self.extract}): gone since it was {when}"
        return f"{self.file} ({self.extract}): {when}, now {self.now_bytes:,} bytes and different"


def record(
    con: duckdb.DuckDBPyConnection,
    extract: str,
    landing_dir: Path,
    hashes: HashCache,
    run_id: str,
) -> None:
    """Replace the extract's record with the files `hashes` read for it in this run."""
    con.execute("CREATE SCHEMA IF NOT EXISTS meta")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} (extract VARCHAR NOT NULL, file VARCHAR NOT NULL, "
        "path VARCHAR NOT NULL, bytes BIGINT NOT NULL, signature VARCHAR NOT NULL, "
        "sha256 VARCHAR NOT NULL, read_at TIMESTAMP NOT NULL, run_id VARCHAR NOT NULL)"
    )
    rows = [
        (
            extract,
            _display(path, landing_dir),
            str(path.resolve()),
            signature_bytes(signature),
            signature,
            digest,
            read_at.replace(tzinfo=None),
            run_id,
        )
        for path, (signature, digest, read_at) in sorted(hashes.read.items())
    ]
    con.execute("BEGIN")
    con.execute(f"DELETE FROM {TABLE} WHERE extract = ?", [extract])
    if rows:
        con.executemany(f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute("COMMIT")


def changed_since_hashed(
    hashes: HashCache, paths: list[Path] | None = None
) -> list[tuple[Path, int, int | None]]:
    """Of `paths` (every file `hashes` read when None), those whose size or times moved since
    they were hashed: (path, bytes when hashed, bytes now or None when gone). Checked after a
    read, it tells a file written over while it was read, whose hash is not of what was read."""
    moved = []
    for path in hashes.read if paths is None else paths:
        if (hashed := hashes.read.get(path)) is None:
            continue
        try:
            now = path.stat()
        except OSError:
            now = None
        if now is None or change_signature(now) != hashed[0]:
            moved.append((path, signature_bytes(hashed[0]), now.st_size if now else None))
    return moved


def changed_since_read(con: duckdb.DuckDBPyConnection) -> list[Changed]:
    """The recorded files that changed or went since the refresh read them. A file whose size or
    times moved is hashed again: only different bytes count."""
    if not table_exists(con, *TABLE.split(".")):
        return []
    changed = []
    for extract, file, path, size, signature, digest, read_at in con.execute(
        f"SELECT extract, file, path, bytes, signature, sha256, read_at FROM {TABLE} "
        "ORDER BY extract, file"
    ).fetchall():
        now = Path(path)
        try:
            if change_signature(now.stat()) == signature or sha256_file(now) == digest:
                continue
            now_bytes = now.stat().st_size
        except FileNotFoundError:
            now_bytes = None
        changed.append(Changed(extract, file, read_at, size, now_bytes))
    return changed


def _display(path: Path, landing_dir: Path) -> str:
    try:
        return str(path.resolve().relative_to(landing_dir.resolve()))
    except ValueError:
        return str(path)
