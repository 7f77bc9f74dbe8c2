"""Briefing material for residents and delegations: what each occupied room's people must know.

`room_briefs` turns a plan (plan.json's dict) and the reach table into one row per occupied room
and occupancy scenario: the safe room its people are assigned to, the walk in seconds (plan.json's
`walk_s`, verbatim), the door they enter by, the second option in reach and the route. The
placards (`planner.placards`), the briefing sheet and the interactive map (`planner.webmap`)
only format these rows; `write_briefing` writes all three.

Routes (`routes`): shortest paths in the walking network (the reach table's graph,
`planner.network.paths.walk_graph`, nodes = door sides; a planning run passes the one it built) from the room's best door to the safe room's entry door (the reach table's
`door_id`). The network knows the time of each in-room walk but not its shape, so a route is
drawn as straight legs from door to door through the doors actually used (the real walk may
go round a corner inside a room); its vertices are the room's centre, the doors in order, and
the safe room's centre. Metres on a placard are the walk of plan.json in metres:
``(walk_s - reaction_s - stairs traverse seconds on the route) * walk_speed_m_s``.

Strings for people (`strings`): ``planner/strings/<lang>.toml``, English (`en`) the fallback for
any key a translation lacks.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from scipy.sparse.csgraph import dijkstra

from planner.errors import InputError
from planner.network import ReachTable, WalkGraph
from planner.network.paths import walk_graph
from planner.params import read_toml
from planner.station import Station

logger = logging.getLogger(__name__)

STRINGS_DIR = Path(__file__).with_name("strings")
"""Folder of the strings files (`<lang>.toml`)."""


# ---------------------------------------------------------------------------- strings
def languages() -> list[str]:
    """Language codes with a strings file, sorted."""
    return sorted(p.stem for p in STRINGS_DIR.glob("*.toml"))


def strings(lang: str = "en") -> dict[str, str]:
    """The strings of `lang` (flat dict ``"section.key" -> text``), English for keys it lacks.

    Raises
    ------
    InputError
        when there is no strings file for `lang` or it cannot be parsed.
    """
    def load(code: str) -> dict[str, str]:
        path = STRINGS_DIR / f"{code}.toml"
        if not path.exists():
            raise InputError(str(path), f"language {code!r}", "has no strings file",
                             f"choose one of {', '.join(languages())}, or add {code}.toml beside en.toml")
        data = read_toml(path, "strings file")
        flat: dict[str, str] = {}
        for sec, body in data.items():
            if isinstance(body, dict):
                flat.update({f"{sec}.{k}": str(v) for k, v in body.items()})
            else:
                flat[sec] = str(body)
        return flat

    out = load("en")
    if lang != "en":
        out.update(load(lang))
    return out


# ---------------------------------------------------------------------------- simulation
def read_simulation(path: Path) -> dict[str, dict] | None:
    """The scenarios of a `simulation.json` (None when absent or unreadable; never raises).

    Kept per scenario: `agents` (int), `share_within_reach` (0..1), `last_arrival_s` (s) and
    `curve` (n x 2 float array: seconds, share of people secured), each only when well formed.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        scen = data.get("scenarios") if isinstance(data, dict) else None
    except (OSError, ValueError) as exc:
        logger.warning("%s: cannot be read (%s); the briefing sheet shows no arrival curve", path, exc)
        return None
    if not isinstance(scen, dict):
        return None
    out: dict[str, dict] = {}
    for name, s in scen.items():
        if not isinstance(s, dict):
            continue
        row: dict = {}
        for key, typ in (("agents", int), ("share_within_reach", float), ("last_arrival_s", float)):
            v = s.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                row[key] = typ(v)
        try:
            c = np.asarray(s.get("curve", []), dtype=float)
            if c.ndim == 2 and c.shape[1] >= 2 and len(c):
                c = c[:, :2][np.isfinite(c[:, :2]).all(axis=1)]
                row["curve"] = c[np.argsort(c[:, 0], kind="stable")]
        except (TypeError, ValueError):
            pass
        if row:
            out[str(name)] = row
    return out or None


