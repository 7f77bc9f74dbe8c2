"""Where residents the plan cannot bring in within the reach time go anyway (issue 17).

A plan lists as *unsheltered* the residents whom no plan can bring into a safe room within
`reach_s`: typically the last people out of a crowded room whose own doors pass too few
persons per second (a galley of 99 behind a 1.1 m door needs 95 s to empty). They are not
counted as sheltered, and the plan's promise does not cover them; but on the day they still
need somewhere to go. `late_destinations` gives each such group the nearest of the plan's
safe rooms that still has places in that scenario (the plan's own assignments take the
places first), with the predicted time: the design-speed walk plus the time until the
last of the room's leavers is through its own door (`queues.exit_queue_s`); the safe room's
door queue is not added (these people arrive after the room's planned arrivals).

plan.json: such `unsheltered[]` rows gain `safe_room_id`, `walk_s` (s, at `walk_speed_m_s`,
reaction included, as in the reach table) and `predicted_s` (s); a group split over several
safe rooms becomes several rows with the same reason. They stay unsheltered in every total.
The independent checker counts them in the safe room's occupancy (capacity must hold) and
requires the safe room to be one of the plan's; `planner simulate` replays them as walkers,
so the simulated share includes those who make it after all.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from planner.queues import arrival_s, exit_queue_s, room_exit_flow
from planner.station import Station

__all__ = ["late_destinations"]


def late_destinations(station: Station, plan: dict, pairs: pd.DataFrame) -> list[dict]:
    """The plan's `unsheltered` rows with a destination added where a safe room of the plan has places.

    Parameters
    ----------
    station : Station
        The station (parameters: walking speed m/s, design speed, reaction s, reach s).
    plan : dict
        plan.json content: `safe_rooms` (room_id, capacity in persons), `assignments`
        (room_id, scenario, safe_room_id, residents) and `unsheltered` (room_id, scenario,
        residents, reason).
    pairs : DataFrame
        The reach table's pairs: room_id, site_id, walk_s (s, at `walk_speed_m_s`, reaction
        included).

    Returns
    -------
    list of dict
        The new `unsheltered` list: rows with a destination carry `safe_room_id`, `walk_s` and
        `predicted_s`; residents without a place stay as they were. Totals are unchanged.
    """
    rows = list(plan.get("unsheltered") or [])
    safe = pd.DataFrame(plan.get("safe_rooms") or [], columns=["room_id", "capacity"])
    if not rows or not len(safe) or not len(pairs):
        return rows
    cap = pd.to_numeric(safe.set_index(safe["room_id"].astype(str))["capacity"], errors="coerce").fillna(0)
    a = pd.DataFrame(plan.get("assignments") or [], columns=["room_id", "scenario", "safe_room_id", "residents"])
    load = a.groupby([a["safe_room_id"].astype(str), a["scenario"].astype(str)])["residents"].sum()
    spare = {k: float(cap.get(k[0], 0)) - float(v) for k, v in load.items()}
    pr = pairs[["room_id", "site_id", "walk_s"]].astype({"room_id": str, "site_id": str})
    pr = pr[pr["site_id"].isin(cap.index) & (pr["room_id"] != pr["site_id"])
            & pr["room_id"].isin({str(r["room_id"]) for r in rows})]       # only the rooms with latecomers
    by_room = _options_by_room(pr)
    # the room's leavers in each scenario: the planned walkers and these late ones
    leaving = pd.concat([a.loc[a["room_id"].astype(str) != a["safe_room_id"].astype(str), ["room_id", "scenario", "residents"]],
                         pd.DataFrame(rows, columns=["room_id", "scenario", "residents"])])
    leaving = leaving.astype({"room_id": str, "scenario": str}).groupby(["room_id", "scenario"])["residents"].sum()
    exits = exit_queue_s(leaving.unstack("scenario", fill_value=0), room_exit_flow(station))
    out: list[dict] = []
    for row in rows:
        rid, sc, left = str(row["room_id"]), str(row["scenario"]), int(row.get("residents", 0))
        options = by_room.get(rid)
        if options is None or left <= 0 or "safe_room_id" in row:
            out.append(row)
            continue
        ex = float(exits.at[rid, sc]) if rid in exits.index and sc in exits.columns else 0.0
        for sid, walk in zip(*options):
            room = spare.get((sid, sc), float(cap.get(sid, 0)))
            take = int(min(left, np.floor(room + 1e-9)))
            if take <= 0:
                continue
            spare[(sid, sc)] = room - take
            left -= take
            t = float(arrival_s(np.array([walk]), np.array([ex]), station.params)[0])
            out.append(dict(row, residents=take, safe_room_id=sid, walk_s=round(float(walk), 2), predicted_s=round(t, 2)))
            if left == 0:
                break
        if left > 0:
            out.append(dict(row, residents=left))
    return out


def _options_by_room(pr: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per room: (site ids, walks in s) of its pairs, nearest first (ties in the pairs' order): one
    stable sort of all pairs, then one slice per room."""
    if not len(pr):
        return {}
    codes, rooms = pd.factorize(pr["room_id"].to_numpy())
    walk = pr["walk_s"].to_numpy(dtype=float)
    order = np.lexsort((walk, codes))        # stable: equal walks keep the pairs' order
    sid = pr["site_id"].to_numpy()[order]
    walk, codes = walk[order], codes[order]
    cut = np.flatnonzero(np.diff(codes)) + 1
    starts, ends = np.r_[0, cut], np.r_[cut, len(codes)]
    return {str(rooms[codes[a]]): (sid[a:b], walk[a:b]) for a, b in zip(starts, ends)}
