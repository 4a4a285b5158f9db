"""The report's XLSX workbook: the DSG deficit management plan as a council fills it in (years
across, as in the DfE template), then benchmarks, detail and the numbers behind every chart.

* **DSG plan summary**: the whole dedicated schools grant, the last complete year then the
  forecast, unmitigated and mitigated. The high needs block's funding and spend come from the marts
  and the forecast. Its import/export adjustments and the schools, central school services and
  early years blocks' funding and spend are shaded input cells: the council's extracts hold none
  of them (the budget extract has high needs lines only, and no DSG allocation data reaches the
  warehouse), so they are left blank for the council to enter, never estimated. Each block's
  in-year balance, the DSG totals and the balance brought and carried forward are formulas.
* **EHCP numbers**: plans by DfE placement category, provision type and age group, actual then
  forecast.
* **Mitigations**: each mitigation's effect per year, and its kind, status, assumption, lever
  parameters, cost to deliver, owner, milestones and risk, both with assured and assessed
  subtotals of savings, costs and funding.

Every total, subtotal and balance the model also computes is an Excel formula (`=SUM(B7:B18)`,
`=SUMIFS(…)` for a subtotal, `=B12+C11` for a balance) over cells holding the model's numbers, so
a finance officer can audit it and an entry flows through. The writer evaluates each formula
itself first and keeps the model's number where the two would differ (a published total over
suppressed counts), so every formula gives the forecast tables' figure. Numbers are stored as
numbers: money to the penny shown in whole pounds, shares and rates as fractions with a % format,
ranks as integers, council codes as numbers; a suppressed figure is `c` (a small count, or
a number that would reveal one, such as its unit cost).

Each table is an Excel table named after `Table.name`; total rows sit directly below it in bold.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.table import Table as ExcelTable
from openpyxl.worksheet.table import TableStyleInfo

from .benchmarks import INDICATORS
from .data import carried_years
from .style import pounds
from .tables import (
    AGE_ORDER,
    BROUGHT_FORWARD,
    EACH_ALONE,
    FUNDING_LINES,
    KIND_ORDER,
    KIND_PLURAL,
    SCENARIOS,
    STATUS_ORDER,
    Table,
)

if TYPE_CHECKING:
    from .benchmarks import Benchmarks
    from .data import ReportData

MONEY = "£#,##0;-£#,##0;£0"
COUNT = "#,##0"
DECIMAL = "#,##0.00"
ONE_DECIMAL = "#,##0.0"
PERCENT = "0.0%"
INTEGER = "0"
HEADER_FILL = PatternFill("solid", fgColor="DDE6F0")
INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")  # Excel's "Input" cell style
TITLE = Font(bold=True, size=14)
SUBTITLE = Font(bold=True, size=12)
NOTE = Font(italic=True, color="555555")
BOLD = Font(bold=True)

FORMATS = {"plain": INTEGER, "pounds": MONEY, "money": MONEY, "count": COUNT, "decimal": DECIMAL}
UNIT_FORMATS = {"share": PERCENT, "gbp": MONEY}  # a benchmark indicator's unit; others: one decimal
RANK_COLUMNS = {"rank", "rank (1 = highest)", "councils_ranked", "councils ranked"}
CODE_COLUMNS = {"old la code", "old_la_code", "la code", "code"}
# the DSG's other blocks: label, and the block's code in marts.fct_dsg_other_blocks
DSG_BLOCKS = {
    "Schools block": "schools",
    "Central school services block": "central",
    "Early years block": "early_years",
}
NOT_IN_EXTRACTS = "enter: not in the council's extracts"


# --- formulas the writer can check -----------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """A cell of a table: its frame row (position) and column heading; `table` names another table
    written before it, on this sheet or an earlier one."""

    row: int
    column: object
    table: str | None = None


@dataclass(frozen=True)
class Sum:
    """A formula adding signed cells, written `=SUM(B7:B18)` when they run along one row or
    column, `=SUMIFS(…)` over the table's body rows with `where`'s (column, value) criteria (the
    terms being the rows that meet them), else `=B9-B10+…`."""

    terms: tuple[tuple[int, Ref], ...]
    where: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Input:
    """A cell for the council to fill in: blank and shaded; formulas count it as 0 until then."""


def _plus(*refs: Ref) -> Sum:
    return Sum(tuple((1, ref) for ref in refs))


def _less(first: Ref, second: Ref) -> Sum:
    return Sum(((1, first), (-1, second)))


@dataclass
class _Placed:
    """A table as written: where each frame row and column went, and what each cell holds."""

    labels: list[str]  # each frame row's first cell
    rows: dict[int, int]  # frame row → sheet row
    columns: dict[object, int]  # heading → sheet column
    body: list[int]  # frame rows inside the Excel table, in sheet order
    content: dict[tuple[int, object], object]  # number, text, None, Sum, Input or Formula
    expected: dict[tuple[int, object], float]  # the model's figure for a cell given a formula
    values: dict[tuple[int, object], float] = field(default_factory=dict)
    sheet: str = ""  # the sheet's title: a formula on another sheet names it


def _is_number(value) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and not (isinstance(value, float) and math.isnan(value))
    )


def _value(placed: dict[str, _Placed], name: str, row: int, column) -> float:
    """The value Excel will show in a cell (NaN for text). A formula that would not give the
    model's figure is replaced by the figure."""
    table = placed[name]
    key = (row, column)
    if key in table.values:
        return table.values[key]
    content = table.content.get(key)
    if isinstance(content, Sum):
        value = sum(
            sign * _value(placed, ref.table or name, ref.row, ref.column)
            for sign, ref in content.terms
        )
        model = table.expected.get(key)
        if model is not None and not math.isclose(value, model, rel_tol=1e-9, abs_tol=1e-6):
            table.content[key] = value = model
    elif content is None or isinstance(content, Input):
        value = 0.0  # a blank cell, as Excel counts it
    elif _is_number(content):
        value = float(content)
    else:
        value = math.nan  # text ('c'), dates, booleans: no formula is written over them
    table.values[key] = value
    return value


