"""The publication version's provision spend: a small placement count hides its spend too, and
enough of its year's other cells that the year's total spend cannot give it back."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from report.tables import provision_spend

THRESHOLD = 5


def spend_rows():
    rows = []
    for fy, placements in (("2023-24", {"mss": 40, "inmss": 1, "ap": 12}), ("2024-25", {})):
        for provision, count in (placements or {"mss": 42, "inmss": 9, "ap": 11}).items():
            rows.append((fy, provision, count * 30_000.0, count, float(count), 30_000.0, True))
        rows.append((fy, "central", 500_000.0, 0, 0.0, None, True))
    return pd.DataFrame(
        rows,
        columns=[
            "financial_year",
            "provision_type",
            "spend_gbp",
            "placements",
            "fte_placements",
            "unit_cost_gbp",
            "is_complete_year",
        ],
    )


def test_a_small_placement_count_hides_its_spend_and_enough_of_its_year():
    data = SimpleNamespace(
        spend=spend_rows(), labels={p: p for p in ("mss", "inmss", "ap", "central")}
    )
    published = provision_spend(data, THRESHOLD).frame.set_index(
        ["Financial year", "Provision type"]
    )
    one_child = published.loc[("2023-24", "inmss")]
    assert one_child.drop("Complete year").isna().all()  # count, spend, FTE, unit cost
    # the year's total spend is published (the high needs block position): a second cell of
    # 2023-24 is hidden with it, so the total less the others does not give £30,000 back
    year = published.loc["2023-24"]
    assert year["Spend (£)"].isna().sum() >= 2
    assert year.loc["central", "Spend (£)"] == 500_000  # no placements: no child to protect
    assert year.loc["central", "Full-time equivalent placements"] == 0
    assert published.loc["2024-25", "Spend (£)"].notna().all()  # nothing small that year
    internal = provision_spend(data).frame.set_index(["Financial year", "Provision type"])
    assert internal["Spend (£)"].notna().all()


def test_a_type_paid_for_centrally_is_no_complement_for_a_hidden_spend():
    """`other` has placements but no spend of its own (every year £0): hidden as the complement,
    the year's total less the shown spends still gave the hidden type's spend back to the penny."""
    rows = spend_rows()
    rows.loc[len(rows)] = ("2023-24", "other", 0.0, 8, 8.0, None, True)
    data = SimpleNamespace(
        spend=rows, labels={p: p for p in ("mss", "inmss", "ap", "other", "central")}
    )
    year = provision_spend(data, THRESHOLD).frame.set_index(["Financial year", "Provision type"])
    year = year.loc["2023-24", "Spend (£)"]
    hidden = year[year.isna()].index
    assert "inmss" in hidden
    assert (
        rows.set_index(["financial_year", "provision_type"])
        .loc["2023-24"]
        .loc[hidden.drop("inmss"), "spend_gbp"]
        > 0
    ).any()


def test_the_served_provision_spend_keeps_a_hidden_spend_hidden_too():
    from serving.publish import SUPPRESSED_TABLES, suppressed_table

    spec = next(t for t in SUPPRESSED_TABLES if t.name == "provision_spend")
    cells = pd.DataFrame(
        [
            ("2018-19", "ap", 3, 151_234.56, 50_411.52),
            ("2018-19", "other", 26, 0.0, None),
            ("2018-19", "none", 30, 0.0, None),
            ("2018-19", "mss", 40, 1_000_000.0, 25_000.0),
            ("2018-19", "mainstream", 300, 3_000_000.0, 10_000.0),
        ],
        columns=["financial_year", "provision_type", "placements", "spend_gbp", "unit_cost_gbp"],
    )
    table = suppressed_table(cells, spec, THRESHOLD).set_index("provision_type")
    hidden = table.index[table["suppressed"]].drop("ap", errors="ignore")
    assert table.loc["ap", "suppressed"]
    assert (
        cells.set_index("provision_type").loc[hidden.drop("total", errors="ignore"), "spend_gbp"]
        > 0
    ).any()


def spend_data():
    rows = spend_rows()
    forecast = pd.DataFrame(
        [
            ("unmitigated" if k == 0 else "mitigated", "2025-26", p, v)
            for k in (0, 1)
            for p, v in (("mss", 1.3e6), ("inmss", 0.3e6), ("ap", 0.35e6), ("central", 0.5e6))
        ],
        columns=["scenario", "financial_year", "provision_type", "spend_gbp_central"],
    )
    by_line = rows[rows["provision_type"] != "central"].assign(
        s251_line="1.2.1", s251_description="Top-up"
    )
    by_line = pd.concat(
        [by_line, rows[rows["provision_type"] == "central"].assign(s251_line="1.2.5")]
    ).assign(s251_description="a line")
    caseload = pd.DataFrame({"mss": [40.0], "inmss": [20.0], "ap": [25.0]}, index=[2025])
    return SimpleNamespace(
        spend=rows,
        spend_forecast=forecast,
        spend_by_line=by_line[
            ["financial_year", "provision_type", "s251_line", "s251_description", "spend_gbp"]
        ],
        labels={p: p for p in ("mss", "inmss", "ap", "central")},
        complete_years=["2023-24", "2024-25"],
        forecast_years=["2025-26"],
        # the last census's counts, none of them hidden (hidden_at_base: no forecast withheld)
        caseload=caseload,
        caseload_published=lambda threshold: (SimpleNamespace(cells=caseload), None),
    )


def test_the_expenditure_sheets_hide_a_spend_whose_placement_count_is_hidden():
    """The publication workbook's Provision spend hid 2023-24's one independent special
    placement, but Expenditure by provision and by S251 line showed its £30,000 (one child's
    cost) beside it."""
    from report.tables import expenditure_by_line, expenditure_by_provision

    data = spend_data()
    table = expenditure_by_provision(data, "unmitigated", THRESHOLD)
    frame = table.frame.set_index("Provision type")
    assert pd.isna(frame.loc["inmss", "2023-24"]) and table.suppressed["2023-24"].sum() >= 2
    assert (
        frame.loc["Total", "2023-24"]
        == data.spend.query("financial_year == '2023-24'")["spend_gbp"].sum()
    )
    assert frame["2024-25"].notna().all() and frame["2025-26"].notna().all()
    internal = expenditure_by_provision(data, "unmitigated").frame.set_index("Provision type")
    assert internal.loc["inmss", "2023-24"] == 30_000
    for lines in expenditure_by_line(data, THRESHOLD)[1:]:
        split = lines.frame.set_index("Provision type")
        assert split["2023-24"].iloc[:-1].isna().all()  # no split of that year at all
        assert split["2023-24"].iloc[-1] == frame.loc["Total", "2023-24"]
        assert split["2024-25"].notna().all()


def test_the_spend_charts_show_a_hidden_spend_only_with_its_complement():
    from report.charts import HIDDEN, spend_latest_year, spend_trend

    data = spend_data()
    data.complete_years = ["2023-24"]
    latest = spend_latest_year(data, THRESHOLD).data.set_index("provision_type")["spend_gbp"]
    assert "inmss" not in latest.index and latest[HIDDEN] > 30_000
    assert latest.sum() == data.spend.query("financial_year == '2023-24'")["spend_gbp"].sum()
    trend = spend_trend(data, THRESHOLD).data
    actual = trend[trend["financial_year"] == "2023-24"].set_index("provision_type")["spend_gbp"]
    assert actual[HIDDEN] > 30_000
    # the hidden type has no figure in the chart's data (it was a real-looking £0), the shown
    # ones theirs; hidden in the base year, its forecast is not published either (forecast spend
    # per plan is the base year's grown: hidden_at_base)
    total = data.spend.query("financial_year == '2023-24'")["spend_gbp"].sum()
    assert pd.isna(actual.get("inmss")) and actual.sum() == total  # NaN adds nothing
    assert trend.query("provision_type == 'inmss' and is_forecast")["spend_gbp"].isna().all()
    assert trend.query("provision_type == 'mss' and is_forecast")["spend_gbp"].notna().all()
    # each forecast year adds up to the forecast's total (published), the hidden types as one
    # bar: without them the bars had read as spend falling by a third
    forecast = trend[trend["is_forecast"]].groupby("financial_year")["spend_gbp"].sum()
    whole = data.spend_forecast.query("scenario == 'unmitigated'")
    assert forecast.to_dict() == pytest.approx(
        whole.groupby("financial_year")["spend_gbp_central"].sum().to_dict()
    )
    assert trend.query("provision_type == @HIDDEN and is_forecast")["spend_gbp"].gt(0).all()


def test_a_unit_cost_carried_from_a_hidden_year_is_not_quoted_for_publication():
    from report.tables import assumptions

    data = spend_data()
    source = "no full-time placements in 2024-25: {}'s unit cost (£30,000) carried 1 year(s)"
    data.assumptions = pd.DataFrame(
        {
            "assumption": ["unit_cost_growth", "unit_cost_growth"],
            "provision_type": ["inmss", "mss"],
            "financial_year": [None, None],
            "value": [0.02, 0.02],
            "unit": ["a year", "a year"],
            "source": [source.format("2023-24"), source.format("2024-25")],
        }
    )
    published = assumptions(data, THRESHOLD)[0].frame["Source"].tolist()
    assert "£30,000" not in published[0] and "hidden: fewer than 5 placements" in published[0]
    # nor is the base unit cost a hidden year gives, or the places per plan it is paid on
    data.assumptions = pd.concat(
        [
            data.assumptions,
            pd.DataFrame(
                {
                    "assumption": ["unit_cost", "fte_per_plan", "unit_cost"],
                    "provision_type": ["inmss", "inmss", "mss"],
                    "financial_year": ["2023-24", None, "2023-24"],
                    "value": [30_000.0, 0.9, 30_000.0],
                    "unit": ["£ a full-time place a year", "full-time places a plan", "£"],
                    "source": ["2023-24's spend ÷ its full-time-equivalent placements", "", ""],
                }
            ),
        ],
        ignore_index=True,
    )
    shown = assumptions(data, THRESHOLD)[0].frame.set_index(["Assumption", "Provision type"])
    assert shown.loc[("Unit cost the growth starts from", "inmss"), "Amount"] != 30_000
    assert pd.isna(shown.loc[("Full-time places per plan", "inmss"), "Amount"])
    assert shown.loc[("Unit cost the growth starts from", "mss"), "Amount"] == 30_000
    published = assumptions(data, THRESHOLD)[0].frame["Source"].tolist()
    assert published[1] == source.format("2024-25")  # shown in Provision spend: quoted
    assert assumptions(data)[0].frame["Source"].tolist()[0] == source.format("2023-24")


def test_a_growth_measured_from_a_hidden_year_is_not_quoted_for_publication():
    """EOTAS's 2022-23 unit cost was hidden (a few placements), but its growth over 2022-23 to
    2025-26 (+7.7 % a year in cash) stood beside 2025-26's published unit cost: £29,636 ÷
    1.077³ gave the hidden £23,712 back to 0.1 %. A rate held at its bound gives nothing back."""
    from report.tables import assumptions

    data = spend_data()
    measured = (
        "+5.0% above inflation (the growth of 2023-24 to 2024-25, +8.6% a year in cash, "
        "deflated by 3.5% a year), compounded with 2.7% inflation"
    )
    held = (
        "+8.0% above inflation, held at the bound of real growth (costs.real_growth_bounds "
        "-5.0% to +8.0%: the growth of 2023-24 to 2024-25 deflated by 3.5% a year was beyond "
        "it), compounded with 2.7% inflation"
    )
    data.assumptions = pd.DataFrame(
        {
            "assumption": ["unit_cost_growth"] * 2,
            "provision_type": ["inmss", "mss"],
            "financial_year": [None, None],
            "value": [0.078, 0.078],
            "unit": ["a year", "a year"],
            "source": [measured, measured],
        }
    )
    published = assumptions(data, THRESHOLD)[0].frame
    assert pd.isna(published["As a rate (%)"].iloc[0]) and "8.6%" not in published["Source"][0]
    assert published["Source"][0].startswith("hidden: measured from a year whose unit cost")
    assert published["As a rate (%)"].iloc[1] == pytest.approx(7.8)  # mss: shown both years
    assert published["Source"][1] == measured
    assert assumptions(data)[0].frame["Source"][0] == measured  # the internal version quotes it
    data.assumptions["source"] = [held, held]
    assert assumptions(data, THRESHOLD)[0].frame["Source"][0] == held


def test_a_line_that_is_mostly_a_hidden_type_s_spend_is_hidden_with_another():
    """1.2.3 carries only the independent special school's fees: the line's total in a year whose
    single placement there is hidden would be that child's cost (it was shown as it is)."""
    from report.tables import expenditure_by_line

    data = spend_data()
    inmss = data.spend_by_line["provision_type"] == "inmss"
    data.spend_by_line.loc[inmss, "s251_line"] = "1.2.3"
    lines = expenditure_by_line(data, THRESHOLD)[0]
    frame = lines.frame.set_index("S251 line")
    assert pd.isna(frame.loc["1.2.3", "2023-24"])
    assert frame["2023-24"].iloc[:-1].isna().sum() >= 2  # with a complement
    assert (
        frame.loc["Total", "2023-24"]
        == data.spend.query("financial_year == '2023-24'")["spend_gbp"].sum()
    )
    assert frame["2024-25"].notna().all()  # nothing hidden that year
    assert lines.suppressed["2023-24"].sum() == frame["2023-24"].isna().sum()
    internal = expenditure_by_line(data)[0].frame.set_index("S251 line")
    assert internal.loc["1.2.3", "2023-24"] == 30_000


