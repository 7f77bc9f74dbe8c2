"""Capacity cuts (planner.model.capcuts) against brute force over every site subset.

- the maximum flow with the no-swap rule held hard (`swap_left`) shelters exactly as many persons as
  an independent assignment LP of the same sites (textbook queue rows and no-swap rows, scipy linprog);
- every row of the site master (capacity knapsack, Hall rows of minimum cuts, their count rows) holds
  for every plan that shelters everyone, over all site subsets: no row ever cuts off the optimum;
- the count rows hold for every 0/1 point of their knapsack (hypothesis);
- the bound is at most the brute-force optimum among plans without swap penalty; a plan that fits is
  one, and at gap 0 it is the optimum; `solve` takes the path and agrees with brute force.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

import planner.model as M
from planner.model.capcuts import _with_counts, applies, capacity_cuts, master_rows
from planner.model.lagrange import hall_cuts, residual_demand, shelter_flow, swap_left
from planner.progress import set_quiet
from test_model_bruteforce import T, brute_force, random_instance

set_quiet(True)


def problem(inst, no_swap: bool, **kw) -> M.Problem:
    extra = dict(no_swap=True, swap_penalty=1e6) if no_swap else {}
    return M.Problem.from_cost_matrix(inst["demand"], inst["times"], inst["capacity"], inst["cost"],
                                      door_flow_pps=inst["door_flow_pps"], room_ids=inst["room_ids"],
                                      site_ids=inst["site_ids"], door_queue=True, **extra, **kw)


def instance(seed: int, n_rooms: int = 10, n_sites: int = 8):
    inst = random_instance(seed, n_rooms=n_rooms, n_sites=n_sites, n_scen=2)
    # the rooms that are sites hold residents in both scenarios (the no-swap rule has own residents)
    inst["demand"][:2] = np.maximum(inst["demand"][:2], 2)
    return inst


def sheltered_no_swap(inst, chosen: np.ndarray) -> float:
    """Most persons the sites `chosen` shelter (all scenarios) when no resident of a converted room
    leaves while others come in: written from the definitions, one LP per scenario."""
    dem, t, cap, flow = inst["demand"], inst["times"], inst["capacity"], inst["door_flow_pps"]
    rid, sid = inst["room_ids"], inst["site_ids"]
    n, m = t.shape
    sip = np.array([[rid[i] == sid[j] and t[i, j] == 0 for j in range(m)] for i in range(n)])
    qcap = np.floor(flow[None, :] * (T - np.where(np.isfinite(t), t, T)) + 1e-6)
    usable = np.isfinite(t) & (cap[None, :] > 0) & (sip | (qcap > 0))
    total = 0.0
    for s in range(dem.shape[1]):
        vars_ = [(i, j) for i in range(n) for j in range(m) if usable[i, j] and chosen[j] and dem[i, s] > 0]
        if not vars_:
            continue
        rows: list[list[int]] = []
        ub: list[float] = []
        for i in range(n):
            rows.append([v for v, (ii, _) in enumerate(vars_) if ii == i])
            ub.append(dem[i, s])
        for j in range(m):
            idx = [v for v, (_, jj) in enumerate(vars_) if jj == j]
            rows.append(idx)
            ub.append(cap[j])
            door = [v for v in idx if not sip[vars_[v][0], j]]
            for tau in sorted({t[vars_[v][0], j] for v in door}):
                rows.append([v for v in door if t[vars_[v][0], j] >= tau])
                ub.append(math.floor(flow[j] * (T - tau) + 1e-6))
            own = [i for i in range(n) if sip[i, j]]
            own_d = sum(dem[i, s] for i in own)
            if own_d > 0:                                   # others only where the own residents fit beside them
                rows.append(door + [v for v in idx if not sip[vars_[v][0], j] and v not in door])
                ub.append(max(cap[j] - own_d, 0))
        r = [k for k, row in enumerate(rows) for _ in row]
        cidx = [v for row in rows for v in row]
        A = sp.csr_matrix((np.ones(len(cidx)), (r, cidx)), shape=(len(rows), len(vars_)))
        res = linprog(-np.ones(len(vars_)), A_ub=A, b_ub=ub, bounds=(0, None), method="highs")
        assert res.status == 0
        total += -res.fun
    return total


def in_model_order(inst, c: M.Compiled, chosen_c: np.ndarray) -> np.ndarray:
    """A 0/1 vector over the model's sites as one over the instance's sites."""
    out = np.zeros(len(inst["site_ids"]), bool)
    out[[inst["site_ids"].index(s) for s in c.site_ids]] = chosen_c
    return out


def fitting_plans(c: M.Compiled, left: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Every site subset of `c` (fixed sites in) that shelters everyone by the flow, and their costs."""
    J = c.J
    subsets = ((np.arange(2 ** J)[:, None] >> np.arange(J)[None, :]) & 1).astype(bool)
    subsets = subsets[(subsets | ~np.asarray(c.fixed1, bool)).all(axis=1)]
    ok = np.array([residual_demand(c, x.astype(float), shelter_flow(c, x.astype(float), None, left)).sum() == 0
                   and _backups_met(c, x) for x in subsets])
    return subsets[ok], subsets[ok].astype(float) @ c.cost


