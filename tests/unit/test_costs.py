"""Unit costs, central spend and funding (forecast/costs.py) on figures worked out by hand."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from forecast import costs
from forecast.costs import CostModel, CostSettings
from forecast.history import History, caseload_by_census

YEARS = ["2022-23", "2023-24", "2024-25", "2025-26"]  # complete; 2026-27 is under way
SETTINGS = CostSettings(
    pay_inflation=0.03,
    price_inflation=0.02,
    pay_share=0.7,
    historical_inflation=0.035,
    funding_growth=0.03,
)


def history(funding=(20e6, 22e6, 24.2e6, 26.62e6), budget=None):
    """mss: 100 FTE a year at £20,000 growing 5 % a year; 80 plans on each census but the first
    (50); inmss: 10 FTE, 10 plans, unit cost growing 20 % a year; central spend growing 10 %."""
    spend, position, caseload = [], [], []
    for i, fy in enumerate(YEARS):
        census = int(fy[:4]) + 1
        spend += [
            (fy, "mss", 100 * 20_000 * 1.05**i, 100.0, np.nan, True),
            (fy, "inmss", 10 * 50_000 * 1.2**i, 10.0, np.nan, True),
            (fy, "central", 1e6 * 1.1**i, 0.0, np.nan, True),
        ]
        position.append((fy, funding[i], np.nan, -2e6 if fy == YEARS[-1] else 0.0, True, True))
        caseload += [(census, "mss", 50 if i == 0 else 80), (census, "inmss", 10)]
    spend.append(("2026-27", "mss", 1e9, 1.0, np.nan, False))  # part of a year: never used
    budget = (
        budget
        if budget is not None
        else [
            ("2026-27", "hnb_allocation", 33e6),
            ("2026-27", "place_deductions", 1e6),
            ("2026-27", "balance_brought_forward", -2e6),
        ]
    )
    return History(
        caseload=pd.DataFrame(caseload, columns=["census_year", "provision_type", "plans"]),
        transitions=pd.DataFrame(),
        flows=pd.DataFrame(),
        spend=pd.DataFrame(
            spend,
            columns=[
                "financial_year",
                "provision_type",
                "spend_gbp",
                "fte_placements",
                "unit_cost_gbp",
                "is_complete_year",
            ],
        ),
        position=pd.DataFrame(
            position,
            columns=[
                "financial_year",
                "funding_gbp",
                "spend_gbp",
                "cumulative_balance_gbp",
                "is_complete_year",
                "has_budget",
            ],
        ),
        budget=pd.DataFrame(budget, columns=["financial_year", "line", "amount_gbp"]),
        provision_types=["mss", "inmss"],
    )


@pytest.fixture(scope="module")
def model():
    h = history()
    return costs.estimate_costs(h, caseload_by_census(h), SETTINGS, "2028-29")


def test_inflation_weighs_pay_and_prices():
    assert SETTINGS.inflation == pytest.approx(0.7 * 0.03 + 0.3 * 0.02)  # 2.7 %


def test_compound_growth_by_hand():
    assert costs.compound_growth(pd.Series([100.0, 110.0, 121.0])) == (
        pytest.approx(0.1),
        pytest.approx(0.0),
    )
    rate, spread = costs.compound_growth(pd.Series([100.0, 120.0, 132.0]))
    assert rate == pytest.approx(np.sqrt(1.32) - 1)  # the geometric mean of +20 % and +10 %
    assert spread == pytest.approx(np.std(np.log([1.2, 1.1]), ddof=1))
    # one change: half of it
    assert costs.compound_growth(pd.Series([100.0, 121.0])) == (
        pytest.approx(0.21),
        pytest.approx(np.log(1.21) / 2),
    )
    assert costs.compound_growth(pd.Series([0.0, 100.0, 110.0]))[0] == pytest.approx(0.1)
    assert costs.compound_growth(pd.Series([100.0])) == (0.0, 0.0)


def test_complete_years_only():
    assert costs.complete_years(history()) == YEARS
    none = history()
    none.spend["is_complete_year"] = False
    with pytest.raises(ValueError, match="no complete financial year"):
        costs.complete_years(none)


def test_unit_cost_is_the_last_complete_years_spend_per_fte(model):
    assert model.base_fy == "2025-26" and model.provisions == ["mss", "inmss"]
    np.testing.assert_allclose(model.unit_cost, [20_000 * 1.05**3, 50_000 * 1.2**3])


def test_real_growth_is_past_growth_less_past_inflation_within_bounds(model):
    assert model.real_growth[0] == pytest.approx(1.05 / 1.035 - 1)
    assert model.real_growth[1] == pytest.approx(0.10)  # 1.2 / 1.035 − 1 = 16 %: held at the bound
    np.testing.assert_allclose(model.real_growth_sd, [0, 0], atol=1e-12)  # steady growth
    assert model.inflation == pytest.approx(0.027)


def test_fte_per_plan_is_the_base_years(model):
    np.testing.assert_allclose(model.fte_per_plan, [100 / 80, 1.0])  # 2022-23's 50 plans left out


def test_a_handful_of_plans_on_the_census_takes_the_three_years_pooled_fte_per_plan():
    """2 plans on the census beside 10 full-time placements over the year priced every forecast
    plan at 5 places (the years before held 1): three times its history's spend."""
    h = history()
    h.caseload.loc[
        h.caseload["census_year"].eq(2026) & h.caseload["provision_type"].eq("inmss"), "plans"
    ] = 2
    model = costs.estimate_costs(h, caseload_by_census(h), SETTINGS, "2028-29")
    assert model.fte_per_plan[1] == pytest.approx(30 / 22)  # 2023-24 to 2025-26: 30 FTE, 22 plans
    assert model.fte_per_plan[0] == pytest.approx(100 / 80)  # mss's 80 plans: its own year's
    # and the assumptions' source says how each was taken (it had said the base year's for all)
    assert model.fte_per_plan_source == (costs.FTE_OWN_YEAR, costs.FTE_POOLED)
    # too few plans in all three years: the council's ratio across its types that year
    h.caseload.loc[h.caseload["provision_type"].eq("inmss"), "plans"] = 2
    model = costs.estimate_costs(h, caseload_by_census(h), SETTINGS, "2028-29")
    assert model.fte_per_plan[1] == pytest.approx(110 / 82)
    assert "the council's full-time-equivalent placements" in model.fte_per_plan_source[1]
    assert "fewer than 10 census plans over its last three years" in model.fte_per_plan_source[1]


