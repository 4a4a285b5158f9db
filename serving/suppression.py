"""Small-count suppression for tables shared outside the council (schools forum papers, FOI).

A table here is a grid of counts with its totals: every combination of its dimensions' values,
plus rows where some dimensions say `total`. *Primary* suppression hides every count from 1 to
`threshold - 1`, totals included (zero is shown: it discloses no child, except beside a
line's only hidden count when its total is hidden too: those zeros say every child of the line
has that count's attribute, so one of them is hidden as well). A published total
minus the cells shown gives away a lone hidden cell, so *secondary* suppression hides more
until no hidden value can be worked out. Exactly: each line of the table (the cells along one
dimension with their total) is an equation "cells − total = 0"; a hidden value can be worked
out when those equations fix it, i.e. when it is zero in every solution of the equations over
the hidden values alone (it lies in the row space of the equations through hidden cells), or
when they fix it once a reader adds that counts are whole and a hidden one is at least 1 (the
lowest and highest values each line allows it meet, line by line: bounded_cells).
While any can, each such cell gets one more hidden cell on one of its lines (a round at a time,
then the test again): an interior non-zero cell first (a zero an outsider could
guess, like a 16-year-old in early years, protects nothing), then a zero, then the total.

This is the usual cell-suppression practice of official statistics (ONS, DfE). It considers
the totals of each table and the links to other tables a table declares (a line with signed
members whose total is another table's cell, or a figure published elsewhere, `EXTERNAL`: a
provision type's caseload = its caseload a census before + new − ceased + moved in − moved
out), not every arithmetic link there is.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

DEFAULT_THRESHOLD = 5
TOTAL = "total"
PRIMARY = "primary"  # a count from 1 to threshold - 1
SECONDARY = "secondary"  # hidden so that no hidden count can be worked out from the others
_TOLERANCE = 1e-9
_ROUNDS = 200  # of bounds narrowing in bounded_cells: counts settle in a few


class SuppressionError(ValueError):
    """A table whose totals give a count away however many cells are hidden."""


@dataclass(frozen=True)
class Line:
    members: np.ndarray  # positions of the cells along the line
    total: int  # position of its total; EXTERNAL: a figure published elsewhere, never hidden here
    # each member's sign in "Σ sign × member = total" (all +1 when None): a caseload's change
    # is its new plans less its ceased ones
    signs: np.ndarray | None = None

    @property
    def cells(self) -> tuple[int, ...]:
        """The line's cells in this table: its members, and its total when it is one."""
        cells = tuple(int(p) for p in self.members)
        return cells if self.total == EXTERNAL else (*cells, int(self.total))


EXTERNAL = -1


def with_totals(
    cells: pd.DataFrame, dims: Sequence[str], lines: Sequence[Sequence[str]], summed: Sequence[str]
) -> pd.DataFrame:
    """`cells` (one row per combination of `dims`; missing combinations count 0) with a total
    row for every line: for each entry of `lines` (the dims a total keeps), the `summed` columns
    added up over the other dims, which say `total`. With more than one kind of line, also the
    totals of totals (the grand total of each page)."""
    dims = list(dims)
    grid = pd.MultiIndex.from_product(
        [sorted(cells[d].dropna().unique()) for d in dims], names=dims
    )
    cells = cells.set_index(dims).reindex(grid).reset_index()
    cells[list(summed)] = cells[list(summed)].fillna(0)
    kept = [list(line) for line in lines]
    if len(kept) > 1:
        kept.append([d for d in dims if all(d in line for line in lines)])
    totals = [cells.groupby(line, as_index=False)[list(summed)].sum() for line in kept]
    labelled = [d for d in dims if any(d not in line for line in lines)]
    table = pd.concat([cells.astype(dict.fromkeys(labelled, str)), *totals], ignore_index=True)
    table[labelled] = table[labelled].fillna(TOTAL)
    return table


def table_lines(
    table: pd.DataFrame, dims: Sequence[str], lines: Sequence[Sequence[str]]
) -> list[Line]:
    """Every line of a table from `with_totals`: for each kind of line and each value of the dims
    it keeps (`total` included), the cells whose other dims are not `total`, and its total."""
    found = []
    for kept in lines:
        free = [d for d in dims if d not in kept]
        is_total = table[free].eq(TOTAL)
        positions = pd.RangeIndex(len(table))
        for _, group in pd.Series(positions).groupby(
            [table[d].to_numpy() for d in kept], sort=False
        ):
            members = group.to_numpy()
            inside = members[~is_total.to_numpy()[members].any(axis=1)]
            total = members[is_total.to_numpy()[members].all(axis=1)]
            if len(total) == 1 and len(inside):
                found.append(Line(inside, int(total[0])))
    return found


