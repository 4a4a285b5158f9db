"""The report's charts: each one a matplotlib figure, the tidy numbers it plots, and a one-line
plain-English reading computed from those numbers.

Every chart function takes the warehouse's `ReportData` and the suppression threshold (None for
internal outputs; an int for outputs marked for publication, which then show counts of children
below it as suppressed). Money is in £m, counts in plans or children, years are financial years
(April–March, `2024-25`) except where a January census is meant.
"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from forecast.mitigations import balance_caveats
from forecast.years import fy_of_census_year

from . import style
from .data import (
    ReportData,
    carried_by_type,
    carried_years,
    hidden_at_base,
    restated_balance_caveats,
    spend_forecast_published,
    spend_published,
)

if TYPE_CHECKING:
    from .benchmarks import Benchmarks
from .suppression import protect

# the scenario of a year in progress in the finance extract, estimated (forecast.assumptions)
ESTIMATED = "estimated"
MOVES_YEARS = 3  # the movement matrix and provision starts pool this many recent years
NEED_LABELS = {
    "ASD": "Autism (ASD)",
    "SEMH": "Social, emotional and mental health (SEMH)",
    "SLCN": "Speech, language and communication (SLCN)",
    "MLD": "Moderate learning difficulty (MLD)",
    "SLD": "Severe learning difficulty (SLD)",
    "PMLD": "Profound and multiple learning difficulty (PMLD)",
    "SPLD": "Specific learning difficulty (SpLD)",
    "PD": "Physical disability (PD)",
    "HI": "Hearing impairment (HI)",
    "VI": "Visual impairment (VI)",
    "MSI": "Multi-sensory impairment (MSI)",
    "DS": "Down syndrome (DS)",
    "OTH": "Other difficulty or disability (OTH)",
}
AGE_BANDS = ["under 5", "5-10", "11-15", "16-19", "20-25"]
DRIVER_LABELS = {
    "joining": "More children joining",
    "staying_longer": "Children staying longer",
    "placement_mix": "Placement mix",
    "unit_cost": "Unit cost",
    "central": "Central spend",
}


@dataclass
class Chart:
    key: str  # file name stem
    section: str
    title: str
    reading: str  # one line of plain English, computed from `data`
    figure: Figure
    data: pd.DataFrame  # the numbers plotted, tidy
    notes: list[str] = field(default_factory=list)

    def png(self, dpi: int | None = None) -> bytes:
        buffer = io.BytesIO()
        with style.context():
            # same data, same bytes
            self.figure.savefig(
                buffer,
                format="png",
                dpi=dpi or style.DPI,
                bbox_inches="tight",
                metadata={"Software": None},
            )
        return buffer.getvalue()


def _subplots(*grid, figsize: tuple[float, float]) -> tuple[Figure, object]:
    """A figure outside pyplot's global state: nothing to close, safe in a long-running process."""
    figure = Figure(figsize=figsize)
    return figure, figure.subplots(*grid)


def _suppressed_note(threshold: int | None, hidden: int) -> list[str]:
    if threshold is None or hidden == 0:
        return []
    return [
        (
            f"{hidden} count{'s' if hidden != 1 else ''} suppressed for publication: those between "
            f"1 and {threshold - 1}, and others where a total would reveal them. "
            "Suppressed counts are not drawn."
        )
    ]


def _protect(
    table: pd.DataFrame, threshold: int | None, rows: bool = True, columns: bool = False
) -> tuple[pd.DataFrame, int]:
    """The table as published: unchanged internally, small counts suppressed for publication."""
    if threshold is None:
        return table.astype(float), 0
    protected = protect(table, threshold, rows=rows, columns=columns)
    return protected.cells, protected.hidden


def _fastest(growth: dict) -> object | None:
    """The key with the highest finite growth, or None when none is finite."""
    finite = {k: v for k, v in growth.items() if np.isfinite(v)}
    return max(finite, key=finite.get) if finite else None


def _nothing_to_show(key: str, section: str, title: str, why: str) -> Chart:
    """A chart whose numbers are all missing or suppressed: an empty frame saying so."""
    fig, ax = _subplots(figsize=(style.FIGURE_WIDTH, 1.6))
    ax.axis("off")
    ax.text(0.0, 0.5, why, fontsize=10, va="center", transform=ax.transAxes)
    ax.set_title(title)
    return Chart(key, section, title, why, fig, pd.DataFrame())


def _growth(first: float, last: float, years: int) -> float:
    if years <= 0 or first <= 0 or last <= 0:
        return float("nan")
    return (last / first) ** (1 / years) - 1


def _positions(labels: list[str]) -> dict[str, int]:
    return {label: i for i, label in enumerate(labels)}


def _year_axis(ax, labels: list[str], every: int = 1) -> None:
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(
        [label if i % every == 0 else "" for i, label in enumerate(labels)], rotation=45, ha="right"
    )
    ax.set_xlim(-0.6, len(labels) - 0.4)


def _forecast_divider(ax, position: float) -> None:
    ax.axvline(position, color="#999999", linewidth=0.8, linestyle=":")
    ax.text(
        position + 0.1,
        1.0,
        "forecast →",
        transform=ax.get_xaxis_transform(),
        fontsize=8,
        color="#666666",
        va="top",
    )


def _legend_below(fig: Figure, handles, labels, columns: int = 4) -> None:
    fig.legend(handles, labels, loc="lower center", ncol=columns, bbox_to_anchor=(0.5, -0.02))


# --- 1. funding, spend and the cumulative balance ----------------------------------------------


def funding_and_balance(data: ReportData, threshold: int | None = None) -> Chart:
    actual = data.position[data.position["is_complete_year"]].set_index("financial_year")
    forecast = data.position_forecast
    # a year in progress in the finance extract, estimated as Funding and balances estimates it:
    # left out, the forecast's first year was drawn one year after the last actual
    carried = carried_years(data)
    years = list(actual.index) + list(carried.index) + data.forecast_years
    at = _positions(years)
    last_fy = actual.index[-1]
    # where the forecast's lines start: the last year estimated, else the last actual
    base_fy = carried.index[-1] if len(carried) else last_fy
    # (a year the budget file gives no allocation for has unknown funding: no bar, not £0)
    rows = [
        (fy, "actual", "funding", r.funding_gbp, np.nan, np.nan)
        for fy, r in actual.iterrows()
        if r.has_budget
    ]
    rows += [(fy, "actual", "spend", r.spend_gbp, np.nan, np.nan) for fy, r in actual.iterrows()]
    rows += [
        (fy, "actual", "cumulative_balance", r.cumulative_balance_gbp, np.nan, np.nan)
        for fy, r in actual.iterrows()
    ]
    balance = actual["cumulative_balance_gbp"].iloc[-1]
    for fy, r in carried.iterrows():
        balance += r.in_progress_year_funding - r.in_progress_year_spend
        rows += [
            (fy, ESTIMATED, "funding", r.in_progress_year_funding, np.nan, np.nan),
            (fy, ESTIMATED, "spend", r.in_progress_year_spend, np.nan, np.nan),
            (fy, ESTIMATED, "cumulative_balance", balance, np.nan, np.nan),
        ]
    for r in forecast.itertuples():
        rows += [
            (r.financial_year, r.scenario, "funding", r.funding_gbp, np.nan, np.nan),
            (
                r.financial_year,
                r.scenario,
                "spend",
                r.spend_gbp_central,
                r.spend_gbp_p10,
                r.spend_gbp_p90,
            ),
            (
                r.financial_year,
                r.scenario,
                "cumulative_balance",
                r.cumulative_balance_gbp_central,
                r.cumulative_balance_gbp_p10,
                r.cumulative_balance_gbp_p90,
            ),
        ]
    tidy = pd.DataFrame(
        rows, columns=["financial_year", "scenario", "measure", "value_gbp", "p10_gbp", "p90_gbp"]
    )

    fig, (left, right) = _subplots(1, 2, figsize=(style.FIGURE_WIDTH + 2, 4.4))
    for ax, measure, title in (
        (left, "spend", "Funding and spend (£m a year)"),
        (right, "cumulative_balance", "Cumulative DSG high needs balance (£m)"),
    ):
        history = tidy[(tidy["scenario"] == "actual") & (tidy["measure"] == measure)]
        ax.plot(
            [at[y] for y in history["financial_year"]],
            history["value_gbp"],
            color=style.SCENARIO_COLOURS["actual"],
            linewidth=2,
            label="Spend, actual" if measure == "spend" else "Actual",
        )
        estimated = tidy[(tidy["scenario"] == ESTIMATED) & (tidy["measure"] == measure)]
        start = history["value_gbp"].iloc[-1]
        if len(estimated):
            ax.plot(
                [at[last_fy]] + [at[y] for y in estimated["financial_year"]],
                [start, *estimated["value_gbp"]],
                color=style.SCENARIO_COLOURS["actual"],
                linewidth=2,
                linestyle=":",
                marker="o",
                markersize=4,
                label=(
                    f"{'Spend, e' if measure == 'spend' else 'E'}stimated "
                    f"({', '.join(estimated['financial_year'])}: not complete in the ledger)"
                ),
            )
            start = estimated["value_gbp"].iloc[-1]
        for scenario in ("unmitigated", "mitigated"):
            part = tidy[(tidy["scenario"] == scenario) & (tidy["measure"] == measure)]
            x = [at[base_fy]] + [at[y] for y in part["financial_year"]]
            colour = style.SCENARIO_COLOURS[scenario]
            ax.fill_between(
                x,
                [start, *part["p10_gbp"]],
                [start, *part["p90_gbp"]],
                color=colour,
                alpha=0.15,
                linewidth=0,
            )
            ax.plot(
                x,
                [start, *part["value_gbp"]],
                color=colour,
                linewidth=2,
                linestyle="--",
                label=(
                    f"{'Spend, ' + scenario if measure == 'spend' else scenario.capitalize()} "
                    "(central, p10–p90 band)"
                ),
            )
        assured = tidy[(tidy["scenario"] == "mitigated_assured") & (tidy["measure"] == measure)]
        if measure == "cumulative_balance" and len(assured):
            ax.plot(
                [at[base_fy]] + [at[y] for y in assured["financial_year"]],
                [start, *assured["value_gbp"]],
                color=style.SCENARIO_COLOURS["mitigated"],
                linewidth=1.5,
                linestyle=":",
                label="Assured mitigations only (central)",
            )
        if measure == "spend":
            funding = tidy[
                (tidy["measure"] == "funding")
                & tidy["scenario"].isin(["actual", ESTIMATED, "unmitigated"])
            ]
            ax.plot(
                [at[y] for y in funding["financial_year"]],
                funding["value_gbp"],
                color=style.SCENARIO_COLOURS["funding"],
                linewidth=2,
                label="Funding (forecast: unmitigated)",
            )
            mitigated_funding = tidy[
                (tidy["measure"] == "funding") & (tidy["scenario"] == "mitigated")
            ]
            unmitigated_funding = funding[funding["scenario"] == "unmitigated"][
                "value_gbp"
            ].to_numpy()
            if not np.allclose(mitigated_funding["value_gbp"].to_numpy(), unmitigated_funding):
                ax.plot(
                    [at[y] for y in mitigated_funding["financial_year"]],
                    mitigated_funding["value_gbp"],
                    color=style.SCENARIO_COLOURS["funding"],
                    linewidth=1.5,
                    linestyle=":",
                    label="Funding with mitigations",
                )
        else:
            ax.axhline(0, color="#666666", linewidth=0.8)
        ax.yaxis.set_major_formatter(style.MILLIONS)
        ax.set_title(title)
        _year_axis(ax, years)
        _forecast_divider(ax, at[last_fy] + 0.5)
        # the balance falls from the top left: its legend sits where the lines are not
        ax.legend(loc="upper left" if measure == "spend" else "lower left", fontsize=8)
    fig.tight_layout()

    horizon = data.horizon
    end = forecast[forecast["financial_year"] == horizon].set_index("scenario")
    balance = actual.loc[last_fy, "cumulative_balance_gbp"]
    reading = (
        f"The cumulative high needs balance was {style.pounds_m(balance)} at the end of {last_fy}; "
        "on current trends (unmitigated) it reaches "
        f"{style.pounds_m(end.loc['unmitigated', 'cumulative_balance_gbp_central'])} by the end of "
        f"{horizon} (p10–p90 "
        f"{style.pounds_m(end.loc['unmitigated', 'cumulative_balance_gbp_p10'])} to "
        f"{style.pounds_m(end.loc['unmitigated', 'cumulative_balance_gbp_p90'])}), "
        f"and {style.pounds_m(end.loc['mitigated', 'cumulative_balance_gbp_central'])} with the "
        "mitigations"
        + (
            f" ({style.pounds_m(end.loc['mitigated_assured', 'cumulative_balance_gbp_central'])} "
            "with the assured ones only)."
            if "mitigated_assured" in end.index
            else "."
        )
    )
    # what the mitigations file says they cost that the mitigated balance leaves out, said where
    # the balance is, not only in the mitigation log's column
    for sentence in [*restated_balance_caveats(data), *balance_caveats(data.mitigations, horizon)]:
        reading += " " + sentence
    return Chart(
        "01_funding_spend_balance",
        "funding",
        "High needs funding, spend and the cumulative DSG balance",
        reading,
        fig,
        tidy,
        [
            (
                "Negative balance = deficit. Forecast lines are the central forecast (the mean "
                "of the simulated paths); the band holds 80% of them (p10 to p90)."
            )
        ],
    )


