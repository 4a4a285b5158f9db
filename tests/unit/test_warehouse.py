"""The warehouse interface's DuckDB implementation (the Spark one is compared with it by
`make test-spark`, which runs the same reads on both engines)."""

import duckdb
import pandas as pd
import pytest

from warehouse import DuckDBWarehouse, Warehouse, as_warehouse


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
