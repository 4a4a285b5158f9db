"""The forecast on small hand-made histories whose right answers are known."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from forecast import cohort
from forecast.checks import run_checks
from forecast.costs import CostSettings, complete_years
from forecast.history import History
from forecast.mitigations import (
    Mitigation,
    MitigationsError,
    funding_given_twice,
    load_mitigations,
    uncounted_delivery_cost,
)
from forecast.model import ForecastInputError, assumptions_table, mitigation_kind, run_forecast
from forecast.settings import ForecastSettings
from forecast.store import forecast_tables
from forecast.summary import summary_markdown

TYPES = ["mainstream", "mss", "inmss"]
UNIT_COST = {"mainstream": 8_000.0, "mss": 25_000.0, "inmss": 60_000.0}


def simulate_history(
    years=range(1995, 2027),
    joiners=(("mainstream", 5, 100.0), ("mss", 11, 20.0)),
    growth=0.0,
    leave=0.05,
    step_up=0.10,
):
    """Expected-value cohort history: joiners at fixed ages (growing by `growth` a year), a leave
    rate at every age, and `step_up` of mainstream children moving to mss at the Year 6 → 7
    transfer (age 10 → 11). Returns (transitions, census counts by year × age × type)."""
    state = {}
    rows, census = [], {}
    for i, year in enumerate(years):
        new_state = {}
        for (age, p), n in state.items():
            if age >= 24:  # a plan ends in the academic year its young person turns 25
                rows.append((year, age, p, None, "left", n))
                continue
            gone = n * leave
            rows.append((year, age, p, None, "left", gone))
            stay = n - gone
            if p == "mainstream" and age == 10:
                rows.append((year, age, p, age + 1, "mss", stay * step_up))
                new_state[(age + 1, "mss")] = new_state.get((age + 1, "mss"), 0) + stay * step_up
                stay *= 1 - step_up
            rows.append((year, age, p, age + 1, p, stay))
            new_state[(age + 1, p)] = new_state.get((age + 1, p), 0) + stay
        for p, age, count in joiners:
            n = count * (1 + growth) ** i
            rows.append((year, None, "joined", age, p, n))
            new_state[(age, p)] = new_state.get((age, p), 0) + n
        state = new_state
        census[year] = dict(state)
    transitions = pd.DataFrame(
        rows, columns=["year", "age_from", "provision_from", "age_to", "provision_to", "children"]
    )
    # before: burn-in
    transitions = transitions[transitions["year"] >= max(years[0] + 1, years[-1] - 6)]
    transitions["children"] = transitions["children"].round().astype(int)
    return transitions, census


def history_from(transitions, census, years=range(2020, 2027)):
    caseload = pd.DataFrame(
        [
            (year, p, round(sum(n for (a, q), n in census[year].items() if q == p)))
            for year in years
            for p in TYPES
        ],
        columns=["census_year", "provision_type", "plans"],
    )
    spend, position = [], []
    balance = 0.0
    for year in years:
        fy = f"{year - 1}-{year % 100:02d}"
        total = 0.0
        for p in TYPES:
            plans = caseload[
                (caseload.census_year == year) & (caseload.provision_type == p)
            ].plans.iloc[0]
            cost = UNIT_COST[p] * 1.035 ** (year - 2020)
            spend.append((fy, p, plans * cost, plans * cost, float(plans), cost, True))
            total += plans * cost
        spend.append((fy, "central", 500_000.0, 500_000.0, 0.0, np.nan, True))
        total += 500_000.0
        balance += 30_000_000.0 - total
        position.append((fy, 30_000_000.0, total, balance, True, True))
    return History(
        caseload=caseload,
        transitions=transitions,
        flows=pd.DataFrame(
            columns=["year", "provision_type", "new_plans", "ceased_plans", "moved_in", "moved_out"]
        ),
        spend=pd.DataFrame(
            spend,
            columns=[
                "financial_year",
                "provision_type",
                "spend_gbp",
                "spend_by_ledger_point_gbp",
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
        budget=pd.DataFrame(
            {
                "financial_year": ["2026-27"],
                "line": ["hnb_allocation"],
                "amount_gbp": [31_000_000.0],
            }
        ),
        provision_types=TYPES,
    )


SETTINGS = ForecastSettings(
    simulations=500,
    seed=7,
    costs=CostSettings(
        pay_inflation=0.02, price_inflation=0.02, historical_inflation=0.035, funding_growth=None
    ),
)
# inmss holds no child in these histories: children a test moves there need its unit cost
PRICED = dataclasses.replace(
    SETTINGS,
    costs=dataclasses.replace(
        SETTINGS.costs, new_provision_unit_costs={"inmss": UNIT_COST["inmss"] * 1.035**6}
    ),
)


@pytest.fixture(scope="module")
def steady():
    transitions, census = simulate_history()
    return history_from(transitions, census)


def total_p50(forecast, scenario="unmitigated"):
    frame = forecast.caseload[
        (forecast.caseload.scenario == scenario) & (forecast.caseload.provision_type == "total")
    ]
    return frame.set_index("year")["plans_p50"]


def test_the_model_recovers_leave_move_and_joiner_rates():
    transitions, _ = simulate_history()
    model = cohort.estimate(transitions, TYPES)
    leave = model.leave_rate
    assert leave[12, 0] == pytest.approx(0.05, abs=0.01)
    # a plan ends by the end of the academic year its young person turns 25: nobody 24 on 31
    # August is on the next census (the prior from younger ages left a quarter of them there)
    assert leave[24, 0] == pytest.approx(1.0) and leave[24, 1] == pytest.approx(1.0)
    assert leave[25, 1] == pytest.approx(1.0)
    moves = model.move_rate
    assert moves[10, 0, 1] == pytest.approx(0.10, abs=0.02)  # the Year 6 → 7 step-up
    assert moves[12, 0, 1] < 0.02  # no step-up mid-phase
    shares = model.joiner_share
    assert shares[5, 0] > 0.75 and shares[11, 1] > 0.12
    assert np.exp(model.joiner_slope) - 1 == pytest.approx(0.0, abs=0.01)


def test_a_steady_state_stays_steady_and_children_age_through(steady):
    result = run_forecast(steady, [], SETTINGS)
    last_actual = steady.caseload[steady.caseload.census_year == 2026].plans.sum()
    total = result.caseload[
        (result.caseload.scenario == "unmitigated") & (result.caseload.provision_type == "total")
    ]
    # on average the caseload grows at its own (nil) growth; its median sits a little lower, as
    # the caseload's spread, drawn on joiners' growth, is skewed (a lognormal's, and more)
    assert total["plans_central"].to_numpy() == pytest.approx(np.full(3, last_actual), rel=0.02)
    assert total_p50(result).to_numpy() == pytest.approx(np.full(3, last_actual), rel=0.05)
    by_age = result.runs["unmitigated"].plans_by_age.mean(axis=0)  # (years, A, P)
    assert by_age[0, 11, 1] > 20  # last year's 10-year-olds stepping up to mss at 11
    assert by_age[:, 0:4, :].sum() == 0  # nobody joins below 5


def test_growth_in_joiners_carries_on():
    transitions, census = simulate_history(growth=0.10)
    result = run_forecast(history_from(transitions, census), [], SETTINGS)
    totals = total_p50(result)
    assert (totals.diff().dropna() > 0).all()
    model = result.cohort_model
    assert np.exp(model.joiner_slope) - 1 == pytest.approx(0.10, abs=0.02)


def test_intervals_widen_and_are_reproducible(steady):
    a = run_forecast(steady, [], SETTINGS)
    caseload = a.caseload[
        (a.caseload.scenario == "unmitigated") & (a.caseload.provision_type == "total")
    ]
    width = (caseload.plans_p90 - caseload.plans_p10).to_numpy()
    assert (np.diff(width) > 0).all()
    position = a.hnb_position[a.hnb_position.scenario == "unmitigated"]
    assert (position.cumulative_balance_gbp_p10 <= position.cumulative_balance_gbp_p90).all()
    pd.testing.assert_frame_equal(a.hnb_position, run_forecast(steady, [], SETTINGS).hnb_position)


def test_capacity_overflows_to_the_named_provision():
    transitions, census = simulate_history(growth=0.15)
    history = history_from(transitions, census)
    free = run_forecast(history, [], SETTINGS).runs["unmitigated"].plans.mean(axis=0)
    mss_now = history.caseload[
        (history.caseload.census_year == 2026) & (history.caseload.provision_type == "mss")
    ].plans.iloc[0]
    capped = run_forecast(
        history,
        [],
        PRICED.with_overrides(capacity={"mss": float(mss_now)}, overflow={"mss": "inmss"}),
    )
    plans = capped.runs["unmitigated"].plans.mean(axis=0)
    assert plans[-1, 1] <= mss_now + 1 < free[-1, 1]
    assert plans[-1, 2] > free[-1, 2]
    assert plans[-1].sum() == pytest.approx(free[-1].sum(), rel=0.02)
    rows = capped.assumptions[capped.assumptions["assumption"] == "capacity"]
    assert "already holds" not in rows["source"].iloc[0]
    # places below the census: every newcomer goes to the overflow, and the assumption says so
    # (a spike's 542 plans in 520 places read as a plain "children beyond it go to inmss")
    below = run_forecast(
        history,
        [],
        PRICED.with_overrides(capacity={"mss": float(mss_now) - 20}, overflow={"mss": "inmss"}),
    )
    source = below.assumptions.set_index("assumption").loc["capacity", "source"]
    assert source.startswith("forecast settings; children beyond it go to inmss; ")
    assert (
        f"the January 2026 census already holds {mss_now:,.0f}, 20 over it: every child arriving "
        f"goes to inmss until those there fall below {mss_now - 20:,.0f}"
    ) in source


def mitigation(lever, effect, types=("mss",), start="2026-27", name=None):
    return Mitigation(
        name=name or lever,
        line_of_enquiry="sufficiency",
        lever=lever,
        start_year=start,
        status="assessed",
        provision_types=types,
        effect=effect,
    )


def test_each_lever_moves_what_it_should(steady):
    levers = [
        mitigation("reduce_new_plans", {"percent": 20}, ("mainstream",)),
        mitigation(
            "shift_placements", {"to": "mainstream", "share": 0.5, "flows": "both"}, ("mss",)
        ),
        mitigation("stop_flow", {"to": "mss", "ages": [10, 10]}, ("mainstream",)),
        mitigation("unit_cost_change", {"percent": -10}, ("inmss",)),
        mitigation("funding_change", {"amount_gbp": 1_000_000}, ()),
        mitigation("central_spend_change", {"percent": -20}, ()),
    ]
    result = run_forecast(steady, levers, SETTINGS)
    effects = result.mitigations.pivot_table(
        index="financial_year", columns="mitigation", values="plans_effect"
    )
    assert effects.loc["2028-29", "reduce_new_plans"] < -30
    for name in (
        "shift_placements",
        "stop_flow",
        "unit_cost_change",
        "funding_change",
        "central_spend_change",
    ):
        # they move plans between types or money, not the total
        assert abs(effects.loc["2028-29", name]) < 15, name
    money = result.mitigations.pivot_table(
        index="financial_year", columns="mitigation", values="cumulative_balance_effect_gbp"
    )
    assert money.loc["2028-29", "funding_change"] == pytest.approx(3_000_000)
    for name in ("reduce_new_plans", "shift_placements", "stop_flow", "central_spend_change"):
        assert money.loc["2028-29", name] > 0, name
    assert money.loc["2026-27", "unit_cost_change"] == 0  # inmss is empty in this history
    mixed = result.runs["mitigated"].plans.mean(axis=0)[-1]
    plain = result.runs["unmitigated"].plans.mean(axis=0)[-1]
    assert mixed[1] < plain[1] and mixed[0] > plain[0] * 0.8


def test_mitigations_do_not_act_before_their_start_year(steady):
    result = run_forecast(
        steady,
        [mitigation("reduce_new_plans", {"percent": 50}, ("mainstream",), start="2028-29")],
        SETTINGS,
    )
    effects = result.mitigations.set_index("financial_year")
    assert (
        effects.loc["2026-27", "plans_effect"] == 0 and effects.loc["2027-28", "plans_effect"] == 0
    )
    assert effects.loc["2028-29", "plans_effect"] < 0
    # a year it does nothing saves 0, not -0 (a BI tool shows "-0")
    before = effects.loc[["2026-27", "2027-28"], "in_year_saving_gbp"]
    assert (before == 0).all() and not np.signbit(before).any()


def test_delivery_costs_the_mitigated_balance_leaves_out_are_stated_beside_it(steady):
    """A saving mitigation's `cost_gbp` (a year, from its start year) is not in the mitigated
    balance; the headline and summary said nothing, so a £0.9m cost read as already netted."""
    saving = dataclasses.replace(
        mitigation("reduce_new_plans", {"percent": 10}, ("mainstream",), start="2027-28"),
        cost_gbp=300_000,
    )
    costed = dataclasses.replace(
        mitigation("central_spend_change", {"percent": 5}, (), name="team"),
        cost_gbp=200_000,
    )
    # a shift into dearer places is measured as a cost, but its spend is not its delivery cost
    dearer = dataclasses.replace(
        mitigation("shift_placements", {"to": "inmss", "share": 0.1}, ("mss",), name="dearer"),
        cost_gbp=100_000,
    )
    result = run_forecast(steady, [saving, costed, dearer], PRICED)
    assert result.mitigations.groupby("mitigation")["kind"].first()["dearer"] == "cost"
    uncounted = uncounted_delivery_cost(result.mitigations, "2028-29")
    # 2027-28 and 2028-29 only; the cost mitigation's own spend is in the balance already
    assert uncounted.mitigations == ("reduce_new_plans", "dearer")
    assert uncounted.total_gbp == pytest.approx(600_000 + 300_000)
    assert "£0.9m by the end of 2028-29" in uncounted.sentence()
    assert uncounted_delivery_cost(result.mitigations, "2026-27").mitigations == ("dearer",)
    assert uncounted.sentence() in summary_markdown(result, "2028-29")
    assert (
        uncounted_delivery_cost(run_forecast(steady, [], SETTINGS).mitigations, "2028-29") is None
    )


def test_drivers_add_up_to_the_change_in_spend(steady):
    result = run_forecast(steady, [], SETTINGS)
    drivers = result.drivers.pivot_table(
        index=["scenario", "financial_year"], columns="driver", values="spend_change_gbp"
    )
    parts = drivers[["joining", "staying_longer", "placement_mix", "unit_cost", "central"]].sum(
        axis=1
    )
    assert np.allclose(parts, drivers["total"])
    assert "actual" in drivers.index.get_level_values(0)
    run = result.runs["unmitigated"]
    change = run.total_spend.mean(axis=0)[1] - run.total_spend.mean(axis=0)[0]
    assert drivers.loc[("unmitigated", "2027-28"), "total"] == pytest.approx(change, rel=1e-6)


def test_a_later_horizon_leaves_the_earlier_years_figures_as_they_were(steady):
    """Extending the horizon from 2028-29 to 2030-31 changed 2026-27's spend by £31k and
    2028-29's balance by £125k on the demo: the new years must not redraw the earlier ones."""
    near = run_forecast(steady, [], dataclasses.replace(SETTINGS, recover_by="2028-29"))
    far = run_forecast(
        steady, [], dataclasses.replace(SETTINGS, horizon="2030-31", recover_by="2028-29")
    )
    columns = ["scenario", "financial_year", "spend_gbp_central", "cumulative_balance_gbp_p10"]
    shown = near.hnb_position[columns].reset_index(drop=True)
    assert far.hnb_position["financial_year"].max() == "2030-31"
    pd.testing.assert_frame_equal(
        far.hnb_position[columns].merge(shown[["scenario", "financial_year"]]), shown
    )


