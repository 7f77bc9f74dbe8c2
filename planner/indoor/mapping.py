"""The importers' kind mapping: default categories and vertical links, `Mapping`, `load_mapping` (see `planner.indoor`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from planner.errors import InputError
from planner.params import KNOWN_KINDS, Parameters, read_toml


SKIP = "skip"
"""Mapping value meaning "not a space" (walls, columns, voids): the unit is not imported (reported)."""

DEFAULT_CATEGORIES: dict[str, str] = {
    # circulation
    "walkway": "corridor", "walkway.island": "corridor", "hallway": "corridor", "corridor": "corridor",
    "footbridge": "corridor", "movingwalkway": "corridor", "platform": "corridor",
    "lobby": "lobby", "waitingroom": "lobby", "foyer": "lobby", "entrance": "lobby",
    "stairs": "stairs", "steps": "stairs", "escalator": "stairs", "ramp": "stairs", "staircase": "stairs",
    "elevator": "lift", "lift": "lift",
    # storage
    "storage": "storage", "mailroom": "storage", "wardrobe": "storage", "cloakroom": "storage",
    # work rooms
    "classroom": "classroom", "huddleroom": "classroom",
    "auditorium": "auditorium", "theater": "auditorium", "movietheater": "auditorium",
    "office": "office", "conferenceroom": "office", "phoneroom": "office", "administration": "office",
    "laboratory": "lab", "lab": "lab",
    # recreation
    "recreation": "recreation", "fitnessroom": "recreation", "fitness": "recreation", "lounge": "recreation",
    "privatelounge": "recreation", "library": "recreation", "smokingarea": "recreation",
    "terrace": "recreation", "unenclosedarea": "recreation", "fieldofplay": "recreation",
    # services
    "restroom": "hygiene", "shower": "hygiene", "mothersroom": "hygiene",
    "foodservice": "galley", "kitchen": "galley",
    "firstaid": "medical", "medical": "medical",
    "security": "operations",
    "nonpublic": "utility", "serverroom": "utility", "utility": "utility",
    "room": "other", "unspecified": "other", "shop": "other", "retail": "other",
    "parking": "other", "road": "other",
    # not spaces: structure and voids
    "brick": SKIP, "column": SKIP, "concrete": SKIP, "drywall": SKIP, "glass": SKIP, "wood": SKIP,
    "structure": SKIP, "vegetation": SKIP, "opentobelow": SKIP,
}
"""IMDF unit category (or its prefix before the first dot) -> planner kind."""

DEFAULT_VERTICAL: dict[str, float] = {
    "stairs_width_m": 1.2,   # clear width of a stair flight: the link's width (flow 0.88 p/s/m up)
    "lift_width_m": 0.9,     # lift car door
    "min_overlap_m2": 1.0,   # footprints of two stair units must overlap at least this much ...
    "min_overlap_frac": 0.1,  # ... and this share of the smaller footprint to form a link
}
"""Vertical-link defaults; override in the mapping TOML's [vertical] table (traverse times
default to `Parameters.stairs_traverse_s` / `lift_traverse_s`)."""

FIELD_KEYS = ("id", "name", "kind", "level", "residents", "sector")
"""Keys of a mapping's [fields] table (GIS attribute names)."""

VERTICAL_KINDS = ("stairs", "lift")

MIN_OVERLAP_REPAIR_M2 = 0.01
"""Overlaps between units of one level larger than this are cut out of the larger unit."""


# ------------------------------------------------------------------------ mapping
@dataclass
class Mapping:
    """Category mapping: exact/prefix table, size rules and vertical-link settings."""

    categories: dict[str, str]
    rules: list[dict[str, Any]]
    vertical: dict[str, float]
    source: str = "built-in"
    units: dict[str, str] = field(default_factory=dict)
    names: list[tuple[str, str]] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    generic: frozenset[str] = frozenset()

    def kind(self, category: str, area_m2: float, unit_id: str = "", name: str = "") -> tuple[str, str]:
        """(kind, rule) for a unit category, area (m2), id and name; kind '' = unknown category.

        Order: [units] by id, [[rules]], the category unless it is a generic one (`generic`,
        e.g. OSM's "room" or "area"), [names] (a word of the name, case-insensitive), then the
        generic category."""
        if unit_id in self.units:
            return self.units[unit_id], "unit override"
        if category in self.generic:
            for i, r in enumerate(self.rules, 1):
                if r["category"] in (category, category.split(".")[0]) and \
                        r.get("min_area_m2", -np.inf) <= area_m2 < r.get("max_area_m2", np.inf):
                    return r["kind"], f"rule {i}"
            hit = self.name_kind(name)
            if hit:
                return hit
        return self._by_category(category, area_m2, name)

    def name_kind(self, name: str) -> tuple[str, str] | None:
        """(kind, rule) from the first [names] entry found in `name` (case-insensitive), or None."""
        low = f" {name.casefold()} "
        for word, kind in self.names:
            if word in low:
                return kind, f"name {word.strip()!r}"
        return None

    def _by_category(self, category: str, area_m2: float, name: str) -> tuple[str, str]:
        for i, r in enumerate(self.rules, 1):
            if r["category"] in (category, category.split(".")[0]) and \
                    r.get("min_area_m2", -np.inf) <= area_m2 < r.get("max_area_m2", np.inf):
                return r["kind"], f"rule {i}"
        if category in self.categories:
            return self.categories[category], "category"
        prefix = category.split(".")[0]
        if prefix in self.categories:
            return self.categories[prefix], f"prefix {prefix}"
        hit = self.name_kind(name) if name else None
        if hit:
            return hit
        return "", "unknown"


