"""The report's library on tiny hand-made inputs: benchmark indicators, ranks, similar councils,
flags on published figures that look wrong, and suppression across a table and its categories."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from forecast.published import PROVISIONS, CouncilHistory
from report.benchmarks import (
    ENGLAND,
    SIMILARITY_FEATURES,
    BenchmarkUnavailable,
    PublishedData,
    benchmark,
    find_flags,
    nearest_neighbours,
    similarity_inputs,
)
from report.suppression import protect

YEARS = list(range(2019, 2026))


def council(
    code: str, region: str, totals: list[float], mss: list[float] | None = None
) -> CouncilHistory:
    """A council whose plans are 40% mainstream, 10% independent special, the rest in special
    schools unless `mss` says otherwise (the remainder then goes to `other`)."""
    frame = pd.DataFrame(0.0, index=YEARS, columns=PROVISIONS)
    frame["mainstream"] = [0.4 * t for t in totals]
    frame["inmss"] = [0.1 * t for t in totals]
    frame["mss"] = mss if mss is not None else [0.5 * t for t in totals]
    frame["other"] = [t - 0.5 * t - m for t, m in zip(totals, frame["mss"], strict=False)]
    new = pd.DataFrame({"mainstream": [0.15 * t for t in totals]}, index=YEARS)
    return CouncilHistory(code, f"Council {code}", region, frame, new, pd.DataFrame())


def published(councils: dict[str, CouncilHistory]) -> PublishedData:
    everyone = list(councils.values())
    england = pd.DataFrame(
        sum(c.caseload.to_numpy() for c in everyone), index=YEARS, columns=PROVISIONS
    )
    councils[ENGLAND] = CouncilHistory(
        ENGLAND, "England", "England", england, pd.DataFrame(), pd.DataFrame()
    )
    allocations = pd.DataFrame(
        {
            "financial_year": "2023-24",
            "old_la_code": [c.code for c in everyone],
            "high_needs_block_gbp": [20_000.0 * c.caseload.loc[2024].sum() for c in everyone],
            "schools_block_gbp": 1e8,
        }
    )
    context = pd.DataFrame({"code": [c.code for c in everyone], "dsg_year": "2023-24"})
    for i, feature in enumerate(SIMILARITY_FEATURES):
        context[feature] = [float(int(c.code) % (7 + i)) for c in everyone]
    return PublishedData(councils, allocations, context, [])


def growing(start: float, rate: float) -> list[float]:
    return [round(start * (1 + rate) ** i) for i in range(len(YEARS))]


@pytest.fixture
def data() -> PublishedData:
    councils = {
        f"{800 + i}": council(
            f"{800 + i}", "North" if i % 2 else "South", growing(1000 + 100 * i, 0.05 + 0.01 * i)
        )
        for i in range(12)
    }
    # council 900: its special school count halves in January 2023 and recovers
    totals = growing(1500, 0.08)
    mss = [0.5 * t for t in totals]
    mss[YEARS.index(2023)] *= 0.45
    councils["900"] = council("900", "South", totals, mss)
    return published(councils)


def test_allocations_published_before_their_census_keep_the_latest_year_with_one(data):
    """An allocations file holding 2025-26 and 2026-27 (published before their January census)
    made the latest year's census missing for every council: the indicator vanished unsaid."""
    later = data.allocations.assign(financial_year="2025-26", high_needs_block_gbp=1e9)
    latest = data.allocations.assign(financial_year="2026-27", high_needs_block_gbp=1e9)
    data = dataclasses.replace(
        data, allocations=pd.concat([data.allocations, later, latest], ignore_index=True)
    )
    table = benchmark(data, "811").table.set_index("indicator")
    assert table.loc["hnb_per_plan", "council"] == pytest.approx(20_000)
    assert table.loc["hnb_per_plan", "period"] == "2023-24 (plans at Jan 2024)"


