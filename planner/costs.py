"""Cost and labour model of a safe-room conversion (docs/model.md, section 3).

Every line is written ONCE, in `COST_LINES` / `DERIVED`, as a small expression over
driver columns (per room) and parameters (`planner.params`, sections costs, labour,
capacity). The same text is

- evaluated here with numpy (`site_costs`), and
- written by `planner.workbook` as a live Excel formula, each name replaced by the
  room's driver cell or the parameter's cell on the Assumptions sheet
  (`excel_formula`).

The expression language is the common subset of Python and Excel: numbers, names,
`+ - * /`, parentheses and the functions `ROUND(x, n)` (half away from zero, as in
spreadsheets), `ROUNDUP(x, 0)` and `MAX(a, b)`. Each money line is rounded to cents
with `ROUND(..., 2)` in both, and the total is `ROUND(SUM(lines), 2)`, so a
spreadsheet recalculating the workbook shows the same totals to the cent.

Drivers (per room, values written to the workbook): `converted` (1 = to convert,
0 = already a safe room: every line is multiplied by it, so existing rooms cost 0
and take no labour), `perimeter_m`, `capacity` (persons), `doors_kept`,
`doors_sealed`, `displaced_residents` (rooms converted in `repurpose` mode: the
residents who move out, planner.relocation.home_residents; 0 in `dual_use` mode),
`recreation_area_m2` (recreation rooms converted in `repurpose` mode: their floor
area). A `dual_use` room costs the hardening lines only (walls, pressure door,
seals), its life support, supplies and communications: no relocation, no lost area.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Callable

import numpy as np
import pandas as pd

from planner.params import Parameters
from planner.relocation import home_residents, room_modes
from planner.station import Station

HARDENING_SOURCE: dict = {
    "publication": "FEMA P-320, Taking Shelter from the Storm, 5th ed. (March 2021): basic cost of a safe room "
                   "built from its prescriptive plans in a new home (materials, labour, contingency; the door "
                   "assembly excluded), as quoted in FEMA's Building Science FAQ 'What Is the Cost of Installing "
                   "a Safe Room in a New Home?'",
    "rooms_ft_usd": [(8.0, 8.0, 9400.0, 13100.0), (14.0, 14.0, 18900.0, 25500.0)],
    "wall_height_ft": 8.0,
    "currency_per_usd": 1.0,
}
"""The published figures behind `wall_reinforcement_per_m2` (docs/model.md, section 3): per room
(length ft, width ft, low USD, high USD), the walls' height (ft, the prescriptive designs'),
and the stated conversion rule (1 CR = 1 USD of 2021, no escalation)."""

FT_M = 0.3048


def sourced_wall_rate() -> tuple[float, float, float]:
    """(lowest, mean, highest) hardening cost per m2 of wall from `HARDENING_SOURCE` (currency/m2):
    each published cost over its room's wall area (perimeter x wall height), in the station's
    currency by the stated rule; the default `wall_reinforcement_per_m2` is the mean, rounded."""
    h = HARDENING_SOURCE["wall_height_ft"] * FT_M
    rates = [usd * HARDENING_SOURCE["currency_per_usd"] / (2.0 * (a + b) * FT_M * h)
             for a, b, lo, hi in HARDENING_SOURCE["rooms_ft_usd"] for usd in (lo, hi)]
    return min(rates), sum(rates) / len(rates), max(rates)


DRIVER_COLUMNS = ["converted", "perimeter_m", "capacity", "doors_kept", "doors_sealed",
                  "displaced_residents", "recreation_area_m2"]
"""Input drivers per room (values, not formulas, in the workbook)."""


@dataclass(frozen=True)
class Line:
    """One computed column: `name`, its expression, unit and a short label for people."""

    name: str
    expr: str
    unit: str
    label: str


DERIVED: list[Line] = [
    Line("wall_area_m2", "perimeter_m * deck_height_m", "m2", "Wall area (perimeter x deck height)"),
]
"""Computed drivers (live formulas, not rounded)."""

COST_LINES: list[Line] = [
    Line("wall_cost", "ROUND(converted * wall_area_m2 * wall_reinforcement_per_m2, 2)", "currency",
         "Wall reinforcement"),
    Line("door_cost", "ROUND(converted * doors_kept * pressure_door_each, 2)", "currency", "Pressure door"),
    Line("seal_cost", "ROUND(converted * doors_sealed * door_seal_each, 2)", "currency", "Extra doors sealed"),
    Line("life_support_cost",
         "ROUND(converted * (life_support_fixed"
         " + capacity * endurance_h / 24 * oxygen_kg_per_person_day * oxygen_cost_per_kg"
         " + capacity * endurance_h / 24 * co2_kg_per_person_day * co2_removal_cost_per_kg"
         " + capacity * fresh_air_l_s_per_person * air_handling_per_l_s), 2)", "currency",
         "Life support (unit, oxygen, CO2 removal, air handling)"),
    Line("supplies_cost",
         "ROUND(converted * (capacity * endurance_h / 24 * water_l_per_person_day * water_cost_per_l"
         " + capacity * endurance_h / 24 * food_cost_per_person_day"
         " + capacity * medical_per_occupant"
         " + ROUNDUP(capacity / occupants_per_wheelchair_space, 0) * wheelchair_space_each), 2)", "currency",
         "Emergency supplies (water, food, medical, wheelchair spaces)"),
    Line("comms_cost", "ROUND(converted * comms_per_room, 2)", "currency", "Communications"),
    Line("displacement_cost",
         "ROUND(converted * (displaced_residents * displacement_per_resident"
         " + recreation_area_m2 * displacement_per_m2_recreation), 2)", "currency",
         "Displacement (residents relocated, recreation lost)"),
]
"""The money lines (currency, rounded to cents)."""

LABOUR_LINES: list[Line] = [
    Line("labour_h",
         "ROUND(converted * (wall_area_m2 * labour_h_per_m2_wall + doors_kept * labour_h_per_door"
         " + doors_sealed * labour_h_per_sealed_door + labour_h_life_support"
         " + capacity * labour_h_per_occupant + labour_h_comms), 2)", "h", "Labour"),
    # days of one crew working `shifts_per_day` shifts of `shift_h` hours with `crew_size` workers
    Line("crew_days", "ROUND(labour_h / (crew_size * shift_h * shifts_per_day), 2)", "crew-days",
         "Crew-days"),
]
"""Labour hours and crew-days (rounded to 0.01)."""

TOTAL_NAME = "total_cost"
COST_COLUMNS = [ln.name for ln in COST_LINES]
OUTPUT_COLUMNS = (["wall_area_m2", "doors_kept", "doors_sealed", "displaced_residents", "recreation_area_m2"]
                  + COST_COLUMNS + [TOTAL_NAME, "labour_h", "crew_days"])

_NAME = re.compile(r"\b[A-Za-z_][A-Za-z_0-9]*\b")
_FUNCS = {"ROUND", "ROUNDUP", "MAX"}


def cost_formulas() -> list[Line]:
    """Every computed column in evaluation order: derived drivers, cost lines, labour lines.

    The total is not listed: it is `ROUND(SUM(cost lines), 2)`.
    """
    return DERIVED + COST_LINES + LABOUR_LINES


def expression_names(expr: str) -> list[str]:
    """Names (drivers, computed columns, parameters) an expression uses, in order of appearance."""
    out: list[str] = []
    for m in _NAME.finditer(expr):
        n = m.group(0)
        if n not in _FUNCS and n not in out:
            out.append(n)
    return out


def parameter_names() -> list[str]:
    """Every parameter used by the cost and labour model."""
    computed = {ln.name for ln in cost_formulas()}
    names: list[str] = []
    for ln in cost_formulas():
        for n in expression_names(ln.expr):
            if n not in computed and n not in DRIVER_COLUMNS and n not in names:
                names.append(n)
    return names


def excel_formula(expr: str, refs: dict[str, str]) -> str:
    """The expression as an Excel formula (with leading '='), each name replaced by `refs[name]`."""
    def sub(m: re.Match) -> str:
        n = m.group(0)
        if n in _FUNCS:
            return n
        if n not in refs:
            raise KeyError(f"no cell for {n!r} in formula {expr!r}")
        return refs[n]
    return "=" + _NAME.sub(sub, expr.replace(" ", ""))  # no spaces: a space between references is an operator


# ------------------------------------------------------------------ evaluation
def _sig15(x: float) -> Decimal:
    """A float as a spreadsheet sees it: 15 significant digits."""
    return Decimal(f"{x:.15g}")


def excel_round(x: np.ndarray | float, digits: int) -> np.ndarray:
    """ROUND as in spreadsheets: on the 15-digit decimal value, halves away from zero."""
    q = Decimal(1).scaleb(-int(digits))
    arr = np.atleast_1d(np.asarray(x, dtype=float))
    out = np.array([float(_sig15(v).quantize(q, rounding=ROUND_HALF_UP)) if np.isfinite(v) else v for v in arr])
    return out if np.ndim(x) else out[0]


def excel_roundup(x: np.ndarray | float, digits: int) -> np.ndarray:
    """ROUNDUP as in spreadsheets (away from zero), on the 15-digit decimal value."""
    q = Decimal(1).scaleb(-int(digits))
    arr = np.atleast_1d(np.asarray(x, dtype=float))
    out = np.array([float(abs(_sig15(v)).quantize(q, rounding=ROUND_CEILING)) * (1 if v >= 0 else -1)
                    if np.isfinite(v) else v for v in arr])
    return out if np.ndim(x) else out[0]


_ENV: dict[str, Callable] = {"ROUND": excel_round, "ROUNDUP": excel_roundup, "MAX": np.maximum}


def evaluate(expr: str, values: dict[str, object]) -> np.ndarray:
    """Evaluate an expression with numpy over `values` (arrays per room, scalars for parameters)."""
    code = compile(expr, f"<cost line {expr[:30]}>", "eval")
    return eval(code, {"__builtins__": {}, **_ENV}, dict(values))  # noqa: S307 - fixed expressions of this module


def parameter_values(params: Parameters) -> dict[str, float]:
    """The parameters the model uses, as floats."""
    return {n: float(getattr(params, n)) for n in parameter_names()}


def compute_lines(drivers: pd.DataFrame, params: Parameters) -> pd.DataFrame:
    """Every computed column and the total for a table of drivers (`DRIVER_COLUMNS`), same index."""
    values: dict[str, object] = {c: drivers[c].to_numpy(dtype=float) for c in DRIVER_COLUMNS}
    values.update(parameter_values(params))
    out = pd.DataFrame(index=drivers.index)
    n = len(drivers)
    for ln in cost_formulas():
        v = np.asarray(evaluate(ln.expr, values), dtype=float) if n else np.zeros(0)
        values[ln.name] = v
        out[ln.name] = v
    total = np.zeros(n)
    for c in COST_COLUMNS:  # left to right, as SUM over the row
        total = total + out[c].to_numpy()
    out[TOTAL_NAME] = excel_round(total, 2) if n else total
    return out


def cost_drivers(sites: pd.DataFrame, station: Station) -> pd.DataFrame:
    """Driver columns per site (index site_id): see the module docstring."""
    idx = sites.index
    existing = sites["existing"].to_numpy(dtype=bool)
    kind = sites["kind"].astype(str).to_numpy()
    n_doors = sites["n_doors"].to_numpy(dtype=float)
    d = pd.DataFrame(index=idx)
    d["converted"] = np.where(existing, 0, 1)
    d["perimeter_m"] = sites["perimeter_m"].to_numpy(dtype=float)
    d["capacity"] = sites["capacity"].to_numpy(dtype=float)
    d["doors_kept"] = 1  # one pressure door per safe room (cut one if the room has none)
    d["doors_sealed"] = np.maximum(n_doors - 1, 0)
    # the conversion mode decides the displacement lines (planner.relocation): a dual_use room keeps
    # its use and its residents, a repurposed one moves its residents out and loses its recreation
    # (`sites["mode"]` when given, e.g. the modes a plan chose for `either` rooms; `either` costs as dual_use)
    mode = (sites["mode"].astype(object).reindex(idx) if "mode" in sites.columns
            else room_modes(station).reindex(idx.astype(str)).set_axis(idx))
    repurpose = (mode.fillna("dual_use") == "repurpose").to_numpy()
    residents = home_residents(station).reindex(idx.astype(str)).fillna(0).to_numpy(dtype=float)
    d["displaced_residents"] = np.where(repurpose & ~existing, residents, 0.0)
    d["recreation_area_m2"] = np.where((kind == "recreation") & repurpose & ~existing,
                                       sites["area_m2"].to_numpy(dtype=float), 0.0)
    return d


def site_costs(sites: pd.DataFrame, station: Station) -> pd.DataFrame:
    """Cost lines (currency), drivers, total, labour hours and crew-days per candidate site.

    `sites` is `planner.sites.candidate_sites(station)` (index site_id). Existing safe
    rooms cost 0 and take 0 labour. Columns: `OUTPUT_COLUMNS` + `converted`,
    `perimeter_m`, `capacity`.
    """
    drivers = cost_drivers(sites, station)
    lines = compute_lines(drivers, station.params)
    out = pd.concat([drivers, lines], axis=1)
    extra = [c for c in out.columns if c not in OUTPUT_COLUMNS]
    out = out[OUTPUT_COLUMNS + extra]
    out.index.name = "site_id"
    return out
