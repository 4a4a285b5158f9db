"""The serving file: built beside the old one, closed, swapped in atomically; ids re-keyed;
personal columns refused; a publish killed at any point leaves the last good file."""

import os
import signal
import stat
import struct
import subprocess
import sys
import textwrap

import duckdb
import pytest

from ingest.pseudonymise import keyed_hash
from serving.publish import (
    PublishError,
    ServingOptions,
    publish,
    read_publication,
    remove_stale_builds,
    served_version,
)
from tests.conftest import REPO_ROOT

WAREHOUSE_SQL = """
CREATE SCHEMA marts; CREATE SCHEMA forecast; CREATE SCHEMA meta;
CREATE TABLE marts.fct_ehcp_cohort AS
    SELECT '869' AS la_code, 2025 AS census_year, need AS primary_need, '5 to 10' AS age_group,
           '5 to 10' AS age_at_plan_start_band,
           provision AS provision_type,
           (hash(need || provision) % 12)::BIGINT AS plans
    FROM (VALUES ('ASD'), ('SEMH'), ('MLD')) n(need),
         (VALUES ('mss'), ('inmss'), ('mainstream')) p(provision);
COMMENT ON TABLE marts.fct_ehcp_cohort IS 'EHC plans on each census.';
COMMENT ON COLUMN marts.fct_ehcp_cohort.plans IS 'Plans.';
CREATE TABLE marts.fct_provision_spend AS
    SELECT '869' AS la_code, '2024-25' AS financial_year, provision AS provision_type,
           placements::BIGINT AS placements,
           (placements * 30000)::DECIMAL(18, 2) AS spend_gbp,
           30000::DECIMAL(18, 2) AS unit_cost_gbp,
           CASE provision WHEN 'mainstream' THEN 4.4 ELSE placements END::DOUBLE AS fte_placements,
           false AS is_complete_year
    FROM (VALUES ('mss', 12), ('inmss', 3), ('mainstream', 40), ('ap', 0)) t(provision, placements);
CREATE TABLE marts.fct_payments AS SELECT 1234567890123456789 AS child_id, 100.0 AS amount;
CREATE TABLE forecast.hnb_position AS
    SELECT 'unmitigated' AS scenario, '2028-29' AS financial_year, -1.5e6 AS balance;
CREATE TABLE meta.check_results AS
    SELECT 'run-1' AS run_id, 'raw/ehcp' AS asset,
           'rows_accounted_for' AS check_name, true AS passed;
"""


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(WAREHOUSE_SQL)
    return path


def publish_from(warehouse, serving, **options):
    with duckdb.connect(str(warehouse)) as con:
        return publish(
            con, serving, run_id="run-1", code_version="abc123", options=ServingOptions(**options)
        )


def read(serving, sql):
    with duckdb.connect(str(serving), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_publish_writes_one_closed_owner_only_file_with_every_schema(warehouse, tmp_path):
    serving = tmp_path / "serving.duckdb"
    publication = publish_from(warehouse, serving)
    # no .wal, no .next
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "serving.duckdb",
        "warehouse.duckdb",
    ]
    assert stat.S_IMODE(serving.stat().st_mode) == 0o600
    schemas = {s for (s,) in read(serving, "SELECT DISTINCT schema_name FROM duckdb_tables()")}
    assert schemas == {"marts", "forecast", "published", "meta"}
    assert read(serving, "SELECT version_id, run_id, code_version FROM meta.publication") == [
        (publication.version_id, "run-1", "abc123")
    ]
    assert read(serving, "SELECT check_name, passed FROM meta.check_results") == [
        ("rows_accounted_for", True)
    ]
    assert publication.tables["marts.fct_ehcp_cohort"] == 9
    # the dbt descriptions travel with the tables, for BI tools that show them
    assert read(
        serving,
        "SELECT comment FROM duckdb_columns() "
        "WHERE table_name = 'fct_ehcp_cohort' AND column_name = 'plans'",
    ) == [("Plans.",)]
    with duckdb.connect(str(serving), read_only=True) as con:
        assert served_version(con)[0] == publication.version_id
    assert read_publication(serving)["version_id"] == publication.version_id


