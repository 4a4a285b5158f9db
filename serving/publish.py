"""The serving file BI reads: built beside it, closed, then swapped in with one atomic rename.

DuckDB lets a file have many readers or one writer, never both, so BI never opens the
warehouse. After a refresh whose gates all passed, `publish` writes a new DuckDB file next to
the serving file (`<serving>.next-<pid>`, same folder so the rename stays on one filesystem)
from the warehouse connection, with

* `marts` and `forecast`: copies of the warehouse's tables (with their descriptions as
  comments; money as DOUBLE, see `served_type`), person ids re-keyed when a separate serving
  key is set;
* `published`: tables safe to share outside the council, small counts suppressed
  (`serving.suppression`);
* `meta`: the publication (version id, refresh run, times, code version), the source files
  with their hashes and load ids, the check results, the provision types' lookup, and every
  table's row count and checksum,

every table and column described as the serving contract says (`serving.contract`: the
marts' dbt YAML, forecast.yml, published.yml, meta.yml; `serving.dictionary` lists them), and,
when asked, every table as a Parquet file whose metadata carries the same descriptions
(`serving.parquet`);

then checkpoints and detaches it (no `.wal` left), flushes it to disk, makes it owner-only and
`os.replace`s it onto the serving file. A reader that opens the serving file sees the old file or
the new one, whole; a reader holding a connection keeps the old version until it reconnects.
A crash at any point leaves the old serving file untouched and, at worst, a `.next-<pid>` file
that the next publish removes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import itertools
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from ingest.contracts import EXTRACTS
from ingest.provision_types import DFE_PLACEMENT_CATEGORY
from ingest.pseudonymise import keyed_hash_sql
from warehouse import table_exists
from warehouse.councils import councils, with_la_code

from . import contract as serving_contract
from .files import NEXT_MARKER, OWNER_ONLY, flush, make_folders, remove_files, sql_text
from .parquet import switch_parquet, write_parquet
from .suppression import (
    DEFAULT_THRESHOLD,
    EXTERNAL,
    TOTAL,
    Line,
    suppress,
    table_lines,
    with_totals,
)

SERVED_SCHEMAS = ("marts", "forecast")
PUBLISHED_SCHEMA = "published"
META_SCHEMA = "meta"
# BI tools embed their own DuckDB (ODBC and JDBC drivers, the DuckDB CLI, Metabase's and
# Superset's drivers), often older than ours: write the serving file in a storage format that
# every DuckDB from 1.0 on reads.
DEFAULT_STORAGE_VERSION = "v1.0.0"
_ALIAS = "serving_next"

# Columns that must never reach serving
# (the contract drops them at the door; this is the last check).
PERSONAL_COLUMNS = frozenset(
    {c.name for e in EXTRACTS.values() for c in e.columns if c.personal} | {"date_of_birth"}
)
# Keyed hashes of person ids: re-keyed for serving when HIGHNEEDS_SERVING_PSEUDONYM_KEY is set.
PERSON_ID_COLUMNS = frozenset(
    c.name for e in EXTRACTS.values() for c in e.columns if c.pseudonymise
)


class PublishError(RuntimeError):
    """The warehouse cannot be published as it is (the serving file is left as it was)."""


@dataclass(frozen=True)
class ServingOptions:
    serving_key: str | None = None  # re-key person ids in serving (differs from the warehouse's)
    suppression_threshold: int = DEFAULT_THRESHOLD
    parquet_dir: Path | None = None  # also write <dir>/<version>/<schema>/<table>.parquet
    storage_version: str = DEFAULT_STORAGE_VERSION  # oldest DuckDB storage format readers need
    file_mode: int = (
        OWNER_ONLY  # e.g. 0o640 to let a BI service account in the file's group read it
    )
    # councils held at their last good figures (a gate failed for them in this refresh): council
    # code → why. Their rows are copied from the serving file this version replaces.
    held: dict[str, str] = field(default_factory=dict)
    # what the forecast ran with (Settings.forecast_fingerprint): description, SHA-256
    forecast_settings: tuple[str, str] | None = None


@dataclass(frozen=True)
class Publication:
    version_id: str
    path: Path
    published_at: dt.datetime
    tables: dict[str, int]  # "schema.table" -> rows
    removed_stale: list[Path] = field(default_factory=list)
    parquet: Path | None = None
    # councils the last version served that this one does not (their files left the landing
    # folder): said aloud, since BI would otherwise just lose them
    no_longer_served: list[str] = field(default_factory=list)
    # the forecast ran with other settings than the version this one replaces: (that version,
    # its settings, these), said wherever the publish runs (the UI and the schedule too)
    forecast_settings_changed: tuple[str, str, str] | None = None


def settings_changed(
    previous: dict | None, now: tuple[str, str] | None
) -> tuple[str, str, str] | None:
    """(the previous version, its forecast settings, these) when `now` (described, SHA-256)
    differs from the settings the `previous` publication (read_publication) recorded; None when
    they are the same or either is not recorded."""
    if not (now and previous and previous.get("forecast_settings_sha256")):
        return None
    if now[1] == previous["forecast_settings_sha256"]:
        return None
    return previous["version_id"], previous.get("forecast_settings") or "not recorded", now[0]


@dataclass(frozen=True)
class SuppressedTable:
    """A table for sharing outside the council: counts below the threshold hidden, with totals
    (described in the serving contract's published.yml)."""

    name: str
    requires: str  # the served table it is made from
    source: str  # SQL both engines read: one row per council (la_code) and interior cell
    dims: tuple[str, ...]  # within one council: each council's table is suppressed on its own
    count: str
    lines: tuple[tuple[str, ...], ...]  # dims fixed along each published total
    hidden_with_count: tuple[str, ...] = ()  # measures hidden whenever the row's count is
    # of those, the ones that have a total (the others are blank on totals)
    summed: tuple[str, ...] = ()
    # (dim, {value: sign}): along the other dims, Σ sign × count is a figure another published
    # table gives (a caseload's change between censuses = new − ceased + moved in − moved out),
    # so it is a line too, whose total is that figure
    change_of: tuple[str, tuple[tuple[str, int], ...]] | None = None
    # two values of that dim whose totals over the rest are equal (moves in and out, across
    # every provision type)
    balanced: tuple[str, ...] = ()
    # (measure, measures): where `measure` (read, not published) is above 0 and below the
    # threshold, `measures` are hidden too: a unit cost over fewer full-time places than the
    # threshold is a few children's cost, and spend ÷ it gives the places back (the report
    # hides them so)
    hidden_below: tuple[str, tuple[str, ...]] | None = None
    # a column of the source that is a fact of the whole row's year (the first dim), no count:
    # published on every row of the year, totals included, after suppression (a part year's
    # spend had been published as a year's)
    per_year: str | None = None


# marts.fct_ehcp_flows' counts, published.ehcp_flows' `measure`
FLOW_MEASURES = ("new_plans", "ceased_plans", "moved_in", "moved_out")

SUPPRESSED_TABLES = (
    SuppressedTable(
        name="ehcp_plans_by_need",
        requires="marts.fct_ehcp_cohort",
        source=(
            "SELECT la_code, census_year, primary_need, provision_type, sum(plans) AS plans "
            "FROM marts.fct_ehcp_cohort GROUP BY ALL"
        ),
        dims=("census_year", "primary_need", "provision_type"),
        count="plans",
        lines=(("census_year", "primary_need"), ("census_year", "provision_type")),
    ),
    SuppressedTable(
        name="ehcp_plans_by_age_group",
        requires="marts.fct_ehcp_cohort",
        source=(
            "SELECT la_code, census_year, age_group, provision_type, sum(plans) AS plans "
            "FROM marts.fct_ehcp_cohort GROUP BY ALL"
        ),
        dims=("census_year", "age_group", "provision_type"),
        count="plans",
        lines=(("census_year", "age_group"), ("census_year", "provision_type")),
    ),
    SuppressedTable(
        name="ehcp_flows",
        requires="marts.fct_ehcp_flows",
        # an unpivot both engines read (DuckDB's UNPIVOT drops nulls too)
        source=" UNION ALL ".join(
            f"SELECT la_code, year, provision_type, '{measure}' AS measure, {measure} AS plans "
            f"FROM marts.fct_ehcp_flows WHERE {measure} IS NOT NULL"
            for measure in FLOW_MEASURES
        ),
        dims=("year", "measure", "provision_type"),
        count="plans",
        lines=(("year", "measure"),),
        change_of=(
            "measure",
            (("new_plans", 1), ("ceased_plans", -1), ("moved_in", 1), ("moved_out", -1)),
        ),
        balanced=("moved_in", "moved_out"),
    ),
    SuppressedTable(
        name="provision_spend",
        requires="marts.fct_provision_spend",
        source=(
            "SELECT la_code, financial_year, provision_type, placements, spend_gbp, unit_cost_gbp, "
            "fte_placements, is_complete_year FROM marts.fct_provision_spend"
        ),
        dims=("financial_year", "provision_type"),
        count="placements",
        lines=(("financial_year",),),
        hidden_with_count=("spend_gbp", "unit_cost_gbp"),
        summed=("spend_gbp",),
        hidden_below=("fte_placements", ("unit_cost_gbp",)),
        per_year="is_complete_year",
    ),
)
# The report's own table of the same census counts (its publication version; not served): plans
# by age at plan start, with each census's total.
REPORT_ONLY_TABLES = (
    SuppressedTable(
        name="ehcp_plans_by_start_band",
        requires="marts.fct_ehcp_cohort",
        source=(
            "SELECT la_code, census_year, age_at_plan_start_band, sum(plans) AS plans "
            "FROM marts.fct_ehcp_cohort GROUP BY ALL"
        ),
        dims=("census_year", "age_at_plan_start_band"),
        count="plans",
        lines=(("census_year",),),
    ),
)


@dataclass(frozen=True)
class SuppressedFamily:
    """Tables made from one mart whose totals are the same figures (a census's plans of a
    provision type are a total of plans by need and of plans by age group): suppressed as one,
    so a figure hidden in one is hidden in every other, and no table shows the complement
    another hid. `grouped`: sums of one dim's values by group are published too (the report's
    DfE placement categories: dim, the dims kept, value → group)."""

    tables: tuple[str, ...]
    grouped: tuple[str, tuple[str, ...], tuple[tuple[str, str], ...]] | None = None
    # (table, its year dim): the census counts whose totals per year and provision type (every
    # other dim `total`) the `change_of` lines of the family's other tables link, a year's change
    # being its census less the census before: caseload(t) = caseload(t − 1) + new − ceased +
    # moved in − moved out, so neither a hidden caseload nor a hidden flow comes back from the
    # other year's caseload and the flows shown
    caseload: tuple[str, str] | None = None


FAMILIES = (
    SuppressedFamily(
        tables=(
            "ehcp_plans_by_need",
            "ehcp_plans_by_age_group",
            "ehcp_plans_by_start_band",
            "ehcp_flows",
        ),
        grouped=("provision_type", ("census_year",), tuple(DFE_PLACEMENT_CATEGORY.items())),
        caseload=("ehcp_plans_by_need", "census_year"),
    ),
)
GROUP = "group"  # the grouped sums' column naming the group
_SPECS = {t.name: t for t in (*SUPPRESSED_TABLES, *REPORT_ONLY_TABLES)}

# Tables with no counts of children (money for the whole block) are shared as they are.
UNSUPPRESSED_TABLES = {
    "hnb_position": ("marts", "fct_hnb_position"),
    "dsg_other_blocks": ("marts", "fct_dsg_other_blocks"),
    "forecast_hnb_position": ("forecast", "hnb_position"),
}


def publish(
    con: duckdb.DuckDBPyConnection,
    serving: Path,
    *,
    run_id: str,
    code_version: str,
    options: ServingOptions = ServingOptions(),
    refresh_started_at: dt.datetime | None = None,
) -> Publication:
    """Build a new serving file from the warehouse connection `con` and swap it in atomically."""
    serving = Path(serving).resolve()
    make_folders(serving.parent, options.file_mode)
    removed = remove_stale_builds(serving)
    served_before = served_councils(serving)
    changed = settings_changed(read_publication(serving), options.forecast_settings)
    served = _served_tables(con)
    _refuse_personal_columns(con, served)
    published_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    version_id = f"{published_at:%Y%m%dT%H%M%S}Z-{uuid.uuid4().hex[:8]}"
    building = next_path(serving)
    remove_files(building)
    parquet_version = None
    con.execute(
        f"ATTACH '{sql_text(building)}' AS {_ALIAS} (STORAGE_VERSION "
        f"'{sql_text(options.storage_version)}')"
    )
    try:
        try:
            _copy_served_tables(con, served)
            if options.serving_key:
                _rekey_person_ids(con, options.serving_key)
            _write_published(con, options.suppression_threshold)
            whose = _hold_councils(con, serving, version_id, run_id, options.held)
            _write_meta(
                con, version_id, run_id, code_version, published_at, refresh_started_at, options
            )
            _write_councils(con, whose)
            tables = _write_table_checksums(con)
            if options.parquet_dir:
                parquet_version = write_parquet(
                    con, _ALIAS, Path(options.parquet_dir), version_id, options.file_mode
                )
            con.execute(f"CHECKPOINT {_ALIAS}")
        finally:
            con.execute(f"DETACH {_ALIAS}")
        wal = building.with_name(building.name + ".wal")
        if wal.exists():
            raise PublishError(
                f"{wal} is still there after the checkpoint: the new serving file is not complete"
            )
        flush(building)
        os.chmod(building, options.file_mode)
        # a .wal beside the serving file can only be left by someone who opened it to write: it
        # belongs to the old file, and DuckDB would replay it onto the new one
        serving.with_name(serving.name + ".wal").unlink(missing_ok=True)
        os.replace(building, serving)
        flush(serving.parent)
    except BaseException:
        remove_files(building)
        raise
    if parquet_version:
        switch_parquet(Path(options.parquet_dir), parquet_version)
    dropped = sorted(served_before - set(whose["la_code"]))
    return Publication(
        version_id, serving, published_at, tables, removed, parquet_version, dropped, changed
    )


def next_path(serving: Path) -> Path:
    """Where this process builds the next serving file: beside it, so the rename is atomic."""
    return serving.with_name(f"{serving.name}{NEXT_MARKER}{os.getpid()}")


def remove_stale_builds(serving: Path) -> list[Path]:
    """Remove half-built serving files (and their .wal) left by publishes that were killed."""
    removed = []
    builds = {
        p.with_name(p.name.removesuffix(".wal"))
        for p in serving.parent.glob(f"{serving.name}{NEXT_MARKER}*")
    }
    for path in sorted(builds):
        pid = path.name[len(serving.name) + len(NEXT_MARKER) :]
        if pid.isdigit() and int(pid) != os.getpid() and _alive(int(pid)):
            # another process is publishing right now (it cannot be this warehouse's refresh)
            continue
        remove_files(path)
        removed.append(path)
    return removed


@contextlib.contextmanager
def _attached(serving: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory connection with the serving file attached read-only as `served`, detached
    again after: DuckDB caches a database instance per path within a process, and a reader must
    not keep the serving file open."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{sql_text(serving)}' AS served (READ_ONLY)")
        try:
            yield con
        finally:
            con.execute("DETACH served")
    finally:
        con.close()


def served_councils(serving: Path) -> set[str]:
    """The councils whose figures a serving file holds (meta.councils; none without a file or
    that table): a council held before any version served it is listed there with none."""
    return {code for code, figures in served_figures(serving).items() if figures != "none"}


def served_figures(serving: Path) -> dict[str, str]:
    """Each council's figures in the serving file's meta.councils: 'this refresh', 'last good'
    or 'none' (held before any version served it); empty without a file or that table."""
    serving = Path(serving)
    if not serving.exists():
        return {}
    with _attached(serving) as con:
        has = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'served' "
            "AND schema_name = 'meta' AND table_name = 'councils'"
        ).fetchone()[0]
        rows = (
            con.execute("SELECT la_code, figures FROM served.meta.councils").fetchall()
            if has
            else []
        )
    return {str(code): str(figures) for code, figures in rows}


