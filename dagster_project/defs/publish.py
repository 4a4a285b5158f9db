"""The serving file BI reads, published after every refresh whose gates all passed."""

import datetime as dt

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from ingest import landing_read
from ingest.diskspace import reported_when_full
from report.folder import install_report, is_staged
from serving import contract as serving_contract
from serving.publish import META_SCHEMA, PUBLISHED_SCHEMA, ServingOptions, publish
from warehouse import forecast_settings, unchecked_forecast
from warehouse.councils import held_councils

from ..metadata import (
    DATA_ENGINEERING,
    code_version,
    contract_column_schema,
    markdown_table,
    provenance,
)
from ..settings import Settings, load_report_settings
from .gates import warehouse_checked
from .report import REPORT_KEY, report_held
from .unchecked import forecast_unchecked

PUBLISH_KEY = dg.AssetKey(["serving", "publish"])
GATE_KEY = warehouse_checked.key
# The columns of the tables only the serving file has, as the serving contract describes them
# (published.yml, meta.yml): the marts' and the forecast's are their own assets'.
SERVED_TABLE_SCHEMAS = {
    f"{schema}.{name}": dg.MetadataValue.table_schema(contract_column_schema(schema, name))
    for schema in (PUBLISHED_SCHEMA, META_SCHEMA)
    for name in serving_contract.tables(schema)
}


def build_publish_asset(
    checked: list[dg.AssetKey], marts: list[dg.AssetKey], forecast: list[dg.AssetKey]
) -> dg.AssetsDefinition:
    """The publish asset, after the gate, the tables it copies to serving (the marts and the
    forecast) and the report it swaps in with them. `checked` are the assets the gate vouches for
    (ingest and dbt): none may have changed since the gate last passed, and the forecast must
    have run since."""

    @dg.asset(
        key=PUBLISH_KEY,
        group_name="serving",
        owners=[DATA_ENGINEERING],
        kinds={"python", "duckdb"},
        deps=sorted({GATE_KEY, REPORT_KEY, *marts, *forecast}, key=lambda k: k.to_user_string()),
        metadata=SERVED_TABLE_SCHEMAS,
        description=(
            "The DuckDB file BI tools read (HIGHNEEDS_SERVING): the marts and the forecast, "
            "a `published` schema safe to share outside the council (counts below "
            "HIGHNEEDS_SUPPRESSION_THRESHOLD hidden, with secondary suppression), and `meta` (this "
            "version, its refresh run, code version, source files and check results). "
            "Built as a new file beside the old one and swapped in with one atomic rename, "
            "so readers always see a whole version; it runs only after every gate passed, "
            "so a failed refresh leaves the last good file in place; nor does it run when a "
            "landing file changed after ingest read it (one still being copied in is read half: "
            "`meta.landing_read`). The report this run built is "
            "swapped in right after it: the report and the serving file always come from the same "
            "refresh (a refresh killed between the two swaps has its report swapped in "
            "when the next one starts)."
        ),
    )
    def publish_serving(
        context: dg.AssetExecutionContext,
        warehouse: DuckDBResource,
        settings: dg.ResourceParam[Settings],
    ) -> dg.MaterializeResult:
        _require_checked_since_last_change(context, checked, forecast)
        report_settings = load_report_settings(settings)
        report_dir = report_settings.out_dir
        with warehouse.get_connection() as con:
            if (failed := unchecked_forecast(con)) is not None:
                # the report refuses it too; a report kept for a held council would not stop it
                raise dg.Failure(f"Not published: {forecast_unchecked(*failed)}")
            if changed := landing_read.changed_since_read(con):
                raise dg.Failure(landing_changed(changed))
            held = held_councils(con)
            report_kept = report_held(con, report_settings.la_code)
            # the settings the forecast tables were written with (its run may be an earlier
            # one than this, started with other settings), else this process's
            ran_with = forecast_settings(con) or settings.forecast_fingerprint()
        if report_kept:
            context.log.warning(report_kept)
        elif not is_staged(report_dir, context.run.run_id):
            raise dg.Failure(
                "Not published: this run did not build the report, and the serving file and the "
                "report are published together. Materialise report with serving/publish, "
                "or run the whole refresh job."
            )
        for code, why in held.items():
            context.log.warning(
                f"council {code} held (the serving file keeps what it last published of it, "
                f"if anything): {why}"
            )
        options = ServingOptions(
            serving_key=settings.serving_pseudonym_key,
            suppression_threshold=settings.suppression_threshold,
            parquet_dir=settings.serving_parquet,
            storage_version=settings.serving_storage_version,
            file_mode=settings.serving_file_mode,
            held=held,
            forecast_settings=ran_with,
        )
        run = context.instance.get_run_record_by_id(context.run.run_id)
        # (a full disk there is said as the warehouse's and dbt's are: DuckDB's own words were
        # "Checkpoint failed for database serving_next … No space left on device")
        with (
            reported_when_full(
                "publishing the serving file",
                settings.serving.parent,
                advice=(
                    "Free space on that disk, or set HIGHNEEDS_SERVING to a file on a larger "
                    "one, then run the refresh again: BI keeps the last published version."
                ),
            ),
            warehouse.get_connection() as con,
        ):
            publication = publish(
                con,
                settings.serving,
                run_id=context.run.run_id,
                code_version=code_version(),
                options=options,
                refresh_started_at=run.start_time and _utc(run.start_time),
            )
        if not report_kept:
            install_report(report_dir, context.run.run_id)
        for stale in publication.removed_stale:
            context.log.warning(f"removed {stale}, left by a publish that did not finish")
        for code in publication.no_longer_served:
            context.log.warning(
                f"council {code} was served by the last version and has no files in the landing "
                "folder now: it is no longer served"
            )
        if changed := publication.forecast_settings_changed:
            # the CLI's summary says it; a run from the UI, the schedule or the sensor said nothing
            context.log.warning(
                f"the forecast's settings changed since the version this one replaces "
                f"({changed[0]}): its figures moved with them, not only with the data. "
                f"Before: {changed[1]}. Now: {changed[2]}"
            )
        tables = pd.DataFrame(sorted(publication.tables.items()), columns=["table", "rows"])
        return dg.MaterializeResult(
            metadata={
                **provenance(context.run.run_id),
                "serving_file": dg.MetadataValue.path(str(publication.path)),
                "version_id": publication.version_id,
                "published_at_utc": publication.published_at.isoformat(timespec="seconds"),
                "parquet": dg.MetadataValue.path(str(publication.parquet))
                if publication.parquet
                else "off",
                "tables": markdown_table(tables),
                "held_councils": ", ".join(held) if held else "none",
                "no_longer_served": ", ".join(publication.no_longer_served) or "none",
                "report": "kept the last good report" if report_kept else "swapped in",
                "forecast_settings_changed": (
                    f"since {changed[0]}: before {changed[1]}; now {changed[2]}"
                    if changed
                    else "no"
                ),
            }
        )

    return publish_serving


