"""Shared parts of the floor-plan importers (`planner.imdf`, `planner.osm`, `planner.gis`).

- The kind mapping (`Mapping`, `load_mapping`): a category table, area rules, per-feature
  overrides, words in names, GIS field names and vertical-link settings, from a TOML file.
- Geometry repairs: `polygonal` (one polygon per room), `cut_overlaps` (overlaps cut out of
  the larger room), `to_local_utm` (WGS84 degrees to the local UTM zone, metres).
- `vertical_links`: stairs and lifts on consecutive decks joined by name or overlap.
- `infer_doors`: doors invented where a drawing has none (a room's longest wall with a
  corridor or hall, wider openings between corridors, then whatever joins the parts left),
  each flagged `inferred`.
- Writing a station folder atomically (`write_station_folder`, `feature_collection_text`) and
  Markdown tables for import reports (`md_table`).

Lengths are metres, areas m2. Functions take and return plain data (DataFrames, arrays).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from planner.errors import InputError, OutputError
from planner.files import umask_mode
from planner.params import CIRCULATION_KINDS, KNOWN_KINDS, Parameters
from planner.station import DOOR_COLUMNS, _find, _read_layer, load_station

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
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(str(path), "file", "does not exist", "give the path of a mapping TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(str(path), "TOML", f"cannot be parsed: {exc}", "fix the TOML syntax") from None
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


# ------------------------------------------------------------------------ selection
def match_tokens(tokens: list[str], table: pd.DataFrame, cols: list[str], what: str, src: str) -> np.ndarray:
    """Rows of `table` matched by any token (case-insensitive, on any of `cols`)."""
    keep = np.zeros(len(table), bool)
    for tok in tokens:
        t = str(tok).strip().casefold()
        hit = np.zeros(len(table), bool)
        for c in cols:
            hit |= table[c].astype(str).str.casefold().to_numpy() == t
        if not hit.any():
            for c in cols:
                hit |= table[c].astype(str).str.casefold().str.contains(t, regex=False).to_numpy() & (len(t) >= 3)
        if not hit.any():
            avail = "; ".join(f"{r['id']} ({r['label'] if 'label' in table.columns else r[cols[1]]})"
                              for _, r in table.iterrows())
            raise InputError(src, f"{what} {tok!r}", "matches nothing", f"give one of: {avail}")
        keep |= hit
    return keep


def polygonal(geom: shapely.Geometry, uid: str, repairs: list[str], what: str = "unit") -> shapely.Geometry | None:
    """A single Polygon: polygon parts of collections; the largest part of a multipolygon (reported)."""
    if geom is None or geom.is_empty:
        return None
    if geom.geom_type == "Polygon":
        return geom
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    polys = [q for p in parts for q in shapely.get_parts(p) if q.geom_type == "Polygon" and q.area > 0.01]
    if not polys:
        return None
    polys.sort(key=lambda q: -q.area)
    if len(polys) > 1:
        repairs.append(f"{what} {uid}: {len(polys)} separate parts; kept the largest ({polys[0].area:.1f} m2), "
                       f"dropped {sum(q.area for q in polys[1:]):.1f} m2")
    return polys[0]


def cut_overlaps(units: pd.DataFrame, repairs: list[str], level: str = "level_id", ident: str = "unit_id",
                 what: str = "unit") -> None:
    """Where units of one level overlap, cut the overlap out of the larger one (in place).

    Real data nests rooms inside corridors; walking must not cross a room drawn on top
    of a corridor, and doors on the nested room's edge must see the corridor on one side.
    """
    g = np.array(list(units["geometry"]), dtype=object)
    if len(g) < 2:
        return
    tree = shapely.STRtree(g)
    a, b = tree.query(g, predicate="intersects")
    lvl = units[level].to_numpy()
    m = (a < b) & (lvl[a] == lvl[b])
    a, b = a[m], b[m]
    if not len(a):
        return
    inter = shapely.area(shapely.intersection(g[a], g[b]))
    m = inter > MIN_OVERLAP_REPAIR_M2
    a, b, inter = a[m], b[m], inter[m]
    area = shapely.area(g)
    big = np.where(area[a] >= area[b], a, b)
    small = np.where(area[a] >= area[b], b, a)
    ids = units[ident].to_numpy()
    names = units["name"].to_numpy()
    for i in np.unique(big):
        sm = small[big == i]
        cut = shapely.union_all(g[sm])
        new = polygonal(shapely.difference(g[i], cut), ids[i], repairs, what)
        repairs.append(f"{what} {ids[i]} ({names[i] or 'unnamed'}) overlapped {len(sm)} unit(s) "
                       f"({', '.join(str(names[j] or ids[j]) for j in sm)}): "
                       f"{float(inter[big == i].sum()):.2f} m2 cut out of it")
        g[i] = new
    units["geometry"] = list(g)


def _clean(v: Any, key: str) -> Any:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (np.floating, float)):
        return None if np.isnan(v) else (int(v) if key == "deck" and float(v).is_integer() else float(v))
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def feature_collection_text(gdf: gpd.GeoDataFrame, epsg: int | None) -> str:
    """GeoJSON text of a GeoDataFrame, with a "crs" member naming `epsg` (geometries via shapely, vectorised)."""
    props = gdf.drop(columns=gdf.geometry.name)
    geoms = shapely.to_geojson(np.asarray(gdf.geometry.to_numpy(), dtype=object))
    parts = []
    for rec, g in zip(props.to_dict("records"), geoms):
        clean = {k: _clean(v, k) for k, v in rec.items()}
        parts.append('{"type": "Feature", "properties": ' + json.dumps(clean, ensure_ascii=False)
                     + ', "geometry": ' + g + "}")
    head = '{"type": "FeatureCollection", '
    if epsg:
        head += '"crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::%d"}}, ' % epsg
    return head + '"features": [\n' + ",\n".join(parts) + "\n]}\n"


def write_station_folder(out_dir: Path, rooms: gpd.GeoDataFrame, doors: gpd.GeoDataFrame, epsg: int | None,
                         texts: dict[str, str], overwrite: bool) -> None:
    """Write a station folder: rooms.geojson and doors.geojson (with a "crs" member naming
    `epsg`), residents.csv (zeros, or the `residents` column of `rooms` in every scenario when
    present) and the `texts` (file name -> content), into a temporary folder beside `out_dir`,
    then moved into place: a failed import leaves nothing half-written, and a non-empty
    `out_dir` is replaced only with `overwrite`."""
    parent = out_dir.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=parent))
        umask_mode(tmp)
        os.chmod(tmp, 0o755)
    except OSError as exc:
        raise OutputError(f"{out_dir}: cannot be created ({exc}). Fix: choose a writable --out") from None
    try:
        for name, gdf in (("rooms.geojson", rooms), ("doors.geojson", doors)):
            keep = gdf.drop(columns=[c for c in ("residents",) if c in gdf.columns])
            (tmp / name).write_text(feature_collection_text(keep, epsg), encoding="utf-8")
        n = (pd.to_numeric(rooms["residents"], errors="coerce").fillna(0).clip(lower=0).round().astype(int)
             if "residents" in rooms.columns else 0)
        res = pd.DataFrame({"room_id": rooms["room_id"], "night": n, "day": n, "evening": n})
        res.to_csv(tmp / "residents.csv", index=False)
        for name, text in texts.items():
            (tmp / name).write_text(text, encoding="utf-8")
        old = None
        if out_dir.exists():
            if any(out_dir.iterdir()) and not overwrite:
                raise OutputError(f"{out_dir}: exists and is not empty. Fix: pass --force to replace it")
            old = parent / f".{out_dir.name}.old-{os.getpid()}"
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def md_table(df: pd.DataFrame, limit: int | None = None) -> str:
    if df is None or not len(df):
        return "(none)\n"
    shown = df if limit is None else df.head(limit)
    cols = list(shown.columns)
    out = io.StringIO()
    out.write("| " + " | ".join(cols) + " |\n")
    out.write("|" + "|".join(" --- " for _ in cols) + "|\n")
    for rec in shown.itertuples(index=False):
        out.write("| " + " | ".join(str(v).replace("|", "/").replace("\n", " ") for v in rec) + " |\n")
    if limit is not None and len(df) > limit:
        out.write(f"\n... and {len(df) - limit} more\n")
    return out.getvalue()




# ------------------------------------------------------------------------ repairs
DUPLICATE_IOU = 0.8
"""Two rooms of one level overlapping this much (intersection over union) are one room drawn twice."""
FLOOR_OUTLINE_ROOMS = 3
"""A room holding at least this many other rooms of its level ..."""
FLOOR_OUTLINE_SHARE = 0.5
"""... and this share of their floor area is a floor outline, not a room."""


def _lv(v: Any) -> str:
    """A level for people: 1.0 -> "1"."""
    return f"{v:g}" if isinstance(v, (float, np.floating)) else str(v)


def drop_duplicate_drawings(r: pd.DataFrame, repairs: list[str], older: Callable[[int, int], bool],
                            on_drop: Callable[[int, str], None]) -> pd.DataFrame:
    """Rooms of one level drawn twice (intersection over union >= `DUPLICATE_IOU`): the older
    drawing (``older(i, j)``: row i is older than row j) goes. `r` needs room_id, name, level
    and geometry (metres); `on_drop(row, reason)` records each dropped row."""
    g = np.array(list(r["geometry"]), dtype=object)
    if len(g) < 2:
        return r
    tree = shapely.STRtree(g)
    a, b = tree.query(g, predicate="intersects")
    lv = r["level"].to_numpy()
    m = (a < b) & (lv[a] == lv[b])
    a, b = a[m], b[m]
    if not len(a):
        return r
    inter = shapely.area(shapely.intersection(g[a], g[b]))
    union = shapely.area(g[a]) + shapely.area(g[b]) - inter
    dup = inter >= DUPLICATE_IOU * np.maximum(union, 1e-9)
    gone: set[int] = set()
    ids, names = r["room_id"].astype(str).to_numpy(), r["name"].fillna("").astype(str).to_numpy()
    for i, j in zip(a[dup], b[dup]):
        i, j = int(i), int(j)
        if i in gone or j in gone:
            continue
        old, new = (i, j) if older(i, j) else (j, i)
        gone.add(old)
        repairs.append(f"{ids[old]} ({names[old] or 'unnamed'}) duplicates {ids[new]} ({names[new] or 'unnamed'}) "
                       f"on level {_lv(lv[old])}: the older drawing dropped")
        on_drop(old, f"duplicate of {ids[new]} (older drawing)")
    keep = np.ones(len(r), bool)
    keep[list(gone)] = False
    return r[keep].reset_index(drop=True)


def drop_floor_outlines(r: pd.DataFrame, repairs: list[str], circulation: np.ndarray,
                        on_drop: Callable[[int, str], None]) -> pd.DataFrame:
    """Rooms that hold most of their level's rooms (`FLOOR_OUTLINE_ROOMS`, `FLOOR_OUTLINE_SHARE`)
    are floor outlines drawn as rooms or corridors: dropped; when the level has no other
    circulation space (`circulation`: per row), the floor left over (outline minus rooms)
    stays as one corridor (its `category` set to "corridor"). `r` needs room_id, name, level,
    category and geometry (metres)."""
    g = np.array(list(r["geometry"]), dtype=object)
    if len(g) < FLOOR_OUTLINE_ROOMS + 1:
        return r
    area = shapely.area(g)
    tree = shapely.STRtree(g)
    a, b = tree.query(g, predicate="intersects")
    lv = r["level"].to_numpy()
    m = (a != b) & (lv[a] == lv[b]) & (area[a] > area[b])
    a, b = a[m], b[m]
    inside = shapely.area(shapely.intersection(g[a], g[b])) >= 0.9 * area[b]
    a, b = a[inside], b[inside]
    cnt = np.bincount(a, minlength=len(g))
    held = np.bincount(a, weights=area[b], minlength=len(g))
    lv_area = pd.Series(area).groupby(lv).sum()
    others = lv_area.reindex(lv).to_numpy() - area
    outline = (cnt >= FLOOR_OUTLINE_ROOMS) & (held >= FLOOR_OUTLINE_SHARE * np.maximum(others, 1e-9))
    if not outline.any():
        return r
    keep = ~outline
    extra = []
    for i in np.flatnonzero(outline):
        same = (lv == lv[i]) & keep
        rest = shapely.difference(g[i], shapely.union_all(g[same])) if same.any() else g[i]
        rest = polygonal(rest, str(r["room_id"].iat[i]), [], "room")
        label = f"{r['room_id'].iat[i]} ({r['name'].iat[i] or r['category'].iat[i] or 'unnamed'})"
        if not bool((circulation & same).any()) and rest is not None and rest.area >= 1.0:
            row = r.iloc[i].copy()
            row["geometry"] = rest
            row["category"] = "corridor"
            row["name"] = f"Floor space {_lv(lv[i])}"
            extra.append(row)
            repairs.append(f"{label} on level {_lv(lv[i])} outlines the whole floor ({cnt[i]} rooms inside): replaced by "
                           f"the floor space left between the rooms ({rest.area:.0f} m2), as a corridor")
        else:
            repairs.append(f"{label} on level {_lv(lv[i])} outlines the whole floor ({cnt[i]} rooms inside): dropped "
                           "(a floor outline, not a room)")
            on_drop(int(i), "floor outline drawn as a room or corridor")
    out = r[keep]
    if extra:
        out = pd.concat([out, pd.DataFrame(extra)], ignore_index=True)
    return out.reset_index(drop=True)


NEVER_CANDIDATE = ("corridor", "lobby", "stairs", "lift", "hygiene", "utility")
"""Kinds never offered as candidates by `fallback_candidate_kinds` (circulation, toilets, plant rooms)."""


def fallback_candidate_kinds(kinds: list[str] | pd.Series, params: Parameters) -> list[str] | None:
    """When no room has a candidate kind (`params.candidate_kinds`), the kinds of the rooms
    that could be converted instead (every kind present but circulation, hygiene and utility),
    for the imported scenario.toml; None when some room already has a candidate kind."""
    present = set(map(str, kinds))
    if present & set(params.candidate_kinds):
        return None
    return sorted(present - set(NEVER_CANDIDATE)) or None


def candidate_kinds_toml(kinds: list[str]) -> str:
    """The [capacity] table that sets `candidate_kinds` (scenario.toml text)."""
    return ("[capacity]\n# No room has a kind among the default candidates (storage, quarters, recreation), so every\n"
            "# room that is not circulation, a toilet or a plant room is a candidate: narrow this list to the\n"
            "# rooms that may really be converted (or give kinds with --mapping).\n"
            "candidate_kinds = [" + ", ".join(f'"{k}"' for k in kinds) + "]\n")


# ------------------------------------------------------------------------ coordinates
def looks_like_degrees(bounds: np.ndarray | tuple[float, float, float, float]) -> bool:
    """True when (minx, miny, maxx, maxy) lie within +-180 / +-90 and span less than a degree:
    longitude/latitude of one building rather than metres."""
    x0, y0, x1, y1 = (float(v) for v in bounds)
    if not all(np.isfinite([x0, y0, x1, y1])):
        return False
    inside = -180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90
    return bool(inside and (x1 - x0) < 1.0 and (y1 - y0) < 1.0)


def to_local_utm(geoms: np.ndarray, crs: Any = "EPSG:4326") -> tuple[np.ndarray, Any, int | None, str]:
    """Geometries in `crs` (default WGS84 longitude/latitude) projected to their local UTM zone:
    (geometries in metres, the pyproj CRS, its EPSG code or None, a name such as "EPSG:32633")."""
    gs = gpd.GeoSeries(list(geoms), crs=crs)
    utm = gs.estimate_utm_crs()
    out = gs.to_crs(utm).to_numpy()
    epsg = utm.to_epsg()
    return np.asarray(out, dtype=object), utm, epsg, (f"EPSG:{epsg}" if epsg else utm.to_string())


# ------------------------------------------------------------------------ vertical links
def _norm_name(s: pd.Series) -> np.ndarray:
    return s.fillna("").astype(str).str.casefold().str.replace(r"[^0-9a-z]+", " ", regex=True).str.strip().to_numpy()


def vertical_links(rooms: pd.DataFrame, mp: Mapping, group: str = "sector") -> pd.DataFrame:
    """Point doors (door_id, width_m, deck, from_room, to_room, traverse_s, geometry,
    link_by) joining stairs and lift rooms of consecutive decks of one `group` (building):
    pairs whose footprints overlap (at least `min_overlap_m2` and `min_overlap_frac` of the
    smaller), and pairs named alike (same name once case, spaces and punctuation are set
    aside). `rooms` needs room_id, kind, deck, name, `group` and geometry (metres)."""
    cols = ["door_id", "width_m", "deck", "from_room", "to_room", "traverse_s", "geometry", "link_by"]
    vert = rooms[rooms["kind"].isin(VERTICAL_KINDS)].reset_index(drop=True)
    if vert.empty:
        return pd.DataFrame(columns=cols)
    deck = vert["deck"].to_numpy(dtype=float)
    grp = vert[group].astype(str).to_numpy()
    # the next deck up within the group
    nxt: dict[tuple[str, float], float] = {}
    for gname, d in pd.DataFrame({"g": grp, "d": deck}).drop_duplicates().sort_values("d").groupby("g")["d"]:
        ds = d.tolist()
        for lo, hi in zip(ds, ds[1:]):
            nxt[(gname, lo)] = hi
    upper = np.array([nxt.get((g_, d_), np.nan) for g_, d_ in zip(grp, deck)])
    g = np.array(list(vert["geometry"]), dtype=object)
    tree = shapely.STRtree(g)
    a, b = tree.query(g, predicate="intersects")
    m = (upper[a] == deck[b]) & (grp[a] == grp[b])
    a, b = a[m], b[m]
    inter = shapely.intersection(g[a], g[b])
    ov = shapely.area(inter)
    smaller = np.minimum(shapely.area(g[a]), shapely.area(g[b]))
    ok = (ov >= mp.vertical["min_overlap_m2"]) & (ov >= mp.vertical["min_overlap_frac"] * smaller)
    pa, pb, how = list(a[ok]), list(b[ok]), ["overlap"] * int(ok.sum())
    # by name: same normalised name on consecutive decks (not already linked by overlap)
    nm = _norm_name(vert["name"])
    key = pd.DataFrame({"i": np.arange(len(vert)), "g": grp, "d": deck, "n": nm})
    key = key[key["n"] != ""]
    up = key.assign(d=upper[key["i"].to_numpy()]).dropna(subset=["d"])
    pairs = up.merge(key, on=["g", "d", "n"], suffixes=("_a", "_b"))
    done = set(zip(pa, pb))
    for i, j in zip(pairs["i_a"], pairs["i_b"]):
        if (i, j) not in done:
            pa.append(i)
            pb.append(j)
            how.append("name")
            done.add((i, j))
    if not pa:
        return pd.DataFrame(columns=cols)
    pa_, pb_ = np.array(pa, dtype=np.int64), np.array(pb, dtype=np.int64)
    inter = shapely.intersection(g[pa_], g[pb_])
    empty = shapely.is_empty(inter) | (shapely.area(inter) <= 0)
    where = np.where(empty, shapely.point_on_surface(g[pa_]), shapely.point_on_surface(inter))
    kind = vert["kind"].to_numpy()
    lift = (kind[pa_] == "lift") & (kind[pb_] == "lift")
    uid = vert["room_id"].astype(str).to_numpy()
    return pd.DataFrame({
        "door_id": [f"link:{x}:{y}" for x, y in zip(uid[pa_], uid[pb_])],
        "width_m": np.where(lift, mp.vertical["lift_width_m"], mp.vertical["stairs_width_m"]),
        "deck": deck[pa_], "from_room": uid[pa_], "to_room": uid[pb_],
        "traverse_s": np.where(lift, mp.vertical["lift_traverse_s"], mp.vertical["stairs_traverse_s"]),
        "geometry": list(where), "link_by": how})


# ------------------------------------------------------------------------ door inference
WALL_GAP_M = 0.6
"""Two rooms whose outlines are this close (metres: a wall drawn as a gap) are neighbours."""
MIN_SHARED_WALL_M = 0.8
"""A shared wall shorter than this (metres) takes no inferred door (it would be a corner)."""
OPENING_MAX_M = 4.0
"""Widest opening inferred between two corridors or halls (metres)."""
FAR_GAP_M = 3.0
"""A part of the plan with no neighbour within the wall gap is joined to the nearest room up to this far (metres)."""
HALL_KINDS = ("corridor", "lobby")
"""Kinds a room's inferred door opens onto first (stairs and lifts get a door like rooms)."""


