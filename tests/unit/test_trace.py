"""Reading a traced row back from its landing file: verbatim while the file is the one loaded,
and a plain reason when it is not."""

import datetime as dt

import duckdb
import pandas as pd

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


def test_a_trace_names_the_file_as_it_is_called_now():
    """A landing file renamed after it was loaded keeps its rows (raw keeps the name it was
    loaded under): the trace gives the name an auditor can open, and the old one beside it."""
    from dagster_project.cli.outputs import _current_file_names, _landing_names

    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw")
    con.execute(
        "CREATE TABLE raw.finance_files AS SELECT * FROM (VALUES "
        "('h1', 'finance/adj_renamed.xlsx#Ledger', true), ('h2', 'finance/ledger.csv', true), "
        "('h3', 'finance/gone.csv', false)) AS t(file_hash, file_name, in_landing)"
    )
    rows = pd.DataFrame(
        {
            "source_file": ["finance/adj.xlsx#Ledger", "finance/ledger.csv", "finance/gone.csv"],
            "source_file_hash": ["h1", "h2", "h3"],
            "source_row": [4, 2, 3],
        }
    )
    named = _current_file_names(rows, _landing_names(con, "spend")[1])
    assert named["source_file"].tolist() == [
        "finance/adj_renamed.xlsx#Ledger",
        "finance/ledger.csv",
        "finance/gone.csv",
    ]
    assert named["loaded_as"].tolist()[0] == "finance/adj.xlsx#Ledger"
    assert named["loaded_as"].isna().tolist()[1:] == [True, True]
