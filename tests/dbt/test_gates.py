"""Each gate passes on good data and fails when the thing it guards is broken."""

import datetime as dt
import random

import duckdb
import pandas as pd
import pytest

from checks import gates
from dagster_project.settings import COST_BOUNDS
from ingest.contracts import BUDGET, EHCP, EXTRACTS, FINANCE
from tests.dbt.conftest import dbt_build


@pytest.fixture
def con(warehouse_copy):
    with duckdb.connect(str(warehouse_copy)) as connection:
        yield connection


def test_all_gates_pass_on_the_fixture(con):
    bounds = gates.read_cost_bounds(COST_BOUNDS)
    results = [
        gates.transaction_ids_reused(con),
        gates.transactions_under_two_ids(con),
        gates.restatement_loaded_first(con),
        gates.finance_reconciliation(con),
        gates.ledger_months_complete(con),
        gates.case_extracts_reach_census(con),
        gates.open_rows_left_in_older_lists(con),
        gates.lists_of_one_day_agree(con),
        gates.case_rows_in_two_sources(con),
        gates.plans_overlap_within_tolerance(con),
        gates.plans_under_two_child_ids(con),
        gates.sen2_returns_every_year(con),
        gates.flows_within_usual(con),
        gates.base_year_spend_within_usual(con),
        gates.census_placements_within_usual(con),
        gates.budget_lines_given_twice(con),
        gates.complete_years_have_a_budget(con),
        gates.balance_brought_forward_anchors(con),
        gates.balance_brought_forward_agrees(con),
        gates.unit_costs_within_bounds(con, bounds, 1.0),
        gates.placement_costs_within_bounds(con, bounds),
    ]
    for extract in EXTRACTS.values():
        results += [
            gates.rows_accounted_for(con, extract),
            gates.no_rejected_files(con, extract),
            gates.quarantine_within_tolerance(con, extract, 0.0, 0.0),
        ]
    for name, keys in (
        ("ehcp", ("plan_id",)),
        ("finance", ("transaction_id",)),
        ("budget", ("financial_year", "line")),
    ):
        model = {
            "ehcp": "stg_ehcp__plans",
            "finance": "stg_finance__transactions",
            "budget": "stg_budget__lines",
        }[name]
        results.append(gates.staging_accounting(con, EXTRACTS[name], f"staging.{model}", keys))
    assert [r.summary for r in results if not r.passed] == []


def test_rows_accounted_for_fails_when_a_loaded_row_disappears(con):
    con.execute("DELETE FROM raw.finance WHERE _source_row = 10")
    result = gates.rows_accounted_for(con, FINANCE)
    assert not result.passed
    assert "rows read from the file are neither loaded, duplicates nor quarantined" in (
        result.summary
    )
    assert "money read ≠ money loaded" in result.summary
    assert result.facts.loc[0, "rows_unaccounted"] == 1


def test_rows_accounted_for_fails_when_rows_read_differ_from_raw(con):
    con.execute("UPDATE raw.ehcp_files SET rows_read = rows_read + 1")
    assert "rows read from the file are neither" in gates.rows_accounted_for(con, EHCP).summary


def test_rows_accounted_for_fails_when_a_row_is_in_two_outcomes(con):
    """A loaded row also counted as a duplicate (and a row read that is missing, so the counts
    still add up): the row-by-row check finds it."""
    con.execute(
        "INSERT INTO raw.finance_duplicates (_file_hash, _source_file, _source_row, _load_id, "
        "_duplicate_of_row, amount) SELECT _file_hash, _source_file, _source_row, _load_id, 2, 0 "
        "FROM raw.finance WHERE _source_row = 10"
    )
    con.execute("UPDATE raw.finance_files SET rows_read = rows_read + 1")
    result = gates.rows_accounted_for(con, FINANCE)
    assert "rows are in two of raw, duplicates and quarantine" in result.summary
    assert result.facts["rows_unaccounted"].tolist() == [0]


def test_rejected_file_fails_its_gate(con):
    con.execute(
        "UPDATE raw.budget_files SET status = 'rejected', "
        "message = 'budget/budget.csv: missing required column(s) amount'"
    )
    result = gates.no_rejected_files(con, BUDGET)
    assert not result.passed and "missing required column(s) amount" in result.summary


def test_quarantine_beyond_tolerance_fails(con):
    con.execute(
        "INSERT INTO quarantine.ehcp (plan_id, _file_hash, _source_file, _source_row, _load_id, "
        "reason_codes, reason) "
        "SELECT 'EP999', file_hash, file_name, 99, 'x', ['bad_date'], 'date_of_birth: bad date' "
        "FROM raw.ehcp_files"
    )
    con.execute("UPDATE raw.ehcp_files SET rows_quarantined = 1")
    assert not gates.quarantine_within_tolerance(con, EHCP, 0.0, 0.0).passed
    assert "bad_date × 1" in gates.quarantine_within_tolerance(con, EHCP, 0.0, 0.0).summary
    assert gates.quarantine_within_tolerance(con, EHCP, 0.2, 0.0).passed


def test_quarantined_money_beyond_its_tolerance_fails_even_when_few_rows_are(con):
    """One costly row of many: within the rows tolerance, not within the money one. Absolute
    amounts count, so a quarantined credit cannot hide a quarantined debit."""
    read = float(con.execute("SELECT sum(abs(amount)) FROM raw.finance").fetchone()[0])
    con.execute(
        "UPDATE raw.finance_files SET rows_quarantined = 2, money_quarantined_gbp = 0, "
        "gross_money_quarantined_gbp = ?, gross_money_read_gbp = ?",
        [read * 0.01, read * 1.01],
    )
    result = gates.quarantine_within_tolerance(con, FINANCE, 0.5, 0.005)
    assert not result.passed
    assert "HIGHNEEDS_QUARANTINE_MONEY_TOLERANCE" in result.summary and "0.99%" in result.summary
    assert gates.quarantine_within_tolerance(con, FINANCE, 0.5, 0.02).passed


def _broken_finance_staging(con, select: str):
    con.execute(f"CREATE OR REPLACE VIEW staging.stg_finance__transactions_broken AS {select}")
    return gates.staging_accounting(
        con, FINANCE, "staging.stg_finance__transactions_broken", ("transaction_id",)
    )


@pytest.mark.parametrize(
    ("broken_staging", "failure"),
    [
        pytest.param(
            "SELECT * FROM staging.stg_finance__transactions WHERE transaction_id <> 'TX00005'",
            "neither in staging nor superseded",
            id="drops a row",
        ),
        pytest.param(
            "SELECT * FROM staging.stg_finance__transactions UNION ALL "
            "SELECT * FROM staging.stg_finance__transactions WHERE transaction_id = 'TX00007'",
            "staging holds rows that are not valid raw rows",
            id="holds a row twice",
        ),
        pytest.param(
            "SELECT * REPLACE (CASE WHEN transaction_id = 'TX00009' THEN amount_gbp + 0.01 "
            "ELSE amount_gbp END "
            "AS amount_gbp) FROM staging.stg_finance__transactions",
            "money in staging differs from the valid raw rows",
            id="a penny changed",
        ),
    ],
)
def test_staging_accounting_fails_when_staging_is_broken(con, broken_staging, failure):
    result = _broken_finance_staging(con, broken_staging)
    assert not result.passed
    assert failure in result.summary


def test_staging_accounting_counts_a_row_superseded_by_a_later_file(con):
    # staging keeps the key of TX00005 from another row (as when a later file re-exports it)
    result = _broken_finance_staging(
        con,
        "SELECT * REPLACE (CASE WHEN transaction_id = 'TX00005' THEN source_row + 100000 "
        "ELSE source_row END AS source_row) "
        "FROM staging.stg_finance__transactions",
    )
    assert not result.passed  # the re-numbered row is not a valid raw row
    assert (
        result.facts.loc[0, "rows_superseded"] == 1 and result.facts.loc[0, "rows_unaccounted"] == 0
    )
    assert result.facts.loc[0, "staging_rows_not_from_raw"] == 1


def test_finance_reconciliation_fails_when_the_mart_is_off_by_a_penny(con):
    con.execute(
        "UPDATE marts.fct_provision_spend SET spend_gbp = spend_gbp + 0.01 "
        "WHERE financial_year = '2022-23' AND provision_type = 'mss'"
    )
    result = gates.finance_reconciliation(con)
    assert not result.passed
    assert "high needs spend differs from fct_provision_spend (2022-23)" in result.summary


def test_unit_cost_bounds_fail_outside_bounds(con):
    bounds = gates.read_cost_bounds(COST_BOUNDS)
    tight = bounds.assign(
        max_unit_cost_gbp=bounds["max_unit_cost_gbp"].where(
            bounds["provision_type"] != "inmss", 50_000
        )
    )
    result = gates.unit_costs_within_bounds(con, tight, 1.0)
    assert not result.passed and "2021-22 inmss £" in result.summary
    assert "(bounds £10,000–£50,000)" in result.summary and "pence" not in result.summary


def test_unit_costs_a_hundred_times_their_bounds_ask_whether_the_ledger_is_in_pence(con):
    """A ledger exported in pence stopped the refresh naming only years and types: the message
    now gives each unit cost beside its bounds and asks about the unit."""
    bounds = gates.read_cost_bounds(COST_BOUNDS)
    con.execute("UPDATE marts.fct_provision_spend SET unit_cost_gbp = unit_cost_gbp * 100")
    result = gates.unit_costs_within_bounds(con, bounds, 1.0)
    assert not result.passed
    assert "are the ledger's amounts in pence?" in result.summary


def test_one_type_a_little_over_its_bound_is_not_asked_about_pence(con):
    """An overspend at one PRU put alternative provision at £94,604 a place against a bound of
    £90,000: within the bounds divided by 100 (the floor is £0), and blamed on pence. A type a
    little over its bound is an overspend to look at, not a ledger in pence."""
    bounds = gates.read_cost_bounds(COST_BOUNDS)
    con.execute(
        "UPDATE marts.fct_provision_spend SET unit_cost_gbp = 31000 "
        "WHERE provision_type = 'mainstream' AND financial_year = '2021-22'"
    )
    result = gates.unit_costs_within_bounds(con, bounds, 1.0)
    assert not result.passed
    assert "2021-22 mainstream £31,000 (bounds £0–£30,000)" in result.summary
    assert "pence" not in result.summary


