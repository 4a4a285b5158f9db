"""A realistic, deterministic synthetic council: the landing-folder extracts for the HNB pipeline.

`generate(out_dir, children, first_year, last_year, seed)` writes the four extracts described in
DESIGN.md ("Inputs: the landing folder") for financial years `first_year`-`last_year`+1 (start
years; defaults 2017-18 ... 2025-26), as a council would export them on 31 March of
`last_year + 1`::

    out_dir/ehcp/ehcp.csv              one row per EHC plan
    out_dir/placements/placements.csv  one row per placement spell
    out_dir/finance/finance_<FY>.csv   the ledger, one file per financial year (by posting date)
    out_dir/budget/budget.csv          DSG high needs funding lines per financial year (+ next year)

Everything is vectorised (numpy for people and placements, DuckDB SQL for the ledger), so the
generator scales from a test council of a few hundred plans to England (`children=720000`). The
same arguments always give byte-identical files: numpy draws come from one `SeedSequence` split
into a stream per stage, and ledger randomness is `hash(key, seed)` inside DuckDB.

The model
---------
**Caseload.** `children` is the number of active plans at the last January census (third
Thursday of January of `last_year + 1`; `census_date`). Earlier censuses follow West Berkshire's
published series year by year (WEST_BERKSHIRE_PLANS, 751 in Jan 2015 to 1,685 in Jan 2025: growth
from 0.3 % to 15.8 % a year), scaled to `children`, and carried at its 2019-2025 rate (9.6 %/yr)
after 2025, so the default council (DEFAULT_CHILDREN = 1,847 in Jan 2026) reproduces West
Berkshire's counts; before 2015 (statements) growth is 1 %/yr. The history is
simulated census year by census year from a 30-year burn-in: each plan gets an age at start, a date
of birth and a cease date drawn from an age-specific hazard (so the age profile and the flows come
out of the dynamics), and exactly as many new plans are added in each year as make the active count
at that census hit its target (candidates are drawn in random order and the shortest prefix that
reaches the target is kept). About MOVED_IN_SHARE of new plans are children moving in from another
council (no request date: the plan starts when they arrive) and RETURNER_SHARE are children whose
earlier plan ceased and who get a new one (same child, new plan_id).

**Plans.** Age at start follows NEW_PLAN_AGE_AT_START; plans cease by CEASE_HAZARD_BY_AGE
(low at school age - mostly moves to another council - rising steeply after 18) and at the
latest at the end of the academic year in which the young person turns 25 (cease reason 1).
Post-16 ceases are mostly at the end of an academic year. Cease reasons follow England's mix by
age at cease (CEASE_REASON_BY_AGE). Plans that started before the 2014 reforms keep their
original (statement-era) start date, as DfE's "years plan held" does. Primary need depends on age at
start (NEED_BY_START_AGE: SLCN young, SEMH at secondary age) and is raked at run time so that the
active plans at the last census match England's need mix (NEED_MIX_ENGLAND). Sex, names, UPN (with a
valid check letter) and an RG postcode belong to the child.

**Placements.** A plan's life is cut into phases at the 1 September transfers (reception at age 4,
Year 7 at 11, Year 12 at 16, 19+), ages being at 31 August. Each phase gets a placement tier
(mainstream, mainstream with resourced provision/SEN unit, state special, independent/non-
maintained special, AP, FE, specialist post-16, early years, or an "educated elsewhere" setting)
drawn from P(tier | phase, need). That table is fitted at run time: PHASE_TIER_PRIOR (which
tiers are plausible at each age) is raked to the active plans' phase mix and England's setting
mix (SETTING_MIX_ENGLAND), and needs tilt it by NEED_LIFT_BY_TIER (e.g. SEMH and ASD are
over-represented in independent special schools). Ordered tiers are picked by a child's latent
"intensity" (uniform, drifting a little from phase to phase: INTENSITY_DRIFT), so a child in
special school at 10 stays in special school at 11, while mainstream children near the cut step
up at transfer points where the next phase has more special places. Within a phase a child may
also move (MOVE_RATE_BY_TIER, MOVE_TARGETS: mainstream to special, special to independent, FE to
NEET ...) on the first of a month. England's mix moved from special towards mainstream over
2019-2025, so placements starting earlier are tilted by TIER_TREND_PER_YEAR. Because moves and
the trend shift the active mix, the assignment runs CALIBRATION_PASSES times, each correcting
the targets by what the previous achieved at the last census. Each spell names an establishment from
a fixed pool of invented schools per type (sizes scale with the council, SCHOOL_POOL_SIZES) with
stable URN/UKPRN, name and GIAS type; special-school pupils usually stay at the same school across a
transfer.

**Costs and the ledger.** A placement's annual cost is drawn from its tier's range at 2024-25
prices (COSTS_2024) and deflated/inflated to its start year by the tier's inflation (3-6 %/yr).
The ledger pays every costed placement monthly, at month end, annual_cost/12 pro-rated by days,
on the Section 251 line of its establishment type (S251_LINE_BY_TYPE); about 2 % of invoices are
paid 1-2 months late, about 1 % are paid twice and credited the month after, about 0.5 % are
part-paid with the balance a month later (so every placement's payments net to its pro-rated
cost). Place funding (1.0.2) is paid monthly to maintained special schools, PRUs and maintained
resourced provisions for the places occupied on 1 April; central lines (1.2.4-1.2.13) bring the
spend tied to no child to CENTRAL_SHARE of the HNB in the last year and grow CENTRAL_GROWTH a
year; SEN transport (1.4.11, not HNB) is paid for about 40 % of special/AP/specialist post-16
placements.

**Budget.** Funding (allocation - place deductions + block transfer + LA contribution + other
income) is a share of each year's spend, just below it in the first year and falling by one
factor a year, solved so that the cumulative DSG balance at 31 March of the last year is
-DEFICIT_SHARE of that year's funding (from a small deficit brought forward): an in-year deficit
every year, funding growing a little slower than spend (0.3 points a year for the default
council). Place deductions are the academy, free school and FE places the DfE funds directly, at
the national place rates. The year after the last (e.g. 2026-27) is included because its
allocation is published in December, before the year starts: its lines are the allocation
(grown at the period's mean rate, never cut), provisional deductions and no transfer or
contribution; no spend exists for it.

Calibration sources are in `/work/shared/reference-data` (PROVENANCE.md); `synthetic/calibration.py`
derives every target below from those files, and `tests/unit/test_synthetic.py` checks the
output against them when they are present. Nothing here reads them at run time.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

__all__ = ["DEFAULT_CHILDREN", "census_date", "generate"]

# ---------------------------------------------------------------------------------------------
# Calibrated constants. "caseload.csv" etc. are files of the DfE "Education, health and care
# plans" 2025 release (reference-data/ehcp_2025_release), England rows unless stated. The
# tables are kept one row per line for reading, so the formatter leaves them alone.
# ---------------------------------------------------------------------------------------------
# fmt: off

# West Berkshire's active plans at each January census: caseload.csv, breakdown 'All EHC plans'
# (2019-2025), and before it the 2022 release's sen2_estab_caseload.csv, establishment 'Total',
# Total_all (statements and plans, 2015-2018). The generator follows the series year by year,
# scaled to `children`: a council's growth is not one constant rate (7.9 % in 2019, 3.9 % in 2021,
# 15.8 % in 2024), and a caseload grown geometrically is one that compound growth forecasts
# exactly, which no council's is.
WEST_BERKSHIRE_PLANS = {
    2015: 751, 2016: 822, 2017: 897, 2018: 900, 2019: 971, 2020: 1034, 2021: 1074, 2022: 1198,
    2023: 1322, 2024: 1531, 2025: 1685,
}
# After January 2025 the series is carried at its 2019-2025 rate (9.6 %/yr).
CASELOAD_GROWTH = (WEST_BERKSHIRE_PLANS[2025] / WEST_BERKSHIRE_PLANS[2019]) ** (1 / 6)
# Default council: West Berkshire's series carried one more year to January 2026 (~1,847).
DEFAULT_CHILDREN = round(WEST_BERKSHIRE_PLANS[2025] * CASELOAD_GROWTH)
# ehcp_national_timeseries_2010_2026.csv: statements + plans were ~flat (228k-237k) 2010-2014.
PRE_REFORM_GROWTH = 1.01

NEEDS = ("SPLD", "MLD", "SLD", "PMLD", "SEMH", "SLCN", "HI", "VI", "MSI", "PD", "ASD", "DS", "OTH")

# sen_needs_all_plans.csv, breakdown 'All EHC plans' (Jan 2025), unknown need left out; 40 % of
# the published OTH recoded DS (DfE publishes Down syndrome under OTH).
NEED_MIX_ENGLAND = dict(zip(NEEDS, (
    0.0227, 0.1071, 0.0405, 0.0135, 0.2086, 0.2143, 0.0138, 0.0083, 0.0027, 0.0393, 0.3174,
    0.0047, 0.0071,
), strict=False))

# sen_need_newplans.csv, breakdown_topic 'Child or young persons age' (new plans 2024): need
# shares (%) in NEEDS order by age band at start. Raked at run time to NEED_MIX_ENGLAND.
NEED_BY_START_AGE = {  # (first age, last age): shares
    (0, 3):   (0.6, 4.1, 2.3, 1.9, 2.5, 51.4, 1.3, 0.6, 0.3, 4.0, 29.9, 0.4, 0.7),
    (4, 4):   (0.5, 3.4, 1.2, 0.5, 9.9, 48.1, 0.7, 0.3, 0.2, 2.3, 32.3, 0.3, 0.5),
    (5, 5):   (0.7, 5.1, 0.8, 0.3, 23.3, 37.3, 0.7, 0.5, 0.1, 2.0, 28.2, 0.4, 0.5),
    (6, 7):   (2.1, 9.6, 1.0, 0.3, 31.7, 26.8, 0.6, 0.5, 0.1, 2.0, 24.1, 0.5, 0.7),
    (8, 10):  (5.3, 14.1, 1.1, 0.3, 31.5, 16.4, 0.5, 0.4, 0.2, 1.6, 27.2, 0.6, 0.9),
    (11, 11): (3.5, 9.1, 1.0, 0.2, 41.2, 10.9, 0.7, 0.5, 0.1, 1.7, 29.3, 0.7, 1.0),
    (12, 15): (2.2, 5.6, 0.8, 0.2, 53.3, 7.6, 0.4, 0.4, 0.1, 1.7, 26.3, 0.5, 0.8),
    (16, 17): (1.8, 5.5, 1.7, 0.4, 42.7, 6.5, 0.5, 0.7, 0.1, 4.5, 33.9, 0.6, 1.0),
    (18, 25): (2.2, 9.4, 2.4, 1.4, 24.1, 9.2, 1.9, 1.2, 0.0, 4.6, 40.5, 1.3, 1.9),
}
# Secondary needs (no published breakdown): a plausible mix; half of plans have none.
SECONDARY_NEED_WEIGHTS = dict(
    zip(NEEDS, (8, 15, 3, 1, 22, 25, 2, 1, 0.5, 5, 12, 0.5, 5), strict=False)
)
SECONDARY_NEED_SHARE = 0.5

# Age at plan start (years, exact age = bucket + U(-0.3, 0.7); bucket 2 = "2 and under",
# 20 = "20 and over"). Started from newplans.csv 'Age when plan started' (2024) and adjusted so
# that the simulated active plans at January 2025 reproduce caseload.csv 'Child or young persons
# age' (National 202425). The published age-at-start profile of active plans cannot be matched
# at the same time under the 31 August age convention; see the tests for the tolerances.
NEW_PLAN_AGE_AT_START = {
    2: 0.0019, 3: 0.0059, 4: 0.2126, 5: 0.1314, 6: 0.0526, 7: 0.0488, 8: 0.0487, 9: 0.0505,
    10: 0.0587, 11: 0.0933, 12: 0.0536, 13: 0.0500, 14: 0.0666, 15: 0.0555, 16: 0.0390,
    17: 0.0172, 18: 0.0060, 19: 0.0031, 20: 0.0045,
}
START_AGE_OFFSET = -0.3

# Annual hazard of a plan ceasing, by exact age. ceased_plans.csv 'Age plan ceased' 2024 divided
# by caseload.csv plans at that age: ~2 % a year at school age, 4-6 % at 16-17, 18 % at 18,
# 29 % at 19, ~50 % from 20; tuned with the age profile above (simulated: 7 % of active plans
# cease in a year, England 2024: 44,862 / 638,745).
CEASE_HAZARD_BY_AGE = (0.025,) * 16 + (0.05, 0.08, 0.20, 0.30) + (0.42,) * 6
# Share of post-16 ceases dated at the end of the academic year (31 July).
POST16_CEASE_AT_YEAR_END = 0.6

# ceased_plans.csv 'Age plan ceased' 2024: cease reason 1-9 shares by age at cease
# (0 = under 16, 20 = 20 and over). Plans reaching the age-25 limit always get reason 1; from
# 20 the other ceases draw from the remaining reasons, which keeps reason 1 near England's 4 %.
CEASE_REASON_BY_AGE = {
    0:  (0.000, 0.039, 0.001, 0.001, 0.853, 0.002, 0.069, 0.027, 0.009),
    16: (0.004, 0.114, 0.008, 0.055, 0.728, 0.035, 0.030, 0.018, 0.009),
    17: (0.006, 0.109, 0.009, 0.142, 0.479, 0.204, 0.014, 0.023, 0.014),
    18: (0.011, 0.085, 0.151, 0.123, 0.165, 0.442, 0.005, 0.007, 0.012),
    19: (0.017, 0.110, 0.110, 0.127, 0.084, 0.524, 0.002, 0.004, 0.022),
    20: (0.096, 0.107, 0.060, 0.122, 0.037, 0.548, 0.002, 0.002, 0.027),
}
MOVED_TO_ANOTHER_LA = 5

# Children moving in with a plan: reason-5 ceases are ~31 % of ceases and ~2.2 % of the active
# plans a year nationally; as a share of new plans that is ~13 %.
MOVED_IN_SHARE = 0.13
# Children getting a second plan after an earlier one ceased in the last RETURN_WITHIN_YEARS
# (needs met, moved away and back, disengaged, other): about 3 % of children end up with two.
RETURNER_SHARE = 0.06
RETURN_WITHIN_YEARS = 4
RETURNER_KEEPS_NEED = 0.7
RETURNABLE_CEASE_REASONS = (2, 5, 6, 9)

# caseload.csv 202425 'Sex': 70.6 % male, 29.4 % female, 4 unknown in England. A few U are
# kept so the code path exists in the data.
SEX_SHARES = {"M": 0.705, "F": 0.290, "U": 0.005}

# Weeks from request to plan (timeliness_20_week.csv: about half issued within 20 weeks).
REQUEST_WEEKS_MIN, REQUEST_WEEKS_MAX = 14, 30

# Placement tiers: what provision a spell is. Ordered tiers come first, by intensity (a child's
# latent intensity picks among them); the rest are "educated elsewhere" settings.
TIERS = (
    "ey", "mainstream", "fe", "mainstream_rp", "ap", "special_state", "spi",
    "special_independent", "ola", "ehe", "opa", "oth", "neet", "niec", "nieo",
)
ORDERED_TIERS = TIERS[:8]
SETTING_CODE_BY_TIER = {
    "ola": "OLA", "ehe": "EHE", "opa": "OPA", "oth": "OTH", "neet": "NEET", "niec": "NIEC",
    "nieo": "NIEO",
}

# caseload.csv National 202425 'All EHC plans', setting columns grouped into tiers (see
# calibration.CASELOAD_COLUMNS_BY_TIER), placement_unknown left out and the rest renormalised.
SETTING_MIX_ENGLAND = {
    "mainstream": 0.4096, "mainstream_rp": 0.0396, "special_state": 0.2581,
    "special_independent": 0.0549, "ap": 0.0078, "fe": 0.1267, "spi": 0.0156, "ey": 0.0073,
    "ola": 0.0186, "ehe": 0.0116, "opa": 0.0016, "oth": 0.0077, "neet": 0.0292, "niec": 0.0029,
    "nieo": 0.0088,
}

PHASES = ("early_years", "primary", "secondary", "post16", "post19")
# Age at 31 August on which each phase after early years starts (reception, Year 7, Year 12, 19+).
PHASE_START_AGES = (4, 11, 16, 19)

# Which tiers are plausible in each phase and roughly how common (%); judgement, then raked at
# run time to the active plans' phase mix and SETTING_MIX_ENGLAND. Zero = never. TIERS order:
#                 ey  main  fe   rp   ap  spec  spi  indep ola  ehe  opa  oth  neet niec nieo
PHASE_TIER_PRIOR = {
    "early_years": (66, 15,  0,   0,   0,   15,   0,   0.5, 1,   0,   1,   1.5, 0,   0,   0),
    "primary":     (0,  64,  0,   5.5, 0.4, 22,   0,   2.5, 1.2, 1.3, 0.2, 0.6, 0,   0,   0.4),
    "secondary":   (0,  42,  0,   4.5, 2,   33,   0,   10,  3,   2,   0.2, 0.8, 0,   0,   1.2),
    "post16":      (0,  14,  44,  1.5, 0.2, 22,   3.5, 6,   2,   0.8, 0.1, 1,   3.5, 0.4, 1),
    "post19":      (0,  0.5, 50,  0,   0,   2,    12,  2,   5,   0.5, 0.3, 2,   20,  2,   3.5),
}

# sen_needs_all_plans.csv 'Type of placement' (Jan 2025): share of a need in the tier / share
# overall (calibration.national_need_lift_by_tier), NEEDS order.
#                   SPLD  MLD   SLD   PMLD  SEMH  SLCN  HI    VI    MSI   PD    ASD   DS    OTH
NEED_LIFT_BY_TIER = {
    "ey":            (0.44, 0.47, 0.71, 2.18, 0.09, 2.21, 1.07, 1.35, 2.19, 1.90, 0.83, 1.48, 1.48),
    "mainstream":    (1.26, 0.94, 0.31, 0.20, 0.98, 1.35, 0.96, 1.19, 0.89, 0.96, 0.90, 1.10, 1.10),
    "fe":            (1.31, 1.48, 1.01, 0.41, 1.19, 0.63, 1.29, 1.07, 0.69, 1.13, 0.94, 0.91, 0.91),
    "mainstream_rp": (0.73, 0.64, 0.42, 0.25, 0.43, 1.40, 3.63, 1.20, 1.03, 0.73, 1.28, 0.53, 0.53),
    "ap":            (0.57, 0.36, 0.19, 0.29, 3.05, 0.42, 0.39, 0.12, 0.39, 0.21, 0.59, 0.74, 0.74),
    "special_state": (0.52, 1.03, 2.27, 2.75, 0.59, 0.86, 0.67, 0.72, 1.50, 1.15, 1.15, 1.05, 1.05),
    "spi":           (0.76, 1.19, 2.81, 2.55, 0.68, 0.47, 0.76, 2.38, 1.32, 1.58, 1.12, 1.07, 1.07),
    "special_independent":
                     (1.02, 0.55, 0.62, 0.74, 1.62, 0.56, 0.94, 0.54, 0.75, 0.51, 1.19, 0.75, 0.75),
    "ola":           (0.73, 0.60, 0.53, 0.66, 1.93, 0.39, 0.31, 0.45, 0.65, 0.78, 1.09, 1.20, 1.20),
    "ehe":           (0.83, 0.86, 0.56, 1.21, 1.19, 0.80, 0.50, 0.59, 0.95, 0.94, 1.16, 0.99, 0.99),
    "opa":           (0.53, 0.54, 0.45, 1.56, 1.18, 0.84, 0.87, 1.09, 1.51, 1.26, 1.18, 1.27, 1.27),
    "oth":           (1.00, 0.84, 0.71, 0.81, 1.93, 0.51, 0.84, 0.62, 0.89, 0.78, 0.85, 1.31, 1.31),
    "neet":          (1.09, 1.07, 0.80, 0.41, 2.05, 0.43, 0.91, 0.97, 0.63, 0.78, 0.76, 0.89, 0.89),
    "niec":          (1.32, 1.02, 1.30, 0.86, 1.41, 0.60, 1.29, 2.07, 1.04, 1.15, 0.89, 0.47, 0.47),
    "nieo":          (0.98, 0.78, 0.64, 0.89, 1.89, 0.63, 0.84, 0.60, 0.36, 0.71, 0.83, 1.42, 1.42),
}

# England's setting mix moved fast: caseload.csv National 201819 -> 202425 (tiers as above):
# state special 34.0 % -> 25.8 %, mainstream 34.5 % -> 41.0 %, resourced provision 5.0 -> 4.0,
# other LA arrangements 0.8 -> 1.9, NEET 1.7 -> 2.9, home education ~0 -> 1.2. A placement
# starting d academic years before the reference census has its tier weights multiplied by
# exp(trend * d); the values reproduce the 2019 and 2022 mixes within ~2 points.
TIER_TREND_PER_YEAR = {
    "special_state": 0.065, "mainstream": -0.02, "mainstream_rp": 0.035, "ola": -0.12,
    "neet": -0.08, "ehe": -0.10,
}
TREND_MAX_YEARS = 15

# A child's latent intensity (uniform on 0-1, mapped to tiers by each phase's distribution)
# moves by at most this much, either way, from one phase to the next: children mostly keep
# their kind of provision, and step up at transfers where the next phase has more special places.
INTENSITY_DRIFT = 0.06

# Moves within a phase (judgement): yearly rate by tier, and where children go (weights; only
# tiers possible in the phase are used).
MOVE_RATE_BY_TIER = {
    "ey": 0.0, "mainstream": 0.02, "fe": 0.06, "mainstream_rp": 0.04, "ap": 0.35,
    "special_state": 0.02, "spi": 0.05, "special_independent": 0.03, "ola": 0.15, "ehe": 0.10,
    "opa": 0.2, "oth": 0.2, "neet": 0.25, "niec": 0.2, "nieo": 0.3,
}
MOVE_TARGETS = {
    "mainstream": {"special_state": 45, "mainstream_rp": 15, "special_independent": 10,
                   "ap": 8, "ola": 10, "ehe": 8, "fe": 20, "neet": 10},
    "mainstream_rp": {"special_state": 70, "special_independent": 20, "ola": 10},
    "special_state": {"special_independent": 60, "ola": 25, "ehe": 15},
    "special_independent": {"special_state": 40, "ola": 60},
    "ap": {"special_state": 35, "special_independent": 35, "ola": 20, "mainstream": 10},
    "fe": {"neet": 60, "spi": 20, "ola": 20},
    "spi": {"neet": 50, "fe": 50},
    "ola": {"special_independent": 50, "special_state": 30, "mainstream": 20, "fe": 30},
    "ehe": {"mainstream": 50, "ola": 30, "special_state": 20, "fe": 20},
    "opa": {"mainstream": 50, "special_state": 50, "fe": 50},
    "oth": {"mainstream": 50, "special_state": 50, "fe": 50},
    "neet": {"fe": 70, "nieo": 30},
    "niec": {"neet": 100},
    "nieo": {"mainstream": 40, "ola": 40, "fe": 60, "neet": 40},
}

# Invented establishments per pool for the default council (~1,850 plans); scaled linearly with
# the council's size, never below the minimum. Type mixes follow caseload.csv 202425 (e.g.
# mainstream placements: 38 % LA maintained, 56 % academy, 3.5 % free, 2.6 % independent;
# special: 54 % LA, 46 % academy/free; independent vs non-maintained special 87:13).
SCHOOL_POOL_SIZES = {  # pool: (default size, minimum)
    "primary": (60, 6), "secondary": (12, 2), "special_state": (4, 2),
    "independent_special": (10, 3), "non_maintained_special": (2, 1), "ap": (2, 1),
    "fe": (4, 2), "spi": (3, 1), "nursery": (2, 1), "eyp": (8, 2), "eotas": (6, 2),
}
TYPE_MIX_BY_POOL = {  # GIAS TypeOfEstablishment code: share
    "primary": {1: 24, 2: 8, 3: 6, 5: 3, 28: 14, 34: 38, 35: 4, 11: 3},
    "secondary": {1: 8, 2: 3, 5: 3, 28: 22, 34: 53, 35: 6, 11: 5},
    "special_state": {7: 40, 12: 14, 44: 28, 33: 8, 36: 10},
    "independent_special": {10: 1},
    "non_maintained_special": {8: 1},
    "ap": {14: 47, 42: 20, 43: 20, 38: 13},
    "fe": {18: 80, 46: 10, 39: 10},
    "spi": {32: 1},
    "nursery": {15: 1},
}
# Early-years placements: caseload.csv counts 4,524 with non-maintained providers (EYP), more
# than LA nursery schools take; so most go to a provider without a URN.
EARLY_YEARS_PROVIDER_SHARE = 0.7
# Children concentrate in some schools: a pool member is picked as floor(size * u ** SKEW).
SCHOOL_SIZE_SKEW = 1.4
# At a phase transfer, the chance of staying at the same establishment when the pool is the same:
# all-through special schools; nursery class to reception; school sixth forms; colleges.
SAME_ESTABLISHMENT_AT_TRANSFER = {
    "special_state": 0.85, "special_independent": 0.85, "primary": 0.5, "secondary": 0.5,
    "fe": 0.5, "spi": 0.5,
}
# Share of mainstream schools with a resourced provision or SEN unit (63:37, caseload.csv).
SCHOOLS_WITH_RP_SHARE = 0.15
RP_NOT_UNIT_SHARE = 0.63
# Providers identified by UKPRN rather than URN: general FE colleges and specialist post-16.
UKPRN_TYPES = (18, 32)

# Section 251 line by establishment type (DESIGN.md): maintained schools, LA special, PRUs and LA
# nurseries 1.2.1; academies, free schools and colleges 1.2.2; independent and non-maintained
# special, independent mainstream and specialist post-16 1.2.3. Settings: EOTAS packages (OLA)
# 1.2.7 "other alternative provision services"; non-maintained early years providers (EYP) 1.2.3
# "top-up - non-maintained and independent providers".
S251_LINE_BY_TYPE = {
    **dict.fromkeys((1, 2, 3, 5, 7, 12, 14, 15), "1.2.1"),
    **dict.fromkeys((28, 34, 35, 33, 36, 44, 38, 42, 43, 18, 39, 45, 46), "1.2.2"),
    **dict.fromkeys((8, 10, 11, 32), "1.2.3"),
}
S251_LINE_BY_SETTING = {"OLA": "1.2.7", "EYP": "1.2.3"}

# Annual cost at 2024-25 prices (GBP, uniform in range) and yearly inflation by tier; the cost of
# a placement is fixed at its start year's price. Independent/non-maintained residential:
# A (<=38 weeks) and B (39-52 weeks) for RESIDENTIAL_SHARE of those placements.
COSTS_2024 = {  # tier: (low, high, inflation)
    "mainstream":          (6_000, 10_000, 0.03),
    "mainstream_rp":       (12_000, 18_000, 0.03),
    "special_state":       (20_000, 30_000, 0.03),
    "special_independent": (50_000, 70_000, 0.05),
    "residential_a":       (100_000, 160_000, 0.05),
    "residential_b":       (150_000, 250_000, 0.05),
    "ap":                  (15_000, 25_000, 0.03),
    "fe":                  (8_000, 15_000, 0.03),
    "spi":                 (30_000, 50_000, 0.04),
    "ola":                 (20_000, 40_000, 0.04),
    "ey":                  (5_000, 8_000, 0.03),
}
COST_BASE_YEAR = 2024
RESIDENTIAL_SHARE = 0.15
RESIDENTIAL_B_SHARE = 0.4

# Ledger behaviour.
LATE_PAYMENT_SHARE = 0.02
DUPLICATE_INVOICE_SHARE = 0.01
PART_PAYMENT_SHARE = 0.005
# Place funding per place and year (DfE high needs place funding: GBP 10,000 special and AP,
# GBP 6,000 resourced provision/SEN units and post-16 FE), for places occupied on 1 April plus
# a margin of commissioned but empty places.
PLACE_RATE_SPECIAL = 10_000
PLACE_RATE_RP_AND_FE = 6_000
COMMISSIONED_PLACE_MARGIN = 1.05
# Central HNB spend (no child): share of the HNB in the last year, yearly growth, and its split.
CENTRAL_SHARE = 0.11
CENTRAL_GROWTH = 1.08
CENTRAL_LINE_SHARES = {"1.2.4": 0.15, "1.2.5": 0.30, "1.2.6": 0.08, "1.2.8": 0.20,
                       "1.2.11": 0.12, "1.2.13": 0.15}
# SEN transport (not HNB): share of special/AP/SPI placements transported, cost at 2024 prices.
TRANSPORT_SHARE = 0.40
TRANSPORT_COST_2024 = (7_000, 14_000)
TRANSPORT_INFLATION = 0.05

# Budget: funding is a share of each year's spend, just below it in the first year and falling
# by one factor a year, solved so that the cumulative deficit reaches DEFICIT_SHARE of the last
# year's funding: an in-year deficit every year, growing slower than spend (~0.3 points a year for
# the default council). West Berkshire's HNB allocation grew 8-11 %/yr from GBP 20.1m in 2019-20
# to 28.5m in 2023-24 (dsg_allocations_by_la_2019-20_to_2023-24.csv; ~6 % deducted for academy
# places) and its DSG balance was -1.3 % of DSG income in 2019-20
# (dsg_cumulative_balance_pct_2019-20_to_2021-22.csv). (Funding at one constant rate against a
# caseload that grows unevenly - West Berkshire's 0.3 % in 2018, 15.8 % in 2024 - builds years of
# surpluses before the deficit.)
FUNDING_RATIO_DECLINE_BOUNDS = (0.8, 1.0)
FIRST_YEAR_FUNDING_RATIO = 0.99  # of the first year's spend: a small in-year deficit already
DEFICIT_SHARE = 0.15
BALANCE_BROUGHT_FORWARD_SHARE = -0.02  # of the first year's HNB spend
BLOCK_TRANSFER_SHARE = 0.02  # of the allocation, in every third year
OTHER_INCOME_SHARE = 0.005
NEXT_YEAR_DEDUCTIONS_GROWTH = 1.03

# fmt: on


# ---------------------------------------------------------------------------------------------
# Dates: int64 days since 1970-01-01 throughout (vectorised), datetime.date at the edges.
# ---------------------------------------------------------------------------------------------
_EPOCH = dt.date(1970, 1, 1)
DAYS_PER_YEAR = 365.25


def _day(year: int, month: int, day: int) -> int:
    return (dt.date(year, month, day) - _EPOCH).days


def _to_date(days: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=int(days))


def _days_of(years: np.ndarray, month: int, day: int) -> np.ndarray:
    """Vectorised `_day(years, month, day)` for an array of years."""
    months = (np.asarray(years, dtype=np.int64) - 1970) * 12 + (month - 1)
    return months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) + (day - 1)


def _year_month(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    as_dates = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    years = as_dates.astype("datetime64[Y]").astype(np.int64) + 1970
    months = as_dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    return years, months


def _first_of_month(days: np.ndarray) -> np.ndarray:
    as_dates = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    return as_dates.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def _academic_cohort(dob: np.ndarray) -> np.ndarray:
    """The year Y such that a child's age at 31 August of year X is X - Y (born Sep-Dec: +1)."""
    years, months = _year_month(dob)
    return years + (months >= 9)