def test_a_recovery_year_before_the_forecast_is_refused(steady):
    # the council's own ledger sets the first forecast year: its error, so a region holds that
    # council alone (forecast.councils.COUNCIL_ERRORS)
    with pytest.raises(ForecastInputError, match=r"recover_by \(2020-21\) is before the first"):
        run_forecast(steady, [], dataclasses.replace(SETTINGS, recover_by="2020-21"))


def test_gap_to_balance_clears_the_deficit_by_the_target(steady):
    gap = run_forecast(steady, [], SETTINGS).gap_to_balance
    per_year = gap["saving_per_year_to_recover_by_target_gbp"].iloc[0]
    assert per_year * len(gap) == pytest.approx(
        max(0, -gap["cumulative_balance_gbp"].iloc[-1]), rel=1e-9
    )
    assert (
        gap["saving_to_balance_in_year_gbp"] == (-gap["in_year_balance_gbp"]).clip(lower=0)
    ).all()


def test_funding_from_the_budget_file_then_grown(steady):
    position = run_forecast(steady, [], SETTINGS).hnb_position.set_index(
        ["scenario", "financial_year"]
    )
    assert position.loc[("unmitigated", "2026-27"), "funding_source"] == "budget file"
    # history was flat
    assert position.loc[("unmitigated", "2027-28"), "funding_gbp"] == pytest.approx(31_000_000)


