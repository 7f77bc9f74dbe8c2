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
from dataclasses import dataclass

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


@dataclass
class _Cells:
    """Cell centres inside each room, room by room (row by row of the room's bounding box of cells)."""

    x: np.ndarray
    y: np.ndarray
    room: np.ndarray        # room index of each cell
    at: np.ndarray          # each cell's position on its room's box (-1: a sliver's stand-in point)
    box: np.ndarray         # per box position of every room: the cell there, -1 outside the room
    box_start: np.ndarray   # room k's box starts at box_start[k]: nx[k] columns, ny[k] rows
    nx: np.ndarray
    ny: np.ndarray

    def __post_init__(self) -> None:
        on = self.at >= 0
        self._cells = np.flatnonzero(on)                     # cells on a box, their column, row, box shape
        r, at = self.room[on], self.at[on]
        self._nx, self._ny, self._base = self.nx[r], self.ny[r], self.box_start[r]
        self._cx, self._cy = at % self._nx, at // self._nx

    def neighbour(self, a: int, b: int) -> np.ndarray:
        """The cell `a` columns right and `b` rows up of each cell, in the same room (-1: none)."""
        cx, cy = self._cx + a, self._cy + b
        ok = (cx >= 0) & (cx < self._nx) & (cy >= 0) & (cy < self._ny)
        out = np.full(len(self.room), -1, np.int64)
        out[self._cells[ok]] = self.box[(self._base + cy * self._nx + cx)[ok]]
        return out


