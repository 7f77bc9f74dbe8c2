"""The path of each assignment's walk: the door nodes it passes and when (issue 17, corridor flow).

For a (room, safe room) row the reach table's `walk_s` is ``reaction_s + max over the room's
boundary samples p of min over (room door d, safe-room door e) of (inside-walk(p, d) / v +
graph-time(d, e))`` (`planner.network.reach`). The walk that decides it is the one of the
*critical* sample (the arg max) through its best (d, e); its people are the room's last ones out,
so that walk is the one whose merging with other streams can make the room late. This module
finds that walk, vectorised:

- one scipy Dijkstra with predecessors from every door node of the safe rooms concerned (same
  graph and cut-off as the reach table, `build_graph`), in batches of `_BATCH_SOURCES` sources;
- per (row, room door, safe-room door) the kept sample walks (`WalkGraph.trip_*`); a room door
  reached through the room itself is dropped as in the reach table (it is never better);
- min over (d, e) per sample, max over samples: the critical sample, its room door d and entry
  door e, and its time (= the reach table's `walk_s`);
- the node sequence from d to e, read off the predecessors, with the time (seconds at
  `walk_speed_m_s`, reaction included, from the room's farthest point: the convention of
  `walk_s`) at which the walker reaches each node: ``reaction + inside-walk / v + g(d) - g(node)``
  where g is the graph time to e.

Rows that shelter in place (room = safe room, nothing to walk) have an empty path and time 0.
Rows whose walk is beyond the cut-off (twice the reach time) or whose room has no door get
no path and NaN.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse.csgraph import dijkstra

from planner.network.graph import WalkGraph, build_graph
from planner.network.reach import _first_min, _ragged
from planner.params import Parameters
from planner.station import Station

__all__ = ["Paths", "assignment_paths", "exit_doors", "walk_graph", "walk_cutoff_s", "EXIT_DOOR_PARAMETERS"]

_BATCH_SOURCES = 512
"""Dijkstra sources (safe-room door nodes) per batch: bounds the dense (sources x nodes) arrays."""


@dataclass
class Paths:
    """Walk paths of assignment rows (`assignment_paths`).

    - `steps`: one row per node passed, in walking order: ``row`` (position of the input row),
      ``step`` (0 = the room's own door), ``node`` (graph node), ``door_id``, ``vertical`` (the
      node is an end of a vertical link) and ``t_s`` (seconds from the room's farthest point,
      reaction included, at `walk_speed_m_s`, when the last walker of the room reaches it).
    - `walk_s`: per input row, the time at the path's end (the safe room's door; 0 sheltering in
      place; NaN without a path).
    - `exit_door`, `entry_door`: per input row, the room's door used and the safe room's door
      entered by ("" sheltering in place or without a path).
    """

    steps: pd.DataFrame
    walk_s: np.ndarray
    exit_door: np.ndarray
    entry_door: np.ndarray


GRAPH_PARAMETERS = ("walk_speed_m_s", "reach_s", "reaction_s", "boundary_sample_m", "stairs_traverse_s")
"""The parameters `build_graph` and `walk_cutoff_s` read (tests/test_network.py checks that no other one
changes the graph)."""


def walk_cutoff_s(params: Parameters) -> float:
    """The walking graph's cut-off, as the reach table's: seconds of walking (reaction excluded) up to
    twice the reach time, ``max(0, 2 x reach_s - reaction_s)``."""
    return max(0.0, 2.0 * float(params.reach_s) - float(params.reaction_s))


def walk_graph(station: Station) -> WalkGraph:
    """The walking graph with the reach table's cut-off (`walk_cutoff_s`, in metres at the walking speed),
    built once for a station's rooms and doors and the parameters it depends on (`GRAPH_PARAMETERS`;
    `Station.derived`: a what-if asked for it four times, on four station objects that differ in other
    parameters, about 1 s each on Station Unity). Read-only for its callers."""
    p = station.params
    return station.derived("walk graph", lambda: build_graph(station, cutoff_m=walk_cutoff_s(p) * p.walk_speed_m_s),
                           depends=GRAPH_PARAMETERS)


def assignment_paths(station: Station, rows: pd.DataFrame, graph: WalkGraph | None = None) -> Paths:
    """The critical walk of each (room_id, site_id) row: the door nodes it passes and when.

    Parameters
    ----------
    station : Station
        The station (rooms, doors, parameters).
    rows : pandas.DataFrame
        Columns room_id and site_id (or safe_room_id); other columns are ignored.
    graph : WalkGraph, optional
        `walk_graph(station)`, when the caller has it already.

    Returns
    -------
    Paths
        Steps per row and the end time, which equals the reach table's `walk_s` (seconds).
    """
    p = station.params
    v = float(p.walk_speed_m_s)
    react = float(p.reaction_s)
    glimit = walk_cutoff_s(p)
    wg = walk_graph(station) if graph is None else graph
    site_col = "site_id" if "site_id" in rows.columns else "safe_room_id"
    room = rows["room_id"].astype(str).to_numpy()
    site = rows[site_col].astype(str).to_numpy()
    n = len(rows)
    walk = np.full(n, np.nan)
    exit_door = np.full(n, "", dtype=object)
    entry_door = np.full(n, "", dtype=object)
    empty = pd.DataFrame({"row": np.zeros(0, np.int64), "step": np.zeros(0, np.int64),
                          "node": np.zeros(0, np.int64), "door_id": np.zeros(0, dtype=object),
                          "vertical": np.zeros(0, bool), "t_s": np.zeros(0)})
    if not n:
        return Paths(empty, walk, exit_door, entry_door)
    ridx = pd.Series(np.arange(len(wg.room_ids)), index=wg.room_ids)
    ridx = ridx[~ridx.index.duplicated()]
    r_i = ridx.reindex(room).to_numpy(dtype=float)
    s_i = ridx.reindex(site).to_numpy(dtype=float)
    sip = (room == site) & bool(p.shelter_in_place)
    walk[sip] = 0.0
    ok = ~sip & np.isfinite(r_i) & np.isfinite(s_i)
    # unique (room, site) pairs to solve
    pk = pd.DataFrame({"r": r_i[ok].astype(np.int64), "s": s_i[ok].astype(np.int64)})
    uniq = pk.drop_duplicates().reset_index(drop=True)
    row_pair = pd.MultiIndex.from_frame(uniq).get_indexer(pd.MultiIndex.from_frame(pk))
    nrooms = len(wg.room_ids)
    inc_ptr = np.searchsorted(wg.inc_room, np.arange(nrooms + 1))
    vert_node = np.zeros(len(wg.node_door), bool)
    vert_node[np.flatnonzero(pd.Series(wg.node_door).duplicated(keep=False).to_numpy())] = True
    res_walk = np.full(len(uniq), np.nan)
    res_exit = np.full(len(uniq), -1, np.int64)
    res_entry = np.full(len(uniq), -1, np.int64)
    paths: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []   # (pair, step, node, t)
    sites = np.unique(uniq["s"].to_numpy())
    # site -> its door nodes (sources)
    so, sk = _ragged(inc_ptr, sites)
    src_site, src_node = sites[so], wg.inc_node[sk]
    cuts = np.r_[0, np.flatnonzero(np.diff(src_site)) + 1, len(src_site)]
    start = 0
    while start < len(cuts) - 1:    # whole sites per batch
        stop = start + 1
        while stop < len(cuts) - 1 and cuts[stop + 1] - cuts[start] <= _BATCH_SOURCES:
            stop += 1
        b0, b1 = cuts[start], cuts[stop]
        _solve_batch(wg, uniq, inc_ptr, src_site[b0:b1], src_node[b0:b1], glimit, v, react,
                     res_walk, res_exit, res_entry, paths)
        start = stop
    walk[np.flatnonzero(ok)] = res_walk[row_pair]
    has = np.flatnonzero(ok)[res_exit[row_pair] >= 0]
    hp = row_pair[res_exit[row_pair] >= 0]
    exit_door[has] = wg.node_door[res_exit[hp]]
    entry_door[has] = wg.node_door[res_entry[hp]]
    if not paths:
        return Paths(empty, walk, exit_door, entry_door)
    pp = np.concatenate([a for a, _, _, _ in paths])
    ps = np.concatenate([b for _, b, _, _ in paths])
    pn = np.concatenate([c for _, _, c, _ in paths])
    pt = np.concatenate([d for _, _, _, d in paths])
    # expand pairs to input rows
    ok_rows = np.flatnonzero(ok)
    order = np.argsort(pp, kind="stable")
    pp, ps, pn, pt = pp[order], ps[order], pn[order], pt[order]
    ptr = np.searchsorted(pp, np.arange(len(uniq) + 1))
    o, k = _ragged(ptr, row_pair)
    steps = pd.DataFrame({"row": ok_rows[o], "step": ps[k], "node": pn[k], "door_id": wg.node_door[pn[k]],
                          "vertical": vert_node[pn[k]], "t_s": pt[k]})
    steps = steps.sort_values(["row", "step"], kind="stable").reset_index(drop=True)
    return Paths(steps, walk, exit_door, entry_door)


EXIT_DOOR_PARAMETERS = GRAPH_PARAMETERS + ("shelter_in_place",)
"""The parameters a pair's exit door depends on (`assignment_paths` reads these and no other: tests/test_network.py)."""


