"""The pure cover path (no capacity or door queue can bind) against brute force, and when it must not be taken.

Brute force here is written independently of planner.model: every subset of sites,
coverage counted on the dense reach matrix (LSCP: every occupied room has a chosen
site in reach; MCLP: the most priority-weighted residents, summed over scenarios,
with a chosen site in reach, within the budget; ties to the least cost).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from planner.errors import PlannerError
from planner.model import Problem, SolveOptions, compile_problem, solve
from planner.model.cover import build_cover_model, cover_start
from planner.model.highs import Run, integral_objective, integral_run, solve_highspy
from planner.model.options import COVER_LP_OPTIONS
from planner.progress import set_quiet

set_quiet(True)
T = 60.0
BIG = 10**9


def instance(seed: int, n_rooms: int = 10, n_sites: int = 9, n_scen: int = 2) -> dict:
    rng = np.random.default_rng(seed)
    pos_r = rng.uniform(0, 150, n_rooms)
    pos_s = rng.uniform(0, 150, n_sites)
    t = np.round(np.abs(pos_r[:, None] - pos_s[None, :]) / 1.2 + rng.integers(1, 10, (n_rooms, n_sites)))
    t[t > T] = np.inf
    dem = rng.integers(0, 7, (n_rooms, n_scen))
    dem[rng.uniform(size=(n_rooms, n_scen)) < 0.2] = 0
    cost = np.round(rng.uniform(5, 30, n_sites)) * 1000
    if seed % 3 == 0:          # unit costs, as in spopt's LSCP / MCLP: many ties
        cost = np.ones(n_sites)
    return dict(demand=dem, times=t, cost=cost, weight=rng.integers(1, 4, n_rooms).astype(float))


def brute(inst: dict, objective: str, budget: float | None, k: int, existing=(), protected=()):
    t, cost, dem, w = inst["times"], inst["cost"], inst["demand"], inst["weight"]
    m = t.shape[1]
    reach = np.isfinite(t)
    occ = dem.sum(axis=1) > 0
    need = np.where(occ, np.minimum(k, reach.sum(axis=1)), 0)
    best = None
    for bits in itertools.product([0, 1], repeat=m):
        ch = np.array(bits, bool)
        if any(not ch[e] for e in existing) or any(ch[q] for q in protected):
            continue
        c = float(cost[ch & ~np.isin(np.arange(m), list(existing))].sum())
        if budget is not None and c > budget + 1e-6:
            continue
        n_open = (reach & ch[None, :]).sum(axis=1)
        if objective == "cover-all":
            if ((n_open < need) | (occ & reach.any(axis=1) & (n_open == 0))).any():
                continue
            key = (c,)
        else:
            ok = (n_open >= np.maximum(need, 1)) & occ
            key = (-float((w[ok, None] * dem[ok]).sum()), c)
        if best is None or key < best[0]:
            best = (key, ch)
    return best


def make(inst: dict, **kw) -> Problem:
    kw.setdefault("mip_gap", 0.0)
    kw.setdefault("time_limit_s", 20)
    n_sites = inst["times"].shape[1]
    return Problem.from_cost_matrix(inst["demand"], inst["times"], np.full(n_sites, BIG), inst["cost"],
                                    weight=inst["weight"], **kw)


CASES = [(seed, obj) for seed in range(12) for obj in ("cover-all", "max-cover")]


@pytest.mark.parametrize("seed,objective", CASES)
def test_pure_cover_matches_brute_force(seed: int, objective: str) -> None:
    inst = instance(seed, n_rooms=9 + seed % 4, n_sites=8 + seed % 4, n_scen=1 + seed % 3)
    k = 2 if seed % 4 == 3 else 1
    opts: dict = {}
    existing, protected = (), ()
    if seed % 5 == 1:
        ex = np.zeros(inst["times"].shape[1], bool)
        ex[2] = True
        inst["cost"] = np.where(ex, 0.0, inst["cost"])
        opts = dict(existing=ex, protected={f"j{4}"})
        existing, protected = (2,), (4,)
    budget = None
    if objective == "max-cover" or seed % 2:
        budget = float(np.sort(inst["cost"])[: 2 + seed % 3].sum())
    bf = brute(inst, objective, budget, k, existing, protected)
    p = make(inst, objective=objective, budget=budget, backup_k=k, **opts)
    assert compile_problem(p).uncapacitated
    if bf is None:
        with pytest.raises(PlannerError):
            solve(p, progress=False)
        return
    sol = solve(p, progress=False)
    assert sol.stats.get("model") == "pure cover"
    assert sol.solver["status"] == "optimal"
    if objective == "cover-all":
        assert sol.stats["cost"] == pytest.approx(bf[0][0], abs=1e-6)
    else:
        assert sol.solver["objective"] == pytest.approx(-bf[0][0], abs=1e-6)
        assert sol.stats["cost"] == pytest.approx(bf[0][1], abs=1e-6)
    # the full model (assignment variables) agrees
    full = solve(p, progress=False, options=SolveOptions(pure_cover=False))
    assert full.stats.get("model") != "pure cover"
    assert full.stats["cost"] == pytest.approx(sol.stats["cost"], abs=1e-6)
    assert full.solver["objective"] == pytest.approx(sol.solver["objective"], abs=1e-6)
    # everyone sheltered goes to the nearest chosen site in reach
    a = sol.assignments
    if len(a):
        t = inst["times"]
        chosen = np.isin([f"j{k_}" for k_ in range(t.shape[1])], sol.chosen)
        for r, _j, ws in a[["room_id", "site_id", "walk_s"]].itertuples(index=False):
            i = int(r[1:])
            assert ws == pytest.approx(np.min(np.where(chosen, t[i], np.inf)))


def test_reduction_off_gives_the_same_optimum() -> None:
    for seed in range(4):
        inst = instance(100 + seed, n_rooms=30, n_sites=14)
        for obj, budget in (("cover-all", None), ("max-cover", 3.0 if seed % 2 else 40000.0)):
            p = make(inst, objective=obj, budget=budget)
            a = solve(p, progress=False)
            b = solve(p, progress=False, options=SolveOptions(cover_reduce=False))
            assert a.solver["objective"] == pytest.approx(b.solver["objective"], abs=1e-6)
            assert a.stats["cost"] == pytest.approx(b.stats["cost"], abs=1e-6)


def test_capacity_that_could_bind_keeps_the_full_model() -> None:
    # two rooms of 6 near a site holding 8 and a far one holding 20: capacity can bind at the near site
    p = Problem.from_cost_matrix(np.array([[6], [6]]), np.array([[10.0, 40.0], [12.0, 45.0]]), np.array([8, 20]),
                                 np.array([10.0, 30.0]), mip_gap=0.0, time_limit_s=20)
    assert not compile_problem(p).uncapacitated
    sol = solve(p, progress=False)
    assert sol.stats.get("model") != "pure cover"
    assert sol.chosen == ["j1"]                   # the near site alone cannot hold 12
    # with room for everyone at the near site the pure path is exact and takes it alone
    p2 = p.replace(sites=p.sites.assign(capacity=[12, 20]))
    assert compile_problem(p2).uncapacitated
    sol2 = solve(p2, progress=False)
    assert sol2.stats.get("model") == "pure cover" and sol2.chosen == ["j0"]


def test_door_queue_that_could_bind_keeps_the_full_model() -> None:
    # 30 people, 50 s walk, 0.5 persons/s: only 5 get through the near door in time
    p = Problem.from_cost_matrix(np.array([[30]]), np.array([[50.0, 20.0]]), np.array([BIG, BIG]),
                                 np.array([10.0, 30.0]), door_flow_pps=np.array([0.5, 5.0]), mip_gap=0.0,
                                 time_limit_s=20)
    assert not compile_problem(p).uncapacitated
    sol = solve(p, progress=False)
    assert sol.stats.get("model") != "pure cover"
    assert sol.chosen == ["j1"]
    # a fast door: nothing binds any more
    p2 = p.replace(sites=p.sites.assign(door_flow_pps=[5.0, 5.0]))
    assert compile_problem(p2).uncapacitated
    assert solve(p2, progress=False).chosen == ["j0"]


@pytest.mark.parametrize("seed", range(10))
def test_cover_search_path_matches_brute_force(seed: int) -> None:
    """The LP -> core MIP -> reduced-cost fixing -> MIP path of large max-cover models, forced on
    small instances: the same optimum as brute force, and it was really taken."""
    search = SolveOptions(cover_search_min_sites=1)
    inst = instance(200 + seed, n_rooms=14 + seed % 5, n_sites=10 + seed % 3, n_scen=1 + seed % 2)
    budget = float(np.sort(inst["cost"])[: 2 + seed % 3].sum())
    bf = brute(inst, "max-cover", budget, 1)
    p = make(inst, objective="max-cover", budget=budget)
    sol = solve(p, progress=False, options=search)
    cs = sol.stats["cover_search"]
    assert cs["sites_kept"] <= cs["sites_usable"] and cs["core_sites"] <= cs["sites_usable"]
    assert sol.solver["status"] == "optimal"
    assert sol.solver["objective"] == pytest.approx(-bf[0][0], abs=1e-6)
    assert sol.stats["cost"] == pytest.approx(bf[0][1], abs=1e-6)
    assert sol.solver["bound"] >= sol.solver["objective"] - 1e-6     # max-cover: the bound is above


@pytest.mark.parametrize("seed", range(10))
def test_cover_all_search_path_matches_brute_force(seed: int) -> None:
    """The LP -> random covers -> union MIP -> proof path of large cover-all models, forced on small
    instances (with backups and an existing site on some): the brute-force optimum, and it was taken."""
    search = SolveOptions(cover_search_min_sites=1)
    inst = instance(300 + seed, n_rooms=12 + seed % 5, n_sites=9 + seed % 4, n_scen=1 + seed % 2)
    k = 2 if seed % 3 == 2 else 1
    opts: dict = {}
    existing: tuple = ()
    if seed % 4 == 1:
        ex = np.zeros(inst["times"].shape[1], bool)
        ex[1] = True
        inst["cost"] = np.where(ex, 0.0, inst["cost"])
        opts = dict(existing=ex)
        existing = (1,)
    bf = brute(inst, "cover-all", None, k, existing)
    p = make(inst, objective="cover-all", backup_k=k, **opts)
    if bf is None:
        with pytest.raises(PlannerError):
            solve(p, progress=False, options=search)
        return
    sol = solve(p, progress=False, options=search)
    if "cover_all_search" not in sol.stats:            # every row covered by the existing site: no model
        assert sol.stats["cost"] == pytest.approx(bf[0][0], abs=1e-6)
        return
    rounds = sol.stats["cover_all_search"]["rounds"]
    assert rounds or sol.stats["cover_all_search"]["proven_by"] == "core bound"    # the core's plan, proven
    assert all(min(r["plans"]) >= bf[0][0] - 1e-6 and r["merged"] >= bf[0][0] - 1e-6 for r in rounds)
    assert sol.solver["status"] == "optimal"
    assert sol.stats["cost"] == pytest.approx(bf[0][0], abs=1e-6)
    assert sol.solver["bound"] <= sol.solver["objective"] + 1e-6


def test_reduced_cost_fixing_keeps_every_better_plan() -> None:
    """The fixing rule of `_cover_search` on its own: with LP duals y and d = c - A^T y, every
    feasible x with x_j = 1 costs at least z_LP + d_j; checked over all plans of small instances."""
    for seed in range(6):
        inst = instance(300 + seed, n_rooms=12, n_sites=9)
        p = make(inst, objective="max-cover", budget=float(np.sort(inst["cost"])[:3].sum()))
        c = compile_problem(p)
        cm = build_cover_model(c, reduce=False)
        ar = cm.ar
        lp = solve_highspy(ar, 10, 0.0, 2, None, False, mip=False, options=dict(COVER_LP_OPTIONS))
        d = ar.c - ar.A.T @ lp.row_dual
        A = cm.A_cover.toarray() > 0
        J = c.J
        for bits in itertools.product([0, 1], repeat=J):
            x = np.array(bits, float)
            if c.budget is not None and c.cost @ x > c.budget + 1e-9:
                continue
            v = cover_start(c, cm, x)
            obj = float(ar.c @ v)
            for j in np.flatnonzero(x):
                assert obj >= lp.objective + d[j] - 1e-6
        assert A.shape[1] == J


def test_integral_objective_rounds_the_bound_up() -> None:
    inst = instance(3, n_rooms=20, n_sites=12)           # seed % 3 == 0: unit costs
    p = make(inst, objective="cover-all")
    c = compile_problem(p)
    cm = build_cover_model(c)
    assert integral_objective(cm.ar)
    inst2 = instance(4, n_rooms=20, n_sites=12)
    inst2["cost"] = inst2["cost"] + 0.5
    assert not integral_objective(build_cover_model(compile_problem(make(inst2, objective="cover-all"))).ar)
    run = Run(values=None, status="optimal", objective=90.0, bound=89.2, gap=0.009, seconds=0.0, name="HiGHS",
                 version="")
    run = integral_run(run)
    assert run.bound == 90.0 and run.gap == 0.0
    sol = solve(p, progress=False)
    assert sol.stats["integral_objective"] and sol.solver["gap"] == 0.0
