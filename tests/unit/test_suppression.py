"""Small-count suppression: counts below the threshold are hidden, and no hidden count can be
worked out from the totals and the other cells."""

import numpy as np
import pandas as pd
import pytest

from serving.suppression import (
    EXTERNAL,
    PRIMARY,
    SECONDARY,
    TOTAL,
    Line,
    bounded_cells,
    recoverable_cells,
    suppress,
    table_lines,
    with_totals,
)

TWO_WAY = (("year", "need"), ("year", "provision"))


def two_way(counts: np.ndarray) -> pd.DataFrame:
    needs, provisions = counts.shape
    return pd.DataFrame(
        [
            (2025, f"n{i}", f"p{j}", int(counts[i, j]))
            for i in range(needs)
            for j in range(provisions)
        ],
        columns=["year", "need", "provision", "plans"],
    )


def published(
    cells: pd.DataFrame, threshold: int = 5, lines=TWO_WAY, dims=("year", "need", "provision")
):
    table = with_totals(cells, dims, lines, ["plans"])
    found = table_lines(table, dims, lines)
    return table, found, suppress(table, "plans", found, threshold)


def determined_by_rank(hidden: np.ndarray, table: pd.DataFrame, lines) -> list[int]:
    """Hidden cells fixed by the equations, found another way: a cell is fixed when its unit
    vector lies in the row space of the equations over the hidden cells."""
    unknown = list(np.flatnonzero(hidden))
    equations = np.zeros((len(lines), len(unknown)))
    for row, line in enumerate(lines):
        for cell in line.members:
            if cell in unknown:
                equations[row, unknown.index(cell)] = 1
        if line.total in unknown:
            equations[row, unknown.index(line.total)] = -1
    rank = np.linalg.matrix_rank(equations)
    fixed = []
    for i, cell in enumerate(unknown):
        unit = np.zeros(len(unknown))
        unit[i] = 1
        if np.linalg.matrix_rank(np.vstack([equations, unit])) == rank:
            fixed.append(cell)
    return fixed


def test_counts_below_the_threshold_are_hidden_and_zeros_shown():
    cells = pd.DataFrame(
        {"year": 2025, "provision": ["a", "b", "c", "d", "e"], "plans": [0, 1, 4, 5, 30]}
    )
    table, _, reasons = published(cells, lines=(("year",),), dims=("year", "provision"))
    by_provision = dict(zip(table["provision"], reasons, strict=False))
    assert by_provision["b"] == by_provision["c"] == PRIMARY
    assert by_provision["a"] is None and by_provision["d"] is None and by_provision["total"] is None


def test_a_lone_hidden_cell_gets_the_smallest_non_zero_cell_as_its_complement():
    cells = pd.DataFrame({"year": 2025, "provision": ["a", "b", "c", "d"], "plans": [3, 0, 12, 20]})
    table, _, reasons = published(cells, lines=(("year",),), dims=("year", "provision"))
    by_provision = dict(zip(table["provision"], reasons, strict=False))
    assert by_provision == {"a": PRIMARY, "b": None, "c": SECONDARY, "d": None, "total": None}


def test_a_hidden_spend_whose_only_complement_is_a_known_zero_spend_gets_another():
    """EOTAS (1 placement, £23,254) and `other` (4 placements, £0 every year: paid centrally)
    both hidden for their own small counts: the counts were safe, but the year's spend less the
    shown types gave EOTAS's spend back exactly. Another type with spend is hidden with it."""
    cells = pd.DataFrame(
        {"year": 2025, "provision": ["eotas", "other", "c", "d"], "plans": [1, 4, 12, 20]}
    )
    table = with_totals(cells, ("year", "provision"), (("year",),), ["plans"])
    lines = table_lines(table, ("year", "provision"), (("year",),))
    guessable = (table["provision"] == "other").to_numpy()
    reasons = suppress(table, "plans", lines, 5, guessable=guessable)
    by_provision = dict(zip(table["provision"], reasons, strict=False))
    assert by_provision == {
        "eotas": PRIMARY,
        "other": PRIMARY,
        "c": SECONDARY,
        "d": None,
        "total": None,
    }
    # without the £0 known, the two small counts protect each other
    reasons = suppress(table, "plans", lines, 5)
    assert dict(zip(table["provision"], reasons, strict=False))["c"] is None


