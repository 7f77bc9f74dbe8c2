"""`import_osm`: elements to a station folder (rooms, doors, buildings, levels; see `planner.osm`)."""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path
from typing import TypedDict

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from planner.errors import InputError, OutputError
from planner.indoor import (
    SKIP,
    candidate_kinds_toml,
    cut_overlaps,
    drop_duplicate_drawings,
    drop_floor_outlines,
    fallback_candidate_kinds,
    infer_doors,
    load_mapping,
    polygonal,
    to_local_utm,
    vertical_links,
    write_station_folder,
)
from planner.params import CIRCULATION_KINDS, Parameters
from planner.osm.tags import (
    BUILDING_GAP_M, DOOR_SNAP_M, GENERIC, MIN_ROOM_M2, OSM_CATEGORIES, OSM_NAMES, PASSAGE_SNAP_M,
    SKIP_INDOOR, _PASSAGE_FROM, _PASSAGE_TO, _category, _is_area, _is_building, _is_door_node,
    _is_floor, _is_passage, _level_label, _width, parse_levels,
)
from planner.osm.read import Element, read_osm
from planner.osm.report import OsmImportReport, SCENARIO_TEMPLATE, report_markdown


# ------------------------------------------------------------------------ main
class _Row(TypedDict):
    """One area on one level (an area tagged with several levels is one row per level)."""

    el: Element
    level: float


def _older(a: Element, b: Element) -> bool:
    """Is `a` an older drawing than `b` (version, then timestamp, then id)?"""
    def num(e: Element) -> int:
        m = re.search(r"-?\d+", e.osm_id)
        return int(m.group()) if m else 0
    return (a.version, a.timestamp, num(a)) < (b.version, b.timestamp, num(b))


