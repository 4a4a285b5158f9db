"""The backtest's scoring and the baselines, on records whose answers are worked out by hand."""

import dataclasses

import duckdb
import numpy as np
import pandas as pd
import pytest

from forecast.backtest import MODEL, OWN, RECORD_COLUMNS, spend_record, summarise, verdict
from forecast.backtest_report import README_END, README_START, splice_readme
from forecast.baselines import compound_growth, last_value, linear_trend, national_growth
from forecast.store import write_tables
from serving import contract as serving_contract
from warehouse.councils import with_la_code


def test_baselines_project_the_council_total_as_councils_do():
    history = pd.DataFrame({"total": [100.0, 110.0, 121.0, 133.1]}, index=[2019, 2020, 2021, 2022])
    assert compound_growth(history, 2)[0] == pytest.approx(133.1 * 1.21)
    assert linear_trend(history, 1)[0] == pytest.approx(
        np.polyval(np.polyfit([2019, 2020, 2021, 2022], history["total"], 1), 2023)
    )
    assert last_value(history, 3)[0] == 133.1
    england = pd.Series(
        [1000.0, 1050.0, 1102.5, 1157.625, 9999.0], index=[2019, 2020, 2021, 2022, 2023]
    )
    # 2023 is not known yet
    assert national_growth(history, 2, england)[0] == pytest.approx(133.1 * 1.05**2)


def test_a_type_the_council_never_had_is_no_test_of_the_band_nor_of_the_baselines():
    """A council with no independent special placements, forecast none with a band of nothing:
    its row read coverage 100 % and every baseline not beaten (forecast reviewer)."""
    rows = [
        ("model", 2020, 1, "inmss", "A", 0.0, 0.0, 0.0, 0.0),
        ("compound_growth_3y", 2020, 1, "inmss", "A", 0.0, 0.0, np.nan, np.nan),
        ("model", 2020, 1, "inmss", "B", 10.0, 12.0, 8.0, 14.0),  # covered, beaten by …
        ("compound_growth_3y", 2020, 1, "inmss", "B", 10.0, 11.0, np.nan, np.nan),
    ]
    summary = summarise(pd.DataFrame(rows, columns=RECORD_COLUMNS)).set_index(["model", "origin"])
    scored = summary.loc[("model", 2020)]
    # … council B alone is scored
    assert scored["coverage_p10_p90"] == 1.0 and scored["beats_compound_growth_3y"] == 0.0
    alone = summarise(pd.DataFrame(rows[:2], columns=RECORD_COLUMNS)).set_index("model")
    assert np.isnan(alone.loc["model", "coverage_p10_p90"].iloc[0])
    assert np.isnan(alone.loc["model", "beats_compound_growth_3y"].iloc[0])


def test_wape_bias_coverage_and_wins_per_origin_and_pooled():
    rows = [
        ("model", 2020, 1, "total", "A", 100.0, 110.0, 90.0, 120.0),  # error +10, covered
        ("model", 2020, 1, "total", "B", 200.0, 190.0, 201.0, 230.0),  # error −10, not covered
        # +30: model wins
        ("compound_growth_3y", 2020, 1, "total", "A", 100.0, 130.0, np.nan, np.nan),
        # +5: model loses
        ("compound_growth_3y", 2020, 1, "total", "B", 200.0, 205.0, np.nan, np.nan),
        ("model", 2021, 1, "total", "A", 100.0, 100.0, 90.0, 110.0),
        ("compound_growth_3y", 2021, 1, "total", "A", 100.0, 120.0, np.nan, np.nan),
    ]
    summary = summarise(pd.DataFrame(rows, columns=RECORD_COLUMNS)).set_index(["model", "origin"])
    first = summary.loc[("model", 2020)]
    assert first["wape"] == pytest.approx(20 / 300) and first["bias"] == pytest.approx(0.0)
    assert first["coverage_p10_p90"] == 0.5 and first["beats_compound_growth_3y"] == 0.5
    assert np.isnan(first["beats_national_growth_3y"])
    assert np.isnan(summary.loc[("compound_growth_3y", 2020), "coverage_p10_p90"])
    pooled = summary[summary.index.get_level_values("origin").isna()].loc["model"].iloc[0]
    assert pooled["wape"] == pytest.approx(20 / 400) and pooled["units"] == 2
    assert pooled["coverage_p10_p90"] == pytest.approx(2 / 3) and pooled[
        "beats_compound_growth_3y"
    ] == pytest.approx(2 / 3)