def _render(placed: dict[str, _Placed], name: str, formula: Sum) -> str:
    here = placed[name].sheet

    def at(ref: Ref) -> tuple[int, int]:
        table = placed[ref.table or name]
        return table.rows[ref.row], table.columns[ref.column]

    def sheet_of(ref: Ref) -> str:
        sheet = placed[ref.table or name].sheet
        return "" if sheet == here else f"{quote_sheetname(sheet)}!"

    cells = [(sign, *at(ref)) for sign, ref in formula.terms]
    if not cells:
        return "=0"
    sheets = [sheet_of(ref) for _, ref in formula.terms]
    if formula.where:
        table = placed[name]
        first, last = table.rows[table.body[0]], table.rows[table.body[-1]]
        column = get_column_letter(cells[0][2])
        parts = [f"{column}{first}:{column}{last}"]
        for heading, value in formula.where:
            key = get_column_letter(table.columns[heading])
            parts += [f"${key}${first}:${key}${last}", f'"{value}"']
        return f"=SUMIFS({','.join(parts)})"
    rows = [row for _, row, _ in cells]
    columns = [column for _, _, column in cells]
    if len(cells) > 1 and all(sign == 1 for sign, _, _ in cells) and not any(sheets):
        down = len(set(columns)) == 1 and rows == list(range(rows[0], rows[0] + len(rows)))
        across = len(set(rows)) == 1 and columns == list(
            range(columns[0], columns[0] + len(columns))
        )
        if down or across:
            return (
                f"=SUM({get_column_letter(columns[0])}{rows[0]}:"
                f"{get_column_letter(columns[-1])}{rows[-1]})"
            )
    text = "".join(
        f"{'-' if sign < 0 else '+'}{where}{get_column_letter(column)}{row}"
        for (sign, row, column), where in zip(cells, sheets, strict=True)
    )
    return "=" + text.removeprefix("+")


# --- which cells are formulas -----------------------------------------------------------------