def load_mapping(path: str | Path | None, params: Parameters | None = None,  # noqa: C901  debt: issue 16
                 defaults: dict[str, str] | None = None, names: dict[str, str] | None = None,
                 generic: frozenset[str] = frozenset()) -> Mapping:
    """The built-in mapping, updated by a TOML file::

        [categories]          # IMDF category = planner kind ("skip" = not a space)
        wardrobe = "storage"

        [[rules]]             # first match wins, before [categories]; area in m2
        category = "classroom"
        max_area_m2 = 25
        kind = "storage"

        [units]               # one unit's kind, by IMDF unit id (fixes mislabelled units)
        "98a21c1d-c7c7-4a42-a878-e69bd88b52f6" = "utility"

        [vertical]
        stairs_traverse_s = 12.0
        lift_traverse_s = 20.0
        stairs_width_m = 1.2

        [names]               # a word in a room's name = planner kind (OSM, GIS; case-insensitive)
        "store" = "storage"

        [fields]              # GIS layers: which attribute holds what (import-gis)
        id = "ROOM_NO"
        name = "NAME"
        kind = "USE"          # its values go through [categories] like a category
        level = "FLOOR"
        residents = "OCCUPANTS"

    `defaults` replaces the built-in category table (`DEFAULT_CATEGORIES`), `names` the
    built-in name words (none), `generic` the categories that say less than a name.
    """
    params = params or Parameters()
    cats = dict(DEFAULT_CATEGORIES if defaults is None else defaults)
    name_words = dict(names or {})
    vertical = dict(DEFAULT_VERTICAL, stairs_traverse_s=params.stairs_traverse_s, lift_traverse_s=params.lift_traverse_s)
    rules: list[dict[str, Any]] = []
    if path is None:
        return Mapping(cats, rules, vertical, names=_name_rules(name_words), generic=generic)
    path = Path(path)
    data = read_toml(path, "mapping TOML file")
    bad = set(data) - {"categories", "rules", "vertical", "units", "names", "fields"}
    if bad:
        raise InputError(str(path), f"[{sorted(bad)[0]}]", "is not a known section",
                         "use [categories], [[rules]], [units], [vertical], [names], [fields]")
    kinds_ok = set(KNOWN_KINDS) | {SKIP}
    for cat, kind in (data.get("categories") or {}).items():
        if not isinstance(kind, str) or kind.strip().lower() not in kinds_ok:
            raise InputError(str(path), f"[categories] {cat}", f"maps to {kind!r}, not a known kind",
                             f"use one of: {', '.join(sorted(kinds_ok))}")
        cats[str(cat).strip().lower()] = kind.strip().lower()
    units: dict[str, str] = {}
    for uid, kind in (data.get("units") or {}).items():
        if not isinstance(kind, str) or kind.strip().lower() not in kinds_ok:
            raise InputError(str(path), f"[units] {uid}", f"maps to {kind!r}, not a known kind",
                             f"use one of: {', '.join(sorted(kinds_ok))}")
        units[str(uid).strip()] = kind.strip().lower()
    for i, r in enumerate(data.get("rules") or [], 1):
        if not isinstance(r, dict) or "category" not in r or "kind" not in r:
            raise InputError(str(path), f"rules[{i}]", "needs category and kind", "write [[rules]] category = ..., kind = ...")
        extra = set(r) - {"category", "kind", "min_area_m2", "max_area_m2"}
        if extra:
            raise InputError(str(path), f"rules[{i}]", f"has unknown keys {sorted(extra)}",
                             "use category, kind, min_area_m2, max_area_m2")
        if str(r["kind"]).lower() not in kinds_ok:
            raise InputError(str(path), f"rules[{i}] kind", f"is {r['kind']!r}, not a known kind",
                             f"use one of: {', '.join(sorted(kinds_ok))}")
        for k in ("min_area_m2", "max_area_m2"):
            if k in r and (not isinstance(r[k], (int, float)) or isinstance(r[k], bool)):
                raise InputError(str(path), f"rules[{i}] {k}", f"is {r[k]!r}", "give a number of m2")
        rules.append({**r, "category": str(r["category"]).strip().lower(), "kind": str(r["kind"]).lower()})
    for k, v in (data.get("vertical") or {}).items():
        if k not in vertical:
            raise InputError(str(path), f"[vertical] {k}", "is not a known key", f"use {', '.join(sorted(vertical))}")
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
            raise InputError(str(path), f"[vertical] {k}", f"is {v!r}", "give a non-negative number")
        vertical[k] = float(v)
    for word, kind in (data.get("names") or {}).items():
        if not isinstance(kind, str) or kind.strip().lower() not in kinds_ok:
            raise InputError(str(path), f"[names] {word}", f"maps to {kind!r}, not a known kind",
                             f"use one of: {', '.join(sorted(kinds_ok))}")
        name_words[str(word)] = kind.strip().lower()
    flds: dict[str, str] = {}
    for k, v in (data.get("fields") or {}).items():
        if k not in FIELD_KEYS:
            raise InputError(str(path), f"[fields] {k}", "is not a known key", f"use {', '.join(FIELD_KEYS)}")
        if not isinstance(v, str) or not v.strip():
            raise InputError(str(path), f"[fields] {k}", f"is {v!r}", "give the attribute (column) name as text")
        flds[k] = v
    return Mapping(cats, rules, vertical, str(path), units, _name_rules(name_words), flds, generic)


def _name_rules(words: dict[str, str]) -> list[tuple[str, str]]:
    """[names] entries as (" " + word, kind), longest first: a word matches at the start of a
    word of the name ("stair" finds "Stairs 2" and "Main stair", not "Upstairs lounge")."""
    clean = {w.strip().casefold(): k for w, k in words.items() if w.strip()}
    return sorted(((" " + w, k) for w, k in clean.items()), key=lambda x: -len(x[0]))
