"""add_capacity: more places in a provision type whose capacity the forecast settings cap."""

from __future__ import annotations

import numpy as np

from .base import Lever, Number, register, schema


@register
class AddCapacity(Lever):
    name = "add_capacity"
    description = (
        "The provision types get `places` more places from the start year (needs "
        "`capacity:` in the forecast settings; children beyond capacity overflow as set "
        "there)."
    )
    effect = schema(places=Number(0, 1e6))
    moves_caseload = True
    moves_between_types = True

    def apply(self, m, first, levers):
        if levers.model.capacity is None:
            levers.note(
                m.name, f"{self.name} has no effect without capacity: in the forecast settings"
            )
            return
        uncapped = [
            p for p in m.provision_types if not np.isfinite(levers.model.capacity[levers.column(p)])
        ]
        if uncapped:
            levers.note(
                m.name,
                f"{self.name} has no effect on {', '.join(uncapped)}: the forecast "
                "settings set no capacity: for it",
            )
        extra = levers.extra_capacity()
        for c in levers.columns(m.provision_types):
            extra[first:, c] += float(m.effect["places"])
