"""`highneeds refresh`, `demo` and `generate`: a refresh of the landing folder with its summary,
the demo (a synthetic council, then a refresh) and the synthetic council alone."""

import argparse
import os
import shutil
from pathlib import Path

from rich.console import Console
from rich.text import Text

from ..settings import (
    DEFAULT_FORECAST_SETTINGS,
    DEMO_FORECAST_SETTINGS,
    DEMO_LA_CODE,
    REPO_ROOT,
    Settings,
    SettingsError,
    load_settings,
    write_new_key_to_dotenv,
)
from .runner import (
    HELD_EXIT_CODE,
    INTERRUPTED_EXIT_CODE,
    REFRESH_RUNNING_EXIT_CODE,
    descendants,
    holding_refresh_lock,
    run_refresh,
    stop_child_processes,
    stopped_by_signals,
)
from .summary import forecast_written, print_report_location, print_summary


def cmd_refresh(args: argparse.Namespace, console: Console) -> int:
    settings = load_settings()
    settings.require_pseudonym_key()
    problem = mitigations_problem(settings)
    if problem:
        from rich.markup import escape

        console.print(f"[red]{escape(problem)}[/red]")
        console.print("Nothing was loaded: fix the mitigations file and refresh again.")
        return 2
    return _refresh_and_summarise(settings, console, wait=args.wait, whole=args.whole)


def mitigations_problem(settings: Settings) -> str | None:
    """What is wrong with the mitigation log a refresh's forecast would stop on, checked before
    anything loads (a bad `percent: 5%` had been refused by the forecast step, after ingest and
    dbt): one council's log, or the shared one (HIGHNEEDS_MITIGATIONS) where a council of many
    uses it. A council's own log in a many-council folder is left to the forecast step, which
    holds that council alone. Provision types are checked there too, once the warehouse has them."""
    from forecast.mitigations import MitigationsError, load_mitigations

    try:
        logs = settings.mitigation_logs()
        if None in logs:
            checked = logs[None]
        elif settings.mitigations in logs.values():
            checked = settings.mitigations
        else:
            return None
        load_mitigations(checked)
    except MitigationsError as error:
        return str(error)
    return None


def forget_ledger_build(settings: Settings) -> None:
    """`refresh --whole`: with no last build on record, dbt rebuilds the ledger whole and its
    tests check every id (ingest/increment.py)."""
    if not settings.warehouse.exists():
        return
    from ingest import increment

    with settings.connect_warehouse() as con:
        increment.forget(con, "asked for (refresh --whole)")


def succeeded_line(outcome) -> Text:
    """The last line of a refresh that published: "every gate passed" only when no check
    warned (a plans extract without its cease dates ended "every gate passed" under its
    WARNING, read as nothing to look at)."""
    warned = len(outcome.warned_checks)
    if not warned:
        return Text("Refresh succeeded: every gate passed.", style="green")
    return Text(
        f"Refresh succeeded: every blocking gate passed, and {warned} "
        f"check{'s' if warned > 1 else ''} warned (WARNING above, and in the report): "
        "its figures are published; read the warning before using them.",
        style="yellow",
    )


