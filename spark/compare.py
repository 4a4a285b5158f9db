"""`make test-spark`: build the dbt project on a local Spark session and compare every staging,
intermediate and mart table with DuckDB's, both ways (EXCEPT ALL), one line per table; then run
the Python that reads the warehouse after dbt (the forecast's history, the mart gates) through the
warehouse interface on both engines and compare what each read, one line per frame; then forecast
every council from each engine's marts, write the forecast schema through the same interface on
each, and compare its tables and their descriptions as the models' are compared; last, publish
each engine's warehouse (DuckDB's serving file, Spark's serving schemas: serving/catalog.py), with
every council and then with one held, and compare what each serves; a Spark publish that fails,
or that finds another holding the serving schemas, must leave the views as they were.

    python -m spark.compare                      # the configured warehouse's raw tables
    python -m spark.compare --warehouse W.duckdb # another warehouse's (e.g. a demo's)
    python -m spark.compare --landing DIR        # a landing folder, loaded here first

The raw and quarantine tables come from the warehouse `make demo` (or any refresh) wrote; when it
does not exist, a synthetic council like the demo's is generated and loaded here. Both engines
then build the same models from those same tables: DuckDB in a copy (the warehouse itself is only
read), Spark in a session inside this process, which is where dbt-spark's `session` method finds
it. Exit 0 when every table holds the same rows on both, 1 otherwise, 2 when Spark or Java is
missing. Needs the `spark` extra (pyspark, dbt-spark[session]) and a Java runtime.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT = REPO_ROOT / "dbt"
# the schemas the ingest assets write, which the models read (dbt sources)
SOURCE_SCHEMAS = ("raw", "quarantine")
# the schemas the models write, compared table by table (seeds are in staging)
MODEL_SCHEMAS = ("staging", "intermediate", "marts")
# the forecast each engine writes: fewer paths than a refresh's (both draw the same ones)
FORECAST_SIMULATIONS = 200
# where Spark's serving schemas are published (serving_marts, serving_meta, …)
SERVING_PREFIX = "serving_"
# the key that hashes child ids when this script loads a landing folder itself
LOCAL_KEY = "spark-comparison-key-not-a-secret-0123456789"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m spark.compare", description=__doc__.split("\n")[0]
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--warehouse", type=Path, help="DuckDB warehouse whose raw tables to use")
    source.add_argument("--landing", type=Path, help="landing folder to load instead")
    parser.add_argument("--work", type=Path, help="folder for the copies and logs (kept)")
    parser.add_argument(
        "--timings", type=Path, help="write each step's seconds and the verdict to this JSON file"
    )
    parser.add_argument(
        "--driver-memory",
        default=os.environ.get("HIGHNEEDS_SPARK_DRIVER_MEMORY", "3g"),
        help="Spark driver memory (default 3g, or HIGHNEEDS_SPARK_DRIVER_MEMORY)",
    )
    args = parser.parse_args(argv)

    missing = _missing_prerequisites()
    if missing:
        print(missing, file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="highneeds-spark-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    seconds: dict[str, float] = {}
    step = time.monotonic()

    def lap(name: str) -> None:
        nonlocal step
        seconds[name] = round(time.monotonic() - step, 1)
        step = time.monotonic()

    duckdb_warehouse = work / "duckdb" / "warehouse.duckdb"
    _raw_tables(duckdb_warehouse, args.warehouse, args.landing, work)
    lap("raw_tables")
    print(f"DuckDB: dbt build on a copy of the raw tables ({duckdb_warehouse}) …", flush=True)
    if not _dbt_build_duckdb(duckdb_warehouse, work):
        return 1
    lap("duckdb_dbt_build")

    print(f"Spark: loading the raw tables into a local session (driver {args.driver_memory}) …")
    spark = _spark_session(work, args.driver_memory)
    try:
        _load_into_spark(spark, duckdb_warehouse, work / "raw-parquet")
        lap("spark_load_raw")
        print("Spark: dbt build --target spark …", flush=True)
        built = _dbt_build_spark(work)
        lap("spark_dbt_build")
        differences = _compare(spark, duckdb_warehouse, work / "spark-parquet")
        lap("compare_tables")
        print(
            "The Python after dbt (warehouse interface): the forecast's reads, the staging and "
            "mart gates"
        )
        differences += _compare_python(spark, duckdb_warehouse)
        lap("compare_python_reads")
        print(
            f"The forecast from each engine's marts ({FORECAST_SIMULATIONS} simulations), "
            "written through the warehouse interface"
        )
        differences += _forecast_on_both(spark, duckdb_warehouse)
        differences += _compare(
            spark, duckdb_warehouse, work / "spark-parquet", ("forecast",)
        ) + _compare_descriptions(spark, duckdb_warehouse, "forecast")
        lap("compare_forecast")
        print(
            "Serving: each engine's warehouse published (DuckDB into a serving file, Spark into "
            f"the {SERVING_PREFIX}* schemas), then once more with a council held"
        )
        differences += _compare_serving(spark, duckdb_warehouse, work)
        lap("compare_serving")
    finally:
        spark.stop()
    minutes = (time.monotonic() - started) / 60
    if args.timings:
        args.timings.write_text(
            json.dumps(
                {
                    "seconds": seconds,
                    "total_seconds": round(minutes * 60, 1),
                    "spark_build_succeeded": built,
                    "differences": differences,
                    "driver_memory": args.driver_memory,
                },
                indent=2,
            )
        )
    if not built or differences:
        print(
            f"Spark and DuckDB differ: {differences} table(s) or read(s) not the same"
            + ("" if built else ", and the Spark build failed")
            + f" ({minutes:.1f} min; work folder {work})"
        )
        return 1
    print(
        f"Every table, and every read the Python makes, is the same on Spark and DuckDB "
        f"({minutes:.1f} min)."
    )
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _missing_prerequisites() -> str | None:
    try:
        import dbt.adapters.spark  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError as error:
        return (
            f"Spark is not installed ({error}): `make test-spark` installs the `spark` extra "
            "(pyspark, dbt-spark[session])."
        )
    java_home = os.environ.get("JAVA_HOME")
    if not shutil.which("java") and not (java_home and (Path(java_home) / "bin/java").exists()):
        return (
            "Spark needs a Java runtime (17 or later) and none is on PATH: on Debian or Ubuntu, "
            "`apt-get install -y default-jre-headless`."
        )
    return None


def _raw_tables(target: Path, warehouse: Path | None, landing: Path | None, work: Path) -> None:
    """Write the raw and quarantine tables into a new DuckDB file `target`: copied from
    `warehouse` (default: the configured one), or loaded from `landing`; with neither, from a
    synthetic council generated as the demo generates it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    if landing is None:
        if warehouse is None:
            from dagster_project.settings import load_settings

            configured = load_settings().warehouse
            warehouse = configured if configured.exists() else None
        if warehouse is not None:
            print(f"Raw tables: from {warehouse}")
            _copy_raw(warehouse, target)
            return
        from synthetic.council import generate

        landing = work / "landing"
        print(f"Raw tables: no warehouse yet, so a synthetic council (the demo's) in {landing} …")
        generate(landing)
    else:
        print(f"Raw tables: loading {landing}")
    _load_landing(landing, target)