def read_publication(serving: Path) -> dict | None:
    """The serving file's `meta.publication` row, or None when there is no serving file yet."""
    serving = Path(serving)
    if not serving.exists():
        return None
    with _attached(serving) as con:
        frame = con.execute("SELECT * FROM served.meta.publication").df()
    return frame.iloc[0].to_dict() if len(frame) else None


def served_past_figures(serving: Path) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """What the serving file publishes for past periods (`checks.gates.past_figures` of its
    marts), and the landing files its version was built from (la_code, extract, file_hash,
    file_name): None and no files without a serving file or those tables (a file from before
    them). A council it holds at an earlier version's figures has no files here: its
    meta.source_files lists that night's landing folder, not the files behind those figures."""
    from checks.gates import past_figures

    files = pd.DataFrame(columns=["la_code", "extract", "file_hash", "file_name"])
    serving = Path(serving)
    if not serving.exists():
        return None, files
    with _attached(serving) as con:
        held = {
            (schema, table)
            for schema, table in con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'served'"
            ).fetchall()
        }
        # (the marts past_figures reads)
        marts = ("fct_hnb_position", "fct_provision_spend", "fct_ehcp_cohort")
        if not {("marts", table) for table in marts} <= held:
            return None, files
        figures = past_figures(con, database="served")
        if ("meta", "source_files") in held:
            files = con.execute(
                "SELECT CAST(la_code AS VARCHAR) AS la_code, extract, file_hash, file_name "
                "FROM served.meta.source_files WHERE in_landing"
            ).df()
        if ("meta", "councils") in held:
            own = con.execute(
                "SELECT CAST(la_code AS VARCHAR) FROM served.meta.councils "
                "WHERE figures = 'this refresh'"
            ).fetchall()
            files = files[files["la_code"].isin([code for (code,) in own])]
    return figures, files


