"""Unit tests for the synthetic council generator (synthetic/council.py).

Three councils are generated once per module: a small one over a short range (contracts and
determinism), the default council (West Berkshire calibration, spend and budget) and a larger
one (distributions, where a few thousand plans keep sampling noise well under the tolerances).
Tests that compare with published DfE data skip when the team's reference-data folder is absent
(a user's clone), except under CI=true where its absence is a failure.
"""

from __future__ import annotations

import hashlib
import os
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from synthetic import council as synthetic_council
from synthetic.council import census_date, generate

REFERENCE_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference-data"
REFERENCE_FILE = "education-health-and-care-plans caseload.csv (explore-education-statistics)"

# fmt: off
HEADERS = {
    "ehcp": ["child_id", "plan_id", "date_of_birth", "sex", "primary_need", "secondary_need",
             "request_date", "plan_start_date", "plan_cease_date", "cease_reason", "upn",
             "forename", "surname", "postcode"],
    "placements": ["placement_id", "child_id", "urn", "ukprn", "sen_setting", "establishment_name",
                   "establishment_type_code", "sen_unit", "resourced_provision", "residential",
                   "start_date", "end_date", "annual_cost"],
    "finance": ["transaction_id", "posting_date", "amount", "s251_line", "child_id",
                "placement_id", "provider_urn", "provider_ukprn", "supplier_name", "cost_centre",
                "description"],
    "budget": ["financial_year", "line", "amount"],
}
# fmt: on
BUDGET_LINES = {
    "hnb_allocation",
    "place_deductions",
    "block_transfer",
    "la_contribution",
    "other_income",
}

# Placement tier from the placement row, the way the pipeline's provision mapping sees it.
MAINSTREAM_TYPES = {1, 2, 3, 5, 11, 28, 34, 35}
TIER_BY_TYPE = {
    **dict.fromkeys((7, 12, 33, 36, 44), "special_state"),
    **dict.fromkeys((8, 10), "special_independent"),
    **dict.fromkeys((14, 38, 42, 43), "ap"),
    **dict.fromkeys((18, 39, 45, 46), "fe"),
    32: "spi",
    15: "ey",
}
TIER_BY_SETTING = {
    "OLA": "ola",
    "EHE": "ehe",
    "OPA": "opa",
    "OTH": "oth",
    "NEET": "neet",
    "NIEC": "niec",
    "NIEO": "nieo",
    "EYP": "ey",
}


class Extract:
    """The generated files of one council, read as text (no type guessing) plus parsed views."""

    def __init__(self, out_dir: Path, summary: dict):
        self.dir = out_dir
        self.summary = summary
        self.extract_date = pd.Timestamp(summary["extract_date"])
        self.ehcp = _read(out_dir / "ehcp" / "ehcp.csv")
        self.placements = _read(out_dir / "placements" / "placements.csv")
        self.finance_files = sorted((out_dir / "finance").glob("*.csv"))
        self.finance = pd.concat([_read(p) for p in self.finance_files], ignore_index=True)
        self.budget = _read(out_dir / "budget" / "budget.csv")

    def active_plans(self, on: date) -> pd.DataFrame:
        day = pd.Timestamp(on)
        start = _dates(self.ehcp["plan_start_date"])
        cease = _dates(self.ehcp["plan_cease_date"])
        return self.ehcp[(start <= day) & (cease.isna() | (cease > day))]

    def active_placements(self, on: date) -> pd.DataFrame:
        day = pd.Timestamp(on)
        start = _dates(self.placements["start_date"])
        end = _dates(self.placements["end_date"])
        return self.placements[(start <= day) & (end.isna() | (end >= day))]

    def files(self) -> list[Path]:
        return sorted(p for p in self.dir.rglob("*.csv"))


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _dates(column: pd.Series) -> pd.Series:
    return pd.to_datetime(column.replace("", None))


def _money(column: pd.Series) -> pd.Series:
    return pd.to_numeric(column.replace("", None))


