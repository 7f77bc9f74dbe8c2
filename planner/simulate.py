"""Pedestrian simulation of a plan: do the residents really get inside their safe room in time?

The planner's promise (everyone inside a safe room within `reach_s`) rests on a walking
and queueing model. This module replays a plan with the pedestrian simulator JuPedSim
(optional dependency, extra ``sim``) so that the promise is measured, not assumed.

Set-up (docs/verification.md gives the sources and the measured agreement):

- **Walkable area**, per deck: every room shrunk by half a wall (`sim_wall_m` / 2), plus one
  rectangle per level door (its `width_m` along the leaf, one wall thick plus an overlap
  across it) joining the two rooms. The union falls apart into connected areas (a deck,
  or a part of one without a door to the rest); each is one JuPedSim simulation, and all
  are stepped together.
- **Agents**: one per resident who must walk (an assignment to another room), placed at
  random in the room (a randomly shifted and jittered lattice of `sim_spacing_m`, so that
  no two agents overlap), with the desired speed `walk_speed_m_s` or, with `speed_sd`,
  drawn from N(speed, speed_sd) and clipped to [`SPEED_MIN_M_S`, `SPEED_MAX_M_S`].
  Residents assigned to their own room shelter in place: secured at t = 0, not simulated.
  Residents the plan leaves unsheltered are counted as not secured.
- **Routes**: an agent walks to its safe room through JuPedSim's routing engine (shortest
  path in the walkable area, so through the door on its route) and has arrived when its
  centre is inside the safe room's polygon (an exit stage: it then leaves the simulation;
  arrival time to the step, `sim_dt_s`). Rooms whose centroid lies outside the walkable
  area get a small exit square well inside and their arrivals are detected every
  `_CHECK_EVERY` steps instead.
- **Decks coupled**: a walker whose safe room lies in another connected area (another
  deck) walks to a vertical link (stairs), is taken out there, spends the link's
  `traverse_s` on the flight and is put back at the link's other end, at most one person
  per 1 / flow seconds (`Parameters.door_flow_pps(width, "up")`, the checker's
  conservative stair flow) and only where there is room. Which links: the shortest
  route over the links (routing-engine distances between link ends, traverse times).
- **Reaction**: everyone starts walking `reaction_s` after the alarm (arrival times are
  shifted by it).
- **End**: when everyone has arrived, when every agent still walking has moved less than
  `_STUCK_M` in the last `sim_stall_s` seconds (they are *deadlocked*), or at
  `sim_max_s`. Agents who have not arrived by then are reported as deadlocked, never
  dropped.
- **Seeds**: every scenario runs with several seeds (placement, speeds); the worst seed
  (lowest share within reach, then latest last arrival) is reported, and per-assignment
  figures are taken over all seeds. Scenario x seed runs go to a local process pool.
- **Why late**: every `sim_sample_s` seconds an agent moving slower than half its desired
  speed accrues waiting time where it is: inside its own room ("own door"), within
  `_NEAR_M` of its safe room ("safe-room door"), near or on a vertical link ("stairs"),
  elsewhere ("corridor"). A room whose last resident arrives after `reach_s` is late; its
  cause is the place where its late residents waited longest, or "stall" when one of
  them never arrived.

Entry points: `simulate_plan(station, plan, ...) -> SimulationResult`,
`write_simulation(result, out_dir)`, `jupedsim_available()`.
"""

from __future__ import annotations

import logging
import math
import multiprocessing as mp
import os
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import shapely
from shapely.ops import nearest_points
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from planner.errors import InputError
from planner.params import Parameters
from planner.check import plan_parameters
from planner.plan import write_json_atomic, write_table
from planner.station import Station
from planner.workbook import write_verification_workbook

logger = logging.getLogger(__name__)

MODELS: tuple[str, ...] = ("cfsm", "sfm")
"""Operational models: JuPedSim's collision-free speed model, or its social force model."""
CAUSES: tuple[str, ...] = ("own door", "corridor", "safe-room door", "stairs", "stall")
"""Why a room's residents were late (see the module docstring)."""
SPEED_MIN_M_S = 0.3
"""Drawn desired speeds are clipped to at least this (m/s): nobody stands still."""
SPEED_MAX_M_S = 2.5
"""... and to at most this (m/s)."""
CURVE_MARKS_S: tuple[float, ...] = (60.0, 120.0, 240.0)
"""The station's question: what share is secured within 1, 2 and 4 minutes?"""

_NEAR_M = 2.5
"""Waiting within this distance (m) of the safe room counts as its door's queue."""
_STUCK_M = 0.5
"""An agent that moved less than this (m) during `sim_stall_s` is stuck."""
_CHECK_S = 0.1
"""Seconds between position checks: doors passed, arrivals, stair releases (arrival times to this)."""
_BEYOND_M = 0.1
"""Agents walk to this far (m) beyond a door's midline, so that they pass it."""
_PORTAL_M = 0.6
"""A tile reaches this far (m) into the next tile's room beyond a door between them (the landing)."""
_LINK_M = 0.8
"""An agent this close (m) to a stair's end has stepped onto the stairs."""
_SIMPLIFY_M = 0.03
"""Walls of the walkable area are simplified to within this (m): 27 % less time per agent and step
on a Station Unity tile (1,205 -> 682 vertices)."""
_TILE_ROOMS = 40
"""Rooms per simulated tile (about): JuPedSim checks every new agent against the whole walkable
polygon, at a cost that grows with its vertices, so a deck is simulated as tiles of a grid."""
_OVERLAP_M = 0.05
"""How far a door rectangle reaches into each room beyond the half wall (m)."""
_MARGIN_M = 0.02
"""Clearance kept between placed agents and walls (m)."""


def jupedsim_available() -> bool:
    """True when JuPedSim can be imported (``pip install --no-deps jupedsim deprecated``)."""
    try:
        import jupedsim  # noqa: F401
    except ImportError:
        return False
    return True


def _require_jupedsim() -> Any:
    try:
        import jupedsim
    except ImportError as exc:
        raise InputError("jupedsim", "Python package", f"cannot be imported ({exc})",
                         "install the simulator: pip install --no-deps jupedsim 'deprecated~=1.2' "
                         "(or pip install '.[sim]'); make test installs it") from None
    return jupedsim


