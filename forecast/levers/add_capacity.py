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

    def apply(self, m, first, levers):
        notes = levers.model.notes  # once, though every scenario resolves the mitigation
        if levers.model.capacity is None:
            note = f"{m.name}: {self.name} has no effect without capacity: in the forecast settings"
            notes.extend([] if note in notes else [note])
            return
        uncapped = [
            p for p in m.provision_types if not np.isfinite(levers.model.capacity[levers.column(p)])
        ]
        note = (
            f"{m.name}: {self.name} has no effect on {', '.join(uncapped)}: the forecast "
            "settings set no capacity: for it"
        )
        notes.extend([] if not uncapped or note in notes else [note])
        extra = levers.extra_capacity()
        for c in levers.columns(m.provision_types):
            extra[first:, c] += float(m.effect["places"])
