"""A few bad rows never stop the night, and a changed pseudonymisation key stops it before
anything is loaded: one refresh of a ledger with three unparseable amounts in 170,000 rows, then
a refresh of the same warehouse with another key."""

import datetime as dt
import hashlib

import duckdb

from dagster_project.cli import main
from tests.conftest import HANDWRITTEN_LANDING, copy_landing

LEDGER_ROWS = 170_000
UNPARSEABLE = {17: "12.5O", 85_000: "£1.2.3", 169_999: "twelve"}


def write_central_ledger(path) -> None:
    """Central spend (SEN support services, no child): £12.50 a row over three financial years."""
    first = dt.date(2021, 4, 1)
    lines = ["transaction_id,posting_date,amount,s251_line,supplier_name"]
    for row in range(LEDGER_ROWS):
        posted = first + dt.timedelta(days=row % 1_090)
        lines.append(
            f"C{row:07d},{posted:%d/%m/%Y},{UNPARSEABLE.get(row, '12.50')},1.2.5,Support service"
        )
    path.write_text("\n".join(lines) + "\n")


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_three_bad_amounts_wait_in_quarantine_and_a_changed_key_stops_before_loading(
    pipeline_env, monkeypatch, capsys
):
    landing = copy_landing(HANDWRITTEN_LANDING, pipeline_env / "landing")
    write_central_ledger(landing / "finance" / "central_services.csv")
    warehouse, serving = pipeline_env / "warehouse.duckdb", pipeline_env / "serving.duckdb"

    assert main(["refresh"]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "Refresh succeeded" in out and "bad_amount × 3" in out
    assert "finance/central_services.csv:19 amount: bad amount ('12.5O')" in out  # row 17 + header
    with duckdb.connect(str(warehouse), read_only=True) as con:
        quarantined = con.execute(
            "SELECT sum(rows) FROM marts.fct_data_quality "
            "WHERE extract = 'finance' AND measure = 'rows_quarantined'"
        ).fetchone()[0]
        assert quarantined == 3
        assert con.execute("SELECT count(*) FROM forecast.spend").fetchone()[0] > 0
        loaded = con.execute("SELECT count(*) FROM raw.finance").fetchone()[0]
    served = sha256(serving)

    monkeypatch.setenv("HIGHNEEDS_PSEUDONYM_KEY", "another-key-that-is-long-enough-to-use-1234")
    code = main(["refresh"])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "HIGHNEEDS_PSEUDONYM_KEY is not the key this warehouse was built with" in " ".join(
        out.split()
    )
    assert sha256(serving) == served  # BI still reads the last good version, byte for byte
    with duckdb.connect(str(warehouse), read_only=True) as con:
        # nothing loaded
        assert con.execute("SELECT count(*) FROM raw.finance").fetchone()[0] == loaded


def test_an_empty_landing_folder_is_said_plainly(pipeline_env, capsys):
    assert main(["refresh"]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert (
        f"The landing folder {pipeline_env / 'landing'} (HIGHNEEDS_LANDING) holds no extract files"
        in out
    )
    assert "not_null" not in out  # not a dbt test's failure on empty tables
