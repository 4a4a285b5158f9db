"""A council with a SEN2 return (Blade CSVs), a GIAS extract and a finance extract runs the whole
pipeline, and its caseload matches the same council's ehcp and placements extracts."""

import csv
import shutil
from collections import defaultdict
from pathlib import Path

import duckdb

from dagster_project.cli import main
from ingest.synthetic import generate

BLADE = "Blade-Export_15-01-2026_{}.csv"


def write(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def to_sen2_return(landing: Path) -> None:
    """Rewrite the synthetic council's ehcp and placements extracts as a SEN2 Blade return and a
    GIAS establishments extract (SEN2 placements carry URN/UKPRN but no establishment type)."""
    plans = list(csv.DictReader((landing / "ehcp" / "ehcp.csv").open()))
    placements = list(csv.DictReader((landing / "placements" / "placements.csv").open()))
    folder = landing / "sen2" / "2026"
    folder.mkdir(parents=True)
    people: dict[str, int] = {}
    person_rows, request_rows, assessment_rows, plan_rows, active_rows, need_rows = [], [], [], [], [], []
    plans_by_child = defaultdict(list)
    for number, plan in enumerate(plans, 1):
        if plan["child_id"] not in people:
            people[plan["child_id"]] = len(people) + 1
            person_rows.append([people[plan["child_id"]], plan["surname"], plan["forename"], plan["date_of_birth"],
                                plan["sex"], plan["postcode"], plan["upn"]])
        request_rows.append([number, people[plan["child_id"]], plan["request_date"] or plan["plan_start_date"]])
        assessment_rows.append([number, number, "A"])
        plan_rows.append([number, number, plan["plan_start_date"], plan["plan_cease_date"], plan["cease_reason"]])
        active_rows.append([number, number])
        need_rows.append([number, plan["primary_need"], 1])
        if plan["secondary_need"]:
            need_rows.append([number, plan["secondary_need"], 2])
        plans_by_child[plan["child_id"]].append((plan["plan_start_date"], number))
    detail_rows, establishments = [], {}
    for placement in placements:
        starts = sorted(plans_by_child[placement["child_id"]])
        plan = next((n for start, n in reversed(starts) if start <= placement["start_date"]), starts[0][1])
        flag = {"Y": "1", "N": "0"}
        detail_rows.append([plan, placement["urn"], placement["ukprn"], placement["sen_setting"], placement["start_date"],
                            placement["end_date"], flag.get(placement["sen_unit"], ""), flag.get(placement["resourced_provision"], "")])
        if placement["urn"] or placement["ukprn"]:
            urn = placement["urn"] or f"9{placement['ukprn'][-5:]}"
            establishments[urn] = [urn, placement["establishment_name"], placement["establishment_type_code"], placement["ukprn"]]
    write(folder / BLADE.format("person"), ["PersonTableID", "Surname", "Forename", "PersonBirthDate", "Sex", "Postcode", "UPN"], person_rows)
    write(folder / BLADE.format("requests"), ["RequestsTableID", "PersonTableID", "ReceivedDate"], request_rows)
    write(folder / BLADE.format("assessment"), ["AssessmentTableID", "RequestsTableID", "AssessmentOutcome"], assessment_rows)
    write(folder / BLADE.format("namedplan"), ["NamedPlanTableID", "AssessmentTableID", "StartDate", "CeaseDate", "CeaseReason"], plan_rows)
    write(folder / BLADE.format("activeplans"), ["ActivePlansTableID", "RequestsTableID"], active_rows)
    write(folder / BLADE.format("placementdetail"), ["ActivePlansTableID", "URN", "UKPRN", "SENsetting", "EntryDate", "LeavingDate",
                                                     "SENUnitIndicator", "ResourcedProvisionIndicator"], detail_rows)
    write(folder / BLADE.format("senneed"), ["ActivePlansTableID", "SENType", "SENTypeRank"], need_rows)
    (landing / "reference").mkdir()
    write(landing / "reference" / "edubasealldata20260101.csv", ["URN", "EstablishmentName", "TypeOfEstablishment (code)", "UKPRN"],
          sorted(establishments.values()))
    shutil.rmtree(landing / "ehcp")
    shutil.rmtree(landing / "placements")


def caseload(warehouse: Path) -> list:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("SELECT census_year, provision_type, sum(plans) FROM marts.fct_ehcp_cohort GROUP BY ALL ORDER BY ALL").fetchall()


def test_a_sen2_return_runs_through_to_the_marts(pipeline_env, tmp_path, monkeypatch, capsys):
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
        assert con.execute(
            "SELECT count(*) FROM intermediate.int_placements_classified WHERE classified_by = 'gias_establishment_type'"
        ).fetchone()[0] > 0
        stored = str(con.execute("SELECT * FROM raw.ehcp").fetchall())
    first_upn = next(csv.DictReader((as_csv / "ehcp" / "ehcp.csv").open()))["upn"]
    assert first_upn not in stored
