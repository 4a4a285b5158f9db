"""Why a step run on its own (from the UI, or `highneeds report`) draws or publishes nothing:
the warehouse's figures did not pass their gates, or the forecast tables failed their checks."""

from warehouse import FORECAST_BEING_WRITTEN


def figures_unchecked(
    run: str, kept: str = "the last good report stays with the serving file's figures"
) -> str:
    """Why nothing is built from the warehouse's figures: refresh `run` built them and its gates
    did not pass (warehouse.unchecked_run); `kept`: what stays as it was."""
    return (
        f"the warehouse holds the figures of refresh {run}, which did not pass its gates (its "
        f"output, and the Dagster UI, say which); {kept}. Fix the files its gates named and "
        "refresh."
    )


def forecast_unchecked(run: str, failed: list[str]) -> str:
    """Why nothing is drawn or published from the forecast tables: refresh `run` wrote them and
    they failed blocking checks `failed` (warehouse.unchecked_forecast)."""
    if failed == [FORECAST_BEING_WRITTEN]:
        return (
            f"refresh {run} stopped while it wrote the forecast tables, so their checks are not "
            "known; the serving file and the report keep the last good version. Refresh."
        )
    return (
        f"the forecast tables hold refresh {run}'s forecast, which failed its blocking "
        f"check{'s' if len(failed) > 1 else ''} {', '.join(failed)}; the serving file and the "
        "report keep the last good version. Fix what the check named and refresh."
    )


def forecast_behind(forecast_run: str, figures_run: str) -> str:
    """Why nothing is drawn from the warehouse: its marts hold refresh `figures_run`'s checked
    figures and its forecast tables an earlier refresh's, `forecast_run`
    (warehouse.forecast_behind_figures)."""
    return (
        f"the warehouse's figures are refresh {figures_run}'s, which stopped before its forecast "
        f"was written: the forecast tables still hold refresh {forecast_run}'s, made from the "
        "figures before them, and a report would put the one beside the other. The serving file "
        "and the report keep the last good version. Refresh (if its forecast step failed, its "
        "output says why: fix that first)."
    )
