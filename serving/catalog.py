"""The serving schemas on Spark (or Databricks): what `serving.publish` writes into a DuckDB
serving file, published in the Spark catalogue instead, for BI that reads the platform.

A catalogue has no file to swap, so a version is tables, and what BI reads is views over them
(prefix `serving_`, `ServingOptions` as for the file):

    serving_versions.<schema>__<table>__v<version>   each version's tables (Parquet, or Delta on
                                                     Databricks): this version's and the last one's
    serving_marts.<table>, serving_forecast.<table>,  views over this version's tables, described
    serving_published.<table>, serving_meta.<table>   (table and column comments)

The content is the file's, schema for schema: marts and forecast copied with money as DOUBLE
(`publish.served_type`), `published` suppressed the same way (`SUPPRESSED_TABLES`, from the same
SQL), `meta` the publication, councils (held ones at their last good figures), source files,
check results, provision types, and every table's rows and checksum (Spark's `xxhash64`, so
not the file's numbers). `make test-spark` publishes on both engines and compares them.

Publishing writes every table of the new version first; a failure drops them and leaves the
views on the last version. Then each view is replaced (one catalogue operation each,
`meta.publication` last): a reader during those few operations can see some views on the new
version and some on the last, and `meta.tables` lets it check (Spark has no multi-table
transaction; the file's single rename has no equivalent here). The last version's tables are kept,
so a query that started on them finishes; older versions are dropped. One publish runs at a time:
each claims the schemas first (`claim_catalog`) and a second is refused while the first holds
them, as the refresh lock keeps a second refresh off the file. Person ids are re-keyed
only in the file: the catalogue refuses a serving key rather than publish the warehouse's ids
under a setting that says otherwise.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
import uuid
from collections.abc import Callable
from typing import Any

import pandas as pd

from ingest.provision_types import DFE_PLACEMENT_CATEGORY
from warehouse import SparkWarehouse, spark_literal
from warehouse.councils import councils

from . import contract as serving_contract
from .publish import (
    NOT_FIGURES,
    PERSONAL_COLUMNS,
    PUBLISHED_SCHEMA,
    REPORT_ONLY_TABLES,
    SERVED_SCHEMAS,
    SUPPRESSED_TABLES,
    UNSUPPRESSED_TABLES,
    PublishError,
    ServingOptions,
    is_money,
    labelled_dims,
    published_cast,
    served_type,
    suppressed_tables,
    whose_figures,
)

DEFAULT_PREFIX = "serving_"
VERSIONS = "versions"
CLAIM = "publishing"  # <prefix>versions.publishing: held while a publish runs (claim_catalog)
SCHEMAS = (*SERVED_SCHEMAS, PUBLISHED_SCHEMA, "meta")
# a stored table's name ends in its version's tag: __v20261201t194328z_b5ff7f02
_TAG = re.compile(r"__v(\d{8}t\d{6}z_[0-9a-f]{8})\b")
_SOURCE_FILE_COLUMNS = (
    "la_code, extract, file_name, file_hash, content_hash, file_bytes, status, load_id, loaded_at, "
    "last_seen_load_id, in_landing, rows_read, rows_valid, rows_duplicate, rows_quarantined"
)


@dataclasses.dataclass(frozen=True)
class CatalogPublication:
    version_id: str
    prefix: str  # the views are in <prefix>marts, <prefix>forecast, …
    published_at: dt.datetime
    tables: dict[str, int]  # "schema.table" -> rows
    dropped_versions: list[str]


def publish_catalog(
    target: SparkWarehouse,
    *,
    run_id: str,
    code_version: str,
    options: ServingOptions | None = None,
    refresh_started_at: dt.datetime | None = None,
    prefix: str = DEFAULT_PREFIX,
    file_format: str = "parquet",
) -> CatalogPublication:
    """Publish the Spark warehouse's marts and forecast as the serving schemas (module doc)."""
    options = options or ServingOptions()
    if options.serving_key:
        raise PublishError(
            "re-keying person ids for serving (HIGHNEEDS_SERVING_PSEUDONYM_KEY) is done in the "
            "DuckDB serving file only; publish to the catalogue without it"
        )
    if not re.fullmatch(r"[a-z][a-z0-9_]*", prefix):
        raise PublishError(f"serving schema prefix {prefix!r}: lower-case letters, digits and _")
    session = target.session
    published_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    version_id = f"{published_at:%Y%m%dT%H%M%S}Z-{uuid.uuid4().hex[:8]}"
    build = _Build(target, prefix, version_id, file_format, options.held)
    served = [(s, t) for s in SERVED_SCHEMAS for t in _tables(session, s)]
    _refuse_personal_columns(session, served)
    session.sql(f"CREATE DATABASE IF NOT EXISTS {build.store}")
    claimed = claim_catalog(session, build.store, version_id, run_id, file_format)
    try:
        try:
            for schema, table in served:
                build.copy(schema, table)
            build.suppressed(options.suppression_threshold)
            for name, (schema, table) in UNSUPPRESSED_TABLES.items():
                if (schema, table) in build.written:
                    build.write(
                        PUBLISHED_SCHEMA, name, f"SELECT * FROM {build.stored(schema, table)}"
                    )
            whose = build.councils(run_id)
            _write_meta(build, run_id, code_version, published_at, refresh_started_at, options)
            build.frame("meta", "councils", whose)
            tables = build.checksums()
        except BaseException:
            _drop_versions(session, build.store, lambda tag: tag == build.tag)
            raise
        last = build.swap()
        dropped = _drop_versions(session, build.store, lambda tag: tag not in (build.tag, last))
    finally:
        release_catalog(session, claimed, version_id)
    return CatalogPublication(version_id, prefix, published_at, tables, dropped)


