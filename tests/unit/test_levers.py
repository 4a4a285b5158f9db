"""Each mitigation lever on its own: what it does to a scenario's arrays, its effect schema and
its default kind. Every lever in forecast/levers/ needs a `test_<lever name>` here (checked)."""

import re
from pathlib import Path

import numpy as np
import pytest

import forecast.levers
from forecast import cohort
from forecast.levers import LEVERS, Lever, Number, lever_named, register, schema
from forecast.mitigations import (
    Mitigation,
    MitigationsError,
    load_mitigations,
    mitigation_kind,
)
from forecast.model import resolve_levers, unreached_provisions
from forecast.years import fy_of_census_year

TYPES = ["a", "b", "c"]
BASE_YEAR = 2026  # the last census: forecast step 0 is 2026-27 (census January 2027)
YEARS = 3
A, P = cohort.MAX_AGE + 1, len(TYPES)


def model(capacity=None):
    """A cohort model just big enough for levers to write into (its rates are never used)."""
    ones = np.ones((A, P))
    return cohort.CohortModel(
        provisions=list(TYPES),
        base_year=BASE_YEAR,
        base=np.zeros((A, P)),
        leave_alpha=ones,
        leave_beta=ones,
        move_alpha=np.ones((A, P, P)),
        joiner_share=ones / ones.sum(),
        joiner_level=0.0,
        joiner_slope=0.0,
        joiner_slope_se=0.0,
        joiner_noise=0.0,
        capacity=None if capacity is None else np.asarray(capacity, dtype=float),
        overflow_to=None if capacity is None else np.arange(P),
    )


def mitigation(lever, effect, types=("a",), start="2027-28", name=None, kind=None):
    return Mitigation(
        name=name or lever,
        line_of_enquiry="sufficiency",
        lever=lever,
        start_year=start,
        status="assessed",
        provision_types=tuple(types),
        effect=effect,
        kind=kind,
    )


def resolve(*mitigations, capacity=None):
    return resolve_levers(list(mitigations), model(capacity), YEARS)


# --- one test per lever: its effect on the scenario's arrays ---------------------------------


def test_reduce_new_plans():
    caseload, costs = resolve(
        mitigation("reduce_new_plans", {"percent": 20, "ages": [5, 10]}, ("a", "c"))
    )
    expected = np.ones((YEARS, A, P))
    expected[1:, 5:11, [0, 2]] = 0.8  # from 2027-28 (step 1), ages 5–10, types a and c
    np.testing.assert_allclose(caseload.joiner_factor, expected, rtol=0, atol=1e-15)
    # without ages: every age; two mitigations on one type multiply
    caseload, _ = resolve(
        mitigation("reduce_new_plans", {"percent": 20}, ("b",), start="2026-27"),
        mitigation("reduce_new_plans", {"percent": -10}, ("b",)),
    )
    factor = caseload.joiner_factor
    assert (factor[0, :, 1] == 0.8).all() and np.allclose(factor[1:, :, 1], 0.8 * 1.1)
    assert (factor[:, :, [0, 2]] == 1).all()
    assert not costs.growth.any()  # a caseload lever leaves the costs alone


def test_shift_placements():
    both, _ = resolve(mitigation("shift_placements", {"to": "b", "share": 0.3}, ("a", "c")))
    assert both.joiner_shift == [(1, [0, 2], 1, 0.3)]  # default flows: both
    assert both.move_shift == [(1, [0, 2], 1, 0.3)]
    new, _ = resolve(mitigation("shift_placements", {"to": "c", "share": 1, "flows": "new"}))
    assert new.joiner_shift == [(1, [0], 2, 1.0)] and new.move_shift == []
    moving, _ = resolve(
        mitigation("shift_placements", {"to": "c", "share": 0.5, "flows": "moving"})
    )
    assert moving.joiner_shift == [] and moving.move_shift == [(1, [0], 2, 0.5)]
    assert both.joiner_factor is None and both.stop_flows == []


def test_stop_flow():
    caseload, _ = resolve(
        mitigation("stop_flow", {"to": "b", "ages": [10, 11]}, ("a",)),
        mitigation(
            "stop_flow", {"to": "c", "ages": [15, 15], "share": 0.25}, ("b",), start="2028-29"
        ),
    )
    assert caseload.stop_flows == [(1, [0], 1, (10, 11), 1.0), (2, [1], 2, (15, 15), 0.25)]
    assert caseload.move_shift == [] and caseload.joiner_shift == []


