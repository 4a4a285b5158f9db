"""Forecast settings: defaults in code, a council's own values in a reviewed YAML file.

`forecast/config/forecast.yml` is the shipped file (every setting at its default, with why);
point HIGHNEEDS_FORECAST_SETTINGS at your own copy. The horizon, target year and number of
simulations can also come from the environment (HIGHNEEDS_HORIZON, HIGHNEEDS_RECOVER_BY,
HIGHNEEDS_SIMULATIONS), which wins over the file.

Population projection (optional, `population:` in the file): a CSV with columns `year, age,
population` — the ONS mid-year projection a council already uses, ages 0–25. The mid-year
population of year Y is used for the January census of year Y + 1 (the children of academic
year Y/Y + 1, by their age at 31 August Y).
"""

from __future__ import annotations

import contextlib
import csv
import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from ingest.yaml_file import load_yaml

from .cohort import CohortSettings
from .costs import CostSettings
from .years import fy_label, fy_start

CONFIG_DIR = Path(__file__).resolve().parent / "config"
DEFAULT_SETTINGS_FILE = CONFIG_DIR / "forecast.yml"


def _funding_variants() -> dict[str, float]:
    return {"flat cash": 0.0, "low": 0.015, "high": 0.07}


def _inflation_variants() -> dict[str, float]:
    return {"low": 0.015, "high": 0.05}


def _historical_inflation_variants() -> dict[str, float]:
    # the CPI a three-year window of past unit costs could have held: ONS annual averages 2.7 %,
    # 2.5 %, 1.8 % (2017-2019); 9.1 %, 7.3 %, 2.5 % (2022-2024)
    return {"low": 0.02, "high": 0.06}


def _joiner_variants() -> dict[str, float]:
    return {"low": -10.0, "high": 10.0}


@dataclass(frozen=True)
class SensitivitySettings:
    """The assumptions that move the balance most, each run at other values (unmitigated)."""

    # a year, after the budget file
    funding_growth: dict[str, float] = field(default_factory=_funding_variants)
    # cash, a year, pay and prices
    unit_cost_inflation: dict[str, float] = field(default_factory=_inflation_variants)
    # change to every year's joiners
    joiners_percent: dict[str, float] = field(default_factory=_joiner_variants)
    # the inflation taken off past unit-cost growth (costs.historical_inflation): one rate for
    # whatever years the growth was measured over, so what is read as growth above inflation,
    # and compounded to the horizon, rests on it
    historical_inflation: dict[str, float] = field(default_factory=_historical_inflation_variants)


class ForecastSettingsError(ValueError):
    """The forecast settings file is invalid; the message names the file and the setting."""


@dataclass(frozen=True)
class ForecastSettings:
    horizon: str = "2028-29"
    recover_by: str = "2028-29"
    simulations: int = 1000
    seed: int = 20260401
    quantiles: tuple[float, float, float] = (0.1, 0.5, 0.9)
    cohort: CohortSettings = field(default_factory=CohortSettings)
    costs: CostSettings = field(default_factory=CostSettings)
    sensitivity: SensitivitySettings = field(default_factory=SensitivitySettings)
    capacity: dict[str, float] = field(default_factory=dict)
    overflow: dict[str, str] = field(default_factory=dict)
    prevalence_ceiling: float | None = None  # plans per 1,000 population aged 0–25
    population_file: Path | None = None
    # whether the file (or one it extends) set recover_by: a horizon set from the environment
    # moves recover_by with it only when the file left it to the horizon
    recover_by_given: bool = False

    def __post_init__(self) -> None:
        # one spelling of a year (2028-29, not 2028/29 or 2028-2029): the labels are matched
        # against the forecast's years, and `2028/29` passed validation then matched none
        for name in ("horizon", "recover_by"):
            with contextlib.suppress(ValueError):  # validate() names the setting and the value
                object.__setattr__(self, name, fy_label(fy_start(str(getattr(self, name)))))

    def with_overrides(self, **values) -> ForecastSettings:
        return replace(self, **{k: v for k, v in values.items() if v is not None})


KNOWN = {
    "horizon",
    "recover_by",
    "simulations",
    "seed",
    "cohort",
    "costs",
    "capacity",
    "overflow",
    "prevalence_ceiling",
    "population",
    "sensitivity",
}
NESTED = ("cohort", "costs", "sensitivity")  # merged key by key over the file extended