def test_the_serving_file_is_in_a_storage_format_duckdb_1_0_reads(warehouse, tmp_path):
    # BI drivers embed their own DuckDB; storage version 64 is DuckDB 1.0's, read by every 1.x
    # and 2.x (checked by hand with the DuckDB CLI 1.5.6, which refuses our default format)
    serving = tmp_path / "serving.duckdb"
    publish_from(warehouse, serving)
    header = serving.read_bytes()[:20]
    assert header[8:12] == b"DUCK" and struct.unpack_from("<Q", header, 12)[0] == 64


def test_a_group_readable_mode_can_be_chosen(warehouse, tmp_path):
    serving, parquet = tmp_path / "bi" / "serving.duckdb", tmp_path / "bi" / "exports" / "parquet"
    previous = os.umask(0o077)  # as a refresh runs: every file and folder it creates owner-only
    try:
        publish_from(warehouse, serving, file_mode=0o640, parquet_dir=parquet)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(serving.stat().st_mode) == 0o640
    assert {stat.S_IMODE(p.stat().st_mode) for p in parquet.rglob("*.parquet")} == {0o640}
    # the folders the publish created let the BI account's group in too
    folders = [
        serving.parent,
        parquet.parent,
        parquet,
        *(p for p in parquet.rglob("*") if p.is_dir() and not p.is_symlink()),
    ]
    assert {stat.S_IMODE(p.stat().st_mode) for p in folders} == {0o750}


def test_person_ids_are_rekeyed_when_a_serving_key_is_set(warehouse, tmp_path):
    warehouse_id = 1234567890123456789
    publish_from(warehouse, tmp_path / "same.duckdb")
    assert read(tmp_path / "same.duckdb", "SELECT child_id FROM marts.fct_payments") == [
        (warehouse_id,)
    ]
    publish_from(warehouse, tmp_path / "rekeyed.duckdb", serving_key="serving-secret")
    (served_id,) = read(tmp_path / "rekeyed.duckdb", "SELECT child_id FROM marts.fct_payments")[0]
    # the id's digits are hashed again, to a number of the same type
    assert served_id == keyed_hash(str(warehouse_id), "serving-secret") != warehouse_id
    assert read(tmp_path / "rekeyed.duckdb", "SELECT person_ids FROM meta.publication") == [
        ("re-keyed with the serving key",)
    ]


def test_a_personal_column_is_never_published(warehouse, tmp_path):
    serving = tmp_path / "serving.duckdb"
    publish_from(warehouse, serving)
    before = serving.read_bytes()
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE TABLE marts.oops AS SELECT 'RG1 1AA' AS postcode")
    with pytest.raises(PublishError, match="marts.oops.postcode"):
        publish_from(warehouse, serving)
    assert serving.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["serving.duckdb", "warehouse.duckdb"]


def test_published_tables_hide_small_counts(warehouse, tmp_path):
    serving = tmp_path / "serving.duckdb"
    publish_from(warehouse, serving, suppression_threshold=5)
    rows = read(
        serving,
        "SELECT provision_type, placements, spend_gbp, suppressed FROM published.provision_spend "
        "ORDER BY ALL",
    )
    by_provision = {p: (placements, spend, hidden) for p, placements, spend, hidden in rows}
    assert by_provision["inmss"] == (None, None, True)  # 3 placements: hidden, with its spend
    assert by_provision["ap"] == (0, 0, False)  # zero is shown
    # and a complement, so the total does not give it away
    assert sum(hidden for *_, hidden in rows) >= 2
    assert by_provision["total"][0] == 55
    # mainstream: 40 placements shown, but 4.4 full-time places: its unit cost is a few
    # children's, and spend ÷ unit cost would give the places back (the report hides it so)
    unit = dict(
        read(serving, "SELECT provision_type, unit_cost_gbp FROM published.provision_spend")
    )
    assert by_provision["mainstream"][0] == 40 and unit["mainstream"] is None
    shown = read(serving, "SELECT plans FROM published.ehcp_plans_by_need WHERE plans IS NOT NULL")
    assert all(plans == 0 or plans >= 5 for (plans,) in shown)
    # a year the ledger does not cover whole says so on every row, its total's too: a part
    # year's spend had been published beside whole years' as if it were one
    assert read(serving, "SELECT DISTINCT is_complete_year FROM published.provision_spend") == [
        (False,)
    ]


