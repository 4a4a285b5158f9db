"""Forecast v1: caseload × unit cost by provision type, with simulated intervals and mitigations.

The method, in the order it runs (every constant is a field of `ForecastSettings`):

1. **Caseload** per provision type, on each January census to the horizon. The log of the
   census counts over the last `trend_years` censuses is fitted with a straight line; its slope
   is the growth rate, damped by `damping` each year ahead (growth slows rather than compounding
   for ever). Provision types with fewer than `min_plans_for_own_trend` plans borrow the growth
   of the whole caseload (a handful of plans gives no trend).
2. **Uncertainty**: each of `simulations` paths draws its growth rates once (the slope's
   standard error: uncertainty that persists along the path) and then adds each year the
   residual noise of the fit, so intervals widen with the horizon. p10/p50/p90 are taken over
   paths. Paths share random numbers across scenarios, so a mitigation's effect is not noise.
3. **Unit cost** per provision type: the last complete year's unit cost, growing at its
   compound growth over the last `unit_cost_years` complete years (clipped to
   `unit_cost_growth_bounds`), drawn per path from the spread of the yearly changes.
4. **Spend** = full-time-equivalent placements × unit cost, where FTE in a financial year is the
   January census count times the provision type's recent FTE ÷ census ratio. Central spend (no
   placement) follows its own compound growth.
5. **Funding**: the budget file's lines where a future year is given, else the last year's
   funding grown at its compound growth over the last `unit_cost_years` complete years (or
   `funding_growth` when set). The cumulative balance continues from the last actual year.
6. **Mitigations** change the recursion from their start year (see `forecast.mitigations`).

This is deliberately simple and says so: it does not yet age children through phases, has no
capacity limits and takes growth from the counts' trend. The backtest (forecast.backtest)
measures how well it did on the council's own history against compound growth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .history import History
from .mitigations import Mitigation
from .years import census_year_of_fy, fy_label, fy_of_census_year, fy_start

UNMITIGATED = "unmitigated"
MITIGATED = "mitigated"


@dataclass(frozen=True)
class ForecastSettings:
    horizon: str = "2028-29"
    simulations: int = 1000
    seed: int = 20260401
    trend_years: int = 5
    damping: float = 0.9
    min_plans_for_own_trend: int = 20
    unit_cost_years: int = 3
    unit_cost_growth_bounds: tuple[float, float] = (-0.05, 0.15)
    funding_growth: float | None = None
    recover_by: str = "2028-29"
    quantiles: tuple[float, float, float] = (0.1, 0.5, 0.9)


class ForecastInputError(ValueError):
    """The history is too short or inconsistent to forecast from; the message says what is missing."""


@dataclass
class Baseline:
    """Everything estimated from history, per provision type (arrays in `provision_types` order)."""

    provision_types: list[str]
    base_census_year: int
    base_plans: np.ndarray
    growth: np.ndarray
    growth_se: np.ndarray
    growth_noise: np.ndarray
    new_plan_rate: np.ndarray
    fte_ratio: np.ndarray
    base_fy: str
    base_unit_cost: np.ndarray
    unit_cost_growth: np.ndarray
    unit_cost_growth_sd: np.ndarray
    base_central: float
    central_growth: float
    central_growth_sd: float
    funding_by_year: dict[str, float]
    funding_source: dict[str, str]
    base_cumulative_balance: float
    notes: list[str] = field(default_factory=list)


def _log_trend(years: np.ndarray, counts: np.ndarray) -> tuple[float, float, float]:
    """Slope of log(counts) on year, its standard error and the residual standard deviation."""
    mask = counts > 0
    x, y = years[mask].astype(float), np.log(counts[mask].astype(float))
    if len(x) < 3:
        raise ForecastInputError("need at least three census years with plans to fit a trend")
    slope, intercept = np.polyfit(x, y, 1)
    residuals = y - (slope * x + intercept)
    residual_sd = float(np.sqrt((residuals**2).sum() / (len(x) - 2)))
    slope_se = residual_sd / float(np.sqrt(((x - x.mean()) ** 2).sum()))
    return float(slope), slope_se, residual_sd


def _compound_growth(values: pd.Series) -> tuple[float, float]:
    """Compound growth rate across a series of yearly values, and the sd of the yearly changes."""
    values = values[values > 0]
    if len(values) < 2:
        return 0.0, 0.0
    changes = np.diff(np.log(values.to_numpy(dtype=float)))
    rate = float(np.exp(changes.mean()) - 1)
    spread = float(changes.std(ddof=1)) if len(changes) > 1 else abs(float(changes[0])) / 2
    return rate, spread


def caseload_by_census(history: History) -> pd.DataFrame:
    """Plans per census year (rows) and provision type (columns)."""
    return (
        history.caseload.pivot_table(
            index="census_year", columns="provision_type", values="plans", aggfunc="sum", fill_value=0
        )
        .reindex(columns=history.provision_types, fill_value=0)
        .sort_index()
    )


def fit_caseload_growth(
    caseload: pd.DataFrame, settings: ForecastSettings
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Log-linear growth per provision type over the last `trend_years` censuses.

    Returns the growth rates (log scale), their standard errors, the residual noise, and notes
    on provision types that borrowed the whole caseload's trend for want of plans.
    """
    window = caseload.tail(settings.trend_years)
    years = window.index.to_numpy()
    total_slope, total_se, total_noise = _log_trend(years, window.sum(axis=1).to_numpy())
    notes: list[str] = []
    growth, growth_se, growth_noise = [], [], []
    for provision in caseload.columns:
        counts = window[provision].to_numpy()
        if counts[-1] >= settings.min_plans_for_own_trend and (counts > 0).sum() >= 3:
            slope, se, noise = _log_trend(years, counts)
        else:
            slope, se, noise = total_slope, total_se, total_noise
            if counts[-1] > 0:
                notes.append(f"{provision}: {counts[-1]} plans, too few for its own trend; uses the total's")
        growth.append(slope)
        growth_se.append(se)
        growth_noise.append(noise)
    return np.array(growth), np.array(growth_se), np.array(growth_noise), notes


