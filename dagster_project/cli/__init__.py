"""`highneeds` command line: demo, generate, refresh, ui.

`refresh` runs the same Dagster job the schedule and the sensor run, in this process, against
the Dagster instance in DAGSTER_HOME (so every run shows in the UI's history), printing each
stage as it finishes and a summary at the end. It exits 1 when a file was rejected, a gate
failed or a step failed, saying which and why; 75 (EX_TEMPFAIL: try again later) when another
refresh of the same warehouse is running (`--wait` waits for it instead); 130 when SIGINT,
SIGTERM or SIGHUP stopped it, after stopping dbt and releasing the refresh lock.

The package: `runner` (the refresh run, its lock and signals), `summary` (what a refresh prints
at the end), and the commands by group: `refresh` (refresh, demo, generate), `ui` (ui, daemon),
`published` (fetch-published, forecast-la, backtest) and `outputs` (trace, report, dictionary,
docs, dbt-vars). This module parses the arguments and runs the command.
"""

import argparse
import sys

from rich.console import Console

from forecast.settings import MAX_SIMULATIONS

from ..settings import SettingsError
from .outputs import cmd_dbt_vars, cmd_dictionary, cmd_docs, cmd_report, cmd_trace
from .published import PUBLISHED_HELP, cmd_backtest, cmd_fetch_published, cmd_forecast_la
from .refresh import cmd_demo, cmd_generate, cmd_refresh
from .ui import cmd_daemon, cmd_ui

__all__ = ["build_parser", "main"]


