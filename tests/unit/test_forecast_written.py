"""Whether a failed refresh wrote the forecast tables, as its last line says it."""

import duckdb

from dagster_project.cli.runner import RefreshOutcome
from dagster_project.cli.summary import forecast_written
from warehouse import FORECAST_BEING_WRITTEN, record_forecast


def test_a_forecast_that_failed_its_checks_was_written_and_is_said_so():
    """A forecast failing a blocking check is written, then its step fails: the step's name
    alone said "not updated" of tables this refresh had replaced."""
    outcome = RefreshOutcome(
        success=False,
        run_id="this-run",
        failed_steps=[("forecast__caseload", "blocking asset check drivers_add_up failed")],
    )
    with duckdb.connect() as con:
        assert not forecast_written(outcome)  # no record: the step failed
        record_forecast(con, "this-run", ["drivers_add_up"])
        assert forecast_written(outcome, con)
        record_forecast(con, "this-run", [FORECAST_BEING_WRITTEN])  # stopped while writing
        assert not forecast_written(outcome, con)
        record_forecast(con, "an-earlier-run", [])  # the tables are the last forecast's
        assert not forecast_written(outcome, con)
