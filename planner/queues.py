"""Queue physics shared by the optimiser and the checker: door flows, exit queues, arrival times.

This module sits at the inputs level (it imports only `params` and `station`): the
optimiser's compilation (through `planner.pipeline`) and the independent checker both
take their formulas from here, so they agree on what "arrives within the reach time"
means, while each builds its own tables (the checker never sees the optimiser's rows).

What a room's residents' trip is made of (seconds; `walk_s` from a walking model at
`walk_speed_m_s`, reaction time included, from the room's farthest point)::

    w_ij   = reaction_s + (walk_ij - reaction_s) * walk_speed_m_s / design_speed_m_s
    exit_i = n_i / r_i                       the last of room i's n_i residents is out
    out_ij = w_ij + exit_i                   ... and at the safe room's door: <= reach_s
    b_ij   = w_ij + n_i * max(0, 1/r_i - 1/r_e)   the room's stream as one batch at door e

- `r_i`, the room's exit flow, is the flow of its widest door (persons/s), never the
  sum over its doors: a JuPedSim replay of Station Unity emptied multi-door rooms at
  0.49 to 0.71 of the summed flow (issue 17), i.e. about one door's worth; people
  leave through the door on their route.
- A room empties as a stream: its residents reach the safe room's door `e` (flow `r_e`)
  at rate `r_i` between `w_ij` and `out_ij`. For the fluid queue at door `e`, that stream
  may be replaced by a batch of all `n_i` at `b_ij` without ever finishing earlier: when
  `r_i <= r_e` the batch at ``out_ij - n_i / r_e`` drains exactly when the stream's last
  person arrives, when `r_i > r_e` the batch at `w_ij` is what the stream amounts to at a
  door slower than it (a proof is in docs/verification.md). Alone at its door the batch
  gives the exact finish ``w_ij + n_i * max(1/r_i, 1/r_e)``; merged with other streams
  it is on the safe side. (A room split over several safe rooms is counted with all of
  its residents in every stream: the model's batch is at most that much early for the
  part that goes elsewhere; the checker replays the same formula.)
- At the safe room, people queue per entry door (the reach table's `door_id`): the
  fluid queue of each door is replayed on its own arrivals, never on a flow summed
  over doors nobody on the route uses.

Door flow (DESIGN.md): `specific flow x (width - 2 x boundary layer)` persons/s, with
1.3 persons/s/m for doors and corridors and the stairs-up rate (0.88) for a vertical
link (IMO MSC.1/Circ.1533).
"""

from __future__ import annotations

from math import erf, sqrt
from typing import Any, Callable

import numpy as np
import pandas as pd
from scipy.special import ndtr

from planner.margins import pair_margin_s
from planner.params import Parameters
from planner.station import Station

ExitDoors = Callable[[pd.DataFrame], np.ndarray]
"""Given rows room_id, site_id: the room door each pair's walk leaves by ("" unknown), in row order."""

__all__ = ["multi_door_exits", "door_flows", "room_exit_flow", "exit_queue_s", "design_walk_s", "arrival_s", "batch_offset_s",
           "fluid_queue_finish", "model_pairs", "speed_share", "expected_shares", "expected_share_probabilities",
           "pair_share_probabilities", "site_queue_flow", "exit_streams", "exit_door_caps", "ExitDoors"]


def multi_door_exits(station: Station, doors: ExitDoors) -> ExitDoors:
    """`doors` (the exit door of each (room_id, site_id) row) asked only for the rows of rooms with two doors
    or more; "" for the others, whose residents leave by their one door: `model_pairs` and the checker's
    `check_arrivals` take a room's widest door for "", which is that door (the walk paths of three rooms
    in four are not followed; used by the planner and, on its own walking graph, by the checker)."""
    multi = door_flows(station).groupby("room_id")["door_id"].nunique()
    many = set(multi.index[multi.to_numpy() > 1])

    def exits(rows: pd.DataFrame) -> np.ndarray:
        out = np.full(len(rows), "", dtype=object)
        sel = np.flatnonzero(rows["room_id"].astype(str).isin(many).to_numpy())
        if len(sel):
            out[sel] = doors(rows.iloc[sel])
        return out
    return exits


def door_flows(station: Station) -> pd.DataFrame:
    """One row per door side: room_id, door_id, width_m, flow_pps, vertical.

    `flow_pps` (persons/s) = specific flow x (width - 2 x boundary layer), the
    stairs-up rate for vertical links (the slower direction: safe either way).
    """
    d = station.doors
    p = station.params
    if not len(d):
        return pd.DataFrame({"room_id": pd.Series(dtype=object), "door_id": pd.Series(dtype=object),
                             "width_m": pd.Series(dtype=float), "flow_pps": pd.Series(dtype=float),
                             "vertical": pd.Series(dtype=bool)})
    vertical = d["vertical"].to_numpy(dtype=bool)
    specific = np.where(vertical, p.stairs_flow_up_pps_m, p.door_specific_flow_pps_m)
    width = d["width_m"].to_numpy(dtype=float)
    flow = specific * np.maximum(0.0, width - 2.0 * p.door_boundary_layer_m)
    base = pd.DataFrame({"door_id": d["door_id"].astype(str).to_numpy(), "width_m": width, "flow_pps": flow,
                         "vertical": vertical})
    sides = pd.concat([base.assign(room_id=d["from_room"].to_numpy()),
                       base.assign(room_id=d["to_room"].to_numpy())], ignore_index=True)
    sides = sides[sides["room_id"].notna()].copy()
    sides["room_id"] = sides["room_id"].astype(str)
    return sides[["room_id", "door_id", "width_m", "flow_pps", "vertical"]].reset_index(drop=True)


def room_exit_flow(station: Station, sides: pd.DataFrame | None = None) -> pd.Series:
    """Exit flow of every room (index room_id, persons/s): the flow of its widest door; 0 without a door."""
    sides = door_flows(station) if sides is None else sides
    best = sides.groupby("room_id")["flow_pps"].max()
    rooms = station.rooms["room_id"].astype(str)
    return best.reindex(rooms.to_numpy()).fillna(0.0).rename("exit_flow_pps")


