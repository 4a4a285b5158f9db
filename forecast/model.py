"""The forecast: caseload (forecast.cohort) × unit cost (forecast.costs), unmitigated and
mitigated, with each mitigation's own effect, the drivers of spend, and the gap to balance.

Scenarios share their random numbers: the same seed gives every scenario the same parameter
draws and the same starting point, and each provision type its own stream of process noise, so a
mitigation's effect is its lever, not noise, and a provision type no mitigation reaches is the
same in every scenario. Every point figure is `_central`, the mean of the simulated paths: means
add up across provision types, years, tables and mitigations, so the figures tie. p10 / p50 / p90
are quantiles over paths of each quantity separately (they do not add up).

Besides the two scenarios: `mitigated_assured` (only the assured mitigations; the position only),
and sensitivity runs of the unmitigated forecast under other funding growth, unit-cost inflation
and joiners (forecast.sensitivity).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from . import cohort
from .costs import (
    CostLevers,
    CostModel,
    CostSettings,
    FirstYearPosted,
    balance_before,
    cash_growth,
    complete_years,
    decided_each_year,
    estimate_costs,
    project_funding,
    simulate_costs,
    spend_without_plans,
)
from .history import History, caseload_by_census
from .levers import ScenarioLevers, lever_named
from .levers.base import note_mitigation
from .mitigations import Mitigation, mitigation_kind
from .settings import ForecastSettings, read_population
from .years import census_year_of_fy, fy_label, fy_of_census_year, fy_start

UNMITIGATED = "unmitigated"
MITIGATED = "mitigated"
MITIGATED_ASSURED = "mitigated_assured"  # only the mitigations whose status is assured
ACTUAL = "actual"
DRIVERS = ("joining", "staying_longer", "placement_mix", "unit_cost", "central")
# age at 31 August → the age groups of marts.fct_ehcp_cohort (and the DfE's SEN2 tables)
AGE_GROUPS = {
    "under 5": (0, 4),
    "5-10": (5, 10),
    "11-15": (11, 15),
    "16-19": (16, 19),
    "20-25": (20, 25),
}


class ForecastInputError(ValueError):
    """The history is too short or inconsistent to forecast from;
    the message says what is missing."""


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
    caseload_by_age: pd.DataFrame
    spend: pd.DataFrame
    hnb_position: pd.DataFrame
    mitigations: pd.DataFrame
    gap_to_balance: pd.DataFrame
    drivers: pd.DataFrame
    assumptions: pd.DataFrame
    rates: pd.DataFrame
    sensitivity: pd.DataFrame
    cohort_model: cohort.CohortModel
    cost_model: CostModel
    runs: dict[str, ScenarioRun]
    unreached: list[str]  # provision types no mitigation reaches: the same in every scenario
    # the shipped example log's mitigations not applied to this council (name, why): they move
    # children into a provision type its finance history cannot price
    set_aside: list[tuple[str, str]] = field(default_factory=list)


def prepare(
    history: History,
    settings: ForecastSettings,
    pooled_growth: tuple[float, float, str] | None = None,
) -> tuple[cohort.CohortModel, CostModel]:
    """Estimate the caseload and cost models from history (`pooled_growth`: see
    cohort.estimate)."""
    population = read_population(settings.population_file) if settings.population_file else None
    try:
        model = cohort.estimate(
            history.transitions,
            history.provision_types,
            settings.cohort,
            population=population,
            prevalence_ceiling=settings.prevalence_ceiling,
            capacity=settings.capacity,
            overflow=settings.overflow,
            pooled_growth=pooled_growth,
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
    for provision, amount in costs.unplaced_spend.items():
        model.notes.append(
            f"{provision}: £{amount:,.0f} of {costs.base_fy} spend with no full-time placements "
            "in the placements extract has no unit cost: it is forecast with central spend"
        )
    for provision, amount in costs.unplanned_spend.items():
        model.notes.append(
            f"{provision}: £{amount:,.0f} of {costs.base_fy} spend with no plan there on the "
            "census is forecast with central spend, grown as its unit cost, in each year "
            "the forecast holds no plan there"
        )
    try:
        costs = balance_before(costs, history, caseload, fy_of_census_year(model.base_year + 1))
    except ValueError as error:
        raise ForecastInputError(str(error)) from error
    for provision, given in settings.costs.new_provision_unit_costs.items():
        # a price for a type the ledger already pays for is not used: said, not silently dropped
        p = costs.provisions.index(provision) if provision in costs.provisions else None
        source = costs.unit_cost_source[p] if p is not None else None
        if (
            p is not None
            and costs.unit_cost_known[p]
            and "new_provision_unit_costs" not in (source or "")
        ):
            model.notes.append(
                f"costs.new_provision_unit_costs gives {provision} £{float(given):,.0f}, not "
                f"used: the finance history pays for its full-time places (£"
                f"{costs.unit_cost[p]:,.0f} in {costs.base_fy}"
                + (f", {source}" if source else "")
                + "). It prices only a type nothing has paid for yet; a change of price is a "
                "mitigation of unit costs"
            )
    for year in costs.carried:
        model.notes.append(
            f"{year.financial_year} is not complete in the finance extract: its balance "
            f"(£{year.balance_gbp / 1e6:,.1f}m) is estimated as a forecast year's, from January "
            f"{year.census_year}'s plans"
            + (
                ""
                if year.posted_gbp is None
                else f" for the part of the year after the ledger's last posting, added to the "
                f"£{year.posted_gbp / 1e6:,.1f}m posted so far"
            )
            + ", and carried into the balance brought forward"
        )
    if (first := costs.first_year_posted) is not None:
        model.notes.append(
            f"{first.financial_year}, the first forecast year, has begun in the finance extract: "
            f"its spend keeps the £{(first.posted.sum() + first.posted_central) / 1e6:,.1f}m "
            f"posted so far, with the rest of the year estimated (first_year_posted_spend)"
        )
    return model, costs


def run_scenario(
    model: cohort.CohortModel,
    costs: CostModel,
    settings: ForecastSettings,
    mitigations: list[Mitigation],
    joiner_factor: float = 1.0,
) -> ScenarioRun:
    years = census_year_of_fy(settings.horizon) - model.base_year
    if years < 1:
        raise ForecastInputError(
            f"the horizon {settings.horizon} is not after the last census "
            f"(January {model.base_year})"
        )
    census_years = list(range(model.base_year + 1, model.base_year + years + 1))
    financial_years = [fy_of_census_year(y) for y in census_years]
    missing = [fy for fy in financial_years if fy not in costs.funding]
    if missing:
        raise ForecastInputError(f"no funding projected for {', '.join(missing)}")
    caseload_levers, cost_levers = resolve_levers(mitigations, model, years, costs.base_fy)
    if joiner_factor != 1.0:  # a sensitivity: every joiner, every year
        A, P = model.base.shape
        base = (
            caseload_levers.joiner_factor
            if caseload_levers.joiner_factor is not None
            else np.ones((years, A, P))
        )
        caseload_levers.joiner_factor = base * joiner_factor
    paths = cohort.simulate(model, years, settings.simulations, settings.seed, caseload_levers)
    money = simulate_costs(costs, financial_years, settings.simulations, settings.seed, cost_levers)
    plans = paths.plans.sum(axis=2).astype(float)
    spend = plans * costs.fte_per_plan * money.unit_cost
    central = money.central.copy()
    first = costs.first_year_posted if financial_years else None
    for step in range(len(financial_years)):
        central[:, step] += spend_without_plans(
            costs,
            plans[:, step],
            money.unit_cost[:, step],
            first.rest if first is not None and step == 0 else None,
        )
    if first is not None:
        spend, central = _keep_first_year_posted(spend, central, plans, first)
    total = spend.sum(axis=2) + central
    cumulative = costs.base_cumulative_balance + np.cumsum(money.funding - total, axis=1)
    return ScenarioRun(
        census_years,
        financial_years,
        plans,
        paths.plans,
        paths.joiners.sum(axis=(2, 3)).astype(float),
        paths.leavers.sum(axis=(2, 3)).astype(float),
        money.unit_cost,
        spend,
        central,
        money.funding,
        cumulative,
    )


def _keep_first_year_posted(
    spend: np.ndarray, central: np.ndarray, plans: np.ndarray, first: FirstYearPosted
) -> tuple[np.ndarray, np.ndarray]:
    """The paths' spend (paths, years, P) and central spend (paths, years) with the first
    forecast year's postings kept: each type's spend is what the ledger posted of it plus the
    share of the path's full year the base year posted after the same day (the model's alone,
    it had ignored months of the year's actual spend). A type's posting on a path with no plan
    of it goes with central spend, which no cost per plan carries."""
    spend, central = spend.copy(), central.copy()
    year = first.posted + first.rest * spend[:, 0]
    unplanned = plans[:, 0] <= 0
    central[:, 0] = (
        first.posted_central
        + first.rest_central * central[:, 0]
        + np.where(unplanned, year, 0.0).sum(axis=1)
    )
    spend[:, 0] = np.where(unplanned, 0.0, year)
    return spend, central


def resolve_levers(
    mitigations: list[Mitigation],
    model: cohort.CohortModel,
    years: int,
    actual_until: str | None = None,
) -> tuple[cohort.Mitigations, CostLevers]:
    """Turn mitigation entries into the arrays the caseload and cost simulations apply: each
    mitigation's lever (forecast.levers) applies it from its start year on, in the file's order.
    `actual_until`: the last financial year of the actual costs the forecast starts from (the
    year before the first forecast year unless a year between is carried as an estimate)."""
    levers = ScenarioLevers(model, years)
    first_forecast = fy_of_census_year(model.base_year + 1)
    actual_until = actual_until or fy_label(fy_start(first_forecast) - 1)
    for m in mitigations:
        lever = lever_named(m.lever)
        first = fy_start(m.start_year) - model.base_year  # the census in FY s is January s + 1
        if first >= years:
            # a mitigation the log holds is never left out without a word (its rows read £0)
            levers.note(
                m.name,
                f"starts in {m.start_year}, after the forecast's last year "
                f"({fy_of_census_year(model.base_year + years)}): no effect in it",
            )
            continue
        if lever.once and fy_start(m.start_year) <= fy_start(actual_until):
            # a one-off change dated in a year already in the extracts is in the actual unit
            # costs the forecast starts from: applying it again would count it twice
            levers.note(
                m.name,
                f"{m.lever} in {m.start_year}, before the forecast, is in "
                "the actual figures it starts from: not applied again",
            )
            continue
        if first < 0 and lever.once:
            # dated in a year the ledger does not hold whole, whose balance is estimated from
            # the last complete year's costs: not in them, so it acts from the first forecast year
            levers.note(
                m.name,
                f"{m.lever} in {m.start_year}, a year whose balance is estimated "
                f"without it (the finance extract does not hold it whole), acts from "
                f"{first_forecast}",
            )
        elif first < 0:
            levers.note(
                m.name,
                f"started in {m.start_year}, before the forecast; acts "
                f"on the forecast years from {first_forecast}",
            )
        lever.apply(m, max(first, 0), levers)
    return levers.caseload, levers.costs


def _unpriced_and_free(costs: CostModel) -> tuple[set[str], set[str]]:
    """The provision types with no unit cost, and those whose places nothing pays for (£0)."""
    unpriced = {
        p for p, known in zip(costs.provisions, costs.unit_cost_known, strict=True) if not known
    }
    free = {
        p
        for p, known, cost in zip(
            costs.provisions, costs.unit_cost_known, costs.unit_cost, strict=True
        )
        if known and cost <= 0
    }
    return unpriced, free


def _check_priced(costs: CostModel, settings: ForecastSettings, mitigations: list[Mitigation]):
    """Refuse a forecast that moves children into (or keeps them in) a provision type with no
    unit cost: they would cost £0 there, and a mitigation moving them would read as a saving of
    their whole cost (or a cost of it). A type whose places nothing ever paid for (none, other:
    £0 a place) is refused as where a move puts children (their whole cost a saving: £19.4m on
    the demo, moving independent placements to `other`), not as where it takes them from
    (moving a young person from `none` into college is a real cost)."""
    unpriced, free = _unpriced_and_free(costs)
    if not unpriced and not free:
        return
    reasons, touched = [], set()

    def refuse(reason: str, named: set, into: set) -> None:
        hit = (named & unpriced) | (into & free)
        if hit:
            reasons.append(reason)
            touched.update(hit)

    for source, target in settings.overflow.items():
        if source in settings.capacity:
            refuse(
                f"the forecast settings' overflow {source} → {target}", {source, target}, {target}
            )
    for m in mitigations:
        lever = lever_named(m.lever)
        if not lever.moves_between_types:
            continue
        named = {*m.provision_types, m.effect.get("to")}
        named |= {settings.overflow.get(p) for p in m.provision_types if p in settings.capacity}
        # where the children end: a shift's `to`; the types a stopped flow or new places keep
        # them in
        into = {m.effect.get("to")} if m.lever == "shift_placements" else set(m.provision_types)
        where = f" in {m.source}" if m.source else ""
        refuse(f"mitigation {m.name!r} ({m.lever}){where}", named, into)
    if not reasons:
        return
    types, zero = sorted(touched - free), sorted(touched & free)
    why = []
    if types:
        why.append(
            f"{', '.join(types)} {'has' if len(types) == 1 else 'have'} no unit cost (no "
            f"full-time placements in the finance history to price it by, up to "
            f"{costs.base_fy}). Children there would cost £0 and the move would count their "
            f"whole cost. Give its cost a year in the forecast settings, in {costs.base_fy} "
            f"prices (costs: new_provision_unit_costs: "
            + "{"
            + ", ".join(f"{p}: <£ a full-time place a year>" for p in types)
            + "})."
        )
    if zero:
        why.append(
            f"{', '.join(zero)}: nothing in the finance history pays for a place there (£0 a "
            "place), so the move would count the children's whole cost as a saving: move them "
            "to a provision type that is paid for."
        )
    raise ForecastInputError(
        f"{'; '.join(reasons)} move(s) children between provision types, but " + " ".join(why)
    )


def _example_priced(
    costs: CostModel, settings: ForecastSettings, mitigations: list[Mitigation]
) -> tuple[list[Mitigation], list[tuple[str, str]]]:
    """The shipped example log's mitigations this council's costs can price, and those set
    aside (name, why): the example is not the council's plan, and its resourced-provision move
    into a type a council never paid for had stopped that council's first refresh, for a
    mitigation it never chose. A council's own log is refused instead (_check_priced)."""
    _check_priced(costs, settings, [])  # the settings' own overflow: refused as ever
    kept, set_aside = [], []
    for m in mitigations:
        try:
            _check_priced(costs, settings, [m])
        except ForecastInputError:
            unpriced = sorted(
                _unpriced_and_free(costs)[0] & {*m.provision_types, m.effect.get("to")}
            )
            why = (
                f"{', '.join(unpriced)} {'has' if len(unpriced) == 1 else 'have'} no unit cost "
                "in this council's finance history"
                if unpriced
                else "it moves children to a provision type nothing pays for"
            )
            set_aside.append((m.name, why))
        else:
            kept.append(m)
    return kept, set_aside


