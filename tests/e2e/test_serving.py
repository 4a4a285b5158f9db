"""The serving file after `highneeds refresh`: what it holds, that no personal data reaches it,
that the published tables can be shared, and that a failed gate publishes nothing."""

import contextlib
import csv
import datetime as dt
import hashlib
import io
import os
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pytest

from dagster_project.cli import main
from ingest.pseudonymise import keyed_hash
from serving.publish import (
    SUPPRESSED_TABLES,
    family_lines,
    family_of,
    read_publication,
    served_version,
)
from serving.suppression import recoverable_cells
from synthetic.council import generate
from tests.conftest import REPO_ROOT, TEST_KEY

SERVING_KEY = "serving-key-for-tests"
PERSONAL_COLUMNS = ("upn", "forename", "surname", "postcode", "date_of_birth")


@dataclass
class Published:
    folder: Path
    landing: Path
    warehouse: Path
    serving: Path
    parquet: Path
    out: str


@pytest.fixture(scope="module")
def council(tmp_path_factory) -> Published:
    """One synthetic council refreshed and published, with a serving key and Parquet on; its
    settings stay in the environment for the module's tests."""
    folder = tmp_path_factory.mktemp("council")
    landing = folder / "landing"
    generate(landing, children=250, first_year=2021, last_year=2025, seed=7)
    published = Published(
        folder,
        landing,
        folder / "warehouse.duckdb",
        folder / "serving.duckdb",
        folder / "parquet",
        "",
    )
    settings = {
        "HIGHNEEDS_LANDING": str(landing),
        "HIGHNEEDS_WAREHOUSE": str(published.warehouse),
        "HIGHNEEDS_SERVING": str(published.serving),
        "HIGHNEEDS_SERVING_PARQUET": str(published.parquet),
        "HIGHNEEDS_SERVING_PSEUDONYM_KEY": SERVING_KEY,
        "HIGHNEEDS_PSEUDONYM_KEY": TEST_KEY,
        "HIGHNEEDS_SIMULATIONS": "500",
        "DAGSTER_HOME": str(folder / "dagster_home"),
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        for name in (
            "HIGHNEEDS_MITIGATIONS",
            "HIGHNEEDS_HORIZON",
            "HIGHNEEDS_RECOVER_BY",
            "HIGHNEEDS_QUARANTINE_TOLERANCE",
            "HIGHNEEDS_EXTRACT_DATE",
            "HIGHNEEDS_SUPPRESSION_THRESHOLD",
            "HIGHNEEDS_FORECAST_SETTINGS",
        ):
            patch.delenv(name, raising=False)
        for name, value in settings.items():
            patch.setenv(name, value)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["refresh"])
        published.out = out.getvalue()
        assert code == 0, published.out
        yield published


def serving_columns(con) -> list[tuple[str, str, str, str]]:
    return con.execute(
        "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() ORDER BY ALL"
    ).fetchall()


