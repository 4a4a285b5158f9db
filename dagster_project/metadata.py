"""Small helpers that turn library results into Dagster metadata and check results."""

from __future__ import annotations

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSeverity, AssetKey, MetadataValue

from ingest.gates import GateResult

DATA_ENGINEERING = "team:SEND data engineering"
FINANCE_AND_BI = "team:SEND finance and BI"


def markdown_table(frame: pd.DataFrame, max_rows: int = 60) -> MetadataValue:
    shown = frame.head(max_rows)
    text = shown.to_markdown(index=False, floatfmt=",.2f") if len(shown) else "_(no rows)_"
    if len(frame) > max_rows:
        text += f"\n\n… {len(frame) - max_rows} more rows"
    return MetadataValue.md(text)


def check_result(gate: GateResult, asset_key: AssetKey, check_name: str) -> AssetCheckResult:
    return AssetCheckResult(
        asset_key=asset_key,
        check_name=check_name,
        passed=gate.passed,
        severity=AssetCheckSeverity.ERROR,
        description="passed" if gate.passed else "; ".join(gate.failures[:5]),
        metadata={"compared": markdown_table(gate.facts), "failures": MetadataValue.text("\n".join(gate.failures) or "none")},
    )
