"""`highneeds ui`: the Dagster UI binds to 127.0.0.1, starts quiet (no deprecation warning, no
community pop-up) in every mode and serves the report over http beside it; `--read-only`, for
auditors, shows every asset and refuses every action (launching runs, switching schedules,
reloading code)."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from dagster_project.cli import build_parser


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["data"]


def automation_states(port: int) -> dict[str, str]:
    """Each schedule's and sensor's state as the UI (and the daemon) sees it."""
    repositories = graphql(
        port,
        "{ repositoriesOrError { ... on RepositoryConnection { nodes { "
        "schedules { name scheduleState { status } } sensors { name sensorState { status } } "
        "} } } }",
    )["repositoriesOrError"]["nodes"]
    return {
        **{s["name"]: s["scheduleState"]["status"] for r in repositories for s in r["schedules"]},
        **{s["name"]: s["sensorState"]["status"] for r in repositories for s in r["sensors"]},
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_ui_binds_to_localhost_unless_told_otherwise():
    assert build_parser().parse_args(["ui"]).host == "127.0.0.1"
    assert build_parser().parse_args(["ui", "--read-only"]).read_only


@contextlib.contextmanager
def running_ui(folder, *options: str):
    """`highneeds ui` started from `folder` on free ports, until its UI answers; yields the UI's
    port, the report's port and the log so far (read again for later lines)."""
    port, report_port = free_port(), free_port()
    log_path = folder / "ui.log"
    log = log_path.open("w")
    ui = subprocess.Popen(
        [sys.executable, "-m", "dagster_project.cli", "ui", *options, "--port", str(port)],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "HIGHNEEDS_REPORT_PORT": str(report_port)},
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert ui.poll() is None, "the UI exited:\n" + log_path.read_text()[-3000:]
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "the UI did not start"
                time.sleep(0.5)
        yield port, report_port, log_path
    finally:
        if ui.poll() is None:
            os.killpg(ui.pid, signal.SIGTERM)
        ui.wait(timeout=30)
        log.close()


def assert_quiet(port: int, log_path) -> None:
    """No deprecation or supersession warning on the terminal;
    no community pop-up in the browser."""
    output = log_path.read_text()
    assert "Warning" not in output and "superseded" not in output, output[-3000:]
    assert graphql(port, "{ shouldShowNux }")["shouldShowNux"] is False


def test_the_read_only_ui_shows_everything_and_launches_nothing(pipeline_env, monkeypatch):
    report = pipeline_env / "report"
    (report / "internal").mkdir(parents=True)
    (report / "internal" / "report.html").write_text("<h1>High needs block diagnostic</h1>")
    monkeypatch.setenv("HIGHNEEDS_REPORT_DIR", str(report))
    with running_ui(pipeline_env, "--read-only") as (port, report_port, log_path):
        assert_quiet(port, log_path)
        # the report beside the UI, over http on loopback
        with urllib.request.urlopen(
            f"http://127.0.0.1:{report_port}/internal/report.html", timeout=10
        ) as response:
            assert b"High needs block diagnostic" in response.read()
        assert (
            f"Report on http://127.0.0.1:{report_port}/internal/report.html" in log_path.read_text()
        )
        permissions = {
            p["permission"]: p["value"]
            for p in graphql(port, "{ permissions { permission value } }")["permissions"]
        }
        for action in (
            "launch_pipeline_execution",
            "launch_partition_backfill",
            "start_schedule",
            "edit_sensor",
            "wipe_assets",
            "reload_workspace",
            "terminate_pipeline_execution",
        ):
            assert permissions[action] is False, action
        reload = graphql(port, "mutation { reloadWorkspace { __typename } }")["reloadWorkspace"]
        assert reload["__typename"] == "UnauthorizedError"
        assets = {
            "/".join(node["assetKey"]["path"])
            for node in graphql(port, "{ assetNodes { assetKey { path } } }")["assetNodes"]
        }
        assert {"serving/publish", "gates/warehouse_checked", "marts/fct_provision_spend"} <= assets


def test_the_ui_with_its_daemon_starts_quiet(pipeline_env):
    home = pipeline_env / "dagster_home"
    home.mkdir()  # a DAGSTER_HOME made by an earlier version: telemetry off, no word on the pop-up
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with running_ui(pipeline_env) as (port, _, log_path):
        assert_quiet(port, log_path)
        assert automation_states(port) == {
            "nightly_refresh": "STOPPED",
            "landing_files_changed": "STOPPED",
        }
    assert "nux:\n  enabled: false" in (home / "dagster.yaml").read_text()