def test_funding_from_the_budget_file_is_to_the_penny(steady):
    """The budget file's lines summed in floating point read 41178251.34000002 in the
    published forecast (44,072,699.77 − 3,114,811.93 + 220,363.50)."""
    lines = pd.DataFrame(
        {
            "financial_year": ["2026-27"] * 3,
            "line": ["hnb_allocation", "place_deductions", "block_transfer"],
            "amount_gbp": [44_072_699.77, -3_114_811.93, 220_363.50],
        }
    )
    position = run_forecast(
        dataclasses.replace(steady, budget=lines), [], SETTINGS
    ).hnb_position.set_index(["scenario", "financial_year"])
    assert position.loc[("unmitigated", "2026-27"), "funding_gbp"] == 41_178_251.34


def test_funding_a_mitigation_adds_is_not_said_to_be_the_budget_file_s(steady):
    """The mitigated scenario's funding held a £0.5m block transfer from the mitigations file and
    read "budget file" (finance reviewer: £41,678,251 against the file's £41,178,251)."""
    transfer = mitigation("funding_change", {"amount_gbp": 500_000}, (), name="transfer")
    position = run_forecast(steady, [transfer], SETTINGS).hnb_position.set_index(
        ["scenario", "financial_year"]
    )
    mitigated = position.loc[("mitigated", "2026-27")]
    assert mitigated["funding_gbp"] == pytest.approx(
        position.loc[("unmitigated", "2026-27"), "funding_gbp"] + 500_000
    )
    assert mitigated["funding_source"] == (
        "budget file, +£500,000 from the mitigations' funding changes"
    )
    assert position.loc[("unmitigated", "2026-27"), "funding_source"] == "budget file"


def test_a_funding_mitigation_beside_the_budget_files_transfer_for_its_year_is_named(steady):
    """The budget file gives 2026-27 a £0.5m block transfer and the mitigations file a £0.5m
    transfer from 2026-27: both counted, nothing said. The same money would count twice."""
    history = dataclasses.replace(
        steady,
        budget=pd.concat(
            [
                steady.budget,
                pd.DataFrame(
                    {
                        "financial_year": ["2026-27"],
                        "line": ["block_transfer"],
                        "amount_gbp": [500_000.0],
                    }
                ),
            ]
        ),
    )
    transfer = dataclasses.replace(
        mitigation("funding_change", {"amount_gbp": 500_000}, (), name="transfer"),
        kind="funding",
    )
    result = run_forecast(history, [transfer], SETTINGS)
    given = result.mitigations.set_index("financial_year")["budget_file_transfer_gbp"]
    assert given.to_dict() == {"2026-27": 500_000.0, "2027-28": 0.0, "2028-29": 0.0}
    sentence = funding_given_twice(result.mitigations)
    assert sentence is not None
    assert "transfer in 2026-27 (the budget file gives £500,000 of" in sentence
    assert sentence in summary_markdown(result, "2028-29")
    # 2027-28's funding grows from 2026-27's without the transfer: agreed a year at a time
    position = result.hnb_position.set_index(["scenario", "financial_year"])["funding_gbp"]
    assert position[("unmitigated", "2027-28")] == pytest.approx(31_000_000)
    assert funding_given_twice(run_forecast(steady, [transfer], SETTINGS).mitigations) is None
    # the transfer ending (income taken away) is not the same money given twice
    ends = dataclasses.replace(transfer, effect={"amount_gbp": -500_000})
    assert funding_given_twice(run_forecast(history, [ends], SETTINGS).mitigations) is None


def with_unfinished_year(
    history: History, fy: str = "2025-26", posted: float = 11 / 12, by_point: float = 11 / 12
) -> History:
    """`history` refreshed before `fy`'s ledger is whole: its January census is in, it has
    posted `posted` of its spend and the year is not complete; every earlier year had posted
    `by_point` of its spend by the same day of its year."""
    partial = history.spend["financial_year"] == fy
    spend = history.spend.assign(
        spend_gbp=history.spend["spend_gbp"].where(~partial, history.spend["spend_gbp"] * posted),
        spend_by_ledger_point_gbp=history.spend["spend_gbp"] * np.where(partial, posted, by_point),
        is_complete_year=~partial,
    )
    position = history.position.assign(is_complete_year=history.position["financial_year"] != fy)
    return dataclasses.replace(history, spend=spend, position=position)


def test_a_year_in_progress_without_a_budget_is_said_to_have_its_funding_grown(steady):
    """A refresh in January with the year's budget lines missing: its funding was grown and
    carried into the balance brought forward, said only in forecast.assumptions beside a dbt
    warning naming no year."""
    import duckdb
    from rich.console import Console

    from dagster_project.cli.summary import _print_grown_in_progress_funding

    def said(history) -> str:
        assumptions = run_forecast(with_unfinished_year(history), [], SETTINGS).assumptions
        console = Console(record=True, width=400)
        with duckdb.connect() as con:
            con.execute("CREATE SCHEMA forecast")
            con.register("given", assumptions)
            con.execute("CREATE TABLE forecast.assumptions AS SELECT * FROM given")
            _print_grown_in_progress_funding(con, console)
        return console.export_text()

    text = said(steady)
    assert text.startswith("2025-26 has no budget lines (not complete in the finance extract)")
    assert "is grown +0.0% a year (recent growth) from 2024-25's allocation less place" in text
    budgeted = dataclasses.replace(
        steady,
        budget=pd.concat(
            [
                steady.budget,
                pd.DataFrame(
                    {
                        "financial_year": ["2025-26"],
                        "line": ["hnb_allocation"],
                        "amount_gbp": [30_000_000.0],
                    }
                ),
            ]
        ),
    )
    assert said(budgeted) == ""


def test_a_year_whose_ledger_is_not_whole_is_carried_into_the_balance_not_dropped(steady):
    """Between January and March the census is in but the year's ledger is not whole: the
    forecast years follow the census (2026-27 on) and the costs the last complete year
    (2024-25). The year between must be carried into the balance brought forward, estimated
    as a forecast year is, or its whole balance (+£8.3m here) drops out of every later year."""
    actual = steady.position.set_index("financial_year")["cumulative_balance_gbp"]
    result = run_forecast(with_unfinished_year(steady), [], SETTINGS)
    assumptions = result.assumptions.set_index("assumption")
    brought = assumptions.loc["balance_brought_forward"]
    assert brought["financial_year"] == "2025-26"
    in_year = actual["2025-26"] - actual["2024-25"]
    estimated = assumptions.loc["in_progress_year_balance"]
    assert estimated["financial_year"] == "2025-26" and "not complete" in estimated["source"]
    # unit costs grow 2 % a year forward against the 3.5 % they grew: a few % of its spend
    assert estimated["value"] == pytest.approx(in_year, rel=0.05)
    assert brought["value"] == pytest.approx(actual["2024-25"] + estimated["value"])
    # its funding and estimated spend are there too, for the DSG management plan's column
    funding, spend = (assumptions.loc[f"in_progress_year_{m}"] for m in ("funding", "spend"))
    assert funding["financial_year"] == spend["financial_year"] == "2025-26"
    assert funding["value"] - spend["value"] == pytest.approx(estimated["value"])
    position = result.hnb_position.set_index(["scenario", "financial_year"])
    first = position.loc[("unmitigated", "2026-27")]
    assert first["cumulative_balance_gbp_central"] == pytest.approx(
        brought["value"] + first["in_year_balance_gbp_central"]
    )
    # the first forecast year's change in spend is measured from the year carried, not from
    # two years back
    [carried] = result.cost_model.carried
    drivers = result.drivers.set_index(["scenario", "financial_year", "driver"])
    assert drivers.loc[("unmitigated", "2026-27", "total"), "spend_change_gbp"] == pytest.approx(
        first["spend_gbp_central"] - carried.spend_gbp
    )
    # and the carried year's own change, from the last complete year, is a row of each scenario:
    # the drivers add up from 2024-25's spend to the horizon's (they skipped 2025-26's change)
    complete = steady.spend[steady.spend["financial_year"] == "2024-25"]["spend_gbp"].sum()
    for scenario in ("unmitigated", "mitigated"):
        assert drivers.loc[(scenario, "2025-26", "total"), "spend_change_gbp"] == pytest.approx(
            carried.spend_gbp - complete
        )
    # its spend by provision type (the expenditure tables' column of the year) adds up to it
    by_type = result.assumptions[
        result.assumptions["assumption"] == "in_progress_year_spend_by_type"
    ]
    assert set(by_type["financial_year"]) == {carried.financial_year}
    assert by_type["value"].sum() == pytest.approx(carried.spend_gbp)
    checks = run_checks(forecast_tables(result, pd.DataFrame()), result.unreached)
    assert [gate.failures for _, gate in checks.values() if not gate.passed] == []


