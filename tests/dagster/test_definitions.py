"""The Dagster definitions load, and their lineage is a reviewed snapshot.

Any change to an asset key, a dependency, a group, an owner, a check (or whether it blocks), a
job, schedule or sensor changes the snapshot. Review the diff, then regenerate it with
`UPDATE_SNAPSHOTS=1 make test`.
"""

import json
import os
from pathlib import Path

import dagster as dg
import pytest

from dagster_project import refresh_lock
from dagster_project.definitions import build_definitions

SNAPSHOT = Path(__file__).parent / "__snapshots__" / "definitions.json"


@pytest.fixture(scope="module")
def defs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("defs")
    with pytest.MonkeyPatch.context() as patch:  # the defaults, under a folder of its own
        patch.chdir(folder)
        for name in (
            "HIGHNEEDS_WAREHOUSE",
            "HIGHNEEDS_LANDING",
            "HIGHNEEDS_SERVING",
            "DAGSTER_HOME",
            "HIGHNEEDS_HORIZON",
        ):
            patch.delenv(name, raising=False)
        yield build_definitions()


def describe(defs: dg.Definitions) -> dict:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "owners": sorted(node.owners),
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "kinds": sorted(node.kinds),
            "described": bool(node.description and node.description.strip()),
        }
    checks = sorted(
        f"{spec.asset_key.to_user_string()} · {spec.name}{' (blocking)' if spec.blocking else ''}"
        for spec in (graph.get_check_spec(key) for key in graph.asset_check_keys)
    )
    return {
        "assets": assets,
        "checks": checks,
        "jobs": sorted(
            job.name for job in defs.resolve_all_job_defs() if not job.name.startswith("__")
        ),
        "schedules": [
            {
                "name": s.name,
                "cron": s.cron_schedule,
                "timezone": s.execution_timezone,
                "job": s.job_name,
            }
            for s in (defs.resolve_schedule_def(schedule.name) for schedule in defs.schedules)
        ],
        "sensors": sorted(s.name for s in defs.sensors),
    }


def test_definitions_match_the_reviewed_snapshot(defs):
    current = describe(defs)
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not SNAPSHOT.exists():
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    assert current == json.loads(SNAPSHOT.read_text()), (
        "lineage changed: review and run UPDATE_SNAPSHOTS=1 make test"
    )


def test_every_asset_is_described_grouped_and_owned(defs):
    for key, asset in describe(defs)["assets"].items():
        assert asset["described"], key
        assert asset["group"] in {
            "landing",
            "ingest",
            "reference",
            "staging",
            "intermediate",
            "marts",
            "gates",
            "forecast",
            "serving",
            "report",
            "docs",
        }, key
        assert asset["owners"], key


def test_one_connected_lineage_from_ingest_to_forecast(defs):
    graph = defs.resolve_asset_graph()
    forecast = dg.AssetKey(["forecast", "spend"])
    upstream = graph.get_ancestor_asset_keys(forecast)
    for extract in ("ehcp", "placements", "finance", "budget"):
        assert dg.AssetKey(["raw", extract]) in upstream
    assert dg.AssetKey(["gates", "warehouse_checked"]) in upstream
    assert dg.AssetKey(["marts", "fct_provision_spend"]) in upstream


def test_nightly_schedule_and_landing_sensor(defs):
    schedule = defs.resolve_schedule_def("nightly_refresh")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 2 * * *", "Europe/London")
    assert defs.resolve_sensor_def("landing_files_changed").job_name == "refresh"


def test_ingest_gates_block(defs):
    # three gates on each of the six ingest assets
    # (ehcp, placements, finance, budget, gias, requests)
    blocking = [c for c in describe(defs)["checks"] if c.startswith("raw/")]
    assert len(blocking) == 3 * 6 and all(c.endswith("(blocking)") for c in blocking)


def _settled(monkeypatch) -> None:
    """The sensor's clock an hour on: every file the test wrote has settled."""
    import time

    from dagster_project.defs import automation

    now = time.time()
    monkeypatch.setattr(automation.time, "time", lambda: now + 3600)