def _formulas(
    table: Table,
    labels: list[str],
    body: list[int],
    totals: list[int],
    content: dict,
    placed: dict[str, _Placed],
) -> dict[tuple[int, object], Sum]:
    """The formulas for a table's totals, subtotals and balances (each checked when written)."""
    frame = table.frame
    columns = list(frame.columns)
    out: dict[tuple[int, object], Sum] = {}

    def numbers(row: int, column) -> bool:
        return _is_number(content.get((row, column)))

    row_of = {label: i for i, label in enumerate(labels)}
    for total in totals:
        if labels[total] == "Total":
            for column in columns[1:]:
                if numbers(total, column):
                    out[(total, column)] = _plus(*(Ref(row, column) for row in body))
    if table.name in ("mitigation_log", "mitigation_plan"):
        out |= _mitigation_formulas(frame, labels, body, totals, numbers)
    elif table.name == "funding_and_balances_actual":
        funding, spend = row_of.get("Total high needs funding"), row_of.get("High needs spend")
        lines = [row_of[label] for label in FUNDING_LINES.values() if label in row_of]
        in_year = row_of.get("In-year balance (funding − spend)")
        brought = row_of.get(BROUGHT_FORWARD)
        cumulative = row_of.get("Cumulative DSG high needs balance")
        for k, year in enumerate(columns[1:]):
            # (a year with no budget leaves its funding and in-year balance empty: a formula
            # would read the empty cells as £0)
            if funding is not None and lines and numbers(funding, year):
                out[(funding, year)] = _plus(*(Ref(line, year) for line in lines))
            if None not in (in_year, funding, spend) and numbers(in_year, year):
                out[(in_year, year)] = _less(Ref(funding, year), Ref(spend, year))
            if None in (in_year, cumulative) or not numbers(in_year, year):
                continue
            if brought is None:
                if k:
                    out[(cumulative, year)] = _plus(Ref(cumulative, columns[k]), Ref(in_year, year))
                continue
            # the first year's brought forward is the figure; every balance after it a formula
            if k:
                out[(brought, year)] = _plus(Ref(cumulative, columns[k]))
            out[(cumulative, year)] = _plus(Ref(brought, year), Ref(in_year, year))
    elif table.name in (f"funding_and_balances_{scenario}" for scenario in SCENARIOS):
        funding, spend = row_of.get("Total high needs funding"), row_of.get("High needs spend")
        in_year = row_of.get("In-year balance (funding − spend)")
        cumulative = row_of.get("Cumulative DSG high needs balance")
        if None in (funding, spend, in_year, cumulative):
            return out
        before = _actual_close(placed)
        for k, year in enumerate(columns[1:]):
            out[(in_year, year)] = _less(Ref(funding, year), Ref(spend, year))
            if k:
                out[(cumulative, year)] = _plus(Ref(cumulative, columns[k]), Ref(in_year, year))
            elif before is not None:
                out[(cumulative, year)] = _plus(before, Ref(in_year, year))
    elif table.name == "gap_to_balance" and {
        "Funding",
        "Spend",
        "In-year balance",
        "Cumulative balance",
    } <= set(columns):
        before = _actual_close(placed)
        for k in range(len(frame)):
            out[(k, "In-year balance")] = _less(Ref(k, "Funding"), Ref(k, "Spend"))
            if k:
                out[(k, "Cumulative balance")] = _plus(
                    Ref(k - 1, "Cumulative balance"), Ref(k, "In-year balance")
                )
            elif before is not None:
                # from the actual close, as the funding and balances sheet's: an edit to the
                # first year's funding or spend had stopped at its in-year balance
                out[(k, "Cumulative balance")] = _plus(before, Ref(k, "In-year balance"))
    return out


def _actual_close(placed: dict[str, _Placed]) -> Ref | None:
    """The actual cumulative balance of the last year the funding and balances sheet shows (the
    forecast's first year runs on from it), when that sheet is written already."""
    actual = placed.get("funding_and_balances_actual")
    if actual is None or "Cumulative DSG high needs balance" not in actual.labels:
        return None
    last_year = max(actual.columns, key=actual.columns.get)
    return Ref(
        actual.labels.index("Cumulative DSG high needs balance"),
        last_year,
        "funding_and_balances_actual",
    )


def _mitigation_formulas(
    frame: pd.DataFrame, labels: list[str], body: list[int], totals: list[int], numbers
) -> dict[tuple[int, object], Sum]:
    """Each mitigation's cumulative effect as the sum of its years; subtotals by kind and status
    as SUMIFS over the mitigations; the totals as sums of the subtotals."""
    out: dict[tuple[int, object], Sum] = {}
    columns = list(frame.columns)
    years = [c for c in columns if isinstance(c, str) and re.fullmatch(r"\d{4}-\d{2}", c)]
    cumulative = next(
        (c for c in columns if str(c).startswith("Effect on cumulative balance")), None
    )
    if years and cumulative is not None:
        for row in body:
            if numbers(row, cumulative):
                out[(row, cumulative)] = _plus(*(Ref(row, year) for year in years))
    money = [c for c in columns if any(numbers(total, c) for total in totals)]
    kind_of = {row: frame["Kind"].iloc[row] for row in range(len(frame))}
    status_of = {row: frame["Status"].iloc[row] for row in range(len(frame))}
    subtotals = [row for row in totals if labels[row].startswith("Subtotal:")]
    for row in subtotals:
        kind, status = kind_of[row], status_of[row]
        rows = [r for r in body if kind_of[r] == kind and status_of[r] == status]
        for column in money:
            if numbers(row, column):
                out[(row, column)] = Sum(
                    tuple((1, Ref(r, column)) for r in rows), (("Kind", kind), ("Status", status))
                )
    groups = {
        "Total: savings less modelled costs": ("saving", "cost"),
        PLAN_TOTAL: ("saving", "cost"),
        "Total: funding": ("funding",),
        EACH_ALONE: tuple(KIND_ORDER),
    }
    for row in totals:
        if labels[row] in groups:
            parts = [r for r in subtotals if kind_of[r] in groups[labels[row]]]
            for column in money:
                if numbers(row, column):
                    out[(row, column)] = _plus(*(Ref(r, column) for r in parts))
    return out


