"""Which councils a failed gate holds at their last good figures (the others publish)."""

import dagster as dg
import pandas as pd

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
