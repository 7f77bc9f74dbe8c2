"""Import an IMDF indoor map (OGC Indoor Mapping Data Format) as a station folder.

IMDF (GeoJSON, WGS84 longitude/latitude) maps onto the station model as follows
(see docs/imdf.md for the full table):

- `unit.geojson`    -> `rooms.geojson`: room_id = unit id, kind from the unit
  category (`DEFAULT_CATEGORIES`, overridable by a TOML mapping), sector = building
  name, deck = level ordinal made unique per building, name = unit name.
- `opening.geojson` -> `doors.geojson`: door_id = opening id, width_m = length of
  the opening line (IMDF has no width), from_room / to_room = the two units the
  line separates (found by probing points just either side of the line).
- `level.geojson`   -> decks; stairs / lift units that overlap across consecutive
  levels of one building become vertical links (a Point door with `traverse_s`).
- `residents.csv` (zeros, one row per room), `scenario.toml` (comments only) and
  `import_report.md` (what was mapped, dropped, repaired, and why).

Everything is projected to the local UTM zone (metres); the EPSG code is written
as the GeoJSON "crs" member and in the report. No unit is lost silently: each is
imported or listed in the report with a reason.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from planner.errors import InputError, OutputError
from planner.indoor import (
    DEFAULT_CATEGORIES,
    SKIP,
    VERTICAL_KINDS,
    DoorInference,
    Mapping,
    cut_overlaps,
    infer_doors,
    inference_markdown,
    load_mapping,
    match_tokens,
    md_table,
    polygonal,
    write_station_folder,
)
from planner.params import Parameters

PEDESTRIAN_OPENINGS = {"pedestrian", "pedestrian.principal", "pedestrian.transit", "emergencyexit", "service"}

PROBE_OFFSETS_M = (0.1, 0.3, 0.6)
"""Distances (m) either side of an opening line at which units are probed to find its two sides."""
PROBE_POSITIONS = (0.25, 0.5, 0.75)
"""Positions along the opening line (fraction of its length) where units are probed."""
TOUCH_TOL_M = 0.05
"""A unit whose boundary lies within this distance of an opening line touches it (junction report)."""


# ------------------------------------------------------------------------ report
@dataclass
class ImportReport:
    """What `import_imdf` did. Tables are DataFrames so that tests and the CLI can inspect them."""

    out_dir: Path
    source: str
    crs: str
    epsg: int | None
    levels: pd.DataFrame            # level_id, name, building_id, building, ordinal, deck, units, openings
    categories: pd.DataFrame        # category, kind, rule, count
    unknown_categories: dict[str, int]
    units_total: int
    rooms: int
    units_dropped: pd.DataFrame     # unit_id, name, category, level, reason
    openings_total: int
    doors: int
    openings_dropped: pd.DataFrame  # opening_id, level, reason
    junctions: pd.DataFrame         # opening_id, level, from_room, to_room, also_touching
    vertical_links: int
    rooms_without_door: pd.DataFrame  # room_id, name, kind, level
    unreachable: pd.DataFrame       # room_id, name, kind, level, building, component_size
    repairs: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    candidate_rooms: int = 0
    inference: DoorInference | None = None

    @property
    def door_share(self) -> float:
        """Share of the openings (in the selected levels) that became doors between two rooms."""
        considered = self.openings_total - int((self.openings_dropped["reason"] == "level not selected").sum()) \
            if len(self.openings_dropped) else self.openings_total
        return self.doors / considered if considered else 1.0

    def accounted(self) -> bool:
        """True when every unit is either a room or listed in `units_dropped`."""
        return self.rooms + len(self.units_dropped) == self.units_total

    def __str__(self) -> str:
        lines = [f"imported {self.source} -> {self.out_dir} ({self.crs})",
                 f"  units: {self.units_total} -> {self.rooms} rooms, {len(self.units_dropped)} not imported"
                 + (f" ({_reason_counts(self.units_dropped)})" if len(self.units_dropped) else ""),
                 f"  openings: {self.openings_total} -> {self.doors} doors ({self.door_share:.0%} of those on "
                 f"selected levels), {len(self.openings_dropped)} dropped"
                 + (f" ({_reason_counts(self.openings_dropped)})" if len(self.openings_dropped) else ""),
                 f"  vertical links: {self.vertical_links}; candidate rooms: {self.candidate_rooms}",
                 f"  rooms without a door: {len(self.rooms_without_door)}; rooms cut off from their "
                 f"building's main network: {len(self.unreachable)}"]
        if self.unknown_categories:
            lines.append("  unknown categories (kind 'other'): "
                         + ", ".join(f"{k} x{v}" for k, v in sorted(self.unknown_categories.items())))
        if self.inference is not None:
            lines.append(f"  inferred doors: {len(self.inference.inferred)} (flagged inferred in doors.geojson)")
        for w in self.warnings:
            lines.append(f"  warning: {w}")
        lines.append(f"  details: {self.out_dir / 'import_report.md'}")
        return "\n".join(lines)


def _reason_counts(df: pd.DataFrame) -> str:
    c = df["reason"].str.split(":").str[0].value_counts()
    return ", ".join(f"{k}: {v}" for k, v in c.items())


# ------------------------------------------------------------------------ reading
def _read_sources(src: Path) -> dict[str, dict]:
    """The IMDF feature collections by name (unit, opening, level, venue, building, manifest)."""
    wanted = ("unit", "opening", "level", "venue", "building", "manifest")
    out: dict[str, dict] = {}
    if src.is_file() and src.suffix.lower() == ".zip":
        try:
            zf = zipfile.ZipFile(src)
        except zipfile.BadZipFile as exc:
            raise InputError(str(src), "archive", f"is not a valid zip file ({exc})",
                             "give an IMDF folder or the .zip an IMDF export produced") from None
        with zf:
            names = {Path(n).name.lower(): n for n in zf.namelist() if not n.endswith("/")}
            for w in wanted:
                key = f"{w}.json" if w == "manifest" else f"{w}.geojson"
                if key in names:
                    out[w] = _parse_json(zf.read(names[key]), f"{src}!{names[key]}")
    elif src.is_dir():
        folder = src
        if not (folder / "unit.geojson").exists():
            found = sorted(folder.rglob("unit.geojson"))
            if found:
                folder = found[0].parent
        for w in wanted:
            p = folder / (f"{w}.json" if w == "manifest" else f"{w}.geojson")
            if p.exists():
                out[w] = _parse_json(p.read_bytes(), str(p))
    else:
        raise InputError(str(src), "IMDF source", "is neither a folder nor a .zip file",
                         "give the folder holding unit.geojson, opening.geojson and level.geojson, or its .zip")
    for w in ("unit", "opening", "level"):
        if w not in out:
            raise InputError(str(src), f"{w}.geojson", "is missing",
                             "an IMDF archive needs unit.geojson, opening.geojson and level.geojson")
    return out


def _parse_json(data: bytes, name: str) -> dict:
    try:
        obj = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(name, "file", f"is not valid JSON ({exc})", "re-export the IMDF archive") from None
    if not isinstance(obj, dict):
        raise InputError(name, "file", "is not a JSON object", "re-export the IMDF archive")
    return obj


def _text(v: Any, lang: str) -> str:
    """An IMDF label ({"en": ..., "ru": ...}) as text in `lang` (else English, else the first)."""
    if v is None:
        return ""
    if isinstance(v, dict):
        for key in (lang, "en"):
            if v.get(key):
                return str(v[key]).strip()
        for val in v.values():
            if val:
                return str(val).strip()
        return ""
    return str(v).strip()


def _features(coll: dict, name: str) -> list[dict]:
    feats = coll.get("features")
    if not isinstance(feats, list):
        raise InputError(f"{name}.geojson", "features", "is missing or not a list", "give a GeoJSON FeatureCollection")
    return [f for f in feats if isinstance(f, dict)]


def _geom(f: dict) -> shapely.Geometry | None:
    g = f.get("geometry")
    if not g:
        return None
    try:
        return shapely.from_geojson(json.dumps(g))
    except Exception:  # noqa: BLE001 - a bad geometry is reported, not fatal
        return None


# ------------------------------------------------------------------------ main
def import_imdf(src: str | Path, out_dir: str | Path, levels: list[str] | None = None,  # noqa: C901  debt: issue 16 (complexity 24)
                building: str | None = None, mapping: str | Path | None = None,
                overwrite: bool = False, infer: bool = False) -> ImportReport:
    """Convert an IMDF folder or .zip into a station folder at `out_dir` (metres, local UTM).

    `levels`: level ids, names, short names or ordinals to import (default all);
    `building`: building id or name (default all); `mapping`: TOML mapping file
    (see `load_mapping`); `overwrite`: replace a non-empty `out_dir`; `infer`: invent the
    doors the data lacks (`planner.indoor.infer_doors`, flagged `inferred`). Returns the
    report, also written as `out_dir/import_report.md`.
    """
    src = Path(src)
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())) and not overwrite:
        raise OutputError(f"{out_dir}: exists and is not empty. Fix: choose another --out, or pass --force to replace it")
    params = Parameters()
    mp = load_mapping(mapping, params)
    data = _read_sources(src)
    lang = str((data.get("manifest") or {}).get("language") or "en")
    warns: list[str] = []
    repairs: list[str] = []

    # ---- levels and buildings
    lv_rows = []
    for f in _features(data["level"], "level"):
        p = f.get("properties") or {}
        bids = p.get("building_ids") or []
        lv_rows.append({"id": str(f.get("id")), "name": _text(p.get("name"), lang),
                        "short_name": _text(p.get("short_name"), lang),
                        "ordinal": p.get("ordinal"), "building_id": str(bids[0]) if bids else ""})
        if len(bids) > 1:
            warns.append(f"level {f.get('id')} lists {len(bids)} buildings; the first ({bids[0]}) is used")
    lv = pd.DataFrame(lv_rows, columns=["id", "name", "short_name", "ordinal", "building_id"])
    bad_ord = pd.to_numeric(lv["ordinal"], errors="coerce").isna()
    if bad_ord.any():
        warns.append(f"{int(bad_ord.sum())} level(s) without a numeric ordinal: taken as 0")
    lv["ordinal"] = pd.to_numeric(lv["ordinal"], errors="coerce").fillna(0).astype(int)
    bnames: dict[str, str] = {}
    for f in _features(data.get("building") or {"features": []}, "building"):
        bnames[str(f.get("id"))] = _text((f.get("properties") or {}).get("name"), lang)
    venue_name = ""
    for f in _features(data.get("venue") or {"features": []}, "venue"):
        venue_name = _text((f.get("properties") or {}).get("name"), lang)
    lv["building"] = [bnames.get(b) or b or venue_name or "venue" for b in lv["building_id"]]

    # ---- units
    u_rows, u_geom = [], []
    misspelled = 0
    for f in _features(data["unit"], "unit"):
        p = f.get("properties") or {}
        cat = p.get("category")
        if not cat and p.get("unit_categoty"):
            cat, misspelled = p.get("unit_categoty"), misspelled + 1
        u_rows.append({"unit_id": str(f.get("id") if f.get("id") is not None else ""),
                       "category": str(cat or "").strip().lower(),
                       "name": _text(p.get("name"), lang) or _text(p.get("alt_name"), lang),
                       "level_id": str(p.get("level_id") or "")})
        u_geom.append(_geom(f))
    if misspelled:
        warns.append(f"{misspelled} unit(s) carry the category under the misspelled key 'unit_categoty': accepted")
    units = pd.DataFrame(u_rows, columns=["unit_id", "category", "name", "level_id"])
    n_units = len(units)
    units["geometry"] = u_geom
    dropped: list[dict] = []

    def drop(mask: np.ndarray, reason: str | pd.Series) -> None:
        nonlocal units
        sub = units[mask]
        rs = reason if isinstance(reason, str) else reason[mask]
        for (_, r), why in zip(sub.iterrows(), [rs] * len(sub) if isinstance(rs, str) else rs):
            dropped.append({"unit_id": r["unit_id"], "name": r["name"], "category": r["category"],
                            "level": r["level_id"], "reason": why})
        units = units[~mask].reset_index(drop=True)

    # duplicate / missing ids
    noid = (units["unit_id"] == "") | (units["unit_id"] == "None")
    drop(noid.to_numpy(), "no id: the unit has no 'id' member")
    dup = units["unit_id"].duplicated(keep="first")
    drop(dup.to_numpy(), "duplicate id: a unit with the same id was imported")
    drop((~units["level_id"].isin(lv["id"])).to_numpy(), "unknown level: level_id names no level in level.geojson")
    # selection
    lsel = np.ones(len(lv), bool)
    if building:
        bt = pd.DataFrame({"id": lv["building_id"], "name": lv["building"]}).drop_duplicates("id").reset_index(drop=True)
        keep_b = set(bt["id"][match_tokens([building], bt, ["id", "name"], "building", "--building")])
        lsel &= lv["building_id"].isin(keep_b).to_numpy()
    if levels:
        lt = lv.assign(ordinal_s=lv["ordinal"].astype(str),
                       label=[f"{n or sn}, ordinal {o}, {b}" for n, sn, o, b in
                              zip(lv["name"], lv["short_name"], lv["ordinal"], lv["building"])])
        lsel &= match_tokens(list(levels), lt, ["id", "name", "short_name", "ordinal_s"], "level", "--levels")
    if not lsel.any():
        raise InputError(str(src), f"levels {levels} of building {building!r}", "select no level",
                         "check --levels and --building against level.geojson")
    sel_ids = set(lv["id"][lsel])
    drop((~units["level_id"].isin(sel_ids)).to_numpy(), "level not selected")
    # geometry
    geoms = units["geometry"].to_numpy()
    nogeom = np.array([g is None or g.is_empty for g in geoms], bool)
    drop(nogeom, "no geometry")
    types = np.array([g.geom_type for g in units["geometry"]], dtype=object)
    drop(~np.isin(types, ["Polygon", "MultiPolygon"]),
         pd.Series([f"not a polygon: geometry is a {t}" for t in types]))
    # mapping (area from a rough projection is enough: rules use m2 after projection below)
    lv = lv.assign(selected=lsel)

    # ---- projection to the local UTM zone
    gs = gpd.GeoSeries(list(units["geometry"]), crs="EPSG:4326")
    if len(gs) == 0:
        raise InputError(str(src), "units", "none left to import on the selected levels", "check --levels / --building")
    crs = gs.estimate_utm_crs()
    gs = gs.to_crs(crs)
    epsg = crs.to_epsg()
    crs_name = f"EPSG:{epsg}" if epsg else crs.to_string()
    g = gs.to_numpy()
    invalid = ~shapely.is_valid(g)
    if invalid.any():
        g[invalid] = shapely.make_valid(g[invalid])
        for uid in units["unit_id"][invalid]:
            repairs.append(f"unit {uid}: invalid polygon made valid")
    units["geometry"] = list(g)

    kinds, rules = (zip(*[mp.kind(c, a, u) for c, a, u in zip(units["category"], shapely.area(g), units["unit_id"])])
                    if len(units) else ((), ()))
    units["kind"] = list(kinds)
    units["rule"] = list(rules)
    unknown = Counter(units["category"][units["kind"] == ""])
    if unknown:
        warns.append("unknown unit categories mapped to kind 'other': "
                     + ", ".join(f"{k or '(none)'} x{v}" for k, v in sorted(unknown.items())))
    units.loc[units["kind"] == "", "kind"] = "other"
    cat_table = (units.assign(category=units["category"].replace("", "(none)"))
                 .groupby(["category", "kind", "rule"]).size().rename("count").reset_index()
                 .sort_values(["kind", "category"]).reset_index(drop=True))
    drop((units["kind"] == SKIP).to_numpy(),
         pd.Series([f"not a space: category {c} is mapped to skip" for c in units["category"]]))

    # ---- geometry clean-up: polygons only, overlaps cut out of the larger unit
    units["geometry"] = [polygonal(x, uid, repairs) for x, uid in zip(units["geometry"], units["unit_id"])]
    empty = np.array([x is None for x in units["geometry"]], bool)
    drop(empty, "no area left after repair")
    cut_overlaps(units, repairs)
    empty = np.array([x is None or x.is_empty or x.area < 1e-6 for x in units["geometry"]], bool)
    drop(empty, "no area left after removing its overlap with other units")

    # ---- decks: ordinal made unique per building (largest building first keeps its ordinals)
    lv_sel = lv[lv["selected"]].copy()
    counts = units.groupby("level_id").size()
    lv_sel["units"] = lv_sel["id"].map(counts).fillna(0).astype(int)
    border = (lv_sel.groupby("building_id")["units"].sum().reset_index()
              .sort_values(["units", "building_id"], ascending=[False, True])["building_id"].tolist())
    rank = {b: i for i, b in enumerate(border)}
    lv_sel["deck"] = [rank[b] * 100 + o for b, o in zip(lv_sel["building_id"], lv_sel["ordinal"])]
    if lv_sel["deck"].duplicated().any():
        dups = lv_sel[lv_sel["deck"].duplicated(keep=False)]
        warns.append("levels sharing one ordinal in one building are merged into one deck: "
                     + ", ".join(f"{r['id']} ({r['name']})" for _, r in dups.iterrows()))
    deck_of = dict(zip(lv_sel["id"], lv_sel["deck"]))
    lvl_label = {r["id"]: (r["name"] or r["short_name"] or r["id"]) + (f" / {r['building']}" if r["building"] else "")
                 for _, r in lv.iterrows()}
    b_of_level = dict(zip(lv["id"], lv["building"]))
    bid_of_level = dict(zip(lv["id"], lv["building_id"]))
    units["deck"] = units["level_id"].map(deck_of).astype(int)
    units["sector"] = units["level_id"].map(b_of_level)
    units["building_id"] = units["level_id"].map(bid_of_level)
    units["name"] = [n or f"{c or 'unit'} {u[:8]}" for n, c, u in zip(units["name"], units["category"], units["unit_id"])]

    # ---- openings -> doors
    o_rows, o_geom = [], []
    o_cats: Counter = Counter()
    for f in _features(data["opening"], "opening"):
        p = f.get("properties") or {}
        o_cats[str(p.get("category") or "")] += 1
        o_rows.append({"opening_id": str(f.get("id")), "level_id": str(p.get("level_id") or "")})
        o_geom.append(_geom(f))
    odd = {k: v for k, v in o_cats.items() if k not in PEDESTRIAN_OPENINGS}
    if odd:
        warns.append("opening categories treated as pedestrian doors: "
                     + ", ".join(f"{k or '(none)'} x{v}" for k, v in sorted(odd.items())))
    openings = pd.DataFrame(o_rows, columns=["opening_id", "level_id"])
    n_open = len(openings)
    doors, o_dropped, junctions = _resolve_openings(openings, o_geom, units, sel_ids, set(lv["id"]), crs)
    doors["deck"] = doors["from_room"].map(dict(zip(units["unit_id"], units["deck"]))).astype(float)
    o_dropped["level"] = o_dropped["level"].map(lambda x: lvl_label.get(x, x))
    junctions["level"] = junctions["level"].map(lambda x: lvl_label.get(x, x))

    # ---- vertical links
    links = _vertical_links(units, lv, mp)
    all_doors = pd.concat([doors, links], ignore_index=True)

    # ---- connectivity
    no_door, cut, n_nets = _connectivity(units, all_doors, lvl_label)
    n_build = units["building_id"].nunique()
    if n_build > 1 and n_nets > 1:
        warns.append(f"the {n_build} buildings imported have no indoor connection (no door or link joins them): "
                     "validation will report them as parts cut off from each other; import one building per "
                     "station with --building")

    rooms = gpd.GeoDataFrame({
        "room_id": units["unit_id"], "kind": units["kind"], "sector": units["sector"],
        "deck": units["deck"].astype(int), "name": units["name"], "imdf_category": units["category"],
        "level_id": units["level_id"],
    }, geometry=list(units["geometry"]), crs=crs)
    door_gdf = gpd.GeoDataFrame(all_doors.drop(columns=["geometry"]), geometry=list(all_doors["geometry"]), crs=crs)
    inference = None
    if infer:
        inference = infer_doors(rooms, door_gdf, params)
        door_gdf = inference.doors
    cand = int((rooms["kind"].isin(params.candidate_kinds) & (rooms.geometry.area >= params.min_site_area_m2)).sum())
    if cand == 0:
        warns.append(f"no room has a candidate kind ({', '.join(params.candidate_kinds)}): no safe room can be "
                     "proposed. Map some categories to storage/recreation with --mapping, e.g. "
                     "[categories] wardrobe = \"storage\", or a size rule (see docs/imdf.md)")

    lv_table = lv.copy()
    lv_table["deck"] = lv_table["id"].map(deck_of)
    lv_table["units"] = lv_table["id"].map(units.groupby("level_id").size()).fillna(0).astype(int)
    lv_table["doors"] = lv_table["id"].map(
        doors.assign(level_id=doors["from_room"].map(dict(zip(units["unit_id"], units["level_id"]))))
        .groupby("level_id").size()).fillna(0).astype(int)
    dropped_df = pd.DataFrame(dropped, columns=["unit_id", "name", "category", "level", "reason"])
    dropped_df["level"] = dropped_df["level"].map(lambda x: lvl_label.get(x, x))
    report = ImportReport(
        out_dir=out_dir, source=str(src), crs=crs_name, epsg=epsg,
        levels=lv_table[["id", "name", "building_id", "building", "ordinal", "selected", "deck", "units", "doors"]],
        categories=cat_table, unknown_categories=dict(unknown), units_total=n_units, rooms=len(rooms),
        units_dropped=dropped_df, openings_total=n_open, doors=len(doors), openings_dropped=o_dropped,
        junctions=junctions, vertical_links=len(links), rooms_without_door=no_door, unreachable=cut,
        repairs=repairs, warnings=warns, candidate_rooms=cand, inference=inference)
    _write_station(out_dir, rooms, door_gdf, report, mp, overwrite)
    return report


def _resolve_openings(openings: pd.DataFrame, o_geom: list, units: pd.DataFrame, sel_ids: set, all_levels: set,  # noqa: C901  debt: issue 16 (complexity 16)
                      crs: Any) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Doors (door_id, width_m, from_room, to_room, traverse_s, geometry), dropped openings, junctions.

    The two rooms of an opening are found by probing points just either side of the
    line (`PROBE_OFFSETS_M` at `PROBE_POSITIONS`): on each side, the unit holding most
    probes (ties: the smaller, i.e. the more specific, unit) that is not the other side's.
    """
    dropped: list[dict] = []
    ok = np.ones(len(openings), bool)
    for i, (lid, gj) in enumerate(zip(openings["level_id"], o_geom)):
        reason = None
        if lid not in all_levels:
            reason = "unknown level: level_id names no level in level.geojson"
        elif lid not in sel_ids:
            reason = "level not selected"
        elif gj is None or gj.is_empty:
            reason = "no geometry"
        elif gj.geom_type not in ("LineString", "MultiLineString"):
            reason = f"not a line: geometry is a {gj.geom_type}"
        if reason:
            ok[i] = False
            dropped.append({"opening_id": openings["opening_id"][i], "level": lid, "reason": reason})
    dup = openings["opening_id"].duplicated().to_numpy() & ok
    for i in np.flatnonzero(dup).tolist():
        dropped.append({"opening_id": openings["opening_id"][i], "level": openings["level_id"][i],
                        "reason": "duplicate id"})
    ok &= ~dup
    op = openings[ok].reset_index(drop=True)
    cols = ["door_id", "width_m", "deck", "from_room", "to_room", "traverse_s", "geometry"]
    if not len(op):
        return (pd.DataFrame(columns=cols), pd.DataFrame(dropped, columns=["opening_id", "level", "reason"]),
                pd.DataFrame(columns=["opening_id", "level", "from_room", "to_room", "also_touching"]))
    lines = gpd.GeoSeries([gj for gj, k in zip(o_geom, ok) if k], crs="EPSG:4326").to_crs(crs).to_numpy()
    lines = np.array([shapely.line_merge(x) if x.geom_type == "MultiLineString" else x for x in lines], dtype=object)
    n = len(op)
    length = shapely.length(lines)
    # probe points: position t along the line, offset e on side s (perpendicular to the local direction)
    t = np.array(PROBE_POSITIONS)
    e = np.array(PROBE_OFFSETS_M)
    dd, tt = np.repeat(np.arange(n), len(t)), np.tile(t, n)             # one row per (opening, position)
    p0 = shapely.line_interpolate_point(lines[dd], np.clip(tt - 0.05, 0, 1), normalized=True)
    p1 = shapely.line_interpolate_point(lines[dd], np.clip(tt + 0.05, 0, 1), normalized=True)
    pm = shapely.line_interpolate_point(lines[dd], tt, normalized=True)
    dx = shapely.get_x(p1) - shapely.get_x(p0)
    dy = shapely.get_y(p1) - shapely.get_y(p0)
    nrm = np.hypot(dx, dy)
    nrm[nrm == 0] = 1.0
    ux, uy = -dy / nrm, dx / nrm                                          # unit normal (left side)
    side = np.array([-1.0, 1.0])
    # probes: (opening-position row) x side x offset
    r_i, s_i, e_i = (a.ravel() for a in np.meshgrid(np.arange(len(dd)), np.arange(2), np.arange(len(e)), indexing="ij"))
    off = side[s_i] * e[e_i]
    probes = shapely.points(shapely.get_x(pm)[r_i] + off * ux[r_i], shapely.get_y(pm)[r_i] + off * uy[r_i])
    d_i = dd[r_i]
    ug = np.array(list(units["geometry"]), dtype=object)
    tree = shapely.STRtree(ug)
    pi, ui = tree.query(probes, predicate="within")
    olvl = op["level_id"].to_numpy()
    ulvl = units["level_id"].to_numpy()
    same = olvl[d_i[pi]] == ulvl[ui]
    pi, ui = pi[same], ui[same]
    uarea = shapely.area(ug)
    hits = pd.DataFrame({"d": d_i[pi], "s": s_i[pi], "u": ui})
    votes = hits.groupby(["d", "s", "u"]).size().rename("n").reset_index()
    votes["area"] = uarea[votes["u"].to_numpy()]
    votes = votes.sort_values(["d", "s", "n", "area"], ascending=[True, True, False, True], kind="stable")
    votes["rank"] = votes.groupby(["d", "s"]).cumcount()
    votes = votes[votes["rank"] < 2]
    # top[d, side, rank] = unit index or -1
    top = np.full((n, 2, 2), -1, dtype=np.int64)
    top[votes["d"].to_numpy(), votes["s"].to_numpy(), votes["rank"].to_numpy()] = votes["u"].to_numpy()
    # units touching each line (junction report)
    tq_d, tq_u = tree.query(lines, predicate="dwithin", distance=TOUCH_TOL_M)
    tsame = olvl[tq_d] == ulvl[tq_u]
    tq_d, tq_u = tq_d[tsame], tq_u[tsame]
    n_touch = np.bincount(tq_d, minlength=n)
    first_touch = np.full(n, -1, dtype=np.int64)
    first_touch[tq_d[::-1]] = tq_u[::-1]
    many = set(np.flatnonzero(n_touch > 2).tolist())
    touch = {d: tq_u[tq_d == d].tolist() for d in many}
    ids = units["unit_id"].to_numpy()
    names = units["name"].to_numpy()
    fr = np.full(n, None, dtype=object)
    to = np.full(n, None, dtype=object)
    junc = []
    for d in range(n):
        (l0, l1), (r0, r1) = top[d]
        a = l0 if l0 >= 0 else None
        b = r0 if (r0 >= 0 and r0 != l0) else (r1 if r1 >= 0 else None)
        if a is None or b is None:
            # one side empty: try the other order (a unit present on both sides, e.g. a line inside it)
            b2 = r0 if r0 >= 0 else None
            a2 = l0 if (l0 >= 0 and l0 != r0) else (l1 if l1 >= 0 else None)
            if b2 is not None and a2 is not None:
                a, b = a2, b2
        if a is None or b is None or a == b:
            only = a if a is not None else b
            if only is None:
                ft = first_touch[d]
                why = ("touches no unit: no room on either side"
                       if ft < 0 else f"touches only one unit: {names[ft]} ({ids[ft]}); "
                       "the other side is outside or unmapped")
            else:
                why = (f"touches only one unit: {names[only]} ({ids[only]}); "
                       "the other side is outside the mapped units (exterior door or unmapped space)")
            dropped.append({"opening_id": op["opening_id"][d], "level": olvl[d], "reason": why})
            continue
        fr[d], to[d] = ids[a], ids[b]
        if d in many:
            others = [u for u in touch[d] if u not in (a, b)]
            if others:
                junc.append({"opening_id": op["opening_id"][d], "level": olvl[d], "from_room": ids[a],
                             "to_room": ids[b], "also_touching": "; ".join(f"{names[u]} ({ids[u]})" for u in others)})
    keep = np.array([x is not None for x in fr], bool)
    doors = pd.DataFrame({"door_id": op["opening_id"][keep].to_numpy(), "width_m": np.round(length[keep], 3),
                          "deck": np.nan, "from_room": fr[keep], "to_room": to[keep], "traverse_s": np.nan,
                          "geometry": lines[keep]})
    return (doors, pd.DataFrame(dropped, columns=["opening_id", "level", "reason"]),
            pd.DataFrame(junc, columns=["opening_id", "level", "from_room", "to_room", "also_touching"]))


