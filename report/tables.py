"""The report's tables: the DSG deficit management plan tables (EHC plans by placement type,
expenditure by provision and S251 line, funding and balances, each actual then forecast,
unmitigated and mitigated), the mitigation log, the gap to balance and data quality.

Every forecast figure is `_central`, the mean of the simulated paths, so totals are the sums of
their rows and the same quantity reads the same in every table (p10/p90 give the bands).

Each table is a DataFrame with one column per financial year where the DfE template has years
across, so a finance officer can paste a row block straight into it. The workbook and the HTML
both print these frames; the tests reconcile them with the marts and the forecast tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecast.backtest import verdict
from forecast.baselines import LABELS
from forecast.mitigations import example_not_applied
from forecast.model import MITIGATED, UNMITIGATED
from forecast.years import fy_of_census_year
from serving.suppression import TOTAL, Line, recoverable_cells

from .charts import SENSITIVITY_LABELS
from .data import (
    DFE_PLACEMENT,
    ReportData,
    carried_by_type,
    carried_years,
    hidden_at_base,
    spend_forecast_published,
    spend_published,
)

SCENARIOS = ("unmitigated", "mitigated")
BROUGHT_FORWARD = "Balance brought forward (1 April)"
FUNDING_LINES = {
    "hnb_allocation_gbp": "High needs block allocation",
    "place_deductions_gbp": "less: place deductions (academies and colleges)",
    "block_transfer_gbp": "Block transfer into the high needs block",
    "la_contribution_gbp": "Council contribution",
    "other_income_gbp": "Other income",
}


@dataclass
class Table:
    name: str  # unique, letters, digits and underscores (the workbook's table name)
    title: str
    frame: pd.DataFrame
    kind: str = "count"  # count | money | mixed: how the year columns are formatted
    note: str = ""
    total_rows: list[str] = field(
        default_factory=list
    )  # first-column labels of rows that are totals
    suppressed: pd.DataFrame | None = None  # True where a count was suppressed for publication

    def is_suppressed(self, row: int, column: str) -> bool:
        return self.suppressed is not None and bool(self.suppressed.iloc[row][column])

    def column_kind(self, column) -> str:
        """How a column's numbers read: plain (a year), pounds (per pupil, placement …), money (£
        totals), decimal (rates, shares, distances) or count."""
        name = str(column)
        lower = name.lower()
        # a census year, not a count of plans on one ("EHC plans, that year's census" read 1847)
        if ("census" in lower and "plans" not in lower) or lower in (
            "year to january",
            "calendar year",
        ):
            return "plain"
        # quarantined money is in pounds: £3,527 of quarantined rows read £0.00m
        if "(£ per" in name or "unit cost" in lower or "avg_annual_cost" in lower:
            return "pounds"
        if lower.startswith("quarantined") and "£" in name:
            return "pounds"
        if (
            "£" in name
            or "gbp" in lower
            or any(
                word in lower
                for word in ("spend", "saving", "balance", "funding", "effect on cumulative")
            )
        ):
            return "money"
        if self.kind == "money" and name in _year_columns(self.frame):
            return "money"
        if any(
            word in lower
            for word in ("distance", " per ", "per_", "full-time", "share", "value", " rate")
        ):
            return "decimal"
        return "count"

    def cell_kind(self, row: int, column) -> str:
        """`column_kind`, or the row's own where a column mixes units: an assumption's Amount
        reads in its Unit (£; full-time places a plan and plans per 1,000 are decimals: 0.96
        places a plan had read 1)."""
        if str(column) == "Amount" and "Unit" in self.frame.columns:
            unit = str(self.frame["Unit"].iloc[row])
            if unit.startswith("£"):
                return "pounds"
            if " per " in unit or " a " in unit:
                return "decimal"
        return self.column_kind(column)


def _year_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if isinstance(c, str) and len(c) == 7 and c[4] == "-"]


def _by_year(actual: pd.DataFrame, future: pd.DataFrame, rows: list[str]) -> pd.DataFrame:
    """Census-year actuals then forecast years, as financial-year columns."""
    actual = actual.T
    actual.columns = [fy_of_census_year(int(y)) for y in actual.columns]
    future = future.copy()
    future.columns = [fy_of_census_year(int(y)) for y in future.columns]
    return pd.concat([actual, future], axis=1).reindex(rows)


def _caseload_forecast(data: ReportData, scenario: str) -> pd.DataFrame:
    future = data.caseload_forecast[
        (data.caseload_forecast["scenario"] == scenario)
        & (data.caseload_forecast["provision_type"] != "total")
    ]
    return future.pivot_table(
        index="provision_type", columns="year", values="plans_central"
    ).reindex(data.provisions)


def _with_total(frame: pd.DataFrame, label_column: str, label: str = "Total") -> pd.DataFrame:
    """The frame with a total row summing its numeric columns (suppressed cells left out)."""
    numeric = [
        c
        for c in frame.columns
        if c != label_column
        and pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_bool_dtype(frame[c])
    ]
    total = {label_column: label, **{c: frame[c].sum(min_count=1) for c in numeric}}
    for column in frame.columns:
        total.setdefault(column, "")
    return pd.concat([frame, pd.DataFrame([total])], ignore_index=True)


def ehcp_by_placement(data: ReportData, scenario: str, threshold: int | None = None) -> list[Table]:
    """Actual years as published (suppressed for publication); forecast years are modelled, not
    children, and never suppressed."""
    published, categories = data.caseload_published(threshold)
    provisions = published.cells
    whole = _caseload_forecast(data, scenario)
    future_categories = whole.groupby(lambda p: DFE_PLACEMENT[p], sort=False).sum()
    # for publication, a type hidden on the last census has no forecast (nor its category): it
    # would give the census count back
    hidden = hidden_at_base(data, threshold)
    future = whole.copy()
    future.loc[future.index.isin(hidden)] = np.nan
    future_categories.loc[future_categories.index.isin({DFE_PLACEMENT[p] for p in hidden})] = np.nan
    actual_years = [fy_of_census_year(int(y)) for y in data.caseload.index]
    census_totals = published.row_totals.copy()  # NaN where a total had to be suppressed too
    census_totals.index = actual_years
    totals = pd.concat([census_totals, whole.sum().rename(lambda y: fy_of_census_year(int(y)))])
    by_category = _by_year(categories, future_categories, list(categories.columns))
    by_category.index.name = "DfE placement category"
    category = _with_total(by_category.reset_index(), "DfE placement category")
    category.iloc[-1, 1:] = totals.to_numpy()
    detail = _by_year(provisions, future, data.provisions)
    detail.insert(0, "Provision type", [data.labels[p] for p in detail.index])
    detail.insert(1, "DfE placement category", [DFE_PLACEMENT[p] for p in detail.index])
    detail = _with_total(detail.reset_index(drop=True), "Provision type")
    detail.iloc[-1, 2:] = totals.to_numpy()
    first_forecast = data.forecast_years[0]
    note = (
        "EHC plans at the January census inside each financial year: actual to "
        f"{actual_years[-1]}, forecast "
        f"(central: the mean of the simulated paths, {scenario}) from {first_forecast}."
    )
    return [
        Table(
            f"ehcp_by_category_{scenario}",
            f"EHC plans by placement type, {scenario} (DfE template categories)",
            category,
            "count",
            note,
            ["Total"],
        ),
        Table(
            f"ehcp_by_provision_{scenario}",
            f"EHC plans by provision type, {scenario}",
            detail,
            "count",
            note,
            ["Total"],
        ),
    ]


def expenditure_by_line(data: ReportData, threshold: int | None = None) -> list[Table]:
    """High needs spend by S251 line and provision type: actual complete years, then the forecast
    (unmitigated and mitigated) split across lines in each provision type's last complete year's
    proportions. For publication, an actual year in which a provision type's spend is hidden (one
    child's cost, Provision spend) shows no split by type at all: the lines' totals (published
    beside it) less the other types' cells would give a hidden type's spend back."""
    if data.spend_by_line is None:
        return []
    years = data.complete_years
    published = spend_published(data, threshold)
    # (the complete years': a year still in progress is not in these tables' actual columns)
    split_hidden = sorted(
        set(published.loc[published["spend_gbp"].isna(), "financial_year"]) & set(years)
    )
    # a first forecast year that keeps the ledger's postings, where a type's are hidden
    future_shown = spend_forecast_published(data, threshold)
    posted_hidden = sorted(
        set(future_shown.loc[future_shown["spend_gbp_central"].isna(), "financial_year"])
    )
    actual = data.spend_by_line[data.spend_by_line["financial_year"].isin(years)]
    base_year = years[-1]
    base = actual[actual["financial_year"] == base_year]
    shares = base.groupby(["provision_type", "s251_line"])["spend_gbp"].sum()
    shares = shares / shares.groupby(level=0).transform("sum")
    shares = shares.replace([np.inf, -np.inf], np.nan).fillna(0.0)
    descriptions = dict(
        zip(data.spend_by_line["s251_line"], data.spend_by_line["s251_description"], strict=False)
    )
    tables = []
    for scenario in SCENARIOS:
        future = data.spend_forecast[data.spend_forecast["scenario"] == scenario]
        rows = actual[["s251_line", "provision_type", "financial_year", "spend_gbp"]]
        split = []
        for r in future.itertuples():
            if r.provision_type in shares.index.get_level_values(0):
                for line, share in shares.loc[r.provision_type].items():
                    split.append(
                        (line, r.provision_type, r.financial_year, r.spend_gbp_central * share)
                    )
        rows = pd.concat([rows, pd.DataFrame(split, columns=rows.columns)])
        wide = rows.pivot_table(
            index=["s251_line", "provision_type"],
            columns="financial_year",
            values="spend_gbp",
            aggfunc="sum",
            fill_value=0.0,
        )
        wide = wide.reset_index()
        wide["order"] = wide["s251_line"].map(
            lambda line: tuple(int(part) for part in line.split("."))
        )
        wide["provision_order"] = wide["provision_type"].map(list(data.labels).index)
        wide = wide.sort_values(["order", "provision_order"]).drop(
            columns=["order", "provision_order"]
        )
        wide.insert(1, "S251 line description", wide["s251_line"].map(descriptions))
        wide["provision_type"] = wide["provision_type"].map(data.labels)
        wide = wide.rename(columns={"s251_line": "S251 line", "provision_type": "Provision type"})
        wide = _with_total(wide, "S251 line")
        hidden = [year for year in (*split_hidden, *posted_hidden) if year in wide.columns]
        wide.loc[wide.index[:-1], hidden] = np.nan  # the total row keeps the year's whole spend
        suppressed = _hidden_in(wide, hidden) if hidden else None
        tables.append(
            Table(
                f"expenditure_by_line_{scenario}",
                f"High needs expenditure by S251 line and provision type, {scenario} (£)",
                wide,
                "money",
                f"Actual to {base_year} from the ledger (marts.fct_spend_by_s251_line); forecast "
                f"years ({scenario}, central) "
                f"split across S251 lines in each provision type's {base_year} proportions."
                + (
                    f" {', '.join(hidden)}: not split by provision type (a type's spend there "
                    "is one child's cost)."
                    if hidden
                    else ""
                ),
                ["Total"],
                suppressed,
            )
        )
    by_line = actual.pivot_table(
        index="s251_line",
        columns="financial_year",
        values="spend_gbp",
        aggfunc="sum",
        fill_value=0.0,
    ).reset_index()
    by_line = by_line.iloc[
        sorted(
            range(len(by_line)),
            key=lambda i: tuple(int(x) for x in by_line["s251_line"].iloc[i].split(".")),
        )
    ]
    by_line.insert(1, "S251 line description", by_line["s251_line"].map(descriptions))
    by_line = _with_total(by_line.rename(columns={"s251_line": "S251 line"}), "S251 line")
    line_hidden = None
    if split_hidden:
        hidden_types = published.loc[
            published["spend_gbp"].isna(), ["financial_year", "provision_type"]
        ]
        line_hidden = pd.DataFrame(False, index=by_line.index, columns=by_line.columns)
        for year in split_hidden:
            of_year = actual[actual["financial_year"] == year]
            types = set(hidden_types.loc[hidden_types["financial_year"] == year, "provision_type"])
            spend = of_year.pivot_table(
                index="s251_line",
                columns="provision_type",
                values="spend_gbp",
                aggfunc="sum",
                fill_value=0.0,
            ).reindex(index=by_line["S251 line"].iloc[:-1], fill_value=0.0)
            line_hidden.loc[by_line.index[:-1], year] = _lines_to_hide(
                spend.to_numpy(dtype=float), spend.columns.isin(list(types))
            )
        by_line = by_line.mask(line_hidden)
    tables.insert(
        0,
        Table(
            "expenditure_by_s251_line",
            "High needs expenditure by S251 line, actual (£)",
            by_line,
            "money",
            "Every high needs transaction in the ledger, by the S251 line it was posted to."
            + (
                " For publication, a line whose spend a hidden provision type's makes up most "
                "of is hidden (it would be that type's spend, one child's cost), with another."
                if line_hidden is not None and line_hidden.any().any()
                else ""
            ),
            ["Total"],
            line_hidden,
        ),
    )
    return tables


def _hidden_in(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The cells of `columns` (actual years) a publication table leaves empty: hidden."""
    hidden = frame.isna()
    hidden.loc[:, ~frame.columns.isin(columns)] = False
    return hidden