def _tier(placements: pd.DataFrame) -> pd.Series:
    type_code = pd.to_numeric(placements["establishment_type_code"].replace("", None))
    flagged = (placements["sen_unit"] == "Y") | (placements["resourced_provision"] == "Y")
    tier = type_code.map(TIER_BY_TYPE)
    mainstream = type_code.isin(MAINSTREAM_TYPES)
    tier[mainstream] = np.where(flagged[mainstream], "mainstream_rp", "mainstream")
    by_setting = placements["sen_setting"].map(TIER_BY_SETTING)
    return by_setting.where(placements["sen_setting"] != "", tier)


def _shares(values: pd.Series) -> dict:
    return values.value_counts(normalize=True).to_dict()


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Extract:
    out = tmp_path_factory.mktemp("small")
    return Extract(out, generate(out, children=400, first_year=2021, last_year=2024, seed=7))


@pytest.fixture(scope="module")
def default_council(tmp_path_factory) -> Extract:
    out = tmp_path_factory.mktemp("default")
    return Extract(out, generate(out))


@pytest.fixture(scope="module")
def large(tmp_path_factory) -> Extract:
    out = tmp_path_factory.mktemp("large")
    return Extract(out, generate(out, children=6000, seed=3))


def _reference_dir() -> Path:
    if (REFERENCE_DIR / "ehcp_2025_release" / "caseload.csv").exists():
        return REFERENCE_DIR
    if os.environ.get("CI") == "true":
        pytest.fail(f"reference data missing under CI: {REFERENCE_FILE} at {REFERENCE_DIR}")
    pytest.skip(f"needs the DfE {REFERENCE_FILE} in {REFERENCE_DIR}")


# --- Contract: layout, headers, identifiers ---------------------------------------------------


def test_files_are_laid_out_as_the_landing_folder(small):
    names = {p.relative_to(small.dir).as_posix() for p in small.files()}
    assert names == {
        "ehcp/ehcp.csv",
        "placements/placements.csv",
        "budget/budget.csv",
        "finance/finance_2021-22.csv",
        "finance/finance_2022-23.csv",
        "finance/finance_2023-24.csv",
        "finance/finance_2024-25.csv",
    }
    assert not list(small.dir.glob(".synthetic-*")), "work files left behind"


def test_headers_are_exactly_the_contract(small):
    assert list(small.ehcp.columns) == HEADERS["ehcp"]
    assert list(small.placements.columns) == HEADERS["placements"]
    assert list(small.budget.columns) == HEADERS["budget"]
    for path in small.finance_files:
        assert list(_read(path).columns) == HEADERS["finance"], path.name


def test_files_are_utf8_with_iso_dates_and_two_decimal_amounts(small):
    for path in small.files():
        path.read_bytes().decode("utf-8")
    iso = r"^(\d{4}-\d{2}-\d{2})?$"
    for column in ("date_of_birth", "request_date", "plan_start_date", "plan_cease_date"):
        assert small.ehcp[column].str.match(iso).all(), column
    for column in ("start_date", "end_date"):
        assert small.placements[column].str.match(iso).all(), column
    assert small.finance["posting_date"].str.match(iso).all()
    assert small.finance["amount"].str.match(r"^-?\d+\.\d{2}$").all()
    assert small.placements["annual_cost"].str.match(r"^(\d+\.\d{2})?$").all()
    assert small.budget["amount"].str.match(r"^-?\d+\.\d{2}$").all()


def test_no_field_needs_quoting(large):
    # Readers that sniff a sample of rows (DuckDB's read_csv, Excel) must not meet a quoted field
    # late in a file, so no generated text contains a comma, quote or newline.
    for path in large.files():
        assert b'"' not in path.read_bytes(), path.name


def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path):
    def digest(folder: Path) -> dict:
        return {
            p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.csv"))
        }

    args = {"children": 300, "first_year": 2022, "last_year": 2024}
    generate(tmp_path / "a", seed=11, **args)
    generate(tmp_path / "b", seed=11, **args)
    generate(tmp_path / "c", seed=12, **args)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    different = digest(tmp_path / "c")
    assert all(different[name] != h for name, h in digest(tmp_path / "a").items())


def test_regenerating_replaces_the_previous_extract(tmp_path):
    generate(tmp_path, children=200, first_year=2021, last_year=2023, seed=1)
    generate(tmp_path, children=200, first_year=2022, last_year=2023, seed=1)
    finance = sorted(p.name for p in (tmp_path / "finance").iterdir())
    assert finance == ["finance_2022-23.csv", "finance_2023-24.csv"]