def served_version(
    con: duckdb.DuckDBPyConnection, tables: Sequence[str] | None = None
) -> tuple[str, str]:
    """The version a connection to a serving file reads, after proving it reads that version
    whole: the rows and checksum of every table (or of `tables`, as "schema.table"), computed
    here, match `meta.tables`. Returns the version id and a digest of `meta.tables` (equal
    digests: equal content)."""
    version = con.execute("SELECT version_id FROM meta.publication").fetchall()[0][0]
    expected = con.execute(
        "SELECT table_schema, table_name, row_count, checksum FROM meta.tables ORDER BY 1, 2"
    ).fetchall()
    for schema, table, rows, checksum in expected:
        if tables is not None and f"{schema}.{table}" not in tables:
            continue
        found = tuple(con.execute(table_checksum_sql(f'{schema}."{table}"')).fetchall()[0])
        if found != (rows, checksum):
            raise PublishError(
                f"{schema}.{table} does not match version {version}: {found} != {(rows, checksum)}"
            )
    return version, hashlib.sha256(repr(expected).encode()).hexdigest()[:16]


# --- building the file ------------------------------------------------------------------------


def _served_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    placeholders = ", ".join("?" for _ in SERVED_SCHEMAS)
    return [
        (schema, name)
        for schema, name in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() "
            "WHERE database_name = current_database() "
            f"AND schema_name IN ({placeholders}) ORDER BY 1, 2",
            list(SERVED_SCHEMAS),
        ).fetchall()
    ]


