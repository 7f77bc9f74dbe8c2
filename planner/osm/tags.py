"""OSM indoor tags: the default categories and names, levels, and how an element is classified (see `planner.osm`)."""

from __future__ import annotations

import math
import re


from planner.indoor import (
    DEFAULT_CATEGORIES,
    SKIP,
)
from planner.osm.read import Element


OSM_CATEGORIES: dict[str, str] = {
    **DEFAULT_CATEGORIES,
    "room": "other", "area": "lobby", "yes": "other", "corridor": "corridor", "hall": "lobby",
    "toilets": "hygiene", "toilet": "hygiene", "wc": "hygiene", "shower": "hygiene", "bathroom": "hygiene",
    "kitchen": "galley", "canteen": "galley", "restaurant": "galley", "cafe": "galley",
    "class": "classroom", "lecture": "auditorium", "lecture_hall": "auditorium", "computer": "classroom",
    "technical": "utility", "server": "utility", "technical_room": "utility", "storage": "storage",
    "store": "storage", "storeroom": "storage", "office": "office", "conference": "office", "meeting": "office",
    "bedroom": "quarters", "sleeping": "quarters", "dormitory": "quarters", "apartment": "quarters",
    "steps": "stairs", "stairs": "stairs", "elevator": "lift", "lift": "lift", "laboratory": "lab",
    "library": "recreation", "hospital": "medical", "doctors": "medical", "reception": "lobby",
    "wall": SKIP, "column": SKIP, "shaft": SKIP, "void": SKIP, "structure": SKIP,
}
"""OSM tag value (room=*, amenity=*, indoor=*, ...) -> planner kind."""

OSM_NAMES: dict[str, str] = {
    "stair": "stairs", "staircase": "stairs", "treppe": "stairs", "lift": "lift", "elevator": "lift",
    "aufzug": "lift", "toilet": "hygiene", "wc": "hygiene", "restroom": "hygiene", "storage": "storage",
    "store room": "storage", "storeroom": "storage", "lager": "storage", "corridor": "corridor",
    "hallway": "corridor", "flur": "corridor", "foyer": "lobby", "lobby": "lobby", "office": "office",
    "kitchen": "galley", "laboratory": "lab", "lab ": "lab", "classroom": "classroom", "bedroom": "quarters",
    "dorm": "quarters", "apartment": "quarters", "lecture hall": "auditorium", "auditorium": "auditorium",
    "library": "recreation", "lounge": "recreation", "gym": "recreation", "server": "utility",
    "technical": "utility",
}
"""Words that give a kind when a room's tags say only "room" or "area" (start of a word, any case)."""

GENERIC = frozenset({"room", "area", "yes", ""})
"""Categories that say less than a room's name."""

DOOR_SNAP_M = 0.35
"""A door node this close (metres) to an area's outline opens into it."""
PASSAGE_SNAP_M = 0.6
"""A passage way whose tags name no areas joins the areas within this distance (metres)."""
BUILDING_GAP_M = 2.0
"""Rooms closer than this in plan (any level) belong to one building."""
MIN_ROOM_M2 = 0.2
"""Areas smaller than this (m2) are not rooms (drawing slivers)."""

AREA_INDOOR = {"room", "corridor", "area"}
FLOOR_INDOOR = {"level", "floor"}
SKIP_INDOOR = {"wall", "column", "door", "window"}


# ------------------------------------------------------------------------ levels
_RANGE = re.compile(r"^\s*(-?\d+)\s*-\s*(-?\d+)\s*$")


def parse_levels(text: str) -> list[float]:
    """Levels of an OSM `level` / `repeat_on` value: "0", "-1", "0;1", "1-3", "0.5", "1,2"."""
    out: list[float] = []
    for part in re.split(r"[;,]", str(text or "")):
        part = part.strip()
        if not part:
            continue
        m = _RANGE.match(part)
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            if lo > hi:
                lo, hi = hi, lo
            if hi - lo <= 50:
                out.extend(float(x) for x in range(lo, hi + 1))
                continue
        try:
            v = float(part)
        except ValueError:
            continue
        if math.isfinite(v):
            out.append(v)
    return sorted(set(out))


def _level_label(v: float) -> str:
    return f"{v:g}"


# ------------------------------------------------------------------------ classification
def _first(tags: dict[str, str], keys: tuple[str, ...]) -> str:
    for k in keys:
        v = tags.get(k, "").strip().lower()
        if v and v not in ("no",):
            return v
    return ""


def _category(tags: dict[str, str]) -> str:
    """The most specific kind-bearing tag value of an area (for the mapping)."""
    v = _first(tags, ("room", "amenity", "shop", "healthcare"))
    if v:
        return v
    if tags.get("office"):
        return "office"
    hw = tags.get("highway", "").lower()
    if hw in ("elevator", "steps"):
        return hw
    if tags.get("stairs", "").lower() in ("yes", "true") or tags.get("indoor", "").lower() == "stairs":
        return "stairs"
    if tags.get("elevator", "").lower() in ("yes", "true") or tags.get("lift", "").lower() in ("yes", "true"):
        return "elevator"
    at = tags.get("osmAG:areaType", tags.get("osmag:areatype", "")).lower()
    if at:
        return at
    return tags.get("indoor", "").lower()


def _is_area(e: Element) -> bool:
    t = e.tags
    ind = t.get("indoor", "").lower()
    return (ind in AREA_INDOOR or "room" in t or t.get("osmAG:type", "").lower() == "area"
            or (ind == "" and (t.get("highway", "").lower() in ("elevator", "steps") or t.get("stairs") == "yes")
                and "level" in t))


def _is_floor(e: Element) -> bool:
    t = e.tags
    return (t.get("indoor", "").lower() in FLOOR_INDOOR
            or t.get("osmAG:areaType", "").lower() == "structure")


def _is_building(e: Element) -> bool:
    t = e.tags
    return bool(t.get("building")) and t.get("building") != "no" and "indoor" not in t and "level" not in t


def _is_door_node(e: Element) -> bool:
    t = e.tags
    return (t.get("door", "no").lower() != "no" or t.get("indoor", "").lower() == "door"
            or t.get("entrance", "no").lower() != "no")


_PASSAGE_FROM = ("osmAG:from", "osmag:from", "from", "door:from", "connects:from")
_PASSAGE_TO = ("osmAG:to", "osmag:to", "to", "door:to", "connects:to")


def _is_passage(e: Element) -> bool:
    t = e.tags
    return (t.get("osmAG:type", t.get("osmag:type", "")).lower() == "passage" or t.get("indoor", "").lower() == "door"
            or t.get("door", "no").lower() != "no" or "passage" in t
            or (any(k in t for k in _PASSAGE_FROM) and any(k in t for k in _PASSAGE_TO)))


def _width(tags: dict[str, str]) -> float | None:
    for k in ("width", "door:width", "est_width"):
        v = tags.get(k)
        if v:
            m = re.match(r"^\s*([0-9]+(?:[.,][0-9]+)?)\s*(m|cm|mm)?\s*$", v)
            if m:
                x = float(m.group(1).replace(",", "."))
                unit = m.group(2) or ("cm" if x > 20 else "m")
                x = x / 100 if unit == "cm" else x / 1000 if unit == "mm" else x
                if 0.3 <= x <= 20:
                    return x
    return None
