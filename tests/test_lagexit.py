"""The Lagrangian path with exit-door rows (issue 17's per-door caps; issue 21 at 30,000 rooms) against
HiGHS on the full model.

Small instances (test_model_bruteforce's random stations) where some rooms leave by two doors, each
with a cap below the room's residents (binding rows):

- the maximum flow, from nothing (`shelter_flow`) or from any flow that fits (`augment_flow`),
  shelters exactly as many persons as the exact assignment LP of the full model with the same sites
  (HiGHS, every row: capacity, door queue, exit door), and its assignment keeps every row;
- the repair MIP's sites, with the flow that left the residual, shelter everyone within the rows;
- every bound of the path is at most the exact optimum (HiGHS MIP of the full model, gap 0), and the
  whole path, forced, gives a verified plan no cheaper than that optimum.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import planner.model as M
from planner.errors import InfeasibleError
from planner.model.highs import solve_highspy
from planner.model.lagrange import (flow_vector, repair_plan, residual_demand,
                                    own_first, shelter_flow)
from planner.model.lagsearch import augment_flow, close_warm, exit_laminar
from planner.progress import set_quiet
from test_lagrange import _rows_hold, assert_lagrange_bounds
from test_model_bruteforce import random_instance

set_quiet(True)


def exit_problem(seed: int, n_rooms: int = 12, n_sites: int = 9) -> M.Problem:
    """A random station whose rooms 2 .. 6 leave by doors 'a' and 'b' (per pair at random), each door
    capped below the room's busiest scenario; demand then at most the sum of its doors' caps."""
    inst = random_instance(seed, n_rooms=n_rooms, n_sites=n_sites, n_scen=2)
    rng = np.random.default_rng(1000 + seed)
    dem = inst["demand"].copy()
    rid, sid, t = inst["room_ids"], inst["site_ids"], inst["times"]
    rows = []
    for i in range(2, min(7, n_rooms)):
        top = int(dem[i].max())
        if top < 2:
            dem[i] = np.maximum(dem[i], 4)
            top = 4
        caps = {d: int(rng.integers(1, top)) for d in "ab"}
        used = set()
        for j in range(n_sites):
            if np.isfinite(t[i, j]) and not (rid[i] == sid[j] and t[i, j] == 0):
                d = "a" if rng.uniform() < 0.5 else "b"
                used.add(d)
                rows.append((rid[i], sid[j], d, float(caps[d])))
        dem[i] = np.minimum(dem[i], sum(caps[d] for d in used) + (1 if rid[i] in sid else 0))
    p = M.Problem.from_cost_matrix(dem, t, inst["capacity"], inst["cost"], door_flow_pps=inst["door_flow_pps"],
                                   room_ids=rid, site_ids=sid, door_queue=True, mip_gap=0.0, time_limit_s=30)
    return p.replace(exit_rows=pd.DataFrame(rows, columns=["room_id", "site_id", "exit_door_id", "exit_cap"]))


def _keeps_rows(c: M.Compiled, x: np.ndarray, Y: np.ndarray) -> bool:
    c2 = replace(c, objective="max-cover", w=np.ones(c.G), m=np.zeros_like(c.m), budget=None)
    v, ar = flow_vector(c2, x, Y)
    assert "exit-door" in ar.rows_by_kind or not len(c.exit_id)
    return _rows_hold(ar, v)


def _exact_persons(c: M.Compiled, x: np.ndarray) -> float:
    """The most persons the sites `x` shelter in the full model (every scenario): HiGHS LP of the
    max-cover assignment with the sites fixed (its polytope is integral)."""
    c2 = replace(c, objective="max-cover", w=np.ones(c.G), m=np.zeros_like(c.m), budget=None,
                 scen_mult=np.ones(len(c.scen)))
    ar = M.build_arrays(c2, x_fixed=x.astype(float), only_sites=x > 0.5, all_scen=True)
    lp = solve_highspy(ar, 30, 0.0, 2, None, False, mip=False)
    assert lp.status == "optimal"
    return float(lp.values[ar.ycol0:ar.ycol0 + ar.ny].sum())


@pytest.mark.parametrize("seed", range(12))
def test_flows_with_exit_rows_shelter_as_many_as_the_exact_assignment(seed: int) -> None:
    c = M.compile_problem(exit_problem(seed))
    assert len(c.exit_id) and exit_laminar(c)
    rng = np.random.default_rng(seed)
    for share in (0.4, 0.7, 1.0):
        x = (rng.uniform(size=c.J) < share).astype(float)
        cuts: list = []
        Y = shelter_flow(c, x, cuts)
        assert Y.sum() == pytest.approx(_exact_persons(c, x), abs=1e-6)
        assert (Y[x[c.qj] < 0.5] == 0).all() and _keeps_rows(c, x, Y)
        x0 = x * (rng.uniform(size=c.J) < 0.6)
        for Y0 in (np.zeros_like(Y), Y // 2, shelter_flow(c, x0), Y):
            cuts2: list = []
            Y2, short = augment_flow(c, x, Y0, cuts2)
            assert short == -1 and Y2.sum() == Y.sum() and _keeps_rows(c, x, Y2)
            assert [(s, list(g)) for s, g in cuts2] == [(s, list(g)) for s, g in cuts]


def test_repair_and_local_search_keep_the_exit_rows() -> None:
    repaired = 0
    for seed in range(12):
        c = M.compile_problem(exit_problem(seed))
        if residual_demand(c, np.ones(c.J)).sum() > 0:
            continue                                  # no full cover exists
        rng = np.random.default_rng(seed)
        x = (rng.uniform(size=c.J) < 0.5).astype(float)
        Y = shelter_flow(c, x)
        res = residual_demand(c, x, Y)
        x2 = repair_plan(c, x, res, threads=2, time_limit=10.0, gap=0.0, Y=Y)
        if x2 is None:                                # the residual needs others moved: the path falls back
            continue
        repaired += res.sum() > 0
        assert (x2 >= x).all()
        Y2, _ = augment_flow(c, x2, Y)
        assert residual_demand(c, x2, Y2).sum() == 0 and _keeps_rows(c, x2, Y2)
        x3, Y3, _ = close_warm(c, x2, Y2, np.argsort(-c.cost), float("inf"), batch=2)
        assert residual_demand(c, x3, Y3).sum() == 0 and _keeps_rows(c, x3, Y3) and c.cost @ x3 <= c.cost @ x2
    assert repaired >= 3



def exact_optimum(p: M.Problem) -> float:
    """The cost of `p`'s optimum by the exact MIP (not the Lagrangian path); the test is skipped when no full
    cover exists."""
    try:
        exact = M.solve(p, progress=False, options=M.SolveOptions(lagrangian=False))
    except InfeasibleError:
        pytest.skip("no full cover exists")
    assert exact.solver["status"] == "optimal"
    return float(exact.stats["cost"])

@pytest.mark.parametrize("seed", range(12))
def test_lagrangian_path_with_exit_rows_against_the_exact_optimum(seed: int) -> None:
    p = exit_problem(seed, n_rooms=10, n_sites=8 + seed % 4)
    opt = exact_optimum(p)
    tol = 1e-6 * max(1.0, opt)
    assert_lagrange_bounds(M.compile_problem(p), opt, seed)
    sol = M.solve(p, progress=False, options=M.SolveOptions(lagrange_min_columns=0))
    assert sol.stats.get("lp_status") == "lagrangian"        # the path was taken (no fallback)
    assert M.verify(p, sol) == []
    assert sol.solver["objective"] >= opt - tol and sol.solver["bound"] <= opt + tol


@pytest.mark.parametrize("seed", range(10))
def test_max_cover_without_a_binding_budget_on_the_lagrangian_path(seed: int) -> None:
    """`planner propose`'s fallback when cover-all is impossible (max-cover up to every candidate): the path's
    coverage is the exact optimum's (maximum flows by priority), its cost at least the exact least cost for
    that coverage and at least its own cost bound; cover-all on the same model is infeasible on both paths
    or on neither."""
    p = exit_problem(seed, n_rooms=10, n_sites=8 + seed % 4)
    if seed % 2:                                      # priorities: the greedy by weight
        p = p.replace(weight=pd.Series(np.where(np.arange(10) % 3 == 0, 2.0, 1.0), index=p.demand.index))
    every = float(p.sites["cost"].sum()) + 1.0
    q = p.replace(objective="max-cover", budget=every)
    exact = M.solve(q, progress=False, options=M.SolveOptions(lagrangian=False))
    sol = M.solve(q, progress=False, options=M.SolveOptions(lagrange_min_columns=0))
    assert sol.stats.get("lp_status") == "lagrangian" and M.verify(q, sol) == []
    assert sol.solver["objective"] == pytest.approx(exact.solver["objective"], abs=1e-6)
    assert sol.solver["bound"] == pytest.approx(sol.solver["objective"], abs=1e-6)
    assert sol.stats["cost"] >= exact.stats["cost"] - 1e-6 and sol.stats["cost_bound"] <= sol.stats["cost"] + 1e-6
    infeasible = []
    for opts in (M.SolveOptions(lagrangian=False), M.SolveOptions(lagrange_min_columns=0)):
        try:
            M.solve(p, progress=False, options=opts)
            infeasible.append(False)
        except InfeasibleError as exc:
            infeasible.append(True)
            assert "cannot reach a safe room with space" in str(exc)
    assert infeasible[0] == infeasible[1] == (sol.stats["max_shelter_short"] > 0)


@pytest.mark.parametrize("seed", range(8))
def test_own_first_is_a_maximum_flow_that_keeps_the_rows(seed: int) -> None:
    c = M.compile_problem(exit_problem(seed))
    rng = np.random.default_rng(seed)
    x = (rng.uniform(size=c.J) < 0.7).astype(float)
    Y = own_first(c, x)
    assert Y.sum() == shelter_flow(c, x).sum() and (Y[x[c.qj] < 0.5] == 0).all() and _keeps_rows(c, x, Y)
