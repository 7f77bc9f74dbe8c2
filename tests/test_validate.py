"""Input validation: one test per error of issue 2 through `planner validate`, warnings, properties."""

from __future__ import annotations


import geopandas as gpd
import pandas as pd
import pytest
import shapely
import shapely.affinity
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import box, corridor_layout, door_leaf
from planner.cli import main
from planner.errors import ValidationFailed
from planner.params import Parameters
from planner.station import Station, normalise_doors, normalise_rooms, resolve_doors
from planner.validate import Finding, require_valid, summarize, validate_station


def base(kinds=("storage", "quarters", "quarters", "recreation"), residents=None):
    """A valid corridor station: C + R1..Rn, doors D1..Dn."""
    return corridor_layout(list(kinds), residents=residents if residents is not None else {"R2": 2, "R3": 1})


def run_validate(folder, capsys, *extra):
    code = main(["--quiet", "validate", str(folder), *extra])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def in_memory(rooms, doors, residents, params=None) -> Station:
    """A Station built without files (fast, for property tests)."""
    params = params or Parameters()
    r = normalise_rooms(gpd.GeoDataFrame(rooms, geometry="geometry", crs=None))
    dg = (gpd.GeoDataFrame(doors, geometry="geometry", crs=None) if doors
          else gpd.GeoDataFrame({"door_id": []}, geometry=gpd.GeoSeries([]), crs=None))
    d = normalise_doors(dg, params)
    d = resolve_doors(r, d, params)
    res = pd.DataFrame(residents)
    res["room_id"] = res["room_id"].astype(str)
    scen = [c for c in res.columns if c != "room_id"]
    return Station(name="mem", folder=None, rooms=r, doors=d, residents=res, scenarios=scen, params=params)


# ------------------------------------------------------------------ valid
def test_valid_station_exits_0_and_summarizes(make_station, capsys):
    folder = make_station(*base())
    code, out, err = run_validate(folder, capsys)
    assert code == 0, err
    assert "Rooms by kind" in out and "quarters" in out
    assert "night 3" in out and "Candidate sites: 4" in out
    assert "valid" in out


def test_finding_str():
    f = Finding("error", "rooms.geojson", "room Q-12", "has no door", "add one")
    assert str(f) == "rooms.geojson: room Q-12 has no door. Fix: add one"


# ------------------------------------------------------------ one test per error
def _mutate_invalid_polygon(rooms, doors, res):
    rooms[1]["geometry"] = shapely.Polygon([(0, 2), (4, 5), (4, 2), (0, 5)])  # bow-tie


def _mutate_not_polygon(rooms, doors, res):
    rooms[1]["geometry"] = shapely.LineString([(0, 2), (4, 5)])


def _mutate_multipolygon(rooms, doors, res):
    rooms[1]["geometry"] = shapely.MultiPolygon([box(0, 2, 1.9, 5), box(2.1, 2, 4, 5)])


def _mutate_overlap(rooms, doors, res):
    rooms[2]["geometry"] = box(3, 2, 8, 5)  # R2 reaches 1 m into R1


def _mutate_duplicate_room(rooms, doors, res):
    rooms[3]["room_id"] = "R2"


def _mutate_duplicate_door(rooms, doors, res):
    doors[2]["door_id"] = "D2"


def _mutate_unknown_kind(rooms, doors, res):
    rooms[2]["kind"] = "spaceship"


def _mutate_door_one_side(rooms, doors, res):
    doors.append({"door_id": "D-LONE", "width_m": 0.9, "geometry": door_leaf(5, 5.0)})  # outer wall of R2


def _mutate_door_nowhere(rooms, doors, res):
    doors.append({"door_id": "D-FAR", "width_m": 0.9, "geometry": door_leaf(100, 100)})


def _mutate_door_unknown_room(rooms, doors, res):
    doors.append({"door_id": "D-X", "width_m": 0.9, "from_room": "R1", "to_room": "NOPE",
                  "geometry": shapely.Point(2, 2)})


