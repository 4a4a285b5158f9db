"""Build the report from a warehouse connection: read, chart, tabulate, write both audiences.

    <out_dir>/internal/report.html, workbook.xlsx, charts/*.png     every count as it is
    <out_dir>/publication/report.html, workbook.xlsx, charts/*.png  small counts suppressed

The report is built beside the old one, in `<out_dir>/.next-<run id>/`, and swapped in whole
(report.folder), so a reader never sees half a report; a refresh leaves it staged for
its publish to swap in together with the serving file.

With `reuse_unchanged` (the refresh's asset), a report whose inputs — the tables it reads, the
published files, the options and the report's own code — are unchanged since the last build is
kept as it is rather than drawn again (a nightly run with no new data): only its record, naming
the new run, is staged.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from ingest.load import UNKNOWN_LA_CODE
from warehouse.councils import chosen_council

from . import requests, tables
from .benchmarks import Benchmarks, BenchmarkUnavailable, benchmark, load_published_data
from .charts import Chart, build_benchmark_charts, build_charts
from .data import (
    OPTIONAL,
    REQUIRED,
    ReportData,
    carried_years,
    long_date,
    read_data_as_at,
    read_report_data,
    spend_published,
)
from .folder import AUDIENCES, LAST_BUILD, install_report, staged_report_dir
from .html import Section, render
from .style import pounds
from .workbook import write_workbook

HEADLINE = "01_funding_spend_balance"


@dataclass
class ReportOptions:
    out_dir: Path
    council: str | None = None  # old 3-digit LA code (or name) in the published data
    council_name: str | None = None  # the name in the headings (else the published data's)
    published: Path | None = None  # folder with the DfE files for the benchmarks
    neighbours: list[str] | None = None  # old LA codes to compare with instead of the computed ones
    threshold: int = 5  # suppression threshold for the publication version
    run_id: str | None = None  # the refresh run the report follows, when known
    reuse_unchanged: bool = False  # keep the last build when its inputs have not changed
    # each council's figures in the serving file (serving.publish.served_figures) as the report
    # is built, before this refresh publishes: whether a held council has last good figures
    served: dict[str, str] | None = None


@dataclass
class ReportOutput:
    audience: str
    folder: Path
    html: Path
    workbook: Path
    charts: dict[str, Path]
    readings: dict[str, str]


@dataclass
class Report:
    outputs: dict[str, ReportOutput]
    headline_png: bytes  # the funding and balance chart, small, for the Dagster UI
    headline_reading: str
    benchmarks: Benchmarks | None
    benchmarks_note: str  # why benchmarks are missing, when they are
    charts: dict[str, list[Chart]] = field(
        default_factory=dict
    )  # audience → charts (empty when reused)
    benchmark_summary: list[dict] = field(
        default_factory=list
    )  # one row per indicator, for the Dagster UI
    reused: bool = False  # True when the last build's inputs were unchanged and it was kept


def inputs_fingerprint(con: duckdb.DuckDBPyConnection, options: ReportOptions) -> str:
    """SHA-256 over everything a report is made from: each table's rows (order-free), the options,
    the published files (names, sizes, modification times) and the report's own code."""
    digest = hashlib.sha256()
    for schema, name in [*REQUIRED, *OPTIONAL, ("marts", "fct_ehcp_requests")]:
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name "
            "= ?",
            [schema, name],
        ).fetchone()[0]
        if exists:
            digest.update(
                repr(
                    con.execute(
                        f"SELECT count(*), bit_xor(hash(t)) FROM {schema}.{name} AS t"
                    ).fetchone()
                ).encode()
            )
    digest.update(
        repr(
            (
                options.council,
                options.council_name,
                options.neighbours,
                options.threshold,
                str(options.published),
                sorted((options.served or {}).items()),
            )
        ).encode()
    )
    if options.published is not None and options.published.is_dir():
        for path in sorted(p for p in options.published.rglob("*") if p.is_file()):
            stat = path.stat()
            digest.update(
                f"{path.relative_to(options.published)}|{stat.st_size}|{stat.st_mtime_ns}".encode()
            )
    for source in sorted(Path(__file__).parent.rglob("*")):
        if source.suffix in (".py", ".j2"):
            digest.update(source.read_bytes())
    # a feed that stopped leaves every table as it was: its warning (which counts the days to
    # today) is an input too, or the report drawn while the data was fresh would be kept
    as_at = read_data_as_at(con, chosen_council(con, options.council))
    digest.update(repr(as_at.stale(dt.date.today()) if as_at else None).encode())
    return digest.hexdigest()


