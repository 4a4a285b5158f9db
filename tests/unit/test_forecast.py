"""Forecast v1 on small hand-made histories whose right answers are known."""

import numpy as np
import pandas as pd
import pytest

from forecast.backtest import COMPOUND_GROWTH, MODEL, backtest_caseload
from forecast.history import History
from forecast.mitigations import Mitigation, MitigationsError, load_mitigations
from forecast.model import ForecastInputError, ForecastSettings, caseload_by_census, run_forecast
from forecast.years import fy_label

TYPES = ["mainstream", "mss", "inmss"]


def history(growth: float = 0.10, years: range = range(2019, 2027), noise: float = 0.0, seed: int = 1) -> History:
    """Caseload growing at `growth` a year; spend = plans × unit cost rising 4 %; funding flat."""
    rng = np.random.default_rng(seed)
    base = {"mainstream": 400, "mss": 250, "inmss": 60}
    unit = {"mainstream": 8_000.0, "mss": 25_000.0, "inmss": 60_000.0}
    caseload, flows, spend, position = [], [], [], []
    balance = 0.0
    for i, year in enumerate(years):
        fy = fy_label(year - 1)
        total_spend = 0.0
        for t in TYPES:
            plans = round(base[t] * (1 + growth) ** i * np.exp(noise * rng.standard_normal()))
            caseload.append((year, t, plans))
            flows.append((year, t, round(plans * 0.15), round(plans * 0.05), 0, 0))
            cost = unit[t] * 1.04**i
            spend.append((fy, t, plans * cost, float(plans), cost, True))
            total_spend += plans * cost
        spend.append((fy, "central", 1_000_000.0, 0.0, np.nan, True))
        total_spend += 1_000_000.0
        funding = 20_000_000.0
        balance += funding - total_spend
        position.append((fy, funding, total_spend, balance, True, True))
    return History(
        caseload=pd.DataFrame(caseload, columns=["census_year", "provision_type", "plans"]),
        flows=pd.DataFrame(flows, columns=["year", "provision_type", "new_plans", "ceased_plans", "moved_in", "moved_out"]),
        spend=pd.DataFrame(spend, columns=["financial_year", "provision_type", "spend_gbp", "fte_placements", "unit_cost_gbp", "is_complete_year"]),
        position=pd.DataFrame(position, columns=["financial_year", "funding_gbp", "spend_gbp", "cumulative_balance_gbp", "is_complete_year", "has_budget"]),
        budget=pd.DataFrame({"financial_year": ["2026-27"], "line": ["hnb_allocation"], "amount_gbp": [21_000_000.0]}),
        provision_types=TYPES,
    )


SETTINGS = ForecastSettings(simulations=400, seed=7)


def p50(forecast, scenario="unmitigated"):
    frame = forecast.caseload[forecast.caseload["scenario"] == scenario]
    return frame.groupby("year")["plans_p50"].sum()


def test_steady_growth_continues_damped():
    result = run_forecast(history(0.10), [], SETTINGS)
    totals = p50(result)
    assert list(totals.index) == [2027, 2028, 2029]
    last_actual = sum(round(b * 1.1**7) for b in (400, 250, 60))
    expected_first = last_actual * np.exp(np.log(1.1) * 0.9)
    assert totals[2027] == pytest.approx(expected_first, rel=0.01)
    growth = totals.pct_change().dropna()
    assert (growth > 0).all() and growth.is_monotonic_decreasing  # damped: slowing, not shrinking


def test_intervals_widen_with_the_horizon():
    result = run_forecast(history(0.08, noise=0.03), [], SETTINGS)
    totals = result.hnb_position[result.hnb_position["scenario"] == "unmitigated"]
    width = (totals["spend_gbp_p90"] - totals["spend_gbp_p10"]).to_numpy()
    assert (np.diff(width) > 0).all()
    assert (totals["spend_gbp_p10"] <= totals["spend_gbp_p50"]).all() and (totals["spend_gbp_p50"] <= totals["spend_gbp_p90"]).all()


def test_seeded_and_reproducible():
    a = run_forecast(history(0.08, noise=0.03), [], SETTINGS).hnb_position
    b = run_forecast(history(0.08, noise=0.03), [], SETTINGS).hnb_position
    pd.testing.assert_frame_equal(a, b)


def test_funding_from_the_budget_file_then_grown():
    result = run_forecast(history(), [], SETTINGS)
    position = result.hnb_position[result.hnb_position["scenario"] == "unmitigated"].set_index("financial_year")
    assert position.loc["2026-27", "funding_gbp"] == 21_000_000.0
    assert position.loc["2026-27", "funding_source"] == "budget file"
    assert position.loc["2027-28", "funding_gbp"] == pytest.approx(21_000_000.0)  # history's funding was flat