def run_forecast(
    history: History,
    mitigations: list[Mitigation],
    settings: ForecastSettings,
    pooled_growth: tuple[float, float, str] | None = None,
    example_log: bool = False,
) -> Forecast:
    """The forecast of every scenario; `example_log`: the mitigations are the shipped example's,
    and those this council cannot price are set aside (Forecast.set_aside), not refused."""
    model, costs = prepare(history, settings, pooled_growth)
    set_aside: list[tuple[str, str]] = []
    if example_log:
        mitigations, set_aside = _example_priced(costs, settings, mitigations)
    else:
        _check_priced(costs, settings, mitigations)
    runs = {
        UNMITIGATED: run_scenario(model, costs, settings, []),
        MITIGATED: run_scenario(model, costs, settings, mitigations),
    }
    first = runs[UNMITIGATED].financial_years[0]
    if fy_start(settings.recover_by) < fy_start(first):
        # the council's own ledger sets its first forecast year: in a region, one council whose
        # finance runs past recover_by is held (ForecastInputError), not every council stopped
        raise ForecastInputError(
            f"recover_by ({settings.recover_by}) is before the first forecast year ({first}) "
            "this council's finance extract leaves: the deficit can only be recovered in a year "
            "still to come (set a later recover_by)"
        )
    assured = run_scenario(
        model, costs, settings, [m for m in mitigations if m.status == "assured"]
    )
    return Forecast(
        caseload=_caseload_table(runs, model, settings),
        caseload_by_age=_caseload_by_age(runs, model, settings),
        spend=_spend_table(runs, model, settings),
        hnb_position=_position_table({**runs, MITIGATED_ASSURED: assured}, costs, settings),
        mitigations=_mitigation_effects(
            model, costs, settings, runs[UNMITIGATED], mitigations, decided_each_year(history)
        ),
        gap_to_balance=_gap_to_balance(runs[MITIGATED], costs, settings),
        drivers=drivers_table(history, runs, costs),
        assumptions=assumptions_table(model, costs, settings),
        rates=_rates(model, costs, settings),
        sensitivity=_sensitivity(history, model, costs, settings, runs[UNMITIGATED]),
        cohort_model=model,
        cost_model=costs,
        runs=runs,
        unreached=unreached_provisions(
            model, mitigations, costs.first_year_posted, costs.unplanned_spend
        ),
        set_aside=set_aside,
    )


