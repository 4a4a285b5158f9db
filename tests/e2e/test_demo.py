"""`highneeds demo`: a synthetic council, generated and refreshed end to end
(the README's first command)."""

import duckdb


def test_demo_generates_refreshes_and_forecasts_to_the_horizon(demo_run):
    assert demo_run.exit_code == 0, demo_run.output[-3000:]
    out = demo_run.output
    assert "Refresh succeeded" in out
    # it used the key `make setup` wrote
    assert "wrote a new random HIGHNEEDS_PSEUDONYM_KEY" not in out
    assert (
        "Spend and caseload by provision" in out
        and "Cumulative high needs balance at end of 2028-29" in out
    )
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        for mart in (
            "fct_provision_spend",
            "fct_ehcp_cohort",
            "fct_ehcp_flows",
            "fct_provision_starts",
            "fct_hnb_position",
        ):
            assert con.execute(f"SELECT count(*) FROM marts.{mart}").fetchone()[0] > 0, mart
        # the default council follows West Berkshire's published caseload
        assert (
            con.execute(
                "SELECT sum(plans) FROM marts.fct_ehcp_cohort WHERE census_year = 2025"
            ).fetchone()[0]
            == 1685
        )
        years = con.execute(
            "SELECT scenario, count(DISTINCT financial_year), max(financial_year) "
            "FROM forecast.spend GROUP BY 1 ORDER BY 1"
        ).fetchall()
        assert years == [("mitigated", 3, "2028-29"), ("unmitigated", 3, "2028-29")]
        # the synthetic council runs a growing deficit: the forecast must show it
        assert (
            con.execute(
                "SELECT cumulative_balance_gbp_p50 FROM forecast.hnb_position "
                "WHERE scenario = 'unmitigated' AND financial_year = '2028-29'"
            ).fetchone()[0]
            < 0
        )


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
        charts = [p.name for p in (folder / "charts").glob("*.png")]
        # the benchmark charts included: filled from the DfE figures shipped with highneeds
        assert len(charts) == 16 and len([name for name in charts if "benchmarks" in name]) == 2
    # the benchmark section is filled from the shipped copy out of the box, and the demo says so
    assert "Benchmarks: from the DfE's published figures shipped with highneeds" in out
    html = internal.read_text()
    assert (
        "High needs block diagnostic: West Berkshire (869)" in html
        and "no published data folder at" not in html
    )


def test_a_refresh_after_the_demo_uses_the_demos_key(demo_run, tmp_path, monkeypatch, capsys):
    """The demo keeps its key in .env, where every later refresh (and the schedule, the sensor,
    the UI) reads it: 30 new payments for the demo's children join them (none flagged as for an
    unknown child or placement; posted months before some of those children's plans began, they
    may be flagged payment_outside_plan)."""
    import csv
    import shutil

    from dagster_project.cli import main

    assert demo_run.exit_code == 0, demo_run.output[-3000:]
    for name in ("landing", "warehouse.duckdb", "serving.duckdb", ".env"):
        source = demo_run.folder / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, tmp_path / name)
    with (tmp_path / "landing" / "placements" / "placements.csv").open(newline="") as handle:
        spells = [row for row in csv.DictReader(handle) if row["annual_cost"]][-30:]
    rows = [
        f"NEW{i:03d},2025-03-31,100.00,1.2.3,{s['child_id']},{s['placement_id']}"
        for i, s in enumerate(spells)
    ]
    (tmp_path / "landing" / "finance" / "new_payments.csv").write_text(
        "transaction_id,posting_date,amount,s251_line,child_id,placement_id\n"
        + "\n".join(rows)
        + "\n"
    )
    monkeypatch.chdir(tmp_path)  # the demo's .env, as a user's next command in that folder reads it
    monkeypatch.delenv("HIGHNEEDS_PSEUDONYM_KEY", raising=False)
    for name, value in {
        **demo_run.environment,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }.items():
        monkeypatch.setenv(name, value.replace(str(demo_run.folder), str(tmp_path)))
    assert main(["refresh"]) == 0, capsys.readouterr().out[-3000:]
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        flagged = con.execute(
            "SELECT coalesce(sum(rows), 0) FROM marts.fct_data_quality "
            "WHERE source_file = 'finance/new_payments.csv' "
            "AND measure = 'rows_flagged_by_flag' "
            "AND reason IN ('payment_for_unknown_child', 'payment_for_unknown_placement')"
        ).fetchone()[0]
        loaded = con.execute(
            "SELECT rows FROM marts.fct_data_quality "
            "WHERE source_file = 'finance/new_payments.csv' "
            "AND measure = 'rows_loaded'"
        ).fetchone()[0]
    assert (loaded, flagged) == (30, 0)


