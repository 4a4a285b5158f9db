"""End to end: `highneeds refresh` on hand-written extracts, and gates that stop the forecast."""

import contextlib
import io

import dagster as dg
import duckdb
import pytest

from dagster_project.cli import main
from dagster_project.defs.forecast import forecast_tables_asset
from dagster_project.defs.report import report_asset
from dagster_project.resources import build_resources
from dagster_project.settings import load_settings
from tests.conftest import HANDWRITTEN_LANDING, copy_landing, set_pipeline_env


def refresh(capsys) -> tuple[int, str]:
    code = main(["refresh"])
    return code, capsys.readouterr().out


def forecast_snapshot(warehouse) -> dict[str, list]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            t: con.execute(f"SELECT * FROM forecast.{t} ORDER BY ALL").fetchall()
            for t in ("caseload", "spend", "hnb_position")
        }


def report_files(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory):
    """One refresh of the hand-written extracts, shared by the module's tests (a refresh costs
    half a minute): the first reads it, the second breaks inputs on it and ends with a good refresh
    again; its settings, pipeline_env's, stay in the environment for the module's tests."""
    folder = tmp_path_factory.mktemp("refreshed")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        set_pipeline_env(folder, patch)
        landing = copy_landing(HANDWRITTEN_LANDING, folder / "landing")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["refresh"])
        assert code == 0, out.getvalue()
        yield landing, folder / "warehouse.duckdb", out.getvalue()


def test_refresh_on_extracts_the_project_did_not_generate(refreshed):
    _landing, warehouse, out = refreshed
    assert "Refresh succeeded" in out and "Checks:" in out and "0 failed" in out
    with duckdb.connect(str(warehouse), read_only=True) as con:
        years = con.execute(
            "SELECT scenario, list(DISTINCT financial_year ORDER BY financial_year) "
            "FROM forecast.spend GROUP BY 1 ORDER BY 1"
        ).fetchall()
        assert years == [
            (s, ["2024-25", "2025-26", "2026-27", "2027-28", "2028-29"])
            for s in ("mitigated", "unmitigated")
        ]
        assert (
            con.execute("SELECT count(*) FROM meta.check_results WHERE NOT passed").fetchone()[0]
            == 0
        )


def test_a_report_at_another_threshold_than_the_serving_files_is_refused(
    refreshed, capsys, tmp_path
):
    """`highneeds report --threshold 10` beside a serving file suppressed at 5: the publication
    showed a DfE category (Post 16: 15) whose part the serving file shows (Post-16 FE: 14),
    giving away the one child the serving file hides."""
    import os

    with duckdb.connect(os.environ["HIGHNEEDS_SERVING"], read_only=True) as con:
        served = con.execute("SELECT suppression_threshold FROM meta.publication").fetchone()[0]
    out = tmp_path / "report"
    assert main(["report", "--threshold", str(served + 5), "--out", str(out)]) == 2
    said = " ".join(capsys.readouterr().out.split())
    assert f"the serving file's published tables hide counts below {served}" in said, said
    assert f"HIGHNEEDS_SUPPRESSION_THRESHOLD={served + 5}" in said and not out.exists()


def test_a_forecast_that_failed_a_blocking_check_is_neither_drawn_nor_published(refreshed, capsys):
    """The refresh stops after a forecast check fails; the report and serving/publish
    materialised on their own from the UI then drew and published it, green."""
    from warehouse import forecast_settings, record_forecast, unchecked_forecast

    _, warehouse, _ = refreshed
    report = report_files(warehouse.parent / "report")
    with duckdb.connect(str(warehouse)) as con:
        assert unchecked_forecast(con) is None  # the refresh's forecast passed its checks
        (run,) = con.execute("SELECT run_id FROM meta.forecast_checked").fetchone()
        ran_with = forecast_settings(con)
        record_forecast(con, "run-failed", ["drivers_add_up"])
    try:
        result = dg.materialize(
            [report_asset], resources=build_resources(load_settings()), raise_on_error=False
        )
        assert not result.success
        failure = result.failure_data_for_node("report").error.message
        assert "the forecast tables hold refresh run-failed's forecast, which failed its " in (
            failure
        )
        assert "blocking check drivers_add_up" in failure
        assert report_files(warehouse.parent / "report") == report
        # nor by `highneeds report`
        assert main(["report"]) == 1
        said = " ".join(capsys.readouterr().out.split())
        assert "No report built: the forecast tables hold refresh run-failed's forecast" in said
        assert report_files(warehouse.parent / "report") == report
    finally:
        with duckdb.connect(str(warehouse)) as con:
            record_forecast(con, run, [], ran_with)