def _reusable(options: ReportOptions, fingerprint: str) -> Report | None:
    record = options.out_dir / LAST_BUILD
    if not options.reuse_unchanged or not record.exists():
        return None
    last = json.loads(record.read_text())
    folders = {audience: options.out_dir / audience for audience in AUDIENCES}
    if last.get("fingerprint") != fingerprint or not all(
        (f / "report.html").exists() for f in folders.values()
    ):
        return None
    outputs = {
        audience: ReportOutput(
            audience,
            folder,
            folder / "report.html",
            folder / "workbook.xlsx",
            {key: folder / "charts" / f"{key}.png" for key in last["readings"][audience]},
            last["readings"][audience],
        )
        for audience, folder in folders.items()
    }
    return Report(
        outputs,
        base64.b64decode(last["headline_png"]),
        last["headline_reading"],
        None,
        last["benchmarks_note"],
        benchmark_summary=last["benchmark_summary"],
        reused=True,
    )


def build_report(
    con: duckdb.DuckDBPyConnection, options: ReportOptions, *, swap_in: bool = True
) -> Report:
    """Build the report into its staging folder and swap it in; with `swap_in=False` leave it
    staged for `install_report` (the refresh's publish swaps it in with the serving file)."""
    fingerprint = inputs_fingerprint(con, options)
    staging = staged_report_dir(options.out_dir, options.run_id)
    shutil.rmtree(staging, ignore_errors=True)
    report = _reusable(options, fingerprint) or _draw(con, options, staging)
    staging.mkdir(parents=True, exist_ok=True)
    # written last: a staging folder without it is a build that did not finish
    (staging / LAST_BUILD).write_text(
        json.dumps(
            {
                "fingerprint": fingerprint,
                "run_id": options.run_id,
                # whose report it is: a refresh that holds the council asked for keeps this one
                "la_code": chosen_council(con, options.council),
                "headline_png": base64.b64encode(report.headline_png).decode("ascii"),
                "headline_reading": report.headline_reading,
                "readings": {
                    audience: output.readings for audience, output in report.outputs.items()
                },
                "benchmarks_note": report.benchmarks_note,
                "benchmark_summary": report.benchmark_summary,
            }
        )
    )
    if swap_in:
        install_report(options.out_dir, options.run_id)
    return report