# ------------------------------------------------------------------------ settings and results
@dataclass(frozen=True)
class SimSettings:
    """How one simulation run is set up (the numbers come from `Parameters`, options override).

    Units: metres, seconds, metres per second.
    """

    model: str = "cfsm"
    seeds: int = 3
    speed_m_s: float = 1.2
    speed_sd_m_s: float = 0.0
    reaction_s: float = 0.0
    reach_s: float = 60.0
    radius_m: float = 0.2
    wall_m: float = 0.2
    spacing_m: float = 0.5
    time_gap_s: float = 1.0
    dt_s: float = 0.01
    max_s: float = 300.0
    stall_s: float = 60.0
    sample_s: float = 0.5
    stairs_flow_pps_m: float = 0.88
    boundary_layer_m: float = 0.15
    stairs_traverse_s: float = 12.0
    tile_rooms: int = _TILE_ROOMS

    @classmethod
    def from_params(cls, p: Parameters, **over: Any) -> "SimSettings":
        """Settings from the station's parameters; keyword arguments that are not None win."""
        base: dict[str, Any] = dict(speed_m_s=p.walk_speed_m_s, reaction_s=p.reaction_s, reach_s=p.reach_s,
                    stairs_flow_pps_m=p.stairs_flow_up_pps_m, boundary_layer_m=p.door_boundary_layer_m,
                    stairs_traverse_s=p.stairs_traverse_s)
        for name in ("radius_m", "wall_m", "spacing_m", "time_gap_s", "dt_s", "max_s", "stall_s", "sample_s"):
            v = getattr(p, f"sim_{name}", None)
            if v is not None:
                base[name] = v
        base.update({k: v for k, v in over.items() if v is not None})
        s = cls(**base)
        s.validate()
        return s

    def validate(self) -> None:
        """Raise `InputError` for values a simulation cannot run with."""
        if self.model not in MODELS:
            raise InputError("--model", self.model, "is not a known model", f"use one of {', '.join(MODELS)}")
        if self.seeds < 1:
            raise InputError("--seeds", str(self.seeds), "must be at least 1", "give 1 or more seeds")
        for name in ("speed_m_s", "radius_m", "dt_s", "max_s", "stall_s", "sample_s", "spacing_m", "time_gap_s"):
            if not getattr(self, name) > 0:
                raise InputError("simulation settings", name, f"is {getattr(self, name)}, must be positive",
                                 "give a positive number")
        for name in ("speed_sd_m_s", "reaction_s", "wall_m"):
            if getattr(self, name) < 0:
                raise InputError("simulation settings", name, f"is {getattr(self, name)}, must not be negative",
                                 "give zero or more")
        if self.spacing_m < 2 * self.radius_m + _MARGIN_M:
            raise InputError("simulation settings", "sim_spacing_m", f"is {self.spacing_m} m, agents of radius "
                             f"{self.radius_m} m would overlap", f"give at least {2 * self.radius_m + _MARGIN_M:.2f} m")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class SimulationResult:
    """What a simulation showed. Plain data, JSON-able through `to_dict`.

    - `scenarios`: {scenario: {residents, agents (walkers simulated), sheltered_in_place,
      unsheltered (left out by the plan), unplaced, excluded, share_within_reach (worst seed,
      everyone counted: sheltering in place secured at 0 s), within_s {"60": share, ...},
      last_arrival_s, curve [[t_s, share_secured], ...], deadlocked, seeds [per-seed dicts],
      worst_seed, wall_s}}.
    - `assignments`: one dict per walking assignment: room_id, scenario, safe_room_id,
      residents, predicted_s (the plan's `predicted_s` when given, else its `walk_s`),
      walk_s, sim_first_s, sim_median_s, sim_last_s (over all seeds; None when nobody
      arrived), deadlocked (agents over all seeds that never arrived), seeds.
    - `late_rooms`: room_id, scenario, safe_room_id, late_s (last arrival minus reach_s;
      None when someone never arrived), cause (one of `CAUSES`), wait_s {cause: mean seconds}.
    - `parameters`: the settings, JuPedSim's version, the station and plan.
    """

    scenarios: dict[str, dict[str, Any]]
    assignments: list[dict[str, Any]]
    late_rooms: list[dict[str, Any]]
    parameters: dict[str, Any]
    agents: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    """Per agent and seed (not written to JSON): scenario, seed, room_id, safe_room_id, arrival_s, waits."""

    def to_dict(self) -> dict[str, Any]:
        """The `simulation.json` content."""
        return {"scenarios": self.scenarios, "assignments": self.assignments,
                "late_rooms": self.late_rooms, "parameters": self.parameters}

    def share_within(self, seconds: float, scenario: str) -> float:
        """Share of the scenario's residents secured within `seconds` (worst seed)."""
        curve = self.scenarios[scenario]["curve"]
        share = 0.0
        for t, s in curve:
            if t <= seconds + 1e-9:
                share = s
        return share


# ------------------------------------------------------------------------ geometry
@dataclass
class Layout:
    """The walkable tiles of a station and the graph of its doors (see the module docstring).

    Room arrays are aligned with `room_ids`; door arrays with the level doors kept (`door_ids`);
    link arrays with the vertical links kept. Graph nodes: level doors 0 .. nd-1, then two per
    link (its end in `link_rooms[k, e]` is node nd + 2k + e).
    """

    room_ids: np.ndarray
    room_deck: np.ndarray
    room_geom: np.ndarray
    room_inner: np.ndarray
    room_point: np.ndarray          # (n, 2) a point well inside each room's walkable part (nan: none)
    room_tile: np.ndarray           # tile holding the room (-1: not walkable)
    tiles: list[shapely.Polygon]
    tile_deck: list[int]
    door_ids: np.ndarray
    door_rooms: np.ndarray          # (nd, 2) room index of each side
    door_mid: np.ndarray            # (nd, 2) midpoint of the leaf
    door_normal: np.ndarray         # (nd, 2) unit normal pointing from side 0 to side 1
    door_width: np.ndarray
    link_ids: np.ndarray
    link_rooms: np.ndarray          # (nl, 2)
    link_xy: np.ndarray             # (nl, 2, 2)
    link_traverse_s: np.ndarray
    link_flow_pps: np.ndarray
    graph: Any = None               # scipy CSR, seconds at the simulated mean speed

    def index(self) -> dict[str, int]:
        """{room_id: position}."""
        return {r: i for i, r in enumerate(self.room_ids)}

    @property
    def n_doors(self) -> int:
        return len(self.door_ids)

    def node_room_xy(self, node: int) -> tuple[float, float]:
        """Where a graph node is (door midpoint or link end)."""
        if node < self.n_doors:
            return tuple(self.door_mid[node])
        k, e = divmod(node - self.n_doors, 2)
        return tuple(self.link_xy[k, e])


def _door_rectangles(mid: np.ndarray, u: np.ndarray, nrm: np.ndarray, width: np.ndarray,
                     back_m: float | np.ndarray, front_m: float | np.ndarray) -> np.ndarray:
    """Rectangles `width` along the leaf (direction u), from -back_m to +front_m across it (normal nrm)."""
    hw = width[:, None] / 2.0
    back = np.broadcast_to(np.asarray(back_m, dtype=float), (len(mid),))[:, None]
    front = np.broadcast_to(np.asarray(front_m, dtype=float), (len(mid),))[:, None]
    corners = np.stack([mid - u * hw - nrm * back, mid + u * hw - nrm * back,
                        mid + u * hw + nrm * front, mid - u * hw + nrm * front], axis=1)
    return shapely.polygons(corners)


def _tile_keys(centroids: np.ndarray, deck: np.ndarray, tile_rooms: int) -> np.ndarray:
    """A square-grid cell per room, per deck, sized for about `tile_rooms` rooms per cell."""
    keys = np.zeros(len(deck), dtype=np.int64)
    for d in np.unique(deck):
        m = deck == d
        xy = centroids[m]
        n_tiles = max(1, int(math.ceil(m.sum() / max(1, tile_rooms))))
        if n_tiles == 1:
            continue
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        side = max(1e-6, math.sqrt(max((hi - lo).prod(), 1e-6) / n_tiles))
        cell = np.floor((xy - lo) / side).astype(np.int64)
        keys[m] = cell[:, 0] * 100_000 + cell[:, 1]
    return keys


