import hashlib
import hmac

import duckdb
import pytest

from ingest.pseudonymise import (
    HASH_HEX_CHARS,
    PseudonymKeyError,
    compact_id,
    compact_id_sql,
    keyed_hash,
    keyed_hash_sql,
    keyed_hex,
    keyed_hex_sql,
)


@pytest.mark.parametrize("key", ["k", "a much longer secret key " * 5, "ключ-£"])
@pytest.mark.parametrize("value", ["C0000123", " C0000123 ", "Ω-42"])
def test_sql_hash_is_hmac_sha256(key, value):
    hex_in_sql, id_in_sql = (
        duckdb.connect()
        .execute(
            f"SELECT {keyed_hex_sql('v', key)}, {keyed_hash_sql('v', key)} FROM (SELECT ? AS v)",
            [value],
        )
        .fetchone()
    )
    digest = hmac.new(key.encode(), value.strip().encode(), hashlib.sha256).digest()
    assert hex_in_sql == digest.hex()[:HASH_HEX_CHARS] == keyed_hex(value, key)
    # the stored id: the digest's first 64 bits (big-endian) less the lowest one
    expected = int.from_bytes(digest[:8], "big") >> 1
    assert id_in_sql == expected == keyed_hash(value, key) == compact_id(hex_in_sql)
    assert 0 <= id_in_sql < 2**63


@pytest.mark.parametrize(
    "hex_hash", ["0" * 24, "f" * 24, "8000000000000000" + "0" * 8, "0123456789abcdef01234567"]
)
def test_a_hex_id_becomes_the_same_number_in_sql_and_python(hex_hash):
    """How a warehouse's ids written as hex are converted in place (ingest.load)."""
    (in_sql,) = duckdb.connect().execute(f"SELECT {compact_id_sql('?')}", [hex_hash]).fetchone()
    assert in_sql == compact_id(hex_hash) == int(hex_hash[:16], 16) // 2
    assert 0 <= in_sql < 2**63


def test_blank_stays_null_and_keys_differ():
    con = duckdb.connect()
    assert (
        con.execute(f"SELECT {keyed_hash_sql('v', 'k')} FROM (SELECT '  ' AS v)").fetchone()[0]
        is None
    )
    assert keyed_hash("C1", "key-one") != keyed_hash("C1", "key-two")


@pytest.mark.parametrize("written", ["12345.0", " 12345.00 ", "12345"])
def test_an_id_written_with_a_decimal_tail_is_the_same_child(written):
    """A child id column exported through Excel or pandas (a number column with blanks) reads
    12345.0: it hashed apart from the 12345 of the other extracts, so the child's payments joined
    no plan. In SQL and in Python alike; 12345.5 and 0012345 stay ids of their own."""
    con = duckdb.connect()
    sql = f"SELECT {keyed_hash_sql('v', 'k')} FROM (SELECT ? AS v)"
    assert con.execute(sql, [written]).fetchone()[0] == keyed_hash(written, "k")
    assert keyed_hash(written, "k") == keyed_hash("12345", "k")
    for other in ("12345.5", "0012345", "A12345.0x"):
        assert con.execute(sql, [other]).fetchone()[0] == keyed_hash(other, "k")
        assert keyed_hash(other, "k") != keyed_hash("12345", "k")


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
