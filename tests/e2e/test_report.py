"""The report on the demo council: every section filled from the run's data, totals that equal the
marts' and forecast's, a publication version without small counts, a page that opens offline in
headless Chromium, the headline chart in the Dagster UI, and benchmarks that match the DfE's
published files."""

import csv
import dataclasses
import datetime as dt
import math
import os
import re
import shutil
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
from openpyxl import load_workbook

from dagster_project.cli import main
from forecast.backtest import verdict
from forecast.published_extract import SHIPPED
from report import style
from report.benchmarks import ENGLAND, benchmark, load_published_data
from report.charts import MOVES_YEARS, build_charts
from report.data import STALE_AFTER_DAYS, read_report_data
from tests.conftest import REFERENCE_DATA, REPO_ROOT, reference_file
from tests.xlsx_formulas import Evaluator

ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
SECTIONS = [
    "funding",
    "spend",
    "dbv",
    "drivers",
    "requests",
    "mitigations",
    "benchmarks",
    "dsg-plan",
    "model",
    "data-quality",
]
THRESHOLD = 5


@pytest.fixture(scope="module")
def data(con):
    return read_report_data(con)


def scalar(con, sql: str, *params):
    return con.execute(sql, list(params)).fetchone()[0]


# --- the HTML -------------------------------------------------------------------------------


class ReportPage(HTMLParser):
    """Sections, figures (with their readings) and tables of the report."""

    def __init__(self):
        super().__init__()
        self.sections: list[str] = []
        self.figures: list[dict] = []
        self.tables: list[str] = []
        self._in_reading = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.sections.append(attrs["id"])
        elif tag == "figure":
            self.figures.append(
                {
                    "key": attrs["data-chart"],
                    "points": int(attrs["data-points"]),
                    "reading": "",
                    "section": self.sections[-1],
                }
            )
        elif tag == "img" and self.figures:
            self.figures[-1]["src"] = attrs["src"]
        elif tag == "p" and attrs.get("class") == "reading":
            self._in_reading = True
        elif tag == "table":
            self.tables.append(attrs.get("id", ""))

    def handle_endtag(self, tag):
        if tag == "p":
            self._in_reading = False

    def handle_data(self, text):
        if self._in_reading:
            self.figures[-1]["reading"] += text


def page(path: Path) -> ReportPage:
    parsed = ReportPage()
    parsed.feed(path.read_text(encoding="utf-8"))
    return parsed


def test_every_section_is_filled_from_the_run(demo, con):
    html = (demo.report / "internal" / "report.html").read_text(encoding="utf-8")
    parsed = page(demo.report / "internal" / "report.html")
    assert parsed.sections == SECTIONS
    # benchmarks included: the demo reads the DfE figures shipped with highneeds
    assert len(parsed.figures) == 16
    for figure in parsed.figures:
        assert figure["points"] > 0, figure["key"]
        assert figure["src"].startswith("data:image/png;base64,") and len(figure["src"]) > 5_000, (
            figure["key"]
        )
        assert re.search(r"\d", figure["reading"]), figure  # a reading computed from the numbers
    charted = {figure["section"] for figure in parsed.figures}
    assert charted == {"funding", "spend", "dbv", "drivers", "mitigations", "benchmarks"}
    for table in (
        "funding_and_balances_actual",
        "expenditure_by_provision_unmitigated",
        "ehcp_by_category_unmitigated",
        "mitigation_log",
        "gap_to_balance",
        "ehcp_by_category_mitigated",
        "expenditure_by_s251_line",
        "data_quality",
        "checks",
    ):
        assert f"table-{table}" in parsed.tables, table
    # the run it was built from, and no reference to anything online
    run_id = scalar(con, "SELECT run_id FROM meta.check_results ORDER BY evaluated_at DESC LIMIT 1")
    assert run_id in html
    assert "http://" not in html and "https://" not in html and "<script" not in html


def test_readings_state_the_run_s_own_figures(demo, con, data):
    readings = {chart.key: chart.reading for chart in build_charts(data)}
    last_fy = scalar(
        con, "SELECT max(financial_year) FROM marts.fct_hnb_position WHERE is_complete_year"
    )
    balance = scalar(
        con,
        "SELECT cumulative_balance_gbp FROM marts.fct_hnb_position WHERE financial_year = ?",
        last_fy,
    )
    horizon = scalar(con, "SELECT max(financial_year) FROM forecast.hnb_position")
    unmitigated = scalar(
        con,
        "SELECT cumulative_balance_gbp_central FROM forecast.hnb_position "
        "WHERE scenario = 'unmitigated' AND financial_year = ?",
        horizon,
    )
    assert style.pounds_m(float(balance)) in readings["01_funding_spend_balance"]
    assert style.pounds_m(unmitigated) in readings["01_funding_spend_balance"]
    total = scalar(
        con,
        "SELECT sum(spend_gbp) FROM marts.fct_provision_spend WHERE financial_year = ?",
        last_fy,
    )
    assert f"of {style.pounds_m(float(total))}" in readings["02_spend_by_provision_latest"]
    # the fastest growing of the types it weighs, said to be of those (early years' 24 % a year
    # was left out of "EOTAS grew fastest (16.3% a year)" without a word)
    assert "among the types with 2% of spend or more" in readings["03_spend_trend"]
    latest = scalar(con, "SELECT max(year) FROM marts.fct_ehcp_flows")
    new = scalar(con, "SELECT sum(new_plans) FROM marts.fct_ehcp_flows WHERE year = ?", latest)
    assert f"{new:,} new plans were issued" in readings["09_new_and_ceased_plans"]
    ranked = con.execute(
        "SELECT primary_need, sum(plans) FROM marts.fct_ehcp_cohort WHERE census_year = "
        "(SELECT max(census_year) FROM marts.fct_ehcp_cohort) GROUP BY 1 ORDER BY 2 DESC"
    ).fetchall()
    assert f"{ranked[0][1]:,} plans" in readings["05_caseload_by_primary_need"]
    # the placements' cost, as chart 04's panels show it (central spend is chart 03's)
    first_fy, last_fy, years = con.execute(
        "SELECT min(financial_year), max(financial_year), count(DISTINCT financial_year) "
        "FROM marts.fct_hnb_position WHERE is_complete_year"
    ).fetchone()
    placed = dict(
        con.execute(
            "SELECT financial_year, sum(spend_gbp)::DOUBLE FROM marts.fct_provision_spend "
            "WHERE provision_type != 'central' AND financial_year IN (?, ?) GROUP BY 1",
            [first_fy, last_fy],
        ).fetchall()
    )
    growth = (placed[last_fy] / placed[first_fy]) ** (1 / (years - 1)) - 1
    assert (
        f"total placement cost {style.grew(growth)}" in readings["04_caseload_unit_cost_total_cost"]
    )
    # and the caseload of those types, not of every plan (other and none cost nothing)
    plans = dict(
        con.execute(
            "SELECT census_year, sum(plans)::DOUBLE FROM marts.fct_ehcp_cohort WHERE "
            "provision_type IN (SELECT provision_type FROM marts.fct_provision_spend "
            "WHERE provision_type != 'central' GROUP BY 1 HAVING sum(abs(spend_gbp)) > 0) "
            "AND census_year IN (?, ?) GROUP BY 1",
            [int(first_fy[:4]) + 1, int(last_fy[:4]) + 1],
        ).fetchall()
    )
    caseload = (plans[int(last_fy[:4]) + 1] / plans[int(first_fy[:4]) + 1]) ** (1 / (years - 1))
    assert (
        f"the caseload of these types {style.grew(caseload - 1)}"
        in readings["04_caseload_unit_cost_total_cost"]
    )
    # the age-at-start reading's cost is the modal band's, as plotted (it was every age's)
    starts = next(c for c in build_charts(data) if c.key == "08_age_at_provision_start").data
    inmss = starts[starts["provision_type"] == "inmss"].set_index("age_at_start_band")
    band = inmss["starts"].idxmax()
    assert (
        f"start at {band} " in readings["08_age_at_provision_start"]
        and f"at {style.pounds(inmss.loc[band, 'avg_annual_cost_gbp'])} a year there"
        in readings["08_age_at_provision_start"]
    )
    # and said to be the placements list's commissioned cost, not the ledger's unit cost
    assert readings["08_age_at_provision_start"].endswith(
        "Those costs are the annual costs the placements list commissions (annual_cost), not "
        "the ledger's spend per placement (the unit-cost charts)."
    )