def test_add_capacity():
    caseload, _ = resolve(
        mitigation("add_capacity", {"places": 12}, ("b",)),
        mitigation("add_capacity", {"places": 3}, ("b", "c"), start="2026-27"),
        capacity=[np.inf, 50, 20],
    )
    np.testing.assert_array_equal(caseload.extra_capacity, [[0, 3, 3], [0, 15, 3], [0, 15, 3]])
    # without capacity in the forecast settings: no effect, and a note says so
    plain = model()
    caseload, _ = resolve_levers(
        [mitigation("add_capacity", {"places": 12}, ("b",), name="More")], plain, YEARS
    )
    assert caseload.extra_capacity is None
    assert plain.notes == [
        "More: add_capacity has no effect without capacity: in the forecast settings"
    ]
    # nor on a provision type the settings do not cap
    capped = model([np.inf, 50, 20])
    for _scenario in range(2):  # every scenario resolves it: one note
        resolve_levers([mitigation("add_capacity", {"places": 5}, ("a",), name="A")], capped, YEARS)
    assert capped.notes == [
        "A: add_capacity has no effect on a: the forecast settings set no capacity: for it"
    ]


def test_unit_cost_growth():
    caseload, costs = resolve(
        mitigation("unit_cost_growth", {"percentage_points": -2}, ("a", "c")),
        mitigation("unit_cost_growth", {"percentage_points": 1}, ("c",), start="2028-29"),
    )
    np.testing.assert_allclose(costs.growth, [[0, 0, 0], [-0.02, 0, -0.02], [-0.02, 0, -0.01]])
    assert (costs.level == 1).all() and (costs.central_level == 1).all()
    assert (costs.funding == 0).all()
    assert caseload == cohort.Mitigations()


def test_unit_cost_change():
    _, costs = resolve(
        mitigation("unit_cost_change", {"percent": -5}, ("b",)),
        mitigation("unit_cost_change", {"percent": 10}, ("b", "c")),
    )
    # once, in the start year: the cost simulation carries the new level on
    np.testing.assert_allclose(costs.level, [[1, 1, 1], [1, 0.95 * 1.1, 1.1], [1, 1, 1]])
    assert (costs.growth == 0).all()


def test_central_spend_change():
    _, costs = resolve(mitigation("central_spend_change", {"percent": -20}, ()))
    np.testing.assert_allclose(costs.central_level, [1, 0.8, 1])
    assert (costs.level == 1).all() and (costs.funding == 0).all()


def test_funding_change():
    _, costs = resolve(
        mitigation("funding_change", {"amount_gbp": 500_000}, ()),
        mitigation("funding_change", {"amount_gbp": "250000"}, (), start="2026-27"),
    )
    np.testing.assert_array_equal(costs.funding, [250_000, 750_000, 750_000])
    assert (costs.growth == 0).all() and (costs.central_level == 1).all()


# --- what every lever shares ----------------------------------------------------------------


def test_every_lever_has_its_module_and_its_test():
    tests = {
        name for name, value in globals().items() if name.startswith("test_") and callable(value)
    }
    for name, lever in LEVERS.items():
        assert type(lever).__module__ == f"forecast.levers.{name}", name
        assert f"test_{name}" in tests, f"lever {name} has no test_{name} in {__file__}"
        assert lever.description.endswith("."), name
        for key in lever.effect:  # the description documents every effect key
            assert re.search(f"`{key}[`:]", lever.description), (name, key)


def test_start_years_before_the_forecast_act_from_its_first_year_once_never_and_after_it_never():
    # a one-off change dated before the forecast is in the actual figures it starts from: it is
    # not applied again; a lasting one acts on the forecast years, and the log says which
    cut = mitigation("unit_cost_change", {"percent": -10}, ("a",), start="2019-20", name="Cut")
    transfer = mitigation("funding_change", {"amount_gbp": 1}, (), start="2020-21", name="Move")
    early = model()
    _, costs = resolve_levers([cut, transfer], early, YEARS)
    np.testing.assert_array_equal(costs.level[:, 0], [1, 1, 1])
    np.testing.assert_array_equal(costs.funding, [1, 1, 1])
    first = fy_of_census_year(BASE_YEAR + 1)
    assert early.notes == [
        "Cut: unit_cost_change in 2019-20, before the forecast, is in the actual figures it "
        "starts from: not applied again",
        f"Move: started in 2020-21, before the forecast; acts on the forecast years from {first}",
    ]
    _, costs = resolve(mitigation("unit_cost_change", {"percent": 50}, ("a",), start=first))
    np.testing.assert_array_equal(costs.level[:, 0], [1.5, 1, 1])  # once, in the first year
    beyond = model()
    caseload, late = resolve_levers(
        [
            mitigation("funding_change", {"amount_gbp": 1}, (), start="2029-30", name="Later"),
            mitigation("reduce_new_plans", {"percent": 50}, start="2029-30"),
        ],
        beyond,
        YEARS,
    )
    assert (late.funding == 0).all() and caseload.joiner_factor is None
    # its rows read £0: the log says why (it said nothing)
    assert beyond.notes[0] == (
        "Later: starts in 2029-30, after the forecast's last year (2028-29): no effect in it"
    )