def claim_catalog(
    session, store: str, version_id: str, run_id: str, file_format: str = "parquet"
) -> str:
    """Claim the serving schemas for one publish: two at once would interleave their views and
    each drop the other's new tables. The claim is a table (`<store>.publishing`, its properties
    naming the publish) that the catalogue creates for one caller only; a publish that finds it
    is refused with the holder's name. Returns the claim's table name."""
    name = f"{store}.{CLAIM}"
    holder = _claim_holder(session, name)
    if holder is None:
        properties = ", ".join(
            f"{spark_literal(key)} = {spark_literal(value)}"
            for key, value in (
                ("version_id", version_id),
                ("run_id", run_id),
                ("claimed_at", f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"),
            )
        )
        try:
            session.sql(
                f"CREATE TABLE {name} (version_id STRING) USING {file_format} "
                f"TBLPROPERTIES ({properties})"
            )
            return name
        except Exception:
            holder = _claim_holder(session, name)  # another publish created it first
            if holder is None:
                raise
    raise PublishError(
        f"another publish holds the serving schemas ({name}: version "
        f"{holder.get('version_id')}, run {holder.get('run_id')}, since "
        f"{holder.get('claimed_at')}); publish when it has finished. If none is running (one "
        f"was stopped before it could let go), drop {name} and publish again"
    )


def release_catalog(session, name: str, version_id: str) -> None:
    """Let go of a claim this publish (`version_id`) holds; another's is left alone."""
    holder = _claim_holder(session, name)
    if holder is not None and holder.get("version_id") == version_id:
        session.sql(f"DROP TABLE IF EXISTS {name}")


def _claim_holder(session, name: str) -> dict[str, str] | None:
    if not session.catalog.tableExists(name):
        return None
    return {row[0]: row[1] for row in session.sql(f"SHOW TBLPROPERTIES {name}").collect()}


def read_catalog_publication(target: SparkWarehouse, prefix: str = DEFAULT_PREFIX) -> dict | None:
    """The serving schemas' `meta.publication` row, or None before the first publish."""
    if not _view_exists(target.session, f"{prefix}meta", "publication"):
        return None
    rows = target.frame(f"SELECT * FROM {prefix}meta.publication")
    return rows.iloc[0].to_dict() if len(rows) else None


class _Build:
    """One version's tables in the store schema, and what the views over them will say."""

    def __init__(self, target, prefix, version_id, file_format, held):
        self.target = target
        self.session = target.session
        self.prefix = prefix
        self.store = f"{prefix}{VERSIONS}"
        self.tag = re.sub(r"[^a-z0-9]", "_", version_id.lower())
        self.version_id = version_id
        self.file_format = file_format
        self.held = dict(held)
        self.written: dict[tuple[str, str], dict[str, str | None]] = {}  # → column comments
        self.comments: dict[tuple[str, str], str | None] = {}
        self.kept: set[str] = set()  # held councils whose last good rows were found

    def stored(self, schema: str, table: str) -> str:
        return f"{self.store}.{schema}__{table}__v{self.tag}"

    def copy(self, schema: str, table: str) -> None:
        """A mart or forecast table, money as DOUBLE, described as the warehouse describes it
        (else as the serving contract does)."""
        fields = self.session.table(f"{schema}.{table}").schema.fields
        columns = ", ".join(
            f"CAST(`{f.name}` AS {served_type(f.dataType.simpleString().upper())}) AS `{f.name}`"
            if f.dataType.simpleString().startswith("decimal")
            else f"`{f.name}`"
            for f in fields
        )
        described = _contract_or_none(schema, table)
        self.write(
            schema,
            table,
            f"SELECT {columns} FROM {schema}.{table}",
            table_comment=_table_comment(self.session, f"{schema}.{table}")
            or (described.description if described else None),
            column_comments={
                f.name: f.metadata.get("comment")
                or (described.describe(f.name) if described else None)
                for f in fields
            },
        )

    def suppressed(self, threshold: int) -> None:
        """The `published` tables, suppressed as the serving file's (`suppressed_tables`)."""
        specs = [
            spec
            for spec in (*SUPPRESSED_TABLES, *REPORT_ONLY_TABLES)
            if tuple(spec.requires.split(".")) in self.written
        ]
        published = suppressed_tables(
            {spec.name: self.target.frame(spec.source) for spec in specs}, threshold
        )
        for spec in SUPPRESSED_TABLES:
            if spec.name not in published:
                continue
            source = self.session.sql(spec.source)
            types = {f.name: served_type(f.dataType.simpleString().upper()) for f in source.schema}
            types[spec.count] = "BIGINT"
            labelled = labelled_dims(spec)
            frame = published[spec.name]
            casts = {c: types[c] for c in frame.columns if c in types and c not in labelled}
            pennies = {f.name for f in source.schema if is_money(f.dataType.simpleString())}
            self.frame(PUBLISHED_SCHEMA, spec.name, frame, casts, pennies)

    def frame(
        self,
        schema: str,
        table: str,
        frame: pd.DataFrame,
        casts: dict[str, str] | None = None,
        pennies: set[str] = frozenset(),
    ) -> None:
        """A pandas frame as a table of the version, described as the serving contract says;
        `pennies`' columns rounded to pence (publish.is_money)."""
        view = f"_serving_{table}"
        self.target.typed(frame, {}).createOrReplaceTempView(view)  # typed: no inference
        try:
            columns = ", ".join(
                published_cast(f"`{c}`", casts[c], c in pennies)
                if casts and c in casts
                else f"`{c}`"
                for c in frame.columns
            )
            self.write(schema, table, f"SELECT {columns} FROM {view}")
        finally:
            self.target.unregister(view)

    def write(
        self,
        schema: str,
        table: str,
        select: str,
        table_comment: str | None = None,
        column_comments: dict[str, str | None] | None = None,
    ) -> None:
        """`select` as the version's table; a held council's rows are those the views serve now
        (its last good figures), columns the last version lacked left empty."""
        types = dict(self.session.sql(select).dtypes)  # column → type, in order
        if self.held and "la_code" in types and schema != "meta":
            select = self._holding(schema, table, select, types)
        self.session.sql(
            f"CREATE TABLE {self.stored(schema, table)} USING {self.file_format} AS {select}"
        )
        if table_comment is None and column_comments is None:
            described = _contract_or_none(schema, table)
            table_comment = described.description if described else None
            column_comments = {c: described.describe(c) if described else None for c in types}
        self.written[(schema, table)] = {c: (column_comments or {}).get(c) for c in types}
        self.comments[(schema, table)] = table_comment

    def _holding(self, schema: str, table: str, select: str, types: dict[str, str]) -> str:
        codes = ", ".join(spark_literal(code) for code in sorted(self.held))
        fresh = f"SELECT * FROM ({select}) WHERE la_code NOT IN ({codes})"
        view = f"{self.prefix}{schema}.{table}"
        if not _view_exists(self.session, f"{self.prefix}{schema}", table):
            return fresh
        old = set(self.session.table(view).columns)
        if "la_code" not in old:
            return fresh
        if (schema, table) not in NOT_FIGURES:  # as serving.publish decides a council's kept
            kept = self.session.sql(
                f"SELECT DISTINCT la_code FROM {view} WHERE la_code IN ({codes})"
            ).collect()
            self.kept.update(row.la_code for row in kept)
        last_good = ", ".join(
            f"`{c}`" if c in old else f"CAST(NULL AS {kind}) AS `{c}`" for c, kind in types.items()
        )
        return f"{fresh} UNION ALL SELECT {last_good} FROM {view} WHERE la_code IN ({codes})"

    def councils(self, run_id: str) -> pd.DataFrame:
        """meta.councils: whose figures each council's rows are (publish._hold_councils)."""
        last_good: dict[str, tuple[Any, Any]] = {}
        meta = f"{self.prefix}meta"
        if self.kept and _view_exists(self.session, meta, "publication"):
            version, run = self.session.sql(
                f"SELECT version_id, run_id FROM {meta}.publication"
            ).collect()[0]
            older = (
                {
                    r.la_code: (r.figures_version_id, r.figures_run_id)
                    for r in self.session.sql(f"SELECT * FROM {meta}.councils").collect()
                }
                if _view_exists(self.session, meta, "councils")
                else {}
            )
            last_good = {code: older.get(code, (version, run)) for code in self.kept}
        return whose_figures(councils(self.target), self.held, self.version_id, run_id, last_good)

    def checksums(self) -> dict[str, int]:
        """meta.tables: rows and an order-independent checksum of every served table."""
        rows = []
        for schema, table in sorted(self.written):
            if schema == "meta":
                continue
            count, checksum = self.session.sql(
                "SELECT count(*), CAST(coalesce(sum(CAST(xxhash64(*) AS DECIMAL(38, 0))), 0) "
                f"AS STRING) FROM {self.stored(schema, table)}"
            ).collect()[0]
            rows.append((schema, table, count, checksum))
        frame = pd.DataFrame(rows, columns=["table_schema", "table_name", "row_count", "checksum"])
        self.frame("meta", "tables", frame, {"row_count": "BIGINT"})
        return {f"{schema}.{table}": count for schema, table, count, _ in rows}

    def swap(self) -> str | None:
        """Every view onto this version (meta.publication last), views of tables it lacks
        dropped. Returns the tag of the version the views showed before (None: the first)."""
        last = None
        meta = f"{self.prefix}meta"
        if _view_exists(self.session, meta, "publication"):
            text = self.session.sql(f"SHOW CREATE TABLE {meta}.publication").collect()[0][0]
            found = _TAG.search(text)
            last = found.group(1) if found else None
        for schema in SCHEMAS:
            self.session.sql(f"CREATE DATABASE IF NOT EXISTS {self.prefix}{schema}")
        order = sorted(self.written, key=lambda key: key == ("meta", "publication"))
        for schema, table in order:
            columns = ", ".join(
                f"`{c}`" + (f" COMMENT {spark_literal(text)}" if text else "")
                for c, text in self.written[(schema, table)].items()
            )
            comment = self.comments.get((schema, table))
            self.session.sql(
                f"CREATE OR REPLACE VIEW {self.prefix}{schema}.{table} ({columns})"
                + (f" COMMENT {spark_literal(comment)}" if comment else "")
                + f" AS SELECT * FROM {self.stored(schema, table)}"
            )
        for schema in SCHEMAS:
            for table in _tables(self.session, f"{self.prefix}{schema}", views=True):
                if (schema, table) not in self.written:
                    self.session.sql(f"DROP VIEW IF EXISTS {self.prefix}{schema}.{table}")
        return last


def _write_meta(build, run_id, code_version, published_at, refresh_started_at, options) -> None:
    session = build.session
    publication = pd.DataFrame(
        [
            {
                "version_id": build.version_id,
                "run_id": run_id,
                "refresh_started_at_utc": refresh_started_at,
                "published_at_utc": published_at,
                "code_version": code_version,
                "suppression_threshold": options.suppression_threshold,
                "person_ids": "the warehouse's keyed hashes",
                # what the forecast ran with, as the serving file records it
                "forecast_settings": (options.forecast_settings or (None, None))[0],
                "forecast_settings_sha256": (options.forecast_settings or (None, None))[1],
            }
        ]
    )
    build.frame(
        "meta",
        "publication",
        publication,
        {
            "refresh_started_at_utc": "TIMESTAMP",
            "published_at_utc": "TIMESTAMP",
            "suppression_threshold": "INT",
            "forecast_settings": "STRING",
            "forecast_settings_sha256": "STRING",
        },
    )
    files = [session.table(f"raw.{t}") for t in _tables(session, "raw") if t.endswith("_files")]
    if files:
        # every extract's file records (DuckDB's view raw.landing_files, which ingest writes
        # locally); the rejection message is left out: it can quote a line of the file
        union = functools.reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), files)
        union.createOrReplaceTempView("_serving_landing_files")
        try:
            build.write(
                "meta", "source_files", f"SELECT {_SOURCE_FILE_COLUMNS} FROM _serving_landing_files"
            )
        finally:
            build.target.unregister("_serving_landing_files")
    if "check_results" in _tables(session, "meta"):
        build.write("meta", "check_results", "SELECT * FROM meta.check_results")
    if "provision_types" in _tables(session, "staging", views=True):
        categories = pd.DataFrame(
            list(DFE_PLACEMENT_CATEGORY.items()),
            columns=["provision_type", "dfe_placement_category"],
        )
        build.target.register("_serving_categories", categories)
        try:
            build.write(
                "meta",
                "provision_types",
                "SELECT p.*, c.dfe_placement_category FROM staging.provision_types AS p "
                "LEFT JOIN _serving_categories AS c USING (provision_type)",
            )
        finally:
            build.target.unregister("_serving_categories")