def damped_growth_factor(growth: np.ndarray, damping: float, horizon: int) -> np.ndarray:
    """exp(growth × (φ + φ² + … + φ^h)): the damped trend's growth over `horizon` years."""
    return np.exp(growth * sum(damping**i for i in range(1, horizon + 1)))


def estimate_baseline(history: History, settings: ForecastSettings) -> Baseline:
    types = history.provision_types
    caseload = caseload_by_census(history)
    if len(caseload) < 3:
        raise ForecastInputError(
            f"the warehouse holds {len(caseload)} January census(es); the forecast needs at least 3"
        )
    growth, growth_se, growth_noise, notes = fit_caseload_growth(caseload, settings)

    flows = history.flows.pivot_table(
        index="year", columns="provision_type", values="new_plans", aggfunc="sum", fill_value=0
    ).reindex(columns=types, fill_value=0)
    previous = caseload.shift(1).reindex(flows.index)
    rates = (flows / previous.where(previous > 0)).tail(3)
    new_plan_rate = rates.mean().fillna(0).clip(lower=0).to_numpy()

    spend = history.spend[history.spend["is_complete_year"]]
    complete_years = sorted(spend["financial_year"].unique())
    if not complete_years:
        raise ForecastInputError("the finance extract covers no complete financial year")
    base_fy = complete_years[-1]
    recent = complete_years[-(settings.unit_cost_years + 1):]
    spend_wide = spend.pivot_table(index="financial_year", columns="provision_type", values="spend_gbp", aggfunc="sum")
    fte_wide = spend.pivot_table(index="financial_year", columns="provision_type", values="fte_placements", aggfunc="sum")
    census_for_fy = caseload.rename(index=fy_of_census_year)
    fte_ratio, base_unit_cost, cost_growth, cost_sd = [], [], [], []
    low, high = settings.unit_cost_growth_bounds
    for provision in types:
        fte = fte_wide.get(provision, pd.Series(dtype=float)).reindex(recent[-3:])
        plans = census_for_fy.get(provision, pd.Series(dtype=float)).reindex(recent[-3:])
        ratio = (fte / plans.where(plans > 0)).dropna()
        fte_ratio.append(float(ratio.mean()) if len(ratio) else 1.0)
        unit = (
            spend_wide.get(provision, pd.Series(dtype=float)) / fte_wide.get(provision, pd.Series(dtype=float)).where(lambda s: s > 0)
        ).reindex(recent)
        base_unit_cost.append(float(unit.get(base_fy, np.nan)) if pd.notna(unit.get(base_fy, np.nan)) else 0.0)
        rate, sd = _compound_growth(unit.dropna())
        cost_growth.append(float(np.clip(rate, low, high)))
        cost_sd.append(sd)

    central = spend_wide.get("central", pd.Series(dtype=float)).reindex(recent).fillna(0)
    central_rate, central_sd = _compound_growth(central)
    central_rate = float(np.clip(central_rate, low, high))

    funding_by_year, funding_source = _funding(history, settings, complete_years)
    position = history.position.set_index("financial_year")
    base_balance = float(position.loc[base_fy, "cumulative_balance_gbp"]) if base_fy in position.index else 0.0

    base_census_year = census_year_of_fy(base_fy)
    if base_census_year not in caseload.index:
        base_census_year = int(caseload.index.max())
        notes.append(f"no census in {base_fy}; the caseload starts from January {base_census_year}")
    return Baseline(
        provision_types=types,
        base_census_year=base_census_year,
        base_plans=caseload.loc[base_census_year].to_numpy(dtype=float),
        growth=growth,
        growth_se=growth_se,
        growth_noise=growth_noise,
        new_plan_rate=new_plan_rate,
        fte_ratio=np.array(fte_ratio),
        base_fy=base_fy,
        base_unit_cost=np.array(base_unit_cost),
        unit_cost_growth=np.array(cost_growth),
        unit_cost_growth_sd=np.array(cost_sd),
        base_central=float(central.get(base_fy, 0.0)),
        central_growth=central_rate,
        central_growth_sd=central_sd,
        funding_by_year=funding_by_year,
        funding_source=funding_source,
        base_cumulative_balance=base_balance,
        notes=notes,
    )