@pytest.mark.filterwarnings("error")
def test_a_tiny_council_and_a_single_year_work(tmp_path):
    summary = generate(tmp_path, children=30, first_year=2024, last_year=2024, seed=5)
    assert list(summary["plans_at_census"].values()) == [30]
    assert summary["rows"]["finance"]["2024-25"] > 0
    assert _read(tmp_path / "budget" / "budget.csv")["financial_year"].unique().tolist() == [
        "2024-25",
        "2025-26",
    ]


def test_rejects_impossible_arguments(tmp_path):
    with pytest.raises(ValueError):
        generate(tmp_path, children=0)
    with pytest.raises(ValueError):
        generate(tmp_path, first_year=2025, last_year=2024)


def test_ids_are_well_formed_and_unique(small):
    assert small.ehcp["child_id"].str.fullmatch(r"C\d{7}").all()
    assert small.ehcp["plan_id"].str.fullmatch(r"P\d{7}").all()
    assert small.ehcp["plan_id"].is_unique
    assert small.placements["placement_id"].is_unique
    ids = small.finance["transaction_id"]
    assert ids.str.fullmatch(r"T\d{9}").all() and ids.is_unique
    # Sequential across the yearly files.
    assert sorted(ids.str[1:].astype(int)) == list(range(1, len(ids) + 1))


def test_every_reference_to_a_child_or_placement_exists(small):
    children = set(small.ehcp["child_id"])
    assert set(small.placements["child_id"]) <= children
    finance_children = set(small.finance["child_id"]) - {""}
    assert finance_children <= children
    assert set(small.finance["placement_id"]) - {""} <= set(small.placements["placement_id"])
    # Each placement belongs to the child the ledger names.
    owner = small.placements.set_index("placement_id")["child_id"]
    paid = small.finance[small.finance["placement_id"] != ""]
    assert (owner.loc[paid["placement_id"]].to_numpy() == paid["child_id"].to_numpy()).all()


def test_nothing_is_dated_after_the_extract(small):
    extract = small.extract_date
    assert small.extract_date == pd.Timestamp("2025-03-31")
    for column in ("date_of_birth", "request_date", "plan_start_date", "plan_cease_date"):
        assert (_dates(small.ehcp[column]).dropna() <= extract).all(), column
    for column in ("start_date", "end_date"):
        assert (_dates(small.placements[column]).dropna() <= extract).all(), column
    assert (_dates(small.finance["posting_date"]) <= extract).all()


def test_census_dates_are_the_third_thursday_of_january():
    expected = [
        "2019-01-17",
        "2020-01-16",
        "2021-01-14",
        "2022-01-20",
        "2023-01-19",
        "2024-01-18",
        "2025-01-16",
        "2026-01-15",
        "2027-01-21",
    ]
    assert [census_date(y).isoformat() for y in range(2019, 2028)] == expected


# --- Plans -------------------------------------------------------------------------------------


def test_plan_fields_use_the_sen2_codes(small):
    ehcp = small.ehcp
    assert set(ehcp["sex"]) <= {"M", "F", "U"}
    assert set(ehcp["primary_need"]) <= set(synthetic_council.NEEDS)
    assert set(ehcp["secondary_need"]) <= set(synthetic_council.NEEDS) | {""}
    assert (ehcp["secondary_need"] != ehcp["primary_need"]).all()
    assert 0.35 < (ehcp["secondary_need"] == "").mean() < 0.65


def test_cease_reason_only_and_always_on_ceased_plans(small):
    ceased = small.ehcp["plan_cease_date"] != ""
    assert (small.ehcp.loc[ceased, "cease_reason"].isin([str(i) for i in range(1, 10)])).all()
    assert (small.ehcp.loc[~ceased, "cease_reason"] == "").all()
    assert (
        _dates(small.ehcp.loc[ceased, "plan_cease_date"])
        > _dates(small.ehcp.loc[ceased, "plan_start_date"])
    ).all()


def test_requests_come_14_to_30_weeks_before_the_plan_and_movers_have_none(small):
    ehcp = small.ehcp
    requested = ehcp["request_date"] != ""
    weeks = (
        _dates(ehcp.loc[requested, "plan_start_date"]) - _dates(ehcp.loc[requested, "request_date"])
    ).dt.days / 7
    assert weeks.between(14, 30).all()
    assert 0.05 < (~requested).mean() < 0.25  # children who moved in with a plan


