"""End to end: generate -> validate -> reach -> solve -> check -> proposal, through the CLI."""

import json
import os
import shutil
import stat

import pytest

from planner.cli import main


@pytest.fixture(scope="module")
def small_station(tmp_path_factory):
    from planner.generate import generate_station

    out = tmp_path_factory.mktemp("gen") / "small"
    generate_station(120, 7, out)
    return out


def _snapshot(folder):
    return sorted((p.relative_to(folder).as_posix(), p.stat().st_size) for p in folder.rglob("*")) if folder.exists() else None


def test_validate_and_reach(small_station, capsys):
    assert main(["--quiet", "validate", str(small_station)]) == 0
    assert main(["--quiet", "reach", str(small_station)]) == 0


def test_solve_then_check(small_station, tmp_path):
    out = tmp_path / "plan"
    assert main(["--quiet", "solve", str(small_station), "--out", str(out), "--time-limit", "20"]) == 0
    plan = json.loads((out / "plan.json").read_text())
    for key in ("station", "created", "planner_version", "parameters", "inputs_sha256", "safe_rooms",
                "assignments", "unsheltered", "totals", "solver"):
        assert key in plan
    assert plan["safe_rooms"] and plan["assignments"]
    for key in ("name", "version", "status", "objective", "bound", "gap", "seconds"):
        assert key in plan["solver"]
    assert main(["check", str(small_station), str(out / "plan.json")]) == 0
    # a tampered plan is caught
    plan["assignments"][0]["walk_s"] = plan["parameters"]["reach_s"] + 30
    (out / "bad.json").write_text(json.dumps(plan))
    assert main(["check", str(small_station), str(out / "bad.json")]) == 1


def test_cover_all_over_budget_is_explained(small_station, tmp_path, capsys):
    code = main(["--quiet", "solve", str(small_station), "--budget", "1", "--out", str(tmp_path / "p")])
    assert code == 3
    err = capsys.readouterr().err
    assert "max-cover" in err


@pytest.mark.slow
def test_propose_writes_a_new_folder_and_never_overwrites(small_station, tmp_path):
    reports = tmp_path / "reports"
    assert main(["--quiet", "propose", str(small_station), "--out", str(reports), "--time-limit", "20"]) == 0
    # the second run only has to land in a new folder: no budget what-if (half the test's time)
    assert main(["--quiet", "propose", str(small_station), "--out", str(reports), "--time-limit", "20",
                 "--whatif-budgets", "0"]) == 0
    folders = sorted(p for p in reports.iterdir() if not p.name.startswith("."))
    assert len(folders) == 2
    for f in folders:
        names = {p.name for p in f.iterdir()}
        assert "plan.json" in names and "plan.gpkg" in names
        assert any(n.endswith(".xlsx") for n in names) and any(n.endswith(".png") for n in names)
    assert not [p for p in reports.iterdir() if p.name.startswith(".")]  # no temporary leftovers
    # ordinary permissions (not the 0700/0600 of temporary files): others may read the proposal
    mask = os.umask(0)
    os.umask(mask)
    for f in folders:
        assert stat.S_IMODE(f.stat().st_mode) == 0o777 & ~mask
        assert stat.S_IMODE((f / "plan.json").stat().st_mode) == 0o666 & ~mask


