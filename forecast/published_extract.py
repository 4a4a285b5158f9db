"""The compact copy of the DfE's published data that ships with highneeds (`published_data/`), so
the report's benchmarks and aggregate mode work out of the box.

It holds only the rows and columns the readers use (`forecast.published`,
`report.benchmarks`, `report.requests`), in the DfE's own CSV layout, so they
read it exactly as they read the full files:

* the "Education, health and care plans" release (reporting year 2025): `caseload.csv` (all
  plans, and by age), `newplans.csv`, `requests.csv`, `assessments.csv` and
  `timeliness_20_week.csv` — England and every council, all-children rows;
* the reporting year 2022 release for the longer history: `sen2_estab_caseload.csv` (the
  establishment types mapped to provision types, and the totals) and `sen2_mi.csv` (new plans);
* the DSG allocations: high needs and schools block per council and year
  (`dsg_allocations_by_la_*.csv`) and, for finding similar councils, the units of funding and
  early years places of the allocations detail workbook (two sheets, as `.xlsx`).

`build_extract` makes it from the full files (`highneeds fetch-published --from DIR`, which is
how the shipped copy was made from ../shared/reference-data); `fetch_extract` downloads the EHCP
release's data sets from the DfE's statistics service (explore-education-statistics public API)
and compacts them the same way, keeping the DSG files, which that service does not publish.
Every published value is copied as published (`x`, `z`, `c` included): nothing is recomputed.
"""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .published import (
    RELEASE_2022,
    RELEASE_2025,
    SPLIT_COLUMNS,
    column_key,
    gives_column,
    published_number,
)

SHIPPED = Path(__file__).resolve().parent / "published_data"
EES_API = "https://api.education.gov.uk/statistics/v1"
EHCP_PUBLICATION = "Education, health and care plans"
PLACES = ("time_period", "geographic_level", "old_la_code", "la_name", "region_name")
COUNCILS_AND_ENGLAND = ("National", "Local authority")  # the readers skip regional rows
SETTINGS_2025 = [column for columns in RELEASE_2025.values() for column in columns]
DSG_ALLOCATIONS = "dsg_allocations_by_la_2019-20_to_2023-24.csv"
DSG_DETAIL = "dedicated-schools-grant_2023-24_blocks_detail"
# the similarity method's sheets, and the headings (prefixes) of the columns it reads
DSG_DETAIL_SHEETS = {
    "Schools_block_and_CSSB": (
        "primary schools unit of funding",
        "secondary schools unit of funding",
    ),
    "Early_years_block": (
        "number for 3 and 4 year old universal entitlement",
        "number for 3 and 4 year old additional 15 hours",
        "number for 2 year old entitlement",
    ),
}


@dataclass(frozen=True)
class Table:
    """One published CSV: which columns identify it, which rows and columns the readers use."""

    name: str
    folder: str  # inside the extract (the readers search sub-folders)
    columns: tuple[str, ...]
    keep: Callable[[dict[str, str]], bool]

    def identifies(self, header: list[str]) -> bool:
        return not self.missing(header)

    def missing(self, header: list[str]) -> list[str]:
        """The columns `header` gives neither itself nor as the parts a later release split it
        into (SPLIT_COLUMNS: written as their sum), whatever the case (column_key)."""
        header = [column_key(h) for h in header]
        return [
            c
            for c in self.columns
            if column_key(c) not in header
            and not (c in SPLIT_COLUMNS and all(p in header for p in SPLIT_COLUMNS[c]))
        ]


def _joined(row: dict[str, str], parts: tuple[str, ...]) -> str:
    """A column a release split into `parts`, as the release before gave it: their sum, the
    mark (x, c, z) where none is published (read as the readers read the parts: a part not
    published counts as none)."""
    numbers = [n for n in (published_number(row[p]) for p in parts) if n is not None]
    if not numbers:
        return row[parts[0]]
    total = sum(numbers)
    return str(int(total)) if total == int(total) else str(total)


def _all_children(row: dict[str, str]) -> bool:
    return (
        row["geographic_level"] in COUNCILS_AND_ENGLAND
        and row["breakdown_topic"] == row["breakdown"]
        and row["breakdown"].startswith("All")
    )