def _read_document(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """The settings file as a mapping; with `extends: <file>` (relative to it), that file's
    settings with this one's over them (cohort, costs and sensitivity merged key by key)."""
    try:
        document = load_yaml(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ForecastSettingsError(
            f"{path}: cannot read the forecast settings ({error})"
        ) from error
    if not isinstance(document, dict):
        raise ForecastSettingsError(
            f"{path}: expected settings (key: value), not {type(document).__name__}"
        )
    unknown = set(document) - KNOWN - {"extends"}
    if unknown:
        raise ForecastSettingsError(
            f"{path}: unknown setting(s) {', '.join(sorted(unknown))}; known: "
            f"{', '.join(sorted(KNOWN))}"
        )
    if "extends" not in document:
        return document
    base_path = (path.parent / str(document.pop("extends"))).resolve()
    if base_path in seen:
        raise ForecastSettingsError(f"{path}: extends {base_path}, which extends it back")
    if not base_path.is_file():
        # (read as the missing file's own error, it did not say which file named it)
        raise ForecastSettingsError(
            f"{path}: extends {base_path}, which is not a file (a path relative to {path.name}'s "
            "folder)"
        )
    base = _read_document(base_path, (*seen, path.resolve()))
    if "population" in base and "population" not in document:  # relative to the file that names it
        base["population"] = str((base_path.parent / base["population"]).resolve())
    merged = {**base, **document}
    for name in NESTED:
        if isinstance(base.get(name), dict) and isinstance(document.get(name), dict):
            merged[name] = {**base[name], **document[name]}
            for key in document[name]:  # a value changed here is not the file extended's source
                if f"{key}_source" not in document[name]:
                    merged[name].pop(f"{key}_source", None)
    return merged


def _unsourced(costs: dict, path: Path) -> dict:
    """A cost setting changed without its `_source` says so, rather than quoting the source
    of a value it replaced (the report's assumptions table shows it beside the figure). So does
    one changed beside the shipped source left as it was: the settings file's header says to copy
    it whole, and 5 % funding growth was shown with the source of the 3 % it replaced."""
    for field_ in fields(CostSettings):
        value_name = field_.name.removesuffix("_source")
        if field_.name == value_name or value_name not in costs:
            continue
        default_source = getattr(CostSettings, field_.name, None)
        if field_.name in costs and costs[field_.name] != default_source:
            continue  # a source of its own
        if costs[value_name] != getattr(CostSettings, value_name, None):
            costs[field_.name] = (
                f"set in {path.name} without a source"
                if field_.name not in costs
                else f"set in {path.name} beside the source of the default "
                f"({getattr(CostSettings, value_name, None)}), not of this value"
            )
    return costs


def load_forecast_settings(path: Path | None = None) -> ForecastSettings:
    path = path or DEFAULT_SETTINGS_FILE
    document = _read_document(path)
    for name, kind in zip(NESTED, (CohortSettings, CostSettings, SensitivitySettings), strict=True):
        _known_keys(document.get(name), name, {f.name for f in fields(kind)}, path)
    try:
        cohort = CohortSettings(**(document.get("cohort") or {}))
        costs_values = _unsourced(dict(document.get("costs") or {}), path)
        if "real_growth_bounds" in costs_values:
            costs_values["real_growth_bounds"] = tuple(costs_values["real_growth_bounds"])
        if "new_provision_unit_costs" in costs_values:
            costs_values["new_provision_unit_costs"] = _unit_costs(
                costs_values["new_provision_unit_costs"], path
            )
        costs = CostSettings(**costs_values)
        sensitivity = SensitivitySettings(
            **{
                name: {str(k): float(v) for k, v in (values or {}).items()}
                for name, values in (document.get("sensitivity") or {}).items()
            }
        )
    except (TypeError, ValueError, AttributeError) as error:
        raise ForecastSettingsError(f"{path}: {error}") from error
    population = document.get("population")
    try:
        settings = ForecastSettings(
            horizon=str(document.get("horizon", ForecastSettings.horizon)),
            recover_by=str(
                document.get("recover_by", document.get("horizon", ForecastSettings.recover_by))
            ),
            simulations=_whole(
                document.get("simulations", ForecastSettings.simulations), "simulations"
            ),
            seed=_whole(document.get("seed", ForecastSettings.seed), "seed"),
            cohort=cohort,
            costs=costs,
            sensitivity=sensitivity,
            capacity={
                str(k): _places(k, v)
                for k, v in _mapping(document.get("capacity"), "capacity").items()
            },
            overflow={
                str(k): str(v) for k, v in _mapping(document.get("overflow"), "overflow").items()
            },
            prevalence_ceiling=document.get("prevalence_ceiling"),
            population_file=(path.parent / population).resolve() if population else None,
            recover_by_given="recover_by" in document,
        )
    except (TypeError, ValueError, AttributeError) as error:
        raise ForecastSettingsError(f"{path}: {error}") from error
    validate(settings, path)
    return settings


def _places(provision: object, value: object) -> float:
    """A capacity's places, named by its key when it is not a number (`520 places` had said
    only that a string could not be converted to a float)."""
    try:
        if isinstance(value, bool):
            raise TypeError
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"capacity of {provision} must be a number of places, not {value!r}"
        ) from None


def _known_keys(values: object, section: str, known: set[str], where: Path) -> None:
    """A section is a mapping of settings it knows: a misspelt key (trend_year) named with the
    section's settings, not as a Python argument error."""
    if values is None:
        return
    if not isinstance(values, dict):
        raise ForecastSettingsError(
            f"{where}: {section} must be settings (key: value), not {values!r}"
        )
    unknown = sorted(str(k) for k in set(values) - known)
    if unknown:
        raise ForecastSettingsError(
            f"{where}: unknown {section} setting(s) {', '.join(unknown)}; known: "
            f"{', '.join(sorted(known))}"
        )


def _unit_costs(values: object, where: Path) -> dict[str, float]:
    """costs.new_provision_unit_costs: provision type → £ a full-time place a year (≥ 0)."""
    from ingest.provision_types import DFE_PLACEMENT_CATEGORY

    if not isinstance(values, dict):
        raise ForecastSettingsError(
            f"{where}: costs.new_provision_unit_costs must map provision types to £ a year "
            f"(e.g. {{mainstream_rp_unit: 16000}}), not {values!r}"
        )
    costs = {}
    for provision, amount in values.items():
        if str(provision) not in DFE_PLACEMENT_CATEGORY or provision == "central":
            raise ForecastSettingsError(
                f"{where}: costs.new_provision_unit_costs names {provision!r}, not a placement "
                f"provision type ({', '.join(p for p in DFE_PLACEMENT_CATEGORY if p != 'central')})"
            )
        try:
            number = float(amount)
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number) or number < 0:
            raise ForecastSettingsError(
                f"{where}: costs.new_provision_unit_costs.{provision} must be £ a year (0 or "
                f"more), not {amount!r}"
            )
        costs[str(provision)] = number
    return costs


