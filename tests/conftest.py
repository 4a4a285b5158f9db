"""Shared test helpers: paths, the public reference data, and a pipeline environment."""

import contextlib
import io
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
HANDWRITTEN_LANDING = FIXTURES / "handwritten"
REFERENCE_DATA = REPO_ROOT.parent / "shared" / "reference-data"
TEST_KEY = "test-pseudonym-key-of-at-least-32-bytes"


def reference_file(relative: str, download_hint: str) -> Path:
    """A file of the public DfE reference data; skip (fail under CI=true) when it is absent."""
    path = REFERENCE_DATA / relative
    if not path.exists():
        message = (
            f"{path} is missing: download {download_hint} into ../shared/reference-data/{relative}"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


# How pytest-xdist shares the tests between its two workers (`--dist loadfile
# --no-loadscope-reorder`, with the scheduler below): a test file goes to one worker, so its module
# fixtures run once; the files that share a session fixture go to one worker together, so it runs
# once (one demo, one hand-written warehouse, not one on each worker); and the files whose tests
# each refresh on their own split test by test. The slowest go first, so that neither worker is
# left alone with a four-minute file at the end while the other idles (xdist's own order puts the
# files with the fewest tests last); the rest follow in collection order. The costs are measured
# ones (`pytest --durations=40`): re-measure when a test file gains or loses refreshes.
SHARED_SESSION_FIXTURE = {
    "tests/e2e/test_demo.py": "demo_run",
    "tests/e2e/test_dictionary.py": "demo_run",
    "tests/e2e/test_report.py": "demo_run",
    "tests/e2e/test_workbook.py": "demo_run",
    "tests/dbt/test_gates.py": "built_warehouse",
    "tests/dbt/test_marts.py": "built_warehouse",
    "tests/dbt/test_unit_tests.py": "built_warehouse",
}
TEST_BY_TEST = ("tests/e2e/test_sen2.py",)
SLOWEST_FIRST = (
    "tests/faults/test_kill.py",
    "tests/e2e/test_many_councils.py",
    "tests/e2e/test_sen2.py",
    "tests/e2e/test_reloads.py",
    "tests/dbt/test_incremental_ledger.py",
    "tests/e2e/test_serving_concurrency.py",
    "tests/faults/test_one_refresh.py",
    "tests/faults/test_disk_full.py",
    "tests/faults/test_trust.py",
    "tests/e2e/test_refresh.py",
    "tests/e2e/test_demo.py",
    "tests/e2e/test_dictionary.py",
    "tests/e2e/test_report.py",
    "tests/e2e/test_workbook.py",
    "tests/e2e/test_serving.py",
    "tests/e2e/test_audit.py",
    "tests/e2e/test_corpus_refresh.py",
    "tests/dbt/test_unit_tests.py",
    "tests/dbt/test_gates.py",
    "tests/dbt/test_marts.py",
    "tests/unit/test_aggregate.py",
)


def file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(items):
    rank = {path: number for number, path in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(file_of(item.nodeid), len(rank)))


def pytest_xdist_make_scheduler(config, log):
    """`--dist loadfile`, but with the files of a session fixture together and the files of
    TEST_BY_TEST split (xdist's own `loadgroup` cannot mark them under pytest 9)."""
    from xdist.scheduler import LoadFileScheduling

    class Scheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = file_of(nodeid)
            return nodeid if path in TEST_BY_TEST else SHARED_SESSION_FIXTURE.get(path, path)

    return Scheduling(config, log) if config.getoption("dist") == "loadfile" else None


@pytest.fixture(autouse=True)
def outside_the_checkout(tmp_path, monkeypatch):
    """Run every test from a temp folder, so a developer's .env never leaks into a test."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def pipeline_env(tmp_path, monkeypatch):
    """Settings pointing at a fresh landing folder, warehouse and Dagster home under tmp_path."""
    return set_pipeline_env(tmp_path, monkeypatch)


def set_pipeline_env(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """pipeline_env's settings under `folder`, for a fixture of a wider scope."""
    landing = folder / "landing"
    landing.mkdir()
    home = folder / "dagster_home"
    values = {
        "HIGHNEEDS_LANDING": str(landing),
        "HIGHNEEDS_WAREHOUSE": str(folder / "warehouse.duckdb"),
        "HIGHNEEDS_SERVING": str(folder / "serving.duckdb"),
        "HIGHNEEDS_PSEUDONYM_KEY": TEST_KEY,
        "HIGHNEEDS_SIMULATIONS": "500",
        "DAGSTER_HOME": str(home),
    }
    for name in (
        "HIGHNEEDS_MITIGATIONS",
        "HIGHNEEDS_HORIZON",
        "HIGHNEEDS_RECOVER_BY",
        "HIGHNEEDS_QUARANTINE_TOLERANCE",
        "HIGHNEEDS_EXTRACT_DATE",
        "HIGHNEEDS_SEN2_CHILD_ID",
        "HIGHNEEDS_SEN2_ID_MAP",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return folder


def copy_landing(source: Path, landing: Path) -> Path:
    shutil.copytree(source, landing, dirs_exist_ok=True)
    return landing


@dataclass
class DemoRun:
    folder: Path
    environment: dict[str, str]
    exit_code: int
    output: str

    @property
    def warehouse(self) -> Path:
        return Path(self.environment["HIGHNEEDS_WAREHOUSE"])

    @property
    def report(self) -> Path:
        return self.warehouse.parent / "report"


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> DemoRun:
    """One `highneeds demo` (synthetic council → refresh → summary and report) shared by every test
    that reads its warehouse, report or run history: a refresh costs a minute."""
    from dagster_project.cli import main

    folder = tmp_path_factory.mktemp("demo")
    environment = {
        "HIGHNEEDS_LANDING": str(folder / "landing"),
        "HIGHNEEDS_WAREHOUSE": str(folder / "warehouse.duckdb"),
        "HIGHNEEDS_SERVING": str(folder / "serving.duckdb"),
        "HIGHNEEDS_SIMULATIONS": "500",
        "DAGSTER_HOME": str(folder / "dagster_home"),
    }
    # the demo reads its key from .env and brings its council code (and says so); the others take
    # their defaults
    cleared = (
        "HIGHNEEDS_PSEUDONYM_KEY",
        "HIGHNEEDS_LA_CODE",
        "HIGHNEEDS_MITIGATIONS",
        "HIGHNEEDS_HORIZON",
        "HIGHNEEDS_RECOVER_BY",
        "HIGHNEEDS_QUARANTINE_TOLERANCE",
        "HIGHNEEDS_EXTRACT_DATE",
        "HIGHNEEDS_REPORT_DIR",
        "HIGHNEEDS_PUBLISHED",
        "HIGHNEEDS_NEIGHBOURS",
        "HIGHNEEDS_SUPPRESSION_THRESHOLD",
    )
    # as `make setup` leaves it before `make demo`: a .env holding a random key
    (folder / ".env").write_text(f"HIGHNEEDS_PSEUDONYM_KEY={secrets.token_urlsafe(32)}\n")
    output = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        # set first, so the undo removes what the demo itself puts in os.environ
        for name in cleared:
            patch.setenv(name, "")
            patch.delenv(name)
        for name, value in environment.items():
            patch.setenv(name, value)
        with contextlib.redirect_stdout(output):
            exit_code = main(["demo"])
    return DemoRun(folder, environment, exit_code, output.getvalue())
