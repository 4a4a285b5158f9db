"""Unit costs, central spend and funding: what the caseload costs and what pays for it.

* **Unit cost** per provision type = spend ÷ full-time-equivalent placements in the last
  complete financial year. It grows at its real growth — the compound growth of the last
  `unit_cost_years` complete years less the inflation of those years (`historical_inflation`),
  clipped to `real_growth_bounds` — compounded with the cash inflation assumed ahead: pay
  (`pay_inflation`, weighted by `pay_share`, staff being most of what a placement costs) and
  prices (`price_inflation`). Each path draws its real growth once from the spread of the yearly
  changes, within `real_growth_bounds` too (a few noisy years' spread, compounded, had pushed
  paths to absurd or negative unit costs and the mean of the paths with them). Every one of these
  is a setting with its source, shown on the report's first page.
* **FTE per plan**: a January plan in a provision type is, on average, this many full-time
  placements over its financial year (the base year's ratio of FTE to census plans; a type with
  a handful of plans on the census pools its last three years, and one opened within the base
  year takes the council's ratio across types: see _fte_per_plan). Spend = plans on the census
  × FTE per plan × unit cost.
* **Central spend** (no placement) follows its own real growth compounded with inflation, drawn per
  path.
* **Funding**: the budget file's lines for the years it gives (allocations are known a year
  ahead), otherwise the last year's funding grown at `funding_growth` (a stated assumption with
  its source; `null` takes the compound growth of the last `unit_cost_years` complete years,
  which after years of large national uplifts overstates what is to come). A block transfer or
  council contribution is agreed a year at a time: counted in a year the budget file gives it,
  never grown into the years after (a `funding_change` mitigation models one planned).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ingest.contracts import HNB_FUNDING_LINES

from .history import History
from .years import census_year_of_fy, fy_label, fy_of_census_year, fy_start


@dataclass(frozen=True)
class CostSettings:
    unit_cost_years: int = 3
    pay_inflation: float = 0.03
    pay_inflation_source: str = (
        "teachers' pay awards: 5.5% (Sept 2024), 4% (Sept 2025); support staff NJC awards "
        "similar; DfE evidence to the STRB proposes 6.5% over 2026-2029"
    )
    price_inflation: float = 0.02
    price_inflation_source: str = "Bank of England CPI target (OBR forecasts CPI near 2% from 2027)"
    pay_share: float = 0.7
    pay_share_source: str = (
        "staff costs are about 70% of special schools' spending "
        "(DfE consistent financial reporting)"
    )
    historical_inflation: float = 0.035
    historical_inflation_source: str = "UK CPI averaged about 3.5% a year over 2017-2025 (ONS)"
    real_growth_bounds: tuple[float, float] = (-0.05, 0.10)
    # a unit cost (£ a full-time place a year, in the last complete year's prices) for a provision
    # type the finance history has never paid a full-time placement in: a council opening its
    # first resourced provision, say, whose children a mitigation moves there
    new_provision_unit_costs: dict[str, float] = field(default_factory=dict)
    funding_growth: float | None = 0.03
    funding_growth_source: str = (
        "assumed: the high needs NFF funding floor for 2024-25 (+3% a head, DfE NFF policy "
        "document); 2025-26's was +7%. Set the council's own expectation"
    )

    @property
    def inflation(self) -> float:
        """Cash inflation of a unit cost a year ahead: pay and prices, weighted."""
        return self.pay_share * self.pay_inflation + (1 - self.pay_share) * self.price_inflation


@dataclass(frozen=True)
class FirstYearPosted:
    """The first forecast year's postings so far: its spend is what the ledger posted, per
    provision type (P,) and central, plus the share of the modelled full year that the base
    year posted after the same day of its year (`rest`, `rest_central`)."""

    financial_year: str
    posted: np.ndarray
    posted_central: float
    rest: np.ndarray
    rest_central: float


@dataclass(frozen=True)
class CarriedYear:
    """A year between the last complete financial year and the first forecast one (its January
    census is known, its ledger not whole): its balance estimated, as a forecast year's is."""

    financial_year: str
    census_year: int
    funding_gbp: float
    funding_source: str
    spend_gbp: float
    plans: np.ndarray  # (P,) on its January census
    cost_per_plan: np.ndarray  # (P,) its spend per plan: estimated spend of the type ÷ plans
    central_gbp: float
    # the year the ledger stops in: spend posted so far, and the model's full-year estimate (plans
    # × places per plan × unit cost, and central spend) of which the rest of the year is the share
    # the last complete year posted after the same point; None for a year with no postings
    posted_gbp: float | None = None
    full_year_estimate_gbp: float | None = None

    @property
    def balance_gbp(self) -> float:
        return self.funding_gbp - self.spend_gbp