def _own(model, origin, horizon, kind, actual, forecast, band=None):
    low, high = band or (np.nan, np.nan)
    return (model, origin, horizon, kind, OWN, actual, forecast, low, high)


def test_the_verdict_names_the_projections_that_beat_the_model_on_the_total():
    """The report and summary say, beside the balance, how the caseload model did on the
    council's own past at its furthest horizon, and which simple projection did better."""
    rows = [
        _own(MODEL, 2020, 3, "total", 100.0, 110.0, (105.0, 115.0)),  # +10, outside its band
        _own(MODEL, 2021, 3, "total", 100.0, 96.0, (90.0, 110.0)),  # −4, inside
        _own("compound_growth_3y", 2020, 3, "total", 100.0, 102.0),
        _own("compound_growth_3y", 2021, 3, "total", 100.0, 101.0),
        _own("last_value", 2020, 3, "total", 100.0, 80.0),
        _own("last_value", 2021, 3, "total", 100.0, 85.0),
        # a nearer horizon the model wins is not the one reported
        _own(MODEL, 2021, 1, "total", 100.0, 100.0, (95.0, 105.0)),
        _own("compound_growth_3y", 2021, 1, "total", 100.0, 90.0),
    ]
    scored = verdict(summarise(pd.DataFrame(rows, columns=RECORD_COLUMNS)))
    assert (scored.horizon, scored.origins, scored.covered) == (3, 2, 1)
    assert scored.wape == pytest.approx(14 / 200) and scored.bias == pytest.approx(6 / 200)
    assert scored.baselines == pytest.approx(
        {"compound_growth_3y": 3 / 200, "last_value": 35 / 200}
    )
    assert scored.better == ["compound_growth_3y"]
    text = scored.sentence()
    assert "missed the total plans by 7.0% (bias +3.0%)" in text
    assert "Compound growth (3 years) forecast the total better here." in text
    national = dataclasses.replace(scored, baselines={"national_growth_3y": 0.01}).sentence()
    assert "; England's growth (3 years) 1.0%. England's growth (3 years) forecast" in national
    assert "held 1 of 2 actual totals" in text


def test_the_verdict_says_when_the_model_beat_every_projection_and_on_spend():
    rows = [
        _own(MODEL, 2020, 2, "total", 100.0, 101.0, (90.0, 110.0)),
        _own("compound_growth_3y", 2020, 2, "total", 100.0, 95.0),
        _own(MODEL, 2020, 2, "mss", 10.0, 10.0, (9.0, 11.0)),
        _own("compound_growth_3y", 2020, 2, "mss", 10.0, 14.0),
    ]
    records = pd.DataFrame(rows, columns=RECORD_COLUMNS)
    scored = verdict(summarise(records, {"mss": 20_000.0}))
    assert scored.better == [] and scored.spend[0] == 0.0
    assert "It did better than every simple projection." in scored.sentence()
    # the model lost on the total but won weighted by cost: both are said
    worse = records.copy()
    worse.loc[(worse["model"] == MODEL) & (worse["provision_type"] == "total"), "forecast"] = 110.0
    text = verdict(summarise(worse, {"mss": 20_000.0})).sentence()
    assert "(by cost per plan the model did better: 0.0% against 40.0%)" in text
    assert verdict(summarise(records[records["provision_type"] != "total"])) is None
    # with no baseline scored beside it, nothing is claimed against one
    alone = dataclasses.replace(scored, baselines={}).sentence()
    assert "(bias +1.0%). Its p10–p90 band held 1 of 1" in alone


