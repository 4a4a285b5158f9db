"""Every case of the corpus (tests/corpus/cases) loads, is quarantined or is rejected exactly as
its expected.yml says, and its rows and money reconcile."""

import datetime as dt
from pathlib import Path

import duckdb
import pytest
import yaml

from checks import gates
from ingest.contracts import EXTRACTS
from ingest.load import load_extract
from ingest.readers import load_reader_config

CASES = Path(__file__).resolve().parents[1] / "corpus" / "cases"
EXTRACT_DATE = dt.date(2026, 3, 31)
KEY = "corpus-key"


def case_names() -> list[str]:
    return sorted(p.name for p in CASES.iterdir() if (p / "expected.yml").exists())


def load_case(folder: Path) -> tuple[duckdb.DuckDBPyConnection, dict]:
    expected = yaml.safe_load((folder / "expected.yml").read_text())
    readers = folder / "readers.yml"
    config = load_reader_config(readers) if readers.exists() else {}
    con = duckdb.connect()
    for name in EXTRACTS:
        load_extract(con, EXTRACTS[name], folder, "corpus", KEY, EXTRACT_DATE, config)
    return con, expected


def test_the_corpus_has_at_least_thirty_cases():
    assert len(case_names()) >= 30


@pytest.mark.parametrize("name", case_names())
def test_case(name):
    con, expected = load_case(CASES / name)
    for extract, files in expected.items():
        records = {
            row[0]: row
            for row in con.execute(
                "SELECT file_name, status, message, rows_read, rows_valid, rows_duplicate, "
                "rows_quarantined, file_hash "
                f"FROM raw.{extract}_files"
            ).fetchall()
        }
        assert set(records) == set(files), f"{extract}: files seen {sorted(records)}"
        for file_name, want in files.items():
            _, status, message, read, valid, duplicate, quarantined, file_hash = records[file_name]
            assert status == want["status"], message
            if status == "rejected":
                assert message.startswith(want["message"]), message
                assert (
                    con.execute(
                        f"SELECT count(*) FROM raw.{extract} WHERE _file_hash = ?", [file_hash]
                    ).fetchone()[0]
                    == 0
                )
                continue
            for column, got in (
                ("rows_read", read),
                ("rows_valid", valid),
                ("rows_duplicate", duplicate),
                ("rows_quarantined", quarantined),
            ):
                if column in want:
                    assert got == want[column], f"{file_name} {column}"
            check_rows(con, extract, file_hash, want)
        gate = gates.rows_accounted_for(con, EXTRACTS[extract])
        assert gate.passed, gate.summary


def check_rows(con, extract: str, file_hash: str, want: dict) -> None:
    for row, codes in (want.get("reasons") or {}).items():
        got = con.execute(
            f"SELECT reason_codes FROM quarantine.{extract} "
            "WHERE _file_hash = ? AND _source_row = ?",
            [file_hash, row],
        ).fetchone()
        assert got is not None and sorted(got[0]) == sorted(codes), f"row {row}: {got}"
    for row, text in (want.get("reason_text") or {}).items():
        got = con.execute(
            f"SELECT reason FROM quarantine.{extract} WHERE _file_hash = ? AND _source_row = ?",
            [file_hash, row],
        ).fetchone()[0]
        assert text in got, got
    for row, values in (want.get("values") or {}).items():
        columns = ", ".join(f"{c}::VARCHAR" for c in values)
        got = con.execute(
            f"SELECT {columns} FROM raw.{extract} WHERE _file_hash = ? AND _source_row = ?",
            [file_hash, row],
        ).fetchone()
        assert got is not None, f"row {row} not loaded"
        assert dict(zip(values, got, strict=False)) == {k: str(v) for k, v in values.items()}, (
            f"row {row}"
        )
    if "money" in want:
        column = EXTRACTS[extract].money_column
        total = con.execute(
            f"SELECT coalesce(sum({column}), 0) FROM raw.{extract} WHERE _file_hash = ?",
            [file_hash],
        ).fetchone()[0]
        assert float(total) == pytest.approx(want["money"], abs=0.001)
    for row, extra in (want.get("extra_columns") or {}).items():
        got = con.execute(
            f"SELECT _extra_columns FROM raw.{extract} WHERE _file_hash = ? AND _source_row = ?",
            [file_hash, row],
        ).fetchone()[0]
        assert dict(got) == extra
    for text in want.get("absent") or []:
        for table in (f"raw.{extract}", f"quarantine.{extract}"):
            dump = str(con.execute(f"SELECT * FROM {table}").fetchall())
            assert text not in dump, f"{text!r} stored in {table}"