def _refuse_personal_columns(con: duckdb.DuckDBPyConnection, served: list[tuple[str, str]]) -> None:
    found = [
        f"{schema}.{table}.{column}"
        for schema, table, column in con.execute(
            "SELECT schema_name, table_name, column_name FROM duckdb_columns() "
            "WHERE database_name = current_database()"
        ).fetchall()
        if (schema, table) in served and column.lower() in PERSONAL_COLUMNS
    ]
    if found:
        raise PublishError(
            f"personal data must never reach serving, but these columns hold it: {', '.join(found)}"
        )


def _copy_served_tables(con: duckdb.DuckDBPyConnection, served: list[tuple[str, str]]) -> None:
    comments = con.execute(
        "SELECT schema_name, table_name, comment FROM duckdb_tables() "
        "WHERE database_name = current_database()"
    ).fetchall()
    table_comment = {(s, t): c for s, t, c in comments}
    column_comments = con.execute(
        "SELECT schema_name, table_name, column_name, comment FROM duckdb_columns() "
        "WHERE database_name = current_database() AND comment IS NOT NULL AND comment <> ''"
    ).fetchall()
    for schema in SERVED_SCHEMAS:
        con.execute(f"CREATE SCHEMA {_ALIAS}.{schema}")
    for schema, table in served:
        target = f'{_ALIAS}.{schema}."{table}"'
        columns = _as_served(con.sql(f'SELECT * FROM {schema}."{table}"'))
        con.execute(f'CREATE TABLE {target} AS SELECT {columns} FROM {schema}."{table}"')
        if table_comment.get((schema, table)):
            con.execute(
                f"COMMENT ON TABLE {target} IS '{sql_text(table_comment[(schema, table)])}'"
            )
    for schema, table, column, comment in column_comments:
        if (schema, table) in served:
            con.execute(
                f'COMMENT ON COLUMN {_ALIAS}.{schema}."{table}"."{column}" IS '
                f"'{sql_text(comment)}'"
            )


def served_type(data_type: str) -> str:
    """The type BI reads a column as: DECIMAL (money to the penny) becomes DOUBLE, which pandas
    (through any driver), Power BI and Excel all read as a number, where DECIMAL reaches pandas as
    Python Decimal objects through SQLAlchemy, ODBC and Arrow. Every amount below £90 trillion
    keeps its pennies (round(x, 2) gives it back); the warehouse keeps DECIMAL, and the checks that
    money reconciles to the penny run there. HUGEINT (from sums) becomes BIGINT, which old ODBC
    clients can read."""
    if data_type.startswith("DECIMAL"):
        return "DOUBLE"
    return "BIGINT" if data_type == "HUGEINT" else data_type


def _as_served(relation: duckdb.DuckDBPyRelation) -> str:
    """The select list of a relation with every column in its served type (see served_type)."""
    return ", ".join(
        f'CAST("{c}" AS {served_type(str(t))}) AS "{c}"'
        if served_type(str(t)) != str(t)
        else f'"{c}"'
        for c, t in zip(relation.columns, relation.types, strict=False)
    )


def _rekey_person_ids(con: duckdb.DuckDBPyConnection, serving_key: str) -> None:
    """Replace each keyed hash of a person id by its keyed hash under the serving key, so serving
    ids cannot be joined to the warehouse's (or to another serving file's) without both keys.
    The id is a number (ingest.pseudonymise): its text, the digits, is what is hashed again."""
    for schema, table, column in _alias_columns(con):
        if column.lower() in PERSON_ID_COLUMNS:
            rekeyed = keyed_hash_sql(f'"{column}"::VARCHAR', serving_key)
            con.execute(f'UPDATE {_ALIAS}.{schema}."{table}" SET "{column}" = {rekeyed}')