def test_an_empty_backtest_is_written_typed_as_the_contract_says():
    """A council with too short a history has no backtest rows: written untyped, its table's
    columns were NULL-typed and the publish crashed copying another (held) council's last good
    rows into it, so no council published."""
    empty = with_la_code(summarise(pd.DataFrame(columns=RECORD_COLUMNS)), "869")
    con = duckdb.connect()
    write_tables(con, {"backtest": empty})
    written = {row[0]: row[1] for row in con.execute("DESCRIBE forecast.backtest").fetchall()}
    contract = serving_contract.tables("forecast")["backtest"]
    assert {c: t.lower() for c, t in written.items()} == {
        c.name: c.data_type for c in contract.columns
    }


def test_the_readme_block_is_replaced_between_its_markers_only():
    readme = f"intro\n{README_START}\nold table\n{README_END}\nafter\n"
    assert (
        splice_readme(readme, "new table")
        == f"intro\n{README_START}\nnew table\n{README_END}\nafter\n"
    )
    with pytest.raises(ValueError, match="markers"):
        splice_readme("no markers here", "new table")


def test_spend_rows_weigh_each_provision_types_errors_by_its_unit_cost():
    rows = [
        ("model", 2020, 1, "mss", "A", 10.0, 12.0, 9.0, 13.0),  # +2 plans at £20k
        ("model", 2020, 1, "mainstream", "A", 100.0, 90.0, 85.0, 95.0),  # −10 plans at £5k
        ("model", 2020, 1, "total", "A", 110.0, 102.0, 95.0, 115.0),
        ("last_value", 2020, 1, "mss", "A", 10.0, 10.0, np.nan, np.nan),
        ("last_value", 2020, 1, "mainstream", "A", 100.0, 80.0, np.nan, np.nan),
        ("last_value", 2020, 1, "total", "A", 110.0, 90.0, np.nan, np.nan),
    ]
    summary = summarise(
        pd.DataFrame(rows, columns=RECORD_COLUMNS), {"mss": 20_000.0, "mainstream": 5_000.0}
    )
    spend = summary[(summary.provision_type == "spend") & summary.origin.notna()].set_index("model")
    actual = 10 * 20_000 + 100 * 5_000
    assert spend.loc["model", "actual_plans"] == actual  # in pounds on the spend row
    assert spend.loc["model", "wape"] == pytest.approx(abs(2 * 20_000 - 10 * 5_000) / actual)
    assert spend.loc["last_value", "bias"] == pytest.approx(-20 * 5_000 / actual)
    assert spend.loc["model", "beats_last_value"] == 1.0


def test_a_models_spend_interval_comes_from_its_paths_not_its_types_quantiles():
    # two types whose paths move against each other: each is uncertain, their cost is not
    paths = np.array([[10.0, 100.0], [14.0, 84.0], [6.0, 116.0]] * 10)  # mss, mainstream
    costs = {"mss": 20_000.0, "mainstream": 5_000.0, "inmss": 50_000.0}
    record = spend_record(
        "model", 2020, 1, "A", np.array([11.0, 90.0]), paths, ["mss", "mainstream"], costs
    )
    assert record[:6] == ("model", 2020, 1, "spend", "A", 11 * 20_000 + 90 * 5_000)
    assert record[6] == pytest.approx(10 * 20_000 + 100 * 5_000)
    assert record[7] == pytest.approx(700_000) and record[8] == pytest.approx(700_000)
    assert spend_record("model", 2020, 1, "A", np.ones(1), paths[:, :1], ["ap"], costs) is None
    # summarise keeps the model's own spend record and sums the baselines' from their types
    rows = [
        record,
        ("model", 2020, 1, "mss", "A", 11.0, 10.0, 6.0, 14.0),
        ("model", 2020, 1, "mainstream", "A", 90.0, 100.0, 84.0, 116.0),
        ("last_value", 2020, 1, "mss", "A", 11.0, 12.0, np.nan, np.nan),
        ("last_value", 2020, 1, "mainstream", "A", 90.0, 95.0, np.nan, np.nan),
    ]
    summary = summarise(pd.DataFrame(rows, columns=RECORD_COLUMNS), costs)
    spend = summary[(summary.provision_type == "spend") & summary.origin.notna()].set_index("model")
    assert spend.loc["model", "coverage_p10_p90"] == 0.0  # 670,000 is outside 700,000–700,000
    assert spend.loc["last_value", "bias"] == pytest.approx(
        (12 * 20_000 + 95 * 5_000 - 670_000) / 670_000
    )


