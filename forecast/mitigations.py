"""The mitigations file: what the council plans to do about the deficit, as data.

Each entry maps onto a line of the DSG deficit management plan's mitigation log:

```yaml
mitigations:
  - name: Inclusion support in mainstream schools
    line_of_enquiry: early support and inclusion
    lever: reduce_new_plans        # one of forecast/levers/ (LEVERS)
    provision_types: [mainstream]
    start_year: 2026-27            # first financial year with an effect
    effect: {percent: 5}           # lever-specific
    status: assessed               # assured (agreed, funded) or assessed (estimated)
    kind: saving                   # optional: saving, funding or cost (default: from the lever)
    # optional, for the DSG management plan's mitigation log:
    assumption: 10% fewer requests from schools with an inclusion lead
    cost_gbp: 250000               # a year to deliver (counted when modelled as a cost mitigation)
    owner: Head of SEND
    milestones: [Leads in post Sept 2026, Review Mar 2027]
    risk: Recruitment of inclusion leads
```

`kind` keeps money apart in the DSG management plan: a `funding` mitigation (a block transfer, a
council or health contribution: lever funding_change) is income the Forum or partners must agree
each year, never a saving; `cost` is spend a mitigation adds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ingest.yaml_file import load_yaml

from .levers import KINDS, LEVERS, lever_named
from .years import fy_label, fy_start

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
    kind: str | None = None  # None: read from the lever (mitigation_kind)
    assumption: str = ""
    cost_gbp: float | None = None
    owner: str = ""
    milestones: str = ""  # "; "-separated
    risk: str = ""
    source: str = field(default="", compare=False)  # the mitigations file it was read from

    @property
    def start(self) -> int:
        return fy_start(self.start_year)


# a council's own mitigation log, in its landing folder (landing/<LA code>/ with many councils)
COUNCIL_MITIGATIONS = "mitigations.yml"
# the other spelling of YAML's suffix: `mitigations.yaml` had been passed over without a word and
# the shipped example applied instead
COUNCIL_MITIGATIONS_NAMES = (COUNCIL_MITIGATIONS, "mitigations.yaml")
# the shipped example log: what HIGHNEEDS_MITIGATIONS defaults to
EXAMPLE_MITIGATIONS = (Path(__file__).parent / "config" / "mitigations.example.yml").resolve()
# how forecast.assumptions' mitigation_log row names it (the report warns where it was applied)
EXAMPLE_SOURCE = (
    "the shipped example log (forecast/config/mitigations.example.yml), not the council's own "
    "plan: set HIGHNEEDS_MITIGATIONS, or put mitigations.yml in the council's landing folder"
)


def council_mitigations_file(council_folder: Path | None, default: Path) -> Path:
    """The mitigation log a council's forecast applies: its own (`mitigations.yml` or
    `mitigations.yaml` in its landing folder) where it has one, else the shared one
    (HIGHNEEDS_MITIGATIONS). With many councils in one warehouse one shared log gave every
    council the same block transfer in pounds, the same delivery costs and owners; a council's
    figures are those of a refresh of its folder alone, which finds the same file. Both names at
    once are refused: which one is the plan cannot be told."""
    if council_folder is None:
        return default
    own = [council_folder / name for name in COUNCIL_MITIGATIONS_NAMES]
    found = [path for path in own if path.is_file()]
    if len(found) > 1:
        raise MitigationsError(
            f"{council_folder}: both {' and '.join(p.name for p in found)} are there, and which "
            "one is the council's mitigation log cannot be told: keep one"
        )
    return found[0] if found else default


def is_example(path: Path, own: bool = False) -> bool:
    """Whether the log applied is the shipped example (not a council's own plan)."""
    return not own and path.resolve() == EXAMPLE_MITIGATIONS.resolve()


def example_not_applied(source: str) -> str | None:
    """Read from forecast.assumptions' mitigation_log `source` (log_assumption): None when the
    log applied is not the shipped example; else the example's mitigations the council's forecast
    left out, in words ('' when it left none out)."""
    if not source.startswith(EXAMPLE_SOURCE):
        return None
    return source[len(EXAMPLE_SOURCE) :].lstrip("; ")


def log_assumption(
    path: Path,
    mitigations: list[Mitigation],
    own: bool = False,
    set_aside: list[tuple[str, str]] | None = None,
) -> dict:
    """forecast.assumptions' row naming the mitigation log the mitigated scenarios apply: the
    shipped example's had been applied to any council without its own, and neither the report
    nor the served tables said so. A council's own log is named by its file alone, wherever
    its landing folder is: a council's figures in a region's warehouse are those of a refresh
    of its folder alone."""
    if own:
        shown = f"the council's own log ({path.name} in its landing folder)"
    else:
        try:
            shown = str(path.resolve().relative_to(Path(__file__).parent.parent.resolve()))
        except ValueError:
            shown = str(path)
    example = is_example(path)
    # the example's mitigations this council cannot price (model.run_forecast), named: the
    # count is of those applied
    skipped = "".join(f"; {name!r} not applied here: {why}" for name, why in (set_aside or []))
    return {
        "assumption": "mitigation_log",
        "provision_type": None,
        "financial_year": None,
        "value": float(len(mitigations) - len(set_aside or [])),
        "unit": "mitigations",
        "source": (EXAMPLE_SOURCE if example else shown) + skipped,
    }


def load_mitigations(path: Path, provision_types: list[str] | None = None) -> list[Mitigation]:
    try:
        document = load_yaml(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise MitigationsError(f"{path}: cannot read the mitigations file ({error})") from error
    entries = document.get("mitigations") if isinstance(document, dict) else None
    # a second block misspelt (`mitigatons:`) or notes beside the list were read as nothing
    others = sorted(str(k) for k in document if k != "mitigations") if entries is not None else []
    if others:
        raise MitigationsError(
            f"{path}: unknown top-level key(s) {', '.join(others)}; the file holds one "
            "'mitigations:' list (notes go in an entry's assumption, or in YAML comments)"
        )
    if not isinstance(entries, list):
        raise MitigationsError(
            f"{path}: expected a top-level 'mitigations:' list (`mitigations: []` for none)"
        )
    mitigations = [
        _parse(entry, index, path, provision_types) for index, entry in enumerate(entries, 1)
    ]
    # (names differing only in case, "Same" and "same", are one line of the log to a reader)
    seen: dict[str, tuple[int, str]] = {}
    for index, m in enumerate(mitigations, 1):
        key = m.name.casefold()
        if key in seen:
            first, name = seen[key]
            named = repr(m.name) if name == m.name else f"{name!r} and {m.name!r}"
            raise MitigationsError(
                f"{path}: mitigations {first} and {index} are both named {named}: "
                "each line of the mitigation log needs a name of its own"
            )
        seen[key] = (index, m.name)
    _check_combined(path, mitigations)
    return mitigations


def _check_combined(path: Path, mitigations: list[Mitigation]) -> None:
    """Refuse entries whose effects add up (a lever's `adds_up`: unit_cost_growth's points on a
    type's yearly growth) or compound (`compounds`: unit_cost_change's one-off changes of a unit
    cost) beyond the bounds one entry is held to, in any year, in either
    mitigated scenario: each entry acts from its start year on, and the assured ones alone make
    mitigated_assured. Within bounds one by one, three cuts of 50 points on a type took its unit
    cost below £0 (the mitigated balance £64m better, every check passed)."""
    scenarios = {
        "mitigated": mitigations,
        "mitigated_assured": [m for m in mitigations if m.status == "assured"],
    }
    for scenario, entries in scenarios.items():
        for lever in {lever_named(m.lever) for m in entries}:
            key = lever.adds_up or lever.compounds
            if key is None:
                continue
            bounds = lever.effect[key]
            acting = [m for m in entries if m.lever == lever.name]
            for provision in sorted({p for m in acting for p in m.provision_types}):
                on_type = [m for m in acting if provision in m.provision_types]
                for year in sorted({m.start for m in on_type}):
                    started = [m for m in on_type if m.start <= year]
                    values = [float(m.effect[key]) for m in started]
                    if lever.adds_up:
                        total, how = sum(values), "add up to"
                    else:  # percentages: their factors multiply
                        total, how = (math.prod(1 + v / 100 for v in values) - 1) * 100, "come to"
                    if bounds.low <= total <= bounds.high:
                        continue
                    raise MitigationsError(
                        f"{path}: mitigations {', '.join(repr(m.name) for m in started)} "
                        f"({lever.name}) {how} {key} {total:g} on {provision} from "
                        f"{fy_label(year)} in the {scenario} scenario: together they must stay "
                        f"between {bounds.low:g} and {bounds.high:g}, as one does (their effects "
                        + ("add, year after year)" if lever.adds_up else "compound)")
                    )


# the keys of a mitigation log entry (the lever's parameters are under effect:)
ENTRY_KEYS = (
    "name",
    "line_of_enquiry",
    "lever",
    "kind",
    "status",
    "provision_types",
    "start_year",
    "effect",
    "assumption",
    "cost_gbp",
    "owner",
    "milestones",
    "risk",
)


def _parse(entry: Any, index: int, path: Path, provision_types: list[str] | None) -> Mitigation:
    where = f"{path}: mitigation {index}"
    if not isinstance(entry, dict):
        raise MitigationsError(f"{where}: expected a mapping of name, lever, effect …")
    if entry.get("name"):
        where += f" ({entry['name']!r})"
    # a key misspelt or one indent out (`ages:` beside `effect:`, `cost:` for cost_gbp) was
    # dropped: the cut fell on every age and the delivery cost vanished from the log
    unknown = sorted(str(k) for k in entry if k not in ENTRY_KEYS)
    if unknown:
        raise MitigationsError(
            f"{where}: unknown key(s) {', '.join(unknown)}; an entry takes "
            f"{', '.join(ENTRY_KEYS)} (a lever's own parameters go under effect:)"
        )
    # a name or label of spaces is none (and `Same ` is the mitigation `Same`)
    missing = [
        k
        for k in ("name", "lever", "start_year", "status", "line_of_enquiry")
        if not str(entry.get(k) or "").strip()
    ]
    if missing:
        raise MitigationsError(f"{where}: missing {', '.join(missing)}")
    lever = str(entry["lever"])
    if lever not in LEVERS:
        raise MitigationsError(f"{where}: unknown lever {lever!r}; levers: {', '.join(LEVERS)}")
    spec = LEVERS[lever]
    effect = entry.get("effect") or {}
    if not isinstance(effect, dict):
        raise MitigationsError(f"{where}: effect must be a mapping, e.g. {{percent: 5}}")
    absent = [k for k in spec.required if k not in effect]
    if absent:
        raise MitigationsError(f"{where}: lever {lever} needs effect {', '.join(absent)}")
    problem = spec.problem(effect)
    if problem:
        raise MitigationsError(f"{where}: {problem}")
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
        direction = spec.direction(effect)
        if (kind, direction) in (("saving", 1), ("cost", -1)):
            raise MitigationsError(
                f"{where}: kind {kind} does not fit its effect "
                f"({', '.join(f'{k}: {v}' for k, v in effect.items())}), which "
                f"{'adds' if direction > 0 else 'avoids'} spend"
            )
        if (kind == "funding") != spec.income:
            income = [name for name, other in LEVERS.items() if other.income]
            verb = "is" if len(income) == 1 else "are"
            raise MitigationsError(
                f"{where}: kind {kind} does not fit lever {lever}: "
                f"{' and '.join(income)} {verb} income (kind funding), never "
                "a saving or a cost"
            )
    types = entry.get("provision_types") or []
    if isinstance(types, str):
        types = [types]
    twice = sorted({str(t) for t in types if list(types).count(t) > 1})
    if twice:
        raise MitigationsError(f"{where}: provision type(s) {', '.join(twice)} listed twice")
    named = list(types) + spec.named_provision_types(effect)
    if provision_types is not None:
        unknown = [t for t in named if t not in provision_types]
        if unknown:
            raise MitigationsError(
                f"{where}: unknown provision type(s) {', '.join(map(str, unknown))}"
            )
    if spec.needs_provision_types and not types:
        raise MitigationsError(f"{where}: lever {lever} needs provision_types")
    if types and not spec.needs_provision_types:
        # it acts on no provision type: the list would read as a target it does not have
        raise MitigationsError(
            f"{where}: lever {lever} takes no provision_types (it acts on the block as a "
            f"whole), not {', '.join(map(str, types))}"
        )
    if "to" in effect and str(effect["to"]) in map(str, types):
        raise MitigationsError(
            f"{where}: lever {lever} moves children from {effect['to']} to {effect['to']}: "
            "to must be another provision type"
        )
    try:
        # one spelling (2026-27, not 2026/27): the label is matched against the forecast's years
        start_year = fy_label(fy_start(str(entry["start_year"])))
    except ValueError as error:
        raise MitigationsError(f"{where}: {error}") from error
    given = entry.get("cost_gbp")
    try:
        if isinstance(given, bool):  # YAML's yes/true: float() would read it as £1
            raise TypeError
        cost = None if given is None else float(given)
    except (TypeError, ValueError) as error:
        raise MitigationsError(f"{where}: cost_gbp must be a number, not {given!r}") from error
    if cost is not None and not (math.isfinite(cost) and cost >= 0):
        raise MitigationsError(f"{where}: cost_gbp must be £ a year (0 or more), not {given!r}")
    milestones = entry.get("milestones") or []
    return Mitigation(
        name=str(entry["name"]).strip(),
        line_of_enquiry=line,
        lever=lever,
        start_year=start_year,
        status=status,
        provision_types=tuple(types),
        effect=dict(effect),
        kind=kind,
        assumption=str(entry.get("assumption") or ""),
        cost_gbp=cost,
        owner=str(entry.get("owner") or ""),
        milestones="; ".join(map(str, milestones))
        if isinstance(milestones, list)
        else str(milestones),
        risk=str(entry.get("risk") or ""),
        source=str(path),
    )


def mitigation_kind(m: Mitigation, balance_effect: float | None = None) -> str:
    """funding (income: a block transfer or contribution, never a saving), cost (spend it adds) or
    saving (spend it avoids), as the mitigations file says or, by default, as its lever reads;
    where the lever's effect alone does not say (moving children between provision types, which
    saves or costs by their unit costs), as its `balance_effect` measured alone does."""
    if m.kind:
        return m.kind
    lever = lever_named(m.lever)
    if not lever.income and lever.direction(m.effect) == 0 and balance_effect is not None:
        return "cost" if balance_effect < 0 else "saving"
    return lever.default_kind(m.effect)


@dataclass(frozen=True)
class UncountedDeliveryCost:
    """What the mitigations file says its mitigations cost to deliver (`cost_gbp`, a year, from
    each one's start year) that the mitigated scenario leaves out: only a `cost` mitigation of
    spend itself (SPEND_LEVERS), the way to model one, is taken as counting its delivery cost.
    `total_gbp` is the sum to the end of the horizon year."""

    mitigations: tuple[str, ...]
    total_gbp: float
    horizon: str

    def sentence(self) -> str:
        return (
            f"The mitigations file states a cost to deliver {'; '.join(self.mitigations)}: "
            f"£{self.total_gbp / 1e6:,.1f}m by the end of {self.horizon}, which the mitigated "
            "balance leaves out (a delivery cost counts when modelled as a cost mitigation of "
            "central spend or unit costs)."
        )


SPEND_LEVERS = ("central_spend_change", "unit_cost_change", "unit_cost_growth")


def uncounted_delivery_cost(effects: Any, horizon: str) -> UncountedDeliveryCost | None:
    """From forecast.mitigations (a row per mitigation and financial year): the delivery costs
    the mitigated balance does not count, by `horizon`; None when there are none."""
    if effects is None or effects.empty or "delivery_cost_gbp" not in effects.columns:
        return None
    # a cost mitigation of spend itself (central spend, unit costs) is how a delivery cost is
    # modelled: its own figure is the cost; a move measured as a cost (a shift into dearer
    # places) is what the children's places cost, not what the mitigation costs to deliver
    modelled = (effects["kind"] == "cost") & effects["lever"].isin(SPEND_LEVERS)
    rows = effects[
        ~modelled
        & (effects["delivery_cost_gbp"].fillna(0) > 0)
        & (effects["financial_year"].map(fy_start) >= effects["start_year"].map(fy_start))
        & (effects["financial_year"].map(fy_start) <= fy_start(horizon))
    ]
    if rows.empty:
        return None
    names = tuple(dict.fromkeys(rows["mitigation"]))
    return UncountedDeliveryCost(names, float(rows["delivery_cost_gbp"].sum()), horizon)


def funding_given_twice(effects: Any) -> str | None:
    """From forecast.mitigations: a sentence naming each funding mitigation that adds funding in
    a year the budget file already gives a block transfer or council contribution for (if it is
    the same money, both count); None when there is none."""
    if effects is None or effects.empty or "budget_file_transfer_gbp" not in effects.columns:
        return None
    both = effects[(effects["kind"] == "funding") & (effects["budget_file_transfer_gbp"] > 0)]
    if both.empty:
        return None
    parts = [
        f"{name} in {', '.join(rows['financial_year'])} (the budget file gives "
        # to the pound: £0.25m read "£0.2m" to one decimal
        f"£{rows['budget_file_transfer_gbp'].sum():,.0f} of block transfer and council "
        "contribution for those years)"
        for name, rows in both.groupby("mitigation", sort=False)
    ]
    return (
        f"Funding mitigations add income in years the budget file already gives a transfer for: "
        f"{'; '.join(parts)}. If it is the same money, the mitigated balance counts it twice: "
        "leave it out of one of them."
    )


def balance_caveats(effects: Any, horizon: str) -> list[str]:
    """The sentences every reading of the mitigated balance (the report's headline, the refresh
    summary, the forecast summary) says beside it: what it leaves out and what it may count
    twice."""
    uncounted = uncounted_delivery_cost(effects, horizon)
    return [
        sentence
        for sentence in (uncounted and uncounted.sentence(), funding_given_twice(effects))
        if sentence
    ]
