"""Walking network and reach table: seconds on foot from every room to every candidate safe room.

Model (docs/model.md, section 1):

- Nodes are door sides. A level door is one node shared by the two spaces it joins
  (passing a door leaf takes no time); a vertical link (stairs, lift: `vertical` True)
  is two nodes, one in each space, joined by its `traverse_s` (or
  `params.stairs_traverse_s` when the input gives none). A door's position is the
  midpoint of its leaf (or its point), snapped onto the room's boundary when it lies
  just outside the polygon.
- Edges join the nodes of one space, weighted by the shortest walk that stays inside
  the space's polygon: straight where the segment is covered by the polygon (buffered
  by `_EPS_M`), otherwise around the corners through a reduced visibility graph over
  the polygon's reflex vertices (only tangent and bitangent segments are tested).
  Rooms whose outline is within `_CONVEX_TOL_M` of its convex hull are walked in
  straight lines (a walk that cuts a 4 m chord of a wall curved at 200 m radius by
  1 cm is not "through a wall").
- Room leg: a resident may be anywhere in the room. The boundary is sampled every
  `params.boundary_sample_m` metres (plus every vertex); a room's time to a site is
  ``max over samples p of min over the room's doors d of (inside-walk(p, d) / v +
  graph-time(d, site door))``: every point uses its own best door. Samples dominated
  on every door (farther from none) are dropped first; that leaves the max-min
  unchanged.
- Times are seconds: metres / `walk_speed_m_s`, plus vertical traverse times, plus
  `reaction_s` once per walk. Shortest paths from the doors of each site run in scipy's
  compiled Dijkstra with a cut-off, batched per plan tile on the subgraph of nodes within
  the cut-off distance (a walk is never shorter than the plan distance). Pass 1 keeps the
  pairs within `reach_s` (the sparse table); pass 2 finds, for the rooms left without any
  site, their best time up to twice the reach (inf beyond), for reports.
- Exact shortcuts: a room door reached through the room itself (the shortest path's last
  step is an in-room walk) is never a better way out than the door before it, so it is
  dropped; when one way out remains, the room's time is that door's farthest sample plus
  the graph time (no per-sample work).
- Long rooms (more than `_MAX_SAMPLES` boundary samples) are sampled coarser and get half
  the spacing added (safe side); rooms longer than twice the cut-off cannot reach any
  site and only their door-to-door walks (and nearest-door leg) are computed.
- Shelter in place: a candidate room reaches itself with ``walk_s = 0`` and
  ``door_id = ""`` (its people are already inside and do not queue at a door). With
  ``params.shelter_in_place = False`` the self pair keeps its computed time (walk
  from the farthest point to the room's own best door) and that door.

The table can be cached in a folder the caller names (`reach_table`'s `cache_dir`; library
calls write nothing unless asked), keyed by a hash of the room and door geometry and
attributes, the walking parameters and the site list. The command line caches under
`default_cache_dir()`: ``$PLANNER_CACHE_DIR/reach``, else ``.cache/reach`` in the working
directory.

Worker processes: the in-room walks (room by room) and the shortest paths (tile by tile)
run in up to `_REACH_WORKERS_MAX` processes forked from this one when there is enough work
(`_PARALLEL_MIN_ROOMS`, `_PARALLEL_MIN_TILE_CELLS`) and the "fork" start method exists; the
environment variable ``PLANNER_REACH_WORKERS`` sets their number (1: none). The results are
the same, in the same order; if the workers fail, the work is done in this process.
"""

from __future__ import annotations

import ctypes
import hashlib
import multiprocessing as mp
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TypeVar

import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import dijkstra

from planner.cells import safe_csv_frame
from planner.errors import OutputError
from planner.files import write_atomic
from planner.progress import log
from planner.station import Station

T = TypeVar("T")
R = TypeVar("R")

ALGO_VERSION = "reach-4"
_EPS_M = 1e-5
"""Buffer of a polygon for visibility tests (metres): segments along a wall count as inside."""
_CONVEX_TOL_M = 0.02
"""A room whose outline departs from its convex hull by at most this (metres) is walked straight."""
_TURN_TOL = 1e-9
_TANGENT_TOL_M = 1e-5
"""A point this close (metres) to the line of a reflex corner's wall counts as on it (tangent
test; erring this way only adds candidate segments, each still tested for visibility)."""
_DEDUP_M = 1e-6
"""Ring vertices closer than this (metres) to the one before are one vertex (reflex corners)."""
_ON_WALL_M = 1e-3
"""A point this close (metres) to the boundary may walk along its wall (the fallback graph)."""
_PARETO_MAX_WORK = 4_000_000
_MAX_SAMPLES = 200
"""Rooms whose boundary would need more samples (long corridors) are sampled coarser, at
spacing s, and their sample walks get + s/2: the walk from any boundary point is at most
s/2 longer than from its nearest sample (walks are 1-Lipschitz), so times stay on the safe side."""
_LEG_DOORS = 4
"""Rooms too large to reach any site within the cut-off: their leg uses the nearest doors only."""