def test_no_hidden_spend_comes_back_from_the_lines_and_the_provision_table_together():
    """The complement of a line hidden for an independent school's one child was the smallest
    other line, 1.2.6: all central spend. The central row of the provision table less the central
    lines shown gave 1.2.6 back, and the year's total less every other line then 1.2.3, the
    child's cost, to the penny. An outsider who knows which lines carry which types solves the
    published lines and provision spends together: no hidden spend may be fixed by them."""
    from scipy.linalg import null_space

    from report.tables import expenditure_by_line

    data = spend_data()
    lines = data.spend_by_line
    lines.loc[lines["provision_type"] == "inmss", "s251_line"] = "1.2.3"
    central = lines.index[lines["provision_type"] == "central"]
    small = lines.loc[central].assign(s251_line="1.2.6", spend_gbp=20_000.0)
    lines.loc[central, "spend_gbp"] -= 20_000.0
    data.spend_by_line = pd.concat([lines, small], ignore_index=True)
    year = "2023-24"
    by_line = expenditure_by_line(data, THRESHOLD)[0].frame.set_index("S251 line")[year]
    by_type = (
        provision_spend(data, THRESHOLD)
        .frame.set_index(["Financial year", "Provision type"])
        .loc[year, "Spend (£)"]
    )
    cells = data.spend_by_line.query("financial_year == @year and spend_gbp != 0")
    cells = cells[["s251_line", "provision_type"]].drop_duplicates().reset_index(drop=True)
    known = [np.ones(len(cells))]  # the year's total
    known += [(cells["s251_line"] == line).to_numpy(float) for line in by_line.dropna().index]
    known += [(cells["provision_type"] == t).to_numpy(float) for t in by_type.dropna().index]
    free = null_space(np.vstack(known))  # the ways the cells can move with every published sum
    for hidden in [*by_line[by_line.isna()].index, *by_type[by_type.isna()].index]:
        target = ((cells["s251_line"] == hidden) | (cells["provision_type"] == hidden)).to_numpy(
            float
        )
        assert np.abs(target @ free).max() > 1e-6, f"{hidden} is fixed by the published sums"
    assert pd.isna(by_line["1.2.3"]) and pd.isna(by_type["inmss"])