def _funding(history: History, settings: ForecastSettings, complete_years: list[str]) -> tuple[dict[str, float], dict[str, str]]:
    """Funding per forecast year: from the budget file where given, else grown from the last year."""
    budget = history.budget
    signed = budget.assign(
        signed=np.where(budget["line"] == "place_deductions", -budget["amount_gbp"].abs(), budget["amount_gbp"])
    )
    signed = signed[signed["line"] != "balance_brought_forward"]
    given = signed.groupby("financial_year")["signed"].sum().to_dict()
    actual = history.position.set_index("financial_year")["funding_gbp"]
    recent = [fy for fy in complete_years[-(settings.unit_cost_years + 1):] if fy in actual.index]
    rate = settings.funding_growth
    if rate is None:
        rate, _ = _compound_growth(actual.reindex(recent).dropna())
    funding: dict[str, float] = {}
    source: dict[str, str] = {}
    last_value = float(actual.get(complete_years[-1], 0.0))
    for start in range(fy_start(complete_years[-1]) + 1, fy_start(settings.horizon) + 1):
        fy = fy_label(start)
        if fy in given:
            last_value = float(given[fy])
            source[fy] = "budget file"
        else:
            last_value = last_value * (1 + rate)
            source[fy] = f"grown {rate:+.1%} a year"
        funding[fy] = last_value
    return funding, source


