"""How the Dagster definitions are put together: `build_definitions(settings)`.

Apart from dagster_project.definitions (which builds `defs` when imported, for `dagster dev` and
the Dagster CLI), so that `highneeds refresh` builds them once, from the settings it resolved,
without importing that module.
"""

from __future__ import annotations

import dagster as dg

from .defs.automation import build_automation, refresh_job
from .defs.dbt import warehouse_models
from .defs.docs import dbt_docs
from .defs.forecast import forecast_tables_asset
from .defs.gates import warehouse_checked, warehouse_gates
from .defs.ingest import ingest_assets, ingest_checks
from .defs.landing import landing_assets
from .defs.publish import build_publish_asset
from .defs.report import report_asset
from .resources import build_resources
from .settings import Settings, load_settings

publish_serving = build_publish_asset(
    checked=[*(key for asset in ingest_assets for key in asset.keys), *warehouse_models.keys],
    marts=[key for key in warehouse_models.keys if key.path[0] == "marts"],
    forecast=list(forecast_tables_asset.keys),
)


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """The definitions with resources bound to `settings` (default: loaded now). Every file the
    process creates from here on is owner-only (the warehouse, serving and their temp files)."""
    settings = settings or load_settings()
    resources = build_resources(settings)
    settings.restrict_data_files()
    nightly_refresh, landing_files_changed = build_automation(settings)
    return dg.Definitions(
        assets=[
            *landing_assets,
            # Python assets link to the code that builds them (dbt models link to their SQL)
            *dg.with_source_code_references(
                [
                    *ingest_assets,
                    warehouse_checked,
                    forecast_tables_asset,
                    dbt_docs,
                    publish_serving,
                    report_asset,
                ]
            ),
            warehouse_models,
        ],
        asset_checks=[*ingest_checks, warehouse_gates],
        jobs=[refresh_job],
        schedules=[nightly_refresh],
        sensors=[landing_files_changed],
        resources=resources,
        # one process per run, as `highneeds refresh` runs it: DuckDB has one writer per file
        # (parallel step processes fail on its lock), and the run holds the refresh lock from
        # setting up its resources to tearing them down (resources.WarehouseResource)
        executor=dg.in_process_executor,
    )
