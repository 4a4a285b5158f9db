"""The caseload model: children with a plan, by curriculum age and provision type, year by year.

Between two January censuses every child either leaves (the plan ceases, they move away, they
leave at the end of the academic year they turn 25) or ages one year and stays in — or moves to
another — provision type; new children join at every age. So, for census year t → t + 1, per
simulated path:

    leavers(a, p)        ~ Binomial(N_t(a, p), q(a, p))
    stayers(a, p → p')   ~ Multinomial(N_t(a, p) − leavers, M(a, p, ·))
    joiners(a + 1, p')   ~ Poisson(J_{t+1} × share(a + 1, p'))
    N_{t+1}(a + 1, p')   = Σ_p stayers(a, p → p') + joiners(a + 1, p')

**Estimation** from `marts.fct_ehcp_transitions` (one row per year, age and provision from/to):

* Years are weighted by recency (`recency` ** years before the last), so rates follow recent
  practice without being thrown by one odd year.
* Leave rates q(a, p): each cell's leavers are shrunk towards the rate of all provision types
  at neighbouring ages (a prior worth `prior_strength` children), so a cell with three children
  gets a sensible rate. Everyone 24 on 31 August (who turns 25 in the academic year) leaves.
* Moves M(a, p, ·) among those who stay: each cell is shrunk towards the moves of the same
  provision type at the ages of the same phase transition (AGE_GROUPS: e.g. all of 11–14 share
  a prior; the Year 6 → 7 and Year 11 → 12 transfers have their own), and with no data at all a
  child stays where they are.
* Joiners grow at the caseload's growth. With the DfE's published files and a council they
  hold (`pooled_growth`), that is the growth those files say a council with this caseload
  history goes on to have: England's rate plus the share of the council's own excess that
  persisted across every published council (forecast.aggregate.council_growth), its spread
  theirs. Measured on every published council from every origin 2016–2022, 3 years ahead, that
  growth beat the council's own five-year trend (9.2 % WAPE against 12.4 %) and the two pooled
  (10.0 %), so the council's own trend is not pooled in (test_aggregate). Without them, it is the
  caseload's own growth over its last three years, as compound growth carries it forward, with
  the spread that projection's errors had on the published councils (`own_growth_se`).
* The joiners' level is then set for the expected caseload to grow at that rate over the next
  three censuses, and their slope's spread for the caseload's 3-year spread to be the one stated:
  see _anchor_to_caseload_growth. (Their own log-linear trend, and its residuals' spread as the
  yearly shocks, remain where no caseload growth can be read.)
* Where a population projection by age is given, joiners are a rate per head of each age,
  trended the same way (not anchored), times the projected population. An optional ceiling on
  plans per 1,000 population (needs the projection) caps joiners once prevalence reaches it.
* Where they join (age × provision) is the recency-weighted share, smoothed by the product of its
  margins.
* Capacity (optional places per provision type): children arriving in a full provision type go
  to its named overflow (`mss` → `inmss`, as DBV councils found), children already there stay;
  a type above its places (a capacity set below the census) takes no newcomer until those who
  stay are fewer than its places.

**Uncertainty**: each path draws its own q (Beta), M (Dirichlet) and joiner trend (normal on
the slope, its spread set as above and at least `min_trend_se`) once — parameter uncertainty
that persists along the path — then the binomial, multinomial and Poisson draws each year are
the process noise, plus a yearly lognormal shock on joiners with the spread the trend's
residuals showed. Paths are seeded, and each provision type draws its process noise from its
own stream, so a provision type that no mitigation reaches gets exactly the same paths in every
scenario.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# the caseload's own growth, without the published files: compound growth's three years
from .baselines import GROWTH_YEARS

MAX_AGE = 25
AGES = np.arange(0, MAX_AGE + 1)
# Ages (on the earlier census) whose moves share a prior: the phase transfers are their own.
AGE_GROUPS = ((0, 3), (4, 4), (5, 9), (10, 10), (11, 14), (15, 15), (16, 17), (18, 18), (19, 25))
JOINED, LEFT = "joined", "left"
# A provision type that no child entered (joining, or moving in from another type) on the last
# census, or the last CLOSED_YEARS, and that holds none on the base census has stopped taking
# children (a unit or a PRU closed, a contract ended) where its entries before made no entry that
# long less likely than CLOSED_CHANCE (Poisson at their mean a year). The recency-weighted shares
# would otherwise go on sending it children from its earlier years: an AP closed two years before
# was forecast 9 plans and £177k by 2028-29, growing; an EOTAS service emptied a year before the
# base census (children entering it until then, every one moved on) was forecast 21 plans and
# £0.59m a year by 2028-29.
CLOSED_YEARS = 2
CLOSED_CHANCE = 0.05


class CohortInputError(ValueError):
    """The transitions history cannot support the model; the message says what is missing."""


@dataclass(frozen=True)
class CohortSettings:
    recency: float = 0.9
    prior_strength: float = 5.0
    # Rates drift from year to year more than sampling alone explains: no cell's rate is held
    # with more confidence than this many children would give.
    max_effective_children: float = 100.0
    trend_years: int = 5
    # growth has not damped in the published data (England 9-12 % a year 2017-2025, and councils'
    # excess persists in part); on the synthetic council's backtest 0.9 under-forecast 3 years ahead
    damping: float = 1.0
    min_years: int = 2
    # No council's past growth, however smooth, pins down its next years': across the DfE's
    # published councils a council's growth three years on missed its trend by about 3 points a
    # year (the aggregate backtest); the joiner trend is held no tighter than this.
    min_trend_se: float = 0.03
    # Without the published files (or with pool_with_published off) the caseload grows at its own
    # last three years' rate, with this spread a year: across every published council from every
    # origin 2016-2022, that projection missed its outcome three years on by 5.2 points a year
    # (p10-p90 of the log errors, as a normal sd; 6.4 one year on, 5.4 two)
    own_growth_se: float = 0.05
    # With the DfE's published files and the council's LA code, joiners grow at what the files
    # say councils' caseloads grew at after a history like this one's (see estimate)
    pool_with_published: bool = True


@dataclass
class Mitigations:
    """The caseload levers of a scenario, already resolved to arrays (see forecast.scenarios)."""

    joiner_factor: np.ndarray | None = None  # (years, A, P): multiplies expected joiners
    # (first step, from, to, share)
    joiner_shift: list[tuple[int, list[int], int, float]] = field(default_factory=list)
    # (first step, into, to, share)
    move_shift: list[tuple[int, list[int], int, float]] = field(default_factory=list)
    # (step, from, to, ages, share)
    stop_flows: list[tuple[int, list[int], int, tuple[int, int], float]] = field(
        default_factory=list
    )
    extra_capacity: np.ndarray | None = None  # (years, P): places added


@dataclass
class CohortModel:
    provisions: list[str]
    base_year: int
    base: np.ndarray  # (A, P) children on the last census
    leave_alpha: np.ndarray  # (A, P) Beta posterior
    leave_beta: np.ndarray
    # (A, P, P) Dirichlet posterior over the provision type a stayer moves to
    move_alpha: np.ndarray
    joiner_share: np.ndarray  # (A, P), sums to 1
    joiner_level: float  # log joiners (or log rate per head) in the base year, from the trend
    joiner_slope: float
    joiner_slope_se: float
    joiner_noise: float
    population: pd.DataFrame | None = None  # year × age populations (rows: years, columns: ages)
    joiner_age_share: np.ndarray | None = (
        None  # (A,) when joiners are per head: share of rate by age
    )
    prevalence_ceiling: float | None = None  # plans per 1,000 population aged 0–25
    capacity: np.ndarray | None = None  # (P,) places; inf where unlimited
    overflow_to: np.ndarray | None = (
        None  # (P,) index of the overflow provision type (or own index)
    )
    settings: CohortSettings = field(default_factory=CohortSettings)
    notes: list[str] = field(default_factory=list)
    # what the notes say of each mitigation by name, for forecast.mitigations' note column
    mitigation_notes: dict[str, list[str]] = field(default_factory=dict)
    # where the joiners' growth comes from: the published files or the caseload's own growth
    # (None: their own trend, with a population projection or no caseload to read)
    growth_source: str | None = None
    # set when the joiners are anchored to the caseload's growth (_anchor_to_caseload_growth):
    # beyond ANCHOR_YEARS their trend's spread is held to what that growth's spread gives
    anchored: bool = False
    # provision types that have stopped taking children (_closed_types): type → children who
    # entered it a year before they stopped; the model sends them no joiner and no move
    closed: dict[str, float] = field(default_factory=dict)
    # and the censuses (1 or CLOSED_YEARS) on which none entered it
    closed_after: dict[str, int] = field(default_factory=dict)

    @property
    def leave_rate(self) -> np.ndarray:
        return self.leave_alpha / (self.leave_alpha + self.leave_beta)

    @property
    def move_rate(self) -> np.ndarray:
        return self.move_alpha / self.move_alpha.sum(axis=2, keepdims=True)


def _clip_age(values: pd.Series) -> pd.Series:
    return values.clip(lower=0, upper=MAX_AGE)


def estimate(
    transitions: pd.DataFrame,
    provisions: list[str],
    settings: CohortSettings = CohortSettings(),
    population: pd.DataFrame | None = None,
    prevalence_ceiling: float | None = None,
    capacity: dict[str, float] | None = None,
    overflow: dict[str, str] | None = None,
    upto_year: int | None = None,
    pooled_growth: tuple[float, float, str] | None = None,
) -> CohortModel:
    """Fit the model on transitions up to `upto_year` (the last census used; default all).
    `pooled_growth` (rate, standard error, source): what the DfE's published files say the
    council's caseload will grow at a year (forecast.aggregate.council_growth, as at the same
    census); joiners then grow at it instead of at the caseload's own."""
    frame = transitions.copy()
    if upto_year is not None:
        frame = frame[frame["year"] <= upto_year]
    years = sorted(frame["year"].unique())
    if len(years) < settings.min_years:
        raise CohortInputError(
            f"the warehouse holds {len(years)} census-to-census transition(s); the cohort model "
            f"needs at least {settings.min_years} ({settings.min_years + 1} January censuses). "
            "The censuses counted start where the finance ledger does (history_start_date in "
            "intermediate.int_data_as_at: before it, spend and placements are not known), "
            "however far back the plans extract reaches: it needs a ledger reaching back "
            f"{settings.min_years + 1} censuses"
        )
    last = years[-1]
    weight = settings.recency ** (last - frame["year"])
    frame = frame.assign(weight=weight * frame["children"])
    index = {p: i for i, p in enumerate(provisions)}
    P, A = len(provisions), len(AGES)
    notes: list[str] = []
    unknown = set(frame["provision_from"]) | set(frame["provision_to"])
    unknown -= set(provisions) | {JOINED, LEFT}
    if unknown:
        notes.append(f"provision types not modelled, dropped: {', '.join(sorted(unknown))}")
        frame = frame[
            frame["provision_from"].isin(provisions + [JOINED])
            & frame["provision_to"].isin(provisions + [LEFT])
        ]

    def cells(rows: pd.DataFrame, age: str, provision: str) -> tuple[np.ndarray, np.ndarray]:
        return (
            _clip_age(rows[age]).to_numpy(dtype=int),
            rows[provision].map(index).to_numpy(dtype=int),
        )

    # children on the base census: those present on the last census (joined or stayed)
    on_last = frame[(frame["year"] == last) & (frame["provision_to"] != LEFT)]
    base = np.zeros((A, P))
    np.add.at(
        base, cells(on_last, "age_to", "provision_to"), on_last["children"].to_numpy(dtype=float)
    )

    present = frame[frame["provision_from"] != JOINED]
    ages_from, p_from = cells(present, "age_from", "provision_from")
    at_risk = np.zeros((A, P))
    left = np.zeros((A, P))
    moved = np.zeros((A, P, P))
    np.add.at(at_risk, (ages_from, p_from), present["weight"].to_numpy())
    leaving = (present["provision_to"] == LEFT).to_numpy()
    np.add.at(left, (ages_from[leaving], p_from[leaving]), present["weight"].to_numpy()[leaving])
    staying = ~leaving
    np.add.at(
        moved,
        (
            ages_from[staying],
            p_from[staying],
            present["provision_to"][staying].map(index).to_numpy(dtype=int),
        ),
        present["weight"].to_numpy()[staying],
    )

    # leave rates: shrink to all provision types at neighbouring ages
    k = settings.prior_strength
    pooled_risk = at_risk.sum(axis=1)
    pooled_left = left.sum(axis=1)
    kernel = np.array([1.0, 2.0, 1.0])
    neighbour_risk = np.convolve(pooled_risk, kernel, mode="same")
    neighbour_left = np.convolve(pooled_left, kernel, mode="same")
    overall = pooled_left.sum() / max(pooled_risk.sum(), 1e-9)
    prior_q = np.where(
        neighbour_risk > 0, neighbour_left / np.maximum(neighbour_risk, 1e-9), overall
    )
    prior_q = np.clip(prior_q, 0.005, 0.995)
    leave_alpha = left + k * prior_q[:, None]
    leave_beta = (at_risk - left) + k * (1 - prior_q[:, None])
    capped = _cap_confidence(
        np.stack([leave_alpha, leave_beta], axis=-1), settings.max_effective_children
    )
    leave_alpha, leave_beta = capped[..., 0], capped[..., 1]
    # a plan runs at most to the end of the academic year in which the young person turns 25:
    # nobody 24 on 31 August is on the next census (nor anyone older, whatever the history says)
    leave_alpha[MAX_AGE - 1 :, :], leave_beta[MAX_AGE - 1 :, :] = 1e6, 1e-6

    # moves: shrink to the same provision type's moves over the ages of the same transition
    group_prior = np.zeros((A, P, P))
    for low, high in AGE_GROUPS:
        rows = moved[low : high + 1].sum(axis=0)  # (P, P)
        totals = rows.sum(axis=1, keepdims=True)
        prior = np.where(totals > 0, rows / np.maximum(totals, 1e-9), np.eye(P))
        group_prior[low : high + 1] = prior
    move_alpha = moved + k * group_prior + 1e-6 * np.eye(P)[None, :, :]
    move_alpha = _cap_confidence(move_alpha, settings.max_effective_children)

    # joiners: where they join, and how many
    joined = frame[frame["provision_from"] == JOINED]
    # where they join: not past 25 (a plan live past its end, which the cohort mart flags, was
    # clipped to 25 and had the forecast send children a plan at 25 every year)
    joining = joined[joined["age_to"] <= MAX_AGE]
    joiner_cells = np.zeros((A, P))
    np.add.at(joiner_cells, cells(joining, "age_to", "provision_to"), joining["weight"].to_numpy())
    if joiner_cells.sum() == 0:
        notes.append(
            "no child joined between the censuses in the history: the forecast has no joiners"
        )
        joiner_cells += 1.0  # where they would join is irrelevant: there are none
    margins = np.outer(joiner_cells.sum(axis=1), joiner_cells.sum(axis=0)) / joiner_cells.sum()
    joiner_share = joiner_cells + 0.5 * margins / max(margins.sum(), 1e-9) * P
    closed_after = _closed_types(frame, provisions, base, years, settings.trend_years)
    closed = {name: before for name, (before, _) in closed_after.items()}
    for name, (before, censuses) in closed_after.items():
        i = index[name]
        joiner_share[:, i] = 0.0
        # who would have moved there stays where they are: a gamma of shape 0 draws 0
        others = np.flatnonzero(np.arange(P) != i)
        move_alpha[:, others, others] += move_alpha[:, others, i]
        move_alpha[:, others, i] = 0.0
        notes.append(
            f"{name}: no child entered it on the last {censuses_text(censuses)} and none is there "
            f"on January {last}'s (before, {before:.1f} a year): forecast to take no child"
        )
    if joiner_share.sum() == 0:
        # every type has closed: no child entered any for two years, so the joiners' own trend
        # has next to none, and where those few would join is moot
        joiner_share[:] = 1.0
    joiner_share /= joiner_share.sum()

    totals = (
        joined.groupby("year")["children"]
        .sum()
        .reindex(years, fill_value=0)
        .tail(settings.trend_years)
    )
    age_share = None
    if population is not None:
        by_age = (
            joined.assign(age=_clip_age(joined["age_to"]).astype(int))
            .groupby(["year", "age"])["children"]
            .sum()
        )
        heads = population.reindex(index=totals.index, columns=AGES).fillna(0)
        if (heads.sum(axis=1) <= 0).any():
            missing = [int(y) for y in heads.index[heads.sum(axis=1) <= 0]]
            raise CohortInputError(
                f"the population projection has no population for census year(s) {missing}"
            )
        per_head = totals / heads.sum(axis=1)
        series = per_head
        age_counts = (
            by_age.unstack(fill_value=0)
            .reindex(columns=AGES, fill_value=0)
            .reindex(totals.index, fill_value=0)
        )
        rates = (age_counts / heads.where(heads > 0)).fillna(0)
        age_share = (
            rates.mul(settings.recency ** (last - rates.index.to_series()), axis=0).sum(axis=0)
        ).to_numpy()
        age_share = age_share / age_share.sum() if age_share.sum() > 0 else np.full(A, 1 / A)
    else:
        series = totals.astype(float)
    growth_source = None
    anchor = None
    if (series > 0).any():
        level, slope, slope_se, noise = _log_trend(series)
        if population is None and pooled_growth is not None and settings.pool_with_published:
            slope, slope_se, growth_source = pooled_growth
            notes.append(f"joiners grow at {np.expm1(slope):+.1%} a year: {growth_source}")
            anchor = (slope, slope_se)
        elif population is None and (own := _caseload_growth(frame, years)) is not None:
            slope, span, spread = own
            # a step in the history (a year far from the others) makes the rate itself unsure:
            # on the published councils whose yearly growths ranged over 20 points, own_growth_se
            # held 57 % of outcomes 3 years on, this 76 % (all councils: 78 % and 80 %)
            wider = np.isfinite(spread) and spread > settings.own_growth_se
            slope_se = spread if wider else settings.own_growth_se
            anchor = (slope, slope_se)
            growth_source = (
                f"the caseload's own growth over its last {span} year(s), as compound growth "
                f"carries it forward (its spread {slope_se:.1%} a year: "
                + (
                    "its yearly growths' own spread, wider than how far that projection missed "
                    "on the DfE's published councils)"
                    if wider
                    else "how far that projection missed on the DfE's published councils)"
                )
            )
            notes.append(f"joiners grow at {np.expm1(slope):+.1%} a year: {growth_source}")
        elif pooled_growth is not None and settings.pool_with_published:
            notes.append(
                "the published files' growth is not applied: joiners are a rate per head of the "
                "population projection, trended on their own"
            )
    else:
        level, slope, slope_se, noise = -np.inf, 0.0, 0.0, 0.0
    if len(totals) < 3:
        notes.append(f"joiners trend from {len(totals)} years only")

    capacity_array = overflow_array = None
    if capacity:
        capacity_array = np.full(P, np.inf)
        overflow_array = np.arange(P)
        for name, places in capacity.items():
            if name not in index:
                raise CohortInputError(f"capacity for unknown provision type {name!r}")
            capacity_array[index[name]] = float(places)
            target = (overflow or {}).get(name)
            if target is not None:
                if target not in index:
                    raise CohortInputError(
                        f"overflow of {name} to unknown provision type {target!r}"
                    )
                overflow_array[index[name]] = index[target]
    model = CohortModel(
        provisions=list(provisions),
        base_year=int(last),
        base=base,
        leave_alpha=leave_alpha,
        leave_beta=leave_beta,
        move_alpha=move_alpha,
        joiner_share=joiner_share,
        joiner_level=level,
        joiner_slope=slope,
        joiner_slope_se=max(slope_se, settings.min_trend_se),
        joiner_noise=noise,
        population=population,
        joiner_age_share=age_share,
        prevalence_ceiling=prevalence_ceiling,
        capacity=capacity_array,
        overflow_to=overflow_array,
        settings=settings,
        notes=notes,
        growth_source=growth_source,
        closed=closed,
        closed_after={name: censuses for name, (_, censuses) in closed_after.items()},
    )
    if anchor is not None:
        _anchor_to_caseload_growth(model, *anchor)
    return model