def exit_doors(station: Station, graph: WalkGraph | None = None, memo: bool = True
               ) -> Callable[[pd.DataFrame], np.ndarray]:
    """A function of rows (room_id, site_id) giving the room door each row's critical walk leaves by
    ("" sheltering in place or without a path; `assignment_paths`' `exit_door`), for
    `planner.queues.model_pairs`' per-door exit caps. The walking graph is built on first use.

    With `memo` (and the station's own walking graph, `walk_graph`) each (room, site) pair's door is
    found once and shared by every station object with the same rooms and doors tables and the same
    `EXIT_DOOR_PARAMETERS` (`Station.derived`; a what-if asked for the same pairs' doors five times: its
    model, the relocation bound, the slower walkers, ...); a pair's door does not depend on the other
    rows asked with it. `memo` False: computed for every call (the independent check)."""
    held: list[WalkGraph] = [graph] if graph is not None else []

    def doors(rows: pd.DataFrame) -> np.ndarray:
        if not len(rows):
            return np.zeros(0, dtype=object)
        if not held:
            held.append(walk_graph(station))
        if not memo or held[0] is not walk_graph(station):
            return assignment_paths(station, rows, graph=held[0]).exit_door
        known = station.derived("exit doors", _DoorMemo, depends=EXIT_DOOR_PARAMETERS)
        site_col = "site_id" if "site_id" in rows.columns else "safe_room_id"
        return known.doors(rows["room_id"].astype(str).to_numpy(dtype=object),
                           rows[site_col].astype(str).to_numpy(dtype=object),
                           lambda room, site: assignment_paths(station, pd.DataFrame({"room_id": room, "site_id": site}),
                                                               graph=held[0]).exit_door)
    return doors