@dataclass
class ScenarioResult:
    """Simulated paths of one scenario: arrays are (paths, years[, provision types])."""

    census_years: list[int]
    financial_years: list[str]
    plans: np.ndarray
    unit_cost: np.ndarray
    spend: np.ndarray
    central: np.ndarray
    funding: np.ndarray
    cumulative_balance: np.ndarray


@dataclass
class Draws:
    growth: np.ndarray  # (paths, types)
    noise: np.ndarray  # (paths, years, types)
    cost_growth: np.ndarray  # (paths, types)
    central_growth: np.ndarray  # (paths,)


def draw(baseline: Baseline, settings: ForecastSettings, years: int) -> Draws:
    rng = np.random.default_rng(settings.seed)
    paths, types = settings.simulations, len(baseline.provision_types)
    return Draws(
        growth=baseline.growth + baseline.growth_se * rng.standard_normal((paths, types)),
        noise=baseline.growth_noise * rng.standard_normal((paths, years, types)),
        cost_growth=baseline.unit_cost_growth + baseline.unit_cost_growth_sd * rng.standard_normal((paths, types)),
        central_growth=baseline.central_growth + baseline.central_growth_sd * rng.standard_normal(paths),
    )


def simulate(baseline: Baseline, settings: ForecastSettings, draws: Draws, mitigations: list[Mitigation]) -> ScenarioResult:
    types = baseline.provision_types
    index = {t: i for i, t in enumerate(types)}
    first_census = baseline.base_census_year + 1
    last_census = census_year_of_fy(settings.horizon)
    census_years = list(range(first_census, last_census + 1))
    financial_years = [fy_of_census_year(y) for y in census_years]
    paths = draws.growth.shape[0]

    plans = np.empty((paths, len(census_years), len(types)))
    unit_cost = np.empty_like(plans)
    central = np.empty((paths, len(census_years)))
    funding = np.array([baseline.funding_by_year[fy] for fy in financial_years], dtype=float)
    funding = np.broadcast_to(funding, (paths, len(census_years))).copy()

    current = np.broadcast_to(baseline.base_plans, (paths, len(types))).copy()
    cost = np.broadcast_to(baseline.base_unit_cost, (paths, len(types))).copy()
    central_now = np.full(paths, baseline.base_central)
    cost_growth = draws.cost_growth.copy()
    central_growth = draws.central_growth.copy()
    for step, fy in enumerate(financial_years):
        start = fy_start(fy)
        damping_factor = settings.damping ** (step + 1)
        growth_factor = np.exp(draws.growth * damping_factor + draws.noise[:, step, :])
        added = current * baseline.new_plan_rate  # plans that would join this year
        level_change = np.ones(len(types))
        nxt = current * growth_factor
        for m in mitigations:
            if start < m.start:
                continue
            cols = [index[t] for t in m.provision_types]
            if m.lever == "reduce_new_plans":
                nxt[:, cols] -= added[:, cols] * float(m.effect["percent"]) / 100
            elif m.lever == "shift_placements":
                moved = added[:, cols] * float(m.effect["share"])
                nxt[:, cols] -= moved
                nxt[:, index[m.effect["to"]]] += moved.sum(axis=1)
            elif m.lever == "unit_cost_growth" and start == m.start:
                cost_growth[:, cols] += float(m.effect["percentage_points"]) / 100
            elif m.lever == "unit_cost_change" and start == m.start:
                level_change[cols] *= 1 + float(m.effect["percent"]) / 100
            elif m.lever == "central_spend_change" and start == m.start:
                central_now *= 1 + float(m.effect["percent"]) / 100
            elif m.lever == "funding_change":
                funding[:, step] += float(m.effect["amount_gbp"])
        current = np.maximum(nxt, 0)
        cost = cost * (1 + cost_growth) * level_change
        central_now = central_now * (1 + central_growth)
        plans[:, step, :] = current
        unit_cost[:, step, :] = cost
        central[:, step] = central_now

    spend = plans * baseline.fte_ratio * unit_cost
    total_spend = spend.sum(axis=2) + central
    cumulative = baseline.base_cumulative_balance + np.cumsum(funding - total_spend, axis=1)
    return ScenarioResult(census_years, financial_years, plans, unit_cost, spend, central, funding, cumulative)


