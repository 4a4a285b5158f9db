"""Settings read from the environment: invalid values are refused with the variable's name, and
the DuckDB memory cap reaches every warehouse connection of a refresh and dbt's profile."""

import duckdb
import pytest
import yaml

from dagster_project.resources import WarehouseResource
from dagster_project.settings import (
    DBT_PROJECT_DIR,
    SettingsError,
    load_settings,
    write_new_key_to_dotenv,
)


@pytest.fixture
def environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("HIGHNEEDS_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    return monkeypatch


@pytest.mark.parametrize("value", ["lots", "4", "4 GBs", "-1GB", "4GB; DROP TABLE x"])
def test_a_memory_limit_that_is_not_a_size_is_refused_by_name(environment, value):
    environment.setenv("HIGHNEEDS_DUCKDB_MEMORY_LIMIT", value)
    with pytest.raises(SettingsError, match="HIGHNEEDS_DUCKDB_MEMORY_LIMIT"):
        load_settings()


def test_the_memory_limit_caps_each_warehouse_connection_and_reaches_dbt(environment, tmp_path):
    environment.setenv("HIGHNEEDS_DUCKDB_MEMORY_LIMIT", "1500MB")
    settings = load_settings()
    settings.export()
    warehouse = WarehouseResource(database=str(settings.warehouse), memory_limit=settings.duckdb_memory_limit)
    with warehouse.get_connection() as con:
        limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    with duckdb.connect() as default:
        default_limit = default.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        default.execute("SET memory_limit = '1500MB'")
        assert limit == default.execute("SELECT current_setting('memory_limit')").fetchone()[0] != default_limit
    profile = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text())["highneeds"]["outputs"]["warehouse"]
    assert "HIGHNEEDS_DUCKDB_MEMORY_LIMIT" in profile["settings"]["memory_limit"]


def test_a_short_pseudonym_key_is_refused_by_name(environment):
    environment.setenv("HIGHNEEDS_PSEUDONYM_KEY", "x" * 31)
    with pytest.raises(SettingsError, match="HIGHNEEDS_PSEUDONYM_KEY is 31 bytes long: a key must be at least 32"):
        load_settings().require_pseudonym_key()
    environment.setenv("HIGHNEEDS_PSEUDONYM_KEY", "x" * 32)
    assert load_settings().require_pseudonym_key() == "x" * 32


def test_a_new_key_fills_the_empty_line_of_dotenv_and_never_replaces_a_key(environment, tmp_path):
    environment.delenv("HIGHNEEDS_PSEUDONYM_KEY", raising=False)
    dotenv = tmp_path / ".env"
    dotenv.write_text("HIGHNEEDS_LANDING=data/landing\nHIGHNEEDS_PSEUDONYM_KEY=\n")
    write_new_key_to_dotenv(dotenv)
    lines = dotenv.read_text().splitlines()
    assert lines[0] == "HIGHNEEDS_LANDING=data/landing" and len(lines) == 2
    key = lines[1].removeprefix("HIGHNEEDS_PSEUDONYM_KEY=")
    assert len(key) >= 43 and load_settings().require_pseudonym_key() == key  # 32 random bytes
    assert oct(dotenv.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(SettingsError, match="already sets HIGHNEEDS_PSEUDONYM_KEY"):
        write_new_key_to_dotenv(dotenv)