@pytest.mark.parametrize("threshold", [None, THRESHOLD])
def test_each_chart_has_data(data, threshold):
    charts = build_charts(data, threshold)
    assert [c.key[:2] for c in charts] == ["01", "01", *(f"{i:02d}" for i in range(2, 14))]
    for chart in charts:
        numbers = chart.data.select_dtypes("number").to_numpy().ravel()
        assert len(chart.data) and any(math.isfinite(v) and v != 0 for v in numbers), chart.key
        assert chart.figure.axes and chart.png()[:8] == b"\x89PNG\r\n\x1a\n", chart.key


def test_the_publication_age_at_start_chart_data_gives_no_hidden_count_away(data):
    """Chart 08's data (the workbook's Chart data sheet) held how many costed starts each
    average was over, unsuppressed beside the suppressed starts: the hidden counts, and the
    cells hidden to protect them, could be read off. The publication's has no such column, and
    no average where the count is hidden."""
    internal, published = (
        next(c for c in build_charts(data, threshold) if c.key == "08_age_at_provision_start")
        for threshold in (None, THRESHOLD)
    )
    assert "costed_starts" in internal.data.columns
    assert "costed_starts" not in published.data.columns
    hidden = published.data["starts"].isna()
    assert hidden.any()  # the demo has small cells here
    assert published.data.loc[hidden, "avg_annual_cost_gbp"].isna().all()


def test_starts_past_25_are_in_the_age_at_start_chart(data):
    """A placement started past 25 (a flagged data error, band 'over 25') was dropped from chart
    08: its starts were in the mart and in no bar, so the chart's bars fell short of the starts."""
    starts = data.starts.copy()
    latest = starts["year"].max()
    some = starts.index[(starts["year"] == latest) & (starts["starts"] > 0)][:2]
    starts.loc[some, "age_at_start_band"] = "over 25"
    chart = next(
        c
        for c in build_charts(dataclasses.replace(data, starts=starts))
        if c.key == "08_age_at_provision_start"
    )
    shown = chart.data
    assert "over 25" in set(shown["age_at_start_band"])
    recent = starts[starts["year"].isin(sorted(starts["year"].unique())[-MOVES_YEARS:])]
    assert shown["starts"].sum() == recent["starts"].sum()


def test_the_count_of_children_in_no_placement_is_published_as_the_tables_publish_it(data):
    """The spend section says how many children with a plan are in no placement: in the
    publication version only as the caseload tables publish it, so a threshold that hides it
    there hides it here."""
    from report.build import _not_in_education

    last = data.caseload.index.max()
    count = int(data.caseload.loc[last, "none"])
    assert f"{count:,} children with a plan" in _not_in_education(data)
    above = count + 1  # every cell of that census below the threshold
    hidden = _not_in_education(data, above)
    assert f"{count:,} children" not in hidden and "too few to publish" in hidden


def test_children_in_no_placement_are_said_to_cost_nothing_only_where_their_row_does(data):
    """The text under the spend table said children in no placement cost the block nothing,
    beside a 'None / not in education' row of £6,000 a year (a NEET young person's payments,
    or a placement at an establishment of no known type)."""
    from report.build import _not_in_education

    assert "cost the high needs block nothing" in _not_in_education(data)
    spend = data.spend.copy()
    latest = spend["financial_year"].max()
    spend.loc[
        (spend["financial_year"] == latest) & (spend["provision_type"] == "none"), "spend_gbp"
    ] = 6000.0
    # a year in progress holding a day of accrual reversals is not the report's actuals
    reversals = spend[spend["financial_year"] == latest].assign(
        financial_year="2099-00", is_complete_year=False, spend_gbp=-12000.0
    )
    reading = _not_in_education(
        dataclasses.replace(data, spend=pd.concat([spend, reversals], ignore_index=True))
    )
    assert "nothing" not in reading and "12,000" not in reading
    assert f"£6,000 of {latest}'s spend is in the spend table's 'None / not in education' row" in (
        reading
    )


def test_the_publication_caseload_growth_gives_no_hidden_count_back(data):
    """The DBV panels' sentence gave the caseload of the types with spend a growth rate from
    the first complete year to the last; with a count of either year hidden, the rate and the
    other year's published total put it within a few plans (a hidden 70 between 68 and 71)."""
    from forecast.years import fy_of_census_year
    from report.charts import dbv_panels

    first, last = data.complete_years[0], data.complete_years[-1]
    assert "the caseload of these types grew" in dbv_panels(data).reading
    censuses = [c for c in data.caseload.index if fy_of_census_year(int(c)) in (first, last)]
    paid = data.spend.loc[data.spend["spend_gbp"].abs() > 0, "provision_type"].unique()
    ends = data.caseload.loc[censuses, [p for p in data.caseload.columns if p in paid]]
    # a threshold just above the smallest count of either year, so that one is hidden
    threshold = int(ends[ends > 0].min().min()) + 1
    reading = dbv_panels(data, threshold).reading
    assert "caseload of these types changed at a rate not published" in reading, reading


def test_the_dbv_panels_draw_a_begun_first_year_whose_posted_spend_is_all_hidden(data):
    """A refresh on 1 April, one top-up posted: for publication each type's posted spend of the
    begun year is hidden, the cost pivot dropped the year, and the other panels' same year had
    no place on the axis (KeyError: '2026-27': no report, nothing published)."""
    from report.charts import dbv_panels

    first = min(data.spend_forecast["financial_year"])
    types = sorted(set(data.spend_forecast["provision_type"]))  # central too
    begun = pd.DataFrame(
        {
            "financial_year": first,
            "provision_type": types,
            "spend_gbp": 1_000.0,
            "spend_by_ledger_point_gbp": 1_000.0,
            "placements": 1,
            "fte_placements": 0.01,
            "unit_cost_gbp": 100_000.0,
            "is_complete_year": False,
        }
    )
    posted = pd.DataFrame(
        {
            "assumption": ["first_year_posted_spend"],
            "provision_type": [None],
            "financial_year": [first],
            "value": [1_000.0 * len(types)],
            "unit": ["£"],
            "source": ["posted so far"],
        }
    )
    april = dataclasses.replace(
        data,
        spend=pd.concat([data.spend, begun], ignore_index=True),
        assumptions=pd.concat([data.assumptions, posted], ignore_index=True),
    )
    chart = dbv_panels(april, THRESHOLD)
    assert first in set(chart.data["financial_year"])


def test_trace_forecast_shows_what_a_begun_first_year_has_posted(con):
    """A first forecast year the ledger has begun keeps its postings (most of the figure by
    December): the trace listed only the modelled year's inputs, which could not rebuild it."""
    from forecast.trace import trace_forecast

    first = scalar(con, "SELECT min(financial_year) FROM forecast.spend")
    with duckdb.connect() as begun:
        for table in ("forecast.spend", "forecast.caseload", "forecast.rates",
                      "forecast.assumptions", "forecast.mitigations",
                      "marts.fct_provision_spend"):  # fmt: skip
            begun.execute(f"CREATE SCHEMA IF NOT EXISTS {table.split('.')[0]}")
            begun.register("source", con.execute(f"SELECT * FROM {table}").df())
            begun.execute(f"CREATE TABLE {table} AS SELECT * FROM source")
            begun.unregister("source")
        begun.execute(
            "INSERT INTO marts.fct_provision_spend SELECT * REPLACE (? AS financial_year, "
            "false AS is_complete_year, 1234567.0 AS spend_gbp) FROM marts.fct_provision_spend "
            "WHERE provision_type = 'mss' LIMIT 1",
            [first],
        )
        rows = trace_forecast(begun, first, "mss").set_index(["part", "input"])
    assert rows.loc[("figure", f"posted so far in {first}"), "value"] == 1234567.0


