"""base_year_spend_within_usual: a one-off in the last complete year (a year-end payment on a
central line, a back-dated fee) sets the level the forecast grows and lifts the growth it
measures; it warns, naming the step."""

import datetime as dt

import duckdb
import pytest

from checks import gates

# a steady council: spend grows 5 % a year, places 3 %
YEARS = ["2022-23", "2023-24", "2024-25", "2025-26"]


def _warehouse(
    central: dict[str, float] | None = None,
    inmss: dict[str, float] | None = None,
    children_named: bool = True,
    last_march: float = 1.0,
):
    """`children_named`: the ledger's payments name the child they pay for. `last_march`: the
    share of March 2026's postings in the ledger (the last month of the last complete year)."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts")
    con.execute("CREATE SCHEMA staging")
    con.execute(
        "CREATE TABLE staging.stg_finance__transactions (la_code VARCHAR, financial_year VARCHAR, "
        "child_id BIGINT, placement_id VARCHAR, posting_date DATE, amount_gbp DECIMAL(18, 2))"
    )
    for n, year in enumerate(YEARS):
        start = int(year[:4])
        for month in range(12):  # a month's postings: 100 payments of a 1,200th of the year
            day = dt.date(start + (month + 3) // 12, (month + 3) % 12 + 1, 28)
            share = last_march if (year, month) == (YEARS[-1], 11) else 1.0
            con.executemany(
                "INSERT INTO staging.stg_finance__transactions VALUES ('869', ?, ?, NULL, ?, ?)",
                [[year, 7 if children_named else None, day, 16e6 * 1.05**n / 1200]]
                * round(100 * share),
            )
    con.execute(
        "CREATE TABLE marts.fct_provision_spend (la_code VARCHAR, financial_year VARCHAR, "
        "provision_type VARCHAR, spend_gbp DECIMAL(18, 2), fte_placements DOUBLE, "
        "is_complete_year BOOLEAN)"
    )
    for n, year in enumerate(YEARS):
        rows = [
            ("central", 3_000_000 * 1.05**n, 0.0),
            ("inmss", 7_000_000 * 1.05**n, 100 * 1.03**n),
            ("mainstream", 6_000_000 * 1.05**n, 700 * 1.03**n),
        ]
        for provision, spend, places in rows:
            spend += (central or {}).get(year, 0) if provision == "central" else 0
            spend += (inmss or {}).get(year, 0) if provision == "inmss" else 0
            con.execute(
                "INSERT INTO marts.fct_provision_spend VALUES ('869', ?, ?, ?, ?, true)",
                [year, provision, spend, places],
            )
    # the year in progress never counts
    con.execute(
        "INSERT INTO marts.fct_provision_spend VALUES ('869', '2026-27', 'central', 9e6, 0, false)"
    )
    return con


def test_a_steady_ledger_passes():
    result = gates.base_year_spend_within_usual(_warehouse())
    assert result.passed, result.summary


def test_a_year_end_payment_on_a_central_line_warns():
    result = gates.base_year_spend_within_usual(_warehouse(central={"2025-26": 2_500_000}))
    assert not result.passed
    assert "central spend £5.97m in 2025-26 against £3.31m in 2024-25 (+81%)" in result.summary
    assert "a one-off payment" in result.summary


@pytest.mark.parametrize("fee, warns", [(2_000_000, True), (400_000, False)])
def test_a_back_dated_fee_warns_through_the_unit_cost(fee, warns):
    """£2m on £8.1m of independent school spend: +31 % of spend (not half again) but the
    unit cost a quarter up; £400,000 is within a year's noise."""
    result = gates.base_year_spend_within_usual(_warehouse(inmss={"2025-26": fee}))
    assert result.passed is not warns
    if warns:
        assert "inmss unit cost £92,460 in 2025-26 against £72,745 in 2024-25 (+27%" in (
            result.summary
        )


def test_places_without_spend_warn_and_a_ledger_naming_no_child_is_named_as_why():
    """A ledger without child_id and placement_id (the contract leaves them optional) typed its
    payments by provider alone: EOTAS packages, paid with no provider on the payment, read £0
    over 26 full-time places, their spend in central, green (EOTAS's floor is £0)."""
    con = _warehouse(children_named=False)
    con.execute(
        "INSERT INTO marts.fct_provision_spend VALUES ('869', '2025-26', 'eotas', 0, 26.0, true)"
    )
    result = gates.base_year_spend_within_usual(con)
    assert not result.passed
    assert "eotas 26.0 full-time places in 2025-26 and no spend on them" in result.summary
    assert "no payment of 2025-26 names a child (child_id, placement_id)" in result.summary
    # with children named, the places without spend are said, not the ledger
    named = _warehouse()
    named.execute(
        "INSERT INTO marts.fct_provision_spend VALUES ('869', '2025-26', 'eotas', 0, 26.0, true)"
    )
    result = gates.base_year_spend_within_usual(named)
    assert not result.passed and "no payment of" not in result.summary
    # children with no placement cost nothing, as do a few places
    quiet = _warehouse(children_named=False)
    quiet.execute(
        "INSERT INTO marts.fct_provision_spend VALUES ('869', '2025-26', 'none', 0, 40.0, true), "
        "('869', '2025-26', 'eotas', 0, 2.0, true)"
    )
    assert gates.base_year_spend_within_usual(quiet).passed


@pytest.mark.parametrize("share, warns", [(0.4, True), (0.7, False)])
def test_a_last_month_half_posted_warns(share, warns):
    """A ledger taken with 40 % of March's postings in, all dated the 31st, read 2025-26 as
    complete: a £0.7m surplus in place of a deficit, and £15m on the 2028-29 balance, green.
    Against the March a year before and the year's other months it warns; 70 % of a month is
    within a month's noise."""
    result = gates.base_year_spend_within_usual(_warehouse(last_march=share))
    assert result.passed is not warns, result.summary
    if warns:
        assert (
            "Mar 2026, the last month of 2025-26, posted £0.62m in 40 postings against £1.47m "
            "in 100 in Mar 2025 (-58%) and £1.54m in the year's middle month: a ledger taken "
            "before the month's postings were all in reads 2025-26 as complete"
        ) in result.summary, result.summary
