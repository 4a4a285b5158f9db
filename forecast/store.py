"""Write the forecast tables into the warehouse's `forecast` schema, all or nothing."""

from __future__ import annotations

import duckdb
import pandas as pd

from .model import Forecast


def forecast_tables(forecast: Forecast, backtest: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return {
        "caseload": forecast.caseload,
        "spend": forecast.spend,
        "hnb_position": forecast.hnb_position,
        "mitigations": forecast.mitigations,
        "gap_to_balance": forecast.gap_to_balance,
        "drivers": forecast.drivers,
        "assumptions": forecast.assumptions,
        "backtest": backtest,
    }


def write_tables(con: duckdb.DuckDBPyConnection, tables: dict[str, pd.DataFrame]) -> None:
    """Replace every table in one transaction, so readers never see half a forecast."""
    con.execute("CREATE SCHEMA IF NOT EXISTS forecast")
    con.execute("BEGIN TRANSACTION")
    try:
        for name, frame in tables.items():
            con.register("_frame", frame)
            con.execute(f"CREATE OR REPLACE TABLE forecast.{name} AS SELECT * FROM _frame")
            con.unregister("_frame")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
