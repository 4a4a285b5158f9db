"""Read the DfE's published EHCP statistics into a caseload and new-plans history per council.

Files (from explore-education-statistics, "Education, health and care plans"; ../shared has
copies for the tests):

* reporting year 2025 release: `caseload.csv` (January censuses 2019–2025 by setting) and
  `newplans.csv` (new plans issued in calendar years 2019–2024 by setting);
* reporting year 2022 release: `sen2_estab_caseload.csv` (statements and plans by establishment
  type, 2010–2022) and `sen2_mi.csv` (new plans by council, 2014–2021).

Settings are mapped to the provision types every output uses. Each provision type is summed
from its own published columns; whatever the published total has beyond them (other settings,
rows DfE could not place) is `other`, so provision types always add up to the published total.
Published `x` (not available) and `z` (not applicable) count as nothing, except where a year
has a total but not one setting published (every setting column `x`, as for Cambridgeshire in
2025): its mix is unknown, not all `other`, so it takes the council's nearest year with a
published mix (the one before, else the one after), scaled to its total, and the council's
`imputed_mix` names the year. A setting marked for one council where most councils publish
it (its count withheld, beside the total and other settings) is not `other` either: what the
total has beyond the published settings is shared between the withheld ones and `other` as the
council's latest earlier year that published them shared it (England's that year where none
did), and `withheld_settings` names the year and the columns. New plans issued in
calendar year Y are joiners for the census of January Y + 1. Where both releases cover a year
the 2025 release wins. 2023 is a series break (aggregate return → person-level), which the
published figures carry and the forecasts see like any other change.
"""

from __future__ import annotations

import contextlib
import csv
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

NATIONAL = "E92000001"  # England's row in the published files
PROVISIONS = [
    "mainstream",
    "mainstream_rp_unit",
    "mss",
    "inmss",
    "ap",
    "post16_fe",
    "post16_spi",
    "eotas",
    "early_years",
    "other",
    "none",
]

# caseload.csv / newplans.csv columns (2025 release) → provision type
RELEASE_2025 = {
    "mainstream": [
        "mainstream_la_maintained",
        "mainstream_academy",
        "mainstream_free_school",
        "mainstream_independent",
    ],
    "mainstream_rp_unit": [
        "mainstream_la_maintained_resourced_provision",
        "mainstream_la_maintained_senunit",
        "mainstream_academy_resourced_provision",
        "mainstream_academy_senunit",
        "mainstream_free_school_resourced_provision",
        "mainstream_free_school_senunit",
    ],
    "mss": ["special_la_maintained", "special_academy_free"],
    "inmss": ["special_independent", "special_non_maintained"],
    "ap": ["ap_pru_total"],
    "post16_fe": ["general_fe_tertiary_colleges", "ukrlp_provider"],
    "post16_spi": ["specialist_post_16_institutions"],
    "eotas": ["other_arrangements_la"],
    "early_years": ["nm_early_years"],
    "none": ["neet", "neet_ntci", "neet_other", "neet_other_csa", "placement_unknown"],
}
# a column a later release split in two: read as the sum of its parts where it is not there
# (the 2026 release gives special academies and special free schools apart)
SPLIT_COLUMNS = {"special_academy_free": ("special_academy", "special_free_school")}
# sen2_estab_caseload.csv establishment_type → provision type (2022 release)
RELEASE_2022 = {
    "Mainstream - LA maintained": "mainstream",
    "Mainstream - Academy": "mainstream",
    "Mainstream - Free school": "mainstream",
    "Mainstream - Independent": "mainstream",
    "Mainstream - LA maintained - SEN unit": "mainstream_rp_unit",
    "Mainstream - LA maintained - Resourced provision": "mainstream_rp_unit",
    "Mainstream - Academy - SEN unit": "mainstream_rp_unit",
    "Mainstream - Academy - Resourced Provision": "mainstream_rp_unit",
    "Mainstream - Free school - SEN unit": "mainstream_rp_unit",
    "Mainstream - Free school - Resourced provision": "mainstream_rp_unit",
    "Special - LA maintained": "mss",
    "Special - Academy/free": "mss",
    "Special - Academy": "mss",
    "Special - Free school": "mss",
    "Special - Non-maintained": "inmss",
    "Special - Independent": "inmss",
    "AP/PRU - LA maintained": "ap",
    "AP/PRU - Academy": "ap",
    "AP/PRU - Free school": "ap",
    "General FE and tertiary colleges/HE": "post16_fe",
    "Sixth form college": "post16_fe",
    "Other FE": "post16_fe",
    "Specialist post-16 institutions": "post16_spi",
    "Other arrangements by local authority": "eotas",
    "Non-maintained early years": "early_years",
    "NEET": "none",
}
# its types counted in `other` (the total less the types above): placements no provision type
# holds, and the subtotals of its groups
RELEASE_2022_OTHER = (
    "Total",
    "Hospital School",
    "Independent specialist providers",
    "Other",
    "Other arrangements by parents",
    "Permanently excluded",
    "Elective home education",
    "Apprenticeship",
    "Supported Internship",
    "Traineeship",
    "Work-based learning",
    "Awaiting provision - total",
    "Awaiting provision - above compulsory school age and in education",
    "Awaiting provision - above compulsory school age and not in education",
    "Awaiting provision - below compulsory school age and in education",
    "Awaiting provision - below compulsory school age and not in education",
    "Awaiting provision - compulsory school age and in education",
    "Awaiting provision - compulsory school age and not in education",
)


