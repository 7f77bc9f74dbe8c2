"""The LP relaxation by column generation, and the bound from any row multipliers."""

from __future__ import annotations

import numpy as np
import pytest

import planner.model as M
from planner.progress import set_quiet
from test_model_bruteforce import brute_force, random_instance, solve_inst

set_quiet(True)


def arrays(seed: int, objective: str):
    inst = random_instance(seed, n_rooms=14, n_sites=10, n_scen=2)
    p = M.Problem.from_cost_matrix(inst["demand"], inst["times"], inst["capacity"], inst["cost"],
                                   door_flow_pps=inst["door_flow_pps"], room_ids=inst["room_ids"],
                                   site_ids=inst["site_ids"], objective=objective,
                                   budget=None if objective == "cover-all" else float(inst["cost"].sum()) / 3)
    c = M.compile_problem(p)
    return c, M.build_arrays(c)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("objective", ["cover-all", "max-cover"])
def test_column_generation_reaches_the_lp_optimum(seed: int, objective: str) -> None:
    c, ar = arrays(seed, objective)
    direct = M._solve_highspy(ar, 30, 0.0, 2, None, False, mip=False)
    if direct.status != "optimal":
        pytest.skip(f"LP {direct.status}")
    cg = M._lp_colgen(c, ar, 30, 2, False, k0=1, k_add=1)   # start from one column per row: many rounds
    assert cg.status == "optimal"
    assert cg.objective == pytest.approx(direct.objective, rel=1e-7, abs=1e-6)
    assert cg.bound <= direct.objective + 1e-6 * max(1.0, abs(direct.objective))
    # its values are feasible for the full LP
    v = cg.values
    Av = ar.A @ v
    assert (Av >= np.where(np.isfinite(ar.row_lo), ar.row_lo, -np.inf) - 1e-6).all()
    assert (Av <= np.where(np.isfinite(ar.row_hi), ar.row_hi, np.inf) + 1e-6).all()
    assert ((v >= ar.lo - 1e-9) & (v <= ar.hi + 1e-9)).all()


@pytest.mark.parametrize("seed", range(6))
def test_dual_bound_is_valid_for_any_multipliers(seed: int) -> None:
    c, ar = arrays(seed, "cover-all" if seed % 2 else "max-cover")
    lp = M._solve_highspy(ar, 30, 0.0, 2, None, False, mip=False)
    if lp.status != "optimal":
        pytest.skip(f"LP {lp.status}")
    # at the optimal duals the bound is the LP optimum
    assert M._dual_bound(ar, lp.row_dual) == pytest.approx(lp.objective, rel=1e-7, abs=1e-6)
    rng = np.random.default_rng(seed)
    for scale in (0.5, 1.0, 3.0):
        pi = lp.row_dual * rng.uniform(0, 2, len(lp.row_dual)) * scale + rng.normal(0, 1, len(lp.row_dual))
        assert M._dual_bound(ar, pi) <= lp.objective + 1e-6 * max(1.0, abs(lp.objective))


@pytest.mark.parametrize("seed", [0, 3, 5, 8, 11])
@pytest.mark.parametrize("objective", ["cover-all", "max-cover"])
def test_optimiser_with_column_generation_matches_brute_force(seed: int, objective: str, monkeypatch) -> None:
    monkeypatch.setattr(M, "COLGEN_MIN_COLUMNS", 0)
    inst = random_instance(seed, n_rooms=9, n_sites=8 + seed % 3, n_scen=2)
    budget = None if objective == "cover-all" else round(float(inst["cost"].sum()) * 0.35)
    bf = brute_force(inst, objective, budget, 1)
    if bf is None:
        pytest.skip("infeasible instance")
    sol = solve_inst(inst, objective=objective, budget=budget, backup_k=1)
    assert sol.stats.get("lp_colgen") is not None
    if objective == "cover-all":
        assert sol.stats["cost"] == pytest.approx(bf[0][0], abs=1e-6)
    else:
        assert sol.solver["objective"] == pytest.approx(-bf[0][0], abs=1e-6)


def test_column_generation_on_an_infeasible_cover_all_falls_back_and_explains(monkeypatch) -> None:
    from planner.errors import InfeasibleError

    monkeypatch.setattr(M, "COLGEN_MIN_COLUMNS", 0)
    # 10 people, places for 9 in reach: artificials stay in the restricted LP; the full LP decides
    p = M.Problem.from_cost_matrix(np.array([[10]]), np.array([[10.0, 40.0]]), np.array([6, 3]),
                                   np.array([10.0, 30.0]), mip_gap=0.0, time_limit_s=20)
    with pytest.raises(InfeasibleError):
        M.solve(p, progress=False)


def test_block_names_are_the_listed_names() -> None:
    from planner.model import BlockNames

    b = BlockNames([("x", 3), ("z", 0), ("y", 2), ("S", 1)])
    ref = ["x_0", "x_1", "x_2", "y_0", "y_1", "S_0"]
    assert len(b) == 6 and list(b) == ref and b[-1] == "S_0" and b[1:4] == ref[1:4]
    with pytest.raises(IndexError):
        b[6]
    assert len(BlockNames([])) == 0


def test_highs_banner_is_silenced_unless_asked() -> None:
    """HiGHS prints a banner on the first Highs() of a process; the planner's solves keep standard
    output clean (it may carry plan.json), and `msg=True` still shows it."""
    import subprocess
    import sys

    code = ("from planner.model import new_highs; h = new_highs({msg}); h.setOptionValue('output_flag', False); "
            "print('done')")
    quiet = subprocess.run([sys.executable, "-c", code.format(msg="False")], capture_output=True, text=True,
                           check=True)
    assert quiet.stdout == "done\n"
    loud = subprocess.run([sys.executable, "-c", code.format(msg="True")], capture_output=True, text=True,
                          check=True)
    assert "HiGHS" in loud.stdout and loud.stdout.endswith("done\n")
