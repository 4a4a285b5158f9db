"""Row-level trace: from a mart row back to the landing rows it was built from.

Every staged row keeps its source file, row number, file hash and load id, so a figure in
`marts.fct_provision_spend` (or `fct_ehcp_cohort`) can be listed as the exact transactions (or
plans) behind it, and their total compared with the mart's.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd


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
        JOIN staging.stg_ehcp__plans p USING (plan_id)
        LEFT JOIN staging.stg_placements__spells s ON s.placement_id = c.placement_id
        WHERE {where}
        ORDER BY c.plan_id
        """,
        values,
    ).df()
    mart = con.execute(
        f"SELECT sum(plans) FROM marts.fct_ehcp_cohort c WHERE {where}", values
    ).fetchone()
    return Trace(
        rows, float(mart[0]) if mart and mart[0] is not None else None, float(len(rows)), "plans"
    )