def _closed_types(
    frame: pd.DataFrame, provisions: list[str], base: np.ndarray, years: list, trend_years: int
) -> dict[str, tuple[float, int]]:
    """Provision types that have stopped taking children (CLOSED_YEARS, CLOSED_CHANCE), each with
    the children who entered it a year over the `trend_years` before and the censuses without
    one (CLOSED_YEARS tried first, then the last census alone): none where the history is too
    short to tell."""
    entries = frame[
        (frame["provision_to"] != frame["provision_from"]) & frame["provision_to"].isin(provisions)
    ]
    per_year = (
        entries.groupby(["provision_to", "year"])["children"]
        .sum()
        .unstack(fill_value=0)
        .reindex(index=provisions, columns=years, fill_value=0)
    )
    closed = {}
    for censuses in (CLOSED_YEARS, 1):
        recent, before = years[-censuses:], years[:-censuses][-trend_years:]
        if len(recent) < censuses or not before:
            continue
        for i, name in enumerate(provisions):
            if name in closed or base[:, i].sum() > 0 or per_year.loc[name, recent].sum() > 0:
                continue
            rate = float(per_year.loc[name, before].mean())
            if np.exp(-rate * censuses) < CLOSED_CHANCE:
                closed[name] = (rate, censuses)
    return closed