def test_a_small_total_is_hidden_too():
    cells = pd.DataFrame({"year": 2025, "provision": ["a", "b", "c"], "plans": [2, 0, 1]})
    table, _, reasons = published(cells, lines=(("year",),), dims=("year", "provision"))
    assert dict(zip(table["provision"], reasons, strict=False))["total"] == PRIMARY


def test_a_classic_two_way_table():
    #        p0  p1  p2 | total
    # n0      2  10  12 |   24
    # n1      8  15  20 |   43
    # n2      9  11  30 |   50
    counts = np.array([[2, 10, 12], [8, 15, 20], [9, 11, 30]])
    table, lines, reasons = published(two_way(counts))
    hidden = reasons.notna().to_numpy()
    interior = table[(table["need"] != TOTAL) & (table["provision"] != TOTAL)]
    assert hidden[interior.index].sum() == 4  # the 2, and a rectangle of complements: 8, 10, 15
    assert not hidden[table.index[(table["need"] == TOTAL) | (table["provision"] == TOTAL)]].any()
    assert not recoverable_cells(hidden, lines).size


def range_by_linear_programme(
    hidden: np.ndarray, values: np.ndarray, lines, cell: int
) -> tuple[float, float]:
    """The lowest and highest value of a hidden cell an outsider can give it, found another way
    than bounded_cells: a linear programme over every hidden cell at once (each hidden count at
    least 1, or 0 on a line holding a hidden zero; every line's equation; shown cells as
    published)."""
    from scipy.optimize import linprog

    unknown = list(np.flatnonzero(hidden))
    rows, sums = [], []
    for line in lines:
        signs = np.ones(len(line.members)) if line.signs is None else line.signs
        terms = list(zip(line.members, signs, strict=True))
        if line.total != EXTERNAL:
            terms.append((line.total, -1.0))
        if not any(hidden[c] for c, _ in terms):
            continue
        row = np.zeros(len(unknown))
        for c, sign in terms:
            if hidden[c]:
                row[unknown.index(c)] = sign
        rows.append(row)
        sums.append(sum(sign * values[c] for c, sign in terms if hidden[c]))
    # what a reader knows: a hidden count is at least 1, except on a line holding a zero hidden
    # as a complement, where its sum says one of them is 0 but not which
    with_zero = {
        c
        for line in lines
        if any(hidden[c] and values[c] == 0 for c in line.cells)
        for c in line.cells
    }
    bounds = [(0 if c in with_zero else 1, None) for c in unknown]
    objective = np.zeros(len(unknown))
    objective[unknown.index(cell)] = 1
    found = []
    for direction in (1, -1):
        result = linprog(direction * objective, A_eq=rows, b_eq=sums, bounds=bounds)
        assert result.status in (0, 3), result.message  # solved, or unbounded that way
        found.append(direction * result.fun if result.status == 0 else -direction * np.inf)
    return found[0], found[1]


def test_hidden_counts_summing_to_as_many_as_they_are_get_a_complement():
    """A year's 160 new plans, 156 of them shown and four types hidden: one equation in four
    unknowns fixes none of them, but counts are whole and a hidden one is at least 1 (zeros are
    shown), so each of the four was 1 (76 cells of the demo's published tables, found by a
    reviewer's bounds). A fifth cell is hidden with them."""
    cells = pd.DataFrame(
        {
            "year": 2020,
            "provision": ["a", "b", "c", "d", "e", "f"],
            "plans": [150, 6, 1, 1, 1, 1],
        }
    )
    table, lines, reasons = published(cells, lines=(("year",),), dims=("year", "provision"))
    by_provision = dict(zip(table["provision"], reasons, strict=False))
    assert by_provision == {
        "a": None,
        "b": SECONDARY,
        "c": PRIMARY,
        "d": PRIMARY,
        "e": PRIMARY,
        "f": PRIMARY,
        "total": None,
    }
    hidden = reasons.notna().to_numpy()
    values = table["plans"].to_numpy(dtype=float)
    assert not bounded_cells(hidden, lines, values).size
    assert range_by_linear_programme(hidden, values, lines, 2) == (1, 6)
    # the four ones alone: each is fixed, though no equation's rank says so
    alone = hidden & (values == 1)
    assert not recoverable_cells(alone, lines).size
    assert sorted(bounded_cells(alone, lines, values)) == [2, 3, 4, 5]


