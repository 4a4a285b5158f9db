"""Finding a refresh's child processes (to stop them) while they come and go, and following
the run's steps while Dagster writes them."""

import io
import threading
from pathlib import Path
from types import SimpleNamespace

from rich.console import Console

from dagster_project.cli.runner import _follow_steps, descendants


def test_a_process_that_ends_while_its_children_are_listed_has_none(monkeypatch):
    """/proc/<pid>/task can go between pathlib's check that it is there and its listing: that
    raised FileNotFoundError out of a refresh being stopped (and out of a test's wait)."""

    def gone(self, pattern):
        raise FileNotFoundError(2, "No such file or directory", str(self))

    monkeypatch.setattr(Path, "glob", gone)
    assert descendants(12345) == []


def _step_record(event_type, step_key: str, timestamp: float):
    event = SimpleNamespace(event_type=event_type, step_key=step_key)
    return SimpleNamespace(
        event_log_entry=SimpleNamespace(dagster_event=event, timestamp=timestamp)
    )


class _FlakyEventLog:
    """Dagster's SQLite event log, read while the run writes to it: the first read raises the
    SQLAlchemy error seen in a refresh ("deque mutated during iteration"), later reads answer
    from the cursor given."""

    def __init__(self, records, finished: threading.Event):
        self.records, self.finished, self.reads = records, finished, 0

    def get_records_for_run(self, run_id, cursor=None, of_type=None):
        self.reads += 1
        if self.reads == 1:
            raise RuntimeError("deque mutated during iteration")
        start = int(cursor or 0)
        self.finished.set()  # the run ends while the steps are read back
        return SimpleNamespace(records=self.records[start:], cursor=str(len(self.records)))


def test_a_failed_read_of_the_event_log_does_not_stop_the_steps_being_printed():
    """The thread printing each step died on one failed read of the event log, and every step
    after it went unprinted: a failed read is tried again from the same cursor."""
    import dagster as dg

    finished = threading.Event()
    log = _FlakyEventLog(
        [
            _step_record(dg.DagsterEventType.STEP_START, "forecast_tables_asset", 10.0),
            _step_record(dg.DagsterEventType.STEP_SUCCESS, "forecast_tables_asset", 12.5),
            _step_record(dg.DagsterEventType.STEP_FAILURE, "serving__publish", 13.0),
        ],
        finished,
    )
    console = Console(file=io.StringIO(), width=200)
    _follow_steps(log, "run", finished, console)
    printed = console.file.getvalue()
    assert "✓ forecast 2.5s" in printed
    assert "✗ publish to serving" in printed
    assert log.reads >= 2


def test_an_event_log_that_cannot_be_read_after_the_run_ends_the_printing_with_a_note():
    """After the run, a read that keeps failing is given up with a note, not tried for ever."""

    class Unreadable:
        def get_records_for_run(self, run_id, cursor=None, of_type=None):
            raise RuntimeError("database is locked")

    finished = threading.Event()
    finished.set()
    console = Console(file=io.StringIO(), width=200)
    _follow_steps(Unreadable(), "run", finished, console)
    assert "could not be read back (database is locked)" in console.file.getvalue()
