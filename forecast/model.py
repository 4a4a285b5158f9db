"""The forecast: caseload (forecast.cohort) × unit cost (forecast.costs), unmitigated and
mitigated, with each mitigation's own effect, the drivers of spend, and the gap to balance.

Scenarios share their random numbers: the same seed gives every scenario the same parameter
draws and the same starting point, so a mitigation's effect is its lever, not noise. p10 / p50 /
p90 are quantiles over paths of each quantity separately (the p50s of the provision types need
not add up to the p50 of the total).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import cohort
from .costs import CostLevers, CostModel, estimate_costs, no_levers, simulate_costs
from .history import History, caseload_by_census
from .mitigations import Mitigation
from .settings import ForecastSettings, read_population
from .years import census_year_of_fy, fy_of_census_year, fy_start

UNMITIGATED = "unmitigated"
MITIGATED = "mitigated"
ACTUAL = "actual"
DRIVERS = ("joining", "staying_longer", "placement_mix", "unit_cost", "central")


class ForecastInputError(ValueError):
    """The history is too short or inconsistent to forecast from; the message says what is missing."""


@dataclass
class ScenarioRun:
    census_years: list[int]
    financial_years: list[str]
    plans: np.ndarray  # (paths, years, P) summed over ages
    plans_by_age: np.ndarray  # (paths, years, A, P)
    joiners: np.ndarray  # (paths, years)
    leavers: np.ndarray  # (paths, years)
    unit_cost: np.ndarray  # (paths, years, P)
    spend: np.ndarray  # (paths, years, P)
    central: np.ndarray  # (paths, years)
    funding: np.ndarray  # (paths, years)
    cumulative_balance: np.ndarray  # (paths, years)

    @property
    def total_spend(self) -> np.ndarray:
        return self.spend.sum(axis=2) + self.central


@dataclass
class Forecast:
    caseload: pd.DataFrame
    spend: pd.DataFrame
    hnb_position: pd.DataFrame
    mitigations: pd.DataFrame
    gap_to_balance: pd.DataFrame
    drivers: pd.DataFrame
    assumptions: pd.DataFrame
    cohort_model: cohort.CohortModel
    cost_model: CostModel
    runs: dict[str, ScenarioRun]


def prepare(history: History, settings: ForecastSettings) -> tuple[cohort.CohortModel, CostModel]:
    """Estimate the caseload and cost models from history."""
    population = read_population(settings.population_file) if settings.population_file else None
    try:
        model = cohort.estimate(
            history.transitions, history.provision_types, settings.cohort, population=population,
            prevalence_ceiling=settings.prevalence_ceiling, capacity=settings.capacity, overflow=settings.overflow,
        )
    except cohort.CohortInputError as error:
        raise ForecastInputError(str(error)) from error
    caseload = caseload_by_census(history)
    try:
        costs = estimate_costs(history, caseload, settings.costs, settings.horizon)
    except ValueError as error:
        raise ForecastInputError(str(error)) from error
    last_complete_census = census_year_of_fy(costs.base_fy)
    if last_complete_census != model.base_year:
        model.notes.append(
            f"the caseload starts from January {model.base_year}, the costs from {costs.base_fy} "
            f"(census {last_complete_census}): forecast years follow the caseload"
        )
    return model, costs


def run_scenario(model: cohort.CohortModel, costs: CostModel, settings: ForecastSettings,
                 mitigations: list[Mitigation]) -> ScenarioRun:
    years = census_year_of_fy(settings.horizon) - model.base_year
    if years < 1:
        raise ForecastInputError(f"the horizon {settings.horizon} is not after the last census (January {model.base_year})")
    census_years = list(range(model.base_year + 1, model.base_year + years + 1))
    financial_years = [fy_of_census_year(y) for y in census_years]
    missing = [fy for fy in financial_years if fy not in costs.funding]
    if missing:
        raise ForecastInputError(f"no funding projected for {', '.join(missing)}")
    caseload_levers, cost_levers = resolve_levers(mitigations, model, years)
    paths = cohort.simulate(model, years, settings.simulations, settings.seed, caseload_levers)
    money = simulate_costs(costs, financial_years, settings.simulations, settings.seed, cost_levers)
    plans = paths.plans.sum(axis=2).astype(float)
    spend = plans * costs.fte_per_plan * money.unit_cost
    total = spend.sum(axis=2) + money.central
    cumulative = costs.base_cumulative_balance + np.cumsum(money.funding - total, axis=1)
    return ScenarioRun(
        census_years, financial_years, plans, paths.plans, paths.joiners.sum(axis=(2, 3)).astype(float),
        paths.leavers.sum(axis=(2, 3)).astype(float), money.unit_cost, spend, money.central, money.funding, cumulative,
    )


def resolve_levers(mitigations: list[Mitigation], model: cohort.CohortModel, years: int) -> tuple[cohort.Mitigations, CostLevers]:
    """Turn mitigation entries into the arrays the caseload and cost simulations apply."""
    index = {p: i for i, p in enumerate(model.provisions)}
    A, P = model.base.shape
    caseload = cohort.Mitigations()
    costs = no_levers(years, P)
    for m in mitigations:
        first = fy_start(m.start_year) - model.base_year  # the census in FY s is January s + 1
        if first >= years:
            continue
        first = max(first, 0)
        cols = [index[t] for t in m.provision_types]
        effect = m.effect
        if m.lever == "reduce_new_plans":
            if caseload.joiner_factor is None:
                caseload.joiner_factor = np.ones((years, A, P))
            low, high = effect.get("ages", [0, cohort.MAX_AGE])
            for c in cols:
                caseload.joiner_factor[first:, low:high + 1, c] *= 1 - float(effect["percent"]) / 100
        elif m.lever == "shift_placements":
            flows = effect.get("flows", "both")
            shift = (first, cols, index[effect["to"]], float(effect["share"]))
            if flows in ("new", "both"):
                caseload.joiner_shift.append(shift)
            if flows in ("moving", "both"):
                caseload.move_shift.append(shift)
        elif m.lever == "stop_flow":
            low, high = effect["ages"]
            caseload.stop_flows.append((first, cols, index[effect["to"]], (low, high), float(effect.get("share", 1.0))))
        elif m.lever == "add_capacity":
            if model.capacity is None:
                model.notes.append(f"{m.name}: add_capacity has no effect without capacity: in the forecast settings")
                continue
            if caseload.extra_capacity is None:
                caseload.extra_capacity = np.zeros((years, P))
            for c in cols:
                caseload.extra_capacity[first:, c] += float(effect["places"])
        elif m.lever == "unit_cost_growth":
            costs.growth[first:, cols] += float(effect["percentage_points"]) / 100
        elif m.lever == "unit_cost_change":
            costs.level[first, cols] *= 1 + float(effect["percent"]) / 100
        elif m.lever == "central_spend_change":
            costs.central_level[first] *= 1 + float(effect["percent"]) / 100
        elif m.lever == "funding_change":
            costs.funding[first:] += float(effect["amount_gbp"])
    return caseload, costs


def run_forecast(history: History, mitigations: list[Mitigation], settings: ForecastSettings) -> Forecast:
    model, costs = prepare(history, settings)
    runs = {
        UNMITIGATED: run_scenario(model, costs, settings, []),
        MITIGATED: run_scenario(model, costs, settings, mitigations),
    }
    return Forecast(
        caseload=_caseload_table(runs, model, settings),
        spend=_spend_table(runs, model, settings),
        hnb_position=_position_table(runs, costs, settings),
        mitigations=_mitigation_effects(model, costs, settings, runs[UNMITIGATED], mitigations),
        gap_to_balance=_gap_to_balance(runs[MITIGATED], costs, settings),
        drivers=drivers_table(history, runs, costs),
        assumptions=_assumptions(model, costs, settings),
        cohort_model=model,
        cost_model=costs,
        runs=runs,
    )


def _quantiles(values: np.ndarray, settings: ForecastSettings) -> np.ndarray:
    return np.quantile(values, settings.quantiles, axis=0)


def _caseload_table(runs: dict[str, ScenarioRun], model: cohort.CohortModel, settings: ForecastSettings) -> pd.DataFrame:
    rows = []
    for name, run in runs.items():
        q = _quantiles(run.plans, settings)
        total = _quantiles(run.plans.sum(axis=2), settings)
        for y, year in enumerate(run.census_years):
            for p, provision in enumerate(model.provisions):
                rows.append((name, year, provision, *q[:, y, p]))
            rows.append((name, year, "total", *total[:, y]))
    return pd.DataFrame(rows, columns=["scenario", "year", "provision_type", "plans_p10", "plans_p50", "plans_p90"])


def _spend_table(runs: dict[str, ScenarioRun], model: cohort.CohortModel, settings: ForecastSettings) -> pd.DataFrame:
    rows = []
    for name, run in runs.items():
        q = _quantiles(run.spend, settings)
        central = _quantiles(run.central, settings)
        cost = np.median(run.unit_cost, axis=0)
        for y, fy in enumerate(run.financial_years):
            for p, provision in enumerate(model.provisions):
                rows.append((name, fy, provision, cost[y, p], *q[:, y, p]))
            rows.append((name, fy, "central", np.nan, *central[:, y]))
    return pd.DataFrame(
        rows, columns=["scenario", "financial_year", "provision_type", "unit_cost_gbp", "spend_gbp_p10", "spend_gbp_p50", "spend_gbp_p90"]
    )


def _position_table(runs: dict[str, ScenarioRun], costs: CostModel, settings: ForecastSettings) -> pd.DataFrame:
    rows = []
    for name, run in runs.items():
        spend = _quantiles(run.total_spend, settings)
        in_year = _quantiles(run.funding - run.total_spend, settings)
        balance = _quantiles(run.cumulative_balance, settings)
        for y, fy in enumerate(run.financial_years):
            rows.append((name, fy, float(np.median(run.funding[:, y])), *spend[:, y], *in_year[:, y], *balance[:, y],
                         costs.funding_source[fy]))
    return pd.DataFrame(rows, columns=[
        "scenario", "financial_year", "funding_gbp", "spend_gbp_p10", "spend_gbp_p50", "spend_gbp_p90",
        "in_year_balance_gbp_p10", "in_year_balance_gbp_p50", "in_year_balance_gbp_p90",
        "cumulative_balance_gbp_p10", "cumulative_balance_gbp_p50", "cumulative_balance_gbp_p90", "funding_source",
    ])


def _mitigation_effects(model: cohort.CohortModel, costs: CostModel, settings: ForecastSettings, unmitigated: ScenarioRun,
                        mitigations: list[Mitigation]) -> pd.DataFrame:
    """Each mitigation alone against the unmitigated scenario, on the same paths (median of the
    path-by-path differences)."""
    rows = []
    for m in mitigations:
        alone = run_scenario(model, costs, settings, [m])
        plans = np.median(alone.plans.sum(axis=2) - unmitigated.plans.sum(axis=2), axis=0)
        spend = np.median(alone.total_spend - unmitigated.total_spend, axis=0)
        funding = np.median(alone.funding - unmitigated.funding, axis=0)
        balance = np.median(alone.cumulative_balance - unmitigated.cumulative_balance, axis=0)
        for y, fy in enumerate(alone.financial_years):
            rows.append((m.name, m.line_of_enquiry, m.lever, m.status, ", ".join(m.provision_types), m.start_year, fy,
                         plans[y], spend[y], funding[y], funding[y] - spend[y], balance[y]))
    return pd.DataFrame(rows, columns=[
        "mitigation", "line_of_enquiry", "lever", "status", "provision_types", "start_year", "financial_year",
        "plans_effect", "spend_effect_gbp", "funding_effect_gbp", "in_year_saving_gbp", "cumulative_balance_effect_gbp",
    ])


def _gap_to_balance(run: ScenarioRun, costs: CostModel, settings: ForecastSettings) -> pd.DataFrame:
    """After mitigations (median path): the saving still needed each year to balance in-year, and
    the even yearly saving from the first forecast year that clears the cumulative deficit by the
    target year."""
    total = np.median(run.total_spend, axis=0)
    funding = np.median(run.funding, axis=0)
    in_year = funding - total
    cumulative = costs.base_cumulative_balance + np.cumsum(in_year)
    target = fy_start(settings.recover_by)
    upto = [y for y, fy in enumerate(run.financial_years) if fy_start(fy) <= target]
    at_target = cumulative[upto[-1]] if upto else np.nan
    per_year = max(0.0, -at_target) / len(upto) if upto else np.nan
    rows = [
        (fy, funding[y], total[y], in_year[y], cumulative[y], max(0.0, -in_year[y]),
         per_year if y in upto else np.nan, settings.recover_by)
        for y, fy in enumerate(run.financial_years)
    ]
    return pd.DataFrame(rows, columns=[
        "financial_year", "funding_gbp", "spend_gbp", "in_year_balance_gbp", "cumulative_balance_gbp",
        "saving_to_balance_in_year_gbp", "saving_per_year_to_recover_by_target_gbp", "recover_by",
    ])


def drivers_table(history: History, runs: dict[str, ScenarioRun], costs: CostModel) -> pd.DataFrame:
    """Each year's change in spend split into its drivers (they add up to the change):

    * joining — more (or fewer) children than usual leaving would balance: (joiners − the leavers
      last year's leave rate would give) × last year's average cost per plan;
    * staying_longer — fewer (or more) leaving than last year's rate would give, × that cost;
    * placement_mix — the shift of plans between provision types, at last year's costs;
    * unit_cost — the change in cost per plan of each provision type, on this year's plans;
    * central — the change in spend tied to no placement.
    Cost per plan = spend ÷ January plans of the provision type (FTE per plan × unit cost).
    """
    caseload = caseload_by_census(history)
    spend = history.spend[history.spend["is_complete_year"]].pivot_table(
        index="financial_year", columns="provision_type", values="spend_gbp", aggfunc="sum")
    moves = history.transitions.groupby(["year", "provision_from", "provision_to"])["children"].sum().reset_index()
    joiners = moves[moves["provision_from"] == cohort.JOINED].groupby("year")["children"].sum()
    leavers = moves[moves["provision_to"] == cohort.LEFT].groupby("year")["children"].sum()
    provisions = history.provision_types
    series = []  # (scenario, fy, plans (P,), cost per plan (P,), central, joiners, leavers)
    for year in caseload.index:
        fy = fy_of_census_year(int(year))
        if fy not in spend.index:
            continue
        plans = caseload.loc[year, provisions].to_numpy(dtype=float)
        money = spend.loc[fy].reindex(provisions).fillna(0).to_numpy(dtype=float)
        per_plan = np.divide(money, plans, out=np.zeros_like(money), where=plans > 0)
        series.append((ACTUAL, fy, plans, per_plan, float(spend.loc[fy].get("central", 0.0) or 0.0),
                       float(joiners.get(year, np.nan)), float(leavers.get(year, np.nan))))
    rows = _driver_rows(series)
    base = [s for s in series if s[1] == costs.base_fy]
    for name, run in runs.items():
        mean_plans = run.plans.mean(axis=0)
        per_plan = run.spend.mean(axis=0) / np.maximum(mean_plans, 1e-9)
        forecast = [
            (name, fy, mean_plans[y], per_plan[y], float(run.central[:, y].mean()), float(run.joiners[:, y].mean()),
             float(run.leavers[:, y].mean()))
            for y, fy in enumerate(run.financial_years)
        ]
        rows += _driver_rows(base + forecast)
    frame = pd.DataFrame(rows, columns=["scenario", "financial_year", "driver", "spend_change_gbp"])
    return frame


def _driver_rows(series: list[tuple]) -> list[tuple]:
    rows = []
    for previous, current in zip(series, series[1:]):
        _, _, plans0, cost0, central0, _, leavers0 = previous
        scenario, fy, plans1, cost1, central1, joiners1, leavers1 = current
        total0, total1 = plans0.sum(), plans1.sum()
        average0 = float((plans0 * cost0).sum() / total0) if total0 else 0.0
        share0 = plans0 / total0 if total0 else plans0
        share1 = plans1 / total1 if total1 else plans1
        change = total1 - total0
        # leavers expected at last year's leave rate (the earlier pair's leavers ÷ its caseload)
        rate = leavers0 / total0 if total0 and np.isfinite(leavers0) else np.nan
        expected_leavers = rate * total0 if np.isfinite(rate) else np.nan
        if np.isfinite(expected_leavers) and np.isfinite(leavers1):
            staying = (expected_leavers - leavers1) * average0
        else:
            staying = 0.0
        joining = change * average0 - staying
        values = {
            "joining": joining,
            "staying_longer": staying,
            "placement_mix": float(total1 * ((share1 - share0) * cost0).sum()),
            "unit_cost": float((plans1 * (cost1 - cost0)).sum()),
            "central": central1 - central0,
        }
        values["total"] = sum(values.values())
        rows += [(scenario, fy, driver, value) for driver, value in values.items()]
    return rows


def _assumptions(model: cohort.CohortModel, costs: CostModel, settings: ForecastSettings) -> pd.DataFrame:
    leave = model.leave_rate
    weights = np.maximum(model.base, 1e-9)
    rows = []
    for p, provision in enumerate(model.provisions):
        stay = model.move_rate[:, p, p]
        rows.append((provision, float(model.base[:, p].sum()),
                     float((leave[:, p] * weights[:, p]).sum() / weights[:, p].sum()),
                     float((stay * weights[:, p]).sum() / weights[:, p].sum()),
                     float(model.joiner_share[:, p].sum()), float(costs.fte_per_plan[p]), float(costs.unit_cost[p]),
                     float(costs.real_growth[p]), float(costs.real_growth[p] + costs.inflation)))
    rows.append(("central", np.nan, np.nan, np.nan, np.nan, np.nan, costs.central, costs.central_real_growth,
                 costs.central_real_growth + costs.inflation))
    frame = pd.DataFrame(rows, columns=[
        "provision_type", "base_plans", "leave_rate", "stay_in_provision_rate", "share_of_joiners", "fte_per_plan",
        "base_unit_cost_gbp", "unit_cost_real_growth", "unit_cost_nominal_growth",
    ])
    frame.insert(0, "base_census_year", model.base_year)
    frame.insert(1, "base_financial_year", costs.base_fy)
    frame["joiners_trend_per_year"] = float(np.exp(model.joiner_slope) - 1)
    frame["joiners_per_head"] = model.population is not None
    frame["simulations"] = settings.simulations
    return frame
