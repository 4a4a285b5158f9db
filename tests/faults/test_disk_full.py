"""A full disk is reported as a full disk, naming the folder, and never hidden by clean-up errors.

The warehouse goes on a small filesystem of its own (an 8 MiB tmpfs; mounting needs root, else
those tests are skipped) and a ledger too big for it is loaded through `load_extract`. Where a
tmpfs cannot be mounted, a file-size limit (RLIMIT_FSIZE, in a subprocess) stops the writes the
same way, and a stand-in connection shows the clean-up rule without any disk at all.
"""

import contextlib
import datetime as dt
import errno
import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from ingest.contracts import FINANCE
from ingest.diskspace import DiskFull, human_bytes
from ingest.load import ensure_tables, load_extract

KEY = "fault-test-pseudonym-key-of-32-bytes-or-more"
EXTRACT_DATE = dt.date(2026, 3, 31)
HEADER = "transaction_id,posting_date,amount,s251_line,description\n"


def ledger(landing: Path, rows: int) -> Path:
    folder = landing / "finance"
    folder.mkdir(parents=True)
    path = folder / "ledger.csv"
    with path.open("w") as out:
        out.write(HEADER)
        # a reference that compresses as little as real ones do: rows are stored typed and
        # compressed, so orderly text would fit a small disk however many rows there were
        out.writelines(
            f"T{n},2024-05-31,{n % 997}.50,1.2.3,top-up payment "
            f"{hashlib.sha256(str(n).encode()).hexdigest()[:32]}\n"
            for n in range(rows)
        )
    return path


@contextlib.contextmanager
def tmpfs(folder: Path, size: str):
    """A filesystem of `size` (e.g. 8m) of its own at `folder`, unmounted afterwards."""
    folder.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a small tmpfs needs root and mount(8)")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        if (
            subprocess.run(["umount", str(folder)], capture_output=True, check=False).returncode
            != 0
        ):
            subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def small_disk(tmp_path):
    with tmpfs(tmp_path / "small_disk", "8m") as folder:
        yield folder


def test_loading_more_than_the_disk_holds_says_the_disk_is_full(tmp_path, small_disk):
    path = ledger(tmp_path / "landing", 400_000)  # about 30 MiB: more than the 8 MiB disk holds
    con = duckdb.connect(str(small_disk / "warehouse.duckdb"))
    try:
        with pytest.raises(DiskFull) as raised:
            load_extract(con, FINANCE, tmp_path / "landing", "L1", KEY, EXTRACT_DATE)
    finally:
        con.close()
    full = raised.value
    message = str(full)
    assert message.startswith("Loading finance/ledger.csv stopped: the disk holding ")
    assert f"{small_disk} (the filesystem mounted at {small_disk}) is full" in message
    assert "of 8.0 MiB now" in message
    assert f"it needed at least {human_bytes(path.stat().st_size)} more" in message
    assert "HIGHNEEDS_WAREHOUSE" in message
    assert isinstance(full, OSError) and full.errno == errno.ENOSPC
    assert full.folder == small_disk and full.needed_bytes == path.stat().st_size
    assert isinstance(full.__cause__, duckdb.Error)


def test_a_commit_that_fills_the_disk_is_not_hidden_by_the_failed_rollback(tmp_path, small_disk):
    ledger(tmp_path / "landing", 3_000)
    con = duckdb.connect(str(small_disk / "warehouse.duckdb"))
    try:
        ensure_tables(con, FINANCE)
        con.execute("CHECKPOINT")
        # leave 4 KiB: the rows fit in memory, the commit's write-ahead log does not
        free = shutil.disk_usage(small_disk).free
        (small_disk / "filler").write_bytes(bytes(free - 4096))
        with pytest.raises(DiskFull) as raised:
            load_extract(con, FINANCE, tmp_path / "landing", "L1", KEY, EXTRACT_DATE)
    finally:
        con.close()
    assert "cannot rollback" not in str(raised.value)
    commit_error = raised.value.__cause__
    assert "Failed to commit" in str(commit_error) and "No space left on device" in str(
        commit_error
    )
    assert any("cannot rollback" in note for note in commit_error.__notes__)