def test_the_publication_backtest_gives_no_census_count_away_by_differencing(data):
    """The backtest's sums of actual plans pool the origins at 1, 2 and 3 years ahead, so one
    horizon's less the next's is a census's count: the publication has no such sums, and no
    scores for a provision type whose count a census suppresses."""
    from report.tables import backtest

    # a threshold just above the demo's smallest count, so some census cell is hidden
    threshold = int(data.caseload[data.caseload > 0].min().min()) + 1
    [internal], [published] = backtest(data), backtest(data, threshold)
    assert "Actual plans (sum)" in internal.frame.columns
    assert "Actual plans (sum)" not in published.frame.columns
    cells = data.caseload_published(threshold)[0].cells
    hidden = {data.labels[p] for p in cells.columns[cells.isna().any()]}
    assert hidden
    scores = published.frame.drop(columns=["Years ahead", "Provision type", "Origins scored"])
    assert scores[published.frame["Provision type"].isin(hidden)].isna().all().all()
    assert scores[published.frame["Provision type"] == "All plans"].notna().any().any()


def test_the_publication_forecast_by_need_gives_no_hidden_census_count_back(data):
    """The forecast by need is each age group and provision type's forecast split in its need mix
    on the last census: printed in full, rescaled to the census total it gave back the counts the
    census table hid (Down's syndrome 10.75 of 1,847 → 11; MSI 4.07 → 4)."""
    from report.tables import forecast_by_age_and_need

    last = data.cohort["census_year"].max()
    census = data.cohort[data.cohort["census_year"] == last].groupby("primary_need")["plans"].sum()
    threshold = int(census[census > 0].min()) + 1  # the smallest need's count is hidden
    tables = {t.name: t for t in forecast_by_age_and_need(data, threshold)}
    shown = tables["forecast_by_need_unmitigated"].frame.set_index("Primary need")
    first = shown.columns[0]
    smallest = census[census > 0].idxmin()
    assert shown.loc[smallest].isna().all()
    # every need shown is not a hidden one: rescaling a shown need gives only a shown count
    published = data._cohort_suppression(threshold)[0]["ehcp_plans_by_need"]
    hidden = set(
        published.loc[
            published["census_year"].eq(last)
            & published["provision_type"].eq("total")
            & published["suppressed"].astype(bool),
            "primary_need",
        ]
    )
    assert smallest in hidden
    assert not (set(shown.index[shown[first].notna()]) & hidden)
    assert shown.loc["Total", first] == pytest.approx(
        tables["forecast_by_age_unmitigated"].frame.set_index("Age group").loc["Total", first]
    )
    internal = {t.name: t for t in forecast_by_age_and_need(data)}
    assert internal["forecast_by_need_unmitigated"].frame[first].notna().all()


def test_a_census_whose_every_count_is_hidden_leaves_the_charts_drawn(data):
    """The latest census with a handful of plans (a mid-year extract, a small council): at the
    publication threshold all of its cells are hidden; each chart reads from the censuses that
    still show plans rather than failing the report."""
    latest = data.cohort["census_year"].max()
    few = data.cohort[data.cohort["census_year"] == latest].head(2).assign(plans=1)
    thin = dataclasses.replace(
        data, cohort=pd.concat([data.cohort[data.cohort["census_year"] != latest], few])
    )
    charts = {chart.key: chart for chart in build_charts(thin, THRESHOLD)}
    for key in ("06_caseload_by_age_group", "07_caseload_by_age_at_plan_start"):
        reading = charts[key].reading
        assert f"January {latest}" not in reading and "January" in reading, reading
        assert "nan" not in reading, reading
        # (what a share is of, the census total or the plans shown: test_report_suppression.py)
    for key in ("06_caseload_by_age_group", "07_caseload_by_age_at_plan_start"):
        reading = {chart.key: chart for chart in build_charts(thin)}[key].reading
        assert "published" not in reading, reading


# --- the workbook (money read back from XLSX keeps 15 significant digits) -------------------


def block(workbook, name: str) -> tuple[list[str], list[list]]:
    """An Excel table's headings and rows, with the total rows written just below it; a formula
    (a total, subtotal or balance) read as Excel shows it."""
    for sheet in workbook.worksheets:
        if name in sheet.tables:
            value = Evaluator(sheet)
            ref = sheet.tables[name].ref
            first, last = ref.split(":")
            top = int(re.sub(r"\D", "", first))
            bottom = int(re.sub(r"\D", "", last))
            width = sheet.max_column
            headings = [sheet.cell(top, j).value for j in range(1, width + 1)]
            headings = headings[: headings.index(None)] if None in headings else headings
            rows = []
            row = top + 1
            while sheet.cell(row, 1).value is not None and (
                row <= bottom or sheet.cell(row, 1).font.bold
            ):
                rows.append(
                    [value(sheet.cell(row, j).coordinate) for j in range(1, len(headings) + 1)]
                )
                row += 1
            return headings, rows
    raise KeyError(name)


def as_dict(headings, rows, key_column: int = 0) -> dict:
    return {row[key_column]: dict(zip(headings, row, strict=False)) for row in rows}


@pytest.fixture(scope="module")
def workbook(demo):
    return load_workbook(demo.report / "internal" / "workbook.xlsx", read_only=False)


def test_workbook_sheets_and_headings(workbook):
    assert workbook.sheetnames == [
        "Read me",
        "DSG plan summary",
        "EHCP numbers",
        "Expenditure by S251 line",
        "Expenditure by provision",
        "Forecast by age and need",
        "Assumptions",
        "Funding and balances",
        "Mitigations",
        "Benchmarks",
        "Requests and timeliness",
        "Provision spend",
        "Caseload breakdowns",
        "Flows",
        "Model and accuracy",
        "Data quality",
        "Chart data",
    ]
    # without a SEN2 return: requests and timeliness as the DfE publishes them, as numbers
    headings, rows = block(workbook, "ehcp_requests")
    assert headings[:3] == ["Calendar year", "Figures", "Requests for an EHC needs assessment"]
    published = {row[0]: row for row in rows if row[1] == "This council (published)"}
    assert len(published) == 5 and published[2024][2] == 475
    years = [f"{y}-{(y + 1) % 100:02d}" for y in range(2017, 2029)]
    headings, _ = block(workbook, "ehcp_by_category_unmitigated")
    assert headings == ["DfE placement category", *years]
    headings, _ = block(workbook, "ehcp_by_provision_mitigated")
    assert headings == ["Provision type", "DfE placement category", *years]
    headings, _ = block(workbook, "expenditure_by_line_unmitigated")
    assert headings == ["S251 line", "S251 line description", "Provision type", *years]
    headings, _ = block(workbook, "funding_and_balances_actual")
    assert headings == ["Line", *years[:9]]
    headings, _ = block(workbook, "mitigation_log")
    assert headings[:7] == [
        "Mitigation",
        "Kind",
        "Status",
        "DBV line of enquiry",
        "Lever",
        "Provision types",
        "Start year",
    ]
    assert headings[7:] == [*years[9:], "Effect on cumulative balance by 2028-29"]


def test_ehcp_numbers_reconcile_with_the_cohort_mart_and_the_caseload_forecast(workbook, con):
    census = dict(
        con.execute(
            "SELECT census_year, sum(plans) FROM marts.fct_ehcp_cohort GROUP BY 1"
        ).fetchall()
    )
    for scenario in ("unmitigated", "mitigated"):
        forecast = dict(
            con.execute(
                "SELECT year, plans_central FROM forecast.caseload WHERE scenario = ? "
                "AND provision_type = 'total'",
                [scenario],
            ).fetchall()
        )
        by_provision = {
            (p, y): v
            for p, y, v in con.execute(
                "SELECT provision_type, year, plans_central FROM forecast.caseload "
                "WHERE scenario = ? AND provision_type <> 'total'",
                [scenario],
            ).fetchall()
        }
        labels = dict(
            con.execute("SELECT label, provision_type FROM staging.provision_types").fetchall()
        )
        for name in (f"ehcp_by_category_{scenario}", f"ehcp_by_provision_{scenario}"):
            headings, rows = block(workbook, name)
            table = as_dict(headings, rows)
            for year, plans in census.items():
                assert table["Total"][f"{year - 1}-{year % 100:02d}"] == plans, (name, year)
            body = [r for key, r in table.items() if key != "Total"]
            for year in forecast:
                fy = f"{year - 1}-{year % 100:02d}"
                assert math.isclose(sum(r[fy] for r in body), table["Total"][fy]), (name, fy)
        headings, rows = block(workbook, f"ehcp_by_provision_{scenario}")
        table = as_dict(headings, rows)
        # central figures add up: the total is the forecast's total
        for (
            year,
            plans,
        ) in forecast.items():
            assert table["Total"][f"{year - 1}-{year % 100:02d}"] == pytest.approx(plans, rel=1e-12)
        for (provision, year), plans in by_provision.items():
            label = next(label for label, code in labels.items() if code == provision)
            assert table[label][f"{year - 1}-{year % 100:02d}"] == plans