def _alias_columns(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    return con.execute(
        "SELECT schema_name, table_name, column_name FROM duckdb_columns() WHERE database_name = ? "
        "ORDER BY 1, 2, column_index",
        [_ALIAS],
    ).fetchall()


def spec_of(name: str) -> SuppressedTable:
    """The suppressed table `name` (published, or the report's only)."""
    return _SPECS[name]


def family_of(name: str) -> SuppressedFamily:
    """The family a suppressed table is published with (a family of its own when none)."""
    return next((f for f in FAMILIES if name in f.tables), SuppressedFamily((name,)))


def suppressed_tables(sources: dict[str, pd.DataFrame], threshold: int) -> dict[str, pd.DataFrame]:
    """Each published table whose source rows (la_code first) `sources` holds, as published:
    each council's suppressed on its own, as its own refresh would publish it (its own years,
    totals and suppression), and the tables of a family together, with the report's tables of
    the same figures."""
    published = {}
    for spec in SUPPRESSED_TABLES:
        if spec.name not in sources or spec.name in published:
            continue
        family = family_of(spec.name)
        frames = {name: sources[name] for name in family.tables if name in sources}
        codes = sorted(set().union(*(set(f["la_code"]) for f in frames.values()))) or [""]
        parts: dict[str, list[pd.DataFrame]] = {name: [] for name in frames}
        for code in codes:
            council = {
                name: frame[frame["la_code"] == code].drop(columns="la_code")
                for name, frame in frames.items()
            }
            tables, _ = suppressed_family(council, threshold, family.grouped, family.caseload)
            for name, table in tables.items():
                parts[name].append(with_la_code(table, code))
        for name, frames_of in parts.items():
            if name in {t.name for t in SUPPRESSED_TABLES}:
                published[name] = _with_per_year(
                    pd.concat(frames_of, ignore_index=True), _SPECS[name], sources[name]
                )
    return published


def _with_per_year(
    table: pd.DataFrame, spec: SuppressedTable, source: pd.DataFrame
) -> pd.DataFrame:
    """`table` as published with the spec's `per_year` column from its source rows (every row of
    a council's year, totals too), before `suppressed`; both engines publish this frame."""
    if spec.per_year is None:
        return table
    year = spec.dims[0]
    flags = source.groupby(["la_code", year], as_index=False)[spec.per_year].agg(
        lambda values: bool(values.astype(bool).all())
    )
    table = table.merge(flags, on=["la_code", year], how="left")
    return table[[c for c in table.columns if c != "suppressed"] + ["suppressed"]]


def _write_published(con: duckdb.DuckDBPyConnection, threshold: int) -> None:
    """The `published` schema, computed from the warehouse's copies of the served tables."""
    con.execute(f"CREATE SCHEMA {_ALIAS}.{PUBLISHED_SCHEMA}")
    sources = {
        spec.name: con.sql(spec.source)
        for spec in (*SUPPRESSED_TABLES, *REPORT_ONLY_TABLES)
        if table_exists(con, *spec.requires.split("."))
    }
    published = suppressed_tables({n: r.df() for n, r in sources.items()}, threshold)
    for spec in SUPPRESSED_TABLES:
        if spec.name not in published:
            continue
        source = sources[spec.name]
        types = {c: served_type(str(t)) for c, t in zip(source.columns, source.types, strict=False)}
        pennies = {c for c, t in zip(source.columns, source.types, strict=False) if is_money(t)}
        frame = published[spec.name]
        types[spec.count] = (
            "BIGINT"  # a count (sum() gives HUGEINT, which some ODBC clients cannot read)
        )
        columns = ", ".join(
            published_cast(f'"{c}"', types[c], c in pennies)
            if c in types and c not in labelled_dims(spec)
            else f'"{c}"'
            for c in frame.columns
        )
        con.register("_frame", frame)
        try:
            con.execute(
                f'CREATE TABLE {_ALIAS}.{PUBLISHED_SCHEMA}."{spec.name}" AS SELECT {columns} '
                "FROM _frame"
            )
        finally:
            con.unregister("_frame")
        _describe(con, PUBLISHED_SCHEMA, spec.name)
    for name, (schema, table) in UNSUPPRESSED_TABLES.items():
        if table_exists(con, schema, table):
            # from the served copy: the same types BI sees there
            con.execute(
                f'CREATE TABLE {_ALIAS}.{PUBLISHED_SCHEMA}."{name}" AS SELECT * '
                f'FROM {_ALIAS}.{schema}."{table}"'
            )
            _describe(con, PUBLISHED_SCHEMA, name)


def is_money(data_type) -> bool:
    """A warehouse column of pounds and pence (DECIMAL(18, 2); Spark's decimal(18,2) too): its
    published copy is rounded to pence, as its totals are summed in floating point."""
    name = str(data_type).upper().replace(" ", "")
    return name.startswith("DECIMAL") and name.endswith(",2)")


def published_cast(quoted: str, data_type: str, money: bool) -> str:
    """A published column (`quoted` as the engine quotes it) in its served type; money to the
    penny: its totals are summed in floating point (a year's spend read 18082551.919999998; the
    ledger gives £18,082,551.92). The serving file's and the Spark catalogue's publish share it."""
    cast = f"CAST({quoted} AS {data_type})"
    return f"{f'round({cast}, 2)' if money else cast} AS {quoted}"


_LAST_GOOD = "serving_last_good"
# served tables with la_code whose rows are not a council's figures: a held council whose last
# version had only these rows had no figures to keep (fct_data_quality keeps a council's files
# after its folder has gone)
NOT_FIGURES = {("marts", "fct_data_quality")}


def _hold_councils(
    con: duckdb.DuckDBPyConnection,
    serving: Path,
    version_id: str,
    run_id: str,
    held: dict[str, str],
) -> pd.DataFrame:
    """Each held council's rows of the new file's marts, forecast and published tables replaced
    by its rows in the serving file this version replaces: its last good figures, as that
    version served them (its person ids already re-keyed). Returns one row per council saying
    whose figures the new file serves (meta.councils)."""
    if not held:
        return whose_figures(councils(con), held, version_id, run_id, {})
    served = con.execute(
        "SELECT DISTINCT schema_name, table_name FROM duckdb_columns() "
        "WHERE database_name = ? AND schema_name IN (?, ?, ?) AND column_name = 'la_code' "
        "ORDER BY 1, 2",
        [_ALIAS, *SERVED_SCHEMAS, PUBLISHED_SCHEMA],
    ).fetchall()
    codes = sorted(held)
    marks = ", ".join("?" for _ in codes)
    last_good: dict[str, tuple[str | None, str | None]] = {}
    kept: set[str] = set()  # the held councils the last version served rows of
    attached = serving.exists()
    if attached:
        con.execute(f"ATTACH '{sql_text(serving)}' AS {_LAST_GOOD} (READ_ONLY)")
    try:
        old_tables = (
            {
                (schema, table): {
                    column
                    for (column,) in con.execute(
                        "SELECT column_name FROM duckdb_columns() WHERE database_name = ? "
                        "AND schema_name = ? AND table_name = ?",
                        [_LAST_GOOD, schema, table],
                    ).fetchall()
                }
                for schema, table in con.execute(
                    "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ?",
                    [_LAST_GOOD],
                ).fetchall()
            }
            if attached
            else {}
        )
        for schema, table in served:
            target = f'{_ALIAS}.{schema}."{table}"'
            con.execute(f"DELETE FROM {target} WHERE la_code IN ({marks})", codes)
            old_columns = old_tables.get((schema, table), set())
            if "la_code" not in old_columns:
                continue  # a table the last version did not serve: none of its rows
            new_columns = [
                c
                for (c,) in con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE database_name = ? "
                    "AND schema_name = ? AND table_name = ? ORDER BY column_index",
                    [_ALIAS, schema, table],
                ).fetchall()
            ]
            both = ", ".join(f'"{c}"' for c in new_columns if c in old_columns)
            con.execute(
                f"INSERT INTO {target} ({both}) SELECT {both} "
                f'FROM {_LAST_GOOD}.{schema}."{table}" WHERE la_code IN ({marks})',
                codes,
            )
            if (schema, table) in NOT_FIGURES:
                continue  # it keeps every file ever loaded: rows there are not figures served
            kept.update(
                code
                for (code,) in con.execute(
                    f"SELECT DISTINCT la_code FROM {target} WHERE la_code IN ({marks})", codes
                ).fetchall()
            )
        if ("meta", "publication") in old_tables:
            version, run = con.execute(
                f"SELECT version_id, run_id FROM {_LAST_GOOD}.meta.publication"
            ).fetchall()[0]
            # a council held in that version too served figures older than that version
            older = (
                {
                    code: (v, r)
                    for code, v, r in con.execute(
                        "SELECT la_code, figures_version_id, figures_run_id "
                        f"FROM {_LAST_GOOD}.meta.councils"
                    ).fetchall()
                }
                if ("meta", "councils") in old_tables
                else {}
            )
            last_good = {code: older.get(code, (version, run)) for code in kept}
    finally:
        if attached:
            con.execute(f"DETACH {_LAST_GOOD}")
    return whose_figures(councils(con), held, version_id, run_id, last_good)


