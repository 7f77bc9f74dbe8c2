"""Issue 18: a fuzz suite over inputs and parameters. Every generated bad input ends with exit code 2
and a message naming the file and the feature: never a traceback, never an internal error, never
exit 0 with a plan made from it.

Each *kind* of bad input is a mutation of a small valid station (a corridor with four rooms) whose
values hypothesis draws; `KINDS` lists them. The suite runs `planner solve` in this process on each
example (a bad input is refused while loading, in well under a second). `test_every_kind_is_tried`
makes sure no kind is left out; `docs/reliability.md` gives the counts.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import shapely
from conftest import corridor_layout
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import mapping

from planner.cli import main
from planner.params import PHASE_RANGES, RANGES, Parameters

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "2"))
"""Examples per kind (hypothesis draws them; FUZZ_EXAMPLES=50 for a deeper run outside `make test`)."""
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)


# ------------------------------------------------------------------ the base station and its writer
def _base() -> dict:
    rooms, doors, res = corridor_layout(["storage", "quarters", "storage", "quarters"],
                                        residents={"R2": 3, "R4": 2, "C": 1})
    return {"rooms": rooms, "doors": doors, "residents": pd.DataFrame(res), "toml": None,
            "rooms_crs": None, "doors_crs": None, "residents_bytes": None, "toml_bytes": None}


def _fc(features: list[dict], crs: str | None) -> str:
    out: dict[str, Any] = {"type": "FeatureCollection", "features": []}
    if crs:
        out["crs"] = {"type": "name", "properties": {"name": crs}}
    for f in features:
        props = {k: v for k, v in f.items() if k != "geometry"}
        g = f.get("geometry")
        out["features"].append({"type": "Feature", "properties": props, "geometry": None if g is None else mapping(g)})
    return json.dumps(out)  # NaN and Infinity are written as they are: GDAL reads them


def _write(case: dict, folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "rooms.geojson").write_text(_fc(case["rooms"], case["rooms_crs"]), encoding="utf-8")
    (folder / "doors.geojson").write_text(_fc(case["doors"], case["doors_crs"]), encoding="utf-8")
    if case["residents_bytes"] is not None:
        (folder / "residents.csv").write_bytes(case["residents_bytes"])
    else:
        case["residents"].to_csv(folder / "residents.csv", index=False)
    if case["toml_bytes"] is not None:
        (folder / "scenario.toml").write_bytes(case["toml_bytes"])
    elif case["toml"] is not None:
        (folder / "scenario.toml").write_text(case["toml"], encoding="utf-8")
    return folder


def _run(case: dict, extra: list[str] | None = None) -> tuple[int, str]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = _write(case, Path(tmp) / "st")
        err, out = io.StringIO(), io.StringIO()
        with redirect_stderr(err), redirect_stdout(out):
            code = main(["--quiet", "solve", str(folder), "--out", str(Path(tmp) / "plan"), "--time-limit", "5",
                         *(extra or [])])
        return code, err.getvalue().replace(str(folder) + "/", "")


TRIED: dict[str, int] = {}
REJECTED: dict[str, int] = {}


def _expect_rejected(kind: str, case: dict, file: str, feature: str, extra: list[str] | None = None) -> None:
    TRIED[kind] = TRIED.get(kind, 0) + 1
    code, err = _run(case, extra)
    assert "Traceback" not in err and "internal error" not in err, (kind, err)
    assert code == 2, (kind, code, err)
    assert file in err and feature in err, (kind, file, feature, err)
    REJECTED[kind] = REJECTED.get(kind, 0) + 1


# ------------------------------------------------------------------ the kinds of bad input
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1,
                max_size=8)
control = st.sampled_from(["\x01", "\x07", "\x1b", "\n", "\t", "\r", "\x7f"])
not_flag = texts.filter(lambda t: t.strip().lower() not in {"true", "false", "yes", "no", "y", "n", "1", "0", ""})
not_number = texts.filter(lambda t: not _is_number(t))
room_no = st.integers(1, 4)


def _is_number(t: str) -> bool:
    try:
        float(t)
        return True
    except ValueError:
        return False


def room(case: dict, i: int) -> dict:
    return case["rooms"][i]  # 0 = corridor C, i = R<i>


def door(case: dict, i: int) -> dict:
    return case["doors"][i - 1]


def _set_vertex(g: shapely.Geometry, value: float) -> shapely.Geometry:
    coords = list(g.exterior.coords)
    coords[1] = (value, coords[1][1])
    coords[-1] = coords[0]
    return shapely.Polygon(coords)


Mutator = Callable[[dict, Any], tuple[str, str]]
KINDS: dict[str, tuple[st.SearchStrategy, Mutator]] = {}


def kind(name: str, strategy: st.SearchStrategy) -> Callable[[Mutator], Mutator]:
    def deco(fn: Mutator) -> Mutator:
        KINDS[name] = (strategy, fn)
        return fn
    return deco


# rooms.geojson
@kind("room coordinate not finite", st.tuples(room_no, st.sampled_from([math.nan, math.inf, -math.inf])))
def _(c, v):
    room(c, v[0])["geometry"] = _set_vertex(room(c, v[0])["geometry"], v[1])
    return "rooms.geojson", f"room R{v[0]}"


@kind("room with 3-D coordinates", st.tuples(room_no, st.floats(-10, 10)))
def _(c, v):
    g = room(c, v[0])["geometry"]
    room(c, v[0])["geometry"] = shapely.Polygon([(x, y, v[1]) for x, y in g.exterior.coords])
    return "rooms.geojson", f"room R{v[0]}"


@kind("room_id null or empty", st.tuples(room_no, st.sampled_from([None, "", "   "])))
def _(c, v):
    room(c, v[0])["room_id"] = v[1]
    return "rooms.geojson", f"feature #{v[0] + 1}"


@kind("room_id given twice", room_no)
def _(c, i):
    room(c, i)["room_id"] = room(c, i % 4 + 1)["room_id"]
    return "rooms.geojson", f"room {room(c, i)['room_id']}"


@kind("control character in a room's text", st.tuples(room_no, st.sampled_from(["name", "sector", "kind"]), control))
def _(c, v):
    room(c, v[0])[v[1]] = f"Room{v[2]}x"
    return "rooms.geojson", f"room R{v[0]}"


@kind("control character in a room_id", st.tuples(room_no, control))
def _(c, v):
    room(c, v[0])["room_id"] = f"R{v[0]}{v[1]}"
    c["residents"].loc[v[0], "room_id"] = f"R{v[0]}{v[1]}"
    return "rooms.geojson", "control characters"


@kind("room flag not true or false", st.tuples(room_no, st.sampled_from(["protected", "existing", "candidate"]),
                                               not_flag))
def _(c, v):
    room(c, v[0])[v[1]] = v[2]
    return "rooms.geojson", f"room R{v[0]}"


@kind("room deck not a whole number", st.tuples(room_no, st.one_of(not_number, st.sampled_from([0.5, 1e9, -7.25]))))
def _(c, v):
    room(c, v[0])["deck"] = v[1]
    return "rooms.geojson", f"room R{v[0]}"


@kind("room without geometry", room_no)
def _(c, i):
    room(c, i)["geometry"] = None
    return "rooms.geojson", f"room R{i}"


@kind("room that is not a polygon", st.tuples(room_no, st.sampled_from(["point", "line"])))
def _(c, v):
    g = room(c, v[0])["geometry"]
    room(c, v[0])["geometry"] = g.centroid if v[1] == "point" else g.exterior
    return "rooms.geojson", f"room R{v[0]}"


@kind("room of zero area", room_no)
def _(c, i):
    x0, y0, x1, _ = room(c, i)["geometry"].bounds
    room(c, i)["geometry"] = shapely.Polygon([(x0, y0), (x1, y0), (x0 + 1, y0), (x0, y0)])
    return "rooms.geojson", f"room R{i}"


@kind("self-intersecting room", room_no)
def _(c, i):
    x0, y0, x1, y1 = room(c, i)["geometry"].bounds
    room(c, i)["geometry"] = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1), (x0, y0)])
    return "rooms.geojson", f"room R{i}"


@kind("empty rooms file", st.just(0))
def _(c, _v):
    c["rooms"] = []
    return "rooms.geojson", "rooms"


# doors.geojson
@kind("door width not a number", st.tuples(room_no, st.one_of(not_number, st.booleans())))
def _(c, v):
    door(c, v[0])["width_m"] = v[1]
    return "doors.geojson", f"door D{v[0]}"


@kind("door width out of range", st.tuples(room_no, st.sampled_from([0.0, -0.9, math.nan, math.inf, 25.0, 1e9])))
def _(c, v):
    door(c, v[0])["width_m"] = v[1]
    return "doors.geojson", f"door D{v[0]}"


@kind("door_id null or empty", st.tuples(room_no, st.sampled_from([None, ""])))
def _(c, v):
    door(c, v[0])["door_id"] = v[1]
    return "doors.geojson", f"feature #{v[0]}"


@kind("door_id given twice", room_no)
def _(c, i):
    door(c, i)["door_id"] = door(c, i % 4 + 1)["door_id"]
    return "doors.geojson", f"door {door(c, i)['door_id']}"


@kind("door naming a room that does not exist", st.tuples(room_no, st.sampled_from(["from_room", "to_room"]),
                                                          st.sampled_from(["NOPE", "R9", "c"])))
def _(c, v):
    door(c, v[0]).update(from_room=f"R{v[0]}", to_room="C")
    door(c, v[0])[v[1]] = v[2]
    return "doors.geojson", f"door D{v[0]}"


@kind("explicit door between rooms that do not touch", st.tuples(room_no, room_no).filter(lambda v: abs(v[0] - v[1]) > 1))
def _(c, v):
    door(c, v[0]).update(from_room=f"R{v[0]}", to_room=f"R{v[1]}")
    return "doors.geojson", f"door D{v[0]}"


@kind("door line much longer than the door", st.tuples(room_no, st.floats(4.0, 80.0)))
def _(c, v):
    g = door(c, v[0])["geometry"]
    (x0, y0), _ = g.coords
    door(c, v[0])["geometry"] = shapely.LineString([(x0, y0), (x0 + v[1], y0)])
    return "doors.geojson", f"door D{v[0]}"


@kind("door without geometry", st.tuples(room_no, st.booleans()))
def _(c, v):
    door(c, v[0])["geometry"] = None
    if v[1]:
        door(c, v[0]).update(from_room=f"R{v[0]}", to_room="C")
    return "doors.geojson", f"door D{v[0]}"


@kind("door coordinate not finite", st.tuples(room_no, st.sampled_from([math.nan, math.inf])))
def _(c, v):
    (x0, y0), (_, y1) = door(c, v[0])["geometry"].coords
    door(c, v[0])["geometry"] = shapely.LineString([(x0, y0), (v[1], y1)])
    return "doors.geojson", f"door D{v[0]}"


@kind("door traverse_s bad", st.tuples(room_no, st.one_of(not_number, st.sampled_from([-1.0, -60.0, 1e7]))))
def _(c, v):
    door(c, v[0])["traverse_s"] = v[1]
    return "doors.geojson", f"door D{v[0]}"


@kind("door deck not a whole number", st.tuples(room_no, st.one_of(not_number, st.just(0.5))))
def _(c, v):
    door(c, v[0])["deck"] = v[1]
    return "doors.geojson", f"door D{v[0]}"


@kind("control character in a door_id", st.tuples(room_no, control))
def _(c, v):
    door(c, v[0])["door_id"] = f"D{v[0]}{v[1]}"
    return "doors.geojson", "control characters"


@kind("door that is a polygon", room_no)
def _(c, i):
    door(c, i)["geometry"] = door(c, i)["geometry"].buffer(0.1)
    return "doors.geojson", f"door D{i}"


@kind("rooms and doors in different CRSs", st.sampled_from([("EPSG:32633", "EPSG:32634"), ("EPSG:3857", "EPSG:32633")]))
def _(c, v):
    c["rooms_crs"], c["doors_crs"] = v
    return "doors.geojson", "crs"


# residents.csv
@kind("resident count huge", st.tuples(room_no, st.sampled_from(["night", "day"]), st.sampled_from([2e5, 1e20, 1e23])))
def _(c, v):
    c["residents"][v[1]] = c["residents"][v[1]].astype(float)
    c["residents"].loc[v[0], v[1]] = v[2]
    return "residents.csv", f"room R{v[0]}"


@kind("resident count not a whole number of persons", st.tuples(room_no, st.sampled_from(["night", "day"]),
                                                                 st.sampled_from([-1, -3.5, 1.5, "many", "", "inf"])))
def _(c, v):
    c["residents"][v[1]] = c["residents"][v[1]].astype(object)
    c["residents"].loc[v[0], v[1]] = v[2]
    return "residents.csv", f"room R{v[0]}"


@kind("residents of a room that does not exist", st.sampled_from(["NOPE", "r1", "R 1"]))
def _(c, v):
    c["residents"].loc[1, "room_id"] = v
    return "residents.csv", f"room {v}"


@kind("scenario column given twice", st.sampled_from(["night", "day"]))
def _(c, v):
    c["residents_bytes"] = c["residents"].rename(columns={"night": v, "day": v}).to_csv(index=False).encode()
    return "residents.csv", f"column '{v}'"


@kind("priority not a weight", st.tuples(room_no, st.sampled_from([-1, "high", math.inf])))
def _(c, v):
    c["residents"]["priority"] = 1.0
    c["residents"]["priority"] = c["residents"]["priority"].astype(object)
    c["residents"].loc[v[0], "priority"] = v[1]
    return "residents.csv", "priority"


@kind("residents table without room_id", st.just(0))
def _(c, _v):
    c["residents"] = c["residents"].rename(columns={"room_id": "room"})
    return "residents.csv", "room_id"


@kind("residents table not UTF-8", st.just(0))
def _(c, _v):
    c["residents_bytes"] = "room_id,night,day\nR2,3,3\nR4,2,2\nR1,0,0\nR3,0,0\nC,1,1\n\xe9\xff\x00\n".encode("latin-1")
    return "residents.csv", "residents.csv"


# scenario.toml
@kind("scenario.toml not UTF-8", st.sampled_from(["[station]\nstation_title = \"Café\"\n"]))
def _(c, v):
    c["toml_bytes"] = v.encode("latin-1")
    return "scenario.toml", "byte"


@kind("scenario.toml syntax error", st.sampled_from(["[walking\nreach_s = 60", "reach_s = = 1", "[model]\nbudget = 1e\n"]))
def _(c, v):
    c["toml"] = v
    return "scenario.toml", "TOML"


@kind("unknown section or key", st.sampled_from([("walkin", "reach_s"), ("walking", "reach"), ("model", "budjet")]))
def _(c, v):
    c["toml"] = f"[{v[0]}]\n{v[1]} = 1\n"
    return "scenario.toml", v[0] if v[0] == "walkin" else v[1]


@kind("parameter of the wrong type", st.tuples(st.sampled_from(["reach_s", "backup_k", "door_queue", "currency",
                                                                "candidate_kinds"]),
                                               st.sampled_from(['"fast"', "true", "[1, 2]", "{a = 1}"])))
def _(c, v):
    name, value = v
    if (name, value) in (("door_queue", "true"),):
        value = '"yes"'
    if name == "currency" and value.startswith('"'):
        value = "3"
    section = Parameters.__dataclass_fields__[name].metadata["section"]
    c["toml"] = f"[{section}]\n{name} = {value}\n"
    return "scenario.toml", name


def _toml_number(x: float) -> str:
    return "nan" if math.isnan(x) else ("inf" if x == math.inf else "-inf" if x == -math.inf else repr(x))


def _outside(rng, whole: bool) -> st.SearchStrategy:
    """Values outside a range: non-finite, just beyond each end, far beyond."""
    vals = [math.nan, math.inf, -math.inf] if not whole else []
    lo, hi = rng.lo, rng.hi
    vals += [lo - 1, hi * 10 + 1]
    if rng.lo_open:
        vals.append(lo)
    if rng.hi_open:
        vals.append(hi)
    if not whole:
        vals += [lo - 1e-3 * max(1.0, abs(lo)), -1e300, 1e300]
    return st.sampled_from([int(v) if whole and math.isfinite(v) else v for v in vals])


_INT_PARAMS = {n for n, f in Parameters.__dataclass_fields__.items() if f.type in ("int", int)}
for _name, _rng in RANGES.items():
    _whole = _name in _INT_PARAMS

    def _mk(name: str = _name) -> Mutator:
        def m(c: dict, v: Any) -> tuple[str, str]:
            section = Parameters.__dataclass_fields__[name].metadata["section"]
            c["toml"] = f"[{section}]\n{name} = {_toml_number(v) if isinstance(v, float) else v}\n"
            return "scenario.toml", name
        return m

    KINDS[f"parameter {_name} out of range"] = (_outside(_rng, _whole), _mk())

for _name, _rng in PHASE_RANGES.items():
    _whole = _name in ("max_rooms", "crews")

    def _mkp(name: str = _name) -> Mutator:
        def m(c: dict, v: Any) -> tuple[str, str]:
            c["toml"] = f'[[phases]]\nname = "P1"\n{name} = {_toml_number(v) if isinstance(v, float) else v}\n'
            return "scenario.toml", name
        return m

    KINDS[f"phase {_name} out of range"] = (_outside(_rng, _whole), _mkp())


@kind("reaction time not below the reach time", st.floats(60.0, 3600.0))
def _(c, v):
    c["toml"] = f"[walking]\nreach_s = 60.0\nreaction_s = {v!r}\n"
    return "scenario.toml", "reaction_s"


@kind("control character in a text parameter", st.tuples(st.sampled_from([("station", "station_title"),
                                                                           ("costs", "currency")]), control))
def _(c, v):
    (section, name), ch = v
    c["toml"] = f'[{section}]\n{name} = "A{json.dumps(ch)[1:-1]}B"\n'
    return "scenario.toml", name


@kind("scenario listed twice or missing", st.sampled_from([["night", "night"], ["nightt"], [""]]))
def _(c, v):
    c["toml"] = f"[model]\nscenarios = {json.dumps(v)}\n"
    return "", "scenario"


# command-line overrides
OPTIONS = {"--reach-s": "reach_s", "--speed": "walk_speed_m_s", "--area-per-occupant": "area_per_occupant_m2",
           "--backup": "backup_k", "--time-limit": "time_limit_s", "--gap": "mip_gap", "--budget": "budget"}


@kind("command-line override out of range", st.tuples(st.sampled_from(sorted(OPTIONS)),
                                                      st.sampled_from(["nan", "inf", "-1", "1e300"])))
def _(c, v):
    c["extra"] = [v[0], v[1] if v[0] != "--backup" else {"nan": "-1", "inf": "1000", "1e300": "1000"}.get(v[1], v[1])]
    return "command-line option", OPTIONS[v[0]]


# ------------------------------------------------------------------ the tests
@pytest.mark.parametrize("name", sorted(KINDS))
def test_bad_input_is_refused_cleanly(name):
    strategy, mutate = KINDS[name]

    @SETTINGS
    @given(strategy)
    def run(value):
        case = _base()
        file, feature = mutate(case, value)
        _expect_rejected(name, case, file, feature, case.get("extra"))

    run()


def test_the_base_station_is_valid():
    code, err = _run(_base())
    assert code == 0, err


def test_every_kind_is_tried():
    """Every numeric parameter and phase field has its kind; when the whole module ran, every kind was
    tried and every example rejected cleanly (the counts docs/reliability.md reports)."""
    import dataclasses
    import typing

    assert len(KINDS) >= 100
    hints = typing.get_type_hints(Parameters)
    numeric = {f.name for f in dataclasses.fields(Parameters)
               if {float, int} & ({hints[f.name]} | set(typing.get_args(hints[f.name])))}
    assert numeric - {"shelter_in_place", "door_queue"} <= set(RANGES), "a number without a range in params.RANGES"
    names = set(KINDS)
    assert {f"parameter {n} out of range" for n in RANGES} <= names
    assert {f"phase {n} out of range" for n in PHASE_RANGES} <= names
    if set(TRIED) == names:
        assert REJECTED == TRIED
        print(f"\nfuzz: {len(KINDS)} kinds of bad input, {sum(TRIED.values())} inputs tried, "
              f"{sum(REJECTED.values())} rejected cleanly")
