"""The census counts are published in several tables — the serving file's plans by need and by
age group (each with its provision types' totals) and the publication report's caseload by
provision type, its DfE placement categories and its plans by age at plan start — which share
figures. Suppressed one by one, each chose its own complements: the report showed a category's
sum and hid one member, published.ehcp_plans_by_need showed that member, and the category less
it gave the other back (a single child in specialist post-16 on a 120-child council)."""

import numpy as np
import pandas as pd
import pytest

from ingest.provision_types import DFE_PLACEMENT_CATEGORY
from report.data import ReportData
from serving.publish import suppressed_tables
from serving.suppression import TOTAL, Line, recoverable_cells

TYPES = ("mainstream", "mss", "inmss", "post16_fe", "post16_spi", "ap", "other", "none")
NEEDS = ("ASD", "SEMH", "SLCN")
AGES = ("5 to 10", "11 to 15", "16 to 19")
BANDS = ("0-4", "5-10", "11+")
THRESHOLD = 5


def cohort(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for year in (2023, 2024):
        for provision in TYPES:
            for need in NEEDS:
                for age, band in zip(AGES, BANDS, strict=True):
                    plans = int(rng.choice([0, 0, 0, 1, 1, 2, 3, 6, 9, 20]))
                    if plans:
                        rows.append((year, need, age, provision, band, plans))
    return pd.DataFrame(
        rows,
        columns=[
            "census_year",
            "primary_need",
            "age_group",
            "provision_type",
            "age_at_plan_start_band",
            "plans",
        ],
    )


def report_of(cells: pd.DataFrame) -> ReportData:
    data = ReportData.__new__(ReportData)
    data.labels = {p: p for p in TYPES}
    data.cohort = cells
    # no flows: the census counts alone (the flows join their suppression when there are some)
    data.flows = pd.DataFrame(
        columns=["year", "provision_type", "new_plans", "ceased_plans", "moved_in", "moved_out"]
    )
    data._suppressed = {}
    return data


class Figures:
    """Every published figure, one unknown each (the same figure in two outputs is one)."""

    def __init__(self):
        self.index, self.hidden, self.equations = {}, [], []

    def add(self, key, hidden: bool) -> int:
        if key in self.index:
            assert self.hidden[self.index[key]] == hidden, f"{key} hidden in one output only"
        else:
            self.index[key] = len(self.hidden)
            self.hidden.append(hidden)
        return self.index[key]

    def sums(self, members: list, total) -> None:
        self.equations.append(([self.index[m] for m in members], self.index[total]))


def key(year, kind, value, provision):
    """A figure by what it counts: a type's total over needs is its total over age groups."""
    if value == TOTAL:
        return ("margin", int(year), provision)
    return (kind, int(year), value, provision)


@pytest.mark.parametrize("seed", range(12))
def test_no_output_gives_back_a_count_another_hid(seed):
    cells = cohort(seed)
    sources = {
        "ehcp_plans_by_need": cells.groupby(
            ["census_year", "primary_need", "provision_type"], as_index=False
        )["plans"].sum(),
        "ehcp_plans_by_age_group": cells.groupby(
            ["census_year", "age_group", "provision_type"], as_index=False
        )["plans"].sum(),
        "ehcp_plans_by_start_band": cells.groupby(
            ["census_year", "age_at_plan_start_band"], as_index=False
        )["plans"].sum(),
    }
    served = suppressed_tables(
        {name: frame.assign(la_code="001") for name, frame in sources.items()}, THRESHOLD
    )
    figures = Figures()
    for name, column in (
        ("ehcp_plans_by_need", "primary_need"),
        ("ehcp_plans_by_age_group", "age_group"),
    ):
        table = served[name]
        for row in table.itertuples(index=False):
            figures.add(
                key(row.census_year, column, getattr(row, column), row.provision_type),
                bool(row.suppressed),
            )
        for (year, value), line in table.groupby(["census_year", column]):
            members = line[line["provision_type"] != TOTAL]
            figures.sums(
                [key(year, column, value, p) for p in members["provision_type"]],
                key(year, column, value, TOTAL),
            )
        for (year, provision), line in table.groupby(["census_year", "provision_type"]):
            members = line[line[column] != TOTAL]
            figures.sums(
                [key(year, column, v, provision) for v in members[column]],
                key(year, column, TOTAL, provision),
            )

    report = report_of(cells)
    caseload, categories = report.caseload_published(THRESHOLD)
    for year in caseload.cells.index:
        for provision in TYPES:
            figures.add(
                key(year, "", TOTAL, provision), bool(np.isnan(caseload.cells.loc[year, provision]))
            )
        figures.add(key(year, "", TOTAL, TOTAL), bool(np.isnan(caseload.row_totals[year])))
        for category in categories.columns:
            members = [p for p in TYPES if DFE_PLACEMENT_CATEGORY[p] == category]
            figures.add(
                ("category", int(year), category), bool(np.isnan(categories.loc[year, category]))
            )
            figures.sums(
                [key(year, "", TOTAL, p) for p in members], ("category", int(year), category)
            )
        figures.sums(
            [("category", int(year), c) for c in categories.columns], key(year, "", TOTAL, TOTAL)
        )
    for column in ("primary_need", "age_group", "age_at_plan_start_band"):
        shown = report.cohort_published(column, THRESHOLD)
        for year in shown.cells.index:
            for value in shown.cells.columns:
                figures.add(
                    key(year, column, value, TOTAL)
                    if column != "age_at_plan_start_band"
                    else ("band", int(year), value),
                    bool(np.isnan(shown.cells.loc[year, value])),
                )
            figures.add(key(year, "", TOTAL, TOTAL), bool(np.isnan(shown.row_totals[year])))
            if column == "age_at_plan_start_band":
                figures.sums(
                    [("band", int(year), v) for v in shown.cells.columns],
                    key(year, "", TOTAL, TOTAL),
                )

    hidden = np.array(figures.hidden)
    assert hidden.any()  # small counts were hidden
    lines = [Line(np.array(members), total) for members, total in figures.equations]
    assert not recoverable_cells(hidden, lines).size


def test_an_empty_cohort_publishes_empty_tables():
    empty = cohort(0).iloc[0:0]
    report = report_of(empty)
    assert report.cohort_published("primary_need", THRESHOLD).cells.empty
    assert report.caseload_published(THRESHOLD)[0].cells.empty