def _academic_year_start(days: np.ndarray) -> np.ndarray:
    """Calendar year of the 1 September on or before each day."""
    years, months = _year_month(days)
    return years - (months < 9)


# SEN2 census days that break the third-Thursday rule: the SEN2 2021 guide (v1.1) set
# 14 January 2021 (the rule gives the 21st; 2016, also starting on a Friday, used the 21st).
CENSUS_DATE_EXCEPTIONS = {2021: dt.date(2021, 1, 14)}


def census_date(year: int) -> dt.date:
    """SEN2 census day: the third Thursday of January of `year` (see CENSUS_DATE_EXCEPTIONS)."""
    if year in CENSUS_DATE_EXCEPTIONS:
        return CENSUS_DATE_EXCEPTIONS[year]
    jan_first = dt.date(year, 1, 1)
    first_thursday = 1 + (3 - jan_first.weekday()) % 7
    return dt.date(year, 1, first_thursday + 14)


def _census_day(year: int) -> int:
    return (census_date(year) - _EPOCH).days


def financial_year_label(start_year: int) -> str:
    return f"{start_year}-{(start_year + 1) % 100:02d}"


@dataclass(frozen=True)
class _Timeline:
    first_year: int
    last_year: int

    @property
    def window_start(self) -> int:
        return _day(self.first_year, 4, 1)

    @property
    def extract(self) -> int:
        return _day(self.last_year + 1, 3, 31)

    @property
    def census_years(self) -> range:
        return range(self.first_year + 1, self.last_year + 2)

    @property
    def last_census_year(self) -> int:
        return self.last_year + 1

    @property
    def financial_years(self) -> range:
        return range(self.first_year, self.last_year + 1)


