"""A refresh stopped at any stage leaves the serving file and the report whole and of one run.

After one good refresh, refreshes are stopped while they ingest, while dbt builds, while the
forecast runs, while the report is drawn and while the serving file is built: by SIGTERM to the
refresh's own process (it stops dbt, releases the lock and exits 130) and by `kill -9` of its
process group (nothing runs after it; the kernel frees the lock). After each, the serving file
opens with the last good version and the report belongs to the same run; the next refresh takes
over the dead one's lock, cleans up after it and succeeds. A kill between the serving file's
rename and the report's is rolled forward at the next start. (tests/unit/test_publish.py kills
a publish at each exact point: while writing, before the rename, after it.)
"""

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from dagster_project.cli import main
from dagster_project.cli.runner import INTERRUPTED_EXIT_CODE, descendants
from dagster_project.refresh_lock import lock_path
from dagster_project.resources import settle_report_with_serving
from dagster_project.settings import load_settings
from serving.publish import read_publication, served_version
from tests.conftest import HANDWRITTEN_LANDING, copy_landing

# the stopped refreshes draw their report rather than keep the last one, so there is a report
# being drawn to stop: the neighbours to compare with are among its inputs, and with no council
# set (no benchmarks) they change nothing else
REDRAW = {"HIGHNEEDS_NEIGHBOURS": "999"}


class Refresh:
    """`highneeds refresh` in a child process (its own process group), its output collected."""

    def __init__(self, folder: Path):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dagster_project.cli", "refresh"],
            cwd=folder,
            env={**os.environ, **REDRAW, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(
            target=lambda: self.lines.extend(self.process.stdout), daemon=True
        )
        self.reader.start()

    def wait_until(self, ready: Callable[["Refresh"], bool], timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while not ready(self):
            assert self.process.poll() is None, (
                "the refresh finished before the kill point:\n" + self.output()
            )
            assert time.monotonic() < deadline, "the kill point never came:\n" + self.output()
            time.sleep(0.005)

    def finish(self, timeout: float = 60) -> int:
        code = self.process.wait(timeout=timeout)
        self.reader.join(timeout=10)
        return code

    def output(self) -> str:
        return "".join(self.lines)


def dbt_processes(pid: int) -> list[int]:
    """The `dbt` processes among a process's descendants."""
    found = []
    for child in descendants(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(part.endswith(b"/dbt") for part in command[:2]):
            found.append(child)
    return found


def printed(text: str) -> Callable[[Refresh], bool]:
    return lambda refresh: any(text in line for line in refresh.lines)


def dbt_building(refresh: Refresh) -> bool:
    # and has written some models
    return bool(dbt_processes(refresh.process.pid)) and time.sleep(1) is None


def new_file(folder: Path, prefix: str) -> Callable[[Refresh], bool]:
    """True once a file or folder named prefix* appears that was not there when this was made."""
    before = {p.name for p in folder.glob(f"{prefix}*")} if folder.exists() else set()
    return lambda refresh: (
        folder.exists() and any(p.name not in before for p in folder.glob(f"{prefix}*"))
    )


def report_run(report: Path) -> str | None:
    return json.loads((report / ".last-build.json").read_text())["run_id"]


def assert_serving_and_report_of_one_run(
    serving: Path, report: Path, good_version: str, point: str
) -> None:
    with duckdb.connect(str(serving), read_only=True) as con:
        assert served_version(con)[0] == good_version, point  # opens, whole, the last good version
    assert report_run(report) == read_publication(serving)["run_id"], point
    assert (report / "internal" / "report.html").exists() and (
        report / "publication" / "report.html"
    ).exists(), point


def test_a_refresh_stopped_at_any_stage_leaves_serving_and_report_of_one_run(pipeline_env, capsys):
    copy_landing(HANDWRITTEN_LANDING, pipeline_env / "landing")
    serving, warehouse, report = (
        pipeline_env / "serving.duckdb",
        pipeline_env / "warehouse.duckdb",
        pipeline_env / "report",
    )
    assert main(["refresh"]) == 0, capsys.readouterr().out
    good = read_publication(serving)
    assert report_run(report) == good["run_id"]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        good_spend = con.execute("SELECT * FROM marts.fct_provision_spend ORDER BY ALL").fetchall()

    # SIGTERM to the refresh's own process only, while dbt builds: dbt must not outlive it
    refresh = Refresh(pipeline_env)
    refresh.wait_until(dbt_building)
    dbt = dbt_processes(refresh.process.pid)
    os.kill(refresh.process.pid, signal.SIGTERM)
    assert refresh.finish() == INTERRUPTED_EXIT_CODE, refresh.output()
    assert "Refresh stopped by a signal" in refresh.output()
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() for pid in dbt) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in dbt), f"dbt {dbt} outlived the refresh"
    assert lock_path(warehouse).read_text() == ""  # released
    assert_serving_and_report_of_one_run(serving, report, good["version_id"], "SIGTERM during dbt")

    kill_points = {  # each makes its test when the refresh starts
        "during ingest": lambda: printed("✓ ingest (raw__"),
        "during the dbt build": lambda: dbt_building,
        "during the forecast": lambda: printed("✓ gate: warehouse checked"),
        "while drawing the report": lambda: new_file(report, ".next-"),
        "in the middle of publishing": lambda: new_file(pipeline_env, "serving.duckdb.next-"),
    }
    for point, kill_point in kill_points.items():
        ready = kill_point()
        refresh = Refresh(pipeline_env)
        refresh.wait_until(ready)
        os.killpg(refresh.process.pid, signal.SIGKILL)
        assert refresh.finish(timeout=30) == -signal.SIGKILL
        assert "Refresh succeeded" not in refresh.output(), point
        assert_serving_and_report_of_one_run(serving, report, good["version_id"], point)
    # the killed publish's
    assert any(p.name.startswith("serving.duckdb.next-") for p in pipeline_env.iterdir())
    # the killed runs' staged reports
    assert any(p.name.startswith(".next-") for p in report.iterdir())
    # what the killed runs left is private too (.wal, .next, .lock)
    for path in pipeline_env.glob("*.duckdb*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path

    assert main(["refresh"]) == 0, capsys.readouterr().out  # recovers without help
    out = capsys.readouterr().out
    assert "Took over the refresh lock left by a refresh that is no longer running" in out
    recovered = read_publication(serving)
    assert (
        recovered["version_id"] != good["version_id"] and report_run(report) == recovered["run_id"]
    )
    assert sorted(p.name for p in pipeline_env.iterdir() if p.name.startswith("serving")) == [
        "serving.duckdb"
    ]
    assert not any(
        p.name.startswith(".") and p.name != ".last-build.json" for p in report.iterdir()
    )
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert (
            con.execute("SELECT * FROM marts.fct_provision_spend ORDER BY ALL").fetchall()
            == good_spend
        )

    # killed right after the serving file's rename,
    # before the report's: the next start rolls forward
    staged = report / f".next-{recovered['run_id']}"
    staged.mkdir()
    for name in ("internal", "publication", ".last-build.json"):
        shutil.move(report / name, staged / name)
    shutil.copytree(staged / "internal", report / "internal")
    (report / "internal" / "stale.txt").write_text("the run before")
    (report / ".last-build.json").write_text(json.dumps({"run_id": "the run before"}))
    assert settle_report_with_serving(load_settings()) == recovered["run_id"]
    assert (
        report_run(report) == recovered["run_id"]
        and not (report / "internal" / "stale.txt").exists()
    )
    assert (report / "publication" / "report.html").exists() and not staged.exists()