def _whole(value: object, name: str) -> int:
    """A whole number from the file (a YAML int, or a string of one), refusing 2.5 and True."""
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number, not {value!r}") from None


def _mapping(value: object, name: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{name} must map provision types to values, not {value!r}")
    return value


# A rate a year is a fraction (0.03 for 3 %): one beyond ±50 % a year is a slip (3 for 3 %).
_RATE = (-0.5, 0.5)
# inflation a year as the UK has known it (CPI peaked at 11.1 % in 2022): 0.5 is a typed 50 %
_INFLATION = (-0.05, 0.15)
# high needs funding a year: the largest national rise was about 12 % (2022-23)
_FUNDING = (-0.2, 0.2)
# paths × every council × years × provision types are held at once: 100,000 to 2050 is ~15 GB
MAX_SIMULATIONS = 20_000


def _rate_within(bounds: tuple[float, float], example: str = "") -> str:
    return f"a rate a year as a fraction, {bounds[0]:g} to {bounds[1]:g}{example}"


# (section, setting): (lowest, highest, whole number, what it is), each bound inclusive
_LIMITS: dict[tuple[str, str], tuple[float, float, bool, str]] = {
    ("cohort", "recency"): (1e-9, 1, False, "a weight a year back, more than 0 and at most 1"),
    ("cohort", "damping"): (1e-9, 1, False, "a damping a year, more than 0 and at most 1"),
    ("cohort", "prior_strength"): (0, math.inf, False, "a number of children (0 or more)"),
    ("cohort", "max_effective_children"): (1, math.inf, False, "a number of children (1 or more)"),
    ("cohort", "trend_years"): (2, 50, True, "a number of years (2 or more: a trend needs two)"),
    ("cohort", "min_years"): (1, 50, True, "a number of years (1 or more)"),
    ("cohort", "min_trend_se"): (0, 1, False, "a spread a year as a fraction (0 to 1)"),
    ("cohort", "own_growth_se"): (0, 1, False, "a spread a year as a fraction (0 to 1)"),
    ("costs", "unit_cost_years"): (1, 50, True, "a number of years (1 or more)"),
    ("costs", "pay_inflation"): (*_INFLATION, False, _rate_within(_INFLATION, " (0.03 for 3%)")),
    ("costs", "price_inflation"): (*_INFLATION, False, _rate_within(_INFLATION, " (0.02 for 2%)")),
    ("costs", "historical_inflation"): (*_INFLATION, False, _rate_within(_INFLATION)),
    ("costs", "funding_growth"): (*_FUNDING, False, _rate_within(_FUNDING, " (0.03 for 3%)")),
    ("costs", "pay_share"): (0, 1, False, "a share from 0 to 1 (0.7 for 70%)"),
}


def _check_values(settings: ForecastSettings, where: Path | str) -> None:
    """Every number in range and of its kind, every switch a true/false: a rate typed as a
    percentage (3 for 3 %), a trend over no years or bounds the wrong way round would otherwise
    publish a forecast nobody meant."""
    for (section, name), (low, high, whole, what) in _LIMITS.items():
        value = getattr(getattr(settings, section), name)
        if section == "costs" and name == "funding_growth" and value is None:
            continue  # null: the budget file's own growth
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not low <= value <= high
            or (whole and not isinstance(value, int))
        ):
            raise ForecastSettingsError(f"{where}: {section}.{name} must be {what}, not {value!r}")
    if not isinstance(settings.cohort.pool_with_published, bool):
        raise ForecastSettingsError(
            f"{where}: cohort.pool_with_published must be true or false, not "
            f"{settings.cohort.pool_with_published!r}"
        )
    bounds = settings.costs.real_growth_bounds
    if (
        len(bounds) != 2
        or any(isinstance(b, bool) or not isinstance(b, int | float) for b in bounds)
        or not all(math.isfinite(b) and _RATE[0] <= b <= _RATE[1] for b in bounds)
        or not bounds[0] < bounds[1]
    ):
        raise ForecastSettingsError(
            f"{where}: costs.real_growth_bounds must be [lowest, highest] real growth a year as "
            f"fractions, lowest first (e.g. [-0.05, 0.10]), not {list(bounds)!r}"
        )
    ranges = {
        "funding_growth": (_FUNDING, "a rate a year as a fraction"),
        "unit_cost_inflation": (_INFLATION, "a rate a year as a fraction"),
        "joiners_percent": ((-100, 100), "a percentage: 10 for +10 %"),
        "historical_inflation": (_INFLATION, "a rate a year as a fraction"),
    }
    for name, variants in vars(settings.sensitivity).items():
        (low, high), what = ranges[name]
        for label, value in variants.items():
            # (a joiners change of a fraction of one per cent is a fraction typed for a percentage)
            typed_as_fraction = name == "joiners_percent" and 0 < abs(value) < 1
            if not math.isfinite(value) or not low <= value <= high or typed_as_fraction:
                raise ForecastSettingsError(
                    f"{where}: sensitivity.{name}.{label} must be from {low:g} to {high:g} "
                    f"({what}{', at least 1 either way' if typed_as_fraction else ''}), "
                    f"not {value!r}"
                )
    ceiling = settings.prevalence_ceiling
    if ceiling is not None:
        if (
            isinstance(ceiling, bool)
            or not isinstance(ceiling, int | float)
            or not math.isfinite(ceiling)
            or ceiling <= 0
        ):
            raise ForecastSettingsError(
                f"{where}: prevalence_ceiling must be plans per 1,000 population aged 0-25 "
                f"(more than 0), not {ceiling!r}"
            )
        if settings.population_file is None:
            raise ForecastSettingsError(
                f"{where}: prevalence_ceiling is set but population is not: the ceiling is "
                "plans per 1,000 of the population projection, so it would not be applied"
            )


