"""`highneeds demo`: a synthetic council, generated and refreshed end to end (the README's first command)."""

import duckdb

from dagster_project.cli import main


def test_demo_generates_refreshes_and_forecasts_to_the_horizon(pipeline_env, monkeypatch, capsys):
    monkeypatch.delenv("HIGHNEEDS_PSEUDONYM_KEY")  # the demo brings its own (and says so)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "demo pseudonymisation key" in out and "Refresh succeeded" in out
    assert "Spend and caseload by provision" in out and "Cumulative high needs balance at end of 2028-29" in out
    with duckdb.connect(str(pipeline_env / "warehouse.duckdb"), read_only=True) as con:
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
