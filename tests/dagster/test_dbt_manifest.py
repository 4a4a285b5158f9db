"""The definitions' dbt manifest is parsed by one process at a time."""

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from dagster_project.settings import DBT_PROJECT_DIR


def test_a_stale_manifest_another_process_is_parsing_is_waited_for_not_parsed_twice(tmp_path):
    """Two processes finding the manifest stale at once (pytest's workers after a model edit) must
    not both write target/: the second waits for the first, then finds the manifest fresh."""
    project = tmp_path / "dbt"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    target = project / "target"
    target.mkdir()
    with open(target / ".parse.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # this test is the first process, parsing
        waiting = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from pathlib import Path; "
                "from dagster_project.dbt_project import ensure_manifest; "
                "print('imported', flush=True); ensure_manifest(Path(sys.argv[1]))",
                str(project),
            ],
            cwd=Path(__file__).parents[2],
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
            stdout=subprocess.PIPE,
            text=True,
        )
        assert waiting.stdout.readline().strip() == "imported"
        time.sleep(2.0)  # it finds the manifest missing and asks for the lock
        ours = {"written_by": "the first process"}
        (target / "manifest.json").write_text(json.dumps(ours))
    assert waiting.wait(timeout=600) == 0
    assert json.loads((target / "manifest.json").read_text()) == ours
