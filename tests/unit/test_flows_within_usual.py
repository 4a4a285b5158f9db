"""flows_within_usual: a year's ceased or new plans far outside the years before it, or children
leaving their plans since the last census far faster than in the same weeks of earlier years,
warn (a cleanse or a lost year published green, the forecast carrying it)."""

import datetime as dt

import duckdb
import pytest

from checks import gates

CENSUS = {year: dt.date(year, 1, 16) for year in range(2020, 2027)}


def _warehouse(
    ceased: dict[int, int], new: dict[int, int], left_after_last: int = 0, caseload: int = 1000
) -> duckdb.DuckDBPyConnection:
    """A council of 1,000 plans on every census 2020-2026; `ceased` and `new` per flow year
    (the census closing it); `left_after_last` of the 2026 census's children cease on 1 March
    2026, and 10 after each earlier census in the same weeks; the data runs to 31 March 2026."""
    con = duckdb.connect()
    for schema in ("marts", "intermediate", "staging"):
        con.execute(f"CREATE SCHEMA {schema}")
    con.execute(
        "CREATE TABLE marts.fct_ehcp_flows (la_code VARCHAR, year INTEGER, "
        "provision_type VARCHAR, new_plans BIGINT, ceased_plans BIGINT)"
    )
    for year in range(2021, 2027):
        # split over two provision types: the gate reads the council's total
        for part, share in (("mainstream", 0.6), ("mss", 0.4)):
            con.execute(
                "INSERT INTO marts.fct_ehcp_flows VALUES ('869', ?, ?, ?, ?)",
                [year, part, round(new[year] * share), round(ceased[year] * share)],
            )
    con.execute(
        "CREATE TABLE marts.fct_ehcp_cohort AS SELECT '869' AS la_code, census_year, "
        "? AS plans FROM range(2020, 2027) AS t(census_year)",
        [caseload],
    )
    con.execute(
        "CREATE TABLE intermediate.int_census_dates (la_code VARCHAR, census_year INTEGER, "
        "census_date DATE)"
    )
    for year, day in CENSUS.items():
        con.execute("INSERT INTO intermediate.int_census_dates VALUES ('869', ?, ?)", [year, day])
    con.execute(
        "CREATE TABLE intermediate.int_data_as_at AS "
        "SELECT '869' AS la_code, DATE '2026-03-31' AS as_at_date"
    )
    con.execute(
        "CREATE TABLE staging.stg_ehcp__plans (la_code VARCHAR, plan_id VARCHAR, "
        "child_id BIGINT, plan_start_date DATE, plan_cease_date DATE)"
    )
    for n, year in enumerate((2023, 2024, 2025, 2026)):
        # each census's 1,000 children (their own ids): some leave on 1 March after it, the rest
        # by 31 December
        leaving = left_after_last if year == 2026 else 10
        con.execute(
            "INSERT INTO staging.stg_ehcp__plans SELECT '869', 'P' || child, child, ?, "
            "CASE WHEN i < ? THEN ? ELSE ? END "
            "FROM (SELECT i, ? * 1000 + i AS child FROM range(1000) AS t(i))",
            [
                CENSUS[year] - dt.timedelta(days=1),
                leaving,
                dt.date(year, 3, 1),
                dt.date(year, 12, 31),
                n,
            ],
        )
    return con


STEADY_CEASED = dict.fromkeys(range(2021, 2027), 100)
STEADY_NEW = dict.fromkeys(range(2021, 2027), 150)


def test_steady_flows_pass():
    result = gates.flows_within_usual(_warehouse(STEADY_CEASED, STEADY_NEW))
    assert result.passed, result.summary