# --- numbers as numbers -----------------------------------------------------------------------


def _row_value(frame: pd.DataFrame, row: int, *columns: str):
    for column in columns:
        if column in frame.columns:
            return frame[column].iloc[row]
    return None


def _converted(table: Table, row: int, column, value):
    """A cell's value as the workbook stores it: rates in per cent as fractions, ranks as
    integers, council codes as numbers."""
    lower = str(column).lower()
    if isinstance(value, str):
        if lower in CODE_COLUMNS and value.isdigit():
            return int(value)
        return value
    if not _is_number(value):
        return value
    if "(%" in str(column):  # "(%)", "(% of published)": per cent, as a fraction
        return value / 100
    if lower in RANK_COLUMNS:
        return round(value)
    if table.cell_kind(row, column) in ("money", "pounds") and isinstance(value, float):
        # pounds and pence summed in floating point read 5529132.310000001: within a thousandth
        # of a penny of one, the penny (a model's figure between pennies keeps its precision,
        # which the formulas and the forecast tables share)
        pence = value * 100
        if abs(pence - round(pence)) < 1e-3:
            return round(pence) / 100
    return value


def _formats(table: Table, content: dict) -> dict[tuple[int, object], str]:
    """Each cell's number format: the column's (tables.Table.column_kind), or per row where a
    column mixes units."""
    frame = table.frame
    formats: dict[tuple[int, object], str] = {}
    for column in frame.columns:
        lower = str(column).lower()
        cells = [content.get((row, column)) for row in range(len(frame))]
        numbers = [value for value in cells if _is_number(value)]
        fmt = FORMATS[table.column_kind(column)]
        if "(%" in str(column) or (
            re.search(r"\bshare\b", lower) and numbers and all(abs(v) <= 10 for v in numbers)
        ):
            fmt = PERCENT
        elif lower in RANK_COLUMNS:
            fmt = COUNT
        elif lower == "percentile" or lower in CODE_COLUMNS:
            fmt = INTEGER
        for row in range(len(frame)):
            formats[(row, column)] = _row_format(table, row, column, lower) or fmt
    return formats


def _row_format(table: Table, row: int, column, lower: str) -> str | None:
    frame = table.frame
    if lower == "amount":
        return FORMATS[table.cell_kind(row, column)]
    if table.name == "chart_14_benchmarks_position" and lower in (
        "council",
        "england",
        "region",
        "similar_councils_median",
    ):
        unit = INDICATORS.get(str(_row_value(frame, row, "indicator")), ("", ""))[1]
        return UNIT_FORMATS.get(unit, ONE_DECIMAL)
    if lower == "value" and "measure" in frame.columns:
        measure = str(frame["measure"].iloc[row])
        if measure.startswith("share"):
            return PERCENT
        if measure.endswith("_gbp") or measure in ("funding", "spend", "cumulative_balance"):
            return MONEY
    return None


# --- writing ----------------------------------------------------------------------------------


