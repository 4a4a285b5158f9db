"""SEN2 person-level return (DfE COLLECT "Blade" CSV export) → ehcp and placement rows.

A return sits in `landing/sen2/<return>/` as one CSV per table, named
`Blade-Export_<dd-mm-yyyy>_<table>.csv` (person, requests, assessment, namedplan, plandetail,
activeplans, placementdetail, senneed; see ../shared/SEN2.md). Columns are read by name,
case-insensitively, and tables or columns a specification version lacks are tolerated.

How the tables chain (every link read by column name):

* a named plan → its assessment → its request → the person: one **ehcp** row per named plan.
  Primary need = the `senneed` row of rank 1 for the plan's request (rank 2 → secondary need);
  cease date and reason from `namedplan`; request date from `requests.receiveddate`.
* a `placementdetail` row → its parent (an active plan, request, named plan or person: whichever
  `<parent>tableid` column it carries) → the person: one **placements** row per placement, with
  URN / UKPRN / SEN setting, entry and leaving dates, unit and resourced-provision flags.

Ids are made stable across returns, so next year's return supersedes this year's by key:
a child is the keyed hash of their UPN (else ULN, else the return's person id); a plan is child
+ start date; a placement is child + entry date + establishment. Personal data (names,
postcode, UPN) flows into the same personal columns as any ehcp extract and is dropped on load.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from .hashing import HashCache
from .parsing import quote_ident
from .pseudonymise import keyed_hash_sql
from .readers import FileRejected, Part, normalise_header, read_csv_part

BLADE_TABLE = re.compile(r"blade[-_ ]?export.*?_([a-z0-9]+)\.csv$", re.IGNORECASE)
REQUIRED_TABLES = {
    "ehcp": ("person", "requests", "assessment", "namedplan"),
    "placements": ("person", "requests", "placementdetail"),
}
PARENT_LINKS = ("activeplanstableid", "requeststableid", "namedplantableid", "assessmenttableid", "persontableid")


@dataclass
class Sen2Return:
    landing_dir: Path
    folder: Path
    tables: dict[str, Path]  # table → Blade CSV

    @property
    def name(self) -> str:
        """The return as people know it: its folder relative to the landing folder, e.g. sen2/2025."""
        return str(self.folder.relative_to(self.landing_dir))

    def content_hash(self, hashes: HashCache | None = None) -> str:
        """One hash for the return: its tables' names and their files' hashes."""
        hashes = hashes or HashCache(None)
        parts = "".join(f"{table}:{hashes.sha256(path)}\n" for table, path in sorted(self.tables.items()))
        return hashlib.sha256(parts.encode()).hexdigest()

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.tables.values())

    def file_of(self, table: str) -> str:
        return str(self.tables[table].relative_to(self.landing_dir))


def find_returns(landing_dir: Path) -> list[Sen2Return]:
    """Each folder under landing/sen2/ holding Blade CSVs is one return (files directly in sen2/
    count as one return too)."""
    root = landing_dir / "sen2"
    if not root.is_dir():
        return []
    folders = sorted({p.parent for p in root.rglob("*") if p.is_file() and BLADE_TABLE.search(p.name)})
    returns = []
    for folder in folders:
        tables = {
            BLADE_TABLE.search(p.name).group(1).lower(): p  # type: ignore[union-attr]
            for p in sorted(folder.iterdir())
            if p.is_file() and BLADE_TABLE.search(p.name)
        }
        returns.append(Sen2Return(landing_dir, folder, tables))
    return returns


def _read_tables(con: duckdb.DuckDBPyConnection, sen2: Sen2Return, work_dir: Path) -> dict[str, set[str]]:
    """Load every Blade CSV as temp table `_sen2_<table>` with lower-case column names."""
    columns: dict[str, set[str]] = {}
    for table, path in sen2.tables.items():
        part = read_csv_part(con, path, sen2.file_of(table), set(), f"_part_sen2_raw_{table}", work_dir)
        renamed = ", ".join(f"{quote_ident(h)} AS {quote_ident(normalise_header(h))}" for h in part.headers)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _part_sen2_{table} AS SELECT _source_row, {renamed} FROM {part.table}")
        con.execute(f"DROP TABLE {part.table}")
        columns[table] = {normalise_header(h) for h in part.headers}
    return columns


def _col(columns: dict[str, set[str]], table: str, *names: str) -> str:
    """The first of `names` the table has, as SQL, else NULL."""
    for name in names:
        if name in columns.get(table, set()):
            return f"{table}.{quote_ident(name)}"
    return "NULL"


def _flag(expr: str) -> str:
    """SEN2 indicators come as 1/0, true/false or Y/N: the contract wants Y or N."""
    return (
        f"CASE WHEN upper(trim({expr})) IN ('1', 'TRUE', 'Y', 'YES') THEN 'Y' "
        f"WHEN upper(trim({expr})) IN ('0', 'FALSE', 'N', 'NO') THEN 'N' ELSE trim({expr}) END"
    )


def _person_key(columns: dict[str, set[str]], return_name: str, pseudonym_key: str) -> str:
    """The child's id: UPN, else ULN, else the return's person id — already a keyed hash here,
    because plan and placement ids are built from it and must not carry a UPN."""
    upn = _col(columns, "person", "upn")
    uln = _col(columns, "person", "uniquelearnernumber", "uln")
    person = f"coalesce(nullif(trim({upn}), ''), nullif(trim({uln}), ''), '{return_name}:' || person.persontableid)"
    return keyed_hash_sql(person, pseudonym_key)


def _need_by_rank(columns: dict[str, set[str]]) -> str:
    """senneed rows per request, whichever parent they link to."""
    link = next((c for c in PARENT_LINKS if c in columns.get("senneed", set())), None)
    if link is None:
        return "SELECT NULL::VARCHAR AS requeststableid, NULL::VARCHAR AS sentype, NULL::INTEGER AS sentyperank WHERE false"
    rank = _col(columns, "senneed", "sentyperank", "rank")
    needs = f"SELECT senneed.{link} AS link, senneed.sentype, try_cast({rank} AS INTEGER) AS sentyperank FROM _part_sen2_senneed AS senneed"
    return _to_request(needs, link, columns)


def _to_request(rows_sql: str, link: str, columns: dict[str, set[str]]) -> str:
    """Rows carrying `link` re-keyed to the request they belong to."""
    if link == "requeststableid":
        return f"SELECT link AS requeststableid, * EXCLUDE (link) FROM ({rows_sql})"
    if link == "activeplanstableid" and "activeplanstableid" in columns.get("activeplans", set()):
        return (
            f"SELECT activeplans.requeststableid, r.* EXCLUDE (link) FROM ({rows_sql}) r "
            f"JOIN _part_sen2_activeplans AS activeplans ON activeplans.activeplanstableid = r.link"
        )
    if link == "namedplantableid":
        return (
            f"SELECT assessment.requeststableid, r.* EXCLUDE (link) FROM ({rows_sql}) r "
            "JOIN _part_sen2_namedplan AS namedplan ON namedplan.namedplantableid = r.link "
            "JOIN _part_sen2_assessment AS assessment ON assessment.assessmenttableid = namedplan.assessmenttableid"
        )
    if link == "assessmenttableid":
        return (
            f"SELECT assessment.requeststableid, r.* EXCLUDE (link) FROM ({rows_sql}) r "
            "JOIN _part_sen2_assessment AS assessment ON assessment.assessmenttableid = r.link"
        )
    # linked to the person only: the person's latest request
    return (
        f"SELECT arg_max(requests.requeststableid, requests.receiveddate) AS requeststableid, r.* EXCLUDE (link) "
        f"FROM ({rows_sql}) r JOIN _part_sen2_requests AS requests ON requests.persontableid = r.link GROUP BY ALL"
    )


def ehcp_part(con: duckdb.DuckDBPyConnection, columns: dict[str, set[str]], sen2: Sen2Return, table: str,
              pseudonym_key: str) -> Part:
    child = _person_key(columns, sen2.name, pseudonym_key)
    con.execute(
        f"""
        CREATE TEMP TABLE {table} AS
        WITH needs AS ({_need_by_rank(columns)})
        SELECT
            namedplan._source_row,
            {child} AS child_id,
            {child} || '|' || coalesce(trim(namedplan.startdate), namedplan.namedplantableid) AS plan_id,
            {_col(columns, 'person', 'personbirthdate', 'dateofbirth')} AS date_of_birth,
            {_col(columns, 'person', 'sex', 'gendercurrent', 'gender')} AS sex,
            (SELECT min(sentype) FROM needs WHERE needs.requeststableid = requests.requeststableid AND sentyperank = 1) AS primary_need,
            (SELECT min(sentype) FROM needs WHERE needs.requeststableid = requests.requeststableid AND sentyperank = 2) AS secondary_need,
            {_col(columns, 'requests', 'receiveddate')} AS request_date,
            namedplan.startdate AS plan_start_date,
            {_col(columns, 'namedplan', 'ceasedate')} AS plan_cease_date,
            {_col(columns, 'namedplan', 'ceasereason')} AS cease_reason,
            {_col(columns, 'person', 'upn')} AS upn,
            {_col(columns, 'person', 'forename')} AS forename,
            {_col(columns, 'person', 'surname')} AS surname,
            {_col(columns, 'person', 'postcode')} AS postcode
        FROM _part_sen2_namedplan AS namedplan
        LEFT JOIN _part_sen2_assessment AS assessment ON assessment.assessmenttableid = namedplan.assessmenttableid
        LEFT JOIN _part_sen2_requests AS requests ON requests.requeststableid = assessment.requeststableid
        LEFT JOIN _part_sen2_person AS person ON person.persontableid = requests.persontableid
        """
    )
    return Part(table, sen2.file_of("namedplan"), _part_headers(con, table))


def placements_part(con: duckdb.DuckDBPyConnection, columns: dict[str, set[str]], sen2: Sen2Return, table: str,
                    pseudonym_key: str) -> Part:
    link = next((c for c in PARENT_LINKS if c in columns.get("placementdetail", set())), None)
    if link is None:
        raise FileRejected(
            f"{sen2.file_of('placementdetail')}: no column linking placements to a plan or "
            f"person (expected one of {', '.join(PARENT_LINKS)})"
        )
    detail = (
        f"SELECT placementdetail.{link} AS link, placementdetail._source_row, "
        f"{_col(columns, 'placementdetail', 'urn')} AS urn, {_col(columns, 'placementdetail', 'ukprn')} AS ukprn, "
        f"{_col(columns, 'placementdetail', 'sensetting')} AS sen_setting, "
        f"{_col(columns, 'placementdetail', 'senunitindicator')} AS sen_unit, "
        f"{_col(columns, 'placementdetail', 'resourcedprovisionindicator')} AS resourced_provision, "
        f"{_col(columns, 'placementdetail', 'res')} AS residential, "
        f"{_col(columns, 'placementdetail', 'entrydate')} AS start_date, "
        f"{_col(columns, 'placementdetail', 'leavingdate')} AS end_date "
        f"FROM _part_sen2_placementdetail AS placementdetail"
    )
    child = _person_key(columns, sen2.name, pseudonym_key)
    if link == "persontableid":
        with_person = f"SELECT d.*, d.link AS persontableid FROM ({detail}) d"
    else:
        with_person = (
            f"SELECT d.*, requests.persontableid FROM ({_to_request(detail, link, columns)}) d "
            "JOIN _part_sen2_requests AS requests ON requests.requeststableid = d.requeststableid"
        )
    con.execute(
        f"""
        CREATE TEMP TABLE {table} AS
        SELECT
            d._source_row,
            {child} || '|' || coalesce(trim(d.start_date), '') || '|'
                || coalesce(trim(d.urn), trim(d.ukprn), trim(d.sen_setting), '') AS placement_id,
            {child} AS child_id,
            d.urn, d.ukprn, d.sen_setting,
            {_flag('d.sen_unit')} AS sen_unit,
            {_flag('d.resourced_provision')} AS resourced_provision,
            d.residential, d.start_date, d.end_date
        FROM ({with_person}) d
        LEFT JOIN _part_sen2_person AS person ON person.persontableid = d.persontableid
        """
    )
    return Part(table, sen2.file_of("placementdetail"), _part_headers(con, table))


def _part_headers(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall() if row[0] != "_source_row"]


def read_sen2_part(con: duckdb.DuckDBPyConnection, sen2: Sen2Return, extract_name: str, pseudonym_key: str,
                   work_dir: Path) -> Part:
    """The ehcp or placements rows of one return, as a part; FileRejected when tables are missing."""
    missing = [t for t in REQUIRED_TABLES[extract_name] if t not in sen2.tables]
    if missing:
        raise FileRejected(
            f"{sen2.name}: SEN2 return lacks the {', '.join(missing)} table(s) needed for {extract_name}; "
            f"found: {', '.join(sorted(sen2.tables)) or '(none)'}"
        )
    columns = _read_tables(con, sen2, work_dir)
    for table, needed in (("person", "persontableid"), ("requests", "requeststableid"), ("requests", "persontableid")):
        if needed not in columns.get(table, set()):
            raise FileRejected(f"{sen2.file_of(table)}: missing column {needed}")
    builder = ehcp_part if extract_name == "ehcp" else placements_part
    return builder(con, columns, sen2, f"_part_sen2_{extract_name}", pseudonym_key)
