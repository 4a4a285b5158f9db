"""National average unit costs from the DfE's high needs benchmarking workbook: the weights of the
aggregate backtest's money-weighted rows."""

from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from forecast.national_costs import WORKBOOK, WorkbookLayoutError, national_unit_costs
from tests.conftest import reference_file

HINT = (
    "the DfE high needs benchmarking tool's 2021-22 data (see ../shared/reference-data/"
    "PROVENANCE.md, dsg_finance/)"
)
PLACEMENT_HEADINGS = [
    "Mainstream schools\nor academies",
    "Resourced provision\nor SEN units",
    "Maintained special schools\nor special academies",
    "NMSS or\nindependent schools",
    "Hospital schools or\nalternative provision",
    "Post 16",
    "Other",
]
LINES = ["Early Years", "Primary", "Secondary", "Special schools and academies"]
LINES += ["PRUs and AP academies", "Post School"]


def _workbook(path: Path, councils: list[tuple[int, list[int], list[int]]]) -> Path:
    """The benchmarking tool's layout, cut down: placements from column 7, the section 251
    budget from column 15 (place funding, maintained top-up, independent top-up, each by phase)."""
    book = Workbook()
    sheet = book.active
    rows = [[None] * 45 for _ in range(7)]
    rows[2][15] = "Section 251 budget"
    rows[3][15], rows[3][22], rows[3][30] = "Place funding", "Top up funding", "Top up funding (2)"
    for i, line in enumerate(LINES):
        rows[3][16 + i], rows[3][23 + i], rows[3][31 + i] = line, f"{line} (1)", f"{line} (2)"
    rows[4][1], rows[4][2], rows[4][3] = "Region", "LA code", "LA name"
    for i, heading in enumerate(PLACEMENT_HEADINGS):
        rows[5][7 + i] = heading
    for code, placements, budget in councils:
        row = [None] * 45
        row[1], row[2], row[3] = "REGION", code, f"Council {code}"
        row[7:14] = placements
        row[16:22], row[23:29], row[31:37] = budget[0:6], budget[6:12], budget[12:18]
        rows.append(row)
    rows.append([None, "ENGLAND", None, "England"] + [10**9] * 41)  # no code: not a council
    for row in rows:
        sheet.append(row[1:])  # openpyxl's first cell is column A; the layout counts from 0
    file = path / WORKBOOK
    book.save(file)
    return file


def test_each_type_costs_its_budget_lines_over_its_plans(tmp_path):
    # placements: mainstream, RP, special, independent, hospital/AP, post-16, other
    # budget: place (EY, primary, secondary, special, PRU/AP, post), maintained top-up (same),
    # independent top-up (same)
    first = ([100, 20, 50, 10, 5, 40, 3], [0, 60_000, 40_000, 500_000, 90_000, 0])
    first[1].extend([1, 500_000, 600_000, 700_000, 8, 200_000])
    first[1].extend([0, 30_000, 70_000, 400_000, 9, 100_000])
    second = ([300, 40, 150, 30, 1, 60, 0], [0, 100_000, 20_000, 1_000_000, 0, 50_000])
    second[1].extend([0, 1_400_000, 1_100_000, 2_300_000, 0, 350_000])
    second[1].extend([0, 0, 0, 1_500_000, 0, 0])
    path = _workbook(tmp_path, [(801, *first), (802, *second)])
    costs = national_unit_costs(path).set_index("provision_type")["unit_cost_gbp"]
    mainstream = (
        60_000 + 40_000 + 500_000 + 600_000 + 100_000 + 20_000 + 1_400_000 + 1_100_000
    ) / (100 + 20 + 300 + 40)
    assert costs["mainstream"] == pytest.approx(mainstream)
    assert costs["mainstream_rp_unit"] == costs["mainstream"]
    assert costs["mss"] == pytest.approx((500_000 + 700_000 + 1_000_000 + 2_300_000) / 200)
    assert costs["inmss"] == pytest.approx((30_000 + 70_000 + 400_000 + 1_500_000) / 40)
    post = (200_000 + 100_000 + 50_000 + 350_000) / 100
    assert costs["post16_fe"] == pytest.approx(post) and costs["post16_spi"] == costs["post16_fe"]
    # alternative provision's lines also serve children without a plan: not costed
    assert "ap" not in costs and "early_years" not in costs


def test_a_workbook_without_its_headings_says_which(tmp_path):
    path = _workbook(tmp_path, [(801, [1] * 7, [1] * 18)])
    book = load_workbook(path)
    book.active["Q4"] = "Primary phase"  # the place funding line for primary, renamed
    book.save(path)
    with pytest.raises(WorkbookLayoutError, match="no budget line 'Primary'"):
        national_unit_costs(path)


def test_the_published_workbook_gives_plausible_national_averages():
    path = reference_file(f"dsg_finance/{WORKBOOK}", HINT)
    costs = national_unit_costs(path).set_index("provision_type")
    assert costs["councils"].eq(154).all()
    unit = costs["unit_cost_gbp"]
    # a special school place costs more than a mainstream one, an independent one more again
    assert 5_000 < unit["mainstream"] < unit["mss"] < unit["inmss"] < 100_000
    assert costs.loc["mss", "plans"] == 132_130  # maintained special plans, every council summed
