"""SEN2 person-level return (DfE COLLECT "Blade" CSV export) → ehcp and placement rows.

A return sits in `landing/sen2/<return>/` as one CSV per table, named
`Blade-Export_<dd-mm-yyyy>_<table>.csv` (sen2, person, requests, assessment, namedplan,
plandetail, activeplans, placementdetail, senneed; see ../shared/SEN2.md). Columns are read by
name, case-insensitively, and tables or columns a specification version lacks are tolerated.

How the tables chain (every link read by column name):

* a named plan → its assessment → its request → the person: one **ehcp** row per named plan.
  Primary need = the `senneed` row of rank 1 for the plan's request (rank 2 → secondary need);
  cease date and reason from `namedplan`; request date from `requests.receiveddate`.
* a `requests` row → the person, its `assessment` (if the council decided to assess) and the
  named plan that assessment led to: one **requests** row per request, for the DBV figures
  (requests, decisions to assess, plans issued, 20-week timeliness).
* a `placementdetail` row → its parent (an active plan, request, named plan or person: whichever
  `<parent>tableid` column it carries) → the person: one **placements** row per placement, with
  URN / UKPRN / SEN setting, entry and leaving dates, unit and resourced-provision flags.

COLLECT writes dates as `2024-Sep-05 00:00:00` and indicators as true/false: both are rewritten
here (ISO dates, Y/N) so the landing contract's formats stay those of every other extract. Every
column of the tables a row comes from is kept in raw as exported (`<table>.<column>`), beside
the return's census date and LA code from the `sen2` header module.

Ids are made stable across returns, so next year's return supersedes this year's by key:
a child is the person field the council names as its child id (`ChildIdRule`: the UPN unless
told otherwise), given to the loader in clear and hashed there exactly as a ledger's child_id
is, so SEN2 children and ledger payments join; a plan is the child's hash + start date; a
placement is the child's hash + entry date + establishment; a request is the child's hash +
date received. Those ids are text and take the hash's hex form (`keyed_hex_sql`), as they always
have, so a warehouse's SEN2 plans keep their ids; the child_id itself is stored as a number.
Personal data (names, postcode, UPN) flows into the same personal columns as any ehcp extract
and is dropped on load.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from .hashing import HashCache
from .parsing import date_sql, quote_ident, quote_literal
from .pseudonymise import keyed_hex_sql
from .readers import FileRejected, Part, normalise_header, read_csv_part
from .sen2_child_ids import MAPPING, ChildIdRule, child_text_sql, id_map_join, read_id_map

BLADE_TABLE = re.compile(r"blade[-_ ]?export.*?_([a-z0-9]+)\.csv$", re.IGNORECASE)
REQUIRED_TABLES = {
    "ehcp": ("person", "requests", "assessment", "namedplan"),
    "placements": ("person", "requests", "placementdetail"),
    "requests": ("person", "requests"),
}
# the Blade tables the loader reads; any other the export holds (plandetail, …) is left as it is:
# an empty one of those had rejected the whole return
READ_TABLES = frozenset(
    {"person", "requests", "assessment", "namedplan", "activeplans", "placementdetail", "senneed"}
)
# the columns a row named by one Blade table's file and row reads from another table of the
# return: (the file's table, column) → (table, column) read. A request whose plan date was after
# the extract date was named "requests.csv:203 plan_start_date", a column requests.csv has not
READ_FROM = {
    ("namedplan", "date_of_birth"): ("person", "personbirthdate"),
    ("namedplan", "sex"): ("person", "sex"),
    ("namedplan", "primary_need"): ("senneed", "sentype"),
    ("namedplan", "secondary_need"): ("senneed", "sentype"),
    ("namedplan", "request_date"): ("requests", "receiveddate"),
    ("requests", "plan_start_date"): ("namedplan", "startdate"),
    ("requests", "assessment_outcome_date"): ("assessment", "assessmentoutcomedate"),
    ("requests", "week20_exception"): ("assessment", "week20"),
}


def read_from(source_file: str, column: str) -> str | None:
    """Where in a SEN2 return a column of a row named by `source_file` was read, when not in that
    file ("namedplan.startdate": the row's own linked row of that table); None when read from the
    file itself, or not a Blade file."""
    found = BLADE_TABLE.search(source_file or "")
    hit = READ_FROM.get((found.group(1).lower(), column)) if found else None
    return f"{hit[0]}.{hit[1]}" if hit else None


PARENT_LINKS = (
    "activeplanstableid",
    "requeststableid",
    "namedplantableid",
    "assessmenttableid",
    "persontableid",
)
# COLLECT's date-time format: year, abbreviated English month, day, then a time (or not)
BLADE_DATE_FORMATS = ("%Y-%b-%d %H:%M:%S", "%Y-%b-%d")


@dataclass
class Sen2Return:
    landing_dir: Path
    folder: Path
    tables: dict[str, Path]  # table → Blade CSV
    # the export's name before its table (`Blade-Export_05-02-2025`) when its folder holds
    # several exports; None when it is the folder's only one
    export: str | None = None

    @property
    def name(self) -> str:
        """The return as people know it: its folder relative to the landing folder, e.g.
        sen2/2025 (and its export's name, sen2/Blade-Export_05-02-2025, beside others)."""
        folder = str(self.folder.relative_to(self.landing_dir))
        return f"{folder}/{self.export}" if self.export else folder

    def content_hash(
        self, hashes: HashCache | None = None, child_id: ChildIdRule | None = None
    ) -> str:
        """One hash for the return: its tables' names and their files' hashes, and the child id rule
        (and mapping file) it is read with: a council that changes which field is its child id, or
        its mapping, gets the return read again with the new ids, and the old rows retired."""
        hashes = hashes or HashCache(None)
        rule = child_id or ChildIdRule()
        parts = "".join(
            f"{table}:{hashes.sha256(path)}\n" for table, path in sorted(self.tables.items())
        )
        parts += f"child_id:{rule.field}:{hashes.sha256(rule.id_map) if rule.id_map else ''}\n"
        return hashlib.sha256(parts.encode()).hexdigest()

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.tables.values())

    def file_of(self, table: str) -> str:
        return str(self.tables[table].relative_to(self.landing_dir))

    def header(self) -> dict[str, str]:
        """The `sen2` header module's first row (collection, year, referencedate, lea …), lower-case
        names; empty when the export has no header module."""
        if "sen2" not in self.tables:
            return {}
        # read leniently: a header that cannot be read only loses the census date and LA code
        with self.tables["sen2"].open(encoding="utf-8-sig", errors="replace", newline="") as handle:
            row = next(csv.DictReader(handle), None) or {}
        return {normalise_header(k): (v or "").strip() for k, v in row.items() if k is not None}

    def census_date(self) -> dt.date | None:
        """The census day the return describes (the header's referencedate)."""
        text = self.header().get("referencedate", "")
        # (as COLLECT writes it, or as Excel saves it again: 18/01/2024 00:00)
        for form in (
            *BLADE_DATE_FORMATS,
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%d",
            "%d/%m/%Y",
            "%d/%m/%Y %H:%M",
            "%d/%m/%Y %H:%M:%S",
        ):
            try:
                return dt.datetime.strptime(text, form).date()
            except ValueError:
                continue
        return None


def find_returns(landing_dir: Path) -> list[Sen2Return]:
    """Each folder under landing/sen2/ holding Blade CSVs is one return (files directly in sen2/
    count as one return too), oldest census first: a later return supersedes an earlier one's
    plans and placements, so they are loaded in census order (by folder name without a header)."""
    root = landing_dir / "sen2"
    if not root.is_dir():
        return []
    folders = sorted(
        {p.parent for p in root.rglob("*") if p.is_file() and BLADE_TABLE.search(p.name)}
    )
    returns = []
    for folder in folders:
        # a folder may hold several exports (three years' returns, or a return and its re-sent
        # copy): each export's files, named `<export>_<table>.csv`, are a return of their own.
        # Keyed by table alone, the last file name won each table, so two of three years' returns
        # were dropped without a word (`08-02-2023` sorts after `05-02-2025`)
        exports: dict[str, dict[str, Path]] = {}
        for p in sorted(folder.iterdir()):
            found = BLADE_TABLE.search(p.name) if p.is_file() else None
            if found:
                exports.setdefault(p.name[: found.start(1) - 1], {})[found.group(1).lower()] = p
        for export, tables in exports.items():
            returns.append(
                Sen2Return(landing_dir, folder, tables, export if len(exports) > 1 else None)
            )
    return sorted(returns, key=lambda r: (r.census_date() or dt.date.min, r.name))


def same_census(returns: list[Sen2Return]) -> dict[str, list[str]]:
    """Each return whose census day another return in the list also describes → the names of
    all of them. Two returns of one census (a return and its re-sent copy, in one folder or
    two) cannot both be read: each lists every plan live in its window, so a plan corrected in
    one (another start date) was counted twice, as two plans."""
    by_census: dict[dt.date, list[str]] = {}
    for sen2 in returns:
        census = sen2.census_date()
        if census is not None:
            by_census.setdefault(census, []).append(sen2.name)
    return {name: names for names in by_census.values() if len(names) > 1 for name in names}


def council_code(landing_dir: Path) -> str | None:
    """The council's old LA code as its latest SEN2 return's header gives it (`lea`), if any."""
    codes = [r.header().get("lea") for r in find_returns(landing_dir)]
    return next((code for code in reversed(codes) if code), None)


def _read_tables(
    con: duckdb.DuckDBPyConnection, sen2: Sen2Return, work_dir: Path
) -> dict[str, set[str]]:
    """Load each Blade CSV the loader reads (READ_TABLES) as temp table `_part_sen2_<table>` with
    lower-case column names."""
    columns: dict[str, set[str]] = {}
    for table, path in sen2.tables.items():
        if table not in READ_TABLES:
            continue
        part = read_csv_part(
            con, path, sen2.file_of(table), set(), f"_part_sen2_raw_{table}", work_dir
        )
        renamed = ", ".join(
            f"{quote_ident(h)} AS {quote_ident(normalise_header(h))}" for h in part.headers
        )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _part_sen2_{table} AS SELECT _source_row, {renamed} "
            f"FROM {part.table}"
        )
        con.execute(f"DROP TABLE {part.table}")
        columns[table] = {normalise_header(h) for h in part.headers}
    if "persontableid" in columns.get("person", set()):
        _one_line_per_person(con, sen2, columns["person"])
    return columns


