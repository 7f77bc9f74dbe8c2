"""Walking times on a raster of the floor plan: the checker's walking model, independent of `planner/network/`.

The planner's reach table walks a visibility graph over the polygons' corners between door
midpoints (`planner.network`). The checker must catch an error in that model, so it times the
same walks another way:

- every room is covered by square cells of `cell_m` metres (cell centres inside the polygon, on
  one grid per deck aligned at the origin);
- cells of the same room are joined to their 16 neighbours (the 8 king moves and the 8 knight
  moves; a move is allowed only where the cells it passes beside are in the room too, so no move
  cuts a wall corner), weighted by the distance between the centres: a path on this lattice is at
  most 2.7 % longer than the straight line it follows (knight-move lattice, angle error at most
  13.3 degrees / 2);
- a level door is a node at the middle of its leaf (or its point) joined to the cells of the two
  rooms it joins within `door_reach_m` of it (or the nearest 3 cells of a room when none are that
  close), by straight distance; a vertical link is one node per side, joined by its traverse
  time (`traverse_s`, else `params.stairs_traverse_s`) in metres at the walking speed;
- scipy's Dijkstra from the doors of each safe room, one run per door, with a cut-off; a room's
  walk to the safe room is ``reaction + max over its cells of min over the safe room's doors of
  distance / speed``, and the door its people use is the one with the smallest worst cell.

Cell centres lie up to ``cell_m / sqrt(2)`` inside the room's farthest corner, so the raster walk
can be that much shorter; the lattice makes it up to 2.7 % longer. `planner.checkqueue` allows
for both.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import dijkstra

from planner.network.parallel import _balanced_chunks, _fork_map, _reach_workers
from planner.station import Station

log = logging.getLogger(__name__)

__all__ = ["GridGraph", "build_grid", "grid_walks", "LATTICE_STRETCH"]

PARALLEL_MIN_SITES = 1000
"""Fewer safe rooms to search from than this: no worker processes (starting them costs more than they save)."""

LATTICE_STRETCH = 1.0 / math.cos(math.atan(0.5) / 2.0)
"""Largest ratio of a 16-neighbour lattice path to the straight segment it approximates (1.0275)."""

_MOVES = np.array([(1, 0), (0, 1), (1, 1), (1, -1), (2, 1), (1, 2), (2, -1), (1, -2)], dtype=np.int64)
# cells a move passes beside, which must be in the room too (relative to the start cell)
_BESIDE = {
    (1, 1): [(1, 0), (0, 1)], (1, -1): [(1, 0), (0, -1)],
    (2, 1): [(1, 0), (1, 1)], (1, 2): [(0, 1), (1, 1)],
    (2, -1): [(1, 0), (1, -1)], (1, -2): [(0, -1), (1, -1)],
}


class GridGraph:
    """The raster walking graph of a station (lengths in metres)."""

    def __init__(self, graph: coo_matrix, cell_room: np.ndarray, n_cells: int, door_nodes: pd.DataFrame,
                 room_ids: np.ndarray) -> None:
        self.graph = graph.tocsr()
        self.cell_room = cell_room          # (n_cells,) room index of each cell
        self.n_cells = n_cells
        self.door_nodes = door_nodes        # room_id, door_id, node (one row per room side of a door)
        self.room_ids = room_ids            # room index -> room_id
        order = np.argsort(cell_room, kind="stable")
        self.cells_sorted = order
        self.room_ptr = np.searchsorted(cell_room[order], np.arange(len(room_ids) + 1))


def _cells(polys: np.ndarray, deck: np.ndarray, cell_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                           np.ndarray]:
    """Cell centres inside each polygon: (x, y, room index, deck) arrays."""
    xs, ys, rs = [], [], []
    bounds = shapely.bounds(polys)
    for k, poly in enumerate(polys):   # one vectorised containment test per room (linear in rooms)
        x0, y0, x1, y1 = bounds[k]
        ix = np.arange(math.floor(x0 / cell_m), math.ceil(x1 / cell_m) + 1)
        iy = np.arange(math.floor(y0 / cell_m), math.ceil(y1 / cell_m) + 1)
        mx, my = np.meshgrid((ix + 0.5) * cell_m, (iy + 0.5) * cell_m)
        gx, gy = mx.ravel(), my.ravel()
        inside = shapely.contains_xy(poly, gx, gy)
        if not inside.any():                       # a sliver: its representative point stands in
            pt = shapely.get_coordinates(shapely.point_on_surface(poly))[0]
            gx, gy, inside = np.array([pt[0]]), np.array([pt[1]]), np.array([True])
        xs.append(gx[inside])
        ys.append(gy[inside])
        rs.append(np.full(int(inside.sum()), k, np.int64))
    x, y, r = np.concatenate(xs), np.concatenate(ys), np.concatenate(rs)
    return x, y, r, deck[r]


def build_grid(station: Station, cell_m: float = 0.5, door_reach_m: float = 0.8) -> GridGraph:
    """The raster walking graph of `station` (see the module doc)."""
    rooms = station.rooms
    room_ids = rooms["room_id"].astype(str).to_numpy()
    polys = rooms.geometry.to_numpy()
    deck = rooms["deck"].to_numpy(dtype=np.int64)
    x, y, r, d = _cells(polys, deck, cell_m)
    n = len(x)
    ix = np.floor(x / cell_m).astype(np.int64)
    iy = np.floor(y / cell_m).astype(np.int64)
    # cell key per (room, ix, iy): moves stay inside one room
    span = int(max(np.abs(ix).max(initial=0), np.abs(iy).max(initial=0))) * 2 + 8
    def key(rr: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (rr * span + (a + span // 2)) * span + (b + span // 2)
    k = key(r, ix, iy)
    order = np.argsort(k)
    ks = k[order]

    def lookup(a: int, b: int) -> np.ndarray:
        q = key(r, ix + a, iy + b)
        pos = np.minimum(np.searchsorted(ks, q), len(ks) - 1)
        return np.where(ks[pos] == q, order[pos], -1)

    src, dst, w = [], [], []
    for dx, dy in _MOVES:
        to = lookup(int(dx), int(dy))
        ok = to >= 0
        for bx, by in _BESIDE.get((int(dx), int(dy)), []):
            ok &= lookup(bx, by) >= 0
        src.append(np.flatnonzero(ok))
        dst.append(to[ok])
        w.append(np.full(int(ok.sum()), cell_m * math.hypot(dx, dy)))
    # door nodes
    doors = station.doors.reset_index(drop=True)
    rid_index = pd.Series(np.arange(len(room_ids)), index=room_ids)
    rid_index = rid_index[~rid_index.index.duplicated()]
    geoms = doors.geometry.to_numpy()
    is_line = shapely.get_type_id(geoms) == 1
    mid = geoms.copy()
    mid[is_line] = shapely.line_interpolate_point(geoms[is_line], 0.5, normalized=True)
    mxy = shapely.get_coordinates(shapely.centroid(mid))
    vertical = doors["vertical"].to_numpy(dtype=bool)
    trav = doors["traverse_s"].to_numpy(dtype=float)
    trav = np.where(np.isfinite(trav), trav, station.params.stairs_traverse_s)
    speed = station.params.walk_speed_m_s
    node_rows = []
    next_node = n
    cells_by_room = np.argsort(r, kind="stable")
    room_ptr = np.searchsorted(r[cells_by_room], np.arange(len(room_ids) + 1))
    room_pos = dict(zip(rid_index.index, rid_index.to_numpy()))      # plain lookups in the loop
    from_room, to_room = doors["from_room"].to_numpy(dtype=object), doors["to_room"].to_numpy(dtype=object)
    door_id = doors["door_id"].astype(str).to_numpy()
    for i in range(len(doors)):            # one door at a time (linear in doors)
        sides = [from_room[i], to_room[i]]
        sides = [str(s) for s in sides if s is not None and not (isinstance(s, float) and math.isnan(s))]
        sides = [s for s in sides if s in room_pos]
        if not sides:
            continue
        nodes: list[int] = []
        for s in sides:
            if vertical[i] or not nodes:
                nodes.append(next_node)
                next_node += 1
            node = nodes[-1]
            ri = int(room_pos[s])
            cells = cells_by_room[room_ptr[ri]:room_ptr[ri + 1]]
            dist = np.hypot(x[cells] - mxy[i, 0], y[cells] - mxy[i, 1])
            near = dist <= door_reach_m
            if not near.any():
                near = np.zeros(len(cells), bool)
                near[np.argsort(dist)[:3]] = True
            src.append(np.full(int(near.sum()), node))
            dst.append(cells[near])
            w.append(dist[near])
            node_rows.append((s, door_id[i], node))
        if vertical[i] and len(nodes) == 2:
            src.append(np.array([nodes[0]]))
            dst.append(np.array([nodes[1]]))
            w.append(np.array([trav[i] * speed]))
    s_all, d_all, w_all = np.concatenate(src), np.concatenate(dst), np.concatenate(w)
    N = next_node
    g = coo_matrix((np.r_[w_all, w_all], (np.r_[s_all, d_all], np.r_[d_all, s_all])), shape=(N, N))
    door_nodes = pd.DataFrame(node_rows, columns=["room_id", "door_id", "node"])
    log.debug("walk grid: %d cells, %d door nodes, %d edges", n, N - n, len(w_all))
    return GridGraph(g, r, n, door_nodes, room_ids)


def grid_walks(station: Station, pairs: pd.DataFrame, grid: GridGraph | None = None, cell_m: float = 0.5,
               limit_s: pd.Series | None = None) -> pd.DataFrame:
    """Raster walking times for the (room_id, site_id) `pairs` (seconds, reaction included, at
    `walk_speed_m_s`): columns room_id, site_id, walk_s (inf beyond the reach distance stretched by the
    lattice's error), door_id (the
    site's door used; "" for shelter in place, 0 s). `limit_s` (seconds of walking per site_id) stops
    each site's search earlier: walks beyond it are inf.

    The lattice's shortest paths, split at the door nodes (exact, see `RoomWalks`): the walks inside
    each room between its doors and to its cells, then per safe room one Dijkstra on the small graph
    of door nodes; a room's cells are reached through its doors. The same walks as a Dijkstra from
    every door of every safe room on the whole lattice (`_grid_walks_direct`), but for the rounding
    of the sums (below 1e-9 s)."""
    p = station.params
    grid = grid or build_grid(station, cell_m)
    pr = pairs[["room_id", "site_id"]].astype(str).drop_duplicates().reset_index(drop=True)
    walk = np.full(len(pr), np.inf)
    door = np.full(len(pr), "", dtype=object)
    sip = (pr["room_id"] == pr["site_id"]).to_numpy()
    walk[sip] = 0.0
    rix = pd.Series(np.arange(len(grid.room_ids)), index=grid.room_ids)
    rix = rix[~rix.index.duplicated()]
    limit = max(0.0, p.reach_s - p.reaction_s) * p.walk_speed_m_s * LATTICE_STRETCH + 4.0 * cell_m
    todo = pr[~sip]
    dn = grid.door_nodes
    sites = list(todo.groupby("site_id", sort=False).indices.items())   # site -> rows of `pr`
    node_of = dict(tuple(dn.groupby("room_id", sort=False)))
    ri_all = rix.reindex(todo["room_id"].to_numpy()).to_numpy()
    rw = room_walks(grid, np.unique(ri_all[np.isfinite(ri_all)]).astype(np.int64))

    def walk_sites(batch: list[tuple[str, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """One door-graph Dijkstra per safe room of `batch`: (rows of `pr`, walks in s, doors used)."""
        out = []
        for site, pos in batch:
            nodes = node_of.get(site)
            if nodes is None or not len(nodes):
                continue
            rows = todo.index.to_numpy()[pos]
            lim = limit if limit_s is None else min(limit, float(limit_s.get(site, np.inf)) * p.walk_speed_m_s)
            src = nodes["node"].to_numpy() - grid.n_cells
            dd = dijkstra(rw.doors, directed=True, indices=src, limit=lim)   # (site doors, door nodes) metres
            ri = ri_all[pos]
            w_out, d_out = np.full(len(rows), np.inf), np.full(len(rows), "", dtype=object)
            for i, k in enumerate(ri):
                if not np.isfinite(k):
                    continue
                dc = rw.cell_walks(dd, int(k))                     # (site doors, cells) metres
                dc[dc > lim] = np.inf
                worst = dc.min(axis=0).max()
                w_out[i] = p.reaction_s + worst / p.walk_speed_m_s if np.isfinite(worst) else np.inf
                d_out[i] = nodes["door_id"].iat[int(np.argmin(dc.max(axis=1)))]
            found = ri == ri   # rooms on the grid (others keep inf and "")
            out.append((rows[found], w_out[found], d_out[found]))
        return out

    # the safe rooms' searches are independent: up to the reach table's workers, forked, each a
    # share of them (the tables reach the workers by fork; only the results come back)
    workers = _reach_workers() if len(sites) >= PARALLEL_MIN_SITES else 1
    chunks = _balanced_chunks(sites, np.array([len(pos) for _, pos in sites], dtype=float), workers)
    for part in _fork_map(walk_sites, chunks, workers, what="independent walks"):
        for rows, w_rows, d_rows in part:
            walk[rows] = w_rows
            door[rows] = d_rows
    return pr.assign(walk_s=walk, door_id=door)


class RoomWalks:
    """The lattice's walks split at its door nodes (metres).

    Every cell of a room is joined only to cells of that room and to the room's door nodes, so a
    shortest path to a cell ends with a stretch inside its room from the last door node it passes,
    and a shortest path between door nodes is a chain of such stretches (and vertical links). Hence
    ``dist(a, cell) = min over the room's door nodes d of D(a, d) + in-room(d, cell)``, where D is the
    shortest path on the graph of door nodes whose edges are the in-room walks between two doors of a
    room (and the vertical links): exact, since every term is the length of a path of the lattice and
    the shortest path is one of them. The in-room walks are one Dijkstra per room on its own cells and
    door nodes (a copy of each door node per room it opens into), rooms batched.

    - `doors`: the door-node graph (node `n_cells + i` of the lattice is node i here);
    - `cell_walks(dd, room)`: from the rows `dd` of door-graph distances, the distances to the room's
      cells, in the order of `GridGraph.cells_sorted`."""

    def __init__(self, doors: csr_matrix, room_nodes: dict[int, np.ndarray], room_cells: dict[int, np.ndarray]
                 ) -> None:
        self.doors = doors
        self.room_nodes = room_nodes    # room -> its door nodes (door-graph numbering)
        self.room_cells = room_cells    # room -> (its door nodes, its cells) in-room metres

    def cell_walks(self, dd: np.ndarray, room: int) -> np.ndarray:
        nodes = self.room_nodes.get(room)
        if nodes is None or not len(nodes):
            return np.full((dd.shape[0], 1), np.inf)
        return (dd[:, nodes][:, :, None] + self.room_cells[room][None, :, :]).min(axis=1)


_BATCH_CELLS = 20_000
"""Distances (sources x nodes) per batch of rooms of the in-room Dijkstra: bounds its dense output."""


def room_walks(grid: GridGraph, rooms: np.ndarray) -> RoomWalks:
    """The door-node graph of `grid` and the in-room walks to the cells of `rooms` (see `RoomWalks`)."""
    g = grid.graph
    n, N = grid.n_cells, g.shape[0]
    nrooms = len(grid.room_ids)
    ptr = grid.room_ptr
    ncell = np.diff(ptr)
    rix = pd.Series(np.arange(nrooms), index=grid.room_ids)
    rix = rix[~rix.index.duplicated()]
    ncopy = np.bincount(rix.reindex(grid.door_nodes["room_id"].astype(str)).dropna().to_numpy(dtype=np.int64),
                        minlength=nrooms)     # door sides per room: the batches' sizes (estimate)
    want = np.zeros(nrooms, bool)
    want[rooms] = True
    inv = np.empty(n, np.int64)
    inv[grid.cells_sorted] = np.arange(n)
    room_nodes: dict[int, np.ndarray] = {}
    room_cells: dict[int, np.ndarray] = {}
    ea, eb, ew = [], [], []
    r0 = 0
    while r0 < nrooms:      # batches of consecutive rooms: one Dijkstra each on their cells and door nodes
        r1, size, srcs = r0 + 1, ncell[r0] + ncopy[r0], ncopy[r0]
        while r1 < nrooms and (srcs + ncopy[r1]) * (size + ncell[r1] + ncopy[r1]) <= _BATCH_CELLS:
            size += ncell[r1] + ncopy[r1]
            srcs += ncopy[r1]
            r1 += 1
        cells = grid.cells_sorted[ptr[r0]:ptr[r1]]                # the batch's cells, room by room
        m = len(cells)
        sub = g[cells]                                            # their edges: to cells of their room, to doors
        row = np.repeat(np.arange(m), np.diff(sub.indptr))
        col = sub.indices.astype(np.int64)
        isdoor = col >= n
        rroom = grid.cell_room[cells]
        # a copy of each door node per room it opens into: local nodes m, m + 1, ...
        ckey, cinv = np.unique(rroom[row[isdoor]] * N + col[isdoor], return_inverse=True)
        c_room, c_node = ckey // N, ckey % N
        tgt = np.empty(len(col), np.int64)
        tgt[~isdoor] = inv[col[~isdoor]] - ptr[r0]                # an edge of a cell stays in its room
        tgt[isdoor] = m + cinv
        dr = row[isdoor]
        w = sub.data
        k = len(ckey)
        block = coo_matrix((np.r_[w, w[isdoor]], (np.r_[row, tgt[isdoor]], np.r_[tgt, dr])),
                           shape=(m + k, m + k)).tocsr()          # the door -> cell edges: the graph is symmetric
        if k:
            dist = dijkstra(block, directed=True, indices=np.arange(m, m + k))
            cstart = np.searchsorted(c_room, np.arange(r0, r1 + 1))
            for r in range(r0, r1):
                c0, c1 = cstart[r - r0], cstart[r - r0 + 1]
                if c1 == c0:
                    continue
                d = dist[c0:c1]
                nodes = c_node[c0:c1] - n
                dd = d[:, m + c0:m + c1]                           # between the room's door nodes
                i, j = np.nonzero(np.isfinite(dd) & ~np.eye(c1 - c0, dtype=bool))
                ea.append(nodes[i])
                eb.append(nodes[j])
                ew.append(dd[i, j])
                if want[r]:
                    room_nodes[r] = nodes
                    room_cells[r] = d[:, ptr[r] - ptr[r0]:ptr[r + 1] - ptr[r0]]
        r0 = r1
    doors = g[n:]                                                  # vertical links: door node to door node
    vr = np.repeat(np.arange(N - n), np.diff(doors.indptr))
    vv = doors.indices >= n
    ea.append(vr[vv])
    eb.append(doors.indices[vv].astype(np.int64) - n)
    ew.append(doors.data[vv])
    a_, b_, w_ = np.concatenate(ea), np.concatenate(eb), np.concatenate(ew)
    order = np.lexsort((w_, b_, a_))                           # the shortest of parallel edges
    a_, b_, w_ = a_[order], b_[order], w_[order]
    first = np.r_[True, (a_[1:] != a_[:-1]) | (b_[1:] != b_[:-1])]
    nd = N - n
    return RoomWalks(coo_matrix((w_[first], (a_[first], b_[first])), shape=(nd, nd)).tocsr(), room_nodes, room_cells)


def _grid_walks_direct(station: Station, pairs: pd.DataFrame, grid: GridGraph, cell_m: float = 0.5,
                       limit_s: pd.Series | None = None) -> pd.DataFrame:
    """`grid_walks` the slow way, for the tests: one Dijkstra from each door of each safe room on the whole
    lattice (in this process)."""
    p = station.params
    pr = pairs[["room_id", "site_id"]].astype(str).drop_duplicates().reset_index(drop=True)
    walk = np.where((pr["room_id"] == pr["site_id"]).to_numpy(), 0.0, np.inf)
    door = np.full(len(pr), "", dtype=object)
    rix = pd.Series(np.arange(len(grid.room_ids)), index=grid.room_ids)
    rix = rix[~rix.index.duplicated()]
    limit = max(0.0, p.reach_s - p.reaction_s) * p.walk_speed_m_s * LATTICE_STRETCH + 4.0 * cell_m
    node_of = dict(tuple(grid.door_nodes.groupby("room_id", sort=False)))
    for site, pos in pr[pr["room_id"] != pr["site_id"]].groupby("site_id", sort=False).indices.items():
        nodes = node_of.get(site)
        if nodes is None or not len(nodes):
            continue
        lim = limit if limit_s is None else min(limit, float(limit_s.get(site, np.inf)) * p.walk_speed_m_s)
        dist = dijkstra(grid.graph, directed=True, indices=nodes["node"].to_numpy(), limit=lim)
        for i in pr.index[pr["room_id"] != pr["site_id"]].to_numpy()[pos]:
            k = rix.get(pr["room_id"].iat[i])
            if k is None:
                continue
            dc = dist[:, grid.cells_sorted[grid.room_ptr[k]:grid.room_ptr[k + 1]]]
            worst = dc.min(axis=0).max()
            walk[i] = p.reaction_s + worst / p.walk_speed_m_s if np.isfinite(worst) else np.inf
            door[i] = nodes["door_id"].iat[int(np.argmin(dc.max(axis=1)))]
    return pr.assign(walk_s=walk, door_id=door)
