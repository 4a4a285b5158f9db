"""The marts on the hand-written landing fixture, against figures worked out independently."""

import calendar
import csv
import datetime as dt
from collections import defaultdict
from decimal import Decimal

import duckdb
import pytest

from checks import gates
from tests.conftest import HANDWRITTEN_LANDING
from tests.dbt.conftest import dbt_build

NOT_HIGH_NEEDS = {"1.4.11"}


def high_needs_ledger() -> list[tuple[str, str, Decimal]]:
    """(financial year, S251 line, amount) of every high needs row, straight from the CSV (the
    independent oracle)."""
    rows = []
    with (HANDWRITTEN_LANDING / "finance" / "ledger_2021_2024.csv").open() as handle:
        for row in csv.DictReader(handle):
            if row["s251_line"] in NOT_HIGH_NEEDS:
                continue
            _day, month, year = (int(x) for x in row["posting_date"].split("/"))
            start = year if month >= 4 else year - 1
            rows.append(
                (f"{start}-{(start + 1) % 100:02d}", row["s251_line"], Decimal(row["amount"]))
            )
    return rows


def ledger_by_year_before(cut: dt.date) -> dict[str, Decimal]:
    """High needs spend per financial year posted before `cut`, from the CSV."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    with (HANDWRITTEN_LANDING / "finance" / "ledger_2021_2024.csv").open() as handle:
        for row in csv.DictReader(handle):
            day, month, year = (int(x) for x in row["posting_date"].split("/"))
            start = year if month >= 4 else year - 1
            if row["s251_line"] not in NOT_HIGH_NEEDS and dt.date(year, month, day) < cut:
                totals[f"{start}-{(start + 1) % 100:02d}"] += Decimal(row["amount"])
    return dict(totals)


def ledger_by_year() -> dict[str, Decimal]:
    """High needs spend per financial year, from the CSV."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for financial_year, _, amount in high_needs_ledger():
        totals[financial_year] += amount
    return dict(totals)


def rebuild(warehouse, *select: str, exclude: tuple[str, ...] = (), data_tests: bool = True):
    """`dbt build` of the models `select` names on a tampered copy (no unit tests: their inputs
    are fixed; no data tests either with `data_tests` false), which must succeed."""
    skipped = ["unit_test"] if data_tests else ["test", "unit_test"]
    excluded = ["--exclude", *exclude] if exclude else []
    completed = dbt_build(
        warehouse, "--select", *select, *excluded, "--exclude-resource-type", *skipped
    )
    assert completed.returncode == 0, completed.stdout[-4000:]


@pytest.fixture(scope="module")
def con(built_warehouse):
    with duckdb.connect(str(built_warehouse), read_only=True) as connection:
        yield connection


def test_spend_reconciles_to_the_ledger_to_the_penny(con):
    mart = dict(
        con.execute(
            "SELECT financial_year, sum(spend_gbp) FROM marts.fct_provision_spend GROUP BY 1"
        ).fetchall()
    )
    assert mart == ledger_by_year()


def test_spend_by_s251_line_matches_the_ledger_and_the_provision_mart(con):
    """The DSG management plan's expenditure table: per year and S251 line as in the CSV, and per
    year and provision type as fct_provision_spend."""
    by_line: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for financial_year, line, amount in high_needs_ledger():
        by_line[(financial_year, line)] += amount
    mart = {
        (fy, line): total
        for fy, line, total in con.execute(
            "SELECT financial_year, s251_line, sum(spend_gbp) FROM marts.fct_spend_by_s251_line "
            "GROUP BY 1, 2"
        ).fetchall()
    }
    assert mart == dict(by_line)
    assert (
        con.execute(
            """
        SELECT count(*) FROM marts.fct_provision_spend p
        LEFT JOIN (SELECT financial_year, provision_type, sum(spend_gbp) AS spend_gbp
                   FROM marts.fct_spend_by_s251_line GROUP BY ALL) l
            USING (financial_year, provision_type)
        WHERE p.spend_gbp <> coalesce(l.spend_gbp, 0)
        """
        ).fetchone()[0]
        == 0
    )


def test_every_provision_type_appears_every_year(con):
    assert con.execute(
        "SELECT count(DISTINCT provision_type), count(*) / count(DISTINCT financial_year) "
        "FROM marts.fct_provision_spend"
    ).fetchone() == (12, 12)


def test_caseload_on_census_days(con):
    assert con.execute(
        "SELECT census_date::VARCHAR, sum(plans) FROM marts.fct_ehcp_cohort GROUP BY 1 ORDER BY 1"
    ).fetchall() == [("2022-01-20", 8), ("2023-01-19", 8), ("2024-01-18", 6)]
    by_provision = dict(
        con.execute(
            "SELECT provision_type, sum(plans) FROM marts.fct_ehcp_cohort WHERE census_year = 2024 "
            "GROUP BY 1"
        ).fetchall()
    )
    # K001 special academy, K008 LA special, K002 independent special, K003 college (UKPRN),
    # K004 mainstream resourced provision, K006 mainstream academy
    assert by_provision == {
        "mss": 2,
        "inmss": 1,
        "post16_fe": 1,
        "mainstream_rp_unit": 1,
        "mainstream": 1,
    }


def test_ages_and_curriculum_years(con):
    # K001 born 2012-03-14: 11 on 31 Aug 2023, so Year 7 in January 2024
    rows = con.execute(
        "SELECT age_group, ncy, age_at_plan_start_band FROM marts.fct_ehcp_cohort "
        "WHERE census_year = 2024 AND provision_type = 'mss' AND primary_need = 'ASD'"
    ).fetchall()
    assert rows == [("11-15", 7, "5-10")]


def test_flows(con):
    rows = con.execute(
        "SELECT year, provision_type, new_plans, ceased_plans, moved_in, moved_out "
        "FROM marts.fct_ehcp_flows "
        "WHERE new_plans + ceased_plans + moved_in + moved_out > 0 ORDER BY year, provision_type"
    ).fetchall()
    assert (2024, "inmss", 0, 1, 0, 0) in rows  # K007's plan ceased (max age) at Hollybank NMSS
    assert (2024, "eotas", 0, 1, 0, 0) in rows  # K005 moved away from EOTAS
    # K001 stepped up
    assert (2024, "mss", 0, 0, 1, 0) in rows and (
        2024,
        "mainstream",
        0,
        0,
        0,
        1,
    ) in rows
    assert (2023, "early_years", 0, 0, 0, 1) in rows  # K008 left early years for special school


def test_hnb_position(con):
    rows = con.execute(
        "SELECT financial_year, funding_gbp, spend_gbp, in_year_balance_gbp, "
        "cumulative_balance_gbp "
        "FROM marts.fct_hnb_position ORDER BY 1"
    ).fetchall()
    funding = {"2021-22": Decimal(340000), "2022-23": Decimal(362000), "2023-24": Decimal(364000)}
    spend = ledger_by_year()
    balance = Decimal(-25000)
    for fy, fund, spent, in_year, cumulative in rows:
        balance += funding[fy] - spend[fy]
        assert (fund, spent, in_year, cumulative) == (
            funding[fy],
            spend[fy],
            funding[fy] - spend[fy],
            balance,
        )


def test_the_budget_file_s_other_dsg_blocks_stay_out_of_the_high_needs_block(con):
    rows = con.execute(
        "SELECT financial_year, block, funding_gbp, spend_gbp, in_year_balance_gbp "
        "FROM marts.fct_dsg_other_blocks ORDER BY 1, 2"
    ).fetchall()
    assert rows == [
        ("2022-23", "schools", Decimal(1200000), Decimal(1190000), Decimal(10000)),
        ("2023-24", "early_years", Decimal(300000), None, None),
    ]
    # (test_hnb_position: the high needs funding is the same with or without these lines)


def test_place_funding_goes_to_the_school_type_and_services_to_central(con):
    methods = dict(
        con.execute(
            "SELECT s251_line || ' ' || provision_type, count(*) "
            "FROM intermediate.int_spend_allocated "
            "WHERE allocation_method IN ('provider_type', 'central') GROUP BY 1"
        ).fetchall()
    )
    assert methods == {"1.0.2 mss": 36, "1.2.5 central": 36, "1.2.13 central": 36}


def test_place_funding_paid_to_a_school_named_only_by_supplier_goes_to_its_type(warehouse_copy):
    """A finance system knows its suppliers, not their URNs: place funding paid to Castle
    Special School by name alone went to central, and maintained special's unit cost lost
    it. It goes to the type of the council's placements at the school of that name."""
    query = (
        "SELECT financial_year, provision_type, spend_gbp FROM marts.fct_provision_spend "
        "ORDER BY ALL"
    )
    with duckdb.connect(str(warehouse_copy)) as con:
        before = con.execute(query).fetchall()
        con.execute(
            "UPDATE raw.finance SET provider_urn = NULL, supplier_name = ' CASTLE special school' "
            "WHERE s251_line = '1.0.2'"
        )
    rebuild(warehouse_copy, "stg_finance__transactions+", data_tests=False)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        assert con.execute(query).fetchall() == before
        assert con.execute(
            "SELECT DISTINCT provision_type, allocation_method "
            "FROM intermediate.int_spend_allocated WHERE s251_line = '1.0.2'"
        ).fetchall() == [("mss", "provider_name_type")]


