"""The ring-station generator: deterministic, loadable, valid, connected, realistic mix."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from planner.errors import InputError
from planner.generate import generate_station
from planner.station import load_station

FILES = ("rooms.geojson", "doors.geojson", "residents.csv")


def _check(folder: Path, n_rooms: int) -> None:
    """Everything a generated station must satisfy (independent of planner.validate)."""
    st_ = load_station(folder)
    rooms, doors = st_.rooms, st_.doors
    geom = rooms.geometry.to_numpy()
    # size roughly as asked
    assert abs(len(rooms) - n_rooms) <= max(6, 0.15 * n_rooms)
    # unique ids, valid polygons, local metric frame
    assert rooms["room_id"].is_unique and doors["door_id"].is_unique
    assert shapely.is_valid(geom).all()
    assert rooms.crs is None and doors.crs is None
    # no overlaps between rooms of the same deck
    a, b = shapely.STRtree(geom).query(geom, predicate="intersects")
    deck = rooms["deck"].to_numpy()
    keep = (a < b) & (deck[a] == deck[b])
    overlap = shapely.area(shapely.intersection(geom[a[keep]], geom[b[keep]]))
    assert overlap.size == 0 or overlap.max() < 1e-6
    # every door joins two different rooms: on the same deck, or a vertical link between stairs
    assert doors["from_room"].notna().all() and doors["to_room"].notna().all()
    assert (doors["from_room"] != doors["to_room"]).all()
    pos = pd.Series(np.arange(len(rooms)), index=rooms["room_id"].to_numpy())
    fa = pos[doors["from_room"]].to_numpy()
    ta = pos[doors["to_room"]].to_numpy()
    vertical = doors["vertical"].to_numpy(dtype=bool)
    assert (deck[fa] == deck[ta])[~vertical].all()
    assert (doors["touching"].to_numpy()[~vertical] >= 2).all()
    kinds = rooms["kind"].to_numpy()
    assert (kinds[fa[vertical]] == "stairs").all() and (kinds[ta[vertical]] == "stairs").all()
    assert (np.abs(deck[fa[vertical]] - deck[ta[vertical]]) == 1).all()
    # line doors lie on the wall of both their rooms (within 5 cm), 0.8-1.2 m for rooms
    line = ~vertical
    dg = doors.geometry.to_numpy()[line]
    for col in ("from_room", "to_room"):
        rg = geom[pos[doors.loc[line, col]].to_numpy()]
        assert (shapely.distance(dg, shapely.boundary(rg)) <= 0.05).all()
    circ = np.isin(kinds, ["corridor", "stairs"])
    room_door = line & ~(circ[fa] & circ[ta])
    w = doors["width_m"].to_numpy()[room_door]
    assert ((w >= 0.8 - 1e-9) & (w <= 1.2 + 1e-9)).all()
    # every room has a door; the station is connected
    has = np.zeros(len(rooms), bool)
    has[fa] = has[ta] = True
    assert has.all()
    g = coo_matrix((np.ones(len(fa)), (fa, ta)), shape=(len(rooms), len(rooms)))
    assert connected_components(g, directed=False)[0] == 1
    # people move between scenarios, they do not vanish
    d = st_.demand()
    assert list(d.columns) == ["night", "day", "evening"]
    tot = d.sum()
    assert tot["night"] == tot["day"] == tot["evening"] > 0
    assert (st_.priority() >= 0).all()
    by_kind = d.groupby(kinds).sum()
    assert by_kind.loc["quarters", "night"] > 0.8 * tot["night"]
    assert by_kind.loc["quarters", "day"] < 0.5 * tot["day"]
    assert "corridor" not in by_kind.index or by_kind.loc["corridor"].sum() == 0
    # quarters: cabins 8-14 m2 with 1-2 residents; no room drawn smaller than 6 m2
    area = rooms.geometry.area.to_numpy()
    cabins = rooms["name"].str.startswith("Quarters").to_numpy()
    assert cabins.any()
    assert ((area[cabins] > 8 - 1e-6) & (area[cabins] < 14 + 1e-6)).all()
    assert d["night"].to_numpy()[cabins].max() <= 2
    assert area[~circ].min() >= 6 * 0.99  # drawn 6 m2 on the true arc; chords cut a little
    # kind mix: candidates and corridors present; quarters in every sector
    for k in ("quarters", "storage", "corridor"):
        assert k in set(kinds)
    assert len(set(kinds)) >= 7
    assert set(rooms.loc[rooms["kind"] == "quarters", "sector"]) == set("ABCDEF")
    # candidates among the spaces people use (a tiny station is one fifth corridors: 6 of 30)
    assert st_.candidate_mask().sum() > 0.3 * (~circ).sum()


def test_small_station_is_valid(tmp_path: Path) -> None:
    out = generate_station(30, 1, tmp_path / "s")
    assert out == tmp_path / "s"
    for f in FILES:
        assert (out / f).exists()
    _check(out, 30)
    rooms = json.loads((out / "rooms.geojson").read_text())
    assert "crs" not in rooms
    props = rooms["features"][0]["properties"]
    assert set(props) >= {"room_id", "kind", "sector", "deck", "name"}
    assert isinstance(props["deck"], int)


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    a = generate_station(120, 5, tmp_path / "a", decks=2)
    b = generate_station(120, 5, tmp_path / "b", decks=2)
    c = generate_station(120, 6, tmp_path / "c", decks=2)
    for f in FILES:
        assert (a / f).read_bytes() == (b / f).read_bytes()
    assert (a / "rooms.geojson").read_bytes() != (c / "rooms.geojson").read_bytes()


def test_decks_are_joined_by_stairs(tmp_path: Path) -> None:
    out = generate_station(300, 2, tmp_path / "s", decks=3)
    _check(out, 300)
    st_ = load_station(out)
    v = st_.doors[st_.doors["vertical"]]
    assert len(v) > 0
    assert (v.geometry.geom_type == "Point").all()
    assert v["traverse_s"].between(10, 15).all()
    assert set(st_.rooms["deck"]) == {1, 2, 3}
    # every deck has stairs, at the same places
    stairs = st_.rooms[st_.rooms["kind"] == "stairs"]
    per_deck = stairs.groupby("deck").size()
    assert len(per_deck) == 3 and per_deck.nunique() == 1
    # flags that make the data realistic
    assert st_.rooms["existing"].sum() >= 1
    assert st_.rooms["protected"].sum() >= 1


def test_medium_station_has_spokes_and_side_corridors(tmp_path: Path) -> None:
    out = generate_station(1300, 4, tmp_path / "s", decks=1)
    _check(out, 1300)
    st_ = load_station(out)
    names = st_.rooms.loc[st_.rooms["kind"] == "corridor", "name"]
    assert names.str.startswith("Spoke").any()
    assert names.str.startswith("Side corridor").any()
    assert names.str.startswith("Ring corridor").any()
    ring = st_.rooms[st_.rooms["name"].str.startswith("Ring corridor")]
    # the ring corridor follows the curve: many vertices, 15-30 m segments
    nv = shapely.get_num_coordinates(ring.geometry.to_numpy())
    assert nv.min() > 10
    length = ring.geometry.length.to_numpy() / 2
    assert np.median(length) > 15 and np.median(length) < 32
    d = st_.demand()
    assert 2.5 < d["night"].sum() / len(st_.rooms) < 4.5


def test_bad_arguments_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        generate_station(29, 1, tmp_path / "x")
    with pytest.raises(InputError):
        generate_station(100, 1, tmp_path / "x", decks=10)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(min_value=30, max_value=260), seed=st.integers(min_value=0, max_value=10_000),
       decks=st.sampled_from([None, 1, 2]))
def test_generated_stations_always_hold(tmp_path: Path, n: int, seed: int, decks: int | None) -> None:
    if decks is not None and n / decks < 40:
        decks = 1
    out = generate_station(n, seed, tmp_path / f"s{n}_{seed}_{decks}", decks=decks)
    _check(out, n)


def test_output_passes_the_validator(tmp_path: Path) -> None:
    validate = pytest.importorskip("planner.validate")
    out = generate_station(200, 11, tmp_path / "s", decks=2)
    findings = validate.validate_station(load_station(out))
    errors = [f for f in findings if f.level == "error"]
    assert not errors, errors[:5]


@pytest.mark.slow
def test_bundled_station_unity_is_what_its_readme_command_makes(tmp_path: Path) -> None:
    """inputs/station-unity was made by the command in its README (same bytes)."""
    unity = Path(__file__).resolve().parents[1] / "inputs" / "station-unity"
    if not (unity / "rooms.geojson").exists():
        pytest.skip("inputs/station-unity not present")
    readme = (unity / "README.md").read_text()
    assert "planner generate --rooms 3000 --seed 1 --out inputs/station-unity --name \"Station Unity\"" in readme
    out = generate_station(3000, 1, tmp_path / "unity", name="Station Unity")
    for f in FILES:
        assert (out / f).read_bytes() == (unity / f).read_bytes(), f
    st_ = load_station(unity)
    d = st_.demand()
    assert 9_000 <= d["night"].sum() <= 11_000
    assert 2_500 <= len(st_.rooms) <= 3_500
    assert sorted(st_.rooms["sector"].unique()) == list("ABCDEF")