def test_a_one_off_change_in_a_year_estimated_before_the_forecast_acts_from_its_first_year():
    """Refreshed between January and March, the costs are the last complete year's and the year
    between is carried as an estimate: a fee cut agreed in that year is in neither, so it is not
    dropped as "in the actual figures" but acts from the first forecast year."""
    first = fy_of_census_year(BASE_YEAR + 1)
    carried = fy_of_census_year(BASE_YEAR)
    actual = fy_of_census_year(BASE_YEAR - 1)
    cut = mitigation("unit_cost_change", {"percent": -10}, ("a",), start=carried, name="Cut")
    early = model()
    _, costs = resolve_levers([cut], early, YEARS, actual_until=actual)
    np.testing.assert_allclose(costs.level[:, 0], [0.9, 1, 1])
    assert early.notes == [
        f"Cut: unit_cost_change in {carried}, a year whose balance is estimated without it (the "
        f"finance extract does not hold it whole), acts from {first}"
    ]
    # with that year's ledger whole, it is in the actual unit costs
    _, costs = resolve_levers([cut], model(), YEARS, actual_until=carried)
    np.testing.assert_array_equal(costs.level[:, 0], [1, 1, 1])


def test_an_unknown_lever_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown lever 'fewer_plans'; levers: add_capacity"):
        resolve(mitigation("fewer_plans", {"percent": 5}))
    with pytest.raises(ValueError, match="unknown lever"):
        lever_named("fewer_plans")


@pytest.mark.parametrize(
    "lever, effect, kind",
    [
        ("reduce_new_plans", {"percent": 5}, "saving"),
        ("reduce_new_plans", {"percent": -5}, "cost"),  # more new plans: more spend
        ("shift_placements", {"to": "b", "share": 0.2}, "saving"),
        ("stop_flow", {"to": "b", "ages": [10, 10]}, "saving"),
        ("add_capacity", {"places": 10}, "saving"),
        ("unit_cost_growth", {"percentage_points": 1}, "cost"),
        ("unit_cost_growth", {"percentage_points": -1}, "saving"),
        ("unit_cost_change", {"percent": 5}, "cost"),
        ("unit_cost_change", {"percent": 0}, "saving"),
        ("central_spend_change", {"percent": 3}, "cost"),
        ("central_spend_change", {"percent": -3}, "saving"),
        ("funding_change", {"amount_gbp": -100}, "funding"),
    ],
)
def test_default_kind(lever, effect, kind):
    assert mitigation_kind(mitigation(lever, effect)) == kind
    assert mitigation_kind(mitigation(lever, effect, kind="cost")) == "cost"  # the file's word wins


SCHEMAS = {  # required effect keys; moves children; needs provision types; income; central
    "reduce_new_plans": (("percent",), True, True, False, False),
    "shift_placements": (("to", "share"), True, True, False, False),
    "stop_flow": (("to", "ages"), True, True, False, False),
    "add_capacity": (("places",), True, True, False, False),
    "unit_cost_growth": (("percentage_points",), False, True, False, False),
    "unit_cost_change": (("percent",), False, True, False, False),
    "central_spend_change": (("percent",), False, False, False, True),
    "funding_change": (("amount_gbp",), False, False, True, False),
}


@pytest.mark.parametrize("name", SCHEMAS)
def test_schemas(name):
    lever = LEVERS[name]
    assert (
        lever.required,
        lever.moves_caseload,
        lever.needs_provision_types,
        lever.income,
        lever.reaches_central,
    ) == SCHEMAS[name]


def test_a_lever_names_the_provision_types_its_effect_sends_children_to():
    assert LEVERS["stop_flow"].named_provision_types({"to": "b", "ages": [1, 2]}) == ["b"]
    assert LEVERS["shift_placements"].named_provision_types({"to": "c", "share": 1}) == ["c"]
    assert LEVERS["reduce_new_plans"].named_provision_types({"percent": 1, "to": "b"}) == []


