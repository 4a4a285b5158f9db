"""The DSG management plan workbook as councils fill it (issue 14 item 5), on the demo council: a
whole-DSG summary whose formulas reach the forecast's balance and take the council's entries,
plans by age group, each mitigation with assured and assessed subtotals, totals and balances
that are formulas giving the forecast tables' figures, numbers stored as numbers, and the
2028-29 balances the same in the workbook, the HTML report and the CLI summary."""

import math
import re
from collections import defaultdict

import pytest
from openpyxl import load_workbook

from report import style
from report.tables import AGE_ORDER, EACH_ALONE, KIND_PLURAL, MITIGATED_FORECAST, TOGETHER
from tests.xlsx_formulas import Evaluator, is_formula, locate

SCENARIOS = ("unmitigated", "mitigated")
BLOCKS = ("Schools block", "Central school services block", "Early years block")
INPUT = "FFF2CC"
NUMBER_TEXT = re.compile(r"^\s*[-+−]?\s*£?\s*[-+−]?\d[\d,]*(\.\d+)?\s*%?\s*$")


@pytest.fixture(scope="module")
def workbook(demo):
    return load_workbook(demo.report / "internal" / "workbook.xlsx")


def rows(con, sql: str, *params) -> list[tuple]:
    return con.execute(sql, list(params)).fetchall()


def fy(census_year: int) -> str:
    return f"{census_year - 1}-{census_year % 100:02d}"


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --- the whole-DSG summary ---------------------------------------------------------------------


def summary_lines() -> list[str]:
    lines = [
        "High needs block: funding",
        "High needs block: import/export adjustments (+ imports, − exports)",
        "High needs block: total funding",
        "High needs block: spend",
        "High needs block: in-year balance",
    ]
    for block in BLOCKS:
        lines += [f"{block}: funding", f"{block}: spend", f"{block}: in-year balance"]
    return lines + [
        "DSG: total funding",
        "DSG: total spend",
        "DSG: in-year balance",
        "DSG: balance brought forward (1 April)",
        "DSG: balance carried forward (31 March)",
    ]


def test_the_summary_covers_the_whole_dsg_and_its_formulas_reach_the_forecast_balance(
    workbook, con
):
    base, cumulative, in_year = rows(
        con,
        "SELECT financial_year, cumulative_balance_gbp::DOUBLE, "
        "in_year_balance_gbp::DOUBLE FROM marts.fct_hnb_position "
        "WHERE is_complete_year ORDER BY 1 DESC LIMIT 1",
    )[0]
    entered = {
        "High needs block: import/export adjustments (+ imports, − exports)",
        *(f"{block}: {what}" for block in BLOCKS for what in ("funding", "spend")),
    }
    for scenario in SCENARIOS:
        table = locate(workbook, f"dsg_plan_summary_{scenario}")
        assert table.sheet.title == "DSG plan summary"
        forecast = {
            year: (funding, spend, balance, cumulative_)
            for year, funding, spend, balance, cumulative_ in rows(
                con,
                "SELECT financial_year, funding_gbp, spend_gbp_central, "
                "in_year_balance_gbp_central, cumulative_balance_gbp_central "
                "FROM forecast.hnb_position WHERE scenario = ?",
                scenario,
            )
        }
        years = [base, *sorted(forecast)]
        assert table.headings == ["Line", *years, "Source"]
        assert list(table.labels) == summary_lines()
        for line in summary_lines():
            for year in years:
                cell = table.sheet[table.coordinate(line, year)]
                # left for the council: blank and shaded, never a made-up number
                if line in entered:
                    assert cell.value is None and cell.fill.fgColor.rgb.endswith(INPUT), (
                        line,
                        year,
                    )
                    assert "enter" in table.raw(line, "Source")
                elif line in ("High needs block: funding", "High needs block: spend"):
                    # the model's number, which formulas use
                    assert is_number(cell.value), (
                        line,
                        year,
                    )
                elif line != "DSG: balance brought forward (1 April)" or year != base:
                    assert is_formula(cell.value), (line, year)
        assert close(table.value("DSG: balance carried forward (31 March)", base), cumulative)
        assert close(
            table.value("DSG: balance brought forward (1 April)", base), cumulative - in_year
        )
        for year, (funding, spend, balance, cumulative_) in forecast.items():
            assert table.value("High needs block: funding", year) == pytest.approx(
                funding, rel=1e-12
            )
            assert table.value("High needs block: spend", year) == pytest.approx(spend, rel=1e-12)
            assert close(table.value("DSG: total funding", year), funding)
            assert close(table.value("High needs block: in-year balance", year), balance)
            assert close(table.value("DSG: in-year balance", year), balance)
            assert close(table.value("DSG: balance carried forward (31 March)", year), cumulative_)