def test_indicators_ranks_and_comparators(data):
    result = benchmark(data, "811")
    table = result.table.set_index("indicator")
    growth = table.loc["ehcp_growth_1y"]
    assert growth["council"] == pytest.approx(growing(2100, 0.16)[-1] / growing(2100, 0.16)[-2] - 1)
    # the fastest-growing of 13 councils
    assert growth["rank"] == 1 and growth["councils_ranked"] == 13
    assert growth["percentile"] == pytest.approx(12 / 13 * 100)
    assert table.loc["share_mainstream", "council"] == pytest.approx(0.4, abs=1e-3)
    assert table.loc["hnb_per_plan", "council"] == pytest.approx(20_000)
    totals = growing(2100, 0.16)  # new plans in calendar 2024 per 100 plans in January 2024
    assert table.loc["new_plans_per_100", "council"] == pytest.approx(
        15 * totals[-1] / totals[-2], rel=0.01
    )
    north = [c for c in data.councils.values() if c.region == "North"]
    pooled = (
        sum(c.caseload.loc[2025].sum() for c in north)
        / sum(c.caseload.loc[2024].sum() for c in north)
        - 1
    )
    assert growth["region"] == pytest.approx(pooled)


def test_a_figure_that_halves_and_recovers_is_flagged_and_not_ranked(data):
    flags = find_flags(data.councils)
    flagged = flags[flags["kind"] != "watch"]
    assert list(
        zip(
            flagged["code"],
            flagged["census_year"],
            flagged["series"],
            flagged["kind"],
            strict=False,
        )
    ) == [("900", 2023, "mss", "dip")]
    # a share built on a flagged figure would be flagged too; the 2025 shares are not
    result = benchmark(data, "900")
    assert not result.table["flagged"].any()
    trend = result.trends[
        (result.trends["series"] == "council")
        & (result.trends["measure"] == "share_independent_special")
    ]
    assert not trend["flagged"].any()  # the dip is in special schools, not independent ones


def test_a_level_shift_or_a_small_wobble_is_not_flagged():
    totals = growing(1000, 0.05)
    # halves and stays: a real change
    shifted = [t if year < 2023 else t * 0.5 for t, year in zip(totals, YEARS, strict=False)]
    small = [30, 31, 12, 32, 33, 34, 35]  # halves and recovers, but by fewer than 20 plans
    councils = {"801": council("801", "A", shifted), "802": council("802", "A", small)}
    flags = find_flags(published(councils).councils)
    assert flags[flags["kind"] != "watch"].empty


def test_a_flagged_total_leaves_the_council_unranked():
    totals = growing(1000, 0.05)
    # January 2024 halves, 2025 recovers
    totals[YEARS.index(2024)] = round(totals[YEARS.index(2024)] * 0.4)
    councils = {
        "801": council("801", "A", totals),
        **{
            f"{810 + i}": council(f"{810 + i}", "A", growing(900, 0.04 + i / 100)) for i in range(5)
        },
    }
    result = benchmark(published(councils), "801")
    growth = result.table.set_index("indicator").loc["ehcp_growth_1y"]
    assert growth["flagged"] and pd.isna(growth["rank"]) and growth["councils_ranked"] == 5
    assert "801" not in set(
        result.values[~result.values["flagged"] & (result.values["indicator"] == "ehcp_growth_1y")][
            "code"
        ]
    )


def test_similar_councils_are_the_nearest_on_standardised_indicators(data):
    inputs = similarity_inputs(data)
    nearest = nearest_neighbours(inputs, "803", k=3)
    z = (inputs[SIMILARITY_FEATURES] - inputs[SIMILARITY_FEATURES].mean()) / inputs[
        SIMILARITY_FEATURES
    ].std(ddof=0)
    distance = np.sqrt(((z - z[inputs["code"] == "803"].iloc[0]) ** 2).sum(axis=1))
    expected = (
        inputs.assign(d=distance)[inputs["code"] != "803"]
        .sort_values(["d", "code"])["code"]
        .head(3)
    )
    assert list(nearest["code"]) == list(expected)
    assert list(nearest["distance"]) == sorted(nearest["distance"])


