"""Reading OSM XML and GeoJSON into elements (see `planner.osm`)."""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely

from planner.errors import InputError


# ------------------------------------------------------------------------ elements
@dataclass
class Element:
    """One OSM feature: id ("w123", "n5", "r7"), tags, geometry (WGS84), version, timestamp."""

    osm_id: str
    tags: dict[str, str]
    geom: shapely.Geometry | None
    version: int = 0
    timestamp: str = ""
    closed_by_repair: bool = False


def _tags(raw: Any) -> dict[str, str]:
    """Tags with keys and values stripped, values as text ("1.0" stays "1.0", 1 becomes "1")."""
    out: dict[str, str] = {}
    if not isinstance(raw, dict):
        return out
    for k, v in raw.items():
        if v is None or isinstance(v, (dict, list)):
            continue
        if isinstance(v, bool):
            v = "yes" if v else "no"
        elif isinstance(v, float) and v.is_integer():
            v = int(v)
        out[str(k).strip()] = str(v).strip()
    return out


def _ring(coords: list, closed_note: list[bool]) -> list | None:
    pts = [tuple(map(float, c[:2])) for c in coords if isinstance(c, (list, tuple)) and len(c) >= 2]
    if len(pts) < 3:
        return None
    if pts[0] != pts[-1]:
        pts.append(pts[0])
        closed_note[0] = True
    return pts if len(pts) >= 4 else None


def _geojson_geometry(g: Any) -> tuple[shapely.Geometry | None, bool]:
    """(geometry, ring closed by repair) from a GeoJSON geometry, closing unclosed rings."""
    if not isinstance(g, dict):
        return None, False
    t = g.get("type")
    c: Any = g.get("coordinates") or []
    note = [False]
    try:
        if t == "Point":
            return shapely.Point(float(c[0]), float(c[1])), False
        if t == "LineString":
            pts = [tuple(map(float, p[:2])) for p in c]
            return (shapely.LineString(pts) if len(pts) >= 2 else None), False
        if t == "Polygon":
            rings = [_ring(r, note) for r in c]
            if not rings or rings[0] is None:
                return None, False
            return shapely.Polygon(rings[0], [r for r in rings[1:] if r is not None]), note[0]
        if t == "MultiPolygon":
            polys = []
            for poly in c:
                rings = [_ring(r, note) for r in poly]
                if rings and rings[0] is not None:
                    polys.append(shapely.Polygon(rings[0], [r for r in rings[1:] if r is not None]))
            return (shapely.MultiPolygon(polys) if polys else None), note[0]
        if t == "GeometryCollection":
            parts = [_geojson_geometry(x)[0] for x in g.get("geometries") or []]
            parts = [p for p in parts if p is not None]
            return (shapely.GeometryCollection(parts) if parts else None), False
    except (TypeError, ValueError, IndexError, shapely.errors.GEOSException):
        return None, False
    return None, False


def _lenient_json(text: str, name: str) -> Any:
    """JSON from an overpass / JOSM export: a JavaScript wrapper (``var x = {...};``), a byte
    order mark, comments and trailing commas are tolerated."""
    t = text.lstrip("\ufeff")
    i, j = t.find("{"), t.rfind("}")
    if i < 0 or j < i:
        raise InputError(name, "file", "holds no JSON object", "give an OSM XML (.osm) or GeoJSON export")
    t = t[i:j + 1]
    try:
        return json.loads(t)
    except json.JSONDecodeError:
        pass
    t2 = re.sub(r"^\s*//.*$", "", t, flags=re.M)
    t2 = re.sub(r",(\s*[}\]])", r"\1", t2)
    try:
        return json.loads(t2)
    except json.JSONDecodeError as exc:
        raise InputError(name, "file", f"is not valid JSON even after removing trailing commas ({exc})",
                         "re-export it from overpass or JOSM as GeoJSON or OSM XML") from None


def _read_geojson(path: Path, notes: list[str]) -> list[Element]:
    obj = _lenient_json(path.read_text(encoding="utf-8", errors="replace"), str(path))
    feats = obj.get("features") if isinstance(obj, dict) else None
    if obj.get("type") == "Feature":
        feats = [obj]
    if not isinstance(feats, list):
        raise InputError(str(path), "features", "is missing", "give a GeoJSON FeatureCollection of OSM features")
    out = []
    spaced = 0
    for k, f in enumerate(feats):
        if not isinstance(f, dict):
            continue
        props: dict[str, Any] = f["properties"] if isinstance(f.get("properties"), dict) else {}
        spaced += sum(1 for key in props if isinstance(key, str) and key != key.strip())
        tags = _tags({k2: v for k2, v in props.items() if k2 not in ("tags", "meta", "relations")})
        tags.update(_tags(props.get("tags")))
        meta: dict[str, Any] = props["meta"] if isinstance(props.get("meta"), dict) else {}
        fid = f.get("id") or tags.get("@id") or tags.get("id") or props.get("id") or f"f{k}"
        fid = str(fid)
        m = re.match(r"^(node|way|relation)/(-?\d+)$", fid)
        if m:
            fid = m.group(1)[0] + m.group(2)
        ptype = str(props.get("type") or "")
        if ptype in ("node", "way", "relation") and str(fid).lstrip("-").isdigit():
            fid = ptype[0] + str(fid)
        version = tags.get("@version") or tags.get("version") or meta.get("version") or 0
        stamp = tags.get("@timestamp") or tags.get("timestamp") or meta.get("timestamp") or ""
        tags = {k2: v for k2, v in tags.items() if not k2.startswith("@") and k2 not in ("id", "type", "version",
                                                                                         "timestamp")}
        geom, closed = _geojson_geometry(f.get("geometry"))
        try:
            ver = int(float(version))
        except (TypeError, ValueError):
            ver = 0
        out.append(Element(fid, tags, geom, ver, str(stamp), closed))
    if spaced:
        notes.append(f"{spaced} tag key(s) had leading or trailing spaces: stripped")
    return out


