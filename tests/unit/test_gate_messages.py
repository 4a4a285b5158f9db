"""What a failing gate says: the rows it names, and how many more there are."""

import pandas as pd

from checks.gates import expect, validate


def _gate(failing: int):
    facts = pd.DataFrame(
        {
            "label": [f"20{10 + i}-{11 + i}" for i in range(failing + 2)],
            "complete_without_budget": [True] * failing + [False, False],
        }
    )
    return validate(
        "complete_years_have_a_budget",
        facts,
        [
            expect(
                "ExpectColumnValuesToBeInSet", column="complete_without_budget", value_set=[False]
            )
        ],
        {"complete_without_budget": "a complete financial year has no budget lines"},
    )


def test_a_gate_names_five_failing_rows_and_counts_the_rest():
    """Nine years without a budget were named as five, and a council fixing those five met the
    same refusal again."""
    result = _gate(9)
    assert not result.passed
    assert result.failures == [
        "a complete financial year has no budget lines "
        "(2010-11, 2011-12, 2012-13, 2013-14, 2014-15 and 4 more)"
    ]
    assert _gate(5).failures == [
        "a complete financial year has no budget lines "
        "(2010-11, 2011-12, 2012-13, 2013-14, 2014-15)"
    ]