TABLES = (
    Table(
        "caseload.csv",
        "ehcp_2025",
        (*PLACES, "breakdown_topic", "breakdown", "ehcplans", *SETTINGS_2025),
        lambda r: (
            r["geographic_level"] in COUNCILS_AND_ENGLAND
            and (
                r["breakdown_topic"] == "All EHC plans"
                or (
                    r["breakdown_topic"] == "Child or young persons age"
                    and r["breakdown"].startswith("age ")
                )
            )
        ),
    ),
    Table(
        "newplans.csv",
        "ehcp_2025",
        (*PLACES, "breakdown_topic", "breakdown", "new_ehc_plans", *SETTINGS_2025),
        lambda r: (
            r["geographic_level"] in COUNCILS_AND_ENGLAND
            and r["breakdown_topic"] == "New EHC plans"
        ),
    ),
    Table(
        "requests.csv",
        "ehcp_2025",
        (*PLACES, "breakdown_topic", "breakdown", "requests_received_in_year", "request_assess_pc"),
        _all_children,
    ),
    Table(
        "assessments.csv",
        "ehcp_2025",
        (*PLACES, "breakdown_topic", "breakdown", "assess_issued"),
        _all_children,
    ),
    Table(
        "timeliness_20_week.csv",
        "ehcp_2025",
        (
            *PLACES,
            "breakdown_topic",
            "breakdown",
            "plans_issued_den",
            "pc_plans_issued_within_20_weeks",
            "PC_plans_issued_20_weeks_ex",
        ),
        _all_children,
    ),
    Table(
        "sen2_estab_caseload.csv",
        "ehcp_2022",
        (*PLACES, "establishment_group", "establishment_type", "Total_all"),
        lambda r: (
            r["geographic_level"] in COUNCILS_AND_ENGLAND
            and (
                r["establishment_type"] in RELEASE_2022
                or (r["establishment_group"] == "Total" and r["establishment_type"] == "Total")
            )
        ),
    ),
    Table(
        "sen2_mi.csv",
        "ehcp_2022",
        (*PLACES, "NewallEHC"),
        lambda r: r["geographic_level"] in COUNCILS_AND_ENGLAND,
    ),
    Table(
        DSG_ALLOCATIONS,
        "dsg",
        ("financial_year", "old_la_code", "la_name", "high_needs_block_gbp", "schools_block_gbp"),
        lambda r: True,
    ),
)
# the tables the DfE's statistics service publishes (the 2022 release's and the DSG files are kept)
EES_TABLES = tuple(t for t in TABLES if t.folder == "ehcp_2025")


class ExtractError(RuntimeError):
    """The published data cannot be extracted; the message says what is missing."""


def compact(source: Path, table: Table, target: Path) -> int:
    """Copy the rows and columns of `table` from the
    full file `source` to `target`; rows written."""
    with source.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = table.missing(reader.fieldnames or [])
        if missing:
            raise ExtractError(
                f"{source}: not the DfE's {table.name} (no column {', '.join(missing)})"
            )
        # named as the readers name them; written under the names the extract has always had
        reader.fieldnames = [column_key(h) for h in reader.fieldnames or []]
        rows = [
            [
                # (a file of both layouts: the parts where the old column is blank)
                row[column_key(c)]
                if gives_column(row, column_key(c))
                else _joined(row, SPLIT_COLUMNS[c])
                for c in table.columns
            ]
            for row in reader
            if table.keep(row)
        ]
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(table.columns)
        writer.writerows(rows)
    return len(rows)


def build_extract(full: Path, out: Path = SHIPPED) -> dict[str, int]:
    """The compact extract in `out` from a folder holding the DfE's full files
    (sub-folders searched)."""
    written = {}
    with _replacing(out) as building:
        for table in TABLES:
            source = _find(full, table.name)
            written[table.name] = compact(source, table, building / table.folder / table.name)
        detail = next(
            (
                p
                for suffix in (".ods", ".xlsx")
                for p in sorted(full.rglob(f"{DSG_DETAIL}{suffix}"))
            ),
            None,
        )
        if detail is None:
            raise ExtractError(f"{full}: no {DSG_DETAIL}.ods (the DSG allocations detail workbook)")
        written[f"{DSG_DETAIL}.xlsx"] = compact_dsg_detail(
            detail, building / "dsg" / f"{DSG_DETAIL}.xlsx"
        )
    return written


def compact_dsg_detail(source: Path, target: Path) -> int:
    """The similarity inputs of the DSG allocations detail workbook: its two sheets with their
    title, the council code and name and the columns the similarity method reads, headings
    unchanged."""
    import pandas as pd
    from openpyxl import Workbook

    sheets = pd.read_excel(
        source,
        sheet_name=list(DSG_DETAIL_SHEETS),
        header=None,
        engine="odf" if source.suffix == ".ods" else None,
    )
    workbook = Workbook()
    workbook.remove(workbook.active)
    councils = 0
    for name, prefixes in DSG_DETAIL_SHEETS.items():
        table = sheets[name]
        header = next(
            i
            for i in range(10)
            if any(str(v).strip().lower().startswith(prefixes) for v in table.iloc[i])
        )
        wanted = [
            j
            for prefix in prefixes
            for j, v in enumerate(table.iloc[header])
            if str(v).strip().lower().startswith(prefix)
        ][: len(prefixes)]
        sheet = workbook.create_sheet(name)
        sheet.append([table.iloc[0, 0]])
        sheet.append(["LA code", "LA name", *(table.iloc[header, j] for j in wanted)])
        rows = table.iloc[header + 1 :]
        rows = rows[pd.to_numeric(rows.iloc[:, 0], errors="coerce").notna()]
        for _, row in rows.iterrows():
            sheet.append([int(row.iloc[0]), row.iloc[1], *(float(row.iloc[j]) for j in wanted)])
        councils = max(councils, len(rows))
    target.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(target)
    return councils