def _lines_to_hide(spend: np.ndarray, hidden_type: np.ndarray) -> np.ndarray:
    """Which of a year's S251 lines to hide, from its spend by line × provision type (rows in the
    table's line order) and the provision types whose spend that year is hidden: the lines more
    than half of whose spend is a hidden type's (the line's total would be near that type's
    spend: the dominance rule of disclosure control for money), and as complements the fewest
    others, smallest first, until neither such a line's total nor a hidden type's spend can be
    worked out. What an outsider knows: the lines shown, the year's total, every provision type's
    spend the provision tables show, and which lines carry which types (a line of central
    services is central spend), solved as serving.suppression solves a table's sums. One
    complement was chosen by the line table alone: a line of central spend, which the central row
    beside it gave back, and the line hidden with it after it (AP and EOTAS spend of two children,
    to the penny)."""
    lines, types = spend.shape
    totals = spend.sum(axis=1)
    from_hidden = spend[:, hidden_type].sum(axis=1)
    dominated = (np.abs(from_hidden) > 0.5 * np.abs(totals)) & (from_hidden != 0)
    # as one table for the suppression mechanism: each line's spend on each type (never shown),
    # then the lines' totals, the types' totals and the year's total, with the sums between them
    cells = np.argwhere(spend != 0)
    if not len(cells):
        return np.zeros(lines, dtype=bool)
    line_at, type_at, year_at = len(cells), len(cells) + lines, len(cells) + lines + types
    relations = [
        Line(np.flatnonzero(cells[:, 0] == i), line_at + i)
        for i in range(lines)
        if (cells[:, 0] == i).any()
    ]
    relations += [
        Line(np.flatnonzero(cells[:, 1] == t), type_at + t)
        for t in range(types)
        if (cells[:, 1] == t).any()
    ]
    relations.append(Line(np.arange(line_at, type_at), year_at))
    has_cells = np.zeros(types, dtype=bool)
    has_cells[cells[:, 1]] = True
    targets = np.concatenate(
        [line_at + np.flatnonzero(dominated), type_at + np.flatnonzero(hidden_type & has_cells)]
    )

    def disclosed(hidden_lines: np.ndarray) -> int:
        hidden = np.concatenate(
            [np.ones(len(cells), dtype=bool), hidden_lines, hidden_type, [False]]
        )
        return int(np.isin(targets, recoverable_cells(hidden, relations)).sum())

    hidden = dominated.copy()
    left = disclosed(hidden)
    while left:
        candidates = sorted(
            np.flatnonzero(~hidden & (totals != 0)), key=lambda i: (abs(totals[i]), i)
        )
        for line in candidates:
            trial = hidden.copy()
            trial[line] = True
            if (after := disclosed(trial)) < left:
                hidden, left = trial, after
                break
        else:
            # no single line more protects them: the year shows no line but its total
            return totals != 0
    return hidden


