"""In-room walks: reflex corners, visibility and the shortest walk inside one polygon (moved from `planner/network.py`; see the package docstring)."""

from __future__ import annotations


import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra



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

