"""The PuLP model as a first-class artefact: `Problem.to_pulp()`, the PuLP backend, `planner export-model`.

Both paths (highspy arrays, the PuLP model) must reach the same optimum on small stations, and the
exported MPS file, read by HiGHS's own reader, must too.
"""

from __future__ import annotations

import json

import highspy
import numpy as np
import pulp
import pytest

from planner.cli import main
from planner.errors import InputError
from planner.model import Problem, SolveOptions, solve
from planner.model.highs import HighsWithStart
from planner.progress import set_quiet
from conftest import corridor_layout

set_quiet(True)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from planner.generate import generate_station

    out = tmp_path_factory.mktemp("gen") / "small"
    generate_station(80, 3, out)
    return out


def station_problem(folder, **overrides) -> Problem:
    from planner.pipeline import prepare
    from planner.station import load_station

    st = load_station(folder)
    sites, reach, costs = prepare(st)
    return Problem.from_station(st, reach, sites, costs["total_cost"], mip_gap=0.0, time_limit_s=60, **overrides)


def corridor_problem(make_station, objective: str = "cover-all", budget: float | None = None) -> Problem:
    kinds = ["quarters", "storage", "quarters", "storage", "quarters", "recreation", "quarters", "storage"]
    rooms, doors, res = corridor_layout(kinds, residents={"R1": 9, "R3": 7, "R5": 12, "R7": 5},
                                        room_w=5.0, room_d=4.0)
    folder = make_station(rooms, doors, res)
    return station_problem(folder, objective=objective, budget=budget)


def lp_value(prob: pulp.LpProblem) -> float:
    status = prob.solve(HighsWithStart(msg=False, start=False, gapRel=0.0))
    assert pulp.LpStatus[status] == "Optimal"
    return float(pulp.value(prob.objective))


def mps_value(prob: pulp.LpProblem, path) -> float:
    prob.writeMPS(str(path), with_objsense=True)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    assert h.readModel(str(path)) == highspy.HighsStatus.kOk
    h.run()
    assert h.modelStatusToString(h.getModelStatus()) == "Optimal"
    return float(h.getInfo().objective_function_value)


def model_value(problem: Problem, sol) -> float:
    """The solution's value on the model's own objective (cost + tie-break, or minus coverage + tie-break)."""
    from planner.model import build_arrays, compile_problem

    c = compile_problem(problem)
    ar = build_arrays(c)
    x = np.isin(c.site_ids, sol.chosen).astype(float)
    tot_disp = float(c.disp.sum()) + 1.0
    if problem.objective == "cover-all":
        return float(c.cost @ x + (0.5 / tot_disp) * c.disp @ x)
    return float(ar.c[:ar.nx] @ x) - float(sol.solver["objective"])


@pytest.mark.slow
@pytest.mark.parametrize("objective", ["cover-all", "max-cover"])
def test_both_backends_and_the_exported_model_agree_on_a_generated_station(generated, objective, tmp_path) -> None:
    p = station_problem(generated, objective=objective)
    if objective == "max-cover":
        p = p.replace(budget=0.4 * float(solve(p.replace(objective="cover-all"), progress=False).stats["cost"]))
    fast = solve(p, progress=False)
    slow = solve(p, progress=False, options=SolveOptions(backend="pulp"))
    assert fast.solver["status"] == slow.solver["status"] == "optimal"
    assert slow.solver["objective"] == pytest.approx(fast.solver["objective"], rel=1e-9, abs=1e-6)
    assert slow.stats["cost"] == pytest.approx(fast.stats["cost"], rel=1e-9, abs=1e-6)
    prob = p.to_pulp()
    assert isinstance(prob, pulp.LpProblem) and prob.sense == pulp.LpMinimize
    names = {v.name for v in prob.variables()}
    assert any(n.startswith("x_") for n in names) and any(n.startswith("y_") for n in names)
    whole = lp_value(prob)
    assert whole == pytest.approx(model_value(p, fast), rel=1e-7, abs=1e-6)
    assert mps_value(p.to_pulp(), tmp_path / "model.mps") == pytest.approx(whole, rel=1e-7, abs=1e-6)


@pytest.mark.parametrize("objective,budget", [("cover-all", None), ("max-cover", 150_000.0)])
def test_corridor_station_to_pulp_mps_and_backends(make_station, tmp_path, objective, budget) -> None:
    p = corridor_problem(make_station, objective, budget)
    fast = solve(p, progress=False)
    slow = solve(p, progress=False, options=SolveOptions(backend="pulp"))
    cbc = solve(p, progress=False, options=SolveOptions(solver="cbc"))
    assert slow.stats["cost"] == pytest.approx(fast.stats["cost"]) == pytest.approx(cbc.stats["cost"])
    assert slow.solver["objective"] == pytest.approx(fast.solver["objective"])
    whole = lp_value(p.to_pulp())
    assert whole == pytest.approx(model_value(p, fast), abs=1e-6)
    assert mps_value(p.to_pulp(), tmp_path / "m.mps") == pytest.approx(whole, abs=1e-6)