# ---------------------------------------------------------------------------- per room
def room_briefs(station: Station, plan: dict, reach: ReachTable, rooms: list[str] | None = None) -> pd.DataFrame:
    """One row per occupied room and scenario: what its people must know.

    Parameters
    ----------
    station : the station the plan was made for.
    plan : plan.json's dict.
    reach : the station's reach table (for the entry doors and the second options).
    rooms : room ids to keep (None: every room with residents in some scenario).

    Returns
    -------
    DataFrame with columns room_id, name, kind, sector, deck, scenario, residents (persons),
    safe_room_id ("" when none), safe_name, safe_deck, walk_s (plan.json's, seconds; NaN when
    unsheltered), walk_m (metres, see the module doc; NaN until `routes` fills it), split
    (other safe rooms of the room in this scenario, comma-separated), unsheltered (persons),
    door_id (entry door of the safe room, "" when sheltering in place), second_id and
    second_walk_s (the fastest other chosen safe room within reach, from the reach table;
    "" / NaN when none), in_place (bool). Sorted by room_id, then the station's scenario order.
    """
    demand = station.demand()
    scen = [s for s in station.scenarios if s in demand.columns]
    occ = demand.index[(demand[scen] > 0).any(axis=1)] if scen else demand.index[:0]
    if rooms is not None:
        want = pd.Index([str(r) for r in rooms])
        unknown = want.difference(demand.index)
        if len(unknown):
            raise InputError("--rooms", ", ".join(unknown[:5]), "names rooms that do not exist",
                             "give room_id values from rooms.geojson")
        occ = occ.intersection(want)
    info = station.rooms.drop_duplicates("room_id").set_index(station.rooms["room_id"].astype(str)
                                                              .drop_duplicates().to_numpy())
    safe = pd.DataFrame(plan.get("safe_rooms", []), columns=["room_id", "name", "deck", "capacity"])
    safe["room_id"] = safe["room_id"].astype(str)
    safe = safe.drop_duplicates("room_id").set_index("room_id")
    grid = pd.MultiIndex.from_product([occ, scen], names=["room_id", "scenario"]).to_frame(index=False)
    grid["residents"] = demand[scen].stack().reindex(pd.MultiIndex.from_frame(grid)).fillna(0).astype(int).to_numpy() \
        if len(grid) else np.zeros(0, int)
    a = pd.DataFrame(plan.get("assignments", []),
                     columns=["room_id", "scenario", "safe_room_id", "residents", "walk_s"])
    a["room_id"] = a["room_id"].astype(str)
    a["safe_room_id"] = a["safe_room_id"].astype(str)
    a = a.sort_values(["room_id", "scenario", "residents", "walk_s"], ascending=[True, True, False, True],
                      kind="stable")
    first = a.drop_duplicates(["room_id", "scenario"])
    split = (a.groupby(["room_id", "scenario"])["safe_room_id"].agg(lambda x: ",".join(list(x)[1:]))
             if len(a) else pd.Series(dtype=object))
    out = grid.merge(first[["room_id", "scenario", "safe_room_id", "walk_s"]], on=["room_id", "scenario"], how="left")
    out["safe_room_id"] = out["safe_room_id"].fillna("").astype(str)
    out["split"] = split.reindex(pd.MultiIndex.from_frame(out[["room_id", "scenario"]])).fillna("").to_numpy() \
        if len(out) else []
    u = pd.DataFrame(plan.get("unsheltered", []), columns=["room_id", "scenario", "residents", "reason"])
    u["room_id"] = u["room_id"].astype(str)
    us = u.groupby(["room_id", "scenario"])["residents"].sum()
    out["unsheltered"] = (us.reindex(pd.MultiIndex.from_frame(out[["room_id", "scenario"]])).fillna(0).astype(int)
                          .to_numpy()) if len(out) else []
    for col in ("name", "kind", "sector", "deck"):
        out[col] = info[col].reindex(out["room_id"]).to_numpy()
    out["safe_name"] = safe["name"].reindex(out["safe_room_id"]).fillna("").astype(str).to_numpy()
    sdeck = info["deck"].reindex(out["safe_room_id"]).to_numpy(dtype=float) if len(out) else np.zeros(0)
    out["safe_deck"] = sdeck
    # entry door: the reach table's door for (room, safe room)
    pr = reach.pairs[["room_id", "site_id", "walk_s", "door_id"]].copy()
    pr["room_id"] = pr["room_id"].astype(str)
    pr["site_id"] = pr["site_id"].astype(str)
    door = pr.drop_duplicates(["room_id", "site_id"]).set_index(["room_id", "site_id"])["door_id"]
    key = pd.MultiIndex.from_arrays([out["room_id"], out["safe_room_id"]])
    out["door_id"] = door.reindex(key).fillna("").astype(str).to_numpy() if len(out) else []
    out["in_place"] = (out["room_id"] == out["safe_room_id"]).to_numpy()
    # second option: the fastest chosen safe room in reach other than the assigned ones
    chosen = pr[pr["site_id"].isin(safe.index) & pr["room_id"].isin(occ)].sort_values(["room_id", "walk_s", "site_id"])
    taken = a[["room_id", "scenario", "safe_room_id"]].rename(columns={"safe_room_id": "site_id"})
    cand = out[["room_id", "scenario"]].merge(chosen[["room_id", "site_id", "walk_s"]], on="room_id")
    cand = cand.merge(taken.assign(_t=1), on=["room_id", "scenario", "site_id"], how="left")
    cand = cand[cand["_t"].isna()].drop_duplicates(["room_id", "scenario"])
    sec = cand.set_index(["room_id", "scenario"])
    k2 = pd.MultiIndex.from_frame(out[["room_id", "scenario"]])
    out["second_id"] = sec["site_id"].reindex(k2).fillna("").astype(str).to_numpy() if len(out) else []
    out["second_walk_s"] = sec["walk_s"].reindex(k2).to_numpy(dtype=float) if len(out) else []
    out["walk_m"] = np.nan
    order = {s: i for i, s in enumerate(scen)}
    out["_o"] = out["scenario"].map(order)
    out = out.sort_values(["room_id", "_o"], kind="stable").drop(columns="_o").reset_index(drop=True)
    return out[["room_id", "name", "kind", "sector", "deck", "scenario", "residents", "safe_room_id", "safe_name",
                "safe_deck", "walk_s", "walk_m", "split", "unsheltered", "door_id", "in_place", "second_id",
                "second_walk_s"]]