def cash_growth(real, inflation):
    """A year's cash growth of a unit cost: its real growth compounded with inflation, as the
    real growth was measured (past growth ÷ (1 + historical inflation) − 1), so a type whose cost
    grew 8 % a year goes on at 8 % when inflation ahead equals the inflation taken off. Adding
    the two instead lost their product (8 % measured, 7.85 % forecast at 3.5 % inflation)."""
    return (1 + real) * (1 + inflation) - 1


@dataclass
class CostModel:
    provisions: list[str]
    base_fy: str
    unit_cost: np.ndarray  # (P,) in the base year
    real_growth: np.ndarray  # (P,)
    real_growth_sd: np.ndarray  # (P,)
    fte_per_plan: np.ndarray  # (P,)
    central: float
    central_real_growth: float
    central_real_growth_sd: float
    funding: dict[str, float]
    funding_source: dict[str, str]
    # the rate funding grows at in a year the budget file does not give (settings or recent growth)
    funding_growth: float
    base_cumulative_balance: float
    inflation: float
    # the year base_cumulative_balance closes (the year before the first forecast year, once
    # balance_before has run; base_fy until then), and the years it was carried through with
    # estimates because the finance extract does not cover them whole
    balance_year: str = ""
    carried: tuple[CarriedYear, ...] = ()
    # each simulated path's real growth stays within these, as the mean is held to them: the
    # spread of a few noisy years would otherwise compound into paths of absurd (or negative)
    # unit cost, and the mean of the paths, the central figure, with them
    real_growth_bounds: tuple[float, float] = (-1.0, np.inf)
    # base-year spend on placement types with no full-time placements that year, carried in
    # `central` (no unit cost can carry it)
    unplaced_spend: dict[str, float] = field(default_factory=dict)
    # base-year spend on placement types with full-time placements but no plan on the year's
    # census (children placed without a plan, or whose plans ended before January): carried
    # with central spend, grown as the type's unit cost, in a year and path with no plan there
    # (spend_without_plans)
    unplanned_spend: dict[str, float] = field(default_factory=dict)
    # (P,) where each unit cost comes from, when not the base year's own spend ÷ FTE: an earlier
    # year's (carried by historical inflation), the settings' new_provision_unit_costs, or none
    # (None: the base year's own, or nothing to price and none needed)
    unit_cost_source: tuple[str | None, ...] = ()
    # (P,) how each FTE per plan was taken (_fte_per_plan), for forecast.assumptions' source
    fte_per_plan_source: tuple[str, ...] = ()
    unit_cost_known: np.ndarray | None = None  # (P,) bool: False where no unit cost at all
    # (P,) bool: False where fewer than two years of unit cost leave no growth to measure (the
    # type grows at inflation)
    growth_measured: np.ndarray | None = None
    # (P,) the years each measured growth spans ("2023-24 to 2025-26"; "" where not measured):
    # a short ledger measures fewer than unit_cost_years, and the assumption says so
    growth_span: tuple[str, ...] = ()
    # (P,) the cash growth a year measured over growth_span, before real_growth_bounds held it
    # (nan where not measured): a rate held at a bound says how far beyond it the data went
    cash_growth_measured: tuple[float, ...] = ()
    # the first forecast year when the ledger holds part of it (a refresh between April and the
    # January census): what it posted so far, per provision type and central, and the share of
    # the base year's spend posted after the same day of its year, per type and central
    first_year_posted: FirstYearPosted | None = None

    def __post_init__(self) -> None:
        if not self.balance_year:
            self.balance_year = self.base_fy
        if self.unit_cost_known is None:
            self.unit_cost_known = np.ones(len(self.provisions), dtype=bool)
        if not self.unit_cost_source:
            self.unit_cost_source = (None,) * len(self.provisions)
        if not self.fte_per_plan_source:
            self.fte_per_plan_source = (FTE_OWN_YEAR,) * len(self.provisions)
        if self.growth_measured is None:
            self.growth_measured = np.ones(len(self.provisions), dtype=bool)
        if not self.growth_span:
            self.growth_span = ("",) * len(self.provisions)
        if not self.cash_growth_measured:
            self.cash_growth_measured = (float("nan"),) * len(self.provisions)

    def cost_per_plan(self) -> dict[str, float]:
        """Spend a plan costs a year in the base year, per provision type with any (unit cost ×
        full-time placements per plan): the weights of the money-weighted backtest."""
        costs = self.unit_cost * self.fte_per_plan
        return {p: float(c) for p, c in zip(self.provisions, costs, strict=True) if c > 0}


def has_growth(values: pd.Series) -> bool:
    """Whether `values` hold the two positive years compound_growth measures growth over (with
    fewer it gives 0, which is no measurement)."""
    return int((values.dropna() > 0).sum()) >= 2


