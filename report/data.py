"""Everything the report shows, read from the warehouse in one go (marts, forecast, meta).

All frames are aggregates: the report never reads child-level tables.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

from ingest.provision_types import DFE_PLACEMENT_CATEGORY
from serving.publish import (
    FLOW_MEASURES,
    GROUP,
    family_of,
    spec_of,
    suppressed_cells,
    suppressed_family,
)
from serving.suppression import TOTAL
from warehouse import forecast_settings, table_exists
from warehouse.councils import councils as councils_held
from warehouse.councils import held_councils, of_council

from .suppression import Protected

REQUIRED = [
    ("marts", "fct_hnb_position"),
    ("marts", "fct_provision_spend"),
    ("marts", "fct_ehcp_cohort"),
    ("marts", "fct_ehcp_flows"),
    ("marts", "fct_provision_starts"),
    ("marts", "fct_ehcp_transitions"),
    ("marts", "fct_data_quality"),
    ("forecast", "hnb_position"),
    ("forecast", "spend"),
    ("forecast", "caseload"),
    ("forecast", "mitigations"),
    ("forecast", "gap_to_balance"),
    ("forecast", "drivers"),
]
# read when present (a warehouse built by an older version lacks some): part of the report's inputs
OPTIONAL = [
    ("marts", "fct_spend_by_s251_line"),
    ("marts", "fct_dsg_other_blocks"),
    ("staging", "provision_types"),
    ("forecast", "assumptions"),
    ("forecast", "sensitivity"),
    ("forecast", "backtest"),
    ("forecast", "caseload_by_age"),
    ("intermediate", "int_spend_allocated"),
    ("staging", "stg_budget__lines"),  # a later balance brought forward not run on from
]
# the provision types in report order, when the reviewed seed is not in the database
DEFAULT_PROVISIONS = [
    ("mainstream", "Mainstream"),
    ("mainstream_rp_unit", "Mainstream: resourced provision / SEN unit"),
    ("mss", "Maintained special"),
    ("inmss", "Independent / non-maintained special"),
    ("ap", "Alternative provision / PRU"),
    ("post16_fe", "Post-16 FE"),
    ("post16_spi", "Specialist post-16"),
    ("eotas", "EOTAS"),
    ("early_years", "Early years"),
    ("other", "Other"),
    ("none", "None / not in education"),
    ("central", "Central (no placement)"),
]


# the placement rows of the DfE's DSG management plan template
# (the serving file's lookup publishes them too)
DFE_PLACEMENT = DFE_PLACEMENT_CATEGORY


class ReportInputError(RuntimeError):
    """The warehouse lacks a table the report needs; the message says which and what to run."""


# the extracts' latest date further than this before a build is said: a ledger is posted
# monthly and a plans list re-sent each term, so a quarter without either is a feed that stopped
STALE_AFTER_DAYS = 92


def long_date(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


@dataclass(frozen=True)
class DataAsAt:
    """How far a council's extracts reach (intermediate.int_data_as_at, int_census_dates)."""

    as_at: dt.date  # the latest date in any of its extracts: nothing after it is known
    ledger_last_posting: dt.date | None
    last_census: dt.date | None

    def sentence(self) -> str:
        parts = [f"the latest date in the extracts is {long_date(self.as_at)}"]
        if self.ledger_last_posting is not None:
            parts.append(f"the ledger's last posting {long_date(self.ledger_last_posting)}")
        if self.last_census is not None:
            parts.append(f"the last census counted {long_date(self.last_census)}")
        return "; ".join(parts)

    def stale(self, today: dt.date) -> str | None:
        """A warning when the extracts stop more than STALE_AFTER_DAYS before `today`, or the
        ledger does while the others go on (its feed alone stopped: spend ends there)."""
        days = (today - self.as_at).days
        if days > STALE_AFTER_DAYS:
            return (
                f"The extracts reach {long_date(self.as_at)}, {days} days before "
                f"{long_date(today)}: nothing after it is in these figures or the forecast. If "
                "the council's feeds have stopped, load current extracts."
            )
        if self.ledger_last_posting is None:
            return None
        days = (today - self.ledger_last_posting).days
        if days <= STALE_AFTER_DAYS:
            return None
        return (
            f"The ledger's last posting is {long_date(self.ledger_last_posting)}, {days} days "
            f"before {long_date(today)}, though the other extracts reach "
            f"{long_date(self.as_at)}: spend after it is not in these figures. If the finance "
            "feed has stopped, load the current ledger."
        )


