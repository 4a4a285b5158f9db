"""Fixtures the end-to-end tests of the demo's report and workbook share."""

import duckdb
import pytest


@pytest.fixture(scope="module")
def demo(demo_run):
    """The shared demo run (tests/conftest.py), which must have succeeded."""
    assert demo_run.exit_code == 0, demo_run.output[-3000:]
    return demo_run


@pytest.fixture(scope="module")
def con(demo):
    """The demo's warehouse, read-only."""
    with duckdb.connect(str(demo.warehouse), read_only=True) as connection:
        yield connection