def test_a_year_in_progress_keeps_what_the_ledger_has_posted(steady):
    """A refresh in February: the year's ledger has posted most of it. The estimate was the model
    alone, whatever the ledger held; it is now what was posted plus the model's full year × the
    share the last complete year posted after the same day. A ledger that has posted 95 % of a
    normal year's spend with a month to go, where the last complete year had posted 80 % by then
    (a year-end accrual), carries 95 % + 20 % of the estimate, not the estimate."""
    actual = steady.spend[steady.spend["financial_year"] == "2025-26"]
    spent = float(actual["spend_gbp"].sum())
    central = float(actual.loc[actual["provision_type"] == "central", "spend_gbp"].sum())
    even = run_forecast(with_unfinished_year(steady), [], SETTINGS)
    [carried] = even.cost_model.carried
    assert carried.posted_gbp == pytest.approx(spent * 11 / 12)
    assert carried.spend_gbp == pytest.approx(
        carried.posted_gbp + carried.full_year_estimate_gbp / 12
    )
    ahead = run_forecast(with_unfinished_year(steady, posted=0.95, by_point=0.8), [], SETTINGS)
    [carried] = ahead.cost_model.carried
    assert carried.posted_gbp == pytest.approx(spent * 0.95)
    assert carried.spend_gbp == pytest.approx(spent * 0.95 + 0.2 * carried.full_year_estimate_gbp)
    # per provision type as in total: the expenditure tables' column adds up, central included
    by_type = ahead.assumptions[
        ahead.assumptions["assumption"] == "in_progress_year_spend_by_type"
    ].set_index("provision_type")["value"]
    assert by_type.sum() == pytest.approx(carried.spend_gbp)
    costs = ahead.cost_model
    grown = costs.central * (1 + costs.central_real_growth) * (1 + costs.inflation)
    assert by_type["central"] == pytest.approx(central * 0.95 + 0.2 * grown)
    spend = ahead.assumptions.set_index("assumption").loc["in_progress_year_spend", "source"]
    assert f"£{spent * 0.95:,.0f} posted so far in the ledger" in spend
    # the year's balance, brought forward into every forecast year, moves with it
    assert ahead.cost_model.base_cumulative_balance - even.cost_model.base_cumulative_balance == (
        pytest.approx(even.cost_model.carried[0].spend_gbp - carried.spend_gbp)
    )


def test_a_sensitivity_estimates_the_year_carried_under_its_own_assumption(steady):
    """The year carried before the forecast is estimated with the forecast years' inflation: a
    sensitivity at 5 % must carry it at 5 % too, as a forecast set at 5 % does (it kept the
    central 2 % estimate, understating the high variant's change by that year's difference)."""
    history = with_unfinished_year(steady)
    result = run_forecast(history, [], SETTINGS)
    costs = dataclasses.replace(SETTINGS.costs, pay_inflation=0.05, price_inflation=0.05)
    at_five = run_forecast(history, [], dataclasses.replace(SETTINGS, costs=costs))
    [carried] = at_five.cost_model.carried
    assert carried.balance_gbp != pytest.approx(result.cost_model.carried[0].balance_gbp)
    variant = result.sensitivity.set_index(["assumption", "variant", "financial_year"])
    expected = at_five.hnb_position.set_index(["scenario", "financial_year"])
    for fy in ("2026-27", "2028-29"):
        assert variant.loc[
            ("unit_cost_inflation", "high", fy), "cumulative_balance_gbp_central"
        ] == pytest.approx(
            expected.loc[("unmitigated", fy), "cumulative_balance_gbp_central"], rel=1e-9
        )


def test_a_ledger_ahead_of_the_census_is_refused_not_counted_twice(steady):
    """The other way round: the ledger's complete years reach 2025-26 but the last census is
    January 2025, so the forecast would start at 2025-26, a year the ledger holds."""
    history = dataclasses.replace(
        steady,
        caseload=steady.caseload[steady.caseload["census_year"] <= 2025],
        transitions=steady.transitions[steady.transitions["year"] <= 2025],
    )
    with pytest.raises(ForecastInputError, match="census of January 2026"):
        run_forecast(history, [], SETTINGS)


def test_a_mitigations_file_with_no_entries_forecasts_and_every_check_passes(steady):
    """`mitigations: []` (a council with none agreed yet): the mitigated scenarios are the
    unmitigated one, and the checks run on an empty mitigations table."""
    result = run_forecast(steady, [], SETTINGS)
    assert result.mitigations.empty
    checks = run_checks(forecast_tables(result, pd.DataFrame()), result.unreached)
    assert [gate.failures for _, gate in checks.values() if not gate.passed] == []


def test_unit_costs_grow_at_real_growth_compounded_with_inflation(steady):
    result = run_forecast(steady, [], SETTINGS)
    rates = result.rates.set_index("provision_type")
    # history grew 3.5 % = inflation
    assert rates.loc["mss", "unit_cost_real_growth"] == pytest.approx(0.0, abs=0.002)
    assert rates.loc["mss", "unit_cost_nominal_growth"] == pytest.approx(0.02, abs=0.002)


def test_too_little_history_is_a_clear_error():
    transitions, census = simulate_history(years=range(2023, 2026))
    transitions = transitions[transitions["year"] == 2025]
    with pytest.raises(ForecastInputError, match="transition"):
        run_forecast(history_from(transitions, census, years=range(2025, 2026)), [], SETTINGS)


def test_mitigations_file_errors_name_the_file_and_entry(tmp_path):
    path = tmp_path / "m.yml"
    path.write_text(
        "mitigations:\n  - name: Fewer plans\n    lever: reduce_new_plans\n    provision_types: "
        "[mainstream]\n    start_year: 2026-27\n    status: assessed\n    line_of_enquiry: "
        "early support and inclusion\n"
    )
    with pytest.raises(
        MitigationsError,
        match=r"m.yml: mitigation 1 \('Fewer plans'\): lever reduce_new_plans needs effect percent",
    ):
        load_mitigations(path, TYPES)
    path.write_text(
        path.read_text().replace("status: assessed", "status: assessed\n    effect: {percent: 500}")
    )
    with pytest.raises(MitigationsError, match="percent must be between -100 and 100"):
        load_mitigations(path, TYPES)


def test_a_mitigation_s_name_and_year_are_read_one_way(tmp_path):
    """`Same` and `Same ` were two mitigations that read as one in the report; a start year
    written 2026/27 was kept so, and matched none of the forecast's 2026-27 years."""
    entry = (
        "  - name: {name}\n    lever: reduce_new_plans\n    provision_types: [mainstream]\n"
        "    start_year: {year}\n    status: assessed\n    line_of_enquiry: "
        "early support and inclusion\n    effect: {{percent: 5}}\n"
    )
    path = tmp_path / "m.yml"
    path.write_text("mitigations:\n" + entry.format(name="Same ", year="2026/27"))
    (loaded,) = load_mitigations(path, TYPES)
    assert (loaded.name, loaded.start_year) == ("Same", "2026-27")
    path.write_text(
        "mitigations:\n"
        + entry.format(name="Same", year="2026-27")
        + entry.format(name="'Same '", year="2027-28")
    )
    with pytest.raises(MitigationsError, match="mitigations 1 and 2 are both named 'Same'"):
        load_mitigations(path, TYPES)
    path.write_text("mitigations:\n")
    with pytest.raises(MitigationsError, match=r"`mitigations: \[\]` for none"):
        load_mitigations(path, TYPES)


def test_a_mitigation_key_misplaced_or_given_twice_is_refused(tmp_path):
    """`ages:` one indent out of effect: (and `cost:` for cost_gbp) was dropped: the cut fell on
    every age and the delivery cost vanished. A key given twice kept the last, and a second
    `mitigations:` block replaced the first's mitigations, unsaid."""
    entry = (
        "  - name: {name}\n    lever: reduce_new_plans\n    provision_types: [mainstream]\n"
        "    start_year: 2027-28\n    status: assured\n    line_of_enquiry: "
        "early support and inclusion\n    effect: {{percent: 10}}\n"
    )
    path = tmp_path / "m.yml"
    path.write_text("mitigations:\n" + entry.format(name="Early") + "    ages: [4, 5]\n")
    with pytest.raises(
        MitigationsError,
        match=r"mitigation 1 \('Early'\): unknown key\(s\) ages; an entry takes name, ",
    ):
        load_mitigations(path, TYPES)
    path.write_text("mitigations:\n" + entry.format(name="Early") + "    effect: {percent: 50}\n")
    with pytest.raises(MitigationsError, match=r"'effect' is given twice \(lines 8 and 9\)"):
        load_mitigations(path, TYPES)
    path.write_text(
        "mitigations:\n"
        + entry.format(name="First")
        + "mitigations:\n"
        + entry.format(name="Second")
    )
    with pytest.raises(MitigationsError, match=r"'mitigations' is given twice \(lines 1 and 9\)"):
        load_mitigations(path, TYPES)
    # a YAML merge key (`<<: *anchor`) is no key given twice, and the entry's own keys override
    path.write_text(
        "mitigations:\n  - &early\n    "
        + entry.format(name="Early")[4:]
        + "  - <<: *early\n    name: Later\n    start_year: 2028-29\n"
    )
    assert [(m.name, m.start_year) for m in load_mitigations(path, TYPES)] == [
        ("Early", "2027-28"),
        ("Later", "2028-29"),
    ]


