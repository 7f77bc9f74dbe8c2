"""The type of every input field, checked where the files are read, before anything is computed.

`planner.station.load_station` calls these on the features as read: a text where a number
belongs (``width_m: "wide"``), a flag that is not true or false (``protected: "ja"``), NaN or
3-D coordinates, control characters in names, counts no room can hold, a door whose line
is far from the rooms it names, mixed coordinate systems. Each problem names the file, the
feature (its id, or its position when it has none) and the fix; all of them are reported at
once (`planner.errors.ValidationFailed`, exit code 2), at most `MAX_PER_KIND` of one kind
one by one and the rest as a count, so that a huge broken file gives a short answer.

`planner.validate` judges the data once it is well-typed (overlaps, connectivity, ...).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

MAX_PER_KIND = 20
"""Problems of one kind listed one by one; the rest are counted in one summary line."""
MAX_PERSONS_PER_ROOM = 100_000
"""More residents than this in one room is a typing error (persons)."""
MAX_DOOR_WIDTH_M = 20.0
"""Widest door the planner accepts (metres)."""
DOOR_LINE_SLACK_M = 2.0
"""A door leaf may be drawn this much longer than its width (metres); longer lines are not doors."""
DOOR_OFF_ROOM_M = 1.0
"""A door naming its rooms (from_room/to_room) must lie within this distance of both (metres)."""
MAX_TRAVERSE_S = 3600.0
"""Longest traverse time of a vertical link (seconds)."""
TRUE_WORDS = frozenset({"true", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", ""})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class FieldProblem:
    """One badly typed field: the `file`, the `feature` (by id or position), the `problem`, the `fix`."""

    file: str
    feature: str
    problem: str
    fix: str
    level: str = "error"

    def __str__(self) -> str:
        return f"{self.file}: {self.feature} {self.problem}. Fix: {self.fix}"


class _Collector:
    """Problems by kind; the first `MAX_PER_KIND` of each kind kept, the others counted."""

    def __init__(self) -> None:
        self.kept: list[FieldProblem] = []
        self.count: dict[tuple[str, str], int] = defaultdict(int)
        self.example: dict[tuple[str, str], FieldProblem] = {}

    def add(self, kind: str, p: FieldProblem) -> None:
        key = (p.file, kind)
        self.count[key] += 1
        if self.count[key] <= MAX_PER_KIND:
            self.kept.append(p)
        else:
            self.example.setdefault(key, p)

    def problems(self) -> list[FieldProblem]:
        out = list(self.kept)
        for (file, kind), n in self.count.items():
            if n > MAX_PER_KIND:
                ex = self.example[(file, kind)]
                out.append(FieldProblem(file, f"and {n - MAX_PER_KIND:,} more features", f"with the same problem ({kind})",
                                        ex.fix))
        return out


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def _ids(gdf: pd.DataFrame, col: str, what: str) -> list[str]:
    """How to name each feature: '<what> <id>', or 'feature #n' when it has no id."""
    if col not in gdf.columns:
        return [f"feature #{i + 1}" for i in range(len(gdf))]
    return [f"feature #{i + 1}" if _missing(v) or str(v).strip() == "" else f"{what} {str(v).strip()}"
            for i, v in enumerate(gdf[col].tolist())]


def _number(v: Any) -> float | None:
    """`v` as a number, or None if it is not one (texts of numbers count; booleans do not)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            return None
    return None


def _check_geometry(gdf: pd.DataFrame, file: str, names: list[str], c: _Collector) -> None:
    geom = np.asarray(gdf.geometry.to_numpy(), dtype=object) if len(gdf) else np.zeros(0, dtype=object)
    present = ~(shapely.is_missing(geom) | shapely.is_empty(geom)) if len(geom) else np.zeros(0, bool)
    if not present.any():
        return
    idx = np.flatnonzero(present)
    coords, which = shapely.get_coordinates(geom[idx], include_z=True, return_index=True)
    bad = ~np.isfinite(coords[:, :2]).all(axis=1)
    for i in np.unique(which[bad]):
        c.add("coordinates not finite", FieldProblem(file, names[idx[i]], "has coordinates that are not finite numbers (NaN or infinity)",
                                                     "give every vertex two finite coordinates in metres"))
    has_z = shapely.has_z(geom[idx])
    for i in np.flatnonzero(has_z):
        c.add("3-D coordinates", FieldProblem(file, names[idx[i]], "has 3-D coordinates (x, y, z): a floor plan is 2-D, "
                                              "decks are given by the deck property",
                                              "drop the z values (keep x and y in metres) and give the deck"))