@pytest.mark.parametrize(
    "lever, effect, problem",
    [
        (
            "reduce_new_plans",
            {"percent": 101},
            "effect percent must be between -100 and 100, not 101.0",
        ),
        ("reduce_new_plans", {"percent": "lots"}, "effect percent must be a number, not 'lots'"),
        (
            "reduce_new_plans",
            {"percent": 5, "ages": [11, 5]},
            "effect ages must be [low, high] with 0 ≤ low ≤ high ≤ 25, not [11, 5]",
        ),
        (
            "shift_placements",
            {"to": "b", "share": 1.5},
            "effect share must be between 0 and 1, not 1.5",
        ),
        (
            "shift_placements",
            {"to": "b", "share": 0.5, "flows": "all"},
            "effect flows must be new, moving or both, not 'all'",
        ),
        (
            "stop_flow",
            {"to": "b", "ages": [10, 26]},
            "effect ages must be [low, high] with 0 ≤ low ≤ high ≤ 25, not [10, 26]",
        ),
        (
            "stop_flow",
            {"to": "b", "ages": [10, 11], "share": -0.1},
            "effect share must be between 0 and 1, not -0.1",
        ),
        ("add_capacity", {"places": -1}, "effect places must be between 0 and 1000000.0, not -1.0"),
        (
            "unit_cost_growth",
            {"percentage_points": 60},
            "effect percentage_points must be between -50 and 50, not 60.0",
        ),
        (
            "unit_cost_change",
            {"percent": -51},
            "effect percent must be between -50 and 100, not -51.0",
        ),
        ("central_spend_change", {"percent": None}, "effect percent must be a number, not None"),
        (
            "funding_change",
            {"amount_gbp": "a lot"},
            "effect amount_gbp must be a number, not 'a lot'",
        ),
    ],
)
def test_effect_values_are_checked_by_their_lever(lever, effect, problem):
    assert LEVERS[lever].problem(effect) == problem


def test_good_effects_pass():
    for lever, effect in [
        ("reduce_new_plans", {"percent": -100, "ages": [0, 25]}),
        ("shift_placements", {"to": "b", "share": 0, "flows": "new"}),
        ("stop_flow", {"to": "b", "ages": [3, 3], "share": 1}),
        ("add_capacity", {"places": 0}),
        ("funding_change", {"amount_gbp": -1e9}),
    ]:
        assert LEVERS[lever].problem(effect) is None, lever


def entry(lever, effect, types="[a]", extra="", name="M"):
    return (
        f"  - name: {name}\n    lever: {lever}\n    provision_types: {types}\n"
        "    start_year: 2026-27\n    status: assessed\n    line_of_enquiry: sufficiency\n"
        f"    effect: {effect}\n{extra}"
    )