@pytest.mark.parametrize("seed", range(40))
def test_no_hidden_count_can_be_worked_out_from_random_tables(seed):
    rng = np.random.default_rng(seed)
    shape = rng.integers(2, 9, size=2)
    counts = rng.choice([0, 0, 1, 2, 3, 4, 5, 8, 13, 40], size=shape)
    threshold = int(rng.integers(2, 11))
    table, lines, reasons = published(two_way(counts), threshold=threshold)
    hidden = reasons.notna().to_numpy()
    values = table["plans"].to_numpy()
    assert not ((values > 0) & (values < threshold) & ~hidden).any(), "a small count is shown"
    assert determined_by_rank(hidden, table, lines) == []
    # nor once counts are known to be whole and a hidden one at least 1: a linear programme
    # over every line at once is a stronger attack than the product's line-by-line bounds
    # (bounded_cells), and these tables hold against it too
    for cell in np.flatnonzero(hidden):
        low, high = range_by_linear_programme(hidden, values.astype(float), lines, cell)
        assert np.floor(high + 1e-9) > np.ceil(low - 1e-9), (cell, low, high)
    for line in lines:  # totals add up
        assert values[line.members].sum() == values[line.total]


def test_a_threshold_below_one_is_refused():
    cells = pd.DataFrame({"year": 2025, "provision": ["a", "b"], "plans": [1, 2]})
    table = with_totals(cells, ("year", "provision"), (("year",),), ["plans"])
    with pytest.raises(ValueError, match="at least 1"):
        suppress(
            table, "plans", table_lines(table, ("year", "provision"), (("year",),)), threshold=0
        )


def test_flows_are_hidden_so_that_the_caseload_s_change_gives_none_away():
    """A type's caseload change between censuses (published with the caseload) is its new plans
    less its ceased ones, plus moves in less moves out: with moves and ceased shown, a hidden
    count of new plans came back exactly (37 cells of the demo's published flows)."""
    from serving.publish import SUPPRESSED_TABLES, change_lines, suppressed_table

    spec = next(t for t in SUPPRESSED_TABLES if t.name == "ehcp_flows")
    rows = []
    for provision, counts in (
        ("ap", {"new_plans": 2, "ceased_plans": 0, "moved_in": 0, "moved_out": 5}),
        ("mss", {"new_plans": 30, "ceased_plans": 12, "moved_in": 9, "moved_out": 6}),
        ("mainstream", {"new_plans": 80, "ceased_plans": 40, "moved_in": 7, "moved_out": 20}),
        ("inmss", {"new_plans": 15, "ceased_plans": 8, "moved_in": 15, "moved_out": 0}),
    ):
        rows += [(2020, m, provision, n) for m, n in counts.items()]
    cells = pd.DataFrame(rows, columns=["year", "measure", "provision_type", "plans"])
    table = suppressed_table(cells, spec, threshold=5)
    hidden = table["suppressed"].to_numpy(dtype=bool)
    lines = table_lines(table, spec.dims, spec.lines) + change_lines(table, spec)
    assert hidden.any() and not recoverable_cells(hidden, lines).size
    # the table's own totals alone were all the old suppression considered
    ap_new = (table["provision_type"] == "ap") & (table["measure"] == "new_plans")
    assert table.loc[ap_new, "plans"].isna().all()


def test_flow_totals_stay_hidden_knowing_that_moves_in_are_moves_out():
    """Across every provision type a move in is a move out: with the total moves out hidden but
    the total moves in shown, the totals' change line gave the hidden total of new plans back."""
    from serving.publish import SUPPRESSED_TABLES, change_lines, suppressed_table

    spec = next(t for t in SUPPRESSED_TABLES if t.name == "ehcp_flows")
    counts = {
        ("new_plans", "mss"): 3,
        ("ceased_plans", "mss"): 10,
        ("ceased_plans", "mainstream"): 10,
        ("moved_out", "mss"): 6,
        ("moved_in", "inmss"): 6,
    }
    cells = pd.DataFrame(
        [(2020, m, p, n) for (m, p), n in counts.items()],
        columns=["year", "measure", "provision_type", "plans"],
    )
    table = suppressed_table(cells, spec, threshold=5)
    hidden = table["suppressed"].to_numpy(dtype=bool)
    lines = table_lines(table, spec.dims, spec.lines) + change_lines(table, spec)
    assert len(change_lines(table, spec)) > len(table.groupby(["year", "provision_type"]))
    assert hidden.any() and not recoverable_cells(hidden, lines).size