class _DoorMemo:
    """`exit_doors`' memo: the exit door of each (room, site) pair asked before, as arrays. Every id is coded
    by its place in `ids` (the ids seen, in the order first seen), a pair by ``room code << 32 | site code``;
    `keys` are the known pairs' codes, sorted, `known` their doors (objects, as `assignment_paths` gives
    them) in the same order."""

    def __init__(self) -> None:
        self.ids = pd.Index(np.zeros(0, dtype=object), dtype=object)
        self.keys = np.zeros(0, dtype=np.int64)
        self.known = np.zeros(0, dtype=object)

    def _codes(self, values: np.ndarray) -> np.ndarray:
        at = self.ids.get_indexer(values)
        new = at < 0
        if new.any():
            self.ids = self.ids.append(pd.Index(pd.unique(values[new]), dtype=object))
            at[new] = self.ids.get_indexer(values[new])
        return at.astype(np.int64)

    def doors(self, room: np.ndarray, site: np.ndarray,
              find: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
        """The doors of the pairs (`room`, `site`) (object arrays of ids), `find(room, site)` asked for the
        pairs not known yet (each once, in the order first asked)."""
        key = (self._codes(room) << 32) | self._codes(site)
        at = np.searchsorted(self.keys, key)
        hit = at < len(self.keys)
        hit[hit] = self.keys[at[hit]] == key[hit]
        if not hit.all():
            miss = np.flatnonzero(~hit)
            _, first = np.unique(key[miss], return_index=True)
            new = miss[np.sort(first)]                 # each missing pair once, in the order first asked
            got = np.asarray(find(room[new], site[new]), dtype=object)
            keys = np.concatenate([self.keys, key[new]])
            order = np.argsort(keys, kind="stable")
            self.keys, self.known = keys[order], np.concatenate([self.known, got])[order]
            at = np.searchsorted(self.keys, key)
        return self.known[at]


def _solve_batch(wg: WalkGraph, uniq: pd.DataFrame, inc_ptr: np.ndarray, src_site: np.ndarray,
                 src_node: np.ndarray, glimit: float, v: float, react: float, res_walk: np.ndarray,
                 res_exit: np.ndarray, res_entry: np.ndarray,
                 paths: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]) -> None:
    """Critical walks and paths of the pairs whose site is among `src_site` (fills the `res_*` arrays
    and appends (pair, step, node, seconds) to `paths`)."""
    dist, pred = dijkstra(wg.graph, directed=True, indices=src_node, limit=glimit, return_predecessors=True)
    bsites = np.unique(src_site)
    sel = np.flatnonzero(np.isin(uniq["s"].to_numpy(), bsites))
    if not len(sel):
        return
    pr = uniq["r"].to_numpy()[sel]
    ps_ = uniq["s"].to_numpy()[sel]
    # (pair, room incidence)
    o1, inc = _ragged(inc_ptr, pr)
    # x (site source row)
    sptr = np.asarray(np.searchsorted(src_site, np.r_[bsites, bsites[-1] + 1]))
    spos = np.searchsorted(bsites, ps_[o1])
    cnt = sptr[spos + 1] - sptr[spos]
    o2 = np.repeat(np.arange(len(o1)), cnt)
    src = np.repeat(sptr[spos], cnt) + (np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt))
    pair = sel[o1[o2]]
    inc = inc[o2]
    node = wg.inc_node[inc]
    g = dist[src, node]
    keep = np.isfinite(g)
    # a room door reached through the room itself is never a better way out (reach table's rule)
    pm = pred[src, node]
    room = wg.inc_room[inc]
    has = keep & (pm >= 0)
    if has.any():
        w_in = wg.room_edge_s(room[has], pm[has], node[has])
        thr = np.zeros(len(g), bool)
        thr[has] = dist[src[has], pm[has]] + w_in <= g[has] + 1e-9
        keep &= ~thr
    pair, inc, src, g, room = pair[keep], inc[keep], src[keep], g[keep], room[keep]
    # x kept sample walks of the incidence
    o3, t = _ragged(wg.trip_ptr, inc)
    samp = wg.trip_sample[t]
    inside = wg.trip_w[t] / v
    val = inside + g[o3]
    ok = val <= glimit
    o3, samp, inside, val = o3[ok], samp[ok], inside[ok], val[ok]
    if not len(val):
        return
    nsamp = max(len(wg.sample_room), 1)
    skey = pair[o3].astype(np.int64) * nsamp + samp
    best = _first_min(skey, val)                      # per (pair, sample): best (door, entry)
    skey, val, o3b, inside = skey[best], val[best], o3[best], inside[best]
    bp = skey // nsamp
    starts = np.flatnonzero(np.r_[True, bp[1:] != bp[:-1]])
    count = np.diff(np.r_[starts, len(bp)])
    gmax = np.maximum.reduceat(val, starts)
    gid = np.repeat(np.arange(len(starts)), count)
    hit = np.flatnonzero(val == gmax[gid])
    at = hit[np.r_[True, gid[hit][1:] != gid[hit][:-1]]]   # first critical sample per pair
    cp = bp[starts]
    full = count == wg.room_nsamp[uniq["r"].to_numpy()[cp]]
    cp, at, gmax = cp[full], at[full], gmax[full]
    crit = o3b[at]
    res_walk[cp] = gmax + react
    d_node = wg.inc_node[inc[crit]]
    s_row = src[crit]
    res_exit[cp] = d_node
    res_entry[cp] = src_node[s_row]
    # trace predecessors from the room door towards the source (the safe room's door)
    cur = d_node.copy()
    base = react + inside[at] + dist[s_row, d_node]       # time at the source
    step = 0
    alive = np.arange(len(cp))
    while len(alive):
        paths.append((cp[alive], np.full(len(alive), step), cur[alive], base[alive] - dist[s_row[alive], cur[alive]]))
        nxt = pred[s_row[alive], cur[alive]]
        done = nxt < 0                                     # reached the source
        cur[alive[~done]] = nxt[~done]
        alive = alive[~done]
        step += 1
        if step > len(wg.node_door) + 1:                   # pragma: no cover - a predecessor cycle cannot happen
            raise RuntimeError("predecessor cycle in the walking graph")