def _mutate_door_self(rooms, doors, res):
    doors.append({"door_id": "D-SELF", "width_m": 0.9, "from_room": "R1", "to_room": "R1",
                  "geometry": shapely.Point(2, 2)})


def _mutate_door_zero_width(rooms, doors, res):
    doors[0]["width_m"] = 0


def _mutate_no_door(rooms, doors, res):
    del doors[1]  # R2 (quarters, 2 residents) loses its only door


def _mutate_disconnected(rooms, doors, res):
    rooms.append({"room_id": "ISLE-1", "kind": "storage", "sector": "B", "deck": 0, "geometry": box(50, 0, 54, 3)})
    rooms.append({"room_id": "ISLE-2", "kind": "quarters", "sector": "B", "deck": 0, "geometry": box(54, 0, 58, 3)})
    doors.append({"door_id": "D-ISLE", "width_m": 0.9, "geometry": shapely.LineString([(54, 1), (54, 1.9)])})


def _mutate_residents_unknown(rooms, doors, res):
    res.append({"room_id": "GHOST-7", "night": 3, "day": 0})


def _mutate_negative(rooms, doors, res):
    res[2]["night"] = -3


def _mutate_fraction(rooms, doors, res):
    res[2]["day"] = 1.5


def _mutate_nan(rooms, doors, res):
    res[3]["night"] = None


def _mutate_text(rooms, doors, res):
    res[3]["day"] = "lots"


def _mutate_zero_area(rooms, doors, res):
    rooms.append({"room_id": "FLAT", "kind": "quarters", "sector": "A", "deck": 0,
                  "geometry": shapely.Polygon([(0, 9), (4, 9), (8, 9)])})
    res.append({"room_id": "FLAT", "night": 2, "day": 0})


def _mutate_priority(rooms, doors, res):
    for r in res:
        r["priority"] = 1
    res[2]["priority"] = -2


def _mutate_no_candidates(rooms, doors, res):
    for r in rooms[1:]:
        r["protected"] = True