def suppress(
    table: pd.DataFrame,
    value: str,
    lines: Sequence[Line],
    threshold: int = DEFAULT_THRESHOLD,
    guessable: np.ndarray | None = None,
) -> pd.Series:
    """Why each cell is hidden (`primary` / `secondary`) or None when it is shown. `guessable`
    marks cells whose hiding protects a measure hidden with the count no better than a zero
    count would (its spend is £0, as every year's of a type paid for centrally): they are hidden
    as complements after the others, as zero counts are, and a line whose hidden cells are one
    with money and the rest guessable gets a complement as a line with one hidden cell does
    (the year's total less the shown types gives that one's spend back)."""
    if threshold < 1:
        raise ValueError(f"the suppression threshold must be at least 1, got {threshold}")
    values = table[value].fillna(0).to_numpy(dtype=float)
    guessed = values == 0
    known_money = np.zeros(len(table), dtype=bool)
    if guessable is not None:
        known_money = np.asarray(guessable, dtype=bool)
        guessed = guessed | known_money
    is_total = np.zeros(len(table), dtype=bool)
    is_total[[line.total for line in lines if line.total != EXTERNAL]] = True
    reasons = np.full(len(table), None, dtype=object)
    reasons[(values > 0) & (values < threshold)] = PRIMARY
    lines_of: dict[int, list[Line]] = {}
    for line in lines:
        for cell in line.cells:
            lines_of.setdefault(int(cell), []).append(line)
    while True:
        # the quick rule first: a line with exactly one hidden count gives it away
        progressed = False
        for line in lines:
            hidden_cells = [p for p in line.cells if reasons[p] is not None]
            if (
                len(hidden_cells) == 1
                or sum(not known_money[p] for p in hidden_cells) == 1
                or _discloses_attribute(line, values, reasons)
            ):
                hid = _hide_complement(line, values, guessed, is_total, reasons, lines_of)
                progressed |= hid is not None
        if progressed:
            continue
        recoverable = _worked_out(reasons != None, lines, values)  # noqa: E711 (element-wise)
        if not recoverable.size:
            break
        # each cell that can be worked out gets a complement on one of its lines, unless one
        # of its lines got one already in this round (the test of what can be worked out is a
        # decomposition of every line through a hidden cell: seconds a round on a small
        # council's hundreds of hidden cells, so not re-run after each complement)
        touched: set[int] = set()
        for cell in recoverable:
            if any(id(line) in touched for line in lines_of[int(cell)]):
                continue
            hidden = reasons != None  # noqa: E711 (element-wise)
            # a cell on one of its lines; when those are all hidden, on any line with hidden
            # cells (more unknowns under the same equations can only widen what is unknown)
            candidates = itertools.chain(
                lines_of[int(cell)], (line for line in lines if hidden[list(line.cells)].any())
            )
            hid = next(
                (
                    hid
                    for line in candidates
                    if (hid := _hide_complement(line, values, guessed, is_total, reasons, lines_of))
                    is not None
                ),
                None,
            )
            hidden = reasons != None  # noqa: E711 (element-wise)
            if hid is None and (
                cell in recoverable_cells(hidden, lines)
                or cell in bounded_cells(hidden, lines, values)
            ):
                raise SuppressionError(
                    f"row {table.iloc[cell].to_dict()} can be worked out even with every cell "
                    "hidden"
                )
            if hid is not None:  # (else the round's complements protect the cell already)
                touched |= {id(line) for line in lines_of[hid]}
    return pd.Series(reasons, index=table.index, name="suppressed", dtype=object)


def _worked_out(hidden: np.ndarray, lines: Sequence[Line], values: np.ndarray) -> np.ndarray:
    """The hidden cells the equations fix (recoverable_cells), else those their bounds fix
    (bounded_cells)."""
    fixed = recoverable_cells(hidden, lines)
    return fixed if fixed.size else bounded_cells(hidden, lines, values)


def _discloses_attribute(line: Line, values: np.ndarray, reasons: np.ndarray) -> bool:
    """Whether a line's hidden total lies in one hidden member, every other member shown as 0:
    no count is given away, but every child the line counts shares that member's attribute
    (all of a provision type's children have one need). Its complement is a zero hidden too."""
    if line.total == EXTERNAL or reasons[line.total] is None:
        return False
    hidden = [p for p in line.members if reasons[p] is not None]
    shown = [p for p in line.members if reasons[p] is None]
    return len(hidden) == 1 and bool(shown) and all(values[p] == 0 for p in shown)


