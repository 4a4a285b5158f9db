"""The report's XLSX workbook: one sheet per DSG management plan table group (years across, as
in the DfE template), then benchmarks, detail and the numbers behind every chart.

Each table is an Excel table (named after `Table.name`, so it can be found, filtered and
pasted); total rows sit directly below it in bold. Money is stored to the penny and shown in
whole pounds; suppressed counts are written as `c`. A cell given as an Excel formula template
(tables.Formula) is written as a live formula, its `{col}` / `{prev}` the cell's column and the one
before, `{row[Line]}` the sheet row of the table's row labelled Line, so a council's edits flow
through totals and balances.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.table import Table as ExcelTable
from openpyxl.worksheet.table import TableStyleInfo

from .tables import Formula, Table

MONEY = '£#,##0;-£#,##0;£0'
COUNT = '#,##0'
DECIMAL = '#,##0.00'
HEADER_FILL = PatternFill("solid", fgColor="DDE6F0")
TITLE = Font(bold=True, size=14)
SUBTITLE = Font(bold=True, size=12)
NOTE = Font(italic=True, color="555555")
BOLD = Font(bold=True)


FORMATS = {"plain": "0", "pounds": MONEY, "money": MONEY, "count": COUNT, "decimal": DECIMAL}


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


def write_table(sheet, row: int, table: Table) -> int:
    """Write `table` from `row`; return the next free row (after a blank one)."""
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
    first_column = frame.columns[0]
    values = frame.to_numpy(dtype=object)  # one conversion, not a pandas lookup per cell
    body_rows = [i for i in range(len(frame)) if str(frame[first_column].iloc[i]) not in table.total_rows]
    total_rows = [i for i in range(len(frame)) if i not in body_rows]
    formats = {c: FORMATS[table.column_kind(c)] for c in frame.columns}
    hidden = (table.suppressed[list(frame.columns)].to_numpy(dtype=bool) if table.suppressed is not None
              else None)  # as Table.is_suppressed, once for the table
    order = body_rows + total_rows
    rows_of = {str(frame[first_column].iloc[i]): header_row + 1 + k for k, i in enumerate(order)}
    for i in order:
        row += 1
        for j, column in enumerate(frame.columns, start=1):
            if hidden is not None and hidden[i, j - 1]:
                value = "c"
            else:
                value = _cell_value(values[i, j - 1])
            if isinstance(value, Formula):
                value = value.template.format(col=get_column_letter(j), prev=get_column_letter(j - 1), row=rows_of)
                sheet.cell(row, j).number_format = formats[column]
            cell = sheet.cell(row, j, value)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                cell.number_format = formats[column]
            if i in total_rows:
                cell.font = BOLD
    if body_rows:
        last_body = header_row + len(body_rows)
        ref = f"A{header_row}:{get_column_letter(len(headers))}{last_body}"
        excel_table = ExcelTable(displayName=table.name, ref=ref)
        excel_table.tableStyleInfo = TableStyleInfo(name="TableStyleLight1", showRowStripes=True)
        if len(set(headers)) == len(headers):
            sheet.add_table(excel_table)
    return row + 2


def _widths(sheet) -> None:
    for column in sheet.columns:
        letter = get_column_letter(column[0].column)
        longest = max((len(str(c.value)) for c in column if c.value is not None and c.row > 2
                       and c.font != NOTE and c.font != SUBTITLE), default=8)
        sheet.column_dimensions[letter].width = min(max(10, longest + 2), 60)


def write_workbook(path: Path, sheets: dict[str, list[Table]], title: str, about: list[tuple[str, str]]) -> Path:
    """`sheets`: sheet name → tables; `about`: (label, value) lines for the first sheet."""
    workbook = Workbook()
    cover = workbook.active
    cover.title = "Read me"
    cover.cell(1, 1, title).font = TITLE
    row = 3
    for label, value in about:
        cover.cell(row, 1, label).font = BOLD
        cover.cell(row, 2, value).alignment = Alignment(wrap_text=True, vertical="top")
        row += 1
    row += 1
    cover.cell(row, 1, "Sheet").font = BOLD
    cover.cell(row, 2, "Tables").font = BOLD
    for name, tables in sheets.items():
        row += 1
        cover.cell(row, 1, name)
        cover.cell(row, 2, "; ".join(t.title for t in tables) or "(none)").alignment = Alignment(wrap_text=True)
    cover.column_dimensions["A"].width = 28
    cover.column_dimensions["B"].width = 110
    for name, tables in sheets.items():
        sheet = workbook.create_sheet(name[:31])
        sheet.cell(1, 1, name).font = TITLE
        sheet.cell(2, 1, title).font = NOTE
        row = 4
        for table in tables:
            row = write_table(sheet, row, table)
        _widths(sheet)
        sheet.freeze_panes = "B4"
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path