def test_the_shipped_example_mitigations_are_valid():
    from dagster_project.settings import EXAMPLE_MITIGATIONS
    from forecast.published import PROVISIONS

    assert len(load_mitigations(EXAMPLE_MITIGATIONS, list(PROVISIONS))) >= 5


def test_a_noisy_joiner_trend_is_pooled_with_the_caseloads_steadier_growth():
    transitions, _ = simulate_history(growth=0.10)
    last = transitions["year"].max()
    dip = (transitions["provision_from"] == "joined") & (transitions["year"] == last)
    # one low year
    transitions.loc[dip, "children"] = (transitions.loc[dip, "children"] * 0.75).round().astype(int)
    joined = (
        transitions[transitions["provision_from"] == "joined"]
        .groupby("year")["children"]
        .sum()
        .tail(5)
    )
    _, joiners_only, _, _ = cohort._log_trend(joined.astype(float))
    model = cohort.estimate(transitions, TYPES)
    assert joiners_only < 0.06  # the low year drags the joiners' own trend down
    # the caseload's growth holds it up
    assert abs(model.joiner_slope - 0.10) < abs(joiners_only - 0.10) / 2


def test_a_funding_mitigation_is_funding_never_a_saving(tmp_path):
    block = mitigation("funding_change", {"amount_gbp": 500_000}, ())
    assert mitigation_kind(block) == "funding"
    assert mitigation_kind(mitigation("unit_cost_change", {"percent": 5})) == "cost"
    assert mitigation_kind(mitigation("unit_cost_change", {"percent": -5})) == "saving"
    path = tmp_path / "m.yml"
    path.write_text(
        "mitigations:\n  - name: Transfer\n    lever: funding_change\n    start_year: 2026-27\n    "
        "status: assured\n    line_of_enquiry: block transfers\n    effect: "
        "{amount_gbp: 1}\n    kind: saving\n"
    )
    with pytest.raises(MitigationsError, match="funding_change is income"):
        load_mitigations(path, TYPES)


def test_a_shift_is_a_saving_or_a_cost_as_its_effect_measured_alone_is(steady):
    """Moving children between types saves or costs by the types' unit costs, which the lever's
    effect alone does not say: a shift into special schools was a 'saving' by default, counted
    in the assessed savings' subtotal though it adds spend."""
    dearer = mitigation(
        "shift_placements", {"to": "mss", "share": 0.2}, ("mainstream",), name="dearer"
    )
    cheaper = mitigation("shift_placements", {"to": "mainstream", "share": 0.2}, name="cheaper")
    effects = run_forecast(steady, [dearer, cheaper], SETTINGS).mitigations
    last = effects[effects["financial_year"] == "2028-29"].set_index("mitigation")
    assert last.loc["dearer", "cumulative_balance_effect_gbp"] < 0
    assert last.loc["dearer", "kind"] == "cost"
    assert last.loc["cheaper", "cumulative_balance_effect_gbp"] > 0
    assert last.loc["cheaper", "kind"] == "saving"


def test_a_shift_given_the_wrong_kind_is_published_as_what_it_measures(steady):
    """A shift into dearer places given `kind: saving` was published as a saving (−£15.1m in the
    assured savings' subtotal), named only in the log."""
    dearer = dataclasses.replace(
        mitigation("shift_placements", {"to": "inmss", "share": 0.2}, ("mss",), name="dearer"),
        kind="saving",
    )
    result = run_forecast(steady, [dearer], PRICED)
    assert (result.mitigations["kind"] == "cost").all()
    assert any("published as a cost" in note for note in result.cohort_model.notes)
    # nothing measured (a shift of nobody): the kind given stands
    idle = dataclasses.replace(dearer, kind="cost", effect={**dearer.effect, "share": 0.0})
    assert (run_forecast(steady, [idle], PRICED).mitigations["kind"] == "cost").all()


def test_a_mitigation_applied_otherwise_than_its_log_reads_says_why_in_its_rows(steady):
    """A mitigation starting after the horizon, an add_capacity with no capacity set or a
    stop_flow of moves the history never made read £0 in forecast.mitigations: the reason was
    said only in the refresh's log, which the report's reader never sees."""
    later = mitigation("reduce_new_plans", {"percent": 50}, start="2030-31", name="later")
    places = mitigation("add_capacity", {"places": 20}, name="places")
    never = mitigation("stop_flow", {"to": "mainstream", "ages": [24, 25]}, ("mss",), name="never")
    fewer = mitigation("reduce_new_plans", {"percent": 20}, ("mainstream",), name="fewer")
    result = run_forecast(steady, [later, places, never, fewer], SETTINGS)
    notes = result.mitigations.groupby("mitigation")["note"].unique()
    assert all(len(note) == 1 for note in notes)  # the same note on each of its years
    assert "after the forecast's last year (2028-29)" in notes["later"][0]
    assert "no effect without capacity" in notes["places"][0]
    assert "changes no plan, spend or funding in any forecast year" in notes["never"][0]
    assert pd.isna(notes["fewer"][0])
    # the log says the same, each once
    assert sum(note.startswith("places: ") for note in result.cohort_model.notes) == 1


@pytest.fixture(scope="module")
def mitigated(steady):
    levers = [
        mitigation("reduce_new_plans", {"percent": 20}, ("mainstream",), name="fewer"),
        Mitigation(
            name="transfer",
            line_of_enquiry="block transfers",
            lever="funding_change",
            start_year="2026-27",
            status="assured",
            effect={"amount_gbp": 1_000_000},
        ),
    ]
    result = run_forecast(steady, levers, SETTINGS)
    return result, forecast_tables(result, pd.DataFrame())


def test_the_central_figures_tie_and_every_check_passes(mitigated):
    result, tables = mitigated
    outcomes = run_checks(tables, result.unreached)
    assert {name: gate.passed for name, (_, gate) in outcomes.items()} == dict.fromkeys(
        outcomes, True
    )
    effects = result.mitigations.set_index(["mitigation", "financial_year"])
    assert effects.loc[("transfer", "2028-29"), "kind"] == "funding"
    # income, not spend avoided
    assert effects.loc[("transfer", "2028-29"), "in_year_saving_gbp"] == 0
    assert "inmss" in result.unreached and "mainstream" not in result.unreached
    position = result.hnb_position.set_index(["scenario", "financial_year"])
    assert set(position.index.get_level_values(0)) == {
        "unmitigated",
        "mitigated",
        "mitigated_assured",
    }
    assured = position.loc[("mitigated_assured", "2028-29"), "cumulative_balance_gbp_central"]
    unmitigated = position.loc[("unmitigated", "2028-29"), "cumulative_balance_gbp_central"]
    assert assured - unmitigated == pytest.approx(3_000_000)  # only the transfer is assured


@pytest.mark.parametrize(
    "table, column, check",
    [
        ("spend", "spend_gbp_central", "position_spend_is_sum_of_provisions"),
        ("hnb_position", "in_year_balance_gbp_central", "in_year_balance_is_funding_less_spend"),
        ("hnb_position", "cumulative_balance_gbp_central", "cumulative_balance_rolls_forward"),
        ("mitigations", "cumulative_balance_effect_gbp", "mitigation_effects_accumulate"),
        ("drivers", "spend_change_gbp", "drivers_add_up"),
    ],
)
def test_each_tie_check_fails_when_a_figure_is_off(mitigated, table, column, check):
    result, tables = mitigated
    broken = {**tables, table: tables[table].copy()}
    broken[table].loc[broken[table].index[-1], column] += 1_000.0
    gate = run_checks(broken, result.unreached)[check][1]
    assert not gate.passed and gate.failures