def test_a_hidden_spend_in_the_year_still_in_progress_leaves_the_complete_years_split():
    """A year not yet complete with two AP placements: it is in no actual column of the S251
    tables, and its hidden spend must not stop the report (it raised KeyError)."""
    from report.tables import expenditure_by_line

    data = spend_data()
    data.spend.loc[len(data.spend)] = ("2025-26", "ap", 60_000.0, 2, 2.0, 30_000.0, False)
    data.spend.loc[len(data.spend)] = ("2025-26", "mss", 1_200_000.0, 40, 40.0, 30_000.0, False)
    tables = expenditure_by_line(data, THRESHOLD)
    split = tables[1].frame.set_index("Provision type")
    assert split["2024-25"].notna().all() and split["2025-26"].notna().all()


def test_a_year_carried_before_the_forecast_is_a_column_of_expenditure_by_provision():
    """A refresh before the last year's ledger is whole: Funding and balances estimated
    2025-26 as a whole, and expenditure by provision jumped from 2024-25 to the forecast."""
    from report.tables import expenditure_by_provision

    data = spend_data()
    data.forecast_years = ["2026-27"]
    data.spend_forecast = data.spend_forecast.assign(financial_year="2026-27")
    estimated = {"mss": 1.25e6, "inmss": 0.28e6, "ap": 0.33e6, "central": 0.5e6}
    data.assumptions = pd.DataFrame(
        {
            "assumption": "in_progress_year_spend_by_type",
            "provision_type": list(estimated),
            "financial_year": "2025-26",
            "value": list(estimated.values()),
            "unit": "£",
            "source": "estimated",
        }
    )
    table = expenditure_by_provision(data, "unmitigated")
    frame = table.frame.set_index("Provision type")
    assert list(frame.columns[1:]) == ["2023-24", "2024-25", "2025-26", "2026-27"]
    assert frame.loc["mss", "2025-26"] == 1.25e6
    assert frame.loc["Total", "2025-26"] == sum(estimated.values())
    assert "2025-26, not complete in the finance extract, estimated" in table.note
    # for publication only its total: census plans × the stated places per plan and unit cost
    # gave the census's hidden counts back
    published = expenditure_by_provision(data, "unmitigated", THRESHOLD).frame
    published = published.set_index("Provision type")
    assert published.drop("Total")["2025-26"].isna().all()
    assert published.loc["Total", "2025-26"] == sum(estimated.values())
    data.assumptions = data.assumptions.assign(provision_type=list(estimated))
    from report.tables import assumptions

    rows = assumptions(data, THRESHOLD)[0].frame
    assert rows["Amount"].isna().all()