def _type_key(kind: str) -> str:
    """An establishment type as the 2022 release's labels are matched: without case or repeated
    spaces (the file itself writes `Resourced Provision` and `Resourced provision`; one capital
    changed had sent every council's independent special plans to `other`, unsaid)."""
    return " ".join(kind.lower().split())


_RELEASE_2022_TYPES = {_type_key(kind): provision for kind, provision in RELEASE_2022.items()}
_RELEASE_2022_OTHER = {_type_key(kind) for kind in RELEASE_2022_OTHER}


@dataclass
class CouncilHistory:
    code: str  # old 3-digit LA code
    name: str
    region: str
    caseload: pd.DataFrame  # census year × provision type
    # census year (of the January after issue) × provision type; may be empty
    new_plans: pd.DataFrame
    caseload_by_age: pd.DataFrame  # census year × age (2024+ only)
    # census years whose provision mix was not published (a total only): given the nearest
    # published year's mix (all `other` when no year has one); no share is benchmarked for them
    imputed_mix: tuple[int, ...] = ()
    # census years the caseload file lists the council with its total not published (x, c, z):
    # a year missing, where a council reorganised away has no row at all
    total_not_published: tuple[int, ...] = ()
    # census years whose row marked some settings' counts (x, c, …) that most councils published,
    # beside its total: (year, the columns), their plans estimated (see _share_withheld)
    withheld_settings: tuple[tuple[int, tuple[str, ...]], ...] = ()
    new_code: str = ""  # the ONS code (E06000037) the files give beside the old one, if any

    @property
    def estimated_mix(self) -> set[int]:
        """Census years whose provision mix is in whole or part estimated, not published: no
        share of theirs is benchmarked or scored."""
        return set(self.imputed_mix) | {year for year, _ in self.withheld_settings}


def published_number(text: str | None) -> float | None:
    """A cell's number; None when it holds none (blank, `x`, `z`, `c` and the other marks)."""
    try:
        return float((text or "").strip().replace(",", ""))
    except ValueError:
        return None


# the DfE's marks for a figure it does not publish (explore-education-statistics' symbols): not
# available, not applicable, confidential, low reliability, rounds to zero; blank too
MARKS = frozenset({"", "x", "z", "c", "u", "low", "~", ":"})
# of those, the marks of a count there is but not given (not `z`, not applicable, nor blank)
WITHHELD_MARKS = frozenset({"x", "c", "u", "low", "~"})


def _count(row: dict[str, str], column: str) -> float | None:
    """A count of plans in `row`'s `column`; None for a mark. Any other text, or a negative
    count, is refused (the reader names file and line): read as a mark, then 0, a typing slip
    in a setting (38x7) moved its plans to `other` and a negative one gave −1,398 plans."""
    text = row[column]
    if text is None:
        raise ValueError(f"column {column!r}: the row has fewer fields than the header")
    cleaned = text.strip()
    if cleaned.lower() in MARKS:
        return None
    try:
        value = float(cleaned.replace(",", ""))
    except ValueError:
        raise ValueError(
            f"column {column!r} holds {text!r}: neither a number nor one of the DfE's marks "
            "(x, z, c, u, low, ~, :)"
        ) from None
    if not (value >= 0 and math.isfinite(value)):
        raise ValueError(f"column {column!r} holds {text!r}: a count of plans is 0 or more")
    return value


def _number(row: dict[str, str], column: str) -> float:
    return _count(row, column) or 0.0


def _published(row: dict[str, str], column: str) -> bool:
    """Whether a cell holds a number (not blank, not a suppression or not-available mark)."""
    return _count(row, column) is not None


