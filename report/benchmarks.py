"""Benchmarks from the DfE's published data: the council against England, its region and its most
similar councils, with rank and percentile among all councils; and published figures that look
like data errors, flagged rather than used.

Inputs, all in one folder the user downloads (`HIGHNEEDS_PUBLISHED`, default
`<landing>/reference`; any sub-folders are searched):

* the "Education, health and care plans" release files read by `forecast.published`
  (`caseload.csv`, `newplans.csv`; optionally the 2022 release's `sen2_estab_caseload.csv`);
* DSG allocations per council as a CSV with `financial_year, old_la_code, high_needs_block_gbp`
  (and `schools_block_gbp`), e.g. `dsg_allocations_by_la_2019-20_to_2023-24.csv` (the DfE's
  "Dedicated schools grant allocations" tables, one row per council and year);
* for the similarity method, the DfE's DSG allocations detail workbook for one year
  (`dedicated-schools-grant_*_blocks_detail.ods` or `.xlsx`, sheets `Schools_block_and_CSSB`
  and `Early_years_block`).

Indicators (each for the latest year the files hold, on the council's January census):

* `ehcp_growth_1y`: plans at January Y ÷ plans at January Y−1 − 1;
* `ehcp_growth_5y`: average annual growth from January Y−5 to January Y;
* `share_independent_special`: plans in independent or non-maintained special schools ÷ all plans;
* `share_mainstream`: plans in mainstream schools, their resourced provisions and SEN units
  included (the DfE's `mainstream_total`) ÷ all plans (neither share for a year the DfE
  published a total without its settings: `x`);
* `new_plans_per_100`: new plans issued in calendar year Y−1 per 100 plans at January Y−1;
* `hnb_per_plan`: the high needs block allocation (before deductions for directly funded places)
  for financial year F ÷ plans at the January census inside F.

England is the published national figure (the DSG file's ENGLAND row); the region is pooled
(the sum of its councils' numerators over the sum of their denominators); similar councils are
summarised by their median. Rank 1 is the highest value among all councils with an unflagged
value; the percentile is the share of those councils with a lower value.

Most similar councils — unless the user names them (`HIGHNEEDS_NEIGHBOURS`, e.g. the DfE LAIT
statistical neighbours) — are the `k` (default 10) nearest by Euclidean distance on four
published indicators of the council's population, each standardised to mean 0 and standard
deviation 1 across councils (all from the DSG allocations detail workbook):

1. the schools block primary unit of funding (£ per pupil) and
2. the secondary unit of funding: the schools funding formula's deprivation, low prior
   attainment, English as an additional language and area-cost factors per pupil;
3. funded two-year-old places (an entitlement for disadvantaged families) per universal
   three- and four-year-old place: a direct measure of disadvantage;
4. extended-entitlement places for working parents per universal place: parental employment.

None of the compared indicators (growth, placement mix, new plans, HNB per plan) is an input,
so neighbours are not chosen for resembling the council on what is being compared. Checked
against the DfE LAIT 2025 statistical neighbours of ten councils of different kinds (West
Berkshire, Bracknell Forest, Hartlepool, Derby, Warrington, Stockport, Reading, Cornwall,
Manchester, Swindon), it finds 37 of their 100 neighbours (6 of 10 for West Berkshire); by
chance it would find about 7.

Data errors. A published count (per council, year and provision type, and the total) is flagged
when it falls below 60% of both the year before and the year after, or rises above both by more
than 1/0.6, by at least 20 plans, while the years either side agree within a factor of 1.5: a
figure that halves (or doubles) and recovers the next year, like West Berkshire's maintained
special schools in January 2023 (311 → 153 → 325). Flagged figures are listed; an indicator
built on one is shown but not ranked and left out of the region and similar-council figures. A
latest-year count that halves or doubles cannot be confirmed yet; it is listed as one to watch.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from forecast.published import (
    MARKS,
    CouncilHistory,
    PublishedDataError,
    column_key,
    find_council,
    load_published,
    published_number,
)
from forecast.years import fy_label, fy_start

ENGLAND = "E92000001"
NEIGHBOURS = 10
DIP_RATIO = 0.6
MIN_PLANS_CHANGED = 20
NEIGHBOURING_YEARS_AGREE = 1.5
INDICATORS = {
    "ehcp_growth_1y": ("EHC plans: growth in the latest year", "share"),
    "ehcp_growth_5y": ("EHC plans: average annual growth over five years", "share"),
    "share_independent_special": (
        "Share of plans in independent or non-maintained special schools",
        "share",
    ),
    "share_mainstream": (
        "Share of plans in mainstream schools (resourced provision and units included)",
        "share",
    ),
    "new_plans_per_100": ("New plans in the year per 100 plans at the start of it", "rate"),
    "hnb_per_plan": ("High needs block allocation per EHC plan", "gbp"),
}
# the published series each indicator is built from (flag checks run on these)
SERIES = {
    "total": None,  # all plans
    "mainstream_all": ["mainstream", "mainstream_rp_unit"],
    "inmss": ["inmss"],
}


class BenchmarkUnavailable(RuntimeError):
    """The benchmarks cannot be built; the message says what is missing (shown in the report)."""


@dataclass
class PublishedData:
    councils: dict[str, CouncilHistory]
    # financial_year, old_la_code, la_name, high_needs_block_gbp, schools_block_gbp
    allocations: pd.DataFrame | None
    context: pd.DataFrame | None  # the similarity inputs per council (see similarity_inputs)
    files: list[str] = field(default_factory=list)


@dataclass
class Benchmarks:
    code: str
    name: str
    region: str
    # one row per indicator: the council, England, region, similar councils, rank
    table: pd.DataFrame
    # every council's value of every indicator (code, name, region, indicator, value, flagged)
    values: pd.DataFrame
    neighbours: pd.DataFrame  # code, name, region, distance and the similarity inputs
    neighbour_method: str
    flags: pd.DataFrame  # published figures that look wrong
    trends: pd.DataFrame  # year × series (council, England, region, similar councils) × measure
    files: list[str]
    # the council's plans per January census (rows) and provision type (columns), as published
    published_caseload: pd.DataFrame = field(default_factory=pd.DataFrame)


# --- reading the published files -----------------------------------------------------------


def load_published_data(folder: Path) -> PublishedData:
    folder = Path(folder)
    if not folder.is_dir():
        raise BenchmarkUnavailable(
            f"no published data folder at {folder}: download the DfE 'Education, health and care "
            "plans' release (caseload.csv, newplans.csv) and the DSG allocations into it, "
            "or set HIGHNEEDS_PUBLISHED"
        )
    try:
        councils = load_published(folder)
    except (FileNotFoundError, PublishedDataError) as error:
        raise BenchmarkUnavailable(str(error)) from error
    if ENGLAND not in councils and councils:
        councils[ENGLAND] = _councils_sum(councils)
    files = sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*.csv")
        if p.name in ("caseload.csv", "newplans.csv", "sen2_estab_caseload.csv", "sen2_mi.csv")
    )
    allocations = _read_allocations(folder, files)
    context = None
    for path in sorted([*folder.rglob("*.ods"), *folder.rglob("*.xlsx")]):
        context = _dsg_context(path)
        if context is not None:
            files.append(str(path.relative_to(folder)))
            break
    return PublishedData(councils, allocations, context, files)


def _councils_sum(councils: dict[str, CouncilHistory]) -> CouncilHistory:
    """England as the sum of its councils, for files without England's rows (a 'local authority'
    download): as aggregate mode takes it. Without it the report stopped on England's missing
    figures (an IndexError), and the refresh with it. Each year sums the councils there that
    year (a reorganised council's predecessor before, its successors after), with a council's
    mix as estimated where its settings were withheld: on the DfE's 2025 files the sum's totals
    and growth are England's own, its shares within a point of them (mainstream 44.3 % against
    43.6 %, independent special 5.39 % against 5.33 %)."""

    def summed(frames: list[pd.DataFrame]) -> pd.DataFrame:
        frames = [f for f in frames if not f.empty]
        if not frames:
            return pd.DataFrame()
        return pd.concat(frames).groupby(level=0).sum(min_count=1).sort_index()

    everyone = list(councils.values())
    return CouncilHistory(
        ENGLAND,
        "England",
        "England",
        summed([c.caseload for c in everyone]),
        summed([c.new_plans for c in everyone]),
        summed([c.caseload_by_age for c in everyone]),
    )


ALLOCATION_COLUMNS = ("financial_year", "old_la_code", "high_needs_block_gbp")


def _read_allocations(folder: Path, files: list[str]) -> pd.DataFrame | None:
    """The DSG allocations per council and year from every CSV under `folder` with their columns
    (named whatever their case, as the other published files are read), each file appended to
    `files`; None without one. Amounts as the DfE writes them ("28,495,697"), a mark (x, c, z)
    where a figure is not published (NaN: that council has none; one `x` once stopped the whole
    report). Anything else in an amount or a year, or a council's year given twice with another
    figure, is refused by file and line: read as no figure, a typing slip dropped the council's
    allocation per plan, and of two files the later-named had won unsaid."""
    frames, seen = [], {}
    for path in sorted(folder.rglob("*.csv")):
        with path.open(newline="", encoding="utf-8-sig") as handle:
            header = [column_key(h) for h in next(csv.reader(handle), [])]
        if not set(ALLOCATION_COLUMNS) <= set(header):
            continue
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skip_blank_lines=False
        )
        frame.columns = header
        # a blank line (or one of empty cells) holds nothing, but keeps its number: a refusal
        # named the line counted without the blank ones above it
        frame = frame[frame.apply(lambda column: column.str.strip().ne("")).any(axis=1)]
        amounts = [c for c in frame.columns if c.endswith("_gbp")]
        parsed = {c: frame[c].str.strip().map(published_number) for c in amounts}
        for index, row in frame.iterrows():
            line = int(index) + 2  # (the header is line 1)
            at = f"{path}:{line}"
            try:  # (2023/24 read as 2023-24: one year, however it is written)
                frame.loc[index, "financial_year"] = fy_label(
                    fy_start(row["financial_year"].strip())
                )
            except ValueError:
                raise BenchmarkUnavailable(
                    f"{at}: column 'financial_year' holds {row['financial_year']!r}, not a "
                    "financial year such as 2023-24"
                ) from None
            for column in amounts:
                if pd.isna(parsed[column][index]) and row[column].strip().lower() not in MARKS:
                    raise BenchmarkUnavailable(
                        f"{at}: column {column!r} holds {row[column]!r}: neither an amount nor "
                        "one of the DfE's marks (x, z, c, u, low, ~, :)"
                    )
            key = (frame.loc[index, "financial_year"], row["old_la_code"].strip())
            figure = parsed["high_needs_block_gbp"][index]
            figure = None if pd.isna(figure) else figure  # (two marks are the same figure)
            if key in seen and seen[key][1] != figure:
                raise BenchmarkUnavailable(
                    f"{at}: the high needs block of {key[1]} for {key[0]} is given again, "
                    f"{row['high_needs_block_gbp']!r}, after {seen[key][0]}: keep one "
                    "allocations file for the year"
                )
            seen.setdefault(key, (at, figure))
        for column in amounts:
            frame[column] = parsed[column].astype(float)
        frame["old_la_code"] = frame["old_la_code"].str.strip()
        frames.append(frame)
        files.append(str(path.relative_to(folder)))
    if not frames:
        return None
    return pd.concat(frames).drop_duplicates(["financial_year", "old_la_code"])


CONTEXT_COLUMNS = {
    "Schools_block_and_CSSB": {
        "primary_unit_of_funding_gbp": "primary schools unit of funding",
        "secondary_unit_of_funding_gbp": "secondary schools unit of funding",
    },
    "Early_years_block": {
        "universal_3_4_places": "number for 3 and 4 year old universal entitlement",
        "working_parents_places": "number for 3 and 4 year old additional 15 hours",
        "two_year_old_places": "number for 2 year old entitlement",
    },
}


def _dsg_context(path: Path) -> pd.DataFrame | None:
    """The similarity inputs from a DSG allocations detail workbook, or None for another file."""
    try:
        sheets = pd.read_excel(
            path,
            sheet_name=list(CONTEXT_COLUMNS),
            header=None,
            engine="odf" if path.suffix == ".ods" else None,
        )
    except (ValueError, KeyError, OSError):  # not a workbook, or not this one
        return None
    frames = []
    for sheet, wanted in CONTEXT_COLUMNS.items():
        table = sheets[sheet]
        header = next(
            i
            for i in range(min(10, len(table)))
            if any(str(v).strip().lower().startswith(tuple(wanted.values())) for v in table.iloc[i])
        )
        columns = {}
        for name, prefix in wanted.items():
            matches = [
                j
                for j, v in enumerate(table.iloc[header])
                if str(v).strip().lower().startswith(prefix)
            ]
            if not matches:
                return None
            columns[name] = matches[0]
        codes = pd.to_numeric(table.iloc[header + 1 :, 0], errors="coerce")
        rows = table.iloc[header + 1 :][codes.notna()]
        frame = pd.DataFrame({"code": codes.dropna().astype(int).astype(str).to_numpy()})
        for name, j in columns.items():
            frame[name] = pd.to_numeric(rows.iloc[:, j], errors="coerce").to_numpy()
        frames.append(frame.set_index("code"))
    context = frames[0].join(frames[1], how="inner")
    context["two_year_olds_per_universal_place"] = (
        context["two_year_old_places"] / context["universal_3_4_places"]
    )
    context["working_parents_per_universal_place"] = (
        context["working_parents_places"] / context["universal_3_4_places"]
    )
    title = str(sheets["Schools_block_and_CSSB"].iloc[0, 0])
    years = re.search(r"(\d{4}) to (\d{4})", title)
    context["dsg_year"] = fy_label(int(years.group(1))) if years else ""
    return context.reset_index()


# --- flags -----------------------------------------------------------------------------------


def _series(history: CouncilHistory, name: str) -> pd.Series:
    columns = SERIES.get(name, [name])
    frame = history.caseload
    return (frame.sum(axis=1) if columns is None else frame[columns].sum(axis=1)).astype(float)


def find_flags(councils: dict[str, CouncilHistory]) -> pd.DataFrame:
    """Every published count that halves (or doubles) and recovers, per council and series."""
    rows = []
    names = ["total", "mainstream_all", *list(next(iter(councils.values())).caseload.columns)]
    for code, history in councils.items():
        if code == ENGLAND:
            continue
        for name in names:
            series = _series(history, name)
            years = list(series.index)
            for i, year in enumerate(years):
                value = series[year]
                before = series.get(year - 1)
                after = series.get(year + 1)
                if before is None:
                    continue
                if after is None:  # latest year: a jump cannot be confirmed yet
                    if (
                        i == len(years) - 1
                        and abs(value - before) >= MIN_PLANS_CHANGED
                        and before > 0
                        and (value < before * 0.5 or value > before * 2)
                    ):
                        rows.append(
                            (
                                code,
                                history.name,
                                int(year),
                                name,
                                before,
                                value,
                                np.nan,
                                "watch",
                                (
                                    f"changed from {before:,.0f} to {value:,.0f} in the latest "
                                    "year; check it when the next release confirms or corrects it"
                                ),
                            )
                        )
                    continue
                low, high = min(before, after), max(before, after)
                if low <= 0 or high / low > NEIGHBOURING_YEARS_AGREE:
                    continue
                if value < DIP_RATIO * low and low - value >= MIN_PLANS_CHANGED:
                    kind = "dip"
                elif value > high / DIP_RATIO and value - high >= MIN_PLANS_CHANGED:
                    kind = "spike"
                else:
                    continue
                rows.append(
                    (
                        code,
                        history.name,
                        int(year),
                        name,
                        before,
                        value,
                        after,
                        kind,
                        f"{before:,.0f} → {value:,.0f} → {after:,.0f}: "
                        + (
                            "falls by more than 40% and recovers the next year"
                            if kind == "dip"
                            else "rises by more than 2/3 and falls back the next year"
                        ),
                    )
                )
    return pd.DataFrame(
        rows,
        columns=[
            "code",
            "name",
            "census_year",
            "series",
            "year_before",
            "value",
            "year_after",
            "kind",
            "why",
        ],
    )


def _flagged_keys(flags: pd.DataFrame) -> frozenset[tuple[str, int, str]]:
    """(code, census year, series) of every flag that leaves its figure out (not a "watch")."""
    kept = flags[flags["kind"] != "watch"]
    return frozenset(
        zip(kept["code"], kept["census_year"].astype(int), kept["series"], strict=True)
    )


def _is_flagged(
    flagged: frozenset[tuple[str, int, str]], code: str, year: int, series: list[str]
) -> bool:
    return any((code, int(year), name) in flagged for name in series)


# --- indicators ------------------------------------------------------------------------------


def _latest_common(councils: dict[str, CouncilHistory]) -> int:
    return (
        int(councils[ENGLAND].caseload.index.max())
        if ENGLAND in councils
        else int(max(c.caseload.index.max() for c in councils.values()))
    )


def indicator_parts(data: PublishedData, flags: pd.DataFrame) -> pd.DataFrame:
    """Numerator and denominator of every indicator for every council and England (long)."""
    councils = data.councils
    year = _latest_common(councils)
    rows = []
    flagged_keys = _flagged_keys(flags)

    def add(code, indicator, period, numerator, denominator, inputs):
        flagged = any(_is_flagged(flagged_keys, code, y, s) for y, s in inputs)
        rows.append((code, indicator, period, numerator, denominator, flagged))

    for code, history in councils.items():
        total = _series(history, "total")
        if year in total.index and year - 1 in total.index:
            add(
                code,
                "ehcp_growth_1y",
                f"Jan {year - 1} to Jan {year}",
                total[year],
                total[year - 1],
                [(year, ["total"]), (year - 1, ["total"])],
            )
        if year in total.index and year - 5 in total.index:
            add(
                code,
                "ehcp_growth_5y",
                f"Jan {year - 5} to Jan {year}",
                total[year],
                total[year - 5],
                [(year, ["total"]), (year - 5, ["total"])],
            )
        # a year published as a total with every setting `x` (or some withheld) has no mix of
        # its own to share
        if year in total.index and total[year] > 0 and year not in history.estimated_mix:
            add(
                code,
                "share_independent_special",
                f"Jan {year}",
                _series(history, "inmss")[year],
                total[year],
                [(year, ["inmss", "total"])],
            )
            add(
                code,
                "share_mainstream",
                f"Jan {year}",
                _series(history, "mainstream_all")[year],
                total[year],
                [(year, ["mainstream_all", "total"])],
            )
        joiners = (
            history.new_plans.sum(axis=1) if not history.new_plans.empty else pd.Series(dtype=float)
        )
        if year in joiners.index and year - 1 in total.index:
            add(
                code,
                "new_plans_per_100",
                f"calendar {year - 1} (plans at Jan {year - 1})",
                joiners[year],
                total[year - 1],
                [(year - 1, ["total"])],
            )
    # the latest allocation year whose January census the plans' release holds: the DfE
    # publishes a year's allocations before that census, and the latest year of the file had the
    # indicator left out for every council, unsaid
    censuses = {year for history in councils.values() for year in _series(history, "total").index}
    with_census = (
        [y for y in data.allocations["financial_year"] if fy_start(y) + 1 in censuses]
        if data.allocations is not None
        else []
    )
    if with_census:
        latest_fy = max(with_census, key=fy_start)
        census = fy_start(latest_fy) + 1
        allocation = data.allocations[data.allocations["financial_year"] == latest_fy].set_index(
            "old_la_code"
        )
        for code, history in councils.items():
            key = "ENGLAND" if code == ENGLAND else code
            total = _series(history, "total")
            if (
                key in allocation.index
                and pd.notna(allocation.loc[key, "high_needs_block_gbp"])
                and census in total.index
                and total[census] > 0
            ):
                add(
                    code,
                    "hnb_per_plan",
                    f"{latest_fy} (plans at Jan {census})",
                    float(allocation.loc[key, "high_needs_block_gbp"]),
                    total[census],
                    [(census, ["total"])],
                )
    parts = pd.DataFrame(
        rows, columns=["code", "indicator", "period", "numerator", "denominator", "flagged"]
    )
    parts["value"] = parts["numerator"] / parts["denominator"]
    growth = parts["indicator"] == "ehcp_growth_1y"
    parts.loc[growth, "value"] -= 1
    five = parts["indicator"] == "ehcp_growth_5y"
    parts.loc[five, "value"] = parts.loc[five, "value"] ** (1 / 5) - 1
    rate = parts["indicator"] == "new_plans_per_100"
    parts.loc[rate, "value"] *= 100
    parts["name"] = parts["code"].map(lambda c: councils[c].name)
    parts["region"] = parts["code"].map(lambda c: councils[c].region)
    return parts


def _pooled(parts: pd.DataFrame, indicator: str) -> float:
    """The indicator over a group of councils pooled: Σ numerators over Σ denominators."""
    numerator, denominator = parts["numerator"].sum(), parts["denominator"].sum()
    if denominator <= 0:
        return float("nan")
    value = numerator / denominator
    if indicator == "ehcp_growth_1y":
        return value - 1
    if indicator == "ehcp_growth_5y":
        return value ** (1 / 5) - 1
    if indicator == "new_plans_per_100":
        return value * 100
    return value


# --- similar councils ------------------------------------------------------------------------

SIMILARITY_FEATURES = [
    "primary_unit_of_funding_gbp",
    "secondary_unit_of_funding_gbp",
    "two_year_olds_per_universal_place",
    "working_parents_per_universal_place",
]


def similarity_inputs(data: PublishedData) -> pd.DataFrame:
    if data.context is None:
        raise BenchmarkUnavailable(
            "similar councils need the DfE's DSG allocations detail workbook "
            "(dedicated-schools-grant_<year>_blocks_detail.ods or .xlsx) in the published folder, "
            "or a list of statistical neighbours in HIGHNEEDS_NEIGHBOURS"
        )
    context = data.context.dropna(subset=SIMILARITY_FEATURES)
    context = context[context["code"].isin(data.councils)]
    return pd.DataFrame(
        {
            "code": context["code"],
            "name": context["code"].map(lambda c: data.councils[c].name),
            "region": context["code"].map(lambda c: data.councils[c].region),
            **{name: context[name] for name in SIMILARITY_FEATURES},
        }
    ).reset_index(drop=True)


def nearest_neighbours(inputs: pd.DataFrame, code: str, k: int = NEIGHBOURS) -> pd.DataFrame:
    features = SIMILARITY_FEATURES
    z = (inputs[features] - inputs[features].mean()) / inputs[features].std(ddof=0)
    if code not in set(inputs["code"]):
        raise BenchmarkUnavailable(
            f"council {code} has no figures in the DSG allocations detail workbook to "
            "find similar councils from"
        )
    target = z[inputs["code"] == code].iloc[0]
    distance = np.sqrt(((z - target) ** 2).sum(axis=1))
    result = inputs.assign(distance=distance)
    result = result[result["code"] != code].sort_values(["distance", "code"]).head(k)
    return result[["code", "name", "region", "distance", *features]].reset_index(drop=True)


# --- the benchmark ---------------------------------------------------------------------------


def benchmark(
    data: PublishedData, council: str, neighbours: list[str] | None = None, k: int = NEIGHBOURS
) -> Benchmarks:
    """`council`: old LA code (or name); `neighbours`: old LA codes to compare with instead of the
    computed most similar councils."""
    try:
        history = find_council(data.councils, council)
    except KeyError as error:
        raise BenchmarkUnavailable(
            f"council {council!r} is not in the published files: {error}"
        ) from error
    flags = find_flags(data.councils)
    parts = indicator_parts(data, flags)
    # a council is never its own similar council (a list given for another council may hold it)
    neighbours = [c for c in neighbours or [] if c != history.code]
    if neighbours:
        unknown = [c for c in neighbours if c not in data.councils]
        if unknown:
            raise BenchmarkUnavailable(
                f"HIGHNEEDS_NEIGHBOURS: {', '.join(unknown)} not in the published files"
            )
        similar = pd.DataFrame(
            [(c, data.councils[c].name, data.councils[c].region) for c in neighbours],
            columns=["code", "name", "region"],
        )
        method = (
            "Similar councils: the list given in HIGHNEEDS_NEIGHBOURS "
            "(user-supplied statistical neighbours)."
        )
    else:
        similar = nearest_neighbours(similarity_inputs(data), history.code, k)
        year = data.context["dsg_year"].iloc[0] if data.context is not None else ""
        method = (
            f"Similar councils: the {k} nearest by Euclidean distance on four standardised "
            f"published indicators from the DSG allocations for {year}: the schools block primary "
            "and secondary units of funding (per pupil: deprivation, low prior attainment, "
            "EAL and area costs), funded two-year-old places per universal three- and "
            "four-year-old place (disadvantage), and working-parent places per universal "
            "place (parental employment)."
        )
    councils = parts[parts["code"] != ENGLAND]
    table = []
    for indicator, (label, unit) in INDICATORS.items():
        rows = councils[councils["indicator"] == indicator]
        if rows.empty:
            continue
        own = rows[rows["code"] == history.code]
        usable = rows[~rows["flagged"]]
        england = parts[(parts["code"] == ENGLAND) & (parts["indicator"] == indicator)]
        region = usable[usable["region"] == history.region]
        peers = usable[usable["code"].isin(similar["code"])]
        value = float(own["value"].iloc[0]) if len(own) else float("nan")
        flagged = bool(own["flagged"].iloc[0]) if len(own) else False
        if len(own) and not flagged:
            rank = int((usable["value"] > value).sum() + 1)
            percentile = float((usable["value"] < value).sum() / len(usable) * 100)
        else:
            rank, percentile = None, float("nan")
        table.append(
            {
                "indicator": indicator,
                "label": label,
                "unit": unit,
                "period": own["period"].iloc[0] if len(own) else rows["period"].iloc[0],
                "council": value,
                "numerator": float(own["numerator"].iloc[0]) if len(own) else float("nan"),
                "denominator": float(own["denominator"].iloc[0]) if len(own) else float("nan"),
                "england": float(england["value"].iloc[0]) if len(england) else float("nan"),
                "region": _pooled(region, indicator),
                "similar_councils_median": float(peers["value"].median()),
                "rank": rank,
                "councils_ranked": len(usable),
                "percentile": percentile,
                "flagged": flagged,
            }
        )
    return Benchmarks(
        code=history.code,
        name=history.name,
        region=history.region,
        table=pd.DataFrame(table),
        values=councils[
            [
                "code",
                "name",
                "region",
                "indicator",
                "period",
                "numerator",
                "denominator",
                "value",
                "flagged",
            ]
        ],
        neighbours=similar,
        neighbour_method=method,
        flags=flags,
        trends=_trends(data, history, similar, flags),
        files=data.files,
        published_caseload=history.caseload.copy(),
    )


def _trends(
    data: PublishedData, history: CouncilHistory, similar: pd.DataFrame, flags: pd.DataFrame
) -> pd.DataFrame:
    """Per census year: plans indexed to the first common year, and the share in independent
    special, for the council, England, the region (pooled) and similar councils (median); flagged
    figures are marked and left out of the pooled and median figures."""
    first = max(2015, int(history.caseload.index.min()))
    years = [y for y in history.caseload.index if y >= first]
    region = [c for c in data.councils.values() if c.region == history.region and c.code != ENGLAND]
    peers = [data.councils[c] for c in similar["code"]]
    rows = []
    flagged_keys = _flagged_keys(flags)

    def series_values(h: CouncilHistory, measure: str) -> dict[int, tuple[float, float, bool]]:
        total = _series(h, "total")
        out = {}
        for y in years:
            if y not in total.index:
                continue
            if measure == "plans":
                out[y] = (total[y], 1.0, _is_flagged(flagged_keys, h.code, y, ["total"]))
            elif y not in h.estimated_mix:  # a year without its settings published: no share
                out[y] = (
                    _series(h, "inmss")[y],
                    total[y],
                    _is_flagged(flagged_keys, h.code, y, ["inmss", "total"]),
                )
        return out

    for measure in ("plans", "share_independent_special"):
        own = series_values(history, measure)
        england = series_values(data.councils[ENGLAND], measure) if ENGLAND in data.councils else {}
        pooled = [series_values(h, measure) for h in region]
        peer_values = [series_values(h, measure) for h in peers]
        if measure == "plans":  # the region's plans as an index of its own, chained
            rows += [
                (y, "region", measure, v, False) for y, v in _region_index(pooled, years).items()
            ]
        for y in years:
            if y in own:
                numerator, denominator, flagged = own[y]
                rows.append((y, "council", measure, numerator / denominator, flagged))
            if y in england:
                rows.append((y, "England", measure, england[y][0] / england[y][1], False))
            usable = [v[y] for v in pooled if y in v and not v[y][2]]
            if usable and measure != "plans":  # (the region's plans: _region_index)
                rows.append(
                    (
                        y,
                        "region",
                        measure,
                        sum(u[0] for u in usable) / sum(u[1] for u in usable),
                        False,
                    )
                )
            peer_points = [
                v[y][0] / v[y][1] for v in peer_values if y in v and not v[y][2] and v[y][1] > 0
            ]
            if peer_points:
                rows.append((y, "similar councils", measure, float(np.median(peer_points)), False))
    trends = pd.DataFrame(rows, columns=["census_year", "series", "measure", "value", "flagged"])
    # plans as an index (first year = 100); the median of the peers' indices, not of their counts
    plans = trends["measure"] == "plans"
    for series in trends.loc[plans, "series"].unique():
        mask = plans & (trends["series"] == series)
        if series == "region":
            continue  # an index already
        if series == "similar councils":
            index = _peer_index(peers, years, flagged_keys)
            trends.loc[mask, "value"] = trends.loc[mask, "census_year"].map(index)
        else:
            base = trends.loc[mask & (trends["census_year"] == years[0]), "value"]
            trends.loc[mask, "value"] = (
                trends.loc[mask, "value"] / base.iloc[0] * 100 if len(base) else np.nan
            )
    trends.loc[plans, "measure"] = "plans_index"
    return trends


def _region_index(
    pooled: list[dict[int, tuple[float, float, bool]]], years: list[int]
) -> dict[int, float]:
    """The region's plans as an index (the first year = 100), chained year to year: each year's
    plans over the year before's, summed over the region's councils, a council flagged in either
    year left out of both. Summed, a reorganised council's successors take its place (the same
    children); averaged over the councils there (as it was), a region whose council count rose
    with a reorganisation read a fall: East Midlands 165.8 in 2022 for 184.2, when
    Northamptonshire became two councils."""
    index: dict[int, float] = {}
    last = None
    for y in years:
        now = {i: v[y] for i, v in enumerate(pooled) if y in v}
        if last is None:
            if y == years[0] and any(not point[2] for point in now.values()):
                index[y], last = 100.0, (y, now)
            continue
        before, then = last
        left_out = {i for i, point in [*now.items(), *then.items()] if point[2]}
        numerator = sum(point[0] for i, point in now.items() if i not in left_out)
        denominator = sum(point[0] for i, point in then.items() if i not in left_out)
        if numerator > 0 and denominator > 0:
            index[y], last = index[before] * numerator / denominator, (y, now)
    return index


def _peer_index(
    peers: list[CouncilHistory], years: list[int], flagged: frozenset[tuple[str, int, str]]
) -> dict[int, float]:
    indices = {}
    for y in years:
        points = []
        for h in peers:
            total = _series(h, "total")
            if (
                years[0] in total.index
                and y in total.index
                and total[years[0]] > 0
                and not _is_flagged(flagged, h.code, y, ["total"])
            ):
                points.append(total[y] / total[years[0]] * 100)
        indices[y] = float(np.median(points)) if points else float("nan")
    return indices


def format_value(value: float, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if unit == "share":
        return f"{value * 100:.1f}%"
    if unit == "gbp":
        return f"£{value:,.0f}"
    return f"{value:.1f}"


def latest_allocation_year(data: PublishedData) -> str | None:
    if data.allocations is None:
        return None
    return fy_label(max(fy_start(y) for y in data.allocations["financial_year"]))
