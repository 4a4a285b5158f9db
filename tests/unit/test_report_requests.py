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
    }
)


def test_the_councils_figures_sit_beside_its_published_ones_similar_councils_and_england():
    folder = reference_file(
        "ehcp_2025_release/requests.csv", "the 'Education, health and care plans' release"
    ).parent
    published = read_published(folder)
    table = requests_table(OWN, published, "869", ["825", "867"])
    rows = table.frame.set_index("Measure")
    requests = rows.loc["Requests for an EHC needs assessment"]
    assert (requests["This council (its SEN2 returns)"], requests["This council (published)"]) == (
        "480",
        "475",
    )
    assert (
        rows.loc["Requests the council decided to assess (%)", "This council (published)"] == "55.6"
    )
    assert rows.loc["Plans issued within 20 weeks, excluding exceptions (%)", "England"] == "46.4"
    # the DfE publishes no such figure
    assert rows.loc["Requests that led to a plan (%)", "England"] == "–"


def test_small_counts_and_their_shares_are_suppressed_for_publication():
    table = requests_table(OWN, read_published(None), None, [], threshold=5)
    hidden = dict(
        zip(
            table.frame["Measure"],
            table.suppressed["This council (its SEN2 returns)"],
            strict=False,
        )
    )
    assert hidden["EHC plans issued"] and hidden["Plans issued within 20 weeks (%)"]
    assert (
        not hidden["Requests for an EHC needs assessment"]
        and not hidden["Requests that led to a plan (%)"]
    )