def _cell_value(value):
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def write_table(
    sheet,
    row: int,
    table: Table,
    placed: dict[str, _Placed] | None = None,
    formats: dict[tuple[int, object], str] | None = None,
) -> int:
    """Write `table` from `row`; return the next free row (after a blank one). `placed`: the
    tables already written, on this sheet or an earlier one (a formula may refer to them);
    `formats`: number formats that override the column's for single cells."""
    placed = {} if placed is None else placed
    sheet.cell(row, 1, table.title).font = SUBTITLE
    row += 1
    if table.note:
        cell = sheet.cell(row, 1, table.note)
        cell.font = NOTE
        row += 1
    frame = table.frame
    if frame.columns.empty:
        sheet.cell(row, 1, "(nothing to show)").font = NOTE
        return row + 2
    headers = [str(c) for c in frame.columns]
    for j, header in enumerate(headers, start=1):
        cell = sheet.cell(row, j, header)
        cell.font = BOLD
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    header_row = row
    columns = list(frame.columns)
    labels = [str(label) for label in frame[columns[0]]]
    body = [i for i in range(len(frame)) if labels[i] not in table.total_rows]
    totals = [i for i in range(len(frame)) if i not in body]
    order = body + totals
    values = frame.to_numpy(dtype=object)  # one conversion, not a pandas lookup per cell
    # as Table.is_suppressed, once for the table
    hidden = (
        table.suppressed[columns].to_numpy(dtype=bool) if table.suppressed is not None else None
    )
    content = {}
    for i in range(len(frame)):
        for j, column in enumerate(columns):
            if hidden is not None and hidden[i, j]:
                content[(i, column)] = "c"
            else:
                content[(i, column)] = _converted(table, i, column, _cell_value(values[i, j]))
    formulas = _formulas(table, labels, body, totals, content, placed)
    expected = {key: float(content[key]) for key in formulas if _is_number(content.get(key))}
    content |= {key: formula for key, formula in formulas.items() if key in expected}
    cell_formats = _formats(table, content) | (formats or {})
    placed[table.name] = here = _Placed(
        labels=labels,
        rows={i: header_row + 1 + k for k, i in enumerate(order)},
        columns={column: j for j, column in enumerate(columns, start=1)},
        body=body,
        content=content,
        expected=expected,
        sheet=sheet.title,
    )
    for i in order:
        row = here.rows[i]
        for j, column in enumerate(columns, start=1):
            if isinstance(here.content[(i, column)], Sum):
                _value(placed, table.name, i, column)  # checks it; may fall back to the figure
            value = here.content[(i, column)]
            cell = sheet.cell(row, j)
            if isinstance(value, Sum):
                cell.value = _render(placed, table.name, value)
                cell.number_format = cell_formats[(i, column)]
            elif isinstance(value, Input):
                cell.fill = INPUT_FILL
                cell.number_format = cell_formats[(i, column)]
            else:
                cell.value = value
                if _is_number(value):
                    cell.number_format = cell_formats[(i, column)]
            if i in totals:
                cell.font = BOLD
    if body:
        last_body = header_row + len(body)
        ref = f"A{header_row}:{get_column_letter(len(headers))}{last_body}"
        excel_table = ExcelTable(displayName=table.name, ref=ref)
        excel_table.tableStyleInfo = TableStyleInfo(name="TableStyleLight1", showRowStripes=True)
        if len(set(headers)) == len(headers):
            sheet.add_table(excel_table)
    return header_row + len(order) + 2


# --- the tables only the workbook has ---------------------------------------------------------


