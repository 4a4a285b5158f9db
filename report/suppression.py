"""Small-number suppression for the report's outputs marked for publication, using the same
cell-suppression rules as the serving file's `published` views (`serving.suppression`: counts
from 1 to threshold − 1 hidden, then more until no hidden count can be worked out from the
published totals).

The report's tables are wide (rows × columns, e.g. provision type × year) with some of their
totals published. These helpers lay such a table out as cells plus totals, name the lines (a
set of cells and the total they add up to), and bring the answer back as the table with
suppressed cells NaN and its totals (NaN where a total had to be hidden too). The report
prints suppressed values as `c`, the DfE's mark for confidential.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from serving.suppression import Line, suppress


@dataclass
class Protected:
    cells: pd.DataFrame  # the table as published: NaN where suppressed
    row_totals: pd.Series  # each row's total (NaN where suppressed); all NaN when not published
    column_totals: pd.Series
    grand_total: float

    @property
    def hidden(self) -> int:
        """How many counts were suppressed (cells and totals)."""
        return int(
            self.cells.isna().sum().sum()
            + self.row_totals.isna().sum()
            + self.column_totals.isna().sum()
            + (0 if np.isfinite(self.grand_total) else 1)
        )


def _solve(values: list[float], lines: list[tuple[list[int], int]], threshold: int) -> np.ndarray:
    frame = pd.DataFrame({"value": values})
    reasons = suppress(
        frame,
        "value",
        [Line(np.array(members, dtype=int), total) for members, total in lines],
        threshold,
    )
    return reasons.notna().to_numpy()


def protect(
    table: pd.DataFrame, threshold: int, rows: bool = False, columns: bool = True
) -> Protected:
    """`table` as published with its row totals (`rows`) and/or column totals (`columns`)."""
    values = table.astype(float).fillna(0.0)
    n_rows, n_columns = values.shape
    data = values.to_numpy()
    flat = list(data.ravel())

    def cell(i, j):
        return i * n_columns + j

    lines: list[tuple[list[int], int]] = []
    row_total = column_total = None
    if rows:
        row_total = len(flat)
        flat += list(data.sum(axis=1))
        lines += [([cell(i, j) for j in range(n_columns)], row_total + i) for i in range(n_rows)]
    if columns:
        column_total = len(flat)
        flat += list(data.sum(axis=0))
        lines += [([cell(i, j) for i in range(n_rows)], column_total + j) for j in range(n_columns)]
    grand = None
    if rows and columns:
        grand = len(flat)
        flat.append(float(data.sum()))
        lines += [
            ([row_total + i for i in range(n_rows)], grand),
            ([column_total + j for j in range(n_columns)], grand),
        ]
    hidden = _solve(flat, lines, threshold) if flat else np.zeros(0, dtype=bool)
    shown = np.where(hidden, np.nan, flat)
    cells = pd.DataFrame(
        shown[: n_rows * n_columns].reshape(n_rows, n_columns),
        index=table.index,
        columns=table.columns,
    )
    nan_rows = pd.Series(np.nan, index=table.index)
    nan_columns = pd.Series(np.nan, index=table.columns)
    return Protected(
        cells=cells,
        row_totals=pd.Series(shown[row_total : row_total + n_rows], index=table.index)
        if rows
        else nan_rows,
        column_totals=pd.Series(shown[column_total : column_total + n_columns], index=table.columns)
        if columns
        else nan_columns,
        grand_total=float(shown[grand]) if grand is not None else float("nan"),
    )