def _hide_complement(
    line: Line,
    values: np.ndarray,
    guessed: np.ndarray,
    is_total: np.ndarray,
    reasons: np.ndarray,
    lines_of: dict[int, list[Line]],
) -> int | None:
    """Hide one more cell of `line`: an interior cell before the total, non-zero (and not
    `guessed`) before zero,
    then one that also gives a complement to another line with a lone hidden cell (so a
    rectangle of four hidden cells closes rather than a chain growing), then the smallest.
    Returns its position, or None when every cell of the line is hidden already."""
    shown = [p for p in line.cells if reasons[p] is None]
    if not shown:
        return None

    def lone_lines_crossed(cell: int) -> int:
        return sum(
            sum(reasons[p] is not None for p in other.cells) == 1
            for other in lines_of[cell]
            if other is not line
        )

    best = min(shown, key=lambda p: (is_total[p], guessed[p], -lone_lines_crossed(p), values[p], p))
    reasons[best] = SECONDARY
    return best


def recoverable_cells(hidden: np.ndarray, lines: Sequence[Line]) -> np.ndarray:
    """Positions of hidden cells whose value the shown cells and the lines' equations fix."""
    unknown = np.flatnonzero(hidden)
    if not unknown.size:
        return unknown
    column_of = {int(cell): i for i, cell in enumerate(unknown)}
    equations = np.zeros((len(lines), unknown.size))
    for row, line in enumerate(lines):
        signs = np.ones(len(line.members)) if line.signs is None else line.signs
        for cell, sign in zip(line.members, signs, strict=True):
            if cell in column_of:
                equations[row, column_of[cell]] = float(sign)
        if line.total in column_of:
            equations[row, column_of[line.total]] = -1.0
    # only the lines through a hidden cell say anything about one; a hidden cell is worked out
    # when it lies in the equations' row space (no part of it in their null space): the squared
    # length of its projection onto the row space is 1. (The row space from a thin SVD: the full
    # one, to read the null space off directly, cost seconds a publish on a council's lines.)
    equations = equations[np.any(equations != 0, axis=1)]
    if not equations.size:
        return unknown[:0]
    _, singular, vh = np.linalg.svd(equations, full_matrices=False)
    rank = int((singular > _TOLERANCE * max(1.0, singular.max(initial=0.0))).sum())
    projected = np.square(vh[:rank]).sum(axis=0)
    return unknown[projected > 1 - 1e-10]


def bounded_cells(hidden: np.ndarray, lines: Sequence[Line], values: np.ndarray) -> np.ndarray:
    """Positions of hidden cells whose value the lines fix once an outsider adds what any count
    is: a whole number, and at least 1 when hidden, zero being shown (see below for the few
    zeros hidden as complements). recoverable_cells misses these: a year's 160 new plans with
    156 shown and four types hidden gives each of the four as 1, though four unknowns under one
    equation are not fixed. Each line's equation bounds each of its hidden cells by the others'
    bounds, round after round until no bound moves; a cell whose lowest and highest values meet
    is worked out. Line by line, this is weaker than a linear programme over every line at
    once (a statistical office's full audit: seconds to a quarter of a minute a table here),
    which can combine lines (two column totals less two row totals) to fix a cell that no one
    line fixes.

    Two readers are asked, and a cell either works out counts. One knows where the rules hide
    zeros: on a line holding a zero hidden as a complement, every hidden count may be 0. The
    other takes every hidden count as at least 1, except on a line whose own sum shows one of
    them must be 0, or whose bounds cross as the lines narrow them (_fixed_by_bounds). The
    first alone let a line of 17 with 15 shown and two counts hidden give each as 1: each
    count's other line held a hidden zero, which a reader of the table cannot see."""
    unknown = np.flatnonzero(hidden)
    if not unknown.size:
        return unknown
    equations = _hidden_equations(hidden, lines, values)
    # the reader who knows the rules: a hidden count is at least 1; but on a line holding a zero
    # hidden as a complement, a reader who takes every hidden count as 1 or more finds the
    # line's sum too small and learns that one of them is 0, not which: every hidden count of
    # such a line is taken as possibly 0 (else hiding a zero protected nothing, and every zero
    # and the total followed)
    knowing = np.where(hidden, 1.0, values).astype(float)
    for line in lines:
        cells = np.asarray(line.cells, dtype=int)
        if (hidden[cells] & (values[cells] == 0)).any():
            knowing[cells[hidden[cells]]] = 0.0
    knowing = np.minimum(knowing, np.where(hidden, values, np.inf))  # (never above the count)
    # the reader of the table alone: at least 1, but possibly 0 on a line whose sum cannot be
    # met with every hidden count at least 1
    reading = np.where(hidden, 1.0, values).astype(float)
    for cells, signs, sum_of in equations:
        term_low = np.where(signs > 0, signs * reading[cells], -np.inf)
        term_high = np.where(signs > 0, np.inf, signs * reading[cells])
        if term_low.sum() > sum_of + _TOLERANCE or term_high.sum() < sum_of - _TOLERANCE:
            reading[cells] = 0.0
    return np.union1d(
        _fixed_by_bounds(hidden, equations, values, knowing),
        _fixed_by_bounds(hidden, equations, values, reading),
    )


