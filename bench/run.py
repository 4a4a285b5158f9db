"""The performance benchmark: generate councils of several sizes, run a full refresh of each in a
fresh process, and write wall time per stage and peak memory to bench/RESULTS.md.

    make bench                      # council, region and England, and the all-councils backtest
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
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.concurrency import SECTION_MARKER
from bench.councils import END as COUNCILS_END
from bench.councils import START as COUNCILS_START
from bench.peak_memory import PEAK_PREFIX
from bench.spark import START as SPARK_START
from bench.spark import kept_section

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "RESULTS.md"
# what the profiler showed and what each change bought (written by people)
NOTES = BENCH_DIR / "NOTES.md"
# the DfE releases, for the all-councils backtest
PUBLISHED = REPO_ROOT.parent / "shared" / "reference-data"
SIZES = {"council": 2_000, "region": 50_000, "england": 720_000}
STAGES = ("ingest", "checks", "dbt", "docs", "forecast", "publish", "report", "other")
STAGE_OF_STEP = (
    ("observe_landing", "ingest"),
    ("_ingest_gates", "checks"),
    ("raw__", "ingest"),
    ("warehouse_models", "dbt"),
    ("warehouse_gates", "checks"),
    ("gates__", "checks"),
    ("docs__", "docs"),
    ("forecast", "forecast"),
    ("publish", "publish"),
    ("report", "report"),
)
# targets from the performance issue, on this machine
TARGET_RATIO_TO_FLOOR = 1.5
TARGET_PEAK_GIB = 6.0
TARGET_COUNCIL_SECONDS = 20.0
TARGET_FORECAST_SECONDS = 10.0
TARGET_BACKTEST_SECONDS = 180.0
TARGET_INCREMENTAL_SHARE = 0.25
TARGET_LINEARITY = 1.25


@dataclass
class Refresh:
    seconds: float
    peak_rss_bytes: int
    exit_code: int
    stages: dict[str, float]  # stage → seconds; "other" is the process's time outside the steps
    finance_ingest_seconds: float


@dataclass
class Measurement:
    size: str
    children: int
    generate_seconds: float
    landing_bytes: int
    landing_rows: dict[str, int]
    full: Refresh
    floor_seconds: float
    floor_peak_rss_bytes: int
    incremental: Refresh | None
    incremental_rows: int
    simulations: int


def stage_of(step_key: str) -> str:
    for fragment, stage in STAGE_OF_STEP:
        if fragment in step_key:
            return stage
    return "other"


def _measured(
    command: list[str], env: dict[str, str] | None = None
) -> tuple[float, int, subprocess.CompletedProcess]:
    """Run a command in a fresh process under bench.peak_memory: wall seconds, peak RSS, result."""
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "bench.peak_memory", *command],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    peaks = [line for line in completed.stdout.splitlines() if line.startswith(PEAK_PREFIX)]
    if completed.returncode != 0:
        print(completed.stdout[-3000:], completed.stderr[-3000:], file=sys.stderr)
    return seconds, int(peaks[-1].removeprefix(PEAK_PREFIX)) if peaks else 0, completed


def refresh(folder: Path, env: dict[str, str]) -> Refresh:
    seconds, peak, completed = _measured(
        [sys.executable, "-m", "dagster_project.cli", "refresh"], env
    )
    steps = _step_seconds(folder / "dagster_home")
    stages = dict.fromkeys(STAGES, 0.0)
    for step, took in steps.items():
        stages[stage_of(step)] += took
    # start-up, imports, Dagster between steps
    stages["other"] += max(0.0, seconds - sum(steps.values()))
    return Refresh(seconds, peak, completed.returncode, stages, steps.get("raw__finance", 0.0))


def refresh_env(folder: Path, landing: Path) -> dict[str, str]:
    """The environment of a benchmark refresh of `landing`: its warehouse, serving file and
    Dagster instance in `folder`."""
    return {
        **os.environ,
        "HIGHNEEDS_LANDING": str(landing),
        "HIGHNEEDS_WAREHOUSE": str(folder / "warehouse.duckdb"),
        "HIGHNEEDS_SERVING": str(folder / "serving.duckdb"),
        "DAGSTER_HOME": str(folder / "dagster_home"),
        "HIGHNEEDS_PSEUDONYM_KEY": "benchmark-pseudonym-key-of-32-bytes-or-more",
    }


def add_finance_month(landing: Path) -> int:
    """The nightly case: one new month of the ledger arrives as a new file (the latest month's
    payments again, a month later, with new transaction ids). Returns its rows."""
    import duckdb

    finance = landing / "finance"
    new_file = finance / "finance_next_month.csv"
    # the generator writes one file per financial year
    latest_file = max(finance.glob("finance_20*.csv"))
    with duckdb.connect() as con:
        source = f"read_csv('{latest_file}', header = true, all_varchar = true)"
        latest = con.execute(f"SELECT max(posting_date) FROM {source}").fetchone()[0]
        month = latest[:7]
        columns = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
        shifted = {
            "transaction_id": "'NEXT-' || transaction_id",
            "posting_date": (
                "strftime(last_day(CAST(posting_date AS DATE) + INTERVAL 1 MONTH), '%Y-%m-%d')"
            ),
        }
        select = ", ".join(f"{shifted.get(c, c)} AS {c}" for c in columns)
        con.execute(
            f"COPY (SELECT {select} FROM {source} WHERE posting_date LIKE '{month}%') "
            f"TO '{new_file}' (HEADER)"
        )
        return con.execute(
            f"SELECT count(*) FROM read_csv('{new_file}', header = true)"
        ).fetchone()[0]


def run_size(name: str, children: int, work: Path, incremental: bool) -> Measurement:
    folder = work / name
    shutil.rmtree(folder, ignore_errors=True)
    landing = folder / "landing"
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "dagster_project.cli",
            "generate",
            "--out",
            str(landing),
            "--children",
            str(children),
        ],
        check=True,
        cwd=REPO_ROOT,
    )
    generate_seconds = time.monotonic() - started
    landing_bytes = sum(p.stat().st_size for p in landing.rglob("*") if p.is_file())
    env = refresh_env(folder, landing)
    floor_seconds, floor_peak, floor_run = _measured(
        [sys.executable, "-m", "bench.floor", str(landing)]
    )
    floor_seconds = next(
        (
            float(line.split("=", 1)[1])
            for line in floor_run.stdout.splitlines()
            if line.startswith("floor_seconds=")
        ),
        floor_seconds,
    )
    print(f"  floor {floor_seconds:.1f}s", flush=True)
    full = refresh(folder, env)
    print(
        f"  full refresh {full.seconds:.1f}s, peak {full.peak_rss_bytes / 2**30:.2f} "
        f"GiB, exit {full.exit_code}",
        flush=True,
    )
    landing_rows = _landing_rows(folder / "warehouse.duckdb")
    nightly, new_rows = None, 0
    if incremental and full.exit_code == 0:
        new_rows = add_finance_month(landing)
        nightly = refresh(folder, env)
        print(
            f"  one new month of finance ({new_rows:,} rows): "
            f"{nightly.seconds:.1f}s, exit {nightly.exit_code}",
            flush=True,
        )
    from dagster_project.settings import load_settings

    return Measurement(
        name,
        children,
        generate_seconds,
        landing_bytes,
        landing_rows,
        full,
        floor_seconds,
        floor_peak,
        nightly,
        new_rows,
        load_settings().forecast.simulations,
    )


def backtest_seconds() -> tuple[float | None, str]:
    """The all-councils aggregate backtest (`highneeds backtest`) on the DfE's published files."""
    if not (PUBLISHED / "ehcp_2025_release").exists():
        return (
            None,
            f"not run: {PUBLISHED} is missing "
            "(download the DfE 'Education, health and care plans' release)",
        )
    seconds, _, completed = _measured(
        [sys.executable, "-m", "dagster_project.cli", "backtest", "--published", str(PUBLISHED)]
    )
    first = next(
        (line for line in completed.stdout.splitlines() if line.startswith("Rolling-origin")), ""
    )
    return (seconds if completed.returncode == 0 else None), first.rstrip(":")


