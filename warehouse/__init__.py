"""One interface to the warehouse for the Python that reads it after dbt (the mart gates, the
forecast's reads) and writes beside it (the forecast schema), with a DuckDB and a Spark
implementation, so the same code runs on the embedded default and on a Spark (or Databricks)
platform.

    execute(sql, params)   run a statement
    frame(sql, params)     a query's rows as a pandas frame
    register(name, frame)  a pandas frame as a relation the next queries can read, until
    unregister(name)       it is dropped
    replace_tables(schema, tables, descriptions)
                           pandas frames as the schema's tables, each replacing its namesake,
                           described (table and column comments); none replaced if one
                           fails while writing

SQL given to it is the dialect both engines read: `GROUP BY ALL`, `FILTER (WHERE …)`,
`any_value`, `::` casts, `?` parameters. Frames come back as DuckDB's `.df()` gives them:
decimals as floats, so a gate's facts are the same numbers on either engine.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import duckdb
import pandas as pd

from ingest.parsing import quote_literal


def table_exists(con: Any, schema: str, name: str) -> bool:
    """Whether the database a DuckDB connection (or anything with its `execute`) reads holds
    table or view `schema.name`."""
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_catalog = current_database() AND table_schema = ? AND table_name = ?",
            [schema, name],
        ).fetchall()[0][0]
    )


def record_figures(con: duckdb.DuckDBPyConnection, run_id: str, checked: bool) -> None:
    """Record whether the marts hold figures that passed the gates: not yet when run `run_id`'s
    dbt build starts changing them, and yes when its gates have passed (gates/warehouse_checked).
    A refresh stopped in between leaves them marked unchecked (meta.figures_checked)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS meta")
    con.execute(
        "CREATE OR REPLACE TABLE meta.figures_checked AS "
        "SELECT ?::VARCHAR AS run_id, ?::BOOLEAN AS checked, now() AS recorded_at",
        [run_id, checked],
    )


# what meta.forecast_checked records while the forecast step replaces the tables: a step killed
# there leaves it (the tables roll back to the last forecast, whose checks are not known)
FORECAST_BEING_WRITTEN = "being written"


def record_forecast(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    failed: list[str],
    settings: tuple[str, str] | None = None,
    recorded_at: dt.datetime | None = None,
) -> None:
    """Record which of its blocking checks the forecast tables run `run_id` wrote failed (none:
    they passed; FORECAST_BEING_WRITTEN while it writes them) in meta.forecast_checked: the
    report and the publish, which the UI can run on their own, refuse a forecast that failed.
    With it the settings it ran with (`Settings.forecast_fingerprint`: a description and a
    SHA-256), which the publish records as the forecast's: read when publishing, they were
    those of the publish's own process, not of the forecast's run before it. `recorded_at`:
    when an earlier record is put back (now otherwise), so that forecast_behind_figures still
    sees it as older than the figures."""
    con.execute("CREATE SCHEMA IF NOT EXISTS meta")
    description, digest = settings or (None, None)
    con.execute(
        "CREATE OR REPLACE TABLE meta.forecast_checked AS SELECT ?::VARCHAR AS run_id, "
        "?::VARCHAR[] AS failed_checks, coalesce(?::TIMESTAMPTZ, now()) AS recorded_at, "
        "?::VARCHAR AS forecast_settings, ?::VARCHAR AS forecast_settings_sha256",
        [run_id, failed, recorded_at, description, digest],
    )


def forecast_settings(con: duckdb.DuckDBPyConnection) -> tuple[str, str] | None:
    """The settings the forecast tables were written with, as record_forecast recorded them;
    None while being written, or in a warehouse from before they were recorded."""
    recorded = con.execute(
        "SELECT count(*) FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND table_schema = 'meta' "
        "AND table_name = 'forecast_checked' AND column_name = 'forecast_settings_sha256'"
    ).fetchone()[0]
    if not recorded:
        return None
    row = con.execute(
        "SELECT forecast_settings, forecast_settings_sha256 FROM meta.forecast_checked"
    ).fetchone()
    return (row[0], row[1]) if row and row[1] else None


def forecast_record(con: duckdb.DuckDBPyConnection) -> tuple[str, list[str]] | None:
    """(run, its failed blocking checks) as meta.forecast_checked records them; None in a
    warehouse from before this was recorded."""
    if not table_exists(con, "meta", "forecast_checked"):
        return None
    row = con.execute("SELECT run_id, failed_checks FROM meta.forecast_checked").fetchone()
    return (row[0], list(row[1])) if row else None


