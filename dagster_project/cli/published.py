"""The commands on the DfE's published data: `highneeds fetch-published` (refresh the copy
shipped with highneeds), `forecast-la` (aggregate mode) and `backtest`."""

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..settings import load_settings

PUBLISHED_HELP = (
    "folder with the DfE's published files (default: HIGHNEEDS_PUBLISHED, else <landing>/reference "
    "when it holds them, else the copy shipped with highneeds)"
)


def _published_folder(args: argparse.Namespace) -> Path:
    from ..settings import published_folder

    return Path(args.published) if args.published else published_folder(load_settings())


def _say_releases_missing(folder: Path, console: Console) -> None:
    from forecast.published import releases_missing

    for sentence in releases_missing(folder):
        console.print(sentence, style="yellow", highlight=False)


def _say_england_disagrees(councils: dict, console: Console) -> None:
    from forecast.published import england_disagrees

    for sentence in england_disagrees(councils):
        console.print(sentence, style="yellow", highlight=False)


def cmd_fetch_published(args: argparse.Namespace, console: Console) -> int:
    """Refresh the DfE published data the benchmarks and aggregate mode read: from the DfE's
    statistics service, or (`--from`) from a folder of the DfE's full files."""
    from forecast import published_extract as extract

    out = Path(args.out).resolve() if args.out else extract.SHIPPED
    try:
        written = (
            extract.build_extract(Path(args.source), out)
            if args.source
            else extract.fetch_extract(out)
        )
    # URLError is an OSError: offline
    except (extract.ExtractError, OSError, KeyError, ValueError) as error:
        console.print(
            Text(f"DfE published data not refreshed ({out} unchanged): {error}", style="red")
        )
        return 2
    console.print(
        f"DfE published data written to {out}: {extract.describe(written)}", highlight=False
    )
    return 0


def cmd_forecast_la(args: argparse.Namespace, console: Console) -> int:
    """Aggregate mode: forecast one council, or every council
    (`--la all`), from the DfE's published counts."""
    from forecast.aggregate import AggregateInputError, forecast_councils
    from forecast.published import NATIONAL, find_council, load_published
    from forecast.years import census_year_of_fy, fy_label, fy_start

    try:
        if fy_start(args.horizon) > LAST_HORIZON:
            raise ValueError(
                f"--horizon {args.horizon} is beyond {fy_label(LAST_HORIZON)}: a forecast "
                "from published counts says nothing that far ahead"
            )
        folder = _published_folder(args)
        councils = load_published(folder)
        _say_releases_missing(folder, console)
        _say_england_disagrees(councils, console)
        chosen = (
            None if args.la.strip().lower() == "all" else [find_council(councils, args.la).code]
        )
        if chosen is not None:
            _refuse_a_council_gone(councils, chosen[0])
        # every council is fitted together (each learns from the others), whichever are written out
        table = forecast_councils(
            councils, census_year_of_fy(args.horizon), chosen, simulations=args.simulations
        )
    except (FileNotFoundError, KeyError, AggregateInputError, ValueError) as error:
        message = error.args[0] if isinstance(error, KeyError) else error  # without its quotes
        console.print(Text(str(message), style="red"))
        return 2
    if args.out:
        table.to_csv(args.out, index=False)
    imputed = {
        code: council.imputed_mix
        for code, council in councils.items()
        if council.imputed_mix and (chosen is None or code in chosen)
    }
    for code, years in imputed.items():
        console.print(
            f"{councils[code].name} ({code}): January {', '.join(map(str, years))} published a "
            "total but no setting: its provision mix there is the nearest published year's",
            style="yellow",
            highlight=False,
        )
    for code in sorted(set(table["la_code"])):
        for year, columns in councils[code].withheld_settings:
            console.print(
                f"{councils[code].name} ({code}): January {year} marked "
                f"{', '.join(columns)} (a count most councils published) beside its total: "
                "those plans are shared out as its latest earlier year that published them "
                "had them (the national mix that year where none did), not counted as `other`",
                style="yellow",
                highlight=False,
            )
    for line in [
        *_gaps(councils, set(table["la_code"])),
        *_sudden_changes(councils, set(table["la_code"])),
    ]:
        console.print(line, style="yellow", highlight=False)
    if chosen is None:
        # a council left out is named: a CSV of every council but one reads as complete
        for code in sorted(set(councils) - {NATIONAL} - set(table["la_code"])):
            console.print(
                f"not forecast: {_why_not_forecast(councils, code)}",
                style="yellow",
                highlight=False,
            )
        console.print(
            f"{table['la_code'].nunique()} councils forecast to January {table['year'].max()}"
            + (
                f"; every provision type and the total written to {args.out}"
                if args.out
                else " (use --out FILE for the CSV)"
            ),
            highlight=False,
        )
        return 0
    council = councils[chosen[0]]
    shown = table[table["provision_type"] == "total"]
    history = council.caseload.sum(axis=1).astype(int)
    console.print(
        f"{council.name} ({council.code}): published caseload "
        + ", ".join(f"{year}: {value:,}" for year, value in history.tail(4).items()),
        highlight=False,
    )
    result = Table(
        title=f"{council.name}: EHC plans forecast from published counts (January census)"
    )
    for column in ("year", "central", "p10", "p50", "p90"):
        result.add_column(column, justify="right")
    for row in shown.itertuples():
        result.add_row(
            str(row.year),
            f"{row.plans_central:,.0f}",
            f"{row.plans_p10:,.0f}",
            f"{row.plans_p50:,.0f}",
            f"{row.plans_p90:,.0f}",
        )
    console.print(result)
    if args.out:
        console.print(f"All provision types written to {args.out}")
    return 0


