"""Warm re-solves of a corridor round (issue 21): the LP relaxation by column generation started from an
earlier solve's column set and basis (`planner.model.warm`) reaches the same optimum as a cold one, the
basis is taken only when the models differ in their corridor rows alone, and a solve started warm gives
the plan a cold one gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import planner.model as M
from planner.errors import InfeasibleError
from planner.model.colgen import lp_colgen
from planner.model.highs import solve_highspy
from planner.model.options import SolveOptions
from planner.model.problem import BudgetInfeasibleError
from planner.progress import set_quiet
from test_model_bruteforce import random_instance

set_quiet(True)


def problem(seed: int, cuts: list[tuple[list[int], float]], objective: str = "cover-all",
            budget: float | None = None) -> M.Problem:
    """A random capacitated instance (14 rooms, 10 sites, 2 scenarios, door queues) with corridor rows:
    per cut, the rooms whose pairs it holds (every site they reach, scenario s0) and its limit (persons)."""
    inst = random_instance(seed, n_rooms=14, n_sites=10, n_scen=2)
    rows = []
    for k, (rooms, _) in enumerate(cuts):
        for i in rooms:
            for j in np.flatnonzero(np.isfinite(inst["times"][i])):
                rows.append((k, inst["room_ids"][i], inst["site_ids"][j], "s0"))
    cut_df = pd.DataFrame(rows, columns=["cut", "room_id", "site_id", "scenario"]) if cuts else None
    rhs = np.array([lim for _, lim in cuts], float) if cuts else None
    return M.Problem.from_cost_matrix(inst["demand"], inst["times"], inst["capacity"], inst["cost"],
                                      door_flow_pps=inst["door_flow_pps"], room_ids=inst["room_ids"],
                                      site_ids=inst["site_ids"], objective=objective, budget=budget,
                                      corridor_cuts=cut_df, corridor_rhs=rhs)


def lp(p: M.Problem, warm=None):
    c = M.compile_problem(p)
    ar = M.build_arrays(c)
    return ar, lp_colgen(c, ar, 30, 2, False, k0=1, k_add=1, warm=warm)   # many column-generation rounds


def optimal_lp(make, seed: int, cuts: list[tuple[list[int], float]], objective: str, budget: float | None):
    """The LP (`lp`) of `make(seed, cuts, objective, budget)`; the test is skipped when that instance has no model
    or its LP no optimum."""
    try:
        _, run = lp(make(seed, cuts, objective, budget))
    except InfeasibleError:
        pytest.skip("no model")
    if run.status != "optimal":
        pytest.skip(f"LP {run.status}")
    return run


FIRST = [([0, 1, 2, 3], 6.0)]
MORE = [([0, 1, 2, 3], 4.0), ([4, 5, 6, 7, 8], 5.0), ([9, 10, 11], 3.0)]   # a tighter limit and two new rows


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("objective", ["cover-all", "max-cover"])
def test_warm_lp_with_more_corridor_rows_reaches_the_cold_optimum(seed: int, objective: str) -> None:
    budget = None if objective == "cover-all" else 60_000.0
    first = optimal_lp(problem, seed, FIRST, objective, budget)
    assert first.warm is not None and first.colgen["warm"] == 0
    ar, cold = lp(problem(seed, MORE, objective, budget))
    _, warm = lp(problem(seed, MORE, objective, budget), warm=first.warm)
    direct = solve_highspy(ar, 30, 0.0, 2, None, False, mip=False)
    assert ar.nu >= 1 and warm.colgen["warm"] == 1                   # the basis was taken
    assert cold.status == warm.status == direct.status == "optimal"
    assert warm.objective == pytest.approx(direct.objective, rel=1e-7, abs=1e-6)
    assert cold.objective == pytest.approx(direct.objective, rel=1e-7, abs=1e-6)
    assert warm.warm is not None and warm.warm.cold_s == first.warm.cold_s   # the cold solve's seconds kept
    v = warm.values                                                  # feasible for the full LP
    Av = ar.A @ v
    assert (Av <= np.where(np.isfinite(ar.row_hi), ar.row_hi, np.inf) + 1e-6).all()
    assert (Av >= np.where(np.isfinite(ar.row_lo), ar.row_lo, -np.inf) - 1e-6).all()


def test_basis_of_another_model_is_not_taken() -> None:
    """Another station's model (other groups and pairs) is more than other corridor or budget rows: the next LP
    starts cold, at its own optimum."""
    _, first = lp(problem(1, FIRST))
    assert first.status == "optimal"
    ar, other = lp(problem(2, MORE), warm=first.warm)
    assert other.colgen["warm"] == 0
    assert other.objective == pytest.approx(solve_highspy(ar, 30, 0.0, 2, None, False, mip=False).objective,
                                            rel=1e-7, abs=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_a_basis_with_or_without_the_budget_row_is_taken(seed: int, monkeypatch) -> None:
    """The budget row may come or go like a corridor row (`warm.LOOSE_BLOCKS`): a cover-all within a budget is
    solved without it first (`orchestrate.solve`) from the last corridor round's basis, which had it (a Station
    Unity what-if's round 1: a 25 s LP, cold). Added to a basis without it (the row basic: an ample budget and
    one just under the cover-all LP's optimum, infeasible there), dropped from a cover-all basis where it did
    not bind (its slack basic) and from a max-cover basis where it did (nonbasic: one basic variable short,
    `_rebalance`d): taken every time, and the LP ends as the cold one on the model it solves."""
    import planner.model.warm as W

    rebalanced: list[int] = []
    real = W._rebalance
    monkeypatch.setattr(W, "_rebalance", lambda rows, ar, extra: rebalanced.append(extra) or real(rows, ar, extra))

    def same(ar, run) -> None:
        direct = solve_highspy(ar, 30, 0.0, 2, None, False, mip=False)
        assert run.colgen["warm"] == 1 and run.status == direct.status      # the basis was taken
        if direct.status == "optimal":
            assert run.objective == pytest.approx(direct.objective, rel=1e-7, abs=1e-6)

    base = optimal_lp(problem, seed, FIRST, "cover-all", None)
    for b in (1e9, 0.999 * base.objective):                             # added
        same(*lp(problem(seed, MORE, "cover-all", b), warm=base.warm))
    _, ample = lp(problem(seed, FIRST, "cover-all", 1e9))               # dropped, not binding
    assert ample.status == "optimal"
    same(*lp(problem(seed, MORE), warm=ample.warm))
    assert rebalanced == []
    tight = optimal_lp(problem, seed, FIRST, "max-cover", 45_000.0)     # dropped, binding
    same(*lp(problem(seed, MORE, "max-cover", None), warm=tight.warm))
    assert rebalanced == [1]


@pytest.mark.parametrize("seed", [0, 2, 3])
def test_solve_started_warm_gives_the_cold_plan(seed: int) -> None:
    """`solve(warm=)` on the LP path (column generation forced on this small model): with branching after a
    warm LP (`warm_branch`) the plan's objective is the cold solve's (both proven at gap 0); without it (the
    default) the start plan is kept, never better than the optimum, its bound never above it; either
    solution carries its LP's basis for the next round."""
    o = SolveOptions(colgen_min_columns=1, mip_gap=0.0, time_limit_s=20.0)
    try:
        first = M.solve(problem(seed, FIRST), progress=False, options=o)
    except InfeasibleError:
        pytest.skip("infeasible")
    assert first.warm is not None
    cold = M.solve(problem(seed, MORE), progress=False, options=o)
    warm = M.solve(problem(seed, MORE), progress=False, options=o.replace(warm_branch=True), warm=first.warm)
    assert warm.stats["lp_colgen"]["warm"] == 1 and cold.stats["lp_colgen"]["warm"] == 0
    assert warm.solver["objective"] == pytest.approx(cold.solver["objective"], rel=1e-9, abs=1e-6)
    assert warm.cost == pytest.approx(cold.cost)
    assert warm.warm is not None
    kept = M.solve(problem(seed, MORE), progress=False, options=o, warm=first.warm)
    assert kept.stats["lp_colgen"]["warm"] == 1 and kept.warm is not None
    assert kept.stats.get("mip_skipped") in ("warm", True)          # True: the start was within the gap
    assert kept.solver["objective"] >= cold.solver["objective"] - 1e-6
    assert kept.solver["bound"] <= cold.solver["objective"] + 1e-6


