"""central_spend_change: a one-off change in spend tied to no placement."""

from __future__ import annotations

from .base import Lever, Number, register, schema


@register
class CentralSpendChange(Lever):
    name = "central_spend_change"
    description = (
        "Spend tied to no placement (central) changes once by `percent` % in the start year."
    )
    effect = schema(percent=Number(-100, 100, percent=True))
    spend_rises_with = "percent"
    once = True
    needs_provision_types = False
    reaches_central = True

    def apply(self, m, first, levers):
        levers.costs.central_level[first] *= 1 + float(m.effect["percent"]) / 100
