"""unit_cost_growth: unit costs grow faster or slower each year (fees, banding, commissioning)."""

from __future__ import annotations

from .base import Lever, Number, register, schema


@register
class UnitCostGrowth(Lever):
    name = "unit_cost_growth"
    description = "Yearly unit-cost growth in the provision types changes by `percentage_points`."
    effect = schema(percentage_points=Number(-50, 50, points=True))
    spend_rises_with = "percentage_points"
    # three entries of -50 points each on one type had its unit cost shrink by 150 % a year:
    # negative unit costs and spend, the mitigated balance £64m better, on a green run
    adds_up = "percentage_points"

    def apply(self, m, first, levers):
        cols = levers.columns(m.provision_types)
        levers.costs.growth[first:, cols] += float(m.effect["percentage_points"]) / 100
