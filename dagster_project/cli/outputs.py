"""The commands that read what a refresh left: `highneeds trace` (a figure back to its rows or
inputs), `report` (rebuilt from the warehouse as it is), `dictionary` (the serving file's),
`docs` (where dbt's are), and `dbt-vars` (the settings dbt's profile reads, to run dbt by hand)."""

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..settings import Settings, SettingsError, load_settings
from .runner import REFRESH_RUNNING_EXIT_CODE, holding_refresh_lock


def cmd_trace(args: argparse.Namespace, console: Console) -> int:
    """List the landing rows behind a mart figure, with their source file and row."""
    from checks.trace import trace_plans, trace_spend
    from ingest.contracts import PRIMARY_NEED_CODES
    from ingest.load import UNKNOWN_LA_CODE
    from ingest.provision_types import DFE_PLACEMENT_CATEGORY
    from warehouse import landing_read_since_figures, unchecked_run
    from warehouse.councils import CouncilConnection, councils, held_councils

    settings = load_settings()
    if not settings.warehouse.exists():
        console.print(f"[red]No warehouse at {settings.warehouse}: run a refresh first.[/red]")
        return 2
    with settings.connect_warehouse(read_only=True) as warehouse:
        held = councils(warehouse)
        gated = held_councils(warehouse)
        unchecked = unchecked_run(warehouse)
        read_since = landing_read_since_figures(warehouse)
    named_wrong = args.la and held not in ([], [UNKNOWN_LA_CODE]) and args.la not in held
    if (len(held) > 1 and args.la not in held) or named_wrong:
        console.print(
            f"[red]The warehouse holds {len(held)} council{'s' if len(held) != 1 else ''} "
            f"({', '.join(held)})"
            + (
                f", not council {args.la}: name one of those with --la."
                if args.la
                else ": say whose figure with --la (e.g. --la " + held[0] + ")."
            )
            + "[/red]"
        )
        return 2
    traced = args.la or (held[0] if len(held) == 1 else None)
    if traced in gated:
        # its figures in the warehouse failed a gate: BI and the report show what was last
        # published of it, if anything
        console.print(
            Text(
                f"Council {traced} is held by the last refresh's gates ({gated[traced]}): the "
                "warehouse's figures traced here are not the ones the serving file holds"
                + (", and it has no forecast of its own" if args.what == "forecast" else ""),
                style="yellow",
            ),
            highlight=False,
        )
    if args.what == "forecast":
        # (the forecast is made only from checked figures: its tables are the last good ones)
        return _trace_forecast(args, settings, console)
    if unchecked is not None:
        # the marts moved on to figures a gate refused; BI and the report still show the last
        # good refresh's (a trace said "they match" of £832,732 where £532,732 was published)
        console.print(
            Text(
                f"The warehouse holds the figures of refresh {unchecked}, which did not pass its "
                "gates (or stopped before they ran): the figures traced here are not the ones "
                "the serving file, BI and the report hold (the last good refresh's). That "
                "refresh's output says why; refresh again once it is fixed.",
                style="yellow",
            ),
            highlight=False,
        )
    elif read_since is not None:
        # the landing folder was read again (raw moved on) by a refresh that built no figures:
        # its ingest gates failed (a SEN2 return landed beside its corrected copy, both
        # rejected), and the staging views traced show its rows, the marts the last good ones
        console.print(
            Text(
                f"Refresh {read_since} read the landing folder after these figures were checked "
                "and built none (its ingest gates failed, or it stopped before dbt): the rows "
                "traced here are the landing files as it left them, the mart the last good "
                "refresh's, so the two may differ. That refresh's output says why; refresh "
                "again once it is fixed.",
                style="yellow",
            ),
            highlight=False,
        )
    if getattr(args, "need", None):
        args.need = args.need.strip().upper()
        if args.need not in PRIMARY_NEED_CODES:
            # (a need no plan has traced nothing, and 0 = 0 read as "they match")
            console.print(
                f"[red]No primary need {args.need!r}: one of {', '.join(PRIMARY_NEED_CODES)}.[/red]"
            )
            return 2
    if args.provision and args.provision not in DFE_PLACEMENT_CATEGORY:
        console.print(
            f"[red]No provision type {args.provision!r}: one of "
            f"{', '.join(DFE_PLACEMENT_CATEGORY)}.[/red]"
        )
        return 2
    with settings.connect_warehouse(read_only=True) as warehouse:
        con = CouncilConnection(warehouse, args.la)
        if args.what == "spend":
            if not args.year or not args.provision:
                console.print(
                    "[red]trace spend needs --year (e.g. 2024-25) "
                    "and --provision (e.g. inmss)[/red]"
                )
                return 2
            trace = trace_spend(con, args.year, args.provision)
            label = f"fct_provision_spend {args.year} {args.provision}"
            shown = [
                "transaction_id",
                "posting_date",
                "amount_gbp",
                "s251_line",
                "allocation_method",
                "source_file",
                "source_row",
            ]
        else:
            if not args.census:
                console.print("[red]trace plans needs --census (e.g. 2025)[/red]")
                return 2
            if args.provision == "central":
                # spend tied to no placement: no plan is ever in it, and 0 = 0 read as "they match"
                console.print(
                    "[red]No plan is placed in 'central' (spend tied to no placement): trace "
                    "plans takes a placement's provision type, e.g. mss.[/red]"
                )
                return 2
            trace = trace_plans(con, args.census, args.provision, args.need)
            label = (
                f"fct_ehcp_cohort census {args.census}"
                + (f" {args.provision}" if args.provision else "")
                + (f" {args.need}" if args.need else "")
            )
            shown = [
                "plan_id",
                "primary_need",
                "age",
                "provision_type",
                "source_file",
                "source_row",
            ]
        if trace.mart_value is None and not len(trace.rows):
            # nothing on either side: a year the warehouse does not hold, not a mismatch
            mart, column = (
                ("fct_provision_spend", "financial_year")
                if args.what == "spend"
                else ("fct_ehcp_cohort", "census_year")
            )
            held = [
                str(r[0])
                for r in con.execute(
                    f"SELECT DISTINCT {column} FROM marts.{mart} ORDER BY 1"
                ).fetchall()
            ]
            console.print(
                f"[red]Nothing to trace: marts.{mart} has no row for {label.split(' ', 1)[1]} "
                f"and no rows are behind it ({column} held: {', '.join(held) or 'none'}).[/red]"
            )
            return 2
        extract, names = _landing_names(con, args.what)
        trace.rows = _current_file_names(trace.rows, names)
        if args.verbatim:
            trace.rows = _read_back(con, trace.rows, extract, names, settings)
            shown += ["landing_status"]
    if args.out:
        trace.rows.to_csv(args.out, index=False)
    table = Table(
        title=f"{len(trace.rows):,} rows behind {label}"
        + (" (first 25)" if len(trace.rows) > 25 else "")
    )
    for column in shown:
        table.add_column(column)
    for row in trace.rows[shown].head(25).itertuples(index=False):
        table.add_row(
            *(
                str(value.date())
                if hasattr(value, "date") and hasattr(value, "hour")
                else str(value)
                for value in row
            )
        )
    console.print(table)
    if "landing_text" in trace.rows:
        console.print("As the landing files hold them (first 5):")
        for row in trace.rows.head(5).itertuples(index=False):
            text = row.landing_text if isinstance(row.landing_text, str) else row.landing_status
            console.print(Text(f"  {row.source_file} row {row.source_row}: {text}"))
    mart = "no such row in the mart" if trace.mart_value is None else f"{trace.mart_value:,.2f}"
    verdict = "[green]they match[/green]" if trace.matches else "[red]they DO NOT match[/red]"
    if unchecked is not None:
        verdict += f" [yellow](the warehouse's, from refresh {unchecked}: not published)[/yellow]"
    elif traced in gated:
        verdict += f" [yellow](council {traced}'s, held by the gates: not published)[/yellow]"
    console.print(
        f"{trace.measure}: traced rows total {trace.traced_value:,.2f}; mart {mart}: {verdict}"
    )
    # rows asked for as their landing files hold them that cannot be (a file changed or moved
    # since it was loaded): said, not left to the 25 rows shown, and no clean trace
    unread = (
        trace.rows[trace.rows["landing_status"] != "verbatim"]
        if "landing_status" in trace.rows
        else trace.rows.iloc[0:0]
    )
    if len(unread):
        why = unread["landing_status"].value_counts()
        console.print(
            Text(
                f"{len(unread):,} of {len(trace.rows):,} rows cannot be read back as they were "
                "loaded: "
                + "; ".join(f"{reason} ({count:,} rows)" for reason, count in why.items())
                + ". Their typed values are in raw (raw."
                + ("finance" if args.what == "spend" else "ehcp")
                + "); the landing file, by its SHA-256, is the record of what was read.",
                style="red",
            )
        )
    if args.out:
        console.print(f"All {len(trace.rows):,} rows written to {args.out}")
    # a figure that is not the published one is no clean trace, whether the whole refresh or
    # only this council was refused
    clean = trace.matches and unchecked is None and traced not in gated and not len(unread)
    return 0 if clean else 1


