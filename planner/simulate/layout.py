"""The walkable area of a station and the walkers' routes over its doors (see `planner.simulate`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.ops import nearest_points
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from planner.station import Station
from planner.simulate.settings import SimSettings, _MARGIN_M, _OVERLAP_M, _PORTAL_M, _SIMPLIFY_M


# ------------------------------------------------------------------------ geometry
@dataclass
class Layout:
    """The walkable tiles of a station and the graph of its doors (see the module docstring).

    Room arrays are aligned with `room_ids`; door arrays with the level doors kept (`door_ids`);
    link arrays with the vertical links kept. Graph nodes: level doors 0 .. nd-1, then two per
    link (its end in `link_rooms[k, e]` is node nd + 2k + e).
    """

    room_ids: np.ndarray
    room_deck: np.ndarray
    room_geom: np.ndarray
    room_inner: np.ndarray
    room_point: np.ndarray          # (n, 2) a point well inside each room's walkable part (nan: none)
    room_tile: np.ndarray           # tile holding the room (-1: not walkable)
    tiles: list[shapely.Polygon]
    tile_deck: list[int]
    door_ids: np.ndarray
    door_rooms: np.ndarray          # (nd, 2) room index of each side
    door_mid: np.ndarray            # (nd, 2) midpoint of the leaf
    door_normal: np.ndarray         # (nd, 2) unit normal pointing from side 0 to side 1
    door_width: np.ndarray
    link_ids: np.ndarray
    link_rooms: np.ndarray          # (nl, 2)
    link_xy: np.ndarray             # (nl, 2, 2)
    link_traverse_s: np.ndarray
    link_flow_pps: np.ndarray
    graph: Any = None               # scipy CSR, seconds at the simulated mean speed

    def index(self) -> dict[str, int]:
        """{room_id: position}."""
        return {r: i for i, r in enumerate(self.room_ids)}

    @property
    def n_doors(self) -> int:
        return len(self.door_ids)

    def node_room_xy(self, node: int) -> tuple[float, float]:
        """Where a graph node is (door midpoint or link end)."""
        if node < self.n_doors:
            return tuple(self.door_mid[node])
        k, e = divmod(node - self.n_doors, 2)
        return tuple(self.link_xy[k, e])


def _door_rectangles(mid: np.ndarray, u: np.ndarray, nrm: np.ndarray, width: np.ndarray,
                     back_m: float | np.ndarray, front_m: float | np.ndarray) -> np.ndarray:
    """Rectangles `width` along the leaf (direction u), from -back_m to +front_m across it (normal nrm)."""
    hw = width[:, None] / 2.0
    back = np.broadcast_to(np.asarray(back_m, dtype=float), (len(mid),))[:, None]
    front = np.broadcast_to(np.asarray(front_m, dtype=float), (len(mid),))[:, None]
    corners = np.stack([mid - u * hw - nrm * back, mid + u * hw - nrm * back,
                        mid + u * hw + nrm * front, mid - u * hw + nrm * front], axis=1)
    return shapely.polygons(corners)


def _tile_keys(centroids: np.ndarray, deck: np.ndarray, tile_rooms: int) -> np.ndarray:
    """A square-grid cell per room, per deck, sized for about `tile_rooms` rooms per cell."""
    keys = np.zeros(len(deck), dtype=np.int64)
    for d in np.unique(deck):
        m = deck == d
        xy = centroids[m]
        n_tiles = max(1, int(math.ceil(m.sum() / max(1, tile_rooms))))
        if n_tiles == 1:
            continue
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        side = max(1e-6, math.sqrt(max((hi - lo).prod(), 1e-6) / n_tiles))
        cell = np.floor((xy - lo) / side).astype(np.int64)
        keys[m] = cell[:, 0] * 100_000 + cell[:, 1]
    return keys


def build_layout(station: Station, settings: SimSettings) -> Layout:
    """The walkable tiles, the level doors and vertical links between rooms, and the door graph."""
    rooms = station.rooms
    doors = station.doors
    geom = rooms.geometry.to_numpy()
    deck = rooms["deck"].to_numpy(dtype=int)
    ids = rooms["room_id"].astype(str).to_numpy()
    pos = {r: i for i, r in enumerate(ids)}
    inner = shapely.make_valid(shapely.buffer(geom, -settings.wall_m / 2.0, join_style="mitre"))
    clear = settings.radius_m + _MARGIN_M + _SIMPLIFY_M
    core = shapely.buffer(inner, -clear)
    ok = ~shapely.is_empty(core)
    room_point = np.full((len(rooms), 2), np.nan)
    pts = shapely.point_on_surface(core[ok])
    room_point[ok, 0], room_point[ok, 1] = shapely.get_x(pts), shapely.get_y(pts)
    # level doors with two rooms
    vertical = doors["vertical"].astype(bool).to_numpy()
    is_line = shapely.get_type_id(doors.geometry.to_numpy()) == 1
    fr = doors["from_room"].map(pos)
    to = doors["to_room"].map(pos)
    keep = ~vertical & is_line & fr.notna().to_numpy() & to.notna().to_numpy()
    lv = doors[keep]
    dr = np.column_stack([fr[keep].to_numpy(dtype=int), to[keep].to_numpy(dtype=int)]) if keep.any() \
        else np.zeros((0, 2), dtype=int)
    g = lv.geometry.to_numpy()
    a = np.column_stack([shapely.get_x(shapely.get_point(g, 0)), shapely.get_y(shapely.get_point(g, 0))])
    b = np.column_stack([shapely.get_x(shapely.get_point(g, -1)), shapely.get_y(shapely.get_point(g, -1))])
    mp = shapely.line_interpolate_point(g, 0.5, normalized=True)
    mid = np.column_stack([shapely.get_x(mp), shapely.get_y(mp)]).reshape(-1, 2)
    u = (b - a).reshape(-1, 2)
    u = u / np.where(np.hypot(u[:, 0], u[:, 1]) > 0, np.hypot(u[:, 0], u[:, 1]), 1.0)[:, None]
    nrm = np.column_stack([-u[:, 1], u[:, 0]]) if len(u) else np.zeros((0, 2))
    if len(mid):  # normal from side 0 to side 1: towards room 1's point
        toward = room_point[dr[:, 1]] - mid
        flip = np.nan_to_num((toward * nrm).sum(axis=1)) < 0
        nrm[flip] *= -1.0
    width = lv["width_m"].to_numpy(dtype=float)
    half = settings.wall_m / 2.0 + _OVERLAP_M
    rect = _door_rectangles(mid, u, nrm, width, half, half)
    # tiles: a grid cell's rooms, their doors, and a landing beyond each door to another cell
    cent = np.column_stack([shapely.get_x(shapely.centroid(geom)), shapely.get_y(shapely.centroid(geom))])
    key = _tile_keys(cent, deck, settings.tile_rooms)
    tiles: list[shapely.Polygon] = []
    tile_deck: list[int] = []
    room_tile = np.full(len(rooms), -1, dtype=int)
    ck = pd.Series(list(zip(deck, key)))
    for (d, _cell), members in ck.groupby(ck).groups.items():
        members = np.asarray(members, dtype=int)
        in_cell = np.zeros(len(rooms), dtype=bool)
        in_cell[members] = True
        both = in_cell[dr[:, 0]] & in_cell[dr[:, 1]] if len(dr) else np.zeros(0, dtype=bool)
        side0 = in_cell[dr[:, 0]] & ~in_cell[dr[:, 1]] if len(dr) else both
        side1 = in_cell[dr[:, 1]] & ~in_cell[dr[:, 0]] if len(dr) else both
        parts = [p for p in inner[members] if not p.is_empty] + list(rect[both])
        if side0.any():  # the cell's room is side 0: the landing reaches into side 1
            parts += list(_door_rectangles(mid[side0], u[side0], nrm[side0], width[side0], half, _PORTAL_M))
        if side1.any():
            parts += list(_door_rectangles(mid[side1], u[side1], -nrm[side1], width[side1], half, _PORTAL_M))
        # a millimetre grid removes slivers where rectangles meet shrunk walls; curved walls keep a
        # vertex every few centimetres of sagitta only (each wall segment costs every agent near it)
        union = shapely.simplify(shapely.set_precision(shapely.union_all(parts), 0.001), _SIMPLIFY_M,
                                 preserve_topology=True)
        polys = [p for p in shapely.get_parts(union) if p.geom_type == "Polygon" and p.area > 0.5]
        if not polys:
            continue
        first = len(tiles)
        tiles.extend(polys)
        tile_deck.extend([int(d)] * len(polys))
        tree = shapely.STRtree(polys)
        with_pt = members[ok[members]]
        ri, ti = tree.query(shapely.points(room_point[with_pt]), predicate="within")
        room_tile[with_pt[ri]] = first + ti
    # vertical links between walkable rooms
    vert = doors[vertical & doors["from_room"].notna().to_numpy() & doors["to_room"].notna().to_numpy()]
    l_ids, l_rooms, l_xy, l_trav, l_flow = [], [], [], [], []
    for row in vert.itertuples(index=False):
        ra, rb = pos.get(str(row.from_room)), pos.get(str(row.to_room))
        if ra is None or rb is None or room_tile[ra] < 0 or room_tile[rb] < 0 or ra == rb:
            continue
        p = row.geometry.centroid if row.geometry is not None and not row.geometry.is_empty else None
        ends = []
        for r in (ra, rb):
            c = shapely.buffer(inner[r], -clear)
            if p is not None and not c.is_empty and c.contains(p):
                ends.append((p.x, p.y))
            elif p is not None and not c.is_empty:
                q = nearest_points(c, p)[0]
                ends.append((q.x, q.y))
            else:
                ends.append(tuple(room_point[r]))
        trav = float(row.traverse_s) if row.traverse_s == row.traverse_s else settings.stairs_traverse_s
        l_ids.append(str(row.door_id))
        l_rooms.append((ra, rb))
        l_xy.append(ends)
        l_trav.append(trav)
        l_flow.append(max(0.05, settings.stairs_flow_pps_m * (float(row.width_m) - 2 * settings.boundary_layer_m)))
    layout = Layout(room_ids=ids, room_deck=deck, room_geom=geom, room_inner=inner, room_point=room_point,
                    room_tile=room_tile, tiles=tiles, tile_deck=tile_deck, door_ids=lv["door_id"].astype(str).to_numpy(),
                    door_rooms=dr, door_mid=mid, door_normal=nrm, door_width=width,
                    link_ids=np.asarray(l_ids, dtype=object), link_rooms=np.asarray(l_rooms, dtype=int).reshape(-1, 2),
                    link_xy=np.asarray(l_xy, dtype=float).reshape(-1, 2, 2), link_traverse_s=np.asarray(l_trav, dtype=float),
                    link_flow_pps=np.asarray(l_flow, dtype=float))
    layout.graph = _door_graph(layout, settings.speed_m_s)
    return layout


def _door_graph(layout: Layout, speed_m_s: float) -> Any:
    """Doors and link ends joined within each room by the straight distance (s at `speed_m_s`), links by
    their traverse time. Only rooms that are walkable join their doors."""
    nd = layout.n_doors
    nl = len(layout.link_ids)
    node_room = np.concatenate([layout.door_rooms[:, 0], layout.door_rooms[:, 1], layout.link_rooms.ravel()])
    node = np.concatenate([np.arange(nd), np.arange(nd), nd + np.arange(2 * nl)])
    xy = np.vstack([layout.door_mid, layout.door_mid, layout.link_xy.reshape(-1, 2)]) if nl else \
        np.vstack([layout.door_mid, layout.door_mid])
    walk = layout.room_tile[node_room] >= 0 if len(node_room) else np.zeros(0, dtype=bool)
    node_room, node, xy = node_room[walk], node[walk], xy[walk]
    order = np.argsort(node_room, kind="stable")
    node_room, node, xy = node_room[order], node[order], xy[order]
    rows, cols, w = [], [], []
    starts = np.flatnonzero(np.r_[True, node_room[1:] != node_room[:-1]]) if len(node_room) else np.zeros(0, int)
    ends = np.r_[starts[1:], len(node_room)]
    for s, e in zip(starts, ends):
        if e - s < 2:
            continue
        i, j = np.triu_indices(e - s, 1)
        d = np.hypot(*(xy[s + i] - xy[s + j]).T) / speed_m_s
        rows += [node[s + i], node[s + j]]
        cols += [node[s + j], node[s + i]]
        w += [np.maximum(d, 1e-6), np.maximum(d, 1e-6)]
    for k in range(nl):
        a, b = nd + 2 * k, nd + 2 * k + 1
        rows.append(np.array([a, b]))
        cols.append(np.array([b, a]))
        w.append(np.full(2, max(layout.link_traverse_s[k], 1e-6)))
    n = nd + 2 * nl
    if not rows:
        return coo_matrix((n, n)).tocsr()
    return coo_matrix((np.concatenate(w), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)).tocsr()


# ------------------------------------------------------------------------ routes
@dataclass
class _Group:
    """Walkers of one assignment: room -> safe room, with the ways out of their room.

    `options`: per door of the room (or link end in it) that leads to the safe room, (node, seconds
    from that node to the safe room, steps); a step is (kind, index, room entered): ("door", door,
    room beyond it) or ("link", link end entered, room at the other end). `late`: residents the plan
    lists unsheltered (short of time) who go to this safe room anyway (`planner.latecomers`).
    """

    room: int
    safe: int
    residents: int
    options: list[tuple[int, float, list[tuple[str, int, int]]]]
    late: bool = False


def _node_rooms(layout: Layout, node: int) -> tuple[int, int]:
    nd = layout.n_doors
    if node < nd:
        return int(layout.door_rooms[node, 0]), int(layout.door_rooms[node, 1])
    k, e = divmod(node - nd, 2)
    r = int(layout.link_rooms[k, e])
    return r, r


def _steps(layout: Layout, room: int, chain: list[int]) -> list[tuple[str, int, int]] | None:
    """The steps of a walk from `room` through the nodes of `chain`; None if the chain is not a walk."""
    nd = layout.n_doors
    steps: list[tuple[str, int, int]] = []
    cur = room
    i = 0
    while i < len(chain):
        n = chain[i]
        if n < nd:
            a, b = layout.door_rooms[n]
            if cur not in (a, b):
                return None
            cur = int(b if cur == a else a)
            steps.append(("door", int(n), cur))
            i += 1
            continue
        k, e = divmod(n - nd, 2)
        if i + 1 < len(chain) and chain[i + 1] == nd + 2 * k + 1 - e:   # traverse the link
            if layout.link_rooms[k, e] != cur:
                return None
            cur = int(layout.link_rooms[k, 1 - e])
            steps.append(("link", int(n - nd), cur))
            i += 2
            continue
        i += 1   # a link end passed without traversing: a point in the room
    return steps


def _groups(layout: Layout, rows: pd.DataFrame) -> list[_Group]:
    """Walking groups (room -> safe room) with their ways out, by shortest paths over the door graph."""
    nd = layout.n_doors
    node_rooms = np.concatenate([layout.door_rooms, np.repeat(layout.link_rooms.reshape(-1, 1), 2, axis=1)]) \
        if len(layout.link_ids) else layout.door_rooms
    out: list[_Group] = []
    for s, sub in rows.groupby("s", sort=True):
        s = int(s)
        entry = np.flatnonzero((node_rooms[:nd, 0] == s) | (node_rooms[:nd, 1] == s))
        if len(entry) == 0 or layout.room_tile[s] < 0:
            out += [_Group(int(r.r), s, int(r.residents), []) for r in sub.itertuples(index=False)]
            continue
        dist, pred, _ = dijkstra(layout.graph, indices=entry, min_only=True, return_predecessors=True)
        for r in sub.itertuples(index=False):
            room = int(r.r)
            own = np.flatnonzero((node_rooms[:, 0] == room) | (node_rooms[:, 1] == room))
            opts = []
            if layout.room_tile[room] >= 0:
                for n in own:
                    if not np.isfinite(dist[n]):
                        continue
                    chain = [int(n)]
                    while pred[chain[-1]] >= 0:
                        chain.append(int(pred[chain[-1]]))
                    steps = _steps(layout, room, chain)
                    if steps and steps[-1][2] == s:
                        opts.append((int(n), float(dist[n]), steps))
            out.append(_Group(room, s, int(r.residents), opts))
    return out


def _place(inner: shapely.Geometry, n: int, rng: np.random.Generator, settings: SimSettings) -> np.ndarray:
    """Up to `n` non-overlapping random positions inside a room's walkable part ((k, 2) array)."""
    if n <= 0 or inner is None or inner.is_empty:
        return np.zeros((0, 2))
    clear = settings.radius_m + _MARGIN_M + _SIMPLIFY_M
    core = shapely.buffer(inner, -clear)
    if core.is_empty:
        return np.zeros((0, 2))
    minx, miny, maxx, maxy = core.bounds
    for spacing, jitter in ((settings.spacing_m, (settings.spacing_m - 2 * settings.radius_m - _MARGIN_M) / 2.0),
                            (2 * settings.radius_m + _MARGIN_M, 0.0)):
        ox, oy = rng.uniform(0, spacing, 2)
        xs = np.arange(minx - ox, maxx + spacing, spacing)
        ys = np.arange(miny - oy, maxy + spacing, spacing)
        gx, gy = np.meshgrid(xs, ys)
        gx = gx.ravel() + rng.uniform(-jitter, jitter, gx.size) / math.sqrt(2)
        gy = gy.ravel() + rng.uniform(-jitter, jitter, gy.size) / math.sqrt(2)
        inside = shapely.contains_xy(core, gx, gy)
        gx, gy = gx[inside], gy[inside]
        if len(gx) >= n or jitter == 0.0:
            pick = rng.permutation(len(gx))[:n]
            return np.column_stack([gx[pick], gy[pick]])
    return np.zeros((0, 2))  # pragma: no cover