def censuses_text(count: int) -> str:
    """The censuses without an entry, as the closed types' notes say them after "the last"."""
    return "census" if count == 1 else f"{count} censuses"


# The published files' growth and its spread are stated three years ahead (aggregate.council_growth)
ANCHOR_YEARS = 3
# where joiners barely reach the total (a caseload its children already fill), no slope spread
# could give the total the published spread: the joiners' growth is held no looser than this
MAX_JOINER_SLOPE_SE = 0.5


def _anchor_to_caseload_growth(model: CohortModel, growth: float, growth_se: float) -> None:
    """`growth` (log, a year) and its standard error `growth_se` are the council's *caseload's*
    (the published files' lesson for a history like its own, or its own last three years with the
    spread such projections had on the published councils); the model draws them on its joiners.
    Joiners are a fifth or so of a year's caseload and reach the total with a lag, so the joiners'
    own line through their years (their level) and a slope error of `growth_se` would give a total
    that neither grows at that rate nor is as uncertain as the published councils' totals turned
    out to be (on worlds whose totals are real councils', the cohort total then lost to compound
    growth at two origins in four and its 3-year band held 58-71 %). So,
    over the next ANCHOR_YEARS censuses, the joiners' level is set so that the expected total
    (averaged over the paths' slope and shocks) follows the caseload at `growth` a year (least
    squares), and the slope's spread so that the total's log spread at ANCHOR_YEARS is
    ANCHOR_YEARS × `growth_se`, less what the yearly joiner shocks and the binomial and Poisson
    draws already give. The expected flows use the mean rates; capacity is not applied."""
    years = np.arange(1, ANCHOR_YEARS + 1)
    survivors, per_joiner = _expected_paths(model, ANCHOR_YEARS)
    total_now = float(model.base.sum())
    wanted = total_now * np.exp(growth * years)
    slope_se = max(model.joiner_slope_se, model.settings.min_trend_se)
    damped = np.cumsum(model.settings.damping**years)
    for _ in range(3):  # the mean depends on the slope's spread, and the spread on the level
        # expected joiners of census k per unit of exp(level): lognormal means of slope and shock
        growth_k = np.exp(
            model.joiner_slope * damped + (slope_se * damped) ** 2 / 2 + model.joiner_noise**2 / 2
        )
        by_joiners = per_joiner @ growth_k  # total at each census per unit of exp(level)
        unit = max(float(by_joiners @ (wanted - survivors)) / float(by_joiners @ by_joiners), 1e-9)
        total = survivors[-1] + unit * by_joiners[-1]
        # d log(total) / d slope, and the log variance the shocks and draws give at the horizon
        sensitivity = unit * float(per_joiner[-1] @ (growth_k * damped)) / total
        shocks = model.joiner_noise**2 * float(((unit * per_joiner[-1] * growth_k) ** 2).sum())
        room = (ANCHOR_YEARS * growth_se) ** 2 - shocks / total**2 - 1 / max(total, 1.0)
        slope_se = float(
            np.clip(
                np.sqrt(max(room, 0.0)) / max(sensitivity, 1e-9),
                model.settings.min_trend_se,
                MAX_JOINER_SLOPE_SE,
            )
        )
    model.joiner_level = float(np.log(unit))
    model.joiner_slope_se = float(slope_se)
    model.anchored = True
    model.notes.append(
        f"joiners set so the caseload grows at {np.expm1(growth):+.1%} a year on average, its "
        f"spread 3 years on {ANCHOR_YEARS * growth_se:.1%} (log sd): joiner slope ± {slope_se:.3f}"
    )


