"""The dbt project as assets: staging → intermediate → marts; dbt tests become asset checks.

dbt holds the warehouse's write lock while it runs, so what the materialisations record about the
tables (row counts, the marts' key totals) is read once dbt has finished, and added to each
model's event before it is reported: row count, code version, load id, the compiled SQL, and for
marts the totals a change between runs shows up in.
"""

import errno
import os
import shutil
from pathlib import Path

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource, dbt_assets

from ingest import increment
from ingest.diskspace import DISK_FULL_TEXT, disk_full_error
from warehouse import record_figures

from ..dbt_project import dbt_project
from ..metadata import provenance
from ..resources import WarehouseResource
from ..translator import HighneedsTranslator

KEEP_RUN_TARGETS = 5
# key totals per mart: label → SQL over the mart
MART_TOTALS = {
    ("marts", "fct_provision_spend"): {
        "spend_gbp_all_years": "SELECT sum(spend_gbp)::DOUBLE FROM marts.fct_provision_spend",
        "spend_gbp_latest_complete_year": (
            "SELECT sum(spend_gbp)::DOUBLE FROM marts.fct_provision_spend WHERE financial_year = "
            "(SELECT max(financial_year) FROM marts.fct_provision_spend WHERE is_complete_year)"
        ),
    },
    ("marts", "fct_ehcp_cohort"): {
        "plans_latest_census": (
            "SELECT sum(plans)::BIGINT FROM marts.fct_ehcp_cohort WHERE census_year = "
            "(SELECT max(census_year) FROM marts.fct_ehcp_cohort)"
        ),
    },
    ("marts", "fct_hnb_position"): {
        "cumulative_balance_gbp_latest": (
            "SELECT cumulative_balance_gbp::DOUBLE FROM marts.fct_hnb_position "
            "WHERE is_complete_year ORDER BY financial_year DESC LIMIT 1"
        ),
    },
    ("marts", "fct_ehcp_flows"): {
        "new_plans_all_years": "SELECT sum(new_plans)::BIGINT FROM marts.fct_ehcp_flows"
    },
    ("marts", "fct_data_quality"): {
        "rows_read_in_landing": (
            "SELECT sum(rows)::BIGINT FROM marts.fct_data_quality "
            "WHERE measure = 'rows_read' AND in_landing"
        ),
        "rows_quarantined_in_landing": "SELECT sum(rows)::BIGINT FROM marts.fct_data_quality "
        "WHERE measure = 'rows_quarantined' AND in_landing",
    },
}


def _prune_run_targets() -> None:
    """dagster-dbt writes target/<op>-<run id>-<hash>/ for every run: keep only the latest few."""
    target = dbt_project.project_dir / "target"
    runs = sorted(target.glob(f"{warehouse_models.op.name}-*"), key=lambda p: p.stat().st_mtime)
    for stale in runs[:-KEEP_RUN_TARGETS]:
        shutil.rmtree(stale, ignore_errors=True)


def _keep_partial_parse(run_target: Path) -> None:
    """dagster-dbt starts each run's target folder with a copy of target/partial_parse.msgpack, so
    dbt re-parses only what changed; put this run's back, so the next run with the same profile
    (the same warehouse path and settings) skips the 3 s full parse. Replaced atomically: another
    process may be copying it."""
    parsed = run_target / "partial_parse.msgpack"
    if not parsed.exists():
        return
    kept = dbt_project.project_dir / "target" / "partial_parse.msgpack"
    scratch = kept.with_name(f".partial_parse.{os.getpid()}.msgpack")
    try:
        shutil.copyfile(parsed, scratch)
        os.replace(scratch, kept)
    except OSError as error:  # only costs the next refresh a full parse: never fails this one
        dg.get_dagster_logger().warning(f"dbt's parse state not kept for the next refresh: {error}")
        scratch.unlink(missing_ok=True)


