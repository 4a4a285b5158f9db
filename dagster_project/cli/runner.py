"""The refresh run behind `highneeds refresh` and `highneeds demo`: the Dagster job on this
thread (the main one, where signals stop it), a second thread printing each step as it ends,
the run's events read back into a `RefreshOutcome`; one refresh of a warehouse at a time (the
refresh lock); SIGTERM and SIGHUP handled as Ctrl-C; the processes a run left stopped."""

import contextlib
import os
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from ..settings import REPO_ROOT, Settings
from .run_history import history_without_flushes

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
REFRESH_RUNNING_EXIT_CODE = 75  # EX_TEMPFAIL: another refresh holds the lock, try again later
INTERRUPTED_EXIT_CODE = 130  # as a shell reports a command stopped by Ctrl-C
# published, with some councils of a many-council warehouse held at their last good figures
HELD_EXIT_CODE = 3
CHILD_STOP_TIMEOUT_SECONDS = 10  # after SIGTERM, before SIGKILL


def stage_of(step_key: str) -> str:
    for fragment, stage in STAGES.items():
        if fragment in step_key:
            return (
                f"{stage} ({step_key})" if stage in ("landing", "ingest", "ingest gates") else stage
            )
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
    # checks that warn (the refresh publishes): asset, check, why
    warned_checks: list[tuple[str, str, str]] = field(default_factory=list)
    # gates that failed for some councils only: those councils are held at their last good
    # published figures while the others publish (asset, check, councils, why)
    held: list[tuple[str, str, str, str]] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)  # asset keys the run did not materialise
    published: dict[str, str] | None = (
        None  # the serving file's new version, when the run published
    )
    ledger_build: str | None = None  # how dbt built the ledger: incremental or whole, and why

    @property
    def held_councils(self) -> list[str]:
        """The councils held at their last good figures by this run's gates, in code order."""
        return sorted({code for _, _, councils, _ in self.held for code in councils.split(", ")})