def test_a_user_supplied_list_of_neighbours_wins(data):
    result = benchmark(data, "803", neighbours=["804", "805"])
    assert list(result.neighbours["code"]) == ["804", "805"]
    assert "user-supplied" in result.neighbour_method
    # never the council itself (another council's list, applied to its report, held it)
    itself = benchmark(data, "803", neighbours=["803", "804"])
    assert list(itself.neighbours["code"]) == ["804"]
    with pytest.raises(BenchmarkUnavailable, match="999"):
        benchmark(data, "803", neighbours=["999"])
    with pytest.raises(BenchmarkUnavailable, match="not in the published files"):
        benchmark(data, "123")


def lines_with_one_hidden(hidden: np.ndarray, relations: list[list]) -> list:
    return [cells for cells in relations if sum(hidden[c] for c in cells) == 1]


def test_a_small_count_cannot_be_worked_out_from_the_table_totals():
    table = pd.DataFrame(
        {"2024": [3.0, 20.0, 40.0], "2025": [8.0, 0.0, 51.0]}, index=["ap", "mss", "mainstream"]
    )
    published_table = protect(table, 5, rows=False, columns=True)
    assert np.isnan(published_table.cells.loc["ap", "2024"])
    assert published_table.cells["2024"].isna().sum() == 2  # a second cell hides it from the total
    assert published_table.column_totals.tolist() == [63.0, 59.0]
    assert published_table.cells["2025"].notna().all()


def test_the_gap_readings_name_the_balance_of_the_recovery_year_and_count_only_savings():
    """The gap chart read the horizon's balance beside the saving sized to the recovery year (a
    surplus at 2028-29 said no saving was needed to clear 2027-28's £13.4m deficit); the
    waterfall netted an assured cost into the assured savings."""
    from types import SimpleNamespace

    from report.charts import gap_to_balance, mitigation_waterfall

    gap = pd.DataFrame(
        {
            "financial_year": ["2026-27", "2027-28", "2028-29"],
            "in_year_balance_gbp": [-6.0e6, -7.4e6, 25.9e6],
            "cumulative_balance_gbp": [-6.0e6, -13.4e6, 12.5e6],
            "saving_to_balance_in_year_gbp": [6.0e6, 7.4e6, 0.0],
            "recover_by": ["2027-28"] * 3,
            "saving_per_year_to_recover_by_target_gbp": [6.7e6, 6.7e6, np.nan],
        }
    )
    reading = gap_to_balance(SimpleNamespace(gap=gap)).reading
    assert "the cumulative deficit is £13.4m at the end of 2027-28" in reading
    assert "clearing it by 2027-28 needs a further £6.7m a year from 2026-27" in reading
    assert "(at the end of 2028-29, a surplus of £12.5m)" in reading

    rows = [
        ("Capacity", "saving", "assured", 3.17e6),
        ("Growth", "cost", "assured", -0.51e6),
        ("Transfer", "funding", "assured", 0.5e6),
    ]
    mitigations = pd.DataFrame(
        [
            {
                "mitigation": name,
                "kind": kind,
                "status": status,
                "financial_year": "2028-29",
                "cumulative_balance_effect_gbp": effect,
            }
            for name, kind, status, effect in rows
        ]
    )
    position = pd.DataFrame(
        {
            "scenario": ["unmitigated", "mitigated"],
            "financial_year": ["2028-29", "2028-29"],
            "cumulative_balance_gbp_central": [-20e6, -16.84e6],
        }
    )
    data = SimpleNamespace(horizon="2028-29", position_forecast=position, mitigations=mitigations)
    assert "£3.2m of it is assured savings" in mitigation_waterfall(data).reading
    # said beside them: the assured savings alone read as the assured part of the improvement
    assert "against £0.5m of assured costs" in mitigation_waterfall(data).reading
    reading = mitigation_waterfall(data).reading
    assert "improve the cumulative balance at the end of 2028-29 by £3.2m, from −£20.0m" in (
        reading
    )
    assert "the largest effect is “Capacity” (£3.2m, assured)" in reading
    # none assured, and a small funding change: "£0.0m of it is assured savings" read as a figure
    mitigations["status"] = ["planned", "assured", "assured"]
    mitigations.loc[mitigations["mitigation"] == "Transfer", "cumulative_balance_effect_gbp"] = 3e4
    reading = mitigation_waterfall(data).reading
    assert "; none of it is assured savings" in reading
    assert ", and £30,000 is funding" in reading

    # a cost mitigation that outweighs the savings: the reading said "improve … by −£2.0m" and
    # named the largest saving (£0.1m) as the largest
    mitigations["cumulative_balance_effect_gbp"] = [0.05e6, -2.04e6, 0.0]
    position["cumulative_balance_gbp_central"] = [-32.1e6, -34.09e6]
    reading = mitigation_waterfall(data).reading
    assert "worsen the cumulative balance at the end of 2028-29 by £2.0m, from −£32.1m" in reading
    assert "the largest effect is “Growth” (−£2.0m, assured)" in reading