def expenditure_by_provision(
    data: ReportData, scenario: str, threshold: int | None = None
) -> Table:
    """Actual spend by provision type, then the forecast; for publication a type's actual spend
    in a year whose placement count is hidden is hidden too (one child's cost), as in Provision
    spend, and the year's total stays the whole year's."""
    years = data.complete_years
    order = list(data.labels)

    def actual(spend: pd.DataFrame) -> pd.DataFrame:  # (a hidden cell stays null)
        spend = spend[spend["financial_year"].isin(years)]
        return spend.pivot(
            index="provision_type", columns="financial_year", values="spend_gbp"
        ).reindex(order)

    def future_of(spend: pd.DataFrame) -> pd.DataFrame:  # (a hidden cell stays null)
        return spend[spend["scenario"] == scenario].pivot(
            index="provision_type", columns="financial_year", values="spend_gbp_central"
        )

    future = future_of(data.spend_forecast)
    # a first forecast year that keeps the ledger's postings: a type whose postings are hidden
    future_hidden = future_of(spend_forecast_published(data, threshold)).isna() & future.notna()
    whole = actual(data.spend)
    hidden = actual(spend_published(data, threshold)).isna() & whole.notna()
    # a year not yet complete in the finance extract, estimated by type as Funding and
    # balances estimates it whole (it was missing here: a column jumped two years)
    carried = carried_by_type(data)
    whole = pd.concat([whole, carried, future], axis=1).reindex(order).fillna(0.0)
    if threshold is not None:
        # census plans × places per plan × unit cost: with the assumptions' unit costs it gives
        # back the census's counts, which the caseload hides; its total is Funding and balances'
        hidden = hidden.reindex(columns=whole.columns, fill_value=False)
        hidden[list(carried.columns)] = True
        hidden |= future_hidden.reindex(index=whole.index, columns=whole.columns, fill_value=False)
    wide = whole.mask(hidden.reindex(columns=whole.columns, fill_value=False))
    wide.insert(0, "Provision type", [data.labels[p] for p in wide.index])
    wide.insert(1, "DfE placement category", [DFE_PLACEMENT[p] for p in wide.index])
    wide = _with_total(wide.reset_index(drop=True), "Provision type")
    wide.iloc[-1, 2:] = whole.sum().to_numpy()  # the year's whole spend, hidden cells included
    posted = [y for y in future_hidden.columns if future_hidden[y].any()]
    suppressed = (
        _hidden_in(wide, [*years, *carried.columns, *posted]) if threshold is not None else None
    )
    return Table(
        f"expenditure_by_provision_{scenario}",
        f"High needs expenditure by provision type, {scenario} (£)",
        wide,
        "money",
        f"Actual to {years[-1]} (marts.fct_provision_spend), "
        + (
            f"then {', '.join(carried.columns)}, not complete in the finance extract, estimated "
            "(forecast.assumptions), "
            if len(carried.columns)
            else ""
        )
        + f"then the {scenario} forecast (forecast.spend, central: the mean of the simulated "
        "paths; the total ties to Funding and balances).",
        ["Total"],
        suppressed,
    )


def funding_and_balances(data: ReportData) -> list[Table]:
    actual = data.position[data.position["is_complete_year"]].set_index("financial_year")
    # a year the budget file gives no allocation for (before its first) has unknown funding,
    # not £0: its lines are left empty, like its in-year balance
    budgeted = actual["has_budget"].astype(bool)
    rows = {label: actual[column].where(budgeted) for column, label in FUNDING_LINES.items()}
    rows["less: place deductions (academies and colleges)"] = -actual["place_deductions_gbp"].where(
        budgeted
    )
    rows |= {
        "Total high needs funding": actual["funding_gbp"].where(budgeted),
        "High needs spend": actual["spend_gbp"],
        "In-year balance (funding − spend)": actual["in_year_balance_gbp"],
        # the first year's: the budget file's balance brought forward (or what it implies for a
        # year before it); then each year's is the year before's close
        BROUGHT_FORWARD: actual["cumulative_balance_gbp"] - actual["in_year_balance_gbp"],
        "Cumulative DSG high needs balance": actual["cumulative_balance_gbp"],
    }
    history = pd.DataFrame(rows).T
    history.index.name = "Line"
    tables = [
        Table(
            "funding_and_balances_actual",
            "High needs funding and balances, actual (£)",
            history.reset_index(),
            "money",
            "From the budget file and the ledger (marts.fct_hnb_position). Negative balance = "
            "deficit.",
            ["Total high needs funding"],
        )
    ]
    # a year between the last complete one and the forecast (a refresh before its ledger is whole)
    # is in the balance every scenario starts from, estimated: a column before the forecast's, so
    # the first forecast year's cumulative balance chains to it
    carried = carried_years(data)
    in_year = carried["in_progress_year_funding"] - carried["in_progress_year_spend"]
    start = actual["cumulative_balance_gbp"].iloc[-1] if len(actual) else np.nan
    carried_lines = pd.DataFrame(
        {
            "Total high needs funding": carried["in_progress_year_funding"],
            "High needs spend": carried["in_progress_year_spend"],
            "In-year balance (funding − spend)": in_year,
            "Cumulative DSG high needs balance": start + in_year.cumsum(),
        }
    )
    for scenario in SCENARIOS:
        part = data.position_forecast[data.position_forecast["scenario"] == scenario].set_index(
            "financial_year"
        )
        lines = pd.DataFrame(
            {
                "Total high needs funding": part["funding_gbp"],
                "High needs spend": part["spend_gbp_central"],
                "High needs spend (p10)": part["spend_gbp_p10"],
                "High needs spend (p90)": part["spend_gbp_p90"],
                "In-year balance (funding − spend)": part["in_year_balance_gbp_central"],
                "Cumulative DSG high needs balance": part["cumulative_balance_gbp_central"],
                "Cumulative balance (p10)": part["cumulative_balance_gbp_p10"],
                "Cumulative balance (p90)": part["cumulative_balance_gbp_p90"],
            }
        )
        forecast = (pd.concat([carried_lines, lines])[lines.columns] if len(carried) else lines).T
        forecast.index.name = "Line"
        sources = ", ".join(f"{fy}: {source}" for fy, source in part["funding_source"].items())
        if len(carried):
            sources = (
                f"{', '.join(carried.index)} (not complete in the finance extract): "
                "forecast.assumptions, spend estimated, as in every scenario; " + sources
            )
        tables.append(
            Table(
                f"funding_and_balances_{scenario}",
                f"High needs funding and balances, forecast {scenario} (£)",
                forecast.reset_index(),
                "money",
                f"forecast.hnb_position, {scenario}: central figures (the mean of the simulated "
                "paths) that "
                f"add up. Funding: {sources}. p10/p90: the band holding 80% of the simulated "
                "paths, of each "
                "line on its own.",
            )
        )
    return tables


KIND_ORDER = {"saving": 0, "cost": 1, "funding": 2}
# the mitigation log's last rows: the effects measured one at a time add up to the first; the
# mitigations overlap (several act on the same placements), so the mitigated forecast differs
EACH_ALONE = "Total: every mitigation, each measured alone"
TOGETHER = "Acting together: what their overlap changes"
MITIGATED_FORECAST = "The mitigated forecast against the unmitigated"
KIND_PLURAL = {"saving": "savings", "cost": "costs", "funding": "funding"}
STATUS_ORDER = {"assured": 0, "assessed": 1}


EXAMPLE_LOG_NOTE = (
    "These are the mitigations of the shipped example log (forecast/config/"
    "mitigations.example.yml), not this council's plan: the mitigated figures illustrate the "
    "product until HIGHNEEDS_MITIGATIONS names the council's own log, or mitigations.yml is put "
    "in its landing folder. "
)


def applies_example_mitigations(data: ReportData) -> bool:
    """Whether the mitigated scenarios applied the shipped example log (forecast.assumptions'
    mitigation_log row): a council without a log of its own had its mitigated balance built
    from the example's block transfer and free school, and the report did not say so."""
    frame = getattr(data, "assumptions", None)
    if frame is None or frame.empty:
        return False
    log = frame.loc[frame["assumption"].eq("mitigation_log"), "source"]
    # (with a mitigation it could not price left out, named after the example's words)
    return any(example_not_applied(str(source)) is not None for source in log)


