"""All Dagster definitions of highneeds: `dagster dev -w workspace.yaml` loads `defs` from here."""

from __future__ import annotations

import dagster as dg

from .defs.automation import landing_files_changed, nightly_refresh, refresh_job
from .defs.dbt import warehouse_models
from .defs.forecast import forecast_tables_asset
from .defs.gates import warehouse_checked, warehouse_gates
from .defs.ingest import ingest_assets, ingest_checks
from .defs.docs import dbt_docs
from .defs.landing import landing_assets
from .resources import build_resources



def build_definitions() -> dg.Definitions:
    """The definitions with resources bound to the settings in the environment now."""
    return dg.Definitions(
        assets=[
            *landing_assets,
            # Python assets link to the code that builds them (dbt models link to their SQL)
            *dg.with_source_code_references([*ingest_assets, warehouse_checked, forecast_tables_asset, dbt_docs]),
            warehouse_models,
        ],
        asset_checks=[*ingest_checks, warehouse_gates],
        jobs=[refresh_job],
        schedules=[nightly_refresh],
        sensors=[landing_files_changed],
        resources=build_resources(),
    )


defs = build_definitions()