def _model_objective(p: M.Problem, sol: M.Solution) -> float:
    """A plan's objective on the model's own scale (cost and penalties; max-cover: minus weighted persons)."""
    o = p.solve_options(None)
    c = M.compile_problem(p, o)
    x = np.maximum(np.isin(c.site_ids, sol.chosen).astype(float), c.fixed1)
    v, ar0, _ = M.assign_fixed(c, o, x)
    assert v is not None
    return float(M.build_arrays(c).c @ M.full_vector(c, M.build_arrays(c), ar0, v))


SLIGHT = [([0, 1, 2, 3], 5.0)]                                              # the first row a little tighter
HARD = [([0, 1, 2, 3, 4, 5, 6, 7], 1.0)]                                    # one person through for 8 rooms


@pytest.mark.parametrize("objective", ["cover-all", "max-cover"])
def test_a_round_keeps_its_safe_rooms_only_within_the_gap_of_a_valid_bound(objective: str) -> None:
    """`solve(keep=)` (issue 21, the corridor rounds): the last round's safe rooms with their assignment under
    more or tighter corridor rows are the answer only when that is within the gap of the last round's bound,
    and that bound holds for the model with the new rows (checked against that model's optimum, solved at
    gap 0); otherwise the solve is the one without `keep`. Over the seeds and row sets both happen, so
    neither branch goes untested."""
    budget = None if objective == "cover-all" else 60_000.0
    o = SolveOptions(mip_gap=0.05, time_limit_s=20.0)
    exact = SolveOptions(mip_gap=0.0, time_limit_s=20.0)
    outcomes = []
    for seed in range(8):
        for rows in (SLIGHT, MORE, HARD):
            def at(cuts: list[tuple[list[int], float]], seed: int = seed) -> M.Problem:   # cover-all: 500 per
                return problem(seed, cuts, objective, budget).replace(corridor_penalty=500.0)  # person over
            try:
                first = M.solve(at(FIRST), progress=False, options=o)
                ref = M.solve(at(rows), progress=False, options=exact)
            except InfeasibleError:
                continue
            p = at(rows)
            sol = M.solve(p, progress=False, options=o, keep=first)
            kept = sol.stats.get("kept_sites")
            opt = ref.stats["model_bound"]          # gap 0: the optimum of the new model (persons as fluid)
            tol = 1e-6 * max(1.0, abs(opt))
            assert first.stats["model_bound"] <= opt + tol               # the bound carried over is valid
            if kept and kept["kept"]:
                outcomes.append("kept")
                assert sorted(sol.chosen) == sorted(first.chosen)
                assert sol.stats["model_bound"] == first.stats["model_bound"]
                assert kept["objective"] >= opt - tol                   # (whole persons: never above the optimum)
                assert kept["objective"] - kept["bound"] <= 0.05 * abs(kept["objective"]) + 1e-9
                assert kept["objective"] == pytest.approx(_model_objective(p, sol), rel=1e-9, abs=1e-6)
                assert sol.solver["gap"] <= 0.05 + 1e-9
            else:
                outcomes.append("solved")
                plain = M.solve(p, progress=False, options=o)
                assert sol.solver["objective"] == pytest.approx(plain.solver["objective"], rel=1e-9, abs=1e-6)
    assert "kept" in outcomes and "solved" in outcomes, outcomes


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("objective", ["cover-all", "max-cover"])
def test_warm_lp_with_fewer_corridor_rows_reaches_the_cold_optimum(seed: int, objective: str) -> None:
    """A basis of the model with more corridor rows (and, for max-cover, another budget: the what-if sheet's
    basis for a what-if's first solve, which has no rows) starts the LP with fewer rows or none: taken,
    rebalanced where a dropped row leaves a basic variable too many or too few (`warm._rebalance`), and the
    LP ends at the optimum of the model it solves."""
    b0, b1 = (None, None) if objective == "cover-all" else (60_000.0, 45_000.0)
    first = optimal_lp(problem, seed, MORE, objective, b0)
    for fewer in (FIRST, []):
        ar, warm = lp(problem(seed, fewer, objective, b1), warm=first.warm)
        direct = solve_highspy(ar, 30, 0.0, 2, None, False, mip=False)
        assert warm.colgen["warm"] == 1                                 # the basis was taken
        assert warm.status == direct.status == "optimal"
        assert warm.objective == pytest.approx(direct.objective, rel=1e-7, abs=1e-6)


