"""The mitigation levers, one module each: `LEVERS` maps a lever's name to it.

Every module in this package (except `base`) defines one `Lever` subclass decorated with
`@register`; importing the package imports them all, so adding a lever is adding its module
(and its test in tests/unit/test_levers.py). See `base` for what a lever holds.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import (
    KINDS,
    REGISTRY,
    Ages,
    Choice,
    Lever,
    Number,
    ProvisionType,
    ScenarioLevers,
    register,
    schema,
)

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base" and not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

# the registry itself (modules import in name order): a lever registered later is in it too
LEVERS: dict[str, Lever] = REGISTRY


def lever_named(name: str) -> Lever:
    """The lever called `name`; a ValueError naming the levers there are if there is none."""
    try:
        return LEVERS[name]
    except KeyError:
        raise ValueError(f"unknown lever {name!r}; levers: {', '.join(LEVERS)}") from None


__all__ = [
    "KINDS",
    "LEVERS",
    "Ages",
    "Choice",
    "Lever",
    "Number",
    "ProvisionType",
    "ScenarioLevers",
    "lever_named",
    "register",
    "schema",
]
