"""dbt's `unit_tests` (in the models' YAML) run as part of `dbt build`, as the pipeline runs it."""

import json

# the tricky SQL: census windows, the spend allocation rules, the as-of joins' ties
UNIT_TESTED_MODELS = {
    "int_census_windows",
    "int_ehcp_plan_events",
    "int_placement_starts",
    "int_ehcp_census_snapshots",
    "int_spend_allocated",
    "int_spend_child_placements",
    "int_spend_provider_placements",
    "int_placements_classified",
    "fct_provision_starts",
}


def test_dbt_build_runs_every_unit_test_and_they_pass(built_warehouse):
    target = built_warehouse.parent / "dbt-target"
    declared = json.loads((target / "manifest.json").read_text())["unit_tests"]
    results = json.loads((target / "run_results.json").read_text())["results"]
    ran = {r["unique_id"]: r["status"] for r in results if r["unique_id"].startswith("unit_test.")}
    assert set(ran) == set(declared)
    assert set(ran.values()) == {"pass"}
    assert {test["model"] for test in declared.values()} >= UNIT_TESTED_MODELS