def build_layout(station: Station, settings: SimSettings) -> Layout:
    """The walkable tiles, the level doors and vertical links between rooms, and the door graph."""
    rooms = station.rooms
    doors = station.doors
    geom = rooms.geometry.to_numpy()
    deck = rooms["deck"].to_numpy(dtype=int)
    ids = rooms["room_id"].astype(str).to_numpy()
    pos = {r: i for i, r in enumerate(ids)}
    inner = shapely.make_valid(shapely.buffer(geom, -settings.wall_m / 2.0, join_style="mitre"))
    clear = settings.radius_m + _MARGIN_M + _SIMPLIFY_M
    core = shapely.buffer(inner, -clear)
    ok = ~shapely.is_empty(core)
    room_point = np.full((len(rooms), 2), np.nan)
    pts = shapely.point_on_surface(core[ok])
    room_point[ok, 0], room_point[ok, 1] = shapely.get_x(pts), shapely.get_y(pts)
    # level doors with two rooms
    vertical = doors["vertical"].astype(bool).to_numpy()
    is_line = shapely.get_type_id(doors.geometry.to_numpy()) == 1
    fr = doors["from_room"].map(pos)
    to = doors["to_room"].map(pos)
    keep = ~vertical & is_line & fr.notna().to_numpy() & to.notna().to_numpy()
    lv = doors[keep]
    dr = np.column_stack([fr[keep].to_numpy(dtype=int), to[keep].to_numpy(dtype=int)]) if keep.any() \
        else np.zeros((0, 2), dtype=int)
    g = lv.geometry.to_numpy()
    a = np.column_stack([shapely.get_x(shapely.get_point(g, 0)), shapely.get_y(shapely.get_point(g, 0))])
    b = np.column_stack([shapely.get_x(shapely.get_point(g, -1)), shapely.get_y(shapely.get_point(g, -1))])
    mp = shapely.line_interpolate_point(g, 0.5, normalized=True)
    mid = np.column_stack([shapely.get_x(mp), shapely.get_y(mp)]).reshape(-1, 2)
    u = (b - a).reshape(-1, 2)
    u = u / np.where(np.hypot(u[:, 0], u[:, 1]) > 0, np.hypot(u[:, 0], u[:, 1]), 1.0)[:, None]
    nrm = np.column_stack([-u[:, 1], u[:, 0]]) if len(u) else np.zeros((0, 2))
    if len(mid):  # normal from side 0 to side 1: towards room 1's point
        toward = room_point[dr[:, 1]] - mid
        flip = np.nan_to_num((toward * nrm).sum(axis=1)) < 0
        nrm[flip] *= -1.0
    width = lv["width_m"].to_numpy(dtype=float)
    half = settings.wall_m / 2.0 + _OVERLAP_M
    rect = _door_rectangles(mid, u, nrm, width, half, half)
    # tiles: a grid cell's rooms, their doors, and a landing beyond each door to another cell
    cent = np.column_stack([shapely.get_x(shapely.centroid(geom)), shapely.get_y(shapely.centroid(geom))])
    key = _tile_keys(cent, deck, settings.tile_rooms)
    tiles: list[shapely.Polygon] = []
    tile_deck: list[int] = []
    room_tile = np.full(len(rooms), -1, dtype=int)
    ck = pd.Series(list(zip(deck, key)))
    for (d, _cell), members in ck.groupby(ck).groups.items():
        members = np.asarray(members, dtype=int)
        in_cell = np.zeros(len(rooms), dtype=bool)
        in_cell[members] = True
        both = in_cell[dr[:, 0]] & in_cell[dr[:, 1]] if len(dr) else np.zeros(0, dtype=bool)
        side0 = in_cell[dr[:, 0]] & ~in_cell[dr[:, 1]] if len(dr) else both
        side1 = in_cell[dr[:, 1]] & ~in_cell[dr[:, 0]] if len(dr) else both
        parts = [p for p in inner[members] if not p.is_empty] + list(rect[both])
        if side0.any():  # the cell's room is side 0: the landing reaches into side 1
            parts += list(_door_rectangles(mid[side0], u[side0], nrm[side0], width[side0], half, _PORTAL_M))
        if side1.any():
            parts += list(_door_rectangles(mid[side1], u[side1], -nrm[side1], width[side1], half, _PORTAL_M))
        # a millimetre grid removes slivers where rectangles meet shrunk walls; curved walls keep a
        # vertex every few centimetres of sagitta only (each wall segment costs every agent near it)
        union = shapely.simplify(shapely.set_precision(shapely.union_all(parts), 0.001), _SIMPLIFY_M,
                                 preserve_topology=True)
        polys = [p for p in shapely.get_parts(union) if p.geom_type == "Polygon" and p.area > 0.5]
        if not polys:
            continue
        first = len(tiles)
        tiles.extend(polys)
        tile_deck.extend([int(d)] * len(polys))
        tree = shapely.STRtree(polys)
        with_pt = members[ok[members]]
        ri, ti = tree.query(shapely.points(room_point[with_pt]), predicate="within")
        room_tile[with_pt[ri]] = first + ti
    # vertical links between walkable rooms
    vert = doors[vertical & doors["from_room"].notna().to_numpy() & doors["to_room"].notna().to_numpy()]
    l_ids, l_rooms, l_xy, l_trav, l_flow = [], [], [], [], []
    for row in vert.itertuples(index=False):
        ra, rb = pos.get(str(row.from_room)), pos.get(str(row.to_room))
        if ra is None or rb is None or room_tile[ra] < 0 or room_tile[rb] < 0 or ra == rb:
            continue
        p = row.geometry.centroid if row.geometry is not None and not row.geometry.is_empty else None
        ends = []
        for r in (ra, rb):
            c = shapely.buffer(inner[r], -clear)
            if p is not None and not c.is_empty and c.contains(p):
                ends.append((p.x, p.y))
            elif p is not None and not c.is_empty:
                q = nearest_points(c, p)[0]
                ends.append((q.x, q.y))
            else:
                ends.append(tuple(room_point[r]))
        trav = float(row.traverse_s) if row.traverse_s == row.traverse_s else settings.stairs_traverse_s
        l_ids.append(str(row.door_id))
        l_rooms.append((ra, rb))
        l_xy.append(ends)
        l_trav.append(trav)
        l_flow.append(max(0.05, settings.stairs_flow_pps_m * (float(row.width_m) - 2 * settings.boundary_layer_m)))
    layout = Layout(room_ids=ids, room_deck=deck, room_geom=geom, room_inner=inner, room_point=room_point,
                    room_tile=room_tile, tiles=tiles, tile_deck=tile_deck, door_ids=lv["door_id"].astype(str).to_numpy(),
                    door_rooms=dr, door_mid=mid, door_normal=nrm, door_width=width,
                    link_ids=np.asarray(l_ids, dtype=object), link_rooms=np.asarray(l_rooms, dtype=int).reshape(-1, 2),
                    link_xy=np.asarray(l_xy, dtype=float).reshape(-1, 2, 2), link_traverse_s=np.asarray(l_trav, dtype=float),
                    link_flow_pps=np.asarray(l_flow, dtype=float))
    layout.graph = _door_graph(layout, settings.speed_m_s)
    return layout


def _door_graph(layout: Layout, speed_m_s: float) -> Any:
    """Doors and link ends joined within each room by the straight distance (s at `speed_m_s`), links by
    their traverse time. Only rooms that are walkable join their doors."""
    nd = layout.n_doors
    nl = len(layout.link_ids)
    node_room = np.concatenate([layout.door_rooms[:, 0], layout.door_rooms[:, 1], layout.link_rooms.ravel()])
    node = np.concatenate([np.arange(nd), np.arange(nd), nd + np.arange(2 * nl)])
    xy = np.vstack([layout.door_mid, layout.door_mid, layout.link_xy.reshape(-1, 2)]) if nl else \
        np.vstack([layout.door_mid, layout.door_mid])
    walk = layout.room_tile[node_room] >= 0 if len(node_room) else np.zeros(0, dtype=bool)
    node_room, node, xy = node_room[walk], node[walk], xy[walk]
    order = np.argsort(node_room, kind="stable")
    node_room, node, xy = node_room[order], node[order], xy[order]
    rows, cols, w = [], [], []
    starts = np.flatnonzero(np.r_[True, node_room[1:] != node_room[:-1]]) if len(node_room) else np.zeros(0, int)
    ends = np.r_[starts[1:], len(node_room)]
    for s, e in zip(starts, ends):
        if e - s < 2:
            continue
        i, j = np.triu_indices(e - s, 1)
        d = np.hypot(*(xy[s + i] - xy[s + j]).T) / speed_m_s
        rows += [node[s + i], node[s + j]]
        cols += [node[s + j], node[s + i]]
        w += [np.maximum(d, 1e-6), np.maximum(d, 1e-6)]
    for k in range(nl):
        a, b = nd + 2 * k, nd + 2 * k + 1
        rows.append(np.array([a, b]))
        cols.append(np.array([b, a]))
        w.append(np.full(2, max(layout.link_traverse_s[k], 1e-6)))
    n = nd + 2 * nl
    if not rows:
        return coo_matrix((n, n)).tocsr()
    return coo_matrix((np.concatenate(w), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)).tocsr()


# ------------------------------------------------------------------------ routes
@dataclass
class _Group:
    """Walkers of one assignment: room -> safe room, with the ways out of their room.

    `options`: per door of the room (or link end in it) that leads to the safe room, (node, seconds
    from that node to the safe room, steps); a step is (kind, index, room entered): ("door", door,
    room beyond it) or ("link", link end entered, room at the other end).
    """

    room: int
    safe: int
    residents: int
    options: list[tuple[int, float, list[tuple[str, int, int]]]]


