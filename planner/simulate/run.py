"""One simulation run (one scenario, one seed) in JuPedSim, in this process or a worker (see `planner.simulate`)."""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import shapely

from planner.simulate.settings import (
    SPEED_MAX_M_S, SPEED_MIN_M_S, SimSettings, _BEYOND_M, _CHECK_S, _LINK_M, _NEAR_M, _STUCK_M,
    _require_jupedsim,
)
from planner.simulate.layout import Layout, _Group, _place

logger = logging.getLogger(__name__)


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

    def _end_steps(self) -> list[str]:
        """Where each agent was on its way when the run ended: the step it was walking ("door D-1", "link
        S-2", or "" once arrived)."""
        lay = self.layout
        out = []
        for a in range(self.n):
            if np.isfinite(self.arrival[a]) or self.si[a] >= len(self.steps[a]):
                out.append("")
                continue
            kind, ref, _ = self.steps[a][self.si[a]]
            out.append(f"door {lay.door_ids[ref]}" if kind == "door" else f"link {lay.link_ids[ref // 2]}")
        return out

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
                "transfers": self.transfers, "cpu_s": cpu,
                "end_xy": self.last_xy.copy(), "end_step": self._end_steps()}


def _run(job: _Job) -> dict[str, Any]:
    """Simulate one scenario with one seed (see `_Run`)."""
    return _Run(job, _CTX["layout"], _CTX["settings"]).run()


def _forked(job: _Job) -> dict[str, Any]:
    return _run(job)
