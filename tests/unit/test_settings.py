"""Settings read from the environment and .env: invalid values are refused with the variable's
name, nothing writes them back into the environment, and the DuckDB memory cap, threads and spill
folder reach every warehouse connection of a refresh and dbt's (on its command line)."""

import os
import re
from pathlib import Path

import duckdb
import pytest
import yaml

from dagster_project.resources import WarehouseResource, build_resources
from dagster_project.settings import (
    DBT_PROJECT_DIR,
    SettingsError,
    load_report_settings,
    load_settings,
    write_new_key_to_dotenv,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SETTINGS_OF = ("HIGHNEEDS_", "DAGSTER_HOME")


@pytest.fixture
def environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("HIGHNEEDS_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    return monkeypatch


def settings_in_environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name.startswith(SETTINGS_OF)}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HIGHNEEDS_QUARANTINE_TOLERANCE", "1"),
        ("HIGHNEEDS_QUARANTINE_MONEY_TOLERANCE", "0.5"),
        ("HIGHNEEDS_UNLINKED_TOLERANCE", "5"),
        ("HIGHNEEDS_QUARANTINE_TOLERANCE", "-0.01"),
    ],
)
def test_a_tolerance_typed_as_a_percentage_is_refused(environment, name, value):
    """`1` meaning 1 % let every bad row wait in quarantine: a ledger's £5.6m of unreadable
    amounts on a green run, the year's spend and balance £5.3m short."""
    environment.setenv(name, value)
    with pytest.raises(
        SettingsError, match=f"{name}='{value}' would let .* a tolerance is a share"
    ):
        load_settings()
    environment.setenv(name, "0.02")
    load_settings()


@pytest.mark.parametrize("value", ["lots", "4", "4 GBs", "-1GB", "4GB; DROP TABLE x"])
def test_a_memory_limit_that_is_not_a_size_is_refused_by_name(environment, value):
    environment.setenv("HIGHNEEDS_DUCKDB_MEMORY_LIMIT", value)
    with pytest.raises(SettingsError, match="HIGHNEEDS_DUCKDB_MEMORY_LIMIT"):
        load_settings()


def test_duckdb_threads_must_be_a_whole_number(environment):
    environment.setenv("HIGHNEEDS_DUCKDB_THREADS", "0")
    with pytest.raises(SettingsError, match="HIGHNEEDS_DUCKDB_THREADS"):
        load_settings()
    environment.setenv("HIGHNEEDS_DUCKDB_THREADS", "1")
    assert load_settings().duckdb_threads == 1


def test_the_memory_limit_caps_each_warehouse_connection_and_reaches_dbt(environment, tmp_path):
    environment.setenv("HIGHNEEDS_DUCKDB_MEMORY_LIMIT", "1500MB")
    environment.setenv("HIGHNEEDS_DUCKDB_THREADS", "1")
    settings = load_settings()
    warehouse = build_resources(settings)["warehouse"]
    with warehouse.get_connection() as con:
        limit, threads, spill = con.execute(
            "SELECT current_setting('memory_limit'), current_setting('threads'), "
            "current_setting('temp_directory')"
        ).fetchone()
    with duckdb.connect() as default:
        default_limit = default.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        default.execute("SET memory_limit = '1500MB'")
        assert (
            limit
            == default.execute("SELECT current_setting('memory_limit')").fetchone()[0]
            != default_limit
        )
    assert threads == 1 and spill == str(tmp_path / "warehouse.duckdb.tmp")
    # the CLI's read-only connections (summary, trace, report) come from the same factory
    with settings.connect_warehouse(read_only=True) as con:
        assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == limit
    profile = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text())["highneeds"][
        "outputs"
    ]["warehouse"]
    assert "highneeds_duckdb_memory_limit" in profile["settings"]["memory_limit"]
    assert settings.dbt_vars()["highneeds_duckdb_memory_limit"] == "1500MB"


def test_a_warehouse_resource_of_its_own_has_duckdbs_defaults_but_the_cap(tmp_path):
    warehouse = WarehouseResource(database=str(tmp_path / "w.duckdb"), memory_limit="1GB")
    with warehouse.get_connection() as con:
        spill = con.execute("SELECT current_setting('temp_directory')").fetchone()[0]
    assert spill == str(tmp_path / "w.duckdb.tmp")


def test_dbt_gets_the_settings_on_its_command_line_not_from_the_environment(environment, tmp_path):
    environment.delenv("HIGHNEEDS_WAREHOUSE")
    (tmp_path / ".env").write_text(f"HIGHNEEDS_WAREHOUSE={tmp_path / 'from_dotenv.duckdb'}\n")
    before = settings_in_environment()
    dbt = build_resources(load_settings())["dbt"]
    invocation = dbt.cli(["debug"], raise_on_error=False, target_path=tmp_path / "target")
    invocation.wait()
    assert invocation.is_successful(), invocation.get_error()
    assert (tmp_path / "from_dotenv.duckdb").exists()  # dbt connected to the warehouse .env names
    assert settings_in_environment() == before


