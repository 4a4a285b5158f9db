"""The nightly case: only new finance files arrived, and the ledger's models take just their rows
(ingest/increment.py decides; dbt/macros/ledger_increment.sql builds). The tables must be those a
whole build gives, row for row."""

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

from checks import gates
from ingest import increment
from ingest.contracts import EXTRACTS
from tests.conftest import HANDWRITTEN_LANDING, REPO_ROOT
from tests.dbt.conftest import dbt_build, ingest

DBT_DIR = REPO_ROOT / "dbt"
HEADER = (
    "transaction_id,posting_date,amount,s251_line,child_id,placement_id,provider_urn,"
    "provider_ukprn,supplier_name,cost_centre,description\n"
)
# a new month: a child's top-up, central spend, and a corrected earlier transaction (TX00002)
NEW_MONTH = HEADER + (
    "TX90001,30/04/2024,625.00,1.2.1,K001,PL01,110001,,Riverside Primary,HN01,Top-up\n"
    "TX90002,30/04/2024,1200.00,1.2.5,,,,,Sensory support service,HN02,Outreach\n"
    "TX00002,30/04/2021,700.00,1.2.2,K002,PL03,110003,,Hill Academy,HN01,Top-up (corrected)\n"
)


def tables(warehouse: Path) -> list[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return [
            f"{schema}.{name}"
            for schema, name in con.execute(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_schema IN ('staging', 'intermediate', 'marts') ORDER BY ALL"
            ).fetchall()
        ]


def differences(one: Path, other: Path) -> dict[str, tuple[int, int]]:
    """Per table, the rows only in `one` and only in `other` (EXCEPT ALL both ways)."""
    found = {}
    with duckdb.connect(str(one), read_only=True) as con:
        con.execute(f"ATTACH '{other}' AS other (READ_ONLY)")
        for table in tables(one):
            schema, name = table.split(".")
            mine = f'{schema}."{name}"'
            theirs = f'other.{schema}."{name}"'
            only_mine = con.execute(
                f"SELECT count(*) FROM (FROM {mine} EXCEPT ALL FROM {theirs})"
            ).fetchone()[0]
            only_theirs = con.execute(
                f"SELECT count(*) FROM (FROM {theirs} EXCEPT ALL FROM {mine})"
            ).fetchone()[0]
            if only_mine or only_theirs:
                found[table] = (only_mine, only_theirs)
    return found


def build(warehouse: Path, *args: str, **kwargs) -> None:
    completed = dbt_build(warehouse, *args, **kwargs)
    assert completed.returncode == 0, completed.stdout[-4000:]


@pytest.fixture(scope="module")
def built_once(tmp_path_factory) -> tuple[Path, Path]:
    """The hand-written landing folder ingested and built whole, its build recorded: once per
    module (a build is half a minute), each test working on its own copy (`built`)."""
    folder = tmp_path_factory.mktemp("built_once")
    landing = folder / "landing"
    shutil.copytree(HANDWRITTEN_LANDING, landing)
    warehouse = folder / "warehouse.duckdb"
    ingest(warehouse, landing)
    build(warehouse)
    with duckdb.connect(str(warehouse)) as con:
        increment.record(con, DBT_DIR)
    return landing, warehouse


@pytest.fixture
def built(built_once, tmp_path) -> tuple[Path, Path]:
    """A copy of `built_once`'s landing folder and warehouse, for a test to add files to."""
    landing, warehouse = tmp_path / "landing", tmp_path / "warehouse.duckdb"
    shutil.copytree(built_once[0], landing)
    shutil.copyfile(built_once[1], warehouse)
    return landing, warehouse


def land_a_new_month(
    landing: Path, warehouse: Path, rows: str = NEW_MONTH, name: str = "ledger_2024_04.csv"
) -> increment.LedgerBuild:
    """The new month dropped in and ingested; the plan for the next build."""
    (landing / "finance" / name).write_text(rows)
    ingest(warehouse, landing)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return increment.plan(con, DBT_DIR)


def test_a_new_month_of_finance_builds_incrementally_to_the_tables_a_whole_build_gives(
    built, tmp_path
):
    landing, warehouse = built
    ledger = land_a_new_month(landing, warehouse)
    assert ledger.incremental and ledger.new_files == 1, ledger
    whole = tmp_path / "whole.duckdb"
    by_hand = tmp_path / "by_hand.duckdb"
    shutil.copyfile(warehouse, whole)
    shutil.copyfile(warehouse, by_hand)

    build(warehouse, extra_vars=ledger.dbt_vars())
    # the build read only the new file's rows
    compiled = tmp_path / "dbt-target" / "compiled" / "highneeds" / "models"
    for model in (
        "staging/finance/stg_finance__transactions",
        "intermediate/int_spend_allocated",
        "intermediate/int_data_quality_flags",
    ):
        sql = (compiled / f"{model}.sql").read_text()
        assert f"file_seq > {ledger.after_file_seq}" in sql, model
    build(whole, "--full-refresh")
    # `dbt build` by hand, with no increment given, on tables already built: whole again
    build(by_hand)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        corrected = con.execute(
            "SELECT amount_gbp::DOUBLE, count(*) OVER () FROM intermediate.int_spend_allocated "
            "WHERE transaction_id = 'TX00002'"
        ).fetchall()
        new = con.execute(
            "SELECT count(*) FROM intermediate.int_spend_allocated "
            "WHERE transaction_id IN ('TX90001', 'TX90002')"
        ).fetchone()[0]
    assert corrected == [(700.0, 1)] and new == 2  # the correction replaced the old version
    # the staging gate: the new file's rows all in staging (matched file by file), the first
    # file's corrected row superseded (found row by row)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        gate = gates.staging_accounting(
            con, EXTRACTS["finance"], "staging.stg_finance__transactions", ("transaction_id",)
        )
    assert gate.passed, gate.summary
    assert gate.facts.loc[0, "rows_superseded"] == 1
    assert differences(warehouse, whole) == {}
    assert differences(by_hand, whole) == {}


