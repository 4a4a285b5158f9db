"""The landing files' hash cache: a hash is reused only for the same version of a file."""

import os
import time

from ingest.hashing import HashCache, sha256_file


def test_an_edit_that_keeps_the_size_and_sets_the_time_back_is_hashed_again(tmp_path):
    """`cp -p`, `rsync -a` or an unpacked archive can rewrite a file with its old size and
    modification time: keyed on those alone, the cache gave the old hash and the edited ledger
    was never loaded (green, every later night)."""
    ledger = tmp_path / "finance_2022-23.csv"
    ledger.write_text("transaction_id,amount\nT1,12500.00\n")
    before = ledger.stat()
    cache = HashCache(tmp_path / "hashes.json")
    first = cache.sha256(ledger)
    cache.save()
    time.sleep(0.01)
    ledger.write_text("transaction_id,amount\nT1,19500.00\n")
    os.utime(ledger, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert ledger.stat().st_size == before.st_size
    assert ledger.stat().st_mtime_ns == before.st_mtime_ns
    again = HashCache(tmp_path / "hashes.json").sha256(ledger)
    assert again == sha256_file(ledger) != first
