"""Finding a refresh's child processes (to stop them) while they come and go."""

from pathlib import Path

from dagster_project.cli.runner import descendants


def test_a_process_that_ends_while_its_children_are_listed_has_none(monkeypatch):
    """/proc/<pid>/task can go between pathlib's check that it is there and its listing: that
    raised FileNotFoundError out of a refresh being stopped (and out of a test's wait)."""

    def gone(self, pattern):
        raise FileNotFoundError(2, "No such file or directory", str(self))

    monkeypatch.setattr(Path, "glob", gone)
    assert descendants(12345) == []
