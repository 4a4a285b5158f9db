"""census_placements_within_usual: children on a census with no placement ('none') far above the
censuses before (a placements extract missing the year's new placements) are costed at nothing in
the forecast while their spend lifts their types' unit costs; it warns, naming the census."""

import duckdb

from checks import gates


def _warehouse(unplaced: dict[int, int], councils: tuple[str, ...] = ("869",)):
    """A council of about 1,800 plans a year, 60-70 of them with no placement, save `unplaced`."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts")
    con.execute(
        "CREATE TABLE marts.fct_ehcp_cohort (la_code VARCHAR, census_year INTEGER, "
        "provision_type VARCHAR, plans INTEGER)"
    )
    for code in councils:
        for n, year in enumerate(range(2020, 2027)):
            none = unplaced.get(year, 60 + n)
            rows = [("mainstream", 1_100 + 40 * n - none), ("mss", 700), ("none", none)]
            for provision, plans in rows:
                con.execute(
                    "INSERT INTO marts.fct_ehcp_cohort VALUES (?, ?, ?, ?)",
                    [code, year, provision, plans],
                )
    return con


def test_a_steady_share_passes():
    result = gates.census_placements_within_usual(_warehouse({}))
    assert result.passed, result.summary


def test_placements_missing_from_the_last_census_warn():
    result = gates.census_placements_within_usual(_warehouse({2026: 249}))
    assert not result.passed
    assert "249 of the 2,040 children on the 2026 census held no placement (12.2%)" in (
        result.summary
    )
    assert "against a usual 3.3%" in result.summary


def test_a_small_rise_or_an_old_one_passes():
    # under twice the share; five times it but by under 3 % of the plans; a jump years back
    assert gates.census_placements_within_usual(_warehouse({2026: 120})).passed
    few = dict.fromkeys(range(2020, 2026), 10)
    assert gates.census_placements_within_usual(_warehouse({**few, 2026: 50})).passed
    assert not gates.census_placements_within_usual(_warehouse({**few, 2026: 80})).passed
    assert gates.census_placements_within_usual(_warehouse({2021: 300})).passed


def test_each_council_is_named():
    con = _warehouse({2025: 250}, councils=("869", "870"))
    con.execute(
        "UPDATE marts.fct_ehcp_cohort SET plans = 60 "
        "WHERE la_code = '870' AND provision_type = 'none'"
    )
    result = gates.census_placements_within_usual(con)
    assert not result.passed
    assert "council 869: 250 of the" in result.summary
    assert "council 870" not in result.summary.split("failures")[-1]
