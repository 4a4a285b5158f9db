"""A forecast settings file may extend another, overriding only what it names."""

from pathlib import Path

import pytest

from forecast.settings import ForecastSettingsError, load_forecast_settings

DEFAULTS = Path(__file__).resolve().parents[2] / "forecast" / "config" / "forecast.yml"


def test_a_file_extending_the_defaults_changes_only_what_it_names(tmp_path):
    own = tmp_path / "council.yml"
    own.write_text(
        f"extends: {DEFAULTS}\ncapacity: {{mss: 300}}\noverflow: {{mss: inmss}}\n"
        "cohort: {trend_years: 4}\ncosts: {pay_inflation: 0.04}\n"
    )
    base, extended = load_forecast_settings(DEFAULTS), load_forecast_settings(own)
    assert extended.capacity == {"mss": 300.0} and extended.overflow == {"mss": "inmss"}
    assert extended.cohort.trend_years == 4 and extended.cohort.damping == base.cohort.damping
    assert extended.costs.pay_inflation == 0.04 and extended.costs.pay_share == base.costs.pay_share
    assert (extended.horizon, extended.seed, extended.sensitivity) == (
        base.horizon,
        base.seed,
        base.sensitivity,
    )


def test_the_demo_settings_are_the_defaults_with_special_school_places():
    demo = load_forecast_settings(DEFAULTS.with_name("demo.forecast.yml"))
    base = load_forecast_settings(DEFAULTS)
    assert demo.capacity == {"mss": 520.0} and demo.overflow == {"mss": "inmss"}
    assert (demo.cohort, demo.costs, demo.horizon) == (base.cohort, base.costs, base.horizon)


def test_a_file_extending_itself_or_a_missing_file_is_a_clear_error(tmp_path):
    loop = tmp_path / "a.yml"
    loop.write_text("extends: b.yml\n")
    (tmp_path / "b.yml").write_text("extends: a.yml\n")
    with pytest.raises(ForecastSettingsError, match="extends it back"):
        load_forecast_settings(loop)
    missing = tmp_path / "c.yml"
    missing.write_text("extends: nowhere.yml\n")
    # naming the file that names it (it named the missing file alone)
    with pytest.raises(ForecastSettingsError, match=r"c.yml: extends .*nowhere.yml, which is not"):
        load_forecast_settings(missing)


@pytest.mark.parametrize(
    "text, message",
    [
        # a cap with nowhere for the children beyond it would not be applied at all
        ("capacity: {mss: 520}\n", "caps mss at 520 places but overflow names no other"),
        ("capacity: {mss: 520}\noverflow: {mss: mss}\n", "caps mss at 520 places"),
        # the simulation moves the excess once: a capped overflow would end over its own cap
        (
            "capacity: {mss: 520, inmss: 100}\noverflow: {mss: inmss, inmss: other}\n",
            "sends mss's children beyond capacity to inmss, which is capped too",
        ),
        ("overflow: {mss: inmss}\n", "overflow for mss without a capacity"),
        ("capacity: {mss: -1}\noverflow: {mss: inmss}\n", "must be a number of places"),
        # said only "could not convert string to float: '520 places'"
        (
            "capacity: {mss: 520 places}\noverflow: {mss: inmss}\n",
            "capacity of mss must be a number of places, not '520 places'",
        ),
        ("horizon: 2028-29\nrecover_by: 2030-31\n", r"recover_by \(2030-31\) is after the horizon"),
    ],
)
def test_settings_the_forecast_could_not_honour_are_refused(tmp_path, text, message):
    own = tmp_path / "council.yml"
    own.write_text(f"extends: {DEFAULTS}\n{text}")
    with pytest.raises(ForecastSettingsError, match=message):
        load_forecast_settings(own)


def test_the_environments_horizon_moves_recover_by_only_where_the_file_left_it(tmp_path):
    """HIGHNEEDS_HORIZON replaced a recover_by the council's file set (2027-28 became 2029-30,
    and the saving a year to recover was sized to the wrong year, green)."""
    from dagster_project.settings import _forecast_settings

    own = tmp_path / "own.forecast.yml"
    own.write_text(f"extends: {DEFAULTS}\nrecover_by: 2027-28\n")
    assert _forecast_settings(own, {}).recover_by == "2027-28"
    assert _forecast_settings(own, {"HIGHNEEDS_HORIZON": "2029-30"}).recover_by == "2027-28"
    moved = _forecast_settings(
        own, {"HIGHNEEDS_HORIZON": "2029-30", "HIGHNEEDS_RECOVER_BY": "2029-30"}
    )
    assert moved.recover_by == "2029-30"
    # the defaults leave recover_by to the horizon, wherever it is set
    assert _forecast_settings(DEFAULTS, {}).recover_by == "2028-29"
    assert _forecast_settings(DEFAULTS, {"HIGHNEEDS_HORIZON": "2029-30"}).recover_by == "2029-30"