def unreached_provisions(
    model: cohort.CohortModel,
    mitigations: list[Mitigation],
    first_year_posted: FirstYearPosted | None = None,
    unplanned_spend: dict[str, float] | None = None,
) -> list[str]:
    """Provision types (and `central`) no mitigation can change: not named by one, not where
    it sends children, and not downstream of those by any move or capacity overflow the
    model allows; central is reached too when a reached type has postings in the first forecast
    year, or spend without plans (on a path with no plan of it they go with central spend)."""
    index = {p: i for i, p in enumerate(model.provisions)}
    reached: set[int] = set()
    central = False
    prevalence_capped = model.prevalence_ceiling is not None and model.population is not None
    for m in mitigations:
        lever = lever_named(m.lever)
        named = {
            index[t]
            for t in [*m.provision_types, *lever.named_provision_types(m.effect)]
            if t in index
        }
        if lever.reaches_central:
            central = True
        if prevalence_capped and lever.moves_caseload:
            # the ceiling ties every type's joiners together
            named = set(range(len(model.provisions)))
        reached |= named
    if any(lever_named(m.lever).moves_caseload for m in mitigations):
        edges = model.move_rate.max(axis=0) > 0  # (P, P): from → to at some age
        if model.overflow_to is not None:
            for p, target in enumerate(model.overflow_to):
                edges[p, int(target)] = True
        frontier = list(reached)
        while frontier:
            for target in np.flatnonzero(edges[frontier.pop()]):
                if int(target) not in reached:
                    reached.add(int(target))
                    frontier.append(int(target))
    if first_year_posted is not None and any(first_year_posted.posted[i] != 0 for i in reached):
        central = True
    if any(model.provisions[i] in (unplanned_spend or {}) for i in reached):
        central = True
    unreached = [p for p, i in index.items() if i not in reached]
    return unreached + ([] if central else ["central"])


def _quantiles(values: np.ndarray, settings: ForecastSettings) -> np.ndarray:
    return np.quantile(values, settings.quantiles, axis=0)


