"""Write the forecast tables into the warehouse's `forecast` schema, all or nothing, each table and
column described from the serving contract (serving/contract/forecast.yml: the descriptions
travel to the serving file, its Parquet files and its data dictionary)."""

from __future__ import annotations

import duckdb
import pandas as pd

from serving import contract as serving_contract
from warehouse import Described, Warehouse, as_warehouse
from warehouse.councils import with_la_code

from .model import Forecast

# The tables and their descriptions, in order, from the serving contract (forecast.yml).
TABLE_DESCRIPTIONS = {
    name: table.description for name, table in serving_contract.tables("forecast").items()
}


def describe_column(table: str, column: str) -> str | None:
    """A forecast column's description (None when the contract does not describe it: the
    dictionary test names it)."""
    return serving_contract.describe("forecast", table, column)


def forecast_tables(forecast: Forecast, backtest: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {
        "caseload": forecast.caseload,
        "caseload_by_age": forecast.caseload_by_age,
        "spend": forecast.spend,
        "hnb_position": forecast.hnb_position,
        "mitigations": forecast.mitigations,
        "gap_to_balance": forecast.gap_to_balance,
        "drivers": forecast.drivers,
        "assumptions": forecast.assumptions,
        "rates": forecast.rates,
        "sensitivity": forecast.sensitivity,
        "backtest": backtest,
    }


def for_council(tables: dict[str, pd.DataFrame], la_code: str) -> dict[str, pd.DataFrame]:
    """The tables with the council's old LA code as their first column (it leads every key)."""
    return {name: with_la_code(frame, la_code) for name, frame in tables.items()}


def combine(councils: list[dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """Every council's tables (for_council) as one set of tables."""
    return {
        name: pd.concat([tables[name] for tables in councils], ignore_index=True)
        for name in councils[0]
    }


# a column with no value (an empty table: no mitigations, a history too short to backtest) is
# given the contract's type: left untyped it is written NULL-typed, and the publish cannot copy
# a held council's last good rows into it (the whole publish failed)
_EMPTY_AS = {"varchar": "string", "bigint": "Int64", "double": "float64", "boolean": "boolean"}


def _typed(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    table = serving_contract.tables("forecast").get(name)
    types = {
        column: _EMPTY_AS[spec.data_type]
        for column in frame.columns
        if table is not None
        and (spec := table.column(column)) is not None
        and spec.data_type in _EMPTY_AS
        and frame[column].isna().all()
    }
    return frame.astype(types) if types else frame


def write_tables(
    target: Warehouse | duckdb.DuckDBPyConnection, tables: dict[str, pd.DataFrame]
) -> None:
    """Replace every table of the forecast schema, on DuckDB in one transaction (readers never see
    half a forecast), on Spark each written before any is swapped in (warehouse.Warehouse)."""
    tables = {name: _typed(name, frame) for name, frame in tables.items()}
    as_warehouse(target).replace_tables(
        "forecast",
        tables,
        {
            name: Described(
                TABLE_DESCRIPTIONS[name],
                {
                    column: text
                    for column in frame.columns
                    if (text := describe_column(name, column))
                },
            )
            for name, frame in tables.items()
        },
    )