def test_the_readmes_count_of_flagged_figures_is_the_shipped_datas():
    """The README quoted 214 flagged figures and 136 to watch where the rule finds 201 and 120."""
    from forecast.published import load_published
    from forecast.published_extract import SHIPPED
    from report.benchmarks import find_flags
    from tests.conftest import REPO_ROOT

    flags = find_flags(load_published(SHIPPED))
    flagged, watched = int((flags["kind"] != "watch").sum()), int((flags["kind"] == "watch").sum())
    readme = " ".join((REPO_ROOT / "README.md").read_text().split())
    assert f"{flagged} figures across all councils are flagged" in readme
    assert f"and {watched} latest-year changes of more than half" in readme


def test_quarantined_money_reads_in_pounds_and_in_absolute_amounts():
    """£3,527.37 of quarantined ledger rows read "£0.00m" in the data-quality table: in pounds.
    And a £5,000 posting and its reversal, both quarantined, read £0 (net) in the report where
    the refresh's summary said £10,000 (absolute)."""
    from types import SimpleNamespace

    from report.build import _quality_reading
    from report.html import table_item
    from report.tables import data_quality

    frame = pd.DataFrame(
        {
            "extract": ["finance"] * 3,
            "measure": ["rows_read", "rows_loaded", "rows_quarantined"],
            "reason": [None] * 3,
            "rows": [104, 100, 4],
            "files": [2, 2, 2],
            "amount_gbp": [np.nan, np.nan, 3527.37],
            "gross_amount_gbp": [np.nan, np.nan, 3527.37],
        }
    )
    item = table_item(data_quality(SimpleNamespace(data_quality=frame)))
    column = item["headers"].index("Quarantined (£)")
    assert [row["cells"][column]["text"] for row in item["rows"]] == ["£3,527", "£3,527"]

    frame["amount_gbp"] = [np.nan, np.nan, 0.0]
    frame["gross_amount_gbp"] = [np.nan, np.nan, 10_000.0]
    data = SimpleNamespace(data_quality=frame, checks=pd.DataFrame())
    item = table_item(data_quality(data))
    assert [row["cells"][column]["text"] for row in item["rows"]] == ["£10,000", "£10,000"]
    assert "4 quarantined (£10,000.00 in absolute amounts)" in _quality_reading(data)