def _landing_rows(warehouse: Path) -> dict[str, int]:
    import duckdb

    if not warehouse.exists():
        return {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return dict(
            con.execute(
                "SELECT extract, sum(rows_read)::BIGINT FROM raw.landing_files GROUP BY 1 "
                "ORDER BY 1"
            ).fetchall()
        )


def _step_seconds(dagster_home: Path) -> dict[str, float]:
    """Wall time per step of the latest run, from its step events in the Dagster instance."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(dagster_home))
    run = instance.get_runs(limit=1)[0]
    return {
        step.step_key: step.end_time - step.start_time
        for step in instance.get_run_step_stats(run.run_id)
        if step.start_time and step.end_time
    }


def versions() -> dict[str, str]:
    from importlib.metadata import version

    return {
        name: version(name)
        for name in (
            "dagster",
            "dagster-dbt",
            "dbt-core",
            "dbt-duckdb",
            "duckdb",
            "great-expectations",
            "pandas",
        )
    }


def code_version() -> str:
    completed = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    # the bench's own results (written by an earlier part of the same run) are not code changes
    dirty = subprocess.run(
        [
            "git",
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            ":(exclude)bench/*results.json",
            ":(exclude)bench/RESULTS.md",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return (completed.stdout.strip() or "unknown") + (
        " with uncommitted changes" if dirty.stdout.strip() else ""
    )


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {memory / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}"
    )


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f}"


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def write_results(measurements: list[Measurement], backtest: tuple[float | None, str]) -> None:
    by_size = {m.size: m for m in measurements}
    lines = [
        "# Benchmark results",
        "",
        (
            "Written by `python -m bench.run` (`make bench`) on "
            f"{dt.datetime.now().strftime('%Y-%m-%d %H:%M')}: one run per size, "
            "figures not edited by hand."
        ),
        "",
        f"Machine: {machine()}.  ",
        f"Code: commit {code_version()}.  ",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()) + ".",
        "",
        (
            "Each size: `highneeds generate` writes the synthetic extracts; "
            "the floor (`bench/floor.sql`: the spend and"
        ),
        (
            "cohort marts from the same landing files with DuckDB alone) runs in a fresh "
            "process; then a full refresh"
        ),
        (
            "(`highneeds refresh`, fresh process, empty warehouse); then one new month of "
            "finance is dropped in and the"
        ),
        (
            "refresh runs again. Stage times come from the Dagster step events; "
            "*other* is the rest of the process's"
        ),
        (
            "time (start-up, imports, Dagster between steps). "
            "Peak memory is the largest resident set of the process"
        ),
        "and its children (dbt).",
        "",
        "## Full refresh against the floor",
        "",
        "| size | children (active plans) | landing rows | landing MB | "
        + " | ".join(f"{s} s" for s in STAGES)
        + " | refresh total s | peak GiB | floor s | floor peak GiB | refresh ÷ floor | exit |",
        "|---|---|---|---|" + "---|" * len(STAGES) + "---|---|---|---|---|---|",
    ]
    for m in measurements:
        rows = sum(m.landing_rows.values())
        cells = " | ".join(f"{m.full.stages.get(s, 0.0):.1f}" for s in STAGES)
        ratio = m.full.seconds / m.floor_seconds if m.floor_seconds else float("nan")
        lines.append(
            f"| {m.size} | {m.children:,} | {rows:,} | {m.landing_bytes / 1e6:,.0f} | {cells} | "
            f"{m.full.seconds:.1f} | {_gib(m.full.peak_rss_bytes)} | {m.floor_seconds:.1f} | "
            f"{_gib(m.floor_peak_rss_bytes)} | {ratio:.1f} | {m.full.exit_code} |"
        )
    lines += [
        "",
        "## Growth with size",
        "",
        (
            "| size | landing rows | refresh s | seconds per million landing rows | "
            "floor s per million rows |"
        ),
        "|---|---|---|---|---|",
    ]
    for m in measurements:
        rows = sum(m.landing_rows.values()) or 1
        lines.append(
            f"| {m.size} | {rows:,} | {m.full.seconds:.1f} | {m.full.seconds / rows * 1e6:.1f} | "
            f"{m.floor_seconds / rows * 1e6:.1f} |"
        )
    lines += [
        "",
        "## One new month of finance (the nightly case)",
        "",
        "| size | new ledger rows | refresh s | "
        + " | ".join(f"{s} s" for s in STAGES)
        + " | share of the full refresh | exit |",
        "|---|---|---|" + "---|" * len(STAGES) + "---|---|",
    ]
    for m in measurements:
        if m.incremental is None:
            continue
        cells = " | ".join(f"{m.incremental.stages.get(s, 0.0):.1f}" for s in STAGES)
        lines.append(
            f"| {m.size} | {m.incremental_rows:,} | {m.incremental.seconds:.1f} | {cells} | "
            f"{m.incremental.seconds / m.full.seconds:.0%} | {m.incremental.exit_code} |"
        )
    lines += [
        "",
        (
            "Rows per extract, and the finance ingest's throughput (read, parse, "
            "validate, hash ids, write raw,"
        ),
        "quarantine and typed rows: the `raw/finance` step):",
        "",
    ]
    for m in measurements:
        finance = m.landing_rows.get("finance", 0)
        rate = (
            f"{finance / m.full.finance_ingest_seconds:,.0f} rows/s"
            if m.full.finance_ingest_seconds
            else "n/a"
        )
        lines.append(
            f"- {m.size}: "
            + ", ".join(f"{k} {v:,}" for k, v in m.landing_rows.items())
            + f"; finance ingest {m.full.finance_ingest_seconds:.1f} s = {rate}"
        )
    lines += ["", "## Targets", "", "| target | measured | verdict |", "|---|---|---|"]
    england, council = by_size.get("england"), by_size.get("council")
    if england:
        ratio = england.full.seconds / england.floor_seconds
        lines.append(
            f"| England full refresh ≤ {TARGET_RATIO_TO_FLOOR}× the floor | "
            f"{england.full.seconds:.0f} s = {ratio:.1f}× {england.floor_seconds:.0f} s | "
            f"{_met(ratio <= TARGET_RATIO_TO_FLOOR)} |"
        )
        peak = england.full.peak_rss_bytes / 2**30
        lines.append(
            f"| England peak memory ≤ {TARGET_PEAK_GIB:.0f} GiB | {peak:.2f} GiB | "
            f"{_met(peak <= TARGET_PEAK_GIB)} |"
        )
        if england.incremental:
            share = england.incremental.seconds / england.full.seconds
            lines.append(
                f"| England, one new month of finance ≤ {TARGET_INCREMENTAL_SHARE:.0%} of the full "
                f"refresh | {england.incremental.seconds:.0f} s = {share:.0%} | "
                f"{_met(share <= TARGET_INCREMENTAL_SHARE)} |"
            )
    if council:
        lines.append(
            f"| council full refresh, process start to exit, ≤ {TARGET_COUNCIL_SECONDS:.0f} s | "
            f"{council.full.seconds:.1f} s | "
            f"{_met(council.full.seconds <= TARGET_COUNCIL_SECONDS)} |"
        )
        forecast = council.full.stages.get("forecast", 0.0)
        lines.append(
            f"| council forecast ({council.simulations:,} simulations, backtest and mitigations "
            f"included) ≤ {TARGET_FORECAST_SECONDS:.0f} s | {forecast:.1f} s | "
            f"{_met(forecast <= TARGET_FORECAST_SECONDS)} |"
        )
    seconds, what = backtest
    if seconds is None:
        lines.append(
            f"| all-councils aggregate backtest ≤ {TARGET_BACKTEST_SECONDS / 60:.0f} min "
            f"| {what} | not measured |"
        )
    else:
        lines.append(
            f"| all-councils aggregate backtest ≤ {TARGET_BACKTEST_SECONDS / 60:.0f} min | "
            f"{seconds:.1f} s (process start to exit; "
            f"{what}) | {_met(seconds <= TARGET_BACKTEST_SECONDS)} |"
        )
    if len(measurements) > 1:
        # the council's time is mostly fixed start-up; linearity shows between the two larger sizes
        small, large = measurements[-2], measurements[-1]
        rows_grew = sum(large.landing_rows.values()) / sum(small.landing_rows.values())
        time_grew = large.full.seconds / small.full.seconds
        lines.append(
            "| cost grows about linearly with size (time growth ÷ row growth ≤ "
            f"{TARGET_LINEARITY}) | {small.size} → {large.size}: {time_grew:.1f}× the time for "
            f"{rows_grew:.1f}× the rows = {time_grew / rows_grew:.2f} | "
            f"{_met(time_grew / rows_grew <= TARGET_LINEARITY)} |"
        )
    previous = RESULTS.read_text() if RESULTS.exists() else ""
    # bench.concurrency's
    kept = previous[previous.index(SECTION_MARKER) :] if SECTION_MARKER in previous else ""
    notes = NOTES.read_text() if NOTES.exists() else ""
    spark = kept_section(previous)  # bench.spark's
    councils = kept_section(previous, COUNCILS_START, COUNCILS_END)  # bench.councils'
    RESULTS.write_text(
        "\n".join(lines)
        + "\n"
        + ("\n" + notes if notes else "")
        + ("\n" + councils + "\n" if councils else "")
        + ("\n" + spark + "\n" if spark else "")
        + ("\n" + kept if kept else "")
    )
    (BENCH_DIR / "results.json").write_text(
        json.dumps([asdict(m) for m in measurements], indent=2, default=str) + "\n"
    )


def copy_notes() -> None:
    """Copy bench/NOTES.md (written by people) into RESULTS.md again, leaving every measured
    figure as the last run wrote it: for notes written after looking at that run."""
    text, notes = RESULTS.read_text(), NOTES.read_text()
    start = text.index(notes.splitlines()[0])  # the notes' heading
    ends = [
        text.index(marker)
        for marker in (COUNCILS_START, SPARK_START, SECTION_MARKER)
        if marker in text
    ]
    end = min(ends) if ends else len(text)
    RESULTS.write_text(text[:start] + notes + ("\n" + text[end:] if end < len(text) else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default=",".join(SIZES), help=f"comma-separated, from {', '.join(SIZES)}"
    )
    parser.add_argument(
        "--work", default=str(BENCH_DIR / "out"), help="scratch folder for extracts and warehouses"
    )
    parser.add_argument(
        "--no-incremental", action="store_true", help="skip the one-new-month refresh"
    )
    parser.add_argument(
        "--notes-only",
        action="store_true",
        help="only copy bench/NOTES.md into RESULTS.md again (no run; the figures stay)",
    )
    args = parser.parse_args()
    if args.notes_only:
        copy_notes()
        print(f"copied {NOTES} into {RESULTS}")
        return 0
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    measurements = []
    for name in args.sizes.split(","):
        print(f"benchmark: {name} ({SIZES[name]:,} active plans)", flush=True)
        measurements.append(run_size(name, SIZES[name], work, incremental=not args.no_incremental))
    print("benchmark: all-councils aggregate backtest", flush=True)
    backtest = backtest_seconds()
    write_results(measurements, backtest)
    print(f"wrote {RESULTS}")
    return (
        0
        if all(
            m.full.exit_code == 0 and (m.incremental is None or m.incremental.exit_code == 0)
            for m in measurements
        )
        else 1
    )


if __name__ == "__main__":
    sys.exit(main())
