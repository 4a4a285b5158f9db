"""Which councils a failed gate holds at their last good figures (the others publish)."""

import dagster as dg
import pandas as pd
import pytest

from checks.gates import GateResult
from dagster_project.metadata import HELD_COUNCILS, check_result, held_by

KEY = dg.AssetKey(["marts", "fct_provision_spend"])


def gate(passed: bool, councils_failed: list[str] | None) -> GateResult:
    return GateResult("g", passed, pd.DataFrame({"n": [1]}), ["bad"], councils_failed)


def test_a_gate_failing_for_some_councils_holds_them_and_warns():
    result = check_result(gate(False, ["825"]), KEY, "c", ["825", "869"])
    assert result.severity == dg.AssetCheckSeverity.WARN and not result.passed
    assert result.metadata[HELD_COUNCILS].value == "825"
    assert result.description.startswith(
        "council 825 held (the serving file keeps what it last published of it, if anything); "
        "the others publish: "
    )


def test_a_gate_failing_for_every_council_or_the_whole_warehouse_stops_them_all():
    assert held_by(gate(False, ["825", "869"]), ["825", "869"]) == []
    assert held_by(gate(False, None), ["825", "869"]) == []  # the pipeline's failure
    assert held_by(gate(False, ["869"]), []) == []  # one council's landing folder
    assert held_by(gate(True, None), ["825", "869"]) == []
    result = check_result(gate(False, None), KEY, "c", ["825", "869"])
    assert result.severity == dg.AssetCheckSeverity.ERROR and HELD_COUNCILS not in result.metadata


def test_a_council_the_forecast_held_is_tried_again_when_the_step_runs_again():
    """hold_unfitted adds the council to the gates' meta.held_councils and its failed check to
    meta.check_results; forget_unfitted (the forecast step's start) removes only those rows, so
    a re-run of the step alone tries the council again instead of reading it as gate-held."""
    import duckdb

    from dagster_project.defs.forecast import forget_unfitted, hold_unfitted
    from warehouse.councils import held_councils

    con = duckdb.connect()
    con.execute("CREATE SCHEMA meta")
    con.execute(
        "CREATE TABLE meta.held_councils AS SELECT 'r1' AS run_id, '873' AS la_code, "
        "'marts/x' AS asset, 'g' AS check_name, 'bad' AS description"
    )
    con.execute(
        "CREATE TABLE meta.check_results AS SELECT 'r1' AS run_id, 'marts/x' AS asset, "
        "'g' AS check_name, false AS passed, 'WARN' AS severity, "
        "'council 873 held' AS description, now()::TIMESTAMP_NS AS evaluated_at"
    )
    hold_unfitted(con, "r1", {"825": "needs three censuses"})
    assert held_councils(con) == {
        "825": "forecast/caseload · forecast_fitted: needs three censuses",
        "873": "marts/x · g: bad",
    }
    assert con.execute(
        "SELECT check_name, passed, description FROM meta.check_results ORDER BY check_name"
    ).fetchall() == [
        (
            "forecast_fitted",
            False,
            "council 825: its figures cannot be forecast: needs three censuses",
        ),
        ("g", False, "council 873 held"),
    ]
    forget_unfitted(con)
    assert list(held_councils(con)) == ["873"]
    assert con.execute("SELECT check_name FROM meta.check_results").fetchall() == [("g",)]


def _comparison_warehouse():
    """An in-memory warehouse with the schemas the report's comparison of councils reads."""
    import duckdb

    con = duckdb.connect()
    for schema in ("marts", "forecast", "meta"):
        con.execute(f"CREATE SCHEMA {schema}")
    return con


def test_the_reports_comparison_names_a_held_council_with_no_row_in_the_cohort_mart():
    """A council whose every plans file was rejected has no census in marts.fct_ehcp_cohort: the
    comparison, built from the cohort's councils, left it out, though its note says a held
    council's reason is shown instead of its figures."""

    from report.data import compare_councils, compared_councils

    con = _comparison_warehouse()
    con.execute(
        "CREATE TABLE marts.fct_ehcp_cohort AS SELECT '869' AS la_code, 2026 AS census_year, "
        "120 AS plans"
    )
    con.execute(
        "CREATE TABLE marts.fct_provision_spend AS "
        "SELECT * FROM (VALUES ('869'), ('931'), ('940')) t(la_code)"
    )
    con.execute(
        "CREATE TABLE marts.fct_hnb_position AS SELECT * FROM (VALUES "
        "('869', '2025-26', true, 9e6, -1e6), ('931', '2025-26', true, 5e6, -2e6), "
        "('940', '2025-26', true, 3e6, -5e5)) "
        "t(la_code, financial_year, is_complete_year, spend_gbp, cumulative_balance_gbp)"
    )
    con.execute(
        "CREATE TABLE forecast.hnb_position AS SELECT '869' AS la_code, 'unmitigated' AS "
        "scenario, '2028-29' AS financial_year, -4e6 AS cumulative_balance_gbp_central"
    )
    con.execute(
        "CREATE TABLE meta.held_councils AS SELECT * FROM (VALUES "
        "('r1', '931', 'raw/ehcp', 'no_rejected_files', 'ehcp.csv rejected'), "
        "('r1', '950', 'raw/finance', 'no_rejected_files', 'ledger.csv rejected')) "
        "t(run_id, la_code, asset, check_name, description)"
    )
    assert compared_councils(con) == ["869", "931", "940", "950"]
    compared = compare_councils(con, {"869": "this refresh", "931": "last good"}).set_index(
        "Council (old LA code)"
    )
    assert list(compared.index) == ["869", "931", "940", "950"]
    assert compared.loc["869", "Figures"] == "this refresh"
    assert compared.loc["869", "EHC plans"] == 120 and compared.loc["869", "Census"] == 2026
    # not held, with no census: its money is shown, its plans blank
    assert compared.loc["940", "Figures"] == "this refresh"
    assert compared.loc["940", "EHC plans"] is None
    assert compared.loc["940", "High needs spend (£)"] == 3e6
    assert compared.loc["931", "Figures"] == (
        "held at its last good figures: raw/ehcp · no_rejected_files: ehcp.csv rejected"
    )
    assert compared.loc["950", "Figures"].startswith("held, with no figures published yet: ")
    assert compared.loc[["931", "950"]].drop(columns="Figures").isna().all().all()


