"""Every number a user may change, in one typed object.

`Parameters` holds the defaults (docs/model.md says where each is used). A station's `scenario.toml`
overrides them section by section::

    [walking]
    speed_m_s = 1.1

    [model]
    budget = 2_500_000
    backup_k = 2

    [[phases]]
    name = "Phase 1"
    max_rooms = 10
    max_days = 3

Unknown sections or keys, and values of the wrong type, are errors that name
the file, the key and the fix. Field names carry their unit (`_m`, `_s`,
`_m2`, `_pps` = persons per second, `_h`, ...); `currency` names the money unit
of every cost field.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import tomllib
import typing
from dataclasses import dataclass, field, fields
from functools import cache, partial
from pathlib import Path
from typing import Any, TypeVar

from planner.errors import InputError

KNOWN_KINDS: tuple[str, ...] = (
    "quarters", "storage", "recreation", "corridor", "lab", "office", "galley",
    "medical", "operations", "utility", "stairs", "lift", "workshop", "hygiene",
    "classroom", "auditorium", "lobby", "other",
)
"""Room kinds the planner knows. Corridors, stairs and lifts are circulation."""

CIRCULATION_KINDS: tuple[str, ...] = ("corridor", "stairs", "lift", "lobby")

CONVERSION_MODES: tuple[str, ...] = ("dual_use", "repurpose", "either")
"""How a room becomes a safe room (docs/model.md, "Conversion modes and relocation"):
`dual_use` keeps its use and its occupants, who shelter in place; `repurpose` empties it:
its residents (rooms with beds) move to rooms with spare beds; `either`: the optimiser
chooses one of the two for each converted room (the plan states which)."""

_T = TypeVar("_T")


def _p(default: _T, unit: str, doc: str, section: str, source: str = "") -> _T:
    """A parameter field with its unit, description, TOML section and source note."""
    meta = {"unit": unit, "doc": doc, "section": section, "source": source}
    if isinstance(default, (list, dict)):
        return field(default_factory=partial(copy.copy, default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Phase:
    """One construction phase. Phase k's rooms stay converted in phase k+1."""

    name: str
    max_rooms: int | None = None
    max_days: float | None = None
    """Crew-days of elapsed time available for this phase (days)."""
    crews: int | None = None
    """Crews working in parallel in this phase; None = `labour.crews`."""
    budget: float | None = None
    """Cumulative budget up to the end of this phase (currency); None = no limit beyond the total."""
    duration_days: float = 30.0
    """How long the phase lasts before the next one ends (days); weights early coverage."""