def _one_line_per_person(con: duckdb.DuckDBPyConnection, sen2: Sen2Return, names: set[str]) -> None:
    """Every table hangs from `person` by persontableid: a person's line given twice doubled each
    of the child's plans, placements and requests, and the refresh stopped on a gate naming the
    other tables. A line repeated word for word is read once; two different lines under one
    persontableid reject the return, naming them."""
    others = ", ".join(quote_ident(n) for n in sorted(names))
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _part_sen2_person AS "
        f"SELECT min(_source_row) AS _source_row, {others} FROM _part_sen2_person GROUP BY ALL"
    )
    clash = con.execute(
        "SELECT persontableid, list(_source_row ORDER BY _source_row) FROM _part_sen2_person "
        "GROUP BY persontableid HAVING count(*) > 1 ORDER BY min(_source_row) LIMIT 1"
    ).fetchone()
    if clash:
        person, rows = clash
        raise FileRejected(
            f"{sen2.file_of('person')}: rows {', '.join(map(str, rows))}, column persontableid: "
            f"person {person} is given by {len(rows)} different lines; a person is one line "
            "(the return's plans, placements and requests hang from it): export the return again"
        )


def _col(columns: dict[str, set[str]], table: str, *names: str) -> str:
    """The first of `names` the table has, as SQL, else NULL."""
    for name in names:
        if name in columns.get(table, set()):
            return f"{table}.{quote_ident(name)}"
    return "NULL"