def test_the_council_backtest_asks_the_published_growth_as_at_each_origin():
    """Each origin's model is fitted with what the published files said at that origin."""
    from forecast import cohort
    from forecast.backtest import backtest_cohort

    rows = [
        (year, None, "joined", 5, "a", int(100 * 1.1 ** (year - 2020)))
        for year in range(2020, 2026)
    ]
    transitions = pd.DataFrame(
        rows, columns=["year", "age_from", "provision_from", "age_to", "provision_to", "children"]
    )
    caseload = transitions.groupby("year")["children"].sum().to_frame("a")
    asked = []

    def growth(origin):
        asked.append(origin)
        return (np.log(1.1), 0.03, f"as at {origin}")

    summary = backtest_cohort(
        transitions, caseload, ["a"], cohort.CohortSettings(), simulations=50, pooled_growth=growth
    )
    scored = sorted(set(summary["origin"].dropna().astype(int)))
    assert asked == scored == [2021, 2022, 2023, 2024]
    assert "national_growth_3y" not in set(summary["model"])  # without England's figures

    # with England's (from the published files), England's growth applied to the council too:
    # here England grew 5 % a year up to each origin, and a census after it says nothing
    england = pd.Series([1000 * 1.05 ** (y - 2018) for y in range(2018, 2026)], range(2018, 2026))
    england.loc[2025] = 1e9
    summary = backtest_cohort(
        transitions,
        caseload,
        ["a"],
        cohort.CohortSettings(),
        simulations=50,
        pooled_growth=growth,
        national=england,
    ).set_index(["model", "origin", "horizon", "provision_type"])
    national = summary.loc[("national_growth_3y", 2022, 2, "total")]
    a = caseload["a"]
    assert national["bias"] == pytest.approx(a[2022] * 1.05**2 / a[2024] - 1)
    assert summary.loc[("cohort_model", 2022, 2, "total"), "beats_national_growth_3y"] in (0, 1)


@pytest.mark.parametrize(
    "text, message",
    [
        # a blank cost made the model's spend NaN, summed as nothing: 0.0 % error, "best"
        ("mainstream,8000\nmss,\n", r"unit-costs.csv:3: unit_cost_gbp must be £ a year .* not ''"),
        ("mainstream,-5\n", r"unit-costs.csv:2: unit_cost_gbp must be £ a year"),
        ("mainstream,nan\n", r"unit_cost_gbp must be £ a year"),
        # names nothing costs: the spend section silently disappeared
        ("Mainstream,8000\n", r"unit-costs.csv:2: provision_type 'Mainstream' is not"),
        ("mss,20000\nmss,21000\n", "provision_type mss given twice"),
        # the line in the file, blank lines counted (a blank line made it one line early)
        ("mainstream,8000\n\nmss,x\n", r"unit-costs.csv:4: unit_cost_gbp must be"),
        ("mainstream,8000\nmss\n", r"unit-costs.csv:3: unit_cost_gbp must be .* not ''"),
        ("mainstream,£30,000\n", r"unit-costs.csv:2: more fields than the header's"),
        ("", "no unit costs"),
    ],
)
def test_a_unit_costs_file_is_refused_by_row_and_column(tmp_path, text, message):
    from forecast.backtest import read_unit_costs

    path = tmp_path / "unit-costs.csv"
    path.write_text("provision_type,unit_cost_gbp\n" + text)
    with pytest.raises(ValueError, match=message):
        read_unit_costs(path)


def test_a_unit_costs_file_reads_pounds_as_written(tmp_path):
    from forecast.backtest import read_unit_costs

    path = tmp_path / "unit-costs.csv"
    path.write_text('provision_type,unit_cost_gbp\nmainstream,"£8,000"\nmss, 23753.5\n')
    assert read_unit_costs(path) == {"mainstream": 8000.0, "mss": 23753.5}
