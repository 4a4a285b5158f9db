"""Python gates on the dbt assets, and the `gates` asset the forecast waits for.

dbt tests with severity error already block (they are checks of the dbt step). These gates
need Python: they reconcile rows and money across layers and hold costs to reviewed bounds.
`gates/warehouse_checked` depends on every gated asset, so it — and the forecast and publish
after it — only runs when every blocking check upstream passed in the run. It records the
run's check results in `meta.check_results` for auditors and the serving file.
"""

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from checks import gates
from checks.gates import STAGING_MODELS
from ingest.contracts import EXTRACTS
from serving.publish import served_past_figures
from warehouse import record_figures

from ..metadata import (
    DATA_ENGINEERING,
    HELD_COUNCILS,
    check_result,
    markdown_table,
    provenance,
)
from ..settings import COST_BOUNDS, Settings
from .dbt import warehouse_models
from .ingest import ingest_assets, ingest_checks

PROVISION_SPEND = dg.AssetKey(["marts", "fct_provision_spend"])
PLACEMENTS_CLASSIFIED = dg.AssetKey(["intermediate", "int_placements_classified"])
DATA_QUALITY_FLAGS = dg.AssetKey(["intermediate", "int_data_quality_flags"])
RAW_ROWS_REACH_STAGING = "raw_rows_reach_staging"
TRANSACTION_IDS_REUSED = "transaction_ids_reused"
RESTATEMENT_LOADED_FIRST = "restatement_loaded_first"
TRANSACTIONS_UNDER_TWO_IDS = "transactions_under_two_ids"
FINANCE_RECONCILES = "finance_reconciles_to_mart"
LEDGER_MONTHS_COMPLETE = "ledger_months_complete"
COMPLETE_YEARS_HAVE_A_BUDGET = "complete_years_have_a_budget"
BALANCE_BROUGHT_FORWARD_ANCHORS = "balance_brought_forward_anchors"
BALANCE_BROUGHT_FORWARD_AGREES = "balance_brought_forward_agrees"
BUDGET_LINES_GIVEN_TWICE = "budget_lines_given_twice"
HNB_POSITION = dg.AssetKey(["marts", "fct_hnb_position"])
UNIT_COSTS_WITHIN_BOUNDS = "unit_costs_within_bounds"
PLACEMENT_COSTS_WITHIN_BOUNDS = "placement_costs_within_bounds"
IDS_LINK = "ids_link"
CASE_EXTRACTS_REACH_CENSUS = "case_extracts_reach_census"
OPEN_ROWS_LEFT_IN_OLDER_LISTS = "open_rows_left_in_older_lists"
LISTS_OF_ONE_DAY_AGREE = "lists_of_one_day_agree"
CASE_ROWS_IN_TWO_SOURCES = "case_rows_in_two_sources"
SPEND_HOLDS_SINCE_PUBLISHED = "spend_holds_since_published"
PLANS_HOLD_SINCE_PUBLISHED = "plans_hold_since_published"
FUNDING_HOLDS_SINCE_PUBLISHED = "funding_holds_since_published"
PLANS_OVERLAP_WITHIN_TOLERANCE = "plans_overlap_within_tolerance"
PLANS_UNDER_TWO_CHILD_IDS = "plans_under_two_child_ids"
SEN2_RETURNS_EVERY_YEAR = "sen2_returns_every_year"
FLOWS_WITHIN_USUAL = "flows_within_usual"
BASE_YEAR_SPEND_WITHIN_USUAL = "base_year_spend_within_usual"
CENSUS_PLACEMENTS_WITHIN_USUAL = "census_placements_within_usual"
EHCP_COHORT = dg.AssetKey(["marts", "fct_ehcp_cohort"])
EHCP_FLOWS = dg.AssetKey(["marts", "fct_ehcp_flows"])
MART_KEYS = [
    dg.AssetKey(["marts", name])
    for name in (
        "fct_provision_spend",
        "fct_hnb_position",
        "fct_ehcp_cohort",
        "fct_ehcp_flows",
        "fct_provision_starts",
        "fct_ehcp_transitions",
        "fct_spend_by_s251_line",
        "fct_dsg_other_blocks",
    )
]