# --- 2. spend by provision type ------------------------------------------------------------


HIDDEN = "hidden"  # the publication version's provision types whose spend is hidden, together


def _spend_shown(data: ReportData, threshold: int | None) -> tuple[pd.DataFrame, dict[str, str]]:
    """Actual spend per year and provision type as the publication version shows it: the types
    whose spend is hidden (one child's cost, and its complement) as one `hidden` type, so each
    year still adds up to its total; and the labels, with that type's."""
    spend = spend_published(data, threshold)
    if not spend["spend_gbp"].isna().any():
        return data.spend, data.labels
    return _hidden_together(spend, data.spend, "spend_gbp"), _hidden_labels(data, threshold)


def _hidden_labels(data: ReportData, threshold: int | None) -> dict[str, str]:
    return {**data.labels, HIDDEN: f"Hidden (fewer than {threshold} placements, with another)"}


def _hidden_together(shown: pd.DataFrame, whole: pd.DataFrame, value: str) -> pd.DataFrame:
    """`shown` (spend as published: `value` NaN where a type's is hidden) with its hidden rows as
    one `hidden` type a year, their `value` summed from `whole` (the same rows, in the same
    order, unhidden), so each year adds up to its total."""
    hidden = shown[value].isna().to_numpy()
    together = (
        whole[hidden]
        .groupby("financial_year", as_index=False)[value]
        .sum()
        .assign(provision_type=HIDDEN)
    )
    return pd.concat([shown[~hidden], together], ignore_index=True)


def _forecast_shown(data: ReportData, threshold: int | None) -> pd.DataFrame:
    """The unmitigated forecast spend per year and provision type as the publication version
    shows it: the types whose spend is hidden as one `hidden` type, so each year adds up to the
    forecast's total (published in forecast_hnb_position), as the actual years do. Left out, the
    chart's forecast bars had dropped them: a small council's spend read as falling by a third
    to 2028-29 (£2.5m) while its forecast total was £4.5m."""
    published = spend_forecast_published(data, threshold)
    unmitigated = (published["scenario"] == "unmitigated").to_numpy()
    return _hidden_together(
        published[unmitigated], data.spend_forecast[unmitigated], "spend_gbp_central"
    )


def _provision_colour(provision: str) -> str:
    return style.PROVISION_COLOURS.get(provision, "#BBBBBB")


def spend_latest_year(data: ReportData, threshold: int | None = None) -> Chart:
    year = data.complete_years[-1]
    shown, labels = _spend_shown(data, threshold)
    spend = shown[shown["financial_year"] == year].set_index("provision_type")["spend_gbp"]
    spend = spend[spend.abs() > 0].sort_values()
    total = float(data.spend.loc[data.spend["financial_year"] == year, "spend_gbp"].sum())
    tidy = pd.DataFrame(
        {
            "financial_year": year,
            "provision_type": spend.index,
            "label": [labels[p] for p in spend.index],
            "spend_gbp": spend.values,
            "share": spend.values / total,
        }
    )
    fig, ax = _subplots(figsize=(style.FIGURE_WIDTH, 0.42 * len(spend) + 1.2))
    ax.barh(
        [labels[p] for p in spend.index],
        spend.values,
        color=[_provision_colour(p) for p in spend.index],
        edgecolor="#333333",
        linewidth=0.4,
    )
    for i, (value, share) in enumerate(zip(spend.values, tidy["share"], strict=False)):
        ax.text(
            value, i, f"  {style.pounds_m(value)} ({style.percent(share)})", va="center", fontsize=9
        )
    ax.xaxis.set_major_formatter(style.MILLIONS)
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", visible=True)
    ax.set_xlim(0, spend.max() * 1.3)
    ax.set_title(f"High needs spend by provision type, {year} (£m; total {style.pounds_m(total)})")
    fig.tight_layout()
    top = tidy.iloc[::-1]
    reading = (
        f"In {year} {top.iloc[0]['label']} took the largest share of high needs spend: "
        f"{style.pounds_m(top.iloc[0]['spend_gbp'])} of {style.pounds_m(total)} "
        f"({style.percent(top.iloc[0]['share'])})"
    )
    if len(top) > 1:
        reading += f", then {top.iloc[1]['label']} ({style.pounds_m(top.iloc[1]['spend_gbp'])})"
    return Chart(
        "02_spend_by_provision_latest",
        "spend",
        f"High needs spend by provision type, {year}",
        reading + ".",
        fig,
        tidy,
    )


