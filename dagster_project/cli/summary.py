"""What `highneeds refresh` prints when the run ends: the landing files, the quarantined rows
with examples, the checks, spend and caseload by provision with the forecast, the balance and
what drives it, and where the serving file and the report are."""

import datetime as dt
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from forecast.years import census_year_of_fy
from ingest.load import UNKNOWN_LA_CODE
from ingest.sen2 import read_from
from warehouse import FORECAST_BEING_WRITTEN, forecast_record, table_exists

from ..settings import Settings
from .runner import RefreshOutcome

EXAMPLES_PER_REASON = 3


def print_summary(
    settings: Settings,
    outcome: RefreshOutcome,
    console: Console,
    previous: dict | None = None,
) -> None:
    """`previous`: the serving file's meta.publication row before the refresh (read_publication),
    to say when the forecast's settings changed since it."""
    if not settings.warehouse.exists():  # a refresh that stopped before loading anything
        _print_checks(outcome, console)
        return
    with settings.connect_warehouse(read_only=True) as con:
        _print_landing(con, console)
        _print_unfilled(con, console)
        _print_quarantine_examples(con, console)
        if outcome.ledger_build:
            console.print(
                f"The ledger's models were built {outcome.ledger_build}.", highlight=False
            )
        _print_checks(outcome, console)
        _print_provisions(
            con, settings, console, outcome.held_councils, forecast_written(outcome, con)
        )
    if outcome.published:
        with settings.connect_warehouse(read_only=True) as con:
            not_applied = _example_not_applied(con)
        _print_example_mitigations(settings, console, outcome.held_councils, not_applied)
    _print_publication(settings, outcome, console)
    _print_settings_changed(settings, outcome, console, previous)


def _print_grown_in_progress_funding(con, console: Console) -> None:
    """A year not complete in the finance extract whose budget lines are missing has its funding
    grown, carried into the balance brought forward: said only in forecast.assumptions, beside a
    dbt warning naming no year (a helper's ledger cut at December with that year's budget
    deleted)."""
    for fy, funding, source in con.execute(
        "SELECT financial_year, value, source FROM forecast.assumptions "
        "WHERE assumption = 'in_progress_year_funding' AND NOT contains(source, 'budget file') "
        "ORDER BY financial_year"
    ).fetchall():
        console.print(
            Text.assemble(
                (f"{fy} has no budget lines", "yellow"),
                f" (not complete in the finance extract): its funding, £{funding:,.0f}, is "
                f"{source.split(': ', 1)[-1]}, and carried into the balance brought forward "
                "(forecast.assumptions; add the year's lines to the budget file).",
            ),
            highlight=False,
        )


def _example_not_applied(con) -> dict[str, str]:
    """Per council, the shipped example's mitigations its forecast could not price and left out,
    as forecast.assumptions' mitigation_log row names them after the example's own words."""
    from forecast.mitigations import example_not_applied

    if not table_exists(con, "forecast", "assumptions"):
        return {}
    left_out = {
        code: example_not_applied(source)
        for code, source in con.execute(
            "SELECT la_code, source FROM forecast.assumptions WHERE assumption = 'mitigation_log'"
        ).fetchall()
    }
    return {code: why for code, why in left_out.items() if why}


def _print_example_mitigations(
    settings: Settings,
    console: Console,
    held: list[str] | tuple[str, ...] = (),
    not_applied: dict[str, str] | None = None,
) -> None:
    """The mitigated scenarios of a council with no mitigation log of its own apply the shipped
    example's (a £0.5m block transfer a year among them: 17 % of a small council's funding), and
    nothing had said so. A council `held` at its last good figures published none this run (it
    had been named beside the one that did). `not_applied` (_example_not_applied): the example's
    mitigations a council could not price, named (the summary had said the example applied,
    whole)."""
    from ..settings import EXAMPLE_MITIGATIONS

    example = [
        code
        for code, log in settings.mitigation_logs().items()
        if log == EXAMPLE_MITIGATIONS and code not in held
    ]
    if example:
        whose = "" if example == [None] else f" for {', '.join(str(c) for c in example)}"
        console.print(
            Text.assemble(
                ("The mitigated scenarios", "yellow"),
                f"{whose} apply the shipped example mitigation log "
                "(forecast/config/mitigations.example.yml), not a council's own plan: set "
                "HIGHNEEDS_MITIGATIONS, or put mitigations.yml in the council's landing folder.",
            )
        )
        for code, why in sorted((not_applied or {}).items()):
            if code in example or example == [None]:
                console.print(f"    {code}: {why}", highlight=False, markup=False)


