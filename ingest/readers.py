"""Read a landing file into DuckDB as text, whatever its format, or say exactly why it cannot be.

Every file becomes one or more *parts* (a CSV file is one part; each configured sheet of a
workbook is one), each a temp table with `_source_row` (the row number a spreadsheet shows:
the header is row 1 of a CSV) and one VARCHAR column per header. Nothing is typed here.

* CSV: UTF-8 with or without a byte-order mark, Windows-1252 (re-encoded to UTF-8 first) or
  UTF-16 with a BOM; comma, semicolon, tab or pipe delimited (the delimiter whose split of the
  header line matches most contract columns); quoted fields may hold delimiters and newlines;
  LF or CRLF. The header is parsed here and the columns are given to DuckDB, so a malformed
  row is reported by line number instead of a guess at the dialect.
* XLSX (openpyxl, read-only, every row and column a sheet holds whatever size it declares):
  date cells become ISO dates, numbers keep their value without float noise, text stays text.
  Sheets: those configured, else every sheet whose header holds the required columns.
* A row with every field blank is no row (CSV or sheet).

A file that cannot be read is rejected with a message naming it and saying why in words a data
engineer can act on (damaged, encrypted, not text, a field too large, ...): never quoting a
row, which may hold personal data.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import datetime as dt
import io
import re
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import IO

import duckdb
import pandas as pd
import yaml

from .contracts import Extract
from .diskspace import full_disk_errno, human_bytes
from .parsing import EXCEL_SERIAL, quote_ident, quote_literal
from .yaml_file import load_yaml

CONFIG_DIR = Path(__file__).resolve().parent / "config"
HEADER_ALIASES = CONFIG_DIR / "header_aliases.yml"
DEFAULT_READERS = CONFIG_DIR / "readers.yml"
DELIMITERS = (",", ";", "\t", "|")
CSV_SUFFIXES = (".csv",)
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# No contract column holds more than a few hundred characters: a field of a megabyte is a quote
# that is never closed, or something pasted by mistake, and would sit in raw for good.
MAX_FIELD_BYTES = 1 << 20
# The longest row DuckDB will read (its max_line_size; its own default is 2 MB), set here so
# the limit the messages name cannot change with a DuckDB upgrade.
MAX_LINE_BYTES = 16 << 20
# Encrypted (password-protected) workbooks and Excel 97-2003 .xls files are OLE2 compound files.
OLE2_SIGNATURE = bytes.fromhex("D0CF11E0A1B11AE1")
# The stream an encrypted Office document keeps its workbook in (names are UTF-16 in OLE2).
ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
BINARY_SIGNATURES = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a zip archive, such as an .xlsx workbook"),
    (OLE2_SIGNATURE, "an Excel 97-2003 workbook or another Office document"),
    (b"\x1f\x8b", "a gzip archive"),
)


class FileRejected(Exception):
    """A whole file cannot be loaded; the message says why, naming the file."""


@dataclass
class Part:
    table: str  # temp table: _source_row, then one VARCHAR column per header
    name: str  # as shown to people: "finance/ledger.xlsx#Ledger" or "finance/march.csv"
    headers: list[str]
    # the headers as the file wrote them, when a repeated one was given a suffix in `headers`
    # (`Amount` beside `amount` is `Amount_2`): match_headers refuses a repeated column of the
    # contract's
    written_headers: list[str] | None = None
    # a workbook on Excel's 1904 date system (Excel for Mac before 2011): a date stored as a
    # plain number counts days from 1 January 1904, not 30 December 1899 (in_1900_serials)
    date_1904: bool = False
    # the headers that tell two rows of one key apart as different rows (None: every header): a
    # SEN2 placement listed under each of a child's two plans differs only in its links to them
    compared_headers: list[str] | None = None


def unreadable(display_name: str, error: OSError) -> FileRejected:
    """A landing file the operating system would not let us read, said plainly."""
    if isinstance(error, FileNotFoundError):
        reason = (
            "it disappeared while the refresh was reading it (moved or deleted meanwhile?); "
            "it is read again when it is back"
        )
    elif isinstance(error, PermissionError):
        reason = (
            "permission denied: the user running the refresh may not read it; give that "
            "user read access and run the refresh again"
        )
    else:
        reason = f"the file cannot be read ({error.strerror or type(error).__name__})"
    return FileRejected(f"{display_name}: {reason}")


def normalise_header(name: str) -> str:
    """`Child ID`, `child_id`, ` CHILD-ID ` all become `childid` for matching."""
    return re.sub(r"[^a-z0-9]", "", str(name).strip().lower())


def known_headers(extract: Extract, aliases: dict[str, str]) -> set[str]:
    """What a header line may name for `extract`: its columns' normalised names and the aliases
    (ingest/config/header_aliases.yml) that map to them."""
    return {normalise_header(c.name) for c in extract.columns} | set(aliases)


def names_a_column(headers: list[str], known: set[str]) -> bool:
    """Whether a first line names any of the `known` columns (normalised names and aliases). One
    naming none is most likely a row of data (a file split without its header line): a message
    quoting it put a child's names, UPN, birth date and postcode in the data-quality mart, the
    serving file and the publication report, and the file's record keeps what it found."""
    return any(normalise_header(h) in known for h in headers)


