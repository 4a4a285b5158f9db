"""Rolling-origin backtests: forecast from each past census with only the data known then,
compare with what happened.

From every origin census with enough history before it, a model forecasts 1, 2 and 3 years
ahead, as do the baselines (forecast.baselines), each scored on the same councils, origins and
horizons. Per model, origin (and all origins pooled), horizon and provision type (and the
total): WAPE = Σ|actual − forecast| ÷ Σ actual; bias = Σ(forecast − actual) ÷ Σ actual; for
the model the share of actuals inside its p10–p90 interval (the aim: 75–85 %) and, per
baseline, the share of units (councils, or origins for one council) where the model's error is
the smaller. Given unit costs per provision type (the council's, or national averages), a
`spend` row scores the money: Σ unit cost × plans over the provision types, where errors in
cheap and dear types count by their cost and offset as they would in the budget.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import cohort
from .baselines import BASELINES, COUNCIL_BASELINES, LABELS

MODEL = "cohort_model"
HORIZONS = (1, 2, 3)
OWN = "own"  # the unit of a council's backtest on its own history
RECORD_COLUMNS = [
    "model",
    "origin",
    "horizon",
    "provision_type",
    "unit",
    "actual",
    "forecast",
    "p10",
    "p90",
]
BEATS = [f"beats_{name}" for name in BASELINES]
# on `spend` rows `actual_plans` holds the actual spend in pounds
SUMMARY_COLUMNS = [
    "model",
    "origin",
    "horizon",
    "provision_type",
    "units",
    "actual_plans",
    "wape",
    "bias",
    "coverage_p10_p90",
    *BEATS,
]
SPEND = "spend"


def read_unit_costs(path: Path) -> dict[str, float]:
    """Unit cost per provision type from a CSV with columns `provision_type, unit_cost_gbp`:
    each a placement provision type, once, with £ a year (0 or more). A blank cost once scored
    the model's spend at 0.0 % error (its money NaN, summed as nothing)."""
    from ingest.provision_types import DFE_PLACEMENT_CATEGORY

    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            # each row's line in the file (a blank line between rows is skipped, not counted)
            rows = [
                (reader.line_num, r["provision_type"] or "", r["unit_cost_gbp"] or "", None in r)
                for r in reader
            ]
    except (OSError, KeyError, ValueError, csv.Error) as error:
        raise ValueError(
            f"{path}: expected columns provision_type, unit_cost_gbp ({error})"
        ) from error
    types = [p for p in DFE_PLACEMENT_CATEGORY if p != "central"]
    costs: dict[str, float] = {}
    for row, provision, text, extra in rows:
        if extra:  # an unquoted `£30,000` splits into fields and once read as £30
            raise ValueError(
                f"{path}:{row}: more fields than the header's (quote a cost written with a "
                "comma, or drop the comma)"
            )
        provision = provision.strip()
        if provision not in types:
            raise ValueError(
                f"{path}:{row}: provision_type {provision!r} is not a placement provision type "
                f"({', '.join(types)})"
            )
        if provision in costs:
            raise ValueError(f"{path}:{row}: provision_type {provision} given twice")
        try:
            cost = float(text.replace(",", "").replace("£", "").strip())
        except ValueError:
            cost = math.nan
        if not math.isfinite(cost) or cost < 0:
            raise ValueError(
                f"{path}:{row}: unit_cost_gbp must be £ a year (0 or more), not {text!r}"
            )
        costs[provision] = cost
    if not costs:
        raise ValueError(f"{path}: no unit costs (columns provision_type, unit_cost_gbp)")
    return costs


