"""`make test-spark` copies a warehouse's raw tables (no Spark needed for this part): the copy has
the layout the models read, even when the warehouse predates it."""

import datetime as dt

import duckdb

from ingest.contracts import FINANCE
from ingest.load import load_extract
from spark.compare import _copy_raw

KEY = "unit-test-key-of-at-least-32-bytes!!"


def test_a_warehouse_in_the_old_layout_is_copied_in_the_new_one(tmp_path):
    (tmp_path / "landing" / "finance").mkdir(parents=True)
    (tmp_path / "landing" / "finance" / "ledger.csv").write_text(
        "transaction_id,posting_date,amount,s251_line\nT1,2024-05-31,10.50,1.2.3\n"
    )
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        load_extract(con, FINANCE, tmp_path / "landing", "L1", KEY, dt.date(2025, 3, 31))
        # as a warehouse from before raw was written once held it: typed rows in `_valid`, text
        # (with duplicates marked) in raw.finance
        con.execute("ALTER TABLE raw.finance RENAME TO finance_valid")
        con.execute(
            "CREATE TABLE raw.finance AS SELECT transaction_id, posting_date::VARCHAR AS "
            "posting_date, amount::VARCHAR AS amount, s251_line, _extra_columns, "
            "NULL::BIGINT AS _duplicate_of_row, _file_hash, _source_file, _source_row, _load_id "
            "FROM raw.finance_valid"
        )
        con.execute("ALTER TABLE raw.finance_valid DROP COLUMN _extra_columns")
        con.execute("DROP TABLE raw.finance_duplicates")
    copy = tmp_path / "copy.duckdb"
    _copy_raw(warehouse, copy)
    with duckdb.connect(str(copy), read_only=True) as con:
        tables = {row[0] for row in con.execute("SHOW TABLES FROM raw").fetchall()}
        assert {"finance", "finance_duplicates", "finance_files"} <= tables
        assert "finance_valid" not in tables
        assert con.execute("SELECT transaction_id, typeof(amount) FROM raw.finance").fetchall() == [
            ("T1", "DECIMAL(18,2)")
        ]