def read_data_as_at(con: duckdb.DuckDBPyConnection, la_code: str | None) -> DataAsAt | None:
    """Council `la_code`'s reach (None: a warehouse of one council); None before the models."""
    if not (
        table_exists(con, "intermediate", "int_data_as_at")
        and table_exists(con, "intermediate", "int_census_dates")
    ):
        return None
    row = con.execute(
        of_council(
            "SELECT max(a.as_at_date), max(a.ledger_last_posting_date), "
            "(SELECT max(c.census_date) FROM intermediate.int_census_dates AS c) "
            "FROM intermediate.int_data_as_at AS a",
            la_code,
        )
    ).fetchone()
    if row is None or row[0] is None:
        return None
    return DataAsAt(*(pd.Timestamp(v).date() if v is not None else None for v in row))


@dataclass
class ReportData:
    labels: dict[str, str]  # provision type → label, in report order
    position: pd.DataFrame  # marts.fct_hnb_position (complete and incomplete years)
    position_forecast: pd.DataFrame  # forecast.hnb_position
    spend: pd.DataFrame  # marts.fct_provision_spend
    spend_forecast: pd.DataFrame  # forecast.spend
    # marts.fct_spend_by_s251_line (None on a warehouse built before it)
    spend_by_line: pd.DataFrame | None
    cohort: pd.DataFrame  # marts.fct_ehcp_cohort
    caseload_forecast: pd.DataFrame  # forecast.caseload
    flows: pd.DataFrame  # marts.fct_ehcp_flows
    starts: pd.DataFrame  # marts.fct_provision_starts
    # year × provision_from × provision_to: children (fct_ehcp_transitions summed over ages, needs)
    moves: pd.DataFrame
    mitigations: pd.DataFrame  # forecast.mitigations
    gap: pd.DataFrame  # forecast.gap_to_balance
    drivers: pd.DataFrame  # forecast.drivers
    # extract × measure × reason: rows, money, files in the landing folder now
    data_quality: pd.DataFrame
    # meta.check_results of the latest run (empty when absent), with held_councils: the councils
    # a failed check held at their last good figures (meta.held_councils), '' when none
    checks: pd.DataFrame
    assumptions: pd.DataFrame | None = (
        None  # forecast.assumptions (None on a warehouse built before it)
    )
    sensitivity: pd.DataFrame | None = None  # forecast.sensitivity (likewise)
    backtest: pd.DataFrame | None = (
        None  # forecast.backtest: the caseload model's errors on the council's own censuses
    )
    caseload_by_age: pd.DataFrame | None = None  # forecast.caseload_by_age
    transport: pd.DataFrame | None = (
        None  # financial_year × s251_line: SEN transport, outside the high needs block
    )
    # marts.fct_dsg_other_blocks: the budget file's other DSG blocks (None before the mart)
    other_blocks: pd.DataFrame | None = None
    # every council of a warehouse holding many, side by side (None for one council)
    councils: pd.DataFrame | None = None
    # each balance brought forward the budget file gives that differs by more than £1 from the
    # close computed for the year before (checks.gates.BROUGHT_FORWARD_SQL): the balance runs
    # on from the earliest one given, so the difference is in neither it nor the forecast
    restated_balances: pd.DataFrame | None = None
    # what the forecast ran with (meta.forecast_checked, warehouse.forecast_settings): its
    # settings file, mitigations file, horizon … (None in a warehouse from before it was kept)
    forecast_settings: str | None = None
    as_at: DataAsAt | None = None  # how far the council's extracts reach
    # the census counts' suppression per threshold (`_cohort_suppression`), worked out once; not
    # copied by dataclasses.replace (a copy with other counts works out its own)
    _suppressed: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def provisions(self) -> list[str]:
        """Provision types that hold placements, in report order."""
        return [p for p in self.labels if p != "central"]

    @property
    def complete_years(self) -> list[str]:
        """Financial years the extracts cover in full."""
        return sorted(self.position.loc[self.position["is_complete_year"], "financial_year"])

    @property
    def forecast_years(self) -> list[str]:
        return sorted(self.position_forecast["financial_year"].unique())

    @property
    def horizon(self) -> str:
        return self.forecast_years[-1]

    @property
    def caseload(self) -> pd.DataFrame:
        """Plans at each January census by provision type (wide: census_year × provision type)."""
        return (
            self.cohort.pivot_table(
                index="census_year",
                columns="provision_type",
                values="plans",
                aggfunc="sum",
                fill_value=0,
            )
            .reindex(columns=self.provisions, fill_value=0)
            .sort_index()
        )

    def caseload_published(self, threshold: int | None) -> tuple[Protected, pd.DataFrame]:
        """`caseload` (census year × provision type) with its census totals, and its sums by DfE
        placement category (census year × category), as every output shows them: unchanged
        internally; for publication, the cells the serving file's published.ehcp_plans_by_need
        hides, suppressed with the report's other tables of the census counts and the
        categories' sums (one suppression for them all, so none gives another's hidden count
        back)."""
        groups: dict[str, list[str]] = {}
        for provision in self.provisions:
            groups.setdefault(DFE_PLACEMENT[provision], []).append(provision)
        caseload = self.caseload.astype(float)
        categories = pd.DataFrame(
            {name: caseload[members].sum(axis=1) for name, members in groups.items()}
        )
        if threshold is None:
            return Protected(
                caseload,
                caseload.sum(axis=1),
                pd.Series(np.nan, index=caseload.columns),
                float("nan"),
            ), categories
        tables, sums = self._cohort_suppression(threshold)
        hidden = (
            tables["ehcp_plans_by_need"]
            .loc[lambda t: t["primary_need"].eq(TOTAL)]
            .pivot(index="census_year", columns="provision_type", values="suppressed")
        )
        cells = caseload.mask(
            hidden.reindex(index=caseload.index, columns=caseload.columns)
            .astype("boolean")
            .fillna(False)
            .astype(bool)
        )
        totals = caseload.sum(axis=1)
        if TOTAL in hidden:  # (an empty cohort has no totals)
            totals = totals.mask(
                hidden[TOTAL].reindex(caseload.index).astype("boolean").fillna(False).astype(bool)
            )
        hidden_sums = sums.pivot(index="census_year", columns=GROUP, values="suppressed")
        categories = categories.mask(
            hidden_sums.reindex(index=categories.index, columns=categories.columns)
            .astype("boolean")
            .fillna(False)
            .astype(bool)
        )
        return Protected(
            cells, totals, pd.Series(np.nan, index=caseload.columns), float("nan")
        ), categories

    def cohort_published(self, column: str, threshold: int | None) -> Protected:
        """Plans per census year (rows) and `column` (primary need, age group, age at plan
        start band) with each census's total, as published: for publication, the cells the
        caseload's suppression (`caseload_published`) hides in its table of `column`."""
        wide = self.cohort.pivot_table(
            index="census_year", columns=column, values="plans", aggfunc="sum", fill_value=0
        ).astype(float)
        totals = wide.sum(axis=1)
        if threshold is not None:
            table = next(
                t for t in self._cohort_suppression(threshold)[0].values() if column in t.columns
            )
            others = [
                c for c in table.columns if c not in ("census_year", column, "plans", "suppressed")
            ]
            table = table[table[others].eq(TOTAL).all(axis=1)] if others else table
            hidden = table.pivot(index="census_year", columns=column, values="suppressed")
            hidden = hidden.reindex(index=wide.index).astype("boolean").fillna(False).astype(bool)
            wide = wide.mask(hidden.reindex(columns=wide.columns, fill_value=False))
            if TOTAL in hidden:  # (an empty cohort has no totals)
                totals = totals.mask(hidden[TOTAL])
        return Protected(wide, totals, pd.Series(np.nan, index=wide.columns), float("nan"))

    def _cohort_suppression(self, threshold: int) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
        """The census counts' tables as the serving file publishes them (published.ehcp_plans_by_
        need and _by_age_group, and the report's plans by age at plan start and by DfE placement
        category), suppressed as one (`serving.publish.suppressed_family`); worked out once."""
        if threshold not in self._suppressed:
            family = family_of("ehcp_plans_by_need")
            cells = {}
            for name in family.tables:
                dims = list(spec_of(name).dims)
                if name == "ehcp_flows":
                    cells[name] = self._flows_long()
                else:
                    cells[name] = self.cohort.groupby(dims, as_index=False)["plans"].sum()
            self._suppressed[threshold] = suppressed_family(
                cells, threshold, family.grouped, family.caseload
            )
        return self._suppressed[threshold]

    def _flows_long(self) -> pd.DataFrame:
        """The flows as published.ehcp_flows' source lays them out: year, measure, provision
        type, plans (a flow the mart leaves null is no row)."""
        return self.flows.melt(
            id_vars=["year", "provision_type"],
            value_vars=list(FLOW_MEASURES),
            var_name="measure",
            value_name="plans",
        ).dropna(subset=["plans"])

    def flows_published(self, threshold: int | None) -> dict[str, Protected]:
        """Per flow (new_plans, ceased_plans, moved_in, moved_out): year (rows) × provision type,
        with each year's total, as published: the cells published.ehcp_flows hides (one
        suppression for both, which also keeps a type's caseload change between censuses from
        giving a hidden flow back), suppressed with the census counts (`_cohort_suppression`):
        a type's caseload is the year before's plus its flows."""
        hidden = None
        if threshold is not None:
            table = self._cohort_suppression(threshold)[0]["ehcp_flows"]
            hidden = table.set_index(["measure", "year", "provision_type"])["suppressed"]
        published = {}
        for measure in FLOW_MEASURES:
            wide = self.flows.pivot_table(
                index="year", columns="provision_type", values=measure, aggfunc="sum", fill_value=0
            ).astype(float)
            totals = wide.sum(axis=1)
            column_totals = pd.Series(np.nan, index=wide.columns)
            if hidden is not None and measure in hidden.index.get_level_values("measure"):
                mask = (
                    hidden.loc[measure]
                    .unstack("provision_type")
                    .reindex(index=wide.index)
                    .astype("boolean")
                    .fillna(False)
                )
                wide = wide.mask(mask.reindex(columns=wide.columns, fill_value=False))
                totals = totals.mask(mask["total"])
            published[measure] = Protected(wide, totals, column_totals, float("nan"))
        return published