def _caseload_table(
    runs: dict[str, ScenarioRun], model: cohort.CohortModel, settings: ForecastSettings
) -> pd.DataFrame:
    rows = []
    for name, run in runs.items():
        mean, q = run.plans.mean(axis=0), _quantiles(run.plans, settings)
        total = run.plans.sum(axis=2)
        total_mean, total_q = total.mean(axis=0), _quantiles(total, settings)
        for y, year in enumerate(run.census_years):
            for p, provision in enumerate(model.provisions):
                rows.append((name, year, provision, mean[y, p], *q[:, y, p]))
            rows.append((name, year, "total", total_mean[y], *total_q[:, y]))
    return pd.DataFrame(
        rows,
        columns=[
            "scenario",
            "year",
            "provision_type",
            "plans_central",
            "plans_p10",
            "plans_p50",
            "plans_p90",
        ],
    )


def _caseload_by_age(
    runs: dict[str, ScenarioRun], model: cohort.CohortModel, settings: ForecastSettings
) -> pd.DataFrame:
    """Plans by age group and provision type
    (and each age group's total) on each forecast census."""
    rows = []
    for name, run in runs.items():
        for group, (low, high) in AGE_GROUPS.items():
            # (paths, years, P)
            plans = run.plans_by_age[:, :, low : high + 1, :].sum(axis=2).astype(float)
            mean, q = plans.mean(axis=0), _quantiles(plans, settings)
            total = plans.sum(axis=2)
            total_mean, total_q = total.mean(axis=0), _quantiles(total, settings)
            for y, year in enumerate(run.census_years):
                for p, provision in enumerate(model.provisions):
                    rows.append((name, year, group, provision, mean[y, p], *q[:, y, p]))
                rows.append((name, year, group, "total", total_mean[y], *total_q[:, y]))
    return pd.DataFrame(
        rows,
        columns=[
            "scenario",
            "year",
            "age_group",
            "provision_type",
            "plans_central",
            "plans_p10",
            "plans_p50",
            "plans_p90",
        ],
    )


def _spend_table(
    runs: dict[str, ScenarioRun], model: cohort.CohortModel, settings: ForecastSettings
) -> pd.DataFrame:
    rows = []
    for name, run in runs.items():
        mean, q = run.spend.mean(axis=0), _quantiles(run.spend, settings)
        central_mean, central = run.central.mean(axis=0), _quantiles(run.central, settings)
        cost = run.unit_cost.mean(axis=0)
        for y, fy in enumerate(run.financial_years):
            for p, provision in enumerate(model.provisions):
                rows.append((name, fy, provision, cost[y, p], mean[y, p], *q[:, y, p]))
            rows.append((name, fy, "central", np.nan, central_mean[y], *central[:, y]))
    return pd.DataFrame(
        rows,
        columns=[
            "scenario",
            "financial_year",
            "provision_type",
            "unit_cost_gbp",
            "spend_gbp_central",
            "spend_gbp_p10",
            "spend_gbp_p50",
            "spend_gbp_p90",
        ],
    )


def _position_table(
    runs: dict[str, ScenarioRun], costs: CostModel, settings: ForecastSettings
) -> pd.DataFrame:
    rows = []
    baseline = runs.get(UNMITIGATED)
    for name, run in runs.items():
        measures = (run.total_spend, run.funding - run.total_spend, run.cumulative_balance)
        means = [values.mean(axis=0) for values in measures]
        spreads = [_quantiles(values, settings) for values in measures]
        for y, fy in enumerate(run.financial_years):
            figures = [
                value
                for mean, q in zip(means, spreads, strict=False)
                for value in (mean[y], *q[:, y])
            ]
            # the budget file's lines and grown years, to the penny (their sum in floating point
            # read 41178251.34000002)
            funding = round(float(run.funding[:, y].mean()), 2)
            source = costs.funding_source[fy]
            added = funding - float(baseline.funding[:, y].mean()) if baseline else 0.0
            if abs(added) >= 0.5:
                # a block transfer the mitigations add is not the budget file's (it read
                # "budget file" beside £0.5m more than the file gives)
                source += (
                    f", {'+' if added > 0 else '−'}£{abs(added):,.0f} from the mitigations' "
                    "funding changes"
                )
            rows.append((name, fy, funding, *figures, source))
    return pd.DataFrame(
        rows,
        columns=[
            "scenario",
            "financial_year",
            "funding_gbp",
            "spend_gbp_central",
            "spend_gbp_p10",
            "spend_gbp_p50",
            "spend_gbp_p90",
            "in_year_balance_gbp_central",
            "in_year_balance_gbp_p10",
            "in_year_balance_gbp_p50",
            "in_year_balance_gbp_p90",
            "cumulative_balance_gbp_central",
            "cumulative_balance_gbp_p10",
            "cumulative_balance_gbp_p50",
            "cumulative_balance_gbp_p90",
            "funding_source",
        ],
    )


