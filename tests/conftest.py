"""Shared test helpers: write tiny hand-made station folders into `tmp_path`.

Usage from any test module::

    from conftest import write_station, corridor_layout

    rooms, doors, residents = corridor_layout(["storage", "quarters"], residents={"R2": 2})
    folder = write_station(tmp_path / "st", rooms, doors, residents)

or through the `make_station` fixture (writes under the test's `tmp_path`).
"""

from __future__ import annotations

import json
import os

from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd
import pytest
import shapely
from hypothesis import settings
from shapely.geometry import mapping

# Property tests: the same examples on every run by default, so that `make test` (and CI) is
# reproducible; HYPOTHESIS_PROFILE=explore draws new examples each run to hunt for failures.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


def _feature(d: Mapping[str, Any]) -> dict:
    props = {k: v for k, v in d.items() if k != "geometry"}
    geom = d.get("geometry")
    return {"type": "Feature", "properties": props,
            "geometry": None if geom is None else mapping(geom)}


def write_geojson(path: Path, features: Iterable[Mapping[str, Any]]) -> Path:
    """Write dicts (properties + a shapely `geometry`) as a GeoJSON FeatureCollection, verbatim
    (invalid geometries are written as they are, so validation tests can use them)."""
    fc = {"type": "FeatureCollection", "features": [_feature(f) for f in features]}
    path.write_text(json.dumps(fc, indent=1), encoding="utf-8")
    return path


def write_station(path: str | Path, rooms: list[dict], doors: list[dict],
                  residents: list[dict] | pd.DataFrame | str | None,
                  scenario_toml: str | None = None) -> Path:
    """Write a station folder: rooms.geojson, doors.geojson, residents.csv, scenario.toml.

    - `rooms`: dicts with `geometry` (shapely Polygon, metres) and properties
      (`room_id`, `kind`, `sector`, `deck`, `name`, `protected`, `existing`, `candidate`).
    - `doors`: dicts with `geometry` (LineString door leaf or Point) and properties
      (`door_id`, `width_m`, optional `from_room`, `to_room`, `deck`, `traverse_s`).
    - `residents`: list of row dicts / DataFrame (written as CSV), raw CSV text, or None
      (no residents file at all).
    - `scenario_toml`: TOML text for scenario.toml (None: no file, the defaults apply).
    Returns the folder.
    """
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    write_geojson(folder / "rooms.geojson", rooms)
    write_geojson(folder / "doors.geojson", doors)
    if isinstance(residents, str):
        (folder / "residents.csv").write_text(residents, encoding="utf-8")
    elif residents is not None:
        df = residents if isinstance(residents, pd.DataFrame) else pd.DataFrame(list(residents))
        df.to_csv(folder / "residents.csv", index=False)
    if scenario_toml is not None:
        (folder / "scenario.toml").write_text(scenario_toml, encoding="utf-8")
    return folder


def box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    """Axis-aligned rectangle (metres)."""
    return shapely.box(x0, y0, x1, y1)


def door_leaf(x: float, y: float, width_m: float = 0.9) -> shapely.LineString:
    """A horizontal door leaf on the wall y, from x to x + width (metres)."""
    return shapely.LineString([(x, y), (x + width_m, y)])


def corridor_layout(kinds: list[str], *, room_w: float = 4.0, room_d: float = 3.0,
                    corridor_w: float = 2.0, door_w: float = 0.9,
                    residents: Mapping[str, int] | None = None, scenarios: tuple[str, ...] = ("night", "day"),
                    sector: str = "A", deck: int = 0) -> tuple[list[dict], list[dict], list[dict]]:
    """A straight corridor `C` (y in [0, corridor_w]) with rooms `R1..Rn` side by side above it.

    Room `Ri` spans x in [(i-1) room_w, i room_w], y in [corridor_w, corridor_w + room_d], and has
    one door `D{i}` of width `door_w` centred on its corridor wall. `residents` maps room_id to a
    count used in every scenario. Returns (rooms, doors, residents rows).
    """
    n = len(kinds)
    rooms = [{"room_id": "C", "kind": "corridor", "sector": sector, "deck": deck, "name": "Corridor",
              "geometry": box(0, 0, n * room_w, corridor_w)}]
    doors = []
    for i, kind in enumerate(kinds, start=1):
        x0 = (i - 1) * room_w
        rooms.append({"room_id": f"R{i}", "kind": kind, "sector": sector, "deck": deck, "name": f"Room {i}",
                      "geometry": box(x0, corridor_w, x0 + room_w, corridor_w + room_d)})
        doors.append({"door_id": f"D{i}", "width_m": door_w,
                      "geometry": door_leaf(x0 + (room_w - door_w) / 2, corridor_w, door_w)})
    residents = dict(residents or {})
    rows = [{"room_id": r["room_id"], **{s: residents.get(r["room_id"], 0) for s in scenarios}}
            for r in rooms]
    return rooms, doors, rows


@pytest.fixture
def make_station(tmp_path: Path):
    """Factory fixture: make_station(rooms, doors, residents, scenario_toml=None, name='st') -> folder."""
    counter = {"n": 0}

    def _make(rooms: list[dict], doors: list[dict], residents: Any,
              scenario_toml: str | None = None, name: str | None = None) -> Path:
        counter["n"] += 1
        return write_station(tmp_path / (name or f"st{counter['n']}"), rooms, doors, residents, scenario_toml)

    return _make
