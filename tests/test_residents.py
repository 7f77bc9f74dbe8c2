"""Resident filler: counts by kind, area and scenario, whole persons, existing columns kept."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.errors import InputError
from planner.residents import DEFAULT_DENSITY, densities, fill_residents, round_counts
from planner.station import load_station


def _square(x0: float, side: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[x0, 0], [x0 + side, 0], [x0 + side, side], [x0, side], [x0, 0]]]}


def make_station(folder: Path, rooms: list[tuple[str, str, float]], residents: str | None = None) -> Path:
    """Rooms side by side along x: (room_id, kind, side length in m); one door between neighbours."""
    folder.mkdir(parents=True, exist_ok=True)
    feats, doors, x = [], [], 0.0
    for i, (rid, kind, side) in enumerate(rooms):
        feats.append({"type": "Feature", "properties": {"room_id": rid, "kind": kind, "deck": 0},
                      "geometry": _square(x, side)})
        x += side
        if i + 1 < len(rooms):
            doors.append({"type": "Feature", "properties": {"door_id": f"d{i}"},
                          "geometry": {"type": "LineString", "coordinates": [[x, 0.1], [x, 0.9]]}})
    (folder / "rooms.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    (folder / "doors.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": doors}))
    if residents is not None:
        (folder / "residents.csv").write_text(residents)
    return folder


def test_fill_by_kind_and_scenario(tmp_path: Path) -> None:
    # quarters 10x10 = 100 m2, classroom 100 m2, galley 100 m2, corridor 100 m2
    st_dir = make_station(tmp_path / "s", [("q", "quarters", 10), ("c", "classroom", 10), ("g", "galley", 10),
                                           ("k", "corridor", 10)])
    df = fill_residents(st_dir).set_index("room_id")
    d = DEFAULT_DENSITY
    assert df.loc["q", "night"] == round(100 * d["quarters"]["night"])       # 15: people sleep in quarters
    assert df.loc["c", "day"] == round(100 * d["classroom"]["day"])          # 20: and work by day
    assert df.loc["g", "evening"] == round(100 * d["galley"]["evening"])     # 30: and eat in the evening
    assert df.loc["q", "night"] > df.loc["q", "day"]
    assert df.loc["c", "day"] > df.loc["c", "night"] and df.loc["g", "evening"] > df.loc["g", "day"]
    assert (df.loc["k"] == 0).all()                                           # corridors hold no one
    assert list(df.columns) == ["night", "day", "evening"]
    station = load_station(st_dir)                                            # the planner reads it
    assert station.demand().loc["q", "night"] == 15


def test_per_m2_and_by_kind(tmp_path: Path) -> None:
    st_dir = make_station(tmp_path / "s", [("a", "office", 10), ("b", "storage", 10), ("c", "recreation", 5)])
    df = fill_residents(st_dir, per_m2=0.1).set_index("room_id")
    assert df.loc["a"].tolist() == [10, 10, 10]
    assert df.loc["c"].tolist() == [3, 3, 3]                                  # 2.5: totals round half up
    assert df.loc["b", "night"] == 0                                          # storage keeps its profile
    df = fill_residents(st_dir, per_m2=0.1, by_kind={"office": {"day": 0.5}}).set_index("room_id")
    assert df.loc["a", "day"] == 50 and df.loc["a", "night"] == 10
    with pytest.raises(InputError):
        fill_residents(st_dir, per_m2=-1)
    with pytest.raises(InputError):
        fill_residents(st_dir, by_kind={"office": {"day": "many"}})


def test_keeps_existing_columns_and_rows(tmp_path: Path) -> None:
    st_dir = make_station(tmp_path / "s", [("a", "quarters", 10), ("b", "quarters", 10)],
                          residents="room_id,night,drill,priority,notes\na,99,7,2.0,delegate\nghost,5,5,,\n")
    df = fill_residents(st_dir)
    assert list(df.columns) == ["room_id", "night", "drill", "priority", "notes"]
    by = df.set_index("room_id")
    assert by.loc["a", "night"] == 15 and by.loc["b", "night"] == 15         # filled
    assert by.loc["a", "drill"] == 7 and by.loc["b", "drill"] == 0           # unknown scenario kept
    assert by.loc["a", "priority"] == 2.0 and by.loc["a", "notes"] == "delegate"
    assert "ghost" in by.index                                                # rows kept; validate reports them
    on_disk = pd.read_csv(st_dir / "residents.csv", dtype={"room_id": str})
    assert list(on_disk.columns) == list(df.columns) and len(on_disk) == 3
    assert df.attrs["totals"]["night"] == 35 and df.attrs["filled"] == ["night"]
    # with per_m2 the unknown scenario is filled too
    df = fill_residents(st_dir, per_m2=0.2).set_index("room_id")
    assert df.loc["a", "drill"] == 20


def test_deterministic_and_atomic(tmp_path: Path) -> None:
    rooms = [(f"r{i}", "classroom", 2.5) for i in range(20)]                # 6.25 m2 x 0.2 = 1.25 each
    st_dir = make_station(tmp_path / "s", rooms)
    a = fill_residents(st_dir, seed=1)
    b = fill_residents(st_dir, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert a["day"].sum() == 25                                               # 20 x 1.25 exactly
    assert set(a["day"]) <= {1, 2}
    assert not [p for p in st_dir.iterdir() if p.name.startswith(".residents")]


def test_missing_rooms_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="rooms"):
        fill_residents(tmp_path / "empty")
    with pytest.raises(InputError, match="does not exist"):
        fill_residents(tmp_path / "nowhere")


def test_densities_table_covers_known_kinds() -> None:
    from planner.params import KNOWN_KINDS

    table = densities()
    assert set(KNOWN_KINDS) <= set(table)
    assert all(v >= 0 for row in table.values() for v in row.values())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=50, allow_nan=False), min_size=1, max_size=40),
       st.integers(0, 10))
def test_round_counts_keeps_totals(values: list[float], seed: int) -> None:
    x = pd.DataFrame({"s": values})
    r = round_counts(x, seed)["s"].to_numpy()
    assert r.sum() == int(np.floor(np.array(values, dtype=float).sum() + 0.5 + 1e-9))
    assert np.all(np.abs(r - np.array(values)) < 1.0 + 1e-9)
    assert np.all(r >= 0)
