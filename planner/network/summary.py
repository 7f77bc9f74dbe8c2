"""Rooms without an in-room walk and the text summary of a reach table (moved from `planner/network.py`)."""

from __future__ import annotations


import numpy as np
import pandas as pd

from planner.station import Station
from planner.network.graph import build_graph
from planner.network.table import ReachTable


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