def _draw(con: duckdb.DuckDBPyConnection, options: ReportOptions, staging: Path) -> Report:
    # with many councils in the warehouse, the report is of one of them (ReportOptions.council,
    # else the first): benchmarked, and named, as the council whose figures it shows, never as
    # one the warehouse does not hold (HIGHNEEDS_COUNCIL_NAME is the configured council's name)
    la_code = chosen_council(con, options.council)
    if la_code not in (None, UNKNOWN_LA_CODE) and la_code != options.council:
        # the configured council's name and statistical neighbours are not this council's
        options = dataclasses.replace(options, council=la_code, council_name=None, neighbours=None)
    data = read_report_data(con, la_code, options.served)
    bench, note = _benchmarks(options)
    own_requests = requests.read_own(con, la_code)  # None without a SEN2 return
    published_requests = requests.read_published(options.published)
    similar = [] if bench is None else list(bench.neighbours["code"])
    bench_charts = build_benchmark_charts(bench) if bench is not None else []
    bench_png = {chart.key: chart.png() for chart in bench_charts}
    outputs, built, headline = {}, {}, (b"", "")
    pngs: dict[int, bytes] = {}  # id(chart) → png: a chart shared by both audiences is drawn once
    charts: list[Chart] | None = None
    for audience in AUDIENCES:
        threshold = options.threshold if audience == "publication" else None
        unsuppressed = {chart.key: chart for chart in charts or []}  # the internal version's
        charts = build_charts(data, threshold, reuse=charts)
        for chart in charts:
            if id(chart) not in pngs:
                pngs[id(chart)] = chart.png()
        pngs_by_key = {chart.key: pngs[id(chart)] for chart in charts} | bench_png
        if audience == "publication":
            headline_chart = next(c for c in charts if c.key == HEADLINE)
            headline = (headline_chart.png(dpi=72), headline_chart.reading)
        all_charts = charts + bench_charts
        folder = staging / audience
        chart_paths = {}
        for chart in all_charts:
            path = folder / "charts" / f"{chart.key}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(pngs_by_key[chart.key])
            chart_paths[chart.key] = path
        title, subtitle, about = _titles(data, bench, options, audience, threshold)
        plan = tables.dsg_plan_tables(data, threshold)
        detail = tables.detail_tables(data, threshold)
        bench_tables = tables.benchmark_tables(bench) if bench is not None else []
        if (
            bench is not None
            and (reconciled := tables.reconciliation(data, bench, threshold)) is not None
        ):
            bench_tables.append(reconciled)
        request_table = requests.requests_table(
            own_requests, published_requests, options.council, similar, threshold
        )
        request_tables = [] if request_table is None else [request_table]
        sheets = {
            **plan,
            **({"Benchmarks": bench_tables} if bench_tables else {}),
            **({"Requests and timeliness": request_tables} if request_tables else {}),
            **detail,
            "Chart data": [
                _chart_table(chart, unsuppressed.get(chart.key)) for chart in all_charts
            ],
        }
        write_workbook(folder / "workbook.xlsx", sheets, title, about, data=data, bench=bench)
        sections = _sections(
            data,
            charts,
            bench_charts,
            pngs_by_key,
            plan,
            detail,
            bench_tables,
            note,
            request_tables,
            threshold,
        )
        render(
            folder / "report.html",
            title,
            subtitle,
            sections,
            about,
            data.labels,
            audience == "publication",
            threshold,
        )
        built[audience] = all_charts
        outputs[audience] = ReportOutput(
            audience,
            options.out_dir / audience,
            options.out_dir / audience / "report.html",
            options.out_dir / audience / "workbook.xlsx",
            {k: options.out_dir / audience / "charts" / p.name for k, p in chart_paths.items()},
            {chart.key: chart.reading for chart in all_charts},
        )
    summary = (
        []
        if bench is None
        else [
            {
                "indicator": r.label,
                "period": r.period,
                "council": r.council,
                "england": r.england,
                "rank": None if r.rank != r.rank or r.rank is None else int(r.rank),
                "of": int(r.councils_ranked),
            }
            for r in bench.table.itertuples()
        ]
    )
    return Report(outputs, headline[0], headline[1], bench, note, built, summary)


def _benchmarks(options: ReportOptions) -> tuple[Benchmarks | None, str]:
    if not options.council:
        return None, (
            "Set HIGHNEEDS_LA_CODE to the council's old three-digit LA code (e.g. 869 for West "
            "Berkshire) "
            "to compare it with England, its region and similar councils."
        )
    if options.published is None:
        return None, "No folder of published DfE files was given (HIGHNEEDS_PUBLISHED)."
    try:
        data = load_published_data(options.published)
        found = benchmark(data, options.council, options.neighbours)
        # the council as it names itself (HIGHNEEDS_COUNCIL_NAME), in every heading and chart
        if options.council_name:
            found = dataclasses.replace(found, name=options.council_name)
        return found, ""
    except BenchmarkUnavailable as error:
        return None, f"Benchmarks not built: {error}."