def test_children_moving_and_returning(default_council):
    ehcp = default_council.ehcp
    plans_per_child = ehcp["child_id"].value_counts()
    assert 0.01 < (plans_per_child > 1).mean() < 0.06
    assert (plans_per_child <= 2).all()
    # A child's plans never overlap and keep the same date of birth and identity.
    twice = ehcp[ehcp["child_id"].isin(plans_per_child[plans_per_child > 1].index)]
    twice = twice.sort_values(["child_id", "plan_start_date"])
    first, second = twice.groupby("child_id").nth(0), twice.groupby("child_id").nth(1)
    assert (
        _dates(first["plan_cease_date"]).to_numpy() < _dates(second["plan_start_date"]).to_numpy()
    ).all()
    assert (first["date_of_birth"].to_numpy() == second["date_of_birth"].to_numpy()).all()
    assert (first["upn"].to_numpy() == second["upn"].to_numpy()).all()
    assert (ehcp["cease_reason"] == "5").sum() > 0


def test_personal_data_looks_real(small):
    ehcp = small.ehcp
    assert ehcp["postcode"].str.fullmatch(r"RG\d{1,2} \d[A-Z]{2}").all()
    assert ehcp["forename"].str.len().gt(0).all() and ehcp["surname"].str.len().gt(0).all()
    upn = ehcp["upn"]
    assert upn.str.fullmatch(r"[A-Z]\d{12}").all()
    assert upn.groupby(ehcp["child_id"]).nunique().eq(1).all()
    assert upn.drop_duplicates().size == ehcp["child_id"].nunique()
    # DfE check letter: weights 2..13 on the 12 digits, modulo 23.
    letters = "ABCDEFGHJKLMNPQRTUVWXYZ"
    for value in upn.head(50):
        total = sum(int(d) * w for d, w in zip(value[1:], range(2, 14), strict=False))
        assert value[0] == letters[total % 23]


def test_caseload_follows_west_berkshires_growth_to_the_requested_size(large, small):
    shape = synthetic_council._caseload_shape
    for council, requested in ((large, 6000), (small, 400)):
        censuses = [date.fromisoformat(d) for d in council.summary["plans_at_census"]]
        counts = [len(council.active_plans(c)) for c in censuses]
        assert counts == list(council.summary["plans_at_census"].values())
        assert abs(counts[-1] - requested) <= 0.03 * requested
        steps = zip(censuses, censuses[1:], counts, counts[1:], strict=False)
        for then, now, before, after in steps:
            # West Berkshire's growth that year (its 2019-2025 rate after its last census)
            wanted = shape(now.year) / shape(then.year) - 1
            assert abs(after / before - 1 - wanted) < 0.02, (now, after / before - 1, wanted)
        # not one constant rate: compound growth would forecast such a caseload exactly
        growth = np.diff(counts) / counts[:-1]
        assert growth.max() - growth.min() > 0.02, growth


def test_need_mix_matches_england(large):
    active = large.active_plans(census_date(2026))
    shares = _shares(active["primary_need"])
    for need, target in synthetic_council.NEED_MIX_ENGLAND.items():
        assert abs(shares.get(need, 0) - target) < 0.02, need


def test_needs_correlate_with_age(large):
    active = large.active_plans(census_date(2026))
    dob = _dates(active["date_of_birth"])
    young = active[dob > pd.Timestamp("2018-09-01")]
    older = active[(dob < pd.Timestamp("2013-09-01")) & (dob > pd.Timestamp("2008-09-01"))]
    assert (young["primary_need"] == "SLCN").mean() > 2 * (older["primary_need"] == "SLCN").mean()
    assert (older["primary_need"] == "SEMH").mean() > 2 * (young["primary_need"] == "SEMH").mean()


def test_age_profile_has_the_published_shape(large):
    active = large.active_plans(census_date(2026))
    dob = _dates(active["date_of_birth"])
    age = 2025 - dob.dt.year - (dob.dt.month >= 9).astype(int)  # age at 31 August 2025
    assert age.between(0, 25).all()
    shares = _shares(age)
    assert sum(shares.get(a, 0) for a in range(5)) < 0.07
    assert max(shares, key=shares.get) in range(10, 17)
    assert sum(shares.get(a, 0) for a in range(19, 26)) < 0.13


