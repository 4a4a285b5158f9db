"""The self-contained HTML report: charts embedded as base64 PNG, styles inline, no scripts and
no external resources, so it opens offline in any browser and can be emailed as one file."""

from __future__ import annotations

import base64
import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from . import style
from .charts import Chart
from .tables import Table

TEMPLATES = Path(__file__).parent / "templates"


@dataclass
class Section:
    id: str
    title: str
    intro: str = ""
    unavailable: str = ""
    items: list[dict] = field(default_factory=list)

    def chart(self, chart: Chart, png: bytes) -> None:
        self.items.append(
            {
                "kind": "chart",
                "key": chart.key,
                "title": chart.title,
                "reading": chart.reading,
                "notes": chart.notes,
                "png": base64.b64encode(png).decode("ascii"),
                "points": len(chart.data),
            }
        )

    def table(self, table: Table) -> None:
        self.items.append(table_item(table))

    def text(self, text: str) -> None:
        self.items.append({"kind": "text", "text": text})


def _text(table: Table, row: int, column, value) -> tuple[str, bool]:
    if table.is_suppressed(row, column):
        return "c", True
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–", False
    if isinstance(value, bool):
        return ("yes" if value else "no"), False
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10], False
    if isinstance(value, (int, float)) or hasattr(value, "dtype"):
        number = float(value)
        kind = table.cell_kind(row, column)
        if "(%" in str(column):  # "(%)", "(% of published)": numbers in per cent
            return f"{'−' if number < 0 and round(number, 1) else ''}{abs(number):,.1f}%", True
        if kind == "money":
            return style.pounds_m(number, 2), True
        if kind == "pounds":
            return style.pounds(number), True
        if kind == "decimal":
            return f"{number:,.2f}", True
        if kind == "plain":
            return f"{number:.0f}", True
        return f"{number:,.0f}", True
    return str(value), False


def table_item(table: Table) -> dict:
    frame = table.frame
    first = frame.columns[0]
    rows = []
    for i in range(len(frame)):
        cells = []
        for column in frame.columns:
            text, number = _text(table, i, column, frame.iloc[i][column])
            cells.append({"text": text, "number": number})
        rows.append({"cells": cells, "total": str(frame.iloc[i][first]) in table.total_rows})
    money = table.kind == "money"
    return {
        "kind": "table",
        "name": table.name,
        "title": table.title + (" — £m" if money else ""),
        "headers": [str(c) for c in frame.columns],
        "rows": rows,
        "note": table.note,
    }


def render(
    path: Path,
    title: str,
    subtitle: str,
    sections: list[Section],
    about: list[tuple[str, str]],
    labels: dict[str, str],
    publication: bool,
    threshold: int | None,
) -> Path:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    palette = [
        {"label": label, "colour": style.PROVISION_COLOURS.get(code, "#999999")}
        for code, label in labels.items()
    ]
    html = environment.get_template("report.html.j2").render(
        title=title,
        subtitle=subtitle,
        sections=sections,
        about=about,
        palette=palette,
        publication=publication,
        threshold=threshold,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return path