def test_unit_costs_at_zero_with_the_spend_all_central_name_the_untyped_ledger(con):
    """A ledger of the finance contract's required columns alone (no child, placement or
    provider on a payment) put every pound in central and failed on "2020-21 inmss £0", its
    cause only on another line of the summary: the failure now says why."""
    bounds = gates.read_cost_bounds(COST_BOUNDS)
    con.execute(
        "UPDATE marts.fct_provision_spend SET spend_gbp = CASE WHEN provision_type = 'central' "
        "THEN (SELECT sum(spend_gbp) FROM marts.fct_provision_spend AS o "
        "WHERE o.financial_year = fct_provision_spend.financial_year) ELSE 0 END"
    )
    con.execute(
        "UPDATE marts.fct_provision_spend SET unit_cost_gbp = 0 WHERE unit_cost_gbp IS NOT NULL"
    )
    result = gates.unit_costs_within_bounds(con, bounds, 1.0)
    assert not result.passed
    assert "unit costs outside the bounds are £0, with up to 100% of a year's spend" in (
        result.summary
    )
    assert "payment_to_untyped_provider" in result.summary
    # one type at £0 in a ledger that types the rest is its own failure, without this cause
    con.execute("UPDATE marts.fct_provision_spend SET spend_gbp = 1000")
    assert "counted as central" not in gates.unit_costs_within_bounds(con, bounds, 1.0).summary


def test_a_place_funded_type_at_a_near_zero_unit_cost_fails(con):
    """Independent special placements whose payments were missing from the ledger: 8.7 full-time
    placements at £0 a year passed, and the forecast priced the type at £2,695 a plan."""
    bounds = gates.read_cost_bounds(COST_BOUNDS)
    assert gates.unit_costs_within_bounds(con, bounds, 1.0).passed
    con.execute(
        "UPDATE marts.fct_provision_spend SET unit_cost_gbp = 0 "
        "WHERE provision_type = 'inmss' AND financial_year = '2022-23'"
    )
    result = gates.unit_costs_within_bounds(con, bounds, 1.0)
    assert not result.passed and "2022-23 inmss" in result.summary
    # a year the ledger holds only part of: its spend is part of a year's
    con.execute(
        "UPDATE marts.fct_provision_spend SET is_complete_year = false "
        "WHERE financial_year = '2022-23'"
    )
    assert gates.unit_costs_within_bounds(con, bounds, 1.0).passed


def test_placement_cost_bounds_fail_for_an_absurd_cost(con):
    con.execute(
        "UPDATE intermediate.int_placements_classified SET annual_cost_gbp = 9999999 "
        "WHERE placement_id = 'PL09'"
    )
    bounds = gates.read_cost_bounds(COST_BOUNDS)
    result = gates.placement_costs_within_bounds(con, bounds)
    assert not result.passed and "PL09" in result.summary
    assert isinstance(result.facts, pd.DataFrame) and len(result.facts) == 1
    # the bound it broke, and what to do with a cost that is right (a £650k residential
    # placement was refused naming neither)
    provision = con.execute(
        "SELECT provision_type FROM intermediate.int_placements_classified "
        "WHERE placement_id = 'PL09'"
    ).fetchone()[0]
    low, high = bounds.set_index("provision_type").loc[
        provision, ["min_annual_cost_gbp", "max_annual_cost_gbp"]
    ]
    assert f"annual_cost 9999999.00, bounds {float(low):,.0f} to {float(high):,.0f}" in (
        result.summary
    ), result.summary
    assert "max_annual_cost_gbp in dbt/seeds/cost_bounds.csv widened" in result.summary


def test_ids_link_passes_on_the_fixture_and_blocks_when_most_payments_join_no_child(con):
    assert gates.ids_link(con, 0.05).passed
    # what a changed pseudonymisation key does: the ledger's children are no longer anyone's
    con.execute(
        "INSERT INTO intermediate.int_data_quality_flags (la_code, extract, source_file, "
        "source_row, source_file_hash, record_key, flag) SELECT la_code, 'finance', source_file, "
        "source_row, source_file_hash, transaction_id, "
        "'payment_for_unknown_child' FROM staging.stg_finance__transactions "
        "WHERE child_id IS NOT NULL"
    )
    result = gates.ids_link(con, 0.05)
    assert not result.passed
    assert "child-level payments whose child no plan has (100%" in result.summary
    assert "HIGHNEEDS_PSEUDONYM_KEY" in result.summary
    assert gates.ids_link(con, 1.0).passed
    # placements carry no money: none is quoted ("£nan" was)
    con.execute(
        "INSERT INTO intermediate.int_data_quality_flags (la_code, extract, source_file, "
        "source_row, source_file_hash, record_key, flag) SELECT la_code, 'placements', "
        "source_file, source_row, source_file_hash, placement_id, "
        "'placement_for_unknown_child' FROM staging.stg_placements__spells"
    )
    said = " ".join(gates.ids_link(con, 0.05).failures)
    assert "placements whose child no plan has (100%;" in said and "nan" not in said


def test_ids_link_blocks_when_most_placements_have_no_type_and_says_where_types_come_from(con):
    """URNs with no establishment type and no GIAS extract to give one: every such child would
    count as in no placement ('none'), its spend as none's, with the run green."""
    con.execute(
        "INSERT INTO intermediate.int_data_quality_flags (la_code, extract, source_file, "
        "source_row, source_file_hash, record_key, flag) SELECT la_code, 'placements', "
        "source_file, source_row, source_file_hash, placement_id, "
        "'establishment_type_unknown' FROM staging.stg_placements__spells"
    )
    result = gates.ids_link(con, 0.05)
    assert not result.passed
    assert (
        "placements whose establishment no known type code, GIAS row or SEN setting types (100%;"
        in result.summary
    )
    assert "GIAS extract in reference/" in result.summary
    assert "HIGHNEEDS_PSEUDONYM_KEY" not in result.summary  # not a key's fault
    assert gates.ids_link(con, 1.0).passed


def test_ids_link_measures_untyped_placements_over_the_last_year_too(con):
    """An academy missing from an older GIAS extract leaves only recent placements untyped:
    measured over every placement since the history began they hid under the tolerance while a
    share of this year's caseload and spend moved to 'none', green."""
    con.execute(
        """
        INSERT INTO intermediate.int_data_quality_flags (la_code, extract, source_file,
            source_row, source_file_hash, record_key, flag)
        SELECT p.la_code, 'placements', p.source_file, p.source_row, p.source_file_hash,
            p.placement_id, 'establishment_type_unknown'
        FROM intermediate.int_placements_classified AS p
        INNER JOIN intermediate.int_data_as_at AS b ON b.la_code = p.la_code
        WHERE coalesce(p.end_date, DATE '9999-12-31') > CAST(b.as_at_date - INTERVAL 1 YEAR AS DATE)
            AND p.start_date <= b.as_at_date
        ORDER BY p.placement_id LIMIT 2
        """
    )
    every, recent = con.execute(
        """
        SELECT (SELECT count(*) FROM intermediate.int_placements_classified),
            (SELECT count(*) FROM intermediate.int_placements_classified AS p
             INNER JOIN intermediate.int_data_as_at AS b ON b.la_code = p.la_code
             WHERE coalesce(p.end_date, DATE '9999-12-31')
                 > CAST(b.as_at_date - INTERVAL 1 YEAR AS DATE)
                 AND p.start_date <= b.as_at_date)
        """
    ).fetchone()
    tolerance = (2 / every + 2 / recent) / 2  # above the share of all, below the year's
    assert 2 / every < tolerance < 2 / recent
    result = gates.ids_link(con, tolerance)
    assert not result.passed
    said = " ".join(result.failures)
    assert f"2 of {recent} placements open in the data's last year whose establishment" in said
    assert f"2 of {every} placements whose establishment" not in said
    assert said.count("GIAS extract in reference/") == 1


def test_ids_link_measures_payments_for_unknown_placements_over_the_last_year_too(con):
    """A placements extract missing open placements leaves only recent payments pointing to no
    placement: over the whole ledger they hid under the tolerance (3 %) while the children moved
    to 'none', costed at nothing, and their payments lifted their types' unit costs, green."""
    lately = (
        "t.placement_id IS NOT NULL AND t.posting_date <= b.as_at_date "
        "AND t.posting_date > CAST(b.as_at_date - INTERVAL 1 YEAR AS DATE)"
    )
    con.execute(
        f"""
        INSERT INTO intermediate.int_data_quality_flags (la_code, extract, source_file,
            source_row, source_file_hash, record_key, flag)
        SELECT t.la_code, 'finance', t.source_file, t.source_row, t.source_file_hash,
            t.transaction_id, 'payment_for_unknown_placement'
        FROM staging.stg_finance__transactions AS t
        INNER JOIN intermediate.int_data_as_at AS b ON b.la_code = t.la_code
        WHERE {lately}
        ORDER BY t.transaction_id LIMIT 2
        """
    )
    every, recent = con.execute(
        f"""
        SELECT count(*) FILTER (WHERE t.placement_id IS NOT NULL), count(*) FILTER (WHERE {lately})
        FROM staging.stg_finance__transactions AS t
        INNER JOIN intermediate.int_data_as_at AS b ON b.la_code = t.la_code
        """
    ).fetchone()
    tolerance = (2 / every + 2 / recent) / 2
    assert 2 / every < tolerance < 2 / recent
    result = gates.ids_link(con, tolerance)
    assert not result.passed
    said = " ".join(result.failures)
    assert f"2 of {recent} payments in the data's last year whose placement" in said
    assert f"2 of {every} payments whose placement" not in said
    assert "placements extract is missing open placements" in said
    assert "HIGHNEEDS_PSEUDONYM_KEY" not in said  # not a key's fault


def _second_council(con, *tables: str) -> None:
    """Council 999 in `tables`: a copy of the fixture council's rows."""
    for table in tables:
        con.execute(f"INSERT INTO {table} SELECT * REPLACE ('999' AS la_code) FROM {table}")


def test_a_month_missing_from_the_ledger_fails_naming_it(con):
    # a cut-short extract with a stray posting at the year's end read as a complete year (its
    # first and last months posted) with half its spend, and the balance carried the gap
    assert gates.ledger_months_complete(con).passed
    con.execute(
        "DELETE FROM staging.stg_finance__transactions "
        "WHERE posting_date >= DATE '2022-10-01' AND posting_date < DATE '2022-12-01'"
    )
    result = gates.ledger_months_complete(con)
    assert not result.passed
    assert "the finance extract has a month without postings" in result.summary
    assert "2022-23: no postings in Oct 2022, Nov 2022" in result.summary
    row = result.facts.set_index("label").filter(like="2022-23", axis=0).iloc[0]
    assert (row["months_in_ledger_span"], row["months_without_postings"]) == (12, 2)


def _counted_censuses(warehouse) -> list[dt.date]:
    """The census days counted after rebuilding the extracts' reach and the census days on the
    tampered copy `warehouse`."""
    completed = dbt_build(
        warehouse,
        "--select",
        "int_case_extract_reach",
        "int_census_dates",
        "--exclude-resource-type",
        "unit_test",
    )
    assert completed.returncode == 0, completed.stdout[-4000:]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return [
            day
            for (day,) in con.execute(
                "SELECT census_date FROM intermediate.int_census_dates ORDER BY 1"
            ).fetchall()
        ]