# --- Placements --------------------------------------------------------------------------------


def test_each_placement_has_exactly_one_of_urn_ukprn_setting(large):
    p = large.placements
    has = (p[["urn", "ukprn", "sen_setting"]] != "").sum(axis=1)
    assert (has == 1).all()
    assert p.loc[p["urn"] != "", "urn"].str.fullmatch(r"\d{6}").all()
    assert p.loc[p["ukprn"] != "", "ukprn"].str.fullmatch(r"100[01]\d{4}").all()
    assert set(p["sen_setting"]) - {""} <= {
        "OLA",
        "OPA",
        "EHE",
        "EYP",
        "OTH",
        "NEET",
        "NIEC",
        "NIEO",
    }
    establishment = (p["urn"] != "") | (p["ukprn"] != "")
    assert (p.loc[establishment, "establishment_type_code"] != "").all()
    assert (p.loc[establishment, "establishment_name"] != "").all()
    types = pd.to_numeric(p.loc[establishment, "establishment_type_code"]).astype(int)
    assert set(types) <= MAINSTREAM_TYPES | set(TIER_BY_TYPE)
    # An establishment keeps one URN, name and type.
    schools = (
        p[p["urn"] != ""]
        .groupby("urn")[["establishment_name", "establishment_type_code"]]
        .nunique()
    )
    assert (schools == 1).all().all()


def test_spells_of_a_child_do_not_overlap_and_cover_the_plan(large):
    p = large.placements.sort_values(["child_id", "start_date"])
    start, end = _dates(p["start_date"]), _dates(p["end_date"])
    same_child = p["child_id"].to_numpy()[1:] == p["child_id"].to_numpy()[:-1]
    previous_end = end.to_numpy()[:-1][same_child]
    next_start = start.to_numpy()[1:][same_child]
    assert not pd.isna(previous_end).any(), "only a child's last spell may be open"
    assert (next_start > previous_end).all()
    assert ((end.isna()) | (end >= start)).all()
    # An ongoing plan has an ongoing placement; a ceased plan's last spell ends on its cease date.
    last = p.groupby("child_id").tail(1).set_index("child_id")
    latest_plan = (
        large.ehcp.sort_values("plan_start_date").groupby("child_id").tail(1).set_index("child_id")
    )
    ongoing = latest_plan["plan_cease_date"] == ""
    assert (last.loc[ongoing[ongoing].index, "end_date"] == "").all()
    ceased = latest_plan.index[~ongoing]
    assert (
        last.loc[ceased, "end_date"] == latest_plan.loc[ceased, "plan_cease_date"]
    ).mean() > 0.99


def test_moves_start_on_the_first_of_a_month_and_transfers_on_1_september(large):
    p = large.placements.sort_values(["child_id", "start_date"])
    start, end = _dates(p["start_date"]), _dates(p["end_date"])
    same_child = p["child_id"].to_numpy()[1:] == p["child_id"].to_numpy()[:-1]
    follows_on = same_child & (start.to_numpy()[1:] == end.to_numpy()[:-1] + np.timedelta64(1, "D"))
    next_start = start.iloc[1:][follows_on]
    assert len(next_start) > 0.3 * len(p)
    assert (next_start.dt.day == 1).all()
    assert (next_start.dt.month == 9).mean() > 0.5


def test_setting_mix_matches_england(large):
    active = large.active_placements(census_date(2026))
    assert active["child_id"].is_unique
    assert len(active) == len(large.active_plans(census_date(2026)))
    shares = _shares(_tier(active))
    for tier, target in synthetic_council.SETTING_MIX_ENGLAND.items():
        assert abs(shares.get(tier, 0) - target) < 0.03, tier
    mainstream = active[_tier(active).isin(("mainstream", "mainstream_rp"))]
    in_rp = ((mainstream["sen_unit"] == "Y") | (mainstream["resourced_provision"] == "Y")).mean()
    assert 0.04 < in_rp < 0.14