def _beyond_anchor(model: CohortModel, years: int) -> tuple[np.ndarray, np.ndarray]:
    """(years,) how much more (or less) log spread each census's joiners take per unit of the
    path's slope draw than the slope gives them, and the log mean correction, both 0 to
    ANCHOR_YEARS. The slope's spread was sized for the caseload's spread ANCHOR_YEARS on, where
    joiners are a small part of the total; carried on, it compounds: the joiners' log spread
    grows as the slope's × the years, their mean as exp(spread² / 2), and the total runs away
    from the growth it was anchored to (a caseload falling 6 % a year had a mean of 10 times
    its last census 10 years on, above its own p90). Beyond ANCHOR_YEARS, each census's joiner
    spread is instead the least that keeps the total's spread from the joiners growing in
    proportion to the years, as it grew to ANCHOR_YEARS (never more than the slope's, never
    less than the census before's), and the joiners' mean grows at the anchored rate."""
    extra, correction = np.zeros(years), np.zeros(years)
    if not model.anchored or years <= ANCHOR_YEARS or not np.isfinite(model.joiner_level):
        return extra, correction
    se = model.joiner_slope_se
    damped = np.cumsum(model.settings.damping ** np.arange(1, years + 1))
    by_slope = se * damped  # the joiners' log spread the slope draw gives them
    held = by_slope[ANCHOR_YEARS - 1]
    survivors, per_joiner = _expected_paths(model, years)
    mean_uplift = np.minimum(by_slope, held) ** 2 / 2
    joiners = np.exp(model.joiner_level + model.joiner_slope * damped + mean_uplift)
    contribution = per_joiner * joiners[None, :]  # (census h, joining census k)
    weight = contribution / (survivors + contribution.sum(axis=1))[:, None]
    spread = by_slope.copy()
    at_anchor = float(weight[ANCHOR_YEARS - 1] @ spread)  # the total's log spread from the slope
    for h in range(ANCHOR_YEARS, years):
        wanted = at_anchor * (h + 1) / ANCHOR_YEARS
        earlier = float(weight[h, :h] @ spread[:h])
        needed = (wanted - earlier) / weight[h, h] if weight[h, h] > 1e-12 else spread[h - 1]
        spread[h] = float(np.clip(needed, spread[h - 1], by_slope[h]))
    extra[ANCHOR_YEARS:] = spread[ANCHOR_YEARS:] - by_slope[ANCHOR_YEARS:]
    correction[ANCHOR_YEARS:] = (spread[ANCHOR_YEARS:] ** 2 - held**2) / 2
    return extra, correction


