"""The cohort model (forecast/cohort.py) on inputs small enough to work out by hand."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from forecast import cohort
from forecast.cohort import CohortInputError, CohortSettings, Mitigations

TYPES = ["a", "b", "c"]
A, P = cohort.MAX_AGE + 1, len(TYPES)
EVEN = CohortSettings(recency=1.0)  # every year weighs the same: easier sums


def transitions(*rows):
    """Rows of (year, age_from, from, age_to, to, children): `joined` has no age_from, `left` no
    age_to."""
    columns = ["year", "age_from", "provision_from", "age_to", "provision_to", "children"]
    return pd.DataFrame(rows, columns=columns)


def joined(year, age, to, n):
    return (year, None, "joined", age, to, n)


def left(year, age, source, n):
    return (year, age, source, None, "left", n)


def moved(year, age, source, to, n):
    return (year, age, source, age + 1, to, n)


# --- estimation ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def leaving():
    """2025: 40 join a and 10 join b at age 10. 2026: of a's 40, 10 leave, 24 stay, 6 move to b;
    b's 10 stay; all 20 of c's 20-year-olds leave; 30 join a at 5 and 10 join b at 11."""
    return transitions(
        joined(2025, 10, "a", 40),
        joined(2025, 10, "b", 10),
        joined(2025, 20, "c", 20),
        left(2026, 10, "a", 10),
        moved(2026, 10, "a", "a", 24),
        moved(2026, 10, "a", "b", 6),
        moved(2026, 10, "b", "b", 10),
        left(2026, 20, "c", 20),
        joined(2026, 5, "a", 30),
        joined(2026, 11, "b", 10),
    )


def test_the_base_is_everyone_on_the_last_census(leaving):
    model = cohort.estimate(leaving, TYPES, EVEN)
    assert model.base_year == 2026 and model.provisions == TYPES
    expected = np.zeros((A, P))
    expected[11, 0] = 24
    expected[11, 1] = 6 + 10 + 10  # moved in, stayed, joined
    expected[5, 0] = 30
    np.testing.assert_array_equal(model.base, expected)


def test_leave_rates_are_shrunk_towards_all_types_at_neighbouring_ages(leaving):
    # at risk / left by age over all types: age 10: 50 / 10, age 20: 20 / 20; overall 30 / 70.
    # The prior at an age is (left at a−1, a, a+1, weighted 1 : 2 : 1) ÷ (at risk, the same),
    # clipped to [0.005, 0.995], and worth prior_strength = 5 children:
    #   ages 9–11: 0.2; ages 19–21: 1 → 0.995; ages with no neighbour at risk: 30 / 70 = 3/7.
    rate = cohort.estimate(leaving, TYPES, EVEN).leave_rate
    assert rate[10, 0] == pytest.approx((10 + 5 * 0.2) / (40 + 5))  # 11 / 45
    assert rate[10, 1] == pytest.approx((0 + 5 * 0.2) / (10 + 5))  # 1 / 15
    assert rate[9, 2] == pytest.approx(0.2) and rate[11, 1] == pytest.approx(0.2)
    assert rate[20, 2] == pytest.approx((20 + 5 * 0.995) / (20 + 5))
    assert rate[15, 0] == pytest.approx(3 / 7)
    assert rate[25] == pytest.approx(np.ones(P))  # nobody stays past 25


def test_the_leave_prior_weighs_an_age_twice_its_neighbours():
    # ten 10-year-olds, none leave; ten 11-year-olds, all leave. Priors: age 9: 0 / 10 → 0.005;
    # 10: 10 / 30; 11: 20 / 30; 12: 10 / 10 → 0.995 (the 1 : 2 : 1 weights, clipped)
    history = transitions(
        joined(2025, 10, "a", 10),
        joined(2025, 11, "a", 10),
        moved(2026, 10, "a", "a", 10),
        left(2026, 11, "a", 10),
    )
    rate = cohort.estimate(history, TYPES, EVEN).leave_rate
    assert rate[10, 0] == pytest.approx((0 + 5 / 3) / 15)
    assert rate[11, 0] == pytest.approx((10 + 10 / 3) / 15)
    assert rate[9, 1] == pytest.approx(0.005) and rate[12, 1] == pytest.approx(0.995)


def test_no_cell_is_held_more_surely_than_max_effective_children(leaving):
    model = cohort.estimate(leaving, TYPES, CohortSettings(recency=1.0, max_effective_children=20))
    assert model.leave_alpha[10, 0] + model.leave_beta[10, 0] == pytest.approx(20)  # 45 → 20
    assert model.leave_rate[10, 0] == pytest.approx(11 / 45)  # the same rate
    assert model.leave_alpha[15, 0] + model.leave_beta[15, 0] == pytest.approx(5)  # under the cap


def test_recent_years_weigh_more():
    # 10 ten-year-olds in a each year: none leave in 2025 (weight 0.9), all in 2026 (weight 1)
    history = transitions(
        joined(2024, 10, "a", 10),
        moved(2025, 10, "a", "a", 10),
        joined(2025, 10, "a", 10),
        left(2026, 10, "a", 10),
    )
    rate = cohort.estimate(history, TYPES).leave_rate  # recency 0.9
    assert rate[10, 0] == pytest.approx(10 / 19)  # not 1/2: 10 left of 0.9 × 10 + 10 at risk


def test_moves_are_shrunk_towards_the_same_type_across_the_phase():
    # ages 11–14 share a prior. a: at 12, 10 stay; at 13, 5 stay and 5 move to b → prior
    # (0.75, 0.25), worth 5 children. b: at 12, 4 stay → prior (0, 1).
    history = transitions(
        joined(2025, 12, "a", 10),
        joined(2025, 13, "a", 10),
        joined(2025, 12, "b", 4),
        moved(2026, 12, "a", "a", 10),
        moved(2026, 13, "a", "a", 5),
        moved(2026, 13, "a", "b", 5),
        moved(2026, 12, "b", "b", 4),
    )
    move = cohort.estimate(history, TYPES, EVEN).move_rate
    assert move[12, 0] == pytest.approx([(10 + 3.75) / 15, 1.25 / 15, 0], abs=1e-6)
    assert move[13, 0] == pytest.approx([(5 + 3.75) / 15, (5 + 1.25) / 15, 0], abs=1e-6)
    assert move[11, 0] == pytest.approx([0.75, 0.25, 0], abs=1e-6)  # no data: the phase's prior
    assert move[12, 1] == pytest.approx([0, 1, 0], abs=1e-6)
    assert move[5] == pytest.approx(np.eye(P), abs=1e-6)  # no data in the phase: children stay


def test_where_joiners_join_is_their_share_smoothed_by_its_margins():
    # 30 a year join a at 5 and 10 a year join b at 11, two years: cells 60 and 20 (total 80).
    # Smoothing adds 0.5 × P × (row total × column total ÷ total) ÷ total to every cell:
    # (5, a) 45/80, (5, b) 15/80, (11, a) 15/80, (11, b) 5/80 — 1 child in all.
    history = transitions(
        joined(2025, 5, "a", 30),
        joined(2025, 11, "b", 10),
        joined(2026, 5, "a", 30),
        joined(2026, 11, "b", 10),
    )
    model = cohort.estimate(history, ["a", "b"], EVEN)
    expected = np.zeros((A, 2))
    expected[5] = [60 + 45 / 80, 15 / 80]
    expected[11] = [15 / 80, 20 + 5 / 80]
    np.testing.assert_allclose(model.joiner_share, expected / 81, atol=1e-15)
    # a council with two provision types simulates (their moves were once taken for a Beta pair)
    assert cohort.simulate(model, 2, 10, seed=1).plans.shape == (10, 2, A, 2)


def _stopping(b_before: int, b_present: bool = False) -> pd.DataFrame:
    """2020-2025: 30 a year join a at 5, and each leaves by the next census; b took `b_before` a
    year at 10 until 2023 (one also moving in from a) and c one a year until 2023, then neither
    took a child (with `b_present`, one of b's 2023 joiners is still there on the last census)."""
    rows = []
    for year in range(2020, 2026):
        rows.append(joined(year, 5, "a", 30))
        if year > 2020:
            rows.append(left(year, 5, "a", 30 - (year <= 2023)))
        if year <= 2023:
            rows += [joined(year, 10, "b", b_before), joined(year, 10, "c", 1)]
            if year > 2020:
                rows.append(moved(year, 5, "a", "b", 1))
        if 2020 < year <= 2024:
            rows.append(left(year, 10, "c", 1))
            gone = b_before + (year > 2021) - (b_present and year == 2024)
            rows.append(left(year, 10, "b", gone))
            if b_present and year == 2024:
                rows.append(moved(year, 10, "b", "b", 1))
        if b_present and year == 2025:
            rows.append(moved(year, 11, "b", "b", 1))
    return transitions(*rows)


def test_a_type_no_child_entered_for_two_censuses_takes_none():
    """b took 3-4 children a year, then none on the last two censuses and has none left: the
    recency-weighted shares went on sending it joiners and movers from its earlier years (an AP
    closed two years before was forecast 9 plans by 2028-29). c took one a year: two years
    without one is no evidence it has stopped (e^-2 = 14 %), so it keeps its share."""
    model = cohort.estimate(_stopping(3), TYPES, EVEN)
    assert model.closed == {"b": pytest.approx(3.75)}  # 3 + 3 moving in from a, 4 years
    assert model.joiner_share[:, 1].sum() == 0 and model.joiner_share.sum() == pytest.approx(1)
    assert model.joiner_share[:, 2].sum() > 0
    assert model.move_rate[5, 0, 1] == 0
    paths = cohort.simulate(model, 3, 200, seed=1)
    assert paths.plans[..., 1].sum() == 0 and paths.plans[..., 2].sum() > 0
    assert any(
        note.startswith("b: no child entered it on the last 2 censuses") for note in model.notes
    )
    # with the shares it had, b went on taking children
    open_model = cohort.estimate(_stopping(3, b_present=True), TYPES, EVEN)
    assert open_model.closed == {} and open_model.joiner_share[:, 1].sum() > 0


def test_a_type_emptied_in_the_last_year_after_taking_children_takes_none():
    """b took 5 children a year until 2024, each moving on a year later; in the year to the
    last census none entered and the last five left, so it holds none. Two censuses without an
    entry were needed before: an EOTAS service emptied a year before the base census was
    forecast 21 plans and £0.59m a year by 2028-29. A year without one at 5 a year is e^-5 =
    0.7 % by chance; c, emptied the same way at one a year, keeps its share (e^-1 = 37 %)."""
    rows = []
    for year in range(2020, 2026):
        rows.append(joined(year, 5, "a", 30))
        if year > 2020:
            rows += [left(year, 5, "a", 30), left(year, 10, "b", 5)]
        if year <= 2024:
            rows.append(joined(year, 10, "b", 5))
        if year <= 2024:
            rows.append(joined(year, 12, "c", 1))
        if year > 2020:
            rows.append(left(year, 12, "c", 1))
    model = cohort.estimate(transitions(*rows), TYPES, EVEN)
    assert model.closed == {"b": pytest.approx(5.0)} and model.closed_after == {"b": 1}
    assert model.joiner_share[:, 1].sum() == 0 and model.joiner_share[:, 2].sum() > 0
    assert cohort.simulate(model, 3, 200, seed=1).plans[..., 1].sum() == 0
    assert any(
        note.startswith("b: no child entered it on the last census and none is there")
        for note in model.notes
    )


def test_joiners_past_25_do_not_say_where_children_join():
    """Plans that started past 25 (flagged in the cohort mart, counted on their census) were
    clipped to 25 and became a share of joiners at 25 that every forecast year repeated."""
    history = transitions(
        joined(2025, 5, "a", 30),
        joined(2025, 26, "b", 10),
        left(2026, 5, "a", 30),
        left(2026, 25, "b", 10),
        joined(2026, 5, "a", 30),
        joined(2026, 27, "b", 6),
    )
    model = cohort.estimate(history, TYPES, EVEN)
    assert model.joiner_share[cohort.MAX_AGE].sum() == 0 and model.joiner_share[5, 0] > 0.9
    assert model.base[cohort.MAX_AGE, 1] == 6  # on their census they are counted


def test_a_flat_two_year_joiner_trend():
    # each year's 40 joiners leave by the next census: the caseload is 40 every year
    history = transitions(
        joined(2025, 5, "a", 40), left(2026, 5, "a", 40), joined(2026, 5, "a", 40)
    )
    model = cohort.estimate(history, TYPES, EVEN)
    assert model.joiner_level == pytest.approx(np.log(40), abs=0.05)
    assert model.joiner_slope == 0
    assert model.joiner_noise == pytest.approx(0.02)  # two years: |slope| / 2 + 0.02
    assert model.joiner_slope_se == pytest.approx(0.03)  # held no tighter than min_trend_se
    assert "joiners trend from 2 years only" in model.notes


def test_joiners_growing_ten_percent_a_year_keep_growing_at_ten_percent():
    # no child stays a second year, so the caseload grows exactly as joiners do
    history = transitions(
        joined(2024, 5, "a", 100),
        left(2025, 5, "a", 100),
        joined(2025, 5, "a", 110),
        left(2026, 5, "a", 110),
        joined(2026, 5, "a", 121),
    )
    model = cohort.estimate(history, TYPES, EVEN)
    assert model.joiner_slope == pytest.approx(np.log(1.1))
    # the level that makes next year's expected caseload (all joiners) 10 % up, less the
    # lognormal mean of the slope's and the shocks' spread
    assert model.joiner_level == pytest.approx(np.log(121), abs=0.02)
    assert model.joiner_slope_se >= 0.03
    totals = cohort.simulate(model, 3, 4000, seed=1).plans.sum(axis=(2, 3))
    np.testing.assert_allclose(totals.mean(axis=0), 121 * 1.1 ** np.arange(1, 4), rtol=0.02)
    earlier = cohort.estimate(history, TYPES, EVEN, upto_year=2025)
    assert earlier.base_year == 2025 and earlier.base.sum() == 110
    assert earlier.joiner_slope == pytest.approx(np.log(1.1))


def test_with_the_published_growth_the_caseload_grows_at_it_as_uncertain_as_published():
    history = transitions(
        joined(2024, 5, "a", 100), joined(2025, 5, "a", 130), joined(2026, 5, "a", 121)
    )
    pooled = (np.log(1.08), 0.045, "England's growth to January 2025 …")
    model = cohort.estimate(history, TYPES, EVEN, pooled_growth=pooled)
    assert model.joiner_slope == pytest.approx(np.log(1.08))
    assert model.growth_source == pooled[2]
    assert any("joiners grow at +8.0% a year" in note for note in model.notes)
    # the caseload, not just its joiners, grows at the published rate on average; and its log
    # spread three years on is about 3 × the published standard error (normal p10–p90: ±1.28 sd)
    totals = cohort.simulate(model, 3, 4000, seed=1).plans.sum(axis=(2, 3)).astype(float)
    np.testing.assert_allclose(totals.mean(axis=0), 121 * 1.08 ** np.arange(1, 4), rtol=0.02)
    p10, p90 = np.quantile(np.log(totals[:, 2]), [0.1, 0.9])
    assert (p90 - p10) / (2 * 1.2816) == pytest.approx(3 * 0.045, rel=0.2)
    # the joiners' own years no longer set the level: another history with the same base
    steadier = cohort.estimate(
        transitions(
            joined(2024, 5, "a", 121), joined(2025, 5, "a", 121), joined(2026, 5, "a", 121)
        ),
        TYPES,
        EVEN,
        pooled_growth=pooled,
    )
    assert steadier.joiner_level == pytest.approx(model.joiner_level, rel=0.05)
    # held no tighter than min_trend_se; switched off, joiners keep their own trend
    assert cohort.estimate(
        history, TYPES, EVEN, pooled_growth=(0.08, 0.001, "")
    ).joiner_slope_se == pytest.approx(EVEN.min_trend_se)
    own = cohort.estimate(
        history, TYPES, replace(EVEN, pool_with_published=False), pooled_growth=pooled
    )
    assert own.joiner_slope == cohort.estimate(history, TYPES, EVEN).joiner_slope
    assert own.growth_source.startswith("the caseload's own growth")


def test_log_trend_by_hand():
    series = pd.Series([100.0, 110.0, 121.0], index=[2024, 2025, 2026])
    level, slope, se, noise = cohort._log_trend(series)
    assert (level, slope) == (pytest.approx(np.log(121)), pytest.approx(np.log(1.1)))
    assert se == pytest.approx(1e-4) and noise == pytest.approx(1e-4)  # floors: a perfect fit
    level, slope, se, noise = cohort._log_trend(pd.Series([100.0, 120.0], index=[2025, 2026]))
    assert (level, slope) == (pytest.approx(np.log(120)), pytest.approx(np.log(1.2)))
    assert se == noise == pytest.approx(np.log(1.2) / 2 + 0.02)
    # one year with joiners
    assert cohort._log_trend(pd.Series([0.0, 50.0], index=[2025, 2026])) == (
        pytest.approx(np.log(50)),
        0.0,
        0.1,
        0.1,
    )
    # wobbly: residual sd of the fit, and a slope error no tighter than the yearly changes allow
    x, y = np.array([2023, 2024, 2025, 2026]), np.log([100.0, 120.0, 110.0, 130.0])
    level, slope, se, noise = cohort._log_trend(pd.Series(np.exp(y), index=x))
    b, a = np.polyfit(x, y, 1)
    residuals = y - (a + b * x)
    assert slope == pytest.approx(b) and noise == pytest.approx(np.sqrt((residuals**2).sum() / 2))
    assert se == pytest.approx(max(noise / np.sqrt(5), np.std(np.diff(y), ddof=1) / np.sqrt(3)))


def growing(joining_2026: float) -> pd.DataFrame:
    """A caseload of 100 → 110 → 121 → 110 + `joining_2026`: each year's children all stay but
    a tenth, and the new ones join."""
    return transitions(
        moved(2024, 5, "a", "a", 90),
        left(2024, 5, "a", 10),
        joined(2024, 5, "a", 20),
        moved(2025, 6, "a", "a", 100),
        left(2025, 6, "a", 10),
        joined(2025, 5, "a", 21),
        moved(2026, 7, "a", "a", 110),
        left(2026, 7, "a", 11),
        joined(2026, 5, "a", joining_2026),
    )


def test_without_the_published_files_the_caseload_grows_at_its_last_three_years_rate():
    history = growing(23.1)  # caseload 100 → 110 → 121 → 133.1
    slope, span, spread = cohort._caseload_growth(history, [2024, 2025, 2026])
    assert slope == pytest.approx(np.log(1.1)) and span == 3 and spread == pytest.approx(0)
    # as at 2025: two years, 100 → 121
    assert cohort._caseload_growth(history[history["year"] <= 2025], [2024, 2025])[:2] == (
        pytest.approx(np.log(1.1)),
        2,
    )
    model = cohort.estimate(history, TYPES, EVEN)
    assert model.joiner_slope == pytest.approx(np.log(1.1))
    assert "the caseload's own growth over its last 3 year(s)" in model.growth_source
    totals = cohort.simulate(model, 3, 4000, seed=1).plans.sum(axis=(2, 3)).astype(float)
    np.testing.assert_allclose(totals.mean(axis=0), 133.1 * 1.1 ** np.arange(1, 4), rtol=0.02)
    p10, p90 = np.quantile(np.log(totals[:, 2]), [0.1, 0.9])
    # its spread three years on: own_growth_se a year, less the Poisson draws' share
    assert (p90 - p10) / (2 * 1.2816) == pytest.approx(3 * EVEN.own_growth_se, rel=0.25)


def test_a_step_in_the_caseloads_history_widens_its_growths_spread():
    """A caseload that doubled in its last year (a merger, a migrated system's backlog) was
    carried at +34 % a year with the published councils' ±5 points a year (a reviewer's council:
    its p10 up 69 % in three years). Compound growth stays the rate (it beat the median year on
    such councils: test_cohort_worlds), but with the spread its own yearly growths give it."""
    history = growing(132)  # caseload 100 → 110 → 121 → 242
    slope, span, spread = cohort._caseload_growth(history, [2024, 2025, 2026])
    yearly = np.log([1.1, 1.1, 2.0])
    assert slope == pytest.approx(np.log(2.42) / 3) and span == 3
    assert spread == pytest.approx(np.std(yearly, ddof=1) / np.sqrt(3))
    model = cohort.estimate(history, TYPES, EVEN)
    assert "its yearly growths' own spread" in model.growth_source
    # a steady +10 % a year with the 2024 census missing is as steady: the step over the gap
    # counts as the two years it spans (as one year's +21 % it made a spread of 6 points)
    gapped = transitions(
        moved(2023, 5, "a", "a", 90),
        left(2023, 5, "a", 10),
        joined(2023, 5, "a", 20),
        moved(2026, 7, "a", "a", 120),
        left(2026, 7, "a", 13.1),
        joined(2026, 5, "a", 26.41),
    )
    slope, span, spread = cohort._caseload_growth(gapped, [2023, 2026])  # censuses 2022–2026
    assert slope == pytest.approx(np.log(1.1)) and span == 4 and spread == pytest.approx(0)
    totals = cohort.simulate(model, 3, 4000, seed=1).plans.sum(axis=(2, 3)).astype(float)
    p10, p90 = np.quantile(np.log(totals[:, 2]), [0.1, 0.9])
    assert (p90 - p10) / (2 * 1.2816) > 2 * 3 * EVEN.own_growth_se


def test_cap_confidence_by_hand():
    beta = cohort._cap_confidence(np.array([[[30.0, 270.0], [2.0, 3.0]]]), 100)
    np.testing.assert_allclose(beta, [[[10.0, 90.0], [2.0, 3.0]]])
    # two provision types' moves (last axis 2, three axes) are a Dirichlet too, not a Beta pair
    two_types = cohort._cap_confidence(np.array([[[[150.0, 50.0], [1.0, 1.0]]]]), 100)
    np.testing.assert_allclose(two_types, [[[[75.0, 25.0], [1.0, 1.0]]]])
    dirichlet = cohort._cap_confidence(np.array([[[[50.0, 100.0, 50.0]]]]), 100)
    np.testing.assert_allclose(dirichlet, [[[[25.0, 50.0, 25.0]]]])


def test_joiners_per_head_with_a_population():
    history = transitions(joined(2025, 5, "a", 26), joined(2026, 5, "a", 26))
    population = pd.DataFrame(1000.0, index=[2025, 2026, 2027], columns=cohort.AGES)
    model = cohort.estimate(history, TYPES, EVEN, population=population, prevalence_ceiling=1.0)
    assert model.joiner_level == pytest.approx(np.log(26 / 26_000))  # a rate per head
    np.testing.assert_allclose(model.joiner_age_share, np.eye(A)[5])
    # 2027: twice the population → twice the joiners, unless the ceiling (1 per 1,000) bites
    model.population = pd.DataFrame(2000.0, index=[2027], columns=cohort.AGES)
    model.prevalence_ceiling = None
    nobody = np.zeros((2, A, P))
    expected = cohort._expected_joiners(model, 2027, np.zeros(2), 1.0, np.zeros(2), nobody)
    assert expected[:, 5, 0] == pytest.approx([52, 52]) and expected.sum() == pytest.approx(104)
    model.prevalence_ceiling = 1.0  # 52 plans in all: 40 already there leave room for 12
    arriving = nobody.copy()
    arriving[:, 12, 1] = 40
    capped = cohort._expected_joiners(model, 2027, np.zeros(2), 1.0, np.zeros(2), arriving)
    assert capped.sum(axis=(1, 2)) == pytest.approx([12, 12])


def test_expected_joiners_follow_the_damped_trend():
    model = cohort.estimate(
        transitions(joined(2025, 5, "a", 100), joined(2026, 5, "a", 100)), TYPES, EVEN
    )
    model.joiner_level = np.log(100)
    slope = np.full(3, np.log(1.1))
    expected = cohort._expected_joiners(model, 2027, slope, 0.9, np.zeros(3), np.zeros((3, A, P)))
    assert expected.sum(axis=(1, 2)) == pytest.approx(np.full(3, 100 * 1.1**0.9))


def test_capacity_and_overflow_become_arrays():
    history = transitions(joined(2025, 5, "a", 1), joined(2026, 5, "a", 1))
    model = cohort.estimate(history, TYPES, capacity={"b": 30}, overflow={"b": "c"})
    np.testing.assert_array_equal(model.capacity, [np.inf, 30, np.inf])
    np.testing.assert_array_equal(model.overflow_to, [0, 2, 2])
    with pytest.raises(CohortInputError, match="capacity for unknown provision type 'z'"):
        cohort.estimate(history, TYPES, capacity={"z": 1})
    with pytest.raises(CohortInputError, match="overflow of b to unknown provision type 'z'"):
        cohort.estimate(history, TYPES, capacity={"b": 1}, overflow={"b": "z"})


def test_inputs_the_model_cannot_use():
    with pytest.raises(CohortInputError, match="holds 1 census-to-census transition"):
        cohort.estimate(transitions(joined(2026, 5, "a", 1)), TYPES)
    strays = transitions(
        joined(2025, 5, "a", 10), joined(2026, 5, "x", 10), moved(2026, 5, "a", "a", 10)
    )
    model = cohort.estimate(strays, TYPES, EVEN)
    assert "provision types not modelled, dropped: x" in model.notes and model.base.sum() == 10
    nobody = cohort.estimate(
        transitions(moved(2025, 5, "a", "a", 5), moved(2026, 6, "a", "a", 5)), TYPES, EVEN
    )
    assert nobody.joiner_level == -np.inf and nobody.joiner_slope == 0
    assert any("no child joined" in note for note in nobody.notes)


# --- simulation ---------------------------------------------------------------------------


def still(base, movers=(), joiners=None, capacity=None, overflow=None):
    """A model with no randomness left in it: nobody leaves before 25 and everyone leaves at 25,
    children stay in their provision type except `movers` ((age, from, to): all of them move),
    and no one joins unless `joiners` ((age, type): expected per year)."""
    leave_alpha, leave_beta = np.full((A, P), 1e-9), np.full((A, P), 1e9)
    leave_alpha[cohort.MAX_AGE], leave_beta[cohort.MAX_AGE] = 1e9, 1e-9
    move_alpha = np.broadcast_to(np.eye(P) * 1e9 + 1e-9, (A, P, P)).copy()
    for age, source, target in movers:
        move_alpha[age, source] = 1e-9
        move_alpha[age, source, target] = 1e9
    share = np.zeros((A, P))
    level = -np.inf
    if joiners:
        for (age, p), n in joiners.items():
            share[age, p] = n
        level = np.log(share.sum())
        share /= share.sum()
    base_array = np.zeros((A, P))
    for (age, p), n in base.items():
        base_array[age, p] = n
    return cohort.CohortModel(
        provisions=list(TYPES),
        base_year=2026,
        base=base_array,
        leave_alpha=leave_alpha,
        leave_beta=leave_beta,
        move_alpha=move_alpha,
        joiner_share=share,
        joiner_level=level,
        joiner_slope=0.0,
        joiner_slope_se=0.0,
        joiner_noise=0.0,
        capacity=None if capacity is None else np.asarray(capacity, dtype=float),
        overflow_to=None if overflow is None else np.asarray(overflow),
    )


def test_children_age_a_year_each_census_and_leave_at_25():
    model = still({(5, 0): 10, (24, 1): 4, (25, 2): 3})
    paths = cohort.simulate(model, 2, 5, seed=1)
    assert paths.years == [2027, 2028]
    first, second = paths.plans[:, 0], paths.plans[:, 1]
    assert (first[:, 6, 0] == 10).all() and (first[:, 25, 1] == 4).all() and first.sum() == 5 * 14
    assert (second[:, 7, 0] == 10).all() and second.sum() == 5 * 10
    assert (paths.leavers[:, 0, 25, 2] == 3).all() and (paths.leavers[:, 1, 25, 1] == 4).all()
    assert paths.joiners.sum() == 0


def test_movers_change_type_as_they_age():
    paths = cohort.simulate(still({(10, 0): 8}, movers=[(10, 0, 1)]), 2, 3, seed=1)
    assert (paths.plans[:, 0, 11, 1] == 8).all() and (paths.plans[:, 1, 12, 1] == 8).all()


def test_stop_flow_keeps_children_where_they_were_from_its_first_step():
    model = still({(9, 0): 8, (10, 0): 5}, movers=[(10, 0, 1)])
    stop = Mitigations(stop_flows=[(1, [0], 1, (10, 10), 1.0)])
    paths = cohort.simulate(model, 2, 3, seed=1, mitigations=stop)
    assert (paths.plans[:, 0, 11, 1] == 5).all()  # step 0: not yet stopped
    assert (paths.plans[:, 1, 11, 0] == 8).all() and (paths.plans[:, 1, 11, 1] == 0).all()
    half = Mitigations(stop_flows=[(0, [0], 1, (10, 10), 0.5)])
    model = still({(10, 0): 100}, movers=[(10, 0, 1)])
    split = cohort.simulate(model, 1, 400, seed=1, mitigations=half)
    kept, gone = split.plans[:, 0, 11, 0], split.plans[:, 0, 11, 1]
    assert (kept + gone == 100).all() and kept.mean() == pytest.approx(50, abs=1)


def test_move_shift_sends_children_moving_in_elsewhere():
    model = still({(10, 0): 8, (10, 1): 4}, movers=[(10, 0, 1)])
    shift = Mitigations(move_shift=[(0, [1], 2, 1.0)])  # those moving into b go to c
    paths = cohort.simulate(model, 1, 3, seed=1, mitigations=shift)
    assert (paths.plans[:, 0, 11] == [0, 4, 8]).all()  # b's own children stay in b


def test_joiners_are_poisson_around_the_trend_and_levers_move_them():
    model = still({}, joiners={(5, 0): 100})
    plain = cohort.simulate(model, 2, 4000, seed=3)
    assert plain.joiners[:, :, 5, 0].mean(axis=0) == pytest.approx([100, 100], abs=1)
    assert plain.joiners[:, 0, 5, 0].var() == pytest.approx(100, rel=0.1)
    factor = np.ones((2, A, P))
    factor[0] = 0.0
    factor[1, 5, 0] = 0.5
    fewer = cohort.simulate(model, 2, 4000, seed=3, mitigations=Mitigations(joiner_factor=factor))
    assert fewer.joiners[:, 0].sum() == 0
    assert fewer.joiners[:, 1, 5, 0].mean() == pytest.approx(50, abs=1)
    shift = Mitigations(joiner_shift=[(1, [0], 2, 1.0)])
    shifted = cohort.simulate(model, 2, 4000, seed=3, mitigations=shift)
    assert shifted.joiners[:, 1, 5, 0].sum() == 0
    assert shifted.joiners[:, 1, 5, 2].mean() == pytest.approx(100, abs=1)
    assert np.array_equal(shifted.joiners[:, 0], plain.joiners[:, 0])  # before its first step


def test_capacity_sends_the_excess_to_the_overflow():
    # 8 a-children move to b at 11, where 3 are already (b: 5 places, overflow c): 11 arrive in b,
    # the 3 already there stay, 6 go to c; 2 more places keep 2 more in b
    model = still(
        {(10, 0): 8, (10, 1): 3},
        movers=[(10, 0, 1)],
        capacity=[np.inf, 5, np.inf],
        overflow=[0, 2, 2],
    )
    capped = cohort.simulate(model, 1, 3, seed=1)
    assert (capped.plans[:, 0, 11] == [0, 5, 6]).all()
    more = Mitigations(extra_capacity=np.array([[0.0, 2.0, 0.0]]))
    roomier = cohort.simulate(model, 1, 3, seed=1, mitigations=more)
    assert (roomier.plans[:, 0, 11] == [0, 7, 4]).all()


def test_apply_capacity_by_hand():
    nxt = np.zeros((2, A, P), dtype=np.int64)
    nxt[:, 5, 1], nxt[:, 6, 1] = 9, 3  # 12 in b
    stayers = np.zeros_like(nxt)
    stayers[0, 5, 1] = 5  # path 0: 5 of the 9 aged 5 were there and stayed
    stayers[1, 5, 1] = 9  # path 1: all 9 aged 5 stayed, more than the 8 places: they keep them
    out = cohort._apply_capacity(nxt, stayers, np.array([np.inf, 8, np.inf]), np.array([0, 2, 2]))
    # path 0: 12 − max(8, 5) = 4 go, from the newcomers (4 aged 5, 3 aged 6): 2.29 and 1.71,
    # rounded down to 2 and 1, the one left to the larger remainder (age 6). Path 1:
    # 12 − max(8, 9) = 3 go, all newcomers, aged 6; the 9 who stayed keep their places
    assert out[0, 5].tolist() == [0, 7, 2] and out[0, 6].tolist() == [0, 1, 2]
    assert out[1, 5].tolist() == [0, 9, 0] and out[1, 6].tolist() == [0, 0, 3]
    assert out.sum() == nxt.sum()
    places = np.array([np.inf, 8, np.inf])
    unchanged = cohort._apply_capacity(nxt, stayers, places, np.array([0, 1, 2]))
    assert np.array_equal(unchanged, nxt)  # no overflow named: nowhere to go


def test_a_type_above_its_places_takes_no_newcomer_until_it_is_below_them():
    """A capacity set below the census (105 maintained special plans, 80 places) was ignored: the
    places each leaver freed were refilled up to last year's 105, and the overflow took none."""
    # b: 10 children, 5 places, overflow c; the 4 aged 25 leave, the 6 aged 10 stay, and about
    # 6 a year join b at 5
    model = still(
        {(10, 1): 6, (25, 1): 4},
        joiners={(5, 1): 6.0},
        capacity=[np.inf, 5, np.inf],
        overflow=[0, 2, 2],
    )
    capped = cohort.simulate(model, 2, 200, seed=1)
    b, c = capped.plans[:, :, :, 1].sum(axis=2), capped.plans[:, :, :, 2].sum(axis=2)
    joined = capped.joiners.sum(axis=(2, 3)).cumsum(axis=1)
    assert joined[:, 0].max() > 0
    # the 6 who stay keep b above its places: every joiner goes to c, both years, and the 6 in
    # b are those who stayed (11, then 12), not joiners kept in their places
    assert (b == 6).all()
    assert np.array_equal(c, joined)
    assert (capped.plans[:, 0, 11, 1] == 6).all() and (capped.plans[:, 1, 12, 1] == 6).all()


def test_the_same_seed_gives_the_same_paths_and_a_lever_leaves_other_types_alone():
    history = transitions(
        *(
            row
            for year in (2024, 2025, 2026)
            for row in (
                joined(year, 5, "a", 30),
                joined(year, 5, "c", 10),
                left(year, 5, "a", 3),
                left(year, 5, "c", 1),
                moved(year, 5, "a", "a", 27),
                moved(year, 5, "c", "c", 9),
            )
        )
    )
    model = cohort.estimate(history, TYPES)
    one, two = cohort.simulate(model, 3, 50, seed=9), cohort.simulate(model, 3, 50, seed=9)
    assert np.array_equal(one.plans, two.plans) and np.array_equal(one.leavers, two.leavers)
    assert not np.array_equal(one.plans, cohort.simulate(model, 3, 50, seed=10).plans)
    factor = np.ones((3, A, P))
    factor[:, :, 0] = 0.5
    fewer = cohort.simulate(model, 3, 50, seed=9, mitigations=Mitigations(joiner_factor=factor))
    assert fewer.plans[:, :, :, 0].sum() < one.plans[:, :, :, 0].sum()
    assert np.array_equal(fewer.plans[:, :, :, 2], one.plans[:, :, :, 2])  # c: its own stream


def test_paths_drawn_side_by_side_and_with_kept_parameters_are_the_ones_drawn_one_by_one(
    monkeypatch,
):
    """The streams drawn on several threads, and the parameter draws kept for the next scenario,
    give exactly the paths of one thread drawing everything afresh."""
    history = transitions(
        *(
            row
            for year in (2024, 2025, 2026)
            for row in (
                joined(year, 5, "a", 30),
                joined(year, 7, "b", 6),
                joined(year, 5, "c", 10),
                left(year, 5, "a", 3),
                left(year, 5, "c", 1),
                moved(year, 5, "a", "a", 25),
                moved(year, 5, "a", "b", 2),
                moved(year, 5, "c", "c", 9),
            )
        )
    )
    model = cohort.estimate(history, TYPES)
    shift = Mitigations(move_shift=[(0, [1], 0, 0.5)])
    monkeypatch.setattr(cohort, "_DRAW_THREADS", 1)
    cohort._parameter_draws_kept.clear()
    alone = [cohort.simulate(model, 3, 200, seed=4, mitigations=m) for m in (None, shift)]
    monkeypatch.setattr(cohort, "_DRAW_THREADS", 2)
    cohort._parameter_draws_kept.clear()
    side_by_side = [cohort.simulate(model, 3, 200, seed=4, mitigations=m) for m in (None, shift)]
    for one, other in zip(alone, side_by_side, strict=True):
        for name in ("plans", "joiners", "leavers"):
            assert np.array_equal(getattr(one, name), getattr(other, name))
    kept = cohort._parameter_draws(model, 3, 200, 4)
    assert len(cohort._parameter_draws_kept) == 1  # both scenarios used the same draws
    assert not any(array.flags.writeable for array in kept)
