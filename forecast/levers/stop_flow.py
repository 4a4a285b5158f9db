"""stop_flow: children at given ages no longer move from one provision type to another."""

from __future__ import annotations

from .base import Ages, Lever, Number, ProvisionType, register, schema


@register
class StopFlow(Lever):
    name = "stop_flow"
    description = (
        "Moves from the provision types to `to` by children aged `ages: [low, high]` "
        "(age on the earlier census) stop, by `share` (default 1): those children stay "
        "where they were."
    )
    effect = schema(
        to=ProvisionType(),
        ages=Ages(),
        share=Number(0, 1, required=False, default=1.0),
    )
    moves_caseload = True
    moves_between_types = True

    def apply(self, m, first, levers):
        low, high = m.effect["ages"]
        levers.caseload.stop_flows.append(
            (
                first,
                levers.columns(m.provision_types),
                levers.column(m.effect["to"]),
                (low, high),
                float(self.value(m.effect, "share")),
            )
        )