def _hidden_equations(
    hidden: np.ndarray, lines: Sequence[Line], values: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Each line through a hidden cell as (its hidden cells, their signs, what the shown cells
    or a figure published elsewhere leave them: Σ sign × hidden cell)."""
    equations = []
    for line in lines:
        members = np.asarray(line.members, dtype=int)
        signs = np.ones(len(members)) if line.signs is None else np.asarray(line.signs, dtype=float)
        if line.total != EXTERNAL:
            members, signs = np.append(members, line.total), np.append(signs, -1.0)
        inside = hidden[members]
        if inside.any():
            cells, cell_signs = members[inside], signs[inside]
            equations.append((cells, cell_signs, float(cell_signs @ values[cells])))
    return equations


def _fixed_by_bounds(
    hidden: np.ndarray,
    equations: list[tuple[np.ndarray, np.ndarray, float]],
    values: np.ndarray,
    low: np.ndarray,
) -> np.ndarray:
    """The hidden cells whose lowest and highest values meet at their count, the lines' bounds
    narrowed round after round from a reader's lowest values `low`. Where the bounds of a line
    cross, the reader's belief is wrong there (a zero hidden among counts taken as at least 1):
    it learns that one of the line's hidden counts may be 0, not which, and starts again with
    each of them taken as possibly 0. (Left crossed, bounds pushed past each other every round
    to the last, and met at other cells' counts by chance.)"""
    unknown = np.flatnonzero(hidden)
    whole = bool(np.all(values == np.round(values)))
    start = low.copy()
    while True:
        low = start.copy()
        high = np.where(hidden, np.inf, values).astype(float)
        crossed = None
        for _ in range(_ROUNDS):  # a round that narrows no bound ends it
            moved = False
            for cells, signs, sum_of in equations:
                # each term's lowest and highest value, and the others' sum's range for each cell
                term_low = np.where(signs > 0, signs * low[cells], signs * high[cells])
                term_high = np.where(signs > 0, signs * high[cells], signs * low[cells])
                others_low = _sum_of_others(term_low)
                others_high = _sum_of_others(term_high)
                bound_a = (sum_of - others_high) / signs
                bound_b = (sum_of - others_low) / signs
                new_low = np.fmax(low[cells], np.fmin(bound_a, bound_b))
                new_high = np.fmin(high[cells], np.fmax(bound_a, bound_b))
                if whole:
                    new_low = np.ceil(new_low - _TOLERANCE)
                    new_high = np.floor(new_high + _TOLERANCE)
                if (new_low > new_high + _TOLERANCE).any():
                    crossed = cells
                    break
                if (new_low > low[cells] + _TOLERANCE).any() or (
                    new_high < high[cells] - _TOLERANCE
                ).any():
                    low[cells], high[cells], moved = new_low, new_high, True
            if crossed is not None or not moved:
                break
        if crossed is None:
            break
        doubted = crossed[hidden[crossed] & (start[crossed] > 0)]
        if not doubted.size:
            return unknown[:0]  # nothing left to doubt there: this reader learns nothing sure
        start[doubted] = 0.0
    met = np.abs(high[unknown] - low[unknown]) <= _TOLERANCE
    return unknown[met & (np.abs(low[unknown] - values[unknown]) <= _TOLERANCE)]


def _sum_of_others(terms: np.ndarray) -> np.ndarray:
    """For each term, the sum of the other terms: infinite when another term is (the infinite
    terms of one side all have one sign)."""
    finite = np.isfinite(terms)
    others = terms[finite].sum() - np.where(finite, terms, 0.0)
    endless = int((~finite).sum())
    if endless == 0:
        return others
    alone = ~finite if endless == 1 else np.zeros(len(terms), dtype=bool)
    return np.where(alone, others, terms[~finite][0])