def test_expenditure_reconciles_with_the_spend_marts_to_the_penny(workbook, con):
    spend = {
        fy: float(v)
        for fy, v in con.execute(
            "SELECT financial_year, spend_gbp FROM marts.fct_hnb_position WHERE is_complete_year"
        ).fetchall()
    }
    headings, rows = block(workbook, "expenditure_by_s251_line")
    table = as_dict(headings, rows)
    for fy, total in spend.items():
        assert round(table["Total"][fy], 2) == round(total, 2), fy
    by_line = {
        (fy, line): float(v)
        for fy, line, v in con.execute(
            "SELECT financial_year, s251_line, sum(spend_gbp) FROM marts.fct_spend_by_s251_line "
            "GROUP BY 1, 2"
        ).fetchall()
    }
    for (fy, line), value in by_line.items():
        assert round(table[line][fy], 2) == round(value, 2), (fy, line)
    for scenario in ("unmitigated", "mitigated"):
        forecast = dict(
            con.execute(
                "SELECT financial_year, sum(spend_gbp_central) FROM forecast.spend "
                "WHERE scenario = ? GROUP BY 1",
                [scenario],
            ).fetchall()
        )
        position = dict(
            con.execute(
                "SELECT financial_year, spend_gbp_central FROM forecast.hnb_position "
                "WHERE scenario = ?",
                [scenario],
            ).fetchall()
        )
        headings, rows = block(workbook, f"expenditure_by_line_{scenario}")
        lines = as_dict(headings, rows)
        headings, rows = block(workbook, f"expenditure_by_provision_{scenario}")
        provisions = as_dict(headings, rows)
        for fy, total in spend.items():
            assert (
                round(lines["Total"][fy], 2) == round(provisions["Total"][fy], 2) == round(total, 2)
            )
        for fy, total in forecast.items():
            assert math.isclose(lines["Total"][fy], total, rel_tol=1e-9)
            assert math.isclose(provisions["Total"][fy], total, rel_tol=1e-9)
            # ties to Funding and balances
            assert provisions["Total"][fy] == pytest.approx(position[fy], rel=1e-12)


def test_funding_balances_mitigations_and_gap_reconcile_with_the_forecast(workbook, con):
    actual = con.execute(
        "SELECT financial_year, funding_gbp, spend_gbp, in_year_balance_gbp, "
        "cumulative_balance_gbp "
        "FROM marts.fct_hnb_position WHERE is_complete_year"
    ).fetchall()
    table = as_dict(*block(workbook, "funding_and_balances_actual"))
    for fy, funding, spend, in_year, cumulative in actual:
        assert round(table["Total high needs funding"][fy], 2) == float(funding)
        assert round(table["High needs spend"][fy], 2) == float(spend)
        assert round(table["In-year balance (funding − spend)"][fy], 2) == float(in_year)
        assert round(table["Cumulative DSG high needs balance"][fy], 2) == float(cumulative)
    for scenario in ("unmitigated", "mitigated"):
        table = as_dict(*block(workbook, f"funding_and_balances_{scenario}"))
        for fy, funding, spend, balance, low, high in con.execute(
            "SELECT financial_year, funding_gbp, spend_gbp_central, "
            "cumulative_balance_gbp_central, cumulative_balance_gbp_p10, "
            "cumulative_balance_gbp_p90 FROM forecast.hnb_position WHERE scenario = ?",
            [scenario],
        ).fetchall():
            assert table["Total high needs funding"][fy] == pytest.approx(funding, rel=1e-12)
            assert table["High needs spend"][fy] == pytest.approx(spend, rel=1e-12)
            assert table["Cumulative DSG high needs balance"][fy] == pytest.approx(
                balance, rel=1e-12
            )
            assert (
                table["Cumulative balance (p10)"][fy],
                table["Cumulative balance (p90)"][fy],
            ) == pytest.approx((low, high), rel=1e-12)
    log = as_dict(*block(workbook, "mitigation_log"))
    for name, fy, saving, status in con.execute(
        "SELECT mitigation, financial_year, in_year_balance_effect_gbp, status "
        "FROM forecast.mitigations"
    ).fetchall():
        assert (
            log[name][fy] == pytest.approx(saving, rel=1e-12, abs=1e-6)
            and log[name]["Status"] == status
        )
    gap = as_dict(*block(workbook, "gap_to_balance"))
    for fy, needed, per_year in con.execute(
        "SELECT financial_year, saving_to_balance_in_year_gbp, "
        "saving_per_year_to_recover_by_target_gbp FROM forecast.gap_to_balance"
    ).fetchall():
        assert gap[fy]["Further saving to balance in-year"] == pytest.approx(
            needed, rel=1e-12, abs=1e-6
        )
        assert gap[fy]["Saving a year to clear the deficit by the target year"] == pytest.approx(
            per_year, rel=1e-12
        )
    quality = as_dict(*block(workbook, "data_quality"))
    assert quality["Total"]["Rows read"] == scalar(
        con,
        "SELECT sum(rows) FROM marts.fct_data_quality WHERE measure = 'rows_read' AND in_landing",
    )


def test_the_report_workbook_and_cli_show_the_same_central_figures(demo, workbook, con, data):
    """One quantity, one number: the horizon's cumulative balance and spend in the CLI summary, the
    report's headline reading and the workbook are forecast.hnb_position's central figures."""
    from dagster_project.cli.summary import money_m

    horizon = data.horizon
    out = " ".join(demo.output.split())
    reading = {chart.key: chart.reading for chart in build_charts(data)}["01_funding_spend_balance"]
    for scenario in ("unmitigated", "mitigated"):
        balance, spend = con.execute(
            "SELECT cumulative_balance_gbp_central, spend_gbp_central FROM forecast.hnb_position "
            "WHERE scenario = ? AND financial_year = ?",
            [scenario, horizon],
        ).fetchone()
        assert (
            f"Cumulative high needs balance at end of {horizon}, {scenario}: {money_m(balance)}"
            in out
        )
        assert style.pounds_m(balance) in reading
        table = as_dict(*block(workbook, f"funding_and_balances_{scenario}"))
        assert table["Cumulative DSG high needs balance"][horizon] == pytest.approx(
            balance, rel=1e-12
        )
        provisions = as_dict(*block(workbook, f"expenditure_by_provision_{scenario}"))
        assert (
            provisions["Total"][horizon]
            == pytest.approx(spend, rel=1e-12)
            == table["High needs spend"][horizon]
        )
    log = as_dict(*block(workbook, "mitigation_log"))
    transfer = next(name for name in log if "block transfer" in str(name).lower())
    assert log[transfer]["Kind"] == "funding"  # income the Forum agrees, never a saving
    years = [c for c in log[transfer] if re.fullmatch(r"\d{4}-\d{2}", str(c))]
    assert sum(log[transfer][y] for y in years) == pytest.approx(
        log[transfer][f"Effect on cumulative balance by {horizon}"]
    )


