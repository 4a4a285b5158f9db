"""Readers during refreshes: N processes query the serving file in a loop while refreshes run back
to back and publish. Every read must succeed and come from one published version, whole.

    python -m bench.concurrency                          # 8 readers, 5 refreshes, council size
    python -m bench.concurrency --readers 16 --refreshes 10

Each reader opens the serving file read-only (as a BI tool does), proves that what it reads is
one version (every table's rows and checksum match that version's `meta.tables`), runs a BI-like
query, closes, and goes again. Before each refresh one ledger transaction is added to the landing
folder, so each version's content differs from the last and a mixed read could not pass. The
results go to the concurrency section of bench/RESULTS.md (`bench.run` keeps that section).
"""

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "RESULTS.md"
SECTION_MARKER = (
    "<!-- bench.concurrency: written by python -m bench.concurrency; bench.run keeps it -->"
)
BI_QUERY = (
    "SELECT financial_year, sum(spend_gbp) FROM marts.fct_provision_spend GROUP BY 1 ORDER BY 1"
)
# checked on every read (each new version changes both); every table on a version's first read
CHECKED_EVERY_READ = ("marts.fct_provision_spend", "marts.fct_hnb_position")


# --- one reader process --------------------------------------------------------------------------


def read_until_stopped(serving: Path, stop_file: Path, out: Path, pause: float) -> None:
    """Read the serving file in a loop until `stop_file` exists, then write what was seen to `out`.
    One thread per reader: a BI tool's query is small, and the refresh needs the cores."""
    import duckdb

    from serving.publish import served_version

    seen: list[list] = []  # [version, digest, BI answer, reads in a row]
    failures: list[str] = []
    latencies: list[float] = []
    # the first refresh has not published yet
    while not serving.exists() and not stop_file.exists():
        time.sleep(pause)
    while not stop_file.exists():
        started = time.perf_counter()
        try:
            con = duckdb.connect(str(serving), read_only=True, config={"threads": 1})
            try:
                version, digest = served_version(con, CHECKED_EVERY_READ)
                if not seen or seen[-1][0] != version:
                    served_version(con)
                answer = repr(con.execute(BI_QUERY).fetchall())
            finally:
                con.close()
        except Exception as error:  # noqa: BLE001 - every failed read is counted and reported
            failures.append(f"{type(error).__name__}: {error}")
        else:
            latencies.append(time.perf_counter() - started)
            if seen and seen[-1][:3] == [version, digest, answer]:
                seen[-1][3] += 1
            else:
                seen.append([version, digest, answer, 1])
                out.with_suffix(".last").write_text(version)  # for stop_readers to wait on
        time.sleep(pause)
    out.write_text(
        json.dumps({"pid": os.getpid(), "seen": seen, "failures": failures, "latencies": latencies})
    )


# --- the driver -----------------------------------------------------------------------------------


@dataclass
class Readers:
    processes: list[subprocess.Popen]
    stop_file: Path
    outputs: list[Path]


def start_readers(serving: Path, count: int, folder: Path, pause: float) -> Readers:
    folder.mkdir(parents=True, exist_ok=True)
    stop_file = folder / "stop"
    stop_file.unlink(missing_ok=True)
    outputs = [folder / f"reader-{i}.json" for i in range(count)]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.concurrency",
                "read",
                "--serving",
                str(serving),
                "--stop-file",
                str(stop_file),
                "--out",
                str(out),
                "--pause",
                str(pause),
            ],
            cwd=REPO_ROOT,
            env=env,
        )
        for out in outputs
    ]
    return Readers(processes, stop_file, outputs)


def stop_readers(
    readers: Readers, last_version: str | None = None, timeout: float = 60
) -> list[dict]:
    """Stop the readers, once each has read `last_version` (if given): a refresh returns as soon
    as it has published, and a reader pausing between reads would otherwise miss the last one."""
    deadline = time.monotonic() + timeout
    while last_version is not None and time.monotonic() < deadline:
        markers = [out.with_suffix(".last") for out in readers.outputs]
        if all(m.exists() and m.read_text() == last_version for m in markers):
            break
        if any(process.poll() is not None for process in readers.processes):
            break  # a reader died: its output (or its absence) tells the verdict
        time.sleep(0.1)
    readers.stop_file.touch()
    for process in readers.processes:
        process.wait(timeout=timeout)
    return [json.loads(out.read_text()) for out in readers.outputs]


