"""warehouse.councils: the readers written for one council read one council's slice."""

from pathlib import Path

import duckdb
import pytest

from warehouse.councils import CouncilConnection, chosen_council, councils, of_council


@pytest.fixture
def con():
    con = duckdb.connect()
    for schema in ("staging", "marts", "forecast"):
        con.execute(f"CREATE SCHEMA {schema}")
    con.execute(
        "CREATE TABLE marts.fct_ehcp_cohort AS SELECT * FROM (VALUES ('869', 2025, 'mss', 10), "
        "('825', 2025, 'mss', 7), ('825', 2025, 'inmss', 2)) "
        "t(la_code, census_year, provision_type, plans)"
    )
    con.execute(
        "CREATE TABLE marts.fct_provision_spend AS SELECT * FROM (VALUES "
        "('869', '2024-25', 'mss', 5.0), ('825', '2024-25', 'mss', 3.0)) "
        "t(la_code, financial_year, provision_type, spend_gbp)"
    )
    con.execute(
        "CREATE TABLE staging.provision_types AS SELECT 'mss' AS provision_type, 1 AS sort_order"
    )
    return con


def test_each_table_a_query_reads_is_narrowed_to_the_council_with_its_alias(con):
    sql = (
        "SELECT s.provision_type, sum(c.plans) FROM marts.fct_provision_spend s "
        "LEFT JOIN marts.fct_ehcp_cohort AS c ON c.provision_type = s.provision_type "
        "JOIN staging.provision_types p ON p.provision_type = s.provision_type GROUP BY ALL"
    )
    assert con.execute(of_council(sql, "825")).fetchall() == [("mss", 7)]
    assert con.execute(of_council(sql, "869")).fetchall() == [("mss", 10)]
    # the seed in staging is every council's: left as it is
    assert "JOIN staging.provision_types p" in of_council(sql, "825")
    assert of_council(sql, None) == sql
    with pytest.raises(ValueError, match="not a council code"):
        of_council(sql, "8' OR '1'='1")


def test_a_table_followed_by_a_clause_is_not_given_the_clause_as_alias(con):
    sql = "SELECT count(*) FROM marts.fct_ehcp_cohort WHERE plans > 1"
    assert con.execute(of_council(sql, "825")).fetchone() == (2,)
    sql = "SELECT sum(plans) FROM marts.fct_ehcp_cohort ORDER BY 1"
    assert con.execute(of_council(sql, "869")).fetchone() == (10,)


def test_the_councils_and_the_one_a_report_is_of(con):
    assert councils(con) == ["825", "869"]
    assert chosen_council(con, "869") == "869"
    assert chosen_council(con, "999") == "825"  # not held: the first by code
    assert chosen_council(con, None) == "825"
    assert councils(duckdb.connect()) == []
    assert chosen_council(duckdb.connect(), "869") is None


def test_a_council_connection_reads_as_if_the_warehouse_held_that_council_alone(con):
    own = CouncilConnection(con, "869")
    assert own.execute("SELECT sum(plans) FROM marts.fct_ehcp_cohort").fetchone() == (10,)
    assert own.execute("SELECT ? + 1", [1]).fetchone() == (2,)


def _forecasts(monkeypatch, errors: dict):
    """forecast.councils.forecast_councils over councils 825, 869 and 873, each council's
    forecast the code itself or the error `errors` gives it."""
    import forecast.councils as module

    def fake(code, *_):
        if code in errors:
            raise errors[code]
        return code

    monkeypatch.setattr(module, "forecast_council", fake)
    return lambda mitigations_file=None, **kw: module.forecast_councils(
        dict.fromkeys(["825", "869", "873"]), None, mitigations_file, None, **kw
    )


def test_a_council_that_cannot_be_forecast_is_left_out_and_named_while_the_others_are(
    monkeypatch,
):
    from forecast.cohort import CohortInputError

    run = _forecasts(monkeypatch, {"869": CohortInputError("no joiners in the trend years")})
    unfitted: dict[str, str] = {}
    assert run(unfitted=unfitted) == ["825", "873"]
    assert unfitted == {"869": "no joiners in the trend years"}
    with pytest.raises(CohortInputError, match="no joiners"):
        run()  # without `unfitted` (the backtests, the Spark comparison): it stops them all


def test_a_settings_error_or_every_council_failing_stops_every_forecast(monkeypatch):
    from forecast.mitigations import MitigationsError
    from forecast.model import ForecastInputError

    shared = _forecasts(monkeypatch, {"873": MitigationsError("mitigations.yml: unknown lever")})
    with pytest.raises(MitigationsError):
        shared(unfitted={})
    # the log every council without its own applies (HIGHNEEDS_MITIGATIONS) is shared settings
    logs = dict.fromkeys(["825", "869", "873"], Path("shared.yml"))
    with pytest.raises(MitigationsError):
        shared(unfitted={}, mitigations_file=logs, shared=Path("shared.yml"))
    every = _forecasts(
        monkeypatch, {code: ForecastInputError(f"{code} short") for code in ("825", "869", "873")}
    )
    with pytest.raises(
        ValueError, match="No council's figures could be forecast: 825: 825 short; 869"
    ):
        every(unfitted={})
    # a bug is not a council's figures: it stops the forecast as it did, a ValueError too
    for error in (KeyError("provision_type"), ValueError("operands could not be broadcast")):
        bug = _forecasts(monkeypatch, {"825": error})
        with pytest.raises(type(error)):
            bug(unfitted={})


def test_an_error_in_a_council_s_own_mitigation_log_holds_that_council_alone(monkeypatch):
    """A typo in 825's own mitigations.yml stopped every council's forecast and publication."""
    from forecast.mitigations import MitigationsError

    typo = MitigationsError("825/mitigations.yml: mitigation 1: unknown provision type(s) inmms")
    run = _forecasts(monkeypatch, {"825": typo})
    logs = {"825": Path("825/mitigations.yml"), "869": Path("s.yml"), "873": Path("s.yml")}
    unfitted: dict[str, str] = {}
    assert run(unfitted=unfitted, mitigations_file=logs, shared=Path("s.yml")) == ["869", "873"]
    assert unfitted == {"825": str(typo)}
