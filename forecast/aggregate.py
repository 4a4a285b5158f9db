"""Aggregate mode: the same stock-and-flow idea as the cohort model, from published counts only.

Published statistics give each council's January caseload by setting and its new plans by
setting, not children's moves, so ages and moves collapse into one retention rate per
provision type:

    N_{t+1}(p) = r(p) × N_t(p) + J_{t+1}(p)

r(p) — the share of last January's plans in p that are (still, or newly moved into) p this
January, net — is estimated from history as (N_{t+1}(p) − J_{t+1}(p)) ÷ N_t(p), recency-weighted
over the last `trend_years` years and shrunk towards the council's overall rate for small
provision types. Joiners J follow the damped log-linear trend of the council's total new plans,
split by the recency-weighted share of new plans by setting (where only a total is published, the
nearest year's shares). Simulated paths draw r and the joiner trend once (parameter uncertainty)
and add yearly noise with the spread history showed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .backtest import HORIZONS, RECORD_COLUMNS, baseline_records, summarise
from .cohort import CohortSettings, _log_trend
from .published import PROVISIONS, CouncilHistory

MODEL = "aggregate_stock_flow"
FIRST_JOINER_YEAR = 2016  # new plans issued in 2015 onward: 2014's were the reforms' first months
SHRINK_PLANS = 400.0  # plans' worth of the overall retention rate behind each provision type's


class AggregateInputError(ValueError):
    """Not enough published history for the council; the message says what is missing."""


@dataclass
class AggregateModel:
    provisions: list[str]
    base_year: int
    base: np.ndarray  # (P,)
    retention: np.ndarray  # (P,)
    retention_se: np.ndarray  # (P,) of the mean
    retention_noise: np.ndarray  # (P,) year to year
    joiner_share: np.ndarray  # (P,)
    joiner_level: float
    joiner_slope: float
    joiner_slope_se: float
    joiner_noise: float
    damping: float


def _joiners_by_provision(council: CouncilHistory, years: list[int]) -> pd.DataFrame:
    """New plans per census year × provision type; totals split by the nearest year's shares."""
    frame = council.new_plans
    detailed = frame.reindex(columns=PROVISIONS).dropna(how="all") if set(PROVISIONS) & set(frame.columns) else pd.DataFrame()
    rows = {}
    for year in [y for y in years if y >= FIRST_JOINER_YEAR]:
        if year in detailed.index:
            rows[year] = detailed.loc[year].fillna(0.0)
        elif year in frame.index and "total" in frame.columns and pd.notna(frame.loc[year, "total"]):
            if detailed.empty:
                shares = council.caseload.loc[year] / max(council.caseload.loc[year].sum(), 1) if year in council.caseload.index else None
            else:
                nearest = detailed.index[np.argmin(np.abs(detailed.index.to_numpy() - year))]
                shares = detailed.loc[nearest] / max(detailed.loc[nearest].sum(), 1)
            if shares is not None:
                rows[year] = shares.reindex(PROVISIONS).fillna(0.0) * float(frame.loc[year, "total"])
    return pd.DataFrame.from_dict(rows, orient="index").reindex(columns=PROVISIONS).sort_index()


def estimate_aggregate(council: CouncilHistory, settings: CohortSettings = CohortSettings(),
                       upto_year: int | None = None) -> AggregateModel:
    caseload = council.caseload if upto_year is None else council.caseload.loc[:upto_year]
    if caseload.empty:
        raise AggregateInputError(f"{council.name}: no published caseload up to {upto_year}")
    years = [int(y) for y in caseload.index]
    joiners = _joiners_by_provision(council, years)
    pairs = [y for y in years[1:] if y - 1 in caseload.index and y in joiners.index]
    pairs = pairs[-settings.trend_years:]
    if len(pairs) < 2:
        raise AggregateInputError(
            f"{council.name}: {len(pairs)} year(s) with both caseload and new plans up to {caseload.index.max()}; "
            "the aggregate model needs 2"
        )
    last = years[-1]
    weights = np.array([settings.recency ** (last - y) for y in pairs])
    previous = caseload.loc[[y - 1 for y in pairs], PROVISIONS].to_numpy(dtype=float)
    current = caseload.loc[pairs, PROVISIONS].to_numpy(dtype=float)
    joined = joiners.loc[pairs, PROVISIONS].fillna(0.0).to_numpy(dtype=float)
    retained = current - joined
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = np.where(previous > 0, retained / previous, np.nan)
    overall = float((retained.sum(axis=1) * weights).sum() / (previous.sum(axis=1) * weights).sum())
    size = previous.mean(axis=0)
    # ratio of weighted sums: a small provision type's odd year does not swing its rate
    at_risk = (previous * weights[:, None]).sum(axis=0)
    mean_rate = np.where(at_risk > 0, (retained * weights[:, None]).sum(axis=0) / np.maximum(at_risk, 1e-9), overall)
    retention = np.clip((size * mean_rate + SHRINK_PLANS * overall) / (size + SHRINK_PLANS), 0.3, 1.5)
    spread = np.array([np.nanstd(rates[:, p]) if (~np.isnan(rates[:, p])).sum() > 1 else 0.05 for p in range(len(PROVISIONS))])
    spread = np.clip(np.nan_to_num(spread, nan=0.05), 0.01, 0.5)
    shares = (joined * weights[:, None]).sum(axis=0)
    shares = shares / shares.sum() if shares.sum() > 0 else np.full(len(PROVISIONS), 1 / len(PROVISIONS))
    totals = joiners.loc[[y for y in joiners.index if y <= last], PROVISIONS].sum(axis=1).tail(settings.trend_years)
    level, slope, slope_se, noise = _linear_trend(totals)
    return AggregateModel(
        provisions=list(PROVISIONS), base_year=last, base=caseload.loc[last, PROVISIONS].to_numpy(dtype=float),
        retention=retention, retention_se=spread / np.sqrt(len(pairs)), retention_noise=spread,
        joiner_share=shares, joiner_level=level, joiner_slope=slope, joiner_slope_se=slope_se, joiner_noise=noise,
        damping=settings.damping,
    )