def _titles(
    data: ReportData,
    bench: Benchmarks | None,
    options: ReportOptions,
    audience: str,
    threshold: int | None,
) -> tuple[str, str, list[tuple[str, str]]]:
    name = bench.name if bench else options.council_name
    code = bench.code if bench else options.council
    council = (
        (f"{name} ({code})" if code else name)
        if name
        else (f"council {code}" if code else "the council")
    )
    title = f"High needs block diagnostic: {council}"
    built_at = dt.datetime.now().astimezone().strftime("%d %B %Y %H:%M %Z")
    run = options.run_id or (data.checks["run_id"].iloc[0] if len(data.checks) else "unknown")
    years = data.complete_years
    subtitle = (
        f"Actual {years[0]} to {years[-1]}, forecast to {data.horizon} (unmitigated and "
        "mitigated). "
        + (f"Data as at {long_date(data.as_at.as_at)}. " if data.as_at else "")
        + f"Built {built_at} from refresh run {run}."
    )
    # a ledger starting part-way through a year: that year's spend is part of a year's, left
    # out of the money tables with nothing said while the caseload tables held its census
    part = sorted(
        year
        for year in data.position.loc[~data.position["is_complete_year"], "financial_year"]
        if years and year < years[0]
    )
    if part:
        subtitle += (
            f" The ledger starts part-way through {part[0]}: "
            + ("that year is" if len(part) == 1 else f"{', '.join(part)} are")
            + " not a whole year's spend, left out of the money tables and the balance (the "
            "caseload tables count its census)."
        )
    if data.as_at and (stale := data.as_at.stale(dt.date.today())):
        subtitle += " " + stale
    about = [
        ("Council", council),
        (
            "Audience",
            f"publication: counts of children below {threshold} suppressed"
            if audience == "publication"
            else "internal (unsuppressed)",
        ),
        ("Built", built_at),
        *([("Data as at", data.as_at.sentence())] if data.as_at else []),
        ("Refresh run", str(run)),
        (
            "Years",
            (
                "financial years April–March; caseload at the January census inside each year; "
                "actual "
                f"{years[0]} to {years[-1]}, "
                + (
                    f"{', '.join(carried.index)} estimated (not complete in the ledger), "
                    if len(carried := carried_years(data))
                    else ""
                )
                + f"forecast {data.forecast_years[0]} to {data.horizon}"
            ),
        ),
        (
            "Sources",
            "the warehouse's marts (marts.fct_*), forecast tables (forecast.*) and check results "
            "(meta.check_results)"
            + (f"; published DfE files: {', '.join(bench.files)}" if bench else ""),
        ),
        (
            "Units",
            "money in £, cash (each year's own prices; forecast years at the inflation assumed), "
            "charts and HTML tables in £m; counts in EHC plans or children",
        ),
    ]
    return title, subtitle, about


def _chart_table(chart: Chart, unsuppressed: Chart | None = None) -> tables.Table:
    """A chart's numbers as a workbook table. `unsuppressed`: the same chart drawn without
    suppression (the internal version's); a number it has that this chart lacks was suppressed,
    and is written `c` as in every other table, not left blank like a number that does not exist."""
    frame = chart.data.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    table = tables.Table(
        f"chart_{chart.key}", f"{chart.title}: the numbers plotted", frame, "mixed", chart.reading
    )
    if unsuppressed is not None and unsuppressed is not chart:
        table.suppressed = _hidden(frame, unsuppressed.data.reset_index(drop=True))
    return table


def _hidden(frame: pd.DataFrame, unsuppressed: pd.DataFrame) -> pd.DataFrame | None:
    """True where `frame` lacks a number `unsuppressed` (the same chart drawn without
    suppression) has. Rows are matched on the columns that are not decimals (labels, years,
    flags), whatever their order; only the columns both have are compared. None when the rows
    cannot be matched one to one, or a number both show differs (not the same chart)."""
    unsuppressed = unsuppressed.set_axis([str(c) for c in unsuppressed.columns], axis=1)
    shared = [c for c in frame.columns if c in unsuppressed.columns]

    def decimal(column: str) -> bool:
        return pd.api.types.is_float_dtype(frame[column]) or pd.api.types.is_float_dtype(
            unsuppressed[column]
        )

    values = [c for c in shared if decimal(c)]
    keys = [c for c in shared if c not in values]
    if not values or not keys or len(frame) != len(unsuppressed):
        return None
    if frame.duplicated(keys).any() or unsuppressed.duplicated(keys).any():
        return None
    matched = frame[keys].merge(unsuppressed[keys + values], on=keys, how="left", indicator=True)
    if (matched["_merge"] != "both").any():
        return None
    hidden = pd.DataFrame(False, index=frame.index, columns=frame.columns)
    for column in values:
        shown, full = frame[column].to_numpy(dtype=float), matched[column].to_numpy(dtype=float)
        both = ~np.isnan(shown) & ~np.isnan(full)
        if not np.allclose(shown[both], full[both]):
            return None
        hidden[column] = np.isnan(shown) & ~np.isnan(full)
    return hidden if hidden.to_numpy().any() else None