def _to_issue(expr: str) -> str:
    """SQL: a SEN2 assessment outcome code says the council decided to issue a plan (Y); false
    without the column."""
    return f"coalesce(upper(trim({expr})) = 'Y', false)"


def _withdrawn(expr: str) -> str:
    """SQL: a SEN2 request or assessment outcome code says withdrawn (W) — false without the
    column (older returns), which leaves the outcome to its date as before."""
    return f"coalesce(upper(trim({expr})) = 'W', false)"


def _date(expr: str) -> str:
    """A COLLECT date, or any date the loader reads (`25/09/2022`, as Excel saves a return), as
    ISO text; any other text is left as it is, for the loader to quarantine as it would in any
    extract. One spelling matters beyond the date: plan and request ids are built from it, and
    a request written 25/09/2022 in one return and 2022-09-25 in the next was two requests, each
    retired by the other (2022's requests 45 for 47, plans issued 23 for 27, on a green run)."""
    formats = ", ".join(quote_literal(f) for f in BLADE_DATE_FORMATS)
    return (
        f"coalesce(strftime(try_strptime(trim({expr}), [{formats}]), '%Y-%m-%d'), "
        f"strftime({date_sql(f'trim({expr})')}, '%Y-%m-%d'), {expr})"
    )


def _flag(expr: str) -> str:
    """SEN2 indicators come as 1/0, true/false or Y/N: the contract wants Y or N."""
    return (
        f"CASE WHEN upper(trim({expr})) IN ('1', 'TRUE', 'Y', 'YES') THEN 'Y' "
        f"WHEN upper(trim({expr})) IN ('0', 'FALSE', 'N', 'NO') THEN 'N' ELSE trim({expr}) END"
    )


