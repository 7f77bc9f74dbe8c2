"""The reach table: shortest paths from each site's doors per plan tile, pass 1 and pass 2 (moved from `planner/network.py`)."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
from scipy.sparse.csgraph import dijkstra

from planner.station import Station
from planner.network.cache import _cache_path, _load_cache, _save_cache, reach_key
from planner.network.graph import WalkGraph, build_graph
from planner.network.parallel import _PARALLEL_MIN_TILE_CELLS, _balanced_chunks, _fork_map, _reach_workers
from planner.network.table import ReachTable


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



def reach_table(station: Station, sites: pd.DataFrame | None = None, cache: bool = True,
                cache_dir: str | Path | None = None, graph: WalkGraph | None = None) -> ReachTable:
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
    graph : WalkGraph, optional
        The station's walking graph when the caller has built it already (`planner.network.paths.walk_graph`,
        the same cut-off: twice the reach time); used only if its `cutoff_m` is the table's, else built here.

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
    table = _compute(station, site_ids, key, graph)
    if path is not None:
        _save_cache(path, table, full_key)
    return table


def _compute(station: Station, site_ids: list[str], key: str, graph: WalkGraph | None = None) -> ReachTable:  # noqa: C901  debt: issue 16 (complexity 15)
    p = station.params
    v = p.walk_speed_m_s
    react = p.reaction_s
    limit_s = 2.0 * p.reach_s                  # best times are tracked up to here (reaction included)
    glimit = max(0.0, limit_s - react)         # graph + room walk, seconds
    wg = graph if graph is not None and graph.cutoff_m == glimit * v else build_graph(station, cutoff_m=glimit * v)
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


