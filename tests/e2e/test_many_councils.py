"""End to end: two councils in one landing folder (DESIGN.md, `landing/<old LA code>/<extract>/`)
refresh into one warehouse, `la_code` on every table from staging on, and each council's slice
is what a refresh of its files alone gives."""

import contextlib
import csv
import io
import os
import shutil
import stat
from pathlib import Path

import duckdb
import pytest

from dagster_project.cli import main
from report.build import _quality_reading
from report.data import compare_councils, read_report_data
from serving.publish import served_figures
from synthetic.council import generate
from tests.conftest import set_pipeline_env

COUNCILS = {"869": {"children": 320, "seed": 3}, "825": {"children": 210, "seed": 11}}
# the council refreshed alone too: the later by code, whose files load after the other's (a
# refresh costs most of a minute, so one council stands for both)
ALONE = "869"
# provenance that names the file as the landing folder holds it: `869/ehcp/…` in the region's,
# `ehcp/…` in the council's own; its hash is the file's within its council (the same file in two
# councils' folders is two councils' rows)
PROVENANCE = {"source_file", "source_file_hash", "file_hash", "load_id"}
SCHEMAS = ("staging", "intermediate", "marts", "forecast")
OWN_MITIGATIONS = """mitigations:
  - name: Own outreach
    line_of_enquiry: early support and inclusion
    lever: reduce_new_plans
    provision_types: [mainstream]
    start_year: 2026-27
    effect: {percent: 5}
    status: assured
"""


def refresh(folder: Path, landing: Path, la_code: str | None, expect: int = 0) -> str:
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        set_pipeline_env(folder, patch)
        shutil.rmtree(folder / "landing")
        shutil.copytree(landing, folder / "landing")
        if la_code:
            patch.setenv("HIGHNEEDS_LA_CODE", la_code)
        else:
            patch.delenv("HIGHNEEDS_LA_CODE", raising=False)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["refresh"])
    assert code == expect, out.getvalue()
    return out.getvalue()


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory) -> dict[str, Path]:
    """The region's warehouse (both councils) and ALONE's own, built from the same files."""
    extracts = tmp_path_factory.mktemp("extracts")
    region = extracts / "region"
    for code, options in COUNCILS.items():
        generate(region / code, first_year=2019, last_year=2024, **options)
    # one council's GIAS extract, shared by the region at its top level
    (region / "reference").mkdir()
    (region / "reference" / "gias_extract.csv").write_text(
        "urn,ukprn,establishment_name,establishment_type_code\n"
        "999001,10099901,Shared Test Academy,28\n"
        "999002,10099902,Hill School,28\n"
    )
    # and ALONE's own, loaded before the shared one, which types one of its URNs otherwise
    (region / ALONE / "reference").mkdir()
    (region / ALONE / "reference" / "own_gias.csv").write_text(
        "urn,ukprn,establishment_name,establishment_type_code\n999002,10099902,Hill School,7\n"
    )
    # ALONE's own mitigation log in its folder; the other council takes the shared one
    (region / ALONE / "mitigations.yml").write_text(OWN_MITIGATIONS)
    built = {}
    folder = tmp_path_factory.mktemp("region")
    built["region"] = folder / "warehouse.duckdb"
    built["region_output"] = refresh(folder, region, None)
    built["region_landing"] = region
    own = extracts / ALONE
    shutil.copytree(region / ALONE, own)
    shutil.copytree(region / "reference", own / "reference", dirs_exist_ok=True)
    folder = tmp_path_factory.mktemp(f"council_{ALONE}")
    refresh(folder, own, ALONE)
    built[ALONE] = folder / "warehouse.duckdb"
    return built


def tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    return con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables "
        f"WHERE table_schema IN {SCHEMAS} AND table_catalog = current_database() ORDER BY ALL"
    ).fetchall()