def test_the_council_s_entries_flow_through_to_the_dsg_balance(demo, con):
    workbook = load_workbook(demo.report / "internal" / "workbook.xlsx")  # its own copy: written to
    table = locate(workbook, "dsg_plan_summary_mitigated")
    years = table.headings[1:-1]
    horizon = years[-1]
    balance = rows(
        con,
        "SELECT cumulative_balance_gbp_central FROM forecast.hnb_position "
        "WHERE scenario = 'mitigated' AND financial_year = ?",
        horizon,
    )[0][0]
    sheet = table.sheet
    sheet[table.coordinate("Schools block: funding", years[1])] = 1_000_000
    sheet[table.coordinate("Schools block: spend", years[1])] = 1_250_000
    sheet[table.coordinate("Early years block: spend", years[2])] = 50_000
    sheet[
        table.coordinate(
            "High needs block: import/export adjustments (+ imports, − exports)", years[2]
        )
    ] = 120_000
    evaluate = Evaluator(sheet)
    assert close(evaluate(table.coordinate("Schools block: in-year balance", years[1])), -250_000)
    assert close(
        evaluate(table.coordinate("DSG: balance carried forward (31 March)", horizon)),
        balance - 250_000 - 50_000 + 120_000,
    )


# --- plans by age group --------------------------------------------------------------------------


def test_plans_by_age_group_actual_then_forecast(workbook, con):
    actual = defaultdict(float)
    for year, age, plans in rows(
        con, "SELECT census_year, age_group, sum(plans) FROM marts.fct_ehcp_cohort GROUP BY 1, 2"
    ):
        actual[(fy(year), age)] = plans
    census = {
        fy(year): plans
        for year, plans in rows(
            con, "SELECT census_year, sum(plans) FROM marts.fct_ehcp_cohort GROUP BY 1"
        )
    }
    for scenario in SCENARIOS:
        table = locate(workbook, f"ehcp_by_age_{scenario}")
        assert table.sheet.title == "EHCP numbers"
        forecast = {
            (fy(year), age): plans
            for year, age, plans in rows(
                con,
                "SELECT year, age_group, sum(plans_central) FROM forecast.caseload_by_age "
                "WHERE scenario = ? AND provision_type <> 'total' GROUP BY 1, 2",
                scenario,
            )
        }
        totals = {
            fy(year): plans
            for year, plans in rows(
                con,
                "SELECT year, plans_central FROM forecast.caseload "
                "WHERE scenario = ? AND provision_type = 'total'",
                scenario,
            )
        }
        years = sorted({y for y, _ in actual} | {y for y, _ in forecast})
        assert table.headings == ["Age group", *years]
        assert list(table.labels) == [*AGE_ORDER, "Total"]
        for (year, age), plans in [*actual.items(), *forecast.items()]:
            assert table.raw(age, year) == pytest.approx(plans, rel=1e-12), (scenario, age, year)
        for year in years:
            assert is_formula(table.raw("Total", year))
            expected = census[year] if year in census else totals[year]
            assert table.value("Total", year) == pytest.approx(expected, rel=1e-9), (scenario, year)


# --- the mitigations ------------------------------------------------------------------------------


