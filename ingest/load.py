"""Load one extract's landing files into the warehouse: typed rows in raw, the rest in quarantine.

For each file in `<landing>/<extract>/` (every `*.csv` and `*.xlsx`; see `ingest.readers`):

1. The file is identified by the SHA-256 of its bytes. A file already loaded is not read again.
2. Headers are matched to the contract case- and punctuation-insensitively, directly or through
   the reviewed alias file (`ingest/config/header_aliases.yml`). A file missing a required
   column, or unreadable, is rejected whole with a message naming the file and the problem.
   Extra columns are kept in raw, except headers that look like personal data (names,
   addresses, phone numbers, NHS numbers …), which are dropped like the contract's own.
3. Every row is parsed to types once (personal data dropped, person ids replaced by a keyed
   hash stored as a BIGINT, computed once per distinct id) and carries `_source_file`,
   `_source_row` (the row number as a spreadsheet shows it: header = row 1), `_file_hash` and
   `_load_id`.
4. Each row is then written once, to exactly one of: `raw.<extract>` (an accepted row, typed,
   with the file's extra columns in `_extra_columns`), which dbt staging reads;
   `raw.<extract>_duplicates` (an exact duplicate of an earlier row of the same file: its place,
   the row it repeats and its money; counted, not loaded again); or `quarantine.<extract>` (a row
   that breaks a rule, as text, with every problem it has). A workbook is one file: a key on two
   of its sheets is a duplicate (the same row: the later sheet's is counted, its
   `_duplicate_of_row` the earlier sheet's row) or a conflict (different rows: all quarantined),
   as within one sheet, never one sheet's row silently superseding another's. The landing file,
   identified by its SHA-256, is the verbatim record of what was read.
5. `raw.<extract>_files` records each file: hash, name, counts and money per outcome, whether
   it is still in the landing folder (the landing folder is the input: a file taken out is
   retired from staging, though its rows stay in raw for audit), and the council it belongs to
   (`la_code`, which staging carries onto every row).

Many councils (DESIGN.md): a landing folder of councils' folders, each named by the council's
3-digit old LA code and laid out as a landing folder of its own (`landing/869/ehcp/…`), loads
every council's files, each recorded with its code; a top-level `reference/` GIAS extract is
shared by every council. A file's identity there is the hash of the council's code and the
file's bytes, so the same file in two councils' folders is two councils' rows. A landing folder
without that level is one council, whose code is HIGHNEEDS_LA_CODE (else its latest SEN2
return's header, else the code the warehouse's files already have, else `000`).

All of a file's writes happen in one transaction, so a file is never half-loaded. A full disk
stops the load with `ingest.diskspace.DiskFull`, whose message names the folder that is full.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache, partial
from pathlib import Path

import duckdb

from .contracts import DEFAULT_DATE_FLOOR, EXTRACTS, Column, Extract
from .diskspace import DiskFull, database_folder, full_disk_errno, reported_when_full
from .hashing import HashCache
from .landing_read import changed_since_hashed
from .parsing import (
    PSEUDONYM_TYPE,
    amount_size_sql,
    amount_sql,
    blank_to_null,
    date_sql,
    quote_ident,
    quote_literal,
    sql_type,
    typed_sql,
)
from .pseudonymise import HASH_HEX_CHARS, compact_id_sql, keyed_hash_sql
from .readers import (
    COUNCIL_FOLDER,
    CSV_SUFFIXES,
    WORKBOOK_SUFFIXES,
    FileRejected,
    Part,
    in_1900_serials,
    known_headers,
    load_aliases,
    match_headers,
    names_a_column,
    normalise_header,
    read_parts,
    unreadable,
)
from .sen2 import REQUIRED_TABLES as SEN2_REQUIRED_TABLES
from .sen2 import Sen2Return, find_returns, read_sen2_part, same_census
from .sen2_child_ids import ChildIdRule

MAX_AGE_AT_PLAN_START = 25
# Dates that may lie before the date floor: a date of birth has its own age rules.
DATES_WITHOUT_FLOOR = ("date_of_birth",)
# Dates that may be set ahead: a placement's planned end, a plan's notice to cease. The row is
# loaded as it stands on the extract date, the spell or plan still open (with the columns that
# go with the date, the cease reason), and the file is read again once the date has come. As a
# date after the extract date, quarantining the row took the child's placement or plan out of
# every census before it.
PLANNED_DATES: dict[str, tuple[str, ...]] = {
    "end_date": (),
    "plan_cease_date": ("cease_reason",),
}
# Extra headers that look like personal data are never stored (the contract's own personal
# columns are listed in ingest.contracts).
PERSONAL_HEADER = re.compile(
    # (a SEN2 return's `namedplan` table is a plan, not a name; pupil or learner numbers, plural,
    # are a headcount)
    r"(name(?!dplan)|address|addr|street|postcode|postal|phone|mobile|email|pupilnumber(?!s)"
    r"|learnernumber(?!s)|uniquelearner|nhsno|nhsnumber|nationalinsurance|birth|death|knownas"
    r"|ethnic|religion|carer|parent|guardian)"
)
# short codes, personal only as a word of the header of their own (`UPN`, `Child DOB`, `Tel No`),
# not inside another (`Top-up Number` holds 'upn', `Hotel` 'tel')
PERSONAL_WORDS = frozenset({"upn", "uln", "dob", "nhs", "nino", "tel", "town"})
# a header that is only the person (`Child`, `Young Person`, `Service User`): a column of names
PERSONAL_NAMES = frozenset(
    {"child", "client", "pupil", "learner", "student", "youngperson", "serviceuser", "person"}
)


@cache
def _personal_header_names() -> frozenset[str]:
    """The contract's personal and person-id columns, and every alias the alias file gives them,
    normalised: such a header is personal on any extract (`Unique Pupil Number` on a ledger)."""
    aliases = load_aliases()
    personal = {
        c.name for e in EXTRACTS.values() for c in e.columns if c.personal or c.pseudonymise
    }
    return frozenset(
        {normalise_header(name) for name in personal}
        | {
            alias
            for by_alias in aliases.values()
            for alias, column in by_alias.items()
            if column in personal
        }
    )


def is_personal_header(header: str) -> bool:
    """Whether an extra header (one the file's extract does not read) looks like personal data:
    ingest never stores it, and a trace withholds it."""
    name = normalise_header(header)
    # words: split at anything not a letter or digit, and between a lower-case letter and a
    # capital (`ChildUPN`)
    words = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(header))
    words = set(re.split(r"[^a-z0-9]+", words.lower()))
    return (
        bool(PERSONAL_HEADER.search(name))
        or bool(words & PERSONAL_WORDS)
        # `D.O.B.`, `U.P.N.`: a short code spelt with stops
        or name in PERSONAL_WORDS
        or name in PERSONAL_NAMES
        or name in _personal_header_names()
    )


@dataclass
class FileOutcome:
    extract: str
    file_name: str
    file_hash: str
    status: str  # loaded | unchanged | rejected
    message: str = ""
    rows_read: int = 0
    rows_valid: int = 0
    rows_duplicate: int = 0
    rows_quarantined: int = 0
    # money in the rows whose amount parses: net (signed, what reconciles) and gross (|amount|,
    # what the quarantine tolerance compares: a credit does not hide a debit)
    money_read_gbp: Decimal | None = None
    money_quarantined_gbp: Decimal | None = None
    gross_money_read_gbp: Decimal | None = None
    gross_money_quarantined_gbp: Decimal | None = None
    # the earliest planned date after the extract date (PLANNED_DATES): read the file again then
    planned_date_due: dt.date | None = None


@dataclass
class Source:
    """Something in the landing folder that yields rows for an extract: a file, or a SEN2 return."""

    display: str
    content_hash: str
    size: int
    read: Callable[[Path], list[Part]]
    named_by_part: bool = (
        False  # a SEN2 return's records are named by the Blade file the rows come from
    )
    census_date: dt.date | None = None  # a SEN2 return's census day


@dataclass
class ExtractLoad:
    extract: str
    load_id: str
    files: list[FileOutcome] = field(default_factory=list)

    @property
    def rejected(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status == "rejected"]

    def total(self, attribute: str) -> int:
        return sum(getattr(f, attribute) for f in self.files)


def landing_files(landing_dir: Path, extract: Extract) -> list[Path]:
    """CSV and XLSX files of the extract's folder (sub-folders too), in the order they load
    (load_order); hidden files and Excel's `~$` lock files are not data."""
    return load_order(_extract_files(landing_dir, extract, CSV_SUFFIXES + WORKBOOK_SUFFIXES))


# a day in a file's name: 2025-01-15 (or 2025_01_15, 2025.01.15), the UK's 15-01-2025, or
# 20250115 where GIAS names its downloads so (edubasealldata20250115.csv: without it an older
# extract loaded after a newer one typed the council's schools by their old types). Eight digits
# elsewhere are not read as a day: a batch id (placements_batch_20260412.csv) had a list taken in
# November reach April, and January's census counted from it, green
_NAMED_DAY = (
    re.compile(r"(?<!\d)(?P<y>\d{4})[-_.](?P<m>\d{2})[-_.](?P<d>\d{2})(?!\d)"),
    re.compile(r"(?<!\d)(?P<d>\d{2})[-_.](?P<m>\d{2})[-_.](?P<y>\d{4})(?!\d)"),
    re.compile(r"edubasealldata(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})(?!\d)", re.IGNORECASE),
)


def _named_day(path: Path) -> dt.date | None:
    """The day a file's name gives (the day the list was taken); of a range
    (`ehcp_2017-04-01_to_2026-01-20.csv`) the last: its first day had the list reaching April
    2017, and no census since was counted."""
    days = []
    for pattern in _NAMED_DAY:
        for found in pattern.finditer(path.stem):
            try:
                days.append(dt.date(int(found["y"]), int(found["m"]), int(found["d"])))
            except ValueError:
                continue
    return max(days, default=None)


def load_order(paths: list[Path]) -> list[Path]:
    """The order an extract's files load in, which decides a key given by two files new in one
    refresh (the later file's version wins): by the day in their names when every file's name
    has one (`plans_15-01-2025.csv` after `plans_31-12-2024.csv`, which name order reverses:
    a re-sent plan list lost to the one it corrects, its cease dates gone), else by name."""
    days = [_named_day(p) for p in paths]
    if paths and all(day is not None for day in days):
        return [p for _, p in sorted(zip(days, paths, strict=True))]
    return sorted(paths)


# tables saved in a form the readers do not read (a finance system's tab-separated .txt, an old
# .xls): rejected by name, not skipped, since their rows would be missing without a word (a
# ledger's years saved as .txt, .tsv and .xls had three years of spend gone, green). Other
# files (notes, PDFs) are not tables and stay unread; so does a text file that holds no table
# (a README.txt of a line or two of prose).
UNREAD_TABLE_SUFFIXES = (".tsv", ".tab", ".psv", ".xls", ".xlsb", ".ods")
TEXT_SUFFIXES = (".txt", ".dat", ".prn")


def unread_table_files(landing_dir: Path, extract: Extract) -> list[Path]:
    """Files of the extract's folder that hold a table in a form the readers do not read."""
    return sorted(
        _extract_files(landing_dir, extract, UNREAD_TABLE_SUFFIXES)
        + [
            p
            for p in _extract_files(landing_dir, extract, TEXT_SUFFIXES)
            if _holds_a_table(p, extract)
        ]
    )


def _holds_a_table(path: Path, extract: Extract) -> bool:
    """Whether a text file reads as the extract's table: one of its first lines names two or
    more of its required columns (a README's prose, commas and all, does not)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(65_536).decode("latin-1")
    except OSError:
        return True  # (rejected as unreadable, by name)
    required = {normalise_header(c) for c in extract.required}
    for line in [line for line in head.splitlines() if line.strip()][:10]:
        for sep in "\t;|,":
            if len(required & {normalise_header(f) for f in line.split(sep)}) >= 2:
                return True
    return False


def not_data(path: Path) -> bool:
    """Hidden files (LibreOffice's `.~lock.…#`) and Excel's `~$` owner files, which a program
    writes beside a file it has open, are not data."""
    return path.name.startswith((".", "~$"))


def _extract_files(landing_dir: Path, extract: Extract, suffixes: tuple[str, ...]) -> list[Path]:
    from fnmatch import fnmatch

    folder = landing_dir / extract.landing_folder
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in suffixes
        and not not_data(p)
        and any(fnmatch(p.name.lower(), pattern) for pattern in extract.file_patterns)
    )


class EmptyLanding(FileNotFoundError):
    """The landing folder holds no extract at all:
    a wrong HIGHNEEDS_LANDING, or nothing dropped yet."""


# The la_code of a single council's files when nothing gives it (landing_councils)
UNKNOWN_LA_CODE = "000"
# the extract whose top-level folder every council of a many-council landing folder shares
SHARED_EXTRACT = "gias"


@dataclass(frozen=True)
class Council:
    """One council's part of the landing folder: its old LA code and its folder."""

    la_code: str
    folder: Path


def _has_extract_files(folder: Path, shared_too: bool = True) -> bool:
    extracts = [e for e in EXTRACTS.values() if shared_too or e.name != SHARED_EXTRACT]
    return bool(find_returns(folder)) or any(landing_files(folder, e) for e in extracts)


def council_folders(landing_dir: Path) -> list[Council]:
    """The councils' folders of a many-council landing folder (named by 3-digit old LA code,
    holding extract files), in code order; empty for a single council's landing folder."""
    return [
        Council(folder.name, folder)
        for folder in sorted(landing_dir.iterdir() if landing_dir.is_dir() else [])
        if folder.is_dir() and COUNCIL_FOLDER.fullmatch(folder.name) and _has_extract_files(folder)
    ]


def landing_councils(
    landing_dir: Path,
    la_code: str | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> list[Council]:
    """Every council the landing folder holds: its councils' folders, or the folder itself as one
    council coded `la_code` (HIGHNEEDS_LA_CODE), else by its latest SEN2 return, else as the
    warehouse `con` already codes its files (a code, once given, stays when the setting is
    later left out), else `000`."""
    from .sen2 import council_code

    return council_folders(landing_dir) or [
        Council(
            la_code
            or council_code(landing_dir)
            or (_known_code(con) if con is not None else None)
            or UNKNOWN_LA_CODE,
            landing_dir,
        )
    ]


def holds_many(councils: list[Council], landing_dir: Path) -> bool:
    """Whether `councils` (landing_councils) are councils' folders rather than the landing folder
    itself as one council."""
    return any(council.folder != landing_dir for council in councils)


class CouncilUnknown(ValueError):
    """A landing folder of one council's files, with no code for it, into a warehouse that holds
    several councils: whose files are they?"""


def _known_code(con: duckdb.DuckDBPyConnection) -> str | None:
    """The council code the warehouse's files carry, if one is set; refused (CouncilUnknown) when
    they carry several: one council's files would take another's code at random."""
    tables = [
        row[0]
        for row in con.execute(
            "SELECT table_name FROM information_schema.columns WHERE table_schema = 'raw' "
            "AND table_name LIKE '%\\_files' ESCAPE '\\' AND column_name = 'la_code'"
        ).fetchall()
    ]
    if not tables:
        return None
    union = " UNION ALL ".join(f"SELECT la_code FROM raw.{t}" for t in tables)
    codes = [
        row[0]
        for row in con.execute(
            f"SELECT DISTINCT la_code FROM ({union}) WHERE la_code IS NOT NULL AND la_code <> ? "
            "ORDER BY la_code",
            [UNKNOWN_LA_CODE],
        ).fetchall()
    ]
    if len(codes) > 1:
        raise CouncilUnknown(
            f"The landing folder holds one council's files, with no code for them, and the "
            f"warehouse holds councils {', '.join(codes)}: set HIGHNEEDS_LA_CODE to the council "
            "whose files they are, or lay the folder out as councils' folders "
            "(landing/<old LA code>/<extract>/…)"
        )
    return codes[0] if codes else None


# which header rules the warehouse's stored rows were last cleared by (forget_personal)
PERSONAL_RULES_TABLE = "meta.personal_rules"
# what a rejected file's record says in place of a message that quoted a first line of data
WITHHELD_MESSAGE = (
    "rejected by an earlier version, whose message quoted the file's first line: its first line "
    "named none of the extract's columns (it may be a row of data), so the message is withheld; "
    "a refresh with the file in the landing folder says again why it is rejected"
)


def _personal_rules() -> str:
    """A fingerprint of what is_personal_header drops, to tell when it has changed."""
    rules = [
        PERSONAL_HEADER.pattern,
        *sorted(PERSONAL_WORDS),
        *sorted(PERSONAL_NAMES),
        *sorted(_personal_header_names()),
        "first line quoted",  # rejected files' first lines of data (names_a_column)
    ]
    return hashlib.sha256("\n".join(rules).encode()).hexdigest()


def forget_personal(con: duckdb.DuckDBPyConnection, extract: Extract) -> None:
    """Clear from the extract's stored rows what today's rules would not have stored, once each
    time the rules change: extra columns is_personal_header now drops (a warehouse loaded before
    `Known As` and `Town` were dropped kept them in raw and quarantine), and a rejected file's
    first line of data kept as its columns found, with the message that quoted it. An upgrade
    kept them until the warehouse was rebuilt, unsaid."""
    con.execute("CREATE SCHEMA IF NOT EXISTS meta")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {PERSONAL_RULES_TABLE} (extract VARCHAR, fingerprint VARCHAR)"
    )
    rules = _personal_rules()
    done = con.execute(
        f"SELECT fingerprint FROM {PERSONAL_RULES_TABLE} WHERE extract = ?", [extract.name]
    ).fetchone()
    if done and done[0] == rules:
        return
    for table in (f"raw.{extract.name}", f"quarantine.{extract.name}"):
        keys = [
            key
            for (key,) in con.execute(
                f"SELECT DISTINCT unnest(map_keys(_extra_columns)) FROM {table} "
                "WHERE _extra_columns IS NOT NULL"
            ).fetchall()
            if key is not None and is_personal_header(key)
        ]
        if keys:
            con.execute(
                f"UPDATE {table} SET _extra_columns = map_from_entries(list_filter("
                "map_entries(_extra_columns), lambda e: NOT list_contains(?, e.key))) "
                "WHERE list_has_any(map_keys(_extra_columns), ?)",
                [keys, keys],
            )
    known = known_headers(extract, load_aliases().get(extract.name, {}))
    quoted = [
        (file_hash, file_name)
        for file_hash, file_name, found in con.execute(
            f"SELECT file_hash, file_name, columns_found FROM raw.{extract.name}_files "
            "WHERE status = 'rejected' AND len(columns_found) > 0"
        ).fetchall()
        if not names_a_column(found, known)
    ]
    for file_hash, file_name in quoted:
        con.execute(
            f"UPDATE raw.{extract.name}_files SET columns_found = [], message = ? "
            "WHERE file_hash = ?",
            [f"{file_name}: {WITHHELD_MESSAGE}", file_hash],
        )
    con.execute(f"DELETE FROM {PERSONAL_RULES_TABLE} WHERE extract = ?", [extract.name])
    con.execute(f"INSERT INTO {PERSONAL_RULES_TABLE} VALUES (?, ?)", [extract.name, rules])


class CouncilCodeChanged(ValueError):
    """HIGHNEEDS_LA_CODE names another council than the one council whose files the warehouse
    holds: every table, the report's title and its benchmarks would take the new code."""


def check_council_code(con: duckdb.DuckDBPyConnection, la_code: str) -> None:
    """Stop before anything is loaded when one council's landing folder is given a code
    (HIGHNEEDS_LA_CODE) other than the one its warehouse's files carry: a typo (868 for 869)
    relabelled every table and titled the report with another council, on a green run, its
    summary saying only that 869 had no files now. A code given where there was none (`000`) is
    taken, as before; a warehouse of several councils is left to landing_councils."""
    try:
        known = _known_code(con)
    except CouncilUnknown:
        return
    if known is not None and la_code not in (known, UNKNOWN_LA_CODE):
        raise CouncilCodeChanged(
            f"HIGHNEEDS_LA_CODE={la_code}, but this warehouse holds its landing folder's files as "
            f"council {known}'s: every table, the report's title and its benchmarks would become "
            f"council {la_code}'s. If {known} is the council, set HIGHNEEDS_LA_CODE={known} (or "
            f"leave it unset); if {la_code} is, move the warehouse and serving file aside "
            "(HIGHNEEDS_WAREHOUSE, HIGHNEEDS_SERVING) and refresh: the landing folder rebuilds "
            "them"
        )


def _misnamed_council_folders(landing_dir: Path) -> list[Path]:
    """Folders of the landing folder laid out as a council's (extract files inside) whose name is
    not a 3-digit old LA code (`E06000037`, `0869`, `869 `), nor an extract's own folder."""
    from .contracts import EXTRACTS

    extract_folders = {e.landing_folder for e in EXTRACTS.values()} | {"sen2"}
    return [
        folder
        for folder in sorted(landing_dir.iterdir() if landing_dir.is_dir() else [])
        if folder.is_dir()
        and not COUNCIL_FOLDER.fullmatch(folder.name)
        and folder.name not in extract_folders
        and _has_extract_files(folder)
    ]


def require_landing_files(landing_dir: Path) -> None:
    """Stop with a plain message when no extract file (nor SEN2 return) is in the landing folder,
    rather than let the models fail on empty tables; when it mixes councils' folders with a
    council's own extract folders (whose council would those files be?); or when a folder laid
    out as a council's is not named by its code (its files would be read by nobody, silently)."""
    from .contracts import EXTRACTS

    councils = council_folders(landing_dir)
    misnamed = _misnamed_council_folders(landing_dir)
    if misnamed and (councils or not _has_extract_files(landing_dir)):
        raise EmptyLanding(
            f"The landing folder {landing_dir} (HIGHNEEDS_LANDING) holds "
            f"{', '.join(repr(f.name + '/') for f in misnamed)} with extract files, but a "
            "council's folder is named by its 3-digit old LA code (e.g. 869/, as the DfE's "
            "statistics number councils; not an ONS code, nor with a leading zero or a space): "
            "rename it to its council's code, or move it out of the landing folder. Its files "
            "would not be read."
        )
    if councils:
        # a shared GIAS extract at the top level is allowed: every council reads it
        if _has_extract_files(landing_dir, shared_too=False):
            folders = (
                ", ".join(
                    f"{e.landing_folder}/"
                    for e in EXTRACTS.values()
                    if e.name != SHARED_EXTRACT and landing_files(landing_dir, e)
                )
                or "sen2/"
            )
            raise EmptyLanding(
                f"The landing folder {landing_dir} (HIGHNEEDS_LANDING) holds councils' folders "
                f"({', '.join(f'{c.la_code}/' for c in councils)}) and also extract files of its "
                f"own ({folders}): move those into their council's folder (e.g. "
                f"{councils[0].folder / 'ehcp'}); only a GIAS extract in reference/ is shared."
            )
        return
    if _has_extract_files(landing_dir):
        return
    folders = ", ".join(f"{e.landing_folder}/" for e in EXTRACTS.values())
    raise EmptyLanding(
        f"The landing folder {landing_dir} (HIGHNEEDS_LANDING) holds no extract files: "
        f"put each extract's CSV or XLSX files in its sub-folder ({folders}; a SEN2 return in "
        "sen2/), or point HIGHNEEDS_LANDING at the folder that holds them."
    )


# --- warehouse tables -------------------------------------------------------------------------

FILES_COLUMNS = [
    "file_hash VARCHAR PRIMARY KEY",  # the part's identity (a CSV's content hash; see part_hash)
    "content_hash VARCHAR",  # SHA-256 of the file's bytes
    "extract VARCHAR",
    "file_name VARCHAR",  # relative to the landing folder; "file.xlsx#Sheet" for a sheet
    "file_bytes BIGINT",
    "file_seq INTEGER",  # load order (the ledger's increment reads the files after a sequence)
    "status VARCHAR",  # loaded | rejected
    "message VARCHAR",
    "columns_found VARCHAR[]",
    "load_id VARCHAR",
    "loaded_at TIMESTAMP",
    "rows_read BIGINT",
    "rows_valid BIGINT",
    "rows_duplicate BIGINT",
    "rows_quarantined BIGINT",
    "money_read_gbp DECIMAL(18,2)",  # the money column's total, where the extract has one
    "money_quarantined_gbp DECIMAL(18,2)",
    # sum of absolute amounts; an amount that could not be read counts at its digits' value
    "gross_money_read_gbp DECIMAL(18,2)",
    "gross_money_quarantined_gbp DECIMAL(18,2)",
    "in_landing BOOLEAN",
    "last_seen_load_id VARCHAR",
    "la_code VARCHAR",  # the council the file belongs to (its folder's code, or the one council's)
    # a SEN2 return's census day: where two returns hold the same key, the later census wins,
    # whatever order they were loaded in (a backfilled older return does not undo a newer one)
    "census_date DATE",
    # the earliest date set ahead of the extract date in the file's rows (a planned end): the
    # rows are loaded open, and the file is read again once that date has come
    "planned_date_due DATE",
    # which file wins where two hold the same key (after a SEN2 return's census day): the load
    # sequence of the file's first read. A file read again when a date in it has come keeps its
    # place: read in July, a March file must not outrank the June file that extended its
    # placement. Null for a file recorded before this column: its file_seq.
    "precedence_seq INTEGER",
    # the day the file's name gives (`plans_15-01-2025.csv`), as it is named now: where every plans,
    # placements, requests or GIAS file of a council names one, the later day wins whatever order
    # they came in (current_rows' by_named_day), so a rebuild from the folder gives the nights'
    # figures
    "named_day DATE",
    # the day the file ranks by among its council's files in the landing folder (current_rows'
    # by_named_day, and the quarantine gate's replacements, read this one column): its named day,
    # else the latest named day of the loaded files before it (a corrections file beats what
    # was there when it came, and a list dated after it beats it); null for a file not loaded
    # or no longer in the landing folder
    "ranking_day DATE",
]


def ensure_tables(con: duckdb.DuckDBPyConnection, extract: Extract) -> None:
    """Create (or extend, when the contract gained a column) the extract's tables."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute("CREATE SCHEMA IF NOT EXISTS quarantine")
    text_columns = [f"{quote_ident(c.name)} VARCHAR" for c in extract.stored_columns]
    provenance = [
        "_file_hash VARCHAR NOT NULL",
        "_source_file VARCHAR NOT NULL",
        "_source_row BIGINT NOT NULL",
        "_load_id VARCHAR NOT NULL",
    ]
    money = extract.money_column
    tables = {
        f"raw.{extract.name}_files": FILES_COLUMNS,
        # every accepted row, typed, written once
        f"raw.{extract.name}": [
            f"{quote_ident(c.name)} {sql_type(c)}" for c in extract.stored_columns
        ]
        + ["_extra_columns MAP(VARCHAR, VARCHAR)"]
        + provenance,
        # an exact duplicate is the row it repeats: where it was, which row, and its money
        f"raw.{extract.name}_duplicates": provenance
        + ["_duplicate_of_row BIGINT NOT NULL"]
        + ([f"{quote_ident(money)} DECIMAL(18,2)"] if money else []),
        f"quarantine.{extract.name}": text_columns
        + ["_extra_columns MAP(VARCHAR, VARCHAR)"]
        + provenance
        + [
            "reason_codes VARCHAR[]",
            "reason_columns VARCHAR[]",
            "reason_values VARCHAR[]",
            "reason VARCHAR",
        ],
        # a lenient column's value that could not be read, from a row loaded without it
        f"quarantine.{extract.name}_values": provenance
        + [
            "record_key VARCHAR",
            "column_name VARCHAR",
            "reason_code VARCHAR",
            "value VARCHAR",
        ],
    }
    _upgrade_text_raw(con, extract)
    _upgrade_hex_ids(con, extract)
    for table, columns in tables.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(columns)})")
        schema, name = table.split(".")
        existing = {
            row[0]
            for row in con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = ?",
                [schema, name],
            ).fetchall()
        }
        for definition in columns:
            column_name = definition.split(" ")[0].strip('"')
            if column_name not in existing:
                # added columns take no constraint: rows loaded before have no value for them
                con.execute(
                    f"ALTER TABLE {table} ADD COLUMN {column_name} {definition.split(' ')[1]}"
                )
    _refresh_landing_files_view(con)


def _upgrade_text_raw(con: duckdb.DuckDBPyConnection, extract: Extract) -> None:
    """A warehouse from before raw was written once held each row twice: as text in
    `raw.<extract>` (duplicates marked) and typed in `raw.<extract>_valid`. Move it to this layout
    in place — typed rows with their extra columns, duplicates on their own — losing nothing."""
    e = extract.name
    tables = {
        row[0]
        for row in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'"
        ).fetchall()
    }
    if f"{e}_valid" not in tables:
        return
    money = extract.money_column
    money_select = f", {amount_sql(quote_ident(money))} AS {quote_ident(money)}" if money else ""
    con.execute("BEGIN TRANSACTION")
    try:
        if money:
            # the money each file held, where the files table is older than its money columns:
            # the accounting gate compares the outcomes with it, and the text is going
            con.execute(
                f"UPDATE raw.{e}_files SET money_read_gbp = read.money FROM (SELECT _file_hash, "
                f"coalesce(sum({amount_sql(quote_ident(money))}), 0) AS money FROM raw.{e} "
                f"GROUP BY _file_hash) AS read "
                f"WHERE read._file_hash = raw.{e}_files.file_hash AND money_read_gbp IS NULL"
            )
        con.execute(
            f"CREATE TABLE raw.{e}_duplicates AS SELECT _file_hash, _source_file, _source_row, "
            f"_load_id, _duplicate_of_row{money_select} "
            f"FROM raw.{e} WHERE _duplicate_of_row IS NOT NULL"
        )
        con.execute(
            f"CREATE TABLE raw.{e}_typed AS SELECT v.* EXCLUDE (_file_hash, _source_file, "
            "_source_row, _load_id), t._extra_columns, v._file_hash, v._source_file, "
            f"v._source_row, v._load_id FROM raw.{e}_valid v LEFT JOIN raw.{e} t "
            "ON t._file_hash = v._file_hash AND t._source_row = v._source_row"
        )
        con.execute(f"DROP TABLE raw.{e}")
        con.execute(f"DROP TABLE raw.{e}_valid")
        con.execute(f"ALTER TABLE raw.{e}_typed RENAME TO {e}")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def _upgrade_hex_ids(con: duckdb.DuckDBPyConnection, extract: Extract) -> None:
    """A warehouse from before person ids were numbers holds each as 24 hex characters (the keyed
    hash's text form). Convert them in place to the number the same hash gives now
    (ingest.pseudonymise.compact_id_sql), so the rows already loaded join those loaded from now
    on: a BIGINT in raw, its digits in quarantine (which keeps text). Once, in one transaction."""
    e = extract.name
    types = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'raw' AND table_name = ?",
            [e],
        ).fetchall()
    )
    stale = [
        c.name for c in extract.stored_columns if c.pseudonymise and types.get(c.name) == "VARCHAR"
    ]
    if not stale:
        return
    quarantined = {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'quarantine' AND table_name = ?",
            [e],
        ).fetchall()
    }
    con.execute("BEGIN TRANSACTION")
    try:
        for name in stale:
            column = quote_ident(name)
            con.execute(
                f"ALTER TABLE raw.{e} ALTER COLUMN {column} SET DATA TYPE {PSEUDONYM_TYPE} "
                f"USING {compact_id_sql(column)}"
            )
            if name in quarantined:
                con.execute(
                    f"UPDATE quarantine.{e} SET {column} = {compact_id_sql(column)}::VARCHAR "
                    f"WHERE regexp_full_match({column}, '[0-9a-f]{{{HASH_HEX_CHARS}}}')"
                )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def _refresh_landing_files_view(con: duckdb.DuckDBPyConnection) -> None:
    """`raw.landing_files`: every extract's file records in one view, for people and reports."""
    tables = [
        row[0]
        for row in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw' "
            "AND table_name LIKE '%\\_files' ESCAPE '\\' AND table_type = 'BASE TABLE' "
            "ORDER BY table_name"
        ).fetchall()
    ]
    union = " UNION ALL BY NAME ".join(f"SELECT * FROM raw.{quote_ident(t)}" for t in tables)
    con.execute(f"CREATE OR REPLACE VIEW raw.landing_files AS {union}")


# --- validation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """A row rule: when `condition` holds,
    the row has problem `code` in `column` (quoting `value`)."""

    code: str
    column: str
    condition: str
    value: str = "NULL"
    # the value is set aside, the row kept (Column.lenient)
    lenient: bool = False

    def struct(self) -> str:
        return (
            f"CASE WHEN {self.condition} THEN {{'code': {quote_literal(self.code)}, "
            f"'column': {quote_literal(self.column)}, 'value': ({self.value})::VARCHAR}} END"
        )


def conflict_rule(extract: Extract) -> Rule:
    """Two different rows of one file with the same key: which is right cannot be known."""
    return Rule(
        "conflicting_duplicate",
        "/".join(extract.key),
        " AND ".join(f"{typed_name(k)} IS NOT NULL" for k in extract.key)
        + " AND coalesce(_rows_with_key, 1) > 1",
        " || '/' || ".join(quote_ident(k) for k in extract.key),
    )


def typed_name(column: str) -> str:
    """The working column that holds `column` parsed to its type (parsed once, used everywhere)."""
    return quote_ident(f"__typed__{column}")


def value_problem(column: Column) -> str:
    """The problem a column's value that cannot be read has."""
    return {
        "date": "bad_date",
        "amount": "bad_amount",
        "code": "unknown_code",
        "financial_year": "bad_financial_year",
    }.get(column.kind, "bad_format")


def row_rules(extract: Extract, extract_date: dt.date, date_floor: dt.date) -> list[Rule]:
    """The row rules of an extract; each names the problem (code, column, value) when it holds.

    They run over the text columns (personal data already dropped, ids hashed) and their parsed
    values (`typed_name`), one row at a time, all vectorised.
    """
    problems: list[str] = []
    for column in extract.stored_columns:
        text = quote_ident(column.name)
        # a pseudonymised id is already its keyed hash, NULL when the file's cell was blank
        present = f"{text if column.pseudonymise else blank_to_null(text)} IS NOT NULL"
        if column.required:
            problems.append(Rule("missing_required_value", column.name, f"NOT ({present})"))
        if column.kind in ("id", "text") and not column.pattern:
            continue
        code = value_problem(column)
        typed = typed_name(column.name)
        problems.append(
            Rule(code, column.name, f"{present} AND {typed} IS NULL", text, column.lenient)
        )
        if column.kind == "date" and column.name not in PLANNED_DATES:
            problems.append(
                Rule(
                    "date_after_extract",
                    column.name,
                    f"{typed} > DATE {quote_literal(extract_date.isoformat())}",
                    text,
                )
            )
        if column.kind == "date" and column.name not in DATES_WITHOUT_FLOOR:
            floor = f"DATE {quote_literal(date_floor.isoformat())}"
            problems.append(Rule("date_before_floor", column.name, f"{typed} < {floor}", text))
    if extract.one_of:
        # none given at all: a value given but unreadable (an unknown setting code, a URN of five
        # digits) has its own reason, and the row does hold one of them
        none_present = " AND ".join(
            f"{blank_to_null(quote_ident(name))} IS NULL" for name in extract.one_of
        )
        problems.append(
            Rule("no_" + "_or_".join(extract.one_of), "/".join(extract.one_of), none_present)
        )
    for earlier, later in extract.ordered_dates:
        problems.append(
            Rule(
                f"{later}_before_{earlier}",
                later,
                f"{typed_name(later)} < {typed_name(earlier)}",
                f"{quote_ident(later)} || ' < ' || {quote_ident(earlier)}",
            )
        )
    if extract.name == "ehcp":
        dob, start = typed_name("date_of_birth"), typed_name("plan_start_date")
        problems.append(
            Rule(
                "over_25_at_plan_start",
                "date_of_birth",
                f"date_diff('year', {dob}, {start}) - CASE WHEN strftime({start}, '%m%d') < "
                f"strftime({dob}, '%m%d') THEN 1 ELSE 0 END > {MAX_AGE_AT_PLAN_START}",
                '"date_of_birth"',
            )
        )
    if extract.name == "requests":
        # a plan's start date says it was issued and when: one against plan_issued N, or a plan
        # issued without one (no year's plans issued could count it), cannot be counted
        issued, start = typed_name("plan_issued"), typed_name("plan_start_date")
        problems.append(
            Rule(
                "plan_start_date_with_plan_not_issued",
                "plan_start_date",
                f"{issued} IN ('N', 'W') AND {start} IS NOT NULL",
                '"plan_start_date"',
            )
        )
        problems.append(
            Rule(
                "plan_issued_without_plan_start_date",
                "plan_start_date",
                f"{issued} = 'Y' AND {start} IS NULL",
                '"plan_issued"',
            )
        )
        # no assessment (decided not to, or withdrawn before a decision) cannot end in a plan,
        # nor a refusal in a withdrawn assessment: the row would count twice (plan_issued N
        # beside either is how many exports say "no plan", and W beside a withdrawn request
        # its status copied: neither is a decision on a plan)
        decided = typed_name("decided_to_assess")
        problems.append(
            Rule(
                "assessment_outcome_without_decision_to_assess",
                "decided_to_assess",
                f"{decided} IN ('N', 'W') AND ({issued} = 'Y' OR {start} IS NOT NULL "
                f"OR ({decided} = 'N' AND {issued} = 'W'))",
                "\"decided_to_assess\" || ' with plan_issued ' || coalesce(\"plan_issued\", '') "
                "|| ' ' || coalesce(\"plan_start_date\", '')",
            )
        )
    if extract.name == "placements":
        problems.append(
            Rule(
                "negative_annual_cost",
                "annual_cost",
                f"{typed_name('annual_cost')} < 0",
                '"annual_cost"',
            )
        )
    return problems


# --- loading one file -------------------------------------------------------------------------


def _stage_part(
    con: duckdb.DuckDBPyConnection,
    extract: Extract,
    part: Part,
    mapping: dict[str, str],
    pseudonym_key: str,
    extract_date: dt.date,
    date_floor: dt.date,
    part_no: int | None = None,
) -> None:
    """Build temp table `_checked` from a part: text columns, their parsed values, the duplicate
    marker and whether the row broke any rule (`_ok`). `part_no`: the part's place among a
    workbook's sheets, whose keys across sheets `_cross_part` holds (see _cross_part_keys).

    Written for tens of millions of rows: ids are hashed once per distinct id (a join, not a hash
    per row); every value is parsed once; only rows whose key occurs more than once are compared
    column by column for duplicates; and the list of a row's problems is only built for the few
    rows that have any (see _write_part).
    """
    selected: list[str] = []
    joins: list[str] = []
    for column in extract.stored_columns:
        source = mapping.get(column.name)
        if source is None:
            empty = sql_type(column) if column.pseudonymise else "VARCHAR"
            selected.append(f"NULL::{empty} AS {quote_ident(column.name)}")
        elif column.pseudonymise:
            ids = f"_ids_{len(joins)}"
            con.execute(f"DROP TABLE IF EXISTS {ids}")
            con.execute(
                f"CREATE TEMP TABLE {ids} AS SELECT id, "
                f"{keyed_hash_sql('id', pseudonym_key)} AS hashed "
                f"FROM (SELECT DISTINCT {quote_ident(source)} AS id FROM {part.table}) "
                "WHERE id IS NOT NULL"
            )
            joins.append(f"LEFT JOIN {ids} ON {ids}.id = p.{quote_ident(source)}")
            selected.append(f"{ids}.hashed AS {quote_ident(column.name)}")
        else:
            selected.append(f"p.{quote_ident(source)} AS {quote_ident(column.name)}")
    extra = [h for h in part.headers if h not in mapping.values() and not is_personal_header(h)]
    if extra:
        keys = ", ".join(quote_literal(h) for h in extra)
        values = ", ".join(f"p.{quote_ident(h)}" for h in extra)
        selected.append(f"map([{keys}], [{values}]) AS _extra_columns")
    else:
        selected.append("NULL::MAP(VARCHAR, VARCHAR) AS _extra_columns")

    # rows whose key occurs more than once (or is missing) are the only ones that can be
    # duplicates: compare those column by column (in the file's own text)
    key_sql = [
        typed_sql(extract.column(k), f"p.{quote_ident(mapping[k])}") if k in mapping else "NULL"
        for k in extract.key
    ]
    key_names = [f"_key_{i}" for i in range(len(key_sql))]
    keyed = ", ".join(f"{sql} AS {name}" for sql, name in zip(key_sql, key_names, strict=False))
    source_columns = [f"p.{quote_ident(h)}" for h in part.headers]
    # the columns two rows must share to be one row given twice: every header, or the part's
    # compared_headers — but a row without its key (a placement whose child is missing) is
    # compared on every header still: only its other columns tell it from another such row
    ignored = [h for h in part.headers if h not in (part.compared_headers or part.headers)]
    unkeyed = " OR ".join(f"{k} IS NULL" for k in key_names) or "false"
    compared = [quote_ident(h) for h in part.compared_headers or part.headers] + [
        f"CASE WHEN {unkeyed} THEN {quote_ident(h)} END" for h in ignored
    ]
    con.execute("DROP TABLE IF EXISTS _repeated")
    # fmt: off
    con.execute(
        f"""
        CREATE TEMP TABLE _repeated AS
        WITH keyed AS (SELECT p._source_row, {keyed}, {", ".join(source_columns)}
                       FROM {part.table} AS p),
        repeated_keys AS (SELECT {", ".join(key_names)} FROM keyed
                          GROUP BY ALL HAVING count(*) > 1),
        candidates AS (
            SELECT * FROM keyed
            SEMI JOIN repeated_keys ON {" AND ".join(
                f"keyed.{k} IS NOT DISTINCT FROM repeated_keys.{k}" for k in key_names
            )}
        ),
        marked AS (
            SELECT _source_row, {", ".join(key_names)},
                   CASE WHEN row_number() OVER w > 1 THEN min(_source_row) OVER w END
                       AS _duplicate_of_row
            FROM candidates
            WINDOW w AS (PARTITION BY {", ".join(compared) or "1"}
                         ORDER BY _source_row)
        )
        SELECT _source_row, _duplicate_of_row,
               count(*) FILTER (WHERE _duplicate_of_row IS NULL)
                   OVER (PARTITION BY {", ".join(key_names)}) AS _rows_with_key
        FROM marked
        """
    )
    # fmt: on
    typed = ", ".join(
        f"{typed_sql(c, quote_ident(c.name))} AS {typed_name(c.name)}"
        for c in extract.stored_columns
    )
    rules = [*row_rules(extract, extract_date, date_floor), conflict_rule(extract)]
    broken = " OR ".join(f"coalesce({r.condition}, false)" for r in rules if not r.lenient)
    if part_no is None:
        cross_columns, cross_join = "r._duplicate_of_row, r._rows_with_key", ""
    else:
        # a key on another sheet of the workbook: the same row there first makes this one a
        # duplicate; a different row there, a conflict
        cross_columns = (
            "coalesce(r._duplicate_of_row, x._duplicate_of_row) AS _duplicate_of_row, "
            "CASE WHEN x._conflict THEN greatest(coalesce(r._rows_with_key, 1), 2) "
            "ELSE r._rows_with_key END AS _rows_with_key"
        )
        cross_join = (
            f"LEFT JOIN _cross_part x ON x._part = {int(part_no)} AND x._source_row = t._source_row"
        )
    con.execute("DROP TABLE IF EXISTS _checked")
    con.execute(
        f"""
        CREATE TEMP TABLE _checked AS
        WITH text_rows AS (
            SELECT p._source_row, {", ".join(selected)} FROM {part.table} AS p {" ".join(joins)}
        ),
        typed_rows AS (
            SELECT t.*, {cross_columns}, {typed}
            FROM text_rows t LEFT JOIN _repeated r USING (_source_row)
            {cross_join}
        )
        SELECT *, NOT ({broken}) AS _ok FROM typed_rows
        """
    )


def _cross_part_keys(
    con: duckdb.DuckDBPyConnection,
    extract: Extract,
    parts: list[Part],
    mappings: list[dict[str, str]],
) -> None:
    """Temp table `_cross_part` (_part, _source_row, _duplicate_of_row, _conflict): the rows of a
    workbook's sheets whose key is on more than one sheet. Where every such row is the same (the
    contract's columns, as text), the first is kept and the others are its duplicates; where
    they differ, all conflict. Each sheet is a part with its own file record, and a later part
    wins a key in staging: without this, a ledger split into half-year sheets numbering its lines
    from 1 on each would lose the first sheet's money, superseded, on a green run."""
    selects = []
    for part_no, (part, mapping) in enumerate(zip(parts, mappings, strict=True)):
        keys = [
            f"{typed_sql(extract.column(k), f'p.{quote_ident(mapping[k])}')}::VARCHAR AS _key_{i}"
            if k in mapping
            else f"NULL::VARCHAR AS _key_{i}"
            for i, k in enumerate(extract.key)
        ]
        content = ", ".join(
            f"coalesce(p.{quote_ident(mapping[c.name])}::VARCHAR, '')"
            if c.name in mapping
            else "''"
            for c in extract.columns
        )
        selects.append(
            f"SELECT {part_no} AS _part, p._source_row, {', '.join(keys)}, "
            f"md5(concat_ws(chr(31), {content})) AS _content FROM {part.table} AS p"
        )
    key_names = [f"_key_{i}" for i in range(len(extract.key))]
    keys = ", ".join(key_names)
    con.execute("DROP TABLE IF EXISTS _cross_part")
    con.execute(
        f"""
        CREATE TEMP TABLE _cross_part AS
        WITH rows AS ({" UNION ALL ".join(selects)}),
        shared AS (
            SELECT {keys}, count(DISTINCT _content) > 1 AS _conflict FROM rows
            WHERE {" AND ".join(f"{k} IS NOT NULL" for k in key_names)}
            GROUP BY ALL HAVING count(DISTINCT _part) > 1
        )
        SELECT _part, _source_row, _conflict,
               CASE WHEN NOT _conflict AND _part > min(_part) OVER w
                    THEN first_value(_source_row) OVER w END AS _duplicate_of_row
        FROM rows INNER JOIN shared USING ({keys})
        WINDOW w AS (PARTITION BY {keys} ORDER BY _part, _source_row
                     ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
        """
    )


def _problem_list(extract: Extract, extract_date: dt.date, date_floor: dt.date) -> str:
    """SQL for the list of every problem of a row (only evaluated on rows that have some)."""
    rules = [*row_rules(extract, extract_date, date_floor), conflict_rule(extract)]
    return f"[p FOR p IN [{', '.join(rule.struct() for rule in rules)}] IF p IS NOT NULL]"


REASON_TEXT = (
    "array_to_string([p.column || ': ' || replace(p.code, '_', ' ') || "
    "coalesce(' (''' || p.value || ''')', '') FOR p IN _problems], '; ')"
)


def _write_part(
    con: duckdb.DuckDBPyConnection,
    extract: Extract,
    outcome: FileOutcome,
    load_id: str,
    extract_date: dt.date,
    date_floor: dt.date,
) -> None:
    """Write `_checked` once: accepted rows typed to raw, exact duplicates to
    raw.<extract>_duplicates, rejected rows as text to quarantine; count each outcome."""
    # quarantine keeps every column as text: a pseudonymised id as its number's digits
    text_columns = ", ".join(
        f"{quote_ident(c.name)}::VARCHAR AS {quote_ident(c.name)}"
        if c.pseudonymise
        else quote_ident(c.name)
        for c in extract.stored_columns
    )
    provenance = (
        f"{quote_literal(outcome.file_hash)} AS _file_hash, {quote_literal(outcome.file_name)} AS "
        f"_source_file, _source_row, {quote_literal(load_id)} AS _load_id"
    )
    names = {c.name for c in extract.stored_columns}
    ahead = {
        name: f"{typed_name(date)} > DATE {quote_literal(extract_date.isoformat())}"
        for date, going_with in PLANNED_DATES.items()
        if date in names
        for name in (date, *going_with)
    }
    typed = ", ".join(
        (
            f"CASE WHEN {ahead[c.name]} THEN NULL ELSE {typed_name(c.name)} END"
            if c.name in ahead
            else typed_name(c.name)
        )
        + f" AS {quote_ident(c.name)}"
        for c in extract.stored_columns
    )
    accepted = "_duplicate_of_row IS NULL AND _ok"
    con.execute(
        f"INSERT INTO raw.{extract.name} BY NAME SELECT {typed}, _extra_columns, {provenance} "
        f"FROM _checked WHERE {accepted}"
    )
    due = [
        con.execute(
            f"SELECT min({typed_name(date)}) FROM _checked WHERE {accepted} AND {ahead[date]}"
        ).fetchone()[0]
        for date in PLANNED_DATES
        if date in names
    ]
    outcome.planned_date_due = min((d for d in due if d is not None), default=None)
    money = (
        f", {typed_name(extract.money_column)} AS {quote_ident(extract.money_column)}"
        if extract.money_column
        else ""
    )
    con.execute(
        f"INSERT INTO raw.{extract.name}_duplicates BY NAME "
        f"SELECT {provenance}, _duplicate_of_row{money} "
        "FROM _checked WHERE _duplicate_of_row IS NOT NULL"
    )
    con.execute(
        f"INSERT INTO quarantine.{extract.name} BY NAME "
        f"SELECT {text_columns}, _extra_columns, {provenance}, "
        "[p.code FOR p IN _problems] AS reason_codes, "
        "[p.column FOR p IN _problems] AS reason_columns, "
        f"[p.value FOR p IN _problems] AS reason_values, {REASON_TEXT} AS reason "
        f"FROM (SELECT *, {_problem_list(extract, extract_date, date_floor)} AS _problems "
        "FROM _checked "
        f"WHERE _duplicate_of_row IS NULL AND NOT _ok)"
    )
    # a lenient column's value that cannot be read: set aside, its row kept without it
    lenient = [r for r in row_rules(extract, extract_date, date_floor) if r.lenient]
    if lenient:
        listed = ", ".join(rule.struct() for rule in lenient)
        record_key = " || '/' || ".join(
            f"coalesce({quote_ident(k)}::VARCHAR, '')" for k in extract.key
        )
        con.execute(
            f"INSERT INTO quarantine.{extract.name}_values BY NAME "
            f"SELECT _file_hash, _source_file, _source_row, _load_id, record_key, "
            "struct_extract(p, 'column') AS column_name, struct_extract(p, 'code') AS reason_code, "
            "struct_extract(p, 'value') AS value "
            f"FROM (SELECT {provenance}, {record_key} AS record_key, "
            f"unnest([p FOR p IN [{listed}] IF p IS NOT NULL]) AS p "
            f"FROM _checked WHERE {accepted} AND "
            f"({' OR '.join(f'coalesce({r.condition}, false)' for r in lenient)}))"
        )
    quarantined = "_duplicate_of_row IS NULL AND NOT _ok"
    if extract.money_column:
        amount = typed_name(extract.money_column)
        # the gross sums weigh an amount the parser refused by its digits (amount_size_sql): the
        # money tolerance must see `1,500,000.00 CR` as £1.5m quarantined, not £0
        size = f"coalesce(abs({amount}), {amount_size_sql(quote_ident(extract.money_column))})"
        money = (
            f"coalesce(sum({amount}), 0), coalesce(sum({amount}) FILTER (WHERE {quarantined}), 0), "
            f"coalesce(sum({size}), 0), coalesce(sum({size}) FILTER (WHERE {quarantined}), 0)"
        )
    else:
        money = ", ".join(["NULL::DECIMAL(18,2)"] * 4)
    row = con.execute(
        f"""
        SELECT count(*),
               count(*) FILTER (WHERE _duplicate_of_row IS NULL AND _ok),
               count(*) FILTER (WHERE _duplicate_of_row IS NOT NULL),
               count(*) FILTER (WHERE {quarantined}),
               {money}
        FROM _checked
        """
    ).fetchone()
    assert row is not None
    (
        outcome.rows_read,
        outcome.rows_valid,
        outcome.rows_duplicate,
        outcome.rows_quarantined,
        outcome.money_read_gbp,
        outcome.money_quarantined_gbp,
        outcome.gross_money_read_gbp,
        outcome.gross_money_quarantined_gbp,
    ) = row


@dataclass(frozen=True)
class ReadAgain:
    """A known file read again because a date in it has come (_dated_rows_now_due): the place
    among files holding the same key its first read had, and the highest load sequence before
    it was forgotten, which its new records must follow (the ledger's increment tells a file
    read again by its new sequence; reusing the old one would hide its rows from it)."""

    precedence_seq: int
    after_seq: int


def _record_file(
    con: duckdb.DuckDBPyConnection,
    outcome: FileOutcome,
    content_hash: str,
    file_bytes: int,
    columns_found: list[str],
    load_id: str,
    la_code: str,
    census_date: dt.date | None = None,
    read_again: ReadAgain | None = None,
) -> None:
    next_seq = con.execute(
        f"SELECT greatest(coalesce(max(file_seq), 0), ?) + 1 FROM raw.{outcome.extract}_files",
        [read_again.after_seq if read_again else 0],
    ).fetchone()
    assert next_seq is not None
    con.execute(
        f"INSERT INTO raw.{outcome.extract}_files BY NAME SELECT "
        "? AS file_hash, ? AS content_hash, ? AS extract, ? AS file_name, ? AS file_bytes, "
        "? AS file_seq, "
        "? AS status, ? AS message, ?::VARCHAR[] AS columns_found, ? AS load_id, "
        "now()::TIMESTAMP AS loaded_at, "
        "? AS rows_read, ? AS rows_valid, ? AS rows_duplicate, ? AS rows_quarantined, "
        "?::DECIMAL(18,2) AS money_read_gbp, ?::DECIMAL(18,2) AS money_quarantined_gbp, "
        "?::DECIMAL(18,2) AS gross_money_read_gbp, "
        "?::DECIMAL(18,2) AS gross_money_quarantined_gbp, "
        "true AS in_landing, "
        "? AS last_seen_load_id, ? AS la_code, ?::DATE AS census_date, "
        "?::DATE AS planned_date_due, ? AS precedence_seq",
        [
            outcome.file_hash,
            content_hash,
            outcome.extract,
            outcome.file_name,
            file_bytes,
            next_seq[0],
            outcome.status,
            outcome.message,
            columns_found,
            load_id,
            outcome.rows_read,
            outcome.rows_valid,
            outcome.rows_duplicate,
            outcome.rows_quarantined,
            outcome.money_read_gbp,
            outcome.money_quarantined_gbp,
            outcome.gross_money_read_gbp,
            outcome.gross_money_quarantined_gbp,
            load_id,
            la_code,
            census_date,
            outcome.planned_date_due,
            read_again.precedence_seq if read_again else next_seq[0],
        ],
    )


def council_content_hash(la_code: str, content_hash: str) -> str:
    """A file's identity in a landing folder of several councils: its SHA-256 with the council's
    code, so the same file in two councils' folders is each council's own."""
    return hashlib.sha256(f"{la_code}/{content_hash}".encode()).hexdigest()


def part_hash(file_hash: str, part_name: str) -> str:
    """A CSV file is one part, identified by its file hash; each sheet of a workbook by the hash
    of the workbook's hash and the sheet's name."""
    if "#" not in part_name:
        return file_hash
    return hashlib.sha256(f"{file_hash}#{part_name.rsplit('#', 1)[-1]}".encode()).hexdigest()


def _drop_part_tables(con: duckdb.DuckDBPyConnection) -> None:
    for (table,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary "
        "AND (starts_with(table_name, '_part_') OR starts_with(table_name, '_ids_') "
        "OR table_name IN ('_repeated', '_checked', '_cross_part'))"
    ).fetchall():
        con.execute(f"DROP TABLE IF EXISTS {quote_ident(table)}")


def load_file(
    con: duckdb.DuckDBPyConnection,
    extract: Extract,
    read: Callable[[Path], list[Part]],
    file_name: str,
    file_hash: str,
    file_bytes: int,
    load_id: str,
    pseudonym_key: str,
    extract_date: dt.date,
    aliases: dict[str, str],
    date_floor: dt.date = DEFAULT_DATE_FLOOR,
    la_code: str = UNKNOWN_LA_CODE,
    census_date: dt.date | None = None,
    read_again: ReadAgain | None = None,
) -> list[FileOutcome]:
    """Load every part `read` gives (into a scratch folder) in one transaction: all of a file,
    or (rejected) none of it. A full disk raises ingest.diskspace.DiskFull. `census_date`: a SEN2
    return's census day, which orders returns holding the same key; `read_again`: a known file
    read again, which keeps its place among the files holding the same key."""
    headers: list[str] = []
    outcomes: list[FileOutcome] = []
    with reported_when_full(f"Loading {file_name}", database_folder(con), file_bytes):
        con.execute("BEGIN TRANSACTION")
        try:
            with tempfile.TemporaryDirectory(prefix="highneeds-read-") as work_dir:
                parts = _read_parts(read, Path(work_dir), file_name)
            mappings = []
            for part in parts:  # every part's header is checked before anything is written
                headers = part.headers
                mappings.append(
                    match_headers(extract, part.headers, aliases, part.name, part.written_headers)
                )
            several = len(parts) > 1 and bool(extract.key)
            if several:
                _cross_part_keys(con, extract, parts, mappings)
            for part_no, (part, mapping) in enumerate(zip(parts, mappings, strict=False)):
                in_1900_serials(con, extract, part, mapping)
                outcome = FileOutcome(
                    extract.name, part.name, part_hash(file_hash, part.name), "loaded"
                )
                _stage_part(
                    con,
                    extract,
                    part,
                    mapping,
                    pseudonym_key,
                    extract_date,
                    date_floor,
                    part_no if several else None,
                )
                _write_part(con, extract, outcome, load_id, extract_date, date_floor)
                _record_file(
                    con,
                    outcome,
                    file_hash,
                    file_bytes,
                    part.headers,
                    load_id,
                    la_code,
                    census_date,
                    read_again,
                )
                outcomes.append(outcome)
            con.execute("COMMIT")
        except FileRejected as rejection:
            _clean_up_after(con, rejection)
            outcome = FileOutcome(extract.name, file_name, file_hash, "rejected", str(rejection))
            known = known_headers(extract, aliases)
            _record_file(
                con,
                outcome,
                file_hash,
                file_bytes,
                # a first line naming no column may be a row of data: not kept (names_a_column)
                headers if names_a_column(headers, known) else [],
                load_id,
                la_code,
                census_date,
                read_again,
            )
            return [outcome]
        except Exception as error:
            _clean_up_after(con, error)
            raise
        _drop_part_tables(con)
    return outcomes


def _read_parts(read: Callable[[Path], list[Part]], work_dir: Path, file_name: str) -> list[Part]:
    """The parts `read` gives; a file the operating system will not let us read (gone, no
    permission) is rejected, while a full disk (the scratch copy) is not the file's fault."""
    try:
        return read(work_dir)
    except OSError as error:
        if full_disk_errno(error) is not None:
            raise
        raise unreadable(file_name, error) from error


def _clean_up_after(con: duckdb.DuckDBPyConnection, error: Exception) -> None:
    """Roll the file's writes back and drop its scratch tables after `error`. Clean-up that fails
    too (after a failed commit there is no transaction left: "cannot rollback - no transaction is
    active") must not take the place of the error that caused it, so it only adds a note to it."""
    for clean_up in (lambda: con.execute("ROLLBACK"), lambda: _drop_part_tables(con)):
        try:
            clean_up()
        except duckdb.Error as cleanup_error:
            error.add_note(f"Cleaning up after this failed too: {cleanup_error}")


def load_extract(
    con: duckdb.DuckDBPyConnection,
    extract: Extract,
    landing_dir: Path,
    load_id: str,
    pseudonym_key: str,
    extract_date: dt.date | None = None,
    reader_config: dict[str, dict] | None = None,
    hashes: HashCache | None = None,
    date_floor: dt.date = DEFAULT_DATE_FLOOR,
    sen2_child_id: ChildIdRule | None = None,
    la_code: str | None = None,
) -> ExtractLoad:
    """Load every new file of one extract, of every council the landing folder holds; mark which
    known files are still in the landing folder. `sen2_child_id` says which SEN2 person field is
    the child id the council's other extracts carry; `la_code` is a single council's code
    (HIGHNEEDS_LA_CODE; see landing_councils).

    A file that cannot be read is rejected by name and the others still load; a full disk raises
    ingest.diskspace.DiskFull, naming the folder and the space left.
    """
    with reported_when_full(f"Loading the {extract.name} extract", database_folder(con)):
        ensure_tables(con, extract)
        councils = landing_councils(landing_dir, la_code, con)
        many = holds_many(councils, landing_dir)
        if la_code and not many:
            check_council_code(con, la_code)
        forget_personal(con, extract)
        # files recorded before files had a council were the one council's
        con.execute(
            f"UPDATE raw.{extract.name}_files SET la_code = ? WHERE la_code IS NULL",
            [la_code or (UNKNOWN_LA_CODE if many else councils[0].la_code)],
        )
        extract_date = extract_date or dt.date.today()
        aliases = load_aliases().get(extract.name, {})
        reader_settings = (reader_config or {}).get(extract.name, {})
        result = ExtractLoad(extract.name, load_id)
        present: list[str] = []
        hashes = hashes or HashCache(None)
        for council in councils:
            folders = [council.folder]
            if many and extract.name == SHARED_EXTRACT:
                folders.append(landing_dir)  # the region's shared GIAS extract
            sources = [
                source
                for folder in folders
                for source in _sources(
                    con,
                    extract,
                    folder,
                    landing_dir,
                    hashes,
                    aliases,
                    reader_settings,
                    pseudonym_key,
                    sen2_child_id,
                    council.la_code,
                    many,
                )
            ]
            for source in sources:
                if many:
                    source.content_hash = council_content_hash(council.la_code, source.content_hash)
                loaded = _load_source(
                    con,
                    extract,
                    source,
                    load_id,
                    pseudonym_key,
                    extract_date,
                    aliases,
                    date_floor,
                    council.la_code,
                )
                present.extend(o.file_hash for o in loaded)
                result.files.extend(loaded)
        con.execute(
            f"UPDATE raw.{extract.name}_files "
            "SET in_landing = list_contains(?::VARCHAR[], file_hash)",
            [present],
        )
        _record_named_days(con, extract, extract_date)
        return result


def _record_named_days(
    con: duckdb.DuckDBPyConnection, extract: Extract, extract_date: dt.date
) -> None:
    """Each file record's `named_day`, from its name now (a renamed file takes its new name's;
    a workbook's sheets their workbook's), and its `ranking_day` (FILES_COLUMNS). A day after
    the load's own is not the day a list was taken (a typo, or a month's end written ahead): a
    requests list renamed `requests_2026-12-31.csv` on 7 December had 2026 read as whole, and
    its six plans published as 2026's, 50 % of them within 20 weeks."""
    names = [
        name
        for (name,) in con.execute(
            f"SELECT DISTINCT file_name FROM raw.{extract.name}_files"
        ).fetchall()
    ]
    days = [_named_day(Path(name.split("#")[0])) for name in names]
    days = [day if day is None or day <= extract_date else None for day in days]
    con.execute(
        f"UPDATE raw.{extract.name}_files AS files SET named_day = named.day "
        "FROM (SELECT unnest(?::VARCHAR[]) AS name, unnest(?::DATE[]) AS day) AS named "
        "WHERE files.file_name = named.name "
        "AND files.named_day IS DISTINCT FROM named.day",
        [names, days],
    )
    # each file's ranking day, over the files in the landing folder that loaded, in the order
    # they first came (precedence_seq, else file_seq)
    con.execute(
        f"""
        UPDATE raw.{extract.name}_files AS files SET ranking_day = ranked.day
        FROM (
            SELECT files.file_hash, current.day
            FROM raw.{extract.name}_files AS files
            LEFT JOIN (
                SELECT file_hash, coalesce(named_day, max(named_day) OVER (
                    PARTITION BY la_code ORDER BY coalesce(precedence_seq, file_seq)
                    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
                )) AS day
                FROM raw.{extract.name}_files WHERE in_landing AND status = 'loaded'
            ) AS current ON current.file_hash = files.file_hash
        ) AS ranked
        WHERE files.file_hash = ranked.file_hash
          AND files.ranking_day IS DISTINCT FROM ranked.day
        """
    )


def _sources(
    con: duckdb.DuckDBPyConnection,
    extract: Extract,
    folder: Path,
    landing_dir: Path,
    hashes: HashCache,
    aliases: dict[str, str],
    reader_settings: dict,
    pseudonym_key: str,
    sen2_child_id: ChildIdRule | None,
    la_code: str = UNKNOWN_LA_CODE,
    many: bool = False,
) -> list[Source]:
    """The extract's files in `folder` (and its SEN2 returns), named relative to the landing
    folder; those of council `la_code` (`many`: its folder in a landing folder of several)."""
    sources: list[Source] = []
    for path in landing_files(folder, extract):
        display = str(path.relative_to(landing_dir))
        try:
            sources.append(
                Source(
                    display,
                    hashes.sha256(path),
                    path.stat().st_size,
                    partial(
                        _read_unchanged,
                        partial(_read_file, con, path, display, extract, aliases, reader_settings),
                        [path],
                        hashes,
                        display,
                    ),
                )
            )
        except OSError as error:
            sources.append(_unreadable_source(display, error))
    for path in unread_table_files(folder, extract):
        display = str(path.relative_to(landing_dir))
        try:
            sources.append(_unread_format_source(display, path, hashes))
        except OSError as error:
            sources.append(_unreadable_source(display, error))
    if extract.name in SEN2_REQUIRED_TABLES:
        returns = find_returns(folder)
        returns = [
            # named from the landing folder, as its files are (`869/sen2/2025` in a council's)
            dataclasses.replace(sen2, landing_dir=landing_dir)
            for sen2 in returns
        ]
        doubled = same_census(returns)
        for sen2 in returns:
            if sen2.name in doubled:
                sources.append(_same_census_source(sen2, doubled[sen2.name], hashes))
                continue
            lea = _return_council(sen2)
            if lea and la_code != UNKNOWN_LA_CODE and lea != la_code:
                sources.append(_other_council_source(sen2, lea, la_code, many, hashes))
                continue
            if mismatch := _census_year_mismatch(sen2):
                sources.append(_rejected_return_source(sen2, mismatch, hashes))
                continue
            try:
                sources.append(
                    Source(
                        sen2.name,
                        sen2.content_hash(hashes, sen2_child_id),
                        sen2.size(),
                        partial(
                            _read_unchanged,
                            partial(
                                _read_sen2,
                                con,
                                sen2,
                                extract.name,
                                pseudonym_key,
                                sen2_child_id,
                                beside_others=len(returns) > 1,
                            ),
                            sorted(sen2.tables.values()),
                            hashes,
                            sen2.name,
                        ),
                        named_by_part=True,
                        census_date=sen2.census_date(),
                    )
                )
            except OSError as error:
                sources.append(_unreadable_source(sen2.name, error))
    return sources


def _load_source(
    con: duckdb.DuckDBPyConnection,
    extract: Extract,
    source: Source,
    load_id: str,
    pseudonym_key: str,
    extract_date: dt.date,
    aliases: dict[str, str],
    date_floor: dt.date,
    la_code: str,
) -> list[FileOutcome]:
    """Load one source unless its content is already in the warehouse (then its records take
    its current name and council): the outcomes of its parts."""
    display, content_hash = source.display, source.content_hash
    # A rejected file is tried again: the contract or the reader may have changed since. One
    # rejected when read again (a date in it had come) keeps the place it had kept.
    kept = con.execute(
        f"SELECT min(precedence_seq) FROM raw.{extract.name}_files WHERE content_hash = ? "
        "AND status = 'rejected' AND precedence_seq < file_seq",
        [content_hash],
    ).fetchone()
    con.execute(
        f"DELETE FROM raw.{extract.name}_files WHERE content_hash = ? AND status = 'rejected'",
        [content_hash],
    )
    known = [
        row[0]
        for row in con.execute(
            f"SELECT file_hash FROM raw.{extract.name}_files WHERE content_hash = ? "
            "ORDER BY file_seq",
            [content_hash],
        ).fetchall()
    ]
    read_again = ReadAgain(kept[0], 0) if kept and kept[0] is not None and not known else None
    if known and _dated_rows_now_due(con, extract, known, extract_date):
        # rows quarantined as dated after the extract date, a date since reached: the file is
        # read again (its rows were never loaded, and a month's ledger file is never re-sent),
        # keeping its place among the files that hold the same keys
        read_again = _read_again(con, extract, known)
        _forget(con, extract, known)
        known = []
    if known:
        # a renamed or moved file keeps its rows; its records take the new name (and, for a
        # single council whose code was set since, the code)
        renamed = (
            "file_name"
            if source.named_by_part
            else (
                "CASE WHEN contains(file_name, '#') THEN $name || '#' || "
                "split_part(file_name, '#', -1) ELSE $name END"
            )
        )
        parameters = {
            "load_id": load_id,
            "hash": content_hash,
            "la_code": la_code,
            "census": source.census_date,
        }
        if not source.named_by_part:  # DuckDB refuses a parameter the statement does not use
            parameters["name"] = display
        # (a return loaded before returns carried their census day gets it here)
        con.execute(
            f"UPDATE raw.{extract.name}_files SET last_seen_load_id = $load_id, "
            f"file_name = {renamed}, la_code = $la_code, census_date = $census::DATE "
            "WHERE content_hash = $hash",
            parameters,
        )
        return [_known_file_outcome(con, extract, h) for h in known]
    try:
        return load_file(
            con,
            extract,
            source.read,
            display,
            content_hash,
            source.size,
            load_id,
            pseudonym_key,
            extract_date,
            aliases,
            date_floor,
            la_code,
            source.census_date,
            read_again,
        )
    except DiskFull as full:
        if read_again is not None:
            _keep_place(con, extract, source, read_again, load_id, la_code, full)
        raise


def _keep_place(
    con: duckdb.DuckDBPyConnection,
    extract: Extract,
    source: Source,
    read_again: ReadAgain,
    load_id: str,
    la_code: str,
    full: DiskFull,
) -> None:
    """A file read again (or retried after a rejected re-read) that a full disk stopped: its
    records were forgotten, so it would load on the next refresh as a new file, outranking the
    later files that hold the same keys. Recorded as not loaded, it keeps its place for that
    read, as a rejected re-read does."""
    outcome = FileOutcome(
        extract.name,
        source.display,
        source.content_hash,
        "rejected",
        "not loaded: the disk filled while it was read again (a date in it had come); the next "
        "refresh reads it again, keeping its place among the files",
    )
    try:
        _record_file(
            con,
            outcome,
            source.content_hash,
            source.size,
            [],
            load_id,
            la_code,
            source.census_date,
            read_again,
        )
    except Exception as error:  # the disk may still be too full for one row
        full.add_note(f"{source.display}: its place among the files was not kept: {error}")


def _read_again(
    con: duckdb.DuckDBPyConnection, extract: Extract, file_hashes: list[str]
) -> ReadAgain:
    """Before a known file is forgotten to be read again: its place among files holding the same
    key (the earliest of its parts') and the highest load sequence yet."""
    placeholders = ", ".join("?" for _ in file_hashes)
    row = con.execute(
        f"SELECT min(coalesce(precedence_seq, file_seq)) FILTER (WHERE file_hash IN "
        f"({placeholders})), max(file_seq) FROM raw.{extract.name}_files",
        file_hashes,
    ).fetchone()
    assert row is not None and row[0] is not None
    return ReadAgain(row[0], row[1])


def _dated_rows_now_due(
    con: duckdb.DuckDBPyConnection, extract: Extract, file_hashes: list[str], extract_date: dt.date
) -> bool:
    """Whether a loaded file has rows quarantined for a date after the extract date that is no
    longer after it, or rows loaded open with a planned date (PLANNED_DATES) that has come: what
    is read from a file changes with the day the warehouse is refreshed. Or rows quarantined
    for values alone that a lenient column now sets aside (a warehouse loaded before it was)."""
    placeholders = ", ".join("?" for _ in file_hashes)
    planned = con.execute(
        f"SELECT count(*) FROM raw.{extract.name}_files WHERE file_hash IN ({placeholders}) "
        "AND planned_date_due <= ?::DATE",
        [*file_hashes, extract_date],
    ).fetchone()
    if planned and planned[0]:
        return True
    # (a planned date quarantined by a warehouse from before planned dates loaded open: read
    # again now, so that its row is no longer kept out until the date has come)
    planned_columns = ", ".join(quote_literal(c) for c in PLANNED_DATES)
    found = con.execute(
        f"""
        SELECT count(*) FROM (
            SELECT unnest(reason_codes) AS code, unnest(reason_columns) AS col,
                   unnest(reason_values) AS value
            FROM quarantine.{extract.name} WHERE _file_hash IN ({placeholders})
        )
        WHERE code = 'date_after_extract'
            AND ({date_sql("value")} <= ?::DATE OR col IN ({planned_columns}))
        """,
        [*file_hashes, extract_date],
    ).fetchone()
    if found and found[0]:
        return True
    # a row quarantined by a warehouse from before its columns were lenient, for their values
    # alone: read again now, so that it loads without them (a warehouse upgraded kept 45
    # placements given residential=Y out of every census until it was rebuilt)
    lenient = [f"{c.name}:{value_problem(c)}" for c in extract.stored_columns if c.lenient]
    if not lenient:
        return False
    found = con.execute(
        f"""
        SELECT count(*) FROM quarantine.{extract.name}
        WHERE _file_hash IN ({placeholders}) AND len(reason_codes) > 0
          AND len(list_filter(
                list_transform(range(1, len(reason_codes) + 1),
                               lambda i: reason_columns[i] || ':' || reason_codes[i]),
                lambda problem: NOT list_contains(?, problem))) = 0
        """,
        [*file_hashes, lenient],
    ).fetchone()
    return bool(found and found[0])


def _forget(con: duckdb.DuckDBPyConnection, extract: Extract, file_hashes: list[str]) -> None:
    """Remove every trace of a file's load (its rows, duplicates, quarantine and records), in
    one transaction, for it to be read again as a new file."""
    placeholders = ", ".join("?" for _ in file_hashes)
    con.execute("BEGIN TRANSACTION")
    try:
        for table in (
            f"raw.{extract.name}",
            f"raw.{extract.name}_duplicates",
            f"quarantine.{extract.name}",
            f"quarantine.{extract.name}_values",
        ):
            con.execute(f"DELETE FROM {table} WHERE _file_hash IN ({placeholders})", file_hashes)
        con.execute(
            f"DELETE FROM raw.{extract.name}_files WHERE file_hash IN ({placeholders})",
            file_hashes,
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def _unread_format_source(display: str, path: Path, hashes: HashCache) -> Source:
    """A table saved in a form the readers do not read (UNREAD_TABLE_SUFFIXES): rejected by
    name, and tried again on every refresh until it is saved as CSV or XLSX."""

    def reject(work_dir: Path) -> list[Part]:
        raise FileRejected(
            f"{display}: a {path.suffix.lower()} file is not read, so none of its rows would "
            "be loaded: save it as CSV (comma- or semicolon-separated) or XLSX in the same "
            "folder, and move this copy out of the landing folder"
        )

    # its own hash: a copy of a loaded CSV must not take that file's record as a renamed one
    digest = hashlib.sha256(f"unread-format:{hashes.sha256(path)}".encode()).hexdigest()
    return Source(display, digest, path.stat().st_size, reject)


def _same_census_source(sen2: Sen2Return, names: list[str], hashes: HashCache) -> Source:
    """A SEN2 return beside another of the same census day: each is rejected by name, naming
    both, until one is taken out of the landing folder (sen2.same_census)."""
    census = sen2.census_date()

    def reject(work_dir: Path) -> list[Part]:
        raise FileRejected(
            f"{sen2.name}: {' and '.join(names)} are "
            f"{'both' if len(names) == 2 else 'all'} the SEN2 return of census day "
            f"{census}: a re-sent return replaces the one it corrects, and read together a plan "
            "corrected in one would count twice; keep one of them in the landing folder (the "
            "one sent last, if it corrects the other) and move the others out"
        )

    # its own hash: the return's content, if already loaded, must not read as still there
    digest = hashlib.sha256(f"same-census:{sen2.content_hash(hashes)}".encode()).hexdigest()
    return Source(sen2.name, digest, sen2.size(), reject)


def _return_council(sen2: Sen2Return) -> str | None:
    """The council a SEN2 return's header names (`lea`, as three digits), if it names one."""
    try:
        lea = (sen2.header().get("lea") or "").strip()
    except (OSError, ValueError):
        return None  # (an unreadable header is rejected when the return is read)
    return lea.zfill(3) if lea.isdigit() else None


def _other_council_source(
    sen2: Sen2Return, lea: str, la_code: str, many: bool, hashes: HashCache
) -> Source:
    """A SEN2 return whose header names another council than the one whose files it sits with:
    rejected by name (its plans would have counted as this council's, green)."""
    where = (
        f"it is in council {la_code}'s folder: move it to "
        f"{'/'.join([lea, *Path(sen2.name).parts[1:]])}"
        if many
        else f"this landing folder is council {la_code}'s (HIGHNEEDS_LA_CODE, or the returns "
        "beside it): a return of another council is not read"
    )

    def reject(work_dir: Path) -> list[Part]:
        raise FileRejected(
            f"{sen2.name}: its header gives lea {lea}, the SEN2 return of council {lea}, but "
            f"{where}"
        )

    digest = hashlib.sha256(f"other-council:{sen2.content_hash(hashes)}".encode()).hexdigest()
    return Source(sen2.name, digest, sen2.size(), reject)


def _census_year_mismatch(sen2: Sen2Return) -> str | None:
    """Why a return's header contradicts itself, if it does: its `year` (the collection, whose
    census is in January of that year) against its `referencedate` (the census day). A 2024
    return dated 2023-01-18 was read as 2023's: 2023's requests vanished from fct_ehcp_requests
    and the return was ordered before the real 2023 one, with every gate green."""
    try:
        header = sen2.header()
        census = sen2.census_date()
    except (OSError, KeyError):
        return None  # (an unreadable header is rejected when the return is read)
    year = header.get("year", "")
    if census is None or not year.isdigit() or int(year) == census.year:
        return None
    return (
        f"{sen2.file_of('sen2')} row 2, columns year and referencedate: the header gives year "
        f"{year} but referencedate {header.get('referencedate')} (a census day in "
        f"{census.year}): the {year} return's census day is in January {year} (the DfE's "
        "census days: dbt/seeds/census_dates.csv). Export the return again, or correct its "
        "header"
    )


def _rejected_return_source(sen2: Sen2Return, why: str, hashes: HashCache) -> Source:
    """A SEN2 return rejected by name before it is read, for `why`."""

    def reject(work_dir: Path) -> list[Part]:
        raise FileRejected(f"{sen2.name}: {why}")

    digest = hashlib.sha256(f"rejected:{why}:{sen2.content_hash(hashes)}".encode()).hexdigest()
    return Source(sen2.name, digest, sen2.size(), reject)


def _unreadable_source(display: str, error: OSError) -> Source:
    """A landing file that cannot even be hashed (no permission, gone since it was listed): it is
    rejected by name like any unreadable file. With no content to hash, its record is keyed by its
    name, so it is tried again on the next refresh."""

    def reject(work_dir: Path) -> list[Part]:
        raise unreadable(display, error) from error

    return Source(display, hashlib.sha256(f"unreadable:{display}".encode()).hexdigest(), 0, reject)


def _read_unchanged(
    read: Callable[[Path], list[Part]],
    paths: list[Path],
    hashes: HashCache,
    display: str,
    work_dir: Path,
) -> list[Part]:
    """`read`'s parts, if none of `paths` changed between their hashing and the end of the read.
    Hashed whole and then read while a copy wrote over it in place, a ledger loaded 11,999 of
    its 24,286 rows under the whole file's hash: published green, and never read again."""
    parts = read(work_dir)
    for path, hashed, now in changed_since_hashed(hashes, paths):
        raise FileRejected(
            f"{display}: changed while it was being read ({path.name} was {hashed:,} bytes when "
            f"hashed, {f'{now:,} bytes now' if now is not None else 'gone now'}): a file still "
            "being copied in, or written again. Nothing of it is loaded; it is read again at the "
            "next refresh"
        )
    return parts


def _read_file(
    con,
    path: Path,
    display: str,
    extract: Extract,
    aliases: dict[str, str],
    reader_settings: dict,
    work_dir: Path,
) -> list[Part]:
    return read_parts(con, path, display, extract, aliases, reader_settings, work_dir)


def _read_sen2(
    con,
    sen2: Sen2Return,
    extract_name: str,
    pseudonym_key: str,
    child_id: ChildIdRule | None,
    work_dir: Path,
    beside_others: bool = False,
) -> list[Part]:
    return [
        read_sen2_part(con, sen2, extract_name, pseudonym_key, work_dir, child_id, beside_others)
    ]


def _known_file_outcome(
    con: duckdb.DuckDBPyConnection, extract: Extract, file_hash: str
) -> FileOutcome:
    row = con.execute(
        "SELECT file_name, message, rows_read, rows_valid, rows_duplicate, rows_quarantined "
        f"FROM raw.{extract.name}_files WHERE file_hash = ?",
        [file_hash],
    ).fetchone()
    assert row is not None
    return FileOutcome(
        extract.name,
        row[0],
        file_hash,
        "unchanged",
        row[1] or "",
        row[2] or 0,
        row[3] or 0,
        row[4] or 0,
        row[5] or 0,
    )