def test_every_table_from_staging_on_carries_la_code_first(warehouses):
    with duckdb.connect(str(warehouses["region"]), read_only=True) as con:
        held = tables(con)
        seeds = {
            row[0]
            for row in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'staging' "
                "AND table_type = 'BASE TABLE' AND table_name NOT LIKE 'stg_%'"
            ).fetchall()
        }
        assert len(held) > 30
        for schema, name in held:
            if schema == "staging" and name in seeds:
                continue  # the reviewed reference seeds are the same for every council
            first = con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? "
                "AND table_name = ? ORDER BY ordinal_position LIMIT 1",
                [schema, name],
            ).fetchone()[0]
            assert first == "la_code", f"{schema}.{name}"
            codes = con.execute(f"SELECT DISTINCT la_code FROM {schema}.{name}").fetchall()
            assert {c for (c,) in codes} <= set(COUNCILS), f"{schema}.{name}: {codes}"
        for name in ("fct_ehcp_cohort", "fct_provision_spend", "fct_hnb_position"):
            codes = con.execute(f"SELECT DISTINCT la_code FROM marts.{name} ORDER BY 1").fetchall()
            assert [c for (c,) in codes] == sorted(COUNCILS), name
        codes = con.execute("SELECT DISTINCT la_code FROM forecast.hnb_position ORDER BY 1")
        assert [c for (c,) in codes.fetchall()] == sorted(COUNCILS)


def test_a_councils_slice_equals_its_own_refresh(warehouses):
    la_code = ALONE
    with duckdb.connect(str(warehouses["region"]), read_only=True) as con:
        con.execute(f"ATTACH '{warehouses[la_code]}' AS own (READ_ONLY)")
        compared = 0
        for schema, name in tables(con):
            columns = [
                c
                for (c,) in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = ? "
                    "AND table_name = ? AND table_catalog = current_database() "
                    "ORDER BY ordinal_position",
                    [schema, name],
                ).fetchall()
                if c not in PROVENANCE
            ]
            select = ", ".join(f'"{c}"' for c in columns)
            council = "WHERE la_code = ?" if "la_code" in columns else ""
            params = [la_code] if council else []
            region_only = con.execute(
                f"SELECT count(*) FROM (SELECT {select} FROM {schema}.{name} {council} EXCEPT ALL "
                f"SELECT {select} FROM own.{schema}.{name})",
                params,
            ).fetchone()[0]
            own_only = con.execute(
                f"SELECT count(*) FROM (SELECT {select} FROM own.{schema}.{name} EXCEPT ALL "
                f"SELECT {select} FROM {schema}.{name} {council})",
                params,
            ).fetchone()[0]
            assert (region_only, own_only) == (0, 0), f"{schema}.{name}"
            compared += 1
        assert compared > 30


def test_each_council_applies_its_own_mitigation_log_where_it_has_one(warehouses):
    """One shared log gave every council of a region the same block transfer in pounds, the same
    delivery costs and owners: a council's own (mitigations.yml in its folder) is its plan, the
    shared one (HIGHNEEDS_MITIGATIONS) the others'; its refresh alone finds the same file (the
    slice test above holds the two forecasts equal)."""
    from dagster_project.settings import EXAMPLE_MITIGATIONS
    from forecast.mitigations import load_mitigations

    with duckdb.connect(str(warehouses["region"]), read_only=True) as con:
        names = dict(
            con.execute(
                "SELECT la_code, list(DISTINCT mitigation ORDER BY mitigation) "
                "FROM forecast.mitigations GROUP BY 1"
            ).fetchall()
        )
    assert names[ALONE] == ["Own outreach"]
    (other,) = set(COUNCILS) - {ALONE}
    assert names[other] == sorted(m.name for m in load_mitigations(EXAMPLE_MITIGATIONS))
    # and the publication names it: it had said the shared example, and hashed that alone
    from serving.publish import read_publication

    published = read_publication(warehouses["region"].parent / "serving.duckdb")
    assert f"mitigations {ALONE} " in published["forecast_settings"]
    assert f"{ALONE}/mitigations.yml, the others " in published["forecast_settings"]


