"""What a forecast figure is made of: `highneeds trace forecast --year 2028-29 --provision mss`.

Spend in a forecast year = plans on the January census inside it × FTE per plan × unit cost, each
simulated per path; this lists, from the forecast tables alone, the inputs behind one provision
type's figure: the base caseload and the rates estimated from history, the unit cost and its
growth, the assumptions with their sources, and the mitigations that act on it.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from .model import OVERFLOW_TO
from .years import fy_label, fy_start


class TraceError(ValueError):
    """No such forecast figure; the message says what there is."""


def trace_forecast(con: duckdb.DuckDBPyConnection, year: str, provision: str) -> pd.DataFrame:
    """Rows of (part, input, value, source) behind forecast spend on `provision` in `year`."""
    try:  # (2028/29 read as 2028-29, the form the tables hold)
        census = fy_start(year.strip()) + 1
    except ValueError:
        raise TraceError(
            f"--year {year!r} is not a financial year: give it as the forecast tables do, e.g. "
            "2028-29"
        ) from None
    year = fy_label(census - 1)
    spend = con.execute(
        "SELECT * FROM forecast.spend WHERE financial_year = ? AND provision_type = ? "
        "ORDER BY scenario",
        [year, provision],
    ).df()
    if spend.empty:
        years = [
            fy
            for (fy,) in con.execute(
                "SELECT DISTINCT financial_year FROM forecast.spend ORDER BY 1"
            ).fetchall()
        ]
        types = [
            p
            for (p,) in con.execute(
                "SELECT DISTINCT provision_type FROM forecast.spend ORDER BY 1"
            ).fetchall()
        ]
        raise TraceError(
            f"no forecast spend for {year} {provision}: years {', '.join(years)}; provision types "
            f"{', '.join(types)}"
        )
    rows: list[tuple[str, str, object, str]] = []
    for r in spend.itertuples():
        rows.append(
            (
                "figure",
                f"spend {r.scenario} (central)",
                r.spend_gbp_central,
                f"forecast.spend; p10–p90 {r.spend_gbp_p10:,.0f} to {r.spend_gbp_p90:,.0f}",
            )
        )
    # a first forecast year the ledger has begun keeps its postings in every scenario: most of
    # the figure by December, which the inputs below (a whole modelled year) do not show
    posted = con.execute(
        "SELECT spend_gbp FROM marts.fct_provision_spend WHERE financial_year = ? "
        "AND provision_type = ? AND NOT is_complete_year",
        [year, provision],
    ).fetchall()
    if posted:
        rows.append(
            (
                "figure",
                f"posted so far in {year}",
                float(posted[0][0]),
                "marts.fct_provision_spend (the year not complete in the ledger): kept in every "
                "scenario, the rest of the year being the share of the modelled spend below that "
                "the last complete year posted after the same day (forecast.assumptions, "
                "first_year_posted_spend)",
            )
        )
    caseload = con.execute(
        "SELECT scenario, plans_central, plans_p10, plans_p90 FROM forecast.caseload "
        "WHERE year = ? AND provision_type = ? ORDER BY scenario",
        [census, provision],
    ).fetchall()
    for scenario, plans, low, high in caseload:
        rows.append(
            (
                "caseload",
                f"plans January {census}, {scenario} (central)",
                plans,
                f"forecast.caseload; p10–p90 {low:,.0f} to {high:,.0f}",
            )
        )
    rates = con.execute("SELECT * FROM forecast.rates WHERE provision_type = ?", [provision]).df()
    if len(rates):
        rate = rates.iloc[0]
        base = f"estimated from history to January {rate['base_census_year']} (forecast.rates)"
        for column, label in (
            ("base_plans", f"base caseload, January {rate['base_census_year']}"),
            ("leave_rate", "leave rate a year"),
            ("stay_in_provision_rate", "stay-in-provision rate"),
            ("share_of_joiners", "share of new plans joining here"),
            ("joiners_trend_per_year", "growth of new plans a year (all provision types)"),
            ("fte_per_plan", "FTE placements per plan"),
        ):
            if pd.notna(rate[column]):
                rows.append(("caseload", label, float(rate[column]), base))
        rows.append(
            (
                "unit cost",
                f"unit cost {rate['base_financial_year']}",
                float(rate["base_unit_cost_gbp"]),
                f"spend ÷ FTE placements in {rate['base_financial_year']} "
                "(marts.fct_provision_spend)",
            )
        )
    for r in spend.itertuples():
        rows.append(
            (
                "unit cost",
                f"unit cost {year}, {r.scenario} (mean)",
                r.unit_cost_gbp,
                "forecast.spend",
            )
        )
    # a capacity elsewhere whose overflow comes here (the demo's 520 special school places send
    # the children beyond them to independent schools: half of that type's figure) is as much
    # this figure's input as its own
    assumptions = con.execute(
        "SELECT assumption, provision_type, financial_year, value, source "
        "FROM forecast.assumptions "
        "WHERE (provision_type = ? AND assumption IN ('unit_cost_growth', 'capacity')) "
        "OR (assumption = 'capacity' AND (source LIKE '%' || ? || ? "
        "OR source LIKE '%' || ? || ? || ';%')) "
        "OR assumption IN ('unit_cost_inflation', 'pay_inflation', 'price_inflation', 'pay_share', "
        "'historical_inflation', "
        "'population', 'prevalence_ceiling') ORDER BY assumption, provision_type",
        [provision, OVERFLOW_TO, provision, OVERFLOW_TO, provision],
    ).fetchall()
    for assumption, of, _, value, source in assumptions:
        label = assumption.replace("_", " ")
        if assumption == "capacity" and of != provision:
            label += f" of {of}"
        rows.append(("assumption", label, value, source))
    # the mitigations naming the type, then those naming others, which move children into it
    # or out of it (a stop to the flow from mainstream to independent schools, places added in
    # special schools): an auditor rebuilding the mitigated figure needs them all
    mitigations = con.execute(
        "SELECT mitigation, kind, status, lever, start_year, spend_effect_gbp, plans_effect, "
        "provision_types, list_contains(string_split(provision_types, ', '), ?) AS names_it "
        "FROM forecast.mitigations "
        "WHERE financial_year = ? AND coalesce(provision_types, '') <> '' "
        "ORDER BY NOT names_it, mitigation",
        [provision, year],
    ).fetchall()
    for (
        name,
        kind,
        status,
        lever,
        start,
        spend_effect,
        plans_effect,
        types,
        names_it,
    ) in mitigations:
        source = (
            f"{kind}, {status}, {lever} from {start}: its effect on all spend in {year} "
            f"({plans_effect:+,.1f} plans), forecast.mitigations"
        )
        if not names_it:
            source = (
                f"acts on {types}, and may move children into {provision} or out of it; {source}"
            )
        rows.append(
            ("mitigation" if names_it else "mitigation elsewhere", name, spend_effect, source)
        )
    return pd.DataFrame(rows, columns=["part", "input", "value", "source"])
