"""`highneeds` command line: demo, generate, refresh, ui.

`refresh` runs the same Dagster job the schedule and the sensor run, in this process, against
the Dagster instance in DAGSTER_HOME (so every run shows in the UI's history), printing each
stage as it finishes and a summary at the end. It exits 1 when a file was rejected, a gate
failed or a step failed, saying which and why; 75 (EX_TEMPFAIL: try again later) when another
refresh of the same warehouse is running (`--wait` waits for it instead); 130 when SIGINT,
SIGTERM or SIGHUP stopped it, after stopping dbt and releasing the refresh lock.
"""

import argparse
import contextlib
import functools
import http.server
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .settings import (
    DEMO_LA_CODE,
    REPO_ROOT,
    Settings,
    SettingsError,
    load_settings,
    write_new_key_to_dotenv,
)

DAGSTER_YAML = REPO_ROOT / "dagster_project" / "dagster.yaml"
STAGES = {
    "observe_landing_": "landing",
    "raw__": "ingest",
    "_ingest_gates": "ingest gates",
    "warehouse_models": "dbt build and tests",
    "warehouse_gates": "warehouse gates",
    "gates__warehouse_checked": "gate: warehouse checked",
    "forecast_tables_asset": "forecast",
    "docs__dbt_docs": "dbt docs",
    "serving__publish": "publish to serving",
    "report": "report",
}
EXAMPLES_PER_REASON = 3
REFRESH_RUNNING_EXIT_CODE = 75  # EX_TEMPFAIL: another refresh holds the lock, try again later
INTERRUPTED_EXIT_CODE = 130  # as a shell reports a command stopped by Ctrl-C
CHILD_STOP_TIMEOUT_SECONDS = 10  # after SIGTERM, before SIGKILL
PUBLISHED_HELP = ("folder with the DfE's published files (default: HIGHNEEDS_PUBLISHED, else <landing>/reference "
                  "when it holds them, else the copy shipped with highneeds)")


def stage_of(step_key: str) -> str:
    for fragment, stage in STAGES.items():
        if fragment in step_key:
            return f"{stage} ({step_key})" if stage in ("landing", "ingest", "ingest gates") else stage
    return step_key


def prepare_dagster_home(settings: Settings) -> None:
    """DAGSTER_HOME with the repository's dagster.yaml (telemetry off) unless one is there."""
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    target = settings.dagster_home / "dagster.yaml"
    if not target.exists():
        shutil.copyfile(DAGSTER_YAML, target)


@dataclass
class RefreshOutcome:
    success: bool
    run_id: str
    failed_checks: list[tuple[str, str, str]] = field(default_factory=list)  # asset, check, why
    failed_steps: list[tuple[str, str]] = field(default_factory=list)  # step, error
    checks_passed: int = 0
    checks_warned: int = 0
    not_run: list[str] = field(default_factory=list)  # asset keys the run did not materialise
    published: dict[str, str] | None = None  # the serving file's new version, when the run published


def run_refresh(settings: Settings, console: Console) -> RefreshOutcome:
    """Materialise every asset in-process; print stages as they finish.

    The job runs on this thread, the main one, where Dagster turns SIGINT and SIGTERM into an
    interrupt of the running step (dagster-dbt passes it on to dbt) and ends the run as failed;
    this then raises KeyboardInterrupt. A second thread prints the steps."""
    settings.restrict_data_files()
    prepare_dagster_home(settings)
    import dagster as dg
    from dagster._core.utils import make_new_run_id

    from .assembly import build_definitions

    defs = build_definitions(settings)  # the settings resolved once, handed to every asset
    instance = dg.DagsterInstance.from_config(str(settings.dagster_home))
    run_id = make_new_run_id()
    job = defs.resolve_job_def("refresh")

    # dbt and the libraries write their own logs to stdout/stderr: keep them in a log file
    # (the Dagster UI has them per step too) and keep the terminal to the stages and summary.
    log_dir = settings.dagster_home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"refresh-{run_id}.log"
    finished = threading.Event()
    follower = threading.Thread(target=_follow_steps, args=(instance, run_id, finished, console), daemon=True)
    started = time.monotonic()
    with log_path.open("w", encoding="utf-8") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        follower.start()
        try:
            result = job.execute_in_process(
                instance=instance,
                run_id=run_id,
                raise_on_error=False,
                run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
                tags={"highneeds/trigger": "cli"},
            )
        finally:
            finished.set()
            follower.join()
    if _interrupted(result.all_events):
        raise KeyboardInterrupt
    outcome = RefreshOutcome(success=bool(result.success), run_id=run_id)
    outcome_from_events(outcome, result.all_events)
    _explain_lock_conflicts(outcome, result.all_events)
    ran = (dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_OBSERVATION)
    materialized = {e.asset_key for e in result.all_events if e.event_type in ran}
    outcome.not_run = sorted(k.to_user_string() for k in job.asset_layer.executable_asset_keys - materialized)
    console.print(f"  [dim]run {run_id} took {time.monotonic() - started:.1f}s; log: {log_path}[/dim]")
    return outcome


def _interrupted(events) -> bool:
    """Whether a signal stopped the run (Dagster records it as a step's or the run's error)."""
    interrupts = ("DagsterExecutionInterruptedError", "KeyboardInterrupt")
    return any(getattr(getattr(event.event_specific_data, "error", None), "cls_name", None) in interrupts
               for event in events)


def _explain_lock_conflicts(outcome: RefreshOutcome, events) -> None:
    """A step that failed on DuckDB's lock of the warehouse (a BI tool, or a dbt left running by a
    killed refresh, has it open): say so plainly, naming the process, in place of DuckDB's words."""
    import dagster as dg

    from .refresh_lock import explain_duckdb_lock_error

    explained = {}
    for event in events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE and event.event_specific_data.error:
            error, text = event.event_specific_data.error, []
            while error is not None:
                text.append(error.message)
                error = error.cause or error.context
            reading = explain_duckdb_lock_error("\n".join(text))
            if reading:
                explained[event.step_key] = reading
    outcome.failed_steps = [(step, explained.get(step, error)) for step, error in outcome.failed_steps]


