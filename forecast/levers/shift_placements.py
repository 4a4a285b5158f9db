"""shift_placements: children placed in one provision type go to another instead."""

from __future__ import annotations

from .base import Choice, Lever, Number, ProvisionType, register, schema


@register
class ShiftPlacements(Lever):
    name = "shift_placements"
    description = (
        "A `share` (0–1) of the children who would be placed in the provision types go "
        "to `to` instead: `flows: new` (new plans), `moving` (children moving in from "
        "other provision types) or `both` (default)."
    )
    effect = schema(
        to=ProvisionType(),
        share=Number(0, 1),
        flows=Choice(("new", "moving", "both"), default="both"),
    )
    moves_caseload = True
    moves_between_types = True

    def apply(self, m, first, levers):
        flows = self.value(m.effect, "flows")
        shift = (
            first,
            levers.columns(m.provision_types),
            levers.column(m.effect["to"]),
            float(m.effect["share"]),
        )
        if flows in ("new", "both"):
            levers.caseload.joiner_shift.append(shift)
        if flows in ("moving", "both"):
            levers.caseload.move_shift.append(shift)