def _table_facts(con: duckdb.DuckDBPyConnection, key: dg.AssetKey) -> dict[str, object]:
    schema, name = key.path[0], key.path[-1]
    kind = con.execute(
        "SELECT table_type FROM information_schema.tables "
        "WHERE table_schema = ? AND table_name = ?",
        [schema, name],
    ).fetchone()
    if kind is None:
        return {}
    facts: dict[str, object] = {"relation": f"{schema}.{name}"}
    # a view's count would re-run its query: its source tables have theirs
    if kind[0] == "BASE TABLE":
        facts["dagster/row_count"] = con.execute(
            f'SELECT count(*) FROM {schema}."{name}"'
        ).fetchone()[0]
    for label, sql in MART_TOTALS.get(tuple(key.path), {}).items():
        value = con.execute(sql).fetchone()
        facts[label] = value[0] if value and value[0] is not None else 0
    return facts


def _compiled_sql(manifest: dict, unique_id: str | None) -> dg.MetadataValue | None:
    node = (manifest.get("nodes") or {}).get(unique_id or "", {})
    code = node.get("compiled_code")
    return dg.MetadataValue.md(f"```sql\n{code.strip()}\n```") if code else None


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=HighneedsTranslator(),
)
def warehouse_models(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
):
    """Builds and tests every dbt seed and model (one thread: the warehouse has one writer). The
    ledger's models take only the new finance files when nothing else changed since the last
    successful build (ingest/increment.py), else they are rebuilt whole."""
    with warehouse.get_connection() as con:
        # the marts change from here: their figures are unchecked until this run's gates pass
        record_figures(con, context.run.run_id, checked=False)
        ledger = increment.plan(con, dbt_project.project_dir)
        if not ledger.incremental:
            increment.forget(con, ledger.reason)
    context.log.info(f"The ledger's models: {ledger.describe()}")
    invocation = dbt.cli(
        ["build"] if ledger.incremental else ["build", "--full-refresh"],
        context=context,
        raise_on_error=False,
        extra_vars=ledger.dbt_vars(),
    )
    events = list(invocation.stream())
    try:
        manifest = invocation.get_artifact("manifest.json")
    except Exception:  # noqa: BLE001 - a missing artifact only costs the compiled SQL in the metadata
        manifest = {}
    extra = {**provenance(context.run.run_id), "ledger_build": ledger.describe()}
    with warehouse.get_connection(read_only=True) as con:
        for index, event in enumerate(events):
            if isinstance(event, dg.Output):
                key = context.asset_key_for_output(event.output_name)
                metadata = {**extra, **_table_facts(con, key)}
                unique_id = event.metadata.get("unique_id")
                compiled = _compiled_sql(manifest, getattr(unique_id, "value", unique_id))
                if compiled is not None:
                    metadata["compiled_sql"] = compiled
                events[index] = event.with_metadata({**event.metadata, **metadata})
    # only a build of the whole project says what the next increment may start from: a subset
    # chosen in the UI may have left a ledger model behind
    if invocation.is_successful() and not context.is_subset:
        with warehouse.get_connection() as con:
            increment.record(con, dbt_project.project_dir, ledger.whole_checks)
    yield from events
    if invocation.is_successful():
        _keep_partial_parse(invocation.target_path)
    _prune_run_targets()
    if not invocation.is_successful():
        error = invocation.get_error() or dg.Failure("dbt build failed: see the step's logs")
        raise (
            _disk_full_in_log(invocation.target_path / "dbt.log", Path(warehouse.database)) or error
        )


def _disk_full_in_log(log: Path, warehouse: Path) -> Exception | None:
    """dbt reports a full disk as a failed model deep in its log: say it plainly instead."""
    if not log.exists():
        return None
    with log.open("rb") as handle:
        handle.seek(max(0, log.stat().st_size - (4 << 20)))  # the failure is near the end
        tail = handle.read().decode("utf-8", errors="replace")
    found = DISK_FULL_TEXT.search(tail)
    if found is None:
        return None
    line = tail[tail.rfind("\n", 0, found.start()) + 1 : tail.find("\n", found.end())].strip()
    return disk_full_error(OSError(errno.ENOSPC, line), "Building the dbt models", warehouse.parent)