def first_line_words(headers: list[str], known: set[str]) -> str:
    """A first line as a message may give it: quoted where it names a known column, else only
    counted (names_a_column)."""
    if not headers or names_a_column(headers, known):
        return ", ".join(repr(h) for h in headers) or "(none)"
    return (
        f"{len(headers)} field{'' if len(headers) == 1 else 's'} naming none of the columns, not "
        "quoted: it may be a row of data, "
        "as in a file split without its header line"
    )


def load_aliases(path: Path = HEADER_ALIASES) -> dict[str, dict[str, str]]:
    """extract → {normalised alias → contract column}. An alias listed under two columns of one
    extract is refused, naming both: the one listed last would take every such header."""
    document = load_yaml(path.read_text(encoding="utf-8")) or {}
    out: dict[str, dict[str, str]] = {}
    for extract, columns in document.items():
        found = out.setdefault(extract, {})
        for column, aliases in columns.items():
            for alias in aliases or []:
                key = normalise_header(alias)
                if found.get(key, column) != column:
                    raise ValueError(
                        f"{path}: {extract}: the header {alias!r} is listed for {found[key]} and "
                        f"for {column}; list it under one"
                    )
                found[key] = column
    return out


# a council's folder in a landing folder of several: its 3-digit old LA code
COUNCIL_FOLDER = re.compile(r"[0-9]{3}")


def settings_for(reader_settings: dict, file_name: str) -> dict:
    """The settings for one file: the first `files:` pattern (fnmatch, on the name within the
    extract folder) that matches it, else the extract's own settings. `file_name` is the file's
    name in the landing folder: `finance/hn_ledger_1.xlsx`, or with many councils
    `869/finance/hn_ledger_1.xlsx`."""
    from fnmatch import fnmatch

    parts = file_name.split("/")
    if len(parts) > 2 and COUNCIL_FOLDER.fullmatch(parts[0]):
        parts = parts[1:]  # the council's folder
    name = "/".join(parts[1:]) if len(parts) > 1 else file_name
    for pattern, settings in (reader_settings.get("files") or {}).items():
        if fnmatch(name, pattern):
            return {**reader_settings, **(settings or {})}
    return reader_settings


