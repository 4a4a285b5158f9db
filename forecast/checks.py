"""The forecast's own checks: its figures tie, as a Schools' Forum reading two tables expects.

Each takes the forecast tables (forecast.store.forecast_tables) and returns a GateResult; the
Dagster layer runs them as blocking checks on the forecast assets, so a forecast whose figures do
not add up never reaches the report or the serving file. They hold because every point figure is
`_central`, the mean of the simulated paths (medians do not add up).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from checks.gates import GateResult
from warehouse.councils import with_la_code

from .model import ACTUAL, DRIVERS
from .years import fy_start

PENNY = 0.01


def _close(a, b) -> np.ndarray:
    """Equal to the penny (and to floating-point precision on large sums)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.abs(a - b) <= PENNY + 1e-9 * np.maximum(np.abs(a), np.abs(b))


def _result(
    name: str, facts: pd.DataFrame, ok: np.ndarray, describe: Callable[[pd.Series], str]
) -> GateResult:
    failures = [
        describe(row) for (_, row), good in zip(facts.iterrows(), ok, strict=False) if not good
    ]
    return GateResult(name, not failures, facts.reset_index(drop=True), failures)


def position_spend_is_sum_of_provisions(tables: dict[str, pd.DataFrame]) -> GateResult:
    spend = (
        tables["spend"]
        .groupby(["scenario", "financial_year"])["spend_gbp_central"]
        .sum()
        .rename("sum_of_provisions_gbp")
    )
    position = tables["hnb_position"].set_index(["scenario", "financial_year"])["spend_gbp_central"]
    facts = pd.concat([position, spend], axis=1, join="inner").reset_index()
    return _result(
        "position_spend_is_sum_of_provisions",
        facts,
        _close(facts["spend_gbp_central"], facts["sum_of_provisions_gbp"]),
        lambda r: (
            f"{r.scenario} {r.financial_year}: position spend {r.spend_gbp_central:,.2f} ≠ "
            f"sum of provision types {r.sum_of_provisions_gbp:,.2f}"
        ),
    )


def in_year_balance_is_funding_less_spend(tables: dict[str, pd.DataFrame]) -> GateResult:
    facts = tables["hnb_position"][
        [
            "scenario",
            "financial_year",
            "funding_gbp",
            "spend_gbp_central",
            "in_year_balance_gbp_central",
        ]
    ]
    return _result(
        "in_year_balance_is_funding_less_spend",
        facts,
        _close(
            facts["in_year_balance_gbp_central"], facts["funding_gbp"] - facts["spend_gbp_central"]
        ),
        lambda r: (
            f"{r.scenario} {r.financial_year}: in-year balance "
            f"{r.in_year_balance_gbp_central:,.2f} ≠ funding − spend "
            f"{r.funding_gbp - r.spend_gbp_central:,.2f}"
        ),
    )


def cumulative_balance_rolls_forward(tables: dict[str, pd.DataFrame]) -> GateResult:
    """Each year's cumulative balance = last year's + this year's in-year balance, starting from
    the balance brought forward (forecast.assumptions), which closes the year before each
    scenario's first: no year between them left out, none counted twice."""
    assumptions = tables["assumptions"]
    row = assumptions.loc[assumptions["assumption"] == "balance_brought_forward"].iloc[0]
    brought, brought_year = float(row["value"]), str(row["financial_year"])
    facts = (
        tables["hnb_position"]
        .sort_values(["scenario", "financial_year"])[
            [
                "scenario",
                "financial_year",
                "in_year_balance_gbp_central",
                "cumulative_balance_gbp_central",
            ]
        ]
        .copy()
    )
    facts["rolled_forward_gbp"] = (
        brought + facts.groupby("scenario")["in_year_balance_gbp_central"].cumsum()
    )
    facts["brought_forward_year"] = brought_year
    first = facts.groupby("scenario")["financial_year"].transform("min")
    facts["follows_brought_forward"] = first.map(fy_start) == fy_start(brought_year) + 1
    return _result(
        "cumulative_balance_rolls_forward",
        facts,
        _close(facts["cumulative_balance_gbp_central"], facts["rolled_forward_gbp"])
        & facts["follows_brought_forward"],
        lambda r: (
            f"{r.scenario} {r.financial_year}: cumulative balance "
            f"{r.cumulative_balance_gbp_central:,.2f} ≠ brought forward + in-year balances "
            f"{r.rolled_forward_gbp:,.2f}"
            if r.follows_brought_forward
            else f"{r.scenario}: the balance is brought forward from the end of "
            f"{r.brought_forward_year}, not from the year before its first forecast year"
        ),
    )


def mitigation_effects_accumulate(tables: dict[str, pd.DataFrame]) -> GateResult:
    facts = (
        tables["mitigations"]
        .sort_values(["mitigation", "financial_year"])[
            [
                "mitigation",
                "financial_year",
                "in_year_balance_effect_gbp",
                "cumulative_balance_effect_gbp",
            ]
        ]
        .copy()
    )
    # (a mitigations file with no entries gives no rows, and pandas no number type to sum)
    facts["running_sum_gbp"] = (
        facts["in_year_balance_effect_gbp"].astype(float).groupby(facts["mitigation"]).cumsum()
    )
    return _result(
        "mitigation_effects_accumulate",
        facts,
        _close(facts["cumulative_balance_effect_gbp"], facts["running_sum_gbp"]),
        lambda r: (
            f"{r.mitigation} {r.financial_year}: cumulative effect "
            f"{r.cumulative_balance_effect_gbp:,.2f} ≠ "
            f"running sum of in-year effects {r.running_sum_gbp:,.2f}"
        ),
    )


