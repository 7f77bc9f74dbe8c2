"""IMDF import: tiny hand-written venues (one rule or quirk per test) and the real SPbPU sample."""

from __future__ import annotations

import json
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from planner.errors import InputError, OutputError
from planner.imdf import DEFAULT_CATEGORIES, SKIP, import_imdf, load_mapping
from planner.params import KNOWN_KINDS, load_parameters
from planner.station import load_station

SAMPLE = Path(__file__).resolve().parent / "data" / "imdf" / "spbpu"  # copy of shared/data/imdf-spbpu (Apache-2.0)
SAMPLE_MAPPING = Path(__file__).resolve().parent / "data" / "imdf" / "spbpu_mapping.toml"
MAIN_BUILDING = "5f4874a1-38e7-43ad-b8b0-23e375d9208e"
MAIN_GROUND = "c0fb6195-5d7e-46cc-bfb0-58466f979550"

# local metres -> WGS84 through UTM zone 36N (the zone of 30 E, 60 N): the import must give them back
X0, Y0 = 350_000.0, 6_650_000.0
_TO_WGS = Transformer.from_crs("EPSG:32636", "EPSG:4326", always_xy=True)


def _ll(coords):
    return [list(_TO_WGS.transform(X0 + x, Y0 + y)) for x, y in coords]


def rect(x0, y0, x1, y1):
    return {"type": "Polygon", "coordinates": [_ll([(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)])]}


def line(*pts):
    return {"type": "LineString", "coordinates": _ll(pts)}


def unit(uid, level, geom, category=None, name=None, key="category"):
    props = {"level_id": level, "name": {"en": name, "ru": "x"} if name else None}
    if category is not None:
        props[key] = category
    return {"type": "Feature", "id": uid, "feature_type": "unit", "geometry": geom, "properties": props}


def opening(oid, level, geom, category="pedestrian"):
    return {"type": "Feature", "id": oid, "feature_type": "opening", "geometry": geom,
            "properties": {"category": category, "level_id": level}}


def level(lid, ordinal, building, name):
    return {"type": "Feature", "id": lid, "feature_type": "level", "geometry": None,
            "properties": {"ordinal": ordinal, "building_ids": [building], "name": {"en": name},
                           "short_name": {"en": name}}}