def test_each_mitigation_with_its_plan_and_assured_and_assessed_subtotals(workbook, con):
    horizon = rows(con, "SELECT max(financial_year) FROM forecast.hnb_position")[0][0]
    effects = rows(
        con,
        "SELECT mitigation, kind, status, effect, assumption_text, delivery_cost_gbp, owner, "
        "milestones, risk, cumulative_balance_effect_gbp FROM forecast.mitigations "
        "WHERE financial_year = ?",
        horizon,
    )
    plan = locate(workbook, "mitigation_plan")
    assert plan.sheet.title == "Mitigations"
    cumulative = f"Effect on cumulative balance by {horizon}"
    for heading in (
        "Kind",
        "Status",
        "Lever parameters",
        "Assumption",
        "Cost to deliver (£ a year)",
        "Owner",
        "Milestones",
        "Risk",
        cumulative,
    ):
        assert heading in plan.headings
    groups: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for (
        name,
        kind,
        status,
        effect,
        assumption,
        cost,
        owner,
        milestones,
        risk,
        at_horizon,
    ) in effects:
        assert (plan.raw(name, "Kind"), plan.raw(name, "Status")) == (kind, status)
        assert plan.raw(name, "Lever parameters") == effect
        for heading, value in (
            ("Assumption", assumption),
            ("Owner", owner),
            ("Milestones", milestones),
            ("Risk", risk),
        ):
            assert (plan.raw(name, heading) or None) == (value or None), (name, heading)
        assert plan.raw(name, "Cost to deliver (£ a year)") == (
            None if cost is None or math.isnan(cost) else cost
        )
        assert plan.raw(name, cumulative) == pytest.approx(at_horizon, rel=1e-12)
        groups[(kind, status)][0] += 0.0 if cost is None or math.isnan(cost) else cost
        groups[(kind, status)][1] += at_horizon
    assert {status for _, status in groups} == {"assured", "assessed"}
    for (kind, status), (cost, effect) in groups.items():
        label = f"Subtotal: {status} {KIND_PLURAL[kind]}"
        assert plan.raw(label, cumulative).startswith("=SUMIFS(")
        assert close(plan.value(label, "Cost to deliver (£ a year)"), cost)
        assert close(plan.value(label, cumulative), effect)
    assert close(plan.value(EACH_ALONE, cumulative), sum(e for _, e in groups.values()))

    log = locate(workbook, "mitigation_log")
    by_group = defaultdict(float)
    for name, kind, status, year, in_year, at in rows(
        con,
        "SELECT mitigation, kind, status, financial_year, in_year_balance_effect_gbp, "
        "cumulative_balance_effect_gbp FROM forecast.mitigations",
    ):
        by_group[(kind, status, year)] += in_year
        assert log.raw(name, year) == pytest.approx(in_year, rel=1e-12, abs=1e-6)
        if year == horizon:
            assert is_formula(log.raw(name, cumulative)) and close(log.value(name, cumulative), at)
    for (kind, status, year), total in by_group.items():
        label = f"Subtotal: {status} {KIND_PLURAL[kind]}"
        assert is_formula(log.raw(label, year)) and close(log.value(label, year), total), (
            label,
            year,
        )
    every = defaultdict(float)
    for (_, _, year), total in by_group.items():
        every[year] += total
    for year, total in every.items():
        assert close(log.value(EACH_ALONE, year), total)
    # the mitigations overlap: the effects measured alone need not add up to the mitigated
    # forecast's, and the log says by how much
    for year, change in rows(
        con,
        "SELECT financial_year, sum(in_year_balance_gbp_central * CASE scenario "
        "WHEN 'mitigated' THEN 1 ELSE -1 END) FROM forecast.hnb_position "
        "WHERE scenario IN ('mitigated', 'unmitigated') GROUP BY 1",
    ):
        assert close(log.value(MITIGATED_FORECAST, year), change)
        assert close(log.value(TOGETHER, year), change - every[year])


# --- totals, subtotals and balances are formulas --------------------------------------------------