def test_semh_is_over_represented_in_independent_special(large):
    active = large.active_placements(census_date(2026))
    needs = large.ehcp.drop_duplicates("child_id", keep="last").set_index("child_id")[
        "primary_need"
    ]
    need = needs.loc[active["child_id"]].to_numpy()
    independent = (_tier(active) == "special_independent").to_numpy()
    lift = {
        code: (need[independent] == code).mean() / (need == code).mean() for code in ("SEMH", "ASD")
    }
    # published (NEED_LIFT_BY_TIER): SEMH 1.62, ASD 1.19. The lifts are applied within each
    # phase, where independent places are mostly secondary and ASD's share differs by age, so
    # ASD's comes out at 0.95-1.24 by seed (about 330 children in independent special here):
    # SEMH is held to its over-representation, ASD to not being under-represented beyond that
    assert lift["SEMH"] > 1.3, lift
    assert lift["ASD"] > 0.85, lift


def test_flags_and_residential_only_where_they_belong(large):
    p = large.placements
    tier = _tier(p)
    mainstream = tier.isin(("mainstream", "mainstream_rp"))
    for column in ("sen_unit", "resourced_provision"):
        assert p.loc[mainstream, column].isin(["Y", "N"]).all()
        assert (p.loc[~mainstream, column] == "").all()
    independent = tier == "special_independent"
    assert (p.loc[~independent, "residential"] == "").all()
    assert set(p.loc[independent, "residential"]) == {"", "A", "B"}
    assert 0.08 < (p.loc[independent, "residential"] != "").mean() < 0.25


def test_costs_fall_in_the_ranges_of_their_provision(large):
    p = large.placements
    tier = _tier(p)
    cost = _money(p["annual_cost"])
    start = _dates(p["start_date"])
    start_fy = start.dt.year - (start.dt.month < 4).astype(int)
    key = tier.where(p["residential"] == "", "residential_" + p["residential"].str.lower())
    no_cost = tier.isin(("ehe", "opa", "oth", "neet", "niec", "nieo"))
    assert cost[no_cost].isna().all()
    assert cost[~no_cost].notna().all()
    for name, (low, high, inflation) in synthetic_council.COSTS_2024.items():
        rows = (key == name) & ~no_cost
        if name == "ey":  # LA nursery schools and early years providers
            rows = tier == "ey"
        at_2024_prices = cost[rows] / (1 + inflation) ** (
            start_fy[rows] - synthetic_council.COST_BASE_YEAR
        )
        assert rows.sum() > 0, name
        assert at_2024_prices.between(low - 0.01, high + 0.01).all(), name


# --- Finance -----------------------------------------------------------------------------------


def _expected_payments(
    placements: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp
) -> pd.Series:
    """annual_cost / 12 pro-rated by days in each month of the ledger, per placement."""
    costed = placements[placements["annual_cost"] != ""]
    start = _dates(costed["start_date"]).clip(lower=first)
    end = _dates(costed["end_date"]).fillna(last).clip(upper=last)
    months = pd.period_range(first, last, freq="M")
    total = pd.Series(0.0, index=costed["placement_id"])
    for month in months:  # a few dozen months, vectorised over placements
        month_start, month_end = month.start_time, month.end_time.normalize()
        overlap = (np.minimum(end, month_end) - np.maximum(start, month_start)).dt.days + 1
        share = overlap.clip(lower=0) / month.days_in_month
        total += (_money(costed["annual_cost"]) / 12 * share).to_numpy()
    return total


def test_payments_match_each_placements_pro_rated_cost(small):
    first = pd.Timestamp("2021-04-01")
    expected = _expected_payments(small.placements, first, small.extract_date)
    child_rows = small.finance[small.finance["placement_id"] != ""]
    paid = _money(child_rows["amount"]).groupby(child_rows["placement_id"]).sum()
    paid = paid.reindex(expected.index, fill_value=0)
    assert np.allclose(paid, expected, rtol=0.01, atol=1.0)