@pytest.mark.parametrize(
    "text, message",
    [
        (entry("shift_placements", "{share: 0.5}"), "lever shift_placements needs effect to"),
        (entry("stop_flow", "{to: b}"), "lever stop_flow needs effect ages"),
        (entry("stop_flow", "{to: z, ages: [1, 2]}"), r"unknown provision type\(s\) z"),
        (
            entry("unit_cost_change", "{percent: 5}", types="[]"),
            "lever unit_cost_change needs provision_types",
        ),
        (entry("add_capacity", "{places: 1e7}"), "places must be between 0 and 1000000.0"),
        (
            entry("unit_cost_change", "{percent: 5}", extra="    kind: funding\n"),
            "kind funding does not fit lever unit_cost_change: .*income",
        ),
        # a kind against the effect's sign would put spend in the assured savings
        (
            entry("unit_cost_change", "{percent: 5}", extra="    kind: saving\n"),
            r"kind saving does not fit its effect \(percent: 5\), which adds spend",
        ),
        (
            entry("reduce_new_plans", "{percent: 10}", extra="    kind: cost\n"),
            "kind cost does not fit its effect .* which avoids spend",
        ),
        # a provision type twice would compound a lever that loops over them
        (entry("reduce_new_plans", "{percent: 10}", types="[a, b, a]"), "a listed twice"),
        # a misspelt optional key would leave its default (every age) in force
        (
            entry("reduce_new_plans", "{percent: 10, age: [5, 10]}"),
            "lever reduce_new_plans takes no effect age; its effect keys: percent, ages",
        ),
        (entry("funding_change", "{amount_gbp: .nan}", types="[]"), "must be a finite number"),
        (entry("funding_change", "{amount_gbp: .inf}", types="[]"), "must be a finite number"),
        (entry("reduce_new_plans", "{percent: true}"), "percent must be a number, not True"),
        # a list or a target the lever would ignore reads as an effect it does not have
        (
            entry("central_spend_change", "{percent: -5}", types="[a]"),
            "lever central_spend_change takes no provision_types",
        ),
        (entry("shift_placements", "{to: a, share: 0.1}"), "moves children from a to a"),
        # true is not age 1, and a cost is £ a year: not a negative one, not NaN
        (
            entry("reduce_new_plans", "{percent: 10, ages: [true, 5]}"),
            r"ages must be \[low, high\]",
        ),
        (
            entry("reduce_new_plans", "{percent: 10}", extra="    cost_gbp: -5\n"),
            "cost_gbp must be £ a year",
        ),
        (
            entry("reduce_new_plans", "{percent: 10}", extra="    cost_gbp: .nan\n"),
            "cost_gbp must be £ a year",
        ),
        (
            entry("unit_cost_change", "{percent: -5}", name="Banding")
            + entry("reduce_new_plans", "{percent: 5}", name="Banding"),
            "mitigations 1 and 2 are both named 'Banding'",
        ),
        # a share typed for a percentage: 10 % applied as 0.1 %
        (
            entry("reduce_new_plans", "{percent: 0.1}"),
            r"effect percent is 0.1: a percentage \(10 for 10%\)",
        ),
        (entry("unit_cost_change", "{percent: -0.1}"), "effect percent is -0.1: a percentage"),
        (entry("central_spend_change", "{percent: 0.05}"), "effect percent is 0.05"),
        # a share typed for points: two points slower applied as 0.02 of a point
        (
            entry("unit_cost_growth", "{percentage_points: -0.02}"),
            r"effect percentage_points is -0.02: percentage points \(-2 for growth 2 points "
            r"slower a year\)",
        ),
        # -100 priced the type's places at £0, its children still placed there: a £38.7m deficit
        # read as a £9.2m surplus
        (
            entry("unit_cost_change", "{percent: -100}"),
            "percent must be between -50 and 100, not -100",
        ),
        # one-off changes compound: two cuts of 40 % are a cut of 64 %
        (
            entry("unit_cost_change", "{percent: -40}", name="A")
            + entry("unit_cost_change", "{percent: -40}", name="B"),
            r"mitigations 'A', 'B' \(unit_cost_change\) come to percent -64 on a from 2026-27 "
            r"in the mitigated scenario: together they must stay between -50 and 100, as one "
            r"does \(their effects compound\)",
        ),
        # two lines of the log a reader cannot tell apart
        (
            entry("unit_cost_change", "{percent: -5}", name="Banding")
            + entry("reduce_new_plans", "{percent: 5}", name="banding"),
            "mitigations 1 and 2 are both named 'Banding' and 'banding'",
        ),
        # a misspelt second block, or notes beside the list, were read as nothing
        (
            entry("reduce_new_plans", "{percent: 5}") + "mitigatons:\n  - name: Other\n",
            r"unknown top-level key\(s\) mitigatons; the file holds one 'mitigations:' list",
        ),
    ],
)
def test_the_mitigations_file_is_checked_against_the_lever(tmp_path, text, message):
    path = tmp_path / "m.yml"
    path.write_text("mitigations:\n" + text)
    with pytest.raises(MitigationsError, match=message):
        load_mitigations(path, TYPES)


def test_levers_without_provision_types_load_without_them(tmp_path):
    path = tmp_path / "m.yml"
    path.write_text(
        "mitigations:\n"
        + entry("central_spend_change", "{percent: -5}", types="[]")
        + entry(
            "funding_change",
            "{amount_gbp: 100000}",
            types="[]",
            extra="    kind: funding\n",
            name="Block transfer",
        )
    )
    central, funding = load_mitigations(path, TYPES)
    assert (central.lever, mitigation_kind(central)) == ("central_spend_change", "saving")
    assert (funding.kind, funding.effect) == ("funding", {"amount_gbp": 100000})