# ---------------------------------------------------------------------------------------------
# Small vectorised helpers.
# ---------------------------------------------------------------------------------------------
def _categorical(
    rng: np.random.Generator | None,
    probabilities: np.ndarray,
    groups: np.ndarray,
    uniforms: np.ndarray | None = None,
) -> np.ndarray:
    """Draw one category per row from `probabilities[groups[row]]` (rows of weights), using
    `uniforms` if given (then `rng` may be None).

    Loops over categories (few), never over rows. Categories after the last one with weight are
    pushed out of reach so rounding can never select a zero-weight category.
    """
    weights = np.asarray(probabilities, dtype=np.float64)
    cumulative = np.cumsum(weights, axis=1) / weights.sum(axis=1, keepdims=True)
    cumulative[cumulative >= 1 - 1e-12] = 2.0
    u = rng.random(len(groups)) if uniforms is None else uniforms
    chosen = np.zeros(len(groups), dtype=np.int64)
    for column in range(weights.shape[1] - 1):
        chosen += cumulative[groups, column] < u
    return chosen


def _group_positions(group_sizes: np.ndarray) -> np.ndarray:
    """0, 1, ... within each consecutive group of the given sizes."""
    total = int(group_sizes.sum())
    starts = np.repeat(np.cumsum(group_sizes) - group_sizes, group_sizes)
    return np.arange(total) - starts


def _carry_forward(values: np.ndarray, refresh: np.ndarray) -> np.ndarray:
    """Each row takes the value of the latest row at or before it where `refresh` is True."""
    index = np.where(refresh, np.arange(len(values)), 0)
    return values[np.maximum.accumulate(index)]


def _rake(
    prior: np.ndarray, row_totals: np.ndarray, column_totals: np.ndarray, iterations: int = 200
) -> np.ndarray:
    """Iterative proportional fitting of a non-negative table to row and column totals."""
    table = prior.astype(np.float64).copy()
    for _ in range(iterations):
        table *= (row_totals / np.maximum(table.sum(axis=1), 1e-300))[:, None]
        table *= column_totals / np.maximum(table.sum(axis=0), 1e-300)
    return table


# ---------------------------------------------------------------------------------------------
# Caseload: plans, with ages, needs and cease dates.
# ---------------------------------------------------------------------------------------------
BURN_IN_YEARS = 30


def _caseload_shape(census_year: int) -> float:
    """West Berkshire's plans at a census (WEST_BERKSHIRE_PLANS), carried at CASELOAD_GROWTH a
    year after its last census and back at PRE_REFORM_GROWTH before its first (the 2015 reforms)."""
    first, last = min(WEST_BERKSHIRE_PLANS), max(WEST_BERKSHIRE_PLANS)
    if census_year > last:
        return WEST_BERKSHIRE_PLANS[last] * CASELOAD_GROWTH ** (census_year - last)
    if census_year < first:
        return WEST_BERKSHIRE_PLANS[first] * PRE_REFORM_GROWTH ** (census_year - first)
    return float(WEST_BERKSHIRE_PLANS[census_year])


def _target_caseload(census_year: int, children: int, last_census_year: int) -> int:
    """Active plans wanted at a census: `children` at the last, and before it West Berkshire's
    series scaled to match."""
    return round(children * _caseload_shape(census_year) / _caseload_shape(last_census_year))


def _cease_hazard_table() -> tuple[np.ndarray, np.ndarray]:
    ages = np.arange(len(CEASE_HAZARD_BY_AGE) + 1, dtype=np.float64)
    cumulative = np.concatenate([[0.0], np.cumsum(CEASE_HAZARD_BY_AGE)])
    return ages, cumulative


