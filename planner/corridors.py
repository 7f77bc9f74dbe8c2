"""Corridor openings as flow limits where streams merge (issue 17): fluid queues on the walks' paths.

The exit queue (a room's own door) and the door queue (the safe room's door) are modelled in
`planner.queues`. Between them each walk passes other doors: openings between two corridor
sections, doors of rooms it walks through, and vertical links (stairs). Streams from several
rooms merge there. This module replays those merges as fluid queues, per opening and scenario:

- **Paths**: `planner.network.paths.assignment_paths`, the critical walk of each assignment (the
  walk of its room's farthest point, the one that decides `walk_s`) and the time (seconds at
  `walk_speed_m_s`, reaction included) at which it reaches each door node.
- **Openings**: every door a path passes *between* its room's own door and the safe room's door
  (a vertical link counts once, at the end the walker reaches first). `kind` is "stairs" for a
  vertical link, "corridor" when both sides are circulation spaces (`CIRCULATION_KINDS`), else
  "room" (a room walked through).
- **Flow** of an opening, persons/s: ``specific x (width - 2 x boundary layer)`` with 1.3 p/s/m
  (`door_specific_flow_pps_m`; the stairs-up rate for a vertical link) and width the door's,
  capped by the *corridor segments* on either side: a circulation space's width is that of the
  rectangle with its area and perimeter (``(P/2 - sqrt(P^2/4 - 4A)) / 2``, exact for a straight
  corridor, the side of the square when the polygon is squarer than that); a corridor is a flow
  limit no wider than itself where the streams it carries leave it.
- **Streams**: each assignment row with walkers is a stream of its `residents` reaching the
  opening between ``T = design time of its path at the opening + upstream delay`` and
  ``T + n_room / r_room`` (the room's own exit queue: `n_room` leaving, `r_room` its exit flow).
  As in `planner.queues` it enters the opening's fluid queue as one batch at
  ``T + batch_offset_s(n_room, r_room, r_opening)`` (never earlier than the stream could be
  through); the FIFO fluid queue (the departures of `planner.queues.fluid_queue_departures`,
  replayed event by event because arrivals downstream depend on delays upstream) gives when it
  is through.
- **Delay** of a stream at an opening: ``max(0, through - (T + n_room / r_room))``, what the
  opening adds to the moment its last walker would have passed unhindered. Delays accumulate
  along the path (a stream held up arrives later downstream), so the queues are replayed as
  events in time order (`_replay`): a batch is served when it arrives, behind the batches that
  arrived before it, and its delay shifts its arrivals further on. The row's corridor delay is
  the sum over its path: seconds to add to its walk and to its batch at the safe room's door.

What it leaves out: counterflow, the stall of a queue that backs up past another door (the
simulation's "stall"), and streams that pass only the first or last door of another row's
path (the exit and door queues model those).
"""

from __future__ import annotations

import hashlib
import heapq
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import shapely

from planner.network.graph import WalkGraph
from planner.errors import InputError
from planner.files import read_npz, write_npz
from planner.margins import margin_table, pair_margin_s
from planner.network.cache import reach_key
from planner.network.paths import EXIT_DOOR_PARAMETERS, Paths, assignment_paths, walk_graph
from planner.params import CIRCULATION_KINDS
from planner.queues import batch_offset_s, design_walk_s, door_flows, exit_streams, predicted_arrivals
from planner.station import Station

__all__ = ["CorridorQueues", "opening_flows", "corridor_queues", "corridor_delays", "corridor_width_m",
           "pair_openings", "late_by_corridors", "corridor_cuts"]



@dataclass
class CorridorQueues:
    """The corridor queues of an assignment (`corridor_queues`).

    - `delay_s`: per input row, seconds the openings on its path add to its last walker's arrival
      (0 sheltering in place, without residents or without a path).
    - `streams`: one row per (input row, opening passed): row, door_id, kind, scenario, flow_pps,
      persons, arrive_s (design time at the opening, upstream delays included), depart_s (the
      stream's last walker through the opening), delay_s, rem_s (design seconds from the opening
      to the end of the walk).
    - `openings`: one row per (door_id, scenario) with a stream: kind, flow_pps, streams, persons,
      first_s (earliest arrival), finish_s (last walker through) and max_delay_s.
    - `paths`: the rows' paths (`assignment_paths`) the queues were replayed on, or None.
    """

    delay_s: np.ndarray
    streams: pd.DataFrame
    openings: pd.DataFrame
    paths: Paths | None = None