def _drain_s(persons: np.ndarray, flow_pps: np.ndarray) -> np.ndarray:
    """Seconds for `persons` to pass a door of `flow_pps` persons/s, elementwise: ``n / r``; 0 for nobody,
    inf for persons behind no door (flow 0)."""
    n = np.asarray(persons, dtype=float)
    r = np.asarray(flow_pps, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, np.where(r > 0, n / np.where(r > 0, r, 1.0), np.inf), 0.0)


def exit_queue_s(demand: pd.DataFrame, exit_flow: pd.Series) -> pd.DataFrame:
    """Seconds until the last resident of each room is through its own door, per scenario.

    `demand`: index room_id, one column of persons per scenario; `exit_flow`: persons/s
    per room_id. ``n / r``; 0 for an empty room; inf for residents behind no door.
    """
    n = demand.to_numpy(dtype=float)
    r = exit_flow.reindex(demand.index).fillna(0.0).to_numpy(dtype=float)[:, None]
    return pd.DataFrame(_drain_s(n, r), index=demand.index, columns=demand.columns)


def design_walk_s(walk_s: np.ndarray | pd.Series, params: Parameters) -> np.ndarray:
    """Walking times (seconds, reaction included) at `walk_speed_m_s` turned into times at the design
    walker's speed `params.design_speed_m_s` (the reaction time is not scaled; stair traverse times are,
    which is on the safe side)."""
    w = np.asarray(walk_s, dtype=float)
    react = float(params.reaction_s)
    scale = float(params.walk_speed_m_s) / float(params.design_speed_m_s)
    return np.where(w <= 0.0, w, react + np.maximum(0.0, w - react) * scale)


def arrival_s(walk_s: np.ndarray | pd.Series, exit_s: np.ndarray | pd.Series, params: Parameters,
              shelter_in_place: np.ndarray | None = None) -> np.ndarray:
    """Design-speed walk plus an offset (seconds): with `exit_s` the room's exit queue this is when the
    room's last resident reaches the safe room's door (`out_ij`); with `batch_offset_s` it is the time
    of the batch that stands for the room's stream in the door queue (`b_ij`).

    `shelter_in_place` (bool per row): people already inside arrive at 0 s and do not queue.
    Without `params.exit_queue` the offset is left out (the model before issue 17).
    """
    t = design_walk_s(walk_s, params)
    if params.exit_queue:
        t = t + np.asarray(exit_s, dtype=float)
    if shelter_in_place is not None:
        t = np.where(shelter_in_place, 0.0, t)
    return t