def spend_published(data: ReportData, threshold: int | None) -> pd.DataFrame:
    """`data.spend` (marts.fct_provision_spend) as published, as the serving file's
    published.provision_spend: a placement count below the threshold is hidden (null) with
    its spend and unit cost (one child's cost), and enough of its year's other cells that the
    year's total spend (published in the high needs position) cannot give it back; a cell
    whose spend is £0 is the complement only when nothing else is left (it hides none of the
    money)."""
    spend = data.spend.copy()
    if threshold is None:
        return spend

    keys = ["financial_year", "provision_type"]
    hidden = (
        suppressed_cells(
            "provision_spend",
            spend[[*keys, "placements", "spend_gbp", "unit_cost_gbp"]],
            threshold,
        )
        .reindex(pd.MultiIndex.from_frame(spend[keys]))
        .fillna(False)
        .to_numpy(dtype=bool)
    )
    spend["placements"] = spend["placements"].astype(float).mask(hidden)
    spend["spend_gbp"] = spend["spend_gbp"].astype(float).mask(hidden)
    fte = spend["fte_placements"]
    spend["fte_placements"] = fte.mask(hidden | ((fte > 0) & (fte < threshold)))
    spend["unit_cost_gbp"] = spend["unit_cost_gbp"].mask(spend["fte_placements"].isna())
    return spend


