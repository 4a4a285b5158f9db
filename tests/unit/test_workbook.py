"""The workbook writer on tiny hand-made tables: totals, subtotals and balances written as
formulas that give the model's figures (and the figure kept where a formula would not), the
whole-DSG summary with its input cells, and numbers stored as numbers."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

from report.tables import (
    EACH_ALONE,
    FUNDING_LINES,
    Table,
    funding_and_balances,
    mitigation_log,
    mitigation_plan,
)
from report.workbook import write_workbook
from tests.xlsx_formulas import Evaluator, is_formula, locate


def written(tmp_path, sheets, data=None):
    path = write_workbook(
        tmp_path / "workbook.xlsx", sheets, "A council", [("Council", "A council")], data=data
    )
    return load_workbook(path)


def money_table(name="spend", total=None, suppressed=None) -> Table:
    frame = pd.DataFrame(
        {"Line": ["a", "b", "c"], "2024-25": [1.25, 2.5, np.nan], "2025-26": [10.0, 20.0, 30.0]}
    )
    frame.loc[3] = ["Total", frame["2024-25"].sum() if total is None else total, 60.0]
    return Table(name, "Spend (£)", frame, "money", "", ["Total"], suppressed)


def test_a_total_is_a_sum_formula_giving_the_table_s_figure(tmp_path):
    table = locate(written(tmp_path, {"Spend": [money_table()]}), "spend")
    assert (
        table.raw("Total", "2024-25") == "=SUM(B6:B8)"
        and table.raw("Total", "2025-26") == "=SUM(C6:C8)"
    )
    assert table.value("Total", "2024-25") == 3.75 and table.value("Total", "2025-26") == 60.0
    assert table.sheet["B6"].number_format == "£#,##0;-£#,##0;£0"


def test_a_total_that_is_not_the_sum_of_what_is_shown_stays_the_figure(tmp_path):
    hidden = pd.DataFrame(False, index=range(4), columns=["Line", "2024-25", "2025-26"])
    hidden.loc[1, "2025-26"] = (
        True  # suppressed for publication: the published total is not the sum shown
    )
    workbook = written(
        tmp_path,
        {"Spend": [money_table("off", total=99.0), money_table("hidden", suppressed=hidden)]},
    )
    off = locate(workbook, "off")
    assert off.raw("Total", "2024-25") == 99.0 and is_formula(off.raw("Total", "2025-26"))
    published = locate(workbook, "hidden")
    assert published.raw("b", "2025-26") == "c" and published.raw("Total", "2025-26") == 60.0


def test_money_is_stored_to_the_penny(tmp_path):
    """Spend summed in floating point (5,529,132.31 read 5529132.310000001 in the workbook's
    cell); a model's figure between pennies, a rate or a decimal column keeps its places."""
    frame = pd.DataFrame(
        {
            "Line": ["1.2.1", "1.2.2", "1.2.3"],
            "2017-18": [5529132.31 + 1e-9, 360000.10 + 1.2e-10, 44091243.45498781],
            "Full-time places per plan": [0.96123, 0.5, 0.25],
        }
    )
    table = locate(written(tmp_path, {"Spend": [Table("lines", "Lines", frame, "money")]}), "lines")
    assert table.raw("1.2.1", "2017-18") == 5529132.31
    assert table.raw("1.2.2", "2017-18") == 360000.10
    assert table.raw("1.2.3", "2017-18") == 44091243.45498781
    assert table.raw("1.2.1", "Full-time places per plan") == 0.96123


def test_numbers_are_stored_as_numbers(tmp_path):
    frame = pd.DataFrame(
        {
            "Old LA code": ["869", "800"],
            "As a rate (%)": [3.0, np.nan],
            "Bias share": [0.12, -0.05],
            "Rank (1 = highest)": [84.0, np.nan],
            "Spend (£)": [1234.5, 0.0],
        }
    )
    table = locate(written(tmp_path, {"Mixed": [Table("mixed", "Mixed", frame, "mixed")]}), "mixed")
    assert table.raw(869, "Old LA code") == 869 and table.raw(800, "Old LA code") == 800
    rate = table.sheet[table.coordinate(869, "As a rate (%)")]
    assert rate.value == pytest.approx(0.03) and rate.number_format == "0.0%"
    assert table.sheet[table.coordinate(800, "Bias share")].number_format == "0.0%"
    rank = table.raw(869, "Rank (1 = highest)")
    assert rank == 84 and type(rank) is int and table.raw(800, "Rank (1 = highest)") is None