def tiny_venue() -> dict[str, list[dict]]:
    """Two buildings. B1: levels L0 (ordinal 0) and L1 (ordinal 1); B2: level L2 (ordinal 0, clashes with L0).

    L0: corridor W (0,0)-(20,3); above it rooms A, B, C, stairs S0; below it D (unknown
    category) and E (restroom); lift K0 east of W; a column (structure); room N nested
    inside W. Openings: one per room onto W, o5 on the A/B wall ending at W's edge (a
    junction of three units), o8 on W's outer wall (one unit only), oN on N's edge.
    """
    units = [
        unit("W", "L0", rect(0, 0, 20, 3), "walkway"),
        unit("A", "L0", rect(0, 3, 5, 8), "classroom", "Room A"),
        unit("B", "L0", rect(5, 3, 10, 8), "storage", "Store B"),
        unit("C", "L0", rect(10, 3, 15, 8), "office", "Office C", key="unit_categoty"),
        unit("S0", "L0", rect(15, 3, 20, 8), "stairs"),
        unit("D", "L0", rect(0, -5, 10, 0), "spaceship", "Odd D"),
        unit("E", "L0", rect(10, -5, 20, 0), "restroom.female", "WC E"),
        unit("K0", "L0", rect(20, 0, 22, 2), "elevator"),
        unit("COL", "L0", rect(30, 30, 30.5, 30.5), "column"),
        unit("N", "L0", rect(8, 1, 9, 2), "fitnessroom", "Nested N"),
        unit("W1", "L1", rect(0, 0, 20, 3), "walkway"),
        unit("F", "L1", rect(0, 3, 10, 8), "auditorium", "Hall F"),
        unit("S1", "L1", rect(15, 3, 20, 8), "stairs"),
        unit("K1", "L1", rect(20, 0, 22, 2), "elevator"),
        unit("W2", "L2", rect(100, 0, 110, 3), "walkway"),
        unit("G", "L2", rect(100, 3, 105, 8), "lounge", "Lounge G"),
    ]
    openings = [
        opening("o1", "L0", line((1, 3), (2, 3)), "automobile"),
        opening("o2", "L0", line((6, 3), (7, 3))),
        opening("o3", "L0", line((11, 3), (12.5, 3))),
        opening("o4", "L0", line((16, 3), (17, 3))),
        opening("o5", "L0", line((5, 3), (5, 4))),          # A/B wall, touches W at (5, 3)
        opening("o6", "L0", line((2, 0), (3, 0))),
        opening("o7", "L0", line((12, 0), (13, 0))),
        opening("o8", "L0", line((0, 1), (0, 2))),          # outer wall of W only
        opening("o9", "L0", line((20, 0.5), (20, 1.5))),
        opening("oN", "L0", line((8.2, 2), (8.8, 2))),      # nested room N onto W
        opening("p1", "L1", line((1, 3), (2, 3))),
        opening("p2", "L1", line((16, 3), (17, 3))),
        opening("p3", "L1", line((20, 0.5), (20, 1.5))),
        opening("q1", "L2", line((101, 3), (102, 3))),
    ]
    levels = [level("L0", 0, "B1", "Ground"), level("L1", 1, "B1", "First"), level("L2", 0, "B2", "Annex ground")]
    buildings = [{"type": "Feature", "id": b, "feature_type": "building", "geometry": None,
                  "properties": {"name": {"en": n}}} for b, n in (("B1", "Main hall"), ("B2", "Annex"))]
    return {"unit": units, "opening": openings, "level": levels, "building": buildings}