def landing_rows(landing: Path, extract: str) -> list[dict]:
    rows = []
    for path in sorted((landing / extract).glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            rows += list(csv.DictReader(handle))
    return rows


def test_the_refresh_publishes_marts_forecast_published_and_meta(council):
    assert "✓ publish to serving" in council.out and "Published to serving:" in council.out
    with duckdb.connect(str(council.serving), read_only=True) as con:
        version, _ = served_version(con)  # every table matches its checksum in meta.tables
        schemas = dict(
            con.execute("SELECT schema_name, count(*) FROM duckdb_tables() GROUP BY 1").fetchall()
        )
        assert set(schemas) == {"marts", "forecast", "published", "meta"}
        with duckdb.connect(str(council.warehouse), read_only=True) as warehouse:
            for schema in ("marts", "forecast"):
                tables = warehouse.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE schema_name = ? ORDER BY 1",
                    [schema],
                ).fetchall()
                assert (
                    con.execute(
                        "SELECT table_name FROM duckdb_tables() WHERE schema_name = ? ORDER BY 1",
                        [schema],
                    ).fetchall()
                    == tables
                )
            # money served as DOUBLE (pandas, Power BI and Excel read it as numbers):
            # the same pennies
            assert (
                con.execute("SELECT * FROM marts.fct_provision_spend ORDER BY ALL").fetchall()
                == warehouse.execute(
                    "SELECT * REPLACE (spend_gbp::DOUBLE AS spend_gbp, "
                    "spend_by_ledger_point_gbp::DOUBLE AS spend_by_ledger_point_gbp, "
                    "unit_cost_gbp::DOUBLE AS unit_cost_gbp) "
                    "FROM marts.fct_provision_spend ORDER BY ALL"
                ).fetchall()
            )
        run_id, code_version, person_ids = con.execute(
            "SELECT run_id, code_version, person_ids FROM meta.publication"
        ).fetchall()[0]
        assert f"run {run_id} took" in council.out
        # a commit of this repository, HEAD or (when a commit landed while the suite ran) before it
        recorded = code_version.removesuffix("+changes")
        is_ancestor = subprocess.run(
            ["git", "merge-base", "--is-ancestor", recorded, "HEAD"], cwd=REPO_ROOT, check=False
        )
        assert len(recorded) >= 12 and is_ancestor.returncode == 0, code_version
        assert person_ids == "re-keyed with the serving key"
        # the source files, by content hash and the load that read them
        files = con.execute(
            "SELECT file_name, content_hash, load_id FROM meta.source_files WHERE in_landing"
        ).fetchall()
        assert {name: digest for name, digest, _ in files} == {
            str(p.relative_to(council.landing)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in council.landing.rglob("*.csv")
        }
        assert {load for *_, load in files} == {run_id}
        checks = con.execute(
            "SELECT count(*), bool_and(passed), min(run_id) FROM meta.check_results"
        ).fetchall()[0]
        assert checks[0] > 50 and checks[1] and checks[2] == run_id
    assert read_publication(council.serving)["version_id"] == version


def test_no_serving_column_holds_a_value_of_a_personal_data_column(council):
    ehcp = landing_rows(council.landing, "ehcp")
    child_ids = {
        row["child_id"]
        for extract in ("ehcp", "placements", "finance")
        for row in landing_rows(council.landing, extract)
        if row.get("child_id")
    }
    personal = {column: {row[column] for row in ehcp if row[column]} for column in PERSONAL_COLUMNS}
    personal["child_id as in the extracts"] = child_ids
    # (the scan reads every value as text: a stored id as its digits)
    personal["child_id as hashed in the warehouse"] = {
        str(keyed_hash(c, TEST_KEY)) for c in child_ids
    }
    assert all(len(values) > 20 for values in personal.values())  # the scan has something to find
    with duckdb.connect(str(council.serving), read_only=True) as con:
        columns = serving_columns(con)
        assert not [c for c in columns if c[2].lower() in PERSONAL_COLUMNS]
        # census dates are calendar facts of the marts,
        # not anyone's birthday, even when they coincide
        census_dates = {
            str(d)
            for (d,) in con.execute(
                "SELECT DISTINCT census_date FROM marts.fct_ehcp_cohort"
            ).fetchall()
        }
        personal["date_of_birth"] -= census_dates
        distinctive = personal["upn"] | personal["postcode"] | child_ids
        found = []
        for schema, table, column, data_type in columns:
            values = {
                v
                for (v,) in con.execute(
                    f'SELECT DISTINCT CAST("{column}" AS VARCHAR) FROM {schema}."{table}" '
                    f'WHERE "{column}" IS NOT NULL'
                ).fetchall()
            }
            if data_type.startswith(("DATE", "TIMESTAMP")):
                values |= {v[:10] for v in values}
            for name, secrets in personal.items():
                if values & secrets:
                    found.append(
                        f"{schema}.{table}.{column} holds {name}: {sorted(values & secrets)[:3]}"
                    )
            if data_type == "VARCHAR":  # and no text quotes a UPN, postcode or id
                found += [
                    f"{schema}.{table}.{column} quotes {s!r}"
                    for v in values
                    for s in distinctive
                    if s in v
                ][:3]
    assert not found, "\n".join(found)


def test_published_tables_hide_small_counts_so_that_totals_give_none_away(council):
    with duckdb.connect(str(council.serving), read_only=True) as con:
        threshold = con.execute("SELECT suppression_threshold FROM meta.publication").fetchall()[0][
            0
        ]
        assert threshold == 5
        tables = {}
        for spec in SUPPRESSED_TABLES:
            table = tables[spec.name] = con.execute(f"SELECT * FROM published.{spec.name}").df()
            hidden = table["suppressed"].to_numpy(dtype=bool)
            assert hidden.any(), spec.name  # a small council has small cells
            shown = table.loc[~hidden, spec.count]
            assert ((shown == 0) | (shown >= threshold)).all(), spec.name
            for measure in (spec.count, *spec.hidden_with_count):
                assert table.loc[hidden, measure].isna().all(), (spec.name, measure)
        # with each table's totals and the figures other tables give (a census total two tables
        # hold; a caseload's change between censuses, its flows): tables of a family together
        for spec in SUPPRESSED_TABLES:
            family = family_of(spec.name)
            served = {name: tables[name] for name in family.tables if name in tables}
            starts, lines = family_lines(served, family.caseload)
            hidden = np.concatenate([served[name]["suppressed"].to_numpy(bool) for name in starts])
            assert lines and not recoverable_cells(hidden, lines).size, spec.name
        # the shown numbers are the marts' own
        total = con.execute(
            "SELECT sum(plans) FROM marts.fct_ehcp_cohort WHERE census_year = 2025"
        ).fetchall()[0][0]
        assert con.execute(
            "SELECT plans FROM published.ehcp_plans_by_need "
            "WHERE census_year = 2025 AND primary_need = 'total' "
            "AND provision_type = 'total'"
        ).fetchall() == [(total,)]


def test_serving_files_are_the_owners_alone_and_parquet_matches(council):
    for path in (council.serving, council.warehouse, *council.parquet.rglob("*.parquet")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for path in (
        council.parquet,
        *(p for p in council.parquet.rglob("*") if p.is_dir() and not p.is_symlink()),
    ):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
    version = read_publication(council.serving)["version_id"]
    assert os.readlink(council.parquet / "current") == version
    with duckdb.connect(str(council.serving), read_only=True) as con:
        expected = con.execute(
            "SELECT table_schema, table_name, row_count FROM meta.tables"
        ).fetchall()
        for schema, table, rows in expected:
            parquet = council.parquet / "current" / schema / f"{table}.parquet"
            assert con.execute(f"SELECT count(*) FROM read_parquet('{parquet}')").fetchall() == [
                (rows,)
            ]


# last: it changes the council's landing folder and warehouse
def test_a_census_that_halved_since_it_was_published_is_said_and_published(council, capsys):
    """A plans extract that ceased half the open plans before the last census passed every gate:
    the census's plans were published halved, with nothing said."""
    from checks.gates import past_figures
    from serving.publish import served_past_figures

    def figures(frame):
        return sorted(map(tuple, frame[["la_code", "figure", "period", "value"]].values.tolist()))

    published, files = served_past_figures(council.serving)
    with duckdb.connect(str(council.warehouse), read_only=True) as con:
        assert figures(published) == figures(past_figures(con))
        (census,) = con.execute("SELECT max(census_date) FROM marts.fct_ehcp_cohort").fetchone()
    assert "ehcp/ehcp.csv" in files["file_name"].tolist()
    plans = council.landing / "ehcp" / "ehcp.csv"
    original = plans.read_bytes()
    rows = landing_rows(council.landing, "ehcp")
    open_rows = [r for r in rows if not r["plan_cease_date"]]
    for row in open_rows[::2]:
        row["plan_cease_date"] = (census - dt.timedelta(days=5)).isoformat()
        row["cease_reason"] = "1"
    with plans.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    try:
        assert main(["refresh"]) == 0  # a warning: a restatement moves figures too
        out = " ".join(capsys.readouterr().out.split())
        assert "WARNING marts/fct_ehcp_cohort · plans_hold_since_published" in out, out
        assert f"(plans on the {census} census: " in out and "now (-" in out
        assert "landing files changed since the published version: ehcp/ehcp.csv (replaced)" in out
        with duckdb.connect(str(council.serving), read_only=True) as con:
            assert con.execute(
                "SELECT passed FROM meta.check_results WHERE check_name = ?",
                ["plans_hold_since_published"],
            ).fetchall() == [(False,)]
    finally:
        plans.write_bytes(original)  # (the module's next refresh reads it again)


def test_a_failed_gate_leaves_the_serving_file_byte_for_byte(council, capsys):
    serving = council.serving
    good = serving.read_bytes(), serving.stat().st_ino, read_publication(serving)["version_id"]
    (council.landing / "placements" / "correction.csv").write_text(
        "placement_id,child_id,urn,establishment_type_code,start_date,annual_cost\n"
        'PL9999999,C0000001,110007,28,2023-09-01,"£9,500,000"\n'
    )
    assert main(["refresh"]) == 1
    out = " ".join(capsys.readouterr().out.split())  # as one line: the console wraps long paths
    assert "placement_costs_within_bounds" in out
    assert f"Not published to serving: {serving} keeps version {good[2]}" in out
    assert (serving.read_bytes(), serving.stat().st_ino) == good[:2]
    assert sorted(p.name for p in council.folder.iterdir() if "serving" in p.name) == [
        "serving.duckdb"
    ]

    # publishing on its own (as from the UI) refuses a warehouse that changed since its gates passed
    from dagster_project.definitions import build_definitions
    from dagster_project.defs.publish import PUBLISH_KEY

    job = build_definitions().resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        asset_selection=[PUBLISH_KEY], instance=dg.DagsterInstance.get(), raise_on_error=False
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert "changed since the gates last passed" in str(failure.event_specific_data.error)
    assert (serving.read_bytes(), serving.stat().st_ino) == good[:2]

    # nor does the gate pass with its checks left out of the run ("materialise selected and
    # downstream" on the gate): it passed with nothing checked, and the refused figures published
    from dagster_project.defs.gates import warehouse_checked

    definitions = build_definitions()
    downstream = dg.AssetSelection.assets(warehouse_checked).downstream()
    result = definitions.resolve_implicit_global_asset_job_def().execute_in_process(
        asset_selection=list(downstream.resolve(definitions.resolve_asset_graph())),
        instance=dg.DagsterInstance.get(),
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert failure.step_key.startswith("gates__warehouse_checked")
    assert "blocking checks on the warehouse did not run in this run" in str(
        failure.event_specific_data.error
    )
    assert (serving.read_bytes(), serving.stat().st_ino) == good[:2]