def load_reader_config(path: Path | None) -> dict[str, dict]:
    config_path = path or DEFAULT_READERS
    try:
        # a file pattern given twice kept the last one's settings, unsaid
        document = load_yaml(config_path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise FileRejected(f"{config_path}: cannot read the reader settings ({error})") from error
    return {extract: settings or {} for extract, settings in document.items()}


def match_headers(
    extract: Extract,
    headers: list[str],
    aliases: dict[str, str],
    part_name: str,
    written: list[str] | None = None,
) -> dict[str, str]:
    """Map contract column → file header (exact names first, then aliases); reject the part when a
    required column is missing, or (`written`: the headers as the file wrote them, repeated ones
    unsuffixed) when a column of the contract's that reaches a figure is written twice."""
    # a required column, or an optional one that is read as a date, amount, code or id (a second
    # `annual_cost` or `end_date` had been set aside for the first without a word); free text
    # (two Description columns) and personal data (dropped) keep the first as before
    checked = {
        c.name for c in extract.columns if c.required or (c.kind != "text" and not c.personal)
    }
    named = {normalise_header(c): c for c in checked}
    seen: dict[str, str] = {}
    for header in written or ():
        normal = normalise_header(header)
        column = named.get(normal) or (
            aliases.get(normal) if aliases.get(normal) in checked else None
        )
        if normal in seen and column:
            # `amount` and `Amount` (gross and net): the first had been read without a word
            raise FileRejected(
                f"{part_name}: columns {seen[normal]!r} and {header!r} are both {column} "
                "(names are read without case or spacing), and which one is meant cannot be "
                f"told: name the one that is {column!r} and rename or remove the other"
            )
        seen.setdefault(normal, header)
    mapping: dict[str, str] = {}
    by_normal: dict[str, str] = {}
    for header in headers:
        by_normal.setdefault(normalise_header(header), header)
    for column in extract.columns:
        if normalise_header(column.name) in by_normal:
            mapping[column.name] = by_normal[normalise_header(column.name)]
    used = set(mapping.values())
    candidates: dict[str, list[str]] = {}
    for normal, header in by_normal.items():
        column = aliases.get(normal)
        if column and column not in mapping and header not in used:
            candidates.setdefault(column, []).append(header)
    for column, headers_for_it in candidates.items():
        if len(headers_for_it) > 1:  # e.g. Transaction Date and GL Date, Value and Net Value
            raise FileRejected(
                f"{part_name}: columns {' and '.join(repr(h) for h in headers_for_it)} could "
                f"each be {column} (ingest/config/header_aliases.yml), and which one is meant "
                f"cannot be told: name the one that is {column!r}, or remove the other"
            )
        mapping[column] = headers_for_it[0]
    missing = [name for name in extract.required if name not in mapping]
    if missing:
        expected = (
            f"expected: {', '.join(extract.required)} "
            f"(optional: {', '.join(c.name for c in extract.columns if not c.required)})"
        )
        if headers and not names_a_column(headers, known_headers(extract, aliases)):
            raise FileRejected(
                f"{part_name}: missing required column(s) {', '.join(missing)}; its first line "
                f"names none of the columns of the {extract.name} extract ({len(headers)} fields, "
                "not quoted: it may be a row of data, as in a file split without its header "
                f"line): put the header line first; {expected}"
            )
        raise FileRejected(
            f"{part_name}: missing required column(s) {', '.join(missing)}; "
            f"found columns: {', '.join(headers) or '(none)'}; {expected}; a column your "
            "system names otherwise is read once its name is listed under the column in "
            f"ingest/config/header_aliases.yml{_aliases_listed(extract.name, missing)}"
        )
    return mapping


def _aliases_listed(extract: str, columns: list[str]) -> str:
    """The names header_aliases.yml already reads as each of `columns` (as listed there), for a
    message that says what a header must be called."""
    document = load_yaml(HEADER_ALIASES.read_text(encoding="utf-8")) or {}
    listed = document.get(extract) or {}
    named = [f"{c}: {', '.join(listed[c])}" for c in columns if listed.get(c)]
    return f" (listed now: {'; '.join(named)})" if named else ""


# --- CSV --------------------------------------------------------------------------------------


def _start_of(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(1 << 16)


def _encoding(start: bytes) -> str:
    for bom, name in _BOMS:
        if start.startswith(bom):
            return name
    return "utf-8"


def _binary_kind(start: bytes) -> str | None:
    """What a file that is not text holds, from its first bytes; None when it may be text.
    (Only asked of files without a UTF-16 byte-order mark: UTF-16 text is full of NUL bytes.)"""
    for signature, kind in BINARY_SIGNATURES:
        if start.startswith(signature):
            return kind
    if b"\x00" in start:
        return "binary data (UTF-16 text without a byte-order mark looks like this too)"
    return None


def _blocks(path: Path, size: int = 1 << 22) -> Iterator[bytes]:
    """The file's bytes, `size` at a time."""
    with path.open("rb") as handle:
        yield from iter(lambda: handle.read(size), b"")


@contextmanager
def _temporary_copy(work_dir: Path, mode: str, **options) -> Iterator[tuple[IO, Path]]:
    """A new file in `work_dir` opened in `mode` (mkstemp's own descriptor, closed with it), and
    its path; removed when writing it fails."""
    handle, name = tempfile.mkstemp(suffix=".csv", dir=work_dir)
    target = Path(name)
    try:
        with open(handle, mode, **options) as out:
            yield out, target
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def _reencode(path: Path, source_encoding: str, work_dir: Path, part_name: str) -> Path:
    """A UTF-8 copy of a Windows-1252 or UTF-16 file (DuckDB reads UTF-8). A file that is not
    UTF-8 throughout is read line by line: a line that is UTF-8 stays as it is, any other is
    Windows-1252 (an export that pasted a `£` or `é` from another system into UTF-8 text
    keeps both its `£`s and its `Ł`s); a line that is neither rejects the file, naming it."""
    with _temporary_copy(work_dir, "w", encoding="utf-8", newline="") as (out, target):
        if source_encoding != "cp1252":
            with path.open("r", encoding=source_encoding, newline="") as source:
                for block in iter(lambda: source.read(1 << 20), ""):
                    out.write(block)
        else:
            with path.open("rb") as source:
                for number, line in enumerate(source, 1):
                    out.write(_line_text(line, number, part_name))
    return target


def _line_text(line: bytes, number: int, part_name: str) -> str:
    """Line `number` of a file that is not UTF-8 throughout: UTF-8 when it is, else
    Windows-1252; the file rejected when it is neither."""
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return line.decode("cp1252")
    except UnicodeDecodeError as error:
        raise FileRejected(
            f"{part_name}: line {number} is neither UTF-8 nor Windows-1252 text (byte "
            f"{error.start + 1} of the line, 0x{line[error.start]:02X}); export the file as "
            "UTF-8 CSV and drop it in again"
        ) from error


def _scan_utf8(path: Path) -> tuple[bool, bool]:
    """(whether the whole file is UTF-8, whether its line endings are mixed: see
    _mixed_line_endings), in one pass (read in blocks; a character may straddle two). A file
    that is UTF-8 at the top and Windows-1252 further down, or whose later lines end otherwise
    than its first, is found here, before DuckDB reads it: a read that fails inside the load's
    transaction leaves nothing to retry in."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    endings = _LineEndings()
    valid = True
    for block in _blocks(path):
        endings.add(block)
        if valid:
            try:
                decoder.decode(block)
            except UnicodeDecodeError:
                valid = False
    if valid:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            valid = False
    return valid, endings.mixed


class _LineEndings:
    """Counts a file's LFs and CR LFs block by block (a pair split across two blocks once)."""

    def __init__(self) -> None:
        self.newlines = self.crlf = 0
        self.last = b""

    def add(self, block: bytes) -> None:
        self.newlines += block.count(b"\n")
        self.crlf += (self.last + block).count(b"\r\n")
        self.last = block[-1:]

    @property
    def mixed(self) -> bool:
        """Some lines end CR LF and others LF alone (rows added in another program): DuckDB's
        parser takes one line ending a file and refuses the rest."""
        return 0 < self.crlf < self.newlines


def _header_record(path: Path, encoding: str, part_name: str) -> str:
    """The file's first 64 KB as text (the header record is read from it); Windows-1252 read as
    _reencode reads it, line by line."""
    if encoding != "cp1252":
        with path.open("r", encoding=encoding, newline="", errors="strict") as handle:
            return handle.read(1 << 16)
    with path.open("rb") as handle:
        start = handle.read(1 << 16)
    lines = start.splitlines(keepends=True)
    if len(start) == 1 << 16 and len(lines) > 1:
        lines.pop()  # may end inside a character
    return "".join(_line_text(line, number, part_name) for number, line in enumerate(lines, 1))


def _choose_delimiter(sample: str, known: set[str]) -> tuple[str, list[str]]:
    best: tuple[tuple[int, int], str, list[str]] | None = None
    for delimiter in DELIMITERS:
        try:
            header = next(csv.reader(io.StringIO(sample), delimiter=delimiter))
        except (StopIteration, csv.Error):
            continue
        score = (sum(normalise_header(h) in known for h in header), len(header))
        if best is None or score > best[0]:
            best = (score, delimiter, header)
    if best is None:
        return ",", []
    return best[1], best[2]


def _has_empty_lines(path: Path) -> bool:
    """Whether the (UTF-8) file holds an empty line after its first: DuckDB skips those without
    counting them, so the rows after would be numbered short of where a spreadsheet shows them."""
    tail = b""
    for block in _blocks(path):
        joined = tail + block
        if b"\n\n" in joined or b"\n\r\n" in joined:
            return True
        tail = joined[-2:]
    return False


def _number_rows_as_a_spreadsheet(
    con: duckdb.DuckDBPyConnection, table: str, source: Path, delimiter: str
) -> None:
    """Renumber `table`'s rows (read by DuckDB, which skips empty lines) as a spreadsheet shows
    the file: every record counted, empty ones too, the header as row 1. Read again with
    Python's csv module, which parses records as DuckDB does (a quoted field may hold a line
    break) and gives an empty line as an empty record."""
    numbers, header_seen = [], False
    with source.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, delimiter=delimiter, quotechar='"', doublequote=True)
        for number, record in enumerate(reader, 1):
            if not record:
                continue
            if header_seen:
                numbers.append(number)
            header_seen = True
    if len(numbers) != con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]:
        return  # the two parsers disagree on the records: keep DuckDB's numbers, not a guess
    renumbered = pd.DataFrame(
        {"_read_row": range(2, len(numbers) + 2), "_sheet_row": numbers}, dtype="int64"
    )
    con.register("_renumbered", renumbered)
    try:
        con.execute(
            f"UPDATE {table} SET _source_row = r._sheet_row FROM _renumbered AS r "
            f"WHERE {table}._source_row = r._read_row"
        )
    finally:
        con.unregister("_renumbered")


