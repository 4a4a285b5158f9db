"""Where the report's published data comes from by default, and the http addresses its links use."""

import pytest

from dagster_project.settings import SettingsError, load_report_settings, load_settings
from forecast.published_extract import SHIPPED


def test_published_data_is_the_setting_else_the_landing_reference_else_the_shipped_copy(
    pipeline_env, monkeypatch
):
    monkeypatch.delenv("HIGHNEEDS_PUBLISHED", raising=False)
    # nothing downloaded: the copy shipped with highneeds
    assert load_report_settings().published == SHIPPED
    reference = pipeline_env / "landing" / "reference"
    (reference / "dfe").mkdir(parents=True)
    (reference / "edubasealldata20250109.csv").write_text("URN\n")
    # a GIAS extract alone is not the DfE's EHCP files
    assert load_report_settings().published == SHIPPED
    (reference / "dfe" / "caseload.csv").write_text("time_period\n")
    assert load_report_settings().published == reference  # the council's own download wins
    monkeypatch.setenv("HIGHNEEDS_PUBLISHED", str(pipeline_env / "elsewhere"))
    assert load_report_settings().published == pipeline_env / "elsewhere"


def test_report_links_are_http_addresses_of_the_served_report_folder(pipeline_env, monkeypatch):
    monkeypatch.delenv("HIGHNEEDS_REPORT_URL", raising=False)
    monkeypatch.setenv("HIGHNEEDS_REPORT_DIR", str(pipeline_env / "report"))
    report = load_report_settings()
    assert report.port == 3001
    assert (
        report.url_of(pipeline_env / "report" / "internal" / "report.html")
        == "http://127.0.0.1:3001/internal/report.html"
    )
    monkeypatch.setenv("HIGHNEEDS_REPORT_URL", "https://highneeds.council.example/report/")
    assert load_report_settings().url_of(
        pipeline_env / "report" / "publication" / "report.html"
    ) == ("https://highneeds.council.example/report/publication/report.html")
    monkeypatch.setenv("HIGHNEEDS_REPORT_PORT", "http")
    with pytest.raises(SettingsError, match="HIGHNEEDS_REPORT_PORT"):
        load_report_settings()


def test_automation_is_off_unless_switched_on(pipeline_env, monkeypatch):
    monkeypatch.delenv("HIGHNEEDS_AUTOMATION", raising=False)
    assert load_settings().automation is False
    monkeypatch.setenv("HIGHNEEDS_AUTOMATION", "on")
    assert load_settings().automation is True
    monkeypatch.setenv("HIGHNEEDS_AUTOMATION", "yes")
    with pytest.raises(SettingsError, match="HIGHNEEDS_AUTOMATION"):
        load_settings()


def test_the_councils_own_name_reaches_the_reports_headings(pipeline_env, monkeypatch):
    from report.build import _benchmarks

    monkeypatch.setenv("HIGHNEEDS_LA_CODE", "869")
    monkeypatch.delenv("HIGHNEEDS_COUNCIL_NAME", raising=False)
    options = load_report_settings().options()
    assert options.council_name is None
    assert _benchmarks(options)[0].name == "West Berkshire"  # the DfE's name for the code
    monkeypatch.setenv("HIGHNEEDS_COUNCIL_NAME", "West Berkshire Council")
    options = load_report_settings().options()
    bench, _ = _benchmarks(options)
    assert (bench.name, bench.code) == ("West Berkshire Council", "869")