def test_a_payment_naming_only_a_child_goes_to_the_childs_placement_on_the_posting_date(
    warehouse_copy,
):
    # The fixture's ledger names a placement on every child-level high needs payment, so this
    # adds three that name only the child of a placement that ended: during it, after it ended
    # (paid in arrears: that placement, not central), and before the child's first placement
    # (paid ahead: the placement about to start). On alternative provision services (1.2.7), a
    # line that follows the child; a fourth, a direct payment (1.2.11), is central.
    with duckdb.connect(str(warehouse_copy)) as con:
        child, start, end, provision = con.execute(
            """
            SELECT p.child_id, p.start_date, p.end_date, p.provision_type
            FROM intermediate.int_placements_classified p
            WHERE p.end_date IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM intermediate.int_placements_classified later
                WHERE later.child_id = p.child_id AND later.placement_id <> p.placement_id
                    AND later.start_date > p.start_date AND later.start_date <= p.end_date + 30)
            ORDER BY p.placement_id LIMIT 1
            """
        ).fetchone()
        first, first_provision = con.execute(
            "SELECT start_date, provision_type FROM intermediate.int_placements_classified "
            "WHERE child_id = ? ORDER BY start_date, placement_id LIMIT 1",
            [child],
        ).fetchone()
        for transaction_id, posting_date, line in (
            ("TXC1", start + dt.timedelta(days=1), "1.2.7"),
            ("TXC2", end + dt.timedelta(days=10), "1.2.7"),
            ("TXC3", first - dt.timedelta(days=1), "1.2.7"),
            ("TXC4", start + dt.timedelta(days=1), "1.2.11"),
        ):
            con.execute(
                "INSERT INTO staging.stg_finance__transactions BY NAME "
                "SELECT (SELECT min(la_code) FROM staging.stg_finance__transactions) AS la_code, "
                "? AS transaction_id, ? AS posting_date, "
                "'2022-23' AS financial_year, 100.00 AS amount_gbp, ? AS s251_line, "
                "? AS child_id, "
                "'x' AS source_file_hash, 'test' AS source_file, 1 AS source_row, "
                "'test' AS load_id",
                [transaction_id, posting_date, line, child],
            )
    completed = dbt_build(
        warehouse_copy,
        "--select",
        "int_spend_child_placements",
        "int_spend_provider_placements",
        "int_spend_allocated",
    )
    assert completed.returncode == 0, completed.stdout[-4000:]
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        allocated = con.execute(
            "SELECT transaction_id, provision_type, allocation_method "
            "FROM intermediate.int_spend_allocated "
            "WHERE transaction_id LIKE 'TXC%' ORDER BY 1"
        ).fetchall()
    assert allocated == [
        ("TXC1", provision, "child_placement_on_posting_date"),
        ("TXC2", provision, "child_placement_before_or_after"),
        ("TXC3", first_provision, "child_placement_before_or_after"),
        ("TXC4", "central", "central"),
    ]


def test_no_personal_data_in_marts(con):
    text = str(
        [
            con.execute(f"SELECT * FROM marts.{t}").fetchall()
            for (t,) in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'"
            ).fetchall()
        ]
    )
    for value in ("K001", "Alfie", "H801200001001", "RG14 1AA", "2012-03-14"):
        assert value not in text


def test_data_quality_accounts_for_every_row_of_every_file(con):
    rows = con.execute(
        """
        SELECT source_file,
               sum(rows) FILTER (WHERE measure = 'rows_read') AS read,
               sum(rows) FILTER (WHERE measure = 'rows_loaded') AS loaded,
               sum(rows) FILTER (WHERE measure = 'rows_exact_duplicate') AS duplicates,
               sum(rows) FILTER (WHERE measure = 'rows_quarantined') AS quarantined,
               sum(rows) FILTER (WHERE measure = 'rows_current') AS current,
               sum(rows) FILTER (WHERE measure = 'rows_superseded') AS superseded
        FROM marts.fct_data_quality GROUP BY 1 ORDER BY 1
        """
    ).fetchall()
    assert [r[0] for r in rows] == [
        "budget/budget.csv",
        "ehcp/plans.csv",
        "finance/ledger_2021_2024.csv",
        "placements/placements.csv",
    ]
    for file_name, read, loaded, duplicates, quarantined, current, superseded in rows:
        assert read == loaded + duplicates + quarantined, file_name
        assert loaded == current + superseded, file_name
    assert {r[0]: r[1] for r in rows}["finance/ledger_2021_2024.csv"] == 372


def same_day(point: dt.date, start_year: int) -> dt.date:
    """`point`'s calendar day in the financial year starting in `start_year` (a month's last day
    when `point` is one), worked out apart from the model's SQL."""
    year = point.year + start_year - (point.year if point.month >= 4 else point.year - 1)
    month_end = (point + dt.timedelta(days=1)).month != point.month
    last = calendar.monthrange(year, point.month)[1]
    return dt.date(year, point.month, last if month_end else min(point.day, last))


def spend_by_point(point: dt.date, before: dt.date, years: set[str]) -> dict[str, Decimal]:
    """High needs spend per financial year posted (before `before`) by `point`'s day of the year,
    from the CSV."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    with (HANDWRITTEN_LANDING / "finance" / "ledger_2021_2024.csv").open() as handle:
        for row in csv.DictReader(handle):
            day, month, year = (int(x) for x in row["posting_date"].split("/"))
            posted = dt.date(year, month, day)
            start = year if month >= 4 else year - 1
            fy = f"{start}-{(start + 1) % 100:02d}"
            if row["s251_line"] in NOT_HIGH_NEEDS or posted >= before or fy not in years:
                continue
            totals[fy] += Decimal(row["amount"]) if posted <= same_day(point, start) else 0
    return dict(totals)


def mart_spend_by_point(warehouse) -> dict[str, Decimal]:
    """fct_provision_spend's spend_by_ledger_point_gbp per financial year."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return dict(
            con.execute(
                "SELECT financial_year, sum(spend_by_ledger_point_gbp) "
                "FROM marts.fct_provision_spend GROUP BY 1"
            ).fetchall()
        )


def test_a_ledger_stopping_on_a_months_last_day_is_compared_with_that_day_in_a_leap_year(
    warehouse_copy,
):
    """A ledger paying on each month's last day and stopping on 28 February 2025: 2023-24's
    payment run of 29 February 2024 was posted by then. Counted in days from 1 April (333), the
    point fell on 28 February 2024 and that month's run counted as after it: the rest of the year
    in progress took two months of the estimate with eleven posted."""
    with duckdb.connect(str(warehouse_copy)) as con:
        con.execute(
            "INSERT INTO staging.stg_finance__transactions BY NAME "
            "SELECT la_code, 'TXLATE' AS transaction_id, DATE '2025-02-28' AS posting_date, "
            "'2024-25' AS financial_year, 1000.00 AS amount_gbp, '1.2.5' AS s251_line, "
            "source_file_hash, source_file, 999 AS source_row, load_id "
            "FROM staging.stg_finance__transactions LIMIT 1"
        )
    rebuild(
        warehouse_copy,
        "int_data_as_at",
        "fct_provision_spend",
        data_tests=False,
    )
    by_point = mart_spend_by_point(warehouse_copy)
    assert same_day(dt.date(2025, 2, 28), 2023) == dt.date(2024, 2, 29)
    expected = spend_by_point(dt.date(2025, 2, 28), dt.date(2025, 3, 1), set(by_point))
    assert {fy: v for fy, v in by_point.items() if fy != "2024-25"} == expected
    february = spend_by_point(dt.date(2024, 2, 29), dt.date(2024, 3, 1), {"2023-24"})
    assert by_point["2023-24"] == february["2023-24"] > 0


def _complete_years(con) -> dict[str, bool]:
    """financial_year → whether fct_provision_spend holds it as complete."""
    return dict(
        con.execute(
            "SELECT financial_year, bool_and(is_complete_year) FROM marts.fct_provision_spend "
            "GROUP BY 1"
        ).fetchall()
    )


def test_a_ledger_that_stops_before_the_years_last_month_leaves_the_year_incomplete(
    warehouse_copy,
):
    """Extracts taken on different days: the placements and plans reach past a year's end but
    the ledger stops in its February. Eleven months of spend are not a year (the forecast would
    take them for a year's unit costs and close the year's balance on them)."""
    with duckdb.connect(str(warehouse_copy)) as con:
        complete = _complete_years(con)
        last = max(fy for fy, whole in complete.items() if whole)
        march = dt.date(int(last[:4]) + 1, 3, 1)
        con.execute(
            "DELETE FROM staging.stg_finance__transactions WHERE posting_date >= ?", [march]
        )
    balances = "SELECT * EXCLUDE (spend_gbp, is_complete_year) FROM marts.fct_hnb_position"
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        before = {row[1]: row for row in con.execute(balances).fetchall()}
    rebuild(
        warehouse_copy,
        "int_data_as_at",
        "fct_provision_spend",
        "fct_hnb_position",
        data_tests=False,
    )
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        as_at, ledger_end = con.execute(
            "SELECT as_at_date, ledger_last_posting_date FROM intermediate.int_data_as_at"
        ).fetchone()
        now = _complete_years(con)
        after = {row[1]: row for row in con.execute(balances).fetchall()}
        in_year, cumulative = con.execute(
            "SELECT in_year_balance_gbp, cumulative_balance_gbp FROM marts.fct_hnb_position "
            "WHERE financial_year = ?",
            [last],
        ).fetchone()
    assert as_at >= march.replace(day=31) and ledger_end < march  # the other extracts reach on
    assert now == {**complete, last: False}
    # a year's funding against eleven months' spend is no balance: the year has none yet, and
    # the years before keep theirs
    assert (in_year, cumulative) == (None, None)
    assert {fy: row for fy, row in after.items() if fy != last} == {
        fy: row for fy, row in before.items() if fy != last
    }
    # each year's spend posted by the same day of its year as the ledger's last posting (the
    # forecast estimates the rest of the year in progress from it), from the CSV
    by_point = mart_spend_by_point(warehouse_copy)
    expected = spend_by_point(ledger_end, before=march, years=set(by_point))
    assert by_point == dict(expected) and by_point[last] == ledger_by_year_before(march)[last]


def _rebuild_unit_costs(warehouse) -> None:
    rebuild(
        warehouse,
        "int_data_as_at",
        "int_placement_days_by_year",
        "fct_provision_spend",
        data_tests=False,
    )


def _placement_days(con, year: tuple[dt.date, dt.date], since: dt.date, until: dt.date):
    """Each provision type's placement days in a financial year (`year`: its first and last day)
    from `since` to `until` (the ledger's reach), counted from the placements themselves."""
    as_at = con.execute("SELECT as_at_date FROM intermediate.int_data_as_at").fetchone()[0]
    days: dict[str, int] = defaultdict(int)
    for provision, start, end in con.execute(
        "SELECT provision_type, start_date, end_date FROM intermediate.int_placements_classified"
    ).fetchall():
        lo = max(start, year[0], since)
        hi = min(end or as_at, as_at, year[1], until)
        days[provision] += max((hi - lo).days + 1, 0)
    return days


def test_a_ledger_starting_mid_year_prices_its_first_year_from_its_first_months_start(
    warehouse_copy,
):
    """A ledger whose first posting is at the end of November pays for November: its part
    year's unit cost had put the spend of the months from November over the placement days from
    the posting's day (152 days' spend over 123 days' places, 22-25 % high)."""
    cut = dt.date(2022, 11, 1)
    query = (
        "SELECT provision_type, spend_gbp, unit_cost_gbp FROM marts.fct_provision_spend "
        "WHERE financial_year = '2022-23' AND unit_cost_gbp IS NOT NULL"
    )
    with duckdb.connect(str(warehouse_copy)) as con:
        con.execute("DELETE FROM staging.stg_finance__transactions WHERE posting_date < ?", [cut])
    _rebuild_unit_costs(warehouse_copy)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        first, last = con.execute(
            "SELECT ledger_first_posting_date, ledger_last_posting_date "
            "FROM intermediate.int_data_as_at"
        ).fetchone()
        part = con.execute(query).fetchall()
        complete = con.execute(
            "SELECT is_complete_year FROM marts.fct_provision_spend "
            "WHERE financial_year = '2022-23' LIMIT 1"
        ).fetchone()[0]
        since_month = dt.date(first.year, first.month, 1)
        days = _placement_days(con, (dt.date(2022, 4, 1), dt.date(2023, 3, 31)), since_month, last)
    assert first >= cut and first.month == 11 and not complete and part
    for provision, spend, unit_cost in part:
        fte = Decimal(days[provision]) / 365
        assert float(unit_cost) == pytest.approx(float(spend / fte), rel=1e-4), provision


