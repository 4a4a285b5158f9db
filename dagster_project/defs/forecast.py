"""The forecast: caseload × unit cost by provision type to the horizon, unmitigated and
mitigated."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from forecast.aggregate import published_growth
from forecast.backtest import backtest_cohort
from forecast.checks import CHECK_DESCRIPTIONS, TABLE_CHECKS, run_checks
from forecast.history import caseload_by_census, read_history
from forecast.mitigations import load_mitigations
from forecast.model import MITIGATED, UNMITIGATED, run_forecast
from forecast.store import TABLE_DESCRIPTIONS, forecast_tables, write_tables
from forecast.summary import summary_markdown

from ..metadata import (
    FINANCE_AND_BI,
    check_result,
    contract_column_schema,
    markdown_table,
    provenance,
)
from ..settings import Settings, load_report_settings
from .gates import MART_KEYS


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["forecast", name],
            group_name="forecast",
            owners=[FINANCE_AND_BI],
            kinds={"python", "duckdb"},
            description=description,
            # the columns as the serving contract describes them (forecast.yml)
            metadata={"dagster/column_schema": contract_column_schema("forecast", name)},
            deps=[dg.AssetKey(["gates", "warehouse_checked"]), *MART_KEYS],
        )
        for name, description in TABLE_DESCRIPTIONS.items()
    ],
    check_specs=[
        dg.AssetCheckSpec(
            name, asset=["forecast", table], blocking=True, description=CHECK_DESCRIPTIONS[name]
        )
        for name, table in [
            *((n, t) for n, (t, _) in TABLE_CHECKS.items()),
            ("unreached_provisions_identical", "spend"),
        ]
    ],
)
def forecast_tables_asset(
    context: dg.AssetExecutionContext,
    warehouse: DuckDBResource,
    settings: dg.ResourceParam[Settings],
):
    """Runs forecast.model on the marts and writes the forecast schema in one transaction."""
    with warehouse.get_connection() as con:
        history = read_history(con)
    mitigations = load_mitigations(settings.mitigations, history.provision_types)
    council = load_report_settings(settings)
    caseload = caseload_by_census(history)
    growth, why_not = published_growth(council.published, council.la_code, caseload.sum(axis=1))
    if growth is None and settings.forecast.cohort.pool_with_published:
        context.log.info(f"joiners follow their own trend, not the published files: {why_not}")
    base_year = int(history.transitions["year"].max()) if len(history.transitions) else None
    forecast = run_forecast(
        history,
        mitigations,
        settings.forecast,
        growth(base_year) if growth is not None and base_year is not None else None,
    )
    backtest = backtest_cohort(
        history.transitions,
        caseload,
        history.provision_types,
        settings.forecast.cohort,
        seed=settings.forecast.seed,
        unit_costs=forecast.cost_model.cost_per_plan(),
        pooled_growth=growth,
    )
    tables = forecast_tables(forecast, backtest)
    checks = run_checks(tables, forecast.unreached)
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
            "dagster/column_schema": contract_column_schema(
                "forecast", name, {column: str(frame[column].dtype) for column in frame.columns}
            ),
            **provenance(context.run.run_id),
        }
        if name == "hnb_position":
            metadata.update(
                {
                    f"{scenario}_cumulative_balance_{settings.horizon}_central_gbp": round(
                        float(last.loc[scenario, "cumulative_balance_gbp_central"]), 2
                    )
                    for scenario in (UNMITIGATED, MITIGATED)
                }
            )
            metadata["summary"] = dg.MetadataValue.md(summary_markdown(forecast, settings.horizon))
            metadata["table"] = markdown_table(position)
        elif name in ("assumptions", "backtest", "mitigations", "sensitivity"):
            metadata["table"] = markdown_table(frame)
        elif name == "caseload":
            metadata["summary"] = dg.MetadataValue.md(summary_markdown(forecast, settings.horizon))
        yield dg.MaterializeResult(asset_key=["forecast", name], metadata=metadata)
    for name, (table, gate) in checks.items():
        yield check_result(gate, dg.AssetKey(["forecast", table]), name)