def hidden_at_base(data: ReportData, threshold: int | None) -> set[str]:
    """For publication, the provision types whose count on the last census or whose spend in the
    last complete year is hidden: their forecast (plans × spend per plan, grown at a published
    rate) would give either back, so neither their forecast plans nor their forecast spend is
    published (forecast spend ÷ forecast plans ÷ growth is the base year's spend per plan)."""
    if threshold is None:
        return set()
    cells = data.caseload_published(threshold)[0].cells
    last = cells.index.max()
    hidden = {
        p
        for p in cells.columns
        if pd.isna(cells.at[last, p]) and pd.notna(data.caseload.at[last, p])
    }
    if data.complete_years:
        base = data.complete_years[-1]
        shown = spend_published(data, threshold)
        shown = shown[shown["financial_year"] == base]
        own = data.spend[data.spend["financial_year"] == base].set_index("provision_type")
        hidden |= {
            p
            for p, spend in zip(shown["provision_type"], shown["spend_gbp"], strict=True)
            if pd.isna(spend) and pd.notna(own["spend_gbp"].get(p))
        }
    return hidden


def spend_forecast_published(data: ReportData, threshold: int | None) -> pd.DataFrame:
    """`data.spend_forecast` (forecast.spend) as published: a type hidden at the base year
    (hidden_at_base) has no forecast spend published; when the first forecast year keeps
    what the ledger posted of it (forecast.assumptions first_year_posted_spend), a type's spend
    that year is mostly those postings, so it is hidden where provision_spend hides the type's
    postings of the year (one child's cost nearly whole), with the same complements."""
    future = data.spend_forecast.copy()
    if threshold is not None:
        money = [c for c in future.columns if c.startswith("spend_gbp") or c == "unit_cost_gbp"]
        future.loc[future["provision_type"].isin(hidden_at_base(data, threshold)), money] = np.nan
    assumptions = getattr(data, "assumptions", None)
    if threshold is None or assumptions is None:
        return future
    posted = assumptions.loc[assumptions["assumption"] == "first_year_posted_spend"]
    if posted.empty:
        return future
    year = str(posted["financial_year"].iloc[0])
    shown = spend_published(data, threshold)
    shown = shown[shown["financial_year"] == year]
    hidden = set(shown.loc[shown["spend_gbp"].isna(), "provision_type"])
    cells = (future["financial_year"] == year) & future["provision_type"].isin(hidden)
    money = [c for c in future.columns if c.startswith("spend_gbp")]
    future.loc[cells, money] = np.nan
    return future