def _unique_names(headers: list[str]) -> list[str]:
    """Blank headers get a position name and repeated ones a suffix, so every column has a name;
    a header the reader's own row number column would take (`_source_row`) gets one too."""
    taken = {"_source_row"}
    names = []
    for position, header in enumerate(headers, 1):
        name = base = header.strip() or f"column_{position}"
        suffix = 1
        while name.lower() in taken:  # until the name is free (`_source_row` and `_source_row_2`)
            suffix += 1
            name = f"{base}_{suffix}"
        taken.add(name.lower())
        names.append(name)
    return names


def _csv_error(error: Exception, part_name: str) -> FileRejected:
    """DuckDB's CSV error in words, naming the row (as a spreadsheet numbers it: DuckDB's "Line"
    counts records with the header as 1). The row itself is never quoted: it may hold personal
    data, and the message is stored."""
    text = str(error)
    line = re.search(r"Line: (\d+)", text)
    found = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    too_long = re.search(r"Maximum line size of (\d+) bytes exceeded\. Actual Size:\s*(\d+)", text)
    if line and found:
        detail = (
            f"line {line.group(1)} has {found.group(2)} fields where the "
            f"header has {found.group(1)}"
        )
        return FileRejected(
            f"{part_name}: {detail}; fix or quote that row and drop the file in again"
        )
    if line and too_long:
        return FileRejected(
            f"{part_name}: row {line.group(1)} is {human_bytes(int(too_long.group(2)))} long, "
            f"more than the {human_bytes(int(too_long.group(1)))} a row may hold (DuckDB "
            "max_line_size); a quote that is never closed is the usual cause: "
            "fix that row and drop the file in again"
        )
    if line and "unterminated quote" in text:
        return FileRejected(
            f"{part_name}: row {line.group(1)} opens a quote that is never closed; fix that row "
            "and drop the file in again"
        )
    first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return FileRejected(f"{part_name}: not a readable CSV file ({first})")


