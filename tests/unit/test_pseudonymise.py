import hashlib
import hmac

import duckdb
import pytest

from ingest.pseudonymise import HASH_HEX_CHARS, PseudonymKeyError, keyed_hash, keyed_hash_sql


@pytest.mark.parametrize("key", ["k", "a much longer secret key " * 5, "ключ-£"])
@pytest.mark.parametrize("value", ["C0000123", " C0000123 ", "Ω-42"])
def test_sql_hash_is_hmac_sha256(key, value):
    in_sql = (
        duckdb.connect()
        .execute(f"SELECT {keyed_hash_sql('v', key)} FROM (SELECT ? AS v)", [value])
        .fetchone()[0]
    )
    expected = hmac.new(key.encode(), value.strip().encode(), hashlib.sha256).hexdigest()[
        :HASH_HEX_CHARS
    ]
    assert in_sql == expected == keyed_hash(value, key)


def test_blank_stays_null_and_keys_differ():
    con = duckdb.connect()
    assert (
        con.execute(f"SELECT {keyed_hash_sql('v', 'k')} FROM (SELECT '  ' AS v)").fetchone()[0]
        is None
    )
    assert keyed_hash("C1", "key-one") != keyed_hash("C1", "key-two")


def test_empty_key_is_refused():
    with pytest.raises(PseudonymKeyError):
        keyed_hash_sql("v", "")


def test_the_warehouse_remembers_its_key_and_refuses_another():
    from ingest.pseudonymise import PseudonymKeyMismatch, check_key_fingerprint, key_fingerprint

    key, other = "k" * 32, "o" * 32
    with duckdb.connect() as con:
        check_key_fingerprint(con, key)  # a new warehouse remembers the first key
        check_key_fingerprint(con, key)
        stored = con.execute("SELECT fingerprint FROM meta.pseudonym_key").fetchall()
        assert stored == [(key_fingerprint(key),)] and key not in stored[0][0]
        with pytest.raises(
            PseudonymKeyMismatch, match="HIGHNEEDS_PSEUDONYM_KEY is not the key this warehouse"
        ):
            check_key_fingerprint(con, other)
        assert con.execute("SELECT count(*) FROM meta.pseudonym_key").fetchone()[0] == 1
