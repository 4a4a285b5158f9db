"""Which SEN2 person field is the council's child id: the id its ledger and other extracts carry.

A SEN2 return names a child by UPN, ULN (`uniquelearnernumber`) and the case-management
system's record id (`nativeid`); the ledger names them by whichever of these the finance system
holds, or by a case-management id the return does not carry at all. For plans, placements and
payments to join, a SEN2 child must become exactly the text the ledger holds, hashed by the same
keyed hash (the loader hashes both). The council says which field that is:

* `upn` (default), `uln` or `nativeid`: that field of the `person` table;
* `mapping`: a CSV the council keeps outside the landing folder (it holds UPNs), with one column
  named after a person field (`upn`, `uln` / `uniquelearnernumber` or `nativeid`) and a
  `child_id` column holding the council's id for that child.

A child without the chosen field falls back to the others, each prefixed with its field's name
(`uln:…`) so a fallback can never be mistaken for another child's chosen id, and last to the
return's own person row (which cannot join another return or the ledger).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from .parsing import quote_ident
from .readers import FileRejected, first_line_words, normalise_header, read_csv_part

# field → the person table's column names for it, in the order tried
PERSON_FIELDS: dict[str, tuple[str, ...]] = {
    "upn": ("upn",),
    "uln": ("uniquelearnernumber", "uln"),
    "nativeid": ("nativeid",),
}
MAPPING = "mapping"
CHILD_ID_CHOICES = (*PERSON_FIELDS, MAPPING)
MAP_TABLE = "_part_sen2_child_ids"  # a _part_ table: the loader drops it with the rest


@dataclass(frozen=True)
class ChildIdRule:
    field: str = "upn"  # one of CHILD_ID_CHOICES
    id_map: Path | None = None  # the mapping CSV, when field == "mapping"

    def __post_init__(self) -> None:
        if self.field not in CHILD_ID_CHOICES:
            raise ValueError(
                f"SEN2 child id field {self.field!r}: expected one of {', '.join(CHILD_ID_CHOICES)}"
            )
        if self.field == MAPPING and self.id_map is None:
            raise ValueError(
                "SEN2 child id 'mapping' needs the mapping file (HIGHNEEDS_SEN2_ID_MAP)"
            )


def person_field_sql(person_columns: set[str], field: str) -> str | None:
    """The person table's column for `field`, as SQL, or None when the return lacks it."""
    column = next((c for c in PERSON_FIELDS[field] if c in person_columns), None)
    return f"nullif(trim(person.{quote_ident(column)}), '')" if column else None


def read_id_map(con: duckdb.DuckDBPyConnection, id_map: Path, work_dir: Path) -> str:
    """Load the mapping CSV as temp table MAP_TABLE (source_id, child_id); return the person
    field it maps from. FileRejected when the file is unusable."""
    name = str(id_map)
    if not id_map.is_file():
        raise FileRejected(
            f"{name}: the SEN2 child id mapping file (HIGHNEEDS_SEN2_ID_MAP) does not exist"
        )
    known = {"childid", *(c for cs in PERSON_FIELDS.values() for c in cs)}
    part = read_csv_part(con, id_map, name, known, "_part_sen2_id_map", work_dir)
    by_normal = {normalise_header(h): h for h in part.headers}
    fields = [
        (field, by_normal[c])
        for field, columns in PERSON_FIELDS.items()
        for c in columns
        if c in by_normal
    ]
    if "childid" not in by_normal or len(fields) != 1:
        raise FileRejected(
            f"{name}: a SEN2 child id mapping needs a child_id column and exactly one of "
            f"{', '.join(c for cs in PERSON_FIELDS.values() for c in cs)}; found columns: "
            f"{first_line_words(part.headers, known)}"
        )
    field, source = fields[0]
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {MAP_TABLE} AS "
        f"SELECT DISTINCT nullif(trim({quote_ident(source)}), '') AS source_id, "
        f"nullif(trim({quote_ident(by_normal['childid'])}), '') AS child_id "
        f"FROM {part.table} WHERE nullif(trim({quote_ident(source)}), '') IS NOT NULL"
    )
    con.execute(f"DROP TABLE {part.table}")
    ambiguous = con.execute(
        f"SELECT count(*) FROM (SELECT source_id FROM {MAP_TABLE} GROUP BY ALL HAVING count(*) > 1)"
    ).fetchone()
    if ambiguous and ambiguous[0]:
        # the ids themselves are not quoted: they are UPNs and the message is stored
        raise FileRejected(f"{name}: {ambiguous[0]} {field} value(s) map to more than one child_id")
    return field


def child_text_sql(
    person_columns: set[str], rule: ChildIdRule, mapped_from: str | None, return_name: str
) -> str:
    """SQL (over `person`, and `id_map` when mapping) for the child id as the ledger holds it, in
    clear: the loader hashes it like any extract's child_id. Fallbacks carry their field's name."""
    chosen = (
        "id_map.child_id" if rule.field == MAPPING else person_field_sql(person_columns, rule.field)
    )
    primary_field = mapped_from if rule.field == MAPPING else rule.field
    fallbacks = [
        f"'{field}:' || {sql}"
        for field in PERSON_FIELDS
        if field != primary_field and (sql := person_field_sql(person_columns, field))
    ]
    if (
        rule.field == MAPPING
        and mapped_from is not None
        and (sql := person_field_sql(person_columns, mapped_from))
    ):
        fallbacks.insert(0, f"'{mapped_from}:' || {sql}")
    last = f"'{return_name}:person:' || person.persontableid"
    return f"coalesce({', '.join([s for s in [chosen] if s] + fallbacks + [last])})"


def id_map_join(person_columns: set[str], rule: ChildIdRule, mapped_from: str | None) -> str:
    """The join that brings the mapped child id beside `person` (empty unless mapping)."""
    if rule.field != MAPPING or mapped_from is None:
        return ""
    source = person_field_sql(person_columns, mapped_from)
    if source is None:
        return f"LEFT JOIN {MAP_TABLE} AS id_map ON false"
    return f"LEFT JOIN {MAP_TABLE} AS id_map ON id_map.source_id = {source}"