def test_a_type_opened_within_the_base_year_takes_the_councils_fte_per_plan():
    """Independent special placements begun in the autumn: 9.36 full-time placements over the
    year for 15 plans on the census held every forecast year at 0.62 places a plan, its spend a
    third short for ever; it takes the council's ratio across its types."""
    h = history()
    h.spend = h.spend[
        ~(h.spend["provision_type"].eq("inmss") & ~h.spend["financial_year"].eq(YEARS[-1]))
    ]
    base = h.spend["financial_year"].eq(YEARS[-1]) & h.spend["provision_type"].eq("inmss")
    h.spend.loc[base, "fte_placements"] = 9.36
    h.caseload = h.caseload[
        ~(h.caseload["provision_type"].eq("inmss") & h.caseload["census_year"].lt(2026))
    ]
    h.caseload.loc[h.caseload["provision_type"].eq("inmss"), "plans"] = 15
    model = costs.estimate_costs(h, caseload_by_census(h), SETTINGS, "2028-29")
    assert model.fte_per_plan[1] == pytest.approx((100 + 9.36) / (80 + 15))


def test_the_first_forecast_year_goes_on_from_the_base_years_spend_per_plan():
    """Places a plan is paid on that differ between years (a type that grew within them, part
    years, residential weeks): the base year's, so that its unit cost × places a plan is its own
    spend per plan. A mean over three years stepped the first forecast year's cost per plan by
    their difference, read as unit-cost growth."""
    h = history()
    base = h.spend["financial_year"].eq(YEARS[-1]) & h.spend["provision_type"].eq("mss")
    h.spend.loc[base, ["spend_gbp", "fte_placements"]] = [70 * 20_000 * 1.05**3, 70.0]
    model = costs.estimate_costs(h, caseload_by_census(h), SETTINGS, "2028-29")
    assert model.fte_per_plan[0] == pytest.approx(70 / 80)
    spend_per_plan = 70 * 20_000 * 1.05**3 / 80
    assert model.unit_cost[0] * model.fte_per_plan[0] == pytest.approx(spend_per_plan)