def spend_trend(data: ReportData, threshold: int | None = None) -> Chart:
    years = data.complete_years
    shown, labels = _spend_shown(data, threshold)
    history = shown[shown["financial_year"].isin(years)]
    # (a first forecast year that keeps the ledger's postings hides a type whose postings are)
    future = _forecast_shown(data, threshold)
    if (future["provision_type"] == HIDDEN).any():
        labels = _hidden_labels(data, threshold)
    # a year in progress in the finance extract, estimated by type (forecast.assumptions); for
    # publication as one hidden part, as the expenditure table hides its types (its unit costs
    # would give back the census's hidden counts). Left out, the bars jumped from the last
    # complete year to the forecast's first, two years on
    carried = carried_by_type(data)
    estimated = carried.T
    if threshold is not None and len(carried.columns):
        estimated = pd.DataFrame({HIDDEN: carried.sum()})
        labels = _hidden_labels(data, threshold)
    wide = pd.concat(
        [
            history.pivot_table(
                index="financial_year",
                columns="provision_type",
                values="spend_gbp",
                aggfunc="sum",
            ),
            estimated,
            future.pivot(
                index="financial_year", columns="provision_type", values="spend_gbp_central"
            ),
        ]
    ).reindex(columns=list(labels))
    # a type whose spend a year hides (its spend is in `hidden`) has no figure that year: £0 in
    # the bars, none in the chart's data (a BI reader took a real-looking £0 for it)
    unshown = wide.isna()
    wide = wide.fillna(0.0)
    wide = wide.loc[:, (wide.abs() > 0).any()]
    all_years = list(wide.index)
    fig, ax = _subplots(figsize=(style.FIGURE_WIDTH, 4.6))
    bottom = np.zeros(len(wide))
    for provision in wide.columns:
        values = wide[provision].to_numpy()
        ax.bar(
            range(len(wide)),
            values,
            bottom=bottom,
            color=_provision_colour(provision),
            label=labels[provision],
            edgecolor="white",
            linewidth=0.3,
        )
        bottom += values
    # the estimated and forecast bars are hatched so they read as projections
    for i, year in enumerate(all_years):
        if year not in years:
            ax.bar(i, bottom[i], color="none", edgecolor="white", hatch="///", linewidth=0)
    ax.yaxis.set_major_formatter(style.MILLIONS)
    _year_axis(ax, all_years)
    _forecast_divider(ax, len(years) - 0.5)
    ax.set_title(
        "High needs spend by provision type, actual"
        + (f", {', '.join(carried.columns)} estimated" if len(carried.columns) else "")
        + " and forecast (£m; forecast: unmitigated, central)"
    )
    handles, labels = ax.get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    _legend_below(fig, handles, labels)
    tidy = wide.mask(unshown[wide.columns]).stack(future_stack=True).rename("spend_gbp")
    tidy = tidy.reset_index()
    tidy["is_estimated"] = tidy["financial_year"].isin(carried.columns)
    tidy["is_forecast"] = ~tidy["financial_year"].isin(years) & ~tidy["is_estimated"]

    first, last = years[0], years[-1]
    totals = wide.sum(axis=1)
    span = len(years) - 1
    growth = {
        p: _growth(wide.loc[first, p], wide.loc[last, p], span)
        for p in wide.columns
        if wide.loc[last, p] >= 0.02 * totals[last] and p != HIDDEN
    }
    fastest = _fastest(growth)
    reading = (
        f"High needs spend went from {style.pounds_m(totals[first])} in {first} to "
        f"{style.pounds_m(totals[last])} in {last}"
        + (
            f" ({style.percent(_growth(totals[first], totals[last], span), 1)} a year)"
            if span
            else ""
        )
        + f" and is forecast at {style.pounds_m(totals.iloc[-1])} in {all_years[-1]}"
        + (
            # (of the types with 2% of the year's spend or more: said, as the need chart says it)
            f"; among the types with 2% of spend or more, {data.labels[fastest]} grew fastest "
            f"({style.percent(growth[fastest], 1)} a year)."
            if fastest
            else "."
        )
    )
    return Chart(
        "03_spend_trend",
        "spend",
        "High needs spend by provision type over time",
        reading,
        fig,
        tidy,
    )


# --- 3. the DBV panels: caseload, unit cost, total cost -------------------------------------


def dbv_panels(data: ReportData, threshold: int | None = None) -> Chart:
    years = data.complete_years
    published = data.caseload_published(threshold)[0]
    caseload = published.cells.copy()
    hidden = published.hidden if threshold is not None else 0
    caseload.index = [fy_of_census_year(int(y)) for y in caseload.index]
    future_plans = (
        data.caseload_forecast[
            (data.caseload_forecast["scenario"] == "unmitigated")
            & (data.caseload_forecast["provision_type"] != "total")
        ]
        .assign(financial_year=lambda f: [fy_of_census_year(int(y)) for y in f["year"]])
        .pivot_table(index="financial_year", columns="provision_type", values="plans_central")
    )
    # (a type hidden on the last census has no forecast published: it would give the count back)
    future_plans = future_plans.drop(columns=list(hidden_at_base(data, threshold)), errors="ignore")
    spend = data.spend[data.spend["financial_year"].isin(years)]
    future = spend_forecast_published(data, threshold)
    future = future[future["scenario"] == "unmitigated"]
    whole_cost = spend.pivot_table(
        index="financial_year", columns="provision_type", values="spend_gbp"
    )
    # for publication a type's cost and unit cost in a year whose placement count is hidden, or
    # over fewer full-time placements than the threshold, are hidden (one child's cost)
    priced = spend_published(data, threshold)
    priced = priced[priced["financial_year"].isin(years)]
    cost = priced.pivot_table(index="financial_year", columns="provision_type", values="spend_gbp")
    future_cost = future.pivot_table(
        index="financial_year", columns="provision_type", values="spend_gbp_central"
    )
    unit = priced.pivot_table(
        index="financial_year", columns="provision_type", values="unit_cost_gbp"
    )
    future_unit = future.pivot_table(
        index="financial_year", columns="provision_type", values="unit_cost_gbp"
    )
    if threshold is not None:
        # the forecast's unit cost is the last year's grown at the published rate: hidden there,
        # it would give it back
        whole_unit = spend.pivot_table(
            index="financial_year", columns="provision_type", values="unit_cost_gbp"
        )
        last_unit = unit.reindex(index=[years[-1]], columns=future_unit.columns).iloc[0]
        last_whole = whole_unit.reindex(index=[years[-1]], columns=future_unit.columns).iloc[0]
        future_unit = future_unit.loc[:, ~(last_unit.isna() & last_whole.notna()).to_numpy()]
    shown = [
        p for p in data.provisions if (whole_cost.get(p, pd.Series(dtype=float)).abs() > 0).any()
    ]
    # every panel's years: a first forecast year whose types' posted spend is all hidden for
    # publication (an April refresh, a few postings in) drops out of the cost pivot alone, and
    # the unit-cost and caseload panels' year had no place (KeyError: '2025-26', no report)
    all_years = sorted(
        set(caseload.index)
        | set(cost.index)
        | set(future_cost.index)
        | set(future_unit.index)
        | set(future_plans.index)
        | set(unit.index)
    )
    at = _positions(all_years)

    fig, axes = _subplots(1, 3, figsize=(style.FIGURE_WIDTH + 3, 4.4))
    panels = [
        (
            axes[0],
            caseload,
            future_plans,
            "Caseload (plans at the January census)",
            style.COUNTS,
            "plans",
        ),
        (
            axes[1],
            unit,
            future_unit,
            "Unit cost (£ per full-time placement)",
            style.THOUSANDS,
            "unit_cost_gbp",
        ),
        (axes[2], cost, future_cost, "Total cost (£m a year)", style.MILLIONS, "spend_gbp"),
    ]
    rows = []
    for ax, history, projected, title, formatter, measure in panels:
        last_actual = history.index.max()
        for provision in shown:
            colour = style.PROVISION_COLOURS[provision]
            if provision in history:
                series = history[provision]
                ax.plot(
                    [at[y] for y in series.index],
                    series.values,
                    color=colour,
                    linewidth=1.8,
                    label=data.labels[provision],
                )
                rows += [(y, provision, measure, v, False) for y, v in series.items()]
                if provision in projected and last_actual in series.index:
                    x = [at[last_actual]] + [at[y] for y in projected.index]
                    ax.plot(
                        x,
                        [series[last_actual], *projected[provision].values],
                        color=colour,
                        linewidth=1.5,
                        linestyle="--",
                    )
                    rows += [
                        (y, provision, measure, v, True) for y, v in projected[provision].items()
                    ]
        ax.yaxis.set_major_formatter(formatter)
        ax.set_title(title, fontsize=10)
        _year_axis(ax, all_years, every=2)
        _forecast_divider(ax, at[max(years)] + 0.5)
        ax.set_ylim(bottom=0)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    _legend_below(fig, handles, labels, columns=5)
    tidy = pd.DataFrame(
        rows, columns=["financial_year", "provision_type", "measure", "value", "is_forecast"]
    )

    first, last = years[0], years[-1]
    span = len(years) - 1
    # the plans of the types the panels show, as the cost and unit cost are theirs: with the
    # types that cost nothing (no placement, other) it read 9.6 % a year beside costs of 9.2 %
    plans = data.caseload.reindex(columns=list(shown), fill_value=0)
    plans.index = [fy_of_census_year(int(y)) for y in plans.index]
    plans_growth = (
        _growth(plans.loc[first].sum(), plans.loc[last].sum(), span)
        if first in plans.index
        else float("nan")
    )
    # for publication, a growth of counts some of whose cells are hidden would narrow them
    # down (with the latest total shown, 9.2 % a year put a hidden 70 between 68 and 71)
    ends = caseload.reindex(index=[first, last]).reindex(columns=list(shown), fill_value=0)
    plans_hidden = threshold is not None and bool(ends.isna().to_numpy().any())
    # the placements' cost, as the total cost panel and the unit cost show it: central spend,
    # which no placement carries, is chart 03's
    spend_growth = _growth(
        whole_cost.loc[first, shown].sum(), whole_cost.loc[last, shown].sum(), span
    )
    fte = spend.pivot_table(
        index="financial_year", columns="provision_type", values="fte_placements"
    )[shown]

    def average_unit(y):
        return whole_cost.loc[y, shown].sum() / fte.loc[y].sum()

    unit_growth = _growth(average_unit(first), average_unit(last), span)
    # (a type whose cost every year hides has no column: no rise to name)
    cost = cost.reindex(columns=whole_cost.columns)
    increase = (cost.loc[last, shown] - cost.loc[first, shown]).sort_values(ascending=False)
    if span == 0:
        reading = (
            f"In {last} the average unit cost was {style.pounds(average_unit(last))} per full-time "
            "placement; growth needs more than one complete year."
        )
    else:
        reading = (
            f"From {first} to {last} the caseload of these types "
            + (
                "changed at a rate not published (some of its counts are hidden)"
                if plans_hidden
                else style.grew(plans_growth)
            )
            + ", "
            "the average unit cost "
            f"{style.grew(unit_growth)} and total placement cost {style.grew(spend_growth)} "
            "(in cash: each year's own prices)"
        )
        reading += (
            f"; the largest rise in cost was in {data.labels[increase.index[0]]} "
            f"(+{style.pounds_m(increase.iloc[0])})."
            if len(increase) and increase.iloc[0] > 0
            else "."
        )
    return Chart(
        "04_caseload_unit_cost_total_cost",
        "dbv",
        "Caseload, unit cost and total cost by provision type",
        reading,
        fig,
        tidy,
        [
            (
                "Solid: actual; dashed: forecast (unmitigated, central: the mean of the simulated "
                "paths). Caseload is the January "
                "census inside each financial year. Provision types with no spend are left out."
            ),
            *_suppressed_note(threshold, hidden),
        ],
    )