def _copy_raw(warehouse: Path, target: Path) -> None:
    """Copy the raw and quarantine tables, then bring the copy to the layout this code's models
    read, as the next refresh would the warehouse (ingest.load.ensure_tables: e.g. a warehouse
    from before raw was written once)."""
    from ingest.contracts import EXTRACTS
    from ingest.load import ensure_tables

    with duckdb.connect(str(target)) as con:
        con.execute(f"attach '{warehouse}' as source (read_only)")
        tables = _tables(con, "source", SOURCE_SCHEMAS, base_tables_only=True)
        if not any(schema == "raw" for schema, _ in tables):
            raise SystemExit(
                f"{warehouse} holds no raw tables: run `make demo` (or a refresh) first"
            )
        for schema, table in tables:
            con.execute(f"create schema if not exists {schema}")
            con.execute(f"create table {schema}.{table} as from source.{schema}.{table}")
        con.execute("detach source")
        for extract in EXTRACTS.values():
            ensure_tables(con, extract)


def _load_landing(landing: Path, target: Path) -> None:
    from ingest.contracts import EXTRACTS
    from ingest.load import load_extract

    with duckdb.connect(str(target)) as con:
        for extract in EXTRACTS.values():
            load_extract(con, extract, landing, "spark-comparison", LOCAL_KEY, dt.date.today())