def compound_growth(values: pd.Series) -> tuple[float, float]:
    """Compound yearly growth across a series, and the spread (sd) of its yearly log changes."""
    values = values[values > 0]
    if len(values) < 2:
        return 0.0, 0.0
    changes = np.diff(np.log(values.to_numpy(dtype=float)))
    rate = float(np.exp(changes.mean()) - 1)
    spread = float(changes.std(ddof=1)) if len(changes) > 1 else abs(float(changes[0])) / 2
    return rate, spread


def complete_years(history: History) -> list[str]:
    years = sorted(history.spend.loc[history.spend["is_complete_year"], "financial_year"].unique())
    if not years:
        raise ValueError("the finance extract covers no complete financial year")
    return years


# census plans below which a type's base-year FTE per plan is not its own year's alone: the
# census is one day and the FTE a whole year, so 2 plans on the census beside 6.3 full-time
# placements over the year (early years, children moving on in September) priced every forecast
# plan at 3.2 places, where the years before held 1.3, and its spend at three times its history
MIN_PLANS_FOR_RATIO = 10
# how _fte_per_plan took a type's ratio (forecast.assumptions' source for fte_per_plan): the
# source had said the base year's own for every type, where a small one's was pooled
FTE_OWN_YEAR = (
    "full-time-equivalent placements in the base year ÷ plans on its January census, so the "
    "first forecast year goes on from that year's spend per plan"
)
FTE_POOLED = (
    f"fewer than {MIN_PLANS_FOR_RATIO} plans on the base year's census: full-time-equivalent "
    "placements ÷ census plans pooled over the last three complete years"
)
FTE_COUNCIL = (
    "the council's full-time-equivalent placements ÷ census plans across its placement types "
    "in the base year: this type {why}"
)
FTE_NONE = "no full-time-equivalent placements against census plans: one place a plan"


def _fte_per_plan(
    fte: pd.Series, plans: pd.Series, base_fy: str, overall: float
) -> tuple[float, str]:
    """FTE per census plan of one provision type (`fte` and `plans` over the last three complete
    years). The base year's (the latest there is): its unit cost × this is the year's
    own spend per plan, so the first forecast year goes on from the last actual one. A mean over
    three years stepped it by as much as they differ (a steady council's independent special
    placements +10 % per plan in one year, stated growth 1.9 %). But a type opened within the
    base year (no full-time placements the year before) holds a part-year share there (0.62 for
    independent special placements begun in the autumn, its spend a third short every year after),
    and it takes the council's ratio across types (`overall`); and one with fewer than
    MIN_PLANS_FOR_RATIO plans on the census takes its three years' pooled ratio, or the council's
    where those hold too few plans too. Returns the ratio and how it was taken."""
    ratio = (fte / plans.where(plans > 0)).dropna()
    if not len(ratio):
        return 1.0, FTE_NONE
    years = list(fte.index)
    before = years[years.index(base_fy) - 1] if base_fy in years and years.index(base_fy) else None
    if before is not None and fte.get(base_fy, 0) > 0 and not fte.get(before, 0) > 0:
        return overall, FTE_COUNCIL.format(why="opened within the base year")
    if plans.get(base_fy, 0) >= MIN_PLANS_FOR_RATIO:
        return float(ratio.iloc[-1]), FTE_OWN_YEAR
    both = fte.notna() & plans.notna() & (plans > 0)
    if plans[both].sum() >= MIN_PLANS_FOR_RATIO:
        return float(fte[both].sum() / plans[both].sum()), FTE_POOLED
    return overall, FTE_COUNCIL.format(
        why=f"had fewer than {MIN_PLANS_FOR_RATIO} census plans over its last three years"
    )


