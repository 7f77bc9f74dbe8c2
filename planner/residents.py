"""Resident filler: plausible counts per room and occupancy scenario, for quick what-ifs.

Real floor plans (an imported IMDF venue, a new station design) come without
resident counts. `fill_residents` writes `residents.csv` from floor areas and
room kinds: expected persons = floor area (m2) x density (persons/m2) for the
room's kind and the scenario, then rounded to whole persons deterministically
(largest remainder per scenario, so each scenario's total is the rounded sum;
ties broken by a seeded shuffle).

Default densities (`DEFAULT_DENSITY`) follow where people are: quarters at
night; work rooms, classrooms, labs by day; recreation and galleys in the
evening. They are design occupant loads (IBC 2021 Table 1004.5: classroom
1.86 m2 net per person, unconcentrated assembly 1.4 m2, educational labs 4.6 m2,
business 14 m2 gross, exercise rooms 4.6 m2) times a typical utilisation
share, not the legal maxima.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from planner.errors import InputError, OutputError
from planner.files import umask_mode
from planner.station import _find, _read_layer, normalise_rooms, read_residents, scenario_columns

SCENARIOS: tuple[str, ...] = ("night", "day", "evening")
"""Occupancy scenarios of a new residents table."""

DEFAULT_DENSITY: dict[str, dict[str, float]] = {
    # persons per m2 of floor area, by kind and scenario
    "quarters":   {"night": 0.15, "day": 0.02, "evening": 0.08},   # ~6.7 m2 of cabin per sleeper
    "classroom":  {"night": 0.0, "day": 0.20, "evening": 0.03},    # 0.54 design load x ~40 % use
    "auditorium": {"night": 0.0, "day": 0.25, "evening": 0.05},    # 0.72 design load x ~35 % use
    "lab":        {"night": 0.005, "day": 0.10, "evening": 0.02},  # 0.22 design load x ~45 %
    "office":     {"night": 0.0, "day": 0.07, "evening": 0.01},    # 14 m2 gross per person
    "workshop":   {"night": 0.0, "day": 0.05, "evening": 0.01},
    "operations": {"night": 0.03, "day": 0.06, "evening": 0.04},   # staffed around the clock
    "medical":    {"night": 0.03, "day": 0.05, "evening": 0.04},
    "recreation": {"night": 0.01, "day": 0.05, "evening": 0.20},   # exercise / lounges: 0.22 design load
    "galley":     {"night": 0.0, "day": 0.10, "evening": 0.30},    # dining: 0.72 design load x ~40 %
    # people walking through are counted in the rooms they live or work in
    "corridor":   {"night": 0.0, "day": 0.0, "evening": 0.0},
    "lobby":      {"night": 0.0, "day": 0.0, "evening": 0.0},
    "stairs":     {"night": 0.0, "day": 0.0, "evening": 0.0},
    "lift":       {"night": 0.0, "day": 0.0, "evening": 0.0},
    "hygiene":    {"night": 0.0, "day": 0.0, "evening": 0.0},
    "storage":    {"night": 0.0, "day": 0.003, "evening": 0.0},    # 28 m2 gross per person, mostly empty
    "utility":    {"night": 0.0, "day": 0.005, "evening": 0.0},
    "other":      {"night": 0.0, "day": 0.03, "evening": 0.02},
}
"""Persons per m2 of floor area by room kind and occupancy scenario (see the module notes)."""

UNOCCUPIED_KINDS: tuple[str, ...] = ("corridor", "lobby", "stairs", "lift", "storage", "utility", "hygiene")
"""Kinds that `per_m2` leaves at the default profile (people pass through, they do not stay)."""


def densities(per_m2: float | None = None,
              by_kind: dict[str, dict[str, float]] | None = None) -> dict[str, dict[str, float]]:
    """The density table in use (persons/m2 by kind and scenario).

    `per_m2`: one density for every occupied kind (all but `UNOCCUPIED_KINDS`) in every
    scenario; `by_kind`: per-kind, per-scenario densities that win over both.
    """
    table = {k: dict(v) for k, v in DEFAULT_DENSITY.items()}
    if per_m2 is not None:
        if not np.isfinite(per_m2) or per_m2 < 0:
            raise InputError("--per-m2", str(per_m2), "must be a non-negative number of persons per m2",
                             "give e.g. --per-m2 0.1 (one person per 10 m2)")
        for k in table:
            if k not in UNOCCUPIED_KINDS:
                table[k] = {s: float(per_m2) for s in table[k]}
    for kind, per in (by_kind or {}).items():
        if not isinstance(per, dict):
            raise InputError("by_kind", str(kind), "must map scenario names to persons per m2",
                             "give e.g. {'quarters': {'night': 0.2}}")
        for s, v in per.items():
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not np.isfinite(v) or v < 0:
                raise InputError("by_kind", f"{kind}.{s}", f"is {v!r}", "give a non-negative number of persons per m2")
        table.setdefault(str(kind).lower(), {}).update({str(s): float(v) for s, v in per.items()})
    return table


def round_counts(expected: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Whole persons per cell, column by column: floors plus the remainder given to the largest
    fractions (ties broken by a shuffle seeded with `seed`); each column's total is its rounded sum."""
    out = {}
    rng = np.random.default_rng(seed)
    for col in expected.columns:
        x = np.clip(expected[col].to_numpy(dtype=float), 0, None)
        base = np.floor(x + 1e-9)
        rem = x - base
        extra = int(np.floor(x.sum() + 0.5 + 1e-9)) - int(base.sum())   # total rounded half up
        tie = rng.random(len(x))
        order = np.lexsort((tie, -np.round(rem, 9)))
        add = np.zeros(len(x))
        add[order[:max(0, extra)]] = 1
        out[col] = (base + add).astype(np.int64)
    return pd.DataFrame(out, index=expected.index)


