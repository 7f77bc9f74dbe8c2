"""The checker's arrival and walking checks (issue 17), kept apart from `planner.check`'s main loop.

Recomputed here from the station's files, never from the optimiser:

- the exit queue at each resident's own room door, per scenario (`planner.queues.exit_streams`):
  the room's residents leaving it in that scenario, i.e. not sheltering in place, over the flow
  of its widest door; or, for a room with several doors, the residents leaving *by the door the
  assignment's walk leaves by* (recomputed here from the plan's assignments and the walking graph,
  never the optimiser's per-door caps) over that door's flow, whichever is sooner (issue 17: the
  optimiser times a room one way or the other; a plan sending more through one door than it can
  pass in time is a breach);
- the arrival of a room's last walker at the safe room's door: the walk at the design speed plus
  that exit queue (people sheltering in place arrive at 0 s); it must be within the reach time;
- the fluid queue at every door of every safe room, per scenario, fed only by the people who
  enter by that door, each room's stream put as the batch of `queues.batch_offset_s` (never
  earlier than the stream could finish), replayed exactly (`queues.fluid_queue_finish`);
- the corridor openings (`planner.corridors`): the streams of every assignment merging at the doors
  between a walk's own door and its safe room's door (corridor openings, rooms walked through,
  stairs), replayed as fluid queues; an assignment these queues make late is a *finding*
  (`corridor_findings`, printed as a warning by `planner check`), not a breach: the optimiser's
  corridor rows are lazy (`corridor_rounds`, issue 17) and leave some late (17-19 on Station Unity). The paths come from the
  planner's walking graph (`planner.network.paths`), not from an independent walk;
- the walks themselves on a raster of the floor plan (`planner.walkgrid`), independent of the
  planner's visibility-graph network: a plan whose `walk_s` is shorter than the raster walk by
  more than the raster's own error (`GRID_TOLERANCE_S` plus `LATTICE_STRETCH`) is a breach.

Each function returns breaches as (kind, feature, message) tuples; `planner.check` wraps them.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from planner.corridors import late_of_plan, plan_replay
from planner.network.paths import exit_doors
from planner.params import Parameters
from planner.network.graph import WalkGraph
from planner.network.parallel import _Forked, _reach_workers
from planner.queues import (ExitDoors, arrival_s, assignment_queues, door_flows, fluid_queue_finish, model_pairs,
                            multi_door_exits, room_bound, short_of_time, site_queue_flow)
from planner.sites import capacity
from planner.station import Station
from planner.walkgrid import LATTICE_STRETCH, grid_walks

log = logging.getLogger(__name__)

__all__ = ["timed_pairs", "short_residents", "check_arrivals", "check_independent_walks", "start_independent_walks",
           "corridor_late", "corridor_findings", "check_late_totals", "GRID_CELL_M", "GRID_TOLERANCE_S"]

GRID_CELL_M = 0.5
"""Cell size of the checker's raster walking model (metres)."""
GRID_TOLERANCE_S = 1.0
"""Seconds a plan's walk may be shorter than the raster walk (besides the lattice stretch): the raster
measures from cell centres, up to cell / sqrt(2) = 0.35 m inside a room's farthest corner, and joins
doors to cells up to 0.8 m away."""
_EPS = 1e-6

Breach = tuple[str, str, str]


def timed_pairs(station: Station, pairs: pd.DataFrame, p: Parameters,
                margins: pd.DataFrame | None = None, doors: ExitDoors | None = None) -> pd.DataFrame:
    """Pairs within reach when timed as the promise is: design speed plus the room's own door queue in
    its busiest scenario (`queues.model_pairs`, with the exit caps from the recomputed capacities),
    plus the measured `margins` of the pairs they name (`planner.margins`); columns room_id, site_id,
    walk_s (batch time), walk_raw_s, out_s, exit_s, exit_cap, margin_s, door_id. `doors`: the exit doors
    of pairs (`planner.network.paths.exit_doors`) when the caller holds them (their walking graph is built
    once)."""
    return model_pairs(pairs, station.demand(), door_flows(station), p, margins=margins, capacity=_capacities(station, p),
                       exit_doors=multi_door_exits(station, doors if doors is not None else exit_doors(station, memo=False)))


def _capacities(station: Station, p: Parameters) -> pd.Series:
    """Persons per room by the capacity rule, recomputed from the polygons (every room)."""
    rooms = station.rooms
    ids = rooms["room_id"].astype(str).to_numpy()
    cap = pd.Series(capacity(rooms.geometry.area.to_numpy(), p)[1], index=ids)
    return cap[~cap.index.duplicated()]


