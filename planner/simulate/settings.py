"""Settings, results and constants of the pedestrian simulation (see `planner.simulate`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from planner.errors import InputError
from planner.params import Parameters

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
      residents, predicted_s (the estimated last arrival, `planner.estimate.estimated_arrivals`,
      recomputed from the station and the plan; the plan's `predicted_s`, else its `walk_s`, where
      it cannot be estimated), planned_s (the conservative planned time: the plan's `planned_s`,
      else its `predicted_s` for a plan from before that field), walk_s, sim_first_s, sim_median_s, sim_last_s (over all seeds; None when nobody
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
