"""reduce_new_plans: fewer new plans (early support and inclusion)."""

from __future__ import annotations

from ..cohort import MAX_AGE
from .base import Ages, Lever, Number, register, schema


@register
class ReduceNewPlans(Lever):
    name = "reduce_new_plans"
    description = (
        "New plans in the provision types fall by `percent` % from the start year "
        "(optionally only at `ages: [low, high]`)."
    )
    effect = schema(
        percent=Number(-100, 100, percent=True), ages=Ages(required=False, default=(0, MAX_AGE))
    )
    moves_caseload = True
    spend_falls_with = "percent"

    def apply(self, m, first, levers):
        factor = levers.joiner_factor()
        low, high = self.value(m.effect, "ages")
        for c in levers.columns(m.provision_types):
            factor[first:, low : high + 1, c] *= 1 - float(m.effect["percent"]) / 100
