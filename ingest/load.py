"""Load one extract's landing files into the warehouse: raw, quarantine and the valid typed rows.

For each file in `<landing>/<extract>/` (every `*.csv`):

1. The file is identified by the SHA-256 of its bytes. A file already loaded is not read again.
2. Headers are matched to the contract case- and punctuation-insensitively. A file missing a
   required column is rejected whole with a message naming what was found and what is missing.
3. Every row is written to `raw.<extract>` as text (personal data dropped, person ids replaced by
   a keyed hash) with `_source_file`, `_source_row` (the row number as a spreadsheet shows it:
   header = row 1), `_file_hash` and `_load_id`.
4. Each row is then exactly one of: an exact duplicate of an earlier row of the same file
   (`_duplicate_of_row` set in raw, counted, not loaded again); a row that breaks a rule, copied to
   `quarantine.<extract>` with every problem it has; or a valid row, parsed to types in
   `raw.<extract>_valid`, which dbt staging reads.
5. `raw.<extract>_files` records each file: hash, name, counts and money per outcome, and whether
   it is still in the landing folder (the landing folder is the input: a file taken out is
   retired from staging, though its rows stay in raw for audit).

All of a file's writes happen in one transaction, so a file is never half-loaded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from .contracts import Extract
from .parsing import blank_to_null, quote_ident, quote_literal, sql_type, typed_sql
from .pseudonymise import keyed_hash_sql

FILE_PATTERNS = ("*.csv",)
PROVENANCE_COLUMNS = ("_file_hash", "_source_file", "_source_row", "_load_id")
MAX_AGE_AT_PLAN_START = 25


class FileRejected(Exception):
    """A whole file cannot be loaded; the message says why, naming the file."""


@dataclass
class FileOutcome:
    extract: str
    file_name: str
    file_hash: str
    status: str  # loaded | unchanged | rejected
    message: str = ""
    rows_read: int = 0
    rows_valid: int = 0
    rows_duplicate: int = 0
    rows_quarantined: int = 0


@dataclass
class ExtractLoad:
    extract: str
    load_id: str
    files: list[FileOutcome] = field(default_factory=list)

    @property
    def rejected(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status == "rejected"]

    def total(self, attribute: str) -> int:
        return sum(getattr(f, attribute) for f in self.files)


def normalise_header(name: str) -> str:
    """`Child ID`, `child_id`, ` CHILD-ID ` all become `childid` for matching."""
    return re.sub(r"[^a-z0-9]", "", name.strip().lower())


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def landing_files(landing_dir: Path, extract: Extract) -> list[Path]:
    folder = landing_dir / extract.name
    if not folder.is_dir():
        return []
    found = {p for pattern in FILE_PATTERNS for p in folder.glob(pattern) if p.is_file()}
    return sorted(found)


# --- warehouse tables -------------------------------------------------------------------------

def ensure_tables(con: duckdb.DuckDBPyConnection, extract: Extract) -> None:
    """Create (or extend, when the contract gained a column) the extract's tables."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute("CREATE SCHEMA IF NOT EXISTS quarantine")
    con.execute(
        f"""
        CREATE TABLE IF NOT EXISTS raw.{extract.name}_files (
            file_hash VARCHAR NOT NULL,
            extract VARCHAR NOT NULL,
            file_name VARCHAR NOT NULL,
            file_bytes BIGINT,
            file_seq INTEGER NOT NULL,
            status VARCHAR NOT NULL,
            message VARCHAR,
            columns_found VARCHAR[],
            load_id VARCHAR NOT NULL,
            loaded_at TIMESTAMP NOT NULL,
            rows_read BIGINT,
            rows_valid BIGINT,
            rows_duplicate BIGINT,
            rows_quarantined BIGINT,
            in_landing BOOLEAN NOT NULL,
            last_seen_load_id VARCHAR,
            PRIMARY KEY (file_hash)
        )
        """
    )
    _refresh_landing_files_view(con)
    text_columns = [f"{quote_ident(c.name)} VARCHAR" for c in extract.stored_columns]
    provenance = [
        "_file_hash VARCHAR NOT NULL",
        "_source_file VARCHAR NOT NULL",
        "_source_row BIGINT NOT NULL",
        "_load_id VARCHAR NOT NULL",
    ]
    tables = {
        f"raw.{extract.name}": text_columns
        + ["_extra_columns MAP(VARCHAR, VARCHAR)", "_duplicate_of_row BIGINT"]
        + provenance,
        f"quarantine.{extract.name}": text_columns
        + ["_extra_columns MAP(VARCHAR, VARCHAR)"]
        + provenance
        + ["reason_codes VARCHAR[]", "reason VARCHAR"],
        f"raw.{extract.name}_valid": [
            f"{quote_ident(c.name)} {sql_type(c)}" for c in extract.stored_columns
        ]
        + provenance,
    }
    for table, columns in tables.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(columns)})")
        schema, name = table.split(".")
        existing = {
            row[0]
            for row in con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = ?",
                [schema, name],
            ).fetchall()
        }
        for definition in columns:
            column_name = definition.split(" ")[0].strip('"')
            if column_name not in existing:
                con.execute(f"ALTER TABLE {table} ADD COLUMN {definition}")