def whose_figures(
    codes: list[str],
    held: dict[str, str],
    version_id: str,
    run_id: str,
    last_good: dict[str, tuple[str | None, str | None]],
) -> pd.DataFrame:
    """meta.councils: the figures of each council in `codes` and each held one (code → why) are
    this version's, or the last good ones a held council's rows were kept from (code → version
    and run, from `last_good`), or none when no earlier version served it."""
    rows = [(code, "this refresh", version_id, run_id, None) for code in codes if code not in held]
    for code in sorted(held):
        version, run = last_good.get(code, (None, None))
        rows.append((code, "last good" if version else "none", version, run, held[code]))
    return pd.DataFrame(sorted(rows), columns=COUNCIL_COLUMNS)


COUNCIL_COLUMNS = ["la_code", "figures", "figures_version_id", "figures_run_id", "held_because"]


def _write_councils(con: duckdb.DuckDBPyConnection, whose: pd.DataFrame) -> None:
    con.register("_councils", whose)
    try:
        con.execute(
            f"CREATE TABLE {_ALIAS}.{META_SCHEMA}.councils AS SELECT la_code::VARCHAR AS la_code, "
            "figures::VARCHAR AS figures, figures_version_id::VARCHAR AS figures_version_id, "
            "figures_run_id::VARCHAR AS figures_run_id, held_because::VARCHAR AS held_because "
            "FROM _councils ORDER BY la_code"
        )
    finally:
        con.unregister("_councils")
    _describe(con, META_SCHEMA, "councils")


def _describe(con, schema: str, table: str) -> None:
    """Comment a published or meta table and its columns as the serving contract describes them
    (a table missing from the contract is a KeyError: describe it there)."""
    contract = serving_contract.table(schema, table)
    if contract.description:
        target = f'{_ALIAS}.{schema}."{table}"'
        con.execute(f"COMMENT ON TABLE {target} IS '{sql_text(contract.description)}'")
    _comment_columns(con, schema, table, contract.descriptions())


def _comment_columns(con, schema: str, table: str, described: dict[str, str]) -> None:
    columns = {c for s, t, c in _alias_columns(con) if (s, t) == (schema, table)}
    for column, comment in described.items():
        if column in columns:
            con.execute(
                f'COMMENT ON COLUMN {_ALIAS}.{schema}."{table}"."{column}" IS '
                f"'{sql_text(comment)}'"
            )


def labelled_dims(spec: SuppressedTable) -> list[str]:
    """Dims summed over by some total: their total rows say 'total' (so they are text)."""
    return [d for d in spec.dims if any(d not in line for line in spec.lines)]


def suppressed_table(cells: pd.DataFrame, spec: SuppressedTable, threshold: int) -> pd.DataFrame:
    """Every combination of the dims' values (absent ones count 0) with the totals along each
    line, and `suppressed`: the hidden counts, and the measures hidden with them, are null."""
    return suppressed_family({spec.name: cells}, threshold)[0][spec.name]


def suppressed_family(
    cells: dict[str, pd.DataFrame],
    threshold: int,
    grouped: tuple[str, tuple[str, ...], tuple[tuple[str, str], ...]] | None = None,
    caseload: tuple[str, str] | None = None,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame | None]:
    """One council's tables (name → cells, as its spec's source gives them without la_code),
    suppressed as one: each as `suppressed_table` lays it out, with a figure two of them hold
    (the same values of their shared dims, every other dim `total`) hidden in both or neither,
    and the `grouped` sums (the dims kept, `group`, the count, `suppressed`; None without).
    `caseload` (`SuppressedFamily.caseload`): the census table the change lines link."""
    specs = [_SPECS[name] for name in cells]
    tables = {
        s.name: with_totals(cells[s.name], s.dims, s.lines, [s.count, *s.summed]) for s in specs
    }
    starts, lines = family_lines(tables, caseload)
    start = sum(len(table) for table in tables.values())
    # a complement whose money is £0 (a type paid for centrally) hides none of a hidden
    # count's money: the year's total less the shown cells would give it back
    guessable = [
        (tables[s.name][list(s.summed)].fillna(0) == 0).any(axis=1).to_numpy()
        if s.summed
        else np.zeros(len(tables[s.name]), dtype=bool)
        for s in specs
    ]
    values = [tables[s.name][s.count].fillna(0).to_numpy(dtype=float) for s in specs]
    groups = None
    if grouped is not None:
        base = next((s for s in specs if grouped[0] in s.dims), None)
        if base is not None:
            groups, group_lines = _group_sums(
                base, tables[base.name], starts[base.name], start, grouped
            )
            lines += group_lines
            values.append(groups[base.count].to_numpy(dtype=float))
            guessable.append(np.zeros(len(groups), dtype=bool))
    frame = pd.DataFrame({"value": np.concatenate(values) if values else []})
    hidden = (
        suppress(frame, "value", lines, threshold, guessable=np.concatenate(guessable))
        .notna()
        .to_numpy()
        if len(frame)
        else np.zeros(0, dtype=bool)
    )
    published = {
        s.name: _as_published(
            tables[s.name],
            s,
            hidden[starts[s.name] : starts[s.name] + len(tables[s.name])],
            threshold,
        )
        for s in specs
    }
    if groups is not None:
        own = hidden[start:]
        groups[base.count] = groups[base.count].astype("Float64").mask(own)
        groups["suppressed"] = own
    return published, groups


