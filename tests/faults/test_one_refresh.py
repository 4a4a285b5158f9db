"""One refresh of a warehouse at a time.

The lock (`<warehouse>.lock`, dagster_project.refresh_lock) refuses a second holder at once,
naming the first; is re-entrant within a process (the CLI, then the Dagster run in it); and is
taken over from a process that died. A second `highneeds refresh` exits 75 with a plain message
(never DuckDB's lock error) while the first succeeds; a run Dagster starts itself is refused the
same way; `--wait` waits and then runs. Where DuckDB's own lock is still met (a program holding
the warehouse), its error is read out plainly.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import duckdb
import pytest

from dagster_project import refresh_lock
from dagster_project.cli import main
from dagster_project.cli.runner import REFRESH_RUNNING_EXIT_CODE
from dagster_project.resources import WarehouseInUse, WarehouseResource
from tests.conftest import HANDWRITTEN_LANDING, copy_landing


def hold_in_another_process(code: str) -> subprocess.Popen:
    """Run `code` in a child process that prints "ready" once it holds what it takes."""
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "ready"
    return process


def holding_the_lock(warehouse) -> subprocess.Popen:
    return hold_in_another_process(f"""
        import time
        from dagster_project import refresh_lock
        refresh_lock.acquire({str(warehouse)!r})
        print("ready", flush=True)
        time.sleep(600)
    """)


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def test_a_second_holder_is_refused_at_once_and_told_who_holds_it(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    holder = holding_the_lock(warehouse)
    try:
        started = time.monotonic()
        with pytest.raises(refresh_lock.RefreshRunning) as refused:
            refresh_lock.acquire(warehouse)
        assert time.monotonic() - started < 1
        assert "another refresh is running since 20" in str(refused.value)
        assert f"(pid {holder.pid} on host {socket.gethostname()})" in str(refused.value)
        written = json.loads(refresh_lock.lock_path(warehouse).read_text())
        assert (
            written["pid"] == holder.pid
            and written["host"] == socket.gethostname()
            and written["started_at"]
        )
    finally:
        stop(holder)
    # the kernel freed the lock with its process: the file still names it, and is taken over
    taken_over = refresh_lock.acquire(warehouse)
    try:
        assert taken_over is not None and taken_over.pid == holder.pid
    finally:
        refresh_lock.release(warehouse)
    assert refresh_lock.lock_path(warehouse).read_text() == ""  # released: no holder named
    assert oct(refresh_lock.lock_path(warehouse).stat().st_mode & 0o777) == oct(0o600)


def test_the_run_of_a_refresh_killed_holding_the_lock_is_marked_failed_by_the_next(tmp_path):
    """A `highneeds refresh` killed with -9 stayed STARTED in Dagster's run history for good,
    beside the materialisations it had recorded: the next run, which takes over its lock, ends
    it as failed (the lock file names the run it was for)."""
    import dagster as dg
    from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus

    warehouse = tmp_path / "warehouse.duckdb"
    with dg.instance_for_test() as instance:
        instance.add_run(
            DagsterRun(job_name="refresh", run_id="killed-run", status=DagsterRunStatus.STARTED)
        )
        holder = hold_in_another_process(f"""
            import time
            from dagster_project import refresh_lock
            refresh_lock.acquire({str(warehouse)!r})
            refresh_lock.claim_run({str(warehouse)!r}, "killed-run")
            print("ready", flush=True)
            time.sleep(600)
        """)
        assert json.loads(refresh_lock.lock_path(warehouse).read_text())["run_id"] == "killed-run"
        stop(holder)

        @dg.asset
        def touches(warehouse: WarehouseResource) -> None:
            with warehouse.get_connection() as con:
                con.execute("SELECT 1")

        result = dg.materialize(
            [touches],
            instance=instance,
            resources={"warehouse": WarehouseResource(database=str(warehouse))},
        )
        assert result.success
        killed = instance.get_run_by_id("killed-run")
        assert killed.status == DagsterRunStatus.FAILURE
        # the failure says why, and which run took over
        failure = next(
            e
            for e in instance.all_logs("killed-run")
            if e.dagster_event and e.dagster_event.event_type_value == "PIPELINE_FAILURE"
        )
        assert f"pid {holder.pid}" in failure.dagster_event.message
        assert result.run_id in failure.dagster_event.message
        # a second run has nothing to take over: the first one's end is not reported again
        assert dg.materialize(
            [touches],
            instance=instance,
            resources={"warehouse": WarehouseResource(database=str(warehouse))},
        ).success
        assert len([e for e in instance.all_logs("killed-run") if e.dagster_event]) == 1


def test_the_lock_is_reentrant_within_a_process(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    probe = [
        sys.executable,
        "-c",
        f"from dagster_project import refresh_lock; refresh_lock.acquire({str(warehouse)!r})",
    ]
    assert refresh_lock.acquire(warehouse) is None
    assert refresh_lock.acquire(warehouse) is None  # the run's resource, inside the CLI's hold
    refresh_lock.release(warehouse)
    still_held = subprocess.run(probe, check=False, capture_output=True, text=True)
    assert still_held.returncode != 0 and "another refresh is running" in still_held.stderr
    refresh_lock.release(warehouse)
    assert subprocess.run(probe, check=False, capture_output=True, text=True).returncode == 0


def test_a_waiting_holder_takes_the_lock_when_the_first_lets_go(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    refresh_lock.acquire(warehouse)
    waiter = hold_in_another_process(f"""
        from dagster_project import refresh_lock
        print("ready", flush=True)
        refresh_lock.acquire({str(warehouse)!r}, wait=True,
                             waiting=lambda holder: print("waiting for", holder.pid, flush=True))
        print("took it", flush=True)
    """)
    assert waiter.stdout.readline().split() == ["waiting", "for", str(os.getpid())]
    refresh_lock.release(warehouse)
    assert waiter.stdout.readline().strip() == "took it"
    assert waiter.wait(timeout=30) == 0


def test_duckdbs_own_lock_error_is_read_out_plainly(tmp_path, monkeypatch):
    # dagster-duckdb retries a refused connection for ~100 s before it gives up: once is enough here
    monkeypatch.setattr(
        "dagster_duckdb.resource.backoff", lambda fn, kwargs, **retries: fn(**kwargs)
    )
    warehouse = tmp_path / "warehouse.duckdb"
    holder = hold_in_another_process(f"""
        import duckdb, time
        con = duckdb.connect({str(warehouse)!r})
        print("ready", flush=True)
        time.sleep(600)
    """)
    try:
        with (
            pytest.raises(WarehouseInUse) as in_use,
            WarehouseResource(database=str(warehouse)).get_connection(),
        ):
            pass
    finally:
        stop(holder)
    message = str(in_use.value)
    assert (
        f"(pid {holder.pid})" in message
        and f"kill {holder.pid}" in message
        and "Could not set lock" not in message
    )
    assert isinstance(in_use.value.__cause__, duckdb.IOException)


def test_two_refreshes_at_once_the_second_says_so_and_the_first_succeeds(pipeline_env, capsys):
    copy_landing(HANDWRITTEN_LANDING, pipeline_env / "landing")
    first = subprocess.Popen(
        [sys.executable, "-m", "dagster_project.cli", "refresh"],
        cwd=pipeline_env,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(first.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    while not any("✓ landing" in line for line in lines):  # its run has started: it holds the lock
        assert first.poll() is None and time.monotonic() < deadline, "".join(lines)
        time.sleep(0.05)

    assert main(["refresh"]) == REFRESH_RUNNING_EXIT_CODE
    second = capsys.readouterr().out
    assert "another refresh is running since" in second and f"(pid {first.pid} on host" in second, (
        second
    )

    # a run Dagster starts itself (schedule, sensor, the UI's materialise) takes the same lock
    launched = subprocess.run(
        [
            os.path.join(os.path.dirname(sys.executable), "dagster"),
            "asset",
            "materialize",
            "-m",
            "dagster_project.definitions",
            "--select",
            "report",
        ],
        check=False,
        cwd=pipeline_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert launched.returncode != 0
    assert "another refresh is running since" in launched.stdout + launched.stderr

    assert main(["refresh", "--wait"]) == 0  # waits for the first, then runs
    waited = capsys.readouterr().out
    assert "Waiting for the refresh running since" in waited and "Refresh succeeded" in waited
    assert first.wait(timeout=300) == 0
    reader.join(timeout=10)
    assert "Refresh succeeded" in "".join(lines)
    for output in ("".join(lines), second, launched.stdout + launched.stderr, waited):
        assert "Could not set lock" not in output