def _node_rooms(layout: Layout, node: int) -> tuple[int, int]:
    nd = layout.n_doors
    if node < nd:
        return int(layout.door_rooms[node, 0]), int(layout.door_rooms[node, 1])
    k, e = divmod(node - nd, 2)
    r = int(layout.link_rooms[k, e])
    return r, r


def _steps(layout: Layout, room: int, chain: list[int]) -> list[tuple[str, int, int]] | None:
    """The steps of a walk from `room` through the nodes of `chain`; None if the chain is not a walk."""
    nd = layout.n_doors
    steps: list[tuple[str, int, int]] = []
    cur = room
    i = 0
    while i < len(chain):
        n = chain[i]
        if n < nd:
            a, b = layout.door_rooms[n]
            if cur not in (a, b):
                return None
            cur = int(b if cur == a else a)
            steps.append(("door", int(n), cur))
            i += 1
            continue
        k, e = divmod(n - nd, 2)
        if i + 1 < len(chain) and chain[i + 1] == nd + 2 * k + 1 - e:   # traverse the link
            if layout.link_rooms[k, e] != cur:
                return None
            cur = int(layout.link_rooms[k, 1 - e])
            steps.append(("link", int(n - nd), cur))
            i += 2
            continue
        i += 1   # a link end passed without traversing: a point in the room
    return steps


def _groups(layout: Layout, rows: pd.DataFrame) -> list[_Group]:
    """Walking groups (room -> safe room) with their ways out, by shortest paths over the door graph."""
    nd = layout.n_doors
    node_rooms = np.concatenate([layout.door_rooms, np.repeat(layout.link_rooms.reshape(-1, 1), 2, axis=1)]) \
        if len(layout.link_ids) else layout.door_rooms
    out: list[_Group] = []
    for s, sub in rows.groupby("s", sort=True):
        s = int(s)
        entry = np.flatnonzero((node_rooms[:nd, 0] == s) | (node_rooms[:nd, 1] == s))
        if len(entry) == 0 or layout.room_tile[s] < 0:
            out += [_Group(int(r.r), s, int(r.residents), []) for r in sub.itertuples(index=False)]
            continue
        dist, pred, _ = dijkstra(layout.graph, indices=entry, min_only=True, return_predecessors=True)
        for r in sub.itertuples(index=False):
            room = int(r.r)
            own = np.flatnonzero((node_rooms[:, 0] == room) | (node_rooms[:, 1] == room))
            opts = []
            if layout.room_tile[room] >= 0:
                for n in own:
                    if not np.isfinite(dist[n]):
                        continue
                    chain = [int(n)]
                    while pred[chain[-1]] >= 0:
                        chain.append(int(pred[chain[-1]]))
                    steps = _steps(layout, room, chain)
                    if steps and steps[-1][2] == s:
                        opts.append((int(n), float(dist[n]), steps))
            out.append(_Group(room, s, int(r.residents), opts))
    return out


def _place(inner: shapely.Geometry, n: int, rng: np.random.Generator, settings: SimSettings) -> np.ndarray:
    """Up to `n` non-overlapping random positions inside a room's walkable part ((k, 2) array)."""
    if n <= 0 or inner is None or inner.is_empty:
        return np.zeros((0, 2))
    clear = settings.radius_m + _MARGIN_M + _SIMPLIFY_M
    core = shapely.buffer(inner, -clear)
    if core.is_empty:
        return np.zeros((0, 2))
    minx, miny, maxx, maxy = core.bounds
    for spacing, jitter in ((settings.spacing_m, (settings.spacing_m - 2 * settings.radius_m - _MARGIN_M) / 2.0),
                            (2 * settings.radius_m + _MARGIN_M, 0.0)):
        ox, oy = rng.uniform(0, spacing, 2)
        xs = np.arange(minx - ox, maxx + spacing, spacing)
        ys = np.arange(miny - oy, maxy + spacing, spacing)
        gx, gy = np.meshgrid(xs, ys)
        gx = gx.ravel() + rng.uniform(-jitter, jitter, gx.size) / math.sqrt(2)
        gy = gy.ravel() + rng.uniform(-jitter, jitter, gy.size) / math.sqrt(2)
        inside = shapely.contains_xy(core, gx, gy)
        gx, gy = gx[inside], gy[inside]
        if len(gx) >= n or jitter == 0.0:
            pick = rng.permutation(len(gx))[:n]
            return np.column_stack([gx[pick], gy[pick]])
    return np.zeros((0, 2))  # pragma: no cover


# ------------------------------------------------------------------------ one run (worker)
@dataclass
class _Job:
    scenario: str
    seed: int
    groups: list[_Group]


_CTX: dict[str, Any] = {}
"""Layout and settings for forked workers (set before the pool starts)."""


def _agent_params(jps: Any, settings: SimSettings, journey: int, stage: int, xy: Sequence[float], speed: float) -> Any:
    if settings.model == "sfm":
        return jps.SocialForceModelAgentParameters(journey_id=journey, stage_id=stage, position=tuple(xy),
                                                   desired_speed=speed, radius=settings.radius_m)
    return jps.CollisionFreeSpeedModelAgentParameters(journey_id=journey, stage_id=stage, position=tuple(xy),
                                                      desired_speed=speed, radius=settings.radius_m,
                                                      time_gap=settings.time_gap_s)


class _Area:
    """One walkable tile in JuPedSim. Agents are steered directly towards the next door on their way
    (JuPedSim's routing finds the walk there inside the tile, every step)."""

    def __init__(self, jps: Any, layout: Layout, tile: int, settings: SimSettings):
        self.jps = jps
        self.settings = settings
        model = jps.SocialForceModel() if settings.model == "sfm" else jps.CollisionFreeSpeedModel()
        self.sim = jps.Simulation(model=model, geometry=layout.tiles[tile], dt=settings.dt_s)
        self.stage = self.sim.add_direct_steering_stage()
        self.journey = self.sim.add_journey(jps.JourneyDescription([self.stage]))
        self.agent: dict[int, int] = {}   # JuPedSim id -> agent index

    def add(self, agent: int, xy: Sequence[float], speed: float, target: Sequence[float]) -> int | None:
        """Put an agent in, walking towards `target`; None where it would overlap a wall or another agent."""
        try:
            jid = self.sim.add_agent(_agent_params(self.jps, self.settings, self.journey, self.stage, xy, speed))
        except Exception:
            return None
        self.sim.agent(jid).target = (float(target[0]), float(target[1]))
        self.agent[jid] = agent
        return jid


def _step_target(layout: Layout, step: tuple[str, int, int]) -> tuple[float, float]:
    """Where an agent walks for a step: just beyond the door's midline, or to the link's end."""
    kind, ref, entered = step
    if kind == "door":
        n = layout.door_normal[ref] * (1.0 if layout.door_rooms[ref, 1] == entered else -1.0)
        p = layout.door_mid[ref] + _BEYOND_M * n
        return float(p[0]), float(p[1])
    k, e = divmod(ref, 2)
    return float(layout.link_xy[k, e, 0]), float(layout.link_xy[k, e, 1])


def _handover_points(layout: Layout, door: int, room: int, x: float, y: float) -> list[tuple[float, float]]:
    """Where an agent passing a door between tiles may enter the next tile: where it stands, else at
    the same depth on the door's axis (the next tile's walls may be a few centimetres off, and an
    agent beside a jamb would be too close to it there); never further on, which would speed it up."""
    n = layout.door_normal[door] * (1.0 if layout.door_rooms[door, 1] == room else -1.0)
    m = layout.door_mid[door]
    depth = float((np.array([x, y]) - m) @ n)
    p = m + max(depth, 0.0) * n
    return [(float(x), float(y)), (float(p[0]), float(p[1]))]


