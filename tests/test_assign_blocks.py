"""The whole-person assignment LP by independent blocks, kept warm (`planner.model.assignwarm`, issue 21): over
random small instances with corridor rows, every warm assignment of a chain of site sets (subsets of the first,
then others) has the optimum of the cold LP on the set's own arrays and comes back whole and feasible; the
bases of one model start the same sites' assignment under more corridor rows with the same optimum."""

from __future__ import annotations

import numpy as np

import planner.model as M
from planner.model.assign import assign_fixed, assign_tolerance
from planner.model.assignwarm import AssignBlocks, WarmAssign, column_keys, row_keys
from planner.model.arrays import build_arrays
from planner.model.compile import group_walk
from planner.model.highs import solve_highspy
from planner.model.options import SolveOptions
from planner.progress import set_quiet
from test_warm import MORE, problem

set_quiet(True)
THREADS = SolveOptions().n_threads


def _cold(c, x):
    """The cold LP on the fixed sites' own arrays: (objective or None when infeasible, arrays)."""
    ar = build_arrays(c, x_fixed=x, walk_obj=group_walk(c), only_sites=x > 0.5, all_scen=True)
    if ar.ny == 0 or ar.A.shape[0] == 0:
        return None, ar
    run = solve_highspy(ar, 10, 0.0, THREADS, None, False, mip=False)
    return (run.objective if run.status == "optimal" else None), ar


def _check_whole_and_feasible(ar, v) -> None:
    y = v[ar.ycol0:ar.ycol0 + ar.ny]
    assert np.abs(y - np.rint(y)).max(initial=0.0) <= 1e-6                      # whole persons
    assert (v >= ar.lo - 1e-6).all() and (v <= ar.hi + 1e-6).all()
    act = ar.A @ v
    assert (act >= ar.row_lo - 1e-6).all() and (act <= ar.row_hi + 1e-6).all()


def test_warm_block_assignments_have_the_cold_optimum_whole_and_feasible() -> None:
    o = SolveOptions()
    rng = np.random.default_rng(3)
    compared = warm_solves = at_lp = 0
    for seed in range(6):
        for objective in ("cover-all", "max-cover"):
            cuts = [([int(r) for r in rng.choice(14, 5, replace=False)], float(rng.integers(2, 8)) + 0.5)
                    for _ in range(3)]
            c = M.compile_problem(problem(seed, cuts, objective=objective))
            w = WarmAssign()
            base = (rng.random(c.J) < 0.8).astype(float)
            for k in range(6):        # the base, subsets of it (warm), then a set that is not (new blocks)
                x = base * (rng.random(c.J) < 0.85) if 0 < k < 5 else (rng.random(c.J) < 0.7).astype(float)
                x = np.maximum(x if k else base, c.fixed1)
                lp_obj, _ = _cold(c, x)
                v, ar, run = assign_fixed(c, o, x, warm=w)
                if lp_obj is None:
                    continue
                assert v is not None, (seed, objective, k, run.status)
                _check_whole_and_feasible(ar, v)
                # the LP's optimum; a fractional LP (corridor rows) is made whole at no more than the MIP would
                # charge, so the whole answer is at least the LP's objective
                tol = 1e-6 * max(1.0, abs(lp_obj))
                assert float(ar.c @ v) >= lp_obj - tol
                if run.status == "optimal":
                    assert float(ar.c @ v) <= lp_obj + tol
                compared += 1                 # (max-cover's residual MIPs stop within `assign_tolerance`)
                at_lp += float(ar.c @ v) <= lp_obj + max(tol, assign_tolerance(c, o, lp_obj))
            warm_solves += int(w.stats["warm"])
    assert compared >= 35 and warm_solves >= 20
    assert at_lp >= 0.95 * compared, f"{at_lp} of {compared} at the LP's optimum"


def test_block_lp_equals_the_cold_lp_on_every_subset() -> None:
    """The LP by blocks on a superset's arrays (the other sites' columns at 0) has the LP optimum of the
    subset's own arrays, cold or warm."""
    o = SolveOptions()
    rng = np.random.default_rng(5)
    checked = 0
    for seed in range(8):
        c = M.compile_problem(problem(seed, MORE))
        base = np.maximum((rng.random(c.J) < 0.9).astype(float), c.fixed1)
        blocks = AssignBlocks(c, o, base)
        assert len(blocks.blocks) >= 2                                     # two scenarios: two blocks at least
        for _ in range(5):
            x = np.maximum(base * (rng.random(c.J) < 0.8), c.fixed1)
            lp_obj, _ = _cold(c, x)
            res = blocks.solve(x, 10)
            if lp_obj is None:
                assert res.status == "infeasible" or res.values is None or _uncovered(c, x)
                continue
            assert res.status == "optimal" and res.values is not None
            assert abs(float(blocks.ar.c @ res.values) - lp_obj) <= 1e-7 * max(1.0, abs(lp_obj))
            checked += 1
    assert checked >= 25