def _mitigation_effects(
    model: cohort.CohortModel,
    costs: CostModel,
    settings: ForecastSettings,
    unmitigated: ScenarioRun,
    mitigations: list[Mitigation],
    decided: pd.Series,
) -> pd.DataFrame:
    """Each mitigation alone against the unmitigated scenario, on the same paths: the mean of the
    path-by-path differences, so a year's effects add up to the cumulative one. `decided`: the
    budget file's block transfer and council contribution per financial year, beside a funding
    mitigation's years (the same money given twice counts twice)."""
    rows = []
    for m in mitigations:
        alone = run_scenario(model, costs, settings, [m])
        plans = (alone.plans.sum(axis=2) - unmitigated.plans.sum(axis=2)).mean(axis=0)
        spend = (alone.total_spend - unmitigated.total_spend).mean(axis=0)
        funding = (alone.funding - unmitigated.funding).mean(axis=0)
        balance = (alone.cumulative_balance - unmitigated.cumulative_balance).mean(axis=0)
        kind = mitigation_kind(m, float(balance[-1]))
        measured = mitigation_kind(replace(m, kind=None), float(balance[-1]))
        if (
            m.kind in ("saving", "cost")
            and measured in ("saving", "cost")
            and m.kind != measured
            and balance[-1] != 0  # (nothing measured: a capacity never reached)
        ):
            # published as what it does: a 'saving' that adds £15m was counted in the assured
            # savings' subtotal (mitigations reviewer)
            kind = measured
            note_mitigation(
                model,
                m.name,
                f"given as a {m.kind}, but measured alone it "
                f"{'adds' if balance[-1] < 0 else 'saves'} £{abs(balance[-1]) / 1e6:,.1f}m by "
                f"{alone.financial_years[-1]}: published as a {measured}; check its kind",
            )
        if m.name not in model.mitigation_notes and not (
            np.abs(plans).max(initial=0) > 1e-9
            or np.abs(spend).max(initial=0) >= 0.5
            or np.abs(funding).max(initial=0) >= 0.5
        ):
            # its rows read £0 with nothing said (a stop_flow of moves the history never made)
            note_mitigation(
                model,
                m.name,
                "measured alone it changes no plan, spend or funding in any forecast year: "
                "check its provision types, ages and effect against the children and moves "
                "the history holds",
            )
        note = "; ".join(model.mitigation_notes.get(m.name, [])) or None
        for y, fy in enumerate(alone.financial_years):
            rows.append(
                (
                    m.name,
                    m.line_of_enquiry,
                    m.lever,
                    kind,
                    m.status,
                    ", ".join(m.provision_types),
                    m.start_year,
                    fy,
                    plans[y],
                    spend[y],
                    funding[y],
                    0.0 - spend[y],  # (not -spend: a saving of nothing is 0, not -0)
                    funding[y] - spend[y],
                    balance[y],
                    ", ".join(f"{k}={v}" for k, v in m.effect.items()),
                    m.assumption,
                    m.cost_gbp,
                    # (an income added beside income given: a cut or an end of one is not it)
                    max(float(decided.get(fy, 0.0)), 0.0)
                    if kind == "funding" and funding[y] > 0
                    else 0.0,
                    m.owner,
                    m.milestones,
                    m.risk,
                    note,
                )
            )
    return pd.DataFrame(
        rows,
        columns=[
            "mitigation",
            "line_of_enquiry",
            "lever",
            "kind",
            "status",
            "provision_types",
            "start_year",
            "financial_year",
            "plans_effect",
            "spend_effect_gbp",
            "funding_effect_gbp",
            "in_year_saving_gbp",
            "in_year_balance_effect_gbp",
            "cumulative_balance_effect_gbp",
            "effect",
            "assumption_text",
            "delivery_cost_gbp",
            "budget_file_transfer_gbp",
            "owner",
            "milestones",
            "risk",
            "note",
        ],
    )


def _gap_to_balance(run: ScenarioRun, costs: CostModel, settings: ForecastSettings) -> pd.DataFrame:
    """After mitigations (central: the mean of the paths): the saving still needed each year to
    balance in-year, and the even yearly saving from the first forecast year that clears the
    cumulative deficit by the target year."""
    total = run.total_spend.mean(axis=0)
    funding = run.funding.mean(axis=0)
    in_year = funding - total
    cumulative = run.cumulative_balance.mean(axis=0)
    target = fy_start(settings.recover_by)
    upto = [y for y, fy in enumerate(run.financial_years) if fy_start(fy) <= target]
    at_target = cumulative[upto[-1]] if upto else np.nan
    per_year = max(0.0, -at_target) / len(upto) if upto else np.nan
    rows = [
        (
            fy,
            funding[y],
            total[y],
            in_year[y],
            cumulative[y],
            max(0.0, -in_year[y]),
            per_year if y in upto else np.nan,
            settings.recover_by,
        )
        for y, fy in enumerate(run.financial_years)
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "financial_year",
            "funding_gbp",
            "spend_gbp",
            "in_year_balance_gbp",
            "cumulative_balance_gbp",
            "saving_to_balance_in_year_gbp",
            "saving_per_year_to_recover_by_target_gbp",
            "recover_by",
        ],
    )


def drivers_table(history: History, runs: dict[str, ScenarioRun], costs: CostModel) -> pd.DataFrame:
    """Each year's change in spend split into its drivers (they add up to the change):

    * joining — the change in plans less staying_longer's part, × last year's average cost per
      plan;
    * staying_longer — fewer (or more) leaving than last year's leave rate would give (last
      year's leavers ÷ the plans on the census before it, × last year's plans), × that cost;
    * placement_mix — the shift of plans between provision types, at last year's costs;
    * unit_cost — the change in cost per plan of each provision type, on this year's plans;
    * central — the change in spend tied to no placement (and in actual years, spend on a
      provision type with no plans on the year's census, which no cost per plan can carry).
    Cost per plan = spend ÷ January plans of the provision type (FTE per plan × unit cost).
    """
    caseload = caseload_by_census(history)
    spend = history.spend[history.spend["is_complete_year"]].pivot_table(
        index="financial_year", columns="provision_type", values="spend_gbp", aggfunc="sum"
    )
    moves = (
        history.transitions.groupby(["year", "provision_from", "provision_to"])["children"]
        .sum()
        .reset_index()
    )
    joiners = moves[moves["provision_from"] == cohort.JOINED].groupby("year")["children"].sum()
    leavers = moves[moves["provision_to"] == cohort.LEFT].groupby("year")["children"].sum()
    provisions = history.provision_types
    totals = caseload[provisions].sum(axis=1)

    def at_risk(census_year: int) -> float:
        """The plans on the census before `census_year`'s: the children who could leave."""
        return float(totals.get(census_year - 1, np.nan))

    # (scenario, fy, plans (P,), cost per plan (P,), central, joiners, leavers, at risk)
    series = []
    for year in caseload.index:
        fy = fy_of_census_year(int(year))
        if fy not in spend.index:
            continue
        plans = caseload.loc[year, provisions].to_numpy(dtype=float)
        money = spend.loc[fy].reindex(provisions).fillna(0).to_numpy(dtype=float)
        per_plan = np.divide(money, plans, out=np.zeros_like(money), where=plans > 0)
        # spend on a provision type with no plans on the census has no cost per plan to carry
        # it: it goes with central spend (as the forecast carries a type's spend without
        # full-time placements), so the drivers still add up to the year's change in spend
        unplanned = float(money[plans <= 0].sum())
        series.append(
            (
                ACTUAL,
                fy,
                plans,
                per_plan,
                float(spend.loc[fy].get("central", 0.0) or 0.0) + unplanned,
                float(joiners.get(year, np.nan)),
                float(leavers.get(year, np.nan)),
                at_risk(int(year)),
            )
        )
    rows = _driver_rows(series)
    # the forecast's first change is from the last complete year, or from the last year carried
    # before it (a refresh before the ledger's year is whole): each carried year's change, from
    # its estimate, is a row of every scenario, as its balance is in every scenario's start
    base = [s for s in series if s[1] == costs.base_fy]
    carried = [
        (
            year.financial_year,
            year.plans,
            year.cost_per_plan,
            year.central_gbp,
            float(joiners.get(year.census_year, np.nan)),
            float(leavers.get(year.census_year, np.nan)),
            at_risk(year.census_year),
        )
        for year in costs.carried
    ]
    for name, run in runs.items():
        chain = base + [(name, *year) for year in carried]
        mean_plans = run.plans.mean(axis=0)
        per_plan = run.spend.mean(axis=0) / np.maximum(mean_plans, 1e-9)
        forecast = [
            (
                name,
                fy,
                mean_plans[y],
                per_plan[y],
                float(run.central[:, y].mean()),
                float(run.joiners[:, y].mean()),
                float(run.leavers[:, y].mean()),
                # the plans of the census before: the base's on the first forecast year
                float(mean_plans[y - 1].sum() if y else chain[-1][2].sum()) if chain else np.nan,
            )
            for y, fy in enumerate(run.financial_years)
        ]
        rows += _driver_rows(chain + forecast)
    frame = pd.DataFrame(rows, columns=["scenario", "financial_year", "driver", "spend_change_gbp"])
    return frame