def short_residents(station: Station, timed: pd.DataFrame, p: Parameters) -> pd.DataFrame:
    """Residents per room and scenario whom no plan can bring in in time (`queues.room_bound` with the
    capacities recomputed from the polygons and the slowest door each site is entered by)."""
    cap = _capacities(station, p)
    flow = site_queue_flow(timed, door_flows(station), cap.index)
    return short_of_time(station.demand(), room_bound(timed, cap, flow, p.reach_s))


def check_arrivals(station: Station, a: pd.DataFrame, p: Parameters, doors: ExitDoors | None = None) -> list[Breach]:
    """Arrival and per-door queue breaches of the assignments `a`.

    `a`: one row per assignment with room_id, safe_room_id, scenario, n (persons), walk (recomputed
    walk in seconds, NaN when unknown), walk_plan (the plan's), door (the safe room's door the
    walk enters by, "" when unknown: the safe room's widest door is assumed) and optionally margin_s
    (measured seconds added to the pair's arrival, `planner.margins`: enforced, never trusted away).
    `doors`: as for `timed_pairs`.
    """
    out: list[Breach] = []
    a = a[a["n"] > 0]
    if not len(a):
        return out
    rows = pd.DataFrame({"room_id": a["room_id"].to_numpy(), "safe_room_id": a["safe_room_id"].to_numpy(),
                         "scenario": a["scenario"].to_numpy(), "residents": a["n"].to_numpy(),
                         "walk_s": a["walk"].fillna(a["walk_plan"]).to_numpy(dtype=float),
                         "door_id": a["door"].fillna("").astype(str).to_numpy() if "door" in a else "",
                         "margin_s": a["margin_s"].to_numpy(dtype=float) if "margin_s" in a else 0.0})
    rows["exit_door_id"] = _exit_doors_of(station, rows, doors)
    q = assignment_queues(station, rows)
    sip = q["sip"].to_numpy()
    extra = q["margin_s"].to_numpy()
    q = q.assign(out=arrival_s(q["walk_s"].to_numpy(), q["exit_s"].to_numpy(), p, shelter_in_place=sip) + extra,
                 arrive=arrival_s(q["walk_s"].to_numpy(), q["offset_s"].to_numpy(), p, shelter_in_place=sip) + extra)
    for r in q[q["out"] > p.reach_s + _EPS].itertuples(index=False):
        out.append(("arrival", f"room {r.room_id} -> {r.safe_room_id} ({r.scenario})",
                    f"the last of its residents arrives at {r.out:.1f} s (walk {r.walk_s:.1f} s at "
                    f"{p.walk_speed_m_s:g} m/s timed at {p.design_speed_m_s:g} m/s, reaction {p.reaction_s:g} s, "
                    f"queue at its own door {r.exit_s:.1f} s: {r.exit_persons:.0f} persons leaving "
                    + (f"by its door {r.exit_by} " if r.exit_by else "through its widest door ")
                    + f"at {r.exit_flow_pps:.2f} persons/s"
                    + (f", measured margin {r.margin_s:.1f} s" if r.margin_s > 0 else "")
                    + f"), after the reach time {p.reach_s:g} s"))
    if not p.door_queue:
        return out
    q = q[~q["sip"]]
    if not len(q):
        return out
    group = q["safe_room_id"] + "\x1f" + q["door"].astype(str) + "\x1f" + q["scenario"]
    codes, uniq = pd.factorize(group)
    f = q["door_flow_pps"].to_numpy()
    keys, finish, tau = fluid_queue_finish(codes, q["arrive"].to_numpy(), q["n"].to_numpy(), f)
    for k, fin, t0 in zip(keys, finish, tau):
        if fin > p.reach_s + _EPS:
            site, door, sc = uniq[k].split("\x1f")
            sel = codes == k
            who = int(q["n"].to_numpy()[sel & (q["arrive"].to_numpy() >= t0)].sum())
            r = float(f[sel][0])
            when = "never (the door passes no one)" if not np.isfinite(fin) else f"at {fin:.1f} s"
            out.append(("door-queue", f"safe room {site} door {door or '?'} ({sc})",
                        f"{who} persons arriving from {t0:.1f} s through a door passing {r:.3f} persons/s are all "
                        f"inside {when}, after the reach time {p.reach_s:g} s"))
    return out


