"""A council delivered as SEN2 returns (COLLECT's Blade CSVs), a GIAS extract and a ledger keyed by
the child's UPN runs the whole pipeline, and its marts match the same council delivered as CSV
extracts: caseload by census, spend by provision and year, and independent special spend, to the
penny."""

import csv
import datetime as dt
import shutil
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import duckdb

from dagster_project.cli import main
from synthetic.council import generate
from tests.sen2_council import (
    CENSUS_DATES,
    CHILDREN,
    PLANS,
    SPELLS,
    TYPE_BY_URN,
    blade_date,
    blade_flag,
    ledger_rows,
    write,
    write_csv_landing,
    write_sen2_landing,
)

BLADE = "Blade-Export_15-01-2026_{}.csv"
CAPTURED = (
    "SELECT census_year, provision_type, sum(plans) FROM marts.fct_ehcp_cohort GROUP BY ALL "
    "ORDER BY ALL"
)
MARTS = {
    "caseload": (
        "SELECT census_date, primary_need, age_group, ncy, provision_type, "
        "age_at_plan_start_band, plans "
        "FROM marts.fct_ehcp_cohort ORDER BY ALL"
    ),
    "flows": (
        "SELECT year, provision_type, new_plans, ceased_plans, moved_in, moved_out "
        "FROM marts.fct_ehcp_flows ORDER BY ALL"
    ),
    "spend": (
        "SELECT financial_year, provision_type, spend_gbp, placements, fte_placements, "
        "unit_cost_gbp "
        "FROM marts.fct_provision_spend ORDER BY ALL"
    ),
    "position": "SELECT * FROM marts.fct_hnb_position ORDER BY ALL",
}


def refresh(landing: Path, warehouse: Path, monkeypatch, capsys) -> dict[str, list]:
    monkeypatch.setenv("HIGHNEEDS_LANDING", str(landing))
    monkeypatch.setenv("HIGHNEEDS_WAREHOUSE", str(warehouse))
    code = main(["refresh"])
    out = capsys.readouterr().out
    assert code == 0, out
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {name: con.execute(sql).fetchall() for name, sql in MARTS.items()}


def test_a_collect_export_gives_the_same_marts_as_the_csv_extracts(
    pipeline_env, tmp_path, monkeypatch, capsys
):
    write_csv_landing(tmp_path / "as_csv")
    # the returns' header names the council (lea 869); the CSV extracts are coded by the setting
    monkeypatch.setenv("HIGHNEEDS_LA_CODE", "869")
    expected = refresh(tmp_path / "as_csv", tmp_path / "csv.duckdb", monkeypatch, capsys)
    monkeypatch.delenv("HIGHNEEDS_LA_CODE")

    landing = pipeline_env / "landing"
    # three returns, January 2023, 2024 and 2025, superseding each other
    write_sen2_landing(landing)
    marts = refresh(landing, pipeline_env / "warehouse.duckdb", monkeypatch, capsys)

    assert marts == expected
    # the next night, nothing new: the returns already loaded are known by their content (this
    # crashed on a parameter the rename of a return's parts does not use)
    assert refresh(landing, pipeline_env / "warehouse.duckdb", monkeypatch, capsys) == marts
    # and both are right: each census's caseload from the definition, each plan counted once
    caseload = defaultdict(int)
    for census_date, *_, plans in marts["caseload"]:
        caseload[census_date] += plans
    for census in CENSUS_DATES:
        active = sum(
            p.start is not None
            and dt.date.fromisoformat(p.start) <= census
            and (p.cease is None or dt.date.fromisoformat(p.cease) > census)
            for p in PLANS
        )
        assert caseload[census] == active, census
    independent_special = sum(
        Decimal(amount)
        for _, _, amount, line, _, urn, _, _ in ledger_rows(lambda child: child.upn)
        if line.startswith("1.2.") and TYPE_BY_URN.get(urn) == "10"
    )
    assert (
        sum(spend for _, provision, spend, *_ in marts["spend"] if provision == "inmss")
        == independent_special
    )
    with duckdb.connect(str(pipeline_env / "warehouse.duckdb"), read_only=True) as con:
        flags = con.execute(
            "SELECT flag, count(*) FROM intermediate.int_data_quality_flags GROUP BY ALL"
        ).fetchall()
        assert flags == []
        # PlacementRank reaches the placements (rank 1 is where the census counts a child)
        ranks = "SELECT DISTINCT placement_rank FROM intermediate.int_placements_classified"
        assert con.execute(ranks).fetchall() == [(1,)]
        requests = con.execute(
            "SELECT year, requests, requests_decided_to_assess, requests_decided_not_to_assess, "
            "plans_issued, "
            "decisions_not_to_issue, conversion_pct, plans_issued_within_20_weeks, "
            "plans_issued_with_exception, "
            "within_20_weeks_pct_excluding_exceptions FROM marts.fct_ehcp_requests ORDER BY year"
        ).fetchall()
        # 2022: one request, assessed, its plan within 20 weeks; 2023: three requests (one refused,
        # one assessed in 2024), a plan after 146 days; 2024: one request assessed without a plan,
        # and 2023's last request's plan after 152 days under an exception
        assert requests == [
            (2022, 1, 1, 0, 1, 0, 100.0, 1, 0, 100.0),
            (2023, 3, 2, 1, 1, 0, 66.7, 0, 0, 0.0),
            (2024, 1, 1, 0, 1, 1, 0.0, 0, 1, None),
        ]
        # every exported column kept in raw, personal data dropped
        extra = con.execute("SELECT _extra_columns FROM raw.placements LIMIT 1").fetchone()[0]
        assert {
            "placementdetail.nativeid",
            "placementdetail.placementdetailorderseqcolumn",
            "sen2.lea",
        } <= set(extra)
        stored = str(con.execute("SELECT * FROM raw.ehcp").fetchall()) + str(
            con.execute("SELECT * FROM raw.placements").fetchall()
        )
    assert not any(child.upn in stored or child.surname in stored for child in CHILDREN)
    report = (pipeline_env / "report" / "internal" / "report.html").read_text()
    assert (
        "Requests, assessments and 20-week timeliness" in report
        and "Requests that led to a plan (%)" in report
    )