def _vertical_links(units: pd.DataFrame, levels: pd.DataFrame, mp: Mapping) -> pd.DataFrame:
    """One Point door per pair of stairs/lift units on consecutive levels of one building whose footprints overlap.

    Consecutive in the building's full list of levels (by ordinal): with a level left out
    by --levels, the levels above and below it are not linked (the link would skip a floor).
    """
    cols = ["door_id", "width_m", "deck", "from_room", "to_room", "traverse_s", "geometry"]
    vert = units[units["kind"].isin(VERTICAL_KINDS)]
    if vert.empty:
        return pd.DataFrame(columns=cols)
    # consecutive levels of each building, by ordinal
    nxt: dict[str, str] = {}
    for _, grp in levels.sort_values("ordinal", kind="stable").groupby("building_id"):
        ids = grp["id"].tolist()
        for lo, hi in zip(ids, ids[1:]):
            nxt[lo] = hi
    g = np.array(list(vert["geometry"]), dtype=object)
    tree = shapely.STRtree(g)
    a, b = tree.query(g, predicate="intersects")
    lvl = vert["level_id"].to_numpy()
    upper = np.array([nxt.get(x, "") for x in lvl], dtype=object)
    m = upper[a] == lvl[b]
    a, b = a[m], b[m]
    if not len(a):
        return pd.DataFrame(columns=cols)
    inter = shapely.intersection(g[a], g[b])
    ov = shapely.area(inter)
    smaller = np.minimum(shapely.area(g[a]), shapely.area(g[b]))
    m = (ov >= mp.vertical["min_overlap_m2"]) & (ov >= mp.vertical["min_overlap_frac"] * smaller)
    a, b, inter = a[m], b[m], inter[m]
    kind = vert["kind"].to_numpy()
    lift = (kind[a] == "lift") & (kind[b] == "lift")
    uid = vert["unit_id"].to_numpy()
    deck = vert["deck"].to_numpy()
    return pd.DataFrame({
        "door_id": [f"link:{x}:{y}" for x, y in zip(uid[a], uid[b])],
        "width_m": np.where(lift, mp.vertical["lift_width_m"], mp.vertical["stairs_width_m"]),
        "deck": deck[a].astype(float),
        "from_room": uid[a], "to_room": uid[b],
        "traverse_s": np.where(lift, mp.vertical["lift_traverse_s"], mp.vertical["stairs_traverse_s"]),
        "geometry": list(shapely.point_on_surface(inter)),
    })