def carried_by_type(data: ReportData) -> pd.DataFrame:
    """provision type × the years the forecast carried (forecast.assumptions): each type's
    estimated spend; no columns without one."""
    frame = getattr(data, "assumptions", None)
    if frame is None:
        return pd.DataFrame()
    rows = frame[frame["assumption"] == "in_progress_year_spend_by_type"]
    if rows.empty:
        return pd.DataFrame()
    return rows.pivot(index="provision_type", columns="financial_year", values="value")


def carried_years(data: ReportData) -> pd.DataFrame:
    """financial_year → in_progress_year_funding, in_progress_year_spend: the years the forecast
    carried between the last complete year and its first (forecast.assumptions); none when the
    ledger reaches the last census's year, or on a warehouse from before they were recorded."""
    names = ["in_progress_year_funding", "in_progress_year_spend"]
    frame = getattr(data, "assumptions", None)
    if frame is None or not frame["assumption"].isin(names).any():
        return pd.DataFrame(columns=names, dtype=float)
    rows = frame[frame["assumption"].isin(names)]
    return rows.pivot(index="financial_year", columns="assumption", values="value")[
        names
    ].sort_index()


def _restated_balances(df) -> pd.DataFrame:
    from checks.gates import BROUGHT_FORWARD_SQL, BROUGHT_FORWARD_TOLERANCE_GBP

    frame = df(BROUGHT_FORWARD_SQL)
    differs = (frame["given_gbp"] - frame["computed_gbp"]).abs() > BROUGHT_FORWARD_TOLERANCE_GBP
    return frame[differs].reset_index(drop=True)


def restated_balance_caveats(data: ReportData) -> list[str]:
    """A sentence for each balance brought forward the budget file gives that the balance does not
    run on from (a finance officer signing the plan off read the file's figure as used: the
    check's warning reached the refresh's console only)."""
    from .style import pounds

    restated = data.restated_balances
    if restated is None or restated.empty:
        return []
    # to the pound, as the check compares them (£4,669 read "£0.00m" in millions)
    return [
        f"The budget file gives a balance brought forward of {pounds(r.given_gbp)} for "
        f"{r.financial_year} ({r.source_file} row {r.source_row}), but the balance here runs on "
        f"from the earliest one it gives and closes {r.previous_year} at "
        f"{pounds(r.computed_gbp)}: the difference of "
        f"{pounds(r.given_gbp - r.computed_gbp)} (a restatement, a payment outside the "
        "ledger) is in neither the balance nor the forecast. Give the later figure alone to "
        "start from it."
        for r in restated.itertuples()
    ]


