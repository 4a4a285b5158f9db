"""Calibration targets for the synthetic council, derived from published DfE statistics.

This module is a *development* tool: it reads the DfE files in a reference-data folder
(`/work/shared/reference-data` in the team checkout, see its PROVENANCE.md) and returns the
shares and series that `synthetic.council` was calibrated to. The generator never imports it
and never reads these files at run time (a user's clone has no reference data): the numbers
are copied into `synthetic/council.py` as constants, each with a comment naming its source.
The unit tests use these functions to check that the generator's output still matches the
published figures whenever the reference data is present.

Print every target as Python literals with::

    python -m synthetic.calibration /path/to/reference-data
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

NEEDS = ("SPLD", "MLD", "SLD", "PMLD", "SEMH", "SLCN", "HI", "VI", "MSI", "PD", "ASD", "DS", "OTH")

# Share of the published OTH ("other difficulty/disability") count that the generator codes as
# DS (Down syndrome, a SENtype code newer than the published breakdowns).
DS_SHARE_OF_OTH = 0.4

# "Type of placement" rows of sen_needs_all_plans.csv grouped into the generator's placement tiers.
PLACEMENT_ROWS_BY_TIER = {
    "mainstream": [
        "Mainstream - academy",
        "Mainstream - free school",
        "Mainstream - independent",
        "Mainstream - LA maintained",
    ],
    "mainstream_rp": [
        "Mainstream - academy (resourced provision)",
        "Mainstream - academy (SEN unit)",
        "Mainstream - free school (resourced provision)",
        "Mainstream - free school (SEN unit)",
        "Mainstream - LA maintained (resourced provision)",
        "Mainstream - LA maintained (SEN unit)",
    ],
    "special_state": ["Special - Academy/free schools", "Special - LA maintained"],
    "special_independent": ["Special - independent", "Special - non-maintained"],
    "ap": ["AP/PRU - total"],
    "fe": ["FE - general FE and tertiary colleges", "FE - UKRLP provider"],
    "spi": ["FE - specialist post-16 institutions"],
    "ey": ["Non-maintained early years"],
    "ola": ["Educated elsewhere - other arrangements by LA"],
    "ehe": ["Educated elsewhere - elective home education"],
    "opa": ["Educated elsewhere - other arrangements by parents"],
    "oth": [
        "Educated elsewhere - other placement settings",
        "Educated elsewhere - online provider",
        "Educated elsewhere - Welsh establishment",
        "Educated elsewhere - other schools and establishments",
    ],
    "neet": ["Educated elsewhere - NEET"],
    "niec": ["Educated elsewhere - not in education or training (notice to cease issued)"],
    "nieo": [
        "Educated elsewhere - not in education or training (other)",
        "Educated elsewhere - not in education or training (compulsory school age)",
    ],
}

# caseload.csv setting columns grouped into the same tiers ("placement_unknown" is left out and
# the rest renormalised: the generator gives every plan a placement).
CASELOAD_COLUMNS_BY_TIER = {
    "mainstream": [
        "mainstream_la_maintained",
        "mainstream_academy",
        "mainstream_free_school",
        "mainstream_independent",
    ],
    "mainstream_rp": [
        "mainstream_la_maintained_resourced_provision",
        "mainstream_la_maintained_senunit",
        "mainstream_academy_resourced_provision",
        "mainstream_academy_senunit",
        "mainstream_free_school_resourced_provision",
        "mainstream_free_school_senunit",
    ],
    "special_state": ["special_la_maintained", "special_academy_free"],
    "special_independent": ["special_independent", "special_non_maintained"],
    "ap": ["ap_pru_total"],
    "fe": ["general_fe_tertiary_colleges", "ukrlp_provider"],
    "spi": ["specialist_post_16_institutions"],
    "ey": ["nm_early_years"],
    "ola": ["other_arrangements_la"],
    "ehe": ["elective_home_education"],
    "opa": ["other_arrangements_parents"],
    "oth": ["other_placement_settings", "online_provider", "w_settings", "other_schools"],
    "neet": ["neet"],
    "niec": ["neet_ntci"],
    "nieo": ["neet_other", "neet_other_csa"],
}

CEASE_REASON_COLUMNS = {
    1: "max_age",
    2: "needs_met",
    3: "he",
    4: "employ",
    5: "transfer",
    6: "no_engage",
    7: "moved_outside_eng",
    8: "deceased",
    9: "other",
}

CASELOAD_FILE = "ehcp_2025_release/caseload.csv"
NEEDS_FILE = "ehcp_2025_release/sen_needs_all_plans.csv"
NEW_PLANS_FILE = "ehcp_2025_release/newplans.csv"
NEW_PLAN_NEEDS_FILE = "ehcp_2025_release/sen_need_newplans.csv"
CEASED_FILE = "ehcp_2025_release/ceased_plans.csv"
ESTABLISHMENT_CASELOAD_FILE = "ehcp_2022_release/sen2_estab_caseload.csv"


def _read(reference_dir: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(reference_dir / name, low_memory=False, encoding="utf-8-sig")


def _numeric(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """DfE files write `x` (not available) and `z` (not applicable): both count as 0 here."""
    return frame[columns].apply(pd.to_numeric, errors="coerce").fillna(0)


def _national(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["geographic_level"] == "National"]


def _age_from_breakdown(label: str) -> int:
    """'age 7' -> 7, 'under 3' / 'age 2 and under' -> 2, 'age 20 and over' -> 20."""
    if label.startswith("under"):
        return int(label.split()[1]) - 1
    return int(label.split()[1])


def la_caseload_series(reference_dir: Path, la_name: str = "West Berkshire") -> dict[int, int]:
    """Active EHC plans at each January census for one council: {census calendar year: plans}.

    Source: caseload.csv, geographic_level 'Local authority', breakdown 'All EHC plans';
    time_period 202425 is the January 2025 census.
    """
    caseload = _read(reference_dir, CASELOAD_FILE)
    rows = caseload[(caseload["la_name"] == la_name) & (caseload["breakdown"] == "All EHC plans")]
    return {
        int(str(p)[4:]) + 2000: int(n)
        for p, n in zip(rows["time_period"], rows["ehcplans"], strict=False)
    }


def la_caseload_history(reference_dir: Path, la_name: str = "West Berkshire") -> dict[int, int]:
    """Statements and EHC plans at each January census for one council, 2010 onwards: the 2022
    release's sen2_estab_caseload.csv (establishment 'Total', Total_all) before 2019, then
    la_caseload_series (the 2025 release)."""
    older = _read(reference_dir, ESTABLISHMENT_CASELOAD_FILE)
    rows = older[
        (older["la_name"] == la_name)
        & (older["establishment_type"] == "Total")
        & (older["establishment_group"] == "Total")
        & (older["time_period"] < 2019)
    ]
    history = {int(p): int(n) for p, n in zip(rows["time_period"], rows["Total_all"], strict=True)}
    return dict(sorted({**history, **la_caseload_series(reference_dir, la_name)}.items()))


def national_need_mix(reference_dir: Path) -> dict[str, float]:
    """England's active plans at January 2025 by primary need, as shares summing to 1.

    Source: sen_needs_all_plans.csv, National, breakdown 'All EHC plans'. Plans with an unknown
    need are left out; DS_SHARE_OF_OTH of OTH is recoded DS.
    """
    needs = _national(_read(reference_dir, NEEDS_FILE))
    row = needs[needs["breakdown"] == "All EHC plans"]
    counts = {
        n: float(_numeric(row, [f"number_{n.lower()}"]).iloc[0, 0]) for n in NEEDS if n != "DS"
    }
    counts["DS"] = counts["OTH"] * DS_SHARE_OF_OTH
    counts["OTH"] -= counts["DS"]
    total = sum(counts.values())
    return {n: counts[n] / total for n in NEEDS}


def national_setting_mix(reference_dir: Path, time_period: int = 202425) -> dict[str, float]:
    """England's active plans by placement tier (see CASELOAD_COLUMNS_BY_TIER), shares summing to 1.

    Source: caseload.csv, National, breakdown 'All EHC plans', the given time_period.
    """
    caseload = _national(_read(reference_dir, CASELOAD_FILE))
    row = caseload[
        (caseload["breakdown"] == "All EHC plans") & (caseload["time_period"] == time_period)
    ]
    counts = {
        tier: float(_numeric(row, cols).sum(axis=1).iloc[0])
        for tier, cols in CASELOAD_COLUMNS_BY_TIER.items()
    }
    total = sum(counts.values())
    return {tier: c / total for tier, c in counts.items()}


def national_age_profile(reference_dir: Path) -> dict[int, float]:
    """England's active plans at January 2025 by age (at 31 August), shares; key 2 = under 3.

    Source: caseload.csv, National, 202425, breakdown_topic 'Child or young persons age'.
    """
    return _breakdown_shares(reference_dir, CASELOAD_FILE, "Child or young persons age", "ehcplans")


def national_age_at_plan_start_profile(reference_dir: Path) -> dict[int, float]:
    """England's active plans at January 2025 by age when the plan started, shares; 20 = 20+.

    Source: caseload.csv, National, 202425, breakdown_topic 'Age when plan started'.
    """
    return _breakdown_shares(reference_dir, CASELOAD_FILE, "Age when plan started", "ehcplans")


def national_new_plan_age_at_start(reference_dir: Path, year: int = 2024) -> dict[int, float]:
    """England's new plans in a calendar year by age when the plan started, shares.

    Source: newplans.csv, National, breakdown_topic 'Age when plan started'.
    """
    return _breakdown_shares(
        reference_dir, NEW_PLANS_FILE, "Age when plan started", "new_ehc_plans", time_period=year
    )


def _breakdown_shares(
    reference_dir: Path, name: str, topic: str, column: str, time_period: int = 202425
) -> dict[int, float]:
    frame = _national(_read(reference_dir, name))
    rows = frame[(frame["breakdown_topic"] == topic) & (frame["time_period"] == time_period)]
    rows = rows[rows["breakdown"] != "unknown"]
    counts = {
        _age_from_breakdown(b): float(n)
        for b, n in zip(rows["breakdown"], rows[column], strict=False)
    }
    total = sum(counts.values())
    return {age: counts[age] / total for age in sorted(counts)}


def national_new_plan_need_by_age(reference_dir: Path) -> dict[int, dict[str, float]]:
    """England's new plans in 2024: primary-need shares within each age (age 2 = under 3).

    Source: sen_need_newplans.csv, National, breakdown_topic 'Child or young persons age'.
    """
    frame = _national(_read(reference_dir, NEW_PLAN_NEEDS_FILE))
    rows = frame[frame["breakdown_topic"] == "Child or young persons age"]
    result = {}
    for _, row in rows.iterrows():
        counts = {n: float(pd.to_numeric(row[f"number_{n.lower()}"])) for n in NEEDS if n != "DS"}
        counts["DS"] = counts["OTH"] * DS_SHARE_OF_OTH
        counts["OTH"] -= counts["DS"]
        total = sum(counts.values())
        result[_age_from_breakdown(row["breakdown"])] = {n: counts[n] / total for n in NEEDS}
    return dict(sorted(result.items()))


def national_need_lift_by_tier(reference_dir: Path) -> dict[str, dict[str, float]]:
    """How over- or under-represented each need is in each placement tier, England Jan 2025.

    lift[tier][need] = share of `need` among the tier's plans / share of `need` among all plans.
    Source: sen_needs_all_plans.csv, National, breakdown_topic 'Type of placement'.
    """
    frame = _national(_read(reference_dir, NEEDS_FILE))
    published = [n for n in NEEDS if n != "DS"]
    columns = [f"number_{n.lower()}" for n in published]
    overall = _numeric(frame[frame["breakdown"] == "All EHC plans"], columns).sum()
    overall_share = overall / overall.sum()
    lifts = {}
    for tier, labels in PLACEMENT_ROWS_BY_TIER.items():
        counts = _numeric(frame[frame["breakdown"].isin(labels)], columns).sum()
        share = counts / counts.sum()
        lift = dict(zip(published, (share / overall_share).round(2), strict=False))
        lift["DS"] = lift["OTH"]
        lifts[tier] = {n: float(lift[n]) for n in NEEDS}
    return lifts


def national_cease_reasons(reference_dir: Path, year: int = 2024) -> dict[int, float]:
    """Shares of England's plans ceased in a calendar year by SEN2 cease reason 1-9.

    Source: ceased_plans.csv, National, breakdown 'All ceased EHC plans' (not-recorded left out).
    """
    frame = _national(_read(reference_dir, CEASED_FILE))
    row = frame[(frame["breakdown"] == "All ceased EHC plans") & (frame["time_period"] == year)]
    counts = {code: float(row[col].iloc[0]) for code, col in CEASE_REASON_COLUMNS.items()}
    total = sum(counts.values())
    return {code: c / total for code, c in counts.items()}


def national_cease_reasons_by_age(
    reference_dir: Path, year: int = 2024
) -> dict[int, dict[int, float]]:
    """Cease-reason shares within age-when-ceased bands (0 = under 16, 16..19, 20 = 20+).

    Source: ceased_plans.csv, National, breakdown_topic 'Age plan ceased'.
    """
    frame = _national(_read(reference_dir, CEASED_FILE))
    rows = frame[
        (frame["breakdown_topic"] == "Age plan ceased")
        & (frame["time_period"] == year)
        & (frame["breakdown"] != "Age unknown")
    ]
    columns = list(CEASE_REASON_COLUMNS.values())
    bands: dict[int, pd.Series] = {}
    for _, row in rows.iterrows():
        age = _age_from_breakdown(row["breakdown"])
        band = 0 if age < 16 else min(age, 20)
        counts = pd.to_numeric(row[columns]).astype(float)
        bands[band] = bands.get(band, 0) + counts
    return {
        band: {
            code: float(c / counts.sum())
            for code, c in zip(CEASE_REASON_COLUMNS, counts, strict=False)
        }
        for band, counts in sorted(bands.items())
    }


def main(argv: list[str]) -> None:
    reference_dir = Path(argv[1]) if len(argv) > 1 else Path("/work/shared/reference-data")

    def show(title: str, value: object) -> None:
        print(f"# {title}")
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, dict):
                    inner = ", ".join(f"{k!r}: {v:.3f}" for k, v in item.items())
                    print(f"    {key!r}: {{{inner}}},")
                else:
                    print(f"    {key!r}: {item:.4f},")
        else:
            print(value)

    show("West Berkshire caseload", la_caseload_history(reference_dir))
    show("need mix", national_need_mix(reference_dir))
    show("setting mix", national_setting_mix(reference_dir))
    show("age profile", national_age_profile(reference_dir))
    show("age at plan start (active)", national_age_at_plan_start_profile(reference_dir))
    show("age at plan start (new 2024)", national_new_plan_age_at_start(reference_dir))
    show("need by age (new 2024)", national_new_plan_need_by_age(reference_dir))
    show("need lift by tier", national_need_lift_by_tier(reference_dir))
    show("cease reasons 2024", national_cease_reasons(reference_dir))
    show("cease reasons by age 2024", national_cease_reasons_by_age(reference_dir))


if __name__ == "__main__":
    main(sys.argv)
