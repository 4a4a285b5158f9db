"""The mitigations file: what the council plans to do about the deficit, as data.

Each entry maps onto a line of the DSG deficit management plan's mitigation log:

```yaml
mitigations:
  - name: Inclusion support in mainstream schools
    line_of_enquiry: early support and inclusion
    lever: reduce_new_plans          # see LEVERS
    provision_types: [mainstream]
    start_year: 2026-27              # first financial year with an effect
    effect: {percent: 5}             # lever-specific
    status: assessed                 # assured (agreed, funded) or assessed (estimated)
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .years import fy_start

# lever → (required effect keys, what it does)
LEVERS: dict[str, tuple[tuple[str, ...], str]] = {
    "reduce_new_plans": (
        ("percent",),
        "New plans in the provision types fall by `percent` % a year from the start year.",
    ),
    "shift_placements": (
        ("to", "share"),
        "A `share` (0–1) of the placements that would have been added each year in the provision "
        "types goes to provision type `to` instead (e.g. inmss → mss).",
    ),
    "unit_cost_growth": (
        ("percentage_points",),
        "Yearly unit-cost growth in the provision types changes by `percentage_points`.",
    ),
    "unit_cost_change": (
        ("percent",),
        "Unit cost in the provision types changes once by `percent` % from the start year "
        "(e.g. a banding review: -5).",
    ),
    "central_spend_change": (
        ("percent",),
        "Spend tied to no placement (central) changes by `percent` % from the start year.",
    ),
    "funding_change": (
        ("amount_gbp",),
        "Funding changes by `amount_gbp` a year from the start year (block transfer, health or "
        "social care contribution).",
    ),
}
LINES_OF_ENQUIRY = (
    "financial oversight",
    "early support and inclusion",
    "transitions and step-down",
    "sufficiency",
    "commissioning",
    "top-ups and banding",
    "alternative provision and eotas",
    "block transfers",
    "health and social care contributions",
)
STATUSES = ("assured", "assessed")


class MitigationsError(ValueError):
    """The mitigations file is not valid; the message names the file and the entry."""


@dataclass(frozen=True)
class Mitigation:
    name: str
    line_of_enquiry: str
    lever: str
    start_year: str
    status: str
    provision_types: tuple[str, ...] = ()
    effect: dict[str, Any] = field(default_factory=dict)

    @property
    def start(self) -> int:
        return fy_start(self.start_year)


def load_mitigations(path: Path, provision_types: list[str] | None = None) -> list[Mitigation]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise MitigationsError(f"{path}: cannot read the mitigations file ({error})") from error
    entries = document.get("mitigations") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise MitigationsError(f"{path}: expected a top-level 'mitigations:' list")
    return [_parse(entry, index, path, provision_types) for index, entry in enumerate(entries, 1)]


def _parse(
    entry: Any, index: int, path: Path, provision_types: list[str] | None
) -> Mitigation:
    where = f"{path}: mitigation {index}"
    if not isinstance(entry, dict):
        raise MitigationsError(f"{where}: expected a mapping of name, lever, effect …")
    if entry.get("name"):
        where += f" ({entry['name']!r})"
    missing = [k for k in ("name", "lever", "start_year", "status", "line_of_enquiry") if not entry.get(k)]
    if missing:
        raise MitigationsError(f"{where}: missing {', '.join(missing)}")
    lever = str(entry["lever"])
    if lever not in LEVERS:
        raise MitigationsError(f"{where}: unknown lever {lever!r}; levers: {', '.join(LEVERS)}")
    effect = entry.get("effect") or {}
    if not isinstance(effect, dict):
        raise MitigationsError(f"{where}: effect must be a mapping, e.g. {{percent: 5}}")
    absent = [k for k in LEVERS[lever][0] if k not in effect]
    if absent:
        raise MitigationsError(f"{where}: lever {lever} needs effect {', '.join(absent)}")
    status = str(entry["status"]).strip().lower()
    if status not in STATUSES:
        raise MitigationsError(f"{where}: status must be assured or assessed, not {status!r}")
    line = str(entry["line_of_enquiry"]).strip().lower()
    if line not in LINES_OF_ENQUIRY:
        raise MitigationsError(
            f"{where}: unknown line of enquiry {line!r}; one of: {', '.join(LINES_OF_ENQUIRY)}"
        )
    types = entry.get("provision_types") or []
    if isinstance(types, str):
        types = [types]
    named = list(types) + ([effect["to"]] if lever == "shift_placements" else [])
    if provision_types is not None:
        unknown = [t for t in named if t not in provision_types]
        if unknown:
            raise MitigationsError(f"{where}: unknown provision type(s) {', '.join(map(str, unknown))}")
    needs_types = lever not in ("central_spend_change", "funding_change")
    if needs_types and not types:
        raise MitigationsError(f"{where}: lever {lever} needs provision_types")
    try:
        fy_start(str(entry["start_year"]))
    except ValueError as error:
        raise MitigationsError(f"{where}: {error}") from error
    return Mitigation(
        name=str(entry["name"]),
        line_of_enquiry=line,
        lever=lever,
        start_year=str(entry["start_year"]),
        status=status,
        provision_types=tuple(types),
        effect=dict(effect),
    )
