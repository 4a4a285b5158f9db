"""A forecast per council: what the forecast asset runs for each council the warehouse holds
(one, or many: DESIGN.md's many-councils warehouse), each from that council's history alone."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from checks.gates import GateResult

from .aggregate import published_growth, published_national
from .backtest import backtest_cohort
from .checks import run_checks
from .cohort import CohortInputError
from .history import History, caseload_by_census
from .mitigations import MitigationsError, is_example, load_mitigations, log_assumption
from .model import ForecastInputError, run_forecast
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


# the joiners_trend assumption's words when the published files could not be pooled with
NOT_POOLED = "not pooled with the DfE's published files"


def forecast_council(
    la_code: str,
    history: History,
    settings: ForecastSettings,
    mitigations_file: Path,
    published: Path | None,
    own_log: bool = False,
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
        example_log=is_example(mitigations_file, own_log),
    )
    backtest = backtest_cohort(
        history.transitions,
        caseload,
        history.provision_types,
        settings.cohort,
        seed=settings.seed,
        unit_costs=forecast.cost_model.cost_per_plan(),
        pooled_growth=growth,
        national=published_national(published) if growth is not None else None,
    )
    tables = forecast_tables(forecast, backtest)
    if growth is None and settings.cohort.pool_with_published:
        # said where the forecast's assumptions are read (the report, the refresh's summary),
        # not only in the step's log: a council without HIGHNEEDS_LA_CODE had a forecast that
        # learnt nothing from the published councils, its balance £4.5m apart, unsaid
        trend = tables["assumptions"]["assumption"] == "joiners_trend"
        tables["assumptions"].loc[trend, "source"] = (
            tables["assumptions"].loc[trend, "source"] + f"; {NOT_POOLED}: {why_not}"
        )
    tables["assumptions"] = pd.concat(
        [
            tables["assumptions"],
            pd.DataFrame(
                [log_assumption(mitigations_file, mitigations, own_log, forecast.set_aside)]
            ),
        ],
        ignore_index=True,
    )
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
    mitigations_file: Path | dict[str, Path],
    published: Path | None,
    workers: int = 1,
    unfitted: dict[str, str] | None = None,
    shared: Path | None = None,
) -> list[CouncilForecast]:
    """forecast_council for every council in `histories`, in code order: in `workers` processes
    when there are several councils (a region's or England's councils are independent, and each
    forecast is seconds of NumPy on one core), else here. Each council's forecast is the same
    wherever it runs: its simulations are seeded from the settings alone.

    With `unfitted`, a council whose own figures cannot be forecast (COUNCIL_ERRORS, such as a
    ledger too short for the cohort model) is left out and recorded there (code →
    why) while the others are forecast; unless that leaves no council, which raises. Without
    it, the first such error stops every forecast; any other error (of the shared settings, such
    as the shared mitigations file, or a bug) always does. `mitigations_file`: one log for every
    council, or each council's (council_mitigations_file); `shared`: the log of the councils
    without their own, whose error stops every forecast. An error in a council's own log
    (`mitigations.yml` in its landing folder) is that council's: it is held, as its figures
    would be (one council's typo had stopped every council's refresh)."""
    codes = sorted(histories)
    files = (
        mitigations_file
        if isinstance(mitigations_file, dict)
        else dict.fromkeys(codes, mitigations_file)
    )
    own = {code: shared is not None and files[code] != shared for code in codes}

    def arguments(code: str) -> tuple:  # _attempt's, for one council
        return (
            forecast_council,
            code,
            histories[code],
            settings,
            files[code],
            published,
            own[code],
        )

    if workers < 2 or len(codes) < 2:
        jobs = {code: _attempt(*arguments(code), own_log=own[code]) for code in codes}
    else:
        # spawned, not forked: the parent holds DuckDB's and Dagster's threads
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(codes)), mp_context=context) as pool:
            running = {
                code: pool.submit(_attempt, *arguments(code), own_log=own[code]) for code in codes
            }
            jobs = {code: job.result() for code, job in running.items()}
    failed = {code: job for code, job in jobs.items() if isinstance(job, BaseException)}
    if failed and (unfitted is None or len(failed) == len(codes)):
        if len(failed) == 1 or unfitted is None:
            raise next(iter(failed.values()))
        raise ValueError(
            "No council's figures could be forecast: "
            + "; ".join(f"{code}: {error}" for code, error in failed.items())
        )
    if unfitted is not None:
        unfitted.update({code: str(error) for code, error in failed.items()})
    return [job for job in jobs.values() if not isinstance(job, BaseException)]


# what a council's own figures raise when they cannot be forecast (any other error, a bug's
# ValueError included, stops every forecast as it did)
COUNCIL_ERRORS = (ForecastInputError, CohortInputError)


def _attempt(function, *args, own_log: bool = False) -> CouncilForecast | ValueError:
    """`function(*args)`, or the error it raised when the council's figures cannot be forecast
    (COUNCIL_ERRORS, or an error in the council's own mitigation log: `own_log`), returned for
    forecast_councils to hold that council or stop."""
    try:
        return function(*args)
    except COUNCIL_ERRORS as error:
        return error
    except MitigationsError as error:
        if own_log:
            return error
        raise