def test_the_comparisons_spend_per_plan_is_of_the_census_inside_the_spends_year():
    """869's ledger stops in 2025-26 while its plans reach January 2026: its 2024-25 spend was
    divided by January 2026's plans (a later, larger caseload: £18,993 a plan against £20,819),
    so two councils looked alike when one was a tenth dearer."""

    from report.data import compare_councils

    con = _comparison_warehouse()
    con.execute(
        "CREATE TABLE marts.fct_ehcp_cohort AS SELECT * FROM (VALUES "
        "('869', 2025, 'mss', 1000), ('869', 2025, 'inmss', 685), ('869', 2026, 'mss', 1847), "
        "('825', 2025, 'mss', 700)) t(la_code, census_year, provision_type, plans)"
    )
    con.execute(
        "CREATE TABLE marts.fct_provision_spend AS "
        "SELECT * FROM (VALUES ('869'), ('825')) t(la_code)"
    )
    con.execute(
        "CREATE TABLE marts.fct_hnb_position AS SELECT * FROM (VALUES "
        "('869', '2024-25', true, 35079789.38, -1e6), ('869', '2025-26', false, 2.5e7, NULL), "
        "('825', '2024-25', true, 13.25e6, -2e6)) "
        "t(la_code, financial_year, is_complete_year, spend_gbp, cumulative_balance_gbp)"
    )
    con.execute(
        "CREATE TABLE forecast.hnb_position AS SELECT * FROM (VALUES "
        "('869', 'unmitigated', '2028-29', -4e6), ('825', 'unmitigated', '2028-29', -3e6)) "
        "t(la_code, scenario, financial_year, cumulative_balance_gbp_central)"
    )
    con.execute(
        "CREATE TABLE meta.held_councils (run_id VARCHAR, la_code VARCHAR, asset VARCHAR, "
        "check_name VARCHAR, description VARCHAR)"
    )
    compared = compare_councils(con).set_index("Council (old LA code)")
    row = compared.loc["869"]
    assert (row["Census"], row["EHC plans"], row["Latest complete year"]) == (2026, 1847, "2024-25")
    assert row["EHC plans, that year's census"] == 1685
    assert row["Spend (£ per plan)"] == pytest.approx(35079789.38 / 1685)
    assert compared.loc["825", "Spend (£ per plan)"] == pytest.approx(13.25e6 / 700)


def test_a_council_coded_for_the_first_time_is_relabelled_not_no_longer_served(tmp_path):
    """A warehouse whose files had no code (000), refreshed with HIGHNEEDS_LA_CODE=869: the
    summary said council 000 had no files now and to put its folder back."""
    import io

    from rich.console import Console

    from dagster_project.cli.runner import RefreshOutcome
    from dagster_project.cli.summary import _print_publication
    from dagster_project.settings import load_settings

    settings = load_settings(
        {"HIGHNEEDS_WAREHOUSE": str(tmp_path / "w.duckdb")}, dotenv=tmp_path / "none.env"
    )

    def said(dropped: str) -> str:
        console = Console(file=io.StringIO(), width=300)
        outcome = RefreshOutcome(
            True, "run", published={"version_id": "v2", "no_longer_served": dropped}
        )
        _print_publication(settings, outcome, console)
        return console.file.getvalue()

    relabelled = said("000")
    assert "Relabelled" in relabelled and "No longer served" not in relabelled
    both = said("000, 825")
    assert "No longer served: council(s) 825," in both and "Relabelled" in both
    assert "Relabelled" not in said("825")


def test_the_summarys_drivers_are_the_first_forecast_years_not_a_year_in_progress():
    """A January refresh: forecast.drivers holds 2025-26 (estimated, in progress) before the
    first forecast year 2026-27; the summary said what drives 2025-26 while the report's chart
    reads 2026-27."""
    import duckdb

    from dagster_project.cli.summary import first_forecast_year_drivers
    from warehouse.councils import CouncilConnection

    con = duckdb.connect()
    con.execute("CREATE SCHEMA forecast")
    con.execute(
        "CREATE TABLE forecast.drivers AS SELECT * FROM (VALUES "
        "('869', 'unmitigated', '2025-26', 'joining', 1.0), "
        "('869', 'unmitigated', '2025-26', 'total', 1.0), "
        "('869', 'unmitigated', '2026-27', 'central', 3.0), "
        "('869', 'unmitigated', '2026-27', 'joining', 2.0), "
        "('869', 'mitigated', '2026-27', 'joining', 9.0), "
        "('869', 'unmitigated', '2026-27', 'total', 5.0)) "
        "t(la_code, scenario, financial_year, driver, spend_change_gbp)"
    )
    con.execute(
        "CREATE TABLE forecast.hnb_position AS SELECT * FROM (VALUES "
        "('869', 'unmitigated', '2026-27'), ('869', 'unmitigated', '2027-28')) "
        "t(la_code, scenario, financial_year)"
    )
    assert first_forecast_year_drivers(CouncilConnection(con, "869")) == [
        ("2026-27", "joining", 2.0),
        ("2026-27", "central", 3.0),
    ]