ERROR_CASES = {
    "invalid polygon": (_mutate_invalid_polygon, ["room R1", "invalid", "Self-intersection", "repaired"]),
    "non-polygon": (_mutate_not_polygon, ["room R1", "LineString"]),
    "multipolygon": (_mutate_multipolygon, ["room R1", "MultiPolygon"]),
    "overlap": (_mutate_overlap, ["R1", "R2", "overlaps", "3.00 m2"]),
    "duplicate room_id": (_mutate_duplicate_room, ["room R2", "unique room_id"]),
    "duplicate door_id": (_mutate_duplicate_door, ["door D2", "unique door_id"]),
    "unknown kind": (_mutate_unknown_kind, ["R2", "spaceship", "quarters, storage"]),
    "door touching one space": (_mutate_door_one_side, ["door D-LONE", "touches 1 space"]),
    "door touching none": (_mutate_door_nowhere, ["door D-FAR", "touches 0 space"]),
    "door names unknown room": (_mutate_door_unknown_room, ["door D-X", "NOPE"]),
    "door joins a room to itself": (_mutate_door_self, ["door D-SELF", "itself"]),
    "door of zero width": (_mutate_door_zero_width, ["door D1", "width_m 0"]),
    "room with no door": (_mutate_no_door, ["room R2", "no door"]),
    "disconnected spaces": (_mutate_disconnected, ["ISLE-1", "ISLE-2", "not connected"]),
    "residents for unknown room": (_mutate_residents_unknown, ["GHOST-7", "not a room"]),
    "negative count": (_mutate_negative, ["room R2 column night", "negative"]),
    "non-integer count": (_mutate_fraction, ["room R2 column day", "whole number"]),
    "NaN count": (_mutate_nan, ["room R3 column night", "empty"]),
    "text count": (_mutate_text, ["room R3 column day", "'lots'"]),
    "residents in zero-area room": (_mutate_zero_area, ["room FLAT", "zero"]),
    "negative priority": (_mutate_priority, ["room R2 column priority", "-2"]),
    "no candidate sites": (_mutate_no_candidates, ["candidate sites", "nothing to convert"]),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_each_error_exits_2_and_names_the_feature(case, make_station, capsys):
    mutate, expected = ERROR_CASES[case]
    rooms, doors, res = base()
    mutate(rooms, doors, res)
    folder = make_station(rooms, doors, res)
    code, out, err = run_validate(folder, capsys)
    assert code == 2, (case, out, err)
    for text in expected:
        assert text in err, (case, text, err)
    assert "Traceback" not in err
    assert "Fix:" in err


def test_missing_occupancy_column_exits_2(make_station, capsys):
    rooms, doors, _ = base()
    folder = make_station(rooms, doors, "room_id\nR1\nR2\n")
    code, out, err = run_validate(folder, capsys)
    assert code == 2
    assert "occupancy column" in err and "residents.csv" in err


def test_scenario_asks_for_missing_column(make_station, capsys):
    rooms, doors, res = base()
    folder = make_station(rooms, doors, res, scenario_toml='[model]\nscenarios = ["night", "evening"]\n')
    code, out, err = run_validate(folder, capsys)
    assert code == 2 and "evening" in err


@pytest.mark.parametrize("toml, expected", [
    ('[walking]\nspeed_m_s = "fast"\n', "walk_speed_m_s"),  # unknown key (unit missing from the name)
    ('[walking]\nwalk_speed_m_s = "fast"\n', "walk_speed_m_s"),  # wrong type
    ('[model]\nbudget = -5.0\n', "budget"),
    ('[capacity]\narea_per_occupant_m2 = true\n', "area_per_occupant_m2"),
    ('[nonsense]\nx = 1\n', "[nonsense]"),
])
def test_toml_wrong_type_or_unit_exits_2(toml, expected, make_station, capsys):
    folder = make_station(*base(), scenario_toml=toml)
    code, out, err = run_validate(folder, capsys)
    assert code == 2, err
    assert expected in err and "scenario.toml" in err
    assert "Traceback" not in err


def test_protect_unknown_room(make_station, capsys):
    folder = make_station(*base(), scenario_toml='[model]\nprotect = ["R1", "NO-SUCH"]\n')
    code, out, err = run_validate(folder, capsys)
    assert code == 2 and "NO-SUCH" in err


def test_every_error_reported_at_once(make_station, capsys):
    rooms, doors, res = base()
    for m in (_mutate_overlap, _mutate_unknown_kind, _mutate_duplicate_door, _mutate_negative,
              _mutate_residents_unknown, _mutate_door_nowhere):
        m(rooms, doors, res)
    folder = make_station(rooms, doors, res)
    code, out, err = run_validate(folder, capsys)
    assert code == 2
    for text in ("overlaps", "spaceship", "door D2", "negative", "GHOST-7", "D-FAR"):
        assert text in err, text


def test_debug_shows_traceback(make_station, capsys):
    rooms, doors, res = base()
    _mutate_negative(rooms, doors, res)
    folder = make_station(rooms, doors, res)
    code = main(["--quiet", "--debug", "validate", str(folder)])
    assert code == 2
    assert "Traceback" in capsys.readouterr().err


# ---------------------------------------------------------------- warnings
def test_warnings_do_not_fail(make_station, capsys):
    rooms, doors, res = base(residents={"R2": 8, "R3": 1, "C": 2})
    doors[3]["width_m"] = 0.25  # passes no one
    folder = make_station(rooms, doors, res)
    code, out, err = run_validate(folder, capsys)
    assert code == 0, err
    assert "warning" in err
    assert "room R2" in err and "1 per 2 m2" in err  # 8 people in 12 m2 of quarters
    assert "room C" in err and "corridor" in err
    assert "door D4" in err and "no one passes" in err


def test_require_valid_returns_warnings_and_raises_errors(tmp_path):
    rooms, doors, res = base(residents={"R2": 8})
    station = in_memory(rooms, doors, res)
    warnings = require_valid(station)
    assert warnings and all(w.level == "warning" for w in warnings)
    res[1]["night"] = -1
    with pytest.raises(ValidationFailed) as exc:
        require_valid(in_memory(rooms, doors, res))
    assert any("negative" in str(f) for f in exc.value.findings)


def test_doorless_empty_room_is_only_a_warning():
    rooms, doors, res = base(kinds=("storage", "quarters", "utility"), residents={"R2": 2})
    del doors[2]  # R3: utility, nobody in it, not a candidate
    found = validate_station(in_memory(rooms, doors, res))
    assert not [f for f in found if f.level == "error"], found
    assert any("R3" in f.feature and "no door" in f.problem for f in found)


def test_doorless_candidate_is_left_out_with_a_warning():
    from planner.sites import candidate_sites

    rooms, doors, res = base(kinds=("storage", "quarters", "recreation"), residents={"R2": 2})
    del doors[0]  # R1: storage, a candidate, nobody in it
    st = in_memory(rooms, doors, res)
    found = validate_station(st)
    assert not [f for f in found if f.level == "error"], found
    assert any(f.feature.split(" (")[0] == "room R1" and "left out of the candidates" in f.problem for f in found)
    assert "R1" not in candidate_sites(st).index and "R3" in candidate_sites(st).index


def test_degrees_are_named_not_zero_areas():
    rooms, doors, res = base()
    for r in rooms:   # the same plan in longitude/latitude near 13.3 E, 52.5 N
        r["geometry"] = shapely.affinity.translate(shapely.affinity.scale(r["geometry"], 1e-5, 1e-5, origin=(0, 0)),
                                                   13.3, 52.5)
    for d in doors:
        d["geometry"] = shapely.affinity.translate(shapely.affinity.scale(d["geometry"], 1e-5, 1e-5, origin=(0, 0)),
                                                   13.3, 52.5)
    found = validate_station(in_memory(rooms, doors, res))
    assert len(found) == 1 and found[0].feature == "coordinates" and "degrees" in found[0].problem
    assert "zero" not in str(found[0]).replace("near zero", "")


def test_empty_doors_file_has_its_own_message():
    rooms, _, res = base()
    found = validate_station(in_memory(rooms, [], res))
    errors = [f for f in found if f.level == "error"]
    assert len(errors) == 1 and errors[0].feature == "doors" and "doors infer" in errors[0].fix


def test_messages_name_rooms_by_name_as_well_as_id():
    rooms, doors, res = base(residents={"R2": 2})
    for r in rooms:
        r["room_id"], r["name"] = "0f3c-" + r["room_id"], "Cabin " + r["room_id"]
    for row in res:
        row["room_id"] = "0f3c-" + row["room_id"]
    del doors[1]   # R2 (2 residents) has no door
    errors = [f for f in validate_station(in_memory(rooms, doors, res)) if f.level == "error"]
    assert any(f.feature == "room 0f3c-R2 (Cabin R2)" for f in errors), errors


def test_vertical_link_with_explicit_rooms_is_valid():
    rooms, doors, res = base(kinds=("storage", "quarters"))
    rooms.append({"room_id": "UP", "kind": "quarters", "sector": "A", "deck": 1, "geometry": box(0, 0, 4, 3)})
    doors.append({"door_id": "S1", "width_m": 1.0, "from_room": "C", "to_room": "UP", "traverse_s": 10,
                  "geometry": shapely.Point(1, 1)})
    res.append({"room_id": "UP", "night": 1, "day": 0})
    st_ = in_memory(rooms, doors, res)
    errors = [f for f in validate_station(st_) if f.level == "error"]
    assert not errors, errors  # UP overlaps C in plan but lies on another deck
    assert "1 vertical" in summarize(st_)


def test_summarize_lists_sectors_existing_protected():
    rooms, doors, res = base()
    rooms[1]["existing"] = True
    rooms[2]["protected"] = True
    rooms[3]["sector"] = "B"
    text = summarize(in_memory(rooms, doors, res))
    assert "2 sectors" in text
    assert "Existing safe rooms: 1 (R1)" in text
    assert "Protected rooms (never converted): 1 (R2)" in text


# ------------------------------------------------------------- properties
kinds_st = st.lists(st.sampled_from(["storage", "quarters", "recreation", "lab", "office", "utility"]),
                    min_size=1, max_size=8).filter(lambda ks: any(k in ("storage", "quarters", "recreation") for k in ks))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kinds=kinds_st, data=st.data())
