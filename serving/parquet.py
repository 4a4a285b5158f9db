"""The serving file's Parquet copy (HIGHNEEDS_SERVING_PARQUET): every served table as a Parquet
file whose metadata carries the serving file's descriptions, one folder per version, and
`<dir>/current` a symlink switched atomically to the newest once the serving file is in place."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from . import contract as serving_contract
from .files import NEXT_MARKER, flush, folder_mode, make_folders, remove_files, sql_text

PARQUET_CURRENT = "current"


def write_parquet(con, database: str, parquet_dir: Path, version_id: str, file_mode: int) -> Path:
    """Every table of the attached `database` (the new serving file) as
    `<parquet_dir>/<version_id>/<schema>/<table>.parquet`, with the file's descriptions in its
    metadata; the version's folder."""
    version_dir = parquet_dir / version_id
    make_folders(parquet_dir, file_mode)
    for schema, table in con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? ORDER BY 1, 2",
        [database],
    ).fetchall():
        (version_dir / schema).mkdir(parents=True, exist_ok=True)
        target = version_dir / schema / f"{table}.parquet"
        metadata = _parquet_metadata(con, database, schema, table)
        con.execute(
            f"COPY {database}.{schema}.\"{table}\" TO '{sql_text(target)}' "
            f"(FORMAT parquet, KV_METADATA {metadata})"
        )
        os.chmod(target, file_mode)
    for folder in (parquet_dir, version_dir, *(p for p in version_dir.iterdir() if p.is_dir())):
        os.chmod(folder, folder_mode(file_mode))
    return version_dir


def _parquet_metadata(con, database: str, schema: str, table: str) -> str:
    """The Parquet file's key-value metadata, as a DuckDB struct: `table` (schema.table),
    `description` and `column_descriptions` (a JSON object: column → description), the serving
    file's own comments on one line (Parquet has no column comments; DuckDB reads them with
    `parquet_kv_metadata(path)`, pyarrow with `pq.read_metadata(path).metadata`)."""
    where = "WHERE database_name = ? AND schema_name = ? AND table_name = ?"
    (description,) = con.execute(
        f"SELECT comment FROM duckdb_tables() {where}", [database, schema, table]
    ).fetchall()[0]
    columns = con.execute(
        f"SELECT column_name, comment FROM duckdb_columns() {where} AND comment IS NOT NULL "
        "AND comment <> '' ORDER BY column_index",
        [database, schema, table],
    ).fetchall()
    one_line = serving_contract.one_line  # dbt's folded YAML leaves a newline at the end
    described = {column: one_line(comment) for column, comment in columns}
    metadata = {
        "table": f"{schema}.{table}",
        "description": one_line(description) or "",
        "column_descriptions": json.dumps(described, ensure_ascii=False),
    }
    pairs = (f"\"{key}\": '{sql_text(value)}'" for key, value in metadata.items())
    return "{" + ", ".join(pairs) + "}"


def switch_parquet(parquet_dir: Path, version_dir: Path) -> None:
    """Point `<dir>/current` at the new version (a symlink replaced atomically); keep the version
    it pointed at before (a reader may be in the middle of it) and remove every other one."""
    current = parquet_dir / PARQUET_CURRENT
    previous = os.readlink(current) if current.is_symlink() else None
    link = parquet_dir / f"{PARQUET_CURRENT}{NEXT_MARKER}{os.getpid()}"
    remove_files(link)
    os.symlink(version_dir.name, link)
    os.replace(link, current)
    flush(parquet_dir)
    for child in parquet_dir.iterdir():
        if (
            child.is_dir()
            and not child.is_symlink()
            and child.name not in (version_dir.name, previous)
        ):
            shutil.rmtree(child, ignore_errors=True)