def _impute_unknown_mix(years: dict[int, dict[str, float]], unknown: set[int]) -> tuple[int, ...]:
    """Give each year in `unknown` (a total, no setting published) the provision mix of the
    nearest year with one (earlier first), scaled to its own total, or all `other` when no year
    has one; the years of `unknown` the council has."""
    known = sorted(y for y in years if y not in unknown and sum(years[y].values()) > 0)
    imputed = []
    for year in sorted(unknown):
        if year not in years:
            continue
        total = sum(years[year].values())
        if not known:  # no year of the council has a mix: it is unknown, all `other`
            years[year] = {p: total if p == "other" else 0.0 for p in years[year]}
            imputed.append(year)
            continue
        before = [y for y in known if y < year]
        source = years[before[-1] if before else min(y for y in known if y > year)]
        whole = sum(source.values())
        years[year] = {p: total * source.get(p, 0.0) / whole for p in years[year]}
        imputed.append(year)
    return tuple(imputed)


class PublishedDataError(ValueError):
    """A published file that cannot be read as the DfE writes it: the message names the file,
    its line and the column."""


class _Row(dict):
    """A row whose columns are named without regard to case or spaces about the header: the
    DfE has written one column in another case from one release to the next, and read by its
    exact name such a release was refused as having lost the column."""

    def __getitem__(self, column: str) -> str:
        return super().__getitem__(column_key(column))

    def __contains__(self, column: object) -> bool:
        return isinstance(column, str) and super().__contains__(column_key(column))

    def get(self, column: str, default=None):
        return super().get(column_key(column), default)


def column_key(column: str) -> str:
    """A published file's column name as every reader of the DfE's files matches it (these
    rows, the report's requests table, the shipped extract's builder): without regard to case
    or spaces about it, the DfE having changed a column's case between releases."""
    return column.strip().lower()