def _driver_rows(series: list[tuple]) -> list[tuple]:
    rows = []
    for previous, current in itertools.pairwise(series):
        _, _, plans0, cost0, central0, _, leavers0, at_risk0 = previous
        scenario, fy, plans1, cost1, central1, _joiners1, leavers1, _ = current
        total0, total1 = plans0.sum(), plans1.sum()
        average0 = float((plans0 * cost0).sum() / total0) if total0 else 0.0
        share0 = plans0 / total0 if total0 else plans0
        share1 = plans1 / total1 if total1 else plans1
        change = total1 - total0
        # leavers expected at last year's leave rate: last year's leavers ÷ the plans they left
        # from (the census before last year's), × the plans this year's leave from (last year's)
        rate = (
            leavers0 / at_risk0
            if np.isfinite(at_risk0) and at_risk0 > 0 and np.isfinite(leavers0)
            else np.nan
        )
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


def _rates(model: cohort.CohortModel, costs: CostModel, settings: ForecastSettings) -> pd.DataFrame:
    leave = model.leave_rate
    weights = np.maximum(model.base, 1e-9)
    rows = []
    for p, provision in enumerate(model.provisions):
        stay = model.move_rate[:, p, p]
        rows.append(
            (
                provision,
                float(model.base[:, p].sum()),
                float((leave[:, p] * weights[:, p]).sum() / weights[:, p].sum()),
                float((stay * weights[:, p]).sum() / weights[:, p].sum()),
                float(model.joiner_share[:, p].sum()),
                float(costs.fte_per_plan[p]),
                float(costs.unit_cost[p]),
                float(costs.real_growth[p]),
                float(cash_growth(costs.real_growth[p], costs.inflation)),
            )
        )
    rows.append(
        (
            "central",
            np.nan,
            np.nan,
            np.nan,
            np.nan,
            np.nan,
            costs.central,
            costs.central_real_growth,
            cash_growth(costs.central_real_growth, costs.inflation),
        )
    )
    frame = pd.DataFrame(
        rows,
        columns=[
            "provision_type",
            "base_plans",
            "leave_rate",
            "stay_in_provision_rate",
            "share_of_joiners",
            "fte_per_plan",
            "base_unit_cost_gbp",
            "unit_cost_real_growth",
            "unit_cost_nominal_growth",
        ],
    )
    frame.insert(0, "base_census_year", model.base_year)
    frame.insert(1, "base_financial_year", costs.base_fy)
    frame["joiners_trend_per_year"] = float(np.exp(model.joiner_slope) - 1)
    frame["joiners_per_head"] = model.population is not None
    frame["simulations"] = settings.simulations
    return frame


# how a capacity's assumption row names the type its overflow goes to (trace.py finds the
# capacities sending children to a type by it)
OVERFLOW_TO = "children beyond it go to "


def _span(costs: CostModel, p: int, c: CostSettings) -> str:
    """The years a provision type's unit-cost growth was measured over, as the assumption
    names them (a short ledger measures fewer than `unit_cost_years`: the text had said "the
    last 3 years'" of two)."""
    span = costs.growth_span[p]
    return span if span else f"the last {c.unit_cost_years} years"