def _check_text(gdf: pd.DataFrame, file: str, names: list[str], cols: Iterable[str], c: _Collector) -> None:
    for col in cols:
        if col not in gdf.columns:
            continue
        for i, v in enumerate(gdf[col].tolist()):
            if _missing(v):
                continue
            if not isinstance(v, (str, int, np.integer)) or isinstance(v, bool):
                c.add(f"{col} not text", FieldProblem(file, names[i], f"has {col} {v!r}, which is not text",
                                                      f"give {col} as text"))
            elif isinstance(v, str) and _CONTROL.search(v):
                c.add(f"{col} control characters", FieldProblem(
                    file, names[i], f"has control characters in {col} {v!r}",
                    f"remove the control characters (tabs, line breaks, ...) from {col}"))


def _check_flags(gdf: pd.DataFrame, file: str, names: list[str], cols: Iterable[str], c: _Collector) -> None:
    for col in cols:
        if col not in gdf.columns:
            continue
        for i, v in enumerate(gdf[col].tolist()):
            if _missing(v) or isinstance(v, (bool, np.bool_)):
                continue
            if isinstance(v, (int, float, np.integer, np.floating)) and float(v) in (0.0, 1.0):
                continue
            if isinstance(v, str) and v.strip().lower() in TRUE_WORDS | FALSE_WORDS:
                continue
            c.add(f"{col} not a flag", FieldProblem(file, names[i], f"has {col} {v!r}, which is not true or false",
                                                    f"write {col}: true or false (JSON booleans)"))


def _check_numbers(gdf: pd.DataFrame, file: str, names: list[str], col: str, c: _Collector, *, lo: float,
                   hi: float, whole: bool = False, unit: str = "", lo_open: bool = False) -> None:
    if col not in gdf.columns:
        return
    for i, v in enumerate(gdf[col].tolist()):
        if _missing(v):
            continue
        x = _number(v)
        ok = x is not None and math.isfinite(x) and (x > lo if lo_open else x >= lo) and x <= hi
        if ok and whole and x is not None:
            ok = x.is_integer()
        if not ok:
            what = "a whole number" if whole else "a number"
            rng = f"{'more than' if lo_open else 'from'} {lo:g} {'to' if not lo_open else 'and at most'} {hi:g}{unit}"
            c.add(f"{col} invalid", FieldProblem(file, names[i], f"has {col} {v!r}, which is not {what} {rng}",
                                                 f"give {col} as {what} {rng}"))


def check_rooms(gdf: pd.DataFrame, file: str) -> list[FieldProblem]:
    """Type problems of the room features as read (see the module doc)."""
    c = _Collector()
    names = _ids(gdf, "room_id", "room")
    if "room_id" in gdf.columns:
        for i, v in enumerate(gdf["room_id"].tolist()):
            if _missing(v) or str(v).strip() == "":
                c.add("no room_id", FieldProblem(file, names[i], "has no room_id (null or empty)",
                                                 "give every room a unique room_id"))
    _check_text(gdf, file, names, ("room_id", "kind", "sector", "name"), c)
    _check_numbers(gdf, file, names, "deck", c, lo=-1000, hi=1000, whole=True)
    _check_flags(gdf, file, names, ("protected", "existing", "candidate"), c)
    _check_geometry(gdf, file, names, c)
    return c.problems()


def check_doors(gdf: pd.DataFrame, file: str) -> list[FieldProblem]:
    """Type problems of the door features as read (see the module doc)."""
    c = _Collector()
    names = _ids(gdf, "door_id", "door")
    if "door_id" in gdf.columns:
        for i, v in enumerate(gdf["door_id"].tolist()):
            if _missing(v) or str(v).strip() == "":
                c.add("no door_id", FieldProblem(file, names[i], "has no door_id (null or empty)",
                                                 "give every door a unique door_id"))
    _check_text(gdf, file, names, ("door_id", "from_room", "to_room"), c)
    _check_numbers(gdf, file, names, "width_m", c, lo=0.0, hi=MAX_DOOR_WIDTH_M, unit=" m", lo_open=True)
    _check_numbers(gdf, file, names, "deck", c, lo=-1000, hi=1000, whole=True)
    _check_numbers(gdf, file, names, "traverse_s", c, lo=0.0, hi=MAX_TRAVERSE_S, unit=" s")
    if len(gdf):
        geom = np.asarray(gdf.geometry.to_numpy(), dtype=object)
        none = shapely.is_missing(geom) | shapely.is_empty(geom)
        for i in map(int, np.flatnonzero(none)):
            c.add("door without geometry", FieldProblem(
                file, names[i], "has no geometry: where it is, and so every walk through it, is unknown",
                "draw the door leaf as a line on the shared wall (or a point), also when from_room/to_room are given"))
    _check_geometry(gdf, file, names, c)
    return c.problems()