def test_a_census_the_plans_extract_stops_well_before_is_left_out_and_named(con):
    """A plans list stopping 48 days before census day, its quiet spells 6 days (the demo's as
    taken on 30 November beside its ledger to March): January's census was counted from it
    (1,818 plans for 1,847, a 14 % fall in new plans), green, the warning coming only at 60 days.
    int_case_extract_reach leaves it out (its unit test; int_census_dates' for the census days);
    the gate names the census and why."""
    assert gates.case_extracts_reach_census(con).passed
    (census,) = con.execute("SELECT max(census_date) FROM intermediate.int_census_dates").fetchone()
    reach = census - dt.timedelta(days=48)
    con.execute(
        "UPDATE intermediate.int_case_extract_reach SET reach_date = $reach, "
        "longest_quiet_days = 6, allowed_days_short = 14, "
        "counts_census_to = $reach + INTERVAL 14 DAY WHERE kind = 'plans'",
        {"reach": reach},
    )
    con.execute("DELETE FROM intermediate.int_census_dates WHERE census_date = $c", {"c": census})
    result = gates.case_extracts_reach_census(con)
    assert not result.passed
    assert "a plans or placements extract stops before the last census day" in result.summary
    assert (
        f"plans extract: reaches {reach}, 48 days before the census of {census}, more than the "
        "14 days allowed (twice its longest spell without a start, cease or end date in the "
        "year before, 6 days, 14 at least): that census is not counted"
    ) in result.summary
    assert "placements extract: reaches" not in result.summary  # it reaches the census


def test_a_list_named_by_its_day_or_a_sen2_return_reaches_that_day(warehouse_copy):
    """How far a list reaches: where every file names the day it was taken, that day, a cease
    planned for next July notwithstanding (it had counted as reaching the census); a SEN2
    return, its census day, whatever its last event's date (it warned "placements extract:
    last date 2024-09-02, 136 days before the census of 2025-01-16")."""
    with duckdb.connect(str(warehouse_copy)) as con:
        (census,) = con.execute(
            "SELECT max(census_date) FROM intermediate.int_census_dates"
        ).fetchone()
        cut = census - dt.timedelta(days=76)
        # staging's plans are a view: a table of them, to plan a cease ahead
        con.execute("CREATE TABLE staging.plans_copy AS SELECT * FROM staging.stg_ehcp__plans")
        con.execute("DROP VIEW staging.stg_ehcp__plans")
        con.execute("ALTER TABLE staging.plans_copy RENAME TO stg_ehcp__plans")
        con.execute(
            "UPDATE staging.stg_ehcp__plans SET plan_cease_date = $planned "
            "WHERE plan_id = (SELECT min(plan_id) FROM staging.stg_ehcp__plans)",
            {"planned": census + dt.timedelta(days=190)},
        )
        con.execute(
            "UPDATE raw.ehcp_files SET named_day = $cut WHERE status = 'loaded' AND in_landing",
            {"cut": cut},
        )
    _counted_censuses(warehouse_copy)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        (reach,) = con.execute(
            "SELECT reach_date FROM intermediate.int_case_extract_reach WHERE kind = 'plans'"
        ).fetchone()
    assert reach == cut
    with duckdb.connect(str(warehouse_copy)) as con:
        con.execute(
            "UPDATE raw.ehcp_files SET census_date = $census WHERE file_seq = "
            "(SELECT min(file_seq) FROM raw.ehcp_files WHERE status = 'loaded' AND in_landing)",
            {"census": census},
        )
    assert census in _counted_censuses(warehouse_copy)
    with duckdb.connect(str(warehouse_copy)) as con:
        (reach,) = con.execute(
            "SELECT reach_date FROM intermediate.int_case_extract_reach WHERE kind = 'plans'"
        ).fetchone()
        assert reach == census
        assert gates.case_extracts_reach_census(con).passed


def test_a_quiet_councils_census_counted_months_after_its_list_stops_warns(con):
    """A council of a few dozen plans, its list stopping 74 days before census day with quiet
    spells of 97 days, keeps that census (it may have been taken after census day: with the
    allowance capped at 60 days its census was left out and the refresh refused), and is
    warned, the warning saying its quiet spells allowed it."""
    (census,) = con.execute("SELECT max(census_date) FROM intermediate.int_census_dates").fetchone()
    reach = census - dt.timedelta(days=74)
    con.execute(
        "UPDATE intermediate.int_case_extract_reach SET reach_date = $reach, "
        "longest_quiet_days = 97, allowed_days_short = 194, "
        "counts_census_to = $reach + INTERVAL 194 DAY WHERE kind = 'plans'",
        {"reach": reach},
    )
    result = gates.case_extracts_reach_census(con)
    assert not result.passed
    assert "stops more than 60 days before the last census counted" in result.summary
    assert (
        f"plans extract: reaches {reach}, 74 days before the census of {census}, counted "
        "(twice its longest spell without a start, cease or end date in the year before, "
        "97 days, 14 at least)"
    ) in result.summary
    assert "not counted" not in result.summary


def test_two_lists_of_one_day_giving_a_plan_two_ways_warn_naming_both(con):
    """A full list as at 31 March landed the night after a corrections file of the same day:
    the one loaded last counted, undoing the corrections, while a rebuild from the folder loads
    them by name and kept them, both green. Two lists of one day that disagree now warn."""
    con.execute(
        "UPDATE raw.ehcp_files SET named_day = DATE '2024-03-31', ranking_day = DATE '2024-03-31', "
        "file_name = 'ehcp/ehcp_corrections_2024-03-31.csv' WHERE status = 'loaded' AND in_landing"
    )
    con.execute(
        "INSERT INTO raw.ehcp_files SELECT * REPLACE ('later' AS file_hash, "
        "'ehcp/ehcp_2024-03-31.csv' AS file_name, file_seq + 1000 AS file_seq, "
        "precedence_seq + 1000 AS precedence_seq) "
        "FROM raw.ehcp_files WHERE status = 'loaded' AND in_landing LIMIT 1"
    )
    # the same plans again (no disagreement): nothing to say
    con.execute("INSERT INTO raw.ehcp SELECT * REPLACE ('later' AS _file_hash) FROM raw.ehcp")
    assert gates.lists_of_one_day_agree(con).passed
    con.execute(
        "UPDATE raw.ehcp SET primary_need = 'PMLD' WHERE _file_hash = 'later' AND plan_id IN "
        "(SELECT plan_id FROM raw.ehcp WHERE _file_hash = 'later' ORDER BY plan_id LIMIT 2)"
    )
    result = gates.lists_of_one_day_agree(con)
    assert not result.passed
    assert (
        "ehcp/ehcp_2024-03-31.csv and ehcp/ehcp_corrections_2024-03-31.csv, each as at "
        "2024-03-31: 2 plans in different versions; ehcp/ehcp_2024-03-31.csv's count "
        "(loaded last)"
    ) in result.summary
    assert "a rebuild from the landing folder loads them by name" in result.summary
    # a list dated a day later corrects it: it counts on the nights and on a rebuild alike
    con.execute("UPDATE raw.ehcp_files SET named_day = DATE '2024-04-01' WHERE file_hash = 'later'")
    assert gates.lists_of_one_day_agree(con).passed


def test_an_open_plan_left_out_of_the_latest_list_warns_naming_the_older_list(con):
    """A plan dropped from the latest whole list (taken off the case system) kept its version
    from the older list beside it and counted, open, in every census after."""
    assert gates.open_rows_left_in_older_lists(con).passed
    (plan,) = con.execute(
        "SELECT min(plan_id) FROM staging.stg_ehcp__plans WHERE plan_cease_date IS NULL"
    ).fetchone()
    # the fixture's list as at 31 January, then a list as at 28 February holding every plan
    # but that one (staging's plans are a view over raw)
    con.execute(
        "UPDATE raw.ehcp_files SET named_day = DATE '2024-01-31', ranking_day = DATE '2024-01-31' "
        "WHERE status = 'loaded' AND in_landing"
    )
    con.execute(
        "INSERT INTO raw.ehcp_files SELECT * REPLACE ('later' AS file_hash, "
        "'ehcp/ehcp_2024-02-28.csv' AS file_name, file_seq + 1000 AS file_seq, "
        "DATE '2024-02-28' AS named_day, DATE '2024-02-28' AS ranking_day) FROM raw.ehcp_files "
        "WHERE status = 'loaded' AND in_landing LIMIT 1"
    )
    con.execute(
        "INSERT INTO raw.ehcp SELECT * REPLACE ('later' AS _file_hash) FROM raw.ehcp "
        "WHERE plan_id <> $plan",
        {"plan": plan},
    )
    result = gates.open_rows_left_in_older_lists(con)
    assert not result.passed
    assert "plans or placements still open are held only by a list older than the latest" in (
        result.summary
    )
    assert "as at 2024-01-31: 1 open plan in no later list (the latest as at 2024-02-28)" in (
        result.summary
    )
    # a list of increments, or one whose plan ceased before the later list: nothing to say
    con.execute("DELETE FROM raw.ehcp WHERE _file_hash = 'later'")
    con.execute(
        "INSERT INTO raw.ehcp SELECT * REPLACE ('later' AS _file_hash) FROM raw.ehcp "
        "WHERE plan_id <> $plan AND _file_hash <> 'later'",
        {"plan": plan},
    )
    con.execute(
        "UPDATE raw.ehcp SET plan_cease_date = DATE '2024-02-01' WHERE plan_id = $plan",
        {"plan": plan},
    )
    assert gates.open_rows_left_in_older_lists(con).passed


def _given_again_by_a_return(con, extract: str, key: str, value: str, return_key: str) -> None:
    """A SEN2 return (census day 2024-01-18) giving the row of `extract` whose `key` is `value`
    again, under the return's own key (staging's plans and placements are views over raw)."""
    con.execute(
        f"INSERT INTO raw.{extract}_files SELECT * REPLACE ('return' AS file_hash, "
        "'sen2/2024' AS file_name, file_seq + 1000 AS file_seq, DATE '2024-01-18' AS "
        f"census_date) FROM raw.{extract}_files WHERE status = 'loaded' AND in_landing LIMIT 1"
    )
    con.execute(
        f"INSERT INTO raw.{extract} SELECT * REPLACE ('return' AS _file_hash, ? AS {key}) "
        f"FROM raw.{extract} WHERE {key} = ?",
        [return_key, value],
    )


