"""A small hand-written council, written out two ways: as the CSV extracts (ehcp, placements) and
as SEN2 person-level returns the way DfE COLLECT's Blade export writes them (lower-case published
field names, `2024-Sep-05 00:00:00` dates, true/false indicators, NativeId, `<table>orderseqcolumn`,
sourceid and the `sen2` header module). Both share one ledger (child-level payments carry the
child's UPN, or the case-management id, and no placement id, as a finance system keeps them),
one budget and one GIAS extract, so the two landings must give the same marts to the penny.

Every plan ceases (if ever) and every placement ends (if ever) after 1 January 2022, and nothing
happens after the last census: so the three returns (January 2023, 2024, 2025) between them hold
the whole history, and each later return supersedes the plans and placements it repeats.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

D = dt.date.fromisoformat
CENSUS_DATES = (D("2023-01-19"), D("2024-01-18"), D("2025-01-16"))
LA_CODE = "869"


@dataclass(frozen=True)
class Child:
    upn: str
    native_id: str
    forename: str
    surname: str
    date_of_birth: str
    sex: str

    @property
    def case_id(self) -> str:
        """The council's case-management id where it is not
        the return's NativeId (mapped by a file)."""
        return "LL-" + self.native_id[-4:]


@dataclass(frozen=True)
class Plan:
    child: int  # index into CHILDREN
    request_date: str
    start: str | None  # None: a request that ended without a plan
    cease: str | None = None
    cease_reason: str = ""
    need: str = ""
    secondary_need: str = ""
    assessed: bool = True  # False: the council decided not to assess
    week20_exception: bool = False  # an exception to the 20-week limit applied


@dataclass(frozen=True)
class Spell:
    child: int
    start: str
    end: str | None
    urn: str = ""
    ukprn: str = ""
    sen_setting: str = ""
    sen_unit: bool = False
    resourced_provision: bool = False
    annual_cost: str = ""
    s251_line: str = ""  # the ledger line its monthly top-up is paid on ("" = none paid)


CHILDREN = (
    Child("H801200001001", "CMS-1001", "Alfie", "Baker", "2012-03-14", "M"),
    Child("H801200001002", "CMS-1002", "Bella", "Carter", "2010-11-02", "F"),
    Child("H801200001003", "CMS-1003", "Callum", "Davies", "2006-05-20", "M"),
    Child("H801200001004", "CMS-1004", "Daisy", "Evans", "2015-01-09", "F"),
    Child("H801200001005", "CMS-1005", "Ethan", "Foster", "2013-06-30", "M"),
    Child("H801200001006", "CMS-1006", "Freya", "Green", "2008-02-11", "F"),
    Child("H801200001007", "CMS-1007", "George", "Hughes", "2017-04-04", "M"),
    Child("H801200001008", "CMS-1008", "Harry", "Irwin", "2005-09-09", "M"),
    Child("H801200001009", "CMS-1009", "Isla", "Jones", "2011-12-12", "F"),
    Child("H801200001010", "CMS-1010", "Jack", "King", "2014-08-31", "M"),
    Child("H801200001011", "CMS-1011", "Katie", "Lewis", "2016-02-29", "F"),
    Child("H801200001012", "CMS-1012", "Liam", "Moore", "2012-07-07", "M"),
)

PLANS = (
    Plan(0, "2017-11-01", "2018-03-01", need="ASD"),
    Plan(1, "2017-06-01", "2017-10-15", need="SEMH", secondary_need="SLCN"),
    Plan(2, "2016-01-10", "2016-06-01", "2024-07-31", "1", need="MLD"),
    Plan(3, "2019-09-01", "2020-01-20", need="SLCN"),
    Plan(4, "2022-05-10", "2022-09-20", need="SEMH"),
    Plan(5, "2019-01-02", "2019-05-01", "2023-03-31", "5", need="PMLD"),
    Plan(6, "2023-01-20", "2023-06-15", need="DS"),
    Plan(7, "2014-09-01", "2015-02-01", need="SPLD"),
    Plan(8, "2020-10-01", "2021-03-01", "2022-02-28", "2", need="HI"),
    Plan(9, "2023-10-01", "2024-03-01", need="ASD", secondary_need="SEMH", week20_exception=True),
    Plan(10, "2023-02-01", None, assessed=False),  # refused to assess
    Plan(11, "2024-04-01", None),  # assessed, no plan issued
)

