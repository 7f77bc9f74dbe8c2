"""Estimated last arrival per assignment: what a pedestrian simulation of the plan should show.

The optimiser and the checker time every room from its FARTHEST point, charge its whole exit queue
``n / r`` and put each room's stream as one batch at the safe room's door (`planner.queues`): a
guarantee, on the safe side. This module estimates instead what happens when the residents stand
at random in their rooms (as in `planner simulate`), issue 17's "prediction against simulation"
(docs/verification.md). It never feeds the optimiser or the promise.

Per assignment row (room i, safe room j, scenario), with N_i the residents leaving room i in that
scenario and v = `walk_speed_m_s` (the simulated speed, not the design speed):

1. **In-room leg, order statistics.** Random positions in the room's placement area (the room
   shrunk by half a wall and an agent's clearance, as the simulator places agents) on a lattice;
   their walk to the room door the assignment's walk leaves by (the door of its critical path,
   `planner.network.paths.assignment_paths`; the nearest door where there is no path) -- a
   straight line in convex rooms, around the corners inside the room's polygon in the others
   (`planner.network.geometry.polygon_distances`) -- gives the distance distribution F_i. The k-th
   of N walkers is at its door after ``E[D_(k:N)] / v``, the expected k-th order statistic of N
   draws from F_i (exact for the lattice distribution: ``sum_j s_j (I_{F_j}(k, N-k+1) -
   I_{F_{j-1}}(k, N-k+1))``, I the regularised incomplete beta function). The rest of the walk is
   the plan's `walk_s` minus the path's time at that door (without a path: minus the farthest leg
   ``L_i / v``, L_i the largest walk of the room's boundary samples to the door, same metric), times
   `predict_walk_factor` (simulated agents keep clear of corners and of each other: their walks
   are a few per cent longer). A room whose assignments leave by different doors takes the door
   of its first row for its exit order (the optional part "doors" queues such a room per door
   instead; measured, not the default: see `INGREDIENTS`).
2. **Exit queue, discrete.** Person k of the room is through its door at
   ``max_{m<=k} (a_m + (k - m + c) / r_i)`` with a_m the order-statistic arrivals, r_i the room's
   exit flow (`queues.room_exit_flow`) and c = `predict_queue_lag` (0: the first person is not
   slowed, the k-th at most (k-1)/r later; 1: the fluid queue ``n / r``).
3. **Safe-room door, spread arrivals.** Each person reaches the safe room's entry door at its exit
   time plus the rest of the walk and queues there per (safe room, door, scenario) with the same
   discrete rule, every other room's people in the same queue (`queues.fluid_queue_departures` on
   unit batches, minus ``(1 - c) / r_e``), the door passing `predict_entry_flow_factor` times its
   design flow r_e (people entering an open room pass a door faster than people leaving one).
4. **A room split over safe rooms**: a row of n of the room's N walkers takes the ranks
   ``m (N + 1) / (n + 1)`` (m = 1..n) of the room's exit order, the expected ranks of n random
   ones.

5. **Corridor openings and stairs**: the delay the openings on each row's path add to its last
   walker (`planner.corridors.corridor_delays`: fluid queues where streams merge at corridor
   openings, rooms walked through and stairs), added to the row's estimate as computed there
   (they are built on the conservative batches; no factor fitted).

The estimate of a row is its last person's arrival (steps 1 to 4, plus `margin_s` when the plan
carries measured margins), never later than the conservative `queues.predicted_arrivals` (each
step is at most the conservative one; the result is clipped to it), plus the corridor delays of
step 5 (or the caller's `extra_s` instead), which the conservative time does not contain.
Sheltering in place: 0 s.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import shapely
from scipy.special import betainc

from planner.corridors import corridor_queues
from planner.files import read_npz, write_npz
from planner.network.cache import reach_key
from planner.network.paths import Paths, assignment_paths
from planner.network.geometry import polygon_distances
from planner.params import Parameters
from planner.queues import assignment_queues, door_flows, fluid_queue_departures, predicted_arrivals, room_exit_flow
from planner.station import Station

__all__ = ["PLACE_MARGIN_M", "QUANTILES", "DISTANCE_PARAMETERS", "room_distance_quantiles", "known_distance_quantiles",
           "distance_cache", "order_statistic_means", "exit_departures",
           "door_departures", "estimated_arrivals", "INGREDIENTS"]

PLACE_MARGIN_M = 0.05
"""Clearance (m) the simulator keeps between an agent's disc and the walls besides its radius
(`planner.simulate.settings`: _MARGIN_M + _SIMPLIFY_M; a test keeps the two equal)."""
QUANTILES = 64
"""Quantiles kept of each room's distance distribution."""
_LATTICE = 24
"""Lattice points per side of a room's bounding box (a second, finer pass for small placement areas)."""
_CONVEX_TOL = 0.999
"""Rooms with area / convex hull area at or above this are walked in straight lines."""