def dsg_summary(data: ReportData, scenario: str) -> Table:
    """The whole DSG, as the management plan's summary: the high needs block from the model, the
    other blocks and import/export adjustments to enter, and every total and balance a formula."""
    base = data.complete_years[-1]
    actual = data.position.set_index("financial_year").loc[base]
    part = data.position_forecast[data.position_forecast["scenario"] == scenario]
    part = part.set_index("financial_year")
    # a year between the last complete one and the forecast (a refresh before its ledger is
    # whole) is in the balance the forecast starts from, estimated: it is a column too
    carried = carried_years(data)
    years = [base, *carried.index, *data.forecast_years]
    first = 1 + len(carried)  # the first forecast year's column
    lines: list[tuple[str, list, str]] = []

    def line(label: str, cells: list, source: str) -> int:
        lines.append((label, cells, source))
        return len(lines) - 1

    def each(make) -> list:
        return [make(k, year) for k, year in enumerate(years)]

    inputs = [Input() for _ in years]
    model = f"marts.fct_hnb_position ({base}), then forecast.hnb_position ({scenario}, central)"
    if len(carried):
        model = (
            f"marts.fct_hnb_position ({base}), forecast.assumptions "
            f"({', '.join(carried.index)}: not complete in the finance extract, spend estimated, "
            f"as in every scenario), then forecast.hnb_position ({scenario}, central)"
        )
    funding = line(
        "High needs block: funding",
        [
            float(actual["funding_gbp"]),
            *carried["in_progress_year_funding"],
            *part["funding_gbp"].reindex(years[first:]),
        ],
        model + ": allocation less place deductions, plus transfers, contributions "
        "and other income",
    )
    adjust = line(
        "High needs block: import/export adjustments (+ imports, − exports)",
        inputs,
        NOT_IN_EXTRACTS + " (the DSG allocations); leave blank if the budget file's "
        "other_income already holds them (they would count twice)",
    )
    total_funding = line(
        "High needs block: total funding",
        each(lambda k, y: _plus(Ref(funding, y), Ref(adjust, y))),
        "formula",
    )
    spend = line(
        "High needs block: spend",
        [
            float(actual["spend_gbp"]),
            *carried["in_progress_year_spend"],
            *part["spend_gbp_central"].reindex(years[first:]),
        ],
        model,
    )
    line(
        "High needs block: in-year balance",
        each(lambda k, y: _less(Ref(total_funding, y), Ref(spend, y))),
        "formula",
    )
    given = getattr(data, "other_blocks", None)
    given = given.set_index(["block", "financial_year"]) if given is not None else None

    def from_budget(code: str, column: str, note: str) -> tuple[list, str]:
        """The budget file's figure for each year, an input cell where it gives none."""
        cells = [
            float(given.loc[(code, y), column])
            if given is not None
            and (code, y) in given.index
            and pd.notna(given.loc[(code, y), column])
            else Input()
            for y in years
        ]
        if all(isinstance(cell, Input) for cell in cells):
            return cells, NOT_IN_EXTRACTS + note
        return cells, "the budget file (marts.fct_dsg_other_blocks); shaded: " + NOT_IN_EXTRACTS

    blocks = []
    for block, code in DSG_BLOCKS.items():
        block_funding = line(
            f"{block}: funding",
            *from_budget(code, "funding_gbp", " (after any transfer to the high needs block)"),
        )
        block_spend = line(f"{block}: spend", *from_budget(code, "spend_gbp", ""))
        line(
            f"{block}: in-year balance",
            each(lambda k, y, f=block_funding, s=block_spend: _less(Ref(f, y), Ref(s, y))),
            "formula",
        )
        blocks.append((block_funding, block_spend))
    dsg_funding = line(
        "DSG: total funding",
        each(lambda k, y: _plus(Ref(total_funding, y), *(Ref(f, y) for f, _ in blocks))),
        "formula",
    )
    dsg_spend = line(
        "DSG: total spend",
        each(lambda k, y: _plus(Ref(spend, y), *(Ref(s, y) for _, s in blocks))),
        "formula",
    )
    in_year = line(
        "DSG: in-year balance",
        each(lambda k, y: _less(Ref(dsg_funding, y), Ref(dsg_spend, y))),
        "formula",
    )
    brought = len(lines)
    carried = brought + 1
    opening = float(actual["cumulative_balance_gbp"]) - float(actual["in_year_balance_gbp"])
    # the other blocks' own balances of the years before, as the budget file gives them over the
    # years the high needs balance covers: the DSG's balance is every block's
    earlier = _other_blocks_before(data, base)
    # a later balance brought forward the budget file gives that the balance does not run on from
    restated = getattr(data, "restated_balances", None)
    restated = restated if restated is not None else pd.DataFrame()
    line(
        "DSG: balance brought forward (1 April)",
        each(lambda k, y: _plus(Ref(carried, years[k - 1])) if k else opening + earlier),
        f"{base}: the budget file's earliest balance brought forward with every year's high "
        "needs balance since (marts.fct_hnb_position)"
        + "".join(
            f"; it gives {r.financial_year} as {pounds(r.given_gbp)}, not run on from (the "
            f"close of {r.previous_year} computed is {pounds(r.computed_gbp)})"
            for r in restated.itertuples()
        )
        + (
            f" and the other blocks' in-year balances before {base} "
            f"(£{earlier:,.0f}, marts.fct_dsg_other_blocks)"
            if earlier
            else ""
        )
        + "; then the year before's carried forward",
    )
    line(
        "DSG: balance carried forward (31 March)",
        each(lambda k, y: _plus(Ref(brought, y), Ref(in_year, y))),
        "formula",
    )
    frame = pd.DataFrame(
        [[label, *cells, source] for label, cells, source in lines],
        columns=["Line", *years, "Source"],
    )
    transfers = (
        " The mitigated funding includes funding mitigations (block transfers, "
        "contributions): enter the other blocks' funding after them."
        if scenario != "unmitigated"
        else ""
    )
    return Table(
        f"dsg_plan_summary_{scenario}",
        f"DSG management plan summary, {scenario} (£)",
        frame,
        "money",
        f"{base} actual, then the {scenario} forecast (central). Shaded cells are for the "
        "council to enter (left blank: the extracts do not hold them); totals and balances are "
        "formulas, so an entry flows through to the DSG balance. Negative balance = deficit."
        + transfers,
    )


def _other_blocks_before(data: ReportData, base: str) -> float:
    """The other DSG blocks' in-year balances (funding less spend, where the budget file gives
    both) of the years before `base` that the high needs balance covers."""
    given = getattr(data, "other_blocks", None)
    if given is None or not len(given):
        return 0.0
    covered = set(data.position["financial_year"])
    years = given["financial_year"].astype(str)
    before = given[(years < base) & years.isin(covered)]
    return float((before["funding_gbp"] - before["spend_gbp"]).dropna().sum())