def _refuse_a_council_gone(councils: dict, code: str) -> None:
    """A council with no caseload in the latest census (reorganised: Cumbria, Northamptonshire,
    Bournemouth and Poole …) has nothing to forecast from: say so, naming its successors,
    rather than write an empty CSV; nor has England (its own row: the councils' total), nor a
    council whose latest published total is no plans."""
    from forecast.published import NATIONAL

    if code == NATIONAL:
        raise KeyError(
            "England is the total of the councils, not a council: forecast every council with "
            "--la all (the CSV's totals add up to England's)"
        )
    latest = max(int(c.caseload.index.max()) for c in councils.values())
    if int(councils[code].caseload.index.max()) < latest:
        raise KeyError(_why_not_forecast(councils, code))
    total = float(councils[code].caseload.loc[latest].sum())
    if not total > 0:
        raise KeyError(
            f"{councils[code].name} ({code}): its published caseload for January {latest} is "
            f"{total:,.0f} plans: no caseload to grow"
        )


# the furthest year aggregate mode forecasts to: past it the paths of every council outgrow the
# machine's memory long before they say anything (2100 ran; 9999 asked for 103 GiB)
LAST_HORIZON = 2050


# words a council's name shares with others without making them the same place
_COMMON_NAME_WORDS = {"and", "of", "the", "city", "county", "council", "borough", "upon", "on"}


# a latest census at which a council's total doubled or more, or fell by half or more: rare
# in the published series (a recording change or a data error can look like it); the forecast
# carries part of it on (councils' excess growth persists in part), so it is named
SUDDEN_CHANGE = 2.0


def _sudden_changes(councils: dict, forecast: set[str]) -> list[str]:
    """A sentence for each forecast council whose total changed by SUDDEN_CHANGE or more between
    its last two censuses, with how rare such a year is in the files."""
    import pandas as pd

    from forecast.published import NATIONAL

    totals_of = {code: c.caseload.sum(axis=1).sort_index() for code, c in councils.items()}
    ratios = {}  # code → each census's total over the census before's
    for code, totals in totals_of.items():
        years = totals.index.to_series()
        consecutive = (years.diff() == 1) & (totals.shift() > 0) & (totals > 0)
        ratios[code] = (totals / totals.shift())[consecutive]
    changes = [r for code, r in ratios.items() if code != NATIONAL and len(r)]
    if not changes:
        return []
    every = pd.concat(changes)
    sudden = ((every >= SUDDEN_CHANGE) | (every <= 1 / SUDDEN_CHANGE)).sum()
    said = []
    for code in sorted(forecast):
        totals, last = totals_of[code], ratios[code]
        if last.empty or last.index[-1] != totals.index[-1]:
            continue
        if max(last.iloc[-1], 1 / last.iloc[-1]) >= SUDDEN_CHANGE:
            said.append(
                f"{councils[code].name} ({code}): its published total went from "
                f"{totals.iloc[-2]:,.0f} plans in January {totals.index[-2]} to "
                f"{totals.iloc[-1]:,.0f} in January {totals.index[-1]} (the files' "
                f"{len(every):,} yearly changes of a council's total include {sudden} that large): "
                "check the published figure before using its forecast, which carries part of "
                "the change on"
            )
    return said