def test_a_single_census_publishes_its_empty_flows():
    """One census, so no flows between censuses: the publication's Flows sheet raised KeyError."""
    from report.data import ReportData

    data = ReportData.__new__(ReportData)
    data.cohort = pd.DataFrame(
        {
            "census_year": [2025, 2025],
            "primary_need": ["ASD", "SEMH"],
            "age_group": ["5 to 10", "11 to 15"],
            "age_at_plan_start_band": ["5 to 10", "5 to 10"],
            "provision_type": ["mss", "mainstream"],
            "plans": [3, 40],
        }
    )
    data.flows = pd.DataFrame(
        columns=["year", "provision_type", "new_plans", "ceased_plans", "moved_in", "moved_out"]
    )
    data._suppressed = {}
    published = data.flows_published(5)
    assert set(published) == {"new_plans", "ceased_plans", "moved_in", "moved_out"}
    assert all(p.cells.empty for p in published.values())


def test_the_published_flows_leave_out_the_cease_reasons():
    """The flows' ceased plans by cease reason are not suppressed with the published flows: the
    internal report shows them, the published version leaves them out (one death in a year,
    beside a hidden total, would be published) and marks no cell of its own as suppressed."""
    from report.data import ReportData
    from report.tables import CEASE_REASONS, _marked, flows

    data = ReportData.__new__(ReportData)
    data.cohort = pd.DataFrame(
        {
            "census_year": [2024, 2024, 2025, 2025],
            "primary_need": ["ASD", "SEMH", "ASD", "SEMH"],
            "age_group": ["5 to 10", "11 to 15", "5 to 10", "11 to 15"],
            "age_at_plan_start_band": ["5 to 10", "5 to 10", "5 to 10", "5 to 10"],
            "provision_type": ["mss", "mainstream", "mss", "mainstream"],
            "plans": [30, 40, 33, 41],
        }
    )
    reasons = dict.fromkeys(CEASE_REASONS, [0, 0])
    data.flows = pd.DataFrame(
        {
            "year": [2025, 2025],
            "period_start": [pd.Timestamp("2024-01-18")] * 2,
            "period_end": [pd.Timestamp("2025-01-16")] * 2,
            "provision_type": ["mss", "mainstream"],
            "new_plans": [6, 8],
            "ceased_plans": [3, 7],
            "moved_in": [0, 0],
            "moved_out": [0, 0],
            **reasons,
            "ceased_deceased": [1, 0],
            "ceased_transfer": [2, 7],
        }
    )
    data.labels = {"mss": "Maintained special", "mainstream": "Mainstream"}
    data._suppressed = {}
    internal = flows(data).frame
    assert internal["Ceased: deceased"].tolist() == [1, 0]
    assert internal["Ceased: moved to another LA"].tolist() == [2, 7]
    [published] = _marked(lambda d, t: [flows(d, t)], data, THRESHOLD)
    assert not set(CEASE_REASONS.values()) & set(published.frame.columns)
    assert list(published.suppressed.columns) == list(published.frame.columns)