def test_a_hidden_caseload_is_not_given_back_by_the_year_before_and_the_flows_between():
    """A type's caseload at a census is its caseload a year before plus the year's new plans,
    less ceased, plus moves in, less moves out: with 6 plans shown at 2020 and every flow to
    2021 shown (5 new, 8 ceased), the 3 plans hidden at 2021 came back as 6 + 5 − 8."""
    from serving.publish import family_lines, family_of, suppressed_tables

    cohort = []
    for year, counts in (
        (2020, {"mss": (40, 30), "inmss": (6, 0), "mainstream": (50, 45)}),
        (2021, {"mss": (44, 33), "inmss": (3, 0), "mainstream": (52, 47)}),
    ):
        for provision, (asd, semh) in counts.items():
            cohort += [("900", year, "ASD", provision, asd), ("900", year, "SEMH", provision, semh)]
    cohort = pd.DataFrame(
        cohort, columns=["la_code", "census_year", "primary_need", "provision_type", "plans"]
    )
    by_age = cohort.rename(columns={"primary_need": "age_group"}).replace(
        {"ASD": "5 to 10", "SEMH": "11 to 15"}
    )
    flows = {
        "mss": {"new_plans": 12, "ceased_plans": 5, "moved_in": 0, "moved_out": 0},
        "inmss": {"new_plans": 5, "ceased_plans": 8, "moved_in": 0, "moved_out": 0},
        "mainstream": {"new_plans": 20, "ceased_plans": 16, "moved_in": 0, "moved_out": 0},
    }
    flows = pd.DataFrame(
        [("900", 2021, m, p, n) for p, counts in flows.items() for m, n in counts.items()],
        columns=["la_code", "year", "measure", "provision_type", "plans"],
    )
    tables = suppressed_tables(
        {"ehcp_plans_by_need": cohort, "ehcp_plans_by_age_group": by_age, "ehcp_flows": flows},
        threshold=5,
    )
    census = tables["ehcp_plans_by_need"].query("primary_need == 'total'")
    census = census.set_index(["census_year", "provision_type"])["plans"]
    assert pd.isna(census[(2021, "inmss")])  # 3 plans: hidden
    shown = tables["ehcp_flows"].set_index(["measure", "provision_type"])["plans"]
    before = census[(2020, "inmss")]
    flows_shown = [shown[(m, "inmss")] for m in ("new_plans", "ceased_plans")]
    # the year before or a flow between is hidden too, so 2021's 3 cannot be worked out
    assert pd.isna(before) or any(pd.isna(f) for f in flows_shown)
    starts, lines = family_lines(tables, family_of("ehcp_flows").caseload)
    hidden = np.concatenate([tables[name]["suppressed"].to_numpy(dtype=bool) for name in starts])
    assert not recoverable_cells(hidden, lines).size
    # a council with census counts and no flows yet is published as before
    alone = suppressed_tables(
        {"ehcp_plans_by_need": cohort, "ehcp_flows": flows.iloc[:0]}, threshold=5
    )
    assert alone["ehcp_flows"].empty and alone["ehcp_plans_by_need"]["suppressed"].any()