def test_to_pulp_can_be_extended_and_names_the_sites() -> None:
    p = Problem.from_cost_matrix([[3], [4]], [[10.0, 30.0], [40.0, 5.0]], [5, 5], [100.0, 200.0],
                                 door_flow_pps=[1.0, 1.0], site_ids=["A-1", "B 2"])
    prob = p.to_pulp()
    x = {v.name: v for v in prob.variables() if v.name.startswith("x_")}
    assert set(x) == {"x_A_1", "x_B_2"}
    assert lp_value(prob) == pytest.approx(300.0)         # both rooms, each reaches one site in time
    # a user's extra row: only one site -> infeasible
    prob += x["x_A_1"] + x["x_B_2"] <= 1, "one_site_only"
    assert pulp.LpStatus[prob.solve(HighsWithStart(msg=False, start=False))] == "Infeasible"


def test_pulp_solver_names_are_checked() -> None:
    with pytest.raises(InputError, match="pulp-solver"):
        SolveOptions(backend="pulp", solver="NO_SUCH_SOLVER")
    with pytest.raises(InputError):
        SolveOptions(backend="arrays")
    assert SolveOptions(backend="pulp", solver="PULP_CBC_CMD").uses_pulp


def test_cli_solve_with_the_pulp_backend_and_export_model(make_station, tmp_path) -> None:
    kinds = ["quarters", "storage", "quarters", "storage", "quarters"]
    rooms, doors, res = corridor_layout(kinds, residents={"R1": 6, "R3": 5, "R5": 8}, room_w=5.0, room_d=4.0)
    folder = make_station(rooms, doors, res)
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["--quiet", "solve", str(folder), "--out", str(a), "--gap", "0"]) == 0
    assert main(["--quiet", "solve", str(folder), "--out", str(b), "--gap", "0", "--backend", "pulp",
                 "--pulp-solver", "PULP_CBC_CMD"]) == 0
    pa, pb = (json.loads((d / "plan.json").read_text()) for d in (a, b))
    assert pa["totals"]["cost"] == pytest.approx(pb["totals"]["cost"])
    assert pb["solver"]["name"] == "PULP_CBC_CMD"
    assert main(["--quiet", "solve", str(folder), "--out", str(b), "--pulp-solver", "cbc"]) == 2
    assert main(["--quiet", "solve", str(folder), "--out", str(b), "--backend", "pulp",
                 "--pulp-solver", "NO_SUCH_SOLVER"]) == 2
    for fmt in ("lp", "mps"):
        out = tmp_path / f"model.{fmt}"
        assert main(["--quiet", "export-model", str(folder), "--format", fmt, "--out", str(out)]) == 0
        text = out.read_text()
        assert "x_" in text and ("Minimize" in text or "OBJSENSE" in text or "ROWS" in text)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    assert h.readModel(str(tmp_path / "model.mps")) == highspy.HighsStatus.kOk
    h.run()
    assert h.getInfo().objective_function_value == pytest.approx(pa["totals"]["cost"], abs=1.0)
    # an unwritable output (its parent is a file): exit 5, nothing written, nothing left behind
    blocked = tmp_path / "model.mps" / "model.lp"
    mps_before = (tmp_path / "model.mps").read_bytes()
    assert main(["--quiet", "export-model", str(folder), "--out", str(blocked)]) == 5
    assert (tmp_path / "model.mps").read_bytes() == mps_before
    # missing parent folders are created, as for every output (planner.files.write_atomic)
    nested = tmp_path / "no" / "such" / "model.lp"
    assert main(["--quiet", "export-model", str(folder), "--out", str(nested)]) == 0
    assert "x_" in nested.read_text()
    # an existing file is never overwritten: exit 5, the old file kept
    assert main(["--quiet", "export-model", str(folder), "--out", str(nested)]) == 5
    assert "x_" in nested.read_text()
    before = (tmp_path / "model.lp").read_text()
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "model.lp").write_text("old")
    locked.chmod(0o500)
    try:
        code = main(["--quiet", "export-model", str(folder), "--format", "lp", "--out", str(locked / "model.lp")])
        if code != 0:                              # root may write anyway; then the file is whole
            assert code == 5 and (locked / "model.lp").read_text() == "old"
    finally:
        locked.chmod(0o700)
    assert (tmp_path / "model.lp").read_text() == before
