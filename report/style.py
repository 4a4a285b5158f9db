"""How the report looks: one colour per provision type and scenario, number formats, matplotlib
defaults without chart junk.

Colours are the Okabe–Ito palette (Okabe & Ito, "Color Universal Design", 2008), which stays
distinguishable with the common forms of colour blindness: its eight colours go to the placement
types that carry most spend; the small remaining types are greys of different lightness.
"""

from __future__ import annotations

import math

import matplotlib
from matplotlib.ticker import FuncFormatter

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}

PROVISION_COLOURS = {
    "mainstream": OKABE_ITO["blue"],
    "mainstream_rp_unit": OKABE_ITO["sky_blue"],
    "mss": OKABE_ITO["bluish_green"],
    "inmss": OKABE_ITO["vermillion"],
    "ap": OKABE_ITO["reddish_purple"],
    "post16_fe": OKABE_ITO["orange"],
    "post16_spi": OKABE_ITO["yellow"],
    "eotas": OKABE_ITO["black"],
    "early_years": "#8C8C8C",
    "other": "#B3B3B3",
    "none": "#D9D9D9",
    "central": "#5C5C5C",
}
SCENARIO_COLOURS = {
    "actual": OKABE_ITO["black"],
    "funding": OKABE_ITO["bluish_green"],
    "unmitigated": OKABE_ITO["vermillion"],
    "mitigated": OKABE_ITO["blue"],
}
# categories without a provision type (needs, ages, drivers): Okabe–Ito in order, then greys
SEQUENCE = [
    OKABE_ITO[name]
    for name in (
        "blue",
        "orange",
        "bluish_green",
        "vermillion",
        "sky_blue",
        "reddish_purple",
        "yellow",
        "black",
    )
]
SEQUENCE += ["#8C8C8C", "#B3B3B3", "#D9D9D9", "#5C5C5C", "#404040"]

FIGURE_WIDTH = 9.0  # inches; at 110 dpi ≈ 1000 px, the report's column width
DPI = 110


RC = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "grid.color": "#E5E5E5",
    "grid.linewidth": 0.8,
    "axes.axisbelow": True,
    "legend.frameon": False,
    "legend.fontsize": 9,
}


def context():
    """The report's matplotlib settings, for the charts drawn and saved inside it only."""
    return matplotlib.rc_context(RC)


def colour_for(category: str, index: int) -> str:
    return PROVISION_COLOURS.get(category) or SEQUENCE[index % len(SEQUENCE)]


def pounds_m(value: float, decimals: int = 1) -> str:
    """£12.3m, −£4.5m (a true minus sign)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    shown = f"{abs(value) / 1e6:,.{decimals}f}"
    sign = "−" if value < 0 and float(shown.replace(",", "")) else ""  # never "−£0.0m"
    return f"{sign}£{shown}m"


def pounds(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    shown = f"{abs(value):,.0f}"
    sign = "−" if value < 0 and shown != "0" else ""  # never "−£0"
    return f"{sign}£{shown}"


def count(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "c"  # suppressed (DfE convention)
    return f"{value:,.0f}"


def percent(value: float, decimals: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value * 100:.{decimals}f}%"


def grew(rate: float, decimals: int = 1) -> str:
    """\"grew 9.6% a year", "fell 3.2% a year" or "did not change"."""
    if rate is None or (isinstance(rate, float) and math.isnan(rate)):
        return "changed by an unknown rate"
    if round(rate * 100, decimals) == 0:
        return "did not change"
    return f"{'grew' if rate > 0 else 'fell'} {abs(rate) * 100:.{decimals}f}% a year"


def _axis_money(value: float, scale: float, suffix: str, decimals: int) -> str:
    sign = "−" if value < 0 else ""
    return f"{sign}£{abs(value) / scale:,.{decimals}f}{suffix}"


def _decimals(scaled: float) -> int:
    return (
        0
        if abs(scaled - round(scaled)) < 1e-9
        else (1 if abs(scaled * 10 - round(scaled * 10)) < 1e-6 else 2)
    )


MILLIONS = FuncFormatter(lambda value, _: _axis_money(value, 1e6, "m", _decimals(value / 1e6)))
THOUSANDS = FuncFormatter(lambda value, _: _axis_money(value, 1e3, "k", _decimals(value / 1e3)))
COUNTS = FuncFormatter(lambda value, _: f"{value:,.0f}")
SHARE = FuncFormatter(lambda value, _: f"{value * 100:g}%")