def test_figures_checked_after_the_forecast_was_made_are_not_drawn_beside_it(refreshed, capsys):
    """A refresh killed in its forecast step, after its gates passed, left the new marts beside
    the last refresh's forecast; `highneeds report` then drew the two together, under the new
    run's name, and exited 0 (the balance from data three months older)."""
    from warehouse import forecast_behind_figures, record_figures

    _, warehouse, _ = refreshed
    report = report_files(warehouse.parent / "report")
    with duckdb.connect(str(warehouse)) as con:
        assert forecast_behind_figures(con) is None  # the refresh's own forecast
        (figures_run,) = con.execute("SELECT run_id FROM meta.figures_checked").fetchone()
        (forecast_run,) = con.execute("SELECT run_id FROM meta.forecast_checked").fetchone()
        record_figures(con, "run-stopped", checked=True)
    try:
        result = dg.materialize(
            [report_asset], resources=build_resources(load_settings()), raise_on_error=False
        )
        assert not result.success
        failure = " ".join(result.failure_data_for_node("report").error.message.split())
        assert (
            "the warehouse's figures are refresh run-stopped's, which stopped before its "
            f"forecast was written: the forecast tables still hold refresh {forecast_run}'s"
        ) in failure
        assert main(["report"]) == 1
        said = " ".join(capsys.readouterr().out.split())
        assert "No report built: the warehouse's figures are refresh run-stopped's" in said
        assert report_files(warehouse.parent / "report") == report
    finally:
        with duckdb.connect(str(warehouse)) as con:
            record_figures(con, figures_run, checked=True)
            assert forecast_behind_figures(con) is None


def test_a_broken_input_fails_the_refresh_and_keeps_the_last_good_forecast(refreshed, capsys):
    landing, warehouse, _ = refreshed
    good = forecast_snapshot(warehouse)

    duplicate = landing / "ehcp" / "late_additions.csv"
    duplicate.write_text(
        "child_id,plan_id,date_of_birth,primary_need,plan_start_date\n"
        "K101,EP900,2014-05-05,ASD,2023-06-01\n"
        "K102,EP900,2013-02-02,SEMH,2023-07-01\n"
    )
    code, out = refresh(capsys)
    assert code == 1
    assert "quarantine_within_tolerance" in out and "conflicting_duplicate" in out
    assert "ehcp/late_additions.csv:2" in out
    assert forecast_snapshot(warehouse) == good
    duplicate.unlink()

    costly = landing / "placements" / "correction.csv"
    costly.write_text(
        "placement_id,child_id,urn,establishment_type_code,start_date,annual_cost\n"
        'PL99,K006,110007,28,2023-09-01,"£9,500,000"\n'
    )
    code, out = refresh(capsys)
    assert code == 1
    assert "placement_costs_within_bounds" in out and "PL99" in out
    assert forecast_snapshot(warehouse) == good
    # the marts now hold the £9.5m placement, which failed its gate: no report is built from them
    report = report_files(warehouse.parent / "report")
    assert main(["report"]) == 1
    out = " ".join(capsys.readouterr().out.split())  # as printed, without the console's wrapping
    assert "No report built: the warehouse holds the figures of refresh" in out, out
    assert "which did not pass its gates" in out, out
    assert report_files(warehouse.parent / "report") == report
    # nor by the Dagster asset materialised on its own (it drew them, green, into the UI)
    result = dg.materialize(
        [report_asset], resources=build_resources(load_settings()), raise_on_error=False
    )
    assert not result.success
    failure = result.failure_data_for_node("report").error.message
    assert "No report built: the warehouse holds the figures of refresh" in failure
    assert report_files(warehouse.parent / "report") == report
    # nor the forecast, materialised on its own from the UI: it wrote the failed marts'
    # forecast over the last good one, green
    result = dg.materialize(
        [forecast_tables_asset], resources=build_resources(load_settings()), raise_on_error=False
    )
    assert not result.success
    failure = result.failure_data_for_node("forecast_tables_asset").error.message
    assert "Not forecast: the warehouse holds the figures of refresh" in failure
    assert forecast_snapshot(warehouse) == good
    costly.unlink()

    broken = landing / "finance" / "march.csv"
    broken.write_text("transaction_id,amount,s251_line\nTX9,10,1.2.1\n")
    code, out = refresh(capsys)
    assert code == 1
    assert "finance/march.csv: missing required column(s) posting_date" in out
    assert "[red]" not in out  # the rejection is printed as text, its markup rendered
    assert forecast_snapshot(warehouse) == good
    broken.unlink()

    code, out = refresh(capsys)
    assert code == 0, out