def test_a_ledger_keyed_by_the_case_management_id_joins_a_sen2_return(
    pipeline_env, monkeypatch, capsys
):
    landing = pipeline_env / "landing"
    write_sen2_landing(landing, ledger_id="native_id")
    monkeypatch.setenv("HIGHNEEDS_SEN2_CHILD_ID", "nativeid")
    marts = refresh(landing, pipeline_env / "warehouse.duckdb", monkeypatch, capsys)
    independent_special = sum(
        Decimal(amount)
        for _, _, amount, line, _, urn, _, _ in ledger_rows(lambda child: child.native_id)
        if line.startswith("1.2.") and TYPE_BY_URN.get(urn) == "10"
    )
    assert (
        sum(spend for _, provision, spend, *_ in marts["spend"] if provision == "inmss")
        == independent_special
    )
    with duckdb.connect(str(pipeline_env / "warehouse.duckdb"), read_only=True) as con:
        methods = con.execute(
            "SELECT DISTINCT allocation_method FROM intermediate.int_spend_allocated "
            "WHERE child_id IS NOT NULL ORDER BY 1"
        ).fetchall()
    # every child-level payment found its child: its placement at the provider paid, or (a
    # payment naming no provider) its placement on the posting date
    assert methods == [("child_placement_at_provider",), ("child_placement_on_posting_date",)]