def _connectivity(units: pd.DataFrame, doors: pd.DataFrame,
                  lvl_label: dict) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """(rooms without any door, rooms outside their building's largest connected part,
    number of distinct networks the buildings' largest parts form)."""
    ids = units["unit_id"].to_numpy()
    pos = pd.Series(np.arange(len(ids)), index=ids)
    n = len(ids)
    fr = pos.reindex(doors["from_room"]).to_numpy()
    to = pos.reindex(doors["to_room"]).to_numpy()
    m = ~np.isnan(fr) & ~np.isnan(to)
    fr, to = fr[m].astype(int), to[m].astype(int)
    deg = np.bincount(np.r_[fr, to], minlength=n)
    cols = ["room_id", "name", "kind", "level"]
    base = pd.DataFrame({"room_id": ids, "name": units["name"].to_numpy(), "kind": units["kind"].to_numpy(),
                         "level": units["level_id"].map(lambda x: lvl_label.get(x, x)).to_numpy(),
                         "building": units["building_id"].to_numpy()})
    no_door = base[deg == 0][cols].reset_index(drop=True)
    adj = coo_matrix((np.ones(len(fr)), (fr, to)), shape=(n, n))
    _, comp = connected_components(adj, directed=False)
    base["component"] = comp
    size = base.groupby("component").size()
    base["component_size"] = base["component"].map(size)
    main = base.sort_values("component_size", ascending=False).groupby("building")["component"].first()
    cut = base[(base["component"] != base["building"].map(main)) & (deg > 0)]
    return (no_door, cut[["room_id", "name", "kind", "level", "component_size"]].reset_index(drop=True),
            int(main.nunique()))


