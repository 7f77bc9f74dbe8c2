"""Walking network and reach table: seconds on foot from every room to every candidate safe room.

Model (docs/model.md, section 1):

- Nodes are door sides. A level door is one node shared by the two spaces it joins
  (passing a door leaf takes no time); a vertical link (stairs, lift: `vertical` True)
  is two nodes, one in each space, joined by its `traverse_s` (or
  `params.stairs_traverse_s` when the input gives none). A door's position is the
  midpoint of its leaf (or its point), snapped onto the room's boundary when it lies
  just outside the polygon.
- Edges join the nodes of one space, weighted by the shortest walk that stays inside
  the space's polygon: straight where the segment is covered by the polygon (buffered
  by `_EPS_M`), otherwise around the corners through a reduced visibility graph over
  the polygon's reflex vertices (only tangent and bitangent segments are tested).
  Rooms whose outline is within `_CONVEX_TOL_M` of its convex hull are walked in
  straight lines (a walk that cuts a 4 m chord of a wall curved at 200 m radius by
  1 cm is not "through a wall").
- Room leg: a resident may be anywhere in the room. The boundary is sampled every
  `params.boundary_sample_m` metres (plus every vertex); a room's time to a site is
  ``max over samples p of min over the room's doors d of (inside-walk(p, d) / v +
  graph-time(d, site door))``: every point uses its own best door. Samples dominated
  on every door (farther from none) are dropped first; that leaves the max-min
  unchanged.
- Times are seconds: metres / `walk_speed_m_s`, plus vertical traverse times, plus
  `reaction_s` once per walk. Shortest paths from the doors of each site run in scipy's
  compiled Dijkstra with a cut-off, batched per plan tile on the subgraph of nodes within
  the cut-off distance (a walk is never shorter than the plan distance). Pass 1 keeps the
  pairs within `reach_s` (the sparse table); pass 2 finds, for the rooms left without any
  site, their best time up to twice the reach (inf beyond), for reports.
- Exact shortcuts: a room door reached through the room itself (the shortest path's last
  step is an in-room walk) is never a better way out than the door before it, so it is
  dropped; when one way out remains, the room's time is that door's farthest sample plus
  the graph time (no per-sample work).
- Long rooms (more than `_MAX_SAMPLES` boundary samples) are sampled coarser and get half
  the spacing added (safe side); rooms longer than twice the cut-off cannot reach any
  site and only their door-to-door walks (and nearest-door leg) are computed.
- Shelter in place: a candidate room reaches itself with ``walk_s = 0`` and
  ``door_id = ""`` (its people are already inside and do not queue at a door). With
  ``params.shelter_in_place = False`` the self pair keeps its computed time (walk
  from the farthest point to the room's own best door) and that door.

The table can be cached in a folder the caller names (`reach_table`'s `cache_dir`; library
calls write nothing unless asked), keyed by a hash of the room and door geometry and
attributes, the walking parameters and the site list. The command line caches under
`default_cache_dir()`: ``$PLANNER_CACHE_DIR/reach``, else ``.cache/reach`` in the working
directory.

Worker processes: the in-room walks (room by room) and the shortest paths (tile by tile)
run in up to `_REACH_WORKERS_MAX` processes forked from this one when there is enough work
(`_PARALLEL_MIN_ROOMS`, `_PARALLEL_MIN_TILE_CELLS`) and the "fork" start method exists; the
environment variable ``PLANNER_REACH_WORKERS`` sets their number (1: none). The results are
the same, in the same order; if the workers fail, the work is done in this process.
"""

from __future__ import annotations

from planner.network.geometry import ALGO_VERSION, _CONVEX_TOL_M, _DEDUP_M, _EPS_M, _LEG_DOORS, _MAX_SAMPLES, _ON_WALL_M, _PARETO_MAX_WORK, _TANGENT_TOL_M, _TURN_TOL, _all_pairs, _pareto_rows, _polygon_walks, _reflex_corners, _ring_walks, _tangent, _visibility_walks, _visible, _walk_outlines, polygon_distances
from planner.network.table import ReachTable
from planner.network.parallel import R, T, _CHUNKS_PER_WORKER, _PARALLEL_MIN_ROOMS, _PARALLEL_MIN_TILE_CELLS, _REACH_WORKERS_MAX, _WORKER_FN, _adopt, _balanced_chunks, _die_with_parent, _fork_map, _forked_call, _kill_workers, _reach_workers, _worker_init
from planner.network.graph import WalkGraph, _RoomInputs, _RoomWalks, _door_positions, _room_walks, build_graph
from planner.network.cache import CACHE_FORMAT, _cache_path, _load_cache, _save_cache, _text_array, _walk_params, default_cache_dir, reach_key
from planner.network.reach import _compute, _first_min, _ragged, _tiles, reach_table
from planner.network.summary import reach_summary, unwalkable_rooms

__all__ = [
    "ALGO_VERSION",
    "_CONVEX_TOL_M",
    "_DEDUP_M",
    "_EPS_M",
    "_LEG_DOORS",
    "_MAX_SAMPLES",
    "_ON_WALL_M",
    "_PARETO_MAX_WORK",
    "_TANGENT_TOL_M",
    "_TURN_TOL",
    "_all_pairs",
    "_pareto_rows",
    "_polygon_walks",
    "_reflex_corners",
    "_ring_walks",
    "_tangent",
    "_visibility_walks",
    "_visible",
    "_walk_outlines",
    "polygon_distances",
    "ReachTable",
    "R",
    "T",
    "_CHUNKS_PER_WORKER",
    "_PARALLEL_MIN_ROOMS",
    "_PARALLEL_MIN_TILE_CELLS",
    "_REACH_WORKERS_MAX",
    "_WORKER_FN",
    "_adopt",
    "_balanced_chunks",
    "_die_with_parent",
    "_fork_map",
    "_forked_call",
    "_kill_workers",
    "_reach_workers",
    "_worker_init",
    "WalkGraph",
    "_RoomInputs",
    "_RoomWalks",
    "_door_positions",
    "_room_walks",
    "build_graph",
    "CACHE_FORMAT",
    "_cache_path",
    "_load_cache",
    "_save_cache",
    "_text_array",
    "_walk_params",
    "default_cache_dir",
    "reach_key",
    "_compute",
    "_first_min",
    "_ragged",
    "_tiles",
    "reach_table",
    "reach_summary",
    "unwalkable_rooms",
]
