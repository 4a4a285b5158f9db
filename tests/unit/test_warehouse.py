"""The warehouse interface's DuckDB implementation (the Spark one is compared with it by
`make test-spark`, which runs the same reads on both engines)."""

import duckdb
import pandas as pd
import pytest

from warehouse import Described, DuckDBWarehouse, Warehouse, as_warehouse


def test_duckdb_runs_statements_reads_frames_and_registers_them():
    con = duckdb.connect()
    wh = as_warehouse(con)
    assert isinstance(wh, DuckDBWarehouse) and isinstance(wh, Warehouse)
    assert as_warehouse(wh) is wh
    wh.execute("CREATE TABLE t (k INTEGER, amount DECIMAL(18, 2))")
    wh.execute("INSERT INTO t VALUES (1, 1.50), (2, NULL), (NULL, 2.25)")
    frame = wh.frame("SELECT k, amount FROM t WHERE amount > ? OR amount IS NULL ORDER BY k", [2])
    assert frame["k"].tolist()[0] == 2 and pd.isna(frame["k"].iloc[1])
    assert frame["amount"].iloc[1] == pytest.approx(2.25)  # decimals come back as floats
    wh.register("_extra", pd.DataFrame({"k": [1, 2], "label": ["a", "b"]}))
    joined = wh.frame("SELECT e.label FROM t JOIN _extra e USING (k) ORDER BY e.label")
    assert joined["label"].tolist() == ["a", "b"]
    wh.unregister("_extra")
    with pytest.raises(duckdb.CatalogException):
        wh.frame("SELECT * FROM _extra")


def test_duckdb_replaces_tables_described_and_all_or_none():
    con = duckdb.connect()
    wh = as_warehouse(con)
    first = {"a": pd.DataFrame({"k": pd.array([1, None], dtype="Int64"), "v": ["x", "y"]})}
    wh.replace_tables("s", first, {"a": Described("the council's table", {"k": "a key"})})
    assert con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'a'").fetchall() == [
        ("the council's table",)
    ]
    comments = con.execute(
        "SELECT column_name, comment FROM duckdb_columns() WHERE table_name = 'a' ORDER BY 1"
    ).fetchall()
    assert comments == [("k", "a key"), ("v", None)]
    # the second table cannot be written (no description): the first keeps its rows
    second = {"a": pd.DataFrame({"k": [9], "v": ["z"]}), "b": pd.DataFrame({"k": [1]})}
    with pytest.raises(KeyError):
        wh.replace_tables("s", second, {"a": Described("replaced")})
    assert con.execute("SELECT count(*) FROM s.a").fetchone()[0] == 2
    assert con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'b'"
    ).fetchone() == (0,)