def test_ledger_has_credits_late_payments_and_month_end_postings(default_council):
    finance = default_council.finance
    amount = _money(finance["amount"])
    credits = finance[amount < 0]
    assert 0.003 < len(credits) / len(finance) < 0.02
    assert credits["description"].str.contains("credit note").all()
    assert finance["description"].str.contains("balance of invoice").any()
    posting = _dates(finance["posting_date"])
    assert (posting == posting + pd.offsets.MonthEnd(0)).all()
    service = pd.to_datetime(
        finance["description"].str.extract(r"([A-Z][a-z]{2} \d{4})")[0], format="%b %Y"
    )
    late = posting.dt.to_period("M") > service.dt.to_period("M")
    assert late.any()


def test_s251_lines_follow_the_provision(large):
    finance = large.finance
    child_lines = {"1.2.1", "1.2.2", "1.2.3", "1.2.7"}
    with_placement = finance["placement_id"] != ""
    assert set(finance.loc[with_placement, "s251_line"]) <= child_lines
    central = {"1.0.2", "1.2.4", "1.2.5", "1.2.6", "1.2.8", "1.2.11", "1.2.13"}
    assert central <= set(finance["s251_line"])
    assert (finance.loc[finance["s251_line"].isin(central), "child_id"] == "").all()
    transport = finance["s251_line"] == "1.4.11"
    assert transport.any() and (finance.loc[transport, "child_id"] != "").all()
    placement_type = large.placements.set_index("placement_id")["establishment_type_code"]
    rows = finance[with_placement]
    type_code = placement_type.loc[rows["placement_id"]].replace("", None).astype(float).to_numpy()
    line = rows["s251_line"].to_numpy()
    assert (line[np.isin(type_code, (7, 12, 14, 15, 1, 2, 3, 5))] == "1.2.1").all()
    assert (
        line[np.isin(type_code, (28, 34, 35, 33, 36, 44, 38, 42, 43, 18, 39, 45, 46))] == "1.2.2"
    ).all()
    assert (line[np.isin(type_code, (8, 10, 11, 32))] == "1.2.3").all()
    supplier = rows["supplier_name"].to_numpy()
    assert (supplier != "").all()


def test_hnb_spend_is_realistic_for_the_default_council(default_council):
    finance = default_council.finance
    posting = _dates(finance["posting_date"])
    fy = posting.dt.year - (posting.dt.month < 4).astype(int)
    amount = _money(finance["amount"])
    hnb = finance["s251_line"] != "1.4.11"
    spend = amount[hnb].groupby(fy[hnb]).sum()
    assert 25e6 < spend[2024] < 45e6
    yearly = spend.pct_change().dropna()
    assert 0.08 < (spend[2025] / spend[2017]) ** (1 / 8) - 1 < 0.12
    # (single years are noisy: a handful of residential placements cost GBP 100k-250k each)
    assert yearly.between(0.03, 0.20).all(), yearly
    no_child = finance["child_id"] == ""
    central_share = amount[hnb & no_child].groupby(fy[hnb & no_child]).sum() / spend
    assert central_share.between(0.18, 0.32).all(), central_share
    assert central_share[2025] < central_share[2017]  # grows slower than placements
    transport_share = amount[~hnb].groupby(fy[~hnb]).sum() / spend
    assert transport_share.between(0.02, 0.10).all()
    assert default_council.summary["hnb_spend_by_fy"]["2024-25"] == pytest.approx(
        spend[2024], abs=0.01
    )


# --- Budget ------------------------------------------------------------------------------------


def test_budget_has_every_line_for_every_year_and_the_next(small, default_council):
    for council, years in ((small, range(2021, 2026)), (default_council, range(2017, 2027))):
        budget = council.budget
        labels = [synthetic_council.financial_year_label(y) for y in years]
        assert list(dict.fromkeys(budget["financial_year"])) == labels
        for label in labels:
            assert set(budget.loc[budget["financial_year"] == label, "line"]) >= BUDGET_LINES
        brought_forward = budget[budget["line"] == "balance_brought_forward"]
        assert list(brought_forward["financial_year"]) == [labels[0]]
        assert -0.05 < float(brought_forward["amount"].iloc[0]) / 1e6 / 100 < 0
        amounts = _money(budget.loc[budget["line"] != "balance_brought_forward", "amount"])
        assert (amounts >= 0).all()