def family_lines(
    tables: dict[str, pd.DataFrame], caseload: tuple[str, str] | None = None
) -> tuple[dict[str, int], list[Line]]:
    """A family's tables (name → the table laid out with its totals, as `with_totals` or as
    published) end to end: where each starts, and every line over them: each table's totals,
    its change lines (linked to `caseload`'s census totals) and the figures two tables hold."""
    specs = [_SPECS[name] for name in tables]
    starts, start = {}, 0
    for spec in specs:
        starts[spec.name] = start
        start += len(tables[spec.name])
    census = _census_cells(tables, starts, caseload)
    lines = []
    for spec in specs:
        table = tables[spec.name]
        lines += [
            _shifted(line, starts[spec.name]) for line in table_lines(table, spec.dims, spec.lines)
        ]
        lines += change_lines(table, spec, starts[spec.name], census)
    return starts, lines + _same_figures(specs, tables, starts)


def _as_published(
    table: pd.DataFrame, spec: SuppressedTable, hidden: np.ndarray, threshold: int
) -> pd.DataFrame:
    """`table` with its hidden counts, and the measures hidden with them, null; sorted with each
    dim's total after its values."""
    table = table.copy()
    for measure in (spec.count, *spec.hidden_with_count):
        table[measure] = table[measure].astype("Float64").mask(hidden)
    if spec.hidden_below is not None and spec.hidden_below[0] in table.columns:
        small, measures = spec.hidden_below
        few = (table[small] > 0) & (table[small] < threshold)
        for measure in measures:
            table[measure] = table[measure].mask(few.fillna(False).to_numpy(dtype=bool))
    table["suppressed"] = hidden
    ordering = []
    for dim in spec.dims:
        table[f"_total_{dim}"] = table[dim].eq(TOTAL)
        ordering += [f"_total_{dim}", dim]
    table = table.sort_values(ordering, kind="stable", ignore_index=True)
    return table[[*spec.dims, spec.count, *spec.hidden_with_count, "suppressed"]]


def _shifted(line: Line, start: int) -> Line:
    total = line.total if line.total == EXTERNAL else line.total + start
    return Line(line.members + start, total, line.signs)


def _same_figures(
    specs: list[SuppressedTable], tables: dict[str, pd.DataFrame], starts: dict[str, int]
) -> list[Line]:
    """A line "this cell = that cell" for each figure two tables both hold: the same values of
    the dims they share, every other dim of each `total`."""
    lines = []
    for first, second in itertools.combinations(specs, 2):
        shared = [d for d in first.dims if d in second.dims]
        if not shared:
            continue

        def keyed(spec: SuppressedTable, shared: list[str]) -> dict[tuple[str, ...], int]:
            table = tables[spec.name]
            other = [d for d in spec.dims if d not in shared]
            rows = table[table[other].eq(TOTAL).all(axis=1)] if other else table
            return {
                tuple(str(v) for v in key): starts[spec.name] + int(position)
                for position, key in zip(
                    rows.index, rows[shared].itertuples(index=False), strict=True
                )
            }

        ones, others = keyed(first, shared), keyed(second, shared)
        lines += [Line(np.array([ones[k]]), others[k]) for k in ones.keys() & others.keys()]
    return lines


def _group_sums(
    spec: SuppressedTable,
    table: pd.DataFrame,
    offset: int,
    start: int,
    grouped: tuple[str, tuple[str, ...], tuple[tuple[str, str], ...]],
) -> tuple[pd.DataFrame, list[Line]]:
    """The sums of `grouped`'s dim's values by group (positions from `start`), with their
    lines: each group's sum of its values, and the groups' sum of every value's total."""
    dim, kept, group_of = grouped[0], list(grouped[1]), dict(grouped[2])
    other = [d for d in spec.dims if d != dim and d not in kept]
    inside = table[dim].ne(TOTAL) & table[kept].ne(TOTAL).all(axis=1)
    inside &= table[other].eq(TOTAL).all(axis=1) if other else True
    members = table[inside].assign(**{GROUP: lambda t: t[dim].map(lambda v: group_of.get(v, v))})
    rows, lines = [], []
    for position, (key, group) in enumerate(members.groupby([*kept, GROUP], sort=False)):
        rows.append((*key, group[spec.count].fillna(0).sum()))
        lines.append(Line(group.index.to_numpy() + offset, start + position))
    groups = pd.DataFrame(rows, columns=[*kept, GROUP, spec.count])
    totals = table[table[dim].eq(TOTAL) & table[kept].ne(TOTAL).all(axis=1)]
    if other:
        totals = totals[totals[other].eq(TOTAL).all(axis=1)]
    for position, key in zip(totals.index, totals[kept].itertuples(index=False), strict=True):
        these = groups.index[(groups[kept] == pd.Series(key, index=kept)).all(axis=1)]
        if len(these):
            lines.append(Line(these.to_numpy() + start, offset + int(position)))
    return groups, lines


def suppressed_cells(name: str, cells: pd.DataFrame, threshold: int) -> pd.Series:
    """Whether published.`name` hides each of `cells`' rows and their totals (`total` in a dim),
    by its dims: the report hides the same cells as the serving file."""
    spec = _SPECS[name]
    table = suppressed_table(cells, spec, threshold)
    return table.set_index(list(spec.dims))["suppressed"]