def test_the_first_page_names_the_funding_and_unit_cost_assumptions_and_the_scenarios(demo, con):
    page = ReportPage()
    page.feed((demo.report / "internal" / "report.html").read_text())
    funding = [f["key"] for f in page.figures if f["section"] == "funding"]
    assert funding == ["01_funding_spend_balance", "01b_scenarios"]
    assert {"table-assumptions", "table-sensitivity"} <= set(page.tables)
    text = (demo.report / "internal" / "report.html").read_text()
    first = text[text.index('id="funding"') : text.index('id="spend"')]
    assert "Funding growth: +3.0% a year" in first and "STRB" in first
    # the caseload behind the balance: how it did on the council's past, beside the projections
    scored = verdict(con.execute("SELECT * FROM forecast.backtest").df())
    assert scored.sentence() in unescape(first)
    assert scored.sentence() in " ".join(demo.output.split())


def test_the_report_and_served_assumptions_say_the_mitigations_are_the_shipped_example(
    demo, con, workbook
):
    """The demo applies the shipped example log, as any council without its own log does: its
    mitigated balance is the example's block transfer and free school, and neither the report
    nor the served tables said so."""
    from forecast.mitigations import EXAMPLE_SOURCE

    log = con.execute(
        "SELECT value, source FROM forecast.assumptions WHERE assumption = 'mitigation_log'"
    ).fetchall()
    mitigations = scalar(con, "SELECT count(DISTINCT mitigation) FROM forecast.mitigations")
    assert log == [(float(mitigations), EXAMPLE_SOURCE)]
    text = unescape((demo.report / "internal" / "report.html").read_text())
    section = text[text.index('id="mitigations"') :]
    assert "not this council's plan" in section[: section.index("<table")]
    notes = " ".join(
        str(cell.value) for row in workbook["Mitigations"].iter_rows() for cell in row if cell.value
    )
    assert "not this council's plan" in notes


def test_the_report_and_summary_say_how_far_the_extracts_reach(demo, con):
    """The date the figures stop at, from the warehouse (int_data_as_at), on the report's first
    lines and in the refresh's summary."""
    as_at, ledger = con.execute(
        "SELECT as_at_date, ledger_last_posting_date FROM intermediate.int_data_as_at"
    ).fetchone()
    census = scalar(con, "SELECT max(census_date) FROM intermediate.int_census_dates")
    said = f"{as_at.day} {as_at:%B %Y}"
    text = unescape((demo.report / "internal" / "report.html").read_text())
    top = text[: text.index('id="funding"')]
    assert f"Data as at {said}." in top
    # and in full with what the report is built from, at its end
    assert f"the ledger's last posting {ledger.day} {ledger:%B %Y}" in text
    assert f"the last census counted {census.day} {census:%B %Y}" in text
    output = " ".join(demo.output.split())
    assert f"Data as at: the latest date in the extracts is {said}" in output
    # more than a quarter old on the day it is built: said on both (and only then)
    stale = (dt.date.today() - as_at).days > STALE_AFTER_DAYS
    assert (f"The extracts reach {said}" in top) == stale
    assert (f"The extracts reach {said}" in output) == stale


def test_dbv_module_1_forecasts_by_age_and_need_transport_and_accuracy(demo, workbook, con):
    horizon = scalar(con, "SELECT max(financial_year) FROM forecast.hnb_position")
    census = int(horizon[:4]) + 1
    total = scalar(
        con,
        "SELECT plans_central FROM forecast.caseload WHERE scenario = 'unmitigated' "
        "AND provision_type = 'total' AND year = ?",
        census,
    )
    for name in ("forecast_by_age_unmitigated", "forecast_by_need_unmitigated"):
        table = as_dict(*block(workbook, name))
        assert table["Total"][horizon] == pytest.approx(total, rel=1e-9), name
    transport = as_dict(*block(workbook, "sen_transport"))
    ledger = dict(
        con.execute(
            "SELECT financial_year, sum(amount_gbp)::DOUBLE FROM intermediate.int_spend_allocated "
            "WHERE s251_line = '1.4.11' AND NOT is_high_needs GROUP BY 1"
        ).fetchall()
    )
    complete = [
        fy
        for (fy,) in con.execute(
            "SELECT financial_year FROM marts.fct_hnb_position WHERE is_complete_year"
        ).fetchall()
    ]
    assert any(ledger.get(fy) for fy in complete)
    for fy in complete:
        assert transport["Total"][fy] == pytest.approx(ledger.get(fy, 0.0), abs=0.005)
    headings, rows = block(workbook, "backtest")
    assert headings[:2] == ["Years ahead", "Provision type"] and rows
    accuracy = {(row[0], row[1]): dict(zip(headings, row, strict=True)) for row in rows}
    scored = dict(
        con.execute(
            "SELECT model, wape FROM forecast.backtest WHERE origin IS NULL AND horizon = 3 "
            "AND provision_type = 'total'"
        ).fetchall()
    )
    three = accuracy[(3, "All plans")]
    origins = scalar(
        con,
        "SELECT count(DISTINCT origin) FROM forecast.backtest WHERE origin IS NOT NULL "
        "AND horizon = 3 AND provision_type = 'total' AND model = 'cohort_model'",
    )
    assert three["Origins scored"] == origins > 1
    assert three["Model: error, WAPE (%)"] == pytest.approx(scored["cohort_model"])
    assert three["Compound growth (3 years): error, WAPE (%)"] == pytest.approx(
        scored["compound_growth_3y"]
    )
    # money-weighted: plans weighted by the council's cost per plan, scored like the plans
    spend = accuracy[(3, "Spend (plans weighted by cost per plan)")]
    money = con.execute(
        "SELECT wape, actual_plans FROM forecast.backtest WHERE origin IS NULL AND horizon = 3 "
        "AND provision_type = 'spend' AND model = 'cohort_model'"
    ).fetchone()
    assert spend["Model: error, WAPE (%)"] == pytest.approx(money[0]) and money[1] > 1_000_000
    html = (demo.report / "internal" / "report.html").read_text()
    assert 'id="model"' in html and "SEN transport, outside the high needs block" in html
    none = scalar(
        con,
        "SELECT sum(plans) FROM marts.fct_ehcp_cohort WHERE provision_type = 'none' "
        "AND census_year = (SELECT max(census_year) FROM marts.fct_ehcp_cohort)",
    )
    # at £0, so drawn out in words
    assert f"{none:,} children with a plan were in no placement" in html


def test_trace_forecast_lists_the_inputs_behind_a_forecast_figure(
    demo, con, monkeypatch, tmp_path, capsys
):
    for name, value in demo.environment.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "trace.csv"
    assert (
        main(["trace", "forecast", "--year", "2028-29", "--provision", "mss", "--out", str(out)])
        == 0
    )
    with out.open() as handle:
        rows = {(r["part"], r["input"]): r for r in csv.DictReader(handle)}
    spend = scalar(
        con,
        "SELECT spend_gbp_central FROM forecast.spend WHERE scenario = 'unmitigated' "
        "AND financial_year = '2028-29' AND provision_type = 'mss'",
    )
    assert float(rows[("figure", "spend unmitigated (central)")]["value"]) == pytest.approx(spend)
    base = scalar(con, "SELECT base_plans FROM forecast.rates WHERE provision_type = 'mss'")
    assert any(
        part == "caseload"
        and key.startswith("base caseload")
        and float(r["value"]) == pytest.approx(base)
        for (part, key), r in rows.items()
    )
    assert ("assumption", "unit cost growth") in rows and ("assumption", "pay inflation") in rows
    acting = {
        m
        for (m,) in con.execute(
            "SELECT DISTINCT mitigation FROM forecast.mitigations "
            "WHERE provision_types LIKE '%mss%' AND provision_types NOT LIKE '%inmss%'"
        ).fetchall()
    }
    assert acting and acting <= {key for part, key in rows if part == "mitigation"}
    # independent special schools take the children beyond the special schools' places, and
    # the mitigations on special schools and mainstream move children into them or out
    inmss = tmp_path / "inmss.csv"
    assert (
        main(
            ["trace", "forecast", "--year", "2028-29", "--provision", "inmss", "--out", str(inmss)]
        )
        == 0
    )
    with inmss.open() as handle:
        parts = {(r["part"], r["input"]): r for r in csv.DictReader(handle)}
    assert float(parts[("assumption", "capacity of mss")]["value"]) == 520
    assert acting <= {key for part, key in parts if part == "mitigation elsewhere"}
    assert main(["trace", "forecast", "--year", "2040-41", "--provision", "mss"]) == 2
    # a calendar year was a traceback; 2028/29 read as no forecast
    assert main(["trace", "forecast", "--year", "2027", "--provision", "mss"]) == 2
    assert "'2027' is not a financial year" in " ".join(capsys.readouterr().out.split())
    assert main(["trace", "forecast", "--year", "2028/29", "--provision", "mss"]) == 0


