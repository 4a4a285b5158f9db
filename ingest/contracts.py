"""The input contract of the landing folder (DESIGN.md, "Inputs: the landing folder").

One `Extract` per landing sub-folder. Each column has a kind that says how its text is parsed
and validated (see `ingest.parsing`), whether it is required, and whether it is personal data
(dropped on load) or a person id (replaced by a keyed hash on load).

The contract is data, not code branches: adding a column or a code is a change here only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["id", "text", "date", "amount", "code", "financial_year"]

PRIMARY_NEED_CODES = (
    "SPLD",
    "MLD",
    "SLD",
    "PMLD",
    "SEMH",
    "SLCN",
    "HI",
    "VI",
    "MSI",
    "PD",
    "ASD",
    "DS",
    "OTH",
)
SEN_SETTING_CODES = ("OLA", "OPA", "EHE", "EYP", "OTH", "NEET", "NIEC", "NIEO")
CEASE_REASON_CODES = tuple(str(n) for n in range(1, 10))
SEX_CODES = ("M", "F", "U")
YES_NO_CODES = ("Y", "N")
# a request's or an assessment's outcome: yes, no, or W, withdrawn (or ceased, the child moved
# away) before the decision, as SEN2's requestoutcome and assessmentoutcome record it; the DfE
# counts withdrawn requests and assessments apart from decisions not to assess or issue
OUTCOME_CODES = ("Y", "N", "W")
RESIDENTIAL_CODES = ("A", "B")
BUDGET_LINE_CODES = (
    "hnb_allocation",
    "place_deductions",
    "block_transfer",
    "la_contribution",
    "other_income",
    "balance_brought_forward",
    # optional: the DSG's other blocks, for the management plan's whole-DSG summary
    "schools_block_funding",
    "schools_block_spend",
    "central_block_funding",
    "central_block_spend",
    "early_years_block_funding",
    "early_years_block_spend",
)
# The budget lines whose sum is the high needs block's funding (place deductions whichever sign
# the file gives them: subtracted), as marts.fct_hnb_position adds them up; the other blocks'
# lines are never high needs money.
HNB_FUNDING_LINES = (
    "hnb_allocation",
    "place_deductions",
    "block_transfer",
    "la_contribution",
    "other_income",
)
# Section 251 line numbers look like 1.0.2, 1.2.13 or 2.1: digits separated by dots.
S251_LINE_PATTERN = r"^[0-9]+(\.[0-9]+){1,2}$"
# Postings, placements and plans dated before this are implausible (typing slips such as 1900):
# quarantined with a reason (HIGHNEEDS_DATE_FLOOR changes it). Dates of birth keep their own
# age rules.
DEFAULT_DATE_FLOOR = dt.date(1990, 1, 1)


# What each contract column means (DESIGN.md), shown with the ingest assets' column schema.
COLUMN_DESCRIPTIONS = {
    "child_id": (
        "The council's person id, as a keyed hash (HMAC-SHA256 with HIGHNEEDS_PSEUDONYM_KEY), "
        "stored as a 63-bit number."
    ),
    "plan_id": "The council's unique EHC plan id.",
    "date_of_birth": "Date of birth (warehouse only; never in marts or serving).",
    "sex": "M, F or U.",
    "primary_need": "SEN2 primary need code (SENtype rank 1).",
    "secondary_need": "SEN2 secondary need code.",
    "request_date": "Date the EHC needs assessment was requested.",
    "plan_start_date": "Date the plan was issued.",
    "plan_cease_date": "Date the plan ceased.",
    "cease_reason": "SEN2 cease reason 1–9.",
    "placement_id": "The council's unique placement id.",
    "urn": "School URN (GIAS).",
    "ukprn": "Provider UKPRN (FE and specialist post-16).",
    "sen_setting": "SEN2 setting code when there is no URN or UKPRN.",
    "establishment_name": "Name of the school or provider.",
    "establishment_type_code": "GIAS TypeOfEstablishment code.",
    "sen_unit": "Y when the placement is in a mainstream school's SEN unit.",
    "resourced_provision": "Y when the placement is in a mainstream school's resourced provision.",
    "residential": "A (up to 38 weeks) or B (39–52 weeks) for residential placements.",
    "start_date": "First day of the placement.",
    "end_date": "Last day of the placement (blank while ongoing).",
    "annual_cost": "Commissioned annual cost in pounds.",
    "placement_rank": (
        "SEN2 PlacementRank: 1 for the child's main placement when they attend more than one "
        "at once (the one the census counts)."
    ),
    "transaction_id": "The ledger's unique transaction id.",
    "posting_date": "Date the transaction was posted.",
    "amount": "Amount in pounds (credits negative).",
    "s251_line": "Section 251 line, e.g. 1.2.3.",
    "provider_urn": "URN of the school paid.",
    "provider_ukprn": "UKPRN of the provider paid.",
    "supplier_name": "Supplier (payee) name.",
    "cost_centre": "Council cost centre.",
    "description": "Free-text ledger description.",
    "financial_year": "Financial year, e.g. 2024-25.",
    "line": (
        "Funding line (hnb_allocation, place_deductions, block_transfer, la_contribution, "
        "other_income, balance_brought_forward)."
    ),
    "request_id": (
        "The request's unique id (from a SEN2 return: "
        "the child's keyed hash and the date received)."
    ),
    "decided_to_assess": (
        "Y when the council decided to carry out an EHC needs assessment, N when it decided not "
        "to, W when the request was withdrawn before a decision; blank while undecided."
    ),
    "decision_date": "Date of the decision whether to assess.",
    "assessment_outcome_date": (
        "Date the assessment ended (a plan issued, a decision not to issue one, or withdrawn)."
    ),
    "plan_issued": (
        "Y when the assessment led to an EHC plan, N when the council decided not to issue one, "
        "W when the assessment was withdrawn before that decision; blank while undecided."
    ),
    "week20_exception": "Y when an exception to the 20-week time limit applied (SEN2 week20).",
    "census_date": (
        "Census day of the SEN2 return the row came from: it reports the requests of "
        "the calendar year before."
    ),
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind = "text"
    required: bool = False
    codes: tuple[str, ...] | None = None  # allowed values for kind == "code" (upper-cased)
    pattern: str | None = None  # regular expression the trimmed value must match
    personal: bool = False  # personal data: never stored, not even in raw
    pseudonymise: bool = False  # replaced by a keyed hash before it is stored
    # a value that cannot be read is set aside (quarantine.<extract>_values, with its file, row
    # and text) and the row kept without it, read as not given: a field whose row still counts
    # without it (the plan on its census, the placement's days in its type's places), where
    # losing the row costs more than the value (a unit flag read as no unit, a 20-week exception
    # as none, a cease reason as unknown, a rank as the main placement, a cost as unknown).
    # Rows with one count against the quarantine tolerance. Quarantining the row had taken 45
    # residential placements given `residential=Y` (0.8 % of the rows, under the tolerance) out
    # of every census and their full-time places out of independent special's unit cost, which
    # their payments, kept, lifted 15 %, green
    lenient: bool = False


@dataclass(frozen=True)
class Extract:
    name: str  # landing sub-folder and raw table name
    description: str
    key: tuple[str, ...]  # natural key: one current row per key
    columns: tuple[Column, ...]
    # at least one of these columns must hold a value (placements: urn / ukprn / sen_setting)
    one_of: tuple[str, ...] = ()
    money_column: str | None = None  # reconciled to the penny from file to mart
    # pairs (earlier, later): the later date may not be before the earlier one
    ordered_dates: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    folder: str | None = None  # landing sub-folder, when it is not the extract's name
    # which files of the folder are this extract's (fnmatch, lower case)
    file_patterns: tuple[str, ...] = ("*",)
    # whether a few bad rows may wait in quarantine within the tolerance settings: not where
    # every row is a figure of its own (a budget line is a year's funding or balance)
    tolerates_quarantine: bool = True

    @property
    def landing_folder(self) -> str:
        return self.folder or self.name

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def stored_columns(self) -> tuple[Column, ...]:
        """Columns kept in the warehouse (personal data is dropped at the door)."""
        return tuple(c for c in self.columns if not c.personal)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


EHCP = Extract(
    name="ehcp",
    description="One row per EHC plan, from the council's case-management system.",
    key=("plan_id",),
    columns=(
        Column("child_id", "id", required=True, pseudonymise=True),
        Column("plan_id", "id", required=True),
        Column("date_of_birth", "date", required=True),
        Column("sex", "code", codes=SEX_CODES, lenient=True),
        Column("primary_need", "code", required=True, codes=PRIMARY_NEED_CODES),
        Column("secondary_need", "code", codes=PRIMARY_NEED_CODES, lenient=True),
        Column("request_date", "date"),
        Column("plan_start_date", "date", required=True),
        Column("plan_cease_date", "date"),
        Column("cease_reason", "code", codes=CEASE_REASON_CODES, lenient=True),
        Column("upn", personal=True),
        Column("forename", personal=True),
        Column("surname", personal=True),
        Column("postcode", personal=True),
    ),
    ordered_dates=(("date_of_birth", "plan_start_date"), ("plan_start_date", "plan_cease_date")),
)

PLACEMENTS = Extract(
    name="placements",
    description="One row per placement spell (where a child with a plan is educated).",
    key=("placement_id",),
    columns=(
        Column("placement_id", "id", required=True),
        Column("child_id", "id", required=True, pseudonymise=True),
        Column("urn", "id", pattern=r"^[0-9]{6,7}$"),
        Column("ukprn", "id", pattern=r"^[0-9]{8}$"),
        Column("sen_setting", "code", codes=SEN_SETTING_CODES),
        Column("establishment_name", "text"),
        Column("establishment_type_code", "id", pattern=r"^[0-9]{1,2}$"),
        Column("sen_unit", "code", codes=YES_NO_CODES, lenient=True),
        Column("resourced_provision", "code", codes=YES_NO_CODES, lenient=True),
        Column("residential", "code", codes=RESIDENTIAL_CODES, lenient=True),
        Column("start_date", "date", required=True),
        Column("end_date", "date"),
        Column("annual_cost", "amount", lenient=True),
        Column("placement_rank", "id", pattern=r"^[0-9]{1,2}$", lenient=True),
    ),
    one_of=("urn", "ukprn", "sen_setting"),
    ordered_dates=(("start_date", "end_date"),),
)

FINANCE = Extract(
    name="finance",
    description="One row per high-needs ledger transaction (credits negative).",
    key=("transaction_id",),
    columns=(
        Column("transaction_id", "id", required=True),
        Column("posting_date", "date", required=True),
        Column("amount", "amount", required=True),
        Column("s251_line", "text", required=True, pattern=S251_LINE_PATTERN),
        Column("child_id", "id", pseudonymise=True),
        Column("placement_id", "id"),
        Column("provider_urn", "id"),
        Column("provider_ukprn", "id"),
        Column("supplier_name", "text"),
        Column("cost_centre", "text"),
        Column("description", "text"),
    ),
    money_column="amount",
)

BUDGET = Extract(
    name="budget",
    description="One row per financial year and funding line of the high needs block.",
    key=("financial_year", "line"),
    columns=(
        Column("financial_year", "financial_year", required=True),
        Column("line", "code", required=True, codes=BUDGET_LINE_CODES),
        Column("amount", "amount", required=True),
    ),
    money_column="amount",
    tolerates_quarantine=False,
)

GIAS = Extract(
    name="gias",
    description=(
        "Establishments from a GIAS extract (get-information-about-schools.service.gov.uk, "
        "'all establishment data'), optional: gives the establishment type of placements that "
        "have a URN but no type, as SEN2 returns do."
    ),
    key=("urn",),
    columns=(
        Column("urn", "id", required=True, pattern=r"^[0-9]{6,7}$"),
        Column("ukprn", "id", pattern=r"^[0-9]{8}$"),
        Column("establishment_name", "text"),
        Column("establishment_type_code", "id", required=True, pattern=r"^[0-9]{1,2}$"),
    ),
    folder="reference",
    file_patterns=("*edubase*", "*gias*", "*establishment*"),
)

REQUESTS = Extract(
    name="requests",
    description=(
        "One row per request for an EHC needs assessment and what came of it, optional: "
        "from a SEN2 return's requests, assessment and namedplan tables (or a CSV of the same "
        "columns). Feeds the DBV requests, assessments, conversion and 20-week timeliness figures."
    ),
    key=("request_id",),
    columns=(
        Column("request_id", "id", required=True),
        Column("child_id", "id", required=True, pseudonymise=True),
        Column("request_date", "date", required=True),
        Column("decided_to_assess", "code", codes=OUTCOME_CODES),
        Column("decision_date", "date"),
        Column("assessment_outcome_date", "date"),
        Column("plan_issued", "code", codes=OUTCOME_CODES),
        Column("plan_start_date", "date"),
        Column("week20_exception", "code", codes=YES_NO_CODES, lenient=True),
        Column("census_date", "date"),
    ),
    ordered_dates=(
        ("request_date", "decision_date"),
        ("request_date", "assessment_outcome_date"),
        ("request_date", "plan_start_date"),  # else a plan "issued" before it counts as timely
    ),
)

EXTRACTS: dict[str, Extract] = {
    e.name: e for e in (EHCP, PLACEMENTS, FINANCE, BUDGET, GIAS, REQUESTS)
}
