"""What a lever is: its effect's schema, how it reads, and what it does to a scenario's arrays.

A lever is a `Lever` subclass decorated with `@register`, in a module of its own in this package
(`forecast.levers` imports every module here). Everything the lever means lives on the class:

* `name` — what the mitigations file writes after `lever:` (the module is named the same);
* `description` — what it does, for people (the mitigations file's documentation);
* `effect` — its effect keys: each a `Number` (with bounds), `Ages`, `Choice` or `ProvisionType`,
  required or optional with a default. The mitigations file is checked against it;
* `needs_provision_types`, `moves_caseload`, `moves_between_types`, `reaches_central`, `income`,
  `once` — how the rest of the forecast treats it (see each attribute);
* `default_kind(effect)` — saving, funding or cost when the mitigations file gives no `kind`
  (from `income`, `spend_rises_with`: the effect key whose positive value makes it a cost, or
  `spend_falls_with`: the one whose positive value makes it a saving); a `kind` the file gives
  must agree with that sign;
* `apply(mitigation, first, levers)` — its effect: how it changes the caseload levers
  (`cohort.Mitigations`) and the cost levers (`costs.CostLevers`) of one scenario.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .. import cohort
from ..costs import CostLevers, no_levers

if TYPE_CHECKING:
    from ..mitigations import Mitigation

KINDS = ("saving", "funding", "cost")


@dataclass(frozen=True)
class Number:
    """A number, between `low` and `high` when they are given."""

    low: float | None = None
    high: float | None = None
    required: bool = True
    default: Any = None
    # a percentage (10 for 10 %): a value strictly between -1 and 1 is refused as a share typed
    # for one (`percent: 0.1` meaning 10 % was applied as 0.1 %, the file's `share:` keys being
    # shares); a change of under 1 % is within the forecast's own uncertainty
    percent: bool = False
    # percentage points on a yearly rate (2 for two points): a value strictly between -0.5 and
    # 0.5 is refused as a share typed for points (`percentage_points: -0.02` meaning two points
    # slower was applied as 0.02 of a point: a saving a hundred times too small, unsaid)
    points: bool = False

    def problem(self, key: str, value: Any) -> str | None:
        try:
            if isinstance(value, bool):  # YAML's yes/true: float() would read it as 1
                raise TypeError
            number = float(value)
        except (TypeError, ValueError):
            return f"effect {key} must be a number, not {value!r}"
        if not math.isfinite(number):
            return f"effect {key} must be a finite number, not {value!r}"
        if self.low is not None and self.high is not None and not self.low <= number <= self.high:
            return f"effect {key} must be between {self.low} and {self.high}, not {number}"
        if self.percent and 0 < abs(number) < 1:
            return (
                f"effect {key} is {number:g}: a percentage ({number * 100:g} for {number:.0%}); "
                "between -1 and 1 it looks like a share typed for one, and a change of under 1 % "
                "is within the forecast's own uncertainty"
            )
        if self.points and 0 < abs(number) < 0.5:
            return (
                f"effect {key} is {number:g}: percentage points ({number * 100:g} for growth "
                f"{abs(number) * 100:g} points {'slower' if number < 0 else 'faster'} a year); "
                "between -0.5 and 0.5 it looks like a share typed for points"
            )
        return None


@dataclass(frozen=True)
class Ages:
    """An age range `[low, high]` (ages at 31 August, inclusive)."""

    required: bool = True
    default: Any = None

    def problem(self, key: str, value: Any) -> str | None:
        ok = (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(a, int) and not isinstance(a, bool) for a in value)
            and 0 <= value[0] <= value[1] <= cohort.MAX_AGE
        )
        if ok:
            return None
        limits = f"0 ≤ low ≤ high ≤ {cohort.MAX_AGE}"
        return f"effect {key} must be [low, high] with {limits}, not {value!r}"


@dataclass(frozen=True)
class Choice:
    """One of a few words."""

    options: tuple[str, ...]
    required: bool = False
    default: Any = None

    def problem(self, key: str, value: Any) -> str | None:
        if value in self.options:
            return None
        words = ", ".join(self.options[:-1]) + " or " + self.options[-1]
        return f"effect {key} must be {words}, not {value!r}"


@dataclass(frozen=True)
class ProvisionType:
    """A provision type of the council (checked against the council's list by the loader)."""

    required: bool = True
    default: Any = None

    def problem(self, key: str, value: Any) -> str | None:
        return None


Field = Number | Ages | Choice | ProvisionType


def schema(**fields: Field) -> Mapping[str, Field]:
    """A lever's effect keys, in the order its messages list them (read-only)."""
    return MappingProxyType(fields)


def note_mitigation(model: cohort.CohortModel, mitigation: str, text: str) -> None:
    """Note `text` on a mitigation once: in the model's notes (the refresh's log) as
    "<name>: <text>", and in its mitigation_notes (forecast.mitigations.note)."""
    said = model.mitigation_notes.setdefault(mitigation, [])
    if text not in said:
        said.append(text)
        model.notes.append(f"{mitigation}: {text}")


@dataclass
class ScenarioLevers:
    """The arrays one scenario's levers write into: the caseload simulation's (`caseload`) and
    the cost simulation's (`costs`), over `years` forecast steps."""

    model: cohort.CohortModel
    years: int
    caseload: cohort.Mitigations = field(init=False)
    costs: CostLevers = field(init=False)

    def __post_init__(self) -> None:
        self.caseload = cohort.Mitigations()
        self.costs = no_levers(self.years, len(self.model.provisions))
        self._index = {p: i for i, p in enumerate(self.model.provisions)}

    def note(self, mitigation: str, text: str) -> None:
        """A note on a mitigation, once (every scenario resolves the same mitigations): for the
        refresh's log and the mitigation's rows of forecast.mitigations."""
        note_mitigation(self.model, mitigation, text)

    def column(self, provision: str) -> int:
        """The index of a provision type in the model's arrays."""
        return self._index[provision]

    def columns(self, provisions: tuple[str, ...] | list[str]) -> list[int]:
        return [self._index[p] for p in provisions]

    def joiner_factor(self) -> np.ndarray:
        """(years, A, P) factors on expected joiners, all 1 until a lever changes them."""
        if self.caseload.joiner_factor is None:
            self.caseload.joiner_factor = np.ones((self.years, *self.model.base.shape))
        return self.caseload.joiner_factor

    def extra_capacity(self) -> np.ndarray:
        """(years, P) places added, all 0 until a lever adds some."""
        if self.caseload.extra_capacity is None:
            self.caseload.extra_capacity = np.zeros((self.years, len(self.model.provisions)))
        return self.caseload.extra_capacity


class Lever:
    """One lever: subclass it in a module of its own and decorate the class with `@register`."""

    name: ClassVar[str]
    description: ClassVar[str]
    effect: ClassVar[Mapping[str, Field]]  # schema(key=Number(...), ...)
    # the mitigation must name the provision types it acts on (`provision_types:`)
    needs_provision_types: ClassVar[bool] = True
    # it changes how many children are where (so it reaches every provision type children move
    # on to, and under a prevalence ceiling every provision type)
    moves_caseload: ClassVar[bool] = False
    # it moves (or keeps) children from one of its provision types to another (its `to`, or an
    # overflow): its saving is the difference of their unit costs, so each must have one
    moves_between_types: ClassVar[bool] = False
    # it changes central spend (spend tied to no placement)
    reaches_central: ClassVar[bool] = False
    # it is income (kind funding: a block transfer, a contribution), never a saving or a cost
    income: ClassVar[bool] = False
    # its effect happens once, in the start year (a level change), not every year from it: one
    # dated before the forecast is already in the actual figures
    once: ClassVar[bool] = False
    # the effect key whose positive value adds spend: the lever is then a cost, else a saving
    spend_rises_with: ClassVar[str | None] = None
    # the effect key whose positive value avoids spend: the lever is then a saving, else a cost
    spend_falls_with: ClassVar[str | None] = None
    # the effect key whose values add up where several entries act on a provision type at once
    # (unit_cost_growth's points on one growth rate): their sum is held to the key's own bounds
    adds_up: ClassVar[str | None] = None
    # the effect key, a percentage, whose changes compound where several entries act on a
    # provision type (unit_cost_change's one-off changes of one unit cost): their combined change
    # is held to the key's own bounds
    compounds: ClassVar[str | None] = None

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(key for key, spec in self.effect.items() if spec.required)

    def problem(self, effect: dict[str, Any]) -> str | None:
        """What is wrong with the lever's effect keys, if anything: a key it does not take (a
        misspelt optional key would otherwise leave its default in force), or a value."""
        unknown = [str(key) for key in effect if key not in self.effect]
        if unknown:
            return (
                f"lever {self.name} takes no effect {', '.join(unknown)}; "
                f"its effect keys: {', '.join(self.effect)}"
            )
        for key, spec in self.effect.items():
            if key in effect:
                problem = spec.problem(key, effect[key])
                if problem:
                    return problem
        return None

    def value(self, effect: dict[str, Any], key: str) -> Any:
        """An effect key's value, or its default when the mitigation leaves it out."""
        return effect.get(key, self.effect[key].default)

    def named_provision_types(self, effect: dict[str, Any]) -> list[Any]:
        """Provision types the effect names (e.g. where children go instead)."""
        return [
            effect[key]
            for key, spec in self.effect.items()
            if isinstance(spec, ProvisionType) and key in effect
        ]

    def direction(self, effect: dict[str, Any]) -> int:
        """+1 where the effect adds spend, -1 where it avoids spend, 0 where the sign alone does
        not say (no effect, or it depends on the provision types' costs)."""
        if self.spend_rises_with is not None:
            return int(np.sign(float(effect[self.spend_rises_with])))
        if self.spend_falls_with is not None:
            return -int(np.sign(float(effect[self.spend_falls_with])))
        return 0

    def default_kind(self, effect: dict[str, Any]) -> str:
        """saving, funding or cost, when the mitigations file gives no `kind`."""
        if self.income:
            return "funding"
        return "cost" if self.direction(effect) > 0 else "saving"

    def apply(self, m: Mitigation, first: int, levers: ScenarioLevers) -> None:
        """Change `levers` from forecast step `first` (0: the first forecast year) on."""
        raise NotImplementedError


REGISTRY: dict[str, Lever] = {}


def register(cls: type[Lever]) -> type[Lever]:
    """Add a lever to the registry (checked here, so a half-written lever fails at import)."""
    for attribute in ("name", "description", "effect"):
        if not hasattr(cls, attribute):
            raise TypeError(f"lever {cls.__qualname__} has no {attribute}")
    if cls.apply is Lever.apply:
        raise TypeError(f"lever {cls.name} has no apply()")
    known = REGISTRY.get(cls.name)
    if known is not None and type(known).__module__ != cls.__module__:
        raise ValueError(
            f"two levers named {cls.name}: {type(known).__module__} and {cls.__module__}"
        )
    REGISTRY[cls.name] = cls()
    return cls