# --- publication ----------------------------------------------------------------------------


def small_counts(workbook, sheets) -> list:
    found = []
    for name in sheets:
        for row in workbook[name].iter_rows(min_row=4):
            for cell in row:
                if (
                    isinstance(cell.value, (int, float))
                    and not isinstance(cell.value, bool)
                    and 0 < cell.value < THRESHOLD
                    and cell.number_format == "#,##0"
                ):
                    found.append((name, cell.coordinate, cell.value))
    return found


def test_the_publication_version_suppresses_small_counts(demo):
    # (EHCP numbers also holds forecasts)
    counted = [
        "Caseload breakdowns",
        "Flows",
        "Provision spend",
    ]
    internal = load_workbook(demo.report / "internal" / "workbook.xlsx")
    publication = load_workbook(demo.report / "publication" / "workbook.xlsx")
    # the demo council has small groups (e.g. multi-sensory impairment)
    assert small_counts(internal, counted)
    assert small_counts(publication, counted) == []
    assert any(
        cell.value == "c" for row in publication["Caseload breakdowns"].iter_rows() for cell in row
    )
    # the numbers behind the charts: a suppressed count is `c` there too, not a blank cell that
    # reads as a number that does not exist
    published_rows = list(publication["Chart data"].iter_rows(values_only=True))
    internal_rows = list(internal["Chart data"].iter_rows(values_only=True))
    assert len(published_rows) == len(internal_rows)
    hidden = [
        (row, unsuppressed)
        for row, unsuppressed in zip(published_rows, internal_rows, strict=True)
        if "c" in row and row[2] == "plans"
    ]
    # small counts, and the counts hidden beside them so that no total gives them away
    assert all(isinstance(unsuppressed[3], (int, float)) for _, unsuppressed in hidden)
    assert any(0 < unsuppressed[3] < THRESHOLD for _, unsuppressed in hidden), hidden[:5]
    assert not any("c" in row for row in internal_rows)
    # charts whose publication rows come in another order (needs ranked by their shown counts) or
    # with a column fewer (age at provision start) are matched on their labels, not by position
    marked, title = {}, None
    for row in published_rows:
        if isinstance(row[0], str) and row[0].endswith("the numbers plotted"):
            title = row[0]
        marked[title] = marked.get(title, 0) + row.count("c")
    for chart in ("EHC plans by primary need", "Age at provision start"):
        assert any(t and t.startswith(chart) and n for t, n in marked.items()), (chart, marked)
    assert (
        "For publication: counts of children below 5 are suppressed"
        in (demo.report / "publication" / "report.html").read_text()
    )
    assert (
        "Internal: contains unsuppressed small counts"
        in (demo.report / "internal" / "report.html").read_text()
    )
    matrix = (
        demo.report / "publication" / "charts" / "10_moves_between_provision_types.png"
    ).read_bytes()
    assert (
        matrix
        != (
            demo.report / "internal" / "charts" / "10_moves_between_provision_types.png"
        ).read_bytes()
    )


