"""Read the report's workbook as Excel would show it: its formulas evaluated, for the few things
they use (cell references, on the sheet or another, + - * /, SUM over ranges, SUMIFS with text
criteria). A blank cell
counts as 0; text in arithmetic is an error, as #VALUE! is in Excel. No spreadsheet engine is
needed, and a formula that uses anything else fails the test that meets it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from openpyxl.utils import column_index_from_string, get_column_letter

TOKEN = re.compile(
    r"""\s*(?:
    (?P<other>(?:'(?:[^']|'')+'|[A-Za-z0-9_]+)!\$?[A-Z]{1,3}\$?\d+)
  | (?P<range>\$?[A-Z]{1,3}\$?\d+:\$?[A-Z]{1,3}\$?\d+)
  | (?P<cell>\$?[A-Z]{1,3}\$?\d+)
  | (?P<number>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<string>"[^"]*")
  | (?P<name>[A-Z]+)(?=\()
  | (?P<op>[-+*/(),])
)""",
    re.VERBOSE,
)
FUNCTIONS = {"SUM", "SUMIFS"}


def is_formula(value) -> bool:
    return isinstance(value, str) and value.startswith("=")


def _cells(reference: str) -> list[str]:
    """`B7:C9` → B7, C7, B8, C8, B9, C9 (row by row), without `$`."""
    first, last = reference.replace("$", "").split(":")
    (c1, r1), (c2, r2) = (re.fullmatch(r"([A-Z]+)(\d+)", ref).groups() for ref in (first, last))
    columns = range(column_index_from_string(c1), column_index_from_string(c2) + 1)
    return [f"{get_column_letter(c)}{r}" for r in range(int(r1), int(r2) + 1) for c in columns]


class Evaluator:
    """Values of one sheet's cells, formulas evaluated (and remembered)."""

    def __init__(self, sheet):
        self.sheet = sheet
        self.memo: dict[str, object] = {}

    def __call__(self, coordinate: str):
        """The cell's value: a formula's result, else what the cell holds."""
        coordinate = coordinate.replace("$", "")
        if coordinate not in self.memo:
            raw = self.sheet[coordinate].value
            self.memo[coordinate] = self._formula(raw) if is_formula(raw) else raw
        return self.memo[coordinate]

    def number(self, coordinate: str) -> float:
        value = self(coordinate)
        if value is None:
            return 0.0
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{self.sheet.title}!{coordinate} holds {value!r}, not a number")
        return float(value)

    def _formula(self, text: str) -> float:
        tokens = []
        position = 1
        while position < len(text):
            match = TOKEN.match(text, position)
            if not match or match.end() == position:
                raise ValueError(f"cannot read {text!r} at {text[position:]!r}")
            tokens.append((match.lastgroup, match.group(match.lastgroup)))
            position = match.end()
        outer = getattr(self, "_tokens", None), getattr(self, "_at", 0)  # a formula inside one
        self._tokens, self._at = tokens, 0
        try:
            value = self._scalar(self._expression())
            if self._at != len(tokens):
                raise ValueError(f"cannot read {text!r}")
        finally:
            self._tokens, self._at = outer
        return value

    def _peek(self):
        return self._tokens[self._at] if self._at < len(self._tokens) else (None, None)

    def _take(self, expected: str | None = None):
        kind, text = self._peek()
        if expected is not None and text != expected:
            raise ValueError(f"expected {expected!r}, found {text!r}")
        self._at += 1
        return kind, text

    def _expression(self):
        value = self._term()
        while self._peek()[1] in ("+", "-"):
            _, op = self._take()
            right = self._term()
            value = self._scalar(value) + self._scalar(right) * (1 if op == "+" else -1)
        return value

    def _term(self):
        value = self._unary()
        while self._peek()[1] in ("*", "/"):
            _, op = self._take()
            right = self._scalar(self._unary())
            value = self._scalar(value) * right if op == "*" else self._scalar(value) / right
        return value

    def _unary(self):
        if self._peek()[1] in ("+", "-"):
            _, op = self._take()
            value = self._scalar(self._unary())
            return value if op == "+" else -value
        return self._primary()

    def _primary(self):
        kind, text = self._take()
        if kind == "number":
            return float(text)
        if kind == "string":
            return text[1:-1]
        if kind == "cell":
            return ("cell", text)
        if kind == "other":  # 'Sheet name'!B12
            sheet, coordinate = text.rsplit("!", 1)
            if sheet.startswith("'"):
                sheet = sheet[1:-1].replace("''", "'")
            return Evaluator(self.sheet.parent[sheet]).number(coordinate)
        if kind == "range":
            return ("range", _cells(text))
        if kind == "name":
            if text not in FUNCTIONS:
                raise ValueError(f"the test does not evaluate {text}()")
            self._take("(")
            args = [self._expression()]
            while self._peek()[1] == ",":
                self._take(",")
                args.append(self._expression())
            self._take(")")
            return self._sum(args) if text == "SUM" else self._sumifs(args)
        if text == "(":
            value = self._expression()
            self._take(")")
            return value
        raise ValueError(f"unexpected {text!r}")

    def _scalar(self, value) -> float:
        if isinstance(value, tuple) and value[0] == "cell":
            return self.number(value[1])
        if isinstance(value, tuple):
            raise TypeError("a range outside SUM")
        if isinstance(value, str):
            raise TypeError(f"text {value!r} in arithmetic")
        return float(value)

    def _sum(self, args) -> float:
        total = 0.0
        for arg in args:
            refs = arg[1] if isinstance(arg, tuple) and arg[0] == "range" else None
            if refs is None:
                total += self._scalar(arg)
                continue
            for ref in refs:  # SUM skips text and blanks in a range, as Excel does
                value = self(ref)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    total += value
        return total

    def _sumifs(self, args) -> float:
        """SUMIFS(sum range, criteria range, criterion, …), each criterion text to match."""
        added = args[0][1]
        pairs = [
            (where[1], criterion) for where, criterion in zip(args[1::2], args[2::2], strict=False)
        ]
        if any(len(where) != len(added) for where, _ in pairs):
            raise ValueError("SUMIFS ranges of different sizes")
        total = 0.0
        for k, ref in enumerate(added):
            if all(
                str(self(where[k]) or "").lower() == str(criterion).lower()
                for where, criterion in pairs
            ):
                value = self(ref)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    total += value
        return total


@dataclass
class Located:
    """An Excel table of the workbook with the total rows written below it."""

    sheet: object
    headings: list
    header_row: int
    rows: list[int]  # sheet rows, body then totals
    evaluate: Evaluator

    @property
    def labels(self) -> dict[str, int]:
        """First-column label → sheet row (the last, if a label repeats)."""
        return {self.sheet.cell(row, 1).value: row for row in self.rows}

    def coordinate(self, label: str, heading) -> str:
        return f"{get_column_letter(self.headings.index(heading) + 1)}{self.labels[label]}"

    def raw(self, label: str, heading):
        return self.sheet[self.coordinate(label, heading)].value

    def value(self, label: str, heading):
        return self.evaluate(self.coordinate(label, heading))


def locate(workbook, name: str) -> Located:
    for sheet in workbook.worksheets:
        if name in sheet.tables:
            first, last = sheet.tables[name].ref.split(":")
            top, bottom = int(re.sub(r"\D", "", first)), int(re.sub(r"\D", "", last))
            headings = [sheet.cell(top, j).value for j in range(1, sheet.max_column + 1)]
            headings = headings[: headings.index(None)] if None in headings else headings
            rows, row = [], top + 1
            while sheet.cell(row, 1).value is not None and (
                row <= bottom or sheet.cell(row, 1).font.bold
            ):
                rows.append(row)
                row += 1
            return Located(sheet, headings, top, rows, Evaluator(sheet))
    raise KeyError(name)
