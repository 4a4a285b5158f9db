"""The performance benchmark: generate councils of several sizes, run a full refresh of each in a
fresh process, and write wall time per stage and peak memory to bench/RESULTS.md.

    make bench                      # council and England
    python -m bench.run --sizes council

Figures come from one run each and are written by this script, never edited by hand.
"""

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.concurrency import SECTION_MARKER
from bench.peak_memory import PEAK_PREFIX

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "RESULTS.md"
SIZES = {"council": 2_000, "england": 720_000}
STAGE_OF_STEP = (
    ("_ingest_gates", "checks"),
    ("raw__", "ingest"),
    ("warehouse_models", "dbt"),
    ("warehouse_gates", "checks"),
    ("gates__", "checks"),
    ("forecast", "forecast"),
    ("publish", "publish"),
)


@dataclass
class Measurement:
    size: str
    children: int
    generate_seconds: float
    landing_bytes: int
    landing_rows: dict[str, int]
    refresh_seconds: float
    peak_rss_bytes: int
    exit_code: int
    stages: dict[str, float]
    finance_ingest_seconds: float


def stage_of(step_key: str) -> str:
    for fragment, stage in STAGE_OF_STEP:
        if fragment in step_key:
            return stage
    return "other"


def run_size(name: str, children: int, work: Path) -> Measurement:
    folder = work / name
    shutil.rmtree(folder, ignore_errors=True)
    landing = folder / "landing"
    python = sys.executable
    started = time.monotonic()
    subprocess.run(
        [python, "-m", "dagster_project.cli", "generate", "--out", str(landing), "--children", str(children)],
        check=True, cwd=REPO_ROOT,
    )
    generate_seconds = time.monotonic() - started
    landing_bytes = sum(p.stat().st_size for p in landing.rglob("*") if p.is_file())
    env = {
        **os.environ,
        "HIGHNEEDS_LANDING": str(landing),
        "HIGHNEEDS_WAREHOUSE": str(folder / "warehouse.duckdb"),
        "HIGHNEEDS_SERVING": str(folder / "serving.duckdb"),
        "DAGSTER_HOME": str(folder / "dagster_home"),
        "HIGHNEEDS_PSEUDONYM_KEY": "benchmark-key",
    }
    started = time.monotonic()
    completed = subprocess.run([python, "-m", "bench.peak_memory", python, "-m", "dagster_project.cli", "refresh"],
                               cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    refresh_seconds = time.monotonic() - started
    peak_line = [line for line in completed.stdout.splitlines() if line.startswith(PEAK_PREFIX)]
    if completed.returncode != 0:
        print(completed.stdout[-3000:], completed.stderr[-3000:], file=sys.stderr)
    steps = _step_seconds(folder / "dagster_home")
    stages: dict[str, float] = {}
    for step, seconds in steps.items():
        stages[stage_of(step)] = stages.get(stage_of(step), 0.0) + seconds
    return Measurement(
        size=name,
        children=children,
        generate_seconds=generate_seconds,
        landing_bytes=landing_bytes,
        landing_rows=_landing_rows(folder / "warehouse.duckdb"),
        refresh_seconds=refresh_seconds,
        peak_rss_bytes=int(peak_line[-1].removeprefix(PEAK_PREFIX)) if peak_line else 0,
        exit_code=completed.returncode,
        stages=stages,
        finance_ingest_seconds=steps.get("raw__finance", 0.0),
    )


def _landing_rows(warehouse: Path) -> dict[str, int]:
    import duckdb

    if not warehouse.exists():
        return {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return dict(con.execute("SELECT extract, sum(rows_read)::BIGINT FROM raw.landing_files GROUP BY 1 ORDER BY 1").fetchall())


def _step_seconds(dagster_home: Path) -> dict[str, float]:
    """Wall time per step of the latest run, from its step events in the Dagster instance."""
    import dagster as dg

    os.environ["DAGSTER_HOME"] = str(dagster_home)
    instance = dg.DagsterInstance.get()
    run = instance.get_runs(limit=1)[0]
    return {
        step.step_key: step.end_time - step.start_time
        for step in instance.get_run_step_stats(run.run_id)
        if step.start_time and step.end_time
    }


def versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("dagster", "dagster-dbt", "dbt-core", "dbt-duckdb", "duckdb", "great-expectations", "pandas")}


def code_version() -> str:
    completed = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT, capture_output=True, text=True)
    return (completed.stdout.strip() or "unknown") + (" with uncommitted changes" if dirty.stdout.strip() else "")


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{platform.machine()}, {os.cpu_count()} cores, {memory / 2**30:.0f} GiB, Python {platform.python_version()}"


