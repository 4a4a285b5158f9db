"""The one DbtProject object, kept apart from the @dbt_assets so tooling can import it alone.

dagster-dbt needs `target/manifest.json` before the definitions load. It is rebuilt here with
`dbt parse` whenever it is missing or older than any file of the dbt project, so a fresh clone,
the tests and `dagster dev` all load without a manual step.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from .settings import DBT_PROJECT_DIR

DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")
_SOURCES = ("models", "seeds", "macros", "tests", "dbt_project.yml", "profiles.yml")


def _newest_source_mtime(project_dir: Path) -> float:
    newest = 0.0
    for name in _SOURCES:
        path = project_dir / name
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        newest = max([newest, *(f.stat().st_mtime for f in files)])
    return newest


def ensure_manifest(project_dir: Path = DBT_PROJECT_DIR) -> Path:
    manifest = project_dir / "target" / "manifest.json"
    if not manifest.exists() or manifest.stat().st_mtime < _newest_source_mtime(project_dir):
        env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
        completed = subprocess.run(
            [DBT_EXECUTABLE, "parse", "--project-dir", str(project_dir), "--profiles-dir", str(project_dir), "--quiet"],
            cwd=project_dir, env=env, capture_output=True, text=True, check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"dbt parse failed:\n{completed.stdout}\n{completed.stderr}")
    return manifest


ensure_manifest()
dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