def test_an_increment_adds_and_removes_the_data_quality_flags_of_its_transactions(built, tmp_path):
    landing, warehouse = built

    def flags() -> set[tuple[str, str]]:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return set(
                con.execute(
                    "SELECT record_key, flag FROM intermediate.int_data_quality_flags "
                    "WHERE extract = 'finance'"
                ).fetchall()
            )

    assert flags() == set()
    # TX00003 re-issued for a placement no extract has; a new payment for an unknown child
    ledger = land_a_new_month(
        landing,
        warehouse,
        HEADER + "TX00003,30/04/2021,1833.33,1.2.1,K003,PL77,140005,,Castle Special School,HN01,"
        "Top-up\nTX90003,31/05/2024,50.00,1.2.1,K999,,,,Riverside Primary,HN01,Top-up\n",
        "ledger_2024_05.csv",
    )
    assert ledger.incremental
    build(warehouse, extra_vars=ledger.dbt_vars())
    with duckdb.connect(str(warehouse)) as con:
        increment.record(con, DBT_DIR)
    assert flags() == {
        ("TX00003", "payment_for_unknown_placement"),
        ("TX90003", "payment_for_unknown_child"),
    }
    # corrected again, to the placement it was: its flag goes
    ledger = land_a_new_month(
        landing,
        warehouse,
        HEADER + "TX00003,30/04/2021,1833.33,1.2.1,K003,PL06,140005,,Castle Special School,HN01,"
        "Top-up\n",
        "ledger_2024_06.csv",
    )
    assert ledger.incremental
    whole = tmp_path / "whole.duckdb"
    shutil.copyfile(warehouse, whole)
    build(warehouse, extra_vars=ledger.dbt_vars())
    assert flags() == {("TX90003", "payment_for_unknown_child")}
    build(whole, "--full-refresh")
    assert differences(warehouse, whole) == {}


def test_anything_but_new_finance_files_rebuilds_the_ledger_whole(built):
    landing, warehouse = built
    with duckdb.connect(str(warehouse), read_only=True) as con:
        nothing_new = increment.plan(con, DBT_DIR)
    assert nothing_new.incremental and nothing_new.new_files == 0
    # another extract's file changes: its rows can change every payment's provision type
    placements = landing / "placements" / "placements.csv"
    placements.write_text(placements.read_text() + "\n")
    ingest(warehouse, landing)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        ledger = increment.plan(con, DBT_DIR)
    assert not ledger.incremental and "other than finance" in ledger.reason
    with duckdb.connect(str(warehouse)) as con:
        increment.record(con, DBT_DIR)
    # a finance file written over with a corrected one: said as replaced (it had read as a
    # file that left the landing folder)
    first = landing / "finance" / "ledger_2021_2024.csv"
    kept = first.read_text()
    first.write_text(
        kept.rstrip("\n") + "\nTX00999,30/04/2021,10.00,1.2.5,,,,,Outreach,HN02,Added\n"
    )
    ingest(warehouse, landing)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        ledger = increment.plan(con, DBT_DIR)
    assert not ledger.incremental
    assert ledger.reason == "1 finance file(s) replaced (finance/ledger_2021_2024.csv)"
    first.write_text(kept)
    ingest(warehouse, landing)
    # a finance file leaves the landing folder: its rows must go
    (landing / "finance" / "ledger_2021_2024.csv").unlink()
    (landing / "finance" / "ledger_2024_04.csv").write_text(NEW_MONTH)
    ingest(warehouse, landing)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        ledger = increment.plan(con, DBT_DIR)
    assert not ledger.incremental and "left the landing folder" in ledger.reason
    # a whole build that fails part way must not leave a plan for an increment
    with duckdb.connect(str(warehouse)) as con:
        increment.forget(con, "1 finance file(s) left the landing folder")
        again = increment.plan(con, DBT_DIR)
        assert not again.incremental
        assert again.reason == "1 finance file(s) left the landing folder"