def estimate_costs(
    history: History, caseload: pd.DataFrame, settings: CostSettings, horizon: str
) -> CostModel:
    """`caseload`: plans per census year (rows) × provision type (columns)."""
    years = complete_years(history)
    base_fy = years[-1]
    recent = years[-(settings.unit_cost_years + 1) :]
    spend = history.spend[history.spend["financial_year"].isin(years)]
    spend_wide = spend.pivot_table(
        index="financial_year", columns="provision_type", values="spend_gbp", aggfunc="sum"
    )
    fte_wide = spend.pivot_table(
        index="financial_year", columns="provision_type", values="fte_placements", aggfunc="sum"
    )
    census_for_fy = caseload.rename(index=fy_of_census_year)
    # the council's FTE per plan across its placement types in the base year: what a type whose
    # own base-year ratio says little (a handful of plans, or a type opened within the year)
    # takes instead
    placed = [p for p in history.provision_types if p != "central"]
    base_fte = fte_wide.reindex(index=[base_fy], columns=placed).sum(axis=1).sum()
    base_plans = census_for_fy.reindex(index=[base_fy], columns=placed).sum(axis=1).sum()
    overall = float(base_fte / base_plans) if base_plans > 0 and base_fte > 0 else 1.0
    low, high = settings.real_growth_bounds
    unit_cost, real_growth, real_sd, fte_per_plan, measured = [], [], [], [], []
    spans: list[str] = []
    cash_measured: list[float] = []
    fte_sources: list[str] = []
    sources: list[str | None] = []
    known: list[bool] = []
    empty = pd.Series(dtype=float)
    for provision in history.provision_types:
        fte = fte_wide.get(provision, empty).reindex(recent[-3:])
        plans = census_for_fy.get(provision, empty).reindex(recent[-3:])
        ratio, how = _fte_per_plan(fte, plans, base_fy, overall)
        fte_per_plan.append(ratio)
        fte_sources.append(how)
        unit = (
            spend_wide.get(provision, empty) / fte_wide.get(provision, empty).where(lambda s: s > 0)
        ).reindex(recent)
        base, source = _base_unit_cost(provision, spend_wide, fte_wide, base_fy, settings)
        unit_cost.append(base if base is not None else 0.0)
        sources.append(source)
        known.append(base is not None)
        rate, sd = compound_growth(unit.dropna())
        # one year of unit cost (a type opened last year, or priced only by the settings) has
        # no growth to measure: it grows at inflation. Its "0 % growth" less historical inflation
        # had it cheaper in cash every year (-3.4 % real)
        measured.append(has_growth(unit))
        priced = unit.dropna()
        priced = priced[priced > 0]
        spans.append(f"{priced.index[0]} to {priced.index[-1]}" if measured[-1] else "")
        real = (1 + rate) / (1 + settings.historical_inflation) - 1 if measured[-1] else 0.0
        cash_measured.append(float(rate) if measured[-1] else float("nan"))
        real_growth.append(float(np.clip(real, low, high)))
        real_sd.append(sd)
    central = spend_wide.get("central", empty).reindex(recent).fillna(0)
    # spend on a placement type in a year with no full-time placements in it (place funding for
    # a unit whose children the placements extract does not hold, a provider paid with no spell)
    # has no unit cost to carry it: it goes with central spend rather than out of the forecast
    unplaced: dict[str, float] = {}
    for provision in history.provision_types:
        if provision == "central" or provision not in spend_wide:
            continue
        fte = fte_wide.get(provision, empty).reindex(recent).fillna(0)
        moved = spend_wide[provision].reindex(recent).fillna(0).where(fte <= 0, 0.0)
        if moved.get(base_fy, 0.0) != 0:
            unplaced[provision] = float(moved[base_fy])
        central = central + moved
    central_rate, central_sd = compound_growth(central)
    # (only against a census the caseload holds: without one, no type has plans to price it)
    census_held = base_fy in census_for_fy.index
    unplanned = {
        provision: float(spend_wide[provision][base_fy])
        for provision, cost in zip(history.provision_types, unit_cost, strict=True)
        if census_held
        and provision != "central"
        and provision not in unplaced
        and provision in spend_wide
        and spend_wide[provision].get(base_fy, 0.0) > 0
        and cost > 0
        and not census_for_fy.get(provision, empty).get(base_fy, 0.0) > 0
    }
    funding, source = project_funding(history, settings, years, horizon)
    position = history.position.set_index("financial_year")
    balance = (
        float(position.loc[base_fy, "cumulative_balance_gbp"]) if base_fy in position.index else 0.0
    )
    return CostModel(
        provisions=history.provision_types,
        base_fy=base_fy,
        unit_cost=np.array(unit_cost),
        real_growth=np.array(real_growth),
        real_growth_sd=np.array(real_sd),
        fte_per_plan=np.array(fte_per_plan),
        central=float(central.get(base_fy, 0.0)),
        central_real_growth=float(
            np.clip((1 + central_rate) / (1 + settings.historical_inflation) - 1, low, high)
            if has_growth(central)
            else 0.0
        ),
        central_real_growth_sd=central_sd,
        funding=funding,
        funding_source=source,
        funding_growth=funding_rate(history, settings, years)[0],
        base_cumulative_balance=balance,
        inflation=settings.inflation,
        real_growth_bounds=(low, high),
        unplaced_spend=unplaced,
        unplanned_spend=unplanned,
        unit_cost_source=tuple(sources),
        fte_per_plan_source=tuple(fte_sources),
        unit_cost_known=np.array(known, dtype=bool),
        growth_measured=np.array(measured, dtype=bool),
        growth_span=tuple(spans),
        cash_growth_measured=tuple(cash_measured),
    )