def ehcp_by_age(actual: Table, future: Table, scenario: str) -> Table:
    """Plans by age group at each January census: actual (as published: suppressed cells stay
    suppressed), then the forecast."""
    label = actual.frame.columns[0]

    def body(table: Table) -> tuple[pd.DataFrame, pd.DataFrame]:
        frame = table.frame.set_index(table.frame.columns[0])
        frame.index = frame.index.map(str)
        mask = (
            table.suppressed.set_axis(frame.index).drop(columns=table.frame.columns[0])
            if table.suppressed is not None
            else pd.DataFrame(False, frame.index, frame.columns)
        )
        return frame, mask

    past, past_hidden = body(actual)
    ahead, _ = body(future)
    ages = [a for a in AGE_ORDER if a in past.index or a in ahead.index]
    ages += [a for a in [*past.index, *ahead.index] if a not in ages and a != "Total"]
    rows = [*ages, "Total"]
    frame = pd.concat([past.reindex(rows), ahead.reindex(rows)], axis=1)
    hidden = pd.concat(
        [
            past_hidden.reindex(rows, fill_value=False),
            pd.DataFrame(False, index=rows, columns=ahead.columns),
        ],
        axis=1,
    )
    frame = frame.rename_axis(label).reset_index()
    hidden.insert(0, label, False)
    hidden = hidden.reset_index(drop=True).astype(bool)
    return Table(
        f"ehcp_by_age_{scenario}",
        f"EHC plans by age group, {scenario}",
        frame,
        "count",
        "January census in each financial year: actual (marts.fct_ehcp_cohort, as on the "
        f"Caseload breakdowns sheet), then the {scenario} forecast "
        "(forecast.caseload_by_age, central).",
        ["Total"],
        hidden if actual.suppressed is not None else None,
    )


# the plan's total of savings and costs: its cost to deliver adds both kinds' delivery costs (a
# "savings less costs" label read as if it subtracted them); its effects are signed as the log's
PLAN_TOTAL = "Total: savings and costs"


def mitigation_plan_with_subtotals(table: Table) -> Table:
    """Each mitigation's plan, grouped by kind and status, with subtotals of its cost and effect
    for the assured and the assessed ones, as the mitigation log has."""
    frame = table.frame
    if frame.empty or not {"Kind", "Status"} <= set(frame.columns):
        return table
    money = [c for c in frame.columns if table.column_kind(c) in ("money", "pounds")]
    frame = frame.sort_values(
        ["Kind", "Status"],
        kind="stable",
        key=lambda c: c.map(KIND_ORDER if c.name == "Kind" else STATUS_ORDER),
    ).reset_index(drop=True)
    blank = dict.fromkeys(frame.columns, "")
    first = frame.columns[0]
    rows, totals = frame.to_dict("records"), []
    for (kind, status), part in frame.groupby(["Kind", "Status"], sort=False):
        label = f"Subtotal: {status} {KIND_PLURAL.get(kind, kind)}"
        rows.append(
            {
                **blank,
                first: label,
                "Kind": kind,
                "Status": status,
                **{c: part[c].sum() for c in money},
            }
        )
        totals.append(label)
    for label, kinds in (
        (PLAN_TOTAL, ("saving", "cost")),
        ("Total: funding", ("funding",)),
        (EACH_ALONE, tuple(KIND_ORDER)),
    ):
        part = frame[frame["Kind"].isin(kinds)]
        if len(part):
            rows.append({**blank, first: label, **{c: part[c].sum() for c in money}})
            totals.append(label)
    note = (
        table.note + " Subtotals for the assured and the assessed mitigations of each kind; "
        "cost to deliver is a year's, as the mitigations file states it (its totals add the "
        "mitigations' yearly costs, whatever year each starts in), counted in the forecast only "
        "where it is modelled as a cost mitigation."
    )
    return replace(table, frame=pd.DataFrame(rows), note=note, total_rows=totals)


def benchmark_indicators(table: Table, bench: Benchmarks) -> tuple[Table, dict]:
    """The indicators as numbers (the HTML's table holds them as formatted text), each row in its
    unit's format; ranks as integers."""
    source = bench.table.reset_index(drop=True)
    frame = table.frame.copy()
    columns = {
        bench.name: "council",
        "England": "england",
        f"{bench.region} (pooled)": "region",
        "Similar councils (median)": "similar_councils_median",
    }
    columns = {heading: key for heading, key in columns.items() if heading in frame.columns}

    def whole(values: pd.Series) -> pd.Series:
        return pd.Series([round(v) if pd.notna(v) else None for v in values], dtype=object)

    for heading, key in columns.items():
        frame[heading] = source[key].astype(float).to_numpy()
    for heading, key in (
        ("Rank (1 = highest)", "rank"),
        ("Councils ranked", "councils_ranked"),
        ("Percentile", "percentile"),
    ):
        if heading in frame.columns:
            frame[heading] = whole(source[key].astype(float))
    formats = {
        (row, heading): UNIT_FORMATS.get(unit, ONE_DECIMAL)
        for row, unit in enumerate(source["unit"])
        for heading in columns
    }
    note = table.note + (
        " Shares in per cent; the allocation per plan in £; new plans per 100 plans."
    )
    return replace(table, frame=frame, note=note), formats