def forecast_recorded_at(con: duckdb.DuckDBPyConnection) -> dt.datetime | None:
    """When meta.forecast_checked was recorded; None before the first forecast."""
    if not table_exists(con, "meta", "forecast_checked"):
        return None
    row = con.execute("SELECT recorded_at FROM meta.forecast_checked").fetchone()
    return row[0] if row else None


def unchecked_forecast(con: duckdb.DuckDBPyConnection) -> tuple[str, list[str]] | None:
    """(run, its failed blocking checks) when the forecast tables hold a forecast that failed
    them; None when they passed, or in a warehouse from before this was recorded."""
    record = forecast_record(con)
    return record if record and record[1] else None


def forecast_behind_figures(con: duckdb.DuckDBPyConnection) -> tuple[str, str] | None:
    """(the forecast's run, the figures' run) when the marts hold checked figures of a later
    refresh than the forecast tables were made from: that refresh stopped or failed after its
    gates passed and before its forecast was written (a report drawn then put the new marts
    beside the old forecast, under the new run's name). None when the forecast is the figures'
    own or later, or in a warehouse from before either was recorded."""
    if not (
        table_exists(con, "meta", "figures_checked")
        and table_exists(con, "meta", "forecast_checked")
    ):
        return None
    row = con.execute(
        "SELECT f.run_id, g.run_id FROM meta.forecast_checked AS f, meta.figures_checked AS g "
        "WHERE g.checked AND f.run_id <> g.run_id AND f.recorded_at < g.recorded_at"
    ).fetchone()
    return (row[0], row[1]) if row else None


def landing_read_since_figures(con: duckdb.DuckDBPyConnection) -> str | None:
    """The refresh that read the landing folder after the marts' figures were checked and did
    not build them (its ingest gates failed, or it stopped before dbt): the raw tables, and the
    staging views over them, are that refresh's, the marts the last checked one's (a trace of
    a served figure then said "they DO NOT match"). None when the last refresh to read the
    folder is the figures' own, or in a warehouse from before either was recorded."""
    if not (
        table_exists(con, "meta", "figures_checked") and table_exists(con, "raw", "landing_files")
    ):
        return None
    row = con.execute(
        "SELECT max(l.last_seen_load_id) FROM raw.landing_files AS l, meta.figures_checked AS g "
        "WHERE g.checked AND l.in_landing AND l.last_seen_load_id <> g.run_id"
    ).fetchone()
    return row[0] if row else None


def unchecked_run(con: duckdb.DuckDBPyConnection) -> str | None:
    """The refresh whose figures the marts hold but whose gates have not passed (it failed, or
    was stopped, after its dbt build began); None when they passed, or in a warehouse from before
    this was recorded."""
    if not table_exists(con, "meta", "figures_checked"):
        return None
    row = con.execute("SELECT run_id FROM meta.figures_checked WHERE NOT checked").fetchone()
    return row[0] if row else None


@dataclasses.dataclass(frozen=True)
class Described:
    """A table's comment and its columns' (a column not named has none)."""

    table: str
    columns: Mapping[str, str] = dataclasses.field(default_factory=dict)


