"""The benchmark's Spark sizes: the demo's and a region's synthetic councils built by the dbt
project on a local Spark session beside DuckDB, every table and every read the Python makes
compared (spark.compare), each step timed.

    make bench-spark            # .venv-spark/bin/python -m bench.spark --sizes council,region

Writes the Spark section of bench/RESULTS.md (between its markers; `bench.run` and
`bench.concurrency` keep it) and bench/spark_results.json. Needs the `spark` extra and Java.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

from bench.concurrency import SECTION_MARKER

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "RESULTS.md"
JSON = BENCH_DIR / "spark_results.json"
START, END = "<!-- spark:start -->", "<!-- spark:end -->"
# active plans at the last census, as bench.run's sizes (England is beyond a local session)
SIZES = {"council": 2_000, "region": 50_000}
STEPS = {
    "raw_tables": "ingest (DuckDB)",
    "duckdb_dbt_build": "dbt build, DuckDB",
    "spark_load_raw": "raw tables into Spark",
    "spark_dbt_build": "dbt build, Spark",
    "compare_tables": "compare tables",
    "compare_python_reads": "compare Python reads",
    "compare_forecast": "forecast on both, compare",
    "compare_serving": "publish on both, compare",
}


def run_size(name: str, children: int, work: Path, driver_memory: str) -> dict:
    from synthetic.council import generate

    folder = work / name
    shutil.rmtree(folder, ignore_errors=True)
    landing = folder / "landing"
    generate(landing, children=children)
    timings = folder / "timings.json"
    # each size in a process (and a JVM) of its own: a Spark session's metastore and warehouse
    # folder are fixed for the life of the JVM that first started one
    exit_code = subprocess.call(
        [
            sys.executable,
            "-m",
            "spark.compare",
            "--landing",
            str(landing),
            "--work",
            str(folder / "compare"),
            "--timings",
            str(timings),
            "--driver-memory",
            driver_memory,
        ],
        cwd=BENCH_DIR.parent,
    )
    measured = json.loads(timings.read_text()) if timings.exists() else {}
    return {"size": name, "children": children, "exit_code": exit_code, **measured}


def section(results: list[dict], commit: str, written: str | None = None) -> str:
    """The RESULTS.md section of `results` (run at `commit`, at time `written`: default now)."""
    written = written or dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [
        START,
        "## Spark: the same models on a local Spark session",
        "",
        f"Written by `python -m bench.spark` (`make bench-spark`) on "
        f"{written}, commit {commit}: one run per size, "
        "figures not edited by hand. Each size's synthetic council is loaded into DuckDB, built "
        "there by dbt, its raw tables copied into a local Spark session (`local[2]`, driver "
        "memory as shown) through Parquet and built there by dbt-spark; then every staging, "
        "intermediate and mart table is compared both ways, the forecast's reads and the "
        "staging and mart gates run through the warehouse interface on both, and each engine "
        "forecasts every council from its own marts and writes the forecast schema through it, "
        "its tables compared too; last, each engine publishes (DuckDB a serving file, Spark the "
        "serving schemas), twice (every council, then one held), and what they serve is "
        "compared, and a Spark publish made to fail must leave the last one (`spark/compare.py`).",
        "",
        "| size | children | "
        + " | ".join(STEPS.values())
        + " | total | driver memory | every table and read the same |",
        "|---|---|" + "---|" * len(STEPS) + "---|---|---|",
    ]
    for r in results:
        seconds = r.get("seconds", {})
        cells = [f"{seconds[k]:.0f} s" if k in seconds else "—" for k in STEPS]
        same = (
            "yes"
            if r["exit_code"] == 0
            else f"no ({r.get('differences', '?')} differ; exit {r['exit_code']})"
        )
        total = f"{r['total_seconds'] / 60:.1f} min" if "total_seconds" in r else "—"
        lines.append(
            f"| {r['size']} | {r['children']:,} | "
            + " | ".join(cells)
            + f" | {total} | {r.get('driver_memory', '—')} | {same} |"
        )
    lines += ["", END]
    return "\n".join(lines)


def write_section(text: str, start: str = START, end: str = END) -> None:
    """Replace the section between `start` and `end` of RESULTS.md (the Spark section unless
    told), or put it before the concurrency section."""
    current = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if start in current and end in current:
        head, rest = current.split(start, 1)
        current = head.rstrip("\n") + "\n" + rest.split(end, 1)[1].lstrip("\n")
    if SECTION_MARKER in current:
        head, tail = current.split(SECTION_MARKER, 1)
        RESULTS.write_text(head.rstrip("\n") + "\n\n" + text + "\n\n" + SECTION_MARKER + tail)
    else:
        RESULTS.write_text(current.rstrip("\n") + "\n\n" + text + "\n")


def kept_section(previous: str, start: str = START, end: str = END) -> str:
    """The Spark section (or the one between `start` and `end`) of a RESULTS.md, for bench.run to
    keep ('' when there is none)."""
    if start not in previous or end not in previous:
        return ""
    return start + previous.split(start, 1)[1].split(end, 1)[0] + end


def main() -> int:
    from bench.run import code_version

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(SIZES), help=", ".join(SIZES))
    parser.add_argument("--work", default=str(BENCH_DIR / "out-spark"), help="scratch folder")
    parser.add_argument("--driver-memory", default="3g", help="Spark driver memory")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for name in args.sizes.split(","):
        print(f"bench.spark: {name} ({SIZES[name]:,} active plans)", flush=True)
        results.append(run_size(name, SIZES[name], work, args.driver_memory))
    JSON.write_text(json.dumps(results, indent=2) + "\n")
    write_section(section(results, code_version()))
    print(f"wrote the Spark section of {RESULTS}")
    return 0 if all(r["exit_code"] == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