def mitigation_log(data: ReportData) -> Table:
    """Each mitigation's in-year effect on the balance, savings and costs first and funding (income
    the Forum or partners must agree, never a saving) apart, with assured and assessed subtotals
    of each; the years add up to the cumulative column."""
    effects = data.mitigations
    wide = effects.pivot_table(
        index="mitigation",
        columns="financial_year",
        values="in_year_balance_effect_gbp",
        aggfunc="sum",
        sort=False,
    )
    if wide.columns.empty:
        # an empty log still has the forecast's years: its totals (nil) and the mitigated
        # forecast's own effect are read per year like any other
        wide = wide.reindex(columns=list(data.forecast_years))
    info = effects.drop_duplicates("mitigation").set_index("mitigation")
    horizon = data.horizon
    at_horizon = effects[effects["financial_year"] == horizon].set_index("mitigation")[
        "cumulative_balance_effect_gbp"
    ]
    cumulative = f"Effect on cumulative balance by {horizon}"
    log = pd.DataFrame(
        {
            "Mitigation": wide.index,
            "Kind": info.loc[wide.index, "kind"].to_numpy(),
            "Status": info.loc[wide.index, "status"].to_numpy(),
            "DBV line of enquiry": info.loc[wide.index, "line_of_enquiry"].to_numpy(),
            "Lever": info.loc[wide.index, "lever"].to_numpy(),
            "Provision types": info.loc[wide.index, "provision_types"].to_numpy(),
            "Start year": info.loc[wide.index, "start_year"].to_numpy(),
        }
    )
    for year in wide.columns:
        log[year] = wide[year].to_numpy()
    log[cumulative] = at_horizon.reindex(wide.index).to_numpy()
    log = log.sort_values(
        ["Kind", "Status"],
        key=lambda c: c.map(KIND_ORDER if c.name == "Kind" else STATUS_ORDER),
        kind="stable",
    ).reset_index(drop=True)
    money = [*wide.columns, cumulative]
    blank = dict.fromkeys(log.columns, "")
    rows, totals = [], []
    for (kind, status), part in log.groupby(["Kind", "Status"], sort=False):
        rows += part.to_dict("records")
        label = f"Subtotal: {status} {KIND_PLURAL[kind]}"
        rows.append(
            {
                **blank,
                "Mitigation": label,
                "Kind": kind,
                "Status": status,
                **{c: part[c].sum() for c in money},
            }
        )
        totals.append(label)
    for kind_label, kinds in (
        ("Total: savings less modelled costs", ("saving", "cost")),
        ("Total: funding", ("funding",)),
    ):
        part = log[log["Kind"].isin(kinds)]
        if len(part):
            rows.append({**blank, "Mitigation": kind_label, **{c: part[c].sum() for c in money}})
            totals.append(kind_label)
    alone = {c: log[c].sum() for c in money}
    rows.append({**blank, "Mitigation": EACH_ALONE, **alone})
    totals.append(EACH_ALONE)
    together = _mitigated_against_unmitigated(data, list(wide.columns), cumulative)
    if together is not None:
        rows.append({**blank, "Mitigation": TOGETHER, **{c: together[c] - alone[c] for c in money}})
        rows.append({**blank, "Mitigation": MITIGATED_FORECAST, **together})
        totals += [TOGETHER, MITIGATED_FORECAST]
    return Table(
        "mitigation_log",
        "Mitigation log: effect on the balance per year (£)",
        pd.DataFrame(rows),
        "money",
        (EXAMPLE_LOG_NOTE if applies_example_mitigations(data) else "")
        + "Each mitigation's own effect on the in-year balance against the unmitigated forecast "
        "(spend avoided, "
        "or for kind funding the income gained: a block transfer or contribution is funding the "
        "Schools' "
        "Forum or a partner must agree each year, never a saving; mean of the path-by-path "
        "differences, so "
        "the years add up to the cumulative column), from forecast.mitigations. Each is measured "
        "alone; acting together they overlap (several act on the same placements), so the last "
        "rows give what the overlap changes and the mitigated forecast's own effect "
        "(forecast.hnb_position, mitigated less unmitigated, central). Together they act in the "
        "mitigations file's order, each on what the ones before it left: two cuts of 10% take "
        "19%, and a shift acts on the children an earlier shift placed, so moving a line can "
        "change the mitigated forecast. The forecast steps a year at a time (a January census "
        "and its financial year's spend): a mitigation acts on the whole of its start year, so "
        "one that begins in September is counted from the April before. A cost to deliver the "
        "mitigations file states (cost_gbp) is in these rows only when modelled as a cost "
        "mitigation: the totals, as the mitigated balance, leave a stated one out (named beside "
        "the balance).",
        totals,
    )


def _mitigated_against_unmitigated(
    data: ReportData, years: list[str], cumulative: str
) -> dict[str, float] | None:
    """The mitigated forecast's in-year balance less the unmitigated one's, per year, and its
    cumulative balance's at the horizon (central: the mean of the paths, as each mitigation's
    effect is the mean of its path-by-path differences); None without the forecast."""
    position = getattr(data, "position_forecast", None)
    if position is None or position.empty:
        return None
    by = position.set_index(["scenario", "financial_year"])
    try:
        change = {
            year: float(
                by.loc[(MITIGATED, year), "in_year_balance_gbp_central"]
                - by.loc[(UNMITIGATED, year), "in_year_balance_gbp_central"]
            )
            for year in years
        }
        change[cumulative] = float(
            by.loc[(MITIGATED, data.horizon), "cumulative_balance_gbp_central"]
            - by.loc[(UNMITIGATED, data.horizon), "cumulative_balance_gbp_central"]
        )
    except KeyError:
        return None
    return change


ASSUMPTION_LABELS = {
    "funding_growth": "Funding growth after the budget file",
    "funding_gbp": "High needs funding",
    "unit_cost_inflation": "Unit-cost inflation (cash)",
    "pay_inflation": "Pay inflation",
    "price_inflation": "Price inflation",
    "pay_share": "Pay share of unit costs",
    "historical_inflation": "Inflation taken off past unit-cost growth",
    "unit_cost_growth": "Unit-cost growth",
    "unit_cost": "Unit cost the growth starts from",
    "fte_per_plan": "Full-time places per plan",
    "joiners_trend": "New plans: trend",
    "closed_to_children": "Provision type taking no new children",
    "population": "Population",
    "mitigation_log": "Mitigation log",
    "capacity": "Capacity",
    "prevalence_ceiling": "Prevalence ceiling",
    "in_progress_year_funding": "High needs funding of a year not yet complete",
    "in_progress_year_spend": "Spend of a year not yet complete (estimated)",
    "in_progress_year_spend_by_type": "Spend of a year not yet complete, by type (estimated)",
    "in_progress_year_balance": "Balance of a year not yet complete (estimated)",
    "first_year_posted_spend": "Spend the ledger has posted of the first forecast year",
    # its year is the one it closes (31 March), which the first forecast year brings forward
    "balance_brought_forward": "Cumulative balance at the year's end, the forecast's start",
}


CARRIED_UNIT_COST = re.compile(r"(\d{4}-\d{2})'s unit cost \(£[\d,]+\)")
# the years a unit-cost growth was measured over, as forecast.assumptions names them
GROWTH_SPAN = re.compile(r"the growth of (\d{4}-\d{2}) to (\d{4}-\d{2})")