def test_a_line_whose_only_non_zero_cell_is_hidden_with_its_total_hides_a_zero_too():
    """Provision p0 holds 3 children, all with need n0: its total (3) and n0's cell (3) are
    hidden, but the zeros shown beside them said that every child in p0 has need n0 — an
    attribute of each of those children, disclosed without any count. One of the zeros is
    hidden too, so the reader cannot tell which need they have; every other line keeps its
    zeros shown."""
    counts = np.array([[3, 40, 25], [0, 30, 20], [0, 12, 9], [0, 8, 0]])
    table, found, reasons = published(two_way(counts))
    hidden = reasons.notna().to_numpy()
    p0 = (table["provision"] == "p0").to_numpy()
    inside = p0 & (table["need"] != TOTAL).to_numpy()
    assert hidden[p0 & (table["need"] == TOTAL).to_numpy()].all()  # its total, 3: primary
    # n0's cell and at least one of the zeros beside it
    assert hidden[inside & (table["need"] == "n0").to_numpy()].all()
    assert hidden[inside & (table["need"] != "n0").to_numpy()].any()
    # and no line of the table has one hidden cell beside zeros with its total hidden
    for line in found:
        members = [p for p in line.members if hidden[p]]
        shown = [p for p in line.members if not hidden[p]]
        alone = len(members) == 1 and hidden[line.total] and len(shown)
        assert not (alone and all(table["plans"].iloc[p] == 0 for p in shown)), line
    assert not determined_by_rank(hidden, table, found)
    # a zero elsewhere, beside counts that are shown, stays shown (p2 × n3)
    assert not hidden[((table["provision"] == "p2") & (table["need"] == "n3")).to_numpy()].all()


@pytest.mark.parametrize("counts", [[[1, 0], [8, 1], [1, 1]], [[0, 1], [1, 1], [2, 5]]])
def test_small_tables_whose_complements_protect_a_later_cell_of_the_round_publish(counts):
    """The bounds test finds cells fixed through chains of lines; a round's complements can
    protect a cell found earlier in that round, whose lines are by then all hidden: it was
    refused as 'can be worked out even with every cell hidden' (2 of 2,000 random tables)."""
    table, lines, reasons = published(two_way(np.array(counts)))
    hidden = reasons.notna().to_numpy()
    values = table["plans"].to_numpy(dtype=float)
    assert not recoverable_cells(hidden, lines).size
    assert not bounded_cells(hidden, lines, values).size


def test_a_zero_hidden_as_a_complement_protects_its_line():
    """Five ones and three zeros: the five ones, summing to their total, give each other away
    (each is at least 1); one zero hidden with them leaves a reader unable to tell which hidden
    count is the zero. Taken as known to be 0, the hidden zero protected nothing, and every zero
    and then the total were hidden."""
    cells = pd.DataFrame(
        {"year": 2025, "provision": list("abcdefgh"), "plans": [1, 1, 1, 1, 1, 0, 0, 0]}
    )
    table, lines, reasons = published(cells, lines=(("year",),), dims=("year", "provision"))
    by_provision = dict(zip(table["provision"], reasons, strict=False))
    assert [by_provision[p] for p in "fgh"].count(SECONDARY) == 1
    assert by_provision["total"] is None


def test_counts_a_reader_takes_as_at_least_one_are_not_given_away_by_a_zero_on_another_line():
    """A provision type's line of 17 with 15 shown and two needs hidden: a reader taking every
    hidden count as at least 1 (zeros are shown) has each as 1. Each need's own line held a zero
    hidden as a complement, so they were taken as possibly 0 and left — though that line's sum
    (4 over three hidden counts) shows a reader no zero."""
    # eotas: ASD 7, SEMH 8, PMLD 1, SLCN 1, total 17; PMLD: eotas 1, ap 0, inmss 3, total 4;
    # SLCN: eotas 1, inmss 2, mss 9, total 12
    values = np.array([7, 8, 1, 1, 17, 0, 3, 4, 9, 2, 12], dtype=float)
    hidden = np.zeros(len(values), dtype=bool)
    hidden[[2, 3, 5, 6, 9]] = True
    lines = [
        Line(np.array([0, 1, 2, 3]), 4),
        Line(np.array([2, 5, 6]), 7),
        Line(np.array([3, 9, 8]), 10),
    ]
    assert recoverable_cells(hidden, lines).size == 0
    # PMLD's and SLCN's 1 in eotas, and so SLCN's 2 in inmss (12 − 9 − 1)
    assert bounded_cells(hidden, lines, values).tolist() == [2, 3, 9]
    # where a line's own sum shows a hidden zero (2 over three hidden counts), it protects
    values[[6, 7]] = [1, 2]
    assert bounded_cells(hidden, lines, values).tolist() == []
