"""The forecast: caseload × unit cost by provision type to the horizon, unmitigated and
mitigated."""

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from checks.gates import GateResult
from forecast.checks import CHECK_DESCRIPTIONS, TABLE_CHECKS, combine_results
from forecast.councils import forecast_councils
from forecast.history import councils, read_history
from forecast.model import MITIGATED, UNMITIGATED
from forecast.store import TABLE_DESCRIPTIONS, combine, write_tables
from ingest import landing_read
from ingest.hashing import HashCache
from warehouse import (
    FORECAST_BEING_WRITTEN,
    forecast_record,
    forecast_recorded_at,
    forecast_settings,
    record_forecast,
    table_exists,
    unchecked_run,
)
from warehouse.councils import held_councils

from ..metadata import (
    FINANCE_AND_BI,
    check_result,
    contract_column_schema,
    markdown_table,
    provenance,
)
from ..settings import Settings, load_report_settings
from .gates import MART_KEYS
from .unchecked import figures_unchecked

# the check that holds a council whose figures cannot be forecast, and the table it is on
FITTED_CHECK, FITTED_TABLE = "forecast_fitted", "caseload"


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
    ]
    + [
        dg.AssetCheckSpec(
            FITTED_CHECK,
            asset=["forecast", FITTED_TABLE],
            blocking=True,
            description=(
                "Every council the refresh forecasts could be forecast from its own figures. In a "
                "warehouse of several councils, one that could not (a ledger reaching back fewer "
                "censuses than the cohort model needs, say) is held: the serving file keeps its "
                "last good figures, if a refresh published any, while the others publish. A "
                "council alone, or every council failing, stops the refresh."
            ),
        )
    ],
)
def forecast_tables_asset(
    context: dg.AssetExecutionContext,
    warehouse: DuckDBResource,
    settings: dg.ResourceParam[Settings],
):
    """Runs forecast.model on each council's marts and writes the forecast schema (every council's
    tables, la_code first) in one transaction. A council held by a gate (meta.held_councils) is
    not forecast: the serving file keeps its last good forecast."""
    with warehouse.get_connection() as con:
        if (run := unchecked_run(con)) is not None:
            # materialised on its own from the UI after a refresh whose gates failed: its
            # figures would overwrite the last good forecast, green
            raise dg.Failure(
                description="Not forecast: "
                + figures_unchecked(run, "the forecast tables keep the last good forecast")
            )
        # a council an earlier run of this step could not forecast is tried again (the gates
        # rewrite meta.held_councils at each refresh; this step may run again on its own)
        forget_unfitted(con)
        held = held_councils(con)
        codes = councils(con)
        histories = {code: read_history(con, code) for code in codes if code not in held}
    for code, why in held.items():
        context.log.warning(f"{code}: not forecast, held by a gate ({why})")
    published = load_report_settings(settings).published
    # a region's or England's councils are forecast side by side, one process per CPU the
    # refresh may use (HIGHNEEDS_DUCKDB_THREADS); one whose own figures cannot be forecast (a
    # ledger too short for the cohort model, say) is held while the others are forecast, as a
    # gate it failed would hold it
    unfitted: dict[str, str] = {}
    # a council's own mitigation log (mitigations.yml in its landing folder), else the shared one
    own = settings.mitigation_logs()
    logs = {code: own.get(code, own.get(None, settings.mitigations)) for code in histories}
    for code, log in logs.items():
        context.log.info(
            (f"{code}: " if len(codes) > 1 else "")
            + f"mitigation log {log}"
            + (" (the council's own)" if log != settings.mitigations else "")
        )
    # each log hashed before the forecast reads it, checked after, and recorded for the publish
    # to check again (a council's mitigations.yml still being copied in was read half: its
    # mitigated balance published £12m worse, green)
    hashes = HashCache(None)
    for log in sorted(set(logs.values())):
        if log.is_file():  # (a log that is not there is refused by name when it is read)
            hashes.sha256(log)
    try:
        done = forecast_councils(
            histories,
            settings.forecast,
            logs,
            published,
            settings.duckdb_threads,
            unfitted=unfitted,
            shared=settings.mitigations,
        )
    except ValueError as error:
        if not held:
            raise
        # the councils the gates left could not be forecast: name every council and why
        raise dg.Failure(
            description=(
                "No council can be forecast or published: held by the gates: "
                + "; ".join(f"{code}: {why}" for code, why in sorted(held.items()))
                + f"; and {', '.join(sorted(histories))} could not be forecast: {error}. "
                "The serving file keeps the last good version."
            )
        ) from error
    if moved := landing_read.changed_since_hashed(hashes):
        raise dg.Failure(
            description="Not forecast: the mitigation log changed while the forecast read it ("
            + "; ".join(
                f"{path}: {hashed:,} bytes when read, "
                + (f"{now:,} now" if now is not None else "gone now")
                for path, hashed, now in moved
            )
            + "): a file still being copied in. The forecast tables keep the last good "
            "forecast; run the refresh again once the copy has finished."
        )
    for code, why in unfitted.items():
        context.log.warning(f"{code}: not forecast, held (its figures cannot be forecast): {why}")
    if unfitted:
        with warehouse.get_connection() as con:
            hold_unfitted(con, context.run.run_id, unfitted)
    for council in done:
        for note in council.notes:
            context.log.info(f"{council.la_code}: {note}" if len(codes) > 1 else note)
    per_council = [council.tables for council in done]
    checks = {council.la_code: council.checks for council in done}
    forecasts = {council.la_code: council for council in done}
    if not per_council:
        if held:
            # each council held by a gate of its own: together they stop the refresh, as one
            # gate failing for every council does
            raise dg.Failure(
                description=(
                    "Every council is held by the gates ("
                    + "; ".join(f"{code}: {why}" for code, why in sorted(held.items()))
                    + "): nothing to forecast or publish; the serving file keeps the last good "
                    "version."
                )
            )
        raise ValueError("The marts hold no council's figures: nothing to forecast.")
    tables = combine(per_council)
    results = [
        *(
            check_result(gate, dg.AssetKey(["forecast", table]), name)
            for name, (table, gate) in combine_results(checks).items()
        ),
        check_result(
            fitted_gate(sorted(histories), unfitted),
            dg.AssetKey(["forecast", FITTED_TABLE]),
            FITTED_CHECK,
            councils=codes,
        ),
    ]
    with warehouse.get_connection() as con:
        # marked unchecked while the tables are replaced (a step killed between the two leaves
        # them so), then with the blocking checks that failed (ERROR: not those holding a
        # council while the others publish), which the report and the publish refuse
        before, before_settings = forecast_record(con), forecast_settings(con)
        before_at = forecast_recorded_at(con)
        record_forecast(con, context.run.run_id, [FORECAST_BEING_WRITTEN])
        landing_read.record(
            con, landing_read.MITIGATION_LOGS, settings.landing, hashes, context.run.run_id
        )
        try:
            write_tables(con, tables)
        except BaseException:
            # rolled back: the tables hold the forecast the record said before
            if before is not None:
                record_forecast(con, *before, before_settings, recorded_at=before_at)
            else:
                con.execute("DROP TABLE meta.forecast_checked")
            raise
        record_forecast(
            con,
            context.run.run_id,
            [
                r.check_name
                for r in results
                if not r.passed and r.severity == dg.AssetCheckSeverity.ERROR
            ],
            settings.forecast_fingerprint(),
        )

    def named(code: str, key: str) -> str:
        return f"{code}_{key}" if len(codes) > 1 else key

    summary = "\n\n".join(
        (f"**{code}**\n\n" if len(codes) > 1 else "") + f.summary for code, f in forecasts.items()
    )
    for name, frame in tables.items():
        metadata = {
            "dagster/row_count": len(frame),
            "mitigations_file": (
                dg.MetadataValue.path(str(next(iter(set(logs.values())))))
                if len(set(logs.values())) == 1
                else dg.MetadataValue.md(
                    "\n".join(f"- {code}: `{log}`" for code, log in sorted(logs.items()))
                )
            ),
            "dagster/column_schema": contract_column_schema(
                "forecast", name, {column: str(frame[column].dtype) for column in frame.columns}
            ),
            **provenance(context.run.run_id),
        }
        if name == "hnb_position":
            for code, f in forecasts.items():
                position = f.hnb_position
                last = position[position["financial_year"] == settings.horizon]
                last = last.set_index("scenario")
                metadata.update(
                    {
                        named(
                            code, f"{scenario}_cumulative_balance_{settings.horizon}_central_gbp"
                        ): round(float(last.loc[scenario, "cumulative_balance_gbp_central"]), 2)
                        for scenario in (UNMITIGATED, MITIGATED)
                    }
                )
            metadata["summary"] = dg.MetadataValue.md(summary)
            metadata["table"] = markdown_table(frame)
        elif name in ("assumptions", "backtest", "mitigations", "sensitivity"):
            metadata["table"] = markdown_table(frame)
        elif name == "caseload":
            metadata["summary"] = dg.MetadataValue.md(summary)
        yield dg.MaterializeResult(asset_key=["forecast", name], metadata=metadata)
    yield from results


