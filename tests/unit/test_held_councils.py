"""Which councils a failed gate holds at their last good figures (the others publish)."""

import dagster as dg
import pandas as pd

from checks.gates import GateResult
from dagster_project.metadata import HELD_COUNCILS, check_result, held_by

KEY = dg.AssetKey(["marts", "fct_provision_spend"])


def gate(passed: bool, councils_failed: list[str] | None) -> GateResult:
    return GateResult("g", passed, pd.DataFrame({"n": [1]}), ["bad"], councils_failed)


def test_a_gate_failing_for_some_councils_holds_them_and_warns():
    result = check_result(gate(False, ["825"]), KEY, "c", ["825", "869"])
    assert result.severity == dg.AssetCheckSeverity.WARN and not result.passed
    assert result.metadata[HELD_COUNCILS].value == "825"
    assert result.description.startswith("council 825 held at the last good published figures")


def test_a_gate_failing_for_every_council_or_the_whole_warehouse_stops_them_all():
    assert held_by(gate(False, ["825", "869"]), ["825", "869"]) == []
    assert held_by(gate(False, None), ["825", "869"]) == []  # the pipeline's failure
    assert held_by(gate(False, ["869"]), []) == []  # one council's landing folder
    assert held_by(gate(True, None), ["825", "869"]) == []
    result = check_result(gate(False, None), KEY, "c", ["825", "869"])
    assert result.severity == dg.AssetCheckSeverity.ERROR and HELD_COUNCILS not in result.metadata
