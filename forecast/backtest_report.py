"""The backtest tables as Markdown, for the README and `highneeds backtest`."""

from __future__ import annotations

import pandas as pd

MODEL_NAMES = {
    "cohort_model": "cohort model (age × provision)",
    "aggregate_stock_flow": "stock-and-flow model (published counts)",
    "compound_growth_3y": "compound growth, last 3 years",
    "linear_trend_5y": "linear trend, last 5 years",
}


def total_table(summary: pd.DataFrame) -> str:
    """WAPE (and coverage) for total caseload by horizon, models side by side."""
    total = summary[summary["provision_type"] == "total"]
    lines = ["| model | horizon | origins | WAPE | MAPE | p10–p90 coverage |", "|---|---|---|---|---|---|"]
    for row in total.sort_values(["horizon", "wape"]).itertuples():
        coverage = f"{row.coverage_p10_p90:.0%}" if pd.notna(row.coverage_p10_p90) else "–"
        lines.append(f"| {MODEL_NAMES.get(row.model, row.model)} | {row.horizon} | {row.origins} | {row.wape:.1%} | "
                     f"{row.mape:.1%} | {coverage} |")
    return "\n".join(lines)


def provision_table(summary: pd.DataFrame, horizon: int = 3) -> str:
    """WAPE per provision type at one horizon, one column per model."""
    frame = summary[(summary["horizon"] == horizon) & (summary["provision_type"] != "total")]
    wide = frame.pivot_table(index="provision_type", columns="model", values="wape")
    models = list(wide.columns)
    lines = ["| provision type | " + " | ".join(MODEL_NAMES.get(m, m) for m in models) + " |",
             "|---|" + "---|" * len(models)]
    for provision, row in wide.iterrows():
        best = row.idxmin()
        cells = [f"**{row[m]:.1%}**" if m == best else f"{row[m]:.1%}" for m in models]
        lines.append(f"| {provision} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