def assumptions(data: ReportData, threshold: int | None = None) -> list[Table]:
    """forecast.assumptions: each assumption the balance hangs on, its value and its source. For
    publication, a unit cost carried from a year whose unit cost Provision spend hides (one
    child's cost) is not quoted."""
    if data.assumptions is None:
        return []
    frame = data.assumptions.copy()
    if threshold is not None:
        priced = spend_published(data, threshold).set_index(["financial_year", "provision_type"])

        def unquoted(source, provision):
            def hide(match: re.Match) -> str:
                shown = priced["unit_cost_gbp"].get((match.group(1), provision))
                if shown is not None and pd.notna(shown):
                    return match.group(0)
                return f"{match.group(1)}'s unit cost (hidden: fewer than {threshold} placements)"

            return CARRIED_UNIT_COST.sub(hide, source) if isinstance(source, str) else source

        frame["source"] = [
            unquoted(source, provision)
            for source, provision in zip(frame["source"], frame["provision_type"], strict=True)
        ]
        # a type's base unit cost (and the places per plan it is paid on) is one child's cost
        # where Provision spend hides its unit cost
        own = data.spend.set_index(["financial_year", "provision_type"])["unit_cost_gbp"]

        def hidden(year, provision) -> bool:
            """A unit cost the internal version gives and Provision spend hides."""
            return pd.notna(own.get((year, provision))) and pd.isna(
                priced["unit_cost_gbp"].get((year, provision))
            )

        withheld = {
            provision
            for year, provision in own.index
            if hidden(year, provision)
            and (frame["financial_year"].eq(year) & frame["assumption"].eq("unit_cost")).any()
        }
        carried = frame["assumption"].eq("unit_cost") & frame["source"].str.contains(
            "(hidden: fewer than", regex=False, na=False
        )
        withheld |= set(frame.loc[carried, "provision_type"])
        per_type = frame["assumption"].isin(["unit_cost", "fte_per_plan"]) & frame[
            "provision_type"
        ].isin(withheld)
        # places per plan where the census count is hidden: the places shown ÷ it give it back
        per_type |= frame["assumption"].eq("fte_per_plan") & frame["provision_type"].isin(
            hidden_at_base(data, threshold)
        )
        frame.loc[per_type, "value"] = np.nan
        frame.loc[per_type, "source"] = f"hidden: fewer than {threshold} placements"

        # a type's growth measured from or to a year whose unit cost is hidden: the rate and the
        # unit cost shown at the span's other end gave the hidden one back (EOTAS 2022-23's
        # £23,712 as £29,636 ÷ 1.077³, to 0.1 %); a rate held at its bound gives nothing back
        def spans_hidden(source, provision) -> bool:
            found = GROWTH_SPAN.search(source) if isinstance(source, str) else None
            if found is None or "a year in cash" not in source:
                return False
            return any(hidden(year, provision) for year in found.groups())

        growth = frame["assumption"].eq("unit_cost_growth") & pd.Series(
            [
                spans_hidden(source, provision)
                for source, provision in zip(frame["source"], frame["provision_type"], strict=True)
            ],
            index=frame.index,
        )
        frame.loc[growth, "value"] = np.nan
        frame.loc[growth, "source"] = (
            f"hidden: measured from a year whose unit cost is hidden (fewer than {threshold} "
            "placements)"
        )
        # a carried year's spend by type is its census's plans × the stated places per plan and
        # unit cost: the counts the caseload hides would come back (its total is shown)
        by_type = frame["assumption"].eq("in_progress_year_spend_by_type")
        frame.loc[by_type, "value"] = np.nan
        frame.loc[by_type, "source"] = "not published: with the unit costs it gives counts back"
    frame["assumption"] = frame["assumption"].map(lambda a: ASSUMPTION_LABELS.get(a, a))
    frame["provision_type"] = frame["provision_type"].map(
        lambda p: data.labels.get(p, p) if isinstance(p, str) else ""
    )
    is_rate = frame["unit"].isin(["a year", "share"])
    frame = pd.DataFrame(
        {
            "Assumption": frame["assumption"],
            "Provision type": frame["provision_type"],
            "Year": frame["financial_year"].fillna(""),
            "As a rate (%)": (frame["value"] * 100).where(is_rate),
            "Amount": frame["value"].where(~is_rate),
            "Unit": frame["unit"].fillna(""),
            "Source": frame["source"].fillna(""),
        }
    )
    return [
        Table(
            "assumptions",
            "The forecast's assumptions and their sources",
            frame,
            "mixed",
            "Rates in per cent a year (pay share: per cent of unit cost); amounts in the unit "
            "shown. Every one is a setting ("
            + (
                f"this forecast ran with {settings}"
                if (settings := getattr(data, "forecast_settings", None))
                else "forecast/config/forecast.yml, or the file HIGHNEEDS_FORECAST_SETTINGS names"
            )
            + ") or estimated from the council's history; forecast.assumptions holds them.",
        )
    ]


def headline_assumptions(data: ReportData) -> str:
    """One sentence, beside the headline: the funding and unit-cost assumptions and their
    sources."""
    if data.assumptions is None:
        return ""
    rows = data.assumptions.set_index("assumption")
    funding = data.position_forecast[data.position_forecast["scenario"] == "unmitigated"]
    sources = "; ".join(
        f"{fy}: {source}"
        for fy, source in zip(funding["financial_year"], funding["funding_source"], strict=False)
    )
    text = f"Funding — {sources}."
    growth = rows.loc["funding_growth"] if "funding_growth" in rows.index else None
    if growth is not None and pd.notna(growth["value"]):
        text += f" Funding growth: {growth['value']:+.1%} a year ({growth['source']})."
    if "unit_cost_inflation" in rows.index:
        inflation = rows.loc["unit_cost_inflation"]
        text += (
            f" Unit costs: {inflation['value']:.1%} a year cash inflation ({inflation['source']}"
        )
        for name in ("pay_inflation", "price_inflation"):
            if name in rows.index:
                text += f"; {ASSUMPTION_LABELS[name].lower()}: {rows.loc[name, 'source']}"
        text += (
            "), compounded with each provision type's growth above inflation (see the "
            "assumptions table)."
        )
    # the caseload behind the balance: how it did on the council's past, beside the simple
    # projections, said where the balance is rather than only in the model's section
    if data.backtest is not None and (scored := verdict(data.backtest)) is not None:
        text += " " + scored.sentence() + " (The model and its accuracy, below.)"
    return text


def sensitivity(data: ReportData) -> list[Table]:
    if data.sensitivity is None:
        return []
    at = data.sensitivity[data.sensitivity["financial_year"] == data.horizon].copy()
    # rates are fractions a year, the new-plans variants already per cent: one unit for the column
    in_percent = at["assumption"].str.endswith("_percent")
    at["value"] = at["value"].where(in_percent, at["value"] * 100)
    at["assumption"] = at["assumption"].map(lambda a: SENSITIVITY_LABELS.get(a, a))
    frame = at[
        [
            "assumption",
            "variant",
            "value",
            "cumulative_balance_gbp_central",
            "change_from_central_gbp",
        ]
    ].rename(
        columns={
            "assumption": "Assumption",
            "variant": "Variant",
            "value": "Value (%)",
            "cumulative_balance_gbp_central": f"Cumulative balance {data.horizon} (£)",
            "change_from_central_gbp": "Change from the forecast as set (£)",
        }
    )
    growth = data.sensitivity[data.sensitivity["assumption"] == "funding_growth"]
    unused = (
        " Funding growth changes nothing here: the budget file gives every forecast year's "
        "funding, and growth applies only to years after it."
        if len(growth) and (growth["change_from_central_gbp"].abs() < 0.5).all()
        else ""
    )
    return [
        Table(
            "sensitivity",
            f"Unmitigated cumulative balance at the end of {data.horizon} under other assumptions",
            frame.reset_index(drop=True),
            "mixed",
            "forecast.sensitivity: one assumption changed at a time, on "
            "the same simulated paths. Value: funding growth and unit-cost inflation in per cent a "
            "year; new plans, the change in new plans each year in per cent." + unused,
        )
    ]


AGE_ORDER = ["under 5", "5-10", "11-15", "16-19", "20-25"]


def forecast_by_age_and_need(data: ReportData, threshold: int | None = None) -> list[Table]:
    """Forecast plans by age group (from the cohort model) and by primary need (each age group and
    provision type's forecast split in its need mix on the last census), per scenario. For
    publication, a need whose count on that census is hidden is hidden in every forecast year:
    the split rescaled gave the census count back (Down's syndrome 10.75 of 1,847 → 11, hidden
    in the census table)."""
    if data.caseload_by_age is None:
        return []
    hidden_needs: set[str] = set()
    if threshold is not None:
        census = data._cohort_suppression(threshold)[0]["ehcp_plans_by_need"]
        hidden_needs = set(
            census.loc[
                census["census_year"].eq(data.cohort["census_year"].max())
                & census["provision_type"].eq(TOTAL)
                & census["suppressed"].astype(bool),
                "primary_need",
            ]
        )
    by_age = data.caseload_by_age[data.caseload_by_age["provision_type"] != "total"]
    last = data.cohort["census_year"].max()
    mix = (
        data.cohort[data.cohort["census_year"] == last]
        .groupby(["age_group", "provision_type", "primary_need"])["plans"]
        .sum()
    )
    mix = mix / mix.groupby(level=[0, 1]).transform("sum")
    tables = []
    for scenario in SCENARIOS:
        part = by_age[by_age["scenario"] == scenario]
        ages = part.pivot_table(
            index="age_group", columns="year", values="plans_central", aggfunc="sum"
        )
        ages = ages.reindex([a for a in AGE_ORDER if a in ages.index])
        ages.columns = [fy_of_census_year(int(y)) for y in ages.columns]
        ages = _with_total(ages.rename_axis("Age group").reset_index(), "Age group")
        tables.append(
            Table(
                f"forecast_by_age_{scenario}",
                f"Forecast EHC plans by age group, {scenario}",
                ages,
                "count",
                "forecast.caseload_by_age, central; January census in each financial year. Actual "
                "years: "
                "the Caseload breakdowns sheet.",
                ["Total"],
            )
        )
        joined = part.merge(
            mix.rename("share").reset_index(), on=["age_group", "provision_type"], how="left"
        )
        # an age group × provision type with no plans on the last census has no need mix: its plans
        # are 'not known'
        joined["primary_need"] = joined["primary_need"].fillna("not known")
        joined["share"] = joined["share"].fillna(1.0)
        joined["plans"] = joined["plans_central"] * joined["share"]
        needs = joined.pivot_table(
            index="primary_need", columns="year", values="plans", aggfunc="sum"
        )
        needs = needs.loc[needs.sum(axis=1).sort_values(ascending=False).index]
        needs.columns = [fy_of_census_year(int(y)) for y in needs.columns]
        needs = _with_total(needs.rename_axis("Primary need").reset_index(), "Primary need")
        suppressed = None
        if hidden_needs:
            rows = needs["Primary need"].isin(hidden_needs)
            needs.loc[rows, needs.columns[1:]] = np.nan  # (the total row keeps every need's)
            suppressed = needs.isna() & rows.to_numpy()[:, None]
        tables.append(
            Table(
                f"forecast_by_need_{scenario}",
                f"Forecast EHC plans by primary need, {scenario}",
                needs,
                "count",
                f"Each age group and provision type's forecast (central) split in its mix of "
                f"primary needs on the January {last} census: an assumption that the mix within "
                "them holds."
                + (
                    " A need whose count on that census is hidden is hidden here too (its "
                    "forecast is that count rescaled)."
                    if hidden_needs
                    else ""
                ),
                ["Total"],
                suppressed,
            )
        )
    return tables