def validate(settings: ForecastSettings, where: Path | str) -> None:
    _check_values(settings, where)
    for name in ("horizon", "recover_by"):
        try:
            fy_start(getattr(settings, name))
        except ValueError as error:
            raise ForecastSettingsError(f"{where}: {name}: {error}") from error
    if fy_start(settings.horizon) < 2028:
        raise ForecastSettingsError(
            f"{where}: the horizon must reach at least 2028-29 "
            "(the statutory override ends in 2027-28)"
        )
    if settings.seed < 0:
        raise ForecastSettingsError(
            f"{where}: seed must be a whole number 0 or more, not {settings.seed}"
        )
    if not 500 <= settings.simulations <= MAX_SIMULATIONS:
        raise ForecastSettingsError(
            f"{where}: simulations must be from 500 (for stable p10/p90) to {MAX_SIMULATIONS:,} "
            f"(beyond, the paths outgrow the machine's memory), not {settings.simulations}"
        )
    if fy_start(settings.recover_by) > fy_start(settings.horizon):
        raise ForecastSettingsError(
            f"{where}: recover_by ({settings.recover_by}) is after the horizon "
            f"({settings.horizon}): the forecast does not reach it"
        )
    _validate_capacity(settings, where)


def _validate_capacity(settings: ForecastSettings, where: Path | str) -> None:
    """Every capped provision type sends the children beyond its places somewhere else, to a
    type without a cap of its own (the simulation moves the excess once: a chain would leave the
    second type over its cap)."""
    from ingest.provision_types import DFE_PLACEMENT_CATEGORY

    types = [p for p in DFE_PLACEMENT_CATEGORY if p != "central"]
    for section, named in (
        ("capacity", list(settings.capacity)),
        ("overflow", [*settings.overflow, *settings.overflow.values()]),
    ):
        unknown = sorted(set(named) - set(types))
        if unknown:
            raise ForecastSettingsError(
                f"{where}: {section} names {', '.join(unknown)}, not a placement provision type "
                f"({', '.join(types)})"
            )
    for provision, places in settings.capacity.items():
        if not math.isfinite(places) or places < 0:
            raise ForecastSettingsError(
                f"{where}: capacity of {provision} must be a number of places, not {places}"
            )
        target = settings.overflow.get(provision)
        if target is None or target == provision:
            raise ForecastSettingsError(
                f"{where}: capacity caps {provision} at {places:g} places but overflow names no "
                f"other provision type for the children beyond them (e.g. overflow: "
                f"{{{provision}: inmss}}); without one the cap would not be applied"
            )
        if target in settings.capacity:
            raise ForecastSettingsError(
                f"{where}: overflow sends {provision}'s children beyond capacity to {target}, "
                f"which is capped too; chained overflows are not modelled: send them to a "
                "provision type without a capacity"
            )
    stray = sorted(set(settings.overflow) - set(settings.capacity))
    if stray:
        raise ForecastSettingsError(
            f"{where}: overflow for {', '.join(stray)} without a capacity for it"
        )