def _expected_paths(model: CohortModel, years: int) -> tuple[np.ndarray, np.ndarray]:
    """With the mean leave and move rates: (total of today's children still in at each of the
    next `years` censuses, (years, years) total at census h of one joiner-share's worth of
    children joining at census k)."""
    leave, moves = model.leave_rate, model.move_rate

    def age_a_year(children: np.ndarray) -> np.ndarray:
        moved = np.einsum("ap,apq->aq", children * (1 - leave), moves)
        older = np.zeros_like(children)
        older[1:] = moved[:-1]
        return older

    survivors = np.zeros(years)
    children = model.base.astype(float)
    for h in range(years):
        children = age_a_year(children)
        survivors[h] = children.sum()
    per_joiner = np.zeros((years, years))
    for k in range(years):
        children = model.joiner_share.astype(float)
        for h in range(k, years):
            if h > k:
                children = age_a_year(children)
            per_joiner[h, k] = children.sum()
    return survivors, per_joiner


def _caseload_growth(frame: pd.DataFrame, years: list) -> tuple[float, int, float] | None:
    """The caseload's growth a year (log) over its last GROWTH_YEARS censuses (fewer when the
    history is shorter), over how many years, and the standard error of that rate from its
    yearly growths' spread (NaN with fewer than two): what compound growth, the projection
    councils make, would carry forward, and how sure the history makes it. None when the
    transitions give fewer than two censuses."""
    after = frame[frame["provision_to"] != LEFT].groupby("year")["children"].sum()
    before = frame[frame["provision_from"] != JOINED].groupby("year")["children"].sum()
    before.index = before.index - 1  # the census a year's transitions start from
    stock = after.combine_first(before).sort_index()
    stock = stock[stock.index <= years[-1]].tail(GROWTH_YEARS + 1)
    if len(stock) < 2 or (stock <= 0).any():
        return None
    span = int(stock.index[-1] - stock.index[0])
    rate = float(np.log(stock.iloc[-1] / stock.iloc[0]) / span)
    # each step's growth a year about the rate, a step over a missing census weighted as the
    # years it spans (a steady caseload with a census missing is as steady as without the gap)
    gaps = np.diff(stock.index.to_numpy(dtype=float))
    steps = np.diff(np.log(stock.to_numpy(dtype=float)))
    deviations = (steps - rate * gaps) / np.sqrt(gaps)
    spread = float(np.std(deviations, ddof=1) / np.sqrt(span)) if len(steps) > 1 else np.nan
    return rate, span, spread