def _check_field_sizes(
    con: duckdb.DuckDBPyConnection, table: str, names: list[str], part_name: str
) -> None:
    """Reject a part with a field over MAX_FIELD_BYTES, naming the first such row and its column."""
    widths = ", ".join(f"max(strlen({quote_ident(n)}))" for n in names)
    widest = con.execute(f"SELECT {widths} FROM {table}").fetchone()
    assert widest is not None
    oversized = [
        name
        for name, width in zip(names, widest, strict=False)
        if width and width > MAX_FIELD_BYTES
    ]
    if not oversized:
        return
    first = con.execute(
        f"SELECT _source_row, {', '.join(f'strlen({quote_ident(n)})' for n in oversized)} "
        f"FROM {table} "
        f"WHERE {' OR '.join(f'strlen({quote_ident(n)}) > {MAX_FIELD_BYTES}' for n in oversized)} "
        "ORDER BY _source_row LIMIT 1"
    ).fetchone()
    assert first is not None
    column, width = next(
        (n, w) for n, w in zip(oversized, first[1:], strict=False) if w and w > MAX_FIELD_BYTES
    )
    raise FileRejected(
        f"{part_name}: row {first[0]}, column {column} holds {human_bytes(width)}, more than the "
        f"{human_bytes(MAX_FIELD_BYTES)} a field may hold; a quote that is never closed is the "
        "usual cause: fix that row and drop the file in again"
    )


def read_csv_part(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    part_name: str,
    known: set[str],
    table: str,
    work_dir: Path,
) -> Part:
    start = _start_of(path)
    encoding = _encoding(start)
    kind = None if encoding == "utf-16" else _binary_kind(start)
    if kind:
        raise FileRejected(
            f"{part_name}: not UTF-8 or Windows-1252 text: it holds {kind}, not CSV; "
            "export the data as CSV (or save the workbook as .xlsx) and drop it in again"
        )
    source = path
    mixed = False
    if encoding in ("utf-8", "utf-8-sig"):
        valid, mixed = _scan_utf8(path)
        if not valid:
            encoding = "cp1252"  # the other encoding Excel writes CSV in on Windows
    try:
        sample = _header_record(path, encoding, part_name)
    except UnicodeDecodeError:  # not the encoding its start looked like
        encoding = "cp1252"
        sample = _header_record(path, encoding, part_name)  # rejects a line in neither
    if not sample.strip():
        raise FileRejected(f"{part_name}: the file is empty (no header row)")
    delimiter, header = _choose_delimiter(sample.lstrip("\ufeff"), known)
    names = _unique_names(header)
    columns = "{" + ", ".join(f"{quote_literal(n)}: 'VARCHAR'" for n in names) + "}"
    try:
        if encoding not in ("utf-8", "utf-8-sig"):
            source = _reencode(path, encoding, work_dir, part_name)
            mixed = _mixed_line_endings(source)
        if mixed:
            # a copy with one line ending (the landing file, the verbatim record, is left as it
            # is); an Excel export's LF inside a quoted cell of CR LF rows makes one too
            ended = _one_line_ending(source, work_dir)
            if source != path:
                source.unlink()
            source = ended
        con.execute(
            f"CREATE TEMP TABLE {table} AS "
            "SELECT row_number() OVER () + 1 AS _source_row, * "
            f"FROM read_csv({quote_literal(str(source))}, "
            f"delim = {quote_literal(delimiter)}, quote = '\"', escape = '\"', header = true, "
            f"auto_detect = false, max_line_size = {MAX_LINE_BYTES}, columns = {columns})"
        )
        if _has_empty_lines(source):
            _number_rows_as_a_spreadsheet(con, table, source, delimiter)
        # a row with every field blank is an export's leftover (Excel writes `,,,` lines), as an
        # empty spreadsheet row is: no data, so not a row (the rows after keep their numbers)
        blank = " AND ".join(f"nullif(trim({quote_ident(n)}), '') IS NULL" for n in names)
        con.execute(f"DELETE FROM {table} WHERE {blank}")
    except duckdb.Error as error:
        if full_disk_errno(error) is not None:
            raise  # the warehouse's disk is full, not the file's fault (see ingest.diskspace)
        raise _csv_error(error, part_name) from error
    finally:
        if source != path and source.exists():
            source.unlink()
    _check_field_sizes(con, table, names, part_name)
    return Part(table, part_name, names, header)


def _mixed_line_endings(path: Path) -> bool:
    """Whether some of the file's lines end with CR LF and others with LF alone."""
    endings = _LineEndings()
    for block in _blocks(path):
        endings.add(block)
    return endings.mixed


def _one_line_ending(path: Path, work_dir: Path) -> Path:
    """A copy of the file with every CR LF as LF: the same lines, so the same row numbers (a
    line break inside a quoted field becomes LF too)."""
    with _temporary_copy(work_dir, "wb") as (out, target):
        carry = b""
        for block in _blocks(path):
            block = carry + block
            carry = b"\r" if block.endswith(b"\r") else b""  # its LF may open the next block
            out.write(block[: len(block) - len(carry)].replace(b"\r\n", b"\n"))
        out.write(carry)
    return target


# --- XLSX -------------------------------------------------------------------------------------


# a day's serial number on the 1900 date system less its number on the 1904 one
DAYS_1900_TO_1904 = 1462


