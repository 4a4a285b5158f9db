"""Resources shared by the assets: the warehouse connection and the dbt CLI."""

from __future__ import annotations

from dagster_dbt import DbtCliResource
from dagster_duckdb import DuckDBResource

from .dbt_project import DBT_EXECUTABLE, dbt_project
from .settings import load_settings


def build_resources() -> dict[str, object]:
    settings = load_settings()
    settings.export()
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    return {
        "warehouse": DuckDBResource(database=str(settings.warehouse)),
        "dbt": DbtCliResource(
            project_dir=dbt_project,
            profiles_dir=str(dbt_project.profiles_dir),
            dbt_executable=DBT_EXECUTABLE,
        ),
    }