def corridor_width_m(geoms: np.ndarray) -> np.ndarray:
    """Width of each polygon as a corridor: the short side of the rectangle with its area A and
    perimeter P, ``(P/2 - sqrt(P^2/4 - 4A)) / 2`` metres (sqrt(A) when no such rectangle exists)."""
    a = shapely.area(geoms)
    p = shapely.length(geoms)
    disc = p * p / 4.0 - 4.0 * a
    with np.errstate(invalid="ignore"):
        w = np.where(disc >= 0, (p / 2.0 - np.sqrt(np.maximum(disc, 0.0))) / 2.0, np.sqrt(np.maximum(a, 0.0)))
    return np.nan_to_num(w, nan=0.0)


def opening_flows(station: Station) -> pd.DataFrame:
    """Per door (index door_id): kind ("stairs", "corridor" or "room"), width_m (the door's),
    corridor_m (narrowest circulation space on its sides, inf when none), flow_pps (persons/s)."""
    p = station.params
    d = station.doors
    rooms = station.rooms.drop_duplicates("room_id").set_index(station.rooms["room_id"].drop_duplicates().astype(str))
    kind = rooms["kind"].astype(str)
    circ = kind.isin(CIRCULATION_KINDS)
    cw = pd.Series(np.where(circ.to_numpy(), corridor_width_m(rooms.geometry.to_numpy()), np.inf), index=rooms.index)
    fr = d["from_room"].astype(object).where(d["from_room"].notna(), "").astype(str).to_numpy()
    to = d["to_room"].astype(object).where(d["to_room"].notna(), "").astype(str).to_numpy()
    vert = d["vertical"].to_numpy(dtype=bool) if "vertical" in d else np.zeros(len(d), bool)
    c_fr = circ.reindex(fr).fillna(False).to_numpy(dtype=bool)
    c_to = circ.reindex(to).fillna(False).to_numpy(dtype=bool)
    corr = np.minimum(cw.reindex(fr).fillna(np.inf).to_numpy(dtype=float),
                      cw.reindex(to).fillna(np.inf).to_numpy(dtype=float))
    width = d["width_m"].to_numpy(dtype=float)
    eff = np.where(vert, width, np.minimum(width, corr))
    specific = np.where(vert, p.stairs_flow_up_pps_m, p.door_specific_flow_pps_m)
    flow = specific * np.maximum(0.0, eff - 2.0 * p.door_boundary_layer_m)
    out = pd.DataFrame({"kind": np.where(vert, "stairs", np.where(c_fr & c_to, "corridor", "room")),
                        "width_m": width, "corridor_m": corr, "flow_pps": flow},
                       index=pd.Index(d["door_id"].astype(str).to_numpy(), name="door_id"))
    return out[~out.index.duplicated()]