def _follow_steps(instance, run_id: str, finished: threading.Event, console: Console) -> None:
    """Print each step as it starts, finishes, fails or is skipped, until the run ends."""
    import dagster as dg

    cursor = None
    step_started: dict[str, float] = {}
    wanted = {
        dg.DagsterEventType.STEP_START,
        dg.DagsterEventType.STEP_SUCCESS,
        dg.DagsterEventType.STEP_FAILURE,
        dg.DagsterEventType.STEP_SKIPPED,
    }
    while True:
        alive = not finished.is_set()
        connection = instance.get_records_for_run(run_id, cursor=cursor, of_type=wanted)
        cursor = connection.cursor
        for record in connection.records:
            event = record.event_log_entry.dagster_event
            if event is None or event.step_key is None:
                continue
            step = event.step_key
            if event.event_type == dg.DagsterEventType.STEP_START:
                step_started[step] = record.event_log_entry.timestamp
            elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
                took = record.event_log_entry.timestamp - step_started.get(step, record.event_log_entry.timestamp)
                console.print(f"  [green]✓[/green] {stage_of(step)} [dim]{took:.1f}s[/dim]")
            elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
                console.print(f"  [red]✗[/red] {stage_of(step)}")
            elif event.event_type == dg.DagsterEventType.STEP_SKIPPED:
                console.print(f"  [yellow]–[/yellow] {stage_of(step)} [dim]skipped: an upstream gate or step failed[/dim]")
        if not alive:
            break
        time.sleep(0.3)


def outcome_from_events(outcome: RefreshOutcome, events) -> None:
    """Count the run's checks and collect failed checks, failed and skipped steps."""
    import dagster as dg

    from .defs.publish import PUBLISH_KEY

    for event in events:
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION and event.asset_key == PUBLISH_KEY:
            metadata = event.event_specific_data.materialization.metadata
            outcome.published = {name: str(getattr(value, "value", value)) for name, value in metadata.items()}
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if evaluation.passed:
                outcome.checks_passed += 1
            elif evaluation.severity == dg.AssetCheckSeverity.WARN:
                outcome.checks_warned += 1
            else:
                outcome.failed_checks.append(
                    (evaluation.asset_key.to_user_string(), evaluation.check_name, _why(evaluation))
                )
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = event.event_specific_data.error
            message = (error.cause.message if error.cause else error.message) if error else "unknown error"
            outcome.failed_steps.append((event.step_key, message.strip().splitlines()[0] if message else ""))
    if outcome.failed_checks:
        outcome.success = False


def _why(evaluation) -> str:
    if evaluation.description:
        return evaluation.description
    metadata = evaluation.metadata or {}
    failed = metadata.get("dagster_dbt/failed_row_count")
    if failed is not None:
        return f"dbt test failed on {failed.value} row(s)"
    return "failed"


# --- summary ----------------------------------------------------------------------------------

def print_summary(settings: Settings, outcome: RefreshOutcome, console: Console) -> None:
    if not settings.warehouse.exists():  # a refresh that stopped before loading anything
        _print_checks(outcome, console)
        return
    with settings.connect_warehouse(read_only=True) as con:
        _print_landing(con, console)
        _print_quarantine_examples(con, console)
        _print_checks(outcome, console)
        _print_provisions(con, settings, console)
    _print_publication(settings, outcome, console)


def _table_exists(con, schema: str, name: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, name]
        ).fetchone()[0]
    )