# --- 4. drivers: needs, ages, provision starts, flows, moves ----------------------------------


def _cohort_by(
    data: ReportData, column: str, order: list[str] | None, threshold: int | None
) -> tuple[pd.DataFrame, int, pd.Series]:
    """Plans per census and `column` as published, how many counts are hidden, and each census's
    total as published (NaN where hidden)."""
    published = data.cohort_published(column, threshold)
    wide = published.cells
    if order:
        wide = wide[_in_order(order, wide.columns)]
    return wide, (published.hidden if threshold is not None else 0), published.row_totals


def _share(
    wide: pd.DataFrame,
    totals: pd.Series,
    year,
    columns: list[str],
    hidden: str = "not published",
) -> str:
    """The share of a census's plans in `columns`, as published: of the census's published
    total ("at least" where a part is hidden), or `hidden` where the total or every part is
    hidden. Of the plans shown, the share under 5 at plan start read 47 % → 41 %, a
    fall, where the totals (84 and 151, in the same table) gave 33 % → 40 %; and where a
    small council's first total was hidden, 47 % for the 37 % of its plans."""
    parts = wide.loc[year].reindex(columns)
    total = totals.get(year, np.nan)
    if parts.isna().all() or not (np.isfinite(total) and total > 0):
        return hidden
    text = style.percent(parts.fillna(0).sum() / total)
    return f"at least {text}" if parts.isna().any() else text


def _of_larger(growth: dict, wide: pd.DataFrame, first, latest) -> str:
    """ " published in both years" where a count behind one of `growth`'s keys is hidden in
    either year: its growth is unknown, so the fastest is of those left (SEMH read as the
    fastest-growing need where MLD, hidden in the first year, grew three times as fast)."""
    hidden = wide.loc[[first, latest], list(growth)].isna().to_numpy().any()
    return " published in both years" if hidden else ""


def _in_order(order: list[str], present) -> list[str]:
    """The values present, those in `order` first and in its order, then any other (such as the
    flagged 'over 25' age band) as found: a value outside the usual list is shown, not dropped."""
    present = list(dict.fromkeys(present))
    return [v for v in order if v in present] + [v for v in present if v not in order]


def _all_hidden(wide: pd.DataFrame) -> bool:
    return not (wide.fillna(0).to_numpy() > 0).any()


SUPPRESSED_ALL = (
    "Every count in this breakdown is below {threshold} or would reveal one, so none is published."
)


def caseload_by_need(data: ReportData, threshold: int | None = None) -> Chart:
    wide, hidden, totals = _cohort_by(data, "primary_need", None, threshold)
    if _all_hidden(wide):
        return _nothing_to_show(
            "05_caseload_by_primary_need",
            "drivers",
            "EHC plans by primary need",
            SUPPRESSED_ALL.format(threshold=threshold),
        )
    latest = wide.index.max()
    order = wide.loc[latest].fillna(0).sort_values(ascending=False).index
    wide = wide[order]
    fig, ax = _subplots(figsize=(style.FIGURE_WIDTH, 4.8))
    top = list(order[:7])
    for i, need in enumerate(order):
        series = wide[need]
        highlighted = need in top
        ax.plot(
            series.index,
            series.values,
            color=style.SEQUENCE[i] if highlighted else "#C8C8C8",
            linewidth=2 if highlighted else 1,
            zorder=3 if highlighted else 2,
        )
    # direct labels at the line ends, nudged apart so none overlap
    ends = sorted(
        (float(wide[n].iloc[-1]), i, n)
        for i, n in enumerate(order[:7])
        if np.isfinite(wide[n].iloc[-1])
    )
    gap = float(np.nanmax(wide.to_numpy())) * 0.045
    placed: list[float] = []
    for value, i, need in ends:
        y = max(value, placed[-1] + gap) if placed else value
        placed.append(y)
        ax.text(
            latest + 0.15,
            y,
            NEED_LABELS.get(need, need),
            va="center",
            fontsize=8,
            color=style.SEQUENCE[i],
        )
    ax.set_xlim(wide.index.min() - 0.3, latest + 3.2)
    ax.set_xticks(list(wide.index))
    ax.set_xticklabels([f"Jan {y}" for y in wide.index], rotation=45, ha="right")
    ax.yaxis.set_major_formatter(style.COUNTS)
    ax.set_ylim(bottom=0)
    ax.set_title("EHC plans by primary need, January census (plans; smaller needs in grey)")
    fig.tight_layout()
    tidy = wide.stack(future_stack=True).rename("plans").reset_index()
    first = wide.index.min()
    total = wide.loc[latest].sum()
    lead = order[0]
    lead_share = _share(wide, totals, latest, [lead], hidden="a share not published")
    growth = {
        n: _growth(wide.loc[first, n], wide.loc[latest, n], int(latest - first))
        for n in order
        if wide.loc[latest, n] >= 0.05 * total
    }
    fastest = _fastest(growth)
    reading = (
        f"{NEED_LABELS.get(lead, lead)} is the most common primary need: "
        f"{style.count(wide.loc[latest, lead])} plans in January {latest} "
        f"({lead_share})"
    )
    if latest > first:
        reading += f", against {style.count(wide.loc[first, lead])} in January {first}"
    reading += (
        f"; among the larger needs{_of_larger(growth, wide, first, latest)} "
        f"{NEED_LABELS.get(fastest, fastest)} grew fastest "
        f"({style.percent(growth[fastest], 1)} a year)."
        if fastest
        else "."
    )
    return Chart(
        "05_caseload_by_primary_need",
        "drivers",
        "EHC plans by primary need",
        reading,
        fig,
        tidy,
        _suppressed_note(threshold, hidden),
    )


def _stacked_by_census(wide: pd.DataFrame, title: str, legend_title: str) -> Figure:
    fig, ax = _subplots(figsize=(style.FIGURE_WIDTH, 4.4))
    bottom = np.zeros(len(wide))
    for i, column in enumerate(wide.columns):
        values = wide[column].fillna(0).to_numpy()
        ax.bar(
            range(len(wide)),
            values,
            bottom=bottom,
            color=style.SEQUENCE[i],
            label=column,
            edgecolor="white",
            linewidth=0.3,
        )
        bottom += values
    _year_axis(ax, [f"Jan {y}" for y in wide.index])
    ax.yaxis.set_major_formatter(style.COUNTS)
    ax.set_title(title)
    ax.legend(title=legend_title, loc="upper left", fontsize=8, title_fontsize=8)
    fig.tight_layout()
    return fig


def _shown_span(wide: pd.DataFrame) -> tuple:
    """The first and latest census with any plan shown: small numbers hidden for publication can
    leave a census (often the latest, from a mid-year extract) with none to take shares of."""
    shown = wide.fillna(0).sum(axis=1)
    return shown[shown > 0].index.min(), shown[shown > 0].index.max()


def caseload_by_age_group(data: ReportData, threshold: int | None = None) -> Chart:
    wide, hidden, totals = _cohort_by(data, "age_group", AGE_BANDS, threshold)
    if _all_hidden(wide):
        return _nothing_to_show(
            "06_caseload_by_age_group",
            "drivers",
            "EHC plans by age group",
            SUPPRESSED_ALL.format(threshold=threshold),
        )
    fig = _stacked_by_census(
        wide, "EHC plans by age group, January census (plans; age at 31 August)", "Age"
    )
    first, latest = _shown_span(wide)
    span = int(latest - first)
    # of the age groups with 5 % of the plans or more, as the need chart compares needs: the
    # under-5s (88 of 1,847 plans) read as the fastest-growing group
    total = wide.loc[latest].sum()
    growth = {
        a: _growth(wide.loc[first, a], wide.loc[latest, a], span)
        for a in wide.columns
        if wide.loc[latest, a] >= 0.05 * total
    }
    fastest = _fastest(growth)
    older = ["16-19", "20-25"]
    reading = (
        "The share of plans held by young people aged 16–25 was "
        f"{_share(wide, totals, latest, older)} in January {latest}"
    )
    if span:
        reading += f", against {_share(wide, totals, first, older)} in January {first}"
    reading += (
        f"; of the age groups with 5% of the plans or more"
        f"{_of_larger(growth, wide, first, latest)}, those aged {fastest} grew "
        f"fastest ({style.percent(growth[fastest], 1)} a year)."
        if fastest
        else "."
    )
    return Chart(
        "06_caseload_by_age_group",
        "drivers",
        "EHC plans by age group",
        reading,
        fig,
        wide.stack(future_stack=True).rename("plans").reset_index(),
        _suppressed_note(threshold, hidden),
    )