class CommitFailsThenRollbackFails:
    """A connection whose COMMIT fails and whose ROLLBACK then finds no transaction, as DuckDB's
    does when the disk fills at commit: without needing a full disk."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def __getattr__(self, name):
        return getattr(self.con, name)

    def execute(self, sql, *parameters):
        if sql == "COMMIT":
            raise duckdb.TransactionException("Failed to commit: the storage said no")
        if sql == "ROLLBACK":
            self.con.execute("ROLLBACK")
            raise duckdb.TransactionException("cannot rollback - no transaction is active")
        return self.con.execute(sql, *parameters)


def test_the_first_error_is_never_replaced_by_one_from_clean_up(tmp_path):
    ledger(tmp_path / "landing", 3)
    con = duckdb.connect()
    flaky = CommitFailsThenRollbackFails(con)
    with pytest.raises(
        duckdb.TransactionException, match="Failed to commit: the storage said no"
    ) as raised:
        load_extract(flaky, FINANCE, tmp_path / "landing", "L1", KEY, EXTRACT_DATE)
    assert any("cannot rollback" in note for note in raised.value.__notes__)
    assert con.execute("SELECT count(*) FROM raw.finance").fetchone() == (0,)  # nothing half-loaded


def test_a_file_size_limit_is_reported_like_a_full_disk(tmp_path):
    """Works without root: RLIMIT_FSIZE makes writes past 8 MiB fail with EFBIG (Python ignores
    SIGXFSZ), in a subprocess so the limit binds nothing else."""
    ledger(tmp_path / "landing", 400_000)
    script = textwrap.dedent(
        f"""
        import datetime as dt, resource
        from pathlib import Path
        import duckdb
        from ingest.contracts import FINANCE
        from ingest.diskspace import DiskFull, human_bytes
        from ingest.load import load_extract

        resource.setrlimit(resource.RLIMIT_FSIZE, (8 << 20, 8 << 20))
        con = duckdb.connect({str(tmp_path / "warehouse.duckdb")!r})
        try:
            landing = Path({str(tmp_path / "landing")!r})
            load_extract(con, FINANCE, landing, "L1", {KEY!r}, dt.date(2026, 3, 31))
        except DiskFull as full:
            print(full.errno, full)
        """
    )
    repo = Path(__file__).resolve().parents[2]
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    code, message = completed.stdout.strip().split(" ", 1)
    assert int(code) == errno.EFBIG
    assert message.startswith("Loading finance/ledger.csv stopped: a file-size limit")
    assert f"stopped a write to {tmp_path}" in message


def test_a_refresh_that_fills_the_warehouse_disk_says_so_and_keeps_the_serving_file(
    pipeline_env, monkeypatch, capsys
):
    """End to end: the warehouse on a disk of its own, big enough for the hand-written council but
    not for a new 400,000-row ledger. The refresh names the full disk; BI keeps the last good
    serving file, byte for byte."""
    from dagster_project.cli import main
    from tests.conftest import HANDWRITTEN_LANDING, copy_landing

    landing = copy_landing(HANDWRITTEN_LANDING, pipeline_env / "landing")
    with tmpfs(pipeline_env / "warehouse_disk", "40m") as disk:
        monkeypatch.setenv("HIGHNEEDS_WAREHOUSE", str(disk / "warehouse.duckdb"))
        assert main(["refresh"]) == 0, capsys.readouterr().out[-3000:]
        capsys.readouterr()
        serving = pipeline_env / "serving.duckdb"
        served = hashlib.sha256(serving.read_bytes()).hexdigest()
        (landing / "finance" / "ledger.csv").write_text(
            HEADER
            + "".join(
                f"T{n},2024-05-31,{n % 997}.50,1.2.3,top-up payment number {n}\n"
                for n in range(700_000)
            )
        )
        code = main(["refresh"])
        out = " ".join(capsys.readouterr().out.split())
        assert code == 1
        assert f"the disk holding {disk} (the filesystem mounted at {disk}) is full" in out, out[
            -3000:
        ]
        assert "cannot rollback" not in out
        assert hashlib.sha256(serving.read_bytes()).hexdigest() == served


def test_a_dbt_build_that_fills_the_disk_is_reported_as_a_full_disk(tmp_path):
    from dagster_project.defs.dbt import _disk_full_in_log

    log = tmp_path / "dbt.log"
    log.write_text(
        "12:00:01 Running model int_spend_allocated\n"
        f'12:00:02 IO Error: Could not write file "{tmp_path}/warehouse.duckdb": '
        "No space left on device\n"
        "12:00:03 Done. PASS=40 ERROR=1\n"
    )
    full = _disk_full_in_log(log, tmp_path / "warehouse.duckdb")
    assert isinstance(full, DiskFull) and full.errno == errno.ENOSPC
    assert str(full).startswith(f"Building the dbt models stopped: the disk holding {tmp_path} ")
    log.write_text("12:00:02 Database Error in model x: Binder Error\n")
    assert _disk_full_in_log(log, tmp_path / "warehouse.duckdb") is None


def test_a_publish_that_fills_the_serving_disk_says_so_and_what_was_not_published(
    pipeline_env, monkeypatch, capsys
):
    """The serving file on a disk too small for it: the publish failed with DuckDB's words
    ("Checkpoint failed for database serving_next … No space left on device"), and the refresh
    ended "The forecast was not updated." below the new forecast it had printed."""
    from dagster_project.cli import main
    from tests.conftest import HANDWRITTEN_LANDING, copy_landing

    copy_landing(HANDWRITTEN_LANDING, pipeline_env / "landing")
    with tmpfs(pipeline_env / "serving_disk", "1m") as disk:
        monkeypatch.setenv("HIGHNEEDS_SERVING", str(disk / "serving.duckdb"))
        code = main(["refresh"])
        out = " ".join(capsys.readouterr().out.split())
        assert code == 1
        assert (
            f"publishing the serving file stopped: the disk holding {disk} (the filesystem "
            f"mounted at {disk}) is full"
        ) in out, out[-3000:]
        assert "set HIGHNEEDS_SERVING to a file on a larger one" in out
        assert (
            "The warehouse's forecast was updated (the figures above) but not published: the "
            "serving file and the report keep the last published version."
        ) in out
        assert not (disk / "serving.duckdb").exists()