def test_a_part_years_unit_cost_is_its_spend_over_the_placement_days_the_ledger_covers(
    warehouse_copy,
):
    """The ledger stops on 31 October while the placements run on to the data's as-at date: the
    part year's unit cost divided seven months of spend by the placements of the whole extract
    (40 % low in serving). It is the spend over the placement days up to the ledger's last
    posting; the complete years keep theirs."""
    cut = dt.date(2023, 10, 31)
    query = (
        "SELECT financial_year, provision_type, spend_gbp, unit_cost_gbp, is_complete_year "
        "FROM marts.fct_provision_spend WHERE unit_cost_gbp IS NOT NULL"
    )
    with duckdb.connect(str(warehouse_copy)) as con:
        before = {(r[0], r[1]): r for r in con.execute(query).fetchall()}
        con.execute("DELETE FROM staging.stg_finance__transactions WHERE posting_date > ?", [cut])
    _rebuild_unit_costs(warehouse_copy)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        after = {(r[0], r[1]): r for r in con.execute(query).fetchall()}
        first, as_at = con.execute(
            "SELECT ledger_first_posting_date, as_at_date FROM intermediate.int_data_as_at"
        ).fetchone()
        days = _placement_days(con, (dt.date(2023, 4, 1), dt.date(2024, 3, 31)), first, cut)
    assert as_at > cut
    part = {k: r for k, r in after.items() if k[0] == "2023-24"}
    assert part and not any(r[4] for r in part.values())
    for (_, provision), (_, _, spend, unit_cost, _) in part.items():
        fte = Decimal(days[provision]) / 366
        # each placement's FTE is held to 6 decimal places
        assert abs(unit_cost / (spend / fte) - 1) < Decimal("1e-5"), provision
    assert {k: r for k, r in after.items() if k[0] < "2023-24"} == {
        k: r for k, r in before.items() if k[0] < "2023-24"
    }


def test_a_year_the_ledger_holds_a_day_of_has_no_unit_cost(warehouse_copy):
    """A ledger extracted on 2 April holds the new year's accrual reversals alone: that year's
    unit cost was its spend over a day's placements (−£2,085,505.74 a place, in the marts and
    the workbook, every gate green). A year whose postings span less than a month has none; the
    years before keep theirs."""
    query = (
        "SELECT financial_year, provision_type, spend_gbp, unit_cost_gbp, is_complete_year "
        "FROM marts.fct_provision_spend ORDER BY ALL"
    )
    with duckdb.connect(str(warehouse_copy)) as con:
        before = con.execute(query).fetchall()
        con.execute(
            "INSERT INTO staging.stg_finance__transactions SELECT * REPLACE ("
            "'REV001' AS transaction_id, DATE '2024-04-01' AS posting_date, "
            "'2024-25' AS financial_year, -62000.00 AS amount_gbp) "
            "FROM staging.stg_finance__transactions WHERE transaction_id = 'TX00371'"
        )
    rebuild(
        warehouse_copy,
        "int_data_as_at",
        "int_placement_days_by_year",
        "int_spend_allocated",
        "fct_provision_spend",
        data_tests=False,
    )
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        after = con.execute(query).fetchall()
    new_year = [r for r in after if r[0] == "2024-25"]
    assert sum(r[2] for r in new_year) == Decimal("-62000.00")
    assert new_year and all(r[3] is None and not r[4] for r in new_year)
    assert [r for r in after if r[0] < "2024-25"] == before


def test_a_ledger_that_starts_before_the_budget_closes_its_first_years_on_the_brought_forward(
    warehouse_copy,
):
    """The budget's first balance brought forward (2021-22: -£25,000) already holds every year
    before it. A ledger reaching back a day further (a 2020-21 posting) must not restart the
    cumulative balance at zero and drop that £25,000 from every year after."""
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        before = dict(
            con.execute(
                "SELECT financial_year, cumulative_balance_gbp FROM marts.fct_hnb_position"
            ).fetchall()
        )
    with duckdb.connect(str(warehouse_copy)) as con:
        con.execute(
            "INSERT INTO staging.stg_finance__transactions BY NAME "
            "SELECT la_code, 'TXEARLY' AS transaction_id, DATE '2021-03-31' AS posting_date, "
            "'2020-21' AS financial_year, 1000.00 AS amount_gbp, '1.2.5' AS s251_line, "
            "source_file_hash, source_file, 999 AS source_row, load_id "
            "FROM staging.stg_finance__transactions LIMIT 1"
        )
    rebuild(
        warehouse_copy,
        "stg_finance__transactions+",
        exclude=("stg_finance__transactions",),
        data_tests=False,
    )
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        after = dict(
            con.execute(
                "SELECT financial_year, cumulative_balance_gbp FROM marts.fct_hnb_position"
            ).fetchall()
        )
    # (the day's year is not complete: it has no balance of its own)
    assert after == {**before, "2020-21": None}
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        # one day of spend is not a year
        assert not con.execute(
            "SELECT bool_or(is_complete_year) FROM marts.fct_provision_spend "
            "WHERE financial_year = '2020-21'"
        ).fetchone()[0]


def test_a_ledger_extracted_early_in_march_leaves_the_year_incomplete(warehouse_copy):
    """The ledger was taken on 2 March: February's postings and one of 2 March. A posting in
    March is not March's spend (it made eleven months a year: its unit costs and balance, and
    every forecast year after, £16m short of the deficit on the demo)."""
    with duckdb.connect(str(warehouse_copy)) as con:
        complete = _complete_years(con)
        last = max(fy for fy, whole in complete.items() if whole)
        march = dt.date(int(last[:4]) + 1, 3, 1)
        con.execute(
            "UPDATE staging.stg_finance__transactions SET posting_date = ? WHERE transaction_id = "
            "(SELECT min(transaction_id) FROM staging.stg_finance__transactions "
            "WHERE posting_date >= ?)",
            [march + dt.timedelta(days=1), march],
        )
        con.execute(
            "DELETE FROM staging.stg_finance__transactions WHERE posting_date > ?",
            [march + dt.timedelta(days=1)],
        )
    rebuild(warehouse_copy, "int_data_as_at", "fct_provision_spend", data_tests=False)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        now = _complete_years(con)
        whole = con.execute(
            "SELECT ledger_last_month_whole FROM intermediate.int_data_as_at"
        ).fetchone()[0]
    assert now == {**complete, last: False} and whole is False


