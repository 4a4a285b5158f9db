"""Row-level trace: from a mart row back to the landing rows it was built from.

Every staged row keeps its source file, row number, file hash and load id, so a figure in
`marts.fct_provision_spend` (or `fct_ehcp_cohort`) can be listed as the exact transactions (or
plans) behind it, and their total compared with the mart's; `landing_records` reads each row back
from its landing file, as the file holds it, when the file is still the one that was loaded.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from ingest.contracts import Extract
from ingest.hashing import sha256_file
from ingest.load import council_content_hash, is_personal_header, part_hash
from ingest.readers import (
    CSV_SUFFIXES,
    WORKBOOK_SUFFIXES,
    FileRejected,
    load_aliases,
    match_headers,
    read_parts,
)


@dataclass
class Trace:
    rows: pd.DataFrame
    mart_value: float | None
    traced_value: float
    measure: str

    @property
    def matches(self) -> bool:
        return self.mart_value is not None and round(self.traced_value - self.mart_value, 2) == 0


def trace_spend(con: duckdb.DuckDBPyConnection, financial_year: str, provision_type: str) -> Trace:
    """The transactions behind one `fct_provision_spend` row, with where each came from."""
    rows = con.execute(
        """
        SELECT s.transaction_id, s.posting_date, s.amount_gbp, s.s251_line, s.allocation_method,
               s.placement_id, s.provider_urn, s.provider_ukprn,
               s.source_file, s.source_row, s.source_file_hash,
               s.load_id
        FROM intermediate.int_spend_allocated s
        WHERE s.is_high_needs AND s.financial_year = ? AND s.provision_type = ?
        ORDER BY s.posting_date, s.transaction_id
        """,
        [financial_year, provision_type],
    ).df()
    mart = con.execute(
        "SELECT spend_gbp FROM marts.fct_provision_spend "
        "WHERE financial_year = ? AND provision_type = ?",
        [financial_year, provision_type],
    ).fetchone()
    traced = float(rows["amount_gbp"].astype(float).sum().round(2)) if len(rows) else 0.0
    return Trace(rows, float(mart[0]) if mart else None, traced, "spend_gbp")


def trace_plans(
    con: duckdb.DuckDBPyConnection,
    census_year: int,
    provision_type: str | None = None,
    primary_need: str | None = None,
) -> Trace:
    """The plans behind `fct_ehcp_cohort` rows of one census
    (optionally one provision type and need)."""
    filters, values = ["c.census_year = ?"], [census_year]
    if provision_type:
        filters.append("c.provision_type = ?")
        values.append(provision_type)
    if primary_need:
        filters.append("c.primary_need = ?")
        values.append(primary_need)
    where = " AND ".join(filters)
    rows = con.execute(
        f"""
        SELECT c.plan_id, c.child_id, c.primary_need, c.age, c.ncy,
               c.provision_type, c.placement_id,
               p.source_file, p.source_row, p.source_file_hash, p.load_id,
               s.source_file AS placement_source_file, s.source_row AS placement_source_row
        FROM intermediate.int_ehcp_census_snapshots c
        JOIN staging.stg_ehcp__plans p USING (la_code, plan_id)
        LEFT JOIN staging.stg_placements__spells s
            ON s.la_code = c.la_code AND s.placement_id = c.placement_id
        WHERE {where}
        ORDER BY c.plan_id
        """,
        values,
    ).df()
    mart = con.execute(
        f"SELECT sum(plans) FROM marts.fct_ehcp_cohort c WHERE {where}", values
    ).fetchone()
    value = float(mart[0]) if mart and mart[0] is not None else None
    if (
        value is None
        and con.execute(
            "SELECT count(*) FROM marts.fct_ehcp_cohort c WHERE c.census_year = ?", [census_year]
        ).fetchone()[0]
    ):
        # the cohort mart has a row per cell with plans only: in a census it holds, a cell
        # without a row holds none
        value = 0.0
    return Trace(rows, value, float(len(rows)), "plans")


# --- the landing file as the verbatim record ----------------------------------------------------

WITHHELD = "withheld"  # how a personal or person-id value is shown
WITHHELD_COLUMNS = ("date_of_birth",)  # stored (ages need it), but no trace needs to show it


def landing_records(
    rows: pd.DataFrame,
    extract: Extract,
    landing: Path,
    reader_settings: dict | None = None,
    current_names: dict[str, str] | None = None,
    la_code: str | None = None,
) -> pd.DataFrame:
    """`rows` (with `source_file`, `source_row`, `source_file_hash`) with each row as the landing
    file holds it: `landing_text` ("header=value; …", in the file's own words; personal data
    and person ids withheld) and `landing_status` — `verbatim` when the file in the landing
    folder is still the one loaded (same SHA-256), else why it cannot be read back. Raw holds
    the rows typed; the landing file, identified by its SHA-256, is the record of what was read.
    `current_names` (file hash → name, from raw.<extract>_files) finds a file renamed since;
    `la_code`, the council traced in a landing folder of several (its files' identity)."""
    out = rows.copy()
    out["landing_text"] = pd.Series([None] * len(out), index=out.index, dtype=object)
    out["landing_status"] = pd.Series([None] * len(out), index=out.index, dtype=object)
    if out.empty:
        return out
    for (source_file, file_hash), group in out.groupby(
        ["source_file", "source_file_hash"], sort=False
    ):
        name = (current_names or {}).get(str(file_hash), str(source_file))
        status, texts = _read_back(
            extract, landing, name, str(file_hash), group, reader_settings or {}, la_code
        )
        out.loc[group.index, "landing_status"] = status
        out.loc[group.index, "landing_text"] = group["source_row"].map(texts)
    return out


def _read_back(
    extract: Extract,
    landing: Path,
    source_file: str,
    file_hash: str,
    group: pd.DataFrame,
    reader_settings: dict,
    la_code: str | None = None,
) -> tuple[str, dict[int, str]]:
    file_name = source_file.split("#", 1)[0]  # a sheet's rows come from its workbook
    path = landing / file_name
    if not path.is_file():
        return f"{source_file} is no longer in the landing folder", {}
    sha = sha256_file(path)
    # in a landing folder of several councils, a file's identity is its SHA-256 with its council's
    # code (ingest.load.council_content_hash)
    loaded_as = {sha} | ({council_content_hash(la_code, sha)} if la_code else set())
    if file_hash not in {part_hash(identity, source_file) for identity in loaded_as}:
        return f"{path.name} has changed since it was loaded (another SHA-256)", {}
    if path.suffix.lower() not in CSV_SUFFIXES + WORKBOOK_SUFFIXES:
        return f"{path.name}: read back from CSV and XLSX files only (a SEN2 return is not)", {}
    wanted = sorted({int(r) for r in group["source_row"]})
    aliases = load_aliases().get(extract.name, {})  # the header aliases the load matched by
    con = duckdb.connect()
    try:
        with tempfile.TemporaryDirectory(prefix="highneeds-trace-") as work_dir:
            parts = read_parts(
                con,
                path,
                file_name,
                extract,
                aliases,
                reader_settings,
                Path(work_dir),
            )
            part = next((p for p in parts if p.name == source_file), None)
            if part is None:
                return f"{source_file}: no such sheet in the file now", {}
            mapping = match_headers(extract, part.headers, aliases, part.name)
            # the contract's personal columns, person ids and exact dates of birth, and extra
            # headers that look like personal data (those ingest never stores)
            hidden = {
                mapping[c.name]
                for c in extract.columns
                if (c.personal or c.pseudonymise or c.name in WITHHELD_COLUMNS)
                and c.name in mapping
            } | {h for h in part.headers if h not in mapping.values() and is_personal_header(h)}
            frame = con.execute(
                f"SELECT * FROM {part.table} WHERE _source_row IN (SELECT unnest(?::BIGINT[]))",
                [wanted],
            ).df()
    except FileRejected as rejected:
        return f"cannot read it back: {rejected}", {}
    finally:
        con.close()
    texts = {
        int(record["_source_row"]): "; ".join(
            f"{header}={WITHHELD if header in hidden else _shown(record[header])}"
            for header in part.headers
        )
        for record in frame.to_dict("records")
    }
    return "verbatim", texts


def _shown(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
