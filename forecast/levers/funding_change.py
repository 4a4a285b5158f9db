"""funding_change: more (or less) funding a year: a block transfer, a health or care share."""

from __future__ import annotations

from .base import Lever, Number, register, schema


@register
class FundingChange(Lever):
    name = "funding_change"
    description = (
        "Funding changes by `amount_gbp` a year from the start year (block transfer, "
        "health or social care contribution)."
    )
    effect = schema(amount_gbp=Number())
    needs_provision_types = False
    income = True

    def apply(self, m, first, levers):
        levers.costs.funding[first:] += float(m.effect["amount_gbp"])