def test_rebalance_keeps_one_basic_variable_per_row() -> None:
    """The dropped rows' balance: demoted rows go to a finite bound, promoted ones become basic."""
    from planner.model.warm import BASIC, LOWER, UPPER, _rebalance
    ar = M.build_arrays(M.compile_problem(problem(1, MORE)))
    m = ar.A.shape[0]
    rows = np.full(m, BASIC, np.int8)
    rows[:3] = LOWER
    out = _rebalance(rows, ar, 2)
    assert int((out == BASIC).sum()) == m - 5
    changed = np.flatnonzero(out != rows)
    assert len(changed) == 2
    assert all(out[i] == (UPPER if np.isfinite(ar.row_hi[i]) else LOWER) for i in changed)
    back = _rebalance(out, ar, -4)
    assert int((back == BASIC).sum()) == m - 1


def test_cold_branch_off_keeps_a_cover_all_start_plan_with_the_lp_bound() -> None:
    """`SolveOptions(cold_branch=False)` (round 0 of the corridor rounds): after a cold LP by column generation a
    cover-all solve keeps its start plan with the LP bound instead of branching (the bound still below every
    plan: the gap-0 optimum); max-cover still branches."""
    o = SolveOptions(colgen_min_columns=0, mip_gap=0.0, time_limit_s=20.0, capacity_cuts=False)
    kept = 0
    for seed in range(6):
        try:
            exact = M.solve(problem(seed, []), progress=False, options=o)
            off = M.solve(problem(seed, []), progress=False, options=o.replace(cold_branch=False))
        except InfeasibleError:
            continue
        assert off.stats.get("mip_skipped") in ("cold_branch", True)
        kept += off.stats.get("mip_skipped") == "cold_branch"
        assert off.solver["bound"] <= exact.solver["objective"] + 1e-6 and off.cost >= exact.cost - 1e-6
        mc = M.solve(problem(seed, [], "max-cover", 60_000.0), progress=False, options=o.replace(cold_branch=False))
        assert mc.stats.get("mip_skipped") != "cold_branch"
    assert kept >= 1