def test_the_shared_gias_extract_reaches_every_council(warehouses):
    with duckdb.connect(str(warehouses["region"]), read_only=True) as con:
        rows = con.execute(
            "SELECT la_code, source_file FROM staging.stg_reference__establishments "
            "WHERE urn = '999001' ORDER BY la_code"
        ).fetchall()
        # a council's own extract wins over the shared one, whichever was loaded last
        types = dict(
            con.execute(
                "SELECT la_code, establishment_type_code "
                "FROM staging.stg_reference__establishments WHERE urn = '999002'"
            ).fetchall()
        )
    assert rows == [(code, "reference/gias_extract.csv") for code in sorted(COUNCILS)]
    assert types == {ALONE: 7, **{code: 28 for code in COUNCILS if code != ALONE}}


def test_the_summary_names_each_council_and_the_report_sets_them_side_by_side(warehouses):
    out = warehouses["region_output"]
    assert "Refresh succeeded" in out
    for code in COUNCILS:
        assert f"Council {code}" in out
    html = (warehouses["region"].parent / "report" / "internal" / "report.html").read_text()
    assert "Every council in this warehouse" in html
    table = html.split("Every council in this warehouse", 1)[1]
    for code in COUNCILS:
        assert f">{code}<" in table
    own = (warehouses[ALONE].parent / "report" / "internal" / "report.html").read_text()
    assert "Every council in this warehouse" not in own


def test_a_trace_says_whose_figure_and_traces_it_in_that_council(warehouses, tmp_path, monkeypatch):
    """With many councils a trace needs --la; with it, the rows behind the council's mart figure
    are that council's, and add up to it, as in its own warehouse."""
    with duckdb.connect(str(warehouses["region"]), read_only=True) as con:
        year, provision, spend = con.execute(
            "SELECT financial_year, provision_type, spend_gbp FROM marts.fct_provision_spend "
            "WHERE la_code = ? AND spend_gbp > 0 ORDER BY spend_gbp DESC LIMIT 1",
            [ALONE],
        ).fetchone()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HIGHNEEDS_WAREHOUSE", str(warehouses["region"]))
    out = io.StringIO()
    arguments = ["trace", "spend", "--year", year, "--provision", provision]
    with contextlib.redirect_stdout(out):
        assert main(arguments) == 2
    assert "say whose figure with --la" in " ".join(out.getvalue().split())
    # a council it does not hold is named as such (it was asked to say whose figure again)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([*arguments, "--la", "999"]) == 2
    assert "not council 999: name one of those with --la" in " ".join(out.getvalue().split())
    rows = {}
    for name in ("region", ALONE):
        monkeypatch.setenv("HIGHNEEDS_WAREHOUSE", str(warehouses[name]))
        csv = tmp_path / f"{name}.csv"
        with contextlib.redirect_stdout(io.StringIO()):
            assert main([*arguments, "--la", ALONE, "--out", str(csv)]) == 0  # they match
        rows[name] = sorted(csv.read_text().splitlines()[1:])
    assert len(rows["region"]) > 0
    # the same transactions (their file hashes and names aside, as the landing folder names them)
    assert [r.split(",")[:4] for r in rows["region"]] == [r.split(",")[:4] for r in rows[ALONE]]
    assert float(spend) > 0


def _region_copy(warehouses, tmp_path: Path) -> tuple[Path, Path, Path]:
    """The region's folder (its last refresh), a copy of it to refresh again, and a copy of its
    landing folder to change."""
    region = warehouses["region"].parent
    folder = tmp_path / "region"
    shutil.copytree(region, folder, ignore=shutil.ignore_patterns("landing"))
    landing = tmp_path / "landing"
    shutil.copytree(warehouses["region_landing"], landing)
    return region, folder, landing


def _costly_placement(council: Path) -> None:
    """A placement costing £9.5m a year in `council`'s folder: its placement cost gate fails."""
    (council / "placements" / "correction.csv").write_text(
        "placement_id,child_id,urn,ukprn,sen_setting,establishment_name,establishment_type_code,"
        "sen_unit,resourced_provision,residential,start_date,end_date,annual_cost\n"
        "PL9999999,C0000001,,10013535,,Heathwell College,18,,,,2023-09-01,,9500000\n"
    )


