"""Issue 18, bad input: the exact cases the issue lists (crashes, silently accepted, wrong exit codes,
misleading messages), each refused with exit code 2 and a message naming the file and the feature."""

from __future__ import annotations

import math

import pytest
import shapely
from test_fuzz_inputs import _base, _run, door, room


def _toml(text):
    def f(c):
        c["toml"] = text
    return f


def _set(get, key, value):
    def f(c):
        get(c)[key] = value
    return f


def _nan_vertex(c):
    g = room(c, 2)["geometry"]
    pts = list(g.exterior.coords)
    pts[1] = (math.nan, pts[1][1])
    room(c, 2)["geometry"] = shapely.Polygon(pts)


def _count(value):
    def f(c):
        c["residents"]["night"] = c["residents"]["night"].astype(float)
        c["residents"].loc[2, "night"] = value
    return f


def _far_door(c):
    door(c, 1).update(from_room="R1", to_room="R4")


def _long_door(c):
    (x0, y0), _ = door(c, 2)["geometry"].coords
    door(c, 2)["geometry"] = shapely.LineString([(x0, y0), (x0 + 60.0, y0)])


def _no_geometry(c):
    door(c, 3).update(geometry=None, from_room="R3", to_room="C")


def _crs(c):
    c["rooms_crs"], c["doors_crs"] = "EPSG:32633", "EPSG:32634"


def _dup_column(c):
    c["residents_bytes"] = b"room_id,night,night\nR2,3,3\nR4,2,2\nR1,0,0\nR3,0,0\nC,1,1\n"


def _latin1(c):
    c["toml_bytes"] = '[station]\nstation_title = "Station Hôtel"\n'.encode("latin-1")


def _z(c):
    g = room(c, 1)["geometry"]
    room(c, 1)["geometry"] = shapely.Polygon([(x, y, 0.0) for x, y in g.exterior.coords])


def _null_id(c):
    room(c, 3)["room_id"] = None


CASES = {
    # crashes (exit 70 before)
    "NaN in coordinates": (_nan_vertex, "rooms.geojson", "room R2"),
    "control characters in a name": (_set(lambda c: room(c, 2), "name", "Quarters\x07 2"), "rooms.geojson", "room R2"),
    "door with from/to but no geometry": (_no_geometry, "doors.geojson", "door D3"),
    "a count of 1e23": (_count(1e23), "residents.csv", "room R2"),
    "walk_speed_m_s = nan": (_toml("[walking]\nwalk_speed_m_s = nan\n"), "scenario.toml", "walk_speed_m_s"),
    "reach_s = inf": (_toml("[walking]\nreach_s = inf\n"), "scenario.toml", "reach_s"),
    "Latin-1 scenario.toml": (_latin1, "scenario.toml", "UTF-8"),
    "phase budget = nan": (_toml('[[phases]]\nname = "P1"\nbudget = nan\n'), "scenario.toml", "budget"),
    "endurance_h = 1e300": (_toml("[capacity]\nendurance_h = 1e300\n"), "scenario.toml", "endurance_h"),
    # silently accepted before
    "explicit door between rooms that do not touch": (_far_door, "doors.geojson", "door D1"),
    "a 60 m door line": (_long_door, "doors.geojson", "door D2"),
    'width_m: "wide"': (_set(lambda c: door(c, 1), "width_m", "wide"), "doors.geojson", "door D1"),
    'protected: "ja"': (_set(lambda c: room(c, 1), "protected", "ja"), "rooms.geojson", "room R1"),
    "mixed CRSs": (_crs, "doors.geojson", "crs"),
    "negative unit cost": (_toml("[costs]\npressure_door_each = -82e9\n"), "scenario.toml", "pressure_door_each"),
    "NaN unit cost": (_toml("[costs]\nwall_reinforcement_per_m2 = nan\n"), "scenario.toml", "wall_reinforcement_per_m2"),
    "walk_speed_m_s = inf": (_toml("[walking]\nwalk_speed_m_s = inf\n"), "scenario.toml", "walk_speed_m_s"),
    "reaction_s above the reach": (_toml("[walking]\nreaction_s = 90.0\n"), "scenario.toml", "reaction_s"),
    "threads 0": (_toml("[model]\nthreads = 0\n"), "scenario.toml", "threads"),
    "stairs flow 0": (_toml("[doors]\nstairs_flow_up_pps_m = 0.0\n"), "scenario.toml", "stairs_flow_up_pps_m"),
    "crews 0": (_toml("[labour]\ncrews = 0\n"), "scenario.toml", "crews"),
    "duplicate scenario column": (_dup_column, "residents.csv", "column 'night'"),
    # wrong exit codes (4 before)
    "counts of 1e20": (_count(1e20), "residents.csv", "room R2"),
    "area_per_occupant_m2 = 1e9": (_toml("[capacity]\narea_per_occupant_m2 = 1e9\n"), "scenario.toml",
                                   "area_per_occupant_m2"),
    "stores_fraction = 2": (_toml("[capacity]\nstores_fraction = 2.0\n"), "scenario.toml", "stores_fraction"),
    "phase max_rooms = -3": (_toml('[[phases]]\nname = "P1"\nmax_rooms = -3\n'), "scenario.toml", "max_rooms"),
    # misleading before
    "3-D coordinates": (_z, "rooms.geojson", "3-D coordinates"),
    "a null room_id": (_null_id, "rooms.geojson", "feature #4 has no room_id"),
    "an empty rooms file": (_set(lambda c: c, "rooms", []), "rooms.geojson", "the file has no features"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_issue_case_is_refused_with_exit_2(name):
    mutate, file, feature = CASES[name]
    case = _base()
    mutate(case)
    code, err = _run(case)
    assert "internal error" not in err and "Traceback" not in err, err
    assert code == 2 and file in err and feature in err, (code, err)


def test_a_residents_file_of_unknown_rooms_gives_a_short_answer():
    case = _base()
    import pandas as pd

    junk = pd.DataFrame({"room_id": [f"X{i}" for i in range(20000)], "night": 1, "day": 1})
    case["residents"] = pd.concat([case["residents"], junk], ignore_index=True)
    code, err = _run(case)
    assert code == 2 and "and 19,988 more rows" in err and len(err.splitlines()) < 40, err[:2000]