def assumptions_table(
    model: cohort.CohortModel, costs: CostModel, settings: ForecastSettings
) -> pd.DataFrame:
    """The assumptions the balance hangs on, each with its value and where it comes from: the
    report's first page prints them beside the headline."""
    c = settings.costs
    rows = [
        (
            "funding_growth",
            None,
            None,
            # the rate applied: the settings', or with none the funding's recent growth
            costs.funding_growth,
            "a year",
            c.funding_growth_source
            if c.funding_growth is not None
            else f"recent growth of funding ({c.unit_cost_years} years)",
        ),
        *(
            ("funding_gbp", None, fy, costs.funding[fy], "£", costs.funding_source[fy])
            for fy in costs.funding
        ),
        (
            "unit_cost_inflation",
            None,
            None,
            c.inflation,
            "a year",
            (
                f"{c.pay_share:.0%} pay at {c.pay_inflation:.1%} + {1 - c.pay_share:.0%} prices "
                f"at {c.price_inflation:.1%}"
            ),
        ),
        ("pay_inflation", None, None, c.pay_inflation, "a year", c.pay_inflation_source),
        ("price_inflation", None, None, c.price_inflation, "a year", c.price_inflation_source),
        ("pay_share", None, None, c.pay_share, "share", c.pay_share_source),
        (
            "historical_inflation",
            None,
            None,
            c.historical_inflation,
            "a year",
            c.historical_inflation_source
            + ": taken off past unit-cost growth to leave the growth above inflation",
        ),
    ]
    low, high = costs.real_growth_bounds

    def at_bound(rate: float) -> bool:
        # (a rate measured beyond real_growth_bounds was clipped to them: said, not hidden)
        return bool(np.isclose(rate, low) or np.isclose(rate, high))

    for p, provision in enumerate(costs.provisions):
        real = float(costs.real_growth[p])
        if costs.unit_cost[p] == 0:
            # a rate on nothing: say so rather than let it read as a cost pressure
            why = f"no spend on this provision type in {costs.base_fy}, so it moves nothing"
        elif not costs.growth_measured[p]:
            why = (
                f"no growth above inflation (fewer than two years of unit cost to measure it "
                f"by), compounded with {costs.inflation:.1%} inflation"
            )
        elif at_bound(real):
            # how far beyond the bound the data went: the rate measured, before it was held
            cash = costs.cash_growth_measured[p]
            deflated = f"deflated by {c.historical_inflation:.1%} a year"
            measured = (
                f"{_span(costs, p, c)}, {cash:+.1%} a year in cash or "
                f"{(1 + cash) / (1 + c.historical_inflation) - 1:+.1%} {deflated},"
                if np.isfinite(cash)
                else f"{_span(costs, p, c)} {deflated}"
            )
            why = (
                f"{real:+.1%} above inflation, held at the bound of real growth (costs."
                f"real_growth_bounds {low:+.1%} to {high:+.1%}: the growth of {measured} was "
                f"beyond it), compounded with {costs.inflation:.1%} inflation"
            )
        else:
            # the cash growth measured, given so that the rate can be checked: (1 + cash) ÷
            # (1 + historical inflation) − 1, not cash less inflation
            past = (1 + real) * (1 + c.historical_inflation) - 1
            why = (
                f"{real:+.1%} above inflation (the growth of {_span(costs, p, c)}, "
                f"{past:+.1%} a year in cash, deflated by {c.historical_inflation:.1%} a year), "
                f"compounded with {costs.inflation:.1%} inflation"
            )
        # (a rate at its bound draws no spread: costs._draw_growth keeps the draws within them)
        if costs.unit_cost[p] != 0 and costs.real_growth_sd[p] > 0 and not at_bound(real):
            why += (
                f"; each simulated path grows at its own rate about it (sd "
                f"{costs.real_growth_sd[p]:.1%} a year, within the bounds), the paths' mean held "
                "to this rate's compounding each year"
            )
        if costs.unit_cost[p] != 0 and costs.unit_cost_source[p]:
            why += f"; unit cost: {costs.unit_cost_source[p]}"
        rows.append(
            ("unit_cost_growth", provision, None, cash_growth(real, costs.inflation), "a year", why)
        )
    # what the growth applies to: each type's unit cost in the base year and the full-time
    # places a plan holds (the balance is plans × FTE per plan × unit cost)
    for p, provision in enumerate(costs.provisions):
        rows.append(
            (
                "unit_cost",
                provision,
                costs.base_fy,
                float(costs.unit_cost[p]),
                "£ a full-time place a year",
                costs.unit_cost_source[p]
                or (
                    f"{costs.base_fy}'s spend ÷ its full-time-equivalent placements"
                    if costs.unit_cost[p]
                    else f"no spend on this provision type in {costs.base_fy}"
                ),
            )
        )
        rows.append(
            (
                "fte_per_plan",
                provision,
                None,
                float(costs.fte_per_plan[p]),
                "full-time places a plan",
                costs.fte_per_plan_source[p],
            )
        )
    rows.append(
        (
            "unit_cost_growth",
            "central",
            None,
            cash_growth(costs.central_real_growth, costs.inflation),
            "a year",
            f"{costs.central_real_growth:+.1%} above inflation"
            + (
                f", held at the bound of real growth (costs.real_growth_bounds {low:+.1%} to "
                f"{high:+.1%}: its measured growth was beyond it)"
                if at_bound(costs.central_real_growth)
                else ""
            )
            + f", compounded with {costs.inflation:.1%} inflation: the growth of central spend "
            "as a whole (services and support tied to no placement have no unit to cost), its "
            "volume included"
            + (
                f"; with the spend on {', '.join(costs.unplaced_spend)}, which had no full-time "
                "placements"
                if costs.unplaced_spend
                else ""
            )
            + (
                f"; central spend also carries {costs.base_fy}'s spend on "
                f"{', '.join(costs.unplanned_spend)}, which had no plan on the census, grown as "
                "its unit cost, in each year the forecast holds no plan there"
                if costs.unplanned_spend
                else ""
            ),
        )
    )
    rows.append(
        (
            "joiners_trend",
            None,
            None,
            float(np.exp(model.joiner_slope) - 1),
            "a year",
            model.growth_source
            or (
                "trend of new plans"
                + (
                    f" damped by {settings.cohort.damping} a year"
                    if settings.cohort.damping < 1
                    else ""
                )
                + f" over the last {settings.cohort.trend_years} years"
            ),
        )
    )
    for provision, before in model.closed.items():
        rows.append(
            (
                "closed_to_children",
                provision,
                None,
                before,
                "children entering a year before",
                f"no child entered it (joining, or moving from another type) on the last "
                f"{cohort.censuses_text(model.closed_after.get(provision, cohort.CLOSED_YEARS))} "
                "and none is there on January "
                f"{model.base_year}'s, where its entries before ({before:.1f} a year) made that "
                f"less likely than {cohort.CLOSED_CHANCE:.0%} by chance: the forecast sends it "
                "no child",
            )
        )
    rows.append(
        (
            "population",
            None,
            None,
            np.nan,
            "",
            f"ONS projection: {settings.population_file.name}"
            if settings.population_file
            else "none: joiners follow their own trend, not population",
        )
    )
    for provision, places in settings.capacity.items():
        overflow = settings.overflow.get(provision)
        source = f"forecast settings; {OVERFLOW_TO}{overflow}" if overflow else "forecast settings"
        there = (
            float(model.base[:, model.provisions.index(provision)].sum())
            if provision in model.provisions
            else 0.0
        )
        if overflow and there > places:
            # a type already over its places takes no newcomer at all until those there fall
            # below them: said, as it moves more than the overflow of a type filling up does
            # (a spike's 542 plans in 520 special places sent every newcomer to independents)
            source += (
                f"; the January {model.base_year} census already holds {there:,.0f}, "
                f"{there - places:,.0f} over it: every child arriving goes to {overflow} until "
                f"those there fall below {places:,.0f}"
            )
        rows.append(("capacity", provision, None, places, "places", source))
    if not settings.capacity:
        rows.append(
            (
                "capacity",
                None,
                None,
                np.nan,
                "places",
                "none set: every provision type takes every child",
            )
        )
    rows.append(
        (
            "prevalence_ceiling",
            None,
            None,
            np.nan if settings.prevalence_ceiling is None else settings.prevalence_ceiling,
            "plans per 1,000 aged 0-25",
            "forecast settings" if settings.prevalence_ceiling else "none set",
        )
    )
    for year in costs.carried:
        how = (
            f"January {year.census_year}'s plans × unit costs grown from {costs.base_fy}, and "
            "central spend"
        )
        if year.posted_gbp is not None:
            how = (
                f"£{year.posted_gbp:,.0f} posted so far in the ledger, and for the rest of the "
                f"year the share {costs.base_fy} posted after the same day of its year of the "
                f"full-year estimate (£{year.full_year_estimate_gbp:,.0f}: {how})"
            )
        # its funding and spend too: the DSG management plan shows the year as a column
        rows.append(
            (
                "in_progress_year_funding",
                None,
                year.financial_year,
                year.funding_gbp,
                "£",
                f"the year not complete in the finance extract: {year.funding_source}",
            )
        )
        rows.append(
            (
                "in_progress_year_spend",
                None,
                year.financial_year,
                year.spend_gbp,
                "£",
                f"estimated, the year not complete in the finance extract: {how}",
            )
        )
        # by provision type, for the expenditure tables' column of the year
        by_type = dict(zip(costs.provisions, year.plans * year.cost_per_plan, strict=True))
        by_type["central"] = by_type.get("central", 0.0) + year.central_gbp
        for provision, spend in by_type.items():
            rows.append(
                (
                    "in_progress_year_spend_by_type",
                    provision,
                    year.financial_year,
                    float(spend),
                    "£",
                    (
                        f"estimated: January {year.census_year}'s plans × full-time places per "
                        f"plan × unit costs grown from {costs.base_fy}"
                        if provision != "central"
                        else f"estimated: {costs.base_fy}'s central spend grown"
                    )
                    + (
                        ""
                        if year.posted_gbp is None
                        else ", for the part of the year after the ledger's last posting, "
                        "added to what it posted so far"
                    ),
                )
            )
        rows.append(
            (
                "in_progress_year_balance",
                None,
                year.financial_year,
                year.balance_gbp,
                "£",
                f"estimated, the year not complete in the finance extract: funding "
                f"£{year.funding_gbp:,.0f} ({year.funding_source}) less spend "
                f"£{year.spend_gbp:,.0f} ({how})",
            )
        )
    if (first := costs.first_year_posted) is not None:
        # the first forecast year has begun: its spend keeps what the ledger posted of it
        rows.append(
            (
                "first_year_posted_spend",
                None,
                first.financial_year,
                float(first.posted.sum() + first.posted_central),
                "£",
                f"posted so far in the ledger for {first.financial_year}, the first forecast year "
                "(not complete in the finance extract): kept in every scenario's spend, with the "
                f"rest of the year the share of its modelled spend that {costs.base_fy} posted "
                "after the same day of its year (forecast.spend's unit_cost_gbp is the model's "
                "for the whole year)",
            )
        )
    rows.append(
        (
            "balance_brought_forward",
            None,
            costs.balance_year,
            costs.base_cumulative_balance,
            "£",
            f"cumulative balance at the end of {costs.balance_year} (marts.fct_hnb_position)"
            if not costs.carried
            else f"cumulative balance at the end of {costs.base_fy} (marts.fct_hnb_position), "
            f"carried through {', '.join(y.financial_year for y in costs.carried)} "
            "(in_progress_year_balance)",
        )
    )
    return pd.DataFrame(
        rows, columns=["assumption", "provision_type", "financial_year", "value", "unit", "source"]
    )