def test_a_council_whose_gate_fails_keeps_its_last_good_figures_while_the_others_publish(
    warehouses, tmp_path, monkeypatch
):
    """825's new placement costs £9.5m a year (its placement cost gate fails) while 869 sends a
    correcting payment: 869's figures are this refresh's, 825's stay as the last version served
    them, and meta.councils says whose figures are whose."""
    region, folder, landing = _region_copy(warehouses, tmp_path)
    _costly_placement(landing / "825")
    (landing / "869" / "finance" / "correction.csv").write_text(
        "transaction_id,posting_date,amount,s251_line,child_id,placement_id,provider_urn,"
        "provider_ukprn,supplier_name,cost_centre,description\n"
        "T999999901,2024-05-31,1234.56,1.0.2,,,,,Correction,HN100,Place funding correction\n"
    )
    report = folder / "report" / "internal" / "report.html"
    last_report = report.read_bytes()
    out = " ".join(refresh(folder, landing, None, expect=3).split())
    assert "HELD raw/placements" not in out  # the placements loaded: their costs failed
    assert "HELD intermediate/int_placements_classified · placement_costs_within_bounds" in out
    assert "council 825 held (the serving file keeps what it last published of it" in out
    assert "Council 825: held" in out and "Council 869" in out
    assert "Refresh published, but council 825 failed a gate" in out
    assert report.read_bytes() == last_report  # the report is of 825 (the first council)
    # and the summary says so: its "every council" table holds 869's earlier figures too
    assert "The report is the last good one, from refresh run " in out
    assert "`highneeds report --la CODE --out DIR` draws another council's from this refresh" in (
        out
    )
    with duckdb.connect(str(folder / "serving.duckdb"), read_only=True) as con:
        con.execute(f"ATTACH '{region / 'serving.duckdb'}' AS last (READ_ONLY)")
        con.execute(f"ATTACH '{folder / 'warehouse.duckdb'}' AS wh (READ_ONLY)")
        (now,) = con.execute("SELECT version_id FROM meta.publication").fetchone()
        (before,) = con.execute("SELECT version_id FROM last.meta.publication").fetchone()
        councils = con.execute(
            "SELECT la_code, figures, figures_version_id, held_because FROM meta.councils "
            "ORDER BY la_code"
        ).fetchall()
        assert [c[:3] for c in councils] == [
            ("825", "last good", before),
            ("869", "this refresh", now),
        ]
        assert "placement_costs_within_bounds" in councils[0][3] and councils[1][3] is None
        # each landing file names its council, to be read beside meta.councils
        assert con.execute(
            "SELECT la_code, bool_and(file_name LIKE la_code || '/%' OR extract = 'gias') "
            "FROM meta.source_files GROUP BY 1 ORDER BY 1"
        ).fetchall() == [("825", True), ("869", True)]
        served = con.execute(
            "SELECT DISTINCT table_schema, table_name FROM information_schema.columns "
            "WHERE table_catalog = current_database() AND column_name = 'la_code' "
            "AND table_schema IN ('marts', 'forecast', 'published') ORDER BY ALL"
        ).fetchall()
        assert len(served) > 20
        for schema, name in served:
            for code, other in (("825", "last"), ("869", "wh")):
                if other == "wh" and schema == "published":
                    continue  # computed at publish: not a warehouse table
                columns = ", ".join(
                    f'"{c}"'
                    for (c,) in con.execute(
                        "SELECT column_name FROM information_schema.columns "
                        "WHERE table_catalog = current_database() AND table_schema = ? "
                        "AND table_name = ?",
                        [schema, name],
                    ).fetchall()
                )
                # (served money is DOUBLE, the warehouse's DECIMAL: compared as DOUBLE)
                ours = f"SELECT {columns} FROM {schema}.{name} WHERE la_code = '{code}'"
                theirs = f"SELECT {columns} FROM {other}.{schema}.{name} WHERE la_code = '{code}'"
                differ = con.execute(
                    f"SELECT (SELECT count(*) FROM ({ours} EXCEPT ALL {theirs})) "
                    f"+ (SELECT count(*) FROM ({theirs} EXCEPT ALL {ours}))"
                ).fetchone()[0]
                assert differ == 0, f"{schema}.{name} council {code} against {other}"
        # 869's correcting payment is in its served spend; 825's bad placement is not served
        spend = "SELECT sum(spend_gbp) FROM {}marts.fct_provision_spend WHERE la_code = '869'"
        assert con.execute(spend.format("")).fetchone()[0] == pytest.approx(
            con.execute(spend.format("last.")).fetchone()[0] + 1234.56
        )
        assert (
            con.execute(
                "SELECT count(*) FROM wh.intermediate.int_placements_classified "
                "WHERE placement_id = 'PL9999999'"
            ).fetchone()[0]
            == 1
        )
        assert (
            con.execute(
                "SELECT count(*) FROM wh.forecast.hnb_position WHERE la_code = '825'"
            ).fetchone()[0]
            == 0
        )  # not forecast: the serving file keeps its last good forecast
    # the report's comparison of councils shows why 825 is held, not its figures
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as con:
        compared = compare_councils(con).set_index("Council (old LA code)")
        # and 869's report does not count 825's failed check against 869's figures
        reading = " ".join(_quality_reading(read_report_data(con, "869")).split())
    assert "gates) passed in the latest refresh; the one failed held council 825 at its last " in (
        reading
    )
    assert "this council's figures passed every check." in reading
    assert compared.loc["825", "Figures"].startswith(
        "held at its last good figures: intermediate/int_placements_classified · "
        "placement_costs_within_bounds: 1 placement(s) outside bounds, e.g. "
        "825/placements/correction.csv:2 placement PL9999999"
    )
    assert compared.loc["825"].drop("Figures").isna().all()
    assert compared.loc["869", "Figures"] == "this refresh" and compared.loc["869", "EHC plans"] > 0
    # and `highneeds report` will not draw a report of the figures that failed
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HIGHNEEDS_WAREHOUSE", str(folder / "warehouse.duckdb"))
    monkeypatch.setenv("HIGHNEEDS_SERVING", str(folder / "serving.duckdb"))
    monkeypatch.setenv("HIGHNEEDS_LANDING", str(landing))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["report", "--la", "825", "--out", str(tmp_path / "report")]) == 1
    assert "No report built: The report is of council 825, held" in " ".join(out.getvalue().split())
    assert not (tmp_path / "report").exists()
    # a refresh that holds the report's council, which no refresh had drawn, says there is no
    # report (it said nothing: the councils it published looked reported)
    from rich.console import Console

    from dagster_project.cli.summary import print_report_location
    from dagster_project.settings import load_settings

    settings = load_settings(
        {"HIGHNEEDS_WAREHOUSE": str(folder / "warehouse.duckdb")}, dotenv=tmp_path / "none.env"
    )
    shutil.rmtree(folder / "report")
    console = Console(file=io.StringIO(), width=300)
    print_report_location(settings, console, "this-run")
    said = " ".join(console.file.getvalue().split())
    assert said.startswith("No report: its council (825, HIGHNEEDS_LA_CODE or else the "), said
    assert "`highneeds report --la CODE` draws another council's" in said


