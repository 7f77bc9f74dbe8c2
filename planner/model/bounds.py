"""Bounds on every cover-all plan from the capacity knapsack."""

from __future__ import annotations

import math

import numpy as np

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

