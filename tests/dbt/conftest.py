"""A warehouse built from the hand-written landing fixture: ingest library, then `dbt build`."""

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from dagster_project.settings import DEFAULT_DUCKDB_MEMORY_LIMIT, dbt_vars
from ingest.contracts import EXTRACTS
from ingest.load import load_extract
from tests.conftest import HANDWRITTEN_LANDING, REPO_ROOT, TEST_KEY

DBT = str(Path(sys.executable).parent / "dbt")


def dbt_build(
    warehouse: Path, *args: str, extra_vars: dict | None = None
) -> subprocess.CompletedProcess:
    """`dbt build` of the project (or what `args`, e.g. `--select`, choose) on `warehouse`, with
    `extra_vars` beside the profile's (e.g. the ledger's increment)."""
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    project = REPO_ROOT / "dbt"
    variables = json.dumps(
        {
            **dbt_vars(warehouse, DEFAULT_DUCKDB_MEMORY_LIMIT, os.cpu_count() or 1),
            **(extra_vars or {}),
        }
    )
    return subprocess.run(
        [
            DBT,
            "build",
            *args,
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--target-path",
            str(warehouse.parent / "dbt-target"),
            "--vars",
            variables,
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def ingest(warehouse: Path, landing: Path, on: dt.date = dt.date(2026, 3, 31)) -> None:
    """Every extract of `landing` loaded into `warehouse` as a refresh on the day `on` would."""
    with duckdb.connect(str(warehouse)) as con:
        for extract in EXTRACTS.values():
            load_extract(con, extract, landing, "test-load", TEST_KEY, on)


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("handwritten_warehouse")
    warehouse = folder / "warehouse.duckdb"
    ingest(warehouse, HANDWRITTEN_LANDING)
    completed = dbt_build(warehouse)
    assert completed.returncode == 0, completed.stdout[-4000:]
    return warehouse


@pytest.fixture
def warehouse_copy(built_warehouse, tmp_path) -> Path:
    """A writable copy, for tests that tamper with the warehouse to make a gate fail."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built_warehouse, copy)
    return copy
