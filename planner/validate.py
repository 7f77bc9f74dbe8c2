"""Input validation: every problem of a station's inputs, reported at once.

`validate_station` returns a list of `Finding`s (errors and warnings), each naming
the file, the feature (room / door / column id), what is wrong and how to fix it.
`require_valid` raises `planner.errors.ValidationFailed` when any is an error.
`summarize` describes a station in a few small tables.

Checks are vectorised (shapely 2 STRtree, numpy, scipy sparse graphs), so a
30,000-room station validates in seconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from planner.errors import ValidationFailed
from planner.indoor import looks_like_degrees
from planner.network import unwalkable_rooms
from planner.params import CIRCULATION_KINDS, CONVERSION_MODES, KNOWN_KINDS
from planner.station import Station

OVERLAP_TOLERANCE_M2 = 0.01
"""Overlap area between two rooms of the same deck tolerated as drawing noise (m2)."""
OVERLAP_SHRINK_M = 0.001
"""Rooms are shrunk by this much (metres) before looking for overlaps: shared walls are not overlaps."""
QUARTERS_M2_PER_RESIDENT_WARN = 2.0
"""Quarters with less floor area per resident than this (m2/person) get a warning."""
ROOM_M2_PER_PERSON_WARN = 0.46
"""Any room with less floor area per person than this (m2/person, tornado standing room) gets a warning."""
MAX_NAMES = 12
"""How many ids a single finding lists before saying 'and N more'."""


@dataclass
class Finding:
    """One validation result. `level` is 'error' or 'warning'."""

    level: str
    file: str
    feature: str
    problem: str
    fix: str

    def __str__(self) -> str:
        text = f"{self.file}: {self.feature} {self.problem}"
        return text + (f". Fix: {self.fix}" if self.fix else "")


def _names(ids: list[str] | np.ndarray, limit: int = MAX_NAMES) -> str:
    ids = [str(i) for i in ids]
    if len(ids) <= limit:
        return ", ".join(ids)
    return ", ".join(ids[:limit]) + f" and {len(ids) - limit} more"


def _file(station: Station, key: str, default: str) -> str:
    p = station.files.get(key)
    if p is not None:
        return str(p)
    return str(Path(station.folder) / default) if station.folder is not None else default


def _missing_id(s: pd.Series) -> np.ndarray:
    return s.isin(["", "nan", "None", "NaN", "<NA>"]).to_numpy()


# ---------------------------------------------------------------------- rooms
def _check_rooms(station: Station, out: list[Finding]) -> np.ndarray:
    """Geometry, ids and kinds of rooms. Returns a mask of rooms with usable polygons."""
    f = _file(station, "rooms", "rooms.geojson")
    rooms = station.rooms
    ids = rooms["room_id"].astype(str)
    geom = rooms.geometry.to_numpy()
    n = len(rooms)
    if n == 0:
        out.append(Finding("error", f, "rooms", "are missing: the file has no features",
                           "draw one polygon per space with room_id, kind, sector and deck"))
        return np.zeros(0, bool)

    missing = _missing_id(ids)
    for i in np.flatnonzero(missing):
        out.append(Finding("error", f, f"feature #{i + 1}", "has no room_id",
                           "give every room a unique room_id"))
    dup = ids.duplicated(keep=False).to_numpy() & ~missing
    for rid, grp in pd.Series(np.flatnonzero(dup) + 1).groupby(ids[dup].to_numpy()):
        out.append(Finding("error", f, f"room {rid}", f"is used by {len(grp)} features (#{', #'.join(map(str, grp))})",
                           "give every room a unique room_id"))

    null = shapely.is_missing(geom) | shapely.is_empty(geom)
    type_id = np.where(null, -1, shapely.get_type_id(geom))
    polygon = type_id == 3
    multi = type_id == 6
    for i in np.flatnonzero(null):
        out.append(Finding("error", f, f"room {ids.iat[i]}", "has no geometry",
                           "draw the room as a polygon in metres"))
    for i in np.flatnonzero(multi):
        parts = shapely.get_num_geometries(geom[i])
        out.append(Finding("error", f, f"room {ids.iat[i]}", f"is a MultiPolygon of {parts} parts",
                           "split it into one room per part (each with its own room_id and doors)"))
    for i in np.flatnonzero(~null & ~polygon & ~multi):
        out.append(Finding("error", f, f"room {ids.iat[i]}", f"is a {geom[i].geom_type}, not a polygon",
                           "draw the room as a closed polygon"))
    valid = np.zeros(n, bool)
    if polygon.any():
        valid[polygon] = shapely.is_valid(geom[polygon])
    for i in np.flatnonzero(polygon & ~valid):
        reason = shapely.is_valid_reason(geom[i])
        repaired = shapely.make_valid(geom[i])
        polys = shapely.get_parts(repaired)
        polys = [p for p in polys if p.geom_type in ("Polygon", "MultiPolygon")]
        rep = shapely.union_all(polys) if polys else repaired
        wkt = shapely.to_wkt(shapely.set_precision(rep, 0.001) if not rep.is_empty else rep, rounding_precision=3)
        if len(wkt) > 160:
            wkt = wkt[:157] + "..."
        out.append(Finding("error", f, f"room {ids.iat[i]}", f"has an invalid polygon ({reason})",
                           f"redraw it without crossing edges; the repaired shape would be {rep.geom_type} "
                           f"of area {rep.area:.2f} m2 (drawn area {abs(shapely.area(geom[i])):.2f} m2): {wkt}"))
    area = np.where(polygon & valid, shapely.area(np.where(polygon, geom, None)), 0.0)
    tiny = polygon & valid & (area <= 1e-9)
    for i in np.flatnonzero(tiny):
        out.append(Finding("error", f, f"room {ids.iat[i]}", "has zero area", "draw the room's real outline"))
    usable = polygon & valid & ~tiny

    kinds = rooms["kind"].astype(str)
    no_kind = (kinds == "").to_numpy()
    unknown = ~kinds.isin(KNOWN_KINDS).to_numpy() & ~no_kind
    known = ", ".join(KNOWN_KINDS)
    for kind, grp in pd.Series(ids[unknown].to_numpy()).groupby(kinds[unknown].to_numpy()):
        out.append(Finding("error", f, f"room{'s' if len(grp) > 1 else ''} {_names(grp.tolist())}",
                           f"{'have' if len(grp) > 1 else 'has'} unknown kind {kind!r}",
                           f"use one of: {known}"))
    if no_kind.any():
        out.append(Finding("error", f, f"room{'s' if no_kind.sum() > 1 else ''} {_names(ids[no_kind].tolist())}",
                           "has no kind", f"give a kind among: {known}"))
    both = (rooms["existing"].astype(bool) & rooms["protected"].astype(bool)).to_numpy()
    for i in np.flatnonzero(both):
        out.append(Finding("warning", f, f"room {ids.iat[i]}", "is flagged both existing and protected; "
                           "it is kept as an existing safe room", "clear one of the two flags"))
    _check_overlaps(station, usable, out)
    _check_conversion(station, ids, out)
    return usable


def _check_conversion(station: Station, ids: pd.Series, out: list[Finding]) -> None:
    """Each room's optional `mode` (dual_use / repurpose / either) and `beds` (whole, 0 or more)."""
    f = _file(station, "rooms", "rooms.geojson")
    rooms = station.rooms
    if "mode" in rooms.columns:
        mode = rooms["mode"].to_numpy(dtype=object)
        bad = pd.notna(mode) & ~np.isin(mode.astype(str), CONVERSION_MODES)
        for i in np.flatnonzero(bad):
            out.append(Finding("error", f, f"room {ids.iat[i]}", f"has mode {mode[i]!r}",
                               f"use one of {', '.join(CONVERSION_MODES)}, or leave it out (the kind's mode applies)"))
    if "beds" in rooms.columns:
        beds = pd.to_numeric(rooms["beds"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bad = np.isfinite(beds) & ((beds < 0) | (np.abs(beds - np.round(beds)) > 1e-9))
        for i in np.flatnonzero(bad):
            out.append(Finding("error", f, f"room {ids.iat[i]}", f"has beds {beds[i]:g}",
                               "give a whole number of beds (0 or more), or leave it out"))


def _check_overlaps(station: Station, usable: np.ndarray, out: list[Finding]) -> None:
    """Rooms on the same deck overlapping by more than OVERLAP_TOLERANCE_M2.

    Per deck, the polygons are shrunk by OVERLAP_SHRINK_M so that rooms merely sharing
    a wall no longer intersect; only the pairs still intersecting (an STRtree query)
    get their overlap area computed, vectorised.
    """
    f = _file(station, "rooms", "rooms.geojson")
    idx_all = np.flatnonzero(usable)
    if len(idx_all) < 2:
        return
    geom_all = station.rooms.geometry.to_numpy()
    deck_all = station.rooms["deck"].to_numpy()
    ids_all = station.rooms["room_id"].to_numpy()
    for deck in np.unique(deck_all[idx_all]):
        idx = idx_all[deck_all[idx_all] == deck]
        if len(idx) < 2:
            continue
        geom = geom_all[idx]
        shrunk = shapely.buffer(geom, -OVERLAP_SHRINK_M, join_style="mitre")
        a, b = shapely.STRtree(shrunk).query(shrunk, predicate="intersects")
        keep = a < b
        a, b = a[keep], b[keep]
        if not len(a):
            continue
        inter = shapely.area(shapely.intersection(geom[a], geom[b]))
        bad = inter > OVERLAP_TOLERANCE_M2
        for i, j, ar in zip(a[bad], b[bad], inter[bad]):
            out.append(Finding("error", f, f"room {ids_all[idx[i]]}",
                               f"overlaps room {ids_all[idx[j]]} by {ar:.2f} m2 on deck {deck}",
                               f"redraw the shared wall so that the two polygons only touch "
                               f"(up to {OVERLAP_TOLERANCE_M2} m2 overlap is tolerated)"))


# ---------------------------------------------------------------------- doors
def _check_doors(station: Station, usable: np.ndarray, out: list[Finding]) -> None:  # noqa: C901  debt: issue 16 (complexity 21)
    f = _file(station, "doors", "doors.geojson")
    fr = _file(station, "rooms", "rooms.geojson")
    doors = station.doors
    rooms = station.rooms
    p = station.params
    room_ids = rooms["room_id"].astype(str)
    known_rooms = set(room_ids)
    n = len(doors)
    if n == 0:
        if len(rooms) > 1:
            out.append(Finding("error", f, "doors", "are missing: the file has no features, so no room can be left "
                               "or reached (imports from OpenStreetMap, GIS or CAD often carry no doors)",
                               "run `planner doors infer STATION` to add doors on the walls rooms share with "
                               "corridors (each flagged inferred), or draw one line (door leaf on the shared wall) "
                               "or point per door, with door_id and width_m"))
        return
    else:
        ids = doors["door_id"].astype(str)
        geom = doors.geometry.to_numpy()
        missing = _missing_id(ids)
        for i in np.flatnonzero(missing):
            out.append(Finding("error", f, f"feature #{i + 1}", "has no door_id", "give every door a unique door_id"))
        dup = ids.duplicated(keep=False).to_numpy() & ~missing
        for did, grp in pd.Series(np.flatnonzero(dup) + 1).groupby(ids[dup].to_numpy()):
            out.append(Finding("error", f, f"door {did}", f"is used by {len(grp)} features (#{', #'.join(map(str, grp))})",
                               "give every door a unique door_id"))
        null = shapely.is_missing(geom) | shapely.is_empty(geom)
        tid = np.where(null, -1, shapely.get_type_id(np.where(null, None, geom)))
        line_or_point = np.isin(tid, (0, 1, 2))  # Point, LineString, LinearRing
        explicit = doors["explicit"].to_numpy(dtype=bool)
        for i in np.flatnonzero(null & ~explicit):
            out.append(Finding("error", f, f"door {ids.iat[i]}", "has no geometry and no from_room/to_room",
                               "draw the door leaf on the shared wall, or give from_room and to_room"))
        for i in np.flatnonzero(~null & ~line_or_point):
            out.append(Finding("error", f, f"door {ids.iat[i]}", f"is a {geom[i].geom_type}",
                               "draw a door as a line along the wall (the leaf) or a point"))

        # explicit room names that do not exist
        for col in ("from_room", "to_room"):
            given = doors[col].notna().to_numpy()
            vals = doors[col].astype(str).to_numpy()
            bad = given & ~doors[col].astype(str).isin(known_rooms).to_numpy()
            for i in np.flatnonzero(bad):
                out.append(Finding("error", f, f"door {ids.iat[i]}", f"has {col} {vals[i]!r}, which is not a room",
                                   f"give a room_id from {Path(fr).name}, or leave {col} empty to take it from the geometry"))
        fr_v, to_v = doors["from_room"], doors["to_room"]
        unresolved = (fr_v.isna() | to_v.isna()).to_numpy() & ~null
        touching = doors["touching"].to_numpy()
        deck = doors["deck"].to_numpy()
        for i in np.flatnonzero(unresolved):
            side = fr_v.iat[i] if fr_v.iat[i] is not None else None
            where = f" (only {side})" if side else ""
            out.append(Finding("error", f, f"door {ids.iat[i]}",
                               f"touches {int(touching[i])} space(s){where} on deck {deck[i]:g}, needs two",
                               f"move it onto the wall shared by two rooms (within {p.door_snap_m} m), "
                               "or give from_room and to_room"))
        same = (fr_v.notna() & (fr_v == to_v)).to_numpy()
        for i in np.flatnonzero(same):
            out.append(Finding("error", f, f"door {ids.iat[i]}", f"joins room {fr_v.iat[i]} to itself",
                               "give two different rooms in from_room and to_room"))

        width = doors["width_m"].to_numpy(dtype=float)
        nonpos = ~(width > 0)
        for i in np.flatnonzero(nonpos):
            out.append(Finding("error", f, f"door {ids.iat[i]}", f"has width_m {width[i]:g}",
                               f"give the clear width in metres (default {p.default_door_width_m})"))
        narrow = ~nonpos & (width <= 2 * p.door_boundary_layer_m)
        for i in np.flatnonzero(narrow):
            out.append(Finding("warning", f, f"door {ids.iat[i]}",
                               f"is {width[i]:g} m wide: with {p.door_boundary_layer_m} m boundary layers each side "
                               "no one passes it in an emergency (flow 0)",
                               "check the width (metres, not centimetres?); a safe room behind only this door "
                               "cannot be reached in time"))
        wide = width > 10
        for i in np.flatnonzero(wide):
            out.append(Finding("warning", f, f"door {ids.iat[i]}", f"is {width[i]:g} m wide",
                               "check the unit of width_m (metres)"))
        trav = doors["traverse_s"].to_numpy(dtype=float)
        for i in np.flatnonzero(trav < 0):
            out.append(Finding("error", f, f"door {ids.iat[i]}", f"has negative traverse_s {trav[i]:g}",
                               "give the time to traverse the link in seconds (>= 0)"))

    # rooms without doors, and connectivity over rooms joined by doors
    rid_pos = pd.Series(np.arange(len(rooms)), index=room_ids.to_numpy())
    rid_pos = rid_pos[~rid_pos.index.duplicated()]
    if n:
        a = rid_pos.reindex(doors["from_room"].astype(object)).to_numpy()
        b = rid_pos.reindex(doors["to_room"].astype(object)).to_numpy()
        ok = ~np.isnan(a) & ~np.isnan(b)
        a, b = a[ok].astype(int), b[ok].astype(int)
    else:
        a = b = np.zeros(0, int)
    m = len(rooms)
    has_door = np.zeros(m, bool)
    has_door[a] = True
    has_door[b] = True
    demand = _demand_any(station)
    cand = station.candidate_mask().to_numpy(dtype=bool)
    forced = (rooms["existing"].astype(bool) | rooms["room_id"].isin(p.require)).to_numpy()
    matters = demand | cand
    for i in np.flatnonzero(~has_door & (demand | forced)):
        why = "has residents" if demand[i] else "is an existing or required safe room"
        out.append(Finding("error", fr, f"room {room_ids.iat[i]}", f"has no door (and {why}): no one can walk in or out",
                           "add the door(s) of this room in doors.geojson, on the shared wall"))
    for i in np.flatnonzero(~has_door & cand & ~demand & ~forced):
        out.append(Finding("warning", fr, f"room {room_ids.iat[i]}",
                           "is a candidate safe room but has no door: it is left out of the candidates",
                           "add its door in doors.geojson (or run `planner doors infer`) if it may become a safe room"))
    lonely = ~has_door & ~matters
    if lonely.any() and m > 1:
        out.append(Finding("warning", fr, f"room{'s' if lonely.sum() > 1 else ''} {_names(room_ids[lonely].tolist())}",
                           ("have no door; they hold no one and are no candidates, so the planner ignores them"
                            if lonely.sum() > 1 else
                            "has no door; it holds no one and is no candidate, so the planner ignores it"),
                           "add their doors if people can be in them"))
    if m > 1 and len(a):
        g = coo_matrix((np.ones(len(a)), (a, b)), shape=(m, m)).tocsr()
        ncomp, labels = connected_components(g, directed=False)
        labels = np.where(has_door, labels, -1)
        sizes = pd.Series(labels[has_door]).value_counts()
        if len(sizes) > 1:
            main = sizes.index[0]
            for lab in sizes.index[1:]:
                members = np.flatnonzero(labels == lab)
                level = "error" if matters[members].any() else "warning"
                out.append(Finding(level, fr, f"room{'s' if len(members) > 1 else ''} {_names(room_ids.iloc[members].tolist())}",
                                   f"({len(members)} room(s) joined by their own doors) "
                                   f"{'are' if len(members) > 1 else 'is'} not connected to the rest of the station "
                                   f"({int(sizes[main])} rooms)",
                                   "add the missing door (or stairs link) joining them to a corridor"))


def _demand_any(station: Station) -> np.ndarray:
    """True for rooms with residents in some scenario (aligned with rooms)."""
    try:
        d = station.demand()
    except Exception:  # bad counts are reported by _check_residents
        return np.zeros(len(station.rooms), bool)
    return (d.to_numpy() > 0).any(axis=1) if d.shape[1] else np.zeros(len(station.rooms), bool)


# ------------------------------------------------------------------ residents
def _check_residents(station: Station, usable: np.ndarray, out: list[Finding]) -> None:  # noqa: C901  debt: issue 16 (complexity 16)
    f = _file(station, "residents", "residents.csv")
    res = station.residents
    rooms = station.rooms
    ids = rooms["room_id"].astype(str)
    missing_cols = [s for s in station.scenarios if s not in res.columns]
    if not station.scenarios or missing_cols:
        out.append(Finding("error", f, f"occupancy column{'s' if len(missing_cols) > 1 else ''} "
                           f"{', '.join(missing_cols) or '(none)'}", "is missing",
                           "add one count column per occupancy scenario (e.g. night, day, evening)"))
    scen = [s for s in station.scenarios if s in res.columns]
    rid = res["room_id"].astype(str)
    row_no = np.arange(len(res)) + 2  # spreadsheet row (header is row 1)
    unknown = ~rid.isin(set(ids)).to_numpy()
    bad_rows = np.flatnonzero(unknown)
    for i in bad_rows[:MAX_NAMES]:
        out.append(Finding("error", f, f"row {row_no[i]} room {rid.iat[i]}", "is not a room of the station",
                           "correct the room_id to one in rooms.geojson, or delete the row"))
    if len(bad_rows) > MAX_NAMES:  # a whole file of wrong ids: a count, not millions of lines
        out.append(Finding("error", f, f"and {len(bad_rows) - MAX_NAMES:,} more rows",
                           f"name rooms that are not rooms of the station ({len(bad_rows):,} of {len(rid):,} rows)",
                           "check that the residents table belongs to this station's rooms file"))
    dupl = rid.duplicated(keep=False).to_numpy() & ~unknown
    for r, grp in pd.Series(row_no[dupl]).groupby(rid[dupl].to_numpy()):
        out.append(Finding("warning", f, f"room {r}", f"appears on {len(grp)} rows ({', '.join(map(str, grp))}); "
                           "their counts are added", "keep one row per room"))
    for s in scen:
        raw = res[s]
        num = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        text = np.isnan(num) & raw.notna().to_numpy()
        blank = raw.isna().to_numpy()
        neg = num < 0
        frac = ~np.isnan(num) & ~neg & (np.abs(num - np.round(num)) > 1e-9)
        inf = np.isinf(num)
        for i in np.flatnonzero(text):
            out.append(Finding("error", f, f"row {row_no[i]} room {rid.iat[i]} column {s}",
                               f"is {raw.iat[i]!r}, not a number", "give a whole number of persons (0 if empty)"))
        for i in np.flatnonzero(blank):
            out.append(Finding("error", f, f"row {row_no[i]} room {rid.iat[i]} column {s}",
                               "is empty (NaN)", "give a whole number of persons (0 if nobody)"))
        for i in np.flatnonzero(neg):
            out.append(Finding("error", f, f"row {row_no[i]} room {rid.iat[i]} column {s}",
                               f"is negative ({num[i]:g})", "give a whole number of persons, 0 or more"))
        for i in np.flatnonzero(frac | (inf & ~neg)):
            out.append(Finding("error", f, f"row {row_no[i]} room {rid.iat[i]} column {s}",
                               f"is {num[i]:g}, not a whole number", "give a whole number of persons"))
    if "priority" in res.columns:
        raw = res["priority"]
        num = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        for i in np.flatnonzero(np.isnan(num) | (num < 0) | np.isinf(num)):
            out.append(Finding("error", f, f"row {row_no[i]} room {rid.iat[i]} column priority",
                               f"is {raw.iat[i]!r}" + (" (empty)" if pd.isna(raw.iat[i]) else ""),
                               "give a weight of 0 or more (1 = normal, 2 = counts double)"))

    # per room totals (valid numbers only)
    if not scen:
        return
    counts = res[scen].apply(pd.to_numeric, errors="coerce").fillna(0).clip(lower=0)
    by_room = counts.groupby(rid.to_numpy()).sum().reindex(ids.to_numpy()).fillna(0)
    peak = by_room.max(axis=1).to_numpy() if len(scen) else np.zeros(len(rooms))
    geom = rooms.geometry.to_numpy()
    area = np.zeros(len(rooms))
    area[usable] = shapely.area(geom[usable])
    zero = (peak > 0) & (area <= 1e-9)
    for i in np.flatnonzero(zero):
        out.append(Finding("error", f, f"room {ids.iat[i]}", f"has {peak[i]:g} residents but zero (or no valid) area",
                           "fix the room's polygon, or move the residents to the room they are in"))
    kinds = rooms["kind"].astype(str).to_numpy()
    ok = (peak > 0) & (area > 1e-9)
    crowded_q = ok & (kinds == "quarters") & (area / np.maximum(peak, 1) < QUARTERS_M2_PER_RESIDENT_WARN)
    for i in np.flatnonzero(crowded_q):
        out.append(Finding("warning", f, f"room {ids.iat[i]}",
                           f"is quarters of {area[i]:.1f} m2 with up to {peak[i]:g} residents "
                           f"(more than 1 per {QUARTERS_M2_PER_RESIDENT_WARN:g} m2)",
                           "check the counts (persons, not per cent?) and the polygon's unit (metres)"))
    packed = ok & (kinds != "quarters") & (area / np.maximum(peak, 1) < ROOM_M2_PER_PERSON_WARN)
    for i in np.flatnonzero(packed):
        out.append(Finding("warning", f, f"room {ids.iat[i]}",
                           f"holds up to {peak[i]:g} persons in {area[i]:.1f} m2 "
                           f"(less than {ROOM_M2_PER_PERSON_WARN} m2 each, standing room only)",
                           "check the counts and the polygon's unit (metres)"))
    circ = ok & pd.Series(kinds).isin(CIRCULATION_KINDS).to_numpy()
    for i in np.flatnonzero(circ):
        out.append(Finding("warning", f, f"room {ids.iat[i]}",
                           f"is a {kinds[i]} with up to {peak[i]:g} residents",
                           "people in corridors are usually counted in the rooms they live or work in"))


# ------------------------------------------------------------------ scenario
def _check_scenario(station: Station, usable: np.ndarray, out: list[Finding]) -> None:
    f = _file(station, "scenario", "scenario.toml")
    p = station.params
    ids = set(station.rooms["room_id"].astype(str))
    for key in ("protect", "require"):
        bad = [r for r in getattr(p, key) if r not in ids]
        if bad:
            out.append(Finding("error", f, f"[model] {key}", f"names rooms that do not exist: {_names(bad)}",
                               "give room_id values from rooms.geojson"))
    both = sorted(set(p.protect) & set(p.require))
    if both:
        out.append(Finding("error", f, "[model] protect/require", f"both list {_names(both)}",
                           "a room cannot be both protected and required: remove it from one list"))
    cand = station.candidate_mask().to_numpy(dtype=bool) & usable
    if not cand.any():
        out.append(Finding("error", _file(station, "rooms", "rooms.geojson"), "candidate sites",
                           f"are none: no unprotected room of a candidate kind ({', '.join(p.candidate_kinds)}) "
                           f"of at least {p.min_site_area_m2:g} m2, and no existing safe room: nothing to convert",
                           "set candidate = true on rooms that may be converted, widen [capacity] candidate_kinds, "
                           "or lift protected flags"))
        return
    if p.budget is not None:
        _check_budget(station, cand, out)


def _check_budget(station: Station, cand: np.ndarray, out: list[Finding]) -> None:
    """A budget too small to convert any candidate (when planner.costs is available)."""
    try:
        from planner.costs import site_costs
        from planner.sites import candidate_sites
    except ImportError:  # costs not built yet: nothing to compare
        return
    p = station.params
    sites = candidate_sites(station)
    if sites["existing"].any() or not len(sites):
        return
    costs = site_costs(sites, station)["total_cost"]
    cheapest = float(costs.min())
    if p.budget is not None and p.budget < cheapest:
        out.append(Finding("error", _file(station, "scenario", "scenario.toml"), "[model] budget",
                           f"is {p.budget:,.0f} {p.currency}, less than the cheapest conversion "
                           f"({costs.idxmin()}: {cheapest:,.0f} {p.currency}): nothing can be converted",
                           f"raise the budget to at least {cheapest:,.0f} {p.currency}"))


# ---------------------------------------------------------------------- api
def _check_degrees(station: Station, out: list[Finding]) -> bool:
    """True (and one error) when the rooms' coordinates are longitude/latitude degrees: within
    +-180 / +-90 and spanning less than a degree (every area and length would be wrong)."""
    g = station.rooms.geometry.to_numpy()
    ok = ~(shapely.is_missing(g) | shapely.is_empty(g))
    if not ok.any() or not looks_like_degrees(shapely.total_bounds(g[ok])):
        return False
    x0, y0, x1, y1 = shapely.total_bounds(g[ok])
    out.append(Finding("error", _file(station, "rooms", "rooms.geojson"), "coordinates",
                       f"are longitude/latitude degrees, not metres (x {x0:.5f} to {x1:.5f}, y {y0:.5f} to {y1:.5f}: "
                       "a building less than a degree across), so every area and walk would be near zero",
                       "import the plan with planner import-osm / import-gis / import-imdf, which project it to the "
                       "local UTM zone, or reproject the files to a metric CRS and write its \"crs\" member"))
    return True


def _with_names(station: Station, findings: list[Finding]) -> list[Finding]:
    """Findings whose feature names rooms by id also give their names ("room 3f2a... (Lab 2)")."""
    r = station.rooms
    if "name" not in r.columns or not len(r):
        return findings
    names = pd.Series(r["name"].fillna("").astype(str).to_numpy(), index=r["room_id"].astype(str).to_numpy())
    names = names[~names.index.duplicated()]
    names = names[(names != "") & (names != names.index)]
    if names.empty:
        return findings

    all_ids = set(r["room_id"].astype(str))

    def label(rid: str) -> str:
        nm = names.get(rid)
        return f"{rid} ({nm})" if nm else rid

    for f in findings:
        m = re.match(r"^(rooms?) (.+)$", f.feature)
        if not m:
            continue
        rest = m.group(2)
        tail = ""
        t = re.search(r"( and \d+ more)$", rest)
        if t:
            rest, tail = rest[: t.start()], t.group(1)
        head, _, extra = rest.partition(" column ")
        ids = head.split(", ")
        if not all(i in names.index or i in all_ids for i in ids):
            continue
        f.feature = f"{m.group(1)} " + ", ".join(label(i) for i in ids) + tail + (f" column {extra}" if extra else "")
    return findings


def validate_station(station: Station) -> list[Finding]:
    """Every problem of the station's inputs at once: errors first, then warnings. Rooms are
    named by id and name."""
    out: list[Finding] = []
    if _check_degrees(station, out):
        return out
    usable = _check_rooms(station, out)
    _check_doors(station, usable, out)
    _check_residents(station, usable, out)
    _check_scenario(station, usable, out)
    out = _with_names(station, out)
    return [x for x in out if x.level == "error"] + [x for x in out if x.level != "error"]


def walk_findings(station: Station) -> list[Finding]:
    """The rooms with a door that have points with no walk inside the room to a door
    (`planner.network.unwalkable_rooms`; it computes the in-room walks, so it is not part of
    `validate_station`): an error for rooms with residents, else a warning."""
    stuck = unwalkable_rooms(station)
    if not len(stuck):
        return []
    f = _file(station, "rooms", "rooms.geojson")
    occupied = pd.Series(_demand_any(station), index=station.rooms["room_id"].astype(str).to_numpy())
    occupied = occupied[~occupied.index.duplicated()]
    p = station.params
    out = []
    for r in stuck.itertuples(index=False):
        named = f"room {r.room_id}" + (f" ({r.name})" if r.name and r.name != r.room_id else "")
        level = "error" if bool(occupied.get(r.room_id, False)) else "warning"
        out.append(Finding(level, f, named,
                           f"has points from which no walk inside its outline reaches one of its {r.n_doors} "
                           f"door(s) within {2 * p.reach_s:g} s: its people could reach no safe room",
                           "draw the room as one polygon (or split it into rooms that each have a door), "
                           "or add a door to each part"))
    return [x for x in out if x.level == "error"] + [x for x in out if x.level != "error"]


def require_valid(station: Station) -> list[Finding]:
    """The warnings of `validate_station`; raises `ValidationFailed` if there is any error."""
    findings = validate_station(station)
    if any(x.level == "error" for x in findings):
        raise ValidationFailed(findings)
    return findings


def _table(df: pd.DataFrame) -> str:
    return "\n".join("  " + line for line in df.to_string().splitlines())


def summarize(station: Station) -> str:
    """A short description: rooms by kind and sector, decks, doors, residents, candidate sites."""
    from planner.sites import candidate_sites

    rooms = station.rooms
    p = station.params
    area = rooms.geometry.area
    demand = station.demand()
    fname = station.folder.resolve().name if station.folder is not None else ""
    folder = f" ({fname})" if fname and fname != station.title else ""
    lines = [f"{station.title}{folder}: {len(rooms):,} rooms, {len(station.doors):,} doors, "
             f"{p.deck_word}(s) {', '.join(str(d) for d in sorted(rooms['deck'].unique()))}"]
    kind = pd.DataFrame({"kind": rooms["kind"].to_numpy(), "area_m2": area.to_numpy(),
                         "residents": demand.max(axis=1).to_numpy() if demand.shape[1] else 0})
    by_kind = kind.groupby("kind").agg(rooms=("kind", "size"), area_m2=("area_m2", "sum"),
                                       peak_residents=("residents", "sum"))
    by_kind["area_m2"] = by_kind["area_m2"].round(0).astype(int)
    lines += ["", "Rooms by kind:", _table(by_kind)]
    sec = pd.DataFrame({"sector": rooms["sector"].replace("", "(none)").to_numpy(), "area_m2": area.to_numpy()})
    for s in station.scenarios:
        sec[s] = demand[s].to_numpy()
    by_sector = sec.groupby("sector").agg(rooms=("sector", "size"), area_m2=("area_m2", "sum"),
                                          **{s: (s, "sum") for s in station.scenarios})
    by_sector["area_m2"] = by_sector["area_m2"].round(0).astype(int)
    lines += ["", f"Rooms and residents by sector ({len(by_sector)} sectors):", _table(by_sector)]
    doors = station.doors
    vertical = int(doors["vertical"].sum()) if len(doors) else 0
    widths = doors["width_m"] if len(doors) else pd.Series([0.0])
    lines += ["", f"Doors: {len(doors):,} ({vertical:,} vertical links between decks), "
                  f"width {widths.min():.2f}-{widths.max():.2f} m"]
    lines += ["", "Residents per occupancy scenario: "
              + ", ".join(f"{s} {int(demand[s].sum()):,}" for s in station.scenarios)]
    sites = candidate_sites(station)
    lines += ["", f"Candidate sites: {len(sites):,} ({', '.join(f'{k} {v}' for k, v in sites['kind'].value_counts().items())}), "
                  f"total area {sites['area_m2'].sum():,.0f} m2, capacity {int(sites['capacity'].sum()):,} persons "
                  f"at {p.area_per_occupant_m2} m2 per occupant"]
    existing = rooms.loc[rooms["existing"].astype(bool), "room_id"].tolist()
    protected = rooms.loc[rooms["protected"].astype(bool) | rooms["room_id"].isin(p.protect), "room_id"].tolist()
    lines.append(f"Existing safe rooms: {len(existing)}" + (f" ({_names(existing)})" if existing else ""))
    lines.append(f"Protected rooms (never converted): {len(protected)}" + (f" ({_names(protected)})" if protected else ""))
    budget = "unlimited" if p.budget is None else f"{p.budget:,.0f} {p.currency}"
    lines.append(f"Reach {p.reach_s:g} s at {p.walk_speed_m_s:g} m/s; budget {budget}; objective {p.objective}; "
                 f"backup k = {p.backup_k}")
    return "\n".join(lines)
