"""OpenStreetMap, GIS and CAD imports and door inference (issue 19), on small exports written
for the purpose (tests/osm_fixtures.py): WGS84, two floors, no doors, the quirks of real files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from osm_fixtures import Plan, lonlat, rect, two_floor_building, write_osm_xml, write_overpass_geojson

from planner.cli import main
from planner.errors import InputError
from planner.indoor import infer_doors, load_mapping
from planner.osm import GENERIC, OSM_CATEGORIES, OSM_NAMES, import_osm, parse_levels, read_osm
from planner.params import Parameters
from planner.station import load_station


@pytest.fixture(scope="module")
def osm_files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("osm")
    plan = two_floor_building()
    return {"xml": write_osm_xml(plan, d / "building.osm"),
            "js": write_overpass_geojson(plan, d / "building.js"),
            "doors": write_osm_xml(two_floor_building(doors=True), d / "with_doors.osm")}


def test_levels_are_parsed_as_osm_writes_them():
    assert parse_levels("0") == [0.0]
    assert parse_levels("0;1") == [0.0, 1.0]
    assert parse_levels("1-3") == [1.0, 2.0, 3.0]
    assert parse_levels("-1") == [-1.0]
    assert parse_levels("-2--1") == [-2.0, -1.0]
    assert parse_levels(" 0.5 ; 2") == [0.5, 2.0]
    assert parse_levels("") == [] and parse_levels("ground") == []


def test_javascript_wrapped_geojson_reads_like_the_xml(osm_files):
    xml = read_osm(osm_files["xml"])
    notes: list[str] = []
    js = read_osm(osm_files["js"], notes)
    text = osm_files["js"].read_text()
    assert text.startswith("var data = ") and ",\n ]" in text   # the quirks are really there
    assert len(js) == len(xml)
    assert any("spaces" in n for n in notes)
    by_id = {e.osm_id: e for e in js}
    assert by_id["w1001"].tags.get("name") == "Storage"        # "name " stripped
    assert by_id["w1001"].closed_by_repair                    # unclosed ring closed
    assert by_id["w1012"].tags["level"] == "1"                # number read as text


def test_osm_xml_import_repairs_and_reports(osm_files, tmp_path):
    rep = import_osm(osm_files["xml"], tmp_path / "st", infer=True)
    text = " ".join(rep.repairs)
    assert "duplicates w1018" in text and "older drawing" in text            # older duplicate way dropped
    assert "outlines the whole floor" in text                                 # floor outline drawn as a corridor
    assert "w1022: self-intersecting" in text                                 # made valid
    assert "share a name with rooms on other levels" in text
    assert rep.crs == "EPSG:32633"
    assert rep.buildings["rooms"].tolist() == [24, 3] and rep.buildings["imported"].tolist() == [True, False]
    assert any("buildings with no indoor connection" in w for w in rep.warnings)
    st = load_station(tmp_path / "st")
    rooms = st.rooms.set_index("room_id")
    assert len(rooms) == 24 and set(rooms["deck"]) == {0, 1}
    assert "w1019" not in rooms.index and "w1025" not in rooms.index
    assert rooms.at["w1001", "name"] == "Storage (level 0)" and rooms.at["w1013", "name"] == "Storage (level 1)"
    assert rooms.at["w1001", "kind"] == "storage"          # by its name
    assert rooms.at["w1006", "kind"] == "storage"          # room=storage
    assert rooms.at["w1020", "kind"] == "quarters"         # room=bedroom
    assert rooms.at["w1011", "kind"] == "stairs"
    # metres: a 5.8 x 5.8 room, not square degrees
    assert rooms.at["w1003", "geometry"].area == pytest.approx(5.8 * 5.8, rel=0.02)
    assert b"EPSG::32633" in (tmp_path / "st" / "rooms.geojson").read_bytes()[:300]
    # stairs linked between the levels (by name and overlap), every room reached through doors
    doors = st.doors
    link = doors[doors["vertical"]]
    assert set(link["from_room"]) | set(link["to_room"]) == {"w1011", "w1024"}
    inferred = doors[doors["door_id"].str.startswith("inferred")]
    assert len(inferred) == 22
    raw = json.loads((tmp_path / "st" / "doors.geojson").read_text())
    assert sum(1 for f in raw["features"] if f["properties"].get("inferred")) == 22
    report = (tmp_path / "st" / "import_report.md").read_text()
    assert "## Inferred doors" in report and "longest wall" in report


def test_buildings_selected_by_name_or_number(osm_files, tmp_path):
    rep = import_osm(osm_files["xml"], tmp_path / "annex", building="2", infer=True)
    assert rep.rooms == 3
    rooms = load_station(tmp_path / "annex").rooms
    assert set(rooms["name"]) == {"Annex corridor", "Annex storage", "Annex office"}
    rep = import_osm(osm_files["xml"], tmp_path / "all", building="all")
    assert rep.rooms == 27
    with pytest.raises(InputError, match="matches no building"):
        import_osm(osm_files["xml"], tmp_path / "none", building="Town hall")


def test_geojson_import_matches_the_xml_import(osm_files, tmp_path):
    a = import_osm(osm_files["xml"], tmp_path / "a", infer=True)
    b = import_osm(osm_files["js"], tmp_path / "b", infer=True)
    ra = load_station(tmp_path / "a").rooms.set_index("room_id").sort_index()
    rb = load_station(tmp_path / "b").rooms.set_index("room_id").sort_index()
    assert list(ra.index) == list(rb.index)
    assert (ra["kind"] == rb["kind"]).all()
    assert np.allclose(ra.geometry.area, rb.geometry.area, rtol=1e-6)
    assert len(b.inference.inferred) == len(a.inference.inferred)
    assert any("unclosed ring closed" in x for x in b.repairs)


def test_door_nodes_on_shared_outlines(osm_files, tmp_path):
    rep = import_osm(osm_files["doors"], tmp_path / "d")
    assert rep.doors_from_nodes == 22 and rep.inference is None
    st = load_station(tmp_path / "d")
    d = st.doors[~st.doors["vertical"]]
    pairs = {frozenset(x) for x in zip(d["from_room"], d["to_room"])}
    assert frozenset({"w1001", "w1000"}) in pairs and frozenset({"w1000", "w1011"}) in pairs
    assert main(["validate", str(tmp_path / "d")]) == 0


def test_passage_ways_join_the_areas_they_name(tmp_path):
    p = Plan()
    p.add(rect(0, 3, 20, 5), indoor="corridor", level="0", name="Main corridor")
    p.add(rect(0, 0, 6, 3), indoor="room", level="0", name="Lab A")
    p.add(rect(6, 0, 12, 3), indoor="room", level="0", name="Lab B", room="storage")
    p.add(rect(12, 0, 20, 3), indoor="room", level="0", name="Store")
    # osmAG passages: two-node ways on the shared wall naming the two areas they join
    p.add([(2.5, 3), (3.5, 3)], **{"osmAG:type": "passage", "osmAG:from": "Lab A", "osmAG:to": "Main corridor",
                                   "level": "0"})
    p.add([(8.5, 3), (9.5, 3)], **{"osmAG:type": "passage", "osmAG:from": "Lab B", "osmAG:to": "Main corridor",
                                   "level": "0"})
    # a passage whose tags name nothing: the two areas either side
    p.add([(6, 1), (6, 2)], indoor="door", level="0")
    # a passage naming an area that does not exist: reported
    p.add([(15, 3), (16, 3)], **{"osmAG:type": "passage", "osmAG:from": "Nowhere", "osmAG:to": "Elsewhere",
                                 "level": "1"})
    src = write_osm_xml(p, tmp_path / "ag.osm")
    rep = import_osm(src, tmp_path / "st")
    assert rep.doors_from_passages == 3
    assert len(rep.doors_dropped) == 1 and "fewer than two" in rep.doors_dropped["reason"].iat[0]
    st = load_station(tmp_path / "st")
    names = st.rooms.set_index("room_id")["name"]
    got = {frozenset((names[a], names[b])) for a, b in zip(st.doors["from_room"], st.doors["to_room"])}
    assert got == {frozenset({"Lab A", "Main corridor"}), frozenset({"Lab B", "Main corridor"}),
                   frozenset({"Lab A", "Lab B"})}
    w = st.doors.set_index("door_id")["width_m"]
    assert w.loc[[d for d in w.index if d != "w1006"]].round(2).tolist() == [1.0, 1.0]


def test_mapping_names_and_overrides(tmp_path, osm_files):
    m = tmp_path / "m.toml"
    m.write_text('[names]\n"lounge" = "recreation"\n\n[units]\n"w1003" = "storage"\n', encoding="utf-8")
    rep = import_osm(osm_files["xml"], tmp_path / "st", mapping=m)
    rooms = load_station(tmp_path / "st").rooms.set_index("room_id")
    assert rooms.at["w1003", "kind"] == "storage"
    assert rooms.at["w1007", "kind"] == "office"          # room=office beats the name "Lounge"
    assert rep.candidate_rooms >= 6
    mp = load_mapping(None, defaults=OSM_CATEGORIES, names=OSM_NAMES, generic=GENERIC)
    assert mp.kind("room", 20, "x", "Main Stairs")[0] == "stairs"
    assert mp.kind("room", 20, "x", "Upstairs corner")[0] == "other"   # words match at their start only
    assert mp.kind("toilets", 5, "x", "Storage")[0] == "hygiene"    # a specific tag beats the name


def test_not_degrees_is_an_error(tmp_path):
    src = tmp_path / "m.geojson"
    src.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"indoor": "room", "level": "0"},
         "geometry": {"type": "Polygon", "coordinates": [[[500000, 6e6], [500010, 6e6], [500010, 6e6 + 5],
                                                          [500000, 6e6]]]}}]}))
    with pytest.raises(InputError, match="not longitude/latitude"):
        import_osm(src, tmp_path / "out")


# ---------------------------------------------------------------- door inference
def test_inference_picks_the_longest_wall_with_a_corridor_across_a_gap():
    import geopandas as gpd

    rooms = gpd.GeoDataFrame({
        "room_id": ["C", "H", "R", "S", "X"], "kind": ["corridor", "lobby", "office", "storage", "office"],
        "deck": [0, 0, 0, 0, 0], "name": ["Corridor", "Hall", "Office", "Store", "Inner"]},
        geometry=[shapely.box(0, 5, 20, 7), shapely.box(20.4, 0, 26, 12),
                  # R: 10 m along the corridor (0.5 m gap: a wall), 3 m along the hall
                  shapely.box(0, 0, 10, 4.5), shapely.box(10.3, 0, 20, 4.5),
                  # X touches only R: joined in step 3
                  shapely.box(0, -3, 10, -0.2)])
    res = infer_doors(rooms, None, Parameters())
    t = res.inferred[res.inferred["reason"].str.startswith("longest wall")].set_index("from_room")
    assert t.at["R", "to_room"] == "C"
    assert t.at["S", "to_room"] == "C"
    # the corridor and the hall share a 2 m wall across a 0.4 m gap: a wide opening
    ch = res.inferred[(res.inferred["from_room"] == "C") & (res.inferred["to_room"] == "H")]
    assert len(ch) == 1 and ch["width_m"].iat[0] > 1.5
    x = res.inferred[(res.inferred["from_room"] == "X") | (res.inferred["to_room"] == "X")]
    assert len(x) == 1 and "joins a part" in x["reason"].iat[0]
    assert not res.unconnected
    d = res.doors
    assert d["inferred"].all() and len(d) == len(res.inferred)
    # each door lies between its two rooms (within the gap)
    g = rooms.set_index("room_id").geometry
    for rec in d.itertuples():
        assert g[rec.from_room].distance(rec.geometry) <= 0.35 and g[rec.to_room].distance(rec.geometry) <= 0.35


def test_doors_infer_command_adds_flagged_doors(osm_files, tmp_path, capsys):
    import_osm(osm_files["xml"], tmp_path / "st")
    assert not json.loads((tmp_path / "st" / "doors.geojson").read_text())["features"] or True
    assert main(["doors", "infer", str(tmp_path / "st")]) == 0
    out = capsys.readouterr().out
    assert "22 door(s) inferred" in out
    raw = json.loads((tmp_path / "st" / "doors.geojson").read_text())
    flags = [f["properties"]["inferred"] for f in raw["features"]]
    assert flags.count(True) == 22 and flags.count(False) == 1   # the stairs link kept, not inferred
    assert main(["validate", str(tmp_path / "st")]) == 0


# ---------------------------------------------------------------- GIS and CAD
def test_dxf_rooms_on_a_named_layer(tmp_path):
    ezdxf = pytest.importorskip("ezdxf", reason="ezdxf (test extra) is needed to write the DXF")
    doc = ezdxf.new("R2010")
    msp = doc.modelspace()
    for name in ("A-ROOMS", "A-WALLS", "A-TEXT"):
        doc.layers.add(name)
    mm = 1000.0

    def poly(x0, y0, x1, y1):
        msp.add_lwpolyline([(x0 * mm, y0 * mm), (x1 * mm, y0 * mm), (x1 * mm, y1 * mm), (x0 * mm, y1 * mm)],
                           close=True, dxfattribs={"layer": "A-ROOMS"})

    poly(0, 4, 24, 6)                        # corridor
    for k in range(4):
        poly(6 * k + 0.1, 0, 6 * k + 5.9, 3.8)
        poly(6 * k + 0.1, 6.2, 6 * k + 5.9, 10)
    msp.add_line((0, 0), (24 * mm, 0), dxfattribs={"layer": "A-WALLS"})     # not a room
    for text, (x, y) in {"Corridor": (12, 5), "Storage": (3, 2), "Office 2": (9, 2), "Bedroom 1": (3, 8)}.items():
        msp.add_text(text, dxfattribs={"layer": "A-TEXT", "insert": (x * mm, y * mm)})
    src = tmp_path / "plan.dxf"
    doc.saveas(src)
    m = tmp_path / "m.toml"
    m.write_text('[names]\n"bedroom" = "quarters"\n', encoding="utf-8")
    assert main(["import-gis", str(src), "--rooms-layer", "A-ROOMS", "--mapping", str(m), "--out",
                 str(tmp_path / "st"), "--infer-doors"]) == 0
    st = load_station(tmp_path / "st")
    rooms = st.rooms.set_index("name")
    assert len(st.rooms) == 9
    assert rooms.at["Corridor", "kind"] == "corridor" and rooms.at["Storage", "kind"] == "storage"
    assert rooms.at["Bedroom 1", "kind"] == "quarters"
    assert rooms.at["Storage", "geometry"].area == pytest.approx(5.8 * 3.8, rel=1e-6)   # mm -> m
    assert "millimetres" in (tmp_path / "st" / "import_report.md").read_text()
    assert st.doors["door_id"].str.startswith("inferred").sum() == 8
    assert main(["validate", str(tmp_path / "st")]) == 0


def test_geopackage_with_field_mapping_and_residents(tmp_path):
    import geopandas as gpd

    from planner.gis import import_gis

    ring = lambda x0, y0, x1, y1: shapely.Polygon([lonlat(x, y) for x, y in  # noqa: E731
                                                   [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]])
    gdf = gpd.GeoDataFrame({"ROOM_NO": ["101", "102", "C1", "102"], "USE": ["Lager", "Büro", "Flur", "Büro"],
                            "FLOOR": ["EG 0", "0", "0", "0"], "PERS": [0, 3, 0, 3]},
                           geometry=[ring(0, 0, 5, 4), ring(5.2, 0, 10, 4), ring(0, 4.3, 10, 6), ring(5.2, 0, 10, 4)],
                           crs="EPSG:4326")
    src = tmp_path / "plan.gpkg"
    gdf.to_file(src, layer="raeume")
    m = tmp_path / "m.toml"
    m.write_text('[fields]\nid = "ROOM_NO"\nkind = "USE"\nlevel = "FLOOR"\nresidents = "PERS"\n\n'
                 '[categories]\nlager = "storage"\n"büro" = "office"\nflur = "corridor"\n', encoding="utf-8")
    rep = import_gis(src, tmp_path / "st", rooms_layer="raeume", mapping=m, infer=True)
    assert rep.crs.startswith("EPSG:326")
    st = load_station(tmp_path / "st")
    kinds = st.rooms.set_index("room_id")["kind"]
    assert kinds.to_dict() == {"101": "storage", "102": "office", "C1": "corridor"}
    assert any("duplicates" in x for x in rep.repairs)
    res = pd.read_csv(tmp_path / "st" / "residents.csv").set_index("room_id")
    assert res.at["102", "day"] == 3
    assert len(st.doors) == 2


# ---------------------------------------------------------------- end to end
@pytest.mark.slow
def test_osm_export_to_checked_proposal_without_hand_edits(osm_files, tmp_path, capsys):
    """The issue's check: import-osm --infer-doors, residents fill, validate, propose
    --objective max-cover --budget and check, with no hand edits."""
    st, rep = tmp_path / "st", tmp_path / "reports"
    assert main(["import-osm", str(osm_files["js"]), "--out", str(st), "--infer-doors"]) == 0
    assert main(["residents", "fill", str(st)]) == 0
    assert main(["validate", str(st)]) == 0
    assert main(["propose", str(st), "--objective", "max-cover", "--budget", "400000", "--out", str(rep),
                 "--whatif-budgets", "0"]) == 0
    plans = sorted(rep.glob("*/plan.json"))
    assert len(plans) == 1
    # the checker judges by the station's parameters plus the options the proposal was made with
    assert main(["check", str(st), str(plans[0]), "--objective", "max-cover", "--budget", "400000"]) == 0
    plan = json.loads(plans[0].read_text())
    assert plan["safe_rooms"]


def test_walks_in_imported_rooms_agree_with_an_independent_shortest_path(osm_files, tmp_path):
    """Walk times inside every imported room (boundary samples to the room's doors) agree
    with a visibility-graph Dijkstra built with shapely `covers` within 0.5 s."""
    from test_walk_robust import reference_walks

    from planner.network import polygon_distances

    import_osm(osm_files["xml"], tmp_path / "st", infer=True)
    st = load_station(tmp_path / "st")
    v = st.params.walk_speed_m_s
    d = st.doors
    worst = 0.0
    for rec in st.rooms.itertuples():
        mine = d[(d["from_room"] == rec.room_id) | (d["to_room"] == rec.room_id)]
        if not len(mine):
            continue
        poly = rec.geometry
        pts = shapely.get_coordinates(shapely.segmentize(poly.boundary, 0.5))
        door_pts = shapely.line_interpolate_point(mine.geometry.to_numpy(), 0.5, normalized=True) \
            if (mine.geometry.geom_type == "LineString").all() else shapely.centroid(mine.geometry.to_numpy())
        door_pts = shapely.get_coordinates(shapely.line_interpolate_point(
            poly.boundary, shapely.line_locate_point(poly.boundary, door_pts)))
        # local frame for the reference (UTM coordinates are millions of metres)
        o = np.asarray(poly.bounds[:2])
        local = shapely.transform(poly, lambda xy, o=o: xy - o)
        ours = polygon_distances(poly, pts, door_pts)
        ref = reference_walks(local, pts - o, door_pts - o)
        assert np.isfinite(ours).all()
        worst = max(worst, float(np.abs(ours - ref).max()) / v)
    assert worst <= 0.5


def test_inference_joins_floors_without_stairs_and_rooms_drawn_apart():
    import geopandas as gpd

    rooms = gpd.GeoDataFrame({
        "room_id": ["C0", "R0", "F0", "C1", "R1"], "kind": ["corridor", "office", "storage", "corridor", "office"],
        "deck": [0, 0, 0, 1, 1], "name": ["Corridor 0", "Office 0", "Far store", "Corridor 1", "Office 1"]},
        geometry=[shapely.box(0, 5, 20, 7), shapely.box(0, 0, 10, 4.8),
                  shapely.box(0, 8.5, 6, 12),          # 1.5 m from the corridor: no neighbour within 0.6 m
                  shapely.box(0, 5, 20, 7), shapely.box(0, 0, 10, 4.8)])
    res = infer_doors(rooms, None, Parameters())
    t = res.inferred
    far = t[(t["from_room"] == "F0") | (t["to_room"] == "F0")]
    assert len(far) == 1 and "1.5 m away" in far["reason"].iat[0]
    link = t[t["reason"].str.contains("stair link")]
    assert len(link) == 1 and {link["from_room"].iat[0], link["to_room"].iat[0]} == {"C0", "C1"}
    d = res.doors.set_index("door_id")
    assert d.at[link["door_id"].iat[0], "traverse_s"] == Parameters().stairs_traverse_s
    assert not res.unconnected


def test_overpass_out_geom_xml_and_candidate_fallback(tmp_path):
    """Ways carrying their node positions (overpass `out geom`, no <node> elements), and a
    building whose rooms have no candidate kind: scenario.toml makes its rooms candidates."""
    from osm_fixtures import lonlat

    def way(wid, xy, **tags):
        nds = "".join(f'<nd ref="{wid * 100 + i}" lat="{lonlat(x, y)[1]}" lon="{lonlat(x, y)[0]}"/>'
                      for i, (x, y) in enumerate(xy))
        return f'<way id="{wid}">{nds}' + "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items()) + "</way>"

    ring = lambda x0, y0, x1, y1: [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]  # noqa: E731
    body = [way(1, ring(0, 4, 20, 6), indoor="corridor", level="0"),
            way(2, ring(0, 0, 10, 3.8), indoor="room", level="0", name="Office A"),
            way(3, ring(10, 0, 20, 3.8), indoor="room", level="0", name="Office B", room="office"),
            way(4, ring(0, 6.2, 20, 10), indoor="room", level="0", name="WC")]
    src = tmp_path / "geom.osm"
    src.write_text('<?xml version="1.0"?><osm version="0.6">' + "".join(body) + "</osm>", encoding="utf-8")
    rep = import_osm(src, tmp_path / "st", infer=True)
    assert rep.rooms == 4 and any("scenario.toml makes the kinds" in w for w in rep.warnings)
    st = load_station(tmp_path / "st")
    assert st.params.candidate_kinds == ["office"]     # "Office A" by its name, "WC" is hygiene
    assert set(st.rooms.loc[st.candidate_mask(), "name"]) == {"Office A", "Office B"}


def test_geojson_rooms_with_a_doors_file(tmp_path):
    import geopandas as gpd

    from planner.gis import import_gis

    rooms = gpd.GeoDataFrame({"id": ["C", "A", "B"], "use": ["corridor", "storage", "office"]},
                             geometry=[shapely.box(0, 3, 12, 5), shapely.box(0, 0, 6, 3), shapely.box(6, 0, 12, 3)])
    doors = gpd.GeoDataFrame({"width": [1.0, 0.8]},
                             geometry=[shapely.LineString([(2, 3), (3, 3)]), shapely.LineString([(8, 3), (8.8, 3)])])
    rooms.to_file(tmp_path / "rooms.geojson")
    doors.to_file(tmp_path / "doors_in.geojson")
    m = tmp_path / "m.toml"
    m.write_text("[fields]\nkind = \"use\"\n", encoding="utf-8")
    rep = import_gis(tmp_path / "rooms.geojson", tmp_path / "st", rooms_layer="anything",
                     doors_layer=str(tmp_path / "doors_in.geojson"), mapping=m)
    assert rep.doors == 2 and rep.crs == ""
    st = load_station(tmp_path / "st")
    assert sorted(zip(st.doors["from_room"].fillna(""), st.doors["to_room"].fillna(""))) in (
        [("A", "C"), ("B", "C")], [("C", "A"), ("C", "B")], [("A", "C"), ("C", "B")], [("C", "A"), ("B", "C")])
    assert sorted(st.doors["width_m"]) == [0.8, 1.0]
    assert main(["validate", str(tmp_path / "st")]) == 0