def _cohort(cells: dict, totals: dict):
    """A report's data whose census counts publish `cells` (census year → band → plans, None
    where hidden) with `totals` (census year → total, None where hidden)."""
    from report.suppression import Protected

    wide = pd.DataFrame(cells).T.astype(float)
    protected = Protected(
        wide,
        pd.Series(totals, dtype=float),
        pd.Series(np.nan, index=wide.columns),
        float("nan"),
    )
    return SimpleNamespace(cohort_published=lambda column, threshold: protected)


def test_a_published_share_is_of_the_census_total_where_the_total_is_published():
    """The share of plans started under 5 read 47 % → 41 % for publication (of the cells shown),
    a fall, where the published totals (84 and 151) gave 33 % → 40 %, the internal report's."""
    from report.charts import caseload_by_age_at_plan_start, caseload_by_age_group

    bands = ["under 5", "5-10", "11-15", "16-19", "20-25"]
    data = _cohort(
        {
            2020: dict(zip(bands, [28, 31, None, None, 5], strict=True)),
            2025: dict(zip(bands, [61, 50, 40, None, None], strict=True)),
        },
        {2020: 84, 2025: 151},
    )
    reading = caseload_by_age_at_plan_start(data, THRESHOLD).reading
    assert "was 33% in January 2020 and 40% in January 2025." in reading, reading
    assert "started at age under 5 than at any other age (40%)" in reading, reading
    # a part hidden: the share of the total is a lower bound, and said so
    reading = caseload_by_age_group(data, THRESHOLD).reading
    assert "16–25 was not published in January 2025, against at least 6% in" in reading, reading


