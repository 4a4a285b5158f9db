"""`highneeds` command line: demo, generate, refresh, ui.

`refresh` runs the same Dagster job the schedule and the sensor run, in this process, against
the Dagster instance in DAGSTER_HOME (so every run shows in the UI's history), printing each
stage as it finishes and a summary at the end. It exits 1 when a file was rejected, a gate
failed or a step failed, saying which and why.
"""

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .settings import DEMO_LA_CODE, DEMO_PSEUDONYM_KEY, REPO_ROOT, Settings, SettingsError, load_settings

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
    """Materialise every asset in-process; print stages as they finish."""
    settings.export()
    settings.restrict_data_files()
    prepare_dagster_home(settings)
    import dagster as dg
    from dagster._core.utils import make_new_run_id

    from .definitions import build_definitions

    defs = build_definitions()
    instance = dg.DagsterInstance.get()
    run_id = make_new_run_id()
    job = defs.resolve_job_def("refresh")
    holder: dict[str, object] = {}

    def execute() -> None:
        try:
            holder["result"] = job.execute_in_process(
                instance=instance,
                run_id=run_id,
                raise_on_error=False,
                run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
                tags={"highneeds/trigger": "cli"},
            )
        except BaseException as error:  # surfaced below, after the progress loop
            holder["error"] = error

    # dbt and the libraries write their own logs to stdout/stderr: keep them in a log file
    # (the Dagster UI has them per step too) and keep the terminal to the stages and summary.
    log_dir = settings.dagster_home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"refresh-{run_id}.log"
    thread = threading.Thread(target=execute, daemon=True)
    started = time.monotonic()
    with log_path.open("w", encoding="utf-8") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        thread.start()
        _follow_steps(instance, run_id, thread, console)
        thread.join()
    if "error" in holder:
        raise holder["error"]  # type: ignore[misc]
    result = holder["result"]
    outcome = RefreshOutcome(success=bool(result.success), run_id=run_id)  # type: ignore[attr-defined]
    outcome_from_events(outcome, result.all_events)  # type: ignore[attr-defined]
    ran = (dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_OBSERVATION)
    materialized = {e.asset_key for e in result.all_events if e.event_type in ran}  # type: ignore[attr-defined]
    outcome.not_run = sorted(k.to_user_string() for k in job.asset_layer.executable_asset_keys - materialized)
    console.print(f"  [dim]run {run_id} took {time.monotonic() - started:.1f}s; log: {log_path}[/dim]")
    return outcome


