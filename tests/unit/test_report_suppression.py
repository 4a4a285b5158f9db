"""The publication version's provision spend: a small placement count hides its spend too, and
enough of its year's other cells that the year's total spend cannot give it back."""

from types import SimpleNamespace

import pandas as pd

from report.tables import provision_spend

THRESHOLD = 5


def spend_rows():
    rows = []
    for fy, placements in (("2023-24", {"mss": 40, "inmss": 1, "ap": 12}), ("2024-25", {})):
        for provision, count in (placements or {"mss": 42, "inmss": 9, "ap": 11}).items():
            rows.append((fy, provision, count * 30_000.0, count, float(count), 30_000.0, True))
        rows.append((fy, "central", 500_000.0, 0, 0.0, None, True))
    return pd.DataFrame(
        rows,
        columns=[
            "financial_year",
            "provision_type",
            "spend_gbp",
            "placements",
            "fte_placements",
            "unit_cost_gbp",
            "is_complete_year",
        ],
    )


def test_a_small_placement_count_hides_its_spend_and_enough_of_its_year():
    data = SimpleNamespace(
        spend=spend_rows(), labels={p: p for p in ("mss", "inmss", "ap", "central")}
    )
    published = provision_spend(data, THRESHOLD).frame.set_index(
        ["Financial year", "Provision type"]
    )
    one_child = published.loc[("2023-24", "inmss")]
    assert one_child.drop("Complete year").isna().all()  # count, spend, FTE, unit cost
    # the year's total spend is published (the high needs block position): a second cell of
    # 2023-24 is hidden with it, so the total less the others does not give £30,000 back
    year = published.loc["2023-24"]
    assert year["Spend (£)"].isna().sum() >= 2
    assert year.loc["central", "Spend (£)"] == 500_000  # no placements: no child to protect
    assert year.loc["central", "Full-time equivalent placements"] == 0
    assert published.loc["2024-25", "Spend (£)"].notna().all()  # nothing small that year
    internal = provision_spend(data).frame.set_index(["Financial year", "Provision type"])
    assert internal["Spend (£)"].notna().all()
