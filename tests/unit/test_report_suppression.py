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


def test_a_type_paid_for_centrally_is_no_complement_for_a_hidden_spend():
    """`other` has placements but no spend of its own (every year £0): hidden as the complement,
    the year's total less the shown spends still gave the hidden type's spend back to the penny."""
    rows = spend_rows()
    rows.loc[len(rows)] = ("2023-24", "other", 0.0, 8, 8.0, None, True)
    data = SimpleNamespace(
        spend=rows, labels={p: p for p in ("mss", "inmss", "ap", "other", "central")}
    )
    year = provision_spend(data, THRESHOLD).frame.set_index(["Financial year", "Provision type"])
    year = year.loc["2023-24", "Spend (£)"]
    hidden = year[year.isna()].index
    assert "inmss" in hidden
    assert (
        rows.set_index(["financial_year", "provision_type"])
        .loc["2023-24"]
        .loc[hidden.drop("inmss"), "spend_gbp"]
        > 0
    ).any()


def test_the_served_provision_spend_keeps_a_hidden_spend_hidden_too():
    from serving.publish import SUPPRESSED_TABLES, suppressed_table

    spec = next(t for t in SUPPRESSED_TABLES if t.name == "provision_spend")
    cells = pd.DataFrame(
        [
            ("2018-19", "ap", 3, 151_234.56, 50_411.52),
            ("2018-19", "other", 26, 0.0, None),
            ("2018-19", "none", 30, 0.0, None),
            ("2018-19", "mss", 40, 1_000_000.0, 25_000.0),
            ("2018-19", "mainstream", 300, 3_000_000.0, 10_000.0),
        ],
        columns=["financial_year", "provision_type", "placements", "spend_gbp", "unit_cost_gbp"],
    )
    table = suppressed_table(cells, spec, THRESHOLD).set_index("provision_type")
    hidden = table.index[table["suppressed"]].drop("ap", errors="ignore")
    assert table.loc["ap", "suppressed"]
    assert (
        cells.set_index("provision_type").loc[hidden.drop("total", errors="ignore"), "spend_gbp"]
        > 0
    ).any()
