"""The walking graph: door-side nodes, in-room edges and boundary-sample walks per room (moved from `planner/network.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix, csr_matrix

from planner.station import Station
from planner.network.geometry import _CONVEX_TOL_M, _LEG_DOORS, _MAX_SAMPLES, _pareto_rows, _polygon_walks, _reflex_corners, _walk_outlines
from planner.network.parallel import _PARALLEL_MIN_ROOMS, _balanced_chunks, _fork_map, _reach_workers


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
    cutoff_m: float = float("nan")  # the cut-off it was built with (`build_graph`; metres)

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
                     room_leg_m=leg_m, inc_far_m=inc_far, room_extreme=ext, redge_key=redge_key, redge_s=redge_s,
                     cutoff_m=float(cutoff_m))