def _refresh_landing_files_view(con: duckdb.DuckDBPyConnection) -> None:
    """`raw.landing_files`: every extract's file records in one view, for people and reports."""
    tables = [
        row[0]
        for row in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw' "
            "AND table_name LIKE '%\\_files' ESCAPE '\\' AND table_type = 'BASE TABLE' "
            "ORDER BY table_name"
        ).fetchall()
    ]
    union = " UNION ALL BY NAME ".join(f"SELECT * FROM raw.{quote_ident(t)}" for t in tables)
    con.execute(f"CREATE OR REPLACE VIEW raw.landing_files AS {union}")


# --- reading ----------------------------------------------------------------------------------

def _read_csv_as_text(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    """Read the file into temp table `_file` (all text, `_source_row` numbered); its headers."""
    con.execute("DROP TABLE IF EXISTS _file")
    try:
        con.execute(
            f"""
            CREATE TEMP TABLE _file AS
            SELECT row_number() OVER () + 1 AS _source_row, *
            FROM read_csv({quote_literal(str(path))}, all_varchar = true, header = true,
                          auto_detect = true)
            """
        )
    except duckdb.Error as error:
        first_line = str(error).strip().splitlines()[0]
        raise FileRejected(f"{path.name}: not a readable CSV file ({first_line})") from error
    return [
        row[0]
        for row in con.execute("SELECT column_name FROM (DESCRIBE _file)").fetchall()
        if row[0] != "_source_row"
    ]


def match_headers(extract: Extract, headers: list[str], file_name: str) -> dict[str, str]:
    """Map contract column → file header; reject the file when a required column is missing."""
    by_normal: dict[str, str] = {}
    for header in headers:
        by_normal.setdefault(normalise_header(header), header)
    mapping = {
        c.name: by_normal[normalise_header(c.name)]
        for c in extract.columns
        if normalise_header(c.name) in by_normal
    }
    missing = [name for name in extract.required if name not in mapping]
    if missing:
        raise FileRejected(
            f"{file_name}: missing required column(s) {', '.join(missing)}; "
            f"found columns: {', '.join(headers) or '(none)'}; "
            f"expected: {', '.join(extract.required)} "
            f"(optional: {', '.join(c.name for c in extract.columns if not c.required)})"
        )
    return mapping


# --- validation -------------------------------------------------------------------------------

def _problem(code: str, column: str, condition: str, value_expr: str = "NULL") -> str:
    return (
        f"CASE WHEN {condition} THEN {{'code': {quote_literal(code)}, "
        f"'column': {quote_literal(column)}, 'value': ({value_expr})::VARCHAR}} END"
    )


def problem_expressions(extract: Extract, extract_date: dt.date) -> list[str]:
    """One SQL expression per rule, each NULL or a struct (code, column, value) naming the problem.

    They run over the text columns (already trimmed of personal data and hashed), one row at
    a time, all vectorised.
    """
    problems: list[str] = []
    for column in extract.stored_columns:
        text = quote_ident(column.name)
        present = f"{blank_to_null(text)} IS NOT NULL"
        if column.required:
            problems.append(_problem("missing_required_value", column.name, f"NOT ({present})"))
        if column.kind == "id" and not column.pattern:
            continue
        parsed_is_null = f"({typed_sql(column, text)}) IS NULL"
        code = {
            "date": "bad_date",
            "amount": "bad_amount",
            "code": "unknown_code",
            "financial_year": "bad_financial_year",
        }.get(column.kind, "bad_format")
        if column.kind == "text" and not column.pattern:
            continue
        problems.append(_problem(code, column.name, f"{present} AND {parsed_is_null}", text))
        if column.kind == "date":
            problems.append(
                _problem(
                    "date_after_extract",
                    column.name,
                    f"({typed_sql(column, text)}) > DATE {quote_literal(extract_date.isoformat())}",
                    text,
                )
            )
    if extract.one_of:
        none_present = " AND ".join(
            f"({typed_sql(extract.column(name), quote_ident(name))}) IS NULL"
            for name in extract.one_of
        )
        problems.append(_problem("no_" + "_or_".join(extract.one_of), "/".join(extract.one_of), none_present))
    for earlier, later in extract.ordered_dates:
        first = typed_sql(extract.column(earlier), quote_ident(earlier))
        second = typed_sql(extract.column(later), quote_ident(later))
        problems.append(
            _problem(
                f"{later}_before_{earlier}",
                later,
                f"({second}) < ({first})",
                f"{quote_ident(later)} || ' < ' || {quote_ident(earlier)}",
            )
        )
    if extract.name == "ehcp":
        dob = typed_sql(extract.column("date_of_birth"), '"date_of_birth"')
        start = typed_sql(extract.column("plan_start_date"), '"plan_start_date"')
        problems.append(
            _problem(
                "over_25_at_plan_start",
                "date_of_birth",
                f"date_diff('year', {dob}, {start}) - CASE WHEN strftime({start}, '%m%d') < "
                f"strftime({dob}, '%m%d') THEN 1 ELSE 0 END > {MAX_AGE_AT_PLAN_START}",
                '"date_of_birth"',
            )
        )
    if extract.name == "placements":
        cost = typed_sql(extract.column("annual_cost"), '"annual_cost"')
        problems.append(_problem("negative_annual_cost", "annual_cost", f"({cost}) < 0", '"annual_cost"'))
    return problems


# --- loading one file -------------------------------------------------------------------------

def _stage_file(
    con: duckdb.DuckDBPyConnection,
    extract: Extract,
    mapping: dict[str, str],
    headers: list[str],
    pseudonym_key: str,
    extract_date: dt.date,
) -> None:
    """Build temp table `_checked`: text columns, extra columns, duplicate marker and problems."""
    selected: list[str] = []
    for column in extract.stored_columns:
        source = mapping.get(column.name)
        expr = f"{quote_ident(source)}" if source else "NULL::VARCHAR"
        if column.pseudonymise and source:
            expr = keyed_hash_sql(expr, pseudonym_key)
        selected.append(f"{expr} AS {quote_ident(column.name)}")
    contract_headers = set(mapping.values())
    personal_headers = {
        mapping[c.name] for c in extract.columns if c.personal and c.name in mapping
    }
    extra = [h for h in headers if h not in contract_headers and h not in personal_headers]
    if extra:
        keys = ", ".join(quote_literal(h) for h in extra)
        values = ", ".join(quote_ident(h) for h in extra)
        selected.append(f"map([{keys}], [{values}]) AS _extra_columns")
    else:
        selected.append("NULL::MAP(VARCHAR, VARCHAR) AS _extra_columns")
    con.execute("DROP TABLE IF EXISTS _text")
    con.execute(f"CREATE TEMP TABLE _text AS SELECT _source_row, {', '.join(selected)} FROM _file")

    all_columns = [quote_ident(c.name) for c in extract.stored_columns] + ["_extra_columns::VARCHAR"]
    key_columns = [typed_sql(extract.column(k), quote_ident(k)) for k in extract.key]
    key_present = " AND ".join(f"({k}) IS NOT NULL" for k in key_columns)
    problems = problem_expressions(extract, extract_date)
    conflicting = _problem(
        "conflicting_duplicate",
        "/".join(extract.key),
        f"{key_present} AND _rows_with_key > 1",
        " || '/' || ".join(quote_ident(k) for k in extract.key),
    )
    con.execute("DROP TABLE IF EXISTS _checked")
    con.execute(
        f"""
        CREATE TEMP TABLE _checked AS
        WITH marked AS (
            SELECT *,
                   CASE WHEN row_number() OVER w > 1 THEN min(_source_row) OVER w END
                       AS _duplicate_of_row
            FROM _text
            WINDOW w AS (PARTITION BY {', '.join(all_columns)} ORDER BY _source_row)
        ),
        firsts AS (
            SELECT *, count(*) OVER (PARTITION BY {', '.join(key_columns)}) AS _rows_with_key
            FROM marked WHERE _duplicate_of_row IS NULL
        )
        SELECT firsts.* EXCLUDE (_rows_with_key),
               [p FOR p IN [{', '.join(problems + [conflicting])}] IF p IS NOT NULL] AS _problems
        FROM firsts
        UNION ALL BY NAME
        SELECT marked.*, NULL AS _problems FROM marked WHERE _duplicate_of_row IS NOT NULL
        """
    )


def _write_file(
    con: duckdb.DuckDBPyConnection,
    extract: Extract,
    file_name: str,
    file_hash: str,
    load_id: str,
) -> tuple[int, int, int, int]:
    text_columns = ", ".join(quote_ident(c.name) for c in extract.stored_columns)
    provenance = (
        f"{quote_literal(file_hash)} AS _file_hash, {quote_literal(file_name)} AS _source_file, "
        f"_source_row, {quote_literal(load_id)} AS _load_id"
    )
    con.execute(
        f"INSERT INTO raw.{extract.name} BY NAME "
        f"SELECT {text_columns}, _extra_columns, _duplicate_of_row, {provenance} FROM _checked"
    )
    reason_text = (
        "array_to_string([p.column || ': ' || replace(p.code, '_', ' ') || "
        "coalesce(' (''' || p.value || ''')', '') FOR p IN _problems], '; ')"
    )
    con.execute(
        f"INSERT INTO quarantine.{extract.name} BY NAME "
        f"SELECT {text_columns}, _extra_columns, {provenance}, "
        f"[p.code FOR p IN _problems] AS reason_codes, {reason_text} AS reason "
        f"FROM _checked WHERE len(_problems) > 0"
    )
    typed = ", ".join(
        f"{typed_sql(c, quote_ident(c.name))} AS {quote_ident(c.name)}"
        for c in extract.stored_columns
    )
    con.execute(
        f"INSERT INTO raw.{extract.name}_valid BY NAME "
        f"SELECT {typed}, {provenance} FROM _checked WHERE len(_problems) = 0"
    )
    row = con.execute(
        """
        SELECT count(*),
               count(*) FILTER (WHERE len(_problems) = 0),
               count(*) FILTER (WHERE _duplicate_of_row IS NOT NULL),
               count(*) FILTER (WHERE len(_problems) > 0)
        FROM _checked
        """
    ).fetchone()
    assert row is not None
    return row[0], row[1], row[2], row[3]


def _record_file(
    con: duckdb.DuckDBPyConnection,
    outcome: FileOutcome,
    file_bytes: int,
    columns_found: list[str],
    load_id: str,
) -> None:
    next_seq = con.execute(
        f"SELECT coalesce(max(file_seq), 0) + 1 FROM raw.{outcome.extract}_files"
    ).fetchone()
    assert next_seq is not None
    con.execute(
        f"""
        INSERT INTO raw.{outcome.extract}_files VALUES
            (?, ?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP, ?, ?, ?, ?, true, ?)
        """,
        [
            outcome.file_hash, outcome.extract, outcome.file_name, file_bytes, next_seq[0],
            outcome.status, outcome.message, columns_found, load_id,
            outcome.rows_read, outcome.rows_valid, outcome.rows_duplicate,
            outcome.rows_quarantined, load_id,
        ],
    )


def load_file(
    con: duckdb.DuckDBPyConnection,
    extract: Extract,
    path: Path,
    file_name: str,
    file_hash: str,
    load_id: str,
    pseudonym_key: str,
    extract_date: dt.date,
) -> FileOutcome:
    outcome = FileOutcome(extract.name, file_name, file_hash, "loaded")
    headers: list[str] = []
    con.execute("BEGIN TRANSACTION")
    try:
        headers = _read_csv_as_text(con, path)
        mapping = match_headers(extract, headers, file_name)
        _stage_file(con, extract, mapping, headers, pseudonym_key, extract_date)
        (
            outcome.rows_read,
            outcome.rows_valid,
            outcome.rows_duplicate,
            outcome.rows_quarantined,
        ) = _write_file(con, extract, file_name, file_hash, load_id)
        _record_file(con, outcome, path.stat().st_size, headers, load_id)
        con.execute("COMMIT")
    except FileRejected as rejection:
        con.execute("ROLLBACK")
        outcome = FileOutcome(extract.name, file_name, file_hash, "rejected", str(rejection))
        _record_file(con, outcome, path.stat().st_size, headers, load_id)
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        for table in ("_file", "_text", "_checked"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
    return outcome


def load_extract(
    con: duckdb.DuckDBPyConnection,
    extract: Extract,
    landing_dir: Path,
    load_id: str,
    pseudonym_key: str,
    extract_date: dt.date | None = None,
) -> ExtractLoad:
    """Load every new file of one extract; mark which known files are still in the landing folder."""
    ensure_tables(con, extract)
    extract_date = extract_date or dt.date.today()
    result = ExtractLoad(extract.name, load_id)
    known = {
        row[0]: row[1]
        for row in con.execute(
            f"SELECT file_hash, status FROM raw.{extract.name}_files"
        ).fetchall()
    }
    seen: list[str] = []
    for path in landing_files(landing_dir, extract):
        file_name = str(path.relative_to(landing_dir))
        file_hash = file_sha256(path)
        seen.append(file_hash)
        if known.get(file_hash) == "rejected":
            # Try a rejected file again: the contract or the reader may have changed since.
            con.execute(f"DELETE FROM raw.{extract.name}_files WHERE file_hash = ?", [file_hash])
            del known[file_hash]
        if file_hash in known:
            outcome = _known_file_outcome(con, extract, file_hash, file_name)
            con.execute(
                f"UPDATE raw.{extract.name}_files SET file_name = ?, last_seen_load_id = ? "
                "WHERE file_hash = ?",
                [file_name, load_id, file_hash],
            )
        else:
            outcome = load_file(
                con, extract, path, file_name, file_hash, load_id, pseudonym_key, extract_date
            )
            known[file_hash] = outcome.status
        result.files.append(outcome)
    con.execute(
        f"UPDATE raw.{extract.name}_files SET in_landing = list_contains(?::VARCHAR[], file_hash)",
        [seen],
    )
    return result


def _known_file_outcome(
    con: duckdb.DuckDBPyConnection, extract: Extract, file_hash: str, file_name: str
) -> FileOutcome:
    row = con.execute(
        "SELECT message, rows_read, rows_valid, rows_duplicate, rows_quarantined "
        f"FROM raw.{extract.name}_files WHERE file_hash = ?",
        [file_hash],
    ).fetchone()
    assert row is not None
    return FileOutcome(
        extract.name, file_name, file_hash, "unchanged", row[0] or "",
        row[1] or 0, row[2] or 0, row[3] or 0, row[4] or 0,
    )