def _served_threshold(serving: Path) -> int | None:
    """The suppression threshold the serving file's published tables were written with (None:
    no serving file yet)."""
    from serving.publish import read_publication

    publication = read_publication(serving)
    threshold = publication.get("suppression_threshold") if publication else None
    return int(threshold) if threshold is not None else None


def _landing_names(con, what: str):
    """The extract a trace of `what` reads, and each of its files' name in the landing folder
    now, by file hash (raw.<extract>_files: a file renamed since it was loaded keeps its rows)."""
    from ingest.contracts import EHCP, FINANCE

    extract = FINANCE if what == "spend" else EHCP
    names = dict(
        con.execute(
            f"SELECT file_hash, file_name FROM raw.{extract.name}_files WHERE in_landing"
        ).fetchall()
    )
    return extract, names


def _current_file_names(rows, names: dict[str, str]):
    """The traced rows with each landing file's name as it is now (`names`, _landing_names):
    `source_file` is the file an auditor opens, `loaded_as` the name it was loaded under (raw's)
    where that differs."""
    rows = rows.copy()
    current = rows["source_file_hash"].map(names).fillna(rows["source_file"])
    rows["loaded_as"] = rows["source_file"].where(current != rows["source_file"])
    rows["source_file"] = current
    return rows


def _read_back(con, rows, extract, names: dict[str, str], settings: Settings):
    """The traced rows as their landing files hold them (`highneeds trace … --verbatim`)."""
    from checks.trace import landing_records
    from ingest.readers import load_reader_config

    readers = load_reader_config(settings.readers).get(extract.name, {})
    # the council traced, in a warehouse of several (warehouse.councils.CouncilConnection)
    council = getattr(con, "la_code", None)
    return landing_records(rows, extract, settings.landing, readers, names, council)