@pytest.mark.slow
def test_phased_proposal_and_options_after_the_verb(small_station, tmp_path):
    """Declared phases reach plan.json (per-phase table) and the checker; --debug/--quiet after the verb."""
    scen = tmp_path / "phased.toml"
    scen.write_text('[labour]\ncrews = 2\n\n[[phases]]\nname = "First"\nmax_rooms = 2\nmax_days = 3\n\n'
                    '[[phases]]\nname = "Rest"\nmax_days = 60\n')
    reports = tmp_path / "reports"
    assert main(["propose", str(small_station), "--scenario", str(scen), "--out", str(reports),
                 "--time-limit", "20", "--whatif-budgets", "3", "--whatif-time-limit", "5", "--quiet", "--debug"]) == 0
    (folder,) = [p for p in reports.iterdir() if not p.name.startswith(".")]
    plan = json.loads((folder / "plan.json").read_text())
    rows = plan["phases"]
    assert [r["name"] for r in rows][:2] == ["First", "Rest"]
    assert rows[0]["rooms"] <= 2 and rows[0]["end_day"] <= 3 + 1e-9
    phase_of = {r["room_id"]: r["phase"] for r in plan["safe_rooms"]}
    assert sum(1 for r in plan["safe_rooms"] if r["phase"] == 1 and not r["existing"]) == rows[0]["rooms"]
    assert set(phase_of.values()) <= {1, 2, 3}
    # the last phase shelters what the whole plan shelters
    for sc, v in plan["totals"]["scenarios"].items():
        assert rows[-1][f"sheltered_{sc}"] >= v["sheltered"] * 0.999
    assert main(["check", str(small_station), str(folder / "plan.json"), "--scenario", str(scen)]) == 0
    import openpyxl

    wb = openpyxl.load_workbook(next(folder.glob("*.xlsx")))
    assert "Phases" in wb.sheetnames and "Budget what-if" in wb.sheetnames


def test_failed_run_leaves_reports_untouched(small_station, tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "earlier.txt").write_text("keep me")
    before = _snapshot(reports)
    bad = tmp_path / "bad-station"
    shutil.copytree(small_station, bad)
    (bad / "residents.csv").write_text((bad / "residents.csv").read_text() + "NO-SUCH-ROOM,1,1,1\n")
    assert main(["--quiet", "propose", str(bad), "--out", str(reports)]) == 2
    assert _snapshot(reports) == before


@pytest.mark.slow
def test_failure_while_writing_leaves_reports_untouched(small_station, tmp_path, monkeypatch):
    import planner.workbook

    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "earlier.txt").write_text("keep me")
    before = _snapshot(reports)

    def broken(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(planner.workbook, "write_workbook", broken)
    assert main(["--quiet", "propose", str(small_station), "--out", str(reports), "--time-limit", "20",
                 "--whatif-budgets", "0"]) == 5
    assert _snapshot(reports) == before


def test_model_inputs_read_only_their_parameters_and_are_kept(small_station, monkeypatch):
    """`model_inputs` (issue 21: a what-if made the same timed pairs for its plan and again for the displacement
    trade-off's relocation bound) reads no parameter outside `MODEL_INPUT_PARAMETERS` but the scenarios (which
    its key holds through the demand), and gives the same tables from its memo as worked out anew."""
    import dataclasses

    import pandas as pd

    import planner.pipeline as pl
    from planner.network import reach_table
    from planner.sites import candidate_sites
    from planner.station import load_station

    station = load_station(small_station)
    sites = candidate_sites(station)
    reach = reach_table(station, sites, cache=False)
    seen: set[str] = set()

    class Spy:
        def __getattr__(self, name):
            seen.add(name)
            return getattr(station.params, name)

    pl.model_inputs(dataclasses.replace(load_station(small_station), params=Spy()), reach, sites)
    assert seen and seen - {"scenarios"} <= set(pl.MODEL_INPUT_PARAMETERS)
    fresh = pl.model_inputs(load_station(small_station), reach, sites)    # other tables: worked out anew
    calls: list[int] = []
    real = pl.model_pairs
    monkeypatch.setattr(pl, "model_pairs", lambda *a, **k: calls.append(1) or real(*a, **k))
    other = dataclasses.replace(station, params=station.params.replace(budget=1.0, max_displaced=0))
    for st in (station, other, station):
        timed, model_sites = pl.model_inputs(st, reach, sites)
        pd.testing.assert_frame_equal(timed, fresh[0])
        pd.testing.assert_frame_equal(model_sites, fresh[1])
    assert len(calls) == 1
    timed["walk_s"] = -1.0                                          # the caller's copy: the memo keeps its own
    pd.testing.assert_frame_equal(pl.model_inputs(other, reach, sites)[0], fresh[0])
    pl.model_inputs(dataclasses.replace(station, params=station.params.replace(reach_s=50.0)), reach, sites)
    pl.model_inputs(station, reach, sites.assign(capacity=sites["capacity"] + 1))
    assert len(calls) == 3                                          # another reach time, other capacities

