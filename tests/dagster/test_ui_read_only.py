"""`highneeds ui --read-only`: the Dagster UI for auditors binds to 127.0.0.1, shows every asset,
and refuses every action (launching runs, switching schedules, reloading code)."""

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
        f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["data"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_ui_binds_to_localhost_unless_told_otherwise():
    assert build_parser().parse_args(["ui"]).host == "127.0.0.1"
    assert build_parser().parse_args(["ui", "--read-only"]).read_only


def test_the_read_only_ui_shows_everything_and_launches_nothing(pipeline_env):
    port = free_port()
    log_path = pipeline_env / "ui.log"
    log = log_path.open("w")
    ui = subprocess.Popen(
        [sys.executable, "-m", "dagster_project.cli", "ui", "--read-only", "--port", str(port)],
        cwd=pipeline_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
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
        permissions = {p["permission"]: p["value"] for p in graphql(port, "{ permissions { permission value } }")["permissions"]}
        for action in ("launch_pipeline_execution", "launch_partition_backfill", "start_schedule", "edit_sensor",
                       "wipe_assets", "reload_workspace", "terminate_pipeline_execution"):
            assert permissions[action] is False, action
        reload = graphql(port, "mutation { reloadWorkspace { __typename } }")["reloadWorkspace"]
        assert reload["__typename"] == "UnauthorizedError"
        assets = {"/".join(node["assetKey"]["path"]) for node in graphql(port, "{ assetNodes { assetKey { path } } }")["assetNodes"]}
        assert {"serving/publish", "gates/warehouse_checked", "marts/fct_provision_spend"} <= assets
    finally:
        if ui.poll() is None:
            os.killpg(ui.pid, signal.SIGTERM)
        ui.wait(timeout=30)
        log.close()
