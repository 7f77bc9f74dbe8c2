"""The Lagrangian path (planner.model.lagrange) against brute force and the LP.

- the maximum flow shelters exactly as many persons as the brute-force assignment LP of
  the same sites (textbook queue rows, scipy linprog), and its assignment keeps every
  capacity and door-queue row of the model;
- every bound (capacity knapsack, L(u) for any u >= 0, the cut LP) is at most the
  brute-force optimum;
- the whole path, forced on small instances, returns verified plans whose bound is valid.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import planner.model as M
from planner.errors import PlannerError
from planner.model.highs import solve_highspy
from planner.model.lagrange import (cut_bound, flow_vector, hall_cuts, lagrangian, residual_demand, shelter_flow,
                              site_problems, start_prices)
from planner.progress import set_quiet
from test_model_bruteforce import assignment_value, brute_force, random_instance, solve_inst

set_quiet(True)


def compiled(inst, door_queue: bool = True) -> M.Compiled:
    p = M.Problem.from_cost_matrix(inst["demand"], inst["times"], inst["capacity"], inst["cost"],
                                   door_flow_pps=inst["door_flow_pps"], room_ids=inst["room_ids"],
                                   site_ids=inst["site_ids"], door_queue=door_queue)
    return M.compile_problem(p)


def _rows_hold(ar: M.Arrays, v: np.ndarray, skip_kind: str | None = None) -> bool:
    Av = ar.A @ v
    lo = np.where(np.isfinite(ar.row_lo), ar.row_lo, -np.inf)
    hi = np.where(np.isfinite(ar.row_hi), ar.row_hi, np.inf)
    ok = (Av >= lo - 1e-6) & (Av <= hi + 1e-6)
    start = 0
    for kind, k in ar.rows_by_kind.items():
        if kind == skip_kind:
            ok[start:start + k] = True
        start += k
    return bool(ok.all())


@pytest.mark.parametrize("seed", range(16))
def test_flow_shelters_as_many_as_the_brute_force_assignment(seed: int) -> None:
    inst = random_instance(seed, n_rooms=12, n_sites=9, n_scen=2)
    c = compiled(inst)
    rng = np.random.default_rng(seed)
    chosen = rng.uniform(size=c.J) < 0.6
    x = chosen.astype(float)
    Y = shelter_flow(c, x)
    # the same sites in the brute force's order
    order = [inst["site_ids"].index(s) for s in c.site_ids]
    chosen_bf = np.zeros(len(inst["site_ids"]), bool)
    chosen_bf[np.asarray(order)[chosen]] = True
    best = assignment_value(inst, chosen_bf, np.zeros(len(inst["room_ids"]), int), cover_all=False)
    assert Y.sum() == pytest.approx(best, abs=1e-6)
    assert (Y[~chosen[c.qj]] == 0).all()                       # nobody at a closed site
    # the assignment keeps every capacity and queue row (demand rows: at most the residents)
    c2 = replace(c, objective="max-cover", w=np.ones(c.G), m=np.zeros_like(c.m), budget=None)
    v, ar = flow_vector(c2, x, Y)
    assert _rows_hold(ar, v)
    res = residual_demand(c, x, Y)
    assert (res >= 0).all() and res.sum() == int(c.D.sum()) - int(Y.sum())


@pytest.mark.parametrize("seed", range(12))
def test_every_bound_is_at_most_the_brute_force_optimum(seed: int) -> None:
    inst = random_instance(seed, n_rooms=12, n_sites=9, n_scen=2)
    bf = brute_force(inst, "cover-all", None, 1)
    if bf is None:
        pytest.skip("no full cover exists")
    opt = bf[0][0]
    c = compiled(inst)
    assert M.capacity_bound(c) <= opt + 1e-6 * max(1.0, opt)
    assert_lagrange_bounds(c, opt, seed)


def assert_lagrange_bounds(c: M.Compiled, opt: float, seed: int) -> None:
    """The Lagrangian at the knapsack's prices and at 20 random multipliers >= 0, and the Hall rows from the
    minimum cuts of flows of 4 random plans, are each at most the optimum `opt` (currency)."""
    ar = M.build_arrays(c)
    sp_ = site_problems(c, ar.yq, ar.ys, ar.hi[ar.ycol0:ar.ycol0 + ar.ny])
    tol = 1e-6 * max(1.0, opt)
    assert lagrangian(sp_, start_prices(c, sp_, M.capacity_knapsack(c))).bound <= opt + tol
    rng = np.random.default_rng(seed)
    for _ in range(20):                       # any multipliers >= 0 give a bound
        u = rng.uniform(0, 3, sp_.R) * float(c.cost.max()) / max(float(c.cap.min()), 1.0)
        assert lagrangian(sp_, u).bound <= opt + tol
    # Hall rows from the minimum cuts of flows of random plans
    cuts: list = []
    for _ in range(4):
        shelter_flow(c, (rng.uniform(size=c.J) < 0.5).astype(float), cuts)
    assert cut_bound(c, hall_cuts(c, cuts)) <= opt + tol


@pytest.mark.parametrize("seed", range(6))
def test_lagrangian_at_the_lp_duals_bounds_the_lp(seed: int) -> None:
    inst = random_instance(seed, n_rooms=14, n_sites=10, n_scen=2)
    c = compiled(inst)
    ar = M.build_arrays(c)
    lp = solve_highspy(ar, 30, 0.0, 2, None, False, mip=False)
    if lp.status != "optimal":
        pytest.skip(f"LP {lp.status}")
    sp_ = site_problems(c, ar.yq, ar.ys, ar.hi[ar.ycol0:ar.ycol0 + ar.ny])
    L = lagrangian(sp_, lp.row_dual[:sp_.R])
    bf = brute_force(inst, "cover-all", None, 1)
    if bf is not None:
        assert L.bound <= bf[0][0] + 1e-6 * max(1.0, bf[0][0])


@pytest.mark.parametrize("seed", range(14))
def test_lagrangian_path_matches_brute_force_bounds(seed: int) -> None:
    lagrange_always = M.SolveOptions(lagrange_min_columns=0)
    n_sites = 8 + seed % 5
    inst = random_instance(seed, n_rooms=10, n_sites=n_sites, n_scen=2)
    bf = brute_force(inst, "cover-all", None, 1)
    if bf is None:
        with pytest.raises(PlannerError):
            solve_inst(inst, options=lagrange_always, objective="cover-all")
        return
    opt = bf[0][0]
    sol = solve_inst(inst, options=lagrange_always, objective="cover-all")          # solve() verifies the plan itself
    tol = 1e-6 * max(1.0, opt)
    assert sol.solver["objective"] >= opt - tol
    assert sol.solver["bound"] <= opt + tol
    assert sol.stats.get("lp_status") == "lagrangian"       # the path was taken (no fallback)


def test_lagrangian_path_on_a_generated_station_passes_the_checker(tmp_path) -> None:
    from planner.check import check_plan
    from planner.costs import site_costs
    from planner.generate import generate_station
    from planner.network import reach_table
    from planner.pipeline import finish_plan, model_problem
    from planner.plan import build_plan
    from planner.sites import candidate_sites
    from planner.station import load_station

    folder = generate_station(300, 5, tmp_path / "st")
    st = load_station(folder)
    sites = candidate_sites(st)
    reach = reach_table(st, sites, cache=False)
    costs = site_costs(sites, st)
    p, timed, short = model_problem(st, reach, sites, costs)     # the pipeline's timing (issue 17)
    s = M.solve(p, progress=False, options=M.SolveOptions(lagrange_min_columns=0))
    assert s.stats.get("lp_status") == "lagrangian"
    assert M.verify(p, s) == []
    assert s.solver["bound"] <= s.solver["objective"] + 1e-6
    plan = finish_plan(build_plan(station=st, sites=sites, costs=costs, reach=reach, solution=s,
                                  timed_pairs=timed), st, short)
    assert check_plan(st, plan) == []