def test_rejected_files_of_another_extract_do_not_rebuild_the_ledger_every_night(built):
    landing, warehouse = built
    # two placements files without the required columns: rejected, and tried again at every
    # refresh, each taking a new load sequence after the other's
    for name in ("placements_notes.csv", "placements_old.csv"):
        (landing / "placements" / name).write_text("note,author\nchecked,AB\n" + name + "\n")
    ingest(warehouse, landing)
    with duckdb.connect(str(warehouse)) as con:
        assert con.execute(
            "SELECT status, count(*) FROM raw.placements_files WHERE file_name LIKE '%notes%' "
            "OR file_name LIKE '%old%' GROUP BY ALL"
        ).fetchall() == [("rejected", 2)]
        assert not increment.plan(con, DBT_DIR).incremental  # a file arrived: whole, once
        increment.record(con, DBT_DIR)
    ingest(warehouse, landing)  # the next night: the same files, the rejected one read again
    with duckdb.connect(str(warehouse), read_only=True) as con:
        ledger = increment.plan(con, DBT_DIR)
    assert ledger.incremental and ledger.new_files == 0, ledger


def test_a_change_to_the_dbt_project_rebuilds_the_ledger_whole(tmp_path):
    project = tmp_path / "dbt"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text("name: x\n")
    (project / "models" / "a.sql").write_text("select 1\n")
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        assert increment.plan(con, project).reason == "no earlier build is recorded"
        con.execute("CREATE SCHEMA staging; CREATE SCHEMA intermediate")
        for schema, name in increment.LEDGER_MODELS:
            con.execute(f"CREATE TABLE {schema}.{name} (x INTEGER)")
        increment.record(con, project)
        assert increment.plan(con, project).incremental
        (project / "models" / "a.sql").write_text("select 2\n")
        assert "dbt project" in increment.plan(con, project).reason


def test_after_an_increment_the_uniqueness_tests_count_the_increments_ids_and_weekly_every_id(
    built, monkeypatch
):
    landing, warehouse = built
    ledger = land_a_new_month(landing, warehouse)
    # the last build checked every id just now: the increment's tests count its own ids
    assert not ledger.whole_checks and ledger.checks_after_file_seq == ledger.after_file_seq
    scoped = ledger.dbt_vars()
    assert scoped["ledger_checks_after_file_seq"] == ledger.after_file_seq
    build(warehouse, extra_vars=scoped)

    def uniqueness_passes(checks_after: int | None) -> bool:
        variables = {**scoped, "ledger_checks_after_file_seq": checks_after}
        done = dbt_build(warehouse, "--select", "test_name:unique_ledger_id", extra_vars=variables)
        return done.returncode == 0

    def duplicate(transaction_id: str) -> None:
        """A second row for the id, from the file the id's row came from."""
        with duckdb.connect(str(warehouse)) as con:
            con.execute(
                "INSERT INTO staging.stg_finance__transactions "
                "SELECT * FROM staging.stg_finance__transactions WHERE transaction_id = ?",
                [transaction_id],
            )

    assert uniqueness_passes(ledger.after_file_seq) and uniqueness_passes(None)
    # a duplicate among the increment's ids is found by the increment's test
    duplicate("TX90001")
    assert not uniqueness_passes(ledger.after_file_seq)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "DELETE FROM staging.stg_finance__transactions WHERE rowid = "
            "(SELECT max(rowid) FROM staging.stg_finance__transactions "
            "WHERE transaction_id = 'TX90001')"
        )
    # one among the rows no increment touched (only a hand edit makes it) waits for a whole check
    duplicate("TX00001")
    assert uniqueness_passes(ledger.after_file_seq) and not uniqueness_passes(None)

    # an increment's build records when every id was last checked, and keeps that time
    with duckdb.connect(str(warehouse)) as con:
        checked = increment.recorded_state(con)["whole_checked_at"]
        increment.record(con, DBT_DIR, whole_checks=False)
        assert increment.recorded_state(con)["whole_checked_at"] == checked
        monkeypatch.setattr(
            increment,
            "_now",
            lambda: (
                increment.datetime.fromisoformat(checked)
                + increment.timedelta(days=increment.WHOLE_CHECK_DAYS)
            ),
        )
        week_on = increment.plan(con, DBT_DIR)
    assert week_on.incremental and week_on.whole_checks and week_on.checks_after_file_seq is None
    assert "every id checked" in week_on.describe()