def test_settings_come_from_dotenv_and_the_environment_and_are_never_written_back(
    environment, tmp_path
):
    environment.delenv("HIGHNEEDS_WAREHOUSE")
    environment.delenv("HIGHNEEDS_LA_CODE", raising=False)
    environment.setenv("HIGHNEEDS_LANDING", "")  # set but empty: unset, so .env's holds
    environment.setenv("HIGHNEEDS_SERVING", str(tmp_path / "from_environment.duckdb"))
    (tmp_path / ".env").write_text(
        "HIGHNEEDS_LANDING=landing_from_dotenv\nHIGHNEEDS_SERVING=serving_from_dotenv.duckdb\n"
        "HIGHNEEDS_WAREHOUSE=wh/warehouse.duckdb\nHIGHNEEDS_LA_CODE=869\n"
    )
    before = dict(os.environ)
    settings = load_settings()
    assert dict(os.environ) == before
    assert settings.landing == tmp_path / "landing_from_dotenv"
    assert settings.serving == tmp_path / "from_environment.duckdb"  # the environment wins
    assert settings.warehouse == tmp_path / "wh" / "warehouse.duckdb"
    assert settings.report_dir == tmp_path / "wh" / "report"
    assert load_report_settings(settings).la_code == "869"
    assert "pseudonym_key" not in repr(settings) and "variables" not in repr(settings)


def test_child_processes_get_the_settings_with_absolute_paths(environment, tmp_path):
    environment.setenv("HIGHNEEDS_LANDING", "relative/landing")
    environment.setenv("HIGHNEEDS_EXTRACT_DATE", "2025-03-31")
    environment.delenv("HIGHNEEDS_LA_CODE", raising=False)
    environment.delenv("DAGSTER_HOME", raising=False)
    settings = load_settings().with_la_code("869")
    child = settings.environment()
    assert child["HIGHNEEDS_LANDING"] == str(tmp_path / "relative" / "landing")
    assert child["DAGSTER_HOME"] == str(tmp_path / "data" / "dagster_home")
    assert child["HIGHNEEDS_EXTRACT_DATE"] == "2025-03-31" and child["HIGHNEEDS_LA_CODE"] == "869"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    environment.chdir(elsewhere)
    again = load_settings(environ=child)
    assert (again.landing, again.warehouse) == (settings.landing, settings.warehouse)
    assert again.la_code == "869"


def test_nothing_outside_the_settings_writes_a_setting_into_the_environment():
    writes = re.compile(
        r"os\.environ\[[^\]]+\]\s*=(?!=)|os\.environ\.(update|setdefault|pop)\(|putenv\("
    )
    found = [
        f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}"
        for package in (
            "dagster_project",
            "ingest",
            "forecast",
            "serving",
            "synthetic",
            "checks",
            "report",
        )
        for path in sorted((REPO_ROOT / package).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        # Great Expectations' telemetry switch (checks/gates.py) is a library's, not a setting
        if writes.search(line) and "GX_ANALYTICS_ENABLED" not in line
    ]
    assert not found


def test_a_warehouse_is_opened_only_by_the_factory():
    opened = re.compile(r"duckdb\.connect\((?!\))")  # duckdb.connect() alone: in memory
    found = [
        f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}"
        for path in sorted((REPO_ROOT / "dagster_project").rglob("*.py"))
        if path.name != "warehouse.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if opened.search(line)
    ]
    assert not found