def test_no_share_is_published_of_a_census_whose_total_is_hidden():
    """A small council's first census total hidden, the share started under 5 read 47 % (27 of
    the 57 plans shown) beside 41 % of the latest total, a fall, where the 73 plans gave 37 %:
    a share of the plans shown is not the share of plans, so none is given."""
    from report.charts import caseload_by_age_at_plan_start, caseload_by_age_group

    bands = ["under 5", "5-10", "11-15", "16-19", "20-25"]
    data = _cohort(
        {
            2018: dict(zip(bands, [27, 20, 10, None, None], strict=True)),
            2025: dict(zip(bands, [61, 50, 40, 8, None], strict=True)),
        },
        {2018: None, 2025: 150},
    )
    reading = caseload_by_age_at_plan_start(data, THRESHOLD).reading
    assert "was not published in January 2018 and 41% in January 2025." in reading, reading
    reading = caseload_by_age_group(data, THRESHOLD).reading
    assert "was at least 5% in January 2025, against not published in January" in reading
    assert "47%" not in caseload_by_age_at_plan_start(data, THRESHOLD).reading


def test_the_fastest_growing_need_is_of_the_needs_published_in_both_years():
    """SEMH (13 → 24) read as the fastest-growing of the larger needs where MLD, hidden in the
    first year (3 → 15), grew three times as fast: the fastest is said to be of those published
    in both years."""
    from report.charts import caseload_by_need

    needs = ["ASD", "SEMH", "MLD"]
    shown = _cohort(
        {
            2018: dict(zip(needs, [30, 13, 6], strict=True)),
            2025: dict(zip(needs, [40, 24, 15], strict=True)),
        },
        {2018: 49, 2025: 79},
    )
    hidden = _cohort(
        {
            2018: dict(zip(needs, [30, 13, None], strict=True)),
            2025: dict(zip(needs, [40, 24, 15], strict=True)),
        },
        {2018: None, 2025: 79},
    )
    assert "among the larger needs Moderate" in caseload_by_need(shown, THRESHOLD).reading
    reading = caseload_by_need(hidden, THRESHOLD).reading
    assert "among the larger needs published in both years Social" in reading, reading


def test_the_assumptions_note_names_the_settings_the_forecast_ran_with():
    """The note said every assumption was a setting of forecast/config/forecast.yml, whichever
    settings file the forecast ran with."""
    from report.tables import assumptions

    data = spend_data()
    data.assumptions = pd.DataFrame(
        {
            "assumption": ["funding_growth"],
            "provision_type": [None],
            "financial_year": [None],
            "value": [0.0],
            "unit": ["a year"],
            "source": ["set in infl0.yml without a source"],
        }
    )
    assert "forecast/config/forecast.yml, or the file" in assumptions(data)[0].note
    data.forecast_settings = "cfg/infl0.yml; mitigations cfg/m.yml; horizon 2028-29"
    assert (
        "this forecast ran with cfg/infl0.yml; mitigations cfg/m.yml" in assumptions(data)[0].note
    )
