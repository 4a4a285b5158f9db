"""`highneeds demo`: a synthetic council, generated and refreshed end to end (the README's first command)."""

import duckdb


def test_demo_generates_refreshes_and_forecasts_to_the_horizon(demo_run):
    assert demo_run.exit_code == 0, demo_run.output[-3000:]
    out = demo_run.output
    assert "demo pseudonymisation key" in out and "Refresh succeeded" in out
    assert "Spend and caseload by provision" in out and "Cumulative high needs balance at end of 2028-29" in out
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        for mart in ("fct_provision_spend", "fct_ehcp_cohort", "fct_ehcp_flows", "fct_provision_starts", "fct_hnb_position"):
            assert con.execute(f"SELECT count(*) FROM marts.{mart}").fetchone()[0] > 0, mart
        # the default council follows West Berkshire's published caseload
        assert con.execute("SELECT sum(plans) FROM marts.fct_ehcp_cohort WHERE census_year = 2025").fetchone()[0] == 1685
        years = con.execute(
            "SELECT scenario, count(DISTINCT financial_year), max(financial_year) FROM forecast.spend GROUP BY 1 ORDER BY 1"
        ).fetchall()
        assert years == [("mitigated", 3, "2028-29"), ("unmitigated", 3, "2028-29")]
        # the synthetic council runs a growing deficit: the forecast must show it
        assert con.execute(
            "SELECT cumulative_balance_gbp_p50 FROM forecast.hnb_position WHERE scenario = 'unmitigated' AND financial_year = '2028-29'"
        ).fetchone()[0] < 0


def test_demo_writes_the_report_and_says_where(demo_run):
    out = " ".join(demo_run.output.split())  # the console wraps long lines
    internal = demo_run.report / "internal" / "report.html"
    publication = demo_run.report / "publication" / "report.html"
    assert f"Report: {internal} (internal), {publication} (for publication)" in out
    assert "benchmarking as West Berkshire (HIGHNEEDS_LA_CODE=869)" in out
    for audience in ("internal", "publication"):
        folder = demo_run.report / audience
        assert (folder / "report.html").stat().st_size > 100_000
        assert (folder / "workbook.xlsx").stat().st_size > 10_000
        assert len(list((folder / "charts").glob("*.png"))) == 13  # no benchmarks: the demo has no DfE files
    # without the DfE's files the benchmark section says what to download, and the demo says where
    assert "Benchmarks: put the DfE's published files" in out
    assert "no published data folder at" in internal.read_text()