def _sections(
    data: ReportData,
    charts: list[Chart],
    bench_charts: list[Chart],
    pngs: dict[str, bytes],
    plan: dict[str, list[tables.Table]],
    detail: dict[str, list[tables.Table]],
    bench_tables: list[tables.Table],
    bench_note: str,
    request_tables: list[tables.Table],
    threshold: int | None = None,
) -> list[Section]:
    by_key = {chart.key: chart for chart in charts}
    by_section: dict[str, list[Chart]] = {}
    for chart in charts:
        by_section.setdefault(chart.section, []).append(chart)
    named = {t.name: t for group in (*plan.values(), *detail.values()) for t in group}

    funding = Section(
        "funding",
        "High needs funding, spend and the DSG balance",
        tables.headline_assumptions(data),
    )
    if warned := _warned_reading(data, threshold):
        # beside the balance they may move, not only counted in the data-quality section
        funding.text(warned)
    funding.chart(by_key["01_funding_spend_balance"], pngs["01_funding_spend_balance"])
    for name in (
        "assumptions",
        "funding_and_balances_actual",
        "funding_and_balances_unmitigated",
        "funding_and_balances_mitigated",
    ):
        if name in named:
            funding.table(named[name])
    funding.chart(by_key["01b_scenarios"], pngs["01b_scenarios"])
    if "sensitivity" in named:
        funding.table(named["sensitivity"])

    spend = Section("spend", "Spend by provision type")
    for chart in by_section["spend"]:
        spend.chart(chart, pngs[chart.key])
    spend.table(named["expenditure_by_provision_unmitigated"])
    if "sen_transport" in named:
        spend.table(named["sen_transport"])
    if reading := _not_in_education(data, threshold):
        spend.text(reading)

    dbv = Section(
        "dbv",
        "Caseload, unit cost and total cost by provision type",
        "The three views DBV used: how many children, what each placement costs, and the total.",
    )
    for chart in by_section["dbv"]:
        dbv.chart(chart, pngs[chart.key])
    dbv.table(named["ehcp_by_category_unmitigated"])
    for name in ("forecast_by_age_unmitigated", "forecast_by_need_unmitigated"):
        if name in named:
            dbv.table(named[name])

    drivers = Section(
        "drivers",
        "What drives demand and cost",
        "Caseload by primary need, age group and age at plan start; the age at which children "
        "enter each "
        "provision type and what it costs; plans issued and ceased; moves between provision types; "
        "and "
        "the change in spend split by driver.",
    )
    for chart in by_section["drivers"]:
        drivers.chart(chart, pngs[chart.key])

    assessments = Section(
        "requests",
        "Requests, assessments and 20-week timeliness",
        "What the council's SEN2 returns add: how many ask for an EHC needs assessment, how many "
        "are assessed and "
        "become plans, and how quickly, beside the DfE's published figures for the council, "
        "similar councils and "
        "England.",
        unavailable=""
        if request_tables
        else "No SEN2 return in the landing folder (sen2/<return>/), and no published "
        "figures for the council (HIGHNEEDS_LA_CODE and the published folder).",
    )
    for table in request_tables:
        assessments.table(table)

    mitigations = Section(
        "mitigations",
        "Mitigations and the gap still to close",
        tables.EXAMPLE_LOG_NOTE.strip() if tables.applies_example_mitigations(data) else "",
    )
    mitigations.table(named["mitigation_log"])
    mitigations.table(named["mitigation_plan"])
    for chart in by_section["mitigations"]:
        mitigations.chart(chart, pngs[chart.key])
    mitigations.table(named["gap_to_balance"])

    benchmarks = Section("benchmarks", "Benchmarks from published data", unavailable=bench_note)
    if bench_tables:
        benchmarks.table(bench_tables[0])
        for chart in bench_charts:
            benchmarks.chart(chart, pngs[chart.key])
        benchmarks.table(bench_tables[1])
        benchmarks.table(bench_tables[2])
        for table in bench_tables[4:]:  # own counts against the published ones
            benchmarks.table(table)
        kinds = bench_tables[3].frame["Kind"]
        benchmarks.text(
            f"{int((kinds != 'watch').sum())} published figures across all councils look wrong by "
            "the same "
            f"rule, and {int((kinds == 'watch').sum())} latest-year changes of more than half are "
            "to watch; "
            "the workbook's Benchmarks sheet lists them."
        )

    dsg = Section(
        "dsg-plan",
        "DSG management plan tables",
        "The workbook beside this report holds every table of the DSG deficit management plan, "
        "years "
        "across as in the DfE template: EHC plans by placement type (actual and forecast), "
        "expenditure by "
        "provision and S251 line, funding and balances, each unmitigated and mitigated, and the "
        "mitigation "
        "log.",
    )
    dsg.table(named["ehcp_by_category_mitigated"])
    if plan["Expenditure by S251 line"]:
        dsg.table(plan["Expenditure by S251 line"][0])

    model = Section(
        "model",
        "The model and its accuracy",
        "Caseload: a cohort model of every child by age and provision type — who leaves, who "
        "moves, who joins "
        "(a trend of new plans) — estimated from the council's own EHCP and placement history and "
        "simulated "
        "many times; spend = plans × FTE per plan × unit cost, each path drawing its own rates. "
        "Every figure shown is "
        "the mean of the paths (it adds up); p10–p90 is the band holding 80% of them. Below, how "
        "the caseload model "
        "did on the council's own past censuses, against simple baselines.",
        unavailable=""
        if "backtest" in named
        else "Too few censuses to score the model on the council's own history.",
    )
    if "backtest" in named:
        model.table(named["backtest"])

    quality = Section("data-quality", "Data quality")
    quality.text(_quality_reading(data))
    if warned:
        quality.text(warned)
    for table in detail["Data quality"]:
        if len(table.frame):
            quality.table(table)
    sections = [funding, spend, dbv, drivers, assessments, mitigations, benchmarks, dsg, model]
    if "councils" in named:
        compared = Section("councils", "Every council in this warehouse")
        compared.table(named["councils"])
        sections.append(compared)
    return [*sections, quality]


