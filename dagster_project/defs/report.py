"""The report: the DBV Module 1 diagnostic pack (HTML, PNG charts, XLSX workbook) rebuilt after
every refresh whose gates passed, from the forecast and the marts it was built from."""

import base64
import dataclasses

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from warehouse import forecast_behind_figures, unchecked_forecast, unchecked_run
from warehouse.councils import chosen_council, held_councils

from ..metadata import FINANCE_AND_BI, markdown_table, provenance
from ..settings import Settings, load_report_settings
from .forecast import TABLE_DESCRIPTIONS
from .unchecked import figures_unchecked, forecast_behind, forecast_unchecked

REPORT_KEY = dg.AssetKey(["report"])
# from the forecast tables and the marts behind them (so a failed gate, which stops the forecast,
# leaves the last good report too); the publish swaps it in with the serving file
REPORT_DEPS = [dg.AssetKey(["forecast", name]) for name in TABLE_DESCRIPTIONS]


def report_held(con, council: str | None) -> str | None:
    """Why the report is not rebuilt this refresh: its council (`council`, HIGHNEEDS_LA_CODE, else
    the warehouse's first) is held at its last good figures by a failed gate; None to build it."""
    la_code = chosen_council(con, council)
    why = held_councils(con).get(la_code) if la_code else None
    if why is None:
        return None
    return (
        f"The report is of council {la_code}, held ({why}): it is not drawn from figures that "
        "failed; the last good report, if a refresh built one, stays with the serving file's "
        "last good figures for it."
    )


@dg.asset(
    key=REPORT_KEY,
    group_name="report",
    owners=[FINANCE_AND_BI],
    kinds={"python", "html", "excel"},
    deps=REPORT_DEPS,
    description=(
        "The DBV Module 1 diagnostic pack for finance officers, schools forum and the DfE, "
        "in HIGHNEEDS_REPORT_DIR (default report/ beside the warehouse): a self-contained HTML "
        "report (charts embedded, opens offline), every chart as PNG and an XLSX workbook with the "
        "DSG management plan tables (EHC plans by placement type, expenditure by provision and "
        "S251 line, funding and balances, unmitigated and mitigated). internal/ shows every count; "
        "publication/ suppresses counts of children below HIGHNEEDS_SUPPRESSION_THRESHOLD. "
        "With HIGHNEEDS_LA_CODE and the DfE's published files it benchmarks the council against "
        "England, its region and similar councils. Built beside the current report and swapped in "
        "by serving/publish right after the serving file, so the report and the serving file "
        "always come from the same refresh."
    ),
)
def report_asset(
    context: dg.AssetExecutionContext,
    warehouse: DuckDBResource,
    settings: dg.ResourceParam[Settings],
) -> dg.MaterializeResult:
    # matplotlib takes a second to import: only when a report is drawn, not when definitions load
    from report.build import build_report

    report_settings = load_report_settings(settings)
    options = dataclasses.replace(report_settings.options(context.run.run_id), reuse_unchanged=True)
    with warehouse.get_connection() as con:
        if (run := unchecked_run(con)) is not None:
            # materialised on its own after a refresh whose gates failed: the forecast tables
            # are the last good run's, the marts the failed one's (a green report of them)
            raise dg.Failure(description=f"No report built: {figures_unchecked(run)}")
        if (failed := unchecked_forecast(con)) is not None:
            # materialised on its own after a forecast that failed a blocking check
            raise dg.Failure(description=f"No report built: {forecast_unchecked(*failed)}")
        held = report_held(con, options.council)
        if held:
            # its council's figures failed a gate: the last good report stays with them
            context.log.warning(held)
            return dg.MaterializeResult(
                metadata={"rebuilt": False, "held": held, **provenance(context.run.run_id)}
            )
        if (runs := forecast_behind_figures(con)) is not None:
            # materialised on its own after a refresh stopped between its gates and forecast
            raise dg.Failure(description=f"No report built: {forecast_behind(*runs)}")
        report = build_report(con, options, swap_in=False)
    internal, publication = report.outputs["internal"], report.outputs["publication"]
    headline = base64.b64encode(report.headline_png).decode("ascii")
    metadata = {
        "headline": dg.MetadataValue.md(
            "![High needs funding, spend and the cumulative DSG balance]"
            f"(data:image/png;base64,{headline})\n\n"
            f"**{report.headline_reading}**"
        ),
        "report_internal": dg.MetadataValue.path(str(internal.html)),
        "report_publication": dg.MetadataValue.path(str(publication.html)),
        # over http, as `highneeds ui` serves the report beside the UI:
        # a file:/// link opens only on the server
        "open_report": dg.MetadataValue.url(report_settings.url_of(internal.html)),
        "open_publication": dg.MetadataValue.url(report_settings.url_of(publication.html)),
        "workbook": dg.MetadataValue.path(str(internal.workbook)),
        "charts": len(internal.charts),
        "readings": dg.MetadataValue.md(
            "\n".join(f"- **{key}**: {reading}" for key, reading in internal.readings.items())
        ),
        "suppression_threshold": options.threshold,
        # a run with the same data, settings and code keeps
        # the last report rather than drawing it again
        "rebuilt": not report.reused,
        **provenance(context.run.run_id),
    }
    if report.benchmark_summary:
        metadata["benchmarks"] = markdown_table(pd.DataFrame(report.benchmark_summary))
    else:
        metadata["benchmarks"] = dg.MetadataValue.text(report.benchmarks_note)
    return dg.MaterializeResult(metadata=metadata)
