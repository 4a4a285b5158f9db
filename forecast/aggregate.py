"""Aggregate mode: every council forecast from the DfE's published counts, learning across councils.

A council's own three or five years are a poor guide to its next three: measured on the
published series, councils' growth regresses towards the national growth, one-year jumps (a
data clean-up, the 2023 move from aggregate to person-level returns) partly reverse, and
giving every council the national rate beats every council's own trend. So the total is

    log N(T + h) = log N(T) + h × g + min(h, 3) × (b1 × d1 + b3 × d3)

where g is England's growth a year — half its last year's, half the mean of its last three (as
exponential smoothing leans on the latest year; growth turned with the 2014 reforms) — d1 the
council's growth in excess of
England's in its last year and d3 over its last three years (a year's worth), and b1, b3 how
much of a council's excess persisted: estimated at each origin by robust (Huber), size-weighted
least squares across every council and every earlier origin whose outcome was known by then,
1 to 3 years ahead (beyond those years, nothing says the excess goes on: England's rate alone).
Near zero, the council gets the national rate; a short history (a council that is new after a
boundary change, or an origin with a year or two behind it) has no excess to carry and falls back
to the national rate.

Provision types: the council's mix on the last census is held. Moving it with England's mix trend
(its persistence fitted like the total's), or with the council's own excess over it, was measured
and lost: the published mix breaks as types enter the series (post-16 from 2015, NEET and unknown
from 2019) and at 2023, and such trends do not carry.

Intervals come from what such forecasts missed before. The council's part: the errors of the
latest origin's forecasts one year ahead against what happened, net of England's growth and
divided by each council's own volatility (the spread of its yearly excess growth, shrunk towards
the typical council's), widened to each horizon as errors widened over every earlier origin;
scaled back by the council's volatility (a council's own five years are shrunk hard towards the
typical council's: they say little about its next miss). England's part — common to every
council, so it moves whole origins — is a random walk about England's rate plus the error of that
rate as a weighted mean of three years (sd × √(h + h²/years)), its step sized from how England's
rate missed England's next year at every earlier origin (their mean absolute size, as a normal
sd: the root mean square let the one miss of the 2014 reforms hold every later origin wide): the
spread of three yearly growths was held too narrow where growth was steady (2020–2022, before
the 2023 break) and too wide where it trended (2017). Weighting recent misses more, with the
half-life chosen by likelihood from the misses before each origin, chose no decay at every
origin. Per-origin coverage is dominated by this common miss, which is one draw per origin.
Shares likewise from their
own latest errors, once the provision type is established in the series (before then, every
type's), their long right tail held at its own p10 and p90 (SHARE_ERROR_TAIL). Each simulated
path draws one quantile per part and carries it through every year
ahead; the errors spread the paths without moving their mean. A provision type's paths vary with
the total's and with its share, and have the mean the total gives it, so `_central` (the mean of
paths) adds up; the total and each type have their own quantiles.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from .backtest import HORIZONS, RECORD_COLUMNS, baseline_records, spend_record, summarise
from .baselines import GROWTH_YEARS
from .published import (
    NATIONAL,
    PROVISIONS,
    CouncilHistory,
    PublishedDataError,
    as_of,
    load_published,
    published_files,
)

MODEL = "pooled_growth"
FIRST_ORIGIN = (
    2016  # the first with three earlier origins' outcomes to learn from (data start 2010)
)
HISTORY_YEARS = 4  # a council is scored at an origin when it has the origin and 3 years before it
VOLATILITY_YEARS = 5  # yearly excess growths behind a council's volatility
# years' worth of the typical council's volatility behind each council's: its own five years
# say little about its next miss (more shrinkage scored better across every origin, 8 against 3)
VOLATILITY_PRIOR = 8.0
SHARE_VOLATILITY_PRIOR = 3.0  # the same for its share of each provision type
# a series that never moved may still move: the least spread a council's total, and its share
# of a provision type (often a handful of plans, or none yet), is given
VOLATILITY_FLOOR = 0.01
SHARE_VOLATILITY_FLOOR = 0.05
# a handful of plans going 0 → 5 → 1 swings a log share by more than the council's future can:
# no share is held to move more unpredictably than this
SHARE_VOLATILITY_CEILING = 0.5
ESTABLISHED_SHARE = 0.002  # a provision type with less of England's plans is not yet in the series
# The spread of councils' errors is that of the latest origin with a known outcome, one year ahead;
# further ahead it widens as errors widened from one year to h over every earlier origin. Errors of
# older origins (the 2014 reforms' years) held every later interval as wide as those years were.
ERROR_ORIGINS = 1
# England's rate leans towards its last year: growth turned with the 2014 reforms and turns again
# (a weighted mean, as exponential smoothing would; 0 is the three-year mean councils use)
RECENT_WEIGHT = 0.5
# A council's errors are scaled by its volatility over the typical council's, at most this
# many times: one year's fall (Newham, 2,705 → 1,199 plans in 2025) made its volatility 7× the
# typical, its paths' log spread several units 16 years out, and the mean the paths are held
# to then rested on a handful of them: central 3,660 plans for 2041 above its p90 of 1,076,
# and p90 falling as the years went on. On the backtest of every origin only 2016's 1-year
# coverage moves (55.3 → 55.9 %); point forecasts are the same.
RELATIVE_CEILING = 4.0
# the latest origin's errors, in robust standard deviations, beyond which an error is held (see
# _trimmed). On the DfE's files it holds a few provision types' share errors and, from 2025,
# one council total's (Newham's fall: -0.39 against 0.25): the backtest's coverage moves in
# two cells (mainstream one year ahead from 2024, 70.1 % to 70.7 %), its WAPE nowhere, and
# the forecasts from 2025 keep every council's central figure and median band width
ERROR_TRIM = 6.0
# A provision type's share moves at most this far in a path (log: ×100 either way). A type's
# share errors from the years it first appeared (post-16 specialist from 0 to dozens of plans)
# drew log noises of 15 and more, and the paths, held to their mean, left p10 at 1e-8 plans and
# p50 at 0.0003 under a central of 29 (above its p90). Chosen between ×20 and ×100 on the
# backtest of every origin: ×20 cost post-16 types 3 points of coverage, ×100 one point of one
# type (post-16 specialist 67.1 → 65.8 %), every other type's within 0.3; point forecasts are
# the same.
SHARE_NOISE_LIMIT = 4.6
HUBER = 1.5  # robust scale multiples beyond which a point is down-weighted
SHARE_SMOOTHING = 0.5  # plans added to every provision type before taking shares (small counts)
QUANTILES = (0.1, 0.5, 0.9)
# A provision type's share errors have a long right tail (a type going from a handful of plans to
# many). Keeping each type's mean with such a tail pulled the bulk of its paths below the held
# share, so the actual fell above p90 for most councils (3 years ahead: 5% of NEET/unknown, 14–20%
# of post-16 and 29% of resourced provision inside p10–p90). Draws beyond the errors' own p10 and
# p90 are held at them; chosen on the pooled backtest of every origin over 0, 5, 10, 15 and 20%:
# 10% brought types' coverage 3 years ahead to 60–82% (NEET/unknown 42%), point forecasts unchanged.
SHARE_ERROR_TAIL = 0.1


class AggregateInputError(ValueError):
    """Not enough published history to forecast from; the message says what is missing."""


@dataclass
class Panel:
    """Published counts as arrays: councils (rows) × census years (columns)."""

    codes: list[str]
    years: np.ndarray  # (Y,)
    totals: np.ndarray  # (C, Y), NaN where a council has no figure
    provisions: np.ndarray  # (C, Y, P)
    national: np.ndarray  # (Y,) England
    national_provisions: np.ndarray  # (Y, P)

    def column(self, year: int) -> int | None:
        found = np.flatnonzero(self.years == year)
        return int(found[0]) if len(found) else None


# the share of the councils of the census before that the latest census may lack (reorganised
# away) before the files are taken as a release in part or a file cut short: the DfE's releases
# since 2010 have lacked at most one
MISSING_SHARE = 0.1


def build_panel(councils: dict[str, CouncilHistory]) -> Panel:
    codes = sorted(code for code in councils if code != NATIONAL)
    if not codes:
        raise AggregateInputError("no council in the published files")
    years = np.array(sorted({int(y) for c in councils.values() for y in c.caseload.index}))
    missing = sorted(set(range(int(years[0]), int(years[-1]) + 1)) - set(years.tolist()))
    if missing:
        # growth is differenced census to census: a gap would be read as one year's growth
        raise AggregateInputError(
            f"the published files hold no caseload for January {', '.join(map(str, missing))} "
            f"(between {years[0]} and {years[-1]}): growth would span the gap as one year. "
            "Add the release that covers those years (the 2022 release's "
            "sen2_estab_caseload.csv holds 2010–2022; each later release's caseload.csv its "
            "own years) or remove the releases before the gap"
        )
    provisions = np.full((len(codes), len(years), len(PROVISIONS)), np.nan)
    for i, code in enumerate(codes):
        frame = councils[code].caseload.reindex(index=years, columns=PROVISIONS)
        provisions[i] = frame.to_numpy(dtype=float)
    given = np.isfinite(provisions.sum(axis=2))
    covered = given.sum(axis=0)
    if len(years) > 1 and covered[-1] < (1 - MISSING_SHARE) * covered[-2]:
        # the origin is the latest census: learnt from a handful of councils' misses, every
        # interval would be that narrow, and the rest would be left out as reorganised; a file
        # cut short at a line's end (54 councils of 149 without January 2025) scored the
        # backtest's latest origins on the rest, and a national body's `--la all` left them out
        gone = [code for code, row in zip(codes, given, strict=True) if row[-2] and not row[-1]]
        raise AggregateInputError(
            f"the published files hold January {years[-1]}'s caseload for {covered[-1]} "
            f"council(s) against {covered[-2]} in January {years[-2]}: a release in part, or a "
            f"file cut short ({len(gone)} council(s) without January {years[-1]}, e.g. "
            f"{', '.join(gone[:5])}; a reorganisation removes a few, this check allows "
            f"{MISSING_SHARE:.0%}). Add the rest of January {years[-1]}'s release, or remove its "
            "rows"
        )
    if NATIONAL in councils:
        national_provisions = (
            councils[NATIONAL]
            .caseload.reindex(index=years, columns=PROVISIONS)
            .to_numpy(dtype=float)
        )
        given = np.isfinite(national_provisions).any(axis=1)
        lacking = [int(y) for y in years[~given | ~(np.nansum(national_provisions, axis=1) > 0)]]
        if lacking:
            # England's growth is every council's anchor: a year without it is no year to learn
            # from (it ended in an IndexError), and the councils' sum beside England's own
            # figures would put the difference between the two into one year's growth
            raise AggregateInputError(
                f"the published files give England's caseload (geographic_level National) but "
                f"not for January {', '.join(map(str, lacking))}: add England's rows for those "
                "years, or remove every England row (the councils' sum is used then)"
            )
    else:  # files without England's row: the councils' sum
        national_provisions = np.nansum(provisions, axis=0)
    return Panel(
        codes,
        years,
        provisions.sum(axis=2),
        provisions,
        national_provisions.sum(axis=1),
        national_provisions,
    )


def _excess(
    panel: Panel, logs: np.ndarray, national: np.ndarray, year: int, span: int
) -> np.ndarray:
    """Growth a year over the `span` years to `year`, in excess of England's (NaN without data)."""
    now, then = panel.column(year), panel.column(year - span)
    if now is None or then is None:
        return np.full((logs.shape[0], *logs.shape[2:]), np.nan)
    return ((logs[:, now] - logs[:, then]) - (national[now] - national[then])) / span