def caseload_by_age_at_plan_start(data: ReportData, threshold: int | None = None) -> Chart:
    wide, hidden, totals = _cohort_by(data, "age_at_plan_start_band", AGE_BANDS, threshold)
    if _all_hidden(wide):
        return _nothing_to_show(
            "07_caseload_by_age_at_plan_start",
            "drivers",
            "EHC plans by age at plan start",
            SUPPRESSED_ALL.format(threshold=threshold),
        )
    fig = _stacked_by_census(
        wide, "EHC plans by age when the plan started, January census (plans)", "Age at start"
    )
    first, latest = _shown_span(wide)
    lead = wide.loc[latest].fillna(0).idxmax()
    lead_share = _share(wide, totals, latest, [lead], hidden="a share not published")
    reading = (
        f"More plans in force in January {latest} started at age {lead} than at any other "
        f"age ({lead_share}); "
        "the share that started under 5 was "
        + (
            f"{_share(wide, totals, first, ['under 5'])} in January {first} and "
            if first < latest
            else ""
        )
        + f"{_share(wide, totals, latest, ['under 5'])} in January {latest}."
    )
    return Chart(
        "07_caseload_by_age_at_plan_start",
        "drivers",
        "EHC plans by age at plan start",
        reading,
        fig,
        wide.stack(future_stack=True).rename("plans").reset_index(),
        _suppressed_note(threshold, hidden),
    )


def provision_starts(data: ReportData, threshold: int | None = None) -> Chart:
    years = sorted(data.starts["year"].unique())[-MOVES_YEARS:]
    recent = data.starts[data.starts["year"].isin(years)].copy()
    if recent["starts"].sum() == 0:
        return _nothing_to_show(
            "08_age_at_provision_start",
            "drivers",
            "Age at provision start",
            "No placement started in the years the extracts cover.",
        )
    shown = [p for p in data.provisions if p in set(recent["provision_type"])]
    # every usual band, and any other a start falls in (the flagged 'over 25'): its starts count
    bands = _in_order(AGE_BANDS, [*AGE_BANDS, *recent["age_at_start_band"].dropna()])
    starts = recent.pivot_table(
        index="age_at_start_band",
        columns="provision_type",
        values="starts",
        aggfunc="sum",
        fill_value=0,
    ).reindex(index=bands, columns=shown, fill_value=0)
    total_starts = float(starts.to_numpy().sum())
    if threshold is not None:
        published = protect(starts, threshold, rows=True, columns=True)
        starts, hidden, total_starts = published.cells, published.hidden, published.grand_total
    else:
        starts, hidden = starts.astype(float), 0
    if _all_hidden(starts):
        return _nothing_to_show(
            "08_age_at_provision_start",
            "drivers",
            "Age at provision start",
            SUPPRESSED_ALL.format(threshold=threshold),
        )
    # each cell's average is over its placements with a cost (costed_starts), not all its starts
    costed = recent.dropna(subset=["avg_annual_cost_gbp"]).assign(
        cost_total=lambda f: f["avg_annual_cost_gbp"] * f["costed_starts"]
    )
    sums = costed.groupby(["provision_type", "age_at_start_band"])[
        ["cost_total", "costed_starts"]
    ].sum()
    average = (
        (sums["cost_total"] / sums["costed_starts"]).rename("avg_annual_cost_gbp").reset_index()
    )
    average["costed_starts"] = sums["costed_starts"].to_numpy()
    if threshold is not None:
        # no average over fewer placements than the threshold, nor for a cell the left panel
        # hides (to protect another)
        cells = pd.MultiIndex.from_frame(average[["age_at_start_band", "provision_type"]])
        hidden_cell = starts.isna().stack(future_stack=True).reindex(cells, fill_value=True)
        average.loc[
            (average["costed_starts"] < threshold).to_numpy() | hidden_cell.to_numpy(),
            "avg_annual_cost_gbp",
        ] = np.nan

    fig, (left, right) = _subplots(1, 2, figsize=(style.FIGURE_WIDTH + 2, 4.6))
    bottom = np.zeros(len(bands))
    for provision in shown:
        values = starts[provision].fillna(0).to_numpy()
        left.bar(
            range(len(bands)),
            values,
            bottom=bottom,
            color=style.PROVISION_COLOURS[provision],
            label=data.labels[provision],
            edgecolor="white",
            linewidth=0.3,
        )
        bottom += values
    left.set_xticks(range(len(bands)))
    left.set_xticklabels(bands)
    left.set_xlabel("Age at the start of the placement")
    left.yaxis.set_major_formatter(style.COUNTS)
    left.set_title("Placements started (children)", fontsize=10)
    costed_types = [p for p in shown if p in set(average.dropna()["provision_type"])]
    width = 0.8 / max(len(costed_types), 1)
    for i, provision in enumerate(costed_types):
        part = (
            average[average["provision_type"] == provision]
            .set_index("age_at_start_band")
            .reindex(bands)
        )
        right.scatter(
            np.arange(len(bands)) - 0.4 + width * (i + 0.5),
            part["avg_annual_cost_gbp"],
            color=style.PROVISION_COLOURS[provision],
            edgecolor="#333333",
            linewidth=0.4,
            s=36,
            zorder=3,
        )
    right.set_xticks(range(len(bands)))
    right.set_xticklabels(bands)
    right.set_xlabel("Age at the start of the placement")
    right.yaxis.set_major_formatter(style.THOUSANDS)
    right.set_ylim(bottom=0)
    right.set_title("Their average commissioned cost (£ a year, placements list)", fontsize=10)
    handles, labels = left.get_legend_handles_labels()
    fig.suptitle(
        "Age at provision start: placements started in the years to "
        f"January {years[0]}–{years[-1]}",
        x=0.01,
        ha="left",
        fontweight="bold",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    _legend_below(fig, handles, labels, columns=5)
    tidy = (
        starts.stack(future_stack=True)
        .rename("starts")
        .reset_index()
        .merge(
            # how many starts the average is over is a count of children too: not published
            average if threshold is None else average.drop(columns="costed_starts"),
            on=["provision_type", "age_at_start_band"],
            how="left",
        )
    )

    pieces = []
    for provision in ("inmss", "mss"):
        if provision not in starts.columns or not (starts[provision].fillna(0) > 0).any():
            continue
        by_age = starts[provision].fillna(0)
        band = by_age.idxmax()
        cost = average[(average["provision_type"] == provision)].dropna(
            subset=["avg_annual_cost_gbp"]
        )
        piece = (
            f"{data.labels[provision]} placements most often start at {band} "
            f"({style.percent(by_age[band] / by_age.sum())} of those published)"
        )
        at_band = cost[cost["age_at_start_band"] == band]
        if len(at_band) and at_band["costed_starts"].sum() > 0:
            # the band's own average, as the chart plots it (it was every age's, read as the
            # band's)
            piece += f", at {style.pounds(at_band['avg_annual_cost_gbp'].iloc[0])} a year there"
        elif cost["costed_starts"].sum() > 0:
            pooled = (cost["avg_annual_cost_gbp"] * cost["costed_starts"]).sum() / cost[
                "costed_starts"
            ].sum()
            ages = "all ages" if threshold is None else "the ages published"
            piece += f", at {style.pounds(pooled)} a year on average across {ages}"
        pieces.append(piece)
    counted = (
        f"{style.count(total_starts)} placements" if np.isfinite(total_starts) else "Placements"
    )
    # the cost is the one the placements list gives each placement, not spend from the ledger:
    # beside the unit-cost charts' ledger figures it read as the same measure
    priced = (
        ". Those costs are the annual costs the placements list commissions (annual_cost), "
        "not the ledger's spend per placement (the unit-cost charts)"
        if any(" a year " in piece for piece in pieces)
        else ""
    )
    reading = (
        f"{counted} started in the {len(years)} years to January {years[-1]}, each taking a "
        "child into a provision type (a new record at the same school, or a move within one "
        "type, is not a start)" + ("; " + "; ".join(pieces) if pieces else "") + priced + "."
    )
    return Chart(
        "08_age_at_provision_start",
        "drivers",
        "Age at provision start and what those placements cost",
        reading,
        fig,
        tidy,
        _suppressed_note(threshold, hidden),
    )


def new_and_ceased(data: ReportData, threshold: int | None = None) -> Chart:
    flows = data.flows_published(threshold)
    totals = pd.DataFrame(
        {
            "new_plans": flows["new_plans"].row_totals,
            "ceased_plans": flows["ceased_plans"].row_totals,
        }
    )
    totals.index.name = "year"
    totals["net_change"] = totals["new_plans"] - totals["ceased_plans"]
    if totals.empty or not np.isfinite(totals["net_change"]).any():
        return _nothing_to_show(
            "09_new_and_ceased_plans",
            "drivers",
            "New and ceased plans per year",
            "No year has both its new and ceased plans published.",
        )
    fig, ax = _subplots(figsize=(style.FIGURE_WIDTH, 4.2))
    x = np.arange(len(totals))
    ax.bar(
        x - 0.2,
        totals["new_plans"],
        width=0.4,
        color=style.OKABE_ITO["blue"],
        label="New plans issued",
    )
    ax.bar(
        x + 0.2,
        totals["ceased_plans"],
        width=0.4,
        color=style.OKABE_ITO["orange"],
        label="Plans ceased",
    )
    ax.plot(
        x,
        totals["net_change"],
        color=style.OKABE_ITO["black"],
        marker="o",
        linewidth=1.5,
        label="Net change",
    )
    _year_axis(ax, [f"to Jan {y}" for y in totals.index])
    ax.yaxis.set_major_formatter(style.COUNTS)
    ax.set_title("New and ceased EHC plans in the twelve months to each January census (plans)")
    ax.legend(loc="upper left")
    fig.tight_layout()
    latest = totals["net_change"].dropna().index.max()
    row = totals.loc[latest]
    record = totals["net_change"].idxmax() == latest
    reading = (
        f"In the year to January {latest} {style.count(row['new_plans'])} new plans were issued "
        f"and {style.count(row['ceased_plans'])} ceased: a net change of {row['net_change']:+,.0f}"
        + (
            ", the largest of any year shown."
            if record
            else f" (largest: {totals['net_change'].max():+,.0f} in the year to January "
            f"{totals['net_change'].idxmax()})."
        )
    )
    return Chart(
        "09_new_and_ceased_plans",
        "drivers",
        "New and ceased plans per year",
        reading,
        fig,
        totals.reset_index(),
    )


def moves_matrix(data: ReportData, threshold: int | None = None) -> Chart:
    years = sorted(data.moves["year"].unique())[-MOVES_YEARS:]
    moves = data.moves[
        data.moves["year"].isin(years)
        & data.moves["provision_from"].isin(data.provisions)
        & data.moves["provision_to"].isin(data.provisions)
    ]
    matrix = moves.pivot_table(
        index="provision_from",
        columns="provision_to",
        values="children",
        aggfunc="sum",
        fill_value=0,
    ).reindex(index=data.provisions, columns=data.provisions, fill_value=0)
    for p in data.provisions:  # staying put is not a move
        matrix.loc[p, p] = 0
    matrix, hidden = _protect(matrix, threshold, rows=True, columns=True)
    labels = [data.labels[p] for p in data.provisions]
    fig, ax = _subplots(figsize=(style.FIGURE_WIDTH, 7.2))
    shown = matrix.to_numpy(dtype=float)
    ax.imshow(np.nan_to_num(shown), cmap="Blues", aspect="auto")
    top = np.nanmax(shown) if np.isfinite(shown).any() else 1
    for i in range(shown.shape[0]):
        for j in range(shown.shape[1]):
            if i == j:
                ax.text(j, i, "·", ha="center", va="center", color="#999999")
                continue
            value = shown[i, j]
            text = "c" if np.isnan(value) else ("" if value == 0 else f"{value:,.0f}")
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=8,
                color="white" if np.isfinite(value) and value > top * 0.6 else "#222222",
            )
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel("to (provision type at the later January census)")
    ax.set_ylabel("from (provision type at the earlier census)")
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(
        "Children moving between provision types, census to census, "
        f"years to January {years[0]}–{years[-1]}"
    )
    fig.tight_layout()
    tidy = matrix.stack(future_stack=True).rename("children").reset_index()
    tidy = tidy[tidy["provision_from"] != tidy["provision_to"]]
    tidy.insert(0, "years", f"{years[0]}-{years[-1]}")

    ranked = tidy.dropna().sort_values("children", ascending=False)
    if ranked.empty or ranked["children"].iloc[0] == 0:
        return _nothing_to_show(
            "10_moves_between_provision_types",
            "drivers",
            "Moves between provision types",
            "No child moved between provision types that can be published."
            if threshold is not None
            else "No child moved between provision types.",
        )
    best = ranked.iloc[0]
    special = ("mss", "inmss")
    to_special = tidy[
        tidy["provision_from"].isin(["mainstream", "mainstream_rp_unit"])
        & tidy["provision_to"].isin(special)
    ]
    to_independent = tidy[(tidy["provision_from"] == "mss") & (tidy["provision_to"] == "inmss")]

    def at_least(cells: pd.DataFrame) -> str:  # a sum over suppressed cells is only a lower bound
        shown = style.count(cells["children"].sum())
        if not cells["children"].isna().any():
            return shown
        # ("at least 0 moved" said nothing, as if none had)
        return f"at least {shown}" if cells["children"].sum() > 0 else "a number not published"

    reading = (
        f"In the {len(years)} years to January {years[-1]} the most common move was "
        f"{data.labels[best['provision_from']]} → {data.labels[best['provision_to']]} "
        f"({style.count(best['children'])} {'child' if best['children'] == 1 else 'children'}); "
        f"{at_least(to_special)} moved from mainstream into special schools and "
        f"{at_least(to_independent)} from maintained to independent special."
    )
    return Chart(
        "10_moves_between_provision_types",
        "drivers",
        "Moves between provision types",
        reading,
        fig,
        tidy,
        [
            (
                "Each child counted once per year moved; "
                "joining and leaving the caseload are not moves."
            ),
            *_suppressed_note(threshold, hidden),
        ],
    )