def transport(data: ReportData) -> list[Table]:
    """SEN transport by year: not high needs spend, so outside every total above, but part of what
    SEND costs the council (DBV Module 1 shows it beside the block)."""
    if data.transport is None:
        return []
    complete = data.transport[data.transport["financial_year"].isin(data.complete_years)]
    wide = complete.pivot_table(
        index="s251_line", columns="financial_year", values="spend_gbp", aggfunc="sum"
    )
    wide = wide.reindex(columns=data.complete_years).fillna(0.0)
    frame = _with_total(wide.reset_index().rename(columns={"s251_line": "S251 line"}), "S251 line")
    return [
        Table(
            "sen_transport",
            "SEN transport, outside the high needs block (£)",
            frame,
            "money",
            "Ledger lines 1.4.11 and 2.1.x (intermediate.int_spend_allocated, not high needs): "
            "paid from the "
            "council's general fund, so in none of the high needs totals. Complete years only."
            + ("" if len(complete) else " The ledger has no SEN transport lines."),
            ["Total"],
        )
    ]


BASELINE_LABELS = LABELS
SPEND_ROW = "Spend (plans weighted by cost per plan)"


def backtest(data: ReportData, threshold: int | None = None) -> list[Table]:
    """The caseload model's accuracy on the council's own history, every origin pooled: per years
    ahead and provision type (then all plans, then spend), the model's error, bias and interval
    coverage beside each baseline's error, and how often the model beat it. For publication
    (`threshold`), no sums of actual plans (one horizon's less the next's is a census's count)
    and no scores for a provision type whose count any census suppresses."""
    if data.backtest is None or data.backtest.empty:
        return []
    pooled = data.backtest[data.backtest["origin"].isna()]
    keys = ["horizon", "provision_type"]
    model = pooled[pooled["model"] == "cohort_model"].set_index(keys)
    baselines = [b for b in BASELINE_LABELS if (pooled["model"] == b).any()]
    by_origin = data.backtest[
        data.backtest["origin"].notna() & (data.backtest["model"] == "cohort_model")
    ]
    frame = pd.DataFrame(
        {
            "Origins scored": by_origin.groupby(keys)["origin"].nunique().reindex(model.index),
            "Actual plans (sum)": model["actual_plans"].where(
                model.index.get_level_values(1) != "spend"
            ),
            "Model: error, WAPE (%)": model["wape"] * 100,
            "Model: bias (%)": model["bias"] * 100,
            "Model: actual inside p10–p90 (%)": model["coverage_p10_p90"] * 100,
        }
    )
    for baseline in baselines:
        errors = pooled[pooled["model"] == baseline].set_index(keys)["wape"]
        label = BASELINE_LABELS[baseline]
        frame[f"{label}: error, WAPE (%)"] = errors.reindex(frame.index) * 100
        frame[f"Origins where the model beat {label.lower()} (%)"] = (
            model[f"beats_{baseline}"] * 100
        )
    if threshold is not None:
        frame = frame.drop(columns="Actual plans (sum)")
        cells = data.caseload_published(threshold)[0].cells
        hidden = {str(p) for p in cells.columns[cells.isna().any()]}
        scores = [c for c in frame.columns if c != "Origins scored"]
        frame.loc[frame.index.get_level_values(1).isin(hidden), scores] = np.nan
    order = {p: k for k, p in enumerate([*data.provisions, "total", "spend"])}
    frame = frame.reset_index().sort_values(
        ["horizon", "provision_type"],
        key=lambda c: c.map(order) if c.name == "provision_type" else c,
    )
    frame["provision_type"] = frame["provision_type"].map(
        lambda p: {"total": "All plans", "spend": SPEND_ROW}.get(p, data.labels.get(p, p))
    )
    frame = frame.rename(columns={"horizon": "Years ahead", "provision_type": "Provision type"})
    return [
        Table(
            "backtest",
            "How well the caseload model forecast the council's own past censuses",
            frame.reset_index(drop=True),
            "mixed",
            "forecast.backtest, every origin pooled: the model is fitted on the censuses up to "
            "each past year and "
            "scored on the years after it, beside the projections councils make from counts alone. "
            "WAPE = "
            "Σ|actual − forecast| ÷ Σ actual; bias > 0 = over-forecast; an 80% interval should "
            "hold about 80% "
            "of the actual values; 'origins where the model beat' = the share of origins where "
            "the model's error was the "
            f"smaller. {SPEND_ROW}: each provision type's plans times the council's cost per plan "
            "in the last "
            "complete year, so a miss on a dear placement counts by its cost."
            + (
                " This version leaves out the sums of actual plans (one horizon's less the "
                "next's would be a census's count) and the scores of a provision type whose "
                "count a census suppresses."
                if threshold is not None
                else ""
            ),
        )
    ]


def mitigation_plan(data: ReportData) -> Table:
    """Each mitigation as the DSG management plan's log describes it: what it assumes, the lever and
    its parameters, what it costs to deliver, who owns it, its milestones and risk."""
    effects = data.mitigations
    info = effects.drop_duplicates("mitigation").set_index("mitigation")
    at_horizon = effects[effects["financial_year"] == data.horizon].set_index("mitigation")[
        "cumulative_balance_effect_gbp"
    ]
    columns = {
        "kind": "Kind",
        "status": "Status",
        "line_of_enquiry": "DBV line of enquiry",
        "lever": "Lever",
        "effect": "Lever parameters",
        "assumption_text": "Assumption",
        "delivery_cost_gbp": "Cost to deliver (£ a year)",
        "owner": "Owner",
        "milestones": "Milestones",
        "risk": "Risk",
        "note": "Forecast's note",
    }
    plan = info[[c for c in columns if c in info.columns]].rename(columns=columns)
    plan[f"Effect on cumulative balance by {data.horizon}"] = at_horizon.reindex(plan.index)
    return Table(
        "mitigation_plan",
        "Mitigations: assumption, owner, milestones and risk",
        plan.reset_index().rename(columns={"mitigation": "Mitigation"}),
        "mixed",
        "From the mitigations file; effects from forecast.mitigations. The forecast's note says "
        "where it applies a mitigation otherwise than the log reads (after the horizon, already "
        "in the actual figures, no capacity set, no effect at all).",
    )


def gap_to_balance(data: ReportData) -> Table:
    gap = data.gap.rename(
        columns={
            "financial_year": "Financial year",
            "funding_gbp": "Funding",
            "spend_gbp": "Spend",
            "in_year_balance_gbp": "In-year balance",
            "cumulative_balance_gbp": "Cumulative balance",
            "saving_to_balance_in_year_gbp": "Further saving to balance in-year",
            "saving_per_year_to_recover_by_target_gbp": (
                "Saving a year to clear the deficit by the target year"
            ),
            "recover_by": "Target year",
        }
    )
    return Table(
        "gap_to_balance",
        "The gap still to close after mitigations (£, central)",
        gap,
        "money",
        "forecast.gap_to_balance: after every mitigation, central (the mean of the simulated "
        "paths).",
    )