def _cap_confidence(alpha: np.ndarray, cap: float) -> np.ndarray:
    """Scale Beta/Dirichlet parameters (last axis) down so they sum to at most `cap`: the same
    rates, held with no more confidence than `cap` children give."""
    total = alpha.sum(axis=-1, keepdims=True)
    return alpha * np.minimum(1.0, cap / np.maximum(total, 1e-12))


def _log_trend(series: pd.Series) -> tuple[float, float, float, float]:
    """Level (fitted log value in the last year), slope, slope standard error, residual sd."""
    values = series[series > 0]
    if len(values) == 0:
        raise CohortInputError("no joiners in the trend years")
    x = values.index.to_numpy(dtype=float)
    y = np.log(values.to_numpy(dtype=float))
    if len(values) == 1:
        return float(y[-1]), 0.0, 0.1, 0.1
    if len(values) == 2:
        slope = float(y[1] - y[0]) / float(x[1] - x[0])
        return float(y[-1]), slope, abs(slope) / 2 + 0.02, abs(slope) / 2 + 0.02
    slope, intercept = np.polyfit(x, y, 1)
    residuals = y - (slope * x + intercept)
    noise = float(np.sqrt((residuals**2).sum() / (len(x) - 2)))
    # the least-squares standard error assumes independent years; growth that speeds up or slows
    # down is not, so the slope is held no tighter than the spread of the yearly changes allows
    se = max(
        noise / float(np.sqrt(((x - x.mean()) ** 2).sum())),
        float(np.std(np.diff(y), ddof=1)) / np.sqrt(len(y) - 1),
    )
    level = float(slope * x[-1] + intercept)
    return level, float(slope), max(se, 1e-4), max(noise, 1e-4)


@dataclass
class Paths:
    """Simulated census counts and flows: arrays (paths, years, A, P) unless noted."""

    years: list[int]
    plans: np.ndarray
    joiners: np.ndarray
    leavers: np.ndarray  # (paths, years, A, P): by age and provision on the earlier census


