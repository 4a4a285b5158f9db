"""Reading a traced row back from its landing file: verbatim while the file is the one loaded,
and a plain reason when it is not."""

import datetime as dt

import duckdb

from checks.trace import landing_records
from ingest.contracts import FINANCE
from ingest.load import load_extract

KEY = "unit-test-key-of-at-least-32-bytes!!"
LEDGER = (
    "Transaction ID,posting_date,amount,s251_line,child_id,supplier_name,Parent Name,memo\n"
    'T1,31/05/2024,"£1,000.50",1.2.3,C1,Oak School,Ann Smith,first\n'
    "T2,30/06/2024,(20.00),1.2.3,C2,Elm College,Bob Jones,second\n"
)


def traced(con) -> object:
    return con.execute(
        "SELECT transaction_id, _source_file AS source_file, _source_row AS source_row, "
        "_file_hash AS source_file_hash FROM raw.finance ORDER BY _source_row"
    ).df()


def test_rows_read_back_as_the_file_holds_them_personal_data_withheld(tmp_path):
    (tmp_path / "finance").mkdir()
    ledger = tmp_path / "finance" / "ledger.csv"
    ledger.write_text(LEDGER)
    con = duckdb.connect()
    load_extract(con, FINANCE, tmp_path, "L1", KEY, dt.date(2025, 3, 31))
    rows = traced(con)

    back = landing_records(rows, FINANCE, tmp_path)
    assert back["landing_status"].tolist() == ["verbatim", "verbatim"]
    assert back["landing_text"].tolist()[0] == (
        "Transaction ID=T1; posting_date=31/05/2024; amount=£1,000.50; s251_line=1.2.3; "
        "child_id=withheld; supplier_name=Oak School; Parent Name=withheld; memo=first"
    )

    # renamed in the landing folder: found by its hash through the files table's current name
    ledger.rename(tmp_path / "finance" / "renamed.csv")
    gone = landing_records(rows, FINANCE, tmp_path)
    assert set(gone["landing_status"]) == {"finance/ledger.csv is no longer in the landing folder"}
    assert gone["landing_text"].isna().all()
    names = {rows["source_file_hash"][0]: "finance/renamed.csv"}
    found = landing_records(rows, FINANCE, tmp_path, current_names=names)
    assert found["landing_status"].tolist() == ["verbatim", "verbatim"]

    # edited after loading: not the record any more
    (tmp_path / "finance" / "renamed.csv").write_text(LEDGER.replace("first", "edited"))
    changed = landing_records(rows, FINANCE, tmp_path, current_names=names)
    assert set(changed["landing_status"]) == {
        "renamed.csv has changed since it was loaded (another SHA-256)"
    }