def _print_settings_changed(
    settings: Settings, outcome: RefreshOutcome, console: Console, previous: dict | None
) -> None:
    """A published forecast run with other settings than the version it replaces: its figures
    moved for that reason too (the demo's settings, then a plain refresh with the defaults, moved
    the deficit by £9m with "0 new files" the only word said)."""
    from serving.publish import settings_changed

    if not outcome.published:
        return
    changed = settings_changed(previous, settings.forecast_fingerprint())
    if changed is None:
        return
    version, before, described = changed
    console.print(
        Text.assemble(
            ("The forecast's settings changed", "yellow"),
            " since the version this one replaces "
            f"({version}): its figures moved with them, not only with the data."
            f"\n  before: {before}\n  now:    {described}"
            + ("" if described != before else "\n  (the same files: their contents changed)"),
        )
    )


def _print_landing(con, console: Console) -> None:
    if not table_exists(con, "raw", "landing_files"):
        return
    flagged: dict[str, int] = {}
    if table_exists(con, "marts", "fct_data_quality"):
        flagged = dict(
            con.execute(
                "SELECT extract, sum(rows)::BIGINT FROM marts.fct_data_quality "
                "WHERE measure = 'rows_flagged_by_flag' AND in_landing GROUP BY 1"
            ).fetchall()
        )
    rows = con.execute(
        """
        SELECT extract, count(*) AS files,
               count(*) FILTER (WHERE status = 'rejected') AS rejected,
               coalesce(sum(rows_read), 0), coalesce(sum(rows_valid), 0),
               coalesce(sum(rows_duplicate), 0), coalesce(sum(rows_quarantined), 0),
               -- in absolute amounts, one the parser could not read by its digits (as the
               -- quarantine gate weighs it): 419 amounts written 12,34 showed £0.00 here
               sum(gross_money_quarantined_gbp)::DOUBLE
        -- a region's shared GIAS file is loaded once per council (each council's rows): one
        -- file here, not one per council
        FROM (
            SELECT * FROM raw.landing_files WHERE in_landing
            QUALIFY row_number() OVER (PARTITION BY extract, file_name ORDER BY la_code) = 1
        )
        GROUP BY extract ORDER BY extract
        """
    ).fetchall()
    table = Table(title="Landing files (in the landing folder now)")
    for column in (
        "extract",
        "files",
        "rejected",
        "rows read",
        "loaded",
        "exact duplicates",
        "quarantined",
        "quarantined £ (absolute)",
        "flagged",
    ):
        table.add_column(column, justify="left" if column == "extract" else "right")
    for row in rows:
        money = "–" if row[7] is None else f"£{row[7]:,.2f}"
        table.add_row(
            row[0], *(f"{value:,}" for value in row[1:7]), money, f"{flagged.get(row[0], 0):,}"
        )
    console.print(table)
    for _, _, message in con.execute(
        "SELECT DISTINCT extract, file_name, message FROM raw.landing_files "
        "WHERE in_landing AND status = 'rejected' ORDER BY extract, file_name"
    ).fetchall():
        # the message is the file's own words (names, paths): printed as text, never as markup
        console.print(Text.assemble(("rejected ", "red"), message))
    if flagged:
        details = con.execute(
            "SELECT reason, sum(rows)::BIGINT FROM marts.fct_data_quality "
            "WHERE measure = 'rows_flagged_by_flag' "
            "AND in_landing GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
        console.print(
            "[yellow]flagged (kept, see marts.fct_data_quality):[/yellow] "
            + ", ".join(f"{flag} × {count:,}" for flag, count in details),
            highlight=False,
        )


# optional columns of the contract whose absence changes figures, and what it changes: none of
# them warned where no file gave them (a plans extract without cease dates published "0 ceased"
# every year under "every gate passed"); each is said when no loaded file fills it (all of a
# group's columns)
UNFILLED_COLUMNS = (
    ("ehcp", ("plan_cease_date",), "no plan counts as ceased: every plan stays in the caseload"),
    ("ehcp", ("cease_reason",), "ceased plans have no reason: ceased_not_rec"),
    (
        "placements",
        ("end_date",),
        "a placement ends only where the child's next begins, or the plan ceases",
    ),
    ("placements", ("annual_cost",), "new placements have no commissioned cost"),
    (
        "finance",
        ("child_id", "placement_id"),
        "payments are typed by their provider alone: a type paid with none counts as central",
    ),
)


def unfilled_columns(con) -> list[str]:
    """The groups of UNFILLED_COLUMNS no file in the landing folder fills, with what each
    changes; an extract with no rows there says nothing."""
    said = []
    for extract, columns, changes in UNFILLED_COLUMNS:
        if not (table_exists(con, "raw", extract) and table_exists(con, "raw", f"{extract}_files")):
            continue
        counts = con.execute(
            "SELECT count(*), "
            + ", ".join(f"count(r.{column})" for column in columns)
            + f" FROM raw.{extract} AS r INNER JOIN raw.{extract}_files AS f "
            "ON f.file_hash = r._file_hash WHERE f.in_landing"
        ).fetchall()[0]
        if counts[0] and not any(counts[1:]):
            said.append(f"{extract} {' and '.join(columns)} ({changes})")
    return said


def _print_unfilled(con, console: Console) -> None:
    said = unfilled_columns(con)
    if said:
        console.print(
            Text.assemble(
                ("Optional columns no file fills", "yellow"),
                ": " + "; ".join(said) + ". The README's landing contract says what each gives.",
            )
        )


def _print_examples(
    console: Console,
    heading: str,
    table: str,
    rows: list[tuple],
    codes: dict[str, tuple[str, ...]] | None = None,
) -> None:
    """Per reason: the count, then the first rows as `file:row column: problem ('value')`, and
    how many more `table` holds (the first few alone had read as every row). An unknown code
    says which codes its column reads (`codes`, by column): a budget line `recoupment` said
    only "unknown code", and the lines the budget reads were in the code alone."""
    shown_of: dict[str, int] = {}
    for code, count, source_file, source_row, column, value in rows:
        accepted = (codes or {}).get(column) if code == "unknown_code" else None
        # a SEN2 row's column read from another table of the return: say which
        origin = read_from(source_file, column)
        column = f"{column} (read from {origin})" if origin else column
        if code not in shown_of:
            console.print(f"[yellow]{heading}: {code} × {count:,}", highlight=False)
        shown_of[code] = shown_of.get(code, 0) + 1
        shown = f" ({value!r})" if value is not None else ""
        shown += f"; reads {', '.join(accepted)}" if accepted else ""
        console.print(
            f"    {source_file}:{source_row} {column}: {code.replace('_', ' ')}{shown}",
            highlight=False,
            markup=False,
        )
        if shown_of[code] == min(count, EXAMPLES_PER_REASON) and count > shown_of[code]:
            console.print(
                f"    … and {count - shown_of[code]:,} more in {table}",
                highlight=False,
                markup=False,
            )


def _print_quarantine_examples(con, console: Console) -> None:
    """Per extract and reason: the count,
    then the first rows as `file:row column: problem ('value')`."""
    from checks.gates import earlier_versions_counted
    from ingest.contracts import EXTRACTS

    for name in EXTRACTS:
        if not table_exists(con, "quarantine", name):
            continue
        codes = {c.name: c.codes for c in EXTRACTS[name].columns if c.codes}
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
            SELECT code, count(*) OVER (PARTITION BY code) AS n,
                   _source_file, _source_row, column_name, value
            FROM problems
            QUALIFY row_number() OVER (PARTITION BY code ORDER BY _source_file, _source_row)
                <= {EXAMPLES_PER_REASON}
            ORDER BY n DESC, code, _source_file, _source_row
            """
        ).fetchall()
        _print_examples(console, f"quarantined[/yellow] {name}", f"quarantine.{name}", rows, codes)
        if table_exists(con, "quarantine", f"{name}_values"):
            values = con.execute(
                f"""
                SELECT v.reason_code, count(*) OVER (PARTITION BY v.reason_code) AS n,
                       v._source_file, v._source_row, v.column_name, v.value
                FROM quarantine.{name}_values v
                JOIN raw.{name}_files f ON f.file_hash = v._file_hash AND f.in_landing
                QUALIFY row_number() OVER (
                    PARTITION BY v.reason_code ORDER BY v._source_file, v._source_row,
                    v.column_name) <= {EXAMPLES_PER_REASON}
                ORDER BY n DESC, v.reason_code, v._source_file, v._source_row, v.column_name
                """
            ).fetchall()
            _print_examples(
                console,
                f"set aside[/yellow] {name} values (their rows loaded without them)",
                f"quarantine.{name}_values",
                values,
                codes,
            )
        if rows and (outdated := earlier_versions_counted(con, EXTRACTS[name])):
            console.print(
                f"    [yellow]{outdated:,} quarantined {name} "
                f"{'row is a later version' if outdated == 1 else 'rows are later versions'}"
                "[/yellow] of a row an earlier file gives readable: the earlier version is "
                "counted until a corrected row is loaded",
                highlight=False,
            )


def _print_checks(outcome: RefreshOutcome, console: Console) -> None:
    line = f"Checks: {outcome.checks_passed} passed, {len(outcome.failed_checks)} failed"
    if outcome.held:
        line += f", {len(outcome.held)} failed for some councils only (held)"
    if outcome.warned_checks:
        line += f", {len(outcome.warned_checks)} warnings"
    console.print(line)
    for asset, check, why in outcome.failed_checks:
        console.print(Text.assemble(("FAILED", "red"), f" {asset} · {check}: {why}"))
    for asset, check, why in outcome.warned_checks:
        console.print(Text.assemble(("WARNING", "yellow"), f" {asset} · {check}: {why}"))
    for asset, check, _, why in outcome.held:
        console.print(Text.assemble(("HELD", "yellow"), f" {asset} · {check}: {why}"))
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
            f"[yellow]Not run (an upstream gate or step failed):[/yellow] {len(outcome.not_run)} "
            f"assets in {', '.join(layers)}. Those tables keep their last good values.",
            highlight=False,
        )


def forecast_written(outcome: RefreshOutcome, con=None) -> bool:
    """Whether this refresh wrote the forecast tables, as meta.forecast_checked records it (a
    forecast that failed a blocking check was written, and its step failed after); without the
    record (`con` None, or a warehouse from before it): not when the forecast's step failed or
    an upstream failure left it unrun (the tables then hold the last forecast that ran)."""
    record = forecast_record(con) if con is not None else None
    if record is not None:
        return record[0] == outcome.run_id and record[1] != [FORECAST_BEING_WRITTEN]
    return not any(key.startswith("forecast/") for key in outcome.not_run) and not any(
        "forecast" in step for step, _ in outcome.failed_steps
    )


def _print_provisions(
    con, settings: Settings, console: Console, held: list[str], forecast_ran: bool = True
) -> None:
    """Each council's spend and caseload by provision, actual and forecast, and its balance (a
    council held by a failed gate: only that it is held)."""
    from serving.publish import served_figures
    from warehouse.councils import councils

    codes = councils(con)
    figures = served_figures(settings.serving) if held else {}
    for code in codes:
        if code in held:
            kept = (
                "serves no figures of it yet (no earlier refresh published it)"
                if figures.get(code, "none") == "none"
                else "keeps its last good figures"
            )
            console.print(
                f"[bold]Council {code}[/bold]: [yellow]held[/yellow] (a gate failed for it, see "
                f"above): not forecast, and the serving file {kept}.",
                highlight=False,
            )
            continue
        _print_council(con, settings, console, code, len(codes) > 1, forecast_ran)


def first_forecast_year_drivers(con) -> list[tuple[str, str, float]]:
    """(financial year, driver, £) of the unmitigated change in spend in the first forecast
    year, as the report's drivers chart reads it: not a year still in progress, which
    forecast.drivers also holds (a January refresh's summary named 2025-26, its report 2026-27).
    In the order the report's chart stacks them."""
    from forecast.model import DRIVERS

    return con.execute(
        "SELECT financial_year, driver, spend_change_gbp FROM forecast.drivers "
        "WHERE scenario = 'unmitigated' AND driver <> 'total' "
        "AND financial_year = (SELECT min(financial_year) FROM forecast.hnb_position "
        "WHERE scenario = 'unmitigated') ORDER BY list_position(?, driver)",
        [list(DRIVERS)],
    ).fetchall()


def _print_council(
    con, settings: Settings, console: Console, la_code: str, many: bool, forecast_ran: bool = True
) -> None:
    from warehouse.councils import CouncilConnection

    con = CouncilConnection(con, la_code)  # as if the warehouse held this council alone
    if many:
        console.print(f"[bold]Council {la_code}[/bold]")
    actual = con.execute(
        """
        WITH last_year AS (
            SELECT max(financial_year) AS fy FROM marts.fct_provision_spend WHERE is_complete_year
        ),
        last_census AS (SELECT max(census_year) AS y FROM marts.fct_ehcp_cohort)
        SELECT s.provision_type, s.financial_year, s.spend_gbp::DOUBLE,
               (SELECT sum(plans) FROM marts.fct_ehcp_cohort c, last_census
                WHERE c.census_year = last_census.y
                    AND c.provision_type = s.provision_type) AS plans,
               (SELECT y FROM last_census)
        FROM marts.fct_provision_spend s, last_year
        WHERE s.financial_year = last_year.fy
        ORDER BY s.spend_gbp DESC
        """
    ).fetchall()
    forecast: dict[tuple[str, str], tuple[float, float]] = {}
    # the forecast the tables hold: after a forecast that failed, the last good one, whose
    # horizon may not be the one the settings now ask for (its figures, labelled as its own)
    horizon = settings.horizon
    if table_exists(con, "forecast", "spend"):
        if not forecast_ran:
            # the last forecast's figures beside this refresh's actuals read as this data's
            console.print(
                "[yellow]The forecast figures below are the last forecast that ran, from the "
                "data as it was then: this refresh's forecast did not run (see above).[/yellow]",
                highlight=False,
            )
        held = con.execute("SELECT max(financial_year) FROM forecast.spend").fetchone()[0]
        if held and held != settings.horizon:
            console.print(
                f"[yellow]The forecast held reaches {held}, not the {settings.horizon} the "
                "settings ask for: it is the last forecast that ran (see above for why this "
                "refresh's did not).[/yellow]",
                highlight=False,
            )
            horizon = held
        for scenario, provision, spend, plans in con.execute(
            """
            SELECT s.scenario, s.provision_type, s.spend_gbp_central, c.plans_central
            FROM forecast.spend s
            LEFT JOIN forecast.caseload c ON c.scenario = s.scenario
                AND c.provision_type = s.provision_type
                AND c.year = CAST(left(s.financial_year, 4) AS INTEGER) + 1
            WHERE s.financial_year = ?
            """,
            [horizon],
        ).fetchall():
            forecast[(scenario, provision)] = (spend, plans)
    if not actual:
        return
    from report.data import read_data_as_at

    if (as_at := read_data_as_at(con, None)) is not None:
        console.print(f"Data as at: {as_at.sentence()}.", highlight=False)
        if stale := as_at.stale(dt.date.today()):
            console.print(f"[yellow]{stale}[/yellow]", highlight=False)
    fy, census_year = actual[0][1], actual[0][4]
    table = Table(
        title=(
            f"Spend and caseload by provision: {fy} actual and {horizon} forecast "
            "(central: mean of the paths)"
        )
    )
    for column in (
        "provision",
        f"plans Jan {census_year}",
        f"spend {fy}",
        # the January census inside the horizon's financial year, labelled as the actual one is
        f"plans Jan {census_year_of_fy(horizon)}",
        f"spend {horizon} unmitigated",
        f"spend {horizon} mitigated",
    ):
        table.add_column(column, justify="left" if column == "provision" else "right")
    # a column with no figure at all (no forecast) totals "–", not 0
    totals: list[float | None] = [None] * 5
    for provision, _, spend, plans, _ in actual:
        unmitigated = forecast.get(("unmitigated", provision), (None, None))
        mitigated = forecast.get(("mitigated", provision), (None, None))
        values = [plans, spend, unmitigated[1], unmitigated[0], mitigated[0]]
        totals = [t if v is None else (t or 0) + v for t, v in zip(totals, values, strict=False)]
        table.add_row(provision, *(_fmt(v, money=i in (1, 3, 4)) for i, v in enumerate(values)))
    table.add_row(
        "total", *(_fmt(v, money=i in (1, 3, 4)) for i, v in enumerate(totals)), style="bold"
    )
    console.print(table)
    if table_exists(con, "forecast", "hnb_position"):
        for scenario, balance, low, high in con.execute(
            "SELECT scenario, cumulative_balance_gbp_central, cumulative_balance_gbp_p10, "
            "cumulative_balance_gbp_p90 "
            "FROM forecast.hnb_position WHERE financial_year = ? ORDER BY scenario DESC",
            [horizon],
        ).fetchall():
            console.print(
                f"Cumulative high needs balance at end of {horizon}, {scenario}: "
                f"{money_m(balance)} (p10–p90 {money_m(low)} to {money_m(high)})"
            )
        if table_exists(con, "forecast", "mitigations"):
            # what the mitigated balance leaves out or may count twice, said beside it
            from forecast.mitigations import balance_caveats

            effects = con.execute("SELECT * FROM forecast.mitigations").df()
            for sentence in balance_caveats(effects, horizon):
                console.print(sentence, highlight=False)
        # the balance hangs on these: say them beside it
        import math

        assumed = (
            {
                assumption: (value, source)
                for assumption, value, source in con.execute(
                    "SELECT assumption, value, source FROM forecast.assumptions "
                    "WHERE assumption IN ('funding_growth', 'unit_cost_inflation')"
                ).fetchall()
            }
            if table_exists(con, "forecast", "sensitivity")
            else {}
        )
        if assumed:
            growth, source = assumed.get("funding_growth", (None, ""))
            if growth is None or math.isnan(growth):
                said = "at its recent growth"
            elif source.startswith("recent growth"):
                said = f"at its recent growth, {growth:+.1%} a year"
            else:
                said = f"{growth:+.1%} a year"
            console.print(
                f"Assumed: funding after the budget file {said}"
                + f", unit-cost inflation {assumed['unit_cost_inflation'][0]:.1%} a year (sources: "
                "forecast.assumptions, the report's first page)",
                highlight=False,
            )
            _print_grown_in_progress_funding(con, console)
    if table_exists(con, "forecast", "assumptions"):
        from forecast.councils import NOT_POOLED

        unpooled = con.execute(
            "SELECT DISTINCT source FROM forecast.assumptions "
            "WHERE assumption = 'joiners_trend' AND contains(source, ?)",
            [NOT_POOLED],
        ).fetchall()
        for (source,) in unpooled:
            console.print(
                "The caseload's new plans follow the council's own trend, "
                + source[source.index(NOT_POOLED) :]
                + " (forecast.assumptions)",
                highlight=False,
            )
    if table_exists(con, "forecast", "backtest"):
        from forecast.backtest import verdict

        scored = verdict(con.execute("SELECT * FROM forecast.backtest").df())
        if scored is not None:
            console.print(scored.sentence() + " (forecast.backtest)", highlight=False)
    if table_exists(con, "forecast", "drivers"):
        rows = first_forecast_year_drivers(con)
        if rows:
            console.print(
                f"What drives the change in spend in {rows[0][0]} (unmitigated): "
                + ", ".join(
                    f"{driver.replace('_', ' ')} {money_m(value)}" for _, driver, value in rows
                ),
                highlight=False,
            )


def _print_publication(settings: Settings, outcome: RefreshOutcome, console: Console) -> None:
    if outcome.published:
        parquet = outcome.published.get("parquet", "off")  # the version's folder, or "off"
        also = (
            ""
            if parquet == "off"
            else f" and as Parquet to {Path(parquet).parent / 'current'}/ (-> {Path(parquet).name})"
        )
        console.print(
            f"Published to serving: {settings.serving} (version "
            f"{outcome.published['version_id']}){also}; BI sees it on its next connection.",
            highlight=False,
        )
        dropped = outcome.published.get("no_longer_served", "none")
        codes = [c.strip() for c in dropped.split(",")] if dropped and dropped != "none" else []
        if UNKNOWN_LA_CODE in codes:
            # its files were given a code since (HIGHNEEDS_LA_CODE, a SEN2 return's header):
            # relabelled, not gone ("put a council's folder back" was the wrong advice)
            codes.remove(UNKNOWN_LA_CODE)
            console.print(
                f"Relabelled: the figures the last version served as council {UNKNOWN_LA_CODE} "
                "(files with no council code) are served under the code their files carry now.",
                highlight=False,
            )
        if codes:
            console.print(
                f"[yellow]No longer served:[/yellow] council(s) {', '.join(codes)}, served by the "
                "last version, have no files in the landing folder now (put a council's folder "
                "back to serve it again).",
                highlight=False,
            )
        return
    from serving.publish import read_publication

    kept = read_publication(settings.serving)
    where = (
        f"{settings.serving} keeps version {kept['version_id']} (published "
        f"{kept['published_at_utc']:%Y-%m-%d %H:%M} UTC)"
        if kept
        else f"there is no serving file yet ({settings.serving})"
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


def _print_report_council(settings: Settings, asked: str | None, console: Console) -> str | None:
    """The report is of the council asked for (HIGHNEEDS_LA_CODE, else the SEN2 return's) when the
    warehouse holds it, else of its first council: say so when it moved (the asked council's
    folder removed or misnamed), or a finance officer reads another council's report as theirs.
    Returns the council drawn (None without a warehouse)."""
    from warehouse.councils import chosen_council

    if not settings.warehouse.exists():
        return None
    with settings.connect_warehouse(read_only=True) as con:
        drawn = chosen_council(con, asked)
    if asked and drawn is not None and drawn != asked:
        console.print(
            f"[yellow]The report is of council {drawn}, not {asked} (HIGHNEEDS_LA_CODE, or the "
            f"SEN2 return's council): the warehouse holds no figures of {asked}. Put its files "
            "in the landing folder, or set HIGHNEEDS_LA_CODE to a council it holds.[/yellow]",
            highlight=False,
        )
    return drawn


def _print_no_report_held(settings: Settings, asked: str | None, console: Console) -> None:
    from warehouse.councils import chosen_council

    with settings.connect_warehouse(read_only=True) as con:
        drawn = chosen_council(con, asked)
    console.print(
        f"[yellow]No report: its council ({drawn or asked or 'the first'}, HIGHNEEDS_LA_CODE "
        "or else the warehouse's first) was held by a gate this refresh, and no earlier refresh "
        "drew its report. `highneeds report --la CODE` draws another council's from this "
        "refresh.[/yellow]",
        highlight=False,
    )


def print_report_location(settings: Settings, console: Console, run_id: str | None = None) -> None:
    """Where the report is; with `run_id` (this refresh's), whether it is one this refresh kept
    from an earlier one rather than drew (its council held by a gate)."""
    from report.folder import installed_council, installed_run

    from ..settings import load_report_settings

    report = load_report_settings(settings)
    internal = report.out_dir / "internal" / "report.html"
    publication = report.out_dir / "publication" / "report.html"
    if not internal.exists():
        if run_id:
            # a refresh that held the report's council, which no refresh had drawn: silent, the
            # councils it did publish looked reported
            _print_no_report_held(settings, report.la_code, console)
        return
    console.print(
        f"Report: {internal} (internal), {publication} (for publication); "
        f"workbook and charts beside each",
        highlight=False,
    )
    asked = _print_report_council(settings, report.la_code, console)
    built_by = installed_run(report.out_dir)
    if run_id and built_by and built_by != run_id:
        # its council was held: every figure in it, the other councils' included, is that run's
        kept = installed_council(report.out_dir)
        if kept and asked and kept != asked:
            # a report of another council, kept from before the council asked for came (or was
            # asked for): read as the held council's last good report, it was not
            whose = (
                f"it is council {kept}'s, not {asked}'s: council {asked} (HIGHNEEDS_LA_CODE, "
                "else the warehouse's first) was held by a gate this refresh and the report "
                f"folder holds no report of it, so council {kept}'s was not redrawn either"
            )
        else:
            whose = "its council was held by a gate this refresh, so it was not redrawn"
        console.print(
            f"[yellow]The report is the last good one, from refresh run {built_by}: {whose}, "
            "and every figure in it is that run's (the other councils' too). `highneeds report "
            "--la CODE --out DIR` draws another council's from this refresh, into a folder of "
            "its own.[/yellow]",
            highlight=False,
        )
    from forecast.published_extract import SHIPPED, has_published_files

    if not report.la_code:
        return
    if not has_published_files(report.published):
        console.print(
            f"[dim]Benchmarks: no DfE published files in {report.published} (HIGHNEEDS_PUBLISHED): "
            "put the EHCP release's caseload.csv and newplans.csv and the DSG allocations there, "
            "or unset it to use the copy shipped with highneeds, "
            "then run `highneeds report`.[/dim]",
            highlight=False,
        )
    elif report.published == SHIPPED:
        console.print(
            "[dim]Benchmarks: from the DfE's published figures shipped with highneeds "
            f"({SHIPPED}); `highneeds fetch-published` refreshes them from the DfE's "
            "statistics service.[/dim]",
            highlight=False,
        )
