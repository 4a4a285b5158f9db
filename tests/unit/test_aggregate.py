"""Aggregate mode: forecasting a council from published counts, and the all-councils backtest."""

import numpy as np
import pandas as pd
import pytest

from forecast.aggregate import AggregateInputError, backtest_all, estimate_aggregate, forecast_council
from forecast.published import PROVISIONS, CouncilHistory, find_council, load_published
from tests.conftest import reference_file

RELEASE_HINT = "the 'Education, health and care plans' release files (caseload.csv, newplans.csv) from explore-education-statistics"


def council(retention=0.9, joiners=100.0, years=range(2016, 2026)) -> CouncilHistory:
    """Every provision type keeps `retention` of its plans and gets its share of `joiners` a year."""
    share = np.array([0.5, 0.05, 0.2, 0.05, 0.02, 0.1, 0.02, 0.02, 0.01, 0.02, 0.01])
    caseload, new = {}, {}
    plans = share * joiners / (1 - retention)  # the steady state
    for year in years:
        caseload[year] = dict(zip(PROVISIONS, plans))
        new[year] = dict(zip(PROVISIONS, share * joiners))
        plans = plans * retention + share * joiners
    return CouncilHistory("999", "Testshire", "Nowhere", pd.DataFrame.from_dict(caseload, orient="index"),
                          pd.DataFrame.from_dict(new, orient="index"), pd.DataFrame())


def test_a_steady_council_is_recovered_and_stays_steady():
    history = council()
    model = estimate_aggregate(history)
    assert model.retention == pytest.approx(np.full(len(PROVISIONS), 0.9), abs=1e-6)
    table = forecast_council(history, 2029, simulations=500)
    total = table[table.provision_type == "total"].set_index("year")
    steady = 100 / 0.1
    assert total["plans_p50"].to_numpy() == pytest.approx(np.full(4, steady), rel=0.03)
    assert (total["plans_p10"] < total["plans_p50"]).all() and (total["plans_p50"] < total["plans_p90"]).all()


def test_too_little_published_history_is_a_clear_error():
    with pytest.raises(AggregateInputError, match="needs 2"):
        estimate_aggregate(council(years=range(2024, 2026)))


@pytest.fixture(scope="module")
def published():
    reference_file("ehcp_2025_release/caseload.csv", RELEASE_HINT)
    from tests.conftest import REFERENCE_DATA

    return load_published(REFERENCE_DATA)


def test_west_berkshire_from_the_published_files(published):
    wb = find_council(published, "West Berkshire")
    assert wb.code == "869"
    assert wb.caseload.sum(axis=1).loc[[2019, 2025]].round().tolist() == [971, 1685]  # as published
    assert find_council(published, "869") is wb
    table = forecast_council(wb, 2029, simulations=500)
    total = table[table.provision_type == "total"].set_index("year")
    assert list(total.index) == [2026, 2027, 2028, 2029]
    assert 1685 < total.loc[2026, "plans_p50"] < 1685 * 1.25


def test_every_council_is_backtested_and_the_errors_are_reported(published):
    summary, records = backtest_all(published, simulations=200)
    assert records["unit"].nunique() >= 140
    total = summary[summary.provision_type == "total"].set_index(["model", "horizon"])
    for model in ("aggregate_stock_flow", "compound_growth_3y", "linear_trend_5y"):
        assert {1, 2, 3} <= {h for m, h in total.index if m == model}
    coverage = total.loc[("aggregate_stock_flow", 1), "coverage_p10_p90"]
    assert 0.6 < coverage < 0.95
    assert total.loc[("aggregate_stock_flow", 1), "wape"] < 0.10