def provision_spend(data: ReportData, threshold: int | None = None) -> Table:
    """Spend, placements and unit cost per year and provision type. For publication, as the
    serving file's published.provision_spend: a placement count below the threshold is hidden
    with its spend and unit cost (one child's cost), and enough others in its year with it that
    the year's total spend cannot give it back."""
    spend = spend_published(data, threshold)
    spend["provision_type"] = spend["provision_type"].map(data.labels)
    spend = spend.rename(
        columns={
            "financial_year": "Financial year",
            "provision_type": "Provision type",
            "spend_gbp": "Spend (£)",
            "placements": "Placements open in the year",
            "fte_placements": "Full-time equivalent placements",
            "unit_cost_gbp": "Unit cost (£ per FTE placement)",
            "is_complete_year": "Complete year",
        }
    )
    return Table(
        "provision_spend",
        "Spend, placements and unit cost by provision type (marts.fct_provision_spend)",
        spend,
        "mixed",
    )


def cohort_breakdowns(data: ReportData, threshold: int | None = None) -> list[Table]:
    tables = []
    for column, title in (
        ("primary_need", "primary need"),
        ("age_group", "age group"),
        ("age_at_plan_start_band", "age at plan start"),
    ):
        published = data.cohort_published(column, threshold)
        wide = published.cells.T
        wide.columns = [fy_of_census_year(int(y)) for y in wide.columns]
        frame = _with_total(
            wide.reset_index().rename(columns={column: title.capitalize()}), title.capitalize()
        )
        frame.iloc[-1, 1:] = published.row_totals.to_numpy()
        tables.append(
            Table(
                f"plans_by_{column}",
                f"EHC plans by {title}, January census in each financial year",
                frame,
                "count",
                "",
                ["Total"],
            )
        )
    return tables


# marts.fct_ehcp_flows' ceased plans by SEN2 cease reason, as the DfE's ceased-plans table names
# them, and the report's headings for them
CEASE_REASONS = {
    "ceased_max_age": "Ceased: maximum age",
    "ceased_needs_met": "Ceased: needs met",
    "ceased_he": "Ceased: higher education",
    "ceased_employ": "Ceased: employment",
    "ceased_transfer": "Ceased: moved to another LA",
    "ceased_no_engage": "Ceased: not engaging",
    "ceased_moved_outside_eng": "Ceased: moved outside England",
    "ceased_deceased": "Ceased: deceased",
    "ceased_other": "Ceased: other",
    "ceased_not_rec": "Ceased: reason not recorded",
}


def flows(data: ReportData, threshold: int | None = None) -> Table:
    published = data.flows_published(threshold)
    frame = data.flows.copy()
    if threshold is not None:
        # the cease reasons are not in the suppression of published.ehcp_flows (a reason with
        # one plan, a death, beside its suppressed total): the published version leaves them out
        frame = frame.drop(columns=[c for c in CEASE_REASONS if c in frame])
    for measure, table in published.items():
        cells = table.cells.stack(future_stack=True)
        frame[measure] = [
            cells.get((y, p), np.nan)
            for y, p in zip(frame["year"], frame["provision_type"], strict=False)
        ]
    frame["provision_type"] = frame["provision_type"].map(data.labels)
    return Table(
        "flows",
        "New, ceased and moving plans in the twelve months to each January census "
        "(marts.fct_ehcp_flows)",
        frame.rename(
            columns={
                "year": "Year to January",
                "period_start": "From (exclusive)",
                "period_end": "To (census day)",
                "provision_type": "Provision type",
                "new_plans": "New plans",
                "ceased_plans": "Ceased plans",
                "moved_in": "Moved in",
                "moved_out": "Moved out",
                **CEASE_REASONS,
            }
        ),
        "mixed",
        ""
        if threshold is not None
        else "Ceased plans by SEN2 cease reason, in the DfE's published categories (ceased_plans "
        "in the EHC plans release, which counts calendar years: its 2024 is the year to January "
        "2025 here): moved to another LA (reason 5) is a plan that went with its child, not a "
        "need met. Not in the published version (not suppressed).",
    )


def data_quality(data: ReportData) -> Table:
    dq = data.data_quality
    measures = dq[dq["reason"].isna()].pivot_table(
        index="extract", columns="measure", values="rows", aggfunc="sum", fill_value=0
    )
    files = dq.groupby("extract")["files"].max()
    flagged = dq[dq["measure"] == "rows_flagged_by_flag"].groupby("extract")["rows"].sum()
    rejected = dq[dq["measure"] == "file_rejected"].groupby("extract")["rows"].size()
    quarantined_money = (
        dq[dq["measure"] == "rows_quarantined"]
        .groupby("extract")["gross_amount_gbp"]
        .sum(min_count=1)
    )
    table = pd.DataFrame(
        {
            "Extract": measures.index,
            "Files": files.reindex(measures.index).fillna(0).astype(int).to_numpy(),
            "Files rejected": rejected.reindex(measures.index).fillna(0).astype(int).to_numpy(),
            "Rows read": measures.get("rows_read", 0),
            "Loaded": measures.get("rows_loaded", 0),
            "Exact duplicates": measures.get("rows_exact_duplicate", 0),
            "Quarantined": measures.get("rows_quarantined", 0),
            "Quarantined (£)": quarantined_money.reindex(measures.index).to_numpy(),
            "Flagged (kept)": flagged.reindex(measures.index).fillna(0).astype(int).to_numpy(),
            "Current in staging": measures.get("rows_current", 0),
            "Superseded by a later file": measures.get("rows_superseded", 0),
        }
    ).reset_index(drop=True)
    return Table(
        "data_quality",
        "What happened to every row of every landing file (marts.fct_data_quality)",
        _with_total(table, "Extract"),
        "count",
        "Files in the landing folder now. Rows read = loaded + exact duplicates + quarantined. "
        "Quarantined (£): "
        "the money in the quarantined rows (finance and budget) in absolute amounts, a credit "
        "counted as much as a payment and an amount that could not be read by its digits, as "
        "the quarantine tolerance weighs them.",
        ["Total"],
    )


def quality_reasons(data: ReportData) -> Table:
    dq = data.data_quality
    what = {
        "rows_quarantined_by_reason": "quarantined",
        "rows_flagged_by_flag": "flagged (kept)",
        "values_set_aside_by_column": "value set aside (row kept)",
    }
    reasons = dq[dq["measure"].isin(list(what))].copy()
    reasons["measure"] = reasons["measure"].map(what)
    return Table(
        "data_quality_reasons",
        "Quarantined and flagged rows, and values set aside, by reason",
        reasons[["extract", "measure", "reason", "rows"]].rename(
            columns={"extract": "Extract", "measure": "What", "reason": "Reason", "rows": "Rows"}
        ),
        "count",
    )


def warned(checks: pd.DataFrame) -> pd.Series:
    """Which checks warned: failed at severity WARN, so the refresh published through them (not
    a failure)."""
    return ~checks["passed"].astype(bool) & checks["severity"].astype(str).str.upper().eq("WARN")


def checks(data: ReportData) -> Table:
    frame = data.checks.copy()
    if frame.empty:
        return Table(
            "checks",
            "Checks of the latest refresh (meta.check_results)",
            pd.DataFrame(columns=["Asset", "Checks", "Passed", "Failed", "Warned or held"]),
            "count",
        )
    # a check that warns (or holds some councils) let the refresh publish: not a failure
    summary = (
        frame.assign(warned=warned(frame))
        .groupby("asset")
        .agg(Checks=("check_name", "count"), Passed=("passed", "sum"), warned=("warned", "sum"))
        .reset_index()
    )
    summary["Failed"] = summary["Checks"] - summary["Passed"] - summary["warned"]
    summary = summary.rename(columns={"asset": "Asset", "warned": "Warned or held"})
    summary = summary[["Asset", "Checks", "Passed", "Failed", "Warned or held"]]
    return Table(
        "checks",
        f"Checks of the warehouse in the latest refresh (run {frame['run_id'].iloc[0]})",
        _with_total(summary, "Asset"),
        "count",
        "Every check of the landing files, staging and marts the refresh ran, as recorded in "
        "meta.check_results before the forecast: the forecast's own checks (its balances roll "
        "forward, its drivers add up) run after it and are in the refresh's summary and "
        "Dagster's run.",
        ["Total"],
    )


