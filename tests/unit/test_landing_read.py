"""The landing files a refresh read, checked again before it publishes (ingest/landing_read.py)."""

import duckdb

from ingest import landing_read
from ingest.hashing import HashCache


def read(con, landing, extract, *paths) -> None:
    hashes = HashCache(None)
    for path in paths:
        hashes.sha256(path)
    landing_read.record(con, extract, landing, hashes, "run-1")


def test_a_file_written_on_after_it_was_read_or_gone_is_named_and_the_same_bytes_are_not(tmp_path):
    landing = tmp_path / "landing"
    (landing / "finance").mkdir(parents=True)
    (landing / "ehcp").mkdir()
    ledger = landing / "finance" / "ledger_2024-25.csv"
    ledger.write_text("transaction_id,posting_date,amount\nT1,2024-04-30,100.00\n")
    plans = landing / "ehcp" / "plans.csv"
    plans.write_text("child_id,plan_id\nK1,P1\n")
    con = duckdb.connect()
    assert landing_read.changed_since_read(con) == []  # nothing read yet
    read(con, landing, "finance", ledger)
    read(con, landing, "ehcp", plans)
    assert landing_read.changed_since_read(con) == []

    ledger.write_text(ledger.read_text())  # saved again: new times, the same bytes
    plans.write_text(plans.read_text() + "K2,P2\n")  # still being copied when it was read
    changed = landing_read.changed_since_read(con)
    assert [(c.extract, c.file, c.read_bytes, c.now_bytes) for c in changed] == [
        ("ehcp", "ehcp/plans.csv", 23, 29)
    ]
    assert changed[0].describe().startswith("ehcp/plans.csv (ehcp): read at ")
    assert changed[0].describe().endswith("UTC with 23 bytes, now 29 bytes and different")

    ledger.unlink()
    assert [(c.file, c.now_bytes) for c in landing_read.changed_since_read(con)] == [
        ("ehcp/plans.csv", 29),
        ("finance/ledger_2024-25.csv", None),
    ]
    assert "gone since it was read at" in landing_read.changed_since_read(con)[1].describe()

    # the next ingest of an extract replaces what the last one read of it, and only that
    read(con, landing, "ehcp", plans)
    assert [c.file for c in landing_read.changed_since_read(con)] == ["finance/ledger_2024-25.csv"]
    read(con, landing, "finance")
    assert landing_read.changed_since_read(con) == []