def test_a_plan_given_by_a_sen2_return_and_by_the_plans_extract_fails(con):
    """A return keys a plan by its child and start date, a case system by its own id: the same
    plan in a SEN2 return and in the plans extract replaced neither and counted twice, in every
    census, with every gate green."""
    assert gates.case_rows_in_two_sources(con).passed
    (plan,) = con.execute(
        "SELECT min(plan_id) FROM staging.stg_ehcp__plans WHERE plan_cease_date IS NULL"
    ).fetchone()
    source_file, source_row, start = con.execute(
        "SELECT source_file, source_row, plan_start_date FROM staging.stg_ehcp__plans "
        "WHERE plan_id = ?",
        [plan],
    ).fetchone()
    _given_again_by_a_return(con, "ehcp", "plan_id", plan, "child|start")
    result = gates.case_rows_in_two_sources(con)
    assert not result.passed
    # the extract's file, row and column, as every message about bad input names them
    assert (
        f"1 plan is given both by a SEN2 return (e.g. sen2/2024) and by {source_file} (first: "
        f"row {source_row}, plan_start_date {start}), the same child and start date: counted "
        "twice"
    ) in result.summary


def test_a_placement_given_by_a_sen2_return_and_by_the_placements_extract_fails(con):
    """Only plans and requests were compared: a placements list of the old system beside the
    returns that list the same placements counted each twice (2024-25's full-time places 145.4
    read 237.1, unit costs cut by a third), with every gate green."""
    (placement,) = con.execute(
        "SELECT min(placement_id) FROM staging.stg_placements__spells WHERE end_date IS NULL"
    ).fetchone()
    _given_again_by_a_return(con, "placements", "placement_id", placement, "child|start|urn")
    result = gates.case_rows_in_two_sources(con)
    assert not result.passed
    assert "1 placement is given both by a SEN2 return (e.g. sen2/2024) and by placements/" in (
        result.summary
    )
    assert "plans, placements or requests are given both by SEN2 returns" in result.summary


def test_a_complete_year_without_a_budget_fails_naming_it(con):
    # its funding read as nothing: the whole year's spend became deficit in every later balance
    assert gates.complete_years_have_a_budget(con).passed
    con.execute(
        "UPDATE marts.fct_hnb_position SET has_budget = false WHERE financial_year = '2022-23'"
    )
    result = gates.complete_years_have_a_budget(con)
    assert not result.passed
    assert "a complete financial year has no high needs lines in the budget file (no " in (
        result.summary
    )
    assert result.summary.endswith("(add the year's lines to the budget file) (2022-23)")


def test_a_budget_year_without_its_place_deductions_fails_naming_it(con):
    """A year's place_deductions row left out of the budget file read as £0: its funding was a
    year's deductions too high (a surplus year in a run of deficits; a forecast year's grown on
    to the horizon), with every gate green."""
    con.execute(
        "DELETE FROM raw.budget WHERE line = 'place_deductions' AND financial_year = ?", ["2023-24"]
    )
    (file,) = con.execute("SELECT DISTINCT source_file FROM staging.stg_budget__lines").fetchone()
    result = gates.complete_years_have_a_budget(con)
    assert not result.passed
    assert "a year's budget has a high needs allocation and no place_deductions line" in (
        result.summary
    )
    assert (
        f"({file}: 2023-24 has an hnb_allocation and no place_deductions line "
        "(given for 2021-22, 2022-23, 2024-25))" in result.summary
    )


@pytest.mark.parametrize("line", ["hnb_allocation", "other_income", "la_contribution"])
def test_a_budget_file_writing_its_income_as_a_credit_fails_naming_file_row_and_column(con, line):
    """Income written negative, as the ledger writes credits: read as given, the year's funding
    counted as spend and the published deficit grew many times over, with every gate green (a
    negative contribution or other income took itself off the year's funding)."""
    if line == "hnb_allocation":
        con.execute(
            "UPDATE raw.budget SET amount = -amount "
            "WHERE line = 'hnb_allocation' AND financial_year = '2022-23'"
        )
    else:  # the fixture's budget may not give the line: a row of its own, written as a credit
        con.execute("DELETE FROM raw.budget WHERE line = ?", [line])
        con.execute(
            "INSERT INTO raw.budget SELECT * REPLACE (? AS line, -50000 AS amount, "
            "_source_row + 1000 AS _source_row) FROM raw.budget "
            "WHERE line = 'hnb_allocation' AND financial_year = '2022-23'",
            [line],
        )
    file, row, amount = con.execute(
        "SELECT source_file, source_row, amount_gbp FROM staging.stg_budget__lines "
        "WHERE line = ? AND financial_year = '2022-23'",
        [line],
    ).fetchone()
    result = gates.complete_years_have_a_budget(con)
    assert not result.passed and amount < 0
    assert "an income line (hnb_allocation, la_contribution or other_income) is negative" in (
        result.summary
    )
    assert (
        f"({file} row {row}, column amount: {line} for 2022-23 is {float(amount):,.2f})"
        in result.summary
    )
    assert "no high needs lines" not in result.summary  # the years are all there


def test_an_allocation_of_zero_fails_naming_file_row_and_column(con):
    """A budget template's 0 for a year whose allocation is not known yet: read as the year's
    funding, it left funding at minus its place deductions (−£2.9m), grown on, and the
    unmitigated balance at −£162m for −£25m, with every gate green."""
    assert gates.complete_years_have_a_budget(con).passed
    con.execute(
        "UPDATE raw.budget SET amount = 0 "
        "WHERE line = 'hnb_allocation' AND financial_year = '2022-23'"
    )
    file, row = con.execute(
        "SELECT source_file, source_row FROM staging.stg_budget__lines "
        "WHERE line = 'hnb_allocation' AND financial_year = '2022-23'"
    ).fetchone()
    result = gates.complete_years_have_a_budget(con)
    assert not result.passed
    assert "or an hnb_allocation is 0" in result.summary
    assert f"({file} row {row}, column amount: hnb_allocation for 2022-23 is 0.00)" in (
        result.summary
    )


def test_a_years_allocation_in_thousands_fails_naming_file_row_and_column(con):
    """One year's allocation typed in £k beside its place deductions in pounds: funding read as
    −£2.9m, grown on to the horizon (a −£161.5m balance for −£25.5m), every gate green."""
    con.execute(
        "UPDATE raw.budget SET amount = round(amount / 1000, 2) "
        "WHERE line = 'hnb_allocation' AND financial_year = '2022-23'"
    )
    file, row, allocation = con.execute(
        "SELECT source_file, source_row, amount_gbp FROM staging.stg_budget__lines "
        "WHERE line = 'hnb_allocation' AND financial_year = '2022-23'"
    ).fetchone()
    result = gates.complete_years_have_a_budget(con)
    assert not result.passed
    assert "a year's high needs funding is not of the size of the council's others" in (
        result.summary
    )
    assert (
        f"{file} row {row}, column amount: hnb_allocation for 2022-23 is "
        f"{float(allocation):,.2f}, not above its place deductions of " in result.summary
    )


def test_a_years_place_deductions_in_thousands_fail_naming_file_row_and_column(con):
    """One year's place deductions typed in £k (2,158.88 for £2,158,876.65) beside an allocation
    in pounds: its funding £2.16m too high, an overspend year a surplus, every balance after it
    too good, with every gate green."""
    con.execute(
        "UPDATE raw.budget SET amount = round(amount / 1000, 2) "
        "WHERE line = 'place_deductions' AND financial_year = '2022-23'"
    )
    file, row, deductions = con.execute(
        "SELECT source_file, source_row, amount_gbp FROM staging.stg_budget__lines "
        "WHERE line = 'place_deductions' AND financial_year = '2022-23'"
    ).fetchone()
    result = gates.complete_years_have_a_budget(con)
    assert not result.passed
    assert (
        f"{file} row {row}, column amount: place_deductions for 2022-23 is "
        f"{float(deductions):,.2f}, 0.0" in result.summary
    )
    assert "most likely an amount in £ thousands" in result.summary
    # a share that moves as academies convert, even fourfold, is no slip
    con.execute(
        "UPDATE raw.budget SET amount = round(amount * 1000 * 4, 2) "
        "WHERE line = 'place_deductions' AND financial_year = '2022-23'"
    )
    assert gates.complete_years_have_a_budget(con).passed


def test_a_budget_file_in_thousands_fails_naming_each_complete_year(con):
    """Every amount of the budget file in £k: each year's funding 0.1 % of its spend, the
    published deficit −£377m for −£25m, every gate green."""
    assert gates.complete_years_have_a_budget(con).passed
    con.execute("UPDATE raw.budget SET amount = round(amount / 1000, 2)")
    # (the mart is a table: its funding as the rebuilt mart would read it)
    con.execute("UPDATE marts.fct_hnb_position SET funding_gbp = round(funding_gbp / 1000, 2)")
    funding, spend = con.execute(
        "SELECT funding_gbp, spend_gbp FROM marts.fct_hnb_position "
        "WHERE is_complete_year AND has_budget ORDER BY financial_year LIMIT 1"
    ).fetchone()
    result = gates.complete_years_have_a_budget(con)
    assert not result.passed and funding * 100 < spend
    assert f": funding {float(funding):,.2f} against spend {float(spend):,.2f}" in result.summary
    assert "times funding: a budget in £k)" in result.summary


@pytest.mark.parametrize(
    ("times", "cause"),
    [
        (100, "a ledger in pence"),
        (9.25, "part of the year's ledger in pence, or of its budget in £k"),
    ],
)
def test_a_ledger_in_pence_is_named_as_a_cause_of_funding_far_below_spend(con, times, cause):
    """A ledger in pence read each year's spend a hundred times its funding, and the message
    asked only for the budget file's amounts in pounds: the budget was right. A month of it in
    pence reads about nine times, neither a ledger in pence nor a budget in £k."""
    con.execute(f"UPDATE marts.fct_hnb_position SET spend_gbp = funding_gbp * {times}")
    result = gates.complete_years_have_a_budget(con)
    assert not result.passed
    assert f"times funding: {cause})" in result.summary
    assert "the ledger may be the one whose unit slipped" in result.summary