def spend_drivers(data: ReportData, threshold: int | None = None) -> Chart:
    drivers = data.drivers[
        data.drivers["scenario"].isin(["actual", "unmitigated"])
        & (data.drivers["driver"] != "total")
    ]
    drivers = drivers[
        ~(
            (drivers["scenario"] == "unmitigated")
            & drivers["financial_year"].isin(data.complete_years)
        )
    ]
    wide = drivers.pivot_table(
        index="financial_year", columns="driver", values="spend_change_gbp", aggfunc="sum"
    )
    wide = wide.reindex(columns=[d for d in DRIVER_LABELS if d in wide.columns]).fillna(0.0)
    years = list(wide.index)
    fig, ax = _subplots(figsize=(style.FIGURE_WIDTH, 4.4))
    positive = np.zeros(len(wide))
    negative = np.zeros(len(wide))
    for i, driver in enumerate(wide.columns):
        values = wide[driver].to_numpy()
        base = np.where(values >= 0, positive, negative)
        ax.bar(
            range(len(wide)),
            values,
            bottom=base,
            color=style.SEQUENCE[i],
            label=DRIVER_LABELS[driver],
            edgecolor="white",
            linewidth=0.3,
        )
        positive += np.where(values >= 0, values, 0)
        negative += np.where(values < 0, values, 0)
    total = wide.sum(axis=1)
    ax.scatter(
        range(len(wide)), total, color="black", marker="_", s=200, zorder=4, label="Total change"
    )
    ax.axhline(0, color="#666666", linewidth=0.8)
    ax.yaxis.set_major_formatter(style.MILLIONS)
    _year_axis(ax, years)
    actual_years = [y for y in years if y in data.complete_years]
    if actual_years and len(actual_years) < len(years):
        _forecast_divider(ax, len(actual_years) - 0.5)
    ax.set_title("What drives the change in high needs spend each year (£m; forecast: unmitigated)")
    handles, labels = ax.get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    _legend_below(fig, handles, labels, columns=3)
    tidy = wide.stack().rename("spend_change_gbp").reset_index()
    next_year = data.forecast_years[0]
    parts = wide.loc[next_year] if next_year in wide.index else wide.iloc[-1]
    lead = parts.abs().idxmax()
    # the largest driver and the rest: one larger than the change itself (-£4.4m of -£0.2m) was
    # said to "account for" it
    reading = (
        f"Spend is forecast to change by {style.pounds_m(parts.sum())} in {next_year}: "
        f"{DRIVER_LABELS[lead].lower()}, the largest driver, by {style.pounds_m(parts[lead])}, "
        f"the others together by {style.pounds_m(parts.sum() - parts[lead])}."
    )
    return Chart(
        "11_drivers_of_spend",
        "drivers",
        "Drivers of the change in spend",
        reading,
        fig,
        tidy,
        [
            (
                "Joining: more children joining than leaving at last year's rate, at last year's "
                "average cost per plan; staying longer: fewer leaving; placement mix: the "
                "census's plans shifting between provision types (by moves, and by the types "
                "joiners and leavers are in) at last year's costs; unit cost: the change in cost "
                "per plan, each type's spend ÷ its plans on the January census, which moves with "
                "the price of a full-time place and with how much of the year plans are paid for "
                "(children who joined during the year lower it)."
            )
        ],
    )


# --- 5. mitigations -------------------------------------------------------------------------


