"""The Lagrangian path for cover-all models too large for one LP relaxation (see `lagrange`)."""

from __future__ import annotations

import math
import time
from dataclasses import replace
from collections.abc import Callable
from typing import Any

import numpy as np

from planner.model.arrays import assignment_columns
from planner.model.bounds import capacity_knapsack
from planner.model.compile import Compiled
from planner.model.highs import Run, highs_version
from planner.model.lagrange import (cut_bound, flow_vector, hall_cuts, lagrangian, max_shelter, open_for, own_first, repair_plan,
                                    residual_demand, shelter_flow, site_problems, start_prices)
from planner.model.lagsearch import augment_flow, close_warm
from planner.model.lagwindow import window_search
from planner.model.options import (LAGRANGE_BUMP, LAGRANGE_BUMP_GROW, LAGRANGE_BUMP_ROUNDS,
                                   LAGRANGE_OPEN_FOR_SHARE,
                                   LAGRANGE_LOCAL_SEARCH_PATIENCE, LAGRANGE_LOCAL_SEARCH_SHARE, LAGRANGE_REPAIR_PERSONS, LAGRANGE_REPAIR_SHARE,
                                   LAGRANGE_WINDOW_CLOSED, LAGRANGE_WINDOW_GROUPS, LAGRANGE_WINDOW_S, LAGRANGE_WINDOW_SHARE,
                                   SolveOptions)
from planner.model.problem import ModelInfeasible, Problem, Solution
from planner.model.result import coverage, finish


def solve_lagrangian(p: Problem, o: SolveOptions, c: Compiled, cols: tuple[np.ndarray, np.ndarray, np.ndarray], t_all: float,
                     timings: dict[str, float], stats: dict[str, Any], say: Callable[[str], None]) -> Solution | None:
    """`cover_lagrangian` for cover-all; max-cover whose budget cannot bind (`orchestrate._lagrangian`: the
    fallback of `planner propose` when cover-all is impossible and no budget is given) in two stages: the
    most persons every site together can shelter, by priority (`lagrange.max_shelter`: maximum flows, highest
    priority first; proven the most by their minimum cuts), then the least cost that shelters those same
    persons (cover-all on them, `cover_lagrangian`). The reported bound is the coverage's (primary scale,
    proven); the cost's own bound (for sheltering those persons) is `stats["cost_bound"]`."""
    if c.objective == "cover-all":
        return cover_lagrangian(p, o, c, cols, t_all, timings, stats, say)
    t = time.perf_counter()
    Y = max_shelter(c, np.ones(c.J))
    served = np.zeros_like(c.D)
    for s in range(len(c.scen)):
        served[:, s] = np.bincount(c.qg, weights=Y[:, s], minlength=c.G).astype(np.int64)
    timings["max_shelter_s"] = time.perf_counter() - t
    stats["max_shelter_short"] = int((c.D - served).sum())
    say(f"[planner] every site together shelters all but {int((c.D - served).sum())} persons: least cost for the rest "
        f"({time.perf_counter() - t_all:.1f} s so far)")
    cc = replace(c, D=served, objective="cover-all", budget=None, m=np.zeros_like(c.m))
    return cover_lagrangian(p, o, cc, assignment_columns(cc), t_all, timings, stats, say, report=c,
                            flow_s0=timings["max_shelter_s"])