def _tables(session, schema: str, views: bool = False) -> list[str]:
    """The tables of a schema (and its views, when asked), none when it does not exist."""
    if not session.catalog.databaseExists(schema):
        return []
    return sorted(
        t.name
        for t in session.catalog.listTables(schema)
        if not t.isTemporary and (views or t.tableType != "VIEW")
    )


def _view_exists(session, schema: str, name: str) -> bool:
    return session.catalog.tableExists(f"{schema}.{name}")


def _table_comment(session, name: str) -> str | None:
    rows = session.sql(f"DESCRIBE TABLE EXTENDED {name}").where("col_name = 'Comment'").collect()
    return rows[0].data_type if rows else None


def _contract_or_none(schema: str, table: str):
    try:
        return serving_contract.table(schema, table)
    except KeyError:
        return None


def _refuse_personal_columns(session, served: list[tuple[str, str]]) -> None:
    found = [
        f"{schema}.{table}.{column}"
        for schema, table in served
        for column in session.table(f"{schema}.{table}").columns
        if column.lower() in PERSONAL_COLUMNS
    ]
    if found:
        raise PublishError(
            f"personal data must never reach serving, but these columns hold it: {', '.join(found)}"
        )


def _drop_versions(session, store: str, which: Callable[[str], bool]) -> list[str]:
    """Drop the store's tables of the versions `which` picks (by tag); the tags dropped."""
    dropped = set()
    for name in _tables(session, store):
        found = _TAG.search(name)
        if found and which(found.group(1)):
            session.sql(f"DROP TABLE IF EXISTS {store}.{name}")
            dropped.add(found.group(1))
    return sorted(dropped)