def staging_key(extract: str) -> dg.AssetKey:
    return dg.AssetKey(["staging", STAGING_MODELS[extract][0]])


@dg.multi_asset_check(
    specs=[
        *(
            dg.AssetCheckSpec(
                RAW_ROWS_REACH_STAGING,
                asset=staging_key(e),
                blocking=True,
                description=(
                    "Every valid raw row of a file in the landing folder is in staging or "
                    "superseded by the same key in a later file; money in staging equals "
                    "the raw rows it came from."
                ),
            )
            for e in STAGING_MODELS
        ),
        dg.AssetCheckSpec(
            TRANSACTION_IDS_REUSED,
            asset=staging_key("finance"),
            blocking=True,
            description=(
                "No later finance file replaces an earlier one's transactions by id with other "
                "transactions (most of 10 or more posted on another day, or on the same day "
                "for another amount and payee): two files numbering their transactions from "
                "the same start would lose the earlier file's money. Nor with their exact "
                "reversals on another day: a reversal under the payment's id would count "
                "instead of nothing (a sign put right the same day passes)."
            ),
        ),
        dg.AssetCheckSpec(
            CASE_ROWS_IN_TWO_SOURCES,
            asset=EHCP_COHORT,
            blocking=True,
            description=(
                "No plan, placement or request is given both by a SEN2 return and by a CSV or "
                "XLSX extract (the same child and start date, or date received): each source "
                "keys its rows its own way, so both would be counted."
            ),
        ),
        dg.AssetCheckSpec(
            TRANSACTIONS_UNDER_TWO_IDS,
            asset=staging_key("finance"),
            blocking=True,
            description=(
                "No transaction is in two finance files under ids that differ only by leading "
                "zeros (the same day, amount, line and payee): a copy saved from a spreadsheet, "
                "which reads an id as a number, would be counted as well as the original."
            ),
        ),
        dg.AssetCheckSpec(
            RESTATEMENT_LOADED_FIRST,
            asset=staging_key("finance"),
            blocking=False,
            description=(
                "Warns when a small finance file new in the same refresh as a larger one has "
                "at least half its transactions replaced by the larger one's, some restated: files "
                "new together are taken in name order (or by the day every name gives), so a "
                "corrections file whose name sorts before the ledger it corrects is overruled by "
                "it."
            ),
        ),
        dg.AssetCheckSpec(
            FINANCE_RECONCILES,
            asset=PROVISION_SPEND,
            blocking=True,
            description=(
                "Per financial year: ledger = high needs + not high needs (allocated to the "
                "penny), and high needs = fct_provision_spend."
            ),
        ),
        dg.AssetCheckSpec(
            LEDGER_MONTHS_COMPLETE,
            asset=PROVISION_SPEND,
            blocking=True,
            description=(
                "Every month between the ledger's first and last postings has postings (a month "
                "without any is a missing or cut-short finance file: its spend, and every "
                "balance after it, would be understated)."
            ),
        ),
        dg.AssetCheckSpec(
            COMPLETE_YEARS_HAVE_A_BUDGET,
            asset=HNB_POSITION,
            blocking=True,
            description=(
                "Every complete financial year from the one whose balance brought forward "
                "anchors the cumulative balance has high needs lines in the budget file (else "
                "its funding reads as nothing and its whole spend as deficit), and no income "
                "line (allocation, council contribution, other income) is negative (income "
                "written as a credit would count against funding), nor an allocation 0 (a "
                "placeholder for a year not yet known)."
            ),
        ),
        dg.AssetCheckSpec(
            BALANCE_BROUGHT_FORWARD_ANCHORS,
            asset=HNB_POSITION,
            blocking=True,
            description=(
                "When the budget file gives a balance brought forward, one anchors the cumulative "
                "balance: it is for a year the ledger covers, or the year after its last when "
                "that year is complete (else the balance would open at zero and miss the "
                "deficit carried)."
            ),
        ),
        dg.AssetCheckSpec(
            BALANCE_BROUGHT_FORWARD_AGREES,
            asset=HNB_POSITION,
            blocking=False,
            description=(
                "Warns when a balance brought forward the budget file gives differs by more "
                "than £1 from the close computed for the year before: the cumulative balance "
                "and the forecast run on from the earliest one given, so a restatement or a "
                "payment outside the ledger after it is in neither."
            ),
        ),
        dg.AssetCheckSpec(
            BUDGET_LINES_GIVEN_TWICE,
            asset=HNB_POSITION,
            blocking=False,
            description=(
                "Warns when two budget files in the landing folder give a line (year × line) "
                "with different amounts: the file loaded later wins (files new together in name "
                "order), which may not be the council's latest word (a provisional budget named "
                "after the final one)."
            ),
        ),
        dg.AssetCheckSpec(
            UNIT_COSTS_WITHIN_BOUNDS,
            asset=PROVISION_SPEND,
            blocking=True,
            description=(
                "Unit cost per provision type and year within dbt/seeds/cost_bounds.csv (where FTE "
                "≥ HIGHNEEDS_UNIT_COST_GATE_MIN_FTE)."
            ),
        ),
        dg.AssetCheckSpec(
            PLACEMENT_COSTS_WITHIN_BOUNDS,
            asset=PLACEMENTS_CLASSIFIED,
            blocking=True,
            description=(
                "Every placement's annual cost within "
                "dbt/seeds/cost_bounds.csv for its provision type."
            ),
        ),
        dg.AssetCheckSpec(
            CASE_EXTRACTS_REACH_CENSUS,
            asset=EHCP_COHORT,
            blocking=False,
            description=(
                "Warns when the plans or placements extract's last date falls more than 60 days "
                "before the last census day counted: an extract taken before census day would "
                "count that census without the plans started, ceased or moved since (a quiet "
                "season can do the same, so it warns and the refresh publishes)."
            ),
        ),
        dg.AssetCheckSpec(
            SEN2_RETURNS_EVERY_YEAR,
            asset=EHCP_FLOWS,
            blocking=False,
            description=(
                "Warns when a SEN2 return is missing between the first and the last loaded: that "
                "year's requests, and the plans issued and ceased within it, are in no return "
                "and count as none, and its census counts the plans that ceased in it as open."
            ),
        ),
        dg.AssetCheckSpec(
            BASE_YEAR_SPEND_WITHIN_USUAL,
            asset=PROVISION_SPEND,
            blocking=False,
            description=(
                "Warns when the last complete year's spend on a provision type or central "
                "moved by half again (or fell by a third) from the year before, or a type's "
                "unit cost by a quarter, each by £500,000 at least: a one-off payment sets the "
                "level the forecast grows and lifts the growth it measures. And when a type "
                "has 5 full-time places or more that year and no spend on them (its payments "
                "counted as central or another type: a ledger naming no child)."
            ),
        ),
        dg.AssetCheckSpec(
            CENSUS_PLACEMENTS_WITHIN_USUAL,
            asset=EHCP_COHORT,
            blocking=False,
            description=(
                "Warns when, on one of the last three censuses, the children with no placement "
                "that day run above twice their usual share (the median of up to three censuses "
                "before) by 3 % of the plans and 10 children at least: placements missing from "
                "the extract are costed at nothing, and their spend lifts their type's unit cost."
            ),
        ),
        dg.AssetCheckSpec(
            FLOWS_WITHIN_USUAL,
            asset=EHCP_FLOWS,
            blocking=False,
            description=(
                "Warns when, in the last three years, a year's ceased plans run above twice the "
                "usual (the median of up to three years before) by a tenth of the caseload, its "
                "new plans below half the usual by a twentieth (each by 10 plans at least), or "
                "the children who left their plans since the last census run as far above the "
                "same weeks of earlier years: a data cleanse or a lost year, which the forecast "
                "would carry (its spend per plan, its starting census, its trends); or when no "
                "plan ceased at all in those years over 100 plans or more on their censuses "
                "(a plans extract without its cease dates)."
            ),
        ),
        dg.AssetCheckSpec(
            OPEN_ROWS_LEFT_IN_OLDER_LISTS,
            asset=EHCP_COHORT,
            blocking=False,
            description=(
                "Warns when plans or placements still open are held only by a list older than "
                "the latest in the landing folder (lists ranked by the day their names give): "
                "if the lists are whole, those were taken off the case system and still count "
                "in every census since; if they are increments, it is expected."
            ),
        ),
        dg.AssetCheckSpec(
            LISTS_OF_ONE_DAY_AGREE,
            asset=EHCP_COHORT,
            blocking=False,
            description=(
                "Warns when two plans, placements or requests lists whose names give the same "
                "day give one key in different versions: the one loaded last counts, and a "
                "rebuild from the folder, loading them by name, may count the other."
            ),
        ),
        dg.AssetCheckSpec(
            SPEND_HOLDS_SINCE_PUBLISHED,
            asset=HNB_POSITION,
            blocking=False,
            description=(
                "Warns when a financial year's high needs spend, in total or for a provision "
                "type, moved by more than 10 % (and £100,000) from what the serving file "
                "publishes, or is gone, or a year published complete now reads in progress, or "
                "a year published in progress fell: a ledger year's file taken out, or a ledger "
                "cut months short, passes every other gate. Names the published version's files "
                "taken out or replaced since."
            ),
        ),
        dg.AssetCheckSpec(
            FUNDING_HOLDS_SINCE_PUBLISHED,
            asset=HNB_POSITION,
            blocking=False,
            description=(
                "Warns when a complete financial year's high needs funding, or a balance brought "
                "forward the budget file gives, moved by £1,000 or more from what the serving "
                "file publishes, or is gone: a past year's budget line edited or deleted moves "
                "the balance of that year and every year after and passes every other gate. "
                "Names the published version's budget files taken out or replaced since."
            ),
        ),
        dg.AssetCheckSpec(
            PLANS_HOLD_SINCE_PUBLISHED,
            asset=EHCP_COHORT,
            blocking=False,
            description=(
                "Warns when the plans on a census, in total or in a provision type, moved by "
                "more than 10 % (and 20 plans) from what the serving file publishes, or are "
                "gone: a plans extract that lost or ceased half its plans overnight passes every "
                "other gate. Names the published version's files taken out or replaced since."
            ),
        ),
        dg.AssetCheckSpec(
            PLANS_UNDER_TWO_CHILD_IDS,
            asset=EHCP_COHORT,
            blocking=True,
            description=(
                "Plans another child id gives again (a child born the same day, a start within "
                "7 days), beyond the matches children born a few days apart make by chance, are "
                "at most 10 % of a year's plans started, and of all of them (or fewer than 20): "
                "SEN2 returns naming children by UPN beside a plans extract naming them by case "
                "id, or a plans extract listed again under new child ids, would count the same "
                "children twice."
            ),
        ),
        dg.AssetCheckSpec(
            PLANS_OVERLAP_WITHIN_TOLERANCE,
            asset=EHCP_FLOWS,
            blocking=True,
            description=(
                "Plans starting while the same child's earlier plan was open (overlapping_plan) "
                "are at most 10 % of a year's plans started (or fewer than 20): the censuses "
                "count such a child once but the flows count each plan, so a plans extract "
                "listing plans again under new plan ids would overstate the year's new plans."
            ),
        ),
        dg.AssetCheckSpec(
            IDS_LINK,
            asset=DATA_QUALITY_FLAGS,
            blocking=True,
            description=(
                "Payments and placements pointing to a child or placement no extract has, and "
                "placements whose establishment no type code, GIAS row or SEN setting types, are "
                "at most HIGHNEEDS_UNLINKED_TOLERANCE (default 5 %) of their kind: more means the "
                "ids no longer join (another pseudonymisation key, an extract carrying another "
                "child id, or URNs with no GIAS extract to type them: their children would count "
                "as in no placement)."
            ),
        ),
    ],
    can_subset=True,
)
def warehouse_gates(
    context: dg.AssetCheckExecutionContext,
    warehouse: DuckDBResource,
    settings: dg.ResourceParam[Settings],
):
    # the checks the run selected (all of them in a refresh; those of the models a run builds
    # when it selects some, as the UI's "materialise" on one model does)
    selected = context.selected_asset_check_keys

    def wanted(asset: dg.AssetKey, name: str) -> bool:
        return dg.AssetCheckKey(asset, name) in selected

    bounds = gates.read_cost_bounds(COST_BOUNDS)
    # the gates on a council's figures hold that council only; rows lost between raw and staging
    # are the pipeline's fault, and stop every council
    councils = settings.councils()
    with warehouse.get_connection() as con:
        # both ledger-file gates read the same pairs of files (a join of the ledger's raw rows
        # with staging): read once
        finance_files = (
            gates.replaced_pairs(con)
            if wanted(staging_key("finance"), TRANSACTION_IDS_REUSED)
            or wanted(staging_key("finance"), RESTATEMENT_LOADED_FIRST)
            else None
        )
        for extract, (model, keys) in STAGING_MODELS.items():
            if wanted(staging_key(extract), RAW_ROWS_REACH_STAGING):
                gate = gates.staging_accounting(con, EXTRACTS[extract], f"staging.{model}", keys)
                yield check_result(gate, staging_key(extract), RAW_ROWS_REACH_STAGING)
        council_gates = (
            (
                staging_key("finance"),
                TRANSACTION_IDS_REUSED,
                lambda: gates.transaction_ids_reused(con, finance_files),
            ),
            (
                staging_key("finance"),
                TRANSACTIONS_UNDER_TWO_IDS,
                lambda: gates.transactions_under_two_ids(con),
            ),
            (EHCP_COHORT, CASE_ROWS_IN_TWO_SOURCES, lambda: gates.case_rows_in_two_sources(con)),
            (
                EHCP_COHORT,
                PLANS_UNDER_TWO_CHILD_IDS,
                lambda: gates.plans_under_two_child_ids(con),
            ),
            (
                EHCP_FLOWS,
                PLANS_OVERLAP_WITHIN_TOLERANCE,
                lambda: gates.plans_overlap_within_tolerance(con),
            ),
            (PROVISION_SPEND, FINANCE_RECONCILES, lambda: gates.finance_reconciliation(con)),
            (PROVISION_SPEND, LEDGER_MONTHS_COMPLETE, lambda: gates.ledger_months_complete(con)),
            (
                HNB_POSITION,
                COMPLETE_YEARS_HAVE_A_BUDGET,
                lambda: gates.complete_years_have_a_budget(con),
            ),
            (
                HNB_POSITION,
                BALANCE_BROUGHT_FORWARD_ANCHORS,
                lambda: gates.balance_brought_forward_anchors(con),
            ),
            (
                PROVISION_SPEND,
                UNIT_COSTS_WITHIN_BOUNDS,
                lambda: gates.unit_costs_within_bounds(
                    con, bounds, settings.min_fte_for_unit_cost_gate
                ),
            ),
            (
                PLACEMENTS_CLASSIFIED,
                PLACEMENT_COSTS_WITHIN_BOUNDS,
                lambda: gates.placement_costs_within_bounds(con, bounds),
            ),
            (
                DATA_QUALITY_FLAGS,
                IDS_LINK,
                lambda: gates.ids_link(con, settings.unlinked_tolerance),
            ),
        )
        for asset, name, run in council_gates:
            if wanted(asset, name):
                yield check_result(run(), asset, name, councils)
        if wanted(staging_key("finance"), RESTATEMENT_LOADED_FIRST):
            gate = gates.restatement_loaded_first(con, finance_files)
            yield check_result(
                gate, staging_key("finance"), RESTATEMENT_LOADED_FIRST, warn_only=True
            )
        if wanted(HNB_POSITION, BALANCE_BROUGHT_FORWARD_AGREES):
            gate = gates.balance_brought_forward_agrees(con)
            yield check_result(gate, HNB_POSITION, BALANCE_BROUGHT_FORWARD_AGREES, warn_only=True)
        if wanted(HNB_POSITION, BUDGET_LINES_GIVEN_TWICE):
            gate = gates.budget_lines_given_twice(con)
            yield check_result(gate, HNB_POSITION, BUDGET_LINES_GIVEN_TWICE, warn_only=True)
        if wanted(EHCP_COHORT, CASE_EXTRACTS_REACH_CENSUS):
            gate = gates.case_extracts_reach_census(con)
            yield check_result(gate, EHCP_COHORT, CASE_EXTRACTS_REACH_CENSUS, warn_only=True)
        if wanted(EHCP_FLOWS, SEN2_RETURNS_EVERY_YEAR):
            gate = gates.sen2_returns_every_year(con)
            yield check_result(gate, EHCP_FLOWS, SEN2_RETURNS_EVERY_YEAR, warn_only=True)
        if wanted(EHCP_FLOWS, FLOWS_WITHIN_USUAL):
            gate = gates.flows_within_usual(con)
            yield check_result(gate, EHCP_FLOWS, FLOWS_WITHIN_USUAL, warn_only=True)
        if wanted(PROVISION_SPEND, BASE_YEAR_SPEND_WITHIN_USUAL):
            gate = gates.base_year_spend_within_usual(con)
            yield check_result(gate, PROVISION_SPEND, BASE_YEAR_SPEND_WITHIN_USUAL, warn_only=True)
        if wanted(EHCP_COHORT, CENSUS_PLACEMENTS_WITHIN_USUAL):
            gate = gates.census_placements_within_usual(con)
            yield check_result(gate, EHCP_COHORT, CENSUS_PLACEMENTS_WITHIN_USUAL, warn_only=True)
        # each figure, and the extracts whose files set it: the ledger the spend, placements and
        # establishments its provision types; plans (SEN2 returns among them) the census, the
        # ledger's span the censuses counted, placements and establishments their types
        holds = (
            (
                HNB_POSITION,
                SPEND_HOLDS_SINCE_PUBLISHED,
                "spend",
                ("finance", "placements", "gias"),
            ),
            (
                EHCP_COHORT,
                PLANS_HOLD_SINCE_PUBLISHED,
                "plans",
                ("ehcp", "placements", "gias", "finance"),
            ),
            (HNB_POSITION, FUNDING_HOLDS_SINCE_PUBLISHED, "funding", ("budget",)),
        )
        if any(wanted(asset, name) for asset, name, _, _ in holds):
            published, files = served_past_figures(settings.serving)
            here = con.execute(
                "SELECT file_hash, file_name FROM raw.landing_files WHERE in_landing"
            ).df()
            for asset, name, figure, extracts in holds:
                if wanted(asset, name):
                    changed = gates.files_changed_since(files, here, extracts)
                    gate = gates.figures_hold_since_published(con, figure, published, changed)
                    yield check_result(gate, asset, name, warn_only=True)
        if wanted(EHCP_COHORT, OPEN_ROWS_LEFT_IN_OLDER_LISTS):
            gate = gates.open_rows_left_in_older_lists(con)
            yield check_result(gate, EHCP_COHORT, OPEN_ROWS_LEFT_IN_OLDER_LISTS, warn_only=True)
        if wanted(EHCP_COHORT, LISTS_OF_ONE_DAY_AGREE):
            gate = gates.lists_of_one_day_agree(con)
            yield check_result(gate, EHCP_COHORT, LISTS_OF_ONE_DAY_AGREE, warn_only=True)