def batch_offset_s(persons: np.ndarray, room_flow_pps: np.ndarray, door_flow_pps: np.ndarray) -> np.ndarray:
    """``n * max(0, 1/r_room - 1/r_door)`` seconds: how much later than its first walker a room's stream of
    `persons` may be put as one batch at a safe-room door without the door's queue finishing earlier
    (0 for an empty room or a door slower than the room's; inf for residents behind no door)."""
    n = np.asarray(persons, dtype=float)
    ri = np.asarray(room_flow_pps, dtype=float)
    rj = np.asarray(door_flow_pps, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_i = np.where(ri > 0, 1.0 / np.where(ri > 0, ri, 1.0), np.inf)
        inv_j = np.where(rj > 0, 1.0 / np.where(rj > 0, rj, 1.0), np.inf)
        off = n * np.maximum(0.0, inv_i - inv_j)
    return np.where(n > 0, np.nan_to_num(off, nan=0.0, posinf=np.inf), 0.0)


def fluid_queue_finish(key: np.ndarray, arrive_s: np.ndarray, persons: np.ndarray, flow_pps: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fluid queues replayed per key (e.g. one per (door, scenario)): when is the last person through?

    Each row is a batch of `persons` arriving at `arrive_s` (seconds) at the queue `key`
    (integer codes) whose door passes `flow_pps` persons/s (the same for every row of a key).
    For a fluid queue the last person is through at ``max over arrival times tau of
    tau + (persons arriving at or after tau) / flow``.

    Returns (keys, finish time in seconds, the arrival time tau that decides it), one entry per
    distinct key (inf when the door passes no one and someone arrives).
    """
    key = np.asarray(key, dtype=np.int64)
    t = np.asarray(arrive_s, dtype=float)
    n = np.asarray(persons, dtype=float)
    r = np.asarray(flow_pps, dtype=float)
    if not len(key):
        return key, np.zeros(0), np.zeros(0)
    order = np.lexsort((-t, key))                  # per key, latest arrivals first
    k, t, n, r = key[order], t[order], n[order], r[order]
    start = np.r_[True, k[1:] != k[:-1]]
    seg = np.cumsum(start) - 1
    cum = np.cumsum(n)
    after = cum - np.r_[0.0, cum][np.flatnonzero(start)][seg]  # persons arriving at or after t (descending)
    with np.errstate(divide="ignore", invalid="ignore"):
        fin = np.where(r > 0, t + after / np.where(r > 0, r, 1.0), np.where(after > 0, np.inf, t))
    nseg = int(seg[-1]) + 1
    best = np.full(nseg, -np.inf)
    np.maximum.at(best, seg, fin)
    is_best = fin >= best[seg]
    first = np.full(nseg, -1, dtype=np.int64)
    idx = np.flatnonzero(is_best)
    first[seg[idx[::-1]]] = idx[::-1]          # the first (latest arrival) row reaching the maximum
    return k[start], best, t[first]


def model_pairs(pairs: pd.DataFrame, demand: pd.DataFrame, sides: pd.DataFrame, params: Parameters,
                margins: pd.DataFrame | None = None, capacity: pd.Series | None = None,
                exit_doors: ExitDoors | None = None) -> pd.DataFrame:
    """The reach pairs as the optimiser times them (one time per pair for every scenario, from the
    room's busiest scenario: on the safe side for the others).

    `margins` (`planner.margins.margin_table`, e.g. measured by `planner propose --verify`): each
    pair's seconds (`margin_s`) are added to `out_ij` and to the batch time `b_ij` before the pairs
    beyond the reach time are dropped (a stricter requirement; the checker adds the same).

    `pairs`: room_id, site_id, walk_s, door_id (the reach table's); `sides`: `door_flows`;
    `capacity`: persons per site_id (optional; used to pick the exit cap below).
    Pairs whose last walker is out of the room and at the safe room's door after the reach time
    (`out_ij`) are dropped; `walk_s` becomes the batch time `b_ij` of the room's stream at the
    entry door (what the door-queue rows bin); shelter in place (the room's own pair at 0 s)
    stays at 0 s. Also returns `walk_raw_s` (the input walk), `out_s` (`out_ij`), `exit_s` and
    `exit_cap` (persons), and `alone_s`: seconds from the room's first walker at the safe room's door
    until its last is through that door with no one else about, ``max(exit_s, n / r_entry)``
    (`pair_share_probabilities`), and `entry_flow_pps` (r_entry, that door's flow).

    **Exit cap.** A room whose busiest scenario cannot leave in time towards some safe room (a
    galley of 99 behind a door of 1.04 persons/s needs 95 s) is not given up: only the first out
    can be in time. The room gets a walk limit `tau` (s, design speed) among its pairs' walks and
    an exit cap ``K = floor(r x (reach - tau))`` persons: it keeps the pairs within `tau`, timed
    with K leaving (K / r <= reach - tau, so each of them is in time), and at most K of its
    residents leave towards a safe room in any scenario (`room_bound` and `short_of_time` count the
    rest as short of time; they go somewhere anyway, `planner.latecomers`). `tau` is the walk of
    the k-th nearest pair for the k that maximises ``min(K, places within tau)`` (capacity; without
    it, the nearest pair). Rooms whose residents all leave in time have `exit_cap` = inf.

    **Per exit door** (issue 17). With `exit_doors` (rows room_id, site_id -> the room door each
    pair's walk leaves by, "" unknown; `planner.network.paths.assignment_paths`' `exit_door`), an
    exit-cap room's pairs are grouped by the door they leave by (unknown: its widest door), and each
    door d gets its own walk limit `tau_d` and cap ``K_d = floor(r_d x (reach - tau_d))`` at its own
    flow `r_d`: its pairs are timed with ``min(n, K_d)`` leaving through d at `r_d` (never a flow
    summed over doors). Returns `exit_door_id` (the door, "" for rooms timed at their widest door
    as before) and `exit_flow_pps` (the flow the pair's exit queue is timed at). At most `K_d` of the
    room's residents may use the pairs of door d (`Problem.exit_rows`; the checker counts them per door)
    and at most ``sum_d K_d`` leave in time (`room_bound`). Without `exit_doors` every pair of an
    exit-cap room leaves by its widest door (the model before per-door caps).
    """
    pr = pairs.copy()
    pr["room_id"] = pr["room_id"].astype(str)
    pr["site_id"] = pr["site_id"].astype(str)
    pr["door_id"] = pr["door_id"].fillna("").astype(str) if "door_id" in pr.columns else ""
    walk = pr["walk_s"].to_numpy(dtype=float)
    sip = (pr["room_id"].to_numpy() == pr["site_id"].to_numpy()) & (walk <= 1e-9)
    n_max = demand.max(axis=1) if demand.shape[1] else pd.Series(0, index=demand.index)
    n = n_max.reindex(pr["room_id"].to_numpy()).fillna(0).to_numpy(dtype=float)
    widest = sides.groupby("room_id")["flow_pps"].max()
    r_room = widest.reindex(pr["room_id"].to_numpy()).fillna(0.0).to_numpy(dtype=float)
    flow = sides.drop_duplicates(["room_id", "door_id"]).set_index(["room_id", "door_id"])["flow_pps"]
    r_door = flow.reindex(pd.MultiIndex.from_arrays([pr["site_id"], pr["door_id"]])).to_numpy(dtype=float).copy()
    unknown = ~np.isfinite(r_door)
    r_door[unknown] = widest.reindex(pr["site_id"].to_numpy()[unknown]).fillna(0.0).to_numpy()
    T = float(params.reach_s)
    extra = np.where(sip, 0.0, pair_margin_s(margins, pr["room_id"].to_numpy(), pr["site_id"].to_numpy()))
    dw = arrival_s(walk, np.zeros(len(walk)), params, shelter_in_place=sip) + extra  # design walk + margin
    widest_door = sides.sort_values("flow_pps", kind="stable").drop_duplicates("room_id", keep="last") \
        .set_index("room_id")["door_id"]
    cap_k, exit_door, r_exit = _exit_caps(pr["room_id"].to_numpy(), pr["site_id"].to_numpy(), dw, n, r_room, sip, T,
                                          params, capacity, flow, widest_door, exit_doors)
    limited = np.isfinite(cap_k)
    r_room = np.where(limited, r_exit, r_room)
    n_eff = np.where(limited, np.minimum(n, cap_k), n)
    exit_s = _drain_s(n_eff, r_room)
    pr["walk_raw_s"] = walk
    pr["exit_s"] = np.where(sip, 0.0, exit_s)
    pr["margin_s"] = extra
    pr["out_s"] = arrival_s(walk, exit_s, params, shelter_in_place=sip) + extra
    pr["walk_s"] = arrival_s(walk, batch_offset_s(n_eff, r_room, r_door), params, shelter_in_place=sip) + extra
    pr["exit_cap"] = cap_k
    pr["exit_door_id"] = exit_door
    pr["exit_flow_pps"] = r_room
    pr["alone_s"] = np.where(sip, 0.0, np.maximum(pr["exit_s"].to_numpy(), _drain_s(n_eff, r_door)))
    pr["entry_flow_pps"] = r_door
    keep = (pr["out_s"].to_numpy() <= T + 1e-7) & (sip | ~limited | (n_eff > 0) | (n == 0))
    return pr[keep].reset_index(drop=True)


def exit_door_caps(timed: pd.DataFrame, rooms: pd.Index | list[str]) -> dict[str, list[tuple[str, float, int]]]:
    """Per room of `rooms` timed per exit door (`model_pairs`' exit_door_id, exit_flow_pps, exit_cap):
    its exit doors as (door_id, flow in persons/s, exit cap K_d in persons), sorted by door."""
    if "exit_door_id" not in timed.columns or not len(rooms):
        return {}
    t = timed[timed["room_id"].astype(str).isin([str(r) for r in rooms])
              & (timed["exit_door_id"].fillna("").astype(str) != "")
              & np.isfinite(timed["exit_cap"].to_numpy(dtype=float))]
    g = t.groupby(["room_id", "exit_door_id"], sort=True).agg(flow=("exit_flow_pps", "first"), k=("exit_cap", "min"))
    out: dict[str, list[tuple[str, float, int]]] = {}
    for (rid, door), r in g.iterrows():
        out.setdefault(str(rid), []).append((str(door), float(r["flow"]), int(r["k"])))
    return out


def _exit_caps(room: np.ndarray, site: np.ndarray, dw: np.ndarray, n: np.ndarray, r: np.ndarray, sip: np.ndarray,
               T: float, params: Parameters, capacity: pd.Series | None, flow: pd.Series, widest_door: pd.Series,
               exit_doors: ExitDoors | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pair: its exit cap K (persons; inf where the room's busiest scenario leaves in time towards
    every pair of it), the room door it is capped at ("" when not capped) and that door's flow
    (persons/s; `r` when not capped). See `model_pairs`."""
    out = np.full(len(room), np.inf)
    door = np.full(len(room), "", dtype=object)
    r_out = np.asarray(r, dtype=float).copy()
    if not params.exit_queue or not len(room):
        return out, door, r_out
    ex = _drain_s(n, r)
    late = ~sip & (dw + ex > T + 1e-7) & (dw <= T + 1e-7)
    if not late.any():
        return out, door, r_out
    hit = pd.Series(room).isin(set(room[late])).to_numpy()      # hashed: np.isin on strings is quadratic
    sel = np.flatnonzero(hit & ~sip & (dw <= T + 1e-7))
    wd = widest_door.reindex(room[sel]).fillna("").astype(str).to_numpy()
    if exit_doors is not None and len(sel):
        got = np.asarray(exit_doors(pd.DataFrame({"room_id": room[sel], "site_id": site[sel]})), dtype=object)
        d = np.where(pd.isna(got) | (got.astype(str) == ""), wd, got.astype(str))
    else:
        d = wd
    rd = flow.reindex(pd.MultiIndex.from_arrays([room[sel], d])).to_numpy(dtype=float)
    rd = np.where(np.isfinite(rd), rd, r[sel])            # a door not of the room: its widest door's flow
    cap = (capacity.reindex(site[sel]).fillna(0).to_numpy(dtype=float) if capacity is not None
           else np.full(len(sel), np.inf))
    # per (room, door): its pairs by walk (ties in input order), the places of the safe rooms within each
    # walk, and the pair whose walk limit lets the most in (K and places), the nearest of equals (integer
    # codes, not the strings: the same order within each (room, door))
    rc, dc = pd.factorize(room[sel])[0], pd.factorize(d)[0]
    order = np.lexsort((dw[sel], rc * (int(dc.max(initial=0)) + 1) + dc))
    key = (rc * (int(dc.max(initial=0)) + 1) + dc)[order]
    g = np.cumsum(np.r_[True, key[1:] != key[:-1]]) - 1 if len(key) else key
    w_s = dw[sel][order]
    k = np.minimum(np.floor(rd[order] * np.maximum(0.0, T - w_s) + 1e-6), n[sel][order])
    if capacity is not None:
        value = np.minimum(k, pd.Series(cap[order]).groupby(g, sort=False).cumsum().to_numpy())
    else:
        value = -w_s
    pick = np.lexsort((np.arange(len(g)), w_s, -value, g))
    first = pick[np.r_[True, g[pick][1:] != g[pick][:-1]]] if len(g) else pick
    k_group = np.empty(len(first))
    k_group[g[first]] = k[first]
    res = np.empty(len(sel))
    res[order] = k_group[g]
    out[sel] = res
    door[sel] = d
    r_out[sel] = rd
    return out, door, r_out


def site_queue_flow(pairs: pd.DataFrame, sides: pd.DataFrame, site_ids: pd.Index) -> pd.Series:
    """Door flow (persons/s) the optimiser's queue rows give each site: the smallest flow among the
    doors its pairs enter by (sites without such a door: their widest door).

    The optimiser keeps one queue per site; people queue per door. Bounding every arrival by the
    slowest door used is exact for a site fed through one door and on the safe side otherwise
    (never the sum over doors, which the simulation showed people do not use).
    """
    site_ids = pd.Index(site_ids).astype(str)
    flow = sides.drop_duplicates(["room_id", "door_id"]).set_index(["room_id", "door_id"])["flow_pps"]
    used = pairs.loc[pairs["door_id"].astype(str) != "", ["site_id", "door_id"]].astype(str).drop_duplicates()
    f = flow.reindex(pd.MultiIndex.from_arrays([used["site_id"], used["door_id"]])).to_numpy()
    used = used.assign(flow=f)
    slowest = used.dropna().groupby("site_id")["flow"].min()
    widest = sides.groupby("room_id")["flow_pps"].max()
    out = slowest.reindex(site_ids)
    return out.fillna(widest.reindex(site_ids)).fillna(0.0).rename("door_flow_pps")


def promise_margin(walk_s: np.ndarray, exit_s: np.ndarray, offset_s: np.ndarray, persons: np.ndarray,
                   queue_key: np.ndarray, flow_pps: np.ndarray, params: Parameters,
                   sd_m_s: float | None = None) -> dict[str, float]:
    """How much slack a plan's assignments leave: the slowest walking speed and the longest reaction
    time for which every room is out and every door queue empties within the reach time.

    Per assignment row (people walking, not sheltering in place): `walk_s` at `walk_speed_m_s`
    (reaction included), `exit_s` the queue at the room's own door, `offset_s` its batch offset
    (`batch_offset_s`), `persons`, `queue_key` (integer code of the safe-room door and scenario the
    row queues at) and that door's `flow_pps`. Walk at speed v and reaction R:
    ``R + (walk - reaction_s) * walk_speed / v``; then ``+ exit <= reach`` and the fluid queue of each
    door fed by the batches at ``+ offset`` (`fluid_queue_finish`) must empty by the reach time.
    Bisection on v (reaction at `params.reaction_s`) and on R (speed at `params.design_speed_m_s`).

    Returns slowest_speed_m_s, longest_reaction_s and, from a normal distribution of walking speeds
    with mean `walk_speed_m_s` and sd `sd_m_s` (default `params.walk_speed_sd_m_s`), the share of
    walkers at least that fast (`share_fast_enough`); also the design speed, reaction and sd used.
    """
    w = np.asarray(walk_s, dtype=float)
    e = np.asarray(exit_s, dtype=float)
    o = np.asarray(offset_s, dtype=float)
    T = float(params.reach_s)
    v0 = float(params.walk_speed_m_s)
    r0 = float(params.reaction_s)
    moving = np.maximum(0.0, w - r0)
    use_exit = bool(params.exit_queue)

    def worst(v: float, react: float) -> float:
        if not len(w):
            return 0.0
        t = react + moving * v0 / v
        last = float((t + e).max()) if use_exit else float(t.max())
        if not params.door_queue:
            return last
        _, fin, _ = fluid_queue_finish(queue_key, t + o if use_exit else t, persons, flow_pps)
        return float(max(last, fin.max()))

    def bisect(ok: Callable[[float], bool], lo: float, hi: float, want_low: bool) -> float:
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            if ok(mid) == want_low:
                hi = mid
            else:
                lo = mid
        return hi if want_low else lo

    fast = 5.0 * v0
    if worst(fast, r0) > T + 1e-9:
        slowest = float("inf")
    elif worst(v0 * 1e-3, r0) <= T + 1e-9:
        slowest = 0.0
    else:
        slowest = bisect(lambda v: worst(v, r0) <= T + 1e-9, v0 * 1e-3, fast, True)
    vd = float(params.design_speed_m_s)
    longest = float("-inf") if worst(vd, 0.0) > T + 1e-9 else bisect(
        lambda r: worst(vd, r) <= T + 1e-9, 0.0, T, False)
    sd = float(params.walk_speed_sd_m_s if sd_m_s is None else sd_m_s)
    if not np.isfinite(slowest):
        share = 0.0
    elif sd > 0:
        share = 0.5 * (1.0 - erf((slowest - v0) / (sd * sqrt(2.0))))
    else:
        share = 1.0 if slowest <= v0 else 0.0
    return {"slowest_speed_m_s": slowest, "longest_reaction_s": longest, "share_fast_enough": share,
            "design_speed_m_s": vd, "reaction_s": r0, "mean_speed_m_s": v0, "speed_sd_m_s": sd}


def exit_streams(room: np.ndarray, scenario: np.ndarray, residents: np.ndarray, sip: np.ndarray, sides: pd.DataFrame,
                 exit_door: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The queue at each assignment row's own room door: (persons in it, its flow in persons/s, seconds
    until its last person is out, the door: "" for the widest-door queue), one entry per row.

    By default the room's residents leaving it in the row's scenario (not sheltering in place) queue at
    the flow of its widest door (`room_exit_flow`). Where `exit_door` names the room door the row's walk
    leaves by and it is sooner, the queue is the room's residents leaving *by that door* in that scenario
    at that door's flow: each door its own queue, never a flow summed over doors (issue 17). Both are
    ways the optimiser times a room (`model_pairs`: the widest door for rooms that leave in time, per
    door for exit-cap rooms), so a checker taking the sooner is never stricter than the model's promise.
    0 s sheltering in place or for an empty queue; inf behind no door."""
    room = np.asarray(room).astype(str)
    scen = np.asarray(scenario).astype(str)
    n = np.asarray(residents, dtype=float)
    walk_n = np.where(sip, 0.0, n)
    k = pd.DataFrame({"r": room, "s": scen, "n": walk_n})
    n_room = k.groupby(["r", "s"], sort=False)["n"].transform("sum").to_numpy(dtype=float)
    r_room = sides.groupby("room_id")["flow_pps"].max().reindex(room).fillna(0.0).to_numpy(dtype=float)
    used = np.full(len(room), "", dtype=object)
    ex = _drain_s(n_room, r_room)
    if exit_door is not None and len(room):
        ed = np.asarray(exit_door, dtype=object).astype(str)
        flow = sides.drop_duplicates(["room_id", "door_id"]).set_index(["room_id", "door_id"])["flow_pps"]
        rd = flow.reindex(pd.MultiIndex.from_arrays([room, ed])).to_numpy(dtype=float)
        known = (ed != "") & np.isfinite(rd) & ~np.asarray(sip, dtype=bool)
        if known.any():
            kd = pd.DataFrame({"r": room, "d": ed, "s": scen, "n": np.where(known, walk_n, 0.0)})
            n_door = kd.groupby(["r", "d", "s"], sort=False)["n"].transform("sum").to_numpy(dtype=float)
            ex_d = _drain_s(n_door, rd)
            use = known & (ex_d < ex - 1e-12)
            ex = np.where(use, ex_d, ex)
            n_room = np.where(use, n_door, n_room)
            r_room = np.where(use, rd, r_room)
            used[use] = ed[use]
    sip_ = np.asarray(sip, dtype=bool)
    return np.where(sip_, 0.0, n_room), r_room, np.where(sip_, 0.0, ex), used


def assignment_queues(station: Station, assignments: pd.DataFrame) -> pd.DataFrame:
    """Per assignment row (room_id, safe_room_id, scenario, residents, walk_s, door_id optional): the
    queue at the room's own door in that scenario (`exit_s`: people of the room leaving it in that
    scenario over its exit flow), the batch offset of its stream at the safe room's door (`offset_s`,
    `batch_offset_s` with those people), whether it shelters in place (`sip`), the safe-room door it
    queues at (`door`, the safe room's widest door when unknown) and that door's flow (`door_flow_pps`),
    and the seconds of measured margin added to its arrival (`margin_s`: the input's column of that name,
    else 0; `planner.margins`).

    Own door (issue 17): the room's residents leaving it over the flow of its widest door; or, where the
    input has `exit_door_id` (the room door the row's walk leaves by) and it is sooner, the room's
    residents leaving *by that door* in that scenario over that door's flow (each door its own queue,
    never a flow summed over doors). Also returns the door used (`exit_by`, "" for the widest-door
    queue), the persons in that queue (`exit_persons`) and its flow (`exit_flow_pps`)."""
    a = assignments.copy()
    for c in ("room_id", "safe_room_id", "scenario"):
        a[c] = a[c].astype(str)
    if "door_id" not in a.columns:
        a["door_id"] = ""
    a["door_id"] = a["door_id"].fillna("").astype(str)
    n = a["residents"].to_numpy(dtype=float)
    sip = (a["room_id"] == a["safe_room_id"]).to_numpy() & (a["walk_s"].to_numpy(dtype=float) <= 1e-9)
    sides = door_flows(station)
    flow = sides.drop_duplicates(["room_id", "door_id"]).set_index(["room_id", "door_id"])["flow_pps"]
    widest = sides.sort_values("flow_pps").drop_duplicates("room_id", keep="last").set_index("room_id")
    f = flow.reindex(pd.MultiIndex.from_arrays([a["safe_room_id"], a["door_id"]])).to_numpy(dtype=float).copy()
    unknown = ~np.isfinite(f)
    door = a["door_id"].to_numpy(dtype=object).copy()
    door[unknown] = widest["door_id"].reindex(a["safe_room_id"].to_numpy()[unknown]).fillna("").to_numpy()
    f[unknown] = widest["flow_pps"].reindex(a["safe_room_id"].to_numpy()[unknown]).fillna(0.0).to_numpy()
    ed = a["exit_door_id"].fillna("").astype(str).to_numpy() if "exit_door_id" in a.columns else None
    n_room, r_room, ex, exit_door = exit_streams(a["room_id"].to_numpy(), a["scenario"].to_numpy(), n, sip, sides, ed)
    off = batch_offset_s(n_room, r_room, f)
    extra = pd.to_numeric(a["margin_s"], errors="coerce").fillna(0.0).to_numpy(dtype=float) \
        if "margin_s" in a.columns else np.zeros(len(a))
    return a.assign(n=n, exit_s=np.where(sip, 0.0, ex), offset_s=np.where(sip, 0.0, off), sip=sip, door=door,
                    door_flow_pps=f, margin_s=np.where(sip, 0.0, extra), exit_by=exit_door,
                    exit_persons=np.where(sip, 0.0, n_room), exit_flow_pps=r_room)


def promise_of_plan(station: Station, assignments: pd.DataFrame) -> dict[str, Any]:
    """`promise_margin` of a plan's assignments (plan.json rows as a DataFrame), plus
    `expected_share` per scenario: the share of all residents (sheltering in place included) expected
    in their safe room in time if each room's walkers move at their own speed drawn from
    N(walk_speed_m_s, walk_speed_sd_m_s): each assignment counts with the probability that its
    walkers are at least as fast as its critical speed (`critical_speeds`), the queues of the others
    kept as the plan predicts (`expected_share_probabilities`)."""
    p = station.params
    if not len(assignments):
        return promise_margin(np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0, np.int64),
                              np.zeros(0), p) | {"expected_share": {}}
    q = assignment_queues(station, assignments)
    walking = ~q["sip"].to_numpy() & (q["n"].to_numpy() > 0)
    w = q[walking]
    key, _ = pd.factorize(w["safe_room_id"] + "\x1f" + w["door"].astype(str) + "\x1f" + w["scenario"])
    m = w["margin_s"].to_numpy()   # measured margins: seconds on top of the exit and the batch
    out: dict[str, Any] = promise_margin(w["walk_s"].to_numpy(dtype=float), w["exit_s"].to_numpy() + m,
                                         w["offset_s"].to_numpy() + m, w["n"].to_numpy(), key,
                                         w["door_flow_pps"].to_numpy(), p)
    out["expected_share"] = expected_shares(station, q, _row_shares(q, p))
    return out


def speed_share(critical_m_s: np.ndarray, params: Parameters) -> np.ndarray:
    """Share of walkers with speeds N(walk_speed_m_s, walk_speed_sd_m_s) at least as fast as each
    critical speed (m/s; inf: nobody): ``P(speed >= v)``; with sd 0, 1 up to walk_speed_m_s, else 0."""
    v = np.asarray(critical_m_s, dtype=float)
    sd = float(params.walk_speed_sd_m_s)
    v0 = float(params.walk_speed_m_s)
    if sd <= 0:
        return np.where(v <= v0, 1.0, 0.0)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(v), ndtr((v0 - np.where(np.isfinite(v), v, 0.0)) / sd), 0.0)


def _row_shares(q: pd.DataFrame, params: Parameters) -> np.ndarray:
    """Per row of `assignment_queues`' table: P(its walkers are fast enough) (1 sheltering in place or empty)."""
    walking = ~q["sip"].to_numpy() & (q["n"].to_numpy() > 0)
    w = q[walking]
    prob = np.ones(len(q))
    if len(w):
        key, _ = pd.factorize(w["safe_room_id"] + "\x1f" + w["door"].astype(str) + "\x1f" + w["scenario"])
        m = w["margin_s"].to_numpy()
        vc = critical_speeds(w["walk_s"].to_numpy(dtype=float), w["exit_s"].to_numpy() + m,
                             w["offset_s"].to_numpy() + m, w["n"].to_numpy(), key, w["door_flow_pps"].to_numpy(),
                             params)
        prob[walking] = speed_share(vc, params)
    return prob


def expected_shares(station: Station, rows: pd.DataFrame, prob: np.ndarray) -> dict[str, float]:
    """Per scenario of the station: (persons of `rows` (columns scenario and `n` or `residents`) times
    their probability `prob`, summed) over all the scenario's residents (1 when nobody lives there)."""
    n = (rows["n"] if "n" in rows.columns else rows["residents"]).to_numpy(dtype=float)
    got = pd.Series(n * np.asarray(prob, dtype=float)).groupby(rows["scenario"].astype(str).to_numpy()).sum()
    dem = station.demand()
    out = {}
    for sc in dem.columns:
        total = float(dem[sc].sum())
        out[str(sc)] = float(got.get(str(sc), 0.0)) / total if total else 1.0
    return out


def pair_share_probabilities(timed: pd.DataFrame, params: Parameters, persons: np.ndarray | None = None) -> np.ndarray:
    """Per model pair (`model_pairs`' rows): the probability that the room's walkers, with speeds
    N(walk_speed_m_s, walk_speed_sd_m_s), are in by the reach time on this pair with no one else at the
    safe room's door: their walk (reaction not scaled) plus `alone_s` (own-door queue, or their own batch
    through the entry door if slower) plus the pair's margin. The critical speed is rounded up to the
    grid `critical_speeds` replays on (0.02 m/s steps down from twice the walking speed), so a plan's
    replay never finds a speed between grid points; 1 for sheltering in place. The door queue shared
    with other rooms is what the plan decides: `planner.pipeline` lowers these probabilities to the
    replayed ones where a plan shows them too high (docs/model.md, "Expected share").

    `persons` (per row, e.g. the room's residents in one scenario): the own-door queue and the batch are
    those of that many persons (at most the pair's exit cap) instead of the room's busiest scenario's."""
    v0 = float(params.walk_speed_m_s)
    r0 = float(params.reaction_s)
    T = float(params.reach_s)
    walk = timed["walk_raw_s"].to_numpy(dtype=float)
    sip = timed["walk_s"].to_numpy(dtype=float) <= 1e-9
    sip &= timed["room_id"].astype(str).to_numpy() == timed["site_id"].astype(str).to_numpy()
    moving = np.maximum(0.0, walk - r0)
    extra = timed["alone_s"].to_numpy(dtype=float) if persons is None else _alone_s(timed, persons, sip)
    extra = extra if params.exit_queue else np.zeros(len(timed))
    if "margin_s" in timed.columns:
        extra = extra + timed["margin_s"].to_numpy(dtype=float)
    left = T - r0 - extra
    with np.errstate(divide="ignore", invalid="ignore"):
        vc = np.where(moving <= 0, np.where(left >= -1e-9, 0.0, np.inf),
                      np.where(left > 1e-9, v0 * moving / np.where(left > 1e-9, left, 1.0), np.inf))
    grid = np.arange(2.0 * v0, 0.2, -0.02)[::-1]                    # ascending, the same speeds as the replay
    pos = np.searchsorted(grid, vc - 1e-9)
    vg = np.where(pos < len(grid), grid[np.minimum(pos, len(grid) - 1)], np.inf)
    return np.where(sip, 1.0, speed_share(vg, params))


def _alone_s(timed: pd.DataFrame, persons: np.ndarray, sip: np.ndarray) -> np.ndarray:
    """`model_pairs`' `alone_s` (seconds) with `persons` (per row) leaving the room: at most its exit cap,
    through its exit door (`exit_flow_pps`) and the safe room's entry door (`entry_flow_pps`)."""
    cap = timed["exit_cap"].to_numpy(dtype=float) if "exit_cap" in timed.columns else np.full(len(timed), np.inf)
    n = np.minimum(np.asarray(persons, dtype=float), cap)
    r_out = timed["exit_flow_pps"].to_numpy(dtype=float)
    r_in = timed["entry_flow_pps"].to_numpy(dtype=float)
    return np.where(sip | (n <= 0), 0.0, np.maximum(_drain_s(n, r_out), _drain_s(n, r_in)))


def expected_share_probabilities(station: Station, assignments: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """(`assignment_queues` table, per-row probability) of a plan's assignments (rows as for
    `assignment_queues`): the probability that each row's walkers, with speeds N(walk_speed_m_s,
    walk_speed_sd_m_s), are at least as fast as its critical speed (`critical_speeds`: its walk, its
    own-door queue and the safe-room door queues of the whole plan replayed); 1 for sheltering in place
    and for empty rows."""
    q = assignment_queues(station, assignments)
    return q, _row_shares(q, station.params)


def critical_speeds(walk_s: np.ndarray, exit_s: np.ndarray, offset_s: np.ndarray, persons: np.ndarray,
                    queue_key: np.ndarray, flow_pps: np.ndarray, params: Parameters) -> np.ndarray:
    """Per assignment row, the slowest common walking speed (m/s) at which its last person is still in
    by the reach time (rows as for `promise_margin`; inf when not even at twice the walking speed): a
    grid of speeds 0.02 m/s apart, every door queue replayed at each (`fluid_queue_departures`)."""
    w = np.asarray(walk_s, dtype=float)
    e = np.asarray(exit_s, dtype=float)
    o = np.asarray(offset_s, dtype=float)
    v0 = float(params.walk_speed_m_s)
    r0 = float(params.reaction_s)
    moving = np.maximum(0.0, w - r0)
    speeds = np.arange(2.0 * v0, 0.2, -0.02)        # from fast to slow: the last speed that still holds
    nv, n = len(speeds), len(w)
    if not n or not nv:
        return np.full(n, np.inf)
    # every speed at once: one replay of the door queues, each (speed, queue) its own queue
    t = r0 + moving[None, :] * v0 / speeds[:, None]                       # (speeds, rows)
    last = t + e if params.exit_queue else t
    if params.door_queue:
        k = np.asarray(queue_key, dtype=np.int64)
        keys = (np.arange(nv, dtype=np.int64)[:, None] * (int(k.max(initial=0)) + 1) + k[None, :]).ravel()
        dep = fluid_queue_departures(keys, (t + o if params.exit_queue else t).ravel(), np.tile(persons, nv),
                                     np.tile(flow_pps, nv)).reshape(nv, n)
    else:
        dep = t
    ok = np.maximum(last, dep) <= params.reach_s + 1e-9
    none = ~ok.any(axis=1)
    if none.any():                                  # the scan stops at the first speed nobody makes
        ok[int(np.argmax(none)):] = False
    slowest = nv - 1 - np.argmax(ok[::-1], axis=0)
    return np.where(ok.any(axis=0), speeds[slowest], np.inf)


def room_bound(timed: pd.DataFrame, capacity: pd.Series, door_flow_pps: pd.Series, reach_s: float) -> pd.Series:
    """Persons of each room (index room_id) that could reach a safe room in time with every candidate
    open and no one else about: the sum over its timed pairs (`model_pairs`) of what each site's door
    admits from its batch, ``floor(door flow x (reach - batch time))`` (capacity when sheltering in
    place), the walkers' part at most the room's exit cap (`model_pairs`'s `exit_cap`; per exit door
    with its `exit_door_id`: at most K_d through each door d and no more than the places of the
    safe rooms its pairs reach, so at most sum_d K_d). Residents
    beyond it cannot be sheltered by any plan: their own door is too slow. Capacity
    is deliberately not part of this bound (but for the doors of exit-cap rooms, whose caps are chosen
    with the places beyond them): a shortfall of places is the optimiser's to find (cover-all
    is then infeasible and says so), not a shortfall of time."""
    if not len(timed):
        return pd.Series(dtype=float)
    sid = timed["site_id"].astype(str).to_numpy()
    cap = capacity.reindex(sid).fillna(0).to_numpy(dtype=float)
    rate = door_flow_pps.reindex(sid).fillna(0).to_numpy(dtype=float)
    t = timed["walk_s"].to_numpy(dtype=float)
    sip = (timed["room_id"].astype(str).to_numpy() == sid) & (t <= 1e-9)
    with np.errstate(invalid="ignore"):
        door = np.floor(np.where(np.isfinite(rate), rate, 1e12) * np.maximum(0.0, reach_s - t) + 1e-6)
    rid = timed["room_id"].astype(str).to_numpy()
    if "exit_cap" in timed.columns and "exit_door_id" in timed.columns:
        # at most K_d leave in time by each exit door d of an exit-cap room (`model_pairs`)
        ed = timed["exit_door_id"].fillna("").astype(str).to_numpy()
        k = timed["exit_cap"].to_numpy(dtype=float)
        capped = np.isfinite(k) & (ed != "")
        # through a capped door only as many as its safe rooms have places (K_d was chosen with them)
        w_pair = np.where(sip, 0.0, np.where(capped, np.minimum(door, cap), door))
        per = pd.DataFrame({"room": rid, "door": np.where(capped, ed, ""), "w": w_pair,
                            "k": np.where(capped, k, np.inf)})
        per = per.groupby(["room", "door"], sort=False).agg(w=("w", "sum"), k=("k", "min"))
        walkers = pd.Series(np.minimum(per["w"].to_numpy(), per["k"].to_numpy()),
                            index=per.index.get_level_values(0)).groupby(level=0).sum()
        in_place = pd.Series(np.where(sip, cap, 0.0), index=rid).groupby(level=0).sum()
        return walkers.add(in_place, fill_value=0.0)
    walkers = pd.Series(np.where(sip, 0.0, door), index=rid).groupby(level=0).sum()
    if "exit_cap" in timed.columns:   # at most the room's exit cap leave in time (`model_pairs`)
        k = pd.Series(timed["exit_cap"].to_numpy(dtype=float), index=rid).groupby(level=0).min()
        walkers = np.minimum(walkers, k.reindex(walkers.index).fillna(np.inf))
    in_place = pd.Series(np.where(sip, cap, 0.0), index=rid).groupby(level=0).sum()
    return walkers.add(in_place, fill_value=0.0)


def short_of_time(demand: pd.DataFrame, bound: pd.Series) -> pd.DataFrame:
    """Residents per room and scenario (same shape as `demand`) beyond `room_bound`: they cannot reach
    any safe room in time. Rooms without any timed pair are not counted here (they are unreachable)."""
    b = bound.reindex(demand.index).to_numpy(dtype=float)
    d = demand.to_numpy(dtype=float)
    over = np.where(np.isfinite(b)[:, None], np.clip(d - np.nan_to_num(b, nan=0.0)[:, None], 0, None), 0.0)
    return pd.DataFrame(np.ceil(over - 1e-9).astype(np.int64), index=demand.index, columns=demand.columns)


def fluid_queue_departures(key: np.ndarray, arrive_s: np.ndarray, persons: np.ndarray, flow_pps: np.ndarray
                           ) -> np.ndarray:
    """When the last person of each batch is through its door (seconds; FIFO fluid queue per key):
    ``max over earlier-or-equal arrival times tau of tau + (persons arriving in [tau, t]) / flow``
    (batches arriving at the same time leave together). Same order as the input rows."""
    key = np.asarray(key, dtype=np.int64)
    t = np.asarray(arrive_s, dtype=float)
    n = np.asarray(persons, dtype=float)
    r = np.asarray(flow_pps, dtype=float)
    out = np.zeros(len(key))
    if not len(key):
        return out
    order = np.lexsort((t, key))
    k, ts, ns, rs = key[order], t[order], n[order], r[order]
    df = pd.DataFrame({"k": k, "t": ts, "n": ns})
    tie = df.groupby(["k", "t"], sort=False)["n"].transform("sum").to_numpy()   # persons arriving at that time
    first = ~df.duplicated(["k", "t"]).to_numpy()
    cum = df.groupby("k", sort=False)["n"].cumsum().to_numpy()
    # cumulative persons up to and including each arrival time (ties together) and before it
    upto = pd.Series(np.where(first, cum - ns + tie, np.nan)).ffill().to_numpy()
    before = upto - tie
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(rs > 0, 1.0 / np.where(rs > 0, rs, 1.0), np.inf)
        start = np.where(first, ts - before * inv, -np.inf)
        best = pd.Series(start).groupby(k).cummax().to_numpy()
        dep = np.where(np.isfinite(inv), best + upto * inv, np.where(upto > 0, np.inf, ts))
    out[order] = np.maximum(dep, ts)
    return out


def predicted_arrivals(station: Station, assignments: pd.DataFrame) -> np.ndarray:
    """Predicted last arrival inside the safe room for each assignment row (seconds; plan.json
    `predicted_s`): the later of the room's last walker at the door (`w + exit`) and the door queue
    letting the room's batch through (`fluid_queue_departures` per door and scenario), both with the
    row's measured margin (`margin_s`) added; 0 when sheltering in place. Rows as for `assignment_queues`."""
    p = station.params
    if not len(assignments):
        return np.zeros(0)
    q = assignment_queues(station, assignments)
    sip = q["sip"].to_numpy()
    walk = q["walk_s"].to_numpy(dtype=float)
    extra = q["margin_s"].to_numpy()
    out_t = arrival_s(walk, q["exit_s"].to_numpy(), p, shelter_in_place=sip) + extra
    batch = arrival_s(walk, q["offset_s"].to_numpy(), p, shelter_in_place=sip) + extra
    key, _ = pd.factorize(q["safe_room_id"] + "\x1f" + q["door"].astype(str) + "\x1f" + q["scenario"])
    dep = fluid_queue_departures(key, batch, np.where(sip, 0.0, q["n"].to_numpy()), q["door_flow_pps"].to_numpy())
    if not p.door_queue:
        dep = batch
    return np.where(sip, 0.0, np.maximum(out_t, dep))