def _tables(
    con: duckdb.DuckDBPyConnection,
    catalog: str,
    schemas: tuple[str, ...],
    base_tables_only: bool = False,
) -> list[tuple[str, str]]:
    kinds = "('BASE TABLE')" if base_tables_only else "('BASE TABLE', 'VIEW')"
    return con.execute(
        f"""select table_schema, table_name from information_schema.tables
            where table_catalog = ? and table_schema in ({", ".join("?" for _ in schemas)})
            and table_type in {kinds}
            order by 1, 2""",
        [catalog, *schemas],
    ).fetchall()


def _dbt_build_duckdb(warehouse: Path, work: Path) -> bool:
    from dagster_project.settings import DEFAULT_DUCKDB_MEMORY_LIMIT, dbt_vars

    variables = dbt_vars(warehouse, DEFAULT_DUCKDB_MEMORY_LIMIT, os.cpu_count() or 1)
    completed = subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            "build",
            *_dbt_paths(work / "duckdb"),
            "--vars",
            json.dumps(variables),
        ],
        cwd=DBT_PROJECT,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"},
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        print(completed.stdout[-6000:], completed.stderr[-2000:], sep="\n")
        print("The DuckDB build failed: nothing to compare with.")
        return False
    return True


def _dbt_paths(folder: Path) -> list[str]:
    """Where a dbt run reads the project and writes its artefacts: never the project's own
    target/ (dagster-dbt reads its manifest.json)."""
    return [
        "--project-dir",
        str(DBT_PROJECT),
        "--profiles-dir",
        str(DBT_PROJECT),
        "--target-path",
        str(folder / "dbt-target"),
        "--log-path",
        str(folder / "dbt-logs"),
    ]


