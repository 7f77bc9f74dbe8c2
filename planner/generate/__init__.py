"""Generated ring stations: realistic, deterministic floor plans for tests, benchmarks and Station Unity.

A station is a ring habitat of six sectors (A..F) and one or more decks. Seen from
above, a deck is an annulus in a local planar frame (metres, centre at the origin),
laid out in polar coordinates (radius r, angle theta)::

    outer row      single row of rooms facing the outermost ring corridor
    C(K-1)         ring corridor
    double band    back-to-back rooms (each facing one corridor) or deep rooms,
      ...          crossed by radial spoke corridors that join the ring corridors
    C0             ring corridor
    inner row      single row of rooms facing the innermost ring corridor

The main ring corridor is 2.4 m wide, side ring corridors 1.8-2.0 m, spokes 2.0 m.
Ring corridors are split into segments of about 26 m, joined by openings. Every
polygon follows the curve (arcs with a vertex every <= 1.5 m, sagitta <= 5 mm) and
neighbouring polygons share their edges vertex for vertex, so rooms never overlap.
Stair rooms on every deck sit at the same places; a vertical link (a Point door with
explicit from_room/to_room and traverse_s) joins the stairs of adjacent decks.

Rooms: quarters (cabins 8.5-13.5 m2 with 1-2 residents, family cabins 18-32 m2 with
3-5, berthing compartments 45-100 m2 at 2.8 m2 a berth), storage 6-60 m2 (one
at least every 45-70 m along each row, about one every 30 m along a corridor, so candidates are everywhere), hygiene,
utility, offices, labs, operations, medical, galleys and recreation 30-250 m2.
Rooms along the main corridor lean to work and public use, the others to quarters;
each sector has a theme (A command, B science, C and F residential, D leisure,
E engineering). Doors are 0.8-1.2 m LineStrings on the shared wall.

Occupancy: every resident has a berth; `night` = berths minus a 7 % night shift
(operations, medical, galley, utility), `day` = 30 % asleep in quarters (three
shifts), 50 % at work, the rest in galleys, recreation and washrooms; `evening` =
48 % in quarters, the rest mostly in recreation and galleys. Non-quarters rooms
hold at most one person per 2 m2. Totals are equal in every scenario.

`generate_station(n_rooms, seed, out_dir)` writes rooms.geojson, doors.geojson and
residents.csv; the same arguments give byte-identical files.
"""

from __future__ import annotations

from planner.generate.catalogue import ARC_SAGITTA_M, ARC_STEP_M, ATTRACT, BERTH_M2, DAY_SHARES, DECIMALS, DEEP_TYPES, DRAWN_TYPES, EVENING_SHARES, HALF_ROW_MAX_M2, HALF_TYPES, LABELS, M2_PER_PERSON_MIN, MAIN_CORRIDOR_M, MIN_ROOMS, MIN_ROOMS_PER_DECK, MIN_ROOM_M2, NIGHT_SHIFT, REQUIRED_TYPES, ROOMS_PER_CORRIDOR_DECK, ROW_DEPTH_M, SECTORS, SEGMENT_M, SIDE_CORRIDOR_M, SINGLE_ROW_MAX_M2, SPOKE_M, SPOKE_SPACING_M, STAIRS_DOOR_M, STAIRS_SPACING_M, STAIRS_TRAVERSE_S, STAIRS_WIDTH_M, STORAGE_GAP_M, THEMES, TYPES, WEIGHTS
from planner.generate.layout import _Layout, _Lot, _Profile, _arc_angles, _arc_xy, _choose_shape, _layout
from planner.generate.spaces import _Space, _between, _door_on_arc, _fmt_coords, _point_on_arc, _polygon
from planner.generate.occupancy import _allocate, _band_rank, _residents
from planner.generate.doors import _doors
from planner.generate.writer import _write_atomic, generate_station

__all__ = [
    "ARC_SAGITTA_M",
    "ARC_STEP_M",
    "ATTRACT",
    "BERTH_M2",
    "DAY_SHARES",
    "DECIMALS",
    "DEEP_TYPES",
    "DRAWN_TYPES",
    "EVENING_SHARES",
    "HALF_ROW_MAX_M2",
    "HALF_TYPES",
    "LABELS",
    "M2_PER_PERSON_MIN",
    "MAIN_CORRIDOR_M",
    "MIN_ROOMS",
    "MIN_ROOMS_PER_DECK",
    "MIN_ROOM_M2",
    "NIGHT_SHIFT",
    "REQUIRED_TYPES",
    "ROOMS_PER_CORRIDOR_DECK",
    "ROW_DEPTH_M",
    "SECTORS",
    "SEGMENT_M",
    "SIDE_CORRIDOR_M",
    "SINGLE_ROW_MAX_M2",
    "SPOKE_M",
    "SPOKE_SPACING_M",
    "STAIRS_DOOR_M",
    "STAIRS_SPACING_M",
    "STAIRS_TRAVERSE_S",
    "STAIRS_WIDTH_M",
    "STORAGE_GAP_M",
    "THEMES",
    "TYPES",
    "WEIGHTS",
    "_Layout",
    "_Lot",
    "_Profile",
    "_arc_angles",
    "_arc_xy",
    "_choose_shape",
    "_layout",
    "_Space",
    "_between",
    "_door_on_arc",
    "_fmt_coords",
    "_point_on_arc",
    "_polygon",
    "_allocate",
    "_band_rank",
    "_residents",
    "_doors",
    "_write_atomic",
    "generate_station",
]
