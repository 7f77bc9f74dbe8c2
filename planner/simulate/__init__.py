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

The package's modules, imported one way: `settings` (constants, `SimSettings`,
`SimulationResult`) -> `layout` (walkable area, door graph, routes) -> `run` (one scenario and
seed in JuPedSim) -> `replay` (`simulate_plan`, aggregation over runs) -> `outputs` (summary,
curve, files).
"""

from __future__ import annotations

from planner.simulate.layout import Layout, build_layout
from planner.simulate.outputs import plot_curve, summary_lines, write_simulation
from planner.simulate.replay import simulate_plan
from planner.simulate.settings import (
    CAUSES,
    CURVE_MARKS_S,
    MODELS,
    SPEED_MAX_M_S,
    SPEED_MIN_M_S,
    SimSettings,
    SimulationResult,
    jupedsim_available,
)

__all__ = [
    "CAUSES", "CURVE_MARKS_S", "MODELS", "SPEED_MAX_M_S", "SPEED_MIN_M_S", "Layout", "SimSettings",
    "SimulationResult", "build_layout", "jupedsim_available", "plot_curve", "simulate_plan",
    "summary_lines", "write_simulation",
]
