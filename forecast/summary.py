"""A short plain-English summary of a forecast, for the Dagster UI and the refresh summary."""

from __future__ import annotations

from .mitigations import balance_caveats
from .model import MITIGATED, UNMITIGATED, Forecast


def money(value: float) -> str:
    sign = "-" if value < 0 else ""
    return f"{sign}£{abs(value) / 1e6:,.1f}m"


def summary_markdown(forecast: Forecast, horizon: str) -> str:
    caseload = forecast.caseload[(forecast.caseload["provision_type"] == "total")]
    position = forecast.hnb_position.set_index(["scenario", "financial_year"])
    last_year = caseload["year"].max()
    lines = [
        (
            f"**Forecast to {horizon}** (January {last_year} caseload; "
            "central (mean of the paths) with p10–p90)"
        ),
        "",
    ]
    for scenario in (UNMITIGATED, MITIGATED):
        plans = caseload[(caseload["scenario"] == scenario) & (caseload["year"] == last_year)].iloc[
            0
        ]
        row = position.loc[(scenario, horizon)]
        lines.append(
            f"- {scenario}: {plans['plans_central']:,.0f} plans "
            f"({plans['plans_p10']:,.0f}–{plans['plans_p90']:,.0f}); "
            f"spend {money(row['spend_gbp_central'])} in {horizon}; cumulative balance "
            f"{money(row['cumulative_balance_gbp_central'])} "
            f"({money(row['cumulative_balance_gbp_p10'])} to "
            f"{money(row['cumulative_balance_gbp_p90'])})"
        )
    drivers = forecast.drivers[
        (forecast.drivers["scenario"] == UNMITIGATED) & (forecast.drivers["driver"] != "total")
    ]
    if not drivers.empty:
        first = drivers["financial_year"].min()
        parts = drivers[drivers["financial_year"] == first].set_index("driver")["spend_change_gbp"]
        lines += [
            "",
            f"Change in spend in {first}, by driver: "
            + ", ".join(f"{d.replace('_', ' ')} {money(v)}" for d, v in parts.items()),
        ]
    if not forecast.mitigations.empty:
        effect = forecast.mitigations[forecast.mitigations["financial_year"] == horizon]
        lines += ["", f"Mitigations, effect on the cumulative balance by {horizon}:"]
        lines += [
            f"- {r.mitigation} ({r.status} {r.kind}): {money(r.cumulative_balance_effect_gbp)}"
            for r in effect.itertuples()
        ]
        lines += balance_caveats(forecast.mitigations, horizon)
    return "\n".join(lines)
