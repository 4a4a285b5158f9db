"""Resources shared by the assets: the settings, the warehouse connection and the dbt CLI.

`build_resources(settings)` binds them all to one `Settings` object, built once per process (by
the CLI, or when Dagster loads the definitions): the assets take it as the `settings` resource,
the warehouse resource opens every connection with its memory cap, threads and spill folder, and
dbt gets what its profile needs on its command line (`--vars`), never through this process's
environment."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from importlib.metadata import version
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource
from dagster_duckdb import DuckDBResource
from dagster_duckdb import resource as dagster_duckdb_resource
from packaging.version import Version
from pydantic import Field

from . import refresh_lock, warehouse
from .dbt_project import DBT_EXECUTABLE, dbt_project
from .settings import DEFAULT_DUCKDB_MEMORY_LIMIT, Settings, dbt_vars_argument, load_report_settings


class WarehouseInUse(RuntimeError):
    """Another program has the warehouse file open (DuckDB's own lock)."""


def _end_run_of_dead_process(context: dg.InitResourceContext, dead: refresh_lock.LockHolder):
    """Mark failed the run of a refresh whose process died holding the lock (kill -9, a crash):
    nothing else ends a run the CLI ran in its own process, and it showed as in progress for
    good beside the materialisations it had recorded."""
    run = context.instance.get_run_by_id(dead.run_id)
    if run is None or run.is_finished:
        return
    context.instance.report_run_failed(
        run,
        message=(
            f"The refresh's process ({dead.process}, started {dead.since}) stopped without "
            f"ending this run (killed, or the machine stopped); run {context.run.run_id} took over "
            "its refresh lock. What it had not published was not published."
        ),
    )
    context.log.warning(f"Marked run {dead.run_id} failed: its process stopped without ending it.")


class WarehouseResource(DuckDBResource):
    """The warehouse, with DuckDB's memory capped (beyond it, joins and sorts spill to disk),
    opened by dagster_project.warehouse.connect as every warehouse connection is.

    Every run that uses the warehouse holds the refresh lock from start to end (taken when Dagster
    sets the resource up, before any step; the CLI, which takes it first in the same process,
    holds it on), so a run the schedule, the sensor or the UI starts while another refresh runs
    stops at once and says so. Holding the lock, it first swaps in a report a killed refresh
    left staged (report.folder), when it knows the serving file and the report folder."""

    memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT  # validated by the settings
    threads: int | None = None  # None: DuckDB's default (HIGHNEEDS_DUCKDB_THREADS)
    temp_directory: str | None = None  # None: <database>.tmp/
    serving: str | None = None  # the serving file and the report folder, to settle a staged report
    report_dir: str | None = None

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        left_by_dead_process = refresh_lock.acquire(Path(self.database))
        if left_by_dead_process:
            context.log.warning(
                f"Took over the refresh lock left by a refresh that is no longer running (started "
                f"{left_by_dead_process.since}, {left_by_dead_process.process})."
            )
        try:
            if context.run is not None:
                dead = refresh_lock.claim_run(Path(self.database), context.run.run_id)
                if dead and dead.run_id and context.instance:
                    try:
                        _end_run_of_dead_process(context, dead)
                    except Exception as error:  # bookkeeping: never what stops a refresh
                        context.log.warning(f"Could not mark run {dead.run_id} failed: {error}")
            installed = None
            if self.serving and self.report_dir:
                installed = settle_report(Path(self.serving), Path(self.report_dir))
        except BaseException:
            refresh_lock.release(Path(self.database))  # Dagster tears down only what set up
            raise
        if installed:
            context.log.warning(
                f"Swapped in the report of run {installed}, which published the serving file but "
                "was stopped before it swapped its report in."
            )

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        refresh_lock.release(Path(self.database))

    @contextmanager
    def get_connection(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        try:
            # retried as dagster-duckdb retries a connection DuckDB refuses (its lock)
            con = dagster_duckdb_resource.backoff(
                fn=warehouse.connect,
                retry_on=(RuntimeError, duckdb.IOException),
                kwargs={
                    "database": self.database,
                    "read_only": read_only,
                    "memory_limit": self.memory_limit,
                    "threads": self.threads,
                    "temp_directory": self.temp_directory,
                },
                max_retries=10,
            )
        except duckdb.IOException as error:
            explained = refresh_lock.explain_duckdb_lock_error(str(error))
            if explained is None:
                raise
            raise WarehouseInUse(explained) from error
        try:
            yield con
        finally:
            # closed after a failed step too: the warehouse would stay open for writing and later
            # readers here fail
            con.close()


def settle_report_with_serving(settings: Settings) -> str | None:
    """Swap in the report of the run that published the serving file, if a refresh killed between
    the two swaps left it staged, and clear what killed runs left (report.folder).
    Returns the run whose report it swapped in. Call it holding the refresh lock."""
    return settle_report(settings.serving, load_report_settings(settings).out_dir)


def settle_report(serving: Path, report_dir: Path) -> str | None:
    # matplotlib-free imports: this runs at the start of every run
    from report.folder import settle_report as settle
    from serving.publish import read_publication

    publication = read_publication(serving)
    published_run = publication["run_id"] if publication else None
    return published_run if settle(report_dir, published_run) else None


class HighneedsDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt CLI, given the settings dbt's profile reads (`profile_vars`, passed as
    `--vars` to every dbt command), and without two costs a refresh does not need: it learns
    dbt's version by running `dbt --version` (2 s of imports) where the installed dbt-core's
    metadata says the same, and it opens its own dbt adapter on the warehouse in this process,
    used only to fetch row counts and column metadata, which the dbt asset reads itself once dbt
    has finished."""

    # Settings.dbt_vars: the warehouse and how DuckDB opens it
    profile_vars: dict[str, str] = Field(default_factory=dict)

    def cli(self, args: Sequence[str], *, extra_vars: Mapping[str, object] | None = None, **kwargs):
        """dagster-dbt's cli (its own keyword arguments), with the profile's variables and
        `extra_vars` (e.g. the ledger's increment) as dbt's one `--vars`."""
        variables = {**self.profile_vars, **(extra_vars or {})}
        return super().cli([*args, *dbt_vars_argument(variables)], **kwargs)

    @cached_property
    def _cli_version(self) -> Version:
        return Version(version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args):  # dagster-dbt's own signature
        return None


def build_resources(settings: Settings) -> dict[str, object]:
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    return {
        # a plain object (the assets take it as dg.ResourceParam[Settings]): no config, so the
        # pseudonym keys it holds are never shown in the UI nor stored with a run
        "settings": settings,
        "warehouse": WarehouseResource(
            database=str(settings.warehouse),
            memory_limit=settings.duckdb_memory_limit,
            threads=settings.duckdb_threads,
            temp_directory=str(settings.duckdb_temp_directory),
            serving=str(settings.serving),
            report_dir=str(settings.report_dir),
        ),
        "dbt": HighneedsDbtCliResource(
            project_dir=dbt_project,
            profiles_dir=str(dbt_project.profiles_dir),
            dbt_executable=DBT_EXECUTABLE,
            profile_vars=settings.dbt_vars(),
        ),
    }
