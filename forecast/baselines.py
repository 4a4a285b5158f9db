"""The projections the model is judged against, as councils make them from counts alone.

Each takes a council's counts per census year (rows, ascending; one column per series — the
council total, or each provision type on its own) and returns the forecast `horizon` years on:

* compound growth at the last three years' rate — the common DBV-style spreadsheet projection;
* a straight-line trend over the last five years;
* the last value carried forward;
* the national growth rate of the last three years applied to the council (no model at all:
  councils' own trends regress towards the national one, so this is the bar to clear).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COMPOUND_GROWTH = "compound_growth_3y"
LINEAR_TREND = "linear_trend_5y"
LAST_VALUE = "last_value"
NATIONAL_GROWTH = "national_growth_3y"
GROWTH_YEARS = 3


def compound_growth(
    history: pd.DataFrame, horizon: int, national: pd.Series | None = None
) -> np.ndarray:
    """`history`: counts per year (rows, ascending) × series; the forecast `horizon` years on."""
    last = history.iloc[-1].to_numpy(dtype=float)
    span = min(GROWTH_YEARS, len(history) - 1)
    if span < 1:
        return last
    earlier = history.iloc[-1 - span].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(earlier > 0, (last / np.where(earlier > 0, earlier, 1)) ** (1 / span), 1.0)
    return last * rate**horizon


def linear_trend(
    history: pd.DataFrame, horizon: int, national: pd.Series | None = None
) -> np.ndarray:
    window = history.tail(5)
    x = window.index.to_numpy(dtype=float)
    target = x[-1] + horizon
    out = []
    for column in window.columns:
        y = window[column].to_numpy(dtype=float)
        slope, intercept = np.polyfit(x, y, 1) if len(x) > 1 else (0.0, y[-1])
        out.append(max(0.0, slope * target + intercept))
    return np.array(out)


def last_value(
    history: pd.DataFrame, horizon: int, national: pd.Series | None = None
) -> np.ndarray:
    return history.iloc[-1].to_numpy(dtype=float)


def national_growth(
    history: pd.DataFrame, horizon: int, national: pd.Series | None = None
) -> np.ndarray:
    """England's compound growth over its last three years (up to the council's last census)."""
    known = national.loc[: history.index[-1]].dropna()
    span = min(GROWTH_YEARS, len(known) - 1)
    rate = (known.iloc[-1] / known.iloc[-1 - span]) ** (1 / span) if span >= 1 else 1.0
    return history.iloc[-1].to_numpy(dtype=float) * rate**horizon


BASELINES = {
    COMPOUND_GROWTH: compound_growth,
    LINEAR_TREND: linear_trend,
    LAST_VALUE: last_value,
    NATIONAL_GROWTH: national_growth,
}
# as the report and the summary name them
LABELS = {
    COMPOUND_GROWTH: "Compound growth (3 years)",
    LINEAR_TREND: "Straight line (5 years)",
    LAST_VALUE: "Last value",
    NATIONAL_GROWTH: "England's growth (3 years)",
}
# a council's own history has no national series beside it
COUNCIL_BASELINES = {
    COMPOUND_GROWTH: compound_growth,
    LINEAR_TREND: linear_trend,
    LAST_VALUE: last_value,
}