GATED_ASSETS = [
    *(a.key for a in ingest_assets),
    *(staging_key(e) for e in STAGING_MODELS),
    PLACEMENTS_CLASSIFIED,
    DATA_QUALITY_FLAGS,
    *MART_KEYS,
]


def _require_every_blocking_check(context: dg.AssetExecutionContext, records) -> None:
    """A run that materialises this gate without the blocking checks of everything upstream
    (`--select 'gates/warehouse_checked*'`, the UI's "materialise selected and downstream") would
    pass it with nothing checked, publishing whatever the warehouse holds, even figures a gate
    refused in the run before: it must evaluate every one of them, as the refresh job does."""
    checks = [warehouse_models, *ingest_checks, warehouse_gates]
    expected = {spec.key for c in checks for spec in c.check_specs if spec.blocking}
    evaluated = set()
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        evaluated.add(dg.AssetCheckKey(evaluation.asset_key, evaluation.check_name))
    missing = sorted(key.to_user_string() for key in expected - evaluated)
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        shown = ", ".join(missing[:5]) + more
        raise dg.Failure(
            f"Not checked: {len(missing)} of the {len(expected)} blocking checks on the warehouse "
            f"did not run in this run ({shown}), so its figures cannot pass the gate. Run the "
            "refresh job (`highneeds refresh`), or select the checks with the gate."
        )