def published_version(serving: Path) -> tuple[str, str]:
    """The serving file's version and digest, read as a reader reads them."""
    import duckdb

    from serving.publish import served_version

    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{serving}' AS served (READ_ONLY)")
        con.execute("USE served")
        try:
            return served_version(con)
        finally:
            con.execute("USE memory")
            con.execute("DETACH served")
    finally:
        con.close()


def add_transaction(landing: Path, number: int) -> None:
    """One more central high needs payment (SEN support service, S251 1.2.5): new content for
    the next version, through every gate."""
    path = landing / "finance" / f"concurrency_{number:03d}.csv"
    path.write_text(
        "transaction_id,posting_date,amount,s251_line,description\n"
        f"TCONC{number:05d},2025-06-30,{100 + number}.00,1.2.5,Concurrency check {number}\n"
    )


@dataclass
class Verdict:
    readers: int
    refreshes: int
    reads: int
    failures: list[str]
    versions_published: int
    versions_seen: int
    mixed_or_unknown: list[str]
    went_backwards: int
    latencies: list[float] = field(repr=False)

    @property
    def ok(self) -> bool:
        return not self.failures and not self.mixed_or_unknown and not self.went_backwards

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def judge(results: list[dict], published: list[tuple[str, str]], refreshes: int) -> Verdict:
    """Every read must be one published version with that version's content and BI answer, and no
    reader may see an older version after a newer one."""
    order = {version: i for i, (version, _) in enumerate(published)}
    digests = dict(published)
    answers: dict[str, set[str]] = {}
    mixed, backwards, reads, seen_versions = [], 0, 0, set()
    for result in results:
        last = -1
        for version, digest, answer, count in result["seen"]:
            reads += count
            seen_versions.add(version)
            if digests.get(version) != digest:
                mixed.append(f"reader {result['pid']}: version {version} with digest {digest}")
            answers.setdefault(version, set()).add(answer)
            if order.get(version, -1) < last:
                backwards += 1
            last = max(last, order.get(version, -1))
    mixed += [
        f"version {v}: {len(a)} different BI answers" for v, a in answers.items() if len(a) > 1
    ]
    return Verdict(
        readers=len(results),
        refreshes=refreshes,
        reads=reads,
        failures=[f for r in results for f in r["failures"]],
        versions_published=len(published),
        versions_seen=len(seen_versions),
        mixed_or_unknown=mixed,
        went_backwards=backwards,
        latencies=[t for r in results for t in r["latencies"]],
    )


