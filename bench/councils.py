"""The benchmark's many-councils size: the England-sized synthetic extracts of `make bench` split
into 153 councils' folders (`landing/<code>/<extract>/…`, DESIGN.md's many-councils layout) and
refreshed into one warehouse, beside the single-council England refresh of the same rows.

    make bench-councils         # after `make bench` (it reuses bench/out/england/landing)

Every child, with their plans, placements and payments, goes to one council (by a hash of the
child id); a payment naming a placement but no child goes with the placement's child, and one
naming neither by its transaction id. Each council gets the budget file as it is. Council codes are
201 to 353 (as many as England's councils; not the DfE's codes). Writes the many-councils section
of bench/RESULTS.md (between its markers; `bench.run` keeps it) and bench/councils_results.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
JSON = BENCH_DIR / "councils_results.json"
START, END = "<!-- councils:start -->", "<!-- councils:end -->"
COUNCILS = 153
NIGHTLY_FILE = "finance_next_month.csv"  # bench.run.add_finance_month's
# the many-councils refresh may take this much longer than the single-council one (issue 17)
TARGET_OVERHEAD = 0.10


def split_into_councils(landing: Path, out: Path, councils: int = COUNCILS) -> list[str]:
    """Write `landing`'s extracts (one council's) into `out/<code>/<extract>/` for `councils`
    councils, every child's rows in one council's folder; returns the codes."""
    import duckdb

    codes = [str(201 + i) for i in range(councils)]
    shutil.rmtree(out, ignore_errors=True)
    scratch = out.parent / f"{out.name}.split"
    shutil.rmtree(scratch, ignore_errors=True)

    def council_of(expr: str) -> str:
        return f"CAST(201 + hash({expr}) % {councils} AS VARCHAR)"

    def read(path: Path) -> str:
        return f"read_csv('{path}', header = true, all_varchar = true)"

    with duckdb.connect() as con:
        placements = sorted((landing / "placements").glob("*.csv"))
        con.execute(
            "CREATE TABLE placement_child AS SELECT placement_id, any_value(child_id) AS child_id "
            f"FROM read_csv({[str(p) for p in placements]}, header = true, all_varchar = true) "
            "GROUP BY placement_id"
        )
        for extract in ("ehcp", "placements", "finance"):
            for path in sorted((landing / extract).glob("*.csv")):
                if path.name == NIGHTLY_FILE:
                    continue  # the month bench.run adds after England's full refresh
                if extract == "finance":
                    owner = "coalesce(f.child_id, p.child_id, f.transaction_id)"
                    source = (
                        f"SELECT f.*, {council_of(owner)} AS _council "
                        f"FROM {read(path)} f LEFT JOIN placement_child p "
                        "ON f.child_id IS NULL AND p.placement_id = f.placement_id"
                    )
                else:
                    source = f"SELECT *, {council_of('child_id')} AS _council FROM {read(path)}"
                target = scratch / extract / path.stem
                target.parent.mkdir(parents=True, exist_ok=True)
                con.execute(
                    f"COPY ({source}) TO '{target}' (FORMAT csv, HEADER, PARTITION_BY (_council))"
                )
                for part in target.glob("_council=*/*.csv"):
                    code = part.parent.name.split("=", 1)[1]
                    folder = out / code / extract
                    folder.mkdir(parents=True, exist_ok=True)
                    part.rename(folder / f"{path.stem}_{part.stem}.csv")
    for code in codes:
        shutil.copytree(landing / "budget", out / code / "budget", dirs_exist_ok=True)
    shutil.rmtree(scratch, ignore_errors=True)
    return codes


def run(work: Path) -> dict:
    from bench.run import _landing_rows, refresh, refresh_env

    england = work / "england" / "landing"
    if not england.is_dir():
        raise SystemExit(f"no England extracts at {england}: run `make bench` first")
    folder = work / "england_councils"
    shutil.rmtree(folder, ignore_errors=True)
    landing = folder / "landing"
    started = time.monotonic()
    codes = split_into_councils(england, landing)
    split_seconds = time.monotonic() - started
    print(f"  split into {len(codes)} councils in {split_seconds:.0f}s", flush=True)
    env = refresh_env(folder, landing)
    full = refresh(folder, env)
    print(
        f"  full refresh {full.seconds:.1f}s, peak {full.peak_rss_bytes / 2**30:.2f} GiB, "
        f"exit {full.exit_code}",
        flush=True,
    )
    return {
        "councils": len(codes),
        "split_seconds": split_seconds,
        "landing_rows": _landing_rows(folder / "warehouse.duckdb"),
        "seconds": full.seconds,
        "peak_rss_bytes": full.peak_rss_bytes,
        "exit_code": full.exit_code,
        "stages": full.stages,
    }


def section(result: dict, single: dict | None, commit: str) -> str:
    from bench.run import STAGES

    lines = [
        START,
        f"## England as {result['councils']} councils in one warehouse",
        "",
        f"Written by `python -m bench.councils` (`make bench-councils`) on "
        f"{dt.datetime.now().strftime('%Y-%m-%d %H:%M')}, commit {commit}: one run, figures not "
        "edited by hand. The England-size extracts of `make bench` split into "
        f"{result['councils']} councils' folders (every child's rows in one council's; "
        "`bench/councils.py`), refreshed into one warehouse (`la_code` on every table from "
        "staging on, a forecast per council), beside the single-council England refresh of the "
        "same rows (bench/results.json).",
        "",
        "| warehouse | landing rows | "
        + " | ".join(f"{s} s" for s in STAGES)
        + " | refresh total s | peak GiB | exit |",
        "|---|---|" + "---|" * len(STAGES) + "---|---|---|",
    ]
    rows = [(f"{result['councils']} councils", result)]
    if single:
        rows.insert(0, ("England as one council", single))
    for label, r in rows:
        cells = " | ".join(f"{r['stages'].get(s, 0.0):.1f}" for s in STAGES)
        lines.append(
            f"| {label} | {sum(r['landing_rows'].values()):,} | {cells} | {r['seconds']:.1f} | "
            f"{r['peak_rss_bytes'] / 2**30:.2f} | {r['exit_code']} |"
        )
    if single:
        overhead = result["seconds"] / single["seconds"] - 1
        verdict = "met" if overhead <= TARGET_OVERHEAD else "**not met**"
        lines += [
            "",
            f"Target: {result['councils']} councils no slower than {TARGET_OVERHEAD:.0%} over "
            f"England as one council: {result['seconds']:.0f} s against {single['seconds']:.0f} s "
            f"= {overhead:+.0%}, {verdict}.",
        ]
    lines += ["", END]
    return "\n".join(lines)


def main() -> int:
    from bench.run import code_version
    from bench.spark import write_section

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default=str(BENCH_DIR / "out"), help="bench.run's scratch folder")
    args = parser.parse_args()
    print(f"bench.councils: England as {COUNCILS} councils", flush=True)
    result = run(Path(args.work))
    single = None
    results = BENCH_DIR / "results.json"
    if results.exists():
        england = [m for m in json.loads(results.read_text()) if m["size"] == "england"]
        if england:
            m = england[0]
            single = {
                "landing_rows": m["landing_rows"],
                "seconds": m["full"]["seconds"],
                "peak_rss_bytes": m["full"]["peak_rss_bytes"],
                "exit_code": m["full"]["exit_code"],
                "stages": m["full"]["stages"],
            }
    JSON.write_text(json.dumps(result, indent=2) + "\n")
    write_section(section(result, single, code_version()), START, END)
    print("wrote the many-councils section of bench/RESULTS.md")
    return result["exit_code"]


if __name__ == "__main__":
    sys.exit(main())