def test_scenarios_share_their_draws_so_an_unreached_provision_is_identical(mitigated):
    result, tables = mitigated
    runs = result.runs
    # inmss: unreached
    assert np.array_equal(runs["mitigated"].spend[:, :, 2], runs["unmitigated"].spend[:, :, 2])
    broken = {**tables, "spend": tables["spend"].copy()}
    row = (broken["spend"]["scenario"] == "mitigated") & (
        broken["spend"]["provision_type"] == "inmss"
    )
    broken["spend"].loc[row, "spend_gbp_central"] += 5.0
    assert not run_checks(broken, result.unreached)["unreached_provisions_identical"][1].passed


def test_assumptions_name_their_sources_and_sensitivities_move_the_balance(mitigated):
    result, _ = mitigated
    assumptions = result.assumptions.set_index("assumption")
    assert "STRB" in assumptions.loc["pay_inflation", "source"]
    # 2 % pay and prices in SETTINGS
    assert assumptions.loc["unit_cost_inflation", "value"] == pytest.approx(0.02)
    # no funding_growth set: the rate applied (the funding's recent growth) is stated, not blank
    applied = result.cost_model.funding_growth
    assert np.isfinite(applied) and assumptions.loc["funding_growth", "value"] == applied
    end = result.sensitivity[result.sensitivity["financial_year"] == "2028-29"].set_index(
        ["assumption", "variant"]
    )
    assert end.loc[("funding_growth", "as set"), "value"] == applied
    change = end["change_from_central_gbp"]
    # history was flat
    assert change[("funding_growth", "high")] > 0 == change[("funding_growth", "flat cash")]
    assert change[("unit_cost_inflation", "high")] < 0 < change[("unit_cost_inflation", "low")]
    assert change[("joiners_percent", "high")] < 0 < change[("joiners_percent", "low")]
    # more of the past growth taken as inflation leaves less growth above it to carry forward
    assert end.loc[("historical_inflation", "as set"), "value"] == pytest.approx(
        SETTINGS.costs.historical_inflation
    )
    assert change[("historical_inflation", "high")] > 0 > change[("historical_inflation", "low")]


def test_the_historical_inflation_sensitivity_at_the_rate_as_set_is_the_forecast(steady):
    """The forecast rests on one rate of inflation taken off past unit-cost growth, whatever
    years the growth was measured over: its sensitivity measures that growth again with another
    rate taken off. At the rate as set it gives the forecast's own balance, so a variant's change
    is the rate's alone."""
    settings = dataclasses.replace(
        SETTINGS,
        sensitivity=dataclasses.replace(
            SETTINGS.sensitivity, historical_inflation={"same": SETTINGS.costs.historical_inflation}
        ),
    )
    result = run_forecast(steady, [], settings)
    same = result.sensitivity[
        (result.sensitivity["assumption"] == "historical_inflation")
        & (result.sensitivity["variant"] == "same")
    ]
    assert len(same) and same["change_from_central_gbp"].abs().max() < 0.01


def test_unit_cost_growth_on_a_provision_type_with_no_spend_says_it_moves_nothing(mitigated):
    result, _ = mitigated
    costs = result.cost_model
    unit_cost = costs.unit_cost.copy()
    unit_cost[1] = 0.0
    table = assumptions_table(
        result.cohort_model, dataclasses.replace(costs, unit_cost=unit_cost), SETTINGS
    )
    growth = table[table["assumption"] == "unit_cost_growth"].set_index("provision_type")["source"]
    assert growth[costs.provisions[1]].endswith("so it moves nothing")
    assert "no spend" not in growth[costs.provisions[0]]


def test_the_unit_costs_and_places_per_plan_the_balance_rests_on_are_stated(mitigated):
    """The growth was stated but not the unit cost it grows from, nor the full-time places a
    plan is paid on; and a growth held at its bound still said it was the last years' growth."""
    result, _ = mitigated
    costs = result.cost_model
    table = result.assumptions
    for name, values in (("unit_cost", costs.unit_cost), ("fte_per_plan", costs.fte_per_plan)):
        rows = table[table["assumption"] == name].set_index("provision_type")
        assert rows["value"].to_dict() == pytest.approx(
            dict(zip(costs.provisions, values, strict=True))
        )
    base = table[table["assumption"] == "unit_cost"]
    assert (base["financial_year"] == costs.base_fy).all()
    held = dataclasses.replace(costs, real_growth=np.full(len(costs.provisions), 0.10))
    growth = assumptions_table(result.cohort_model, held, SETTINGS)
    growth = growth[growth["assumption"] == "unit_cost_growth"].set_index("provision_type")
    priced = costs.provisions[int(np.argmax(costs.unit_cost))]
    assert "held at the bound of real growth" in growth.loc[priced, "source"]
    # how far beyond the bound the data went is said: a doubled year's +127 % read only "held at
    # the bound"
    beyond = list(costs.cash_growth_measured)
    beyond[int(np.argmax(costs.unit_cost))] = 0.30
    said = assumptions_table(
        result.cohort_model, dataclasses.replace(held, cash_growth_measured=tuple(beyond)), SETTINGS
    ).set_index(["assumption", "provision_type"])
    real = 1.30 / (1 + SETTINGS.costs.historical_inflation) - 1
    assert (
        f", +30.0% a year in cash or {real:+.1%} deflated by "
        f"{SETTINGS.costs.historical_inflation:.1%} a year, was beyond it"
    ) in said.loc[("unit_cost_growth", priced), "source"]
    # a rate at its bound has no spread (no room to draw in): the sd had still been quoted
    assert costs.real_growth_sd[int(np.argmax(costs.unit_cost))] > 0
    assert "its own rate about it" not in growth.loc[priced, "source"]
    # central's too: a year-end payment's 24 % measured growth read as a plain "+10.0 % above
    # inflation", the bound unsaid
    assert (
        "held at the bound"
        not in (
            assumptions_table(result.cohort_model, costs, SETTINGS)
            .set_index(["assumption", "provision_type"])
            .loc[("unit_cost_growth", "central"), "source"]
        )
    )
    central = dataclasses.replace(costs, central_real_growth=0.10)
    said = assumptions_table(result.cohort_model, central, SETTINGS)
    said = said.set_index(["assumption", "provision_type"]).loc[("unit_cost_growth", "central")]
    assert said["source"].startswith("+10.0% above inflation, held at the bound of real growth")


def test_unit_cost_growth_names_the_years_it_was_measured_over(steady):
    """A ledger of two complete years measured growth over one step, and the assumption said
    "the last 3 years' growth" (the setting, not what was measured)."""
    years = complete_years(steady)
    spend = steady.spend
    short = dataclasses.replace(
        steady, spend=spend[spend["financial_year"].isin(years[-2:]) | ~spend["is_complete_year"]]
    )
    result = run_forecast(short, [], PRICED)
    costs = result.cost_model
    growth = result.assumptions[result.assumptions["assumption"] == "unit_cost_growth"]
    growth = growth.set_index("provision_type")["source"]
    measured = [p for p, m in zip(costs.provisions, costs.growth_measured, strict=True) if m]
    assert measured
    for provision in measured:
        assert f"the growth of {years[-2]} to {years[-1]}" in growth[provision]
    assert not growth.str.contains("the last 3 years").any()


def test_a_shift_leaves_the_provision_children_move_from_untouched(steady):
    # mainstream children stepping up to mss go to inmss instead:
    # mainstream's own draws are unchanged
    result = run_forecast(
        steady,
        [mitigation("shift_placements", {"to": "inmss", "share": 0.5, "flows": "moving"})],
        PRICED,
    )
    runs = result.runs
    assert "mainstream" in result.unreached
    assert np.array_equal(runs["mitigated"].plans[:, :, 0], runs["unmitigated"].plans[:, :, 0])
    # inmss gains
    assert runs["mitigated"].plans[:, -1, 2].mean() > runs["unmitigated"].plans[:, -1, 2].mean()


def test_children_moved_into_a_type_without_a_unit_cost_are_refused_until_it_has_one(steady):
    """inmss has never been paid for: children a mitigation (or an overflow) moves there were
    priced at £0, and the shift's saving was their whole cost."""
    shift = mitigation("shift_placements", {"to": "inmss", "share": 0.5}, name="to independents")
    with pytest.raises(ForecastInputError, match=r"'to independents'.*inmss has no unit cost"):
        run_forecast(steady, [shift], SETTINGS)
    # the refusal names the mitigations file the entry came from (a council's own, or the shared)
    read = dataclasses.replace(shift, source="landing/825/mitigations.yml")
    with pytest.raises(
        ForecastInputError,
        match=r"'to independents' \(shift_placements\) in landing/825/mitigations.yml move",
    ):
        run_forecast(steady, [read], SETTINGS)
    overflow = SETTINGS.with_overrides(capacity={"mss": 10.0}, overflow={"mss": "inmss"})
    with pytest.raises(ForecastInputError, match="overflow mss → inmss"):
        run_forecast(steady, [], overflow)
    # only the types the move touches are named: mainstream has no unit cost either here
    unpaid = dataclasses.replace(
        steady, spend=steady.spend[steady.spend["provision_type"] != "mainstream"]
    )
    with pytest.raises(ForecastInputError) as refused:
        run_forecast(unpaid, [shift], SETTINGS)
    assert "inmss has no unit cost" in str(refused.value)
    assert "mainstream" not in str(refused.value)
    result = run_forecast(steady, [shift], PRICED)
    spend = result.spend[result.spend["scenario"] == "mitigated"].set_index(
        ["financial_year", "provision_type"]
    )
    assert spend.loc[("2028-29", "inmss"), "unit_cost_gbp"] > UNIT_COST["inmss"]
    assert spend.loc[("2028-29", "inmss"), "spend_gbp_central"] > 0
    # a shift into the dearest type is a cost, not a saving
    effect = result.mitigations.set_index(["mitigation", "financial_year"])
    assert effect.loc[("to independents", "2028-29"), "kind"] == "cost"