def test_funding_grows_slower_than_spend_and_a_deficit_builds(default_council):
    summary = default_council.summary
    funding = pd.Series(summary["funding_by_fy"])
    spend = pd.Series(summary["hnb_spend_by_fy"])
    balance = pd.Series(summary["cumulative_balance_by_fy"])
    years = len(funding) - 1
    assert (funding.iloc[-1] / funding.iloc[0]) ** (1 / years) < (
        spend.iloc[-1] / spend.iloc[0]
    ) ** (1 / years)
    assert -0.20 <= balance.iloc[-1] / funding.iloc[-1] <= -0.10
    assert balance.iloc[0] < 0 and (balance / funding).max() < 0.03
    assert balance.iloc[-1] == balance.min()
    # The budget file reproduces the funding in the summary.
    budget = default_council.budget.assign(amount=lambda b: _money(b["amount"]))
    lines = budget.pivot_table(
        index="financial_year", columns="line", values="amount", aggfunc="sum"
    ).fillna(0)
    computed = (
        lines["hnb_allocation"]
        - lines["place_deductions"]
        + lines["block_transfer"]
        + lines["la_contribution"]
        + lines["other_income"]
    )
    assert np.allclose(computed.loc[funding.index], funding, atol=1)
    assert lines.loc["2026-27", "hnb_allocation"] > lines.loc["2025-26", "hnb_allocation"]


# --- Against published DfE statistics (reference data) ----------------------------------------


def test_default_council_matches_west_berkshire_and_england(default_council, large):
    from synthetic import calibration

    reference = _reference_dir()
    published = calibration.la_caseload_history(reference, "West Berkshire")
    for year in (2018, 2019, 2021, 2024, 2025):
        simulated = len(default_council.active_plans(census_date(year)))
        assert abs(simulated - published[year]) <= 0.05 * published[year], year

    england_needs = calibration.national_need_mix(reference)
    for council in (default_council, large):
        shares = _shares(council.active_plans(census_date(2025))["primary_need"])
        for need, target in england_needs.items():
            assert abs(shares.get(need, 0) - target) < 0.03, need


def test_large_council_matches_englands_settings_and_ages(large):
    from synthetic import calibration

    reference = _reference_dir()
    settings = calibration.national_setting_mix(reference, 202425)
    shares = _shares(_tier(large.active_placements(census_date(2025))))
    for tier, target in settings.items():
        assert abs(shares.get(tier, 0) - target) < 0.03, tier
    # England's shift from special to mainstream since 2019 is reproduced.
    settings_2019 = calibration.national_setting_mix(reference, 201819)
    shares_2019 = _shares(_tier(large.active_placements(census_date(2019))))
    for tier in ("mainstream", "special_state", "special_independent", "fe"):
        assert abs(shares_2019.get(tier, 0) - settings_2019[tier]) < 0.04, tier

    ages = calibration.national_age_profile(reference)  # age at 31 August 2024, 2 = under 3
    dob = _dates(large.active_plans(census_date(2025))["date_of_birth"])
    age = (2024 - dob.dt.year - (dob.dt.month >= 9).astype(int)).clip(lower=2)
    simulated = _shares(age)
    assert sum(abs(simulated.get(a, 0) - share) for a, share in ages.items()) < 0.12


def test_calibrated_constants_are_the_published_figures():
    from synthetic import calibration

    reference = _reference_dir()
    published = calibration.la_caseload_history(reference)
    assert {year: published[year] for year in synthetic_council.WEST_BERKSHIRE_PLANS} == (
        synthetic_council.WEST_BERKSHIRE_PLANS
    )
    for need, share in calibration.national_need_mix(reference).items():
        assert synthetic_council.NEED_MIX_ENGLAND[need] == pytest.approx(share, abs=5e-4)
    for tier, share in calibration.national_setting_mix(reference).items():
        assert synthetic_council.SETTING_MIX_ENGLAND[tier] == pytest.approx(share, abs=5e-4)
    lifts = calibration.national_need_lift_by_tier(reference)
    for tier, row in synthetic_council.NEED_LIFT_BY_TIER.items():
        assert row == pytest.approx(
            tuple(lifts[tier][n] for n in synthetic_council.NEEDS), abs=0.006
        ), tier
    reasons = calibration.national_cease_reasons_by_age(reference)
    for band, row in synthetic_council.CEASE_REASON_BY_AGE.items():
        assert row == pytest.approx(tuple(reasons[band].values()), abs=6e-4), band