def _exception(expr: str) -> str:
    """`week20` records an exception to the 20-week limit: a false indicator or blank says none,
    anything else (true, or a reason code) that one applied."""
    return (
        f"CASE WHEN upper(trim({expr})) IN ('0', 'FALSE', 'N', 'NO') THEN 'N' "
        f"WHEN nullif(trim({expr}), '') IS NOT NULL THEN 'Y' END"
    )


def _kept_columns(columns: dict[str, set[str]], tables: tuple[str, ...], sen2: Sen2Return) -> str:
    """Every exported column of the row's own `tables` as `<table>.<column>`, and the header's
    census date and LA code: kept in raw (personal-looking names are dropped by the loader)."""
    header = sen2.header()
    kept = [
        f"{table}.{quote_ident(column)} AS {quote_ident(f'{table}.{column}')}"
        for table in tables
        for column in sorted(columns.get(table, set()))
    ]
    kept += [
        f"{quote_literal(header[field])} AS {quote_ident(f'sen2.{field}')}"
        for field in ("referencedate", "lea")
        if header.get(field)
    ]
    return ", ".join(kept)


@dataclass
class _Child:
    """SQL for the child of a person row: `text` in clear (the loader hashes it), `hashed` (the
    hash's hex text) for the plan, placement and request ids built here, and the join the
    mapping needs."""

    text: str
    hashed: str
    join: str


def _child(
    con: duckdb.DuckDBPyConnection,
    columns: dict[str, set[str]],
    sen2: Sen2Return,
    rule: ChildIdRule,
    pseudonym_key: str,
    work_dir: Path,
) -> _Child:
    mapped_from = (
        read_id_map(con, rule.id_map, work_dir) if rule.field == MAPPING and rule.id_map else None
    )
    text = child_text_sql(columns["person"], rule, mapped_from, sen2.name)
    return _Child(
        text, keyed_hex_sql(text, pseudonym_key), id_map_join(columns["person"], rule, mapped_from)
    )