def test_landing_sensor_requests_a_run_only_when_files_change(pipeline_env, monkeypatch):
    # the settings are read once, when the definitions are built: these watch pipeline_env's landing
    sensor = build_definitions().resolve_sensor_def("landing_files_changed")
    landing = pipeline_env / "landing"
    _settled(monkeypatch)
    first = sensor.evaluate_tick(dg.build_sensor_context(cursor=None))
    assert len(first.run_requests) == 1
    unchanged = sensor.evaluate_tick(dg.build_sensor_context(cursor=first.cursor))
    assert not unchanged.run_requests
    # a spreadsheet program's lock file beside a landing file it opened is no change
    (landing / ".~lock.budget.csv#").write_text("user,host\n")
    (landing / "~$budget.xlsx").write_text("owner")
    assert not sensor.evaluate_tick(dg.build_sensor_context(cursor=first.cursor)).run_requests
    (landing / "finance").mkdir()
    (landing / "finance" / "new.csv").write_text("transaction_id\n")
    added = sensor.evaluate_tick(dg.build_sensor_context(cursor=first.cursor))
    assert len(added.run_requests) == 1
    # the file taken out again: the folder is as it was at the first run, whose run key Dagster
    # would never launch again (the wrong file's figures stayed served until the night)
    (landing / "finance" / "new.csv").unlink()
    removed = sensor.evaluate_tick(dg.build_sensor_context(cursor=added.cursor))
    assert len(removed.run_requests) == 1
    keys = [tick.run_requests[0].run_key for tick in (first, added, removed)]
    assert len(set(keys)) == 3
    # a cursor written before changes were counted is read as the fingerprint it is
    fingerprint = json.loads(first.cursor)["fingerprint"]
    assert not sensor.evaluate_tick(dg.build_sensor_context(cursor=fingerprint)).run_requests


def test_landing_sensor_waits_for_a_running_refresh_and_then_requests_the_run(
    pipeline_env, monkeypatch
):
    """A run requested while a refresh holds the lock would be refused: the sensor waits, keeping
    its cursor, so the change still starts a refresh once the running one has finished."""
    sensor = build_definitions().resolve_sensor_def("landing_files_changed")
    _settled(monkeypatch)
    first = sensor.evaluate_tick(dg.build_sensor_context(cursor=None))
    (pipeline_env / "landing" / "finance").mkdir()
    (pipeline_env / "landing" / "finance" / "new.csv").write_text("transaction_id\n")
    warehouse = pipeline_env / "warehouse.duckdb"
    refresh_lock.acquire(warehouse)
    try:
        waiting = sensor.evaluate_tick(dg.build_sensor_context(cursor=first.cursor))
    finally:
        refresh_lock.release(warehouse)
    assert not waiting.run_requests and "while a refresh runs" in waiting.skip_message
    assert waiting.cursor in (None, first.cursor)  # the change is not forgotten
    after = sensor.evaluate_tick(dg.build_sensor_context(cursor=first.cursor))
    assert len(after.run_requests) == 1 and after.cursor != first.cursor


def test_landing_sensor_waits_for_a_file_being_copied_in_to_settle(pipeline_env, monkeypatch):
    """A tick while a new ledger was copied in saw its first lines only, and the refresh it
    started published a last month of 189 postings for 647, every gate green: a change younger
    than a minute waits, its cursor kept, for the next tick. A file copied in with its old
    modification time kept (`cp -p`) is seen by its change time."""
    import os

    sensor = build_definitions().resolve_sensor_def("landing_files_changed")
    landing = pipeline_env / "landing"
    _settled(monkeypatch)
    first = sensor.evaluate_tick(dg.build_sensor_context(cursor=None))
    monkeypatch.undo()
    (landing / "finance").mkdir()
    (landing / "finance" / "copying.csv").write_text("transaction_id\n")
    copying = sensor.evaluate_tick(dg.build_sensor_context(cursor=first.cursor))
    assert not copying.run_requests
    assert "finance/copying.csv changed less than 60 seconds ago" in copying.skip_message
    assert copying.cursor in (None, first.cursor)
    _settled(monkeypatch)
    settled = sensor.evaluate_tick(dg.build_sensor_context(cursor=first.cursor))
    assert len(settled.run_requests) == 1
    # the same size, its modification time put back: its change time still moves
    copied = landing / "finance" / "copying.csv"
    before = copied.stat()
    copied.write_text("transaction_jd\n")
    os.utime(copied, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (copied.stat().st_size, copied.stat().st_mtime_ns) == (
        before.st_size,
        before.st_mtime_ns,
    )
    again = sensor.evaluate_tick(dg.build_sensor_context(cursor=settled.cursor))
    assert len(again.run_requests) == 1


def test_lineage_starts_at_the_landing_files(defs):
    graph = defs.resolve_asset_graph()
    upstream = graph.get_ancestor_asset_keys(dg.AssetKey(["forecast", "spend"]))
    for extract in ("ehcp", "placements", "finance", "budget", "gias", "sen2"):
        assert dg.AssetKey(["landing", extract]) in upstream
    job = defs.resolve_job_def("refresh")
    assert dg.AssetKey(["landing", "finance"]) in job.asset_layer.asset_graph.get_all_asset_keys()


def test_one_model_can_be_materialised_with_its_own_checks(defs):
    """The UI's "materialise" on one dbt model (or `--select marts/fct_provision_spend`) failed:
    the warehouse gates were one check that could not be split. Its run takes that model's
    gates only; the gate before the forecast still needs every check (test_serving)."""
    from dagster_project.defs.gates import PROVISION_SPEND

    job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection={PROVISION_SPEND})
    checks = {
        k.name
        for k in job.asset_layer.asset_graph.asset_check_keys
        if k.asset_key == PROVISION_SPEND
    }
    assert {"ledger_months_complete", "unit_costs_within_bounds"} <= checks