def _move_balance_brought_forward(warehouse, financial_year: str, amount: int) -> None:
    """The budget's one balance brought forward given for `financial_year` instead."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "UPDATE raw.budget SET financial_year = ?, amount = ? "
            "WHERE line = 'balance_brought_forward'",
            [financial_year, amount],
        )


def test_a_balance_brought_forward_for_the_year_after_a_complete_ledger_is_its_close(
    warehouse_copy,
):
    """A council often has one figure: its deficit at the end of the ledger's last year (complete,
    2023-24), which is 2024-25's balance brought forward. The ledger's last year closes on it and
    the years before close on it less the in-year balances between (it was ignored: the balance
    opened at zero and every year, and the forecast's start, missed the deficit)."""
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        before = dict(
            con.execute(
                "SELECT financial_year, cumulative_balance_gbp FROM marts.fct_hnb_position"
            ).fetchall()
        )
        assert con.execute(
            "SELECT bool_and(is_complete_year) FROM marts.fct_hnb_position"
        ).fetchone()[0]
    assert max(before) == "2023-24"
    _move_balance_brought_forward(warehouse_copy, "2024-25", -100000)
    rebuild(warehouse_copy, "fct_hnb_position", data_tests=False)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        after = dict(
            con.execute(
                "SELECT financial_year, cumulative_balance_gbp FROM marts.fct_hnb_position"
            ).fetchall()
        )
    shift = Decimal(-100000) - before["2023-24"]
    assert after == {year: balance + shift for year, balance in before.items()}


def test_a_ledger_that_starts_part_way_through_its_first_year_carries_no_balance_through_it(
    warehouse_copy,
):
    """The ledger's 2021-22 starts in October: that year's whole funding against half its spend
    ran into every later balance (a deficit published as a surplus, green), and a balance brought
    forward given for 2022-23, the true close, changed nothing. The balance now runs from the
    first complete year: on the 2022-23 balance brought forward when given, else from zero, and
    the budget's 2021-22 balance brought forward alone is refused (it cannot carry through)."""
    query = "SELECT financial_year, cumulative_balance_gbp FROM marts.fct_hnb_position"
    with duckdb.connect(str(warehouse_copy)) as con:
        before = dict(con.execute(query).fetchall())
        assert set(before) == {"2021-22", "2022-23", "2023-24"} and None not in before.values()
        con.execute(
            "DELETE FROM staging.stg_finance__transactions WHERE posting_date < DATE '2021-10-01'"
        )
    rebuild(
        warehouse_copy,
        "stg_finance__transactions+",
        exclude=("stg_finance__transactions",),
        data_tests=False,
    )
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        from_zero = dict(con.execute(query).fetchall())
        anchors = gates.balance_brought_forward_anchors(con)
    # from zero at 1 April 2022 (and the gate refuses the 2021-22 figure the budget gives)
    assert from_zero == {
        "2021-22": None,
        "2022-23": before["2022-23"] - before["2021-22"],
        "2023-24": before["2023-24"] - before["2021-22"],
    }
    # (naming the year to give: the first complete one, not only the part year given)
    assert (
        not anchors.passed
        and (
            "a complete year the ledger covers (given for 2021-22 (budget/budget.csv row 4); "
            "complete years of the ledger: 2022-23 to 2023-24)"
        )
        in anchors.summary
    ), anchors.summary
    with duckdb.connect(str(warehouse_copy)) as con:
        con.execute(
            "INSERT INTO raw.budget SELECT * REPLACE ('2022-23' AS financial_year, ? AS amount, "
            "_source_row + 1000 AS _source_row) FROM raw.budget "
            "WHERE line = 'balance_brought_forward'",
            [before["2021-22"]],
        )
    rebuild(warehouse_copy, "stg_budget__lines+", data_tests=False)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        assert dict(con.execute(query).fetchall()) == {**before, "2021-22": None}
        assert gates.balance_brought_forward_anchors(con).passed


def test_years_before_the_budget_have_no_in_year_balance_nor_a_close_they_cannot_know(
    warehouse_copy,
):
    """Ledger years before the budget file's first (its balance brought forward the anchor,
    2023-24) had their funding as £0 and their whole spend as the in-year balance; the report
    then showed a surplus brought forward of spend less deficit. Their funding is unknown: no
    in-year balance. 2022-23's close (the anchor) stands; 2021-22's, the anchor less 2022-23's
    unknown in-year balance, had been 2022-23's whole spend booked as surplus."""
    query = (
        "SELECT financial_year, has_budget, in_year_balance_gbp, cumulative_balance_gbp, "
        "funding_gbp IS NOT NULL, hnb_allocation_gbp IS NOT NULL AND "
        "place_deductions_gbp IS NOT NULL AND block_transfer_gbp IS NOT NULL AND "
        "la_contribution_gbp IS NOT NULL AND other_income_gbp IS NOT NULL "
        "FROM marts.fct_hnb_position ORDER BY 1"
    )
    with duckdb.connect(str(warehouse_copy)) as con:
        before = con.execute(query).fetchall()
        assert [row[0] for row in before] == ["2021-22", "2022-23", "2023-24"]
        con.execute(
            "DELETE FROM raw.budget WHERE financial_year IN ('2021-22', '2022-23') "
            "AND line <> 'balance_brought_forward'"
        )
        con.execute(
            "UPDATE raw.budget SET financial_year = '2023-24', amount = ? "
            "WHERE line = 'balance_brought_forward'",
            [before[1][3]],
        )
    rebuild(warehouse_copy, "stg_budget__lines+", data_tests=False)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        after = con.execute(query).fetchall()
        anchors = gates.balance_brought_forward_anchors(con)
        budgets = gates.complete_years_have_a_budget(con)
    # and no funding: a BI sum of funding_gbp read those years as £0 (a reviewer's finding),
    # nor its parts (£0.00 each, so funding rebuilt from them was £0)
    assert after == [
        ("2021-22", False, None, None, False, False),
        ("2022-23", False, None, before[1][3], False, False),
        before[2],
    ]
    assert before[2][4:] == (True, True)
    assert anchors.passed and budgets.passed  # years before the anchor may lack a budget


def test_a_year_with_only_other_lines_in_the_budget_file_has_no_high_needs_budget(
    warehouse_copy,
):
    """2023-24's budget rows are its early years block only (another DSG block's line, as a
    balance brought forward alone would be): the year has no high needs funding, so it has no
    high needs budget and the gate stops the refresh (it read as a budget: £0 funding, the whole
    spend a deficit carried into every later balance, with every gate passing)."""
    with duckdb.connect(str(warehouse_copy)) as con:
        con.execute(
            "DELETE FROM raw.budget WHERE financial_year = '2023-24' "
            "AND line NOT LIKE 'early_years%'"
        )
        assert con.execute(
            "SELECT count(*) FROM raw.budget WHERE financial_year = '2023-24'"
        ).fetchone()[0]
    rebuild(warehouse_copy, "stg_budget__lines+", data_tests=False)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        budgeted = dict(
            con.execute("SELECT financial_year, has_budget FROM marts.fct_hnb_position").fetchall()
        )
        assert budgeted == {"2021-22": True, "2022-23": True, "2023-24": False}
        result = gates.complete_years_have_a_budget(con)
    assert not result.passed and "(2023-24)" in result.summary


def test_s251_lines_written_with_leading_zeros_are_the_same_lines(warehouse_copy):
    """The contract's pattern lets a ledger write 1.0.02 or 01.2.1: compared as text they missed
    the reviewed line list, so place funding (1.0.2) fell out of high needs spend without a word
    and a top-up went to central, not its provider."""
    query = (
        "SELECT financial_year, provision_type, spend_gbp FROM marts.fct_provision_spend "
        "ORDER BY ALL"
    )
    with duckdb.connect(str(warehouse_copy)) as con:
        before = con.execute(query).fetchall()
        for line, written in (("1.0.2", "1.0.02"), ("1.2.1", "01.2.001")):
            assert con.execute(
                "UPDATE raw.finance SET s251_line = ? WHERE s251_line = ?", [written, line]
            ).fetchone()[0]
    rebuild(warehouse_copy, "stg_finance__transactions+", data_tests=False)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        assert con.execute(query).fetchall() == before
        lines = con.execute("SELECT list(DISTINCT s251_line) FROM marts.fct_spend_by_s251_line")
        lines = set(lines.fetchone()[0])
    assert {"1.0.2", "1.2.1"} <= lines and not {"1.0.02", "01.2.001"} & lines


def test_a_payment_on_a_line_the_seed_does_not_list_is_flagged_naming_its_row(warehouse_copy):
    """£100,000 on line 1.1.2 (not in the reviewed list, not 1.2.x) left high needs spend with
    only a dbt warning naming no line, file or row, and the summary's flagged count read 0."""
    with duckdb.connect(str(warehouse_copy)) as con:
        source_file, source_row, transaction_id = con.execute(
            "UPDATE raw.finance SET s251_line = '1.1.2' WHERE transaction_id = "
            "(SELECT min(transaction_id) FROM raw.finance) "
            "RETURNING _source_file, _source_row, transaction_id"
        ).fetchone()
    rebuild(warehouse_copy, "stg_finance__transactions+", data_tests=False)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        flagged = con.execute(
            "SELECT source_file, source_row, record_key FROM intermediate.int_data_quality_flags "
            "WHERE flag = 'unknown_s251_line'"
        ).fetchall()
        counted = con.execute(
            "SELECT sum(rows) FROM marts.fct_data_quality WHERE extract = 'finance' "
            "AND measure = 'rows_flagged_by_flag' AND reason = 'unknown_s251_line'"
        ).fetchone()[0]
    assert flagged == [(source_file, source_row, transaction_id)]
    assert counted == 1


def test_a_payment_for_a_child_a_term_from_any_plan_is_flagged(warehouse_copy):
    """A top-up paid for a child months before their plan began counts in the type's spend
    while the child's days then count no place (placement days are clipped to plans), so the
    type's unit cost read high by it with nothing to show why. Posted more than a term (92 days)
    before the first plan it is flagged, naming its row; a month before it is not."""
    with duckdb.connect(str(warehouse_copy)) as con:
        child, first_plan = con.execute(
            "SELECT child_id, min(plan_start_date) FROM raw.ehcp GROUP BY child_id "
            "HAVING child_id IN (SELECT child_id FROM raw.finance WHERE placement_id IS NOT NULL) "
            "ORDER BY child_id LIMIT 1"
        ).fetchone()
        early, near, placement_only = con.execute(
            "SELECT transaction_id FROM raw.finance WHERE child_id = ? "
            "AND placement_id IS NOT NULL AND s251_line LIKE '1.2.%' "
            "ORDER BY transaction_id LIMIT 3",
            [child],
        ).fetchall()
        moved = []
        for (transaction_id,), days in ((early, 93), (near, 30), (placement_only, 120)):
            moved.append(
                con.execute(
                    "UPDATE raw.finance SET posting_date = CAST(? AS DATE) - CAST(? AS INTEGER) "
                    "WHERE transaction_id = ? RETURNING _source_file, _source_row, transaction_id",
                    [first_plan, days, transaction_id],
                ).fetchone()
            )
        # a ledger may name the placement alone (child_id is optional): its child is the
        # placement's
        con.execute(
            "UPDATE raw.finance SET child_id = NULL WHERE transaction_id = ?", [placement_only[0]]
        )
    rebuild(warehouse_copy, "stg_finance__transactions+", data_tests=False)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        flagged = con.execute(
            "SELECT source_file, source_row, record_key FROM intermediate.int_data_quality_flags "
            "WHERE flag = 'payment_outside_plan' ORDER BY source_row"
        ).fetchall()
    assert flagged == sorted([moved[0], moved[2]], key=lambda row: row[1])


def test_a_childs_top_up_to_a_provider_they_are_not_placed_at_counts_there_and_is_flagged(
    warehouse_copy,
):
    """A top-up paid to an independent special school for a child the placements extract holds
    only in a mainstream school counted as mainstream's (the child's placement that day came
    before the provider's type): mainstream's unit cost +4.8 % and £2.1m on the forecast from
    £300k paid once, nothing flagged. The money counts where it was paid; the child's missing
    placement is flagged, naming the payment's row."""
    with duckdb.connect(str(warehouse_copy)) as con:
        moved = con.execute(
            "UPDATE raw.finance SET placement_id = NULL, provider_urn = '150008', "
            "s251_line = '1.2.3' WHERE transaction_id = 'TX00004' "
            "RETURNING _source_file, _source_row, transaction_id"
        ).fetchone()
        at_provider = con.execute(
            "SELECT DISTINCT provision_type FROM intermediate.int_placements_classified "
            "WHERE urn = '150008'"
        ).fetchall()
        elsewhere = con.execute(
            "SELECT provision_type FROM intermediate.int_spend_allocated "
            "WHERE transaction_id = 'TX00004'"
        ).fetchone()[0]
    assert len(at_provider) == 1 and at_provider[0][0] != elsewhere
    rebuild(warehouse_copy, "stg_finance__transactions+", data_tests=False)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        allocated = con.execute(
            "SELECT provision_type, allocation_method FROM intermediate.int_spend_allocated "
            "WHERE transaction_id = 'TX00004'"
        ).fetchone()
        flagged = con.execute(
            "SELECT source_file, source_row, record_key FROM intermediate.int_data_quality_flags "
            "WHERE flag = 'payment_at_provider_not_placed'"
        ).fetchall()
    assert allocated == (at_provider[0][0], "provider_type")
    assert flagged == [moved]


def test_place_funding_that_nothing_types_counts_central_and_is_flagged(warehouse_copy):
    """Place funding paid to a school that no placement, GIAS row or name types, or naming no
    provider at all, counts as central: the type it paid for reads low by it, and nothing said
    so. Each such payment is flagged, naming its row; a service line's central spend is not."""
    with duckdb.connect(str(warehouse_copy)) as con:
        untyped = con.execute(
            "UPDATE raw.finance SET provider_urn = '999999', supplier_name = 'Nowhere School' "
            "WHERE transaction_id = 'TX00007' "
            "RETURNING _source_file, _source_row, transaction_id"
        ).fetchone()
        unnamed = con.execute(
            "UPDATE raw.finance SET provider_urn = NULL, supplier_name = NULL "
            "WHERE transaction_id = 'TX00017' "
            "RETURNING _source_file, _source_row, transaction_id"
        ).fetchone()
    rebuild(warehouse_copy, "stg_finance__transactions+", data_tests=False)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        allocated = con.execute(
            "SELECT transaction_id, provision_type FROM intermediate.int_spend_allocated "
            "WHERE transaction_id IN ('TX00007', 'TX00017', 'TX00008') ORDER BY 1"
        ).fetchall()
        flagged = con.execute(
            "SELECT source_file, source_row, record_key FROM intermediate.int_data_quality_flags "
            "WHERE flag = 'payment_to_untyped_provider' ORDER BY source_row"
        ).fetchall()
    assert allocated == [("TX00007", "central"), ("TX00008", "central"), ("TX00017", "central")]
    assert flagged == [untyped, unnamed]


def test_a_childs_payment_naming_a_provider_the_child_is_not_found_at_is_flagged(warehouse_copy):
    """A child's top-up paid by a name neither the child's placement nor GIAS gives ("Riverside
    Primary (Governors)") counted at the child's placement that day, a school, with nothing
    said: the money may have gone elsewhere, or the extract lack a placement. Flagged, naming
    the row; the school's own name, and a setting that names no school, are not."""
    with duckdb.connect(str(warehouse_copy)) as con:
        unmatched = con.execute(
            "UPDATE raw.finance SET placement_id = NULL, provider_urn = NULL, "
            "supplier_name = 'Riverside Primary (Governors)' WHERE transaction_id = 'TX00001' "
            "RETURNING _source_file, _source_row, transaction_id"
        ).fetchone()
        con.execute(
            "UPDATE raw.finance SET placement_id = NULL, provider_urn = NULL, "
            "supplier_name = ' riverside primary' WHERE transaction_id = 'TX00010'"
        )
        # an EOTAS placement names no school to match the provider with
        con.execute(
            "UPDATE raw.finance SET placement_id = NULL, s251_line = '1.2.1', "
            "supplier_name = 'Another tutor' WHERE transaction_id = 'TX00005'"
        )
    rebuild(warehouse_copy, "stg_finance__transactions+", data_tests=False)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        allocated = con.execute(
            "SELECT transaction_id, provision_type, allocation_method "
            "FROM intermediate.int_spend_allocated "
            "WHERE transaction_id IN ('TX00001', 'TX00010', 'TX00005') ORDER BY 1"
        ).fetchall()
        flagged = con.execute(
            "SELECT source_file, source_row, record_key FROM intermediate.int_data_quality_flags "
            "WHERE flag = 'payment_at_provider_not_found'"
        ).fetchall()
    assert allocated == [
        ("TX00001", "mainstream", "child_placement_on_posting_date"),
        ("TX00005", "eotas", "child_placement_on_posting_date"),
        ("TX00010", "mainstream", "child_placement_at_provider"),
    ]
    assert flagged == [unmatched]


def test_a_provider_named_by_ukprn_alone_with_no_type_is_flagged_as_taken_for_fe(warehouse_copy):
    """A SEN2 return names a college or specialist post-16 institution by UKPRN alone, with no
    type: without a GIAS row it is taken as an FE college, and a specialist post-16
    institution's fees and child counted as FE with every gate green and nothing flagged."""
    with duckdb.connect(str(warehouse_copy)) as con:
        source_file, source_row = con.execute(
            "UPDATE raw.placements SET establishment_type_code = NULL "
            "WHERE placement_id = 'PL05' RETURNING _source_file, _source_row"
        ).fetchone()
    rebuild(warehouse_copy, "stg_placements__spells+", data_tests=False)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        assert con.execute(
            "SELECT provision_type, classified_by FROM intermediate.int_placements_classified "
            "WHERE placement_id = 'PL05'"
        ).fetchone() == ("post16_fe", "ukprn_without_type")
        flagged = con.execute(
            "SELECT source_file, source_row, record_key FROM intermediate.int_data_quality_flags "
            "WHERE flag = 'provider_type_assumed_fe'"
        ).fetchall()
        counted = con.execute(
            "SELECT sum(rows) FROM marts.fct_data_quality WHERE extract = 'placements' "
            "AND measure = 'rows_flagged_by_flag' AND reason = 'provider_type_assumed_fe'"
        ).fetchone()[0]
    assert flagged == [(source_file, source_row, "PL05")]
    assert counted == 1


def test_a_plan_with_a_cease_reason_and_no_cease_date_is_flagged(warehouse_copy):
    """A plan ceased because the child moved to another council (reason 5) with its cease
    date lost counted as live on every census since, with nothing flagged."""
    with duckdb.connect(str(warehouse_copy)) as con:
        source_file, source_row = con.execute(
            "UPDATE raw.ehcp SET cease_reason = '5' WHERE plan_id = 'EP001' "
            "RETURNING _source_file, _source_row"
        ).fetchone()
    rebuild(warehouse_copy, "stg_ehcp__plans", "int_data_quality_flags", data_tests=False)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        flagged = con.execute(
            "SELECT source_file, source_row, record_key FROM intermediate.int_data_quality_flags "
            "WHERE flag = 'cease_reason_without_cease_date'"
        ).fetchall()
    assert flagged == [(source_file, source_row, "EP001")]


def test_sen_transport_on_a_2_1_line_is_a_known_line(warehouse_copy):
    """SEN transport sits on 2.1.x lines, outside the schools budget (DESIGN.md): not high
    needs, and known, so a ledger carrying it is not flagged row by row."""
    with duckdb.connect(str(warehouse_copy)) as con:
        con.execute(
            "UPDATE raw.finance SET s251_line = '2.1.3' WHERE transaction_id = "
            "(SELECT min(transaction_id) FROM raw.finance)"
        )
    rebuild(warehouse_copy, "stg_finance__transactions+", data_tests=False)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        assert not con.execute(
            "SELECT count(*) FROM intermediate.int_data_quality_flags "
            "WHERE flag = 'unknown_s251_line'"
        ).fetchone()[0]
        assert not con.execute(
            "SELECT count(*) FROM intermediate.int_spend_allocated WHERE is_unknown_s251_line"
        ).fetchone()[0]


def test_data_quality_accounts_for_the_requests_extract_too(warehouse_copy):
    """Every landing file, requests for assessment included: its rows read, loaded and
    quarantined by reason, as for the other extracts."""
    import datetime as dt_

    from ingest.contracts import REQUESTS
    from ingest.load import load_extract
    from tests.conftest import TEST_KEY

    landing = warehouse_copy.parent / "landing"
    (landing / "requests").mkdir(parents=True)
    (landing / "requests" / "requests.csv").write_text(
        "request_id,child_id,request_date,decided_to_assess,decision_date\n"
        "R1,K001,2023-01-10,Y,2023-02-20\n"
        "R2,K002,2023-03-10,N,2023-02-01\n"  # decided before it was asked
        "R3,K003,not a date,,\n"
    )
    with duckdb.connect(str(warehouse_copy)) as con:
        load_extract(con, REQUESTS, landing, "test-requests", TEST_KEY, dt_.date(2026, 3, 31))
    rebuild(warehouse_copy, "stg_requests__assessment_requests", "fct_data_quality")
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        measures = dict(
            con.execute(
                "SELECT measure, sum(rows) FROM marts.fct_data_quality "
                "WHERE extract = 'requests' AND measure IN "
                "('rows_read', 'rows_loaded', 'rows_quarantined', 'rows_current') GROUP BY 1"
            ).fetchall()
        )
    assert measures == {
        "rows_read": 3,
        "rows_loaded": 1,
        "rows_quarantined": 2,
        "rows_current": 1,
    }


def test_an_older_gias_extract_loaded_after_a_newer_one_does_not_retype_schools(warehouse_copy):
    """GIAS names its downloads by day (edubasealldata20250601.csv). An extract of 2020 dropped
    in after 2025's typed a school re-registered since by its old type (the file loaded last
    won): the later day its name gives wins, whatever order they came in."""
    import datetime as dt_

    from ingest.contracts import GIAS
    from ingest.load import load_extract
    from tests.conftest import TEST_KEY

    landing = warehouse_copy.parent / "landing"
    (landing / "reference").mkdir(parents=True)
    header = "URN,EstablishmentName,TypeOfEstablishment (code)\n"
    with duckdb.connect(str(warehouse_copy)) as con:
        for load_id, name, code in (
            ("L1", "edubasealldata20250601.csv", 10),
            ("L2", "edubasealldata20200101.csv", 11),
        ):
            (landing / "reference" / name).write_text(header + f"190001,Vale School,{code}\n")
            load_extract(con, GIAS, landing, load_id, TEST_KEY, dt_.date(2026, 3, 31))
    rebuild(warehouse_copy, "stg_reference__establishments", data_tests=False)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        assert con.execute(
            "SELECT establishment_type_code, source_file "
            "FROM staging.stg_reference__establishments WHERE urn = '190001'"
        ).fetchall() == [(10, "reference/edubasealldata20250601.csv")]


def test_a_placement_typed_otherwise_than_gias_gives_its_school_is_flagged(warehouse_copy):
    """Castle Special School typed 10 (independent special) in the case system where the GIAS
    extract gives 7 (community special): its children and spend counted as independent special,
    every gate green and nothing said. The placement's own type is kept (the school's while the
    child was there), and flagged; codes of one provision type (Oakwood: 10 given, 8 in GIAS, both
    independent or non-maintained special) are no flag."""
    import datetime as dt_

    from ingest.contracts import GIAS
    from ingest.load import load_extract
    from tests.conftest import TEST_KEY

    landing = warehouse_copy.parent / "landing"
    (landing / "reference").mkdir(parents=True)
    (landing / "reference" / "edubasealldata20250601.csv").write_text(
        "URN,EstablishmentName,TypeOfEstablishment (code)\n"
        "140005,Castle Special School,7\n"
        "150004,Oakwood School,8\n"  # non-maintained special: independent special too
    )
    with duckdb.connect(str(warehouse_copy)) as con:
        load_extract(con, GIAS, landing, "L1", TEST_KEY, dt_.date(2026, 3, 31))
        source_file, source_row = con.execute(
            "UPDATE raw.placements SET establishment_type_code = '10' "
            "WHERE placement_id = 'PL06' RETURNING _source_file, _source_row"
        ).fetchone()
    rebuild(
        warehouse_copy,
        "stg_reference__establishments+",
        "stg_placements__spells+",
        data_tests=False,
    )
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        assert con.execute(
            "SELECT provision_type FROM intermediate.int_placements_classified "
            "WHERE placement_id = 'PL06'"
        ).fetchone() == ("inmss",)
        flagged = con.execute(
            "SELECT source_file, source_row, record_key FROM intermediate.int_data_quality_flags "
            "WHERE flag = 'establishment_type_differs_from_gias'"
        ).fetchall()
    assert flagged == [(source_file, source_row, "PL06")]


def _load_requests(warehouse, csv_text: str, name: str = "requests.csv") -> dict[str, list[str]]:
    """Load `csv_text` as the landing folder's requests file `name`; each quarantined request's
    reasons."""
    import datetime as dt_

    from ingest.contracts import REQUESTS
    from ingest.load import load_extract
    from tests.conftest import TEST_KEY

    landing = warehouse.parent / "landing"
    (landing / "requests").mkdir(parents=True)
    (landing / "requests" / name).write_text(csv_text)
    with duckdb.connect(str(warehouse)) as con:
        load_extract(con, REQUESTS, landing, "test-requests", TEST_KEY, dt_.date(2026, 3, 31))
        return dict(
            con.execute(
                "SELECT request_id, reason_codes FROM quarantine.requests ORDER BY 1"
            ).fetchall()
        )


def test_requests_count_every_plan_issued_once_and_a_plan_before_its_request_is_refused(
    warehouse_copy,
):
    """From a requests CSV (no SEN2 return): a plan issued in a year no request was received in
    is that year's (it was lost); a plan start date is a plan issued even with plan_issued
    blank (it was counted nowhere); a plan dated before its request, or dated against
    plan_issued N, is quarantined (it counted as issued within 20 weeks)."""
    reasons = _load_requests(
        warehouse_copy,
        "request_id,child_id,request_date,decided_to_assess,decision_date,"
        "assessment_outcome_date,plan_issued,plan_start_date\n"
        "R1,K001,2024-02-01,Y,2024-03-01,2024-05-01,Y,2024-05-01\n"  # within 20 weeks
        "R2,K002,2024-06-01,Y,2024-07-01,2024-07-15,Y,2024-03-01\n"  # before its request
        "R3,K003,2024-04-01,Y,2024-05-01,2024-07-01,,2024-07-01\n"  # flag blank, dated
        "R4,K004,2024-05-01,Y,2024-06-01,2024-08-01,N,2024-08-01\n"  # N, yet dated
        "R5,K005,2024-08-27,Y,2024-10-01,2025-01-15,Y,2025-01-15\n"  # issued in 2025
        "R6,K006,2024-03-01,Y,2024-04-01,2024-06-01,Y,\n",  # issued, but when?
        "requests_2026-01-05.csv",  # taken after both years' end
    )
    assert set(reasons) == {"R2", "R4", "R6"}, reasons
    rebuild(warehouse_copy, "stg_requests__assessment_requests+", data_tests=False)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        years = con.execute(
            "SELECT year, requests, plans_issued, requests_leading_to_plans, "
            "plans_issued_within_20_weeks FROM marts.fct_ehcp_requests ORDER BY year"
        ).fetchall()
    assert years == [(2024, 3, 2, 3, 2), (2025, 0, 1, 0, 0)]


def test_a_requests_csv_publishes_only_the_years_its_extracts_reach_the_end_of(warehouse_copy):
    """From a requests CSV with no return, a year the extracts do not reach the end of is still
    under way: the fixture's extracts reach 31 July 2024, so 2024's two requests were published
    as a year of two requests (a fall from 2023's three). A file named for a day after the year's
    end reaches it."""
    csv_text = (
        "request_id,child_id,request_date,decided_to_assess,decision_date\n"
        "R1,K001,2023-02-01,Y,2023-03-01\n"
        "R2,K002,2023-06-01,N,2023-07-01\n"
        "R3,K003,2023-11-01,N,2023-12-01\n"
        "R4,K004,2024-01-10,N,2024-02-01\n"
        "R5,K005,2024-02-10,,\n"
    )
    _load_requests(warehouse_copy, csv_text)
    query = "SELECT year, requests FROM marts.fct_ehcp_requests ORDER BY year"
    rebuild(warehouse_copy, "stg_requests__assessment_requests+", data_tests=False)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        assert con.execute(query).fetchall() == [(2023, 3)]
    # the same list, named as taken on 4 January 2025: 2024 is whole
    import datetime as dt_

    from ingest.contracts import REQUESTS
    from ingest.load import load_extract
    from tests.conftest import TEST_KEY

    folder = warehouse_copy.parent / "landing" / "requests"
    (folder / "requests.csv").rename(folder / "requests_2025-01-04.csv")
    with duckdb.connect(str(warehouse_copy)) as con:
        load_extract(con, REQUESTS, folder.parent, "test-named", TEST_KEY, dt_.date(2025, 1, 4))
    rebuild(warehouse_copy, "stg_requests__assessment_requests+", data_tests=False)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        assert con.execute(query).fetchall() == [(2023, 3), (2024, 2)]


def test_a_requests_list_named_for_a_day_reaches_that_day_and_no_day_after_the_load(
    warehouse_copy,
):
    """A requests list named for 30 September 2023 reaches no further, though the fixture's
    other extracts reach 31 July 2024: its nine months of 2023 were published as the year's (a
    fall from 2022). A name dated after the load's own day is not the day the list was taken:
    `requests_2099-12-31.csv` had 2024 read as whole, its two requests published as the year's."""
    import datetime as dt_

    from ingest.contracts import REQUESTS
    from ingest.load import load_extract
    from tests.conftest import TEST_KEY

    _load_requests(
        warehouse_copy,
        "request_id,child_id,request_date,decided_to_assess,decision_date\n"
        "R1,K001,2022-02-01,Y,2022-03-01\n"
        "R2,K002,2022-06-01,N,2022-07-01\n"
        "R3,K003,2023-01-10,N,2023-02-01\n"
        "R4,K004,2023-08-10,N,2023-09-01\n",
        "requests_2023-09-30.csv",
    )
    query = "SELECT year, requests FROM marts.fct_ehcp_requests ORDER BY year"
    rebuild(warehouse_copy, "stg_requests__assessment_requests+", data_tests=False)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        assert con.execute(query).fetchall() == [(2022, 2)]
    folder = warehouse_copy.parent / "landing" / "requests"
    (folder / "requests_2023-09-30.csv").rename(folder / "requests_2099-12-31.csv")
    with duckdb.connect(str(warehouse_copy)) as con:
        load_extract(con, REQUESTS, folder.parent, "test-future", TEST_KEY, dt_.date(2026, 3, 31))
        assert con.execute(
            "SELECT named_day FROM raw.requests_files WHERE in_landing"
        ).fetchall() == [(None,)]
    rebuild(warehouse_copy, "stg_requests__assessment_requests+", data_tests=False)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        # unnamed now: the other extracts' reach, 31 July 2024
        assert con.execute(query).fetchall() == [(2022, 2), (2023, 2)]


def test_a_requests_csv_giving_census_days_on_some_rows_keeps_its_other_years(warehouse_copy):
    """census_date is an optional column of a requests CSV: a list giving it on its 2023 rows
    alone had 2022 dropped from fct_ehcp_requests (only the years a return reports were kept,
    once any row named a census)."""
    _load_requests(
        warehouse_copy,
        "request_id,child_id,request_date,decided_to_assess,decision_date,census_date\n"
        "R1,K001,2022-02-01,Y,2022-03-01,\n"
        "R2,K002,2022-06-01,N,2022-07-01,\n"
        "R3,K003,2023-01-10,N,2023-02-01,2024-01-18\n"
        "R4,K004,2023-08-10,N,2023-09-01,2024-01-18\n"
        "R5,K005,2023-11-10,N,2023-12-01,2024-01-18\n",
    )
    rebuild(warehouse_copy, "stg_requests__assessment_requests+", data_tests=False)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        assert con.execute(
            "SELECT year, requests FROM marts.fct_ehcp_requests ORDER BY year"
        ).fetchall() == [(2022, 2), (2023, 3)]


def test_withdrawn_requests_and_assessments_are_counted_apart_from_refusals(warehouse_copy):
    """The DfE counts a request withdrawn before a decision apart from a decision not to assess,
    and an assessment withdrawn apart from a decision not to issue: both were counted as refusals
    (W is SEN2's requestoutcome / assessmentoutcome code). A request refused or withdrawn that
    also has a plan, a refusal with a withdrawn assessment, or a withdrawn assessment with a
    plan, is quarantined: it counted twice. A refusal beside plan_issued N, or a withdrawal
    beside W (its status copied), is the request's outcome alone. A plan issued beside a blank
    decision was decided: it counted in plans issued and not in decisions to assess."""
    reasons = _load_requests(
        warehouse_copy,
        "request_id,child_id,request_date,decided_to_assess,decision_date,"
        "assessment_outcome_date,plan_issued,plan_start_date\n"
        "R1,K001,2024-02-01,N,2024-03-01,,,\n"  # refused
        "R2,K002,2024-02-01,W,2024-03-01,,,\n"  # withdrawn before a decision
        "R3,K003,2024-02-01,Y,2024-03-01,2024-05-01,N,\n"  # not issued
        "R4,K004,2024-02-01,Y,2024-03-01,2024-05-01,W,\n"  # assessment withdrawn
        "R5,K005,2024-02-01,Y,2024-03-01,2024-06-01,Y,2024-06-01\n"  # issued
        "R6,K006,2024-02-01,N,2024-03-01,2024-06-01,Y,2024-06-01\n"  # refused, yet a plan
        "R7,K007,2024-02-01,N,2024-03-01,2024-06-01,W,\n"  # refused, yet withdrawn later
        "R10,K010,2024-02-01,W,2024-03-01,,W,\n"  # withdrawn, its status copied
        "R8,K008,2024-02-01,N,2024-03-01,,N,\n"  # refused: N is how exports say "no plan"
        "R9,K009,2024-02-01,Y,2024-03-01,2024-06-01,W,2024-06-01\n"  # withdrawn, yet a plan
        # issued with the decision to assess left blank: only an assessment issues a plan
        "R11,K011,2024-02-01,,,2024-06-01,Y,2024-06-01\n",
        "requests_2025-01-05.csv",  # taken after the year's end
    )
    assert reasons == {
        "R6": ["assessment_outcome_without_decision_to_assess"],
        "R7": ["assessment_outcome_without_decision_to_assess"],
        "R9": ["plan_start_date_with_plan_not_issued"],
    }
    rebuild(warehouse_copy, "stg_requests__assessment_requests+", data_tests=False)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        year = con.execute(
            "SELECT requests, requests_decided_to_assess, requests_decided_not_to_assess, "
            "requests_withdrawn, plans_issued, decisions_not_to_issue, assessments_withdrawn "
            "FROM marts.fct_ehcp_requests WHERE year = 2024"
        ).fetchall()
    assert year == [(8, 4, 2, 2, 2, 1, 1)]


def test_a_child_with_two_active_plans_counts_once_and_is_flagged(warehouse_copy):
    """SEN2 counts a child's plan once: a second plan for a child whose first is still active
    (a data error) must not add to the caseload; it is flagged for a data engineer."""
    query = "SELECT census_year, sum(plans) FROM marts.fct_ehcp_cohort GROUP BY 1"
    with duckdb.connect(str(warehouse_copy)) as con:
        before = dict(con.execute(query).fetchall())
        con.execute(
            "INSERT INTO raw.ehcp BY NAME "
            "SELECT * REPLACE ('EP_SECOND' AS plan_id, plan_start_date + 30 AS plan_start_date, "
            "999 AS _source_row) "
            "FROM raw.ehcp WHERE plan_cease_date IS NULL ORDER BY plan_id LIMIT 1"
        )
    rebuild(warehouse_copy, "int_ehcp_census_snapshots+", "int_data_quality_flags+")
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        assert dict(con.execute(query).fetchall()) == before
        flagged = con.execute(
            "SELECT record_key FROM intermediate.int_data_quality_flags "
            "WHERE flag = 'overlapping_plan'"
        ).fetchall()
        assert flagged == [("EP_SECOND",)]


def test_a_plan_live_on_a_census_day_past_25_is_flagged(warehouse_copy):
    """A plan ends at the latest with the academic year in which the young person turns 25: one
    still live on a census day after it was counted with no word for a data engineer (its cease
    date lost, or its date of birth wrong). Born 15 October, 27 years before the latest census:
    25 on the 31 August before it, so 25 was turned in the academic year before (flagged); a
    year younger, 25 is turned in the census's own academic year (not flagged)."""
    with duckdb.connect(str(warehouse_copy)) as con:
        latest = con.execute(
            "SELECT max(census_year) FROM intermediate.int_ehcp_census_snapshots"
        ).fetchone()[0]
        for plan, years, row in (("EP_OLD", 27, 998), ("EP_YOUNG", 26, 999)):
            con.execute(
                "INSERT INTO raw.ehcp BY NAME "
                f"SELECT * REPLACE ('{plan}' AS plan_id, child_id + {row} * 1000 AS child_id, "
                f"make_date({latest - years}, 10, 15) AS date_of_birth, {row} AS _source_row) "
                "FROM raw.ehcp WHERE plan_cease_date IS NULL ORDER BY plan_id LIMIT 1"
            )
    rebuild(warehouse_copy, "int_ehcp_census_snapshots+", "int_data_quality_flags+")
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        ages = con.execute(
            "SELECT plan_id, age FROM intermediate.int_ehcp_census_snapshots "
            "WHERE plan_id IN ('EP_OLD', 'EP_YOUNG') AND census_year = ? ORDER BY plan_id",
            [latest],
        ).fetchall()
        flagged = con.execute(
            "SELECT record_key, extract, source_row FROM intermediate.int_data_quality_flags "
            "WHERE flag = 'plan_live_past_25'"
        ).fetchall()
        counted = con.execute(
            "SELECT sum(rows) FROM marts.fct_data_quality "
            "WHERE measure = 'rows_flagged_by_flag' AND reason = 'plan_live_past_25'"
        ).fetchone()[0]
    assert ages == [("EP_OLD", 25), ("EP_YOUNG", 24)]
    assert flagged == [("EP_OLD", "ehcp", 998)] and counted == 1


def test_a_placement_left_open_after_the_child_s_last_plan_ceased_counts_no_place_after_it(
    warehouse_copy,
):
    """A case system left a placement open (no end date) after the child's only plan ceased: it
    counted a full-time place every year to the as-at date, with no flag (extracts reviewer:
    inmss unit cost £60,488 read £56,864). It ends with the plan now, and is flagged."""
    with duckdb.connect(str(warehouse_copy)) as con:
        placement, ceased_on = con.execute(
            """
            SELECT p.placement_id, c.ceased_on
            FROM intermediate.int_placements_classified AS p
            JOIN (
                SELECT la_code, child_id, max(plan_cease_date) AS ceased_on
                FROM staging.stg_ehcp__plans GROUP BY ALL
                HAVING count(*) = count(plan_cease_date)
            ) AS c USING (la_code, child_id)
            WHERE p.end_date = c.ceased_on AND p.start_date < c.ceased_on - 400
            ORDER BY p.placement_id LIMIT 1
            """
        ).fetchone()

        def days(con) -> list[tuple]:
            return con.execute(
                "SELECT financial_year, days_open, fte "
                "FROM intermediate.int_placement_days_by_year "
                "WHERE placement_id = ? ORDER BY financial_year",
                [placement],
            ).fetchall()

        before = days(con)
        con.execute("UPDATE raw.placements SET end_date = NULL WHERE placement_id = ?", [placement])
    rebuild(warehouse_copy, "stg_placements__spells+", "int_data_quality_flags+")
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        after = days(con)
        flagged = con.execute(
            "SELECT record_key, extract FROM intermediate.int_data_quality_flags "
            "WHERE flag = 'placement_open_after_plan_ceased'"
        ).fetchall()
    # the same days as when it ended with the plan (it ran to the as-at date: years more)
    year = ceased_on.year if ceased_on.month >= 4 else ceased_on.year - 1
    assert after == before and after[-1][0] == f"{year}-{(year + 1) % 100:02d}"
    assert flagged == [(placement, "placements")]


def test_a_placement_given_again_under_a_new_id_the_same_day_counts_one_place(warehouse_copy):
    """A child's open placement given again under a new id from the same day, neither ranked (a
    record duplicated in the case system): neither took the other over (the rule wanted a later
    start), so both counted in full, the type's places one higher and its unit cost lower, with
    only overlapping_placement said. The one the census counts (the lower id) is in force."""
    with duckdb.connect(str(warehouse_copy)) as con:
        placement, child = con.execute(
            "SELECT placement_id, child_id FROM raw.placements "
            "WHERE end_date IS NULL AND placement_rank IS NULL AND start_date < DATE '2023-01-01' "
            "ORDER BY placement_id LIMIT 1"
        ).fetchone()

        def places(con) -> list[tuple]:
            return con.execute(
                "SELECT financial_year, sum(fte) FROM intermediate.int_placement_days_by_year "
                "WHERE child_id = ? GROUP BY ALL ORDER BY ALL",
                [child],
            ).fetchall()

        before = places(con)
        con.execute(
            "INSERT INTO raw.placements SELECT * REPLACE ('~COPY' AS placement_id, "
            "_source_row + 100000 AS _source_row) FROM raw.placements WHERE placement_id = ?",
            [placement],
        )
    rebuild(warehouse_copy, "stg_placements__spells+", "int_data_quality_flags+", data_tests=False)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        after = places(con)
        copied = con.execute(
            "SELECT count(*) FROM intermediate.int_placement_days_by_year "
            "WHERE placement_id = '~COPY'"
        ).fetchone()[0]
        flagged = con.execute(
            "SELECT count(*) FROM intermediate.int_data_quality_flags "
            "WHERE flag = 'overlapping_placement' AND record_key IN (?, '~COPY')",
            [placement],
        ).fetchone()[0]
    assert after == before and copied == 0
    assert flagged >= 1  # still said


def test_a_placement_begun_after_the_child_s_last_plan_ceased_counts_no_place(warehouse_copy):
    """A college placement begun two months after the young person's only plan ceased, with no
    end date: 'left as given', it counted a full-time place each year to the as-at date, with
    no flag, where one left open across the cease counts none after it (an FE unit cost read
    £2,401 for £12,033). Its days after the cease count no place either way, and it is flagged."""
    with duckdb.connect(str(warehouse_copy)) as con:
        child, ceased_on = con.execute(
            """
            SELECT child_id, max(plan_cease_date) AS ceased_on FROM staging.stg_ehcp__plans
            GROUP BY ALL HAVING count(*) = count(plan_cease_date)
            ORDER BY ceased_on, child_id LIMIT 1
            """
        ).fetchone()
        con.execute(
            "INSERT INTO raw.placements SELECT * REPLACE ('LATE_P' AS placement_id, "
            "CAST(? AS DATE) + 60 AS start_date, NULL AS end_date, _source_row + 100000 AS "
            "_source_row) FROM raw.placements WHERE child_id = ? LIMIT 1",
            [ceased_on, child],
        )
    rebuild(warehouse_copy, "stg_placements__spells+", "int_data_quality_flags+")
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        days = con.execute(
            "SELECT count(*) FROM intermediate.int_placement_days_by_year "
            "WHERE placement_id = 'LATE_P'"
        ).fetchone()[0]
        flagged = con.execute(
            "SELECT count(*) FROM intermediate.int_data_quality_flags "
            "WHERE flag = 'placement_open_after_plan_ceased' AND record_key = 'LATE_P'"
        ).fetchone()[0]
    assert (days, flagged) == (0, 1)


def test_a_dual_placement_the_extract_ranks_is_not_flagged_as_an_overlap(warehouse_copy):
    """A special school ranked 1 and a few days a week in mainstream ranked 2 (SEN2
    PlacementRank) were flagged overlapping_placement, an error the data team was told to look
    at; the same two without ranks still are. A placement starting on the day the last one ended
    (a handover, as case systems record it) is no overlap either: the new one is in force."""
    with duckdb.connect(str(warehouse_copy)) as con:
        # children whose placements have all ended: the new ones overlap only each other
        ranked, plain, handed = (
            row[0]
            for row in con.execute(
                "SELECT child_id FROM raw.placements GROUP BY child_id "
                "HAVING count(*) = count(end_date) ORDER BY child_id LIMIT 3"
            ).fetchall()
        )
        for n, (placement, child, rank, start, end) in enumerate(
            [
                ("DUAL_1", ranked, 1, "2031-09-01", None),
                ("DUAL_2", ranked, 2, "2031-09-08", None),
                ("PLAIN_1", plain, None, "2031-09-01", None),
                ("PLAIN_2", plain, None, "2031-09-08", None),
                ("HAND_1", handed, None, "2031-09-01", "2031-09-08"),
                ("HAND_2", handed, None, "2031-09-08", None),
            ]
        ):
            con.execute(
                "INSERT INTO raw.placements SELECT * REPLACE (? AS placement_id, "
                "CAST(? AS DATE) AS start_date, CAST(? AS DATE) AS end_date, "
                "CAST(? AS INTEGER) AS placement_rank, _source_row + 200000 + ? AS _source_row) "
                "FROM raw.placements WHERE child_id = ? LIMIT 1",
                [placement, start, end, rank, n, child],
            )
    rebuild(warehouse_copy, "stg_placements__spells+", "int_data_quality_flags+", data_tests=False)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        flagged = con.execute(
            "SELECT record_key FROM intermediate.int_data_quality_flags "
            "WHERE flag = 'overlapping_placement' AND (record_key LIKE 'DUAL_%' "
            "OR record_key LIKE 'PLAIN_%' OR record_key LIKE 'HAND_%') ORDER BY 1"
        ).fetchall()
    assert flagged == [("PLAIN_2",)]


def _cease_child_3(monkeypatch, council, day: str) -> None:
    """The SEN2 council's child 3's plan ceased on `day` (returns written after this say so)."""
    import dataclasses

    monkeypatch.setattr(
        council,
        "PLANS",
        tuple(
            dataclasses.replace(p, cease=day, cease_reason="1") if p.child == 3 else p
            for p in council.PLANS
        ),
    )


def _child_3_after_the_2025_return(warehouse_copy, landing, council) -> tuple[list, list]:
    """Write the 2025 return as `council` now holds it beside the returns under `landing`, load
    them all and rebuild SEN2 staging: child 3's plans and placement spells (start, end)."""
    import datetime as dt_

    from ingest.contracts import EHCP, PLACEMENTS, REQUESTS
    from ingest.load import load_extract
    from ingest.pseudonymise import keyed_hash
    from tests.conftest import TEST_KEY

    council.write_sen2_return(landing / "sen2" / "2025", council.CENSUS_DATES[2], 3)
    with duckdb.connect(str(warehouse_copy)) as con:
        for extract in (EHCP, PLACEMENTS, REQUESTS):
            load_extract(con, extract, landing, "sen2", TEST_KEY, dt_.date(2026, 3, 31))
    rebuild(
        warehouse_copy,
        "stg_sen2__retired",
        "stg_ehcp__plans",
        "stg_placements__spells",
        "stg_requests__assessment_requests",
        data_tests=False,
    )
    child = keyed_hash(council.CHILDREN[3].upn, TEST_KEY)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        plans = con.execute(
            "SELECT plan_start_date, plan_cease_date FROM staging.stg_ehcp__plans "
            "WHERE child_id = ?",
            [child],
        ).fetchall()
        spells = con.execute(
            "SELECT start_date, end_date FROM staging.stg_placements__spells WHERE child_id = ?",
            [child],
        ).fetchall()
    return plans, spells


def test_a_plan_a_later_return_leaves_out_uncorrected_keeps_its_history(
    warehouse_copy, tmp_path, monkeypatch
):
    """A cease date recorded late: the 2023 and 2024 returns show child 3's plan and placement
    open, the 2025 return leaves them out (closed on 20 December 2023, before its window) and
    lists nothing in their place. Retired as a correction, the plan left every census back to
    2020; it ended before the 2025 window, so it is held to end the day before it."""
    import dataclasses
    import datetime as dt_

    import tests.sen2_council as council
    from ingest.pseudonymise import keyed_hash
    from tests.conftest import TEST_KEY

    landing = tmp_path / "sen2_landing"
    for version, census in enumerate(council.CENSUS_DATES[:2], 1):
        council.write_sen2_return(landing / "sen2" / str(census.year), census, version)
    late = "2023-12-20"
    _cease_child_3(monkeypatch, council, late)
    # child 0 left its placement of September 2023 on the same day, also recorded late, and
    # moved on to another from February 2024: no correction of the first (a move retired it)
    moved = council.Spell(
        0, "2024-02-01", None, urn="110099", annual_cost="9000.00", s251_line="1.2.1"
    )
    monkeypatch.setattr(
        council,
        "SPELLS",
        (
            *(
                dataclasses.replace(s, end=late)
                if s.child == 3 or (s.child == 0 and s.start == "2023-09-01")
                else s
                for s in council.SPELLS
            ),
            moved,
        ),
    )
    plans, spells = _child_3_after_the_2025_return(warehouse_copy, landing, council)
    ended = dt_.date(2023, 12, 31)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        retired = con.execute(
            "SELECT extract, ended_by FROM staging.stg_sen2__retired ORDER BY 1"
        ).fetchall()
    assert plans == [(dt_.date(2020, 1, 20), ended)]
    assert spells == [(dt_.date(2020, 1, 20), ended)]
    assert ("ehcp", ended) in retired and ("placements", ended) in retired
    # the request that led to the plan was made all the same: retired, it left its year's
    # requests, decisions and plans issued
    assert ("requests", None) not in retired
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        requested = con.execute(
            "SELECT plan_start_date FROM staging.stg_requests__assessment_requests "
            "WHERE child_id = ?",
            [keyed_hash(council.CHILDREN[3].upn, TEST_KEY)],
        ).fetchall()
    assert requested == [(dt_.date(2020, 1, 20),)]
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        first = con.execute(
            "SELECT start_date, end_date FROM staging.stg_placements__spells WHERE child_id = ? "
            "ORDER BY 1",
            [keyed_hash(council.CHILDREN[0].upn, TEST_KEY)],
        ).fetchall()
    assert first[-2:] == [(dt_.date(2023, 9, 1), ended), (dt_.date(2024, 2, 1), None)]


def test_another_child_entering_the_same_school_that_day_corrects_no_placement(
    warehouse_copy, tmp_path, monkeypatch
):
    """Child 3's placement ended late (recorded after the 2024 return), so the 2025 return
    leaves it out; child 0, listed by every return, entered the same school the same day. A
    placement of any child with the same entry date and establishment counted as a correction,
    so child 3's was retired and its days went uncounted (a year's mainstream unit cost read 50 %
    high): only a child the return before does not list (a new UPN) can correct it."""
    import dataclasses
    import datetime as dt_

    import tests.sen2_council as council

    landing = tmp_path / "sen2_landing"
    same_day = council.Spell(0, "2020-01-20", None, urn="110006", annual_cost="14000.00")
    monkeypatch.setattr(council, "SPELLS", (*council.SPELLS, same_day))
    for version, census in enumerate(council.CENSUS_DATES[:2], 1):
        council.write_sen2_return(landing / "sen2" / str(census.year), census, version)
    late = "2023-12-20"
    _cease_child_3(monkeypatch, council, late)
    monkeypatch.setattr(
        council,
        "SPELLS",
        tuple(dataclasses.replace(s, end=late) if s.child == 3 else s for s in council.SPELLS),
    )
    _, spells = _child_3_after_the_2025_return(warehouse_copy, landing, council)
    assert spells == [(dt_.date(2020, 1, 20), dt_.date(2023, 12, 31))]


def test_a_plan_ceased_in_a_year_whose_return_is_missing_ends_before_the_next_window(
    warehouse_copy, tmp_path, monkeypatch
):
    """The 2024 return is missing: child 3's plan and placement, open in the 2023 return, ceased
    in June 2023 (as only the missing return said), and the 2025 return does not list them. A
    missing year retired nothing, so they stayed open and counted in every census after; not in
    the 2025 return, they ended before its window, and are held to end the day before it."""
    import dataclasses
    import datetime as dt_

    import tests.sen2_council as council

    landing = tmp_path / "sen2_landing"
    council.write_sen2_return(landing / "sen2" / "2023", council.CENSUS_DATES[0], 1)
    ceased = "2023-06-30"
    _cease_child_3(monkeypatch, council, ceased)
    monkeypatch.setattr(
        council,
        "SPELLS",
        tuple(dataclasses.replace(s, end=ceased) if s.child == 3 else s for s in council.SPELLS),
    )
    plans, spells = _child_3_after_the_2025_return(warehouse_copy, landing, council)
    ended = dt_.date(2023, 12, 31)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        retired = con.execute(
            "SELECT DISTINCT extract, ended_by IS NULL FROM staging.stg_sen2__retired"
        ).fetchall()
    assert plans == [(dt_.date(2020, 1, 20), ended)]
    assert spells == [(dt_.date(2020, 1, 20), ended)]
    # across the missing year nothing is retired (what 2025 lists may have begun in 2024)
    assert all(not retired_outright for _, retired_outright in retired)


def test_a_placement_list_dated_before_one_already_loaded_does_not_win_by_coming_later(
    warehouse_copy, tmp_path
):
    """Lists re-sent as at a day: March's, then February's delivered a night later with 15
    placements ended. The later-loaded February list had won, so the nights' figures differed
    from a rebuild of the same folder (which loads them in their days' order), every gate green.
    Every name giving a day, the later day wins whatever order the lists came in."""
    import datetime as dt_

    from ingest.contracts import PLACEMENTS
    from ingest.load import load_extract
    from tests.conftest import TEST_KEY

    header = (
        "placement_id,child_id,urn,ukprn,sen_setting,establishment_name,establishment_type_code,"
        "sen_unit,resourced_provision,residential,start_date,end_date,annual_cost"
    )
    row = "PL02,K001,140002,,,Downs Special Academy,44,,,,2023-09-01,{end},24000"
    folder = tmp_path / "landing" / "placements"
    folder.mkdir(parents=True)

    def end_date() -> dt_.date | None:
        rebuild(warehouse_copy, "stg_sen2__retired", "stg_placements__spells", data_tests=False)
        with duckdb.connect(str(warehouse_copy), read_only=True) as con:
            return con.execute(
                "SELECT end_date FROM staging.stg_placements__spells WHERE placement_id = 'PL02'"
            ).fetchone()[0]

    for load_id, name, end in (
        ("L1", "placements_2025-03-31.csv", ""),
        ("L2", "placements_2025-02-01.csv", "2024-08-31"),
    ):
        (folder / name).write_text(f"{header}\n{row.format(end=end)}\n")
        with duckdb.connect(str(warehouse_copy)) as con:
            load_extract(
                con, PLACEMENTS, tmp_path / "landing", load_id, TEST_KEY, dt_.date(2026, 3, 31)
            )
    assert end_date() is None  # March's list: still open
    # a corrections file naming no day and not this placement: March's list still stands (one
    # file without a day had put every list back in load order, February's last)
    other = "PL99,K001,140002,,,Downs Special Academy,44,,,,2023-09-01,,24000"
    (folder / "placements_corrections.csv").write_text(f"{header}\n{other}\n")
    with duckdb.connect(str(warehouse_copy)) as con:
        load_extract(con, PLACEMENTS, tmp_path / "landing", "L3", TEST_KEY, dt_.date(2026, 3, 31))
    assert end_date() is None
    # one that does name it: it came after March's list, and wins
    (folder / "placements_resent.csv").write_text(f"{header}\n{row.format(end='2024-08-31')}\n")
    with duckdb.connect(str(warehouse_copy)) as con:
        load_extract(con, PLACEMENTS, tmp_path / "landing", "L4", TEST_KEY, dt_.date(2026, 3, 31))
    assert end_date() == dt_.date(2024, 8, 31)