def test_a_budget_line_two_files_give_differently_warns_naming_both(con):
    """A provisional budget named after the final one: its £38.5m allocation was taken for the
    final £40.2m (the later-loaded file wins), the balance £1.7m worse, unsaid."""
    assert gates.budget_lines_given_twice(con).passed
    con.execute(
        "INSERT INTO raw.budget_files SELECT * REPLACE ('provisional' AS file_hash, "
        "'budget/budget_provisional.csv' AS file_name, file_seq + 1000 AS file_seq) "
        "FROM raw.budget_files WHERE status = 'loaded' AND in_landing LIMIT 1"
    )
    con.execute(
        "INSERT INTO raw.budget SELECT * REPLACE ('provisional' AS _file_hash, "
        "'budget/budget_provisional.csv' AS _source_file, 38500000 AS amount) FROM raw.budget "
        "WHERE line = 'hnb_allocation' AND financial_year = '2022-23'"
    )
    # the same figure again in another file is no conflict
    con.execute(
        "INSERT INTO raw.budget SELECT * REPLACE ('provisional' AS _file_hash, "
        "'budget/budget_provisional.csv' AS _source_file) FROM raw.budget "
        "WHERE line = 'place_deductions' AND financial_year = '2022-23' LIMIT 1"
    )
    used, row, overruled, overruled_row, final = con.execute(
        "SELECT s.source_file, s.source_row, f.file_name, b._source_row, b.amount FROM "
        "staging.stg_budget__lines s, raw.budget b JOIN raw.budget_files f "
        "ON f.file_hash = b._file_hash AND f.in_landing AND f.status = 'loaded' "
        "WHERE s.line = 'hnb_allocation' AND s.financial_year = '2022-23' "
        "AND b.line = s.line AND b.financial_year = s.financial_year "
        "AND b.amount <> s.amount_gbp"
    ).fetchone()
    assert used == "budget/budget_provisional.csv"  # loaded later, it wins
    result = gates.budget_lines_given_twice(con)
    assert not result.passed
    assert "two budget files give a line with different amounts" in result.summary
    assert (
        f"hnb_allocation for 2022-23: 38,500,000.00 used ({used} row {row}) over "
        f"{overruled} row {overruled_row}: {float(final):,.2f})"
    ) in result.summary
    assert "place_deductions" not in result.summary.split("(", 1)[1]


def test_a_balance_brought_forward_that_cannot_anchor_the_balance_fails_naming_it(con):
    """Given only for a year after the ledger's last but one (a projection) or before its first,
    no balance brought forward anchors the cumulative balance: it would open at zero."""
    assert gates.balance_brought_forward_anchors(con).passed
    for year in ("2025-26", "2020-21"):
        con.execute(
            "UPDATE raw.budget SET financial_year = ? WHERE line = 'balance_brought_forward'",
            [year],
        )
        con.execute("UPDATE marts.fct_hnb_position SET balance_brought_forward_gbp = NULL")
        result = gates.balance_brought_forward_anchors(con)
        assert not result.passed, year
        assert "the budget file's balance brought forward is for no year that can anchor" in (
            result.summary
        )
        # the year given, its row, and the years that could anchor it (it had read as though
        # the year given were the one to give)
        assert result.summary.endswith(
            f"a complete year the ledger covers (given for {year} "
            "(budget/budget.csv row 4); complete years of the ledger: 2021-22 to 2023-24)"
        ), result.summary
    # the year after a complete ledger's last anchors it: the ledger closes on it
    con.execute(
        "UPDATE raw.budget SET financial_year = '2024-25', amount = ("
        "SELECT cumulative_balance_gbp FROM marts.fct_hnb_position "
        "WHERE financial_year = '2023-24') WHERE line = 'balance_brought_forward'"
    )
    assert gates.balance_brought_forward_anchors(con).passed


def test_a_later_balance_brought_forward_that_differs_from_the_close_is_said(con):
    """The balance opens on the earliest balance brought forward given; a later one that
    differs (a restatement, a payment outside the ledger) was dropped without a word."""
    assert gates.balance_brought_forward_agrees(con).passed
    last, close = con.execute(
        "SELECT financial_year, cumulative_balance_gbp FROM marts.fct_hnb_position "
        "WHERE cumulative_balance_gbp IS NOT NULL ORDER BY financial_year DESC LIMIT 1"
    ).fetchone()
    after = f"{int(last[:4]) + 1}-{(int(last[:4]) + 2) % 100:02d}"
    close = float(close)
    for amount, agrees in ((close + 0.4, True), (close - 1_000_000, False)):
        con.execute("DELETE FROM raw.budget WHERE financial_year = ?", [after])
        con.execute(
            "INSERT INTO raw.budget SELECT * REPLACE (? AS financial_year, ? AS amount, "
            "_source_row + 1000 AS _source_row) FROM raw.budget "
            "WHERE line = 'balance_brought_forward'",
            [after, amount],
        )
        result = gates.balance_brought_forward_agrees(con)
        assert result.passed is agrees, amount
    assert "a balance brought forward the budget file gives differs from the close" in (
        result.summary
    )
    assert f"against the close of {last} {close:,.2f}, a difference of -1,000,000.00)" in (
        result.summary
    )


def test_a_gate_on_a_councils_figures_names_the_council_that_failed(con):
    """In a many-council warehouse, the gates on a council's figures say which councils failed
    (the rest publish: dagster_project.metadata.held_by); one on the pipeline says none."""
    _second_council(
        con,
        "staging.stg_finance__transactions",
        "intermediate.int_spend_allocated",
        "marts.fct_provision_spend",
        "intermediate.int_placements_classified",
    )
    bounds = gates.read_cost_bounds(COST_BOUNDS)
    assert gates.finance_reconciliation(con).passed
    con.execute(
        "UPDATE marts.fct_provision_spend SET spend_gbp = spend_gbp + 0.01 "
        "WHERE la_code = '999' AND financial_year = '2022-23' AND provision_type = 'mss'"
    )
    result = gates.finance_reconciliation(con)
    assert not result.passed and result.councils_failed == ["999"]
    assert "(999 2022-23)" in result.summary
    con.execute(
        "UPDATE intermediate.int_placements_classified SET annual_cost_gbp = 9999999 "
        "WHERE la_code = '999' AND placement_id = 'PL09'"
    )
    result = gates.placement_costs_within_bounds(con, bounds)
    assert not result.passed and result.councils_failed == ["999"]
    con.execute(
        "UPDATE raw.budget_files SET status = 'rejected', la_code = '999', "
        "message = 'budget/budget.csv: missing required column(s) amount'"
    )
    assert gates.no_rejected_files(con, BUDGET).councils_failed == ["999"]
    con.execute("DELETE FROM raw.finance WHERE _source_row = 10")
    lost = gates.rows_accounted_for(con, FINANCE)
    assert not lost.passed and lost.councils_failed is None  # the pipeline's: every council


def _build_finance_staging(warehouse) -> None:
    """Rebuild the ledger's staging model (no tests) after raw rows were written by hand."""
    from tests.dbt.conftest import dbt_build

    completed = dbt_build(
        warehouse,
        "--select",
        "stg_finance__transactions",
        "--exclude-resource-type",
        "test",
        "unit_test",
    )
    assert completed.returncode == 0, completed.stdout[-3000:]


def test_a_corrections_file_sorted_before_the_ledger_it_corrects_warns(warehouse_copy):
    """A corrections file new in the same refresh as the ledger it corrects, its name sorting
    first (`adjustments_2023-24.csv` beside `finance_2023-24.csv`): files new together are
    taken in name order, so the ledger's rows overruled every correction with every gate green.
    Sorted after the ledger, the correction replaces a few of its rows, and nothing is said."""

    def corrections(seq: str, new_lines: int = 0) -> None:
        with duckdb.connect(str(warehouse_copy)) as con:
            con.execute("DELETE FROM raw.finance WHERE _file_hash = 'fixes'")
            con.execute("DELETE FROM raw.finance_files WHERE file_hash = 'fixes'")
            first, low, high = con.execute(
                "SELECT arg_min(file_hash, file_seq), min(file_seq), max(file_seq) "
                "FROM raw.finance_files WHERE status = 'loaded'"
            ).fetchone()
            place = {"before": low - 1, "after": high + 1}[seq]
            con.execute(
                "INSERT INTO raw.finance_files SELECT * REPLACE ('fixes' AS file_hash, "
                "'fixes' AS content_hash, 'finance/adjustments.csv' AS file_name, "
                "? AS file_seq, ? AS precedence_seq) FROM raw.finance_files WHERE file_hash = ?",
                [place, place, first],
            )
            con.execute(
                "INSERT INTO raw.finance SELECT * REPLACE ('fixes' AS _file_hash, "
                "'finance/adjustments.csv' AS _source_file, amount + 100 AS amount) "
                "FROM raw.finance WHERE _file_hash = ? ORDER BY _source_row LIMIT 20",
                [first],
            )
            # and lines of its own (credit notes): transactions the ledger does not hold
            con.execute(
                "INSERT INTO raw.finance SELECT * REPLACE ('fixes' AS _file_hash, "
                "'finance/adjustments.csv' AS _source_file, transaction_id || '-CN' AS "
                "transaction_id, -amount AS amount, _source_row + 20 AS _source_row) "
                "FROM raw.finance WHERE _file_hash = ? ORDER BY _source_row LIMIT ?",
                [first, new_lines],
            )
        _build_finance_staging(warehouse_copy)

    corrections("before")
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        result = gates.restatement_loaded_first(con)
        assert gates.transaction_ids_reused(con).passed  # the same transactions, restated
    assert not result.passed
    assert "replaces 20 of finance/adjustments.csv's 20 transactions, 20 of them restated" in (
        result.summary
    ), result.summary
    # a corrections file that also adds lines of its own (15 credit notes beside its 20
    # restatements) was below the 90 % of its transactions the ledger had to replace: unsaid
    corrections("before", new_lines=15)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        result = gates.restatement_loaded_first(con)
    assert "replaces 20 of finance/adjustments.csv's 35 transactions" in result.summary
    corrections("after", new_lines=15)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        assert gates.restatement_loaded_first(con).passed