def corridor_queues(station: Station, assignments: pd.DataFrame, paths: Paths | None = None,
                    graph: WalkGraph | None = None) -> CorridorQueues:
    """The corridor-opening queues of an assignment and the delay they give each row.

    Parameters
    ----------
    station : Station
    assignments : pandas.DataFrame
        One row per assignment: room_id, safe_room_id, scenario, residents (plan.json's rows).
    paths : Paths, optional
        `assignment_paths(station, assignments)` when the caller has it (rows in the same order).
    graph : WalkGraph, optional
        The walking graph, to save rebuilding it (`planner.network.paths.walk_graph`).

    Returns
    -------
    CorridorQueues
        Per row the delay (seconds), per stream and per opening the queue figures (see the class).
    """
    p = station.params
    a = assignments.reset_index(drop=True)
    nrow = len(a)
    room = a["room_id"].astype(str).to_numpy()
    site = a["safe_room_id"].astype(str).to_numpy()
    scen = a["scenario"].astype(str).to_numpy()
    n = pd.to_numeric(a["residents"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    if paths is None:
        paths = assignment_paths(station, a.rename(columns={"safe_room_id": "site_id"})[["room_id", "site_id"]],
                                 graph=graph)
    walk = np.nan_to_num(paths.walk_s, nan=0.0)
    sip = (room == site) & (walk <= 1e-9)
    # the room's stream: n_room leaving it in the scenario at its exit flow (per exit door where the rows
    # name one and it is sooner, `queues.exit_streams`, as the planned arrival times it)
    ed = a["exit_door_id"].fillna("").astype(str).to_numpy() if "exit_door_id" in a.columns else None
    n_room, r_room, exit_s, _ = exit_streams(room, scen, n, sip, door_flows(station), ed)
    # the openings: nodes strictly between the first (own door) and last (safe-room door) step
    st = paths.steps
    last = st.groupby("row")["step"].transform("max").to_numpy()
    mid = st[(st["step"].to_numpy() > 0) & (st["step"].to_numpy() < last)]
    mid = mid[~mid.duplicated(["row", "door_id"])]                  # a vertical link once, where it starts
    mid = mid[(n[mid["row"].to_numpy()] > 0) & ~sip[mid["row"].to_numpy()]]
    flows = opening_flows(station)
    rows = mid["row"].to_numpy()
    door = mid["door_id"].astype(str).to_numpy()
    f = flows["flow_pps"].reindex(door).fillna(0.0).to_numpy(dtype=float)
    kind = flows["kind"].reindex(door).fillna("room").to_numpy(dtype=object)
    t0 = design_walk_s(mid["t_s"].to_numpy(dtype=float), p)
    key, _ = pd.factorize(pd.Series(door, dtype=object) + "\x1f" + pd.Series(scen[rows], dtype=object))
    off = batch_offset_s(n_room[rows], r_room[rows], f)
    free = exit_s[rows]
    up, delay, dep = _replay(rows, mid["step"].to_numpy(), key, t0, off, free, n[rows], f)
    total = np.zeros(nrow)
    np.add.at(total, rows, delay)
    rem = design_walk_s(walk[rows], p) - t0
    streams = pd.DataFrame({"row": rows, "door_id": door, "kind": kind, "scenario": scen[rows], "flow_pps": f,
                            "persons": n[rows], "arrive_s": t0 + up, "depart_s": dep, "delay_s": delay,
                            "rem_s": rem})
    if len(streams):
        openings = streams.groupby(["door_id", "scenario"], sort=True).agg(
            kind=("kind", "first"), flow_pps=("flow_pps", "first"), streams=("row", "size"),
            persons=("persons", "sum"), first_s=("arrive_s", "min"), finish_s=("depart_s", "max"),
            max_delay_s=("delay_s", "max")).reset_index()
    else:
        openings = pd.DataFrame(columns=["door_id", "scenario", "kind", "flow_pps", "streams", "persons", "first_s",
                                         "finish_s", "max_delay_s"])
    return CorridorQueues(delay_s=total, streams=streams, openings=openings, paths=paths)


def corridor_delays(station: Station, assignments: pd.DataFrame) -> np.ndarray:
    """Seconds the corridor openings on each assignment row's path add to its last walker's arrival
    (`corridor_queues`); for the prediction: add them to the row's walk (its exit and door-queue batch).
    Rows as plan.json's assignments (room_id, safe_room_id, scenario, residents)."""
    return corridor_queues(station, assignments).delay_s


def _replay(rows: np.ndarray, step: np.ndarray, key: np.ndarray, t0: np.ndarray, off: np.ndarray,
            free: np.ndarray, persons: np.ndarray, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """FIFO fluid queues at the openings, the streams served in the order of their batch times.

    Stream i (row `rows[i]`, `step[i]` on its path) reaches opening `key[i]` at ``t0[i] + up[i]``
    (`up`: its row's delays at the openings before); its batch is at ``+ off[i]``; the opening
    passes `flow[i]` persons/s and has been busy until B: the batch is through at
    ``max(B, batch) + persons / flow`` (batches of one opening arriving at the same time leave
    together, as in `planner.queues.fluid_queue_departures`). Its delay is ``max(0, through -
    (t0 + up + free))``. Events are taken from a heap by batch time, each row's next opening pushed
    when the previous one is served: one pass. (A next batch earlier than batches already served at
    its opening, possible when the offsets differ, is served behind them: later, on the safe side
    for that stream.) Returns (up, delay, through), seconds per stream."""
    m = len(rows)
    up = np.zeros(m)
    delay = np.zeros(m)
    dep = np.zeros(m)
    if not m:
        return up, delay, dep
    order = np.lexsort((step, rows))
    nxt = np.full(m, -1, np.int64)
    same = rows[order][1:] == rows[order][:-1]
    nxt[order[:-1][same]] = order[1:][same]
    firsts = order[np.r_[True, ~same]]
    busy: dict[int, float] = {}
    heap = [(float(t0[i] + off[i]), int(key[i]), int(i)) for i in firsts]
    heapq.heapify(heap)
    while heap:
        t, k, i = heapq.heappop(heap)
        group = [i]
        while heap and heap[0][0] == t and heap[0][1] == k:
            group.append(heapq.heappop(heap)[2])
        r = float(flow[i])
        total = float(persons[group].sum())
        start = max(busy.get(k, -np.inf), t)
        done = start + total / r if r > 0 else (np.inf if total > 0 else start)
        busy[k] = done
        for g in group:
            dep[g] = done
            d = done - (t0[g] + up[g] + free[g])
            delay[g] = max(0.0, d) if np.isfinite(d) else np.inf
            j = nxt[g]
            if j >= 0:
                up[j] = up[g] + delay[g]
                heapq.heappush(heap, (float(t0[j] + up[j] + off[j]), int(key[j]), int(j)))
    return up, delay, dep


def pair_openings(station: Station, pairs: pd.DataFrame, graph: WalkGraph | None = None) -> pd.DataFrame:
    """The openings each (room_id, site_id) pair's walk passes (as `corridor_queues` counts them): one row
    per (pair, opening) with room_id, site_id, door_id. For the optimiser's corridor rows.

    Kept for the station objects with the same rooms and doors tables and `EXIT_DOOR_PARAMETERS` (the only
    ones `assignment_paths` reads), per set of pairs, and, once `openings_cache` named a folder, in that
    folder for the next run: a what-if's model has the proposal's pairs (0.8 s of Station Unity's what-if).
    Not kept with a `graph` other than the station's `walk_graph`."""
    pr = pairs[["room_id", "site_id"]].astype(str).drop_duplicates().reset_index(drop=True)
    pr = pr[pr["room_id"] != pr["site_id"]].reset_index(drop=True)
    if graph is not None and graph is not walk_graph(station):
        return _pair_openings(station, pr, graph)
    memo = _openings_memo(station)
    key = _openings_key(station, pr)
    got = memo.get(key)
    if got is None and memo.folder is not None:
        got = _read_openings(memo.folder / f"{key[:32]}.npz", key)
    if got is None:
        got = _pair_openings(station, pr, graph)
        if memo.folder is not None:
            _write_openings(memo.folder / f"{key[:32]}.npz", key, got)
    memo[key] = got
    return got.copy()


class _OpeningsMemo(dict):
    """`pair_openings` per key of its pairs (`_openings_key`), and the folder it reads and writes (None: none)."""

    folder: Path | None = None


_OPENINGS_CACHE = "openings-cache-1"
"""Version of the openings cache's layout and of `pair_openings`' method (another: computed anew)."""


def _openings_memo(station: Station) -> _OpeningsMemo:
    return station.derived("pair openings", _OpeningsMemo, depends=EXIT_DOOR_PARAMETERS)


def openings_cache(station: Station, cache_dir: str | Path | None) -> None:
    """Keep `pair_openings` of the station in the cache folder `cache_dir` (the reach cache's: `.cache/reach`
    -> `.cache/openings`; None: in memory only): one data-only file per rooms, doors, parameters and pairs;
    one that cannot be read or does not fit is ignored, one that cannot be written only costs time."""
    _openings_memo(station).folder = None if cache_dir is None else Path(cache_dir).parent / "openings"


def _openings_key(station: Station, pr: pd.DataFrame) -> str:
    """SHA-256 (hex) of the rooms and doors, `EXIT_DOOR_PARAMETERS` and the pairs (in their order)."""
    p = station.params
    h = hashlib.sha256(repr((_OPENINGS_CACHE, reach_key(station, [], full=True),
                             [repr(getattr(p, k)) for k in EXIT_DOOR_PARAMETERS], len(pr))).encode())
    h.update(pd.util.hash_pandas_object(pr, index=False).to_numpy().tobytes())
    return h.hexdigest()


def _pair_openings(station: Station, pr: pd.DataFrame, graph: WalkGraph | None) -> pd.DataFrame:
    paths = assignment_paths(station, pr, graph=graph)
    st = paths.steps
    last = st.groupby("row")["step"].transform("max").to_numpy()
    mid = st[(st["step"].to_numpy() > 0) & (st["step"].to_numpy() < last)]
    mid = mid[~mid.duplicated(["row", "door_id"])]
    r = mid["row"].to_numpy()
    return pd.DataFrame({"room_id": pr["room_id"].to_numpy()[r], "site_id": pr["site_id"].to_numpy()[r],
                         "door_id": mid["door_id"].astype(str).to_numpy()})


def _read_openings(path: Path, key: str) -> pd.DataFrame | None:
    """The openings stored at `path` under `key`, or None (absent, unreadable, another key, not ours)."""
    z = read_npz(path, _OPENINGS_CACHE, key, need=("words", "codes"))
    if z is None:   # absent, truncated, not an npz, an object array: computed anew
        return None
    words, codes = z["words"], z["codes"]
    if (words.dtype.kind != "U" or codes.dtype != np.int32 or codes.ndim != 2 or codes.shape[1] != 3
            or (codes.size and (codes.min() < 0 or codes.max() >= len(words)))):
        return None
    w = words.astype(object)
    return pd.DataFrame({"room_id": w[codes[:, 0]], "site_id": w[codes[:, 1]], "door_id": w[codes[:, 2]]})


def _write_openings(path: Path, key: str, openings: pd.DataFrame) -> None:
    """Store `openings` at `path` under `key` (ids as codes into one word list); a failure is not an error."""
    codes, words = pd.factorize(pd.concat([openings[c].astype(str) for c in ("room_id", "site_id", "door_id")],
                                          ignore_index=True))
    arrays: dict[str, Any] = {"format": np.asarray(_OPENINGS_CACHE), "key": np.asarray(key),
                              "words": np.asarray(words.astype(str), dtype=str),
                              "codes": codes.astype(np.int32).reshape(3, -1).T.copy()}
    write_npz(path, arrays)   # a cache that cannot be written is not an error


def late_by_corridors(station: Station, assignments: pd.DataFrame, predict: Callable[[pd.DataFrame], np.ndarray],
                      graph: WalkGraph | None = None) -> tuple[CorridorQueues, np.ndarray, np.ndarray, np.ndarray]:
    """The corridor queues of an assignment and which rows they make late: (queues, per row its predicted
    last arrival without them and with them (seconds), per row the seconds its last walker arrives after
    the reach time with the corridor delays, 0 where in time or already late without them). `predict(rows)`: predicted
    last arrival per row, the rows' `margin_s` added (`planner.queues.predicted_arrivals` with the
    station); `graph`: the walking graph, to save rebuilding it (`planner.network.paths.walk_graph`)."""
    a = assignments.reset_index(drop=True)
    cq = corridor_queues(station, a, graph=graph)
    base = a["margin_s"].to_numpy(dtype=float) if "margin_s" in a.columns else np.zeros(len(a))
    before = predict(a.assign(margin_s=base))
    after = predict(a.assign(margin_s=base + cq.delay_s))
    T = float(station.params.reach_s)
    over = np.where((after > T + 1e-6) & (before <= T + 1e-6), after - T, 0.0)
    return cq, before, after, np.nan_to_num(over, nan=0.0, posinf=1e6)


def corridor_cuts(cq: CorridorQueues, over_s: np.ndarray, reach_s: float,
                  known: dict[tuple[str, str], float] | None = None) -> dict[tuple[str, str], float]:
    """Limits (persons) for the openings that make rows late: per (door_id, scenario) delaying a late row
    by a second or more (else its most delaying one), ``min(persons through it - ceil(flow x the
    largest lateness of its late rows), floor(flow x (reach - earliest arrival)))``, at least 0: the
    persons it may pass for its last one to be that much sooner, and never more than it can pass
    before the reach time. `known`: limits of earlier rounds, kept (the smaller wins). The caller turns
    the limits into rows over the pairs passing each opening (`pair_openings`)."""
    out = dict(known or {})
    s = cq.streams
    if not len(s):
        return out
    late_rows = np.flatnonzero(over_s > 0)
    ls = s[s["row"].isin(late_rows) & (s["delay_s"] > 1e-6)]
    if not len(ls):
        return out
    top = ls.groupby("row")["delay_s"].transform("max")
    ls = ls[ls["delay_s"] >= np.minimum(top, 1.0) - 1e-9]
    lateness = pd.Series(over_s[ls["row"].to_numpy()], index=ls.index)
    worst = lateness.groupby([ls["door_id"], ls["scenario"]]).max()
    grp = s.groupby(["door_id", "scenario"])
    load = grp["persons"].sum()
    first = grp["arrive_s"].min()
    flow = grp["flow_pps"].first()
    for key, late_s in worst.items():
        f = float(flow[key])
        lim = min(float(load[key]) - np.ceil(f * late_s - 1e-9), np.floor(f * max(reach_s - float(first[key]), 0.0)))
        lim = max(lim, 0.0)
        out[key] = min(lim, out.get(key, np.inf))
    return out


def plan_replay(station: Station, plan: dict, graph: WalkGraph | None = None
                ) -> tuple[pd.DataFrame, CorridorQueues, np.ndarray, np.ndarray, np.ndarray]:
    """The corridor queues replayed on plan.json's own assignment rows, as written (walks to the hundredth of a
    second, the plan's margins, its exit doors): (rows with residents, `late_by_corridors`' queues, arrivals
    without and with the openings, lateness; s). The checker's replay (`planner.checkqueue.corridor_late`) and
    the plan's `totals.late_by_corridors` (`late_of_plan`) both count on it. An invalid margin table counts
    as none (the main check reports it)."""
    rows = [r for r in plan.get("assignments") or [] if isinstance(r, dict)]
    a = pd.DataFrame(rows) if rows else pd.DataFrame(columns=["room_id", "safe_room_id", "scenario", "residents",
                                                              "walk_s"])
    for c in ("room_id", "safe_room_id", "scenario"):
        a[c] = a[c].astype(str)
    a["residents"] = pd.to_numeric(a["residents"], errors="coerce").fillna(0.0)
    a["walk_s"] = pd.to_numeric(a.get("walk_s"), errors="coerce").fillna(0.0)
    a = a[a["residents"] > 0].reset_index(drop=True)
    try:
        margins = margin_table(plan.get("margins") or [], "plan.json margins")
    except InputError:
        margins = margin_table(None)
    a["margin_s"] = pair_margin_s(margins, a["room_id"].to_numpy(), a["safe_room_id"].to_numpy())
    cq, before, after, over = late_by_corridors(station, a, lambda r: predicted_arrivals(station, r), graph=graph)
    return a, cq, before, after, over


def late_of_plan(station: Station, plan: dict, graph: WalkGraph | None = None) -> dict[str, Any]:
    """plan.json `totals.late_by_corridors`: the residents `plan_replay` finds late, in all and per scenario of
    the station (0 where none; persons)."""
    a, _cq, _before, _after, over = plan_replay(station, plan, graph)
    late = a.loc[over > 0].groupby("scenario")["residents"].sum() if len(a) else pd.Series(dtype=float)
    per = {str(s): int(late.get(str(s), 0)) for s in station.scenarios}
    return {"residents": int(sum(per.values())), "by_scenario": per}