# The provision types' streams are independent generators, and numpy draws from one without
# holding the GIL: on two or more cores they draw side by side. Each stream still draws its
# numbers in the same order, so the paths are the same as drawn one after another.
_DRAW_THREADS = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
_draw_pool: ThreadPoolExecutor | None = None
_draw_pool_lock = threading.Lock()


def _per_stream(one: Callable[[int], np.ndarray], streams: int) -> list[np.ndarray]:
    global _draw_pool
    if _DRAW_THREADS < 2:
        return [one(p) for p in range(streams)]
    with _draw_pool_lock:
        if _draw_pool is None:
            _draw_pool = ThreadPoolExecutor(_DRAW_THREADS, thread_name_prefix="cohort-draws")
    return list(_draw_pool.map(one, range(streams)))


# The parameters each path draws once (leave rates, move rates, joiner trend and shocks) come
# first from the seed's generator, before anything a scenario changes: every scenario of a
# forecast (22 runs of the same model) draws the same ones, so they are drawn once and kept.
_PARAMETER_DRAWS_KEPT = 2
_parameter_draws_kept: OrderedDict[tuple, tuple[np.ndarray, ...]] = OrderedDict()


def _parameter_draws(
    model: CohortModel, years: int, paths: int, seed: int
) -> tuple[np.ndarray, ...]:
    """(leave (paths, A, P), moves (paths, A, P, P), slope (paths,), shocks (paths, years)),
    read-only: the same arrays are handed to every scenario."""
    key = (
        seed,
        paths,
        years,
        *(
            (array.shape, array.dtype.str, hashlib.sha256(np.ascontiguousarray(array)).digest())
            for array in (model.leave_alpha, model.leave_beta, model.move_alpha)
        ),
        float(model.joiner_slope),
        float(model.joiner_slope_se),
        float(model.joiner_noise),
    )
    with _draw_pool_lock:
        kept = _parameter_draws_kept.get(key)
        if kept is not None:
            _parameter_draws_kept.move_to_end(key)
            return kept
    rng = np.random.default_rng(seed)
    A, P = model.base.shape
    a, b = model.leave_alpha, model.leave_beta
    ga = rng.gamma(np.broadcast_to(a, (paths, A, P)))
    gb = rng.gamma(np.broadcast_to(b, (paths, A, P)))
    leave = ga / (ga + gb)
    moves = _gamma_normalise(rng, model.move_alpha, paths)  # (paths, A, P, P)
    slope = model.joiner_slope + model.joiner_slope_se * rng.standard_normal(paths)
    # drawn year by year (a year's shocks for every path, then the next year's), so a later
    # horizon adds years without changing the draws, and the figures, of the years before it
    shocks = model.joiner_noise * rng.standard_normal((years, paths)).T
    drawn = (leave, moves, slope, shocks)
    for array in drawn:
        array.setflags(write=False)
    with _draw_pool_lock:
        _parameter_draws_kept[key] = drawn
        while len(_parameter_draws_kept) > _PARAMETER_DRAWS_KEPT:
            _parameter_draws_kept.popitem(last=False)
    return drawn


def _gamma_normalise(rng: np.random.Generator, alpha: np.ndarray, paths: int) -> np.ndarray:
    draws = rng.gamma(np.broadcast_to(alpha, (paths, *alpha.shape)))
    return draws / draws.sum(axis=-1, keepdims=True)


def simulate(
    model: CohortModel, years: int, paths: int, seed: int, mitigations: Mitigations | None = None
) -> Paths:
    """Project `years` censuses ahead; the same seed gives the same paths (and the same parameter
    draws for every scenario, so scenarios differ by their levers, not by luck)."""
    A, P = model.base.shape
    leave, moves, slope, shocks = _parameter_draws(model, years, paths, seed)
    # one stream per provision type: a lever that changes one type's counts changes how many
    # numbers its stream uses, and must not reshuffle the draws of types it never reaches
    streams = [np.random.default_rng([seed, 1, p]) for p in range(P)]
    rerouting = np.random.default_rng([seed, 3])

    def draw(distribution: str, *arrays: np.ndarray) -> list[np.ndarray]:
        """For every provision type p, in order: its stream's `distribution` of the arrays'
        slices [:, :, p]; each type draws from its own stream only."""
        return _per_stream(
            lambda p: getattr(streams[p], distribution)(*(x[:, :, p] for x in arrays)), P
        )

    mitigations = mitigations or Mitigations()
    capacity = (
        None if model.capacity is None else np.broadcast_to(model.capacity, (years, P)).copy()
    )
    if mitigations.extra_capacity is not None:
        if capacity is None:
            capacity = np.full((years, P), np.inf)
        capacity = capacity + mitigations.extra_capacity

    plans = np.zeros((paths, years, A, P), dtype=np.int64)
    joiners = np.zeros_like(plans)
    leavers = np.zeros_like(plans)
    current = np.broadcast_to(np.rint(model.base).astype(np.int64), (paths, A, P)).copy()
    damped = np.cumsum(model.settings.damping ** np.arange(1, years + 1))
    # beyond ANCHOR_YEARS, the path's slope draw (in sds) spreads its joiners as _beyond_anchor
    # says, about the anchored growth's mean
    extra, correction = _beyond_anchor(model, years)
    drawn = (slope - model.joiner_slope) / max(model.joiner_slope_se, 1e-12)
    for step in range(years):
        census_year = model.base_year + step + 1
        out = np.stack(draw("binomial", current, leave), axis=2)
        stay = current - out
        # (paths, A, P, P)
        moved = np.stack(draw("multinomial", stay, moves), axis=2)
        # levers re-route children after the draw (binomial thinning, on a stream of their own): the
        # same distribution as changing the move rates, but a provision type a lever does not act on
        # keeps exactly the draws it had
        for first, sources, target, ages, share in mitigations.stop_flows:
            if step >= first:
                low, high = ages
                for source in sources:
                    kept = rerouting.binomial(moved[:, low : high + 1, source, target], share)
                    moved[:, low : high + 1, source, target] -= kept
                    moved[:, low : high + 1, source, source] += kept
        for first, sources, target, share in mitigations.move_shift:
            if step >= first:
                for source in sources:
                    # children moving into `source` from elsewhere go to `target` instead
                    others = [p for p in range(P) if p != source]
                    sent = rerouting.binomial(moved[:, :, others, source], share)
                    moved[:, :, others, source] -= sent
                    moved[:, :, others, target] += sent
        arriving = np.zeros_like(current)
        arriving[:, 1:, :] = moved[:, :-1, :, :].sum(axis=2)

        expected = _expected_joiners(
            model,
            census_year,
            slope,
            damped[step],
            shocks[:, step] + drawn * extra[step] - correction[step],
            arriving,
        )
        if mitigations.joiner_factor is not None:
            expected = expected * mitigations.joiner_factor[step]
        for first, sources, target, share in mitigations.joiner_shift:
            if step >= first:
                for source in sources:
                    shifted = expected[:, :, source] * share
                    expected[:, :, source] -= shifted
                    expected[:, :, target] += shifted
        new = np.stack(draw("poisson", expected), axis=2)
        nxt = arriving + new
        if capacity is not None:
            # who stays in their type keeps their place, a year older (the last age leaves)
            stayers = np.zeros_like(nxt)
            stayers[:, 1:] = np.diagonal(moved[:, :-1], axis1=2, axis2=3)
            nxt = _apply_capacity(nxt, stayers, capacity[step], model.overflow_to)
        plans[:, step] = nxt
        joiners[:, step] = new
        leavers[:, step] = out
        current = nxt
    return Paths(
        list(range(model.base_year + 1, model.base_year + years + 1)), plans, joiners, leavers
    )