def test_a_later_finance_file_reusing_an_earlier_ones_ids_for_other_transactions_fails(
    warehouse_copy,
):
    """Two ledger files numbering their transactions from 1 (one per finance system): the later
    file's rows replaced the earlier's by id, £1.42m of spend lost with every gate green (the
    staging gate counts a replaced row as accounted for). A later file restating transactions
    (same days, new amounts) is the rule working, and passes."""

    def later_file(days: int, amount_change: str, other_payee: bool = False) -> str:
        with duckdb.connect(str(warehouse_copy)) as con:
            con.execute("DELETE FROM raw.finance WHERE _file_hash = 'later'")
            con.execute("DELETE FROM raw.finance_files WHERE file_hash = 'later'")
            first, name, last = con.execute(
                "SELECT arg_min(file_hash, file_seq), arg_min(file_name, file_seq), max(file_seq) "
                "FROM raw.finance_files WHERE status = 'loaded'"
            ).fetchone()
            con.execute(
                "INSERT INTO raw.finance_files SELECT * REPLACE ('later' AS file_hash, "
                "'later' AS content_hash, 'finance/ledger_system_b.csv' AS file_name, "
                "? AS file_seq, ? AS precedence_seq) FROM raw.finance_files WHERE file_hash = ?",
                [last + 1, last + 1, first],
            )
            con.execute(
                "INSERT INTO raw.finance SELECT * REPLACE ('later' AS _file_hash, "
                "'finance/ledger_system_b.csv' AS _source_file, "
                f"posting_date + {days} AS posting_date, amount {amount_change} AS amount"
                + (
                    ", NULL AS child_id, NULL AS placement_id, NULL AS provider_urn, "
                    "NULL AS provider_ukprn, 'Elsewhere Transport Ltd' AS supplier_name"
                    if other_payee
                    else ""
                )
                + ") FROM raw.finance WHERE _file_hash = ? ORDER BY _source_row LIMIT 20",
                [first],
            )
        _build_finance_staging(warehouse_copy)
        return name

    earlier = later_file(40, "+ 1")  # other transactions under the same ids
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        result = gates.transaction_ids_reused(con)
    assert not result.passed
    assert (
        f"finance/ledger_system_b.csv replaces 20 of {earlier}'s transactions by id, 20 of them "
        "with a transaction posted on another day"
    ) in result.summary, result.summary
    # numbered by posting day in each file: other transactions the same day under the same ids
    # (another amount, another payee) replaced 55-60 % of a year's spend
    later_file(0, "+ 1", other_payee=True)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        result = gates.transaction_ids_reused(con)
    assert not result.passed
    assert "0 of them with a transaction posted on another day and 20 with one posted the " in (
        result.summary
    ), result.summary
    later_file(0, "+ 1")  # the same transactions, restated
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        assert gates.transaction_ids_reused(con).passed
    # reversals posted under the payments' ids (a month later): each replaced its payment, which
    # then counted its amount off, with every gate green
    later_file(30, "* -1")
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        result = gates.transaction_ids_reused(con)
    assert not result.passed
    assert (
        "20 of them with a transaction posted on another day and 0 with one posted the same "
        "day for another amount and payee, 20 with its exact reversal" in result.summary
    )
    assert "reverses an earlier one's transactions under the same transaction ids" in (
        result.summary
    )
    # a sign put right (a credit posted as a payment), the same day: a restatement, passes
    later_file(0, "* -1")
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        assert gates.transaction_ids_reused(con).passed
    # the payment arriving after its reversal (a month delivered late) replaces it the same way
    later_file(-30, "* -1")
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        assert not gates.transaction_ids_reused(con).passed


def _finance_file_from(
    con, source: str, file_hash: str, name: str, replace: str, rows: int | None = None
) -> None:
    """A finance file `name` registered after every other, its rows those of the loaded file
    `source` (its first `rows`; all with None) with the REPLACE assignments `replace` (new ids,
    amounts)."""
    last = con.execute("SELECT max(file_seq) FROM raw.finance_files").fetchone()[0]
    con.execute(
        f"INSERT INTO raw.finance_files SELECT * REPLACE ('{file_hash}' AS file_hash, "
        f"'{file_hash}' AS content_hash, '{name}' AS file_name, ? AS file_seq, "
        "? AS precedence_seq) FROM raw.finance_files WHERE file_hash = ?",
        [last + 1, last + 1, source],
    )
    con.execute(
        f"INSERT INTO raw.finance SELECT * REPLACE ('{file_hash}' AS _file_hash, "
        f"'{name}' AS _source_file, {replace}) FROM raw.finance WHERE _file_hash = ? "
        "ORDER BY _source_row " + ("" if rows is None else f"LIMIT {rows}"),
        [source],
    )


def _copy_finance_file(con, rows: int | None, prefix: str = "AP-") -> tuple[str, int]:
    """A loaded finance file delivered again as `finance/reexport.csv` (its first `rows`
    transactions; all with None) under ids the finance system numbered afresh; its first
    file's name and row count."""
    first = con.execute(
        "SELECT arg_min(file_hash, file_seq) FROM raw.finance_files WHERE status = 'loaded'"
    ).fetchone()[0]
    name, size = con.execute(
        "SELECT any_value(_source_file), count(*) FROM raw.finance WHERE _file_hash = ?", [first]
    ).fetchone()
    _finance_file_from(
        con,
        first,
        "copy",
        "finance/reexport.csv",
        f"'{prefix}' || transaction_id AS transaction_id",
        rows,
    )
    return name, size


def test_a_finance_file_delivered_again_under_new_ids_fails_naming_both(warehouse_copy):
    """A year re-exported from the finance system, which numbered its transactions afresh: told
    apart by id, every payment counted twice (2024-25's spend £35.1m to £70.2m, the forecast
    balance -£34.4m to -£70.1m) with every gate green."""
    with duckdb.connect(str(warehouse_copy)) as con:
        name, size = _copy_finance_file(con, None)
    _build_finance_staging(warehouse_copy)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        result = gates.transactions_under_two_ids(con)
    assert not result.passed
    assert "a finance file's transactions are in another finance file under other ids" in (
        result.summary
    )
    # the two files are the same size: either may be named as the other's copy
    copy = "finance/reexport.csv"
    assert any(
        f"{size:,} of {a}'s {size:,} transactions are in {b} under other ids, the same day, "
        "amount, line and payee: £" in result.summary
        for a, b in ((copy, name), (name, copy))
    ), result.summary


def _copy_changed_and_checked(warehouse_copy, change: str) -> gates.GateResult:
    """A loaded finance file delivered again under new ids (_copy_finance_file), the copy's
    rows changed by the SQL assignments `change`: transactions_under_two_ids on the rebuilt
    ledger."""
    with duckdb.connect(str(warehouse_copy)) as con:
        _copy_finance_file(con, None)
        con.execute(f"UPDATE raw.finance SET {change} WHERE _file_hash = 'copy'")
    _build_finance_staging(warehouse_copy)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        return gates.transactions_under_two_ids(con)


def test_a_re_export_naming_suppliers_its_own_way_is_still_a_copy(warehouse_copy):
    """A re-export that prefixes each supplier's name with its vendor code and leaves out the
    optional placement column pays the same children and schools: every payee column compared
    at once, it passed, and the year counted twice (£35.1m read £70.2m) with every gate
    green."""
    result = _copy_changed_and_checked(
        warehouse_copy, "supplier_name = 'V10008 ' || supplier_name, placement_id = NULL"
    )
    assert not result.passed
    assert "a finance file's transactions are in another finance file under other ids" in (
        result.summary
    )


def test_a_general_ledger_re_export_without_children_is_still_a_copy(warehouse_copy):
    """A re-export leaving out the optional child and placement columns keys each row on the
    school, the ledger on the child: compared by the first payee each row gives, 1 % of the
    rows matched and the year counted twice (£35.1m read £70.2m) with every gate green."""
    result = _copy_changed_and_checked(warehouse_copy, "child_id = NULL, placement_id = NULL")
    assert not result.passed


def test_a_journal_moving_payments_between_cost_centres_is_not_a_copy(warehouse_copy):
    """A journal file moving a year's payments to another cost centre: each one taken off (-X)
    and posted again (+X) under new ids, on the payments' own day. It nets to nothing, and
    was refused as the year delivered twice ("take out the copy")."""
    with duckdb.connect(str(warehouse_copy)) as con:
        _copy_finance_file(con, None)
        con.execute(
            "INSERT INTO raw.finance SELECT * REPLACE ('OFF-' || transaction_id AS "
            "transaction_id, -amount AS amount, _source_row + 100000 AS _source_row) "
            "FROM raw.finance WHERE _file_hash = 'copy'"
        )
    _build_finance_staging(warehouse_copy)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        assert gates.transactions_under_two_ids(con).passed


def test_a_journal_whose_halves_arrive_in_two_files_is_not_a_copy(warehouse_copy):
    """The payments taken off one cost centre in one file (-X) and posted to another in a
    second (+X), under new ids: netted within each file, the reposts were refused as a copy,
    and taking them out as advised would have left the reversals, spend short by as much."""
    with duckdb.connect(str(warehouse_copy)) as con:
        _copy_finance_file(con, None)
        _finance_file_from(
            con,
            "copy",
            "reversals",
            "finance/journal_reversals.csv",
            "'OFF-' || transaction_id AS transaction_id, -amount AS amount",
        )
    _build_finance_staging(warehouse_copy)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        assert gates.transactions_under_two_ids(con).passed


def test_a_journal_file_sent_twice_is_a_copy_of_what_it_does_not_net(warehouse_copy):
    """A journal of cost-centre pairs and 30 corrections of its own, sent again under new ids:
    its pairs net to nothing in each file, and the 30 corrections, counted twice (£150,000),
    were measured against all the file's rows and passed."""
    with duckdb.connect(str(warehouse_copy)) as con:
        _copy_finance_file(con, None)
        own = (
            "SELECT transaction_id FROM raw.finance WHERE _file_hash = 'copy' "
            f"ORDER BY _source_row LIMIT {gates.COPIED_ROWS + 10}"
        )
        con.execute(
            f"UPDATE raw.finance SET amount = amount + 5000 WHERE _file_hash = 'copy' "
            f"AND transaction_id IN ({own})"
        )
        con.execute(
            "INSERT INTO raw.finance SELECT * REPLACE ('OFF-' || transaction_id AS "
            "transaction_id, -amount AS amount, _source_row + 100000 AS _source_row) "
            f"FROM raw.finance WHERE _file_hash = 'copy' AND transaction_id NOT IN ({own})"
        )
        _finance_file_from(
            con,
            "copy",
            "copy2",
            "finance/journal_resent.csv",
            "'R-' || transaction_id AS transaction_id",
        )
    _build_finance_staging(warehouse_copy)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        result = gates.transactions_under_two_ids(con)
    assert not result.passed
    assert "finance/journal_resent.csv" in result.summary
    assert "finance/reexport.csv" in result.summary


def test_two_files_paying_other_children_the_same_fees_are_not_a_copy(warehouse_copy):
    """Two cost centres' files paying different children the same fee at the same school on
    the same days: both files name children, so they are compared by the child, not the school
    or supplier, where every payment would match."""
    assert _copy_changed_and_checked(warehouse_copy, "child_id = child_id + 1").passed


def test_a_few_payments_repeated_in_another_file_are_not_a_copy(warehouse_copy):
    """Fewer than COPIED_ROWS repeats (a credit note and its re-issue, a corrections file of a
    few lines beside many of its own) are no file delivered twice."""
    with duckdb.connect(str(warehouse_copy)) as con:
        _copy_finance_file(con, gates.COPIED_ROWS - 1, prefix="CN-")
    _build_finance_staging(warehouse_copy)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        assert gates.transactions_under_two_ids(con).passed