@dataclass
class Forecast:
    """The forecast tables (DESIGN.md, `forecast.*`) and what was assumed."""

    caseload: pd.DataFrame
    spend: pd.DataFrame
    hnb_position: pd.DataFrame
    mitigations: pd.DataFrame
    gap_to_balance: pd.DataFrame
    assumptions: pd.DataFrame
    baseline: Baseline


def _quantiles(values: np.ndarray, settings: ForecastSettings) -> np.ndarray:
    return np.quantile(values, settings.quantiles, axis=0)


def run_forecast(history: History, mitigations: list[Mitigation], settings: ForecastSettings) -> Forecast:
    baseline = estimate_baseline(history, settings)
    years = census_year_of_fy(settings.horizon) - baseline.base_census_year
    if years < 1:
        raise ForecastInputError(f"the horizon {settings.horizon} is not after the last actual year {baseline.base_fy}")
    draws = draw(baseline, settings, years)
    scenarios = {
        UNMITIGATED: simulate(baseline, settings, draws, []),
        MITIGATED: simulate(baseline, settings, draws, mitigations),
    }
    caseload_rows, spend_rows, position_rows = [], [], []
    for name, result in scenarios.items():
        plan_q = _quantiles(result.plans, settings)
        spend_q = _quantiles(result.spend, settings)
        cost_p50 = np.median(result.unit_cost, axis=0)
        central_q = _quantiles(result.central, settings)
        total = result.spend.sum(axis=2) + result.central
        total_q = _quantiles(total, settings)
        balance_q = _quantiles(result.cumulative_balance, settings)
        in_year_q = _quantiles(result.funding - total, settings)
        for y, (census_year, fy) in enumerate(zip(result.census_years, result.financial_years)):
            for t, provision in enumerate(baseline.provision_types):
                caseload_rows.append((name, census_year, provision, *plan_q[:, y, t]))
                spend_rows.append((name, fy, provision, cost_p50[y, t], *spend_q[:, y, t]))
            spend_rows.append((name, fy, "central", np.nan, *central_q[:, y]))
            position_rows.append(
                (name, fy, float(np.median(result.funding[:, y])), *total_q[:, y], in_year_q[1, y], *balance_q[:, y],
                 baseline.funding_source[fy])
            )
    caseload = pd.DataFrame(caseload_rows, columns=["scenario", "year", "provision_type", "plans_p10", "plans_p50", "plans_p90"])
    spend = pd.DataFrame(
        spend_rows,
        columns=["scenario", "financial_year", "provision_type", "unit_cost_gbp", "spend_gbp_p10", "spend_gbp_p50", "spend_gbp_p90"],
    )
    position = pd.DataFrame(
        position_rows,
        columns=[
            "scenario", "financial_year", "funding_gbp", "spend_gbp_p10", "spend_gbp_p50", "spend_gbp_p90",
            "in_year_balance_gbp", "cumulative_balance_gbp_p10", "cumulative_balance_gbp_p50",
            "cumulative_balance_gbp_p90", "funding_source",
        ],
    )
    return Forecast(
        caseload=caseload,
        spend=spend,
        hnb_position=position,
        mitigations=_mitigation_effects(baseline, settings, draws, scenarios[UNMITIGATED], mitigations),
        gap_to_balance=_gap_to_balance(scenarios[MITIGATED], baseline, settings),
        assumptions=_assumptions(baseline, settings),
        baseline=baseline,
    )