def _draw_cease(
    rng: np.random.Generator, start: np.ndarray, dob: np.ndarray, census_days: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Cease day and reason for plans starting at `start`; ceases after the extract are kept."""
    n = len(start)
    ages, cumulative = _cease_hazard_table()
    start_age = (start - dob) / DAYS_PER_YEAR
    hazard_at_start = np.interp(start_age, ages, cumulative)
    cease_age = np.interp(hazard_at_start + rng.exponential(size=n), cumulative, ages)
    cease = dob + np.round(cease_age * DAYS_PER_YEAR).astype(np.int64)
    # Plans end at the latest at the end of the academic year in which the young person turns 25.
    age_limit = _days_of(_academic_cohort(dob) + 25, 7, 31)
    reached_limit = cease >= age_limit
    cease = np.minimum(cease, age_limit)
    # Most post-16 ceases are at the end of the academic year (leaving school or college).
    year_end = _days_of(_academic_year_start(cease) + 1, 7, 31)
    to_year_end = (
        (cease_age >= 16)
        & ~reached_limit
        & (rng.random(n) < POST16_CEASE_AT_YEAR_END)
        & (year_end > start)
    )
    cease = np.where(to_year_end, np.minimum(year_end, age_limit), cease)
    cease = np.maximum(cease, start + 1)
    # A cease on a census day would make "active on census day" depend on < versus <=.
    cease = np.where(np.isin(cease, census_days), cease + 1, cease)

    age_at_cease = np.floor((cease - dob) / DAYS_PER_YEAR).astype(np.int64)
    band = np.where(age_at_cease < 16, 0, np.minimum(age_at_cease, 20))
    bands = sorted(CEASE_REASON_BY_AGE)
    band_index = np.searchsorted(bands, band)
    table = np.array([CEASE_REASON_BY_AGE[b] for b in bands])
    table[bands.index(20), 0] = 0.0
    reason = _categorical(rng, table, band_index) + 1
    reason = np.where(reached_limit, 1, reason)
    return cease, reason


def _draw_age_at_start(rng: np.random.Generator, n: int) -> np.ndarray:
    buckets = np.array(list(NEW_PLAN_AGE_AT_START), dtype=np.float64)
    weights = np.array(list(NEW_PLAN_AGE_AT_START.values()))
    bucket = buckets[_categorical(rng, weights[None, :], np.zeros(n, dtype=np.int64))]
    age = bucket + rng.random(n) + START_AGE_OFFSET
    youngest = bucket == buckets.min()
    age = np.where(
        youngest, 0.3 + (buckets.min() + 1 + START_AGE_OFFSET - 0.3) * rng.random(n), age
    )
    oldest = bucket == buckets.max()
    age = np.where(oldest, bucket.max() + START_AGE_OFFSET + rng.exponential(1.5, n), age)
    return np.minimum(age, 24.5)


@dataclass
class _Plans:
    """All simulated plans (burn-in included), one entry per plan in creation order."""

    child: np.ndarray  # child key (shared by a child's plans)
    dob: np.ndarray
    start: np.ndarray
    cease: np.ndarray  # may lie after the extract (= still active)
    cease_reason: np.ndarray
    moved_in: np.ndarray
    returns_from: np.ndarray  # index of the child's earlier plan, or -1
    need: np.ndarray | None = None

    def active_on(self, day: int) -> np.ndarray:
        return (self.start <= day) & (self.cease > day)


def _simulate_plans(rng: np.random.Generator, timeline: _Timeline, children: int) -> _Plans:
    """Add new plans census year by census year so that each census hits its target."""
    parts: dict[str, list[np.ndarray]] = {
        k: []
        for k in ("child", "dob", "start", "cease", "cease_reason", "moved_in", "returns_from")
    }
    used_as_source = np.zeros(0, dtype=bool)
    next_child = 0
    n_plans = 0
    first_year = timeline.census_years[0] - BURN_IN_YEARS
    census_days = np.array(
        [_census_day(y) for y in range(first_year, timeline.last_census_year + 2)]
    )
    for year in range(first_year, timeline.last_census_year + 1):
        census, previous_census = _census_day(year), _census_day(year - 1)
        target = _target_caseload(year, children, timeline.last_census_year)
        all_start = np.concatenate(parts["start"]) if n_plans else np.zeros(0, np.int64)
        all_cease = np.concatenate(parts["cease"]) if n_plans else np.zeros(0, np.int64)
        shortfall = target - int(((all_start <= census) & (all_cease > census)).sum())
        if shortfall <= 0:
            continue
        n = int(shortfall * 1.8) + 50
        start = previous_census + 1 + rng.integers(0, census - previous_census, n)
        age = _draw_age_at_start(rng, n)
        dob = start - np.round(age * DAYS_PER_YEAR).astype(np.int64)
        child = next_child + np.arange(n)
        returns_from = np.full(n, -1, dtype=np.int64)
        moved_in = rng.random(n) < MOVED_IN_SHARE

        # A few candidates are children whose earlier plan ceased: they keep their identity.
        if n_plans:
            all_reason = np.concatenate(parts["cease_reason"])
            all_dob = np.concatenate(parts["dob"])
            eligible = np.flatnonzero(
                np.isin(all_reason, RETURNABLE_CEASE_REASONS)
                & ~used_as_source
                & (np.concatenate(parts["returns_from"]) < 0)  # at most two plans per child
                & (all_cease < previous_census - 90)
                & (all_cease > previous_census - RETURN_WITHIN_YEARS * DAYS_PER_YEAR)
                & ((all_cease - all_dob) / DAYS_PER_YEAR < 20)
            )
            n_return = min(len(eligible), rng.binomial(n, RETURNER_SHARE))
            if n_return:
                source = rng.choice(eligible, n_return, replace=False)
                slots = rng.choice(n, n_return, replace=False)
                source_dob = all_dob[source]
                ok = (start[slots] - source_dob) / DAYS_PER_YEAR < 24
                slots, source = slots[ok], source[ok]
                dob[slots] = all_dob[source]
                child[slots] = np.concatenate(parts["child"])[source]
                returns_from[slots] = source
                moved_in[slots] = all_reason[source] == MOVED_TO_ANOTHER_LA

        cease, reason = _draw_cease(rng, start, dob, census_days)
        active = (start <= census) & (cease > census)
        take = int(np.searchsorted(np.cumsum(active), shortfall)) + 1
        if take > n:  # not enough candidates reached the census: extremely unlikely
            raise RuntimeError(f"caseload simulation fell short in {year}")
        for key, value in (
            ("child", child),
            ("dob", dob),
            ("start", start),
            ("cease", cease),
            ("cease_reason", reason),
            ("moved_in", moved_in),
            ("returns_from", returns_from),
        ):
            parts[key].append(value[:take])
        used_as_source = np.concatenate([used_as_source, np.zeros(take, dtype=bool)])
        used_as_source[returns_from[:take][returns_from[:take] >= 0]] = True
        next_child += n
        n_plans += take

    return _Plans(**{k: np.concatenate(v) for k, v in parts.items()})


def _start_age_band(age_years: np.ndarray) -> np.ndarray:
    bands = list(NEED_BY_START_AGE)
    lasts = np.array([last for _, last in bands])
    return np.minimum(np.searchsorted(lasts, np.floor(age_years)), len(bands) - 1)


def _assign_needs(rng: np.random.Generator, plans: _Plans, reference_day: int) -> None:
    """Primary need by age at start, raked so the active plans on `reference_day` match England."""
    band = _start_age_band((plans.start - plans.dob) / DAYS_PER_YEAR)
    base = np.array(list(NEED_BY_START_AGE.values()), dtype=np.float64)
    base /= base.sum(axis=1, keepdims=True)
    active = plans.active_on(reference_day)
    band_counts = np.bincount(band[active], minlength=len(base)).astype(np.float64)
    target = np.array([NEED_MIX_ENGLAND[n] for n in NEEDS]) * band_counts.sum()
    weights = np.ones(len(NEEDS))
    for _ in range(200):
        conditional = base * weights
        conditional /= conditional.sum(axis=1, keepdims=True)
        achieved = band_counts @ conditional
        weights *= target / np.maximum(achieved, 1e-12)
    conditional = base * weights
    need = _categorical(rng, conditional, band)
    # A returning child usually keeps the need of the earlier plan.
    returning = np.flatnonzero(plans.returns_from >= 0)
    keep = returning[rng.random(len(returning)) < RETURNER_KEEPS_NEED]
    need[keep] = need[plans.returns_from[keep]]
    plans.need = need


# ---------------------------------------------------------------------------------------------
# Establishments: a fixed pool of invented schools, colleges and providers.
# ---------------------------------------------------------------------------------------------
# fmt: off
_PLACE_STEMS = (
    "Ash", "Beech", "Birch", "Bram", "Brook", "Burn", "Chalk", "Cold", "Crow", "Elm", "Fern",
    "Hazel", "Heath", "Holly", "Kings", "Lark", "Long", "Marsh", "Mill", "Moor", "Oak", "Pen",
    "Queens", "Red", "Rose", "Rye", "Sand", "Shaw", "Stan", "Stone", "Thorn", "Wal", "Wen",
    "West", "White", "Wick", "Willow", "Win", "Wood", "Yew",
)
_PLACE_ENDINGS = (
    "bury", "by", "combe", "cote", "dale", "den", "field", "ford", "gate", "ham", "hampton",
    "hill", "hurst", "ley", "lington", "mead", "mere", "stead", "ton", "well", "wick", "wood",
    "worth", "bridge", "brook",
)
_PLACE_PREFIXES = (
    "", "Upper ", "Lower ", "Great ", "Little ", "East ", "West ", "North ", "South ", "Old ",
    "New ", "Nether ",
)
# fmt: on
_SCHOOL_NAME_PATTERNS = {
    1: "{place} Primary School",
    2: "St {saint}'s Catholic Primary School {place}",
    3: "{place} Church of England Primary School",
    5: "{place} Foundation Primary School",
    28: "{place} Primary Academy",
    34: "{place} Academy",
    35: "{place} Free School",
    11: "{place} Preparatory School",
    7: "{place} Special School",
    12: "{place} School",
    44: "{place} Specialist Academy",
    33: "{place} Special Academy",
    36: "{place} Free School (Special)",
    10: "{place} House School",
    8: "{place} Hall School",
    14: "{place} Pupil Referral Unit",
    42: "{place} Alternative Provision Academy",
    43: "{place} Learning Academy",
    38: "{place} Alternative Provision Free School",
    18: "{place} College",
    46: "{place} Sixth Form Academy",
    39: "{place} 16-19 Free School",
    32: "{place} Specialist College",
    15: "{place} Nursery School",
}
_SECONDARY_NAME_PATTERNS = {
    1: "{place} School",
    2: "St {saint}'s Catholic School {place}",
    5: "{place} High School",
    28: "{place} Academy",
    34: "{place} Academy",
    35: "{place} Free School",
    11: "{place} College",
}
# fmt: off
_SAINTS = (
    "Mary", "Joseph", "John", "Peter", "Paul", "Anne", "Michael", "Bartholomew", "Edmund",
    "Finian",
)
# fmt: on
_PROVIDER_PATTERNS = {
    "eyp": ("{place} Day Nursery", "Little {stem} Pre-school", "{place} Childcare Ltd"),
    "eotas": ("{place} Tuition Ltd", "{stem} Learning Services", "{place} Outreach CIC"),
}
# Central suppliers (no child) and SEN transport contractors.
_CENTRAL_SUPPLIERS = {
    "1.2.4": None,  # paid to mainstream schools
    "1.2.5": (
        "Sensory Consortium Service",
        "Autism Advisory Team",
        "Educational Psychology Service",
        "Specialist Teaching Service",
    ),
    "1.2.6": ("Hospital Education Service",),
    "1.2.8": (
        "Inclusion Outreach Team",
        "Emotional Wellbeing Service",
        "Early Help Inclusion Fund",
    ),
    "1.2.11": ("Personal budget direct payments",),
    "1.2.13": ("Community Health NHS Trust (SLT and OT)", "Children's Therapy Partnership"),
}
# fmt: off
_TRANSPORT_SUPPLIERS = (
    "County Cars Ltd", "Kennet Taxis", "Valley Minibus Hire", "Swift Passenger Transport",
)
# fmt: on


def _place_names(rng: np.random.Generator, n: int) -> list[str]:
    """`n` distinct invented place names (stem + ending, with prefixes once those run out)."""
    plain = [s + e for s in _PLACE_STEMS for e in _PLACE_ENDINGS]
    names = [p + name for p in _PLACE_PREFIXES for name in plain]
    order = rng.permutation(len(plain))
    ordered = [names[i] for i in order] + [
        names[len(plain) + i] for i in rng.permutation(len(names) - len(plain))
    ]
    return [
        ordered[i % len(ordered)] + ("" if i < len(ordered) else f" {i // len(ordered) + 1}")
        for i in range(n)
    ]


def _pool_size(pool: str, scale: float) -> int:
    default, minimum = SCHOOL_POOL_SIZES[pool]
    return max(minimum, round(default * scale))


def _split_by_shares(n: int, shares: dict[int, float]) -> np.ndarray:
    """Type codes for `n` establishments in the given proportions (largest remainder)."""
    codes = np.array(list(shares))
    weights = np.array(list(shares.values()), dtype=np.float64)
    exact = weights / weights.sum() * n
    counts = np.floor(exact).astype(int)
    counts[np.argsort(-(exact - counts), kind="stable")[: n - counts.sum()]] += 1
    return np.repeat(codes, counts)


def _build_establishments(rng: np.random.Generator, scale: float) -> pd.DataFrame:
    """One row per establishment/provider: pool, identifiers, GIAS type, name, RP flags."""
    rows = []
    for pool in (
        "primary",
        "secondary",
        "special_state",
        "independent_special",
        "non_maintained_special",
        "ap",
        "fe",
        "spi",
        "nursery",
    ):
        types = rng.permutation(_split_by_shares(_pool_size(pool, scale), TYPE_MIX_BY_POOL[pool]))
        rows += [{"pool": pool, "type_code": int(t)} for t in types]
    for pool in ("eyp", "eotas"):
        rows += [{"pool": pool, "type_code": None} for _ in range(_pool_size(pool, scale))]
    est = pd.DataFrame(rows)
    n = len(est)
    places = _place_names(rng, n)
    saints = rng.integers(0, len(_SAINTS), n)
    pattern_pick = rng.integers(0, 3, n)
    names = []
    for i, row in enumerate(est.itertuples()):
        if row.pool in _PROVIDER_PATTERNS:
            pattern = _PROVIDER_PATTERNS[row.pool][pattern_pick[i]]
        elif row.pool == "secondary":
            pattern = _SECONDARY_NAME_PATTERNS[row.type_code]
        else:
            pattern = _SCHOOL_NAME_PATTERNS[row.type_code]
        names.append(
            pattern.format(place=places[i], stem=places[i].split()[-1], saint=_SAINTS[saints[i]])
        )
    est["name"] = names

    has_type = est["type_code"].notna()
    by_ukprn = has_type & est["type_code"].isin(UKPRN_TYPES)
    by_urn = has_type & ~by_ukprn
    est["urn"] = pd.array([None] * n, dtype="Int64")
    est["ukprn"] = pd.array([None] * n, dtype="Int64")
    est.loc[by_urn, "urn"] = 100_000 + rng.choice(900_000, int(by_urn.sum()), replace=False)
    est.loc[by_ukprn, "ukprn"] = 10_000_000 + rng.choice(20_000, int(by_ukprn.sum()), replace=False)
    est["type_code"] = est["type_code"].astype("Int64")
    est["sen_setting"] = est["pool"].map({"eyp": "EYP", "eotas": "OLA"})

    # Some mainstream schools host a resourced provision or an SEN unit (at least one per phase).
    est["rp_kind"] = None
    for pool in ("primary", "secondary"):
        members = np.flatnonzero(est["pool"].to_numpy() == pool)
        n_rp = max(1, round(SCHOOLS_WITH_RP_SHARE * len(members)))
        chosen = rng.choice(members, n_rp, replace=False)
        kinds = np.where(rng.random(n_rp) < RP_NOT_UNIT_SHARE, "RP", "UNIT")
        est.loc[chosen, "rp_kind"] = kinds
    est["s251_line"] = [
        S251_LINE_BY_SETTING[s] if isinstance(s, str) else S251_LINE_BY_TYPE[int(t)]
        for s, t in zip(est["sen_setting"], est["type_code"], strict=False)
    ]
    est.index.name = "est_id"
    return est


# ---------------------------------------------------------------------------------------------
# Placements: phases, tiers, moves, establishments, costs.
# ---------------------------------------------------------------------------------------------
@dataclass
class _Segments:
    """One row per (plan, phase) the plan lives through, in plan then time order."""

    plan: np.ndarray  # index into the output plans
    phase: np.ndarray
    start: np.ndarray
    end: np.ndarray  # inclusive
    first: np.ndarray  # first segment of its plan


def _phase_segments(dob: np.ndarray, start: np.ndarray, end: np.ndarray) -> _Segments:
    cohort = _academic_cohort(dob)
    boundaries = np.stack([_days_of(cohort + age, 9, 1) for age in PHASE_START_AGES], axis=1)
    phase_at_start = (boundaries <= start[:, None]).sum(axis=1)
    phase_at_end = (boundaries <= end[:, None]).sum(axis=1)
    count = phase_at_end - phase_at_start + 1
    plan = np.repeat(np.arange(len(start)), count)
    k = _group_positions(count)
    phase = phase_at_start[plan] + k
    padded = np.concatenate([boundaries, np.full((len(start), 1), np.iinfo(np.int64).max)], axis=1)
    seg_start = np.where(k == 0, start[plan], padded[plan, np.maximum(phase - 1, 0)])
    seg_end = np.where(k == count[plan] - 1, end[plan], padded[plan, phase] - 1)
    return _Segments(plan, phase, seg_start, seg_end, k == 0)


def _tier_probabilities(
    setting_targets: np.ndarray, phase_counts: np.ndarray, phase_need_counts: np.ndarray
) -> np.ndarray:
    """P(tier | phase, need): prior raked to the phase mix and setting targets, tilted by need."""
    prior = np.array([PHASE_TIER_PRIOR[p] for p in PHASES], dtype=np.float64)
    phase_tier = _rake(prior, phase_counts, setting_targets * phase_counts.sum())
    lift = np.array([NEED_LIFT_BY_TIER[t] for t in TIERS]).T  # need x tier
    result = np.zeros((len(PHASES), len(NEEDS), len(TIERS)))
    for p in range(len(PHASES)):
        # Fit tier weights w so that sum over needs of share(need) * P(tier | need) equals the
        # phase's tier shares, with P(tier | need) proportional to lift * w (all in shares).
        target = phase_tier[p] / phase_tier[p].sum()
        need_share = phase_need_counts[p] / phase_need_counts[p].sum()
        weights = target.copy()
        for _ in range(200):
            conditional = lift * weights
            conditional /= conditional.sum(axis=1, keepdims=True)
            achieved = need_share @ conditional
            weights *= np.divide(target, achieved, out=np.zeros_like(target), where=achieved > 0)
            weights /= weights.sum()
        conditional = lift * weights
        result[p] = conditional / conditional.sum(axis=1, keepdims=True)
    return result


def _with_trend(probabilities: np.ndarray) -> np.ndarray:
    """P(tier | phase, need, years before the reference census), TIER_TREND_PER_YEAR applied."""
    years = np.arange(TREND_MAX_YEARS + 1)[:, None]
    trend = np.array([TIER_TREND_PER_YEAR.get(t, 0.0) for t in TIERS])[None, :]
    factors = np.exp(trend * years)  # years x tier
    table = probabilities[:, :, None, :] * factors[None, None, :, :]
    return table / table.sum(axis=3, keepdims=True)


def _draw_tiers(
    probabilities: np.ndarray,
    group: np.ndarray,
    latent: np.ndarray,
    elsewhere_uniform: np.ndarray,
    pick_uniform: np.ndarray,
) -> np.ndarray:
    """Ordered tiers by latent intensity; an independent draw decides "educated elsewhere".
    `probabilities` has one row of tier weights per group."""
    n_ordered = len(ORDERED_TIERS)
    flat = probabilities.reshape(-1, len(TIERS))
    elsewhere_share = flat[:, n_ordered:].sum(axis=1)
    is_elsewhere = elsewhere_uniform < elsewhere_share[group]
    ordered = _categorical(None, flat[:, :n_ordered], group, latent)
    # (a phase/need with no elsewhere weight never reaches the elsewhere branch)
    elsewhere_weights = np.where(elsewhere_share[:, None] > 0, flat[:, n_ordered:], 1.0)
    elsewhere = n_ordered + _categorical(None, elsewhere_weights, group, pick_uniform)
    return np.where(is_elsewhere, elsewhere, ordered)


def _move_table() -> np.ndarray:
    """Destination weights for a move, by (phase, tier) group: only tiers possible in the phase."""
    table = np.zeros((len(PHASES) * len(TIERS), len(TIERS)))
    for p, phase in enumerate(PHASES):
        possible = np.array(PHASE_TIER_PRIOR[phase]) > 0
        for t, tier in enumerate(TIERS):
            for destination, weight in MOVE_TARGETS.get(tier, {}).items():
                d = TIERS.index(destination)
                if possible[d]:
                    table[p * len(TIERS) + t, d] = weight
    return table


@dataclass
class _Spells:
    plan: np.ndarray
    phase: np.ndarray
    tier: np.ndarray
    start: np.ndarray
    end: np.ndarray
    at_transfer: np.ndarray  # starts a phase after an earlier phase of the same plan


def _fold(x: np.ndarray) -> np.ndarray:
    """Reflect into [0, 1] (period 2): keeps a uniform variable plus symmetric noise uniform."""
    x = np.mod(x, 2.0)
    return np.where(x > 1, 2 - x, x)


def _drifting_latent(rng: np.random.Generator, first: np.ndarray) -> np.ndarray:
    """Per segment: the plan's uniform intensity plus a symmetric random walk, folded to [0, 1]."""
    n = len(first)
    steps = np.where(first, rng.random(n), rng.uniform(-INTENSITY_DRIFT, INTENSITY_DRIFT, n))
    walk = np.cumsum(steps)
    start_of_plan = _carry_forward(walk - steps, first)  # walk before each plan's first step
    return _fold(walk - start_of_plan)


class _PlacementRandomness:
    """Every random number the tier assignment uses, drawn once so a rerun changes only targets."""

    def __init__(self, rng: np.random.Generator, segments: _Segments):
        n = len(segments.plan)
        self.latent = _drifting_latent(rng, segments.first)
        self.elsewhere = rng.random(n)
        self.pick = rng.random(n)
        self.move = rng.random(n)
        self.move_day = rng.random(n)
        self.move_tier = rng.random(n)


def _assign_spells(
    segments: _Segments,
    need: np.ndarray,
    probabilities: np.ndarray,
    randomness: _PlacementRandomness,
    reference_day: int,
) -> _Spells:
    years_before = np.clip(
        _academic_year_start(np.array([reference_day]))[0] - _academic_year_start(segments.start),
        0,
        TREND_MAX_YEARS,
    )
    group = (segments.phase * len(NEEDS) + need[segments.plan]) * (
        TREND_MAX_YEARS + 1
    ) + years_before
    tier = _draw_tiers(
        _with_trend(probabilities), group, randomness.latent, randomness.elsewhere, randomness.pick
    )

    # A move within the phase splits the segment in two on the first of a month.
    length = segments.end - segments.start + 1
    rate = np.array([MOVE_RATE_BY_TIER[t] for t in TIERS])[tier]
    move_table = _move_table()
    move_group = segments.phase * len(TIERS) + tier
    can_move = move_table.sum(axis=1)[move_group] > 0
    move_day = _first_of_month(
        segments.start + 45 + randomness.move_day * np.maximum(length - 90, 0)
    )
    moves = (
        can_move
        & (length > 120)
        & (randomness.move < 1 - np.exp(-rate * length / DAYS_PER_YEAR))
        & (move_day > segments.start)
        & (move_day <= segments.end)
    )
    safe_table = move_table + (move_table.sum(axis=1, keepdims=True) == 0)
    new_tier = _categorical(None, safe_table, move_group, randomness.move_tier)

    count = 1 + moves.astype(np.int64)
    seg = np.repeat(np.arange(len(tier)), count)
    second = _group_positions(count) == 1
    return _Spells(
        plan=segments.plan[seg],
        phase=segments.phase[seg],
        tier=np.where(second, new_tier[seg], tier[seg]),
        start=np.where(second, move_day[seg], segments.start[seg]),
        end=np.where(~second & moves[seg], move_day[seg] - 1, segments.end[seg]),
        at_transfer=~second & ~segments.first[seg],
    )


def _active_mix(spells: _Spells, day: int) -> np.ndarray:
    active = (spells.start <= day) & (spells.end >= day)
    counts = np.bincount(spells.tier[active], minlength=len(TIERS)).astype(np.float64)
    return counts / max(counts.sum(), 1)


CALIBRATION_PASSES = 3


def _build_spells(
    rng: np.random.Generator,
    dob: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    need: np.ndarray,
    reference_day: int,
) -> _Spells:
    """Placement spells for plans [start, end], calibrated to England's mix on `reference_day`."""
    segments = _phase_segments(dob, start, end)
    active = (segments.start <= reference_day) & (segments.end >= reference_day)
    phase_counts = np.bincount(segments.phase[active], minlength=len(PHASES)).astype(np.float64)
    phase_need_counts = np.zeros((len(PHASES), len(NEEDS)))
    np.add.at(phase_need_counts, (segments.phase[active], need[segments.plan[active]]), 1)
    # Phases with no active plan (tiny councils) still need a usable table.
    phase_counts = np.maximum(phase_counts, 1e-6)
    phase_need_counts += 1e-9

    randomness = _PlacementRandomness(rng, segments)
    targets = np.array([SETTING_MIX_ENGLAND[t] for t in TIERS])
    spells = None
    # Later passes correct the targets for what moves and the trend do to the active mix.
    for _ in range(CALIBRATION_PASSES):
        probabilities = _tier_probabilities(targets, phase_counts, phase_need_counts)
        spells = _assign_spells(segments, need, probabilities, randomness, reference_day)
        achieved = _active_mix(spells, reference_day)
        wanted = np.array([SETTING_MIX_ENGLAND[t] for t in TIERS])
        targets = targets * np.where(achieved > 0, wanted / np.maximum(achieved, 1e-12), 1)
        targets /= targets.sum()
    return spells


def _pool_for_spells(spells: _Spells, ey_at_provider: np.ndarray) -> np.ndarray:
    """Which establishment pool each spell draws from ('' = a setting with no establishment)."""
    tier = np.array(TIERS)[spells.tier]
    phase = np.array(PHASES)[spells.phase]
    school_phase = np.where(np.isin(phase, ("early_years", "primary")), "primary", "secondary")
    pool = np.full(len(tier), "", dtype=object)
    pool[tier == "mainstream"] = school_phase[tier == "mainstream"]
    rp = tier == "mainstream_rp"
    pool[rp] = np.char.add(school_phase[rp].astype(str), "_rp")
    for t in ("special_state", "ap", "fe", "spi"):
        pool[tier == t] = t
    pool[tier == "special_independent"] = "special_independent"
    pool[tier == "ola"] = "eotas"
    ey = tier == "ey"
    pool[ey] = np.where(ey_at_provider[ey], "eyp", "nursery")
    return pool


def _assign_establishments(
    rng: np.random.Generator, spells: _Spells, est: pd.DataFrame
) -> np.ndarray:
    """Establishment id per spell (-1 = none). Larger schools take more children; at a phase
    transfer a special-school pupil usually stays at the same school."""
    n = len(spells.plan)
    pool = _pool_for_spells(spells, rng.random(n) < EARLY_YEARS_PROVIDER_SHARE)
    members = {
        name: np.flatnonzero(est["pool"].to_numpy() == name) for name in est["pool"].unique()
    }
    members["special_independent"] = np.concatenate(
        [members["independent_special"], members["non_maintained_special"]]
    )
    for phase in ("primary", "secondary"):
        members[f"{phase}_rp"] = np.flatnonzero(
            (est["pool"].to_numpy() == phase) & est["rp_kind"].notna().to_numpy()
        )
    u = rng.random(n)
    est_id = np.full(n, -1, dtype=np.int64)
    for name in np.unique(pool):
        if name == "":
            continue
        rows = pool == name
        ids = rng.permutation(members[name])
        est_id[rows] = ids[np.floor(len(ids) * u[rows] ** SCHOOL_SIZE_SKEW).astype(np.int64)]

    reuse_probability = pd.Series(pool).map(SAME_ESTABLISHMENT_AT_TRANSFER).fillna(0.0).to_numpy()
    same_pool_as_previous = np.zeros(n, dtype=bool)
    same_pool_as_previous[1:] = (pool[1:] == pool[:-1]) & (spells.plan[1:] == spells.plan[:-1])
    reuse = spells.at_transfer & same_pool_as_previous & (rng.random(n) < reuse_probability)
    return _carry_forward(est_id, ~reuse)


def _financial_year_of(days: np.ndarray) -> np.ndarray:
    years, months = _year_month(days)
    return years - (months < 4)


def _annual_costs(
    rng: np.random.Generator, tier: np.ndarray, start: np.ndarray, residential: np.ndarray
) -> np.ndarray:
    """Annual cost in pence at the start year's prices; -1 where the setting costs nothing."""
    # One row per COSTS_2024 entry plus a last all-NaN row for settings with no cost.
    table = np.array(list(COSTS_2024.values()) + [(np.nan, np.nan, np.nan)], dtype=np.float64)
    keys = list(COSTS_2024)
    row_of_tier = np.array([keys.index(t) if t in COSTS_2024 else len(keys) for t in TIERS])
    row = row_of_tier[tier]
    row = np.where(residential == "A", keys.index("residential_a"), row)
    row = np.where(residential == "B", keys.index("residential_b"), row)
    low, high, inflation = table[row, 0], table[row, 1], table[row, 2]
    years_from_base = _financial_year_of(start) - COST_BASE_YEAR
    cost = (low + (high - low) * rng.random(len(tier))) * (1 + inflation) ** years_from_base
    return np.where(np.isnan(cost), -1, np.round(cost * 100)).astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Personal data.
# ---------------------------------------------------------------------------------------------
# fmt: off
_FORENAMES_M = (
    "Oliver", "George", "Harry", "Noah", "Jack", "Leo", "Arthur", "Muhammad", "Oscar",
    "Charlie", "Jacob", "Thomas", "Henry", "William", "Alfie", "Joshua", "Freddie", "Archie",
    "Ethan", "Isaac", "Alexander", "Joseph", "Edward", "Samuel", "Max", "Logan", "Lucas",
    "Daniel", "Theo", "Mohammed", "Finley", "Dylan", "Reuben", "Harrison", "Tyler", "Riley",
    "Jayden", "Kai", "Mason", "Adam",
)
_FORENAMES_F = (
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Isabella", "Rosie", "Sophia",
    "Grace", "Freya", "Willow", "Florence", "Emily", "Ella", "Poppy", "Evie", "Elsie",
    "Charlotte", "Evelyn", "Sienna", "Sofia", "Daisy", "Phoebe", "Harper", "Ruby", "Matilda",
    "Maya", "Alice", "Jessica", "Chloe", "Millie", "Holly", "Amber", "Layla", "Zara", "Hannah",
    "Megan", "Erin",
)
_SURNAMES = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
    "Thomas", "Clarke", "Jackson", "Wood", "Harris", "Edwards", "Turner", "Martin", "Cooper",
    "Hill", "Ward", "Hughes", "Moore", "Clark", "King", "Harrison", "Lewis", "Baker", "Lee",
    "Allen", "Morris", "Khan", "Scott", "Watson", "Davis", "Parker", "James", "Bennett",
    "Young", "Phillips", "Richardson", "Mitchell", "Bailey", "Carter", "Cook", "Singh", "Shaw",
    "Bell", "Collins", "Morgan", "Kelly", "Begum",
)
# fmt: on
# Postcode districts of West Berkshire and its edges (Newbury, Thatcham, Hungerford, Pangbourne,
# Theale, Tadley, Tilehurst); inward codes use the letters Royal Mail allows there.
_POSTCODE_DISTRICTS = ("RG14", "RG18", "RG19", "RG17", "RG20", "RG7", "RG8", "RG26", "RG31")
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
_UPN_CHECK_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"
_UPN_LA_CODE = 869  # West Berkshire's DfE LA number


