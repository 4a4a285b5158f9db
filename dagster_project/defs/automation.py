"""The refresh job, the nightly schedule and the landing-folder sensor.

Both start stopped (Dagster's default) unless HIGHNEEDS_AUTOMATION=on, which starts them running
when the definitions load; either way they fire only while the Dagster daemon runs (`highneeds ui`
or `highneeds daemon`). A switch flipped in the UI is remembered in DAGSTER_HOME and wins over the
setting.
"""

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from ingest.hashing import change_signature
from ingest.load import not_data

from .. import refresh_lock
from ..settings import Settings

refresh_job = dg.define_asset_job(
    "refresh",
    selection=dg.AssetSelection.all(include_sources=True),
    description=(
        "Observe the landing folder, load new files, rebuild the warehouse, run every gate, "
        "and forecast when they pass."
    ),
)


# a file changed more recently than this may still be being copied in: the sensor waits
SETTLE_SECONDS = 60


@dataclass(frozen=True)
class LandingState:
    fingerprint: str
    last_changed: float | None  # the newest change to a landing file (seconds since the epoch)
    last_changed_file: str | None


def landing_state(landing: Path) -> LandingState:
    """Names and change signatures of the landing files, as ingest's hash cache tells a change
    (cheap: no file is read), and the newest change. Files that are not data to ingest are none
    to the sensor either: LibreOffice's `.~lock.…#`, written whenever a landing file is opened,
    started a refresh."""
    digest = hashlib.sha256()
    newest, newest_file = None, None
    if landing.is_dir():
        for path in sorted(p for p in landing.rglob("*") if p.is_file()):
            if not_data(path):
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:  # gone between the listing and now
                continue
            name = str(path.relative_to(landing))
            digest.update(f"{name}|{change_signature(stat)}\n".encode())
            changed = max(stat.st_mtime, stat.st_ctime)
            if newest is None or changed > newest:
                newest, newest_file = changed, name
    return LandingState(digest.hexdigest(), newest, newest_file)


def build_automation(settings: Settings) -> tuple[dg.ScheduleDefinition, dg.SensorDefinition]:
    """The nightly schedule and the sensor on `settings.landing`, running when the definitions
    load if `settings.automation`."""
    running = settings.automation
    landing, warehouse = settings.landing, settings.warehouse
    schedule_status = (
        dg.DefaultScheduleStatus.RUNNING if running else dg.DefaultScheduleStatus.STOPPED
    )
    sensor_status = dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED

    nightly_refresh = dg.ScheduleDefinition(
        name="nightly_refresh",
        job=refresh_job,
        cron_schedule="0 2 * * *",
        execution_timezone="Europe/London",
        description="Refresh every night at 02:00 UK time.",
        default_status=schedule_status,
    )

    @dg.sensor(
        job=refresh_job,
        minimum_interval_seconds=60,
        description=(
            "Starts a refresh when files in the landing folder are added, changed or removed."
        ),
        default_status=sensor_status,
    )
    def landing_files_changed(context: dg.SensorEvaluationContext):
        state = landing_state(landing)
        fingerprint = state.fingerprint
        seen, changes = _read_cursor(context.cursor)
        if fingerprint == seen:
            return dg.SkipReason("no change in the landing folder")
        if state.last_changed is not None and time.time() - state.last_changed < SETTLE_SECONDS:
            # a tick while a file is copied in saw its first lines only: loaded, a ledger's
            # last month held 189 of its 647 postings, every gate green. The cursor stays, so
            # the next tick sees the change once the folder has been still for a minute
            return dg.SkipReason(
                f"{state.last_changed_file} changed less than {SETTLE_SECONDS} seconds ago: "
                "waiting for the landing folder to settle, so that a file still being copied "
                "in is not loaded half-written"
            )
        if refresh_lock.is_held(warehouse):
            # a run started now would be refused, and the change forgotten until the night: the
            # cursor stays, so the change is seen again on the first tick after that refresh
            return dg.SkipReason(
                "the landing folder changed while a refresh runs: a refresh starts after it"
            )
        # Dagster launches a run key once, ever: a folder changed back to an earlier state (a
        # wrong file taken out again) has an earlier fingerprint, so each change is numbered
        context.update_cursor(json.dumps({"fingerprint": fingerprint, "changes": changes + 1}))
        return dg.RunRequest(run_key=f"{fingerprint}-{changes + 1}")

    return nightly_refresh, landing_files_changed


def _read_cursor(cursor: str | None) -> tuple[str | None, int]:
    """The landing folder's fingerprint at the last run requested, and how many changes have
    been seen (a cursor from before they were counted is the fingerprint alone)."""
    if not cursor:
        return None, 0
    try:
        state = json.loads(cursor)
    except json.JSONDecodeError:
        return cursor, 0
    if not isinstance(state, dict):
        return cursor, 0
    return state["fingerprint"], int(state["changes"])
