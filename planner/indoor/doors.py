"""Door inference: doors invented where a drawing has none, for a plan or a station folder (see `planner.indoor`)."""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from planner.errors import OutputError
from planner.files import umask_mode
from planner.params import CIRCULATION_KINDS, Parameters
from planner.station import DOOR_COLUMNS, _find, _read_layer, load_station
from planner.indoor.mapping import VERTICAL_KINDS
from planner.indoor.writer import feature_collection_text, md_table


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