def test_a_year_written_another_way_is_the_year_the_forecast_labels(tmp_path):
    """HIGHNEEDS_HORIZON=2028/29 passed validation and was kept as written: the forecast's years
    are labelled 2028-29, so the refresh's summary failed on KeyError '2028/29'."""
    from dagster_project.settings import _forecast_settings

    own = tmp_path / "own.forecast.yml"
    own.write_text(f"extends: {DEFAULTS}\nrecover_by: 2028/2029\n")
    settings = _forecast_settings(own, {"HIGHNEEDS_HORIZON": "2029/30"})
    assert (settings.horizon, settings.recover_by) == ("2029-30", "2028-29")
    assert _forecast_settings(own, {"HIGHNEEDS_RECOVER_BY": "2028 / 29"}).recover_by == "2028-29"


@pytest.mark.parametrize(
    "text, message",
    [
        # each of these published a forecast nobody meant with every gate green: a trend over
        # no years made no new plans at all (the 2028-29 balance moved from −£19.8m to +£18.1m),
        # bounds the wrong way round set every type's real growth to −5 %, 3 for 3 % grew
        # funding 300 % a year
        ("cohort: {trend_years: 0}\n", r"cohort.trend_years must be a number of years \(2 or"),
        ("cohort: {trend_years: 2.5}\n", "cohort.trend_years must be"),
        ("cohort: {trend_years: 5.0}\n", "cohort.trend_years must be"),  # a float index
        ("cohort: {recency: '0.9'}\n", "cohort.recency must be a weight"),
        ("seed: -1\n", "seed must be a whole number 0 or more"),
        ("costs: {real_growth_bounds: [0.10, -0.05]}\n", "real_growth_bounds must be"),
        ("costs: {real_growth_bounds: [0.1]}\n", "real_growth_bounds must be"),
        ("costs: {unit_cost_years: 0}\n", "costs.unit_cost_years must be"),
        ("costs: {unit_cost_years: -2}\n", "costs.unit_cost_years must be"),
        ("costs: {funding_growth: 3}\n", r"costs.funding_growth must be a rate a year .* not 3"),
        # 0.5 is a typed 50 %: funding or inflation that no year has seen
        ("costs: {funding_growth: 0.5}\n", r"funding_growth must be .* -0.2 to 0.2 .* not 0.5"),
        ("costs: {pay_inflation: 0.3}\n", r"pay_inflation must be .* -0.05 to 0.15"),
        ("costs: {historical_inflation: -0.1}\n", r"historical_inflation must be"),
        ("simulations: 1000000\n", r"simulations must be from 500 .* to 20,000 .* not 1000000"),
        ("simulations: 100\n", r"simulations must be from 500"),
        ("costs: {pay_share: 1.5}\n", "costs.pay_share must be a share"),
        ("costs: {pay_inflation: '3%'}\n", "costs.pay_inflation must be a rate"),
        ("costs: {pay_inflation: .nan}\n", "costs.pay_inflation must be a rate"),
        ("cohort: {prior_strength: -5}\n", "cohort.prior_strength must be"),
        ("cohort: {own_growth_se: x}\n", "cohort.own_growth_se must be"),
        ("cohort: {pool_with_published: 'no'}\n", "pool_with_published must be true or false"),
        ("sensitivity: {funding_growth: {high: 7}}\n", "sensitivity.funding_growth.high must"),
        ("sensitivity: {unit_cost_inflation: {high: 0.3}}\n", r"inflation.high must be from -0.05"),
        # joiners are in per cent: 0.1 is a fraction typed for +10 %
        ("sensitivity: {joiners_percent: {high: 0.1}}\n", "at least 1 either way\\), not 0.1"),
        # the ceiling is per 1,000 of the population projection: without one it did nothing,
        # while forecast.assumptions said it applied
        ("prevalence_ceiling: 60\n", "prevalence_ceiling is set but population is not"),
        ("simulations: many\n", r"council.yml: simulations must be a whole number, not 'many'"),
        ("capacity: [mss]\n", "council.yml: capacity must map provision types to values"),
        # a misspelt key was a Python argument error; a type no plan has capped nothing
        ("cohort: {trend_year: 4}\n", r"unknown cohort setting\(s\) trend_year; known: damping"),
        ("sensitivity: {joiner_percent: {a: 5}}\n", "unknown sensitivity setting"),
        ("cohort: 5\n", r"cohort must be settings \(key: value\), not 5"),
        ("capacity: {special: 300}\noverflow: {special: inmss}\n", "capacity names special, not"),
        ("capacity: {mss: 300}\noverflow: {mss: indep}\n", "overflow names indep, not a placement"),
    ],
)
def test_a_setting_out_of_range_or_of_the_wrong_kind_names_itself(tmp_path, text, message):
    own = tmp_path / "council.yml"
    own.write_text(f"extends: {DEFAULTS}\n{text}")
    with pytest.raises(ForecastSettingsError, match=message):
        load_forecast_settings(own)


