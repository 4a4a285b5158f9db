"""The dbt project as assets: staging → intermediate → marts; dbt tests become asset checks."""


import shutil

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from ..dbt_project import dbt_project
from ..translator import HighneedsTranslator

KEEP_RUN_TARGETS = 5


def _prune_run_targets() -> None:
    """dagster-dbt writes target/<op>-<run id>-<hash>/ for every run: keep only the latest few."""
    target = dbt_project.project_dir / "target"
    runs = sorted(target.glob(f"{warehouse_models.op.name}-*"), key=lambda p: p.stat().st_mtime)
    for stale in runs[:-KEEP_RUN_TARGETS]:
        shutil.rmtree(stale, ignore_errors=True)


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, dagster_dbt_translator=HighneedsTranslator())
def warehouse_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """Builds and tests every dbt seed and model (one thread: the warehouse has one writer)."""
    yield from dbt.cli(["build"], context=context).stream()
    _prune_run_targets()