def _need_by_rank(columns: dict[str, set[str]]) -> str:
    """senneed rows per request, whichever parent they link to."""
    link = next((c for c in PARENT_LINKS if c in columns.get("senneed", set())), None)
    if link is None:
        return (
            "SELECT NULL::VARCHAR AS requeststableid, NULL::VARCHAR AS sentype, "
            "NULL::INTEGER AS sentyperank WHERE false"
        )
    rank = _col(columns, "senneed", "sentyperank", "rank")
    needs = (
        f"SELECT senneed.{link} AS link, senneed.sentype, "
        f"try_cast({rank} AS INTEGER) AS sentyperank FROM _part_sen2_senneed AS senneed"
    )
    return _to_request(needs, link, columns, "senneed")


def _to_request(
    rows_sql: str, link: str, columns: dict[str, set[str]], table: str, keep: bool = False
) -> str:
    """Rows of `table` carrying `link` re-keyed to the request they belong to; with `keep`, a row
    whose link leads nowhere stays, with no request (a placement's row is then quarantined for
    its missing child, not lost)."""
    join = "LEFT JOIN" if keep else "JOIN"
    parent = link.removesuffix("tableid")
    if link != "persontableid" and link not in columns.get(parent, set()):
        raise FileRejected(
            f"{table} rows link to {parent} by {link}, but the return has no "
            f"{parent} table with that column"
        )
    if link == "requeststableid":
        return f"SELECT link AS requeststableid, * EXCLUDE (link) FROM ({rows_sql})"
    if link == "activeplanstableid":
        return (
            f"SELECT activeplans.requeststableid, r.* EXCLUDE (link) FROM ({rows_sql}) r "
            f"{join} _part_sen2_activeplans AS activeplans "
            "ON activeplans.activeplanstableid = r.link"
        )
    if link == "namedplantableid":
        return (
            f"SELECT assessment.requeststableid, r.* EXCLUDE (link) FROM ({rows_sql}) r "
            f"{join} _part_sen2_namedplan AS namedplan ON namedplan.namedplantableid = r.link "
            f"{join} _part_sen2_assessment AS assessment "
            "ON assessment.assessmenttableid = namedplan.assessmenttableid"
        )
    if link == "assessmenttableid":
        return (
            f"SELECT assessment.requeststableid, r.* EXCLUDE (link) FROM ({rows_sql}) r "
            f"{join} _part_sen2_assessment AS assessment ON assessment.assessmenttableid = r.link"
        )
    # linked to the person only: the person's latest request
    return (
        "SELECT arg_max(requests.requeststableid, requests.receiveddate) AS requeststableid, "
        "r.* EXCLUDE (link) "
        f"FROM ({rows_sql}) r {join} _part_sen2_requests AS requests "
        "ON requests.persontableid = r.link GROUP BY ALL"
    )


def ehcp_part(
    con: duckdb.DuckDBPyConnection,
    columns: dict[str, set[str]],
    sen2: Sen2Return,
    table: str,
    child: _Child,
) -> Part:
    start = _date("namedplan.startdate")
    con.execute(
        f"""
        CREATE TEMP TABLE {table} AS
        WITH needs AS ({_need_by_rank(columns)})
        SELECT
            namedplan._source_row,
            {child.text} AS child_id,
            {child.hashed} || '|' || coalesce(trim({start}), namedplan.namedplantableid) AS plan_id,
            {_date(_col(columns, "person", "personbirthdate", "dateofbirth"))} AS date_of_birth,
            {_col(columns, "person", "sex", "gendercurrent", "gender")} AS sex,
            (SELECT min(sentype) FROM needs
                WHERE needs.requeststableid = requests.requeststableid AND sentyperank = 1)
                AS primary_need,
            (SELECT min(sentype) FROM needs
                WHERE needs.requeststableid = requests.requeststableid AND sentyperank = 2)
                AS secondary_need,
            {_date(_col(columns, "requests", "receiveddate"))} AS request_date,
            {start} AS plan_start_date,
            {_date(_col(columns, "namedplan", "ceasedate"))} AS plan_cease_date,
            {_col(columns, "namedplan", "ceasereason")} AS cease_reason,
            {_col(columns, "person", "upn")} AS upn,
            {_col(columns, "person", "forename")} AS forename,
            {_col(columns, "person", "surname")} AS surname,
            {_col(columns, "person", "postcode")} AS postcode,
            {_kept_columns(columns, ("requests", "assessment", "namedplan"), sen2)}
        FROM _part_sen2_namedplan AS namedplan
        LEFT JOIN _part_sen2_assessment AS assessment
            ON assessment.assessmenttableid = namedplan.assessmenttableid
        LEFT JOIN _part_sen2_requests AS requests
            ON requests.requeststableid = assessment.requeststableid
        LEFT JOIN _part_sen2_person AS person ON person.persontableid = requests.persontableid
        {child.join}
        """
    )
    headers = _part_headers(con, table)
    return Part(table, sen2.file_of("namedplan"), headers, compared_headers=_compared(headers))