def _cells(polys: np.ndarray, cell_m: float) -> _Cells:
    """Cell centres inside each polygon, one containment test over every room's box of cell centres."""
    bounds = shapely.bounds(polys) if len(polys) else np.zeros((0, 4))
    if not np.isfinite(bounds).all():
        raise ValueError("cannot lay a raster over a room without a finite outline")
    ix0 = np.floor(bounds[:, 0] / cell_m).astype(np.int64)
    iy0 = np.floor(bounds[:, 1] / cell_m).astype(np.int64)
    nx = np.ceil(bounds[:, 2] / cell_m).astype(np.int64) + 1 - ix0
    ny = np.ceil(bounds[:, 3] / cell_m).astype(np.int64) + 1 - iy0
    box_start = np.r_[0, np.cumsum(nx * ny)]
    owner = np.repeat(np.arange(len(polys)), nx * ny)
    j = np.arange(int(box_start[-1])) - box_start[owner]
    gx = ((ix0[owner] + j % nx[owner]) + 0.5) * cell_m
    gy = ((iy0[owner] + j // nx[owner]) + 0.5) * cell_m
    inside = shapely.contains_xy(polys[owner], gx, gy)
    at = np.flatnonzero(inside) - box_start[owner[inside]]
    x, y, r = gx[inside], gy[inside], owner[inside]
    sliver = np.flatnonzero(np.bincount(r, minlength=len(polys)) == 0)
    if len(sliver):                                          # a sliver: its representative point stands in
        pt = shapely.get_coordinates(shapely.point_on_surface(polys[sliver]))
        x, y, r, at = np.r_[x, pt[:, 0]], np.r_[y, pt[:, 1]], np.r_[r, sliver], np.r_[at, np.full(len(sliver), -1)]
        order = np.argsort(r, kind="stable")                 # room by room
        x, y, r, at = x[order], y[order], r[order], at[order]
    box = np.full(int(box_start[-1]), -1, np.int64)
    on = at >= 0
    box[box_start[r[on]] + at[on]] = np.flatnonzero(on)
    return _Cells(x, y, r, at, box, box_start[:-1], nx, ny)


def build_grid(station: Station, cell_m: float = 0.5, door_reach_m: float = 0.8) -> GridGraph:
    """The raster walking graph of `station` (see the module doc)."""
    rooms = station.rooms
    room_ids = rooms["room_id"].astype(str).to_numpy()
    cl = _cells(rooms.geometry.to_numpy(), cell_m)
    x, y, r = cl.x, cl.y, cl.room
    n = len(x)
    src, dst, w = [], [], []
    for dx, dy in _MOVES:                  # moves stay inside one room
        to = cl.neighbour(int(dx), int(dy))
        ok = to >= 0
        for bx, by in _BESIDE.get((int(dx), int(dy)), []):
            ok &= cl.neighbour(bx, by) >= 0
        src.append(np.flatnonzero(ok).astype(np.int32))
        dst.append(to[ok].astype(np.int32))
        w.append(np.full(int(ok.sum()), cell_m * math.hypot(dx, dy)))
    del cl, to, ok
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
    side_door, side_room = [], []
    vlinks = []
    for i in range(len(doors)):            # number the door nodes, one door at a time (linear in doors)
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
            node_rows.append((s, door_id[i], nodes[-1]))
            side_door.append(i)
            side_room.append(int(room_pos[s]))
        if vertical[i] and len(nodes) == 2:
            vlinks.append((nodes[0], nodes[1], trav[i] * speed))
    node_of_side = np.array([row[2] for row in node_rows], dtype=np.int64)
    for part, got in zip((src, dst, w), _door_edges(x, y, cells_by_room, room_ptr, np.asarray(side_door, np.int64),
                                                    np.asarray(side_room, np.int64), node_of_side, mxy, door_reach_m)):
        part.append(got)
    if vlinks:
        v = np.array(vlinks, dtype=float)
        src.append(v[:, 0].astype(np.int32))
        dst.append(v[:, 1].astype(np.int32))
        w.append(v[:, 2])
    N = next_node
    s_all, d_all = np.concatenate(src), np.concatenate(dst)
    del src, dst
    ij = (np.concatenate([s_all, d_all]), np.concatenate([d_all, s_all]))
    del s_all, d_all
    w_all = np.concatenate(w)
    del w
    g = coo_matrix((np.concatenate([w_all, w_all]), ij), shape=(N, N))
    del ij
    door_nodes = pd.DataFrame(node_rows, columns=["room_id", "door_id", "node"])
    log.debug("walk grid: %d cells, %d door nodes, %d edges", n, N - n, len(w_all))
    return GridGraph(g, r, n, door_nodes, room_ids)


def _door_edges(x: np.ndarray, y: np.ndarray, cells_by_room: np.ndarray, room_ptr: np.ndarray, side_door: np.ndarray,
                side_room: np.ndarray, side_node: np.ndarray, mxy: np.ndarray, door_reach_m: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(door node, cell, metres) edges: each door side joined to the cells of its room within
    `door_reach_m` of the door's middle `mxy`, else to the nearest 3 (all sides at once)."""
    cnt = room_ptr[side_room + 1] - room_ptr[side_room]
    first = np.cumsum(cnt) - cnt
    owner = np.repeat(np.arange(len(side_door)), cnt)
    cells = cells_by_room[np.repeat(room_ptr[side_room] - first, cnt) + np.arange(int(cnt.sum()))]
    dist = np.hypot(x[cells] - mxy[side_door[owner], 0], y[cells] - mxy[side_door[owner], 1])
    near = dist <= door_reach_m
    for k in np.flatnonzero(np.bincount(owner[near], minlength=len(side_door)) == 0):   # none that close
        near[first[k] + np.argsort(dist[first[k]:first[k] + cnt[k]])[:3]] = True
    return side_node[owner[near]].astype(np.int32), cells[near].astype(np.int32), dist[near]


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
    rows_of = dn.groupby("room_id", sort=False).indices                 # room -> its rows of door_nodes
    dn_node, dn_door = dn["node"].to_numpy(dtype=np.int64), dn["door_id"].to_numpy(dtype=object)
    ri_all = rix.reindex(todo["room_id"].to_numpy()).to_numpy()
    rw = room_walks(grid, np.unique(ri_all[np.isfinite(ri_all)]).astype(np.int64))

    def walk_sites(batch: list[tuple[str, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """One door-graph Dijkstra per safe room of `batch`: (rows of `pr`, walks in s, doors used)."""
        out = []
        for site, pos in batch:
            at = rows_of.get(site)
            if at is None or not len(at):
                continue
            rows = todo.index.to_numpy()[pos]
            lim = limit if limit_s is None else min(limit, float(limit_s.get(site, np.inf)) * p.walk_speed_m_s)
            dd = dijkstra(rw.doors, directed=True, indices=dn_node[at] - grid.n_cells, limit=lim)   # metres
            doors = dn_door[at]
            ri = ri_all[pos]
            w_out, d_out = np.full(len(rows), np.inf), np.full(len(rows), "", dtype=object)
            for i, k in enumerate(ri):
                if not np.isfinite(k):
                    continue
                dc = rw.cell_walks(dd, int(k))                     # (site doors, cells) metres
                dc[dc > lim] = np.inf
                worst = dc.min(axis=0).max()
                w_out[i] = p.reaction_s + worst / p.walk_speed_m_s if np.isfinite(worst) else np.inf
                d_out[i] = doors[int(np.argmin(dc.max(axis=1)))]
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
    contiguous = bool(np.array_equal(grid.cells_sorted, np.arange(n)))   # cells numbered room by room (build_grid)
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
        if contiguous:          # their edges (to cells of their room, to doors): rows of the lattice, read off
            a, b = int(g.indptr[cells[0]]), int(g.indptr[cells[-1] + 1])   # every room has a cell
            sub_ptr, col, w = g.indptr[cells[0]:cells[-1] + 2] - a, g.indices[a:b].astype(np.int64), g.data[a:b]
        else:
            sub = g[cells]
            sub_ptr, col, w = sub.indptr, sub.indices.astype(np.int64), sub.data
        row = np.repeat(np.arange(m), np.diff(sub_ptr))
        isdoor = col >= n
        rroom = grid.cell_room[cells]
        # a copy of each door node per room it opens into: local nodes m, m + 1, ...
        ckey, cinv = np.unique(rroom[row[isdoor]] * N + col[isdoor], return_inverse=True)
        c_room, c_node = ckey // N, ckey % N
        tgt = np.empty(len(col), np.int64)
        tgt[~isdoor] = inv[col[~isdoor]] - ptr[r0]                # an edge of a cell stays in its room
        tgt[isdoor] = m + cinv
        k = len(ckey)
        back = np.argsort(cinv, kind="stable")                    # the door -> cell edges: the graph is symmetric
        block = csr_matrix((np.concatenate([w, w[isdoor][back]]), np.concatenate([tgt, row[isdoor][back]]),
                            np.concatenate([sub_ptr, sub_ptr[-1] + np.cumsum(np.bincount(cinv, minlength=k))])),
                           shape=(m + k, m + k))
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