def _door_points(station: Station) -> pd.DataFrame:
    """One row per (room, door): room index, door_id, x, y of the door's midpoint (m)."""
    d = station.doors
    rooms = station.rooms["room_id"].astype(str).to_numpy()
    pos = pd.Series(np.arange(len(rooms)), index=rooms)
    pos = pos[~pos.index.duplicated()]
    g = d.geometry.to_numpy()
    mid = shapely.centroid(g)                     # a door leaf's midpoint (a point door: itself)
    x, y = shapely.get_x(mid), shapely.get_y(mid)
    parts = []
    for col in ("from_room", "to_room"):
        r = d[col].astype(object).where(d[col].notna(), None).map(pos)
        ok = r.notna().to_numpy()
        parts.append(pd.DataFrame({"room": r[ok].to_numpy(dtype=np.int64), "door_id": d["door_id"].astype(str)[ok]
                                   .to_numpy(), "x": x[ok], "y": y[ok]}))
    return pd.concat(parts, ignore_index=True)


def _lattice(polys: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cell-centred lattice points of each polygon's bounding box that lie inside it: (polygon index, x, y)."""
    b = shapely.bounds(polys)
    u = (np.arange(side) + 0.5) / side
    gx = b[:, 0, None, None] + (b[:, 2] - b[:, 0])[:, None, None] * u[None, None, :]
    gy = b[:, 1, None, None] + (b[:, 3] - b[:, 1])[:, None, None] * u[None, :, None]
    gx, gy = np.broadcast_arrays(gx, gy)
    idx = np.repeat(np.arange(len(polys)), side * side)
    x, y = gx.reshape(-1), gy.reshape(-1)
    inside = shapely.contains_xy(np.repeat(polys, side * side), x, y)
    return idx[inside], x[inside], y[inside]


def room_distance_quantiles(station: Station, room_idx: np.ndarray, params: Parameters,
                            quantiles: int = QUANTILES, clear_m: float | None = None,
                            door_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Distance distribution of random positions in rooms and their farthest leg.

    Parameters
    ----------
    station : Station
    room_idx : array of int
        Row positions in `station.rooms` of the rooms wanted.
    params : Parameters
        `sim_wall_m` and `sim_radius_m` set the placement area (the room shrunk by half a wall plus
        the radius and `PLACE_MARGIN_M`); `boundary_sample_m` the spacing of the boundary samples.
    quantiles : int
        Quantiles kept per room.
    clear_m : float, optional
        How far the placement area lies inside the room's outline (metres; default as the simulator).
    door_ids : array of str, optional
        Per entry of `room_idx`, the one door to walk to ("" = the nearest of the room's doors,
        the default for every entry); a door that is not the room's counts as "".

    Returns
    -------
    (q, far) : (len(room_idx), quantiles) array of metres, the distribution's quantiles at levels
        (j + 0.5) / quantiles (walk from a random position to the room's nearest door; the first and
        the last are the nearest and farthest lattice point, so that many walkers tend to the
        farthest position, not to a quantile below it), and the
        farthest leg per room (metres: the largest such walk over the room's boundary samples);
        nan for rooms without a door or a placement area.
    """
    room_idx = np.asarray(room_idx, dtype=np.int64)
    geom = station.rooms.geometry.to_numpy()[room_idx]
    k = len(room_idx)
    q = np.full((k, quantiles), np.nan)
    far = np.full(k, np.nan)
    if not k:
        return q, far
    want = pd.DataFrame({"room": room_idx, "loc": np.arange(k),
                         "want": np.full(k, "", dtype=object) if door_ids is None else np.asarray(door_ids, dtype=object)})
    doors = want.merge(_door_points(station), on="room", how="inner")
    hit = (doors["door_id"] == doors["want"]).groupby(doors["loc"]).transform("any")
    doors = doors[(doors["want"] == "") | ~hit | (doors["door_id"] == doors["want"])]
    clear = params.sim_wall_m / 2.0 + params.sim_radius_m + PLACE_MARGIN_M if clear_m is None else clear_m
    core = shapely.buffer(shapely.make_valid(geom), -clear, join_style="mitre") if clear > 0 else geom
    pi, px, py = _lattice(core, _LATTICE)
    few = np.bincount(pi, minlength=k) < 16
    if few.any():                               # small placement areas: a finer lattice
        fi, fx, fy = _lattice(core[few], 4 * _LATTICE)
        keep = ~few[pi]
        pi = np.r_[pi[keep], np.flatnonzero(few)[fi]]
        px, py = np.r_[px[keep], fx], np.r_[py[keep], fy]
    bnd = shapely.segmentize(shapely.boundary(geom), params.boundary_sample_m)
    bxy, bi = shapely.get_coordinates(bnd, return_index=True)
    hull = shapely.area(shapely.convex_hull(geom))
    convex = shapely.area(geom) >= _CONVEX_TOL * np.where(hull > 0, hull, 1.0)
    dist_p = _nearest_door(pi, px, py, doors, convex, geom)
    dist_b = _nearest_door(bi, bxy[:, 0], bxy[:, 1], doors, convex, geom)
    ok_b = np.isfinite(dist_b)
    far_s = pd.Series(dist_b[ok_b]).groupby(bi[ok_b]).max()
    far[far_s.index.to_numpy()] = far_s.to_numpy()
    ok = np.isfinite(dist_p)
    pi, dist_p = pi[ok], dist_p[ok]
    if len(pi):
        order = np.lexsort((dist_p, pi))
        pi, dist_p = pi[order], dist_p[order]
        cnt = np.bincount(pi, minlength=k)
        start = np.cumsum(cnt) - cnt
        levels = (np.arange(quantiles) + 0.5) / quantiles
        has = cnt > 0
        at = start[has, None] + np.minimum(cnt[has, None] - 1, np.floor(levels[None, :] * cnt[has, None]).astype(np.int64))
        q[has] = dist_p[at]
        q[has, 0] = dist_p[start[has]]
        q[has, -1] = dist_p[start[has] + cnt[has] - 1]
    return q, far


DISTANCE_PARAMETERS = ("sim_wall_m", "sim_radius_m", "boundary_sample_m")
"""The parameters `room_distance_quantiles` reads (tests/test_estimate.py checks that it reads no other)."""
_DISTANCE_CACHE = "distance-cache-1"
"""Version of the distance cache's layout and of `room_distance_quantiles`' method (another: computed anew)."""


def _distance_memo(station: Station) -> dict[tuple[int, str], tuple[np.ndarray, float]]:
    """(room position, door) -> (quantiles, farthest leg) of `room_distance_quantiles` at the station's
    parameters and defaults: shared by the station objects with the same rooms and doors tables and
    `DISTANCE_PARAMETERS` (`Station.derived`)."""
    return station.derived("distance quantiles", dict, depends=DISTANCE_PARAMETERS)


def known_distance_quantiles(station: Station, room_idx: np.ndarray, door_ids: np.ndarray
                             ) -> tuple[np.ndarray, np.ndarray]:
    """`room_distance_quantiles(station, room_idx, station.params, door_ids=door_ids)`, each (room, door)
    computed once (`_distance_memo`, which `distance_cache` fills from and writes to the cache folder):
    a room's quantiles do not depend on the other rooms asked with it."""
    memo = _distance_memo(station)
    keys = list(zip(np.asarray(room_idx, dtype=np.int64).tolist(), [str(d) for d in door_ids]))
    missing = list(dict.fromkeys(k for k in keys if k not in memo))
    if missing:
        q, far = room_distance_quantiles(station, np.array([r for r, _ in missing], dtype=np.int64), station.params,
                                         door_ids=np.array([d for _, d in missing], dtype=object))
        memo.update({k: (q[i], float(far[i])) for i, k in enumerate(missing)})
    if not keys:
        return np.full((0, QUANTILES), np.nan), np.full(0, np.nan)
    return np.vstack([memo[k][0] for k in keys]), np.array([memo[k][1] for k in keys], dtype=float)


def distance_cache(station: Station, cache_dir: str | Path | None) -> Callable[[], None]:
    """Fill the station's distance quantiles (`known_distance_quantiles`) from the cache folder `cache_dir`
    (the reach cache's: `.cache/reach` -> `.cache/distance`; None: no cache) and return the function that
    writes them back once a plan's estimate added some (1.6 s of Station Unity's what-if, which depends on
    the rooms, the doors and `DISTANCE_PARAMETERS` only). One file per rooms, doors and parameters,
    data only (no pickle); one that cannot be read or does not fit is ignored, one that cannot be written
    only costs time."""
    if cache_dir is None:
        return lambda: None
    p = station.params
    key = hashlib.sha256(repr((_DISTANCE_CACHE, reach_key(station, [], full=True), QUANTILES, _LATTICE,
                               PLACE_MARGIN_M, [repr(getattr(p, k)) for k in DISTANCE_PARAMETERS])).encode()).hexdigest()
    path = Path(cache_dir).parent / "distance" / f"{key[:24]}.npz"
    memo = _distance_memo(station)
    ids = station.rooms["room_id"].astype(str).to_numpy()
    pos = pd.Series(np.arange(len(ids)), index=ids)
    pos = pos[~pos.index.duplicated()]
    z = read_npz(path, _DISTANCE_CACHE, key, need=("room_id", "door_id", "q", "far"))   # None: computed anew
    if z is not None:
        rid, door, q, far = z["room_id"], z["door_id"], z["q"], z["far"]
        n = len(rid) if rid.ndim else -1
        if (q.shape == (n, QUANTILES) and rid.shape == door.shape == far.shape == (n,)
                and rid.dtype.kind == door.dtype.kind == "U" and q.dtype == far.dtype == np.float64):
            at = pos.reindex(rid).to_numpy(dtype=float)
            for i in np.flatnonzero(np.isfinite(at)):
                memo.setdefault((int(at[i]), str(door[i])), (q[i], float(far[i])))
    had = len(memo)

    def save() -> None:
        if len(memo) == had:
            return
        items = sorted(memo.items())
        arrays: dict[str, Any] = {"format": np.asarray(_DISTANCE_CACHE), "key": np.asarray(key),
                  "room_id": np.asarray([ids[r] for (r, _), _ in items], dtype=str),
                  "door_id": np.asarray([d for (_, d), _ in items], dtype=str),
                  "q": np.vstack([v[0] for _, v in items]).astype(np.float64),
                  "far": np.asarray([v[1] for _, v in items], dtype=np.float64)}
        write_npz(path, arrays)   # a cache that cannot be written is not an error
    return save


def _nearest_door(idx: np.ndarray, x: np.ndarray, y: np.ndarray, doors: pd.DataFrame, convex: np.ndarray,
                  geom: np.ndarray) -> np.ndarray:
    """Walk (m) from each point (room `idx` local index) to the nearest door of its room: straight in
    convex rooms, inside the polygon in the others (inf where no door is reached)."""
    out = np.full(len(idx), np.inf)
    if not len(idx) or not len(doors):
        return out
    dl = doors["loc"].to_numpy(dtype=np.int64)
    dx, dy = doors["x"].to_numpy(), doors["y"].to_numpy()
    order = np.argsort(dl, kind="stable")
    dl, dx, dy = dl[order], dx[order], dy[order]
    nroom = len(geom)
    dcnt = np.bincount(dl, minlength=nroom)
    dstart = np.cumsum(dcnt) - dcnt
    # convex rooms: every (point, door of its room) pair at once
    sel = np.flatnonzero(convex[idx] & (dcnt[idx] > 0))
    if len(sel):
        reps = dcnt[idx[sel]]
        pt = np.repeat(sel, reps)
        first = np.repeat(dstart[idx[sel]], reps)
        off = np.arange(len(pt)) - np.repeat(np.cumsum(reps) - reps, reps)
        dj = first + off
        dd = np.hypot(x[pt] - dx[dj], y[pt] - dy[dj])
        best = np.full(len(idx), np.inf)
        np.minimum.at(best, pt, dd)
        out[sel] = best[sel]
    # the others: walks around the corners inside the room (one call per room)
    rest = ~convex[idx] & (dcnt[idx] > 0)
    if rest.any():
        ri = idx[rest]
        pos = np.flatnonzero(rest)
        order_r = np.argsort(ri, kind="stable")
        ri, pos = ri[order_r], pos[order_r]
        bounds = np.flatnonzero(np.r_[True, ri[1:] != ri[:-1], True])
        for a, b in zip(bounds[:-1], bounds[1:]):
            r = int(ri[a])
            poly = geom[r]
            tgt = np.column_stack([dx[dstart[r]:dstart[r] + dcnt[r]], dy[dstart[r]:dstart[r] + dcnt[r]]])
            tgt = _onto(poly, tgt)
            pts = np.column_stack([x[pos[a:b]], y[pos[a:b]]])
            w = polygon_distances(poly, pts, tgt)
            out[pos[a:b]] = w.min(axis=1) if w.size else np.inf
    return out


def _onto(poly: shapely.Geometry, xy: np.ndarray) -> np.ndarray:
    """Door points moved onto the room's outline (a door's midpoint may lie a few centimetres off it)."""
    ring = shapely.boundary(poly)
    pts = shapely.points(xy)
    d = shapely.line_locate_point(ring, pts)
    on = shapely.line_interpolate_point(ring, d)
    return np.column_stack([shapely.get_x(on), shapely.get_y(on)])


def order_statistic_means(q: np.ndarray, n: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Expected k-th smallest of n draws from a distribution given by equal-weight quantiles.

    Parameters
    ----------
    q : (rows, Q) array
        Sorted quantiles (any unit) of each row's distribution, each of weight 1/Q.
    n, k : arrays of int, one per row
        Draws and rank (1 = smallest, n = largest; 1 <= k <= n).

    Returns
    -------
    array, one per row: ``sum_j q_j (I_{j/Q}(k, n-k+1) - I_{(j-1)/Q}(k, n-k+1))``.
    """
    q = np.asarray(q, dtype=float)
    if not len(q):
        return np.zeros(0)
    n = np.asarray(n, dtype=float)[:, None]
    k = np.asarray(k, dtype=float)[:, None]
    edges = np.arange(q.shape[1] + 1, dtype=float)[None, :] / q.shape[1]
    cdf = betainc(k, n - k + 1.0, edges)
    return (np.diff(cdf, axis=1) * q).sum(axis=1)


def exit_departures(ready_s: np.ndarray, group: np.ndarray, flow_pps: np.ndarray, lag: float) -> np.ndarray:
    """Discrete FIFO queue per group: when each person is through the door (seconds).

    `ready_s` sorted ascending within each group (persons at the door); person k leaves at
    ``max_{m<=k} (ready_m + (k - m + lag) / flow)``. Same order as the input.
    """
    t = np.asarray(ready_s, dtype=float)
    g = np.asarray(group, dtype=np.int64)
    r = np.asarray(flow_pps, dtype=float)
    if not len(t):
        return t.copy()
    start = np.r_[True, g[1:] != g[:-1]]
    rank = np.arange(len(t)) - np.maximum.accumulate(np.where(start, np.arange(len(t)), 0))
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(r > 0, 1.0 / np.where(r > 0, r, 1.0), np.inf)
        base = t - rank * inv
    best = pd.Series(base).groupby(g).cummax().to_numpy()
    return best + (rank + lag) * inv


def door_departures(key: np.ndarray, arrive_s: np.ndarray, flow_pps: np.ndarray, lag: float) -> np.ndarray:
    """Discrete FIFO queue per key (a door in one scenario) of single persons arriving at `arrive_s`
    (any order): when each is through (seconds), ``max_{m<=k} (arrive_m + (k - m + lag) / flow)`` over
    the arrivals m before person k (the fluid queue `queues.fluid_queue_departures` of unit batches
    minus ``(1 - lag) / flow``, never before the person arrives)."""
    t = np.asarray(arrive_s, dtype=float)
    f = np.asarray(flow_pps, dtype=float)
    if not len(t):
        return t.copy()
    with np.errstate(divide="ignore"):
        inv = np.where(f > 0, 1.0 / np.where(f > 0, f, 1.0), np.inf)
    fl = fluid_queue_departures(np.asarray(key, dtype=np.int64), t, np.ones(len(t)), f)
    return np.maximum(t, fl - (1.0 - lag) * inv)


INGREDIENTS = frozenset({"order", "exit", "spread", "corridors", "route"})
"""The estimate's parts (`estimated_arrivals`'s `parts`, for measuring what each adds): "order" the
in-room order statistics (without: everyone starts at the farthest point), "exit" the discrete exit
queue (without: the fluid queue, n / r for the last), "spread" the spread arrivals at the safe room's
door (without: a row's people arrive together with its last), "corridors" the corridor-opening and
stair delays (`planner.corridors.corridor_delays`), "route" the room door each row's walk leaves by
and the rest of its walk from the walk's path (`planner.network.paths`; without: the nearest door
and the plan's walk minus the room's farthest nearest-door leg), "doors" (with "route") a room whose
rows in a scenario leave by two or more doors queues per door, at that door's flow (without: one
queue for the room at its widest door's flow, in the order of its first row's door). "doors" is
not among the defaults (`INGREDIENTS`): measured against two simulated Station Unity plans
(docs/verification.md, "Per-door exit queues in the estimate") it brings more rows within 5 % or 2 s
but also more rows more than 5 s early."""


def estimated_arrivals(station: Station, assignments: pd.DataFrame, extra_s: np.ndarray | None = None,
                       conservative: np.ndarray | None = None, *, parts: frozenset[str] = INGREDIENTS,
                       paths: Paths | None = None) -> np.ndarray:
    """Estimated last arrival inside the safe room per assignment row (seconds; see the module docstring).

    Parameters
    ----------
    station : Station
    assignments : DataFrame
        plan.json assignment rows: room_id, safe_room_id, scenario, residents, walk_s (at
        `walk_speed_m_s`, reaction included, from the farthest point), door_id and margin_s optional.
    extra_s : array, optional
        Seconds to add per row for delays outside the model of steps 1-4, instead of the corridor
        delays (default: `planner.corridors.corridor_delays` when "corridors" is in `parts`, else 0).
    conservative : array, optional
        `queues.predicted_arrivals` of the same rows (computed when not given): the estimate is
        never later.
    parts : frozenset of str
        The ingredients used (`INGREDIENTS`; fewer only to measure what each adds).
    paths : Paths, optional
        `assignment_paths` of the same rows, in the same order, when the caller has them (the last
        corridor round's replay): not computed again.

    Returns
    -------
    array of seconds, one per row (0 for people sheltering in place).
    """
    p = station.params
    if not len(assignments):
        return np.zeros(0)
    qa = assignment_queues(station, assignments)
    cons = predicted_arrivals(station, assignments) if conservative is None else np.asarray(conservative, float)
    sip = qa["sip"].to_numpy()
    nrow = qa["n"].to_numpy(dtype=float)
    walking = ~sip & (nrow > 0)
    out = np.where(sip, 0.0, cons).astype(float)
    if not walking.any():
        return out
    w = qa[walking].reset_index(drop=True)
    rows = np.flatnonzero(walking)
    ids = station.rooms["room_id"].astype(str).to_numpy()
    pos = pd.Series(np.arange(len(ids)), index=ids)
    pos = pos[~pos.index.duplicated()]
    ridx = pos.reindex(w["room_id"].to_numpy()).to_numpy()
    known = np.isfinite(ridx)
    if paths is None and ((parts & {"route", "corridors"} and extra_s is None) or "route" in parts):
        paths = assignment_paths(station, assignments.rename(columns={"safe_room_id": "site_id"})
                                 [["room_id", "site_id"]].reset_index(drop=True))
    # one distance distribution per room (nearest door) or, with "route", per (room, door its walk leaves by)
    exit_door = (np.asarray(paths.exit_door, dtype=object)[walking] if "route" in parts and paths is not None
                 else np.full(len(w), "", dtype=object))
    ent = pd.DataFrame({"room": np.where(known, ridx, -1).astype(np.int64), "door": exit_door})
    ent_codes, ent_uniq = pd.factorize(ent["room"].astype(str) + "\x1f" + ent["door"].astype(str))
    first_of = np.unique(ent_codes, return_index=True)[1]
    uniq = ent["room"].to_numpy()[first_of]
    qt, far = known_distance_quantiles(station, np.maximum(uniq, 0), ent["door"].to_numpy()[first_of])
    qt[uniq < 0] = np.nan
    far[uniq < 0] = np.nan
    v = float(p.walk_speed_m_s)
    react = float(p.reaction_s)
    lag = float(p.predict_queue_lag)
    ui = ent_codes.astype(np.int64)
    usable = known & (ui >= 0)
    usable[usable] = np.isfinite(far[ui[usable]]) & np.isfinite(qt[ui[usable], -1])
    # the rest of the walk after the room's door (seconds), at the simulated speed
    walk = w["walk_s"].to_numpy(dtype=float)
    rest = np.where(usable, walk - react - np.where(usable, far[np.maximum(ui, 0)], 0.0) / v, np.nan)
    if "route" in parts and paths is not None:
        st0 = paths.steps[paths.steps["step"] == 0]
        t0 = np.full(len(assignments), np.nan)
        t0[st0["row"].to_numpy()] = st0["t_s"].to_numpy(dtype=float)
        t0w = t0[walking]
        rest = np.where(np.isfinite(t0w) & usable, walk - t0w, rest)
    rest = np.maximum(rest, 0.0) * float(p.predict_walk_factor)
    # persons leaving each room per scenario (with "doors": per exit door where the room's rows in that
    # scenario leave by two or more), and each row's persons with their ranks in that queue
    r_room = room_exit_flow(station).reindex(w["room_id"].to_numpy()).fillna(0.0).to_numpy(dtype=float)
    qdoor = np.full(len(w), "", dtype=object)
    if "doors" in parts and "route" in parts:
        ed = pd.Series(exit_door, dtype=object).fillna("").astype(str)
        rs = w["room_id"] + "\x1f" + w["scenario"]
        multi = ed.where(ed != "").groupby(rs.to_numpy()).transform("nunique").to_numpy() > 1
        sides = door_flows(station)
        fd = sides.drop_duplicates(["room_id", "door_id"]).set_index(["room_id", "door_id"])["flow_pps"]
        rd = fd.reindex(pd.MultiIndex.from_arrays([w["room_id"], ed])).to_numpy(dtype=float)
        per = multi & (ed.to_numpy() != "") & np.isfinite(rd)
        qdoor[per] = ed.to_numpy()[per]
        r_room = np.where(per, rd, r_room)
    room_key = w["room_id"] + "\x1f" + pd.Series(qdoor, index=w.index).astype(str) + "\x1f" + w["scenario"]
    n_room = w.groupby(room_key)["n"].transform("sum").to_numpy(dtype=float)
    n = w["n"].to_numpy(dtype=float).astype(np.int64)
    # the room's exit order: N order-statistic arrivals at its door, then the discrete exit queue
    rk, rfirst = np.unique(room_key.to_numpy(), return_index=True)
    rN = n_room[rfirst].astype(np.int64)
    rU = ui[rfirst]
    rok = usable[rfirst]
    p_room = np.repeat(np.arange(len(rk)), np.where(rok, rN, 0))
    p_rank = np.arange(len(p_room)) - np.repeat(np.cumsum(np.where(rok, rN, 0)) - np.where(rok, rN, 0),
                                                np.where(rok, rN, 0))
    dist = order_statistic_means(qt[rU[p_room]], rN[p_room], p_rank + 1) if "order" in parts else far[rU[p_room]]
    ready = react + dist / v
    dep = exit_departures(ready, p_room, r_room[rfirst][p_room], lag if "exit" in parts else 1.0)
    room_ptr = np.cumsum(np.where(rok, rN, 0)) - np.where(rok, rN, 0)
    # each row's persons at the expected ranks of n random ones among the room's N
    row_room = np.searchsorted(rk, room_key.to_numpy())
    ok_row = usable & rok[row_room] & (n > 0)
    reps = np.where(ok_row, n, 0)
    prow = np.repeat(np.arange(len(w)), reps)
    m = np.arange(len(prow)) - np.repeat(np.cumsum(reps) - reps, reps) + 1
    frac = m * (n_room[prow] + 1.0) / (n[prow] + 1.0)            # fractional rank, 1..N
    lo = np.clip(np.floor(frac).astype(np.int64), 1, rN[row_room[prow]]) - 1
    hi = np.minimum(lo + 1, rN[row_room[prow]] - 1)
    t = frac - 1.0 - lo
    base = room_ptr[row_room[prow]]
    dep_p = dep[base + lo] * (1.0 - np.clip(t, 0.0, 1.0)) + dep[base + hi] * np.clip(t, 0.0, 1.0)
    at_door = dep_p + rest[prow]
    if "spread" not in parts and len(prow):           # a row's people arrive together with its last
        together = np.full(len(w), -np.inf)
        np.maximum.at(together, prow, at_door)
        at_door = together[prow]
    # the safe room's door: every person of every row in one discrete queue per (safe room, door, scenario)
    key, _ = pd.factorize(w["safe_room_id"] + "\x1f" + w["door"].astype(str) + "\x1f" + w["scenario"])
    fe = float(p.predict_entry_flow_factor) * w["door_flow_pps"].to_numpy(dtype=float)
    inside = at_door
    if p.door_queue and len(prow):
        inside = door_departures(key[prow], at_door, fe[prow], lag)
    last = np.full(len(w), np.nan)
    if len(prow):
        np.fmax.at(last, prow, inside)
    if extra_s is None:
        extra_s = (corridor_queues(station, assignments.reset_index(drop=True), paths=paths).delay_s
                   if "corridors" in parts else np.zeros(len(assignments)))
    extra = np.nan_to_num(np.asarray(extra_s, dtype=float)[walking], nan=0.0, posinf=0.0)
    est = last + w["margin_s"].to_numpy(dtype=float)
    got = np.isfinite(est)
    out[rows[got]] = np.minimum(est[got], out[rows[got]])
    out[rows] += extra
    return out