@dg.asset(
    key=["gates", "warehouse_checked"],
    group_name="gates",
    owners=[DATA_ENGINEERING],
    kinds={"python", "duckdb"},
    deps=GATED_ASSETS,
    description=(
        "The gate between the warehouse and everything that uses it (forecast, serving). It runs "
        "only when every blocking check on the ingest, staging and mart assets passed in the same "
        "run (or, in a many-council warehouse, failed for some councils only), and fails a run "
        "that left any of them out (a selection starting at this gate), so nothing unchecked "
        "reaches the forecast or serving. It records those "
        "check results in `meta.check_results`, the councils held at their last good "
        "published figures in `meta.held_councils`, and that the marts' figures passed in "
        "`meta.figures_checked`."
    ),
)
def warehouse_checked(
    context: dg.AssetExecutionContext, warehouse: DuckDBResource
) -> dg.MaterializeResult:
    records = context.instance.get_records_for_run(
        context.run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    _require_every_blocking_check(context, records)
    rows, held = [], []
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        councils = evaluation.metadata.get(HELD_COUNCILS)
        # what the gate found (check_result's failures, without its "held" preamble)
        failures = evaluation.metadata.get("failures")
        found = "; ".join(str(getattr(failures, "value", "")).splitlines()[:5])
        for code in str(getattr(councils, "value", "")).split(", ") if councils else []:
            held.append(
                {
                    "run_id": context.run.run_id,
                    "la_code": code,
                    "asset": evaluation.asset_key.to_user_string(),
                    "check_name": evaluation.check_name,
                    "description": found or evaluation.description or "",
                }
            )
        rows.append(
            {
                "run_id": context.run.run_id,
                "asset": evaluation.asset_key.to_user_string(),
                "check_name": evaluation.check_name,
                "passed": bool(evaluation.passed),
                "severity": evaluation.severity.value,
                "description": evaluation.description or "",
                "evaluated_at": pd.Timestamp.fromtimestamp(record.event_log_entry.timestamp),
            }
        )
    results = pd.DataFrame(
        rows,
        columns=[
            "run_id",
            "asset",
            "check_name",
            "passed",
            "severity",
            "description",
            "evaluated_at",
        ],
    )
    held_rows = pd.DataFrame(
        held, columns=["run_id", "la_code", "asset", "check_name", "description"]
    ).astype("string")
    with warehouse.get_connection() as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS meta")
        con.register("_results", results)
        con.execute("CREATE OR REPLACE TABLE meta.check_results AS SELECT * FROM _results")
        con.unregister("_results")
        # read by the forecast (which skips them), the report and the publish (which serves their
        # last good figures)
        con.register("_held", held_rows)
        con.execute(
            "CREATE OR REPLACE TABLE meta.held_councils AS SELECT run_id::VARCHAR AS run_id, "
            "la_code::VARCHAR AS la_code, asset::VARCHAR AS asset, "
            "check_name::VARCHAR AS check_name, description::VARCHAR AS description FROM _held"
        )
        con.unregister("_held")
        record_figures(con, context.run.run_id, checked=True)
    failed_warnings = results[~results["passed"]]
    held_codes = sorted(set(held_rows["la_code"]))
    return dg.MaterializeResult(
        metadata={
            "checks_evaluated": len(results),
            "checks_passed": int(results["passed"].sum()),
            "warnings": len(failed_warnings),
            "held_councils": ", ".join(held_codes) if held_codes else "none",
            "results": markdown_table(results[["asset", "check_name", "passed", "severity"]]),
            **provenance(context.run.run_id),
        }
    )