def fake_report(base_cumulative: float = -4_000_000.0):
    position = pd.DataFrame(
        {
            "financial_year": ["2024-25", "2025-26"],
            "funding_gbp": [30e6, 31e6],
            "spend_gbp": [31e6, 32.5e6],
            "in_year_balance_gbp": [-1e6, -1.5e6],
            "cumulative_balance_gbp": [base_cumulative + 1.5e6, base_cumulative],
            "is_complete_year": [True, True],
            "has_budget": [True, True],
        }
    )
    years = ["2026-27", "2027-28", "2028-29"]
    forecast = []
    for scenario, extra in (("unmitigated", 0.0), ("mitigated", 0.5e6)):
        cumulative = base_cumulative
        for k, year in enumerate(years):
            funding, spend = 32e6 + k * 1e6 + extra, 34e6 + k * 2e6
            cumulative += funding - spend
            forecast.append((scenario, year, funding, spend, funding - spend, cumulative))
    position_forecast = pd.DataFrame(
        forecast,
        columns=[
            "scenario",
            "financial_year",
            "funding_gbp",
            "spend_gbp_central",
            "in_year_balance_gbp_central",
            "cumulative_balance_gbp_central",
        ],
    )
    return SimpleNamespace(
        position=position,
        position_forecast=position_forecast,
        complete_years=["2024-25", "2025-26"],
        forecast_years=years,
    )


def test_the_dsg_summary_reaches_the_forecast_balance_and_takes_the_council_s_entries(tmp_path):
    data = fake_report()
    workbook = written(tmp_path, {"DSG plan summary": []}, data)
    for scenario in ("unmitigated", "mitigated"):
        table = locate(workbook, f"dsg_plan_summary_{scenario}")
        assert table.headings == ["Line", "2025-26", "2026-27", "2027-28", "2028-29", "Source"]
        expected = data.position_forecast[data.position_forecast["scenario"] == scenario].set_index(
            "financial_year"
        )
        for year, row in expected.iterrows():
            assert table.value("DSG: balance carried forward (31 March)", year) == pytest.approx(
                row["cumulative_balance_gbp_central"], rel=1e-12
            )
            assert table.value("DSG: total funding", year) == pytest.approx(row["funding_gbp"])
        assert table.value("DSG: balance brought forward (1 April)", "2025-26") == pytest.approx(
            -2.5e6
        )
        for line in (
            "Schools block: funding",
            "Early years block: spend",
            "High needs block: import/export adjustments (+ imports, − exports)",
        ):
            cell = table.sheet[table.coordinate(line, "2026-27")]
            assert cell.value is None and cell.fill.fgColor.rgb.endswith("FFF2CC")
    table = locate(workbook, "dsg_plan_summary_unmitigated")
    table.sheet[table.coordinate("Central school services block: funding", "2027-28")] = 100.0
    table.sheet[table.coordinate("Central school services block: spend", "2027-28")] = 400.0
    after = Evaluator(table.sheet)(
        table.coordinate("DSG: balance carried forward (31 March)", "2028-29")
    )
    assert after == pytest.approx(
        data.position_forecast["cumulative_balance_gbp_central"].iloc[2] - 300.0
    )


def test_the_dsg_balance_brought_forward_holds_the_other_blocks_earlier_balances(tmp_path):
    """The budget file gives the schools block for 2024-25 (a £1m surplus) and 2025-26: the
    whole DSG's balance brought forward into 2025-26 holds 2024-25's surplus too (it was the
    high needs balance alone, £1m short for every year after)."""
    data = fake_report()
    data.other_blocks = pd.DataFrame(
        {
            "financial_year": ["2024-25", "2025-26"],
            "block": ["schools", "schools"],
            "funding_gbp": [100e6, 101e6],
            "spend_gbp": [99e6, 100.5e6],
        }
    )
    workbook = written(tmp_path, {"DSG plan summary": []}, data)
    table = locate(workbook, "dsg_plan_summary_unmitigated")
    assert table.value("DSG: balance brought forward (1 April)", "2025-26") == pytest.approx(
        -2.5e6 + 1e6
    )
    expected = data.position_forecast.set_index(["scenario", "financial_year"])
    assert table.value("DSG: balance carried forward (31 March)", "2028-29") == pytest.approx(
        expected.loc[("unmitigated", "2028-29"), "cumulative_balance_gbp_central"] + 1e6 + 0.5e6
    )