def expected_residents(rooms: pd.DataFrame, area_m2: np.ndarray, scenarios: list[str],
                       table: dict[str, dict[str, float]]) -> pd.DataFrame:
    """Expected (fractional) persons per room and scenario: area x density(kind, scenario).

    Kinds missing from `table` use 'other'; scenarios missing from a kind's row use 0.
    """
    kinds = rooms["kind"].astype(str).str.lower().to_numpy()
    fallback = table.get("other", {})
    data = {}
    for s in scenarios:
        dens = np.array([table.get(k, fallback).get(s, 0.0) for k in kinds], dtype=float)
        data[s] = area_m2 * dens
    return pd.DataFrame(data, index=rooms["room_id"].to_numpy())


def fill_residents(station_dir: str | Path, per_m2: float | None = None,
                   by_kind: dict[str, dict[str, float]] | None = None, seed: int = 0) -> pd.DataFrame:
    """Write `station_dir/residents.csv` with plausible whole-person counts; return the table.

    Scenario columns of an existing residents table are filled (night, day, evening
    by default; other scenario columns are filled from `per_m2` when given, else
    kept); other columns (priority, notes) and rows of unknown rooms are kept.
    Every room gets a row. The table's `attrs["totals"]` holds persons per scenario.
    Written atomically (temporary file, then moved into place).
    """
    folder = Path(station_dir)
    if not folder.is_dir():
        raise InputError(str(folder), "station folder", "does not exist", "give a station folder with rooms.geojson")
    rooms_path = _find(folder, "rooms", (".geojson", ".json", ".gpkg"))
    gpkg = _find(folder, "station", (".gpkg",))
    if rooms_path is not None:
        rooms = normalise_rooms(_read_layer(rooms_path), str(rooms_path))
    elif gpkg is not None:
        rooms = normalise_rooms(_read_layer(gpkg, "rooms"), str(gpkg))
    else:
        raise InputError(str(folder / "rooms.geojson"), "file", "is missing", "add rooms.geojson first")
    rooms = rooms.drop_duplicates("room_id")
    table = densities(per_m2, by_kind)
    res_path = _find(folder, "residents", (".csv", ".xlsx"))
    if res_path is not None:
        old = read_residents(res_path)
        scen = scenario_columns(old) or list(SCENARIOS)
    else:
        old = pd.DataFrame({"room_id": pd.Series(dtype=str)})
        scen = list(SCENARIOS)
    known = {s for row in table.values() for s in row}
    fill_cols = [s for s in scen if s in known or per_m2 is not None]
    if per_m2 is not None:  # scenario columns with no default profile: per_m2 where people stay
        for k, row in table.items():
            for s in fill_cols:
                if s not in row:
                    row[s] = row.get("day", 0.0) if k in UNOCCUPIED_KINDS else float(per_m2)
    counts = round_counts(expected_residents(rooms, rooms.geometry.area.to_numpy(), fill_cols, table), seed)
    # merge: keep the table's columns and rows, one row per room
    res = old.copy()
    for s in scen:
        if s not in res.columns:
            res[s] = 0
    res = res.drop_duplicates("room_id", keep="first")
    have = set(res["room_id"].astype(str))
    missing = [r for r in rooms["room_id"] if r not in have]
    if missing:
        res = pd.concat([res, pd.DataFrame({"room_id": missing})], ignore_index=True)
    idx = res["room_id"].astype(str)
    in_rooms = idx.isin(counts.index).to_numpy()
    for s in scen:
        col = pd.to_numeric(res[s], errors="coerce")
        if s in fill_cols:
            col = col.where(~in_rooms, counts[s].reindex(idx).to_numpy())
        res[s] = col.fillna(0).round().astype(np.int64)
    order = ["room_id"] + scen + [c for c in res.columns if c not in scen and c != "room_id"]
    res = res[order]
    _write_csv_atomic(folder / "residents.csv", res)
    res.attrs["totals"] = {s: int(res[s].sum()) for s in scen}
    res.attrs["filled"] = fill_cols
    return res


def _write_csv_atomic(path: Path, df: pd.DataFrame) -> None:
    """Write a CSV to a temporary file beside `path`, then move it into place."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".residents.", suffix=".csv.tmp", dir=path.parent)
        umask_mode(tmp)
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            df.to_csv(fh, index=False)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)
        raise OutputError(f"{path}: cannot be written ({exc}). Fix: check the folder's permissions") from None