def test_the_report_names_each_warning_its_figures_were_published_through():
    """A doubled year of independent special spend warned (base_year_spend_within_usual) and
    drove the balance from −£34.2m to −£98.7m; the report said only "192 of 193 checks passed".
    Each warning is named beside the balance, its message in the internal version only (a
    message may give a small count); a check that held other councils is theirs."""
    from types import SimpleNamespace

    from report.build import _warned_reading

    message = "inmss spend £14.71m in 2025-26 against £6.49m in 2024-25 (+127%)"
    frame = pd.DataFrame(
        {
            "run_id": ["r1"] * 4,
            "asset": ["marts/fct_provision_spend", "marts/fct_ehcp_cohort", "x/y", "x/z"],
            "check_name": ["base_year_spend_within_usual", "unique", "held_one", "ok"],
            "passed": [False, True, False, True],
            "severity": ["WARN", "ERROR", "WARN", "WARN"],
            "description": [message, "passed", "council 825: …", "passed"],
            "held_councils": ["", "", "825", ""],
        }
    )
    internal = _warned_reading(SimpleNamespace(checks=frame))
    assert "1 warning about the data" in internal
    assert f"base_year_spend_within_usual on marts/fct_provision_spend ({message})" in internal
    assert "held_one" not in internal and "unique" not in internal
    published = _warned_reading(SimpleNamespace(checks=frame), threshold=5)
    assert "base_year_spend_within_usual on marts/fct_provision_spend." in published
    assert "£14.71m" not in published and "internal version" in published
    frame["passed"] = True
    assert _warned_reading(SimpleNamespace(checks=frame)) == ""


def test_a_check_that_warns_is_not_counted_failed():
    """A warning (the refresh published) read as "Failed" in the checks table."""
    from types import SimpleNamespace

    from report.tables import checks

    frame = pd.DataFrame(
        {
            "run_id": ["r1"] * 3,
            "asset": ["marts/fct_ehcp_cohort"] * 2 + ["marts/fct_provision_spend"],
            "check_name": ["case_extracts_reach_census", "unique", "ledger_months_complete"],
            "passed": [False, True, False],
            "severity": ["WARN", "ERROR", "ERROR"],
        }
    )
    table = checks(SimpleNamespace(checks=frame)).frame.set_index("Asset")
    assert table.loc["marts/fct_ehcp_cohort", ["Passed", "Failed", "Warned or held"]].tolist() == [
        1,
        0,
        1,
    ]
    assert table.loc["Total", ["Checks", "Failed", "Warned or held"]].tolist() == [3, 1, 1]


def test_the_refresh_summary_names_a_check_that_warned():
    """The summary said "Checks: 170 passed, 0 failed, 1 warnings" and not which check warned."""
    from rich.console import Console

    from dagster_project.cli.runner import RefreshOutcome
    from dagster_project.cli.summary import _print_checks

    console = Console(record=True, width=200)
    outcome = RefreshOutcome(success=True, run_id="r1", checks_passed=170)
    outcome.warned_checks.append(
        ("marts/fct_ehcp_cohort", "case_extracts_reach_census", "plans extract: last date …")
    )
    _print_checks(outcome, console)
    text = console.export_text()
    assert "Checks: 170 passed, 0 failed, 1 warnings" in text
    assert "WARNING marts/fct_ehcp_cohort · case_extracts_reach_census: plans extract" in text


def test_a_refresh_with_a_warning_does_not_end_saying_every_gate_passed():
    """A plans extract without its cease dates warned, and the refresh still ended "every
    gate passed"."""
    from dagster_project.cli.refresh import succeeded_line
    from dagster_project.cli.runner import RefreshOutcome

    outcome = RefreshOutcome(success=True, run_id="r1", checks_passed=199)
    assert succeeded_line(outcome).plain == "Refresh succeeded: every gate passed."
    outcome.warned_checks.append(("marts/fct_ehcp_flows", "flows_within_usual", "no plan …"))
    assert succeeded_line(outcome).plain == (
        "Refresh succeeded: every blocking gate passed, and 1 check warned (WARNING above, and "
        "in the report): its figures are published; read the warning before using them."
    )