def test_central_spend_and_the_balance_brought_forward(model):
    assert model.central == pytest.approx(1e6 * 1.1**3)
    assert model.central_real_growth == pytest.approx(1.1 / 1.035 - 1)
    assert model.base_cumulative_balance == -2e6


def test_spend_on_a_type_without_placements_is_forecast_with_central_spend():
    # place funding paid to a unit whose children the placements extract does not hold had no
    # unit cost, and dropped out of every forecast year
    h = history()
    ap = pd.DataFrame(
        [(fy, "ap", 300_000.0, 0.0, np.nan, True) for fy in YEARS], columns=h.spend.columns
    )
    h = dataclasses.replace(
        h, spend=pd.concat([h.spend, ap], ignore_index=True), provision_types=["mss", "inmss", "ap"]
    )
    model = costs.estimate_costs(h, caseload_by_census(h), SETTINGS, "2028-29")
    assert model.unplaced_spend == {"ap": 300_000.0}
    assert model.central == pytest.approx(1e6 * 1.1**3 + 300_000)
    assert model.unit_cost[2] == 0


def test_funding_from_the_budget_file_then_grown(model):
    # 33m allocation less 1m place deductions; the balance brought forward is not funding
    assert model.funding == pytest.approx(
        {"2026-27": 32e6, "2027-28": 32e6 * 1.03, "2028-29": 32e6 * 1.03**2}
    )
    grown = (
        "grown +3.0% a year (assumed) from 2026-27's allocation less place deductions, with its "
        "other income"
    )
    assert model.funding_source == {"2026-27": "budget file", "2027-28": grown, "2028-29": grown}


def test_the_other_dsg_blocks_lines_are_never_high_needs_funding():
    """The budget file may hold the schools, central and early years blocks' lines too (for the
    management plan's whole-DSG summary): a year's funding is its high needs lines only, and a
    year with only other blocks' lines is grown like a year the file does not give."""
    other_blocks = [
        (fy, line, 120e6)
        for fy in ("2026-27", "2027-28")
        for line in ("schools_block_funding", "schools_block_spend", "central_block_funding")
    ]
    h = history(
        budget=[
            ("2026-27", "hnb_allocation", 33e6),
            ("2026-27", "place_deductions", -1e6),  # either sign: a deduction
            ("2026-27", "block_transfer", 0.5e6),
            ("2026-27", "la_contribution", 0.25e6),
            ("2026-27", "other_income", 0.25e6),
            ("2026-27", "balance_brought_forward", -2e6),
            *other_blocks,
        ]
    )
    funding, source = costs.project_funding(h, SETTINGS, YEARS, "2028-29")
    # 2027-28 grows from 2026-27 without its transfer and contribution, agreed a year at a time
    assert funding == pytest.approx(
        {"2026-27": 33e6, "2027-28": 32.25e6 * 1.03, "2028-29": 32.25e6 * 1.03**2}
    )
    assert source == {
        "2026-27": "budget file",
        "2027-28": "grown +3.0% a year (assumed) from 2026-27's allocation less place deductions, "
        "with its other income, without 2026-27's block transfer and council contribution "
        "(£0.8m), agreed a year at a time",
        "2028-29": "grown +3.0% a year (assumed) from 2026-27's allocation less place deductions, "
        "with its other income",
    }


def test_a_block_transfer_in_the_base_year_is_not_assumed_to_recur():
    """A council's last actual year held a £2m block transfer and £1m from the council: grown
    with the allocation, both were assumed every year after, unmitigated, agreed by no one (the
    DSG management plan counts a planned transfer as a funding mitigation)."""
    h = history(budget=[("2025-26", "block_transfer", 2e6), ("2025-26", "la_contribution", 1e6)])
    assert costs.recurring_funding(h)["2025-26"] == pytest.approx(26.62e6 - 3e6)
    funding, source = costs.project_funding(h, SETTINGS, YEARS, "2027-28")
    assert funding == pytest.approx({"2026-27": 23.62e6 * 1.03, "2027-28": 23.62e6 * 1.03**2})
    assert source["2026-27"] == (
        "grown +3.0% a year (assumed) from 2025-26's allocation less place deductions, with its "
        "other income, without 2025-26's block transfer and council contribution (£3.0m), agreed "
        "a year at a time"
    )
    # with no growth set, the rate is the recurring funding's: a transfer's year is no jump
    rate, _ = costs.funding_rate(h, CostSettings(funding_growth=None), YEARS)
    assert rate == pytest.approx((23.62e6 / 20e6) ** (1 / 3) - 1)