def _march_file_and_its_correction(finance: Path) -> None:
    """March's ledger file, with TX90004 posted ahead of the 31 March extract date (held back
    until 15 April) and TX90001 at £625, and the later file correcting TX90001 to £700."""
    (finance / "ledger_2026_03.csv").write_text(
        HEADER + "TX90001,30/03/2026,625.00,1.2.1,K001,PL01,110001,,Riverside Primary,HN01,Top-up\n"
        "TX90004,15/04/2026,300.00,1.2.5,,,,,Sensory support service,HN02,Outreach\n"
    )
    (finance / "ledger_2026_03_corrections.csv").write_text(
        HEADER + "TX90001,30/03/2026,700.00,1.2.1,K001,PL01,110001,,Riverside Primary,HN01,"
        "Top-up (corrected)\n"
    )


def test_a_file_read_again_when_its_date_has_come_keeps_its_place_and_rebuilds_the_ledger_whole(
    built, tmp_path
):
    """March's file holds a payment posted ahead of the extract date (held back until then) and
    TX90001, which a later file corrects. Read again once the date had come, the March file took
    a new load sequence and outranked the correction: TX90001 went back to £625, green. It keeps
    its place now, and the ledger is rebuilt whole (an increment would let its rows replace the
    later file's)."""
    landing, warehouse = built
    _march_file_and_its_correction(landing / "finance")
    ingest(warehouse, landing)  # 31 March: TX90004 is held back
    with duckdb.connect(str(warehouse), read_only=True) as con:
        ledger = increment.plan(con, DBT_DIR)
    assert ledger.incremental and ledger.new_files == 2, ledger
    build(warehouse, extra_vars=ledger.dbt_vars())
    with duckdb.connect(str(warehouse)) as con:
        increment.record(con, DBT_DIR)

    day = dt.date(2026, 4, 16)
    ingest(warehouse, landing, day)  # the March file is read again
    with duckdb.connect(str(warehouse), read_only=True) as con:
        ledger = increment.plan(con, DBT_DIR)
    assert not ledger.incremental and "read again" in ledger.reason, ledger
    build(warehouse, extra_vars=ledger.dbt_vars())
    with duckdb.connect(str(warehouse), read_only=True) as con:
        amounts = con.execute(
            "SELECT transaction_id, amount_gbp::DOUBLE FROM staging.stg_finance__transactions "
            "WHERE transaction_id IN ('TX90001', 'TX90004') ORDER BY ALL"
        ).fetchall()
    assert amounts == [("TX90001", 700.0), ("TX90004", 300.0)]
    # as a warehouse that first read the files that day has them
    fresh = tmp_path / "fresh.duckdb"
    ingest(fresh, landing, day)
    build(fresh)
    assert differences(warehouse, fresh) == {}


def test_a_finance_file_rejected_when_read_again_and_loaded_since_rebuilds_the_ledger_whole(
    built, monkeypatch
):
    """Rejected on its re-read, March's file loads on a later refresh keeping its first place but
    as a file the last build never saw: an increment would let its rows replace a later file's
    version of the same transaction."""
    import ingest.load as load_module

    landing, warehouse = built
    _march_file_and_its_correction(landing / "finance")
    ingest(warehouse, landing)
    with duckdb.connect(str(warehouse)) as con:
        increment.record(con, DBT_DIR)
    real = load_module.match_headers

    def refuse(*args, **kwargs):
        raise load_module.FileRejected("refused this time")

    monkeypatch.setattr(load_module, "match_headers", refuse)
    ingest(warehouse, landing, dt.date(2026, 4, 16))  # read again, and rejected
    with duckdb.connect(str(warehouse)) as con:
        increment.record(con, DBT_DIR)  # a build without it
    monkeypatch.setattr(load_module, "match_headers", real)
    ingest(warehouse, landing, dt.date(2026, 4, 17))  # loaded, keeping its place
    with duckdb.connect(str(warehouse), read_only=True) as con:
        ledger = increment.plan(con, DBT_DIR)
    assert not ledger.incremental and "read again" in ledger.reason, ledger