def test_a_balance_brought_forward_the_balance_does_not_run_on_from_is_said(tmp_path):
    """The budget file gives 2025-26's balance brought forward as −£4.0m where the balance
    closes 2024-25 at −£2.5m: the balance runs on from the earliest one given, and the report
    and the workbook's source note read as if the file's figure was used."""
    from report.data import restated_balance_caveats

    data = fake_report()
    assert restated_balance_caveats(SimpleNamespace(restated_balances=None)) == []
    data.restated_balances = pd.DataFrame(
        {
            "financial_year": ["2025-26"],
            "source_file": ["budget/budget.csv"],
            "source_row": [12],
            "given_gbp": [-4e6],
            "previous_year": ["2024-25"],
            "computed_gbp": [-2.5e6],
        }
    )
    [said] = restated_balance_caveats(data)
    assert said.startswith(
        "The budget file gives a balance brought forward of −£4,000,000 for 2025-26 "
        "(budget/budget.csv row 12), but the balance here runs on from the earliest one it "
        "gives and closes 2024-25 at −£2,500,000: the difference of −£1,500,000"
    )
    workbook = written(tmp_path, {"DSG plan summary": []}, data)
    table = locate(workbook, "dsg_plan_summary_unmitigated")
    source = table.raw("DSG: balance brought forward (1 April)", "Source")
    assert "it gives 2025-26 as −£4,000,000, not run on from" in source


def test_a_year_carried_before_the_forecast_is_a_column_of_the_dsg_summary(tmp_path):
    """Refreshed before 2025-26's ledger is whole, the forecast starts from 2024-25's close
    carried through 2025-26's estimated balance: the summary shows 2025-26 (funding and estimated
    spend) so its balances chain to the forecast's, not £1.5m short of its deficit."""
    data = fake_report()
    data.position["is_complete_year"] = [True, False]
    data.complete_years = ["2024-25"]
    data.assumptions = pd.DataFrame(
        {
            "assumption": ["in_progress_year_funding", "in_progress_year_spend", "funding_growth"],
            "provision_type": [None, None, None],
            "financial_year": ["2025-26", "2025-26", None],
            "value": [31e6, 32.5e6, 0.03],
        }
    )
    workbook = written(tmp_path, {"DSG plan summary": []}, data)
    for scenario in ("unmitigated", "mitigated"):
        table = locate(workbook, f"dsg_plan_summary_{scenario}")
        assert table.headings == [
            "Line",
            "2024-25",
            "2025-26",
            "2026-27",
            "2027-28",
            "2028-29",
            "Source",
        ]
        assert table.value("High needs block: spend", "2025-26") == pytest.approx(32.5e6)
        expected = data.position_forecast[data.position_forecast["scenario"] == scenario]
        for year, cumulative in zip(
            expected["financial_year"], expected["cumulative_balance_gbp_central"], strict=True
        ):
            assert table.value("DSG: balance carried forward (31 March)", year) == pytest.approx(
                cumulative, rel=1e-12
            )


def funding_report():
    """fake_report with the funding lines and the forecast's quantiles the Funding and balances
    tables read."""
    data = fake_report()
    for column in FUNDING_LINES:
        data.position[column] = 0.0
    data.position["hnb_allocation_gbp"] = data.position["funding_gbp"]
    for quantile in ("p10", "p90"):
        data.position_forecast[f"spend_gbp_{quantile}"] = data.position_forecast[
            "spend_gbp_central"
        ]
        data.position_forecast[f"cumulative_balance_gbp_{quantile}"] = data.position_forecast[
            "cumulative_balance_gbp_central"
        ]
    data.position_forecast["funding_source"] = "budget file"
    return data


