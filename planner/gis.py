"""Import GIS or CAD layers (anything GDAL reads through pyogrio) as a station folder.

Rooms come from one layer (`rooms_layer`): GeoPackage and Shapefile layers, GeoJSON files,
and DXF drawings, where the rooms are closed polylines on a named CAD layer (GDAL reads a
DXF as one layer, ``entities``, whose ``Layer`` field names the CAD layer). Polygons are
rooms; closed lines become polygons; lines left open by less than `CLOSE_GAP_M` are
closed (reported). Doors (optional `doors_layer`): lines on the shared wall or points.

Attributes are read through the mapping's ``[fields]`` table (id, name, kind, level,
residents, sector); kind values go through ``[categories]`` / ``[[rules]]`` / ``[names]``
like `planner.imdf` and `planner.osm` categories (`planner.indoor.load_mapping`).
Coordinates: a layer in a geographic CRS, or without a CRS but in degrees, is projected
to the local UTM zone; drawings in millimetres or centimetres (rooms of 10^5 m2 and more)
are scaled to metres (reported). The repairs of the OSM import apply: outlines made valid,
duplicate drawings and floor outlines dropped, overlaps cut out of the larger room.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from planner.errors import InputError, OutputError
from planner.indoor import (
    SKIP,
    DoorInference,
    Mapping,
    candidate_kinds_toml,
    cut_overlaps,
    drop_duplicate_drawings,
    drop_floor_outlines,
    fallback_candidate_kinds,
    infer_doors,
    inference_markdown,
    load_mapping,
    looks_like_degrees,
    md_table,
    polygonal,
    to_local_utm,
    write_station_folder,
)
from planner.osm import GENERIC, OSM_CATEGORIES, OSM_NAMES, parse_levels
from planner.params import CIRCULATION_KINDS, Parameters
from planner.station import normalise_doors, resolve_doors

CLOSE_GAP_M = 0.05
"""An outline drawn as a line whose ends are this close (in drawing units after scaling, metres) is closed."""
FIELD_GUESSES: dict[str, tuple[str, ...]] = {
    "id": ("room_id", "id", "roomid", "room_no", "number", "ref", "handle"),
    "name": ("name", "room_name", "label", "text", "roomname"),
    "kind": ("kind", "category", "type", "use", "usage", "function"),
    "level": ("level", "floor", "deck", "storey", "story"),
    "residents": ("residents", "occupants", "persons", "people"),
    "sector": ("sector", "building", "wing", "zone"),
}
"""Attribute names tried (case-insensitive) for a [fields] key the mapping does not give."""


@dataclass
class GisImportReport:
    """What `import_gis` did."""

    out_dir: Path
    source: str
    crs: str
    epsg: int | None
    features: int
    rooms: int
    fields: dict[str, str]
    categories: pd.DataFrame
    dropped: pd.DataFrame            # feature, name, level, reason
    doors: int
    repairs: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    candidate_rooms: int = 0
    inference: DoorInference | None = None

    def __str__(self) -> str:
        inf = len(self.inference.inferred) if self.inference is not None else 0
        lines = [f"imported {self.source} -> {self.out_dir} ({self.crs or 'local metres'})",
                 f"  features: {self.features}; rooms: {self.rooms}; not imported: {len(self.dropped)}",
                 f"  doors: {self.doors} from the doors layer, {inf} inferred; candidate rooms: {self.candidate_rooms}; "
                 f"repairs: {len(self.repairs)}",
                 "  fields: " + ", ".join(f"{k} <- {v}" for k, v in self.fields.items())]
        lines += [f"  warning: {w}" for w in self.warnings]
        lines.append(f"  details: {self.out_dir / 'import_report.md'}")
        return "\n".join(lines)


def _report_md(r: GisImportReport, mp: Mapping) -> str:
    w = io.StringIO()
    w.write(f"# GIS import report\n\nSource: `{Path(r.source).name}`  \nCoordinate reference system: "
            f"**{r.crs or 'none (local metres)'}**  \nMapping: {mp.source}\n\n## Summary\n\n")
    w.write(f"- features: {r.features}; rooms: {r.rooms}; not imported: {len(r.dropped)}\n- doors from the doors "
            f"layer: {r.doors}\n- candidate rooms: {r.candidate_rooms}\n- fields: "
            + ", ".join(f"{k} <- `{v}`" for k, v in r.fields.items()) + "\n\n")
    if r.warnings:
        w.write("## Warnings\n\n" + "".join(f"- {x}\n" for x in r.warnings) + "\n")
    w.write("## Kinds\n\n" + md_table(r.categories))
    w.write("\n## Repairs\n\n" + ("".join(f"- {x}\n" for x in r.repairs) if r.repairs else "(none)\n"))
    w.write("\n## Features not imported\n\n" + md_table(r.dropped, 300))
    if r.inference is not None:
        w.write(inference_markdown(r.inference))
    return w.getvalue()


def _read(src: Path, layer: str, what: str) -> gpd.GeoDataFrame:
    """A layer by name; for a drawing read as one layer with a ``Layer`` field (DXF), its features on CAD layer `layer`."""
    try:
        layers = [str(x) for x in pyogrio.list_layers(src)[:, 0]]
    except Exception as exc:  # noqa: BLE001 - GDAL raises several types
        raise InputError(str(src), "file", f"cannot be read by GDAL ({exc})",
                         "give a GeoPackage, Shapefile, GeoJSON or DXF file") from None
    try:
        if layer in layers:
            return gpd.read_file(src, layer=layer)
        low = {x.casefold(): x for x in layers}
        if layer.casefold() in low:
            return gpd.read_file(src, layer=low[layer.casefold()])
        for lay in layers:
            gdf = gpd.read_file(src, layer=lay)
            col = next((c for c in gdf.columns if c.casefold() == "layer"), None)
            if col is not None:
                sub = gdf[gdf[col].astype(str).str.casefold() == layer.casefold()]
                if len(sub):
                    return sub.reset_index(drop=True)
                raise InputError(str(src), f"{what} layer {layer!r}", "holds no feature",
                                 "give a CAD layer among: " + ", ".join(sorted(set(gdf[col].astype(str)))[:30]))
        if len(layers) == 1:   # a one-layer file (GeoJSON, Shapefile): its only layer, whatever its name
            return gpd.read_file(src, layer=layers[0])
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise InputError(str(src), f"layer {layer!r}", f"cannot be read ({exc})", "check the file") from None
    raise InputError(str(src), f"{what} layer {layer!r}", "does not exist", f"give one of: {', '.join(layers)}")


def _level_number(text: str) -> float:
    """A level from an attribute: "1", "-1", "0;1" (the first), "Level 2", "OG 1" (the first
    number in the text); 0 when there is none."""
    lv = parse_levels(text)
    if lv:
        return lv[0]
    m = re.search(r"-?\d+(?:\.\d+)?", str(text))
    return float(m.group()) if m else 0.0


def _field(gdf: gpd.GeoDataFrame, mp: Mapping, key: str) -> str | None:
    if key in mp.fields:
        want = mp.fields[key]
        hit = next((c for c in gdf.columns if c == want), None) or \
            next((c for c in gdf.columns if c.casefold() == want.casefold()), None)
        if hit is None:
            raise InputError(mp.source, f"[fields] {key} = {want!r}", "names no attribute of the layer",
                             "give one of: " + ", ".join(c for c in gdf.columns if c != gdf.geometry.name))
        return hit
    cols = {c.casefold(): c for c in gdf.columns if c != gdf.geometry.name}
    return next((cols[g] for g in FIELD_GUESSES[key] if g in cols), None)


def _as_polygons(geoms: np.ndarray) -> np.ndarray:
    """Polygons from polygons and closed lines; ("open", coordinates) for open lines of three
    points or more (closed later when the gap is under `CLOSE_GAP_M`); None otherwise."""
    out = np.full(len(geoms), None, dtype=object)
    for i, g in enumerate(geoms):
        if g is None or g.is_empty:
            continue
        t = g.geom_type
        if t in ("Polygon", "MultiPolygon"):
            out[i] = g
        elif t in ("LineString", "LinearRing", "MultiLineString"):
            polys = shapely.get_parts(shapely.polygonize([g]))
            if len(polys):
                out[i] = shapely.union_all(polys)
                continue
            c = shapely.get_coordinates(g)
            if len(c) >= 3:   # the gap is judged after scaling to metres
                out[i] = ("open", c)
    return out


def _names_from_labels(src: Path, r: pd.DataFrame, g: np.ndarray, scale: float, crs_name: str,
                       repairs: list[str]) -> None:
    """Rooms without a name take the text of a label (a CAD TEXT entity: a point with a
    ``Text`` attribute, on any layer) inside them (in place). Only for drawings read as one
    layer with ``Layer`` and ``Text`` fields (DXF)."""
    if crs_name or not len(g) or (r["name"] != "").all():
        return
    try:
        layers = [str(x) for x in pyogrio.list_layers(src)[:, 0]]
        if len(layers) != 1:
            return
        ent = gpd.read_file(src, layer=layers[0])
    except Exception:  # noqa: BLE001 - labels are a convenience
        return
    tcol = next((c for c in ent.columns if c.casefold() == "text"), None)
    if tcol is None:
        return
    lab = ent[(shapely.get_type_id(ent.geometry.to_numpy()) == 0) & ent[tcol].fillna("").astype(str).str.strip().ne("")]
    if not len(lab):
        return
    pts = shapely.transform(lab.geometry.to_numpy(), lambda xy: xy * scale)
    valid = np.array([x is not None and x.is_valid for x in g])
    tree = shapely.STRtree(np.array([x if ok else None for x, ok in zip(g, valid)], dtype=object))
    pi, ri = tree.query(pts, predicate="within")
    text = lab[tcol].astype(str).str.strip().to_numpy()
    got = 0
    for p_, r_ in zip(pi, ri):
        if r["name"].iat[r_] == "":
            r.iat[r_, r.columns.get_loc("name")] = text[p_]
            got += 1
    if got:
        repairs.append(f"{got} room(s) named from the text labels inside them")


def import_gis(src: str | Path, out_dir: str | Path, rooms_layer: str, doors_layer: str | None = None,  # noqa: C901  debt: issue 19 (to split into reading, repair and door stages)
               mapping: str | Path | None = None, levels: list[str] | None = None, infer: bool = False,
               overwrite: bool = False) -> GisImportReport:
    """Convert a GIS or CAD layer of rooms (and optionally one of doors) into a station folder.

    `mapping`: TOML with [fields] (id, name, kind, level, residents, sector) and the kind
    tables of `planner.indoor.load_mapping`; `levels`: level values to import (default all);
    `infer`: invent the doors the data lacks; `overwrite`: replace a non-empty `out_dir`.
    """
    src = Path(src)
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())) and not overwrite:
        raise OutputError(f"{out_dir}: exists and is not empty. Fix: choose another --out, or pass --force to replace it")
    if not src.exists():
        raise InputError(str(src), "file", "does not exist", "give a GeoPackage, Shapefile, GeoJSON or DXF file")
    params = Parameters()
    mp = load_mapping(mapping, params, defaults=OSM_CATEGORIES, names=OSM_NAMES, generic=GENERIC)
    gdf = _read(src, rooms_layer, "rooms")
    n_feat = len(gdf)
    repairs: list[str] = []
    warns: list[str] = []
    dropped: list[dict] = []
    cols = {k: _field(gdf, mp, k) for k in FIELD_GUESSES}
    used = {k: v for k, v in cols.items() if v}
    ids = (gdf[cols["id"]].astype(str).str.strip() if cols["id"] else pd.Series([f"r{i + 1}" for i in range(n_feat)]))
    ids = ids.where(~ids.isin(["", "nan", "None"]), pd.Series([f"r{i + 1}" for i in range(n_feat)]))
    if ids.duplicated().any():
        dup = ids.duplicated(keep=False)
        repairs.append(f"{int(dup.sum())} feature(s) share an id: numbered apart (id#2, ...)")
        ids = ids + ids.groupby(ids).cumcount().map(lambda k: "" if k == 0 else f"#{k + 1}")
    names = gdf[cols["name"]].fillna("").astype(str).str.strip() if cols["name"] else pd.Series([""] * n_feat)
    lvl_txt = gdf[cols["level"]].astype(str) if cols["level"] else pd.Series(["0"] * n_feat)
    lv = np.array([_level_number(t) for t in lvl_txt], dtype=float)
    cat = (gdf[cols["kind"]].fillna("").astype(str).str.strip().str.lower() if cols["kind"]
           else pd.Series([""] * n_feat))

    geoms = gdf.geometry.to_numpy()
    crs = gdf.crs
    b = shapely.total_bounds(np.asarray(geoms, dtype=object))
    epsg: int | None = None
    crs_name = ""
    if crs is not None and crs.is_geographic and not looks_like_degrees(b):
        # GDAL reads a GeoJSON without a "crs" member as WGS84; coordinates that cannot be one
        # building's degrees are planar metres (the planner's own files are written so)
        warns.append("the layer says WGS84 but its coordinates are not a building's longitude/latitude: "
                     "read as planar metres")
        crs = None
    if (crs is not None and crs.is_geographic) or (crs is None and looks_like_degrees(b)):
        if crs is None:
            warns.append("the layer has no CRS but its coordinates are degrees (within +-180/+-90, spanning less "
                         "than a degree): read as WGS84 longitude/latitude")
        geoms, crs, epsg, crs_name = to_local_utm(geoms, crs or "EPSG:4326")
    elif crs is not None:
        epsg = crs.to_epsg()
        crs_name = f"EPSG:{epsg}" if epsg else crs.to_string()
    polys = _as_polygons(np.asarray(geoms, dtype=object))
    # units: a drawing in millimetres or centimetres
    areas = np.array([p.area for p in polys if p is not None and not isinstance(p, tuple)])
    scale = 1.0
    if len(areas) and crs is None:
        med = float(np.median(areas))
        scale = 0.001 if med >= 1e5 * 10 else (0.01 if med >= 1e4 else 1.0)
        if scale != 1.0:
            unit = "millimetres" if scale == 0.001 else "centimetres"
            repairs.append(f"the drawing is in {unit} (median room {med:,.0f} units2): scaled to metres")
    for i, p in enumerate(polys):
        if isinstance(p, tuple):
            c = p[1] * scale
            if np.hypot(*(c[0] - c[-1])) <= CLOSE_GAP_M:
                polys[i] = shapely.Polygon(c)
                repairs.append(f"room {ids.iat[i]}: outline left open by {np.hypot(*(c[0] - c[-1])) * 100:.1f} cm: closed")
            else:
                polys[i] = None
        elif p is not None and scale != 1.0:
            polys[i] = shapely.transform(p, lambda xy: xy * scale)
    for i in np.flatnonzero([p is None for p in polys]).tolist():
        t = geoms[i].geom_type if geoms[i] is not None else "nothing"
        dropped.append({"feature": ids.iat[i], "name": names.iat[i], "level": lvl_txt.iat[i],
                        "reason": f"not a room outline ({t}, not closed)"})
    ok = np.array([p is not None for p in polys])
    r = pd.DataFrame({"room_id": ids.to_numpy()[ok], "name": names.to_numpy()[ok], "level": lv[ok],
                      "category": cat.to_numpy()[ok], "idx": np.flatnonzero(ok)})
    r["residents"] = (pd.to_numeric(gdf[cols["residents"]], errors="coerce").to_numpy()[ok]
                      if cols["residents"] else np.nan)
    r["sector"] = gdf[cols["sector"]].fillna("").astype(str).to_numpy()[ok] if cols["sector"] else src.stem
    g = np.array(list(polys[ok]), dtype=object)
    _names_from_labels(src, r, g, scale, crs_name, repairs)
    bad = ~shapely.is_valid(g)
    if bad.any():
        g[bad] = shapely.make_valid(g[bad])
        for rid in r["room_id"][bad]:
            repairs.append(f"room {rid}: self-intersecting or otherwise invalid outline made valid")
    r["geometry"] = [polygonal(x, rid, repairs, "room") for x, rid in zip(g, r["room_id"])]
    gone = np.array([x is None or x.area < 0.2 for x in r["geometry"]])
    for i in np.flatnonzero(gone).tolist():
        dropped.append({"feature": r["room_id"].iat[i], "name": r["name"].iat[i], "level": r["level"].iat[i],
                        "reason": "no area"})
    r = r[~gone].reset_index(drop=True)
    if levels:
        want = {v for t in levels for v in parse_levels(t)}
        sel = r["level"].isin(want).to_numpy()
        if not sel.any():
            raise InputError("--levels", ",".join(levels), "matches no level",
                             "give levels among: " + ", ".join(f"{v:g}" for v in sorted(set(r["level"]))))
        r = r[sel].reset_index(drop=True)

    def drop_row(i: int, reason: str) -> None:
        dropped.append({"feature": r["room_id"].iat[i], "name": r["name"].iat[i], "level": r["level"].iat[i],
                        "reason": reason})

    r = drop_duplicate_drawings(r, repairs, lambda i, j: i > j, drop_row)   # the later feature is the copy
    kinds = [mp.kind(c, a, rid, n) for c, a, rid, n in zip(r["category"], shapely.area(np.array(list(r["geometry"]))),
                                                           r["room_id"], r["name"])]
    r["kind"] = [k or "other" for k, _ in kinds]
    r["rule"] = [x for _, x in kinds]
    r = drop_floor_outlines(r, repairs, r["kind"].isin(CIRCULATION_KINDS).to_numpy(), drop_row)
    kinds = [mp.kind(c, a, rid, n) for c, a, rid, n in zip(r["category"], shapely.area(np.array(list(r["geometry"]))),
                                                           r["room_id"], r["name"])]
    r["kind"] = [k or "other" for k, _ in kinds]
    r["rule"] = [x for _, x in kinds]
    skip = (r["kind"] == SKIP).to_numpy()
    for i in np.flatnonzero(skip).tolist():
        drop_row(int(i), f"not a space: {r['category'].iat[i]} is mapped to skip")
    r = r[~skip].reset_index(drop=True)
    cut_overlaps(r, repairs, level="level", ident="room_id", what="room")
    empty = np.array([x is None or x.is_empty or x.area < 0.2 for x in r["geometry"]])
    for i in np.flatnonzero(empty).tolist():
        drop_row(int(i), "no area left after removing its overlap with other rooms")
    r = r[~empty].reset_index(drop=True)
    lvls = sorted(set(r["level"]))
    deck_of = ({v: int(v) for v in lvls} if all(float(v).is_integer() for v in lvls)
               else {v: i for i, v in enumerate(lvls)})
    r["name"] = [n or f"{k} {rid}" for n, k, rid in zip(r["name"], r["kind"], r["room_id"])]
    cat_table = (r.assign(category=r["category"].replace("", "(none)")).groupby(["category", "kind", "rule"]).size()
                 .rename("count").reset_index())
    rooms = gpd.GeoDataFrame({"room_id": r["room_id"], "kind": r["kind"], "sector": r["sector"],
                              "deck": r["level"].map(deck_of).astype(int), "name": r["name"],
                              "level": [f"{v:g}" for v in r["level"]], "source_kind": r["category"]},
                             geometry=list(r["geometry"]), crs=crs)
    if cols["residents"]:
        rooms["residents"] = r["residents"].to_numpy()

    # doors layer
    n_doors = 0
    doors = gpd.GeoDataFrame({"door_id": pd.Series([], dtype=object), "width_m": pd.Series([], dtype=float)},
                             geometry=[], crs=crs)
    if doors_layer:
        dsrc = Path(doors_layer)
        dg = gpd.read_file(dsrc) if dsrc.suffix and dsrc.is_file() else _read(src, doors_layer, "doors")
        dgeo = dg.geometry.to_numpy()
        if crs_name.startswith(("EPSG:326", "EPSG:327")):
            if dg.crs is None or dg.crs.is_geographic:
                dgeo, _, _, _ = to_local_utm(dgeo, dg.crs or "EPSG:4326")
            else:
                dgeo = dg.to_crs(crs).geometry.to_numpy()
        if scale != 1.0:
            dgeo = shapely.transform(np.asarray(dgeo, dtype=object), lambda xy: xy * scale)
        did = _field(dg, mp, "id")
        wcol = next((c for c in dg.columns if c.casefold() in ("width_m", "width")), None)
        width = pd.to_numeric(dg[wcol], errors="coerce").to_numpy() if wcol else np.full(len(dg), np.nan)
        length = shapely.length(np.asarray(dgeo, dtype=object))
        width = np.where(np.isfinite(width) & (width > 0), width,
                         np.where(length > 0.3, np.minimum(length, 5.0), params.default_door_width_m))
        doors = gpd.GeoDataFrame({"door_id": (dg[did].astype(str) if did else [f"d{i + 1}" for i in range(len(dg))]),
                                  "width_m": np.round(width, 3)}, geometry=list(dgeo), crs=crs)
        n_doors = len(doors)
    inference = None
    if infer:
        nd = resolve_doors(rooms.assign(deck=rooms["deck"]), normalise_doors(doors, params, "doors"), params) \
            if len(doors) else doors
        inference = infer_doors(rooms, nd, params)
        new = inference.doors.iloc[len(nd):]
        doors = gpd.GeoDataFrame(pd.concat([doors.assign(inferred=False), new[["door_id", "width_m", "deck", "from_room",
                                                                              "to_room", "inferred", "geometry"]]],
                                           ignore_index=True), geometry="geometry", crs=crs)
    elif not len(doors):
        warns.append("no doors: give --doors-layer, or run with --infer-doors")
    cand = int((rooms["kind"].isin(params.candidate_kinds) & (rooms.geometry.area >= params.min_site_area_m2)).sum())
    extra_toml = ""
    fallback = fallback_candidate_kinds(rooms["kind"], params)
    if cand == 0 and fallback:
        extra_toml = "\n" + candidate_kinds_toml(fallback)
        cand = int((rooms["kind"].isin(fallback) & (rooms.geometry.area >= params.min_site_area_m2)).sum())
        warns.append(f"no room has a default candidate kind: scenario.toml makes the kinds {', '.join(fallback)} "
                     f"candidates ({cand} rooms); narrow it, or map kind values in the mapping")
    elif cand == 0:
        warns.append("no room has a candidate kind: map kind values to storage/quarters/recreation in the mapping")
    report = GisImportReport(out_dir=out_dir, source=str(src), crs=crs_name, epsg=epsg, features=n_feat,
                             rooms=len(rooms), fields=used, categories=cat_table,
                             dropped=pd.DataFrame(dropped, columns=["feature", "name", "level", "reason"]),
                             doors=n_doors, repairs=repairs, warnings=warns, candidate_rooms=cand, inference=inference)
    write_station_folder(out_dir, rooms, doors, epsg, {
        "scenario.toml": f"# Station imported from {src.name} (planner import-gis; see import_report.md).\n"
                         "# Every parameter has a default in planner/params.py; uncomment to override.\n\n"
                         "[station]\ndeck_word = \"level\"\n\n"
                         "#\n# [model]\n# objective = \"max-cover\"\n# budget = 2_000_000\n" + extra_toml,
        "import_report.md": _report_md(report, mp)}, overwrite)
    return report


__all__ = ["import_gis", "GisImportReport"]