def _base_unit_cost(
    provision: str,
    spend_wide: pd.DataFrame,
    fte_wide: pd.DataFrame,
    base_fy: str,
    settings: CostSettings,
) -> tuple[float | None, str | None]:
    """A provision type's unit cost in the base year, and where it comes from when not from
    that year's own spend ÷ FTE (None: it does; or there is no unit cost).

    Without full-time placements in the base year, children the forecast puts in the type
    (moves learned from earlier years, a mitigation's shift) were priced at £0, and a shift
    into it read as a saving of their whole cost. They are priced at the latest complete year's
    unit cost, carried to the base year by `historical_inflation`, else at the settings'
    `new_provision_unit_costs`. Spend on the type in the base year without full-time placements
    stays in central spend (estimate_costs), so it is not priced twice."""
    empty = pd.Series(dtype=float)
    spend = spend_wide.get(provision, empty)
    fte = fte_wide.get(provision, empty)
    unit = (spend / fte.where(fte > 0)).dropna()
    unit = unit[unit.index.astype(str) <= base_fy]
    paid = unit[unit > 0]
    given = settings.new_provision_unit_costs.get(provision)
    if base_fy in unit.index and unit[base_fy] > 0:
        return float(unit[base_fy]), None
    if base_fy in unit.index and paid.empty and given is None:
        # (no net spend in any year: a type whose places nothing pays for, none or other)
        return max(float(unit[base_fy]), 0.0), None
    if len(paid):
        # no placements in the base year, or placements the ledger paid nothing for that year
        # though it paid for the type before (one child's unpaid year priced every child of
        # the type at £0 in the forecast)
        year = str(paid.index[-1])
        gap = fy_start(base_fy) - fy_start(year)
        carried = float(paid.iloc[-1]) * (1 + settings.historical_inflation) ** gap
        why = (
            f"no net spend on its full-time placements in {base_fy}"
            if base_fy in unit.index
            else f"no full-time placements in {base_fy}"
        )
        return carried, (
            f"{why}: {year}'s unit cost (£{paid.iloc[-1]:,.0f}) carried {gap} year(s) at "
            f"{settings.historical_inflation:.1%} inflation"
        )
    if given is not None:
        return float(given), (
            f"no full-time placements paid for in the finance history up to {base_fy}: "
            f"costs.new_provision_unit_costs (£{float(given):,.0f})"
        )
    return None, None


def balance_before(
    costs: CostModel, history: History, caseload: pd.DataFrame, first_forecast_fy: str
) -> CostModel:
    """`costs` with the cumulative balance at the end of the year before `first_forecast_fy`,
    where the forecast's yearly balances start from.

    The forecast years follow the last census, the costs the last complete financial year. When
    the ledger is behind the census (a refresh between January and March: the census is in, the
    year's ledger not whole), the years between are neither actual nor forecast: each is carried
    through with its balance estimated as a forecast year's (its census's plans × full-time
    placements per plan × unit costs grown from the base year, plus central spend; its funding
    from the budget file or grown), so no year's deficit drops out of the cumulative balance.
    The year the ledger stops in keeps what it has posted: its spend is that, per provision type,
    plus the part of the full-year estimate the base year posted after the same day of its year
    (eleven months in the ledger, and a base year that posted 8 % of its spend in March: the
    estimate's 8 %). It was the estimate alone, whatever the ledger already held.
    A ledger ahead of the census (complete years reaching past the year of the last census) is
    refused: the forecast would start at a year the ledger already holds."""
    last = fy_label(fy_start(first_forecast_fy) - 1)
    if fy_start(last) < fy_start(costs.base_fy):
        raise ValueError(
            f"the finance extract's complete years reach {costs.base_fy} but the last census is "
            f"January {census_year_of_fy(last)}: the forecast would start at {first_forecast_fy}, "
            "a year the ledger already holds; load plans and placements extracts that reach "
            f"the census of January {census_year_of_fy(costs.base_fy)} (taken after census day: "
            "a census either stops well before is not counted, and the check "
            "case_extracts_reach_census names the one that does)"
        )
    carried = []
    for step, start in enumerate(range(fy_start(costs.base_fy) + 1, fy_start(last) + 1), 1):
        fy = fy_label(start)
        census = census_year_of_fy(fy)
        if census not in caseload.index or fy not in costs.funding:
            raise ValueError(
                f"{fy} is not complete in the finance extract and its January {census} census "
                "or its funding is missing, so its balance cannot be estimated"
            )
        plans = caseload.loc[census].reindex(costs.provisions, fill_value=0).to_numpy(dtype=float)
        per_plan = costs.fte_per_plan * (
            costs.unit_cost * (1 + cash_growth(costs.real_growth, costs.inflation)) ** step
        )
        central = (
            costs.central * (1 + cash_growth(costs.central_real_growth, costs.inflation)) ** step
        )
        by_type, posted, estimate = plans * per_plan, None, None
        so_far = _posted_so_far(history, fy, costs)
        if so_far is not None:
            estimate = float(by_type.sum() + central)
            (posted_types, posted_central), (rest_types, rest_central) = so_far
            by_type = posted_types + rest_types * by_type
            central = posted_central + rest_central * central
            posted = float(posted_types.sum() + posted_central)
            # a type's spend with no plan on the census cannot be a cost per plan: central's
            unplanned = (plans <= 0) & (by_type != 0)
            central += float(by_type[unplanned].sum())
            by_type = np.where(unplanned, 0.0, by_type)
            per_plan = np.where(plans > 0, by_type / np.where(plans > 0, plans, 1.0), per_plan)
        grown = costs.unit_cost * (1 + cash_growth(costs.real_growth, costs.inflation)) ** step
        central += float(
            spend_without_plans(costs, plans, grown, rest_types if so_far is not None else None)
        )
        carried.append(
            CarriedYear(
                fy,
                census,
                costs.funding[fy],
                costs.funding_source[fy],
                float(by_type.sum() + central),
                plans,
                per_plan,
                float(central),
                posted,
                estimate,
            )
        )
    balance = costs.base_cumulative_balance + sum(year.balance_gbp for year in carried)
    # the first forecast year may have begun too (a refresh between April and the January
    # census): what the ledger posted of it stays, as for a year carried (its spend had been
    # the model's alone, whatever the ledger held)
    so_far = _posted_so_far(history, first_forecast_fy, costs)
    first = (
        FirstYearPosted(first_forecast_fy, so_far[0][0], so_far[0][1], *so_far[1])
        if so_far is not None
        else None
    )
    return replace(
        costs,
        balance_year=last,
        base_cumulative_balance=balance,
        carried=tuple(carried),
        first_year_posted=first,
    )