def spend_records(records: pd.DataFrame, unit_costs: dict[str, float]) -> pd.DataFrame:
    """Each model's forecast of spend (Σ unit cost × plans over the provision types costed) per
    origin, horizon and unit, as records with provision type `spend`."""
    costed = records[records["provision_type"].isin(list(unit_costs))]
    weight = costed["provision_type"].map(unit_costs)
    money = costed.assign(actual=costed["actual"] * weight, forecast=costed["forecast"] * weight)
    spend = money.groupby(["model", "origin", "horizon", "unit"], as_index=False)[
        ["actual", "forecast"]
    ].sum()
    return spend.assign(provision_type=SPEND, p10=np.nan, p90=np.nan)[RECORD_COLUMNS]


def spend_record(
    model: str,
    origin: int,
    horizon: int,
    unit: str,
    actual: np.ndarray,
    paths: np.ndarray,
    provisions: list[str],
    unit_costs: dict[str, float],
) -> tuple | None:
    """A model's `spend` record from its simulated paths (paths × provision types): the mean and
    the p10 and p90 of each path's Σ unit cost × plans, so the money has an interval of its own
    (a sum of the types' quantiles would not be one). None when no type is costed."""
    weights = np.array([unit_costs.get(p, 0.0) for p in provisions])
    if not weights.any():
        return None
    money = paths @ weights
    low, high = np.quantile(money, (0.1, 0.9))
    spent = float(np.nansum(actual * weights))
    return (model, origin, horizon, SPEND, unit, spent, float(money.mean()), low, high)


def summarise(records: pd.DataFrame, unit_costs: dict[str, float] | None = None) -> pd.DataFrame:
    """Records → the error table: one row per model, origin, horizon and provision type (and
    spend, given unit costs: from the records of a model that costed its own paths, else
    summed from its provision types' forecasts), then the same with every origin pooled (origin
    empty)."""
    if records.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    frame = records.copy()
    if unit_costs:
        costed = set(records.loc[records["provision_type"] == SPEND, "model"])
        frame = pd.concat(
            [frame, spend_records(records[~records["model"].isin(costed)], unit_costs)],
            ignore_index=True,
        )
    frame["error"] = frame["forecast"] - frame["actual"]
    frame["abs_error"] = frame["error"].abs()
    # a provision type the council has none of, forecast none with a band of nothing, is no
    # test of the band: it read as covered (and every baseline as not beaten), filling a
    # council's table with 100 % for types it never had
    nothing = (
        (frame["actual"] == 0)
        & (frame["p10"] == frame["actual"])
        & (frame["p90"] == frame["actual"])
    )
    frame["covered"] = (
        (frame["actual"] >= frame["p10"]) & (frame["actual"] <= frame["p90"])
    ).where(frame["p10"].notna() & ~nothing)
    keys = ["origin", "horizon", "provision_type", "unit"]
    by_unit = frame.pivot_table(index=keys, columns="model", values="abs_error", aggfunc="first")
    for baseline in BASELINES:
        if baseline in by_unit:
            others = by_unit.drop(columns=baseline)
            wins = others.lt(by_unit[baseline], axis=0).astype(float)
            # both exact (nothing to forecast, none forecast): neither beats the other
            exact = others.eq(0) & by_unit[baseline].eq(0).to_numpy()[:, None]
            wins = (
                wins.mask(exact)
                .where(by_unit[baseline].notna(), np.nan)
                .stack(future_stack=True)
                .rename(f"beats_{baseline}")
            )
            frame = frame.merge(wins.reset_index(), on=[*keys, "model"], how="left")
        else:
            frame[f"beats_{baseline}"] = np.nan
    frame.loc[frame["model"].isin(list(BASELINES)), BEATS] = np.nan

    def table(groups: list[str]) -> pd.DataFrame:
        out = (
            frame.groupby(groups, sort=False)
            .agg(
                units=("unit", "nunique"),
                actual_plans=("actual", "sum"),
                abs_error=("abs_error", "sum"),
                error=("error", "sum"),
                coverage_p10_p90=("covered", "mean"),
                **{b: (b, "mean") for b in BEATS},
            )
            .reset_index()
        )
        scale = out["actual_plans"].where(out["actual_plans"] > 0)
        out["wape"] = out["abs_error"] / scale
        out["bias"] = out["error"] / scale
        return out

    per_origin = table(["model", "origin", "horizon", "provision_type"])
    pooled = table(["model", "horizon", "provision_type"]).assign(origin=pd.NA)
    summary = pd.concat([per_origin, pooled], ignore_index=True)[SUMMARY_COLUMNS]
    summary["origin"] = summary["origin"].astype("Int64")
    return summary


