"""max-cover's bound from a Lagrangian relaxation with the budget kept whole (issue 21).

The rows that join several sites (the demand rows: a group's persons over all its sites; exit-door,
corridor, expected-share and backup rows) are priced by multipliers ``y``; what is left falls apart by site:
per site j, its own columns (assignments into it, its door-queue suffixes and no-swap slacks) under its own
rows (capacity, queues, no-swap, tightening), open (x_j = 1) or closed (every column of the site 0: its
capacity row forces that). With the site open, its best value under the priced objective is one LP per site,
all sites in one LP (`SiteLagrangian.site_values`); closed it is 0. Which sites to open is then a 0/1
knapsack under the budget, solved by dynamic programming over the budget in whole units (costs rounded down:
a relaxation, so the bound holds). The bound

    L(y) = y'b + sum over columns of no site of min(c~ lo, c~ hi) + min over 0/1 x within the budget of g'x

(g_j: site j's priced value, open) is a lower bound on the model's objective for any multipliers of the
right sign. At the LP relaxation's duals the knapsack's LP would give the LP bound; the 0/1 knapsack gives
more, since the LP spends the last of the budget on part of a site. Measured (generated 300-room station,
seed 2, max-cover at 25 %): LP bound 751.0 persons, L at the LP's duals 724.4, the best plan 717.

With it, sites are fixed as `lppath._fix_by_reduced_cost` fixes them: a site closed in the start plan whose
opening alone makes the bound exceed the start plan's objective stays closed (the knapsack with the site
forced in, bounded from above by the whole knapsack's table at the budget less its cost).

Valid for the models the LP path builds: every column of a site has lower bound 0 and, but for the site
columns, no objective term a closed site could gain from (checked in `SiteLagrangian.make`; a model that
does not fit gets no bound).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.model.arrays import Arrays
from planner.model.compile import Compiled
from planner.model.constants import INF
from planner.model.highs import highs_lp, new_highs

KNAPSACK_UNITS = 50_000
"""The knapsack's budget in this many whole units (each site's cost rounded down to units: the bound holds;
the error is at most one unit per site opened)."""


@dataclass
class LagValue:
    """One evaluation of the Lagrangian: the bound (model objective units), the sites' priced values when
    open (`g`), the knapsack's table (best profit per budget in units), and the sites it opens."""

    bound: float
    g: np.ndarray
    const: float
    table: np.ndarray
    x: np.ndarray
    v: np.ndarray
    """The site subproblems' columns (every site open: scale by `x` for the Lagrangian's own point)."""