def test_the_shipped_examples_mitigation_a_council_cannot_price_is_set_aside_and_named(steady):
    """A council with no resourced provision, running on the shipped example log (it gave none of
    its own), had its refresh stopped by the example's move into mainstream_rp_unit, a type it
    never paid for: a mitigation it never chose. The example's unpriceable moves are set aside
    and named; a council's own log is still refused, and the settings' overflow too."""
    shift = mitigation("shift_placements", {"to": "inmss", "share": 0.5}, name="to independents")
    cut = mitigation("reduce_new_plans", {"percent": 10}, name="fewer plans")
    result = run_forecast(steady, [shift, cut], SETTINGS, example_log=True)
    assert result.set_aside == [
        ("to independents", "inmss has no unit cost in this council's finance history")
    ]
    assert set(result.mitigations["mitigation"]) == {"fewer plans"}
    assert result.runs["mitigated"].plans.sum() < result.runs["unmitigated"].plans.sum()
    with pytest.raises(ForecastInputError, match="'to independents'"):
        run_forecast(steady, [shift, cut], SETTINGS)
    overflow = SETTINGS.with_overrides(capacity={"mss": 10.0}, overflow={"mss": "inmss"})
    with pytest.raises(ForecastInputError, match="overflow mss → inmss"):
        run_forecast(steady, [cut], overflow, example_log=True)
    # the assumption naming the log counts what was applied and names what was not
    from forecast.mitigations import EXAMPLE_MITIGATIONS, EXAMPLE_SOURCE, log_assumption

    row = log_assumption(EXAMPLE_MITIGATIONS, [shift, cut], set_aside=result.set_aside)
    assert row["value"] == 1.0
    assert row["source"] == (
        f"{EXAMPLE_SOURCE}; 'to independents' not applied here: inmss has no unit cost in this "
        "council's finance history"
    )
    # read back by the summary and the report: the report had said the example applied only
    # when nothing was left out (its note that these are not the council's plan went missing)
    from types import SimpleNamespace

    from forecast.mitigations import example_not_applied
    from report.tables import applies_example_mitigations

    assert example_not_applied(row["source"]).startswith("'to independents' not applied here")
    assert example_not_applied(EXAMPLE_SOURCE) == ""
    assert (
        example_not_applied("the council's own log (mitigations.yml in its landing folder)") is None
    )
    for source, applies in [(row["source"], True), (EXAMPLE_SOURCE, True), ("own.yml", False)]:
        frame = pd.DataFrame({"assumption": ["mitigation_log"], "source": [source]})
        assert applies_example_mitigations(SimpleNamespace(assumptions=frame)) is applies


def test_children_moved_into_a_type_no_one_pays_for_are_refused_and_out_of_it_are_not(steady):
    """`none` and `other` have placements but nothing ever pays for them: a place there costs
    £0, and a shift of independent placements into them was published as a saving of their
    whole cost (£19.4m on the demo), as was a capacity overflow into one. Moving children out of
    one into a paid type is a real cost."""
    free = steady.spend.copy()
    free.loc[free["provision_type"] == "mss", "spend_gbp"] = 0.0
    history = dataclasses.replace(steady, spend=free)
    shift = mitigation("shift_placements", {"to": "mss", "share": 0.5}, ("inmss",), name="to mss")
    with pytest.raises(ForecastInputError, match=r"'to mss'.*mss: nothing in the finance history"):
        run_forecast(history, [shift], PRICED)
    overflow = PRICED.with_overrides(capacity={"inmss": 10.0}, overflow={"inmss": "mss"})
    with pytest.raises(ForecastInputError, match="overflow inmss → mss"):
        run_forecast(history, [], overflow)
    stay = mitigation("stop_flow", {"to": "inmss", "ages": [5, 15]}, ("mss",), name="stay")
    with pytest.raises(ForecastInputError, match="'stay'"):
        run_forecast(history, [stay], PRICED)
    out = mitigation("shift_placements", {"to": "inmss", "share": 0.5}, ("mss",), name="out")
    effect = run_forecast(history, [out], PRICED).mitigations
    assert (effect["kind"] == "cost").all()


def test_staying_longer_is_a_change_in_the_leave_rate_not_in_the_leavers():
    """Joiners grow 10 % a year and every age leaves at 5 %: more children leave each year at an
    unchanged rate, so nobody stays longer; the growth is joining (the leavers of an unchanged
    rate were read as children leaving sooner)."""
    transitions, census = simulate_history(growth=0.10)
    result = run_forecast(history_from(transitions, census), [], SETTINGS)
    actual = result.drivers[result.drivers["scenario"] == "actual"].pivot_table(
        index="financial_year", columns="driver", values="spend_change_gbp"
    )
    assert len(actual) >= 5
    assert (actual["staying_longer"].abs() < 0.02 * actual["joining"].abs()).all()


def test_actual_drivers_add_up_with_spend_on_a_type_without_plans(steady):
    """inmss holds no plan on any census, but the ledger paid it £100,000 in 2023-24: the year's
    drivers add up to the change in spend (it goes with central), not £100,000 short."""
    spend = steady.spend.copy()
    spend.loc[len(spend)] = ("2023-24", "inmss", 100_000.0, 100_000.0, 0.0, np.nan, True)
    history = dataclasses.replace(steady, spend=spend)
    drivers = run_forecast(history, [], SETTINGS).drivers
    actual = drivers[(drivers["scenario"] == "actual") & (drivers["driver"] == "total")]
    totals = actual.set_index("financial_year")["spend_change_gbp"]
    by_year = spend.groupby("financial_year")["spend_gbp"].sum()
    for fy in ("2023-24", "2024-25"):
        previous = f"{int(fy[:4]) - 1}-{fy[2:4]}"
        assert totals[fy] == pytest.approx(by_year[fy] - by_year[previous], abs=0.01)


def test_a_settings_price_for_a_type_the_ledger_pays_for_is_said_to_be_unused(steady):
    """costs.new_provision_unit_costs: {mss: 50000} on a council whose ledger pays for mss:
    every table as without it, and nothing said (read as a price override, it did nothing)."""
    given = dataclasses.replace(
        SETTINGS,
        costs=dataclasses.replace(SETTINGS.costs, new_provision_unit_costs={"mss": 50_000.0}),
    )
    result = run_forecast(steady, [], given)
    said = [n for n in result.cohort_model.notes if "new_provision_unit_costs" in n]
    assert len(said) == 1 and said[0].startswith(
        "costs.new_provision_unit_costs gives mss £50,000, not used"
    ), said
    pd.testing.assert_frame_equal(result.spend, run_forecast(steady, [], SETTINGS).spend)


def begun_year(history: History, by_point: float, posted: float) -> History:
    """`history` refreshed between April and the January census: 2026-27, the first forecast
    year, has posted `posted` of 2025-26's spend per type, and 2025-26 had posted `by_point` of
    its own by the same day of its year."""
    spend = history.spend.assign(
        spend_by_ledger_point_gbp=history.spend["spend_gbp"]
        * np.where(history.spend["financial_year"] == "2025-26", by_point, 1.0)
    )
    year = spend[spend["financial_year"] == "2025-26"].assign(
        financial_year="2026-27",
        spend_gbp=lambda f: f["spend_gbp"] * posted,
        spend_by_ledger_point_gbp=lambda f: f["spend_gbp"],
        is_complete_year=False,
    )
    return dataclasses.replace(history, spend=pd.concat([spend, year], ignore_index=True))


