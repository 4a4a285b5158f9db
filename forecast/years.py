"""Financial years (April–March, written `2024-25`) and their January census years."""

from __future__ import annotations

import re

_FY = re.compile(r"^\s*(\d{4})\s*[-/]\s*(\d{2}|\d{4})\s*$")


def fy_start(label: str) -> int:
    """2024 for `2024-25` (also accepts `2024/25` and `2024-2025`)."""
    match = _FY.match(label)
    if not match or int(match.group(2)) % 100 != (int(match.group(1)) + 1) % 100:
        raise ValueError(f"not a financial year: {label!r} (expected e.g. 2028-29)")
    return int(match.group(1))


def fy_label(start_year: int) -> str:
    return f"{start_year}-{(start_year + 1) % 100:02d}"


def census_year_of_fy(label: str) -> int:
    """The January census that falls inside a financial year: 2025 for 2024-25."""
    return fy_start(label) + 1


def fy_of_census_year(census_year: int) -> str:
    return fy_label(census_year - 1)