class _Run:
    """One scenario with one seed (a worker's job): agents, tiles, stair queues, the time loop.

    Per-agent arrays are indexed by agent number; times are seconds from the first step.
    """

    def __init__(self, job: _Job, layout: Layout, st: SimSettings):
        self.jps = _require_jupedsim()
        self.cpu0 = time.process_time()
        self.job, self.layout, self.st = job, layout, st
        self.rng = np.random.default_rng(job.seed)
        self.unplaced = np.zeros(len(job.groups), dtype=int)
        self._place_agents()
        n = self.n
        self.si = np.zeros(n, dtype=int)
        self.arrival = np.full(n, np.nan)
        self.waits = np.zeros((n, 4))  # own door, corridor, safe-room door, stairs
        self.areas: dict[int, _Area] = {}
        self.tile_of = np.full(n, -1, dtype=int)
        self.queues: dict[int, deque] = {}      # link end entered (2k+e) -> deque of (ready_s, agent)
        self.next_release: dict[int, float] = {}
        self.last_xy = self.start_xy.copy()
        self.anchor_xy = self.start_xy.copy()
        self.anchor_t = np.zeros(n)
        geom = layout.room_geom
        shapely.prepare(geom)
        self.own = np.empty(n, dtype=object)
        self.safe = np.empty(n, dtype=object)
        for a, g in enumerate(self.group_of):
            self.own[a] = geom[job.groups[g].room]
            self.safe[a] = geom[job.groups[g].safe]
        self.transfers = 0
        self.failed = 0
        self.stuck_end = False

    # ---------------------------------------------------------------- set-up
    def _place_agents(self) -> None:
        """Agents placed room by room; each takes the way from the door best for where it stands."""
        job, lay, st = self.job, self.layout, self.st
        starts: list[np.ndarray] = []
        group_of: list[int] = []
        by_room: dict[int, list[int]] = {}
        for g, grp in enumerate(job.groups):
            by_room.setdefault(grp.room, []).append(g)
        for room, gs in by_room.items():
            counts = [job.groups[g].residents for g in gs]
            xy = _place(lay.room_inner[room], sum(counts), self.rng, st)
            order = self.rng.permutation(np.repeat(gs, counts))
            np.add.at(self.unplaced, order[len(xy):], 1)
            starts.extend(xy)
            group_of.extend(int(g) for g in order[:len(xy)])
        self.n = n = len(starts)
        self.group_of = np.array(group_of, dtype=int)
        self.start_xy = np.array(starts, dtype=float).reshape(-1, 2)
        if st.speed_sd_m_s > 0:
            self.speed = np.clip(self.rng.normal(st.speed_m_s, st.speed_sd_m_s, n), SPEED_MIN_M_S, SPEED_MAX_M_S)
        else:
            self.speed = np.full(n, st.speed_m_s)
        self.steps: list[list[tuple[str, int, int]]] = []
        for a in range(n):
            here = self.start_xy[a]
            opts = job.groups[self.group_of[a]].options
            best = min(opts, key=lambda o: math.dist(here, lay.node_room_xy(o[0])) / st.speed_m_s + o[1])
            self.steps.append(best[2])

    def area(self, t: int) -> _Area:
        if t not in self.areas:
            self.areas[t] = _Area(self.jps, self.layout, t, self.st)
        return self.areas[t]

    def _enter(self) -> None:
        for a in range(self.n):
            t0 = int(self.layout.room_tile[self.job.groups[self.group_of[a]].room])
            jid = self.area(t0).add(a, self.start_xy[a], float(self.speed[a]),
                                    _step_target(self.layout, self.steps[a][0])) if t0 >= 0 else None
            if jid is None:
                self.failed += 1
                self.unplaced[self.group_of[a]] += 1
                self.arrival[a] = np.inf  # never placed: not secured, reported as unplaced
            else:
                self.tile_of[a] = t0

    # ---------------------------------------------------------------- stairs
    def release(self, t: float) -> None:
        """Walkers whose traverse is over step off the stairs at the far end, at the stairs' flow."""
        lay = self.layout
        for node, q in self.queues.items():
            k, e = divmod(node, 2)
            while q and q[0][0] <= t + 1e-9 and self.next_release.get(node, -1.0) <= t + 1e-9:
                ready, a = q[0]
                if self.si[a] + 1 >= len(self.steps[a]):    # the safe room is the stairs' far end
                    self.arrival[a] = t
                    q.popleft()
                    continue
                tile = int(lay.room_tile[lay.link_rooms[k, 1 - e]])
                xy = lay.link_xy[k, 1 - e]
                jid = self.area(tile).add(a, xy, float(self.speed[a]), _step_target(lay, self.steps[a][self.si[a] + 1]))
                if jid is None:
                    break
                q.popleft()
                self.si[a] += 1
                self.tile_of[a] = tile
                self.waits[a, 3] += max(0.0, t - ready)
                self.last_xy[a] = self.anchor_xy[a] = xy
                self.anchor_t[a] = t
                self.next_release[node] = t + 1.0 / lay.link_flow_pps[k]

    # ---------------------------------------------------------------- checks
    def _read(self, active: list[_Area]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Any], list[int], list[_Area]]:
        """Positions of every simulated agent: (agents, x, y, handles, JuPedSim ids, tiles)."""
        ids: list[int] = []
        xs: list[float] = []
        ys: list[float] = []
        wraps: list[Any] = []
        jl: list[int] = []
        owner: list[_Area] = []
        for ar in active:
            amap = ar.agent
            for ag in ar.sim.agents():
                j = ag.id
                a = amap.get(j)
                if a is not None:
                    x, y = ag.position
                    ids.append(a)
                    xs.append(x)
                    ys.append(y)
                    wraps.append(ag)
                    jl.append(j)
                    owner.append(ar)
        return np.array(ids, dtype=int), np.array(xs, dtype=float), np.array(ys, dtype=float), wraps, jl, owner

    def _done(self, ia: np.ndarray, px: np.ndarray, py: np.ndarray,
              cur: list[tuple[str, int, int]]) -> np.ndarray:
        """Which agents finished their step: past the door (inside the room beyond) or at the stairs."""
        lay = self.layout
        is_door = np.array([c[0] == "door" for c in cur], dtype=bool)
        entered = np.array([c[2] for c in cur], dtype=int)
        done = np.zeros(len(ia), dtype=bool)
        if is_door.any():
            done[is_door] = shapely.contains_xy(lay.room_geom[entered[is_door]], px[is_door], py[is_door])
        if (~is_door).any():
            lk = np.array([c[1] for c in cur], dtype=int)[~is_door]
            end = lay.link_xy[lk // 2, lk % 2]
            done[~is_door] = np.hypot(px[~is_door] - end[:, 0], py[~is_door] - end[:, 1]) < _LINK_M
        return done

    def _advance(self, t: float, ia: np.ndarray, px: np.ndarray, py: np.ndarray, done: np.ndarray,
                 cur: list[tuple[str, int, int]], wraps: list[Any], jl: list[int], owner: list[_Area]) -> None:
        """Next door for those walking on in their tile; then tile changes, arrivals and stairs."""
        lay = self.layout
        # JuPedSim's agent handles are views into its agent vector: set the targets of those walking
        # on in their tile first, before any agent is added (which may move that vector)
        leaving = []
        for i in np.flatnonzero(done):
            a = int(ia[i])
            kind, _, room = cur[i]
            if kind == "door" and self.si[a] + 1 < len(self.steps[a]) and lay.room_tile[room] == self.tile_of[a]:
                self.si[a] += 1
                wraps[i].target = _step_target(lay, self.steps[a][self.si[a]])
            else:
                leaving.append(i)
        for i in leaving:
            a = int(ia[i])
            kind, ref, room = cur[i]
            if kind == "door" and self.si[a] + 1 < len(self.steps[a]):   # into another tile: same place, same way on
                tile = int(lay.room_tile[room])
                target = _step_target(lay, self.steps[a][self.si[a] + 1])
                jid = None
                for xy in _handover_points(lay, ref, room, px[i], py[i]):
                    jid = self.area(tile).add(a, xy, float(self.speed[a]), target)
                    if jid is not None:
                        break
                if jid is None:
                    continue                         # no room there yet: try again at the next check
                self.transfers += 1
                self.si[a] += 1
                self.tile_of[a] = tile
            elif kind == "door":                     # inside the safe room
                self.arrival[a] = t
                self.tile_of[a] = -1
            else:                                    # on the stairs
                self.queues.setdefault(ref, deque()).append((t + float(lay.link_traverse_s[ref // 2]), a))
                self.tile_of[a] = -1
            owner[i].sim.mark_agent_for_removal(jl[i])
            owner[i].agent.pop(jl[i], None)

    def _sample(self, t: float, ia: np.ndarray, px: np.ndarray, py: np.ndarray, done: np.ndarray) -> bool:
        """Waiting time by place for the slow; True when every agent still walking is stuck."""
        st = self.st
        moved = np.hypot(px - self.last_xy[ia, 0], py - self.last_xy[ia, 1])
        slow = ~done & (moved < 0.5 * self.speed[ia] * st.sample_s)
        if slow.any():
            sa = ia[slow]
            sx, sy = px[slow], py[slow]
            in_own = shapely.contains_xy(self.own[sa], sx, sy)
            near_safe = shapely.dwithin(self.safe[sa], shapely.points(sx, sy), _NEAR_M)
            on_link = np.array([self.steps[a][self.si[a]][0] == "link" for a in sa], dtype=bool)
            zone = np.where(in_own, 0, np.where(on_link, 3, np.where(near_safe, 2, 1)))
            np.add.at(self.waits, (sa, zone), st.sample_s)
        self.last_xy[ia, 0], self.last_xy[ia, 1] = px, py
        far = np.hypot(px - self.anchor_xy[ia, 0], py - self.anchor_xy[ia, 1]) > _STUCK_M
        self.anchor_xy[ia[far]] = np.column_stack([px[far], py[far]])
        self.anchor_t[ia[far]] = t
        return bool((t - self.anchor_t[ia[~done]]).min(initial=0.0) >= st.stall_s)

    # ---------------------------------------------------------------- the loop
    def run(self) -> dict[str, Any]:
        job, st = self.job, self.st
        self._enter()
        logger.info("%s seed %d: %d agents placed in %d tiles, %.1f s CPU", job.scenario, job.seed,
                    self.n - self.failed, len(self.areas), time.process_time() - self.cpu0)
        dt = st.dt_s
        check_every = max(1, int(round(_CHECK_S / dt)))
        sample_every = max(1, int(round(st.sample_s / (check_every * dt)))) * check_every
        max_steps = int(math.ceil(st.max_s / dt))
        step = 0
        while step < max_steps:
            if step % 2000 == 0:
                logger.info("%s seed %d: t = %.0f s, %d walking, %d arrived, %.1f s CPU", job.scenario, job.seed,
                            step * dt, int((self.tile_of >= 0).sum()), int(np.isfinite(self.arrival).sum()),
                            time.process_time() - self.cpu0)
            active = [ar for ar in self.areas.values() if ar.sim.agent_count() > 0]
            pending = any(self.queues.values())
            if not active and not pending:
                break
            for ar in active:
                ar.sim.iterate()
            step += 1
            if step % check_every:
                continue
            t = step * dt
            ia, px, py, wraps, jl, owner = self._read(active)
            if len(ia):
                cur = [self.steps[a][self.si[a]] for a in ia]
                done = self._done(ia, px, py, cur)
                self._advance(t, ia, px, py, done, cur, wraps, jl, owner)
                if step % sample_every == 0 and self._sample(t, ia, px, py, done) and not pending:
                    self.stuck_end = True
                    break
            if pending or any(self.queues.values()):
                self.release(t)
        walking = np.isnan(self.arrival)
        cpu = time.process_time() - self.cpu0
        logger.info("%s seed %d: ended at %.1f s, %d arrived, %d not, %d tile transfers, %.1f s CPU", job.scenario,
                    job.seed, step * dt, int(np.isfinite(self.arrival).sum()), int(walking.sum()), self.transfers, cpu)
        return {"scenario": job.scenario, "seed": job.seed, "group": self.group_of, "arrival_s": self.arrival,
                "speed_m_s": self.speed, "waits": self.waits, "unplaced": self.unplaced, "end_s": step * dt,
                "stuck_end": self.stuck_end, "never_arrived": int(walking.sum()), "placed_failed": self.failed,
                "transfers": self.transfers, "cpu_s": cpu}


def _run(job: _Job) -> dict[str, Any]:
    """Simulate one scenario with one seed (see `_Run`)."""
    return _Run(job, _CTX["layout"], _CTX["settings"]).run()


def _forked(job: _Job) -> dict[str, Any]:
    return _run(job)


# ------------------------------------------------------------------------ the public function
def simulate_plan(station: Station, plan: dict, *, scenarios: Sequence[str] | None = None,
                  decks: Sequence[int] | None = None, model: str = "cfsm", seeds: int = 3,
                  speed_sd: float = 0.0, reaction_s: float | None = None, speed: float | None = None,
                  workers: int = 2, settings: SimSettings | None = None) -> SimulationResult:
    """Replay a plan in JuPedSim and measure who is inside a safe room when.

    Parameters
    ----------
    station : Station
        The station the plan was made for.
    plan : dict
        A plan (plan.json content): its `assignments` (room_id, scenario, safe_room_id,
        residents, walk_s, optional predicted_s) are simulated.
    scenarios : sequence of str, optional
        Occupancy scenarios to simulate (default: every scenario of the plan).
    decks : sequence of int, optional
        Only walkers whose room and safe room lie on these decks (and whose route stays on
        them); the others are counted as `excluded`. Default: every deck, coupled.
    model : {"cfsm", "sfm"}
        Collision-free speed model (default) or social force model.
    seeds : int
        Runs per scenario with seeds 0 .. seeds-1 (placement and speeds); the worst is reported.
    speed_sd : float
        Standard deviation of the desired speed (m/s); 0 = everyone at the mean speed.
    reaction_s : float, optional
        Seconds between the alarm and the first step (default: the station's `reaction_s`).
    speed : float, optional
        Mean desired speed (m/s; default: the station's `walk_speed_m_s`).
    workers : int
        Processes running scenario x seed jobs (1 = in this process).
    settings : SimSettings, optional
        Every setting at once (the keyword options above are then ignored).

    Returns
    -------
    SimulationResult
    """
    if settings is None:
        params = plan_parameters(plan, station.params)
        settings = SimSettings.from_params(params, model=model, seeds=seeds, speed_sd_m_s=speed_sd,
                                           reaction_s=reaction_s, speed_m_s=speed)
    else:
        settings.validate()
    jps = _require_jupedsim()
    scen_all = list(dict.fromkeys(str(s) for s in pd.DataFrame(plan.get("assignments", []))
                                  .get("scenario", pd.Series(dtype=str)))) or list(station.scenarios)
    if scenarios:
        bad = [s for s in scenarios if s not in station.scenarios]
        if bad:
            raise InputError("--scenario", ", ".join(bad), "is not an occupancy scenario of the station",
                             f"use one of {', '.join(station.scenarios)}")
        scen = list(scenarios)
    else:
        scen = [s for s in station.scenarios if s in scen_all] or list(station.scenarios)
    layout = build_layout(station, settings)
    if decks:
        known = set(int(d) for d in np.unique(layout.room_deck))
        bad_d = [d for d in decks if int(d) not in known]
        if bad_d:
            raise InputError("--deck", ", ".join(map(str, bad_d)), "is not a deck of the station",
                             f"use one of {', '.join(map(str, sorted(known)))}")
    deck_set = set(int(d) for d in decks) if decks else None
    a = pd.DataFrame(plan.get("assignments", []))
    if a.empty:
        a = pd.DataFrame(columns=["room_id", "scenario", "safe_room_id", "residents", "walk_s"])
    a = a[a["scenario"].astype(str).isin(scen)].copy()
    a["room_id"] = a["room_id"].astype(str)
    a["safe_room_id"] = a["safe_room_id"].astype(str)
    a["residents"] = pd.to_numeric(a["residents"]).astype(int)
    pos = layout.index()
    unknown = sorted((set(a["room_id"]) | set(a["safe_room_id"])) - set(pos))
    if unknown:
        raise InputError("plan.json", "assignments", f"name rooms not in the station: {', '.join(unknown[:5])}",
                         "simulate the plan with the station it was made for")
    a["r"] = a["room_id"].map(pos)
    a["s"] = a["safe_room_id"].map(pos)
    a["predicted_s"] = pd.to_numeric(a["predicted_s"], errors="coerce") if "predicted_s" in a else np.nan
    a["predicted_s"] = a["predicted_s"].fillna(pd.to_numeric(a.get("walk_s"), errors="coerce"))
    demand = station.demand()
    room_deck = pd.Series(layout.room_deck, index=layout.room_ids)
    jobs: list[_Job] = []
    heads: dict[str, dict[str, Any]] = {}
    group_rows: dict[str, pd.DataFrame] = {}
    for sc in scen:
        rows = a[a["scenario"].astype(str) == sc]
        if deck_set:
            rows = rows[rows["room_id"].map(room_deck).isin(deck_set)]
            total = int(demand.loc[room_deck[room_deck.isin(deck_set)].index, sc].sum()) if sc in demand else 0
        else:
            total = int(demand[sc].sum()) if sc in demand else int(rows["residents"].sum())
        sip = rows[rows["r"] == rows["s"]]
        wk = rows[rows["r"] != rows["s"]].reset_index(drop=True)
        groups = _groups(layout, wk)
        order = {(g.room, g.safe): g for g in groups}
        kept_groups, kept, excluded = [], [], 0
        for row in wk.itertuples(index=False):
            g = order[(int(row.r), int(row.s))]
            g = _Group(g.room, g.safe, int(row.residents), g.options)
            if deck_set:
                g.options = [o for o in g.options
                             if all(int(layout.room_deck[st_[2]]) in deck_set for st_ in o[2])]
                if not g.options or int(layout.room_deck[g.safe]) not in deck_set:
                    excluded += g.residents
                    continue
            kept_groups.append(g)
            kept.append(row)
        assigned = int(sip["residents"].sum()) + int(wk["residents"].sum())
        heads[sc] = {"residents": total - excluded, "sheltered_in_place": int(sip["residents"].sum()),
                     "walkers": int(wk["residents"].sum()) - excluded, "excluded": excluded,
                     "unsheltered": max(0, total - assigned), "groups": kept_groups}
        group_rows[sc] = pd.DataFrame(kept, columns=wk.columns) if kept else wk.iloc[0:0]
        routable = [g for g in kept_groups if g.options]
        for seed in range(settings.seeds):
            jobs.append(_Job(scenario=sc, seed=seed, groups=routable))
    _CTX["layout"] = layout
    _CTX["settings"] = settings
    results = _map_jobs(jobs, workers)
    return _aggregate(station, plan, layout, settings, scen, heads, group_rows, jobs, results, jps.__version__)


def _map_jobs(jobs: list[_Job], workers: int) -> list[dict[str, Any]]:
    """Run the jobs, in forked worker processes when asked and possible (same results, same order)."""
    workers = max(1, min(int(workers), len(jobs)))
    if workers > 1 and "fork" in mp.get_all_start_methods():
        try:
            with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as ex:
                return list(ex.map(_forked, jobs))
        except Exception as exc:  # a broken pool: do the work here
            logger.warning("simulation workers failed (%s); running in this process", exc)
    return [_run(j) for j in jobs]


# ------------------------------------------------------------------------ aggregation
def _curve(times: np.ndarray, base: int, total: int, t_end: float) -> list[list[float]]:
    """[[t_s, share], ...] every second from 0 to the last arrival (or t_end), rounded."""
    if total <= 0:
        return [[0.0, 1.0]]
    done_t = np.sort(times[np.isfinite(times)])
    last = float(done_t[-1]) if len(done_t) else 0.0
    horizon = max(last, t_end)
    grid = np.arange(0.0, math.ceil(horizon) + 1.0, 1.0)
    counts = np.searchsorted(done_t, grid, side="right")
    return [[float(t), round((base + int(c)) / total, 6)] for t, c in zip(grid, counts)]


def _aggregate(station: Station, plan: dict, layout: Layout, st: SimSettings, scen: list[str],
               heads: dict[str, dict], group_rows: dict[str, pd.DataFrame], jobs: list[_Job],
               results: list[dict], version: str) -> SimulationResult:
    scenarios: dict[str, dict[str, Any]] = {}
    assignments: list[dict[str, Any]] = []
    late_rooms: list[dict[str, Any]] = []
    frames = []
    for sc in scen:
        h = heads[sc]
        runs = [(j, r) for j, r in zip(jobs, results) if j.scenario == sc]
        all_groups: list[_Group] = h["groups"]
        routable = [g for g in all_groups if g.options]
        no_route = sum(g.residents for g in all_groups if not g.options)
        total = h["residents"]
        sip = h["sheltered_in_place"]
        per_seed: list[dict[str, Any]] = []
        for j, r in runs:
            arr = r["arrival_s"] + st.reaction_s
            arr = np.where(np.isfinite(arr), arr, np.inf)
            arr_all = np.concatenate([arr, np.full(int(r["unplaced"].sum()) - r["placed_failed"] + no_route, np.inf)])
            within = int((arr_all <= st.reach_s + 1e-9).sum())
            fin = arr_all[np.isfinite(arr_all)]
            per_seed.append({"seed": j.seed, "share_within_reach": round((sip + within) / total, 6) if total else 1.0,
                             "last_arrival_s": round(float(fin.max()), 2) if len(fin) else 0.0,
                             "deadlocked": int(r["never_arrived"]), "unplaced": int(r["unplaced"].sum()),
                             "no_route": no_route, "end_s": round(float(r["end_s"]), 2),
                             "stalled_end": bool(r["stuck_end"]), "tile_transfers": int(r["transfers"]),
                             "cpu_s": round(float(r["cpu_s"]), 1), "_arr": arr_all})
            g = r["group"]
            gr = routable
            frames.append(pd.DataFrame({
                "scenario": sc, "seed": j.seed,
                "room_id": [layout.room_ids[gr[i].room] for i in g],
                "safe_room_id": [layout.room_ids[gr[i].safe] for i in g],
                "group": g, "speed_m_s": r["speed_m_s"], "arrival_s": arr,
                "wait_own_door_s": r["waits"][:, 0], "wait_corridor_s": r["waits"][:, 1],
                "wait_safe_door_s": r["waits"][:, 2], "wait_stairs_s": r["waits"][:, 3]}))
        worst: dict[str, Any] | None = min(per_seed, key=lambda d: (d["share_within_reach"], -d["last_arrival_s"])) if per_seed else None
        curve = _curve(worst["_arr"], sip, total, st.reach_s) if worst else [[0.0, 1.0]]
        within_s = {}
        for mark in CURVE_MARKS_S:
            n_in = int((worst["_arr"] <= mark + 1e-9).sum()) if worst else 0
            within_s[str(int(mark))] = round((sip + n_in) / total, 6) if total else 1.0
        scenarios[sc] = {
            "residents": total, "agents": h["walkers"], "sheltered_in_place": sip,
            "unsheltered": h["unsheltered"], "excluded": h["excluded"], "no_route": no_route,
            "unplaced": worst["unplaced"] if worst else 0,
            "share_within_reach": worst["share_within_reach"] if worst else 1.0,
            "share_walkers_within_reach": (round(float((worst["_arr"] <= st.reach_s + 1e-9).sum()) / len(worst["_arr"]), 6)
                                           if worst and len(worst["_arr"]) else 1.0),
            "within_s": within_s,
            "last_arrival_s": worst["last_arrival_s"] if worst else 0.0,
            "curve": curve, "deadlocked": worst["deadlocked"] if worst else 0,
            "seeds": [{k: v for k, v in d.items() if k != "_arr"} for d in per_seed],
            "worst_seed": worst["seed"] if worst else None,
        }
        # per assignment, over all seeds
        rows = group_rows[sc]
        mine = [f for f in frames if len(f) and f["scenario"].iloc[0] == sc]
        ag = pd.concat(mine) if mine else pd.DataFrame()
        stats = {}
        if len(ag):
            fin = ag.assign(fin=np.isfinite(ag["arrival_s"]))
            grp = fin.groupby(["room_id", "safe_room_id"])
            stats = {k: v for k, v in zip(grp.groups.keys(), zip(
                grp["arrival_s"].apply(lambda s: s[np.isfinite(s)].min() if np.isfinite(s).any() else None),
                grp["arrival_s"].apply(lambda s: s[np.isfinite(s)].median() if np.isfinite(s).any() else None),
                grp["arrival_s"].apply(lambda s: s[np.isfinite(s)].max() if np.isfinite(s).any() else None),
                grp["fin"].apply(lambda s: int((~s).sum()))))}
        for row in rows.itertuples(index=False):
            key = (row.room_id, row.safe_room_id)
            first, med, last, never = stats.get(key, (None, None, None, int(row.residents) * st.seeds))
            rec = {"room_id": row.room_id, "scenario": sc, "safe_room_id": row.safe_room_id,
                   "residents": int(row.residents), "predicted_s": _r(row.predicted_s),
                   "walk_s": _r(getattr(row, "walk_s", None)),
                   "sim_first_s": _r(first), "sim_median_s": _r(med), "sim_last_s": _r(last),
                   "deadlocked": int(never), "seeds": st.seeds}
            assignments.append(rec)
            if never or (last is not None and last > st.reach_s + 1e-9):
                sub = ag[(ag["room_id"] == row.room_id) & (ag["safe_room_id"] == row.safe_room_id)] if len(ag) else ag
                late = sub[~(sub["arrival_s"] <= st.reach_s + 1e-9)] if len(sub) else sub
                wsum = {c: float(late[col].mean()) if len(late) else 0.0 for c, col in (
                    ("own door", "wait_own_door_s"), ("corridor", "wait_corridor_s"),
                    ("safe-room door", "wait_safe_door_s"), ("stairs", "wait_stairs_s"))}
                cause = "stall" if never else max(wsum, key=lambda c: wsum[c])
                late_rooms.append({"room_id": row.room_id, "scenario": sc, "safe_room_id": row.safe_room_id,
                                   "late_s": None if never else _r(last - st.reach_s), "cause": cause,
                                   "late_agents": int(len(late)), "wait_s": {k: round(v, 1) for k, v in wsum.items()}})
        scenarios[sc]["prediction"] = _prediction_stats([x for x in assignments if x["scenario"] == sc])
    late_rooms.sort(key=lambda d: (d["late_s"] is not None, -(d["late_s"] or 0.0)))
    params = dict(st.to_dict(), engine=f"JuPedSim {version}", station=station.title,
                  plan_created=plan.get("created"), rooms=len(layout.room_ids),
                  tiles=len(layout.tiles), doors=int(layout.n_doors), vertical_links=len(layout.link_ids),
                  speed_clip_m_s=[SPEED_MIN_M_S, SPEED_MAX_M_S])
    agents = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return SimulationResult(scenarios=scenarios, assignments=assignments, late_rooms=late_rooms,
                            parameters=params, agents=agents)


def _prediction_stats(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """How the plan's per-assignment prediction compares with the simulated last arrival (issue 17's
    targets): the share of assignments whose last arrival is predicted within 5 % or 2 s, the share
    simulated later than predicted by more than 5 % / 10 s, and those predicted more than 5 s early."""
    pairs = [(float(r["predicted_s"]), float(r["sim_last_s"]) if r["sim_last_s"] is not None else math.inf)
             for r in rows if r.get("predicted_s") is not None]
    if not pairs:
        return {"assignments": 0}
    p = np.array([a for a, _ in pairs])
    q = np.array([b for _, b in pairs])
    close = np.abs(q - p) <= np.maximum(0.05 * p, 2.0)
    return {"assignments": len(pairs), "share_within_5pct_or_2s": round(float(close.mean()), 4),
            "share_late_over_5pct": round(float((q > 1.05 * p).mean()), 4),
            "share_late_over_10s": round(float((q > p + 10.0).mean()), 4),
            "predicted_early_over_5s": int((q > p + 5.0).sum()),
            "median_sim_minus_predicted_s": _r(np.median((q - p)[np.isfinite(q)]) if np.isfinite(q).any() else None)}


def _r(v: Any, nd: int = 2) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return round(f, nd) if math.isfinite(f) else None


# ------------------------------------------------------------------------ outputs
def summary_lines(result: SimulationResult | dict) -> list[str]:
    """Plain-language lines: share secured within 1, 2 and 4 minutes, last arrival, deadlocks, per scenario."""
    d = result.to_dict() if isinstance(result, SimulationResult) else result
    reach = float(d.get("parameters", {}).get("reach_s", 60.0))
    lines = []
    for sc, s in d["scenarios"].items():
        marks = ", ".join(f"{float(v):.1%} within {int(k) // 60} min" for k, v in s.get("within_s", {}).items())
        lines.append(f"{sc:>9}: {s['share_within_reach']:.1%} of {s['residents']:,} residents secured within "
                     f"{reach:.0f} s (worst of {len(s['seeds'])} seeds; {s['sheltered_in_place']:,} shelter in place, "
                     f"{s['agents']:,} walk); {marks}; last arrival {s['last_arrival_s']:.1f} s; "
                     f"{s['deadlocked']} deadlocked")
    late = d.get("late_rooms", [])
    if late:
        by = pd.Series([r["cause"] for r in late]).value_counts()
        lines.append(f"late rooms: {len(late)} ({', '.join(f'{c}: {n}' for c, n in by.items())})")
    return lines


def plot_curve(result: SimulationResult | dict, path: Path) -> Path:
    """The arrival curve (share of residents secured against time, one line per scenario) as PNG."""
    d = result.to_dict() if isinstance(result, SimulationResult) else result
    reach = float(d.get("parameters", {}).get("reach_s", 60.0))
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    t_max = reach
    for sc, s in d["scenarios"].items():
        c = np.asarray(s["curve"], dtype=float).reshape(-1, 2)
        ax.step(c[:, 0], c[:, 1] * 100.0, where="post", label=f"{sc} ({s['share_within_reach']:.1%} by {reach:.0f} s)")
        t_max = max(t_max, float(c[-1, 0]))
    ax.axvline(reach, color="k", ls="--", lw=1)
    ax.axhline(99.5, color="grey", ls=":", lw=1)
    ax.set_xlim(0, max(t_max, 240.0) if t_max > reach else t_max * 1.05)
    ax.set_ylim(0, 100.5)
    ax.set_xlabel("time after the alarm (s)")
    ax.set_ylabel("residents inside a safe room (%)")
    ax.set_title(f"Simulated arrivals ({d.get('parameters', {}).get('engine', 'JuPedSim')}, "
                 f"{d.get('parameters', {}).get('model', '')}, worst seed)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.png")
    try:
        fig.savefig(tmp)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    return path


def write_simulation(result: SimulationResult, out_dir: str | Path) -> dict[str, Path]:
    """Write `simulation.json`, `arrival-curve.png`, `simulation.xlsx` (the Verification and Arrival
    curve sheets) and `agents.csv` (per agent and seed) into `out_dir`.

    Returns {"json": path, "png": path, "xlsx": path, "agents": path}. Files are written to
    temporary names and moved into place.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    d = result.to_dict()
    paths = {"json": write_json_atomic(out / "simulation.json", d),
             "png": plot_curve(result, out / "arrival-curve.png"),
             "xlsx": write_verification_workbook(out / "simulation.xlsx", str(d["parameters"].get("station", "")), d)}
    if len(result.agents):
        paths["agents"] = write_table(result.agents.round(3), out / "agents.csv")
    return paths