def test_the_same_transactions_under_ids_without_their_leading_zeros_fail(warehouse_copy):
    """A month re-delivered through a spreadsheet that read its ids as numbers (`000020284` as
    20284): told apart by id, each transaction counted twice (+£650,405 of a year's spend) with
    every gate green."""
    with duckdb.connect(str(warehouse_copy)) as con:
        assert gates.transactions_under_two_ids(con).passed
        first, last = con.execute(
            "SELECT arg_min(file_hash, file_seq), max(file_seq) FROM raw.finance_files "
            "WHERE status = 'loaded'"
        ).fetchone()
        con.execute(
            "INSERT INTO raw.finance_files SELECT * REPLACE ('copy' AS file_hash, 'copy' AS "
            "content_hash, 'finance/march (excel).xlsx' AS file_name, ? AS file_seq, "
            "? AS precedence_seq) FROM raw.finance_files WHERE file_hash = ?",
            [last + 1, last + 1, first],
        )
        con.execute(
            "INSERT INTO raw.finance SELECT * REPLACE ('copy' AS _file_hash, "
            "'finance/march (excel).xlsx' AS _source_file, '000' || transaction_id AS "
            "transaction_id) FROM raw.finance WHERE _file_hash = ? ORDER BY _source_row LIMIT 12",
            [first],
        )
    _build_finance_staging(warehouse_copy)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        result = gates.transactions_under_two_ids(con)
    # another finance system's sequence ('0001' beside '1') paying another payee the same sum
    # the same day is not a copy
    with duckdb.connect(str(warehouse_copy)) as con:
        con.execute(
            "UPDATE raw.finance SET child_id = NULL, placement_id = NULL, provider_urn = NULL, "
            "provider_ukprn = NULL, supplier_name = 'Another School' WHERE _file_hash = 'copy' "
            "AND _source_row IN (SELECT _source_row FROM raw.finance WHERE _file_hash = 'copy' "
            "ORDER BY _source_row LIMIT 2)"
        )
    _build_finance_staging(warehouse_copy)
    with duckdb.connect(str(warehouse_copy), read_only=True) as con:
        assert "10 transactions of finance/march (excel).xlsx" in (
            gates.transactions_under_two_ids(con).summary
        )
    assert not result.passed
    assert "12 transactions of finance/march (excel).xlsx are in " in result.summary, result.summary
    assert "counted twice" in result.summary


def test_a_past_years_funding_that_moved_since_it_was_published_warns_to_the_pound(con):
    """A complete year's budget line edited and another year's deleted moved the cumulative
    balance by £0.43m with every check passing: its funding is now compared with the published."""
    published = gates.past_figures(con)
    funding = published[published["figure"] == "funding"]
    years = funding[(funding["part"] == "total") & funding["settled"]]["period"].tolist()
    assert len(years) >= 3
    assert gates.figures_hold_since_published(con, "funding", published).passed
    edited, deleted, rounded = years[-1], years[-2], years[0]
    con.execute(
        "UPDATE marts.fct_hnb_position SET funding_gbp = funding_gbp - 170000 "
        "WHERE financial_year = ?",
        [edited],
    )
    con.execute(
        "UPDATE marts.fct_hnb_position SET funding_gbp = NULL WHERE financial_year = ?", [deleted]
    )
    # a re-export's pence are no move
    con.execute(
        "UPDATE marts.fct_hnb_position SET funding_gbp = funding_gbp + 0.4 "
        "WHERE financial_year = ?",
        [rounded],
    )
    then = funding.set_index("period")["value"]
    files = pd.DataFrame(
        {
            "la_code": [published["la_code"].iloc[0]],
            "extract": ["budget"],
            "file_hash": ["a"],
            "file_name": ["budget/budget.csv"],
        }
    )
    here = pd.DataFrame({"file_hash": ["b"], "file_name": ["budget/budget.csv"]})
    changed = gates.files_changed_since(files, here, ("budget",))
    result = gates.figures_hold_since_published(con, "funding", published, changed)
    assert not result.passed
    assert "high needs funding, or a balance brought forward, that the serving file publishes" in (
        result.summary
    )
    assert (
        f"{edited} high needs funding: £{then[edited]:,.0f} published, "
        f"£{then[edited] - 170000:,.0f} now (-£170,000)"
    ) in result.summary, result.summary
    assert f"{deleted} high needs funding: £{then[deleted]:,.0f} published, none in" in (
        result.summary
    )
    assert f"{rounded} high needs funding" not in result.summary
    assert result.summary.endswith(
        "landing files changed since the published version: budget/budget.csv (replaced)"
    )
    # the balance brought forward the budget gives
    given = funding[funding["part"] == "balance_brought_forward"]
    assert len(given) == 1
    con.execute(
        "UPDATE marts.fct_hnb_position SET balance_brought_forward_gbp = "
        "balance_brought_forward_gbp - 5000 WHERE balance_brought_forward_gbp IS NOT NULL"
    )
    result = gates.figures_hold_since_published(con, "funding", published)
    assert f"the balance brought forward into {given['period'].iloc[0]}: " in result.summary
    assert "now (-£5,000)" in result.summary
    # a year in progress: its allocation is updated while it runs, and that is not said
    unsettled = published.copy()
    unsettled.loc[unsettled["figure"] == "funding", "settled"] = False
    unsettled = unsettled[unsettled["part"] != "balance_brought_forward"]
    assert gates.figures_hold_since_published(con, "funding", unsettled).passed


def test_a_past_figure_that_moved_since_it_was_published_warns_naming_it(con):
    """A ledger year's file taken out, a ledger cut short or a plans extract that ceased half its
    plans overnight passed every gate: the changed spend or census was published without a word."""
    published = gates.past_figures(con)
    for figure in ("spend", "plans"):
        assert gates.figures_hold_since_published(con, figure, published).passed
        assert gates.figures_hold_since_published(con, figure, None).passed
    spend = published[(published["figure"] == "spend") & (published["part"] == "total")]
    complete = spend[spend["settled"]]["period"].tolist()
    assert len(complete) >= 2
    moved, calm = complete[-1], complete[0]
    then = published.copy()
    now_value = float(
        then.loc[
            (then["figure"] == "spend") & (then["part"] == "total") & (then["period"] == moved),
            "value",
        ].iloc[0]
    )
    # published 25 % above what the ledger gives now (and by at least £100,000), the other year
    # 5 % above: only the first moved
    for period, factor in ((moved, 1.25), (calm, 1.05)):
        at = (then["figure"] == "spend") & (then["part"] == "total") & (then["period"] == period)
        then.loc[at, "value"] = then.loc[at, "value"] * factor + (200_000 if factor > 1.1 else 0)
    published_moved = (now_value * 1.25 + 200_000) / 1e6
    result = gates.figures_hold_since_published(con, "spend", then)
    assert not result.passed
    assert "a figure the serving file publishes for a past period moved by more than 10%" in (
        result.summary
    )
    assert f"({moved} high needs spend: £{published_moved:,.1f}m published, " in result.summary
    assert f"£{now_value / 1e6:,.1f}m now (-" in result.summary and calm not in result.summary
    # a year still in progress when published grows as its months come: said only when it fell
    unsettled = published.copy()
    at = (unsettled["figure"] == "spend") & (unsettled["period"] == moved)
    unsettled.loc[at, "settled"] = False
    unsettled.loc[at, "value"] = unsettled.loc[at, "value"] * 0.5
    assert gates.figures_hold_since_published(con, "spend", unsettled).passed
    unsettled.loc[at, "value"] = unsettled.loc[at, "value"] * 4 + 200_000  # it fell by half
    result = gates.figures_hold_since_published(con, "spend", unsettled)
    assert not result.passed and f"({moved} high needs spend: " in result.summary
    assert " published so far, " in result.summary
    # a provision type's spend (a placements extract that lost the type moves it elsewhere)
    types = published[(published["figure"] == "spend") & (published["part"] != "total")]
    largest = types[types["settled"]].sort_values("value").iloc[-1]
    by_type = published.copy()
    at = (
        (by_type["figure"] == "spend")
        & (by_type["part"] == largest["part"])
        & (by_type["period"] == largest["period"])
    )
    by_type.loc[at, "value"] = by_type.loc[at, "value"] * 1.5 + 200_000
    result = gates.figures_hold_since_published(con, "spend", by_type)
    assert not result.passed
    assert f"({largest['period']} high needs spend on {largest['part']}: " in result.summary

    # a year published complete that now reads in progress (a ledger cut by a month moved it
    # by 8 %; the next night, no longer complete, a cut to September went unsaid)
    con.execute(
        "UPDATE marts.fct_hnb_position SET is_complete_year = false WHERE financial_year = ?",
        [moved],
    )
    result = gates.figures_hold_since_published(con, "spend", published)
    assert not result.passed
    assert f"({moved} high needs spend: £{now_value / 1e6:,.1f}m published complete, " in (
        result.summary
    )
    assert "now, in progress (+0.0%)" in result.summary
    con.execute(
        "UPDATE marts.fct_hnb_position SET is_complete_year = true WHERE financial_year = ?",
        [moved],
    )

    # a census published and gone from this refresh, and the files changed since named
    gone = pd.concat(
        [
            published,
            pd.DataFrame(
                [
                    {
                        "la_code": published["la_code"].iloc[0],
                        "figure": "plans",
                        "part": "total",
                        "period": "2010-01-21",
                        "value": 50.0,
                        "settled": True,
                    }
                ]
            ),
        ]
    )
    files = pd.DataFrame(
        {
            "la_code": [published["la_code"].iloc[0]] * 3,
            "extract": ["ehcp", "ehcp", "budget"],
            "file_hash": ["a", "b", "c"],
            "file_name": ["ehcp/plans.csv", "ehcp/old_plans.csv", "budget/budget.csv"],
        }
    )
    here = pd.DataFrame({"file_hash": ["x"], "file_name": ["ehcp/plans.csv"]})
    changed = gates.files_changed_since(files, here, ("ehcp", "finance"))
    assert changed["file_name"].tolist() == ["ehcp/plans.csv", "ehcp/old_plans.csv"]
    result = gates.figures_hold_since_published(con, "plans", gone, changed)
    assert not result.passed
    assert "(plans on the 2010-01-21 census: 50 published, none in this refresh)" in result.summary
    assert result.summary.endswith(
        "landing files changed since the published version: ehcp/old_plans.csv (taken out), "
        "ehcp/plans.csv (replaced)"
    )


