"""Small OpenStreetMap indoor exports written for the tests (issue 19), in WGS84 degrees.

`two_floor_building` is a plan in metres: a corridor with rooms either side on levels 0 and
1 (walls drawn as 0.2 m gaps, a column recess), stairs on both levels, a second building
100 m away, and the quirks of real exports: no doors, a whole-floor outline drawn as a
corridor, an older duplicate way of a room, a self-intersecting outline, rooms named alike
on both levels, `level` as number or text. Writers: OSM XML (`write_osm_xml`) and overpass
GeoJSON (`write_overpass_geojson`, optionally wrapped in a JavaScript variable with
trailing commas, a key with a trailing space and an unclosed ring).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

LON0, LAT0 = 13.3267, 52.5127   # somewhere in a city: UTM zone 33N
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0))


def lonlat(x: float, y: float) -> tuple[float, float]:
    """Plan metres -> (lon, lat) degrees near (LON0, LAT0), 7 decimals as OSM stores them."""
    return round(LON0 + x / M_PER_DEG_LON, 7), round(LAT0 + y / M_PER_DEG_LAT, 7)


@dataclass
class Way:
    wid: int
    xy: list[tuple[float, float]]        # plan metres, closed rings repeat the first point
    tags: dict[str, object]
    version: int = 1


@dataclass
class Plan:
    ways: list[Way] = field(default_factory=list)
    nodes: list[tuple[int, float, float, dict[str, object]]] = field(default_factory=list)  # id, x, y, tags

    def add(self, xy: list[tuple[float, float]], version: int = 1, **tags: object) -> Way:
        w = Way(1000 + len(self.ways), list(xy), tags, version)
        self.ways.append(w)
        return w


def rect(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]


def two_floor_building(doors: bool = False) -> Plan:
    """The test building (see the module doc); `doors` adds Simple Indoor Tagging door nodes."""
    p = Plan()
    gap = 0.2
    for level in (0, 1):
        lv: object = level if level == 1 else "0"   # number on one level, text on the other
        p.add(rect(0, 6, 30, 9), indoor="corridor", level=lv, name=f"Corridor {level}")
        for k in range(5):
            x0 = 6 * k
            south = rect(x0 + gap / 2, 0, x0 + 6 - gap / 2, 6 - gap)
            north = rect(x0 + gap / 2, 9 + gap, x0 + 6 - gap / 2, 15)
            if k == 1:   # a column recess 0.2 x 0.7 m in the south room's back wall
                south = [(x0 + 0.1, 0), (x0 + 2.0, 0), (x0 + 2.0, 0.7), (x0 + 2.2, 0.7), (x0 + 2.2, 0),
                         (x0 + 5.9, 0), (x0 + 5.9, 5.8), (x0 + 0.1, 5.8), (x0 + 0.1, 0)]
            s_tags: dict[str, object] = {"indoor": "room", "level": lv, "ref": f"{level}{k:02d}"}
            n_tags: dict[str, object] = {"indoor": "room", "level": lv, "ref": f"{level}{k + 5:02d}"}
            if k == 0:
                s_tags["name"] = "Storage"         # named alike on both levels
            if k == 2:
                n_tags["room"] = "storage"
                n_tags["name"] = f"Store {level}"
            if k == 3:
                s_tags["name"] = "Lounge"
                s_tags["room"] = "bedroom" if level == 1 else "office"
            if level == 1 and k == 4:             # self-intersecting outline (a twisted corner)
                south = [(x0 + 0.1, 0), (x0 + 5.9, 0), (x0 + 5.9, 5.8), (x0 + 0.1, 5.8), (x0 + 0.1, 0.4),
                         (x0 + 0.3, -0.2), (x0 + 0.1, 0)]
            p.add(south, **s_tags)
            p.add(north, **n_tags)
            if level == 1 and k == 2:              # an older duplicate of the same room
                p.add([(x + 0.05, y) for x, y in north], version=1, **{**n_tags, "name": "Store 1 old"})
                p.ways[-2].version = 4
        # stairs at the corridor's east end, named alike on both levels
        p.add(rect(30, 6, 34, 12), indoor="room", stairs="yes", level=lv, name="Stairs A")
    # the whole ground floor drawn as a corridor
    p.add(rect(-0.5, -0.5, 34.5, 15.5), indoor="corridor", level="0", name="Ground floor")
    # a second, small building 100 m east
    p.add(rect(130, 0, 140, 3), indoor="corridor", level="0", name="Annex corridor")
    p.add(rect(130, 3.2, 135, 8), indoor="room", level="0", name="Annex storage")
    p.add(rect(135, 3.2, 140, 8), indoor="room", level="0", name="Annex office", room="office")
    if doors:
        nid = 1
        for level in (0, 1):
            for k in range(5):
                p.nodes.append((nid, 6 * k + 3, 5.9, {"door": "hinged", "level": str(level)}))
                p.nodes.append((nid + 1, 6 * k + 3, 9.1, {"door": "hinged", "level": str(level)}))
                nid += 2
            p.nodes.append((nid, 30.0, 7.5, {"door": "yes", "level": str(level)}))
            nid += 1
    return p


def write_osm_xml(plan: Plan, path: Path) -> Path:
    """The plan as OSM XML: nodes with lat/lon, ways with nd refs (closed rings share their first node)."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="tests">']
    nid = 100_000
    way_lines = []
    for w in plan.ways:
        refs = []
        first = None
        for i, (x, y) in enumerate(w.xy):
            if i == len(w.xy) - 1 and (x, y) == w.xy[0]:
                refs.append(first)
                continue
            nid += 1
            lon, lat = lonlat(x, y)
            lines.append(f'  <node id="{nid}" version="1" lat="{lat}" lon="{lon}"/>')
            refs.append(nid)
            if first is None:
                first = nid
        way_lines.append(f'  <way id="{w.wid}" version="{w.version}" timestamp="2024-0{min(w.version, 9)}-01T00:00:00Z">')
        way_lines += [f'    <nd ref="{r}"/>' for r in refs]
        way_lines += [f'    <tag k="{k}" v="{v}"/>' for k, v in w.tags.items()]
        way_lines.append("  </way>")
    for n, x, y, tags in plan.nodes:
        lon, lat = lonlat(x, y)
        lines.append(f'  <node id="{n}" version="1" lat="{lat}" lon="{lon}">')
        lines += [f'    <tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        lines.append("  </node>")
    lines += way_lines + ["</osm>", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_overpass_geojson(plan: Plan, path: Path, javascript: bool = True) -> Path:
    """The plan as overpass-turbo GeoJSON (flat tags, "@id"), with the quirks of real files
    when `javascript`: wrapped in ``var data = ...;``, trailing commas, the first room's
    `name` key written as "name " and its ring left unclosed."""
    feats = []
    for i, w in enumerate(plan.ways):
        ring = [list(lonlat(x, y)) for x, y in w.xy]
        props = {"@id": f"way/{w.wid}", "@version": w.version, **w.tags}
        if javascript and i == 1:
            props["name "] = props.pop("name", "Room with a spaced key")
            ring = ring[:-1]
        feats.append({"type": "Feature", "id": f"way/{w.wid}", "properties": props,
                      "geometry": {"type": "Polygon", "coordinates": [ring]}})
    for n, x, y, tags in plan.nodes:
        feats.append({"type": "Feature", "id": f"node/{n}", "properties": {"@id": f"node/{n}", **tags},
                      "geometry": {"type": "Point", "coordinates": list(lonlat(x, y))}})
    text = json.dumps({"type": "FeatureCollection", "features": feats}, indent=1)
    if javascript:
        text = text.replace("\n  }\n ]", "\n  },\n ]").replace('"Polygon"\n', '"Polygon",\n')
        text = "var data = " + text + ";\n"
    path.write_text(text, encoding="utf-8")
    return path