def test_a_future_year_with_a_transfer_but_no_allocation_is_refused_naming_it():
    """A block transfer planned for 2027-28 before its allocation is known was taken as that
    year's whole funding (£0.5m against £33m): its spend became a deficit of tens of millions."""
    h = history(
        budget=[
            ("2026-27", "hnb_allocation", 33e6),
            ("2027-28", "block_transfer", 0.5e6),
        ]
    )
    with pytest.raises(ValueError, match="block_transfer for 2027-28 but no hnb_allocation"):
        costs.project_funding(h, SETTINGS, YEARS, "2027-28")


def test_funding_with_no_growth_set_grows_at_its_recent_rate():
    h = history(budget=[])
    funding, source = costs.project_funding(h, CostSettings(funding_growth=None), YEARS, "2027-28")
    assert funding == pytest.approx({"2026-27": 26.62e6 * 1.1, "2027-28": 26.62e6 * 1.1**2})
    assert source["2026-27"] == (
        "grown +10.0% a year (recent growth) from 2025-26's allocation less place deductions, "
        "with its other income"
    )
    # the rate the assumptions and the sensitivity's "as set" row state (they said nothing)
    assert costs.funding_rate(h, CostSettings(funding_growth=None), YEARS) == (
        pytest.approx(0.1),
        "recent growth",
    )


def cost_model(base_fy="2025-26", real_sd=(0.0, 0.0)):
    return CostModel(
        provisions=["mss", "inmss"],
        base_fy=base_fy,
        unit_cost=np.array([1000.0, 2000.0]),
        real_growth=np.array([0.01, 0.0]),
        real_growth_sd=np.array(real_sd),
        fte_per_plan=np.ones(2),
        central=500.0,
        central_real_growth=0.0,
        central_real_growth_sd=0.0,
        funding={"2026-27": 10_000.0, "2027-28": 11_000.0, "2028-29": 12_000.0},
        funding_source={},
        funding_growth=0.03,
        base_cumulative_balance=0.0,
        inflation=0.02,
    )


FORECAST_YEARS = ["2026-27", "2027-28", "2028-29"]


def test_simulated_costs_grow_at_real_growth_compounded_with_inflation():
    paths = costs.simulate_costs(cost_model(), FORECAST_YEARS, 4, 1, costs.no_levers(3, 2))
    steps = np.arange(1, 4)
    # 1 % real and 2 % inflation: 1.01 × 1.02 a year (3.02 %), not 1 % + 2 %
    np.testing.assert_allclose(paths.unit_cost[0, :, 0], 1000 * (1.01 * 1.02) ** steps)
    np.testing.assert_allclose(paths.unit_cost[0, :, 1], 2000 * 1.02**steps)
    np.testing.assert_allclose(paths.central[0], [500 * 1.02, 500 * 1.02**2, 500 * 1.02**3])
    np.testing.assert_array_equal(paths.funding, np.tile([10_000.0, 11_000.0, 12_000.0], (4, 1)))
    assert (paths.unit_cost == paths.unit_cost[0]).all()  # no spread: every path the same


def test_years_between_the_costs_base_and_the_forecast_grow_too():
    paths = costs.simulate_costs(
        cost_model(base_fy="2024-25"), FORECAST_YEARS, 1, 1, costs.no_levers(3, 2)
    )
    assert paths.unit_cost[0, 0, 0] == pytest.approx(1000 * (1.01 * 1.02) ** 2)
    assert paths.central[0, 0] == pytest.approx(500 * 1.02**2)