@pytest.mark.parametrize("by_point, posted", [(0.6, 0.55), (-0.05, -0.04)])
def test_the_first_forecast_years_postings_are_kept(steady, by_point, posted):
    """A refresh between April and the January census: the ledger has posted part of 2026-27,
    the first forecast year, and its spend was the model's alone, whatever the ledger held. It
    is now what was posted plus the share of the modelled year that 2025-26 posted after the
    same day (here 40 %), in every scenario. In early April, with March's accruals reversed, a
    base year that had posted a net credit by the day has more than its year left (105 %): the
    rest was held to 100 %, and the credit kept against a whole modelled year."""
    modelled = run_forecast(steady, [], SETTINGS)
    begun = begun_year(steady, by_point, posted)
    result = run_forecast(begun, [], SETTINGS)
    first = lambda r: r.spend[  # noqa: E731
        (r.spend["scenario"] == "unmitigated") & (r.spend["financial_year"] == "2026-27")
    ].set_index("provision_type")["spend_gbp_central"]
    kept = begun.spend[begun.spend["financial_year"] == "2026-27"].set_index("provision_type")
    expected = kept["spend_gbp"] + (1 - by_point) * first(modelled)
    pd.testing.assert_series_equal(first(result), expected, check_names=False, rtol=1e-9)
    # later years are the model's, the balance moves by the first year's difference
    later = lambda r: r.spend[r.spend["financial_year"] > "2026-27"]  # noqa: E731
    pd.testing.assert_frame_equal(later(result), later(modelled))
    assumption = result.assumptions.set_index("assumption").loc["first_year_posted_spend"]
    assert assumption["value"] == pytest.approx(kept["spend_gbp"].sum())
    assert "2025-26 posted after the same day" in assumption["source"]
    drivers = result.drivers.set_index(["scenario", "financial_year", "driver"])
    position = result.hnb_position.set_index(["scenario", "financial_year"])
    assert drivers.loc[("unmitigated", "2026-27", "total"), "spend_change_gbp"] == pytest.approx(
        position.loc[("unmitigated", "2026-27"), "spend_gbp_central"]
        - steady.spend.loc[steady.spend["financial_year"] == "2025-26", "spend_gbp"].sum()
    )


def test_a_mitigation_moving_children_into_a_type_posted_to_reaches_central_spend(steady):
    """£80,000 posted to inmss in the first forecast year, no child there on the census: on a
    path with no inmss plan it goes with central spend, so a shift into inmss changes central
    spend, and the blocking check that central was unreached failed the refresh."""
    from forecast.checks import unreached_provisions_identical

    begun = begun_year(steady, 0.6, 0.55)
    spend = begun.spend.copy()
    spend.loc[
        (spend["financial_year"] == "2026-27") & (spend["provision_type"] == "inmss"),
        "spend_gbp",
    ] = 80_000.0
    begun = dataclasses.replace(begun, spend=spend)
    shift = mitigation("shift_placements", {"to": "inmss", "share": 0.3}, ("mss",))
    result = run_forecast(begun, [shift], PRICED)
    assert "central" not in result.unreached
    assert unreached_provisions_identical({"spend": result.spend}, result.unreached).passed


def test_unit_cost_growth_entries_that_add_up_beyond_one_entry_s_bounds_are_refused(tmp_path):
    """Three entries of -50 points on independent special schools, each within the lever's
    bounds, took its unit cost below £0: negative spend, the mitigated balance £64m better,
    every check passed. Entries that only meet later (or only in mitigated_assured) count so."""
    entry = (
        "  - name: {name}\n    lever: unit_cost_growth\n    provision_types: [{type}]\n"
        "    start_year: {year}\n    status: {status}\n    line_of_enquiry: commissioning\n"
        "    effect: {{percentage_points: {points}}}\n"
    )
    path = tmp_path / "m.yml"

    def write(*entries):
        path.write_text("mitigations:\n" + "".join(entry.format(**e) for e in entries))

    cut = {"type": "mainstream", "year": "2026-27", "status": "assessed", "points": -30}
    write({**cut, "name": "A"}, {**cut, "name": "B", "type": "mss"})
    assert len(load_mitigations(path, TYPES)) == 2  # on two types: each within bounds
    write({**cut, "name": "A"}, {**cut, "name": "B", "year": "2027-28", "points": 10})
    assert len(load_mitigations(path, TYPES)) == 2  # -20 from 2027-28
    write({**cut, "name": "A"}, {**cut, "name": "B", "year": "2027-28"})
    with pytest.raises(
        MitigationsError,
        match=r"m.yml: mitigations 'A', 'B' \(unit_cost_growth\) add up to percentage_points -60 "
        r"on mainstream from 2027-28 in the mitigated scenario: .* between -50 and 50",
    ):
        load_mitigations(path, TYPES)
    # an assessed rise offsets two assured cuts in mitigated, not in mitigated_assured
    assured = {**cut, "status": "assured"}
    write({**assured, "name": "A"}, {**assured, "name": "B"}, {**cut, "name": "C", "points": 40})
    with pytest.raises(MitigationsError, match=r"'A', 'B' .* in the mitigated_assured scenario"):
        load_mitigations(path, TYPES)


def test_spend_on_a_type_with_no_plan_on_the_census_is_carried_with_central(steady):
    """Full-time placements paid for in independent special schools (£120k a year) with no plan
    there on any census: priced per plan, that spend dropped out of the forecast, and every
    year's deficit read £120k smaller (plus its growth)."""
    spend = steady.spend.copy()
    inmss = spend["provision_type"] == "inmss"
    spend.loc[inmss, ["spend_gbp", "spend_by_ledger_point_gbp", "fte_placements"]] = [
        120_000.0,
        120_000.0,
        2.0,
    ]
    spend.loc[inmss, "unit_cost_gbp"] = 60_000.0
    paid = dataclasses.replace(steady, spend=spend)
    before, after = run_forecast(steady, [], SETTINGS), run_forecast(paid, [], SETTINGS)
    assert after.cost_model.unplanned_spend == {"inmss": 120_000.0}
    assert before.cost_model.unplanned_spend == {}
    run = after.runs["unmitigated"]
    assert (run.plans[:, :, TYPES.index("inmss")] == 0).all()
    # carried every year as central spend, grown as the type's unit cost
    grown = 120_000.0 * run.unit_cost[:, :, TYPES.index("inmss")].mean(axis=0) / 60_000.0
    assert run.central.mean(axis=0) - before.runs["unmitigated"].central.mean(
        axis=0
    ) == pytest.approx(grown)
    position = [
        f.hnb_position[f.hnb_position.scenario == "unmitigated"].set_index("financial_year")
        for f in (before, after)
    ]
    assert (position[1]["spend_gbp_central"] - position[0]["spend_gbp_central"]).to_numpy() == (
        pytest.approx(grown)
    )
    assert any(
        "inmss: £120,000 of 2025-26 spend with no plan" in n for n in after.cohort_model.notes
    )
    # a cut to the type's fees reaches the spend carried with central, and every check holds
    fees = mitigation("unit_cost_change", {"percent": -10}, ("inmss",), name="fees")
    cut = run_forecast(paid, [fees], SETTINGS)
    assert "central" not in cut.unreached
    checks = run_checks(forecast_tables(cut, pd.DataFrame()), cut.unreached)
    assert [gate.failures for _, gate in checks.values() if not gate.passed] == []
    assert cut.runs["mitigated"].central.mean(axis=0) == pytest.approx(
        cut.runs["unmitigated"].central.mean(axis=0) - 0.1 * grown
    )


def test_a_forecast_not_pooled_with_the_published_files_says_why_in_its_assumptions(
    steady, tmp_path
):
    """A council refreshed without HIGHNEEDS_LA_CODE had a forecast that learnt nothing from the
    published councils (its balance £4.5m apart from the pooled one), said only in the forecast
    step's log: its joiners' assumption now says so, and why, where the report and the refresh's
    summary read it."""
    from forecast.councils import NOT_POOLED, forecast_council

    log = tmp_path / "mitigations.yml"
    log.write_text("mitigations: []\n")
    for code, why in (
        ("", "no LA code (set HIGHNEEDS_LA_CODE"),
        ("000", "no LA code (set HIGHNEEDS_LA_CODE"),  # a single council's folder, code unknown
        ("999", "LA code 999 is not in"),
    ):
        done = forecast_council(code, steady, SETTINGS, log, None)
        assumptions = done.tables["assumptions"].set_index("assumption")
        source = assumptions.loc["joiners_trend", "source"]
        assert f"; {NOT_POOLED}: {why}" in source, source
    unpooled = dataclasses.replace(
        SETTINGS, cohort=dataclasses.replace(SETTINGS.cohort, pool_with_published=False)
    )
    done = forecast_council("999", steady, unpooled, log, None)
    assert (
        NOT_POOLED
        not in done.tables["assumptions"].set_index("assumption").loc["joiners_trend", "source"]
    )
