"""Resources shared by the assets: the warehouse connection and the dbt CLI."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from importlib.metadata import version
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource
from dagster_duckdb import DuckDBResource
from packaging.version import Version

from . import refresh_lock
from .dbt_project import DBT_EXECUTABLE, dbt_project
from .settings import DEFAULT_DUCKDB_MEMORY_LIMIT, Settings, load_report_settings, load_settings


class WarehouseInUse(RuntimeError):
    """Another program has the warehouse file open (DuckDB's own lock)."""


class WarehouseResource(DuckDBResource):
    """The warehouse, with DuckDB's memory capped (beyond it, joins and sorts spill to disk).

    The cap is SET on each connection rather than passed as connection config: DuckDB refuses a
    second connection to a file in the same process with a different config, and the assets also
    open the warehouse read-only.

    Every run that uses the warehouse holds the refresh lock from start to end (taken when Dagster
    sets the resource up, before any step; the CLI, which takes it first in the same process,
    holds it on), so a run the schedule, the sensor or the UI starts while another refresh runs
    stops at once and says so. Holding the lock, it first swaps in a report a killed refresh
    left staged (forecast.report.folder)."""

    memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT  # validated by the settings (HIGHNEEDS_DUCKDB_MEMORY_LIMIT)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        left_by_dead_process = refresh_lock.acquire(Path(self.database))
        if left_by_dead_process:
            context.log.warning(
                f"Took over the refresh lock left by a refresh that is no longer running (started "
                f"{left_by_dead_process.since}, {left_by_dead_process.process})."
            )
        try:
            installed = settle_report_with_serving(load_settings())
        except BaseException:
            refresh_lock.release(Path(self.database))  # Dagster tears down only what set up
            raise
        if installed:
            context.log.warning(
                f"Swapped in the report of run {installed}, which published the serving file but was stopped "
                "before it swapped its report in."
            )

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        refresh_lock.release(Path(self.database))

    @contextmanager
    def get_connection(self) -> Iterator:
        try:
            with super().get_connection() as con:
                try:
                    con.execute(f"SET memory_limit = '{self.memory_limit}'")
                    yield con
                finally:
                    # dagster-duckdb closes it only when the body succeeded: after a failed step
                    # the warehouse would stay open for writing and later readers here fail
                    con.close()
        except duckdb.IOException as error:
            explained = refresh_lock.explain_duckdb_lock_error(str(error))
            if explained is None:
                raise
            raise WarehouseInUse(explained) from error


def settle_report_with_serving(settings: Settings) -> str | None:
    """Swap in the report of the run that published the serving file, if a refresh killed between
    the two swaps left it staged, and clear what killed runs left (forecast.report.folder).
    Returns the run whose report it swapped in. Call it holding the refresh lock."""
    # matplotlib-free imports: this runs at the start of every run
    from forecast.report.folder import settle_report
    from ingest.publish import read_publication

    publication = read_publication(settings.serving)
    published_run = publication["run_id"] if publication else None
    return published_run if settle_report(load_report_settings(settings).out_dir, published_run) else None


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
