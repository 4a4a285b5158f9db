"""The projections the model is judged against (per provision type, from counts alone):

* compound growth at the last three years' rate — the common DBV-style projection;
* a straight-line trend over the last five years.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COMPOUND_GROWTH = "compound_growth_3y"
LINEAR_TREND = "linear_trend_5y"


def compound_growth(history: pd.DataFrame, horizon: int) -> np.ndarray:
    """`history`: counts per year (rows, ascending) × provision type; the forecast `horizon` years on."""
    last = history.iloc[-1].to_numpy(dtype=float)
    span = min(3, len(history) - 1)
    earlier = history.iloc[-1 - span].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(earlier > 0, (last / np.where(earlier > 0, earlier, 1)) ** (1 / span), 1.0)
    return last * rate**horizon


def linear_trend(history: pd.DataFrame, horizon: int) -> np.ndarray:
    window = history.tail(5)
    x = window.index.to_numpy(dtype=float)
    target = x[-1] + horizon
    out = []
    for column in window.columns:
        y = window[column].to_numpy(dtype=float)
        slope, intercept = np.polyfit(x, y, 1) if len(x) > 1 else (0.0, y[-1])
        out.append(max(0.0, slope * target + intercept))
    return np.array(out)


BASELINES = {COMPOUND_GROWTH: compound_growth, LINEAR_TREND: linear_trend}
