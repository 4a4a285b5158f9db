"""Every unreadable landing file is rejected by name, and the extract's other files still load.

Each case drops one bad file beside a good CSV in landing/finance/ and loads the extract through
`load_extract`: the bad file is recorded as rejected in raw.finance_files with a message that
names it and says why (never quoting a row: rows may hold personal data), and the good file's
row is loaded.
"""

import datetime as dt
import errno
import io
from pathlib import Path

import duckdb
import openpyxl
import pytest

from ingest.contracts import FINANCE
from ingest.hashing import HashCache
from ingest.load import load_extract
from ingest.readers import MAX_LINE_BYTES

KEY = "fault-test-pseudonym-key-of-32-bytes-or-more"
HEADER = "transaction_id,posting_date,amount,s251_line,description\n"
SECRET = "Jane-Doe-1234"  # stands for personal data in a bad row: it must never reach a message


def landing_with(tmp_path: Path, name: str, content: bytes) -> Path:
    folder = tmp_path / "landing" / "finance"
    folder.mkdir(parents=True)
    (folder / "good.csv").write_text(HEADER + "T1,2024-05-31,10.00,1.2.1,fees\n")
    (folder / name).write_bytes(content)
    return tmp_path / "landing"


def load(landing: Path):
    con = duckdb.connect()
    result = load_extract(con, FINANCE, landing, "L1", KEY, dt.date(2026, 3, 31))
    return con, result


def rejected_message(con, result, name: str) -> str:
    """The bad file's stored message, after checking the good file loaded beside it."""
    assert [(f.file_name, f.status) for f in result.files if f.status != "rejected"] == [
        ("finance/good.csv", "loaded")
    ]
    assert con.execute("SELECT transaction_id FROM raw.finance").fetchall() == [("T1",)]
    stored = con.execute(
        "SELECT file_name, message FROM raw.finance_files WHERE status = 'rejected'"
    ).fetchall()
    assert stored == [(f"finance/{name}", stored[0][1])]
    message = stored[0][1]
    assert message.startswith(f"finance/{name}: ")
    assert SECRET not in message
    return message


def workbook_bytes() -> bytes:
    workbook = openpyxl.Workbook()
    workbook.active.append(["transaction_id", "posting_date", "amount", "s251_line", "description"])
    workbook.active.append(["T2", "2024-05-31", 5, "1.2.1", SECRET])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_truncated_workbook(tmp_path):
    whole = workbook_bytes()
    con, result = load(landing_with(tmp_path, "ledger.xlsx", whole[: len(whole) // 2]))
    message = rejected_message(con, result, "ledger.xlsx")
    assert "damaged or cut short" in message and "BadZipFile" in message


def test_encrypted_workbook(tmp_path):
    # an encrypted Office file is an OLE2 compound file whose directory names the encrypted stream
    ole2 = bytes.fromhex("D0CF11E0A1B11AE1") + bytes(504) + "EncryptedPackage".encode("utf-16-le")
    con, result = load(landing_with(tmp_path, "ledger.xlsx", ole2 + bytes(2048)))
    assert "encrypted (password-protected)" in rejected_message(con, result, "ledger.xlsx")


def test_old_excel_workbook_named_xlsx(tmp_path):
    ole2 = bytes.fromhex("D0CF11E0A1B11AE1") + bytes(4096)
    con, result = load(landing_with(tmp_path, "ledger.xlsx", ole2))
    assert "Excel 97-2003 workbook (.xls)" in rejected_message(con, result, "ledger.xlsx")


def test_png_named_csv(tmp_path):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
    con, result = load(landing_with(tmp_path, "ledger.csv", png))
    message = rejected_message(con, result, "ledger.csv")
    assert "not UTF-8 or Windows-1252 text: it holds a PNG image, not CSV" in message


def test_binary_bytes_named_csv(tmp_path):
    con, result = load(landing_with(tmp_path, "ledger.csv", b"\x00\x01\x02" * 1000))
    message = rejected_message(con, result, "ledger.csv")
    assert "not UTF-8 or Windows-1252 text: it holds binary data" in message


def test_permission_denied(tmp_path, monkeypatch):
    # the tests run as root, whom chmod does not stop: refuse the read the way the OS would
    row = f"T2,2024-05-31,5,1.2.1,{SECRET}\n"
    landing = landing_with(tmp_path, "locked.csv", (HEADER + row).encode())
    original = HashCache.sha256

    def refuse_locked(self, path):
        if path.name == "locked.csv":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return original(self, path)

    monkeypatch.setattr(HashCache, "sha256", refuse_locked)
    con, result = load(landing)
    assert "permission denied" in rejected_message(con, result, "locked.csv")
    # rejected files are tried again on the next refresh, without a clash with the old record
    result = load_extract(con, FINANCE, landing, "L2", KEY, dt.date(2026, 3, 31))
    assert sorted(f.status for f in result.files) == ["rejected", "unchanged"]


@pytest.mark.parametrize("moment", ["before hashing", "after hashing"])
def test_file_vanishes_between_listing_and_reading(tmp_path, monkeypatch, moment):
    landing = landing_with(tmp_path, "moved.csv", (HEADER + "T2,2024-05-31,5,1.2.1,x\n").encode())
    original = HashCache.sha256

    def vanish(self, path):
        if path.name != "moved.csv":
            return original(self, path)
        if moment == "after hashing":
            digest = original(self, path)
            path.unlink()
            return digest
        path.unlink()
        return original(self, path)

    monkeypatch.setattr(HashCache, "sha256", vanish)
    con, result = load(landing)
    message = rejected_message(con, result, "moved.csv")
    assert "it disappeared while the refresh was reading it" in message


def test_field_too_large_names_row_column_and_limit(tmp_path):
    big = HEADER + "T2,2024-05-31,5,1.2.1,ok\n" + f'T3,2024-05-31,5,1.2.1,"{SECRET * 800_000}"\n'
    con, result = load(landing_with(tmp_path, "ledger.csv", big.encode()))
    message = rejected_message(con, result, "ledger.csv")
    assert (
        "row 3, column description holds 9.9 MiB, more than the 1.0 MiB a field may hold" in message
    )


def test_row_too_long_for_duckdb_names_row_and_limit(tmp_path):
    huge = "x" * (MAX_LINE_BYTES + (2 << 20))
    text = HEADER + f'T2,2024-05-31,5,1.2.1,"{SECRET}{huge}"\n'
    con, result = load(landing_with(tmp_path, "ledger.csv", text.encode()))
    message = rejected_message(con, result, "ledger.csv")
    assert "row 2 is 18.0 MiB long, more than the 16.0 MiB a row may hold" in message
    assert "(DuckDB max_line_size)" in message


def test_quote_never_closed(tmp_path):
    rows = [
        "T2,2024-05-31,5,1.2.1,ok",
        f'T3,2024-05-31,5,1.2.1,"{SECRET}',
        "T4,2024-05-31,5,1.2.1,x",
    ]
    text = HEADER + "\n".join(rows) + "\n"
    con, result = load(landing_with(tmp_path, "ledger.csv", text.encode()))
    assert "row 3 opens a quote that is never closed" in rejected_message(con, result, "ledger.csv")
