"""One interface to the warehouse for the Python that reads it after dbt (the mart gates, the
forecast's reads), with a DuckDB and a Spark implementation, so the same code runs on the
embedded default and on a Spark (or Databricks) platform.

    execute(sql, params)   run a statement
    frame(sql, params)     a query's rows as a pandas frame
    register(name, frame)  a pandas frame as a relation the next queries can read, until
    unregister(name)       it is dropped

SQL given to it is the dialect both engines read: `GROUP BY ALL`, `FILTER (WHERE …)`,
`any_value`, `::` casts, `?` parameters. Frames come back as DuckDB's `.df()` gives them:
decimals as floats, so a gate's facts are the same numbers on either engine.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import duckdb
import pandas as pd


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


@runtime_checkable
class Warehouse(Protocol):
    engine: str

    def execute(self, sql: str, params: list[Any] | None = None) -> None: ...

    def frame(self, sql: str, params: list[Any] | None = None) -> pd.DataFrame: ...

    def register(self, name: str, frame: pd.DataFrame) -> None: ...

    def unregister(self, name: str) -> None: ...


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


def as_warehouse(target: Warehouse | duckdb.DuckDBPyConnection) -> Warehouse:
    """A warehouse, given one or a DuckDB connection."""
    if isinstance(target, duckdb.DuckDBPyConnection):
        return DuckDBWarehouse(target)
    return target