def placements_part(
    con: duckdb.DuckDBPyConnection,
    columns: dict[str, set[str]],
    sen2: Sen2Return,
    table: str,
    child: _Child,
) -> Part:
    link = next((c for c in PARENT_LINKS if c in columns.get("placementdetail", set())), None)
    if link is None:
        raise FileRejected(
            f"{sen2.file_of('placementdetail')}: no column linking placements to a plan or "
            f"person (expected one of {', '.join(PARENT_LINKS)})"
        )
    detail = (
        f"SELECT placementdetail.{link} AS link, placementdetail._source_row, "
        f"placementdetail.{link} AS _placement_parent, "
        f"{_col(columns, 'placementdetail', 'urn')} AS urn, "
        f"{_col(columns, 'placementdetail', 'ukprn')} AS ukprn, "
        f"{_col(columns, 'placementdetail', 'sensetting')} AS sen_setting, "
        f"{_col(columns, 'placementdetail', 'senunitindicator')} AS sen_unit, "
        f"{_col(columns, 'placementdetail', 'resourcedprovisionindicator')} AS "
        "resourced_provision, "
        f"{_col(columns, 'placementdetail', 'res')} AS residential, "
        f"{_date(_col(columns, 'placementdetail', 'entrydate'))} AS start_date, "
        f"{_date(_col(columns, 'placementdetail', 'leavingdate'))} AS end_date, "
        f"{_col(columns, 'placementdetail', 'placementrank')} AS placement_rank "
        f"FROM _part_sen2_placementdetail AS placementdetail"
    )
    if link == "persontableid":
        with_person = f"SELECT d.*, d.link AS persontableid FROM ({detail}) d"
    else:
        with_person = (
            "SELECT d.*, requests.persontableid "
            f"FROM ({_to_request(detail, link, columns, 'placementdetail', keep=True)}) d "
            "LEFT JOIN _part_sen2_requests AS requests "
            "ON requests.requeststableid = d.requeststableid"
        )
    # the placement's own exported row, and its active plan's when it hangs from one, go to raw
    kept_tables: tuple[str, ...] = ("placementdetail",)
    kept_join = (
        "LEFT JOIN _part_sen2_placementdetail AS placementdetail "
        "ON placementdetail._source_row = d._source_row"
    )
    if link == "activeplanstableid":
        kept_tables += ("activeplans",)
        kept_join += (
            " LEFT JOIN _part_sen2_activeplans AS activeplans "
            "ON activeplans.activeplanstableid = d._placement_parent"
        )
    con.execute(
        f"""
        CREATE TEMP TABLE {table} AS
        SELECT
            d._source_row,
            {child.hashed} || '|' || coalesce(trim(d.start_date), '') || '|'
                || coalesce(trim(d.urn), trim(d.ukprn), trim(d.sen_setting), '') AS placement_id,
            {child.text} AS child_id,
            d.urn, d.ukprn, d.sen_setting,
            {_flag("d.sen_unit")} AS sen_unit,
            {_flag("d.resourced_provision")} AS resourced_provision,
            d.residential, d.start_date, d.end_date, d.placement_rank,
            {_kept_columns(columns, kept_tables, sen2)}
        FROM ({with_person}) d
        LEFT JOIN _part_sen2_person AS person ON person.persontableid = d.persontableid
        {kept_join}
        {child.join}
        """
    )
    headers = _part_headers(con, table)
    # the same placement (child, entry date, establishment) under each of the child's plans live
    # in the window (a plan ceased and a new one issued in the year): the spec has it listed
    # under both. Its rows differ only in their links to the plans, so the second is the first's
    # duplicate; compared on every column, both were quarantined as conflicting and the child
    # counted in no setting
    compared = [h for h in headers if not _plan_link(h)]
    return Part(table, sen2.file_of("placementdetail"), headers, compared_headers=compared)


