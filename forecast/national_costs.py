"""National average cost of a plan per provision type, from the DfE's high needs benchmarking tool
(`high_needs_benchmarking_outturn_data_2021-22.xlsx`): the weights of the aggregate backtest's
money-weighted rows, since a miss on an independent special school place costs several times
one on a mainstream place.

The tool gives, per council, the plans by placement (mainstream schools; resourced provision or
SEN units; maintained special schools or special academies; NMSS or independent schools; hospital
schools or alternative provision; post-16; other) and the section 251 high needs budget for
2021-22 by line (place funding, top-up to maintained schools and academies, top-up to
non-maintained and independent schools, each by phase). A provision type's national average is
the budget lines that pay for its places, summed over every council, divided by its plans summed
over the same councils:

* mainstream and resourced provision (one rate: the lines do not split them): place funding and
  maintained top-up for primary and secondary, over mainstream plus resourced-provision plans;
* maintained special (`mss`): place funding and maintained top-up for special schools and
  academies, over their plans;
* independent and non-maintained special (`inmss`): non-maintained and independent top-up for
  primary, secondary and special, over NMSS or independent plans;
* post-16 (`post16_fe` and `post16_spi`, one rate): place funding and both top-ups for post-school,
  over post-16 plans.

Alternative provision, early years, EOTAS, other and NEET or unknown placements are not costed:
the lines that pay for them (AP services, PRUs and AP academies, early years) also serve children
without a plan, so a cost per plan from them would be far too high. They are left out of the
money-weighted rows rather than given a guessed weight.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

WORKBOOK = "high_needs_benchmarking_outturn_data_2021-22.xlsx"
SOURCE = "DfE high needs benchmarking tool 2021-22: section 251 budget ÷ plans by placement"

# placement headings (their first words, lower case) → their plans
PLACEMENTS = {
    "mainstream": "mainstream schools",
    "rp": "resourced provision",
    "special": "maintained special schools",
    "independent": "nmss or",
    "post16": "post 16",
}
# budget lines as the workbook heads them in the section 251 budget section
BUDGET_LINES = {
    "place_primary": "Primary",
    "place_secondary": "Secondary",
    "place_special": "Special schools and academies",
    "place_post": "Post School",
    "topup_primary": "Primary (1)",
    "topup_secondary": "Secondary (1)",
    "topup_special": "Special schools and academies (1)",
    "topup_post": "Post School (1)",
    "independent_primary": "Primary (2)",
    "independent_secondary": "Secondary (2)",
    "independent_special": "Special schools and academies (2)",
    "independent_post": "Post School (2)",
}
# provision type → (budget lines, placements)
COSTED = {
    "mainstream": (
        ("place_primary", "place_secondary", "topup_primary", "topup_secondary"),
        ("mainstream", "rp"),
    ),
    "mss": (("place_special", "topup_special"), ("special",)),
    "inmss": (
        ("independent_primary", "independent_secondary", "independent_special"),
        ("independent",),
    ),
    "post16_fe": (("place_post", "topup_post", "independent_post"), ("post16",)),
}
SAME_RATE = {"mainstream_rp_unit": "mainstream", "post16_spi": "post16_fe"}


def weights(costs: pd.DataFrame) -> dict[str, float]:
    """national_unit_costs' table as the backtest's unit costs: provision type → £ a plan."""
    return dict(zip(costs["provision_type"], costs["unit_cost_gbp"], strict=True))


def described(costs: pd.DataFrame) -> str:
    """What the backtest's money-weighted rows say their weights are."""
    listed = ", ".join(
        f"{row.provision_type} £{row.unit_cost_gbp:,.0f}" for row in costs.itertuples()
    )
    return (
        f"national average unit costs, {listed} (the DfE's high needs benchmarking tool "
        "2021-22: section 251 budget ÷ plans by placement, `forecast/national_costs.py`; "
        "the types not listed are not costed)"
    )


class WorkbookLayoutError(ValueError):
    """The workbook does not have the headings this reader expects; the message names them."""


def find_workbook(folder: Path) -> Path | None:
    """The benchmarking workbook anywhere under `folder`, if it is there."""
    found = sorted(folder.rglob(WORKBOOK)) if folder.is_dir() else []
    return found[0] if found else None


def national_unit_costs(path: Path) -> pd.DataFrame:
    """provision_type, unit_cost_gbp, budget_gbp, plans, councils: every council of the
    workbook's with plans and a budget for the lines, summed."""
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        rows = [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]
    finally:
        book.close()
    header = _header_row(rows, path)
    budget = _budget_columns(rows[:header], path)
    placements = _placement_columns(rows[: header + 2], path)
    code_column = rows[header].index("LA code")
    councils = [
        row
        for row in rows[header + 1 :]
        if isinstance(row[code_column], int | float) and row[code_column] > 0
    ]
    if not councils:
        raise WorkbookLayoutError(f"{path}: no council rows under the 'LA code' heading")

    def total(row: list, column: int) -> float:
        value = row[column] if column < len(row) else None
        return float(value) if isinstance(value, int | float) else 0.0

    out = []
    for provision, (lines, kinds) in COSTED.items():
        spent = sum(total(row, budget[line]) for row in councils for line in lines)
        plans = sum(total(row, placements[kind]) for row in councils for kind in kinds)
        if plans <= 0 or spent <= 0:
            raise WorkbookLayoutError(f"{path}: no plans or no budget for {provision}")
        out.append((provision, spent / plans, spent, plans, len(councils)))
    frame = pd.DataFrame(
        out, columns=["provision_type", "unit_cost_gbp", "budget_gbp", "plans", "councils"]
    )
    same = frame.set_index("provision_type").loc[list(SAME_RATE.values())]
    same.index = list(SAME_RATE)
    frame = pd.concat([frame, same.reset_index(names="provision_type")], ignore_index=True)
    return frame.assign(source=SOURCE)


def _header_row(rows: list[list], path: Path) -> int:
    for number, row in enumerate(rows[:20]):
        if "LA code" in row:
            return number
    raise WorkbookLayoutError(f"{path}: no 'LA code' heading in its first 20 rows")


def _budget_columns(rows: list[list], path: Path) -> dict[str, int]:
    """The section 251 budget's lines: the columns from its heading up to the next section's."""
    for row in rows:
        if "Section 251 budget" in row:
            start = row.index("Section 251 budget")
            break
    else:
        raise WorkbookLayoutError(f"{path}: no 'Section 251 budget' heading")
    for row in rows:
        labels = [str(v).strip() if v is not None else "" for v in row]
        if "Place funding" in labels[start : start + 1]:
            found = {}
            for line, heading in BUDGET_LINES.items():
                try:
                    found[line] = labels.index(heading, start)
                except ValueError:
                    raise WorkbookLayoutError(
                        f"{path}: no budget line '{heading}' after 'Section 251 budget'"
                    ) from None
            return found
    raise WorkbookLayoutError(f"{path}: no 'Place funding' heading under 'Section 251 budget'")


def _placement_columns(rows: list[list], path: Path) -> dict[str, int]:
    for row in rows:
        labels = [str(v).strip().lower() if v is not None else "" for v in row]
        found = {
            kind: next((i for i, label in enumerate(labels) if label.startswith(words)), None)
            for kind, words in PLACEMENTS.items()
        }
        if all(column is not None for column in found.values()):
            return {kind: int(column) for kind, column in found.items()}
    raise WorkbookLayoutError(
        f"{path}: no row with every placement heading ({', '.join(PLACEMENTS.values())})"
    )