def drivers_add_up(tables: dict[str, pd.DataFrame]) -> GateResult:
    """The drivers add to each year's total, and in each scenario the total is the change in spend
    from the year before (forecast years after the first: the first is measured from the last
    actual year's placements)."""
    wide = tables["drivers"].pivot_table(
        index=["scenario", "financial_year"],
        columns="driver",
        values="spend_change_gbp",
        aggfunc="sum",
    )
    facts = pd.DataFrame(
        {"drivers_gbp": wide[list(DRIVERS)].sum(axis=1), "total_gbp": wide["total"]}
    )
    spend = (
        tables["hnb_position"]
        .sort_values("financial_year")
        .set_index(["scenario", "financial_year"])["spend_gbp_central"]
    )
    change = spend.groupby(level="scenario").diff().rename("spend_change_gbp")
    facts = facts.join(change, how="left").reset_index()
    forecast = facts["scenario"] != ACTUAL
    has_change = forecast & facts["spend_change_gbp"].notna()
    ok = _close(facts["drivers_gbp"], facts["total_gbp"]) & (
        ~has_change | _close(facts["total_gbp"], facts["spend_change_gbp"])
    )
    return _result(
        "drivers_add_up",
        facts,
        ok,
        lambda r: (
            f"{r.scenario} {r.financial_year}: drivers {r.drivers_gbp:,.2f}, "
            f"total {r.total_gbp:,.2f}, change in spend {r.spend_change_gbp:,.2f}"
        ),
    )


def unreached_provisions_identical(
    tables: dict[str, pd.DataFrame], unreached: list[str]
) -> GateResult:
    """Scenarios share their random draws: a provision type no mitigation reaches has the same
    spend, to the penny, mitigated and unmitigated."""
    spend = tables["spend"][tables["spend"]["provision_type"].isin(unreached)]
    wide = spend.pivot_table(
        index=["financial_year", "provision_type"],
        columns="scenario",
        values="spend_gbp_central",
        aggfunc="sum",
    )
    facts = wide.reindex(columns=["unmitigated", "mitigated"]).reset_index()
    return _result(
        "unreached_provisions_identical",
        facts,
        _close(facts["unmitigated"], facts["mitigated"]),
        lambda r: (
            f"{r.provision_type} {r.financial_year}: no mitigation reaches it, yet spend is "
            f"{r.unmitigated:,.2f} unmitigated and {r.mitigated:,.2f} mitigated"
        ),
    )


TABLE_CHECKS: dict[str, tuple[str, Callable[[dict[str, pd.DataFrame]], GateResult]]] = {
    # check name → (the forecast table it guards, the check)
    "position_spend_is_sum_of_provisions": ("hnb_position", position_spend_is_sum_of_provisions),
    "in_year_balance_is_funding_less_spend": (
        "hnb_position",
        in_year_balance_is_funding_less_spend,
    ),
    "cumulative_balance_rolls_forward": ("hnb_position", cumulative_balance_rolls_forward),
    "mitigation_effects_accumulate": ("mitigations", mitigation_effects_accumulate),
    "drivers_add_up": ("drivers", drivers_add_up),
}
CHECK_DESCRIPTIONS = {
    "position_spend_is_sum_of_provisions": (
        "Each scenario and year: high needs spend (central) = the sum of the provision "
        "types' spend and central spend."
    ),
    "in_year_balance_is_funding_less_spend": (
        "Each scenario and year: in-year balance = funding − spend (central figures)."
    ),
    "cumulative_balance_rolls_forward": (
        "Each scenario: the cumulative balance = the balance brought forward + the "
        "running sum of in-year balances."
    ),
    "mitigation_effects_accumulate": (
        "Each mitigation: its effect on the cumulative balance = "
        "the running sum of its in-year effects."
    ),
    "drivers_add_up": (
        "Each scenario and year: the drivers add to the total, and the total is the change in "
        "spend from the year before."
    ),
    "unreached_provisions_identical": (
        "A provision type no mitigation reaches has the same spend mitigated and unmitigated "
        "(scenarios share their random draws)."
    ),
}


def run_checks(
    tables: dict[str, pd.DataFrame], unreached: list[str]
) -> dict[str, tuple[str, GateResult]]:
    """Check name → (table it guards, result), every check."""
    results = {name: (table, check(tables)) for name, (table, check) in TABLE_CHECKS.items()}
    results["unreached_provisions_identical"] = (
        "spend",
        unreached_provisions_identical(tables, unreached),
    )
    return results


def combine_results(
    councils: dict[str, dict[str, tuple[str, GateResult]]],
) -> dict[str, tuple[str, GateResult]]:
    """Each check over every council (run_checks per council): passed when it passed for each,
    its facts every council's (la_code first), its failures named by council."""
    first = next(iter(councils.values()))
    combined = {}
    for name, (table, _) in first.items():
        results = {code: checks[name][1] for code, checks in councils.items()}
        combined[name] = (
            table,
            GateResult(
                name=next(iter(results.values())).name,
                passed=all(r.passed for r in results.values()),
                facts=pd.concat(
                    [with_la_code(r.facts, code) for code, r in results.items()],
                    ignore_index=True,
                ),
                failures=[
                    f"{code}: {f}" if len(results) > 1 else f
                    for code, r in results.items()
                    for f in r.failures
                ],
            ),
        )
    return combined