def spend_without_plans(
    costs: CostModel, plans: np.ndarray, unit_cost: np.ndarray, rest: np.ndarray | None = None
) -> np.ndarray:
    """The base year's spend on placement types with no plan on its census
    (`costs.unplanned_spend`), in a year whose plans (..., P) hold none there either: grown as
    the type's unit cost (`unit_cost`, the year's, (..., P)), and where the ledger has posted
    part of the year, the share `rest` (P,) the base year posted after the same day (what it
    posted so far is the year's own). Summed over types: (...). It is central spend, as
    DESIGN.md's drivers count spend on a type without plans: priced per plan it had dropped out
    of the forecast (£35k a year of a small council's alternative provision), while a year and
    path where the forecast does hold plans there prices them instead."""
    amount = np.array([costs.unplanned_spend.get(p, 0.0) for p in costs.provisions])
    if not amount.any():
        return np.zeros(np.shape(plans)[:-1])
    carried = amount * unit_cost / np.where(costs.unit_cost > 0, costs.unit_cost, 1.0)
    if rest is not None:
        carried = carried * rest
    return np.where(np.asarray(plans) <= 0, carried, 0.0).sum(axis=-1)


def _posted_so_far(
    history: History, fy: str, costs: CostModel
) -> tuple[tuple[np.ndarray, float], tuple[np.ndarray, float]] | None:
    """For `fy` when the ledger stops in it: the spend posted so far per provision type (P,) and
    central (with the types no plan is costed in), and the share of the base year's spend
    posted after the same point of its year, per type and central (a type with no base-year
    spend takes the whole ledger's share). None when the ledger holds nothing of `fy`."""
    spend = history.spend
    if spend.empty or fy != max(spend["financial_year"], key=fy_start):
        return None

    def parts(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, float]:
        values = frame.set_index("provision_type")[column]
        types = values.reindex(costs.provisions, fill_value=0.0).to_numpy(dtype=float)
        return types, float(values.drop(costs.provisions, errors="ignore").sum())

    base = spend[spend["financial_year"] == costs.base_fy]
    (spent, spent_central), (by_point, by_point_central) = (
        parts(base, c) for c in ("spend_gbp", "spend_by_ledger_point_gbp")
    )

    def after_point(posted: np.ndarray | float, whole: np.ndarray | float, default: float):
        share = np.divide(posted, whole, out=np.full(np.shape(whole), np.nan), where=whole > 0)
        # (a base year that had posted a net credit by the day, April's reversal of March's
        # accruals, has more than its whole year left to post: the rest exceeds 1)
        return np.where(np.isnan(share), default, 1 - np.minimum(share, 1.0))

    total, total_by_point = spent.sum() + spent_central, by_point.sum() + by_point_central
    if total <= 0:
        return None
    whole_ledger = float(after_point(total_by_point, total, np.nan))
    rest = after_point(by_point, spent, whole_ledger)
    rest_central = float(after_point(by_point_central, spent_central, whole_ledger))
    return parts(spend[spend["financial_year"] == fy], "spend_gbp"), (rest, rest_central)