def _simulations(text: str) -> int:
    """At least 10 simulations: fewer leave no p10/p90 to speak of (0 ended in an IndexError);
    at most MAX_SIMULATIONS (beyond, the paths of every council outgrow the machine's memory)."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if not 10 <= number <= MAX_SIMULATIONS:
        raise argparse.ArgumentTypeError(
            f"a whole number from 10 to {MAX_SIMULATIONS:,}, not {text!r}"
        )
    return number


def _csv_out(text: str) -> str:
    """A CSV to write: its folder must exist (checked before the run, not after it)."""
    from pathlib import Path

    path = Path(text)
    if path.is_dir() or not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: not a file in an existing folder")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="highneeds", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo",
        help="generate a synthetic council (if the landing folder is empty), refresh, summarise",
    )
    demo.add_argument(
        "--fresh",
        action="store_true",
        help="replace the landing folder's files with a new synthetic council",
    )
    demo.add_argument("--seed", type=int, default=42)
    demo.set_defaults(handler=cmd_demo)

    generate = commands.add_parser(
        "generate", help="write synthetic extracts following the landing contract"
    )
    generate.add_argument(
        "--out", required=True, help="folder to write ehcp/, placements/, finance/, budget/ into"
    )
    generate.add_argument(
        "--children", type=int, default=None, help="active plans at the latest January census"
    )
    generate.add_argument(
        "--years", default="2017-2025", help="first and last financial year starts, e.g. 2017-2025"
    )
    generate.add_argument("--seed", type=int, default=42)
    generate.set_defaults(handler=cmd_generate)

    refresh = commands.add_parser(
        "refresh", help="load the landing folder, rebuild, check and forecast"
    )
    refresh.add_argument(
        "--wait",
        action="store_true",
        help=(
            "if another refresh of the warehouse is running, "
            "wait for it to finish (default: exit 75)"
        ),
    )
    refresh.add_argument(
        "--whole",
        action="store_true",
        help=(
            "rebuild the ledger's models whole and check every transaction id, even when only "
            "new finance files arrived (a nightly refresh does so at least weekly)"
        ),
    )
    refresh.set_defaults(handler=cmd_refresh)

    forecast_la = commands.add_parser(
        "forecast-la", help="forecast any council from the DfE's published EHCP counts"
    )
    forecast_la.add_argument(
        "--la",
        required=True,
        help="old LA code (e.g. 869), name (e.g. 'West Berkshire') or 'all' for every council",
    )
    forecast_la.add_argument("--published", help=PUBLISHED_HELP)
    forecast_la.add_argument(
        "--horizon",
        default="2028-29",
        help="the last financial year to forecast (e.g. 2028-29, the default); the CSV's rows are "
        "the January censuses in each financial year (2028-29: January 2029)",
    )
    forecast_la.add_argument("--simulations", type=_simulations, default=1000)
    forecast_la.add_argument(
        "--out", type=_csv_out, help="write every provision type's p10/p50/p90 to this CSV"
    )
    forecast_la.set_defaults(handler=cmd_forecast_la)

    backtest = commands.add_parser(
        "backtest", help="backtest aggregate mode across every council in the published data"
    )
    backtest.add_argument("--published", help=PUBLISHED_HELP)
    backtest.add_argument("--simulations", type=_simulations, default=300)
    backtest.add_argument("--out", type=_csv_out, help="write the error table to this CSV")
    backtest.add_argument(
        "--readme", help="write the tables into this README between its backtest markers"
    )
    backtest.add_argument(
        "--unit-costs",
        help="CSV of provision_type, unit_cost_gbp: the money-weighted (spend) rows' weights "
        "(default: national averages from the DfE's high needs benchmarking workbook, "
        "high_needs_benchmarking_outturn_data_2021-22.xlsx, when the published folder holds it)",
    )
    backtest.set_defaults(handler=cmd_backtest)

    fetch = commands.add_parser(
        "fetch-published",
        help="refresh the DfE's published data shipped with highneeds "
        "(benchmarks, aggregate mode) from the DfE's statistics service",
    )
    fetch.add_argument(
        "--from",
        dest="source",
        help="build it from this folder of the DfE's full files instead (sub-folders searched)",
    )
    fetch.add_argument(
        "--out", help="write it here (default: the shipped copy, forecast/published_data)"
    )
    fetch.set_defaults(handler=cmd_fetch_published)

    trace = commands.add_parser(
        "trace",
        help="list the landing rows (file and row) behind a mart figure, or the "
        "inputs behind a forecast figure",
    )
    trace.add_argument("what", choices=["spend", "plans", "forecast"])
    trace.add_argument("--year", help="financial year for spend or forecast, e.g. 2024-25")
    trace.add_argument("--census", type=int, help="census year for plans, e.g. 2025")
    trace.add_argument("--provision", help="provision type, e.g. inmss")
    trace.add_argument("--need", help="primary need for plans, e.g. ASD")
    trace.add_argument(
        "--la", help="the council's old LA code, when the warehouse holds many (e.g. 869)"
    )
    trace.add_argument("--out", help="write every row to this CSV")
    trace.add_argument(
        "--verbatim",
        action="store_true",
        help="read each row back from its landing file, as the file holds it (spend, plans)",
    )
    trace.set_defaults(handler=cmd_trace)

    report = commands.add_parser(
        "report", help="write the HTML report, PNG charts and XLSX workbook from the warehouse"
    )
    report.add_argument(
        "--out",
        help="folder to write internal/ and publication/ into (default: HIGHNEEDS_REPORT_DIR)",
    )
    report.add_argument(
        "--la", help="old LA code of the council, for the benchmarks (default: HIGHNEEDS_LA_CODE)"
    )
    report.add_argument("--published", help=PUBLISHED_HELP)
    report.add_argument(
        "--neighbours",
        help="old LA codes to compare with, comma-separated (default: the 10 most similar)",
    )
    report.add_argument(
        "--threshold",
        type=int,
        help=(
            "suppress counts below this in the publication version (default 5; it must be "
            "the serving file's)"
        ),
    )
    report.set_defaults(handler=cmd_report)

    dictionary = commands.add_parser(
        "dictionary",
        help="the data dictionary of the serving file: every table and "
        "column BI reads, with its type and meaning (Markdown)",
    )
    dictionary.add_argument("--serving", help="the serving file (default: HIGHNEEDS_SERVING)")
    dictionary.add_argument(
        "--readme", help="write it into this README between its dictionary markers"
    )
    dictionary.set_defaults(handler=cmd_dictionary)

    docs = commands.add_parser(
        "docs", help="where the dbt documentation site of the last refresh is"
    )
    docs.set_defaults(handler=cmd_docs)

    dbt_vars = commands.add_parser(
        "dbt-vars", help="the settings dbt's profile reads, as dbt's --vars (to run dbt by hand)"
    )
    dbt_vars.set_defaults(handler=cmd_dbt_vars)

    ui = commands.add_parser(
        "ui",
        help="start the Dagster UI on 127.0.0.1 with the daemon, and serve the report beside it",
    )
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument(
        "--read-only", action="store_true", help="auditors: see everything, launch nothing"
    )
    ui.add_argument(
        "--no-daemon",
        action="store_true",
        help="the UI alone, when the daemon runs as its own service (`highneeds daemon`)",
    )
    ui.set_defaults(handler=cmd_ui)

    daemon = commands.add_parser(
        "daemon",
        help="run the Dagster daemon alone (nightly schedule, landing sensor): "
        "for a service beside `highneeds ui --no-daemon`",
    )
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
