"""The report's SEN2 requests table: the council's own figures beside the DfE's published ones."""

import pandas as pd

from report.requests import read_published, requests_table
from tests.conftest import reference_file

OWN = pd.DataFrame(
    {
        "year": [2024],
        "requests": [480],
        "decided_to_assess_pct": [55.0],
        "plans_issued": [3],
        "conversion_pct": [40.2],
        "within_20_weeks_pct": [66.7],
        "within_20_weeks_pct_excluding_exceptions": [100.0],
        "plans_issued_with_exception": [1],
    }
)


def figures(table, year: int, source: str) -> dict:
    frame = table.frame
    return frame[(frame["Calendar year"] == year) & (frame["Figures"] == source)].iloc[0].to_dict()


def published_folder():
    return reference_file(
        "ehcp_2025_release/requests.csv", "the 'Education, health and care plans' release"
    ).parent


def test_the_councils_figures_sit_beside_its_published_ones_similar_councils_and_england():
    table = requests_table(OWN, read_published(published_folder()), "869", ["825", "867"])
    own = figures(table, 2024, "This council (its own records)")
    published = figures(table, 2024, "This council (published)")
    england = figures(table, 2024, "England")
    requests = "Requests for an EHC needs assessment"
    assert (own[requests], published[requests]) == (480, 475)
    assert published["Requests the council decided to assess (%)"] == 55.6
    assert england["Plans issued within 20 weeks, excluding exceptions (%)"] == 46.4
    # the DfE publishes no such figure
    assert own["Requests that led to a plan (%)"] == 40.2
    assert pd.isna(england["Requests that led to a plan (%)"])
    similar = figures(table, 2024, "Similar councils (median)")
    assert similar[requests] > 0


def test_small_counts_and_their_shares_are_suppressed_for_publication():
    table = requests_table(OWN, read_published(None), None, [], threshold=5)
    own = table.frame.index[table.frame["Figures"] == "This council (its own records)"][0]
    hidden = table.suppressed.loc[own]
    assert hidden["EHC plans issued"] and hidden["Plans issued within 20 weeks (%)"]
    assert (
        not hidden["Requests for an EHC needs assessment"]
        and not hidden["Requests that led to a plan (%)"]
    )
    # nothing but the council's own figures is hidden
    assert not table.suppressed.drop(index=own).to_numpy().any()


def test_without_its_own_returns_the_council_is_shown_as_the_dfe_publishes_it():
    published = read_published(published_folder())
    table = requests_table(None, published, "869", ["825", "867"])
    assert set(table.frame["Figures"]) == {
        "This council (published)",
        "Similar councils (median)",
        "England",
    }
    assert table.suppressed is None  # published counts: nothing of the council's own to hide
    years = sorted(set(table.frame["Calendar year"]))
    assert len(years) == 5 and years[-1] == 2024
    requests = "Requests for an EHC needs assessment"
    assert figures(table, 2024, "This council (published)")[requests] == 475
    assert (
        figures(table, 2024, "England")["Plans issued within 20 weeks, excluding exceptions (%)"]
        == 46.4
    )
    # 2022: the DfE publishes 0 requests beside 176 assessments that issued a plan (its 20-week
    # table is x), a return that did not come in: shown blank, not as a year without requests
    assert pd.isna(figures(table, 2022, "This council (published)")[requests])
    # plans issued are the 20-week table's (plans issued in the year, as the council's own are
    # counted), not assessments.csv's assessments that issued a plan (273 in 2024)
    assert figures(table, 2024, "This council (published)")["EHC plans issued"] == 269
    assert "assessments_issued" not in set(published["measure"])
    # the conversion of requests to plans is the council's own figure: not made up here
    assert "Requests that led to a plan (%)" not in table.frame.columns
    # no council, or a council the DfE publishes nothing for: no table at all
    assert requests_table(None, published, None, []) is None
    assert requests_table(None, published, "999", []) is None