def to_sen2_return(landing: Path) -> None:
    """Rewrite the synthetic council's ehcp and placements extracts as a SEN2 Blade return in
    COLLECT's formats and a GIAS establishments extract (SEN2 placements carry URN/UKPRN but no
    establishment type); its ledger carries each child's UPN and no placement id, as a finance
    system keeps them."""
    plans = list(csv.DictReader((landing / "ehcp" / "ehcp.csv").open()))
    placements = list(csv.DictReader((landing / "placements" / "placements.csv").open()))
    folder = landing / "sen2" / "2026"
    people: dict[str, int] = {}
    upn_of = {plan["child_id"]: plan["upn"] for plan in plans}
    person_rows, request_rows, assessment_rows, plan_rows, active_rows, need_rows = (
        [],
        [],
        [],
        [],
        [],
        [],
    )
    plans_by_child = defaultdict(list)
    for number, plan in enumerate(plans, 1):
        if plan["child_id"] not in people:
            people[plan["child_id"]] = len(people) + 1
            person_rows.append(
                [
                    people[plan["child_id"]],
                    plan["surname"],
                    plan["forename"],
                    blade_date(plan["date_of_birth"]),
                    plan["sex"],
                    plan["postcode"],
                    plan["upn"],
                ]
            )
        request_rows.append(
            [
                number,
                people[plan["child_id"]],
                blade_date(plan["request_date"] or plan["plan_start_date"]),
            ]
        )
        assessment_rows.append([number, number, "Y"])
        plan_rows.append(
            [
                number,
                number,
                blade_date(plan["plan_start_date"]),
                blade_date(plan["plan_cease_date"]),
                plan["cease_reason"],
            ]
        )
        active_rows.append([number, number])
        need_rows.append([number, plan["primary_need"], 1])
        if plan["secondary_need"]:
            need_rows.append([number, plan["secondary_need"], 2])
        plans_by_child[plan["child_id"]].append((plan["plan_start_date"], number))
    detail_rows, establishments = [], {}
    for placement in placements:
        starts = sorted(plans_by_child[placement["child_id"]])
        plan = next(
            (n for start, n in reversed(starts) if start <= placement["start_date"]), starts[0][1]
        )
        detail_rows.append(
            [
                plan,
                placement["urn"],
                placement["ukprn"],
                placement["sen_setting"],
                blade_date(placement["start_date"]),
                blade_date(placement["end_date"]),
                blade_flag(placement["sen_unit"] == "Y"),
                blade_flag(placement["resourced_provision"] == "Y"),
            ]
        )
        if placement["urn"] or placement["ukprn"]:
            urn = placement["urn"] or f"9{placement['ukprn'][-5:]}"
            establishments[urn] = [
                urn,
                placement["establishment_name"],
                placement["establishment_type_code"],
                placement["ukprn"],
            ]
    write(
        folder / BLADE.format("person"),
        ["persontableid", "surname", "forename", "personbirthdate", "sex", "postcode", "upn"],
        person_rows,
    )
    write(
        folder / BLADE.format("requests"),
        ["requeststableid", "persontableid", "receiveddate"],
        request_rows,
    )
    write(
        folder / BLADE.format("assessment"),
        ["assessmenttableid", "requeststableid", "assessmentoutcome"],
        assessment_rows,
    )
    write(
        folder / BLADE.format("namedplan"),
        ["namedplantableid", "assessmenttableid", "startdate", "ceasedate", "ceasereason"],
        plan_rows,
    )
    write(
        folder / BLADE.format("activeplans"), ["activeplanstableid", "requeststableid"], active_rows
    )
    # the header module: its census day (a return without one is refused)
    write(
        folder / BLADE.format("sen2"),
        ["collection", "year", "referencedate"],
        [["SEN2", 2026, "2026-01-15"]],
    )
    write(
        folder / BLADE.format("placementdetail"),
        [
            "activeplanstableid",
            "urn",
            "ukprn",
            "sensetting",
            "entrydate",
            "leavingdate",
            "senunitindicator",
            "resourcedprovisionindicator",
        ],
        detail_rows,
    )
    write(
        folder / BLADE.format("senneed"),
        ["activeplanstableid", "sentype", "sentyperank"],
        need_rows,
    )
    write(
        landing / "reference" / "edubasealldata20260101.csv",
        ["URN", "EstablishmentName", "TypeOfEstablishment (code)", "UKPRN"],
        sorted(establishments.values()),
    )
    for path in sorted((landing / "finance").glob("*.csv")):
        rows = list(csv.DictReader(path.open()))
        for row in rows:
            row["child_id"] = upn_of.get(row["child_id"], row["child_id"])
            row["placement_id"] = ""
        write(path, list(rows[0]), [list(row.values()) for row in rows])
    shutil.rmtree(landing / "ehcp")
    shutil.rmtree(landing / "placements")


def caseload(warehouse: Path) -> list:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(CAPTURED).fetchall()