@dataclass
class DoorInference:
    """Result of `infer_doors`: the doors (given ones first, then the invented ones, flagged
    `inferred`), the invented ones with the reason for each, and the groups of rooms left
    without a walking connection to the main part (room ids)."""

    doors: gpd.GeoDataFrame
    inferred: pd.DataFrame          # door_id, from_room, to_room, name_from, name_to, deck, width_m, wall_m, reason
    unconnected: list[list[str]]


def _neighbours(g: np.ndarray, deck: np.ndarray, gap: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (a < b) of rooms on one deck within `gap` metres, with the length (m) of a's
    outline that lies within `gap` of b and of b's within `gap` of a (the smaller: the wall)."""
    tree = shapely.STRtree(g)
    a, b = tree.query(g, predicate="dwithin", distance=gap)
    m = (a < b) & (deck[a] == deck[b])
    a, b = a[m], b[m]
    if not len(a):
        return a, b, np.zeros(0)
    bnd = shapely.boundary(g)
    zone_b = shapely.buffer(g[b], gap, quad_segs=2)
    zone_a = shapely.buffer(g[a], gap, quad_segs=2)
    la = shapely.length(shapely.intersection(bnd[a], zone_b))
    lb = shapely.length(shapely.intersection(bnd[b], zone_a))
    return a, b, np.minimum(la, lb)


def _door_on_wall(ga: shapely.Geometry, gb: shapely.Geometry, gap: float, width: float) -> shapely.Geometry:
    """A door leaf (LineString, `width` metres or the wall's length when shorter) centred on the
    longest stretch of a's outline within `gap` of b, moved halfway across the gap."""
    wall = shapely.intersection(shapely.boundary(ga), shapely.buffer(gb, gap, quad_segs=2))
    parts = [p for p in shapely.get_parts(shapely.line_merge(wall) if wall.geom_type == "MultiLineString" else wall)
             if p.geom_type == "LineString" and p.length > 0]
    if not parts:
        c = shapely.shortest_line(ga, gb)
        return shapely.line_interpolate_point(c, 0.5, normalized=True)
    piece = max(parts, key=lambda p: p.length)
    mid_d = piece.length / 2
    half = min(width, piece.length) / 2
    # the leaf runs along the wall at the middle of the stretch (not along the chord of a
    # stretch that turns a corner)
    e = min(0.05, mid_d)
    a0, a1 = (shapely.get_coordinates(shapely.line_interpolate_point(piece, d))[0] for d in (mid_d - e, mid_d + e))
    u = a1 - a0
    u = u / max(float(np.hypot(*u)), 1e-12)
    mid = shapely.line_interpolate_point(piece, mid_d)
    c = shapely.get_coordinates(shapely.shortest_line(mid, gb))
    shift = (c[1] - c[0]) / 2 if len(c) == 2 else np.zeros(2)
    m = shapely.get_coordinates(mid)[0] + shift
    return shapely.linestrings(np.array([m - u * half, m + u * half]))


def infer_doors(rooms: gpd.GeoDataFrame, doors: gpd.GeoDataFrame | None, params: Parameters | None = None,  # noqa: C901  debt: issue 19 (to split into reading, repair and door stages)
                gap_m: float = WALL_GAP_M) -> DoorInference:
    """Invent the doors a drawing lacks (each flagged ``inferred = True``).

    1. Every room that is not a corridor or hall (`HALL_KINDS`; stairs and lifts included) and
       has no door gets one on the longest wall it shares with a corridor or hall (rooms whose
       outlines are within `gap_m`, default 0.6 m, share a wall: real drawings leave the
       wall's thickness as a gap); the door is `params.default_door_width_m` wide (less on a
       shorter wall).
    2. Corridors and halls that share a wall of at least `MIN_SHARED_WALL_M` and no door get
       an opening as wide as the wall, up to `OPENING_MAX_M`.
    3. While the rooms form several groups not joined by doors (or the vertical links among
       `doors`), the neighbours of two groups with the longest shared wall get a door
       (circulation first): a maximum spanning forest of the neighbour graph (Kruskal).
    4. A group with no neighbour within `gap_m` gets a door to the nearest room of another
       group on its deck, up to `FAR_GAP_M` away.
    5. A group still apart (a floor no stairs join) gets a stair link (a point door with
       `params.stairs_traverse_s`, 1.2 m wide) to the room of another group on another deck
       that overlaps it in plan: stairs and lifts first, then corridors, then the nearest
       deck, then the largest overlap.

    `rooms` needs room_id, kind, deck, name and polygons in metres; `doors` the station's
    door columns (from_room, to_room filled; vertical links included). Rooms with no
    neighbour at all stay unconnected and are listed.
    """
    p = params or Parameters()
    rooms = rooms.reset_index(drop=True)
    ids = rooms["room_id"].astype(str).to_numpy()
    names = rooms["name"].fillna("").astype(str).to_numpy() if "name" in rooms else ids
    kind = rooms["kind"].astype(str).to_numpy()
    deck = rooms["deck"].to_numpy(dtype=float)
    g = np.asarray(rooms.geometry.to_numpy(), dtype=object)
    n = len(rooms)
    circ = np.isin(kind, CIRCULATION_KINDS)
    hall = np.isin(kind, HALL_KINDS)
    crs = rooms.crs
    if doors is None or not len(doors):
        doors = gpd.GeoDataFrame({"door_id": pd.Series([], dtype=object)}, geometry=[], crs=crs)
    pos = pd.Series(np.arange(n), index=ids)
    pos = pos[~pos.index.duplicated()]
    fa = pos.reindex(doors["from_room"].astype(object) if "from_room" in doors else []).to_numpy(dtype=float)
    fb = pos.reindex(doors["to_room"].astype(object) if "to_room" in doors else []).to_numpy(dtype=float)
    ok = ~np.isnan(fa) & ~np.isnan(fb)
    ea, eb = list(fa[ok].astype(np.int64)), list(fb[ok].astype(np.int64))
    has_door = np.zeros(n, bool)
    has_door[np.array(ea + eb, dtype=np.int64)] = True
    joined = set(zip(ea, eb)) | set(zip(eb, ea))

    a, b, wall = _neighbours(g, deck, gap_m)
    new: list[tuple[int, int, float, str]] = []   # (room a, room b, width, reason)
    vertical_new: set[int] = set()                 # positions in `new` of assumed stair links

    def add(i: int, j: int, width: float, reason: str) -> None:
        new.append((i, j, width, reason))
        ea.append(i)
        eb.append(j)
        joined.update({(i, j), (j, i)})
        has_door[i] = has_door[j] = True

    usable = wall >= MIN_SHARED_WALL_M
    # 1. a door per doorless room, on its longest wall with circulation
    side = pd.DataFrame({"room": np.r_[a, b], "other": np.r_[b, a], "wall": np.r_[wall, wall],
                         "ok": np.r_[usable, usable]})
    side = side[side["ok"] & ~hall[side["room"].to_numpy()] & hall[side["other"].to_numpy()]
                & ~has_door[side["room"].to_numpy()]]
    best = side.sort_values(["room", "wall"], ascending=[True, False], kind="stable").drop_duplicates("room")
    for i, j, w in zip(best["room"], best["other"], best["wall"]):
        add(int(i), int(j), min(p.default_door_width_m, float(w)), f"longest wall ({w:.1f} m) with a corridor or hall")
    # 2. openings between circulation spaces
    cc = usable & hall[a] & hall[b]
    for i, j, w in zip(a[cc], b[cc], wall[cc]):
        if (int(i), int(j)) not in joined:
            add(int(i), int(j), float(min(w, OPENING_MAX_M)), f"opening between corridors or halls ({w:.1f} m wall)")
    # 3. join the groups left: Kruskal on the neighbour graph, longest walls first, circulation first
    adj = coo_matrix((np.ones(len(ea)), (np.array(ea, dtype=np.int64), np.array(eb, dtype=np.int64))), shape=(n, n))
    _, comp = connected_components(adj, directed=False)
    parent = np.arange(comp.max() + 1 if n else 0)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return int(x)

    order = np.lexsort((-wall, -(circ[a] | circ[b]).astype(int), ~usable))
    for k in order:
        i, j = int(a[k]), int(b[k])
        ci, cj = find(comp[i]), find(comp[j])
        if ci == cj or wall[k] <= 0:
            continue
        parent[ci] = cj
        add(i, j, min(p.default_door_width_m, float(wall[k])), f"joins a part of the plan left without a door "
            f"({wall[k]:.1f} m wall)")
    # 4. parts with no neighbour within the gap: a door to the nearest room of another part on
    #    the deck, up to FAR_GAP_M away; 5. parts still apart on other decks: a stair link to the
    #    room of another part that overlaps them most in plan (stairs and corridors first)
    tree = shapely.STRtree(g)
    for step in (4, 5):
        merged = True
        while merged:
            merged = False
            lab = np.array([find(comp[r]) for r in range(n)])
            sizes = pd.Series(lab).value_counts()
            if len(sizes) <= 1:
                break
            for grp in sizes.index[1:]:
                members = np.flatnonzero(lab == grp)
                if step == 4:
                    qi, qj = tree.query(g[members], predicate="dwithin", distance=FAR_GAP_M)
                    qi = members[qi]
                    ok = (lab[qj] != grp) & (deck[qj] == deck[qi])
                else:
                    qi, qj = tree.query(g[members], predicate="intersects")
                    qi = members[qi]
                    ok = (lab[qj] != grp) & (deck[qj] != deck[qi])
                qi, qj = qi[ok], qj[ok]
                if not len(qi):
                    continue
                if step == 4:
                    d = shapely.distance(g[qi], g[qj])
                    k = int(np.argmin(d))
                    add(int(qi[k]), int(qj[k]), p.default_door_width_m,
                        f"joins a part with no neighbour within {gap_m:g} m: the nearest room is {d[k]:.1f} m away")
                else:
                    ov = shapely.area(shapely.intersection(g[qi], g[qj]))
                    vert = np.isin(kind[qi], VERTICAL_KINDS) & np.isin(kind[qj], VERTICAL_KINDS)
                    score = np.lexsort((-ov, -(circ[qi] & circ[qj]).astype(int), -vert.astype(int),
                                        np.abs(deck[qi] - deck[qj])))
                    k = int(score[0])
                    i, j = int(qi[k]), int(qj[k])
                    new.append((i, j, 1.2, f"no stair link joins deck {deck[i]:g} to deck {deck[j]:g} here: "
                                f"a stair link is assumed between rooms overlapping in plan ({ov[k]:.0f} m2)"))
                    vertical_new.add(len(new) - 1)
                    ea.append(i)
                    eb.append(j)
                    joined.update({(i, j), (j, i)})
                ri, rj = find(comp[int(qi[k])]), find(comp[int(qj[k])])
                if ri != rj:
                    parent[ri] = rj
                merged = True
                break
    groups: dict[int, list[str]] = {}
    for r in range(n):
        groups.setdefault(find(comp[r]), []).append(str(ids[r]))
    parts = sorted(groups.values(), key=len, reverse=True)
    unconnected = parts[1:] if len(parts) > 1 else []

    # door geometry and table
    rows = []
    taken = set(doors["door_id"].astype(str)) if "door_id" in doors else set()
    for k, (i, j, width, reason) in enumerate(new, 1):
        did = f"inferred-{k}"
        while did in taken:
            did += "x"
        trav = np.nan
        if k - 1 in vertical_new:
            ov = shapely.intersection(g[i], g[j])
            leaf = shapely.point_on_surface(ov if not ov.is_empty else g[i])
            w, trav = width, p.stairs_traverse_s
        else:
            leaf = _door_on_wall(g[i], g[j], gap_m, width)
            w = float(shapely.length(leaf)) if leaf.geom_type == "LineString" else width
        rows.append({"door_id": did, "width_m": round(max(w, 0.0) or width, 3), "deck": float(deck[i]),
                     "from_room": str(ids[i]), "to_room": str(ids[j]), "traverse_s": trav, "inferred": True,
                     "geometry": leaf, "name_from": str(names[i]), "name_to": str(names[j]), "reason": reason})
    inf = pd.DataFrame(rows, columns=["door_id", "width_m", "deck", "from_room", "to_room", "traverse_s", "inferred",
                                      "geometry", "name_from", "name_to", "reason"])
    base = doors.copy()
    if "inferred" not in base.columns:
        base["inferred"] = False
    base["inferred"] = base["inferred"].fillna(False).astype(bool)
    add_gdf = gpd.GeoDataFrame(inf.drop(columns=["geometry", "name_from", "name_to", "reason"]),
                               geometry=list(inf["geometry"]), crs=crs)
    out = gpd.GeoDataFrame(pd.concat([base, add_gdf], ignore_index=True), geometry="geometry", crs=crs) \
        if len(add_gdf) else gpd.GeoDataFrame(base, geometry=base.geometry.name, crs=crs)
    table = inf.drop(columns=["geometry", "traverse_s", "inferred"])
    return DoorInference(doors=out, inferred=table, unconnected=unconnected)


def inference_markdown(res: DoorInference, limit: int = 500) -> str:
    """The invented doors as a Markdown section (for an import report)."""
    w = io.StringIO()
    w.write(f"\n## Inferred doors\n\n{len(res.inferred)} door(s) were invented (flagged `inferred` in "
            "doors.geojson: check them against the building):\n\n")
    w.write(md_table(res.inferred[["door_id", "from_room", "name_from", "to_room", "name_to", "deck", "width_m",
                                   "reason"]], limit))
    if res.unconnected:
        w.write(f"\n{len(res.unconnected)} group(s) of rooms have no neighbour to join them to the rest: "
                + "; ".join(", ".join(grp[:8]) + (" ..." if len(grp) > 8 else "") for grp in res.unconnected[:20])
                + "\n")
    return w.getvalue()


@dataclass
class StationDoors:
    """`infer_station_doors` result: the inference, the doors file written (None: dry run) and a summary."""

    inference: DoorInference
    path: Path | None
    summary: str


def infer_station_doors(folder: str | Path, dry_run: bool = False) -> StationDoors:
    """Invent the doors a station folder lacks (`infer_doors` with the station's parameters)
    and add them to its doors file, flagged ``inferred`` (the doors already there are kept as
    they are). The file is replaced atomically; with `dry_run` nothing is written."""
    st = load_station(folder)
    folder = Path(folder)
    cols = [c for c in DOOR_COLUMNS if c in st.doors.columns]
    res = infer_doors(st.rooms, st.doors[cols + [st.doors.geometry.name]], st.params)
    new = res.doors.iloc[len(st.doors):]    # infer_doors appends the invented doors
    path = st.files.get("doors")
    lines = [f"{st.title}: {len(new)} door(s) inferred"
             + (f", {len(res.unconnected)} group(s) of rooms still unconnected (no neighbour)" if res.unconnected else "")]
    for rec in res.inferred.itertuples(index=False):
        lines.append(f"  {rec.door_id}: {rec.from_room} ({rec.name_from}) - {rec.to_room} ({rec.name_to}), "
                     f"{st.params.deck_word} {rec.deck:g}, {rec.width_m:g} m: {rec.reason}")
    if dry_run or not len(new):
        return StationDoors(res, None, "\n".join(lines + (["(dry run: nothing written)"] if dry_run else [])))
    target = path if path is not None and path.suffix.lower() in (".geojson", ".json") else \
        (_find(folder, "doors", (".geojson", ".json")) or folder / "doors.geojson")
    raw = _read_layer(target) if target.exists() else gpd.GeoDataFrame(geometry=[], crs=st.rooms.crs)
    if "inferred" not in raw.columns:
        raw["inferred"] = False
    add = gpd.GeoDataFrame(new[[c for c in ("door_id", "width_m", "deck", "from_room", "to_room", "inferred")]],
                           geometry=list(new.geometry), crs=raw.crs)
    both = gpd.GeoDataFrame(pd.concat([raw, add], ignore_index=True), geometry=raw.geometry.name, crs=raw.crs)
    crs = st.rooms.crs
    epsg = crs.to_epsg() if crs is not None else None
    text = feature_collection_text(both, epsg)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    umask_mode(tmp)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except OSError as exc:
        raise OutputError(f"{target}: cannot be written ({exc}). Fix: make the station folder writable") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    lines.append(f"wrote {target} ({len(both)} doors, {len(add)} inferred)")
    return StationDoors(res, target, "\n".join(lines))