SPELLS = (
    Spell(0, "2018-03-01", "2023-07-31", urn="110001", annual_cost="7512.34", s251_line="1.2.1"),
    Spell(0, "2023-09-01", None, urn="140002", annual_cost="24000.00", s251_line="1.2.2"),
    Spell(1, "2017-10-15", "2022-07-31", urn="110003", annual_cost="8000.00", s251_line="1.2.2"),
    Spell(1, "2022-09-01", None, urn="150004", annual_cost="62345.67", s251_line="1.2.3"),
    Spell(2, "2016-06-01", "2022-07-31", urn="140005", annual_cost="22000.00", s251_line="1.2.1"),
    Spell(
        2, "2022-09-01", "2024-07-31", ukprn="10012345", annual_cost="9100.00", s251_line="1.2.2"
    ),
    Spell(
        3,
        "2020-01-20",
        None,
        urn="110006",
        resourced_provision=True,
        annual_cost="14000.00",
        s251_line="1.2.1",
    ),
    Spell(4, "2022-09-20", "2023-12-20", urn="140007", annual_cost="18000.00", s251_line="1.2.1"),
    Spell(4, "2024-01-08", None, sen_setting="OLA", annual_cost="30000.00", s251_line="1.2.7"),
    Spell(5, "2019-05-01", "2023-03-31", urn="140008", annual_cost="26000.00", s251_line="1.2.2"),
    Spell(
        6, "2023-06-15", "2023-08-31", sen_setting="EYP", annual_cost="6000.00", s251_line="1.2.4"
    ),
    Spell(
        6,
        "2023-09-01",
        None,
        urn="110001",
        sen_unit=True,
        annual_cost="12000.00",
        s251_line="1.2.1",
    ),
    Spell(
        7, "2021-09-01", "2024-06-30", ukprn="10054321", annual_cost="41000.00", s251_line="1.2.3"
    ),
    Spell(7, "2024-07-01", None, sen_setting="NEET"),
    Spell(8, "2021-03-01", "2022-02-28", urn="110003", annual_cost="5000.00", s251_line="1.2.2"),
    Spell(9, "2024-03-01", None, urn="150004", annual_cost="71234.56", s251_line="1.2.3"),
)

# urn, name, GIAS type, ukprn. 140099 and 150010 are paid by the council but attended by none of
# its children: the ledger's provider payments find their type in GIAS alone.
ESTABLISHMENTS = (
    ("110001", "Riverside Primary", "1", ""),
    ("110003", "Hill Academy", "34", ""),
    ("110006", "Brook Infants", "1", ""),
    ("140002", "Downs Special Academy", "44", ""),
    ("140005", "Castle Special School", "7", ""),
    ("140007", "Meadow Pupil Referral Unit", "14", ""),
    ("140008", "Willow Special Free School", "36", ""),
    ("140099", "Heath Special School", "7", ""),
    ("150004", "Oakwood School", "10", ""),
    ("150009", "Ridge Specialist College", "32", "10054321"),
    ("150010", "Vale Independent Special School", "10", ""),
    ("130011", "Town College", "18", "10012345"),
)
TYPE_BY_URN = {urn: kind for urn, _, kind, _ in ESTABLISHMENTS}
NAME_BY_URN = {urn: name for urn, name, _, _ in ESTABLISHMENTS}
URN_BY_UKPRN = {ukprn: urn for urn, _, _, ukprn in ESTABLISHMENTS if ukprn}