def import_osm(src: str | Path, out_dir: str | Path, levels: list[str] | None = None, building: str | None = None,  # noqa: C901  debt: issue 19 (to split into reading, repair and door stages)
               mapping: str | Path | None = None, infer: bool = False, overwrite: bool = False) -> OsmImportReport:
    """Convert an OSM XML or GeoJSON indoor export into a station folder at `out_dir`.

    `levels`: OSM level values to import (default all); `building`: a building's name or
    number in the report (default the largest; ``"all"`` every building, one sector each);
    `mapping`: TOML mapping (see `planner.indoor.load_mapping`); `infer`: invent the doors the
    data lacks (`planner.indoor.infer_doors`); `overwrite`: replace a non-empty `out_dir`.
    Returns the report, also written as `out_dir/import_report.md`.
    """
    src = Path(src)
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())) and not overwrite:
        raise OutputError(f"{out_dir}: exists and is not empty. Fix: choose another --out, or pass --force to replace it")
    params = Parameters()
    mp = load_mapping(mapping, params, defaults=OSM_CATEGORIES, names=OSM_NAMES, generic=GENERIC)
    notes: list[str] = []
    elements = read_osm(src, notes)
    repairs: list[str] = list(notes)
    warns: list[str] = []
    dropped: list[dict] = []

    def dropit(e: Element, reason: str, level: str = "") -> None:
        dropped.append({"osm_id": e.osm_id, "name": e.tags.get("name", ""), "level": level, "reason": reason})

    areas = [e for e in elements if e.geom is not None and e.geom.geom_type in ("Polygon", "MultiPolygon")
             and _is_area(e) and not _is_floor(e)]
    # open ways tagged as areas: closed when they have three nodes or more
    for e in elements:
        if e.geom is not None and e.geom.geom_type == "LineString" and _is_area(e) and not _is_passage(e):
            c = shapely.get_coordinates(e.geom)
            if len(c) >= 3:
                e.geom = shapely.Polygon(np.r_[c, c[:1]])
                e.closed_by_repair = True
                areas.append(e)
            else:
                dropit(e, "area drawn as an open way of two nodes")
    for e in areas:
        if e.closed_by_repair:
            repairs.append(f"{e.osm_id} ({e.tags.get('name', 'unnamed')}): unclosed ring closed")
    floors = [e for e in elements if e.geom is not None and e.geom.geom_type in ("Polygon", "MultiPolygon")
              and _is_floor(e)]
    bldgs = [e for e in elements if e.geom is not None and e.geom.geom_type in ("Polygon", "MultiPolygon")
             and _is_building(e)]
    door_nodes = [e for e in elements if e.geom is not None and e.geom.geom_type == "Point" and _is_door_node(e)]
    passages = [e for e in elements if e.geom is not None and e.geom.geom_type == "LineString" and _is_passage(e)
                and not _is_area(e)]
    for e in elements:
        t = e.tags
        if t.get("indoor", "").lower() in SKIP_INDOOR and e.geom is not None and e.geom.geom_type != "Point" \
                and not _is_passage(e):
            dropit(e, f"indoor={t.get('indoor')}: not a space")
    if not areas:
        raise InputError(str(src), "areas", "none found: no feature tagged indoor=room/corridor/area (or room=*)",
                         "export the building's indoor features (Simple Indoor Tagging) with their tags")

    # ---- degrees? every OSM export is WGS84; check plausibility
    allb = shapely.total_bounds(np.array([e.geom for e in areas], dtype=object))
    if not (-180 <= allb[0] <= allb[2] <= 180 and -90 <= allb[1] <= allb[3] <= 90):
        raise InputError(str(src), "coordinates", f"span {allb[0]:.1f}..{allb[2]:.1f}, {allb[1]:.1f}..{allb[3]:.1f}: "
                         "not longitude/latitude", "export the data in WGS84 (EPSG:4326), as OSM tools do")

    # ---- one record per (area, level)
    rows: list[_Row] = []
    no_level = 0
    for e in areas:
        lv = parse_levels(e.tags.get("level", ""))
        rep = parse_levels(e.tags.get("repeat_on", ""))
        if not lv and not rep:
            no_level += 1
            lv = [math.nan]
        for v in sorted(set(lv) | set(rep)):
            rows.append({"el": e, "level": v})
    all_levels = sorted({row["level"] for row in rows if not math.isnan(row["level"])})
    if no_level:
        fill = all_levels[0] if len(all_levels) == 1 else 0.0
        warns.append(f"{no_level} area(s) have no level tag: put on level {fill:g}")
        for row in rows:
            if math.isnan(row["level"]):
                row["level"] = fill
        all_levels = sorted({row["level"] for row in rows})
    if levels:
        want: set[float] = set()
        for tok in levels:
            lv_t = parse_levels(str(tok))
            if not lv_t or not set(lv_t) & set(all_levels):
                raise InputError("--levels", str(tok), "matches no level",
                                 f"give levels among: {', '.join(_level_label(v) for v in all_levels)}")
            want |= set(lv_t)
        for row in rows:
            if row["level"] not in want:
                dropit(row["el"], "level not selected", _level_label(row["level"]))
        rows = [row for row in rows if row["level"] in want]
    deck_of = _decks(sorted({row["level"] for row in rows}))

    # ---- project everything used to the local UTM zone
    geoms = [r["el"].geom for r in rows] + [e.geom for e in door_nodes] + [e.geom for e in passages] \
        + [e.geom for e in floors] + [e.geom for e in bldgs]
    proj, crs, epsg, crs_name = to_local_utm(np.array(geoms, dtype=object))
    k0 = len(rows)
    k1 = k0 + len(door_nodes)
    k2 = k1 + len(passages)
    k3 = k2 + len(floors)
    room_g = proj[:k0]
    node_g, pass_g, bld_g = proj[k0:k1], proj[k1:k2], proj[k3:]

    r = pd.DataFrame({
        "osm_id": [x["el"].osm_id for x in rows], "level": [x["level"] for x in rows],
        "name": [x["el"].tags.get("name") or x["el"].tags.get("ref") or "" for x in rows],
        "ref": [x["el"].tags.get("ref", "") for x in rows],
        "category": [_category(x["el"].tags) for x in rows],
        "version": [x["el"].version for x in rows], "idx": np.arange(len(rows))})
    r["geometry"] = list(room_g)
    r["room_id"] = [oid if len(parse_levels(x["el"].tags.get("level", ""))) + len(parse_levels(
        x["el"].tags.get("repeat_on", ""))) <= 1 else f"{oid}@{_level_label(lv)}"
        for oid, lv, x in zip(r["osm_id"], r["level"], rows)]
    r = r.drop_duplicates("room_id").reset_index(drop=True)

    # ---- repairs: invalid outlines, duplicates, floor outlines, overlaps
    g = np.array(list(r["geometry"]), dtype=object)
    bad = ~shapely.is_valid(g)
    if bad.any():
        g[bad] = shapely.make_valid(g[bad])
        for oid in r["room_id"][bad]:
            repairs.append(f"{oid}: self-intersecting or otherwise invalid outline made valid")
    g = np.array([polygonal(x, oid, repairs, "area") for x, oid in zip(g, r["room_id"])], dtype=object)
    r["geometry"] = list(g)
    gone = np.array([x is None or shapely.area(x) < MIN_ROOM_M2 for x in g])
    for i in np.flatnonzero(gone):
        dropit(rows[int(r["idx"].iat[i])]["el"], f"no area (under {MIN_ROOM_M2} m2)", _level_label(r["level"].iat[i]))
    r = r[~gone].reset_index(drop=True)
    def drop_row(i: int, reason: str) -> None:
        dropit(rows[int(r["idx"].iat[i])]["el"], reason, _level_label(r["level"].iat[i]))

    def older(i: int, j: int) -> bool:
        return _older(rows[int(r["idx"].iat[i])]["el"], rows[int(r["idx"].iat[j])]["el"])

    r = drop_duplicate_drawings(r, repairs, older, drop_row)
    kinds0 = np.array([mp.kind(c, 0.0, o, n)[0] for c, o, n in zip(r["category"], r["osm_id"], r["name"])])
    r = drop_floor_outlines(r, repairs, np.isin(kinds0, CIRCULATION_KINDS), drop_row)

    # kinds
    kinds = [mp.kind(c, a, oid, n) for c, a, oid, n in zip(r["category"], shapely.area(np.array(list(r["geometry"]))),
                                                            r["osm_id"], r["name"])]
    r["kind"] = [k or "other" for k, _ in kinds]
    r["rule"] = [rule for _, rule in kinds]
    cat_table = (r.assign(category=r["category"].replace("", "(none)")).groupby(["category", "kind", "rule"]).size()
                 .rename("count").reset_index().sort_values(["kind", "category"]).reset_index(drop=True))
    skip = (r["kind"] == SKIP).to_numpy()
    for i in np.flatnonzero(skip):
        dropit(rows[int(r["idx"].iat[i])]["el"], f"not a space: {r['category'].iat[i]} is mapped to skip",
               _level_label(r["level"].iat[i]))
    r = r[~skip].reset_index(drop=True)
    cut_overlaps(r, repairs, level="level", ident="room_id", what="room")
    empty = np.array([x is None or x.is_empty or x.area < MIN_ROOM_M2 for x in r["geometry"]], bool)
    for i in np.flatnonzero(empty):
        dropit(rows[int(r["idx"].iat[i])]["el"], "no area left after removing its overlap with other rooms",
               _level_label(r["level"].iat[i]))
    r = r[~empty].reset_index(drop=True)
    r["deck"] = r["level"].map(deck_of).astype(int)

    # ---- buildings: rooms near one another in plan (any level) belong together
    r, btable = _buildings(r, bld_g, [e.tags for e in bldgs], building, warns, str(src))

    # ---- names: unnamed rooms, rooms named alike on several levels
    r["name"] = [n or f"{c or 'room'} {oid}" for n, c, oid in zip(r["name"], r["category"], r["osm_id"])]
    multi = r.groupby("name")["level"].transform("nunique") > 1
    if multi.any():
        repairs.append(f"{int(multi.sum())} room(s) share a name with rooms on other levels "
                       f"({', '.join(sorted(set(r['name'][multi]))[:10])}{' ...' if r['name'][multi].nunique() > 10 else ''}): "
                       "the level is added to their names")
        r.loc[multi, "name"] = [f"{n} (level {_level_label(lv)})" for n, lv in zip(r["name"][multi], r["level"][multi])]

    # ---- doors
    doors, n_nodes, n_pass, ddrop = _doors(r, door_nodes, node_g, passages, pass_g, params)
    rooms_gdf = gpd.GeoDataFrame({
        "room_id": r["room_id"].astype(str), "kind": r["kind"], "sector": r["building"], "deck": r["deck"].astype(int),
        "name": r["name"], "osm_id": r["osm_id"], "level": [_level_label(v) for v in r["level"]],
        "osm_category": r["category"]}, geometry=list(r["geometry"]), crs=crs)
    links = vertical_links(rooms_gdf, mp, group="sector")
    n_links = len(links)
    if len(links):
        doors = pd.concat([doors, links.drop(columns=["link_by"])], ignore_index=True)
    doors_gdf = gpd.GeoDataFrame(doors.drop(columns=["geometry"]), geometry=list(doors["geometry"]), crs=crs)
    doors_gdf["inferred"] = False
    inference = None
    if infer:
        inference = infer_doors(rooms_gdf, doors_gdf, params)
        doors_gdf = inference.doors
        if inference.unconnected:
            warns.append(f"{len(inference.unconnected)} group(s) of rooms have no neighbour to join them to the rest "
                         "(see the report)")
    elif len(doors_gdf) == 0:
        warns.append("the data has no doors (no door nodes, no passage ways): run with --infer-doors, or "
                     "`planner doors infer` on the station")

    cand = int((rooms_gdf["kind"].isin(params.candidate_kinds)
                & (rooms_gdf.geometry.area >= params.min_site_area_m2)).sum())
    extra_toml = ""
    fallback = fallback_candidate_kinds(rooms_gdf["kind"], params)
    if cand == 0 and fallback:
        extra_toml = "\n" + candidate_kinds_toml(fallback)
        cand = int((rooms_gdf["kind"].isin(fallback) & (rooms_gdf.geometry.area >= params.min_site_area_m2)).sum())
        warns.append(f"no room has a default candidate kind ({', '.join(params.candidate_kinds)}): scenario.toml makes "
                     f"the kinds {', '.join(fallback)} candidates ({cand} rooms); narrow it, or give kinds with "
                     "--mapping ([categories], [names], [units] by OSM id)")
    elif cand == 0:
        warns.append(f"no room has a candidate kind ({', '.join(params.candidate_kinds)}): no safe room can be "
                     "proposed. Give rooms kinds with --mapping ([categories], [names], [units] by OSM id)")
    lv_table = pd.DataFrame({"level": [_level_label(v) for v in deck_of], "deck": list(deck_of.values())})
    lv_table["rooms"] = lv_table["deck"].map(rooms_gdf.groupby("deck").size()).fillna(0).astype(int)
    lv_table["doors"] = lv_table["deck"].map(doors_gdf.groupby("deck").size() if len(doors_gdf) else {}) \
        .fillna(0).astype(int)
    report = OsmImportReport(
        out_dir=out_dir, source=str(src), crs=crs_name, epsg=epsg, features=len(elements), rooms=len(rooms_gdf),
        levels=lv_table, categories=cat_table,
        dropped=pd.DataFrame(dropped, columns=["osm_id", "name", "level", "reason"]),
        doors_from_nodes=n_nodes, doors_from_passages=n_pass, doors_dropped=ddrop, vertical_links=n_links,
        buildings=btable, repairs=repairs, warnings=warns, candidate_rooms=cand, inference=inference)
    title = (str(r["building"].iat[0]) if r["building"].nunique() == 1 and not
             str(r["building"].iat[0]).startswith("building ") else src.stem).replace('"', "'").replace("\\", "/")
    write_station_folder(out_dir, rooms_gdf, doors_gdf, epsg, {
        "scenario.toml": SCENARIO_TEMPLATE.format(source=src.name, cand=cand, title=title) + extra_toml,
        "import_report.md": report_markdown(report, mp)}, overwrite)
    return report