def _census_cells(
    tables: dict[str, pd.DataFrame], starts: dict[str, int], caseload: tuple[str, str] | None
) -> dict[tuple[int, str], int]:
    """(year, provision type) → the position, in the family's frame, of the caseload table's
    census total of that type (its other dims `total`); empty without a caseload table."""
    if caseload is None or caseload[0] not in tables:
        return {}
    name, year = caseload
    table = tables[name]
    other = [d for d in _SPECS[name].dims if d not in (year, "provision_type")]
    rows = table[table[other].eq(TOTAL).all(axis=1)] if other else table
    return {
        (int(y), str(p)): starts[name] + int(position)
        for position, y, p in zip(rows.index, rows[year], rows["provision_type"], strict=True)
    }


def change_lines(
    table: pd.DataFrame,
    spec: SuppressedTable,
    start: int = 0,
    census: dict[tuple[int, str], int] | None = None,
) -> list[Line]:
    """`spec.change_of`'s lines (positions from `start`): for each value of the other dims (a
    year and provision type, its total included), the signed cells whose sum another published
    table gives: with `census` (`_census_cells`) holding that year's and the year before's
    caseload of the type, "caseload before + Σ signed cells = caseload" over those two cells,
    else a figure published elsewhere (as if known: hiding as though it were)."""
    if spec.change_of is None:
        return []
    dim, signed = spec.change_of
    sign_of = dict(signed)
    census = census or {}
    others = [d for d in spec.dims if d != dim]
    lines = []
    for key, group in table[table[dim].isin(sign_of)].groupby(others, sort=False):
        members = group.index.to_numpy() + start
        signs = group[dim].map(sign_of).to_numpy(dtype=float)
        year, provision = key  # the other dims: a year and a provision type
        now = census.get((int(year), str(provision)))
        before = census.get((int(year) - 1, str(provision)))
        if now is not None and before is not None:
            lines.append(Line(np.append(members, before), now, np.append(signs, 1.0)))
        else:
            lines.append(Line(members, EXTERNAL, signs))
        # over every provision type (the totals), moves in are moves out: a known 0 too, else
        # the totals' change line gave a hidden total back from the other
        if (group[others] == TOTAL).any(axis=None):
            moves = group[group[dim].isin(spec.balanced)]
            if len(moves) == 2:
                first = (moves[dim] == spec.balanced[0]).to_numpy()
                lines.append(
                    Line(moves.index.to_numpy() + start, EXTERNAL, np.where(first, 1.0, -1.0))
                )
    return lines


def _write_meta(
    con, version_id, run_id, code_version, published_at, refresh_started_at, options
) -> None:
    meta = f"{_ALIAS}.{META_SCHEMA}"
    con.execute(f"CREATE SCHEMA {meta}")
    con.execute(
        f"""
        CREATE TABLE {meta}.publication AS SELECT
            ?::VARCHAR AS version_id, ?::VARCHAR AS run_id, ?::TIMESTAMP AS refresh_started_at_utc,
            ?::TIMESTAMP AS published_at_utc, ?::VARCHAR AS code_version,
            ?::INTEGER AS suppression_threshold, ?::VARCHAR AS person_ids,
            ?::VARCHAR AS forecast_settings, ?::VARCHAR AS forecast_settings_sha256
        """,
        [
            version_id,
            run_id,
            refresh_started_at,
            published_at,
            code_version,
            options.suppression_threshold,
            "re-keyed with the serving key"
            if options.serving_key
            else "the warehouse's keyed hashes",
            *(options.forecast_settings or (None, None)),
        ],
    )
    if table_exists(con, "raw", "landing_files"):
        # the rejection message is left out: it can quote a line of the file
        con.execute(
            f"""
            CREATE TABLE {meta}.source_files AS
            SELECT la_code, extract, file_name, file_hash, content_hash, file_bytes, status,
                   load_id, loaded_at, last_seen_load_id, in_landing,
                   rows_read, rows_valid, rows_duplicate, rows_quarantined
            FROM raw.landing_files ORDER BY extract, file_seq
            """
        )
    if table_exists(con, "meta", "check_results"):
        con.execute(f"CREATE TABLE {meta}.check_results AS SELECT * FROM meta.check_results")
    if table_exists(con, "staging", "provision_types"):
        # the reviewed seed (dbt/seeds/provision_types.csv), with the DfE category each counts in
        categories = pd.DataFrame(
            list(DFE_PLACEMENT_CATEGORY.items()),
            columns=["provision_type", "dfe_placement_category"],
        )
        con.register("_categories", categories)
        try:
            con.execute(
                f"CREATE TABLE {meta}.provision_types AS SELECT p.*, c.dfe_placement_category "
                "FROM staging.provision_types AS p LEFT JOIN _categories AS c "
                "USING (provision_type) ORDER BY p.sort_order"
            )
        finally:
            con.unregister("_categories")
    for (table,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = ? "
        "ORDER BY 1",
        [_ALIAS, META_SCHEMA],
    ).fetchall():
        _describe(con, META_SCHEMA, table)


def _write_table_checksums(con) -> dict[str, int]:
    """Row count and a checksum of every served table, so a reader can prove what it read is one
    version: the same numbers computed in its own connection must match these."""
    rows = []
    for schema, table in con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() "
        "WHERE database_name = ? AND schema_name IN (?, ?, ?) ORDER BY 1, 2",
        [_ALIAS, *SERVED_SCHEMAS, PUBLISHED_SCHEMA],
    ).fetchall():
        count, checksum = con.execute(
            table_checksum_sql(f'{_ALIAS}.{schema}."{table}"')
        ).fetchall()[0]
        rows.append((schema, table, count, checksum))
    con.execute(
        f"CREATE TABLE {_ALIAS}.{META_SCHEMA}.tables (table_schema VARCHAR, table_name VARCHAR, "
        "row_count BIGINT, checksum VARCHAR)"
    )
    con.executemany(f"INSERT INTO {_ALIAS}.{META_SCHEMA}.tables VALUES (?, ?, ?, ?)", rows)
    _describe(con, META_SCHEMA, "tables")
    return {f"{schema}.{table}": count for schema, table, count, _ in rows}


def table_checksum_sql(relation: str) -> str:
    """Rows and an order-independent checksum of a table's content."""
    return f"SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0)::VARCHAR FROM {relation} AS t"


# --- small helpers ----------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