@dataclass(frozen=True)
class Verdict:
    """How a council's own backtest scored its total plans at the furthest horizon it reached,
    every origin pooled: what the report and the summary say beside the balance it rests on."""

    horizon: int
    origins: int  # origins scored at that horizon
    wape: float
    bias: float
    covered: int  # of those origins, how many actual totals fell inside the model's p10–p90
    baselines: dict[str, float]  # each baseline's WAPE on the same origins
    spend: tuple[float, dict[str, float]] | None  # the same on spend (plans × cost per plan)

    @property
    def better(self) -> list[str]:
        """The baselines whose error on the total was smaller than the model's."""
        return [name for name, wape in self.baselines.items() if wape < self.wape]

    def sentence(self) -> str:
        years = f"{self.horizon} year{'s' if self.horizon > 1 else ''} ahead"
        others = "".join(f"; {_inside(LABELS[b])} {w:.1%}" for b, w in self.baselines.items())
        text = (
            f"Tested on the council's own past censuses ({self.origins} "
            f"origin{'s' if self.origins > 1 else ''}, {years}), the caseload model missed "
            f"the total plans by {self.wape:.1%} (bias {self.bias:+.1%}){others}. "
        )
        if self.better:
            text += f"{_names(self.better)} forecast the total better here"
            rivals = [b for b in self.better if self.spend and b in self.spend[1]]
            if self.spend and rivals and all(self.spend[0] < self.spend[1][b] for b in rivals):
                best = min(rivals, key=lambda b: self.spend[1][b])
                text += (
                    f" (by cost per plan the model did better: {self.spend[0]:.1%} against "
                    f"{self.spend[1][best]:.1%})"
                )
            text += ". "
        elif self.baselines:
            text += "It did better than every simple projection. "
        return text + (
            f"Its p10–p90 band held {self.covered} of {self.origins} actual totals; an 80% band "
            "should hold about 8 in 10."
        )


def _inside(label: str) -> str:
    """A label inside a sentence: lower case, but England is a name."""
    return label if label.startswith("England") else label[0].lower() + label[1:]


def _names(baselines: list[str]) -> str:
    names = [LABELS[b] for b in baselines]
    names = [names[0], *(_inside(n) for n in names[1:])]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def verdict(summary: pd.DataFrame) -> Verdict | None:
    """`summary`: one council's `forecast.backtest` (as `summarise` returns it); None when it
    scored no total."""
    rows = summary[
        (summary["model"] == MODEL)
        & (summary["provision_type"] == "total")
        & summary["wape"].notna()
    ]
    if rows.empty:
        return None
    horizon = int(rows["horizon"].max())
    at = summary[summary["horizon"] == horizon]
    pooled = at[at["origin"].isna()]

    def scores(kind: str) -> dict[str, float]:
        kept = pooled[(pooled["provision_type"] == kind) & pooled["wape"].notna()]
        return dict(zip(kept["model"], kept["wape"].astype(float), strict=True))

    total = scores("total")
    if MODEL not in total:
        return None
    own = pooled[(pooled["model"] == MODEL) & (pooled["provision_type"] == "total")].iloc[0]
    each = at[(at["model"] == MODEL) & (at["provision_type"] == "total") & at["origin"].notna()]
    money = scores(SPEND)
    return Verdict(
        horizon=horizon,
        origins=len(each),
        wape=total.pop(MODEL),
        bias=float(own["bias"]),
        covered=int(each["coverage_p10_p90"].fillna(0).sum()),
        baselines={b: total[b] for b in BASELINES if b in total},
        spend=(money.pop(MODEL), money) if MODEL in money else None,
    )