def test_a_short_pseudonym_key_is_refused_by_name(environment):
    environment.setenv("HIGHNEEDS_PSEUDONYM_KEY", "x" * 31)
    with pytest.raises(
        SettingsError, match="HIGHNEEDS_PSEUDONYM_KEY is 31 bytes long: a key must be at least 32"
    ):
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
    assert "HIGHNEEDS_PSEUDONYM_KEY" not in os.environ  # read from .env, not put in the environment
    assert oct(dotenv.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(SettingsError, match="already sets HIGHNEEDS_PSEUDONYM_KEY"):
        write_new_key_to_dotenv(dotenv)


def test_a_refresh_with_other_forecast_settings_says_so_in_its_summary(environment, tmp_path):
    """`make demo` forecast with the demo's settings; the next plain `highneeds refresh` used the
    defaults and moved the deficit from −£34.3m to −£25.4m with "0 new finance files" the only
    word said. meta.publication records what the forecast ran with, and the summary compares."""
    from rich.console import Console

    from dagster_project.cli.runner import RefreshOutcome
    from dagster_project.cli.summary import _print_settings_changed
    from dagster_project.settings import DEMO_FORECAST_SETTINGS

    mitigations = tmp_path / "mitigations.yml"
    mitigations.write_text("mitigations: []\n")
    environment.setenv("HIGHNEEDS_MITIGATIONS", str(mitigations))
    plain = load_settings()
    demo = plain.with_forecast_settings(DEMO_FORECAST_SETTINGS)
    described, digest = demo.forecast_fingerprint()
    assert described.startswith("forecast/config/demo.forecast.yml; mitigations ")
    assert "horizon 2028-29" in described
    assert plain.forecast_fingerprint()[1] != digest
    assert load_settings().forecast_fingerprint() == plain.forecast_fingerprint()
    environment.setenv("HIGHNEEDS_HORIZON", "2030-31")
    assert load_settings().forecast_fingerprint()[1] != plain.forecast_fingerprint()[1]
    first = plain.forecast_fingerprint()
    mitigations.write_text("mitigations: []\n# edited\n")  # the same file, other contents
    edited = plain.forecast_fingerprint()
    assert edited[0] == first[0] and edited[1] != first[1]

    def said(previous, settings=plain) -> str:
        console = Console(record=True, width=300)
        outcome = RefreshOutcome(success=True, run_id="r2", published={"version_id": "v2"})
        _print_settings_changed(settings, outcome, console, previous)
        return console.export_text()

    described, digest = demo.forecast_fingerprint()  # (the mitigations file as it is now)
    before = {
        "version_id": "v1",
        "forecast_settings": described,
        "forecast_settings_sha256": digest,
    }
    text = said(before)
    assert "The forecast's settings changed since the version this one replaces (v1)" in text
    assert "before: forecast/config/demo.forecast.yml" in text
    assert "now:    forecast/config/forecast.yml" in text
    assert said(before, demo) == ""  # the same settings: nothing to say
    assert said({**before, "forecast_settings_sha256": None}) == ""  # a file from before it
    assert said(None) == ""


def test_a_councils_own_mitigation_log_is_named_and_hashed_in_what_the_forecast_ran_with(
    environment, tmp_path
):
    """A council's own mitigations.yml moved its mitigated figures while meta.publication named
    and hashed the shared example: an auditor was told the wrong log, and editing the council's
    own said nothing changed."""
    landing = tmp_path / "landing"
    for code in ("869", "825"):
        (landing / code / "ehcp").mkdir(parents=True)
        (landing / code / "ehcp" / "plans.csv").write_text("child_id\n")
    environment.setenv("HIGHNEEDS_LANDING", str(landing))
    shared_only = load_settings().forecast_fingerprint()
    own = landing / "825" / "mitigations.yml"
    own.write_text("mitigations: []\n")
    described, digest = load_settings().forecast_fingerprint()
    assert f"mitigations 825 {own}, the others forecast/config/" in described
    assert digest != shared_only[1]
    own.write_text("mitigations: []\n# edited\n")
    assert load_settings().forecast_fingerprint()[1] != digest
    assert load_settings().mitigation_logs()["825"] == own
    # one council's landing folder with its own log
    single = tmp_path / "single"
    single.mkdir()
    (single / "mitigations.yml").write_text("mitigations: []\n")
    environment.setenv("HIGHNEEDS_LANDING", str(single))
    described, _ = load_settings().forecast_fingerprint()
    assert f"mitigations {single / 'mitigations.yml'};" in described
    # the summary says when a council's mitigated scenarios are the shipped example's
    from rich.console import Console

    from dagster_project.cli.summary import _print_example_mitigations

    def said(held=(), not_applied=None) -> str:
        console = Console(record=True, width=300)
        _print_example_mitigations(load_settings(), console, held, not_applied)
        return console.export_text()

    assert said() == ""  # its own log
    environment.setenv("HIGHNEEDS_LANDING", str(landing))
    environment.delenv("HIGHNEEDS_MITIGATIONS", raising=False)
    assert "The mitigated scenarios for 869 apply the shipped example mitigation log" in said()
    # a council held at its last good figures published no forecast this run: not named
    own.unlink()
    assert "for 825, 869 apply" in said()
    assert "for 869 apply" in said(held=["825"])
    assert said(held=["825", "869"]) == ""
    # the example's mitigations a council could not price are named under it (forecast.assumptions)
    import duckdb

    from dagster_project.cli.summary import _example_not_applied
    from forecast.mitigations import EXAMPLE_SOURCE

    con = duckdb.connect()
    con.execute("CREATE SCHEMA forecast")
    con.execute(
        "CREATE TABLE forecast.assumptions (la_code VARCHAR, assumption VARCHAR, source VARCHAR)"
    )
    skipped = "'Resourced places' not applied here: no unit cost for mainstream_rp_unit"
    con.execute(
        "INSERT INTO forecast.assumptions VALUES ('825', 'mitigation_log', ?), "
        "('869', 'mitigation_log', ?), ('869', 'other', ?)",
        [f"{EXAMPLE_SOURCE}; {skipped}", EXAMPLE_SOURCE, f"{EXAMPLE_SOURCE}; x"],
    )
    not_applied = _example_not_applied(con)
    assert not_applied == {"825": skipped}
    assert f"\n    825: {skipped}\n" in said(not_applied=not_applied)
    assert "825:" not in said(held=["825"], not_applied=not_applied)