def _exit_doors_of(station: Station, rows: pd.DataFrame, doors: ExitDoors | None = None) -> np.ndarray:
    """The room door each assignment row's walk leaves by, recomputed here (the critical walk on the
    planner's walking graph, `planner.network.paths`; never the plan's `exit_door_id`): only for rows of
    rooms with two or more doors that walk ("" otherwise, and where no path is found)."""
    out = np.full(len(rows), "", dtype=object)
    room = rows["room_id"].astype(str)
    walking = ~((room == rows["safe_room_id"].astype(str)) & (rows["walk_s"].to_numpy(dtype=float) <= _EPS))
    sel = np.flatnonzero(walking.to_numpy() & (rows["residents"].to_numpy(dtype=float) > 0))
    if len(sel):
        exits = multi_door_exits(station, doors if doors is not None else exit_doors(station, memo=False))
        out[sel] = exits(pd.DataFrame({"room_id": room.to_numpy()[sel],
                                       "site_id": rows["safe_room_id"].astype(str).to_numpy()[sel]}))
    return out


def check_independent_walks(station: Station, a: pd.DataFrame, p: Parameters,
                            cell_m: float = GRID_CELL_M) -> list[Breach]:
    """Walk breaches: the plan's `walk_plan` shorter than the raster walk (`planner.walkgrid`) by more
    than `GRID_TOLERANCE_S` plus the lattice stretch."""
    a = a[(a["n"] > 0) & ~((a["room_id"] == a["safe_room_id"]) & (a["walk_plan"] <= _EPS))]
    if not len(a):
        return []
    pairs = a[["room_id", "safe_room_id"]].rename(columns={"safe_room_id": "site_id"}).drop_duplicates()
    # each safe room's search stops where no plan walk to it could still be too short
    longest = a.groupby("safe_room_id")["walk_plan"].max()
    limit = ((longest - p.reaction_s).clip(lower=0) + GRID_TOLERANCE_S + 1.0) * LATTICE_STRETCH
    g = grid_walks(station, pairs, cell_m=cell_m, limit_s=limit).set_index(["room_id", "site_id"])["walk_s"]
    got = g.reindex(pd.MultiIndex.from_arrays([a["room_id"], a["safe_room_id"]])).to_numpy()
    react = p.reaction_s
    floor = react + (got - react) / LATTICE_STRETCH - GRID_TOLERANCE_S   # shortest the true walk can be
    short = a["walk_plan"].to_numpy(dtype=float) < floor - _EPS
    out: list[Breach] = []
    seen = set()
    for r, gw, lo in zip(a[short].itertuples(index=False), got[short], floor[short]):
        if (r.room_id, r.safe_room_id) in seen:
            continue
        seen.add((r.room_id, r.safe_room_id))
        out.append(("walk-independent", f"room {r.room_id} -> {r.safe_room_id}",
                    f"walk in the plan is {r.walk_plan:g} s; walked on a {cell_m:g} m raster of the floor plan it "
                    f"takes {gw:.1f} s (at least {lo:.1f} s allowing for the raster's error)"))
    return out


FORK_MIN_PAIRS = 500
"""Fewer (room, safe room) pairs walking than this: the raster walks run in this process (a worker costs
more than it saves)."""


def start_independent_walks(station: Station, a: pd.DataFrame, p: Parameters, cell_m: float = GRID_CELL_M
                            ) -> _Forked | None:
    """`check_independent_walks` of `a` started now in a forked worker process, beside the rest of the check
    (its raster is independent of the walking graph); its `.result()` is the breaches (computed in this
    process if the worker fails). None (compute it when needed, here) for few pairs or one worker
    (``PLANNER_REACH_WORKERS=1``)."""
    walking = a[(a["n"] > 0) & ~((a["room_id"] == a["safe_room_id"]) & (a["walk_plan"] <= _EPS))]
    if _reach_workers() < 2 or len(walking[["room_id", "safe_room_id"]].drop_duplicates()) < FORK_MIN_PAIRS:
        return None
    rows = a[["room_id", "safe_room_id", "n", "walk_plan"]].copy()
    return _Forked(lambda: check_independent_walks(station, rows, p, cell_m=cell_m), what="independent walks")


