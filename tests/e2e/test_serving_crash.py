"""`kill -9` of a refresh during ingest, during the dbt build and in the middle of publishing:
the serving file still opens with the last good version, and the next refresh succeeds and
cleans up after the killed one. (tests/unit/test_publish.py kills a publish at each exact
point: while writing, before the rename, after it.)"""

import os
import signal
import stat
import subprocess
import sys
import threading
import time

import duckdb

from dagster_project.cli import main
from ingest.contracts import EXTRACTS
from ingest.publish import read_publication, served_version
from tests.conftest import HANDWRITTEN_LANDING, copy_landing


def refresh_killed_when(folder, ready, timeout=180) -> str:
    """Run `highneeds refresh` in a child process and SIGKILL it (and dbt under it) as soon as
    `ready(lines printed so far)` is true. Returns what it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "dagster_project.cli", "refresh"], cwd=folder, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    while not ready(lines):
        assert process.poll() is None, "the refresh finished before the kill point:\n" + "".join(lines)
        assert time.monotonic() < deadline, "the kill point never came:\n" + "".join(lines)
        time.sleep(0.005)
    os.killpg(process.pid, signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    reader.join(timeout=10)
    return "".join(lines)


def printed(text: str, times: int = 1):
    return lambda lines: sum(text in line for line in lines) >= times


def serving_build_started(folder):
    return lambda lines: any(p.name.startswith("serving.duckdb.next-") for p in folder.iterdir())


def test_a_refresh_killed_at_any_point_leaves_the_last_good_serving_file(pipeline_env, capsys):
    copy_landing(HANDWRITTEN_LANDING, pipeline_env / "landing")
    serving, warehouse = pipeline_env / "serving.duckdb", pipeline_env / "warehouse.duckdb"
    assert main(["refresh"]) == 0, capsys.readouterr().out
    good = read_publication(serving)["version_id"]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        good_spend = con.execute("SELECT * FROM marts.fct_provision_spend ORDER BY ALL").fetchall()

    kill_points = {
        "during ingest": printed("✓ ingest (raw__"),
        "during the dbt build": lambda lines: printed("✓ ingest gates", len(EXTRACTS))(lines) and time.sleep(2) is None,
        "in the middle of publishing": serving_build_started(pipeline_env),
    }
    for point, ready in kill_points.items():
        out = refresh_killed_when(pipeline_env, ready)
        assert "Refresh succeeded" not in out, point
        with duckdb.connect(str(serving), read_only=True) as con:
            assert served_version(con)[0] == good, point  # opens, whole, the last good version
    assert any(p.name.startswith("serving.duckdb.next-") for p in pipeline_env.iterdir())  # the killed publish's
    for path in pipeline_env.glob("*.duckdb*"):  # what the killed runs left is private too (.wal, .next)
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path

    assert main(["refresh"]) == 0, capsys.readouterr().out  # recovers without help
    assert read_publication(serving)["version_id"] != good
    assert sorted(p.name for p in pipeline_env.iterdir() if p.name.startswith("serving")) == ["serving.duckdb"]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT * FROM marts.fct_provision_spend ORDER BY ALL").fetchall() == good_spend