# ---------------------------------------------------------------------------- results
@dataclass
class ReachTable:
    """Walking times (seconds) from rooms to candidate safe rooms.

    - `pairs`: columns room_id, site_id, walk_s, door_id; only ``walk_s <= reach_s``.
      `door_id` is the site's door the room's people enter by ("" = shelter in place).
    - `rooms`: index room_id (every room): `leg_s` (farthest point to its nearest door,
      reaction included; inf without a door), `best_site_id` (None when no site within
      twice the reach), `best_walk_s` (inf beyond twice the reach).
    - `key`: hash of the inputs (cache key).
    """

    pairs: pd.DataFrame
    rooms: pd.DataFrame
    key: str = ""

    def options_in_reach(self) -> pd.Series:
        """Number of candidate sites within reach, per room (index room_id, every room)."""
        n = self.pairs.groupby("room_id").size()
        return n.reindex(self.rooms.index, fill_value=0).astype(int).rename("options_in_reach")

    def matrix(self) -> dict[tuple[str, str], float]:
        """{(room_id, site_id): walk_s} for the pairs within reach."""
        p = self.pairs
        return dict(zip(zip(p["room_id"], p["site_id"]), p["walk_s"]))

    def write(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write `pairs` to CSV (texts as text, see `planner.cells`) or Parquet, atomically and
        without overwriting (`planner.files.write_atomic`)."""
        path = Path(path)
        if path.suffix.lower() == ".parquet":
            return write_atomic(path, lambda tmp: self.pairs.to_parquet(tmp, index=False), overwrite=overwrite)
        return write_atomic(path, lambda tmp: safe_csv_frame(self.pairs).to_csv(tmp, index=False), overwrite=overwrite)


# ---------------------------------------------------------------------------- geometry
def _reflex_corners(polys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reflex corners (interior angle > 180 degrees) of each polygon, all polygons at once.

    Returns (ptr, vertex, previous, next): the corners of ``polys[i]`` are rows
    ``ptr[i]:ptr[i + 1]`` of the three (k x 2, metres) arrays, ring by ring in the polygon's
    order (parts, exterior then holes), vertex by vertex. Rings are walked counter-clockwise
    (holes clockwise), without the closing point or repeated vertices; rings of fewer than
    three vertices are ignored."""
    polys = np.asarray(polys, dtype=object).reshape(-1)
    parts, part_poly = shapely.get_parts(shapely.orient_polygons(polys), return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    c, ring = shapely.get_coordinates(rings, return_index=True)
    nring = len(rings)
    # drop each ring's closing point, then rings of fewer than 3 vertices
    last = np.r_[ring[1:] != ring[:-1], True] if len(ring) else np.zeros(0, dtype=bool)
    c, ring = c[~last], ring[~last]
    ok = np.bincount(ring, minlength=nring) >= 3
    keep = ok[ring]
    # drop repeated vertices (within `_DEDUP_M` of the one before: the direction of a wall a
    # micrometre long is rounding noise, and the tangent test reads the neighbours' directions)
    first = np.r_[True, ring[1:] != ring[:-1]] if len(ring) else np.zeros(0, dtype=bool)
    keep[1:] &= first[1:] | np.any(np.abs(c[1:] - c[:-1]) > _DEDUP_M, axis=1)
    c, ring = c[keep], ring[keep]
    # drop a last vertex equal to the first (the tolerance of np.allclose(atol=1e-12))
    start = np.searchsorted(ring, np.arange(nring))
    size = np.bincount(ring, minlength=nring)
    end = start + size - 1
    has = size > 1
    same = np.zeros(nring, dtype=bool)
    if has.any():
        a, b = c[start[has]], c[end[has]]
        same[has] = np.all(np.abs(a - b) <= _DEDUP_M, axis=1)
    keep = np.ones(len(c), dtype=bool)
    keep[end[same]] = False
    keep &= (size - same.astype(np.int64) >= 3)[ring]
    c, ring = c[keep], ring[keep]
    # turn at each vertex, with its neighbours along the ring
    size = np.bincount(ring, minlength=nring)
    start = (np.cumsum(size) - size)[ring]
    local = np.arange(len(c)) - start
    prev = c[start + (local - 1) % size[ring]]
    nxt = c[start + (local + 1) % size[ring]]
    a, b = c - prev, nxt - c
    cross = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    norm = np.hypot(a[:, 0], a[:, 1]) * np.hypot(b[:, 0], b[:, 1])
    m = cross < -_TURN_TOL * np.maximum(norm, 1e-300)
    poly_of = part_poly[ring_part[ring[m]]]
    ptr = np.searchsorted(poly_of, np.arange(len(polys) + 1))
    return ptr, c[m], prev[m], nxt[m]


def _walk_outlines(polys: np.ndarray, ptr: np.ndarray) -> np.ndarray:
    """Per polygon (with its reflex corners `ptr` from `_reflex_corners`): the polygon buffered
    by `_EPS_M` and prepared for visibility tests, or None when walks inside it are straight
    lines (a single polygon without reflex corners)."""
    polys = np.asarray(polys, dtype=object).reshape(-1)
    bent = (np.diff(ptr) > 0) | (shapely.get_type_id(polys) != 3)
    out = np.full(len(polys), None, dtype=object)
    if bent.any():
        out[bent] = shapely.buffer(polys[bent], _EPS_M, join_style="mitre")
        shapely.prepare(out[bent])
    return out


def _tangent(q: np.ndarray, v: np.ndarray, vp: np.ndarray, vn: np.ndarray) -> np.ndarray:
    """tangent[i, j]: the line from point q[i] to reflex vertex v[j] leaves both neighbours of
    v[j] on one side (a shortest path may bend there)."""
    dx = v[None, :, 0] - q[:, None, 0]
    dy = v[None, :, 1] - q[:, None, 1]
    ax, ay = (vp - v)[None, :, 0], (vp - v)[None, :, 1]
    bx, by = (vn - v)[None, :, 0], (vn - v)[None, :, 1]
    # signed distances (metres) of q from the lines through v and each neighbour: the test is
    # absolute, so that a point on a wall (a boundary sample, off its line by rounding of
    # coordinates of millions of metres) counts as on the line, not beside it
    s1 = (dx * ay - dy * ax) / np.maximum(np.hypot(ax, ay), 1e-300)
    s2 = (dx * by - dy * bx) / np.maximum(np.hypot(bx, by), 1e-300)
    t = _TANGENT_TOL_M
    return ~(((s1 > t) & (s2 < -t)) | ((s1 < -t) & (s2 > t)))


def _visible(bpoly: shapely.Geometry, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Is each segment a[i]-b[i] (metres) inside the (buffered, prepared) polygon?"""
    if len(a) == 0:
        return np.zeros(0, dtype=bool)
    seg = np.empty((len(a), 2, 2))
    seg[:, 0], seg[:, 1] = a, b
    same = np.all(np.abs(a - b) < 1e-12, axis=1)
    if same.any():  # a zero-length segment is no valid line: move its end by 1 nm
        seg[same, 1] += 1e-9
    return shapely.contains_properly(bpoly, shapely.linestrings(seg))


def _all_pairs(r: int, a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Shortest path lengths (r x r, inf when not connected) of the undirected graph with edges
    a[i]-b[i] of length w[i] > 0 (no duplicate pairs): Floyd-Warshall on a dense matrix, for
    graphs of a few dozen reflex corners (where a sparse solver's per-call cost dominates).
    Lengths are summed in another order than Dijkstra's: they may differ from it in the last
    bits (about 1e-14 m)."""
    G = np.full((r, r), np.inf)
    G[a, b] = w
    G[b, a] = w
    np.fill_diagonal(G, 0.0)
    # only a node with two neighbours or more can be inside a shortest (simple) path
    deg = np.bincount(a, minlength=r) + np.bincount(b, minlength=r)
    for k in np.flatnonzero(deg >= 2):
        np.minimum(G, G[:, k, None] + G[None, k, :], out=G)
    return G


def polygon_distances(poly: shapely.Geometry, pts: np.ndarray, targets: np.ndarray,
                      cutoff_m: float = np.inf, mask: np.ndarray | None = None) -> np.ndarray:
    """Shortest walks inside `poly` (metres) from each of `pts` (n x 2) to each of `targets`
    (m x 2): straight where visible, otherwise around reflex corners. Walks longer than
    `cutoff_m`, points the polygon does not connect, and pairs outside `mask` (n x m
    booleans, default all) give inf."""
    polys = np.array([poly], dtype=object)
    ptr, rv, rp, rn = _reflex_corners(polys)
    return _polygon_walks(_walk_outlines(polys, ptr)[0], rv, rp, rn, pts, targets, cutoff_m, mask, poly=poly)


def _polygon_walks(bpoly: shapely.Geometry | None, rv: np.ndarray, rp: np.ndarray, rn: np.ndarray,
                   pts: np.ndarray, targets: np.ndarray, cutoff_m: float = np.inf,
                   mask: np.ndarray | None = None, poly: shapely.Geometry | None = None) -> np.ndarray:
    """`polygon_distances` (metres) for a polygon given by its reflex corners `rv` (with their
    previous and next vertices `rp`, `rn`) and its prepared buffered outline `bpoly` (None:
    straight walks), see `_reflex_corners` and `_walk_outlines`.

    With the polygon itself (`poly`), pairs within the cut-off that the visibility graph leaves
    unconnected (points at the tip of a spike or deep in a sliver, where rounding defeats the
    visibility tests) are walked through `_ring_walks` instead: along the walls to a vertex,
    then on. Points on the boundary then always get a finite walk."""
    out = _visibility_walks(bpoly, rv, rp, rn, pts, targets, cutoff_m, mask)
    if poly is None or bpoly is None:
        return out
    pts = np.asarray(pts, float).reshape(-1, 2)
    targets = np.asarray(targets, float).reshape(-1, 2)
    euclid = np.hypot(pts[:, None, 0] - targets[None, :, 0], pts[:, None, 1] - targets[None, :, 1])
    miss = np.isinf(out) & (euclid <= cutoff_m)
    if mask is not None:
        miss &= mask
    rows = np.flatnonzero(miss.any(axis=1))
    if len(rows):
        fb = _ring_walks(poly, bpoly, rv, rp, rn, pts[rows], targets, cutoff_m)
        fb[~miss[rows]] = np.inf
        out[rows] = np.minimum(out[rows], fb)
    return out


def _ring_walks(poly: shapely.Geometry, bpoly: shapely.Geometry, rv: np.ndarray, rp: np.ndarray, rn: np.ndarray,
                pts: np.ndarray, targets: np.ndarray, cutoff_m: float) -> np.ndarray:
    """Walks (metres, n x m; inf beyond `cutoff_m`) from `pts` to `targets` inside `poly` through a
    graph that needs no visibility test to be connected: the polygon's rings (edge by edge, each
    along a wall), the visibility walks from every ring vertex to every target, and the points
    and targets within `_ON_WALL_M` of the boundary joined to the two ends of their wall. Every
    edge is a walk inside the polygon, so the result is never shorter than the true walk (nor
    than the straight line); on ordinary outlines it equals it (the visibility walks from the
    vertices are exact), on spikes and slivers it goes along the walls to the first vertex with
    a clear view."""
    n, m = len(pts), len(targets)
    rings = shapely.get_rings(shapely.get_parts(np.array([poly], dtype=object)))
    c, ri = shapely.get_coordinates(rings, return_index=True)
    a_idx = np.flatnonzero(ri[1:] == ri[:-1])
    if not len(a_idx) or not m:
        return np.full((n, m), np.inf)
    uv, inv = np.unique(c, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    nv = len(uv)
    ea, eb = inv[a_idx], inv[a_idx + 1]
    ew = np.hypot(*(c[a_idx] - c[a_idx + 1]).T)
    # vertex -> target walks (visibility graph only)
    vt = _visibility_walks(bpoly, rv, rp, rn, uv, targets, cutoff_m, None)
    vi, tj = np.nonzero(np.isfinite(vt))
    A = [ea, vi]
    B = [eb, nv + tj]
    Wt = [ew, vt[vi, tj]]
    # points and targets on a wall: to the two ends of the nearest wall
    segs = shapely.linestrings(np.stack([c[a_idx], c[a_idx + 1]], axis=1))
    tree = shapely.STRtree(segs)
    qxy = np.concatenate([targets, pts])
    (qi, si), dist = tree.query_nearest(shapely.points(qxy), return_distance=True, all_matches=True)
    on = dist <= _ON_WALL_M
    qi, si = qi[on], si[on]
    for end in (a_idx[si], a_idx[si] + 1):
        A.append(nv + qi)
        B.append(inv[end])
        Wt.append(np.hypot(*(qxy[qi] - c[end]).T))
    a, b, w = np.concatenate(A), np.concatenate(B), np.concatenate(Wt)
    N = nv + m + n
    g = coo_matrix((np.maximum(w, 1e-12), (a, b)), shape=(N, N)).tocsr()
    d = dijkstra(g, directed=False, indices=nv + np.arange(m), limit=cutoff_m)
    out = d[:, nv + m:].T
    return np.where(out <= cutoff_m, out, np.inf)


def _visibility_walks(bpoly: shapely.Geometry | None, rv: np.ndarray, rp: np.ndarray, rn: np.ndarray,
                      pts: np.ndarray, targets: np.ndarray, cutoff_m: float = np.inf,
                      mask: np.ndarray | None = None) -> np.ndarray:
    """The visibility-graph walks of `_polygon_walks` (metres; inf where it finds none)."""
    pts = np.asarray(pts, float).reshape(-1, 2)
    targets = np.asarray(targets, float).reshape(-1, 2)
    n, m = len(pts), len(targets)
    euclid = np.hypot(pts[:, None, 0] - targets[None, :, 0], pts[:, None, 1] - targets[None, :, 1])
    if bpoly is None:
        out = np.where(euclid <= cutoff_m, euclid, np.inf)
        if mask is not None:
            out[~mask] = np.inf
        return out
    r = len(rv)
    via = np.full((n, m), np.inf)
    if r:
        allp = np.concatenate([pts, targets, rv])
        tan = _tangent(allp, rv, rp, rn)
        dist = np.hypot(allp[:, None, 0] - rv[None, :, 0], allp[:, None, 1] - rv[None, :, 1])
        tan &= dist <= cutoff_m
        # reflex <-> reflex (bitangent) and points, targets -> reflex (tangent): one visibility test
        rr = tan[n + m:, :] & tan[n + m:, :].T
        iu, ju = np.nonzero(np.triu(rr, 1))
        qi, ui = np.nonzero(tan[: n + m, :])
        ok = _visible(bpoly, np.concatenate([rv[iu], allp[qi]]), np.concatenate([rv[ju], rv[ui]]))
        ok_rr, ok = ok[: len(iu)], ok[len(iu):]
        iu, ju = iu[ok_rr], ju[ok_rr]
        G = _all_pairs(r, iu, ju, np.hypot(*(rv[iu] - rv[ju]).T) + 1e-12)
        qi, ui = qi[ok], ui[ok]
        dq = dist[qi, ui]
        # H[u, t] = min_w G[u, w] + |w t|  (t sees w)
        tm = qi >= n
        ti, wi, dw = qi[tm] - n, ui[tm], dq[tm]
        H = np.full((r, m), np.inf)
        if len(ti):  # qi is sorted (np.nonzero): ti too
            vals = G[:, wi] + dw[None, :]
            starts = np.flatnonzero(np.r_[True, ti[1:] != ti[:-1]])
            H[:, ti[starts]] = np.minimum.reduceat(vals, starts, axis=1)
        pm = ~tm
        pi, pu, dp = qi[pm], ui[pm], dq[pm]
        if len(pi):  # qi is sorted: pi too
            starts = np.flatnonzero(np.r_[True, pi[1:] != pi[:-1]])
            step = max(1, 2_000_000 // max(m, 1))
            for s0 in range(0, len(starts), step):
                st = starts[s0: s0 + step]
                end = starts[s0 + step] if s0 + step < len(starts) else len(pi)
                vals = dp[st[0]:end, None] + H[pu[st[0]:end]]
                via[pi[st]] = np.minimum.reduceat(vals, st - st[0], axis=0)
    # direct segments: test only where the detour is longer than the straight line
    need = (euclid <= cutoff_m) & (via > euclid + 1e-9) & (euclid > 1e-12)
    if mask is not None:
        need &= mask
    ii, jj = np.nonzero(need)
    out = np.minimum(via, np.where(euclid <= 1e-12, 0.0, np.inf))
    if len(ii):
        ok = _visible(bpoly, pts[ii], targets[jj])
        out[ii[ok], jj[ok]] = euclid[ii[ok], jj[ok]]
    out = np.where(out <= cutoff_m, out, np.inf)
    if mask is not None:
        out[~mask] = np.inf
    return out


def _pareto_rows(W: np.ndarray) -> np.ndarray:
    """Indices of rows of W (samples x doors) not dominated by another row (>= on every door).

    max over kept rows of min_d (W + g) equals max over all rows, for every g."""
    P, D = W.shape
    if P <= 1:
        return np.arange(P)
    if D == 1:
        return np.array([int(np.argmax(W[:, 0]))])
    Wf = np.where(np.isinf(W), 1e300, W)
    # quick filter: a row dominated by the row that is the farthest from door 0
    if P * P * D > _PARETO_MAX_WORK:
        uniq = np.unique(Wf, axis=0, return_index=True)[1]
        return np.sort(uniq)
    ge = np.ones((P, P), dtype=bool)
    for d in range(D):
        ge &= Wf[:, None, d] >= Wf[None, :, d]
    strict = ge & ~ge.T
    equal_before = np.triu(ge & ge.T, 1)
    dominated = strict.any(axis=0) | equal_before.any(axis=0)
    return np.flatnonzero(~dominated)


# ---------------------------------------------------------------------------- graph
@dataclass
class WalkGraph:
    """The walking graph of a station (internal; units metres and seconds).

    Nodes are door sides. `inc_*` are the (room, node) incidences, `trip_*` the
    (incidence, sample, metres) walks of the kept samples, CSR-indexed by incidence.
    """

    room_ids: np.ndarray
    node_door: np.ndarray          # door_id per node
    graph: csr_matrix              # node x node, seconds
    inc_room: np.ndarray
    inc_node: np.ndarray
    inc_xy: np.ndarray
    node_xy: np.ndarray            # plan position of each node (door midpoint / link point)
    snap_m: float                  # largest shift of a door position snapped into a room
    node_ptr: np.ndarray           # CSR node -> incidences (order `inc_by_node`)
    inc_by_node: np.ndarray
    trip_ptr: np.ndarray           # CSR incidence -> triples
    trip_sample: np.ndarray
    trip_w: np.ndarray             # metres
    sample_room: np.ndarray        # room of each kept sample
    room_nsamp: np.ndarray         # kept samples per room
    room_leg_m: np.ndarray         # farthest point to its nearest door (metres; inf without door)
    inc_far_m: np.ndarray          # per incidence: farthest kept sample to that door (metres; inf if any misses)
    room_extreme: np.ndarray       # rooms x 8 x 2 extreme boundary points (for bounds)
    redge_key: np.ndarray          # sorted keys (room * N + a) * N + b of in-room edges a -> b
    redge_s: np.ndarray            # their walking time (seconds)

    def room_edge_s(self, room: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Seconds of the walk inside `room` from node a to node b (inf when not both its doors)."""
        n = self.graph.shape[0]
        key = (room.astype(np.int64) * n + a) * n + b
        pos = np.searchsorted(self.redge_key, key)
        pos = np.minimum(pos, max(len(self.redge_key) - 1, 0))
        out = np.full(len(key), np.inf)
        if len(self.redge_key):
            hit = self.redge_key[pos] == key
            out[hit] = self.redge_s[pos[hit]]
        return out


@dataclass
class _RoomInputs:
    """What the in-room walks read (`_room_walks`; shared with worker processes by fork).

    Lengths in metres, speed in metres per second; `*_ptr` are CSR pointers by room."""

    polys: np.ndarray              # room polygons
    convex: np.ndarray             # rooms walked in straight lines
    far: np.ndarray                # rooms too large for any site within the cut-off
    inc_ptr: np.ndarray            # room -> incidences (door sides)
    inc_xy: np.ndarray
    inc_node: np.ndarray
    samp_ptr: np.ndarray           # room -> boundary samples
    sxy: np.ndarray
    cutoff_m: float
    speed_m_s: float


@dataclass
class _RoomWalks:
    """In-room walks of some rooms (`_room_walks`), room by room in the order of `rooms`."""

    rooms: np.ndarray
    leg_m: np.ndarray              # per room: farthest point to its nearest door (metres; inf: none)
    nkept: np.ndarray              # per room: boundary samples kept (0: none)
    edge_a: np.ndarray             # door-to-door walks: nodes a < b in the room's door order,
    edge_b: np.ndarray
    edge_s: np.ndarray             # seconds,
    edge_room: np.ndarray          # and room
    ntrip: np.ndarray              # per room: kept sample walks, room by room:
    trip_sample: np.ndarray        # sample (index among the room's kept samples),
    trip_inc: np.ndarray           # incidence (door side)
    trip_w: np.ndarray             # and metres (finite only)


def _room_walks(ctx: _RoomInputs, rooms: np.ndarray) -> _RoomWalks:
    """Door-to-door walks, leg and kept sample walks (see `WalkGraph`) of `rooms` (room indices
    into `ctx`, each with at least one door side)."""
    v = ctx.speed_m_s
    polys = ctx.polys[rooms]
    bent = ~ctx.convex[rooms]
    cptr, rv, rp, rn = _reflex_corners(polys[bent])      # all rooms at once: few GEOS calls
    outline = _walk_outlines(polys[bent], cptr)
    bent_at = np.cumsum(bent) - 1
    leg = np.full(len(rooms), np.inf)
    nkept = np.zeros(len(rooms), dtype=np.int64)
    ntrip = np.zeros(len(rooms), dtype=np.int64)
    ea, eb, es, er = [], [], [], []
    ts, ti, tw = [], [], []
    for j, r in enumerate(rooms):
        k0, k1 = ctx.inc_ptr[r], ctx.inc_ptr[r + 1]
        dxy = ctx.inc_xy[k0:k1]
        sp = ctx.sxy[ctx.samp_ptr[r]:ctx.samp_ptr[r + 1]]
        D = k1 - k0
        extra = 0.0
        far = bool(ctx.far[r])
        if len(sp) > _MAX_SAMPLES and not far:
            step = float(shapely.length(polys[j])) / _MAX_SAMPLES
            sp = shapely.get_coordinates(shapely.segmentize(shapely.boundary(polys[j]), step))
            extra = step / 2
        q = np.concatenate([dxy, sp])
        mask = None
        if far:  # no site can be within the cut-off: door-door walks, and the nearest doors for the leg
            e = np.hypot(q[:, None, 0] - dxy[None, :, 0], q[:, None, 1] - dxy[None, :, 1])
            mask = np.zeros_like(e, dtype=bool)
            mask[:D] = True
            near = np.argsort(e[D:], axis=1)[:, :_LEG_DOORS]
            mask[D + np.arange(len(sp))[:, None], near] = True
        if bent[j]:  # around the reflex corners; else straight
            b = bent_at[j]
            c = slice(cptr[b], cptr[b + 1])
            allw = _polygon_walks(outline[b], rv[c], rp[c], rn[c], q, dxy, ctx.cutoff_m, mask, poly=polys[j])
        else:
            allw = _polygon_walks(None, rv[:0], rp[:0], rn[:0], q, dxy, ctx.cutoff_m, mask)
        dd, W = allw[:D], allw[D:] + extra
        ia, ib = np.triu_indices(D, 1)
        w = np.minimum(dd[ia, ib], dd[ib, ia])
        fin = np.isfinite(w)
        nodes = ctx.inc_node[k0:k1]
        ea.append(nodes[ia[fin]]); eb.append(nodes[ib[fin]]); es.append(w[fin] / v)
        er.append(np.full(int(fin.sum()), r))
        if not len(W):
            continue
        leg[j] = W.min(axis=1).max()
        if far:
            continue
        W = W[_pareto_rows(W)]
        ii, jj = np.nonzero(np.isfinite(W))
        nkept[j], ntrip[j] = len(W), len(ii)
        ts.append(ii); ti.append(k0 + jj); tw.append(W[ii, jj])
    cat = lambda lst, dt=float: np.concatenate(lst).astype(dt) if lst else np.zeros(0, dt)  # noqa: E731
    return _RoomWalks(rooms=rooms, leg_m=leg, nkept=nkept, edge_a=cat(ea, np.int64), edge_b=cat(eb, np.int64),
                      edge_s=cat(es), edge_room=cat(er, np.int64), ntrip=ntrip, trip_sample=cat(ts, np.int32),
                      trip_inc=cat(ti, np.int64), trip_w=cat(tw))


_REACH_WORKERS_MAX = 2
"""Worker processes for the reach table, at most (and at most the CPUs this process may use);
the environment variable PLANNER_REACH_WORKERS sets the number instead (1: no workers)."""
_PARALLEL_MIN_ROOMS = 300
"""Fewer rooms to walk (rooms other than convex ones with one door) than this: no workers
(starting them costs more than they save)."""
_PARALLEL_MIN_TILE_CELLS = 300_000
"""Less shortest-path work (source rows x tile nodes, summed over the tiles; about 0.3 us each)
than this: no workers."""
_CHUNKS_PER_WORKER = 4
"""Work is cut into this many runs per worker, each handed to the next free worker (so that
uneven runs even out)."""
_WORKER_FN: Callable[[Any], Any] | None = None
"""Inside a `_fork_map` worker process only: the function it maps (set by the pool's initializer,
inherited by fork, never pickled). The calling process never sets it."""


def _reach_workers() -> int:
    """Worker processes for the reach table (1: everything in this process)."""
    env = os.environ.get("PLANNER_REACH_WORKERS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(f"PLANNER_REACH_WORKERS must be a whole number, not {env!r}") from None
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(_REACH_WORKERS_MAX, cpus))


def _balanced_chunks(items: Sequence[T] | np.ndarray, weight: np.ndarray, workers: int) -> list:
    """`items` cut for `workers` processes: into consecutive, non-empty runs of about equal total
    `weight` (`_CHUNKS_PER_WORKER` per worker; one run for one worker)."""
    k = workers * _CHUNKS_PER_WORKER if workers > 1 else 1
    if k <= 1 or len(items) <= 1:
        return [items] if len(items) else []
    cum = np.cumsum(weight, dtype=float)
    cuts = np.unique(np.searchsorted(cum, cum[-1] * np.arange(1, k) / k, side="right"))
    bounds = [0, *(int(c) for c in cuts if 0 < c < len(items)), len(items)]
    return [items[a:b] for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def _adopt(fn: Callable[[Any], Any]) -> None:
    """Pool initializer, run in each forked worker: keep the function the worker maps."""
    global _WORKER_FN
    _WORKER_FN = fn


def _forked_call(item: Any) -> Any:
    """Run one item of a `_fork_map` in a worker, with the function it inherited."""
    assert _WORKER_FN is not None, "_forked_call runs only in a _fork_map worker"
    return _WORKER_FN(item)


def _worker_init(fn: Callable[[Any], Any], parent: int) -> None:
    """Pool initializer: keep the function the worker maps (`_adopt`) and die with the parent."""
    _adopt(fn)
    _die_with_parent(parent)


def _die_with_parent(parent: int) -> None:
    """The worker is killed when the process that forked it dies (Linux PR_SET_PDEATHSIG), even
    by SIGKILL; elsewhere it exits if its parent is already gone."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):  # not Linux: no death signal
        pass
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):  # the parent's handlers are inherited
        signal.signal(sig, signal.SIG_DFL)
    if os.getppid() != parent:  # the parent died before the death signal was set
        os._exit(1)


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """Kill a pool's worker processes and drop the pool without waiting for its queued work."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for proc in procs:
        try:
            proc.kill()
        except (OSError, AttributeError):
            pass
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        proc.join(timeout=5)


def _fork_map(fn: Callable[[T], R], items: list[T], workers: int) -> list[R]:
    """``[fn(x) for x in items]``, in order: in `workers` forked processes when more than one
    and the "fork" start method exists, else (or when the workers fail) in this process.

    `fn` may be any callable, closures included: the workers inherit it (and everything it
    reads) by fork; only the items and the results are pickled."""
    workers = min(workers, len(items))
    if workers > 1 and "fork" in mp.get_all_start_methods():
        try:
            # the initializer's argument reaches the workers by fork (a forked process is not
            # handed pickled arguments), so closures work; the calling process keeps no state.
            # The workers die with this process (_die_with_parent) and are killed when it is interrupted.
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork"),
                                       initializer=_worker_init, initargs=(fn, os.getpid()))
            try:
                result = list(pool.map(_forked_call, items))
            except BaseException:  # interrupted or failed: stop the workers now, don't wait for them
                _kill_workers(pool)
                raise
            pool.shutdown(wait=True)
            return result
        except Exception as exc:  # noqa: BLE001 - no fork, no memory, a worker killed: work here instead
            log(f"[planner] reach table: worker processes failed ({exc!r}); continuing in this process")
    return [fn(x) for x in items]


def _door_positions(doors: pd.DataFrame) -> np.ndarray:
    g = doors.geometry.to_numpy()
    is_line = shapely.get_type_id(g) == 1
    pts = shapely.centroid(g)
    pts[is_line] = shapely.line_interpolate_point(g[is_line], 0.5, normalized=True)
    return shapely.get_coordinates(pts)


def build_graph(station: Station, cutoff_m: float) -> WalkGraph:
    """Door-side nodes, in-room edges and sample walks for every room (see module doc)."""
    p = station.params
    v = p.walk_speed_m_s
    rooms = station.rooms.sort_values("room_id", kind="stable").reset_index(drop=True)
    doors = station.doors.sort_values("door_id", kind="stable").reset_index(drop=True)
    room_ids = rooms["room_id"].astype(str).to_numpy()
    ridx = pd.Series(np.arange(len(rooms)), index=room_ids)
    ridx = ridx[~ridx.index.duplicated()]
    polys = rooms.geometry.to_numpy()
    nrooms = len(rooms)

    # ---- nodes and incidences
    fr = ridx.reindex(doors["from_room"].astype(object)).to_numpy(dtype=float)
    to = ridx.reindex(doors["to_room"].astype(object)).to_numpy(dtype=float)
    vert = doors["vertical"].to_numpy(dtype=bool) if "vertical" in doors else np.zeros(len(doors), bool)
    nd = len(doors)
    node_a = np.arange(nd)
    node_b = np.where(vert, nd + np.cumsum(vert) - 1, node_a)
    nnodes = nd + int(vert.sum())
    node_door = np.empty(nnodes, dtype=object)
    node_door[:nd] = doors["door_id"].astype(str).to_numpy()
    node_door[nd:] = node_door[:nd][vert]
    dpos = _door_positions(doors) if nd else np.zeros((0, 2))
    inc = pd.DataFrame({
        "room": np.r_[fr, to], "node": np.r_[node_a, node_b],
        "x": np.r_[dpos[:, 0], dpos[:, 0]], "y": np.r_[dpos[:, 1], dpos[:, 1]]})
    inc = inc[inc["room"].notna()].drop_duplicates(["room", "node"])
    inc["room"] = inc["room"].astype(np.int64)
    inc = inc.sort_values(["room", "node"], kind="stable").reset_index(drop=True)
    # snap door points lying outside their room onto its boundary
    if len(inc):
        ipoly = polys[inc["room"].to_numpy()]
        ipt = shapely.points(inc[["x", "y"]].to_numpy())
        out = shapely.distance(ipt, ipoly) > 1e-9
        if out.any():
            bnd = shapely.boundary(ipoly[out])
            snapped = shapely.line_interpolate_point(bnd, shapely.line_locate_point(bnd, ipt[out]))
            inc.loc[out, ["x", "y"]] = shapely.get_coordinates(snapped)
    inc_room = inc["room"].to_numpy()
    inc_node = inc["node"].to_numpy()
    inc_xy = inc[["x", "y"]].to_numpy()
    node_xy = np.zeros((nnodes, 2))
    node_xy[node_a] = dpos
    node_xy[node_b] = dpos
    snap_m = float(np.max(np.hypot(*(inc_xy - node_xy[inc_node]).T))) if len(inc_xy) else 0.0
    room_inc_ptr = np.searchsorted(inc_room, np.arange(nrooms + 1))

    # ---- boundary samples
    bnd = shapely.segmentize(shapely.boundary(polys), p.boundary_sample_m)
    sxy, sroom = shapely.get_coordinates(bnd, return_index=True)
    samp_ptr = np.searchsorted(sroom, np.arange(nrooms + 1))
    # extreme points per room, 8 directions (lower bounds for pruning)
    ang = np.arange(8) * np.pi / 4
    dirs = np.c_[np.cos(ang), np.sin(ang)]
    proj = sxy @ dirs.T  # samples x 8
    ext = np.full((nrooms, 8, 2), np.nan)
    if len(sxy):  # the first sample of largest projection, per room (samples come room by room)
        starts = np.flatnonzero(np.r_[True, sroom[1:] != sroom[:-1]])
        top = np.maximum.reduceat(proj, starts, axis=0)
        is_top = proj == np.repeat(top, np.diff(np.r_[starts, len(sroom)]), axis=0)
        for k in range(8):
            hit = np.flatnonzero(is_top[:, k])
            ext[sroom[starts], k] = sxy[hit[np.searchsorted(hit, starts)]]

    # ---- convexity (straight walks) per room
    hull = shapely.convex_hull(polys)
    ext_ring = shapely.get_exterior_ring(polys)
    simple = (shapely.get_type_id(polys) == 3) & (shapely.get_num_interior_rings(polys) == 0)
    convex = np.zeros(nrooms, dtype=bool)
    if simple.any():
        hd = shapely.hausdorff_distance(ext_ring[simple], shapely.get_exterior_ring(hull[simple]))
        convex[simple] = hd <= _CONVEX_TOL_M

    n_inc = np.diff(room_inc_ptr)
    leg_m = np.full(nrooms, np.inf)
    room_nsamp = np.zeros(nrooms, dtype=np.int64)

    # fast path: convex rooms with one door -> the farthest sample only
    fast = convex & (n_inc == 1)
    fr_idx = np.flatnonzero(fast)
    fast_w, fast_ok, fast_k = np.zeros(0), np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64)
    if len(fr_idx):
        k_of = room_inc_ptr[fr_idx]
        has = np.isin(sroom, fr_idx)
        s_r = sroom[has]
        s_xy = sxy[has]
        dxy = inc_xy[room_inc_ptr[s_r]]
        d = np.hypot(*(s_xy - dxy).T)
        order = np.lexsort((-d, s_r))
        first = order[np.searchsorted(s_r[order], fr_idx)]
        dmax = d[first]
        leg_m[fr_idx] = np.where(dmax <= cutoff_m, dmax, np.inf)
        fast_w, fast_ok, fast_k = dmax, dmax <= cutoff_m, k_of
    usable = ~(shapely.is_missing(polys) | shapely.is_empty(polys))  # validation reports the others
    slow = np.flatnonzero(~fast & (n_inc > 0) & usable)

    # lower bound on any walk from the room: half its extent (farthest point from anywhere)
    extent = np.zeros(nrooms)
    for k in range(4):
        extent = np.maximum(extent, np.hypot(*(ext[:, k] - ext[:, k + 4]).T))
    extent = np.nan_to_num(extent)
    ctx = _RoomInputs(polys=polys, convex=convex, far=extent / 2 > cutoff_m, inc_ptr=room_inc_ptr, inc_xy=inc_xy,
                      inc_node=inc_node, samp_ptr=samp_ptr, sxy=sxy, cutoff_m=cutoff_m, speed_m_s=v)
    # expected work per room: walks from its doors and samples to its doors
    nsamp = np.minimum(np.diff(samp_ptr)[slow], _MAX_SAMPLES)
    workers = _reach_workers() if len(slow) >= _PARALLEL_MIN_ROOMS else 1
    chunks = _balanced_chunks(slow, (n_inc[slow] + nsamp) * n_inc[slow] + 50, workers)
    walks = _fork_map(partial(_room_walks, ctx), chunks, workers)
    for w in walks:
        leg_m[w.rooms] = w.leg_m
        room_nsamp[w.rooms] = w.nkept
    room_nsamp[fr_idx[fast_ok]] = 1

    # number the kept samples room by room; triples (incidence, sample, metres) by incidence, sample
    sample_first = np.cumsum(room_nsamp) - room_nsamp
    sample_room = np.repeat(np.arange(nrooms), room_nsamp)
    cat = lambda lst, dt=float: np.concatenate(lst).astype(dt) if lst else np.zeros(0, dt)  # noqa: E731
    t_inc = cat([fast_k[fast_ok]] + [w.trip_inc for w in walks], np.int64)
    t_s = cat([sample_first[fr_idx[fast_ok]]] + [np.repeat(sample_first[w.rooms], w.ntrip) + w.trip_sample
                                                 for w in walks], np.int64)
    t_w = cat([fast_w[fast_ok]] + [w.trip_w for w in walks])
    order = np.lexsort((t_s, t_inc))
    t_inc, t_s, t_w = t_inc[order], t_s[order], t_w[order]
    trip_ptr = np.searchsorted(t_inc, np.arange(len(inc_room) + 1))
    tcount = np.diff(trip_ptr)
    inc_far = np.full(len(inc_room), np.inf)
    has_t = tcount > 0
    if has_t.any():
        inc_far[has_t] = np.maximum.reduceat(t_w, trip_ptr[:-1][has_t])
    inc_far[tcount < room_nsamp[inc_room]] = np.inf
    inc_far[room_nsamp[inc_room] == 0] = np.inf

    # ---- graph
    ea, eb, ew = cat([w.edge_a for w in walks], np.int64), cat([w.edge_b for w in walks], np.int64), \
        cat([w.edge_s for w in walks])
    er = cat([w.edge_room for w in walks], np.int64)
    rkey = np.r_[(er * nnodes + ea) * nnodes + eb, (er * nnodes + eb) * nnodes + ea]
    order = np.argsort(rkey, kind="stable")
    redge_key, redge_s = rkey[order], np.r_[ew, ew][order]
    vi = np.flatnonzero(vert)
    if len(vi):
        trav = doors["traverse_s"].to_numpy(dtype=float)[vi]
        trav = np.where(np.isnan(trav), p.stairs_traverse_s, trav)
        ea, eb, ew = np.r_[ea, node_a[vi]], np.r_[eb, node_b[vi]], np.r_[ew, trav]
    ew = np.maximum(ew, 1e-9)  # explicit zeros are not edges for csgraph
    a2, b2 = np.r_[ea, eb], np.r_[eb, ea]
    w2 = np.r_[ew, ew]
    if len(a2):
        e = pd.DataFrame({"a": a2, "b": b2, "w": w2}).groupby(["a", "b"], sort=True)["w"].min().reset_index()
        graph = coo_matrix((e["w"].to_numpy(), (e["a"].to_numpy(), e["b"].to_numpy())),
                           shape=(nnodes, nnodes)).tocsr()
    else:
        graph = csr_matrix((nnodes, nnodes))
    inc_by_node = np.argsort(inc_node, kind="stable")
    node_ptr = np.searchsorted(inc_node[inc_by_node], np.arange(nnodes + 1))
    return WalkGraph(room_ids=room_ids, node_door=node_door, graph=graph, inc_room=inc_room, inc_node=inc_node,
                     inc_xy=inc_xy, node_xy=node_xy, snap_m=snap_m, node_ptr=node_ptr, inc_by_node=inc_by_node, trip_ptr=trip_ptr,
                     trip_sample=t_s, trip_w=t_w, sample_room=sample_room, room_nsamp=room_nsamp,
                     room_leg_m=leg_m, inc_far_m=inc_far, room_extreme=ext, redge_key=redge_key, redge_s=redge_s)


def _tiles(row_xy: np.ndarray, row_site: np.ndarray, site_xy: np.ndarray, wg: WalkGraph, reach_m: float,
           max_rows: int = 256, max_cells: int = 4_000_000,
           rows_index: np.ndarray | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Source rows grouped by the plan position of their site (all rows of a site in one group),
    with the sorted nodes within `reach_m` of the group's bounding box (walks are never shorter
    than the straight line in plan)."""
    n = len(row_xy)
    if n == 0:
        return
    margin = reach_m + 2 * wg.snap_m + 1.0
    cell = max(reach_m / 3, 10.0)
    cx = np.floor(site_xy[row_site, 0] / cell).astype(np.int64)
    cy = np.floor(site_xy[row_site, 1] / cell).astype(np.int64)
    order = np.lexsort((row_site, cy, cx))
    ckey = (cx * 1_000_003 + cy)[order]
    starts = np.flatnonzero(np.r_[True, ckey[1:] != ckey[:-1]])
    ends = np.r_[starts[1:], n]
    nx = wg.node_xy
    xorder = np.argsort(nx[:, 0], kind="stable")
    xs = nx[xorder, 0]
    for a, b in zip(starts, ends):
        cell_rows = order[a:b]
        lo = row_xy[cell_rows].min(axis=0) - margin
        hi = row_xy[cell_rows].max(axis=0) + margin
        i0, i1 = np.searchsorted(xs, [lo[0], hi[0]], side="left")[0], np.searchsorted(xs, hi[0], side="right")
        cand = xorder[i0:i1]
        y = nx[cand, 1]
        sel = np.sort(cand[(y >= lo[1]) & (y <= hi[1])])
        step = int(max(1, min(max_rows, max_cells // max(len(sel), 1))))
        # cut only between sites: a site's doors must be in one Dijkstra batch
        rs = row_site[cell_rows]
        site_start = np.flatnonzero(np.r_[True, rs[1:] != rs[:-1]])
        c0 = 0
        while c0 < len(cell_rows):
            if c0 + step >= len(cell_rows):
                c1 = len(cell_rows)
            else:
                k = np.searchsorted(site_start, c0 + step, side="right") - 1
                c1 = site_start[k] if site_start[k] > c0 else (
                    site_start[k + 1] if k + 1 < len(site_start) else len(cell_rows))
            out = cell_rows[c0:c1]
            yield (out if rows_index is None else rows_index[out]), sel
            c0 = c1


def _first_min(key: np.ndarray, val: np.ndarray) -> np.ndarray:
    """Position of the smallest `val` of each distinct `key` (the first such position on ties),
    in key order: the group heads of ``np.lexsort((val, key))``, without sorting `val`."""
    if not len(key):
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(key, kind="stable")
    k, x = key[order], val[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    low = np.minimum.reduceat(x, starts)
    hit = np.flatnonzero(x == np.repeat(low, np.diff(np.r_[starts, len(k)])))
    return order[hit[np.searchsorted(hit, starts)]]


def _ragged(ptr: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each i in idx, the positions ptr[i] .. ptr[i+1]-1: (owner position, element)."""
    counts = ptr[idx + 1] - ptr[idx]
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(idx)), counts)
    offs = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, np.repeat(ptr[idx], counts) + offs


# ---------------------------------------------------------------------------- reach
def _walk_params(station: Station) -> dict:
    p = station.params
    return {"walk_speed_m_s": p.walk_speed_m_s, "reach_s": p.reach_s, "reaction_s": p.reaction_s,
            "stairs_traverse_s": p.stairs_traverse_s, "boundary_sample_m": p.boundary_sample_m,
            "door_snap_m": p.door_snap_m, "shelter_in_place": p.shelter_in_place}


def reach_key(station: Station, site_ids: list[str], full: bool = False) -> str:
    """SHA-256 (hex: 24 chars, or all 64 with `full`) of rooms, doors, walking parameters and sites."""
    h = hashlib.sha256(ALGO_VERSION.encode())
    h.update(repr(sorted(_walk_params(station).items())).encode())
    r = station.rooms.sort_values("room_id", kind="stable")
    h.update("\x1f".join(r["room_id"].astype(str)).encode())
    h.update(r["deck"].to_numpy(dtype=np.int64).tobytes())
    for g in shapely.to_wkb(r.geometry.to_numpy()):
        h.update(g)
    d = station.doors.sort_values("door_id", kind="stable")
    h.update("\x1f".join(d["door_id"].astype(str)).encode())
    h.update("\x1f".join(d["from_room"].astype(str)).encode())
    h.update("\x1f".join(d["to_room"].astype(str)).encode())
    h.update(d["traverse_s"].to_numpy(dtype=float).tobytes())
    h.update(d["vertical"].to_numpy(dtype=bool).tobytes())
    for g in shapely.to_wkb(d.geometry.to_numpy()):
        h.update(g)
    h.update("\x1f".join(sorted(map(str, site_ids))).encode())
    return h.hexdigest() if full else h.hexdigest()[:24]


CACHE_FORMAT = "reach-cache-1"
"""Version of the cache file layout (an entry of another layout is recomputed)."""


def default_cache_dir() -> Path:
    """The command line's reach-table cache: ``$PLANNER_CACHE_DIR/reach``, else ``.cache/reach``
    under the working directory."""
    return Path(os.environ.get("PLANNER_CACHE_DIR", ".cache")) / "reach"


def _cache_path(cache_dir: str | Path, key: str) -> Path:
    return Path(cache_dir) / f"{key}.npz"


def _text_array(values: Any) -> np.ndarray:
    """Text column as a fixed-width unicode array (no objects: the file holds data only)."""
    return np.asarray(["" if v is None else str(v) for v in values], dtype=str)


def _save_cache(path: Path, table: ReachTable, full_key: str) -> None:
    """Write the table as a data-only ``.npz`` (no pickle), atomically; a cache that cannot be
    written is not an error (the table is simply recomputed next time)."""
    p, r = table.pairs, table.rooms
    best = r["best_site_id"]
    arrays = {
        "format": np.asarray(CACHE_FORMAT), "key": np.asarray(full_key),
        "pairs_room_id": _text_array(p["room_id"]), "pairs_site_id": _text_array(p["site_id"]),
        "pairs_walk_s": p["walk_s"].to_numpy(dtype=np.float64), "pairs_door_id": _text_array(p["door_id"]),
        "rooms_room_id": _text_array(r.index), "rooms_leg_s": r["leg_s"].to_numpy(dtype=np.float64),
        "rooms_best_site_id": _text_array(best), "rooms_has_best": best.notna().to_numpy(dtype=bool),
        "rooms_best_walk_s": r["best_walk_s"].to_numpy(dtype=np.float64)}

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    try:
        write_atomic(path, write, overwrite=True, what="cache entry")
    except OutputError:  # a read-only or full cache is not an error
        pass


def _load_cache(path: Path, full_key: str, station: Station, site_ids: list[str], key: str) -> ReachTable | None:
    """The cached table at `path` if it is a valid entry for exactly these inputs, else None.

    Read with ``allow_pickle=False`` (no code can run); the entry must carry the inputs' full
    hash `full_key`, and its contents must fit the station: the same rooms, sites among the
    candidate sites, doors of the station, walks finite, non-negative and within the reach
    time. Anything else (stale, damaged, crafted) is ignored and the table recomputed."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["format"]) != CACHE_FORMAT or str(z["key"]) != full_key:
                return None
            pr, ps, pw, pd_ = z["pairs_room_id"], z["pairs_site_id"], z["pairs_walk_s"], z["pairs_door_id"]
            rr, rl, rb, rh, rw = (z["rooms_room_id"], z["rooms_leg_s"], z["rooms_best_site_id"],
                                  z["rooms_has_best"], z["rooms_best_walk_s"])
    except Exception:  # noqa: BLE001 - unreadable, truncated, not an npz, an object array: recompute
        return None
    n, m = len(pr), len(rr)
    if not (ps.shape == pw.shape == pd_.shape == (n,) and rl.shape == rb.shape == rh.shape == rw.shape == (m,)):
        return None
    if pw.dtype != np.float64 or rl.dtype != np.float64 or rw.dtype != np.float64 or rh.dtype != np.bool_:
        return None
    if not all(a.dtype.kind == "U" or a.size == 0 for a in (pr, ps, pd_, rr, rb)):
        return None
    p = station.params
    room_ids = station.rooms["room_id"].astype(str)
    sites = set(site_ids)
    doors = set(station.doors["door_id"].astype(str)) | {""}
    if sorted(rr.tolist()) != sorted(set(room_ids)) or len(set(rr.tolist())) != m:
        return None
    if not (np.isfinite(pw).all() and (pw >= 0).all() and (pw <= p.reach_s + 1e-9).all()):
        return None
    if not (set(pr.tolist()) <= set(rr.tolist()) and set(ps.tolist()) <= sites and set(pd_.tolist()) <= doors):
        return None
    if np.isnan(rl).any() or (rl < 0).any() or np.isnan(rw).any() or (rw < 0).any():
        return None
    if not set(rb[rh].tolist()) <= sites:
        return None
    pairs = pd.DataFrame({"room_id": pr.astype(object), "site_id": ps.astype(object),
                          "walk_s": pw, "door_id": pd_.astype(object)})
    rooms = pd.DataFrame(index=pd.Index(rr.astype(object), name="room_id"))
    rooms["leg_s"] = rl
    rooms["best_site_id"] = pd.Series(np.where(rh, rb.astype(object), None), index=rooms.index, dtype=object)
    rooms["best_walk_s"] = rw
    return ReachTable(pairs=pairs, rooms=rooms, key=key)


def reach_table(station: Station, sites: pd.DataFrame | None = None, cache: bool = True,
                cache_dir: str | Path | None = None) -> ReachTable:
    """The reach table of a station: every (room, candidate site) pair within the reach time.

    Parameters
    ----------
    station : Station
        The loaded station (rooms, doors, residents, parameters).
    sites : pandas.DataFrame, optional
        Candidate sites (index = site room_id); default `planner.sites.candidate_sites(station)`.
    cache : bool
        Use the cache folder when one is given (False: recompute and write nothing).
    cache_dir : str or Path, optional
        Folder of cached tables. A table computed before for the same inputs is read back
        from it, and a new one is written into it. None (the default): no cache, nothing is
        written. The command line passes `default_cache_dir()`. An entry is a data-only
        ``.npz`` (read with ``allow_pickle=False``) tied to the full hash of the inputs and
        checked against the station when read (`_load_cache`); the independent checker
        never passes a cache.

    Returns
    -------
    ReachTable
        `pairs` with walking times in seconds (reaction time included), the door used, and the
        nearest-door leg; see the module docstring.
    """
    if sites is None:
        from planner.sites import candidate_sites

        sites = candidate_sites(station)
    site_ids = sorted(set(map(str, sites.index)))
    full_key = reach_key(station, site_ids, full=True)
    key = full_key[:24]
    path = _cache_path(cache_dir, key) if cache and cache_dir is not None else None
    if path is not None and os.path.lexists(path):
        hit = _load_cache(path, full_key, station, site_ids, key)
        if hit is not None:
            return hit
    table = _compute(station, site_ids, key)
    if path is not None:
        _save_cache(path, table, full_key)
    return table


def _compute(station: Station, site_ids: list[str], key: str) -> ReachTable:  # noqa: C901  debt: issue 16 (complexity 15)
    p = station.params
    v = p.walk_speed_m_s
    react = p.reaction_s
    limit_s = 2.0 * p.reach_s                  # best times are tracked up to here (reaction included)
    glimit = max(0.0, limit_s - react)         # graph + room walk, seconds
    wg = build_graph(station, cutoff_m=glimit * v)
    room_ids = wg.room_ids
    nrooms = len(room_ids)
    ridx = pd.Series(np.arange(nrooms), index=room_ids)
    ridx = ridx[~ridx.index.duplicated()]
    site_room = ridx.reindex(site_ids).to_numpy(dtype=float)
    valid = ~np.isnan(site_room)
    site_ids = [s for s, ok in zip(site_ids, valid) if ok]
    site_room = site_room[valid].astype(np.int64)
    nsites = len(site_ids)

    # source rows: (site, node, position) for each site's door sides
    room_inc_ptr = np.searchsorted(wg.inc_room, np.arange(nrooms + 1))
    owner, k = _ragged(room_inc_ptr, site_room)
    row_site, row_node, row_xy = owner, wg.inc_node[k], wg.inc_xy[k]
    # per-site centre and radius of its doors (lower bounds)
    cx = np.bincount(row_site, row_xy[:, 0], minlength=nsites) / np.maximum(np.bincount(row_site, minlength=nsites), 1)
    cy = np.bincount(row_site, row_xy[:, 1], minlength=nsites) / np.maximum(np.bincount(row_site, minlength=nsites), 1)
    rad = np.zeros(nsites)
    if len(row_site):
        np.maximum.at(rad, row_site, np.hypot(row_xy[:, 0] - cx[row_site], row_xy[:, 1] - cy[row_site]))
    rad += 2 * p.door_snap_m + 1e-6

    nsamples = max(len(wg.sample_room), 1)
    ninc = max(len(wg.inc_room), 1)

    def walk_tiles(glimit: float, room_mask: np.ndarray | None,
                   tiles: list[tuple[np.ndarray, np.ndarray]]) -> list[list[np.ndarray]]:
        """(site, room, seconds, site door node) for walks within `glimit` from the source rows of
        `tiles` ((rows, nodes) from `_tiles`)."""
        res_s, res_r, res_t, res_n = [], [], [], []
        for rows, sel in tiles:
            # nodes farther (in plan) than the cut-off from every source in the tile cannot be reached
            sub = wg.graph[sel][:, sel]
            local = np.searchsorted(sel, row_node[rows])
            dist, pred = dijkstra(sub, directed=True, indices=local, limit=glimit, return_predecessors=True)
            li, nj = np.nonzero(dist <= glimit)
            g = dist[li, nj]
            pm = pred[li, nj]
            gm = dist[li, np.maximum(pm, 0)]
            pm = np.where(pm >= 0, sel[np.maximum(pm, 0)], -1)
            nj = sel[nj]
            ri = rows[li]
            # entries -> incidences of the reached node
            o, kk = _ragged(wg.node_ptr, nj)
            inc = wg.inc_by_node[kk]
            e_row, e_g, e_room = ri[o], g[o], wg.inc_room[inc]
            if room_mask is not None:
                m = room_mask[e_room]
                o, inc, e_row, e_g, e_room = o[m], inc[m], e_row[m], e_g[m], e_room[m]
            # a door reached through the room itself is never a better way out of that room than
            # the door it was reached from (in-room walks obey the triangle inequality): drop it
            e_pm, e_gm = pm[o], gm[o]
            has = e_pm >= 0
            through = np.zeros(len(o), dtype=bool)
            if has.any():
                w_in = wg.room_edge_s(e_room[has], e_pm[has], nj[o][has])
                through[has] = e_gm[has] + w_in <= e_g[has] + 1e-9
            keep = ~through
            e_row, e_g, e_room, inc = e_row[keep], e_g[keep], e_room[keep], inc[keep]
            e_site = row_site[e_row]
            # geometric lower bound on the pair's time: prune far rooms (long corridors)
            q = wg.room_extreme[e_room]                                  # E x 8 x 2
            dq = np.hypot(q[:, :, 0] - cx[e_site, None], q[:, :, 1] - cy[e_site, None])
            lb = np.nanmax(dq, axis=1) - rad[e_site]
            keep = ~(lb / v > glimit)
            e_row, e_g, e_site, inc = e_row[keep], e_g[keep], e_site[keep], inc[keep]
            if not len(e_row):  # nothing in this tile reaches a room (np.r_[True, []] below needs one)
                continue
            # best site door per (site, room door): sorted by (site, incidence) = (site, room, door)
            best = _first_min(e_site.astype(np.int64) * ninc + inc, e_g)
            e_row, e_g, e_site, inc = e_row[best], e_g[best], e_site[best], inc[best]
            e_room = wg.inc_room[inc]
            grp = np.r_[True, (e_room[1:] != e_room[:-1]) | (e_site[1:] != e_site[:-1])]
            starts = np.flatnonzero(grp)
            gsize = np.diff(np.r_[starts, len(e_g)])
            # one way out of the room for this site: every point walks to that door (exact)
            one = starts[gsize == 1]
            t1 = wg.inc_far_m[inc[one]] / v + e_g[one]
            ok1 = t1 <= glimit
            res_s.append(e_site[one][ok1]); res_r.append(e_room[one][ok1])
            res_t.append(t1[ok1] + react); res_n.append(row_node[e_row[one][ok1]])
            multi = np.repeat(gsize > 1, gsize)
            e_row, e_g, e_site, inc = e_row[multi], e_g[multi], e_site[multi], inc[multi]
            # several ways out: max over samples of min over doors -> triples (sample walks)
            o2, t = _ragged(wg.trip_ptr, inc)
            samp = wg.trip_sample[t]
            val = wg.trip_w[t] / v + e_g[o2]
            site = e_site[o2]
            node = row_node[e_row[o2]]
            ok = val <= glimit
            samp, val, site, node = samp[ok], val[ok], site[ok], node[ok]
            if not len(samp):
                continue
            # min over (site door, room door) per (site, sample); then max over samples per (site, room).
            # Samples are numbered room by room, so (site, sample) order is also (site, room) order.
            skey = site.astype(np.int64) * nsamples + samp
            best = _first_min(skey, val)
            skey, val, node = skey[best], val[best], node[best]
            site, samp = skey // nsamples, skey % nsamples
            room = wg.sample_room[samp]
            grp = np.r_[True, (room[1:] != room[:-1]) | (site[1:] != site[:-1])]
            starts = np.flatnonzero(grp)
            count = np.diff(np.r_[starts, len(val)])
            gmax = np.maximum.reduceat(val, starts)
            gid = np.repeat(np.arange(len(starts)), count)
            hit = np.flatnonzero(val == gmax[gid])
            at = hit[np.r_[True, gid[hit][1:] != gid[hit][:-1]]]
            full = count == wg.room_nsamp[room[starts]]
            res_s.append(site[starts][full]); res_r.append(room[starts][full])
            res_t.append(gmax[full] + react); res_n.append(node[at][full])
        return [res_s, res_r, res_t, res_n]

    def run(glimit: float, use: np.ndarray, room_mask: np.ndarray | None) -> list[list[np.ndarray]]:
        """(site, room, seconds, site door node) for walks within `glimit` from the rows `use`; the
        tiles in worker processes when there is enough work (rows x nodes: the size of the output)."""
        tiles = list(_tiles(row_xy[use], row_site[use], np.c_[cx, cy], wg, glimit * v,
                            rows_index=np.flatnonzero(use)))
        cells = np.array([len(rows) * len(sel) for rows, sel in tiles], dtype=float)
        workers = _reach_workers() if cells.sum() >= _PARALLEL_MIN_TILE_CELLS else 1
        parts = _fork_map(partial(walk_tiles, glimit, room_mask), _balanced_chunks(tiles, cells, workers), workers)
        return [[a for part in parts for a in part[i]] for i in range(4)]

    # pass 1: pairs within reach; pass 2: best time up to twice the reach, only for the rooms
    # pass 1 left without any site, from the sites near them
    all_rows = np.ones(len(row_site), dtype=bool)
    res_s, res_r, res_t, res_n = run(max(0.0, p.reach_s - react), all_rows, None)
    reached = np.zeros(nrooms, dtype=bool)
    for r_ in res_r:
        reached[r_] = True
    if p.shelter_in_place:
        reached[site_room] = True
    todo = ~reached & (np.diff(room_inc_ptr) > 0) & np.isfinite(wg.room_leg_m)
    if todo.any() and len(row_site):
        from scipy.spatial import cKDTree

        ext = wg.room_extreme[todo]
        centre = np.nanmean(ext, axis=1)
        radius = np.nanmax(np.hypot(ext[:, :, 0] - centre[:, None, 0], ext[:, :, 1] - centre[:, None, 1]), axis=1)
        tree = cKDTree(centre)
        reach2 = glimit * v + float(np.nanmax(radius)) + 2 * wg.snap_m + 1.0
        near = tree.query(row_xy, k=1, distance_upper_bound=reach2)[0]
        use = np.isfinite(near)
        if use.any():
            more = run(glimit, use, todo)
            for acc, extra in zip((res_s, res_r, res_t, res_n), more):
                acc.extend(extra)

    cat = lambda lst, dt=float: np.concatenate(lst).astype(dt) if lst else np.zeros(0, dt)  # noqa: E731
    s_ = cat(res_s, np.int64)
    r_ = cat(res_r, np.int64)
    t_ = cat(res_t)
    n_ = cat(res_n, np.int64)
    door = wg.node_door[n_] if len(n_) else np.zeros(0, dtype=object)
    # shelter in place: a candidate room reaches itself
    self_room = site_room
    self_site = np.arange(nsites)
    is_self = r_ == site_room[s_] if len(s_) else np.zeros(0, bool)
    if p.shelter_in_place:
        keep = ~is_self
        s_, r_, t_, door = s_[keep], r_[keep], t_[keep], door[keep]
        s_ = np.r_[s_, self_site]
        r_ = np.r_[r_, self_room]
        t_ = np.r_[t_, np.zeros(nsites)]
        door = np.r_[door, np.full(nsites, "", dtype=object)]
    all_pairs = pd.DataFrame({"room_id": room_ids[r_], "site_id": np.asarray(site_ids, dtype=object)[s_]
                              if nsites else np.zeros(0, dtype=object),
                              "walk_s": t_, "door_id": door.astype(object)})
    all_pairs["_r"] = r_
    all_pairs = all_pairs.sort_values(["room_id", "walk_s", "site_id"], kind="stable").reset_index(drop=True)
    best = all_pairs.drop_duplicates("_r")
    rooms = pd.DataFrame(index=pd.Index(room_ids, name="room_id"))
    leg = wg.room_leg_m / v + react
    rooms["leg_s"] = leg
    rooms["best_site_id"] = pd.Series(best["site_id"].to_numpy(), index=best["room_id"].to_numpy()).reindex(rooms.index)
    rooms["best_walk_s"] = pd.Series(best["walk_s"].to_numpy(), index=best["room_id"].to_numpy()).reindex(
        rooms.index).fillna(np.inf)
    rooms["best_site_id"] = rooms["best_site_id"].astype(object).where(rooms["best_site_id"].notna(), None)
    pairs = all_pairs[all_pairs["walk_s"] <= p.reach_s + 1e-9].drop(columns="_r").reset_index(drop=True)
    pairs["walk_s"] = pairs["walk_s"].astype(float)
    return ReachTable(pairs=pairs, rooms=rooms, key=key)


# ---------------------------------------------------------------------------- unwalkable rooms
def unwalkable_rooms(station: Station, reach: ReachTable | None = None) -> pd.DataFrame:
    """Rooms with at least one door that have a point with no walk inside the room to any of
    their doors within twice the reach time (`leg_s` not finite): a room drawn in parts that no
    door joins, or one too large to leave in time. Such a room reaches no safe room, so its
    people count only where the room itself is converted.

    Columns room_id, name, deck, n_doors, leg_s (seconds, inf); `reach` (a `reach_table` of the
    station) saves computing the in-room walks again."""
    p = station.params
    if reach is not None:
        leg = reach.rooms["leg_s"]
    else:
        glimit = max(0.0, 2.0 * p.reach_s - p.reaction_s)
        wg = build_graph(station, cutoff_m=glimit * p.walk_speed_m_s)
        leg = pd.Series(wg.room_leg_m / p.walk_speed_m_s + p.reaction_s, index=pd.Index(wg.room_ids, name="room_id"))
    leg = leg[~leg.index.duplicated()]
    d = station.doors
    sides = pd.concat([d["from_room"], d["to_room"]], ignore_index=True).dropna().astype(str)
    n_doors = sides.value_counts().reindex(leg.index, fill_value=0).astype(int)
    bad = leg.index[(n_doors > 0).to_numpy() & ~np.isfinite(leg.to_numpy(dtype=float))]
    info = station.rooms.drop_duplicates("room_id").set_index("room_id")
    out = pd.DataFrame({"room_id": np.asarray(bad, dtype=object),
                        "name": info["name"].reindex(bad).fillna("").astype(str).to_numpy(),
                        "deck": info["deck"].reindex(bad).to_numpy(),
                        "n_doors": n_doors.reindex(bad).to_numpy(dtype=int),
                        "leg_s": leg.reindex(bad).to_numpy(dtype=float)})
    return out.reset_index(drop=True)


# ---------------------------------------------------------------------------- summary
def reach_summary(station: Station, reach: ReachTable, worst: int = 10) -> str:
    """Plain-text summary: pairs, residents who reach a candidate per scenario, worst rooms."""
    p = station.params
    demand = station.demand()
    opts = reach.options_in_reach()
    lines = [f"Reach table for {station.name}: {len(reach.pairs):,} room-site pairs within "
             f"{p.reach_s:g} s at {p.walk_speed_m_s:g} m/s (reaction {p.reaction_s:g} s); "
             f"{int((opts > 0).sum()):,} of {len(opts):,} rooms reach at least one candidate."]
    reached = opts.reindex(demand.index, fill_value=0) > 0
    for s in demand.columns:
        tot = int(demand[s].sum())
        ok = int(demand[s][reached].sum())
        share = ok / tot if tot else 1.0
        lines.append(f"  {s}: {ok:,} of {tot:,} residents ({share:.1%}) have a candidate within reach")
    occupied = demand.sum(axis=1) > 0
    bad = reach.rooms[~reached.reindex(reach.rooms.index, fill_value=False).to_numpy()].copy()
    bad_occ = bad[occupied.reindex(bad.index, fill_value=False).to_numpy()]
    if len(bad_occ) == 0:
        lines.append("Every occupied room reaches a candidate safe room in time.")
    else:
        info = station.rooms.drop_duplicates("room_id").set_index("room_id")
        bad_occ = bad_occ.join(info[["name", "sector", "deck"]]).join(demand.max(axis=1).rename("residents"))
        bad_occ = bad_occ.sort_values(["best_walk_s", "residents"], ascending=[False, False])
        lines.append(f"{len(bad_occ):,} occupied room(s) no candidate reaches within {p.reach_s:g} s "
                     f"(worst {min(worst, len(bad_occ))}):")
        for rid, row in bad_occ.head(worst).iterrows():
            best = ("none within %g s" % (2 * p.reach_s) if not np.isfinite(row["best_walk_s"])
                    else f"{row['best_walk_s']:.1f} s to {row['best_site_id']}")
            if not np.isfinite(row["leg_s"]):
                best += " (no walk inside the room from every point to a door: see below)"
            lines.append(f"  {rid} {row['name']!s} (sector {row['sector']}, {p.deck_word} {row['deck']}): "
                         f"{int(row['residents'])} residents, best {best}")
    empty = len(bad) - len(bad_occ)
    if empty:
        lines.append(f"{empty:,} room(s) without residents are beyond reach too (corridors, stores, ...).")
    stuck = unwalkable_rooms(station, reach)
    if len(stuck):
        lines.append(f"{len(stuck):,} room(s) with doors have points with no walk inside the room to a door within "
                     f"{2 * p.reach_s:g} s (parts no door opens into, or too large): "
                     + ", ".join(f"{r.room_id} {r.name}".strip() for r in stuck.head(worst).itertuples())
                     + (f" and {len(stuck) - worst} more" if len(stuck) > worst else ""))
    return "\n".join(lines)