def test_open_plans_listed_again_under_new_ids_fail_naming_the_year(con, monkeypatch):
    """A plans extract listing open plans again under new plan ids: the censuses count each
    child once, but the flows count each plan, and a year's new plans more than doubled with
    only the overlapping_plan flag raised."""
    assert gates.plans_overlap_within_tolerance(con).passed
    con.execute(
        "INSERT INTO raw.ehcp SELECT * REPLACE ('N-' || plan_id AS plan_id, "
        "_source_row + 1000 AS _source_row) FROM raw.ehcp WHERE plan_cease_date IS NULL"
    )
    copies = con.execute(
        "INSERT INTO intermediate.int_data_quality_flags SELECT la_code, 'ehcp', source_file, "
        "source_row, source_file_hash, plan_id, 'overlapping_plan' "
        "FROM staging.stg_ehcp__plans WHERE plan_id LIKE 'N-%'"
    ).fetchone()[0]
    assert copies > 0
    # a small year's few are a case system's slips: the flags keep them
    assert gates.plans_overlap_within_tolerance(con).passed
    monkeypatch.setattr(gates, "PLAN_OVERLAP_PLANS", 1)
    result = gates.plans_overlap_within_tolerance(con)
    assert not result.passed
    assert "more than 10% of a year's new plans started while the same child's earlier plan" in (
        result.summary
    )
    year, started, overlapping = con.execute(
        "SELECT year(p.plan_start_date), count(*), count(*) FILTER (WHERE p.plan_id LIKE 'N-%') "
        "FROM staging.stg_ehcp__plans p GROUP BY 1 HAVING count(*) FILTER "
        "(WHERE p.plan_id LIKE 'N-%') > 0 ORDER BY 1 LIMIT 1"
    ).fetchone()
    assert f"({year}: {overlapping:,} of {started:,} plans started (ehcp/plans.csv)" in (
        result.summary
    )


def test_the_overlap_gate_names_the_copys_file_when_its_ids_sort_first(con, monkeypatch):
    """Copies under ids sorting before the originals' put the flag on the originals: the gate
    named the real extract alone, and "take out the copy" read as taking it out."""
    originals = "SELECT plan_id FROM raw.ehcp WHERE plan_cease_date IS NULL"
    con.execute(
        "INSERT INTO raw.ehcp SELECT * REPLACE ('A-' || plan_id AS plan_id, "
        "'ehcp/migration.csv' AS _source_file, _source_row + 1000 AS _source_row) "
        "FROM raw.ehcp WHERE plan_cease_date IS NULL"
    )
    con.execute(
        "INSERT INTO intermediate.int_data_quality_flags SELECT la_code, 'ehcp', source_file, "
        "source_row, source_file_hash, plan_id, 'overlapping_plan' "
        f"FROM staging.stg_ehcp__plans WHERE plan_id IN ({originals})"
    )
    monkeypatch.setattr(gates, "PLAN_OVERLAP_PLANS", 1)
    result = gates.plans_overlap_within_tolerance(con)
    assert not result.passed
    assert "plans started (ehcp/migration.csv and ehcp/plans.csv)" in result.summary


def test_plans_under_two_child_ids_fail_naming_both_files(con, monkeypatch):
    """SEN2 returns naming children by UPN beside a plans extract naming them by case id (or a
    plans extract copied under new child ids): no id is shared, so neither the two-sources gate
    nor the overlap flag sees the copies, and the censuses counted each child twice."""
    assert gates.plans_under_two_child_ids(con).passed
    con.execute(
        "INSERT INTO raw.ehcp SELECT * REPLACE ('S-' || plan_id AS plan_id, -child_id AS child_id, "
        "'sen2/2025' AS _source_file) FROM raw.ehcp WHERE plan_cease_date IS NULL"
    )
    # the hand-written council is small: the floor of 20 plans is the demo's
    monkeypatch.setattr(gates, "PLAN_OVERLAP_PLANS", 1)
    result = gates.plans_under_two_child_ids(con)
    assert not result.passed
    assert "of the plans started match a plan of another child id (a child born the same day" in (
        result.summary
    )
    assert "HIGHNEEDS_SEN2_CHILD_ID" in result.summary
    copies, started = con.execute(
        "SELECT count(*) FILTER (WHERE plan_id LIKE 'S-%'), count(*) FROM staging.stg_ehcp__plans"
    ).fetchone()
    # both plans of each pair share their birth date and start date with the other
    assert (
        f"all years: {2 * copies:,} of {started:,} plans started (0 expected by chance; "
        "ehcp/plans.csv and "
    ) in result.summary
    assert "sen2/2025" in result.summary


def test_twins_issued_plans_on_one_day_pass(con, monkeypatch):
    """Twins issued plans on one day share a birth date and a start date honestly: a pair is
    under the floor of PLAN_OVERLAP_PLANS plans, which is what lets it pass in a council this
    small (with a floor of 1, its two plans are over 10 % of their year's)."""
    con.execute(
        "INSERT INTO raw.ehcp SELECT * REPLACE ('T-' || plan_id AS plan_id, -child_id AS child_id) "
        "FROM raw.ehcp WHERE plan_cease_date IS NULL ORDER BY plan_id LIMIT 1"
    )
    assert gates.plans_under_two_child_ids(con).passed
    monkeypatch.setattr(gates, "PLAN_OVERLAP_PLANS", 1)
    assert not gates.plans_under_two_child_ids(con).passed


def _a_return_file(con, extract: str, census: str) -> None:
    """A SEN2 return's `extract` part for the census day `census`, loaded and in the landing
    folder (the file alone: the gate reads which returns are there)."""
    con.execute(
        f"INSERT INTO raw.{extract}_files SELECT * REPLACE ('return {census}' AS file_hash, "
        f"'sen2/{census[:4]}/namedplan.csv' AS file_name, file_seq + 1000 AS file_seq, "
        f"DATE '{census}' AS census_date) FROM raw.{extract}_files "
        "WHERE status = 'loaded' AND in_landing LIMIT 1"
    )


def test_a_sen2_return_missing_between_two_warns_naming_the_census(con):
    """The hand-written SEN2 council without its 2024 return published 2023's three requests
    as no row at all, with every gate green: no return holds the requests received in 2023."""
    assert gates.sen2_returns_every_year(con).passed
    _a_return_file(con, "ehcp", "2023-01-19")
    _a_return_file(con, "ehcp", "2025-01-16")
    result = gates.sen2_returns_every_year(con)
    assert not result.passed
    assert (
        "no return for the census of 2024 between 2023's (sen2/2023/namedplan.csv) and 2025's "
        "(sen2/2025/namedplan.csv): the requests received in 2023 are in no return"
    ) in result.summary
    # the missing year's return, by any of its parts, fills the gap
    _a_return_file(con, "placements", "2024-01-18")
    assert gates.sen2_returns_every_year(con).passed


def test_a_year_of_a_requests_list_with_nothing_in_it_warns(con):
    """A requests list without its 2019 rows published no 2019 row, and the report's table left
    out the council's published 2019 figures with it, without a word."""
    (code,) = con.execute("SELECT DISTINCT la_code FROM marts.fct_ehcp_cohort").fetchone()
    # the mart's columns as its contract requires them (not null): the gate reads only years
    con.execute(
        "CREATE OR REPLACE TABLE marts.fct_ehcp_requests AS "
        "SELECT ?::VARCHAR AS la_code, unnest([2017, 2018, 2020, 2021]) AS year",
        [code],
    )
    result = gates.sen2_returns_every_year(con)
    assert not result.passed
    assert (
        "no request, plan or decision in 2019 between 2017 and 2021: the requests list may have "
        "lost that year"
    ) in result.summary
    con.execute("INSERT INTO marts.fct_ehcp_requests VALUES (?, 2019)", [code])
    assert gates.sen2_returns_every_year(con).passed


def test_a_cohort_converted_on_one_day_matches_only_by_chance_and_passes(con):
    """Statements converted to plans for a school year's cohort on one day (or a migration
    re-issuing every open plan on one day) give many children one start date, and some of them
    one birth date by chance: a reviewer's 240 such children failed the gate (72 of the year's
    390 plans) as if held under two ids. Children born a few days apart match as often, so the
    excess over them is nil."""
    rng = random.Random(7)
    (template,) = con.execute("SELECT min(plan_id) FROM raw.ehcp").fetchone()
    for n in range(240):
        born = dt.date(2004, 9, 1) + dt.timedelta(days=rng.randrange(365))
        con.execute(
            "INSERT INTO raw.ehcp SELECT * REPLACE (? AS child_id, ? AS plan_id, "
            "? AS date_of_birth, DATE '2016-02-15' AS plan_start_date, NULL AS plan_cease_date, "
            "NULL AS cease_reason, 'M' AS sex, _source_row + ? AS _source_row) "
            "FROM raw.ehcp WHERE plan_id = ?",
            [900_000 + n, f"CONV-{n}", born, 10_000 + n, template],
        )
    result = gates.plans_under_two_child_ids(con)
    assert result.passed, result.summary
    converted = result.facts[result.facts["start_year"] == "2016"].iloc[0]
    # chance matches there are, and as many as expected
    assert converted["plans_under_two_ids"] >= gates.PLAN_OVERLAP_PLANS
    assert converted["plans_under_two_ids"] > gates.PLAN_OVERLAP_SHARE * converted["plans_started"]
    assert abs(converted["plans_under_two_ids"] - converted["expected_by_chance"]) < 20


def test_a_copy_whose_start_dates_moved_a_day_is_still_a_copy(con, monkeypatch):
    """A plans extract from a new system, the same plans under new child ids with each start a
    day later: matching the exact day only, the census doubled (1,847 read 3,693) with every
    gate green."""
    con.execute(
        "INSERT INTO raw.ehcp SELECT * REPLACE ('N-' || plan_id AS plan_id, -child_id AS child_id, "
        "plan_start_date + 1 AS plan_start_date, 'ehcp/new_system.csv' AS _source_file) "
        "FROM raw.ehcp"
    )
    monkeypatch.setattr(gates, "PLAN_OVERLAP_PLANS", 1)
    result = gates.plans_under_two_child_ids(con)
    assert not result.passed
    assert "ehcp/new_system.csv" in result.summary


def test_birth_dates_given_to_the_month_match_by_chance_and_pass(con):
    """A pseudonymised extract giving birth dates as the 1st of the month: many children share
    one, and with none born a few days apart, none of their matches read as chance (a
    12,000-child council was held)."""
    rng = random.Random(11)
    (template,) = con.execute("SELECT min(plan_id) FROM raw.ehcp").fetchone()
    con.execute("UPDATE raw.ehcp SET date_of_birth = date_trunc('month', date_of_birth)")
    for n in range(300):
        born = dt.date(2004 + rng.randrange(4), 1 + rng.randrange(12), 1)
        con.execute(
            "INSERT INTO raw.ehcp SELECT * REPLACE (? AS child_id, ? AS plan_id, "
            "? AS date_of_birth, ? AS plan_start_date, NULL AS plan_cease_date, "
            "NULL AS cease_reason, 'M' AS sex, _source_row + ? AS _source_row) "
            "FROM raw.ehcp WHERE plan_id = ?",
            [
                800_000 + n,
                f"MONTH-{n}",
                born,
                dt.date(2019, 1, 1) + dt.timedelta(days=rng.randrange(365)),
                20_000 + n,
                template,
            ],
        )
    result = gates.plans_under_two_child_ids(con)
    assert result.passed, result.summary
    year = result.facts[result.facts["start_year"] == "2019"].iloc[0]
    assert year["plans_under_two_ids"] >= gates.PLAN_OVERLAP_PLANS
