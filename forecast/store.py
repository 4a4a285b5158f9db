"""Write the forecast tables into the warehouse's `forecast` schema, all or nothing, each table and
column described (the descriptions travel to the serving file and its data dictionary)."""

from __future__ import annotations

import re

import duckdb
import pandas as pd

from .model import Forecast

TABLE_DESCRIPTIONS = {
    "caseload": "EHC plans per scenario, January census year and provision type (and the total): central (the mean, which adds up) and p10, p50, p90 of the simulated paths of the cohort model (age × provision type).",
    "caseload_by_age": "EHC plans per scenario, January census year, age group (age at 31 August) and provision type, with each age group's total: central (the mean, which adds up to forecast.caseload) and p10, p50, p90.",
    "spend": "Spend per scenario, financial year and provision type (central included): unit cost (mean) and spend central (the mean, which adds up) and p10/p50/p90.",
    "hnb_position": "High needs funding, spend, in-year and cumulative balance per scenario and financial year: central (the mean of the paths: ties to forecast.spend and rolls forward) and p10/p50/p90. Scenarios: unmitigated, mitigated, and mitigated_assured (only the assured mitigations).",
    "mitigations": "Each mitigation's own effect per financial year against the unmitigated scenario (mean of the path-by-path differences): plans, spend, funding, saving, in-year and cumulative balance, with its kind (saving, funding or cost).",
    "gap_to_balance": "After mitigations: the saving still needed each year to balance in-year, and per year to recover the cumulative deficit by the target year.",
    "drivers": "Each year's change in spend split into its drivers (joining, staying longer, placement mix, unit cost, central), for the actual years and each scenario.",
    "assumptions": "The assumptions the balance hangs on, one a row, each with its value and source: funding growth and each year's funding, unit-cost inflation (pay, prices, their weights), each provision type's unit-cost growth, the joiner trend, population, capacity, prevalence ceiling and the balance brought forward.",
    "rates": "The rates the forecast estimated from history, per provision type: base plans, leave and stay rates, share of joiners, FTE per plan, unit cost and its real and nominal growth.",
    "sensitivity": "The unmitigated cumulative balance (central) per financial year with one assumption at another value (funding growth, unit-cost inflation, joiners), on the same simulated paths, and its change from the forecast as set.",
    "backtest": "Rolling-origin backtest of the caseload forecast on the council's own censuses, against 3-year compound growth and a 5-year linear trend: WAPE, MAPE and p10–p90 coverage per model, horizon and provision type.",
}
# Column descriptions; a column named <name>_p10/_p50/_p90/_central is described by <name>'s.
COLUMN_DESCRIPTIONS = {
    "scenario": "unmitigated, or mitigated (the mitigation log applied); hnb_position also has mitigated_assured (only the assured mitigations), drivers actual (history).",
    "year": "Year of the January census.",
    "financial_year": "Financial year (April–March), e.g. 2026-27.",
    "provision_type": "DBV provision type (see meta.provision_types); 'total' is the sum over them, 'central' spend tied to no placement.",
    "plans": "EHC plans on the January census.",
    "age_group": "Age group by age at 31 August before the census: under 5, 5-10, 11-15, 16-19, 20-25.",
    "unit_cost_gbp": "Cost of a full-time placement in the year (mean of the paths), in pounds.",
    "spend_gbp": "High needs spend in the year, in pounds.",
    "funding_gbp": "High needs funding in the year, in pounds (budget file, else grown at its recent rate).",
    "in_year_balance_gbp": "Funding − spend in the year, in pounds (negative = overspend).",
    "cumulative_balance_gbp": "Cumulative high needs balance at the end of the year, in pounds (negative = deficit).",
    "funding_source": "Where the year's funding comes from: the budget file, or grown at a stated rate.",
    "mitigation": "Name of the mitigation (as in the mitigation log).",
    "line_of_enquiry": "The DBV line of enquiry it addresses.",
    "lever": "What it changes: reduce_new_plans, shift_placements, stop_flow, add_capacity, unit_cost_growth, "
             "unit_cost_change, central_spend_change or funding_change.",
    "status": "assured or assessed (the DSG management plan's status of the saving).",
    "provision_types": "Provision types it applies to (comma-separated).",
    "start_year": "Financial year it starts.",
    "plans_effect": "Its effect on plans on the census in the year (negative = fewer).",
    "spend_effect_gbp": "Its effect on spend in the year, in pounds (negative = less).",
    "funding_effect_gbp": "Its effect on funding in the year, in pounds.",
    "in_year_saving_gbp": "Its saving in the year, in pounds: spend avoided (funding is not a saving; negative for a cost).",
    "in_year_balance_effect_gbp": "Its effect on the in-year balance, in pounds: funding gained plus spend avoided.",
    "effect": "The lever's parameters as in the mitigations file, e.g. percent=10.",
    "assumption_text": "What the mitigation assumes, in the mitigations file's words.",
    "delivery_cost_gbp": "What it costs a year to deliver, in pounds, as the mitigations file states it (counted in spend only when modelled as a cost mitigation).",
    "owner": "Who is accountable for it.",
    "milestones": "Its milestones ('; '-separated).",
    "risk": "The main risk to its delivery.",
    "kind": "saving (spend avoided), funding (income such as a block transfer or council contribution: never a saving) or cost (spend it adds).",
    "assumption": "The assumption: funding_growth, funding_gbp, unit_cost_inflation, pay_inflation, price_inflation, pay_share, historical_inflation, unit_cost_growth, joiners_trend, population, capacity, prevalence_ceiling, balance_brought_forward; in sensitivity, the one varied (joiners_percent: % change to every year's joiners).",
    "value": "Its value (rates as fractions a year: 0.03 = 3 %); empty where it is not a number.",
    "unit": "What the value counts: a year (a rate), share, £, places.",
    "source": "Where the value comes from: a named publication, the council's budget file, or what the model estimated.",
    "variant": "The value tried: as set (the forecast), or a named variant from the settings (flat cash, low, high …).",
    "change_from_central_gbp": "The cumulative balance under the variant less under the forecast as set, in pounds (negative = worse).",
    "cumulative_balance_effect_gbp": "Its effect on the cumulative balance by the end of the year, in pounds.",
    "saving_to_balance_in_year_gbp": "Further saving needed in the year for funding to cover spend, in pounds.",
    "saving_per_year_to_recover_by_target_gbp": "Saving needed each year from now to clear the deficit by the target year, in pounds.",
    "recover_by": "The year by which the deficit should be recovered (HIGHNEEDS_RECOVER_BY).",
    "driver": "joining, staying_longer, placement_mix, unit_cost, central, or total (their sum).",
    "spend_change_gbp": "The driver's part of the change in spend from the year before, in pounds.",
    "base_census_year": "The last January census the rates are estimated to.",
    "base_financial_year": "The last complete financial year the costs are estimated from.",
    "base_plans": "Plans on the base census.",
    "leave_rate": "Share of children who leave (plan ceases, move away, age out) in a year, weighted over ages.",
    "stay_in_provision_rate": "Share of children who stay in the provision type from one census to the next, weighted over ages.",
    "share_of_joiners": "Share of new children who join in the provision type.",
    "fte_per_plan": "Full-time equivalent placements per plan on the census.",
    "base_unit_cost_gbp": "Unit cost in the base year (spend ÷ FTE placements; central: its spend), in pounds.",
    "unit_cost_real_growth": "Growth of the unit cost a year above inflation (recent growth less historical inflation).",
    "unit_cost_nominal_growth": "Growth of the unit cost a year, inflation included.",
    "joiners_trend_per_year": "Trend of the number of new children a year (damped log-linear).",
    "joiners_per_head": "True when joiners are a rate per head of an ONS population projection.",
    "simulations": "Simulated paths behind the percentiles.",
    "model": "The forecast model or baseline scored.",
    "origin": "The January census the forecast was made from (later rows dropped).",
    "horizon": "Years ahead of the origin.",
    "units": "Provision types (or councils) scored.",
    "actual_plans": "Plans on the target census, as counted.",
    "wape": "Weighted absolute percentage error: Σ|actual − forecast| ÷ Σ actual.",
    "bias": "Σ(forecast − actual) ÷ Σ actual (positive = over-forecast).",
    "coverage_p10_p90": "Share of actual values inside the forecast's p10–p90 interval.",
}
QUANTILES = {
    "p10": "10th percentile of the simulated paths.",
    "p50": "Median of the simulated paths.",
    "p90": "90th percentile of the simulated paths.",
    "central": "Mean of the simulated paths: adds up across provision types and years.",
}