def test_a_share_of_a_large_count_is_hidden_when_it_shows_a_small_one():
    """20 requests, 5 % decided to assess: 1 child. 20 plans issued, 90 % within 20 weeks: 2
    were late. A share is hidden when its numerator, or what is left of its denominator, is a
    count below the threshold, however large the denominator."""
    own = OWN.assign(
        requests=[20],
        decided_to_assess_pct=[5.0],
        plans_issued=[20],
        conversion_pct=[50.0],
        within_20_weeks_pct=[90.0],
        within_20_weeks_pct_excluding_exceptions=[50.0],
    )
    table = requests_table(own, read_published(None), None, [], threshold=5)
    hidden = table.suppressed.loc[table.frame["Figures"] == "This council (its own records)"]
    [hidden] = hidden.to_dict("records")
    assert hidden["Requests the council decided to assess (%)"]  # 1 of 20
    assert hidden["Plans issued within 20 weeks (%)"]  # 2 of 20 late
    assert not hidden["Requests that led to a plan (%)"]  # 10 of 20
    assert not hidden["Requests for an EHC needs assessment"]
    assert not hidden["EHC plans issued"]


def test_the_share_excluding_exceptions_is_hidden_when_few_plans_had_none():
    """10 plans issued, 8 with an exception, 1 of the other 2 within 20 weeks: the share excluding
    exceptions (50 %) is of 2 plans, so it shows one child, however many were issued."""
    own = OWN.assign(
        requests=[40],
        decided_to_assess_pct=[50.0],
        plans_issued=[10],
        conversion_pct=[25.0],
        within_20_weeks_pct=[50.0],
        within_20_weeks_pct_excluding_exceptions=[50.0],
        plans_issued_with_exception=[8],
    )
    table = requests_table(own, read_published(None), None, [], threshold=5)
    hidden = table.suppressed.loc[table.frame["Figures"] == "This council (its own records)"]
    [hidden] = hidden.to_dict("records")
    assert hidden["Plans issued within 20 weeks, excluding exceptions (%)"]
    assert not hidden["Plans issued within 20 weeks (%)"]  # 5 of 10
    # without exceptions the share is of all 10 plans: 5 within 20 weeks, 5 not, shown
    shown = requests_table(
        own.assign(plans_issued_with_exception=[0]), read_published(None), None, [], threshold=5
    ).suppressed
    assert not shown.iloc[0]["Plans issued within 20 weeks, excluding exceptions (%)"]


def test_published_files_are_read_whatever_the_case_of_their_headers(tmp_path):
    """The DfE has changed a column's case between releases: read by its exact name, a measure
    whose column came in another case (PC_plans_issued_20_weeks_ex) dropped from the table
    unsaid. Labels with spaces about them, or in another case, read the same too, and counts
    written 1,234 (as the DfE's caseload files write them) are not dropped as no figure."""
    expected = read_published(published_folder())
    assert set(expected["measure"]) >= {"within_20_weeks_pct_excluding_exceptions", "requests"}
    for name in ("requests.csv", "timeliness_20_week.csv", "assessments.csv"):
        frame = pd.read_csv(published_folder() / name, dtype=str, keep_default_na=False)
        frame.columns = [f" {c.swapcase()}" for c in frame.columns]
        frame[" GEOGRAPHIC_LEVEL"] = frame[" GEOGRAPHIC_LEVEL"].str.upper() + " "
        frame[" BREAKDOWN"] = frame[" BREAKDOWN"].str.lower()
        for column in [c for c in frame.columns if c.strip() in ("REQUESTS_RECEIVED_IN_YEAR",)]:
            frame[column] = frame[column].map(lambda v: f"{int(v):,}" if v.isdigit() else v)
        frame.to_csv(tmp_path / name, index=False)
    order = ["measure", "code", "year"]
    pd.testing.assert_frame_equal(
        read_published(tmp_path).sort_values(order, ignore_index=True),
        expected.sort_values(order, ignore_index=True),
    )