def test_the_shipped_settings_files_pass_their_own_checks():
    for path in DEFAULTS.parent.glob("*.yml"):
        if "mitigation" not in path.name:
            load_forecast_settings(path)


def test_a_population_projection_reads_as_census_year_by_age(tmp_path):
    from forecast.settings import read_population

    path = tmp_path / "population.csv"
    path.write_text('Year,Age,Population\n2025,4,"1,200"\n2025,5,1100\n2026,4,1250\n2026,5,1150\n')
    frame = read_population(path)
    # the 2025 mid-year is the population at the January 2026 census
    assert list(frame.index) == [2026, 2027] and list(frame.columns) == [4, 5]
    assert frame.loc[2026, 4] == 1200.0 and frame.loc[2027, 5] == 1150.0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        # an ONS export's persons/male/female rows would be summed threefold
        ("year,age,sex,population\n2025,4,persons,10\n", "no others"),
        ("year,age,population\n", "has no rows"),
        ("year,age,population\n2025,4,10\n2025,4,12\n", ":3: mid-year 2025, age 4 is given twice"),
        ("year,age,population\n2025,4,-5\n", ":2: population '-5' is not a number of people"),
        ("year,age,population\n2025,4,nan\n", ":2: population 'nan' is not a number of people"),
        ("year,age,population\n2025,4,1,200\n", ":2: not three fields"),
        ("year,age,population\n2025,4\n", ":2: not three fields"),
        ("year,age,population\n2025,four,10\n", ":2: year, age and population must be numbers"),
        (
            "year,age,population\n2025,4,10\n2025,5,10\n2026,4,10\n",
            "mid-year 2026 has no row for age\\(s\\) 5",
        ),
    ],
)
def test_a_population_projection_that_would_misstate_joiners_is_refused(tmp_path, body, message):
    from forecast.settings import read_population

    path = tmp_path / "population.csv"
    path.write_text(body)
    with pytest.raises(ForecastSettingsError, match=message):
        read_population(path)


def test_a_cost_changed_without_a_source_does_not_quote_the_one_it_replaced(tmp_path):
    own = tmp_path / "council.yml"
    own.write_text(f"extends: {DEFAULTS}\ncosts: {{pay_inflation: 0.05}}\n")
    base, changed = load_forecast_settings(DEFAULTS), load_forecast_settings(own)
    assert changed.costs.pay_inflation_source == "set in council.yml without a source"
    # what the file did not change keeps its source; a source given is kept
    assert changed.costs.price_inflation_source == base.costs.price_inflation_source
    own.write_text(
        f"extends: {DEFAULTS}\ncosts: {{pay_inflation: 0.05, pay_inflation_source: our award}}\n"
    )
    assert load_forecast_settings(own).costs.pay_inflation_source == "our award"
    alone = tmp_path / "alone.yml"
    alone.write_text("costs: {funding_growth: 0.01}\n")
    assert load_forecast_settings(alone).costs.funding_growth_source == (
        "set in alone.yml without a source"
    )
    # the settings file copied whole, as its header says, a value changed and its source left:
    # 5 % funding growth was shown with the source of the 3 % it replaced
    copied = tmp_path / "copied.yml"
    copied.write_text(
        DEFAULTS.read_text().replace("  funding_growth: 0.03\n", "  funding_growth: 0.05\n", 1)
    )
    settings = load_forecast_settings(copied).costs
    assert settings.funding_growth == 0.05
    assert settings.funding_growth_source == (
        "set in copied.yml beside the source of the default (0.03), not of this value"
    )
    assert settings.pay_inflation_source == base.costs.pay_inflation_source  # unchanged