def _follow_steps(instance, run_id: str, thread: threading.Thread, console: Console) -> None:
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
        alive = thread.is_alive()
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
    import duckdb

    if not settings.warehouse.exists():
        return
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
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
               coalesce(sum(rows_duplicate), 0), coalesce(sum(rows_quarantined), 0)
        FROM raw.landing_files WHERE in_landing GROUP BY extract ORDER BY extract
        """
    ).fetchall()
    table = Table(title="Landing files (in the landing folder now)")
    for column in ("extract", "files", "rejected", "rows read", "loaded", "exact duplicates", "quarantined", "flagged"):
        table.add_column(column, justify="left" if column == "extract" else "right")
    for row in rows:
        table.add_row(row[0], *(f"{value:,}" for value in row[1:]), f"{flagged.get(row[0], 0):,}")
    console.print(table)
    for (message,) in con.execute(
        "SELECT message FROM raw.landing_files WHERE in_landing AND status = 'rejected' ORDER BY extract, file_name"
    ).fetchall():
        console.print(f"[red]rejected[/red] {message}", highlight=False, markup=False)
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
        console.print(f"[red]FAILED[/red] {asset} · {check}: {why}")
    for step, error in outcome.failed_steps:
        if "blocking asset check" not in error:
            console.print(f"[red]step failed[/red] {step}: {error}")
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
            SELECT s.scenario, s.provision_type, s.spend_gbp_p50, c.plans_p50
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
    table = Table(title=f"Spend and caseload by provision: {fy} actual and {settings.horizon} forecast (p50)")
    for column in ("provision", f"plans Jan {census_year}", f"spend {fy}", f"plans {settings.horizon}",
                   f"spend {settings.horizon} unmitigated", f"spend {settings.horizon} mitigated"):
        table.add_column(column, justify="left" if column == "provision" else "right")
    totals = [0.0] * 5
    for provision, _, spend, plans, _ in actual:
        unmitigated = forecast.get(("unmitigated", provision), (None, None))
        mitigated = forecast.get(("mitigated", provision), (None, None))
        values = [plans, spend, unmitigated[1], unmitigated[0], mitigated[0]]
        totals = [t + (v or 0) for t, v in zip(totals, values)]
        table.add_row(provision, *(_fmt(v, money=i in (1, 3, 4)) for i, v in enumerate(values)))
    table.add_row("total", *(_fmt(v, money=i in (1, 3, 4)) for i, v in enumerate(totals)), style="bold")
    console.print(table)
    if _table_exists(con, "forecast", "hnb_position"):
        for scenario, balance, low, high in con.execute(
            "SELECT scenario, cumulative_balance_gbp_p50, cumulative_balance_gbp_p10, cumulative_balance_gbp_p90 "
            "FROM forecast.hnb_position WHERE financial_year = ? ORDER BY scenario DESC",
            [settings.horizon],
        ).fetchall():
            console.print(
                f"Cumulative high needs balance at end of {settings.horizon}, {scenario}: "
                f"{money_m(balance)} (p10–p90 {money_m(low)} to {money_m(high)})"
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
        console.print(
            f"Published to serving: {settings.serving} (version {outcome.published['version_id']}); "
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
    return _refresh_and_summarise(settings, console)


def _refresh_and_summarise(settings: Settings, console: Console) -> int:
    console.print(f"Refreshing from [bold]{settings.landing}[/bold] into [bold]{settings.warehouse}[/bold]")
    if not settings.landing.is_dir():
        console.print(f"[red]The landing folder {settings.landing} does not exist (HIGHNEEDS_LANDING).[/red]")
        return 2
    outcome = run_refresh(settings, console)
    print_summary(settings, outcome, console)
    if outcome.success:
        _print_report_location(settings, console)
        console.print("[green]Refresh succeeded: every gate passed.[/green]")
        return 0
    console.print("[red]Refresh failed: see the failed checks above. The forecast was not updated.[/red]")
    return 1


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    if not os.environ.get("HIGHNEEDS_PSEUDONYM_KEY"):
        os.environ["HIGHNEEDS_PSEUDONYM_KEY"] = DEMO_PSEUDONYM_KEY
        console.print("[dim]Demo: using the demo pseudonymisation key (never use it for real data).[/dim]")
    if not os.environ.get("HIGHNEEDS_LA_CODE"):
        os.environ["HIGHNEEDS_LA_CODE"] = DEMO_LA_CODE  # the synthetic council follows West Berkshire's figures
        console.print(f"[dim]Demo: benchmarking as West Berkshire (HIGHNEEDS_LA_CODE={DEMO_LA_CODE}).[/dim]")
    settings = load_settings()
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


def cmd_ui(args: argparse.Namespace, console: Console) -> int:
    settings = load_settings()
    settings.export()
    prepare_dagster_home(settings)
    bin_dir = Path(sys.executable).parent
    if args.read_only:
        command = [str(bin_dir / "dagster-webserver"), "-w", str(REPO_ROOT / "workspace.yaml"),
                   "-h", args.host, "-p", str(args.port), "--read-only"]
    else:
        command = [str(bin_dir / "dagster"), "dev", "-w", str(REPO_ROOT / "workspace.yaml"),
                   "-h", args.host, "-p", str(args.port)]
    console.print(f"Dagster UI on http://{args.host}:{args.port} (DAGSTER_HOME={settings.dagster_home})")
    # Dagster reads a .env in its working directory over the environment; started from the
    # repository it would take the repository's .env in place of the settings resolved above
    # (another warehouse, another DAGSTER_HOME). DAGSTER_HOME holds no .env.
    return subprocess.call(command, cwd=settings.dagster_home)


def _published_folder(args: argparse.Namespace) -> Path:
    if args.published:
        return Path(args.published)
    return load_settings().landing / "reference"


def cmd_forecast_la(args: argparse.Namespace, console: Console) -> int:
    """Aggregate mode: forecast any council from the DfE's published counts."""
    from forecast.aggregate import AggregateInputError, forecast_council
    from forecast.published import find_council, load_published
    from forecast.years import census_year_of_fy, fy_start

    try:
        fy_start(args.horizon)
        council = find_council(load_published(_published_folder(args)), args.la)
        table = forecast_council(council, census_year_of_fy(args.horizon), simulations=args.simulations)
    except (FileNotFoundError, KeyError, AggregateInputError, ValueError) as error:
        console.print(f"[red]{error}[/red]")
        return 2
    if args.out:
        table.to_csv(args.out, index=False)
    shown = table[table["provision_type"] == "total"]
    history = council.caseload.sum(axis=1).astype(int)
    console.print(f"{council.name} ({council.code}): published caseload "
                  + ", ".join(f"{year}: {value:,}" for year, value in history.tail(4).items()), highlight=False)
    result = Table(title=f"{council.name}: EHC plans forecast from published counts (January census)")
    for column in ("year", "p10", "p50", "p90"):
        result.add_column(column, justify="right")
    for row in shown.itertuples():
        result.add_row(str(row.year), f"{row.plans_p10:,.0f}", f"{row.plans_p50:,.0f}", f"{row.plans_p90:,.0f}")
    console.print(result)
    if args.out:
        console.print(f"All provision types written to {args.out}")
    return 0