def _upns(child_number: np.ndarray, cohort: np.ndarray) -> np.ndarray:
    """13-character UPNs: check letter + LA + establishment + year + serial, unique per child.

    The 4-digit establishment and 3-digit serial are a bijective scramble of the child number,
    so no two children share a UPN; the check letter follows the DfE algorithm (weights 2-13,
    modulo 23).
    """
    scrambled = (child_number.astype(np.int64) * 7919 + 1_234_567) % 10_000_000
    establishment, serial = scrambled // 1000, scrambled % 1000
    year = (cohort + 4) % 100
    digits_value = ((_UPN_LA_CODE * 10_000 + establishment) * 100 + year) * 1000 + serial
    digits = np.stack([(digits_value // 10 ** (11 - i)) % 10 for i in range(12)], axis=1)
    check = (digits * np.arange(2, 14)).sum(axis=1) % 23
    letters = np.array(list(_UPN_CHECK_LETTERS))[check]
    return np.char.add(letters, np.char.zfill(digits_value.astype(str), 12))


def _postcodes(rng: np.random.Generator, n: int) -> np.ndarray:
    district = np.array(_POSTCODE_DISTRICTS)[rng.integers(0, len(_POSTCODE_DISTRICTS), n)]
    letters = np.array(list(_INWARD_LETTERS))
    inward = np.char.add(
        np.char.add(rng.integers(1, 10, n).astype(str), letters[rng.integers(0, len(letters), n)]),
        letters[rng.integers(0, len(letters), n)],
    )
    return np.char.add(np.char.add(district, " "), inward)


# ---------------------------------------------------------------------------------------------
# The generator.
# ---------------------------------------------------------------------------------------------
def generate(
    out_dir: Path,
    children: int | None = None,
    first_year: int = 2017,
    last_year: int = 2025,
    seed: int = 42,
) -> dict:
    """Write a synthetic council's extracts into `out_dir` and return a summary.

    `children`: active EHC plans at the last January census (January of `last_year + 1`);
    None = the default council calibrated to West Berkshire (DEFAULT_CHILDREN). `first_year`
    and `last_year` are the start years of the first and last financial years. The extract date
    is 31 March of `last_year + 1`. The four extracts replace any earlier ones in `out_dir`
    (including finance files of other years). Returns rows written per file, active plans at
    each census, HNB spend per financial year (and per S251 line), funding and the cumulative
    DSG balance.
    """
    if last_year < first_year:
        raise ValueError("last_year must not be before first_year")
    n_children = DEFAULT_CHILDREN if children is None else int(children)
    if n_children < 1:
        raise ValueError("children must be at least 1")
    out_dir = Path(out_dir)
    timeline = _Timeline(first_year, last_year)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)]
    plans_rng, needs_rng, schools_rng, spells_rng, est_rng, cost_rng, people_rng, ids_rng = streams
    reference_day = _census_day(timeline.last_census_year)

    plans = _simulate_plans(plans_rng, timeline, n_children)
    _assign_needs(needs_rng, plans, reference_day)
    plans_at_census = {
        census_date(y).isoformat(): int(plans.active_on(_census_day(y)).sum())
        for y in timeline.census_years
    }

    ehcp, children_table = _output_plans(plans, timeline, people_rng, ids_rng)
    scale = n_children / DEFAULT_CHILDREN
    est = _build_establishments(schools_rng, scale)
    placements = _placements_table(
        ehcp, timeline, est, spells_rng, est_rng, cost_rng, reference_day
    )

    for folder in ("ehcp", "placements", "finance", "budget"):
        (out_dir / folder).mkdir(parents=True, exist_ok=True)
    for stale in (out_dir / "finance").glob("finance_*.csv"):  # e.g. from another year range
        stale.unlink()
    work_dir = Path(tempfile.mkdtemp(prefix=".synthetic-", dir=out_dir))
    try:
        con = duckdb.connect(str(work_dir / "work.duckdb"))
        con.execute(f"SET temp_directory = {_sql_string(work_dir / 'spill')}")
        con.execute("SET preserve_insertion_order = true")
        con.execute("SET memory_limit = '1500MB'")
        con.execute("SET threads = 2")
        con.execute("SET enable_progress_bar = false")
        widths = _IdWidths.for_extract(ehcp, placements)
        _write_ehcp(con, ehcp, children_table, widths, out_dir / "ehcp" / "ehcp.csv")
        _write_placements(con, placements, est, widths, out_dir / "placements" / "placements.csv")
        ledger = _write_finance(con, placements, est, timeline, seed, widths, out_dir / "finance")
        budget = _write_budget(con, ledger, timeline, out_dir / "budget" / "budget.csv")
        con.close()
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)

    n_children_in_extract = int(ehcp["child_number"].nunique())
    return {
        "out_dir": str(out_dir),
        "seed": seed,
        "extract_date": _to_date(timeline.extract).isoformat(),
        "financial_years": [financial_year_label(y) for y in timeline.financial_years],
        "children_requested": n_children,
        "plans_at_census": plans_at_census,
        "rows": {
            "ehcp": len(ehcp),
            "placements": len(placements),
            "finance": ledger["rows_by_fy"],
            "budget": budget["rows"],
        },
        "children_in_extract": n_children_in_extract,
        "children_with_two_plans": int((ehcp["child_number"].value_counts() > 1).sum()),
        "hnb_spend_by_fy": ledger["hnb_spend_by_fy"],
        "spend_by_fy_and_line": ledger["spend_by_fy_and_line"],
        "funding_by_fy": budget["funding_by_fy"],
        "funding_growth": budget["funding_growth"],
        "cumulative_balance_by_fy": budget["cumulative_balance_by_fy"],
        "establishments": len(est),
    }


