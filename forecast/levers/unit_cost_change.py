"""unit_cost_change: a one-off change in unit cost (e.g. a banding review)."""

from __future__ import annotations

from .base import Lever, Number, register, schema


@register
class UnitCostChange(Lever):
    name = "unit_cost_change"
    description = (
        "Unit cost in the provision types changes once by `percent` % in the start "
        "year (e.g. a banding review: -5)."
    )
    # a cut of more than half is no banding review: -100 priced a type's places at £0 (the
    # children still placed there, their whole cost counted as a saving: a £38.7m deficit read
    # as a £9.2m surplus, every check passed); moving children is shift_placements
    effect = schema(percent=Number(-50, 100, percent=True))
    spend_rises_with = "percent"
    once = True
    compounds = "percent"

    def apply(self, m, first, levers):
        cols = levers.columns(m.provision_types)
        levers.costs.level[first, cols] *= 1 + float(m.effect["percent"]) / 100