def fitted_gate(forecast: list[str], unfitted: dict[str, str]) -> GateResult:
    """Whether each council the refresh forecast (not held by a gate before it) could be: one
    that could not is held (the serving file keeps what it last published of it, if anything)
    while the others publish."""
    facts = pd.DataFrame(
        {
            "la_code": forecast,
            "forecast": ["not fitted" if code in unfitted else "fitted" for code in forecast],
            "why_not": [unfitted.get(code, "") for code in forecast],
        }
    )
    return GateResult(
        FITTED_CHECK,
        not unfitted,
        facts,
        [
            f"council {code}: its figures cannot be forecast: {why}"
            for code, why in unfitted.items()
        ],
        councils_failed=sorted(unfitted) or None,
    )


def hold_unfitted(con, run_id: str, unfitted: dict[str, str]) -> None:
    """Add the councils whose figures could not be forecast to meta.held_councils (written by
    gates/warehouse_checked this run), so the report and the publish hold them as they hold a
    council whose gate failed, and the failed check to meta.check_results (the gates' results,
    served in meta.check_results and read by the report's checks), which names them."""
    asset = f"forecast/{FITTED_TABLE}"
    for code, why in sorted(unfitted.items()):
        con.execute(
            "INSERT INTO meta.held_councils (run_id, la_code, asset, check_name, description) "
            "VALUES (?, ?, ?, ?, ?)",
            [run_id, code, asset, FITTED_CHECK, why],
        )
    described = fitted_gate(sorted(unfitted), unfitted).failures
    con.execute(
        "INSERT INTO meta.check_results (run_id, asset, check_name, passed, severity, "
        "description, evaluated_at) VALUES (?, ?, ?, false, 'WARN', ?, now()::TIMESTAMP)",
        [run_id, asset, FITTED_CHECK, "; ".join(described)],
    )


def forget_unfitted(con) -> None:
    """Remove what hold_unfitted added (an earlier run of the forecast step), so a council it
    held is tried again: the gates' own rows stay."""
    for table in ("held_councils", "check_results"):
        if table_exists(con, "meta", table):
            con.execute(f"DELETE FROM meta.{table} WHERE check_name = ?", [FITTED_CHECK])
