"""Issue 18: the independent checker trusts nothing in the plan. It judges a plan by the station's
own parameters (scenario.toml plus the options given to `planner check`), names every difference
from the plan's recorded parameters, and never reads the planner's reach cache."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from conftest import corridor_layout, write_station

from planner.check import check_plan
from planner.cli import main
from planner.station import load_station


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    """A station whose plan is tight: reach 60 s, door queues and both scenarios matter."""
    rooms, doors, res = corridor_layout(["storage", "quarters", "quarters", "storage", "quarters"],
                                        residents={"R2": 3, "R3": 4, "R5": 2, "C": 1})
    res = [dict(r, day=r["night"] + 1 if r["room_id"] == "R5" else r["day"]) for r in res]
    base = tmp_path_factory.mktemp("trust")
    folder = write_station(base / "st", rooms, doors, res)
    out = base / "plan"
    assert main(["--quiet", "solve", str(folder), "--out", str(out)]) == 0
    return folder, out / "plan.json"


def _tampered(path: Path, tmp: Path, **params) -> Path:
    plan = json.loads(path.read_text())
    plan = copy.deepcopy(plan)
    for k, v in params.items():
        if k == "objective":
            plan["objective"] = v
        plan["parameters"][k] = v
    out = tmp / "tampered.json"
    out.write_text(json.dumps(plan))
    return out


@pytest.mark.parametrize("change", [{"reach_s": 70.0}, {"door_queue": False}, {"scenarios": ["night"]},
                                    {"objective": "max-cover"}, {"budget": 1e12}, {"backup_k": 0},
                                    {"walk_speed_m_s": 3.0}, {"area_per_occupant_m2": 0.5},
                                    {"candidate_kinds": ["storage", "quarters", "recreation", "corridor"]}, {"min_site_area_m2": 1.0}, {"stores_fraction": 0.0},
                                    {"phases": [{"name": "P", "max_rooms": 99}]}])
def test_every_weaker_parameter_in_the_plan_is_a_breach(solved, tmp_path, capsys, change):
    folder, plan = solved
    assert main(["--quiet", "check", str(folder), str(plan)]) == 0
    capsys.readouterr()
    bad = _tampered(plan, tmp_path, **change)
    assert main(["--quiet", "check", str(folder), str(bad)]) == 1
    out = capsys.readouterr().out
    (name,) = change
    assert f"[parameters] parameter {name}" in out or (name == "objective" and "[parameters] objective" in out)


def test_a_missing_or_unknown_parameter_is_a_breach(solved, tmp_path, capsys):
    folder, path = solved
    plan = json.loads(path.read_text())
    del plan["parameters"]["reach_s"]
    plan["parameters"]["trust_me"] = True
    station = load_station(folder)
    b = {(x.kind, x.feature) for x in check_plan(station, plan)}
    assert ("parameters", "parameter reach_s") in b and ("parameters", "parameter trust_me") in b
    plan["parameters"] = "all fine"
    assert [x.feature for x in check_plan(station, plan) if x.kind == "parameters"] == ["plan parameters"]


def test_check_takes_the_overrides_on_its_command_line(solved, tmp_path, capsys):
    folder, _ = solved
    out = tmp_path / "p"
    assert main(["--quiet", "solve", str(folder), "--reach-s", "45", "--budget", "5e5", "--out", str(out)]) == 0
    plan = str(out / "plan.json")
    assert main(["--quiet", "check", str(folder), plan]) == 1  # the station's reach is 60 s, no budget
    text = capsys.readouterr().out
    assert "parameter reach_s" in text and "parameter budget" in text
    assert main(["--quiet", "check", str(folder), plan, "--reach-s", "45", "--budget", "5e5"]) == 0
    scen = tmp_path / "strict.toml"
    scen.write_text("[walking]\nreach_s = 45.0\n[model]\nbudget = 5e5\n")
    assert main(["--quiet", "check", str(folder), plan, "--scenario", str(scen)]) == 0


def test_the_checker_never_reads_the_planner_cache(solved, tmp_path, monkeypatch):
    from planner import network

    folder, path = solved
    monkeypatch.setenv("PLANNER_CACHE_DIR", str(tmp_path / "cache"))
    station = load_station(folder)
    network.reach_table(station, cache_dir=tmp_path / "cache" / "reach")  # the planner's cache entry exists
    assert list((tmp_path / "cache" / "reach").glob("*.npz"))

    def no(*a, **k):
        raise AssertionError("the checker read the planner's cache")

    # patched where `reach_table` looks them up (planner/network/reach.py)
    monkeypatch.setattr(network.reach, "_load_cache", no)
    monkeypatch.setattr(network.reach, "_save_cache", no)
    assert check_plan(station, json.loads(path.read_text())) == []
    assert main(["--quiet", "check", str(folder), str(path)]) == 0


def test_a_changed_objective_is_one_breach_with_its_hint(solved, tmp_path, capsys):
    folder, plan = solved
    bad = _tampered(plan, tmp_path, objective="max-cover")
    assert main(["--quiet", "check", str(folder), str(bad)]) == 1
    out = capsys.readouterr().out
    assert out.count("objective") >= 1 and "[parameters] parameter objective" not in out
    assert "[parameters] objective" in out and "--objective max-cover" in out