def _spark_session(work: Path, driver_memory: str):
    import warnings

    # pyspark warns about pandas 3 on import; nothing here goes through pandas
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    from pyspark.sql import SparkSession

    # dbt-spark's session method asks the builder for a Hive-enabled session: this one, already
    # running, with its catalogue and tables in the work folder
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("highneeds-test-spark")
        .config("spark.driver.memory", driver_memory)
        .config("spark.sql.warehouse.dir", str(work / "spark-warehouse"))
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={work / 'spark-metastore'}")
        .config("spark.sql.shuffle.partitions", "4")
        # Hive's metastore retries a table it cannot store in its own format (a column comment
        # longer than its 256 characters) ten times, 2 s apart, before Spark stores the table in
        # its own format: the same table, 20 s sooner (one try, no wait)
        .config("spark.hadoop.hive.hmshandler.retry.attempts", "1")
        .config("spark.hadoop.hive.hmshandler.retry.interval", "0ms")
        # pyarrow is not in the spark extra: toPandas without it, and without a warning per call
        .config("spark.sql.execution.arrow.pyspark.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .enableHiveSupport()
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _load_into_spark(spark, warehouse: Path, folder: Path) -> None:
    """Every raw and quarantine table, through Parquet, as a Spark table of the same name."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = _tables(con, warehouse.stem, SOURCE_SCHEMAS, base_tables_only=True)
        for schema, table in tables:
            path = folder / schema / table / "part-0.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            con.execute(f"copy {schema}.{table} to '{path}' (format parquet)")
    for schema in SOURCE_SCHEMAS:
        spark.sql(f"create database if not exists {schema}")
    for schema, table in tables:
        frame = spark.read.parquet(str(folder / schema / table))
        frame.write.mode("overwrite").saveAsTable(f"{schema}.{table}")


def _dbt_build_spark(work: Path) -> bool:
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(
        ["build", "--target", "spark", "--quiet", *_dbt_paths(work / "spark")]
    )
    failed = [
        f"{outcome.node.resource_type} {outcome.node.name}: {outcome.status}"
        for outcome in (result.result or [])
        if str(outcome.status) not in ("success", "pass")
    ]
    for line in failed:
        print(f"  {line}")
    if result.exception is not None:
        print(f"  dbt stopped: {result.exception}")
    nodes = len(result.result or [])
    print(f"Spark: {nodes - len(failed)} of {nodes} models, seeds and tests built and passed")
    return result.success and not failed


def _compare(
    spark,
    warehouse: Path,
    folder: Path,
    schemas: tuple[str, ...] = MODEL_SCHEMAS,
    spark_prefix: str = "",
) -> int:
    """Print one line per table of `schemas` and return how many differ: a table only
    one engine has, other columns, or rows in one that the other lacks (EXCEPT ALL, both ways,
    so a row held twice on one side and once on the other counts). Spark's schemas are named
    `spark_prefix` + the schema (the serving schemas)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        duck_tables = set(_tables(con, warehouse.stem, schemas))
        spark_tables = {
            (schema, row.tableName)
            for schema in schemas
            if spark.catalog.databaseExists(spark_prefix + schema)
            for row in spark.sql(f"show tables in {spark_prefix}{schema}").collect()
            if not row.isTemporary  # Spark lists the session's temporary views in every schema
        }
        width = max(len(f"{s}.{t}") for s, t in duck_tables | spark_tables)
        differences = 0
        for schema, table in sorted(duck_tables | spark_tables):
            name = f"{schema}.{table}".ljust(width)
            if (schema, table) not in spark_tables or (schema, table) not in duck_tables:
                engine = "Spark" if (schema, table) in spark_tables else "DuckDB"
                print(f"DIFF  {name}  only {engine} has it")
                differences += 1
                continue
            path = folder / schema / table
            on_spark = spark.table(f"{spark_prefix}{schema}.{table}")
            on_spark.write.mode("overwrite").parquet(str(path))
            spark_rows = f"read_parquet('{path}/*.parquet')"
            duck_columns = [
                column
                for (column,) in con.execute(
                    "select column_name from information_schema.columns where table_schema = ? "
                    "and table_name = ? order by ordinal_position",
                    [schema, table],
                ).fetchall()
            ]
            spark_columns = on_spark.columns
            if duck_columns != spark_columns:
                print(f"DIFF  {name}  columns: DuckDB {duck_columns}, Spark {spark_columns}")
                differences += 1
                continue
            columns = ", ".join(f'"{column}"' for column in duck_columns)
            duck = f"select {columns} from {schema}.{table}"
            other = f"select {columns} from {spark_rows}"
            rows = _count(con, f"{schema}.{table}")
            only_duck = _count(con, f"({duck} except all {other})")
            only_spark = _count(con, f"({other} except all {duck})")
            if only_duck or only_spark:
                differences += 1
                print(
                    f"DIFF  {name}  {rows:>7,} rows: {only_duck:,} only in DuckDB, "
                    f"{only_spark:,} only in Spark"
                )
            else:
                print(f"same  {name}  {rows:>7,} rows")
    return differences


def _python_reads(target) -> dict[str, object]:
    """What the Python after dbt reads through the warehouse interface, on one engine: the
    forecast's history, table by table, and each staging and mart gate's facts and verdict."""
    from checks import gates
    from forecast.history import read_history
    from ingest.contracts import EXTRACTS
    from warehouse.councils import councils

    # each council's history (one warehouse may hold several: read_history then needs the code)
    histories = {code: read_history(target, code) for code in councils(target)}
    bounds = gates.read_cost_bounds(DBT_PROJECT / "seeds" / "cost_bounds.csv")
    results = {
        f"{extract}_raw_rows_reach_staging": gates.staging_accounting(
            target, EXTRACTS[extract], f"staging.{model}", keys
        )
        for extract, (model, keys) in gates.STAGING_MODELS.items()
    } | {
        "finance_raw_rows_reach_staging, rows lost, moved and superseded": _broken_staging_gate(
            target
        ),
        "transaction_ids_reused": gates.transaction_ids_reused(target),
        "transactions_under_two_ids": gates.transactions_under_two_ids(target),
        "restatement_loaded_first": gates.restatement_loaded_first(target),
        "finance_reconciles_to_mart": gates.finance_reconciliation(target),
        "ledger_months_complete": gates.ledger_months_complete(target),
        "complete_years_have_a_budget": gates.complete_years_have_a_budget(target),
        "balance_brought_forward_anchors": gates.balance_brought_forward_anchors(target),
        "balance_brought_forward_agrees": gates.balance_brought_forward_agrees(target),
        "budget_lines_given_twice": gates.budget_lines_given_twice(target),
        "case_extracts_reach_census": gates.case_extracts_reach_census(target),
        "sen2_returns_every_year": gates.sen2_returns_every_year(target),
        "flows_within_usual": gates.flows_within_usual(target),
        "base_year_spend_within_usual": gates.base_year_spend_within_usual(target),
        "census_placements_within_usual": gates.census_placements_within_usual(target),
        "open_rows_left_in_older_lists": gates.open_rows_left_in_older_lists(target),
        "lists_of_one_day_agree": gates.lists_of_one_day_agree(target),
        "case_rows_in_two_sources": gates.case_rows_in_two_sources(target),
        "plans_overlap_within_tolerance": gates.plans_overlap_within_tolerance(target),
        "plans_under_two_child_ids": gates.plans_under_two_child_ids(target),
        "unit_costs_within_bounds": gates.unit_costs_within_bounds(target, bounds, 1.0),
        "placement_costs_within_bounds": gates.placement_costs_within_bounds(target, bounds),
        "ids_link": gates.ids_link(target, 0.05),
    }
    reads: dict[str, object] = {}
    for code, history in histories.items():
        prefix = "read_history" if len(histories) == 1 else f"read_history {code}"
        for name in ("caseload", "transitions", "flows", "spend", "position", "budget"):
            reads[f"{prefix}.{name}"] = getattr(history, name)
        reads[f"{prefix}.provision_types"] = pd.DataFrame({"p": history.provision_types})
    for name, result in results.items():
        reads[f"gate {name}"] = result.facts.assign(passed=result.passed)
    # what spend_holds_since_published and plans_hold_since_published compare with the serving
    # file's (a DuckDB file: its side is read there)
    reads["gate past_figures"] = gates.past_figures(target)
    return reads


def _broken_staging_gate(target):
    """The staging gate on a view of the finance staging table with every 97th row lost and every
    89th moved to a row number its file does not have (its key still staged, so the raw row
    counts as superseded, and the moved row as staging's own): the files' fingerprints then
    disagree and the gate's row-by-row match runs, which on a healthy warehouse it does not."""
    from checks import gates
    from ingest.contracts import EXTRACTS

    extract = EXTRACTS["finance"]
    model, keys = gates.STAGING_MODELS["finance"]
    target.execute(
        "CREATE OR REPLACE TEMPORARY VIEW broken_staging AS "
        f"SELECT la_code, {', '.join(keys)}, source_file_hash, "
        "CASE WHEN source_row % 89 = 0 THEN source_row + 1000000 ELSE source_row END "
        f"AS source_row, {extract.money_column}_gbp FROM staging.{model} "
        "WHERE source_row % 97 <> 0"
    )
    try:
        return gates.staging_accounting(target, extract, "broken_staging", keys)
    finally:
        target.execute("DROP VIEW IF EXISTS broken_staging")


def _compare_python(spark, warehouse: Path) -> int:
    """The forecast's reads and the mart gates run through warehouse.SparkWarehouse and
    warehouse.DuckDBWarehouse: one line per frame, and how many differ (rows in any order)."""
    from warehouse import DuckDBWarehouse, SparkWarehouse

    with duckdb.connect(str(warehouse), read_only=True) as con:
        on_duckdb = _python_reads(DuckDBWarehouse(con))
    return _compare_frames(on_duckdb, _python_reads(SparkWarehouse(spark)))


def _compare_frames(on_duckdb: dict[str, pd.DataFrame], on_spark: dict[str, pd.DataFrame]) -> int:
    """One line per frame, and how many differ between the engines (rows in any order)."""
    width = max(len(name) for name in on_duckdb)
    differences = 0
    for name, duck in on_duckdb.items():
        other = on_spark[name]
        try:
            pd.testing.assert_frame_equal(
                _sorted(duck), _sorted(other), check_dtype=False, rtol=1e-9, atol=1e-6
            )
            print(f"same  {name.ljust(width)}  {len(duck):>7,} rows")
        except AssertionError as error:
            differences += 1
            first = str(error).strip().splitlines()
            print(f"DIFF  {name.ljust(width)}  {' '.join(first[:3])}")
    return differences


def _forecast_on_both(spark, warehouse: Path) -> int:
    """What the refresh's forecast asset does, on each engine: every council's forecast from its
    marts (read through the interface), written into the engine's forecast schema (through it
    too). The paths are seeded from the settings, so the same marts give the same tables. Returns
    1 when the engines leave out different councils as not forecastable, else 0."""
    from forecast.councils import forecast_councils
    from forecast.history import read_history
    from forecast.published_extract import SHIPPED
    from forecast.settings import CONFIG_DIR, DEFAULT_SETTINGS_FILE, load_forecast_settings
    from forecast.store import combine, write_tables
    from warehouse import DuckDBWarehouse, SparkWarehouse
    from warehouse.councils import councils

    settings = load_forecast_settings(DEFAULT_SETTINGS_FILE).with_overrides(
        simulations=FORECAST_SIMULATIONS
    )
    mitigations = CONFIG_DIR / "mitigations.example.yml"

    def forecast(target) -> dict[str, str]:
        histories = {code: read_history(target, code) for code in councils(target)}
        # a council whose figures cannot be forecast (a ledger too short) is left out, as the
        # refresh holds it, and the others forecast
        unfitted: dict[str, str] = {}
        done = forecast_councils(histories, settings, mitigations, SHIPPED, unfitted=unfitted)
        write_tables(target, combine([council.tables for council in done]))
        return unfitted

    with duckdb.connect(str(warehouse)) as con:
        on_duckdb = forecast(DuckDBWarehouse(con))
    on_spark = forecast(SparkWarehouse(spark))
    for code, why in sorted(on_duckdb.items()):
        print(f"not forecast on DuckDB, council {code}: {why}")
    if on_spark != on_duckdb:
        print(f"DIFF  councils not forecast: DuckDB {on_duckdb}, Spark {on_spark}")
        return 1
    return 0


def _compare_descriptions(spark, warehouse: Path, schema: str, spark_prefix: str = "") -> int:
    """One line per table of `schema` whose table or column comments differ between the engines
    (the descriptions the serving contract gives them); how many. Spark's schema is named
    `spark_prefix` + `schema`."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = dict(
            con.execute(
                "select table_name, comment from duckdb_tables() where schema_name = ?", [schema]
            ).fetchall()
        )
        differences = 0
        for table, comment in sorted(tables.items()):
            on_duckdb = dict(
                con.execute(
                    "select column_name, comment from duckdb_columns() "
                    "where schema_name = ? and table_name = ?",
                    [schema, table],
                ).fetchall()
            )
            on_spark = {
                field.name: field.metadata.get("comment")
                for field in spark.table(f"{spark_prefix}{schema}.{table}").schema.fields
            }
            spark_comment = (
                spark.sql(f"describe table extended {spark_prefix}{schema}.{table}")
                .where("col_name = 'Comment'")
                .collect()
            )
            if on_duckdb != on_spark or [comment] != [row.data_type for row in spark_comment]:
                differences += 1
                print(f"DIFF  {schema}.{table}  table or column descriptions")
        verdict = "DIFF" if differences else "same"
        print(f"{verdict}  {schema}: the descriptions of its {len(tables)} tables")
    return differences


# meta tables whose content does not depend on the version or the engine: their columns compared
SERVING_META = {
    "councils": "la_code, figures, coalesce(held_because, '') AS held_because",
    "provision_types": "*",
    "source_files": "*",
    "tables": "table_schema, table_name, row_count",  # each engine's own checksum
}


def _compare_serving(spark, warehouse: Path, work: Path) -> int:
    """Publish on both engines, compare the served tables, the meta tables' content and every
    description; then publish again with the first council held at its last good figures (as
    a refresh whose gates failed for it would) and compare once more; how many differ."""
    from serving.catalog import publish_catalog, read_catalog_publication
    from serving.publish import ServingOptions, publish
    from warehouse import SparkWarehouse
    from warehouse.councils import councils

    serving = work / "duckdb" / "serving.duckdb"
    on_spark = SparkWarehouse(spark)
    differences = 0
    for held in ({}, {councils(on_spark)[0]: "a gate failed (spark.compare)"}):
        options = ServingOptions(held=held)
        with duckdb.connect(str(warehouse)) as con:
            publish(con, serving, run_id="compare", code_version="compare", options=options)
        began = time.monotonic()
        publication = publish_catalog(
            on_spark,
            run_id="compare",
            code_version="compare",
            options=options,
            prefix=SERVING_PREFIX,
        )
        served_now = (read_catalog_publication(on_spark, SERVING_PREFIX) or {}).get("version_id")
        if served_now != publication.version_id:
            differences += 1
            print(f"DIFF  Spark's serving views show version {served_now}")
        print(
            f"Serving, {'council ' + ', '.join(held) + ' held' if held else 'every council'}: "
            f"version {publication.version_id} on Spark ({time.monotonic() - began:.0f} s)"
        )
        served = ("marts", "forecast", "published")
        differences += _compare(
            spark, serving, work / "spark-serving", served, spark_prefix=SERVING_PREFIX
        )
        with duckdb.connect(str(serving), read_only=True) as con:
            on_duckdb = {
                f"meta.{table}": con.execute(f"select {columns} from meta.{table}").df()
                for table, columns in SERVING_META.items()
            }
        differences += _compare_frames(
            on_duckdb,
            {
                f"meta.{table}": on_spark.frame(
                    f"select {columns} from {SERVING_PREFIX}meta.{table}"
                )
                for table, columns in SERVING_META.items()
            },
        )
        differences += sum(
            _compare_descriptions(spark, serving, schema, SERVING_PREFIX)
            for schema in (*served, "meta")
        )
    return differences + _failed_publish_keeps_the_last(on_spark) + _one_publish_at_a_time(on_spark)


def _failed_publish_keeps_the_last(on_spark) -> int:
    """A Spark publish that fails after writing its tables (as a full disk or a lost cluster
    would) must leave the views on the last version and none of its own tables behind: 1 if
    not, else 0."""
    from serving import catalog

    store = f"{SERVING_PREFIX}{catalog.VERSIONS}"
    before = catalog.read_catalog_publication(on_spark, SERVING_PREFIX)["version_id"]
    stored = catalog._tables(on_spark.session, store)
    writing = catalog._write_meta

    def fails(*args, **kwargs):
        raise OSError("no space left on device (spark.compare)")

    catalog._write_meta = fails
    try:
        catalog.publish_catalog(
            on_spark, run_id="compare", code_version="compare", prefix=SERVING_PREFIX
        )
        failed = False
    except OSError:
        failed = True
    finally:
        catalog._write_meta = writing
    after = catalog.read_catalog_publication(on_spark, SERVING_PREFIX)["version_id"]
    left = sorted(set(catalog._tables(on_spark.session, store)) - set(stored))
    kept = failed and after == before and not left
    print(
        f"{'same' if kept else 'DIFF'}  a Spark publish that fails while writing: "
        f"{'failed' if failed else 'did not fail'}, the views on version {after} (before: "
        f"{before}), {len(left)} of its tables left"
    )
    return 0 if kept else 1


def _one_publish_at_a_time(on_spark) -> int:
    """No publish leaves its claim behind; while another publish holds the serving schemas, a
    publish is refused, naming the holder, and the views stay on their version; the holder's
    claim is its own to let go: 1 if any of that fails, else 0."""
    from serving import catalog

    session = on_spark.session
    store = f"{SERVING_PREFIX}{catalog.VERSIONS}"
    claim = f"{store}.{catalog.CLAIM}"
    left_behind = session.catalog.tableExists(claim)  # by the publishes above
    before = catalog.read_catalog_publication(on_spark, SERVING_PREFIX)["version_id"]
    catalog.claim_catalog(session, store, "another-version", "another-run")
    try:
        catalog.publish_catalog(
            on_spark, run_id="compare", code_version="compare", prefix=SERVING_PREFIX
        )
        refused = ""
    except catalog.PublishError as error:
        refused = str(error)
    after = catalog.read_catalog_publication(on_spark, SERVING_PREFIX)["version_id"]
    still_held = session.catalog.tableExists(claim)  # the refused publish let go of nothing
    catalog.release_catalog(session, claim, "another-version")
    ok = (
        not left_behind
        and "another-run" in refused
        and after == before
        and still_held
        and not session.catalog.tableExists(claim)
    )
    print(
        f"{'same' if ok else 'DIFF'}  one Spark publish at a time: "
        f"{'a claim left behind, ' if left_behind else ''}"
        f"{'refused while another held the schemas' if refused else 'not refused'}, the views "
        f"on version {after} (before: {before})"
    )
    return 0 if ok else 1


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    columns = list(frame.columns)
    return frame.sort_values(columns, na_position="last", kind="stable").reset_index(drop=True)


def _count(con: duckdb.DuckDBPyConnection, relation: str) -> int:
    return con.execute(f"select count(*) from {relation}").fetchone()[0]


if __name__ == "__main__":
    sys.exit(main())