def _decks(levels: list[float]) -> dict[float, int]:
    """Deck numbers: the levels themselves when whole numbers, else their rank with the lowest
    level at or above 0 as deck 0."""
    if all(float(v).is_integer() for v in levels):
        return {v: int(v) for v in levels}
    zero = next((i for i, v in enumerate(levels) if v >= 0), 0)
    return {v: i - zero for i, v in enumerate(levels)}


def _buildings(r: pd.DataFrame, bld_g: np.ndarray, bld_tags: list[dict[str, str]], choice: str | None,
               warns: list[str], src: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Group rooms into buildings (rooms within `BUILDING_GAP_M` in plan, on any level, and rooms
    inside one building outline), name them, and keep the chosen one (largest by default)."""
    g = np.array(list(r["geometry"]), dtype=object)
    n = len(g)
    tree = shapely.STRtree(g)
    a, b = tree.query(g, predicate="dwithin", distance=BUILDING_GAP_M)
    ea, eb = [a], [b]
    bname = np.full(n, "", dtype=object)
    if len(bld_g):
        pts = shapely.point_on_surface(g)
        bi, ri = shapely.STRtree(bld_g).query(pts, predicate="within")
        # rooms in one outline are one building (rows: point index = room)
        first: dict[int, int] = {}
        for room_i, out_i in zip(bi, ri):
            if out_i in first:
                ea.append(np.array([first[out_i]]))
                eb.append(np.array([room_i]))
            else:
                first[int(out_i)] = int(room_i)
            t = bld_tags[int(out_i)]
            bname[room_i] = t.get("name") or t.get("addr:housename") or (
                f"{t.get('addr:street', '')} {t.get('addr:housenumber', '')}".strip())
    adj = coo_matrix((np.ones(sum(len(x) for x in ea)), (np.concatenate(ea), np.concatenate(eb))), shape=(n, n))
    _, comp = connected_components(adj, directed=False)
    size = np.bincount(comp)
    order = np.argsort(-size, kind="stable")
    names = []
    for rank, c in enumerate(order, 1):
        cand = Counter(x for x in bname[comp == c] if x)
        names.append(cand.most_common(1)[0][0] if cand else f"building {rank}")
    label = {int(c): nm for c, nm in zip(order, names)}
    r = r.assign(building=[label[int(c)] for c in comp])
    table = pd.DataFrame({"number": np.arange(1, len(order) + 1), "building": names, "rooms": size[order],
                          "levels": [", ".join(_level_label(v) for v in sorted(set(r["level"][comp == c])))
                                     for c in order]})
    if choice is None or str(choice).strip().lower() == "all":
        keep_c = set(order.tolist()) if choice is not None else {int(order[0])}
        if len(order) > 1 and choice is None:
            warns.append(f"{len(order)} buildings with no indoor connection: imported the largest, {names[0]!r} "
                         f"({size[order[0]]} rooms); choose another with --building "
                         + ", ".join(repr(x) for x in names[1:6]) + " (or a number), or --building all")
        elif len(order) > 1:
            warns.append(f"{len(order)} buildings with no indoor connection are imported together (one sector each): "
                         "validation will report them as parts cut off from each other")
    else:
        tok = str(choice).strip().casefold()
        hit = [i for i, nm in enumerate(names) if nm.casefold() == tok or str(i + 1) == tok]
        if not hit:
            hit = [i for i, nm in enumerate(names) if len(tok) >= 3 and tok in nm.casefold()]
        if len(hit) != 1:
            raise InputError(src, f"--building {choice!r}", "matches no building" if not hit else "matches several",
                             "give one of: " + "; ".join(f"{i + 1} ({nm}, {size[order[i]]} rooms)"
                                                         for i, nm in enumerate(names)))
        keep_c = {int(order[hit[0]])}
    table["imported"] = [int(c) in keep_c for c in order]
    return r[np.isin(comp, list(keep_c))].reset_index(drop=True), table


def _doors(r: pd.DataFrame, nodes: list[Element], node_g: np.ndarray, passages: list[Element], pass_g: np.ndarray,  # noqa: C901  debt: issue 19 (to split into reading, repair and door stages)
           params: Parameters) -> tuple[pd.DataFrame, int, int, pd.DataFrame]:
    """Doors from door nodes (the two nearest areas of the node's level within `DOOR_SNAP_M`) and
    passage ways (the areas their tags name, else the two nearest within `PASSAGE_SNAP_M`)."""
    cols = ["door_id", "width_m", "deck", "from_room", "to_room", "traverse_s", "geometry", "osm_id"]
    g = np.array(list(r["geometry"]), dtype=object)
    lv = r["level"].to_numpy()
    ids = r["room_id"].astype(str).to_numpy()
    deck = r["deck"].to_numpy()
    tree = shapely.STRtree(g)
    out, dropped = [], []
    name_key = pd.Series(ids, index=[str(x).strip().casefold() for x in r["name"]])
    ref_key = pd.Series(ids, index=[str(x).strip().casefold() for x in r["ref"]])
    osm_key = pd.Series(ids, index=r["osm_id"].astype(str))
    pos_of = {rid: i for i, rid in enumerate(ids)}

    def near(geom: shapely.Geometry, levels: list[float], dist: float) -> list[int]:
        idx = tree.query(geom, predicate="dwithin", distance=dist)
        if levels:
            idx = idx[np.isin(lv[idx], levels)]
        d = shapely.distance(g[idx], geom)
        return [int(i) for i in idx[np.argsort(d, kind="stable")]]

    n_nodes = 0
    for e, geom in zip(nodes, node_g):
        levels = parse_levels(e.tags.get("level", "")) + parse_levels(e.tags.get("repeat_on", ""))
        hits = near(geom, levels, DOOR_SNAP_M)
        seen: list[int] = []
        for h in hits:
            if h not in seen and (not seen or lv[h] == lv[seen[0]]):
                seen.append(h)
        if len(seen) < 2:
            why = "opens into no imported area" if not seen else f"opens into one area only ({ids[seen[0]]}): an exit"
            dropped.append({"osm_id": e.osm_id, "level": e.tags.get("level", ""), "reason": why})
            continue
        i, j = seen[0], seen[1]
        out.append({"door_id": e.osm_id, "width_m": _width(e.tags) or params.default_door_width_m,
                    "deck": float(deck[i]), "from_room": ids[i], "to_room": ids[j], "traverse_s": np.nan,
                    "geometry": geom, "osm_id": e.osm_id})
        n_nodes += 1
    n_pass = 0
    for e, geom in zip(passages, pass_g):
        levels = parse_levels(e.tags.get("level", ""))
        names = [e.tags.get(k, "") for k in _PASSAGE_FROM if e.tags.get(k)][:1] + \
                [e.tags.get(k, "") for k in _PASSAGE_TO if e.tags.get(k)][:1]
        if not names and e.tags.get("connects"):
            names = [x for x in re.split(r"[;|]", e.tags["connects"]) if x.strip()][:2]
        ends: list[int] = []
        cand = near(geom, levels, PASSAGE_SNAP_M * 3)
        for nm in names:
            key = str(nm).strip().casefold()
            found = [pos_of[x] for s in (name_key, ref_key) if key in s.index for x in np.atleast_1d(s[key])] + \
                    ([pos_of[x] for x in np.atleast_1d(osm_key[nm.strip()])] if nm.strip() in osm_key.index else [])
            found = [f for f in found if not levels or lv[f] in levels]
            pick = [f for f in cand if f in found] or found
            if pick:
                ends.append(pick[0])
        if len(ends) < 2 or ends[0] == ends[1]:
            ends = []
            for h in near(geom, levels, PASSAGE_SNAP_M):
                if h not in ends and (not ends or lv[h] == lv[ends[0]]):
                    ends.append(h)
        if len(ends) < 2:
            dropped.append({"osm_id": e.osm_id, "level": e.tags.get("level", ""),
                            "reason": "passage joins fewer than two imported areas"
                            + (f" (names {', '.join(names)})" if names else "")})
            continue
        i, j = ends[0], ends[1]
        width = _width(e.tags) or float(np.clip(shapely.length(geom), 0.7, 5.0))
        out.append({"door_id": e.osm_id, "width_m": round(width, 3), "deck": float(deck[i]), "from_room": ids[i],
                    "to_room": ids[j], "traverse_s": np.nan, "geometry": geom, "osm_id": e.osm_id})
        n_pass += 1
    doors = pd.DataFrame(out, columns=cols)
    doors = doors.drop_duplicates("door_id").reset_index(drop=True)
    return doors, n_nodes, n_pass, pd.DataFrame(dropped, columns=["osm_id", "level", "reason"])