def in_1900_serials(
    con: duckdb.DuckDBPyConnection, extract: Extract, part: Part, mapping: dict[str, str]
) -> None:
    """A 1904 workbook's dates stored as plain numbers, in the part's date columns, as the 1900
    system's serials the parser reads (every date had been read 4 years and a day early)."""
    if not part.date_1904:
        return
    for column in extract.columns:
        if column.kind != "date" or column.name not in mapping:
            continue
        header = quote_ident(mapping[column.name])
        con.execute(
            f"UPDATE {part.table} SET {header} = CAST(CAST(CAST(trim({header}) AS DOUBLE) AS "
            f"INTEGER) + {DAYS_1900_TO_1904} AS VARCHAR) WHERE trim({header}) ~ '{EXCEL_SERIAL}'"
        )


def cell_text(value: object) -> str | None:
    """The text of a workbook cell as a person would type it
    (dates ISO, numbers without float noise)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return (
            value.date().isoformat()
            if value.time() == dt.time(0)
            else value.isoformat(sep=" ", timespec="seconds")
        )
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else format(value, ".15g")
    text = str(value)
    return text if text.strip() else None


ZERO_PADDED = re.compile(r"^0+$")


def _shown_text(cell) -> str | None:
    """A cell's text (cell_text), with the leading zeros a whole number's format shows: an id
    stored as the number 123 and shown as 00123 (format `00000`) is the 00123 a CSV export of the
    same system holds, so both hash to the same child."""
    value, shape = cell.value, getattr(cell, "number_format", None)
    text = cell_text(value)
    if (
        text is not None
        and isinstance(value, int | float)
        and not isinstance(value, bool)
        and float(value).is_integer()
        and value >= 0
        and shape
        and ZERO_PADDED.match(shape)
    ):
        return text.zfill(len(shape))
    places = _decimals_shown(shape) if isinstance(value, float) and text is not None else None
    if places is not None and not value.is_integer():
        # a formula's result (21546565/3) shown as money (£7,182,188.33) is the figure the
        # council reads: taken as shown, rounded half away from zero as Excel shows it; never
        # to fewer than pennies (a ledger shown in whole pounds still holds its pence)
        exact = Decimal(text)
        shown = exact.quantize(Decimal(1).scaleb(-max(places, 2)), rounding=ROUND_HALF_UP)
        if shown != exact:
            return format(shown, "f")
    return text


def _decimals_shown(shape: str | None) -> int | None:
    """The decimal places a number format shows a positive number with (`£#,##0.00` → 2,
    `#,##0` → 0); None for the general format, a percentage or a scientific one, whose text
    is not the value rounded."""
    if not shape or shape.lower() == "general":
        return None
    # the positive section, without quoted text, escaped characters, colours and conditions
    section = re.sub(r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.', "", shape.split(";")[0])
    if re.search(r"[%e/@dmyhs]", section.lower()):  # a percentage, scientific, fraction, text,
        return None  # or a date or time format (`hh:mm:ss.000`)
    digits = re.search(r"[0#?](?:[0#?,]*)(?:\.([0#?]*))?", section)
    if digits is None:
        return None
    return len(digits.group(1) or "")


def _holds_encrypted_package(path: Path) -> bool:
    """Whether an OLE2 file is an encrypted Office document: its directory, which may sit anywhere
    in the file, names an EncryptedPackage stream."""
    tail = b""
    for block in _blocks(path, 1 << 20):
        if ENCRYPTED_PACKAGE in tail + block:
            return True
        tail = block[-len(ENCRYPTED_PACKAGE) :]
    return False


def _not_xlsx(path: Path, display_name: str) -> FileRejected:
    if _holds_encrypted_package(path):
        return FileRejected(
            f"{display_name}: the workbook is encrypted (password-protected), so it cannot be "
            "read; save a copy without a password as .xlsx and drop that in instead"
        )
    return FileRejected(
        f"{display_name}: an Excel 97-2003 workbook (.xls) or another Office document, not a plain "
        ".xlsx; open it in Excel, save it as .xlsx and drop that in instead"
    )


def read_workbook_parts(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    display_name: str,
    sheets: list[str] | None,
    table_prefix: str,
    holds_data: Callable[[list[str]], bool] | None = None,
    resembles_data: Callable[[list[str]], tuple[list[str], list[str]]] | None = None,
    known: set[str] | None = None,
) -> list[Part]:
    """The workbook's configured `sheets`; when none are configured, every sheet whose header
    `holds_data` accepts (the extract's required columns: a ledger split into half-years is two
    sheets of it; a notes or lookups sheet is not data), or the first sheet when no sheet's does
    (so its missing columns are named). A sheet left out whose first rows hold a header like the
    extract's (`resembles_data`: the required columns it names) rejects the file: a credit notes
    sheet with a title above its header was skipped without a word, its money lost."""
    from openpyxl import load_workbook
    from openpyxl.utils.datetime import CALENDAR_MAC_1904
    from openpyxl.utils.exceptions import InvalidFileException

    # how a damaged workbook (cut short, corrupted) fails, opening it or reading its cells
    # (SyntaxError covers the XML parsers' errors)
    damaged = (
        InvalidFileException,
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        KeyError,
        ValueError,
        SyntaxError,
    )
    if _start_of(path).startswith(OLE2_SIGNATURE):
        raise _not_xlsx(path, display_name)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except damaged as error:
        raise _damaged_workbook(display_name, error) from error
    try:
        for worksheet in workbook.worksheets:
            # a read-only sheet trusts the size its file declares (<dimension>), which some
            # writers get wrong: read every row and column there is instead
            worksheet.reset_dimensions()
        if sheets:
            wanted = list(sheets)
        else:
            wanted = [
                name
                for name in workbook.sheetnames
                if holds_data is not None and holds_data(_sheet_header(workbook[name]))
            ] or workbook.sheetnames[:1]
            if resembles_data is not None:
                _refuse_sheets_left_out(workbook, wanted, display_name, resembles_data)
        absent = [s for s in wanted if s not in workbook.sheetnames]
        if absent:
            raise FileRejected(
                f"{display_name}: sheet(s) {', '.join(absent)} not found; sheets: "
                f"{', '.join(workbook.sheetnames)}"
            )
        uncalculated = _uncalculated_formula(path, wanted)
        if uncalculated is not None:
            sheet_name, cell = uncalculated
            raise FileRejected(
                f"{display_name}#{sheet_name}: cell {cell} holds a formula whose value was never "
                "calculated: the program that wrote the workbook left it for Excel to work out "
                "on opening, so what it saved (often 0, or nothing) may not be the figure "
                "Excel shows; open the workbook in Excel and save it, or export the values "
                "rather than formulas"
            )
        parts = []
        for index, sheet_name in enumerate(wanted):
            parts.append(
                _sheet_part(
                    con,
                    workbook[sheet_name],
                    f"{display_name}#{sheet_name}",
                    f"{table_prefix}_{index}",
                    known,
                )
            )
        if workbook.epoch == CALENDAR_MAC_1904:
            parts = [dataclasses.replace(part, date_1904=True) for part in parts]
        return parts
    except damaged as error:
        raise _damaged_workbook(display_name, error) from error
    finally:
        workbook.close()


SPREADSHEET_ML = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
RELATIONSHIPS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"


def _uncalculated_formula(path: Path, sheet_names: list[str]) -> tuple[str, str] | None:
    """The first formula cell (sheet, cell) among `sheet_names` when the workbook asks to be
    calculated on opening (`fullCalcOnLoad`): programs other than Excel write that and save no
    result with a formula (openpyxl) or 0 (XlsxWriter), which a reader of saved values takes
    for the amount (-£400k read as £0.00). Excel saves every formula's result and drops the
    flag, so a workbook it saved is read as it shows. Only such a workbook's sheets are parsed
    here."""
    from xml.etree import ElementTree

    with zipfile.ZipFile(path) as archive:
        book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        calculation = book.find(f"{SPREADSHEET_ML}calcPr")
        if calculation is None or calculation.get("fullCalcOnLoad") not in ("1", "true"):
            return None
        links = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
        targets = {link.get("Id"): link.get("Target", "") for link in links}
        for sheet in book.iter(f"{SPREADSHEET_ML}sheet"):
            if sheet.get("name") not in sheet_names:
                continue
            target = targets.get(sheet.get(f"{RELATIONSHIPS}id"), "")
            member = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            with archive.open(member) as part:
                for _, element in ElementTree.iterparse(part):
                    cell = element.tag == f"{SPREADSHEET_ML}c"
                    if cell and element.find(f"{SPREADSHEET_ML}f") is not None:
                        return sheet.get("name"), element.get("r", "?")
                    if element.tag in (f"{SPREADSHEET_ML}c", f"{SPREADSHEET_ML}row"):
                        element.clear()
    return None


def _damaged_workbook(display_name: str, error: Exception) -> FileRejected:
    # the zip layer's own words are about the file's structure; a parser's may quote a cell
    structural = (zipfile.BadZipFile, zlib.error, EOFError)
    detail = (
        f"{type(error).__name__}: {error}"
        if isinstance(error, structural)
        else type(error).__name__
    )
    return FileRejected(
        f"{display_name}: not a readable .xlsx workbook: it is damaged or cut short ({detail}); "
        "open it in Excel and save it again, or export it again"
    )


def _refuse_sheets_left_out(
    workbook,
    wanted: list[str],
    display_name: str,
    resembles_data: Callable[[list[str]], tuple[list[str], list[str]]],
) -> None:
    for name in workbook.sheetnames:
        if name in wanted:
            continue
        # below its first row with values: a title above the header (a sheet whose own first
        # row names two columns is another table, a summary by line, say, and is not data)
        for position, (number, texts) in enumerate(_first_rows(workbook[name], 10)):
            found, missing = resembles_data(texts)
            if position == 0 and len(found) >= 3 and len(missing) == 1:
                # every required column but one: the extract's rows under another name for it
                # (credit notes headed credit_date), not a summary, whose money was lost unsaid
                raise FileRejected(
                    f"{display_name}: sheet {name!r} names the extract's columns "
                    f"({', '.join(found)}) in row {number} but not {missing[0]}, so it is not "
                    f"read: name its {missing[0]} column as the contract does (or add its name "
                    "to ingest/config/header_aliases.yml), or list the sheets to read in "
                    "ingest/config/readers.yml"
                )
            if position > 0 and len(found) >= 2:
                raise FileRejected(
                    f"{display_name}: sheet {name!r} names the extract's columns "
                    f"({', '.join(found)}) in row {number} but is not read: a sheet is read when "
                    "its first row with values is the header the contract reads"
                    + f" (delete the row(s) above row {number})"
                    + ", or list the sheets to read in ingest/config/readers.yml"
                )


def _first_rows(sheet, count: int) -> list[tuple[int, list[str]]]:
    """A sheet's first `count` rows with values (row number, cells as text)."""
    rows = []
    for number, values in enumerate(sheet.iter_rows(values_only=True), 1):
        texts = [cell_text(v) for v in values]
        if any(t is not None for t in texts):
            rows.append((number, [t or "" for t in texts]))
            if len(rows) == count:
                break
    return rows