def _trace_forecast(args: argparse.Namespace, settings: Settings, console: Console) -> int:
    """The inputs behind a forecast figure (forecast.trace), from the forecast tables."""
    import math

    from forecast.trace import TraceError, trace_forecast
    from warehouse.councils import CouncilConnection

    if not args.year or not args.provision:
        console.print(
            "[red]trace forecast needs --year (e.g. 2028-29) and --provision (e.g. mss)[/red]"
        )
        return 2
    with settings.connect_warehouse(read_only=True) as warehouse:
        try:
            rows = trace_forecast(CouncilConnection(warehouse, args.la), args.year, args.provision)
        except TraceError as error:
            console.print(f"[red]{error}[/red]")
            return 2
    if args.out:
        rows.to_csv(args.out, index=False)
    table = Table(title=f"What forecast spend on {args.provision} in {args.year} is made of")
    for column in ("part", "input", "value", "source"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for part, name, value, source in rows.itertuples(index=False):
        shown = (
            f"{value:,.4f}"
            if isinstance(value, float) and abs(value) < 10
            else (
                f"{value:,.0f}"
                if isinstance(value, (int, float)) and not math.isnan(value)
                else "–"
            )
        )
        table.add_row(part, name, shown, str(source))
    console.print(table)
    return 0


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    """Build the report from the warehouse as it is now (every refresh builds it too)."""
    import dataclasses

    import duckdb

    from report.build import build_report
    from report.data import ReportInputError

    from ..settings import load_report_settings

    settings = load_settings()
    # owner-only, as a refresh writes them: the internal report shows every count
    settings.restrict_data_files()
    options = load_report_settings(settings).options()
    report_council = options.council  # HIGHNEEDS_LA_CODE: whose report the folder holds
    if args.la and args.la != options.council:
        # HIGHNEEDS_COUNCIL_NAME and HIGHNEEDS_NEIGHBOURS are HIGHNEEDS_LA_CODE's council's, not
        # the one --la asks for (--neighbours below gives its own)
        options = dataclasses.replace(options, council_name=None, neighbours=None)
    overrides = {
        "out_dir": Path(args.out).resolve() if args.out else None,
        "council": args.la,
        "published": Path(args.published).resolve() if args.published else None,
        "neighbours": [c.strip() for c in args.neighbours.split(",") if c.strip()]
        if args.neighbours
        else None,
        "threshold": args.threshold,
    }
    options = dataclasses.replace(options, **{k: v for k, v in overrides.items() if v is not None})
    if options.threshold < 1:
        raise SettingsError(
            f"--threshold {options.threshold}: the suppression threshold must be at least 1"
        )
    if not settings.warehouse.exists():
        console.print(
            f"[red]No warehouse at {settings.warehouse}: run `highneeds refresh` (or "
            "`highneeds demo`) first.[/red]"
        )
        return 2
    served = _served_threshold(settings.serving)
    if served is not None and served != options.threshold:
        # the publication and the serving file's published tables are suppressed as one: at
        # two thresholds, a count one shows and the other hides gives hidden ones away (a
        # "Post 16" of 15 at 10 less the served Post-16 FE of 14 was one child)
        console.print(
            Text(
                f"No report built: the serving file's published tables hide counts below "
                f"{served}, and a publication at {options.threshold} beside them would give "
                "counts away (one shows what the other hides). To change the threshold, refresh "
                f"with HIGHNEEDS_SUPPRESSION_THRESHOLD={options.threshold}: both change together.",
                style="red",
            )
        )
        return 2
    from ingest.load import UNKNOWN_LA_CODE
    from warehouse import forecast_behind_figures, unchecked_forecast, unchecked_run
    from warehouse.councils import chosen_council, councils

    from ..defs.report import report_held
    from ..defs.unchecked import figures_unchecked, forecast_behind, forecast_unchecked
    from ..refresh_lock import RefreshRunning, explain_duckdb_lock_error
    from ..resources import settle_report_with_serving

    try:
        # a refresh writes the warehouse and swaps the report in:
        # not while this reads and writes them
        with holding_refresh_lock(settings, console, wait=False):
            settle_report_with_serving(settings)
            with settings.connect_warehouse(read_only=True) as con:
                held_codes = councils(con)
                if (
                    args.la
                    and held_codes not in ([], [UNKNOWN_LA_CODE])
                    and (args.la not in held_codes)
                ):
                    refused = (
                        f"council {args.la} is not in this warehouse (it holds "
                        f"{', '.join(held_codes)}): name one of those with --la."
                    )
                elif (
                    args.la
                    and not args.out
                    and args.la != (folder_council := chosen_council(con, report_council))
                ):
                    # the folder's report is served beside the serving file, and stands for its
                    # council's figures (a held council's last good report among them)
                    refused = (
                        f"the report folder {options.out_dir} holds council {folder_council}'s "
                        "report, served beside the serving file's figures (HIGHNEEDS_LA_CODE); "
                        f"write council {args.la}'s elsewhere: highneeds report --la {args.la} "
                        "--out DIR."
                    )
                elif (run := unchecked_run(con)) is not None:
                    refused = figures_unchecked(run)
                elif (failed := unchecked_forecast(con)) is not None:
                    refused = forecast_unchecked(*failed)
                elif (held := report_held(con, options.council)) is not None:
                    refused = f"{held} Fix its files and refresh."
                elif (runs := forecast_behind_figures(con)) is not None:
                    # (after the held council: every council held stops the forecast too, and
                    # refreshing again would not help)
                    refused = forecast_behind(*runs)
                else:
                    refused = None
                    report = build_report(con, options)
    except RefreshRunning as error:
        console.print(
            Text(f"No report built: {error}. Run it again when that one has finished.", style="red")
        )
        return REFRESH_RUNNING_EXIT_CODE
    except (ReportInputError, duckdb.IOException) as error:
        console.print(Text(explain_duckdb_lock_error(str(error)) or str(error), style="red"))
        return 2
    if refused is not None:
        # the warehouse holds the figures that failed: the report keeps the last good ones
        console.print(Text(f"No report built: {refused}", style="red"))
        return 1
    console.print(f"Report written to {options.out_dir}:", highlight=False)
    for output in report.outputs.values():
        what = (
            "every count"
            if output.audience == "internal"
            else f"counts of children below {options.threshold} suppressed"
        )
        console.print(
            f"  {output.audience} ({what}): {output.html}\n    workbook {output.workbook}, "
            f"{len(output.charts)} charts in {output.html.parent / 'charts'}",
            highlight=False,
        )
    console.print(report.headline_reading, highlight=False)
    if report.benchmarks is not None:
        own_flags = report.benchmarks.flags[
            report.benchmarks.flags["code"] == report.benchmarks.code
        ]
        console.print(
            f"Benchmarks: {report.benchmarks.name} ({report.benchmarks.code}) ranked among "
            f"{int(report.benchmarks.table['councils_ranked'].max())} councils, "
            f"against {len(report.benchmarks.neighbours)} similar councils; "
            f"{len(own_flags[own_flags['kind'] != 'watch'])} of its published figures flagged as "
            "likely errors and left out.",
            highlight=False,
        )
    else:
        console.print(f"[yellow]{report.benchmarks_note}[/yellow]", highlight=False)
    return 0


def cmd_dictionary(args: argparse.Namespace, console: Console) -> int:
    """The data dictionary of the serving file (every table and column BI reads), as Markdown."""
    from serving.dictionary import dictionary_markdown, read_dictionary, splice_readme, undescribed

    serving = Path(args.serving).resolve() if args.serving else load_settings().serving
    if not serving.exists():
        console.print(
            f"[red]No serving file at {serving}: run `highneeds refresh` (or "
            "`highneeds demo`) first.[/red]"
        )
        return 2
    dictionary = read_dictionary(serving)
    text = dictionary_markdown(dictionary)
    if not args.readme:
        console.print(text, markup=False, highlight=False, soft_wrap=True)
    else:
        readme = Path(args.readme)
        try:
            readme.write_text(
                splice_readme(readme.read_text(encoding="utf-8"), text), encoding="utf-8"
            )
        except (OSError, ValueError) as error:
            console.print(Text(f"{readme}: {error}", style="red"))
            return 2
        console.print(f"Data dictionary of {serving} written into {readme}", highlight=False)
    missing = undescribed(dictionary)
    if missing:  # on stderr: stdout may be the Markdown
        Console(stderr=True).print(
            Text(f"{len(missing)} without a description: {', '.join(missing)}", style="yellow")
        )
    return 0


def cmd_docs(args: argparse.Namespace, console: Console) -> int:
    from ..defs.docs import docs_path

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

    console.print(
        json.dumps(load_settings().dbt_vars(), sort_keys=True),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    return 0