# ------------------------------------------------------------------------ writing
SCENARIO_TEMPLATE = """\
# Scenario for the station imported from {source}
# (planner import-imdf; the mapping report is import_report.md).
# Every parameter has a default in planner/params.py; uncomment to override.
#
# [walking]
# walk_speed_m_s = 1.2
# reach_s = 60.0
#
# [capacity]
# Room kinds that may become safe rooms. This import has {cand} room(s) of these kinds;
# map IMDF categories to storage / recreation with --mapping to add candidates.
# candidate_kinds = ["storage", "quarters", "recreation"]
#
# [model]
# objective = "max-cover"
# budget = 2_000_000
"""


def _write_station(out_dir: Path, rooms: gpd.GeoDataFrame, doors: gpd.GeoDataFrame, report: ImportReport,
                   mp: Mapping, overwrite: bool) -> None:
    """Write the station files into a temporary folder beside `out_dir`, then move it into place."""
    write_station_folder(out_dir, rooms, doors, report.epsg, {
        "scenario.toml": SCENARIO_TEMPLATE.format(source=Path(report.source).name, cand=report.candidate_rooms),
        "import_report.md": report_markdown(report, mp)}, overwrite)


def report_markdown(r: ImportReport, mp: Mapping | None = None) -> str:
    """The mapping report as Markdown (written to import_report.md)."""
    w = io.StringIO()
    w.write(f"# IMDF import report\n\nSource: `{Path(r.source).name}`  \n")
    w.write(f"Coordinate reference system: **{r.crs}** (local UTM zone, metres; recorded as the GeoJSON \"crs\" member)  \n")
    w.write(f"Category mapping: {mp.source if mp else 'built-in'}\n\n")
    w.write("## Summary\n\n")
    w.write(f"- units: {r.units_total}; imported as rooms: {r.rooms}; not imported: {len(r.units_dropped)} "
            f"(every unit is one or the other: {'yes' if r.accounted() else 'NO'})\n")
    w.write(f"- openings: {r.openings_total}; doors between two rooms: {r.doors} "
            f"({r.door_share:.1%} of the openings on the selected levels); dropped: {len(r.openings_dropped)}\n")
    w.write(f"- vertical links (stairs/lifts lining up on consecutive levels): {r.vertical_links}\n")
    w.write(f"- candidate rooms (kinds storage/quarters/recreation, large enough): {r.candidate_rooms}\n")
    w.write(f"- rooms without a door: {len(r.rooms_without_door)}; rooms cut off from their building's main "
            f"walking network: {len(r.unreachable)}\n\n")
    if r.warnings:
        w.write("## Warnings\n\n" + "".join(f"- {x}\n" for x in r.warnings) + "\n")
    w.write("## Levels and decks\n\nDeck = level ordinal + 100 x building rank (largest building first), so that "
            "ordinals that clash between buildings stay apart.\n\n")
    w.write(md_table(r.levels))
    w.write("\n## Unit categories -> kinds\n\n")
    w.write(md_table(r.categories))
    if r.unknown_categories:
        w.write("\nUnknown categories (imported as kind `other`; map them with [categories] in a mapping TOML):\n\n")
        w.write("".join(f"- `{k}`: {v}\n" for k, v in sorted(r.unknown_categories.items())))
    if r.candidate_rooms == 0:
        w.write("\n**No candidate kinds**: no unit maps to storage, quarters or recreation, so no safe room can be "
                "proposed. Suggested mapping (TOML, `--mapping`):\n\n```toml\n[categories]\nwardrobe = \"storage\"\n"
                "room = \"storage\"\nlibrary = \"recreation\"\n\n[[rules]]   # small classrooms are store rooms\n"
                "category = \"classroom\"\nmax_area_m2 = 30\nkind = \"storage\"\n```\n")
    w.write("\n## Units not imported\n\n")
    w.write(md_table(r.units_dropped[r.units_dropped["reason"] != "level not selected"]))
    ns = int((r.units_dropped["reason"] == "level not selected").sum()) if len(r.units_dropped) else 0
    if ns:
        w.write(f"\n{ns} unit(s) on levels not selected (by --levels / --building): "
                + ", ".join(f"{k}: {v}" for k, v in r.units_dropped[r.units_dropped["reason"] == "level not selected"]
                            .groupby("level").size().items()) + "\n")
    w.write("\n## Geometry repairs\n\n" + ("".join(f"- {x}\n" for x in r.repairs) if r.repairs else "(none)\n"))
    w.write("\n## Openings dropped\n\n")
    od = r.openings_dropped
    w.write(md_table(od[od["reason"] != "level not selected"] if len(od) else od))
    nos = int((od["reason"] == "level not selected").sum()) if len(od) else 0
    if nos:
        w.write(f"\n{nos} opening(s) on levels not selected.\n")
    w.write("\n## Openings at junctions\n\nThese lines touch more than two units; the door joins the two units "
            "found on either side of the line, the others are listed.\n\n")
    w.write(md_table(r.junctions))
    w.write("\n## Rooms without a door\n\n")
    w.write(md_table(r.rooms_without_door))
    w.write("\n## Unreachable parts\n\nRooms with doors that are not connected to the largest walking network of "
            "their building (through doors and vertical links).\n\n")
    w.write(md_table(r.unreachable))
    if r.inference is not None:
        w.write(inference_markdown(r.inference))
    return w.getvalue()


__all__ = ["import_imdf", "ImportReport", "load_mapping", "Mapping", "DEFAULT_CATEGORIES", "report_markdown"]
