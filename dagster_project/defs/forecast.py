"""The forecast: caseload × unit cost by provision type to the horizon, unmitigated and mitigated."""


import dagster as dg
from dagster_duckdb import DuckDBResource

from forecast.backtest import backtest_cohort
from forecast.history import caseload_by_census, read_history
from forecast.mitigations import load_mitigations
from forecast.model import MITIGATED, UNMITIGATED, run_forecast
from forecast.store import forecast_tables, write_tables
from forecast.summary import summary_markdown

from ..metadata import FINANCE_AND_BI, markdown_table, provenance
from ..settings import load_settings
from .gates import MART_KEYS

TABLE_DESCRIPTIONS = {
    "caseload": "EHC plans per scenario, January census year and provision type (and the total): p10, p50, p90 of the simulated paths of the cohort model (age × provision type).",
    "spend": "Spend per scenario, financial year and provision type (central included): unit cost (median) and spend p10/p50/p90.",
    "hnb_position": "High needs funding, spend, in-year and cumulative balance per scenario and financial year (p10/p50/p90).",
    "mitigations": "Each mitigation's own effect per financial year against the unmitigated scenario: plans, spend, funding, saving, cumulative balance.",
    "gap_to_balance": "After mitigations: the saving still needed each year to balance in-year, and per year to recover the cumulative deficit by the target year.",
    "drivers": "Each year's change in spend split into its drivers (joining, staying longer, placement mix, unit cost, central), for the actual years and each scenario.",
    "assumptions": "The rates the forecast estimated from history, per provision type: base plans, leave and stay rates, share of joiners, FTE per plan, unit cost and its real and nominal growth.",
    "backtest": "Rolling-origin backtest of the caseload forecast on the council's own censuses, against 3-year compound growth and a 5-year linear trend: WAPE, MAPE and p10–p90 coverage per model, horizon and provision type.",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["forecast", name],
            group_name="forecast",
            owners=[FINANCE_AND_BI],
            kinds={"python", "duckdb"},
            description=description,
            deps=[dg.AssetKey(["gates", "warehouse_checked"]), *MART_KEYS],
        )
        for name, description in TABLE_DESCRIPTIONS.items()
    ],
)
def forecast_tables_asset(context: dg.AssetExecutionContext, warehouse: DuckDBResource):
    """Runs forecast.model on the marts and writes the forecast schema in one transaction."""
    settings = load_settings()
    with warehouse.get_connection() as con:
        history = read_history(con)
    mitigations = load_mitigations(settings.mitigations, history.provision_types)
    forecast = run_forecast(history, mitigations, settings.forecast)
    backtest = backtest_cohort(history.transitions, caseload_by_census(history), history.provision_types,
                               settings.forecast.cohort, seed=settings.forecast.seed)
    tables = forecast_tables(forecast, backtest)
    with warehouse.get_connection() as con:
        write_tables(con, tables)
    for note in forecast.cohort_model.notes:
        context.log.info(note)
    position = forecast.hnb_position
    last = position[position["financial_year"] == settings.horizon].set_index("scenario")
    for name, frame in tables.items():
        metadata = {
            "dagster/row_count": len(frame),
            "mitigations_file": dg.MetadataValue.path(str(settings.mitigations)),
            **provenance(context.run.run_id),
        }
        if name == "hnb_position":
            metadata.update(
                {
                    f"{scenario}_cumulative_balance_{settings.horizon}_p50_gbp": float(last.loc[scenario, "cumulative_balance_gbp_p50"])
                    for scenario in (UNMITIGATED, MITIGATED)
                }
            )
            metadata["summary"] = dg.MetadataValue.md(summary_markdown(forecast, settings.horizon))
            metadata["table"] = markdown_table(position)
        elif name in ("assumptions", "backtest", "mitigations"):
            metadata["table"] = markdown_table(frame)
        elif name == "caseload":
            metadata["summary"] = dg.MetadataValue.md(summary_markdown(forecast, settings.horizon))
        yield dg.MaterializeResult(asset_key=["forecast", name], metadata=metadata)