def write_results(measurements: list[Measurement]) -> None:
    stage_names = ["ingest", "dbt", "checks", "forecast", "publish", "other"]
    lines = [
        "# Benchmark results",
        "",
        f"Written by `python -m bench.run` on {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} — one run per size, not edited by hand.",
        "",
        f"Machine: {machine()}.  ",
        f"Code: commit {code_version()}.  ",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()) + ".",
        "",
        "Full refresh (`highneeds refresh` in a fresh process, empty warehouse) on synthetic extracts from `highneeds generate`.",
        "Stage times come from the Dagster step events; the total is process start to exit; peak memory is the largest",
        "resident set of the refresh process and its children (dbt).",
        "",
        "| size | active plans | landing rows | landing MB | generate s | " + " | ".join(f"{s} s" for s in stage_names) + " | refresh total s | peak memory GiB | exit |",
        "|---|---|---|---|---|" + "---|" * len(stage_names) + "---|---|---|",
    ]
    for m in measurements:
        rows = sum(m.landing_rows.values())
        stage_cells = " | ".join(f"{m.stages.get(s, 0.0):.1f}" for s in stage_names)
        lines.append(
            f"| {m.size} | {m.children:,} | {rows:,} | {m.landing_bytes / 1e6:,.0f} | {m.generate_seconds:.1f} | {stage_cells} | "
            f"{m.refresh_seconds:.1f} | {m.peak_rss_bytes / 2**30:.2f} | {m.exit_code} |"
        )
    lines += ["", "Rows per extract, and the finance ingest's throughput (read, parse, validate, hash ids, write raw,",
              "quarantine and typed rows; the `raw/finance` step):", ""]
    for m in measurements:
        finance = m.landing_rows.get("finance", 0)
        rate = f"{finance / m.finance_ingest_seconds:,.0f} rows/s" if m.finance_ingest_seconds else "n/a"
        lines.append(f"- {m.size}: " + ", ".join(f"{k} {v:,}" for k, v in m.landing_rows.items())
                     + f"; finance ingest {m.finance_ingest_seconds:.1f} s = {rate}")
    previous = RESULTS.read_text() if RESULTS.exists() else ""
    kept = previous[previous.index(SECTION_MARKER):] if SECTION_MARKER in previous else ""  # bench.concurrency's
    RESULTS.write_text("\n".join(lines) + "\n" + ("\n" + kept if kept else ""))
    (BENCH_DIR / "results.json").write_text(json.dumps([m.__dict__ for m in measurements], indent=2, default=str) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(SIZES), help=f"comma-separated, from {', '.join(SIZES)}")
    parser.add_argument("--work", default=str(BENCH_DIR / "out"), help="scratch folder for extracts and warehouses")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    measurements = []
    for name in args.sizes.split(","):
        print(f"benchmark: {name} ({SIZES[name]:,} active plans)", flush=True)
        measurement = run_size(name, SIZES[name], work)
        print(f"  refresh {measurement.refresh_seconds:.1f}s, peak {measurement.peak_rss_bytes / 2**30:.2f} GiB, exit {measurement.exit_code}", flush=True)
        measurements.append(measurement)
    write_results(measurements)
    print(f"wrote {RESULTS}")
    return 0 if all(m.exit_code == 0 for m in measurements) else 1


if __name__ == "__main__":
    sys.exit(main())