# ---------------------------------------------------------------------------- routes
@dataclass
class Route:
    """A drawn route from a room to a safe room (plan metres).

    `xy`: vertices (n x 2): the room's centre, the doors passed in order, the safe room's
    centre; `deck`: the deck of each vertex; `doors`: door ids passed; `traverse_s`: seconds of
    vertical links (stairs, lifts) on the route; `network_s`: the network's time of the drawn
    route (door to door plus the farthest point of the room to its door, reaction excluded);
    `exact`: False when the network found no path and the route is a straight line.
    """

    xy: np.ndarray
    deck: np.ndarray
    doors: list[str] = field(default_factory=list)
    traverse_s: float = 0.0
    network_s: float = float("nan")
    exact: bool = True


def routes(station: Station, pairs: pd.DataFrame, graph: WalkGraph | None = None) -> dict[tuple[str, str], Route]:
    """Routes for (room_id, site_id, door_id) rows (door_id: the safe room's entry door).

    `graph`: the station's walking graph with the reach table's cut-off (`walk_graph(station)`), when the
    caller has it (a planning run's corridor rounds built it); else it is built here.

    Shortest paths (scipy Dijkstra with predecessors, one run per distinct entry door) from the
    entry door to the room's door sides; the room leaves by the door that minimises the
    farthest point's walk to it plus the path's time. Pairs of a room with itself get a
    one-point route; pairs the network cannot join a straight centre-to-centre line
    (`exact` False).

    Returns
    -------
    {(room_id, site_id): Route}
    """
    p = station.params
    v = p.walk_speed_m_s
    pairs = pairs.drop_duplicates(["room_id", "site_id"])
    rooms = station.rooms.drop_duplicates("room_id")
    rid = rooms["room_id"].astype(str).to_numpy()
    centre = pd.DataFrame(shapely.get_coordinates(shapely.point_on_surface(rooms.geometry.to_numpy())),
                          index=rid, columns=["x", "y"])
    rdeck = pd.Series(rooms["deck"].to_numpy(dtype=float), index=rid)
    out: dict[tuple[str, str], Route] = {}
    if pairs.empty:
        return out
    wg = walk_graph(station) if graph is None else graph
    nrooms = len(wg.room_ids)
    ridx = pd.Series(np.arange(nrooms), index=wg.room_ids)
    ridx = ridx[~ridx.index.duplicated()]
    room_inc_ptr = np.searchsorted(wg.inc_room, np.arange(nrooms + 1))
    nnodes = wg.graph.shape[0]
    doors = station.doors.drop_duplicates("door_id").set_index(station.doors["door_id"].astype(str)
                                                              .drop_duplicates().to_numpy())
    vert = doors["vertical"].astype(bool) if "vertical" in doors else pd.Series(False, index=doors.index)
    trav = doors["traverse_s"].astype(float).fillna(p.stairs_traverse_s) if "traverse_s" in doors else \
        pd.Series(p.stairs_traverse_s, index=doors.index)
    # node deck: the deck of the room a door side belongs to (first incidence)
    node_room = np.full(nnodes, -1)
    node_room[wg.inc_node[::-1]] = wg.inc_room[::-1]
    room_deck = rdeck.reindex(wg.room_ids).to_numpy(dtype=float)
    node_deck = np.where(node_room >= 0, room_deck[np.maximum(node_room, 0)], np.nan)

    pr = pairs.copy()
    pr["room_id"] = pr["room_id"].astype(str)
    pr["site_id"] = pr["site_id"].astype(str)
    pr["door_id"] = pr["door_id"].fillna("").astype(str)
    pr["r"] = ridx.reindex(pr["room_id"]).to_numpy(dtype=float)
    pr["s"] = ridx.reindex(pr["site_id"]).to_numpy(dtype=float)
    # entry node: the site's door side with that door id
    inc = pd.DataFrame({"room": wg.inc_room, "node": wg.inc_node, "door": wg.node_door[wg.inc_node]})
    entry = inc.drop_duplicates(["room", "door"]).set_index(["room", "door"])["node"]
    ok = pr["r"].notna() & pr["s"].notna() & (pr["room_id"] != pr["site_id"])
    pr["entry"] = -1
    if ok.any():
        k = pd.MultiIndex.from_arrays([pr.loc[ok, "s"].astype(np.int64), pr.loc[ok, "door_id"]])
        pr.loc[ok, "entry"] = entry.reindex(k).fillna(-1).astype(np.int64).to_numpy()
    src = np.unique(pr.loc[pr["entry"] >= 0, "entry"].to_numpy(dtype=np.int64))
    if len(src):
        dist, pred = dijkstra(wg.graph, directed=False, indices=src, return_predecessors=True,
                              limit=2.0 * p.reach_s + 1.0)
    else:
        dist, pred = np.zeros((0, nnodes)), np.zeros((0, nnodes), dtype=np.int32)
    srow = {int(n): i for i, n in enumerate(src)}
    cxy = dict(zip(rid, centre.to_numpy()))
    cdeck = dict(zip(rid, rdeck.to_numpy()))
    trav_d = {d: float(t) for d, t, vv in zip(trav.index, trav.to_numpy(), vert.reindex(trav.index).to_numpy()) if vv}
    for a, b, e, r in zip(pr["room_id"].to_numpy(), pr["site_id"].to_numpy(), pr["entry"].to_numpy(),
                          pr["r"].to_numpy()):
        if a == b:
            out[(a, b)] = Route(xy=cxy[a][None, :] if a in cxy else np.zeros((0, 2)),
                                deck=np.array([cdeck.get(a, np.nan)]), network_s=0.0)
            continue
        straight = Route(xy=np.array([cxy.get(a, (np.nan, np.nan)), cxy.get(b, (np.nan, np.nan))], dtype=float),
                         deck=np.array([cdeck.get(a, np.nan), cdeck.get(b, np.nan)], dtype=float), exact=False)
        if e < 0 or np.isnan(r):
            out[(a, b)] = straight
            continue
        i = srow[int(e)]
        r = int(r)
        k0, k1 = room_inc_ptr[r], room_inc_ptr[r + 1]
        nodes = wg.inc_node[k0:k1]
        far = wg.inc_far_m[k0:k1]
        far = np.where(np.isfinite(far), far, wg.room_leg_m[r] if np.isfinite(wg.room_leg_m[r]) else 0.0)
        tot = dist[i, nodes] + far / v
        if not len(nodes) or not np.isfinite(tot).any():
            out[(a, b)] = straight
            continue
        j = int(np.argmin(tot))
        n = int(nodes[j])
        path = [n]
        while n != e and n >= 0:
            n = int(pred[i, n])
            path.append(n)
        if path[-1] != e:
            out[(a, b)] = straight
            continue
        pn = np.asarray(path)
        ids = list(wg.node_door[pn])
        tr = sum(trav_d.get(d, 0.0) for d, d2 in zip(ids[:-1], ids[1:]) if d == d2)
        xy = np.vstack([cxy[a][None, :], wg.node_xy[pn], cxy[b][None, :]])
        dk = np.r_[cdeck[a], node_deck[pn], cdeck[b]]
        dedup = [d for k, d in enumerate(ids) if k == 0 or d != ids[k - 1]]
        out[(a, b)] = Route(xy=xy, deck=dk, doors=dedup, traverse_s=tr, network_s=float(tot[j]))
    return out