def test_cost_levers_by_hand():
    levers = costs.no_levers(3, 2)
    levers.growth[1:, 0] += 0.01  # mss grows a point faster from the second year
    levers.level[1, 1] *= 0.9  # inmss 10 % cheaper once, in the second year
    levers.central_level[2] *= 0.5
    levers.funding[0:] += 100.0
    paths = costs.simulate_costs(cost_model(), FORECAST_YEARS, 2, 1, levers)
    mss = 1000 * 1.01 * 1.02  # 1 % real, 2 % inflation; a point more from the second year
    np.testing.assert_allclose(
        paths.unit_cost[0, :, 0], [mss, mss * (1.0302 + 0.01), mss * (1.0302 + 0.01) ** 2]
    )
    np.testing.assert_allclose(
        paths.unit_cost[0, :, 1], [2040, 2040 * 1.02 * 0.9, 2040 * 1.02**2 * 0.9]
    )
    np.testing.assert_allclose(paths.central[0], [510, 510 * 1.02, 510 * 1.02**2 * 0.5])
    np.testing.assert_array_equal(paths.funding[1], [10_100.0, 11_100.0, 12_100.0])


def test_each_path_draws_its_growth_once():
    paths = costs.simulate_costs(
        cost_model(real_sd=(0.02, 0.0)), FORECAST_YEARS, 50, 5, costs.no_levers(3, 2)
    )
    mss = paths.unit_cost[:, :, 0]
    assert mss[:, 0].std() > 0  # paths differ …
    # … each steadily: its year-on-year growth moves only by the scale every path shares (that
    # holds the paths' mean to the stated rate's compounding)
    steadiness = (mss[:, 2] / mss[:, 1]) / (mss[:, 1] / mss[:, 0])
    np.testing.assert_allclose(steadiness, steadiness[0])
    assert abs(steadiness[0] - 1) < 1e-3
    again = costs.simulate_costs(
        cost_model(real_sd=(0.02, 0.0)), FORECAST_YEARS, 50, 5, costs.no_levers(3, 2)
    )
    np.testing.assert_array_equal(again.unit_cost, paths.unit_cost)  # seeded


def test_each_paths_growth_stays_within_the_bounds_the_mean_is_held_to():
    # unit costs of 30,105 / 17,720 / 31,110 / 31,976: a spread of 0.55 a year had compounded
    # to paths below zero and a central unit cost twice the base year's within three years
    noisy = dataclasses.replace(cost_model(real_sd=(0.55, 0.0)), real_growth_bounds=(-0.05, 0.10))
    paths = costs.simulate_costs(noisy, FORECAST_YEARS, 2000, 3, costs.no_levers(3, 2))
    mss = paths.unit_cost[:, :, 0]
    yearly = mss[:, 1:] / mss[:, :-1] / (1 + noisy.inflation) - 1
    # within the bounds but for the scale that holds the paths' mean to the stated rate (a
    # spread this wide compounds to a mean 0.6 % a year above it)
    assert yearly.min() >= -0.05 - 0.01 and yearly.max() <= 0.10 + 0.01
    stated = 1000 * (1.01 * (1 + noisy.inflation)) ** np.arange(1, 4)
    assert (mss > 0).all()
    np.testing.assert_allclose(mss.mean(axis=0), stated)


def test_no_levers_change_nothing():
    levers = costs.no_levers(3, 2)
    assert levers.growth.shape == (3, 2) and not levers.growth.any()
    assert (levers.level == 1).all() and (levers.central_level == 1).all()
    assert not levers.funding.any()


def test_census_years_for_a_forecast():
    assert costs.census_years_for("2025-26", "2028-29") == [2027, 2028, 2029]


def _without_base_year(h: History, provision: str, years: tuple[str, ...]) -> History:
    """`h` with `provision`'s spend and FTE gone from `years`."""
    spend = h.spend[
        ~((h.spend["provision_type"] == provision) & h.spend["financial_year"].isin(years))
    ]
    return dataclasses.replace(h, spend=spend.reset_index(drop=True))


def test_a_type_without_placements_in_the_base_year_is_priced_at_its_last_unit_cost():
    # inmss paid no placement in 2025-26: its children were priced at £0 (a shift into it, a
    # saving of their whole cost); they take 2024-25's unit cost carried a year by inflation
    h = _without_base_year(history(), "inmss", ("2025-26",))
    model = costs.estimate_costs(h, caseload_by_census(h), SETTINGS, "2028-29")
    inmss = model.provisions.index("inmss")
    assert model.unit_cost[inmss] == pytest.approx(50_000 * 1.2**2 * 1.035)
    assert model.unit_cost_known[inmss]
    assert "2024-25's unit cost" in model.unit_cost_source[inmss]
    assert model.unit_cost_source[model.provisions.index("mss")] is None