def test_published_money_is_to_the_penny(warehouse, tmp_path):
    """A total row is summed in floating point: 360,000.10 + 1,200,000.20 + 90,000 read
    1650000.2999999998 in a table meant for a schools forum paper."""
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "UPDATE marts.fct_provision_spend SET spend_gbp = CASE provision_type "
            "WHEN 'mss' THEN 360000.10 WHEN 'mainstream' THEN 1200000.20 "
            "WHEN 'inmss' THEN 90000 ELSE 0 END"
        )
    serving = tmp_path / "serving.duckdb"
    publish_from(warehouse, serving, suppression_threshold=2)
    assert read(
        serving, "SELECT spend_gbp FROM published.provision_spend WHERE provision_type = 'total'"
    ) == [(1650000.30,)]


def test_each_council_is_published_as_its_own_refresh_would_publish_it(warehouse, tmp_path):
    """A second council in the warehouse: its cells are suppressed and totalled on their own, and
    the first council's published rows are what they were when it was alone."""
    alone = tmp_path / "alone.duckdb"
    publish_from(warehouse, alone, suppression_threshold=5)
    query = "SELECT * FROM published.provision_spend WHERE la_code = '869' ORDER BY ALL"
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "INSERT INTO marts.fct_provision_spend SELECT '825', '2023-25', provision_type, "
            "placements + 1, spend_gbp, unit_cost_gbp, fte_placements, is_complete_year "
            "FROM marts.fct_provision_spend"
        )
    both = tmp_path / "both.duckdb"
    publish_from(warehouse, both, suppression_threshold=5)
    assert read(both, query) == read(alone, query)
    totals = read(
        both,
        "SELECT la_code, financial_year, placements FROM published.provision_spend "
        "WHERE provision_type = 'total' ORDER BY ALL",
    )
    assert totals == [("825", "2023-25", 59), ("869", "2024-25", 55)]


def test_an_open_connection_keeps_its_version_until_it_reconnects(warehouse, tmp_path):
    serving = tmp_path / "serving.duckdb"
    first = publish_from(warehouse, serving)
    reader = duckdb.connect(str(serving), read_only=True)
    try:
        # the rename succeeds while the reader holds the file
        second = publish_from(warehouse, serving)
        assert reader.execute("SELECT version_id FROM meta.publication").fetchall() == [
            (first.version_id,)
        ]
        # a new connection sees the new file (from another DuckDB instance: within one process
        # duckdb.connect(path) would hand back the instance the reader still holds)
        assert read_publication(serving)["version_id"] == second.version_id
    finally:
        reader.close()


def test_half_built_files_of_dead_publishes_are_removed(warehouse, tmp_path):
    serving = tmp_path / "serving.duckdb"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    stale = tmp_path / f"serving.duckdb.next-{dead.stdout.strip()}"
    stale.write_bytes(b"half a database")
    stale.with_name(stale.name + ".wal").write_bytes(b"half a log")
    alive = tmp_path / f"serving.duckdb.next-{os.getppid()}"  # a live process's build is left alone
    alive.write_bytes(b"in progress")
    publication = publish_from(warehouse, serving)
    assert publication.removed_stale == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["serving.duckdb", "warehouse.duckdb", alive.name]
    )
    alive.unlink()
    assert remove_stale_builds(serving) == []


def test_parquet_versions_switch_atomically_and_keep_the_one_before(warehouse, tmp_path):
    serving, parquet = tmp_path / "serving.duckdb", tmp_path / "parquet"
    versions = [publish_from(warehouse, serving, parquet_dir=parquet).version_id for _ in range(3)]
    assert os.readlink(parquet / "current") == versions[-1]
    assert sorted(p.name for p in parquet.iterdir()) == sorted(["current", *versions[1:]])
    with duckdb.connect() as con:
        counts = con.execute(
            f"SELECT count(*) FROM read_parquet('{parquet}/current/marts/fct_ehcp_cohort.parquet')"
        ).fetchall()
        version = con.execute(
            f"SELECT version_id FROM read_parquet('{parquet}/current/meta/publication.parquet')"
        ).fetchall()
    assert counts == [(9,)] and version == [(versions[-1],)]