# --- the DfE's statistics service ------------------------------------------------------------


def _get(url: str) -> bytes:
    request = urllib.request.Request(
        url, headers={"Accept": "application/json, text/csv", "User-Agent": "highneeds"}
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return response.read()


def fetch_extract(out: Path = SHIPPED, get: Callable[[str], bytes] = _get) -> dict[str, str]:
    """Refresh the EHCP release tables of the extract in `out` from the DfE's statistics service:
    find the publication, download each of its data sets as CSV, recognise ours by their
    columns, and compact them. The DSG files in `out` are kept. Returns file → data set title and
    version. Nothing in `out` changes unless every table was found."""
    search = urllib.parse.urlencode({"search": EHCP_PUBLICATION, "pageSize": 40})
    publications = json.loads(get(f"{EES_API}/publications?{search}"))["results"]
    publication = next(
        (p for p in publications if p["title"].strip().lower() == EHCP_PUBLICATION.lower()), None
    )
    if publication is None:
        raise ExtractError(f"the statistics service has no publication titled {EHCP_PUBLICATION!r}")
    data_sets, page = [], 1
    while True:
        listing = json.loads(
            get(f"{EES_API}/publications/{publication['id']}/data-sets?page={page}&pageSize=40")
        )
        data_sets += [d for d in listing["results"] if d.get("status", "Published") == "Published"]
        if page >= listing.get("paging", {}).get("totalPages", 1):
            break
        page += 1
    found: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as downloads, _replacing(out, keep=True) as building:
        # a new folder starts with the shipped tables the service does not publish
        for table in TABLES:
            if table not in EES_TABLES and not (building / table.folder / table.name).exists():
                (building / table.folder).mkdir(parents=True, exist_ok=True)
                shutil.copy2(
                    SHIPPED / table.folder / table.name, building / table.folder / table.name
                )
        if not any(building.rglob(f"{DSG_DETAIL}.*")):
            shutil.copy2(
                SHIPPED / "dsg" / f"{DSG_DETAIL}.xlsx", building / "dsg" / f"{DSG_DETAIL}.xlsx"
            )
        for data_set in data_sets:
            path = Path(downloads) / f"{data_set['id']}.csv"
            path.write_bytes(get(f"{EES_API}/data-sets/{data_set['id']}/csv"))
            with path.open(newline="", encoding="utf-8-sig") as handle:
                header = next(csv.reader(handle), [])
            table = next(
                (t for t in EES_TABLES if t.identifies(header) and t.name not in found), None
            )
            if table is None:
                continue
            compact(path, table, building / table.folder / table.name)
            found[table.name] = (
                f"{data_set['title']} (version {data_set['latestVersion'].get('version', '?')}, "
                f"published {data_set['latestVersion'].get('published', '?')[:10]})"
            )
        missing = [t.name for t in EES_TABLES if t.name not in found]
        if missing:
            raise ExtractError(
                f"the {EHCP_PUBLICATION!r} data sets on the statistics service hold no "
                f"{', '.join(missing)} (data sets: "
                f"{', '.join(d['title'] for d in data_sets) or 'none'}); the extract is unchanged"
            )
    return found


class _replacing:
    """Build a folder beside `out` and swap it in only when the block succeeds (with `keep`,
    starting from a copy of what `out` holds)."""

    def __init__(self, out: Path, keep: bool = False):
        self.out, self.keep = Path(out), keep

    def __enter__(self) -> Path:
        self.building = self.out.with_name(f"{self.out.name}.building")
        shutil.rmtree(self.building, ignore_errors=True)
        if self.keep and self.out.is_dir():
            shutil.copytree(self.out, self.building)
        self.building.mkdir(parents=True, exist_ok=True)
        return self.building

    def __exit__(self, kind, error, trace) -> None:
        if kind is not None:
            shutil.rmtree(self.building, ignore_errors=True)
            return
        # the notes (README, licence) are the repository's: carry them over
        for note in self.out.glob("*.md") if self.out.is_dir() else []:
            if not (self.building / note.name).exists():
                shutil.copy2(note, self.building / note.name)
        previous = self.out.with_name(f"{self.out.name}.previous")
        shutil.rmtree(previous, ignore_errors=True)
        if self.out.exists():
            self.out.rename(previous)
        self.building.rename(self.out)
        shutil.rmtree(previous, ignore_errors=True)


def _find(folder: Path, name: str) -> Path:
    matches = sorted(Path(folder).rglob(name))
    if not matches:
        raise ExtractError(f"{folder}: no {name} (sub-folders searched)")
    return matches[0]


def has_published_files(folder: Path) -> bool:
    """Whether a folder holds the DfE's files the benchmarks need
    (the EHCP release's caseload.csv)."""
    return Path(folder).is_dir() and any(Path(folder).rglob("caseload.csv"))


def describe(written: dict[str, int | str]) -> str:
    return "; ".join(
        f"{name}: {value:,} rows" if isinstance(value, int) else f"{name}: {value}"
        for name, value in written.items()
    )