def _sheet_header(sheet) -> list[str]:
    """A sheet's first non-empty row, as text (its header, if it has one)."""
    for values in sheet.iter_rows(values_only=True):
        texts = [cell_text(v) for v in values]
        if any(t is not None for t in texts):
            return [t or "" for t in texts]
    return []


def _sheet_part(
    con: duckdb.DuckDBPyConnection, sheet, part_name: str, table: str, known: set[str] | None
) -> Part:
    """The sheet as temp table `table`, its first row with values the header; `known`: the
    normalised column names and aliases of the extract (a first row naming none of them is not
    quoted, first_line_words)."""
    rows = sheet.iter_rows()  # cells, not values: a number's format can hold its leading zeros
    header: list[str] | None = None
    header_row = 0
    records: list[list[str | None]] = []
    numbers: list[int] = []
    for row_number, cells in enumerate(rows, 1):
        texts = [_shown_text(cell) for cell in cells]
        if header is None:
            if any(t is not None for t in texts):
                header, header_row = [t or "" for t in texts], row_number
            continue
        if all(t is None for t in texts):
            continue  # an empty spreadsheet row holds no data
        records.append(texts)
        numbers.append(row_number)
    if header is None:
        raise FileRejected(f"{part_name}: the sheet is empty (no header row)")
    names = _unique_names(header)
    width = len(names)
    overflow = [
        n for n, r in zip(numbers, records, strict=False) if any(t is not None for t in r[width:])
    ]
    if overflow:
        named = [h for h in header if h.strip()]
        # a title or notes above the header: the first later row naming the extract's columns
        # is the real header (its number said, not its words: a data row is never quoted)
        real = next(
            (
                n
                for n, r in zip(numbers, records, strict=False)
                if known
                and not names_a_column(named, known)
                and names_a_column([t for t in r if t], known)
            ),
            None,
        )
        if real is not None:
            hint = (
                f"; row {real} names the extract's columns: if it is the real header, delete the "
                f"rows above it (rows {header_row}–{real - 1} look like a title or notes)"
            )
        elif len(named) <= 2:
            hint = ": if that is a title, delete the rows above the real header"
        else:
            hint = ""
        raise FileRejected(
            f"{part_name}: row {overflow[0]} has values beyond the last header column; the "
            f"header was taken from row {header_row}, the sheet's first row with values, which "
            f"holds {first_line_words(named, known or set())}" + hint
        )
    frame = pd.DataFrame(
        [(r + [None] * width)[:width] for r in records], columns=names, dtype=object
    )
    frame.insert(0, "_source_row", pd.Series(numbers, dtype="int64"))
    con.register("_sheet_frame", frame)
    try:
        casts = ", ".join(f"{quote_ident(n)}::VARCHAR AS {quote_ident(n)}" for n in names)
        con.execute(f"CREATE TEMP TABLE {table} AS SELECT _source_row, {casts} FROM _sheet_frame")
    finally:
        con.unregister("_sheet_frame")
    return Part(table, part_name, names, header)


