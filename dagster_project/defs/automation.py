"""The refresh job, the nightly schedule and the landing-folder sensor.

Both start stopped (Dagster's default) unless HIGHNEEDS_AUTOMATION=on, which starts them running
when the definitions load; either way they fire only while the Dagster daemon runs (`highneeds ui`
or `highneeds daemon`). A switch flipped in the UI is remembered in DAGSTER_HOME and wins over the
setting.
"""


import hashlib

import dagster as dg

from ..settings import load_settings

refresh_job = dg.define_asset_job(
    "refresh",
    selection=dg.AssetSelection.all(include_sources=True),
    description="Observe the landing folder, load new files, rebuild the warehouse, run every gate, and forecast when they pass.",
)

RUNNING = load_settings().automation

nightly_refresh = dg.ScheduleDefinition(
    name="nightly_refresh",
    job=refresh_job,
    cron_schedule="0 2 * * *",
    execution_timezone="Europe/London",
    description="Refresh every night at 02:00 UK time.",
    default_status=dg.DefaultScheduleStatus.RUNNING if RUNNING else dg.DefaultScheduleStatus.STOPPED,
)


def landing_fingerprint() -> str:
    """Names, sizes and modification times of the landing files (cheap: no file is read)."""
    landing = load_settings().landing
    digest = hashlib.sha256()
    if landing.is_dir():
        for path in sorted(p for p in landing.rglob("*") if p.is_file()):
            stat = path.stat()
            digest.update(f"{path.relative_to(landing)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@dg.sensor(
    job=refresh_job,
    minimum_interval_seconds=60,
    description="Starts a refresh when files in the landing folder are added, changed or removed.",
    default_status=dg.DefaultSensorStatus.RUNNING if RUNNING else dg.DefaultSensorStatus.STOPPED,
)
def landing_files_changed(context: dg.SensorEvaluationContext):
    fingerprint = landing_fingerprint()
    if fingerprint == context.cursor:
        return dg.SkipReason("no change in the landing folder")
    context.update_cursor(fingerprint)
    return dg.RunRequest(run_key=fingerprint)
