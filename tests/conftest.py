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