def read_parts(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    display_name: str,
    extract: Extract,
    aliases: dict[str, str],
    reader_settings: dict,
    work_dir: Path,
) -> list[Part]:
    """Every part of a landing file as temp tables `_part_<n>`; FileRejected when unreadable."""
    known = known_headers(extract, aliases)
    suffix = path.suffix.lower()
    if suffix in WORKBOOK_SUFFIXES:
        sheets = settings_for(reader_settings, display_name).get("sheets")

        def holds_data(header: list[str]) -> bool:
            try:
                match_headers(extract, header, aliases, display_name)
            except FileRejected:
                return False
            return True

        def resembles_data(texts: list[str]) -> tuple[list[str], list[str]]:
            """The required columns a row names (as the contract or an alias spells them), and
            those it does not."""
            named = {aliases.get(normalise_header(t), normalise_header(t)) for t in texts if t}
            found = [c for c in extract.required if normalise_header(c) in named or c in named]
            return found, [c for c in extract.required if c not in found]

        return read_workbook_parts(
            con, path, display_name, sheets, "_part", holds_data, resembles_data, known
        )
    if suffix in CSV_SUFFIXES:
        return [read_csv_part(con, path, display_name, known, "_part_0", work_dir)]
    raise FileRejected(f"{display_name}: unsupported file type {suffix!r} (CSV or XLSX)")
