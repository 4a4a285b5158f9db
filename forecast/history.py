"""Read the history the forecast starts from out of the warehouse marts."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from warehouse import Warehouse, as_warehouse
from warehouse.councils import councils, of_council


@dataclass
class History:
    """What the forecast needs, all aggregate (no child-level data)."""

    caseload: pd.DataFrame  # census_year, provision_type, plans
    transitions: pd.DataFrame  # year, age_from, provision_from, age_to, provision_to, children
    flows: pd.DataFrame  # year, provision_type, new_plans, ceased_plans, moved_in, moved_out
    # financial_year, provision_type, spend_gbp, spend_by_ledger_point_gbp (posted by the day of
    # the year the ledger stops at), fte_placements, unit_cost_gbp, is_complete_year
    spend: pd.DataFrame
    # financial_year, funding_gbp, spend_gbp, cumulative_balance_gbp, is_complete_year
    position: pd.DataFrame
    budget: pd.DataFrame  # financial_year, line, amount_gbp (future years included)
    provision_types: list[str]  # provision types that hold placements, in report order


def read_history(
    target: Warehouse | duckdb.DuckDBPyConnection, la_code: str | None = None
) -> History:
    """Council `la_code`'s history from the warehouse's marts, on DuckDB or Spark
    (warehouse.Warehouse); with no code, the one council the warehouse holds."""
    wh = as_warehouse(target)
    if la_code is None:
        held = councils(wh)
        if len(held) > 1:
            raise ValueError(
                f"the warehouse holds {len(held)} councils ({', '.join(held)}): say which"
            )
        la_code = held[0] if held else None

    def frame(sql: str):
        return wh.frame(of_council(sql, la_code))

    provision_types = frame(
        "SELECT provision_type FROM staging.provision_types WHERE has_placements "
        "ORDER BY sort_order"
    )["provision_type"].tolist()
    return History(
        caseload=frame(
            "SELECT census_year, provision_type, sum(plans)::BIGINT AS plans "
            "FROM marts.fct_ehcp_cohort GROUP BY census_year, provision_type "
            "ORDER BY census_year, provision_type"
        ),
        transitions=frame(
            "SELECT year, age_from, provision_from, age_to, provision_to, "
            "sum(children)::BIGINT AS children "
            "FROM marts.fct_ehcp_transitions "
            "GROUP BY year, age_from, provision_from, age_to, provision_to "
            "ORDER BY year, age_from NULLS LAST, provision_from, age_to NULLS LAST, provision_to"
        ),
        flows=frame(
            "SELECT year, provision_type, new_plans, ceased_plans, moved_in, moved_out "
            "FROM marts.fct_ehcp_flows ORDER BY year, provision_type"
        ),
        spend=frame(
            "SELECT financial_year, provision_type, spend_gbp::DOUBLE AS spend_gbp, "
            "spend_by_ledger_point_gbp::DOUBLE AS spend_by_ledger_point_gbp, "
            "fte_placements, unit_cost_gbp::DOUBLE AS unit_cost_gbp, is_complete_year "
            "FROM marts.fct_provision_spend ORDER BY financial_year, provision_type"
        ),
        position=frame(
            "SELECT financial_year, funding_gbp::DOUBLE AS funding_gbp, "
            "spend_gbp::DOUBLE AS spend_gbp, "
            "cumulative_balance_gbp::DOUBLE AS cumulative_balance_gbp, "
            "is_complete_year, has_budget "
            "FROM marts.fct_hnb_position ORDER BY financial_year"
        ),
        budget=frame(
            "SELECT financial_year, line, amount_gbp::DOUBLE AS amount_gbp "
            "FROM staging.stg_budget__lines"
        ),
        provision_types=provision_types,
    )


def caseload_by_census(history: History) -> pd.DataFrame:
    """Plans per census year (rows) and provision type (columns)."""
    return (
        history.caseload.pivot_table(
            index="census_year",
            columns="provision_type",
            values="plans",
            aggfunc="sum",
            fill_value=0,
        )
        .reindex(columns=history.provision_types, fill_value=0)
        .sort_index()
    )