class SiteLagrangian:
    """The Lagrangian of one model's arrays (`make`): its relaxed rows, its site LP (warm from one
    evaluation to the next) and its knapsack."""

    def __init__(self, c: Compiled, ar: Arrays, owner: np.ndarray, relax: np.ndarray, local: np.ndarray,
                 budget_row: int) -> None:
        self.c, self.ar = c, ar
        self.owner = owner
        self.sitecol = owner >= 0
        self.free = np.flatnonzero(~self.sitecol)
        A = ar.A.tocsr()
        self.relax = np.flatnonzero(relax)
        self.AR = A[self.relax].tocsc()
        self.rl, self.rh = ar.row_lo[self.relax], ar.row_hi[self.relax]
        self.local = np.flatnonzero(local)
        self.budget = float(ar.row_hi[budget_row])
        J = c.J
        lo1, hi1 = ar.lo.copy(), ar.hi.copy()
        lo1[:J] = hi1[:J] = 1.0
        lo1[~self.sitecol] = hi1[~self.sitecol] = 0.0
        self._site_lp = (A[self.local].tocsc(), lo1, hi1)
        self._h: Any = None
        self.force1 = ar.lo[:J] > 0.5
        self.allowed = ar.hi[:J] > 0.5
        self.unit = max(self.budget, 1e-9) / KNAPSACK_UNITS
        self.w = np.floor(c.cost / self.unit + 1e-9).astype(np.int64)
        self.seconds = 0.0
        self.evaluations = 0

    @classmethod
    def make(cls, c: Compiled, ar: Arrays) -> SiteLagrangian | None:
        """The Lagrangian of `ar` (a max-cover model of `c` with a budget), or None when the model does not
        have the form the bound needs (no budget row, a row joining sites that is not relaxed, ...)."""
        if c.budget is None or "budget" not in ar.rows_by_kind or not np.isfinite(float(c.budget)):
            return None
        J, S = c.J, len(c.scen)
        ncol = ar.A.shape[1]
        owner = np.full(ncol, -1, dtype=np.int64)
        owner[:J] = np.arange(J)
        owner[ar.ycol0:ar.ycol0 + ar.ny] = c.qj[ar.yq]
        n_s = ar.vcol0 - ar.scol0
        if n_s:
            owner[ar.scol0:ar.scol0 + n_s] = ar.S_key // (c.nb + 1) // S
        if ar.nv:
            owner[ar.vcol0:ar.vcol0 + ar.nv] = ar.v_key // S
        A = ar.A.tocsr()
        m = A.shape[0]
        rows = np.repeat(np.arange(m), np.diff(A.indptr))
        own = owner[A.indices]
        lo_own = np.full(m, np.iinfo(np.int64).max)
        hi_own = np.full(m, -2, dtype=np.int64)
        np.minimum.at(lo_own, rows, own)
        np.maximum.at(hi_own, rows, own)
        local = (lo_own == hi_own) & (lo_own >= 0)
        kinds = np.repeat(np.array(list(ar.rows_by_kind), dtype=object), list(ar.rows_by_kind.values()))
        if len(kinds) != m:
            return None
        brow = np.flatnonzero(kinds == "budget")
        if len(brow) != 1 or np.isfinite(ar.row_lo[brow[0]]):
            return None
        relax = ~local
        relax[brow] = False
        # a closed site's columns are 0 and worth 0: every column of a site but x has lower bound 0, and sits
        # in the site's capacity row (assignments) or hangs on them (queue suffixes: equalities; no-swap slacks:
        # penalised, in no relaxed row)
        site_cols = np.flatnonzero(owner >= 0)
        site_cols = site_cols[site_cols >= J]
        if (ar.lo[site_cols] != 0).any():
            return None
        if ar.nv:
            vcols = ar.vcol0 + np.arange(ar.nv)
            if (ar.c[vcols] < 0).any() or A[relax].tocsc()[:, vcols].nnz:
                return None
        if n_s and A[relax].tocsc()[:, ar.scol0:ar.scol0 + n_s].nnz:
            return None
        if "capacity" not in ar.rows_by_kind:
            return None
        return cls(c, ar, owner, relax, local, int(brow[0]))

    def site_values(self, ct: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Per site, the least priced value (`ct`: the priced objective) of its columns with it open, and
        the columns' values (every site open); None when the LP did not solve."""
        A, lo1, hi1 = self._site_lp
        if self._h is None:
            h = new_highs()
            h.setOptionValue("output_flag", False)
            h.passModel(highs_lp(A, ct, lo1, hi1, self.ar.row_lo[self.local], self.ar.row_hi[self.local], None))
            self._h = h
        else:
            n = len(ct)
            self._h.changeColsCost(n, np.arange(n, dtype=np.int32), np.asarray(ct, dtype=np.float64))
        self._h.run()
        if self._h.modelStatusToString(self._h.getModelStatus()).lower() != "optimal":
            return None
        v = np.asarray(self._h.getSolution().col_value, dtype=float)
        g = np.bincount(self.owner[self.sitecol], weights=(ct * v)[self.sitecol], minlength=self.c.J)
        return g, v

    def evaluate(self, y: np.ndarray) -> LagValue | None:
        """L(y) for the relaxed rows' multipliers `y` (HiGHS's sign convention: >= 0 on a row's lower side,
        <= 0 on its upper side; others are clipped to that)."""
        t = time.perf_counter()
        y = self.project(y)
        ct = self.ar.c - self.AR.T @ y
        const = float(np.sum(np.where(y > 0, y * np.nan_to_num(self.rl, posinf=0, neginf=0),
                                      y * np.nan_to_num(self.rh, posinf=0, neginf=0))))
        fr = self.free
        lo, hi = self.ar.lo[fr], self.ar.hi[fr]
        const += float(np.sum(np.minimum(ct[fr] * lo, ct[fr] * hi)))
        sv = self.site_values(ct)
        if sv is None:
            return None
        g, v = sv
        value, table, x = self.knapsack(-g)
        self.seconds += time.perf_counter() - t
        self.evaluations += 1
        return LagValue(bound=const - value, g=g, const=const, table=table, x=x, v=v)

    def project(self, y: np.ndarray) -> np.ndarray:
        """`y` with each multiplier on its row's valid side (0 where the side has no bound)."""
        y = np.asarray(y, dtype=float)
        y = np.where(np.isfinite(self.rl), y, np.minimum(y, 0.0))
        return np.where(np.isfinite(self.rh), y, np.maximum(y, 0.0))

    def knapsack(self, profit: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """The most profit of 0/1 sites within the budget, costs rounded down to units (an upper bound on the
        true knapsack's): (value, the best profit per units left after the forced sites, a best choice)."""
        f1 = self.force1
        base = float(profit[f1].sum())
        W = int(np.floor(self.budget / self.unit + 1e-9)) - int(self.w[f1].sum())
        items = np.flatnonzero(self.allowed & ~f1 & (profit > 0) & (self.w <= max(W, -1)))
        if W < 0:
            return INF, np.zeros(1), f1.astype(float)   # the forced sites alone exceed the budget: no plan
        dp = np.zeros(W + 1)
        keep = np.zeros((len(items), W + 1), dtype=bool)
        for k, j in enumerate(items):
            wj, pj = int(self.w[j]), float(profit[j])
            if wj == 0:
                dp += pj
                keep[k] = True
                continue
            cand = dp[:-wj] + pj
            better = cand > dp[wj:]
            keep[k, wj:] = better
            np.maximum(dp[wj:], cand, out=dp[wj:])
        x = f1.astype(float)
        cap = W
        for k in range(len(items) - 1, -1, -1):
            if keep[k, cap]:
                x[items[k]] = 1.0
                cap -= int(self.w[items[k]])
        return base + float(dp[W]), dp + base, x

    def fix_closed(self, val: LagValue, start: np.ndarray, start_obj: float, slack: float) -> np.ndarray:
        """Sites closed in `start` that no plan within `slack` of `start_obj` (model objective) opens: with
        the site forced open, L is at least const + g_j - (the best profit within the budget less its
        cost), above `start_obj` + `slack`. A 0/1 mask."""
        closed = (start[:self.c.J] < 0.5) & ~self.force1 & self.allowed
        W = len(val.table) - 1
        rest = W - self.w
        best_rest = np.where(rest >= 0, val.table[np.clip(rest, 0, W)], -INF)
        with np.errstate(invalid="ignore"):
            lower = val.const + val.g - best_rest
        return closed & (lower > start_obj + slack)


@dataclass
class BudgetBound:
    """The Lagrangian at the LP relaxation's duals (`budget_bound`): its bound (model objective units) and
    what it needs to fix sites against a start plan (`closed_sites`)."""

    lag: SiteLagrangian
    val: LagValue
    seconds: float

    @property
    def bound(self) -> float:
        return self.val.bound

    def closed_sites(self, start_vec: np.ndarray) -> np.ndarray:
        """The sites closed in the start plan (`start_vec`, a column vector of the model) that no plan at
        least as good opens (0/1 mask; `SiteLagrangian.fix_closed`)."""
        start_obj = float(self.lag.ar.c @ start_vec)
        return self.lag.fix_closed(self.val, start_vec, start_obj, 1e-6 * max(1.0, abs(start_obj)))

    def stats(self, closed: np.ndarray | None = None) -> dict[str, Any]:
        out: dict[str, Any] = dict(bound=self.val.bound, seconds=round(self.seconds, 3),
                                   knapsack_units=KNAPSACK_UNITS)
        if closed is not None:
            out["closed"] = int(closed.sum())
        return out


def budget_bound(c: Compiled, ar: Arrays, row_dual: np.ndarray) -> BudgetBound | None:
    """The Lagrangian of the max-cover model `ar` (with a budget) at its LP relaxation's row duals `row_dual`;
    None when the model does not fit or the site LP fails."""
    t = time.perf_counter()
    lag = SiteLagrangian.make(c, ar)
    if lag is None or len(row_dual) != ar.A.shape[0]:
        return None
    val = lag.evaluate(lag.project(row_dual[lag.relax]))
    if val is None:
        return None
    return BudgetBound(lag, val, time.perf_counter() - t)