def _repair(c: Compiled, o: SolveOptions, x: np.ndarray, Y: np.ndarray, res: np.ndarray, t_all: float,
            timings: dict[str, float], stats: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Sites added to `x` (flow `Y`, `res` persons without a place) until everyone has one: the repair MIP
    (`lagrange.repair_plan`), then, if someone is still without a place (others must move: exit-door rows,
    full sites), by minimum cuts (`lagrange.open_for`). Returns (plan, its flow); the MIP's seconds in
    `timings["repair_s"]`."""
    t = time.perf_counter()
    x2 = repair_plan(c, x, res, o.n_threads, time_limit=max(5.0, LAGRANGE_REPAIR_SHARE * o.limit_s), Y=Y)
    timings["repair_s"] = time.perf_counter() - t
    if x2 is not None:
        x = x2
        Y, _ = augment_flow(c, x, Y)         # the repair only adds sites
    if residual_demand(c, x, Y).sum() > 0:
        n0 = int(x.sum())
        x, Y, left = open_for(c, x, Y, t_all + LAGRANGE_OPEN_FOR_SHARE * o.limit_s)
        if left:            # past its share (a loaded machine): on to a plan, late, rather than the LP path
            x, Y, _ = open_for(c, x, Y, math.inf)
        stats["lagrange_open_for"] = int(x.sum()) - n0
    return x, Y


def _own_first(c: Compiled, x: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The plan's assignment with the no-swap rows (`Compiled.swap_rule`): `lagrange.own_first` (own residents
    stay in their converted rooms first) when it shelters as many as `Y`; else `Y`."""
    if not c.swap_rule:
        return Y
    Y2 = own_first(c, x)
    return Y2 if int(Y2.sum()) == int(Y.sum()) else Y


def _local_search(c: Compiled, x: np.ndarray, Y: np.ndarray, deadline: float
                  ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """`lagsearch.close_warm` in passes until `deadline`: each pass takes the plan's flow from nothing again
    (`augment_flow` from no flow: people spread differently than after the closings) and its sites by cost per
    person sheltered, most first; a pass ends after `LAGRANGE_LOCAL_SEARCH_PATIENCE` tests in a row without a
    closing (once it has closed one), and the search after a pass that closed nothing. Returns (plan, its flow,
    counts)."""
    out: dict[str, Any] = dict(tests=0, closed=0, passes=0)
    while time.perf_counter() < deadline:
        if out["passes"]:
            Y, _ = augment_flow(c, x, np.zeros_like(Y))
        used = np.zeros(c.J)
        np.add.at(used, c.qj, Y.sum(axis=1))
        cand = np.flatnonzero((x > 0.5) & ~c.fixed1 & (c.cost > 0))
        cand = cand[np.argsort(-(c.cost[cand] / np.maximum(used[cand], 1.0)), kind="stable")]
        x, Y, ls = close_warm(c, x, Y, cand, deadline, patience=LAGRANGE_LOCAL_SEARCH_PATIENCE)
        out.update(tests=out["tests"] + ls["tests"], closed=out["closed"] + ls["closed"], passes=out["passes"] + 1)
        if not ls["closed"]:
            break
    return x, Y, out


def cover_lagrangian(p: Problem, o: SolveOptions, c: Compiled, cols: tuple[np.ndarray, np.ndarray, np.ndarray],
                     t_all: float, timings: dict[str, float], stats: dict[str, Any], say: Callable[[str], None],
                     report: Compiled | None = None, flow_s0: float = 0.0) -> Solution | None:
    """Cover-all on a model too large for one LP relaxation (see `planner.model.lagrange`).

    1. multipliers: the capacity knapsack's price per place; the sites whose Lagrangian problem
       pays (the knapsack's sites, adjusted for reach and door queues) are the first plan;
    2. a maximum flow finds whom they cannot shelter; their price rises by `LAGRANGE_BUMP` of the
       knapsack's price (growing by `LAGRANGE_BUMP_GROW` while progress is slow) and the paying sites
       are taken again, while that helps; a small MIP over the last few and the closed sites in their
       reach adds sites for them (union: feasible); every flow after the first starts from the last
       one (`lagsearch.augment_flow`: the sites only grow);
    3. the bound: the capacity knapsack and the site LP with the Hall rows of the flows' minimum cuts;
    4. while the gap is not met, a local search by flows (`lagsearch.close_warm`, each test a flow
       started from the plan's) closes the sites that cost the most per person sheltered; the time it
       leaves (it stalls, or `LAGRANGE_WINDOW_SHARE`) goes to sub-MIPs on windows around the places left
       over (`lagwindow.window_search`).
    Measured at 30,000 rooms (was: LP relaxation by column generation, unfinished after 239 s, plan
    6.7 % above its bound): see docs/performance.md. Returns None when no plan came out (the caller
    falls back to the LP path); raises `ModelInfeasible` (with the persons left without a place) when
    every site together cannot shelter everyone. `report`: the max-cover model whose second stage this
    is (`solve_lagrangian`): the plan is reported on it.
    """

    T = o.limit_s
    if report is None:                 # can every site together shelter everyone? (one maximum flow)
        t = time.perf_counter()
        lack = residual_demand(c, np.ones(c.J))
        flow_s0 += time.perf_counter() - t
        if lack.sum() > 0:
            raise ModelInfeasible("every site together", lack=lack)
    t = time.perf_counter()
    sp_ = site_problems(c, *cols)
    S = len(c.scen)
    # the model this path works on: sites, assignment columns, demand and capacity rows (the door
    # queues live in the flow networks and the site problems)
    stats.update(variables=int(c.J + len(cols[0])), rows=int(sp_.R + c.J * S), nonzeros=int(2 * len(cols[0]) + c.J * S),
                 binaries=int(c.J), model="lagrangian")
    knapsack = capacity_knapsack(c)
    cb = knapsack[0]
    lag = lagrangian(sp_, start_prices(c, sp_, knapsack))
    timings["lagrange_s"] = time.perf_counter() - t
    say(f"[planner] Lagrangian relaxation: bound {max(lag.bound, cb):,.0f}, {int(lag.open.sum())} sites pay "
        f"({time.perf_counter() - t_all:.1f} s so far)")
    highs_s, flow_s = 0.0, 0.0
    x = np.maximum(lag.open.astype(float), c.fixed1)
    t = time.perf_counter()
    cuts: list = []                    # minimum cuts of the flows: rows for the bound
    Y = shelter_flow(c, x, cuts)
    res = residual_demand(c, x, Y)
    flow_s += time.perf_counter() - t
    stats["lagrange_first_sites"] = int(x.sum())
    stats["lagrange_residual_persons"] = int(res.sum())
    # residents the paying sites cannot shelter: raise their price a little so that the sites around
    # them pay too (whole sites, chosen by what they earn from everyone in reach: room is made by
    # moving others), take the flow again, a few rounds; what is left goes to the repair MIP
    u1 = lag.u.copy()
    price = max(float(lag.u.max(initial=0.0)), 1.0)
    rounds = 0
    bump = LAGRANGE_BUMP
    # (no clock in this loop: at load 5 to 13 a share of the limit stopped it with 1,600 persons left, the
    # repair MIP failed for them and the path fell back to the LP path, which has no plan at this size)
    while res.sum() > LAGRANGE_REPAIR_PERSONS and LAGRANGE_BUMP > 0 and rounds < LAGRANGE_BUMP_ROUNDS:
        rounds += 1
        u1[res[sp_.row_g, sp_.row_s] > 0] += bump * price
        x1 = np.maximum(lagrangian(sp_, u1).open.astype(float), c.fixed1)
        if np.array_equal(x1 > 0.5, x > 0.5):
            bump *= LAGRANGE_BUMP_GROW
            continue
        t = time.perf_counter()
        Y1, _ = augment_flow(c, x1, Y, cuts)     # prices only rise: x1 keeps x's sites, Y fits them
        res1 = residual_demand(c, x1, Y1)
        flow_s += time.perf_counter() - t
        say(f"[planner] {int(res.sum())} persons left without a place by {int(x.sum())} sites; with their price "
            f"raised {int(x1.sum())} sites leave {int(res1.sum())}")
        if res1.sum() >= res.sum():
            break
        if res.sum() - res1.sum() < 0.2 * res.sum():
            bump *= LAGRANGE_BUMP_GROW       # slow progress: larger steps
        x, Y, res = x1, Y1, res1
    stats["lagrange_bump_rounds"] = rounds
    stats["lagrange_bump_sites"] = int(x.sum())
    stats["lagrange_bump_residual_persons"] = int(res.sum())
    if res.sum() > 0:
        t = time.perf_counter()
        x, Y = _repair(c, o, x, Y, res, t_all, timings, stats)
        highs_s += timings["repair_s"]
        flow_s += time.perf_counter() - t - timings["repair_s"]
        if residual_demand(c, x, Y).sum() > 0:
            return None
    say(f"[planner] start plan: {int(x.sum())} sites, cost {c.cost @ x:,.0f} ({time.perf_counter() - t_all:.1f} s so far)")
    stats["heuristic_cost"] = float(c.cost @ x)
    stats["heuristic_sites"] = int(x.sum())
    if c.budget is not None and c.cost @ x > c.budget + 1e-6:
        return None
    # ---- the bound: the capacity knapsack, strengthened by the Hall rows of the flows' minimum cuts
    t = time.perf_counter()
    bound = max(lag.bound, cb)
    if cuts:
        cbd = cut_bound(c, hall_cuts(c, cuts), o.n_threads, time_limit=max(5.0, 0.05 * T))
        stats["cut_bound"] = cbd
        bound = max(bound, cbd)
    timings["cut_bound_s"] = time.perf_counter() - t
    highs_s += timings["cut_bound_s"]          # the cut LP (HiGHS) with its rows: counted once, as HiGHS time
    # ---- local search by flows (only while the gap is not met): close the sites that cost the most per
    # person they shelter while everyone fits (each test a maximum flow started from the plan's flow)
    t = time.perf_counter()
    deadline = min(t_all + (1.0 - o.wall_margin) * T - 0.05 * T, time.perf_counter() + LAGRANGE_LOCAL_SEARCH_SHARE * T)
    if float(c.cost @ x) - bound > o.gap * float(c.cost @ x):
        x, Y, stats["local_search"] = _local_search(c, x, Y, t + (1.0 - LAGRANGE_WINDOW_SHARE) * (deadline - t))
    flow_s += time.perf_counter() - t
    timings["local_search_s"] = time.perf_counter() - t
    t = time.perf_counter()
    if float(c.cost @ x) - bound > o.gap * float(c.cost @ x):      # what the search left of its time
        x, Y, stats["windows"] = window_search(c, x, Y, deadline, LAGRANGE_WINDOW_GROUPS, LAGRANGE_WINDOW_CLOSED,
                                               LAGRANGE_WINDOW_S, o.n_threads)
    timings["windows_s"] = time.perf_counter() - t
    highs_s += timings["windows_s"]       # sub-MIPs (HiGHS) and their flow checks
    t = time.perf_counter()
    Y = _own_first(c, x, Y)
    flow_s += time.perf_counter() - t
    vf, arf = flow_vector(report or c, x, Y)
    cost = float(c.cost @ x)
    timings["flow_s"] = flow_s = flow_s + flow_s0
    gap = (cost - bound) / max(abs(cost), 1e-9)
    status = "optimal" if gap <= o.gap + 1e-12 else "time limit"
    if report is not None:             # max-cover: the coverage is proven (minimum cuts); the cost's bound aside
        stats.update(cost_bound=bound, cost_gap=gap)
        c = report
        bound = cost = -coverage(c, arf, vf)
        gap = 0.0
        status = "optimal"
    stats["lp_status"] = "lagrangian"
    stats["lp_bound"] = bound
    stats["mip_skipped"] = True
    stats["highs_s"] = round(highs_s, 3)
    stats["solver_s"] = round(highs_s + flow_s + timings["lagrange_s"], 3)
    run = Run(vf, status, cost, bound, gap, highs_s, "HiGHS", highs_version())
    primary = dict(objective=abs(cost), bound=abs(bound), gap=gap, status=status)
    # the bound is on cost alone: the site choice here does not see the no-swap rows (docs/model.md)
    return finish(c, p, o, x, vf, arf, run, primary, stats, timings, t_all, say, knapsack=cb, swaps_in_bound=False)