def _plan_link(header: str) -> bool:
    """A kept column that says which plan a placement row hangs from, or COLLECT's bookkeeping:
    the active plan's own columns, and the placement row's ids and order."""
    table, _, _ = header.partition(".")
    return table == "activeplans" or (table == "placementdetail" and _bookkeeping(header))


def _bookkeeping(header: str) -> bool:
    """A kept column of COLLECT's own: a row's table ids (its own and its parent's), order and
    NativeId, which tell two exports of one record apart and nothing of the record itself."""
    table, dot, column = header.partition(".")
    return (
        bool(dot)
        and table != "sen2"
        and column.endswith(("tableid", "orderseqcolumn", "nativeid", "sourceid"))
    )


def _compared(headers: list[str]) -> list[str]:
    """The columns of a part's `headers` two rows must share to be one row given twice: all but
    COLLECT's bookkeeping. The same UPN under two person ids (one child exported twice) gives
    its request and plan twice with other table ids: compared on those too, both were
    quarantined as conflicting and the child was missing from the caseload, the requests and the
    plans issued. Rows differing in anything else still conflict."""
    return [h for h in headers if not _bookkeeping(h)]


def requests_part(
    con: duckdb.DuckDBPyConnection,
    columns: dict[str, set[str]],
    sen2: Sen2Return,
    table: str,
    child: _Child,
) -> Part:
    """A request decided to assess has an assessment row; one withdrawn before the decision has
    outcome W (requestoutcome); one whose outcome is dated otherwise was refused. An assessment led
    to a plan when a named plan hangs from it; one withdrawn has outcome W (assessmentoutcome); one
    decided to issue (Y) without a named plan yet is still open; one dated otherwise did not (a
    decision not to issue)."""
    has_assessments = "assessment" in sen2.tables and "requeststableid" in columns.get(
        "assessment", set()
    )
    has_plans = (
        has_assessments
        and "namedplan" in sen2.tables
        and "assessmenttableid" in columns.get("namedplan", set())
    )
    assessments = (
        "SELECT assessment.requeststableid, "
        f"min({_date(_col(columns, 'assessment', 'assessmentoutcomedate'))}) AS outcome_date, "
        f"max({_exception(_col(columns, 'assessment', 'week20'))}) AS week20_exception, "
        f"bool_or({_withdrawn(_col(columns, 'assessment', 'assessmentoutcome'))}) AS withdrawn, "
        f"bool_or({_to_issue(_col(columns, 'assessment', 'assessmentoutcome'))}) AS to_issue, "
        + (
            f"min({_date('namedplan.startdate')}) AS plan_start_date "
            if has_plans
            else "NULL AS plan_start_date "
        )
        + "FROM _part_sen2_assessment AS assessment "
        + (
            "LEFT JOIN _part_sen2_namedplan AS namedplan "
            "ON namedplan.assessmenttableid = assessment.assessmenttableid "
            if has_plans
            else ""
        )
        + "GROUP BY ALL"
        if has_assessments
        else "SELECT NULL AS requeststableid, NULL AS outcome_date, NULL AS week20_exception, "
        "NULL AS withdrawn, NULL AS to_issue, NULL AS plan_start_date WHERE false"
    )
    received = _date(_col(columns, "requests", "receiveddate"))
    decided = _date(_col(columns, "requests", "requestoutcomedate"))
    census = sen2.census_date()
    census_date = quote_literal(census.isoformat()) if census else "NULL"
    con.execute(
        f"""
        CREATE TEMP TABLE {table} AS
        SELECT
            requests._source_row,
            {child.hashed} || '|' || coalesce(trim({received}), requests.requeststableid)
                AS request_id,
            {child.text} AS child_id,
            {received} AS request_date,
            CASE WHEN a.requeststableid IS NOT NULL THEN 'Y'
                 WHEN {_withdrawn(_col(columns, "requests", "requestoutcome"))} THEN 'W'
                 WHEN nullif(trim({decided}), '') IS NOT NULL THEN 'N' END
                AS decided_to_assess,
            {decided} AS decision_date,
            a.outcome_date AS assessment_outcome_date,
            CASE WHEN a.plan_start_date IS NOT NULL THEN 'Y'
                 WHEN a.withdrawn THEN 'W'
                 -- a decision to issue whose final plan is not out yet: open, not refused
                 WHEN a.to_issue THEN NULL
                 WHEN nullif(trim(a.outcome_date), '') IS NOT NULL THEN 'N' END
                AS plan_issued,
            a.plan_start_date,
            a.week20_exception,
            {census_date} AS census_date,
            {_kept_columns(columns, ("requests",), sen2)}
        FROM _part_sen2_requests AS requests
        LEFT JOIN ({assessments}) AS a ON a.requeststableid = requests.requeststableid
        LEFT JOIN _part_sen2_person AS person ON person.persontableid = requests.persontableid
        {child.join}
        """
    )
    headers = _part_headers(con, table)
    return Part(table, sen2.file_of("requests"), headers, compared_headers=_compared(headers))