def corridor_late(station: Station, plan: dict, graph: WalkGraph | None = None) -> pd.DataFrame:
    """The plan's assignments that the corridor-opening queues (`planner.corridors`) make late: one row per
    (assignment, opening on its path that delays it), with room_id, safe_room_id, scenario, residents,
    arrive_s (predicted last arrival without the openings, `queues.predicted_arrivals` with the plan's
    margins), late_s (with them), delay_s (the row's total corridor delay), door_id, kind, flow_pps,
    opening_delay_s (this opening's share), streams and persons (through the opening in the scenario).
    `graph`: the walking graph (`planner.network.paths.walk_graph`) when the caller has it."""
    cols = ["room_id", "safe_room_id", "scenario", "residents", "arrive_s", "late_s", "delay_s", "door_id", "kind",
            "flow_pps", "opening_delay_s", "streams", "persons"]
    if not any(isinstance(r, dict) for r in plan.get("assignments") or []):
        return pd.DataFrame(columns=cols)
    a, cq, before, after, over = plan_replay(station, plan, graph)
    late = np.flatnonzero(over > 0)
    s = cq.streams[cq.streams["row"].isin(late) & (cq.streams["delay_s"] > _EPS)]
    o = cq.openings.set_index(["door_id", "scenario"])
    ok = o.reindex(pd.MultiIndex.from_arrays([s["door_id"], s["scenario"]]))
    r = s["row"].to_numpy()
    return pd.DataFrame({"room_id": a["room_id"].to_numpy()[r], "safe_room_id": a["safe_room_id"].to_numpy()[r],
                         "scenario": s["scenario"].to_numpy(), "residents": a["residents"].to_numpy()[r],
                         "arrive_s": before[r], "late_s": after[r], "delay_s": cq.delay_s[r],
                         "door_id": s["door_id"].to_numpy(), "kind": s["kind"].to_numpy(),
                         "flow_pps": s["flow_pps"].to_numpy(), "opening_delay_s": s["delay_s"].to_numpy(),
                         "streams": ok["streams"].to_numpy(), "persons": ok["persons"].to_numpy()}, columns=cols)


def check_late_totals(station: Station, plan: dict, graph: WalkGraph | None = None) -> list[tuple[str, str, str]]:
    """Breaches (kind, where, what) of plan.json `totals.late_by_corridors` (the residents the corridor replay finds
    late, in all and per scenario) against the replay of the plan's own rows (`planner.corridors.late_of_plan`,
    the checker's graph and the station's parameters): none when the plan has no such figure."""
    late = (plan.get("totals") or {}).get("late_by_corridors")
    if late is None:
        return []
    per = late.get("by_scenario") if isinstance(late, dict) else None
    if not isinstance(per, dict) or not _count(late.get("residents")):
        return [("totals", "totals.late_by_corridors", f"is {late!r}, not {{residents, by_scenario}}")]
    want = pd.Series(late_of_plan(station, plan, graph)["by_scenario"], dtype=float)
    out = [("totals", f"totals.late_by_corridors.by_scenario.{s}",
            f"is {per.get(s)!r}, the replay of the corridor queues finds {int(want.get(s, 0))} residents late")
           for s in map(str, station.scenarios) if not _count(per.get(s)) or per.get(s) != int(want.get(s, 0))]
    if late["residents"] != int(want.sum()):
        out.append(("totals", "totals.late_by_corridors.residents",
                    f"is {late['residents']}, the replay of the corridor queues finds {int(want.sum())} residents late"))
    return out


def _count(v: object) -> bool:
    """Whether plan.json's `v` is a count of persons: an integer, not true/false (which Python counts as 1/0)."""
    return isinstance(v, int) and not isinstance(v, bool)


def corridor_findings(station: Station, plan: dict, graph: WalkGraph | None = None) -> list[str]:
    """`corridor_late` in words, one line per (opening, scenario) that makes an assignment late (findings,
    not breaches: the optimiser's corridor rows are lazy; see the module doc). A late assignment is
    listed under the openings on its path that delay it by at least a second (its most delaying one
    when none does). `graph`: as for `corridor_late`."""
    late = corridor_late(station, plan, graph)
    # per late assignment, the openings that delay it by a second or more (else its biggest one)
    key = late["room_id"] + "\x1f" + late["safe_room_id"] + "\x1f" + late["scenario"]
    top = late.groupby(key)["opening_delay_s"].transform("max")
    late = late[late["opening_delay_s"] >= np.minimum(top, 1.0) - _EPS]
    out = []
    what = {"corridor": "corridor opening", "stairs": "stairs", "room": "door of a room walked through"}
    for (door, sc), g in late.groupby(["door_id", "scenario"], sort=True):
        g = g.sort_values("late_s", ascending=False)
        names = ", ".join(f"{r.room_id} -> {r.safe_room_id} {r.late_s:.1f} s" for r in g.head(3).itertuples())
        more = f" and {len(g) - 3} more" if len(g) > 3 else ""
        out.append(f"{what.get(g['kind'].iat[0], 'opening')} {door} ({sc}): {int(g['persons'].iat[0])} persons in "
                   f"{int(g['streams'].iat[0])} streams pass it at {g['flow_pps'].iat[0]:.2f} persons/s; its queue "
                   f"delays them up to {g['opening_delay_s'].max():.1f} s and makes {len(g)} assignment(s) late, after the reach time {station.params.reach_s:g} s "
                   f"({names}{more})")
    return out
