"""The one DbtProject object, kept apart from the @dbt_assets so tooling can import it alone.

dagster-dbt needs `target/manifest.json` before the definitions load. `make setup` writes it
(`python -m dagster_project.dbt_project`); importing this module parses again only when it is
missing or older than a file of the dbt project (after a `git pull`, or while editing models),
so the definitions never load with a manifest that disagrees with the models, and load without
`dbt parse` otherwise. The parse reads the default settings: the manifest does not depend on
where the warehouse is (each refresh's dbt parses with its own settings, `--vars`).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from dagster_dbt import DbtProject

from .settings import (
    DBT_PROJECT_DIR,
    DEFAULT_DUCKDB_MEMORY_LIMIT,
    DEFAULT_WAREHOUSE,
    dbt_vars,
    dbt_vars_argument,
    default_duckdb_threads,
)

DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")
_SOURCES = ("models", "seeds", "macros", "tests", "dbt_project.yml", "profiles.yml")


def _newest_source_mtime(project_dir: Path) -> float:
    newest = 0.0
    for name in _SOURCES:
        path = project_dir / name
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        newest = max([newest, *(f.stat().st_mtime for f in files)])
    return newest


def parse_vars() -> dict[str, str]:
    """dbt's profile variables for a parse: the default settings (a parse opens no database)."""
    warehouse = (Path.cwd() / DEFAULT_WAREHOUSE).resolve()
    return dbt_vars(warehouse, DEFAULT_DUCKDB_MEMORY_LIMIT, default_duckdb_threads())


def ensure_manifest(
    project_dir: Path = DBT_PROJECT_DIR, profile_vars: Mapping[str, str] | None = None
) -> Path:
    """`target/manifest.json`, parsed again when it is missing or older than the dbt project."""
    manifest = project_dir / "target" / "manifest.json"
    # Two processes finding it stale at once (pytest's workers after a model edit) would both
    # write target/ and could leave the manifest interleaved; one reading it while another
    # writes it would find it fresh and half-written: the check and the parse hold a lock, so
    # the second waits, then finds it fresh and whole.
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with open(manifest.parent / ".parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _fresh(manifest, project_dir):
            _parse(project_dir, profile_vars)
    return manifest


def _fresh(manifest: Path, project_dir: Path) -> bool:
    return manifest.exists() and manifest.stat().st_mtime >= _newest_source_mtime(project_dir)


def _parse(project_dir: Path, profile_vars: Mapping[str, str] | None) -> None:
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}  # the child's only
    completed = subprocess.run(
        [
            DBT_EXECUTABLE,
            "parse",
            "--project-dir",
            str(project_dir),
            "--profiles-dir",
            str(project_dir),
            "--quiet",
            *dbt_vars_argument(profile_vars or parse_vars()),
        ],
        cwd=project_dir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"dbt parse failed:\n{completed.stdout}\n{completed.stderr}")


ensure_manifest()
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