def _print_landing(con, console: Console) -> None:
    if not _table_exists(con, "raw", "landing_files"):
        return
    flagged: dict[str, int] = {}
    if _table_exists(con, "marts", "fct_data_quality"):
        flagged = dict(con.execute(
            "SELECT extract, sum(rows)::BIGINT FROM marts.fct_data_quality "
            "WHERE measure = 'rows_flagged_by_flag' AND in_landing GROUP BY 1"
        ).fetchall())
    rows = con.execute(
        """
        SELECT extract, count(*) AS files,
               count(*) FILTER (WHERE status = 'rejected') AS rejected,
               coalesce(sum(rows_read), 0), coalesce(sum(rows_valid), 0),
               coalesce(sum(rows_duplicate), 0), coalesce(sum(rows_quarantined), 0),
               sum(money_quarantined_gbp)::DOUBLE
        FROM raw.landing_files WHERE in_landing GROUP BY extract ORDER BY extract
        """
    ).fetchall()
    table = Table(title="Landing files (in the landing folder now)")
    for column in ("extract", "files", "rejected", "rows read", "loaded", "exact duplicates", "quarantined",
                   "quarantined £", "flagged"):
        table.add_column(column, justify="left" if column == "extract" else "right")
    for row in rows:
        money = "–" if row[7] is None else f"£{row[7]:,.2f}"
        table.add_row(row[0], *(f"{value:,}" for value in row[1:7]), money, f"{flagged.get(row[0], 0):,}")
    console.print(table)
    for (message,) in con.execute(
        "SELECT message FROM raw.landing_files WHERE in_landing AND status = 'rejected' ORDER BY extract, file_name"
    ).fetchall():
        # the message is the file's own words (names, paths): printed as text, never as markup
        console.print(Text.assemble(("rejected ", "red"), message))
    if flagged:
        details = con.execute(
            "SELECT reason, sum(rows)::BIGINT FROM marts.fct_data_quality WHERE measure = 'rows_flagged_by_flag' "
            "AND in_landing GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
        console.print(
            "[yellow]flagged (kept, see marts.fct_data_quality):[/yellow] "
            + ", ".join(f"{flag} × {count:,}" for flag, count in details),
            highlight=False,
        )


def _print_quarantine_examples(con, console: Console) -> None:
    """Per extract and reason: the count, then the first rows as `file:row column: problem ('value')`."""
    from ingest.contracts import EXTRACTS

    for name in EXTRACTS:
        if not _table_exists(con, "quarantine", name):
            continue
        rows = con.execute(
            f"""
            WITH current_rows AS (
                SELECT q.* FROM quarantine.{name} q
                JOIN raw.{name}_files f ON f.file_hash = q._file_hash AND f.in_landing
            ),
            problems AS (
                SELECT _source_file, _source_row, unnest(reason_codes) AS code,
                       unnest(reason_columns) AS column_name, unnest(reason_values) AS value
                FROM current_rows
            )
            SELECT code, count(*) OVER (PARTITION BY code) AS n, _source_file, _source_row, column_name, value
            FROM problems
            QUALIFY row_number() OVER (PARTITION BY code ORDER BY _source_file, _source_row) <= {EXAMPLES_PER_REASON}
            ORDER BY n DESC, code, _source_file, _source_row
            """
        ).fetchall()
        last_code = None
        for code, count, source_file, source_row, column, value in rows:
            if code != last_code:
                console.print(f"[yellow]quarantined[/yellow] {name}: {code} × {count:,}", highlight=False)
                last_code = code
            shown = f" ({value!r})" if value is not None else ""
            console.print(f"    {source_file}:{source_row} {column}: {code.replace('_', ' ')}{shown}", highlight=False, markup=False)


def _print_checks(outcome: RefreshOutcome, console: Console) -> None:
    line = f"Checks: {outcome.checks_passed} passed, {len(outcome.failed_checks)} failed"
    if outcome.checks_warned:
        line += f", {outcome.checks_warned} warnings"
    console.print(line)
    for asset, check, why in outcome.failed_checks:
        console.print(Text.assemble(("FAILED", "red"), f" {asset} · {check}: {why}"))
    # one line per error: a wrong key fails every ingest step with the same words
    steps_by_error: dict[str, list[str]] = {}
    for step, error in outcome.failed_steps:
        if "blocking asset check" not in error:
            steps_by_error.setdefault(error, []).append(step)
    for error, steps in steps_by_error.items():
        console.print(Text.assemble(("step failed", "red"), f" {', '.join(steps)}: {error}"))
    if outcome.not_run:
        layers = sorted({key.split("/")[0] for key in outcome.not_run})
        console.print(
            f"[yellow]Not run (an upstream gate or step failed):[/yellow] {len(outcome.not_run)} assets in "
            f"{', '.join(layers)}. Those tables keep their last good values.",
            highlight=False,
        )


def _print_provisions(con, settings: Settings, console: Console) -> None:
    if not _table_exists(con, "marts", "fct_provision_spend"):
        return
    actual = con.execute(
        """
        WITH last_year AS (
            SELECT max(financial_year) AS fy FROM marts.fct_provision_spend WHERE is_complete_year
        ),
        last_census AS (SELECT max(census_year) AS y FROM marts.fct_ehcp_cohort)
        SELECT s.provision_type, s.financial_year, s.spend_gbp::DOUBLE,
               (SELECT sum(plans) FROM marts.fct_ehcp_cohort c, last_census
                WHERE c.census_year = last_census.y AND c.provision_type = s.provision_type) AS plans,
               (SELECT y FROM last_census)
        FROM marts.fct_provision_spend s, last_year
        WHERE s.financial_year = last_year.fy
        ORDER BY s.spend_gbp DESC
        """
    ).fetchall()
    forecast: dict[tuple[str, str], tuple[float, float]] = {}
    if _table_exists(con, "forecast", "spend"):
        for scenario, provision, spend, plans in con.execute(
            """
            SELECT s.scenario, s.provision_type, s.spend_gbp_central, c.plans_central
            FROM forecast.spend s
            LEFT JOIN forecast.caseload c ON c.scenario = s.scenario AND c.provision_type = s.provision_type
                AND c.year = CAST(left(s.financial_year, 4) AS INTEGER) + 1
            WHERE s.financial_year = ?
            """,
            [settings.horizon],
        ).fetchall():
            forecast[(scenario, provision)] = (spend, plans)
    if not actual:
        return
    fy, census_year = actual[0][1], actual[0][4]
    table = Table(title=f"Spend and caseload by provision: {fy} actual and {settings.horizon} forecast (central: mean of the paths)")
    for column in ("provision", f"plans Jan {census_year}", f"spend {fy}", f"plans {settings.horizon}",
                   f"spend {settings.horizon} unmitigated", f"spend {settings.horizon} mitigated"):
        table.add_column(column, justify="left" if column == "provision" else "right")
    totals = [0.0] * 5
    for provision, _, spend, plans, _ in actual:
        unmitigated = forecast.get(("unmitigated", provision), (None, None))
        mitigated = forecast.get(("mitigated", provision), (None, None))
        values = [plans, spend, unmitigated[1], unmitigated[0], mitigated[0]]
        totals = [t + (v or 0) for t, v in zip(totals, values, strict=False)]
        table.add_row(provision, *(_fmt(v, money=i in (1, 3, 4)) for i, v in enumerate(values)))
    table.add_row("total", *(_fmt(v, money=i in (1, 3, 4)) for i, v in enumerate(totals)), style="bold")
    console.print(table)
    if _table_exists(con, "forecast", "hnb_position"):
        for scenario, balance, low, high in con.execute(
            "SELECT scenario, cumulative_balance_gbp_central, cumulative_balance_gbp_p10, cumulative_balance_gbp_p90 "
            "FROM forecast.hnb_position WHERE financial_year = ? ORDER BY scenario DESC",
            [settings.horizon],
        ).fetchall():
            console.print(
                f"Cumulative high needs balance at end of {settings.horizon}, {scenario}: "
                f"{money_m(balance)} (p10–p90 {money_m(low)} to {money_m(high)})"
            )
        # the balance hangs on these: say them beside it
        import math

        assumed = dict(con.execute(
            "SELECT assumption, value FROM forecast.assumptions WHERE assumption IN ('funding_growth', 'unit_cost_inflation')"
        ).fetchall()) if _table_exists(con, "forecast", "sensitivity") else {}
        if assumed:
            growth = assumed.get("funding_growth")
            console.print(
                "Assumed: funding after the budget file "
                + ("at its recent growth" if growth is None or math.isnan(growth) else f"{growth:+.1%} a year")
                + f", unit-cost inflation {assumed['unit_cost_inflation']:.1%} a year (sources: forecast.assumptions, "
                "the report's first page)", highlight=False,
            )
    if _table_exists(con, "forecast", "drivers"):
        rows = con.execute(
            "SELECT financial_year, driver, spend_change_gbp FROM forecast.drivers "
            "WHERE scenario = 'unmitigated' AND driver <> 'total' "
            "AND financial_year = (SELECT min(financial_year) FROM forecast.drivers WHERE scenario = 'unmitigated')"
        ).fetchall()
        if rows:
            console.print(
                f"What drives the change in spend in {rows[0][0]} (unmitigated): "
                + ", ".join(f"{driver.replace('_', ' ')} {money_m(value)}" for _, driver, value in rows),
                highlight=False,
            )


def _print_publication(settings: Settings, outcome: RefreshOutcome, console: Console) -> None:
    if outcome.published:
        parquet = outcome.published.get("parquet", "off")  # the version's folder, or "off"
        also = "" if parquet == "off" else f" and as Parquet to {Path(parquet).parent / 'current'}/ (-> {Path(parquet).name})"
        console.print(
            f"Published to serving: {settings.serving} (version {outcome.published['version_id']}){also}; "
            "BI sees it on its next connection.",
            highlight=False,
        )
        return
    from ingest.publish import read_publication

    kept = read_publication(settings.serving)
    where = (
        f"{settings.serving} keeps version {kept['version_id']} (published {kept['published_at_utc']:%Y-%m-%d %H:%M} UTC)"
        if kept else f"there is no serving file yet ({settings.serving})"
    )
    console.print(f"[yellow]Not published to serving:[/yellow] {where}.", highlight=False)


def _fmt(value, money: bool) -> str:
    if value is None:
        return "–"
    return money_m(value, 2) if money else f"{value:,.0f}"


def money_m(value: float, decimals: int = 1) -> str:
    """£12.3m, -£4.5m."""
    sign = "-" if value < 0 else ""
    return f"{sign}£{abs(value) / 1e6:,.{decimals}f}m"


# --- commands ---------------------------------------------------------------------------------

def cmd_refresh(args: argparse.Namespace, console: Console) -> int:
    settings = load_settings()
    settings.require_pseudonym_key()
    return _refresh_and_summarise(settings, console, wait=args.wait)


def _refresh_and_summarise(settings: Settings, console: Console, *, wait: bool = False) -> int:
    import duckdb

    from .refresh_lock import RefreshRunning, explain_duckdb_lock_error

    console.print(f"Refreshing from [bold]{settings.landing}[/bold] into [bold]{settings.warehouse}[/bold]")
    if not settings.landing.is_dir():
        console.print(f"[red]The landing folder {settings.landing} does not exist (HIGHNEEDS_LANDING).[/red]")
        return 2
    already_running = set(_descendants(os.getpid()))  # the caller's own (a test's readers): not ours to stop
    try:
        with _stopped_by_signals(), _holding_refresh_lock(settings, console, wait):
            try:
                outcome = run_refresh(settings, console)
                # a step that failed while reading dbt's output leaves dbt running, holding the warehouse
                if left_running := _stop_child_processes(already_running):
                    console.print(f"  [yellow]stopped processes a failed step left running: pid "
                                  f"{', '.join(map(str, left_running))}[/yellow]", highlight=False)
                print_summary(settings, outcome, console)
            except duckdb.IOException as error:  # the summary reads the warehouse: a BI tool may hold it
                console.print(Text(explain_duckdb_lock_error(str(error)) or str(error), style="red"))
                return 1
            except KeyboardInterrupt:
                # before the lock goes: no dbt left holding the warehouse
                stopped = _stop_child_processes(already_running)
                console.print(Text(
                    "Refresh stopped by a signal" + (f"; stopped the processes it had started (pid "
                                                     f"{', '.join(map(str, stopped))})" if stopped else "")
                    + ". The serving file and the report keep the last good version; the next refresh carries on.",
                    style="red",
                ))
                return INTERRUPTED_EXIT_CODE
    except RefreshRunning as error:
        console.print(Text(f"Not refreshed: {error}. Run it again when that one has finished, or with "
                           "`highneeds refresh --wait` to wait for it.", style="red"))
        return REFRESH_RUNNING_EXIT_CODE
    except KeyboardInterrupt:  # while waiting for the lock
        console.print(Text("Refresh stopped by a signal before it started.", style="red"))
        return INTERRUPTED_EXIT_CODE
    if outcome.success:
        _print_report_location(settings, console)
        console.print("[green]Refresh succeeded: every gate passed.[/green]")
        return 0
    console.print("[red]Refresh failed: see the failed checks above. The forecast was not updated.[/red]")
    return 1


@contextlib.contextmanager
def _holding_refresh_lock(settings: Settings, console: Console, wait: bool):
    """One refresh of a warehouse at a time (dagster_project.refresh_lock); the run's warehouse
    resource takes the same lock again in this process."""
    from . import refresh_lock

    def waiting(holder: refresh_lock.LockHolder | None) -> None:
        running = f" running since {holder.since} ({holder.process})" if holder else ""
        console.print(f"Waiting for the refresh{running} to finish …", highlight=False)

    left_by_dead_process = refresh_lock.acquire(settings.warehouse, wait=wait, waiting=waiting)
    if left_by_dead_process:
        console.print(f"[yellow]Took over the refresh lock left by a refresh that is no longer running (started "
                      f"{left_by_dead_process.since}, {left_by_dead_process.process}).[/yellow]", highlight=False)
    try:
        yield
    finally:
        refresh_lock.release(settings.warehouse)


@contextlib.contextmanager
def _stopped_by_signals():
    """SIGTERM and SIGHUP stop a refresh as Ctrl-C (SIGINT) does: KeyboardInterrupt here, an
    interrupt of the running step inside the Dagster run (which maps SIGTERM itself)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread
        return
    previous = {number: signal.getsignal(number) for number in (signal.SIGTERM, signal.SIGHUP)}
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGHUP, lambda number, frame: signal.raise_signal(signal.SIGINT))
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _stop_child_processes(spared: set[int]) -> list[int]:
    """SIGTERM every process this one started, other than `spared` (and theirs), that is still
    running (dbt, and anything dbt started), then SIGKILL those still there after a grace
    period. Returns their pids.

    A process that ignores SIGTERM is left alone: that is Python's multiprocessing resource
    tracker, which ends by itself when this process does."""
    children = [pid for pid in _descendants(os.getpid(), spared) if not _ignores_sigterm(pid)]
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + CHILD_STOP_TIMEOUT_SECONDS
    while any(map(_running, children)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in filter(_running, children):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return children


def _descendants(pid: int, spared: set[int] = frozenset()) -> list[int]:
    children = []
    for listing in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):  # the thread ended meanwhile
            children += [int(child) for child in listing.read_text().split()]
    return [descendant for child in children if child not in spared
            for descendant in (child, *_descendants(child, spared))]


def _ignores_sigterm(pid: int) -> bool:
    try:
        ignored = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("SigIgn:"))
    except (OSError, StopIteration):
        return False
    return bool(int(ignored.split()[1], 16) >> (signal.SIGTERM - 1) & 1)


def _running(pid: int) -> bool:
    try:  # a child that has exited but was not yet waited for is a zombie ("Z"): not running
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    settings = load_settings()
    if not settings.pseudonym_key:
        # the key every later refresh, the schedule, the sensor and the UI read: the demo's rows
        # must join theirs, so the demo keeps its key where they look for it
        dotenv = write_new_key_to_dotenv(Path.cwd() / ".env")
        console.print(f"[dim]Demo: wrote a new random HIGHNEEDS_PSEUDONYM_KEY to {dotenv} (keep it).[/dim]",
                      highlight=False)
        settings = load_settings()  # with the key .env holds now
    if not settings.la_code:
        # the synthetic council follows West Berkshire's figures: the report benchmarks as it
        settings = settings.with_la_code(DEMO_LA_CODE)
        console.print(f"[dim]Demo: benchmarking as West Berkshire (HIGHNEEDS_LA_CODE={DEMO_LA_CODE}).[/dim]")
    has_files = settings.landing.is_dir() and any(settings.landing.rglob("*.csv"))
    if args.fresh or not has_files:
        from ingest.synthetic import generate

        if args.fresh and settings.landing.exists():
            shutil.rmtree(settings.landing)
        console.print(f"Generating a synthetic council into {settings.landing} …")
        summary = generate(settings.landing, seed=args.seed)
        console.print(f"[dim]{_describe_generated(summary)}[/dim]")
    else:
        console.print(f"[dim]Using the files already in {settings.landing} (--fresh to regenerate).[/dim]")
    return _refresh_and_summarise(settings, console)


def _describe_generated(summary: dict) -> str:
    rows = summary.get("rows") or {}
    counts = {name: sum(count.values()) if isinstance(count, dict) else count for name, count in rows.items()}
    return ", ".join(f"{name}: {count:,} rows" for name, count in counts.items()) or "done"


def cmd_generate(args: argparse.Namespace, console: Console) -> int:
    from ingest.synthetic import generate

    first, last = _parse_years(args.years)
    summary = generate(Path(args.out), children=args.children, first_year=first, last_year=last, seed=args.seed)
    console.print(f"Wrote synthetic extracts to {args.out}: {_describe_generated(summary)}")
    return 0


def _parse_years(text: str) -> tuple[int, int]:
    try:
        first, last = (int(part) for part in text.split("-", 1))
    except ValueError as error:
        raise SettingsError(f"--years {text!r}: expected FIRST-LAST financial year starts, e.g. 2017-2025") from error
    if last < first:
        raise SettingsError(f"--years {text!r}: the last year is before the first")
    return first, last


# Dagster's `dev` command warns that `dg dev` (another package) supersedes it; it is what runs the
# webserver and the daemon together here, so the warning is only noise for the user.
QUIET_DAGSTER_DEV = "ignore:Function `dev_command` is superseded:FutureWarning"


def cmd_ui(args: argparse.Namespace, console: Console) -> int:
    from .settings import load_report_settings

    settings = load_settings()
    prepare_dagster_home(settings)
    _complete_dagster_yaml(settings)
    bin_dir = Path(sys.executable).parent
    where = ["-w", str(REPO_ROOT / "workspace.yaml"), "-h", args.host, "-p", str(args.port)]
    if args.read_only:
        command = [str(bin_dir / "dagster-webserver"), *where, "--read-only"]
    elif args.no_daemon:
        command = [str(bin_dir / "dagster-webserver"), *where]
    else:
        command = [str(bin_dir / "dagster"), "dev", *where]
    daemon = "no daemon" if args.read_only or args.no_daemon else (
        "with the daemon; nightly schedule and landing sensor " + ("on" if settings.automation else
                                                                 "off (HIGHNEEDS_AUTOMATION=on switches them on)"))
    console.print(f"Dagster UI on http://{args.host}:{args.port} ({daemon}; DAGSTER_HOME={settings.dagster_home})",
                  highlight=False)
    report = load_report_settings(settings)
    server = _serve_report(report, args.host, console)
    warnings = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), QUIET_DAGSTER_DEV]))
    try:
        # Dagster reads a .env in its working directory over the environment; started from the
        # repository it would take the repository's .env in place of the settings resolved above
        # (another warehouse, another DAGSTER_HOME). DAGSTER_HOME holds no .env: the settings
        # reach the UI, the daemon and their runs in their environment only.
        environment = {**os.environ, **settings.environment(), "PYTHONWARNINGS": warnings}
        return subprocess.call(command, cwd=settings.dagster_home, env=environment)
    finally:
        if server is not None:
            server.shutdown()


def cmd_daemon(args: argparse.Namespace, console: Console) -> int:
    """The Dagster daemon alone (nightly schedule, landing sensor, run queue): as a service, beside
    `highneeds ui --no-daemon` (see deploy/systemd/)."""
    settings = load_settings()
    prepare_dagster_home(settings)
    _complete_dagster_yaml(settings)
    console.print(f"Dagster daemon for {settings.landing} (DAGSTER_HOME={settings.dagster_home}); nightly schedule and "
                  f"landing sensor {'on' if settings.automation else 'off unless switched on in the UI'}", highlight=False)
    command = [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(REPO_ROOT / "workspace.yaml")]
    # not the repository: its .env (see cmd_ui); the settings in the daemon's environment only
    environment = {**os.environ, **settings.environment()}
    return subprocess.call(command, cwd=settings.dagster_home, env=environment)


def _complete_dagster_yaml(settings: Settings) -> None:
    """Give a DAGSTER_HOME made by an earlier version the sections of the repository's dagster.yaml
    it lacks (telemetry off, no community pop-up), appended so its own settings stay as they are."""
    import yaml

    target = settings.dagster_home / "dagster.yaml"
    ours = yaml.safe_load(DAGSTER_YAML.read_text(encoding="utf-8"))
    theirs = yaml.safe_load(target.read_text(encoding="utf-8")) or {}
    missing = {key: value for key, value in ours.items() if key not in theirs}
    if missing:
        with target.open("a", encoding="utf-8") as handle:
            handle.write(f"\n# added by highneeds (see {DAGSTER_YAML.name} in the repository)\n"
                         + yaml.safe_dump(missing, sort_keys=False))


class _QuietReportHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args) -> None:
        """Requests are not logged: the terminal stays the Dagster UI's."""


def _serve_report(report, host: str, console: Console) -> http.server.ThreadingHTTPServer | None:
    """Serve the report folder (HIGHNEEDS_REPORT_DIR) over http beside the UI, so its links open in
    any browser that reaches the UI (a file:/// link opens only on the server). None when the
    port is taken: the UI still starts."""
    handler = functools.partial(_QuietReportHandler, directory=str(report.out_dir))
    try:
        server = http.server.ThreadingHTTPServer((host, report.port), handler)
    except OSError as error:
        console.print(f"[yellow]Report not served: port {report.port} ({error}); set HIGHNEEDS_REPORT_PORT.[/yellow]",
                      highlight=False)
        return None
    threading.Thread(target=server.serve_forever, name="report-server", daemon=True).start()
    console.print(f"Report on {report.url_of(report.out_dir / 'internal' / 'report.html')} "
                  f"(and publication/report.html; from {report.out_dir})", highlight=False)
    return server


def _published_folder(args: argparse.Namespace) -> Path:
    from .settings import published_folder

    return Path(args.published) if args.published else published_folder(load_settings())


def cmd_fetch_published(args: argparse.Namespace, console: Console) -> int:
    """Refresh the DfE published data the benchmarks and aggregate mode read: from the DfE's
    statistics service, or (`--from`) from a folder of the DfE's full files."""
    from forecast import published_extract as extract

    out = Path(args.out).resolve() if args.out else extract.SHIPPED
    try:
        written = extract.build_extract(Path(args.source), out) if args.source else extract.fetch_extract(out)
    except (extract.ExtractError, OSError, KeyError, ValueError) as error:  # URLError is an OSError: offline
        console.print(Text(f"DfE published data not refreshed ({out} unchanged): {error}", style="red"))
        return 2
    console.print(f"DfE published data written to {out}: {extract.describe(written)}", highlight=False)
    return 0


def cmd_forecast_la(args: argparse.Namespace, console: Console) -> int:
    """Aggregate mode: forecast one council, or every council (`--la all`), from the DfE's published counts."""
    from forecast.aggregate import AggregateInputError, forecast_councils
    from forecast.published import find_council, load_published
    from forecast.years import census_year_of_fy, fy_start

    try:
        fy_start(args.horizon)
        councils = load_published(_published_folder(args))
        chosen = None if args.la.strip().lower() == "all" else [find_council(councils, args.la).code]
        # every council is fitted together (each learns from the others), whichever are written out
        table = forecast_councils(councils, census_year_of_fy(args.horizon), chosen, simulations=args.simulations)
    except (FileNotFoundError, KeyError, AggregateInputError, ValueError) as error:
        console.print(f"[red]{error}[/red]")
        return 2
    if args.out:
        table.to_csv(args.out, index=False)
    if chosen is None:
        console.print(f"{table['la_code'].nunique()} councils forecast to January {table['year'].max()}"
                      + (f"; every provision type and the total written to {args.out}" if args.out else
                         " (use --out FILE for the CSV)"), highlight=False)
        return 0
    council = councils[chosen[0]]
    shown = table[table["provision_type"] == "total"]
    history = council.caseload.sum(axis=1).astype(int)
    console.print(f"{council.name} ({council.code}): published caseload "
                  + ", ".join(f"{year}: {value:,}" for year, value in history.tail(4).items()), highlight=False)
    result = Table(title=f"{council.name}: EHC plans forecast from published counts (January census)")
    for column in ("year", "central", "p10", "p50", "p90"):
        result.add_column(column, justify="right")
    for row in shown.itertuples():
        result.add_row(str(row.year), f"{row.plans_central:,.0f}", f"{row.plans_p10:,.0f}", f"{row.plans_p50:,.0f}",
                       f"{row.plans_p90:,.0f}")
    console.print(result)
    if args.out:
        console.print(f"All provision types written to {args.out}")
    return 0


def cmd_backtest(args: argparse.Namespace, console: Console) -> int:
    """Rolling-origin backtest of aggregate mode across every council in the published data."""
    from forecast.aggregate import MODEL, AggregateInputError, backtest_all
    from forecast.backtest import read_unit_costs
    from forecast.backtest_report import backtest_markdown, splice_readme
    from forecast.published import load_published

    try:
        councils = load_published(_published_folder(args))
        unit_costs = read_unit_costs(Path(args.unit_costs)) if args.unit_costs else None
        started = time.monotonic()
        summary, records = backtest_all(councils, simulations=args.simulations, unit_costs=unit_costs)
    except (FileNotFoundError, AggregateInputError, ValueError) as error:
        console.print(f"[red]{error}[/red]")
        return 2
    if records.empty:
        console.print("[red]No origin with earlier outcomes to learn from and later ones to score: "
                      "the published files need at least five January censuses.[/red]")
        return 2
    text = backtest_markdown(summary, MODEL, records["unit"].nunique())
    console.print(text + f"\n\n({time.monotonic() - started:.0f} s)", markup=False, highlight=False)
    if args.out:
        summary.to_csv(args.out, index=False)
    if args.readme:
        readme = Path(args.readme)
        try:
            readme.write_text(splice_readme(readme.read_text(encoding="utf-8"), text), encoding="utf-8")
        except (OSError, ValueError) as error:
            console.print(f"[red]{readme}: {error}[/red]")
            return 2
        console.print(f"Backtest tables written into {readme}")
    return 0


def cmd_trace(args: argparse.Namespace, console: Console) -> int:
    """List the landing rows behind a mart figure, with their source file and row."""
    from ingest.trace import trace_plans, trace_spend

    settings = load_settings()
    if not settings.warehouse.exists():
        console.print(f"[red]No warehouse at {settings.warehouse}: run a refresh first.[/red]")
        return 2
    if args.what == "forecast":
        return _trace_forecast(args, settings, console)
    with settings.connect_warehouse(read_only=True) as con:
        if args.what == "spend":
            if not args.year or not args.provision:
                console.print("[red]trace spend needs --year (e.g. 2024-25) and --provision (e.g. inmss)[/red]")
                return 2
            trace = trace_spend(con, args.year, args.provision)
            label = f"fct_provision_spend {args.year} {args.provision}"
            shown = ["transaction_id", "posting_date", "amount_gbp", "s251_line", "allocation_method", "source_file", "source_row"]
        else:
            if not args.census:
                console.print("[red]trace plans needs --census (e.g. 2025)[/red]")
                return 2
            trace = trace_plans(con, args.census, args.provision, args.need)
            label = f"fct_ehcp_cohort census {args.census}" + (f" {args.provision}" if args.provision else "") + (
                f" {args.need}" if args.need else "")
            shown = ["plan_id", "primary_need", "age", "provision_type", "source_file", "source_row"]
    if args.out:
        trace.rows.to_csv(args.out, index=False)
    table = Table(title=f"{len(trace.rows):,} rows behind {label}" + (" (first 25)" if len(trace.rows) > 25 else ""))
    for column in shown:
        table.add_column(column)
    for row in trace.rows[shown].head(25).itertuples(index=False):
        table.add_row(*(str(value.date()) if hasattr(value, "date") and hasattr(value, "hour") else str(value) for value in row))
    console.print(table)
    mart = "no such row in the mart" if trace.mart_value is None else f"{trace.mart_value:,.2f}"
    verdict = "[green]they match[/green]" if trace.matches else "[red]they DO NOT match[/red]"
    console.print(f"{trace.measure}: traced rows total {trace.traced_value:,.2f}; mart {mart}: {verdict}")
    if args.out:
        console.print(f"All {len(trace.rows):,} rows written to {args.out}")
    return 0 if trace.matches else 1


def _trace_forecast(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    """The inputs behind a forecast figure (forecast.trace), from the forecast tables."""
    import math

    from forecast.trace import TraceError, trace_forecast

    if not args.year or not args.provision:
        console.print("[red]trace forecast needs --year (e.g. 2028-29) and --provision (e.g. mss)[/red]")
        return 2
    with settings.connect_warehouse(read_only=True) as con:
        try:
            rows = trace_forecast(con, args.year, args.provision)
        except TraceError as error:
            console.print(f"[red]{error}[/red]")
            return 2
    if args.out:
        rows.to_csv(args.out, index=False)
    table = Table(title=f"What forecast spend on {args.provision} in {args.year} is made of")
    for column in ("part", "input", "value", "source"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for part, name, value, source in rows.itertuples(index=False):
        shown = f"{value:,.4f}" if isinstance(value, float) and abs(value) < 10 else (
            f"{value:,.0f}" if isinstance(value, (int, float)) and not math.isnan(value) else "–")
        table.add_row(part, name, shown, str(source))
    console.print(table)
    return 0


def _print_report_location(settings: Settings, console: Console) -> None:
    from .settings import load_report_settings

    report = load_report_settings(settings)
    internal = report.out_dir / "internal" / "report.html"
    publication = report.out_dir / "publication" / "report.html"
    if not internal.exists():
        return
    console.print(f"Report: {internal} (internal), {publication} (for publication); "
                  f"workbook and charts beside each", highlight=False)
    from forecast.published_extract import SHIPPED, has_published_files

    if not report.la_code:
        return
    if not has_published_files(report.published):
        console.print(f"[dim]Benchmarks: no DfE published files in {report.published} (HIGHNEEDS_PUBLISHED): put the "
                      "EHCP release's caseload.csv and newplans.csv and the DSG allocations there, or unset it to use "
                      "the copy shipped with highneeds, then run `highneeds report`.[/dim]", highlight=False)
    elif report.published == SHIPPED:
        console.print(f"[dim]Benchmarks: from the DfE's published figures shipped with highneeds ({SHIPPED}); "
                      "`highneeds fetch-published` refreshes them from the DfE's statistics service.[/dim]",
                      highlight=False)


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    """Build the report from the warehouse as it is now (every refresh builds it too)."""
    import dataclasses

    import duckdb

    from forecast.report.build import build_report
    from forecast.report.data import ReportInputError

    from .settings import load_report_settings

    settings = load_settings()
    options = load_report_settings(settings).options()
    overrides = {
        "out_dir": Path(args.out).resolve() if args.out else None,
        "council": args.la,
        "published": Path(args.published).resolve() if args.published else None,
        "neighbours": [c.strip() for c in args.neighbours.split(",") if c.strip()] if args.neighbours else None,
        "threshold": args.threshold,
    }
    options = dataclasses.replace(options, **{k: v for k, v in overrides.items() if v is not None})
    if options.threshold < 1:
        raise SettingsError(f"--threshold {options.threshold}: the suppression threshold must be at least 1")
    if not settings.warehouse.exists():
        console.print(f"[red]No warehouse at {settings.warehouse}: run `highneeds refresh` (or `highneeds demo`) first.[/red]")
        return 2
    from .refresh_lock import RefreshRunning, explain_duckdb_lock_error
    from .resources import settle_report_with_serving

    try:
        # a refresh writes the warehouse and swaps the report in: not while this reads and writes them
        with _holding_refresh_lock(settings, console, wait=False):
            settle_report_with_serving(settings)
            with settings.connect_warehouse(read_only=True) as con:
                report = build_report(con, options)
    except RefreshRunning as error:
        console.print(Text(f"No report built: {error}. Run it again when that one has finished.", style="red"))
        return REFRESH_RUNNING_EXIT_CODE
    except (ReportInputError, duckdb.IOException) as error:
        console.print(Text(explain_duckdb_lock_error(str(error)) or str(error), style="red"))
        return 2
    console.print(f"Report written to {options.out_dir}:", highlight=False)
    for output in report.outputs.values():
        what = ("every count" if output.audience == "internal"
                else f"counts of children below {options.threshold} suppressed")
        console.print(f"  {output.audience} ({what}): {output.html}\n    workbook {output.workbook}, "
                      f"{len(output.charts)} charts in {output.html.parent / 'charts'}", highlight=False)
    console.print(report.headline_reading, highlight=False)
    if report.benchmarks is not None:
        own_flags = report.benchmarks.flags[report.benchmarks.flags["code"] == report.benchmarks.code]
        console.print(f"Benchmarks: {report.benchmarks.name} ({report.benchmarks.code}) ranked among "
                      f"{int(report.benchmarks.table['councils_ranked'].max())} councils, against "
                      f"{len(report.benchmarks.neighbours)} similar councils; "
                      f"{len(own_flags[own_flags['kind'] != 'watch'])} of its published figures flagged as likely "
                      "errors and left out.", highlight=False)
    else:
        console.print(f"[yellow]{report.benchmarks_note}[/yellow]", highlight=False)
    return 0


def cmd_dictionary(args: argparse.Namespace, console: Console) -> int:
    """The data dictionary of the serving file (every table and column BI reads), as Markdown."""
    from ingest.dictionary import dictionary_markdown, read_dictionary, splice_readme, undescribed

    serving = Path(args.serving).resolve() if args.serving else load_settings().serving
    if not serving.exists():
        console.print(f"[red]No serving file at {serving}: run `highneeds refresh` (or `highneeds demo`) first.[/red]")
        return 2
    dictionary = read_dictionary(serving)
    text = dictionary_markdown(dictionary)
    if not args.readme:
        console.print(text, markup=False, highlight=False, soft_wrap=True)
    else:
        readme = Path(args.readme)
        try:
            readme.write_text(splice_readme(readme.read_text(encoding="utf-8"), text), encoding="utf-8")
        except (OSError, ValueError) as error:
            console.print(Text(f"{readme}: {error}", style="red"))
            return 2
        console.print(f"Data dictionary of {serving} written into {readme}", highlight=False)
    missing = undescribed(dictionary)
    if missing:  # on stderr: stdout may be the Markdown
        Console(stderr=True).print(Text(f"{len(missing)} without a description: {', '.join(missing)}", style="yellow"))
    return 0


def cmd_docs(args: argparse.Namespace, console: Console) -> int:
    from .defs.docs import docs_path

    path = docs_path(load_settings())
    if not path.exists():
        console.print(f"[red]No dbt docs at {path} yet: run a refresh first.[/red]")
        return 2
    console.print(f"dbt docs (models, columns, tests, column-level lineage): {path.as_uri()}")
    return 0


def cmd_dbt_vars(args: argparse.Namespace, console: Console) -> int:
    """What dbt's profile reads (the warehouse, DuckDB's memory cap, threads and spill folder), as
    dbt's --vars, to run dbt by hand: `dbt build --vars "$(highneeds dbt-vars)"` in dbt/."""
    import json

    console.print(json.dumps(load_settings().dbt_vars(), sort_keys=True), markup=False,
                  highlight=False, soft_wrap=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="highneeds", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="generate a synthetic council (if the landing folder is empty), refresh, summarise")
    demo.add_argument("--fresh", action="store_true", help="replace the landing folder's files with a new synthetic council")
    demo.add_argument("--seed", type=int, default=42)
    demo.set_defaults(handler=cmd_demo)

    generate = commands.add_parser("generate", help="write synthetic extracts following the landing contract")
    generate.add_argument("--out", required=True, help="folder to write ehcp/, placements/, finance/, budget/ into")
    generate.add_argument("--children", type=int, default=None, help="active plans at the latest January census")
    generate.add_argument("--years", default="2017-2025", help="first and last financial year starts, e.g. 2017-2025")
    generate.add_argument("--seed", type=int, default=42)
    generate.set_defaults(handler=cmd_generate)

    refresh = commands.add_parser("refresh", help="load the landing folder, rebuild, check and forecast")
    refresh.add_argument("--wait", action="store_true",
                         help="if another refresh of the warehouse is running, wait for it to finish (default: exit 75)")
    refresh.set_defaults(handler=cmd_refresh)

    forecast_la = commands.add_parser("forecast-la", help="forecast any council from the DfE's published EHCP counts")
    forecast_la.add_argument("--la", required=True,
                             help="old LA code (e.g. 869), name (e.g. 'West Berkshire') or 'all' for every council")
    forecast_la.add_argument("--published", help=PUBLISHED_HELP)
    forecast_la.add_argument("--horizon", default="2028-29")
    forecast_la.add_argument("--simulations", type=int, default=1000)
    forecast_la.add_argument("--out", help="write every provision type's p10/p50/p90 to this CSV")
    forecast_la.set_defaults(handler=cmd_forecast_la)

    backtest = commands.add_parser("backtest", help="backtest aggregate mode across every council in the published data")
    backtest.add_argument("--published", help=PUBLISHED_HELP)
    backtest.add_argument("--simulations", type=int, default=300)
    backtest.add_argument("--out", help="write the error table to this CSV")
    backtest.add_argument("--readme", help="write the tables into this README between its backtest markers")
    backtest.add_argument("--unit-costs", help="CSV of provision_type, unit_cost_gbp: adds money-weighted (spend) rows")
    backtest.set_defaults(handler=cmd_backtest)

    fetch = commands.add_parser("fetch-published", help="refresh the DfE's published data shipped with highneeds "
                                "(benchmarks, aggregate mode) from the DfE's statistics service")
    fetch.add_argument("--from", dest="source",
                       help="build it from this folder of the DfE's full files instead (sub-folders searched)")
    fetch.add_argument("--out", help="write it here (default: the shipped copy, forecast/published_data)")
    fetch.set_defaults(handler=cmd_fetch_published)

    trace = commands.add_parser("trace", help="list the landing rows (file and row) behind a mart figure, or the "
                                              "inputs behind a forecast figure")
    trace.add_argument("what", choices=["spend", "plans", "forecast"])
    trace.add_argument("--year", help="financial year for spend or forecast, e.g. 2024-25")
    trace.add_argument("--census", type=int, help="census year for plans, e.g. 2025")
    trace.add_argument("--provision", help="provision type, e.g. inmss")
    trace.add_argument("--need", help="primary need for plans, e.g. ASD")
    trace.add_argument("--out", help="write every row to this CSV")
    trace.set_defaults(handler=cmd_trace)

    report = commands.add_parser("report", help="write the HTML report, PNG charts and XLSX workbook from the warehouse")
    report.add_argument("--out", help="folder to write internal/ and publication/ into (default: HIGHNEEDS_REPORT_DIR)")
    report.add_argument("--la", help="old LA code of the council, for the benchmarks (default: HIGHNEEDS_LA_CODE)")
    report.add_argument("--published", help=PUBLISHED_HELP)
    report.add_argument("--neighbours", help="old LA codes to compare with, comma-separated (default: the 10 most similar)")
    report.add_argument("--threshold", type=int, help="suppress counts below this in the publication version (default 5)")
    report.set_defaults(handler=cmd_report)

    dictionary = commands.add_parser("dictionary", help="the data dictionary of the serving file: every table and "
                                     "column BI reads, with its type and meaning (Markdown)")
    dictionary.add_argument("--serving", help="the serving file (default: HIGHNEEDS_SERVING)")
    dictionary.add_argument("--readme", help="write it into this README between its dictionary markers")
    dictionary.set_defaults(handler=cmd_dictionary)

    docs = commands.add_parser("docs", help="where the dbt documentation site of the last refresh is")
    docs.set_defaults(handler=cmd_docs)

    dbt_vars = commands.add_parser("dbt-vars", help="the settings dbt's profile reads, as dbt's "
                                   "--vars (to run dbt by hand)")
    dbt_vars.set_defaults(handler=cmd_dbt_vars)

    ui = commands.add_parser("ui", help="start the Dagster UI on 127.0.0.1 with the daemon, and serve the report beside it")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument("--read-only", action="store_true", help="auditors: see everything, launch nothing")
    ui.add_argument("--no-daemon", action="store_true",
                    help="the UI alone, when the daemon runs as its own service (`highneeds daemon`)")
    ui.set_defaults(handler=cmd_ui)

    daemon = commands.add_parser("daemon", help="run the Dagster daemon alone (nightly schedule, landing sensor): "
                                 "for a service beside `highneeds ui --no-daemon`")
    daemon.set_defaults(handler=cmd_daemon)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # bound to stdout now (refresh redirects sys.stdout to its log); wide enough for the tables
    console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 120)
    try:
        return args.handler(args, console)
    except SettingsError as error:
        console.print(f"[red]{error}[/red]")
        return 2


if __name__ == "__main__":
    sys.exit(main())