def add_routes(briefs: pd.DataFrame, station: Station, graph: WalkGraph | None = None
               ) -> tuple[pd.DataFrame, dict[tuple[str, str], Route]]:
    """Routes of every (room, assigned safe room) of `briefs` and the rows with `walk_m` filled
    (`graph`: see `routes`).

    `walk_m` = (walk_s - reaction_s - traverse seconds on the route) x walk_speed_m_s, rounded to
    a whole metre (0 when sheltering in place, NaN when unsheltered)."""
    p = station.params
    b = briefs.copy()
    has = b["safe_room_id"] != ""
    rt = routes(station, b.loc[has, ["room_id", "safe_room_id", "door_id"]].rename(columns={"safe_room_id": "site_id"}),
                graph=graph)
    tr = np.array([rt[(r, s)].traverse_s if (r, s) in rt else 0.0
                   for r, s in zip(b["room_id"], b["safe_room_id"])], dtype=float)
    m = np.maximum(b["walk_s"].to_numpy(dtype=float) - p.reaction_s - tr, 0.0) * p.walk_speed_m_s
    b["walk_m"] = np.where(has & b["walk_s"].notna(), np.round(m), np.nan)
    b.loc[b["in_place"], "walk_m"] = 0.0
    return b, rt


def fmt_s(x: float) -> str:
    """Seconds as plan.json writes them (two decimals at most, trailing zeros dropped: 43.2 -> "43.2",
    0.0 -> "0"), so every number on a placard or the map is plan.json's; "-" when not finite."""
    x = float(x)
    if not np.isfinite(x):
        return "-"
    return f"{round(x, 2):.2f}".rstrip("0").rstrip(".")