def test_a_year_carried_before_the_forecast_chains_the_funding_and_balances_sheet(tmp_path):
    """The forecast's first year starts from the carried year's estimated close: the sheet shows
    that year, and the first forecast year's cumulative balance is a formula through it (it was
    a typed figure: no formula from the last complete year gave it)."""
    data = funding_report()
    data.position["is_complete_year"] = [True, False]
    data.complete_years = ["2024-25"]
    data.assumptions = pd.DataFrame(
        {
            "assumption": ["in_progress_year_funding", "in_progress_year_spend"],
            "provision_type": [None, None],
            "financial_year": ["2025-26", "2025-26"],
            "value": [31e6, 32.5e6],
        }
    )
    workbook = written(tmp_path, {"Funding and balances": funding_and_balances(data)}, data)
    for scenario in ("unmitigated", "mitigated"):
        table = locate(workbook, f"funding_and_balances_{scenario}")
        assert table.headings[1:] == ["2025-26", "2026-27", "2027-28", "2028-29"]
        cumulative = "Cumulative DSG high needs balance"
        assert table.value(cumulative, "2025-26") == pytest.approx(-2.5e6 - 1.5e6)
        assert is_formula(table.raw(cumulative, "2025-26"))
        assert is_formula(table.raw(cumulative, "2026-27"))
        expected = data.position_forecast[data.position_forecast["scenario"] == scenario]
        for year, value in zip(
            expected["financial_year"], expected["cumulative_balance_gbp_central"], strict=True
        ):
            assert table.value(cumulative, year) == pytest.approx(value, rel=1e-12)


def test_a_year_before_the_budget_file_has_no_funding_nor_in_year_balance(tmp_path):
    """A ledger year the budget file gives no allocation for: its funding read £0, its in-year
    balance the whole spend and its balance brought forward a surplus of spend less deficit
    (report and workbook), where the mart knows only its close."""
    data = funding_report()
    data.position.loc[0, ["funding_gbp", "hnb_allocation_gbp", "has_budget"]] = [0.0, 0.0, False]
    data.position.loc[0, "in_year_balance_gbp"] = np.nan
    data.assumptions = pd.DataFrame(columns=["assumption", "provision_type", "financial_year"])
    workbook = written(tmp_path, {"Funding and balances": funding_and_balances(data)}, data)
    table = locate(workbook, "funding_and_balances_actual")
    for line in ("Total high needs funding", "In-year balance (funding − spend)"):
        assert table.raw(line, "2024-25") in (None, ""), line
    assert table.raw("Balance brought forward (1 April)", "2024-25") in (None, "")
    cumulative = "Cumulative DSG high needs balance"
    assert table.value(cumulative, "2024-25") == -2.5e6  # the close stands
    assert table.value(cumulative, "2025-26") == -4e6 and is_formula(
        table.raw(cumulative, "2025-26")
    )
    assert table.value("Total high needs funding", "2025-26") == 31e6


def mitigations() -> pd.DataFrame:
    rows = []
    for name, kind, status, effects, cost in (
        ("Outreach", "saving", "assessed", [10.0, 20.0], 5.0),
        ("Special places", "saving", "assured", [0.0, 40.0], None),
        ("Banding", "saving", "assessed", [1.0, 2.0], 7.5),
        ("Transfer", "funding", "assured", [50.0, 50.0], None),
        ("Therapies", "cost", "assured", [-3.0, -3.0], None),
    ):
        for k, year in enumerate(("2026-27", "2027-28")):
            rows.append(
                {
                    "mitigation": name,
                    "kind": kind,
                    "status": status,
                    "line_of_enquiry": "sufficiency",
                    "lever": "shift_placements",
                    "provision_types": "mss",
                    "start_year": "2026-27",
                    "financial_year": year,
                    "in_year_balance_effect_gbp": effects[k],
                    "cumulative_balance_effect_gbp": sum(effects[: k + 1]),
                    "effect": "share=0.1",
                    "assumption_text": f"{name} works",
                    "delivery_cost_gbp": cost,
                    "owner": "Head of SEND",
                    "milestones": "Start; Review",
                    "risk": "Recruitment",
                }
            )
    return pd.DataFrame(rows)


def test_mitigation_subtotals_are_sumifs_over_each_kind_and_status(tmp_path):
    data = SimpleNamespace(mitigations=mitigations(), horizon="2027-28")
    workbook = written(tmp_path, {"Mitigations": [mitigation_log(data), mitigation_plan(data)]})
    log, plan = locate(workbook, "mitigation_log"), locate(workbook, "mitigation_plan")
    cumulative = "Effect on cumulative balance by 2027-28"
    assert log.raw("Subtotal: assessed savings", "2027-28").startswith("=SUMIFS(")
    assert log.value("Subtotal: assessed savings", "2027-28") == 22.0
    assert log.value("Subtotal: assured savings", cumulative) == 40.0
    assert log.value("Total: savings less modelled costs", cumulative) == 33.0 + 40.0 - 6.0
    assert log.value("Total: funding", "2026-27") == 50.0
    assert log.value(EACH_ALONE, cumulative) == 33.0 + 40.0 + 100.0 - 6.0
    row = log.labels["Outreach"]  # its years, across
    assert (
        log.raw("Outreach", cumulative) == f"=SUM(H{row}:I{row})"
        and log.value("Outreach", cumulative) == 30.0
    )
    assert (
        plan.raw("Outreach", "Owner") == "Head of SEND"
        and plan.raw("Outreach", "Assumption") == "Outreach works"
    )
    assert plan.value("Subtotal: assessed savings", "Cost to deliver (£ a year)") == 12.5
    # the costs to deliver of savings and costs added, under a label that says so
    assert "Total: savings less modelled costs" not in plan.labels
    assert plan.value("Total: savings and costs", cumulative) == 33.0 + 40.0 - 6.0
    assert plan.value("Subtotal: assessed savings", cumulative) == 33.0
    assert plan.value("Subtotal: assured costs", cumulative) == -6.0
    assert plan.value(EACH_ALONE, cumulative) == 167.0
    # assured before assessed within a kind, savings before costs and funding
    labels = list(plan.labels)
    assert labels[:5] == ["Special places", "Outreach", "Banding", "Therapies", "Transfer"]


