"""Rolling-origin backtests: forecast from each past census with the data known then, compare
with what happened.

From every origin census with enough history before it, the cohort model (fitted on the
transitions up to the origin) forecasts 1, 2 and 3 years ahead, as do the two baselines
(forecast.baselines). Errors per model, horizon and provision type (and the total):
WAPE = Σ|actual − forecast| ÷ Σ actual, MAPE = mean |actual − forecast| ÷ actual, and for the
model the share of actuals inside its p10–p90 interval (the aim: about 80 %).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import cohort
from .baselines import BASELINES

MODEL = "cohort_model"
HORIZONS = (1, 2, 3)
SUMMARY_COLUMNS = ["model", "horizon", "provision_type", "origins", "actual_plans", "wape", "mape", "coverage_p10_p90"]


def summarise(records: pd.DataFrame) -> pd.DataFrame:
    """records: model, horizon, provision_type, origin, actual, forecast[, p10, p90] → error table."""
    if records.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    frame = records.copy()
    frame["abs_error"] = (frame["actual"] - frame["forecast"]).abs()
    frame["ape"] = frame["abs_error"] / frame["actual"].where(frame["actual"] > 0)
    if "p10" in frame:
        frame["covered"] = ((frame["actual"] >= frame["p10"]) & (frame["actual"] <= frame["p90"])).where(frame["p10"].notna())
    else:
        frame["covered"] = np.nan
    summary = (
        frame.groupby(["model", "horizon", "provision_type"], sort=False)
        .agg(origins=("origin", "nunique"), actual_plans=("actual", "sum"), abs_error=("abs_error", "sum"),
             mape=("ape", "mean"), coverage_p10_p90=("covered", "mean"))
        .reset_index()
    )
    summary["wape"] = summary["abs_error"] / summary["actual_plans"].where(summary["actual_plans"] > 0)
    return summary[SUMMARY_COLUMNS]


def baseline_records(counts: pd.DataFrame, origin: int, label: str | None = None) -> list[tuple]:
    """Baseline forecasts from `origin` for every horizon with an actual, as records."""
    history = counts.loc[:origin]
    records = []
    for horizon in HORIZONS:
        target = origin + horizon
        if target not in counts.index or len(history) < 2:
            continue
        actual = counts.loc[target].to_numpy(dtype=float)
        for name, project in BASELINES.items():
            forecast = project(history, horizon)
            for provision, a, f in zip(counts.columns, actual, forecast):
                records.append((name, horizon, provision, origin, a, f, np.nan, np.nan, label))
            records.append((name, horizon, "total", origin, actual.sum(), forecast.sum(), np.nan, np.nan, label))
    return records


RECORD_COLUMNS = ["model", "horizon", "provision_type", "origin", "actual", "forecast", "p10", "p90", "unit"]


def backtest_cohort(transitions: pd.DataFrame, caseload: pd.DataFrame, provisions: list[str],
                    settings: cohort.CohortSettings, simulations: int = 500, seed: int = 1) -> pd.DataFrame:
    """The council's own history: `caseload` is plans per census year × provision type."""
    records = []
    years = sorted(int(y) for y in transitions["year"].unique())
    for origin in years:
        if sum(1 for y in years if y <= origin) < settings.min_years:
            continue
        future = [origin + h for h in HORIZONS if origin + h in caseload.index]
        if not future:
            continue
        model = cohort.estimate(transitions, provisions, settings, upto_year=origin)
        paths = cohort.simulate(model, max(future) - origin, simulations, seed)
        plans = paths.plans.sum(axis=2).astype(float)  # (paths, years, P)
        for target in future:
            h = target - origin
            actual = caseload.loc[target, provisions].to_numpy(dtype=float)
            sims = plans[:, h - 1, :]
            q = np.quantile(sims, (0.1, 0.5, 0.9), axis=0)
            for p, provision in enumerate(provisions):
                records.append((MODEL, h, provision, origin, actual[p], float(sims[:, p].mean()), q[0, p], q[2, p], None))
            totals = sims.sum(axis=1)
            tq = np.quantile(totals, (0.1, 0.9))
            records.append((MODEL, h, "total", origin, actual.sum(), float(totals.mean()), tq[0], tq[1], None))
        records += baseline_records(caseload[provisions], origin)
    return summarise(pd.DataFrame(records, columns=RECORD_COLUMNS))