@dataclass(frozen=True)
class Parameters:
    """All planner parameters with their defaults, units and sources (docs/model.md: where each is used).

    Build one with keyword arguments (``Parameters(reach_s=90.0)``), from a scenario file
    (`load_parameters`), or change one with `replace` (type-checked). Every field's unit is in its
    name and in ``dataclasses.fields(Parameters)[i].metadata["unit"]``; `describe()` lists them.
    """

    # --- station -----------------------------------------------------------
    station_title: str | None = _p(None, "", "Station name shown in reports and maps (default: the folder name)",
                                   "station")
    deck_word: str = _p("deck", "", "What the floors are called in reports and maps (deck, level, floor)", "station")

    # --- walking -----------------------------------------------------------
    walk_speed_m_s: float = _p(1.2, "m/s", "Walking speed, unimpeded adult on the level", "walking",
                               "SFPE Handbook: 1.2 m/s typical free walking speed")
    reach_s: float = _p(60.0, "s", "Reach time: every resident must be inside a safe room by then", "walking",
                        "Station security directive")
    reaction_s: float = _p(0.0, "s", "Alarm reaction time added to every walk", "walking")
    slow_walker_speed_m_s: float = _p(1.2, "m/s", "Design walking speed the 60-second promise is planned for: "
                                      "walks are timed at this speed (or walk_speed_m_s when that is slower); the workbook "
                                      "states the slowest speed the plan holds for", "walking",
                                      "IMO MSC.1/Circ.1533 Table 3.4 (walking speeds on flat terrain: "
                                      "0.56-0.94 m/s for women over 50, 0.93-1.55 m/s for women under 30); "
                                      "SFPE Handbook: mean 1.2 m/s, sd about 0.2 m/s, so 10th percentile 0.94 m/s")
    walk_speed_sd_m_s: float = _p(0.2, "m/s", "Spread (standard deviation) of residents' walking speeds around "
                                  "walk_speed_m_s, for the share of residents the plan's margin covers", "walking",
                                  "SFPE Handbook / Fruin: unimpeded adult speeds about N(1.2, 0.2) m/s; "
                                  "issue 17 simulation")
    exit_queue: bool = _p(True, "", "Count the queue at each resident's own room door (n / exit flow of the "
                          "room's widest door) in every walk the model and the checker time", "walking",
                          "issue 17: JuPedSim replay of Station Unity, half of all delay")
    stairs_traverse_s: float = _p(12.0, "s", "Time to traverse one vertical link when the door gives no traverse_s", "walking",
                                  "about one deck of stairs at 0.6 m/s along the flight")
    lift_traverse_s: float = _p(20.0, "s", "Time to ride a lift one deck (call, doors, travel); used by import-imdf for lift links", "walking",
                                "typical low-rise passenger lift: ~10 s wait and doors + ~1 m/s travel")
    boundary_sample_m: float = _p(0.5, "m", "Spacing of boundary samples when finding a room's farthest point", "walking")
    door_snap_m: float = _p(0.05, "m", "Tolerance within which a door touches a room boundary", "walking")
    shelter_in_place: bool = _p(True, "", "Residents of a converted room shelter where they are (0 s walk, no door queue)", "walking")

    # --- doors ------------------------------------------------------------------
    door_specific_flow_pps_m: float = _p(1.3, "persons/s/m", "Maximum specific flow through doors and corridors", "doors",
                                         "IMO MSC.1/Circ.1533 evacuation analysis for ships")
    door_boundary_layer_m: float = _p(0.15, "m", "Boundary layer on each side of a door, subtracted from its width", "doors",
                                      "IMO MSC.1/Circ.1533")
    stairs_flow_down_pps_m: float = _p(1.1, "persons/s/m", "Specific flow on stairs going down", "doors", "IMO MSC.1/Circ.1533")
    stairs_flow_up_pps_m: float = _p(0.88, "persons/s/m", "Specific flow on stairs going up", "doors", "IMO MSC.1/Circ.1533")
    default_door_width_m: float = _p(0.9, "m", "Door width when the input gives none", "doors")

    # --- capacity ---------------------------------------------------------------
    area_per_occupant_m2: float = _p(1.86, "m2/person", "Net floor area per occupant (long stay)", "capacity",
                                     "FEMA P-361 hurricane safe room: 20 sq ft; tornado 5 sq ft = 0.46 m2; shelters >72 h: 40 sq ft = 3.7 m2")
    volume_per_occupant_m3: float = _p(1.84, "m3/person", "Net air volume per occupant", "capacity", "FEMA P-361")
    clear_height_m: float = _p(2.4, "m", "Clear height inside a room (floor to ceiling)", "capacity")
    deck_height_m: float = _p(3.0, "m", "Deck height used for wall area (floor to floor)", "capacity")
    life_support_area_m2: float = _p(2.0, "m2", "Floor area taken by the life-support unit in every safe room", "capacity")
    stores_fraction: float = _p(0.15, "", "Share of the remaining floor area kept for stores (water, food, medical)", "capacity")
    min_site_area_m2: float = _p(6.0, "m2", "Smallest room that can become a safe room", "capacity")
    candidate_kinds: list[str] = _p(["storage", "quarters", "recreation"], "", "Room kinds that may be converted", "capacity")
    endurance_h: float = _p(72.0, "h", "Stay the supplies and life support are sized for", "capacity", "Station security directive")
    berth_area_m2: float | None = _p(None, "m2/bed", "Beds of a quarters room without a declared `beds`: floor area / this, "
                                     "at least its most residents; none = its most residents (no spare bed)", "capacity",
                                     "berthing standard of the station's generator: bunks two high, lockers and aisle, "
                                     "2.8 m2 a berth (planner/generate/catalogue.py BERTH_M2)")

    # --- model ------------------------------------------------------------------
    objective: str = _p("cover-all", "", "cover-all (least cost, everyone sheltered) or max-cover (most people within budget)", "model")
    budget: float | None = _p(None, "currency", "Conversion budget; none = unlimited", "model")
    backup_k: int = _p(1, "safe rooms", "Converted safe rooms each occupied room must have within reach", "model")
    backup_goal: int = _p(0, "safe rooms", "Backup coverage as an objective: at the plan's cost (cover-all) or its coverage "
                          "within the budget (max-cover), maximise the residents with at least this many converted "
                          "safe rooms within reach; 0 = off", "model")
    queue_bin_s: float = _p(1.0, "s", "Arrival-time bin of the door-queue rows (walks are rounded up: safe)", "model")
    door_queue: bool = _p(True, "", "Model the queue at each safe room's door", "model")
    time_limit_s: float = _p(60.0, "s", "Solver time limit", "model")
    sweep_time_limit_s: float = _p(20.0, "s", "Solver time limit per budget in a budget sweep (and for its full-cover plan)", "model")
    mip_gap: float = _p(0.01, "", "Relative optimality gap at which the solver may stop", "model")
    solver: str = _p("highs", "", "highs (default) or cbc", "model")
    threads: int = _p(2, "", "Solver threads", "model")
    scenarios: list[str] = _p([], "", "Occupancy scenarios to plan for; empty = every column of residents", "model")
    protect: list[str] = _p([], "", "Room ids never to convert (besides rooms flagged protected)", "model")
    require: list[str] = _p([], "", "Room ids that must be converted", "model")
    modes: dict[str, str] = _p({}, "", "Conversion mode per candidate kind: dual_use (keeps its use and occupants, "
                               "who shelter in place), repurpose (emptied; residents move to spare beds) or either "
                               "(the optimiser chooses per room); "
                               "kinds not named are dual_use; a room's `mode` property wins", "model")
    max_displaced: int | None = _p(None, "persons", "Most residents the plan may move out of repurposed rooms; "
                                   "none = no limit", "model", "the director's decision (Displacement sheet)")
    today_displaced: int | None = _p(None, "persons", "Today's displacement, the reference of the Displacement sheet's "
                                     "shares (e.g. the residents an earlier proposal relocated); none = the residents of "
                                     "the rooms with beds this plan converts", "model", "the director's reference")
    tradeoff_berth_area_m2: float | None = _p(2.8, "m2/bed", "Displacement sheet only, when the station has no spare "
                                              "bed (and no berth_area_m2): its trade-off assumes bunks fitted in "
                                              "quarters at this floor area per berth, so that residents could be "
                                              "moved; none = no trade-off without spare beds. The proposal's own "
                                              "plan never uses it", "model",
                                              "the station's berthing compartments: bunks two high, lockers and "
                                              "aisle, 2.8 m2 a berth (planner/generate/catalogue.py BERTH_M2)")
    tradeoff_time_limit_s: float = _p(60.0, "s", "Solver time limit of each re-planned point of the displacement "
                                      "trade-off (the relocation model; warm-started from the proposal's plan, so a "
                                      "point stopped by it is never worse than the proposal; the sheet says when a "
                                      "point is not proven)", "model")
    swap_penalty_rooms: float = _p(1.0, "rooms/person", "No swaps (issue 17), cover-all: objective charge per resident "
                                   "who must leave a converted room while residents of other rooms come in, as a multiple "
                                   "of the most expensive candidate's conversion cost (1: converting any one more room is "
                                   "preferred to a swap of even one person); 0 = no swap rule (the plans before issue 17)",
                                   "model", "issue 17: JuPedSim replay of Station Unity, agents deadlocked at the doors of "
                                   "swapping safe rooms (docs/verification.md)")
    swap_penalty_persons: float = _p(0.5, "persons/person", "No swaps, max-cover: objective charge per resident who must "
                                     "leave a converted room while others come in, in sheltered persons (x the smallest "
                                     "priority weight). Below 1: a swap that shelters more people is still made; above the "
                                     "cost tie-break (0.25): converting another room within the budget is preferred to a "
                                     "swap; 0 = off", "model", "planner assumption (docs/model.md)")
    corridor_rounds: int = _p(6, "rounds", "Corridor openings as flow limits (issue 17): after a solve, the corridor "
                              "queues (planner/corridors.py) are replayed on the plan; every corridor opening, stairs or "
                              "room door walked through whose queue makes an assignment late gets a row limiting the "
                              "persons assigned through it, and the model is re-solved (warm: from the last LP "
                              "relaxation's basis), at most this many times, while a round leaves fewer residents late "
                              "than the best before it and `corridor_total_time_limit_s` allows; 0 = off (the plans "
                              "before; docs/model.md section 7)", "model",
                              "issue 17: JuPedSim replay of Station Unity: 99.9 / 98.5 / 97.2 % in by 60 s with 3 rounds, "
                              "99.2 / 96.0 / 96.0 % without")
    corridor_patience: int = _p(1, "rounds", "Corridor rounds: how many rounds in a row may leave no fewer "
                                "residents late than the best round before them before the rounds stop (each such "
                                "round's rows stay, and the best plan so far stands); 0 = stop at the first one",
                                "model", "issue 21 measurement: Station Unity's first proposal, 24 residents late "
                                "by the corridor replay with 0, 12 with 1 (two re-solves more, rounds 5 and 6; 0.17 % "
                                "dearer; docs/performance.md)")
    corridor_round_time_limit_s: float = _p(60.0, "s", "Solver time limit of each corridor round's re-solve (never "
                                            "more than the solve's own time limit). Each round re-solves from the LP "
                                            "relaxation, which alone takes about 35 s on Station Unity under load: a "
                                            "shorter limit leaves it unfinished and the plan worse (30 s: 420 rooms, "
                                            "60.6 M CR instead of 395 rooms, 58.1 M CR; docs/performance.md)", "model",
                                            "issue 21 measurement")
    expected_share_target: float = _p(0.0, "", "Expected share (issue 17): the least-cost plan under which, with "
                                      "walking speeds N(walk_speed_m_s, walk_speed_sd_m_s), at least this share of each "
                                      "scenario's residents is expected inside a safe room within reach_s (each room's "
                                      "walkers counted with the probability that they are fast enough), everyone "
                                      "reachable sheltered as in cover-all (the objective it needs). 0 = off; planner "
                                      "solve/propose --expected-share", "model", "issue 17: 99.5 % of real, varied walkers")
    expected_share_rounds: int = _p(3, "rounds", "Expected share: after a solve the plan's expected share is replayed "
                                    "with its real door queues (queues.promise_of_plan); where a scenario falls short, "
                                    "the probabilities of the pairs the replay finds lower are lowered and the model "
                                    "re-solved, at most this many times", "model", "planner assumption (docs/model.md)")
    corridor_total_time_limit_s: float = _p(180.0, "s", "Time for all corridor rounds of one plan together (the "
                                            "first solve not included): a round starts only while at least half of "
                                            "`corridor_round_time_limit_s` is left, and gets at most what is left. "
                                            "180 s is what three rounds at their 60 s limit took before the warm "
                                            "re-solves (docs/performance.md)", "model", "issue 21 measurement")
    corridor_penalty_rooms: float = _p(1.0, "rooms/person", "Corridor rows, cover-all: objective charge per person "
                                       "assigned through an opening beyond its row's limit, as a multiple of the most "
                                       "expensive candidate's cost (soft rows: cover-all stays feasible); max-cover "
                                       "charges one sheltered person per person", "model", "planner assumption, as "
                                       "swap_penalty_rooms")
    cross_sector_move_penalty: float = _p(1000.0, "currency/person", "Objective weight on each resident moved to "
                                          "another sector (a preference for moves within the sector; not a cost "
                                          "of the plan)", "model", "planner assumption")

    # --- costs (currency) -------------------------------------------------------
    currency: str = _p("CR", "", "Name of the currency every cost is expressed in", "costs")
    wall_reinforcement_per_m2: float = _p(503.0, "currency/m2", "Hardening: wall reinforcement per m2 of wall (perimeter x "
                                          "deck height); charged in both conversion modes", "costs",
                                          "FEMA P-320 (2021) basic safe-room cost, USD 9,400-13,100 (8 x 8 ft) and "
                                          "18,900-25,500 (14 x 14 ft) without the door, per m2 of its walls 8 ft high "
                                          "(395-613 USD/m2, mean 503); 1 CR = 1 USD of 2021 (docs/model.md, section 3)")
    pressure_door_each: float = _p(24000.0, "currency/door", "Pressure door, per door kept", "costs")
    door_seal_each: float = _p(3500.0, "currency/door", "Sealing an extra door (all doors but the first are sealed)", "costs")
    life_support_fixed: float = _p(38000.0, "currency/room", "Independent life-support unit, fixed part", "costs")
    oxygen_kg_per_person_day: float = _p(0.84, "kg/person/day", "Oxygen consumed", "costs", "NASA BVAD")
    co2_kg_per_person_day: float = _p(1.0, "kg/person/day", "CO2 to remove", "costs", "NASA BVAD")
    fresh_air_l_s_per_person: float = _p(2.4, "L/s/person", "Fresh air supply", "costs", "ASHRAE 62.1 / FEMA P-361 shelter ventilation")
    oxygen_cost_per_kg: float = _p(45.0, "currency/kg", "Stored oxygen", "costs")
    co2_removal_cost_per_kg: float = _p(60.0, "currency/kg", "CO2 scrubber capacity (LiOH canisters)", "costs")
    air_handling_per_l_s: float = _p(180.0, "currency/(L/s)", "Fans, ducts and filters per L/s of fresh air", "costs")
    water_l_per_person_day: float = _p(3.8, "L/person/day", "Drinking water", "costs", "FEMA: one gallon per person per day")
    water_cost_per_l: float = _p(2.5, "currency/L", "Stored water", "costs")
    food_cost_per_person_day: float = _p(30.0, "currency/person/day", "Shelf-stable food", "costs")
    medical_per_occupant: float = _p(60.0, "currency/person", "First aid and medical supplies", "costs")
    occupants_per_wheelchair_space: float = _p(200.0, "persons", "One wheelchair space per this many occupants", "costs", "FEMA P-361")
    wheelchair_space_each: float = _p(1500.0, "currency/space", "Fitting out a wheelchair space", "costs")
    comms_per_room: float = _p(9000.0, "currency/room", "Communications (intercom, radio, emergency beacon)", "costs")
    displacement_per_resident: float = _p(6000.0, "currency/person", "Relocating a resident whose quarters are converted", "costs")
    displacement_per_m2_recreation: float = _p(350.0, "currency/m2", "Compensating lost recreation area", "costs")

    # --- labour -----------------------------------------------------------------
    labour_h_per_m2_wall: float = _p(1.5, "h/m2", "Labour per m2 of wall reinforced", "labour")
    labour_h_per_door: float = _p(16.0, "h/door", "Labour per pressure door", "labour")
    labour_h_per_sealed_door: float = _p(6.0, "h/door", "Labour per sealed door", "labour")
    labour_h_life_support: float = _p(40.0, "h/room", "Labour to install the life-support unit", "labour")
    labour_h_per_occupant: float = _p(0.5, "h/person", "Labour per occupant of capacity (fit-out, supplies)", "labour")
    labour_h_comms: float = _p(8.0, "h/room", "Labour to install communications", "labour")
    crew_size: int = _p(4, "persons", "Workers in one crew", "labour")
    shift_h: float = _p(8.0, "h", "Hours in a shift", "labour")
    shifts_per_day: int = _p(2, "shifts/day", "Shifts a crew works per day", "labour")
    crews: int = _p(6, "crews", "Crews available", "labour")
    crews_per_room_max: int = _p(1, "crews", "Crews that may work in one room at the same time (a room of c crew-days "
                                 "needs at least c / this many days)", "labour", "planner assumption (phasing)")

    # --- simulation (planner simulate, docs/verification.md) -----------------------
    sim_radius_m: float = _p(0.2, "m", "Agent radius in the pedestrian simulation (0.1 to 0.4)", "simulation",
                             "JuPedSim default")
    sim_wall_m: float = _p(0.2, "m", "Wall thickness: rooms are shrunk by half of it for the simulation (0 to 0.6)",
                           "simulation")
    sim_time_gap_s: float = _p(1.0, "s", "Time gap of the collision-free speed model (0.1 to 3)", "simulation",
                               "JuPedSim default (Tordeux, Chraibi, Seyfried 2016)")
    sim_max_s: float = _p(300.0, "s", "Longest simulated time (reach_s to 3600)", "simulation")
    sim_stall_s: float = _p(60.0, "s", "Agents that moved less than 0.5 m in this long are deadlocked (5 to 600)",
                            "simulation")
    verify_target_share: float = _p(0.995, "", "planner propose --verify: share of each scenario's residents that "
                                    "must be inside their safe room within reach_s in the simulation (worst seed)",
                                    "simulation", "issue 17: 99.5 % by 60 s")
    verify_rounds: int = _p(3, "rounds", "planner propose --verify: most plans simulated (plan, simulate, tighten, "
                            "plan again)", "simulation")
    verify_seeds: int = _p(3, "seeds", "planner propose --verify: simulation runs per scenario (placement and "
                           "speeds); the worst counts", "simulation", "issue 17: 3 seeds")
    verify_safety_s: float = _p(2.0, "s", "planner propose --verify: seconds added to each measured margin beyond what "
                                "the simulation measured (seed-to-seed spread of a room's last arrival)", "simulation",
                                "docs/verification.md: a room of 20 behind a 0.9 m door, last arrival 21.1-22.6 s "
                                "over 5 seeds")
    predict_queue_lag: float = _p(0.0, "persons", "Estimated arrivals (plan.json predicted_s, planner.estimate): "
                                  "how many persons' passing time a person waits at a free door (0: the first walks "
                                  "straight through, the k-th leaves (k-1)/flow after her; 1: the fluid queue n/flow); "
                                  "not used by the optimiser or the promise (0 to 1)", "simulation",
                                  "docs/verification.md, Prediction against simulation (fitted on Station Unity's "
                                  "393-room plan)")
    predict_entry_flow_factor: float = _p(1.3, "", "Estimated arrivals (planner.estimate): a safe room's entry "
                                          "door as simulated passes this multiple of its design flow (1 to 2; the "
                                          "optimiser, the checker and the promise keep the design flow)", "simulation",
                                          "docs/verification.md: 40 people into a safe room through a 0.9 m door in "
                                          "29.0-31.5 s in JuPedSim against 50 s at the design flow; fitted on Station "
                                          "Unity's 393-room plan")
    predict_walk_factor: float = _p(1.03, "", "Estimated arrivals (planner.estimate): the walk beyond the room's door "
                                    "as simulated, a multiple of the planned walk (agents keep clear of corners and "
                                    "each other: 1 to 1.5)", "simulation",
                                    "docs/verification.md, Prediction against simulation (fitted on Station Unity's "
                                    "393-room plan)")

    # --- phases -----------------------------------------------------------------
    phases: list[Phase] = field(default_factory=list, metadata={
        "unit": "", "doc": "Construction phases ([[phases]] tables)", "section": "phases", "source": ""})

    # ---------------------------------------------------------------------------
    def replace(self, **changes: Any) -> "Parameters":
        """A copy with some fields changed (values are type-checked)."""
        return _checked(dataclasses.replace(self, **changes), "command-line option (or override)")

    def door_flow_pps(self, width_m: float, stairs: str | None = None) -> float:
        """Persons per second through a door of `width_m` metres (0 if narrower than the boundary layers).

        `stairs` is None for a level door, "up" or "down" for a stair flight.
        """
        specific = {None: self.door_specific_flow_pps_m, "down": self.stairs_flow_down_pps_m,
                    "up": self.stairs_flow_up_pps_m}[stairs]
        return max(0.0, specific * (width_m - 2.0 * self.door_boundary_layer_m))

    @property
    def design_speed_m_s(self) -> float:
        """Walking speed the plan's times are computed at (m/s): the slower of the two speeds."""
        return min(self.walk_speed_m_s, self.slow_walker_speed_m_s)

    @property
    def reach_m(self) -> float:
        """Distance walkable within the reach time after the reaction time (metres)."""
        return self.walk_speed_m_s * max(0.0, self.reach_s - self.reaction_s)

    def describe(self) -> list[dict[str, Any]]:
        """Every parameter as rows: section, name, value, unit, description, source."""
        rows = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "phases":
                value = [dataclasses.asdict(p) for p in value]
            rng = RANGES.get(f.name)
            rows.append({"section": f.metadata.get("section", ""), "name": f.name, "value": value,
                         "range": rng.words() if rng is not None else "",
                         "unit": f.metadata.get("unit", "").replace("currency", self.currency),
                         "description": f.metadata.get("doc", ""), "source": f.metadata.get("source", "")})
        return rows

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of every parameter."""
        d = dataclasses.asdict(self)
        return d


@dataclass(frozen=True)
class Range:
    """The valid values of a number: finite, from `lo` to `hi` (each end included unless open)."""

    lo: float
    hi: float
    lo_open: bool = False
    hi_open: bool = False

    def holds(self, v: float) -> bool:
        """Is `v` finite and within the range?"""
        if not math.isfinite(v):
            return False
        above = v > self.lo if self.lo_open else v >= self.lo
        below = v < self.hi if self.hi_open else v <= self.hi
        return above and below

    def words(self) -> str:
        """The range for people, e.g. 'more than 0 and at most 3600'."""
        lo = f"{'more than' if self.lo_open else 'at least'} {self.lo:g}"
        hi = f"{'less than' if self.hi_open else 'at most'} {self.hi:g}"
        return f"a finite number {lo} and {hi}"


def _r(lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> Range:
    return Range(float(lo), float(hi), lo_open, hi_open)


_MONEY = _r(0, 1e12)
"""Any unit cost (currency): zero or more, and below a trillion."""
_LABOUR = _r(0, 1e5)
"""Labour figures (hours per unit)."""

RANGES: dict[str, Range] = {
    # walking
    "walk_speed_m_s": _r(0.1, 5.0),            # a slow shuffle to a sprint
    "reach_s": _r(0, 3600, lo_open=True),
    "reaction_s": _r(0, 3600),                 # and less than reach_s (checked with it)
    "slow_walker_speed_m_s": _r(0.1, 5.0),     # the design walker (issue 17)
    "walk_speed_sd_m_s": _r(0, 2.0),           # spread of residents' speeds
    "stairs_traverse_s": _r(0, 3600),
    "lift_traverse_s": _r(0, 3600),
    "boundary_sample_m": _r(0.01, 100),
    "door_snap_m": _r(0, 1),
    # doors
    "door_specific_flow_pps_m": _r(0, 10, lo_open=True),
    "door_boundary_layer_m": _r(0, 1),
    "stairs_flow_down_pps_m": _r(0, 10, lo_open=True),
    "stairs_flow_up_pps_m": _r(0, 10, lo_open=True),
    "default_door_width_m": _r(0, 20, lo_open=True),  # and wider than two boundary layers
    # capacity
    "area_per_occupant_m2": _r(0.1, 100),
    "volume_per_occupant_m3": _r(0.1, 1000),
    "clear_height_m": _r(1.0, 50),
    "deck_height_m": _r(1.0, 100),
    "life_support_area_m2": _r(0, 1000),
    "stores_fraction": _r(0, 1, hi_open=True),
    "min_site_area_m2": _r(0, 1e6),
    "endurance_h": _r(0, 8760, lo_open=True),   # at most a year
    "berth_area_m2": _r(0, 1000, lo_open=True),
    "tradeoff_berth_area_m2": _r(0, 1000, lo_open=True),
    "today_displaced": _r(0, 1e9),
    # model
    "budget": _r(0, 1e15),
    "backup_k": _r(0, 100),
    "backup_goal": _r(0, 100),
    "queue_bin_s": _r(0, 600, lo_open=True),
    "time_limit_s": _r(0, 1e6, lo_open=True),
    "sweep_time_limit_s": _r(0, 1e6, lo_open=True),
    "tradeoff_time_limit_s": _r(0, 1e6, lo_open=True),
    "mip_gap": _r(0, 1),
    "threads": _r(1, 1024),
    # simulation (JuPedSim replay)
    "sim_radius_m": _r(0.1, 0.4),
    "sim_wall_m": _r(0, 0.6),
    "sim_time_gap_s": _r(0.1, 3.0),
    "sim_max_s": _r(0, 3600, lo_open=True),  # and at least reach_s (checked with it)
    "sim_stall_s": _r(5, 600),
    "verify_target_share": _r(0, 1, lo_open=True),
    "verify_rounds": _r(1, 20),
    "verify_seeds": _r(1, 50),
    "verify_safety_s": _r(0, 60),
    "predict_queue_lag": _r(0, 1),
    "predict_walk_factor": _r(1, 1.5),
    "predict_entry_flow_factor": _r(1, 2),
    "max_displaced": _r(0, 1e9),
    "cross_sector_move_penalty": _MONEY,
    "swap_penalty_rooms": _r(0, 100),
    "swap_penalty_persons": _r(0, 10),
    "corridor_rounds": _r(0, 20),
    "corridor_patience": _r(0, 20),
    "corridor_penalty_rooms": _r(0, 100),
    "corridor_round_time_limit_s": _r(0, 1e6, lo_open=True),
    "expected_share_target": _r(0, 1, hi_open=True),
    "expected_share_rounds": _r(0, 20),
    "corridor_total_time_limit_s": _r(0, 1e6, lo_open=True),
    # costs
    **{k: _MONEY for k in ("wall_reinforcement_per_m2", "pressure_door_each", "door_seal_each",
                           "life_support_fixed", "oxygen_cost_per_kg", "co2_removal_cost_per_kg",
                           "air_handling_per_l_s", "water_cost_per_l", "food_cost_per_person_day",
                           "medical_per_occupant", "wheelchair_space_each", "comms_per_room",
                           "displacement_per_resident", "displacement_per_m2_recreation")},
    "oxygen_kg_per_person_day": _r(0, 100),
    "co2_kg_per_person_day": _r(0, 100),
    "fresh_air_l_s_per_person": _r(0, 1000),
    "water_l_per_person_day": _r(0, 1000),
    "occupants_per_wheelchair_space": _r(0, 1e9, lo_open=True),
    # labour
    **{k: _LABOUR for k in ("labour_h_per_m2_wall", "labour_h_per_door", "labour_h_per_sealed_door",
                            "labour_h_life_support", "labour_h_per_occupant", "labour_h_comms")},
    "crew_size": _r(1, 1000),
    "shift_h": _r(0, 24, lo_open=True),
    "shifts_per_day": _r(1, 24),
    "crews": _r(1, 10000),
    "crews_per_room_max": _r(1, 1000),
}
"""The valid range of every number in `Parameters` (units as the field's): checked in one place,
`_checked`, for the scenario file, command-line overrides and `Parameters.replace` alike."""

PHASE_RANGES: dict[str, Range] = {
    "max_rooms": _r(0, 1e6), "max_days": _r(0, 1e5, lo_open=True), "crews": _r(1, 10000),
    "budget": _r(0, 1e15), "duration_days": _r(0, 1e5, lo_open=True),
}
"""The valid range of every number of a `Phase`."""

TEXT_MAX = {"station_title": 200, "currency": 16}
"""Longest text (characters) of the text parameters."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _range_breach(source: str, feature: str, value: Any, rng: Range, unit: str) -> InputError:
    unit_words = f" {unit}" if unit and unit not in ("currency",) else ""
    return InputError(source, feature, f"is {value!r}, outside its valid range",
                      f"give {rng.words()}{unit_words}")


def _type_ok(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is bool:
        return isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return any(_type_ok(value, a) for a in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is list:
        (inner,) = typing.get_args(hint) or (Any,)
        return isinstance(value, list) and all(inner is Any or _type_ok(v, inner) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    if hint is Phase:
        return isinstance(value, Phase)
    return True


@cache
def _hints() -> dict[str, Any]:
    """The resolved type of every `Parameters` field (computed once)."""
    return typing.get_type_hints(Parameters)


def _type_words(hint: Any) -> str:
    """A type hint in words for people: 'a number', 'a whole number or nothing', 'a list of text'."""
    words = {float: "a number", int: "a whole number", bool: "true or false", str: "a quoted text"}
    args = typing.get_args(hint)
    if hint in words:
        return words[hint]
    if typing.get_origin(hint) is dict:
        return 'a table such as {quarters = "dual_use", storage = "repurpose"}'
    if typing.get_origin(hint) is list:
        inner = args[0] if args else Any
        return 'a list such as ["A-1-0003", "B-2-0010"]' if inner is str else (
            "a list" + (f" of {_type_words(inner)[2:]}s" if inner in words else ""))
    if args and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return " or ".join(_type_words(a) for a in rest) + " (or leave it out)"
    return str(hint)


def _checked(p: Parameters, source: str) -> Parameters:
    hints = _hints()
    for f in fields(p):
        v = getattr(p, f.name)
        if not _type_ok(v, hints[f.name]):
            want = _type_words(hints[f.name])
            unit = f.metadata.get("unit")
            raise InputError(source, f"[{f.metadata.get('section')}] {f.name}",
                             f"is {v!r}, not {want}",
                             f"write {f.name} as {want}" + (f" in {unit}" if unit and unit not in ("currency", f.name) else
                                                              " (currency units)" if unit == "currency" else ""))
    if p.objective not in ("cover-all", "max-cover"):
        raise InputError(source, "[model] objective", f"is {p.objective!r}", "use 'cover-all' or 'max-cover'")
    if p.solver not in ("highs", "cbc"):
        raise InputError(source, "[model] solver", f"is {p.solver!r}", "use 'highs' or 'cbc'")
    _check_ranges(p, source)
    _check_relations(p, source)
    _check_texts(p, source)
    _check_modes(p, source)
    unknown = [k for k in p.candidate_kinds if k not in KNOWN_KINDS]
    if unknown:
        raise InputError(source, "[capacity] candidate_kinds", f"names unknown kinds {unknown}",
                         f"use kinds among: {', '.join(KNOWN_KINDS)}")
    return p


def _check_ranges(p: Parameters, source: str) -> None:
    """Every number within its range (`RANGES`, `PHASE_RANGES`)."""
    for f in fields(p):
        rng = RANGES.get(f.name)
        v = getattr(p, f.name)
        if rng is not None and v is not None and not rng.holds(float(v)):
            raise _range_breach(source, f"[{f.metadata.get('section')}] {f.name}", v, rng,
                                f.metadata.get("unit", ""))
    for i, ph in enumerate(p.phases, 1):
        for name, rng in PHASE_RANGES.items():
            v = getattr(ph, name)
            if v is not None and not rng.holds(float(v)):
                raise _range_breach(source, f"phases[{i}] ({ph.name!r}) {name}", v, rng, "")
        if not isinstance(ph.name, str) or not ph.name.strip() or _CONTROL.search(ph.name) or len(ph.name) > 100:
            raise InputError(source, f"phases[{i}] name", f"is {ph.name!r}", "give plain text of at most 100 characters")


def _check_relations(p: Parameters, source: str) -> None:
    """Numbers that must fit together: reaction below reach, a passable door, shifts within a day."""
    if p.reaction_s >= p.reach_s:
        raise InputError(source, "[walking] reaction_s", f"is {p.reaction_s:g} s, not less than the reach time "
                         f"reach_s = {p.reach_s:g} s: nobody could reach any safe room",
                         "give a reaction time shorter than the reach time")
    if p.default_door_width_m <= 2 * p.door_boundary_layer_m:
        raise InputError(source, "[doors] default_door_width_m", f"is {p.default_door_width_m:g} m, not wider than "
                         f"its two boundary layers (2 x {p.door_boundary_layer_m:g} m): no one could pass",
                         "give a door width above twice door_boundary_layer_m")
    if p.shift_h * p.shifts_per_day > 24:
        raise InputError(source, "[labour] shifts_per_day", f"x shift_h is {p.shifts_per_day} x {p.shift_h:g} h, "
                         "more than 24 h a day", "give shifts that fit in a day")

    if p.sim_max_s < p.reach_s:
        raise InputError(source, "[simulation] sim_max_s", f"is {p.sim_max_s:g} s, less than the reach time "
                         f"{p.reach_s:g} s", "give a simulated time of at least the reach time")

def _check_texts(p: Parameters, source: str) -> None:
    """Text parameters: plain text of bounded length; scenario names listed once."""
    for name, limit in TEXT_MAX.items():
        v = getattr(p, name)
        if v is not None and (len(v) > limit or _CONTROL.search(v) or (name == "currency" and ('"' in v or not v.strip()))):
            raise InputError(source, f"[{p.__dataclass_fields__[name].metadata['section']}] {name}",
                             f"is {v!r}: " + ("empty" if not v.strip() else f"more than {limit} characters" if len(v) > limit
                                              else "it holds control characters or quotes"),
                             f"give plain text of at most {limit} characters")
    for key in ("scenarios", "protect", "require"):
        vals = getattr(p, key)
        if any(not v.strip() or _CONTROL.search(v) for v in vals):
            raise InputError(source, f"[model] {key}", f"holds an empty name or control characters: {vals!r}",
                             "give the names as plain text")
        if key == "scenarios" and len(set(vals)) != len(vals):
            raise InputError(source, "[model] scenarios", f"lists a scenario twice: {vals!r}", "list each once")


def _check_modes(p: Parameters, source: str) -> None:
    """[model] modes name known kinds and modes (max_displaced, cross_sector_move_penalty and
    berth_area_m2 are bounded in `RANGES`, checked before)."""
    for kind, mode in p.modes.items():
        if kind not in KNOWN_KINDS:
            raise InputError(source, f"[model] modes.{kind}", "is not a known room kind",
                             f"use kinds among: {', '.join(KNOWN_KINDS)}")
        if mode not in CONVERSION_MODES:
            raise InputError(source, f"[model] modes.{kind}", f"is {mode!r}",
                             f"use one of {', '.join(repr(m) for m in CONVERSION_MODES)}")


def _sections() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in fields(Parameters):
        out.setdefault(f.metadata.get("section", ""), []).append(f.name)
    return out


def parameters_from_mapping(data: dict[str, Any], source: str = "<scenario>") -> Parameters:  # noqa: C901  debt: issue 16 (complexity 17)
    """Parameters from a TOML-like mapping of sections; unknown keys raise `InputError`."""
    sections = _sections()
    changes: dict[str, Any] = {}
    for sec, body in data.items():
        if sec == "phases":
            if not isinstance(body, list):
                raise InputError(source, "phases", "must be an array of tables", "write each phase as [[phases]]")
            phase_fields = {f.name for f in fields(Phase)}
            phases = []
            for i, ph in enumerate(body, 1):
                if not isinstance(ph, dict):
                    raise InputError(source, f"phases[{i}]", "is not a table", "write each phase as [[phases]]")
                bad = set(ph) - phase_fields
                if bad:
                    raise InputError(source, f"phases[{i}]", f"has unknown keys {sorted(bad)}",
                                     f"use only {sorted(phase_fields)}")
                ph = dict(ph)
                ph.setdefault("name", f"Phase {i}")
                for key in ("max_rooms", "crews"):
                    if ph.get(key) is not None and (not isinstance(ph[key], int) or isinstance(ph[key], bool)):
                        raise InputError(source, f"phases[{i}].{key}", f"is {ph[key]!r}", "give a whole number")
                for key in ("max_days", "budget", "duration_days"):
                    if ph.get(key) is not None and (not isinstance(ph[key], (int, float)) or isinstance(ph[key], bool)):
                        raise InputError(source, f"phases[{i}].{key}", f"is {ph[key]!r}", "give a number")
                phases.append(Phase(**ph))
            changes["phases"] = phases
            continue
        if sec not in sections:
            raise InputError(source, f"[{sec}]", "is not a known section",
                             f"use sections: {', '.join(s for s in sections)}")
        if not isinstance(body, dict):
            raise InputError(source, f"{sec}", "is a value, expected a [section] table",
                             f"move it under one of: {', '.join(sections)}")
        for key, value in body.items():
            if key not in sections[sec]:
                close = [k for k in sections[sec] if key.split("_")[0] in k]
                raise InputError(source, f"[{sec}] {key}", "is not a known parameter",
                                 f"known keys in [{sec}]: {', '.join(close or sections[sec])}")
            if isinstance(value, int) and not isinstance(value, bool) and _hints()[key] in (float, float | None):
                value = float(value)
            changes[key] = value
    try:
        p = dataclasses.replace(Parameters(), **changes)
    except TypeError as exc:  # pragma: no cover - guarded above
        raise InputError(source, "scenario", str(exc), "check the keys") from exc
    return _checked(p, source)


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The table of a TOML file, or an `InputError` naming the file and the fix (missing, not UTF-8,
    unreadable, bad syntax); `what` names the file in the fix ("scenario TOML file")."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(str(path), "file", "does not exist", f"give the path of a {what}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(str(path), "TOML", f"cannot be parsed: {exc}", "fix the TOML syntax") from None
    except UnicodeDecodeError as exc:
        raise InputError(str(path), f"byte {exc.start}", f"is not UTF-8 text ({exc.reason})",
                         "save the file as UTF-8 (TOML files are always UTF-8)") from None
    except OSError as exc:
        raise InputError(str(path), "file", f"cannot be read ({exc.strerror or exc})",
                         f"give a readable {what}") from None


def load_parameters(path: str | Path | None) -> Parameters:
    """Parameters from a scenario TOML file (defaults when `path` is None)."""
    if path is None:
        return Parameters()
    path = Path(path)
    data = read_toml(path, "scenario TOML file")
    return parameters_from_mapping(data, str(path))
