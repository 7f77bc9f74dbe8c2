"""Shared parts of the floor-plan importers (`planner.imdf`, `planner.osm`, `planner.gis`).

- The kind mapping (`Mapping`, `load_mapping`): a category table, area rules, per-feature
  overrides, words in names, GIS field names and vertical-link settings, from a TOML file.
- Geometry repairs: `polygonal` (one polygon per room), `cut_overlaps` (overlaps cut out of
  the larger room), `to_local_utm` (WGS84 degrees to the local UTM zone, metres).
- `vertical_links`: stairs and lifts on consecutive decks joined by name or overlap.
- `infer_doors`: doors invented where a drawing has none (a room's longest wall with a
  corridor or hall, wider openings between corridors, then whatever joins the parts left),
  each flagged `inferred`.
- Writing a station folder atomically (`write_station_folder`, `feature_collection_text`) and
  Markdown tables for import reports (`md_table`).

Lengths are metres, areas m2. Functions take and return plain data (DataFrames, arrays).

The package's modules, imported one way: `mapping` (constants, `Mapping`) -> `selection`
-> `repairs`; `mapping` -> `vertical`; `mapping` and `writer` -> `doors` (door inference,
`infer_station_doors`); `coords` stands alone.
"""

from __future__ import annotations

from planner.indoor.coords import (
    looks_like_degrees as looks_like_degrees,
    to_local_utm as to_local_utm,
)
from planner.indoor.doors import (
    DoorInference as DoorInference,
    FAR_GAP_M as FAR_GAP_M,
    HALL_KINDS as HALL_KINDS,
    MIN_SHARED_WALL_M as MIN_SHARED_WALL_M,
    OPENING_MAX_M as OPENING_MAX_M,
    StationDoors as StationDoors,
    WALL_GAP_M as WALL_GAP_M,
    infer_doors as infer_doors,
    infer_station_doors as infer_station_doors,
    inference_markdown as inference_markdown,
)
from planner.indoor.mapping import (
    DEFAULT_CATEGORIES as DEFAULT_CATEGORIES,
    DEFAULT_VERTICAL as DEFAULT_VERTICAL,
    FIELD_KEYS as FIELD_KEYS,
    MIN_OVERLAP_REPAIR_M2 as MIN_OVERLAP_REPAIR_M2,
    Mapping as Mapping,
    SKIP as SKIP,
    VERTICAL_KINDS as VERTICAL_KINDS,
    load_mapping as load_mapping,
)
from planner.indoor.repairs import (
    DUPLICATE_IOU as DUPLICATE_IOU,
    FLOOR_OUTLINE_ROOMS as FLOOR_OUTLINE_ROOMS,
    FLOOR_OUTLINE_SHARE as FLOOR_OUTLINE_SHARE,
    NEVER_CANDIDATE as NEVER_CANDIDATE,
    candidate_kinds_toml as candidate_kinds_toml,
    drop_duplicate_drawings as drop_duplicate_drawings,
    drop_floor_outlines as drop_floor_outlines,
    fallback_candidate_kinds as fallback_candidate_kinds,
)
from planner.indoor.selection import (
    cut_overlaps as cut_overlaps,
    match_tokens as match_tokens,
    polygonal as polygonal,
)
from planner.indoor.vertical import (
    vertical_links as vertical_links,
)
from planner.indoor.writer import (
    feature_collection_text as feature_collection_text,
    md_table as md_table,
    write_station_folder as write_station_folder,
)