def write(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _month_ends(first: dt.date, last: dt.date) -> list[dt.date]:
    ends, year, month = [], first.year, first.month
    while True:
        end = dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
        if end > last:
            return ends
        ends.append(end)
        year, month = year + month // 12, month % 12 + 1


def _pennies(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def ledger_rows(child_id_of) -> list[list[str]]:
    """Monthly top-ups for each spell paid from April 2022 to March 2025, provider payments
    without a child (place funding, fees), central services and SEN transport."""
    rows: list[list[str]] = []
    for spell in SPELLS:
        if not spell.s251_line:
            continue
        monthly = _pennies(Decimal(spell.annual_cost) / 12)
        for day in _month_ends(D("2022-04-01"), D("2025-03-31")):
            if D(spell.start) <= day and (spell.end is None or day <= D(spell.end)):
                rows.append(
                    [
                        day.isoformat(),
                        monthly,
                        spell.s251_line,
                        child_id_of(CHILDREN[spell.child]),
                        spell.urn,
                        spell.ukprn,
                        NAME_BY_URN.get(spell.urn or URN_BY_UKPRN.get(spell.ukprn, ""), ""),
                    ]
                )
    for year in (2022, 2023, 2024):
        rows.append(
            [f"{year}-04-30", "20000.00", "1.0.2", "", "140002", "", "Downs Special Academy"]
        )
        rows.append(
            [f"{year}-04-30", "10000.00", "1.0.2", "", "140099", "", "Heath Special School"]
        )
        rows.append(
            [
                f"{year}-06-30",
                "12345.67",
                "1.2.3",
                "",
                "150010",
                "",
                "Vale Independent Special School",
            ]
        )
    for day in _month_ends(D("2022-04-01"), D("2025-03-31")):
        rows.append([day.isoformat(), "4321.09", "1.2.5", "", "", "", "Sensory Support Service"])
        rows.append([day.isoformat(), "987.65", "1.4.11", "", "", "", "Taxi firm"])
    return [[f"TX{n:05d}", *row] for n, row in enumerate(rows, 1)]


def write_shared(landing: Path, ledger_id: str = "upn") -> None:
    """The ledger (child ids by `upn`, the return's `native_id` or a `case_id` the return does not
    carry), budget and GIAS."""
    write(
        landing / "finance" / "ledger.csv",
        [
            "transaction_id",
            "posting_date",
            "amount",
            "s251_line",
            "child_id",
            "provider_urn",
            "provider_ukprn",
            "supplier_name",
        ],
        ledger_rows(lambda child: getattr(child, ledger_id)),
    )
    budget = []
    for year in ("2022-23", "2023-24", "2024-25"):
        budget += [[year, "hnb_allocation", "900000"], [year, "place_deductions", "70000"]]
    budget.append(["2022-23", "balance_brought_forward", "-50000"])
    write(landing / "budget" / "budget.csv", ["financial_year", "line", "amount"], budget)
    write(
        landing / "reference" / "edubasealldata20250101.csv",
        ["URN", "EstablishmentName", "TypeOfEstablishment (code)", "UKPRN"],
        [list(e) for e in ESTABLISHMENTS],
    )


def write_csv_landing(landing: Path) -> None:
    """The council as its case-management extracts: child_id is the UPN, as in its ledger."""
    write_shared(landing)
    write(
        landing / "ehcp" / "plans.csv",
        [
            "child_id",
            "plan_id",
            "date_of_birth",
            "sex",
            "primary_need",
            "secondary_need",
            "request_date",
            "plan_start_date",
            "plan_cease_date",
            "cease_reason",
            "upn",
            "forename",
            "surname",
        ],
        [
            [
                CHILDREN[p.child].upn,
                f"EP{n:03d}",
                CHILDREN[p.child].date_of_birth,
                CHILDREN[p.child].sex,
                p.need,
                p.secondary_need,
                p.request_date,
                p.start,
                p.cease or "",
                p.cease_reason,
                CHILDREN[p.child].upn,
                CHILDREN[p.child].forename,
                CHILDREN[p.child].surname,
            ]
            for n, p in enumerate(PLANS, 1)
            if p.start
        ],
    )
    write(
        landing / "placements" / "placements.csv",
        [
            "placement_id",
            "child_id",
            "urn",
            "ukprn",
            "sen_setting",
            "establishment_type_code",
            "sen_unit",
            "resourced_provision",
            "start_date",
            "end_date",
            "annual_cost",
        ],
        [
            [
                f"PL{n:03d}",
                CHILDREN[s.child].upn,
                s.urn,
                s.ukprn,
                s.sen_setting,
                TYPE_BY_URN.get(s.urn, ""),
                "Y" if s.sen_unit else "N",
                "Y" if s.resourced_provision else "N",
                s.start,
                s.end or "",
                s.annual_cost,
            ]
            for n, s in enumerate(SPELLS, 1)
        ],
    )


def blade_date(text: str | None) -> str:
    """COLLECT's Blade date-time: 2024-Sep-05 00:00:00."""
    return dt.date.fromisoformat(text).strftime("%Y-%b-%d 00:00:00") if text else ""


def blade_flag(value: bool) -> str:
    return "true" if value else "false"


def _shown(date: str | None, census: dt.date) -> str | None:
    """A return shows what had happened by its census day."""
    return date if date and D(date) <= census else None


def write_sen2_return(folder: Path, census: dt.date, version: int) -> None:
    """One return as COLLECT's Blade export writes it. `version` offsets every table id (the same
    child has other ids in another return) and picks the specification: the oldest return names
    sex `gendercurrent` and has no attendance pattern."""
    window_start = dt.date(census.year - 1, 1, 1)
    export = f"Blade-Export_{census + dt.timedelta(days=20):%d-%m-%Y}_{{}}.csv"
    base = version * 1000
    plans = [
        (n, p)
        for n, p in enumerate(PLANS, 1)
        if D(p.request_date) <= census
        and (
            p.start is None
            and D(p.request_date) >= window_start
            or p.start is not None
            and D(p.start) <= census
            and (p.cease is None or D(p.cease) >= window_start)
        )
    ]
    children = sorted({p.child for _, p in plans})
    person_id = {child: base + 100 + child for child in children}
    tables: dict[str, tuple[list[str], list[list]]] = {}
    tables["sen2"] = (
        [
            "collection",
            "year",
            "referencedate",
            "sourcelevel",
            "lea",
            "softwarecode",
            "release",
            "serialno",
            "datetime",
            "dmo",
            "dco",
            "dsco",
        ],
        [
            [
                "SEN2",
                str(census.year),
                blade_date(census.isoformat()),
                "L",
                LA_CODE,
                "CMS",
                "1",
                "42",
                blade_date(census.isoformat()),
                "",
                "",
                "",
            ]
        ],
    )
    sex_column = "gendercurrent" if version == 1 else "sex"
    tables["person"] = (
        [
            "persontableid",
            "sen2tableid",
            "surname",
            "forename",
            "personbirthdate",
            sex_column,
            "ethnicity",
            "postcode",
            "upn",
            "uniquelearnernumber",
            "upnunknown",
            "nativeid",
            "personorderseqcolumn",
            "sourceid",
        ],
        [
            [
                person_id[c],
                1,
                CHILDREN[c].surname,
                CHILDREN[c].forename,
                blade_date(CHILDREN[c].date_of_birth),
                CHILDREN[c].sex,
                "WBRI",
                "RG14 1AA",
                CHILDREN[c].upn,
                "",
                "",
                CHILDREN[c].native_id,
                i,
                "7",
            ]
            for i, c in enumerate(children, 1)
        ],
    )
    requests, assessments, named, active, needs, details = [], [], [], [], [], []
    for n, p in plans:
        request, order = base + n, len(requests) + 1
        assessed_on = (
            (D(p.start) - dt.timedelta(days=14)).isoformat()
            if p.start
            else ((D(p.request_date) + dt.timedelta(days=42)).isoformat())
        )
        requests.append(
            [
                request,
                person_id[p.child],
                blade_date(p.request_date),
                "01",
                "",
                blade_date(assessed_on),
                "A" if p.assessed else "N",
                "false",
                "false",
                "",
                f"REQ-{n}",
                order,
                "7",
            ]
        )
        if p.assessed:
            assessments.append(
                [
                    request,
                    request,
                    "Y" if p.start else "N",
                    blade_date(assessed_on),
                    "false",
                    "false",
                    "false",
                    "false",
                    blade_flag(p.week20_exception),
                    f"ASS-{n}",
                    order,
                    "7",
                ]
            )
        if not p.start:
            continue
        cease = _shown(p.cease, census)
        named.append(
            [
                request,
                request,
                blade_date(p.start),
                "",
                "",
                "false",
                "false",
                "false",
                blade_date(cease),
                p.cease_reason if cease else "",
                f"NP-{n}",
                order,
                "7",
            ]
        )
        active.append(
            [request, request, "", blade_date(p.start), "", "", "", "", "", f"AP-{n}", order, "7"]
        )
        needs.append([request, p.need, 1, f"SN-{n}-1", len(needs) + 1, "7"])
        if p.secondary_need:
            needs.append([request, p.secondary_need, 2, f"SN-{n}-2", len(needs) + 1, "7"])
        for m, spell in enumerate(SPELLS, 1):
            if (
                spell.child != p.child
                or D(spell.start) > census
                or (spell.end and D(spell.end) < window_start)
            ):
                continue
            end = _shown(spell.end, census)
            row = [
                request,
                spell.urn,
                spell.ukprn,
                spell.sen_setting,
                "",
                1,
                blade_date(spell.start),
                blade_date(end),
                blade_flag(spell.sen_unit),
                blade_flag(spell.resourced_provision),
                "",
                "",
                f"PD-{m}",
                len(details) + 1,
                "7",
            ]
            details.append(row if version == 1 else [*row, "FT"])
    tables["requests"] = (
        [
            "requeststableid",
            "persontableid",
            "receiveddate",
            "requestsource",
            "rya",
            "requestoutcomedate",
            "requestoutcome",
            "requestmediation",
            "requesttribunal",
            "exported",
            "nativeid",
            "requestsorderseqcolumn",
            "sourceid",
        ],
        requests,
    )
    tables["assessment"] = (
        [
            "assessmenttableid",
            "requeststableid",
            "assessmentoutcome",
            "assessmentoutcomedate",
            "assessmentmediation",
            "assessmenttribunal",
            "othermediation",
            "othertribunal",
            "week20",
            "nativeid",
            "assessmentorderseqcolumn",
            "sourceid",
        ],
        assessments,
    )
    tables["namedplan"] = (
        [
            "namedplantableid",
            "assessmenttableid",
            "startdate",
            "planres",
            "planwbp",
            "pb",
            "oa",
            "dp",
            "ceasedate",
            "ceasereason",
            "nativeid",
            "namedplanorderseqcolumn",
            "sourceid",
        ],
        named,
    )
    tables["activeplans"] = (
        [
            "activeplanstableid",
            "requeststableid",
            "transferla",
            "reviewmeeting",
            "reviewoutcome",
            "reviewdraft",
            "phasetransferduedate",
            "phasetransferfinaldate",
            "lastreview",
            "nativeid",
            "activeplansorderseqcolumn",
            "sourceid",
        ],
        active,
    )
    tables["senneed"] = (
        [
            "activeplanstableid",
            "sentype",
            "sentyperank",
            "nativeid",
            "senneedorderseqcolumn",
            "sourceid",
        ],
        needs,
    )
    detail_header = [
        "activeplanstableid",
        "urn",
        "ukprn",
        "sensetting",
        "sensettingother",
        "placementrank",
        "entrydate",
        "leavingdate",
        "senunitindicator",
        "resourcedprovisionindicator",
        "res",
        "wbp",
        "nativeid",
        "placementdetailorderseqcolumn",
        "sourceid",
    ]
    tables["placementdetail"] = (
        detail_header if version == 1 else [*detail_header, "attendancepattern"],
        details,
    )
    for table, (header, rows) in tables.items():
        write(folder / export.format(table), header, rows)


def write_sen2_landing(landing: Path, ledger_id: str = "upn") -> None:
    """The council as three SEN2 returns (January 2023, 2024, 2025) plus the same ledger."""
    write_shared(landing, ledger_id)
    for version, census in enumerate(CENSUS_DATES, 1):
        write_sen2_return(landing / "sen2" / str(census.year), census, version)