def test_refresh_refuses_to_start_without_a_pseudonymisation_key(pipeline_env, monkeypatch, capsys):
    monkeypatch.delenv("HIGHNEEDS_PSEUDONYM_KEY")
    code, out = refresh(capsys)
    assert code == 2 and "HIGHNEEDS_PSEUDONYM_KEY is not set" in out
    assert not (pipeline_env / "warehouse.duckdb").exists()


def test_a_publish_on_its_own_records_the_settings_the_forecast_ran_with(refreshed, monkeypatch):
    """The report and the publish materialised from the UI after the settings changed (a reload
    after editing .env) recorded the publishing process's settings as the forecast's, not those
    the forecast tables were written with: the forecast ran with 500 paths, meta.publication
    said 600, and the next change was compared with the wrong settings."""
    from dagster_project.assembly import publish_serving

    _, warehouse, _ = refreshed
    ran_with = load_settings().forecast_fingerprint()
    monkeypatch.setenv("HIGHNEEDS_SIMULATIONS", "600")
    other = load_settings()
    assert other.forecast_fingerprint()[1] != ran_with[1]
    result = dg.materialize(
        [report_asset, publish_serving],
        resources=build_resources(other),
        instance=dg.DagsterInstance.get(),
        raise_on_error=False,
    )
    assert result.success
    with duckdb.connect(str(warehouse.parent / "serving.duckdb"), read_only=True) as con:
        recorded = con.execute(
            "SELECT forecast_settings, forecast_settings_sha256 FROM meta.publication"
        ).fetchone()
    assert recorded == ran_with


def test_a_landing_file_that_changed_after_ingest_read_it_holds_the_publish(refreshed):
    """A ledger still being copied in when a refresh started was read half, passed every gate
    and was published (£6.67m of a month's £6.78m) on a green run: the sensor waits for the
    folder to settle only at its tick, a schedule or the CLI not at all. The file changed after
    ingest read it, so the publish is held, naming it; BI and the report keep their version. The
    same bytes saved again are no change."""
    from dagster_project.assembly import publish_serving

    landing, warehouse, _ = refreshed
    serving = warehouse.parent / "serving.duckdb"

    def version() -> str:
        with duckdb.connect(str(serving), read_only=True) as con:
            return con.execute("SELECT version_id FROM meta.publication").fetchone()[0]

    def installed_report() -> dict[str, bytes]:  # not the report the held run staged
        files = report_files(warehouse.parent / "report")
        return {name: data for name, data in files.items() if not name.startswith(".next-")}

    def publish() -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [report_asset, publish_serving],
            resources=build_resources(load_settings()),
            instance=dg.DagsterInstance.get(),
            raise_on_error=False,
        )

    ledger = landing / "finance" / "ledger_2021_2024.csv"
    whole = ledger.read_bytes()
    before, report = version(), installed_report()
    rest = b"TX99999,31/03/2024,1250.00,1.2.1,K001,PL01,110001,,,HN01,Top-up\n"
    ledger.write_bytes(whole + rest)  # the copy goes on after ingest read it
    result = publish()
    assert not result.success
    failure = " ".join(result.failure_data_for_node("serving__publish").error.message.split())
    assert "Not published: landing files changed after this refresh read them" in failure
    assert "finance/ledger_2021_2024.csv (finance): read at" in failure, failure
    assert f"with {len(whole):,} bytes, now {len(whole) + len(rest):,} bytes" in failure, failure
    assert version() == before
    assert installed_report() == report

    ledger.write_bytes(whole)  # saved again as it was read: a new time, the same bytes
    assert publish().success
    assert version() != before

    # the council's own mitigation log, read by the forecast, is checked as the extracts are
    from dagster_project.settings import EXAMPLE_MITIGATIONS

    log = landing / "mitigations.yml"
    log.write_bytes(EXAMPLE_MITIGATIONS.read_bytes())
    resources = build_resources(load_settings())
    instance = dg.DagsterInstance.get()
    assert dg.materialize([forecast_tables_asset], resources=resources, instance=instance).success
    before = version()
    log.write_bytes(EXAMPLE_MITIGATIONS.read_bytes() + b"# the copy went on\n")
    result = publish()
    assert not result.success
    failure = " ".join(result.failure_data_for_node("serving__publish").error.message.split())
    assert "mitigations.yml (mitigations): read at" in failure, failure
    assert version() == before
    log.unlink()