# --- the browser and the Dagster UI ----------------------------------------------------------


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = (
            "chromium is not installed (apt-get install -y chromium); .ci/run installs it under CI"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.mark.parametrize("audience", ["internal", "publication"])
def test_the_report_opens_offline_in_headless_chromium_without_console_errors(demo, audience):
    from playwright.sync_api import sync_playwright

    executable = chromium()
    report = demo.report / audience / "report.html"
    problems, requests = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
            browser_page = context.new_page()
            browser_page.on(
                "console",
                lambda m: (
                    problems.append(f"{m.type}: {m.text}")
                    if m.type in ("error", "warning")
                    else None
                ),
            )
            browser_page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            browser_page.on("requestfailed", lambda r: problems.append(f"failed: {r.url[:80]}"))
            browser_page.on("request", lambda r: requests.append(r.url[:40]))
            browser_page.goto(report.as_uri(), wait_until="load")
            images = browser_page.eval_on_selector_all(
                "figure img", "imgs => imgs.map(i => i.naturalWidth)"
            )
            headings = browser_page.eval_on_selector_all(
                "section h2", "hs => hs.map(h => h.textContent)"
            )
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            browser_page.screenshot(path=str(ARTIFACTS / f"report_{audience}.png"), full_page=True)
        finally:
            browser.close()
    assert problems == []
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
    assert len(images) == 16 and all(width > 500 for width in images)
    assert headings[0] == "High needs funding, spend and the DSG balance" and len(headings) == len(
        SECTIONS
    )
    assert (ARTIFACTS / f"report_{audience}.png").stat().st_size > 100_000


def test_the_headline_chart_shows_in_the_dagster_ui_as_asset_metadata(demo, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", demo.environment["DAGSTER_HOME"])
    instance = dg.DagsterInstance.get()
    event = instance.get_latest_materialization_event(dg.AssetKey(["report"]))
    metadata = {name: value.value for name, value in event.asset_materialization.metadata.items()}
    assert metadata["headline"].startswith(
        "![High needs funding, spend and the cumulative DSG balance](data:image/png;base64,"
    )
    assert "The cumulative high needs balance was" in metadata["headline"]
    assert Path(metadata["report_internal"]) == demo.report / "internal" / "report.html"
    # a link that opens where the UI is read, as `highneeds ui` serves the report beside it
    assert metadata["open_report"] == "http://127.0.0.1:3001/internal/report.html"
    assert metadata["charts"] == 16 and metadata["code_version"]


def test_a_refresh_with_unchanged_inputs_keeps_the_last_report(demo, con):
    from report.build import ReportOptions, build_report, inputs_fingerprint

    # as the demo found no DfE files in its landing folder
    options = ReportOptions(
        out_dir=demo.report,
        council="869",
        threshold=THRESHOLD,
        reuse_unchanged=True,
        published=SHIPPED,
    )
    before = (demo.report / "internal" / "report.html").stat().st_mtime_ns
    kept = build_report(con, options)
    assert kept.reused and (demo.report / "internal" / "report.html").stat().st_mtime_ns == before
    assert (
        kept.headline_reading.startswith("The cumulative high needs balance was")
        and kept.headline_png
    )
    for changed in ({"threshold": 10}, {"council_name": "West Berkshire Council"}):
        assert inputs_fingerprint(con, options) != inputs_fingerprint(
            con, ReportOptions(**{**vars(options), **changed})
        )


# --- benchmarks against the DfE's published files --------------------------------------------


def published_files() -> Path:
    reference_file(
        "ehcp_2025_release/caseload.csv", "the 'Education, health and care plans' 2025 release"
    )
    reference_file(
        "ehcp_2025_release/newplans.csv", "the 'Education, health and care plans' 2025 release"
    )
    reference_file(
        "dsg_finance/dsg_allocations_by_la_2019-20_to_2023-24.csv",
        "the DSG allocations (see PROVENANCE.md)",
    )
    reference_file(
        "dsg_finance/dedicated-schools-grant_2023-24_blocks_detail.ods",
        "the DSG 2023-24 allocations detail",
    )
    return REFERENCE_DATA


@pytest.fixture(scope="module")
def benchmarks():
    return benchmark(load_published_data(published_files()), "869")


def number(text: str) -> float:
    return 0.0 if text in ("x", "z", "c", "") else float(text)


def published_caseload(year: int) -> dict[str, dict[str, str]]:
    """Every council's 'All EHC plans' row of caseload.csv
    for the January `year` census, as published."""
    period = f"{year - 1}{year % 100:02d}"
    with (REFERENCE_DATA / "ehcp_2025_release" / "caseload.csv").open(
        encoding="utf-8-sig"
    ) as handle:
        return {
            row["old_la_code"]: row
            for row in csv.DictReader(handle)
            if row["time_period"] == period
            and row["geographic_level"] == "Local authority"
            and row["breakdown_topic"] == "All EHC plans"
        }


def test_benchmarks_rank_the_council_among_all_councils_and_match_the_published_file(benchmarks):
    latest, before = published_caseload(2025), published_caseload(2024)
    values = benchmarks.values.set_index(["code", "indicator"])["value"]
    for code, row in latest.items():  # every council's figure is the published file's
        total = number(row["ehcplans"])
        if total == 0:
            continue
        if row["mainstream_total"] == "x":  # a total without its settings: no share to rank
            assert (code, "share_mainstream") not in values.index
            continue
        assert values[(code, "share_mainstream")] == pytest.approx(
            number(row["mainstream_total"]) / total, abs=1e-12
        )
        assert values[(code, "share_mainstream")] * 100 == pytest.approx(
            number(row["mainstream_total_pc"]), abs=0.051
        )
        independent = number(row["special_independent"]) + number(row["special_non_maintained"])
        assert values[(code, "share_independent_special")] == pytest.approx(
            independent / total, abs=1e-12
        )
        if code in before:
            assert values[(code, "ehcp_growth_1y")] == pytest.approx(
                total / number(before[code]["ehcplans"]) - 1, abs=1e-12
            )
    table = benchmarks.table.set_index("indicator")
    west_berkshire = latest["869"]
    assert (
        (table.loc["share_mainstream", "numerator"], table.loc["share_mainstream", "denominator"])
        == (number(west_berkshire["mainstream_total"]), number(west_berkshire["ehcplans"]))
        == (783, 1685)
    )
    with (REFERENCE_DATA / "ehcp_2025_release" / "newplans.csv").open(
        encoding="utf-8-sig"
    ) as handle:
        new = next(
            r
            for r in csv.DictReader(handle)
            if r["old_la_code"] == "869"
            and r["time_period"] == "2024"
            and r["breakdown_topic"] == "New EHC plans"
        )
    assert table.loc["new_plans_per_100", "council"] == pytest.approx(
        number(new["new_ehc_plans"]) / 1531 * 100
    )
    with (
        REFERENCE_DATA / "dsg_finance" / "dsg_allocations_by_la_2019-20_to_2023-24.csv"
    ).open() as handle:
        hnb = next(
            r
            for r in csv.DictReader(handle)
            if r["old_la_code"] == "869" and r["financial_year"] == "2023-24"
        )
    assert table.loc["hnb_per_plan", "council"] == pytest.approx(
        float(hnb["high_needs_block_gbp"]) / 1531
    )
    # ranked among every council with a usable published figure (1 = highest)
    for indicator, row in table.iterrows():
        usable = benchmarks.values[
            (benchmarks.values["indicator"] == indicator) & ~benchmarks.values["flagged"]
        ]
        assert row["councils_ranked"] == len(usable) >= 145, indicator
        assert row["rank"] == 1 + (usable["value"] > row["council"]).sum()
        assert row["percentile"] == pytest.approx((usable["value"] < row["council"]).mean() * 100)
    assert ENGLAND not in set(benchmarks.values["code"])
    assert table.loc["ehcp_growth_1y", "england"] == pytest.approx(638745 / 576474 - 1)
    assert len(benchmarks.neighbours) == 10 and "869" not in set(benchmarks.neighbours["code"])


def test_west_berkshire_s_2023_special_school_figures_are_flagged_not_used(benchmarks):
    flags = benchmarks.flags[
        (benchmarks.flags["code"] == "869") & (benchmarks.flags["census_year"] == 2023)
    ]
    dips = flags.set_index("series")
    assert (
        dips.loc["mss", "kind"],
        dips.loc["mss", "year_before"],
        dips.loc["mss", "value"],
        dips.loc["mss", "year_after"],
    ) == ("dip", 311, 153, 325)
    # the same places, published as non-maintained special
    assert dips.loc["inmss", "kind"] == "spike"
    trend = benchmarks.trends[
        (benchmarks.trends["series"] == "council")
        & (benchmarks.trends["measure"] == "share_independent_special")
    ].set_index("census_year")
    assert bool(trend.loc[2023, "flagged"]) and not trend.drop(index=2023)["flagged"].any()


@pytest.fixture(scope="module")
def benchmarked_report(demo, tmp_path_factory):
    """`highneeds report` on the demo warehouse, with the published files and council 869."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("benchmarked") / "report"
    output = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in demo.environment.items():
            patch.setenv(name, value)
        with contextlib.redirect_stdout(output):
            code = main(
                ["report", "--out", str(out), "--la", "869", "--published", str(published_files())]
            )
    assert code == 0, output.getvalue()
    return out, " ".join(output.getvalue().split())


def test_highneeds_report_writes_the_benchmark_section(benchmarked_report):
    out, printed = benchmarked_report
    assert (
        "Benchmarks: West Berkshire (869) ranked among 153 councils, against 10 similar councils; "
        "3 of its published figures flagged as likely errors and left out."
    ) in printed
    assert f"internal (every count): {out / 'internal' / 'report.html'}" in printed
    html = (out / "internal" / "report.html").read_text(encoding="utf-8")
    parsed = page(out / "internal" / "report.html")
    assert [f["key"] for f in parsed.figures if f["section"] == "benchmarks"] == [
        "14_benchmarks_position",
        "15_benchmarks_trends",
    ]
    assert {"table-benchmark_indicators", "table-similar_councils", "table-flags_council"} <= set(
        parsed.tables
    )
    assert "High needs block diagnostic: West Berkshire (869)" in html
    assert "311 → 153 → 325" in html and "of 153" in html
    workbook = load_workbook(out / "publication" / "workbook.xlsx")
    assert "Benchmarks" in workbook.sheetnames
    headings, rows = block(workbook, "benchmark_indicators")
    assert headings[:7] == [
        "Indicator",
        "Period",
        "West Berkshire",
        "England",
        "South East (pooled)",
        "Similar councils (median)",
        "Rank (1 = highest)",
    ]
    assert len(rows) == 6


def test_own_counts_are_reconciled_with_the_council_s_published_sen2_counts(demo, workbook, con):
    published_files()
    headings, rows = block(workbook, "reconciliation_published")
    assert headings == [
        "Provision type",
        "Own data",
        "Published (SEN2)",
        "Difference",
        "Difference (% of published)",
    ]
    table = as_dict(headings, rows)
    year = scalar(
        con, "SELECT max(census_year) FROM marts.fct_ehcp_cohort WHERE census_year <= 2025"
    )
    own = scalar(con, "SELECT sum(plans) FROM marts.fct_ehcp_cohort WHERE census_year = ?", year)
    published = number(published_caseload(year)["869"]["ehcplans"])
    assert table["Total"]["Own data"] == own and table["Total"]["Published (SEN2)"] == published
    assert table["Total"]["Difference"] == own - published
    independent = scalar(
        con,
        "SELECT sum(plans) FROM marts.fct_ehcp_cohort WHERE census_year = ? "
        "AND provision_type = 'inmss'",
        year,
    )
    assert table["Independent / non-maintained special"]["Own data"] == independent
    html = (demo.report / "internal" / "report.html").read_text()
    assert f"Own counts against the published SEN2 counts, January {year}" in html


def test_the_sensitivity_table_reads_as_the_scenario_chart_does(workbook):
    headings, rows = block(workbook, "sensitivity")
    assumptions = {row[0] for row in rows}
    assert assumptions == {
        "Funding growth",
        "Unit-cost inflation",
        "New plans",
        "Inflation taken off past growth",
    }
    assert headings[2] == "Value (%)"
    # numbers, as the workbook keeps them: per cent as fractions, one unit down the column
    values = {(row[0], row[1]): row[2] for row in rows}
    assert values[("Funding growth", "flat cash")] == 0.0
    assert values[("New plans", "high")] == pytest.approx(0.10)
    assert values[("Funding growth", "low")] == pytest.approx(0.015)
    assert values[("Inflation taken off past growth", "high")] == pytest.approx(0.06)


def test_a_first_forecast_year_that_keeps_postings_hides_a_type_whose_postings_are(data):
    """The first forecast year keeps what the ledger posted of it: by December a type's spend
    that year is mostly its postings, so a type with one child, whose postings provision_spend
    hides, was shown nearly whole in the publication's expenditure tables and spend chart."""
    from report.data import spend_forecast_published, spend_published
    from report.tables import expenditure_by_line, expenditure_by_provision

    first = min(data.spend_forecast["financial_year"])
    posted = data.spend[data.spend["financial_year"] == data.complete_years[-1]].assign(
        financial_year=first, is_complete_year=False
    )
    small = posted["provision_type"] == "inmss"
    posted.loc[small, ["placements", "fte_placements", "spend_gbp"]] = [1, 0.5, 21_000.0]
    assumption = pd.DataFrame(
        [("first_year_posted_spend", None, first, 1e6, "£", "posted so far")],
        columns=["assumption", "provision_type", "financial_year", "value", "unit", "source"],
    )
    begun = dataclasses.replace(
        data,
        spend=pd.concat([data.spend, posted], ignore_index=True),
        assumptions=pd.concat([data.assumptions, assumption], ignore_index=True),
    )
    hidden_posted = spend_published(begun, THRESHOLD)
    hidden_posted = set(
        hidden_posted.loc[
            (hidden_posted["financial_year"] == first) & hidden_posted["spend_gbp"].isna(),
            "provision_type",
        ]
    )
    assert "inmss" in hidden_posted
    shown = spend_forecast_published(begun, THRESHOLD)
    gone = shown["spend_gbp_central"].isna()
    assert set(shown.loc[gone, "provision_type"]) == hidden_posted
    assert set(shown.loc[gone, "financial_year"]) == {first}
    assert not spend_forecast_published(begun, None)["spend_gbp_central"].isna().any()
    table = expenditure_by_provision(begun, "unmitigated", THRESHOLD)
    row = table.frame.index[table.frame["Provision type"] == begun.labels["inmss"]][0]
    assert pd.isna(table.frame.loc[row, first]) and table.suppressed.loc[row, first]
    internal = expenditure_by_provision(begun, "unmitigated")
    assert internal.frame[first].iloc[-1] == pytest.approx(table.frame[first].iloc[-1])
    split = [t for t in expenditure_by_line(begun, THRESHOLD) if first in t.frame.columns]
    assert len(split) == 2  # each scenario's: the year has no split by type
    assert all(t.frame[first].iloc[:-1].isna().all() for t in split)


def test_a_type_hidden_on_the_last_census_has_no_forecast_published(data):
    """Forecast spend ÷ (forecast plans × the published unit-cost growth) is the base year's spend
    per plan, which with the base spend shown gave a hidden census count back (3 early-years
    plans, exactly). For publication, a type hidden on the last census or in the base year's
    spend has neither forecast plans nor forecast spend nor places per plan published; the
    forecast's total plans still are."""
    from report.data import hidden_at_base, spend_forecast_published
    from report.tables import assumptions, ehcp_by_placement

    last = data.caseload.index.max()
    counts = data.caseload.loc[last]
    threshold = int(counts[counts > 0].min()) + 1  # the smallest type's count is hidden
    hidden = hidden_at_base(data, threshold)
    assert hidden and hidden_at_base(data, None) == set()
    spend = spend_forecast_published(data, threshold)
    assert spend.loc[spend["provision_type"].isin(hidden), "spend_gbp_central"].isna().all()
    assert spend.loc[~spend["provision_type"].isin(hidden), "spend_gbp_central"].notna().any()
    _, detail = ehcp_by_placement(data, "unmitigated", threshold)
    table = detail.frame.set_index("Provision type")
    year = data.forecast_years[-1]
    for provision in hidden:
        assert pd.isna(table.loc[data.labels[provision], year])
    whole = data.caseload_forecast[
        (data.caseload_forecast["scenario"] == "unmitigated")
        & (data.caseload_forecast["provision_type"] == "total")
    ]["plans_central"].max()
    assert table.loc["Total", year] == pytest.approx(whole)
    [shown] = assumptions(data, threshold)
    per_plan = shown.frame[shown.frame.iloc[:, 0] == "Full-time places per plan"]
    labels = {data.labels[p] for p in hidden}
    assert per_plan.loc[per_plan.iloc[:, 1].isin(labels)].iloc[:, 3].isna().all()


def test_the_summary_labels_the_forecast_held_with_its_own_horizon(con, data):
    """After a forecast that failed with a new horizon, the tables hold the last good forecast:
    the summary showed its figures under the new horizon's label (or blanks where it had none)."""
    from types import SimpleNamespace

    from rich.console import Console

    from dagster_project.cli.summary import _print_council

    (la_code,) = con.execute("SELECT DISTINCT la_code FROM marts.fct_ehcp_cohort").fetchone()
    console = Console(record=True, width=250)
    _print_council(con, SimpleNamespace(horizon="2030-31"), console, la_code, False)
    said = " ".join(console.export_text().split())
    assert f"The forecast held reaches {data.horizon}, not the 2030-31 the settings ask" in said
    assert f"Cumulative high needs balance at end of {data.horizon}, unmitigated" in said
    assert "2030-31 forecast" not in said and "end of 2030-31" not in said
    assert "this refresh's forecast did not run" not in said
    # a forecast that failed with the same horizon: its last figures beside this data's actuals
    # read as this data's forecast, the run's last line alone saying it was not updated
    console = Console(record=True, width=250)
    _print_council(
        con, SimpleNamespace(horizon=data.horizon), console, la_code, False, forecast_ran=False
    )
    said = " ".join(console.export_text().split())
    assert "The forecast figures below are the last forecast that ran, from the data as it" in said
    from dagster_project.cli.runner import RefreshOutcome
    from dagster_project.cli.summary import forecast_written

    assert forecast_written(RefreshOutcome(success=True, run_id="r"))
    assert not forecast_written(
        RefreshOutcome(success=False, run_id="r", not_run=["forecast/caseload"])
    )


def test_a_year_in_progress_is_drawn_estimated_between_the_actuals_and_the_forecast(data):
    """A refresh in February: the tables showed the year in progress, estimated, but the headline
    and spend charts went from the last complete year straight to the forecast's first, a year
    further on, doubling the first year's apparent jump; the footer's years left it out."""
    from report.charts import funding_and_balance, spend_trend

    last = data.complete_years[-1]
    position = data.position.copy()
    position.loc[position["financial_year"] == last, "is_complete_year"] = False
    by_type = data.spend[data.spend["financial_year"] == last]
    rows = [
        ("in_progress_year_funding", None, 40e6),
        ("in_progress_year_spend", None, float(by_type["spend_gbp"].sum()) * 1.1),
        *(
            ("in_progress_year_spend_by_type", r.provision_type, r.spend_gbp * 1.1)
            for r in by_type.itertuples()
        ),
    ]
    estimated = pd.DataFrame(
        [
            {"assumption": a, "provision_type": p, "financial_year": last, "value": v, "unit": "£"}
            for a, p, v in rows
        ]
    )
    february = dataclasses.replace(
        data,
        position=position,
        assumptions=pd.concat([data.assumptions, estimated], ignore_index=True),
    )
    chart = funding_and_balance(february)
    shown = chart.data[chart.data["financial_year"] == last].set_index("measure")
    assert set(shown["scenario"]) == {"estimated"}
    assert shown.loc["spend", "value_gbp"] == rows[1][2]
    before = position[position["financial_year"] < last]["cumulative_balance_gbp"].iloc[-1]
    assert shown.loc["cumulative_balance", "value_gbp"] == pytest.approx(before + 40e6 - rows[1][2])
    for threshold in (None, THRESHOLD):
        bars = spend_trend(february, threshold).data
        year = bars[bars["financial_year"] == last]
        assert year["is_estimated"].all() and not year["is_forecast"].any()
        assert year["spend_gbp"].sum() == pytest.approx(rows[1][2])