def test_the_budget_file_s_other_blocks_fill_the_dsg_summary_and_the_rest_stay_to_enter(tmp_path):
    data = fake_report()
    data.other_blocks = pd.DataFrame(
        {
            "financial_year": ["2025-26", "2025-26", "2026-27"],
            "block": ["schools", "early_years", "schools"],
            "funding_gbp": [100e6, 12e6, 104e6],
            "spend_gbp": [99e6, None, 103.5e6],
        }
    )
    workbook = written(tmp_path, {"DSG plan summary": []}, data)
    table = locate(workbook, "dsg_plan_summary_unmitigated")
    assert table.value("Schools block: funding", "2025-26") == 100e6
    assert table.value("Schools block: in-year balance", "2026-27") == pytest.approx(0.5e6)
    assert table.value("Early years block: funding", "2025-26") == 12e6
    for line, year in (
        ("Early years block: spend", "2025-26"),
        ("Schools block: spend", "2027-28"),
    ):
        cell = table.sheet[table.coordinate(line, year)]  # not in the budget file: to enter
        assert cell.value is None and cell.fill.fgColor.rgb.endswith("FFF2CC")
    forecast = data.position_forecast.set_index(["scenario", "financial_year"])
    assert table.value("DSG: total funding", "2026-27") == pytest.approx(
        forecast.loc[("unmitigated", "2026-27"), "funding_gbp"] + 104e6
    )
    # the whole DSG's balance carries the other blocks' balances forward
    assert table.value("DSG: balance carried forward (31 March)", "2028-29") == pytest.approx(
        forecast.loc[("unmitigated", "2028-29"), "cumulative_balance_gbp_central"]
        + (100e6 - 99e6)
        + 12e6
        + (104e6 - 103.5e6)
    )
    source = table.value("Schools block: funding", "Source")
    assert source.startswith("the budget file (marts.fct_dsg_other_blocks)")


def test_an_empty_mitigation_log_keeps_the_forecast_s_years(tmp_path):
    data = fake_report()
    data.mitigations, data.horizon = mitigations().iloc[0:0], "2028-29"
    log = mitigation_log(data).frame.set_index("Mitigation")
    cumulative = "Effect on cumulative balance by 2028-29"
    assert list(log.columns[-4:]) == ["2026-27", "2027-28", "2028-29", cumulative]
    assert log.loc[EACH_ALONE, "2027-28"] == 0.0
    # the mitigated forecast's own effect, year by year, is still there
    assert log.loc["The mitigated forecast against the unmitigated", "2027-28"] == 0.5e6


def test_a_sensitivity_of_funding_growth_that_changes_nothing_says_why():
    from forecast.model import SENSITIVITY_COLUMNS
    from report.tables import sensitivity

    rows = [
        ("funding_growth", "flat cash", 0.0, -5e6, 0.0),
        ("unit_cost_inflation", "high", 0.04, -7e6, -2e6),
    ]
    frame = pd.DataFrame(
        [(a, v, x, "2028-29", b, c) for a, v, x, b, c in rows], columns=list(SENSITIVITY_COLUMNS)
    )
    data = SimpleNamespace(sensitivity=frame, horizon="2028-29")
    [table] = sensitivity(data)
    assert "the budget file gives every forecast year's funding" in table.note
    frame.loc[0, "change_from_central_gbp"] = 3e6
    [table] = sensitivity(data)
    assert "changes nothing" not in table.note