@runtime_checkable
class Warehouse(Protocol):
    engine: str

    def execute(self, sql: str, params: list[Any] | None = None) -> None: ...

    def frame(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame: ...

    def register(self, name: str, frame: pd.DataFrame) -> None: ...

    def unregister(self, name: str) -> None: ...

    def replace_tables(
        self,
        schema: str,
        tables: Mapping[str, pd.DataFrame],
        descriptions: Mapping[str, Described],
    ) -> None: ...


class DuckDBWarehouse:
    """A DuckDB connection (the embedded default)."""

    engine = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def execute(self, sql: str, params: list[Any] | None = None) -> None:
        self.con.execute(sql, params or [])

    def frame(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        return self.con.execute(sql, params or []).df()

    def register(self, name: str, frame: pd.DataFrame) -> None:
        self.con.register(name, frame)

    def unregister(self, name: str) -> None:
        self.con.unregister(name)

    def replace_tables(
        self,
        schema: str,
        tables: Mapping[str, pd.DataFrame],
        descriptions: Mapping[str, Described],
    ) -> None:
        """Every table replaced in one transaction, so readers never see half of them."""
        con = self.con
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        con.execute("BEGIN TRANSACTION")
        try:
            for name, frame in tables.items():
                con.register("_frame", frame)
                con.execute(f"CREATE OR REPLACE TABLE {schema}.{name} AS SELECT * FROM _frame")
                con.unregister("_frame")
                described = descriptions[name]
                con.execute(f"COMMENT ON TABLE {schema}.{name} IS {quote_literal(described.table)}")
                for column in frame.columns:
                    if text := described.columns.get(column):
                        con.execute(
                            f'COMMENT ON COLUMN {schema}.{name}."{column}" IS {quote_literal(text)}'
                        )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise


class SparkWarehouse:
    """A Spark session whose catalog holds the dbt schemas (staging, intermediate, marts)."""

    engine = "spark"

    def __init__(self, session: Any):
        self.session = session

    def execute(self, sql: str, params: list[Any] | None = None) -> None:
        self.session.sql(sql, args=params or None).collect()

    def frame(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
        from pyspark.sql import functions as F
        from pyspark.sql.types import DecimalType, IntegerType, LongType, ShortType

        rows = self.session.sql(sql, args=params or None)
        # DuckDB's .df() gives decimals as floats; Spark's toPandas gives Decimal objects
        rows = rows.select(
            *(
                F.col(f"`{field.name}`").cast("double").alias(field.name)
                if isinstance(field.dataType, DecimalType)
                else F.col(f"`{field.name}`")
                for field in rows.schema.fields
            )
        )
        frame = rows.toPandas()
        # an integer column with nulls: DuckDB gives pandas' nullable integers, Spark floats
        widths = {ShortType: "Int16", IntegerType: "Int32", LongType: "Int64"}
        for field in rows.schema.fields:
            nullable = widths.get(type(field.dataType))
            if nullable and frame[field.name].isna().any():
                frame[field.name] = frame[field.name].astype(nullable)
        return frame

    def register(self, name: str, frame: pd.DataFrame) -> None:
        self.session.createDataFrame(frame).createOrReplaceTempView(name)

    def unregister(self, name: str) -> None:
        self.session.catalog.dropTempView(name)

    def replace_tables(
        self,
        schema: str,
        tables: Mapping[str, pd.DataFrame],
        descriptions: Mapping[str, Described],
    ) -> None:
        """Every table written beside its namesake first (`<name>__next`), then swapped in: a
        failure while writing leaves the old tables as they were. Spark's Parquet tables have no
        transactions, so a reader during the swap (a few catalogue operations) may see some tables
        old and some new; on Delta, one `REPLACE TABLE` each would do. Column types are the
        frame's (nullable integers stay integers), comments the descriptions'."""
        self.session.sql(f"CREATE DATABASE IF NOT EXISTS {schema}")
        for name, frame in tables.items():
            self.session.sql(f"DROP TABLE IF EXISTS {schema}.{name}__next")
            self.typed(frame, descriptions[name].columns).write.format("parquet").saveAsTable(
                f"{schema}.{name}__next"
            )
        for name in tables:
            self.session.sql(f"DROP TABLE IF EXISTS {schema}.{name}")
            self.session.sql(f"ALTER TABLE {schema}.{name}__next RENAME TO {schema}.{name}")
            self.session.sql(
                f"COMMENT ON TABLE {schema}.{name} IS {spark_literal(descriptions[name].table)}"
            )

    def typed(self, frame: pd.DataFrame, comments: Mapping[str, str]):
        """A Spark frame of `frame` with the types its pandas dtypes say (not inferred from the
        values: an empty or all-null column has none to infer from, and pandas' nullable integers
        would come back as doubles) and each column's comment."""
        from pyspark.sql import types as T

        def spark_type(dtype) -> T.DataType:
            if pd.api.types.is_bool_dtype(dtype):
                return T.BooleanType()
            if pd.api.types.is_integer_dtype(dtype):
                return T.LongType()
            if pd.api.types.is_float_dtype(dtype):
                return T.DoubleType()
            if pd.api.types.is_datetime64_any_dtype(dtype):
                return T.TimestampType()
            return T.StringType()

        schema = T.StructType(
            [
                T.StructField(
                    str(column),
                    spark_type(frame[column].dtype),
                    True,
                    {"comment": comments[column]} if comments.get(column) else {},
                )
                for column in frame.columns
            ]
        )
        rows = frame.astype(object).where(frame.notna(), None)
        return self.session.createDataFrame(
            [tuple(map(_spark_value, row)) for row in rows.itertuples(index=False)], schema
        )


def _spark_value(value: Any) -> Any:
    """A value as Spark takes it: a datetime, not pandas' subclass of it."""
    return value.to_pydatetime() if isinstance(value, pd.Timestamp) else value


def spark_literal(value: str) -> str:
    """A Spark SQL string literal: Spark reads backslash escapes, not doubled quotes."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def as_warehouse(target: Warehouse | duckdb.DuckDBPyConnection) -> Warehouse:
    """A warehouse, given one or a DuckDB connection."""
    if isinstance(target, duckdb.DuckDBPyConnection):
        return DuckDBWarehouse(target)
    return target
