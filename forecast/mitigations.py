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
    kind: saving                     # optional: saving, funding or cost (default: from the lever)
    # optional, for the DSG management plan's mitigation log:
    assumption: 10% fewer requests from schools with an inclusion lead
    cost_gbp: 250000                 # a year to deliver (model it as a `cost` mitigation to count it)
    owner: Head of SEND
    milestones: [Leads in post Sept 2026, Review Mar 2027]
    risk: Recruitment of inclusion leads
```

`kind` keeps money apart in the DSG management plan: a `funding` mitigation (a block transfer, a
council or health contribution: lever funding_change) is income the Forum or partners must agree
each year, never a saving; `cost` is spend a mitigation adds.
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
        ("New plans in the provision types fall by `percent` % from the start year (optionally only at "
        "`ages: [low, high]`)."),
    ),
    "shift_placements": (
        ("to", "share"),
        ("A `share` (0–1) of the children who would be placed in the provision types go to `to` instead: "
        "`flows: new` (new plans), `moving` (children moving in from other provision types) or `both` (default)."),
    ),
    "stop_flow": (
        ("to", "ages"),
        ("Moves from the provision types to `to` by children aged `ages: [low, high]` (age on the earlier "
        "census) stop, by `share` (default 1): those children stay where they were."),
    ),
    "add_capacity": (
        ("places",),
        ("The provision types get `places` more places from the start year (needs `capacity:` in the "
        "forecast settings; children beyond capacity overflow as set there)."),
    ),
    "unit_cost_growth": (
        ("percentage_points",),
        "Yearly unit-cost growth in the provision types changes by `percentage_points`.",
    ),
    "unit_cost_change": (
        ("percent",),
        ("Unit cost in the provision types changes once by `percent` % in the start year (e.g. a banding "
        "review: -5)."),
    ),
    "central_spend_change": (
        ("percent",),
        "Spend tied to no placement (central) changes once by `percent` % in the start year.",
    ),
    "funding_change": (
        ("amount_gbp",),
        ("Funding changes by `amount_gbp` a year from the start year (block transfer, health or social "
        "care contribution)."),
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
KINDS = ("saving", "funding", "cost")


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
    kind: str | None = None  # None: read from the lever (forecast.model.mitigation_kind)
    assumption: str = ""
    cost_gbp: float | None = None
    owner: str = ""
    milestones: str = ""  # "; "-separated
    risk: str = ""

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
    kind = entry.get("kind")
    if kind is not None:
        kind = str(kind).strip().lower()
        if kind not in KINDS:
            raise MitigationsError(f"{where}: kind must be saving, funding or cost, not {kind!r}")
        if (kind == "funding") != (lever == "funding_change"):
            raise MitigationsError(f"{where}: kind {kind} does not fit lever {lever}: funding_change is income "
                                   "(kind funding), never a saving or a cost")
    types = entry.get("provision_types") or []
    if isinstance(types, str):
        types = [types]
    named = list(types) + ([effect["to"]] if lever in ("shift_placements", "stop_flow") else [])
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
    cost = entry.get("cost_gbp")
    try:
        cost = None if cost is None else float(cost)
    except (TypeError, ValueError) as error:
        raise MitigationsError(f"{where}: cost_gbp must be a number, not {cost!r}") from error
    milestones = entry.get("milestones") or []
    problem = _effect_problem(lever, effect)
    if problem:
        raise MitigationsError(f"{where}: {problem}")
    return Mitigation(
        name=str(entry["name"]),
        line_of_enquiry=line,
        lever=lever,
        start_year=str(entry["start_year"]),
        status=status,
        provision_types=tuple(types),
        effect=dict(effect),
        kind=kind,
        assumption=str(entry.get("assumption") or ""),
        cost_gbp=cost,
        owner=str(entry.get("owner") or ""),
        milestones="; ".join(map(str, milestones)) if isinstance(milestones, list) else str(milestones),
        risk=str(entry.get("risk") or ""),
    )


def _effect_problem(lever: str, effect: dict[str, Any]) -> str | None:
    """What is wrong with a lever's effect values, if anything."""
    numbers = {"percent": (-100, 100), "share": (0, 1), "percentage_points": (-50, 50), "places": (0, 1e6)}
    for key, (low, high) in numbers.items():
        if key in effect:
            try:
                value = float(effect[key])
            except (TypeError, ValueError):
                return f"effect {key} must be a number, not {effect[key]!r}"
            if not low <= value <= high:
                return f"effect {key} must be between {low} and {high}, not {value}"
    if "flows" in effect and effect["flows"] not in ("new", "moving", "both"):
        return f"effect flows must be new, moving or both, not {effect['flows']!r}"
    for key in ("ages",):
        if key in effect:
            ages = effect[key]
            if not (isinstance(ages, list) and len(ages) == 2 and all(isinstance(a, int) for a in ages) and 0 <= ages[0] <= ages[1] <= 25):
                return f"effect ages must be [low, high] with 0 ≤ low ≤ high ≤ 25, not {ages!r}"
    if "amount_gbp" in effect:
        try:
            float(effect["amount_gbp"])
        except (TypeError, ValueError):
            return f"effect amount_gbp must be a number, not {effect['amount_gbp']!r}"
    return None