def test_a_type_never_paid_takes_the_settings_unit_cost_or_none():
    h = _without_base_year(history(), "inmss", tuple(YEARS))
    model = costs.estimate_costs(h, caseload_by_census(h), SETTINGS, "2028-29")
    inmss = model.provisions.index("inmss")
    assert model.unit_cost[inmss] == 0 and not model.unit_cost_known[inmss]
    given = dataclasses.replace(SETTINGS, new_provision_unit_costs={"inmss": 61_000.0})
    model = costs.estimate_costs(h, caseload_by_census(h), given, "2028-29")
    assert model.unit_cost[inmss] == 61_000 and model.unit_cost_known[inmss]
    assert "new_provision_unit_costs" in model.unit_cost_source[inmss]


def test_a_type_paid_without_placements_in_the_base_year_still_takes_its_last_unit_cost():
    """inmss was paid £30,000 in 2025-26 (arrears after its last placement ended) with no
    full-time placement: the year's spend goes with central spend, and children the forecast
    puts in inmss take 2024-25's unit cost (they were refused a price, even one the settings
    gave)."""
    h = history()
    spend = h.spend.copy()
    last = (spend["financial_year"] == "2025-26") & (spend["provision_type"] == "inmss")
    spend.loc[last, ["spend_gbp", "fte_placements"]] = [30_000.0, 0.0]
    h = dataclasses.replace(h, spend=spend)
    model = costs.estimate_costs(h, caseload_by_census(h), SETTINGS, "2028-29")
    inmss = model.provisions.index("inmss")
    assert model.unit_cost[inmss] == pytest.approx(50_000 * 1.2**2 * 1.035)
    assert model.unit_cost_known[inmss] and model.unplaced_spend == {"inmss": 30_000.0}


def test_placements_the_ledger_paid_nothing_for_in_the_base_year_take_the_last_unit_cost():
    """A council's one mainstream child went unpaid in 2024-25 (paid £2,504 the year before): the
    base year's £0 ÷ 1 place priced every mainstream child of the forecast at £0. A type paid
    before takes its last paid year's unit cost; one never paid (none, other) stays at £0."""
    h = history()
    spend = h.spend.copy()
    spend.loc[
        (spend["financial_year"] == "2025-26") & (spend["provision_type"] == "inmss"), "spend_gbp"
    ] = 0.0
    h = dataclasses.replace(h, spend=spend)
    model = costs.estimate_costs(h, caseload_by_census(h), SETTINGS, "2028-29")
    inmss = model.provisions.index("inmss")
    assert model.unit_cost[inmss] == pytest.approx(50_000 * 1.2**2 * 1.035)
    assert model.unit_cost_known[inmss]
    assert model.unit_cost_source[inmss].startswith(
        "no net spend on its full-time placements in 2025-26"
    )
    spend.loc[spend["provision_type"] == "inmss", "spend_gbp"] = 0.0
    never = dataclasses.replace(h, spend=spend)
    model = costs.estimate_costs(never, caseload_by_census(never), SETTINGS, "2028-29")
    assert model.unit_cost[inmss] == 0 and model.unit_cost_known[inmss]
    # unless the settings price it (a first unit whose place funding the ledger books centrally)
    given = dataclasses.replace(SETTINGS, new_provision_unit_costs={"inmss": 61_000.0})
    model = costs.estimate_costs(never, caseload_by_census(never), given, "2028-29")
    assert model.unit_cost[inmss] == 61_000 and model.unit_cost_known[inmss]


def test_a_type_with_one_year_of_unit_cost_grows_at_inflation():
    """inmss paid only in the base year (a type opened last year), or priced by the settings
    alone: "no growth" measured over one year, less historical inflation, had its unit cost fall
    3.4 % a year in real terms, cheaper in cash every year while every other type's rose."""
    h = _without_base_year(history(), "inmss", tuple(YEARS[:-1]))
    model = costs.estimate_costs(h, caseload_by_census(h), SETTINGS, "2028-29")
    inmss, mss = model.provisions.index("inmss"), model.provisions.index("mss")
    assert model.real_growth[inmss] == 0 and not model.growth_measured[inmss]
    assert model.real_growth[mss] == pytest.approx(1.05 / 1.035 - 1) and model.growth_measured[mss]
    never = _without_base_year(history(), "inmss", tuple(YEARS))
    given = dataclasses.replace(SETTINGS, new_provision_unit_costs={"inmss": 61_000.0})
    model = costs.estimate_costs(never, caseload_by_census(never), given, "2028-29")
    assert model.real_growth[inmss] == 0 and not model.growth_measured[inmss]