def _backups_met(c: M.Compiled, x: np.ndarray) -> bool:
    cnt = np.bincount(c.rg, weights=x[c.rj].astype(float), minlength=c.G)
    return bool((cnt >= c.m - 1e-9).all())


@pytest.mark.parametrize("seed", range(6))
def test_flow_without_swaps_shelters_as_many_as_the_assignment_lp(seed: int) -> None:
    inst = instance(seed)
    c = M.compile_problem(problem(inst, no_swap=True))
    left = swap_left(c)
    assert left is not None and np.isfinite(left).any()
    rng = np.random.default_rng(seed)
    for _ in range(3):
        chosen = rng.uniform(size=c.J) < 0.6
        Y = shelter_flow(c, chosen.astype(float), None, left)
        assert Y.sum() == pytest.approx(sheltered_no_swap(inst, in_model_order(inst, c, chosen)), abs=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_master_rows_never_cut_off_a_plan_that_fits(seed: int) -> None:
    inst = instance(seed, n_rooms=10, n_sites=7)
    for no_swap in (False, True):
        c = M.compile_problem(problem(inst, no_swap=no_swap, backup_k=2 if seed % 3 == 0 else 1))
        left = swap_left(c)
        plans, _ = fitting_plans(c, left)
        if not len(plans):
            continue
        cuts: list = []
        rng = np.random.default_rng(seed)
        for _ in range(6):                                   # minimum cuts of flows of random plans
            shelter_flow(c, (rng.uniform(size=c.J) < 0.5).astype(float), cuts, left)
        A, lo = master_rows(c, hall_cuts(c, cuts), left)
        assert A.shape[0] >= 1
        assert ((plans.astype(float) @ A.T.toarray()) >= lo[None, :] - 1e-9).all()


@pytest.mark.parametrize("seed", range(8))
def test_bound_and_plan_against_brute_force(seed: int) -> None:
    inst = instance(seed, n_rooms=10, n_sites=7)
    for no_swap in (False, True):
        c = M.compile_problem(problem(inst, no_swap=no_swap))
        assert applies(c)
        left = swap_left(c)
        plans, costs = fitting_plans(c, left)
        res = capacity_cuts(c, time_limit=20.0, gap=0.0)
        if not len(plans):
            assert res.x is None
            continue
        opt = float(costs.min())
        assert res.bound <= opt + 1e-6 * max(opt, 1.0)
        assert res.ended == "fits"                        # at this size the rounds always end with a plan
        assert residual_demand(c, res.x, shelter_flow(c, res.x, None, left)).sum() == 0
        assert res.cost == pytest.approx(opt, abs=1e-6) and res.proven(0.0)


@pytest.mark.parametrize("seed", range(6))
def test_solve_takes_the_cuts_and_agrees_with_brute_force(seed: int) -> None:
    inst = instance(seed, n_rooms=9, n_sites=8)
    bf = brute_force(inst, "cover-all", None, 1)
    if bf is None:
        pytest.skip("no full cover exists")
    sol = M.solve(problem(inst, no_swap=False, mip_gap=0.0, time_limit_s=30), progress=False)
    assert sol.stats.get("mip_skipped") == "capacity cuts"
    assert sol.stats["cost"] == pytest.approx(bf[0][0], abs=1e-6)
    assert sol.solver["status"] == "optimal" and sol.solver["bound"] <= bf[0][0] + 1e-6
    off = M.solve(problem(inst, no_swap=False, mip_gap=0.0, time_limit_s=30), progress=False,
                  options=M.SolveOptions(capacity_cuts=False))
    assert "capacity_cuts" not in off.stats and off.stats["cost"] == pytest.approx(bf[0][0], abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=1, max_size=8), st.integers(1, 40), st.integers(0, 2 ** 31 - 1))
def test_count_rows_hold_for_every_point_of_the_knapsack(h: list[int], d: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = len(h)
    cols = rng.permutation(12)[:n]
    A = sp.csr_matrix((np.asarray(h, float), (np.zeros(n, int), cols)), shape=(1, 12))
    lo = np.array([float(d)])
    A2, lo2 = _with_counts(A, lo)
    pts = ((np.arange(2 ** 12)[:, None] >> np.arange(12)[None, :]) & 1).astype(float)
    feasible = pts[(pts @ A.T.toarray())[:, 0] >= d]
    assert ((feasible @ A2.T.toarray()) >= lo2[None, :] - 1e-9).all()
    if A2.shape[0] > 1:                                    # the count is the fewest sites that can meet d
        k = int(lo2[1])
        assert np.sort(h)[::-1][:k].sum() >= d and (k == 1 or np.sort(h)[::-1][:k - 1].sum() < d)