def _expected_joiners(
    model: CohortModel,
    census_year: int,
    slope: np.ndarray,
    damped: float,
    shock: np.ndarray,
    arriving: np.ndarray,
) -> np.ndarray:
    """Expected joiners (paths, A, P) in `census_year` on each path."""
    # total joiners, or joiners per head
    level = np.exp(model.joiner_level + slope * damped + shock)
    if model.population is None:
        return level[:, None, None] * model.joiner_share[None, :, :]
    # (A,)
    heads = model.population.reindex(index=[census_year], columns=AGES).fillna(0).to_numpy()[0]
    if heads.sum() <= 0:
        raise CohortInputError(f"the population projection has no population for {census_year}")
    by_age = level[:, None] * heads.sum() * model.joiner_age_share[None, :]  # (paths, A)
    within_age = model.joiner_share / np.maximum(
        model.joiner_share.sum(axis=1, keepdims=True), 1e-12
    )
    expected = by_age[:, :, None] * within_age[None, :, :]
    if model.prevalence_ceiling is not None:
        cap = model.prevalence_ceiling / 1000 * heads.sum()
        room = np.clip(cap - arriving.sum(axis=(1, 2)), 0, None)  # plans the ceiling still allows
        total = expected.sum(axis=(1, 2))
        expected = expected * np.minimum(1.0, room / np.maximum(total, 1e-9))[:, None, None]
    return expected


def _apply_capacity(
    nxt: np.ndarray, stayers: np.ndarray, capacity: np.ndarray, overflow_to: np.ndarray | None
) -> np.ndarray:
    """Children beyond a provision type's places go to its overflow: newcomers only (joiners and
    children moving in), by age in proportion to them. `stayers` (paths, A, P): the children of
    each type at the last census still in it, by their age now; they keep their places, so a
    type above its places (a capacity set below the census) falls to them as its children
    leave, the places they free going to no newcomer (counting those there last year instead,
    such a type refilled every leaver's place and the capacity never bound)."""
    nxt = nxt.copy()
    P = nxt.shape[2]
    for p in range(P):
        if not np.isfinite(capacity[p]):
            continue
        target = p if overflow_to is None else int(overflow_to[p])
        if target == p:
            continue
        total = nxt[:, :, p].sum(axis=1)
        staying = stayers[:, :, p]
        excess = np.clip(total - np.maximum(capacity[p], staying.sum(axis=1)), 0, None)
        if not excess.any():
            continue
        # the excess (never more than the newcomers) goes out in proportion to each age's
        # newcomers, rounding down, then the rest
        newcomers = nxt[:, :, p] - staying
        share = newcomers / np.maximum(newcomers.sum(axis=1)[:, None], 1)
        moving = np.floor(share * excess[:, None]).astype(np.int64)
        remainder = excess - moving.sum(axis=1)
        order = np.argsort(-(share * excess[:, None] - moving), axis=1)
        for rank in range(nxt.shape[1]):
            ages = order[:, rank]
            take = (remainder > 0) & (
                newcomers[np.arange(len(ages)), ages] - moving[np.arange(len(ages)), ages] > 0
            )
            moving[np.arange(len(ages))[take], ages[take]] += 1
            remainder = remainder - take
        nxt[:, :, p] -= moving
        nxt[:, :, target] += moving
    return nxt
