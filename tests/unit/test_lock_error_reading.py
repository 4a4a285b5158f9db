"""DuckDB's "Could not set lock on file" read plainly, with advice for the file it names."""

from dagster_project.refresh_lock import explain_duckdb_lock_error

ERROR = (
    'IO Error: Could not set lock on file "{file}": Conflicting lock is held in '
    "/usr/bin/python3.11 (PID 4242) by user bi. See also https://duckdb.org/docs/connect/concurrency"
)


def test_a_program_holding_the_warehouse_is_named_with_what_to_do():
    said = explain_duckdb_lock_error(ERROR.format(file="/srv/hn/warehouse.duckdb"))
    assert said.startswith("/srv/hn/warehouse.duckdb is open in another program: ")
    assert "(pid 4242)" in said and "kill 4242" in said
    assert "BI tools read the serving file, never the warehouse" in said


def test_a_bi_tool_holding_the_serving_file_to_write_is_told_to_open_it_read_only():
    """A notebook's duckdb.connect(serving) (read-write by default) stopped every refresh, and
    the advice said BI tools read the serving file, which this one was doing."""
    said = explain_duckdb_lock_error(ERROR.format(file="/srv/hn/serving.duckdb"))
    assert "open the serving file read-only (`read_only=True` in Python" in said
    assert "never the warehouse" not in said
    assert explain_duckdb_lock_error("IO Error: something else") is None