def write_venue(folder: Path, venue: dict[str, list[dict]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, feats in venue.items():
        (folder / f"{name}.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    (folder / "manifest.json").write_text(json.dumps({"version": "1.0.0", "language": "en"}))
    return folder


@pytest.fixture
def venue_dir(tmp_path: Path) -> Path:
    return write_venue(tmp_path / "venue", tiny_venue())


def _door(doors: pd.DataFrame, door_id: str) -> pd.Series:
    return doors.set_index("door_id").loc[door_id]


# ------------------------------------------------------------------ tiny venue
def test_tiny_import_maps_every_unit_and_opening(venue_dir: Path, tmp_path: Path) -> None:
    rep = import_imdf(venue_dir, tmp_path / "out")
    assert rep.epsg == 32636 and rep.crs == "EPSG:32636"
    assert rep.units_total == 16 and rep.accounted()
    assert list(rep.units_dropped["unit_id"]) == ["COL"]
    assert "not a space" in rep.units_dropped["reason"].iloc[0]

    st = load_station(tmp_path / "out")
    rooms = st.rooms.set_index("room_id")
    kinds = rooms["kind"].to_dict()
    assert kinds == {"W": "corridor", "A": "classroom", "B": "storage", "C": "office", "S0": "stairs", "D": "other",
                     "E": "hygiene", "K0": "lift", "N": "recreation", "W1": "corridor", "F": "auditorium",
                     "S1": "stairs", "K1": "lift", "W2": "corridor", "G": "recreation"}
    # projected back to the metres we drew (UTM 36N), areas exact
    assert rooms.loc["A"].geometry.area == pytest.approx(25.0, abs=1e-3)
    assert rooms.loc["A", "name"] == "Room A" and rooms.loc["G", "sector"] == "Annex"
    # decks: ordinals clash between the buildings; the larger building keeps its ordinals
    assert rooms.loc["A", "deck"] == 0 and rooms.loc["F", "deck"] == 1 and rooms.loc["G", "deck"] == 100
    # nested room N was cut out of the corridor, which lost exactly 1 m2
    assert rooms.loc["W"].geometry.area == pytest.approx(59.0, abs=1e-3)
    assert any("cut out" in r for r in rep.repairs)

    doors = st.doors
    for oid, pair in {"o1": {"A", "W"}, "o2": {"B", "W"}, "o3": {"C", "W"}, "o4": {"S0", "W"}, "o6": {"D", "W"},
                      "o7": {"E", "W"}, "o9": {"K0", "W"}, "oN": {"N", "W"}, "p1": {"F", "W1"},
                      "q1": {"G", "W2"}}.items():
        d = _door(doors, oid)
        assert {d["from_room"], d["to_room"]} == pair, oid
    assert _door(doors, "o3")["width_m"] == pytest.approx(1.5, abs=1e-3)   # width = opening length
    assert "o8" not in set(doors["door_id"])
    assert rep.doors == 13 and rep.openings_total == 14


def test_junction_opening_joins_the_two_units_it_separates(venue_dir: Path, tmp_path: Path) -> None:
    rep = import_imdf(venue_dir, tmp_path / "out")
    st = load_station(tmp_path / "out")
    d = _door(st.doors, "o5")
    assert {d["from_room"], d["to_room"]} == {"A", "B"}
    j = rep.junctions.set_index("opening_id")
    assert "o5" in j.index and "(W)" in j.loc["o5", "also_touching"]


def test_opening_touching_one_unit_is_dropped_with_reason(venue_dir: Path, tmp_path: Path) -> None:
    rep = import_imdf(venue_dir, tmp_path / "out")
    od = rep.openings_dropped.set_index("opening_id")
    assert list(od.index) == ["o8"]
    assert od.loc["o8", "reason"].startswith("touches only one unit") and "(W)" in od.loc["o8", "reason"]
    text = (tmp_path / "out" / "import_report.md").read_text()
    assert "o8" in text and "touches only one unit" in text


def test_quirks_are_warned(venue_dir: Path, tmp_path: Path) -> None:
    rep = import_imdf(venue_dir, tmp_path / "out")
    w = "\n".join(rep.warnings)
    assert "unit_categoty" in w and "1 unit(s)" in w                    # misspelled key accepted
    assert "automobile x1" in w                                           # treated as a pedestrian door
    assert rep.unknown_categories == {"spaceship": 1}                     # unknown -> other, counted
    assert "spaceship" in w
    cats = rep.categories.set_index("category")
    assert cats.loc["spaceship", "kind"] == "other" and cats.loc["spaceship", "count"] == 1
    assert cats.loc["office", "kind"] == "office"                         # read from the misspelled key


def test_stairs_and_lifts_line_up_into_vertical_links(venue_dir: Path, tmp_path: Path) -> None:
    rep = import_imdf(venue_dir, tmp_path / "out")
    st = load_station(tmp_path / "out")
    v = st.doors[st.doors["vertical"]].set_index("door_id")
    assert rep.vertical_links == 2 and len(v) == 2
    stairs = v.loc["link:S0:S1"]
    assert (stairs["from_room"], stairs["to_room"]) == ("S0", "S1")
    assert stairs["traverse_s"] == pytest.approx(12.0)
    assert v.loc["link:K0:K1", "traverse_s"] == pytest.approx(20.0)
    assert st.doors.set_index("door_id").loc["link:S0:S1"].geometry.geom_type == "Point"


def test_no_vertical_link_without_overlap(tmp_path: Path) -> None:
    ven = tiny_venue()
    ven["unit"] = [u for u in ven["unit"] if u["id"] != "S1"] + [unit("S1", "L1", rect(40, 40, 45, 45), "stairs")]
    rep = import_imdf(write_venue(tmp_path / "v", ven), tmp_path / "out")
    assert rep.vertical_links == 1                                        # only the lifts


def test_levels_filter(venue_dir: Path, tmp_path: Path) -> None:
    rep = import_imdf(venue_dir, tmp_path / "out", levels=["First"])
    st = load_station(tmp_path / "out")
    assert set(st.rooms["room_id"]) == {"W1", "F", "S1", "K1"}
    assert rep.accounted() and (rep.units_dropped["reason"] == "level not selected").sum() == 12
    assert rep.vertical_links == 0 and rep.doors == 3
    assert rep.door_share == 1.0
    with pytest.raises(InputError, match="matches nothing"):
        import_imdf(venue_dir, tmp_path / "out2", levels=["Basement"])


def test_building_filter(venue_dir: Path, tmp_path: Path) -> None:
    import_imdf(venue_dir, tmp_path / "out", building="Annex")
    st = load_station(tmp_path / "out")
    assert set(st.rooms["room_id"]) == {"W2", "G"}
    assert set(st.rooms["deck"]) == {0}                                    # the only building keeps its ordinal
    import_imdf(venue_dir, tmp_path / "out_b1", building="B1", levels=["0"])
    assert set(load_station(tmp_path / "out_b1").rooms["deck"]) == {0}


def test_refuses_to_overwrite(venue_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(OutputError, match="not empty"):
        import_imdf(venue_dir, out)
    assert (out / "keep.txt").read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]   # no temp left behind
    import_imdf(venue_dir, out, overwrite=True)
    assert not (out / "keep.txt").exists() and (out / "rooms.geojson").exists()
    (tmp_path / "empty").mkdir()
    import_imdf(venue_dir, tmp_path / "empty")                            # an empty folder is fine


def test_outputs_are_a_loadable_station(venue_dir: Path, tmp_path: Path) -> None:
    rep = import_imdf(venue_dir, tmp_path / "out")
    out = tmp_path / "out"
    fc = json.loads((out / "rooms.geojson").read_text())
    assert fc["crs"]["properties"]["name"].endswith("32636")
    res = pd.read_csv(out / "residents.csv", dtype={"room_id": str})
    assert list(res.columns) == ["room_id", "night", "day", "evening"]
    assert len(res) == rep.rooms and res[["night", "day", "evening"]].to_numpy().sum() == 0
    load_parameters(out / "scenario.toml")                                # comments only: defaults
    assert tomllib.loads((out / "scenario.toml").read_text()) == {}
    st = load_station(out)
    assert st.rooms.crs.to_epsg() == 32636
    text = (out / "import_report.md").read_text()
    for part in ("EPSG:32636", "Unit categories -> kinds", "spaceship", "Units not imported", "COL",
                 "Rooms without a door", "Unreachable parts"):
        assert part in text
    assert str(rep).startswith("imported")


def test_zip_source(venue_dir: Path, tmp_path: Path) -> None:
    z = tmp_path / "venue.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for p in venue_dir.iterdir():
            zf.write(p, f"IMDF/{p.name}")
    rep = import_imdf(z, tmp_path / "out")
    assert rep.rooms == 15


def test_missing_files_and_bad_source(tmp_path: Path) -> None:
    ven = tiny_venue()
    del ven["opening"]
    with pytest.raises(InputError, match="opening.geojson"):
        import_imdf(write_venue(tmp_path / "v", ven), tmp_path / "out")
    with pytest.raises(InputError):
        import_imdf(tmp_path / "nothing-here", tmp_path / "out")


def test_rooms_without_door_and_cut_off_parts_are_reported(tmp_path: Path) -> None:
    ven = tiny_venue()
    ven["opening"] = [o for o in ven["opening"] if o["id"] not in ("o6", "o2", "o5")]
    ven["unit"].append(unit("X", "L0", rect(40, 0, 45, 5), "office", "Island X"))
    ven["unit"].append(unit("Y", "L0", rect(45, 0, 50, 5), "office", "Island Y"))
    ven["opening"].append(opening("xy", "L0", line((45, 1), (45, 2))))
    rep = import_imdf(write_venue(tmp_path / "v", ven), tmp_path / "out")
    assert set(rep.rooms_without_door["room_id"]) == {"D", "B"}
    assert set(rep.rooms_without_door["name"]) == {"Odd D", "Store B"}
    assert rep.rooms_without_door["level"].str.contains("Ground").all()
    assert set(rep.unreachable["room_id"]) == {"X", "Y"}
    text = (tmp_path / "out" / "import_report.md").read_text()
    assert "Island X" in text and "Odd D" in text


# ------------------------------------------------------------------ mapping
@pytest.mark.parametrize("category,kind", [
    ("walkway", "corridor"), ("hallway", "corridor"), ("corridor", "corridor"), ("walkway.island", "corridor"),
    ("stairs", "stairs"), ("escalator", "stairs"), ("ramp", "stairs"), ("elevator", "lift"),
    ("storage", "storage"), ("classroom", "classroom"), ("auditorium", "auditorium"), ("office", "office"),
    ("conferenceroom", "office"), ("laboratory", "lab"), ("recreation", "recreation"),
    ("fitnessroom", "recreation"), ("lounge", "recreation"), ("library", "recreation"),
    ("restroom", "hygiene"), ("restroom.male.wheelchair", "hygiene"), ("foodservice", "galley"),
    ("foodservice.coffee", "galley"), ("kitchen", "galley"), ("firstaid", "medical"), ("lobby", "lobby"),
    ("unspecified", "other"), ("column", SKIP), ("opentobelow", SKIP), ("martian", ""),
])
def test_default_mapping(category: str, kind: str) -> None:
    assert load_mapping(None).kind(category, 20.0)[0] == kind


def test_default_mapping_only_known_kinds() -> None:
    assert set(DEFAULT_CATEGORIES.values()) <= set(KNOWN_KINDS) | {SKIP}


def test_mapping_file_overrides(venue_dir: Path, tmp_path: Path) -> None:
    m = tmp_path / "map.toml"
    m.write_text('[categories]\nspaceship = "lab"\nauditorium = "recreation"\n\n'
                 '[[rules]]\ncategory = "classroom"\nmax_area_m2 = 30\nkind = "storage"\n\n'
                 '[units]\nE = "utility"\n\n[vertical]\nstairs_traverse_s = 15\n')
    rep = import_imdf(venue_dir, tmp_path / "out", mapping=m)
    st = load_station(tmp_path / "out")
    kinds = st.rooms.set_index("room_id")["kind"]
    assert kinds["D"] == "lab" and kinds["F"] == "recreation" and kinds["A"] == "storage" and kinds["E"] == "utility"
    assert rep.unknown_categories == {}
    v = st.doors.set_index("door_id")
    assert v.loc["link:S0:S1", "traverse_s"] == pytest.approx(15.0)
    # the size rule only catches small classrooms
    mp = load_mapping(m)
    assert mp.kind("classroom", 29.9) == ("storage", "rule 1") and mp.kind("classroom", 30.0)[0] == "classroom"


@pytest.mark.parametrize("text,match", [
    ('[categories]\nwalkway = "hallway"\n', "not a known kind"),
    ('[colours]\nx = 1\n', "not a known section"),
    ('[[rules]]\ncategory = "classroom"\n', "needs category and kind"),
    ('[vertical]\nspeed = 3\n', "not a known key"),
    ('[categories\n', "cannot be parsed"),
])
def test_bad_mapping_file(tmp_path: Path, text: str, match: str) -> None:
    m = tmp_path / "map.toml"
    m.write_text(text)
    with pytest.raises(InputError, match=match):
        load_mapping(m)


def test_no_candidates_is_said(tmp_path: Path) -> None:
    ven = tiny_venue()
    ven["unit"] = [u for u in ven["unit"] if u["properties"].get("category") not in ("storage", "fitnessroom", "lounge")]
    rep = import_imdf(write_venue(tmp_path / "v", ven), tmp_path / "out")
    assert rep.candidate_rooms == 0
    assert any("no room has a candidate kind" in w for w in rep.warnings)
    assert "Suggested mapping" in (tmp_path / "out" / "import_report.md").read_text()


# ------------------------------------------------------------------ the real sample
needs_sample = pytest.mark.skipif(not (SAMPLE / "unit.geojson").exists(),
                                  reason=f"IMDF sample not found at {SAMPLE}")


@pytest.fixture(scope="module")
def sample_import(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("spbpu") / "spbpu"
    rep = import_imdf(SAMPLE, out, mapping=SAMPLE_MAPPING)
    return rep, out


@needs_sample
def test_sample_every_unit_accounted_and_doors(sample_import) -> None:
    rep, out = sample_import
    assert rep.units_total == 443 and rep.accounted()
    assert rep.openings_total == 472
    assert rep.doors / rep.openings_total >= 0.85
    st = load_station(out)
    assert len(st.rooms) == rep.rooms
    level_doors = st.doors[~st.doors["vertical"]]
    assert level_doors["from_room"].notna().all() and level_doors["to_room"].notna().all()
    assert (level_doors["from_room"] != level_doors["to_room"]).all()
    assert rep.vertical_links > 0
    assert rep.candidate_rooms > 0 and st.candidate_mask().sum() == rep.candidate_rooms
    assert any("automobile" in w for w in rep.warnings)


@needs_sample
def test_sample_main_ground_floor_is_one_network(sample_import) -> None:
    rep, out = sample_import
    st = load_station(out)
    r = st.rooms
    ground = r[r["deck"] == 0]      # the main building is the larger one: it keeps its ordinals (0 = ground)
    assert len(ground) == 118
    pos = pd.Series(np.arange(len(ground)), index=ground["room_id"].to_numpy())
    d = st.doors[~st.doors["vertical"] & st.doors["from_room"].isin(pos.index) & st.doors["to_room"].isin(pos.index)]
    adj = coo_matrix((np.ones(len(d)), (pos[d["from_room"]].to_numpy(), pos[d["to_room"]].to_numpy())),
                     shape=(len(ground), len(ground)))
    _, lab = connected_components(adj, directed=False)
    has_door = np.bincount(np.r_[pos[d["from_room"]].to_numpy(), pos[d["to_room"]].to_numpy()],
                           minlength=len(ground)) > 0
    # every room with a door is in one network; the doorless ones are listed in the report
    assert len(set(lab[has_door])) == 1
    no_door = set(ground["room_id"][~has_door])
    assert no_door <= set(rep.rooms_without_door["room_id"])
    assert len(no_door) <= 1


@needs_sample
def test_sample_main_ground_floor_validates(tmp_path: Path) -> None:
    validate = pytest.importorskip("planner.validate")
    out = tmp_path / "ground"
    rep = import_imdf(SAMPLE, out, building=MAIN_BUILDING, levels=["0"], mapping=SAMPLE_MAPPING)
    assert rep.rooms == 118 and rep.accounted()
    errors = [f for f in validate.validate_station(load_station(out)) if f.level == "error"]
    assert errors == []


@needs_sample
def test_sample_buildings_are_not_joined(sample_import) -> None:
    rep, _ = sample_import
    assert rep.unreachable.empty                       # each building is one network on its own
    assert any("buildings" in w for w in rep.warnings)  # and the report says they are not joined indoors


def test_bad_units_are_reported_not_lost(tmp_path: Path) -> None:
    ven = tiny_venue()
    two_parts = {"type": "MultiPolygon", "coordinates": [rect(40, 0, 44, 5)["coordinates"],
                                                          rect(50, 0, 51, 1)["coordinates"]]}
    ven["unit"] += [
        unit("A", "L0", rect(60, 0, 61, 1), "office", "Second A"),          # duplicate id
        unit("Z", "L9", rect(70, 0, 71, 1), "office", "Lost Z"),            # level_id names no level
        {"type": "Feature", "id": "NG", "feature_type": "unit", "geometry": None,
         "properties": {"level_id": "L0", "category": "office"}},
        {"type": "Feature", "id": "PT", "feature_type": "unit",
         "geometry": {"type": "Point", "coordinates": _ll([(80, 0)])[0]},
         "properties": {"level_id": "L0", "category": "office"}},
        unit("MP", "L0", two_parts, "office", "Split MP"),
    ]
    ven["opening"].append(opening("oz", "L9", line((70, 0), (70, 1))))
    rep = import_imdf(write_venue(tmp_path / "v", ven), tmp_path / "out")
    assert rep.units_total == 21 and rep.accounted()
    reasons = dict(zip(rep.units_dropped["unit_id"] + "|" + rep.units_dropped["name"], rep.units_dropped["reason"]))
    assert reasons["A|Second A"].startswith("duplicate id")
    assert reasons["Z|Lost Z"].startswith("unknown level")
    assert reasons["NG|"] == "no geometry"
    assert reasons["PT|"].startswith("not a polygon")
    rooms = load_station(tmp_path / "out").rooms.set_index("room_id")
    assert rooms.loc["MP"].geometry.area == pytest.approx(20.0, abs=1e-3)   # largest part kept ...
    assert any("MP" in r and "dropped 1.0 m2" in r for r in rep.repairs)      # ... and the loss reported
    od = rep.openings_dropped.set_index("opening_id")
    assert od.loc["oz", "reason"].startswith("unknown level")
    text = (tmp_path / "out" / "import_report.md").read_text()
    for part in ("Second A", "Lost Z", "NG", "PT", "dropped 1.0 m2"):
        assert part in text


def test_links_never_skip_a_level_left_out(tmp_path: Path) -> None:
    ven = tiny_venue()
    ven["level"].append(level("L3", 2, "B1", "Second"))
    ven["unit"] += [unit("W3", "L3", rect(0, 0, 20, 3), "walkway"), unit("S3", "L3", rect(15, 3, 20, 8), "stairs")]
    ven["opening"].append(opening("r1", "L3", line((16, 3), (17, 3))))
    src = write_venue(tmp_path / "v", ven)
    rep = import_imdf(src, tmp_path / "all")
    assert rep.vertical_links == 3                                        # S0-S1, S1-S3, K0-K1
    rep = import_imdf(src, tmp_path / "skip", levels=["Ground", "Second"])
    assert rep.vertical_links == 0                                        # S0 and S3 are two floors apart


@pytest.mark.slow
@needs_sample
def test_sample_full_proposal_with_filled_residents(tmp_path: Path) -> None:
    """The issue's check: a full proposal runs on the imported venue with filled residents."""
    import json

    from planner.cli import main

    out = tmp_path / "main0"
    import_imdf(SAMPLE, out, building=MAIN_BUILDING, levels=["0"], mapping=SAMPLE_MAPPING)
    assert main(["--quiet", "residents", "fill", str(out)]) == 0
    # some day-time rooms are too crowded for any door to admit them in 60 s: cover-all is impossible, so
    # (issue 19) propose writes a max-cover proposal whose notes say who cannot be sheltered and why
    assert main(["--quiet", "propose", str(out), "--out", str(tmp_path / "r0"), "--whatif-budgets", "0"]) == 0
    (first,) = list((tmp_path / "r0").iterdir())
    plan0 = json.loads((first / "plan.json").read_text())
    assert plan0["objective"] == "max-cover"
    assert any(n.startswith("Cover-all is impossible") for n in plan0["notes"])
    assert any(n.startswith("Cannot be sheltered in scenario 'day'") for n in plan0["notes"])
    reports = tmp_path / "reports"
    assert main(["--quiet", "propose", str(out), "--objective", "max-cover", "--out", str(reports),
                 "--time-limit", "20", "--whatif-budgets", "2", "--whatif-time-limit", "5"]) == 0
    (folder,) = list(reports.iterdir())
    plan = json.loads((folder / "plan.json").read_text())
    assert plan["safe_rooms"] and plan["assignments"]
    assert all(v["sheltered"] > 0 for v in plan["totals"]["scenarios"].values())
    assert any(folder.glob("*.xlsx")) and any(folder.glob("map-deck-*.png"))
    # the checker judges by the station's parameters: the objective and time limit given to propose
    assert main(["check", str(out), str(folder / "plan.json"), "--objective", "max-cover", "--time-limit", "20"]) == 0