def mitigation_waterfall(data: ReportData, threshold: int | None = None) -> Chart:
    horizon = data.horizon
    end = data.position_forecast[data.position_forecast["financial_year"] == horizon].set_index(
        "scenario"
    )
    start = float(end.loc["unmitigated", "cumulative_balance_gbp_central"])
    finish = float(end.loc["mitigated", "cumulative_balance_gbp_central"])
    effects = data.mitigations[data.mitigations["financial_year"] == horizon][
        ["mitigation", "status", "cumulative_balance_effect_gbp"]
    ].sort_values("cumulative_balance_effect_gbp", ascending=False)
    steps = [("Unmitigated", "total", start)]
    # funding (a block transfer, a contribution) is named as such:
    # it is income to agree, not a saving
    funding = set(data.mitigations.loc[data.mitigations["kind"] == "funding", "mitigation"])
    steps += [
        (
            f"{r.mitigation} (funding)" if r.mitigation in funding else r.mitigation,
            r.status,
            float(r.cumulative_balance_effect_gbp),
        )
        for r in effects.itertuples()
    ]
    combined = finish - start - float(effects["cumulative_balance_effect_gbp"].sum())
    if abs(combined) >= 5_000:  # below £0.01m the bar would not show
        steps.append(("Combined effect (mitigations acting together)", "combined", combined))
    steps.append(("Mitigated", "total", finish))
    tidy = pd.DataFrame(steps, columns=["step", "status", "value_gbp"])
    tidy.insert(0, "financial_year", horizon)

    fig, ax = _subplots(figsize=(style.FIGURE_WIDTH, 0.55 * len(steps) + 1.6))
    level = 0.0
    colours = {
        "assured": style.OKABE_ITO["blue"],
        "assessed": style.OKABE_ITO["sky_blue"],
        "combined": "#B3B3B3",
    }
    ends = [0.0]
    for i, (_name, status, value) in enumerate(steps):
        if status == "total":
            left, width, colour = (
                0.0,
                value,
                style.SCENARIO_COLOURS["unmitigated" if i == 0 else "mitigated"],
            )
            level = value
        else:
            left, width, colour = level, value, colours.get(status, "#B3B3B3")
            level += value
        ax.barh(i, width, left=left, color=colour, edgecolor="#333333", linewidth=0.4)
        ends += [left, left + width]
        label = (
            style.pounds_m(value)
            if status == "total"
            else f"{'+' if value >= 0 else ''}{style.pounds_m(value, 2)}"
        )
        ax.text(
            max(left, left + width) + abs(start) * 0.01,
            i,
            f" {label}" + (f" ({status})" if status in ("assured", "assessed") else ""),
            va="center",
            fontsize=8,
        )
    ax.set_yticks(range(len(steps)))
    # long names wrap rather than run off the figure
    ax.set_yticklabels([textwrap.fill(s[0], 38) for s in steps], fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="#666666", linewidth=0.8)
    ax.xaxis.set_major_formatter(style.MILLIONS)
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", visible=True)
    low, high = min(ends), max(ends)
    span = (high - low) or 1.0
    ax.set_xlim(low - 0.05 * span, high + 0.4 * span)  # room for the labels right of the bars
    ax.set_title(f"Unmitigated to mitigated balance, end of {horizon} (£m, central)")
    fig.tight_layout()
    # the largest effect either way (a cost mitigation can outweigh every saving)
    by_size = effects["cumulative_balance_effect_gbp"].abs().sort_values(ascending=False)
    largest = effects.loc[by_size.index[0]] if len(effects) else None
    # the change as the two ends are shown (−£34.4m to −£21.0m is £13.4m, not £13.5m), and said
    # the way it goes: mitigations whose costs outweigh their savings worsen the balance
    change = round(finish / 1e6, 1) * 1e6 - round(start / 1e6, 1) * 1e6
    reading = (
        f"The mitigations {'improve' if change >= 0 else 'worsen'} the cumulative balance at the "
        f"end of {horizon} by {style.pounds_m(abs(change))}, from {style.pounds_m(start)} "
        f"to {style.pounds_m(finish)}"
    )
    if largest is not None:
        reading += (
            f"; the largest effect is “{largest['mitigation']}” "
            f"({style.pounds_m(largest['cumulative_balance_effect_gbp'])}, {largest['status']})"
        )
    assured = effects["status"] == "assured"
    is_funding = effects["mitigation"].isin(funding)
    # savings as the mitigation log subtotals them: an assured cost is not netted off
    savings = set(data.mitigations.loc[data.mitigations["kind"] == "saving", "mitigation"])
    assured_savings = effects.loc[
        assured & effects["mitigation"].isin(savings), "cumulative_balance_effect_gbp"
    ].sum()
    funding_total = effects.loc[is_funding, "cumulative_balance_effect_gbp"].sum()
    costs = set(data.mitigations.loc[data.mitigations["kind"] == "cost", "mitigation"])
    assured_costs = effects.loc[
        assured & effects["mitigation"].isin(costs), "cumulative_balance_effect_gbp"
    ].sum()

    def part(amount: float) -> str:
        # "£0.0m of it is assured savings" read as a figure: none is said so, and an amount
        # under £50,000 in pounds
        if not round(amount, 2):
            return "none"
        return style.pounds_m(amount) if abs(amount) >= 50_000 else style.pounds(amount)

    reading += (
        f"; {part(assured_savings)} of it is assured savings"
        # (said beside them, so the assured savings do not read as the assured part)
        + (
            f", against {style.pounds_m(abs(assured_costs))} of assured costs"
            if assured_costs
            else ""
        )
        + f", and {part(funding_total)} is funding (block transfers, contributions) to "
        "be agreed each year, not a saving."
    )
    return Chart(
        "12_mitigation_waterfall",
        "mitigations",
        "From unmitigated to mitigated balance",
        reading,
        fig,
        tidy,
        [
            (
                "Each mitigation's bar is its effect alone against the unmitigated forecast; "
                "the grey bar is what they add or lose by acting together."
            )
        ],
    )