def test_the_demo_forecasts_with_its_special_schools_places(demo_run):
    """The demo's settings (forecast/config/demo.forecast.yml) cap maintained special places: the
    children beyond them go to independent special schools, and the assumptions say so."""
    out = " ".join(demo_run.output.split())
    assert "HIGHNEEDS_FORECAST_SETTINGS=forecast/config/demo.forecast.yml" in out
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        places = con.execute(
            "SELECT value FROM forecast.assumptions WHERE assumption = 'capacity' "
            "AND provision_type = 'mss'"
        ).fetchone()[0]
        assert places == 520
        held = con.execute(
            "SELECT max(plans_central) FROM forecast.caseload WHERE provision_type = 'mss' "
            "AND scenario = 'unmitigated'"
        ).fetchone()[0]
        assert held <= places + 1e-6
        # and it binds: without the cap the maintained special caseload would pass the places
        last = con.execute(
            "SELECT sum(plans) FROM marts.fct_ehcp_cohort WHERE provision_type = 'mss' "
            "AND census_year = (SELECT max(census_year) FROM marts.fct_ehcp_cohort)"
        ).fetchone()[0]
        assert last > 0.85 * places


def test_the_demos_flows_carry_each_census_to_the_next(demo_run):
    """census(year) = census(year − 1) + new − ceased + moved in − moved out for every provision
    type, up to plans issued and ceased inside one year in two types (counted new in one and
    ceased in the other): a plan that moved and then ceased was ceased from the type it moved
    to, and left the type the census had counted it in without a flow (404 plans adrift)."""
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        adrift = con.execute(
            """
            WITH census AS (
                SELECT census_year, provision_type, sum(plans) AS plans
                FROM marts.fct_ehcp_cohort GROUP BY ALL
            ),
            residual AS (
                SELECT f.year, f.provision_type,
                    coalesce(now.plans, 0) - coalesce(before.plans, 0) - f.new_plans
                        + f.ceased_plans - f.moved_in + f.moved_out AS plans
                FROM marts.fct_ehcp_flows AS f
                LEFT JOIN census AS now
                    ON now.census_year = f.year AND now.provision_type = f.provision_type
                LEFT JOIN census AS before
                    ON before.census_year = f.year - 1 AND before.provision_type = f.provision_type
                WHERE f.year > (SELECT min(census_year) FROM census)
            ),
            -- plans issued and ceased in one year: +1 where ceased, -1 where issued
            inside AS (
                SELECT issued.census_year AS year, issued.provision_type AS issued_in,
                    ceased.provision_type AS ceased_in
                FROM intermediate.int_ehcp_plan_events AS issued
                JOIN intermediate.int_ehcp_plan_events AS ceased
                    ON ceased.la_code = issued.la_code AND ceased.plan_id = issued.plan_id
                    AND ceased.census_year = issued.census_year
                WHERE issued.event = 'issued' AND ceased.event = 'ceased'
            ),
            explained AS (
                SELECT year, provision_type, sum(plans) AS plans FROM (
                    SELECT year, issued_in AS provision_type, -1 AS plans FROM inside
                    UNION ALL SELECT year, ceased_in, 1 FROM inside
                ) GROUP BY ALL
            )
            SELECT residual.year, residual.provision_type, residual.plans,
                coalesce(explained.plans, 0)
            FROM residual LEFT JOIN explained USING (year, provision_type)
            WHERE residual.plans <> coalesce(explained.plans, 0)
            """
        ).fetchall()
    assert adrift == []