# income a council or its Schools Forum agrees a year at a time: counted in the year the budget
# file gives it, never assumed to recur in a year it does not (a funding mitigation says so)
DECIDED_EACH_YEAR = ("block_transfer", "la_contribution")


def decided_each_year(history: History) -> pd.Series:
    """Per financial year, the budget file's block transfer and council contribution."""
    budget = history.budget[history.budget["line"].isin(DECIDED_EACH_YEAR)]
    return budget.groupby("financial_year")["amount_gbp"].sum()


def recurring_funding(history: History) -> pd.Series:
    """Each past year's funding without its block transfer and council contribution: what a year
    the budget file does not give grows from."""
    actual = history.position.set_index("financial_year")["funding_gbp"]
    return actual - decided_each_year(history).reindex(actual.index, fill_value=0.0)


def funding_rate(history: History, settings: CostSettings, years: list[str]) -> tuple[float, str]:
    """The rate a forecast year's funding grows at when the budget file does not give it: the
    settings' `funding_growth`, or with none the recurring funding's recent growth; and which
    it is."""
    if settings.funding_growth is not None:
        return settings.funding_growth, "assumed"
    actual = recurring_funding(history)
    recent = [fy for fy in years[-(settings.unit_cost_years + 1) :] if fy in actual.index]
    rate, _ = compound_growth(actual.reindex(recent).dropna())
    return rate, "recent growth"


def project_funding(
    history: History, settings: CostSettings, years: list[str], horizon: str
) -> tuple[dict[str, float], dict[str, str]]:
    """Funding per forecast year and where it comes from: a year the budget file gives high needs
    lines for takes their sum as the mart adds them up (HNB_FUNDING_LINES: never the balance
    brought forward, nor the other DSG blocks' lines the file may also hold). A year it does not
    give grows from the year before without its block transfer and council contribution, which
    are agreed a year at a time (DECIDED_EACH_YEAR)."""
    budget = history.budget[history.budget["line"].isin(HNB_FUNDING_LINES)]
    signed = np.where(
        budget["line"] == "place_deductions", -budget["amount_gbp"].abs(), budget["amount_gbp"]
    )
    given = pd.Series(signed, index=budget.index).groupby(budget["financial_year"]).sum().to_dict()
    allocated = set(budget.loc[budget["line"] == "hnb_allocation", "financial_year"])
    partial = sorted(
        fy for fy in given if fy not in allocated and fy_start(fy) > fy_start(years[-1])
    )
    if partial:
        # a planned transfer or deduction alone is not the year's funding: taken as it, the
        # allocation would read as nothing and the year's whole spend as deficit
        lines = sorted(set(budget.loc[budget["financial_year"].isin(partial), "line"]))
        raise ValueError(
            f"the budget file gives {', '.join(lines)} for {', '.join(partial)} but no "
            "hnb_allocation: a year's funding is taken from the budget file only with its "
            "allocation; add the year's hnb_allocation (the DfE's provisional allocation, or the "
            "council's estimate) or leave the year out of the file to have its funding grown"
        )
    decided = decided_each_year(history)
    rate, basis = funding_rate(history, settings, years)
    funding: dict[str, float] = {}
    source: dict[str, str] = {}
    value = float(recurring_funding(history).get(years[-1], 0.0))
    left_out = float(decided.get(years[-1], 0.0))
    grown_from = years[-1]
    for start in range(fy_start(years[-1]) + 1, fy_start(horizon) + 1):
        fy = fy_label(start)
        if fy in given:
            funding[fy], source[fy] = float(given[fy]), "budget file"
            left_out = float(decided.get(fy, 0.0))
            value = funding[fy] - left_out
            grown_from = fy
            continue
        # what it grows from, said: a one-off in the year's other income recurs with it
        grown = (
            f"grown {rate:+.1%} a year ({basis}) from {grown_from}'s allocation less place "
            "deductions, with its other income"
        )
        if left_out:
            # said where the funding's source is: the balance would otherwise rest on it unseen
            grown += (
                f", without {fy_label(start - 1)}'s block transfer and council contribution "
                f"({'−' if left_out < 0 else ''}£{abs(left_out) / 1e6:,.1f}m), agreed a year "
                "at a time"
            )
            left_out = 0.0
        value *= 1 + rate
        funding[fy], source[fy] = round(value, 2), grown  # to the penny, as the file's
    return funding, source


@dataclass
class CostPaths:
    unit_cost: np.ndarray  # (paths, years, P)
    central: np.ndarray  # (paths, years)
    funding: np.ndarray  # (paths, years)


