"""Where a report is built and how it is swapped in, crash-safe (no drawing here: cheap to import).

    <out_dir>/internal/, publication/      the report readers open
    <out_dir>/.last-build.json             the run it belongs to and what it was made from
                                           (moved in last)
    <out_dir>/.next-<run id>/              a report built by that run, waiting to be swapped in

A refresh builds its report before it publishes the serving file and swaps it in right after the
serving file's rename, so both come from the same run. A refresh killed between the two renames
leaves its report staged: `settle_report`, at the next start, swaps it in, since the serving file
names that run; reports staged by runs that never published are removed.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

AUDIENCES = ("internal", "publication")
LAST_BUILD = ".last-build.json"
STAGED_PREFIX = ".next-"


def staged_report_dir(out_dir: Path, run_id: str | None) -> Path:
    return out_dir / f"{STAGED_PREFIX}{run_id or 'manual'}"


def is_staged(out_dir: Path, run_id: str) -> bool:
    """Whether run `run_id` built its report completely and it waits to be swapped in."""
    return (staged_report_dir(out_dir, run_id) / LAST_BUILD).exists()


def install_report(out_dir: Path, run_id: str | None) -> bool:
    """Swap the report staged by `run_id` in: each audience's folder, then the record naming the
    run. Safe to repeat after a crash at any point (it carries on where it stopped); False when
    nothing was staged."""
    staging = staged_report_dir(out_dir, run_id)
    if not (staging / LAST_BUILD).exists():
        return False
    for audience in AUDIENCES:
        new, target, old = staging / audience, out_dir / audience, out_dir / f".{audience}.old"
        if not new.is_dir():  # a reused report (nothing drawn), or already moved in
            continue
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            target.rename(old)
        new.rename(target)
    os.replace(staging / LAST_BUILD, out_dir / LAST_BUILD)
    for audience in AUDIENCES:
        shutil.rmtree(out_dir / f".{audience}.old", ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)
    return True


def installed_run(out_dir: Path) -> str | None:
    """The refresh run the report in `out_dir` belongs to (None: no report, or no record of it)."""
    try:
        return json.loads((out_dir / LAST_BUILD).read_text(encoding="utf-8"))["run_id"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def installed_council(out_dir: Path) -> str | None:
    """The council whose report is in `out_dir` (None: no report, or a record from before it was
    kept)."""
    try:
        return json.loads((out_dir / LAST_BUILD).read_text(encoding="utf-8")).get("la_code")
    except (OSError, ValueError, AttributeError):
        return None


def settle_report(out_dir: Path, published_run_id: str | None) -> bool:
    """Finish what a killed refresh or report left: swap in the report of the run that published
    the serving file (killed between the two swaps: its report is staged), remove reports staged
    by runs that never published, and put back a folder an unfinished swap had moved aside.
    True when it swapped a report in."""
    installed = False
    for staging in sorted(out_dir.glob(f"{STAGED_PREFIX}*")):
        if published_run_id and staging.name == staged_report_dir(out_dir, published_run_id).name:
            installed = install_report(out_dir, published_run_id)
        shutil.rmtree(staging, ignore_errors=True)
    for audience in AUDIENCES:
        old, target = out_dir / f".{audience}.old", out_dir / audience
        if old.is_dir() and not target.exists():
            old.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    return installed