def _varied(costs: CostModel, history: History, model: cohort.CohortModel, **changes) -> CostModel:
    """`costs` with `changes` (a sensitivity's funding or inflation), the years carried before the
    forecast (a refresh before the ledger's year is whole) estimated again under them, as the
    forecast years are: else their balance, in every variant's starting point, stays the
    central one's."""
    if not costs.carried:
        return replace(costs, **changes)
    before = replace(
        costs,
        base_cumulative_balance=costs.base_cumulative_balance
        - sum(year.balance_gbp for year in costs.carried),
        balance_year=costs.base_fy,
        carried=(),
        **changes,
    )
    return balance_before(
        before, history, caseload_by_census(history), fy_of_census_year(model.base_year + 1)
    )


# forecast.sensitivity's columns, one row per assumption, variant and financial year
SENSITIVITY_COLUMNS = (
    "assumption",
    "variant",
    "value",
    "financial_year",
    "cumulative_balance_gbp_central",
    "change_from_central_gbp",
)


def _sensitivity(
    history: History,
    model: cohort.CohortModel,
    costs: CostModel,
    settings: ForecastSettings,
    unmitigated: ScenarioRun,
) -> pd.DataFrame:
    """The unmitigated cumulative balance (central) with one assumption at a time at another value,
    on the same paths; `change_from_central_gbp` against the forecast as set."""
    central = unmitigated.cumulative_balance.mean(axis=0)
    chosen = settings.sensitivity
    runs: list[tuple[str, str, float, ScenarioRun]] = []
    years = complete_years(history)
    for variant, rate in chosen.funding_growth.items():
        funding, source = project_funding(
            history, replace(settings.costs, funding_growth=rate), years, settings.horizon
        )
        runs.append(
            (
                "funding_growth",
                variant,
                rate,
                run_scenario(
                    model,
                    _varied(
                        costs,
                        history,
                        model,
                        funding=funding,
                        funding_source=source,
                        funding_growth=rate,
                    ),
                    settings,
                    [],
                ),
            )
        )
    for variant, rate in chosen.unit_cost_inflation.items():
        runs.append(
            (
                "unit_cost_inflation",
                variant,
                rate,
                run_scenario(model, _varied(costs, history, model, inflation=rate), settings, []),
            )
        )
    caseload = caseload_by_census(history)
    for variant, rate in chosen.historical_inflation.items():
        # the unit costs' growth above inflation measured again with that rate taken off
        measured = estimate_costs(
            history,
            caseload,
            replace(settings.costs, historical_inflation=rate),
            settings.horizon,
        )
        varied = _varied(
            costs,
            history,
            model,
            unit_cost=measured.unit_cost,
            real_growth=measured.real_growth,
            central_real_growth=measured.central_real_growth,
        )
        runs.append(
            ("historical_inflation", variant, rate, run_scenario(model, varied, settings, []))
        )
    for variant, percent in chosen.joiners_percent.items():
        runs.append(
            (
                "joiners_percent",
                variant,
                percent,
                run_scenario(model, costs, settings, [], joiner_factor=1 + percent / 100),
            )
        )
    as_set = {
        "funding_growth": costs.funding_growth,
        "unit_cost_inflation": costs.inflation,
        "joiners_percent": 0.0,
        "historical_inflation": settings.costs.historical_inflation,
    }
    rows = [
        (name, "as set", value, fy, central[y], 0.0)
        for name, value in as_set.items()
        for y, fy in enumerate(unmitigated.financial_years)
    ]
    for name, variant, value, run in runs:
        balance = run.cumulative_balance.mean(axis=0)
        rows += [
            (name, variant, value, fy, balance[y], balance[y] - central[y])
            for y, fy in enumerate(run.financial_years)
        ]
    return pd.DataFrame(rows, columns=list(SENSITIVITY_COLUMNS))