def test_a_report_is_of_a_council_the_warehouse_holds_and_named_only_as_its_own(
    warehouses, tmp_path, monkeypatch
):
    """`report --la` for a council the warehouse does not hold is refused (it drew another
    council's figures under the asked council's name and benchmarks); HIGHNEEDS_COUNCIL_NAME
    names HIGHNEEDS_LA_CODE's council only, not another one --la asks for."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HIGHNEEDS_WAREHOUSE", str(warehouses["region"]))
    monkeypatch.setenv("HIGHNEEDS_LA_CODE", "869")
    monkeypatch.setenv("HIGHNEEDS_COUNCIL_NAME", "Testshire Council")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["report", "--la", "826", "--out", str(tmp_path / "r826")]) == 1
    said = " ".join(out.getvalue().split())
    assert "council 826 is not in this warehouse (it holds 825, 869)" in said
    assert not (tmp_path / "r826").exists()
    # another council's report is not written over the folder served beside the serving file
    # (a held council's last good report was replaced, and the next summary hid it)
    monkeypatch.setenv("HIGHNEEDS_REPORT_DIR", str(tmp_path / "served"))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["report", "--la", "825"]) == 1
    said = " ".join(out.getvalue().split())
    assert "holds council 869's report" in said and "--la 825 --out DIR" in said
    assert not (tmp_path / "served").exists()
    previous = os.umask(0o022)  # a shell's default: the internal report was world-readable
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["report", "--la", "825", "--out", str(tmp_path / "r825")]) == 0
            assert main(["report", "--out", str(tmp_path / "r869")]) == 0
    finally:
        os.umask(previous)
    internal = tmp_path / "r825" / "internal"
    assert stat.S_IMODE((internal / "report.html").stat().st_mode) == 0o600
    assert stat.S_IMODE(internal.stat().st_mode) == 0o700
    assert "Testshire" not in (tmp_path / "r825" / "internal" / "report.html").read_text()
    assert "Testshire" in (tmp_path / "r869" / "internal" / "report.html").read_text()


def test_the_summary_says_when_the_report_is_not_of_the_council_asked_for(warehouses, tmp_path):
    """HIGHNEEDS_LA_CODE naming a council whose folder went (or was misnamed): the report is the
    warehouse's first council's, and the summary said nothing of it."""
    from rich.console import Console

    from dagster_project.cli.summary import _print_report_council
    from dagster_project.settings import load_settings

    def said(code: str) -> str:
        settings = load_settings(
            {"HIGHNEEDS_WAREHOUSE": str(warehouses["region"]), "HIGHNEEDS_LA_CODE": code},
            dotenv=tmp_path / "none.env",
        )
        console = Console(file=io.StringIO(), width=200)
        _print_report_council(settings, settings.la_code, console)
        return " ".join(console.file.getvalue().split())

    assert said("869") == ""
    assert "The report is of council 825, not 826" in said("826")


def test_a_verbatim_trace_reads_a_councils_files_back_in_a_region(warehouses, monkeypatch):
    """In a landing folder of several councils a file's identity is its SHA-256 with its
    council's code: `trace --verbatim` must find the untouched file the one loaded, not say it
    changed."""
    region = warehouses["region"]
    with duckdb.connect(str(region), read_only=True) as con:
        year, provision = con.execute(
            "SELECT financial_year, provision_type FROM marts.fct_provision_spend "
            "WHERE la_code = ? AND spend_gbp > 0 ORDER BY spend_gbp DESC LIMIT 1",
            [ALONE],
        ).fetchone()
    monkeypatch.chdir(region.parent)
    monkeypatch.setenv("HIGHNEEDS_WAREHOUSE", str(region))
    monkeypatch.setenv("HIGHNEEDS_LANDING", str(region.parent / "landing"))
    traced = region.parent / "verbatim.csv"
    arguments = ["trace", "spend", "--year", year, "--provision", provision, "--la", ALONE]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main([*arguments, "--verbatim", "--out", str(traced)]) == 0
    with traced.open() as handle:
        statuses = {row["landing_status"] for row in csv.DictReader(handle)}
    assert statuses == {"verbatim"}


def test_every_council_held_by_a_gate_of_its_own_stops_the_refresh_naming_them(
    warehouses, tmp_path
):
    """825's placement cost gate fails and 869's finance file is rejected: each gate holds one
    council, so no council is left to publish. The refresh stops naming both, as one gate
    failing for every council does (the forecast step failed with 'The marts hold no council's
    figures'), and the serving file stays the last good one."""
    region, folder, landing = _region_copy(warehouses, tmp_path)
    _costly_placement(landing / "825")
    (landing / "869" / "finance" / "no_amounts.csv").write_text(
        "transaction_id,posting_date,s251_line\nT999999902,2024-05-31,1.0.2\n"
    )
    last = (folder / "serving.duckdb").read_bytes()
    out = " ".join(refresh(folder, landing, None, expect=1).split())
    assert "Every council is held by the gates (825: " in out
    assert "; 869: " in out
    assert "The marts hold no council's figures" not in out
    assert (folder / "serving.duckdb").read_bytes() == last


def test_a_council_whose_figures_cannot_be_forecast_is_held_while_the_others_publish(
    warehouses, tmp_path
):
    """825's extracts hold one financial year: every gate passes, but its cohort model needs a
    ledger reaching back three censuses, so its forecast cannot be fitted. That stopped every
    council's forecast and publish; 825 is now held as a failed gate holds it, and 869's figures
    are published."""
    landing = tmp_path / "landing"
    shutil.copytree(warehouses["region_landing"] / "869", landing / "869")
    shutil.copytree(warehouses["region_landing"] / "reference", landing / "reference")
    generate(landing / "825", children=210, first_year=2024, last_year=2024, seed=11)
    folder = tmp_path / "region"
    folder.mkdir()
    out = " ".join(refresh(folder, landing, None, expect=3).split())
    assert "forecast/caseload · forecast_fitted" in out
    assert "council 825: its figures cannot be forecast: " in out
    assert "has no figures of 825: no earlier refresh published them" in out
    with duckdb.connect(str(folder / "serving.duckdb"), read_only=True) as con:
        councils = con.execute(
            "SELECT la_code, figures, held_because FROM meta.councils ORDER BY la_code"
        ).fetchall()
        assert [c[:2] for c in councils] == [("825", "none"), ("869", "this refresh")]
        assert "forecast_fitted" in councils[0][2]
        # the served check results name the check that held it
        assert con.execute(
            "SELECT passed, severity FROM meta.check_results WHERE check_name = 'forecast_fitted'"
        ).fetchall() == [(False, "WARN")]
        assert con.execute("SELECT DISTINCT la_code FROM forecast.hnb_position").fetchall() == [
            ("869",)
        ]
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as con:
        # held as a failed gate holds a council: the report and the publish read this
        held = con.execute("SELECT la_code, check_name FROM meta.held_councils").fetchall()
        # the report's comparison of councils (a report of 869) does not say 825 has last good
        # figures: no refresh published any
        compared = compare_councils(con, served_figures(folder / "serving.duckdb"))
    assert held == [("825", "forecast_fitted")]
    assert (
        compared.set_index("Council (old LA code)")
        .loc["825", "Figures"]
        .startswith("held, with no figures published yet: forecast/caseload · forecast_fitted: ")
    )


def test_a_kept_report_of_another_council_says_whose_it_is(warehouses, tmp_path):
    """HIGHNEEDS_LA_CODE naming a council held by a gate, the report folder holding another
    council's report from an earlier refresh: the summary said the report was the held
    council's last good one, and a finance officer read council 825's figures as 869's."""
    import json

    from rich.console import Console

    from dagster_project.cli.summary import print_report_location
    from dagster_project.settings import load_settings
    from report.folder import LAST_BUILD

    for audience in ("internal", "publication"):
        (tmp_path / audience).mkdir()
        (tmp_path / audience / "report.html").write_text("<html></html>")

    def said(asked: str, kept: str) -> str:
        (tmp_path / LAST_BUILD).write_text(json.dumps({"run_id": "earlier", "la_code": kept}))
        settings = load_settings(
            {
                "HIGHNEEDS_WAREHOUSE": str(warehouses["region"]),
                "HIGHNEEDS_LA_CODE": asked,
                "HIGHNEEDS_REPORT_DIR": str(tmp_path),
            },
            dotenv=tmp_path / "none.env",
        )
        console = Console(file=io.StringIO(), width=400)
        print_report_location(settings, console, run_id="this")
        return " ".join(console.file.getvalue().split())

    other = said("869", "825")
    assert "from refresh run earlier: it is council 825's, not 869's: council 869" in other
    own = said("869", "869")
    assert "from refresh run earlier: its council was held by a gate this refresh" in own
    assert "not 869's" not in own