def _not_in_education(data: ReportData, threshold: int | None = None) -> str:
    """Children with a plan and no placement cost the block nothing, so the totals hide them: say
    so (their count as every table publishes it: not at all where it is suppressed)."""
    if "none" not in data.caseload.columns:
        return ""
    caseload = data.caseload_published(threshold)[0].cells
    last = caseload.index.max()
    count = caseload.loc[last, "none"]
    future = data.caseload_forecast[
        (data.caseload_forecast["scenario"] == "unmitigated")
        & (data.caseload_forecast["provision_type"] == "none")
    ]
    ahead = (
        float(future.loc[future["year"] == future["year"].max(), "plans_central"].sum())
        if len(future)
        else 0.0
    )
    hidden = math.isnan(count)  # suppressed
    now = 0 if hidden else int(count)
    if not hidden and not now and not ahead:
        return ""
    who = (
        "Children with a plan (too few to publish how many, or hidden to protect a count that is)"
        if hidden
        else f"{now:,} children with a plan"
    )
    forecast = (
        "their forecast is not published either (it would give the count back)"
        if hidden
        else f"{ahead:,.0f} are forecast by {data.horizon} (unmitigated)"
    )
    # what the spend table's 'none' row holds in the last complete year (the report's actuals;
    # a year in progress may hold a day of accrual reversals): payments naming such a child, or
    # a placement at an establishment nothing types (as published: hidden with its count)
    spend = spend_published(data, threshold)
    spend = spend[(spend["provision_type"] == "none") & spend["is_complete_year"].astype(bool)]
    year = spend["financial_year"].max() if len(spend) else None
    spent = (
        float(spend.loc[spend["financial_year"] == year, "spend_gbp"].sum(min_count=1))
        if len(spend)
        else 0.0
    )
    if math.isnan(spent):
        cost = (
            "what they cost is in the spend table's 'None / not in education' row, hidden with "
            "its count"
        )
    elif abs(spent) >= 0.5:
        cost = (
            f"{pounds(spent)} of {year}'s spend is in the spend table's "
            "'None / not in education' row (payments naming such a child, or a placement at an "
            "establishment of no known type)"
        )
    else:
        cost = (
            "they cost the high needs block nothing here, so every spend figure above leaves "
            "them out"
        )
    return (
        f"{who} were in no placement (NEET, not in education, or placement unknown) on the "
        f"January {last} census, and {forecast}: {cost}. Any of them placed would add the cost "
        "of a placement."
    )


