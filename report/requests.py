"""What SEN2 adds to the DBV diagnostic: the council's requests for EHC needs assessment,
decisions to assess, plans issued, conversion of requests to plans and 20-week timeliness, from
its own returns (`marts.fct_ehcp_requests`), beside the same figures the DfE publishes for the
council, its similar councils (median) and England.

The published figures come from the "Education, health and care plans" release in the
published folder (`HIGHNEEDS_PUBLISHED`): `requests.csv` and `timeliness_20_week.csv`, their
all-children rows ("All requests for EHC needs assessments", "All EHC plans issued"), by calendar
year (`assessments.csv`'s plans issued only to tell a return that did not come in). Counted
the same way: the year's requests and the decisions on them; plans issued in the year; the
share of plans issued in the year within 20 weeks of the request, with and without the plans
an exception applied to. The conversion of the year's requests into plans is the council's own
(the DfE publishes no such figure).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from forecast.published import PublishedDataError, column_key, published_files, published_number
from warehouse.councils import of_council

from .tables import Table

ENGLAND = "E92000001"
# mart column → label, and the published file and column that count the same thing
MEASURES = {
    "requests": (
        "Requests for an EHC needs assessment",
        "requests.csv",
        "requests_received_in_year",
    ),
    "decided_to_assess_pct": (
        "Requests the council decided to assess (%)",
        "requests.csv",
        "request_assess_pc",
    ),
    # plans issued in the year (the 20-week tables' denominator), as the council's are counted:
    # assessments.csv's assess_issued counts assessments by the year they ended (West Berkshire
    # 2024: 273 against 269 plans issued)
    "plans_issued": ("EHC plans issued", "timeliness_20_week.csv", "plans_issued_den"),
    "conversion_pct": ("Requests that led to a plan (%)", None, None),
    "within_20_weeks_pct": (
        "Plans issued within 20 weeks (%)",
        "timeliness_20_week.csv",
        "pc_plans_issued_within_20_weeks",
    ),
    "within_20_weeks_pct_excluding_exceptions": (
        "Plans issued within 20 weeks, excluding exceptions (%)",
        "timeliness_20_week.csv",
        "PC_plans_issued_20_weeks_ex",
    ),
}
# published figures read as evidence only, not shown: assessments that issued a plan say a year's
# return came in where the 20-week table is not published (West Berkshire 2022: x)
EVIDENCE = {"assessments_issued": ("assessments.csv", "assess_issued")}
# the shares, each with its denominator (for suppression of small counts in the publication
# version): the share excluding exceptions is of the plans issued without one
DENOMINATORS = {
    "decided_to_assess_pct": lambda r: r.requests,
    "conversion_pct": lambda r: r.requests,
    "within_20_weeks_pct": lambda r: r.plans_issued,
    "within_20_weeks_pct_excluding_exceptions": (
        lambda r: r.plans_issued - r.plans_issued_with_exception
    ),
}


def read_own(con: duckdb.DuckDBPyConnection, la_code: str | None = None) -> pd.DataFrame | None:
    """Council `la_code`'s figures by year (None: every row, for a warehouse of one council), or
    None when the warehouse has none (no SEN2 return)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'marts' AND table_name = 'fct_ehcp_requests'"
    ).fetchone()[0]
    if not exists:
        return None
    frame = con.execute(
        of_council(
            f"SELECT year, {', '.join(MEASURES)}, plans_issued_with_exception "
            "FROM marts.fct_ehcp_requests ORDER BY year",
            la_code,
        )
    ).df()
    return frame if len(frame) else None


def read_published(folder: Path | None) -> pd.DataFrame:
    """Every published all-children figure: year, code (old LA code, or ENGLAND), measure, value."""
    columns = ["year", "code", "measure", "value"]
    if folder is None or not Path(folder).is_dir():
        return pd.DataFrame(columns=columns)
    try:
        files = published_files(Path(folder))
    except PublishedDataError:  # two releases' copies: the benchmarks' note says which
        return pd.DataFrame(columns=columns)
    frames = []
    read = {m: (file, column) for m, (_, file, column) in MEASURES.items() if file} | EVIDENCE
    for file_name in sorted({file for file, _ in read.values()}):
        path = files.get(file_name)
        if path is None:
            continue
        published = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        # columns by name whatever their case (the DfE has changed a column's case between
        # releases: PC_plans_issued_20_weeks_ex, read by its exact name, would drop unsaid),
        # labels as forecast.published reads them: without spaces about them or regard to case
        published.columns = [column_key(str(c)) for c in published.columns]
        for label in ("breakdown_topic", "breakdown", "geographic_level"):
            published[label] = published[label].str.strip().str.lower()
        published = published[
            (published["breakdown_topic"] == published["breakdown"])
            & published["breakdown"].str.startswith("all")
            & published["geographic_level"].isin(["national", "local authority"])
        ]
        code = (
            published["old_la_code"]
            .str.strip()
            .where(published["geographic_level"] == "local authority", ENGLAND)
        )
        for measure, (file, column) in read.items():
            column = column_key(column)
            if file == file_name and column in published:
                frames.append(
                    pd.DataFrame(
                        {
                            "year": pd.to_numeric(published["time_period"], errors="coerce"),
                            "code": code,
                            "measure": measure,
                            # x, z → NaN; 1,234 as the DfE's other files write it
                            "value": published[column].map(published_number).astype(float),
                        }
                    )
                )
    if not frames:
        return pd.DataFrame(columns=columns)
    return _without_missing_returns(pd.concat(frames, ignore_index=True))