def test_totals_and_balances_are_formulas_giving_the_forecast_tables_figures(workbook, con):
    census = {
        fy(year): plans
        for year, plans in rows(
            con, "SELECT census_year, sum(plans) FROM marts.fct_ehcp_cohort GROUP BY 1"
        )
    }
    actual_spend = dict(
        rows(
            con,
            "SELECT financial_year, spend_gbp::DOUBLE FROM marts.fct_hnb_position "
            "WHERE is_complete_year",
        )
    )
    for scenario in SCENARIOS:
        plans = {
            fy(year): value
            for year, value in rows(
                con,
                "SELECT year, plans_central FROM forecast.caseload "
                "WHERE scenario = ? AND provision_type = 'total'",
                scenario,
            )
        }
        spend = dict(
            rows(
                con,
                "SELECT financial_year, sum(spend_gbp_central) FROM forecast.spend "
                "WHERE scenario = ? GROUP BY 1",
                scenario,
            )
        )
        for name, expected in (
            (f"ehcp_by_category_{scenario}", census | plans),
            (f"ehcp_by_provision_{scenario}", census | plans),
            (f"expenditure_by_provision_{scenario}", actual_spend | spend),
            (f"expenditure_by_line_{scenario}", actual_spend | spend),
        ):
            table = locate(workbook, name)
            for year, value in expected.items():
                assert is_formula(table.raw("Total", year)), (name, year)
                assert table.value("Total", year) == pytest.approx(value, rel=1e-9, abs=0.005), (
                    name,
                    year,
                )
            for row in table.rows[:-1]:  # what the totals add: numbers, not formulas or text
                for year in expected:
                    value = table.sheet.cell(row, table.headings.index(year) + 1).value
                    assert value is None or is_number(value), (name, row, year)
        position = locate(workbook, f"funding_and_balances_{scenario}")
        for year, in_year, cumulative in rows(
            con,
            "SELECT financial_year, in_year_balance_gbp_central, cumulative_balance_gbp_central "
            "FROM forecast.hnb_position WHERE scenario = ?",
            scenario,
        ):
            for line, value in (
                ("In-year balance (funding − spend)", in_year),
                ("Cumulative DSG high needs balance", cumulative),
            ):
                assert is_formula(position.raw(line, year)) and close(
                    position.value(line, year), value
                )
    history = locate(workbook, "funding_and_balances_actual")
    first = history.headings[1]
    for year, funding, in_year, cumulative in rows(
        con,
        "SELECT financial_year, funding_gbp::DOUBLE, in_year_balance_gbp::DOUBLE, "
        "cumulative_balance_gbp::DOUBLE FROM marts.fct_hnb_position WHERE is_complete_year",
    ):
        for line, value in (
            ("Total high needs funding", funding),
            ("In-year balance (funding − spend)", in_year),
            ("Cumulative DSG high needs balance", cumulative),
        ):
            assert is_formula(history.raw(line, year)), (line, year)
            assert round(history.value(line, year), 2) == pytest.approx(value, abs=0.005), (
                line,
                year,
            )
    # every balance a formula from one figure: the first year's balance brought forward (the
    # budget file's, the auditor's starting point), shown rather than folded into a typed close
    brought = "Balance brought forward (1 April)"
    assert not is_formula(history.raw(brought, first))
    [(opening,)] = rows(
        con,
        "SELECT (cumulative_balance_gbp - in_year_balance_gbp)::DOUBLE FROM "
        "marts.fct_hnb_position WHERE financial_year = ?",
        first,
    )
    assert history.value(brought, first) == pytest.approx(opening, abs=0.005)
    assert all(is_formula(history.raw(brought, year)) for year in history.headings[2:])
    gap = locate(workbook, "gap_to_balance")
    for year, in_year, cumulative in rows(
        con,
        "SELECT financial_year, in_year_balance_gbp, cumulative_balance_gbp "
        "FROM forecast.gap_to_balance",
    ):
        assert is_formula(gap.raw(year, "In-year balance")) and close(
            gap.value(year, "In-year balance"), in_year
        )
        # every year's, the first's too: from the actual close (an edit to its funding or spend
        # had stopped at its in-year balance)
        assert is_formula(gap.raw(year, "Cumulative balance")) and close(
            gap.value(year, "Cumulative balance"), cumulative
        )