def as_councils_fill_it(
    sheets: dict[str, list[Table]], data: ReportData | None, bench: Benchmarks | None
) -> tuple[dict[str, list[Table]], dict[str, dict]]:
    """The report's sheets with the workbook's own tables: the whole-DSG summary, plans by age
    group, the mitigation plan's subtotals and the benchmarks as numbers; and the cell formats
    some of them set."""
    sheets = {name: list(tables) for name, tables in sheets.items()}
    formats: dict[str, dict] = {}
    named = {table.name: table for tables in sheets.values() for table in tables}
    if data is not None and "DSG plan summary" in sheets:
        sheets["DSG plan summary"] = [dsg_summary(data, scenario) for scenario in SCENARIOS]
    if "EHCP numbers" in sheets and "plans_by_age_group" in named:
        sheets["EHCP numbers"] += [
            ehcp_by_age(named["plans_by_age_group"], named[f"forecast_by_age_{scenario}"], scenario)
            for scenario in SCENARIOS
            if f"forecast_by_age_{scenario}" in named
        ]
    for tables in sheets.values():
        for k, table in enumerate(tables):
            if table.name == "mitigation_plan":
                tables[k] = mitigation_plan_with_subtotals(table)
            elif table.name == "benchmark_indicators" and bench is not None:
                tables[k], formats[table.name] = benchmark_indicators(table, bench)
    return sheets, formats


def _widths(sheet) -> None:
    for column in sheet.columns:
        letter = get_column_letter(column[0].column)
        longest = max(
            (
                len(str(c.value))
                for c in column
                if c.value is not None
                and c.row > 2
                and c.font != NOTE
                and c.font != SUBTITLE
                and not str(c.value).startswith("=")
            ),
            default=8,
        )
        sheet.column_dimensions[letter].width = min(max(12, longest + 2), 60)


HOW_TO_READ = [
    (
        "Shaded cells",
        (
            "light yellow: for the council to enter (the other DSG blocks' funding and "
            "spend, import/export adjustments). They are blank because the council's "
            "extracts do not hold them; the formulas count a blank as 0."
        ),
    ),
    (
        "Formulas",
        (
            "every total, subtotal and balance is an Excel formula over the cells holding "
            "the model's numbers (SUM, SUMIFS, balance = brought forward + funding − "
            "spend), giving the forecast tables' figures until an entry changes it."
        ),
    ),
    (
        "Numbers",
        (
            "stored as numbers: money to the penny, shown in whole pounds; shares and rates "
            "as per cent; ranks as whole numbers; a suppressed figure is c: a count of "
            "fewer children than the publication shows, or a number that would reveal one "
            "(its unit cost, a count beside it that would give it by difference)."
        ),
    ),
]


def write_workbook(
    path: Path,
    sheets: dict[str, list[Table]],
    title: str,
    about: list[tuple[str, str]],
    data: ReportData | None = None,
    bench: Benchmarks | None = None,
) -> Path:
    """`sheets`: sheet name → tables; `about`: (label, value) lines for the first sheet; `data`
    (the report's) adds the whole-DSG summary, `bench` the benchmarks as numbers."""
    sheets, formats = as_councils_fill_it(sheets, data, bench)
    workbook = Workbook()
    cover = workbook.active
    cover.title = "Read me"
    cover.cell(1, 1, title).font = TITLE
    row = 3
    for label, value in [*about, *HOW_TO_READ]:
        cover.cell(row, 1, label).font = BOLD
        cover.cell(row, 2, value).alignment = Alignment(wrap_text=True, vertical="top")
        row += 1
    row += 1
    cover.cell(row, 1, "Sheet").font = BOLD
    cover.cell(row, 2, "Tables").font = BOLD
    for name, tables in sheets.items():
        row += 1
        cover.cell(row, 1, name)
        cover.cell(row, 2, "; ".join(t.title for t in tables) or "(none)").alignment = Alignment(
            wrap_text=True
        )
    cover.column_dimensions["A"].width = 28
    cover.column_dimensions["B"].width = 110
    placed: dict[str, _Placed] = {}  # the whole workbook's: a formula may reach another sheet
    for name, tables in sheets.items():
        sheet = workbook.create_sheet(name[:31])
        sheet.cell(1, 1, name).font = TITLE
        sheet.cell(2, 1, title).font = NOTE
        row = 4
        for table in tables:
            row = write_table(sheet, row, table, placed, formats.get(table.name))
        _widths(sheet)
        sheet.freeze_panes = "B4"
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path