def read_report_data(
    con: duckdb.DuckDBPyConnection,
    la_code: str | None = None,
    served: dict[str, str] | None = None,
) -> ReportData:
    """Council `la_code`'s figures (None: every row, for a warehouse of one council); `served`:
    each council's figures in the serving file (ReportOptions.served), for the comparison."""
    missing = [
        f"{schema}.{name}" for schema, name in REQUIRED if not table_exists(con, schema, name)
    ]
    if missing:
        raise ReportInputError(
            f"the warehouse has no {', '.join(missing)}: run `highneeds refresh` "
            "(or `highneeds demo`) first"
        )
    if table_exists(con, "staging", "provision_types"):
        labels = dict(
            con.execute(
                "SELECT provision_type, label FROM staging.provision_types ORDER BY sort_order"
            ).fetchall()
        )
    else:
        labels = dict(DEFAULT_PROVISIONS)

    def df(sql):
        # one council's rows: its code is the report's, not a column of its tables
        return con.execute(of_council(sql, la_code)).df().drop(columns="la_code", errors="ignore")

    checks = pd.DataFrame(
        columns=[
            "run_id",
            "asset",
            "check_name",
            "passed",
            "severity",
            "description",
            "evaluated_at",
        ]
    )
    if table_exists(con, "meta", "check_results"):
        checks = df("""
            SELECT * FROM meta.check_results
            WHERE run_id = (SELECT run_id FROM meta.check_results
                               ORDER BY evaluated_at DESC LIMIT 1)
            ORDER BY asset, check_name
        """)
    # a check that failed for other councils only held them (meta.held_councils): this council's
    # figures passed it
    held = (
        con.execute("SELECT run_id, asset, check_name, la_code FROM meta.held_councils").fetchall()
        if table_exists(con, "meta", "held_councils")
        else []
    )
    checks["held_councils"] = [
        ", ".join(sorted({c for r, a, n, c in held if (r, a, n) == (run, asset, name)}))
        for run, asset, name in zip(
            checks["run_id"], checks["asset"], checks["check_name"], strict=True
        )
    ]
    return ReportData(
        labels=labels,
        position=df("""
            SELECT financial_year, funding_gbp::DOUBLE AS funding_gbp,
                   spend_gbp::DOUBLE AS spend_gbp,
                   in_year_balance_gbp::DOUBLE AS in_year_balance_gbp,
                   cumulative_balance_gbp::DOUBLE AS cumulative_balance_gbp,
                   hnb_allocation_gbp::DOUBLE AS hnb_allocation_gbp,
                   place_deductions_gbp::DOUBLE AS place_deductions_gbp,
                   block_transfer_gbp::DOUBLE AS block_transfer_gbp,
                   la_contribution_gbp::DOUBLE AS la_contribution_gbp,
                   other_income_gbp::DOUBLE AS other_income_gbp, has_budget, is_complete_year
            FROM marts.fct_hnb_position ORDER BY financial_year
        """),
        position_forecast=df(
            "SELECT * FROM forecast.hnb_position ORDER BY scenario, financial_year"
        ),
        spend=df("""
            SELECT financial_year, provision_type, spend_gbp::DOUBLE AS spend_gbp,
                   placements, fte_placements,
                   unit_cost_gbp::DOUBLE AS unit_cost_gbp, is_complete_year
            FROM marts.fct_provision_spend ORDER BY financial_year, provision_type
        """),
        spend_forecast=df(
            "SELECT * FROM forecast.spend ORDER BY scenario, financial_year, provision_type"
        ),
        other_blocks=df("""
            SELECT financial_year, block, funding_gbp::DOUBLE AS funding_gbp,
                   spend_gbp::DOUBLE AS spend_gbp
            FROM marts.fct_dsg_other_blocks ORDER BY ALL
        """)
        if table_exists(con, "marts", "fct_dsg_other_blocks")
        else None,
        spend_by_line=df("""
            SELECT financial_year, s251_line, s251_description, provision_type,
                   spend_gbp::DOUBLE AS spend_gbp,
                   transactions
            FROM marts.fct_spend_by_s251_line ORDER BY ALL
        """)
        if table_exists(con, "marts", "fct_spend_by_s251_line")
        else None,
        cohort=df("""
            SELECT census_year, primary_need, age_group, ncy,
                   provision_type, age_at_plan_start_band, plans
            FROM marts.fct_ehcp_cohort ORDER BY ALL
        """),
        caseload_forecast=df(
            "SELECT * FROM forecast.caseload ORDER BY scenario, year, provision_type"
        ),
        flows=df("SELECT * FROM marts.fct_ehcp_flows ORDER BY year, provision_type"),
        starts=df("""
            SELECT year, provision_type, age_at_start_band, primary_need, starts, costed_starts,
                   avg_annual_cost_gbp::DOUBLE AS avg_annual_cost_gbp
            FROM marts.fct_provision_starts ORDER BY ALL
        """),
        moves=df("""
            SELECT year, provision_from, provision_to, sum(children)::BIGINT AS children
            FROM marts.fct_ehcp_transitions GROUP BY ALL ORDER BY ALL
        """),
        mitigations=df("SELECT * FROM forecast.mitigations"),
        as_at=read_data_as_at(con, la_code),
        restated_balances=_restated_balances(df)
        if table_exists(con, "staging", "stg_budget__lines")
        else None,
        forecast_settings=(recorded[0] if (recorded := forecast_settings(con)) else None),
        gap=df("SELECT * FROM forecast.gap_to_balance ORDER BY financial_year"),
        drivers=df("SELECT * FROM forecast.drivers"),
        data_quality=df("""
            SELECT extract, measure, reason, count(DISTINCT file_hash) AS files,
                   sum(rows)::BIGINT AS rows,
                   sum(amount_gbp)::DOUBLE AS amount_gbp,
                   sum(gross_amount_gbp)::DOUBLE AS gross_amount_gbp
            FROM marts.fct_data_quality WHERE in_landing GROUP BY ALL ORDER BY ALL
        """),
        checks=checks,
        assumptions=df("SELECT * FROM forecast.assumptions")
        if _has_column(con, "assumptions", "source")
        else None,
        sensitivity=df("SELECT * FROM forecast.sensitivity ORDER BY ALL")
        if table_exists(con, "forecast", "sensitivity")
        else None,
        backtest=df("SELECT * FROM forecast.backtest")
        if table_exists(con, "forecast", "backtest")
        else None,
        caseload_by_age=df("SELECT * FROM forecast.caseload_by_age ORDER BY ALL")
        if table_exists(con, "forecast", "caseload_by_age")
        else None,
        # SEN transport (S251 1.4.11 and the 2.1.x lines) is not high needs spend:
        # DBV shows it beside the block
        transport=df("""
            SELECT financial_year, s251_line, sum(amount_gbp)::DOUBLE AS spend_gbp
            FROM intermediate.int_spend_allocated
            WHERE NOT is_high_needs AND (s251_line = '1.4.11' OR s251_line LIKE '2.1.%')
            GROUP BY ALL ORDER BY ALL
        """)
        if table_exists(con, "intermediate", "int_spend_allocated")
        else None,
        councils=compare_councils(con, served) if len(compared_councils(con)) > 1 else None,
    )


