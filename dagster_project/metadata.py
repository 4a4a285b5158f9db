"""Small helpers that turn library results into Dagster metadata and check results."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from functools import lru_cache

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    TableColumn,
    TableSchema,
)

from checks.gates import GateResult
from serving import contract as serving_contract

DATA_ENGINEERING = "team:SEND data engineering"
FINANCE_AND_BI = "team:SEND finance and BI"


def markdown_table(frame: pd.DataFrame, max_rows: int = 60) -> MetadataValue:
    shown = frame.head(max_rows)
    text = shown.to_markdown(index=False, floatfmt=",.2f") if len(shown) else "_(no rows)_"
    if len(frame) > max_rows:
        text += f"\n\n… {len(frame) - max_rows} more rows"
    return MetadataValue.md(text)


def contract_column_schema(
    schema: str, table: str, observed: Mapping[str, str] | None = None
) -> TableSchema:
    """A served table's columns described as the serving contract describes them (for
    `dagster/column_schema`): `observed` columns and their types (e.g. a frame's dtypes) when
    given, else the contract's columns and types."""
    contract = serving_contract.table(schema, table)
    if observed is None:
        observed = {column.name: column.data_type or "" for column in contract.columns}
    return TableSchema(
        columns=[
            TableColumn(name, kind, description=contract.describe(name))
            for name, kind in observed.items()
        ]
    )


def check_result(
    gate: GateResult,
    asset_key: AssetKey,
    check_name: str,
    councils: Sequence[str] = (),
    warn_only: bool = False,
) -> AssetCheckResult:
    """The gate as a Dagster check result. A blocking gate that failed stops everything after it
    (ERROR), unless it failed for some of the warehouse's `councils` only (the gate's
    councils_failed, a proper subset): then it warns, and those councils are held (the serving
    file keeps what it last published of them, if anything) while the others publish
    (`held_councils` names them). A `warn_only` gate warns and holds nothing: the refresh
    publishes, and its summary names the warning."""
    held = [] if warn_only else held_by(gate, councils)
    description = "passed" if gate.passed else "; ".join(gate.failures[:5])
    if held:
        description = (
            f"council{'s' if len(held) > 1 else ''} {', '.join(held)} held (the serving file "
            f"keeps what it last published of {'them' if len(held) > 1 else 'it'}, if anything); "
            f"the others publish: {description}"
        )
    return AssetCheckResult(
        asset_key=asset_key,
        check_name=check_name,
        passed=gate.passed,
        severity=AssetCheckSeverity.WARN if held or warn_only else AssetCheckSeverity.ERROR,
        description=description,
        metadata={
            "compared": markdown_table(gate.facts),
            "failures": MetadataValue.text("\n".join(gate.failures) or "none"),
            **({HELD_COUNCILS: MetadataValue.text(", ".join(held))} if held else {}),
            # the totals of what was compared, as numbers the UI plots across runs (to the penny:
            # summing amounts in floating point leaves noise such as 15646721.690000001)
            **{
                f"total_{column}": round(float(gate.facts[column].sum()), 2)
                for column in gate.facts.select_dtypes("number").columns[:12]
            },
        },
    )


HELD_COUNCILS = "held_councils"  # the check metadata naming the councils a failed gate holds


def held_by(gate: GateResult, councils: Sequence[str]) -> list[str]:
    """The councils a failed gate holds: those it failed for, when they are some but not all of
    the warehouse's councils ([] when it passed, or when its failure stops every council)."""
    if gate.passed or not gate.councils_failed or len(councils) < 2:
        return []
    failed = set(gate.councils_failed)
    return sorted(failed) if failed < set(councils) else []


@lru_cache(maxsize=1)
def code_version() -> str:
    """The git commit the code runs from
    (with "+changes" when the checkout has uncommitted edits)."""
    from .settings import REPO_ROOT

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", ""
    if not commit:
        from importlib.metadata import version

        return f"highneeds {version('highneeds')} (not a git checkout)"
    return commit + ("+changes" if dirty else "")


def provenance(run_id: str) -> dict[str, object]:
    """What every materialisation records about how it was made."""
    return {"code_version": code_version(), "load_id": run_id}