def _without_missing_returns(frame: pd.DataFrame) -> pd.DataFrame:
    """A council-year published with no requests at all while the same year's plans were issued
    is a return that did not come in (West Berkshire 2022: 0 requests, 176 plans issued), not a
    year without requests: its requests are blank, not 0."""
    wide = frame.pivot_table(index=["year", "code"], columns="measure", values="value")
    shown = frame[~frame["measure"].isin(EVIDENCE)]
    issued = [m for m in ("plans_issued", *EVIDENCE) if m in wide]
    if "requests" not in wide or not issued:
        return shown
    missing = wide.index[(wide["requests"] == 0) & (wide[issued] > 0).any(axis=1)]
    from_requests = [m for m, (_, file, _) in MEASURES.items() if file == "requests.csv"]
    blank = shown.set_index(["year", "code"]).index.isin(missing) & shown["measure"].isin(
        from_requests
    )
    return shown.assign(value=shown["value"].mask(blank))


def _discloses(value, count, measure: str, threshold: int) -> bool:
    """Whether the council's figure would show a count of children below the threshold: a count
    itself, or a share whose denominator, numerator (share × denominator) or remainder is one;
    a share of a hidden denominator is hidden with it."""

    def small(n) -> bool:
        return bool(pd.notna(n) and 0 < round(n) < threshold)

    if measure not in DENOMINATORS:
        return small(value)
    if pd.isna(count) or small(count):
        return pd.notna(count)
    if pd.isna(value):
        return False
    numerator = float(value) / 100 * float(count)
    return small(numerator) or small(float(count) - numerator)


PUBLISHED_YEARS = 5  # without the council's own returns: the latest published years shown
# the rows of each year: whose figures they are
OWN = "This council (its own records)"  # its SEN2 returns, or a requests file
PUBLISHED = "This council (published)"
SIMILAR = "Similar councils (median)"
ENGLAND_LABEL = "England"


def requests_table(
    own: pd.DataFrame | None,
    published: pd.DataFrame,
    council: str | None,
    neighbours: list[str],
    threshold: int | None = None,
) -> Table | None:
    """A column per measure, and for each year a row of the council's figures from its returns,
    then as published, its similar councils' median and England; numbers (per cent in the
    "(%)" columns), blank where there is no figure. With a threshold (the publication version),
    the council's own counts below it, and shares of them, are suppressed. Without the
    council's own returns (`own` None): the DfE's published figures alone, for the latest years
    the council has them (None when it has none, or no council code is set)."""
    if own is None:
        if not council:
            return None
        years = sorted(published.loc[published["code"] == council, "year"].dropna().unique())
        if not years:
            return None
        own = pd.DataFrame({"year": years[-PUBLISHED_YEARS:]})
    from_returns = "requests" in own.columns
    measures = {m: label for m, (label, file, _) in MEASURES.items() if from_returns or file}
    sources = [OWN] * from_returns + [PUBLISHED, SIMILAR, ENGLAND_LABEL]
    rows, hidden = [], []
    for record in own.itertuples(index=False):
        year = int(record.year)
        in_year = published[published["year"] == year]
        for source in sources:
            row, hide = {"Calendar year": year, "Figures": source}, {}
            for measure, label in measures.items():
                of = in_year[in_year["measure"] == measure].set_index("code")["value"]
                if source == OWN:
                    value = getattr(record, measure)
                    hide[label] = threshold is not None and _discloses(
                        value,
                        DENOMINATORS[measure](record) if measure in DENOMINATORS else value,
                        measure,
                        threshold,
                    )
                elif source == PUBLISHED:
                    value = of.get(council) if council else None
                elif source == SIMILAR:
                    value = of.reindex(neighbours).dropna().median() if neighbours else None
                else:
                    value = of.get(ENGLAND)
                row[label] = float(value) if value is not None and pd.notna(value) else None
            rows.append(row)
            hidden.append(hide)
    frame = pd.DataFrame(rows)
    if not from_returns:
        return Table(
            "ehcp_requests",
            "Requests, assessments and 20-week timeliness, as the DfE publishes them",
            frame,
            "mixed",
            "The DfE's EHCP release (requests.csv and timeliness_20_week.csv in the "
            "published folder), from the council's SEN2 returns: requests received in the "
            "calendar year and the decisions on them, plans issued in the year and the share "
            "issued within 20 weeks of the request; published counts, so nothing is suppressed. "
            "With the council's own returns in the landing folder (sen2/<return>/) the table "
            "adds its own figures and how many requests led to a plan.",
        )
    suppressed = pd.DataFrame(False, index=frame.index, columns=frame.columns)
    for i, hide in enumerate(hidden):
        for label, is_hidden in hide.items():
            suppressed.loc[i, label] = is_hidden
    return Table(
        "ehcp_requests",
        "Requests, assessments and 20-week timeliness",
        frame,
        "mixed",
        "The council's own figures from its SEN2 returns or requests file "
        "(marts.fct_ehcp_requests), counted as the "
        "DfE's EHCP release counts them: requests received in the calendar year and the decisions "
        "on them, plans issued in the year and the share issued within 20 weeks of the request. "
        "Requests that led to a plan: the year's requests that have become plans so far (recent "
        "years rise as assessments end).",
        suppressed=suppressed if threshold is not None else None,
    )
