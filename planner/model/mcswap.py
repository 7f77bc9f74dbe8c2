"""max-cover start plans by a swap search with exact assignments (issue 21).

With the sites fixed, the weighted coverage (the max-cover objective, cost as its tie-break) is the
whole-person assignment LP. The search starts from the greedy's plan; the closed sites it may open are the
few the LP relaxation likes best (least reduced cost when the whole LP solved, else most LP value), so every
plan tried is a subset of the start plan's sites plus those candidates, and every valuation is one solve of
the search's own `assignwarm.AssignBlocks`, warm from the one before (a site opened or closed is a
column-bound change; the budget row is relaxed there, the moves keep the budget). Each candidate's gain (the
objective with it opened) and each open site's loss (with it closed) are valued; the move of up to
`MOVE_SITES` sites closed and as many opened, within the budget, of the largest estimated gain is a small
knapsack, valued exactly; a move is kept when the objective falls. The search stops at its deadline, when no
move improves, or once the plan is within the gap of the LP bound. The start plan is never worse than the
greedy's: the greedy's plan is the first one valued, and only a better one replaces it.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from planner.model.arrays import Arrays
from planner.model.assignwarm import AssignBlocks
from planner.model.compile import Compiled
from planner.model.constants import INF
from planner.model.highs import Run
from planner.model.options import SolveOptions


def swap_search(c: Compiled, o: SolveOptions, ar: Arrays, lp: Run | None, x0: np.ndarray, guide: np.ndarray,
                deadline: float, bound: float | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """The best plan found from the max-cover start `x0` (0/1 per site of `c`) by the moves above, and what the
    search did. `ar`, `lp`: the model's arrays and its LP relaxation (for the reduced costs, when its duals
    price every column of `ar`; else the candidates by `guide`, the sites' LP values); `deadline`: a
    `time.perf_counter()` value; `bound`: the LP bound (the model's objective), the search stops once a plan is
    within `o.gap` of it (HiGHS then need not branch)."""
    t0 = time.perf_counter()
    budget = INF if c.budget is None else float(c.budget)
    x = (np.asarray(x0) > 0.5)
    fixed = c.fixed1.astype(bool)
    usable = (ar.hi[:c.J] > 0.5) & (c.cost <= budget + 1e-9)
    d: np.ndarray | None = None
    if lp is not None and lp.row_dual is not None and lp.status == "optimal" and len(lp.row_dual) == ar.A.shape[0]:
        d = (ar.c - ar.A.T @ lp.row_dual)[:c.J]
    closed = np.flatnonzero(usable & ~x)
    # the LP's best liked first (least reduced cost, else most LP value), then the most places per cost
    per_cost = c.cap[closed] / np.maximum(c.cost[closed], 1e-9)
    key = np.round(d[closed], 6) if d is not None else -guide[closed]
    cand = closed[np.lexsort((-per_cost, -guide[closed], key))][:o.mc_swap_candidates]
    base = x | np.isin(np.arange(c.J), cand)
    blocks = AssignBlocks(c, o, base)
    # rows of the sites alone (the budget) relaxed: a move's gains are valued beyond the budget, which the
    # moves themselves keep (these blocks are the search's own, not the solve's `WarmAssign`)
    fr = blocks.fixed_rows
    row_lo, row_hi = blocks.ar.row_lo.copy(), blocks.ar.row_hi.copy()
    row_lo[fr], row_hi[fr] = -INF, INF
    blocks.ar = dataclasses.replace(blocks.ar, row_lo=row_lo, row_hi=row_hi)
    info: dict[str, Any] = dict(candidates=int(len(cand)), tried=0, kept=0)

    def value(xx: np.ndarray) -> float:
        info["tried"] += 1
        res = blocks.solve(xx.astype(float), max(deadline - time.perf_counter(), 0.5))
        return INF if res.values is None else float(blocks.ar.c @ res.values)

    best = value(x)
    info["start_objective"] = best
    if not np.isfinite(best):
        info.update(seconds=round(time.perf_counter() - t0, 3), stopped="start not assigned")
        return x.astype(float), info
    pool = np.flatnonzero(base & ~fixed)
    stopped = "no better move"

    def close_enough() -> bool:
        return bound is not None and best - bound <= o.gap * max(abs(best), 1e-9)

    marg = None if close_enough() or not len(pool) else _marginals(x, pool, best, value, deadline)
    stale = False     # after a kept move the marginals are estimates (a site moved keeps its value: its gain
    while marg is not None:                              # is now its loss, or back)
        move = _search(c, x, pool, marg, budget, best, value, deadline)
        if move is not None and move[0] is None:
            break
        if move is None:
            if not stale:
                break
            marg, stale = _marginals(x, pool, best, value, deadline), False   # valued again once
            continue
        x, best = move
        info["kept"] += 1
        stale = True
        if close_enough():
            break
    if close_enough():
        stopped = "within the gap of the LP bound"
    elif time.perf_counter() > deadline:
        stopped = "deadline"
    info.update(objective=best, seconds=round(time.perf_counter() - t0, 3), stopped=stopped,
                sites=int(x.sum()), cost=float(c.cost @ x))
    return x.astype(float), info


def _marginals(x: np.ndarray, pool: np.ndarray, best: float, value: Any, deadline: float) -> np.ndarray | None:
    """Per site of `pool`: its gain when closed in `x` (the objective's fall with it opened, the budget aside),
    its loss when open (the objective's rise with it closed); None at the deadline."""
    marg = np.zeros(len(pool))
    for k, j in enumerate(pool):
        if time.perf_counter() > deadline:
            return None
        xx = x.copy()
        xx[j] = not x[j]
        v = value(xx)
        marg[k] = best - v if not x[j] else v - best
    return marg


def _search(c: Compiled, x: np.ndarray, pool: np.ndarray, marg: np.ndarray, budget: float, best: float,
            value: Any, deadline: float) -> tuple[Any, float] | None:
    """A move whose plan's objective is below `best`: (sites, objective); None when none of those tried is;
    (None, best) at the deadline. The move of at most `MOVE_SITES` sites of `pool` closed and as many opened,
    within the budget, of the largest estimated gain (the closed sites' gains less the open ones' losses,
    `marg`) is a small knapsack (`_best_move`), valued exactly; a move that is not better is cut off and the
    next best tried, at most `MOVES_PER_ROUND`, while its estimate is positive."""
    spent = float(c.cost @ x)
    on = x[pool]
    shut, opened = pool[~on], pool[on]
    gain, loss = marg[~on], marg[on]
    tol = 1e-9 * max(1.0, abs(best))
    tried: list[np.ndarray] = []
    for _ in range(MOVES_PER_ROUND):
        if time.perf_counter() > deadline:
            return None, best
        pick = _best_move(gain, loss, c.cost[shut], c.cost[opened], budget - spent, tried, tol)
        if pick is None:
            return None
        tried.append(pick)
        xx = x.copy()
        xx[shut[pick[:len(shut)]]] = True
        xx[opened[pick[len(shut):]]] = False
        v = value(xx)
        if v < best - tol:
            return xx, v
    return None


def _best_move(gain: np.ndarray, loss: np.ndarray, c_in: np.ndarray, c_out: np.ndarray, slack: float,
               tried: list[np.ndarray], tol: float) -> np.ndarray | None:
    """The sites to open (of those with `gain`, costs `c_in`) and to close (`loss`, `c_out`) with the largest
    gain less loss whose cost rises by at most `slack`, at most `MOVE_SITES` of each, none of the moves `tried`
    (a 0/1 vector over the sites to open then to close): a 0/1 mask, or None when no move's estimate is
    above `tol`."""
    n = len(gain) + len(loss)
    w = np.r_[np.clip(gain, -1e9, 1e9), -np.clip(loss, -1e9, 1e9)]
    rows = [np.r_[c_in, -c_out], np.r_[np.ones(len(gain)), np.zeros(len(loss))],
            np.r_[np.zeros(len(gain)), np.ones(len(loss))]]
    lo = [-np.inf, 0, 0]
    hi = [slack + 1e-9, MOVE_SITES, MOVE_SITES]
    for t in tried:                                  # no-good cuts: not exactly a move tried before
        rows.append(np.where(t, 1.0, -1.0))
        lo.append(-np.inf)
        hi.append(float(t.sum()) - 1)
    # a node limit, not a time limit: the move picked (and so the plan) must not depend on the machine's load
    # (helper tidy2's review); these knapsacks of at most 2 x `mc_swap_candidates` columns take a few nodes
    res = milp(-w, constraints=LinearConstraint(np.array(rows), lo, hi), integrality=np.ones(n),
               bounds=Bounds(0, 1), options=dict(node_limit=MOVE_NODE_LIMIT))
    if res.x is None or -res.fun <= tol:
        return None
    return res.x > 0.5


MOVE_NODE_LIMIT = 10_000
"""Branch-and-bound nodes the move's knapsack (`_best_move`) may take (it was 1 s of wall time)."""
MOVE_SITES = 4
"""At most this many sites closed and as many opened in one move (the gains and losses add up nearly exactly
that far: 300 rooms seed 1 at 50 %, 4 for 4, estimated 18, exactly 18 persons)."""
MOVES_PER_ROUND = 8
"""Moves valued exactly per round, the best estimated first."""