def check_crs(rooms_crs: Any, doors_crs: Any, rooms_file: str, doors_file: str) -> list[FieldProblem]:
    """Rooms and doors declared in different coordinate systems."""
    if rooms_crs is not None and doors_crs is not None and rooms_crs != doors_crs:
        return [FieldProblem(doors_file, "crs", f"is {doors_crs.to_string()}, the rooms' ({rooms_file}) is "
                             f"{rooms_crs.to_string()}: doors would not lie on their walls",
                             "reproject both files to the same metric CRS")]
    return []


def check_door_placement(rooms: pd.DataFrame, doors: pd.DataFrame, file: str) -> list[FieldProblem]:
    """Doors as resolved: a door line much longer than its width, and a door naming rooms
    (from_room/to_room) that its geometry does not touch (which would shorten every walk)."""
    c = _Collector()
    if not len(doors):
        return []
    geom = doors.geometry.to_numpy()
    ok = ~(shapely.is_missing(geom) | shapely.is_empty(geom))
    ids = doors["door_id"].astype(str).to_numpy()
    width = doors["width_m"].to_numpy(dtype=float)
    length = np.where(ok, shapely.length(np.where(ok, geom, None)), 0.0)
    for i in np.flatnonzero(ok & (length > width + DOOR_LINE_SLACK_M)):
        c.add("door line too long", FieldProblem(
            file, f"door {ids[i]}", f"is a line of {length[i]:.1f} m for a door {width[i]:g} m wide",
            "draw the door leaf only (a line about as long as the door is wide) on the shared wall"))
    poly = pd.Series(rooms.geometry.to_numpy(), index=rooms["room_id"].astype(str).to_numpy())
    poly = poly[~poly.index.duplicated()]
    explicit = doors["explicit"].to_numpy(dtype=bool) if "explicit" in doors else np.zeros(len(doors), bool)
    vertical = doors["vertical"].to_numpy(dtype=bool) if "vertical" in doors else np.zeros(len(doors), bool)
    for col in ("from_room", "to_room"):
        rid = doors[col].astype(object).to_numpy()
        known = np.array([r is not None and r in poly.index for r in rid])
        sel = np.flatnonzero(ok & explicit & ~vertical & known)
        if not len(sel):
            continue
        dist = shapely.distance(geom[sel], poly.reindex(rid[sel]).to_numpy())
        for i, d in zip(sel, dist):
            if d > DOOR_OFF_ROOM_M:
                c.add("door off its room", FieldProblem(
                    file, f"door {ids[i]}", f"names {col} {rid[i]!r}, but its geometry is {d:.1f} m from that room",
                    "move the door onto the wall it opens, or correct from_room/to_room"))
    return c.problems()


def check_residents(path: Path, table: pd.DataFrame, header: list[str], scenarios: list[str]) -> list[FieldProblem]:
    """Residents as read: a column name given twice (pandas would rename it 'night.1'), texts
    with control characters, counts no room can hold."""
    c = _Collector()
    file = str(path)
    seen: set[str] = set()
    for h in header:
        if h in seen:
            c.add("duplicate column", FieldProblem(file, f"column {h!r}", "is given twice in the header row",
                                                   "give each occupancy scenario one column with a unique name"))
        seen.add(h)
    for h in header:
        if _CONTROL.search(h):
            c.add("column control characters", FieldProblem(file, f"column {h!r}", "has control characters in its name",
                                                            "name the column with plain text"))
    rid = table["room_id"].astype(str).to_numpy() if "room_id" in table else np.zeros(0, dtype=object)
    for i, r in enumerate(rid):
        if _CONTROL.search(r):
            c.add("room_id control characters", FieldProblem(file, f"row {i + 2} room_id {r!r}", "has control characters",
                                                             "give the room_id as plain text"))
    for s in scenarios:
        if s not in table:
            continue
        num = pd.to_numeric(table[s], errors="coerce").to_numpy(dtype=float)
        for i in map(int, np.flatnonzero(np.isfinite(num) & (num > MAX_PERSONS_PER_ROOM))):
            c.add("count too large", FieldProblem(file, f"row {i + 2} room {rid[i]} column {s}",
                                                  f"is {num[i]:g} persons, more than {MAX_PERSONS_PER_ROOM:,} in one room",
                                                  "give the number of persons who live or work in the room"))
    return c.problems()
