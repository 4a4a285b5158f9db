"""Whether the next dbt build may take only the new finance files (the nightly case).

The ledger is nearly all of a warehouse's rows, and a night usually brings one more month of it
and nothing else. When nothing but new finance files has changed since the last successful
build, the ledger's two large models (stg_finance__transactions, int_spend_allocated) and the
ledger's data quality flags (int_data_quality_flags) take only the rows of the files loaded
since, replacing any earlier version of the same transaction; the rest of the project is
rebuilt as always (it is small beside the ledger). Anything else — a finance file that left the
landing folder or was read again (a date in it has come), another extract's files, the dbt
project (models, macros, seeds) or the ingest library, a first build — rebuilds the ledger whole.
The decision compares what the raw tables and the code hold now with what they held at the last
successful build, recorded in `meta.dbt_build_state` (SHA-256 digests, the finance files' hashes
and load sequence).

The ledger's uniqueness tests follow the same plan: after an increment they count only the ids
of the increment's rows, over the whole table (the other rows were unique when the last build
passed its tests, and only an increment has touched them since); a whole build checks every id,
and so does an increment when the last whole check is `WHOLE_CHECK_DAYS` old or more.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from .contracts import EXTRACTS

STATE_TABLE = "meta.dbt_build_state"
LEDGER = "finance"
# the models built incrementally (dbt/macros/ledger_increment.sql)
LEDGER_MODELS = (
    ("staging", "stg_finance__transactions"),
    ("intermediate", "int_spend_allocated"),
    ("intermediate", "int_data_quality_flags"),
)
# what a build's tables are made from, besides the raw tables
PROJECT_SOURCES = ("models", "macros", "seeds", "dbt_project.yml")
INGEST_DIR = Path(__file__).resolve().parent  # this library: it writes the raw tables
# an increment's tests check every id of the ledger at least this often
WHOLE_CHECK_DAYS = 7


@dataclass(frozen=True)
class LedgerBuild:
    """How the next build treats the ledger: `after_file_seq` set for an increment (the files
    loaded after it), None for a whole rebuild; `reason` says why, in words. `whole_checks`:
    the ledger's uniqueness tests check every id (always for a whole rebuild)."""

    after_file_seq: int | None
    reason: str
    new_files: int = 0
    whole_checks: bool = True

    @property
    def incremental(self) -> bool:
        return self.after_file_seq is not None

    @property
    def checks_after_file_seq(self) -> int | None:
        """The files whose ids the ledger's uniqueness tests count; None: every id."""
        return None if self.whole_checks else self.after_file_seq

    def dbt_vars(self) -> dict[str, int | None]:
        """What dbt is given (dbt/macros/ledger_increment.sql, macros/tests/unique_ledger_id.sql):
        nothing for a whole rebuild."""
        if not self.incremental:
            return {}
        return {
            "finance_after_file_seq": self.after_file_seq,
            "ledger_checks_after_file_seq": self.checks_after_file_seq,
        }

    def describe(self) -> str:
        if self.incremental:
            checks = (
                "every id checked"
                if self.whole_checks
                else "the increment's ids checked over the whole ledger"
            )
            return f"incremental: {self.new_files} new finance file(s) ({self.reason}; {checks})"
        return f"whole: {self.reason}"


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def project_digest(project_dir: Path) -> str:
    """SHA-256 over the dbt project's models, macros, seeds and dbt_project.yml, and over the
    ingest library that writes the raw tables they read (an upgrade may rewrite earlier rows):
    names and bytes."""
    digest = hashlib.sha256()
    sources = [(Path(project_dir), name) for name in PROJECT_SOURCES]
    sources.append((INGEST_DIR.parent, INGEST_DIR.name))
    for root, name in sources:
        path = root / name
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            if "__pycache__" in file.parts:
                continue
            digest.update(str(file.relative_to(root)).encode() + b"\0")
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    return (
        con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, name],
        ).fetchone()[0]
        > 0
    )


def _files(con: duckdb.DuckDBPyConnection, extract: str) -> list[tuple]:
    """Each file of the extract: hash, load sequence, status, in the landing folder, council."""
    if not _has_table(con, "raw", f"{extract}_files"):
        return []
    return con.execute(
        f"SELECT file_hash, file_seq, status, in_landing, la_code FROM raw.{extract}_files "
        "ORDER BY ALL"
    ).fetchall()


def current_state(con: duckdb.DuckDBPyConnection, project_dir: Path) -> dict:
    """What the next build would be made from: the dbt project's digest, a digest of every
    other extract's files (hash, load sequence when loaded, status, in the landing folder,
    council), and the finance files in the build (loaded, in the landing folder) with their load
    sequence and council."""
    # a rejected file adds no rows, and is read again (a new load sequence) at every refresh:
    # its sequence would make every night's build whole
    others = {
        name: [
            (file_hash, seq if status == "loaded" else None, status, in_landing, la_code)
            for file_hash, seq, status, in_landing, la_code in _files(con, name)
        ]
        for name in sorted(EXTRACTS)
        if name != LEDGER
    }
    current = [f for f in _files(con, LEDGER) if f[2] == "loaded" and f[3]]
    return {
        "project": project_digest(project_dir),
        "others": _digest(others),
        "finance": {file_hash: seq for file_hash, seq, *_ in current},
        "finance_councils": {file_hash: la_code for file_hash, *_, la_code in current},
    }


def recorded_state(con: duckdb.DuckDBPyConnection) -> dict | None:
    if not _has_table(con, "meta", "dbt_build_state"):
        return None
    row = con.execute(f"SELECT state FROM {STATE_TABLE}").fetchone()
    return json.loads(row[0]) if row else None