@dataclass
class CostLevers:
    """Cost-side mitigations, per forecast step: additions to growth, level factors, funding."""

    growth: np.ndarray  # (years, P) added to the yearly growth
    level: np.ndarray  # (years, P) one-off factors, applied in the year they start
    central_level: np.ndarray  # (years,)
    funding: np.ndarray  # (years,) added


def no_levers(years: int, provisions: int) -> CostLevers:
    return CostLevers(
        np.zeros((years, provisions)), np.ones((years, provisions)), np.ones(years), np.zeros(years)
    )


def _draw_growth(rate, spread: np.ndarray, low: float, high: float) -> np.ndarray:
    """Each path's real growth: the rate plus its spread, the spread held within the distance
    from the rate to the nearer bound, so the draws stay within the bounds and their mean is the
    rate the assumptions state. Clipped at the bounds alone, a rate near one was raised on
    average: mss at -3.0 % real beside the -5 % floor drew -2.3 % on average, its central unit
    cost 3.5 % above the stated rate's in four years."""
    room = np.maximum(np.minimum(np.asarray(rate) - low, high - np.asarray(rate)), 0.0)
    return rate + np.clip(spread, -room, room)


def _compound(
    model: CostModel,
    real: np.ndarray,
    central_real: np.ndarray,
    gap: int,
    years: int,
    levers: CostLevers,
) -> tuple[np.ndarray, np.ndarray]:
    """Unit costs (paths × years × types) and central spend (paths × years) grown from the base
    year at each path's real growth (`real`: paths × types, `central_real`: paths) compounded
    with inflation: `gap` years to the first forecast year without levers, then `years` with the
    levers' points and levels applied."""
    paths, P = real.shape
    unit = np.empty((paths, years, P))
    central = np.empty((paths, years))
    grows = 1 + cash_growth(real, model.inflation)
    central_grows = 1 + cash_growth(central_real, model.inflation)
    cost = np.broadcast_to(model.unit_cost, (paths, P)) * grows**gap
    central_now = np.full(paths, model.central) * central_grows**gap
    for step in range(years):
        # a lever's growth (a mitigation's points a year) moves the cash growth
        cost = cost * (grows + levers.growth[step]) * levers.level[step]
        central_now = central_now * central_grows * levers.central_level[step]
        unit[:, step] = cost
        central[:, step] = central_now
    return unit, central


def simulate_costs(
    model: CostModel, financial_years: list[str], paths: int, seed: int, levers: CostLevers
) -> CostPaths:
    """Each path's unit costs and central spend: a real growth drawn once per path around the
    stated rate (`_draw_growth`), compounded with inflation and the levers. Each year's paths are
    then scaled so that their mean is the stated rate's compounding: a rate's spread compounds
    to a mean above it (E[(1 + g)^t] > (1 + E[g])^t), and the central forecast had run above the
    growth the assumptions publish (independent special's unit cost £85,870 in 2028-29 against
    £85,316 at its stated 6.4 % a year: £273k over three years). The spread, the intervals'
    part, is kept; the central figure is what the published assumptions compute."""
    rng = np.random.default_rng([seed, 2])
    P, years = len(model.provisions), len(financial_years)
    low, high = model.real_growth_bounds
    real = _draw_growth(
        model.real_growth, model.real_growth_sd * rng.standard_normal((paths, P)), low, high
    )
    central_real = _draw_growth(
        model.central_real_growth,
        model.central_real_growth_sd * rng.standard_normal(paths),
        low,
        high,
    )
    # years between the costs' base year and the first forecast year grow without levers
    gap = fy_start(financial_years[0]) - fy_start(model.base_fy) - 1
    unit, central = _compound(model, real, central_real, gap, years, levers)
    stated_unit, stated_central = _compound(
        model,
        np.asarray(model.real_growth, dtype=float).reshape(1, P),
        np.array([model.central_real_growth], dtype=float),
        gap,
        years,
        levers,
    )
    mean_unit, mean_central = unit.mean(axis=0), central.mean(axis=0)
    # a type or central spend of nothing stays nothing
    unit *= np.divide(stated_unit[0], mean_unit, out=np.ones_like(mean_unit), where=mean_unit != 0)
    central *= np.divide(
        stated_central[0], mean_central, out=np.ones_like(mean_central), where=mean_central != 0
    )
    funding = np.array([model.funding[fy] for fy in financial_years]) + levers.funding
    return CostPaths(unit, central, np.broadcast_to(funding, (paths, years)).copy())


def census_years_for(base_fy: str, horizon: str) -> list[int]:
    return list(range(census_year_of_fy(base_fy) + 1, census_year_of_fy(horizon) + 1))