def run_benchmark(
    readers: int, refreshes: int, children: int, pause: float, work: Path
) -> tuple[Verdict, list[float]]:
    """Returns the verdict and the refresh times:
    the first without readers, then one per refresh."""
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    landing = work / "landing"
    serving = work / "serving.duckdb"
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
        stdout=subprocess.DEVNULL,
    )
    env = {
        **os.environ,
        "HIGHNEEDS_LANDING": str(landing),
        "HIGHNEEDS_WAREHOUSE": str(work / "warehouse.duckdb"),
        "HIGHNEEDS_SERVING": str(serving),
        "DAGSTER_HOME": str(work / "dagster_home"),
        "HIGHNEEDS_PSEUDONYM_KEY": "benchmark-pseudonym-key-of-32-bytes-or-more",
    }

    def refresh() -> float:
        started = time.monotonic()
        completed = subprocess.run(
            [sys.executable, "-m", "dagster_project.cli", "refresh"],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise SystemExit(
                f"refresh failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
            )
        return time.monotonic() - started

    seconds = [refresh()]
    published = [published_version(serving)]
    running = start_readers(serving, readers, work / "readers", pause)
    try:
        for number in range(1, refreshes + 1):
            add_transaction(landing, number)
            seconds.append(refresh())
            published.append(published_version(serving))
            print(
                f"  refresh {number}: {seconds[-1]:.1f}s, published {published[-1][0]}", flush=True
            )
    finally:
        results = stop_readers(running, published[-1][0])
    return judge(results, published, refreshes), seconds


def write_section(
    verdict: Verdict, refresh_seconds: list[float], children: int, pause: float
) -> None:
    lines = [
        SECTION_MARKER,
        "",
        "## Readers during refreshes (serving file)",
        "",
        (
            f"Written by `python -m bench.concurrency` on {dt.datetime.now():%Y-%m-%d %H:%M}; "
            f"machine: {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}; load average at the end {os.getloadavg()[0]:.1f} "
            "(other work on the machine slows the refreshes)."
        ),
        "",
        (
            f"{verdict.readers} reader processes queried the serving file in a loop while "
            f"{verdict.refreshes} full refreshes of a {children:,}-plan synthetic council ran back "
            "to back, each adding one ledger transaction and publishing a new version. "
            "A read opens the file read-only (one thread), checks the rows and checksum of the "
            "two tables every new version changes against the version's `meta.tables` (all tables "
            "on the first read of a version), runs a BI query (spend by year), closes, "
            f"and pauses {pause * 1000:.0f} ms. A read is *mixed or unknown* when its content is "
            "not exactly that of the version it names, or its BI answer differs from another "
            "read of the same version."
        ),
        "",
        (
            "| readers | refreshes | reads | failed reads | versions published | versions seen by "
            "readers | mixed or unknown reads | reader went back a version | read p50 ms | read "
            "p95 ms | read max ms | refresh s without readers | refresh s with readers (mean) |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        (
            f"| {verdict.readers} | {verdict.refreshes} | {verdict.reads:,} | "
            f"{len(verdict.failures)} | {verdict.versions_published} | {verdict.versions_seen} | "
            f"{len(verdict.mixed_or_unknown)} | {verdict.went_backwards} | "
            f"{verdict.percentile(0.5) * 1000:.1f} | {verdict.percentile(0.95) * 1000:.1f} | "
            f"{max(verdict.latencies, default=0) * 1000:.1f} | {refresh_seconds[0]:.1f} | "
            f"{statistics.mean(refresh_seconds[1:]):.1f} |"
        ),
        "",
    ]
    if verdict.failures:
        lines += ["First failures:", "", *(f"- `{f}`" for f in verdict.failures[:5]), ""]
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    head = text.split(SECTION_MARKER)[0].rstrip("\n")
    RESULTS.write_text(head + "\n\n" + "\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    read = commands.add_parser("read", help="(internal) one reader process")
    read.add_argument("--serving", required=True)
    read.add_argument("--stop-file", required=True)
    read.add_argument("--out", required=True)
    read.add_argument("--pause", type=float, required=True)
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument(
        "--pause", type=float, default=0.05, help="seconds each reader waits between reads"
    )
    parser.add_argument("--refreshes", type=int, default=5)
    parser.add_argument(
        "--children", type=int, default=2_000, help="active plans of the synthetic council"
    )
    parser.add_argument("--work", default=str(BENCH_DIR / "out" / "concurrency"))
    args = parser.parse_args()
    if args.command == "read":
        read_until_stopped(Path(args.serving), Path(args.stop_file), Path(args.out), args.pause)
        return 0
    print(
        f"concurrency: {args.readers} readers during {args.refreshes} refreshes "
        f"({args.children:,} plans)",
        flush=True,
    )
    verdict, seconds = run_benchmark(
        args.readers, args.refreshes, args.children, args.pause, Path(args.work)
    )
    write_section(verdict, seconds, args.children, args.pause)
    print(
        f"  {verdict.reads:,} reads, {len(verdict.failures)} failed, "
        f"{len(verdict.mixed_or_unknown)} mixed; wrote {RESULTS}"
    )
    return 0 if verdict.ok else 1


if __name__ == "__main__":
    sys.exit(main())
