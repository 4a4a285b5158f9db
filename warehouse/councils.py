"""Many councils in one warehouse: every table from staging on carries `la_code` (the council's
old 3-digit LA code). The readers written for one council's figures (the report, the refresh's
summary, the traces) read one council's slice through `of_council`, which narrows each table of
the council-keyed schemas a query names to that council's rows."""

from __future__ import annotations

import re
from typing import Any

import duckdb
import pandas as pd

from . import Warehouse, as_warehouse, table_exists

# a table of the council-keyed schemas as a query names it, with its alias if it has one
_COUNCIL_TABLE = re.compile(
    r"\b(FROM|JOIN)\s+(staging|intermediate|marts|forecast)\.(\w+)"
    r"(?:\s+AS)?(?:\s+(?!(?:WHERE|ORDER|GROUP|LEFT|RIGHT|FULL|INNER|CROSS|JOIN|ON|USING|LIMIT"
    r"|UNION|HAVING|QUALIFY|WINDOW|EXCEPT|INTERSECT)\b)(\w+))?",
    re.IGNORECASE,
)
# the reviewed seeds sit in staging beside the staging models, and hold no council's rows
_SHARED = re.compile(r"^(?!stg_)")


def councils(target: Warehouse | duckdb.DuckDBPyConnection) -> list[str]:
    """The councils whose figures the warehouse's marts hold, in code order (none before the
    marts are built), on DuckDB or Spark."""
    wh = as_warehouse(target)
    if wh.engine == "duckdb":
        present = wh.frame(
            "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'marts' "
            "AND table_name IN ('fct_ehcp_cohort', 'fct_provision_spend')"
        )["n"][0]
        if present < 2:
            return []
    return wh.frame(
        "SELECT la_code FROM marts.fct_ehcp_cohort UNION "
        "SELECT la_code FROM marts.fct_provision_spend ORDER BY la_code"
    )["la_code"].tolist()


def held_councils(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The councils held at their last good published figures by this refresh's gates
    (meta.held_councils, written by gates/warehouse_checked): council code → why."""
    if not table_exists(con, "meta", "held_councils"):
        return {}
    held: dict[str, list[str]] = {}
    for code, asset, check, why in con.execute(
        "SELECT la_code, asset, check_name, description FROM meta.held_councils "
        "ORDER BY la_code, asset, check_name"
    ).fetchall():
        held.setdefault(code, []).append(f"{asset} · {check}: {why}")
    return {code: "; ".join(reasons) for code, reasons in held.items()}


def with_la_code(frame: pd.DataFrame, la_code: str) -> pd.DataFrame:
    """`frame` with the council's code as its first column (it leads every key)."""
    return frame.assign(la_code=la_code)[
        ["la_code", *frame.columns.drop("la_code", errors="ignore")]
    ]


def chosen_council(con: duckdb.DuckDBPyConnection, preferred: str | None) -> str | None:
    """`preferred` (HIGHNEEDS_LA_CODE, or a command's --la) when the warehouse holds it, else its
    first council by code (its only one, for one council); None when it holds none."""
    held = councils(con)
    if preferred in held:
        return preferred
    return held[0] if held else None


def of_council(sql: str, la_code: str | None) -> str:
    """`sql` with each staging, intermediate, marts and forecast table it reads narrowed to council
    `la_code` (None: unchanged). The seeds in staging are every council's and stay as they are."""
    if la_code is None:
        return sql
    if not la_code.isalnum():
        raise ValueError(f"not a council code: {la_code!r}")

    def narrowed(m: re.Match) -> str:
        if m[2].lower() == "staging" and _SHARED.match(m[3]):
            return m[0]
        return f"{m[1]} (SELECT * FROM {m[2]}.{m[3]} WHERE la_code = '{la_code}') AS {m[4] or m[3]}"

    return _COUNCIL_TABLE.sub(narrowed, sql)


class CouncilConnection:
    """A DuckDB connection whose `execute` reads one council's slice (of_council): for code that
    reads the warehouse as if it held that council alone."""

    def __init__(self, con: duckdb.DuckDBPyConnection, la_code: str | None):
        self.con, self.la_code = con, la_code

    def execute(self, sql: str, params: Any = None):
        return self.con.execute(of_council(sql, self.la_code), params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.con, name)