def _refresh_and_summarise(
    settings: Settings, console: Console, *, wait: bool = False, whole: bool = False
) -> int:
    import duckdb

    from serving.publish import read_publication

    from ..refresh_lock import RefreshRunning, explain_duckdb_lock_error

    console.print(
        f"Refreshing from [bold]{settings.landing}[/bold] into [bold]{settings.warehouse}[/bold]"
    )
    if not settings.landing.is_dir():
        console.print(
            f"[red]The landing folder {settings.landing} does not exist (HIGHNEEDS_LANDING).[/red]"
        )
        return 2
    # the caller's own (a test's readers): not ours to stop
    already_running = set(descendants(os.getpid()))
    try:
        with stopped_by_signals(), holding_refresh_lock(settings, console, wait):
            try:
                if whole:
                    forget_ledger_build(settings)
                try:
                    previous = read_publication(settings.serving)
                except duckdb.Error:
                    previous = None  # a serving file it cannot read: publish says why
                outcome = run_refresh(settings, console)
                # a step that failed while reading dbt's output
                # leaves dbt running, holding the warehouse
                if left_running := stop_child_processes(already_running):
                    console.print(
                        f"  [yellow]stopped processes a failed step left running: pid "
                        f"{', '.join(map(str, left_running))}[/yellow]",
                        highlight=False,
                    )
                print_summary(settings, outcome, console, previous)
            # the summary reads the warehouse: a BI tool may hold it
            except duckdb.IOException as error:
                console.print(
                    Text(explain_duckdb_lock_error(str(error)) or str(error), style="red")
                )
                return 1
            except KeyboardInterrupt:
                # before the lock goes: no dbt left holding the warehouse
                stopped = stop_child_processes(already_running)
                console.print(
                    Text(
                        "Refresh stopped by a signal"
                        + (
                            f"; stopped the processes it had started (pid "
                            f"{', '.join(map(str, stopped))})"
                            if stopped
                            else ""
                        )
                        + ". The serving file and the report keep the last good version; "
                        "the next refresh carries on.",
                        style="red",
                    )
                )
                return INTERRUPTED_EXIT_CODE
    except RefreshRunning as error:
        console.print(
            Text(
                f"Not refreshed: {error}. Run it again when that one has finished, or with "
                "`highneeds refresh --wait` to wait for it.",
                style="red",
            )
        )
        return REFRESH_RUNNING_EXIT_CODE
    except KeyboardInterrupt:  # while waiting for the lock
        console.print(Text("Refresh stopped by a signal before it started.", style="red"))
        return INTERRUPTED_EXIT_CODE
    if outcome.success and outcome.held:
        from serving.publish import served_figures

        print_report_location(settings, console, outcome.run_id)
        codes = outcome.held_councils
        figures = served_figures(settings.serving)
        never = [code for code in codes if figures.get(code, "none") == "none"]
        kept = [code for code in codes if code not in never]
        said = []
        if kept:
            said.append(f"keeps the last good figures of {', '.join(kept)} (meta.councils)")
        if never:
            said.append(f"has no figures of {', '.join(never)}: no earlier refresh published them")
        console.print(
            Text(
                f"Refresh published, but council{'s' if len(codes) > 1 else ''} "
                f"{', '.join(codes)} failed a gate: the serving file {' and '.join(said)}, "
                "while the other councils' are this refresh's. Fix the files named above and "
                "refresh.",
                style="yellow",
            )
        )
        return HELD_EXIT_CODE
    if outcome.success:
        print_report_location(settings, console)
        console.print(succeeded_line(outcome))
        return 0
    # (a failed step with every check passed, such as a forecast that cannot be fitted, is
    # not a failed check)
    said = "checks" if outcome.failed_checks else "steps" if outcome.failed_steps else "run's log"
    # (the forecast may have been written before a later step failed: it is then the
    # warehouse's, printed above, and neither published nor drawn)
    import duckdb

    try:
        with settings.connect_warehouse(read_only=True) as con:
            written = forecast_written(outcome, con)
    except (duckdb.Error, OSError):  # (no warehouse, or one a lock keeps from being read)
        written = forecast_written(outcome)
    forecast = (
        "The warehouse's forecast was updated (the figures above) but not published: the "
        "serving file and the report keep the last published version."
        if written
        else "The forecast was not updated."
    )
    console.print(f"[red]Refresh failed: see the failed {said} above. {forecast}[/red]")
    return 1


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    settings = load_settings()
    if not settings.pseudonym_key:
        # the key every later refresh, the schedule, the sensor and the UI read: the demo's rows
        # must join theirs, so the demo keeps its key where they look for it
        dotenv = write_new_key_to_dotenv(Path.cwd() / ".env")
        console.print(
            f"[dim]Demo: wrote a new random HIGHNEEDS_PSEUDONYM_KEY to {dotenv} (keep it).[/dim]",
            highlight=False,
        )
        settings = load_settings()  # with the key .env holds now
    if not settings.la_code:
        # the synthetic council follows West Berkshire's figures: the report benchmarks as it
        settings = settings.with_la_code(DEMO_LA_CODE)
        console.print(
            f"[dim]Demo: benchmarking as West Berkshire (HIGHNEEDS_LA_CODE={DEMO_LA_CODE}).[/dim]"
        )
    if settings.forecast_settings == DEFAULT_FORECAST_SETTINGS:
        # the demo council's special schools have places: the forecast shows the constraint at work
        settings = settings.with_forecast_settings(DEMO_FORECAST_SETTINGS)
        console.print(
            "[dim]Demo: forecasting with the demo council's special school places "
            f"(HIGHNEEDS_FORECAST_SETTINGS={DEMO_FORECAST_SETTINGS.relative_to(REPO_ROOT)}).[/dim]"
        )
    has_files = settings.landing.is_dir() and any(settings.landing.rglob("*.csv"))
    if args.fresh or not has_files:
        from synthetic.council import generate

        if args.fresh and settings.landing.exists():
            shutil.rmtree(settings.landing)
        console.print(f"Generating a synthetic council into {settings.landing} …")
        summary = generate(settings.landing, seed=args.seed)
        console.print(f"[dim]{_describe_generated(summary)}[/dim]")
    else:
        console.print(
            f"[dim]Using the files already in {settings.landing} (--fresh to regenerate).[/dim]"
        )
    return _refresh_and_summarise(settings, console)


def _describe_generated(summary: dict) -> str:
    rows = summary.get("rows") or {}
    counts = {
        name: sum(count.values()) if isinstance(count, dict) else count
        for name, count in rows.items()
    }
    return ", ".join(f"{name}: {count:,} rows" for name, count in counts.items()) or "done"


def cmd_generate(args: argparse.Namespace, console: Console) -> int:
    from synthetic.council import generate

    first, last = _parse_years(args.years)
    summary = generate(
        Path(args.out), children=args.children, first_year=first, last_year=last, seed=args.seed
    )
    console.print(f"Wrote synthetic extracts to {args.out}: {_describe_generated(summary)}")
    return 0


def _parse_years(text: str) -> tuple[int, int]:
    try:
        first, last = (int(part) for part in text.split("-", 1))
    except ValueError as error:
        raise SettingsError(
            f"--years {text!r}: expected FIRST-LAST financial year starts, e.g. 2017-2025"
        ) from error
    if last < first:
        raise SettingsError(f"--years {text!r}: the last year is before the first")
    return first, last
