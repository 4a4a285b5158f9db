"""Rolling-origin backtest of the caseload forecast on the council's own census history.

From each census year with enough history before it (the origin), the model forecasts 1, 2
and 3 years ahead using only data up to the origin, and the forecast is compared with what
happened. The same is done for the common DBV-style projection, compound growth at the last
three years' rate per provision type. Errors per model, horizon and provision type (and the
total): WAPE = Σ|actual − forecast| ÷ Σ actual, MAPE = mean(|actual − forecast| ÷ actual).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .model import ForecastSettings, damped_growth_factor, fit_caseload_growth

MODEL = "damped_log_trend"
COMPOUND_GROWTH = "compound_growth_3y"
HORIZONS = (1, 2, 3)
MIN_CENSUSES_BEFORE_ORIGIN = 3


def _compound_growth_forecast(history: pd.DataFrame, horizon: int) -> np.ndarray:
    last = history.iloc[-1].to_numpy(dtype=float)
    span = min(3, len(history) - 1)
    earlier = history.iloc[-1 - span].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(earlier > 0, (last / earlier) ** (1 / span), 1.0)
    return last * rate**horizon


def backtest_caseload(caseload: pd.DataFrame, settings: ForecastSettings) -> pd.DataFrame:
    """`caseload`: plans per census year (rows) × provision type (columns)."""
    caseload = caseload.sort_index()
    records = []
    years = list(caseload.index)
    for position, origin in enumerate(years):
        if position + 1 < MIN_CENSUSES_BEFORE_ORIGIN:
            continue
        history = caseload.iloc[: position + 1]
        growth, _, _, _ = fit_caseload_growth(history, settings)
        base = history.iloc[-1].to_numpy(dtype=float)
        for horizon in HORIZONS:
            target = origin + horizon
            if target not in caseload.index:
                continue
            actual = caseload.loc[target].to_numpy(dtype=float)
            forecasts = {
                MODEL: base * damped_growth_factor(growth, settings.damping, horizon),
                COMPOUND_GROWTH: _compound_growth_forecast(history, horizon),
            }
            for model, forecast in forecasts.items():
                for provision, a, f in zip(caseload.columns, actual, forecast):
                    records.append((model, horizon, provision, origin, a, f))
                records.append((model, horizon, "total", origin, actual.sum(), forecast.sum()))
    frame = pd.DataFrame(records, columns=["model", "horizon", "provision_type", "origin", "actual", "forecast"])
    if frame.empty:
        return pd.DataFrame(columns=["model", "horizon", "provision_type", "origins", "actual_plans", "wape", "mape"])
    frame["abs_error"] = (frame["actual"] - frame["forecast"]).abs()
    frame["ape"] = np.where(frame["actual"] > 0, frame["abs_error"] / frame["actual"].where(frame["actual"] > 0), np.nan)
    summary = (
        frame.groupby(["model", "horizon", "provision_type"], sort=False)
        .agg(origins=("origin", "nunique"), actual_plans=("actual", "sum"), abs_error=("abs_error", "sum"), mape=("ape", "mean"))
        .reset_index()
    )
    summary["wape"] = np.where(summary["actual_plans"] > 0, summary["abs_error"] / summary["actual_plans"].where(summary["actual_plans"] > 0), np.nan)
    return summary[["model", "horizon", "provision_type", "origins", "actual_plans", "wape", "mape"]]
