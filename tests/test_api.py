"""The public API: `import planner` is light and quiet, its names resolve, `Station.from_frames`
gives the station `load_station` reads from the same tables."""

import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from conftest import corridor_layout, write_station

import planner
from planner.errors import InputError

ROOT = Path(__file__).resolve().parents[1]


def test_import_is_light_and_quiet() -> None:
    code = ("import sys, planner\n"
            "heavy = sorted(m for m in ('pandas', 'geopandas', 'numpy', 'scipy', 'pulp', 'highspy', 'openpyxl',"
            " 'matplotlib', 'shapely') if m in sys.modules)\n"
            "print(','.join(heavy))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"import planner loaded {done.stdout.strip()}"
    assert done.stderr == ""


def test_every_public_name_resolves() -> None:
    assert planner.__all__[0] == "__version__"
    assert set(planner.__all__[1:]) == set(planner._EXPORTS)
    for name in planner.__all__:
        assert getattr(planner, name) is not None, name
        assert name in dir(planner)
    assert issubclass(planner.InputError, planner.PlannerError)
    with pytest.raises(AttributeError):
        planner.no_such_name  # noqa: B018


def test_sweep_is_the_module_and_calls_the_function(monkeypatch) -> None:
    import planner.sweep as sweep_module

    assert planner.sweep is sweep_module and hasattr(sweep_module, "run_sweep")
    seen = {}

    def fake(station, budgets, workers=None, scheduler=None, reach=None, **kw):
        seen.update(station=station, budgets=budgets, workers=workers, kw=kw)
        return "table"

    monkeypatch.setattr(sweep_module, "sweep", fake)
    assert planner.sweep("st", [1.0, 2.0], workers=1, time_limit_s=5.0) == "table"
    assert seen == {"station": "st", "budgets": [1.0, 2.0], "workers": 1, "kw": {"time_limit_s": 5.0}}


def _frames():
    rooms, doors, residents = corridor_layout(["storage", "quarters", "recreation"], residents={"R2": 3, "C": 1})
    return (gpd.GeoDataFrame(rooms, geometry="geometry"), gpd.GeoDataFrame(doors, geometry="geometry"),
            pd.DataFrame(residents))


def test_from_frames_equals_load_station(tmp_path: Path) -> None:
    rooms, doors, residents = _frames()
    folder = write_station(tmp_path / "st", rooms.to_dict("records"), doors.to_dict("records"),
                           residents.to_dict("records"))
    loaded = planner.load_station(folder)
    made = planner.Station.from_frames(rooms, doors, residents, planner.Parameters(), name="st")
    assert made.folder is None and made.files == {}
    assert made.scenarios == loaded.scenarios == ["night", "day"]
    pd.testing.assert_frame_equal(made.demand(), loaded.demand())
    cols = ["room_id", "kind", "sector", "deck", "name", "protected", "existing"]
    pd.testing.assert_frame_equal(pd.DataFrame(made.rooms[cols]), pd.DataFrame(loaded.rooms[cols]))
    assert made.doors[["door_id", "from_room", "to_room"]].to_dict("records") == \
        loaded.doors[["door_id", "from_room", "to_room"]].to_dict("records")
    assert list(made.candidate_mask()) == list(loaded.candidate_mask())
    # plain DataFrames with shapely geometries are accepted too
    plain = planner.Station.from_frames(pd.DataFrame(rooms), pd.DataFrame(doors), residents)
    assert list(plain.rooms["room_id"]) == list(loaded.rooms["room_id"])


def test_from_frames_errors_name_the_table_and_the_fix() -> None:
    rooms, doors, residents = _frames()
    with pytest.raises(InputError, match="geometry"):
        planner.Station.from_frames(pd.DataFrame(rooms).drop(columns="geometry"), doors, residents)
    with pytest.raises(InputError, match="geographic"):
        planner.Station.from_frames(rooms.set_crs(4326), doors, residents)
    with pytest.raises(InputError, match="room_id"):
        planner.Station.from_frames(rooms, doors, residents.drop(columns="room_id"))
    with pytest.raises(InputError, match="evening"):
        planner.Station.from_frames(rooms, doors, residents, planner.Parameters(scenarios=["evening"]))