def _warned(data: ReportData) -> pd.DataFrame:
    """The checks of the latest refresh that warned: it published through them (a check that
    held other councils is theirs, not this council's)."""
    checks = data.checks
    if checks.empty:
        return checks
    return checks[tables.warned(checks) & checks["held_councils"].eq("")]


def _warned_reading(data: ReportData, threshold: int | None = None) -> str:
    """Each warning of the latest refresh by name, and (internal version) its message. A doubled
    year of independent special spend warned (`base_year_spend_within_usual`) and drove the
    balance from −£34.2m to −£98.7m; the report said only "192 of 193 checks passed"."""
    warned = _warned(data)
    if warned.empty:
        return ""
    count = len(warned)
    listed = "; ".join(
        f"{row.check_name} on {row.asset}"
        + (f" ({str(row.description).strip()})" if threshold is None and row.description else "")
        for row in warned.itertuples()
    )
    return (
        f"The latest refresh published these figures through {count} warning"
        f"{'s' if count > 1 else ''} about the data they rest on, to read before relying on the "
        f"balance: {listed}."
        + (
            " The internal version of this report gives each warning's message."
            if threshold is not None
            else ""
        )
    )


def _quality_reading(data: ReportData) -> str:
    dq = data.data_quality

    def total(measure):
        return int(dq.loc[(dq["measure"] == measure) & dq["reason"].isna(), "rows"].sum())

    flagged = int(dq.loc[dq["measure"] == "rows_flagged_by_flag", "rows"].sum())
    # in absolute amounts, as the summary gives it: a posting and its reversal in quarantine
    # read £0.00 net
    quarantined_money = float(
        dq.loc[dq["measure"] == "rows_quarantined", "gross_amount_gbp"].fillna(0).sum()
    )
    checks = data.checks
    passed = int(checks["passed"].sum()) if len(checks) else 0
    text = (
        f"{total('rows_read'):,} rows read from the landing files: {total('rows_loaded'):,} "
        "loaded, "
        f"{total('rows_exact_duplicate'):,} exact duplicates, {total('rows_quarantined'):,} "
        "quarantined "
        f"(£{quarantined_money:,.2f} in absolute amounts); "
        f"{flagged:,} flagged and kept."
    )
    if len(checks):
        # meta.check_results: the checks up to the warehouse gate; the forecast's own checks
        # and the publish's run after it (Dagster's run history holds them)
        text += (
            f" {passed} of {len(checks)} checks on the data (ingest, dbt tests and warehouse "
            "gates) passed in the latest refresh"
        )
        failed = checks[~checks["passed"].astype(bool)]
        others = failed[failed["held_councils"] != ""]
        # a report is never of a held council (report --la refuses one)
        if len(others) and len(others) == len(failed):
            held = sorted({c for codes in others["held_councils"] for c in codes.split(", ")})
            text += (
                f"; the {'one' if len(failed) == 1 else str(len(failed))} failed held "
                f"council{'s' if len(held) > 1 else ''} {', '.join(held)} at "
                f"{'its' if len(held) == 1 else 'their'} last good figures: this council's "
                "figures passed every check"
            )
        text += "."
    return text
