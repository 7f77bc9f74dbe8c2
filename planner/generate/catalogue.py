"""The generator's dimensions, room types, weights, themes and occupancy shares (moved from `planner/generate.py`; see the package docstring)."""

from __future__ import annotations





SECTORS = "ABCDEF"
"""Sector names, in angular order (counter-clockwise from the +x axis)."""

ROW_DEPTH_M = 4.5
"""Depth of a row of rooms, from the corridor wall to the back wall (m)."""
MAIN_CORRIDOR_M = 2.4
"""Width of the main ring corridor (m)."""
SIDE_CORRIDOR_M = (2.0, 1.8)
"""Widths of the side ring corridors, alternating (m)."""
SPOKE_M = 2.0
"""Width of a spoke corridor at the middle of its band (m)."""
SEGMENT_M = 26.0
"""Target length of a ring corridor segment along the main corridor (m)."""
SPOKE_SPACING_M = 70.0
"""Target distance between spokes along a band (m)."""
STAIRS_SPACING_M = 120.0
"""Target distance between stair cores along the main corridor (m)."""
STAIRS_WIDTH_M = 3.0
"""Width of a stair room along its corridor (m)."""
STAIRS_TRAVERSE_S = 12.0
"""Time to climb or descend one deck of stairs (s)."""
STAIRS_DOOR_M = 1.2
"""Clear width of a stair flight (m)."""
ARC_STEP_M = 1.5
"""Longest chord of an arc between two vertices (m)."""
ARC_SAGITTA_M = 0.005
"""Largest gap between a chord and the true arc (m); sets the step on tight curves."""
SINGLE_ROW_MAX_M2 = 65.0
"""Largest room in a single row (m2): wider rooms would be long thin halls."""
HALF_ROW_MAX_M2 = 40.0
"""Largest room in one half of a double band (m2)."""
MIN_ROOM_M2 = 6.0
"""Smallest room the generator draws (m2)."""
STORAGE_GAP_M = (45.0, 70.0)
"""A storage room at least every this many metres along each row (m): with rows on both sides,
about one every 30 m along a corridor."""
ROOMS_PER_CORRIDOR_DECK = 600
"""Spaces one ring corridor and its rows hold on one deck, used to choose the number of ring corridors."""
MIN_ROOMS = 30
"""Smallest station (spaces per deck) the generator makes: six corridor segments and the required kinds."""
MIN_ROOMS_PER_DECK = 40
"""Smallest deck of a station with several decks (its stairs take six more spaces)."""
DECIMALS = 3
"""Coordinates are rounded to millimetres."""

# type: (kind, min area m2, max area m2, deep) -- deep types fill both halves of a double band
TYPES: dict[str, tuple[str, float, float, bool]] = {
    "cabin": ("quarters", 8.5, 13.5, False),
    "family": ("quarters", 18.0, 32.0, False),
    "berthing": ("quarters", 45.0, 100.0, True),
    "storage": ("storage", 6.0, 40.0, False),
    "bigstore": ("storage", 40.0, 60.0, True),
    "hygiene": ("hygiene", 8.0, 20.0, False),
    "utility": ("utility", 6.0, 25.0, False),
    "office": ("office", 12.0, 36.0, False),
    "lab": ("lab", 30.0, 90.0, True),
    "operations": ("operations", 40.0, 120.0, True),
    "medical": ("medical", 40.0, 150.0, True),
    "galley": ("galley", 40.0, 200.0, True),
    "recreation": ("recreation", 30.0, 250.0, True),
    "stairs": ("stairs", 0.0, 1e9, False),
    "spoke": ("corridor", 0.0, 1e9, True),
}
HALF_TYPES = [t for t, v in TYPES.items() if not v[3] and t != "stairs"]
DEEP_TYPES = [t for t, v in TYPES.items() if v[3] and t != "spoke"]
DRAWN_TYPES = HALF_TYPES + DEEP_TYPES

# relative frequency of each type along residential rows and along the main corridor
WEIGHTS = {
    "res": {"cabin": 26, "family": 14, "berthing": 42, "storage": 3, "bigstore": 0.3, "hygiene": 3.5,
            "utility": 2, "office": 2, "lab": 0.8, "operations": 0.2, "medical": 0.1, "galley": 1.0,
            "recreation": 3.0},
    "pub": {"cabin": 8, "family": 4, "berthing": 10, "storage": 3, "bigstore": 1.0, "hygiene": 3,
            "utility": 3, "office": 16, "lab": 9, "operations": 2.5, "medical": 0.8, "galley": 4,
            "recreation": 6.0},
}
# sector themes: multipliers on WEIGHTS
THEMES = {
    "A": {"operations": 3.0, "office": 1.5},
    "B": {"lab": 2.5, "office": 1.2},
    "C": {"cabin": 1.4, "family": 1.5, "berthing": 1.3},
    "D": {"recreation": 1.8, "galley": 1.3},
    "E": {"utility": 2.5, "storage": 1.4, "bigstore": 1.8, "lab": 1.3},
    "F": {"medical": 3.0, "cabin": 1.2, "family": 1.2},
}
# kinds every station has at least once, placed first (matters for small stations)
REQUIRED_TYPES = ["storage", "recreation", "galley", "medical", "lab", "office", "operations",
                  "utility", "hygiene"]

LABELS = {
    "cabin": ["Quarters"], "family": ["Family quarters"], "berthing": ["Berthing"],
    "storage": ["Storage"], "bigstore": ["Storage"], "hygiene": ["Washroom"],
    "utility": ["Utility", "Electrical room", "Air handling", "Water plant"],
    "office": ["Office"], "lab": ["Hydroponics lab", "Biology lab", "Materials lab", "Physics lab", "Chemistry lab"],
    "operations": ["Operations centre", "Life support control", "Power control", "Communications"],
    "medical": ["Medical bay", "Clinic"], "galley": ["Galley", "Mess hall"],
    "recreation": ["Gym", "Lounge", "Library", "Garden", "Games room", "Theatre", "Observation lounge", "Music room"],
    "stairs": ["Stairs"], "spoke": ["Spoke"],
}

NIGHT_SHIFT = 0.07
"""Share of residents at work at night (operations, medical, galley, utility, labs)."""
DAY_SHARES = {"quarters": 0.30, "work": 0.50, "galley": 0.07, "recreation": 0.09, "hygiene": 0.04}
"""Where residents are by day: a third of a three-shift station sleeps, half works."""
EVENING_SHARES = {"quarters": 0.48, "recreation": 0.22, "galley": 0.15, "work": 0.10, "hygiene": 0.05}
"""Where residents are in the evening: mostly home, in recreation and galleys; a shift at work."""
# how strongly each kind attracts people per m2 in a group (work rooms, etc.)
ATTRACT = {
    "night": {"operations": 3.0, "medical": 1.5, "galley": 0.5, "utility": 1.0, "lab": 0.3},
    "work": {"lab": 1.0, "office": 1.4, "operations": 1.2, "medical": 0.9, "utility": 0.5,
             "galley": 0.4, "storage": 0.05},
    "evening_work": {"operations": 2.0, "medical": 1.5, "lab": 0.4, "utility": 0.5},
}
BERTH_M2 = 2.8
"""Floor area per berth in a berthing compartment (m2): bunks two high, lockers and aisle."""
M2_PER_PERSON_MIN = 2.0
"""Densest occupancy drawn for a non-quarters room (m2 per person)."""