# A publish killed with SIGKILL at each point of its work, in a child process (the patch stands
# in for the moment of the kill; nothing in the library knows about it).
KILL_POINTS = {
    "while writing the new file": ("serving.publish._write_table_checksums", "kill"),
    "with the new file complete, before the rename": ("os.replace", "kill"),
    "just after the rename": ("os.replace", "replace_then_kill"),
}
CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import duckdb
    import serving.publish as publish_module
    target, action = sys.argv[3], sys.argv[4]
    module_name, attribute = target.rsplit(".", 1)
    module = os if module_name == "os" else publish_module
    original = getattr(module, attribute)
    def killed(*args, **kwargs):
        if action == "replace_then_kill":
            original(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
    setattr(module, attribute, killed)
    with duckdb.connect(sys.argv[1]) as con:
        publish_module.publish(con, Path(sys.argv[2]), run_id="killed", code_version="x")
    """
)


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_publish_killed_at_any_point_leaves_a_readable_serving_file(warehouse, tmp_path, point):
    serving = tmp_path / "serving.duckdb"
    good = publish_from(warehouse, serving)
    target, action = KILL_POINTS[point]
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(warehouse), str(serving), target, action],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    with duckdb.connect(str(serving), read_only=True) as con:
        version, _ = served_version(con)  # opens, and every table matches its version's checksums
    if action == "kill":
        assert version == good.version_id
        assert any(p.name.startswith("serving.duckdb.next-") for p in tmp_path.iterdir())
    else:
        assert read(serving, "SELECT run_id FROM meta.publication") == [("killed",)]
    after = publish_from(warehouse, serving)  # the next publish recovers without help
    assert read_publication(serving)["version_id"] == after.version_id
    assert sorted(p.name for p in tmp_path.iterdir()) == ["serving.duckdb", "warehouse.duckdb"]


def test_a_held_council_keeps_the_last_versions_rows_and_one_never_served_has_none(
    warehouse, tmp_path
):
    serving = tmp_path / "serving.duckdb"
    first = publish_from(warehouse, serving)
    spend = "SELECT la_code, provision_type, spend_gbp FROM {} ORDER BY ALL"
    served_first = read(serving, spend.format("marts.fct_provision_spend"))
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "INSERT INTO marts.fct_provision_spend "
            "SELECT * REPLACE ('825' AS la_code) FROM marts.fct_provision_spend"
        )
        con.execute("UPDATE marts.fct_provision_spend SET spend_gbp = spend_gbp * 2")
    second = publish_from(warehouse, serving, held={"825": "costs out of bounds"})
    # 869 publishes this refresh's figures; 825, held, has no earlier version to keep
    assert read(serving, spend.format("marts.fct_provision_spend")) == [
        (code, provision, amount * 2) for code, provision, amount in served_first
    ]
    assert read(serving, "SELECT * FROM meta.councils") == [
        ("825", "none", None, None, "costs out of bounds"),
        ("869", "this refresh", second.version_id, "run-1", None),
    ]
    with duckdb.connect(str(warehouse)) as con:
        con.execute("UPDATE marts.fct_provision_spend SET spend_gbp = spend_gbp * 3 / 2")
    publish_from(warehouse, serving, held={"869": "ledger does not reconcile"})
    third = read(serving, spend.format("marts.fct_provision_spend"))
    # 869's are the second version's (its last good), not this refresh's; 825's are this one's
    assert [r for r in third if r[0] == "869"] == [
        (code, provision, amount * 2) for code, provision, amount in served_first
    ]
    assert [r for r in third if r[0] == "825"] == [
        ("825", provision, amount * 3) for _, provision, amount in served_first
    ]
    assert read(serving, "SELECT la_code, figures, figures_version_id FROM meta.councils") == [
        ("825", "this refresh", read_publication(serving)["version_id"]),
        ("869", "last good", second.version_id),
    ]
    assert first.version_id != second.version_id
    with duckdb.connect(str(serving), read_only=True) as con:
        served_version(con)  # the checksums are of the tables as served, held rows included
    # held again: still the second version's figures, and meta.councils still says so
    publish_from(warehouse, serving, held={"869": "ledger does not reconcile"})
    assert [
        r for r in read(serving, spend.format("marts.fct_provision_spend")) if r[0] == "869"
    ] == [(code, provision, amount * 2) for code, provision, amount in served_first]
    assert read(
        serving, "SELECT figures, figures_version_id FROM meta.councils WHERE la_code = '869'"
    ) == [("last good", second.version_id)]


def test_a_held_council_whose_last_version_served_only_its_data_quality_has_no_figures(
    warehouse, tmp_path
):
    """fct_data_quality keeps a council's files after its folder has gone: a council whose last
    version served only those rows, held now, has no last good figures (meta.councils said it
    had, naming a version that served none of its figures)."""
    serving = tmp_path / "serving.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "CREATE TABLE marts.fct_data_quality AS SELECT * FROM (VALUES ('869', 'rows_read', 4), "
            "('825', 'rows_read', 7)) t(la_code, measure, rows)"
        )
    publish_from(warehouse, serving)
    publish_from(warehouse, serving, held={"825": "a file was rejected"})
    assert read(
        serving, "SELECT figures, figures_version_id FROM meta.councils WHERE la_code = '825'"
    ) == [("none", None)]
    # its data-quality rows are still there for the auditor
    assert read(serving, "SELECT rows FROM marts.fct_data_quality WHERE la_code = '825'") == [(7,)]


def test_a_council_the_last_version_served_and_this_one_does_not_is_named(warehouse, tmp_path):
    """A council whose folder emptied or was misnamed dropped out of serving with no word: BI
    just lost it. The publication names it (the refresh prints it), once."""
    serving = tmp_path / "serving.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "INSERT INTO marts.fct_provision_spend SELECT '825', financial_year, provision_type, "
            "placements, spend_gbp, unit_cost_gbp, fte_placements, is_complete_year "
            "FROM marts.fct_provision_spend"
        )
    assert publish_from(warehouse, serving).no_longer_served == []
    with duckdb.connect(str(warehouse)) as con:
        con.execute("DELETE FROM marts.fct_provision_spend WHERE la_code = '825'")
    assert publish_from(warehouse, serving).no_longer_served == ["825"]
    assert publish_from(warehouse, serving).no_longer_served == []


def test_a_council_held_before_it_was_ever_served_is_not_named_when_it_goes(warehouse, tmp_path):
    """A council held on its first refresh had no figures in serving: when its folder goes,
    "no longer served" named it though BI never had anything of it."""
    serving = tmp_path / "serving.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "INSERT INTO marts.fct_provision_spend "
            "SELECT * REPLACE ('825' AS la_code) FROM marts.fct_provision_spend"
        )
    publish_from(warehouse, serving, held={"825": "a file was rejected"})
    assert read(serving, "SELECT figures FROM meta.councils WHERE la_code = '825'") == [("none",)]
    with duckdb.connect(str(warehouse)) as con:
        con.execute("DELETE FROM marts.fct_provision_spend WHERE la_code = '825'")
    assert publish_from(warehouse, serving).no_longer_served == []


def test_the_publication_records_what_the_forecast_ran_with(warehouse, tmp_path):
    publish_from(warehouse, tmp_path / "none.duckdb")
    assert read(
        tmp_path / "none.duckdb",
        "SELECT forecast_settings, forecast_settings_sha256 FROM meta.publication",
    ) == [(None, None)]
    publish_from(warehouse, tmp_path / "with.duckdb", forecast_settings=("forecast.yml; …", "ab12"))
    assert read(
        tmp_path / "with.duckdb",
        "SELECT forecast_settings, forecast_settings_sha256 FROM meta.publication",
    ) == [("forecast.yml; …", "ab12")]
    # the next version with other settings says so, wherever it was published from (the UI's and
    # the schedule's runs said nothing: only the CLI's summary compared them)
    same = publish_from(
        warehouse, tmp_path / "with.duckdb", forecast_settings=("forecast.yml; …", "ab12")
    )
    assert same.forecast_settings_changed is None
    other = publish_from(
        warehouse, tmp_path / "with.duckdb", forecast_settings=("demo.yml", "cd34")
    )
    assert other.forecast_settings_changed == (same.version_id, "forecast.yml; …", "demo.yml")