def _gaps(councils: dict, forecast: set[str]) -> list[str]:
    """A sentence for each forecast council with a census missing between its first and last
    published totals (a row left out, or its total marked x, c or :): the model reads the years
    about it as growing as England did, and the forecast moved (St Helens' 2026 by 3 %) with
    nothing said."""
    said = []
    for code in sorted(forecast):
        years = [int(y) for y in councils[code].caseload.index]
        missing = sorted(set(range(min(years), max(years) + 1)) - set(years)) if years else []
        if missing:
            said.append(
                f"{councils[code].name} ({code}): no published total for January "
                f"{', '.join(map(str, missing))}, between {min(years)} and {max(years)}: its "
                "growth about that census counts as England's (check the published file: a row "
                "left out, or the total marked x, c or :)"
            )
    return said


def _why_not_forecast(councils: dict, code: str) -> str:
    """Why `code` has no forecast: its total since its last census listed but not published;
    else no row after it (reorganised: the councils of its region first published after it,
    those whose name shares a word with its own first); else its published history gives none."""
    latest = max(int(c.caseload.index.max()) for c in councils.values())
    council = councils[code]
    last = int(council.caseload.index.max())
    if last >= latest:
        total = float(council.caseload.loc[last].sum())
        if not total > 0:
            return f"{council.name} ({code}): its published caseload for January {last} is 0 plans"
        return f"{council.name} ({code}): its published history gives no forecast"
    said = (
        f"{council.name} ({code}) published no caseload after January {last} (the latest census "
        f"is January {latest}): "
    )
    hidden = [year for year in council.total_not_published if year > last]
    if hidden:
        # listed with its total x, c or z: the council is there, its figure is not (a council
        # of its region first published since is no successor of it)
        return said + (
            f"its total for January {', '.join(map(str, hidden))} is not published (x, c or z in "
            "caseload.csv)"
        )
    new = [
        other
        for other in councils.values()
        if other.region == council.region and int(other.caseload.index.min()) > last
    ]
    words = set(council.name.lower().replace(",", " ").split()) - _COMMON_NAME_WORDS
    named = [o for o in new if words & set(o.name.lower().replace(",", " ").split())]
    listed = lambda found: ", ".join(f"{o.code} {o.name}" for o in found)  # noqa: E731
    successors = listed(named or new)
    others = [o for o in new if named and o not in named]
    also = f" (also first published in its region then: {listed(others)})" if others else ""
    return said + (
        f"it was reorganised; forecast its successors: {successors}{also}"
        if new
        else "caseload.csv has no row for it since: it was reorganised, or left out of the file"
    )


def _backtest_unit_costs(
    args: argparse.Namespace, folder: Path
) -> tuple[dict[str, float] | None, str]:
    """The money-weighted rows' unit costs and a sentence saying where they come from: the
    --unit-costs file, else the national averages of the DfE's high needs benchmarking workbook
    when the published folder holds it, else none."""
    from forecast.backtest import read_unit_costs
    from forecast.national_costs import described, find_workbook, national_unit_costs, weights

    if args.unit_costs:
        return read_unit_costs(Path(args.unit_costs)), f"unit costs from {args.unit_costs}"
    workbook = find_workbook(folder)
    if workbook is None:
        return None, ""
    costs = national_unit_costs(workbook)
    return weights(costs), described(costs)


def cmd_backtest(args: argparse.Namespace, console: Console) -> int:
    """Rolling-origin backtest of aggregate mode across every council in the published data."""
    from forecast.aggregate import MODEL, AggregateInputError, backtest_all
    from forecast.backtest_report import backtest_markdown, splice_readme
    from forecast.published import load_published

    try:
        folder = _published_folder(args)
        councils = load_published(folder)
        _say_releases_missing(folder, console)
        _say_england_disagrees(councils, console)
        unit_costs, weighted_by = _backtest_unit_costs(args, folder)
        started = time.monotonic()
        summary, records = backtest_all(
            councils, simulations=args.simulations, unit_costs=unit_costs
        )
    except (FileNotFoundError, AggregateInputError, ValueError) as error:
        console.print(f"[red]{error}[/red]")
        return 2
    if records.empty:
        console.print(
            "[red]No origin with earlier outcomes to learn from and later ones to score: "
            "the published files need at least five January censuses.[/red]"
        )
        return 2
    text = backtest_markdown(summary, MODEL, records["unit"].nunique(), weighted_by)
    console.print(text + f"\n\n({time.monotonic() - started:.0f} s)", markup=False, highlight=False)
    if args.out:
        summary.to_csv(args.out, index=False)
    if args.readme:
        readme = Path(args.readme)
        try:
            readme.write_text(
                splice_readme(readme.read_text(encoding="utf-8"), text), encoding="utf-8"
            )
        except (OSError, ValueError) as error:
            console.print(f"[red]{readme}: {error}[/red]")
            return 2
        console.print(f"Backtest tables written into {readme}")
    return 0