def test_what_each_lever_reaches():
    plain = model()  # every type can move to every other in this model

    def unreached(cohort_model, lever, effect, types=("b",)):
        return unreached_provisions(cohort_model, [mitigation(lever, effect, types)])

    assert unreached(plain, "unit_cost_change", {"percent": 5}) == ["a", "c", "central"]
    assert unreached(plain, "central_spend_change", {"percent": 5}, ()) == ["a", "b", "c"]
    assert unreached(plain, "funding_change", {"amount_gbp": 1}, ()) == ["a", "b", "c", "central"]
    # a caseload lever reaches the type it sends children to and every type they move on to
    assert unreached(plain, "shift_placements", {"to": "b", "share": 1}, ("a",)) == ["central"]
    still = model()
    still.move_alpha = np.broadcast_to(np.eye(P), (A, P, P)).copy()  # nobody changes type
    assert unreached(still, "stop_flow", {"to": "c", "ages": [1, 2]}, ("a",)) == ["b", "central"]


# --- adding a lever: one class, registered, and the rest of the forecast uses it -------------


@pytest.fixture
def close_unit():
    """A lever defined in a test, as a new module under forecast/levers/ would define it."""

    @register
    class CloseUnit(Lever):
        name = "close_unit"
        description = "No child joins the provision types from the start year; `notice` is ignored."
        effect = schema(notice=Number(0, 12, required=False, default=3))

        def apply(self, m, first, levers):
            factor = levers.joiner_factor()
            factor[first:, :, levers.columns(m.provision_types)] = 0.0

    yield LEVERS["close_unit"]
    del LEVERS["close_unit"]


def test_a_new_lever_needs_nothing_but_its_class(close_unit, tmp_path):
    path = tmp_path / "m.yml"
    path.write_text("mitigations:\n" + entry("close_unit", "{}", types="[c]"))
    (loaded,) = load_mitigations(path, TYPES)
    caseload, _ = resolve(loaded)
    factor = caseload.joiner_factor
    assert (factor[:, :, 2] == 0).all() and (factor[:, :, :2] == 1).all()
    assert mitigation_kind(loaded) == "saving"
    path.write_text("mitigations:\n" + entry("close_unit", "{notice: 24}", types="[c]"))
    with pytest.raises(MitigationsError, match="notice must be between 0 and 12"):
        load_mitigations(path, TYPES)


def test_a_lever_must_say_what_it_does():
    with pytest.raises(TypeError, match="has no description"):

        @register
        class Silent(Lever):
            name = "silent"
            effect = schema()

            def apply(self, m, first, levers):
                pass

    with pytest.raises(ValueError, match="two levers named funding_change"):

        @register
        class Twin(Lever):
            name = "funding_change"
            description = "Another."
            effect = schema()

            def apply(self, m, first, levers):
                pass

    assert "silent" not in LEVERS and type(LEVERS["funding_change"]).__name__ == "FundingChange"


def test_every_module_in_the_package_registers_its_lever():
    folder = Path(forecast.levers.__file__).parent
    modules = {path.stem for path in folder.glob("*.py")} - {"__init__", "base"}
    assert modules == set(LEVERS)


def test_a_council_s_own_log_may_be_spelt_yaml_and_the_row_naming_it_says_whose_it_is(tmp_path):
    """`mitigations.yaml` in a council's folder was passed over without a word, and the shipped
    example applied to its mitigated scenario; forecast.assumptions now names the log applied."""
    from forecast.mitigations import (
        EXAMPLE_MITIGATIONS,
        EXAMPLE_SOURCE,
        council_mitigations_file,
        log_assumption,
    )

    shared = tmp_path / "shared.yml"
    assert council_mitigations_file(tmp_path, shared) == shared
    own = tmp_path / "mitigations.yaml"
    own.write_text("mitigations: []\n")
    assert council_mitigations_file(tmp_path, shared) == own
    (tmp_path / "mitigations.yml").write_text("mitigations: []\n")
    with pytest.raises(
        MitigationsError, match="both mitigations.yml and mitigations.yaml are there"
    ):
        council_mitigations_file(tmp_path, shared)
    assert council_mitigations_file(None, shared) == shared

    example = load_mitigations(EXAMPLE_MITIGATIONS)
    row = log_assumption(EXAMPLE_MITIGATIONS, example)
    assert (row["assumption"], row["value"], row["source"]) == (
        "mitigation_log",
        float(len(example)),
        EXAMPLE_SOURCE,
    )
    assert log_assumption(own, [])["source"] == str(own)
    # a council's own log by its name alone: its figures in a region's warehouse are those of a
    # refresh of its folder alone, wherever that folder is
    assert log_assumption(own, [], own=True)["source"] == (
        "the council's own log (mitigations.yaml in its landing folder)"
    )
