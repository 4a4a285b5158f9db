"""dbt's documentation site (model and column descriptions, column-level lineage), rebuilt when
the dbt project changes and kept beside the warehouse as one static HTML file."""

import hashlib
import shutil
import tempfile
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from ..dbt_project import dbt_project
from ..metadata import DATA_ENGINEERING, provenance
from ..settings import Settings
from .gates import MART_KEYS


def docs_path(settings: Settings) -> Path:
    return settings.warehouse.parent / "dbt_docs" / "index.html"


@dg.asset(
    key=["docs", "dbt_docs"],
    group_name="docs",
    owners=[DATA_ENGINEERING],
    kinds={"dbt", "html"},
    deps=MART_KEYS,
    description=(
        "dbt's documentation site as one static HTML file beside the warehouse "
        "(dbt_docs/index.html): every model's and column's description, tests and column-level "
        "lineage. Rebuilt only when the dbt project (its manifest) changes; "
        "`highneeds docs` prints where it is."
    ),
)
def dbt_docs(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, settings: dg.ResourceParam[Settings]
) -> dg.MaterializeResult:
    target = docs_path(settings)
    fingerprint = hashlib.sha256(Path(dbt_project.manifest_path).read_bytes()).hexdigest()
    stamp = target.with_suffix(".manifest-sha256")
    regenerated = not (target.exists() and stamp.exists() and stamp.read_text() == fingerprint)
    if regenerated:
        # the site depends on the project and the tables' columns, not their rows: one build per
        # version of the dbt project serves every warehouse built with it
        cached = (
            Path(dbt_project.project_dir) / "target" / "docs" / fingerprint / "static_index.html"
        )
        if not cached.exists():
            with tempfile.TemporaryDirectory(prefix="highneeds-docs-") as scratch:
                dbt.cli(
                    ["docs", "generate", "--static"], target_path=Path(scratch), raise_on_error=True
                ).wait()
                cached.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(Path(scratch) / "static_index.html", cached)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cached, target)
        stamp.write_text(fingerprint)
    return dg.MaterializeResult(
        metadata={
            "dbt_docs": dg.MetadataValue.path(str(target)),
            "open_in_browser": dg.MetadataValue.url(target.as_uri()),
            "regenerated_this_run": regenerated,
            **provenance(context.run.run_id),
        }
    )
