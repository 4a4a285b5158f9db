"""Every file a refresh creates is its owner's alone: the warehouse, its .wal, the .tmp folder
DuckDB spills to, and files already there from before are tightened."""

import json
import os
import stat
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import json, os, sys
    import duckdb
    from dagster_project.settings import load_settings

    os.umask(0o022)  # a typical default: files readable by everyone
    load_settings().restrict_data_files()
    con = duckdb.connect(os.environ["HIGHNEEDS_WAREHOUSE"])
    con.execute("CREATE TABLE t AS SELECT range AS i, md5(range::VARCHAR) AS s FROM range(1000000)")
    con.execute("CHECKPOINT")
    con.execute("SET memory_limit = '40MB'; SET threads = 1; SET preserve_insertion_order = false")
    con.execute(
        "SELECT count(*) FROM (SELECT * FROM t ORDER BY s)"
    ).fetchall()  # spills to <warehouse>.tmp
    con.execute("CREATE TABLE u AS SELECT 1 AS i")  # and writes the .wal
    folder = os.path.dirname(os.environ["HIGHNEEDS_WAREHOUSE"])
    modes = {}
    for root, folders, files in os.walk(folder):
        for name in folders + files:
            path = os.path.join(root, name)
            modes[os.path.relpath(path, folder)] = oct(os.stat(path).st_mode & 0o777)
    print(json.dumps(modes))
    """
)


def test_the_warehouse_its_wal_and_spill_files_are_owner_only(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    serving = data / "serving.duckdb"
    serving.write_bytes(b"an old serving file")
    serving.chmod(0o644)  # left readable by an earlier version
    env = {
        **os.environ,
        "HIGHNEEDS_WAREHOUSE": str(data / "warehouse.duckdb"),
        "HIGHNEEDS_SERVING": str(serving),
        "HIGHNEEDS_LANDING": str(tmp_path / "landing"),
    }
    child = subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    modes = json.loads(child.stdout.strip().splitlines()[-1])
    assert "warehouse.duckdb" in modes and "warehouse.duckdb.wal" in modes
    assert any(name.startswith("warehouse.duckdb.tmp") for name in modes), modes  # it did spill
    for name, mode in modes.items():
        is_folder = (data / name).is_dir() if (data / name).exists() else name.endswith(".tmp")
        assert mode == ("0o700" if is_folder else "0o600"), (name, mode)
    assert stat.S_IMODE(serving.stat().st_mode) == 0o600
