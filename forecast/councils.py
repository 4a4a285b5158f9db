"""A forecast per council: what the forecast asset runs for each council the warehouse holds
(one, or many: DESIGN.md's many-councils warehouse), each from that council's history alone."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from checks.gates import GateResult

from .aggregate import published_growth
from .backtest import backtest_cohort
from .checks import run_checks
from .history import History, caseload_by_census
from .mitigations import load_mitigations
from .model import run_forecast
from .settings import ForecastSettings
from .store import for_council, forecast_tables
from .summary import summary_markdown


@dataclass
class CouncilForecast:
    la_code: str
    tables: dict[str, pd.DataFrame]  # forecast.store's tables, la_code first
    checks: dict[str, tuple[str, GateResult]]  # forecast.checks.run_checks
    summary: str  # forecast.summary.summary_markdown, for the asset's metadata
    hnb_position: pd.DataFrame  # the forecast's, without la_code (Forecast.hnb_position)
    notes: list[str] = field(default_factory=list)  # for the refresh's log


def forecast_council(
    la_code: str,
    history: History,
    settings: ForecastSettings,
    mitigations_file: Path,
    published: Path | None,
) -> CouncilForecast:
    """The council's forecast, its backtest on its own censuses (joiners pooled with the DfE's
    published files when they hold the council, see aggregate.published_growth) and its checks."""
    mitigations = load_mitigations(mitigations_file, history.provision_types)
    caseload = caseload_by_census(history)
    growth, why_not = published_growth(published, la_code, caseload.sum(axis=1))
    notes = []
    if growth is None and settings.cohort.pool_with_published:
        notes.append(
            f"joiners follow the caseload's own growth, not the published files: {why_not}"
        )
    base_year = int(history.transitions["year"].max()) if len(history.transitions) else None
    forecast = run_forecast(
        history,
        mitigations,
        settings,
        growth(base_year) if growth is not None and base_year is not None else None,
    )
    backtest = backtest_cohort(
        history.transitions,
        caseload,
        history.provision_types,
        settings.cohort,
        seed=settings.seed,
        unit_costs=forecast.cost_model.cost_per_plan(),
        pooled_growth=growth,
    )
    tables = forecast_tables(forecast, backtest)
    return CouncilForecast(
        la_code,
        for_council(tables, la_code),
        run_checks(tables, forecast.unreached),
        summary_markdown(forecast, settings.horizon),
        forecast.hnb_position,
        notes + list(forecast.cohort_model.notes),
    )


def forecast_councils(
    histories: dict[str, History],
    settings: ForecastSettings,
    mitigations_file: Path,
    published: Path | None,
    workers: int = 1,
) -> list[CouncilForecast]:
    """forecast_council for every council in `histories`, in code order: in `workers` processes
    when there are several councils (a region's or England's councils are independent, and each
    forecast is seconds of NumPy on one core), else here. Each council's forecast is the same
    wherever it runs: its simulations are seeded from the settings alone."""
    codes = sorted(histories)
    if workers < 2 or len(codes) < 2:
        return [
            forecast_council(code, histories[code], settings, mitigations_file, published)
            for code in codes
        ]
    # spawned, not forked: the parent holds DuckDB's and Dagster's threads
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(codes)), mp_context=context) as pool:
        running = [
            pool.submit(
                forecast_council, code, histories[code], settings, mitigations_file, published
            )
            for code in codes
        ]
        return [job.result() for job in running]