def test_an_assumption_s_amount_reads_in_its_unit():
    """0.961 full-time places a plan read "1" in the report and the workbook (its spend could not
    be recomputed from the assumptions shown): an amount reads in its row's unit."""
    from report.html import table_item
    from report.tables import Table
    from report.workbook import _row_format

    frame = pd.DataFrame(
        {
            "Assumption": ["Full-time places per plan", "Prevalence ceiling", "Unit cost", "Cap"],
            "Amount": [0.961119, 4.5, 8816.73, 60.0],
            "Unit": [
                "full-time places a plan",
                "plans per 1,000 aged 0-25",
                "£ a full-time place a year",
                "places",
            ],
        }
    )
    table = Table("assumptions", "The forecast's assumptions", frame, "mixed")
    item = table_item(table)
    texts = [row["cells"][1]["text"] for row in item["rows"]]
    assert texts == ["0.96", "4.50", "£8,817", "60"]
    formats = [_row_format(table, row, "Amount", "amount") for row in range(4)]
    assert formats == ["#,##0.00", "#,##0.00", "£#,##0;-£#,##0;£0", "#,##0"]


def test_a_count_of_plans_on_a_census_reads_as_a_count_and_the_census_as_a_year():
    """The councils' comparison showed "EHC plans, that year's census" as 1847 beside 1,847: a
    column naming a census read as a year."""
    from report.html import table_item
    from report.tables import Table

    frame = pd.DataFrame(
        {"Council": ["869"], "Census": [2026], "EHC plans, that year's census": [1847]}
    )
    item = table_item(Table("councils", "Every council", frame, "mixed"))
    assert [cell["text"] for cell in item["rows"][0]["cells"]] == ["869", "2026", "1,847"]


def test_how_far_the_extracts_reach_is_said_and_a_stopped_feed_warned_of():
    import datetime as dt

    from report.data import STALE_AFTER_DAYS, DataAsAt

    reach = DataAsAt(dt.date(2026, 3, 31), dt.date(2026, 3, 28), dt.date(2026, 1, 15))
    assert reach.sentence() == (
        "the latest date in the extracts is 31 March 2026; the ledger's last posting "
        "28 March 2026; the last census counted 15 January 2026"
    )
    # a quarter on: still the usual lag of a monthly ledger
    assert reach.stale(dt.date(2026, 3, 28) + dt.timedelta(days=STALE_AFTER_DAYS)) is None
    warned = reach.stale(dt.date(2026, 12, 5))
    assert warned is not None and warned.startswith(
        "The extracts reach 31 March 2026, 249 days before 5 December 2026"
    )
    # without a ledger or a census, the date alone
    assert DataAsAt(dt.date(2025, 7, 1), None, None).sentence() == (
        "the latest date in the extracts is 1 July 2025"
    )


def test_a_ledger_that_stopped_while_the_other_extracts_go_on_is_warned_of():
    import datetime as dt

    from report.data import DataAsAt

    ledger_stopped = DataAsAt(dt.date(2026, 11, 20), dt.date(2026, 3, 31), dt.date(2026, 1, 15))
    warned = ledger_stopped.stale(dt.date(2026, 12, 5))
    assert warned is not None and warned.startswith(
        "The ledger's last posting is 31 March 2026, 249 days before 5 December 2026, though "
        "the other extracts reach 20 November 2026"
    )
    assert ledger_stopped.stale(dt.date(2026, 5, 1)) is None