def _features(panel: Panel, logs: np.ndarray, national: np.ndarray, year: int) -> np.ndarray:
    """(C, 2) last-year and three-year excess growth; missing history counts as none."""
    return np.nan_to_num(
        np.stack(
            [
                _excess(panel, logs, national, year, 1),
                _excess(panel, logs, national, year, GROWTH_YEARS),
            ],
            axis=1,
        )
    )


def _volatility(
    panel: Panel,
    logs: np.ndarray,
    national: np.ndarray,
    year: int,
    floor: float,
    ceiling: float = np.inf,
    prior: float = VOLATILITY_PRIOR,
    typical: np.ndarray | float | None = None,
) -> np.ndarray:
    """Spread of each council's yearly excess growth over the last years to `year`, shrunk towards
    the median council's (`typical`, when given: another set of councils' median): (C[, P])."""
    own, count = _own_spread(panel, logs, national, year)
    if typical is None:
        typical = _typical_spread(own)
    own = np.minimum(np.where(np.isfinite(own), own, typical), ceiling)
    weight = np.clip(count - 1, 0, None)
    return np.sqrt((weight * own**2 + prior * typical**2) / (weight + prior) + floor**2)


def _own_spread(
    panel: Panel, logs: np.ndarray, national: np.ndarray, year: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each council's sd of its yearly excess growths over the VOLATILITY_YEARS to `year` (NaN
    with fewer than two), and how many it has."""
    yearly = np.stack(
        [_excess(panel, logs, national, y, 1) for y in range(year - VOLATILITY_YEARS + 1, year + 1)]
    )
    count = np.sum(~np.isnan(yearly), axis=0)
    with warnings.catch_warnings():
        # a council with one year or none: no spread of its own
        warnings.simplefilter("ignore", RuntimeWarning)
        own = np.nanstd(yearly, axis=0, ddof=1)
    return np.where(count >= 2, own, np.nan), count


def _typical_spread(own: np.ndarray) -> np.ndarray:
    """The median council's spread (0.05 where no council has one)."""
    typical = np.nanmedian(own, axis=0) if np.isfinite(own).any() else 0.05
    return np.where(np.isfinite(typical), typical, 0.05)