def test_cover_budget_skips_branching_once_the_lp_bound_exceeds_the_budget() -> None:
    """A cover-all within a budget is solved without the budget first (`orchestrate.solve`); when that solve's LP
    (by column generation: a large model) bounds every plan above the budget, the answer is known and the
    start plan is kept with the LP bound (`SolveOptions.cover_budget`), no branching: the same
    `BudgetInfeasibleError`, its full-cover cost no cheaper than the branched one and its bound no higher than
    the gap-0 optimum. A budget the bound does not exceed still branches; small models (whole LP) always do."""
    o = SolveOptions(colgen_min_columns=0, mip_gap=0.0, time_limit_s=20.0, capacity_cuts=False)
    skipped = 0
    for seed in range(6):
        try:
            exact = M.solve(problem(seed, []), progress=False, options=o)
        except InfeasibleError:
            continue
        lp_bound = M.solve(problem(seed, []), progress=False, options=o.replace(cold_branch=False)).solver["bound"]
        budget = 0.5 * lp_bound
        with pytest.raises(BudgetInfeasibleError) as exc:
            M.solve(problem(seed, [], budget=budget), progress=False, options=o)
        fc = exc.value.full_cover
        assert fc.cost >= exact.cost - 1e-6 and fc.bound is not None and budget < fc.bound <= exact.cost + 1e-6
        skipped += fc.solution.stats.get("mip_skipped") == "over the budget"
        free = M.solve(problem(seed, []), progress=False, options=o.replace(cover_budget=exact.cost + 10.0))
        assert free.stats.get("mip_skipped") != "over the budget"
        whole = M.solve(problem(seed, []), progress=False,
                        options=SolveOptions(mip_gap=0.0, time_limit_s=20.0, cover_budget=budget))
        assert whole.stats.get("mip_skipped") != "over the budget" and whole.cost == pytest.approx(exact.cost)
    assert skipped >= 1


def test_cover_all_within_a_budget_solves_the_budgeted_model_from_the_free_solves_basis(monkeypatch) -> None:
    """A cover-all within a budget is solved without the budget first (`orchestrate.solve`); when that plan costs
    more than the budget and its bound does not exclude it, the model with the budget row starts its LP from
    the first solve's basis (the budget row comes in basic): it started cold again (Station Unity at 56.6 M CR,
    15 s a round). The plan fits the budget and costs what a cold budgeted solve's does."""
    import planner.model.orchestrate as O

    o = SolveOptions(colgen_min_columns=0, mip_gap=0.0, time_limit_s=20.0, capacity_cuts=False, cold_branch=False)
    seen: list[object] = []
    real = O.solve_lp_path

    def spy(p, o_, c, start, t_all, timings, say, warm=None, keep=None):
        seen.append((p.budget, warm))
        return real(p, o_, c, start, t_all, timings, say, warm, keep)

    tried = 0
    for seed in range(8):
        try:
            exact = M.solve(problem(seed, []), progress=False, options=o.replace(cold_branch=True))
            free = M.solve(problem(seed, []), progress=False, options=o)
        except InfeasibleError:
            continue
        if free.cost <= exact.cost + 1e-6:     # the free plan fits a budget at the optimum: nothing to re-solve
            continue
        tried += 1
        monkeypatch.setattr(O, "solve_lp_path", spy)
        seen.clear()
        got = M.solve(problem(seed, [], budget=exact.cost), progress=False, options=o)
        monkeypatch.setattr(O, "solve_lp_path", real)
        assert [b for b, _ in seen] == [None, exact.cost] and seen[0][1] is None and seen[1][1] is not None
        assert got.stats["lp_colgen"]["warm"] == 1 and got.cost <= exact.cost + 1e-6
        cold = O._solve(problem(seed, [], budget=exact.cost), o, None, False)
        assert got.cost == pytest.approx(cold.cost)
    assert tried >= 1