# --- numbers as numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize("audience", ["internal", "publication"])
def test_no_number_is_stored_as_text(demo, audience):
    workbook = load_workbook(demo.report / audience / "workbook.xlsx")
    as_text = [
        (sheet.title, cell.coordinate, cell.value)
        for sheet in workbook.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if isinstance(cell.value, str) and NUMBER_TEXT.match(cell.value)
    ]
    assert as_text == []
    for sheet in workbook.worksheets:  # and every formula is one the tests can read
        evaluate = Evaluator(sheet)
        for row in sheet.iter_rows():
            for cell in row:
                if is_formula(cell.value):
                    assert is_number(evaluate(cell.coordinate)), (sheet.title, cell.coordinate)


def test_percentages_are_numbers_with_a_percent_format_and_ranks_whole_numbers(workbook, con):
    rates = locate(workbook, "assumptions")
    column = rates.headings.index("As a rate (%)") + 1
    growth = rows(
        con, "SELECT value FROM forecast.assumptions WHERE assumption = 'funding_growth'"
    )[0][0]
    cells = [
        rates.sheet.cell(row, column)
        for row in rates.rows
        if rates.sheet.cell(row, column).value is not None
    ]
    assert cells and all(is_number(c.value) and c.number_format.endswith("%") for c in cells)
    assert rates.raw("Funding growth after the budget file", "As a rate (%)") == pytest.approx(
        growth
    )
    accuracy = locate(workbook, "backtest")
    shares = [
        accuracy.sheet.cell(row, accuracy.headings.index(heading) + 1)
        for row in accuracy.rows
        for heading in accuracy.headings
        if heading.endswith("(%)")
    ]
    shares = [cell for cell in shares if cell.value is not None]  # (a baseline may have no scores)
    assert shares and all(is_number(c.value) and c.number_format.endswith("%") for c in shares)
    benchmarks = locate(workbook, "benchmark_indicators")
    share = "Share of plans in mainstream schools (resourced provision and units included)"
    cell = benchmarks.sheet[benchmarks.coordinate(share, "England")]
    assert is_number(cell.value) and 0 < cell.value < 1 and cell.number_format.endswith("%")
    for row in benchmarks.rows:
        for heading in ("Rank (1 = highest)", "Councils ranked", "Percentile"):
            value = benchmarks.sheet.cell(row, benchmarks.headings.index(heading) + 1).value
            assert value is None or type(value) is int, (row, heading, value)
    similar = locate(workbook, "similar_councils")
    # old LA codes
    assert all(type(similar.sheet.cell(row, 1).value) is int for row in similar.rows)


# --- one figure everywhere ------------------------------------------------------------------------


def test_the_2028_29_balances_are_the_same_in_the_workbook_the_html_report_and_the_cli(
    demo, workbook, con
):
    from dagster_project.cli.summary import money_m

    horizon = "2028-29"
    out = " ".join(demo.output.split())
    html = (demo.report / "internal" / "report.html").read_text(encoding="utf-8")
    published = load_workbook(demo.report / "publication" / "workbook.xlsx")
    shown = {}
    for scenario in SCENARIOS:
        balance = rows(
            con,
            "SELECT cumulative_balance_gbp_central FROM forecast.hnb_position "
            "WHERE scenario = ? AND financial_year = ?",
            scenario,
            horizon,
        )[0][0]
        for book in (workbook, published):
            summary = locate(book, f"dsg_plan_summary_{scenario}")
            position = locate(book, f"funding_and_balances_{scenario}")
            for figure in (
                summary.value("DSG: balance carried forward (31 March)", horizon),
                position.value("Cumulative DSG high needs balance", horizon),
            ):
                assert close(figure, balance), scenario
        shown[scenario] = summary.value("DSG: balance carried forward (31 March)", horizon)
        assert (
            f"Cumulative high needs balance at end of {horizon}, {scenario}: "
            f"{money_m(shown[scenario])}" in out
        )
    assert f"reaches {style.pounds_m(shown['unmitigated'])} by the end of {horizon}" in html
    assert f"{style.pounds_m(shown['mitigated'])} with the mitigations" in html