def _inline(nd: ET.Element) -> tuple[float, float] | None:
    """(lon, lat) written on an <nd> itself (overpass `out geom`), or None."""
    try:
        lon, lat = float(nd.get("lon") or "nan"), float(nd.get("lat") or "nan")
    except ValueError:
        return None
    return (lon, lat) if math.isfinite(lon) and math.isfinite(lat) else None


def _read_osm_xml(path: Path, notes: list[str]) -> list[Element]:  # noqa: C901  debt: issue 19 (nodes, ways, relations to split)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise InputError(str(path), "file", f"is not valid OSM XML ({exc})",
                         "re-export it as .osm from JOSM or overpass") from None
    nodes: dict[str, tuple[float, float]] = {}
    out: list[Element] = []

    def meta(el: ET.Element) -> tuple[int, str]:
        try:
            v = int(el.get("version") or 0)
        except ValueError:
            v = 0
        return v, el.get("timestamp") or ""

    def tags_of(el: ET.Element) -> dict[str, str]:
        return _tags({t.get("k"): t.get("v") for t in el.findall("tag") if t.get("k") is not None})

    for el in root.iter("node"):
        if el.get("action") == "delete":
            continue
        try:
            xy = (float(el.get("lon") or "nan"), float(el.get("lat") or "nan"))
        except ValueError:
            continue
        nid = el.get("id") or ""
        nodes[nid] = xy
        t = tags_of(el)
        if t:
            v, ts = meta(el)
            out.append(Element("n" + nid, t, shapely.Point(xy), v, ts))
    ways: dict[str, list[tuple[float, float]]] = {}
    missing = 0
    for el in root.iter("way"):
        if el.get("action") == "delete":
            continue
        nds = el.findall("nd")
        refs = [nd.get("ref") or "" for nd in nds]
        # overpass `out geom` writes each node's position on the way itself
        found = [nodes[r] if r in nodes else _inline(nd) for r, nd in zip(refs, nds)]
        pts = [q for q in found if q is not None]
        if len(pts) < len(refs):
            missing += 1
        wid = el.get("id") or ""
        ways[wid] = pts
        t = tags_of(el)
        v, ts = meta(el)
        if len(pts) < 2:
            continue
        closed = len(pts) >= 4 and refs[0] == refs[-1]
        geom: shapely.Geometry = shapely.Polygon(pts) if closed else shapely.LineString(pts)
        out.append(Element("w" + wid, t, geom, v, ts))
    for el in root.iter("relation"):
        t = tags_of(el)
        if t.get("type") not in ("multipolygon", "area") or el.get("action") == "delete":
            continue
        outer: list[shapely.LineString] = []
        inner: list[shapely.LineString] = []
        for mem in el.findall("member"):
            if mem.get("type") != "way":
                continue
            mpts = ways.get(mem.get("ref") or "") or [q for q in (_inline(nd) for nd in mem.findall("nd")) if q]
            if len(mpts) >= 2:
                (inner if mem.get("role") == "inner" else outer).append(shapely.LineString(mpts))
        if not outer:
            continue
        polys = shapely.get_parts(shapely.polygonize(outer))
        if not len(polys):
            continue
        geom = shapely.union_all(polys)
        if inner:
            holes = shapely.union_all(shapely.get_parts(shapely.polygonize(inner)))
            geom = shapely.difference(geom, holes)
        v, ts = meta(el)
        out.append(Element("r" + (el.get("id") or ""), {k: v2 for k, v2 in t.items() if k != "type"}, geom, v, ts))
    if missing:
        notes.append(f"{missing} way(s) refer to nodes missing from the file: drawn with the nodes present")
    return out


def read_osm(path: str | Path, notes: list[str] | None = None) -> list[Element]:
    """The features of an OSM XML or GeoJSON file (WGS84), tags cleaned (see module doc)."""
    path = Path(path)
    notes = notes if notes is not None else []
    if not path.is_file():
        raise InputError(str(path), "file", "does not exist", "give an .osm or .geojson export")
    head = path.read_bytes()[:4096].lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"<"):
        return _read_osm_xml(path, notes)
    return _read_geojson(path, notes)