def test_a_synthetic_council_as_a_sen2_return_has_the_same_caseload(
    pipeline_env, tmp_path, monkeypatch, capsys
):
    as_csv = tmp_path / "as_csv"
    generate(as_csv, children=250, first_year=2021, last_year=2025, seed=11)
    monkeypatch.setenv("HIGHNEEDS_LANDING", str(as_csv))
    monkeypatch.setenv("HIGHNEEDS_WAREHOUSE", str(tmp_path / "csv.duckdb"))
    assert main(["refresh"]) == 0, capsys.readouterr().out
    expected = caseload(tmp_path / "csv.duckdb")

    landing = pipeline_env / "landing"
    generate(landing, children=250, first_year=2021, last_year=2025, seed=11)
    to_sen2_return(landing)
    monkeypatch.setenv("HIGHNEEDS_LANDING", str(landing))
    monkeypatch.setenv("HIGHNEEDS_WAREHOUSE", str(pipeline_env / "warehouse.duckdb"))
    code = main(["refresh"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert caseload(pipeline_env / "warehouse.duckdb") == expected
    with duckdb.connect(str(pipeline_env / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM forecast.spend").fetchone()[0] > 0
        assert (
            con.execute(
                "SELECT count(*) FROM intermediate.int_placements_classified "
                "WHERE classified_by = 'gias_establishment_type'"
            ).fetchone()[0]
            > 0
        )
        unknown_child = con.execute(
            "SELECT count(*) FROM intermediate.int_data_quality_flags "
            "WHERE flag = 'payment_for_unknown_child'"
        ).fetchone()[0]
        stored = str(con.execute("SELECT * FROM raw.ehcp").fetchall())
    assert unknown_child == 0
    first_upn = next(csv.DictReader((as_csv / "ehcp" / "ehcp.csv").open()))["upn"]
    assert first_upn not in stored


def _requests(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("SELECT * FROM marts.fct_ehcp_requests ORDER BY ALL").fetchall()


def _edit_blade(folder: Path, table: str, native_id: str, column: str, value: str) -> None:
    """Set `column` of the row `native_id` names in a return's Blade `table`."""
    [path] = folder.glob(f"*_{table}.csv")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    header = list(rows[0])
    [row] = [r for r in rows if r["nativeid"] == native_id]
    row[column] = value
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def test_returns_supersede_by_census_and_retire_what_a_later_one_corrected(
    pipeline_env, tmp_path, monkeypatch, capsys
):
    """A council that backfills a missing return a night after a later one gets the marts of
    loading them in census order: the January 2024 return shows plan 2 open (it ceased in July
    2024), and must not reopen it over the January 2025 return that closes it. And a return
    whose plan start and placement entry dates the next return corrects (child 6: plan from 15
    June 2023, in its setting from 1 September) must not leave its versions live beside the
    corrected ones: they counted a second new plan and a second placement's days."""
    landing = pipeline_env / "landing"
    write_sen2_landing(landing)
    in_order = refresh(landing, tmp_path / "in_order.duckdb", monkeypatch, capsys)
    in_order_requests = _requests(tmp_path / "in_order.duckdb")

    held_back = tmp_path / "held_back"
    held_back.mkdir()
    shutil.move(landing / "sen2" / "2024", held_back / "2024")
    refresh(landing, pipeline_env / "warehouse.duckdb", monkeypatch, capsys)
    shutil.move(held_back / "2024", landing / "sen2" / "2024")
    backfilled = refresh(landing, pipeline_env / "warehouse.duckdb", monkeypatch, capsys)
    assert backfilled == in_order

    plan = next(n for n, p in enumerate(PLANS, 1) if p.child == 6 and p.start == "2023-06-15")
    spell = next(m for m, s in enumerate(SPELLS, 1) if s.child == 6 and s.start == "2023-09-01")
    wrong = landing / "sen2" / "2024"
    _edit_blade(wrong, "namedplan", f"NP-{plan}", "startdate", blade_date("2023-06-14"))
    _edit_blade(wrong, "placementdetail", f"PD-{spell}", "entrydate", blade_date("2023-09-04"))
    # and its request's received date: two requests, two plans issued, for one
    received = dt.date.fromisoformat(PLANS[plan - 1].request_date) - dt.timedelta(days=2)
    _edit_blade(wrong, "requests", f"REQ-{plan}", "receiveddate", blade_date(received.isoformat()))
    corrected = refresh(landing, pipeline_env / "warehouse.duckdb", monkeypatch, capsys)
    assert corrected == in_order
    assert _requests(pipeline_env / "warehouse.duckdb") == in_order_requests
    with duckdb.connect(str(pipeline_env / "warehouse.duckdb"), read_only=True) as con:
        retired = con.execute(
            "SELECT extract, census_date, retired_by_census_date FROM staging.stg_sen2__retired "
            "ORDER BY extract"
        ).fetchall()
    assert retired == [
        ("ehcp", CENSUS_DATES[1], CENSUS_DATES[2]),
        ("placements", CENSUS_DATES[1], CENSUS_DATES[2]),
        ("requests", CENSUS_DATES[1], CENSUS_DATES[2]),
    ]