def _output_plans(
    plans: _Plans,
    timeline: _Timeline,
    people_rng: np.random.Generator,
    ids_rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The plans the extract holds (active at some point since 1 April of the first year), with
    child and plan numbers in order of start, and the children's personal data."""
    keep = (plans.start <= timeline.extract) & (plans.cease >= timeline.window_start)
    index = np.flatnonzero(keep)
    tiebreak = ids_rng.random(len(index))
    order = np.lexsort((tiebreak, plans.start[index]))
    index = index[order]
    frame = pd.DataFrame(
        {
            "sim_index": index,
            "child_key": plans.child[index],
            "dob": plans.dob[index],
            "start": plans.start[index],
            "cease": plans.cease[index],
            "cease_reason": plans.cease_reason[index],
            "moved_in": plans.moved_in[index],
            "need": plans.need[index],
        }
    )
    frame["plan_number"] = np.arange(1, len(frame) + 1)
    first_seen = frame.drop_duplicates("child_key")
    child_number = pd.Series(
        np.arange(1, len(first_seen) + 1), index=first_seen["child_key"].to_numpy()
    )
    frame["child_number"] = child_number.loc[frame["child_key"].to_numpy()].to_numpy()
    ceased = frame["cease"].to_numpy() <= timeline.extract
    frame["ceased"] = ceased

    n = len(frame)
    weeks = REQUEST_WEEKS_MIN + (REQUEST_WEEKS_MAX - REQUEST_WEEKS_MIN) * people_rng.beta(2, 2, n)
    frame["request"] = frame["start"].to_numpy() - np.round(weeks * 7).astype(np.int64)
    has_secondary = people_rng.random(n) < SECONDARY_NEED_SHARE
    secondary_weights = np.array([SECONDARY_NEED_WEIGHTS[x] for x in NEEDS], dtype=np.float64)
    secondary = _categorical(people_rng, secondary_weights[None, :], np.zeros(n, dtype=np.int64))
    secondary = np.where(
        secondary == frame["need"].to_numpy(), (secondary + 5) % len(NEEDS), secondary
    )
    frame["secondary_need"] = np.where(has_secondary, secondary, -1)

    n_children = len(first_seen)
    sex_codes = np.array(list(SEX_SHARES))
    sex = sex_codes[
        _categorical(
            people_rng, np.array([list(SEX_SHARES.values())]), np.zeros(n_children, dtype=np.int64)
        )
    ]
    boys = people_rng.integers(0, len(_FORENAMES_M), n_children)
    girls = people_rng.integers(0, len(_FORENAMES_F), n_children)
    as_girl = (sex == "F") | ((sex == "U") & (people_rng.random(n_children) < 0.5))
    forename = np.where(as_girl, np.array(_FORENAMES_F)[girls], np.array(_FORENAMES_M)[boys])
    child_dob = first_seen["dob"].to_numpy()
    children = pd.DataFrame(
        {
            "child_number": np.arange(1, n_children + 1),
            "sex": sex,
            "forename": forename,
            "surname": np.array(_SURNAMES)[people_rng.integers(0, len(_SURNAMES), n_children)],
            "upn": _upns(np.arange(1, n_children + 1), _academic_cohort(child_dob)),
            "postcode": _postcodes(people_rng, n_children),
        }
    )
    return frame, children


def _placements_table(
    ehcp: pd.DataFrame,
    timeline: _Timeline,
    est: pd.DataFrame,
    spells_rng: np.random.Generator,
    est_rng: np.random.Generator,
    cost_rng: np.random.Generator,
    reference_day: int,
) -> pd.DataFrame:
    """One row per placement spell of the extract's plans that is open on or after 1 April of
    the first year, ordered by child and start."""
    dob = ehcp["dob"].to_numpy()
    start = ehcp["start"].to_numpy()
    end = np.minimum(ehcp["cease"].to_numpy(), timeline.extract)
    spells = _build_spells(spells_rng, dob, start, end, ehcp["need"].to_numpy(), reference_day)
    est_id = _assign_establishments(est_rng, spells, est)

    tier_names = np.array(TIERS)[spells.tier]
    n = len(tier_names)
    independent = tier_names == "special_independent"
    residential_draw = cost_rng.random(n)
    residential = np.where(
        independent & (residential_draw < RESIDENTIAL_SHARE),
        np.where(residential_draw < RESIDENTIAL_SHARE * RESIDENTIAL_B_SHARE, "B", "A"),
        "",
    )
    cost = _annual_costs(cost_rng, spells.tier, spells.start, residential)

    plan_ended = ehcp["ceased"].to_numpy()[spells.plan]
    last_of_plan = np.ones(n, dtype=bool)
    last_of_plan[:-1] = spells.plan[1:] != spells.plan[:-1]
    open_ended = last_of_plan & ~plan_ended

    table = pd.DataFrame(
        {
            "plan_row": spells.plan,
            "child_number": ehcp["child_number"].to_numpy()[spells.plan],
            "tier": spells.tier,
            "est_id": est_id,
            "start": spells.start,
            "end": spells.end,
            "open_ended": open_ended,
            "residential": residential,
            "cost_pence": cost,
        }
    )
    table = table[(table["end"] >= timeline.window_start) | table["open_ended"]]
    table = table.sort_values(["child_number", "start"], kind="stable").reset_index(drop=True)
    table["placement_number"] = np.arange(1, len(table) + 1)
    return table


# ---------------------------------------------------------------------------------------------
# Writers (DuckDB COPY: ISO dates, 2-dp decimals, empty for missing).
# ---------------------------------------------------------------------------------------------
def _id_width(count: int) -> int:
    return max(7, len(str(count)))


@dataclass(frozen=True)
class _IdWidths:
    """Digits in child, plan and placement ids (7, or more for very large councils)."""

    child: int
    plan: int
    placement: int

    @classmethod
    def for_extract(cls, ehcp: pd.DataFrame, placements: pd.DataFrame) -> _IdWidths:
        return cls(
            _id_width(int(ehcp["child_number"].max())),
            _id_width(int(ehcp["plan_number"].max())),
            _id_width(int(placements["placement_number"].max()) if len(placements) else 1),
        )


def _sql_string(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _copy(con: duckdb.DuckDBPyConnection, query: str, path: Path) -> int:
    """Write a query to CSV (header, comma); returns the number of rows written."""
    return con.execute(f"COPY ({query}) TO {_sql_string(path)} (HEADER, DELIMITER ',')").fetchone()[
        0
    ]


def _date_sql(column: str) -> str:
    return f"(DATE '1970-01-01' + {column}::INTEGER)"


def _write_ehcp(
    con, ehcp: pd.DataFrame, children: pd.DataFrame, widths: _IdWidths, path: Path
) -> None:
    frame = ehcp[
        [
            "plan_number",
            "child_number",
            "dob",
            "start",
            "cease",
            "cease_reason",
            "moved_in",
            "need",
            "secondary_need",
            "request",
            "ceased",
        ]
    ].copy()
    frame["need"] = pd.Categorical.from_codes(frame["need"], NEEDS)
    frame["secondary_need"] = pd.Categorical.from_codes(frame["secondary_need"], NEEDS)
    con.register("plans_df", frame)
    con.register("children_df", children)
    _copy(
        con,
        f"""
        SELECT 'C' || lpad(p.child_number::VARCHAR, {widths.child}, '0') AS child_id,
               'P' || lpad(p.plan_number::VARCHAR, {widths.plan}, '0') AS plan_id,
               {_date_sql("p.dob")} AS date_of_birth,
               c.sex,
               p.need::VARCHAR AS primary_need,
               p.secondary_need::VARCHAR AS secondary_need,
               CASE WHEN NOT p.moved_in THEN {_date_sql("p.request")} END AS request_date,
               {_date_sql("p.start")} AS plan_start_date,
               CASE WHEN p.ceased THEN {_date_sql("p.cease")} END AS plan_cease_date,
               CASE WHEN p.ceased THEN p.cease_reason END AS cease_reason,
               c.upn, c.forename, c.surname, c.postcode
        FROM plans_df p JOIN children_df c USING (child_number)
        ORDER BY p.plan_number""",
        path,
    )
    con.unregister("plans_df")
    con.unregister("children_df")


def _establishment_frame(est: pd.DataFrame) -> pd.DataFrame:
    frame = est.reset_index()[
        [
            "est_id",
            "urn",
            "ukprn",
            "sen_setting",
            "name",
            "type_code",
            "rp_kind",
            "s251_line",
            "pool",
        ]
    ]
    return frame


def _write_placements(
    con, placements: pd.DataFrame, est: pd.DataFrame, widths: _IdWidths, path: Path
) -> None:
    frame = placements.copy()
    frame["tier"] = pd.Categorical.from_codes(frame["tier"], TIERS)
    con.register("placements_df", frame)
    con.register("est_df", _establishment_frame(est))
    setting_case = " ".join(f"WHEN '{t}' THEN '{c}'" for t, c in SETTING_CODE_BY_TIER.items())
    _copy(
        con,
        f"""
        SELECT 'PL' || lpad(p.placement_number::VARCHAR, {widths.placement}, '0') AS placement_id,
               'C' || lpad(p.child_number::VARCHAR, {widths.child}, '0') AS child_id,
               e.urn, e.ukprn,
               coalesce(e.sen_setting, CASE p.tier::VARCHAR {setting_case} END) AS sen_setting,
               CASE WHEN e.type_code IS NOT NULL THEN e.name END AS establishment_name,
               e.type_code AS establishment_type_code,
               CASE WHEN p.tier::VARCHAR = 'mainstream_rp' AND e.rp_kind = 'UNIT' THEN 'Y'
                    WHEN p.tier::VARCHAR IN ('mainstream', 'mainstream_rp') THEN 'N' END
                   AS sen_unit,
               CASE WHEN p.tier::VARCHAR = 'mainstream_rp' AND e.rp_kind = 'RP' THEN 'Y'
                    WHEN p.tier::VARCHAR IN ('mainstream', 'mainstream_rp') THEN 'N' END
                   AS resourced_provision,
               nullif(p.residential, '') AS residential,
               {_date_sql("p.start")} AS start_date,
               CASE WHEN NOT p.open_ended THEN {_date_sql('p."end"')} END AS end_date,
               CASE WHEN p.cost_pence >= 0
                    THEN (p.cost_pence::DECIMAL(18, 0) / 100)::DECIMAL(18, 2) END
                   AS annual_cost
        FROM placements_df p LEFT JOIN est_df e ON e.est_id = p.est_id
        ORDER BY p.placement_number""",
        path,
    )


# Ledger lines: ids, S251 line, cost centre and description stem.
_LEDGER_LINES = {
    "1.0.2": ("HN100", "Place funding"),
    "1.2.1": ("HN110", "Top-up funding"),
    "1.2.2": ("HN120", "Top-up funding"),
    "1.2.3": ("HN130", "Placement fees"),
    "1.2.4": ("HN140", "Additional targeted mainstream funding"),
    "1.2.5": ("HN150", "SEN support service"),
    "1.2.6": ("HN160", "Hospital education"),
    "1.2.7": ("HN170", "EOTAS package"),
    "1.2.8": ("HN180", "Support for inclusion"),
    "1.2.11": ("HN211", "Direct payments"),
    "1.2.13": ("HN213", "Therapy services"),
    "1.4.11": ("TR411", "SEN home to school transport"),
}
_NOT_HNB_LINES = ("1.4.11",)
# Ledger row kinds (ordering within a posting month follows this).
_KIND_PAYMENT, _KIND_DUPLICATE, _KIND_CREDIT, _KIND_BALANCE = 0, 1, 2, 3
_KIND_SUFFIX = {
    _KIND_PAYMENT: "",
    _KIND_DUPLICATE: " (duplicate invoice)",
    _KIND_CREDIT: " - credit note: duplicate invoice refunded",
    _KIND_BALANCE: " - balance of invoice",
}


def _months_frame(timeline: _Timeline) -> pd.DataFrame:
    first = np.datetime64(f"{timeline.first_year}-04", "M")
    last = np.datetime64(f"{timeline.last_year + 1}-03", "M")
    months = np.arange(first, last + 1)
    starts = months.astype("datetime64[D]").astype(np.int64)
    ends = (months + 1).astype("datetime64[D]").astype(np.int64) - 1
    fy = _financial_year_of(starts)
    return pd.DataFrame(
        {
            "month_index": np.arange(len(months)),
            "month_start": starts,
            "month_end": ends,
            "days": ends - starts + 1,
            "fy": fy,
            "transport_factor": (1 + TRANSPORT_INFLATION) ** (fy - COST_BASE_YEAR),
        }
    )


def _payees(est: pd.DataFrame) -> pd.DataFrame:
    """Everyone the ledger pays: establishments/providers, central suppliers, transport firms."""
    frame = _establishment_frame(est)[["est_id", "urn", "ukprn", "name"]].rename(
        columns={"est_id": "payee_id"}
    )
    extra = [(line, s) for line, names in _CENTRAL_SUPPLIERS.items() if names for s in names]
    extra += [("1.4.11", s) for s in _TRANSPORT_SUPPLIERS]
    more = pd.DataFrame(
        {
            "payee_id": np.arange(len(frame), len(frame) + len(extra)),
            "urn": pd.array([None] * len(extra), dtype="Int64"),
            "ukprn": pd.array([None] * len(extra), dtype="Int64"),
            "name": [s for _, s in extra],
        }
    )
    more["line"] = [line for line, _ in extra]
    frame["line"] = None
    return pd.concat([frame, more], ignore_index=True)


def _write_finance(
    con,
    placements: pd.DataFrame,
    est: pd.DataFrame,
    timeline: _Timeline,
    seed: int,
    widths: _IdWidths,
    folder: Path,
) -> dict:
    """Build the ledger in DuckDB and write one CSV per financial year (by posting date)."""
    months = _months_frame(timeline)
    last_month = int(months["month_index"].max())
    payees = _payees(est)
    lines = pd.DataFrame(
        {
            "line_id": np.arange(len(_LEDGER_LINES)),
            "s251_line": list(_LEDGER_LINES),
            "cost_centre": [v[0] for v in _LEDGER_LINES.values()],
            "label": [v[1] for v in _LEDGER_LINES.values()],
        }
    )
    line_id = {line: i for i, line in enumerate(_LEDGER_LINES)}
    est_frame = _establishment_frame(est)
    spells = placements[
        [
            "placement_number",
            "child_number",
            "tier",
            "est_id",
            "start",
            "end",
            "open_ended",
            "cost_pence",
        ]
    ].copy()
    spells["end_or_extract"] = np.where(spells["open_ended"], timeline.extract, spells["end"])
    spells["line_id"] = (
        est_frame["s251_line"].map(line_id).to_numpy()[spells["est_id"].clip(lower=0)]
    )
    spells["place_rate"] = _place_funding_rate(est_frame).to_numpy()[spells["est_id"].clip(lower=0)]
    spells.loc[spells["est_id"] < 0, ["line_id", "place_rate"]] = -1
    transported = np.isin(
        np.array(TIERS)[spells["tier"]], ("special_state", "special_independent", "ap", "spi")
    )
    spells["transported"] = transported
    # At a school with a resourced provision only the pupils placed in it occupy funded places.
    spells["counts_for_place"] = spells["tier"] != TIERS.index("mainstream")

    con.register("spells_src", spells)
    con.register("months_src", months)
    con.register("payees_src", payees)
    con.register("lines_src", lines)
    con.execute("CREATE TABLE spells AS SELECT * FROM spells_src")
    con.execute("CREATE TABLE months AS SELECT * FROM months_src")
    con.execute("CREATE TABLE payees AS SELECT * FROM payees_src")
    con.execute("CREATE TABLE lines AS SELECT * FROM lines_src")
    for name in ("spells_src", "months_src", "payees_src", "lines_src"):
        con.unregister(name)

    con.execute("""
        CREATE TABLE ledger (
            posting_month INTEGER, service_month INTEGER, line_id INTEGER, payee_id BIGINT,
            child_number BIGINT, placement_number BIGINT, show_placement BOOLEAN,
            kind INTEGER, amount_pence BIGINT)""")
    _insert_placement_payments(con, seed, last_month, line_id)
    _insert_transport(con, seed, line_id["1.4.11"])
    _insert_place_funding(con, timeline, line_id["1.0.2"])
    _insert_central_lines(con, timeline, payees, est_frame, line_id)

    _write_ledger_files(con, timeline, widths, folder)
    rows_by_fy = {
        financial_year_label(int(fy)): int(n)
        for fy, n in con.execute("""
            SELECT m.fy, count(*) FROM ledger l JOIN months m ON m.month_index = l.posting_month
            GROUP BY ALL ORDER BY ALL""").fetchall()
    }

    by_line = con.execute("""
        SELECT pm.fy, ln.s251_line, sum(l.amount_pence) AS pence
        FROM ledger l JOIN months pm ON pm.month_index = l.posting_month
        JOIN lines ln ON ln.line_id = l.line_id
        GROUP BY ALL ORDER BY ALL""").fetchall()
    spend_by_fy_and_line: dict[str, dict[str, float]] = {}
    hnb_by_fy: dict[str, float] = {financial_year_label(fy): 0.0 for fy in timeline.financial_years}
    for fy, line, pence in by_line:
        label = financial_year_label(int(fy))
        spend_by_fy_and_line.setdefault(label, {})[line] = int(pence) / 100
        if line not in _NOT_HNB_LINES:
            hnb_by_fy[label] = round(hnb_by_fy[label] + int(pence) / 100, 2)
    deductions = _place_deductions(con, timeline)
    return {
        "rows_by_fy": rows_by_fy,
        "hnb_spend_by_fy": hnb_by_fy,
        "spend_by_fy_and_line": spend_by_fy_and_line,
        "place_deductions": deductions,
    }


def _write_ledger_files(con, timeline: _Timeline, widths: _IdWidths, folder: Path) -> None:
    """One CSV per financial year of posting, rows in posting order, transaction ids running on
    across the years. Each year is sorted once into a work table whose row ids then number the
    transactions (cheaper than a window function); descriptions come from a small lookup."""
    suffix_case = " ".join(f"WHEN {k} THEN '{v}'" for k, v in _KIND_SUFFIX.items())
    con.execute(f"""
        CREATE TABLE descriptions AS
        SELECT ln.line_id, m.month_index AS service_month, k.kind,
               ln.label || ' ' || strftime(DATE '1970-01-01' + m.month_start::INTEGER, '%b %Y')
                   || CASE k.kind {suffix_case} END AS description
        FROM lines ln, months m, (SELECT unnest(range({len(_KIND_SUFFIX)})) AS kind) k""")
    order = "posting_month, line_id, payee_id, child_number, placement_number, service_month, kind"
    offset = 0
    for fy in timeline.financial_years:
        first_month, last_month = con.execute(
            f"SELECT min(month_index), max(month_index) FROM months WHERE fy = {fy}"
        ).fetchone()
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE year_ledger AS
            SELECT * FROM ledger WHERE posting_month BETWEEN {first_month} AND {last_month}
            ORDER BY {order}""")
        written = _copy(
            con,
            f"""
            SELECT 'T' || lpad(({offset} + l.rowid + 1)::VARCHAR, 9, '0') AS transaction_id,
                   DATE '1970-01-01' + pm.month_end::INTEGER AS posting_date,
                   (l.amount_pence::DECIMAL(18, 0) / 100)::DECIMAL(18, 2) AS amount,
                   ln.s251_line,
                   CASE WHEN l.child_number IS NOT NULL
                        THEN 'C' || lpad(l.child_number::VARCHAR, {widths.child}, '0') END
                       AS child_id,
                   CASE WHEN l.show_placement
                        THEN 'PL' || lpad(l.placement_number::VARCHAR, {widths.placement}, '0') END
                       AS placement_id,
                   py.urn AS provider_urn,
                   py.ukprn AS provider_ukprn,
                   py.name AS supplier_name,
                   ln.cost_centre,
                   d.description
            FROM year_ledger l
            JOIN months pm ON pm.month_index = l.posting_month
            JOIN lines ln ON ln.line_id = l.line_id
            JOIN descriptions d
              ON d.line_id = l.line_id AND d.service_month = l.service_month AND d.kind = l.kind
            LEFT JOIN payees py ON py.payee_id = l.payee_id
            ORDER BY l.rowid""",
            folder / f"finance_{financial_year_label(fy)}.csv",
        )
        offset += int(written)
    con.execute("DROP TABLE year_ledger")


def _place_funding_rate(est_frame: pd.DataFrame) -> pd.Series:
    """Yearly place funding per occupied place: >0 paid by the council (maintained special,
    PRU, maintained RP/unit), <0 deducted by the DfE (academies, free schools, FE), 0 none."""
    type_code = est_frame["type_code"].fillna(-1).astype(int)
    has_rp = est_frame["rp_kind"].notna()
    rate = pd.Series(0, index=est_frame.index, dtype=np.int64)
    rate[type_code.isin((7, 12, 14))] = PLACE_RATE_SPECIAL
    rate[type_code.isin((1, 2, 3, 5)) & has_rp] = PLACE_RATE_RP_AND_FE
    rate[type_code.isin((33, 36, 44, 38, 42, 43))] = -PLACE_RATE_SPECIAL
    rate[type_code.isin((28, 34, 35)) & has_rp] = -PLACE_RATE_RP_AND_FE
    rate[type_code.isin((18, 39, 45, 46))] = -PLACE_RATE_RP_AND_FE
    return rate


def _insert_placement_payments(con, seed: int, last_month: int, line_id: dict[str, int]) -> None:
    """Monthly payments per costed placement, with late, duplicate/credited and part payments."""
    u = "(hash(s.placement_number, m.month_index, {seed}, {salt}) % 1000000) / 1000000.0"
    late, dup, part, delay = (u.format(seed=seed, salt=k) for k in (1, 2, 3, 4))
    con.execute(f"""
        CREATE TEMP VIEW payments AS
        SELECT s.placement_number, s.child_number, s.est_id AS payee_id, s.line_id,
               m.month_index AS service_month,
               round(s.cost_pence / 12.0
                     * (least(s.end_or_extract, m.month_end) - greatest(s.start, m.month_start) + 1)
                     / m.days)::BIGINT AS pence,
               CASE WHEN {late} < {LATE_PAYMENT_SHARE}
                    THEN least(m.month_index + 1 + ({delay} < 0.5)::INTEGER, {last_month})
                    ELSE m.month_index END AS paid_month,
               {dup} < {DUPLICATE_INVOICE_SHARE} AND m.month_index < {last_month} AS duplicated,
               {part} < {PART_PAYMENT_SHARE} AND m.month_index < {last_month} AS part_paid
        FROM spells s JOIN months m
          ON s.start <= m.month_end AND s.end_or_extract >= m.month_start
        WHERE s.cost_pence >= 0""")
    con.execute(f"""
        INSERT INTO ledger
        SELECT paid_month, service_month, line_id, payee_id, child_number, placement_number, TRUE,
               {_KIND_PAYMENT}, CASE WHEN part_paid THEN pence - pence * 3 // 10 ELSE pence END
        FROM payments
        UNION ALL
        SELECT least(paid_month + 1, {last_month}), service_month, line_id, payee_id, child_number,
               placement_number, TRUE, {_KIND_BALANCE}, pence * 3 // 10
        FROM payments WHERE part_paid
        UNION ALL
        SELECT paid_month, service_month, line_id, payee_id, child_number, placement_number, TRUE,
               {_KIND_DUPLICATE}, pence
        FROM payments WHERE duplicated
        UNION ALL
        SELECT least(paid_month + 1, {last_month}), service_month, line_id, payee_id, child_number,
               placement_number, TRUE, {_KIND_CREDIT}, -pence
        FROM payments WHERE duplicated""")


def _insert_transport(con, seed: int, transport_line: int) -> None:
    """SEN transport (S251 1.4.11, not HNB) for some special/AP/SPI placements, paid monthly."""
    low, high = TRANSPORT_COST_2024
    con.execute(f"""
        INSERT INTO ledger
        SELECT m.month_index, m.month_index, {transport_line},
               (SELECT min(payee_id) FROM payees WHERE line = '1.4.11')
                   + hash(s.child_number, {seed}, 11) % {len(_TRANSPORT_SUPPLIERS)},
               s.child_number, s.placement_number, FALSE, {_KIND_PAYMENT},
               round(({low} + hash(s.placement_number, {seed}, 12) % {(high - low)}) * 100
                     * m.transport_factor / 12.0
                     * (least(s.end_or_extract, m.month_end) - greatest(s.start, m.month_start) + 1)
                     / m.days)::BIGINT
        FROM spells s JOIN months m
          ON s.start <= m.month_end AND s.end_or_extract >= m.month_start
        WHERE s.transported
          AND (hash(s.placement_number, {seed}, 10) % 1000) / 1000.0 < {TRANSPORT_SHARE}""")


def _insert_place_funding(con, timeline: _Timeline, place_line: int) -> None:
    """1.0.2: monthly place funding to maintained special schools, PRUs and maintained RPs for
    the places occupied on 1 April (plus a margin), at the national place rates."""
    con.execute(f"""
        INSERT INTO ledger
        WITH occupied AS (
            SELECT m.fy, s.est_id, any_value(s.place_rate) AS rate, count(*) AS pupils
            FROM months m
            JOIN spells s ON s.start <= m.month_start AND s.end_or_extract >= m.month_start
            WHERE month(DATE '1970-01-01' + m.month_start::INTEGER) = 4
              AND s.place_rate > 0 AND s.counts_for_place
            GROUP BY ALL
        )
        SELECT m.month_index, m.month_index, {place_line}, o.est_id, NULL, NULL, FALSE,
               {_KIND_PAYMENT},
               (ceil(o.pupils * {COMMISSIONED_PLACE_MARGIN}) * o.rate * 100 / 12)::BIGINT
        FROM occupied o JOIN months m ON m.fy = o.fy""")


def _place_deductions(con, timeline: _Timeline) -> dict[str, float]:
    """Academy, free school and FE places the DfE funds directly, deducted from the allocation."""
    rows = con.execute("""
        SELECT m.fy, sum(-s.place_rate) AS pounds
        FROM months m
        JOIN spells s ON s.start <= m.month_start AND s.end_or_extract >= m.month_start
        WHERE month(DATE '1970-01-01' + m.month_start::INTEGER) = 4 AND s.place_rate < 0
          AND s.counts_for_place
        GROUP BY ALL""").fetchall()
    found = {int(fy): float(p) * COMMISSIONED_PLACE_MARGIN for fy, p in rows}
    return {
        financial_year_label(fy): round(found.get(fy, 0.0), 2) for fy in timeline.financial_years
    }


def _insert_central_lines(
    con, timeline: _Timeline, payees: pd.DataFrame, est_frame: pd.DataFrame, line_id: dict[str, int]
) -> None:
    """HNB spend tied to no child: CENTRAL_SHARE of the last year's HNB, growing CENTRAL_GROWTH
    a year, paid monthly to central services and termly (Apr, Sep, Jan) to mainstream schools
    for additional targeted funding (1.2.4)."""
    spend_by_fy = dict(
        con.execute(f"""
        SELECT m.fy, sum(l.amount_pence)
        FROM ledger l JOIN months m ON m.month_index = l.posting_month
        WHERE l.line_id <> {line_id["1.4.11"]} GROUP BY ALL""").fetchall()
    )
    last_fy = timeline.last_year
    central_last_pence = float(spend_by_fy.get(last_fy, 0)) * CENTRAL_SHARE / (1 - CENTRAL_SHARE)
    months = con.execute("""SELECT month_index, fy, month(DATE '1970-01-01' + month_start::INTEGER)
                            AS calendar_month FROM months ORDER BY month_index""").df()
    mainstream = est_frame[
        est_frame["pool"].isin(("primary", "secondary"))
        & est_frame["type_code"].isin((1, 2, 3, 5, 28, 34, 35))
    ]
    targeted_schools = mainstream["est_id"].to_numpy()[: max(1, len(mainstream) // 10)]
    frames = []
    for line, share in CENTRAL_LINE_SHARES.items():
        if line == "1.2.4":
            recipients, pay_months = targeted_schools, (4, 9, 1)
        else:
            recipients = payees.loc[payees["line"] == line, "payee_id"].to_numpy()
            pay_months = tuple(range(1, 13))
        paid = months[months["calendar_month"].isin(pay_months)]
        annual = central_last_pence * share / CENTRAL_GROWTH ** (last_fy - paid["fy"].to_numpy())
        per_payment = np.round(annual / len(pay_months) / len(recipients)).astype(np.int64)
        frames.append(
            pd.DataFrame(
                {
                    "posting_month": np.repeat(paid["month_index"].to_numpy(), len(recipients)),
                    "line_id": line_id[line],
                    "payee_id": np.tile(recipients, len(paid)).astype(np.int64),
                    "amount_pence": np.repeat(per_payment, len(recipients)),
                }
            )
        )
    central = pd.concat(frames, ignore_index=True)
    con.register("central_src", central)
    con.execute(f"""
        INSERT INTO ledger
        SELECT posting_month, posting_month, line_id, payee_id, NULL, NULL, FALSE, {_KIND_PAYMENT},
               amount_pence
        FROM central_src""")
    con.unregister("central_src")


def _solve_funding(spend: np.ndarray, brought_forward: float) -> tuple[np.ndarray, float]:
    """Funding per year: a share of the year's spend, FIRST_YEAR_FUNDING_RATIO in the first year
    and falling by one factor a year, solved so that the period ends with a cumulative balance of
    -DEFICIT_SHARE of the last year's funding (over two or three years that takes a factor well
    below 1: funding may fall while spend grows). Returns the funding and the growth the next
    year's allocation takes."""
    k = np.arange(len(spend))

    def end_gap(decline: float) -> float:
        funding = spend * FIRST_YEAR_FUNDING_RATIO * decline**k
        return brought_forward + (funding - spend).sum() + DEFICIT_SHARE * funding[-1]

    low, high = FUNDING_RATIO_DECLINE_BOUNDS
    if len(spend) > 1 and end_gap(low) < 0 < end_gap(high):
        for _ in range(100):
            mid = (low + high) / 2
            low, high = (mid, high) if end_gap(mid) < 0 else (low, mid)
        funding = spend * FIRST_YEAR_FUNDING_RATIO * ((low + high) / 2) ** k
    else:
        # too few years (or extreme spend) to solve for the decline: one share for every year
        share = (spend.sum() - brought_forward) / (spend.sum() + DEFICIT_SHARE * spend[-1])
        funding = spend * share
    # the next year's allocation: the period's mean growth (the last year's step would copy the
    # caseload's lumps), never a cut in cash
    growth = (
        max(1.0, float(funding[-1] / funding[0]) ** (1 / (len(funding) - 1)))
        if len(funding) > 1
        else 1.07
    )
    return funding, growth


def _write_budget(con, ledger: dict, timeline: _Timeline, path: Path) -> dict:
    """Funding lines per financial year and for the next year, solved for the deficit path."""
    years = list(timeline.financial_years)
    labels = [financial_year_label(y) for y in years]
    spend = np.array([ledger["hnb_spend_by_fy"][label] for label in labels])
    deductions = np.array([ledger["place_deductions"][label] for label in labels])
    k = np.arange(len(years))
    brought_forward = round(BALANCE_BROUGHT_FORWARD_SHARE * spend[0], 2)
    funding, growth = _solve_funding(spend, brought_forward)
    block_transfer_year = k % 3 == 1
    la_contribution = np.zeros(len(years))
    if len(years) >= 3:
        la_contribution[-2] = round(0.005 * funding[-2], -3)
    # funding = allocation * (1 + transfer + other) - deductions + la_contribution
    multiplier = 1 + OTHER_INCOME_SHARE + BLOCK_TRANSFER_SHARE * block_transfer_year
    allocation = np.round((funding + deductions - la_contribution) / multiplier, 2)
    block_transfer = np.round(allocation * BLOCK_TRANSFER_SHARE * block_transfer_year, 2)
    other_income = np.round(allocation * OTHER_INCOME_SHARE, 2)
    funding = allocation - deductions + block_transfer + la_contribution + other_income
    balance = brought_forward + np.cumsum(funding - spend)

    rows = []
    for i, label in enumerate(labels):
        rows += [
            (label, "hnb_allocation", allocation[i]),
            (label, "place_deductions", deductions[i]),
            (label, "block_transfer", block_transfer[i]),
            (label, "la_contribution", la_contribution[i]),
            (label, "other_income", other_income[i]),
        ]
        if i == 0:
            rows.append((label, "balance_brought_forward", brought_forward))
    # The next year's allocation is published in December, before the year starts; the other
    # lines are the council's planning assumptions (no transfer or contribution agreed yet).
    next_label = financial_year_label(timeline.last_year + 1)
    next_allocation = round(allocation[-1] * growth, 2)
    rows += [
        (next_label, "hnb_allocation", next_allocation),
        (next_label, "place_deductions", round(deductions[-1] * NEXT_YEAR_DEDUCTIONS_GROWTH, 2)),
        (next_label, "block_transfer", 0.0),
        (next_label, "la_contribution", 0.0),
        (next_label, "other_income", round(next_allocation * OTHER_INCOME_SHARE, 2)),
    ]
    frame = pd.DataFrame(rows, columns=["financial_year", "line", "amount"])
    frame["pence"] = np.round(frame["amount"].astype(float) * 100).astype(np.int64)
    con.register("budget_df", frame)
    _copy(
        con,
        """SELECT financial_year, line, (pence::DECIMAL(18, 0) / 100)::DECIMAL(18, 2) AS amount
                  FROM budget_df""",
        path,
    )
    con.unregister("budget_df")
    return {
        "rows": len(frame),
        "funding_growth": round(growth, 4),
        "funding_by_fy": {
            label: round(float(f), 2) for label, f in zip(labels, funding, strict=False)
        },
        "cumulative_balance_by_fy": {
            label: round(float(b), 2) for label, b in zip(labels, balance, strict=False)
        },
    }
