"""Station loading: column normalisation, door resolution, alternative file formats."""

import json

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import LineString, Point, box, mapping

from planner.errors import InputError
from planner.station import load_station


def _fc(features):
    return {"type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": p, "geometry": mapping(g)} for p, g in features]}


def _write(folder, rooms, doors, residents_csv, scenario=None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rooms.geojson").write_text(json.dumps(_fc(rooms)))
    (folder / "doors.geojson").write_text(json.dumps(_fc(doors)))
    (folder / "residents.csv").write_text(residents_csv)
    if scenario:
        (folder / "scenario.toml").write_text(scenario)
    return folder


@pytest.fixture
def two_decks(tmp_path):
    rooms = [
        ({"room_id": "C0", "kind": "corridor", "deck": 0}, box(0, 0, 20, 2)),
        ({"room_id": "Q0", "kind": "quarters", "deck": 0}, box(0, 2, 4, 5)),
        ({"room_id": "S0", "kind": "storage", "deck": 0}, box(4, 2, 10, 5)),
        ({"room_id": "T0", "kind": "stairs", "deck": 0}, box(16, 2, 20, 5)),
        # deck 1 sits exactly above deck 0
        ({"room_id": "C1", "kind": "corridor", "deck": 1}, box(0, 0, 20, 2)),
        ({"room_id": "R1", "kind": "Recreation", "deck": 1, "protected": True}, box(0, 2, 10, 5)),
        ({"room_id": "T1", "kind": "stairs", "deck": 1}, box(16, 2, 20, 5)),
    ]
    doors = [
        ({"door_id": "d1", "width_m": 0.9, "deck": 0}, LineString([(1, 2), (1.9, 2)])),
        ({"door_id": "d2", "deck": 0}, LineString([(6, 2), (7, 2)])),
        # at the junction of Q0, S0 and C0: the line lies on the Q0|S0 wall, grazing C0 at one end
        ({"door_id": "d3", "width_m": 0.8, "deck": 0}, LineString([(4, 2), (4, 2.8)])),
        ({"door_id": "d4", "width_m": 1.0, "deck": 0}, LineString([(17, 2), (18, 2)])),
        ({"door_id": "d5", "width_m": 1.0, "deck": 1}, LineString([(17, 2), (18, 2)])),
        ({"door_id": "d6", "width_m": 1.0, "deck": 1}, LineString([(2, 2), (3, 2)])),
        ({"door_id": "v1", "width_m": 1.2, "from_room": "T0", "to_room": "T1", "traverse_s": 12}, Point(18, 3.5)),
    ]
    return _write(tmp_path / "st", rooms, doors, "room_id,night,day,priority\nQ0,2,0,3\nR1,0,5,\nS0,0,1,1\n")


def test_doors_resolve_on_their_deck(two_decks):
    s = load_station(two_decks)
    d = s.doors.set_index("door_id")
    assert {d.at["d1", "from_room"], d.at["d1", "to_room"]} == {"C0", "Q0"}
    assert {d.at["d5", "from_room"], d.at["d5", "to_room"]} == {"C1", "T1"}  # not the deck-0 rooms below
    assert {d.at["d3", "from_room"], d.at["d3", "to_room"]} == {"Q0", "S0"}  # junction: the wall it lies on
    assert d.at["d3", "touching"] == 3
    assert d.at["v1", "vertical"] and not d.at["d1", "vertical"]
    assert d.at["d2", "width_m"] == pytest.approx(0.9)  # default width


def test_columns_and_demand(two_decks):
    s = load_station(two_decks)
    r = s.rooms.set_index("room_id")
    assert r.at["R1", "kind"] == "recreation" and r.at["R1", "protected"]
    assert r.at["Q0", "name"] == "Q0" and r.at["C1", "deck"] == 1
    assert s.scenarios == ["night", "day"]
    dem = s.demand()
    assert dem.loc["Q0", "night"] == 2 and dem.loc["R1", "day"] == 5 and dem.loc["C0"].sum() == 0
    pr = s.priority()
    assert pr["Q0"] == 3 and pr["R1"] == 1.0 and pr["C1"] == 1.0
    cand = s.rooms.loc[s.candidate_mask(), "room_id"].tolist()
    assert cand == ["Q0", "S0"]  # R1 is protected


def test_one_sided_explicit_door(tmp_path):
    rooms = [({"room_id": "A", "kind": "corridor"}, box(0, 0, 10, 2)),
             ({"room_id": "B", "kind": "storage"}, box(0, 2, 5, 5))]
    doors = [({"door_id": "x", "to_room": "B"}, LineString([(1, 2), (2, 2)]))]
    s = load_station(_write(tmp_path / "s", rooms, doors, "room_id,night\nB,1\n"))
    d = s.doors.iloc[0]
    assert {d["from_room"], d["to_room"]} == {"A", "B"}


def test_geopackage_and_xlsx(two_decks, tmp_path):
    folder = tmp_path / "gp"
    folder.mkdir()
    gpd.read_file(two_decks / "rooms.geojson").set_crs(None, allow_override=True).to_file(folder / "station.gpkg", layer="rooms")
    gpd.read_file(two_decks / "doors.geojson").set_crs(None, allow_override=True).to_file(folder / "station.gpkg", layer="doors")
    pd.read_csv(two_decks / "residents.csv").to_excel(folder / "residents.xlsx", index=False)
    s = load_station(folder)
    assert len(s.rooms) == 7 and len(s.doors) == 7 and s.demand().loc["R1", "day"] == 5


def test_missing_files_name_the_fix(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_station(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="rooms.geojson"):
        load_station(tmp_path / "empty")


def test_geographic_crs_is_refused(two_decks):
    data = json.loads((two_decks / "rooms.geojson").read_text())
    data["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}
    (two_decks / "rooms.geojson").write_text(json.dumps(data))
    with pytest.raises(InputError, match="geographic"):
        load_station(two_decks)


def test_scenario_columns_from_toml(two_decks):
    (two_decks / "scenario.toml").write_text('[model]\nscenarios = ["day"]\n')
    assert load_station(two_decks).scenarios == ["day"]
    (two_decks / "scenario.toml").write_text('[model]\nscenarios = ["evening"]\n')
    with pytest.raises(InputError, match="evening"):
        load_station(two_decks)


def test_inputs_hash_is_read_once_and_follows_an_edit(two_decks, monkeypatch):
    """`inputs_sha256` reads the files once per state of them: asked again it answers from memory; after
    an edit (size or modification time changed) it reads them again and the hash changes."""
    import hashlib
    import os
    from pathlib import Path

    st = load_station(two_decks)
    first = st.inputs_sha256()
    reads = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(self.name) or real(self))
    assert st.inputs_sha256() == first and reads == []
    res = st.files["residents"]
    res.write_text(res.read_text() + "\n")
    assert st.inputs_sha256() != first and reads
    h = hashlib.sha256()
    for key in sorted(st.files):
        h.update(key.encode())
        h.update(st.files[key].name.encode())
        h.update(real(st.files[key]))
    assert st.inputs_sha256() == h.hexdigest()
    # the same size, a later modification time: read again
    reads.clear()
    text = res.read_text().replace("\n\n", "\n ")
    res.write_text(text)
    stat = res.stat()
    os.utime(res, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    st.inputs_sha256()
    assert reads


def test_walking_graph_is_built_once_per_station(two_decks, monkeypatch):
    """`walk_graph` builds the graph once per station object (`Station.derived`); a station with other
    parameters (`dataclasses.replace`, or its parameters assigned anew) builds its own."""
    import dataclasses

    import planner.network.paths as paths

    st = load_station(two_decks)
    built = []
    real = paths.build_graph
    monkeypatch.setattr(paths, "build_graph", lambda *a, **k: built.append(1) or real(*a, **k))
    g = paths.walk_graph(st)
    assert paths.walk_graph(st) is g and len(built) == 1
    other = dataclasses.replace(st, params=st.params.replace(reach_s=st.params.reach_s + 10))
    g2 = paths.walk_graph(other)
    assert g2 is not g and len(built) == 2
    st.params = st.params.replace(walk_speed_m_s=st.params.walk_speed_m_s * 0.5)
    assert paths.walk_graph(st) is not g and len(built) == 3
    import pickle

    copy = pickle.loads(pickle.dumps(st))      # a worker's copy: no graph carried, its own built on use
    assert copy._derived == {} and copy.inputs_sha256() == st.inputs_sha256()
    paths.walk_graph(copy)
    assert len(built) == 4