def cmd_backtest(args: argparse.Namespace, console: Console) -> int:
    """Rolling-origin backtest of aggregate mode across every council in the published data."""
    from forecast.aggregate import backtest_all
    from forecast.backtest_report import provision_table, total_table
    from forecast.published import load_published

    try:
        councils = load_published(_published_folder(args))
    except FileNotFoundError as error:
        console.print(f"[red]{error}[/red]")
        return 2
    started = time.monotonic()
    summary, records = backtest_all(councils, simulations=args.simulations)
    text = (
        f"Rolling-origin backtest on {records['unit'].nunique()} councils' published caseloads "
        f"({time.monotonic() - started:.0f} s):\n\n" + total_table(summary)
        + "\n\nWAPE per provision type, 3 years ahead (best in bold):\n\n" + provision_table(summary)
    )
    console.print(text, markup=False, highlight=False)
    if args.out:
        summary.to_csv(args.out, index=False)
    return 0


def cmd_trace(args: argparse.Namespace, console: Console) -> int:
    """List the landing rows behind a mart figure, with their source file and row."""
    import duckdb

    from ingest.trace import trace_plans, trace_spend

    settings = load_settings()
    if not settings.warehouse.exists():
        console.print(f"[red]No warehouse at {settings.warehouse}: run a refresh first.[/red]")
        return 2
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
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


def _print_report_location(settings: Settings, console: Console) -> None:
    from .settings import load_report_settings

    report = load_report_settings(settings)
    internal = report.out_dir / "internal" / "report.html"
    publication = report.out_dir / "publication" / "report.html"
    if not internal.exists():
        return
    console.print(f"Report: {internal} (internal), {publication} (for publication); "
                  f"workbook and charts beside each", highlight=False)
    if report.la_code and not any(report.published.rglob("caseload.csv")):
        console.print(f"[dim]Benchmarks: put the DfE's published files (EHCP release caseload.csv and newplans.csv, "
                      f"DSG allocations) in {report.published} or set HIGHNEEDS_PUBLISHED, then run "
                      f"`highneeds report`.[/dim]", highlight=False)


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
    try:
        with duckdb.connect(str(settings.warehouse), read_only=True) as con:
            report = build_report(con, options)
    except (ReportInputError, duckdb.IOException) as error:
        console.print(f"[red]{error}[/red]")
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


def cmd_docs(args: argparse.Namespace, console: Console) -> int:
    from .defs.docs import docs_path

    path = docs_path()
    if not path.exists():
        console.print(f"[red]No dbt docs at {path} yet: run a refresh first.[/red]")
        return 2
    console.print(f"dbt docs (models, columns, tests, column-level lineage): {path.as_uri()}")
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
    refresh.set_defaults(handler=cmd_refresh)

    forecast_la = commands.add_parser("forecast-la", help="forecast any council from the DfE's published EHCP counts")
    forecast_la.add_argument("--la", required=True, help="old LA code (e.g. 869) or name (e.g. 'West Berkshire')")
    forecast_la.add_argument("--published", help="folder with the DfE release CSVs (default: <landing>/reference)")
    forecast_la.add_argument("--horizon", default="2028-29")
    forecast_la.add_argument("--simulations", type=int, default=1000)
    forecast_la.add_argument("--out", help="write every provision type's p10/p50/p90 to this CSV")
    forecast_la.set_defaults(handler=cmd_forecast_la)

    backtest = commands.add_parser("backtest", help="backtest aggregate mode across every council in the published data")
    backtest.add_argument("--published", help="folder with the DfE release CSVs (default: <landing>/reference)")
    backtest.add_argument("--simulations", type=int, default=300)
    backtest.add_argument("--out", help="write the error table to this CSV")
    backtest.set_defaults(handler=cmd_backtest)

    trace = commands.add_parser("trace", help="list the landing rows (file and row) behind a mart figure")
    trace.add_argument("what", choices=["spend", "plans"])
    trace.add_argument("--year", help="financial year for spend, e.g. 2024-25")
    trace.add_argument("--census", type=int, help="census year for plans, e.g. 2025")
    trace.add_argument("--provision", help="provision type, e.g. inmss")
    trace.add_argument("--need", help="primary need for plans, e.g. ASD")
    trace.add_argument("--out", help="write every row to this CSV")
    trace.set_defaults(handler=cmd_trace)

    report = commands.add_parser("report", help="write the HTML report, PNG charts and XLSX workbook from the warehouse")
    report.add_argument("--out", help="folder to write internal/ and publication/ into (default: HIGHNEEDS_REPORT_DIR)")
    report.add_argument("--la", help="old LA code of the council, for the benchmarks (default: HIGHNEEDS_LA_CODE)")
    report.add_argument("--published", help="folder with the DfE's published files (default: HIGHNEEDS_PUBLISHED)")
    report.add_argument("--neighbours", help="old LA codes to compare with, comma-separated (default: the 10 most similar)")
    report.add_argument("--threshold", type=int, help="suppress counts below this in the publication version (default 5)")
    report.set_defaults(handler=cmd_report)

    docs = commands.add_parser("docs", help="where the dbt documentation site of the last refresh is")
    docs.set_defaults(handler=cmd_docs)

    ui = commands.add_parser("ui", help="start the Dagster UI on 127.0.0.1")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument("--read-only", action="store_true", help="auditors: see everything, launch nothing")
    ui.set_defaults(handler=cmd_ui)
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
