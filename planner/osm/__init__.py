"""Import OpenStreetMap indoor data (OSM XML or GeoJSON) as a station folder.

Read:

- OSM XML (``.osm``): nodes, ways (closed ways are areas) and multipolygon relations;
- GeoJSON from overpass or JOSM (also wrapped in a JavaScript variable, with trailing
  commas, keys with stray spaces, tags flat or under a ``tags`` member, `level` as a number
  or text, rings left unclosed).

Tagging understood (Simple Indoor Tagging and osmAG-style variants):

- areas ``indoor=room|corridor|area`` (also ``room=*``, ``osmAG:type=area`` with
  ``osmAG:areaType``, stairs and lifts drawn as areas) on ``level`` (``0``, ``-1``, ``0;1``,
  ``1-3``), repeated on the levels of ``repeat_on``;
- ``indoor=level`` (and ``osmAG:areaType=structure``) outlines of whole floors, and
  ``building=*`` outlines: not rooms (they name the buildings);
- doors: nodes tagged ``door=*`` / ``entrance=*`` / ``indoor=door`` on the outline two
  areas share, and passage ways (two-node ways tagged ``osmAG:type=passage``, ``door=*``,
  ``indoor=door`` or ``passage=*``) whose tags name the two areas they join
  (``osmAG:from`` / ``osmAG:to``, ``from`` / ``to``, ``connects=A;B``), else the two areas
  on either side of the way.

Kinds come from the tags (`room`, `amenity`, `shop`, `office`, `highway`, `stairs`,
`elevator`, `indoor`) through the mapping of `planner.indoor` (defaults `OSM_CATEGORIES`,
words of names `OSM_NAMES`, a TOML file with ``--mapping``). WGS84 is projected to the
local UTM zone (recorded as the GeoJSON "crs" member and in the report). Repairs, each
reported in ``import_report.md``: unclosed rings closed, duplicate (older) ways of one room
dropped, self-intersections made valid, floor outlines drawn as rooms or corridors dropped
(their space left over becomes a corridor when the floor has no other), overlaps cut out
of the larger room, rooms named alike on several levels told apart by their level.
Stairs and lifts are linked between consecutive levels by name or overlap; buildings with
no indoor connection are told apart and one is imported (the largest, or ``--building``).

The package's modules, imported one way: `read` (OSM XML and GeoJSON to elements) -> `tags`
(categories, levels, classification) -> `report` -> `importer` (`import_osm`).
"""

from __future__ import annotations

from planner.osm.importer import import_osm
from planner.osm.read import Element as Element
from planner.osm.read import read_osm
from planner.osm.report import OsmImportReport, report_markdown as report_markdown
from planner.osm.tags import GENERIC as GENERIC
from planner.osm.tags import OSM_CATEGORIES, OSM_NAMES, parse_levels


__all__ = ["import_osm", "read_osm", "parse_levels", "OsmImportReport", "OSM_CATEGORIES", "OSM_NAMES"]