def sensitivity(data: ReportData, threshold: int | None = None) -> Chart:
    """A tornado: the unmitigated cumulative balance at the horizon with one assumption at a time
    at another value, against the forecast as set."""
    horizon = data.horizon
    if data.sensitivity is None or data.sensitivity.empty:
        return _nothing_to_show(
            "01b_scenarios",
            "funding",
            "What the balance hangs on",
            "This warehouse has no forecast.sensitivity: run `highneeds refresh`.",
        )
    at = data.sensitivity[data.sensitivity["financial_year"] == horizon]
    central = float(at.loc[at["variant"] == "as set", "cumulative_balance_gbp_central"].iloc[0])
    tried = at[at["variant"] != "as set"].copy()
    tried["label"] = [
        f"{SENSITIVITY_LABELS.get(a, a)}: {v} ({_sensitivity_value(a, x)})"
        for a, v, x in zip(tried["assumption"], tried["variant"], tried["value"], strict=False)
    ]
    swing = tried.groupby("assumption")["change_from_central_gbp"].apply(lambda c: c.abs().max())
    tried["order"] = tried["assumption"].map(swing)
    tried = tried.sort_values(["order", "change_from_central_gbp"], ascending=[True, True])
    fig, ax = _subplots(figsize=(style.FIGURE_WIDTH, 0.45 * len(tried) + 1.8))
    y = np.arange(len(tried))
    colours = [
        style.OKABE_ITO["blue"] if v >= 0 else style.OKABE_ITO["vermillion"]
        for v in tried["change_from_central_gbp"]
    ]
    ax.barh(
        y,
        tried["change_from_central_gbp"],
        left=central,
        color=colours,
        edgecolor="#333333",
        linewidth=0.4,
    )
    for i, value in enumerate(tried["cumulative_balance_gbp_central"]):
        ax.text(
            value,
            i,
            f" {style.pounds_m(value)} ",
            va="center",
            fontsize=8,
            ha="left" if value >= central else "right",
        )
    ax.axvline(central, color="black", linewidth=1.2)
    ax.axvline(0, color="#666666", linewidth=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(tried["label"], fontsize=8)
    ax.xaxis.set_major_formatter(style.MILLIONS)
    low, high = (
        min(tried["cumulative_balance_gbp_central"].min(), central),
        max(tried["cumulative_balance_gbp_central"].max(), central),
    )
    pad = 0.25 * max(high - low, 1.0)
    ax.set_xlim(low - pad, high + pad)
    ax.set_title(f"Unmitigated balance at the end of {horizon}, one assumption changed (£m)")
    fig.tight_layout()
    worst = tried.loc[tried["cumulative_balance_gbp_central"].idxmin()]
    reading = (
        f"As set, the unmitigated cumulative balance is {style.pounds_m(central)} at the end of "
        f"{horizon}; with {worst['label'].lower()} it would be "
        f"{style.pounds_m(worst['cumulative_balance_gbp_central'])}."
    )
    tidy = at[
        [
            "financial_year",
            "assumption",
            "variant",
            "value",
            "cumulative_balance_gbp_central",
            "change_from_central_gbp",
        ]
    ]
    return Chart(
        "01b_scenarios",
        "funding",
        "What the balance hangs on: scenarios",
        reading,
        fig,
        tidy,
        [
            (
                "Each bar changes one assumption and keeps the rest as set, on the same simulated "
                "paths; the black line is the forecast as set. Negative balance = deficit."
            )
        ],
    )


SENSITIVITY_LABELS = {
    "funding_growth": "Funding growth",
    "unit_cost_inflation": "Unit-cost inflation",
    "joiners_percent": "New plans",
    "historical_inflation": "Inflation taken off past growth",
}


def _sensitivity_value(assumption: str, value: float) -> str:
    if assumption == "joiners_percent":
        return f"{value:+.0f}%"
    return f"{value:+.1%} a year"


def gap_to_balance(data: ReportData, threshold: int | None = None) -> Chart:
    gap = data.gap.copy()
    fig, ax = _subplots(figsize=(style.FIGURE_WIDTH, 4.0))
    x = np.arange(len(gap))
    ax.bar(
        x - 0.2,
        gap["saving_to_balance_in_year_gbp"],
        width=0.4,
        color=style.OKABE_ITO["vermillion"],
        label="Further saving needed to balance in-year",
    )
    ax.bar(
        x + 0.2,
        gap["saving_per_year_to_recover_by_target_gbp"].fillna(0),
        width=0.4,
        color=style.OKABE_ITO["blue"],
        label=f"Saving a year to clear the deficit by {gap['recover_by'].iloc[0]}",
    )
    # the balance keeps the sign it has everywhere else (negative = deficit); the savings are what
    # closes it, not further spend on top of it
    ax.plot(
        x,
        gap["cumulative_balance_gbp"],
        color="black",
        marker="o",
        linewidth=1.5,
        label="Cumulative balance after mitigations (negative = deficit)",
    )
    ax.axhline(0, color="#666666", linewidth=0.8)
    _year_axis(ax, list(gap["financial_year"]))
    ax.yaxis.set_major_formatter(style.MILLIONS)
    ax.set_title("Savings still needed after mitigations, and the balance they close (£m, central)")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    first = gap.iloc[0]
    target = gap["recover_by"].iloc[0]
    per_year = gap["saving_per_year_to_recover_by_target_gbp"].dropna()
    still = gap[gap["saving_to_balance_in_year_gbp"] > 0]["financial_year"].tolist()
    # the balance at the year the deficit is to be cleared by, as the saving per year is sized
    by_year = gap.set_index("financial_year")["cumulative_balance_gbp"]
    at = target if target in by_year.index else by_year.index[-1]
    balance = float(by_year[at])
    if balance >= 0:
        reading = (
            "After the mitigations the cumulative balance is a surplus of "
            f"{style.pounds_m(balance)} at the end of {at}: "
            f"no further saving is needed to clear a deficit by {target}"
        )
    else:
        reading = (
            f"After the mitigations the cumulative deficit is {style.pounds_m(-balance)} at the "
            f"end of {at}; clearing it by {target} needs a further "
            f"{style.pounds_m(per_year.iloc[0] if len(per_year) else 0)} a year from "
            f"{first['financial_year']}"
        )
    last = by_year.index[-1]
    if at != last:
        reading += (
            f" (at the end of {last}, a "
            f"{'surplus' if by_year[last] >= 0 else 'deficit'} of "
            f"{style.pounds_m(abs(float(by_year[last])))})"
        )
    reading += (
        f", and balancing in-year needs more saving in {', '.join(still)}."
        if still
        else "; the budget balances in-year in every forecast year."
    )
    return Chart(
        "13_gap_to_balance",
        "mitigations",
        "The gap still to close",
        reading,
        fig,
        gap[
            [
                "financial_year",
                "saving_to_balance_in_year_gbp",
                "saving_per_year_to_recover_by_target_gbp",
                "cumulative_balance_gbp",
                "recover_by",
            ]
        ],
    )


# --- 6. benchmarks ---------------------------------------------------------------------------


def benchmark_position(bench: Benchmarks) -> Chart:
    """Every council's value of each indicator as a dot; the council, England, its region and its
    similar councils marked."""
    from .benchmarks import format_value

    table = bench.table
    fig, axes = _subplots(len(table), 1, figsize=(style.FIGURE_WIDTH, 1.05 * len(table) + 0.9))
    axes = np.atleast_1d(axes)
    rng = np.random.default_rng(0)  # fixed jitter: the same data draws the same chart
    peers = set(bench.neighbours["code"])
    for ax, row in zip(axes, table.itertuples(), strict=False):
        values = bench.values[
            (bench.values["indicator"] == row.indicator) & ~bench.values["flagged"]
        ]
        jitter = rng.uniform(-0.25, 0.25, len(values))
        others = ~values["code"].isin(peers | {bench.code})
        ax.scatter(
            values.loc[others, "value"],
            jitter[others.to_numpy()],
            s=12,
            color="#BBBBBB",
            linewidth=0,
        )
        similar = values["code"].isin(peers).to_numpy()
        ax.scatter(
            values.loc[similar, "value"],
            jitter[similar],
            s=22,
            color=style.OKABE_ITO["sky_blue"],
            edgecolor="#333333",
            linewidth=0.3,
            label="Similar councils",
        )
        ax.axvline(row.england, color="black", linewidth=1.2, label="England")
        if np.isfinite(row.region):
            ax.axvline(
                row.region,
                color=style.OKABE_ITO["bluish_green"],
                linewidth=1.2,
                linestyle="--",
                label=f"{bench.region} (pooled)",
            )
        if np.isfinite(row.council):
            ax.scatter(
                [row.council],
                [0],
                s=90,
                color=style.OKABE_ITO["vermillion"],
                edgecolor="black",
                zorder=5,
                marker="D",
                label=bench.name,
            )
        ax.set_yticks([])
        ax.set_ylim(-0.5, 0.5)
        ax.grid(axis="y", visible=False)
        ax.grid(axis="x", visible=True)
        ax.spines["left"].set_visible(False)
        unit = row.unit
        ax.xaxis.set_major_formatter(
            style.SHARE if unit == "share" else (style.THOUSANDS if unit == "gbp" else style.COUNTS)
        )
        rank = (
            f"rank {row.rank:.0f} of {row.councils_ranked}"
            if pd.notna(row.rank)
            else "not ranked (flagged)"
        )
        ax.set_title(
            f"{row.label}, {row.period}: {format_value(row.council, unit)} ({rank})",
            fontsize=9,
            fontweight="normal",
        )
    handles, labels = axes[0].get_legend_handles_labels()
    fig.suptitle(
        f"{bench.name} among all councils (each grey dot is a council)",
        x=0.01,
        ha="left",
        fontweight="bold",
        fontsize=11,
    )
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    _legend_below(fig, handles, labels, columns=4)
    top = table.dropna(subset=["percentile"]).sort_values("percentile", ascending=False)
    highest, lowest = top.iloc[0], top.iloc[-1]
    # the words follow the rank: a council ranked 84 of 153 is mid-table, not "lowest"
    reading = (
        f"Against all councils, {bench.name}'s highest position is on “{highest['label']}”: "
        f"{format_value(highest['council'], highest['unit'])}, rank {highest['rank']:.0f} of "
        f"{int(highest['councils_ranked'])}, {_standing(highest['percentile'])} (England "
        f"{format_value(highest['england'], highest['unit'])}); its lowest is on "
        f"“{lowest['label']}”: rank {lowest['rank']:.0f} of {int(lowest['councils_ranked'])}, "
        f"{_standing(lowest['percentile'])}."
    )
    data = table[
        [
            "indicator",
            "period",
            "council",
            "england",
            "region",
            "similar_councils_median",
            "rank",
            "councils_ranked",
            "percentile",
        ]
    ]
    return Chart(
        "14_benchmarks_position",
        "benchmarks",
        f"{bench.name} against all councils",
        reading,
        fig,
        data,
        ["Published figures flagged as likely errors are left out."],
    )


def benchmark_trends(bench: Benchmarks) -> Chart:
    trends = bench.trends
    fig, (left, right) = _subplots(1, 2, figsize=(style.FIGURE_WIDTH + 2, 4.2))
    colours = {
        "council": style.OKABE_ITO["vermillion"],
        "England": "black",
        "region": style.OKABE_ITO["bluish_green"],
        "similar councils": style.OKABE_ITO["sky_blue"],
    }
    names = {
        "council": bench.name,
        "England": "England",
        "region": f"{bench.region} (pooled)",
        "similar councils": "Similar councils (median)",
    }
    for ax, measure, title, formatter in (
        (left, "plans_index", "EHC plans, January census (first year = 100)", style.COUNTS),
        (
            right,
            "share_independent_special",
            "Share of plans in independent and non-maintained special schools",
            style.SHARE,
        ),
    ):
        for series, colour in colours.items():
            part = trends[(trends["measure"] == measure) & (trends["series"] == series)]
            good = part[~part["flagged"]]
            ax.plot(
                good["census_year"],
                good["value"],
                color=colour,
                linewidth=2.2 if series == "council" else 1.4,
                marker="o" if series == "council" else None,
                markersize=3,
                label=names[series],
            )
            bad = part[part["flagged"]]
            if len(bad):
                ax.scatter(
                    bad["census_year"],
                    bad["value"],
                    s=60,
                    facecolor="white",
                    edgecolor=colour,
                    linewidth=1.5,
                    zorder=5,
                    label="Flagged published figure (left out)",
                )
        ax.yaxis.set_major_formatter(formatter)
        ax.set_title(title, fontsize=10)
        ax.set_xticks(sorted(part["census_year"].unique()))
        ax.tick_params(axis="x", rotation=45)
    handles, labels = right.get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    _legend_below(fig, handles, labels, columns=5)
    plans = trends[trends["measure"] == "plans_index"]
    first, last = int(plans["census_year"].min()), int(plans["census_year"].max())

    def value(series):
        return plans[(plans["series"] == series) & (plans["census_year"] == last)]["value"]

    own, england = value("council"), value("England")
    flagged = trends[(trends["series"] == "council") & trends["flagged"]]
    reading = (
        f"{bench.name}'s EHC plans grew {own.iloc[0] / 100:.1f}-fold from January {first} to "
        f"January {last}, against {england.iloc[0] / 100:.1f}-fold for England"
    )
    if len(flagged):
        reading += (
            "; its published figures for January "
            f"{', '.join(str(y) for y in sorted(flagged['census_year'].unique()))} "
            "look wrong and are left out"
        )
    return Chart(
        "15_benchmarks_trends",
        "benchmarks",
        "Caseload growth and placement mix over time",
        reading + ".",
        fig,
        trends,
    )


CHARTS = [
    funding_and_balance,
    sensitivity,
    spend_latest_year,
    spend_trend,
    dbv_panels,
    caseload_by_need,
    caseload_by_age_group,
    caseload_by_age_at_plan_start,
    provision_starts,
    new_and_ceased,
    moves_matrix,
    spend_drivers,
    mitigation_waterfall,
    gap_to_balance,
]


# the charts drawn again for publication, the only ones suppression changes: they show counts of
# children, or money of a provision type whose count a year hides (one child's cost)
COUNT_CHARTS = {
    spend_latest_year,
    spend_trend,
    dbv_panels,
    caseload_by_need,
    caseload_by_age_group,
    caseload_by_age_at_plan_start,
    provision_starts,
    new_and_ceased,
    moves_matrix,
}


def _standing(percentile: float) -> str:
    """Where a percentile (share of councils with a lower value) places a council, in words."""
    if percentile >= 75:
        return "among the highest quarter of councils"
    if percentile <= 25:
        return "among the lowest quarter of councils"
    return "in the middle half of councils"


def build_charts(
    data: ReportData, threshold: int | None = None, reuse: list[Chart] | None = None
) -> list[Chart]:
    """Every chart, in report order. With `reuse` (the same data's charts for another audience),
    charts that show no counts of children are taken from it rather than drawn again."""
    with style.context():
        if reuse is None:
            return [chart(data, threshold) for chart in CHARTS]
        charts = []
        for chart, previous in zip(CHARTS, reuse, strict=False):
            if chart not in COUNT_CHARTS:
                charts.append(previous)
                continue
            drawn = chart(data, threshold)
            unchanged = drawn.data.equals(previous.data) and drawn.notes == previous.notes
            charts.append(previous if unchanged and drawn.reading == previous.reading else drawn)
        return charts


def build_benchmark_charts(bench: Benchmarks) -> list[Chart]:
    with style.context():
        return [benchmark_position(bench), benchmark_trends(bench)]