def benchmark_tables(bench) -> list[Table]:
    """The benchmark section's tables (`bench`: benchmarks.Benchmarks)."""
    from .benchmarks import format_value

    table = bench.table
    indicators = pd.DataFrame(
        {
            "Indicator": table["label"],
            "Period": table["period"],
            bench.name: [
                format_value(v, u) for v, u in zip(table["council"], table["unit"], strict=False)
            ],
            "England": [
                format_value(v, u) for v, u in zip(table["england"], table["unit"], strict=False)
            ],
            f"{bench.region} (pooled)": [
                format_value(v, u) for v, u in zip(table["region"], table["unit"], strict=False)
            ],
            "Similar councils (median)": [
                format_value(v, u)
                for v, u in zip(table["similar_councils_median"], table["unit"], strict=False)
            ],
            # ranks and percentiles are numbers (sortable, usable in a formula), not "84 of 153"
            "Rank (1 = highest)": table["rank"].astype(float),
            "Councils ranked": table["councils_ranked"].astype(float),
            "Percentile": table["percentile"].astype(float).round(0),
            "Rank note": ["" if pd.notna(r) else "not ranked: flagged" for r in table["rank"]],
            "Numerator": table["numerator"],
            "Denominator": table["denominator"],
        }
    )
    neighbours = bench.neighbours.rename(
        columns={
            "code": "Old LA code",
            "name": "Council",
            "region": "Region",
            "distance": "Distance (standardised)",
            "primary_unit_of_funding_gbp": "Primary unit of funding (£ per pupil)",
            "secondary_unit_of_funding_gbp": "Secondary unit of funding (£ per pupil)",
            "two_year_olds_per_universal_place": "Funded two-year-old places per universal place",
            "working_parents_per_universal_place": "Working-parent places per universal place",
        }
    )
    flags = bench.flags.rename(
        columns={
            "code": "Old LA code",
            "name": "Council",
            "census_year": "January census",
            "series": "Published series",
            "year_before": "Count the year before",
            "value": "Published count",
            "year_after": "Count the year after",
            "kind": "Kind",
            "why": "Why it is flagged",
        }
    )
    own = flags[flags["Old LA code"] == bench.code]
    return [
        Table(
            "benchmark_indicators",
            f"{bench.name} ({bench.code}) against England, {bench.region} and similar councils",
            indicators,
            "mixed",
            "Rank among all councils with an unflagged published value; percentile = share of "
            "them with a lower value. Numerator and denominator are the council's own published "
            "figures.",
        ),
        Table("similar_councils", "Similar councils", neighbours, "mixed", bench.neighbour_method),
        Table(
            "flags_council",
            f"Published figures for {bench.name} that look wrong",
            own,
            "mixed",
            "Left out of ranks, region and similar-council figures and trend lines.",
        ),
        Table("flags_all", "Published figures that look wrong, every council", flags, "mixed"),
    ]


RECONCILE_SHARE = (
    0.10  # a provision type differing by more than this share (and 5 plans) is listed first
)
RECONCILE_PLANS = 5


def reconciliation(data: ReportData, bench, threshold: int | None = None) -> Table | None:
    """The council's own plans at the latest January census both hold, by provision type, beside
    the DfE's published SEN2 figures for it (`bench`: benchmarks.Benchmarks); None when they
    share no census. Own counts are suppressed for publication as everywhere else."""
    published = bench.published_caseload
    own, _ = data.caseload_published(threshold)
    common = sorted({int(y) for y in own.cells.index} & {int(y) for y in published.index})
    if not common:
        return None
    year = common[-1]
    theirs = published.loc[year].reindex(data.provisions).fillna(0.0).astype(float)
    ours = own.cells.loc[year].reindex(data.provisions).astype(float)
    frame = pd.DataFrame(
        {
            "Provision type": [data.labels[p] for p in data.provisions],
            "Own data": ours.to_numpy(),
            "Published (SEN2)": theirs.to_numpy(),
        }
    )
    frame = _with_total(frame, "Provision type")
    frame.loc[frame.index[-1], "Own data"] = (
        float(own.row_totals.loc[year]) if year in own.row_totals.index else ours.sum()
    )
    frame["Difference"] = frame["Own data"] - frame["Published (SEN2)"]
    frame["Difference (% of published)"] = (
        frame["Difference"] / frame["Published (SEN2)"].where(frame["Published (SEN2)"] > 0) * 100
    ).round(1)
    types = frame.iloc[:-1]
    large = types[
        (types["Difference"].abs() > RECONCILE_PLANS)
        & (types["Difference (% of published)"].abs() > RECONCILE_SHARE * 100)
    ]
    listed = ", ".join(
        f"{row['Provision type']} ({row['Difference']:+.0f})" for _, row in large.iterrows()
    )
    note = (
        f"January {year}. Own data: the council's EHCP and placement extracts at the census date, "
        "placed by the provision type of the placement open that day (marts.fct_ehcp_cohort). "
        "Published: the "
        "DfE's EHCP release for the council, from its SEN2 return, placed by establishment type. "
        "They differ "
        "where the extracts were corrected after the return, where a placement's type maps "
        "differently from "
        "the SEN2 establishment type (resourced provision and units inside mainstream schools, "
        "independent "
        "against non-maintained special, post-16 providers), where children placed out of area or "
        "plans "
        "transferred in the census month are counted by one and not the other, and where the "
        "return was made "
        "from a different cut of the case management system. "
        + (
            f"Differences of more than {RECONCILE_SHARE:.0%} and {RECONCILE_PLANS} plans: "
            f"{listed}; "
            "check these against the return's own file (sen2/) first."
            if listed
            else f"No provision type differs by more than {RECONCILE_SHARE:.0%} and "
            f"{RECONCILE_PLANS} plans."
        )
    )
    return Table(
        "reconciliation_published",
        f"Own counts against the published SEN2 counts, January {year}",
        frame,
        "count",
        note,
        ["Total"],
    )


def _marked(build, data: ReportData, threshold: int | None) -> list[Table]:
    """The tables `build` makes, with the cells suppressed for publication marked."""
    published = build(data, threshold)
    if threshold is None:
        return published
    internal = build(data, None)
    for shown, full in zip(published, internal, strict=False):
        # (a column the published version leaves out is not a suppressed cell)
        shown.suppressed = shown.frame.isna() & ~full.frame[shown.frame.columns].isna()
    return published


def dsg_plan_tables(data: ReportData, threshold: int | None = None) -> dict[str, list[Table]]:
    """Sheet name → tables, in workbook order."""
    return {
        # the workbook's own (workbook.dsg_summary): formulas and input cells
        "DSG plan summary": [],
        "EHCP numbers": _marked(
            lambda d, t: [x for s in SCENARIOS for x in ehcp_by_placement(d, s, t)], data, threshold
        ),
        "Expenditure by S251 line": expenditure_by_line(data, threshold) + transport(data),
        "Expenditure by provision": [
            expenditure_by_provision(data, s, threshold) for s in SCENARIOS
        ],
        **(
            {"Forecast by age and need": by_age}
            if (by_age := forecast_by_age_and_need(data, threshold))
            else {}
        ),
        **(
            {"Assumptions": shown}
            if (shown := assumptions(data, threshold) + sensitivity(data))
            else {}
        ),
        "Funding and balances": funding_and_balances(data),
        "Mitigations": [mitigation_log(data), mitigation_plan(data), gap_to_balance(data)],
    }


def councils(data: ReportData) -> list[Table]:
    """Every council of a warehouse holding many, side by side ([] for one council)."""
    if data.councils is None:
        return []
    return [
        Table(
            "councils",
            "Every council in this warehouse",
            data.councils,
            "mixed",
            "Each council's own figures (this report is of one of them): plans on its latest "
            "January census, the high needs spend and cumulative balance of its latest complete "
            "financial year (marts.fct_ehcp_cohort, fct_hnb_position) and its spend per plan on "
            "the January census inside that year (a ledger may lag the plans), and its forecast "
            "balance "
            "at the horizon, unmitigated (forecast.hnb_position). Negative balance = deficit. "
            "A council whose gate failed this refresh is held: its figures are left out here, "
            "and the serving file keeps its last good ones (meta.councils).",
        )
    ]


def detail_tables(data: ReportData, threshold: int | None = None) -> dict[str, list[Table]]:
    return {
        **({"Councils": compared} if (compared := councils(data)) else {}),
        "Provision spend": _marked(lambda d, t: [provision_spend(d, t)], data, threshold),
        "Caseload breakdowns": _marked(cohort_breakdowns, data, threshold),
        "Flows": _marked(lambda d, t: [flows(d, t)], data, threshold),
        **({"Model and accuracy": scored} if (scored := backtest(data, threshold)) else {}),
        "Data quality": [data_quality(data), quality_reasons(data), checks(data)],
    }