def _mitigation_effects(
    baseline: Baseline, settings: ForecastSettings, draws: Draws, unmitigated: ScenarioResult, mitigations: list[Mitigation]
) -> pd.DataFrame:
    """Each mitigation alone against the unmitigated scenario, on the same simulated paths."""
    rows = []
    base_total = unmitigated.spend.sum(axis=2) + unmitigated.central
    for m in mitigations:
        alone = simulate(baseline, settings, draws, [m])
        total = alone.spend.sum(axis=2) + alone.central
        plans_effect = np.median(alone.plans.sum(axis=2) - unmitigated.plans.sum(axis=2), axis=0)
        spend_effect = np.median(total - base_total, axis=0)
        balance_effect = np.median(alone.cumulative_balance - unmitigated.cumulative_balance, axis=0)
        funding_effect = np.median(alone.funding - unmitigated.funding, axis=0)
        for y, fy in enumerate(alone.financial_years):
            rows.append(
                (m.name, m.line_of_enquiry, m.lever, m.status, ", ".join(m.provision_types), m.start_year, fy,
                 plans_effect[y], spend_effect[y], funding_effect[y], funding_effect[y] - spend_effect[y], balance_effect[y])
            )
    return pd.DataFrame(
        rows,
        columns=[
            "mitigation", "line_of_enquiry", "lever", "status", "provision_types", "start_year", "financial_year",
            "plans_effect", "spend_effect_gbp", "funding_effect_gbp", "in_year_saving_gbp", "cumulative_balance_effect_gbp",
        ],
    )


def _gap_to_balance(mitigated: ScenarioResult, baseline: Baseline, settings: ForecastSettings) -> pd.DataFrame:
    """The saving still needed, per year, after mitigations (median path)."""
    total = np.median(mitigated.spend.sum(axis=2) + mitigated.central, axis=0)
    funding = np.median(mitigated.funding, axis=0)
    in_year = funding - total
    target = fy_start(settings.recover_by)
    years_to_target = [fy for fy in mitigated.financial_years if fy_start(fy) <= target]
    balance_at_target = baseline.base_cumulative_balance + in_year[: len(years_to_target)].sum()
    per_year_to_recover = max(0.0, -balance_at_target) / len(years_to_target) if years_to_target else np.nan
    cumulative = baseline.base_cumulative_balance + np.cumsum(in_year)
    rows = []
    for y, fy in enumerate(mitigated.financial_years):
        rows.append(
            (fy, funding[y], total[y], in_year[y], cumulative[y], max(0.0, -in_year[y]),
             per_year_to_recover if fy_start(fy) <= target else np.nan, settings.recover_by)
        )
    return pd.DataFrame(
        rows,
        columns=[
            "financial_year", "funding_gbp", "spend_gbp", "in_year_balance_gbp", "cumulative_balance_gbp",
            "saving_to_balance_in_year_gbp", "saving_per_year_to_recover_by_target_gbp", "recover_by",
        ],
    )


def _assumptions(baseline: Baseline, settings: ForecastSettings) -> pd.DataFrame:
    rows = []
    for i, provision in enumerate(baseline.provision_types):
        rows.append(
            (provision, baseline.base_plans[i], float(np.exp(baseline.growth[i]) - 1), baseline.fte_ratio[i],
             baseline.new_plan_rate[i], baseline.base_unit_cost[i], baseline.unit_cost_growth[i])
        )
    rows.append(("central", np.nan, np.nan, np.nan, np.nan, baseline.base_central, baseline.central_growth))
    frame = pd.DataFrame(
        rows,
        columns=[
            "provision_type", "base_plans", "caseload_growth_rate", "fte_per_plan", "new_plan_rate",
            "base_unit_cost_gbp", "unit_cost_growth_rate",
        ],
    )
    frame.insert(0, "base_financial_year", baseline.base_fy)
    frame["damping"] = settings.damping
    frame["simulations"] = settings.simulations
    return frame
