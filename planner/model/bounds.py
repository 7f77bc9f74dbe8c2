"""Bounds on every cover-all plan from the capacity knapsack, and on every max-cover plan's coverage."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from planner.model.compile import Compiled
from planner.model.lagrange import site_limits


def capacity_bound(c: Compiled) -> float:
    """A lower bound on the cost of every cover-all plan of `c` (currency), in O(pairs).

    In scenario s every group's residents need a place, and site j can hold at most
    h_js = min(capacity, the residents in its reach, its own residents + what its door admits
    from the earliest arrival bin on); so any plan's sites satisfy sum_j h_js x_j >= D_s.
    The cheapest fractional x with that one row (a knapsack LP: sites by cost per place,
    fixed sites in) bounds every plan; the bound is the largest over the scenarios.
    Where capacity drives the cost (Station Unity) it equals the LP relaxation's bound;
    -inf when it cannot be formed.
    """
    return capacity_knapsack(c)[0]


def capacity_knapsack(c: Compiled) -> tuple[float, int, float]:
    """The knapsack of `capacity_bound`: (bound in currency, its scenario index, the price per
    place of its last, fractional site in currency per person: the knapsack LP's dual; -1 and 0
    when no scenario gives a bound)."""

    J, G = c.J, c.G
    if J == 0 or G == 0 or not len(c.qj):
        return -math.inf, -1, 0.0
    D = c.D.astype(float)
    everyone = [np.arange(G)]
    h = np.column_stack([site_limits(c, everyone, s).toarray()[0] for s in range(D.shape[1])])   # (J, S)
    fixed = np.asarray(c.fixed1, bool)
    cost = c.cost.astype(float)
    best, best_s, best_p = -math.inf, -1, 0.0
    for s in range(D.shape[1]):
        need = float(D[:, s].sum()) - float(h[fixed, s].sum())
        base = float(cost[fixed].sum())
        free = np.flatnonzero(~fixed & (h[:, s] > 0))
        if need <= 0:
            if base > best:
                best, best_s, best_p = base, s, 0.0
            continue
        order = free[np.argsort(cost[free] / h[free, s], kind="stable")]
        cum = np.cumsum(h[order, s])
        k = int(np.searchsorted(cum, need))
        if k >= len(order):
            continue                     # the row cannot be met: no bound from this scenario
        before = float(cum[k - 1]) if k else 0.0
        price = cost[order[k]] / h[order[k], s]
        val = base + float(cost[order[:k]].sum()) + (need - before) * price
        if val > best:
            best, best_s, best_p = val, s, float(price)
    return best, best_s, best_p



def cover_bound(c: Compiled) -> float:
    """An upper bound on the weighted persons every max-cover plan of `c` shelters (the model's
    coverage: priority weights, merged scenarios counted as often as they occur), in O(pairs) and
    one LP over the sites alone.

    In scenario s site j holds at most h_js persons (`site_limits`: capacity, the residents in its
    reach, its own residents + what its door admits from the earliest arrival bin on), each of
    weight at most the largest weight in its reach; scenario s shelters at most its residents in
    reach of a usable site. So every plan's sites satisfy t_s <= sum_j w_js h_js x_j and t_s <= W_s
    with cost.x <= budget; the LP maximum of sum_s mult_s t_s over 0 <= x <= 1 (fixed sites 1) bounds
    them all. The LP path reports it when its own LP relaxation did not finish (at least its bound,
    issue 21); nan when it cannot be formed.
    """
    J, G, S = c.J, c.G, len(c.scen)
    if J == 0 or G == 0 or not len(c.qj) or S == 0:
        return math.nan
    mult = np.asarray(c.scen_mult, float) if len(c.scen_mult) else np.ones(S)
    everyone = [np.arange(G)]
    h = np.column_stack([site_limits(c, everyone, s).toarray()[0] for s in range(S)])   # (J, S) persons
    wmax = np.zeros((J, S))
    for s in range(S):
        has = c.D[c.qg, s] > 0
        np.maximum.at(wmax[:, s], c.qj[has], c.w[c.qg[has]])
    reach = np.zeros(G, bool)
    reach[c.qg] = True
    W = (c.w[reach, None] * c.D[reach].astype(float)).sum(axis=0)                        # (S,)
    value = h * wmax                                                                      # (J, S)
    fixed = np.asarray(c.fixed1, bool)
    if c.budget is None:
        return float(mult @ np.minimum(W, value.sum(axis=0)))
    keep = mult > 0
    Sk = int(keep.sum())
    # columns: x (J), t (Sk); rows: t_s - value_s . x <= 0 (Sk), cost . x <= budget
    rows_t = sp.hstack([-sp.csr_matrix(value[:, keep].T), sp.identity(Sk, format="csr")])
    row_b = sp.hstack([sp.csr_matrix(c.cost.astype(float)[None, :]), sp.csr_matrix((1, Sk))])
    A = sp.vstack([rows_t, row_b]).tocsr()
    # (scipy's own HiGHS: a call here must not touch the process's HiGHS thread pool, `highs_threads_reset`)
    res = linprog(np.r_[np.zeros(J), -mult[keep]], A_ub=A, b_ub=np.r_[np.zeros(Sk), float(c.budget)],
                  bounds=np.column_stack([np.r_[fixed.astype(float), np.zeros(Sk)], np.r_[np.ones(J), W[keep]]]),
                  method="highs")
    if res.status != 0:
        return math.nan
    return float(-res.fun) + 1e-6 * max(1.0, float(mult @ W))