def _gone(con: duckdb.DuckDBPyConnection, missing: set[str]) -> str:
    """Why the finance files built last time (`missing`: their hashes) are not in this build:
    replaced (a file of the same name holds other rows now) or taken out. A corrected file
    written over the old one had read as a file that left the landing folder."""
    hashes = sorted(missing)
    marks = ", ".join("?" for _ in hashes)
    replaced = [
        name
        for (name,) in con.execute(
            f"SELECT DISTINCT gone.file_name FROM raw.{LEDGER}_files AS gone "
            f"WHERE gone.file_hash IN ({marks}) AND EXISTS (SELECT 1 FROM raw.{LEDGER}_files AS "
            "now WHERE now.in_landing AND now.file_name = gone.file_name "
            "AND now.file_hash <> gone.file_hash) ORDER BY 1",
            hashes,
        ).fetchall()
    ]
    left = len(missing) - len(replaced)
    said = [f"{len(replaced)} finance file(s) replaced ({', '.join(replaced)})"] if replaced else []
    if left > 0:
        said.append(f"{left} finance file(s) left the landing folder")
    return "; ".join(said)


def plan(con: duckdb.DuckDBPyConnection, project_dir: Path) -> LedgerBuild:
    """How the next build should treat the ledger (see the module's docstring)."""
    before = recorded_state(con)
    if before is None:
        return LedgerBuild(None, "no earlier build is recorded")
    if WHOLE_BECAUSE in before:
        return LedgerBuild(None, before[WHOLE_BECAUSE])
    now = current_state(con, project_dir)
    if now["project"] != before["project"]:
        return LedgerBuild(
            None, "the dbt project (models, macros, seeds) or the ingest code changed"
        )
    if now["others"] != before["others"]:
        return LedgerBuild(None, "files of an extract other than finance changed")
    missing = set(before["finance"]) - set(now["finance"])
    if missing:
        return LedgerBuild(None, _gone(con, missing))
    councils = before.get("finance_councils")
    if councils is None or any(now["finance_councils"][h] != code for h, code in councils.items()):
        # (HIGHNEEDS_LA_CODE set or changed since: the rows already built carry the old code)
        return LedgerBuild(None, "a finance file's council (la_code) changed")
    if not all(_has_table(con, schema, name) for schema, name in LEDGER_MODELS):
        return LedgerBuild(None, "the ledger's tables are missing")
    after = max(before["finance"].values(), default=0)
    reread = [h for h, seq in now["finance"].items() if before["finance"].get(h, seq) != seq]
    # a file loaded since that keeps an earlier place (read again, or rejected when read again
    # and loaded since): its rows must not replace a later file's in an increment
    if _has_table(con, "raw", f"{LEDGER}_files"):
        reread += [
            h
            for (h,) in con.execute(
                f"SELECT file_hash FROM raw.{LEDGER}_files WHERE status = 'loaded' AND in_landing "
                "AND file_seq > ? AND precedence_seq < file_seq",
                [after],
            ).fetchall()
            if h not in reread
        ]
    if reread:
        # read again when a date in it came: it keeps its place among the files (an increment
        # would let its rows replace a later file's version of the same transaction)
        return LedgerBuild(None, f"{len(reread)} finance file(s) were read again")
    new = {h: seq for h, seq in now["finance"].items() if h not in before["finance"]}
    if any(seq <= after for seq in new.values()):  # a file loaded out of order: play safe
        return LedgerBuild(None, "a finance file was loaded before the last build's latest")
    checked = before.get("whole_checked_at")
    whole_checks = checked is None or datetime.fromisoformat(checked) <= _now() - timedelta(
        days=WHOLE_CHECK_DAYS
    )
    return LedgerBuild(after, f"files after load sequence {after}", len(new), whole_checks)


def _now() -> datetime:
    return datetime.now()


# the state a whole rebuild leaves until it records its own: why the ledger is built whole
WHOLE_BECAUSE = "whole_because"


def forget(con: duckdb.DuckDBPyConnection, reason: str) -> None:
    """Before a whole rebuild: if it fails part way, the next build must be whole too. What the
    build was made from is replaced by why it is whole (`refresh --whole` said "no earlier build
    is recorded" of a warehouse with two builds on record)."""
    if _has_table(con, "meta", "dbt_build_state"):
        con.execute(f"DELETE FROM {STATE_TABLE}")
        con.execute(
            f"INSERT INTO {STATE_TABLE} VALUES (?, ?)",
            [json.dumps({WHOLE_BECAUSE: reason}), _now()],
        )


def record(con: duckdb.DuckDBPyConnection, project_dir: Path, whole_checks: bool = True) -> None:
    """After a successful build: what it was made from, for the next build's plan, and when
    the ledger's tests last checked every id (now, if this build's did)."""
    previous = recorded_state(con) or {}
    con.execute("CREATE SCHEMA IF NOT EXISTS meta")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} (state VARCHAR NOT NULL, recorded_at TIMESTAMP)"
    )
    state = current_state(con, project_dir)
    checked = _now().isoformat() if whole_checks else previous.get("whole_checked_at")
    if checked is not None:
        state["whole_checked_at"] = checked
    state = json.dumps(state, sort_keys=True)
    con.execute(f"DELETE FROM {STATE_TABLE}")
    con.execute(f"INSERT INTO {STATE_TABLE} VALUES (?, now()::TIMESTAMP)", [state])