def mitigation(lever, effect, types=("inmss",), start="2027-28"):
    return Mitigation(name=lever, line_of_enquiry="sufficiency", lever=lever, start_year=start,
                      status="assessed", provision_types=types, effect=effect)


def test_shift_moves_plans_without_changing_the_total():
    result = run_forecast(history(), [mitigation("shift_placements", {"to": "mss", "share": 0.5})], SETTINGS)
    unmitigated, mitigated = p50(result), p50(result, "mitigated")
    assert mitigated[2027] == pytest.approx(unmitigated[2027])  # starts 2027-28 = census 2028
    caseload = result.caseload.pivot_table(index=["scenario", "year"], columns="provision_type", values="plans_p50")
    assert caseload.loc[("mitigated", 2029), "inmss"] < caseload.loc[("unmitigated", 2029), "inmss"]
    assert caseload.loc[("mitigated", 2029), "mss"] > caseload.loc[("unmitigated", 2029), "mss"]
    assert mitigated[2029] == pytest.approx(unmitigated[2029], rel=0.01)
    effects = result.mitigations.set_index("financial_year")
    assert effects.loc["2026-27", "spend_effect_gbp"] == 0
    assert effects.loc["2028-29", "spend_effect_gbp"] < 0  # cheaper placements


def test_reduce_new_plans_and_funding_change_improve_the_balance():
    levers = [mitigation("reduce_new_plans", {"percent": 20}, TYPES), mitigation("funding_change", {"amount_gbp": 1e6}, ())]
    result = run_forecast(history(), levers, SETTINGS)
    assert (p50(result, "mitigated") <= p50(result)).all()
    effects = result.mitigations.pivot_table(index="financial_year", columns="mitigation", values="cumulative_balance_effect_gbp")
    assert effects.loc["2028-29", "funding_change"] == pytest.approx(2e6)  # two years of £1m
    assert effects.loc["2028-29", "reduce_new_plans"] > 0


def test_gap_to_balance_recovers_the_deficit_by_the_target():
    result = run_forecast(history(), [], SETTINGS)
    gap = result.gap_to_balance
    per_year = gap["saving_per_year_to_recover_by_target_gbp"].iloc[0]
    assert per_year * len(gap) == pytest.approx(-gap["cumulative_balance_gbp"].iloc[-1], rel=1e-9)
    assert (gap["saving_to_balance_in_year_gbp"] == (-gap["in_year_balance_gbp"]).clip(lower=0)).all()


def test_too_little_history_is_a_clear_error():
    with pytest.raises(ForecastInputError, match="at least 3"):
        run_forecast(history(years=range(2025, 2027)), [], SETTINGS)


def test_backtest_beats_compound_growth_only_when_it_should():
    exact = caseload_by_census(history(0.10))
    result = backtest_caseload(exact, ForecastSettings(damping=1.0)).set_index(["model", "horizon", "provision_type"])
    assert result.loc[(MODEL, 1, "total"), "wape"] == pytest.approx(0, abs=0.01)
    assert result.loc[(COMPOUND_GROWTH, 3, "total"), "wape"] == pytest.approx(0, abs=0.01)
    assert set(result.index.get_level_values("horizon")) == {1, 2, 3}


def test_mitigations_file_errors_name_the_file_and_entry(tmp_path):
    path = tmp_path / "m.yml"
    path.write_text("mitigations:\n  - name: Fewer plans\n    lever: reduce_new_plans\n    provision_types: [mainstream]\n"
                    "    start_year: 2026-27\n    status: assessed\n    line_of_enquiry: early support and inclusion\n")
    with pytest.raises(MitigationsError, match=r"m.yml: mitigation 1 \('Fewer plans'\): lever reduce_new_plans needs effect percent"):
        load_mitigations(path, TYPES)
    path.write_text(path.read_text().replace("status: assessed", "status: hoped\n    effect: {percent: 5}"))
    with pytest.raises(MitigationsError, match="status must be assured or assessed"):
        load_mitigations(path, TYPES)


def test_the_shipped_example_mitigations_are_valid():
    from dagster_project.settings import EXAMPLE_MITIGATIONS

    types = ["mainstream", "mainstream_rp_unit", "mss", "inmss", "ap", "post16_fe", "post16_spi", "eotas", "early_years", "other", "none"]
    assert len(load_mitigations(EXAMPLE_MITIGATIONS, types)) == 5
