"""Run the floor (bench/floor.sql) on a landing folder in a fresh in-memory DuckDB; print its time.

    python -m bench.floor <landing folder>
"""  # fmt: skip

import sys
import time
from pathlib import Path

import duckdb

FLOOR_SQL = Path(__file__).resolve().parent / "floor.sql"


def main() -> int:
    landing = Path(sys.argv[1]).resolve()
    script = FLOOR_SQL.read_text().replace("{landing}", str(landing))
    started = time.monotonic()
    con = duckdb.connect()
    # every statement runs; the last one's rows are returned
    result = con.execute(script).fetchall()
    print(f"floor_seconds={time.monotonic() - started:.3f}")
    print(f"floor_result={result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