def run_refresh(settings: Settings, console: Console) -> RefreshOutcome:
    """Materialise every asset in-process; print stages as they finish.

    The job runs on this thread, the main one, where Dagster turns SIGINT and SIGTERM into an
    interrupt of the running step (dagster-dbt passes it on to dbt) and ends the run as failed;
    this then raises KeyboardInterrupt. A second thread prints the steps."""
    settings.restrict_data_files()
    prepare_dagster_home(settings)
    import dagster as dg
    from dagster._core.utils import make_new_run_id

    from ..assembly import build_definitions

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
    follower = threading.Thread(
        target=_follow_steps, args=(instance, run_id, finished, console), daemon=True
    )
    started = time.monotonic()
    with (
        log_path.open("w", encoding="utf-8") as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        follower.start()
        try:
            with history_without_flushes(settings.dagster_home):
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
    outcome.not_run = sorted(
        k.to_user_string() for k in job.asset_layer.executable_asset_keys - materialized
    )
    console.print(
        f"  [dim]run {run_id} took {time.monotonic() - started:.1f}s; log: {log_path}[/dim]"
    )
    return outcome


def _interrupted(events) -> bool:
    """Whether a signal stopped the run (Dagster records it as a step's or the run's error)."""
    interrupts = ("DagsterExecutionInterruptedError", "KeyboardInterrupt")
    return any(
        getattr(getattr(event.event_specific_data, "error", None), "cls_name", None) in interrupts
        for event in events
    )


def _explain_lock_conflicts(outcome: RefreshOutcome, events) -> None:
    """A step that failed on DuckDB's lock of the warehouse (a BI tool, or a dbt left running by a
    killed refresh, has it open): say so plainly, naming the process, in place of DuckDB's words."""
    import dagster as dg

    from ..refresh_lock import explain_duckdb_lock_error

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
    outcome.failed_steps = [
        (step, explained.get(step, error)) for step, error in outcome.failed_steps
    ]


_FINAL_READ_ATTEMPTS = 5


def _follow_steps(instance, run_id: str, finished: threading.Event, console: Console) -> None:
    """Print each step as it starts, finishes, fails or is skipped, until the run ends.

    A read of the event log that fails (SQLite's storage, read while the run writes to it, can
    raise a passing SQLAlchemy error) is tried again from the same cursor on the next tick, so
    no step goes unprinted; only the final read, after the run, is tried a few more times."""
    import dagster as dg

    cursor = None
    final_failures = 0
    step_started: dict[str, float] = {}
    wanted = {
        dg.DagsterEventType.STEP_START,
        dg.DagsterEventType.STEP_SUCCESS,
        dg.DagsterEventType.STEP_FAILURE,
        dg.DagsterEventType.STEP_SKIPPED,
    }
    while True:
        alive = not finished.is_set()
        try:
            connection = instance.get_records_for_run(run_id, cursor=cursor, of_type=wanted)
        except Exception as error:  # noqa: BLE001 - a passing read error must not end the thread
            final_failures += not alive
            if final_failures > _FINAL_READ_ATTEMPTS:
                console.print(
                    f"  [dim]the run's last steps could not be read back ({error}); "
                    "the summary below names any that failed[/dim]"
                )
                break
            time.sleep(0.3)
            continue
        cursor = connection.cursor
        for record in connection.records:
            event = record.event_log_entry.dagster_event
            if event is None or event.step_key is None:
                continue
            step = event.step_key
            if event.event_type == dg.DagsterEventType.STEP_START:
                step_started[step] = record.event_log_entry.timestamp
            elif event.event_type == dg.DagsterEventType.STEP_SUCCESS:
                took = record.event_log_entry.timestamp - step_started.get(
                    step, record.event_log_entry.timestamp
                )
                console.print(f"  [green]✓[/green] {stage_of(step)} [dim]{took:.1f}s[/dim]")
            elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
                console.print(f"  [red]✗[/red] {stage_of(step)}")
            elif event.event_type == dg.DagsterEventType.STEP_SKIPPED:
                console.print(
                    f"  [yellow]–[/yellow] {stage_of(step)} [dim]skipped: "
                    "an upstream gate or step failed[/dim]"
                )
        if not alive:
            break
        time.sleep(0.3)


def outcome_from_events(outcome: RefreshOutcome, events) -> None:
    """Count the run's checks and collect failed checks, failed and skipped steps."""
    import dagster as dg

    from ..defs.publish import PUBLISH_KEY
    from ..metadata import HELD_COUNCILS

    for event in events:
        if (
            event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
            and event.asset_key == PUBLISH_KEY
        ):
            metadata = event.event_specific_data.materialization.metadata
            outcome.published = {
                name: str(getattr(value, "value", value)) for name, value in metadata.items()
            }
        elif (
            event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
            and "ledger_build" in event.event_specific_data.materialization.metadata
        ):
            value = event.event_specific_data.materialization.metadata["ledger_build"]
            outcome.ledger_build = str(getattr(value, "value", value))
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if evaluation.passed:
                outcome.checks_passed += 1
            elif HELD_COUNCILS in evaluation.metadata:
                outcome.held.append(
                    (
                        evaluation.asset_key.to_user_string(),
                        evaluation.check_name,
                        str(evaluation.metadata[HELD_COUNCILS].value),
                        _why(evaluation),
                    )
                )
            elif evaluation.severity == dg.AssetCheckSeverity.WARN:
                outcome.warned_checks.append(
                    (evaluation.asset_key.to_user_string(), evaluation.check_name, _why(evaluation))
                )
            else:
                outcome.failed_checks.append(
                    (evaluation.asset_key.to_user_string(), evaluation.check_name, _why(evaluation))
                )
        elif event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = event.event_specific_data.error
            message = (
                (error.cause.message if error.cause else error.message)
                if error
                else "unknown error"
            )
            outcome.failed_steps.append(
                (event.step_key, message.strip().splitlines()[0] if message else "")
            )
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


@contextlib.contextmanager
def holding_refresh_lock(settings: Settings, console: Console, wait: bool):
    """One refresh of a warehouse at a time (dagster_project.refresh_lock); the run's warehouse
    resource takes the same lock again in this process."""
    from .. import refresh_lock

    def waiting(holder: refresh_lock.LockHolder | None) -> None:
        running = f" running since {holder.since} ({holder.process})" if holder else ""
        console.print(f"Waiting for the refresh{running} to finish …", highlight=False)

    left_by_dead_process = refresh_lock.acquire(settings.warehouse, wait=wait, waiting=waiting)
    if left_by_dead_process:
        console.print(
            "[yellow]Took over the refresh lock left by a refresh that is no longer running "
            f"(started {left_by_dead_process.since}, {left_by_dead_process.process}).[/yellow]",
            highlight=False,
        )
    try:
        yield
    finally:
        refresh_lock.release(settings.warehouse)


@contextlib.contextmanager
def stopped_by_signals():
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


def stop_child_processes(spared: set[int]) -> list[int]:
    """SIGTERM every process this one started, other than `spared` (and theirs), that is still
    running (dbt, and anything dbt started), then SIGKILL those still there after a grace
    period. Returns their pids.

    A process that ignores SIGTERM is left alone: that is Python's multiprocessing resource
    tracker, which ends by itself when this process does."""
    children = [pid for pid in descendants(os.getpid(), spared) if not _ignores_sigterm(pid)]
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


def descendants(pid: int, spared: set[int] = frozenset()) -> list[int]:
    try:
        listings = list(Path(f"/proc/{pid}/task").glob("*/children"))
    except OSError:  # the process ended meanwhile (its /proc entry went between two reads)
        return []
    children = []
    for listing in listings:
        with contextlib.suppress(OSError):  # the thread ended meanwhile
            children += [int(child) for child in listing.read_text().split()]
    return [
        descendant
        for child in children
        if child not in spared
        for descendant in (child, *descendants(child, spared))
    ]


def _ignores_sigterm(pid: int) -> bool:
    try:
        ignored = next(
            line
            for line in Path(f"/proc/{pid}/status").read_text().splitlines()
            if line.startswith("SigIgn:")
        )
    except (OSError, StopIteration):
        return False
    return bool(int(ignored.split()[1], 16) >> (signal.SIGTERM - 1) & 1)


def _running(pid: int) -> bool:
    try:  # a child that has exited but was not yet waited for is a zombie ("Z"): not running
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False