def _rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """The file's rows with their line numbers in the file (the header is line 1), each a _Row."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [column_key(h) for h in reader.fieldnames or ()]
            # (blank names, an Excel row's trailing commas, name nothing to read)
            if twice := sorted({h for h in header if h and header.count(h) > 1}):
                raise PublishedDataError(
                    f"{path}: the header names {', '.join(repr(h) for h in twice)} twice "
                    "(whatever the case): which is meant cannot be told"
                )
            reader.fieldnames = header
            rows = []
            try:
                # each row's line in the file (a blank line is skipped, and counted)
                for row in reader:
                    if None in row or None in row.values():
                        # csv puts a long row's extra fields under None and fills a short
                        # row with None: every cell after the gap was read from its neighbour
                        fields = (
                            len(reader.fieldnames or ())
                            + len(row.get(None) or ())
                            - sum(v is None for v in row.values())
                        )
                        raise PublishedDataError(
                            f"{path}:{reader.line_num}: {fields} fields where the header has "
                            f"{len(reader.fieldnames or ())}: a cell lost or added shifts every "
                            "column after it"
                        )
                    rows.append((reader.line_num, _Row(row)))
            except csv.Error as error:  # a field over the csv module's limit (128 KiB)
                # the csv module counts lines unreliably inside the row it fails on
                raise PublishedDataError(
                    f"{path}, after line {reader.line_num}: {error}"
                ) from error
            return rows
    except UnicodeDecodeError as error:
        raise PublishedDataError(
            f"{path}: not UTF-8 ({error.reason} at byte {error.start}): save it as CSV UTF-8, "
            "as the DfE publishes it"
        ) from error


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[list[int]]:
    """Around a loop over `_rows(path)` that keeps its line in the list yielded: a cell it
    cannot read is refused by file, line and column (a missing column, a time period of
    2024/25), not a bare int() error."""
    at = [1]
    try:
        yield at
    except KeyError as error:
        raise PublishedDataError(f"{path}: no column {error.args[0]!r}") from error
    except (ValueError, IndexError, AttributeError) as error:
        if isinstance(error, PublishedDataError):
            raise
        raise PublishedDataError(f"{path}:{at[0]}: {error}") from error


def _setting_cells(row: dict[str, str]) -> dict[str, float | None]:
    """Each setting column the row's provision types are read from (a split column's parts
    where the row has them instead) with its count, None for a mark."""
    cells = {}
    for columns in RELEASE_2025.values():
        for column in columns:
            for read in (column,) if gives_column(row, column) else SPLIT_COLUMNS.get(column, ()):
                cells[read] = _count(row, read)
    return cells


def gives_column(row: dict[str, str], column: str) -> bool:
    """Whether the row gives `column` rather than its split parts: a file of both layouts (a
    later release's rows appended to the 2025 file) leaves the old column blank in the new rows,
    or the parts blank in the old: 82,000 special school plans of 2025 read as `other`, green."""
    parts = SPLIT_COLUMNS.get(column, ())
    if column not in row:
        return False
    if not parts or not all(p in row for p in parts) or (row[column] or "").strip():
        return True
    return not any((row[p] or "").strip() for p in parts)


# a setting column → its provision type (a split column's parts too)
COLUMN_PROVISION = {
    read: provision
    for provision, columns in RELEASE_2025.items()
    for column in columns
    for read in (column, *SPLIT_COLUMNS.get(column, ()))
}


def _withheld_settings(
    cells: dict[str, dict[int, dict[str, float | None]]],
) -> dict[str, dict[int, tuple[str, ...]]]:
    """The setting columns each council's row marks (x, c, …) in a census where at least half
    the councils publish them, beside a total and other settings published: the council's
    count withheld, not a column the census did not collect (every council's x: NEET and
    unknown before 2022); a row with no setting published is a mix unknown whole instead."""
    publishing: dict[int, dict[str, int]] = {}
    rows: dict[int, int] = {}
    for code, years in cells.items():
        if code == NATIONAL:
            continue
        for year, row in years.items():
            rows[year] = rows.get(year, 0) + 1
            for column, count in row.items():
                if count is not None:
                    publishing.setdefault(year, {})[column] = (
                        publishing.get(year, {}).get(column, 0) + 1
                    )
    withheld: dict[str, dict[int, tuple[str, ...]]] = {}
    for code, years in cells.items():
        for year, row in years.items():
            if code == NATIONAL or all(count is None for count in row.values()):
                continue
            marked = tuple(
                column
                for column, count in row.items()
                if count is None and 2 * publishing.get(year, {}).get(column, 0) >= rows[year]
            )
            if marked:
                withheld.setdefault(code, {})[year] = marked
    return withheld


def _share_withheld(
    years: dict[int, dict[str, float]],
    cells: dict[int, dict[str, float | None]],
    withheld: dict[int, tuple[str, ...]],
    england: tuple[dict[int, dict[str, float]], dict[int, dict[str, float | None]]],
) -> tuple[int, ...]:
    """Share what a year's total has beyond its published settings (read as `other`) between
    its withheld settings and `other` as the council's latest earlier year that published them
    shared them (England's same year where it has none: nothing from after the year, so a
    backtest's history is what was published by then); the years it changed. Read as `other`,
    Lancashire's three large settings marked c moved 6,300 plans out of special schools."""
    changed = []
    for year, columns in sorted(withheld.items()):
        remainder = years[year]["other"]
        if remainder <= 0:  # the withheld settings hold no plans: the mix is the published one
            continue
        earlier = [
            y
            for y in sorted(cells, reverse=True)
            if y < year and all(cells[y].get(c) is not None for c in columns)
        ]
        source, source_other = (
            (cells[earlier[0]], years[earlier[0]]["other"])
            if earlier
            else (england[1].get(year, {}), england[0].get(year, {}).get("other", 0.0))
        )
        weights = {c: source.get(c) or 0.0 for c in columns}
        whole = sum(weights.values()) + source_other
        if whole <= 0:
            continue
        for column, weight in weights.items():
            years[year][COLUMN_PROVISION[column]] += remainder * weight / whole
        years[year]["other"] = remainder * source_other / whole
        changed.append(year)
    return tuple(changed)


def _by_setting(
    row: dict[str, str], total_column: str, cells: dict[str, float | None] | None = None
) -> dict[str, float]:
    """Plans per provision type from the row's setting columns (`cells`: its _setting_cells,
    when read already), what the total has beyond them in `other`."""
    values = dict.fromkeys(RELEASE_2025, 0.0)
    for column, count in (_setting_cells(row) if cells is None else cells).items():
        values[COLUMN_PROVISION[column]] += count or 0.0
    total, placed = _number(row, total_column), sum(values.values())
    if placed > total + 0.5:
        raise ValueError(
            f"column {total_column!r}: {total:,.0f} plans, fewer than its settings' "
            f"{placed:,.0f}: a total or a setting is mistyped"
        )
    values["other"] = max(0.0, total - placed)
    return values


def check_setting_columns(path: Path, header: Iterable[str], total_column: str) -> None:
    """Refuse a caseload or new-plans file without a column the provision types are read from
    (or the total): read as 0, a renamed setting's plans went to `other` (special academies,
    half the special school plans, when a release split the column) and a renamed total dropped
    the release, exit 0."""
    header = set(header)
    missing = [total_column] if total_column not in header else []
    for columns in RELEASE_2025.values():
        for column in columns:
            parts = SPLIT_COLUMNS.get(column, ())
            if column not in header and not (parts and all(p in header for p in parts)):
                missing.append(column)
    if missing:
        raise PublishedDataError(
            f"{path}: no column {', '.join(repr(c) for c in missing)}: the DfE's headers have "
            "changed since the 2025 release this reads; its plans would count as another "
            "provision type's (or the release as not there). Map the new column in "
            "forecast/published.py (RELEASE_2025, SPLIT_COLUMNS) or use the shipped extract"
        )


TOTAL_TOPIC = "All EHC plans"  # caseload.csv's breakdown_topic of a council's total
AGE_TOPIC = "Child or young persons age"  # … and of its plans by age


class _Once:
    """Refuses a second row of one council, year and breakdown in a file: the later one had
    replaced the first (or been added to it) without a word — West Berkshire's 2025 total given
    twice, the second doubled, forecast 4,250 plans for 2026 instead of 1,865."""

    def __init__(self) -> None:
        self.seen: dict[tuple, int] = {}

    def check(self, line: int, code: str, year: int, *breakdown: str) -> None:
        key = (code, year, *breakdown)
        first = self.seen.setdefault(key, line)
        if first != line:
            who = "England" if code == NATIONAL else f"council {code}"
            raise ValueError(
                f"a second row for {who}, {year}, {' / '.join(breakdown)} (the first is line "
                f"{first}): keep one"
            )


def _census_year(time_period: str) -> int:
    """201819 → 2019 (January 2019 census); 2019 → 2019."""
    return int(time_period[-2:]) + 2000 if len(time_period) == 6 else int(time_period)


def published_files(folder: Path) -> dict[str, Path]:
    """The CSV files under `folder` by name; two of one name (two releases' caseload.csv) are
    refused, naming both: whichever the folder listed last had won, unsaid."""
    files: dict[str, Path] = {}
    for path in sorted(folder.rglob("*.csv")):
        if path.name in files:
            raise PublishedDataError(
                f"{folder}: two files named {path.name} ({files[path.name]} and {path}): keep "
                "one release's copy"
            )
        files[path.name] = path
    return files


def releases_missing(folder: Path) -> list[str]:
    """A sentence for each file of caseloads load_published reads when present that `folder`
    lacks: the history read without it is shorter, and would say nothing of it otherwise (new
    plans, read only by the report's benchmarks, are not a caseload)."""
    if "sen2_estab_caseload.csv" in published_files(folder):
        return []
    return [
        f"sen2_estab_caseload.csv is not under {folder}: without the caseloads of January "
        "2010–2018 (the reporting year 2022 release of 'Education, health and care plans', "
        "explore-education-statistics.service.gov.uk) every council's history starts at 2019"
    ]


def load_published(folder: Path) -> dict[str, CouncilHistory]:
    """Every council (and England, code 'E92000001') in the published files under `folder`."""
    files = published_files(folder)
    if not folder.is_dir():
        # (said "caseload.csv not found", as of a folder without the release)
        raise FileNotFoundError(
            f"{folder}: {'not a folder' if folder.exists() else 'no such folder'}: give the "
            "folder the DfE's published files are in"
        )
    if "caseload.csv" not in files:
        older = (
            " (the folder holds the 2022 release's sen2_estab_caseload.csv, to January 2022: "
            "its years are read beside a later release's caseload.csv, which they do not "
            "replace)"
            if "sen2_estab_caseload.csv" in files
            else ""
        )
        raise FileNotFoundError(
            f"{folder}: caseload.csv not found{older} — download the latest 'Education, health "
            "and care plans' release data (2023 or later) from "
            "explore-education-statistics.service.gov.uk"
        )
    caseload: dict[str, dict[int, dict[str, float]]] = {}
    unknown_mix: dict[str, set[int]] = {}  # years with a total but no setting published
    setting_cells: dict[str, dict[int, dict[str, float | None]]] = {}  # caseload.csv's settings
    not_published: dict[str, set[int]] = {}  # years listed with the total x, c or z
    names: dict[str, tuple[str, str]] = {}
    by_age: dict[str, dict[int, dict[int, float]]] = {}

    def key_of(row: dict[str, str]) -> str | None:
        # (the DfE's labels as it writes them; a space or a capital more read no council)
        level = row["geographic_level"].strip().lower()
        if level == "national":
            names["E92000001"] = ("England", "England", "E92000001")
            return "E92000001"
        if level != "local authority":
            return None
        code = row["old_la_code"].strip()
        if not re.fullmatch(r"[0-9]{3}", code):
            # the council's key, and its simulations' seed: an ONS code or a blank there ended
            # in a bare int() error from the forecast, naming no file
            raise ValueError(
                f"column old_la_code: {row['old_la_code']!r} for {row.get('la_name', '')!r} is "
                "not a 3-digit old LA code"
            )
        names[code] = (
            row["la_name"],
            row.get("region_name", ""),
            (row.get("new_la_code") or "").strip().upper(),
        )
        return code

    with _reading(files["caseload.csv"]) as at:
        rows = _rows(files["caseload.csv"])
        if rows:
            check_setting_columns(files["caseload.csv"], rows[0][1].keys(), "ehcplans")
        once = _Once()
        census_years: set[int] = set()  # with a council's row of any topic
        topics: set[str] = set()
        for at[0], row in rows:
            code = key_of(row)
            if code is None:
                continue
            year = _census_year(row["time_period"])
            topic = row["breakdown_topic"].strip()
            if code != NATIONAL:  # (England's row is no council's total)
                census_years.add(year)
                topics.add(topic)
            if topic == TOTAL_TOPIC:
                # one total a council and year, whatever its breakdown says: a second row
                # labelled 'Total' had replaced the published one (1,850 for 1,685), exit 0
                once.check(at[0], code, year, topic)
            elif topic == AGE_TOPIC:  # the rows read (other topics may repeat)
                once.check(at[0], code, year, topic, row.get("breakdown", "").strip())
            if topic == TOTAL_TOPIC:
                if not _published(row, "ehcplans"):
                    # a council's total not published (x, c, z): a year missing, not 0 plans (read
                    # as 0 it ranked the council's growth at -100% and pulled its region's down)
                    not_published.setdefault(code, set()).add(year)
                    continue
                cells = setting_cells.setdefault(code, {})[year] = _setting_cells(row)
                caseload.setdefault(code, {})[year] = _by_setting(row, "ehcplans", cells)
                if all(c is None for c in cells.values()) and _number(row, "ehcplans") > 0:
                    unknown_mix.setdefault(code, set()).add(year)
            elif (
                topic == AGE_TOPIC
                and row["breakdown"].strip().startswith("age ")
                and _published(row, "ehcplans")  # an age's x is unknown, not 0 plans
            ):
                age = int(row["breakdown"].split()[1])
                by_age.setdefault(code, {}).setdefault(year, {})[age] = _number(row, "ehcplans")
        totalled = {
            year
            for by_code in (caseload, not_published)
            for code, years in by_code.items()
            if code != NATIONAL
            for year in years
        }
        if untotalled := sorted(census_years - totalled):
            # read as no council's caseload that year, a relabelled topic dropped the census
            # (or the whole release) and the forecast ran from an earlier one, exit 0
            raise PublishedDataError(
                f"{files['caseload.csv']}: no council's row in column 'breakdown_topic' says "
                f"{TOTAL_TOPIC!r} (a council's total) for the census of "
                f"{', '.join(f'January {y}' for y in untotalled)}; its topics there: "
                f"{', '.join(repr(t) for t in sorted(topics))}"
            )

    if "sen2_estab_caseload.csv" in files:
        old: dict[str, dict[int, dict[str, float]]] = {}
        totals: dict[str, dict[int, float]] = {}
        placed: dict[str, set[int]] = {}  # years with a setting's count published
        withheld_2022: dict[str, set[int]] = {}  # years with a setting's count withheld
        with _reading(files["sen2_estab_caseload.csv"]) as at:
            once = _Once()
            for at[0], row in _rows(files["sen2_estab_caseload.csv"]):
                code = key_of(row)
                if code is None:
                    continue
                year = int(row["time_period"])
                # (a row given twice was added twice to its provision type)
                group, kind = row["establishment_group"].strip(), row["establishment_type"].strip()
                once.check(at[0], code, year, _type_key(group), _type_key(kind))
                # (matched as the types are: a group written TOTAL dropped every year 2010-2022)
                if _type_key(group) == _type_key(kind) == "total" and _published(row, "Total_all"):
                    totals.setdefault(code, {})[year] = _number(row, "Total_all")
                provision = _RELEASE_2022_TYPES.get(_type_key(kind))
                if provision is None and _type_key(kind) not in _RELEASE_2022_OTHER:
                    raise PublishedDataError(
                        f"{files['sen2_estab_caseload.csv']}:{at[0]}: column "
                        f"'establishment_type' holds {kind!r}, a type the 2022 release does not "
                        "have: its plans would count as no provision type (forecast/published.py "
                        "lists the types, RELEASE_2022 and RELEASE_2022_OTHER)"
                    )
                if provision:
                    cell = old.setdefault(code, {}).setdefault(year, dict.fromkeys(PROVISIONS, 0.0))
                    cell[provision] += _number(row, "Total_all")
                    if _published(row, "Total_all"):
                        placed.setdefault(code, set()).add(year)
                    elif row["Total_all"].strip().lower() in WITHHELD_MARKS:
                        # a type's count withheld (c, x) beside the total: its plans would
                        # have counted as `other`, and the year's types been scored so
                        withheld_2022.setdefault(code, set()).add(year)
        for code, years in old.items():
            for year, values in years.items():
                if year in caseload.get(code, {}) or year not in totals.get(code, {}):
                    continue  # the 2025 release wins where both have the year; no total: missing
                values["other"] = max(
                    0.0, totals.get(code, {}).get(year, 0.0) - sum(values.values())
                )
                caseload.setdefault(code, {})[year] = values
                if (
                    year not in placed.get(code, set()) and values["other"] > 0
                ) or year in withheld_2022.get(code, set()):
                    # its mix is the nearest year's, and no type of it is scored
                    unknown_mix.setdefault(code, set()).add(year)

    new_plans: dict[str, dict[int, dict[str, float]]] = {}
    if "newplans.csv" in files:
        with _reading(files["newplans.csv"]) as at:
            rows = _rows(files["newplans.csv"])
            if rows:
                check_setting_columns(files["newplans.csv"], rows[0][1].keys(), "new_ehc_plans")
            once = _Once()
            for at[0], row in rows:
                code = key_of(row)
                if code is None or row["breakdown_topic"].strip() != "New EHC plans":
                    continue
                once.check(
                    at[0], code, int(row["time_period"]), "New EHC plans", row.get("breakdown", "")
                )
                if not _published(row, "new_ehc_plans"):
                    continue  # a total not published (x, c, z): a year missing, not 0 new plans
                new_plans.setdefault(code, {})[int(row["time_period"]) + 1] = _by_setting(
                    row, "new_ehc_plans"
                )
    if "sen2_mi.csv" in files:
        with _reading(files["sen2_mi.csv"]) as at:
            for at[0], row in _rows(files["sen2_mi.csv"]):
                code = key_of(row)
                if code is None:
                    continue
                year = int(row["time_period"]) + 1
                # (an older copy without the column has no new plans to give)
                if (
                    year not in new_plans.get(code, {})
                    and "NewallEHC" in row
                    and _published(row, "NewallEHC")
                ):
                    new_plans.setdefault(code, {})[year] = {"total": _number(row, "NewallEHC")}

    councils = {}
    withheld = _withheld_settings(setting_cells)
    england = caseload.get(NATIONAL, {}), setting_cells.get(NATIONAL, {})
    for code, years in caseload.items():
        shared = _share_withheld(
            years, setting_cells.get(code, {}), withheld.get(code, {}), england
        )
        imputed = _impute_unknown_mix(years, unknown_mix.get(code, set()))
        frame = (
            pd.DataFrame.from_dict(years, orient="index")
            .reindex(columns=PROVISIONS)
            .fillna(0.0)
            .sort_index()
        )
        joiners = pd.DataFrame.from_dict(new_plans.get(code, {}), orient="index").sort_index()
        ages = pd.DataFrame.from_dict(by_age.get(code, {}), orient="index").sort_index()
        name, region, new_code = names.get(code, (code, "", ""))
        councils[code] = CouncilHistory(
            code,
            name,
            region,
            frame,
            joiners,
            ages,
            imputed,
            tuple(sorted(not_published.get(code, set()) - set(years))),
            tuple((year, withheld[code][year]) for year in shared),
            new_code,
        )
    return councils


# England's published total and its councils' totals differ by more than this share of England's
# in a census: in every release 2010-2025 the two are equal to the plan
ENGLAND_SUM_TOLERANCE = 0.005


def england_disagrees(councils: dict[str, CouncilHistory]) -> list[str]:
    """A sentence for each census whose councils' published totals do not add up to England's
    (ENGLAND_SUM_TOLERANCE): more, a file holding a council beside those that replaced it (a
    "continuity" series: Northamptonshire given on after 2021 beside North and West, its plans
    forecast twice); more or less, England's row from another release (every council's forecast
    moved by up to 5,860 plans, the national growth read from it wrong): both without a word.
    Less is not said of a census where a council's total is withheld (x, c, z)."""
    if NATIONAL not in councils:
        return []
    england = councils[NATIONAL].caseload.sum(axis=1)
    others = [c for code, c in councils.items() if code != NATIONAL]
    summed = sum(
        (c.caseload.sum(axis=1).reindex(england.index).fillna(0.0) for c in others),
        pd.Series(0.0, index=england.index),
    )
    withheld = {year for c in others for year in c.total_not_published}
    said = []
    for year, total in england.items():
        gap = summed[year] - total
        if (
            total <= 0
            or abs(gap) <= ENGLAND_SUM_TOLERANCE * total
            or (gap < 0 and year in withheld)
        ):
            continue
        cause = (
            "the files may hold a council beside the councils that replaced it, or England's "
            "row from another release"
            if gap > 0
            else "a council's row may be left out of the files, or England's row be from "
            "another release"
        )
        said.append(
            f"January {year}: England's published total is {total:,.0f} plans and its "
            f"councils' totals add up to {summed[year]:,.0f} ({summed[year] / total - 1:+.1%}): "
            f"{cause}. England's growth is read from its row and each council's from its own: "
            "check the published files before using the forecast"
        )
    return said


def as_of(councils: dict[str, CouncilHistory], origin: int) -> dict[str, CouncilHistory]:
    """What the published files held in the summer after the January `origin` census: every row
    for a later census (and new plans issued in or after the origin's calendar year, which count
    for later censuses) dropped; councils with nothing by then left out."""
    known = {}
    for code, council in councils.items():
        caseload = council.caseload.loc[:origin]
        if caseload.empty:
            continue
        imputed: tuple[int, ...] = ()
        if any(year <= origin for year in council.imputed_mix):
            # a mix given from a later year would carry data from after the origin: again from
            # what was published by then
            years = caseload.to_dict(orient="index")
            imputed = _impute_unknown_mix(years, {y for y in council.imputed_mix if y <= origin})
            caseload = pd.DataFrame.from_dict(years, orient="index")[caseload.columns]
        known[code] = CouncilHistory(
            code,
            council.name,
            council.region,
            caseload,
            council.new_plans.loc[:origin],
            council.caseload_by_age.loc[:origin],
            imputed,
            tuple(y for y in council.total_not_published if y <= origin),
            tuple((y, columns) for y, columns in council.withheld_settings if y <= origin),
            council.new_code,
        )
    return known


def _name_key(name: str) -> str:
    """A council's name as a reader might type it: case, '&' for 'and', 'St' for 'St.', a
    leading 'City of' and spacing do not matter."""
    key = re.sub(r"[^a-z0-9 ]", " ", name.lower().replace("&", " and "))
    key = re.sub(r"^city of ", "", " ".join(key.split()))
    return key


# England's regions: 'London' read as the City of London (its name less 'City of'), a council
# of 26 plans, where the reader meant 33 boroughs
REGIONS = frozenset(
    {
        "north east",
        "north west",
        "yorkshire and the humber",
        "east midlands",
        "west midlands",
        "east of england",
        "london",
        "inner london",
        "outer london",
        "south east",
        "south west",
    }
)


def find_council(councils: dict[str, CouncilHistory], query: str) -> CouncilHistory:
    """By old LA code (e.g. 869), new code (E06000037, where the files give it) or name ('St
    Helens', 'Brighton & Hove', 'City of Bristol', 'Hull': a whole word of one council's name,
    not part of a word, 'Hart' having read as Hartlepool); a region's name is not a council's."""
    query = query.strip()
    if query in councils:
        return councils[query]
    by_new_code = [c for c in councils.values() if c.new_code and c.new_code == query.upper()]
    if len(by_new_code) == 1:
        return by_new_code[0]
    wanted = _name_key(query)
    matches = [c for c in councils.values() if _name_key(c.name) == wanted]
    if wanted in REGIONS and not any(c.name.strip().lower() == query.lower() for c in matches):
        raise KeyError(
            f"{query!r} is a region, not a council: name one of its councils, or forecast "
            "every council with --la all"
        )
    if not matches:
        whole_words = re.compile(rf"\b{re.escape(wanted)}\b")
        matches = [c for c in councils.values() if wanted and whole_words.search(_name_key(c.name))]
    if len(matches) != 1:
        # a name two councils share across a reorganisation (Dorset 835, abolished in 2019, and
        # 838): say which one the files stop for
        latest = max((int(c.caseload.index.max()) for c in councils.values()), default=0)

        def named(c: CouncilHistory) -> str:
            last = int(c.caseload.index.max()) if len(c.caseload) else None
            gone = f", published to January {last} only" if last and last < latest else ""
            return f"{c.code} {c.name}{gone}"

        hint = ", ".join(named(c) for c in matches[:8]) or "none"
        given = any(c.new_code for code, c in councils.items() if code != NATIONAL)
        new_code = (
            (
                "; no council in the published files has that new code"
                if given
                # (the shipped extract keeps old codes only: "no council has that new code"
                # read as if the council were not in the files)
                else "; these published files give no new codes (the shipped extract keeps the "
                "old ones only; the DfE's own files give both)"
            )
            + ": give its old 3-digit LA code (e.g. 869) or its name"
            if re.fullmatch(r"E\d{8}", query, flags=re.IGNORECASE)
            else ""
        )
        raise KeyError(f"no single council matches {query!r} (matches: {hint}){new_code}")
    return matches[0]