def test_each_paths_growth_spreads_evenly_about_the_stated_rate():
    """mss's real growth -3.0 % beside the -5 % floor, spread 3.6 %: the draws, clipped at the
    floor alone, averaged -2.3 %, and the central unit cost ran 3.5 % above the stated rate's
    in four years. The spread is held within the distance to the nearer bound."""
    near = dataclasses.replace(
        cost_model(real_sd=(0.036, 0.0)),
        real_growth=np.array([-0.03, 0.0]),
        real_growth_bounds=(-0.05, 0.10),
    )
    paths = costs.simulate_costs(near, FORECAST_YEARS, 4000, 3, costs.no_levers(3, 2))
    mss = paths.unit_cost[:, :, 0]
    yearly = mss[:, 1:] / mss[:, :-1] / (1 + near.inflation) - 1
    assert yearly.min() >= -0.05 - 1e-3 and yearly.max() <= -0.01 + 1e-3
    assert yearly.std() > 0.01  # still a spread
    stated = 1000 * ((1 - 0.03) * (1 + near.inflation)) ** np.arange(1, 4)
    np.testing.assert_allclose(mss.mean(axis=0), stated)


def test_the_paths_mean_is_the_stated_rates_compounding_with_the_levers():
    """A rate's spread compounds to a mean above it (E[(1 + g)^t] > (1 + E[g])^t): independent
    special's central unit cost in 2028-29 was £85,870 against £85,316 at its published 6.4 % a
    year, £273k of spend over three years that no published assumption gave. Each year's paths
    are scaled so that their mean is what the assumptions compute, levers and all; the spread
    stays, and a type or central spend of nothing stays nothing."""
    model = cost_model(real_sd=(0.08, 0.05))
    model = dataclasses.replace(model, central_real_growth_sd=0.06)
    levers = costs.no_levers(3, 2)
    levers.growth[1:, 0] += 0.01
    levers.level[2, 1] *= 0.9
    levers.central_level[1] *= 0.8
    paths = costs.simulate_costs(model, FORECAST_YEARS, 500, 7, levers)
    stated = costs.simulate_costs(
        cost_model(), FORECAST_YEARS, 1, 7, levers
    )  # the same model without a spread
    np.testing.assert_allclose(paths.unit_cost.mean(axis=0), stated.unit_cost[0])
    np.testing.assert_allclose(paths.central.mean(axis=0), stated.central[0])
    assert paths.unit_cost[:, -1, 0].std() > 0.05 * stated.unit_cost[0, -1, 0]
    nothing = dataclasses.replace(model, unit_cost=np.array([0.0, 2000.0]), central=0.0)
    empty = costs.simulate_costs(nothing, FORECAST_YEARS, 50, 7, levers)
    assert not empty.unit_cost[:, :, 0].any() and not empty.central.any()


def test_a_unit_costs_measured_growth_goes_on_when_inflation_ahead_is_the_inflation_taken_off():
    """mss's unit cost grew 5 % a year; its real growth is that less 3.5 % historical inflation
    (1.05 ÷ 1.035). With 3.5 % inflation ahead it must grow 5 % again: added to the real growth,
    inflation gave 4.95 %, and the balance lost the product of the two every year."""
    same = dataclasses.replace(SETTINGS, pay_inflation=0.035, price_inflation=0.035)
    h = history()
    model = costs.estimate_costs(h, caseload_by_census(h), same, "2028-29")
    assert model.inflation == pytest.approx(0.035)
    paths = costs.simulate_costs(model, FORECAST_YEARS, 4, 1, costs.no_levers(3, 2))
    mss = paths.unit_cost[0, :, 0]
    np.testing.assert_allclose(mss[1:] / mss[:-1], 1.05)
    assert costs.cash_growth(model.real_growth[0], model.inflation) == pytest.approx(0.05)