def test_a_cleanse_before_the_census_warns_naming_the_year():
    # 300 ceased against a usual 100: 20 % of the 1,000 on the census before
    result = gates.flows_within_usual(_warehouse({**STEADY_CEASED, 2026: 300}, STEADY_NEW))
    assert not result.passed
    assert (
        "300 plans ceased in the year to the 2026 census against a usual 100 (the median of the "
        "years before), 20% of the 1,000 on the 2025 census"
    ) in result.summary
    assert "spend per plan" in result.summary
    # a real but smaller rise (twice the usual, a tenth of the caseload short of it) is not one
    assert gates.flows_within_usual(_warehouse({**STEADY_CEASED, 2026: 190}, STEADY_NEW)).passed


def test_a_year_without_new_plans_warns():
    result = gates.flows_within_usual(_warehouse(STEADY_CEASED, {**STEADY_NEW, 2024: 0}))
    assert not result.passed
    assert "0 plans issued in the year to the 2024 census against a usual 150" in result.summary


def test_a_year_of_new_plans_far_above_the_usual_warns():
    """610 new plans against a usual 277 passed as "every year's ceased and new plans within the
    usual range", and the joiners' trend carried the surge into every forecast year."""
    result = gates.flows_within_usual(_warehouse(STEADY_CEASED, {**STEADY_NEW, 2026: 400}))
    assert not result.passed
    assert "400 plans issued in the year to the 2026 census against a usual 150" in result.summary
    # twice the usual and a tenth of the caseload above it, as for ceased plans
    assert gates.flows_within_usual(_warehouse(STEADY_CEASED, {**STEADY_NEW, 2026: 240})).passed


@pytest.mark.parametrize("left, warns", [(10, False), (200, True)])
def test_children_leaving_since_the_last_census_against_the_same_weeks_before(left, warns):
    result = gates.flows_within_usual(_warehouse(STEADY_CEASED, STEADY_NEW, left))
    assert result.passed is not warns
    if warns:
        assert (
            "200 of the 1,000 children on the 2026-01-16 census held no plan on 2026-03-31, "
            "against a usual 10 in the same weeks after the censuses before it"
        ) in result.summary


def test_a_small_councils_noise_and_an_old_blip_do_not_warn():
    """A council of 58 plans: 4 new plans against a usual 9 warned (a twentieth of its
    caseload is 3 plans), and a blip years back warned on every night after."""
    small = {**dict.fromkeys(range(2021, 2027), 9), 2025: 4}
    assert gates.flows_within_usual(
        _warehouse(dict.fromkeys(range(2021, 2027), 5), small, 0, 58)
    ).passed
    # 2022's lost year is before the years the forecast reads (2024-2026): not said again
    old = gates.flows_within_usual(_warehouse(STEADY_CEASED, {**STEADY_NEW, 2022: 0}))
    assert old.passed, old.summary
    # one plan is one plan, and a median of two is said as it is ("1 plans … against a usual
    # 2" where the rule is half of 2.5)
    result = gates.flows_within_usual(_warehouse(STEADY_CEASED, {**STEADY_NEW, 2026: 1}))
    assert "1 plan issued in the year to the 2026 census against a usual 150 " in result.summary
    assert gates._count(2.5) == "2.5" and gates._count(150.0) == "150"


def test_no_plan_ceased_in_the_recent_years_warns():
    """A plans extract without plan_cease_date (the contract leaves it optional) published "0
    ceased" every year, kept every plan in the caseload and fitted the forecast's leaving rates
    to nobody leaving, every gate green: the year-on-year test saw none as usual."""
    none = dict.fromkeys(range(2021, 2027), 0)
    result = gates.flows_within_usual(_warehouse(none, STEADY_NEW))
    assert not result.passed
    assert (
        "no plan ceased in the years to the 2024 to 2026 censuses, with 3,000 plans on the "
        "censuses before them: the plans extract may give no plan_cease_date"
    ) in result.summary
    # a small council's quiet years (60 plan-years) are not one
    small = gates.flows_within_usual(_warehouse(none, dict.fromkeys(range(2021, 2027), 2), 0, 20))
    assert small.passed, small.summary
    # and one year without a cease among years with them is not either
    assert gates.flows_within_usual(_warehouse({**STEADY_CEASED, 2026: 0}, STEADY_NEW)).passed