def baseline_records(
    counts: pd.DataFrame, origin: int, unit: str, national: pd.Series | None = None
) -> list[tuple]:
    """Baseline forecasts from `origin` for every horizon with an actual, as records: each series
    of `counts` (provision types) on its own and — projected from the summed series, as a council
    would — the total."""
    history = counts.loc[:origin]
    baselines = BASELINES if national is not None else COUNCIL_BASELINES
    sums = history.sum(axis=1).to_frame("total")
    records = []
    for horizon in HORIZONS:
        target = origin + horizon
        if target not in counts.index or len(history) < 2:
            continue
        actual = counts.loc[target].to_numpy(dtype=float)
        for name, project in baselines.items():
            forecast = project(history, horizon, national)
            for provision, a, f in zip(counts.columns, actual, forecast, strict=False):
                records.append((name, origin, horizon, provision, unit, a, f, np.nan, np.nan))
            records.append(
                (
                    name,
                    origin,
                    horizon,
                    "total",
                    unit,
                    actual.sum(),
                    float(project(sums, horizon, national)[0]),
                    np.nan,
                    np.nan,
                )
            )
    return records


def backtest_cohort(
    transitions: pd.DataFrame,
    caseload: pd.DataFrame,
    provisions: list[str],
    settings: cohort.CohortSettings,
    simulations: int = 500,
    seed: int = 1,
    unit_costs: dict[str, float] | None = None,
    pooled_growth: Callable[[int], tuple[float, float, str] | None] | None = None,
    national: pd.Series | None = None,
) -> pd.DataFrame:
    """The council's own history: `caseload` is plans per census year × provision type;
    `unit_costs` (the council's, per provision type) add the `spend` rows; `pooled_growth(origin)`
    what the published files said at each origin (see cohort.estimate), read as they stood then;
    `national` (England's plans per census, from the published files) adds the baseline of
    England's growth applied to the council, from England's censuses up to the origin."""
    records = []
    years = sorted(int(y) for y in transitions["year"].unique())
    for origin in years:
        if sum(1 for y in years if y <= origin) < settings.min_years:
            continue
        future = [origin + h for h in HORIZONS if origin + h in caseload.index]
        if not future:
            continue
        model = cohort.estimate(
            transitions,
            provisions,
            settings,
            upto_year=origin,
            pooled_growth=pooled_growth(origin) if pooled_growth else None,
        )
        paths = cohort.simulate(model, max(future) - origin, simulations, seed)
        plans = paths.plans.sum(axis=2).astype(float)  # (paths, years, P)
        for target in future:
            h = target - origin
            actual = caseload.loc[target, provisions].to_numpy(dtype=float)
            sims = plans[:, h - 1, :]
            q = np.quantile(sims, (0.1, 0.5, 0.9), axis=0)
            for p, provision in enumerate(provisions):
                records.append(
                    (
                        MODEL,
                        origin,
                        h,
                        provision,
                        OWN,
                        actual[p],
                        float(sims[:, p].mean()),
                        q[0, p],
                        q[2, p],
                    )
                )
            totals = sims.sum(axis=1)
            tq = np.quantile(totals, (0.1, 0.9))
            records.append(
                (MODEL, origin, h, "total", OWN, actual.sum(), float(totals.mean()), tq[0], tq[1])
            )
            if unit_costs and (
                spent := spend_record(MODEL, origin, h, OWN, actual, sims, provisions, unit_costs)
            ):
                records.append(spent)
        records += baseline_records(caseload[provisions], origin, OWN, national)
    return summarise(pd.DataFrame(records, columns=RECORD_COLUMNS), unit_costs)
