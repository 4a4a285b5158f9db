"""Keyed hashing of person ids (HMAC-SHA256), computed inside DuckDB.

A child's id from the case-management system never enters the warehouse: it is replaced by
HMAC-SHA256(key, id), the same in every extract so plans, placements and payments still join.
Without the key the hash cannot be reversed or recomputed from a guessed id. HMAC is written out
in SQL (RFC 2104) so millions of ids are hashed in a vectorised scan rather than a Python loop; a
unit test proves it equals Python's `hmac` module.

The id is stored as a number, not as text: the first 64 bits of the hash shifted right by one, a
non-negative BIGINT (63 bits) that DuckDB and Spark both hold in 8 bytes, where the 24 hex
characters of the hash's first 96 bits (how warehouses stored it before) took a string each.
`compact_id_sql` turns such a hex hash into the number, so a warehouse written with hex ids is
converted in place and keeps joining the ids loaded after (see ingest.load.ensure_tables). With
63 bits, two of a council's children share an id with odds of about n²/2⁶⁴ (one in 18 million for
a million children).
"""

from __future__ import annotations

import hashlib
import re

from .parsing import PSEUDONYM_TYPE, blank_to_null

HASH_HEX_CHARS = 24  # the hex form: a warehouse's ids before they were numbers, SEN2's plan ids
_BLOCK_SIZE = 64  # SHA-256 block size in bytes


class PseudonymKeyError(ValueError):
    """Raised when no usable pseudonymisation key is configured."""


def _padded_key(key: bytes) -> bytes:
    if len(key) > _BLOCK_SIZE:
        key = hashlib.sha256(key).digest()
    return key.ljust(_BLOCK_SIZE, b"\0")


def keyed_hex_sql(expr: str, key: str) -> str:
    """SQL for the keyed hash of the trimmed text `expr` as 24 hex characters (NULL stays NULL):
    the stored id's text form before ids were numbers, and the prefix of a SEN2 return's plan,
    placement and request ids."""
    if not key:
        raise PseudonymKeyError("the pseudonymisation key is empty")
    padded = _padded_key(key.encode("utf-8"))
    inner_pad = bytes(b ^ 0x36 for b in padded).hex()
    outer_pad = bytes(b ^ 0x5C for b in padded).hex()
    # a number column written out by Excel or pandas gains a decimal tail: child 12345.0 is 12345
    value = f"regexp_replace({blank_to_null(expr)}, '^([0-9]+)\\.0+$', '\\1')"
    inner = f"unhex(sha256(unhex('{inner_pad}') || encode({value})))"
    return (
        f"CASE WHEN {value} IS NOT NULL THEN "
        f"left(sha256(unhex('{outer_pad}') || {inner}), {HASH_HEX_CHARS}) END"
    )


def compact_id_sql(hex_expr: str) -> str:
    """SQL for the stored id (a non-negative BIGINT) of a hex keyed hash: its first 64 bits,
    shifted right by one so it fits a signed 64-bit integer on DuckDB and Spark alike."""
    return f"(((('0x' || left({hex_expr}, 16))::UBIGINT) >> 1)::{PSEUDONYM_TYPE})"


def keyed_hash_sql(expr: str, key: str) -> str:
    """SQL for the stored id of the trimmed text `expr` (a BIGINT; NULL stays NULL)."""
    return compact_id_sql(keyed_hex_sql(expr, key))


def keyed_hex(value: str, key: str) -> str:
    """The keyed hash of `value` as 24 hex characters, in Python (see keyed_hex_sql)."""
    import hmac

    value = re.sub(r"^([0-9]+)\.0+$", r"\1", value.strip())
    digest = hmac.new(key.encode("utf-8"), value.encode("utf-8"), hashlib.sha256)
    return digest.hexdigest()[:HASH_HEX_CHARS]


def compact_id(hex_hash: str) -> int:
    """The stored id of a hex keyed hash, in Python (see compact_id_sql)."""
    return int(hex_hash[:16], 16) >> 1


def keyed_hash(value: str, key: str) -> int:
    """The stored id of `value` in Python, for tests and for looking up one child during an
    audit: equal to keyed_hash_sql's."""
    return compact_id(keyed_hex(value, key))


# --- the key a warehouse was built with -----------------------------------------------------------

FINGERPRINT_MESSAGE = b"highneeds: fingerprint of the pseudonymisation key, v1"
FINGERPRINT_TABLE = "meta.pseudonym_key"


class PseudonymKeyMismatch(PseudonymKeyError):
    """The warehouse was built with another key: its ids would no longer join the new ones."""


def key_fingerprint(key: str) -> str:
    """A keyed hash of a fixed text: equal for equal keys, and telling nothing of the key."""
    import hmac

    return hmac.new(key.encode("utf-8"), FINGERPRINT_MESSAGE, hashlib.sha256).hexdigest()


def check_key_fingerprint(con, key: str, setting: str = "HIGHNEEDS_PSEUDONYM_KEY") -> None:
    """Stop before anything is loaded when the warehouse remembers another key; remember this
    one when the warehouse remembers none (a new warehouse, or one built before fingerprints)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS meta")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {FINGERPRINT_TABLE} (fingerprint VARCHAR NOT NULL, "
        "recorded_at TIMESTAMP)"
    )
    remembered = con.execute(f"SELECT fingerprint, recorded_at FROM {FINGERPRINT_TABLE}").fetchall()
    fingerprint = key_fingerprint(key)
    if not remembered:
        con.execute(f"INSERT INTO {FINGERPRINT_TABLE} VALUES (?, now()::TIMESTAMP)", [fingerprint])
        return
    if remembered[0][0] != fingerprint:
        raise PseudonymKeyMismatch(
            f"{setting} is not the key this warehouse was built with (on "
            f"{remembered[0][1]:%Y-%m-%d}): every child would get a new id and no longer join the "
            f"rows already loaded. Nothing was loaded. Set {setting} back to the warehouse's key; "
            "or, to change keys, rebuild from the landing folder: move the warehouse file aside "
            "(HIGHNEEDS_WAREHOUSE) and refresh, which loads every file in the landing "
            "folder again with the new key."
        )