def _linear_trend(series: pd.Series) -> tuple[float, float, float, float]:
    """Fitted level in the last year, slope (plans a year), its standard error, residual sd (plans)."""
    values = series.dropna()
    x = values.index.to_numpy(dtype=float)
    y = values.to_numpy(dtype=float)
    if len(values) < 3:
        slope = float(y[-1] - y[0]) / max(float(x[-1] - x[0]), 1.0) if len(values) == 2 else 0.0
        return float(y[-1]), slope, abs(slope) / 2 + 1, abs(slope) / 2 + 1
    slope, intercept = np.polyfit(x, y, 1)
    residuals = y - (slope * x + intercept)
    noise = float(np.sqrt((residuals**2).sum() / (len(x) - 2)))
    se = max(noise / float(np.sqrt(((x - x.mean()) ** 2).sum())), float(np.std(np.diff(y), ddof=1)) / np.sqrt(len(y) - 1))
    return float(slope * x[-1] + intercept), float(slope), se, max(noise, 1.0)


def simulate_aggregate(model: AggregateModel, years: int, paths: int, seed: int) -> np.ndarray:
    """Plans (paths, years, P) on each future January census."""
    rng = np.random.default_rng(seed)
    P = len(model.provisions)
    retention = model.retention + model.retention_se * rng.standard_normal((paths, P))
    slope = model.joiner_slope + model.joiner_slope_se * rng.standard_normal(paths)
    current = np.broadcast_to(model.base, (paths, P)).astype(float)
    out = np.empty((paths, years, P))
    damped = np.cumsum(model.damping ** np.arange(1, years + 1))
    for step in range(years):
        rate = np.clip(retention + model.retention_noise * rng.standard_normal((paths, P)), 0, None)
        total = np.clip(model.joiner_level + slope * damped[step] + model.joiner_noise * rng.standard_normal(paths), 0, None)
        joiners = rng.poisson(total[:, None] * model.joiner_share[None, :])
        current = current * rate + joiners
        out[:, step] = current
    return out


def backtest_council(council: CouncilHistory, settings: CohortSettings = CohortSettings(), simulations: int = 300,
                     seed: int = 7, first_origin: int = 2016) -> list[tuple]:
    """Rolling-origin records for one council: the aggregate model and both baselines."""
    records: list[tuple] = []
    counts = council.caseload[PROVISIONS]
    for origin in [int(y) for y in counts.index if y >= first_origin]:
        future = [origin + h for h in HORIZONS if origin + h in counts.index]
        if not future or len(counts.loc[:origin]) < 3:
            continue
        try:
            model = estimate_aggregate(council, settings, upto_year=origin)
        except AggregateInputError:
            continue
        sims = simulate_aggregate(model, max(future) - origin, simulations, seed)
        for target in future:
            h = target - origin
            actual = counts.loc[target].to_numpy(dtype=float)
            totals = sims[:, h - 1, :].sum(axis=1)
            q = np.quantile(totals, (0.1, 0.9))
            records.append((MODEL, h, "total", origin, actual.sum(), float(totals.mean()), q[0], q[1], council.code))
            pq = np.quantile(sims[:, h - 1, :], (0.1, 0.9), axis=0)
            mean = sims[:, h - 1, :].mean(axis=0)
            for p, provision in enumerate(PROVISIONS):
                records.append((MODEL, h, provision, origin, actual[p], float(mean[p]), pq[0, p], pq[1, p], council.code))
        records += baseline_records(counts, origin, council.code)
    return records


def backtest_all(councils: dict[str, CouncilHistory], settings: CohortSettings = CohortSettings(),
                 simulations: int = 300) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every council with enough history: (summary table, per-council records)."""
    records = []
    for code, council in sorted(councils.items()):
        if code == "E92000001":
            continue
        records += backtest_council(council, settings, simulations)
    frame = pd.DataFrame(records, columns=RECORD_COLUMNS)
    return summarise(frame), frame


def forecast_council(council: CouncilHistory, horizon_census_year: int, settings: CohortSettings = CohortSettings(),
                     simulations: int = 1000, seed: int = 20260401) -> pd.DataFrame:
    """p10 / p50 / p90 plans per census year and provision type (and total) for a council."""
    model = estimate_aggregate(council, settings)
    years = horizon_census_year - model.base_year
    if years < 1:
        raise AggregateInputError(f"{council.name}: the published data already reach January {model.base_year}")
    sims = simulate_aggregate(model, years, simulations, seed)
    rows = []
    for step in range(years):
        year = model.base_year + step + 1
        q = np.quantile(sims[:, step, :], (0.1, 0.5, 0.9), axis=0)
        for p, provision in enumerate(PROVISIONS):
            rows.append((council.code, council.name, year, provision, *q[:, p]))
        tq = np.quantile(sims[:, step, :].sum(axis=1), (0.1, 0.5, 0.9))
        rows.append((council.code, council.name, year, "total", *tq))
    return pd.DataFrame(rows, columns=["la_code", "la_name", "year", "provision_type", "plans_p10", "plans_p50", "plans_p90"])