def test_property_random_corridor_stations_are_valid(kinds, data):
    n = len(kinds)
    residents = {f"R{i}": data.draw(st.integers(0, 2)) for i in range(1, n + 1)}
    rooms, doors, res = corridor_layout(kinds, residents=residents)
    errors = [f for f in validate_station(in_memory(rooms, doors, res)) if f.level == "error"]
    assert not errors, errors


@settings(max_examples=25, deadline=None)
@given(kinds=kinds_st, data=st.data())
def test_property_a_bad_count_is_always_named(kinds, data):
    rooms, doors, res = corridor_layout(kinds, residents={"R1": 1})
    row = data.draw(st.integers(0, len(res) - 1))
    col = data.draw(st.sampled_from(["night", "day"]))
    bad = data.draw(st.sampled_from([-1, -7, 0.5, 2.25, float("nan"), "x"]))
    res[row][col] = bad
    errors = [f for f in validate_station(in_memory(rooms, doors, res)) if f.level == "error"]
    rid = res[row]["room_id"]
    assert any(f"room {rid} column {col}" in f.feature for f in errors), errors


@settings(max_examples=25, deadline=None)
@given(kinds=kinds_st, data=st.data())
def test_property_a_removed_door_or_overlap_is_named(kinds, data):
    rooms, doors, res = corridor_layout(kinds, residents={"R1": 1})
    i = data.draw(st.integers(1, len(kinds)))
    if data.draw(st.booleans()):
        doors = [d for d in doors if d["door_id"] != f"D{i}"]
        errors = [f for f in validate_station(in_memory(rooms, doors, res)) if f.level == "error"]
        if not doors:   # the doors file is empty: its own message
            assert any(f.feature == "doors" and "no features" in f.problem for f in errors), errors
        elif i == 1:   # residents: an error
            assert any(f.feature.split(" (")[0] == f"room R{i}" and "no door" in f.problem for f in errors), errors
        elif kinds[i - 1] in ("storage", "quarters", "recreation"):   # an empty candidate: left out, a warning
            found = validate_station(in_memory(rooms, doors, res))
            assert not any(f"R{i}" in f.feature and "no door" in f.problem for f in errors), errors
            assert any(f.feature.split(" (")[0] == f"room R{i}" and "left out of the candidates" in f.problem for f in found), found
    else:
        shift = data.draw(st.floats(0.2, 3.0))
        g = rooms[i]["geometry"]
        rooms[i]["geometry"] = shapely.affinity.translate(g, xoff=-shift)  # slides into its neighbour
        errors = [f for f in validate_station(in_memory(rooms, doors, res)) if f.level == "error"]
        if i > 1:
            assert any("overlaps" in f.problem and f"R{i}" in str(f) for f in errors), errors


def test_budget_too_small_to_convert_anything(make_station, capsys):
    pytest.importorskip("planner.costs")
    folder = make_station(*base(), scenario_toml="[model]\nbudget = 10.0\n")
    code, out, err = run_validate(folder, capsys)
    assert code == 2, err
    assert "[model] budget" in err and "cheapest conversion" in err


def test_validate_dot_names_the_folder(make_station, capsys, monkeypatch):
    rooms, doors, res = base()
    folder = make_station(rooms, doors, res)
    monkeypatch.chdir(folder)
    code, out, err = run_validate(".", capsys)
    assert code == 0
    assert out.splitlines()[0].startswith(f"{folder.name}: ") and "()" not in out.splitlines()[0]
    assert out.strip().endswith(f"{folder.name}: valid.")
