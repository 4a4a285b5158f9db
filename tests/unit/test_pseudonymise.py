import hashlib
import hmac

import duckdb
import pytest

from ingest.pseudonymise import HASH_HEX_CHARS, PseudonymKeyError, keyed_hash, keyed_hash_sql


@pytest.mark.parametrize("key", ["k", "a much longer secret key " * 5, "ключ-£"])
@pytest.mark.parametrize("value", ["C0000123", " C0000123 ", "Ω-42"])
def test_sql_hash_is_hmac_sha256(key, value):
    in_sql = duckdb.connect().execute(f"SELECT {keyed_hash_sql('v', key)} FROM (SELECT ? AS v)", [value]).fetchone()[0]
    expected = hmac.new(key.encode(), value.strip().encode(), hashlib.sha256).hexdigest()[:HASH_HEX_CHARS]
    assert in_sql == expected == keyed_hash(value, key)


def test_blank_stays_null_and_keys_differ():
    con = duckdb.connect()
    assert con.execute(f"SELECT {keyed_hash_sql('v', 'k')} FROM (SELECT '  ' AS v)").fetchone()[0] is None
    assert keyed_hash("C1", "key-one") != keyed_hash("C1", "key-two")


def test_empty_key_is_refused():
    with pytest.raises(PseudonymKeyError):
        keyed_hash_sql("v", "")