def describe_column(column: str) -> str | None:
    """A forecast column's description (None when it has none: the dictionary test names it)."""
    if column in COLUMN_DESCRIPTIONS:
        return COLUMN_DESCRIPTIONS[column]
    if match := re.fullmatch(r"(.+)_(p10|p50|p90|central)", column):
        base = describe_column(match.group(1))
        return f"{base} {QUANTILES[match.group(2)]}" if base else None
    if match := re.fullmatch(r"beats_(.+)", column):
        return f"Share of units where the model's error is smaller than the {match.group(1).replace('_', ' ')} baseline's."
    return None


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


def write_tables(con: duckdb.DuckDBPyConnection, tables: dict[str, pd.DataFrame]) -> None:
    """Replace every table in one transaction, so readers never see half a forecast."""
    con.execute("CREATE SCHEMA IF NOT EXISTS forecast")
    con.execute("BEGIN TRANSACTION")
    try:
        for name, frame in tables.items():
            con.register("_frame", frame)
            con.execute(f"CREATE OR REPLACE TABLE forecast.{name} AS SELECT * FROM _frame")
            con.unregister("_frame")
            con.execute(f"COMMENT ON TABLE forecast.{name} IS '{_sql_text(TABLE_DESCRIPTIONS[name])}'")
            for column in frame.columns:
                if described := describe_column(column):
                    con.execute(f'COMMENT ON COLUMN forecast.{name}."{column}" IS \'{_sql_text(described)}\'')
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def _sql_text(value: str) -> str:
    return value.replace("'", "''")