POPULATION_COLUMNS = ("year", "age", "population")


def read_population(path: Path) -> pd.DataFrame:
    """Population by census year (rows) and age (columns) from `year, age, population` rows (the
    mid-year: a census year is the year after it). Refused, naming the row: another column (an
    ONS export's persons, male and female rows would be summed threefold), a (year, age) given
    twice, a population that is not a number of people, a row with fields lost or added, and a
    year without an age the other years have (read as nobody of that age)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            header = list(reader.fieldnames or [])
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ForecastSettingsError(
            f"{path}: cannot read the population projection ({error})"
        ) from error
    columns = [str(k).strip().lower() for k in header]
    if sorted(columns) != sorted(POPULATION_COLUMNS):
        raise ForecastSettingsError(
            f"{path}: expected the columns year, age, population and no others (found "
            f"{', '.join(columns) or 'none'}): one row per mid-year and single year of age, for "
            "all persons"
        )
    records: dict[tuple[int, int], float] = {}
    for number, row in enumerate(rows, 2):
        if None in row or any(v is None for v in row.values()):
            raise ForecastSettingsError(
                f"{path}:{number}: not three fields (year, age, population)"
            )
        row = {k.strip().lower(): v for k, v in row.items()}
        try:
            year, age = int(row["year"]), int(row["age"])
            people = float(row["population"].replace(",", ""))
        except (ValueError, AttributeError) as error:
            raise ForecastSettingsError(
                f"{path}:{number}: year, age and population must be numbers ({error})"
            ) from error
        if not (people >= 0 and np.isfinite(people)):
            raise ForecastSettingsError(
                f"{path}:{number}: population {row['population']!r} is not a number of people"
            )
        if (year, age) in records:
            raise ForecastSettingsError(
                f"{path}:{number}: mid-year {year}, age {age} is given twice (one row each, all "
                "persons)"
            )
        records[(year, age)] = people
    if not records:
        raise ForecastSettingsError(f"{path}: the population projection has no rows")
    frame = pd.Series(records).rename_axis(["year", "age"]).unstack("age")
    lacking = frame.isna().any(axis=1)
    if lacking.any():
        year = int(frame.index[lacking][0])
        ages = [int(a) for a in frame.columns[frame.loc[year].isna()]]
        raise ForecastSettingsError(
            f"{path}: mid-year {year} has no row for age(s) {', '.join(map(str, ages))}, which "
            "other years have: give every year the same ages"
        )
    frame.index = frame.index + 1  # the census in the January after the mid-year
    frame.index.name, frame.columns.name = "census_year", "age"
    return frame