def _uncovered(c, x) -> bool:
    """Whether someone reaches no open site (the cold LP's arrays then lack their demand row's columns)."""
    S = len(c.scen)
    ar = build_arrays(c, x_fixed=x, walk_obj=group_walk(c), only_sites=x > 0.5, all_scen=True)
    need = np.flatnonzero(c.D.ravel() > 0)
    have = np.unique(c.qg[ar.yq].astype(np.int64) * S + ar.ys)
    return not np.isin(need, have).all()


def test_bases_of_one_model_start_the_next_with_more_corridor_rows() -> None:
    """`AssignBlocks.basis` / `take`: the same sites under more and tighter corridor rows (the next corridor
    round keeping its safe rooms) from the last model's bases: HiGHS takes them, and the optimum is the cold
    one."""
    o = SolveOptions()
    rng = np.random.default_rng(7)
    taken = 0
    for seed in range(8):
        c1 = M.compile_problem(problem(seed, [([0, 1, 2, 3], 6.0)]))
        c2 = M.compile_problem(problem(seed, MORE))
        x = np.maximum((rng.random(c1.J) < 0.8).astype(float), c1.fixed1)
        w1 = WarmAssign()
        v1, _, _ = assign_fixed(c1, o, x, warm=w1)
        if v1 is None or w1.blocks is None:
            continue
        basis = w1.blocks.basis()
        assert basis is not None
        w2 = WarmAssign(start=basis)
        v2, ar2, run2 = assign_fixed(c2, o, x, warm=w2)
        lp_obj, _ = _cold(c2, x)
        assert v2 is not None and lp_obj is not None
        _check_whole_and_feasible(ar2, v2)
        assert float(ar2.c @ v2) >= lp_obj - 1e-6 * max(1.0, abs(lp_obj))
        if run2.status == "optimal":
            assert float(ar2.c @ v2) <= lp_obj + 1e-6 * max(1.0, abs(lp_obj)) or run2.bound <= lp_obj + 1e-6
        taken += int(w2.stats["taken"])
    assert taken >= 8


def test_column_and_row_keys_are_unique_and_stable() -> None:
    """The keys that carry a basis from one model to the next: one per column and per row (no two alike), and
    the rows both models have keep their keys."""
    c1 = M.compile_problem(problem(2, [([0, 1, 2, 3], 6.0)]))
    c2 = M.compile_problem(problem(2, MORE))
    x = np.ones(c1.J)
    ars = [build_arrays(c, x_fixed=x, walk_obj=group_walk(c), only_sites=x > 0.5, all_scen=True) for c in (c1, c2)]
    keys = [(column_keys(c, ar), ar) for c, ar in zip((c1, c2), ars)]
    for ck, ar in keys:
        assert len(np.unique(ck)) == len(ck)
        rk = row_keys(ar, ck)
        assert len(np.unique(rk)) == len(rk)
    r1, r2 = row_keys(ars[0], keys[0][0]), row_keys(ars[1], keys[1][0])
    demand = ars[0].rows_by_kind["demand"]
    assert np.isin(r1[:demand], r2).all()                                  # the demand rows are in both


def test_block_lp_is_whole_without_corridor_rows() -> None:
    """Without corridor rows the fixed-site system is totally unimodular: every block's simplex vertex, cold
    or from the last basis, is whole as it comes (no residual MIP)."""
    o = SolveOptions()
    rng = np.random.default_rng(11)
    solved = 0
    for seed in range(8):
        c = M.compile_problem(problem(seed, []))
        base = np.maximum((rng.random(c.J) < 0.9).astype(float), c.fixed1)
        blocks = AssignBlocks(c, o, base)
        for _ in range(4):
            x = np.maximum(base * (rng.random(c.J) < 0.8), c.fixed1)
            res = blocks.solve(x, 10)
            if res.values is None:
                continue
            y = res.values[blocks.ar.ycol0:blocks.ar.ycol0 + blocks.ar.ny]
            assert np.abs(y - np.rint(y)).max(initial=0.0) <= 1e-6
            solved += 1
    assert solved >= 20