def landing_changed(changed: list[landing_read.Changed]) -> str:
    return (
        "Not published: landing files changed after this refresh read them: "
        + "; ".join(c.describe() for c in changed)
        + ". A file still being copied in when the refresh started is read half, and its "
        "figures would pass every gate. BI and the report keep the last good version. Run the "
        "refresh again once the copy has finished (the landing sensor starts one when the "
        "folder has settled)."
    )


def _require_checked_since_last_change(
    context: dg.AssetExecutionContext, checked: list[dg.AssetKey], after_gate: list[dg.AssetKey]
) -> None:
    """Refuse to publish a warehouse that changed since its gates last passed, or a forecast older
    than them: this asset can also be materialised on its own from the UI."""
    instance = context.instance

    def latest(key: dg.AssetKey) -> int | None:
        records = instance.fetch_materializations(key, limit=1).records
        return records[0].storage_id if records else None

    gate = latest(GATE_KEY)
    if gate is None:
        raise dg.Failure(
            "The warehouse has never passed its gates "
            "(gates/warehouse_checked): nothing to publish."
        )
    changed = sorted(k.to_user_string() for k in checked if (latest(k) or 0) > gate)
    stale = sorted(k.to_user_string() for k in after_gate if (latest(k) or 0) < gate)
    if changed or stale:
        raise dg.Failure(
            "Not published: "
            + (
                "; ".join(
                    filter(
                        None,
                        [
                            f"changed since the gates last passed: {', '.join(changed)}"
                            if changed
                            else "",
                            f"not rebuilt since the gates last passed: {', '.join(stale)}"
                            if stale
                            else "",
                        ],
                    )
                )
            )
            + ". Run the whole refresh job."
        )


def _utc(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).replace(tzinfo=None)