def _part_headers(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [
        row[0] for row in con.execute(f"DESCRIBE {table}").fetchall() if row[0] != "_source_row"
    ]


def read_sen2_part(
    con: duckdb.DuckDBPyConnection,
    sen2: Sen2Return,
    extract_name: str,
    pseudonym_key: str,
    work_dir: Path,
    child_id: ChildIdRule | None = None,
    beside_others: bool = False,
) -> Part:
    """The ehcp, placements or requests rows of one return, as a part; FileRejected when tables are
    missing, or when it has no census day (`beside_others`: other returns sit beside it, which it
    could not be ordered against). `child_id` says which person field is the council's child id
    (the UPN by default)."""
    missing = [t for t in REQUIRED_TABLES[extract_name] if t not in sen2.tables]
    if missing:
        raise FileRejected(
            f"{sen2.name}: SEN2 return lacks the {', '.join(missing)} table(s) needed for "
            f"{extract_name}; found: {', '.join(sorted(sen2.tables)) or '(none)'}"
        )
    if sen2.census_date() is None:
        # its census day orders it against the other returns (without it a newer return was
        # outranked by an older one: its corrections lost, ceased plans counted) and says which
        # calendar year its requests report in full (without it every year it reached back to
        # was published as a year's requests: 1 request in 2019 beside the DfE's 202)
        raise FileRejected(
            f"{sen2.name}: SEN2 return has no readable census day: its header module "
            "(Blade-Export_…_sen2.csv, column referencedate) is "
            + ("missing" if "sen2" not in sen2.tables else "without a date COLLECT writes")
            + (", and other returns sit beside it" if beside_others else "")
            + "; export it again with its header"
        )
    columns = _read_tables(con, sen2, work_dir)
    for table, needed in (
        ("person", "persontableid"),
        ("requests", "requeststableid"),
        ("requests", "persontableid"),
    ):
        if needed not in columns.get(table, set()):
            raise FileRejected(f"{sen2.file_of(table)}: missing column {needed}")
    child = _child(con, columns, sen2, child_id or ChildIdRule(), pseudonym_key, work_dir)
    builder = {"ehcp": ehcp_part, "placements": placements_part, "requests": requests_part}[
        extract_name
    ]
    return builder(con, columns, sen2, f"_part_sen2_rows_{extract_name}", child)
