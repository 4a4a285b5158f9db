"""Resources shared by the assets: the warehouse connection and the dbt CLI."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from importlib.metadata import version

from dagster_dbt import DbtCliResource
from dagster_duckdb import DuckDBResource
from packaging.version import Version

from .dbt_project import DBT_EXECUTABLE, dbt_project
from .settings import DEFAULT_DUCKDB_MEMORY_LIMIT, load_settings


class WarehouseResource(DuckDBResource):
    """The warehouse, with DuckDB's memory capped (beyond it, joins and sorts spill to disk).

    The cap is SET on each connection rather than passed as connection config: DuckDB refuses a
    second connection to a file in the same process with a different config, and the assets also
    open the warehouse read-only."""

    memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT  # validated by the settings (HIGHNEEDS_DUCKDB_MEMORY_LIMIT)

    @contextmanager
    def get_connection(self) -> Iterator:
        with super().get_connection() as con:
            con.execute(f"SET memory_limit = '{self.memory_limit}'")
            yield con


class HighneedsDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt CLI, without two costs a refresh does not need: it learns dbt's version
    by running `dbt --version` (2 s of imports) where the installed dbt-core's metadata says the
    same, and it opens its own dbt adapter on the warehouse in this process, used only to fetch
    row counts and column metadata, which the dbt asset reads itself once dbt has finished."""

    @cached_property
    def _cli_version(self) -> Version:
        return Version(version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):  # dagster-dbt's own signature
        return None


def build_resources() -> dict[str, object]:
    settings = load_settings()
    settings.export()
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    return {
        "warehouse": WarehouseResource(database=str(settings.warehouse), memory_limit=settings.duckdb_memory_limit),
        "dbt": HighneedsDbtCliResource(
            project_dir=dbt_project,
            profiles_dir=str(dbt_project.profiles_dir),
            dbt_executable=DBT_EXECUTABLE,
        ),
    }