def _relative(volatility: np.ndarray) -> np.ndarray:
    """Each council's volatility over the typical (median) council's at the same census. The
    councils' errors are scaled by it, so the latest origin's errors set the level of the council
    part and volatility only shares it out among councils. Scaled by the volatility itself, the
    errors of a calm origin (2016's, by its calm five years) were carried onto the reform years'
    larger volatility at 2017, counting the 2014 reforms' jump twice (p10–p90 coverage 2 years
    ahead 94.7 %). Scored on every origin at once: 21 of 24 origin × horizon cells inside 70–90 %
    against 19, interval score 3 years ahead 0.440 against 0.444, point forecasts unchanged."""
    return np.minimum(volatility / np.nanmedian(volatility), RELATIVE_CEILING)


def _huber_fit(x: np.ndarray, y: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Weighted least squares without intercept, robust to outliers (iteratively reweighted)."""
    coefficients = np.zeros(x.shape[1])
    for _ in range(25):
        residual = y - x @ coefficients
        scale = 1.4826 * np.median(np.abs(residual)) + 1e-9
        w = weight * np.minimum(1.0, HUBER * scale / np.maximum(np.abs(residual), 1e-12))
        root = np.sqrt(w)
        coefficients = np.linalg.lstsq(x * root[:, None], y * root, rcond=None)[0]
    return coefficients


@dataclass
class PooledFit:
    """What the councils' published history up to `origin` says, for every council at once."""

    origin: int
    national_rate: float  # England's log growth a year
    national_error: float  # sd of England's yearly step, from how its rate missed before
    national_years: float  # the years' worth of growth the rate is a weighted mean of (1 / Σ w²)
    coefficients: np.ndarray  # (2,) share of last-year and three-year excess growth that persists
    residuals: dict[int, np.ndarray]  # horizon → standardised errors of the total, net of England
    # per provision type, horizon → standardised errors of its share
    share_residuals: list[dict[int, np.ndarray]]


def _logs(panel: Panel) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        totals = np.where(panel.totals > 0, np.log(panel.totals), np.nan)
    national = np.log(panel.national)
    smoothed = panel.provisions + SHARE_SMOOTHING
    shares = np.log(smoothed / smoothed.sum(axis=2, keepdims=True))
    national_smoothed = panel.national_provisions + SHARE_SMOOTHING
    national_shares = np.log(national_smoothed / national_smoothed.sum(axis=1, keepdims=True))
    return totals, national, shares, national_shares


def _national_weights(at: int) -> np.ndarray:
    """Weights on England's last yearly growths (latest last) behind its rate: half on the last
    year, half on the mean of the last three (fewer when the files start later)."""
    span = min(GROWTH_YEARS, at)
    if span == 0:
        return np.zeros(0)
    weights = np.full(span, (1 - RECENT_WEIGHT) / span)
    weights[-1] += RECENT_WEIGHT
    return weights


def _national_rate(national: np.ndarray, at: int) -> float:
    weights = _national_weights(at)
    return float(np.diff(national[at - len(weights) : at + 1]) @ weights) if len(weights) else 0.0


def fit(panel: Panel, origin: int, horizons: int = max(HORIZONS)) -> PooledFit:
    """Estimate everything from the panel's years up to `origin` (later years are ignored); the
    errors to `horizons` years ahead."""
    at = panel.column(origin)
    if at is None:
        raise AggregateInputError(f"no published caseload for January {origin}")
    logs, national, shares, national_shares = _logs(panel)
    first = int(panel.years[0])
    earlier = [y for y in range(first + 1, origin) if panel.column(y) is not None]

    # persistence of councils' excess growth: every earlier origin s and horizon h ≤ 3 (the
    # horizons the backtest chose it on) with s + h ≤ origin, whatever horizon is forecast: a
    # longer horizon must not refit it and move the nearer years' forecasts (Newham's 2026 by 6 %)
    xs, ys, ws = [], [], []
    for s in earlier:
        col = panel.column(s)
        x = _features(panel, logs, national, s)
        for h in range(1, min(max(HORIZONS), origin - s) + 1):
            target = panel.column(s + h)
            if target is None:
                continue
            y = ((logs[:, target] - logs[:, col]) - (national[target] - national[col])) / h
            ok = np.isfinite(y) & np.isfinite(logs[:, col])
            xs.append(x[ok]), ys.append(y[ok]), ws.append(panel.totals[ok, col])
    if xs:
        coefficients = _huber_fit(np.vstack(xs), np.concatenate(ys), np.concatenate(ws))
    else:
        coefficients = np.zeros(2)

    # the forecasts earlier origins would have made, against what happened
    residuals: dict[int, list[np.ndarray]] = {h: [] for h in range(1, horizons + 1)}
    share_residuals: dict[int, list[list[np.ndarray]]] = {
        h: [[] for _ in PROVISIONS] for h in range(1, horizons + 1)
    }
    every_share: dict[int, list[np.ndarray]] = {h: [] for h in range(1, horizons + 1)}
    for s in earlier:
        col = panel.column(s)
        volatility = _relative(_volatility(panel, logs, national, s, VOLATILITY_FLOOR))
        share_volatility = _volatility(
            panel,
            shares,
            national_shares,
            s,
            SHARE_VOLATILITY_FLOOR,
            SHARE_VOLATILITY_CEILING,
            SHARE_VOLATILITY_PRIOR,
        )
        excess = _features(panel, logs, national, s) @ coefficients
        for h in range(1, min(horizons, origin - s) + 1):
            target = panel.column(s + h)
            if target is None:
                continue
            y = (logs[:, target] - logs[:, col]) - (national[target] - national[col])
            r = (y - h * excess) / volatility
            residuals[h].append(r[np.isfinite(r)])
            miss = (shares[:, target] - shares[:, col]) / share_volatility
            established = _established(panel, s)
            for p in np.flatnonzero(established):
                values = miss[:, p]
                share_residuals[h][p].append(values[np.isfinite(values)])
            if established.any():
                values = miss[:, established]
                every_share[h].append(values[np.isfinite(values)])

    rate = _national_rate(national, at)
    weights = _national_weights(at)
    span = len(weights)
    years = 1 / float(weights @ weights) if span else 1.0
    # how England's rate missed England's next year at every earlier origin: a one-year miss is
    # the random walk's step plus the rate's own error, sd × √(1 + 1/years). Sized by the misses'
    # mean absolute value (× √(π/2), a normal sd): the root mean square let the single miss of the
    # 2014 reforms (2016) hold every later origin's interval wide. Scored on every origin at once,
    # 3 years ahead: 19 of 24 origin × horizon cells inside 70–90 % against 16, interval score
    # 0.316 against 0.318, pooled coverage 81–82 % against 83 %; the median (× 1.4826) went too
    # narrow after the calm years (17 cells, 2022–2023 at 67–70 %).
    misses = [(national[i + 1] - national[i]) - _national_rate(national, i) for i in range(1, at)]
    if misses:
        typical = np.sqrt(np.pi / 2) * np.mean(np.abs(misses))
        national_error = float(typical / np.sqrt(1 + 1 / years))
    else:
        national_error = 0.02

    return PooledFit(
        origin=origin,
        national_rate=rate,
        national_error=max(national_error, 0.005),
        national_years=years,
        coefficients=coefficients,
        residuals=_latest(residuals),
        # a type not yet established in the series
        # (NEET and unknown before 2022) takes every type's errors
        share_residuals=[
            _latest({h: per[p] for h, per in share_residuals.items()}) or _latest(every_share)
            for p in range(len(PROVISIONS))
        ],
    )


def _established(panel: Panel, year: int) -> np.ndarray:
    """(P,) provision types the published series held in earnest over the three years to `year`:
    a type that was (almost) empty then — post-16 before the 2014 reforms reached
    19–25-year-olds, NEET and unknown placements before 2019 — would teach ramps that belong to
    no council's future."""
    at, then = panel.column(year), panel.column(year - GROWTH_YEARS)
    if then is None:
        return np.zeros(len(PROVISIONS), dtype=bool)
    share = panel.national_provisions[[then, at]] / panel.national[[then, at], None]
    return (share >= ESTABLISHED_SHARE).all(axis=0)


def _latest(errors: dict[int, list[np.ndarray]]) -> dict[int, np.ndarray]:
    """horizon → errors (one array per earlier origin, oldest first) → the errors the next forecast
    is expected to make: the latest origins' one year ahead, widened to each horizon as errors
    widened over every earlier origin (ratio of p10–p90 ranges)."""
    if not any(len(a) for a in errors.get(1, [])):
        return {}
    recent = _trimmed(_centred(np.concatenate(errors[1][-ERROR_ORIGINS:])))
    spread = {
        h: np.subtract(*np.quantile(np.concatenate(v), [0.9, 0.1]))
        for h, v in errors.items()
        if sum(len(a) for a in v)
    }
    return {h: recent * spread[h] / spread[1] for h in spread}


def _trimmed(errors: np.ndarray) -> np.ndarray:
    """Centred errors held within ERROR_TRIM robust standard deviations (1.4826 × their median
    absolute size) of 0: every council's paths draw from one pool of errors, so one council's
    data error in the latest census (Bracknell Forest's total × 3, a residual of 1.19 against a
    largest of 0.2 otherwise) became a path a few hundred times the forecast in every council,
    and with the paths' mean held to the forecast, Newham's 2029 band was 2–7 plans under a
    central forecast of 1,085."""
    scale = 1.4826 * np.median(np.abs(errors))
    if not scale > 0:
        return errors
    return np.clip(errors, -ERROR_TRIM * scale, ERROR_TRIM * scale)


def _centred(errors: np.ndarray) -> np.ndarray:
    """Errors about their median: they give the spread; the point forecast is the fitted one (the
    typical council's miss, unweighted, is not England's)."""
    return errors - np.median(errors)


def _draw(residuals: dict[int, np.ndarray], horizon: int, uniform: np.ndarray) -> np.ndarray:
    """The `uniform` quantiles of a horizon's errors; beyond the longest horizon with errors,
    that horizon's, scaled by the horizon."""
    if horizon in residuals:
        return np.quantile(residuals[horizon], uniform)
    longest = max(residuals)
    return np.quantile(residuals[longest], uniform) * horizon / longest


def simulate(
    panel: Panel, fitted: PooledFit, years: int, paths: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Plans on each census after the origin — totals (C, paths, years) and provision types
    (C, paths, years, P) — for every council with a caseload at the origin (NaN for the rest).
    Each provision type's paths have the mean the total's paths give it, so the means add up;
    path by path they need not (each row is its own distribution)."""
    if not fitted.residuals:
        raise AggregateInputError(
            f"no earlier origin to learn the forecast errors from before {fitted.origin}"
        )
    at = panel.column(fitted.origin)
    logs, national, shares, national_shares = _logs(panel)
    excess = _features(panel, logs, national, fitted.origin) @ fitted.coefficients
    volatility = _relative(_volatility(panel, logs, national, fitted.origin, VOLATILITY_FLOOR))
    share_volatility = _volatility(
        panel,
        shares,
        national_shares,
        fitted.origin,
        SHARE_VOLATILITY_FLOOR,
        SHARE_VOLATILITY_CEILING,
        SHARE_VOLATILITY_PRIOR,
    )
    P = len(PROVISIONS)
    # how much of a council's excess growth persisted was learnt over 1 to 3 years ahead: beyond
    # them the excess is not carried on (a year's fall, Newham's 2,705 plans to 1,199 in 2025,
    # went on taking 6.5 % a year off its forecast every year to 2041, against England's +10 %)
    learnt = max(HORIZONS)
    totals = np.full((len(panel.codes), paths, years), np.nan)
    out = np.full((len(panel.codes), paths, years, P), np.nan)
    for i, code in enumerate(panel.codes):
        if not np.isfinite(logs[i, at]):
            continue
        # a council's paths depend on its code and the seed only, not on which others are there
        rng = np.random.default_rng([seed, fitted.origin, int(code)])
        common = rng.standard_normal(paths)
        own = rng.uniform(size=paths)
        mix = rng.uniform(size=(paths, P))
        # a share's extreme errors held within their own p10–p90 (see SHARE_ERROR_TAIL)
        share_draws = np.clip(mix, SHARE_ERROR_TAIL, 1 - SHARE_ERROR_TAIL)
        # a type with no plans stays empty
        share = np.nan_to_num(panel.provisions[i, at] / panel.totals[i, at])
        for step in range(years):
            h = step + 1
            # England's growth wanders about its rate, and the rate is a mean of a few years
            england = common * fitted.national_error * np.sqrt(h + h**2 / fitted.national_years)
            # the errors spread the forecast, they do not move its mean (skewed errors and the
            # exponential would): the mean of the paths is the fitted growth
            spread = np.exp(england + volatility[i] * _draw(fitted.residuals, h, own))
            total = (
                np.exp(logs[i, at] + h * fitted.national_rate + min(h, learnt) * excess[i])
                * spread
                / spread.mean()
            )
            noise = np.stack(
                [
                    share_volatility[i, p] * _draw(fitted.share_residuals[p], h, share_draws[:, p])
                    if fitted.share_residuals[p]
                    else np.zeros(paths)
                    for p in range(P)
                ],
                axis=1,
            )
            # a type varies with the total and with its share; the share's noise spreads it but does
            # not move its mean (small shares' log noise would), and shares are not renormalised
            # path by path: one small type's wild path would squeeze the rest
            spread = np.exp(np.clip(noise, -SHARE_NOISE_LIMIT, SHARE_NOISE_LIMIT))
            totals[i, :, step] = total
            varied = total[:, None] * spread
            out[i, :, step] = (
                share[None, :] * varied * total.mean() / varied.mean(axis=0, keepdims=True)
            )
    return totals, out


def _type_quantiles(paths: np.ndarray, total: np.ndarray, levels) -> np.ndarray:
    """(levels, P): each provision type's quantiles of `paths` (paths × P), none above the
    council total's at the same level. Shares are not renormalised path by path (simulate), so a
    volatile type's path can pass its total (Central Bedfordshire's mainstream p90, 8,362 against
    a total p90 of 7,204, after a one-year swing of its published mix); no type's quantile can."""
    return np.minimum(np.quantile(paths, levels, axis=0), np.quantile(total, levels)[:, None])


def backtest_all(
    councils: dict[str, CouncilHistory],
    simulations: int = 300,
    seed: int = 7,
    origins: list[int] | None = None,
    unit_costs: dict[str, float] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every council from every origin, fitted on the published files as they stood at the origin;
    the model and the baselines scored on the same councils, origins and horizons. Boundary
    changes (e.g. Northamptonshire 2021, Bournemouth/Poole/Dorset 2019, Cumbria 2023): each old
    LA code is a council of its own, never stitched to its successors, and is scored at an origin
    only when it has the origin and the three censuses before it and the target census (so every
    method has its inputs). Origins: from FIRST_ORIGIN to the year before the last. Unit costs
    per provision type (national averages) add the money-weighted `spend` rows. Returns
    (summary, records)."""
    full = build_panel(councils)
    national = pd.Series(full.national, index=full.years)
    records: list[tuple] = []
    for origin in origins or [int(y) for y in full.years if FIRST_ORIGIN <= y < full.years[-1]]:
        known = build_panel(as_of(councils, origin))
        fitted = fit(known, origin)
        if not fitted.residuals:
            # files starting a year or less before the origin: no earlier forecast to learn from
            continue
        totals, sims = simulate(known, fitted, max(HORIZONS), simulations, seed)
        for i, code in enumerate(known.codes):
            history = councils[code].caseload.loc[:origin, PROVISIONS]
            if not all(y in history.index for y in range(origin - HISTORY_YEARS + 1, origin + 1)):
                continue
            counts = councils[code].caseload[PROVISIONS]
            own: list[tuple] = []
            for h in HORIZONS:
                if origin + h not in counts.index:
                    continue
                actual = counts.loc[origin + h].to_numpy(dtype=float)
                paths = sims[i, :, h - 1, :]
                total = totals[i, :, h - 1]
                q = np.quantile(total, (0.1, 0.9))
                own.append(
                    (MODEL, origin, h, "total", code, actual.sum(), float(total.mean()), q[0], q[1])
                )
                pq = _type_quantiles(paths, total, (0.1, 0.9))
                mean = paths.mean(axis=0)
                own += [
                    (MODEL, origin, h, p, code, actual[k], mean[k], pq[0, k], pq[1, k])
                    for k, p in enumerate(PROVISIONS)
                ]
                if unit_costs and (
                    spent := spend_record(
                        MODEL, origin, h, code, actual, paths, list(PROVISIONS), unit_costs
                    )
                ):
                    own.append(spent)
            future = counts.loc[[y for y in counts.index if y <= origin + max(HORIZONS)]]
            own += baseline_records(future, origin, code, national)
            # a year published as a total alone (or with settings withheld) holds a mix made up
            # from another year's: its total is scored, its provision types and spend are not
            # (they would score every method holding the mix against the mix it holds)
            imputed = councils[code].estimated_mix
            records += [r for r in own if r[3] == "total" or r[1] + r[2] not in imputed]
    frame = pd.DataFrame(records, columns=RECORD_COLUMNS)
    return summarise(frame, unit_costs), frame


def forecast_councils(
    councils: dict[str, CouncilHistory],
    horizon_census_year: int,
    codes: list[str] | None = None,
    simulations: int = 1000,
    seed: int = 20260401,
) -> pd.DataFrame:
    """Every council (or those in `codes`) with a caseload on the latest census: plans per census
    year and provision type, and a `total` row with quantiles of its own; `plans_central` is the
    mean of the paths (it adds up across provision types)."""
    panel = build_panel(councils)
    origin = int(panel.years[-1])
    years = horizon_census_year - origin
    if years < 1:
        raise AggregateInputError(f"the published data already reach January {origin}")
    fitted = fit(panel, origin, horizons=years)
    totals, sims = simulate(panel, fitted, years, simulations, seed)
    wanted = set(codes) if codes is not None else set(panel.codes)
    rows = []
    for i, code in enumerate(panel.codes):
        if code not in wanted or not np.isfinite(sims[i]).all():
            continue
        name = councils[code].name
        for step in range(years):
            plans = sims[i, :, step, :]
            total = totals[i, :, step]
            q = _type_quantiles(plans, total, QUANTILES)
            for k, provision in enumerate(PROVISIONS):
                rows.append(
                    (code, name, origin + step + 1, provision, plans[:, k].mean(), *q[:, k])
                )
            rows.append(
                (
                    code,
                    name,
                    origin + step + 1,
                    "total",
                    total.mean(),
                    *np.quantile(total, QUANTILES),
                )
            )
    return pd.DataFrame(
        rows,
        columns=[
            "la_code",
            "la_name",
            "year",
            "provision_type",
            "plans_central",
            "plans_p10",
            "plans_p50",
            "plans_p90",
        ],
    )


def council_growth(
    councils: dict[str, CouncilHistory],
    own_totals: pd.Series,
    origin: int,
    lessons: dict[int, _Lesson | None] | None = None,
) -> tuple[float, float, str] | None:
    """What the published files say about a council's growth a year from `origin`: England's rate
    plus the share of the council's own excess growth that persisted in councils before — the
    aggregate model's point forecast — applied to `own_totals` (plans per census year: the
    council's own counts, which may run a year past the published files). Returns (rate, its
    standard error a year over three years ahead, a sentence saying where it comes from), or None
    when the files as they stood at the origin hold no earlier origin to learn from. Nothing
    published after `origin` is read. `lessons` keeps each origin's fit over the published
    councils (the same for every council) for the next call with the same `councils`."""
    if lessons is None:
        lessons = {}
    if origin not in lessons:
        lessons[origin] = _lesson(councils, origin)
    lesson = lessons[origin]
    if lesson is None:
        return None
    panel, fitted, logs, national, at = lesson
    # the council's excess growth to its own last census (by the origin): its counts may run past
    # the files' last, where England's is taken at the rate forecast for it (the features were
    # measured to the files' last census, so a council's latest year — a doubling, a fall — went
    # unread, and its growth came from a year before its forecast starts)
    last = int(min(origin, own_totals.index.max())) if len(own_totals) else at
    ahead = np.arange(at + 1, last + 1)
    known = panel.column(at)
    extended = replace(panel, years=np.concatenate([panel.years[: known + 1], ahead]))
    national_ahead = np.concatenate(
        [
            national[: known + 1],
            national[known] + fitted.national_rate * np.arange(1, len(ahead) + 1),
        ]
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        counts = own_totals.reindex(extended.years).to_numpy(dtype=float)
        own_ahead = np.where(counts > 0, np.log(counts), np.nan)
    # to the files' last census, beside the published councils on the panel's years
    own_logs = np.full(len(panel.years), np.nan)
    own_logs[: known + 1] = own_ahead[: known + 1]
    stacked = np.vstack([logs, own_logs[None, :]])
    features = _features(extended, own_ahead[None, :], national_ahead, last)[0]
    rate = fitted.national_rate + float(features @ fitted.coefficients)
    # its spread three years ahead, a year's worth: England's common miss and a council's own,
    # its volatility over the typical council's at the files' last census (the councils' errors
    # are scaled by that), its own measured to its own last census like its growth
    volatilities = _volatility(panel, stacked, national, at, VOLATILITY_FLOOR)
    if last > at:
        typical = _typical_spread(_own_spread(panel, stacked, national, at)[0])
        own_volatility = _volatility(
            extended, own_ahead[None, :], national_ahead, last, VOLATILITY_FLOOR, typical=typical
        )[0]
        volatility = min(own_volatility / np.nanmedian(volatilities), RELATIVE_CEILING)
    else:
        volatility = _relative(volatilities)[-1]
    h = max(fitted.residuals)
    spread = np.subtract(*np.quantile(fitted.residuals[h], [0.9, 0.1]))
    own_part = volatility * spread / (2 * 1.2816)  # a normal's p10–p90 is 2 × 1.2816 sd
    england = fitted.national_error * np.sqrt(h + h**2 / fitted.national_years)
    se = float(np.sqrt(england**2 + own_part**2)) / h
    # (a council whose own censuses do not reach back that far has that part counted as none:
    # the source had named a span the warehouse held no census for)
    unknown = [
        span
        for span, years in (
            (f"{last - 1}–{last}", 1),
            (f"{last - GROWTH_YEARS}–{last}", GROWTH_YEARS),
        )
        if not np.isfinite(_excess(extended, own_ahead[None, :], national_ahead, last, years)[0])
    ]
    source = (
        f"England's growth to January {at} ({np.expm1(fitted.national_rate):+.1%} a year"
        + (f", taken at that rate to {last}" if last > at else "")
        + f") plus {fitted.coefficients[0]:.2f} × the council's growth above it in its last year "
        f"and {fitted.coefficients[1]:.2f} × over {last - GROWTH_YEARS}–{last}, the shares that "
        "persisted in every council of the DfE's published files before"
        + (
            f"; the council's censuses do not cover {' or '.join(unknown)}: that part counts as "
            "none (England's growth alone)"
            if unknown
            else ""
        )
    )
    return rate, se, source


# what the published councils as they stood at an origin teach, whichever council asks: the
# panel, the pooled fit, the councils' log totals and England's, and the census it ends at
_Lesson = tuple[Panel, PooledFit, np.ndarray, np.ndarray, int]


def _lesson(councils: dict[str, CouncilHistory], origin: int) -> _Lesson | None:
    known = as_of(councils, origin)
    if NATIONAL not in known:
        return None
    at = min(origin, int(known[NATIONAL].caseload.index.max()))
    panel = build_panel(known)
    fitted = fit(panel, at)
    if not fitted.residuals:
        return None
    logs, national, _, _ = _logs(panel)
    return panel, fitted, logs, national, at


# the published files last read, with their lessons, by the files' paths, sizes, inodes and
# change times: a region's forecast asks for them once per council, and a worker process
# forecasts many (one thread at a time today; the lock keeps it right if that changes)
_READ: dict[tuple, tuple[dict[str, CouncilHistory], dict[int, _Lesson | None]]] = {}
_READ_LOCK = threading.Lock()


def _read_published(folder: Path) -> tuple[dict[str, CouncilHistory], dict[int, _Lesson | None]]:
    """load_published(folder) and a dict for its lessons, read again only when a file changed."""
    stamp = tuple(
        (str(path), stat.st_size, stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns)
        for path, stat in ((path, path.stat()) for path in published_files(folder).values())
    )
    key = (str(folder.resolve()), stamp)
    with _READ_LOCK:
        read = _READ.get(key)
        if read is None:
            read = (load_published(folder), {})
            _READ.clear()  # one folder's files at a time: a refresh reads one
            _READ[key] = read
        return read


def published_growth(
    folder: Path | None, la_code: str | None, own_totals: pd.Series
) -> tuple[Callable[[int], tuple[float, float, str] | None] | None, str]:
    """(origin → council_growth at that origin, why not): the cohort model's growth from the DfE's
    published files, for a council they hold. The lessons are about English councils, so they
    are applied only to a council the files name: with no LA code, or one the files do not hold,
    the joiners follow the caseload's own growth, and the sentence says why."""
    from ingest.load import UNKNOWN_LA_CODE

    if not la_code or la_code == UNKNOWN_LA_CODE:
        # (000: a landing folder of one council whose code nothing gives)
        return None, (
            "no LA code (set HIGHNEEDS_LA_CODE to the council's old three-digit code, or land "
            "a SEN2 return, whose header gives it)"
        )
    try:
        councils, lessons = _read_published(folder) if folder is not None else ({}, {})
    except (FileNotFoundError, PublishedDataError) as error:
        return None, str(error)
    if la_code not in councils:
        return None, f"LA code {la_code} is not in the published files in {folder}"
    return (lambda origin: council_growth(councils, own_totals, origin, lessons)), ""


def published_national(folder: Path | None) -> pd.Series | None:
    """England's plans on each January census in the DfE's published files (None without them):
    the council backtest's baseline of England's growth applied to the council."""
    if folder is None:
        return None
    try:
        councils, _ = _read_published(folder)
        panel = build_panel(councils)
    except (FileNotFoundError, PublishedDataError, AggregateInputError):
        return None
    return pd.Series(panel.national, index=panel.years.astype(int))