def compared_councils(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every council of the warehouse: those its marts hold and those the refresh held (a council
    whose every extract a gate rejected may have no row in any mart), in code order."""
    return sorted(set(councils_held(con)) | set(held_councils(con)))


def compare_councils(
    con: duckdb.DuckDBPyConnection, served: dict[str, str] | None = None
) -> pd.DataFrame:
    """Each council of the warehouse: its plans on its latest census, its latest complete year's
    high needs spend, plans on that year's January census, spend per plan (of that census) and
    cumulative balance, and its forecast balance at the
    horizon (unmitigated). A council held by a failed gate (or a forecast that could not be
    fitted) shows why, not its figures: the warehouse's are the ones that failed, and the
    serving file keeps its last good ones, or has none when `served` (each council's figures in
    the serving file, serving.publish.served_figures; None: not known) says none were published."""
    compared = con.execute(
        """
        WITH census AS (
            SELECT la_code, max(census_year) AS census_year FROM marts.fct_ehcp_cohort
            GROUP BY la_code
        ),
        plans AS (
            SELECT census.la_code, census.census_year, sum(cohort.plans)::BIGINT AS plans
            FROM census
            INNER JOIN marts.fct_ehcp_cohort AS cohort USING (la_code, census_year)
            GROUP BY ALL
        ),
        complete AS (
            SELECT la_code, max(financial_year) AS financial_year FROM marts.fct_hnb_position
            WHERE is_complete_year GROUP BY la_code
        ),
        position AS (
            SELECT p.la_code, p.financial_year, p.spend_gbp::DOUBLE AS spend_gbp,
                   p.cumulative_balance_gbp::DOUBLE AS cumulative_balance_gbp
            FROM complete INNER JOIN marts.fct_hnb_position AS p USING (la_code, financial_year)
        ),
        -- the plans of the January census inside that year (2024-25: January 2025): a council
        -- whose ledger lags its plans had its spend divided by a later year's caseload
        year_plans AS (
            SELECT position.la_code, sum(cohort.plans)::BIGINT AS plans
            FROM position
            INNER JOIN marts.fct_ehcp_cohort AS cohort
                ON cohort.la_code = position.la_code
               AND cohort.census_year = left(position.financial_year, 4)::INTEGER + 1
            GROUP BY ALL
        ),
        forecast AS (
            SELECT la_code, financial_year, cumulative_balance_gbp_central
            FROM forecast.hnb_position WHERE scenario = 'unmitigated'
            QUALIFY row_number() OVER (PARTITION BY la_code ORDER BY financial_year DESC) = 1
        )
        SELECT councils.la_code AS "Council (old LA code)",
               plans.census_year AS "Census",
               plans.plans AS "EHC plans",
               position.financial_year AS "Latest complete year",
               position.spend_gbp AS "High needs spend (£)",
               year_plans.plans AS "EHC plans, that year's census",
               position.spend_gbp / nullif(year_plans.plans, 0) AS "Spend (£ per plan)",
               position.cumulative_balance_gbp AS "Cumulative balance (£)",
               forecast.financial_year AS "Forecast year",
               forecast.cumulative_balance_gbp_central
                   AS "Forecast cumulative balance, unmitigated (£)"
        -- every council: one whose plans file a gate rejected has no census, but a row
        FROM (SELECT unnest(?::VARCHAR[]) AS la_code) AS councils
        LEFT JOIN plans USING (la_code)
        LEFT JOIN position USING (la_code)
        LEFT JOIN year_plans USING (la_code)
        LEFT JOIN forecast USING (la_code)
        ORDER BY councils.la_code
        """,
        [compared_councils(con)],
    ).df()
    for column in ("Census", "EHC plans", "EHC plans, that year's census"):
        # counts stay whole numbers where a council without a census leaves a blank
        compared[column] = pd.Series(
            [None if pd.isna(v) else int(v) for v in compared[column]],
            index=compared.index,
            dtype=object,
        )
    held = held_councils(con)
    is_held = compared["Council (old LA code)"].isin(list(held))
    if is_held.any():
        for column in compared.columns.drop("Council (old LA code)"):
            # None: a blank cell in the report and the workbook
            compared[column] = compared[column].astype(object)
            compared.loc[is_held, column] = None
    compared["Figures"] = [
        "this refresh"
        if code not in held
        else f"held, with no figures published yet: {held[code]}"
        if served is not None and served.get(code, "none") == "none"
        else f"held at its last good figures: {held[code]}"
        for code in compared["Council (old LA code)"]
    ]
    return compared


def _has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    """forecast.<table> has <column> (forecast.assumptions
    held per-provision rates before it held sources)."""
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_schema = 'forecast' AND table_name = ? "
            "AND column_name = ?",
            [table, column],
        ).fetchone()[0]
    )