def test_a_report_whose_tables_are_unchanged_is_drawn_again_once_its_data_is_stale(tmp_path):
    """The report is kept when its inputs have not changed (inputs_fingerprint); a feed that
    stopped changes no table, so the warning the report would now carry is an input too."""
    import datetime as dt

    import duckdb

    from report.build import ReportOptions, inputs_fingerprint

    def fingerprint(as_at: dt.date) -> str:
        con = duckdb.connect()
        con.execute("CREATE SCHEMA intermediate")
        con.execute(
            "CREATE TABLE intermediate.int_data_as_at AS SELECT '869' AS la_code, "
            "?::DATE AS as_at_date, ?::DATE AS ledger_last_posting_date",
            [as_at, as_at],
        )
        con.execute(
            "CREATE TABLE intermediate.int_census_dates AS SELECT '869' AS la_code, "
            "DATE '2026-01-15' AS census_date"
        )
        return inputs_fingerprint(con, ReportOptions(out_dir=tmp_path))

    today = dt.date.today()
    fresh = fingerprint(today)
    assert fingerprint(today) == fresh  # the same inputs: kept
    assert fingerprint(today - dt.timedelta(days=200)) != fresh


def test_the_region_s_plans_index_sums_its_councils_across_a_reorganisation():
    """Council 802 split into 803 and 804 in 2022, each taking half its children; every council
    grows 5 % a year, so the region does. Averaged over the councils there, the region's index
    fell by a third when two took the place of one (East Midlands 165.8 in 2022 for 184.2)."""

    def partial(code: str, totals: list[float], years: list[int]) -> CouncilHistory:
        whole = council(code, "A", totals)
        return CouncilHistory(
            code,
            whole.name,
            "A",
            whole.caseload.loc[years],
            whole.new_plans.loc[years],
            pd.DataFrame(),
        )

    grown = growing(1000, 0.05)
    shares = {"802": (0.5, YEARS[:3]), "803": (0.25, YEARS[3:]), "804": (0.25, YEARS[3:])}
    councils = {
        "801": council("801", "A", grown),
        **{
            code: council(code, "A", [t * share for t in grown])
            for code, (share, _) in shares.items()
        },
        **{code: council(code, "B", growing(900, 0.02)) for code in ("811", "812", "813")},
    }
    data = published(councils)  # (England: every council's every year, as if none changed)
    for code, (share, years) in shares.items():
        data.councils[code] = partial(code, [t * share for t in grown], years)
    trends = benchmark(data, "801").trends
    region = trends[(trends["series"] == "region") & (trends["measure"] == "plans_index")]
    assert region.set_index("census_year")["value"].to_dict() == pytest.approx(
        {year: 100 * 1.05 ** (year - YEARS[0]) for year in YEARS},
        abs=0.05,  # (to 0.1)
    )


def test_a_ledger_starting_part_way_through_a_year_is_said_in_the_subtitle():
    """A ledger from 31 October 2019: the money tables began at 2020-21 while the caseload tables
    held 2019-20's census, and nothing said the part year was left out."""
    from types import SimpleNamespace

    from report.build import _titles

    position = pd.DataFrame(
        {
            "financial_year": ["2019-20", "2020-21", "2021-22", "2022-23"],
            "is_complete_year": [False, True, True, False],
        }
    )
    data = SimpleNamespace(
        complete_years=["2020-21", "2021-22"],
        position=position,
        horizon="2028-29",
        forecast_years=["2026-27", "2027-28", "2028-29"],
        assumptions=None,
        as_at=None,
        checks=pd.DataFrame({"run_id": ["r1"]}),
    )
    options = SimpleNamespace(council_name="A Council", council="999", run_id="r1")
    _, subtitle, _ = _titles(data, None, options, "internal", None)
    assert subtitle.startswith("Actual 2020-21 to 2021-22, forecast to 2028-29")
    assert (
        "The ledger starts part-way through 2019-20: that year is not a whole year's spend, left "
        "out of the money tables and the balance (the caseload tables count its census)."
    ) in subtitle
    # a last year in progress is the forecast's estimate, not a part year before the ledger
    assert "2022-23" not in subtitle
    data.position = position.iloc[1:]
    assert "part-way" not in _titles(data, None, options, "internal", None)[1]
