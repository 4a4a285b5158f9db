"""What SEN2 adds to the DBV diagnostic: the council's requests for EHC needs assessment,
decisions to assess, plans issued, conversion of requests to plans and 20-week timeliness, from
its own returns (`marts.fct_ehcp_requests`), beside the same figures the DfE publishes for the
council, its similar councils (median) and England.

The published figures come from the "Education, health and care plans" release in the
published folder (`HIGHNEEDS_PUBLISHED`): `requests.csv`, `assessments.csv` and
`timeliness_20_week.csv`, their all-children rows ("All requests for EHC needs assessments",
"All EHC needs assessments", "All EHC plans issued"), by calendar year. Counted the same way:
the year's requests and the decisions on them; plans issued in the year; the share of plans
issued in the year within 20 weeks of the request, with and without the plans an exception
applied to. The conversion of the year's requests into plans is the council's own (the DfE
publishes no such figure).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

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
    "plans_issued": ("EHC plans issued", "assessments.csv", "assess_issued"),
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
# the shares, each with its denominator (for suppression of small counts in the publication version)
DENOMINATORS = {
    "decided_to_assess_pct": "requests",
    "conversion_pct": "requests",
    "within_20_weeks_pct": "plans_issued",
    "within_20_weeks_pct_excluding_exceptions": "plans_issued",
}


def read_own(con: duckdb.DuckDBPyConnection) -> pd.DataFrame | None:
    """The council's figures by year, or None when the warehouse has none (no SEN2 return)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'marts' AND table_name = 'fct_ehcp_requests'"
    ).fetchone()[0]
    if not exists:
        return None
    frame = con.execute(
        f"SELECT year, {', '.join(MEASURES)} FROM marts.fct_ehcp_requests ORDER BY year"
    ).df()
    return frame if len(frame) else None


def read_published(folder: Path | None) -> pd.DataFrame:
    """Every published all-children figure: year, code (old LA code, or ENGLAND), measure, value."""
    columns = ["year", "code", "measure", "value"]
    if folder is None or not Path(folder).is_dir():
        return pd.DataFrame(columns=columns)
    frames = []
    for file_name in sorted({file for _, file, _ in MEASURES.values() if file}):
        path = next(iter(sorted(Path(folder).rglob(file_name))), None)
        if path is None:
            continue
        published = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
        published = published[
            (published["breakdown_topic"] == published["breakdown"])
            & published["breakdown"].str.startswith("All")
            & published["geographic_level"].isin(["National", "Local authority"])
        ]
        code = published["old_la_code"].where(
            published["geographic_level"] == "Local authority", ENGLAND
        )
        for measure, (_, file, column) in MEASURES.items():
            if file == file_name and column in published:
                frames.append(
                    pd.DataFrame(
                        {
                            "year": pd.to_numeric(published["time_period"], errors="coerce"),
                            "code": code,
                            "measure": measure,
                            # x, z → NaN
                            "value": pd.to_numeric(published[column], errors="coerce"),
                        }
                    )
                )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def _format(measure: str, value) -> str:
    if value is None or pd.isna(value):
        return "–"
    return f"{value:.1f}" if measure in DENOMINATORS else f"{value:,.0f}"


def requests_table(
    own: pd.DataFrame,
    published: pd.DataFrame,
    council: str | None,
    neighbours: list[str],
    threshold: int | None = None,
) -> Table:
    """One row per year and measure: the council from its returns, and as published, its similar
    councils' median and England. With a threshold (the publication version), the council's own
    counts below it, and shares of them, are suppressed."""
    rows, hidden = [], []
    for record in own.itertuples(index=False):
        year = int(record.year)
        in_year = published[published["year"] == year]
        for measure, (label, _, _) in MEASURES.items():
            value = getattr(record, measure)
            count = getattr(record, DENOMINATORS.get(measure, measure))
            of = in_year[in_year["measure"] == measure].set_index("code")["value"]
            similar = of.reindex(neighbours).dropna()
            rows.append(
                {
                    "Year": str(year),
                    "Measure": label,
                    "This council (its SEN2 returns)": _format(measure, value),
                    "This council (published)": _format(measure, of.get(council))
                    if council
                    else "–",
                    "Similar councils (median)": _format(measure, similar.median())
                    if len(similar)
                    else "–",
                    "England": _format(measure, of.get(ENGLAND)),
                }
            )
            hidden.append(threshold is not None and pd.notna(count) and 0 < count < threshold)
    frame = pd.DataFrame(rows)
    suppressed = pd.DataFrame(False, index=frame.index, columns=frame.columns)
    suppressed["This council (its SEN2 returns)"] = hidden
    return Table(
        "ehcp_requests",
        "Requests, assessments and 20-week timeliness",
        frame,
        "mixed",
        "The council's own figures from its SEN2 returns (marts.fct_ehcp_requests), counted as the "
        "DfE's EHCP release counts them: requests received in the calendar year and the decisions "
        "on them, plans issued in the year and the share issued within 20 weeks of the request. "
        "Requests that led to a plan: the year's requests that have become plans so far (recent "
        "years rise as assessments end).",
        suppressed=suppressed if threshold is not None else None,
    )
